/* vmm_int.h: the vmm struct and the KVM/arch hooks shared by src/host/vmm_*.c.
 * (Not a public contract: vmm.h is.) */
#ifndef NUB_HOST_VMM_INT_H
#define NUB_HOST_VMM_INT_H

#include <linux/kvm.h>

#include "host/vmm.h"

#define VMM_CONSOLE_SIZE 4096u

struct vmm {
	int kvm_fd, vm_fd;
	uint32_t nvcpus;
	int vcpu_fd[MAX_EXECUTION_LANES];
	struct kvm_run *run[MAX_EXECUTION_LANES];
	size_t run_size;
	uint8_t *ram;        /* hva of gpa 0 */
	uint64_t ram_bytes;
	uint32_t timeout_ms;
	bool broken;
	vmm_stop stop;
	uint32_t seq;
	uint64_t exits; /* KVM_RUN returns (VM exits to this process) on vCPU 0 */
	uint32_t lanes_ready;        /* APs the guest prepared (mailbox) */
	uint32_t nlanes;             /* lanes started (vmm_lanes.c) */
	struct vmm_lane *lanes;      /* nlanes of them */
	NubRpcFault fault;
	struct vmm_elf_image img;
	char console[VMM_CONSOLE_SIZE];
	size_t console_len;
};

/* vmm_kvm.c: run vCPU 0 until the guest rings the doorbell. Returns the
 * doorbell value (NUB_DOORBELL_*) or 0 with vm->stop set (and vm->broken). */
uint32_t vmm_kvm_run_until_doorbell(vmm *vm, uint32_t timeout_ms);

/* vmm_kvm_x86_64.c: CPUID + registers for the guest's 32-bit entry. */
int vmm_arch_vcpu_init(vmm *vm, int vcpu_fd);
/* The 32-bit entry with EAX = magic, EBX = arg (rpc.h, entry contract). */
int vmm_arch_boot_regs(vmm *vm, int vcpu_fd, uint64_t entry, uint32_t magic, uint32_t arg);
/* rip of vCPU 0 (for diagnostics), ~0 when unreadable. */
uint64_t vmm_arch_rip(const vmm *vm);

/* vmm_kvm.c: the calling thread takes VMM_KICK_SIGNAL to leave KVM_RUN on
 * `run` (the handler sets its immediate_exit); 0 or -1. */
int vmm_kick_prepare(struct kvm_run *run);
int vmm_kick_signal(void);
/* vmm_lanes.c: stop and free every lane (before the vCPUs are closed). */
void vmm_lanes_free(vmm *vm);

/* Diagnostics to stderr when NUB_VMM_DEBUG is set. */
void vmm_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
