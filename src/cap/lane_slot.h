/* lane_slot.h: the ParallelInvokeSlot protocol (DESIGN.md section 2), both
 * sides, in one freestanding place.
 *
 * One slot per execution lane (abi.h: ParallelInvokeSlot, stride 512). The
 * slot's status word is the only synchronisation: whoever owns the current
 * status owns the rest of the slot.
 *
 *   host                                     worker (lane)
 *   ----                                     -------------
 *   STARTING (before the worker runs)  --->  CAS STARTING->EMPTY when up
 *   lane_slot_post: job_id, packet,
 *     store READY (release)            --->  CAS READY->RUNNING (acquire),
 *                                            copy the packet, run it (the
 *                                            invocation core), write result
 *   lane_slot_take: DONE (acquire),    <---  + job_id, store DONE (release)
 *     copy result, store EMPTY
 *   lane_slot_request(STOP)            --->  worker returns (slot left STOP)
 *
 * Host calls on a lane (nub's extension, abi.h): a job posted with
 * lane_slot_post_host runs with ops->invoke_host, which calls
 * lane_worker_host_call at each ecalli:
 *   lane_slot_take: LANE_TAKE_HOST_CALL <---  host_call written, store
 *     (HOST_WAIT, acquire): the host            HOST_WAIT (release), wait
 *     reads host_call, answers it:
 *   lane_slot_answer: regs, gas, action,
 *     store HOST_ANSWER (release)      --->  CAS HOST_ANSWER->RUNNING
 *                                            (acquire), copy the answer out
 *   While HOST_WAIT, the suspended invocation's memory (kvm: the host
 *   cannot reach it safely, the worker's CPU runs it):
 *   lane_slot_mem_request: host_mem    --->  copy the request out, check it,
 *     {op, addr, len} (WRITE: the bytes      ops->host_mem performs it with
 *     in the lane's buffer first), store     the program's rights (READ: the
 *     HOST_MEM (release)                     bytes into the buffer), err,
 *   lane_slot_mem_result: HOST_WAIT    <---  store HOST_WAIT (release) and
 *     (acquire): err (READ: the bytes)       ops->done (a sleeping host wakes)
 *   ... then DONE as above.
 *   lane_slot_request(EVICT_JIT_READY) --->  evict compiled code, store DONE
 *   lane_slot_ack: DONE -> EMPTY
 *
 * Ownership: the host writes a slot only while it reads EMPTY (or STARTING,
 * or DONE before its EMPTY store); the worker writes it only while RUNNING
 * or after it read STOP/EVICT_JIT_READY. A request (post, STOP, EVICT) is
 * made only on an EMPTY slot, so a running job is never interrupted by the
 * protocol: EVICT_JIT_READY reaches a worker only between jobs, and the
 * worker answers it only when nothing of its own runs.
 *
 * The worker copies the packet out of the slot before running it and builds
 * the result apart before copying it in, so a host scribbling on a slot it
 * does not own cannot change a running invocation (the guest's slots are
 * host-writable memory). The host re-checks what it takes: a DONE whose
 * job_id is not the one it posted is a protocol error (lane_slot_take).
 *
 * Idle: a worker that finds nothing spins `spin_limit` rounds (a cpu-relax
 * each), then calls ops->idle, which may block (futex, hlt) until the
 * status may have changed; the waker is the backend's business (see
 * local_lanes.c, docs/guest.md).
 *
 * Freestanding: atomics are compiler builtins on the u32 status (no libc,
 * no libatomic), memcpy only.
 */
#ifndef NUB_CAP_LANE_SLOT_H
#define NUB_CAP_LANE_SLOT_H

#include <stdbool.h>

#include "nub/abi.h"

/* ---- the status word ----------------------------------------------------- */
static inline uint32_t lane_slot_status(const ParallelInvokeSlot *s)
{
	return __atomic_load_n(&s->status, __ATOMIC_ACQUIRE);
}

static inline void lane_slot_set(ParallelInvokeSlot *s, uint32_t status)
{
	__atomic_store_n(&s->status, status, __ATOMIC_RELEASE);
}

/* Atomically from -> to; false (nothing changed) when the status was not
 * `from`. Sequentially consistent, so it also orders a waker's flag. */
static inline bool lane_slot_cas(ParallelInvokeSlot *s, uint32_t from, uint32_t to)
{
	return __atomic_compare_exchange_n(&s->status, &from, to, false, __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE);
}

/* A polite spin-wait hint to the CPU. */
static inline void lane_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

