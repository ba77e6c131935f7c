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

/* ---- host calls over the mailbox (INVOKE_HOST, HOST_CALL; abi.h) ----------
 * One invocation at most is suspended at an ecalli, waiting for the host's
 * answer: its state (registers, memory, address space) stays in the heap
 * until the answer, an ABORT, or any other request than HOST_CALL ends it. */
static struct {
	bool active;
	cap_invocation inv;
} suspended;

void guest_host_abandon(void)
{
	if (!suspended.active)
		return;
	InvocationResult r;
	suspended.active = false;
	(void)cap_core_finish(&suspended.inv, PVM_EXIT_PANIC, NUB_E_TIMEOUT, &r); /* frees it */
}

/* Run the suspended invocation to its next exit: CALL (still suspended) or
 * DONE (finished and released). */
static nub_err host_step(NubHostStep *out)
{
	pvm_instance *m = suspended.inv.m;
	pvm_exit x = cap_core_run(&suspended.inv);
	memset(out, 0, sizeof *out);
	if (x == PVM_EXIT_HOST) {
		out->state = NUB_HOST_STEP_CALL;
		out->number = pvm_exit_arg(m);
		for (unsigned i = 0; i < NUB_NUM_REGS; i++)
			out->regs[i] = pvm_reg(m, i);
		out->gas = (uint64_t)pvm_gas(m);
		return NUB_E_OK;
	}
	suspended.active = false;
	out->state = NUB_HOST_STEP_DONE;
	return cap_core_finish(&suspended.inv, x, NUB_E_OK, &out->result);
}

nub_err guest_invoke_host(const InvokePacket *p, NubHostStep *out)
{
	guest_host_abandon();
	nub_err e = cap_core_start(&store, p, &suspended.inv);
	if (e) {
		memset(out, 0, sizeof *out);
		out->state = NUB_HOST_STEP_DONE;
		return cap_core_fail(&out->result, e);
	}
	suspended.active = true;
	return host_step(out);
}

nub_err guest_host_op(const NubHostOp *op, const uint8_t *data, uint32_t data_len, uint8_t *resp, uint32_t resp_cap,
                      uint32_t *resp_len)
{
	*resp_len = 0;
	if (!suspended.active)
		return NUB_E_INVALID_ARG;
	pvm_instance *m = suspended.inv.m;
	switch (op->op) {
	case NUB_HOST_OP_ANSWER: {
		if (data_len || op->action > NUB_HOST_ACTION_STOP)
			return NUB_E_INVALID_ARG;
		NubHostStep *st = (NubHostStep *)(void *)resp;
		if (resp_cap < sizeof *st)
			return NUB_E_INVALID_ARG;
		for (unsigned i = 0; i < NUB_NUM_REGS; i++)
			pvm_set_reg(m, i, op->regs[i]);
		*resp_len = sizeof *st;
		nub_err e = NUB_E_OK;
		if (op->gas > (uint64_t)INT64_MAX)
			e = NUB_E_BAD_GAS;
		else
			pvm_set_gas(m, (int64_t)op->gas);
		if (e || op->action == NUB_HOST_ACTION_STOP) {
			/* ends here: at the ecalli (HOST_CALL), or with the error */
			memset(st, 0, sizeof *st);
			st->state = NUB_HOST_STEP_DONE;
			suspended.active = false;
			return cap_core_finish(&suspended.inv, PVM_EXIT_HOST, e, &st->result);
		}
		return host_step(st);
	}
	case NUB_HOST_OP_READ:
		if (data_len || op->len > resp_cap)
			return NUB_E_INVALID_ARG;
		{
			nub_err e = cap_core_mem_read(m, op->addr, resp, op->len);
			if (!e)
				*resp_len = op->len;
			return e;
		}
	case NUB_HOST_OP_WRITE:
		if (data_len != op->len)
			return NUB_E_INVALID_ARG;
		return cap_core_mem_write(m, op->addr, data, op->len);
	case NUB_HOST_OP_CHECK:
		if (data_len || op->action > 1)
			return NUB_E_INVALID_ARG;
		return cap_core_mem_check(m, op->addr, op->len, op->action == 1);
	case NUB_HOST_OP_ABORT:
		if (data_len)
			return NUB_E_INVALID_ARG;
		guest_host_abandon();
		return NUB_E_OK;
	default:
		return NUB_E_INVALID_ARG;
	}
}
