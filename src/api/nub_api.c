/* nub_api.c: the public sandbox API: options, backend choice, dispatch.
 * It reaches the backends only through the registry (api/backend.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/backend.h"

#define NUB_DEFAULT_VCPUS 4u
#define NUB_MIN_MEMORY (1ull << 20)

const char *nub_backend_name(nub_backend b)
{
	switch (b) {
	case NUB_BACKEND_AUTO: return "auto";
	case NUB_BACKEND_LOCAL: return "local";
	case NUB_BACKEND_KVM: return "kvm";
	}
	return NULL;
}

nub_err nub_backend_parse(const char *name, nub_backend *out)
{
	static const nub_backend all[] = {NUB_BACKEND_AUTO, NUB_BACKEND_LOCAL, NUB_BACKEND_KVM};
	if (!name || !out)
		return NUB_E_INVALID_ARG;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (strcmp(name, nub_backend_name(all[i])) == 0) {
			*out = all[i];
			return NUB_E_OK;
		}
	}
	return NUB_E_BAD_BACKEND;
}

void nub_options_init(nub_options *o)
{
	if (o)
		memset(o, 0, sizeof *o);
}

static void nub_notice(const nub_options *o, const char *msg)
{
	if (o->notice)
		o->notice(o->notice_ctx, msg);
	else
		fprintf(stderr, "nub: %s\n", msg);
}

static const nub_backend_def *backend_def(nub_backend id)
{
	for (size_t i = 0; nub_backends[i]; i++)
		if (nub_backends[i]->id == id)
			return nub_backends[i];
	return NULL;
}

static nub_err open_with(const nub_backend_def *d, const nub_resolved_options *ro, nub_sandbox **out)
{
	nub_err e = d->probe ? d->probe() : NUB_E_OK;
	if (e)
		return e;
	nub_sandbox *sb = calloc(1, sizeof *sb);
	if (!sb)
		return NUB_E_NOMEM;
	if ((e = d->open(ro, &sb->impl, &sb->ops))) {
		free(sb);
		return e;
	}
	sb->backend = d->id;
	*out = sb;
	return NUB_E_OK;
}

nub_err nub_open(const nub_options *opts, nub_sandbox **out)
{
	nub_options defaults;
	if (!out)
		return NUB_E_INVALID_ARG;
	*out = NULL;
	if (!opts) {
		nub_options_init(&defaults);
		opts = &defaults;
	}
	nub_resolved_options ro = {
		.vcpus = opts->vcpus ? opts->vcpus : NUB_DEFAULT_VCPUS,
		.memory_bytes = opts->memory_bytes ? opts->memory_bytes : NUB_DEFAULT_MEMORY,
		.timeout_ms = opts->timeout_ms ? opts->timeout_ms : NUB_DEFAULT_TIMEOUT_MS,
		.invocation_pages = (uint32_t)((opts->invocation_memory_bytes ? opts->invocation_memory_bytes
		                                                                : NUB_DEFAULT_INVOCATION_MEMORY) /
		                               NUB_PAGE_SIZE),
		.engine = opts->engine,
		.host_calls = opts->host_calls,
	};
	if (ro.vcpus > MAX_EXECUTION_LANES || ro.memory_bytes < NUB_MIN_MEMORY || (unsigned)opts->engine > NUB_ENGINE_JIT ||
	    (unsigned)opts->host_calls > NUB_HOST_CALLS_LANES ||
	    opts->lanes > ro.vcpus || opts->invocation_memory_bytes > (1ull << 32) ||
	    (opts->invocation_memory_bytes && opts->invocation_memory_bytes < NUB_PAGE_SIZE))
		return NUB_E_INVALID_ARG;
	ro.lanes = opts->lanes ? opts->lanes : ro.vcpus > 1 ? ro.vcpus - 1 : 1;
	if (opts->backend != NUB_BACKEND_AUTO) {
		const nub_backend_def *d = backend_def(opts->backend);
		return d ? open_with(d, &ro, out) : NUB_E_BAD_BACKEND;
	}
	/* auto: the first backend that opens; every fallback said out loud */
	nub_err e = NUB_E_BAD_BACKEND;
	for (size_t i = 0; nub_backends[i]; i++) {
		if (i > 0) {
			char msg[200];
			snprintf(msg, sizeof msg, "backend auto: %s; using the %s backend%s", nub_strerror(e),
			         nub_backend_name(nub_backends[i]->id),
			         nub_backends[i]->id == NUB_BACKEND_LOCAL ? " (in-process, not isolated)" : "");
			nub_notice(opts, msg);
		}
		if (!(e = open_with(nub_backends[i], &ro, out)))
			return NUB_E_OK;
	}
	return e;
}

