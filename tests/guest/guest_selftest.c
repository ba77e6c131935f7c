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
 *   the decoded-program cache emptied by EVICT_JIT_ALL; and PVM memory
 *   under the MMU: the scenario's faults and copy-on-write fills really
 *   went through the #PF handler, the published frames are unchanged after
 *   it, engine-level runs in a window (write to a read-only page, a store
 *   crossing into an unmapped page writes nothing, copy-on-write of a shared
 *   frame, the leaf entries' P/W/NX bits), 200 invocations in a row with
 *   the heap statistics equal before and after.
 */
#include "cap/cap.h"
#include "cap/cap_core.h"
#include "cap/lane_slot.h"
#include "guest_test.h"
#include "guest/guest_cpu_x86_64.h"
#include "guest_scenario.h"
#include "pvm/pvm.h"


/* True when every published frame still holds exactly its cap's bytes
 * (zero-padded to the page) and every such cap still hashes to its name;
 * *n = caps with frames. */
static void frames_check(cap_entry *c, void *ctx)
{
	size_t *st = ctx; /* st[0] = caps with frames, st[1] = bad */
	if (!c->frames)
		return;
	st[0]++;
	uint8_t h[NUB_CAP_HASH_LEN];
	cap_hash(c->bytes, c->len, h); /* a Data cap's frames are its own bytes */
	if (memcmp(h, c->hash, sizeof h) != 0)
		st[1]++;
	const uint8_t *parts[2] = {NULL, NULL};
	uint32_t lens[2] = {0, 0};
	if (c->view.kind == NUB_CAP_KIND_DATA) {
		parts[0] = c->view.u.data.bytes;
		lens[0] = c->view.u.data.len;
	} else {
		parts[0] = c->view.u.image.ro;
		lens[0] = c->view.u.image.ro_len;
		parts[1] = c->view.u.image.rw;
		lens[1] = c->view.u.image.rw_len;
	}
	const uint8_t *f = c->frames;
	for (unsigned k = 0; k < 2; k++) {
		size_t n = ((size_t)lens[k] + 4095u) / 4096u * 4096u;
		if (f != parts[k] && memcmp(f, parts[k], lens[k]) != 0)
			st[1]++;
		for (size_t i = lens[k]; i < n; i++)
			if (f[i])
				st[1]++;
		f += n;
	}
}

static bool frames_intact(size_t *n_caps)
{
	size_t st[2] = {0, 0};
	cap_store *s = guest_cap_store();
	s->ops->foreach(s, frames_check, st);
	*n_caps = st[0];
	return st[1] == 0;
}

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

/* ---- PVM memory under the MMU, at the engine level ---------------------- */
/* @0 store_u64 [0x20000], r7; @6 jump_ind r0 */
static const uint8_t t_store_20000[] = {0, 0, 8, 62, 7, 0, 0, 2, 0, 50, 0, 0x41};
/* @0 store_u64 [0x20ffc], r7; @6 jump_ind r0 */
static const uint8_t t_store_20ffc[] = {0, 0, 8, 62, 7, 0xFC, 0x0F, 2, 0, 50, 0, 0x41};

#define PTE_FRAME(e) ((e) & X86_PTE_ADDR_MASK)
#define PTE_NX(e) (((e) >> X86_PTE_NX_BIT) & 1)

static pvm_instance *mmu_instance(const pvm_program *p, uint64_t r7)
{
	pvm_instance *m = NULL;
	if (pvm_instance_new(p, &m) != PVM_E_OK)
		return NULL;
	pvm_set_reg(m, 0, PVM_HALT_ADDR);
	pvm_set_reg(m, 7, r7);
	pvm_set_gas(m, 100);
	return m;
}

static void mmu_engine_checks(void)
{
	pvm_program *ps = NULL, *px = NULL;
	NubHeapStats h0, h1;
	uint64_t f0, c0, f1, c1;
	const uint64_t v = 0xDEADBEEFCAFEF00Dull;
	static const uint8_t pat[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	uint8_t back[8];
	guest_heap_stats(&h0);
	if (pvm_program_new(t_store_20000, sizeof t_store_20000, &ps) != PVM_E_OK ||
	    pvm_program_new(t_store_20ffc, sizeof t_store_20ffc, &px) != PVM_E_OK) {
		check("mmu_programs", false, "decoded=%llu %llu", ps != NULL, px != NULL);
		return;
	}

	/* a store to a read-only page: #PF in the window, PAGE_FAULT at the
	 * page, the store charged and the rest of the run refunded */
	pvm_instance *m = mmu_instance(ps, v);
	GUEST_ASSERT(m);
	bool set = pvm_mem_map(m, 0x20000, 4096, PVM_ACCESS_RO) == PVM_E_OK && pvm_mem_write(m, 0x20000, pat, 8) == PVM_E_OK;
	guest_paging_stats(&f0, &c0);
	pvm_exit x = pvm_run(m);
	guest_paging_stats(&f1, &c1);
	uint64_t pte = guest_paging_window_pte(0x20000);
	bool same = pvm_mem_read(m, 0x20000, back, 8) == PVM_E_OK && memcmp(back, pat, 8) == 0;
	check("mmu_write_readonly_page",
	      set && x == PVM_EXIT_PAGE_FAULT && pvm_exit_arg(m) == 0x20000 && pvm_pc(m) == 0 && pvm_gas(m) == 99 &&
	          f1 == f0 + 1 && c1 == c0 && same && (pte & X86_PTE_P) && !(pte & X86_PTE_W) && PTE_NX(pte),
	      "exit=%llu faults_caught=%llu", x, f1 - f0);
	check("mmu_window_all_nx", guest_paging_window_all_nx(), "pte=0x%llx nx=%llu", pte, PTE_NX(pte));
	pvm_instance_free(m);

	/* a store crossing from a writable page into an unmapped one: slow
	 * path, PAGE_FAULT at the unmapped page, nothing written */
	m = mmu_instance(px, v);
	GUEST_ASSERT(m);
	set = pvm_mem_map(m, 0x20000, 4096, PVM_ACCESS_RW) == PVM_E_OK && pvm_mem_write(m, 0x20FF8, pat, 8) == PVM_E_OK;
	guest_paging_stats(&f0, &c0);
	x = pvm_run(m);
	guest_paging_stats(&f1, &c1);
	same = pvm_mem_read(m, 0x20FF8, back, 8) == PVM_E_OK && memcmp(back, pat, 8) == 0;
	pte = guest_paging_window_pte(0x20000);
	check("mmu_cross_store_into_unmapped",
	      set && x == PVM_EXIT_PAGE_FAULT && pvm_exit_arg(m) == 0x21000 && pvm_pc(m) == 0 && pvm_gas(m) == 99 &&
	          same && guest_paging_window_pte(0x21000) == 0 && (pte & X86_PTE_W) && f1 == f0,
	      "exit=%llu arg=0x%llx", x, pvm_exit_arg(m));
	pvm_instance_free(m);

	/* a shared (published) frame: mapped read-only, copied on the first
	 * write by the #PF handler, the frame itself unchanged */
	uint8_t *frame = guest_heap_alloc(4096, 4096);
	GUEST_ASSERT(frame);
	for (unsigned i = 0; i < 4096; i++)
		frame[i] = (uint8_t)(i * 13u + 1u);
	m = mmu_instance(ps, v);
	GUEST_ASSERT(m);
	set = pvm_mem_map(m, 0x20000, 4096, PVM_ACCESS_RW) == PVM_E_OK && pvm_mem_share(m, 0x20000, frame) == PVM_E_OK;
	guest_paging_stats(&f0, &c0);
	x = pvm_run(m);
	guest_paging_stats(&f1, &c1);
	pte = guest_paging_window_pte(0x20000);
	bool frame_same = true;
	for (unsigned i = 0; i < 4096; i++)
		frame_same &= frame[i] == (uint8_t)(i * 13u + 1u);
	uint8_t page[16];
	bool copied = pvm_mem_read(m, 0x20000, page, 16) == PVM_E_OK && memcmp(page, &v, 8) == 0 &&
	              memcmp(page + 8, frame + 8, 8) == 0;
	check("mmu_cow_shared_frame",
	      set && x == PVM_EXIT_HALT && pvm_gas(m) == 98 && c1 == c0 + 1 && f1 == f0 && frame_same && copied &&
	          (pte & X86_PTE_W) && PTE_FRAME(pte) != (uint64_t)(uintptr_t)frame && PTE_NX(pte),
	      "exit=%llu cow_fills=%llu", x, c1 - c0);
	pvm_instance_free(m);
	guest_heap_free(frame);
	pvm_program_free(ps);
	pvm_program_free(px);
	guest_heap_stats(&h1);
	check("mmu_engine_no_leak", h0.allocated_bytes == h1.allocated_bytes && h0.allocation_count == h1.allocation_count,
	      "allocated_before=%llu allocated_after=%llu", h0.allocated_bytes, h1.allocated_bytes);
}

/* Window faults that ended a run and copy-on-write fills, by either
 * engine: the interpreter's in ring 0 (guest_paging.c) and compiled code's
 * in ring 3 (guest_jit.c), so the counts hold with "engine=jit" too. */
static void pf_stats(uint64_t *faults, uint64_t *fills)
{
	guest_jit_stats js;
	guest_paging_stats(faults, fills);
	guest_jit_get_stats(&js);
	*faults += js.exits;
	*fills += js.cow_fills;
}

static void guest_only_checks(void)
{
	uint8_t resp[256];
	uint32_t n;
	bool bad;
	NubHeapStats hs;
	nub_err e;

	/* protocol errors, each followed by a call that must work */
	static const uint32_t bad_ids[] = {0, 1, NUB_FN_ID_EXT_END, 99, 107, 255, 256, 0xFFFFFFFFu};
	for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
		e = guest_host_call(bad_ids[i], NULL, 0, resp, sizeof resp, &n, &bad);
		nub_err e2 = guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &hs, sizeof hs, &n, &bad);
		check("unknown_fn", e == NUB_E_UNKNOWN_FN && !bad && e2 == NUB_E_OK, "fn=%llu then_heap_stats=%llu",
		      bad_ids[i], e2);
	}
	/* SET_ENGINE: a LE u32 of 1 (interpreter) or 2 (JIT); a change evicts
	 * every cached program; the engine in force comes back */
	{
		cap_store *st = guest_cap_store();
		const cap_engine_ops *was = st->engine;
		uint32_t v[2] = {0, 3};
		nub_err e0 = guest_host_call(NUB_FN_ID_SET_ENGINE, &v[0], 4, resp, sizeof resp, &n, &bad);
		nub_err e3 = guest_host_call(NUB_FN_ID_SET_ENGINE, &v[1], 4, resp, sizeof resp, &n, &bad);
		nub_err el = guest_host_call(NUB_FN_ID_SET_ENGINE, &v[0], 3, resp, sizeof resp, &n, &bad);
		uint32_t other = was ? NUB_SET_ENGINE_INTERP : NUB_SET_ENGINE_JIT;
		uint32_t back = was ? NUB_SET_ENGINE_JIT : NUB_SET_ENGINE_INTERP;
		nub_err eo = guest_host_call(NUB_FN_ID_SET_ENGINE, &other, 4, resp, sizeof resp, &n, &bad);
		bool switched = st->engine != was && st->cached_programs == 0 && n == 0;
		nub_err eb = guest_host_call(NUB_FN_ID_SET_ENGINE, &back, 4, resp, sizeof resp, &n, &bad);
		bool refused = e0 == NUB_E_INVALID_ARG && e3 == NUB_E_INVALID_ARG && el == NUB_E_INVALID_ARG;
		check("set_engine",
		      refused && eo == NUB_E_OK && eb == NUB_E_OK && switched && st->engine == was && guest_jit_available(),
		      "refused_bad=%llu switched_and_evicted=%llu", refused, switched);
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
	e = guest_host_call(NUB_FN_ID_INVOKE_WORKER, resp, 3, resp, sizeof resp, &n, &bad);
	check("invoke_worker_short_payload", e == NUB_E_INVALID_ARG && n == 0, "status=%llu len=%llu", e, n);
	static const uint8_t lane64[4] = {MAX_EXECUTION_LANES, 0, 0, 0};
	e = guest_host_call(NUB_FN_ID_INVOKE_WORKER, lane64, 4, resp, sizeof resp, &n, &bad);
	check("invoke_worker_lane_range", e == NUB_E_INVALID_ARG && n == 0, "status=%llu len=%llu", e, n);

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

	/* EVICT_JIT_ALL empties the decoded-program cache and frees it; on the
	 * JIT its compiled code too, which HEAP_STATS counted (it lives in the
	 * heap): only the exit gate's page stays mapped for ring 3 */
	size_t cached = guest_cap_store()->cached_programs;
	guest_jit_stats j0, j1;
	guest_jit_get_stats(&j0);
	e = guest_host_call(NUB_FN_ID_EVICT_JIT_ALL, NULL, 0, NULL, 0, &n, &bad);
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &b, sizeof b, &n, &bad);
	guest_jit_get_stats(&j1);
	check("evict_empties_cache", e == NUB_E_OK && cached > 0 && guest_cap_store()->cached_programs == 0 &&
	                                 b.allocated_bytes < a.allocated_bytes,
	      "cached_before=%llu cached_after=%llu", cached, guest_cap_store()->cached_programs);
	bool jit = guest_cap_store()->engine != NULL;
	check("evict_frees_compiled_code",
	      !jit || (j0.region_bytes > 4096 && j1.region_bytes == 4096 &&
	               a.allocated_bytes - b.allocated_bytes >= j0.region_bytes - 4096),
	      "code_bytes_before=%llu heap_freed=%llu", j0.region_bytes, a.allocated_bytes - b.allocated_bytes);
}

