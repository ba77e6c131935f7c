/* kvm_sandbox_test.c: the kvm backend on a real /dev/kvm (run inside the
 * QEMU Linux of tests/kvm_in_qemu_test.sh, or directly on a KVM host).
 *
 *   kvm_sandbox_test [--faults N] [--vectors DIR]... [--programs DIR]
 *
 * Boot; every fn_id; the host-side cap directory lookup; malformed caps,
 * packets, fn_ids and lengths answered with errors while the VM keeps
 * serving (no rebuild); the guest's fault probes (fn ids 100..106: #PF, #GP,
 * endless loop, garbage reply, #UD, int $0x80, stack overflow) turned into
 * host errors + a rebuilt sandbox that still answers with the published
 * caps, repeated N times (default 105) with no fd or RSS growth; several
 * sandboxes at once; and the differential: every conformance vector given
 * gives byte-identical results (and PUT_CAP errors) on kvm (the guest's
 * JIT, its default), local with the interpreter and local with the JIT;
 * likewise the SDK programs (--programs).
 * Without a usable /dev/kvm every test is skipped, loudly.
 */
#include <dirent.h>
#include <pthread.h>
#include <elf.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cap/cap.h"
#include "cli/vector.h"
#include "cli/vector_caps.h"
#include "kvm/kvm_hooks.h"
#include "nub/nub.h"
#include "test.h"

#define CALL_TIMEOUT_MS 20000u /* nested, emulated KVM is slow: generous */
#define LOOP_TIMEOUT_MS 500u   /* for the endless-loop probe */

static unsigned g_faults = 105;
static const char *g_dirs[8];
static unsigned g_ndirs;
static nub_sandbox *g_kvm, *g_local, *g_local_jit; /* kvm: its default engine, the JIT */
static bool g_kvm_ok;
static uint8_t g_inst[NUB_CAP_HASH_LEN];
static uint32_t g_vcpus = 1; /* for open_backend */
static const char *g_only;     /* --only: boot and this test (while iterating) */
#define RUN_SOME(name)                                                                                         \
	do {                                                                                                   \
		if (!g_only || !strcmp(g_only, #name) || !strcmp(#name, "boot"))                               \
			RUN(name);                                                                             \
	} while (0)
static InvokePacket g_packet;
static InvocationResult g_expect;
static bool g_have_inst; /* g_inst/g_packet/g_expect are set */
static nub_cap_buf g_caps[1];

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

static nub_err open_backend(nub_backend b, uint32_t timeout_ms, nub_sandbox **out)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = b;
	o.timeout_ms = timeout_ms;
	o.notice = quiet;
	/* the local reference interprets, as the guest does: inside QEMU's
	 * software emulation the JIT's page faults and mprotects are slow (the
	 * JIT equals the interpreter by tests/test_jit_diff.c and the
	 * conformance runs on the host) */
	if (b == NUB_BACKEND_LOCAL)
		o.engine = NUB_ENGINE_INTERP;
	/* one vCPU: these tests are about the mailbox path (TEST(lanes) opens
	 * its own sandbox with lanes) */
	o.vcpus = g_vcpus;
	/* kvm sandboxes boot the test kernel (fault probes 100..106) */
	return b == NUB_BACKEND_KVM ? kvm_test_open(&o, out) : nub_open(&o, out);
}

static unsigned count_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* ---- boot + every fn_id ------------------------------------------------------ */
TEST(boot)
{
	double t0 = now_ms();
	nub_err e = open_backend(NUB_BACKEND_KVM, CALL_TIMEOUT_MS, &g_kvm);
	double t1 = now_ms();
	if (e == NUB_E_KVM_UNAVAILABLE)
		SKIP("no usable /dev/kvm");
	ASSERT_EQ(e, NUB_E_OK);
	ASSERT_EQ(nub_sandbox_backend(g_kvm), NUB_BACKEND_KVM);
	ASSERT_EQ(open_backend(NUB_BACKEND_LOCAL, CALL_TIMEOUT_MS, &g_local), NUB_E_OK);
	nub_options lj;
	nub_options_init(&lj);
	lj.backend = NUB_BACKEND_LOCAL;
	/* no deadline: with one, local runs in gas slices sized by the clock
	 * (~1 ms each), and in the nested, emulated Linux of kvm_in_qemu_test.sh
	 * every SIGSEGV + mprotect of the in-process JIT's window costs
	 * milliseconds: the slices shrink to their minimum while each one
	 * refills a window of more than JIT_STICKY_PAGES pages (sort.pvm did
	 * not finish in 300 s there; 30 ms on the host) */
	lj.timeout_ms = NUB_TIMEOUT_NONE;
	lj.notice = quiet;
	lj.engine = NUB_ENGINE_JIT;
	ASSERT_EQ(nub_open(&lj, &g_local_jit), NUB_E_OK);
	printf("    boot %.1f ms, %llu VM exits (nested-emulated KVM when run inside QEMU)\n", t1 - t0,
	       (unsigned long long)kvm_sandbox_exits(g_kvm));
	g_kvm_ok = true;
	/* auto picks kvm when it works; kvm refuses less RAM than the guest needs */
	nub_sandbox *a = NULL;
	ASSERT_EQ(open_backend(NUB_BACKEND_AUTO, 0, &a), NUB_E_OK);
	ASSERT_EQ(nub_sandbox_backend(a), NUB_BACKEND_KVM);
	nub_close(a);
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_KVM;
	o.memory_bytes = NUB_GUEST_MIN_RAM - 4096;
	ASSERT_EQ(nub_open(&o, &a), NUB_E_INVALID_ARG);
	o.memory_bytes = VMM_MAX_RAM + 4096;
	ASSERT_EQ(nub_open(&o, &a), NUB_E_INVALID_ARG);
}

TEST(boot_info)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	BootInfo bi;
	ASSERT_EQ(nub_boot_info(g_kvm, &bi), NUB_E_OK);
	ASSERT_EQ(bi.magic, NUB_BOOT_INFO_MAGIC);
	ASSERT_EQ(bi.directory_type_id, NUB_CAPDIR_LAYOUT_V1);
	ASSERT_EQ(bi.guest_va_base, NUB_GUEST_VA_BASE);
	ASSERT_TRUE(bi.directory_va >= NUB_GUEST_KERNEL_GPA && bi.directory_va < NUB_GUEST_SLOTS_GPA);
}

/* DESIGN/issue target: an empty RPC costs at most 2 VM exits (the guest's
 * doorbell `out` is one; KVM_RUN returns are counted by the VMM). */
TEST(empty_rpc_vm_exits)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	NubHeapStats hs;
	ASSERT_EQ(nub_heap_stats(g_kvm, &hs), NUB_E_OK);
	const unsigned n = 1000;
	uint64_t e0 = kvm_sandbox_exits(g_kvm);
	double t0 = now_ms();
	for (unsigned i = 0; i < n; i++)
		ASSERT_EQ(nub_heap_stats(g_kvm, &hs), NUB_E_OK);
	double t1 = now_ms();
	uint64_t exits = kvm_sandbox_exits(g_kvm) - e0;
	printf("    empty RPC: %.2f VM exits per call, %.1f us per call (%u calls)\n", (double)exits / n,
	       (t1 - t0) * 1000.0 / n, n);
	ASSERT_TRUE(exits >= n);     /* every call really entered the guest */
	ASSERT_TRUE(exits <= 2 * n); /* and cost at most 2 exits */
}

/* The first vector of the first directory is the sample program. */
static bool load_sample(vector *v)
{
	for (unsigned d = 0; d < g_ndirs; d++) {
		DIR *dp = opendir(g_dirs[d]);
		struct dirent *de;
		while (dp && (de = readdir(dp))) {
			size_t nl = strlen(de->d_name);
			if (nl < 6 || strcmp(de->d_name + nl - 5, ".json"))
				continue;
			char path[1024], err[256];
			snprintf(path, sizeof path, "%s/%s", g_dirs[d], de->d_name);
			size_t len;
			char *json = test_read_file(path, &len);
			bool ok = json && vector_parse(json, len, v, err, sizeof err);
			free(json);
			if (ok) {
				closedir(dp);
				return true;
			}
		}
		if (dp)
			closedir(dp);
	}
	return false;
}

static nub_host_action resume_all(void *ctx, nub_host_call *c)
{
	(void)ctx;
	(void)c;
	return NUB_HOST_RESUME;
}

TEST(put_cap_invoke_heap_evict)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	vector v;
	if (!load_sample(&v))
		SKIP("no conformance vector given (--vectors DIR)");
	NubHeapStats h0, h1;
	ASSERT_EQ(nub_heap_stats(g_kvm, &h0), NUB_E_OK);
	ASSERT_TRUE(h0.available_bytes > 0);
	uint8_t li[NUB_CAP_HASH_LEN];
	nub_err e = vector_put_caps(g_kvm, &v, g_inst);
	ASSERT_EQ(e, NUB_E_OK);
	ASSERT_EQ(vector_put_caps(g_local, &v, li), NUB_E_OK);
	ASSERT_MEM_EQ(g_inst, li, NUB_CAP_HASH_LEN);
	ASSERT_EQ(nub_heap_stats(g_kvm, &h1), NUB_E_OK);
	ASSERT_TRUE(h1.allocated_bytes > h0.allocated_bytes);
	ASSERT_TRUE(h1.allocation_count > h0.allocation_count);

	vector_packet(&v, g_inst, &g_packet);
	InvocationResult rk, rl;
	ASSERT_EQ(nub_invoke(g_local, &g_packet, &rl), NUB_E_OK);
	ASSERT_EQ(nub_invoke(g_kvm, &g_packet, &rk), NUB_E_OK);
	ASSERT_MEM_EQ(&rk, &rl, sizeof rk);
	g_expect = rl;
	g_have_inst = true;
	/* EVICT_JIT_ALL, then the same result again */
	ASSERT_EQ(nub_evict_jit_all(g_kvm), NUB_E_OK);
	memset(&rk, 0x55, sizeof rk);
	ASSERT_EQ(nub_invoke(g_kvm, &g_packet, &rk), NUB_E_OK);
	ASSERT_MEM_EQ(&rk, &rl, sizeof rk);
	/* parallel: sequential on vCPU 0 today, same results */
	InvokePacket ps[3] = {g_packet, g_packet, g_packet};
	InvocationResult rs[3];
	ASSERT_EQ(nub_invoke_parallel(g_kvm, ps, rs, 3), NUB_E_OK);
	for (int i = 0; i < 3; i++)
		ASSERT_MEM_EQ(&rs[i], &rl, sizeof rl);
	/* host calls answered and resumed: the same result as local */
	ASSERT_EQ(nub_invoke_with(g_kvm, &g_packet, resume_all, NULL, &rk), NUB_E_OK);
	ASSERT_EQ(nub_invoke_with(g_local, &g_packet, resume_all, NULL, &rl), NUB_E_OK);
	ASSERT_MEM_EQ(&rk, &rl, sizeof rk);
	/* re-publishing is a no-op */
	ASSERT_EQ(vector_put_caps(g_kvm, &v, li), NUB_E_OK);
	ASSERT_MEM_EQ(g_inst, li, NUB_CAP_HASH_LEN);
	vector_free(&v);
	ASSERT_EQ(kvm_sandbox_rebuilds(g_kvm), 0);
}

/* The production kernel (what nub_open boots): same invocation results as
 * the test kernel and the local backend, and no test fn ids at all. */
TEST(production_kernel)
{
	if (!g_kvm_ok || !g_have_inst)
		SKIP("no kvm sandbox or no sample vector");
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_KVM;
	o.timeout_ms = CALL_TIMEOUT_MS;
	nub_sandbox *p = NULL;
	/* every engine: the JIT (the default: the guest is x86-64) and the
	 * interpreter, selected in the guest by NUB_FN_ID_SET_ENGINE */
	static const nub_engine engines[] = {NUB_ENGINE_DEFAULT, NUB_ENGINE_JIT, NUB_ENGINE_INTERP};
	for (size_t k = 0; k < sizeof engines / sizeof engines[0]; k++) {
		o.engine = engines[k];
		ASSERT_EQ(nub_open(&o, &p), NUB_E_OK);
		vector v;
		ASSERT_TRUE(load_sample(&v));
		uint8_t inst[NUB_CAP_HASH_LEN];
		ASSERT_EQ(vector_put_caps(p, &v, inst), NUB_E_OK);
		ASSERT_MEM_EQ(inst, g_inst, NUB_CAP_HASH_LEN);
		InvocationResult r;
		ASSERT_EQ(nub_invoke(p, &g_packet, &r), NUB_E_OK);
		ASSERT_MEM_EQ(&r, &g_expect, sizeof r);
		uint8_t resp[64];
		uint32_t n;
		for (uint32_t fn = 100; fn <= 106; fn++)
			ASSERT_EQ(kvm_sandbox_call(p, fn, NULL, 0, resp, sizeof resp, &n), NUB_E_UNKNOWN_FN);
		ASSERT_EQ(kvm_sandbox_rebuilds(p), 0);
		vector_free(&v);
		nub_close(p);
	}
}

