/* kvm_hooks.h: test hooks into the kvm backend (tests/kvm/kvm_hooks.c). */
#ifndef NUB_TESTS_KVM_HOOKS_H
#define NUB_TESTS_KVM_HOOKS_H

#include "host/kvm_backend.h"
#include "nub/nub.h"

/* The test kernel's ELF (what kvm_test_open boots). */
void kvm_test_image(const uint8_t **elf, size_t *len);
/* A kvm sandbox booted on the test kernel (nub_close closes it). */
nub_err kvm_test_open(const nub_options *o, nub_sandbox **out);
/* One raw RPC with any fn_id/payload, with the rebuild semantics of
 * kvm_backend.h. sb must be a kvm sandbox (so must it below). */
nub_err kvm_sandbox_call(nub_sandbox *sb, uint32_t fn_id, const void *req, uint32_t req_len, void *resp,
                         uint32_t resp_cap, uint32_t *resp_len);
/* VM exits (KVM_RUN returns) of the live VM since it booted. */
uint64_t kvm_sandbox_exits(nub_sandbox *sb);
/* How many times the VM was rebuilt; the last host-side stop and fault. */
unsigned kvm_sandbox_rebuilds(nub_sandbox *sb);
/* Lanes restarted after a timeout the worker did not answer, or a death. */
unsigned kvm_sandbox_lane_restarts(nub_sandbox *sb);
/* Invocations with a handler posted on a lane (the others took the
 * mailbox); handler calls on either path. */
uint64_t kvm_sandbox_lane_host_jobs(nub_sandbox *sb);
uint64_t kvm_sandbox_host_calls(nub_sandbox *sb);
/* Lanes running on the sandbox's VM. */
uint32_t kvm_sandbox_lanes(nub_sandbox *sb);
uint32_t kvm_sandbox_lanes_ready(nub_sandbox *sb);
/* Store `status` in an idle lane's slot (a host scribble) and wake it. */
void kvm_sandbox_scribble_lane(nub_sandbox *sb, uint32_t lane, uint32_t status);
nub_err kvm_sandbox_lanes_err(nub_sandbox *sb);
vmm_stop kvm_sandbox_last_stop(nub_sandbox *sb);
NubRpcFault kvm_sandbox_last_fault(nub_sandbox *sb);
/* Cap directory lookup in the live guest (vmm_capdir_lookup); when found and
 * copy is non-NULL, up to copy_cap bytes of the encoding are copied. */
nub_err kvm_sandbox_capdir_lookup(nub_sandbox *sb, const uint8_t hash[NUB_CAP_HASH_LEN], NubCapDirEntry *out,
                                  uint8_t *copy, size_t copy_cap);
/* Copy len bytes into guest RAM at gpa through the checked translation
 * (a test's way to break the guest on purpose); NUB_E_INVALID_ARG when the
 * range is not inside guest RAM. */
nub_err kvm_sandbox_poke(nub_sandbox *sb, nub_gpa gpa, const void *src, uint64_t len);
/* Corrupt the host's stored copy of a published cap (its next replay into a
 * rebuilt VM is refused); false when the hash is not published. */
bool kvm_sandbox_corrupt_published(nub_sandbox *sb, const uint8_t hash[NUB_CAP_HASH_LEN]);
/* Caps a rebuilt VM refused on replay, since open. */
unsigned kvm_sandbox_lost_caps(nub_sandbox *sb);
/* Change the per-call timeout of the live VM (and of rebuilt ones). */
void kvm_sandbox_set_timeout(nub_sandbox *sb, uint32_t timeout_ms);

#endif