/* 200 invocations in a row over every published Instance (copy-on-write,
 * faults, the 64 MiB sbrk, ...): the heap statistics are equal after. */
static void invoke_many_no_leak(void)
{
	BootInfo bi;
	uint32_t n;
	bool bad;
	unsigned np, ni = 0;
	guest_host_call(NUB_FN_ID_GET_BOOT_INFO, NULL, 0, &bi, sizeof bi, &n, &bad);
	const uint8_t(*pub)[NUB_CAP_HASH_LEN] = scn_published(&np);
	static uint8_t inst[64][NUB_CAP_HASH_LEN];
	for (unsigned i = 0; i < np && ni < 64; i++) {
		const NubCapDirEntry *de = host_dir_lookup(&bi, pub[i]);
		if (de && de->kind == NUB_CAP_KIND_INSTANCE)
			memcpy(inst[ni++], pub[i], 32);
	}
	InvokePacket p;
	InvocationResult r;
	memset(&p, 0, sizeof p);
	p.args[0] = 0x0102030405060708ull;
	p.args[1] = 0x1122334455667788ull;
	p.initial_gas = 20000;
	for (unsigned i = 0; i < ni; i++) { /* warm the program cache */
		memcpy(p.instance_hash, inst[i], 32);
		guest_host_call(NUB_FN_ID_INVOKE_CACHED, &p, sizeof p, &r, sizeof r, &n, &bad);
	}
	NubHeapStats a, b;
	uint64_t f0, c0, f1, c1;
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &a, sizeof a, &n, &bad);
	pf_stats(&f0, &c0);
	unsigned ok_calls = 0;
	for (unsigned i = 0; i < 200 && ni; i++) {
		memcpy(p.instance_hash, inst[i % ni], 32);
		if (guest_host_call(NUB_FN_ID_INVOKE_CACHED, &p, sizeof p, &r, sizeof r, &n, &bad) == NUB_E_OK && !bad)
			ok_calls++;
	}
	pf_stats(&f1, &c1);
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &b, sizeof b, &n, &bad);
	check("invoke_200_no_leak",
	      ok_calls == 200 && ni >= 10 && a.allocated_bytes == b.allocated_bytes &&
	          a.allocation_count == b.allocation_count && a.fragment_count == b.fragment_count &&
	          a.available_bytes == b.available_bytes && f1 > f0 && c1 > c0,
	      "allocated_before=%llu allocated_after=%llu", a.allocated_bytes, b.allocated_bytes);
	guest_log("G invoke_200_detail instances=%u calls_ok=%u faults_caught=%llu cow_fills=%llu fragments=%llu/%llu ok=1\n",
	          ni, ok_calls, (unsigned long long)(f1 - f0), (unsigned long long)(c1 - c0),
	          (unsigned long long)a.fragment_count, (unsigned long long)b.fragment_count);
}

