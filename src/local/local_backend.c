/* local_backend.c: the in-process backend: cap store + engine, same API as kvm.
 *
 * PUT_CAP validates (cap codec, then the engine's blob decoder for Images and
 * the reference checks for Instances), hashes and stores. INVOKE builds a
 * fresh engine instance per call from the published caps, so no state leaks
 * from one invocation to the next. Decoded programs are cached per Image and
 * shared (refcounted) by concurrent invocations; EVICT_JIT_ALL drops them.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/backend.h"
#include "cap/cap_invoke.h"
#include "local/local.h"
#include "local/local_store.h"
#include "pvm/pvm.h"

/* Gas slice between two timeout checks (instructions). */
#define LOCAL_TIMEOUT_SLICE (1ll << 22)

typedef struct local_prog {
	pvm_program *program;
	unsigned refs; /* the cache's reference + one per running invocation */
} local_prog;

typedef struct local_backend {
	pthread_mutex_t lock;
	local_store store;
	nub_resolved_options opts;
	size_t cached_programs;
} local_backend;

static void prog_unref(local_backend *lb, local_prog *p)
{
	(void)lb;
	if (--p->refs == 0) {
		pvm_program_free(p->program);
		free(p);
	}
}

static nub_err prog_new(const cap_image_view *img, local_prog **out)
{
	local_prog *p = calloc(1, sizeof *p);
	if (!p)
		return NUB_E_NOMEM;
	pvm_err pe = pvm_program_new(img->code, img->code_len, &p->program);
	if (pe != PVM_E_OK) {
		free(p);
		return pe == PVM_E_NOMEM ? NUB_E_NOMEM : NUB_E_IMAGE_CODE;
	}
	p->refs = 1;
	*out = p;
	return NUB_E_OK;
}

/* ---- PUT_CAP ------------------------------------------------------------- */
static const cap_view *lookup_cb(void *ctx, const uint8_t hash[NUB_CAP_HASH_LEN])
{
	local_cap *c = local_store_get(ctx, hash);
	return c ? &c->view : NULL;
}

static nub_err local_put_cap(void *impl, const uint8_t *bytes, size_t len, uint8_t hash_out[NUB_CAP_HASH_LEN])
{
	local_backend *lb = impl;
	cap_view v;
	nub_err e = cap_decode(bytes, len, &v);
	if (e)
		return e;
	uint8_t hash[NUB_CAP_HASH_LEN];
	cap_hash(bytes, len, hash);

	/* Already published: same bytes, nothing to do (and no decoding). */
	pthread_mutex_lock(&lb->lock);
	local_cap *c = local_store_get(&lb->store, hash);
	pthread_mutex_unlock(&lb->lock);
	if (c) {
		memcpy(hash_out, hash, NUB_CAP_HASH_LEN);
		return NUB_E_OK;
	}

	/* Decode an Image's code outside the lock (the slow part). */
	local_prog *prog = NULL;
	if (v.kind == NUB_CAP_KIND_IMAGE && (e = prog_new(&v.u.image, &prog)))
		return e;

	pthread_mutex_lock(&lb->lock);
	c = local_store_get(&lb->store, hash);
	if (c)
		goto done; /* published meanwhile by another thread */
	if (v.kind == NUB_CAP_KIND_INSTANCE &&
	    (e = cap_instance_check_refs(&v.u.instance, lookup_cb, &lb->store)))
		goto done;
	if ((e = local_store_put(&lb->store, hash, bytes, len, &c)))
		goto done;
	if (prog) {
		c->prog = prog;
		prog = NULL;
		lb->cached_programs++;
	}
done:
	if (prog)
		prog_unref(lb, prog);
	pthread_mutex_unlock(&lb->lock);
	if (!e)
		memcpy(hash_out, hash, NUB_CAP_HASH_LEN);
	return e;
}

