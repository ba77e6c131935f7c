/* pvm_mem.c: paged PVM memory: mapping, host copies, slow accesses, sbrk. */
#include "pvm_mem.h"
#include "pvm_platform.h"

/* The shared zero page behind every fresh page (read-only by construction:
 * nothing ever gets PVM_PTE_W on it). */
static const uint8_t zero_page[4096] __attribute__((aligned(4096)));
#define ZERO_PTE ((uintptr_t)zero_page | PVM_PTE_SHARED)

static uint8_t *page_of(uintptr_t e)
{
	return (uint8_t *)(e & ~PVM_PTE_FLAGS);
}

/* Charge n host pages to the instance's budget hook (false: refused). */
static bool take(pvm_instance *m, uint64_t n)
{
	if (m->hook && !m->hook(m->hook_ctx, (int64_t)n))
		return false;
	m->held += n;
	return true;
}

static void give(pvm_instance *m, uint64_t n)
{
	m->held -= n;
	if (m->hook && n)
		m->hook(m->hook_ctx, -(int64_t)n);
}

/* Free the page behind entry e if it is the instance's own. */
static void page_release(pvm_instance *m, uintptr_t e)
{
	if (e && !(e & PVM_PTE_SHARED)) {
		pvm_plat_page_free(page_of(e));
		give(m, 1);
	}
}

/* Record entry value v for page a in *e, and in the MMU build mirror it into
 * the instance's address space first (false, *e unchanged, when that ran
 * out of memory). */
static bool set_pte(pvm_instance *m, uint32_t a, uintptr_t *e, uintptr_t v)
{
#ifdef PVM_MEM_MMU
	if (!pvm_plat_as_set(m->as, a & ~4095u, v ? page_of(v) : 0, (v & PVM_PTE_W) != 0))
		return false;
#else
	(void)m;
	(void)a;
#endif
	*e = v;
	return true;
}

/* Make the page behind *e (page a) this instance's own (copying a shared
 * page). */
static pvm_err page_own(pvm_instance *m, uint32_t a, uintptr_t *e)
{
	if (!(*e & PVM_PTE_SHARED))
		return PVM_E_OK;
	if (!take(m, 1))
		return PVM_E_MEM_BUDGET;
	uint8_t *pg = pvm_plat_page_alloc();
	if (!pg) {
		give(m, 1);
		return PVM_E_NOMEM;
	}
	__builtin_memcpy(pg, page_of(*e), 4096);
	uintptr_t fl = *e & PVM_PTE_FLAGS & ~PVM_PTE_SHARED;
	if (fl & PVM_PTE_WANT_W)
		fl |= PVM_PTE_W;
	if (!set_pte(m, a, e, (uintptr_t)pg | fl)) {
		pvm_plat_page_free(pg);
		give(m, 1);
		return PVM_E_NOMEM;
	}
	return PVM_E_OK;
}

static uintptr_t *pte(const pvm_instance *m, uint32_t a)
{
	uintptr_t *leaf = m->l1[a >> 22];
	return leaf ? &leaf[(a >> 12) & (PVM_L2_SIZE - 1)] : 0;
}

/* A leaf of the page table in host pages (charged like pages). */
#define LEAF_PAGES ((PVM_L2_SIZE * sizeof(uintptr_t) + 4095) / 4096)

/* The entry of page a, making its leaf (NULL: out of memory or refused by
 * the budget hook). */
static uintptr_t *pte_make(pvm_instance *m, uint32_t a, pvm_err *err)
{
	uintptr_t **slot = &m->l1[a >> 22];
	if (!*slot) {
		if (!take(m, LEAF_PAGES)) {
			*err = PVM_E_MEM_BUDGET;
			return 0;
		}
		*slot = pvm_plat_alloc(PVM_L2_SIZE * sizeof(uintptr_t));
		if (!*slot) {
			give(m, LEAF_PAGES);
			*err = PVM_E_NOMEM;
			return 0;
		}
		m->n_leaves++;
	}
	return &(*slot)[(a >> 12) & (PVM_L2_SIZE - 1)];
}

