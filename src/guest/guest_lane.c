/* guest_lane.c: a lane's worker: this vCPU serves one ParallelInvokeSlot
 * with the one protocol implementation (src/cap/lane_slot.c) and the same
 * invocation core as INVOKE_CACHED, until the host says STOP. Entered by
 * INVOKE_WORKER (fn 7) on the mailbox vCPU, or by an application processor
 * for its lane (guest_smp.c).
 *
 * The slots live at NUB_GUEST_SLOTS_GPA (include/nub/rpc.h), identity
 * mapped, stride 512; the host writes them while this vCPU runs (the worker
 * copies the packet before it runs and builds the result apart). A job runs
 * in gas slices of LANE_SLICE_GAS; between two the worker reads the slot's
 * cancel word (lane_slot.h), so a host whose per-job deadline passed gets
 * DONE with NUB_E_TIMEOUT soon after, and the lane goes on. After DONE, if
 * the host said it sleeps (host_sleeps), the worker rings
 * NUB_DOORBELL_LANE_DONE (one VM exit) to wake it. Idle: the worker spins
 * GUEST_LANE_SPIN pause rounds, then guest_lane_idle_hook when set (the test
 * kernel plays the host on one CPU), else `hlt` on an application processor
 * (KVM_EXIT_HLT: the host resumes the vCPU when it posts; see docs/guest.md)
 * or keeps spinning on the mailbox vCPU.
 *
 * Host calls on a lane (a job posted with lane_slot_post_host): the job
 * runs in the same gas slices; at each ecalli the worker hands the call to
 * the host (lane_worker_host_call: HOST_WAIT, the doorbell when the host
 * sleeps) and waits for its answer, serving meanwhile the host's HOST_MEM
 * requests on this CPU (cap_core_mem_*, the lane's buffer at
 * NUB_GUEST_LANE_BUFS_GPA) — the same checks, errors and results as the
 * mailbox's HOST_CALL READ/WRITE/CHECK (cap_core_host_op). The answer is
 * applied as cap_core_host_op's ANSWER does (registers, then gas: above
 * 2^63-1 is NUB_E_BAD_GAS; STOP ends the job at the ecalli); a cancel seen
 * with the answer ends the job with NUB_E_TIMEOUT at once, its memory
 * freed.
 */
#include "cap/cap_core.h"
#include "cap/lane_slot.h"
#include "guest/guest.h"
#include "guest/guest_cpu_x86_64.h"

#define GUEST_LANE_SPIN 4096u
/* gas between two looks at the cancel word: ~1-10 ms of run */
#define LANE_SLICE_GAS (1ll << 22)

void (*guest_lane_idle_hook)(struct nub_parallel_invoke_slot *s, uint32_t seen);

typedef struct {
	ParallelInvokeSlot *slot;
	bool halt_when_idle;
	uint8_t *buf;        /* the lane's host-call buffer (NUB_GUEST_LANE_BUF_SIZE) */
	pvm_instance *susp;  /* the invocation suspended at an ecalli, or NULL */
} lane_ctx;

/* A job's gas slices: the host's cancel is read between two. */
typedef struct {
	cap_slicer sl; /* first: between() gets it back */
	ParallelInvokeSlot *slot;
} lane_slicer;

static bool lane_cancelled(cap_slicer *sl)
{
	return lane_slot_cancelled(((lane_slicer *)sl)->slot);
}

static void lane_invoke(void *ctx, const InvokePacket *p, InvocationResult *r)
{
	cap_invocation inv;
	nub_err e = cap_core_start(guest_cap_store(), p, &inv);
	if (e) {
		cap_core_fail(r, e);
		return;
	}
	pvm_exit x = PVM_EXIT_PANIC;
	lane_slicer ls = {{.size = LANE_SLICE_GAS, .between = lane_cancelled}, ((lane_ctx *)ctx)->slot};
	e = cap_core_run_sliced(&inv, &ls.sl, &x);
	(void)cap_core_finish(&inv, x, e, r); /* the error, if any, is in r */
}

/* A job whose ecallis the host answers (abi.h: host calls on a lane). */
static const lane_worker_ops guest_lane_ops;

