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

#endif
