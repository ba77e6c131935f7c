/* local_lanes.c: the local backend's execution lanes (local_lanes.h):
 * persistent worker threads over ParallelInvokeSlots in ordinary memory. */
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cap/lane_slot.h"
#include "local/local_lanes.h"

typedef struct local_lane {
	ParallelInvokeSlot slot; /* first: 64-aligned */
	local_backend *lb;
	struct local_lanes *all;
	pthread_t thread;
	atomic_uint leased;   /* a caller owns the host side of the slot */
	atomic_uint sleeping; /* the worker sleeps (or is about to) on slot.status */
	uint64_t served;      /* written by the worker */
	bool started;
	/* the suspended invocation's memory accessors while the slot is
	 * HOST_WAIT (written by the worker before it stores HOST_WAIT) */
	const void *host_mem;
} local_lane;

struct local_lanes {
	local_lane *lane; /* count of them, 64-aligned */
	uint32_t count;   /* started */
	atomic_uint completions; /* bumped by every DONE; callers sleep on it */
	atomic_uint waiters;     /* callers asleep on completions */
	atomic_uint_fast64_t next_job;
	atomic_uint_fast64_t wakes_worker, wakes_host;
};

static void futex_wait(void *addr, uint32_t val)
{
	(void)syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(void *addr, int n)
{
	(void)syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- worker side --------------------------------------------------------- */
static void lane_invoke(void *ctx, const InvokePacket *p, InvocationResult *r)
{
	local_lane *l = ctx;
	(void)local_invoke_inline(l->lb, p, r);
}

/* A job with host calls: the invocation runs here, on the lane; each
 * ecalli is handed to the host through the slot (lane_forward) and this
 * thread waits for the answer. */
static const lane_worker_ops lane_ops;

typedef struct lane_forward_ctx {
	local_lane *l;
	bool protocol; /* the host broke the slot protocol: the job's error */
} lane_forward_ctx;

static nub_host_action lane_forward(void *ctx, nub_host_call *c)
{
	lane_forward_ctx *f = ctx;
	local_lane *l = f->l;
	NubSlotHostCall hc = {.number = c->number, .gas = c->gas};
	memcpy(hc.regs, c->regs, sizeof hc.regs);
	l->host_mem = c->internal_; /* published by HOST_WAIT's release */
	lane_host_answer a = lane_worker_host_call(&l->slot, &lane_ops, l, LOCAL_LANE_SPIN, &hc);
	l->host_mem = NULL;
	if (a == LANE_HOST_PROTOCOL) {
		f->protocol = true;
		return NUB_HOST_STOP;
	}
	memcpy(c->regs, hc.regs, sizeof c->regs);
	c->gas = hc.gas;
	return a == LANE_HOST_RESUME ? NUB_HOST_RESUME : NUB_HOST_STOP;
}

static void lane_invoke_host(void *ctx, ParallelInvokeSlot *s, const InvokePacket *p, InvocationResult *r)
{
	(void)s;
	lane_forward_ctx f = {ctx, false};
	(void)local_invoke_handler(f.l->lb, p, lane_forward, &f, r);
	if (f.protocol)
		(void)cap_core_fail(r, NUB_E_GUEST_PROTOCOL);
}

/* Sleep until slot.status may differ from seen. The poster stores the status
 * and then reads `sleeping`; we store `sleeping` and then the kernel compares
 * the status: one of us sees the other (both sequentially consistent). */
static void lane_idle(void *ctx, ParallelInvokeSlot *s, uint32_t seen)
{
	local_lane *l = ctx;
	/* a while of yields first: on a busy machine the poster may need our
	 * core; then the futex */
	uint64_t until = now_ns() + LOCAL_YIELD_NS;
	do {
		sched_yield();
		if (lane_slot_status(s) != seen)
			return;
	} while (now_ns() < until);
	atomic_store(&l->sleeping, 1);
	atomic_thread_fence(memory_order_seq_cst);
	futex_wait(&s->status, seen);
	atomic_store(&l->sleeping, 0);
}

static void lane_done(void *ctx, ParallelInvokeSlot *s)
{
	(void)s;
	local_lanes *all = ((local_lane *)ctx)->all;
	atomic_fetch_add(&all->completions, 1);
	if (atomic_load(&all->waiters)) {
		atomic_fetch_add(&all->wakes_host, 1);
		futex_wake(&all->completions, INT_MAX);
	}
}

static const lane_worker_ops lane_ops = {
	.invoke = lane_invoke,
	.invoke_host = lane_invoke_host,
	.evict = NULL, /* the core's programs are shared and reference-counted */
	.idle = lane_idle,
	.done = lane_done,
};

static void *lane_main(void *arg)
{
	local_lane *l = arg;
	(void)lane_worker_run(&l->slot, &lane_ops, l, LOCAL_LANE_SPIN, &l->served);
	return NULL;
}

/* ---- host side ----------------------------------------------------------- */
/* Wake the worker of l if it sleeps (after a status store). */
static void poke(local_lanes *all, local_lane *l)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&l->sleeping)) {
		atomic_fetch_add(&all->wakes_worker, 1);
		futex_wake(&l->slot.status, 1);
	}
}

