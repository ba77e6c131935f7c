/* test_lanes.c: the local backend's execution lanes (src/local/local_lanes.c):
 * a batch over L lanes gives exactly the results of running the packets one
 * by one on the calling thread (every conformance vector as a job; a mixed
 * batch with faults, errors and a timeout), 100 000 trivial jobs with none
 * lost or duplicated, the lane count option, STOP (nub_close) and restart,
 * EVICT_JIT_ALL while lanes run, concurrent callers, heap stats flat. */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "api/backend.h"
#include "cli/vector.h"
#include "cli/vector_caps.h"
#include "local/local_lanes.h"
#include "nub/nub.h"
#include "test.h"

/* @0 jump_ind r0: halts at once, phi7 = args[0]. */
static const uint8_t prog_halt[] = {0, 0, 2, 50, 0x00, 0x01};
/* Count r7 down to 0 (2 gas per round + 1), then halt. */
static const uint8_t prog_countdown[] = {0, 0, 8, 149, 0x77, 0xFF, 82, 0x07, 0xFD, 50, 0x00, 0x49};
/* @0 jump @0: forever. */
static const uint8_t prog_forever[] = {0, 0, 2, 40, 0x00, 0x01};
/* @0 trap */
static const uint8_t prog_trap[] = {0, 0, 1, 0, 0x01};
/* @0 load_u64 r7,[0x20000] (nothing mapped there); @6 jump_ind r0. */
static const uint8_t prog_fault[] = {0, 0, 8, 58, 0x07, 0x00, 0x00, 0x02, 0x00, 50, 0x00, 0x41};

static local_backend *lb_of(nub_sandbox *sb)
{
	return sb->impl;
}

static nub_sandbox *open_lanes(uint32_t vcpus, uint32_t lanes, uint32_t timeout_ms)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	o.vcpus = vcpus;
	o.lanes = lanes;
	o.timeout_ms = timeout_ms;
	nub_sandbox *sb = NULL;
	return nub_open(&o, &sb) == NUB_E_OK ? sb : NULL;
}

static nub_err put_prog(nub_sandbox *sb, const uint8_t *code, size_t len, uint8_t inst[32])
{
	nub_endpoint ep;
	memset(&ep, 0, sizeof ep);
	ep.regs[0] = NUB_HALT_ADDR;
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = code, .code_len = len, .endpoints = &ep,
	                    .endpoint_count = 1};
	nub_cap_buf b;
	uint8_t img[32];
	nub_err e = nub_cap_image(&d, &b);
	if (e)
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, img);
	nub_cap_buf_free(&b);
	if (e || (e = nub_cap_instance(img, NULL, 0, &b)))
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, inst);
	nub_cap_buf_free(&b);
	return e;
}

static InvokePacket packet(const uint8_t inst[32], uint64_t gas, uint64_t a0)
{
	InvokePacket p;
	memset(&p, 0, sizeof p);
	memcpy(p.instance_hash, inst, 32);
	p.initial_gas = gas;
	p.args[0] = a0;
	return p;
}

TEST(lane_count_option)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	o.vcpus = 2;
	o.lanes = 3; /* more lanes than vCPUs */
	nub_sandbox *sb = NULL;
	ASSERT_EQ(nub_open(&o, &sb), NUB_E_INVALID_ARG);
	/* default: vcpus - 1, at least 1 */
	static const uint32_t vcpus[] = {1, 2, 4};
	static const uint32_t want[] = {1, 1, 3};
	for (int i = 0; i < 3; i++) {
		ASSERT_TRUE((sb = open_lanes(vcpus[i], 0, 0)) != NULL);
		ASSERT_EQ(lb_of(sb)->opts.lanes, want[i]);
		uint8_t inst[32];
		ASSERT_EQ(put_prog(sb, prog_halt, sizeof prog_halt, inst), NUB_E_OK);
		local_lanes_stats st;
		local_lanes_get_stats(lb_of(sb), &st);
		ASSERT_EQ(st.running, 0); /* started on first use */
		InvokePacket p = packet(inst, 10, 5);
		InvocationResult r;
		ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
		ASSERT_EQ(r.return_value, 5);
		local_lanes_get_stats(lb_of(sb), &st);
		ASSERT_EQ(st.running, want[i]);
		ASSERT_EQ(st.served[0], 1); /* nub_invoke went through lane 0 */
		nub_close(sb);
	}
}

