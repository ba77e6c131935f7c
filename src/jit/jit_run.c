/* jit_run.c: running compiled code: entry, exits, the demand-filled window, faults.
 *
 * The exit rules are the interpreter's (pvm_interp.c): an exit at
 * instruction i leaves pc on i and refunds the part of i's straight-line
 * run that did not execute (seg(i) - 1; i itself stays charged); ecalli
 * resumes at i + 1. A run the remaining gas cannot pay for is handed to
 * pvm_run (checked mode), with the state it would have had.
 *
 * Window (see jit.h): per page one state byte: 0 not filled (inaccessible),
 * 1 filled read-only, 2 filled writable (compared with the table at the end
 * of jit_run, copied back when it differs). Per jit_run: no syscall for a
 * run that touches no memory; else one fault (SIGSEGV) and one mprotect per
 * writable page touched, one fault and two mprotects per read-only page
 * touched. The window stays filled for the next run (of this instance or
 * any other: at entry every filled page is compared with the instance's
 * table, copied where it differs, its access changed where that differs),
 * so repeated runs over the same layout make no syscall; past
 * JIT_STICKY_PAGES filled pages, one mmap at the end empties the window.
 *
 * PVM_MEM_MMU (the guest kernel): no window of the JIT's own. The engine
 * already mirrors the instance's table into its address space
 * (pvm_plat_as_*, read-only while a page is shared), so compiled code runs
 * in that window directly: nothing to fill, reconcile or copy back. A fault
 * the table allows is a write to a shared (copy-on-write) page: the page is
 * made the instance's own (pvm_mem_fault) and the access retried; any other
 * fault ends the run exactly as in-process.
 */
#include "jit_int.h"
#include "pvm/pvm_mem.h"
#include "pvm/pvm_platform.h"

#define N_PAGES (1u << 20)
/* pages a window keeps filled from one run to the next (2 MiB); above it,
 * it is emptied at the end of the run */
#define JIT_STICKY_PAGES 512u

static uintptr_t pte_of(const pvm_instance *m, uint32_t a)
{
	const uintptr_t *leaf = m->l1[a >> 22];
	return leaf ? leaf[(a >> 12) & (PVM_L2_SIZE - 1)] : 0;
}

/* Host calls answered inside the run (jit_vm_set_host): the same fields in
 * both layouts of jit_vm. */
#define JIT_VM_HOST_FIELDS                                                                    \
	jit_host_fn host;                                                                     \
	void *host_ctx;                                                                       \
	bool in_host;     /* inside host(): jit_host_sync / jit_host_wrote allowed */          \
	bool host_synced; /* the table holds what compiled code wrote (this call) */           \
	bool host_wrote;  /* the table changed: reconcile before going on */                   \
	pvm_err host_err; /* a failed sync or reconcile: the run ends with it */

#ifdef PVM_MEM_MMU
struct jit_vm {
	uint8_t *base;  /* every address space's window (pvm_plat_as_enter) */
	const jit_code *code; /* during jit_run */
	pvm_instance *m;
	JIT_VM_HOST_FIELDS
};

jit_err jit_vm_new(jit_vm **out)
{
	*out = 0;
	jit_vm *vm = pvm_plat_alloc(sizeof *vm);
	if (!vm)
		return JIT_E_NOMEM;
	if (!(vm->base = pvm_plat_window_new(JIT_CTX_SIZE, JIT_GUARD_SIZE))) {
		pvm_plat_free(vm, sizeof *vm);
		return JIT_E_PLATFORM;
	}
	*out = vm;
	return JIT_E_OK;
}

void jit_vm_free(jit_vm *vm)
{
	if (!vm)
		return;
	pvm_plat_window_free(vm->base, JIT_CTX_SIZE, JIT_GUARD_SIZE);
	pvm_plat_free(vm, sizeof *vm);
}

