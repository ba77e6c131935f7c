/* vmm_kvm.c: /dev/kvm, the VM, guest RAM, vCPUs, and the small vCPU loop.
 *
 * vmm_open: open /dev/kvm (API version 12), create the VM, map RAM at gpa 0,
 * create the vCPUs (each with CPUID), load the embedded guest ELF, write
 * mailbox.ram_bytes, start vCPU 0 at the 32-bit entry and run it until the
 * guest rings READY. Setup unwinds through one goto ladder (kvmtool's
 * kvm__init style).
 *
 * The loop (vmm_kvm_run_until_doorbell) handles a handful of exits: the
 * doorbell port, the COM1 console, the debug-exit port; anything else (hlt,
 * shutdown, MMIO outside RAM, failed entry) stops the guest for good and is
 * logged with exit_reason and rip (Solo5 hvt_vcpu_loop, kvmtool
 * kvm_cpu__start).
 *
 * Timeouts: a POSIX timer sends VMM_KICK_SIGNAL to the calling thread at the
 * deadline and every VMM_KICK_REPEAT_MS after; the handler sets the thread's
 * kvm_run.immediate_exit, so KVM_RUN returns EINTR whether the signal lands
 * inside the guest or just before entry (no lost wake-up).
 */
#define _GNU_SOURCE /* gettid, SIGEV_THREAD_ID */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "host/vmm_int.h"
#include "nub/nub.h"

#define VMM_KVM_API_VERSION 12
#define VMM_KICK_SIGNAL (SIGRTMIN + 4)
#define VMM_KICK_REPEAT_MS 20
/* KVM's own pages above 3 GiB, out of guest RAM (required on Intel without
 * unrestricted guest; harmless elsewhere): kvmtool's addresses. */
#define VMM_KVM_TSS_GPA 0xFFFBD000ull
#define COM1_LSR_PORT (NUB_GUEST_SERIAL_PORT + 5)
#define UART_LSR_THRE_TEMT 0x60

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* ---- ioctl wrappers: raw __x form and a checked form naming the ioctl ---- */
static int vmm_ioctl_at(int fd, unsigned long req, void *arg, const char *name)
{
	int rc = ioctl(fd, req, arg);
	if (rc < 0)
		vmm_debug("%s: %s", name, strerror(errno));
	return rc;
}
#define vmm_ioctl(fd, req, arg) vmm_ioctl_at((fd), (req), (void *)(arg), #req)

/* ---- the kick signal ------------------------------------------------------ */
static __thread struct kvm_run *volatile vmm_tls_run;
static pthread_once_t vmm_kick_once = PTHREAD_ONCE_INIT;
static int vmm_kick_ok;

static void vmm_kick_handler(int sig)
{
	(void)sig;
	struct kvm_run *r = vmm_tls_run;
	if (r)
		r->immediate_exit = 1;
}

static void vmm_kick_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = vmm_kick_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return EINTR */
	vmm_kick_ok = sigaction(VMM_KICK_SIGNAL, &sa, NULL) == 0;
}

typedef struct {
	bool armed;
	timer_t timer;
	sigset_t old_mask;
	uint64_t deadline_ns;
} vmm_deadline;

static uint64_t vmm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int vmm_kick_signal(void)
{
	return VMM_KICK_SIGNAL;
}

int vmm_kick_prepare(struct kvm_run *run)
{
	pthread_once(&vmm_kick_once, vmm_kick_install);
	if (!vmm_kick_ok)
		return -1;
	vmm_tls_run = run;
	sigset_t kick;
	sigemptyset(&kick);
	sigaddset(&kick, VMM_KICK_SIGNAL);
	return pthread_sigmask(SIG_UNBLOCK, &kick, NULL) == 0 ? 0 : -1;
}

static int vmm_deadline_arm(vmm_deadline *d, struct kvm_run *run, uint32_t timeout_ms)
{
	memset(d, 0, sizeof *d);
	if (!timeout_ms)
		return 0;
	pthread_once(&vmm_kick_once, vmm_kick_install);
	if (!vmm_kick_ok)
		return -1;
	d->deadline_ns = vmm_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = VMM_KICK_SIGNAL;
	sev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &d->timer) < 0)
		return -1;
	run->immediate_exit = 0;
	vmm_tls_run = run;
	sigset_t kick;
	sigemptyset(&kick);
	sigaddset(&kick, VMM_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, &d->old_mask);
	struct itimerspec its = {
		.it_value = {.tv_sec = timeout_ms / 1000u, .tv_nsec = (long)(timeout_ms % 1000u) * 1000000L},
		.it_interval = {.tv_sec = 0, .tv_nsec = VMM_KICK_REPEAT_MS * 1000000L},
	};
	if (timer_settime(d->timer, 0, &its, NULL) < 0) {
		timer_delete(d->timer);
		pthread_sigmask(SIG_SETMASK, &d->old_mask, NULL);
		vmm_tls_run = NULL;
		return -1;
	}
	d->armed = true;
	return 0;
}