TEST(capdir_lookup)
{
	if (!g_kvm_ok || !g_have_inst)
		SKIP("no published instance");
	NubCapDirEntry ent;
	static uint8_t bytes[1 << 16];
	ASSERT_EQ(kvm_sandbox_capdir_lookup(g_kvm, g_inst, &ent, bytes, sizeof bytes), NUB_E_OK);
	ASSERT_EQ(ent.kind, NUB_CAP_KIND_INSTANCE);
	ASSERT_EQ(ent.state, NUB_CAPDIR_FULL);
	ASSERT_MEM_EQ(ent.hash, g_inst, NUB_CAP_HASH_LEN);
	ASSERT_TRUE(ent.len > 0 && ent.len <= sizeof bytes);
	uint8_t h[NUB_CAP_HASH_LEN];
	nub_cap_hash(bytes, ent.len, h); /* the bytes the guest stored hash to the key */
	ASSERT_MEM_EQ(h, g_inst, NUB_CAP_HASH_LEN);
	/* the instance names its image: that one must be found too, as an Image */
	cap_view cv;
	ASSERT_EQ(cap_decode(bytes, ent.len, &cv), NUB_E_OK);
	uint8_t img[NUB_CAP_HASH_LEN];
	memcpy(img, cv.u.instance.image_hash, sizeof img);
	ASSERT_EQ(kvm_sandbox_capdir_lookup(g_kvm, img, &ent, NULL, 0), NUB_E_OK);
	ASSERT_EQ(ent.kind, NUB_CAP_KIND_IMAGE);
	/* absent */
	uint8_t absent[NUB_CAP_HASH_LEN];
	memcpy(absent, g_inst, sizeof absent);
	absent[31] ^= 0xFF;
	ASSERT_EQ(kvm_sandbox_capdir_lookup(g_kvm, absent, &ent, NULL, 0), NUB_E_UNKNOWN_INSTANCE);
}

/* ---- malformed input: errors, and the VM keeps serving ---------------------------- */
TEST(malformed_requests)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	unsigned r0 = kvm_sandbox_rebuilds(g_kvm);
	uint8_t resp[256];
	uint32_t n;
	static const uint32_t bad_fns[] = {0, 1, NUB_FN_ID_EXT_END, 50, 99, 107, 255, 0x100, 0xFFFFFFFFu};
	for (size_t i = 0; i < sizeof bad_fns / sizeof bad_fns[0]; i++) {
		ASSERT_EQ(kvm_sandbox_call(g_kvm, bad_fns[i], NULL, 0, resp, sizeof resp, &n), NUB_E_UNKNOWN_FN);
		ASSERT_EQ(n, 0);
	}
	/* wrong payload lengths */
	uint8_t junk[200];
	memset(junk, 0xA5, sizeof junk);
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_HEAP_STATS, junk, 1, resp, sizeof resp, &n), NUB_E_INVALID_ARG);
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_GET_BOOT_INFO, junk, 8, resp, sizeof resp, &n), NUB_E_INVALID_ARG);
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_EVICT_JIT_ALL, junk, 3, resp, sizeof resp, &n), NUB_E_INVALID_ARG);
	/* SET_ENGINE: a LE u32 of 1 or 2, nothing else (the engine stays the JIT) */
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_SET_ENGINE, junk, 3, resp, sizeof resp, &n), NUB_E_INVALID_ARG);
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_SET_ENGINE, junk, 4, resp, sizeof resp, &n), NUB_E_INVALID_ARG);
	uint32_t jit = NUB_SET_ENGINE_JIT;
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_SET_ENGINE, &jit, 4, resp, sizeof resp, &n), NUB_E_OK);
	ASSERT_EQ(n, 0);
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_INVOKE_CACHED, junk, 79, resp, sizeof resp, &n), NUB_E_INVALID_ARG);
	ASSERT_EQ(n, sizeof(InvocationResult));
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_INVOKE_CACHED, junk, 81, resp, sizeof resp, &n), NUB_E_INVALID_ARG);
	/* INVOKE_WORKER: lane 0xA5A5A5A5 is out of range, 3 bytes are no lane
	 * (a valid lane would keep vCPU 0 in the worker loop until STOP) */
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_INVOKE_WORKER, junk, 4, resp, sizeof resp, &n), NUB_E_INVALID_ARG);
	ASSERT_EQ(n, 0);
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_INVOKE_WORKER, junk, 3, resp, sizeof resp, &n), NUB_E_INVALID_ARG);
	/* a request longer than the mailbox is refused on the host side */
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_PUT_CAP, junk, NUB_RPC_REQ_CAP + 1, resp, sizeof resp, &n),
	          NUB_E_INVALID_ARG);

	/* malformed caps: kvm and local agree on the error */
	static const uint8_t empty[1] = {0};
	uint8_t h[NUB_CAP_HASH_LEN];
	struct {
		const uint8_t *b;
		size_t len;
	} caps[] = {{empty, 0}, {empty, 1}, {junk, sizeof junk}, {junk, 3}};
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		nub_err ek = nub_put_cap(g_kvm, caps[i].b, caps[i].len, h);
		nub_err el = nub_put_cap(g_local, caps[i].b, caps[i].len, h);
		ASSERT_TRUE(ek != NUB_E_OK);
		ASSERT_EQ(ek, el);
	}
	/* truncated versions of a valid cap */
	if (g_caps[0].len == 0) {
		uint8_t d[64];
		memset(d, 7, sizeof d);
		ASSERT_EQ(nub_cap_data(d, sizeof d, &g_caps[0]), NUB_E_OK);
	}
	for (size_t cut = 0; cut < g_caps[0].len; cut += 7) {
		nub_err ek = nub_put_cap(g_kvm, g_caps[0].bytes, cut, h);
		ASSERT_EQ(ek, nub_put_cap(g_local, g_caps[0].bytes, cut, h));
		ASSERT_TRUE(ek != NUB_E_OK);
	}
	/* an Instance naming an unpublished Image */
	uint8_t ghost[NUB_CAP_HASH_LEN];
	memset(ghost, 0x42, sizeof ghost);
	nub_cap_buf ib = {0};
	ASSERT_EQ(nub_cap_instance(ghost, NULL, 0, &ib), NUB_E_OK);
	ASSERT_EQ(nub_put_cap(g_kvm, ib.bytes, ib.len, h), NUB_E_CAP_HAS_REF);
	nub_cap_buf_free(&ib);

	/* malformed packets: same error result on both backends */
	if (g_have_inst) {
		InvokePacket ps[5];
		for (int i = 0; i < 5; i++)
			ps[i] = g_packet;
		ps[0].instance_hash[0] ^= 1; /* unknown instance */
		ps[1].endpoint_idx = 64;     /* bad endpoint */
		ps[2]._pad = 1;              /* padding not zero */
		ps[3].initial_gas = 1ull << 63;
		ps[4].initial_gas = 0; /* runs out of gas at once */
		static const nub_err want[5] = {NUB_E_UNKNOWN_INSTANCE, NUB_E_BAD_ENDPOINT, NUB_E_BAD_PACKET,
		                                NUB_E_BAD_GAS, NUB_E_OK};
		for (int i = 0; i < 5; i++) {
			InvocationResult rk, rl;
			nub_err ek = nub_invoke(g_kvm, &ps[i], &rk);
			nub_err el = nub_invoke(g_local, &ps[i], &rl);
			ASSERT_EQ(ek, want[i]);
			ASSERT_EQ(ek, el);
			ASSERT_MEM_EQ(&rk, &rl, sizeof rk);
		}
		/* an image/data hash is not an instance */
		NubCapDirEntry ent;
		static uint8_t ib2[1 << 16];
		ASSERT_EQ(kvm_sandbox_capdir_lookup(g_kvm, g_inst, &ent, ib2, sizeof ib2), NUB_E_OK);
		cap_view cv;
		ASSERT_EQ(cap_decode(ib2, ent.len, &cv), NUB_E_OK);
		InvokePacket pi = g_packet;
		memcpy(pi.instance_hash, cv.u.instance.image_hash, NUB_CAP_HASH_LEN);
		InvocationResult rk;
		ASSERT_EQ(nub_invoke(g_kvm, &pi, &rk), NUB_E_NOT_INSTANCE);
		ASSERT_EQ(rk.exit_reason, NUB_EXIT_ERROR);
		ASSERT_EQ(rk.exit_arg, NUB_E_NOT_INSTANCE);
	}
	/* still serving, never rebuilt */
	NubHeapStats hs;
	ASSERT_EQ(nub_heap_stats(g_kvm, &hs), NUB_E_OK);
	ASSERT_EQ(kvm_sandbox_rebuilds(g_kvm), r0);
	if (g_have_inst) {
		InvocationResult rk;
		ASSERT_EQ(nub_invoke(g_kvm, &g_packet, &rk), NUB_E_OK);
		ASSERT_MEM_EQ(&rk, &g_expect, sizeof rk);
	}
}

/* ---- fault injection --------------------------------------------------------------- */
typedef struct {
	uint32_t fn;
	nub_err err;
	vmm_stop stop;
	uint32_t vector; /* for faults */
} probe_case;

static const probe_case probes[] = {
	{100, NUB_E_GUEST_FAULT, VMM_STOP_FAULT, 14},
	{101, NUB_E_GUEST_FAULT, VMM_STOP_FAULT, 13},
	{102, NUB_E_TIMEOUT, VMM_STOP_TIMEOUT, 0},
	{103, NUB_E_GUEST_PROTOCOL, VMM_STOP_PROTOCOL, 0},
	{104, NUB_E_GUEST_FAULT, VMM_STOP_FAULT, 6},
	{105, NUB_E_GUEST_FAULT, VMM_STOP_FAULT, 0x80},
	{106, NUB_E_GUEST_FAULT, VMM_STOP_FAULT, 14},
};

static unsigned run_probe(const probe_case *pc, bool verbose)
{
	uint8_t resp[256];
	uint32_t n = 0;
	unsigned bad = 0;
	unsigned r0 = kvm_sandbox_rebuilds(g_kvm);
	if (pc->fn == 102)
		kvm_sandbox_set_timeout(g_kvm, LOOP_TIMEOUT_MS);
	double t0 = now_ms();
	nub_err e = kvm_sandbox_call(g_kvm, pc->fn, NULL, 0, resp, sizeof resp, &n);
	double t1 = now_ms();
	if (pc->fn == 102)
		kvm_sandbox_set_timeout(g_kvm, CALL_TIMEOUT_MS);
	NubRpcFault f = kvm_sandbox_last_fault(g_kvm);
	if (e != pc->err || kvm_sandbox_last_stop(g_kvm) != pc->stop || kvm_sandbox_rebuilds(g_kvm) != r0 + 1 ||
	    (pc->stop == VMM_STOP_FAULT && (f.valid != 1 || f.vector != pc->vector || f.fn_id != pc->fn))) {
		printf("    probe %u: err %s stop %s rebuilds %u->%u fault valid %u vector %u fn %lld\n", pc->fn,
		       nub_err_name(e), vmm_stop_name(kvm_sandbox_last_stop(g_kvm)), r0, kvm_sandbox_rebuilds(g_kvm),
		       f.valid, f.vector, (long long)f.fn_id);
		bad++;
	}
	if (pc->fn == 100 && pc->stop == VMM_STOP_FAULT && f.cr2 != NUB_GUEST_VA_BASE + 0x12345678ull) {
		printf("    probe 100: cr2 0x%llx\n", (unsigned long long)f.cr2);
		bad++;
	}
	/* recovered: the rebuilt VM serves the published caps */
	double t2 = now_ms();
	if (g_have_inst) {
		InvocationResult r;
		if (nub_invoke(g_kvm, &g_packet, &r) != NUB_E_OK || memcmp(&r, &g_expect, sizeof r) != 0) {
			printf("    probe %u: invoke after rebuild differs\n", pc->fn);
			bad++;
		}
	}
	NubHeapStats hs;
	if (nub_heap_stats(g_kvm, &hs) != NUB_E_OK) {
		printf("    probe %u: heap_stats after rebuild failed\n", pc->fn);
		bad++;
	}
	if (verbose)
		printf("    probe %u -> %s in %.1f ms (incl. rebuild + replay), next calls %.1f ms\n", pc->fn,
		       nub_err_name(e), t1 - t0, now_ms() - t2);
	return bad;
}

TEST(fault_probes_once)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	unsigned bad = 0;
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
		bad += run_probe(&probes[i], true);
	ASSERT_EQ(bad, 0);
}