/* ---- INVOKE_WORKER on this one CPU: the idle hook plays the host ---------
 * Lane 5's slot gets every job through the protocol (post, DONE, take),
 * then an EVICT_JIT_READY, then STOP; the results must be byte for byte the
 * INVOKE_CACHED results of the same packets, and the heap flat. */
#define LANE_JOBS 96u
#define GUEST_MAX_LANES_TESTED 8u
static struct {
	InvokePacket p[LANE_JOBS];
	InvocationResult r[LANE_JOBS];
	unsigned next, taken, bad;
	uint64_t job_id;
	bool evict_asked, evicted, stop_asked;
} lt;

static InvocationResult want[LANE_JOBS]; /* INVOKE_CACHED's results of lt.p */

static void lane_host_hook(ParallelInvokeSlot *s, uint32_t seen)
{
	(void)seen;
	uint32_t st = lane_slot_status(s);
	if (st == NUB_SLOT_DONE) {
		if (lt.evict_asked && !lt.evicted) {
			lt.evicted = lane_slot_ack(s);
		} else if (lane_slot_take(s, lt.job_id, &lt.r[lt.taken]) == LANE_TAKE_DONE) {
			lt.taken++;
		} else {
			lt.bad++;
		}
		return;
	}
	if (st != NUB_SLOT_EMPTY)
		return;
	if (lt.next < LANE_JOBS) {
		lt.job_id = 1000 + lt.next;
		if (!lane_slot_post(s, lt.job_id, &lt.p[lt.next++]))
			lt.bad++;
	} else if (!lt.evict_asked) {
		lt.evict_asked = lane_slot_request(s, NUB_SLOT_EVICT_JIT_READY);
	} else if (!lt.stop_asked) {
		lt.stop_asked = lane_slot_request(s, NUB_SLOT_STOP);
	}
}

