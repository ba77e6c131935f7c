/* guest_paging.c: changes to the boot page tables after entry, and the PVM
 * address spaces (the MMU half of src/pvm/pvm_platform.h).
 *
 * The entry (guest_boot_x86_64.S) identity-maps 0..4 GiB: PML4[0] -> PDPT
 * -> 4 PDs of 2 MiB pages, except the first 2 MiB, which PT0 maps in 4 KiB
 * pages with page 0 absent. Here: the page below the boot stack becomes a
 * guard (not present), so a kernel stack overflow is a #PF delivered on
 * the IST1 trap stack and reported, not a silent corruption of .bss; and
 * EFER.NXE is turned on so page-table entries can forbid execution.
 * (SDM vol. 3A 4.5 "4-level paging"; 4.6 access rights; 4.10.4.1 INVLPG.)
 *
 * PVM windows. PML4 entry 1 (virtual 0x80_0000_0000, NUB_GUEST_VA_BASE)
 * covers 512 GiB, of which the first 4 GiB are the window: PVM address a is
 * virtual address NUB_GUEST_VA_BASE + a. Each address space is its own PDPT
 * (entries 0..3 used) with PDs and 4 KiB PTs allocated on demand from the
 * heap; entering one points PML4[1] at its PDPT and reloads CR3 (the kernel
 * half, PML4[0], is shared). Every entry in the window is NX; intermediate
 * entries are writable and the leaf decides. Frames are kernel (identity
 * mapped) addresses, so a frame's physical address is its pointer. Every
 * CPU has its own PML4 (guest_cpu.pml4; PML4[0], the kernel, points at the
 * same PDPT for all), so each maps the window of the invocation it runs; an
 * address space is entered by one CPU at a time (one invocation), so a
 * change needs an invlpg on that CPU only, no shootdown.
 */
#include "guest/guest.h"
#include "guest/guest_cpu_x86_64.h"
#include "pvm/pvm_platform.h"

extern uint64_t guest_boot_pml4[512];
extern uint64_t guest_boot_pt0[512];
extern char guest_boot_stack_guard[];

#define WINDOW_PML4_INDEX ((unsigned)(NUB_GUEST_VA_BASE >> 39))
/* Bit 63 when the CPU has NX (every x86-64 KVM host and QEMU -cpu max do);
 * 0 otherwise, since bit 63 is then reserved (the window is then executable
 * data, reported at boot, and the mmu_window_all_nx self check fails). */
static uint64_t NX;
/* Window entries are user (U) at every level: compiled PVM code runs in
 * ring 3 (guest_jit.c) and reaches the window and nothing else of the
 * kernel; the kernel (interpreter, host copies) reaches it too (no SMAP). */
#define TABLE_FLAGS ((uint64_t)(X86_PTE_P | X86_PTE_W | X86_PTE_U) | NX)

_Static_assert((NUB_GUEST_VA_BASE & ((1ull << 39) - 1)) == 0 && WINDOW_PML4_INDEX == 1,
               "the window is PML4 entry 1");

struct pvm_plat_as {
	uint64_t *pdpt; /* 4096-aligned; entries 0..3 map the 4 GiB window */
};

static uint64_t window_faults_caught, window_cow_fills; /* atomic adds */

static void unmap_low_4k(uintptr_t gpa)
{
	GUEST_ASSERT(gpa < 0x200000 && (gpa & 4095) == 0);
	guest_boot_pt0[gpa >> 12] = 0;
	invlpg(gpa);
}

void guest_paging_init(void)
{
	unmap_low_4k((uintptr_t)guest_boot_stack_guard);
	uint32_t a, b, c, d;
	cpuid(0x80000001u, &a, &b, &c, &d);
	if (d & (1u << 20)) { /* NX (CPUID.80000001H:EDX[20]) */
		wrmsr(X86_MSR_EFER, rdmsr(X86_MSR_EFER) | X86_EFER_NXE);
		NX = 1ull << X86_PTE_NX_BIT;
	} else {
		guest_log("nub-guest: no NX in CPUID: PVM windows are mapped without execute-disable\n");
	}
	guest_boot_pml4[WINDOW_PML4_INDEX] = 0;
}