static bool vmm_deadline_passed(const vmm_deadline *d)
{
	return d->armed && vmm_now_ns() >= d->deadline_ns;
}

static void vmm_deadline_disarm(vmm_deadline *d, struct kvm_run *run)
{
	if (!d->armed)
		return;
	timer_delete(d->timer);
	vmm_tls_run = NULL;
	pthread_sigmask(SIG_SETMASK, &d->old_mask, NULL);
	run->immediate_exit = 0;
	d->armed = false;
}

/* ---- the vCPU loop -------------------------------------------------------- */
static void vmm_console_put(vmm *vm, uint8_t c)
{
	if (c == '\r')
		return;
	if (vm->console_len + 1 >= VMM_CONSOLE_SIZE) { /* keep the newer half */
		size_t keep = VMM_CONSOLE_SIZE / 2;
		memmove(vm->console, vm->console + vm->console_len - keep, keep);
		vm->console_len = keep;
	}
	vm->console[vm->console_len++] = (char)c;
	vm->console[vm->console_len] = '\0';
}

static uint32_t vmm_stopped(vmm *vm, vmm_stop why, const char *what, uint64_t detail)
{
	vm->stop = why;
	vm->broken = true;
	vmm_debug("guest stopped: %s (%s, 0x%llx), rip 0x%llx", vmm_stop_name(why), what, (unsigned long long)detail,
	          (unsigned long long)vmm_arch_rip(vm));
	return 0;
}

/* One KVM_EXIT_IO: returns a doorbell value, 0 to continue, or stops. */
static int vmm_handle_io(vmm *vm, struct kvm_run *run, uint32_t *bell)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint64_t bytes = (uint64_t)run->io.size * run->io.count;
	if (run->io.data_offset >= vm->run_size || bytes > vm->run_size - run->io.data_offset || bytes == 0) {
		vmm_stopped(vm, VMM_STOP_HOST, "io data outside kvm_run", run->io.data_offset);
		return -1;
	}
	uint16_t port = run->io.port;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	if (port == NUB_RPC_DOORBELL_PORT && out && run->io.size == 4 && run->io.count == 1) {
		uint32_t v;
		memcpy(&v, data, 4);
		if (v == NUB_DOORBELL_READY || v == NUB_DOORBELL_REPLY || v == NUB_DOORBELL_FAULT) {
			*bell = v;
			return 1;
		}
		vmm_stopped(vm, VMM_STOP_PROTOCOL, "unknown doorbell value", v);
		return -1;
	}
	if (port >= NUB_GUEST_SERIAL_PORT && port < NUB_GUEST_SERIAL_PORT + 8) {
		if (out && port == NUB_GUEST_SERIAL_PORT)
			for (uint64_t i = 0; i < bytes; i++)
				vmm_console_put(vm, data[i]);
		else if (!out)
			memset(data, port == COM1_LSR_PORT ? UART_LSR_THRE_TEMT : 0, (size_t)bytes);
		return 0;
	}
	if (port == NUB_GUEST_EXIT_PORT && out) {
		uint32_t v = 0;
		memcpy(&v, data, run->io.size < 4 ? run->io.size : 4);
		vmm_stopped(vm, VMM_STOP_EXIT, "guest wrote the exit port", v);
		return -1;
	}
	vmm_stopped(vm, VMM_STOP_EXIT, out ? "out to an unknown port" : "in from an unknown port", port);
	return -1;
}