/* Start the lanes once; NULL when not even one thread starts. */
static local_lanes *lanes_up(local_backend *lb)
{
	local_lanes *all = __atomic_load_n(&lb->lanes, __ATOMIC_ACQUIRE);
	if (all)
		return all->count ? all : NULL;
	pthread_mutex_lock(&lb->lanes_lock);
	if ((all = lb->lanes))
		goto out;
	all = calloc(1, sizeof *all);
	uint32_t want = lb->opts.lanes;
	if (all)
		all->lane = aligned_alloc(64, want * sizeof *all->lane);
	if (!all || !all->lane) {
		free(all);
		pthread_mutex_unlock(&lb->lanes_lock);
		return NULL; /* the caller runs inline; a later call tries again */
	}
	memset(all->lane, 0, want * sizeof *all->lane);
	for (uint32_t i = 0; i < want; i++) {
		local_lane *l = &all->lane[all->count];
		l->lb = lb;
		l->all = all;
		lane_slot_init(&l->slot);
		if (pthread_create(&l->thread, NULL, lane_main, l))
			break;
		l->started = true;
		all->count++;
	}
	/* every started worker says it is up (STARTING -> EMPTY) */
	for (uint32_t i = 0; i < all->count; i++)
		while (lane_slot_status(&all->lane[i].slot) == NUB_SLOT_STARTING)
			sched_yield();
	__atomic_store_n(&lb->lanes, all, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&lb->lanes_lock);
	return all->count ? all : NULL;
}

/* Wait for the next completion after `seq` (read before the last look at
 * the slots): spin, then yield a while, then sleep on the counter. *spins
 * counts the spin (the caller resets it, keeping WAIT_SLEPT, on progress;
 * a new call starts at 0). WAIT_SLEPT: a wait of this call had to sleep, so
 * its jobs outlast the yield phase and later waits sleep at once: yielding
 * on a machine whose cores the lanes fill takes time from the lanes (nub
 * bench lanes, 2 lanes on 2 idle cores: 1.65x before, 1.89x after). */
#define WAIT_SLEPT 0x80000000u
static void wait_completion(local_lanes *all, uint32_t seq, uint32_t *spins)
{
	uint32_t slept = *spins & WAIT_SLEPT, n = (*spins & ~WAIT_SLEPT) + 1;
	if (n < LOCAL_HOST_SPIN) {
		*spins = slept | n;
		lane_cpu_relax();
		return;
	}
	*spins = slept;
	if (!slept) {
		uint64_t until = now_ns() + LOCAL_YIELD_NS;
		do {
			sched_yield();
			if (atomic_load(&all->completions) != seq)
				return;
		} while (now_ns() < until);
	}
	atomic_fetch_add(&all->waiters, 1);
	futex_wait(&all->completions, seq);
	atomic_fetch_sub(&all->waiters, 1);
	*spins = WAIT_SLEPT;
}

static nub_err run_inline(local_backend *lb, const InvokePacket *p, InvocationResult *r, size_t n)
{
	nub_err first = NUB_E_OK;
	for (size_t i = 0; i < n; i++) {
		nub_err e = local_invoke_inline(lb, &p[i], &r[i]);
		if (e && !first)
			first = e;
	}
	return first;
}