/* ---- every conformance vector as a job ------------------------------------ */
static size_t load_vectors(nub_sandbox *sb, const char *dir, InvokePacket *p, size_t cap, size_t n)
{
	DIR *dp = opendir(dir);
	if (!dp)
		return n;
	struct dirent *de;
	while ((de = readdir(dp)) && n < cap) {
		size_t nl = strlen(de->d_name);
		if (nl < 6 || strcmp(de->d_name + nl - 5, ".json"))
			continue;
		char path[1024], err[256];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		size_t len;
		char *json = test_read_file(path, &len);
		vector v;
		if (json && vector_parse(json, len, &v, err, sizeof err)) {
			uint8_t inst[32];
			if (vector_put_caps(sb, &v, inst) == NUB_E_OK)
				vector_packet(&v, inst, &p[n++]);
			vector_free(&v);
		}
		free(json);
	}
	closedir(dp);
	return n;
}

TEST(vectors_batch_equals_one_by_one)
{
	enum { CAP = 2048 };
	InvokePacket *p = calloc(CAP, sizeof *p);
	InvocationResult *one = calloc(CAP, sizeof *one), *batch = calloc(CAP, sizeof *batch);
	ASSERT_TRUE(p && one && batch);
	for (uint32_t lanes = 1; lanes <= 3; lanes++) {
		nub_sandbox *sb = open_lanes(4, lanes, 0);
		ASSERT_TRUE(sb != NULL);
		size_t n = 0;
		n = load_vectors(sb, "tests/conformance/pvm/vectors", p, CAP, n);
		n = load_vectors(sb, "tests/conformance/pvm/random", p, CAP, n);
		n = load_vectors(sb, "tests/conformance/pvm/random-ro-write", p, CAP, n);
		if (n == 0) {
			nub_close(sb);
			free(p), free(one), free(batch);
			SKIP("no conformance vectors found (run from the repository root)");
		}
		ASSERT_TRUE(n >= 500);
		for (size_t i = 0; i < n; i++) /* the reference: the core on this thread */
			(void)local_invoke_inline(lb_of(sb), &p[i], &one[i]);
		memset(batch, 0xA5, n * sizeof *batch);
		(void)nub_invoke_parallel(sb, p, batch, n);
		for (size_t i = 0; i < n; i++)
			ASSERT_MEM_EQ(&batch[i], &one[i], sizeof one[i]);
		local_lanes_stats st;
		local_lanes_get_stats(lb_of(sb), &st);
		ASSERT_EQ(st.running, lanes);
		uint64_t served = 0;
		for (uint32_t l = 0; l < lanes; l++)
			served += st.served[l];
		ASSERT_EQ(served, n);
		if (lanes == 3)
			printf("    %zu vectors x {1,2,3} lanes = one by one\n", n);
		nub_close(sb);
	}
	free(p), free(one), free(batch);
}

/* The C SDK's programs (make bench-pvms: every .pvm in $B/bench, needs clang-19),
 * each published as an spi Image + Instance: one batch over 2 lanes equals
 * running them one by one. */