/* the instance's address space is the window: enter it */
static bool window_ready(jit_vm *vm, pvm_instance *m)
{
	return (m->win = pvm_plat_as_enter(m->as)) == vm->base;
}
#else
struct jit_vm {
	uint8_t *base;
	uint8_t *state;  /* N_PAGES bytes */
	uint32_t *list;  /* filled pages, n_list of them */
	uint32_t n_list;
	bool broken;     /* the window could not be emptied: refuse to run */
	const jit_code *code; /* during jit_run */
	pvm_instance *m;
	uint32_t charged;  /* pages filled this run, charged to m's budget hook */
	pvm_err fill_err;  /* why the last fill failed */
	JIT_VM_HOST_FIELDS
};

jit_err jit_vm_new(jit_vm **out)
{
	*out = 0;
	jit_vm *vm = pvm_plat_alloc(sizeof *vm);
	if (!vm)
		return JIT_E_NOMEM;
	vm->state = pvm_plat_alloc(N_PAGES);
	vm->list = pvm_plat_alloc(N_PAGES * sizeof(uint32_t));
	if (!vm->state || !vm->list) {
		jit_vm_free(vm);
		return JIT_E_NOMEM;
	}
	vm->base = pvm_plat_window_new(JIT_CTX_SIZE, JIT_GUARD_SIZE);
	if (!vm->base) {
		jit_vm_free(vm);
		return JIT_E_PLATFORM;
	}
	*out = vm;
	return JIT_E_OK;
}

void jit_vm_free(jit_vm *vm)
{
	if (!vm)
		return;
	if (vm->base)
		pvm_plat_window_free(vm->base, JIT_CTX_SIZE, JIT_GUARD_SIZE);
	if (vm->state)
		pvm_plat_free(vm->state, N_PAGES);
	if (vm->list)
		pvm_plat_free(vm->list, N_PAGES * sizeof(uint32_t));
	pvm_plat_free(vm, sizeof *vm);
}

static bool page_differs(const uint8_t *a, const uint8_t *b)
{
	const uint64_t *x = (const uint64_t *)(const void *)a, *y = (const uint64_t *)(const void *)b;
	uint64_t d = 0;
	for (unsigned i = 0; i < 4096 / 8; i++)
		d |= x[i] ^ y[i];
	return d != 0;
}

/* Empty the window: nothing filled. */
static bool window_empty(jit_vm *vm)
{
	for (uint32_t k = 0; k < vm->n_list; k++)
		vm->state[vm->list[k]] = 0;
	vm->n_list = 0;
	if (!pvm_plat_window_reset(vm->base, JIT_GUARD_SIZE)) {
		vm->broken = true;
		return false;
	}
	return true;
}

/* Copy window pages written (differing from the table) back into it;
 * untouched shared pages thus stay shared. */
static pvm_err copy_back(jit_vm *vm, pvm_instance *m)
{
	pvm_err err = PVM_E_OK;
	for (uint32_t k = 0; k < vm->n_list; k++) {
		uint32_t pg = vm->list[k];
		const uint8_t *w = vm->base + ((uint64_t)pg << 12);
		uintptr_t e = pte_of(m, pg << 12);
		if (vm->state[pg] == 2 && e && page_differs(w, (const uint8_t *)(e & ~PVM_PTE_FLAGS))) {
			pvm_err pe = pvm_mem_write(m, pg << 12, w, 4096);
			if (pe != PVM_E_OK && err == PVM_E_OK)
				err = pe;
		}
	}
	return err;
}

/* At the end of a run: copy back. The window stays filled for the next run
 * unless it holds more than JIT_STICKY_PAGES pages. */
static pvm_err sync_back(jit_vm *vm, pvm_instance *m)
{
	/* the run's window pages were charged as filled; what stays written is
	 * charged again by the table as it takes the pages */
	if (vm->charged && m->hook)
		m->hook(m->hook_ctx, -(int64_t)vm->charged);
	vm->charged = 0;
	pvm_err err = copy_back(vm, m);
	if (vm->n_list > JIT_STICKY_PAGES && !window_empty(vm) && err == PVM_E_OK)
		err = PVM_E_NOMEM;
	return err;
}

/* At the start of a run: make every page still filled from an earlier run
 * (of any instance) agree with m's table: contents compared and copied where
 * they differ, access changed where it differs (a syscall only then), pages
 * m does not map emptied. On a failed syscall the window is emptied. */
