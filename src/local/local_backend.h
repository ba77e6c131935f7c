/* local_backend.h: the local (in-process) backend: the invocation core
 * (src/cap/cap_core.h) over a cap_set in this process's memory.
 *
 * The store counts every byte it holds (published caps with their frames,
 * and the directory) against nub_options.memory_bytes, which HEAP_STATS
 * reports; decoded programs and the host pages of running invocations are
 * charged against the same budget (charged_bytes). One mutex guards the store; runs happen outside it, so
 * invocations on several threads run in parallel.
 */
#ifndef NUB_LOCAL_BACKEND_H
#define NUB_LOCAL_BACKEND_H

#include <pthread.h>

#include "api/backend.h"
#include "cap/cap_core.h"
#include "cap/cap_set.h"

typedef struct local_backend {
	cap_store store; /* first: the core's callbacks cast back */
	pthread_mutex_t lock;
	cap_set set;     /* hash -> cap_entry (aux) */
	nub_resolved_options opts;
	uint64_t budget, allocated_bytes, allocation_count;
	/* outside the store's allocations, against the same budget: decoded
	 * programs and the pages of running invocations (cap_store_ops.charge) */
	uint64_t charged_bytes, peak_charged_bytes;
	struct local_lanes *lanes; /* NULL until first use (local_lanes.c) */
	pthread_mutex_t lanes_lock; /* guards starting them */
} local_backend;

/* One invocation on the calling thread: the core with the sandbox's
 * deadline (what nub_invoke did before lanes; what a lane runs). */
nub_err local_invoke_inline(local_backend *lb, const InvokePacket *p, InvocationResult *r);

/* The same with host calls answered by handler (nub_invoke_with's rules)
 * on the calling thread; handler NULL: local_invoke_inline. */
nub_err local_invoke_handler(local_backend *lb, const InvokePacket *p, nub_host_handler handler, void *ctx,
                             InvocationResult *r);

extern const nub_backend_def local_backend_def;

#endif
