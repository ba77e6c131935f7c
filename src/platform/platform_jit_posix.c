/* platform_jit_posix.c: the JIT's host services on Linux x86-64: code pages, windows, the fault handler.
 *
 * Code pages are W^X: filled while read-write, then made read+execute;
 * read-only data (the native jump table) likewise, then made read-only;
 * both come from a small arena of pages reused across compiles (below).
 * A window is one reservation: a read-write context page, then 4 GiB + a
 * guard, inaccessible until the engine fills pages (pvm_plat_window_protect).
 *
 * Compiled code reaches the window and its context through GS (see
 * pvm_plat_jit_segment): pvm_plat_jit_call sets this thread's GS base to the
 * window's with arch_prctl(ARCH_SET_GS) when it differs from the last one set.
 *
 * Faults: one SIGSEGV and one SIGBUS handler, installed once (the first
 * pvm_plat_jit_call), on an alternate signal stack (each thread that runs
 * compiled code gets one when it has none: 64 KiB, kept until the process
 * ends). The handler asks the engine (pvm_jit_fault) only while this thread
 * is inside pvm_plat_jit_call; every other fault, and every fault the engine
 * does not claim, goes to the handler that was installed before ours (for
 * example ASan's), or to the default action.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "pvm/pvm.h"
#include "pvm/pvm_platform.h"

#if !defined(__x86_64__) || !defined(__linux__)
#error "platform_jit_posix.c: Linux x86-64 only"
#endif

#define WINDOW_SPAN(guard) (((size_t)1 << 32) + (guard))

static size_t page_round(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

/* ---- code and read-only data pages: a small process-wide arena ---------
 *
 * A compile used to cost mmap + page faults + mprotect, and its free a
 * munmap (about 17 us per page on this VM, most of a small program's
 * compile). Now pages come read-write and populated from the arena: from
 * the cache of freed pages (best fit, split), else from the rest of the last
 * chunk (CHUNK_PAGES mapped and populated at once), else a new chunk (a
 * request of a chunk or more gets its own mapping). A compile then costs
 * one mprotect (to read+execute, or read-only), never both writable and
 * executable. A free makes the pages read-write again (one mprotect: nothing
 * can execute them any more) and keeps them for the next compile while the
 * cache holds less than CACHE_MAX bytes in at most CACHE_SLOTS pieces;
 * beyond that they are unmapped (memory really returned). At most
 * CACHE_MAX + a chunk of read-write pages stay mapped for reuse. */
#define CHUNK_PAGES 32
#define CACHE_MAX ((size_t)64 * 4096)
#define CACHE_SLOTS 32

static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint8_t *p;
	size_t sz;
} cache[CACHE_SLOTS];
static unsigned n_cache;
static size_t cache_bytes;
static uint8_t *fresh; /* the unused rest of the last chunk */
static size_t fresh_left;

static void *map_rw(size_t sz)
{
	void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* sz (page multiple) read-write bytes; the caller holds arena_lock */
static uint8_t *pages_get_locked(size_t sz)
{
	unsigned best = CACHE_SLOTS;
	for (unsigned i = 0; i < n_cache; i++)
		if (cache[i].sz >= sz && (best == CACHE_SLOTS || cache[i].sz < cache[best].sz))
			best = i;
	if (best != CACHE_SLOTS) {
		uint8_t *p = cache[best].p;
		cache_bytes -= sz;
		if (cache[best].sz > sz) {
			cache[best].p += sz;
			cache[best].sz -= sz;
		} else {
			cache[best] = cache[--n_cache];
		}
		return p;
	}
	if (sz >= (size_t)CHUNK_PAGES * 4096)
		return map_rw(sz);
	if (fresh_left < sz) {
		uint8_t *c = map_rw((size_t)CHUNK_PAGES * 4096);
		if (!c)
			return NULL;
		if (fresh_left)
			munmap(fresh, fresh_left);
		fresh = c;
		fresh_left = (size_t)CHUNK_PAGES * 4096;
	}
	uint8_t *p = fresh;
	fresh += sz;
	fresh_left -= sz;
	return p;
}

/* a copy of len bytes in pages of access prot (never writable) */
static void *pages_new(const void *data, size_t len, int prot)
{
	size_t sz = page_round(len ? len : 1);
	pthread_mutex_lock(&arena_lock);
	uint8_t *p = pages_get_locked(sz);
	pthread_mutex_unlock(&arena_lock);
	if (!p)
		return NULL;
	memcpy(p, data, len);
	if (mprotect(p, sz, prot) != 0) {
		munmap(p, sz);
		return NULL;
	}
	return p;
}

static void pages_free(void *data, size_t len)
{
	if (!data)
		return;
	size_t sz = page_round(len ? len : 1);
	pthread_mutex_lock(&arena_lock);
	bool keep = n_cache < CACHE_SLOTS && cache_bytes + sz <= CACHE_MAX &&
		    mprotect(data, sz, PROT_READ | PROT_WRITE) == 0;
	if (keep) {
		cache[n_cache].p = data;
		cache[n_cache++].sz = sz;
		cache_bytes += sz;
	}
	pthread_mutex_unlock(&arena_lock);
	if (!keep)
		munmap(data, sz);
}

void *pvm_plat_code_new(const void *code, size_t len)
{
	return pages_new(code, len, PROT_READ | PROT_EXEC);
}

void pvm_plat_code_free(void *code, size_t len)
{
	pages_free(code, len);
}

void *pvm_plat_rodata_new(const void *data, size_t len)
{
	return pages_new(data, len, PROT_READ);
}

void pvm_plat_rodata_free(void *data, size_t len)
{
	pages_free(data, len);
}

uint8_t *pvm_plat_window_new(size_t ctx_size, size_t guard_size)
{
	uint8_t *p = mmap(NULL, ctx_size + WINDOW_SPAN(guard_size), PROT_NONE,
	                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p, ctx_size, PROT_READ | PROT_WRITE) != 0) {
		munmap(p, ctx_size + WINDOW_SPAN(guard_size));
		return NULL;
	}
	return p + ctx_size;
}

