/* kvm_backend.h: the `kvm` sandbox backend (src/api/backend.h ops over a vmm)
 * and its test hooks.
 *
 * A kvm sandbox owns one vmm (one micro-VM). Calls are serialised by a
 * mutex. When a call leaves the vmm broken (guest fault, timeout, malformed
 * reply, guest stopped), that call returns the error, then the sandbox is
 * rebuilt: a fresh VM is booted and every cap published so far is published
 * again in order (the host keeps their encodings), so later calls see the
 * same published state. If the rebuild fails, the sandbox is dead and every
 * later call returns NUB_E_GUEST_DEAD.
 */
#ifndef NUB_HOST_KVM_BACKEND_H
#define NUB_HOST_KVM_BACKEND_H

#include "api/backend.h"
#include "host/vmm.h"

nub_err kvm_backend_open(const nub_resolved_options *o, void **impl, const nub_backend_ops **ops);

/* ---- test hooks (sb must be a kvm sandbox) ------------------------------- */
/* One raw RPC with any fn_id/payload, with the rebuild semantics above. */
nub_err kvm_sandbox_call(nub_sandbox *sb, uint32_t fn_id, const void *req, uint32_t req_len, void *resp,
                         uint32_t resp_cap, uint32_t *resp_len);
/* VM exits (KVM_RUN returns) of the live VM since it booted. */
uint64_t kvm_sandbox_exits(nub_sandbox *sb);
/* How many times the VM was rebuilt; the last host-side stop and fault. */
unsigned kvm_sandbox_rebuilds(nub_sandbox *sb);
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
/* Change the per-call timeout of the live VM (and of rebuilt ones). */
void kvm_sandbox_set_timeout(nub_sandbox *sb, uint32_t timeout_ms);

#endif