static bool reconcile(jit_vm *vm, pvm_instance *m)
{
	uint32_t kept = 0;
	for (uint32_t k = 0; k < vm->n_list; k++) {
		uint32_t pg = vm->list[k];
		uint8_t *w = vm->base + ((uint64_t)pg << 12);
		uintptr_t e = pte_of(m, pg << 12);
		uint8_t st = vm->state[pg], want = !(e & PVM_PTE_R) ? 0 : (e & PVM_PTE_WANT_W) ? 2 : 1;
		const uint8_t *src = (const uint8_t *)(e & ~PVM_PTE_FLAGS);
		if (want == 0) {
			if (!pvm_plat_window_protect(w, PVM_ACCESS_NONE))
				goto fail;
			vm->state[pg] = 0;
			continue;
		}
		bool differs = page_differs(w, src);
		if (st == 1 && (differs || want == 2)) {
			if (!pvm_plat_window_protect(w, PVM_ACCESS_RW))
				goto fail;
			st = vm->state[pg] = 2;
		}
		if (differs)
			__builtin_memcpy(w, src, 4096);
		if (st == 2 && want == 1) {
			if (!pvm_plat_window_protect(w, PVM_ACCESS_RO))
				goto fail;
			vm->state[pg] = 1;
		}
		vm->list[kept++] = pg;
	}
	vm->n_list = kept;
	return true;
fail:
	/* the pages already handled and the rest: all emptied */
	for (uint32_t k = 0; k < vm->n_list; k++)
		if (vm->state[vm->list[k]])
			vm->list[kept++] = vm->list[k];
	vm->n_list = kept;
	return window_empty(vm);
}

static bool window_ready(jit_vm *vm, pvm_instance *m)
{
	return !vm->broken && reconcile(vm, m);
}

/* A host call asked for the table: write the window back into it. */
static pvm_err host_copy_back(jit_vm *vm, pvm_instance *m)
{
	/* as at the end of a run: the window pages filled so far are no longer
	 * charged as such; the table charges the pages it takes */
	if (vm->charged && m->hook)
		m->hook(m->hook_ctx, -(int64_t)vm->charged);
	vm->charged = 0;
	return copy_back(vm, m);
}

/* The handler changed the table: bring the window up to date. */
static bool host_reconcile(jit_vm *vm, pvm_instance *m)
{
	return reconcile(vm, m);
}
#endif

#ifdef PVM_MEM_MMU
/* the window is the instance's own memory: nothing to copy either way */
static pvm_err host_copy_back(jit_vm *vm, pvm_instance *m)
{
	(void)vm;
	(void)m;
	return PVM_E_OK;
}

static bool host_reconcile(jit_vm *vm, pvm_instance *m)
{
	(void)vm;
	(void)m;
	return true;
}
#endif

static jit_ctx *ctx_of(jit_vm *vm)
{
	return (jit_ctx *)(void *)(vm->base - JIT_CTX_SIZE);
}

void jit_vm_set_host(jit_vm *vm, jit_host_fn fn, void *ctx)
{
	vm->host = fn;
	vm->host_ctx = ctx;
}

pvm_err jit_host_sync(jit_vm *vm)
{
	if (!vm->in_host || vm->host_synced)
		return PVM_E_OK;
	pvm_err e = host_copy_back(vm, vm->m);
	if (e != PVM_E_OK && vm->host_err == PVM_E_OK)
		vm->host_err = e;
	vm->host_synced = e == PVM_E_OK;
	return e;
}

void jit_host_wrote(jit_vm *vm)
{
	if (vm->in_host)
		vm->host_wrote = true;
}

