/* backend.h: the operations every sandbox backend (local, kvm) implements.
 *
 * nub_api.c validates public arguments, then forwards to these. Each op gets
 * the backend's own state `impl`. The ops mirror the fn ids of abi.h, so the
 * kvm backend maps each one to one RPC. Preconditions (checked by the caller):
 * pointers non-NULL; len > 0 for put_cap.
 */
#ifndef NUB_API_BACKEND_H
#define NUB_API_BACKEND_H

#include "nub/nub.h"

typedef struct nub_backend_ops {
	const char *name;
	nub_err (*put_cap)(void *impl, const uint8_t *bytes, size_t len, uint8_t hash_out[NUB_CAP_HASH_LEN]);
	/* Writes *r in every case (NUB_EXIT_ERROR + code on failure). */
	nub_err (*invoke)(void *impl, const InvokePacket *p, InvocationResult *r);
	/* n >= 1; writes every results[i]. */
	nub_err (*invoke_parallel)(void *impl, const InvokePacket *p, InvocationResult *r, size_t n);
	nub_err (*boot_info)(void *impl, BootInfo *out);
	nub_err (*heap_stats)(void *impl, NubHeapStats *out);
	nub_err (*evict_jit_all)(void *impl);
	void (*close)(void *impl);
} nub_backend_ops;

/* Options after defaults were applied (every field set). */
typedef struct nub_resolved_options {
	uint32_t vcpus;
	uint64_t memory_bytes;
	uint32_t timeout_ms;
} nub_resolved_options;

/* Backend constructors: on success *impl and *ops are set. */
nub_err local_backend_open(const nub_resolved_options *o, void **impl, const nub_backend_ops **ops);
nub_err kvm_backend_probe(void);

/* The backend state of a sandbox (for backend-specific test hooks). */
void *nub_sandbox_impl_(nub_sandbox *sb);

#endif