void pvm_plat_window_free(uint8_t *base, size_t ctx_size, size_t guard_size)
{
	munmap(base - ctx_size, ctx_size + WINDOW_SPAN(guard_size));
}

bool pvm_plat_window_reset(uint8_t *base, size_t guard_size)
{
	void *p = mmap(base, WINDOW_SPAN(guard_size), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
	               -1, 0);
	return p == (void *)base;
}

bool pvm_plat_window_protect(uint8_t *page, int access)
{
	int prot = access == PVM_ACCESS_RW ? PROT_READ | PROT_WRITE : access == PVM_ACCESS_RO ? PROT_READ : PROT_NONE;
	return mprotect(page, 4096, prot) == 0;
}

/* ---- the fault handler ---------------------------------------------------- */

static __thread void *cur_run __attribute__((tls_model("initial-exec")));
static __thread int have_altstack __attribute__((tls_model("initial-exec")));
static struct sigaction old_segv, old_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int installed;

/* ucontext greg index of each x86 register in encoding order */
static const int greg_of[16] = {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

static void chain(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *o = sig == SIGBUS ? &old_bus : &old_segv;
	if (o->sa_flags & SA_SIGINFO) {
		o->sa_sigaction(sig, si, uc);
	} else if (o->sa_handler != SIG_DFL && o->sa_handler != SIG_IGN) {
		o->sa_handler(sig);
	} else {
		/* default action: uninstall ourselves; the faulting instruction
		 * runs again and the fault takes its default course */
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigaction(sig, &dfl, NULL);
	}
}

static void on_fault(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	void *run = cur_run;
	if (run) {
		greg_t *gr = uc->uc_mcontext.gregs;
		uint64_t g[16], rip = (uint64_t)gr[REG_RIP];
		for (unsigned i = 0; i < 16; i++)
			g[i] = (uint64_t)gr[greg_of[i]];
		if (pvm_jit_fault(run, (uintptr_t)si->si_addr, g, &rip)) {
			gr[REG_RAX] = (greg_t)g[0];
			gr[REG_RIP] = (greg_t)rip;
			return;
		}
	}
	chain(sig, si, ucv);
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv) == 0 && sigaction(SIGBUS, &sa, &old_bus) == 0)
		installed = 1;
}

static int ensure_altstack(void)
{
	if (have_altstack)
		return 1;
	stack_t cur;
	if (sigaltstack(NULL, &cur) != 0)
		return 0;
	if (!(cur.ss_flags & SS_DISABLE) && cur.ss_size >= 16384) {
		have_altstack = 1;
		return 1;
	}
	size_t sz = 65536;
	void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	stack_t ss = {.ss_sp = p, .ss_size = sz, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0) {
		munmap(p, sz);
		return 0;
	}
	have_altstack = 1;
	return 1;
}

unsigned pvm_plat_jit_segment(void)
{
	return 0x65; /* GS */
}

/* This thread's GS base as we last set it (0: never): arch_prctl only when
 * the window changes (a thread that runs one vm makes one syscall). Nothing
 * else in the process uses GS (glibc's TLS is FS). Not wrgsbase: valgrind
 * cannot run it, and callgrind is how compiled code is measured. */
static __thread uintptr_t gs_base __attribute__((tls_model("initial-exec")));

static int set_gs_base(uint8_t *base)
{
	if (gs_base == (uintptr_t)base)
		return 1;
	if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)(uintptr_t)base) != 0)
		return 0;
	gs_base = (uintptr_t)base;
	return 1;
}

uint32_t pvm_plat_jit_call(void *run, const void *entry, uint8_t *base, const void *target)
{
	pthread_once(&install_once, install);
	if (!installed || !ensure_altstack() || !set_gs_base(base))
		return PVM_EXIT_ERROR; /* exit_idx is the entry's: the caller reports it */
	uint32_t (*fn)(uint8_t *, const void *);
	memcpy(&fn, &entry, sizeof fn);
	cur_run = run;
	__asm__ volatile("" ::: "memory");
	uint32_t r = fn(base, target);
	__asm__ volatile("" ::: "memory");
	cur_run = NULL;
	return r;
}
