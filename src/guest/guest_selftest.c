/* guest_selftest.c: the built-in test driver (QEMU "selftest" mode).
 *
 * It plays the host: every call goes through the real mailbox and the real
 * dispatcher (guest_rpc_serve_one), and every reply is checked the way a
 * host must check an untrusted guest (guest_host_call). It runs the shared
 * differential scenario (tests/guest/guest_scenario.c; "R" lines, compared
 * with the local backend by tests/guest_test.sh), then guest-only checks,
 * one "G <name> ... ok=0|1" line each:
 *   protocol errors (unknown / out-of-range fn_ids, oversized req_len,
 *   wrong payload sizes) answered with errors while serving continues;
 *   registration refusing duplicates and out-of-range ids; the cap
 *   directory read through its published layout only (BootInfo), each
 *   entry's bytes re-hashed; heap accounting and no leak per invocation;
 *   the decoded-program cache emptied by EVICT_JIT_ALL.
 */
#include "cap/cap.h"
#include "guest/guest.h"
#include "guest_scenario.h"

static unsigned g_fails;

nub_err guest_host_call(uint32_t fn_id, const void *req, uint32_t req_len, void *resp, uint32_t resp_cap,
                        uint32_t *resp_len, bool *bad)
{
	NubRpcMailbox *mb = guest_mailbox();
	*bad = false;
	*resp_len = 0;
	if (req_len > NUB_RPC_REQ_CAP)
		return NUB_E_INVALID_ARG;
	if (req_len)
		memcpy(mb->req, req, req_len);
	uint32_t seq = mb->h.seq + 1;
	mb->h.fn_id = fn_id;
	mb->h.req_len = req_len;
	mb->h.seq = seq;
	mb->h.resp_seq = 0;
	guest_rpc_serve_one(mb);
	/* host-side checks of the reply: nothing in it is trusted */
	uint32_t st = mb->h.status, len = mb->h.resp_len, rseq = mb->h.resp_seq;
	const char *why = NULL;
	if (rseq != seq)
		why = "resp_seq != seq";
	else if (len > NUB_RPC_RESP_CAP)
		why = "resp_len > resp_cap";
	else if (len > resp_cap)
		why = "resp_len > caller buffer";
	else if (st >= NUB_E_MAX_)
		why = "status is no nub_err";
	if (why) {
		guest_log("HOSTCHECK reply rejected: %s (fn=%u status=0x%x resp_len=0x%x resp_seq=0x%x seq=0x%x)\n",
		          why, fn_id, st, len, rseq, seq);
		*bad = true;
		return NUB_E_INVALID_ARG;
	}
	if (len)
		memcpy(resp, mb->resp, len);
	*resp_len = len;
	return (nub_err)st;
}

/* ---- the scenario's ops over the mailbox ------------------------------------ */
static nub_err s_put(void *ctx, const uint8_t *b, size_t len, uint8_t hash[NUB_CAP_HASH_LEN])
{
	(void)ctx;
	uint32_t n;
	bool bad;
	if (len > NUB_RPC_REQ_CAP)
		return NUB_E_INVALID_ARG;
	nub_err e = guest_host_call(NUB_FN_ID_PUT_CAP, b, (uint32_t)len, hash, NUB_CAP_HASH_LEN, &n, &bad);
	if (!bad && e == NUB_E_OK && n != NUB_CAP_HASH_LEN) {
		guest_log("HOSTCHECK put_cap: ok with %u reply bytes\n", n);
		g_fails++;
	}
	return e;
}

static nub_err s_invoke(void *ctx, const InvokePacket *p, InvocationResult *r)
{
	(void)ctx;
	uint32_t n;
	bool bad;
	nub_err e = guest_host_call(NUB_FN_ID_INVOKE_CACHED, p, sizeof *p, r, sizeof *r, &n, &bad);
	if (!bad && n != sizeof *r) {
		guest_log("HOSTCHECK invoke: %u reply bytes\n", n);
		g_fails++;
	}
	return e;
}

static nub_err s_heap(void *ctx, NubHeapStats *out)
{
	(void)ctx;
	uint32_t n;
	bool bad;
	nub_err e = guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, out, sizeof *out, &n, &bad);
	return !e && n != sizeof *out ? NUB_E_INVALID_ARG : e;
}

static nub_err s_boot(void *ctx, BootInfo *out)
{
	(void)ctx;
	uint32_t n;
	bool bad;
	nub_err e = guest_host_call(NUB_FN_ID_GET_BOOT_INFO, NULL, 0, out, sizeof *out, &n, &bad);
	return !e && n != sizeof *out ? NUB_E_INVALID_ARG : e;
}

static nub_err s_evict(void *ctx)
{
	(void)ctx;
	uint32_t n;
	bool bad;
	return guest_host_call(NUB_FN_ID_EVICT_JIT_ALL, NULL, 0, NULL, 0, &n, &bad);
}

