/* vmm.h: nub's KVM virtual machine monitor (host side of the micro-VM).
 *
 * One vmm = one KVM VM running the embedded guest kernel
 * (build/guest/nub-guest.elf, linked into libnub by vmm_guest_image.c).
 * Address spaces are named in types: nub_gpa (guest-physical, an integer the
 * host never dereferences) and hva (host pointers into guest RAM, obtained
 * only from vmm_gpa_to_hva, the one checked translation).
 *
 * Call order:
 *   vmm_open(&cfg, &vm)          create VM + vCPUs, load the ELF, boot until
 *                                the guest rings READY (or fail);
 *   vmm_call(vm, fn_id, ...)*    one RPC over the mailbox (DESIGN 5);
 *   vmm_close(vm).
 * A vmm whose guest faulted, hung, stopped or answered garbage is "broken":
 * vmm_call returns the error once and every later call NUB_E_GUEST_DEAD; the
 * owner (kvm_backend.c) closes it and opens a new one. A vmm is not thread
 * safe: the caller serialises calls.
 */
#ifndef NUB_HOST_VMM_H
#define NUB_HOST_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nub/abi.h"
#include "nub/rpc.h"

typedef struct vmm vmm;

typedef struct vmm_config {
	uint64_t ram_bytes;  /* NUB_GUEST_MIN_RAM .. VMM_MAX_RAM */
	uint32_t vcpus;      /* 1..MAX_EXECUTION_LANES; vCPU 0 serves the mailbox */
	uint32_t timeout_ms; /* per vmm_call; 0 = none for INVOKE_CACHED, VMM_GUARD_TIMEOUT_MS else */
	uint32_t boot_timeout_ms; /* 0 = VMM_BOOT_TIMEOUT_MS */
	uint32_t invocation_pages; /* most pages one invocation may map (0: 2^20) */
	/* the guest kernel ELF to boot; NULL = the production kernel embedded
	 * in libnub (vmm_guest_image). Tests boot the test kernel this way. The
	 * bytes must outlive the vmm (a rebuild boots them again). */
	const uint8_t *elf;
	size_t elf_len;
} vmm_config;

#define VMM_MAX_RAM (3ull << 30) /* the guest's heap stops below the PCI hole at 3 GiB */
#define VMM_BOOT_TIMEOUT_MS 60000u
#define VMM_GUARD_TIMEOUT_MS 60000u /* calls other than INVOKE_CACHED when timeout_ms = 0 */

/* Why the last vmm_call failed on the host side (for diagnostics/tests). */
typedef enum vmm_stop {
	VMM_STOP_NONE = 0,
	VMM_STOP_FAULT,     /* FAULT doorbell: mb fault report copied to vmm_fault() */
	VMM_STOP_TIMEOUT,   /* the call's deadline passed; the vCPU was kicked out */
	VMM_STOP_PROTOCOL,  /* reply failed the checks (seq, length, status) */
	VMM_STOP_SHUTDOWN,  /* KVM_EXIT_SHUTDOWN (triple fault) */
	VMM_STOP_EXIT,      /* hlt, the isa-debug-exit port, or an unexpected exit */
	VMM_STOP_HOST,      /* a host-side ioctl failed */
} vmm_stop;

/* Create and boot. Errors: NUB_E_KVM_UNAVAILABLE (no usable /dev/kvm or API
 * version != 12), NUB_E_NOT_IMPLEMENTED (this libnub was built without the
 * embedded guest kernel), NUB_E_INVALID_ARG (config), NUB_E_NOMEM,
 * NUB_E_GUEST_BAD_IMAGE (the embedded ELF fails a check), NUB_E_GUEST_FAULT /
 * NUB_E_TIMEOUT / NUB_E_GUEST_PROTOCOL / NUB_E_GUEST_DEAD (boot failed). */
nub_err vmm_open(const vmm_config *cfg, vmm **out);
void vmm_close(vmm *vm);

/* One RPC. req_len <= NUB_RPC_REQ_CAP. On a well-formed reply returns the
 * guest's status (NUB_E_OK or its nub_err) and copies resp_len bytes
 * (<= resp_cap, else NUB_E_GUEST_PROTOCOL) to resp. Host-side failures:
 * NUB_E_TIMEOUT, NUB_E_GUEST_FAULT, NUB_E_GUEST_PROTOCOL, NUB_E_GUEST_DEAD;
 * after them the vmm is broken (vmm_broken). */
nub_err vmm_call(vmm *vm, uint32_t fn_id, const void *req, uint32_t req_len, void *resp, uint32_t resp_cap,
                 uint32_t *resp_len);
