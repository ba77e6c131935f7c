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

void guest_handlers_register(void)
{
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
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		nub_err e = guest_rpc_register(table[i].fn_id, table[i].fn);
		if (e != NUB_E_OK)
			guest_panic(__FILE__, __LINE__, "handler registration refused");
	}
}