nub_err local_lanes_run(local_backend *lb, const InvokePacket *p, InvocationResult *r, size_t n)
{
	local_lanes *all = lanes_up(lb);
	if (!all)
		return run_inline(lb, p, r, n);
	/* lease up to n free lanes */
	local_lane *mine[MAX_EXECUTION_LANES];
	size_t k = 0;
	for (uint32_t i = 0; i < all->count && k < n; i++)
		if (!atomic_exchange(&all->lane[i].leased, 1))
			mine[k++] = &all->lane[i];
	if (!k)
		return run_inline(lb, p, r, n);

	size_t job_of[MAX_EXECUTION_LANES]; /* packet index on lane, or n */
	uint64_t id_of[MAX_EXECUTION_LANES];
	size_t next = 0, done = 0;
	uint32_t spins = 0;
	for (size_t j = 0; j < k; j++)
		job_of[j] = n;
	while (done < n) {
		uint32_t seq = atomic_load(&all->completions);
		bool progress = false;
		for (size_t j = 0; j < k; j++) {
			local_lane *l = mine[j];
			if (job_of[j] < n) {
				lane_take t = lane_slot_take(&l->slot, id_of[j], &r[job_of[j]]);
				if (t == LANE_TAKE_PENDING)
					continue;
				if (t == LANE_TAKE_PROTOCOL) /* cannot happen in-process: say so */
					(void)cap_core_fail(&r[job_of[j]], NUB_E_GUEST_PROTOCOL);
				job_of[j] = n;
				done++;
				progress = true;
			}
			if (next < n) {
				id_of[j] = atomic_fetch_add(&all->next_job, 1) + 1;
				if (!lane_slot_post(&l->slot, id_of[j], &p[next])) {
					/* not EMPTY: cannot happen for a leased lane */
					(void)cap_core_fail(&r[next++], NUB_E_GUEST_PROTOCOL);
					done++;
					continue;
				}
				poke(all, l);
				job_of[j] = next++;
				progress = true;
			}
		}
		if (progress)
			spins &= WAIT_SLEPT;
		else if (done < n)
			wait_completion(all, seq, &spins);
	}
	for (size_t j = 0; j < k; j++)
		atomic_store(&mine[j]->leased, 0);
	for (size_t i = 0; i < n; i++)
		if (r[i].exit_reason == NUB_EXIT_ERROR)
			return (nub_err)r[i].exit_arg;
	return NUB_E_OK;
}

nub_err local_lanes_run_with(local_backend *lb, const InvokePacket *p, nub_host_handler handler, void *ctx,
                             InvocationResult *r)
{
	local_lanes *all = lanes_up(lb);
	local_lane *l = NULL;
	for (uint32_t i = 0; all && i < all->count && !l; i++)
		if (!atomic_exchange(&all->lane[i].leased, 1))
			l = &all->lane[i];
	if (!l) /* no lane free: the calling thread runs it */
		return local_invoke_handler(lb, p, handler, ctx, r);
	uint64_t id = atomic_fetch_add(&all->next_job, 1) + 1;
	nub_err e = NUB_E_OK;
	if (!lane_slot_post_host(&l->slot, id, p)) { /* not EMPTY: cannot happen for a leased lane */
		e = cap_core_fail(r, NUB_E_GUEST_PROTOCOL);
		goto out;
	}
	poke(all, l);
	uint32_t spins = 0;
	for (;;) {
		uint32_t seq = atomic_load(&all->completions);
		lane_take t = lane_slot_take(&l->slot, id, r);
		if (t == LANE_TAKE_DONE)
			break;
		if (t == LANE_TAKE_PENDING) {
			wait_completion(all, seq, &spins);
			continue;
		}
		if (t == LANE_TAKE_PROTOCOL) { /* cannot happen in-process: say so */
			e = cap_core_fail(r, NUB_E_GUEST_PROTOCOL);
			goto out;
		}
		/* HOST_WAIT: the slot and the suspended invocation are ours */
		NubSlotHostCall *hc = &l->slot.host_call;
		nub_host_call c = {.number = hc->number, .gas = hc->gas, .internal_ = (void *)(uintptr_t)l->host_mem};
		memcpy(c.regs, hc->regs, sizeof c.regs);
		nub_host_action act = handler(ctx, &c);
		memcpy(hc->regs, c.regs, sizeof c.regs);
		hc->gas = c.gas;
		(void)lane_slot_answer(&l->slot, act == NUB_HOST_RESUME ? NUB_SLOT_HOST_RESUME : NUB_SLOT_HOST_STOP);
		poke(all, l);
		spins = 0;
	}
	if (r->exit_reason == NUB_EXIT_ERROR)
		e = (nub_err)r->exit_arg;
out:
	atomic_store(&l->leased, 0);
	return e;
}

void local_lanes_close(local_backend *lb)
{
	local_lanes *all = lb->lanes;
	if (!all)
		return;
	for (uint32_t i = 0; i < all->count; i++) {
		local_lane *l = &all->lane[i];
		/* nothing is leased at close: the slot is EMPTY */
		while (!lane_slot_request(&l->slot, NUB_SLOT_STOP))
			sched_yield();
		poke(all, l);
		pthread_join(l->thread, NULL);
	}
	free(all->lane);
	free(all);
	lb->lanes = NULL;
}

void local_lanes_get_stats(local_backend *lb, local_lanes_stats *out)
{
	memset(out, 0, sizeof *out);
	local_lanes *all = __atomic_load_n(&lb->lanes, __ATOMIC_ACQUIRE);
	if (!all)
		return;
	out->running = all->count;
	for (uint32_t i = 0; i < all->count; i++)
		out->served[i] = __atomic_load_n(&all->lane[i].served, __ATOMIC_RELAXED);
	out->wakes_worker = atomic_load(&all->wakes_worker);
	out->wakes_host = atomic_load(&all->wakes_host);
}
