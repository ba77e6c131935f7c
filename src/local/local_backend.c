/* local_backend.c: the in-process backend: a thin adapter over the
 * invocation core (cap_core.h), with a counted store and a per-call deadline.
 *
 * PUT_CAP, INVOKE and EVICT_JIT_ALL are the core's. What is local: the store
 * (a cap_set in this process's memory, every allocation counted against the
 * sandbox's memory budget), the lock, and the deadline: with a timeout the
 * run goes in gas slices with a clock check between them. nub_invoke and
 * nub_invoke_parallel go through the execution lanes (local_lanes.c), whose
 * workers run local_invoke_inline.
 *
 * Host calls (nub_invoke_with): with the JIT, an ecalli is answered inside
 * the compiled run (jit_vm_set_host: no exit, the window stays filled, the
 * page table is synced only when the handler touches memory); the
 * interpreter's ecallis end the run and are answered between runs. Either
 * way the handler sees the whole gas (slice + reserve) and the clock is read
 * only every few host calls (host_deadline_past). On a lane
 * (nub_options.host_calls) the invocation runs on the lane thread and each
 * call goes to the calling thread through the slot (local_lanes.c).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jit/jit.h"
#include "local/local_backend.h"
#include "local/local_lanes.h"

/* Gas slices between two deadline checks: aimed at LOCAL_SLICE_NS of run
 * time, LOCAL_SLICE_MIN..LOCAL_SLICE_MAX instructions. */
#define LOCAL_SLICE_NS 1000000u
#define LOCAL_SLICE_FIRST (1ll << 14)
#define LOCAL_SLICE_MIN (1ll << 8)
#define LOCAL_SLICE_MAX (1ll << 22)

/* ---- the store ----------------------------------------------------------- */
static local_backend *lb_of(cap_store *s)
{
	return (local_backend *)(void *)s;
}

/* What the budget still admits (lock held). */
static uint64_t budget_left(const local_backend *lb)
{
	uint64_t used = lb->allocated_bytes + lb->charged_bytes;
	return used < lb->budget ? lb->budget - used : 0;
}

static void *budget_alloc(local_backend *lb, size_t size, size_t align, nub_err *err)
{
	if (size > budget_left(lb)) {
		*err = NUB_E_STORE_FULL;
		return NULL;
	}
	size_t rounded = (size + align - 1) & ~(align - 1);
	void *p = aligned_alloc(align < sizeof(void *) ? sizeof(void *) : align, rounded);
	if (!p) {
		*err = NUB_E_NOMEM;
		return NULL;
	}
	memset(p, 0, size);
	lb->allocated_bytes += size;
	lb->allocation_count++;
	return p;
}

static void budget_free(local_backend *lb, void *p, size_t size)
{
	free(p);
	lb->allocated_bytes -= size;
	lb->allocation_count--;
}

/* The core may allocate without the lock; the counters need it. */
static void *store_alloc(cap_store *s, size_t size, size_t align, nub_err *err)
{
	local_backend *lb = lb_of(s);
	pthread_mutex_lock(&lb->lock);
	void *p = budget_alloc(lb, size, align, err);
	pthread_mutex_unlock(&lb->lock);
	return p;
}

static void store_free(cap_store *s, void *p, size_t size)
{
	local_backend *lb = lb_of(s);
	pthread_mutex_lock(&lb->lock);
	budget_free(lb, p, size);
	pthread_mutex_unlock(&lb->lock);
}

/* the set's block, allocated with the lock held (or before any thread) */
static void *set_alloc(void *ctx, size_t size, nub_err *err)
{
	return budget_alloc(ctx, size, 64, err);
}

static void set_free(void *ctx, void *p, size_t size)
{
	budget_free(ctx, p, size);
}

static cap_entry *store_get(cap_store *s, const uint8_t hash[NUB_CAP_HASH_LEN])
{
	cap_set_item *it = cap_set_find(&lb_of(s)->set, hash);
	return it ? it->aux : NULL;
}

static nub_err store_insert(cap_store *s, cap_entry *e)
{
	return cap_set_add(&lb_of(s)->set, e->hash, e->bytes, e->len, e, NULL);
}

static void store_foreach(cap_store *s, void (*fn)(cap_entry *e, void *ctx), void *ctx)
{
	cap_set *set = &lb_of(s)->set;
	for (size_t i = 0; i < set->count; i++)
		fn(cap_set_at(set, i)->aux, ctx);
}

