/* test_limits.c: the hostile-workload suite (issue 10): no invocation may
 * take the host's memory or time. Each case runs in a child process bounded
 * in time (alarm) and, outside sanitizer builds, in address space
 * (RLIMIT_AS: 48 GiB, room for the JIT's 4 GiB window per thread); the parent prints the child's peak RSS and wall time and
 * checks them against the case's bound. The soak (8 threads x mixed hostile
 * jobs on one sandbox) runs NUB_SOAK_SECONDS (default 5; the full
 * run is NUB_SOAK_SECONDS=60).
 *
 * Sanitizer builds (SAN=1) check results and time, not RSS (ASan's shadow
 * and quarantine make RSS meaningless); the figures are still printed.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "local/local_backend.h"
#include "nub/nub.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SAN 1
#endif
#endif
#ifndef UNDER_SAN
#define UNDER_SAN 0
#endif

#define MIB (1024ull * 1024)

/* ---- hand-assembled programs (deblob, FORMATS.md section 2) -------------- */

/* Grow the heap a page at a time and write each page, counting in r7:
 *   @0  load_imm r8, 4096          @4  sbrk r10, r8
 *   @6  branch_eq_imm r10, 0, @17  @9  store_ind_u64 [r10], r8
 *   @12 add_imm_64 r7, r7, 1       @15 jump @0
 *   @17 jump_ind r0 (halt)
 * Halts with r7 = pages grown once sbrk returns 0. */
static const uint8_t prog_grow[] = {0,   0,    19,   51,  0x08, 0x00, 0x10, 101,  0x8A, 81,   0x0A, 0x0B,
                                    123, 0xA8, 0x00, 149, 0x77, 0x01, 40,   0xF1, 50,   0x00, 0x51, 0x92, 0x02};

/* @0 jump @0: loops forever. */
static const uint8_t prog_forever[] = {0, 0, 2, 40, 0x00, 0x01};

/* @0 add_64 r7 = r8 + r9; @3 jump_ind r0. */
static const uint8_t prog_add[] = {0, 0, 5, 200, 0x98, 7, 50, 0x00, 0x09};

static nub_endpoint halt_endpoint(void)
{
	nub_endpoint e;
	memset(&e, 0, sizeof e);
	e.regs[0] = NUB_HALT_ADDR;
	return e;
}

static nub_sandbox *open_sb(uint64_t memory, uint32_t timeout_ms, uint64_t inv_memory)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	o.memory_bytes = memory;
	o.timeout_ms = timeout_ms;
	o.invocation_memory_bytes = inv_memory;
	nub_sandbox *sb = NULL;
	return nub_open(&o, &sb) == NUB_E_OK ? sb : NULL;
}

static nub_err put_buf(nub_sandbox *sb, nub_cap_buf *b, uint8_t hash[32])
{
	nub_err e = nub_put_cap(sb, b->bytes, b->len, hash);
	nub_cap_buf_free(b);
	return e;
}

/* An Instance of a bare Image running `code`, with slot 0 = `data` (len
 * bytes) mapped at 0x10000 over `pages` pages, `copies` times (each next
 * mapping right after the previous one). */
static nub_err put_program(nub_sandbox *sb, const uint8_t *code, size_t code_len, const void *data, size_t len,
                           uint32_t pages, uint32_t copies, uint8_t inst[32])
{
	uint8_t dh[32], ih[32];
	nub_cap_buf b;
	nub_err e = nub_cap_data(data, len, &b);
	if (e || (e = put_buf(sb, &b, dh)))
		return e;
	nub_mapping maps[64];
	for (uint32_t i = 0; i < copies; i++)
		maps[i] = (nub_mapping){.va = 0x10000u + i * pages * 4096u, .pages = pages, .slot = 0, .writable = true};
	nub_endpoint ep = halt_endpoint();
	nub_image_desc d = {
		.layout = NUB_LAYOUT_BARE,
		.code = code,
		.code_len = code_len,
		.endpoints = &ep,
		.endpoint_count = 1,
		.mappings = maps,
		.mapping_count = copies,
	};
	if ((e = nub_cap_image(&d, &b)) || (e = put_buf(sb, &b, ih)))
		return e;
	nub_slot s = {.index = 0};
	memcpy(s.hash, dh, 32);
	if ((e = nub_cap_instance(ih, &s, 1, &b)))
		return e;
	return put_buf(sb, &b, inst);
}

