/* test_jit_signals.c: the JIT's fault handler in a process: chaining, threads, shared frames.
 *
 * - a SIGSEGV handler installed before the JIT's still receives every fault
 *   that is not compiled code's (ours is installed at the first run and
 *   chains to it);
 * - page faults and panics in compiled code on several threads at once,
 *   each with its own jit_vm (and alternate signal stack), end each run
 *   with the interpreter's exact exit;
 * - a published frame mapped with pvm_mem_share is read through the window
 *   and copied on write: the frame itself never changes, the instance sees
 *   its write, and a page only read stays shared (pvm_mem_page_untouched
 *   semantics kept for a mapped zero page);
 * - a run that fills more pages than the window keeps (600 > 512) and runs
 *   of other layouts on the same vm afterwards end like the interpreter's;
 * - code pages reused across compiles run their own code, and freed code
 *   gives its address space back.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "jit/jit.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* A program: r1 = load_u64 [r0 + 0] (r0 from the caller), r2 = 7, trap. */
static pvm_program *make_prog(void)
{
	/* generic blob: jt_len 0, jt width 0, code_len, code, bitmask */
	static const uint8_t blob[] = {
		0, 0, 7,   /* no jump table, 7 code bytes */
		130, 0x01, 0, /* load_ind_u64 r1, [r0 + 0] */
		51, 0x02, 7,  /* load_imm r2, 7 */
		0,            /* trap */
		0x49,         /* bitmask: instructions at 0, 3, 6 */
	};
	pvm_program *p = NULL;
	return pvm_program_new(blob, sizeof blob, &p) == PVM_E_OK ? p : NULL;
}

static sigjmp_buf jb;
static volatile sig_atomic_t caught;

static void mine(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	caught = 1;
	siglongjmp(jb, 1);
}

/* Run the program with r1 = address; returns the exit. */
static pvm_exit run_at(jit_vm *vm, pvm_program *p, jit_code *c, uint32_t addr, pvm_instance **out)
{
	pvm_instance *m;
	if (pvm_instance_new(p, &m) != PVM_E_OK)
		return PVM_EXIT_ERROR;
	pvm_mem_map(m, 0x20000, 0x1000, PVM_ACCESS_RW);
	uint64_t v = 0x1122334455667788ull;
	pvm_mem_write(m, 0x20ff8, &v, 8);
	for (unsigned i = 0; i < PVM_NUM_REGS; i++)
		pvm_set_reg(m, i, addr);
	pvm_set_gas(m, 100);
	pvm_exit ex = jit_run(vm, c, m);
	*out = m;
	return ex;
}

TEST(previous_handler_still_gets_foreign_faults)
{
	pvm_program *p = make_prog();
	ASSERT_TRUE(p != NULL);
	struct sigaction sa = {0}, old;
	sa.sa_sigaction = mine;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(sigaction(SIGSEGV, &sa, &old), 0);
	jit_vm *vm;
	jit_code *c;
	ASSERT_EQ(jit_vm_new(&vm), JIT_E_OK);
	ASSERT_EQ(jit_compile(p, &c), JIT_E_OK);
	pvm_instance *m;
	/* a page fault in compiled code is the PVM's, not the process's */
	ASSERT_EQ(run_at(vm, p, c, 0x30000, &m), PVM_EXIT_PAGE_FAULT);
	ASSERT_EQ(pvm_exit_arg(m), 0x30000);
	ASSERT_EQ(caught, 0);
	pvm_instance_free(m);
	/* a fault elsewhere reaches the handler that was there before */
	volatile uint8_t *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(bad != MAP_FAILED);
	if (!sigsetjmp(jb, 1))
		(void)*bad;
	ASSERT_EQ(caught, 1);
	munmap((void *)bad, 4096);
	/* and the JIT still works afterwards */
	ASSERT_EQ(run_at(vm, p, c, 0x20ff8, &m), PVM_EXIT_PANIC);
	ASSERT_EQ(pvm_reg(m, 1), 0x1122334455667788ull);
	ASSERT_EQ(pvm_reg(m, 2), 7);
	pvm_instance_free(m);
	jit_code_free(c);
	jit_vm_free(vm);
	pvm_program_free(p);
	/* (not restoring `old`: that would uninstall the JIT's handler too) */
}

