/* guest_invoke.c: PUT_CAP, INVOKE_CACHED and EVICT_JIT_ALL: the invocation
 * core (src/cap/cap_core.h) over the guest's cap directory.
 *
 * The store adapter: each directory entry's guest-private `aux` points to
 * the core's cap_entry (whose encoding the entry's bytes_gpa publishes to
 * the host); memory comes from the guest heap (its own lock); one spinlock
 * guards the directory and the program references (the core takes it around
 * every lookup, never across a run), so lanes on several vCPUs share the
 * store. PUT_CAP
 * requests live in memory the host shares and may change at any time: the
 * core copies them first and only looks at the copy (`shared`). The host
 * enforces the per-call timeout by stopping the vCPU.
 */
#include "cap/cap_core.h"
#include "guest/guest.h"

static cap_entry *entry_of(const NubCapDirEntry *e)
{
	return e ? (cap_entry *)(uintptr_t)e->aux : NULL;
}

static cap_entry *store_get(cap_store *s, const uint8_t hash[NUB_CAP_HASH_LEN])
{
	(void)s;
	return entry_of(guest_capdir_get(hash));
}

static nub_err store_insert(cap_store *s, cap_entry *c)
{
	(void)s;
	NubCapDirEntry *de;
	nub_err e = guest_capdir_insert(c->hash, c->bytes, c->len, c->view.kind, &de);
	if (!e)
		de->aux = (uint64_t)(uintptr_t)c;
	return e;
}

typedef struct {
	void (*fn)(cap_entry *e, void *ctx);
	void *ctx;
} foreach_ctx;

static void foreach_one(NubCapDirEntry *de, void *ctx)
{
	foreach_ctx *f = ctx;
	f->fn(entry_of(de), f->ctx);
}

static void store_foreach(cap_store *s, void (*fn)(cap_entry *e, void *ctx), void *ctx)
{
	(void)s;
	foreach_ctx f = {fn, ctx};
	guest_capdir_foreach(foreach_one, &f);
}

static void *store_alloc(cap_store *s, size_t size, size_t align, nub_err *err)
{
	(void)s;
	void *p = guest_heap_alloc(size, align);
	if (!p)
		*err = NUB_E_NOMEM;
	return p;
}

static void store_free(cap_store *s, void *p, size_t size)
{
	(void)s;
	(void)size;
	guest_heap_free(p);
}

static guest_spinlock store_lock_;

static void store_lock(cap_store *s)
{
	(void)s;
	guest_spin_lock(&store_lock_);
}

static void store_unlock(cap_store *s)
{
	(void)s;
	guest_spin_unlock(&store_lock_);
}

static const cap_store_ops guest_store_ops = {
	.get = store_get,
	.insert = store_insert,
	.foreach = store_foreach,
	.alloc = store_alloc,
	.free = store_free,
	.lock = store_lock,
	.unlock = store_unlock,
};

static cap_store store = {.ops = &guest_store_ops};

cap_store *guest_cap_store(void)
{
	return &store;
}

nub_err guest_put_cap(const uint8_t *bytes, uint32_t len, uint8_t hash_out[NUB_CAP_HASH_LEN])
{
	return cap_core_put(&store, bytes, len, true, hash_out);
}

nub_err guest_invoke(const InvokePacket *p, InvocationResult *r)
{
	return cap_core_invoke(&store, p, r);
}

void guest_evict_jit_all(void)
{
	cap_core_evict(&store);
}

void guest_set_engine(const cap_engine_ops *engine)
{
	if (store.engine == engine)
		return;
	cap_core_evict(&store);
	store.engine = engine;
}

/* ---- host calls over the mailbox (INVOKE_HOST, HOST_CALL; abi.h) ----------
 * The core's (cap_core_host_*): at most one invocation suspended at an
 * ecalli, its state in the heap until the answer, an ABORT, or any other
 * request than HOST_CALL ends it. */
static cap_host_susp suspended;

void guest_host_abandon(void)
{
	cap_core_host_abandon(&suspended);
}

nub_err guest_invoke_host(const InvokePacket *p, NubHostStep *out)
{
	return cap_core_host_start(&store, &suspended, p, out);
}

nub_err guest_host_op(const NubHostOp *op, const uint8_t *data, uint32_t data_len, uint8_t *resp, uint32_t resp_cap,
                      uint32_t *resp_len)
{
	return cap_core_host_op(&suspended, op, data, data_len, resp, resp_cap, resp_len);
}
