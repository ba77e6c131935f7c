/* lane_slot.c: the ParallelInvokeSlot protocol, host and worker side
 * (lane_slot.h). Freestanding: builtins and memcpy only. */
#include "cap/lane_slot.h"

void lane_slot_init(ParallelInvokeSlot *s)
{
	__builtin_memset((uint8_t *)s + sizeof s->status, 0, sizeof *s - sizeof s->status);
	lane_slot_set(s, NUB_SLOT_STARTING);
}

bool lane_slot_post(ParallelInvokeSlot *s, uint64_t job_id, const InvokePacket *p)
{
	if (lane_slot_status(s) != NUB_SLOT_EMPTY)
		return false;
	s->job_id = job_id;
	__builtin_memcpy(&s->packet, p, sizeof *p);
	__atomic_store_n(&lane_slot_ext_of(s)->cancel, 0, __ATOMIC_SEQ_CST);
	lane_slot_set(s, NUB_SLOT_READY);
	return true;
}

bool lane_slot_request(ParallelInvokeSlot *s, uint32_t status)
{
	if (status != NUB_SLOT_STOP && status != NUB_SLOT_EVICT_JIT_READY)
		return false;
	return lane_slot_cas(s, NUB_SLOT_EMPTY, status);
}

lane_take lane_slot_take(ParallelInvokeSlot *s, uint64_t job_id, InvocationResult *r)
{
	uint32_t st = lane_slot_status(s);
	if (st == NUB_SLOT_READY || st == NUB_SLOT_RUNNING)
		return LANE_TAKE_PENDING;
	if (st != NUB_SLOT_DONE || s->job_id != job_id)
		return LANE_TAKE_PROTOCOL;
	__builtin_memcpy(r, &s->result, sizeof *r);
	lane_slot_set(s, NUB_SLOT_EMPTY);
	return LANE_TAKE_DONE;
}

bool lane_slot_ack(ParallelInvokeSlot *s)
{
	return lane_slot_cas(s, NUB_SLOT_DONE, NUB_SLOT_EMPTY);
}

/* Serve the READY job: our own copies in, the result copied out, DONE. */
static void serve(ParallelInvokeSlot *s, const lane_worker_ops *ops, void *ctx, uint64_t *served)
{
	InvokePacket p;
	InvocationResult r;
	uint64_t job_id = s->job_id;
	__builtin_memcpy(&p, &s->packet, sizeof p);
	__builtin_memset(&r, 0, sizeof r);
	ops->invoke(ctx, &p, &r);
	__builtin_memcpy(&s->result, &r, sizeof r);
	s->job_id = job_id;
	if (served) /* counted before DONE: a host that saw DONE sees the count */
		__atomic_store_n(served, *served + 1, __ATOMIC_RELAXED);
	lane_slot_set(s, NUB_SLOT_DONE);
}

lane_worker_end lane_worker_run(ParallelInvokeSlot *s, const lane_worker_ops *ops, void *ctx, uint32_t spin_limit,
                                uint64_t *served)
{
	(void)lane_slot_cas(s, NUB_SLOT_STARTING, NUB_SLOT_EMPTY);
	uint32_t spins = 0;
	for (;;) {
		uint32_t st = lane_slot_status(s);
		switch (st) {
		case NUB_SLOT_READY:
			/* the host does not touch a READY slot; the CAS only guards
			 * against one that does */
			if (lane_slot_cas(s, NUB_SLOT_READY, NUB_SLOT_RUNNING)) {
				serve(s, ops, ctx, served);
				if (ops->done)
					ops->done(ctx, s);
			}
			spins = 0;
			continue;
		case NUB_SLOT_STOP:
			return LANE_WORKER_STOPPED;
		case NUB_SLOT_EVICT_JIT_READY:
			if (ops->evict)
				ops->evict(ctx);
			lane_slot_set(s, NUB_SLOT_DONE);
			if (ops->done)
				ops->done(ctx, s);
			spins = 0;
			continue;
		case NUB_SLOT_EMPTY:
		case NUB_SLOT_DONE:     /* the host has not taken it yet */
		case NUB_SLOT_RUNNING:  /* only the worker sets it: a host's scribble */
		case NUB_SLOT_STARTING: /* the host re-armed the slot: serve it */
			if (st == NUB_SLOT_STARTING)
				(void)lane_slot_cas(s, NUB_SLOT_STARTING, NUB_SLOT_EMPTY);
			break;
		default:
			return LANE_WORKER_BAD_STATUS;
		}
		if (++spins < spin_limit || !ops->idle) {
			lane_cpu_relax();
			continue;
		}
		spins = 0;
		ops->idle(ctx, s, st);
	}
}