pvm_exit jit_run(jit_vm *vm, const jit_code *c, pvm_instance *m)
{
	const pvm_program *p = m->prog;
	uint64_t gas = m->gas < 0 ? 0 : (uint64_t)m->gas;
	uint32_t idx = m->resume_idx;
	if (idx == PVM_NO_TARGET)
		idx = pvm_insn_index(p, m->pc);
	/* not an instruction start, or the first run cannot be paid for: the
	 * interpreter's rules apply as they are */
	if (c->prog != p || idx == PVM_NO_TARGET || gas < p->insns[idx].seg)
		return c->prog != p ? (m->exit_arg = PVM_E_NOMEM, PVM_EXIT_ERROR) : pvm_run(m);
	if (!window_ready(vm, m)) {
		m->exit_arg = PVM_E_NOMEM;
		return PVM_EXIT_ERROR;
	}
	m->resume_idx = PVM_NO_TARGET;
	m->exit_arg = 0;
	jit_ctx *ctx = ctx_of(vm);
	__builtin_memcpy(ctx->regs, m->regs, sizeof ctx->regs);
	ctx->gas = gas - p->insns[idx].seg;
	ctx->jt = (uint64_t)(uintptr_t)c->jt_native;
	vm->code = c;
	vm->m = m;
	const uint8_t *target = c->code + c->entry_off[idx];
	uint32_t reason, at;
	ctx->exit_idx = idx; /* what an error before entering reports */
	ctx->exit_arg = PVM_E_NOMEM;
	pvm_err serr = PVM_E_OK;
	for (;;) {
		reason = pvm_plat_jit_call(vm, c->code, vm->base, target);
		at = ctx->exit_idx;
		if (at >= p->n_insns) { /* never from correct compiled code */
			reason = JIT_R_ERROR;
			at = idx;
			ctx->exit_arg = PVM_E_NOMEM;
			break;
		}
		if (reason == JIT_R_SBRK) {
			const pvm_insn *in = &p->insns[at];
			ctx->regs[in->d] = pvm_mem_sbrk(m, (uint32_t)ctx->regs[in->a]); /* as the interpreter: 32 bits */
			target = c->code + c->entry_off[at + 1];
			continue;
		}
		if (reason != JIT_R_HOST || !vm->host)
			break;
		/* a host call answered here: registers in ctx, memory in the
		 * window (the table is brought up to date only if the host asks,
		 * jit_host_sync), the gas as the exit would leave it */
		const pvm_insn *in = &p->insns[at];
		uint64_t g = ctx->gas + in->seg - 1;
		vm->in_host = true;
		vm->host_synced = vm->host_wrote = false;
		vm->host_err = PVM_E_OK;
		bool resume = vm->host(vm->host_ctx, (uint32_t)in->imm, ctx->regs, &g);
		vm->in_host = false;
		if (vm->host_wrote && vm->host_err == PVM_E_OK && !host_reconcile(vm, m))
			vm->host_err = PVM_E_NOMEM;
		if (vm->host_err != PVM_E_OK) {
			serr = vm->host_err;
			ctx->gas = g - in->seg + 1; /* the exit below reports g */
			break;
		}
		uint32_t nx = at + 1;
		if (!resume || g < p->insns[nx].seg) {
			/* stop; or the next run cannot be paid for: exit at the
			 * ecalli with g, resuming after it (the interpreter's
			 * checked run then stops out of gas where it must) */
			ctx->gas = g - in->seg + 1;
			if (resume)
				reason = JIT_R_HOST_RESUME;
			break;
		}
		ctx->gas = g - p->insns[nx].seg;
		target = c->code + c->entry_off[nx];
	}
	vm->code = 0;
	vm->m = 0;
#ifndef PVM_MEM_MMU /* (MMU: the window is the instance's own memory) */
	pvm_err sb = sync_back(vm, m);
	if (serr == PVM_E_OK)
		serr = sb;
#endif
	__builtin_memcpy(m->regs, ctx->regs, sizeof ctx->regs);
	const pvm_insn *in = &p->insns[at];
	if (serr != PVM_E_OK) {
		m->pc = in->pc;
		m->gas = (int64_t)(ctx->gas + in->seg - 1);
		m->exit_arg = serr;
		return PVM_EXIT_ERROR;
	}
	if (reason == JIT_R_NEED_GAS) {
		/* gas was not taken for this run: let the interpreter run it checked */
		m->gas = (int64_t)(ctx->gas + in->seg);
		m->pc = in->pc;
		m->resume_idx = at;
		return pvm_run(m);
	}
	m->pc = in->pc;
	m->gas = (int64_t)(ctx->gas + in->seg - 1);
	if (reason == JIT_R_HOST_RESUME) {
		/* answered, and the gas left cannot pay for what follows: the
		 * interpreter's checked run from the next instruction */
		m->exit_arg = 0;
		m->resume_idx = at + 1;
		return pvm_run(m);
	}
	switch (reason) {
	case JIT_R_HOST:
		m->exit_arg = (uint32_t)in->imm;
		m->resume_idx = at + 1;
		break;
	case JIT_R_PAGE_FAULT:
	case JIT_R_ERROR:
		m->exit_arg = (uint32_t)ctx->exit_arg;
		break;
	default:
		break;
	}
	return (pvm_exit)reason;
}