pvm_err pvm_instance_new(const pvm_program *p, pvm_instance **out)
{
	pvm_instance *m = pvm_plat_alloc(sizeof *m);
	*out = 0;
	if (!m)
		return PVM_E_NOMEM;
	m->prog = p;
	m->resume_idx = PVM_NO_TARGET;
	m->page_limit = PVM_L1_SIZE * PVM_L2_SIZE;
#ifdef PVM_MEM_MMU
	if (!(m->as = pvm_plat_as_new())) {
		pvm_plat_free(m, sizeof *m);
		return PVM_E_NOMEM;
	}
#endif
	*out = m;
	return PVM_E_OK;
}

void pvm_instance_free(pvm_instance *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < PVM_L1_SIZE; i++) {
		uintptr_t *leaf = m->l1[i];
		if (!leaf)
			continue;
		for (unsigned j = 0; j < PVM_L2_SIZE; j++)
			if (leaf[j] && !(leaf[j] & PVM_PTE_SHARED))
				pvm_plat_page_free(page_of(leaf[j]));
		pvm_plat_free(leaf, PVM_L2_SIZE * sizeof(uintptr_t));
	}
#ifdef PVM_MEM_MMU
	pvm_plat_as_free(m->as);
#endif
	give(m, m->held); /* everything at once */
	pvm_plat_free(m, sizeof *m);
}

void pvm_set_page_limit(pvm_instance *m, uint32_t max_pages)
{
	m->page_limit = max_pages;
}

void pvm_set_page_hook(pvm_instance *m, pvm_page_hook hook, void *ctx)
{
	m->hook = hook;
	m->hook_ctx = ctx;
}

uint32_t pvm_mapped_pages(const pvm_instance *m)
{
	return m->mapped;
}

uint64_t pvm_held_pages(const pvm_instance *m)
{
	return m->held;
}

/* Pages of [from, to) (page-aligned) not mapped yet. */
static uint64_t unmapped_in(const pvm_instance *m, uint64_t from, uint64_t to)
{
	uint64_t n = 0;
	for (uint64_t a = from; a < to;) {
		const uintptr_t *leaf = m->l1[a >> 22];
		uint64_t leaf_end = ((a >> 22) + 1) << 22;
		uint64_t end = leaf_end < to ? leaf_end : to;
		if (!leaf) {
			n += (end - a) / PVM_PAGE_SIZE;
			a = end;
			continue;
		}
		for (; a < end; a += PVM_PAGE_SIZE)
			n += leaf[(a >> 12) & (PVM_L2_SIZE - 1)] == 0;
	}
	return n;
}

pvm_err pvm_mem_map(pvm_instance *m, uint32_t addr, uint32_t len, int access)
{
	if ((addr | len) & 4095u)
		return PVM_E_MEM_ALIGN;
	if ((uint64_t)addr + len > ((uint64_t)1 << 32) || (len && addr < PVM_ZONE_SIZE))
		return PVM_E_MEM_RANGE;
	if (access != PVM_ACCESS_NONE && m->mapped + unmapped_in(m, addr, (uint64_t)addr + len) > m->page_limit)
		return PVM_E_MEM_LIMIT;
	for (uint64_t a = addr; a < (uint64_t)addr + len; a += PVM_PAGE_SIZE) {
		if (access == PVM_ACCESS_NONE) {
			uintptr_t *e = pte(m, (uint32_t)a);
			if (e && *e) {
				uintptr_t old = *e;
				if (!set_pte(m, (uint32_t)a, e, 0))
					return PVM_E_NOMEM;
				m->mapped--;
				page_release(m, old);
			}
			continue;
		}
		pvm_err pe = PVM_E_NOMEM;
		uintptr_t *e = pte_make(m, (uint32_t)a, &pe);
		if (!e)
			return pe;
		bool fresh = *e == 0;
		uintptr_t cur = *e ? *e : ZERO_PTE;
		uintptr_t fl = (cur & PVM_PTE_SHARED) | PVM_PTE_R;
		if (access == PVM_ACCESS_RW)
			fl |= (cur & PVM_PTE_SHARED) ? PVM_PTE_WANT_W : (PVM_PTE_W | PVM_PTE_WANT_W);
		if (!set_pte(m, (uint32_t)a, e, (cur & ~PVM_PTE_FLAGS) | fl))
			return PVM_E_NOMEM;
		m->mapped += fresh;
	}
	return PVM_E_OK;
}

