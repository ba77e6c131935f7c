/* kvm_probe.c: minimal /dev/kvm check run inside the QEMU Linux of
 * scripts/kvm-in-qemu: one VM, one vCPU, one page of RAM holding `hlt`,
 * real mode at 0x1000; prints the exit reason. Exit 0 iff KVM_EXIT_HLT. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(void)
{
	double t0 = now_ms();
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("kvm_probe: open /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	int ver = ioctl(kvm, KVM_GET_API_VERSION, 0);
	printf("kvm_probe: api version %d\n", ver);
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		printf("kvm_probe: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	uint8_t *mem = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	mem[0x1000] = 0xf4; /* hlt */
	struct kvm_userspace_memory_region r = {.slot = 0, .guest_phys_addr = 0, .memory_size = 0x2000,
	                                        .userspace_addr = (uint64_t)(uintptr_t)mem};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		printf("kvm_probe: SET_USER_MEMORY_REGION: %s\n", strerror(errno));
		return 1;
	}
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		printf("kvm_probe: KVM_CREATE_VCPU: %s\n", strerror(errno));
		return 1;
	}
	int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return 1;
	struct kvm_sregs s;
	if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0)
		return 1;
	s.cs.base = 0;
	s.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0)
		return 1;
	struct kvm_regs regs;
	memset(&regs, 0, sizeof regs);
	regs.rip = 0x1000;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return 1;
	double t1 = now_ms();
	int rc = ioctl(vcpu, KVM_RUN, 0);
	double t2 = now_ms();
	if (rc < 0) {
		printf("kvm_probe: KVM_RUN: %s\n", strerror(errno));
		return 1;
	}
	printf("kvm_probe: exit_reason=%u (HLT=%d) setup=%.1fms run=%.1fms\n", run->exit_reason, KVM_EXIT_HLT,
	       t1 - t0, t2 - t1);
	return run->exit_reason == KVM_EXIT_HLT ? 0 : 1;
}
