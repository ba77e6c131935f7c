/* fuzz_lane_slot.c: libFuzzer target: the ParallelInvokeSlot protocol
 * (src/cap/lane_slot.c) on an arbitrary slot, as a hostile other side would
 * leave it. Input: 8 bytes job_id, then the slot's 512 bytes (zero-padded).
 * Invariants (abort on violation):
 *   host side: lane_slot_take returns DONE only for status DONE with the
 *   same job_id, then copies exactly the slot's result and leaves EMPTY;
 *   otherwise the slot and the caller's result are untouched.
 *   host side, host calls (nub's extension): HOST_CALL only for status
 *   HOST_WAIT of a job the host posted with host calls (host_flags) and the
 *   same job_id, the slot untouched; HOST_ANSWER of such a job is PENDING.
 *   worker side: lane_worker_run ends (the idle hook stores STOP), with
 *   BAD_STATUS exactly when the status held no protocol value; a READY slot
 *   gets the result of its own packet and its job_id back; a READY job with
 *   host calls hands its call over (HOST_WAIT) and, the host answering
 *   with STOP instead of HOST_ANSWER, ends with NUB_E_GUEST_PROTOCOL.
 *   memory requests (HOST_MEM, nub's extension), host side:
 *   lane_slot_mem_request writes only on HOST_WAIT with a known op and a
 *   READ/WRITE of at most NUB_SLOT_MEM_MAX bytes (else the slot is
 *   untouched); lane_slot_mem_result is PENDING exactly on HOST_MEM, DONE
 *   exactly on HOST_WAIT with an err that names a nub_err. Worker side:
 *   inside the host call the fuzz host first stores the input's own
 *   host_mem words and HOST_MEM: the worker's host_mem op sees only
 *   well-formed requests (known op, READ/WRITE within NUB_SLOT_MEM_MAX), a
 *   malformed one is answered NUB_E_INVALID_ARG without it, and the slot
 *   is HOST_WAIT again with that err. */
#include <stdlib.h>
#include <string.h>

#include "cap/lane_slot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fake_invoke(void *ctx, const InvokePacket *p, InvocationResult *r)
{
	(void)ctx;
	r->exit_reason = NUB_EXIT_HALT;
	r->return_value = p->args[0] ^ p->args[3];
	r->gas_remaining = p->initial_gas;
	memcpy(r->scratchpad_head, p->instance_hash, sizeof p->instance_hash);
}

static unsigned idles, host_waits, mem_calls, mem_idles;
static NubSlotHostMem mem_req; /* the input's request, stored by the fuzz host */
static void stop_idle(void *ctx, ParallelInvokeSlot *s, uint32_t seen);

/* The worker's memory op: only well-formed requests reach it. */
static nub_err fake_host_mem(void *ctx, const NubSlotHostMem *q)
{
	(void)ctx;
	if (q->op < NUB_SLOT_MEM_READ || q->op > NUB_SLOT_MEM_CHECK_WRITE ||
	    (q->op <= NUB_SLOT_MEM_WRITE && q->len > NUB_SLOT_MEM_MAX) || q->op != mem_req.op ||
	    q->addr != mem_req.addr || q->len != mem_req.len)
		abort();
	mem_calls++;
	return (q->addr & 1) ? NUB_E_HOST_MEMORY : NUB_E_OK;
}

/* Inside a host call: the first wait stores a memory request, the next one
 * checks its answer and stores STOP (a protocol error for the call). */
static void host_call_idle(void *ctx, ParallelInvokeSlot *s, uint32_t seen)
{
	(void)seen;
	if (++mem_idles == 1 && lane_slot_status(s) == NUB_SLOT_HOST_WAIT) {
		s->host_mem = mem_req;
		lane_slot_set(s, NUB_SLOT_HOST_MEM);
		return;
	}
	if (mem_idles == 2) {
		bool ok = mem_req.op >= NUB_SLOT_MEM_READ && mem_req.op <= NUB_SLOT_MEM_CHECK_WRITE &&
		          !(mem_req.op <= NUB_SLOT_MEM_WRITE && mem_req.len > NUB_SLOT_MEM_MAX);
		uint32_t want = !ok ? NUB_E_INVALID_ARG : (mem_req.addr & 1) ? NUB_E_HOST_MEMORY : NUB_E_OK;
		if (lane_slot_status(s) != NUB_SLOT_HOST_WAIT || s->host_mem.err != want || mem_calls != (ok ? 1u : 0u))
			abort();
	}
	stop_idle(ctx, s, seen);
}

/* what the worker waits with inside a host call */
static const lane_worker_ops ops_plain = {.invoke = NULL, .idle = host_call_idle, .host_mem = fake_host_mem};

/* One host call with the packet's args[1] in phi7; the fuzz host never
 * answers (its idle hook stores STOP): a protocol error. */
static void fake_invoke_host(void *ctx, ParallelInvokeSlot *s, const InvokePacket *p, InvocationResult *r)
{
	NubSlotHostCall c = {.number = (uint32_t)p->args[2], .gas = p->initial_gas};
	c.regs[7] = p->args[1];
	mem_idles = mem_calls = 0;
	lane_host_answer a = lane_worker_host_call(s, &ops_plain, ctx, 1, &c);
	if (a != LANE_HOST_PROTOCOL || lane_slot_status(s) != NUB_SLOT_RUNNING || mem_idles < 2)
		abort();
	host_waits++;
	r->exit_reason = NUB_EXIT_ERROR;
	r->exit_arg = NUB_E_GUEST_PROTOCOL;
}