TEST(fault_probes_repeated_no_leak)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	unsigned fds0 = count_fds();
	long rss0 = rss_kib();
	unsigned bad = 0, runs = 0;
	double t0 = now_ms();
	for (unsigned i = 0; i < g_faults; i++, runs++)
		bad += run_probe(&probes[i % (sizeof probes / sizeof probes[0])], false);
	double t1 = now_ms();
	unsigned fds1 = count_fds();
	long rss1 = rss_kib();
	printf("    %u probes (+ the 7 above), %.1f ms each incl. rebuild; fds %u -> %u, RSS %ld -> %ld KiB\n", runs,
	       runs ? (t1 - t0) / runs : 0.0, fds0, fds1, rss0, rss1);
	ASSERT_EQ(bad, 0);
	ASSERT_EQ(fds1, fds0);
	/* guest RAM is released with each VM: RSS may wobble, not grow per VM */
	ASSERT_TRUE(rss1 - rss0 < 16 * 1024);
}

/* ---- a triple fault: the guest's IDT wiped, then a #GP --------------------------- */
/* Address of a symbol of the test kernel ELF (its .symtab), 0 if absent. */
static uint64_t guest_symbol(const char *name)
{
	const uint8_t *elf;
	size_t len;
	kvm_test_image(&elf, &len);
	if (len < sizeof(Elf64_Ehdr))
		return 0;
	Elf64_Ehdr eh;
	memcpy(&eh, elf, sizeof eh);
	if (eh.e_shoff > len || (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) > len - eh.e_shoff)
		return 0;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(const void *)(elf + eh.e_shoff);
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh.e_shnum)
			continue;
		const Elf64_Shdr *st = &sh[sh[i].sh_link];
		const Elf64_Sym *sym = (const Elf64_Sym *)(const void *)(elf + sh[i].sh_offset);
		for (size_t k = 0; k < sh[i].sh_size / sizeof *sym; k++)
			if (sym[k].st_name < st->sh_size &&
			    !strcmp((const char *)elf + st->sh_offset + sym[k].st_name, name))
				return sym[k].st_value;
	}
	return 0;
}

/* A cap that fails its replay into a rebuilt VM costs only itself. */
TEST(replay_survives_a_failing_cap)
{
	if (!g_kvm_ok || !g_have_inst)
		SKIP("no kvm sandbox or no sample vector");
	nub_cap_buf b;
	ASSERT_EQ(nub_cap_data("replay victim", 13, &b), NUB_E_OK);
	uint8_t h[NUB_CAP_HASH_LEN], resp[64];
	ASSERT_EQ(nub_put_cap(g_kvm, b.bytes, b.len, h), NUB_E_OK);
	ASSERT_TRUE(kvm_sandbox_corrupt_published(g_kvm, h));
	unsigned r0 = kvm_sandbox_rebuilds(g_kvm), lost0 = kvm_sandbox_lost_caps(g_kvm);
	uint32_t n;
	ASSERT_EQ(kvm_sandbox_call(g_kvm, 100, NULL, 0, resp, sizeof resp, &n), NUB_E_GUEST_FAULT); /* #PF: rebuild */
	ASSERT_EQ(kvm_sandbox_rebuilds(g_kvm), r0 + 1);
	ASSERT_EQ(kvm_sandbox_lost_caps(g_kvm), lost0 + 1);
	/* everything else came back */
	InvocationResult r;
	ASSERT_EQ(nub_invoke(g_kvm, &g_packet, &r), NUB_E_OK);
	ASSERT_MEM_EQ(&r, &g_expect, sizeof r);
	NubCapDirEntry ent;
	ASSERT_EQ(kvm_sandbox_capdir_lookup(g_kvm, h, &ent, NULL, 0), NUB_E_UNKNOWN_INSTANCE);
	/* the lost cap is forgotten: publishing it again sends it again */
	uint8_t again[NUB_CAP_HASH_LEN];
	ASSERT_EQ(nub_put_cap(g_kvm, b.bytes, b.len, again), NUB_E_OK);
	ASSERT_MEM_EQ(again, h, sizeof h);
	ASSERT_EQ(kvm_sandbox_capdir_lookup(g_kvm, h, &ent, NULL, 0), NUB_E_OK);
	nub_cap_buf_free(&b);
}

TEST(triple_fault_shutdown)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	uint64_t idt = guest_symbol("guest_idt");
	ASSERT_TRUE(idt != 0);
	/* the checked translation refuses ranges outside RAM */
	uint8_t z[4096];
	memset(z, 0, sizeof z);
	ASSERT_EQ(kvm_sandbox_poke(g_kvm, (256ull << 20) - 8, z, 16), NUB_E_INVALID_ARG);
	ASSERT_EQ(kvm_sandbox_poke(g_kvm, ~0ull - 8, z, 16), NUB_E_INVALID_ARG);
	unsigned r0 = kvm_sandbox_rebuilds(g_kvm);
	ASSERT_EQ(kvm_sandbox_poke(g_kvm, idt, z, sizeof z), NUB_E_OK); /* 256 gates x 16 B */
	uint8_t resp[64];
	uint32_t n;
	nub_err e = kvm_sandbox_call(g_kvm, 101, NULL, 0, resp, sizeof resp, &n); /* #GP -> #DF -> shutdown */
	ASSERT_EQ(e, NUB_E_GUEST_DEAD);
	ASSERT_EQ(kvm_sandbox_last_stop(g_kvm), VMM_STOP_SHUTDOWN);
	ASSERT_EQ(kvm_sandbox_rebuilds(g_kvm), r0 + 1);
	if (g_have_inst) {
		InvocationResult r;
		ASSERT_EQ(nub_invoke(g_kvm, &g_packet, &r), NUB_E_OK);
		ASSERT_MEM_EQ(&r, &g_expect, sizeof r);
	}
}

/* ---- a PVM program that never halts: the call timeout on both backends ---------- */
TEST(endless_pvm_program_timeout)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	/* deblob: no jump table, 1 code byte: `jump +0` (opcode 40, no immediate
	 * bytes = offset 0), bitmask 0x01 */
	static const uint8_t loop_blob[] = {0, 0, 1, 40, 0x01};
	nub_endpoint ep = {.pc = 0};
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = loop_blob, .code_len = sizeof loop_blob,
	                    .endpoints = &ep, .endpoint_count = 1};
	nub_cap_buf b = {0};
	uint8_t img[NUB_CAP_HASH_LEN], img2[NUB_CAP_HASH_LEN];
	InvokePacket p;
	memset(&p, 0, sizeof p);
	ASSERT_EQ(nub_cap_image(&d, &b), NUB_E_OK);
	ASSERT_EQ(nub_put_cap(g_kvm, b.bytes, b.len, img), NUB_E_OK);
	ASSERT_EQ(nub_put_cap(g_local, b.bytes, b.len, img2), NUB_E_OK);
	nub_cap_buf_free(&b);
	ASSERT_EQ(nub_cap_instance(img, NULL, 0, &b), NUB_E_OK);
	ASSERT_EQ(nub_put_cap(g_kvm, b.bytes, b.len, p.instance_hash), NUB_E_OK);
	ASSERT_EQ(nub_put_cap(g_local, b.bytes, b.len, img2), NUB_E_OK);
	nub_cap_buf_free(&b);
	/* bounded by gas: identical OUT_OF_GAS */
	InvocationResult rk, rl;
	p.initial_gas = 100000;
	ASSERT_EQ(nub_invoke(g_kvm, &p, &rk), NUB_E_OK);
	ASSERT_EQ(nub_invoke(g_local, &p, &rl), NUB_E_OK);
	ASSERT_EQ(rk.exit_reason, NUB_EXIT_OUT_OF_GAS);
	ASSERT_MEM_EQ(&rk, &rl, sizeof rk);
	/* unbounded: the host kicks the vCPU out at the deadline and rebuilds */
	unsigned r0 = kvm_sandbox_rebuilds(g_kvm);
	kvm_sandbox_set_timeout(g_kvm, LOOP_TIMEOUT_MS);
	p.initial_gas = 1ull << 62;
	double t0 = now_ms();
	nub_err e = nub_invoke(g_kvm, &p, &rk);
	double t1 = now_ms();
	kvm_sandbox_set_timeout(g_kvm, CALL_TIMEOUT_MS);
	printf("    endless program: %s after %.1f ms (timeout %u ms, incl. rebuild)\n", nub_err_name(e), t1 - t0,
	       LOOP_TIMEOUT_MS);
	ASSERT_EQ(e, NUB_E_TIMEOUT);
	ASSERT_EQ(rk.exit_reason, NUB_EXIT_ERROR);
	ASSERT_EQ(rk.exit_arg, NUB_E_TIMEOUT);
	ASSERT_TRUE(t1 - t0 >= LOOP_TIMEOUT_MS);
	ASSERT_EQ(kvm_sandbox_last_stop(g_kvm), VMM_STOP_TIMEOUT);
	ASSERT_EQ(kvm_sandbox_rebuilds(g_kvm), r0 + 1);
	/* the published loop instance survived the rebuild */
	p.initial_gas = 100000;
	ASSERT_EQ(nub_invoke(g_kvm, &p, &rk), NUB_E_OK);
	ASSERT_MEM_EQ(&rk, &rl, sizeof rk);
}

/* ---- threads: per-thread timers kick the right vCPU ---------------------------------- */
typedef struct {
	nub_sandbox *sb; /* own sandbox, or the shared g_kvm */
	bool endless;    /* run the endless program (own sandbox only) */
	unsigned bad;
} thread_job;

static void *thread_main(void *arg)
{
	thread_job *j = arg;
	static const uint8_t loop_blob[] = {0, 0, 1, 40, 0x01};
	for (int k = 0; k < 3; k++) {
		if (j->endless) {
			nub_endpoint ep = {.pc = 0};
			nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = loop_blob, .code_len = sizeof loop_blob,
			                    .endpoints = &ep, .endpoint_count = 1};
			nub_cap_buf b = {0};
			uint8_t img[NUB_CAP_HASH_LEN];
			InvokePacket p;
			InvocationResult r;
			memset(&p, 0, sizeof p);
			p.initial_gas = 1ull << 62;
			if (nub_cap_image(&d, &b) || nub_put_cap(j->sb, b.bytes, b.len, img))
				j->bad++;
			nub_cap_buf_free(&b);
			if (nub_cap_instance(img, NULL, 0, &b) || nub_put_cap(j->sb, b.bytes, b.len, p.instance_hash))
				j->bad++;
			nub_cap_buf_free(&b);
			if (nub_invoke(j->sb, &p, &r) != NUB_E_TIMEOUT)
				j->bad++;
		} else {
			for (int i = 0; i < 50; i++) {
				InvocationResult r;
				if (nub_invoke(j->sb, &g_packet, &r) != NUB_E_OK || memcmp(&r, &g_expect, sizeof r))
					j->bad++;
			}
		}
	}
	return NULL;
}

TEST(threads)
{
	if (!g_kvm_ok || !g_have_inst)
		SKIP("no kvm sandbox with a published instance");
	thread_job jobs[4] = {{.sb = g_kvm}, {.sb = g_kvm}, {.endless = true}, {.endless = true}};
	for (int i = 2; i < 4; i++)
		ASSERT_EQ(open_backend(NUB_BACKEND_KVM, LOOP_TIMEOUT_MS, &jobs[i].sb), NUB_E_OK);
	unsigned r0 = kvm_sandbox_rebuilds(g_kvm);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, thread_main, &jobs[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(jobs[i].bad, 0);
	ASSERT_EQ(kvm_sandbox_rebuilds(g_kvm), r0); /* the shared sandbox never timed out */
	for (int i = 2; i < 4; i++) {
		ASSERT_EQ(kvm_sandbox_rebuilds(jobs[i].sb), 3);
		nub_close(jobs[i].sb);
	}
}

/* ---- several sandboxes in one process ----------------------------------------------- */
TEST(several_sandboxes)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	nub_sandbox *sb[3] = {0};
	uint8_t hash[3][NUB_CAP_HASH_LEN];
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(open_backend(NUB_BACKEND_KVM, CALL_TIMEOUT_MS, &sb[i]), NUB_E_OK);
		uint8_t d[40];
		memset(d, 'a' + i, sizeof d);
		nub_cap_buf b = {0};
		ASSERT_EQ(nub_cap_data(d, sizeof d, &b), NUB_E_OK);
		ASSERT_EQ(nub_put_cap(sb[i], b.bytes, b.len, hash[i]), NUB_E_OK);
		nub_cap_buf_free(&b);
	}
	/* each sees only its own caps */
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			NubCapDirEntry ent;
			nub_err e = kvm_sandbox_capdir_lookup(sb[i], hash[j], &ent, NULL, 0);
			ASSERT_EQ(e, i == j ? NUB_E_OK : NUB_E_UNKNOWN_INSTANCE);
		}
	/* a fault in one leaves the others alone */
	uint8_t resp[64];
	uint32_t n;
	ASSERT_EQ(kvm_sandbox_call(sb[1], 101, NULL, 0, resp, sizeof resp, &n), NUB_E_GUEST_FAULT);
	NubHeapStats hs;
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(nub_heap_stats(sb[i], &hs), NUB_E_OK);
		ASSERT_EQ(kvm_sandbox_rebuilds(sb[i]), i == 1 ? 1u : 0u);
		NubCapDirEntry ent;
		ASSERT_EQ(kvm_sandbox_capdir_lookup(sb[i], hash[i], &ent, NULL, 0), NUB_E_OK); /* replayed */
	}
	for (int i = 0; i < 3; i++)
		nub_close(sb[i]);
}