/* ---- faults -------------------------------------------------------------- */

static const uint8_t access_size[PVM_I_COUNT] = {
	[PVM_I_store_imm_u8] = 1, [PVM_I_store_imm_u16] = 2, [PVM_I_store_imm_u32] = 4, [PVM_I_store_imm_u64] = 8,
	[PVM_I_load_u8] = 1, [PVM_I_load_i8] = 1, [PVM_I_load_u16] = 2, [PVM_I_load_i16] = 2,
	[PVM_I_load_u32] = 4, [PVM_I_load_i32] = 4, [PVM_I_load_u64] = 8,
	[PVM_I_store_u8] = 1, [PVM_I_store_u16] = 2, [PVM_I_store_u32] = 4, [PVM_I_store_u64] = 8,
	[PVM_I_store_imm_ind_u8] = 1, [PVM_I_store_imm_ind_u16] = 2, [PVM_I_store_imm_ind_u32] = 4,
	[PVM_I_store_imm_ind_u64] = 8,
	[PVM_I_store_ind_u8] = 1, [PVM_I_store_ind_u16] = 2, [PVM_I_store_ind_u32] = 4, [PVM_I_store_ind_u64] = 8,
	[PVM_I_load_ind_u8] = 1, [PVM_I_load_ind_i8] = 1, [PVM_I_load_ind_u16] = 2, [PVM_I_load_ind_i16] = 2,
	[PVM_I_load_ind_u32] = 4, [PVM_I_load_ind_i32] = 4, [PVM_I_load_ind_u64] = 8,
};

/* The PVM address the access of memory instruction `in` uses, from the
 * registers at the fault (the instruction did not complete: its base
 * register still holds what it had; jit_compile.c's memory emitters). */
static uint32_t access_addr(const pvm_insn *in, const uint64_t g[16])
{
	switch (pvm_op_info[in->opi].fmt) {
	case PVM_FMT_IMM2: /* store_imm_*: [imm2] = imm */
		return (uint32_t)in->imm2;
	case PVM_FMT_REG_IMM: /* load_* / store_*: [imm] */
		return (uint32_t)in->imm;
	case PVM_FMT_REG_IMM2: /* store_imm_ind_*: [a + imm2] = imm */
		return (uint32_t)(g[jit_regmap[in->a]] + in->imm2);
	default: /* load_ind_* / store_ind_*: [b + imm] */
		return (uint32_t)(g[jit_regmap[in->b]] + in->imm);
	}
}

#ifndef PVM_MEM_MMU
/* Fill page pg (table entry e) from the table. A page the program may
 * write is filled writable at once (state 2), whatever the access that
 * faulted: it is compared with the table at the end and copied back only
 * when it differs (so the stack, read before written, costs one fault). A
 * read-only page is filled writable for the copy, then made read-only. */
/* A window page is host memory however the program uses it: it is charged
 * to the instance's budget hook when filled (until the end of the run). */
static bool fill(jit_vm *vm, uint32_t pg, uintptr_t e)
{
	uint8_t *w = vm->base + ((uint64_t)pg << 12);
	uint8_t want = (e & PVM_PTE_WANT_W) ? 2 : 1;
	pvm_instance *m = vm->m;
	if (m->hook && !m->hook(m->hook_ctx, 1)) {
		vm->fill_err = PVM_E_MEM_BUDGET;
		return false;
	}
	vm->charged++;
	vm->fill_err = PVM_E_NOMEM;
	if (!pvm_plat_window_protect(w, PVM_ACCESS_RW))
		return false;
	__builtin_memcpy(w, (const void *)(e & ~PVM_PTE_FLAGS), 4096);
	vm->list[vm->n_list++] = pg;
	vm->state[pg] = 2;
	if (want == 1) {
		if (!pvm_plat_window_protect(w, PVM_ACCESS_RO))
			return false; /* stays 2: compared and copied back as is */
		vm->state[pg] = 1;
	}
	return true;
}
#endif

