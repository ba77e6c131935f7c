/* guest_jit.c: the JIT's platform services in the guest kernel: code pages, run context, ring 3, faults.
 *
 * The JIT (src/jit/, built with -DPVM_MEM_MMU) runs compiled code directly
 * in the invocation's own address space (the PVM window of guest_paging.c,
 * already mirrored from the engine's table): no window of its own, no
 * demand fill. This file gives it, behind src/pvm/pvm_platform.h:
 *
 * - Code and read-only data (pvm_plat_code_new, pvm_plat_rodata_new): the
 *   bytes are copied into heap frames through the kernel's identity map,
 *   then the frames are mapped a second time in the code region (PML4
 *   entry 2, virtual CODE_VA + physical address): user, never writable;
 *   code executable, data NX. Compiled code only ever runs from that
 *   mapping (ring 3 cannot reach the identity map: it is supervisor-only),
 *   so no page is both writable and executable for it. The page tables of
 *   the region come from the heap and go back to it when their last page
 *   is unmapped (HEAP_STATS returns to its figures after EVICT_JIT_ALL).
 * - The run context page and a ring-3 stack page per CPU, mapped user, NX,
 *   just below the window (CTX_VA = window - 4 KiB, stack below it) in
 *   PML4 entry 0, whose other entries (the identity map) stay
 *   supervisor-only. Every CPU maps its own two pages at the same
 *   addresses: an application processor's PML4[0] is a copy of the BSP's
 *   PDPT (the identity map's PDs shared) whose last entry leads to its own
 *   pages (guest_jit_cpu_prepare), and it has its own jit_vm.
 * - Ring 3 (pvm_plat_jit_call): SYSRET into the compiled code's trampoline
 *   with the exit gate (a user page holding `syscall`) as its return
 *   address; SYSCALL back (guest_jit_x86_64.S).
 * - Faults: a #PF in ring 3 while compiled code runs goes to pvm_jit_fault
 *   (src/jit/jit_run.c): a copy-on-write fill and retry, or the run's exit
 *   with the interpreter's exact pc, gas and fault address. Any other
 *   fault in ring 3 is reported like a kernel fault (fatal).
 * - The engine ops the invocation core (cap_core) runs with when the host
 *   selects the JIT (NUB_FN_ID_SET_ENGINE).
 */
#include "cap/cap_core.h"
#include "guest/guest.h"
#include "guest/guest_cpu_x86_64.h"
#include "jit/jit.h"
#include "pvm/pvm_platform.h"

#define CODE_PML4_INDEX 2u
#define CODE_VA ((uint64_t)CODE_PML4_INDEX << 39) /* 0x100_0000_0000 + physical address */
#define CTX_VA (NUB_GUEST_VA_BASE - 4096u)         /* 0x7F_FFFF_F000: the run context */
#define STACK_VA (CTX_VA - 4096u)                  /* the ring-3 stack page */
#define NX_BIT (1ull << X86_PTE_NX_BIT)
#define TABLE_U ((uint64_t)(X86_PTE_P | X86_PTE_W | X86_PTE_U))

_Static_assert((CTX_VA >> 39) == 0 && ((CTX_VA >> 30) & 511) == 511 && ((CTX_VA >> 21) & 511) == 511 &&
                   ((CTX_VA >> 12) & 511) == 511 && ((STACK_VA >> 12) & 511) == 510,
               "the context and stack pages are the last two of PML4 entry 0");

extern uint64_t guest_boot_pml4[512];
extern uint64_t guest_boot_pdpt[512];
extern char guest_jit_syscall[];
extern const char guest_jit_gate[], guest_jit_gate_ret[], guest_jit_gate_end[];
uint32_t guest_jit_enter(const void *entry, uint8_t *base, const void *target, uint64_t user_rsp);
__attribute__((noreturn)) void guest_jit_bad_syscall(uint64_t rcx);

static uint64_t code_pdpt[512] __attribute__((aligned(4096)));
static uint64_t low_pd[512] __attribute__((aligned(4096)));   /* PML4[0] PDPT[511] */
static uint64_t low_pt[512] __attribute__((aligned(4096)));   /* its PD[511] */
static uint8_t cpu0_ctx[4096] __attribute__((aligned(4096)));
static uint8_t cpu0_stack[4096] __attribute__((aligned(4096)));
static uint64_t gate_va;      /* the exit gate (`syscall`) in the code region */
static uint64_t nx_bit;       /* NX_BIT when the CPU has NX */
static bool jit_ready;
static guest_jit_stats stats;
/* The code region's tables are shared by every CPU: changes under this
 * lock. Unmapping bumps region_gen; a CPU flushes its TLB (and paging-
 * structure caches) before it next enters compiled code when the
 * generation moved (pvm_plat_jit_call), so no CPU walks a freed table or
 * keeps a stale entry. Code is freed only when no CPU runs it (the core's
 * program references), and compiled code addresses nothing in the region
 * but the code it was entered with, so flushing at entry is enough. */