static InvokePacket packet(const uint8_t inst[32], uint64_t gas)
{
	InvokePacket p;
	memset(&p, 0, sizeof p);
	memcpy(p.instance_hash, inst, 32);
	p.initial_gas = gas;
	return p;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"). */
static uint64_t status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	uint64_t v = 0;
	size_t n = strlen(field);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = strtoull(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static unsigned open_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static uint64_t available(nub_sandbox *sb)
{
	NubHeapStats st;
	return nub_heap_stats(sb, &st) == NUB_E_OK ? st.available_bytes : 0;
}

/* ---- the cases ------------------------------------------------------------ */

/* 1. sbrk past the per-invocation limit fails as an impossible sbrk: the
 * program sees 0 and halts; exactly limit - 1 pages grew (one page is the
 * mapping). */
TEST(sbrk_stops_at_invocation_limit)
{
	nub_sandbox *sb = open_sb(0, 10000, 16 * MIB);
	ASSERT_TRUE(sb != NULL);
	uint8_t inst[32], one = 1;
	ASSERT_EQ(put_program(sb, prog_grow, sizeof prog_grow, &one, 1, 1, 1, inst), NUB_E_OK);
	InvokePacket p = packet(inst, 1ull << 40);
	InvocationResult r;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_HALT);
	ASSERT_EQ(r.return_value, 16 * MIB / 4096 - 1);
	nub_close(sb);
}

/* 1b. A program that writes every page it grows, in a small sandbox: the
 * budget ends the invocation with SANDBOX_MEMORY; the pages come back and
 * the sandbox goes on working. */
TEST(touching_pages_stops_at_sandbox_budget)
{
	nub_sandbox *sb = open_sb(8 * MIB, 10000, 0);
	ASSERT_TRUE(sb != NULL);
	uint8_t inst[32], one = 1;
	ASSERT_EQ(put_program(sb, prog_grow, sizeof prog_grow, &one, 1, 1, 1, inst), NUB_E_OK);
	uint64_t avail = available(sb);
	InvokePacket p = packet(inst, 1ull << 40);
	InvocationResult r;
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_SANDBOX_MEMORY);
		ASSERT_EQ(r.exit_reason, NUB_EXIT_ERROR);
		ASSERT_EQ(r.exit_arg, NUB_E_SANDBOX_MEMORY);
		ASSERT_EQ(available(sb), avail);
	}
	uint8_t add[32];
	ASSERT_EQ(put_program(sb, prog_add, sizeof prog_add, &one, 1, 1, 1, add), NUB_E_OK);
	p = packet(add, 100);
	p.args[1] = 40;
	p.args[2] = 2;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_HALT);
	ASSERT_EQ(r.return_value, 42);
	nub_close(sb);
}

/* 1c. A frame larger than the invocation limit is refused by name. */
TEST(frame_larger_than_limit_refused)
{
	nub_sandbox *sb = open_sb(0, 10000, 64 * MIB);
	ASSERT_TRUE(sb != NULL);
	uint8_t inst[32], one = 1;
	/* 128 MiB mapped: nothing touched, but more than may be mapped */
	ASSERT_EQ(put_program(sb, prog_add, sizeof prog_add, &one, 1, 32768, 1, inst), NUB_E_OK);
	InvokePacket p = packet(inst, 100);
	InvocationResult r;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_INVOKE_MEMORY);
	ASSERT_EQ(r.exit_arg, NUB_E_INVOKE_MEMORY);
	nub_close(sb);
}

/* 2. A 30 MiB Data mapped 16 times: setup shares the published pages, so a
 * call is cheap in time and memory and the deadline holds. */
TEST(big_data_mapped_16_times_is_cheap)
{
	nub_sandbox *sb = open_sb(0, 200, 0);
	ASSERT_TRUE(sb != NULL);
	size_t len = 30 * MIB;
	uint8_t *data = malloc(len);
	ASSERT_TRUE(data != NULL);
	for (size_t i = 0; i < len; i += 4096)
		data[i] = (uint8_t)i;
	uint8_t inst[32];
	ASSERT_EQ(put_program(sb, prog_add, sizeof prog_add, data, len, (uint32_t)(len / 4096), 16, inst), NUB_E_OK);
	free(data);
	InvokePacket p = packet(inst, 100);
	InvocationResult r;
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = now_ms();
		ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
		ASSERT_EQ(r.exit_reason, NUB_EXIT_HALT);
		ASSERT_TRUE(now_ms() - t0 < 1000);
	}
	nub_close(sb);
}