/* The statuses a host waits for (its turn): DONE, and HOST_WAIT of a job
 * with host calls (a host call, or the answer to a memory request). A
 * worker that stores one calls ops->done, so a sleeping host wakes. */
static inline bool lane_slot_hosts_turn(uint32_t status)
{
	return status == NUB_SLOT_DONE || status == NUB_SLOT_HOST_WAIT;
}

/* ---- nub's use of the slot's reserved tail --------------------------------
 * Two words at the end of the slot's padding (not in the specification: a
 * side that ignores them still speaks the protocol). Both are written by the
 * host and read by the worker, with sequentially consistent atomics.
 *   cancel       1: end the running job at its next gas slice with
 *                NUB_E_TIMEOUT (the host's per-job deadline passed); the
 *                worker answers DONE as usual. lane_slot_post clears it.
 *   host_sleeps  1: the host stopped polling and sleeps until DONE: the
 *                worker's done op wakes it (a VM exit in the guest), so a
 *                host that keeps polling costs the worker nothing. */
typedef struct lane_slot_ext {
	uint32_t cancel;
	uint32_t host_sleeps;
} lane_slot_ext;
#define LANE_SLOT_EXT_OFFSET (NUB_PARALLEL_SLOT_STRIDE - sizeof(lane_slot_ext))
_Static_assert(LANE_SLOT_EXT_OFFSET >= sizeof(ParallelInvokeSlot) - sizeof(((ParallelInvokeSlot *)0)->_reserved),
               "the extension lies in the reserved tail");

static inline lane_slot_ext *lane_slot_ext_of(ParallelInvokeSlot *s)
{
	return (lane_slot_ext *)(void *)((uint8_t *)s + LANE_SLOT_EXT_OFFSET);
}

static inline bool lane_slot_cancelled(ParallelInvokeSlot *s)
{
	return __atomic_load_n(&lane_slot_ext_of(s)->cancel, __ATOMIC_SEQ_CST) != 0;
}

/* ---- host side ----------------------------------------------------------- */

/* Prepare a slot for a worker about to start: status STARTING, the rest
 * zero. The worker is not running yet. */
void lane_slot_init(ParallelInvokeSlot *s);

/* Post one job: needs the slot EMPTY (false and nothing written
 * otherwise). Writes job_id and the 80-byte packet, then READY (release). */
bool lane_slot_post(ParallelInvokeSlot *s, uint64_t job_id, const InvokePacket *p);

/* The same, for a job whose ecallis the host answers (host_flags
 * NUB_SLOT_F_HOST_CALLS): lane_slot_take then reports each host call. */
bool lane_slot_post_host(ParallelInvokeSlot *s, uint64_t job_id, const InvokePacket *p);

/* Ask the idle worker to STOP or to EVICT_JIT_READY: needs the slot EMPTY
 * (false and nothing written otherwise). */
bool lane_slot_request(ParallelInvokeSlot *s, uint32_t status);

/* What lane_slot_take found. */
typedef enum lane_take {
	LANE_TAKE_PENDING = 0, /* not done yet (READY or RUNNING) */
	LANE_TAKE_DONE = 1,    /* *r holds the result; the slot is EMPTY again */
	LANE_TAKE_PROTOCOL = 2, /* DONE with another job_id, or a status that cannot
	                          follow a post: *r untouched, slot left as found */
	LANE_TAKE_HOST_CALL = 3 /* HOST_WAIT of a job posted with lane_slot_post_host:
	                          s->host_call holds the call; answer it with
	                          lane_slot_answer (the host owns the slot until then) */
} lane_take;

/* Collect the job posted with job_id: DONE (acquire) -> copy the result,
 * check the echoed job_id, store EMPTY. HOST_ANSWER (the worker has not
 * taken the answer yet) is PENDING. */
lane_take lane_slot_take(ParallelInvokeSlot *s, uint64_t job_id, InvocationResult *r);

/* Answer the host call lane_slot_take reported: the caller has written
 * s->host_call.regs and .gas; stores action (NUB_SLOT_HOST_RESUME or
 * _STOP), then HOST_ANSWER (release). False (nothing written) when the slot
 * is not HOST_WAIT or the action is neither. */
bool lane_slot_answer(ParallelInvokeSlot *s, uint32_t action);

/* While the slot is HOST_WAIT (after LANE_TAKE_HOST_CALL): ask the worker
 * for one access to the suspended invocation's memory, op NUB_SLOT_MEM_*
 * on [addr, addr+len): writes host_mem, then HOST_MEM (release). For WRITE
 * the caller has put the len bytes into the lane's buffer. False (nothing
 * written) when the slot is not HOST_WAIT, op is unknown, or a READ/WRITE
 * is longer than NUB_SLOT_MEM_MAX. */