/* Host-side copy between buf and [addr, addr+len): every page must be
 * mapped (access rights do not matter); writes take ownership of shared
 * pages first. Checks everything before copying anything. */
static pvm_err copy_span(pvm_instance *m, uint32_t addr, uint8_t *buf, uint32_t len, bool write)
{
	if ((uint64_t)addr + len > ((uint64_t)1 << 32))
		return PVM_E_MEM_RANGE;
	for (uint64_t a = addr & ~4095u; a < (uint64_t)addr + len; a += PVM_PAGE_SIZE) {
		uintptr_t *e = pte(m, (uint32_t)a);
		if (!e || !*e)
			return PVM_E_MEM_UNMAPPED;
	}
	while (len) {
		uintptr_t *e = pte(m, addr);
		uint32_t off = addr & 4095u, n = 4096u - off;
		if (n > len)
			n = len;
		if (write) {
			pvm_err pe = page_own(m, addr, e);
			if (pe != PVM_E_OK)
				return pe;
			__builtin_memcpy(page_of(*e) + off, buf, n);
		} else {
			__builtin_memcpy(buf, page_of(*e) + off, n);
		}
		buf += n;
		addr += n;
		len -= n;
	}
	return PVM_E_OK;
}

pvm_err pvm_mem_write(pvm_instance *m, uint32_t addr, const void *src, uint32_t len)
{
	return copy_span(m, addr, (uint8_t *)(uintptr_t)src, len, true);
}

pvm_err pvm_mem_read(const pvm_instance *m, uint32_t addr, void *dst, uint32_t len)
{
	return copy_span((pvm_instance *)(uintptr_t)m, addr, dst, len, false);
}

int pvm_mem_access(const pvm_instance *m, uint32_t addr)
{
	uintptr_t *e = pte(m, addr);
	if (!e || !*e)
		return PVM_ACCESS_NONE;
	return (*e & PVM_PTE_WANT_W) ? PVM_ACCESS_RW : PVM_ACCESS_RO;
}

bool pvm_mem_page_untouched(const pvm_instance *m, uint32_t addr)
{
	uintptr_t *e = pte(m, addr);
	return e && *e && page_of(*e) == zero_page;
}

bool pvm_mem_next_page(const pvm_instance *m, uint64_t from, uint32_t *page, int *access)
{
	for (uint64_t a = (from + 4095) & ~(uint64_t)4095; a < ((uint64_t)1 << 32);) {
		const uintptr_t *leaf = m->l1[a >> 22];
		if (!leaf) {
			a = ((a >> 22) + 1) << 22;
			continue;
		}
		uintptr_t e = leaf[(a >> 12) & (PVM_L2_SIZE - 1)];
		if (e) {
			*page = (uint32_t)a;
			*access = (e & PVM_PTE_WANT_W) ? PVM_ACCESS_RW : PVM_ACCESS_RO;
			return true;
		}
		a += PVM_PAGE_SIZE;
	}
	return false;
}

/* Check n bytes at a (wrapping mod 2^32) for `need`. */
static int check(pvm_instance *m, uint32_t a, unsigned n, uintptr_t need)
{
	uint32_t fault = 0;
	bool faulted = false;
	for (unsigned i = 0; i < n; i++) {
		uint32_t x = a + i;
		if (x < PVM_ZONE_SIZE)
			return PVM_EXIT_PANIC;
	}
	for (unsigned i = 0; i < n; i++) {
		uint32_t x = a + i;
		uintptr_t *e = pte(m, x);
		if (!e || (*e & need) != need) {
			uint32_t pg = x & ~4095u;
			if (!faulted || pg < fault)
				fault = pg;
			faulted = true;
		}
	}
	if (faulted) {
		m->exit_arg = fault;
		return PVM_EXIT_PAGE_FAULT;
	}
	return -1;
}