TEST(sdk_programs_batch_equals_one_by_one)
{
	const char *b = getenv("B");
	char dir[512];
	snprintf(dir, sizeof dir, "%s/bench", b && *b ? b : "build");
	DIR *dp = opendir(dir);
	if (!dp)
		SKIP("no SDK programs built (make bench-pvms needs clang-19)");
	nub_sandbox *sb = open_lanes(3, 2, 0);
	ASSERT_TRUE(sb != NULL);
	enum { CAP = 32 };
	InvokePacket p[CAP];
	InvocationResult one[CAP], batch[CAP];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dp)) && n < CAP) {
		size_t nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".pvm"))
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		size_t len;
		uint8_t *spi = (uint8_t *)test_read_file(path, &len);
		uint32_t entry = 0;
		uint8_t img[32], inst[32];
		nub_cap_buf cb;
		nub_err e = spi ? nub_cap_image_from_spi(spi, len, &entry, 1, NULL, 0, &cb) : NUB_E_INVALID_ARG;
		free(spi);
		if (!e) {
			e = nub_put_cap(sb, cb.bytes, cb.len, img);
			nub_cap_buf_free(&cb);
		}
		if (!e && !(e = nub_cap_instance(img, NULL, 0, &cb))) {
			e = nub_put_cap(sb, cb.bytes, cb.len, inst);
			nub_cap_buf_free(&cb);
		}
		ASSERT_EQ(e, NUB_E_OK);
		p[n] = packet(inst, 1000000000, 0xFEFF0000u); /* GP A.7: phi7 = argument address */
		n++;
	}
	closedir(dp);
	if (!n) {
		nub_close(sb);
		SKIP("no SDK programs built (make bench-pvms needs clang-19)");
	}
	for (size_t i = 0; i < n; i++)
		(void)local_invoke_inline(lb_of(sb), &p[i], &one[i]);
	(void)nub_invoke_parallel(sb, p, batch, n);
	for (size_t i = 0; i < n; i++) {
		ASSERT_MEM_EQ(&batch[i], &one[i], sizeof one[i]);
		ASSERT_TRUE(one[i].exit_reason == NUB_EXIT_HALT || one[i].exit_reason == NUB_EXIT_HOST_CALL);
	}
	printf("    %zu SDK programs: batch = one by one\n", n);
	nub_close(sb);
}

TEST(many_trivial_jobs_none_lost)
{
	const size_t n = 100000;
	nub_sandbox *sb = open_lanes(3, 2, 0);
	ASSERT_TRUE(sb != NULL);
	uint8_t inst[32];
	ASSERT_EQ(put_prog(sb, prog_halt, sizeof prog_halt, inst), NUB_E_OK);
	InvokePacket *p = calloc(n, sizeof *p);
	InvocationResult *r = calloc(n, sizeof *r);
	ASSERT_TRUE(p && r);
	for (size_t i = 0; i < n; i++)
		p[i] = packet(inst, 100 + i % 7, i * 0x9E3779B97F4A7C15ull);
	ASSERT_EQ(nub_invoke_parallel(sb, p, r, n), NUB_E_OK);
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ(r[i].exit_reason, NUB_EXIT_HALT);
		ASSERT_EQ(r[i].return_value, i * 0x9E3779B97F4A7C15ull);
		ASSERT_EQ(r[i].gas_remaining, 100 + i % 7 - 1);
	}
	local_lanes_stats st;
	local_lanes_get_stats(lb_of(sb), &st);
	ASSERT_EQ(st.served[0] + st.served[1], n);
	printf("    100000 jobs: lane 0 %llu, lane 1 %llu; futex wakes: workers %llu, caller %llu\n",
	       (unsigned long long)st.served[0], (unsigned long long)st.served[1],
	       (unsigned long long)st.wakes_worker, (unsigned long long)st.wakes_host);
	free(p), free(r);
	nub_close(sb);
}

