/* fuzz_lane_slot.c: libFuzzer target: the ParallelInvokeSlot protocol
 * (src/cap/lane_slot.c) on an arbitrary slot, as a hostile other side would
 * leave it. Input: 8 bytes job_id, then the slot's 512 bytes (zero-padded).
 * Invariants (abort on violation):
 *   host side: lane_slot_take returns DONE only for status DONE with the
 *   same job_id, then copies exactly the slot's result and leaves EMPTY;
 *   otherwise the slot and the caller's result are untouched.
 *   worker side: lane_worker_run ends (the idle hook stores STOP), with
 *   BAD_STATUS exactly when the status held no protocol value; a READY slot
 *   gets the result of its own packet and its job_id back. */
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

static unsigned idles;

static void stop_idle(void *ctx, ParallelInvokeSlot *s, uint32_t seen)
{
	(void)ctx;
	(void)seen;
	if (++idles > 1000)
		abort(); /* the worker ignores STOP */
	lane_slot_set(s, NUB_SLOT_STOP);
}

static const lane_worker_ops ops = {.invoke = fake_invoke, .idle = stop_idle};

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
		if (t == LANE_TAKE_PENDING && before.status != NUB_SLOT_READY && before.status != NUB_SLOT_RUNNING)
			abort();
	}

	/* worker side */
	memcpy(&slot, &before, sizeof slot);
	idles = 0;
	uint64_t served = 0;
	lane_worker_end end = lane_worker_run(&slot, &ops, NULL, 1, &served);
	bool valid = before.status <= NUB_SLOT_EVICT_JIT_READY;
	if ((end == LANE_WORKER_BAD_STATUS) == valid)
		abort();
	if (before.status == NUB_SLOT_READY) {
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
