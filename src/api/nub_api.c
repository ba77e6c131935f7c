/* nub_api.c: the public sandbox API: options, backend choice, dispatch, errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/backend.h"
#include "host/kvm_backend.h"

#define NUB_DEFAULT_VCPUS 4u
#define NUB_DEFAULT_MEMORY (256ull << 20)
#define NUB_MIN_MEMORY (1ull << 20)

struct nub_sandbox {
	const nub_backend_ops *ops;
	void *impl;
	nub_backend backend;
};

static const struct {
	const char *name, *msg;
} nub_err_table[] = {
#define NUB_ERR_ROW_(name, code, msg) [code] = {#name, msg},
	NUB_ERRORS(NUB_ERR_ROW_)
#undef NUB_ERR_ROW_
};

const char *nub_strerror(nub_err e)
{
	if ((unsigned)e >= sizeof nub_err_table / sizeof nub_err_table[0] || !nub_err_table[e].msg)
		return "unknown error";
	return nub_err_table[e].msg;
}

const char *nub_err_name(nub_err e)
{
	if ((unsigned)e >= sizeof nub_err_table / sizeof nub_err_table[0] || !nub_err_table[e].name)
		return "UNKNOWN";
	return nub_err_table[e].name;
}

const char *nub_exit_name(uint32_t exit_reason)
{
	switch (exit_reason) {
	case NUB_EXIT_HALT: return "halt";
	case NUB_EXIT_PANIC: return "panic";
	case NUB_EXIT_OUT_OF_GAS: return "out-of-gas";
	case NUB_EXIT_PAGE_FAULT: return "page-fault";
	case NUB_EXIT_HOST_CALL: return "host-call";
	case NUB_EXIT_ERROR: return "error";
	default: return "unknown";
	}
}

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
		.timeout_ms = opts->timeout_ms,
	};
	if (ro.vcpus > MAX_EXECUTION_LANES || ro.memory_bytes < NUB_MIN_MEMORY)
		return NUB_E_INVALID_ARG;

	nub_backend chosen;
	nub_sandbox *sb;
	switch (opts->backend) {
	case NUB_BACKEND_KVM:
	case NUB_BACKEND_AUTO: {
		/* kvm (src/host/): the micro-VM; auto falls back to local, loudly */
		nub_err e = kvm_backend_probe();
		if (!e) {
			if (!(sb = calloc(1, sizeof *sb)))
				return NUB_E_NOMEM;
			e = kvm_backend_open(&ro, &sb->impl, &sb->ops);
			if (!e) {
				sb->backend = NUB_BACKEND_KVM;
				*out = sb;
				return NUB_E_OK;
			}
			free(sb);
		}
		if (opts->backend == NUB_BACKEND_KVM)
			return e;
		char msg[200];
		snprintf(msg, sizeof msg, "backend auto: %s; using the local backend (in-process, not isolated)",
		         nub_strerror(e));
		nub_notice(opts, msg);
		chosen = NUB_BACKEND_LOCAL;
		break;
	}
	case NUB_BACKEND_LOCAL:
		chosen = NUB_BACKEND_LOCAL;
		break;
	default:
		return NUB_E_BAD_BACKEND;
	}

	sb = calloc(1, sizeof *sb);
	if (!sb)
		return NUB_E_NOMEM;
	nub_err e = local_backend_open(&ro, &sb->impl, &sb->ops);
	if (e) {
		free(sb);
		return e;
	}
	sb->backend = chosen;
	*out = sb;
	return NUB_E_OK;
}

void nub_close(nub_sandbox *sb)
{
	if (!sb)
		return;
	sb->ops->close(sb->impl);
	free(sb);
}

void *nub_sandbox_impl_(nub_sandbox *sb)
{
	return sb->impl;
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
