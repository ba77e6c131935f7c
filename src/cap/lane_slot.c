/* lane_slot.c: the ParallelInvokeSlot protocol, host and worker side
 * (lane_slot.h). Freestanding: builtins and memcpy only. */
#include "cap/lane_slot.h"

void lane_slot_init(ParallelInvokeSlot *s)
{
	__builtin_memset((uint8_t *)s + sizeof s->status, 0, sizeof *s - sizeof s->status);
	lane_slot_set(s, NUB_SLOT_STARTING);
}

static bool post(ParallelInvokeSlot *s, uint64_t job_id, const InvokePacket *p, uint32_t flags)
{
	if (lane_slot_status(s) != NUB_SLOT_EMPTY)
		return false;
	s->job_id = job_id;
	s->host_flags = flags;
	__builtin_memcpy(&s->packet, p, sizeof *p);
	__atomic_store_n(&lane_slot_ext_of(s)->cancel, 0, __ATOMIC_SEQ_CST);
	lane_slot_set(s, NUB_SLOT_READY);
	return true;
}

bool lane_slot_post(ParallelInvokeSlot *s, uint64_t job_id, const InvokePacket *p)
{
	return post(s, job_id, p, 0);
}

bool lane_slot_post_host(ParallelInvokeSlot *s, uint64_t job_id, const InvokePacket *p)
{
	return post(s, job_id, p, NUB_SLOT_F_HOST_CALLS);
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
	bool host = (s->host_flags & NUB_SLOT_F_HOST_CALLS) != 0; /* the host's own word */
	if (host && (st == NUB_SLOT_HOST_ANSWER || st == NUB_SLOT_HOST_MEM))
		return LANE_TAKE_PENDING;
	if (host && st == NUB_SLOT_HOST_WAIT)
		return s->job_id == job_id ? LANE_TAKE_HOST_CALL : LANE_TAKE_PROTOCOL;
	if (st != NUB_SLOT_DONE || s->job_id != job_id)
		return LANE_TAKE_PROTOCOL;
	__builtin_memcpy(r, &s->result, sizeof *r);
	lane_slot_set(s, NUB_SLOT_EMPTY);
	return LANE_TAKE_DONE;
}

bool lane_slot_answer(ParallelInvokeSlot *s, uint32_t action)
{
	if (lane_slot_status(s) != NUB_SLOT_HOST_WAIT ||
	    (action != NUB_SLOT_HOST_RESUME && action != NUB_SLOT_HOST_STOP))
		return false;
	s->host_call.action = action;
	lane_slot_set(s, NUB_SLOT_HOST_ANSWER);
	return true;
}

static bool mem_op_known(uint32_t op)
{
	return op >= NUB_SLOT_MEM_READ && op <= NUB_SLOT_MEM_CHECK_WRITE;
}

static bool mem_op_copies(uint32_t op)
{
	return op == NUB_SLOT_MEM_READ || op == NUB_SLOT_MEM_WRITE;
}

bool lane_slot_mem_request(ParallelInvokeSlot *s, uint32_t op, uint32_t addr, uint32_t len)
{
	if (lane_slot_status(s) != NUB_SLOT_HOST_WAIT || !mem_op_known(op) ||
	    (mem_op_copies(op) && len > NUB_SLOT_MEM_MAX))
		return false;
	s->host_mem.op = op;
	s->host_mem.addr = addr;
	s->host_mem.len = len;
	s->host_mem.err = NUB_E_OK;
	lane_slot_set(s, NUB_SLOT_HOST_MEM);
	return true;
}

lane_mem lane_slot_mem_result(ParallelInvokeSlot *s, nub_err *err)
{
	uint32_t st = lane_slot_status(s);
	if (st == NUB_SLOT_HOST_MEM)
		return LANE_MEM_PENDING;
	uint32_t e = s->host_mem.err;
	if (st != NUB_SLOT_HOST_WAIT || e >= (uint32_t)NUB_E_MAX_)
		return LANE_MEM_PROTOCOL;
	*err = (nub_err)e;
	return LANE_MEM_DONE;
}

bool lane_slot_ack(ParallelInvokeSlot *s)
{
	return lane_slot_cas(s, NUB_SLOT_DONE, NUB_SLOT_EMPTY);
}