/* ---- the differential over the conformance vectors --------------------------------- */
static unsigned n_vec, n_diff;

/* Every *.json vector of dir, parsed, to fn (which may not keep v); an
 * unreadable directory or file counts in *bad. */
static void for_each_vector(const char *dir, void (*fn)(vector *v, void *ctx), void *ctx, unsigned *bad)
{
	DIR *dp = opendir(dir);
	if (!dp) {
		printf("    %s: cannot open\n", dir);
		(*bad)++;
		return;
	}
	struct dirent *de;
	while ((de = readdir(dp))) {
		size_t nl = strlen(de->d_name);
		if (nl < 6 || strcmp(de->d_name + nl - 5, ".json"))
			continue;
		char path[1024], err[256];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		size_t len;
		char *json = test_read_file(path, &len);
		vector v;
		if (!json || !vector_parse(json, len, &v, err, sizeof err)) {
			printf("    %s: unreadable\n", path);
			free(json);
			(*bad)++;
			continue;
		}
		free(json);
		fn(&v, ctx);
		vector_free(&v);
	}
	closedir(dp);
}

static void diff_one(vector *v, void *ctx)
{
	(void)ctx;
	n_vec++;
	uint8_t ik[NUB_CAP_HASH_LEN], il[NUB_CAP_HASH_LEN], ij[NUB_CAP_HASH_LEN];
	nub_err ek = vector_put_caps(g_kvm, v, ik);
	nub_err el = vector_put_caps(g_local, v, il);
	nub_err ej = vector_put_caps(g_local_jit, v, ij);
	if (ek != el || ej != el || (!ek && (memcmp(ik, il, sizeof ik) || memcmp(ij, il, sizeof ij)))) {
		printf("    %s: put_caps kvm %s local %s local(jit) %s\n", v->name, nub_err_name(ek), nub_err_name(el),
		       nub_err_name(ej));
		n_diff++;
	} else if (!ek) {
		/* kvm (JIT) = local (interpreter) = local (JIT) */
		InvokePacket p;
		InvocationResult rk, rl, rj;
		vector_packet(v, ik, &p);
		memset(&rk, 0x11, sizeof rk);
		memset(&rl, 0x22, sizeof rl);
		memset(&rj, 0x33, sizeof rj);
		ek = nub_invoke(g_kvm, &p, &rk);
		el = nub_invoke(g_local, &p, &rl);
		ej = nub_invoke(g_local_jit, &p, &rj);
		if (ek != el || ej != el || memcmp(&rk, &rl, sizeof rk) || memcmp(&rj, &rl, sizeof rj)) {
			printf("    %s: kvm %s exit %u/%u gas %llu | local %s exit %u/%u gas %llu | local(jit) %s "
			       "exit %u/%u gas %llu\n",
			       v->name, nub_err_name(ek), rk.exit_reason, rk.exit_arg, (unsigned long long)rk.gas_remaining,
			       nub_err_name(el), rl.exit_reason, rl.exit_arg, (unsigned long long)rl.gas_remaining,
			       nub_err_name(ej), rj.exit_reason, rj.exit_arg, (unsigned long long)rj.gas_remaining);
			n_diff++;
		}
	}
}

static void diff_dir(const char *dir)
{
	for_each_vector(dir, diff_one, NULL, &n_diff);
}

TEST(differential_vectors)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	if (!g_ndirs)
		SKIP("no --vectors DIR given");
	unsigned r0 = kvm_sandbox_rebuilds(g_kvm);
	double t0 = now_ms();
	for (unsigned d = 0; d < g_ndirs; d++)
		diff_dir(g_dirs[d]);
	printf("    %u vectors, %u differ, %.1f ms (kvm + local)\n", n_vec, n_diff, now_ms() - t0);
	ASSERT_TRUE(n_vec > 0);
	ASSERT_EQ(n_diff, 0);
	ASSERT_EQ(kvm_sandbox_rebuilds(g_kvm), r0);
}

/* The programs of the C SDK (bench/programs, SPI built by nub-cc): each
 * published as an spi Image (entry pc 0) + Instance on kvm and on local,
 * invoked with the same packet; the InvocationResults must be identical. */
static const char *g_programs;

/* Publish the Image encoded in *img (freed here) and an Instance of it with
 * these slots; the Instance's hash in inst. */
static nub_err publish_image(nub_sandbox *sb, nub_cap_buf *img, const nub_slot *slots, uint32_t n,
                             uint8_t inst[NUB_CAP_HASH_LEN])
{
	uint8_t ih[NUB_CAP_HASH_LEN];
	nub_cap_buf b;
	nub_err e = nub_put_cap(sb, img->bytes, img->len, ih);
	nub_cap_buf_free(img);
	if (e || (e = nub_cap_instance(ih, slots, n, &b)))
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, inst);
	nub_cap_buf_free(&b);
	return e;
}

/* A bare Image of `code` (one endpoint: pc 0, r0 = the halt address) and
 * an Instance of it. */
static nub_err publish_bare(nub_sandbox *sb, const uint8_t *code, size_t len, const nub_mapping *maps,
                            uint32_t nmaps, const nub_slot *slots, uint32_t nslots, uint8_t inst[NUB_CAP_HASH_LEN])
{
	nub_endpoint ep;
	memset(&ep, 0, sizeof ep);
	ep.regs[0] = NUB_HALT_ADDR;
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = code, .code_len = len, .endpoints = &ep,
	                    .endpoint_count = 1, .mappings = maps, .mapping_count = nmaps};
	nub_cap_buf b;
	nub_err e = nub_cap_image(&d, &b);
	return e ? e : publish_image(sb, &b, slots, nslots, inst);
}

static nub_err publish_spi(nub_sandbox *sb, const uint8_t *spi, size_t len, uint8_t inst[NUB_CAP_HASH_LEN])
{
	uint32_t entry = 0;
	nub_cap_buf b;
	nub_err e = nub_cap_image_from_spi(spi, len, &entry, 1, NULL, 0, &b);
	return e ? e : publish_image(sb, &b, NULL, 0, inst);
}

TEST(differential_programs)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	if (!g_programs)
		SKIP("no --programs DIR given (bench kernels need clang-19)");
	DIR *dp = opendir(g_programs);
	ASSERT_TRUE(dp != NULL);
	struct dirent *de;
	unsigned n = 0, diff = 0;
	while ((de = readdir(dp))) {
		size_t nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".pvm"))
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", g_programs, de->d_name);
		size_t len;
		uint8_t *spi = (uint8_t *)test_read_file(path, &len);
		uint8_t ik[NUB_CAP_HASH_LEN], il[NUB_CAP_HASH_LEN], ij[NUB_CAP_HASH_LEN];
		nub_err ek = spi ? publish_spi(g_kvm, spi, len, ik) : NUB_E_INVALID_ARG;
		nub_err el = spi ? publish_spi(g_local, spi, len, il) : NUB_E_INVALID_ARG;
		nub_err ej = spi ? publish_spi(g_local_jit, spi, len, ij) : NUB_E_INVALID_ARG;
		free(spi);
		n++;
		if (ek || el || ej) {
			printf("    %s: publish kvm %s local %s local(jit) %s\n", de->d_name, nub_err_name(ek),
			       nub_err_name(el), nub_err_name(ej));
			diff++;
			continue;
		}
		InvokePacket p;
		memset(&p, 0, sizeof p);
		memcpy(p.instance_hash, ik, sizeof ik);
		p.args[0] = 0xFEFF0000u; /* GP A.7: phi7 = argument address, phi8 = 0 */
		p.initial_gas = 1000000000;
		InvocationResult rk, rl;
		double t0 = now_ms();
		ek = nub_invoke(g_kvm, &p, &rk);
		double t1 = now_ms();
		el = nub_invoke(g_local, &p, &rl);
		double t2 = now_ms();
		InvocationResult rj;
		ej = nub_invoke(g_local_jit, &p, &rj);
		double t3 = now_ms();
		bool same = ek == el && ej == el && !memcmp(&rk, &rl, sizeof rk) && !memcmp(&rj, &rl, sizeof rj);
		printf("    %-16s %s exit %u/%u r7 %llu gas used %llu; kvm(jit) %.1f ms, local %.1f ms, local(jit) "
		       "%.1f ms\n",
		       de->d_name, same ? "same" : "DIFFERENT", rk.exit_reason, rk.exit_arg,
		       (unsigned long long)rk.return_value, (unsigned long long)(p.initial_gas - rk.gas_remaining),
		       t1 - t0, t2 - t1, t3 - t2);
		if (!same) {
			printf("      local: %s exit %u/%u r7 %llu gas %llu; local(jit): %s exit %u/%u r7 %llu gas %llu\n",
			       nub_err_name(el), rl.exit_reason, rl.exit_arg, (unsigned long long)rl.return_value,
			       (unsigned long long)rl.gas_remaining, nub_err_name(ej), rj.exit_reason, rj.exit_arg,
			       (unsigned long long)rj.return_value, (unsigned long long)rj.gas_remaining);
			diff++;
		}
	}
	closedir(dp);
	ASSERT_TRUE(n > 0);
	ASSERT_EQ(diff, 0);
}

/* ---- per-invocation memory: the guest's page limit equals local's ------------- */
/* Grow the heap a page at a time and write each page, counting in r7 (as
 * tests/test_limits.c): halts with r7 = pages grown once sbrk returns 0. */
static const uint8_t prog_grow[] = {0,   0,    19,   51,  0x08, 0x00, 0x10, 101,  0x8A, 81,   0x0A, 0x0B,
                                    123, 0xA8, 0x00, 149, 0x77, 0x01, 40,   0xF1, 50,   0x00, 0x51, 0x92, 0x02};

static nub_err put_grow(nub_sandbox *sb, uint8_t inst[NUB_CAP_HASH_LEN])
{
	/* one Data page mapped at 0x10000 (the heap starts above the mappings) */
	nub_mapping map = {.va = 0x10000u, .pages = 1, .slot = 0, .writable = true};
	nub_cap_buf b;
	uint8_t one = 1;
	nub_slot slot = {.index = 0};
	nub_err e = nub_cap_data(&one, 1, &b);
	if (e || (e = nub_put_cap(sb, b.bytes, b.len, slot.hash)))
		return e;
	nub_cap_buf_free(&b);
	return publish_bare(sb, prog_grow, sizeof prog_grow, &map, 1, &slot, 1, inst);
}

TEST(invocation_memory_limit)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	nub_options o;
	nub_options_init(&o);
	o.timeout_ms = CALL_TIMEOUT_MS;
	o.notice = quiet;
	o.vcpus = 1;
	o.invocation_memory_bytes = 300 * 4096;
	nub_sandbox *k, *l;
	o.backend = NUB_BACKEND_KVM;
	ASSERT_EQ(kvm_test_open(&o, &k), NUB_E_OK);
	o.backend = NUB_BACKEND_LOCAL;
	o.engine = NUB_ENGINE_INTERP;
	ASSERT_EQ(nub_open(&o, &l), NUB_E_OK);
	InvokePacket p;
	memset(&p, 0, sizeof p);
	p.initial_gas = 100000000;
	uint8_t il[NUB_CAP_HASH_LEN];
	ASSERT_EQ(put_grow(k, p.instance_hash), NUB_E_OK);
	ASSERT_EQ(put_grow(l, il), NUB_E_OK);
	ASSERT_MEM_EQ(p.instance_hash, il, sizeof il);
	InvocationResult rk, rl;
	ASSERT_EQ(nub_invoke(k, &p, &rk), NUB_E_OK);
	ASSERT_EQ(nub_invoke(l, &p, &rl), NUB_E_OK);
	printf("    300-page limit: kvm halt %u, r7 %llu pages grown; local r7 %llu\n", rk.exit_reason,
	       (unsigned long long)rk.return_value, (unsigned long long)rl.return_value);
	ASSERT_EQ(rk.exit_reason, NUB_EXIT_HALT);
	ASSERT_TRUE(rk.return_value > 0 && rk.return_value < 300);
	ASSERT_MEM_EQ(&rk, &rl, sizeof rk);
	nub_close(k);
	nub_close(l);
}

/* ---- lanes: application processors serving ParallelInvokeSlots ----------------- */
#define LANE_BATCH_MAX 2048

static nub_sandbox *g_lanes_sb;
static InvokePacket g_lp[LANE_BATCH_MAX], g_llocal[LANE_BATCH_MAX];
static unsigned g_ln;

/* Publish a vector on the lanes sandbox and on local; its packets. */
static void lanes_one(vector *v, void *ctx)
{
	(void)ctx;
	uint8_t ik[NUB_CAP_HASH_LEN], il[NUB_CAP_HASH_LEN];
	if (g_ln < LANE_BATCH_MAX && !vector_put_caps(g_lanes_sb, v, ik) && !vector_put_caps(g_local, v, il)) {
		vector_packet(v, ik, &g_lp[g_ln]);
		vector_packet(v, il, &g_llocal[g_ln]);
		g_ln++;
	}
}