bool lane_slot_mem_request(ParallelInvokeSlot *s, uint32_t op, uint32_t addr, uint32_t len);

/* What lane_slot_mem_result found. */
typedef enum lane_mem {
	LANE_MEM_PENDING = 0,  /* HOST_MEM: the worker has not answered yet */
	LANE_MEM_DONE = 1,     /* HOST_WAIT again: *err holds the access's error
	                          (READ and NUB_E_OK: the bytes are in the buffer) */
	LANE_MEM_PROTOCOL = 2  /* another status, or err names no nub_err */
} lane_mem;
lane_mem lane_slot_mem_result(ParallelInvokeSlot *s, nub_err *err);

/* Acknowledge the DONE that answers an EVICT_JIT_READY request: DONE ->
 * EMPTY; false while it is not DONE yet. */
bool lane_slot_ack(ParallelInvokeSlot *s);

/* ---- worker side --------------------------------------------------------- */
typedef struct lane_worker_ops {
	/* Run one packet (a private copy) and write its result; the same core
	 * as the mailbox path (cap_core_invoke or start/run/finish). */
	void (*invoke)(void *ctx, const InvokePacket *p, InvocationResult *r);
	/* Run a job posted with lane_slot_post_host: as invoke, but each ecalli
	 * goes to the host through lane_worker_host_call. NULL: such a job
	 * ends with NUB_EXIT_ERROR / NUB_E_NOT_IMPLEMENTED (never silently
	 * without its host calls). */
	void (*invoke_host)(void *ctx, ParallelInvokeSlot *s, const InvokePacket *p, InvocationResult *r);
	/* EVICT_JIT_READY: drop every compiled/decoded program this lane may
	 * hold. NULL: nothing to drop. */
	void (*evict)(void *ctx);
	/* Nothing for spin_limit rounds: block until the status may differ
	 * from `seen` (a spurious return is fine). NULL: keep spinning. */
	void (*idle)(void *ctx, ParallelInvokeSlot *s, uint32_t seen);
	/* A status the host is waiting for was just stored (DONE, HOST_WAIT):
	 * wake it if it sleeps. NULL: the host polls. */
	void (*done)(void *ctx, ParallelInvokeSlot *s);
	/* A HOST_MEM request of the invocation suspended in
	 * lane_worker_host_call (*q: the worker's copy, op known, READ/WRITE
	 * len <= NUB_SLOT_MEM_MAX): perform it on the lane's buffer with the
	 * program's rights (cap_core_mem_*); the error goes to host_mem.err.
	 * NULL: every request is answered NUB_E_NOT_IMPLEMENTED (a backend
	 * whose handler reaches the memory itself, e.g. local lanes). */
	nub_err (*host_mem)(void *ctx, const NubSlotHostMem *q);
} lane_worker_ops;

/* Why lane_worker_run returned. */
typedef enum lane_worker_end {
	LANE_WORKER_STOPPED = 0, /* the host stored STOP */
	LANE_WORKER_BAD_STATUS = 1 /* the status word held no protocol value */
} lane_worker_end;

/* What the host answered to a host call. */
typedef enum lane_host_answer {
	LANE_HOST_RESUME = 0,  /* *call holds the registers and gas to go on with */
	LANE_HOST_STOP = 1,    /* *call holds them; end the job at the ecalli */
	LANE_HOST_PROTOCOL = 2 /* the status left HOST_WAIT for something else than
	                          HOST_ANSWER, or the action was neither: end the
	                          job with NUB_E_GUEST_PROTOCOL */
} lane_host_answer;

/* Inside ops->invoke_host (the slot RUNNING): hand *call (number,
 * registers, gas) to the host, wait for its answer (spin_limit rounds, then
 * ops->idle) and copy it back into *call. ops->done is called after
 * HOST_WAIT is stored, so a sleeping host wakes up. Meanwhile every
 * HOST_MEM request is served (ops->host_mem) and answered with HOST_WAIT
 * (and ops->done) again. */
lane_host_answer lane_worker_host_call(ParallelInvokeSlot *s, const lane_worker_ops *ops, void *ctx,
                                       uint32_t spin_limit, NubSlotHostCall *call);

/* The worker loop of one lane: flips STARTING to EMPTY, then serves the slot
 * until STOP. Every served job counts in *served (may be NULL). */
lane_worker_end lane_worker_run(ParallelInvokeSlot *s, const lane_worker_ops *ops, void *ctx, uint32_t spin_limit,
                                uint64_t *served);

#endif
