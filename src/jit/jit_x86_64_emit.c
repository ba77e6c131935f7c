/* jit_x86_64_emit.c: the x86-64 encoder (the only code that writes JIT bytes). */
#include "jit_x86_64_emit.h"

#include "pvm/pvm_platform.h"

void x86_asm_free(x86_asm *a)
{
	if (a->p)
		pvm_plat_free(a->p, a->cap);
	a->p = 0;
	a->len = a->cap = 0;
}

/* Grow to at least len + n bytes; false (and the sticky error) when out of
 * memory. */
static bool grow(x86_asm *a, size_t n)
{
	if (a->error)
		return false;
	size_t cap = a->cap ? a->cap * 2 : 4096;
	while (cap < a->len + n)
		cap *= 2;
	uint8_t *p = pvm_plat_alloc(cap);
	if (!p) {
		a->error = X_E_NOMEM;
		return false;
	}
	if (a->p) {
		__builtin_memcpy(p, a->p, a->len);
		pvm_plat_free(a->p, a->cap);
	}
	a->p = p;
	a->cap = cap;
	return true;
}

bool x86_asm_reserve(x86_asm *a, size_t n)
{
	return a->len + n <= a->cap || grow(a, n);
}

/* Room for n more bytes (the emitters ask for X_ROOM: the longest
 * instruction plus the 8-byte immediate store below); false after an
 * error (sticky). */
static inline bool room(x86_asm *a, size_t n)
{
	if (__builtin_expect(a->len + n <= a->cap && !a->error, 1))
		return true;
	return grow(a, n);
}
#define X_ROOM 32

void x86_patch32(x86_asm *a, size_t at, uint32_t v)
{
	if (a->error || at + 4 > a->len)
		return;
	__builtin_memcpy(a->p + at, &v, 4); /* x86-64 only: little-endian */
}

static bool fits8(int64_t v)
{
	return v >= -128 && v <= 127;
}

/* Bytes are written through a local cursor q (a uint8_t store may alias
 * a->len, so put8 would make the compiler reload it after every byte). */
#define Q8(v) (*q++ = (uint8_t)(v))

/* n (0..8) little-endian bytes of v: one 8-byte store (X_ROOM leaves space
 * for it; the bytes after q + n are overwritten by what follows or lie
 * past len) */
static inline uint8_t *q_le(uint8_t *q, uint64_t v, unsigned n)
{
	__builtin_memcpy(q, &v, 8); /* x86-64 only: little-endian */
	return q + n;
}

/* The core emitter, inlined into every helper below so that their constant
 * operands (register or memory form, widths, immediate sizes) fold away. */
static inline __attribute__((always_inline)) void emit_core(x86_asm *a, unsigned w, unsigned opcode, unsigned reg,
							    x86_rm rm, uint64_t imm, unsigned imm_size)
{
	if (!room(a, X_ROOM))
		return;
	unsigned width = w & 0xFF;
	bool has_index = rm.index != X_NOREG;
	bool no_base = rm.is_mem && rm.reg == X_NOREG;
	if (rm.is_mem && ((no_base && has_index) || rm.index == X_RSP)) {
		a->error = X_E_RANGE; /* forms we never emit */
		return;
	}
	uint8_t *q = a->p + a->len;
	if (rm.is_mem && rm.seg)
		Q8(rm.seg);
	if (rm.is_mem && rm.a32)
		Q8(0x67);
	if (width == X_W16)
		Q8(0x66);
	if (opcode > 0xFFFF)
		Q8(opcode >> 16); /* mandatory prefix (F3 for popcnt) */
	/* REX.W, .R, .X, .B from bit 3 of each register number */
	unsigned rex = 0x40 | (width & 8u) | ((reg & 8u) >> 1);
	if (!no_base)
		rex |= (rm.reg & 8u) >> 3;
	if (has_index)
		rex |= (rm.index & 8u) >> 2;
	/* spl/bpl/sil/dil need a REX prefix to be byte registers */
	if (rex != 0x40 ||
	    ((w & X_BYTEREGS) && ((reg - 4u) < 4u || (!rm.is_mem && (rm.reg - 4u) < 4u))))
		Q8(rex);
	if (opcode & 0xFF00)
		Q8((opcode >> 8) & 0xFF);
	Q8(opcode & 0xFF);
	unsigned r3 = (reg & 7) << 3;
	if (!rm.is_mem) {
		Q8(0xC0 | r3 | (rm.reg & 7u));
	} else if (no_base) {
		/* SIB with no base and no index: [disp32] (not rip-relative) */
		Q8(r3 | 4);
		Q8(4 << 3 | 5);
		q = q_le(q, (uint32_t)rm.disp, 4);
	} else {
		unsigned base = rm.reg & 7u, mod;
		if (rm.disp == 0 && base != 5)
			mod = 0;
		else if (fits8(rm.disp))
			mod = 0x40;
		else
			mod = 0x80;
		if (has_index || base == 4) {
			unsigned ss = rm.scale == 8 ? 3 : rm.scale == 4 ? 2 : rm.scale == 2 ? 1 : 0;
			unsigned idx = has_index ? (rm.index & 7u) : 4;
			Q8(mod | r3 | 4);
			Q8(ss << 6 | idx << 3 | base);
		} else {
			Q8(mod | r3 | base);
		}
		if (mod == 0x40)
			Q8((uint8_t)(int8_t)rm.disp);
		else if (mod == 0x80)
			q = q_le(q, (uint32_t)rm.disp, 4);
	}
	q = q_le(q, imm, imm_size);
	a->len = (size_t)(q - a->p);
}