bool pvm_jit_fault(void *run, uintptr_t addr, uint64_t g[16], uint64_t *rip)
{
	jit_vm *vm = run;
	const jit_code *c = vm->code;
	if (!c)
		return false;
	uintptr_t code = (uintptr_t)c->code, base = (uintptr_t)vm->base;
	if (*rip < code || *rip >= code + c->code_len || addr < base ||
	    addr - base >= ((uint64_t)1 << 32) + JIT_GUARD_SIZE)
		return false;
	/* the instruction whose body holds rip: last i with body_off[i] <= off */
	const pvm_program *p = c->prog;
	uint32_t off = (uint32_t)(*rip - code), lo = 0, hi = p->n_insns;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (c->body_off[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	const pvm_insn *in = &p->insns[lo];
	unsigned n = access_size[in->opi];
	if (!n)
		return false;
	bool write = (pvm_op_info[in->opi].flags & PVM_F_STORE) != 0;
	uint32_t a = access_addr(in, g);
	jit_ctx *ctx = ctx_of(vm);
	uint32_t reason;
	/* the interpreter's check (pvm_mem.c): any byte below 0x10000 panics,
	 * else the lowest page that does not allow the access faults */
	for (unsigned i = 0; i < n; i++)
		if ((uint32_t)(a + i) < PVM_ZONE_SIZE) {
			reason = JIT_R_PANIC;
			goto stop;
		}
	uintptr_t need = write ? (PVM_PTE_R | PVM_PTE_WANT_W) : PVM_PTE_R;
	uint32_t p0 = a & ~4095u, p1 = (uint32_t)(a + n - 1) & ~4095u;
	uintptr_t e0 = pte_of(vm->m, p0), e1 = pte_of(vm->m, p1);
	bool bad0 = (e0 & need) != need, bad1 = (e1 & need) != need;
	if (bad0 || bad1) {
		uint32_t fault = bad0 && bad1 ? (p0 < p1 ? p0 : p1) : bad0 ? p0 : p1;
		reason = JIT_R_PAGE_FAULT;
		ctx->exit_arg = fault;
		goto stop;
	}
	bool changed = false;
#ifdef PVM_MEM_MMU
	/* allowed: the window maps every page the table allows, read-only
	 * while shared, so this is a write to a shared page: make it the
	 * instance's own and retry */
	if (write && (e0 & PVM_PTE_SHARED)) {
		if (!pvm_mem_fault(vm->m, p0, true))
			goto mmu_error;
		changed = true;
	}
	if (write && p1 != p0 && (e1 & PVM_PTE_SHARED)) {
		if (!pvm_mem_fault(vm->m, p1, true))
			goto mmu_error;
		changed = true;
	}
	return changed; /* nothing to copy: not a fault we understand */
mmu_error:
	reason = JIT_R_ERROR;
	ctx->exit_arg = vm->m->exit_arg; /* pvm_mem_fault's pvm_err */
	goto stop;
#else
	/* allowed: fill what is missing and retry (a filled page is never
	 * less accessible than the access allowed here) */
	if (vm->state[p0 >> 12] == 0) {
		if (!fill(vm, p0 >> 12, e0))
			goto error;
		changed = true;
	}
	if (p1 != p0 && vm->state[p1 >> 12] == 0) {
		if (!fill(vm, p1 >> 12, e1))
			goto error;
		changed = true;
	}
	return changed; /* nothing to fill: not a fault we understand */
error:
	reason = JIT_R_ERROR;
	ctx->exit_arg = vm->fill_err;
#endif
stop:
	ctx->exit_idx = lo;
	g[0] = reason;
	*rip = code + c->exit_off;
	return true;
}