TEST(faults_errors_and_timeout_mid_batch)
{
	nub_sandbox *sb = open_lanes(3, 2, 300);
	ASSERT_TRUE(sb != NULL);
	uint8_t halt[32], trap[32], fault[32], forever[32], count[32], unknown[32];
	ASSERT_EQ(put_prog(sb, prog_halt, sizeof prog_halt, halt), NUB_E_OK);
	ASSERT_EQ(put_prog(sb, prog_trap, sizeof prog_trap, trap), NUB_E_OK);
	ASSERT_EQ(put_prog(sb, prog_fault, sizeof prog_fault, fault), NUB_E_OK);
	ASSERT_EQ(put_prog(sb, prog_forever, sizeof prog_forever, forever), NUB_E_OK);
	ASSERT_EQ(put_prog(sb, prog_countdown, sizeof prog_countdown, count), NUB_E_OK);
	memset(unknown, 0x5A, sizeof unknown);
	enum { N = 64 };
	InvokePacket p[N];
	InvocationResult r[N], one[N];
	for (int i = 0; i < N; i++) {
		switch (i % 8) {
		case 1: p[i] = packet(trap, 50, 0); break;
		case 2: p[i] = packet(fault, 50, 0); break;
		case 3: p[i] = packet(unknown, 50, 0); break;
		case 5: p[i] = packet(count, 1u << 20, 1000 + (uint64_t)i); break;
		default: p[i] = packet(halt, 50, (uint64_t)i); break;
		}
	}
	p[N / 2] = packet(forever, 1ull << 62, 0); /* one job hangs: its own timeout */
	p[7].endpoint_idx = 3;                     /* no such endpoint */
	p[9]._pad = 1;                             /* bad packet */
	for (int i = 0; i < N; i++)
		if (i != N / 2)
			(void)local_invoke_inline(lb_of(sb), &p[i], &one[i]);
	ASSERT_EQ(nub_invoke_parallel(sb, p, r, N), NUB_E_UNKNOWN_INSTANCE); /* index 3 */
	for (int i = 0; i < N; i++)
		if (i != N / 2)
			ASSERT_MEM_EQ(&r[i], &one[i], sizeof r[i]);
	ASSERT_EQ(r[N / 2].exit_reason, NUB_EXIT_ERROR);
	ASSERT_EQ(r[N / 2].exit_arg, NUB_E_TIMEOUT);
	ASSERT_EQ(r[1].exit_reason, NUB_EXIT_PANIC);
	ASSERT_EQ(r[2].exit_reason, NUB_EXIT_PAGE_FAULT);
	ASSERT_EQ(r[2].exit_arg, 0x20000);
	ASSERT_EQ(r[7].exit_arg, NUB_E_BAD_ENDPOINT);
	ASSERT_EQ(r[9].exit_arg, NUB_E_BAD_PACKET);
	ASSERT_EQ(r[5].return_value, 0);
	/* the lanes go on serving */
	InvokePacket q = packet(halt, 5, 77);
	InvocationResult s;
	ASSERT_EQ(nub_invoke(sb, &q, &s), NUB_E_OK);
	ASSERT_EQ(s.return_value, 77);
	nub_close(sb);
}

TEST(stop_and_restart)
{
	/* nub_close stops the workers through their slots; a new sandbox
	 * starts new ones; many rounds, no thread or memory left behind (ASan
	 * build: leaks) */
	for (int round = 0; round < 50; round++) {
		nub_sandbox *sb = open_lanes(4, 3, 0);
		ASSERT_TRUE(sb != NULL);
		uint8_t inst[32];
		ASSERT_EQ(put_prog(sb, prog_halt, sizeof prog_halt, inst), NUB_E_OK);
		InvokePacket p[8];
		InvocationResult r[8];
		for (int i = 0; i < 8; i++)
			p[i] = packet(inst, 9, (uint64_t)(round * 8 + i));
		ASSERT_EQ(nub_invoke_parallel(sb, p, r, 8), NUB_E_OK);
		for (int i = 0; i < 8; i++)
			ASSERT_EQ(r[i].return_value, (uint64_t)(round * 8 + i));
		nub_close(sb);
	}
	/* close without ever using the lanes */
	nub_sandbox *sb = open_lanes(2, 1, 0);
	ASSERT_TRUE(sb != NULL);
	nub_close(sb);
}