/* One HOST_MEM request: our copy of it (the host may scribble on the slot
 * meanwhile: what we check is what we do), the access, err, HOST_WAIT. */
static void serve_mem(ParallelInvokeSlot *s, const lane_worker_ops *ops, void *ctx)
{
	NubSlotHostMem q = {
		.op = __atomic_load_n(&s->host_mem.op, __ATOMIC_RELAXED), /* each word read once */
		.addr = __atomic_load_n(&s->host_mem.addr, __ATOMIC_RELAXED),
		.len = __atomic_load_n(&s->host_mem.len, __ATOMIC_RELAXED),
	};
	nub_err e;
	if (!mem_op_known(q.op) || (mem_op_copies(q.op) && q.len > NUB_SLOT_MEM_MAX))
		e = NUB_E_INVALID_ARG;
	else if (!ops->host_mem)
		e = NUB_E_NOT_IMPLEMENTED;
	else
		e = ops->host_mem(ctx, &q);
	s->host_mem.err = (uint32_t)e;
	lane_slot_set(s, NUB_SLOT_HOST_WAIT);
	if (ops->done)
		ops->done(ctx, s);
}

lane_host_answer lane_worker_host_call(ParallelInvokeSlot *s, const lane_worker_ops *ops, void *ctx,
                                       uint32_t spin_limit, NubSlotHostCall *call)
{
	s->host_call.number = call->number;
	s->host_call.action = 0;
	__builtin_memcpy(s->host_call.regs, call->regs, sizeof call->regs);
	s->host_call.gas = call->gas;
	lane_slot_set(s, NUB_SLOT_HOST_WAIT);
	if (ops->done)
		ops->done(ctx, s);
	uint32_t spins = 0;
	for (;;) {
		uint32_t st = lane_slot_status(s);
		if (st == NUB_SLOT_HOST_ANSWER) {
			if (!lane_slot_cas(s, NUB_SLOT_HOST_ANSWER, NUB_SLOT_RUNNING))
				return LANE_HOST_PROTOCOL;
			/* our copies: the host may scribble from here on */
			uint32_t action = s->host_call.action;
			__builtin_memcpy(call->regs, s->host_call.regs, sizeof call->regs);
			call->gas = s->host_call.gas;
			call->action = action;
			if (action == NUB_SLOT_HOST_RESUME)
				return LANE_HOST_RESUME;
			return action == NUB_SLOT_HOST_STOP ? LANE_HOST_STOP : LANE_HOST_PROTOCOL;
		}
		if (st == NUB_SLOT_HOST_MEM) {
			serve_mem(s, ops, ctx);
			spins = 0;
			continue;
		}
		if (st != NUB_SLOT_HOST_WAIT) {
			/* only the host moves HOST_WAIT on, and only to HOST_ANSWER
			 * or HOST_MEM;
			 * the job is ours again (RUNNING) whatever it wrote */
			lane_slot_set(s, NUB_SLOT_RUNNING);
			return LANE_HOST_PROTOCOL;
		}
		if (++spins < spin_limit || !ops->idle) {
			lane_cpu_relax();
			continue;
		}
		spins = 0;
		ops->idle(ctx, s, st);
	}
}

/* Serve the READY job: our own copies in, the result copied out, DONE. */
static void serve(ParallelInvokeSlot *s, const lane_worker_ops *ops, void *ctx, uint64_t *served)
{
	InvokePacket p;
	InvocationResult r;
	uint64_t job_id = s->job_id;
	bool host = (s->host_flags & NUB_SLOT_F_HOST_CALLS) != 0;
	__builtin_memcpy(&p, &s->packet, sizeof p);
	__builtin_memset(&r, 0, sizeof r);
	if (!host)
		ops->invoke(ctx, &p, &r);
	else if (ops->invoke_host)
		ops->invoke_host(ctx, s, &p, &r);
	else {
		r.exit_reason = NUB_EXIT_ERROR;
		r.exit_arg = NUB_E_NOT_IMPLEMENTED;
	}
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
		case NUB_SLOT_HOST_WAIT: /* only inside a job: a host's scribble */
		case NUB_SLOT_HOST_ANSWER:
		case NUB_SLOT_HOST_MEM:
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