static void lane_invoke_host(void *ctx, ParallelInvokeSlot *s, const InvokePacket *p, InvocationResult *r)
{
	lane_ctx *c = ctx;
	cap_invocation inv;
	nub_err e = cap_core_start(guest_cap_store(), p, &inv);
	if (e) {
		cap_core_fail(r, e);
		return;
	}
	pvm_exit x = PVM_EXIT_PANIC;
	lane_slicer ls = {{.size = LANE_SLICE_GAS, .between = lane_cancelled}, s};
	for (;;) {
		e = cap_core_run_sliced(&inv, &ls.sl, &x);
		if (e || x != PVM_EXIT_HOST)
			break;
		NubSlotHostCall call = {.number = pvm_exit_arg(inv.m), .gas = (uint64_t)pvm_gas(inv.m)};
		for (unsigned i = 0; i < NUB_NUM_REGS; i++)
			call.regs[i] = pvm_reg(inv.m, i);
		c->susp = inv.m;
		lane_host_answer a = lane_worker_host_call(s, &guest_lane_ops, ctx, GUEST_LANE_SPIN, &call);
		c->susp = 0;
		if (a == LANE_HOST_PROTOCOL) {
			e = NUB_E_GUEST_PROTOCOL;
			break;
		}
		for (unsigned i = 0; i < NUB_NUM_REGS; i++)
			pvm_set_reg(inv.m, i, call.regs[i]);
		if (call.gas > (uint64_t)INT64_MAX) {
			e = NUB_E_BAD_GAS;
			break;
		}
		pvm_set_gas(inv.m, (int64_t)call.gas);
		if (lane_slot_cancelled(s)) { /* the host's deadline passed meanwhile */
			e = NUB_E_TIMEOUT;
			break;
		}
		if (a == LANE_HOST_STOP)
			break; /* x is PVM_EXIT_HOST: the result of an ecalli without handler */
	}
	(void)cap_core_finish(&inv, x, e, r); /* the error, if any, is in r */
}

/* A HOST_MEM request of the suspended invocation, on this CPU. */
static nub_err lane_host_mem(void *ctx, const NubSlotHostMem *q)
{
	lane_ctx *c = ctx;
	if (!c->susp)
		return NUB_E_INVALID_ARG;
	switch (q->op) {
	case NUB_SLOT_MEM_READ:
		return cap_core_mem_read(c->susp, q->addr, c->buf, q->len);
	case NUB_SLOT_MEM_WRITE:
		return cap_core_mem_write(c->susp, q->addr, c->buf, q->len);
	case NUB_SLOT_MEM_CHECK_READ:
	case NUB_SLOT_MEM_CHECK_WRITE:
		return cap_core_mem_check(c->susp, q->addr, q->len, q->op == NUB_SLOT_MEM_CHECK_WRITE);
	default:
		return NUB_E_INVALID_ARG;
	}
}

static void lane_evict(void *ctx)
{
	(void)ctx;
	guest_evict_jit_all();
}

static void lane_idle(void *ctx, ParallelInvokeSlot *s, uint32_t seen)
{
	void (*hook)(struct nub_parallel_invoke_slot *, uint32_t) = guest_lane_idle_hook;
	if (hook)
		hook(s, seen);
	else if (((lane_ctx *)ctx)->halt_when_idle && lane_slot_status(s) == seen)
		__asm__ volatile("hlt" ::: "memory"); /* interrupts are off: the host resumes us */
}

static void lane_done(void *ctx, ParallelInvokeSlot *s)
{
	(void)ctx;
	/* DONE / HOST_WAIT was a release store: order it before this load (the host
	 * stores host_sleeps, then reads the status) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&lane_slot_ext_of(s)->host_sleeps, __ATOMIC_SEQ_CST))
		outl(NUB_RPC_DOORBELL_PORT, NUB_DOORBELL_LANE_DONE);
}

static const lane_worker_ops guest_lane_ops = {
	.invoke = lane_invoke,
	.invoke_host = lane_invoke_host,
	.evict = lane_evict,
	.idle = lane_idle,
	.done = lane_done,
	.host_mem = lane_host_mem,
};

static ParallelInvokeSlot *slot_of(uint32_t lane)
{
	return (ParallelInvokeSlot *)(uintptr_t)(NUB_GUEST_SLOTS_GPA + (uint64_t)lane * NUB_PARALLEL_SLOT_STRIDE);
}

bool guest_lane_serve(uint32_t lane, bool halt_when_idle)
{
	lane_ctx c = {slot_of(lane), halt_when_idle,
	              (uint8_t *)(uintptr_t)(NUB_GUEST_LANE_BUFS_GPA + (uint64_t)lane * NUB_GUEST_LANE_BUF_SIZE), 0};
	return lane_worker_run(c.slot, &guest_lane_ops, &c, GUEST_LANE_SPIN, NULL) == LANE_WORKER_STOPPED;
}

nub_err guest_invoke_worker(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	(void)resp;
	(void)cap;
	*out = 0;
	if (len != 4)
		return NUB_E_INVALID_ARG;
	uint32_t lane = (uint32_t)req[0] | (uint32_t)req[1] << 8 | (uint32_t)req[2] << 16 | (uint32_t)req[3] << 24;
	if (lane >= MAX_EXECUTION_LANES)
		return NUB_E_INVALID_ARG;
	return guest_lane_serve(lane, false) ? NUB_E_OK : NUB_E_INVALID_ARG;
}