static guest_spinlock region_lock;
static uint64_t region_gen;

static uint64_t *table_of(uint64_t e)
{
	return (uint64_t *)(uintptr_t)(e & X86_PTE_ADDR_MASK);
}

/* ---- the code region ------------------------------------------------------ */

/* Map (leaf != 0) or unmap (leaf == 0) the code-region page of physical
 * page `phys`; unmapping frees tables left empty. False: out of memory. */
static bool code_map(uint64_t phys, uint64_t leaf)
{
	uint64_t *pde_slot = &code_pdpt[(phys >> 30) & 511];
	if (!(*pde_slot & X86_PTE_P)) {
		if (!leaf)
			return true;
		uint64_t *pd = guest_heap_alloc(4096, 4096);
		if (!pd)
			return false;
		*pde_slot = (uint64_t)(uintptr_t)pd | TABLE_U;
	}
	uint64_t *pd = table_of(*pde_slot);
	uint64_t *pte_slot = &pd[(phys >> 21) & 511];
	if (!(*pte_slot & X86_PTE_P)) {
		if (!leaf)
			return true;
		uint64_t *pt = guest_heap_alloc(4096, 4096);
		if (!pt)
			return false;
		*pte_slot = (uint64_t)(uintptr_t)pt | TABLE_U;
	}
	uint64_t *pt = table_of(*pte_slot);
	pt[(phys >> 12) & 511] = leaf;
	invlpg(CODE_VA + phys);
	if (leaf)
		return true;
	for (unsigned i = 0; i < 512; i++)
		if (pt[i])
			return true;
	*pte_slot = 0;
	guest_heap_free(pt);
	for (unsigned i = 0; i < 512; i++)
		if (pd[i])
			return true;
	*pde_slot = 0;
	guest_heap_free(pd);
	return true;
}

static size_t pages_of(size_t len)
{
	return (len ? len + 4095 : 4096) / 4096;
}

static void region_free(void *va, size_t len)
{
	if (!va)
		return;
	uint64_t phys = (uint64_t)(uintptr_t)va - CODE_VA;
	guest_spin_lock(&region_lock);
	for (size_t i = 0; i < pages_of(len); i++)
		code_map(phys + i * 4096, 0); /* invlpg: this CPU's TLB and paging-structure caches */
	__atomic_add_fetch(&region_gen, 1, __ATOMIC_RELEASE); /* the other CPUs' */
	stats.region_bytes -= pages_of(len) * 4096;
	guest_spin_unlock(&region_lock);
	guest_heap_free((void *)(uintptr_t)phys);
}

/* A copy of len bytes mapped user, read-only, executable or NX. */
static void *region_new(const void *bytes, size_t len, bool exec)
{
	size_t n = pages_of(len);
	uint8_t *frames = guest_heap_alloc(n * 4096, 4096);
	if (!frames)
		return NULL;
	memcpy(frames, bytes, len);
	uint64_t phys = (uint64_t)(uintptr_t)frames;
	guest_spin_lock(&region_lock);
	for (size_t i = 0; i < n; i++) {
		if (!code_map(phys + i * 4096, (phys + i * 4096) | X86_PTE_P | X86_PTE_U | (exec ? 0 : nx_bit))) {
			for (size_t j = 0; j < i; j++)
				code_map(phys + j * 4096, 0);
			__atomic_add_fetch(&region_gen, 1, __ATOMIC_RELEASE);
			guest_spin_unlock(&region_lock);
			guest_heap_free(frames);
			return NULL;
		}
	}
	stats.region_bytes += n * 4096;
	guest_spin_unlock(&region_lock);
	return (void *)(uintptr_t)(CODE_VA + phys);
}

void *pvm_plat_code_new(const void *code, size_t len)
{
	return jit_ready ? region_new(code, len, true) : NULL;
}

void pvm_plat_code_free(void *code, size_t len)
{
	region_free(code, len);
}

void *pvm_plat_rodata_new(const void *data, size_t len)
{
	return jit_ready ? region_new(data, len, false) : NULL;
}

void pvm_plat_rodata_free(void *data, size_t len)
{
	region_free(data, len);
}

/* ---- the run context and ring 3 ------------------------------------------- */

uint8_t *pvm_plat_window_new(size_t ctx_size, size_t guard_size)
{
	/* the context page is mapped at boot; the guard is the rest of PML4
	 * entry 1 (not present past the 4 GiB window) */
	if (!jit_ready || ctx_size != 4096 || guard_size > (1ull << 39) - (1ull << 32))
		return NULL;
	return (uint8_t *)(uintptr_t)NUB_GUEST_VA_BASE;
}