static void lane_worker_checks(void)
{
	BootInfo bi;
	uint32_t n;
	bool bad;
	unsigned np, ni = 0;
	guest_host_call(NUB_FN_ID_GET_BOOT_INFO, NULL, 0, &bi, sizeof bi, &n, &bad);
	const uint8_t(*pub)[NUB_CAP_HASH_LEN] = scn_published(&np);
	static uint8_t inst[64][NUB_CAP_HASH_LEN];
	for (unsigned i = 0; i < np && ni < 64; i++) {
		const NubCapDirEntry *de = host_dir_lookup(&bi, pub[i]);
		if (de && de->kind == NUB_CAP_KIND_INSTANCE)
			memcpy(inst[ni++], pub[i], 32);
	}
	if (!ni) {
		check("invoke_worker_serves_slot", false, "instances=%llu jobs=%llu", ni, 0);
		return;
	}
	memset(&lt, 0, sizeof lt);
	for (unsigned j = 0; j < LANE_JOBS; j++) {
		InvokePacket *p = &lt.p[j];
		memcpy(p->instance_hash, inst[j % ni], 32);
		p->args[0] = 0x0102030405060708ull * (j + 1);
		p->args[1] = j;
		p->initial_gas = 500 + 97u * j;
		if (j == 7)
			p->endpoint_idx = 63; /* an error result travels through the slot too */
		guest_host_call(NUB_FN_ID_INVOKE_CACHED, p, sizeof *p, &want[j], sizeof want[j], &n, &bad);
	}
	NubHeapStats a, b;
	/* nothing cached before, nothing after (the handshake evicts): the heap
	 * must come back to exactly these figures */
	guest_host_call(NUB_FN_ID_EVICT_JIT_ALL, NULL, 0, NULL, 0, &n, &bad);
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &a, sizeof a, &n, &bad);
	ParallelInvokeSlot *s = (ParallelInvokeSlot *)(uintptr_t)(NUB_GUEST_SLOTS_GPA + 5u * NUB_PARALLEL_SLOT_STRIDE);
	lane_slot_init(s);
	guest_lane_idle_hook = lane_host_hook;
	static const uint8_t lane5[4] = {5, 0, 0, 0};
	nub_err e = guest_host_call(NUB_FN_ID_INVOKE_WORKER, lane5, 4, NULL, 0, &n, &bad);
	guest_lane_idle_hook = NULL;
	unsigned same = 0;
	for (unsigned j = 0; j < lt.taken; j++)
		same += memcmp(&lt.r[j], &want[j], sizeof want[j]) == 0;
	check("invoke_worker_serves_slot",
	      e == NUB_E_OK && n == 0 && lt.taken == LANE_JOBS && same == LANE_JOBS && lt.bad == 0 &&
	          want[7].exit_reason == NUB_EXIT_ERROR && lane_slot_status(s) == NUB_SLOT_STOP,
	      "jobs=%llu same_as_invoke_cached=%llu", lt.taken, same);
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &b, sizeof b, &n, &bad);
	check("invoke_worker_evict_handshake", lt.evicted && guest_cap_store()->cached_programs == 0,
	      "evicted=%llu cached_after=%llu", lt.evicted, guest_cap_store()->cached_programs);
	/* the worker's jobs freed their frames; the eviction freed programs */
	check("invoke_worker_no_leak", b.allocation_count == a.allocation_count && b.allocated_bytes == a.allocated_bytes,
	      "allocated_before=%llu allocated_after=%llu", a.allocated_bytes, b.allocated_bytes);
}

