/* jit_compile.c: the single-pass PVM -> x86-64 compiler, driven by the instruction table.
 *
 * One walk over the decoded program (pvm_insn.h); every instruction is
 * compiled by its entry of emit_table[], generated from pvm_opcodes.h (a
 * missing emitter does not compile). Layout:
 *   entry trampoline, common exit, then every instruction in code order,
 *   then the exit stubs collected on the way (cold code).
 * Register map: PVM r0..r12 live in host registers for the whole run (see
 * jit_regmap); rax is the scratch register; r15 holds the gas counter.
 * Memory: the window base is the base of a segment register (the platform's
 * pvm_plat_jit_segment: GS in-process, FS in the guest kernel), so every
 * PVM access is one instruction, `mov r, seg:[e<b> + imm]` with the
 * address-size prefix 0x67 (the address wraps mod 2^32 exactly as the
 * PVM's), or `seg:[imm32]` for an absolute address; the fault handler
 * recomputes the PVM address from the instruction's registers. The run
 * context (jit_ctx) sits just below the window: `seg:[disp32]` with a
 * negative disp (64-bit address size).
 * Gas: an instruction that follows a terminator (or index 0) starts a run
 * and charges the run's whole length (pvm_insn.seg) with one
 * `sub r15, seg; jb need_gas` (a fused pair): exactly the interpreter's
 * rule. The entry loads r15 from ctx.gas and the common exit stores it
 * back. A stop inside a run is refunded by the caller (seg - 1), as the
 * interpreter does.
 */
#include "jit_int.h"
#include "jit_x86_64_emit.h"

#include "pvm/pvm_platform.h"

static const char *const jit_errmsg[JIT_E_MAX_] = {
#define JIT_ERR_MSG(name, msg) msg,
	JIT_ERRORS(JIT_ERR_MSG)
#undef JIT_ERR_MSG
};

const char *jit_strerror(jit_err e)
{
	return (unsigned)e < JIT_E_MAX_ ? jit_errmsg[e] : "jit: unknown error";
}

const uint8_t jit_regmap[PVM_NUM_REGS] = {
	X_RBX, X_RSI, X_RDI, X_RBP, X_RCX, X_RDX, X_R8, X_R9, X_R10, X_R11, X_R12, X_R13, X_R14,
};
#define regmap(i) ((x86_reg)jit_regmap[i])
#define TMP X_RAX
#define GAS X_R15
/* the run context: seg:[offset - JIT_CTX_SIZE] */
#define CTX(field) x86_seg_abs(pvm_plat_jit_segment(), (int32_t)__builtin_offsetof(jit_ctx, field) - JIT_CTX_SIZE)
/* the spill slot (rdx around div / mul-high, the jump table): the host
 * stack's top, reserved by the entry. [rsp + 0] rather than a context
 * field: a store and the load of the same [rsp + disp] are forwarded at
 * no latency (memory renaming on AMD Zen); through seg:[disp32] the rdx
 * round trips around every mul chained at store-forwarding latency
 * (ed25519 +15 % wall time) */
#define SPILL x86_m(X_RSP, 0)
#define CTX_REG(i)                                                                                                     \
	x86_seg_abs(pvm_plat_jit_segment(), (int32_t)(__builtin_offsetof(jit_ctx, regs) + 8 * (i)) - JIT_CTX_SIZE)

typedef struct {
	uint32_t pos;    /* rel32 to patch */
	uint32_t target; /* insn index (branch) or stub: idx */
	uint32_t reason; /* stubs only */
} fixup;

typedef struct {
	fixup *v;
	size_t n, cap;
} fixups;

/* The compiler context: the first error sticks (a.error for the encoder,
 * err for the rest); checked once at the end. */
typedef struct {
	x86_asm a;
	const pvm_program *p;
	uint32_t idx;
	uint32_t *start_off, *body_off;
	fixups branches, stubs;
	fixups mids; /* later instructions of fused groups (target = index) */
	unsigned seg; /* the window's segment prefix (pvm_plat_jit_segment) */
	fixups traps; /* traps compiled as run_trap (target = index) */
	bool bmi2;   /* mulx */
	uint32_t shared[JIT_R_SBRK + 1]; /* per reason: exit at the index in eax */
	uint32_t trap_run;    /* a trap starting a run, index in eax: charge 1, panic */
	uint32_t entry_panic; /* entered at such a trap: panic at ctx.exit_idx */
	jit_err err;
} jit_cc;

static void fix_add(jit_cc *c, fixups *f, size_t pos, uint32_t target, uint32_t reason)
{
	if (c->err || c->a.error)
		return;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 32;
		fixup *v = pvm_plat_alloc(cap * sizeof *v);
		if (!v) {
			c->err = JIT_E_NOMEM;
			return;
		}
		if (f->v) {
			__builtin_memcpy(v, f->v, f->n * sizeof *v);
			pvm_plat_free(f->v, f->cap * sizeof *v);
		}
		f->v = v;
		f->cap = cap;
	}
	f->v[f->n++] = (fixup){(uint32_t)pos, target, reason};
}

static void fix_free(fixups *f)
{
	if (f->v)
		pvm_plat_free(f->v, f->cap * sizeof *f->v);
}

/* ---- exits and branches ------------------------------------------------- */

/* exit at this instruction: eax = idx, then the reason's shared stub
 * (always: right here, 10 bytes; cc: from a cold stub of 10 bytes after
 * the code) */
static void exit_if(jit_cc *c, int cc, uint32_t reason)
{
	if (cc < 0) {
		x86_mov_imm(&c->a, TMP, c->idx);
		x86_patch_rel32(&c->a, x86_jmp32(&c->a), c->shared[reason]);
		return;
	}
	fix_add(c, &c->stubs, x86_jcc32(&c->a, (x86_cc)cc), c->idx, reason);
}

/* jump (cc < 0: always) to the entry of instruction t; an invalid target
 * panics here (GP: only when taken) */
static void jump_to(jit_cc *c, int cc, uint32_t t)
{
	if (t == PVM_NO_TARGET || t >= c->p->n_insns) {
		exit_if(c, cc, JIT_R_PANIC);
		return;
	}
	if (cc < 0 && t == c->idx + 1)
		return; /* callers jump last: the target's entry follows right here */
	size_t pos = cc < 0 ? x86_jmp32(&c->a) : x86_jcc32(&c->a, (x86_cc)cc);
	fix_add(c, &c->branches, pos, t, 0);
}

static bool fits_s32(uint64_t v)
{
	return (int64_t)v >= INT32_MIN && (int64_t)v <= INT32_MAX;
}

/* x86 register of PVM register i */
#define R(i) regmap(i)

/* the operands' values as an r/m for an op with imm: imm must fit an
 * imm32; if not (never for the 0.7.2 formats), it goes through rax. */
static void need_s32(jit_cc *c, uint64_t v)
{
	if (!fits_s32(v) && !c->err)
		c->err = JIT_E_ENCODE;
}

/* ---- generic shapes ----------------------------------------------------- */

typedef void rr_fn(x86_asm *a, x86_width w, unsigned ext, x86_reg d, x86_reg s);

static void imul_fn(x86_asm *a, x86_width w, unsigned ext, x86_reg d, x86_reg s)
{
	(void)ext;
	x86_imul_rr(a, w, d, s);
}

static void sext32(jit_cc *c, x86_reg d)
{
	x86_movsx(&c->a, X_W32, d, x86_r(d));
}

/* d = x op y (w 32: then sign-extend the low 32 bits) */
static void bin(jit_cc *c, x86_width w, rr_fn *op, unsigned ext, bool commutative, x86_reg d, x86_reg x, x86_reg y)
{
	if (d == y && d != x) {
		if (commutative) {
			op(&c->a, w, ext, d, x);
		} else {
			x86_mov_rr(&c->a, X_W64, TMP, x);
			op(&c->a, w, ext, TMP, y);
			x86_mov_rr(&c->a, X_W64, d, TMP);
		}
	} else {
		if (d != x)
			x86_mov_rr(&c->a, X_W64, d, x);
		op(&c->a, w, ext, d, y);
	}
	if (w == X_W32)
		sext32(c, d);
}

