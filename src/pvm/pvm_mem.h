/* pvm_mem.h: instance state and the paged 32-bit PVM memory (engine-internal).
 *
 * Memory is a two-level table: 1024 leaves of 1024 page entries. An entry is
 * the page's 4096-aligned host address | flags, or 0 when the page is
 * inaccessible:
 *   PVM_PTE_R       readable
 *   PVM_PTE_W       writable now: the page is this instance's own
 *   PVM_PTE_SHARED  the page is not ours (the shared zero page): never W;
 *                   the first write copies it (demand-zero / copy-on-write)
 *   PVM_PTE_WANT_W  writable as far as the program is concerned
 * The interpreter's fast path needs R (loads) or R|W (stores); everything else
 * goes to the slow path. Fresh pages, from pvm_mem_map or sbrk, start as the
 * shared zero page, so mapping a large heap costs no memory until touched.
 * Pages below 0x10000 are never mapped, so every access there takes the slow
 * path, which reports PANIC.
 *
 * PVM_MEM_MMU (the guest build): the table above stays the record of truth
 * and every change of an entry is mirrored into the instance's address space
 * (pvm_platform.h): present when R, writable when W, the frame the entry
 * names (the shared zero page or a published frame while SHARED, so a write
 * faults and pvm_mem_fault copies it). The interpreter's fast path is then
 * pvm_mem_direct: window + a, checked by the MMU; a fault there ends the run
 * through the platform's catch, with the instruction and gas the interpreter
 * recorded in f_ip / f_gas / f_pre before the access.
 */
#ifndef NUB_PVM_MEM_H
#define NUB_PVM_MEM_H

#include "pvm_insn.h"

#define PVM_PTE_R ((uintptr_t)1)
#define PVM_PTE_W ((uintptr_t)2)
#define PVM_PTE_SHARED ((uintptr_t)4)
#define PVM_PTE_WANT_W ((uintptr_t)8)
#define PVM_PTE_FLAGS ((uintptr_t)4095)
#define PVM_L1_SIZE 1024u
#define PVM_L2_SIZE 1024u

struct pvm_instance {
	const pvm_program *prog;
	uint64_t regs[PVM_NUM_REGS];
	uint32_t pc;
	uint32_t exit_arg;
	int64_t gas;
	uint32_t resume_idx; /* insn to resume at after a host call, or PVM_NO_TARGET */
	uint64_t heap;       /* sbrk pointer (may reach 2^32) */
	uint32_t n_leaves;
	uint32_t mapped;      /* pages mapped (non-zero entries) */
	uint32_t page_limit;  /* most pages that may be mapped */
	uint64_t held;        /* host pages charged to the hook (own pages, 2 per leaf) */
	pvm_page_hook hook;   /* budget for host pages, or NULL */
	void *hook_ctx;
#ifdef PVM_MEM_MMU
	struct pvm_plat_as *as; /* the MMU mirror of l1 */
	uint8_t *win;           /* window base while running */
	const pvm_insn *f_ip;   /* instruction of the last direct access */
	uint64_t f_gas;         /* gas counter then */
	uint32_t f_pre;         /* 1: its run was pre-charged (refund on exit) */
	uint32_t f_exit;        /* pvm_exit a caught fault ends the run with */
#endif
	uintptr_t *l1[PVM_L1_SIZE];
};

static inline uint8_t *pvm_mem_fast(const pvm_instance *m, uint32_t a, unsigned n, uintptr_t need)
{
	const uintptr_t *leaf = m->l1[a >> 22];
	if (!leaf)
		return 0;
	uintptr_t e = leaf[(a >> 12) & (PVM_L2_SIZE - 1)];
	if ((e & need) != need || (a & 4095u) + n > 4096u)
		return 0;
	return (uint8_t *)(e & ~(uintptr_t)4095) + (a & 4095u);
}

#ifdef PVM_MEM_MMU
/* The direct (MMU-checked) address of an n-byte access at a, or NULL for the
 * slow path: below 0x10000 (PANIC), crossing a page (a fault must not leave
 * the first part written; this also excludes wrapping past 2^32). */
static inline uint8_t *pvm_mem_direct(uint8_t *win, uint32_t a, unsigned n)
{
	if (a < PVM_ZONE_SIZE || (a & 4095u) > 4096u - n)
		return 0;
	return win + a;
}
#endif

/* Slow paths: cross-page accesses and errors. Return -1 on success, else the
 * exit (PVM_EXIT_PANIC for any byte below 0x10000, PVM_EXIT_PAGE_FAULT with
 * m->exit_arg = lowest inaccessible page). Nothing is written on failure. */
int pvm_mem_load_slow(pvm_instance *m, uint32_t a, unsigned n, uint64_t *v);
int pvm_mem_store_slow(pvm_instance *m, uint32_t a, unsigned n, uint64_t v);
/* sbrk: returns the value for rD (0 when the heap cannot grow). */
uint64_t pvm_mem_sbrk(pvm_instance *m, uint64_t n);

#endif