void nub_close(nub_sandbox *sb)
{
	if (!sb)
		return;
	sb->ops->close(sb->impl);
	free(sb);
}

nub_backend nub_sandbox_backend(const nub_sandbox *sb)
{
	return sb ? sb->backend : NUB_BACKEND_AUTO;
}

nub_err nub_put_cap(nub_sandbox *sb, const uint8_t *bytes, size_t len, uint8_t hash_out[NUB_CAP_HASH_LEN])
{
	if (!sb || !hash_out || (!bytes && len))
		return NUB_E_INVALID_ARG;
	return sb->ops->put_cap(sb->impl, bytes ? bytes : (const uint8_t *)"", len, hash_out);
}

nub_err nub_invoke(nub_sandbox *sb, const InvokePacket *p, InvocationResult *r)
{
	if (!r)
		return NUB_E_INVALID_ARG;
	if (!sb || !p) {
		memset(r, 0, sizeof *r);
		r->exit_reason = NUB_EXIT_ERROR;
		r->exit_arg = NUB_E_INVALID_ARG;
		return NUB_E_INVALID_ARG;
	}
	return sb->ops->invoke(sb->impl, p, r);
}

nub_err nub_host_call_read(const nub_host_call *c, uint32_t addr, void *dst, size_t len)
{
	if (!c || !c->internal_ || (!dst && len))
		return NUB_E_INVALID_ARG;
	const nub_host_mem *h = c->internal_;
	return h->read(h, addr, dst, len);
}

nub_err nub_host_call_write(nub_host_call *c, uint32_t addr, const void *src, size_t len)
{
	if (!c || !c->internal_ || (!src && len))
		return NUB_E_INVALID_ARG;
	const nub_host_mem *h = c->internal_;
	return h->write(h, addr, src, len);
}

nub_err nub_invoke_with(nub_sandbox *sb, const InvokePacket *p, nub_host_handler handler, void *ctx,
                        InvocationResult *r)
{
	if (!handler)
		return nub_invoke(sb, p, r);
	if (!r)
		return NUB_E_INVALID_ARG;
	if (sb && p && sb->ops->invoke_with)
		return sb->ops->invoke_with(sb->impl, p, handler, ctx, r); /* writes r in every case */
	nub_err e = sb && p ? NUB_E_NOT_IMPLEMENTED : NUB_E_INVALID_ARG;
	memset(r, 0, sizeof *r);
	r->exit_reason = NUB_EXIT_ERROR;
	r->exit_arg = (uint32_t)e;
	return e;
}

nub_err nub_invoke_parallel(nub_sandbox *sb, const InvokePacket *packets, InvocationResult *results, size_t n)
{
	if (n && !results)
		return NUB_E_INVALID_ARG;
	if (!sb || (n && !packets)) {
		for (size_t i = 0; i < n; i++) {
			memset(&results[i], 0, sizeof results[i]);
			results[i].exit_reason = NUB_EXIT_ERROR;
			results[i].exit_arg = NUB_E_INVALID_ARG;
		}
		return NUB_E_INVALID_ARG;
	}
	return n ? sb->ops->invoke_parallel(sb->impl, packets, results, n) : NUB_E_OK;
}

nub_err nub_boot_info(nub_sandbox *sb, BootInfo *out)
{
	if (!sb || !out)
		return NUB_E_INVALID_ARG;
	return sb->ops->boot_info(sb->impl, out);
}

nub_err nub_heap_stats(nub_sandbox *sb, NubHeapStats *out)
{
	if (!sb || !out)
		return NUB_E_INVALID_ARG;
	return sb->ops->heap_stats(sb->impl, out);
}

nub_err nub_evict_jit_all(nub_sandbox *sb)
{
	if (!sb)
		return NUB_E_INVALID_ARG;
	return sb->ops->evict_jit_all(sb->impl);
}