bool vmm_broken(const vmm *vm);
vmm_stop vmm_last_stop(const vmm *vm);
const char *vmm_stop_name(vmm_stop s);
/* The fault report the guest wrote (valid after VMM_STOP_FAULT). */
const NubRpcFault *vmm_fault(const vmm *vm);
/* The .boot_info the ELF carried (checked magic). */
const BootInfo *vmm_boot_info_elf(const vmm *vm);
/* ---- lanes (vmm_lanes.c) -----------------------------------------------------
 * vCPUs 1..n serve ParallelInvokeSlot[0..n-1] (lane i on vCPU i + 1), each
 * run by a host thread of its own; the slot protocol is src/cap/lane_slot.h.
 * Different lanes may be used by different threads at once, one lane by one
 * thread at a time (the owner hands lanes out); start, restart and close
 * with the lane unused. */
/* APs the guest prepared at boot (0 with one vCPU). */
uint32_t vmm_lanes_ready(const vmm *vm);
/* Start n lanes (1..vmm_lanes_ready) and wait until every worker is up. */
nub_err vmm_lanes_start(vmm *vm, uint32_t n);
uint32_t vmm_lane_count(const vmm *vm);
/* The lane's slot in guest RAM (checked translation), NULL past the count. */
ParallelInvokeSlot *vmm_lane_slot(vmm *vm, uint32_t lane);
/* The lane's host-call buffer in guest RAM (NUB_GUEST_LANE_BUF_SIZE bytes,
 * checked translation; rpc.h), NULL past the count. */
uint8_t *vmm_lane_buf(vmm *vm, uint32_t lane);
/* After a post, an answer or a memory request: resume the lane's vCPU if
 * it halted. */
void vmm_lane_poke(vmm *vm, uint32_t lane);
/* Wait until it is the host's turn on the slot (true: DONE, or HOST_WAIT of
 * a job with host calls; lane_slot_hosts_turn), or deadline_ns
 * (CLOCK_MONOTONIC; 0 = none) passes or the lane's vCPU ended (false). */
bool vmm_lane_wait_done(vmm *vm, uint32_t lane, uint64_t deadline_ns);
/* The lane's vCPU left its loop (stopped, faulted, or any other exit). */
bool vmm_lane_ended(vmm *vm, uint32_t lane);
/* Kick the lane's vCPU out, reset it to the AP entry, wait until it is up. */
nub_err vmm_lane_restart(vmm *vm, uint32_t lane);
/* VM exits on the lanes' vCPUs since they started. */
uint64_t vmm_lane_exits(const vmm *vm);

/* The last bytes of the guest's COM1 console (NUL-terminated). */
const char *vmm_console(const vmm *vm);
/* Change the per-call timeout (0 = none). */
void vmm_set_timeout(vmm *vm, uint32_t timeout_ms);
/* VM exits that reached this process (KVM_RUN returns) since vmm_open. */
uint64_t vmm_exit_count(const vmm *vm);

/* ---- the one checked translation (STYLE 3) --------------------------------
 * Returns the host address of [gpa, gpa + size) if the whole range lies in
 * guest RAM (overflow-safe), else NULL after logging file:line, gpa and size
 * (when NUB_VMM_DEBUG is set in the environment). size 0 is refused. */
void *vmm_gpa_to_hva_at(const vmm *vm, nub_gpa gpa, uint64_t size, const char *file, int line);
#define vmm_gpa_to_hva(vm, gpa, size) vmm_gpa_to_hva_at((vm), (gpa), (size), __FILE__, __LINE__)

/* ---- host-side cap directory (vmm_capdir.c) -------------------------------
 * Look hash up in the guest's cap directory (BootInfo.directory_va, layout
 * NUB_CAPDIR_LAYOUT_V1) by reading guest memory through the checked
 * translation. Found: *out is a copy of the entry and, if bytes is non-NULL,
 * *bytes points at the cap encoding in guest RAM (len bytes, range-checked;
 * valid until the next vmm_call). Returns NUB_E_OK (found),
 * NUB_E_UNKNOWN_INSTANCE (absent), NUB_E_GUEST_PROTOCOL (the directory breaks
 * its layout: bad magic/type/capacity, entry outside RAM, no EMPTY slot). */
nub_err vmm_capdir_lookup(const vmm *vm, const uint8_t hash[NUB_CAP_HASH_LEN], NubCapDirEntry *out,
                          const uint8_t **bytes);

/* ---- internals shared by the vmm_*.c files ------------------------------- */
struct vmm_elf_image {
	uint64_t entry;   /* gpa */
	BootInfo boot_info;
	nub_gpa boot_info_gpa;
	nub_gpa load_end; /* highest loaded gpa + 1 */
};
/* vmm_elf.c: load the ELF64 blob's PT_LOAD segments into vm's RAM (each
 * inside [NUB_GUEST_KERNEL_GPA, NUB_GUEST_SLOTS_GPA)), find .boot_info and
 * check its magic. NUB_E_GUEST_BAD_IMAGE on any failed check. */
nub_err vmm_elf_load(vmm *vm, const uint8_t *elf, size_t len, struct vmm_elf_image *out);
/* vmm_guest_image.c: the embedded guest kernel (len 0 when not built in). */
void vmm_guest_image(const uint8_t **elf, size_t *len);

#endif