/* d = x op imm (ALU), imm a sign-extended 32-bit value */
static void bin_imm(jit_cc *c, x86_width w, unsigned ext, x86_reg d, x86_reg x, uint64_t imm)
{
	need_s32(c, imm);
	if (d != x)
		x86_mov_rr(&c->a, X_W64, d, x);
	x86_alu_mi(&c->a, w, ext, x86_r(d), (int32_t)imm);
	if (w == X_W32)
		sext32(c, d);
}

/* rax = rax shift-by (count & mask): count in cl for the instruction */
static void shift_rax_by(jit_cc *c, x86_width w, unsigned ext, x86_reg count)
{
	if (count != X_RCX)
		x86_xchg(&c->a, X_RCX, count);
	x86_shift_cl(&c->a, w, ext, TMP);
	if (count != X_RCX)
		x86_xchg(&c->a, X_RCX, count);
}

/* d = x shift y (registers) */
static void shift_rr(jit_cc *c, x86_width w, unsigned ext, x86_reg d, x86_reg x, x86_reg y)
{
	x86_mov_rr(&c->a, X_W64, TMP, x);
	shift_rax_by(c, w, ext, y);
	if (w == X_W32)
		x86_movsx(&c->a, X_W32, d, x86_r(TMP));
	else
		x86_mov_rr(&c->a, X_W64, d, TMP);
}

/* d = imm shift y */
static void shift_alt(jit_cc *c, x86_width w, unsigned ext, x86_reg d, uint64_t imm, x86_reg y)
{
	x86_mov_imm(&c->a, TMP, imm);
	shift_rax_by(c, w, ext, y);
	if (w == X_W32)
		x86_movsx(&c->a, X_W32, d, x86_r(TMP));
	else
		x86_mov_rr(&c->a, X_W64, d, TMP);
}

/* d = x shift imm */
static void shift_imm(jit_cc *c, x86_width w, unsigned ext, x86_reg d, x86_reg x, uint64_t imm)
{
	if (d != x)
		x86_mov_rr(&c->a, X_W64, d, x);
	uint8_t n = (uint8_t)(imm & (w == X_W32 ? 31u : 63u));
	x86_shift_imm(&c->a, w, ext, d, n);
	/* a 32-bit logical right shift by 1..31 leaves bit 31 clear: its
	 * sign extension is the zero extension the 32-bit op already did */
	if (w == X_W32 && !(ext == X_EXT_SHR && n != 0))
		sext32(c, d);
}

/* d = (x cmp y) ? 1 : 0 */
static void set_cc_rr(jit_cc *c, x86_cc cc, x86_reg d, x86_reg x, x86_reg y)
{
	if (d != x && d != y) {
		x86_alu_rr(&c->a, X_W32, X_EXT_XOR, d, d); /* before the cmp: xor writes flags */
		x86_alu_rr(&c->a, X_W64, X_EXT_CMP, x, y);
		x86_setcc(&c->a, cc, d);
		return;
	}
	x86_alu_rr(&c->a, X_W32, X_EXT_XOR, TMP, TMP);
	x86_alu_rr(&c->a, X_W64, X_EXT_CMP, x, y);
	x86_setcc(&c->a, cc, TMP);
	x86_mov_rr(&c->a, X_W64, d, TMP);
}

static void set_cc_ri(jit_cc *c, x86_cc cc, x86_reg d, x86_reg x, uint64_t imm)
{
	need_s32(c, imm);
	if (d != x) {
		x86_alu_rr(&c->a, X_W32, X_EXT_XOR, d, d);
		x86_alu_mi(&c->a, X_W64, X_EXT_CMP, x86_r(x), (int32_t)imm);
		x86_setcc(&c->a, cc, d);
		return;
	}
	x86_alu_rr(&c->a, X_W32, X_EXT_XOR, TMP, TMP);
	x86_alu_mi(&c->a, X_W64, X_EXT_CMP, x86_r(x), (int32_t)imm);
	x86_setcc(&c->a, cc, TMP);
	x86_mov_rr(&c->a, X_W64, d, TMP);
}

/* d = cc(x, y) ? y : x  (min / max) */
static void select_rr(jit_cc *c, x86_cc take_y, x86_reg d, x86_reg x, x86_reg y)
{
	if (d == x) {
		x86_alu_rr(&c->a, X_W64, X_EXT_CMP, d, y);
		x86_cmovcc(&c->a, X_W64, take_y, d, x86_r(y));
		return;
	}
	x86_mov_rr(&c->a, X_W64, TMP, x);
	x86_alu_rr(&c->a, X_W64, X_EXT_CMP, TMP, y);
	x86_cmovcc(&c->a, X_W64, take_y, TMP, x86_r(y));
	x86_mov_rr(&c->a, X_W64, d, TMP);
}

static void branch_rr(jit_cc *c, const pvm_insn *in, x86_cc cc)
{
	x86_alu_rr(&c->a, X_W64, X_EXT_CMP, R(in->a), R(in->b));
	jump_to(c, (int)cc, in->target);
}

static void branch_ri(jit_cc *c, const pvm_insn *in, x86_cc cc)
{
	need_s32(c, in->imm);
	if (in->imm == 0) /* the same flags as cmp r, 0: CF = OF = 0, ZF and SF of r */
		x86_test_rr(&c->a, X_W64, R(in->a), R(in->a));
	else
		x86_alu_mi(&c->a, X_W64, X_EXT_CMP, x86_r(R(in->a)), (int32_t)in->imm);
	jump_to(c, (int)cc, in->target);
}

/* dynamic jump to the 32-bit address in eax (GP: djump) */
static void djump_eax(jit_cc *c)
{
	x86_alu_mi(&c->a, X_W32, X_EXT_CMP, x86_r(TMP), (int32_t)PVM_HALT_ADDR);
	exit_if(c, X_CC_E, JIT_R_HALT);
	/* even a >= 2 with a/2 <= jt_len -> entry a/2 - 1; everything else panics */
	x86_shift_imm(&c->a, X_W32, X_EXT_ROR, TMP, 1);
	x86_alu_mi(&c->a, X_W32, X_EXT_SUB, x86_r(TMP), 1);
	x86_alu_mi(&c->a, X_W32, X_EXT_CMP, x86_r(TMP), (int32_t)c->p->jt_len);
	exit_if(c, X_CC_AE, JIT_R_PANIC);
	x86_store(&c->a, X_W64, SPILL, X_RDX);
	x86_load(&c->a, X_W64, X_RDX, CTX(jt));
	x86_load(&c->a, X_W64, TMP, x86_mi(X_RDX, TMP, 8, 0));
	x86_load(&c->a, X_W64, X_RDX, SPILL);
	x86_test_rr(&c->a, X_W64, TMP, TMP);
	exit_if(c, X_CC_E, JIT_R_PANIC);
	x86_jmp_r(&c->a, TMP);
}

/* ---- memory: one instruction, seg:[e<base> + off] or seg:[addr] --------- */

/* PVM address a (absolute), for a store */
static x86_rm mem_abs(jit_cc *c, uint64_t a)
{
	return x86_seg_abs32(c->seg, (uint32_t)a);
}

/* PVM address a (absolute), for a load: through eax, `mov eax, a;
 * seg:[eax]`. A load without a base register (seg:[disp32], or a plain
 * [disp32]) that reads what a store just wrote is forwarded slowly on AMD
 * Zen (a store/load chain through one address: about 4 ns per round vs
 * 0.4-0.8 with a base register: docs/jit.md),
 * so a global variable updated in a loop would pay it every iteration */