typedef struct {
	nub_sandbox *sb;
	atomic_int stop;
	unsigned rounds;        /* invoke_loop: calls to make */
	atomic_uint evictions;  /* evict_loop: done so far */
	nub_err err;
} side_thread;

static void *evict_loop(void *arg)
{
	side_thread *t = arg;
	while (!atomic_load(&t->stop)) {
		nub_err e = nub_evict_jit_all(t->sb);
		if (e)
			t->err = e;
		atomic_fetch_add(&t->evictions, 1);
		usleep(20);
	}
	return NULL;
}

TEST(evict_while_lanes_run)
{
	nub_sandbox *sb = open_lanes(3, 2, 0);
	ASSERT_TRUE(sb != NULL);
	uint8_t inst[32];
	ASSERT_EQ(put_prog(sb, prog_countdown, sizeof prog_countdown, inst), NUB_E_OK);
	enum { N = 2000 };
	static InvokePacket p[N];
	static InvocationResult r[N];
	for (int i = 0; i < N; i++)
		p[i] = packet(inst, 1u << 20, (uint64_t)(i % 50 + 1));
	side_thread t = {.sb = sb};
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, evict_loop, &t), 0);
	/* batches until the other thread has evicted a good number of times */
	nub_err e = NUB_E_OK;
	for (int batch = 0; batch < 500 && !e && (batch < 2 || atomic_load(&t.evictions) < 200); batch++) {
		memset(r, 0, sizeof r);
		e = nub_invoke_parallel(sb, p, r, N);
		for (int i = 0; i < N && !e; i++)
			if (r[i].exit_reason != NUB_EXIT_HALT ||
			    r[i].gas_remaining != (1u << 20) - (2 * (uint64_t)(i % 50 + 1) + 1))
				e = NUB_E_GUEST_PROTOCOL; /* a wrong result */
	}
	atomic_store(&t.stop, 1);
	pthread_join(th, NULL);
	ASSERT_EQ(e, NUB_E_OK);
	ASSERT_EQ(t.err, NUB_E_OK);
	ASSERT_TRUE(atomic_load(&t.evictions) >= 1);
	printf("    %u evictions during the batches\n", atomic_load(&t.evictions));
	nub_close(sb);
}

static void *invoke_loop(void *arg)
{
	side_thread *t = arg;
	uint8_t inst[32];
	if ((t->err = put_prog(t->sb, prog_halt, sizeof prog_halt, inst)))
		return NULL;
	for (unsigned i = 0; i < t->rounds; i++) {
		InvokePacket p = packet(inst, 9, i + 1000000u);
		InvocationResult r;
		nub_err e = nub_invoke(t->sb, &p, &r);
		if (e || r.return_value != i + 1000000u) {
			t->err = e ? e : NUB_E_GUEST_PROTOCOL;
			return NULL;
		}
	}
	return NULL;
}

TEST(concurrent_callers)
{
	/* two threads of nub_invoke and one of batches on two lanes: every
	 * caller gets its own results, whether it leased a lane or ran inline */
	nub_sandbox *sb = open_lanes(3, 2, 0);
	ASSERT_TRUE(sb != NULL);
	side_thread a = {.sb = sb, .rounds = 20000}, b = {.sb = sb, .rounds = 20000};
	pthread_t ta, tb;
	ASSERT_EQ(pthread_create(&ta, NULL, invoke_loop, &a), 0);
	ASSERT_EQ(pthread_create(&tb, NULL, invoke_loop, &b), 0);
	uint8_t inst[32];
	nub_err e = put_prog(sb, prog_countdown, sizeof prog_countdown, inst);
	enum { N = 300 };
	static InvokePacket p[N];
	static InvocationResult r[N];
	for (int round = 0; round < 20 && !e; round++) {
		for (int i = 0; i < N; i++)
			p[i] = packet(inst, 1u << 16, (uint64_t)(i + round + 1));
		e = nub_invoke_parallel(sb, p, r, N);
		for (int i = 0; i < N && !e; i++)
			if (r[i].gas_remaining != (1u << 16) - (2 * (uint64_t)(i + round + 1) + 1))
				e = NUB_E_GUEST_PROTOCOL;
	}
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ASSERT_EQ(e, NUB_E_OK);
	ASSERT_EQ(a.err, NUB_E_OK);
	ASSERT_EQ(b.err, NUB_E_OK);
	nub_close(sb);
}

