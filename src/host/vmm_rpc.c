/* vmm_rpc.c: one request/response over the mailbox (rpc.h protocol).
 *
 * The host writes the payload, fn_id and req_len, then bumps seq (release)
 * and resumes vCPU 0 until the doorbell. The reply header is read once and
 * re-validated: resp_seq == seq, resp_len <= NUB_RPC_RESP_CAP and <= the
 * caller's buffer, status a known nub_err. A FAULT doorbell copies the fault
 * report out. Any failure marks the vmm broken (the guest's state can no
 * longer be trusted); the owner rebuilds it. Timeout: the vmm's per-call
 * timeout; with none set, every call but those that run a program
 * (INVOKE_CACHED, INVOKE_HOST, HOST_CALL) still gets VMM_GUARD_TIMEOUT_MS.
 */
#include <string.h>

#include "host/vmm_int.h"

static nub_err vmm_fail_error(const vmm *vm)
{
	switch (vm->stop) {
	case VMM_STOP_TIMEOUT: return NUB_E_TIMEOUT;
	case VMM_STOP_FAULT: return NUB_E_GUEST_FAULT;
	case VMM_STOP_PROTOCOL: return NUB_E_GUEST_PROTOCOL;
	default: return NUB_E_GUEST_DEAD;
	}
}

nub_err vmm_call(vmm *vm, uint32_t fn_id, const void *req, uint32_t req_len, void *resp, uint32_t resp_cap,
                 uint32_t *resp_len)
{
	*resp_len = 0;
	if (vm->broken)
		return NUB_E_GUEST_DEAD;
	if (req_len > NUB_RPC_REQ_CAP || (req_len && !req) || (resp_cap && !resp))
		return NUB_E_INVALID_ARG;
	NubRpcMailbox *mb = vmm_gpa_to_hva(vm, NUB_GUEST_MAILBOX_GPA, sizeof(NubRpcMailbox));
	if (!mb)
		return NUB_E_INVALID_ARG;
	volatile NubRpcMailboxHeader *h = &mb->h;
	if (req_len)
		memcpy(mb->req, req, req_len);
	uint32_t seq = vm->seq + 1;
	h->fn_id = fn_id;
	h->req_len = req_len;
	h->resp_seq = seq - 1; /* anything but seq: a guest that does not answer is caught */
	h->resp_len = 0;
	__atomic_store_n(&h->seq, seq, __ATOMIC_RELEASE);

	/* timeout_ms 0 = no limit for invocations (long programs are legitimate);
	 * every other call still gets a guard, so a hung guest cannot block it */
	bool runs = fn_id == NUB_FN_ID_INVOKE_CACHED || fn_id == NUB_FN_ID_INVOKE_HOST || fn_id == NUB_FN_ID_HOST_CALL;
	uint32_t limit = vm->timeout_ms ? vm->timeout_ms : runs ? 0 : VMM_GUARD_TIMEOUT_MS;
	uint32_t bell = vmm_kvm_run_until_doorbell(vm, limit);
	if (bell == NUB_DOORBELL_FAULT) {
		memcpy(&vm->fault, (const void *)&h->fault, sizeof vm->fault);
		vm->stop = VMM_STOP_FAULT;
		vm->broken = true;
		vmm_debug("guest fault: vector %u error 0x%llx rip 0x%llx cr2 0x%llx fn %lld", vm->fault.vector,
		          (unsigned long long)vm->fault.error_code, (unsigned long long)vm->fault.rip,
		          (unsigned long long)vm->fault.cr2, (long long)vm->fault.fn_id);
		return NUB_E_GUEST_FAULT;
	}
	if (bell == 0)
		return vmm_fail_error(vm);

	uint32_t st = h->status, len = h->resp_len, rseq = __atomic_load_n(&h->resp_seq, __ATOMIC_ACQUIRE);
	const char *why = NULL;
	if (bell != NUB_DOORBELL_REPLY)
		why = "doorbell is not REPLY";
	else if (rseq != seq)
		why = "resp_seq != seq";
	else if (len > NUB_RPC_RESP_CAP)
		why = "resp_len > resp_cap";
	else if (len > resp_cap)
		why = "resp_len > the caller's buffer";
	else if (st >= NUB_E_MAX_)
		why = "status is no nub_err";
	if (why) {
		vmm_debug("reply rejected: %s (fn %u status 0x%x resp_len 0x%x resp_seq 0x%x seq 0x%x)", why, fn_id, st,
		          len, rseq, seq);
		vm->stop = VMM_STOP_PROTOCOL;
		vm->broken = true;
		return NUB_E_GUEST_PROTOCOL;
	}
	if (len)
		memcpy(resp, mb->resp, len);
	*resp_len = len;
	vm->seq = seq;
	return (nub_err)st;
}