static x86_rm mem_abs_load(jit_cc *c, uint64_t a)
{
	x86_mov_imm(&c->a, TMP, (uint32_t)a);
	return x86_seg_m32(c->seg, TMP, 0);
}

/* PVM address (base + off) mod 2^32 */
static x86_rm mem_ind(jit_cc *c, x86_reg base, uint64_t off)
{
	return x86_seg_m32(c->seg, base, (int32_t)(uint32_t)off);
}

/* eax = (base + off) mod 2^32 (dynamic jumps) */
static void addr_ind(jit_cc *c, x86_reg base, uint64_t off)
{
	if ((uint32_t)off == 0)
		x86_mov_rr(&c->a, X_W32, TMP, base); /* zero-extends */
	else
		x86_lea(&c->a, X_W32, TMP, x86_m(base, (int32_t)(uint32_t)off));
}

enum { LD_U8, LD_I8, LD_U16, LD_I16, LD_U32, LD_I32, LD_U64 };

static void load(jit_cc *c, unsigned kind, x86_reg d, x86_rm m)
{
	switch (kind) {
	case LD_U8: x86_movzx(&c->a, X_W8, d, m); break;
	case LD_I8: x86_movsx(&c->a, X_W8, d, m); break;
	case LD_U16: x86_movzx(&c->a, X_W16, d, m); break;
	case LD_I16: x86_movsx(&c->a, X_W16, d, m); break;
	case LD_U32: x86_load(&c->a, X_W32, d, m); break;
	case LD_I32: x86_movsx(&c->a, X_W32, d, m); break;
	default: x86_load(&c->a, X_W64, d, m); break;
	}
}

/* ---- division and multiply-high (rdx:rax, rdx is PVM r5) ----------------- */

static void divrem(jit_cc *c, const pvm_insn *in, x86_width w, bool sgn, bool rem)
{
	x86_reg d = R(in->d), x = R(in->a), y = R(in->b);
	x86_test_rr(&c->a, w, y, y);
	size_t nz = x86_jcc8(&c->a, X_CC_NE);
	/* y == 0: div -> all ones, rem -> x */
	if (!rem)
		x86_mov_imm(&c->a, d, UINT64_MAX);
	else if (w == X_W32)
		x86_movsx(&c->a, X_W32, d, x86_r(x));
	else
		x86_mov_rr(&c->a, X_W64, d, x);
	size_t done1 = x86_jmp32(&c->a), done2 = 0;
	x86_patch_rel8(&c->a, nz);
	if (sgn) {
		/* y == -1: div -> -x (wrapping: INT_MIN / -1 = INT_MIN), rem -> 0 */
		x86_alu_mi(&c->a, w, X_EXT_CMP, x86_r(y), -1);
		size_t norm = x86_jcc8(&c->a, X_CC_NE);
		if (rem) {
			x86_mov_imm(&c->a, d, 0);
		} else {
			x86_mov_rr(&c->a, w, TMP, x);
			x86_grp3(&c->a, w, X_EXT_NEG, x86_r(TMP));
			if (w == X_W32)
				x86_movsx(&c->a, X_W32, d, x86_r(TMP));
			else
				x86_mov_rr(&c->a, X_W64, d, TMP);
		}
		done2 = x86_jmp32(&c->a);
		x86_patch_rel8(&c->a, norm);
	}
	x86_store(&c->a, X_W64, SPILL, X_RDX);
	x86_mov_rr(&c->a, w, TMP, x);
	if (sgn)
		x86_cqo(&c->a, w);
	else
		x86_alu_rr(&c->a, X_W32, X_EXT_XOR, X_RDX, X_RDX);
	x86_grp3(&c->a, w, sgn ? X_EXT_IDIV : X_EXT_DIV, y == X_RDX ? SPILL : x86_r(y));
	x86_reg res = rem ? X_RDX : TMP;
	if (w == X_W32)
		x86_movsx(&c->a, X_W32, d, x86_r(res));
	else if (d != res)
		x86_mov_rr(&c->a, X_W64, d, res);
	if (d != X_RDX)
		x86_load(&c->a, X_W64, X_RDX, SPILL);
	x86_patch_rel32(&c->a, done1, c->a.len);
	if (sgn)
		x86_patch_rel32(&c->a, done2, c->a.len);
}

enum { MH_SS, MH_UU, MH_SU };

/* mulx with rdx = x (rdx is PVM r5: kept in rax meanwhile unless it is an
 * operand or a destination): hi:lo = x * y, hi != lo unless only the high
 * half is wanted (hi == lo) */
static void mulx_pair(jit_cc *c, x86_reg hi, x86_reg lo, x86_reg x, x86_reg y)
{
	if (y == X_RDX) {
		y = x;
		x = X_RDX;
	}
	if (x == X_RDX) {
		x86_mulx(&c->a, hi, lo, y);
		return;
	}
	bool keep = hi != X_RDX && lo != X_RDX;
	if (keep)
		x86_mov_rr(&c->a, X_W64, TMP, X_RDX);
	x86_mov_rr(&c->a, X_W64, X_RDX, x);
	x86_mulx(&c->a, hi, lo, y);
	if (keep)
		x86_mov_rr(&c->a, X_W64, X_RDX, TMP);
}

static void mulh(jit_cc *c, const pvm_insn *in, unsigned kind)
{
	x86_reg d = R(in->d), x = R(in->a), y = R(in->b);
	if (kind == MH_UU && c->bmi2) {
		mulx_pair(c, d, d, x, y);
		return;
	}
	x86_rm xo = x == X_RDX ? SPILL : x86_r(x), yo = y == X_RDX ? SPILL : x86_r(y);
	x86_store(&c->a, X_W64, SPILL, X_RDX);
	x86_mov_rr(&c->a, X_W64, TMP, x);
	x86_grp3(&c->a, X_W64, kind == MH_SS ? X_EXT_IMUL1 : X_EXT_MUL, yo);
	if (kind == MH_SU) {
		/* signed x * unsigned y: the unsigned high half, minus y when x < 0 */
		x86_alu_mi(&c->a, X_W64, X_EXT_CMP, xo, 0);
		size_t skip = x86_jcc8(&c->a, X_CC_GE);
		x86_alu_rm(&c->a, X_W64, X_EXT_SUB, X_RDX, yo);
		x86_patch_rel8(&c->a, skip);
	}
	if (d != X_RDX) {
		x86_mov_rr(&c->a, X_W64, d, X_RDX);
		x86_load(&c->a, X_W64, X_RDX, SPILL);
	}
}

/* leading / trailing zero count with the 0 -> width rule (bsr / bsf: no
 * LZCNT / TZCNT needed) */
static void bitscan(jit_cc *c, const pvm_insn *in, x86_width w, bool leading)
{
	unsigned bits = w == X_W32 ? 32 : 64;
	x86_op_rr(&c->a, w, leading ? OP_BSR_r_rm : OP_BSF_r_rm, TMP, R(in->a));
	size_t zero = x86_jcc8(&c->a, X_CC_E);
	if (leading)
		x86_alu_mi(&c->a, X_W32, X_EXT_XOR, x86_r(TMP), (int32_t)(bits - 1));
	size_t done = x86_jmp8(&c->a);
	x86_patch_rel8(&c->a, zero);
	x86_mov_imm(&c->a, TMP, bits);
	x86_patch_rel8(&c->a, done);
	x86_mov_rr(&c->a, X_W64, R(in->d), TMP);
}

/* ---- one emitter per opcode (the table below is generated from pvm_opcodes.h) */

#define EMIT(name) static void emit_##name(jit_cc *c, const pvm_insn *in)
#define A R(in->a)
#define B R(in->b)
#define D R(in->d)