static void store_lock(cap_store *s)
{
	pthread_mutex_lock(&lb_of(s)->lock);
}

static void store_unlock(cap_store *s)
{
	pthread_mutex_unlock(&lb_of(s)->lock);
}

/* decoded programs and invocation pages (lock held) */
static nub_err store_charge(cap_store *s, size_t bytes)
{
	local_backend *lb = lb_of(s);
	if (bytes > budget_left(lb))
		return NUB_E_SANDBOX_MEMORY;
	lb->charged_bytes += bytes;
	if (lb->charged_bytes > lb->peak_charged_bytes)
		lb->peak_charged_bytes = lb->charged_bytes;
	return NUB_E_OK;
}

static void store_release(cap_store *s, size_t bytes)
{
	lb_of(s)->charged_bytes -= bytes;
}

/* The deadline (ns, 0 = none) of the call this thread is in, for the
 * core's questions while it decodes or compiles (store_expired). */
static _Thread_local uint64_t call_deadline;
static uint64_t now_ns(void);

static bool store_expired(cap_store *s)
{
	(void)s;
	return call_deadline && now_ns() >= call_deadline;
}

static uint64_t deadline_of(const local_backend *lb)
{
	return lb->opts.timeout_ms != NUB_TIMEOUT_NONE ? now_ns() + (uint64_t)lb->opts.timeout_ms * 1000000u : 0;
}

static const cap_store_ops local_store_ops = {
	.expired = store_expired,
	.charge = store_charge,
	.release = store_release,
	.get = store_get,
	.insert = store_insert,
	.foreach = store_foreach,
	.alloc = store_alloc,
	.free = store_free,
	.lock = store_lock,
	.unlock = store_unlock,
};