/* 3. A decoded program is charged to the sandbox at its real size (about
 * 50x its code for straight-line code), before it is decoded. */
TEST(decoded_program_is_counted)
{
	nub_sandbox *sb = open_sb(64 * MIB, 10000, 0);
	ASSERT_TRUE(sb != NULL);
	/* 1.5 MiB of `trap` (every byte an instruction): ~100 MiB decoded */
	size_t code = 3 * MIB / 2, bm = code / 8;
	uint8_t *blob = calloc(1, 8 + code + bm);
	ASSERT_TRUE(blob != NULL);
	size_t n = 0;
	blob[n++] = 0; /* jump table length */
	blob[n++] = 0; /* entry width */
	uint64_t v = code; /* varint, 2^14 <= v < 2^21: 3 bytes, prefix 110xxxxx */
	blob[n++] = (uint8_t)(0xC0 | (v >> 16));
	blob[n++] = (uint8_t)v;
	blob[n++] = (uint8_t)(v >> 8);
	memset(blob + n + code, 0xFF, bm);
	size_t blob_len = n + code + bm;
	nub_endpoint ep = halt_endpoint();
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = blob, .code_len = blob_len, .endpoints = &ep,
	                    .endpoint_count = 1};
	nub_cap_buf b;
	ASSERT_EQ(nub_cap_image(&d, &b), NUB_E_OK);
	uint8_t h[32];
	uint64_t avail = available(sb);
	ASSERT_EQ(put_buf(sb, &b, h), NUB_E_SANDBOX_MEMORY);
	ASSERT_EQ(available(sb), avail);
	/* a quarter of it fits, and is counted */
	blob[2] = (uint8_t)(0xC0 | ((code / 4) >> 16));
	blob[3] = (uint8_t)(code / 4);
	blob[4] = (uint8_t)((code / 4) >> 8);
	memmove(blob + n + code / 4, blob + n + code, bm / 4);
	d.code_len = n + code / 4 + bm / 4;
	ASSERT_EQ(nub_cap_image(&d, &b), NUB_E_OK);
	size_t enc = b.len;
	ASSERT_EQ(put_buf(sb, &b, h), NUB_E_OK);
	ASSERT_TRUE(avail - available(sb) > enc + 10 * (code / 4));
	/* evicting gives the decoded program's bytes back */
	uint64_t with_prog = available(sb);
	ASSERT_EQ(nub_evict_jit_all(sb), NUB_E_OK);
	ASSERT_TRUE(available(sb) > with_prog + 10 * (code / 4));
	free(blob);
	nub_close(sb);
}

/* 4. The deadline is read by the clock, however the time is spent: an
 * endless loop, and a program that writes a fresh page per iteration. */
TEST(deadline_by_the_clock)
{
	nub_sandbox *sb = open_sb(2048 * MIB, 100, 2048 * MIB);
	ASSERT_TRUE(sb != NULL);
	uint8_t loop[32], grow[32], one = 1;
	ASSERT_EQ(put_program(sb, prog_forever, sizeof prog_forever, &one, 1, 1, 1, loop), NUB_E_OK);
	ASSERT_EQ(put_program(sb, prog_grow, sizeof prog_grow, &one, 1, 1, 1, grow), NUB_E_OK);
	InvocationResult r;
	for (int i = 0; i < 2; i++) {
		InvokePacket p = packet(i ? grow : loop, 1ull << 62);
		uint64_t t0 = now_ms();
		nub_err e = nub_invoke(sb, &p, &r);
		uint64_t dt = now_ms() - t0;
		printf("    %s: %s after %llu ms\n", i ? "page-writing loop" : "endless loop", nub_err_name(e),
		       (unsigned long long)dt);
		ASSERT_EQ(e, NUB_E_TIMEOUT);
		ASSERT_TRUE(dt >= 100 && dt < 400);
	}
	nub_close(sb);
}