EMIT(trap)
{
	(void)in;
	exit_if(c, -1, JIT_R_PANIC);
}
EMIT(fallthrough)
{
	(void)in;
	jump_to(c, -1, c->idx + 1); /* nothing: the next entry follows (the code ends with a trap) */
}
EMIT(ecalli)
{
	(void)in;
	exit_if(c, -1, JIT_R_HOST); /* resumes at body_off[idx + 1] */
}
EMIT(load_imm_64)
{
	x86_mov_imm(&c->a, A, in->imm);
}
#define STORE_IMM(name, w)                                                                                             \
	EMIT(name)                                                                                                     \
	{                                                                                                              \
		need_s32(c, in->imm);                                                                                  \
		x86_store_imm(&c->a, w, mem_abs(c, in->imm2), (int32_t)in->imm);                                       \
	}
STORE_IMM(store_imm_u8, X_W8)
STORE_IMM(store_imm_u16, X_W16)
STORE_IMM(store_imm_u32, X_W32)
STORE_IMM(store_imm_u64, X_W64)
EMIT(jump)
{
	jump_to(c, -1, in->target);
}
EMIT(jump_ind)
{
	addr_ind(c, A, in->imm);
	djump_eax(c);
}
EMIT(load_imm)
{
	x86_mov_imm(&c->a, A, in->imm);
}
#define LOAD_ABS(name, kind)                                                                                           \
	EMIT(name)                                                                                                     \
	{                                                                                                              \
		load(c, kind, A, mem_abs_load(c, in->imm));                                                            \
	}
LOAD_ABS(load_u8, LD_U8)
LOAD_ABS(load_i8, LD_I8)
LOAD_ABS(load_u16, LD_U16)
LOAD_ABS(load_i16, LD_I16)
LOAD_ABS(load_u32, LD_U32)
LOAD_ABS(load_i32, LD_I32)
LOAD_ABS(load_u64, LD_U64)
#define STORE_ABS(name, w)                                                                                             \
	EMIT(name)                                                                                                     \
	{                                                                                                              \
		x86_store(&c->a, w, mem_abs(c, in->imm), A);                                                           \
	}
STORE_ABS(store_u8, X_W8)
STORE_ABS(store_u16, X_W16)
STORE_ABS(store_u32, X_W32)
STORE_ABS(store_u64, X_W64)
#define STORE_IMM_IND(name, w)                                                                                         \
	EMIT(name)                                                                                                     \
	{                                                                                                              \
		need_s32(c, in->imm);                                                                                  \
		x86_store_imm(&c->a, w, mem_ind(c, A, in->imm2), (int32_t)in->imm);                                    \
	}
STORE_IMM_IND(store_imm_ind_u8, X_W8)
STORE_IMM_IND(store_imm_ind_u16, X_W16)
STORE_IMM_IND(store_imm_ind_u32, X_W32)
STORE_IMM_IND(store_imm_ind_u64, X_W64)
EMIT(load_imm_jump)
{
	x86_mov_imm(&c->a, A, in->imm);
	jump_to(c, -1, in->target);
}
#define BRANCH_I(name, cc)                                                                                             \
	EMIT(name)                                                                                                     \
	{                                                                                                              \
		branch_ri(c, in, cc);                                                                                  \
	}
BRANCH_I(branch_eq_imm, X_CC_E)
BRANCH_I(branch_ne_imm, X_CC_NE)
BRANCH_I(branch_lt_u_imm, X_CC_B)
BRANCH_I(branch_le_u_imm, X_CC_BE)
BRANCH_I(branch_ge_u_imm, X_CC_AE)
BRANCH_I(branch_gt_u_imm, X_CC_A)
BRANCH_I(branch_lt_s_imm, X_CC_L)
BRANCH_I(branch_le_s_imm, X_CC_LE)
BRANCH_I(branch_ge_s_imm, X_CC_GE)
BRANCH_I(branch_gt_s_imm, X_CC_G)
EMIT(move_reg)
{
	if (D != A)
		x86_mov_rr(&c->a, X_W64, D, A);
}
EMIT(sbrk)
{
	(void)in;
	exit_if(c, -1, JIT_R_SBRK); /* the run loop does it and resumes at body_off[idx + 1] */
}
EMIT(count_set_bits_64)
{
	x86_op_rr(&c->a, X_W64, OP_POPCNT_r_rm, D, A);
}
EMIT(count_set_bits_32)
{
	x86_op_rr(&c->a, X_W32, OP_POPCNT_r_rm, D, A);
}
EMIT(leading_zero_bits_64)
{
	bitscan(c, in, X_W64, true);
}
EMIT(leading_zero_bits_32)
{
	bitscan(c, in, X_W32, true);
}
EMIT(trailing_zero_bits_64)
{
	bitscan(c, in, X_W64, false);
}
EMIT(trailing_zero_bits_32)
{
	bitscan(c, in, X_W32, false);
}
EMIT(sign_extend_8)
{
	x86_movsx(&c->a, X_W8, D, x86_r(A));
}
EMIT(sign_extend_16)
{
	x86_movsx(&c->a, X_W16, D, x86_r(A));
}
EMIT(zero_extend_16)
{
	x86_movzx(&c->a, X_W16, D, x86_r(A));
}
EMIT(reverse_bytes)
{
	if (D != A)
		x86_mov_rr(&c->a, X_W64, D, A);
	x86_bswap(&c->a, D);
}
#define STORE_IND(name, w)                                                                                             \
	EMIT(name)                                                                                                     \
	{                                                                                                              \
		x86_store(&c->a, w, mem_ind(c, B, in->imm), A);                                                        \
	}
STORE_IND(store_ind_u8, X_W8)
STORE_IND(store_ind_u16, X_W16)
STORE_IND(store_ind_u32, X_W32)
STORE_IND(store_ind_u64, X_W64)
#define LOAD_IND(name, kind)                                                                                           \
	EMIT(name)                                                                                                     \
	{                                                                                                              \
		load(c, kind, A, mem_ind(c, B, in->imm));                                                              \
	}