void x86_emit(x86_asm *a, unsigned w, unsigned opcode, unsigned reg, x86_rm rm, uint64_t imm, unsigned imm_size)
{
	emit_core(a, w, opcode, reg, rm, imm, imm_size);
}

/* An instruction without ModRM: [REX] opcode(+reg) [imm]. */
static void emit_plain(x86_asm *a, bool w64, unsigned opcode, unsigned reg, uint64_t imm, unsigned imm_size)
{
	if (!room(a, X_ROOM))
		return;
	uint8_t *q = a->p + a->len;
	unsigned rex = 0x40 | (w64 ? 8u : 0u) | ((reg & 8) ? 1u : 0u);
	if (rex != 0x40)
		Q8(rex);
	if (opcode > 0xFF)
		Q8(opcode >> 8);
	Q8((opcode & 0xFF) + (reg & 7));
	q = q_le(q, imm, imm_size);
	a->len = (size_t)(q - a->p);
}

static const unsigned alu_rm_r[8] = {
	[X_EXT_ADD] = OP_ADD_rm_r, [X_EXT_OR] = OP_OR_rm_r, [X_EXT_AND] = OP_AND_rm_r,
	[X_EXT_SUB] = OP_SUB_rm_r, [X_EXT_XOR] = OP_XOR_rm_r, [X_EXT_CMP] = OP_CMP_rm_r,
};
static const unsigned alu_r_rm[8] = {
	[X_EXT_ADD] = OP_ADD_r_rm, [X_EXT_OR] = OP_OR_r_rm, [X_EXT_AND] = OP_AND_r_rm,
	[X_EXT_SUB] = OP_SUB_r_rm, [X_EXT_XOR] = OP_XOR_r_rm, [X_EXT_CMP] = OP_CMP_r_rm,
};

void x86_alu_rr(x86_asm *a, x86_width w, unsigned ext, x86_reg d, x86_reg s)
{
	emit_core(a, w, alu_rm_r[ext & 7], s, x86_r(d), 0, 0);
}

void x86_alu_rm(x86_asm *a, x86_width w, unsigned ext, x86_reg d, x86_rm s)
{
	emit_core(a, w, alu_r_rm[ext & 7], d, s, 0, 0);
}

void x86_alu_mi(x86_asm *a, x86_width w, unsigned ext, x86_rm d, int32_t imm)
{
	if (fits8(imm))
		emit_core(a, w, OP_GRP1_rm_imm8, ext, d, (uint64_t)(uint8_t)(int8_t)imm, 1);
	else
		emit_core(a, w, OP_GRP1_rm_imm32, ext, d, (uint32_t)imm, 4);
}