static InvocationResult g_lr[LANE_BATCH_MAX], g_lref[LANE_BATCH_MAX];

typedef struct {
	unsigned from, n, bad;
} lane_thread_job;

static void *lanes_thread(void *arg)
{
	lane_thread_job *j = arg;
	for (unsigned k = 0; k < 2; k++)
		for (unsigned i = j->from; i < j->from + j->n; i++) {
			InvocationResult r;
			nub_err e = nub_invoke(g_lanes_sb, &g_lp[i], &r);
			if (e != (r.exit_reason == NUB_EXIT_ERROR ? (nub_err)r.exit_arg : NUB_E_OK) ||
			    memcmp(&r, &g_lref[i], sizeof r))
				j->bad++;
		}
	return NULL;
}

TEST(lanes)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	if (!g_ndirs)
		SKIP("no --vectors DIR given");
	g_vcpus = 3; /* vCPU 0: the mailbox; 1 and 2: lanes 0 and 1 */
	nub_err e = open_backend(NUB_BACKEND_KVM, CALL_TIMEOUT_MS, &g_lanes_sb);
	g_vcpus = 1;
	ASSERT_EQ(e, NUB_E_OK);
	printf("    lanes %u (guest prepared %u, start: %s)\n", kvm_sandbox_lanes(g_lanes_sb),
	       kvm_sandbox_lanes_ready(g_lanes_sb), nub_err_name(kvm_sandbox_lanes_err(g_lanes_sb)));
	ASSERT_EQ(kvm_sandbox_lanes(g_lanes_sb), 2);
	unsigned unreadable = 0;
	for (unsigned d = 0; d < g_ndirs; d++)
		for_each_vector(g_dirs[d], lanes_one, NULL, &unreadable);
	ASSERT_EQ(unreadable, 0);
	printf("    %u vectors published on a 2-lane sandbox\n", g_ln);
	ASSERT_TRUE(g_ln > 0);
	for (unsigned i = 0; i < g_ln; i++)
		(void)nub_invoke(g_local, &g_llocal[i], &g_lref[i]);
	/* 1. the whole corpus as one batch over the lanes = one by one locally */
	uint64_t x0 = kvm_sandbox_exits(g_lanes_sb);
	double t0 = now_ms();
	(void)nub_invoke_parallel(g_lanes_sb, g_lp, g_lr, g_ln);
	double t1 = now_ms();
	unsigned diff = 0;
	for (unsigned i = 0; i < g_ln; i++)
		if (memcmp(&g_lr[i], &g_lref[i], sizeof g_lr[i]))
			diff++;
	uint64_t x1 = kvm_sandbox_exits(g_lanes_sb);
	printf("    batch of %u over 2 lanes: %u differ, %.1f ms, %llu VM exits (%.2f per job)\n", g_ln, diff, t1 - t0,
	       (unsigned long long)(x1 - x0), (double)(x1 - x0) / g_ln);
	ASSERT_EQ(diff, 0);
	/* 1b. the SDK programs as one batch over the lanes = one by one locally */
	if (g_programs) {
		DIR *dp = opendir(g_programs);
		ASSERT_TRUE(dp != NULL);
		struct dirent *de;
		InvokePacket sp[16], spl[16];
		InvocationResult sr[16], srl[16];
		unsigned ns = 0;
		while ((de = readdir(dp)) && ns < 16) {
			size_t nl = strlen(de->d_name);
			if (nl < 5 || strcmp(de->d_name + nl - 4, ".pvm"))
				continue;
			char path[1024];
			snprintf(path, sizeof path, "%s/%s", g_programs, de->d_name);
			size_t len;
			uint8_t *spi = (uint8_t *)test_read_file(path, &len);
			memset(&sp[ns], 0, sizeof sp[ns]);
			sp[ns].args[0] = 0xFEFF0000u; /* GP A.7: phi7 = argument address, phi8 = 0 */
			sp[ns].initial_gas = 1000000000;
			spl[ns] = sp[ns];
			if (spi && !publish_spi(g_lanes_sb, spi, len, sp[ns].instance_hash) &&
			    !publish_spi(g_local, spi, len, spl[ns].instance_hash))
				ns++;
			free(spi);
		}
		closedir(dp);
		ASSERT_TRUE(ns > 0);
		(void)nub_invoke_parallel(g_lanes_sb, sp, sr, ns);
		unsigned sdiff = 0;
		for (unsigned i = 0; i < ns; i++) {
			(void)nub_invoke(g_local, &spl[i], &srl[i]);
			sdiff += memcmp(&sr[i], &srl[i], sizeof sr[i]) != 0;
		}
		printf("    the %u SDK programs as one batch over 2 lanes: %u differ\n", ns, sdiff);
		ASSERT_EQ(sdiff, 0);
	}
	/* 2. nub_invoke from two threads at once, each on a lane */
	lane_thread_job jobs[2] = {{0, g_ln / 2, 0}, {g_ln / 2, g_ln - g_ln / 2, 0}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, lanes_thread, &jobs[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(jobs[0].bad + jobs[1].bad, 0);
	/* 3. an endless job on a lane: cancelled at the deadline, NUB_E_TIMEOUT;
	 * the lane answers the cancel (no restart, no rebuild) and goes on */
	static const uint8_t loop_blob[] = {0, 0, 1, 40, 0x01};
	InvokePacket loop;
	memset(&loop, 0, sizeof loop);
	ASSERT_EQ(publish_bare(g_lanes_sb, loop_blob, sizeof loop_blob, NULL, 0, NULL, 0, loop.instance_hash), NUB_E_OK);
	loop.initial_gas = 1ull << 62;
	unsigned r0 = kvm_sandbox_rebuilds(g_lanes_sb), l0 = kvm_sandbox_lane_restarts(g_lanes_sb);
	kvm_sandbox_set_timeout(g_lanes_sb, LOOP_TIMEOUT_MS);
	InvokePacket mix[3] = {loop, g_lp[0], g_lp[g_ln - 1]};
	InvocationResult mr[3];
	t0 = now_ms();
	e = nub_invoke_parallel(g_lanes_sb, mix, mr, 3);
	t1 = now_ms();
	kvm_sandbox_set_timeout(g_lanes_sb, CALL_TIMEOUT_MS);
	printf("    endless job + 2 others: %s after %.1f ms; rebuilds +%u, lane restarts +%u\n", nub_err_name(e),
	       t1 - t0, kvm_sandbox_rebuilds(g_lanes_sb) - r0, kvm_sandbox_lane_restarts(g_lanes_sb) - l0);
	ASSERT_EQ(e, NUB_E_TIMEOUT);
	ASSERT_EQ(mr[0].exit_reason, NUB_EXIT_ERROR);
	ASSERT_EQ(mr[0].exit_arg, NUB_E_TIMEOUT);
	ASSERT_MEM_EQ(&mr[1], &g_lref[0], sizeof mr[1]);
	ASSERT_MEM_EQ(&mr[2], &g_lref[g_ln - 1], sizeof mr[2]);
	ASSERT_EQ(kvm_sandbox_rebuilds(g_lanes_sb), r0);
	ASSERT_EQ(kvm_sandbox_lane_restarts(g_lanes_sb), l0);
	/* 4. trivial jobs in a stream: VM exits per job */
	x0 = kvm_sandbox_exits(g_lanes_sb);
	t0 = now_ms();
	unsigned bad = 0;
	for (unsigned i = 0; i < 500; i++) {
		InvocationResult r;
		if (nub_invoke(g_lanes_sb, &g_lp[0], &r) != (g_lref[0].exit_reason == NUB_EXIT_ERROR ? (nub_err)g_lref[0].exit_arg : NUB_E_OK) ||
		    memcmp(&r, &g_lref[0], sizeof r))
			bad++;
	}
	t1 = now_ms();
	x1 = kvm_sandbox_exits(g_lanes_sb);
	printf("    500 nub_invoke on lanes: %u bad, %.1f us each, %.2f VM exits each (nested, emulated)\n", bad,
	       (t1 - t0) * 1000 / 500, (double)(x1 - x0) / 500);
	ASSERT_EQ(bad, 0);
	NubHeapStats h0, h1;
	/* 4b. 7 000 trivial jobs in one batch, each with its own arguments: no
	 * result lost, duplicated or swapped (r7 = r8 + r9 = 4 i) */
	{
		static const uint8_t add_blob[] = {0, 0, 5, 200, 0x98, 7, 50, 0x00, 0x09}; /* r7 = r8 + r9; halt */
		uint8_t ainst[NUB_CAP_HASH_LEN];
		ASSERT_EQ(publish_bare(g_lanes_sb, add_blob, sizeof add_blob, NULL, 0, NULL, 0, ainst), NUB_E_OK);
		/* the guest heap with nothing cached, before 10 000+ lane jobs */
		ASSERT_EQ(nub_evict_jit_all(g_lanes_sb), NUB_E_OK);
		ASSERT_EQ(nub_heap_stats(g_lanes_sb, &h0), NUB_E_OK);
		enum { NT = 7000 };
		static InvokePacket tp[NT];
		static InvocationResult tr[NT];
		for (unsigned i = 0; i < NT; i++) {
			memset(&tp[i], 0, sizeof tp[i]);
			memcpy(tp[i].instance_hash, ainst, sizeof ainst);
			tp[i].args[1] = i;
			tp[i].args[2] = 3ull * i;
			tp[i].initial_gas = 100;
		}
		x0 = kvm_sandbox_exits(g_lanes_sb);
		t0 = now_ms();
		ASSERT_EQ(nub_invoke_parallel(g_lanes_sb, tp, tr, NT), NUB_E_OK);
		t1 = now_ms();
		x1 = kvm_sandbox_exits(g_lanes_sb);
		unsigned wrong = 0;
		for (unsigned i = 0; i < NT; i++)
			wrong += tr[i].exit_reason != NUB_EXIT_HALT || tr[i].return_value != 4ull * i;
		printf("    %u trivial jobs in one batch: %u wrong, %.1f us each, %.2f VM exits each\n", NT, wrong,
		       (t1 - t0) * 1000 / NT, (double)(x1 - x0) / NT);
		ASSERT_EQ(wrong, 0);
	}
	/* 5. a lane whose worker ends (a status with no protocol value in its
	 * slot): the next job on it restarts it; the batch is whole */
	l0 = kvm_sandbox_lane_restarts(g_lanes_sb);
	kvm_sandbox_scribble_lane(g_lanes_sb, 0, 0x7777u);
	usleep(200000);
	(void)nub_invoke_parallel(g_lanes_sb, g_lp, g_lr, g_ln);
	diff = 0;
	for (unsigned i = 0; i < g_ln; i++)
		if (memcmp(&g_lr[i], &g_lref[i], sizeof g_lr[i]))
			diff++;
	printf("    after a lane's worker ended: batch %u differ, lane restarts +%u\n", diff,
	       kvm_sandbox_lane_restarts(g_lanes_sb) - l0);
	ASSERT_EQ(diff, 0);
	ASSERT_EQ(kvm_sandbox_lane_restarts(g_lanes_sb), l0 + 1);
	/* 6. EVICT_JIT_ALL while lanes run; the guest heap the same as before
	 * 4b (nothing cached at either end) */
	lane_thread_job evj = {0, g_ln, 0};
	pthread_t evt;
	ASSERT_EQ(pthread_create(&evt, NULL, lanes_thread, &evj), 0);
	for (int k = 0; k < 20; k++) {
		ASSERT_EQ(nub_evict_jit_all(g_lanes_sb), NUB_E_OK);
		usleep(10000);
	}
	pthread_join(evt, NULL);
	ASSERT_EQ(evj.bad, 0);
	for (int k = 0; k < 4; k++)
		(void)nub_invoke_parallel(g_lanes_sb, g_lp, g_lr, g_ln);
	ASSERT_EQ(nub_evict_jit_all(g_lanes_sb), NUB_E_OK);
	ASSERT_EQ(nub_heap_stats(g_lanes_sb, &h1), NUB_E_OK);
	printf("    guest heap around %u lane jobs and EVICT_JIT_ALL: %llu -> %llu bytes in %llu -> %llu allocations\n",
	       7000 + 7 * g_ln, (unsigned long long)h0.allocated_bytes, (unsigned long long)h1.allocated_bytes,
	       (unsigned long long)h0.allocation_count, (unsigned long long)h1.allocation_count);
	ASSERT_EQ(h1.allocated_bytes, h0.allocated_bytes);
	ASSERT_EQ(h1.allocation_count, h0.allocation_count);
	nub_close(g_lanes_sb);
}

/* ---- host calls through the sandbox (nub_invoke_with; INVOKE_HOST + HOST_CALL)
 * Every scenario runs on kvm and on local, results compared byte for byte,
 * and against what the programs must give. */
/* @0 store_u64 [0x20000],r7; @5 ecalli 2; @7 load_u64 r7,[0x20000]; @12
 * ecalli 3; @14 jump_ind r0 (tests/test_api.c). */
static const uint8_t hc_prog_ping[] = {0,    0,    16,   62,   0x07, 0x00, 0x00, 0x02, 10,   2,    58,
                                       0x07, 0x00, 0x00, 0x02, 10,   3,    50,   0x00, 0xA1, 0x50};
/* Loop r7 times: @0 ecalli 1; @2 add_imm_64 r7,r7,-1; @5 branch_ne_imm r7,0,@0; @8 jump_ind r0. */
static const uint8_t hc_prog_loop[] = {0, 0, 10, 10, 1, 149, 0x77, 0xFF, 82, 0x07, 0xFB, 50, 0x00, 0x25, 0x01};

typedef struct {
	unsigned calls, stop_at, sleep_ms;
	uint64_t set_gas;
	uint64_t seen[2];
	nub_err e[10];
	uint8_t big[80 * 1024];
	bool big_ok;
} hc_state;

static nub_host_action hc_ping_handler(void *ctx, nub_host_call *c)
{
	hc_state *h = ctx;
	unsigned k = c->number == 2 ? 0 : 1;
	h->calls++;
	h->e[2 * k] = nub_host_call_read(c, 0x20000, &h->seen[k], 8);
	uint64_t v = k == 0 ? h->seen[0] * 2 + 1 : h->seen[1] + 5;
	h->e[2 * k + 1] = nub_host_call_write(c, 0x20000, &v, 8);
	if (k == 0) {
		uint8_t b[16];
		memset(b, 0xEE, sizeof b);
		h->e[4] = nub_host_call_write(c, 0x40000, &v, 8);       /* read-only slot 1: refused */
		h->e[5] = nub_host_call_read(c, 0x50000, b, 8);         /* unmapped */
		h->e[6] = nub_host_call_read(c, 0x2FFF8, b, 16);        /* runs past the 16-page region */
		h->e[7] = nub_host_call_read(c, 0xFFFFFFF8u, b, 16);    /* past 2^32 */
		h->big_ok = b[0] == 0xEE;                               /* refused reads copy nothing */
		/* more than one mailbox reply: 64 KiB + 16 KiB, written then read back */
		for (size_t i = 0; i < 64 * 1024; i++)
			h->big[i] = (uint8_t)(i * 7 + 1);
		h->e[8] = nub_host_call_write(c, 0x21000, h->big, 60 * 1024);
		memset(h->big, 0, sizeof h->big);
		h->e[9] = nub_host_call_read(c, 0x20000, h->big, 64 * 1024);
		for (size_t i = 0; i < 60 * 1024; i++)
			if (h->big[0x1000 + i] != (uint8_t)(i * 7 + 1))
				h->big_ok = false;
	}
	return NUB_HOST_RESUME;
}

static nub_host_action hc_loop_handler(void *ctx, nub_host_call *c)
{
	hc_state *h = ctx;
	h->calls++;
	if (h->sleep_ms)
		usleep(h->sleep_ms * 1000u);
	if (h->set_gas != ~0ull)
		c->gas = h->set_gas;
	if (h->stop_at && h->calls == h->stop_at) {
		c->regs[7] = 777;
		return NUB_HOST_STOP;
	}
	return NUB_HOST_RESUME;
}

static nub_err hc_publish(nub_sandbox *sb, const uint8_t *code, size_t len, bool maps, uint8_t inst[NUB_CAP_HASH_LEN])
{
	nub_endpoint ep;
	memset(&ep, 0, sizeof ep);
	ep.regs[0] = NUB_HALT_ADDR;
	nub_mapping m[2] = {{0x20000, 16, 0, true}, {0x40000, 1, 1, false}};
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = code, .code_len = len, .endpoints = &ep,
	                    .endpoint_count = 1, .mappings = maps ? m : NULL, .mapping_count = maps ? 2 : 0};
	nub_cap_buf b;
	uint8_t img[NUB_CAP_HASH_LEN], d0[NUB_CAP_HASH_LEN], d1[NUB_CAP_HASH_LEN];
	nub_err e = nub_cap_image(&d, &b);
	if (e)
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, img);
	nub_cap_buf_free(&b);
	nub_slot slots[2];
	memset(slots, 0, sizeof slots);
	if (!e && maps) {
		if ((e = nub_cap_data("", 0, &b)))
			return e;
		e = nub_put_cap(sb, b.bytes, b.len, d0);
		nub_cap_buf_free(&b);
		if (e || (e = nub_cap_data("abc", 3, &b)))
			return e;
		e = nub_put_cap(sb, b.bytes, b.len, d1);
		nub_cap_buf_free(&b);
		slots[1].index = 1;
		memcpy(slots[0].hash, d0, NUB_CAP_HASH_LEN);
		memcpy(slots[1].hash, d1, NUB_CAP_HASH_LEN);
	}
	if (e || (e = nub_cap_instance(img, slots, maps ? 2 : 0, &b)))
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, inst);
	nub_cap_buf_free(&b);
	return e;
}