LOAD_IND(load_ind_u8, LD_U8)
LOAD_IND(load_ind_i8, LD_I8)
LOAD_IND(load_ind_u16, LD_U16)
LOAD_IND(load_ind_i16, LD_I16)
LOAD_IND(load_ind_u32, LD_U32)
LOAD_IND(load_ind_i32, LD_I32)
LOAD_IND(load_ind_u64, LD_U64)
EMIT(add_imm_32)
{
	need_s32(c, in->imm);
	x86_lea(&c->a, X_W32, A, x86_m(B, (int32_t)in->imm));
	sext32(c, A);
}
EMIT(and_imm)
{
	bin_imm(c, X_W64, X_EXT_AND, A, B, in->imm);
}
EMIT(xor_imm)
{
	bin_imm(c, X_W64, X_EXT_XOR, A, B, in->imm);
}
EMIT(or_imm)
{
	bin_imm(c, X_W64, X_EXT_OR, A, B, in->imm);
}
EMIT(mul_imm_32)
{
	need_s32(c, in->imm);
	x86_imul_rri(&c->a, X_W32, A, B, (int32_t)in->imm);
	sext32(c, A);
}
EMIT(set_lt_u_imm)
{
	set_cc_ri(c, X_CC_B, A, B, in->imm);
}
EMIT(set_lt_s_imm)
{
	set_cc_ri(c, X_CC_L, A, B, in->imm);
}
EMIT(shlo_l_imm_32)
{
	shift_imm(c, X_W32, X_EXT_SHL, A, B, in->imm);
}
EMIT(shlo_r_imm_32)
{
	shift_imm(c, X_W32, X_EXT_SHR, A, B, in->imm);
}
EMIT(shar_r_imm_32)
{
	shift_imm(c, X_W32, X_EXT_SAR, A, B, in->imm);
}
/* d = imm - b */
static void neg_add_imm(jit_cc *c, const pvm_insn *in, x86_width w)
{
	x86_reg d = R(in->a), b = R(in->b);
	if (d != b) {
		x86_mov_imm(&c->a, d, in->imm);
		x86_alu_rr(&c->a, w, X_EXT_SUB, d, b);
	} else {
		need_s32(c, in->imm);
		x86_grp3(&c->a, w, X_EXT_NEG, x86_r(d));
		if (in->imm)
			x86_alu_mi(&c->a, w, X_EXT_ADD, x86_r(d), (int32_t)in->imm);
	}
	if (w == X_W32)
		sext32(c, d);
}
EMIT(neg_add_imm_32)
{
	neg_add_imm(c, in, X_W32);
}
EMIT(set_gt_u_imm)
{
	set_cc_ri(c, X_CC_A, A, B, in->imm);
}
EMIT(set_gt_s_imm)
{
	set_cc_ri(c, X_CC_G, A, B, in->imm);
}
EMIT(shlo_l_imm_alt_32)
{
	shift_alt(c, X_W32, X_EXT_SHL, A, in->imm, B);
}
EMIT(shlo_r_imm_alt_32)
{
	shift_alt(c, X_W32, X_EXT_SHR, A, in->imm, B);
}
EMIT(shar_r_imm_alt_32)
{
	shift_alt(c, X_W32, X_EXT_SAR, A, in->imm, B);
}
static void cmov_imm(jit_cc *c, const pvm_insn *in, x86_cc cc)
{
	x86_mov_imm(&c->a, TMP, in->imm); /* before the test: may clear flags */
	x86_test_rr(&c->a, X_W64, B, B);
	x86_cmovcc(&c->a, X_W64, cc, A, x86_r(TMP));
}
EMIT(cmov_iz_imm)
{
	cmov_imm(c, in, X_CC_E);
}
EMIT(cmov_nz_imm)
{
	cmov_imm(c, in, X_CC_NE);
}
EMIT(add_imm_64)
{
	need_s32(c, in->imm);
	x86_lea(&c->a, X_W64, A, x86_m(B, (int32_t)in->imm));
}
EMIT(mul_imm_64)
{
	need_s32(c, in->imm);
	x86_imul_rri(&c->a, X_W64, A, B, (int32_t)in->imm);
}
EMIT(shlo_l_imm_64)
{
	shift_imm(c, X_W64, X_EXT_SHL, A, B, in->imm);
}
EMIT(shlo_r_imm_64)
{
	shift_imm(c, X_W64, X_EXT_SHR, A, B, in->imm);
}
EMIT(shar_r_imm_64)
{
	shift_imm(c, X_W64, X_EXT_SAR, A, B, in->imm);
}
EMIT(neg_add_imm_64)
{
	neg_add_imm(c, in, X_W64);
}
EMIT(shlo_l_imm_alt_64)
{
	shift_alt(c, X_W64, X_EXT_SHL, A, in->imm, B);
}
EMIT(shlo_r_imm_alt_64)
{
	shift_alt(c, X_W64, X_EXT_SHR, A, in->imm, B);
}
EMIT(shar_r_imm_alt_64)
{
	shift_alt(c, X_W64, X_EXT_SAR, A, in->imm, B);
}
EMIT(rot_r_64_imm)
{
	shift_imm(c, X_W64, X_EXT_ROR, A, B, in->imm);
}
EMIT(rot_r_64_imm_alt)
{
	shift_alt(c, X_W64, X_EXT_ROR, A, in->imm, B);
}
EMIT(rot_r_32_imm)
{
	shift_imm(c, X_W32, X_EXT_ROR, A, B, in->imm);
}
EMIT(rot_r_32_imm_alt)
{
	shift_alt(c, X_W32, X_EXT_ROR, A, in->imm, B);
}
#define BRANCH_R(name, cc)                                                                                             \
	EMIT(name)                                                                                                     \
	{                                                                                                              \
		branch_rr(c, in, cc);                                                                                  \
	}
BRANCH_R(branch_eq, X_CC_E)
BRANCH_R(branch_ne, X_CC_NE)
BRANCH_R(branch_lt_u, X_CC_B)
BRANCH_R(branch_lt_s, X_CC_L)
BRANCH_R(branch_ge_u, X_CC_AE)
BRANCH_R(branch_ge_s, X_CC_GE)
EMIT(load_imm_jump_ind)
{
	addr_ind(c, B, (uint64_t)(int64_t)(int32_t)in->imm2);
	x86_mov_imm(&c->a, A, in->imm);
	djump_eax(c);
}
#define ALU3(name, w, ext, comm)                                                                                       \
	EMIT(name)                                                                                                     \
	{                                                                                                              \
		bin(c, w, x86_alu_rr, ext, comm, D, A, B);                                                             \
	}
ALU3(add_32, X_W32, X_EXT_ADD, true)
ALU3(sub_32, X_W32, X_EXT_SUB, false)
EMIT(mul_32)
{
	bin(c, X_W32, imul_fn, 0, true, D, A, B);
}
#define DIVREM(name, w, sgn, rem)                                                                                      \
	EMIT(name)                                                                                                     \
	{                                                                                                              \
		divrem(c, in, w, sgn, rem);                                                                            \
	}
DIVREM(div_u_32, X_W32, false, false)
DIVREM(div_s_32, X_W32, true, false)
DIVREM(rem_u_32, X_W32, false, true)
DIVREM(rem_s_32, X_W32, true, true)
#define SHIFT3(name, w, ext)                                                                                           \
	EMIT(name)                                                                                                     \
	{                                                                                                              \
		shift_rr(c, w, ext, D, A, B);                                                                          \
	}
SHIFT3(shlo_l_32, X_W32, X_EXT_SHL)
SHIFT3(shlo_r_32, X_W32, X_EXT_SHR)
SHIFT3(shar_r_32, X_W32, X_EXT_SAR)
EMIT(add_64)
{
	if (D != A && D != B) /* d = a + b in one instruction, flags untouched */
		x86_lea(&c->a, X_W64, D, x86_mi(A, B, 1, 0));
	else
		bin(c, X_W64, x86_alu_rr, X_EXT_ADD, true, D, A, B);
}
ALU3(sub_64, X_W64, X_EXT_SUB, false)
EMIT(mul_64)
{
	bin(c, X_W64, imul_fn, 0, true, D, A, B);
}
DIVREM(div_u_64, X_W64, false, false)
DIVREM(div_s_64, X_W64, true, false)
DIVREM(rem_u_64, X_W64, false, true)
DIVREM(rem_s_64, X_W64, true, true)
SHIFT3(shlo_l_64, X_W64, X_EXT_SHL)
SHIFT3(shlo_r_64, X_W64, X_EXT_SHR)
SHIFT3(shar_r_64, X_W64, X_EXT_SAR)
ALU3(and, X_W64, X_EXT_AND, true)
ALU3(xor, X_W64, X_EXT_XOR, true)
ALU3(or, X_W64, X_EXT_OR, true)
EMIT(mul_upper_s_s)
{
	mulh(c, in, MH_SS);
}
EMIT(mul_upper_u_u)
{
	mulh(c, in, MH_UU);
}
EMIT(mul_upper_s_u)
{
	mulh(c, in, MH_SU);
}
EMIT(set_lt_u)
{
	set_cc_rr(c, X_CC_B, D, A, B);
}
EMIT(set_lt_s)
{
	set_cc_rr(c, X_CC_L, D, A, B);
}
EMIT(cmov_iz)
{
	x86_test_rr(&c->a, X_W64, B, B);
	x86_cmovcc(&c->a, X_W64, X_CC_E, D, x86_r(A));
}
EMIT(cmov_nz)
{
	x86_test_rr(&c->a, X_W64, B, B);
	x86_cmovcc(&c->a, X_W64, X_CC_NE, D, x86_r(A));
}
SHIFT3(rot_l_64, X_W64, X_EXT_ROL)
SHIFT3(rot_l_32, X_W32, X_EXT_ROL)
SHIFT3(rot_r_64, X_W64, X_EXT_ROR)
SHIFT3(rot_r_32, X_W32, X_EXT_ROR)
/* x & ~y, x | ~y */
static void op_inv(jit_cc *c, const pvm_insn *in, unsigned ext)
{
	if (D != A) { /* d = ~b, then d op= a (d == b is fine: b is read first) */
		if (D != B)
			x86_mov_rr(&c->a, X_W64, D, B);
		x86_grp3(&c->a, X_W64, X_EXT_NOT, x86_r(D));
		x86_alu_rr(&c->a, X_W64, ext, D, A);
		return;
	}
	x86_mov_rr(&c->a, X_W64, TMP, B);
	x86_grp3(&c->a, X_W64, X_EXT_NOT, x86_r(TMP));
	x86_alu_rr(&c->a, X_W64, ext, TMP, A);
	x86_mov_rr(&c->a, X_W64, D, TMP);
}
EMIT(and_inv)
{
	op_inv(c, in, X_EXT_AND);
}
EMIT(or_inv)
{
	op_inv(c, in, X_EXT_OR);
}
EMIT(xnor)
{
	x86_mov_rr(&c->a, X_W64, TMP, A);
	x86_alu_rr(&c->a, X_W64, X_EXT_XOR, TMP, B);
	x86_grp3(&c->a, X_W64, X_EXT_NOT, x86_r(TMP));
	x86_mov_rr(&c->a, X_W64, D, TMP);
}
EMIT(max)
{
	select_rr(c, X_CC_L, D, A, B);
}
EMIT(max_u)
{
	select_rr(c, X_CC_B, D, A, B);
}
EMIT(min)
{
	select_rr(c, X_CC_G, D, A, B);
}
EMIT(min_u)
{
	select_rr(c, X_CC_A, D, A, B);
}
#undef A
#undef B
#undef D