void x86_mov_rr(x86_asm *a, x86_width w, x86_reg d, x86_reg s)
{
	emit_core(a, w, OP_MOV_rm_r, s, x86_r(d), 0, 0);
}

void x86_mov_imm(x86_asm *a, x86_reg d, uint64_t imm)
{
	if (imm == 0)
		x86_alu_rr(a, X_W32, X_EXT_XOR, d, d); /* note: clobbers flags */
	else if (imm <= 0xFFFFFFFFu)
		emit_plain(a, false, OP_MOV_r_imm, d, imm, 4); /* zero-extends */
	else if ((int64_t)imm >= INT32_MIN && (int64_t)imm < 0)
		emit_core(a, X_W64, OP_MOV_rm_imm32, 0, x86_r(d), (uint32_t)imm, 4);
	else
		emit_plain(a, true, OP_MOV_r_imm, d, imm, 8);
}

void x86_load(x86_asm *a, x86_width w, x86_reg d, x86_rm m)
{
	emit_core(a, w, OP_MOV_r_rm, d, m, 0, 0);
}

void x86_store(x86_asm *a, x86_width w, x86_rm m, x86_reg s)
{
	if (w == X_W8)
		emit_core(a, X_W8 | X_BYTEREGS, OP_MOV8_rm_r, s, m, 0, 0);
	else
		emit_core(a, w, OP_MOV_rm_r, s, m, 0, 0);
}

void x86_store_imm(x86_asm *a, x86_width w, x86_rm m, int32_t imm)
{
	if (w == X_W8)
		emit_core(a, X_W8, OP_MOV8_rm_imm8, 0, m, (uint8_t)imm, 1);
	else if (w == X_W16)
		emit_core(a, X_W16, OP_MOV_rm_imm32, 0, m, (uint16_t)imm, 2);
	else
		emit_core(a, w, OP_MOV_rm_imm32, 0, m, (uint32_t)imm, 4);
}

void x86_lea(x86_asm *a, x86_width w, x86_reg d, x86_rm m)
{
	emit_core(a, w, OP_LEA_r_m, d, m, 0, 0);
}

void x86_movzx(x86_asm *a, x86_width from, x86_reg d, x86_rm s)
{
	if (from == X_W8)
		emit_core(a, X_W32 | X_BYTEREGS, OP_MOVZX_r_rm8, d, s, 0, 0);
	else
		emit_core(a, X_W32, OP_MOVZX_r_rm16, d, s, 0, 0);
}

void x86_movsx(x86_asm *a, x86_width from, x86_reg d, x86_rm s)
{
	if (from == X_W8)
		emit_core(a, X_W64 | X_BYTEREGS, OP_MOVSX_r_rm8, d, s, 0, 0);
	else if (from == X_W16)
		emit_core(a, X_W64, OP_MOVSX_r_rm16, d, s, 0, 0);
	else
		emit_core(a, X_W64, OP_MOVSXD_r_rm32, d, s, 0, 0);
}

void x86_test_rr(x86_asm *a, x86_width w, x86_reg x, x86_reg y)
{
	emit_core(a, w, OP_TEST_rm_r, y, x86_r(x), 0, 0);
}

void x86_shift_imm(x86_asm *a, x86_width w, unsigned ext, x86_reg d, uint8_t n)
{
	emit_core(a, w, OP_GRP2_rm_imm8, ext, x86_r(d), n, 1);
}

void x86_shift_cl(x86_asm *a, x86_width w, unsigned ext, x86_reg d)
{
	emit_core(a, w, OP_GRP2_rm_cl, ext, x86_r(d), 0, 0);
}

void x86_grp3(x86_asm *a, x86_width w, unsigned ext, x86_rm s)
{
	emit_core(a, w, OP_GRP3_rm, ext, s, 0, 0);
}

void x86_imul_rr(x86_asm *a, x86_width w, x86_reg d, x86_reg s)
{
	emit_core(a, w, OP_IMUL_r_rm, d, x86_r(s), 0, 0);
}

void x86_imul_rri(x86_asm *a, x86_width w, x86_reg d, x86_reg s, int32_t imm)
{
	emit_core(a, w, OP_IMUL_r_rm_imm32, d, x86_r(s), (uint32_t)imm, 4);
}

