/* guest_handlers.c: the substrate's RPC handlers (fn ids of nub/abi.h).
 *
 * Each checks the payload length first (NUB_E_INVALID_ARG otherwise) and
 * copies fixed-size requests out of shared memory before using them.
 */
#include "guest/guest.h"

static nub_err h_heap_stats(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	(void)req;
	(void)cap;
	if (len != 0)
		return NUB_E_INVALID_ARG;
	NubHeapStats s;
	guest_heap_stats(&s);
	memcpy(resp, &s, sizeof s);
	*out = sizeof s;
	return NUB_E_OK;
}

static nub_err h_invoke_cached(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	(void)cap;
	InvocationResult r;
	InvokePacket p;
	nub_err e;
	if (len != sizeof p) {
		memset(&r, 0, sizeof r);
		r.exit_reason = NUB_EXIT_ERROR;
		r.exit_arg = NUB_E_INVALID_ARG;
		e = NUB_E_INVALID_ARG;
	} else {
		memcpy(&p, req, sizeof p);
		e = guest_invoke(&p, &r);
	}
	memcpy(resp, &r, sizeof r);
	*out = sizeof r;
	return e;
}

static nub_err h_invoke_host(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	NubHostStep st;
	InvokePacket p;
	nub_err e;
	if (cap < sizeof st)
		return NUB_E_INVALID_ARG;
	if (len != sizeof p) {
		memset(&st, 0, sizeof st);
		st.state = NUB_HOST_STEP_DONE;
		st.result.exit_reason = NUB_EXIT_ERROR;
		st.result.exit_arg = NUB_E_INVALID_ARG;
		e = NUB_E_INVALID_ARG;
	} else {
		memcpy(&p, req, sizeof p);
		e = guest_invoke_host(&p, &st);
	}
	memcpy(resp, &st, sizeof st);
	*out = sizeof st;
	return e;
}

static nub_err h_host_call(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	NubHostOp op;
	*out = 0;
	if (len < sizeof op)
		return NUB_E_INVALID_ARG;
	memcpy(&op, req, sizeof op); /* our copy: the host may change shared memory */
	/* WRITE's bytes are read once, by the copy into the invocation */
	return guest_host_op(&op, req + sizeof op, len - (uint32_t)sizeof op, resp, cap, out);
}

static nub_err h_put_cap(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	(void)cap;
	nub_err e = guest_put_cap(req, len, resp);
	*out = e ? 0 : NUB_CAP_HASH_LEN;
	return e;
}

static nub_err h_get_boot_info(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	(void)req;
	(void)cap;
	if (len != 0)
		return NUB_E_INVALID_ARG;
	memcpy(resp, &guest_boot_info, sizeof guest_boot_info);
	*out = sizeof guest_boot_info;
	return NUB_E_OK;
}

static nub_err h_evict_jit_all(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	(void)req;
	(void)resp;
	(void)cap;
	if (len != 0)
		return NUB_E_INVALID_ARG;
	guest_evict_jit_all();
	*out = 0;
	return NUB_E_OK;
}

static nub_err h_set_engine(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	(void)resp;
	(void)cap;
	uint32_t engine;
	if (len != sizeof engine)
		return NUB_E_INVALID_ARG;
	memcpy(&engine, req, sizeof engine);
	if (engine != NUB_SET_ENGINE_INTERP && engine != NUB_SET_ENGINE_JIT)
		return NUB_E_INVALID_ARG;
	if (engine == NUB_SET_ENGINE_JIT && !guest_jit_available())
		return NUB_E_NOT_IMPLEMENTED;
	guest_set_engine(engine == NUB_SET_ENGINE_JIT ? &guest_jit_engine : NULL);
	*out = 0;
	return NUB_E_OK;
}

/* A host that moved on to another request frees its suspended invocation. */
static void on_request(uint32_t fn_id)
{
	if (fn_id != NUB_FN_ID_HOST_CALL)
		guest_host_abandon();
}

void guest_handlers_register(void)
{
	guest_rpc_on_request = on_request;
	static const struct {
		uint32_t fn_id;
		guest_rpc_fn fn;
	} table[] = {
		{NUB_FN_ID_HEAP_STATS, h_heap_stats},
		{NUB_FN_ID_INVOKE_CACHED, h_invoke_cached},
		{NUB_FN_ID_PUT_CAP, h_put_cap},
		{NUB_FN_ID_GET_BOOT_INFO, h_get_boot_info},
		{NUB_FN_ID_EVICT_JIT_ALL, h_evict_jit_all},
		{NUB_FN_ID_INVOKE_WORKER, guest_invoke_worker},
		{NUB_FN_ID_SET_ENGINE, h_set_engine},
		{NUB_FN_ID_INVOKE_HOST, h_invoke_host},
		{NUB_FN_ID_HOST_CALL, h_host_call},
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		nub_err e = guest_rpc_register(table[i].fn_id, table[i].fn);
		if (e != NUB_E_OK)
			guest_panic(__FILE__, __LINE__, "handler registration refused");
	}
}