/* 4a. The deadline stops decoding too: 2 MiB of `trap` (2 M instructions,
 * ~130 MiB decoded, tens of ms) published with a 1 ms deadline comes back
 * NUB_E_TIMEOUT early, with nothing kept; without a deadline it publishes. */
TEST(deadline_stops_decoding)
{
	size_t code = 2 * MIB, bm = code / 8;
	uint8_t *blob = calloc(1, 8 + code + bm);
	ASSERT_TRUE(blob != NULL);
	size_t n = 0;
	blob[n++] = 0; /* jump table length */
	blob[n++] = 0; /* entry width */
	uint64_t v = code; /* varint, 2^21 <= v < 2^28: 4 bytes, prefix 1110xxxx */
	blob[n++] = (uint8_t)(0xE0 | (v >> 24));
	blob[n++] = (uint8_t)v;
	blob[n++] = (uint8_t)(v >> 8);
	blob[n++] = (uint8_t)(v >> 16);
	memset(blob + n + code, 0xFF, bm);
	nub_endpoint ep = halt_endpoint();
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = blob, .code_len = n + code + bm, .endpoints = &ep,
	                    .endpoint_count = 1};
	uint64_t dt[2];
	for (int i = 0; i < 2; i++) {
		nub_sandbox *sb = open_sb(1024 * MIB, i ? NUB_TIMEOUT_NONE : 1, 0);
		ASSERT_TRUE(sb != NULL);
		nub_cap_buf b;
		ASSERT_EQ(nub_cap_image(&d, &b), NUB_E_OK);
		uint8_t h[32];
		uint64_t avail = available(sb), t0 = now_ms();
		nub_err e = put_buf(sb, &b, h);
		dt[i] = now_ms() - t0;
		printf("    %s: %s after %llu ms\n", i ? "no deadline" : "1 ms deadline", nub_err_name(e),
		       (unsigned long long)dt[i]);
		ASSERT_EQ(e, i ? NUB_E_OK : NUB_E_TIMEOUT);
		if (!i)
			ASSERT_EQ(available(sb), avail);
		nub_close(sb);
	}
	ASSERT_TRUE(dt[0] < dt[1]);
	free(blob);
}

/* 4b. The default deadline is on. */
TEST(default_deadline_is_on)
{
	nub_sandbox *sb = open_sb(0, 0, 0);
	ASSERT_TRUE(sb != NULL);
	ASSERT_EQ(((local_backend *)sb->impl)->opts.timeout_ms, NUB_DEFAULT_TIMEOUT_MS);
	nub_close(sb);
}

/* 6. Pages cost one page each and go back to the OS after the call. */
TEST(pages_return_to_the_os)
{
	nub_sandbox *sb = open_sb(0, 10000, 64 * MIB);
	ASSERT_TRUE(sb != NULL);
	uint8_t inst[32], one = 1;
	ASSERT_EQ(put_program(sb, prog_grow, sizeof prog_grow, &one, 1, 1, 1, inst), NUB_E_OK);
	uint64_t base = status_kib("VmRSS");
	InvokePacket p = packet(inst, 1ull << 40);
	InvocationResult r;
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
		ASSERT_EQ(r.return_value, 64 * MIB / 4096 - 1);
	}
	uint64_t after = status_kib("VmRSS"), peak = status_kib("VmHWM");
	printf("    64 MiB written per call: RSS before %llu KiB, peak %llu KiB, after %llu KiB\n",
	       (unsigned long long)base, (unsigned long long)peak, (unsigned long long)after);
	if (!UNDER_SAN) {
		ASSERT_TRUE(peak < base + 64 * 1024 + 24 * 1024); /* one page per page (+ tables) */
		ASSERT_TRUE(after < base + 8 * 1024);             /* returned */
	}
	nub_close(sb);
}

/* 8 threads x mixed hostile jobs on one sandbox. */
typedef struct {
	nub_sandbox *sb;
	const uint8_t (*inst)[32];
	uint64_t until;
	atomic_uint bad;
	atomic_ulong calls, adds, late_adds;
} soak_ctx;