void x86_op_rr(x86_asm *a, x86_width w, unsigned opcode, x86_reg d, x86_reg s)
{
	emit_core(a, w, opcode, d, x86_r(s), 0, 0);
}

/* The one VEX form (3-byte prefix C4): R~ X~ B~ m-mmmm (00010: map 0F38),
 * W vvvv~ L pp (W1, L0, pp 11: F2), opcode, ModRM (register form). */
void x86_mulx(x86_asm *a, x86_reg hi, x86_reg lo, x86_reg s)
{
	if (!room(a, X_ROOM))
		return;
	uint8_t *q = a->p + a->len;
	Q8(0xC4);
	Q8(((~(unsigned)hi & 8u) << 4) | 0x40u | ((~(unsigned)s & 8u) << 2) | 0x02u);
	Q8(0x80u | ((~(unsigned)lo & 15u) << 3) | 0x03u);
	Q8(OP_VEX_MULX);
	Q8(0xC0u | (((unsigned)hi & 7u) << 3) | ((unsigned)s & 7u));
	a->len = (size_t)(q - a->p);
}

void x86_xchg(x86_asm *a, x86_reg x, x86_reg y)
{
	emit_core(a, X_W64, OP_XCHG_rm_r, y, x86_r(x), 0, 0);
}

void x86_setcc(x86_asm *a, x86_cc cc, x86_reg d)
{
	emit_core(a, X_W8 | X_BYTEREGS, OP_SETcc_rm8 + (unsigned)cc, 0, x86_r(d), 0, 0);
}

void x86_cmovcc(x86_asm *a, x86_width w, x86_cc cc, x86_reg d, x86_rm s)
{
	emit_core(a, w, OP_CMOVcc_r_rm + (unsigned)cc, d, s, 0, 0);
}

void x86_bswap(x86_asm *a, x86_reg d)
{
	emit_plain(a, true, OP_BSWAP_r, d, 0, 0);
}

void x86_cqo(x86_asm *a, x86_width w)
{
	emit_plain(a, w == X_W64, OP_CQO, 0, 0, 0);
}

void x86_push(x86_asm *a, x86_reg r)
{
	emit_plain(a, false, OP_PUSH_r, r, 0, 0);
}

void x86_pop(x86_asm *a, x86_reg r)
{
	emit_plain(a, false, OP_POP_r, r, 0, 0);
}

void x86_ret(x86_asm *a)
{
	emit_plain(a, false, OP_RET, 0, 0, 0);
}

void x86_ud2(x86_asm *a)
{
	emit_plain(a, false, OP_UD2, 0, 0, 0);
}

void x86_jmp_r(x86_asm *a, x86_reg r)
{
	emit_core(a, X_W32, OP_GRP5_rm, X_EXT_JMP, x86_r(r), 0, 0);
}

size_t x86_jmp32(x86_asm *a)
{
	emit_plain(a, false, OP_JMP_rel32, 0, 0, 4);
	return a->len - 4;
}

size_t x86_jcc32(x86_asm *a, x86_cc cc)
{
	emit_plain(a, false, OP_Jcc_rel32 + (unsigned)cc, 0, 0, 4);
	return a->len - 4;
}

void x86_patch_rel32(x86_asm *a, size_t at, size_t target)
{
	x86_patch32(a, at, (uint32_t)((int64_t)target - (int64_t)(at + 4)));
}

size_t x86_jcc8(x86_asm *a, x86_cc cc)
{
	emit_plain(a, false, 0x70u + (unsigned)cc, 0, 0, 1); /* Jcc rel8 */
	return a->len - 1;
}

size_t x86_jmp8(x86_asm *a)
{
	emit_plain(a, false, 0xEB, 0, 0, 1); /* JMP rel8 */
	return a->len - 1;
}

void x86_patch_rel8(x86_asm *a, size_t at)
{
	if (a->error)
		return;
	int64_t rel = (int64_t)a->len - (int64_t)(at + 1);
	if (rel > 127) {
		a->error = X_E_RANGE;
		return;
	}
	a->p[at] = (uint8_t)rel;
}