static void s_line(void *ctx, const char *text)
{
	(void)ctx;
	guest_log("%s\n", text);
}

static char g_detail[160];

static void check_(const char *name, bool ok)
{
	guest_log("G %s %s ok=%u\n", name, g_detail, ok ? 1u : 0u);
	if (!ok)
		g_fails++;
}
/* One "G" line: name, verdict, and two values formatted with fmt. */
#define check(name, ok, fmt, a, b)                                                                      \
	do {                                                                                            \
		bool ok_ = (ok);                                                                        \
		guest_snprintf(g_detail, sizeof g_detail, fmt, (unsigned long long)(a), (unsigned long long)(b)); \
		check_(name, ok_);                                                                      \
	} while (0)

/* A host's view of the directory: only BootInfo and the rpc.h layout. */
static const NubCapDirEntry *host_dir_lookup(const BootInfo *bi, const uint8_t *hash)
{
	const NubCapDirHeader *h = (const NubCapDirHeader *)(uintptr_t)bi->directory_va;
	if (bi->directory_type_id != NUB_CAPDIR_LAYOUT_V1 || h->magic != NUB_CAPDIR_MAGIC || !h->capacity ||
	    (h->capacity & (h->capacity - 1)))
		return NULL;
	const NubCapDirEntry *e = (const NubCapDirEntry *)(uintptr_t)h->entries;
	uint64_t k;
	memcpy(&k, hash, 8);
	for (uint32_t n = 0, i = (uint32_t)(k & (h->capacity - 1)); n < h->capacity; n++, i = (i + 1) & (h->capacity - 1)) {
		if (e[i].state == NUB_CAPDIR_EMPTY)
			return NULL;
		if (e[i].state == NUB_CAPDIR_FULL && memcmp(e[i].hash, hash, 32) == 0)
			return &e[i];
	}
	return NULL;
}

static nub_err dummy_handler(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	(void)req, (void)len, (void)resp, (void)cap;
	*out = 0;
	return NUB_E_OK;
}