static void stop_idle(void *ctx, ParallelInvokeSlot *s, uint32_t seen)
{
	(void)ctx;
	(void)seen;
	if (++idles > 1000)
		abort(); /* the worker ignores STOP */
	lane_slot_set(s, NUB_SLOT_STOP);
}

static const lane_worker_ops ops = {.invoke = fake_invoke, .invoke_host = fake_invoke_host, .idle = stop_idle};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ParallelInvokeSlot slot, before;
	uint64_t job_id = 0;
	if (size < 8)
		return 0;
	memcpy(&job_id, data, 8);
	data += 8;
	size -= 8;
	memset(&before, 0, sizeof before);
	memcpy(&before, data, size < sizeof before ? size : sizeof before);

	/* host side */
	memcpy(&slot, &before, sizeof slot);
	InvocationResult r, untouched;
	memset(&r, 0x5C, sizeof r);
	memcpy(&untouched, &r, sizeof r);
	lane_take t = lane_slot_take(&slot, job_id, &r);
	if (t == LANE_TAKE_DONE) {
		if (before.status != NUB_SLOT_DONE || before.job_id != job_id ||
		    memcmp(&r, &before.result, sizeof r) || slot.status != NUB_SLOT_EMPTY ||
		    memcmp((uint8_t *)&slot + 4, (uint8_t *)&before + 4, sizeof slot - 4))
			abort();
	} else {
		if (memcmp(&slot, &before, sizeof slot) || memcmp(&r, &untouched, sizeof r))
			abort();
		bool host = (before.host_flags & NUB_SLOT_F_HOST_CALLS) != 0;
		if (t == LANE_TAKE_PENDING && before.status != NUB_SLOT_READY && before.status != NUB_SLOT_RUNNING &&
		    !(host && (before.status == NUB_SLOT_HOST_ANSWER || before.status == NUB_SLOT_HOST_MEM)))
			abort();
		if ((t == LANE_TAKE_HOST_CALL) !=
		    (host && before.status == NUB_SLOT_HOST_WAIT && before.job_id == job_id))
			abort();
	}

	/* host side, memory requests: the input's own host_mem words */
	mem_req = before.host_mem;
	memcpy(&slot, &before, sizeof slot);
	bool req_ok = before.status == NUB_SLOT_HOST_WAIT && mem_req.op >= NUB_SLOT_MEM_READ &&
	              mem_req.op <= NUB_SLOT_MEM_CHECK_WRITE &&
	              !(mem_req.op <= NUB_SLOT_MEM_WRITE && mem_req.len > NUB_SLOT_MEM_MAX);
	if (lane_slot_mem_request(&slot, mem_req.op, mem_req.addr, mem_req.len) != req_ok)
		abort();
	if (req_ok ? slot.status != NUB_SLOT_HOST_MEM || slot.host_mem.op != mem_req.op ||
	                 slot.host_mem.addr != mem_req.addr || slot.host_mem.len != mem_req.len
	           : memcmp(&slot, &before, sizeof slot) != 0)
		abort();
	memcpy(&slot, &before, sizeof slot);
	nub_err me = (nub_err)0x5C5C;
	lane_mem lm = lane_slot_mem_result(&slot, &me);
	if ((lm == LANE_MEM_PENDING) != (before.status == NUB_SLOT_HOST_MEM) ||
	    (lm == LANE_MEM_DONE) != (before.status == NUB_SLOT_HOST_WAIT && before.host_mem.err < (uint32_t)NUB_E_MAX_) ||
	    (lm == LANE_MEM_DONE ? (uint32_t)me != before.host_mem.err : me != (nub_err)0x5C5C) ||
	    memcmp(&slot, &before, sizeof slot) != 0)
		abort();

	/* worker side */
	memcpy(&slot, &before, sizeof slot);
	idles = host_waits = 0;
	uint64_t served = 0;
	lane_worker_end end = lane_worker_run(&slot, &ops, NULL, 1, &served);
	bool valid = before.status <= NUB_SLOT_EVICT_JIT_READY || before.status == NUB_SLOT_HOST_WAIT ||
	             before.status == NUB_SLOT_HOST_ANSWER || before.status == NUB_SLOT_HOST_MEM;
	if ((end == LANE_WORKER_BAD_STATUS) == valid)
		abort();
	if (before.status == NUB_SLOT_READY && (before.host_flags & NUB_SLOT_F_HOST_CALLS)) {
		/* the call was handed over with the packet's registers */
		if (served != 1 || host_waits != 1 || slot.job_id != before.job_id ||
		    slot.host_call.regs[7] != before.packet.args[1] || slot.host_call.gas != before.packet.initial_gas ||
		    slot.result.exit_reason != NUB_EXIT_ERROR || slot.result.exit_arg != NUB_E_GUEST_PROTOCOL)
			abort();
	} else if (before.status == NUB_SLOT_READY) {
		InvocationResult want;
		memset(&want, 0, sizeof want);
		fake_invoke(NULL, &before.packet, &want);
		if (served != 1 || slot.job_id != before.job_id || memcmp(&slot.result, &want, sizeof want))
			abort();
	} else if (served != 0) {
		abort();
	}
	return 0;
}