/* ---- host calls on a lane, this CPU: the idle hook plays the host --------
 * The packets of lane_worker_checks posted with host calls on lane 6. At
 * each host call the hook asks the worker for an 8-byte read at phi1 and an
 * 8-byte write there (HOST_MEM, served through lane 6's buffer), then
 * answers (phi7 = number * 3 + k, one gas less, STOP at the 41st call).
 * The packets of lane_worker_checks, then a loop of args[0] ecallis.
 * Every result and every memory answer must equal what INVOKE_HOST /
 * HOST_CALL give for the same answers on the mailbox; the heap flat. */
#define HL_JOBS 48u
#define HL_LOOPS 16u /* the last jobs: a loop of ecallis (below) */
static struct {
	unsigned next, taken, bad, calls, phase, k;
	uint64_t job_id, sum, val;
	uint32_t addr;
	InvocationResult r[HL_JOBS];
	uint64_t sums[HL_JOBS];
	bool stop_asked;
} hl;

static InvokePacket hl_p[HL_JOBS];

/* Loop r7 times: @0 ecalli 1; @2 add_imm_64 r7,r7,-1; @5 branch_ne_imm
 * r7,0,@0; @8 jump_ind r0 (tests/kvm/kvm_sandbox_test.c's hc_prog_loop). */
static const uint8_t hl_prog_loop[] = {0, 0, 10, 10, 1, 149, 0x77, 0xFF, 82, 0x07, 0xFB, 50, 0x00, 0x25, 0x01};

/* Publish the loop (bare, no memory) as an Image and an Instance. */
static bool hl_publish_loop(uint8_t inst[NUB_CAP_HASH_LEN])
{
	static uint8_t enc[512];
	cap_endpoint ep = {0, {0}};
	ep.regs[0] = NUB_HALT_ADDR;
	cap_image_view v = {0};
	v.layout = NUB_CAP_LAYOUT_BARE;
	v.code = hl_prog_loop;
	v.code_len = sizeof hl_prog_loop;
	v.endpoint_count = 1;
	v.endpoints = &ep;
	nub_err e;
	uint8_t img[NUB_CAP_HASH_LEN];
	size_t n = cap_image_encoded_len(&v, &e);
	if (!n || n > sizeof enc || cap_image_encode(&v, enc, sizeof enc) != NUB_E_OK || s_put(NULL, enc, n, img))
		return false;
	n = cap_instance_encoded_len(0, NULL, &e);
	return n && n <= sizeof enc && cap_instance_encode(img, 0, NULL, enc, sizeof enc) == NUB_E_OK &&
	       s_put(NULL, enc, n, inst) == NUB_E_OK;
}