static void *soak_thread(void *arg)
{
	soak_ctx *c = arg;
	unsigned seed = (unsigned)(uintptr_t)&arg;
	while (now_ms() < c->until) {
		unsigned k = (unsigned)rand_r(&seed) % 5;
		InvocationResult r;
		if (k == 4) {
			if (nub_evict_jit_all(c->sb) != NUB_E_OK)
				atomic_fetch_add(&c->bad, 1);
			continue;
		}
		InvokePacket p = packet(c->inst[k], k == 3 ? 100 : 1ull << 40);
		p.args[1] = 40;
		p.args[2] = 2;
		nub_err e = nub_invoke(c->sb, &p, &r);
		/* grow: budget or timeout (others run too); forever: timeout;
		 * frame: too large; add: 42 */
		bool ok = k == 0 ? (e == NUB_E_SANDBOX_MEMORY || e == NUB_E_TIMEOUT ||
		                    (e == NUB_E_OK && r.exit_reason == NUB_EXIT_HALT))
		        : k == 1 ? e == NUB_E_TIMEOUT
		        : k == 2 ? e == NUB_E_INVOKE_MEMORY
		                 : (e == NUB_E_OK && r.return_value == 42) || e == NUB_E_TIMEOUT;
		if (k == 3) {
			/* 8 threads on this machine's cores: a short call may be
			 * descheduled past its deadline; rarely */
			atomic_fetch_add(&c->adds, 1);
			if (e == NUB_E_TIMEOUT)
				atomic_fetch_add(&c->late_adds, 1);
		}
		if (!ok) {
			printf("    soak: job %u gave %s\n", k, nub_err_name(e));
			atomic_fetch_add(&c->bad, 1);
		}
		atomic_fetch_add(&c->calls, 1);
	}
	return NULL;
}

TEST(soak_8_threads_mixed_hostile)
{
	const char *env = getenv("NUB_SOAK_SECONDS");
	unsigned secs = env ? (unsigned)atoi(env) : 5;
	/* 8 x 16 MiB < 256 MiB: no job can starve the others of the budget */
	nub_sandbox *sb = open_sb(256 * MIB, 250, 16 * MIB);
	ASSERT_TRUE(sb != NULL);
	uint8_t inst[4][32], one = 1;
	ASSERT_EQ(put_program(sb, prog_grow, sizeof prog_grow, &one, 1, 1, 1, inst[0]), NUB_E_OK);
	ASSERT_EQ(put_program(sb, prog_forever, sizeof prog_forever, &one, 1, 1, 1, inst[1]), NUB_E_OK);
	ASSERT_EQ(put_program(sb, prog_add, sizeof prog_add, &one, 1, 0x20000, 1, inst[2]), NUB_E_OK);
	ASSERT_EQ(put_program(sb, prog_add, sizeof prog_add, &one, 1, 1, 2, inst[3]), NUB_E_OK);
	soak_ctx c = {.sb = sb, .inst = (const uint8_t(*)[32])inst};
	/* warm up (one second), then measure the start */
	c.until = now_ms() + 1000;
	pthread_t th[8];
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, soak_thread, &c), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	uint64_t rss0 = status_kib("VmRSS"), avail0 = available(sb);
	unsigned fds0 = open_fds();
	NubHeapStats st0, st1;
	ASSERT_EQ(nub_evict_jit_all(sb), NUB_E_OK); /* allocated_bytes counts cached programs too */
	ASSERT_EQ(nub_heap_stats(sb, &st0), NUB_E_OK);
	c.until = now_ms() + secs * 1000ull;
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, soak_thread, &c), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	uint64_t rss1 = status_kib("VmRSS");
	ASSERT_EQ(nub_heap_stats(sb, &st1), NUB_E_OK);
	printf("    %u s, %lu calls, %u bad; RSS %llu -> %llu KiB (peak %llu); fds %u -> %u; store %llu -> %llu B in "
	       "%llu -> %llu allocations, available %llu -> %llu B\n",
	       secs, (unsigned long)atomic_load(&c.calls), atomic_load(&c.bad), (unsigned long long)rss0,
	       (unsigned long long)rss1, (unsigned long long)status_kib("VmHWM"), fds0, open_fds(),
	       (unsigned long long)st0.allocated_bytes, (unsigned long long)st1.allocated_bytes,
	       (unsigned long long)st0.allocation_count, (unsigned long long)st1.allocation_count,
	       (unsigned long long)avail0, (unsigned long long)available(sb));
	printf("    short calls: %lu, %lu of them past the deadline\n", (unsigned long)atomic_load(&c.adds),
	       (unsigned long)atomic_load(&c.late_adds));
	ASSERT_EQ(atomic_load(&c.bad), 0);
	ASSERT_TRUE(atomic_load(&c.late_adds) * 20 <= atomic_load(&c.adds));
	ASSERT_EQ(open_fds(), fds0);
	/* with no program cached again, exactly the bytes of the start */
	ASSERT_EQ(nub_evict_jit_all(sb), NUB_E_OK);
	NubHeapStats st2;
	ASSERT_EQ(nub_heap_stats(sb, &st2), NUB_E_OK);
	ASSERT_EQ(st2.allocated_bytes, st0.allocated_bytes);
	ASSERT_EQ(st1.allocation_count, st0.allocation_count);
	/* evictions may leave programs decoded or not: at most their bytes differ */
	ASSERT_TRUE(available(sb) + 4 * MIB >= avail0);
	if (!UNDER_SAN)
		ASSERT_TRUE(rss1 < rss0 + 16 * 1024);
	nub_close(sb);
}