typedef void emit_fn(jit_cc *c, const pvm_insn *in);
static emit_fn *const emit_table[] = {
#define PVM_OP(name, code, fmt, flags) [PVM_I_##name] = emit_##name,
#include "pvm/pvm_opcodes.h"
#undef PVM_OP
};
_Static_assert(sizeof emit_table / sizeof emit_table[0] == PVM_I_COUNT, "one emitter per opcode of the table");

/* ---- pairs compiled as one (peephole) ----------------------------------- *
 * Two adjacent instructions of one run, neither a terminator nor a memory
 * access, so no exit can fall between them: only their joint effect on the
 * registers is observable, and the second one is never a branch target
 * (targets start blocks). A run entered at the second one (after the
 * interpreter stopped in the middle of a run) enters a copy of it compiled
 * alone (jit_code.entry_off). */

/* d1 = the low, d2 = the high half of a * b (d1 != d2; either may be an
 * operand: both are read first): mulx, or one `mul` */
static void mul_both(jit_cc *c, x86_reg d1, x86_reg d2, x86_reg a, x86_reg b)
{
	if (c->bmi2) {
		mulx_pair(c, d2, d1, a, b);
		return;
	}
	bool keep_rdx = d1 != X_RDX && d2 != X_RDX; /* r5 lives in rdx, which mul overwrites */
	if (keep_rdx)
		x86_store(&c->a, X_W64, SPILL, X_RDX);
	x86_mov_rr(&c->a, X_W64, TMP, a);
	x86_grp3(&c->a, X_W64, X_EXT_MUL, x86_r(b)); /* rdx:rax = a * b (reads b first) */
	if (d1 == X_RDX) {
		x86_mov_rr(&c->a, X_W64, d2, X_RDX);
		x86_mov_rr(&c->a, X_W64, X_RDX, TMP);
	} else {
		x86_mov_rr(&c->a, X_W64, d1, TMP);
		if (d2 != X_RDX) {
			x86_mov_rr(&c->a, X_W64, d2, X_RDX);
			x86_load(&c->a, X_W64, X_RDX, SPILL);
		}
	}
}

static bool same_operands(const pvm_insn *x, const pvm_insn *y)
{
	return (x->a == y->a && x->b == y->b) || (x->a == y->b && x->b == y->a);
}

/* mul_64 d1, a, b; mul_upper_u_u d2, a, b (either operand order, d1 not an
 * operand, d1 != d2): both halves at once */
static bool fuse_mul_mulhu(jit_cc *c, const pvm_insn *lo, const pvm_insn *hi)
{
	if (!same_operands(lo, hi) || lo->d == lo->a || lo->d == lo->b || lo->d == hi->d)
		return false;
	mul_both(c, R(lo->d), R(hi->d), R(lo->a), R(lo->b));
	return true;
}

/* mul_upper_u_u d2, a, b; mul_64 d1, a, b (either operand order, d2 not an
 * operand, d1 != d2): the same, the other way round */
static bool fuse_mulhu_mul(jit_cc *c, const pvm_insn *hi, const pvm_insn *lo)
{
	if (!same_operands(lo, hi) || hi->d == hi->a || hi->d == hi->b || lo->d == hi->d)
		return false;
	mul_both(c, R(lo->d), R(hi->d), R(hi->a), R(hi->b));
	return true;
}

/* set_lt_u t, x, y; neg_add_imm_64 t, t, 0: t = -(x <u y) = cmp + sbb */
static bool fuse_sltu_neg(jit_cc *c, const pvm_insn *lt, const pvm_insn *neg)
{
	if (neg->a != lt->d || neg->b != lt->d || neg->imm != 0)
		return false;
	x86_alu_rr(&c->a, X_W64, X_EXT_CMP, R(lt->a), R(lt->b));
	x86_op_rr(&c->a, X_W64, OP_SBB_r_rm, R(lt->d), R(lt->d));
	return true;
}

/* neg_add_imm_64 k, k, 0 right after set_lt_u k, ...: k = -(k) */
static bool is_neg_of(const pvm_insn *neg, uint8_t k)
{
	return neg->opi == PVM_I_neg_add_imm_64 && neg->a == k && neg->b == k && neg->imm == 0;
}

/* k = CF (set_lt_u's 0 or 1), or k = -CF with the negation fused too */
static void carry_to(jit_cc *c, x86_reg k, bool negated)
{
	if (negated) {
		x86_op_rr(&c->a, X_W64, OP_SBB_r_rm, k, k);
		return;
	}
	x86_setcc(&c->a, X_CC_B, TMP);
	x86_movzx(&c->a, X_W8, k, x86_r(TMP));
}

/* add_64 s, x, y; set_lt_u k, s, x-or-y (not s) [; neg_add_imm_64 k, k, 0
 * | add_64 k, k, z (z not k)]: k = the carry of x + y (negated: add + sbb;
 * plus z: add + mov + adc, the carry propagated into the next limb);
 * returns the count fused */
static unsigned fuse_add_carry(jit_cc *c, const pvm_insn *add, uint32_t left)
{
	const pvm_insn *lt = add + 1, *third = add + 2;
	if (lt->a != add->d || lt->b == add->d || (lt->b != add->a && lt->b != add->b))
		return 0;
	bool negated = left >= 3 && is_neg_of(third, lt->d);
	uint8_t z = PVM_NUM_REGS; /* the addend of the carry */
	if (left >= 3 && third->opi == PVM_I_add_64 && third->d == lt->d && (third->a == lt->d) != (third->b == lt->d))
		z = third->a == lt->d ? third->b : third->a;
	x86_reg s = R(add->d), x = R(add->a), y = R(add->b);
	if (s == x)
		x86_alu_rr(&c->a, X_W64, X_EXT_ADD, s, y);
	else if (s == y)
		x86_alu_rr(&c->a, X_W64, X_EXT_ADD, s, x);
	else {
		x86_mov_rr(&c->a, X_W64, s, x);
		x86_alu_rr(&c->a, X_W64, X_EXT_ADD, s, y);
	}
	if (z < PVM_NUM_REGS) { /* k = z + CF (mov keeps the flags; k != z) */
		x86_mov_rr(&c->a, X_W64, R(lt->d), R(z));
		x86_alu_mi(&c->a, X_W64, X_EXT_ADC, x86_r(R(lt->d)), 0);
		return 3;
	}
	carry_to(c, R(lt->d), negated);
	return negated ? 3 : 2;
}