static uint8_t *lane_buf(uint32_t lane)
{
	return (uint8_t *)(uintptr_t)(NUB_GUEST_LANE_BUFS_GPA + (uint64_t)lane * NUB_GUEST_LANE_BUF_SIZE);
}

static uint64_t mix(uint64_t sum, uint64_t v)
{
	return sum * 1000003u + v + 1;
}

static void hl_host_hook(ParallelInvokeSlot *s, uint32_t seen)
{
	(void)seen;
	uint32_t st = lane_slot_status(s);
	nub_err e = NUB_E_OK;
	if (st == NUB_SLOT_DONE) {
		if (lane_slot_take(s, hl.job_id, &hl.r[hl.taken]) == LANE_TAKE_DONE)
			hl.sums[hl.taken++] = hl.sum;
		else
			hl.bad++;
		return;
	}
	if (st == NUB_SLOT_HOST_WAIT && hl.phase == 0) {
		if (lane_slot_take(s, hl.job_id, &hl.r[hl.taken]) != LANE_TAKE_HOST_CALL) {
			hl.bad++;
			return;
		}
		hl.calls++;
		hl.addr = (uint32_t)s->host_call.regs[1];
		hl.val = (uint64_t)s->host_call.number * 7 + hl.k;
		hl.phase = lane_slot_mem_request(s, NUB_SLOT_MEM_READ, hl.addr, 8) ? 1 : 0;
		hl.bad += hl.phase == 0;
		return;
	}
	if (st == NUB_SLOT_HOST_WAIT && hl.phase == 1) {
		uint64_t v = 0;
		if (lane_slot_mem_result(s, &e) != LANE_MEM_DONE)
			hl.bad++;
		if (e == NUB_E_OK)
			memcpy(&v, lane_buf(6), 8);
		hl.sum = mix(mix(hl.sum, e), v);
		memcpy(lane_buf(6), &hl.val, 8);
		hl.phase = lane_slot_mem_request(s, NUB_SLOT_MEM_WRITE, hl.addr, 8) ? 2 : 0;
		hl.bad += hl.phase == 0;
		return;
	}
	if (st == NUB_SLOT_HOST_WAIT && hl.phase == 2) {
		if (lane_slot_mem_result(s, &e) != LANE_MEM_DONE)
			hl.bad++;
		hl.sum = mix(hl.sum, e);
		NubSlotHostCall *c = &s->host_call;
		c->regs[7] = (uint64_t)c->number * 3 + hl.k;
		if (c->gas)
			c->gas--;
		if (!lane_slot_answer(s, hl.k == 40 ? NUB_SLOT_HOST_STOP : NUB_SLOT_HOST_RESUME))
			hl.bad++;
		hl.k++;
		hl.phase = 0;
		return;
	}
	if (st != NUB_SLOT_EMPTY)
		return;
	if (hl.next < HL_JOBS) {
		hl.job_id = 2000 + hl.next;
		hl.sum = 0;
		hl.k = 0;
		if (!lane_slot_post_host(s, hl.job_id, &hl_p[hl.next++]))
			hl.bad++;
	} else if (!hl.stop_asked) {
		hl.stop_asked = lane_slot_request(s, NUB_SLOT_STOP);
	}
}

/* The same on the mailbox: INVOKE_HOST, then per call READ, WRITE, ANSWER. */
static void hl_mailbox(const InvokePacket *p, InvocationResult *r, uint64_t *sum, unsigned *calls)
{
	NubHostStep st;
	uint32_t n;
	bool bad;
	*sum = 0;
	memset(&st, 0, sizeof st);
	guest_host_call(NUB_FN_ID_INVOKE_HOST, p, sizeof *p, &st, sizeof st, &n, &bad);
	for (unsigned k = 0; st.state == NUB_HOST_STEP_CALL && k < 1000000; k++) {
		++*calls;
		uint32_t addr = (uint32_t)st.regs[1];
		uint64_t v = 0, val = (uint64_t)st.number * 7 + k;
		struct {
			NubHostOp op;
			uint64_t data;
		} req;
		memset(&req, 0, sizeof req);
		req.op.op = NUB_HOST_OP_READ;
		req.op.addr = addr;
		req.op.len = 8;
		nub_err e = guest_host_call(NUB_FN_ID_HOST_CALL, &req.op, sizeof req.op, &v, sizeof v, &n, &bad);
		*sum = mix(mix(*sum, e), e == NUB_E_OK ? v : 0);
		req.op.op = NUB_HOST_OP_WRITE;
		req.data = val;
		e = guest_host_call(NUB_FN_ID_HOST_CALL, &req, sizeof req, NULL, 0, &n, &bad);
		*sum = mix(*sum, e);
		memset(&req, 0, sizeof req);
		req.op.op = NUB_HOST_OP_ANSWER;
		req.op.action = k == 40 ? NUB_HOST_ACTION_STOP : NUB_HOST_ACTION_RESUME;
		memcpy(req.op.regs, st.regs, sizeof st.regs);
		req.op.regs[7] = (uint64_t)st.number * 3 + k;
		req.op.gas = st.gas ? st.gas - 1 : 0;
		guest_host_call(NUB_FN_ID_HOST_CALL, &req.op, sizeof req.op, &st, sizeof st, &n, &bad);
	}
	*r = st.result;
}