static hc_state g_hs[2];

/* The six invocations the host-call tests compare between kvm (mailbox or
 * lane) and local: ping (a handler that writes memory the program then
 * reads, refused accesses, accesses larger than one reply), then the loop:
 * 1000 calls answered, STOP at the 3rd, gas 0, gas 2^63, more gas than the
 * packet gave. counted: the kvm sandbox whose VM exits and time of the
 * 1000-call invocation go to *exits and *ms (NULL: none). */
static void hc_six(nub_sandbox *sb, nub_sandbox *counted, const uint8_t ping[NUB_CAP_HASH_LEN],
                   const uint8_t loop[NUB_CAP_HASH_LEN], hc_state *h, nub_err e[6], InvocationResult r[6],
                   uint64_t *exits, double *ms)
{
	memset(r, 0, 6 * sizeof *r);
	for (int i = 0; i < 6; i++)
		e[i] = NUB_E_MAX_; /* none yet */
	InvokePacket p;
	memset(&p, 0, sizeof p);
	memcpy(p.instance_hash, ping, NUB_CAP_HASH_LEN);
	p.initial_gas = 100;
	p.args[0] = 4242;
	memset(h, 0, sizeof *h);
	e[0] = nub_invoke_with(sb, &p, hc_ping_handler, h, &r[0]);
	memcpy(p.instance_hash, loop, NUB_CAP_HASH_LEN);
	p.initial_gas = 1000000;
	p.args[0] = 1000;
	hc_state l = {.set_gas = ~0ull};
	uint64_t x0 = counted ? kvm_sandbox_exits(counted) : 0;
	double t0 = now_ms();
	e[1] = nub_invoke_with(sb, &p, hc_loop_handler, &l, &r[1]);
	if (counted) {
		*ms = now_ms() - t0;
		*exits = kvm_sandbox_exits(counted) - x0;
	}
	ASSERT_EQ(l.calls, 1000);
	l = (hc_state){.set_gas = ~0ull, .stop_at = 3};
	e[2] = nub_invoke_with(sb, &p, hc_loop_handler, &l, &r[2]);
	l = (hc_state){.set_gas = 0};
	e[3] = nub_invoke_with(sb, &p, hc_loop_handler, &l, &r[3]);
	ASSERT_EQ(l.calls, 1);
	l = (hc_state){.set_gas = 1ull << 63};
	e[4] = nub_invoke_with(sb, &p, hc_loop_handler, &l, &r[4]);
	l = (hc_state){.set_gas = 5000000}; /* more than the packet gave */
	e[5] = nub_invoke_with(sb, &p, hc_loop_handler, &l, &r[5]);
}

/* hc_six's results: kvm ([0]) = local ([1]) byte for byte, and right. */
static void hc_six_check(hc_state h[2], nub_err e[2][6], InvocationResult r[2][6])
{
	for (int i = 0; i < 6; i++) {
		ASSERT_EQ(e[0][i], e[1][i]);
		ASSERT_MEM_EQ(&r[0][i], &r[1][i], sizeof r[0][i]);
	}
	ASSERT_EQ(h[0].calls, 2);
	ASSERT_EQ(h[0].seen[0], 4242);
	ASSERT_EQ(h[0].seen[1], 2 * 4242 + 1);
	for (int i = 0; i < 10; i++)
		ASSERT_EQ(h[0].e[i], i >= 4 && i < 8 ? NUB_E_HOST_MEMORY : NUB_E_OK);
	ASSERT_TRUE(h[0].big_ok);
	ASSERT_MEM_EQ(h[0].big, h[1].big, sizeof h[0].big);
	ASSERT_EQ(r[0][0].exit_reason, NUB_EXIT_HALT);
	ASSERT_EQ(r[0][0].return_value, 2 * 4242 + 1);
	ASSERT_EQ(r[0][0].gas_remaining, 95);
	ASSERT_EQ(r[0][1].exit_reason, NUB_EXIT_HALT);
	ASSERT_EQ(r[0][1].gas_remaining, 1000000 - 3 * 1000 - 1);
	ASSERT_EQ(r[0][2].exit_reason, NUB_EXIT_HOST_CALL);
	ASSERT_EQ(r[0][2].return_value, 777);
	ASSERT_EQ(r[0][3].exit_reason, NUB_EXIT_OUT_OF_GAS);
	ASSERT_EQ(e[0][4], NUB_E_BAD_GAS);
	ASSERT_EQ(r[0][5].exit_reason, NUB_EXIT_HALT);
	ASSERT_EQ(r[0][5].gas_remaining, 5000000 - 3); /* the handler's gas, then add, branch, jump */
}

TEST(host_calls_memory_stop_gas)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	nub_sandbox *sb[2] = {g_kvm, g_local};
	InvocationResult r[2][6];
	nub_err e[2][6];
	hc_state *h = g_hs;
	uint64_t exits = 0;
	unsigned r0 = kvm_sandbox_rebuilds(g_kvm);
	double ms = 0;
	for (int k = 0; k < 2; k++) {
		uint8_t ping[NUB_CAP_HASH_LEN], loop[NUB_CAP_HASH_LEN];
		ASSERT_EQ(hc_publish(sb[k], hc_prog_ping, sizeof hc_prog_ping, true, ping), NUB_E_OK);
		ASSERT_EQ(hc_publish(sb[k], hc_prog_loop, sizeof hc_prog_loop, false, loop), NUB_E_OK);
		hc_six(sb[k], k == 0 ? g_kvm : NULL, ping, loop, &h[k], e[k], r[k], &exits, &ms);
	}
	hc_six_check(h, e, r);
	printf("    host calls on kvm: %.2f VM exits and %.1f us per host call (1000 calls)\n", (double)exits / 1000,
	       ms * 1000.0 / 1000);
	ASSERT_TRUE(exits >= 1000 && exits <= 2 * 1000 + 10);
	ASSERT_EQ(kvm_sandbox_rebuilds(g_kvm), r0);
	/* memory accessors: one request each */
	hc_state *hm = &g_hs[0];
	memset(hm, 0, sizeof *hm);
	uint8_t ping[NUB_CAP_HASH_LEN];
	ASSERT_EQ(hc_publish(g_kvm, hc_prog_ping, sizeof hc_prog_ping, true, ping), NUB_E_OK);
	InvokePacket pp;
	memset(&pp, 0, sizeof pp);
	memcpy(pp.instance_hash, ping, sizeof ping);
	pp.initial_gas = 100;
	InvocationResult rp;
	uint64_t x1 = kvm_sandbox_exits(g_kvm);
	ASSERT_EQ(nub_invoke_with(g_kvm, &pp, hc_ping_handler, hm, &rp), NUB_E_OK);
	/* 2 host calls + the steps; accessors: 4 small ones, 4 refused (one
	 * refused on the host: past 2^32), a 60 KiB write, a 64 KiB read */
	printf("    ping on kvm: %llu VM exits for 2 host calls and 12 memory accesses\n",
	       (unsigned long long)(kvm_sandbox_exits(g_kvm) - x1));
}

