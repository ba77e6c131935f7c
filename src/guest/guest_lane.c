/* guest_lane.c: INVOKE_WORKER: this vCPU serves one ParallelInvokeSlot with
 * the one protocol implementation (src/cap/lane_slot.c) and the same
 * invocation core as INVOKE_CACHED (guest_invoke), until the host says STOP.
 *
 * The slots live at NUB_GUEST_SLOTS_GPA (include/nub/rpc.h), identity
 * mapped, stride 512; the host writes them while this vCPU runs (the worker
 * copies the packet before it runs and builds the result apart). An idle
 * worker spins with pause; guest_lane_idle_hook, when set, is called after
 * GUEST_LANE_SPIN rounds (the test kernel uses it to play the host on one
 * CPU). Halting when idle is not built: it needs the host's vCPU loop to
 * resume the vCPU when it posts (see docs/guest.md, "Lanes").
 */
#include "cap/lane_slot.h"
#include "guest/guest.h"

#define GUEST_LANE_SPIN 4096u

void (*guest_lane_idle_hook)(struct nub_parallel_invoke_slot *s, uint32_t seen);

static void lane_invoke(void *ctx, const InvokePacket *p, InvocationResult *r)
{
	(void)ctx;
	(void)guest_invoke(p, r); /* the error, if any, is in r */
}

static void lane_evict(void *ctx)
{
	(void)ctx;
	guest_evict_jit_all();
}

static void lane_idle(void *ctx, ParallelInvokeSlot *s, uint32_t seen)
{
	(void)ctx;
	void (*hook)(struct nub_parallel_invoke_slot *, uint32_t) = guest_lane_idle_hook;
	if (hook)
		hook(s, seen);
}

static const lane_worker_ops guest_lane_ops = {
	.invoke = lane_invoke,
	.evict = lane_evict,
	.idle = lane_idle,
	.done = NULL, /* the host polls DONE: no exit */
};

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
	ParallelInvokeSlot *s =
		(ParallelInvokeSlot *)(uintptr_t)(NUB_GUEST_SLOTS_GPA + (uint64_t)lane * NUB_PARALLEL_SLOT_STRIDE);
	lane_worker_end end = lane_worker_run(s, &guest_lane_ops, NULL, GUEST_LANE_SPIN, NULL);
	return end == LANE_WORKER_STOPPED ? NUB_E_OK : NUB_E_INVALID_ARG;
}