static void lane_host_call_checks(void)
{
	uint32_t n;
	bool bad;
	static InvocationResult want_r[HL_JOBS];
	static uint64_t want_sum[HL_JOBS];
	unsigned mb_calls = 0;
	uint8_t loop[NUB_CAP_HASH_LEN];
	bool published = hl_publish_loop(loop);
	for (unsigned j = 0; j < HL_JOBS; j++) {
		if (j < HL_JOBS - HL_LOOPS) {
			hl_p[j] = lt.p[j];
		} else {
			memset(&hl_p[j], 0, sizeof hl_p[j]);
			memcpy(hl_p[j].instance_hash, loop, sizeof loop);
			hl_p[j].args[0] = 3u * (j - (HL_JOBS - HL_LOOPS)); /* 0 .. 45 calls: some stop at the 41st */
			hl_p[j].initial_gas = 100; /* 4 gas a call: the longer loops run out of gas */
		}
		hl_mailbox(&hl_p[j], &want_r[j], &want_sum[j], &mb_calls);
	}
	NubHeapStats a, b;
	guest_host_call(NUB_FN_ID_EVICT_JIT_ALL, NULL, 0, NULL, 0, &n, &bad);
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &a, sizeof a, &n, &bad);
	memset(&hl, 0, sizeof hl);
	ParallelInvokeSlot *s = (ParallelInvokeSlot *)(uintptr_t)(NUB_GUEST_SLOTS_GPA + 6u * NUB_PARALLEL_SLOT_STRIDE);
	lane_slot_init(s);
	guest_lane_idle_hook = hl_host_hook;
	static const uint8_t lane6[4] = {6, 0, 0, 0};
	nub_err e = guest_host_call(NUB_FN_ID_INVOKE_WORKER, lane6, 4, NULL, 0, &n, &bad);
	guest_lane_idle_hook = NULL;
	unsigned same = 0;
	for (unsigned j = 0; j < hl.taken; j++)
		same += memcmp(&hl.r[j], &want_r[j], sizeof want_r[j]) == 0 && hl.sums[j] == want_sum[j];
	check("lane_host_calls_equal_mailbox",
	      published && e == NUB_E_OK && hl.taken == HL_JOBS && same == HL_JOBS && hl.bad == 0 &&
	          hl.calls == mb_calls && hl.calls > 200,
	      "jobs=%llu same_as_mailbox=%llu", hl.taken, same);
	guest_log("G lane_host_calls_detail calls=%u mailbox_calls=%u ok=1\n", hl.calls, mb_calls);
	guest_host_call(NUB_FN_ID_EVICT_JIT_ALL, NULL, 0, NULL, 0, &n, &bad);
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &b, sizeof b, &n, &bad);
	check("lane_host_calls_no_leak", b.allocation_count == a.allocation_count && b.allocated_bytes == a.allocated_bytes,
	      "allocated_before=%llu allocated_after=%llu", a.allocated_bytes, b.allocated_bytes);
}

/* ---- lanes on the application processors (QEMU -smp N) -------------------
 * The APs come up by INIT/SIPI and serve lanes 0..N-2; this CPU plays the
 * host: the jobs of lane_worker_checks dealt over every lane (post to any
 * EMPTY lane, take every DONE), results byte for byte INVOKE_CACHED's;
 * then EVICT_JIT_READY on every lane, the heap back to its figures, STOP. */
static ParallelInvokeSlot *lane_slot(uint32_t lane)
{
	return (ParallelInvokeSlot *)(uintptr_t)(NUB_GUEST_SLOTS_GPA + (uint64_t)lane * NUB_PARALLEL_SLOT_STRIDE);
}