static void guest_only_checks(void)
{
	uint8_t resp[256];
	uint32_t n;
	bool bad;
	NubHeapStats hs;
	nub_err e;

	/* protocol errors, each followed by a call that must work */
	static const uint32_t bad_ids[] = {0, 1, 8, 99, 107, 255, 256, 0xFFFFFFFFu};
	for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
		e = guest_host_call(bad_ids[i], NULL, 0, resp, sizeof resp, &n, &bad);
		nub_err e2 = guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &hs, sizeof hs, &n, &bad);
		check("unknown_fn", e == NUB_E_UNKNOWN_FN && !bad && e2 == NUB_E_OK, "fn=%llu then_heap_stats=%llu",
		      bad_ids[i], e2);
	}
	NubRpcMailbox *mb = guest_mailbox();
	mb->h.fn_id = NUB_FN_ID_PUT_CAP;
	mb->h.req_len = NUB_RPC_REQ_CAP + 1;
	mb->h.seq++;
	guest_rpc_serve_one(mb);
	check("req_len_over_cap", mb->h.status == NUB_E_RPC_LENGTH && mb->h.resp_len == 0, "status=%llu len=%llu",
	      mb->h.status, mb->h.resp_len);
	e = guest_host_call(NUB_FN_ID_INVOKE_CACHED, resp, 79, resp, sizeof resp, &n, &bad);
	check("invoke_short_packet", e == NUB_E_INVALID_ARG && n == sizeof(InvocationResult), "status=%llu len=%llu", e, n);
	e = guest_host_call(NUB_FN_ID_INVOKE_CACHED, resp, 81, resp, sizeof resp, &n, &bad);
	check("invoke_long_packet", e == NUB_E_INVALID_ARG, "status=%llu len=%llu", e, n);
	e = guest_host_call(NUB_FN_ID_HEAP_STATS, resp, 1, resp, sizeof resp, &n, &bad);
	check("heap_stats_with_payload", e == NUB_E_INVALID_ARG && n == 0, "status=%llu len=%llu", e, n);
	e = guest_host_call(NUB_FN_ID_GET_BOOT_INFO, resp, 4, resp, sizeof resp, &n, &bad);
	check("boot_info_with_payload", e == NUB_E_INVALID_ARG && n == 0, "status=%llu len=%llu", e, n);
	e = guest_host_call(NUB_FN_ID_INVOKE_WORKER, resp, 4, resp, sizeof resp, &n, &bad);
	check("invoke_worker_not_built", e == NUB_E_NOT_IMPLEMENTED, "status=%llu len=%llu", e, n);

	/* registration table */
	check("register_duplicate", guest_rpc_register(NUB_FN_ID_PUT_CAP, dummy_handler) == NUB_E_INVALID_ARG,
	      "fn=%llu refused (%llu)", NUB_FN_ID_PUT_CAP, 1);
	check("register_out_of_range", guest_rpc_register(NUB_FN_ID_SUBSTRATE_END, dummy_handler) == NUB_E_INVALID_ARG,
	      "fn=%llu refused (%llu)", NUB_FN_ID_SUBSTRATE_END, 1);
	check("register_reserved", guest_rpc_register(0, dummy_handler) == NUB_E_INVALID_ARG, "fn=%llu refused (%llu)",
	      0, 1);
	check("register_free_id", guest_rpc_register(200, dummy_handler) == NUB_E_OK &&
	                              guest_host_call(200, NULL, 0, resp, sizeof resp, &n, &bad) == NUB_E_OK,
	      "fn=%llu accepted and served (%llu)", 200, 1);

	/* the cap directory, through BootInfo + layout only */
	BootInfo bi;
	e = guest_host_call(NUB_FN_ID_GET_BOOT_INFO, NULL, 0, &bi, sizeof bi, &n, &bad);
	check("boot_info_fields", e == NUB_E_OK && bi.magic == NUB_BOOT_INFO_MAGIC && bi.directory_va &&
	                              bi.directory_type_id == NUB_CAPDIR_LAYOUT_V1 && bi.guest_va_base == NUB_GUEST_VA_BASE,
	      "directory_va=0x%llx type=0x%llx", bi.directory_va, bi.directory_type_id);
	unsigned np;
	const uint8_t(*pub)[NUB_CAP_HASH_LEN] = scn_published(&np);
	unsigned verified = 0;
	for (unsigned i = 0; i < np; i++) {
		const NubCapDirEntry *de = host_dir_lookup(&bi, pub[i]);
		uint8_t h[32];
		if (!de || de->len == 0)
			continue;
		cap_hash((const uint8_t *)(uintptr_t)de->bytes_gpa, de->len, h);
		if (memcmp(h, pub[i], 32) == 0 && de->kind == ((const uint8_t *)(uintptr_t)de->bytes_gpa)[0])
			verified++;
	}
	const NubCapDirHeader *dh = (const NubCapDirHeader *)(uintptr_t)bi.directory_va;
	check("capdir_host_view", np > 10 && verified == np, "published=%llu verified=%llu", np, verified);
	uint8_t absent[32];
	memset(absent, 0x42, sizeof absent);
	check("capdir_absent", host_dir_lookup(&bi, absent) == NULL, "count=%llu capacity=%llu", dh->count,
	      dh->capacity);

	/* heap accounting: allocated + available is the heap size, always */
	NubHeapStats a, b;
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &a, sizeof a, &n, &bad);
	check("heap_conserved", a.allocated_bytes + a.available_bytes == mb->h.ram_bytes - NUB_GUEST_HEAP_GPA,
	      "allocated+available=%llu heap=%llu", a.allocated_bytes + a.available_bytes,
	      mb->h.ram_bytes - NUB_GUEST_HEAP_GPA);
	/* an invocation frees its whole frame */
	InvokePacket p;
	InvocationResult r;
	memset(&p, 0, sizeof p);
	for (unsigned i = 0; i < np; i++) {
		const NubCapDirEntry *de = host_dir_lookup(&bi, pub[i]);
		if (de && de->kind == NUB_CAP_KIND_INSTANCE) {
			memcpy(p.instance_hash, pub[i], 32);
			break;
		}
	}
	p.initial_gas = 1000;
	guest_host_call(NUB_FN_ID_INVOKE_CACHED, &p, sizeof p, &r, sizeof r, &n, &bad); /* warm the cache */
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &a, sizeof a, &n, &bad);
	for (int i = 0; i < 20; i++)
		guest_host_call(NUB_FN_ID_INVOKE_CACHED, &p, sizeof p, &r, sizeof r, &n, &bad);
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &b, sizeof b, &n, &bad);
	check("invoke_no_leak", a.allocated_bytes == b.allocated_bytes && a.allocation_count == b.allocation_count,
	      "allocated_before=%llu allocated_after=%llu", a.allocated_bytes, b.allocated_bytes);

	/* EVICT_JIT_ALL empties the decoded-program cache and frees it */
	size_t cached = guest_cached_programs();
	e = guest_host_call(NUB_FN_ID_EVICT_JIT_ALL, NULL, 0, NULL, 0, &n, &bad);
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &b, sizeof b, &n, &bad);
	check("evict_empties_cache", e == NUB_E_OK && cached > 0 && guest_cached_programs() == 0 &&
	                                 b.allocated_bytes < a.allocated_bytes,
	      "cached_before=%llu cached_after=%llu", cached, guest_cached_programs());
}

unsigned guest_selftest(void)
{
	g_fails = 0;
	scn_ops ops = {NULL, s_put, s_invoke, s_heap, s_boot, s_evict, s_line};
	unsigned lines = scn_run(&ops);
	guest_log("G scenario_lines n=%u ok=%u\n", lines, lines > 30 ? 1u : 0u);
	if (lines <= 30)
		g_fails++;
	guest_only_checks();
	return g_fails;
}