static uint8_t *byte_at(pvm_instance *m, uint32_t x)
{
	return page_of(*pte(m, x)) + (x & 4095u);
}

int pvm_mem_load_slow(pvm_instance *m, uint32_t a, unsigned n, uint64_t *v)
{
	int r = check(m, a, n, PVM_PTE_R);
	if (r >= 0)
		return r;
	uint64_t x = 0;
	for (unsigned i = 0; i < n; i++)
		x |= (uint64_t)*byte_at(m, a + i) << (8 * i);
	*v = x;
	return -1;
}

int pvm_mem_store_slow(pvm_instance *m, uint32_t a, unsigned n, uint64_t v)
{
	int r = check(m, a, n, PVM_PTE_R | PVM_PTE_WANT_W);
	if (r >= 0)
		return r;
	/* copy shared pages first, so a failure leaves memory unchanged */
	pvm_err pe = page_own(m, a, pte(m, a));
	if (pe == PVM_E_OK)
		pe = page_own(m, a + n - 1, pte(m, a + n - 1));
	if (pe != PVM_E_OK) {
		m->exit_arg = pe;
		return PVM_EXIT_ERROR;
	}
	for (unsigned i = 0; i < n; i++)
		*byte_at(m, a + i) = (uint8_t)(v >> (8 * i));
	return -1;
}

uint64_t pvm_mem_sbrk(pvm_instance *m, uint64_t n)
{
	uint64_t old = m->heap;
	if (n == 0)
		return old;
	uint64_t top = old + n;
	if (top > ((uint64_t)1 << 32))
		return 0;
	uint64_t first = (old + 4095) & ~(uint64_t)4095, last = (top + 4095) & ~(uint64_t)4095;
	if (first < PVM_ZONE_SIZE)
		first = PVM_ZONE_SIZE;
	/* past the page limit: as impossible as past 2^32 */
	if (first < last && m->mapped + unmapped_in(m, first, last) > m->page_limit)
		return 0;
	for (uint64_t pg = first; pg < last; pg += PVM_PAGE_SIZE) {
		pvm_err pe;
		uintptr_t *e = pte_make(m, (uint32_t)pg, &pe);
		if (!e)
			return 0;
		if (!*e) {
			if (!set_pte(m, (uint32_t)pg, e, ZERO_PTE | PVM_PTE_R | PVM_PTE_WANT_W))
				return 0;
			m->mapped++;
		}
	}
	m->heap = top;
	return old;
}

pvm_err pvm_mem_share(pvm_instance *m, uint32_t addr, const void *frame)
{
	if ((addr & 4095u) || ((uintptr_t)frame & 4095u))
		return PVM_E_MEM_ALIGN;
	uintptr_t *e = pte(m, addr);
	if (!e || !*e)
		return PVM_E_MEM_UNMAPPED;
	uintptr_t old = *e;
	if (!set_pte(m, addr, e, (uintptr_t)frame | PVM_PTE_SHARED | (old & (PVM_PTE_R | PVM_PTE_WANT_W))))
		return PVM_E_NOMEM;
	page_release(m, old);
	return PVM_E_OK;
}

#ifdef PVM_MEM_MMU
bool pvm_mem_fault(void *inst, uint32_t a, bool write)
{
	pvm_instance *m = inst;
	uintptr_t *e = pte(m, a);
	if (write && e && (*e & PVM_PTE_SHARED) && (*e & PVM_PTE_WANT_W)) {
		pvm_err pe = page_own(m, a, e);
		if (pe == PVM_E_OK)
			return true;
		m->exit_arg = pe;
		m->f_exit = PVM_EXIT_ERROR;
		return false;
	}
	m->exit_arg = a & ~4095u;
	m->f_exit = PVM_EXIT_PAGE_FAULT;
	return false;
}
#endif