void pvm_plat_window_free(uint8_t *base, size_t ctx_size, size_t guard_size)
{
	(void)base;
	(void)ctx_size;
	(void)guard_size;
}

uint32_t pvm_plat_jit_call(void *run, const void *entry, uint8_t *base, const void *target)
{
	guest_cpu *c = guest_cpu_self();
	GUEST_ASSERT(!c->jit_run && c->jit_stack_page); /* this CPU's pages below the window */
	uint64_t gen = __atomic_load_n(&region_gen, __ATOMIC_ACQUIRE);
	if (c->code_gen != gen) { /* the code region lost pages since we last ran code */
		write_cr3(read_cr3());
		c->code_gen = gen;
	}
	/* the trampoline's final ret pops the gate's address */
	uint64_t *top = (uint64_t *)(void *)(c->jit_stack_page + 4096 - 8);
	*top = gate_va;
	c->jit_run = run;
	__atomic_add_fetch(&stats.entries, 1, __ATOMIC_RELAXED);
	uint32_t r = guest_jit_enter(entry, base, target, STACK_VA + 4096 - 8);
	c->jit_run = NULL;
	return r;
}

void guest_jit_bad_syscall(uint64_t rcx)
{
	guest_log("nub-guest: SYSCALL from 0x%llx, not the JIT's exit gate 0x%llx\n", (unsigned long long)rcx,
	          (unsigned long long)guest_cpu_self()->gate_ret);
	guest_panic(__FILE__, __LINE__, "syscall outside the exit gate");
}

bool guest_jit_trap(guest_trap_frame *f, uint64_t cr2)
{
	if ((f->cs & 3) != 3)
		return false;
	guest_cpu *c = guest_cpu_self();
	if (!c->jit_run || f->vector != X86_VEC_PF || (f->error_code & (X86_PF_I | X86_PF_RSVD)))
		return false;
	uint64_t g[16] = {f->rax, f->rcx, f->rdx, f->rbx, f->rsp, f->rbp, f->rsi, f->rdi,
	                  f->r8,  f->r9,  f->r10, f->r11, f->r12, f->r13, f->r14, f->r15};
	uint64_t rip = f->rip;
	if (!pvm_jit_fault(c->jit_run, (uintptr_t)cr2, g, &rip))
		return false;
	if (rip == f->rip)
		__atomic_add_fetch(&stats.cow_fills, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&stats.exits, 1, __ATOMIC_RELAXED);
	f->rax = g[0];
	f->rip = rip;
	return true;
}

void guest_jit_get_stats(guest_jit_stats *out)
{
	*out = stats;
}

/* ---- boot ----------------------------------------------------------------- */

static bool cpu_has(uint32_t leaf, unsigned reg, unsigned bit)
{
	uint32_t r[4];
	cpuid(leaf & 0x80000000u, &r[0], &r[1], &r[2], &r[3]);
	if (r[0] < leaf)
		return false;
	cpuid(leaf, &r[0], &r[1], &r[2], &r[3]);
	return (r[reg] >> bit) & 1;
}

/* What every CPU sets for itself: SMEP when the CPU has it, SYSCALL/SYSRET,
 * the FS base. */
static void cpu_enable(void)
{
	if (cpu_has(7, 1, 7)) { /* SMEP (CPUID.(EAX=7):EBX[7]): ring 0 never runs user pages */
		uint64_t cr4;
		__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | X86_CR4_SMEP) : "memory");
	}
	/* SYSCALL/SYSRET (selectors: guest_cpu_x86_64.h) */
	wrmsr(X86_MSR_STAR, ((uint64_t)GUEST_SEL_KDATA << 48) | ((uint64_t)GUEST_SEL_KCODE << 32));
	wrmsr(X86_MSR_LSTAR, (uint64_t)(uintptr_t)guest_jit_syscall);
	wrmsr(X86_MSR_FMASK, X86_RFLAGS_SYSCALL_MASK);
	wrmsr(X86_MSR_EFER, rdmsr(X86_MSR_EFER) | X86_EFER_SCE);
	/* compiled code addresses the window (the same address on every CPU)
	 * and its context through FS (pvm_plat_jit_segment); FS is null and
	 * nothing reloads it, so the base stays */
	wrmsr(X86_MSR_FS_BASE, NUB_GUEST_VA_BASE);
}

unsigned pvm_plat_jit_segment(void)
{
	return 0x64; /* FS: the kernel's per-CPU data is GS */
}