TEST(heap_stats_flat_after_jobs)
{
	nub_sandbox *sb = open_lanes(3, 2, 0);
	ASSERT_TRUE(sb != NULL);
	uint8_t inst[32];
	ASSERT_EQ(put_prog(sb, prog_countdown, sizeof prog_countdown, inst), NUB_E_OK);
	enum { N = 10000 };
	static InvokePacket p[N];
	static InvocationResult r[N];
	for (int i = 0; i < N; i++)
		p[i] = packet(inst, 1000, (uint64_t)(i % 100 + 1));
	ASSERT_EQ(nub_invoke_parallel(sb, p, r, 16), NUB_E_OK); /* warm: lanes up, program cached */
	NubHeapStats before, after;
	ASSERT_EQ(nub_heap_stats(sb, &before), NUB_E_OK);
	ASSERT_EQ(nub_invoke_parallel(sb, p, r, N), NUB_E_OK);
	for (int i = 0; i < 1000; i++)
		ASSERT_EQ(nub_invoke(sb, &p[i], &r[i]), NUB_E_OK);
	ASSERT_EQ(nub_heap_stats(sb, &after), NUB_E_OK);
	ASSERT_MEM_EQ(&before, &after, sizeof before);
	nub_close(sb);
}


/* ---- host calls on lanes (nub_options.host_calls = LANES) ---------------- */
/* @0 store_u64 [0x20000],r7; @5 ecalli 2; @7 load_u64 r7,[0x20000]; @12
 * ecalli 3; @14 jump_ind r0 (as in test_api.c). */
static const uint8_t prog_mem_ping[] = {0,    0,    16,   62,   0x07, 0x00, 0x00, 0x02, 10,   2,    58,
                                        0x07, 0x00, 0x00, 0x02, 10,   3,    50,   0x00, 0xA1, 0x50};
/* Loop r7 times: @0 ecalli 1; @2 add_imm_64 r7,r7,-1; @5 branch_ne_imm
 * r7,0,@0; @8 jump_ind r0. */
static const uint8_t prog_ecalli_loop[] = {0, 0, 10, 10, 1, 149, 0x77, 0xFF, 82, 0x07, 0xFB, 50, 0x00, 0x25, 0x01};

static atomic_uint handlers_now, handlers_max;

typedef struct {
	uint64_t seen[2];
	unsigned calls, stop_at;
	uint64_t set_gas;
	nub_err e[4], ro, unmapped;
	bool sleepy;
} lane_hc;

static void enter_handler(const lane_hc *h)
{
	unsigned now = atomic_fetch_add(&handlers_now, 1) + 1, max = atomic_load(&handlers_max);
	while (now > max && !atomic_compare_exchange_weak(&handlers_max, &max, now))
		;
	if (h->sleepy)
		usleep(200);
}

static nub_host_action lane_ping(void *ctx, nub_host_call *c)
{
	lane_hc *h = ctx;
	enter_handler(h);
	unsigned k = c->number == 2 ? 0 : 1;
	h->calls++;
	h->e[2 * k] = nub_host_call_read(c, 0x20000, &h->seen[k], 8);
	uint64_t v = k == 0 ? h->seen[0] * 2 + 1 : h->seen[1] + 5;
	h->e[2 * k + 1] = nub_host_call_write(c, 0x20000, &v, 8);
	h->ro = nub_host_call_write(c, 0x30000, &v, 8);
	h->unmapped = nub_host_call_read(c, 0x50000, &v, 8);
	atomic_fetch_sub(&handlers_now, 1);
	return NUB_HOST_RESUME;
}