void guest_paging_ap_init(void)
{
	if (NX)
		wrmsr(X86_MSR_EFER, rdmsr(X86_MSR_EFER) | X86_EFER_NXE);
}

uint64_t *guest_paging_pml4_new(void)
{
	uint64_t *p = guest_heap_alloc(4096, 4096);
	if (!p)
		return NULL;
	for (unsigned i = 0; i < 512; i++)
		p[i] = i == WINDOW_PML4_INDEX ? 0 : guest_boot_pml4[i];
	return p;
}

static uint64_t *table_of(uint64_t e)
{
	return (uint64_t *)(uintptr_t)(e & X86_PTE_ADDR_MASK);
}

pvm_plat_as *pvm_plat_as_new(void)
{
	pvm_plat_as *as = guest_heap_alloc(sizeof *as, 16);
	if (!as)
		return NULL;
	if (!(as->pdpt = guest_heap_alloc(4096, 4096))) {
		guest_heap_free(as);
		return NULL;
	}
	return as;
}

void pvm_plat_as_free(pvm_plat_as *as)
{
	if (!as)
		return;
	guest_cpu *cpu = guest_cpu_self();
	if (cpu->active == as) {
		cpu->pml4[WINDOW_PML4_INDEX] = 0;
		write_cr3(read_cr3());
		cpu->active = NULL;
	}
	for (unsigned i = 0; i < 4; i++) {
		if (!(as->pdpt[i] & X86_PTE_P))
			continue;
		uint64_t *pd = table_of(as->pdpt[i]);
		for (unsigned j = 0; j < 512; j++)
			if (pd[j] & X86_PTE_P)
				guest_heap_free(table_of(pd[j]));
		guest_heap_free(pd);
	}
	guest_heap_free(as->pdpt);
	guest_heap_free(as);
}

/* The next-level table behind *e, made on demand (NULL: out of memory, or
 * absent and !make). */
static uint64_t *next_table(uint64_t *e, bool make)
{
	if (*e & X86_PTE_P)
		return table_of(*e);
	if (!make)
		return NULL;
	uint64_t *t = guest_heap_alloc(4096, 4096);
	if (t)
		*e = (uint64_t)(uintptr_t)t | TABLE_FLAGS;
	return t;
}

bool pvm_plat_as_set(pvm_plat_as *as, uint32_t a, const void *frame, bool writable)
{
	GUEST_ASSERT((a & 4095u) == 0 && ((uintptr_t)frame & 4095u) == 0);
	uint64_t *pd = next_table(&as->pdpt[a >> 30], frame != NULL);
	uint64_t *pt = pd ? next_table(&pd[(a >> 21) & 511], frame != NULL) : NULL;
	if (!pt)
		return frame == NULL; /* nothing mapped there: unmapping is done */
	pt[(a >> 12) & 511] =
		frame ? (uint64_t)(uintptr_t)frame | X86_PTE_P | X86_PTE_U | (writable ? (uint64_t)X86_PTE_W : 0) | NX
		      : 0;
	if (guest_cpu_self()->active == as)
		invlpg(NUB_GUEST_VA_BASE + a);
	return true;
}

uint8_t *pvm_plat_as_enter(pvm_plat_as *as)
{
	guest_cpu *cpu = guest_cpu_self();
	if (cpu->active != as) {
		cpu->pml4[WINDOW_PML4_INDEX] = (uint64_t)(uintptr_t)as->pdpt | TABLE_FLAGS;
		write_cr3(read_cr3());
		cpu->active = as;
	}
	return (uint8_t *)(uintptr_t)NUB_GUEST_VA_BASE;
}

void pvm_plat_catch_disarm(pvm_plat_catch *c)
{
	guest_cpu *cpu = guest_cpu_self();
	GUEST_ASSERT(cpu->armed == c);
	cpu->armed = NULL;
}