/* sub_64 d, x, y; set_lt_u k, x, y (d neither x nor y) [; neg_add_imm_64
 * k, k, 0]: k = the borrow of x - y (negated: sub + sbb) */
static unsigned fuse_sub_borrow(jit_cc *c, const pvm_insn *sub, uint32_t left)
{
	const pvm_insn *lt = sub + 1;
	if (lt->a != sub->a || lt->b != sub->b || sub->d == sub->a || sub->d == sub->b)
		return 0;
	bool negated = left >= 3 && is_neg_of(sub + 2, lt->d);
	x86_mov_rr(&c->a, X_W64, R(sub->d), R(sub->a));
	x86_alu_rr(&c->a, X_W64, X_EXT_SUB, R(sub->d), R(sub->b));
	carry_to(c, R(lt->d), negated);
	return negated ? 3 : 2;
}

/* the first instructions of the groups above (none is a terminator) */
static const bool fuse_first[PVM_I_COUNT] = {
	[PVM_I_mul_64] = 1, [PVM_I_mul_upper_u_u] = 1, [PVM_I_set_lt_u] = 1, [PVM_I_add_64] = 1, [PVM_I_sub_64] = 1};

/* Compile in[0], in[1] (and in[2]) together when a pattern applies: the
 * count of instructions compiled (0: none, compile in[0] alone). left: the
 * instructions from in[0] to the end (at least 2). */
static unsigned fuse_group(jit_cc *c, const pvm_insn *in, uint32_t left)
{
	unsigned o0 = in[0].opi, o1 = in[1].opi;
	if (o0 == PVM_I_mul_64 && o1 == PVM_I_mul_upper_u_u)
		return fuse_mul_mulhu(c, &in[0], &in[1]) ? 2 : 0;
	if (o0 == PVM_I_mul_upper_u_u && o1 == PVM_I_mul_64)
		return fuse_mulhu_mul(c, &in[0], &in[1]) ? 2 : 0;
	if (o0 == PVM_I_set_lt_u && o1 == PVM_I_neg_add_imm_64)
		return fuse_sltu_neg(c, &in[0], &in[1]) ? 2 : 0;
	if (o0 == PVM_I_add_64 && o1 == PVM_I_set_lt_u)
		return fuse_add_carry(c, in, left);
	if (o0 == PVM_I_sub_64 && o1 == PVM_I_set_lt_u)
		return fuse_sub_borrow(c, in, left);
	return 0;
}

/* ---- the trampolines ---------------------------------------------------- */

static const x86_reg saved[] = {X_RBX, X_RBP, X_R12, X_R13, X_R14, X_R15};

/* uint32_t entry(uint8_t *base, const void *target): System V; returns the
 * exit reason (the state is in the context). The window's segment base is
 * already base (the platform's pvm_plat_jit_call). */
static void emit_entry(jit_cc *c)
{
	for (unsigned i = 0; i < 6; i++)
		x86_push(&c->a, saved[i]);
	x86_store(&c->a, X_W64, CTX(host_rsp), X_RSP);
	x86_alu_mi(&c->a, X_W64, X_EXT_SUB, x86_r(X_RSP), 8); /* SPILL (the exit restores host_rsp) */
	x86_mov_rr(&c->a, X_W64, TMP, X_RSI);
	x86_load(&c->a, X_W64, GAS, CTX(gas));
	for (unsigned i = 0; i < PVM_NUM_REGS; i++)
		x86_load(&c->a, X_W64, regmap(i), CTX_REG(i));
	x86_jmp_r(&c->a, TMP);
}

/* the common exit: reason in eax */
static void emit_exit(jit_cc *c)
{
	x86_store(&c->a, X_W32, CTX(exit_reason), TMP);
	x86_store(&c->a, X_W64, CTX(gas), GAS);
	for (unsigned i = 0; i < PVM_NUM_REGS; i++)
		x86_store(&c->a, X_W64, CTX_REG(i), regmap(i));
	x86_load(&c->a, X_W64, X_RSP, CTX(host_rsp));
	for (unsigned i = 6; i-- > 0;)
		x86_pop(&c->a, saved[i]);
	x86_ret(&c->a);
}

/* The shared exits (after the common one): per reason, ctx.exit_idx = eax
 * (the instruction's index); then a trap that starts a run (seg 1, index
 * in eax: its run's gas check, then the panic), and the entry at such a
 * trap, its run paid: only jit_run's first entry can be there (sbrk and
 * ecalli resume at the next instruction, which never starts a run: neither
 * is a terminator), and jit_run sets ctx.exit_idx to the entry's index
 * before it, which is the panic's index. */
static void emit_shared_exits(jit_cc *c, uint32_t exit_off)
{
	static const uint8_t reasons[] = {JIT_R_HALT, JIT_R_PANIC, JIT_R_HOST, JIT_R_NEED_GAS, JIT_R_SBRK};
	for (unsigned k = 0; k < sizeof reasons; k++) {
		uint32_t r = reasons[k];
		c->shared[r] = (uint32_t)c->a.len;
		x86_store(&c->a, X_W32, CTX(exit_idx), TMP);
		x86_mov_imm(&c->a, TMP, r);
		x86_patch_rel32(&c->a, x86_jmp32(&c->a), exit_off);
	}
	c->trap_run = (uint32_t)c->a.len;
	x86_alu_mi(&c->a, X_W64, X_EXT_SUB, x86_r(GAS), 1);
	x86_patch_rel32(&c->a, x86_jcc32(&c->a, X_CC_B), c->shared[JIT_R_NEED_GAS]);
	x86_patch_rel32(&c->a, x86_jmp32(&c->a), c->shared[JIT_R_PANIC]);
	c->entry_panic = (uint32_t)c->a.len;
	x86_mov_imm(&c->a, TMP, JIT_R_PANIC);
	x86_patch_rel32(&c->a, x86_jmp32(&c->a), exit_off);
}

/* CPU features, read once (cpuid exits to the hypervisor in a VM: slow);
 * racing first readers store the same value */
enum { CPU_KNOWN = 1, CPU_POPCNT = 2, CPU_BMI2 = 4 };
static unsigned cpu_feature_bits;

static unsigned cpu_features(void)
{
	unsigned f = __atomic_load_n(&cpu_feature_bits, __ATOMIC_RELAXED);
	if (f)
		return f;
	uint32_t a = 0, b, c = 0, d;
	__asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	uint32_t max = a;
	f = CPU_KNOWN;
	a = 1;
	c = 0;
	__asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	if ((c >> 23) & 1)
		f |= CPU_POPCNT;
	if (max >= 7) {
		a = 7;
		c = 0;
		__asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
		if ((b >> 8) & 1)
			f |= CPU_BMI2;
	}
	__atomic_store_n(&cpu_feature_bits, f, __ATOMIC_RELAXED);
	return f;
}

size_t jit_code_size(const jit_code *c)
{
	return c->code_len;
}

const uint8_t *jit_code_native(const jit_code *c, uint32_t pc, size_t *len)
{
	uint32_t idx = pvm_insn_index(c->prog, pc);
	if (idx >= c->prog->n_insns) {
		*len = 0;
		return 0;
	}
	uint32_t end = idx + 1 < c->prog->n_insns ? c->start_off[idx + 1] : c->stubs_off;
	*len = end - c->start_off[idx];
	return c->code + c->start_off[idx];
}

