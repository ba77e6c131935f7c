/* vmm_kvm_x86_64.c: x86-64 vCPU setup for the guest's 32-bit entry.
 *
 * The guest kernel's entry contract (src/guest/guest_boot_x86_64.S, rpc.h):
 * 32-bit protected mode as Multiboot v1 leaves it (Multiboot spec 3.2;
 * Intel SDM vol. 3A 9.9 "Mode switching"): CR0.PE=1, PG=0, flat 4 GiB code
 * and data segments, interrupts off, EAX = NUB_GUEST_BOOT_MAGIC, EBX = 0.
 * The vCPU also needs a CPUID table: KVM refuses EFER.LME (the guest's
 * wrmsr #GPs) unless CPUID advertises long mode, so every vCPU gets the
 * host's KVM_GET_SUPPORTED_CPUID.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "host/vmm_int.h"

#define X86_CR0_PE_BIT 0
#define X86_CR0_PE (1ull << X86_CR0_PE_BIT)
#define X86_CR0_ET_BIT 4
#define X86_CR0_ET (1ull << X86_CR0_ET_BIT)
#define X86_RFLAGS_RESERVED1 (1ull << 1) /* bit 1 always reads as 1 */

/* Flat 4 GiB segments (SDM vol. 3A 3.4.5): type, S=1 (code/data), P=1,
 * DB=1 (32-bit), G=1 (limit in 4 KiB units). Selectors as the guest's GDT
 * would name them; the guest reloads all of them after its lgdt. */
static const struct kvm_segment vmm_x86_flat_code32 = {
	.base = 0, .limit = 0xFFFFFFFFu, .selector = 0x08, .type = 0xB, /* execute/read, accessed */
	.present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
};
static const struct kvm_segment vmm_x86_flat_data32 = {
	.base = 0, .limit = 0xFFFFFFFFu, .selector = 0x10, .type = 0x3, /* read/write, accessed */
	.present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
};

int vmm_arch_vcpu_init(vmm *vm, int vcpu_fd)
{
	int nent = 128;
	for (;;) {
		struct kvm_cpuid2 *c = calloc(1, sizeof *c + (size_t)nent * sizeof c->entries[0]);
		if (!c)
			return -ENOMEM;
		c->nent = (uint32_t)nent;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
			int err = errno;
			free(c);
			if (err == E2BIG && nent < 4096) {
				nent *= 2;
				continue;
			}
			vmm_debug("KVM_GET_SUPPORTED_CPUID: %s", strerror(err));
			return -err;
		}
		int rc = ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
		if (rc)
			vmm_debug("KVM_SET_CPUID2: %s", strerror(-rc));
		free(c);
		return rc;
	}
}

int vmm_arch_boot_regs(vmm *vm, int vcpu_fd, uint64_t entry, uint32_t magic, uint32_t arg)
{
	(void)vm;
	struct kvm_sregs s;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cs = vmm_x86_flat_code32;
	s.ds = s.es = s.fs = s.gs = s.ss = vmm_x86_flat_data32;
	s.cr0 = X86_CR0_PE | X86_CR0_ET; /* caches on (CD=NW=0), paging off */
	s.cr3 = 0;
	s.cr4 = 0;
	s.efer = 0;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	struct kvm_regs r;
	memset(&r, 0, sizeof r);
	r.rip = entry;
	r.rax = magic;
	r.rbx = arg;
	r.rflags = X86_RFLAGS_RESERVED1; /* IF=0 */
	if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

uint64_t vmm_arch_rip(const vmm *vm)
{
	struct kvm_regs r;
	if (vm->nvcpus == 0 || ioctl(vm->vcpu_fd[0], KVM_GET_REGS, &r) < 0)
		return ~0ull;
	return r.rip;
}