/* Called by the assembly half of pvm_plat_catch_arm once c is filled. */
void guest_catch_armed(pvm_plat_catch *c);
void guest_catch_armed(pvm_plat_catch *c)
{
	guest_cpu *cpu = guest_cpu_self();
	GUEST_ASSERT(!cpu->armed);
	cpu->armed = c;
}

bool guest_paging_window_fault(guest_trap_frame *f, uint64_t cr2)
{
	pvm_plat_catch *armed = guest_cpu_self()->armed;
	if (!armed || f->vector != X86_VEC_PF || (f->error_code & (X86_PF_I | X86_PF_RSVD | X86_PF_U)) ||
	    cr2 < NUB_GUEST_VA_BASE || cr2 - NUB_GUEST_VA_BASE >= (1ull << 32) || f->cs != GUEST_SEL_KCODE)
		return false;
	uint32_t a = (uint32_t)(cr2 - NUB_GUEST_VA_BASE);
	if (pvm_mem_fault(armed->inst, a, (f->error_code & X86_PF_W) != 0)) {
		__atomic_fetch_add(&window_cow_fills, 1, __ATOMIC_RELAXED);
		return true; /* retry the access */
	}
	/* resume at the arm point, which returns 1 (a longjmp through iretq) */
	pvm_plat_catch *c = armed;
	__atomic_fetch_add(&window_faults_caught, 1, __ATOMIC_RELAXED);
	f->rip = c->rip;
	f->rsp = c->rsp;
	f->rbx = c->rbx;
	f->rbp = c->rbp;
	f->r12 = c->r12;
	f->r13 = c->r13;
	f->r14 = c->r14;
	f->r15 = c->r15;
	f->rax = 1;
	return true;
}

uint64_t guest_paging_window_pte(uint32_t a)
{
	pvm_plat_as *active = guest_cpu_self()->active;
	if (!active)
		return 0;
	uint64_t *pd = next_table(&active->pdpt[a >> 30], false);
	uint64_t *pt = pd ? next_table(&pd[(a >> 21) & 511], false) : NULL;
	return pt ? pt[(a >> 12) & 511] : 0;
}

bool guest_paging_window_all_nx(void)
{
	pvm_plat_as *active = guest_cpu_self()->active;
	if (!active)
		return true;
	uint64_t *pdpt = active->pdpt;
	for (unsigned i = 0; i < 512; i++) {
		if (!(pdpt[i] & X86_PTE_P))
			continue;
		if (i >= 4 || !NX || !(pdpt[i] & NX))
			return false;
		uint64_t *pd = table_of(pdpt[i]);
		for (unsigned j = 0; j < 512; j++) {
			if (!(pd[j] & X86_PTE_P))
				continue;
			if ((pd[j] & X86_PTE_PS) || !(pd[j] & NX))
				return false;
			uint64_t *pt = table_of(pd[j]);
			for (unsigned k = 0; k < 512; k++)
				if ((pt[k] & X86_PTE_P) && !(pt[k] & NX))
					return false;
		}
	}
	return true;
}

void guest_paging_stats(uint64_t *faults_caught, uint64_t *cow_fills)
{
	*faults_caught = __atomic_load_n(&window_faults_caught, __ATOMIC_RELAXED);
	*cow_fills = __atomic_load_n(&window_cow_fills, __ATOMIC_RELAXED);
}

_Static_assert(__builtin_offsetof(pvm_plat_catch, rip) == 0 && __builtin_offsetof(pvm_plat_catch, rsp) == 8 &&
                   __builtin_offsetof(pvm_plat_catch, rbx) == 16 && __builtin_offsetof(pvm_plat_catch, rbp) == 24 &&
                   __builtin_offsetof(pvm_plat_catch, r12) == 32 && __builtin_offsetof(pvm_plat_catch, r15) == 56,
               "pvm_plat_catch_arm (guest_boot_x86_64.S) stores at these offsets");