TEST(host_calls_timeout_and_no_leak)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	uint8_t loop[NUB_CAP_HASH_LEN];
	ASSERT_EQ(hc_publish(g_kvm, hc_prog_loop, sizeof hc_prog_loop, false, loop), NUB_E_OK);
	InvokePacket p;
	memset(&p, 0, sizeof p);
	memcpy(p.instance_hash, loop, sizeof loop);
	p.initial_gas = 1000000;
	p.args[0] = 1000;
	InvocationResult r;
	hc_state l = {.set_gas = ~0ull};
	ASSERT_EQ(nub_invoke_with(g_kvm, &p, hc_loop_handler, &l, &r), NUB_E_OK); /* warm */
	NubHeapStats h0, h1;
	ASSERT_EQ(nub_heap_stats(g_kvm, &h0), NUB_E_OK);
	/* handlers slower than the deadline: NUB_E_TIMEOUT, the suspended
	 * invocation aborted in the guest (no rebuild, nothing leaked) */
	unsigned r0 = kvm_sandbox_rebuilds(g_kvm);
	kvm_sandbox_set_timeout(g_kvm, 300);
	for (int i = 0; i < 3; i++) {
		l = (hc_state){.set_gas = ~0ull, .sleep_ms = 60};
		double t0 = now_ms();
		ASSERT_EQ(nub_invoke_with(g_kvm, &p, hc_loop_handler, &l, &r), NUB_E_TIMEOUT);
		double t1 = now_ms();
		ASSERT_EQ(r.exit_reason, NUB_EXIT_ERROR);
		ASSERT_EQ(r.exit_arg, NUB_E_TIMEOUT);
		ASSERT_TRUE(l.calls >= 1 && l.calls <= 6); /* 60 ms each against 300 ms */
		ASSERT_TRUE(t1 - t0 >= 300);
	}
	kvm_sandbox_set_timeout(g_kvm, CALL_TIMEOUT_MS);
	ASSERT_EQ(kvm_sandbox_rebuilds(g_kvm), r0);
	ASSERT_EQ(nub_heap_stats(g_kvm, &h1), NUB_E_OK);
	ASSERT_EQ(h1.allocated_bytes, h0.allocated_bytes);
	ASSERT_EQ(h1.allocation_count, h0.allocation_count);
	/* a host that never answers: the next request (any) frees the
	 * suspended invocation (raw INVOKE_HOST, then HEAP_STATS) */
	NubHostStep st;
	uint32_t n;
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_INVOKE_HOST, &p, sizeof p, &st, sizeof st, &n), NUB_E_OK);
	ASSERT_EQ(n, sizeof st);
	ASSERT_EQ(st.state, NUB_HOST_STEP_CALL);
	ASSERT_EQ(st.number, 1);
	ASSERT_EQ(st.regs[7], 1000);
	ASSERT_EQ(st.gas, 1000000 - 1);
	ASSERT_EQ(nub_heap_stats(g_kvm, &h1), NUB_E_OK);
	ASSERT_EQ(h1.allocated_bytes, h0.allocated_bytes);
	/* HOST_CALL with nothing suspended: refused by name, VM fine */
	NubHostOp op = {.op = NUB_HOST_OP_ANSWER};
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_HOST_CALL, &op, sizeof op, &st, sizeof st, &n), NUB_E_INVALID_ARG);
	ASSERT_EQ(n, 0);
	/* a short HOST_CALL, an unknown op: refused, the invocation stays */
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_INVOKE_HOST, &p, sizeof p, &st, sizeof st, &n), NUB_E_OK);
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_HOST_CALL, &op, 8, &st, sizeof st, &n), NUB_E_INVALID_ARG);
	op.op = 99;
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_HOST_CALL, &op, sizeof op, &st, sizeof st, &n), NUB_E_INVALID_ARG);
	op = (NubHostOp){.op = NUB_HOST_OP_ANSWER, .action = NUB_HOST_ACTION_STOP, .gas = 5};
	op.regs[7] = 9;
	ASSERT_EQ(kvm_sandbox_call(g_kvm, NUB_FN_ID_HOST_CALL, &op, sizeof op, &st, sizeof st, &n), NUB_E_OK);
	ASSERT_EQ(st.state, NUB_HOST_STEP_DONE);
	ASSERT_EQ(st.result.exit_reason, NUB_EXIT_HOST_CALL);
	ASSERT_EQ(st.result.exit_arg, 1);
	ASSERT_EQ(st.result.return_value, 9);
	ASSERT_EQ(st.result.gas_remaining, 5);
	ASSERT_EQ(nub_heap_stats(g_kvm, &h1), NUB_E_OK);
	ASSERT_EQ(h1.allocated_bytes, h0.allocated_bytes);
	ASSERT_EQ(kvm_sandbox_rebuilds(g_kvm), r0);
}

/* The SDK's hostcall kernel (100 000 `ecalli 1`, each answer fed back):
 * the same phi7 and gas on kvm as on local. */
static nub_host_action hc_rule_handler(void *ctx, nub_host_call *c)
{
	++*(unsigned *)ctx;
	c->regs[7] = c->regs[7] * 3 + c->regs[8];
	return NUB_HOST_RESUME;
}

/* The hostcall kernel (100 000 ecallis, bench/programs/hostcall.c) with a
 * handler on sb (kvm) and on local: the same result byte for byte; VM exits
 * and time per host call printed after `what`. *ran stays false (nothing
 * run) when the kernel is not in --programs. */
static void hc_kernel(nub_sandbox *sb, const char *what, bool *ran)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/hostcall.pvm", g_programs);
	size_t len;
	uint8_t *spi = (uint8_t *)test_read_file(path, &len);
	*ran = spi != NULL;
	if (!spi)
		return;
	uint8_t ik[NUB_CAP_HASH_LEN], il[NUB_CAP_HASH_LEN];
	nub_err ek = publish_spi(sb, spi, len, ik), el = publish_spi(g_local, spi, len, il);
	free(spi);
	ASSERT_EQ(ek, NUB_E_OK);
	ASSERT_EQ(el, NUB_E_OK);
	InvokePacket p;
	memset(&p, 0, sizeof p);
	memcpy(p.instance_hash, ik, sizeof ik);
	p.args[0] = 0xFEFF0000u;
	p.initial_gas = 1000000000;
	InvocationResult rk, rl;
	unsigned nk = 0, nl = 0;
	uint64_t x0 = kvm_sandbox_exits(sb);
	kvm_sandbox_set_timeout(sb, 600000); /* 100 000 round trips, nested-emulated */
	double t0 = now_ms();
	nub_err e = nub_invoke_with(sb, &p, hc_rule_handler, &nk, &rk);
	double t1 = now_ms();
	kvm_sandbox_set_timeout(sb, CALL_TIMEOUT_MS);
	ASSERT_EQ(e, NUB_E_OK);
	uint64_t exits = kvm_sandbox_exits(sb) - x0;
	ASSERT_EQ(nub_invoke_with(g_local, &p, hc_rule_handler, &nl, &rl), NUB_E_OK);
	ASSERT_EQ(nk, 100000);
	ASSERT_EQ(nl, 100000);
	ASSERT_EQ(rk.exit_reason, NUB_EXIT_HALT);
	ASSERT_MEM_EQ(&rk, &rl, sizeof rk);
	printf("    %s: 100000 calls, %.3f VM exits and %.2f us per host call\n", what, (double)exits / 1e5,
	       (t1 - t0) * 1000.0 / 1e5);
	ASSERT_TRUE(exits <= 2 * 100000 + 10);
}

TEST(hostcall_kernel_kvm_equals_local)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	if (!g_programs)
		SKIP("no --programs DIR given (bench kernels need clang-19)");
	bool ran;
	hc_kernel(g_kvm, "hostcall kernel on kvm", &ran);
	if (!ran)
		SKIP("no hostcall.pvm in --programs");
}

/* ---- host calls on lanes (nub_invoke_with with a free lane) ------------------------
 * The same scenarios as above on a sandbox with 3 lanes, both guest engines:
 * every result equals local's byte for byte; the handlers really ran on
 * lanes (kvm_sandbox_lane_host_jobs) and at once (handlers overlapping in
 * time, which the mailbox path, holding its lock, cannot do). */
#define HL_LANES 3u
static nub_sandbox *g_hl;

static nub_err hl_open(nub_engine engine, nub_sandbox **out)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_KVM;
	o.timeout_ms = CALL_TIMEOUT_MS;
	o.notice = quiet;
	o.engine = engine;
	o.vcpus = HL_LANES + 1; /* vCPU 0: the mailbox */
	o.lanes = HL_LANES;
	return kvm_test_open(&o, out);
}

typedef struct {
	nub_sandbox *sb;
	const uint8_t *ping, *loop; /* instance hashes */
	unsigned *inside, *max_inside; /* handlers running right now, most at once (atomic) */
	unsigned hold_ms;              /* each handler call sleeps this long */
	volatile unsigned *gate;       /* non-NULL: handlers wait while *gate is 0 */
	unsigned runs, bad;
	hc_state h;
	InvocationResult r;
	nub_err e;
} hl_job;