void guest_jit_init(void)
{
	guest_cpu *c = &guest_cpus[0];
	if (!cpu_has(0x80000001u, 3, 11)) { /* SYSCALL/SYSRET in long mode (CPUID.80000001H:EDX[11]) */
		guest_log("nub-guest: no SYSCALL in CPUID: the JIT is not available\n");
		return;
	}
	nx_bit = cpu_has(0x80000001u, 3, 20) ? NX_BIT : 0;
	/* the code region, and the context and stack pages below the window */
	guest_boot_pml4[CODE_PML4_INDEX] = (uint64_t)(uintptr_t)code_pdpt | TABLE_U;
	c->jit_ctx_page = cpu0_ctx;
	c->jit_stack_page = cpu0_stack;
	low_pt[(CTX_VA >> 12) & 511] = (uint64_t)(uintptr_t)cpu0_ctx | TABLE_U | nx_bit;
	low_pt[(STACK_VA >> 12) & 511] = (uint64_t)(uintptr_t)cpu0_stack | TABLE_U | nx_bit;
	low_pd[511] = (uint64_t)(uintptr_t)low_pt | TABLE_U;
	guest_boot_pdpt[511] = (uint64_t)(uintptr_t)low_pd | TABLE_U;
	guest_boot_pml4[0] |= X86_PTE_U; /* the identity map's own entries stay supervisor */
	write_cr3(read_cr3());
	cpu_enable();
	jit_ready = true;
	void *g = region_new(guest_jit_gate, (size_t)(guest_jit_gate_end - guest_jit_gate), true);
	jit_vm *vm = NULL;
	if (!g || jit_vm_new(&vm) != JIT_E_OK) {
		guest_log("nub-guest: the JIT's gate or run state could not be made: the JIT is not available\n");
		jit_ready = false;
		return;
	}
	gate_va = (uint64_t)(uintptr_t)g;
	c->gate_ret = gate_va + (uint64_t)(guest_jit_gate_ret - guest_jit_gate);
	c->jit_vm = vm;
}

bool guest_jit_available(void)
{
	return jit_ready;
}

bool guest_jit_cpu_prepare(guest_cpu *c)
{
	if (!jit_ready)
		return true;
	uint64_t *pdpt = guest_heap_alloc(4096, 4096), *pd = guest_heap_alloc(4096, 4096);
	uint64_t *pt = guest_heap_alloc(4096, 4096);
	uint8_t *ctx = guest_heap_alloc(4096, 4096), *stack = guest_heap_alloc(4096, 4096);
	jit_vm *vm = NULL;
	if (!pdpt || !pd || !pt || !ctx || !stack || jit_vm_new(&vm) != JIT_E_OK) {
		guest_heap_free(pdpt);
		guest_heap_free(pd);
		guest_heap_free(pt);
		guest_heap_free(ctx);
		guest_heap_free(stack);
		return false;
	}
	memcpy(pdpt, guest_boot_pdpt, 4096); /* the identity map's PDs: shared */
	memset(pd, 0, 4096);
	memset(pt, 0, 4096);
	memset(ctx, 0, 4096);
	memset(stack, 0, 4096);
	pt[(CTX_VA >> 12) & 511] = (uint64_t)(uintptr_t)ctx | TABLE_U | nx_bit;
	pt[(STACK_VA >> 12) & 511] = (uint64_t)(uintptr_t)stack | TABLE_U | nx_bit;
	pd[511] = (uint64_t)(uintptr_t)pt | TABLE_U;
	pdpt[511] = (uint64_t)(uintptr_t)pd | TABLE_U;
	c->pml4[0] = (guest_boot_pml4[0] & ~X86_PTE_ADDR_MASK) | (uint64_t)(uintptr_t)pdpt;
	c->pml4[CODE_PML4_INDEX] = guest_boot_pml4[CODE_PML4_INDEX];
	c->jit_ctx_page = ctx;
	c->jit_stack_page = stack;
	c->jit_vm = vm;
	c->gate_ret = guest_cpus[0].gate_ret;
	return true;
}

void guest_jit_cpu_init(void)
{
	if (jit_ready)
		cpu_enable();
}

/* ---- the engine the invocation core runs ------------------------------------ */

static nub_err compile_op(const pvm_program *p, void **code, size_t *bytes)
{
	jit_code *jc;
	jit_err je = jit_compile(p, &jc);
	if (je != JIT_E_OK)
		return je == JIT_E_NOMEM ? NUB_E_NOMEM : NUB_E_JIT;
	*code = jc;
	*bytes = jit_code_size(jc);
	return NUB_E_OK;
}

static void free_op(void *code)
{
	jit_code_free(code);
}

static pvm_exit run_op(void *vm, const void *code, pvm_instance *m)
{
	(void)vm; /* the guest's core passes none: each CPU has its own */
	return jit_run(guest_cpu_self()->jit_vm, code, m);
}

const cap_engine_ops guest_jit_engine = {compile_op, free_op, run_op};