/* ---- INVOKE -------------------------------------------------------------- */
static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Run to an exit; with a timeout, in gas slices with a clock check between. */
static nub_err run_frame(pvm_instance *m, int64_t gas, uint32_t timeout_ms, pvm_exit *out)
{
	if (!timeout_ms) {
		pvm_set_gas(m, gas);
		*out = pvm_run(m);
		return NUB_E_OK;
	}
	uint64_t deadline = now_ms() + timeout_ms;
	int64_t reserve = gas;
	int64_t carry = 0;
	for (;;) {
		int64_t slice = reserve < LOCAL_TIMEOUT_SLICE ? reserve : LOCAL_TIMEOUT_SLICE;
		reserve -= slice;
		pvm_set_gas(m, carry + slice);
		pvm_exit x = pvm_run(m);
		if (x != PVM_EXIT_OOG || reserve == 0) {
			if (x == PVM_EXIT_OOG)
				pvm_set_gas(m, 0);
			else
				pvm_set_gas(m, pvm_gas(m) + reserve);
			*out = x;
			return NUB_E_OK;
		}
		/* Out of this slice only: the unpaid instruction did not run. */
		carry = pvm_gas(m) > 0 ? pvm_gas(m) : 0;
		pvm_set_pc(m, pvm_pc(m));
		if (now_ms() >= deadline)
			return NUB_E_TIMEOUT;
	}
}

static nub_err local_invoke(void *impl, const InvokePacket *p, InvocationResult *r)
{
	local_backend *lb = impl;
	nub_err e = cap_invoke_check(p);
	if (e)
		return cap_invoke_fail(r, e);

	const cap_view *slot_data[NUB_CAP_MAX_SLOTS] = {0};
	const cap_image_view *img;
	local_prog *prog;
	cap_endpoint ep;

	pthread_mutex_lock(&lb->lock);
	local_cap *ic = local_store_get(&lb->store, p->instance_hash);
	if (!ic || ic->view.kind != NUB_CAP_KIND_INSTANCE) {
		pthread_mutex_unlock(&lb->lock);
		return cap_invoke_fail(r, ic ? NUB_E_NOT_INSTANCE : NUB_E_UNKNOWN_INSTANCE);
	}
	const cap_instance_view *inst = &ic->view.u.instance;
	/* Published caps are immutable and live until close: these pointers
	 * stay valid after the lock is released. */
	local_cap *imc = local_store_get(&lb->store, inst->image_hash);
	img = &imc->view.u.image;
	for (uint32_t i = 0; i < inst->slot_count; i++) {
		uint8_t idx;
		const uint8_t *h;
		cap_instance_slot(inst, i, &idx, &h);
		slot_data[idx] = &local_store_get(&lb->store, h)->view;
	}
	if (p->endpoint_idx >= img->endpoint_count) {
		pthread_mutex_unlock(&lb->lock);
		return cap_invoke_fail(r, NUB_E_BAD_ENDPOINT);
	}
	if (!imc->prog) {
		if ((e = prog_new(img, &imc->prog))) {
			pthread_mutex_unlock(&lb->lock);
			return cap_invoke_fail(r, e);
		}
		lb->cached_programs++;
	}
	prog = imc->prog;
	prog->refs++;
	pthread_mutex_unlock(&lb->lock);

	cap_image_endpoint(img, p->endpoint_idx, &ep);
	pvm_instance *m = NULL;
	pvm_exit x = PVM_EXIT_PANIC;
	if (pvm_instance_new(prog->program, &m) != PVM_E_OK)
		e = NUB_E_NOMEM;
	else if (!(e = cap_invoke_frame(m, img, slot_data, &ep, p)))
		e = run_frame(m, (int64_t)p->initial_gas, lb->opts.timeout_ms, &x);
	if (!e)
		e = cap_invoke_result(m, x, img, r);
	else
		cap_invoke_fail(r, e);
	if (m)
		pvm_instance_free(m);

	pthread_mutex_lock(&lb->lock);
	prog_unref(lb, prog);
	pthread_mutex_unlock(&lb->lock);
	return e;
}

/* ---- parallel invocations: one thread per lane, work taken by index ----- */
typedef struct {
	local_backend *lb;
	const InvokePacket *p;
	InvocationResult *r;
	size_t n;
	atomic_size_t next;
} lane_work;