static nub_host_action hl_handler(void *ctx, nub_host_call *c)
{
	hl_job *j = ctx;
	unsigned now = __atomic_add_fetch(j->inside, 1, __ATOMIC_SEQ_CST);
	unsigned m = __atomic_load_n(j->max_inside, __ATOMIC_SEQ_CST);
	while (now > m && !__atomic_compare_exchange_n(j->max_inside, &m, now, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	if (j->hold_ms)
		usleep(j->hold_ms * 1000u);
	while (j->gate && !__atomic_load_n(j->gate, __ATOMIC_SEQ_CST))
		usleep(1000);
	nub_host_action a = hc_ping_handler(&j->h, c);
	__atomic_sub_fetch(j->inside, 1, __ATOMIC_SEQ_CST);
	return a;
}

/* One ping invocation through hl_handler; false when its result or the
 * handler's view is not the expected one. */
static bool hl_ping_once(hl_job *j, uint64_t arg)
{
	InvokePacket p;
	memset(&p, 0, sizeof p);
	memcpy(p.instance_hash, j->ping, NUB_CAP_HASH_LEN);
	p.initial_gas = 100;
	p.args[0] = arg;
	memset(&j->h, 0, sizeof j->h);
	j->e = nub_invoke_with(j->sb, &p, hl_handler, j, &j->r);
	bool ok = j->e == NUB_E_OK && j->r.exit_reason == NUB_EXIT_HALT && j->r.return_value == 2 * arg + 1 &&
	          j->r.gas_remaining == 95 && j->h.calls == 2 && j->h.seen[0] == arg && j->h.seen[1] == 2 * arg + 1 &&
	          j->h.big_ok;
	for (int i = 0; i < 10; i++)
		ok = ok && j->h.e[i] == (i >= 4 && i < 8 ? NUB_E_HOST_MEMORY : NUB_E_OK);
	return ok;
}

static void *hl_thread(void *arg)
{
	hl_job *j = arg;
	for (unsigned i = 0; i < j->runs; i++)
		if (!hl_ping_once(j, 1000u * (uintptr_t)j + i))
			j->bad++;
	return NULL;
}

/* A handler that invokes its own sandbox (another lane) at each call. */
typedef struct {
	hl_job inner;
	unsigned calls, bad;
} hl_nested;

static nub_host_action hl_nested_handler(void *ctx, nub_host_call *c)
{
	hl_nested *n = ctx;
	(void)c; /* resumed unchanged */
	n->calls++;
	if (!hl_ping_once(&n->inner, 77 + n->calls))
		n->bad++;
	return NUB_HOST_RESUME;
}

/* A handler that breaks the VM (fault probe 100 on the mailbox: a rebuild)
 * while its job waits on a lane, then touches the job's memory. */
static nub_err g_hl_probe_err, g_hl_after_err;
static nub_host_action hl_rebuild_handler(void *ctx, nub_host_call *c)
{
	nub_sandbox *sb = ctx;
	uint8_t resp[64], b[8];
	uint32_t n;
	g_hl_probe_err = kvm_sandbox_call(sb, 100, NULL, 0, resp, sizeof resp, &n);
	g_hl_after_err = nub_host_call_read(c, 0x20000, b, sizeof b);
	return NUB_HOST_RESUME;
}

/* A handler that scribbles on its own lane's slot (a status with no
 * protocol value) while the job waits, then reads memory. */
static nub_err g_hl_scribble_read;
static nub_host_action hl_scribble_handler(void *ctx, nub_host_call *c)
{
	uint8_t b[8];
	kvm_sandbox_scribble_lane(ctx, 0, 0x7777u);
	g_hl_scribble_read = nub_host_call_read(c, 0x20000, b, sizeof b);
	return NUB_HOST_RESUME;
}

static void hl_scenarios(nub_engine engine, const char *name)
{
	nub_sandbox *sb;
	ASSERT_EQ(hl_open(engine, &sb), NUB_E_OK);
	g_hl = sb;
	ASSERT_EQ(kvm_sandbox_lanes(sb), HL_LANES);
	uint8_t ping[NUB_CAP_HASH_LEN], loop[NUB_CAP_HASH_LEN], lping[NUB_CAP_HASH_LEN], lloop[NUB_CAP_HASH_LEN];
	ASSERT_EQ(hc_publish(sb, hc_prog_ping, sizeof hc_prog_ping, true, ping), NUB_E_OK);
	ASSERT_EQ(hc_publish(sb, hc_prog_loop, sizeof hc_prog_loop, false, loop), NUB_E_OK);
	ASSERT_EQ(hc_publish(g_local, hc_prog_ping, sizeof hc_prog_ping, true, lping), NUB_E_OK);
	ASSERT_EQ(hc_publish(g_local, hc_prog_loop, sizeof hc_prog_loop, false, lloop), NUB_E_OK);
	ASSERT_MEM_EQ(ping, lping, sizeof ping);
	ASSERT_MEM_EQ(loop, lloop, sizeof loop);
	unsigned r0 = kvm_sandbox_rebuilds(sb), l0 = kvm_sandbox_lane_restarts(sb);

	/* 1. the mailbox scenarios on a lane: memory written and read back,
	 * refused accesses, accesses of many buffers; 1000 calls; STOP; gas 0;
	 * gas 2^63; more gas than the packet gave. Same results as local. */
	nub_sandbox *both[2] = {sb, g_local};
	InvocationResult r[2][6];
	nub_err e[2][6];
	hc_state *h = g_hs;
	uint64_t exits = 0, j0 = kvm_sandbox_lane_host_jobs(sb);
	double ms = 0;
	for (int k = 0; k < 2; k++)
		hc_six(both[k], k == 0 ? sb : NULL, ping, loop, &h[k], e[k], r[k], &exits, &ms);
	ASSERT_EQ(kvm_sandbox_lane_host_jobs(sb), j0 + 6); /* every one on a lane */
	hc_six_check(h, e, r);
	printf("    %s: host calls on a lane: %.2f VM exits and %.1f us per host call (1000 calls)\n", name,
	       (double)exits / 1000, ms * 1000.0 / 1000);
	ASSERT_TRUE(exits <= 2 * 1000 + 10);

	/* 2. the hostcall kernel (100 000 calls) on a lane = local */
	if (g_programs) {
		char what[64];
		snprintf(what, sizeof what, "%s: hostcall kernel on a lane", name);
		uint64_t jj = kvm_sandbox_lane_host_jobs(sb);
		bool ran;
		hc_kernel(sb, what, &ran);
		if (ran)
			ASSERT_EQ(kvm_sandbox_lane_host_jobs(sb), jj + 1);
	}

	/* 3. several threads at once, each on its own lane; the handlers
	 * overlap in time (impossible on the mailbox, which holds its lock
	 * while a handler runs) */
	unsigned inside = 0, max_inside = 0;
	static hl_job jobs[HL_LANES];
	pthread_t th[HL_LANES];
	j0 = kvm_sandbox_lane_host_jobs(sb);
	uint64_t c0 = kvm_sandbox_host_calls(sb);
	for (unsigned i = 0; i < HL_LANES; i++) {
		memset(&jobs[i], 0, sizeof jobs[i]);
		jobs[i] = (hl_job){.sb = sb, .ping = ping, .loop = loop, .inside = &inside, .max_inside = &max_inside,
		                   .hold_ms = 5, .runs = 8};
		ASSERT_EQ(pthread_create(&th[i], NULL, hl_thread, &jobs[i]), 0);
	}
	unsigned bad = 0;
	for (unsigned i = 0; i < HL_LANES; i++) {
		pthread_join(th[i], NULL);
		bad += jobs[i].bad;
	}
	printf("    %s: %u threads x 8 invocations with handlers: %u bad, %llu on lanes, at most %u handlers at once\n",
	       name, HL_LANES, bad, (unsigned long long)(kvm_sandbox_lane_host_jobs(sb) - j0), max_inside);
	ASSERT_EQ(bad, 0);
	ASSERT_EQ(kvm_sandbox_host_calls(sb) - c0, HL_LANES * 8 * 2);
	/* each thread holds at most one lane and there are as many lanes as
	 * threads: every invocation took a lane */
	ASSERT_EQ(kvm_sandbox_lane_host_jobs(sb) - j0, HL_LANES * 8);
	ASSERT_TRUE(max_inside >= 2);

	/* 4. every lane held by a handler that waits: nub_invoke_with still
	 * works, on the mailbox */
	volatile unsigned gate = 0;
	inside = max_inside = 0;
	for (unsigned i = 0; i < HL_LANES; i++) {
		jobs[i] = (hl_job){.sb = sb, .ping = ping, .loop = loop, .inside = &inside, .max_inside = &max_inside,
		                   .gate = &gate, .runs = 1};
		ASSERT_EQ(pthread_create(&th[i], NULL, hl_thread, &jobs[i]), 0);
	}
	for (int w = 0; w < 20000 && __atomic_load_n(&inside, __ATOMIC_SEQ_CST) < HL_LANES; w++)
		usleep(1000);
	ASSERT_EQ(__atomic_load_n(&inside, __ATOMIC_SEQ_CST), HL_LANES);
	j0 = kvm_sandbox_lane_host_jobs(sb);
	hl_job mb = {.sb = sb, .ping = ping, .loop = loop, .inside = &inside, .max_inside = &max_inside};
	inside = 0; /* the mailbox job's own count starts again (the others wait) */
	bool mb_ok = hl_ping_once(&mb, 31337);
	uint64_t j1 = kvm_sandbox_lane_host_jobs(sb);
	__atomic_store_n(&gate, 1, __ATOMIC_SEQ_CST);
	bad = 0;
	for (unsigned i = 0; i < HL_LANES; i++) {
		pthread_join(th[i], NULL);
		bad += jobs[i].bad;
	}
	ASSERT_TRUE(mb_ok);
	ASSERT_EQ(j1, j0); /* not on a lane */
	ASSERT_EQ(bad, 0);

	/* 5. a handler that invokes its own sandbox: the inner invocation takes
	 * another lane */
	{
		hl_nested n = {{.sb = sb, .ping = ping, .loop = loop, .inside = &inside, .max_inside = &max_inside}, 0, 0};
		InvokePacket p;
		memset(&p, 0, sizeof p);
		memcpy(p.instance_hash, loop, sizeof loop);
		p.initial_gas = 1000000;
		p.args[0] = 3;
		InvocationResult rn;
		j0 = kvm_sandbox_lane_host_jobs(sb);
		ASSERT_EQ(nub_invoke_with(sb, &p, hl_nested_handler, &n, &rn), NUB_E_OK);
		ASSERT_EQ(rn.exit_reason, NUB_EXIT_HALT);
		ASSERT_EQ(n.calls, 3);
		ASSERT_EQ(n.bad, 0);
		ASSERT_EQ(kvm_sandbox_lane_host_jobs(sb) - j0, 4);
	}

	/* 6. a lane job suspended in slow handlers past its deadline:
	 * NUB_E_TIMEOUT, the job freed in the guest by its worker (no lane
	 * restart, no rebuild, the guest heap as before) */
	{
		InvokePacket p;
		memset(&p, 0, sizeof p);
		memcpy(p.instance_hash, loop, sizeof loop);
		p.initial_gas = 1000000;
		p.args[0] = 1000;
		InvocationResult rt;
		hc_state l = {.set_gas = ~0ull};
		ASSERT_EQ(nub_invoke_with(sb, &p, hc_loop_handler, &l, &rt), NUB_E_OK); /* warm */
		NubHeapStats hs0, hs1;
		ASSERT_EQ(nub_heap_stats(sb, &hs0), NUB_E_OK);
		kvm_sandbox_set_timeout(sb, 300);
		for (int i = 0; i < 3; i++) {
			l = (hc_state){.set_gas = ~0ull, .sleep_ms = 60};
			double t0 = now_ms();
			ASSERT_EQ(nub_invoke_with(sb, &p, hc_loop_handler, &l, &rt), NUB_E_TIMEOUT);
			double t1 = now_ms();
			ASSERT_EQ(rt.exit_reason, NUB_EXIT_ERROR);
			ASSERT_EQ(rt.exit_arg, NUB_E_TIMEOUT);
			ASSERT_TRUE(l.calls >= 1 && l.calls <= 6);
			ASSERT_TRUE(t1 - t0 >= 300);
		}
		kvm_sandbox_set_timeout(sb, CALL_TIMEOUT_MS);
		ASSERT_EQ(nub_heap_stats(sb, &hs1), NUB_E_OK);
		ASSERT_EQ(hs1.allocated_bytes, hs0.allocated_bytes);
		ASSERT_EQ(hs1.allocation_count, hs0.allocation_count);
		ASSERT_EQ(kvm_sandbox_rebuilds(sb), r0);
		ASSERT_EQ(kvm_sandbox_lane_restarts(sb), l0);
		/* and the lanes go on */
		hl_job again = {.sb = sb, .ping = ping, .loop = loop, .inside = &inside, .max_inside = &max_inside};
		ASSERT_TRUE(hl_ping_once(&again, 5));
	}

	/* 7. a rebuild while a handler runs (its handler breaks the VM through
	 * the mailbox): the job ends with NUB_E_GUEST_FAULT, its memory
	 * accessors say so, nothing hangs; the rebuilt VM serves */
	{
		InvokePacket p;
		memset(&p, 0, sizeof p);
		memcpy(p.instance_hash, ping, sizeof ping);
		p.initial_gas = 100;
		InvocationResult rb;
		ASSERT_EQ(nub_invoke_with(sb, &p, hl_rebuild_handler, sb, &rb), NUB_E_GUEST_FAULT);
		ASSERT_EQ(rb.exit_reason, NUB_EXIT_ERROR);
		ASSERT_EQ(g_hl_probe_err, NUB_E_GUEST_FAULT);
		ASSERT_EQ(g_hl_after_err, NUB_E_GUEST_FAULT);
		ASSERT_EQ(kvm_sandbox_rebuilds(sb), r0 + 1);
		ASSERT_EQ(kvm_sandbox_lanes(sb), HL_LANES);
		hl_job again = {.sb = sb, .ping = ping, .loop = loop, .inside = &inside, .max_inside = &max_inside};
		j0 = kvm_sandbox_lane_host_jobs(sb);
		ASSERT_TRUE(hl_ping_once(&again, 6));
		ASSERT_EQ(kvm_sandbox_lane_host_jobs(sb), j0 + 1);
	}

	/* 8. the slot scribbled on while the handler runs (the job is on lane
	 * 0: every lane is free): the worker ends the job, the memory request
	 * and the invocation fail with NUB_E_GUEST_PROTOCOL, the lane is
	 * restarted (no rebuild) and serves again */
	{
		InvokePacket p;
		memset(&p, 0, sizeof p);
		memcpy(p.instance_hash, ping, sizeof ping);
		p.initial_gas = 100;
		InvocationResult rs;
		unsigned rb0 = kvm_sandbox_rebuilds(sb), lr0 = kvm_sandbox_lane_restarts(sb);
		ASSERT_EQ(nub_invoke_with(sb, &p, hl_scribble_handler, sb, &rs), NUB_E_GUEST_PROTOCOL);
		ASSERT_EQ(rs.exit_reason, NUB_EXIT_ERROR);
		ASSERT_EQ(g_hl_scribble_read, NUB_E_GUEST_PROTOCOL);
		ASSERT_EQ(kvm_sandbox_rebuilds(sb), rb0);
		ASSERT_EQ(kvm_sandbox_lane_restarts(sb), lr0 + 1);
		hl_job again = {.sb = sb, .ping = ping, .loop = loop, .inside = &inside, .max_inside = &max_inside};
		for (int i = 0; i < 4; i++)
			ASSERT_TRUE(hl_ping_once(&again, 7 + (unsigned)i));
	}
	nub_close(sb);
	g_hl = NULL;
}

TEST(host_calls_on_lanes_jit)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	hl_scenarios(NUB_ENGINE_JIT, "jit");
}

TEST(host_calls_on_lanes_interp)
{
	if (!g_kvm_ok)
		SKIP("no kvm sandbox");
	hl_scenarios(NUB_ENGINE_INTERP, "interp");
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--faults") && i + 1 < argc)
			g_faults = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--vectors") && i + 1 < argc && g_ndirs < 8)
			g_dirs[g_ndirs++] = argv[++i];
		else if (!strcmp(argv[i], "--programs") && i + 1 < argc)
			g_programs = argv[++i];
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			g_only = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--faults N] [--vectors DIR]... [--programs DIR] [--only TEST]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN_SOME(boot);
	RUN_SOME(boot_info);
	RUN_SOME(empty_rpc_vm_exits);
	RUN_SOME(put_cap_invoke_heap_evict);
	RUN_SOME(production_kernel);
	RUN_SOME(capdir_lookup);
	RUN_SOME(malformed_requests);
	RUN_SOME(fault_probes_once);
	RUN_SOME(fault_probes_repeated_no_leak);
	RUN_SOME(replay_survives_a_failing_cap);
	RUN_SOME(triple_fault_shutdown);
	RUN_SOME(endless_pvm_program_timeout);
	RUN_SOME(several_sandboxes);
	RUN_SOME(threads);
	RUN_SOME(differential_vectors);
	RUN_SOME(differential_programs);
	RUN_SOME(lanes);
	RUN_SOME(invocation_memory_limit);
	RUN_SOME(host_calls_memory_stop_gas);
	RUN_SOME(host_calls_timeout_and_no_leak);
	RUN_SOME(hostcall_kernel_kvm_equals_local);
	RUN_SOME(host_calls_on_lanes_jit);
	RUN_SOME(host_calls_on_lanes_interp);
	if (g_kvm)
		nub_close(g_kvm);
	if (g_local)
		nub_close(g_local);
	if (g_local_jit)
		nub_close(g_local_jit);
	nub_cap_buf_free(&g_caps[0]);
	return test_done();
}