static nub_host_action lane_loop(void *ctx, nub_host_call *c)
{
	lane_hc *h = ctx;
	enter_handler(h);
	h->calls++;
	atomic_fetch_sub(&handlers_now, 1);
	if (h->set_gas != ~0ull)
		c->gas = h->set_gas;
	if (h->calls == h->stop_at) {
		c->regs[7] = 777;
		return NUB_HOST_STOP;
	}
	return NUB_HOST_RESUME;
}

typedef struct {
	nub_sandbox *sb;
	const uint8_t *ping, *loop;
	unsigned id, rounds;
	const char *fail;
} hc_thread;

#define HC_CHECK(cond)                          \
	do {                                    \
		if (!(cond)) {                  \
			t->fail = #cond;        \
			return NULL;            \
		}                               \
	} while (0)

static void *hc_loop(void *arg)
{
	hc_thread *t = arg;
	for (unsigned i = 0; i < t->rounds; i++) {
		uint64_t a = 1000000u * (t->id + 1) + i;
		InvokePacket p = packet(t->ping, 100, a);
		InvocationResult r;
		lane_hc h = {.sleepy = i % 8 == 0};
		HC_CHECK(nub_invoke_with(t->sb, &p, lane_ping, &h, &r) == NUB_E_OK);
		HC_CHECK(h.calls == 2);
		HC_CHECK(h.e[0] == NUB_E_OK && h.e[1] == NUB_E_OK && h.e[2] == NUB_E_OK && h.e[3] == NUB_E_OK);
		HC_CHECK(h.ro == NUB_E_HOST_MEMORY && h.unmapped == NUB_E_HOST_MEMORY);
		HC_CHECK(h.seen[0] == a && h.seen[1] == 2 * a + 1);
		HC_CHECK(r.exit_reason == NUB_EXIT_HALT && r.return_value == 2 * a + 1 && r.gas_remaining == 95);
		uint64_t head;
		memcpy(&head, r.scratchpad_head, 8);
		HC_CHECK(head == 2 * a + 6);
		/* 50 calls; every 3rd round STOP at call 30; every 5th gas 0 at once */
		lane_hc l = {.set_gas = i % 5 == 4 ? 0 : ~0ull, .stop_at = i % 3 == 2 ? 30 : 0, .sleepy = i % 8 == 1};
		p = packet(t->loop, 100000, 50);
		HC_CHECK(nub_invoke_with(t->sb, &p, lane_loop, &l, &r) == NUB_E_OK);
		if (l.set_gas == 0) {
			HC_CHECK(l.calls == 1 && r.exit_reason == NUB_EXIT_OUT_OF_GAS && r.return_value == 50);
			HC_CHECK(r.gas_remaining == 0);
		} else if (l.stop_at) {
			HC_CHECK(l.calls == 30 && r.exit_reason == NUB_EXIT_HOST_CALL && r.exit_arg == 1);
			HC_CHECK(r.return_value == 777 && r.gas_remaining == 100000 - 3 * 29 - 1);
		} else {
			HC_CHECK(l.calls == 50 && r.exit_reason == NUB_EXIT_HALT && r.return_value == 0);
			HC_CHECK(r.gas_remaining == 100000 - 3 * 50 - 1);
		}
	}
	return NULL;
}

