/* pvm_platform.h: the only outside services the freestanding engine uses.
 *
 * One implementation for the host (src/local/platform_libc.c, on libc) and
 * one for the guest kernel. Nothing else in src/pvm, src/cap or src/jit may
 * reach outside. memcpy/memset/memcmp may be emitted by the compiler; each
 * side provides them (libc on the host, the guest's own on the guest).
 */
#ifndef NUB_PVM_PLATFORM_H
#define NUB_PVM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Zero-filled, 16-byte aligned memory; NULL when exhausted. */
void *pvm_plat_alloc(size_t size);
void pvm_plat_free(void *p, size_t size);
/* One zero-filled page of 4096 bytes, 4096-aligned; NULL when exhausted. */
void *pvm_plat_page_alloc(void);
void pvm_plat_page_free(void *page);

#ifdef PVM_MEM_MMU
/* ---- PVM memory under the MMU (guest build only: -DPVM_MEM_MMU) ------------
 *
 * Each instance owns one address space: a 4 GiB window of virtual memory in
 * which PVM address a is the virtual address window + a (the window is the
 * same for every address space; only one is active at a time). The engine
 * keeps its software page table as the record of truth and mirrors every
 * change into the window with pvm_plat_as_set; the interpreter (and later the
 * JIT) then accesses window + a directly and lets the MMU check it.
 *
 * Call order (all on one CPU):
 *   as = pvm_plat_as_new()             at pvm_instance_new
 *   pvm_plat_as_set(as, a, frame, w)   any time (mirrors one page's entry)
 *   base = pvm_plat_as_enter(as)       at each pvm_run: as becomes active
 *   pvm_plat_catch_arm(&c) ... disarm  around the interpreter
 *   pvm_plat_as_free(as)               at pvm_instance_free (deactivates)
 */
typedef struct pvm_plat_as pvm_plat_as;

/* A fresh address space with nothing mapped; NULL when exhausted. */
pvm_plat_as *pvm_plat_as_new(void);
/* Free the page tables (never the frames they point to). */
void pvm_plat_as_free(pvm_plat_as *as);
/* Point PVM page a (4096-aligned) at `frame` (a 4096-aligned kernel address
 * of ordinary RAM), readable, writable when `writable`, never executable;
 * frame NULL makes the page not present. Takes effect at once (the TLB entry
 * is flushed when `as` is active). False when page-table memory ran out
 * (the entry is then unchanged). */
bool pvm_plat_as_set(pvm_plat_as *as, uint32_t a, const void *frame, bool writable);
/* Make `as` the active address space; returns the window base (PVM address
 * a is base + a while it stays active). */
uint8_t *pvm_plat_as_enter(pvm_plat_as *as);

/* Fault recovery, a setjmp in two functions. pvm_plat_catch_arm records the
 * caller's callee-saved registers, stack pointer and return address in c and
 * returns 0. While c is armed, a page fault on a data access inside the
 * active window calls pvm_mem_fault(c->inst, a, write) (the engine's side,
 * below): when it returns true the access is retried; otherwise the
 * platform resumes at the arm point, which returns 1 a second time (the
 * caller's frame must still be live: arm in the function that calls the
 * interpreter). Any other fault stays fatal. One catch at a time. */
typedef struct pvm_plat_catch {
	uint64_t rip, rsp, rbx, rbp, r12, r13, r14, r15;
	void *inst;
} pvm_plat_catch;
__attribute__((returns_twice)) int pvm_plat_catch_arm(pvm_plat_catch *c);
void pvm_plat_catch_disarm(pvm_plat_catch *c);

/* Engine side (pvm_mem.c), called by the platform's page-fault handler: a
 * data access at PVM address a (write or read) faulted in the window of the
 * instance `inst`. Returns true after a copy-on-write fill (retry), false
 * when the run must end (the engine has recorded PAGE_FAULT at the page, or
 * an engine error when the fill ran out of memory). */
bool pvm_mem_fault(void *inst, uint32_t a, bool write);
#endif

/* ---- the JIT's runtime services (src/jit; host: src/platform/platform_jit_posix.c)
 *
 * Code: pvm_plat_code_new returns an executable copy of len bytes (W^X:
 * written while writable, then made read+execute; never both); NULL on
 * failure. Window: pvm_plat_window_new reserves one page of read-write run
 * context just below the returned base, then [base, base + 2^32 + guard)
 * inaccessible; pvm_plat_window_reset makes the whole window inaccessible
 * again and drops its contents; pvm_plat_window_protect sets one page to
 * PVM_ACCESS_NONE / _RO / _RW (callable from the fault handler).
 * pvm_plat_jit_call calls entry(base, target) (compiled code's trampoline)
 * with the segment of pvm_plat_jit_segment based at base and faults in
 * compiled code routed to pvm_jit_fault(run, ...) on this thread, and
 * returns entry's result.
 * Under PVM_MEM_MMU (the guest) the window is the instances' own address
 * space (pvm_plat_as_enter returns the same base): pvm_plat_window_new maps
 * only the context page below it, and _reset/_protect are not used. */
void *pvm_plat_code_new(const void *code, size_t len);
void pvm_plat_code_free(void *code, size_t len);
/* Read-only data compiled code reads (the native jump table): a copy of len
 * bytes that compiled code can read and nothing can write or execute
 * (in the guest: a user-readable page, since compiled code runs in ring 3);
 * NULL on failure. */
void *pvm_plat_rodata_new(const void *data, size_t len);
void pvm_plat_rodata_free(void *data, size_t len);
uint8_t *pvm_plat_window_new(size_t ctx_size, size_t guard_size);
void pvm_plat_window_free(uint8_t *base, size_t ctx_size, size_t guard_size);
bool pvm_plat_window_reset(uint8_t *base, size_t guard_size);
bool pvm_plat_window_protect(uint8_t *page, int access);
uint32_t pvm_plat_jit_call(void *run, const void *entry, uint8_t *base, const void *target);
/* The segment whose base is the window's base while pvm_plat_jit_call runs
 * compiled code: its override prefix, 0x65 (GS, in-process: glibc owns FS)
 * or 0x64 (FS, the guest kernel: its per-CPU data is GS). Compiled code
 * addresses PVM memory and the run context through it. */
unsigned pvm_plat_jit_segment(void);
/* Engine side (src/jit/jit_run.c), called by the platform's SIGSEGV/SIGBUS
 * handler while pvm_plat_jit_call(run, ...) runs on this thread: a fault at
 * data address addr with the x86-64 registers g[16] (encoding order: rax,
 * rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15) and *rip. Returns true when
 * the fault was ours: g[0] (rax) and *rip may have been changed and
 * execution continues there; false: not ours (chain to the next handler). */
bool pvm_jit_fault(void *run, uintptr_t addr, uint64_t g[16], uint64_t *rip);

#endif