void jit_code_free(jit_code *c)
{
	if (!c)
		return;
	uint32_t n = c->prog->n_insns;
	if (c->code)
		pvm_plat_code_free(c->code, c->code_len);
	if (c->start_off)
		pvm_plat_free(c->start_off, n * sizeof(uint32_t));
	if (c->body_off)
		pvm_plat_free(c->body_off, n * sizeof(uint32_t));
	if (c->entry_off)
		pvm_plat_free(c->entry_off, n * sizeof(uint32_t));
	if (c->jt_native)
		pvm_plat_rodata_free(c->jt_native, c->prog->jt_len * sizeof(uint64_t));
	pvm_plat_free(c, sizeof *c);
}

jit_err jit_compile(const pvm_program *p, jit_code **out)
{
	return jit_compile_flags(p, 0, out);
}

jit_err jit_compile_flags(const pvm_program *p, unsigned flags, jit_code **out)
{
	*out = 0;
	unsigned cpu = cpu_features();
	if (!(cpu & CPU_POPCNT))
		return JIT_E_CPU;
	jit_code *jc = pvm_plat_alloc(sizeof *jc);
	if (!jc)
		return JIT_E_NOMEM;
	jc->prog = p;
	uint32_t n = p->n_insns;
	jc->start_off = pvm_plat_alloc((size_t)n * sizeof(uint32_t));
	jc->body_off = pvm_plat_alloc((size_t)n * sizeof(uint32_t));
	jc->entry_off = pvm_plat_alloc((size_t)n * sizeof(uint32_t));
	if (!jc->start_off || !jc->body_off || !jc->entry_off) {
		jit_code_free(jc);
		return JIT_E_NOMEM;
	}
	jit_cc c = {.p = p, .seg = pvm_plat_jit_segment(), .bmi2 = !(flags & JIT_C_NO_BMI2) && (cpu & CPU_BMI2)};
	c.start_off = jc->start_off;
	c.body_off = jc->body_off;

	/* about 9 x86 bytes per PVM instruction (ed25519: 31 245 for 3 477):
	 * reserve so that the buffer rarely grows (growth copies everything),
	 * but not much more (every reserved byte is zeroed and faulted in) */
	x86_asm_reserve(&c.a, (size_t)n * 12 + 1024);
	emit_entry(&c);
	jc->exit_off = (uint32_t)c.a.len;
	emit_exit(&c);
	emit_shared_exits(&c, jc->exit_off);
	bool run_starts = true; /* index 0, and after every terminator */
	for (uint32_t i = 0; i < n && !c.err && !c.a.error; i++) {
		const pvm_insn *in = &p->insns[i];
		bool term = (pvm_op_info[in->opi].flags & PVM_F_TERM) != 0;
		c.idx = i;
		c.start_off[i] = (uint32_t)c.a.len;
		if (run_starts && in->opi == PVM_I_trap && in->seg == 1) {
			/* a trap alone in its run (the common filler): 10 bytes, the
			 * gas check in the shared code; entered there (its run paid)
			 * through entry_panic */
			x86_mov_imm(&c.a, TMP, i);
			x86_patch_rel32(&c.a, x86_jmp32(&c.a), c.trap_run);
			c.body_off[i] = (uint32_t)c.a.len;
			fix_add(&c, &c.traps, 0, i, 0);
			continue; /* run_starts stays: a terminator */
		}
		if (run_starts) {
			/* a straight-line run starts: charge all of it */
			x86_alu_mi(&c.a, X_W64, X_EXT_SUB, x86_r(GAS), (int32_t)in->seg);
			exit_if(&c, X_CC_B, JIT_R_NEED_GAS);
		}
		c.body_off[i] = (uint32_t)c.a.len;
		run_starts = term;
		unsigned fused = fuse_first[in->opi] && i + 1 < n ? fuse_group(&c, in, n - i) : 0;
		if (fused) {
			/* the later ones: no code of their own here; entered alone below */
			for (uint32_t j = i + 1; j < i + fused; j++) {
				c.start_off[j] = c.body_off[j] = (uint32_t)c.a.len;
				fix_add(&c, &c.mids, 0, j, 0);
			}
			i += fused - 1; /* none is a terminator: the next one continues the run */
		} else {
			emit_table[in->opi](&c, in);
		}
		if (c.a.len > 0x7FFFFFFFu - 4096)
			c.err = JIT_E_CODE_TOO_LARGE;
	}
	/* entries in the middle of a fused group: each later instruction
	 * alone, in order (the copy of the next one of the group follows), then
	 * on to the instruction after the group (never past the end: none is a
	 * terminator, and the code ends with one) */
	__builtin_memcpy(jc->entry_off, c.body_off, (size_t)n * sizeof(uint32_t));
	for (size_t k = 0; k < c.traps.n; k++)
		jc->entry_off[c.traps.v[k].target] = c.entry_panic;
	for (size_t k = 0; k < c.mids.n && !c.err && !c.a.error; k++) {
		uint32_t j = c.mids.v[k].target;
		c.idx = j;
		jc->entry_off[j] = (uint32_t)c.a.len;
		emit_table[p->insns[j].opi](&c, &p->insns[j]);
		if (k + 1 == c.mids.n || c.mids.v[k + 1].target != j + 1)
			fix_add(&c, &c.branches, x86_jmp32(&c.a), j + 1, 0);
	}
	jc->stubs_off = (uint32_t)c.a.len;
	/* cold exit stubs: eax = idx; jmp to the reason's shared exit */
	for (size_t k = 0; k < c.stubs.n && !c.err && !c.a.error; k++) {
		const fixup *f = &c.stubs.v[k];
		x86_patch_rel32(&c.a, f->pos, c.a.len);
		x86_mov_imm(&c.a, TMP, f->target);
		x86_patch_rel32(&c.a, x86_jmp32(&c.a), c.shared[f->reason]);
	}
	for (size_t k = 0; k < c.branches.n && !c.err && !c.a.error; k++)
		x86_patch_rel32(&c.a, c.branches.v[k].pos, c.start_off[c.branches.v[k].target]);
	fix_free(&c.stubs);
	fix_free(&c.branches);
	fix_free(&c.mids);
	fix_free(&c.traps);
	jit_err e = c.err ? c.err : c.a.error == X_E_NOMEM ? JIT_E_NOMEM : c.a.error ? JIT_E_ENCODE : JIT_E_OK;
	if (!e) {
		jc->code = pvm_plat_code_new(c.a.p, c.a.len);
		jc->code_len = c.a.len;
		if (!jc->code)
			e = JIT_E_PLATFORM;
	}
	x86_asm_free(&c.a);
	if (e) {
		jc->code_len = 0;
		jit_code_free(jc);
		return e;
	}
	/* the native jump table: built here, then copied into read-only data
	 * compiled code can read (pvm_plat_rodata_new) */
	if (p->jt_len) {
		size_t jt_bytes = (size_t)p->jt_len * sizeof(uint64_t);
		uint64_t *jt = pvm_plat_alloc(jt_bytes);
		if (!jt) {
			jit_code_free(jc);
			return JIT_E_NOMEM;
		}
		for (uint32_t i = 0; i < p->jt_len; i++)
			jt[i] = p->jt_idx[i] == PVM_NO_TARGET ? 0
			                                      : (uint64_t)(uintptr_t)(jc->code + jc->start_off[p->jt_idx[i]]);
		jc->jt_native = pvm_plat_rodata_new(jt, jt_bytes);
		pvm_plat_free(jt, jt_bytes);
		if (!jc->jt_native) {
			jit_code_free(jc);
			return JIT_E_PLATFORM;
		}
	}
	*out = jc;
	return JIT_E_OK;
}