static nub_err put_ping(nub_sandbox *sb, uint8_t inst[32])
{
	nub_endpoint ep;
	memset(&ep, 0, sizeof ep);
	ep.regs[0] = NUB_HALT_ADDR;
	nub_mapping maps[2] = {{0x20000, 1, 0, true}, {0x30000, 1, 1, false}};
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = prog_mem_ping, .code_len = sizeof prog_mem_ping,
	                    .endpoints = &ep, .endpoint_count = 1, .mappings = maps, .mapping_count = 2};
	nub_cap_buf b;
	uint8_t img[32], d0[32], d1[32];
	nub_err e = nub_cap_image(&d, &b);
	if (e)
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, img);
	nub_cap_buf_free(&b);
	if (e || (e = nub_cap_data("", 0, &b)))
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, d0);
	nub_cap_buf_free(&b);
	if (e || (e = nub_cap_data("abc", 3, &b)))
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, d1);
	nub_cap_buf_free(&b);
	nub_slot slots[2] = {{0, {0}}, {1, {0}}};
	memcpy(slots[0].hash, d0, 32);
	memcpy(slots[1].hash, d1, 32);
	if (e || (e = nub_cap_instance(img, slots, 2, &b)))
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, inst);
	nub_cap_buf_free(&b);
	return e;
}

TEST(handlers_on_lanes_concurrently)
{
	/* three threads invoking with handlers over three lanes (each always
	 * finds a free one), both engines: every result is exact, every job ran
	 * on a lane, and handlers of several lanes ran at once */
	for (nub_engine en = NUB_ENGINE_INTERP; en <= NUB_ENGINE_JIT; en++) {
		nub_options o;
		nub_options_init(&o);
		o.backend = NUB_BACKEND_LOCAL;
		o.vcpus = 4;
		o.lanes = 3;
		o.engine = en;
		o.host_calls = NUB_HOST_CALLS_LANES;
		nub_sandbox *sb = NULL;
		ASSERT_EQ(nub_open(&o, &sb), NUB_E_OK);
		uint8_t ping[32], loop[32];
		ASSERT_EQ(put_ping(sb, ping), NUB_E_OK);
		ASSERT_EQ(put_prog(sb, prog_ecalli_loop, sizeof prog_ecalli_loop, loop), NUB_E_OK);
		atomic_store(&handlers_max, 0);
		enum { T = 3 };
		hc_thread t[T];
		pthread_t th[T];
		for (unsigned i = 0; i < T; i++) {
			t[i] = (hc_thread){.sb = sb, .ping = ping, .loop = loop, .id = i, .rounds = 300};
			ASSERT_EQ(pthread_create(&th[i], NULL, hc_loop, &t[i]), 0);
		}
		for (unsigned i = 0; i < T; i++) {
			pthread_join(th[i], NULL);
			if (t[i].fail)
				printf("    thread %u: %s\n", i, t[i].fail);
			ASSERT_TRUE(t[i].fail == NULL);
		}
		local_lanes_stats st;
		local_lanes_get_stats(lb_of(sb), &st);
		uint64_t served = 0;
		unsigned busy = 0;
		for (unsigned i = 0; i < st.running; i++) {
			served += st.served[i];
			busy += st.served[i] > 0;
		}
		printf("    %s: %llu of %u jobs on %u lanes, at most %u handlers at once\n",
		       en == NUB_ENGINE_JIT ? "jit" : "interp", (unsigned long long)served, T * 300 * 2, busy,
		       atomic_load(&handlers_max));
		ASSERT_EQ(served, T * 300 * 2);
		ASSERT_TRUE(busy >= 2);
		ASSERT_TRUE(atomic_load(&handlers_max) >= 2);
		nub_close(sb);
	}
}

int main(void)
{
	RUN(lane_count_option);
	RUN(vectors_batch_equals_one_by_one);
	RUN(sdk_programs_batch_equals_one_by_one);
	RUN(many_trivial_jobs_none_lost);
	RUN(faults_errors_and_timeout_mid_batch);
	RUN(stop_and_restart);
	RUN(evict_while_lanes_run);
	RUN(concurrent_callers);
	RUN(heap_stats_flat_after_jobs);
	RUN(handlers_on_lanes_concurrently);
	return test_done();
}
