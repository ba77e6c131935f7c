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
 *   with STOP instead of HOST_ANSWER, ends with NUB_E_GUEST_PROTOCOL. */
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

static unsigned idles, host_waits;
static void stop_idle(void *ctx, ParallelInvokeSlot *s, uint32_t seen);
/* what the worker waits with inside a host call */
static const lane_worker_ops ops_plain = {.invoke = NULL, .idle = stop_idle};

/* One host call with the packet's args[1] in phi7; the fuzz host never
 * answers (its idle hook stores STOP): a protocol error. */
static void fake_invoke_host(void *ctx, ParallelInvokeSlot *s, const InvokePacket *p, InvocationResult *r)
{
	NubSlotHostCall c = {.number = (uint32_t)p->args[2], .gas = p->initial_gas};
	c.regs[7] = p->args[1];
	lane_host_answer a = lane_worker_host_call(s, &ops_plain, ctx, 1, &c);
	if (a != LANE_HOST_PROTOCOL || lane_slot_status(s) != NUB_SLOT_RUNNING)
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
		    !(host && before.status == NUB_SLOT_HOST_ANSWER))
			abort();
		if ((t == LANE_TAKE_HOST_CALL) !=
		    (host && before.status == NUB_SLOT_HOST_WAIT && before.job_id == job_id))
			abort();
	}

	/* worker side */
	memcpy(&slot, &before, sizeof slot);
	idles = host_waits = 0;
	uint64_t served = 0;
	lane_worker_end end = lane_worker_run(&slot, &ops, NULL, 1, &served);
	bool valid = before.status <= NUB_SLOT_EVICT_JIT_READY || before.status == NUB_SLOT_HOST_WAIT ||
	             before.status == NUB_SLOT_HOST_ANSWER;
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
