/* kvm_backend.h: the `kvm` sandbox backend (api/backend.h ops over a vmm).
 *
 * A kvm sandbox owns one vmm (one micro-VM). Calls are serialised by a
 * mutex. When a call leaves the vmm broken (guest fault, timeout, malformed
 * reply, guest stopped), that call returns the error, then the sandbox is
 * rebuilt: a fresh VM is booted and every cap published so far is published
 * again in order (the host keeps their encodings in a cap_set), so later
 * calls see the same published state; a cap the new VM refuses is skipped
 * and forgotten (lost_caps counts them; publishing it again re-sends it),
 * the others come back. If no VM boots, the sandbox is dead and every later
 * call returns NUB_E_GUEST_DEAD. Calls take turns on the one mailbox, each
 * waiting at most its timeout for its turn (then NUB_E_TIMEOUT).
 *
 * Lanes: with vcpus > 1 the VM's application processors serve
 * min(lanes, vcpus - 1) ParallelInvokeSlots (vmm.h, vmm_lanes.c).
 * nub_invoke takes a free lane (else it takes its turn on the mailbox);
 * nub_invoke_parallel deals its packets over the free lanes; neither holds
 * the mailbox lock, so invocations on lanes run at once, and beside
 * mailbox calls. A lane job past its deadline is cancelled (the worker ends
 * it at its next gas slice) and reported NUB_E_TIMEOUT; a lane that does not
 * answer the cancel, or whose vCPU ended, is restarted; other lanes go on.
 * A rebuild waits for running lane jobs (vm_rw, write side), but not for a
 * handler: nub_invoke_with takes a free lane too (its handler runs on the
 * calling thread without any lock, the job waits suspended on its lane; a
 * rebuild meanwhile ends the job with NUB_E_GUEST_FAULT), and takes the
 * mailbox only when every lane is taken.
 *
 * The struct is here for the test hooks (tests/kvm/kvm_hooks.c), which are
 * built into the tests only.
 */
#ifndef NUB_HOST_KVM_BACKEND_H
#define NUB_HOST_KVM_BACKEND_H

#include <pthread.h>

#include "api/backend.h"
#include "cap/cap_set.h"
#include "host/vmm.h"

typedef struct kvm_backend {
	pthread_mutex_t lock;
	vmm_config cfg;
	vmm *vm;           /* NULL once dead */
	cap_set published; /* encodings (malloc'd copies), in publication order */
	unsigned rebuilds;
	unsigned lost_caps; /* caps a rebuilt VM refused on replay (forgotten; see rebuild) */
	vmm_stop last_stop;
	NubRpcFault last_fault;
	uint32_t engine;    /* NUB_SET_ENGINE_*: sent to every VM booted (open, rebuild) */
	pthread_rwlock_t vm_rw; /* lane jobs: read side; replacing vm: write side */
	uint32_t lanes;         /* wanted (resolved options), started on each VM */
	uint32_t lane_busy[MAX_EXECUTION_LANES]; /* atomic: taken by a caller */
	uint64_t job_seq;       /* atomic: job ids */
	unsigned lane_restarts; /* lanes restarted after a timeout or a death */
	nub_err lanes_err;      /* why the lanes of the current VM did not start */
	uint64_t host_calls, host_calls_done; /* atomic: handler calls; invocations with a handler that ended */
	uint64_t lane_host_jobs; /* atomic: invocations with a handler posted on a lane */
	nub_err host_fail; /* during a handler: the error that broke the VM */
} kvm_backend;

extern const nub_backend_def kvm_backend_def;

/* NUB_E_OK when /dev/kvm works here and a guest kernel is embedded. */
nub_err kvm_backend_probe(void);
/* Open on the guest kernel ELF elf/elf_len (NULL: the embedded production
 * kernel); the bytes must outlive the sandbox. */
nub_err kvm_backend_open_image(const nub_resolved_options *o, const uint8_t *elf, size_t elf_len, void **impl,
                               const nub_backend_ops **ops);
/* The checks an INVOKE_CACHED reply of n bytes with status e must pass
 * before the caller sees it: a whole result; an error result names e and
 * nothing else; else a PVM exit whose exit_arg fits it (page-aligned fault
 * address, 0 for halt/panic/out-of-gas), no more gas than the packet gave,
 * 0 gas at out-of-gas, and no scratchpad bytes except at HALT. */
bool kvm_result_plausible(const InvokePacket *p, nub_err e, uint32_t n, const InvocationResult *r);
/* One raw RPC with any fn_id/payload, with the rebuild semantics above. */
nub_err kvm_backend_call(kvm_backend *kb, uint32_t fn_id, const void *req, uint32_t req_len, void *resp,
                         uint32_t resp_cap, uint32_t *resp_len);

#endif