static pvm_program *shared_prog;
static jit_code *shared_code;

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	jit_vm *vm;
	if (jit_vm_new(&vm) != JIT_E_OK)
		return (void *)1;
	uintptr_t bad = 0;
	for (unsigned i = 0; i < 300 && !bad; i++) {
		pvm_instance *m;
		uint32_t addr = (i + id) % 3 == 0 ? 0x20ff8 : (i + id) % 3 == 1 ? 0x40000 + 8 * i : 0x100;
		pvm_exit ex = run_at(vm, shared_prog, shared_code, addr, &m);
		pvm_exit want = addr == 0x20ff8 ? PVM_EXIT_PANIC : addr == 0x100 ? PVM_EXIT_PANIC : PVM_EXIT_PAGE_FAULT;
		if (ex != want || (want == PVM_EXIT_PAGE_FAULT && pvm_exit_arg(m) != (addr & ~4095u)) ||
		    (addr == 0x20ff8 && pvm_reg(m, 1) != 0x1122334455667788ull) || (addr == 0x100 && pvm_pc(m) != 0) ||
		    pvm_gas(m) != (addr == 0x20ff8 ? 97 : 99))
			bad = 1;
		pvm_instance_free(m);
	}
	jit_vm_free(vm);
	return (void *)bad;
}