static void smp_lane_checks(uint32_t smp)
{
	uint32_t n = guest_smp_start_sipi(smp);
	check("smp_aps_up", n == smp - 1, "up=%llu want=%llu", n, smp - 1);
	if (!n || lt.taken != LANE_JOBS)
		return;
	uint32_t len;
	bool badr;
	NubHeapStats a, b;
	guest_host_call(NUB_FN_ID_EVICT_JIT_ALL, NULL, 0, NULL, 0, &len, &badr);
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &a, sizeof a, &len, &badr);
	static InvocationResult got[LANE_JOBS];
	uint64_t id[GUEST_MAX_LANES_TESTED] = {0};
	unsigned job_of[GUEST_MAX_LANES_TESTED] = {0}, per_lane[GUEST_MAX_LANES_TESTED] = {0};
	bool busy[GUEST_MAX_LANES_TESTED] = {false};
	unsigned next = 0, done = 0, bad = 0;
	guest_jit_stats js0, js1;
	guest_jit_get_stats(&js0);
	if (n > GUEST_MAX_LANES_TESTED)
		n = GUEST_MAX_LANES_TESTED;
	for (uint64_t spins = 0; done < LANE_JOBS && spins < (1ull << 32); spins++) {
		for (uint32_t l = 0; l < n; l++) {
			ParallelInvokeSlot *s = lane_slot(l);
			if (busy[l] && lane_slot_status(s) == NUB_SLOT_DONE) {
				if (lane_slot_take(s, id[l], &got[job_of[l]]) == LANE_TAKE_DONE)
					done++;
				else
					bad++;
				busy[l] = false;
			}
			if (!busy[l] && next < LANE_JOBS) {
				id[l] = 5000 + next;
				job_of[l] = next;
				if (lane_slot_post(s, id[l], &lt.p[next])) {
					busy[l] = true;
					per_lane[l]++;
					next++;
				} else {
					bad++;
				}
			}
		}
		__builtin_ia32_pause();
	}
	guest_jit_get_stats(&js1);
	/* on the JIT, the APs ran compiled code in ring 3 (the jobs that reach
	 * their program: all but the bad-endpoint one) */
	bool jit = guest_cap_store()->engine != NULL;
	check("smp_lanes_engine", !jit || js1.entries - js0.entries >= LANE_JOBS - 1,
	      "jit=%llu ring3_entries=%llu", jit, js1.entries - js0.entries);
	unsigned same = 0, lanes_used = 0;
	for (unsigned j = 0; j < done; j++)
		same += memcmp(&got[j], &want[j], sizeof want[j]) == 0;
	for (uint32_t l = 0; l < n; l++)
		lanes_used += per_lane[l] > 0;
	check("smp_lanes_batch", done == LANE_JOBS && same == LANE_JOBS && bad == 0, "jobs=%llu same_as_invoke_cached=%llu",
	      done, same);
	check("smp_lanes_all_served", lanes_used == n, "lanes_used=%llu lanes=%llu", lanes_used, n);
	unsigned evicted = 0, stopped = 0;
	for (uint32_t l = 0; l < n; l++) {
		ParallelInvokeSlot *s = lane_slot(l);
		if (!lane_slot_request(s, NUB_SLOT_EVICT_JIT_READY))
			continue;
		for (uint64_t k = 0; k < (1ull << 32) && !lane_slot_ack(s); k++)
			__builtin_ia32_pause();
		evicted += lane_slot_status(s) == NUB_SLOT_EMPTY;
	}
	guest_host_call(NUB_FN_ID_EVICT_JIT_ALL, NULL, 0, NULL, 0, &len, &badr);
	guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &b, sizeof b, &len, &badr);
	check("smp_lanes_evict_handshake", evicted == n, "evicted=%llu lanes=%llu", evicted, n);
	check("smp_lanes_no_leak", a.allocated_bytes == b.allocated_bytes && a.allocation_count == b.allocation_count,
	      "allocated_before=%llu allocated_after=%llu", a.allocated_bytes, b.allocated_bytes);
	for (uint32_t l = 0; l < n; l++)
		stopped += lane_slot_request(lane_slot(l), NUB_SLOT_STOP);
	check("smp_lanes_stop", stopped == n, "stopped=%llu lanes=%llu", stopped, n);
}

unsigned guest_selftest(uint32_t smp)
{
	g_fails = 0;
	scn_ops ops = {NULL, s_put, s_invoke, s_heap, s_boot, s_evict, s_line};
	uint64_t f0, c0, f1, c1;
	pf_stats(&f0, &c0);
	unsigned lines = scn_run(&ops);
	pf_stats(&f1, &c1);
	guest_log("G scenario_lines n=%u ok=%u\n", lines, lines > 30 ? 1u : 0u);
	if (lines <= 30)
		g_fails++;
	/* the scenario's stores to read-only and unmapped pages, and its
	 * copy-on-write writes, went through the #PF handler (at least: 4
	 * faults, 8 fills; the cross-page accesses take the slow path) */
	check("mmu_scenario_faults_via_pf", f1 - f0 >= 4, "faults_caught=%llu cow_fills=%llu", f1 - f0, c1 - c0);
	/* (Data caps below a page are copied in, not shared: no fill for them) */
	check("mmu_scenario_cow_via_pf", c1 - c0 >= 7, "faults_caught=%llu cow_fills=%llu", f1 - f0, c1 - c0);
	size_t nf;
	bool intact = frames_intact(&nf);
	check("published_frames_intact", intact && nf >= 4, "caps_with_frames=%llu intact=%llu", nf, intact);
	guest_only_checks();
	mmu_engine_checks();
	invoke_many_no_leak();
	lane_worker_checks();
	lane_host_call_checks();
	if (smp > 1)
		smp_lane_checks(smp);
	return g_fails;
}