uint32_t vmm_kvm_run_until_doorbell(vmm *vm, uint32_t timeout_ms)
{
	struct kvm_run *run = vm->run[0];
	vmm_deadline d;
	if (vmm_deadline_arm(&d, run, timeout_ms) < 0)
		return vmm_stopped(vm, VMM_STOP_HOST, "cannot arm the call timer", (uint64_t)errno);
	uint32_t bell = 0;
	for (;;) {
		if (ioctl(vm->vcpu_fd[0], KVM_RUN, 0) < 0) {
			int err = errno;
			if (err == EINTR || err == EAGAIN) {
				if (vmm_deadline_passed(&d)) {
					vmm_stopped(vm, VMM_STOP_TIMEOUT, "call deadline", timeout_ms);
					break;
				}
				run->immediate_exit = 0; /* early or foreign signal; the timer repeats */
				continue;
			}
			vmm_stopped(vm, VMM_STOP_HOST, "KVM_RUN failed", (uint64_t)err);
			break;
		}
		vm->exits++;
		int h = 0;
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			h = vmm_handle_io(vm, run, &bell);
			break;
		case KVM_EXIT_HLT:
			vmm_stopped(vm, VMM_STOP_EXIT, "hlt", 0);
			h = -1;
			break;
		case KVM_EXIT_SHUTDOWN:
			vmm_stopped(vm, VMM_STOP_SHUTDOWN, "shutdown (triple fault)", 0);
			h = -1;
			break;
		case KVM_EXIT_MMIO:
			vmm_stopped(vm, VMM_STOP_EXIT, "access outside RAM (mmio)", run->mmio.phys_addr);
			h = -1;
			break;
		case KVM_EXIT_FAIL_ENTRY:
			vmm_stopped(vm, VMM_STOP_HOST, "failed entry",
			            run->fail_entry.hardware_entry_failure_reason);
			h = -1;
			break;
		case KVM_EXIT_INTR:
			h = 0;
			break;
		default:
			vmm_stopped(vm, VMM_STOP_EXIT, "unexpected exit_reason", run->exit_reason);
			h = -1;
			break;
		}
		if (h != 0)
			break;
		if (vmm_deadline_passed(&d)) {
			vmm_stopped(vm, VMM_STOP_TIMEOUT, "call deadline", timeout_ms);
			break;
		}
	}
	vmm_deadline_disarm(&d, run);
	return vm->broken ? 0 : bell;
}

/* ---- open / close ---------------------------------------------------------- */
static void vmm_free(vmm *vm)
{
	vmm_lanes_free(vm);
	for (uint32_t i = 0; i < vm->nvcpus; i++) {
		if (vm->run[i])
			munmap(vm->run[i], vm->run_size);
		if (vm->vcpu_fd[i] >= 0)
			close(vm->vcpu_fd[i]);
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->ram)
		munmap(vm->ram, vm->ram_bytes);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	free(vm);
}

static nub_err vmm_boot(vmm *vm, const vmm_config *cfg)
{
	volatile NubRpcMailboxHeader *h = vmm_gpa_to_hva(vm, NUB_GUEST_MAILBOX_GPA, sizeof(NubRpcMailboxHeader));
	if (!h)
		return NUB_E_INVALID_ARG;
	h->magic = 0;
	h->ram_bytes = vm->ram_bytes;
	h->vcpus = vm->nvcpus;
	h->invocation_pages = cfg->invocation_pages;
	if (vmm_arch_boot_regs(vm, vm->vcpu_fd[0], vm->img.entry, NUB_GUEST_BOOT_MAGIC, 0) < 0)
		return NUB_E_KVM_UNAVAILABLE;
	uint32_t bell = vmm_kvm_run_until_doorbell(vm, cfg->boot_timeout_ms ? cfg->boot_timeout_ms : VMM_BOOT_TIMEOUT_MS);
	if (bell == NUB_DOORBELL_FAULT) {
		memcpy(&vm->fault, (const void *)&h->fault, sizeof vm->fault);
		vm->stop = VMM_STOP_FAULT;
		vm->broken = true;
		return NUB_E_GUEST_FAULT;
	}
	if (!bell)
		return vm->stop == VMM_STOP_TIMEOUT ? NUB_E_TIMEOUT : NUB_E_GUEST_DEAD;
	uint64_t magic = __atomic_load_n((const volatile uint64_t *)&h->magic, __ATOMIC_ACQUIRE);
	if (bell != NUB_DOORBELL_READY || magic != NUB_RPC_MAGIC || h->abi_version != NUB_ABI_VERSION ||
	    h->req_cap != NUB_RPC_REQ_CAP || h->resp_cap != NUB_RPC_RESP_CAP) {
		vmm_debug("boot: bell %u magic 0x%llx abi %u caps %u/%u", bell, (unsigned long long)magic,
		          h->abi_version, h->req_cap, h->resp_cap);
		vm->stop = VMM_STOP_PROTOCOL;
		vm->broken = true;
		return NUB_E_GUEST_PROTOCOL;
	}
	vm->seq = h->seq;
	vm->lanes_ready = h->lanes_ready < vm->nvcpus ? h->lanes_ready : vm->nvcpus - 1;
	return NUB_E_OK;
}