TEST(faults_on_four_threads)
{
	shared_prog = make_prog();
	ASSERT_TRUE(shared_prog != NULL);
	ASSERT_EQ(jit_compile(shared_prog, &shared_code), JIT_E_OK);
	pthread_t t[4];
	for (uintptr_t i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (unsigned i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		ASSERT_TRUE(r == NULL);
	}
	jit_code_free(shared_code);
	pvm_program_free(shared_prog);
}

/* r1 = [r0]; [r0 + 8] = r2 (store_ind_u64); trap */
static pvm_program *make_rw_prog(void)
{
	static const uint8_t blob[] = {
		0, 0, 7,
		130, 0x01, 0, /* load_ind_u64 r1, [r0 + 0] */
		123, 0x02, 8, /* store_ind_u64 [r0 + 8], r2 */
		0,            /* trap */
		0x49,
	};
	pvm_program *p = NULL;
	return pvm_program_new(blob, sizeof blob, &p) == PVM_E_OK ? p : NULL;
}

TEST(shared_frames_copy_on_write)
{
	pvm_program *p = make_rw_prog();
	ASSERT_TRUE(p != NULL);
	jit_vm *vm;
	jit_code *c;
	ASSERT_EQ(jit_vm_new(&vm), JIT_E_OK);
	ASSERT_EQ(jit_compile(p, &c), JIT_E_OK);
	static uint8_t frame[4096] __attribute__((aligned(4096)));
	for (unsigned i = 0; i < 4096; i++)
		frame[i] = (uint8_t)(i * 7 + 1);
	uint64_t want;
	memcpy(&want, frame + 16, 8);
	for (int round = 0; round < 3; round++) {
		pvm_instance *m;
		ASSERT_EQ(pvm_instance_new(p, &m), PVM_E_OK);
		ASSERT_EQ(pvm_mem_map(m, 0x30000, 0x2000, PVM_ACCESS_RW), PVM_E_OK);
		ASSERT_EQ(pvm_mem_share(m, 0x30000, frame), PVM_E_OK);
		pvm_set_reg(m, 0, 0x30010);
		pvm_set_reg(m, 2, 0xAABBCCDDEEFF0011ull + (uint64_t)round);
		pvm_set_gas(m, 10);
		ASSERT_EQ(jit_run(vm, c, m), PVM_EXIT_PANIC);
		ASSERT_EQ(pvm_gas(m), 7);
		ASSERT_EQ(pvm_reg(m, 1), want);
		uint64_t got;
		ASSERT_EQ(pvm_mem_read(m, 0x30018, &got, 8), PVM_E_OK);
		ASSERT_EQ(got, 0xAABBCCDDEEFF0011ull + (uint64_t)round);
		ASSERT_EQ(frame[0x18], (uint8_t)(0x18 * 7 + 1)); /* the frame is never written */
		ASSERT_TRUE(pvm_mem_page_untouched(m, 0x31000)); /* never touched: still the zero page */
		/* a read of the zero page leaves it shared */
		pvm_set_reg(m, 0, 0x31000);
		pvm_set_reg(m, 2, 0);
		pvm_set_pc(m, 0);
		pvm_set_gas(m, 10);
		ASSERT_EQ(jit_run(vm, c, m), PVM_EXIT_PANIC);
		ASSERT_TRUE(pvm_mem_page_untouched(m, 0x31000)); /* wrote a zero over zeros: bytes unchanged */
		pvm_instance_free(m);
	}
	jit_code_free(c);
	jit_vm_free(vm);
	pvm_program_free(p);
}

/* r0 = 0x100000; r1 = 600; loop: [r0] = r1; r0 += 4096; r1 -= 1; if r1 != 0 loop; trap */
static pvm_program *make_pages_prog(void)
{
	static const uint8_t blob[] = {
		0, 0, 24,
		51, 0x00, 0x00, 0x00, 0x10, 0x00, /* 0: load_imm r0, 0x100000 */
		51, 0x01, 0x58, 0x02,             /* 6: load_imm r1, 600 */
		1,                                /* 10: fallthrough */
		123, 0x01,                        /* 11: store_ind_u64 [r0 + 0], r1 */
		149, 0x00, 0x00, 0x10,            /* 13: add_imm_64 r0, r0, 4096 */
		149, 0x11, 0xFF,                  /* 17: add_imm_64 r1, r1, -1 */
		82, 0x01, 0xF7,                   /* 20: branch_ne_imm r1, 0, @11 */
		0,                                /* 23: trap */
		0x41, 0x2C, 0x92,
	};
	pvm_program *p = NULL;
	return pvm_program_new(blob, sizeof blob, &p) == PVM_E_OK ? p : NULL;
}

static int same_memory(const pvm_instance *a, const pvm_instance *b)
{
	uint64_t fa = 0, fb = 0;
	static uint8_t ba[4096], bb[4096];
	for (;;) {
		uint32_t pa, pb;
		int aa, ab;
		bool ha = pvm_mem_next_page(a, fa, &pa, &aa), hb = pvm_mem_next_page(b, fb, &pb, &ab);
		if (ha != hb || (ha && (pa != pb || aa != ab)))
			return 0;
		if (!ha)
			return 1;
		pvm_mem_read(a, pa, ba, 4096);
		pvm_mem_read(b, pb, bb, 4096);
		if (memcmp(ba, bb, 4096))
			return 0;
		fa = (uint64_t)pa + 4096;
		fb = (uint64_t)pb + 4096;
	}
}

TEST(more_pages_than_the_window_keeps)
{
	pvm_program *p = make_pages_prog(), *q = make_rw_prog();
	ASSERT_TRUE(p != NULL && q != NULL);
	jit_vm *vm;
	jit_code *c, *cq;
	ASSERT_EQ(jit_vm_new(&vm), JIT_E_OK);
	ASSERT_EQ(jit_compile(p, &c), JIT_E_OK);
	ASSERT_EQ(jit_compile(q, &cq), JIT_E_OK);
	for (int round = 0; round < 4; round++) {
		/* rounds 0, 2: 600 pages (the last one RO: a page fault there);
		 * rounds 1, 3: the other program over a layout overlapping it */
		pvm_instance *mi, *mj;
		pvm_program *pp = round % 2 ? q : p;
		ASSERT_EQ(pvm_instance_new(pp, &mi), PVM_E_OK);
		ASSERT_EQ(pvm_instance_new(pp, &mj), PVM_E_OK);
		for (int k = 0; k < 2; k++) {
			pvm_instance *m = k ? mj : mi;
			if (round % 2 == 0) {
				ASSERT_EQ(pvm_mem_map(m, 0x100000, 599 * 4096, PVM_ACCESS_RW), PVM_E_OK);
				ASSERT_EQ(pvm_mem_map(m, 0x100000 + 599 * 4096, 4096, round ? PVM_ACCESS_RO : PVM_ACCESS_RW),
				          PVM_E_OK);
			} else {
				ASSERT_EQ(pvm_mem_map(m, 0x101000, 0x2000, PVM_ACCESS_RO), PVM_E_OK);
				uint64_t v = 0x0102030405060708ull;
				ASSERT_EQ(pvm_mem_write(m, 0x101ff8, &v, 8), PVM_E_OK);
				pvm_set_reg(m, 0, 0x101ff8);
			}
			pvm_set_gas(m, 100000);
		}
		pvm_exit ei = pvm_run(mi), ej = jit_run(vm, round % 2 ? cq : c, mj);
		ASSERT_EQ(ej, ei);
		ASSERT_EQ(pvm_pc(mj), pvm_pc(mi));
		ASSERT_EQ(pvm_gas(mj), pvm_gas(mi));
		ASSERT_EQ(pvm_exit_arg(mj), pvm_exit_arg(mi));
		for (unsigned i = 0; i < PVM_NUM_REGS; i++)
			ASSERT_EQ(pvm_reg(mj, i), pvm_reg(mi, i));
		ASSERT_TRUE(same_memory(mi, mj));
		pvm_instance_free(mi);
		pvm_instance_free(mj);
	}
	jit_code_free(c);
	jit_code_free(cq);
	jit_vm_free(vm);
	pvm_program_free(p);
	pvm_program_free(q);
}

/* A program: r2 = tag, then traps (the code: 10 bytes per trap). */
static pvm_program *make_traps(unsigned tag, unsigned traps)
{
	size_t n = 4 + traps, o = 0;
	uint8_t *b = malloc(8 + n + (n + 7) / 8);
	b[o++] = 0;
	b[o++] = 0;
	if (n < 0x80) { /* the length's shortest form (n < 2^21) */
		b[o++] = (uint8_t)n;
	} else if (n < 0x4000) {
		b[o++] = (uint8_t)(0x80 | (n >> 8));
		b[o++] = (uint8_t)n;
	} else {
		b[o++] = (uint8_t)(0xC0 | (n >> 16));
		b[o++] = (uint8_t)n;
		b[o++] = (uint8_t)(n >> 8);
	}
	b[o++] = 51; /* load_imm r2, tag (2 bytes) */
	b[o++] = 0x02;
	b[o++] = (uint8_t)tag;
	b[o++] = (uint8_t)(tag >> 8);
	memset(b + o, 0, traps);
	o += traps;
	for (size_t i = 0; i < (n + 7) / 8; i++) {
		uint8_t m = 0;
		for (unsigned k = 0; k < 8; k++) {
			size_t at = 8 * i + k;
			if (at < n && (at == 0 || at >= 4))
				m |= (uint8_t)(1u << k);
		}
		b[o++] = m;
	}
	pvm_program *p = NULL;
	pvm_err e = pvm_program_new(b, o, &p);
	free(b);
	return e == PVM_E_OK ? p : NULL;
}

static long vm_size_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmSize:", 7))
			kb = atol(line + 7);
	if (f)
		fclose(f);
	return kb;
}

