/* guest_dispatch.c: the fn_id registration table and the mailbox server.
 *
 * Handlers register into an array indexed by fn_id (STYLE 4, after Solo5's
 * hvt_core_register_hypercall); registration refuses out-of-range ids, the
 * reserved ids 0 and 1, and duplicates. Serving reads the request header
 * once (the host may change shared memory at any time), checks the length
 * against the mailbox capacity, runs the handler and writes the reply
 * header. Unknown fn_ids get NUB_E_UNKNOWN_FN, requests longer than the
 * mailbox NUB_E_RPC_LENGTH, both with an empty reply; the kernel keeps
 * serving. (A handler refuses a payload of the wrong length itself, with
 * NUB_E_INVALID_ARG.)
 */
#include "guest/guest.h"

static guest_rpc_fn handlers[NUB_FN_ID_SUBSTRATE_END];
volatile uint64_t guest_rpc_current_fn = ~0ull;
void (*guest_rpc_on_request)(uint32_t fn_id);

NubRpcMailbox *guest_mailbox(void)
{
	return (NubRpcMailbox *)(uintptr_t)NUB_GUEST_MAILBOX_GPA;
}

nub_err guest_rpc_register(uint32_t fn_id, guest_rpc_fn fn)
{
	if (fn_id >= NUB_FN_ID_SUBSTRATE_END || fn_id < NUB_FN_ID_HEAP_STATS || !fn)
		return NUB_E_INVALID_ARG;
	if (handlers[fn_id])
		return NUB_E_INVALID_ARG;
	handlers[fn_id] = fn;
	return NUB_E_OK;
}

void guest_rpc_serve_one(NubRpcMailbox *mb)
{
	volatile NubRpcMailboxHeader *h = &mb->h;
	uint32_t seq = h->seq, fn_id = h->fn_id, req_len = h->req_len;
	uint32_t resp_len = 0;
	nub_err st;
	guest_rpc_current_fn = fn_id;
	if (guest_rpc_on_request)
		guest_rpc_on_request(fn_id);
	if (fn_id >= NUB_FN_ID_SUBSTRATE_END || !handlers[fn_id])
		st = NUB_E_UNKNOWN_FN;
	else if (req_len > NUB_RPC_REQ_CAP)
		st = NUB_E_RPC_LENGTH;
	else
		st = handlers[fn_id](mb->req, req_len, mb->resp, NUB_RPC_RESP_CAP, &resp_len);
	if (st != GUEST_RPC_RAW_REPLY) {
		if (resp_len > NUB_RPC_RESP_CAP) /* a handler bug: never claim more */
			guest_panic(__FILE__, __LINE__, "resp_len > NUB_RPC_RESP_CAP");
		h->status = (uint32_t)st;
		h->resp_len = resp_len;
		h->resp_seq = seq;
	}
	guest_rpc_current_fn = ~0ull;
}