/* ---- the ops ------------------------------------------------------------- */
static nub_err local_put_cap(void *impl, const uint8_t *bytes, size_t len, uint8_t hash_out[NUB_CAP_HASH_LEN])
{
	local_backend *lb = impl;
	/* the deadline bounds decoding an Image's code */
	call_deadline = deadline_of(lb);
	nub_err e = cap_core_put(&lb->store, bytes, len, false, hash_out);
	call_deadline = 0;
	return e;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool past(uint64_t deadline)
{
	return deadline && now_ns() >= deadline;
}

/* nub_host_call.internal_ of a local invocation: its memory accessors. */
typedef struct local_host_mem {
	nub_host_mem mem; /* first: nub_host_call.internal_ points here */
	pvm_instance *m;
	jit_vm *vm; /* the JIT's, while a host call is answered inside its run */
} local_host_mem;

/* One invocation's run state: the deadline, the gas slice, the handler. */
typedef struct local_run {
	cap_slicer sl; /* first: slice_done() gets it back */
	cap_invocation inv;
	uint64_t deadline; /* ns, 0 = none */
	uint64_t slice_t0; /* when the current slice started */
	/* host calls */
	nub_host_handler handler;
	void *ctx;
	local_host_mem hm;
	uint32_t clock_every, clock_left; /* host calls between clock reads */
	uint64_t clock_last;
	nub_err err;  /* set by a host call that ends the invocation with an error */
	bool stopped; /* a handler answered STOP */
} local_run;

/* Between two gas slices: past the deadline? The slice adapts to what the
 * program's instructions cost (memory-heavy code runs fewer per
 * millisecond), so the clock is read about every LOCAL_SLICE_NS whatever
 * the program does. */
static bool slice_done(cap_slicer *sl)
{
	local_run *lr = (local_run *)sl;
	uint64_t t1 = now_ns(), d = t1 - lr->slice_t0;
	lr->slice_t0 = t1;
	if (t1 >= lr->deadline)
		return true;
	if (d < LOCAL_SLICE_NS / 2 && sl->size < LOCAL_SLICE_MAX)
		sl->size *= 2;
	else if (d > LOCAL_SLICE_NS * 2 && sl->size > LOCAL_SLICE_MIN)
		sl->size /= 2;
	return false;
}

/* Run to an exit; with a deadline, in gas slices with a clock check
 * between (the core's cap_core_run_sliced). Host calls answered inside a
 * JIT run (jit_hook) see and set the whole gas: slice + reserve. */
static nub_err run_sliced(local_run *lr, pvm_exit *out)
{
	if (!lr->deadline) {
		lr->sl.size = INT64_MAX; /* one slice: everything */
		lr->sl.between = NULL;
	} else {
		lr->sl.between = slice_done;
		lr->slice_t0 = now_ns();
	}
	return cap_core_run_sliced(&lr->inv, &lr->sl, out);
}

/* ---- the JIT as the core's engine ------------------------------------------ */
static nub_err jit_compile_op(const pvm_program *p, void **code, size_t *bytes)
{
	jit_code *c;
	jit_err je = jit_compile(p, &c);
	if (je != JIT_E_OK)
		return je == JIT_E_NOMEM ? NUB_E_NOMEM : NUB_E_JIT;
	jit_perfmap_add(c);
	*code = c;
	*bytes = jit_code_size(c);
	return NUB_E_OK;
}

static void jit_free_op(void *code)
{
	jit_code_free(code);
}

static pvm_exit jit_run_op(void *vm, const void *code, pvm_instance *m)
{
	return jit_run(vm, code, m);
}

static const cap_engine_ops jit_engine = {jit_compile_op, jit_free_op, jit_run_op};

/* Each thread that runs compiled code has jit_vms (each a 4 GiB window):
 * one per invocation running on it at once (a handler that invokes again
 * nests one inside another), made on first use, kept for the next
 * invocations and freed when the thread ends. */
typedef struct thread_vm {
	jit_vm *vm;
	bool busy;
	struct thread_vm *next;
} thread_vm;

static pthread_key_t vm_key;
static pthread_once_t vm_once = PTHREAD_ONCE_INIT;

static void vm_free(void *p)
{
	for (thread_vm *t = p, *n; t; t = n) {
		n = t->next;
		jit_vm_free(t->vm);
		free(t);
	}
}

static void vm_key_make(void)
{
	(void)pthread_key_create(&vm_key, vm_free);
}

/* A free vm of this thread, marked busy (vm_put gives it back). */
static thread_vm *vm_take(void)
{
	pthread_once(&vm_once, vm_key_make);
	thread_vm *head = pthread_getspecific(vm_key), *t;
	for (t = head; t; t = t->next)
		if (!t->busy) {
			t->busy = true;
			return t;
		}
	if (!(t = calloc(1, sizeof *t)))
		return NULL;
	if (jit_vm_new(&t->vm) != JIT_E_OK) {
		free(t);
		return NULL;
	}
	t->next = head;
	if (pthread_setspecific(vm_key, t) != 0) {
		jit_vm_free(t->vm);
		free(t);
		return NULL;
	}
	t->busy = true;
	return t;
}

static void vm_put(thread_vm *t)
{
	if (t) {
		jit_vm_set_host(t->vm, NULL, NULL);
		t->busy = false;
	}
}

/* ---- host calls -------------------------------------------------------- */
static nub_err host_read(const nub_host_mem *h, uint32_t addr, void *dst, size_t len)
{
	const local_host_mem *hm = (const local_host_mem *)(const void *)h;
	if (hm->vm && jit_host_sync(hm->vm) != PVM_E_OK)
		return NUB_E_SANDBOX_MEMORY;
	return cap_core_mem_read(hm->m, addr, dst, len);
}

static nub_err host_write(const nub_host_mem *h, uint32_t addr, const void *src, size_t len)
{
	const local_host_mem *hm = (const local_host_mem *)(const void *)h;
	if (hm->vm && jit_host_sync(hm->vm) != PVM_E_OK)
		return NUB_E_SANDBOX_MEMORY;
	nub_err e = cap_core_mem_write(hm->m, addr, src, len);
	if (hm->vm && !e)
		jit_host_wrote(hm->vm);
	return e;
}

/* With a deadline, is it past? After host calls the clock is read only
 * every clock_every calls: 1 at first, doubled while the calls between two
 * reads take under LOCAL_SLICE_NS / 2 (up to LOCAL_CLOCK_EVERY_MAX), halved
 * when they take over 2 * LOCAL_SLICE_NS. */
#define LOCAL_CLOCK_EVERY_MAX 256u
static bool host_deadline_past(local_run *lr)
{
	if (!lr->deadline || --lr->clock_left)
		return false;
	uint64_t t = now_ns(), d = t - lr->clock_last;
	if (d < LOCAL_SLICE_NS / 2 && lr->clock_every < LOCAL_CLOCK_EVERY_MAX)
		lr->clock_every *= 2;
	else if (d > LOCAL_SLICE_NS * 2 && lr->clock_every > 1)
		lr->clock_every /= 2;
	lr->clock_left = lr->clock_every;
	lr->clock_last = t;
	return t >= lr->deadline;
}

/* Answer one host call: the handler sees the registers and the whole gas
 * (*gas, the instance's, + lr->sl.reserve); *gas gets the slice of what it
 * leaves. False when the invocation ends here (lr->err set on an error). */
static bool answer(local_run *lr, uint32_t number, uint64_t regs[NUB_NUM_REGS], int64_t *gas)
{
	nub_host_call call = {.number = number, .gas = (uint64_t)(*gas + lr->sl.reserve), .internal_ = &lr->hm};
	memcpy(call.regs, regs, sizeof call.regs);
	nub_host_action act = lr->handler(lr->ctx, &call);
	memcpy(regs, call.regs, sizeof call.regs);
	if (call.gas > (uint64_t)INT64_MAX) {
		lr->err = NUB_E_BAD_GAS;
		return false;
	}
	/* the handler's gas, split again into a slice and the reserve */
	int64_t g = (int64_t)call.gas;
	int64_t slice = g < lr->sl.size ? g : lr->sl.size;
	lr->sl.reserve = g - slice;
	*gas = slice;
	if (act != NUB_HOST_RESUME) {
		lr->stopped = true;
		return false;
	}
	if (host_deadline_past(lr)) {
		lr->err = NUB_E_TIMEOUT;
		return false;
	}
	return true;
}

/* An ecalli in compiled code, answered inside the JIT's run. */
static bool jit_hook(void *ctx, uint32_t number, uint64_t regs[PVM_NUM_REGS], uint64_t *gas)
{
	local_run *lr = ctx;
	int64_t g = (int64_t)*gas;
	bool go = answer(lr, number, regs, &g);
	*gas = (uint64_t)g;
	return go;
}

/* An ecalli that ended a run (the interpreter; compiled code's when the
 * gas left could not pay for the next block): answered between runs, the
 * table up to date. The gas is the instance's whole (run_sliced put the
 * reserve back). */
static bool answer_exit(local_run *lr)
{
	pvm_instance *m = lr->inv.m;
	uint64_t regs[NUB_NUM_REGS];
	for (unsigned i = 0; i < NUB_NUM_REGS; i++)
		regs[i] = pvm_reg(m, i);
	int64_t g = pvm_gas(m), size = lr->sl.size;
	lr->sl.reserve = 0;
	lr->sl.size = INT64_MAX; /* the whole gas goes back into the instance */
	jit_vm *vm = lr->hm.vm;
	lr->hm.vm = NULL;
	bool go = answer(lr, pvm_exit_arg(m), regs, &g);
	lr->hm.vm = vm;
	lr->sl.size = size;
	lr->sl.reserve = 0;
	for (unsigned i = 0; i < NUB_NUM_REGS; i++)
		pvm_set_reg(m, i, regs[i]);
	pvm_set_gas(m, g);
	return go;
}

nub_err local_invoke_handler(local_backend *lb, const InvokePacket *p, nub_host_handler handler, void *ctx,
                             InvocationResult *r)
{
	local_run lr = {.sl = {.size = LOCAL_SLICE_FIRST}, .handler = handler, .ctx = ctx, .clock_every = 1,
	                .clock_left = 1};
	/* the deadline covers everything from here: decode (after an
	 * eviction), frame setup, the run, host calls, the result */
	if (lb->opts.timeout_ms != NUB_TIMEOUT_NONE) {
		lr.clock_last = now_ns();
		lr.deadline = lr.clock_last + (uint64_t)lb->opts.timeout_ms * 1000000u;
	}
	call_deadline = lr.deadline; /* decoding after an eviction stops at it */
	nub_err e = cap_core_start(&lb->store, p, &lr.inv);
	call_deadline = 0;
	if (e)
		return cap_core_fail(r, e);
	lr.hm = (local_host_mem){{host_read, host_write}, lr.inv.m, NULL};
	pvm_exit x = PVM_EXIT_PANIC;
	thread_vm *tv = NULL;
	if (lb->store.engine) {
		if (!(tv = vm_take()))
			e = NUB_E_JIT;
		else {
			lr.inv.vm = tv->vm;
			if (handler) {
				jit_vm_set_host(tv->vm, jit_hook, &lr);
				lr.hm.vm = tv->vm;
			}
		}
	}
	if (!e && past(lr.deadline))
		e = NUB_E_TIMEOUT;
	while (!e && !(e = run_sliced(&lr, &x)) && !(e = lr.err) && x == PVM_EXIT_HOST && handler &&
	       !lr.stopped && answer_exit(&lr))
		;
	if (!e)
		e = lr.err;
	vm_put(tv);
	if (!e && past(lr.deadline))
		e = NUB_E_TIMEOUT;
	return cap_core_finish(&lr.inv, x, e, r);
}

nub_err local_invoke_inline(local_backend *lb, const InvokePacket *p, InvocationResult *r)
{
	return local_invoke_handler(lb, p, NULL, NULL, r);
}

/* nub_invoke_with: with a handler, inline on the calling thread (the
 * default) or on a lane (nub_options.host_calls); the handler runs on the
 * calling thread either way. Without one: nub_invoke, on a lane. */
static nub_err local_invoke_with(void *impl, const InvokePacket *p, nub_host_handler handler, void *ctx,
                                 InvocationResult *r)
{
	local_backend *lb = impl;
	if (!handler)
		return local_lanes_run(lb, p, r, 1);
	if (lb->opts.host_calls == NUB_HOST_CALLS_LANES)
		return local_lanes_run_with(lb, p, handler, ctx, r);
	return local_invoke_handler(lb, p, handler, ctx, r);
}

/* ---- lanes (local_lanes.c): nub_invoke and nub_invoke_parallel --------- */
static nub_err local_invoke(void *impl, const InvokePacket *p, InvocationResult *r)
{
	return local_lanes_run(impl, p, r, 1);
}

static nub_err local_invoke_parallel(void *impl, const InvokePacket *p, InvocationResult *r, size_t n)
{
	return local_lanes_run(impl, p, r, n);
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
	out->allocated_bytes = lb->allocated_bytes + lb->charged_bytes;
	out->allocation_count = lb->allocation_count;
	out->fragment_count = 0;
	out->available_bytes = budget_left(lb);
	pthread_mutex_unlock(&lb->lock);
	return NUB_E_OK;
}

static nub_err local_evict_jit_all(void *impl)
{
	local_backend *lb = impl;
	cap_core_evict(&lb->store);
	return NUB_E_OK;
}

static void local_close(void *impl)
{
	local_backend *lb = impl;
	local_lanes_close(lb);
	/* nothing runs now: no lock needed; entries first, then the set */
	for (size_t i = 0; i < lb->set.count; i++)
		cap_core_entry_free(&lb->store, cap_set_at(&lb->set, i)->aux);
	cap_set_free(&lb->set);
	pthread_mutex_destroy(&lb->lock);
	pthread_mutex_destroy(&lb->lanes_lock);
	free(lb);
}

static const nub_backend_ops local_ops = {
	.put_cap = local_put_cap,
	.invoke = local_invoke,
	.invoke_with = local_invoke_with,
	.invoke_parallel = local_invoke_parallel,
	.boot_info = local_boot_info,
	.heap_stats = local_heap_stats,
	.evict_jit_all = local_evict_jit_all,
	.close = local_close,
};

static nub_err local_open(const nub_resolved_options *o, void **impl, const nub_backend_ops **ops)
{
	local_backend *lb = calloc(1, sizeof *lb);
	if (!lb)
		return NUB_E_NOMEM;
	lb->store.ops = &local_store_ops;
	lb->store.invocation_pages = o->invocation_pages;
#ifdef __x86_64__
	if (o->engine != NUB_ENGINE_INTERP)
		lb->store.engine = &jit_engine;
#else
	if (o->engine == NUB_ENGINE_JIT) {
		free(lb);
		return NUB_E_NOT_IMPLEMENTED;
	}
#endif
	lb->opts = *o;
	lb->budget = o->memory_bytes;
	uint64_t seed[2];
	cap_set_seed(seed, lb);
	nub_err e = cap_set_init(&lb->set, seed, set_alloc, set_free, lb);
	if (e) {
		free(lb);
		return e;
	}
	pthread_mutex_init(&lb->lock, NULL);
	pthread_mutex_init(&lb->lanes_lock, NULL);
	*impl = lb;
	*ops = &local_ops;
	return NUB_E_OK;
}

const nub_backend_def local_backend_def = {
	.id = NUB_BACKEND_LOCAL,
	.probe = NULL,
	.open = local_open,
};
