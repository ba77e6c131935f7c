/* backend.h: the seam between the public API and the sandbox backends.
 *
 * The one internal header both sides share. nub_api.c validates public
 * arguments, then forwards to a backend's ops through the sandbox struct;
 * it knows the backends only through the registry nub_backends[]
 * (nub_backends.c). A backend includes this header and nothing else of
 * src/api; it never calls back into the API layer.
 *
 * Each op gets the backend's own state `impl`. The ops mirror the fn ids of
 * abi.h, so the kvm backend maps each one to one RPC. Preconditions (checked
 * by the API layer): pointers non-NULL; len > 0 for put_cap; n >= 1 for
 * invoke_parallel.
 */
#ifndef NUB_API_BACKEND_H
#define NUB_API_BACKEND_H

#include "nub/nub.h"

typedef struct nub_backend_ops {
	nub_err (*put_cap)(void *impl, const uint8_t *bytes, size_t len, uint8_t hash_out[NUB_CAP_HASH_LEN]);
	/* Writes *r in every case (NUB_EXIT_ERROR + code on failure). */
	nub_err (*invoke)(void *impl, const InvokePacket *p, InvocationResult *r);
	/* The same with host calls answered by handler (non-NULL); NULL op:
	 * the backend cannot yet (the API answers NUB_E_NOT_IMPLEMENTED). */
	nub_err (*invoke_with)(void *impl, const InvokePacket *p, nub_host_handler handler, void *ctx,
	                       InvocationResult *r);
	/* Writes every r[i]. */
	nub_err (*invoke_parallel)(void *impl, const InvokePacket *p, InvocationResult *r, size_t n);
	nub_err (*boot_info)(void *impl, BootInfo *out);
	nub_err (*heap_stats)(void *impl, NubHeapStats *out);
	nub_err (*evict_jit_all)(void *impl);
	void (*close)(void *impl);
	/* VM exits so far (kvm: KVM_RUN returns on every vCPU); NULL: the
	 * backend has no VM. For benchmarks (nub bench lanes). */
	uint64_t (*vm_exits)(void *impl);
} nub_backend_ops;

/* What nub_host_call.internal_ points to: the backend's memory accessors for
 * the suspended invocation (nub_host_call_read/_write dispatch here). */
typedef struct nub_host_mem {
	nub_err (*read)(const struct nub_host_mem *h, uint32_t addr, void *dst, size_t len);
	nub_err (*write)(const struct nub_host_mem *h, uint32_t addr, const void *src, size_t len);
} nub_host_mem;

/* Options after defaults were applied (every field set). */
typedef struct nub_resolved_options {
	uint32_t vcpus;
	uint32_t lanes; /* 1..vcpus */
	uint64_t memory_bytes;
	uint32_t timeout_ms;       /* NUB_TIMEOUT_NONE: no deadline */
	uint32_t invocation_pages; /* 1 .. 2^20 */
	nub_engine engine;         /* as asked: DEFAULT, INTERP or JIT (the backend decides DEFAULT) */
	nub_host_calls_mode host_calls;
} nub_resolved_options;

/* One backend, as the registry lists it. */
typedef struct nub_backend_def {
	nub_backend id;
	/* NUB_E_OK when the backend can run here (NULL: always) */
	nub_err (*probe)(void);
	/* on success *impl and *ops are set */
	nub_err (*open)(const nub_resolved_options *o, void **impl, const nub_backend_ops **ops);
} nub_backend_def;

/* The registry (nub_backends.c): every backend, in the order `auto` tries
 * them, NULL-terminated. */
extern const nub_backend_def *const nub_backends[];

/* A sandbox: the backend's ops and state. */
struct nub_sandbox {
	const nub_backend_ops *ops;
	void *impl;
	nub_backend backend;
};

/* VM exits of sb so far into *out; false when its backend has no VM. */
static inline bool api_vm_exits(const nub_sandbox *sb, uint64_t *out)
{
	if (!sb->ops->vm_exits)
		return false;
	*out = sb->ops->vm_exits(sb->impl);
	return true;
}

#endif
