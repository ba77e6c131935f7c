/* local_lanes.h: the local backend's execution lanes: persistent worker
 * threads, each serving one ParallelInvokeSlot in ordinary memory with the
 * one protocol implementation (src/cap/lane_slot.h), each job run by the
 * same core path as an inline nub_invoke (local_invoke_inline).
 *
 * Threads start on the first use (local_lanes_run), not at nub_open. A
 * caller leases free lanes (one atomic flag each), posts one job per leased
 * lane at a time, collects DONE in any order and writes results by packet
 * index. Waiting, on both sides, is a bounded spin, then yields for
 * LOCAL_YIELD_NS, then a futex sleep: a worker spins LOCAL_LANE_SPIN rounds
 * after its last job, yields, then sleeps on its slot's status word (the poster wakes it: one FUTEX_WAKE,
 * only when the worker sleeps); a caller spins LOCAL_HOST_SPIN rounds, yields, then
 * sleeps on the lanes' completion counter (a worker that stores DONE wakes
 * it, only when someone sleeps). A steady stream of jobs therefore costs no
 * system call.
 *
 * Per-job timeout: the worker runs the job with the sandbox's timeout_ms
 * (gas slices with a clock check), from the moment it starts the job.
 */
#ifndef NUB_LOCAL_LANES_H
#define NUB_LOCAL_LANES_H

#include "local/local_backend.h"

/* Waiting: spin rounds (one cpu-relax each), then yields for a while (the
 * other side may need this core on a busy machine), then a futex sleep. */
#define LOCAL_LANE_SPIN 64u
#define LOCAL_HOST_SPIN 64u
#define LOCAL_YIELD_NS 200000u

typedef struct local_lanes local_lanes;

/* Run n >= 1 packets over the free lanes (starting them on first use);
 * r[i] is packets[i]'s result. When no lane can be leased (all taken by
 * other threads, or none could start) the calling thread runs them inline.
 * Returns the error of the lowest failing index, or NUB_E_OK. */
nub_err local_lanes_run(local_backend *lb, const InvokePacket *p, InvocationResult *r, size_t n);

/* One invocation with host calls on a free lane (nub_options.host_calls
 * NUB_HOST_CALLS_LANES): posted with lane_slot_post_host; the lane runs
 * it, each ecalli comes back through the slot (HOST_WAIT) and handler runs
 * here, on the calling thread, with the suspended invocation's memory
 * accessors; the answer goes back (HOST_ANSWER). No lane free: runs inline
 * (local_invoke_handler). Same results either way. */
nub_err local_lanes_run_with(local_backend *lb, const InvokePacket *p, nub_host_handler handler, void *ctx,
                             InvocationResult *r);

/* Stop every started worker (STOP through its slot) and free the lanes.
 * Nothing else may use the sandbox meanwhile (nub_close). */
void local_lanes_close(local_backend *lb);

/* Test/bench probes: lanes running now, jobs each has served, futex wakes
 * issued by posters and by workers so far. */
typedef struct local_lanes_stats {
	uint32_t running;
	uint64_t served[MAX_EXECUTION_LANES];
	uint64_t wakes_worker, wakes_host;
} local_lanes_stats;
void local_lanes_get_stats(local_backend *lb, local_lanes_stats *out);

#endif