nub_err vmm_open(const vmm_config *cfg, vmm **out)
{
	const uint8_t *elf;
	size_t elf_len;
	nub_err e;
	if (!cfg || !out)
		return NUB_E_INVALID_ARG;
	*out = NULL;
	elf = cfg->elf;
	elf_len = cfg->elf_len;
	if (!elf)
		vmm_guest_image(&elf, &elf_len);
	if (elf_len == 0)
		return NUB_E_NOT_IMPLEMENTED;
	uint64_t ram = cfg->ram_bytes & ~0xFFFull;
	if (ram < NUB_GUEST_MIN_RAM || ram > VMM_MAX_RAM || cfg->vcpus < 1 || cfg->vcpus > MAX_EXECUTION_LANES)
		return NUB_E_INVALID_ARG;

	vmm *vm = calloc(1, sizeof *vm);
	if (!vm)
		return NUB_E_NOMEM;
	vm->kvm_fd = vm->vm_fd = -1;
	for (uint32_t i = 0; i < MAX_EXECUTION_LANES; i++)
		vm->vcpu_fd[i] = -1;
	vm->timeout_ms = cfg->timeout_ms;
	vm->fault.fn_id = ~0ull;

	e = NUB_E_KVM_UNAVAILABLE;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		goto fail;
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != VMM_KVM_API_VERSION)
		goto fail;
	vm->vm_fd = vmm_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		goto fail;
	if (vmm_ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, VMM_KVM_TSS_GPA) < 0)
		goto fail;
	int rs = vmm_ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (rs < (int)sizeof(struct kvm_run))
		goto fail;
	vm->run_size = (size_t)rs;

	e = NUB_E_NOMEM;
	void *ram_p = mmap(NULL, ram, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram_p == MAP_FAILED)
		goto fail;
	vm->ram = ram_p;
	vm->ram_bytes = ram;
	struct kvm_userspace_memory_region region = {
		.slot = 0, .flags = 0, .guest_phys_addr = 0, .memory_size = ram,
		.userspace_addr = (uint64_t)(uintptr_t)vm->ram,
	};
	e = NUB_E_KVM_UNAVAILABLE;
	if (vmm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		goto fail;

	for (uint32_t i = 0; i < cfg->vcpus; i++) {
		vm->vcpu_fd[i] = vmm_ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		vm->nvcpus = i + 1;
		if (vm->vcpu_fd[i] < 0)
			goto fail;
		void *r = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd[i], 0);
		if (r == MAP_FAILED)
			goto fail;
		vm->run[i] = r;
		if (vmm_arch_vcpu_init(vm, vm->vcpu_fd[i]) < 0)
			goto fail;
	}

	if ((e = vmm_elf_load(vm, elf, elf_len, &vm->img)))
		goto fail;
	if ((e = vmm_boot(vm, cfg))) {
		vmm_debug("boot failed: %s; console:\n%s", nub_err_name(e), vm->console);
		goto fail;
	}
	*out = vm;
	return NUB_E_OK;
fail:
	vmm_free(vm);
	return e;
}

void vmm_close(vmm *vm)
{
	if (vm)
		vmm_free(vm);
}

bool vmm_broken(const vmm *vm)
{
	return vm->broken;
}

vmm_stop vmm_last_stop(const vmm *vm)
{
	return vm->stop;
}

const char *vmm_stop_name(vmm_stop s)
{
	switch (s) {
	case VMM_STOP_NONE: return "none";
	case VMM_STOP_FAULT: return "fault";
	case VMM_STOP_TIMEOUT: return "timeout";
	case VMM_STOP_PROTOCOL: return "protocol";
	case VMM_STOP_SHUTDOWN: return "shutdown";
	case VMM_STOP_EXIT: return "exit";
	case VMM_STOP_HOST: return "host";
	}
	return "unknown";
}

const NubRpcFault *vmm_fault(const vmm *vm)
{
	return &vm->fault;
}

const BootInfo *vmm_boot_info_elf(const vmm *vm)
{
	return &vm->img.boot_info;
}

const char *vmm_console(const vmm *vm)
{
	return vm->console;
}

void vmm_set_timeout(vmm *vm, uint32_t timeout_ms)
{
	vm->timeout_ms = timeout_ms;
}

uint64_t vmm_exit_count(const vmm *vm)
{
	return vm->exits;
}