static void *lane_main(void *arg)
{
	lane_work *w = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&w->next, 1);
		if (i >= w->n)
			return NULL;
		(void)local_invoke(w->lb, &w->p[i], &w->r[i]);
	}
}

static nub_err local_invoke_parallel(void *impl, const InvokePacket *p, InvocationResult *r, size_t n)
{
	local_backend *lb = impl;
	lane_work w = {.lb = lb, .p = p, .r = r, .n = n};
	atomic_init(&w.next, 0);
	size_t lanes = lb->opts.vcpus < n ? lb->opts.vcpus : n;
	pthread_t th[MAX_EXECUTION_LANES];
	size_t started = 0;
	/* Lane 0 is the calling thread; a lane that cannot start leaves its
	 * share to the others. */
	for (size_t l = 1; l < lanes; l++)
		if (pthread_create(&th[started], NULL, lane_main, &w) == 0)
			started++;
	lane_main(&w);
	for (size_t l = 0; l < started; l++)
		pthread_join(th[l], NULL);
	for (size_t i = 0; i < n; i++)
		if (r[i].exit_reason == NUB_EXIT_ERROR)
			return (nub_err)r[i].exit_arg;
	return NUB_E_OK;
}

/* ---- the rest ------------------------------------------------------------ */
static nub_err local_boot_info(void *impl, BootInfo *out)
{
	(void)impl;
	memset(out, 0, sizeof *out);
	out->magic = NUB_BOOT_INFO_MAGIC; /* synthetic: no guest, no guest directory */
	return NUB_E_OK;
}

static nub_err local_heap_stats(void *impl, NubHeapStats *out)
{
	local_backend *lb = impl;
	pthread_mutex_lock(&lb->lock);
	out->allocated_bytes = lb->store.allocated_bytes;
	out->allocation_count = lb->store.allocation_count;
	out->fragment_count = 0;
	out->available_bytes = lb->store.budget - lb->store.allocated_bytes;
	pthread_mutex_unlock(&lb->lock);
	return NUB_E_OK;
}

static nub_err local_evict_jit_all(void *impl)
{
	local_backend *lb = impl;
	pthread_mutex_lock(&lb->lock);
	for (size_t i = 0; i < lb->store.capacity; i++) {
		local_cap *c = lb->store.table[i];
		if (c && c->prog) {
			prog_unref(lb, c->prog); /* running invocations keep their ref */
			c->prog = NULL;
			lb->cached_programs--;
		}
	}
	pthread_mutex_unlock(&lb->lock);
	return NUB_E_OK;
}

static void local_close(void *impl)
{
	local_backend *lb = impl;
	local_evict_jit_all(lb);
	local_store_free(&lb->store);
	pthread_mutex_destroy(&lb->lock);
	free(lb);
}

static const nub_backend_ops local_ops = {
	.name = "local",
	.put_cap = local_put_cap,
	.invoke = local_invoke,
	.invoke_parallel = local_invoke_parallel,
	.boot_info = local_boot_info,
	.heap_stats = local_heap_stats,
	.evict_jit_all = local_evict_jit_all,
	.close = local_close,
};

nub_err local_backend_open(const nub_resolved_options *o, void **impl, const nub_backend_ops **ops)
{
	local_backend *lb = calloc(1, sizeof *lb);
	if (!lb)
		return NUB_E_NOMEM;
	lb->opts = *o;
	nub_err e = local_store_init(&lb->store, o->memory_bytes);
	if (e) {
		free(lb);
		return e;
	}
	pthread_mutex_init(&lb->lock, NULL);
	*impl = lb;
	*ops = &local_ops;
	return NUB_E_OK;
}

size_t local_cached_programs(nub_sandbox *sb)
{
	local_backend *lb = nub_sandbox_impl_(sb);
	pthread_mutex_lock(&lb->lock);
	size_t n = lb->cached_programs;
	pthread_mutex_unlock(&lb->lock);
	return n;
}