/* Code pages come from a reused arena: many programs of many sizes (one
 * page to far more than a chunk) alive at once, freed out of order, each
 * runs its own code; once all are freed the address space is back within
 * the arena's bound (freed pages beyond the cache are unmapped). */
TEST(code_arena)
{
	enum { LIVE = 24, ROUNDS = 300 };
	mallopt(M_MMAP_THRESHOLD, 64 * 1024); /* large buffers: their own mappings, returned at free */
	pvm_program *p[LIVE] = {0};
	jit_code *c[LIVE] = {0};
	unsigned tag[LIVE] = {0};
	jit_vm *vm;
	ASSERT_EQ(jit_vm_new(&vm), JIT_E_OK);
	long before = -1;
	uint64_t r = 12345;
	for (unsigned round = 0; round < ROUNDS + LIVE; round++) {
		if (round == 1)
			before = vm_size_kb(); /* after the first chunk was mapped */
		unsigned k = round % LIVE;
		if (c[k]) { /* run it: its own tag, panic at its first trap */
			pvm_instance *m;
			ASSERT_EQ(pvm_instance_new(p[k], &m), PVM_E_OK);
			pvm_set_gas(m, 10);
			ASSERT_EQ(jit_run(vm, c[k], m), PVM_EXIT_PANIC);
			ASSERT_EQ(pvm_reg(m, 2), tag[k]);
			ASSERT_EQ(pvm_pc(m), 4u);
			pvm_instance_free(m);
			jit_code_free(c[(k * 7) % LIVE]); /* out of order */
			c[(k * 7) % LIVE] = NULL;
			jit_code_free(c[k]);
			c[k] = NULL;
		}
		for (unsigned j = 0; j < LIVE; j++)
			if (!c[j] && p[j]) {
				pvm_program_free(p[j]);
				p[j] = NULL;
			}
		if (round >= ROUNDS)
			continue;
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		unsigned traps = (r >> 33) % 4 == 0 ? 20000 + (unsigned)((r >> 20) % 40000) : 1 + (unsigned)((r >> 20) % 2000);
		tag[k] = round;
		ASSERT_TRUE((p[k] = make_traps(round, traps)) != NULL);
		ASSERT_EQ(jit_compile(p[k], &c[k]), JIT_E_OK);
	}
	for (unsigned j = 0; j < LIVE; j++) {
		jit_code_free(c[j]);
		pvm_program_free(p[j]);
	}
	malloc_trim(0); /* what malloc keeps is not the arena's */
	long after = vm_size_kb();
	jit_vm_free(vm);
	printf("    VmSize %ld KiB -> %ld KiB after %u compiles\n", before, after, ROUNDS);
#if UNDER_ASAN
	/* ASan's allocator keeps freed blocks in quarantine: the address space
	 * says nothing about the arena here (the plain build checks it) */
	(void)after;
#else
	ASSERT_TRUE(before > 0 && after - before < 2048);
#endif
}

int main(void)
{
	/* first: it installs its handler before the JIT installs its own */
	RUN(previous_handler_still_gets_foreign_faults);
	RUN(faults_on_four_threads);
	RUN(shared_frames_copy_on_write);
	RUN(more_pages_than_the_window_keeps);
	RUN(code_arena);
	return test_done();
}