/* ---- the harness: one child per case -------------------------------------- */
typedef struct {
	const char *name;
	void (*fn)(void);
	unsigned seconds;  /* wall-clock bound (alarm) */
	unsigned rss_mib;  /* peak RSS bound (not under sanitizers) */
} hostile_case;

static void run_case(const hostile_case *hc)
{
	fflush(stdout);
	uint64_t t0 = now_ms();
	pid_t pid = fork();
	if (pid == 0) {
		if (!UNDER_SAN) {
			/* the JIT reserves a 4 GiB window per thread (virtual only):
			 * 9 threads' worth, and RSS is checked separately */
			struct rlimit rl = {(rlim_t)48 * 1024 * MIB, (rlim_t)48 * 1024 * MIB};
			setrlimit(RLIMIT_AS, &rl);
		}
		alarm(hc->seconds);
		test_cur_failed = test_cur_skipped = 0;
		hc->fn();
		fflush(stdout);
		_exit(test_cur_failed ? 1 : test_cur_skipped ? 2 : 0);
	}
	int status = 0;
	struct rusage ru;
	memset(&ru, 0, sizeof ru);
	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) {
		printf("FAIL %s (fork/wait)\n", hc->name);
		test_failed++;
		return;
	}
	uint64_t dt = now_ms() - t0, peak = (uint64_t)ru.ru_maxrss / 1024;
	printf("    %s: peak RSS %llu MiB, %llu ms\n", hc->name, (unsigned long long)peak, (unsigned long long)dt);
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok)
		printf("    %s: child %s %d\n", hc->name, WIFSIGNALED(status) ? "killed by signal" : "exited",
		       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	if (ok && !UNDER_SAN && peak > hc->rss_mib) {
		printf("    %s: peak RSS above its bound of %u MiB\n", hc->name, hc->rss_mib);
		ok = false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
		test_skipped++;
		printf("SKIP %s\n", hc->name);
	} else if (ok) {
		test_passed++;
		printf("ok   %s\n", hc->name);
	} else {
		test_failed++;
		printf("FAIL %s\n", hc->name);
	}
}

int main(void)
{
	static const hostile_case cases[] = {
		{"sbrk_stops_at_invocation_limit", test_sbrk_stops_at_invocation_limit, 20, 64},
		{"touching_pages_stops_at_sandbox_budget", test_touching_pages_stops_at_sandbox_budget, 20, 48},
		{"frame_larger_than_limit_refused", test_frame_larger_than_limit_refused, 20, 48},
		{"big_data_mapped_16_times_is_cheap", test_big_data_mapped_16_times_is_cheap, 30, 160},
		{"decoded_program_is_counted", test_decoded_program_is_counted, 30, 96},
		{"deadline_by_the_clock", test_deadline_by_the_clock, 20, 2048},
		{"deadline_stops_decoding", test_deadline_stops_decoding, 20, 1024},
		{"default_deadline_is_on", test_default_deadline_is_on, 10, 48},
		{"pages_return_to_the_os", test_pages_return_to_the_os, 30, 128},
		{"soak_8_threads_mixed_hostile", test_soak_8_threads_mixed_hostile, 600, 256},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
	return test_done();
}
