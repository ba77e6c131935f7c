/* link_translate.c: nub link stage 4: RISC-V -> PVM translation, one
 * instruction at a time, emitted through link_emit.c with named opcodes
 * (PVM_OPC_*); jump and branch offsets take the fewest bytes that fit. */
#include "link/link_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the store translations index a family by size (0 = u8 .. 3 = u64) */
_Static_assert(PVM_OPC_store_imm_u64 - PVM_OPC_store_imm_u8 == 3 && PVM_OPC_store_u64 - PVM_OPC_store_u8 == 3 &&
		       PVM_OPC_store_imm_ind_u64 - PVM_OPC_store_imm_ind_u8 == 3 &&
		       PVM_OPC_store_ind_u64 - PVM_OPC_store_ind_u8 == 3,
	       "store families are contiguous u8, u16, u32, u64");

/* ---- stage 4: translation -------------------------------------------------- */

/* Offset width for the next fixup (same emission order in every pass). */
static unsigned next_off_len(const lk *k)
{
	return k->nfix < k->nfix_len ? k->fix_len[k->nfix] : 1;
}

static int add_fix(lk *k, size_t at, size_t to)
{
	if (at == (size_t)-1)
		return lk_fail(k, "out of memory");
	if (k->nfix == k->capfix) {
		size_t nc = k->capfix ? k->capfix * 2 : 256;
		size_t *a = realloc(k->fix_at, nc * sizeof *a);
		if (!a)
			return lk_fail(k, "out of memory");
		k->fix_at = a;
		size_t *b = realloc(k->fix_to, nc * sizeof *b);
		if (!b)
			return lk_fail(k, "out of memory");
		k->fix_to = b;
		k->capfix = nc;
	}
	k->fix_at[k->nfix] = at;
	k->fix_to[k->nfix] = to;
	k->nfix++;
	return 0;
}

static void emit_const(lk *k, uint8_t r, uint64_t v)
{
	if ((uint64_t)(int64_t)(int32_t)v == v)
		pe_reg_imm(&k->em, PVM_OPC_load_imm, r, (int64_t)v);
	else
		pe_reg_imm64(&k->em, r, v);
}

static void emit_move(lk *k, uint8_t d, uint8_t s)
{
	if (d != s)
		pe_reg2(&k->em, PVM_OPC_move_reg, d, s);
}

/* PVM three-register opcode for a RISC-V R-type op (0: none). */
static uint8_t reg3_op(rv_op op)
{
	switch (op) {
	case RV_ADD: return PVM_OPC_add_64; case RV_SUB: return PVM_OPC_sub_64; case RV_SLL: return PVM_OPC_shlo_l_64; case RV_SLT: return PVM_OPC_set_lt_s;
	case RV_SLTU: return PVM_OPC_set_lt_u; case RV_XOR: return PVM_OPC_xor; case RV_SRL: return PVM_OPC_shlo_r_64; case RV_SRA: return PVM_OPC_shar_r_64;
	case RV_OR: return PVM_OPC_or; case RV_AND: return PVM_OPC_and; case RV_ADDW: return PVM_OPC_add_32; case RV_SUBW: return PVM_OPC_sub_32;
	case RV_SLLW: return PVM_OPC_shlo_l_32; case RV_SRLW: return PVM_OPC_shlo_r_32; case RV_SRAW: return PVM_OPC_shar_r_32; case RV_MUL: return PVM_OPC_mul_64;
	case RV_MULH: return PVM_OPC_mul_upper_s_s; case RV_MULHSU: return PVM_OPC_mul_upper_s_u; case RV_MULHU: return PVM_OPC_mul_upper_u_u; case RV_DIV: return PVM_OPC_div_s_64;
	case RV_DIVU: return PVM_OPC_div_u_64; case RV_REM: return PVM_OPC_rem_s_64; case RV_REMU: return PVM_OPC_rem_u_64; case RV_MULW: return PVM_OPC_mul_32;
	case RV_DIVW: return PVM_OPC_div_s_32; case RV_DIVUW: return PVM_OPC_div_u_32; case RV_REMW: return PVM_OPC_rem_s_32; case RV_REMUW: return PVM_OPC_rem_u_32;
	case RV_ANDN: return PVM_OPC_and_inv; case RV_ORN: return PVM_OPC_or_inv; case RV_XNOR: return PVM_OPC_xnor; case RV_MAX: return PVM_OPC_max;
	case RV_MAXU: return PVM_OPC_max_u; case RV_MIN: return PVM_OPC_min; case RV_MINU: return PVM_OPC_min_u; case RV_ROL: return PVM_OPC_rot_l_64;
	case RV_ROLW: return PVM_OPC_rot_l_32; case RV_ROR: return PVM_OPC_rot_r_64; case RV_RORW: return PVM_OPC_rot_r_32;
	case RV_TH_MVEQZ: return PVM_OPC_cmov_iz; case RV_TH_MVNEZ: return PVM_OPC_cmov_nz;
	default: return 0;
	}
}

/* rd = rs1 OP rs2 where at least one source is x0 and no shortcut applies:
 * give x0 a real register holding 0. */
static void emit_reg3_zero(lk *k, uint8_t op, unsigned rd, unsigned rs1, unsigned rs2)
{
	unsigned other = rs1 ? rs1 : rs2;
	if (other == 0 || rd != other) {
		pe_reg_imm(&k->em, PVM_OPC_load_imm, R(rd), 0);
		pe_reg3(&k->em, op, R(rd), rs1 ? R(rs1) : R(rd), rs2 ? R(rs2) : R(rd));
		return;
	}
	/* rd == the non-zero source: borrow a temporary, saved in the spill slot */
	unsigned tmp = 5; /* t0 */
	while (tmp == rd)
		tmp++;
	k->need_spill = 1;
	pe_reg_imm(&k->em, PVM_OPC_store_u64, R(tmp), k->spill_addr);
	pe_reg_imm(&k->em, PVM_OPC_load_imm, R(tmp), 0);
	pe_reg3(&k->em, op, R(rd), rs1 ? R(rs1) : R(tmp), rs2 ? R(rs2) : R(tmp));
	pe_reg_imm(&k->em, PVM_OPC_load_u64, R(tmp), k->spill_addr);
}

static int translate_reg3(lk *k, const rv_insn *in)
{
	uint8_t op = reg3_op(in->op);
	unsigned rd = in->rd, a = in->rs1, b = in->rs2;
	if (in->op == RV_TH_MVEQZ || in->op == RV_TH_MVNEZ) {
		int eqz = in->op == RV_TH_MVEQZ;
		if (b == 0) { /* condition register is zero */
			if (eqz) {
				if (a) emit_move(k, R(rd), R(a));
				else pe_reg_imm(&k->em, PVM_OPC_load_imm, R(rd), 0);
			}
			return 0;
		}
		if (a == 0) {
			pe_reg2_imm(&k->em, eqz ? PVM_OPC_cmov_iz_imm : PVM_OPC_cmov_nz_imm, R(rd), R(b), 0);
			return 0;
		}
		pe_reg3(&k->em, op, R(rd), R(a), R(b));
		return 0;
	}
	if (a != 0 && b != 0) {
		pe_reg3(&k->em, op, R(rd), R(a), R(b));
		return 0;
	}
	if (a == 0 && b == 0) {
		uint64_t v = 0;
		switch (in->op) {
		case RV_DIV: case RV_DIVU: case RV_DIVW: case RV_DIVUW: case RV_ORN: case RV_XNOR: v = ~0ull; break;
		default: v = 0; break;
		}
		emit_const(k, R(rd), v);
		return 0;
	}
	if (b == 0) { /* a OP 0 */
		switch (in->op) {
		case RV_ADD: case RV_SUB: case RV_OR: case RV_XOR: case RV_SLL: case RV_SRL: case RV_SRA:
		case RV_ROL: case RV_ROR: case RV_ANDN: case RV_REM: case RV_REMU: case RV_MAXU:
			emit_move(k, R(rd), R(a));
			return 0;
		case RV_ADDW: case RV_SUBW: case RV_SLLW: case RV_SRLW: case RV_SRAW: case RV_ROLW: case RV_RORW:
		case RV_REMW: case RV_REMUW:
			pe_reg2_imm(&k->em, PVM_OPC_add_imm_32, R(rd), R(a), 0);
			return 0;
		case RV_AND: case RV_MUL: case RV_MULH: case RV_MULHSU: case RV_MULHU: case RV_MULW: case RV_SLTU:
		case RV_MINU:
			pe_reg_imm(&k->em, PVM_OPC_load_imm, R(rd), 0);
			return 0;
		case RV_SLT:
			pe_reg2_imm(&k->em, PVM_OPC_set_lt_s_imm, R(rd), R(a), 0);
			return 0;
		case RV_DIV: case RV_DIVU: case RV_DIVW: case RV_DIVUW: case RV_ORN:
			emit_const(k, R(rd), ~0ull);
			return 0;
		case RV_XNOR:
			pe_reg2_imm(&k->em, PVM_OPC_xor_imm, R(rd), R(a), -1);
			return 0;
		default:
			emit_reg3_zero(k, op, rd, a, b);
			return 0;
		}
	}
	/* 0 OP b */
	switch (in->op) {
	case RV_ADD: case RV_OR: case RV_XOR: case RV_MAXU:
		emit_move(k, R(rd), R(b));
		return 0;
	case RV_ADDW:
		pe_reg2_imm(&k->em, PVM_OPC_add_imm_32, R(rd), R(b), 0);
		return 0;
	case RV_SUB:
		pe_reg2_imm(&k->em, PVM_OPC_neg_add_imm_64, R(rd), R(b), 0);
		return 0;
	case RV_SUBW:
		pe_reg2_imm(&k->em, PVM_OPC_neg_add_imm_32, R(rd), R(b), 0);
		return 0;
	case RV_AND: case RV_SLL: case RV_SRL: case RV_SRA: case RV_SLLW: case RV_SRLW: case RV_SRAW:
	case RV_MUL: case RV_MULH: case RV_MULHSU: case RV_MULHU: case RV_MULW: case RV_REM: case RV_REMU:
	case RV_REMW: case RV_REMUW: case RV_ROL: case RV_ROR: case RV_ROLW: case RV_RORW: case RV_ANDN:
	case RV_MINU:
		pe_reg_imm(&k->em, PVM_OPC_load_imm, R(rd), 0);
		return 0;
	case RV_SLTU:
		pe_reg2_imm(&k->em, PVM_OPC_set_gt_u_imm, R(rd), R(b), 0);
		return 0;
	case RV_SLT:
		pe_reg2_imm(&k->em, PVM_OPC_set_gt_s_imm, R(rd), R(b), 0);
		return 0;
	case RV_ORN: case RV_XNOR:
		pe_reg2_imm(&k->em, PVM_OPC_xor_imm, R(rd), R(b), -1);
		return 0;
	default:
		emit_reg3_zero(k, op, rd, a, b);
		return 0;
	}
}

static uint64_t fold_imm(rv_op op, int64_t imm)
{
	/* value of `op rd, x0, imm` */
	switch (op) {
	case RV_ADDI: case RV_XORI: case RV_ORI: return (uint64_t)imm;
	case RV_ADDIW: return (uint64_t)(int64_t)(int32_t)imm;
	case RV_SLTI: return 0 < imm;
	case RV_SLTIU: return 0 < (uint64_t)imm;
	default: return 0; /* andi, shifts, rotates of zero */
	}
}

static uint8_t imm_op(rv_op op)
{
	switch (op) {
	case RV_ADDI: return PVM_OPC_add_imm_64; case RV_SLTI: return PVM_OPC_set_lt_s_imm; case RV_SLTIU: return PVM_OPC_set_lt_u_imm; case RV_XORI: return PVM_OPC_xor_imm;
	case RV_ORI: return PVM_OPC_or_imm; case RV_ANDI: return PVM_OPC_and_imm; case RV_SLLI: return PVM_OPC_shlo_l_imm_64; case RV_SRLI: return PVM_OPC_shlo_r_imm_64;
	case RV_SRAI: return PVM_OPC_shar_r_imm_64; case RV_ADDIW: return PVM_OPC_add_imm_32; case RV_SLLIW: return PVM_OPC_shlo_l_imm_32; case RV_SRLIW: return PVM_OPC_shlo_r_imm_32;
	case RV_SRAIW: return PVM_OPC_shar_r_imm_32; case RV_RORI: return PVM_OPC_rot_r_64_imm; case RV_RORIW: return PVM_OPC_rot_r_32_imm;
	default: return 0;
	}
}

static uint8_t load_op(rv_op op, int absolute)
{
	switch (op) {
	case RV_LBU: return absolute ? PVM_OPC_load_u8 : PVM_OPC_load_ind_u8; case RV_LB: return absolute ? PVM_OPC_load_i8 : PVM_OPC_load_ind_i8;
	case RV_LHU: return absolute ? PVM_OPC_load_u16 : PVM_OPC_load_ind_u16; case RV_LH: return absolute ? PVM_OPC_load_i16 : PVM_OPC_load_ind_i16;
	case RV_LWU: return absolute ? PVM_OPC_load_u32 : PVM_OPC_load_ind_u32; case RV_LW: return absolute ? PVM_OPC_load_i32 : PVM_OPC_load_ind_i32;
	case RV_LD: return absolute ? PVM_OPC_load_u64 : PVM_OPC_load_ind_u64;
	default: return 0;
	}
}

static int store_size(rv_op op)
{
	switch (op) {
	case RV_SB: return 0; case RV_SH: return 1; case RV_SW: return 2; case RV_SD: return 3;
	default: return -1;
	}
}

static int branch(lk *k, size_t i, uint64_t target)
{
	const rv_insn *in = &k->ins[i];
	unsigned a = in->rs1, b = in->rs2;
	size_t t = lk_find_ins(k, target);
	size_t at;
	if (a == 0 && b == 0) {
		int taken = in->op == RV_BEQ || in->op == RV_BGE || in->op == RV_BGEU;
		if (!taken)
			return 0;
		return add_fix(k, pe_off(&k->em, PVM_OPC_jump, next_off_len(k)), t);
	}
	if (b == 0 || a == 0) {
		static const struct { rv_op op; uint8_t rhs0, lhs0; } m[] = {
			{RV_BEQ, PVM_OPC_branch_eq_imm, PVM_OPC_branch_eq_imm}, {RV_BNE, PVM_OPC_branch_ne_imm, PVM_OPC_branch_ne_imm}, {RV_BLT, PVM_OPC_branch_lt_s_imm, PVM_OPC_branch_gt_s_imm}, {RV_BGE, PVM_OPC_branch_ge_s_imm, PVM_OPC_branch_le_s_imm},
			{RV_BLTU, PVM_OPC_branch_lt_u_imm, PVM_OPC_branch_gt_u_imm}, {RV_BGEU, PVM_OPC_branch_ge_u_imm, PVM_OPC_branch_le_u_imm},
		};
		for (size_t q = 0; q < sizeof m / sizeof m[0]; q++)
			if (m[q].op == in->op) {
				uint8_t op = b == 0 ? m[q].rhs0 : m[q].lhs0;
				at = pe_reg_imm_off(&k->em, op, R(b == 0 ? a : b), 0, next_off_len(k));
				return add_fix(k, at, t);
			}
		return lk_fail(k, "internal: branch op");
	}
	uint8_t op = PVM_OPC_trap;
	switch (in->op) {
	case RV_BEQ: op = PVM_OPC_branch_eq; break; case RV_BNE: op = PVM_OPC_branch_ne; break; case RV_BLTU: op = PVM_OPC_branch_lt_u; break;
	case RV_BLT: op = PVM_OPC_branch_lt_s; break; case RV_BGEU: op = PVM_OPC_branch_ge_u; break; case RV_BGE: op = PVM_OPC_branch_ge_s; break;
	default: return lk_fail(k, "internal: branch op");
	}
	return add_fix(k, pe_reg2_off(&k->em, op, R(a), R(b), next_off_len(k)), t);
}

static int call_to(lk *k, unsigned rd, uint64_t target, uint64_t ret)
{
	size_t t = lk_find_ins(k, target);
	if (rd == 0)
		return add_fix(k, pe_off(&k->em, PVM_OPC_jump, next_off_len(k)), t);
	size_t r = lk_find_ins(k, ret);
	return add_fix(k, pe_reg_imm_off(&k->em, PVM_OPC_load_imm_jump, R(rd), lk_jt_addr(k, r), next_off_len(k)), t);
}

/* ---- Zba, Zbs, A ----------------------------------------------------------- */

/* Borrow a temporary (an x-register outside the `avoid` bitmask) for a
 * sequence, saving it in spill slot `slot` (0 or 1, LK_SPILL_BYTES). */
static unsigned borrow(lk *k, uint32_t avoid, unsigned slot)
{
	static const uint8_t pool[] = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 1};
	unsigned t = 5;
	for (size_t q = 0; q < sizeof pool; q++)
		if (!((avoid >> pool[q]) & 1)) {
			t = pool[q];
			break;
		}
	k->need_spill = 1;
	pe_reg_imm(&k->em, PVM_OPC_store_u64, R(t), k->spill_addr + 8 * slot);
	return t;
}

static void give_back(lk *k, unsigned t, unsigned slot)
{
	pe_reg_imm(&k->em, PVM_OPC_load_u64, R(t), k->spill_addr + 8 * slot);
}

/* d = zext32(s) << n (d, s real registers) */
static void emit_zext_shl(lk *k, unsigned d, unsigned s, unsigned n)
{
	pe_reg2_imm(&k->em, PVM_OPC_shlo_l_imm_64, R(d), R(s), 32);
	if (n <= 32)
		pe_reg2_imm(&k->em, PVM_OPC_shlo_r_imm_64, R(d), R(d), 32 - n);
	else
		pe_reg2_imm(&k->em, PVM_OPC_shlo_l_imm_64, R(d), R(d), n - 32);
}

/* Zba: rd = (rs1, zero-extended from 32 bits for *.uw) << n + rs2 */
static void translate_zba(lk *k, const rv_insn *in)
{
	unsigned rd = in->rd, a = in->rs1, b = in->rs2, n = 0, uw = 0;
	switch (in->op) {
	case RV_SH1ADD: n = 1; break;
	case RV_SH2ADD: n = 2; break;
	case RV_SH3ADD: n = 3; break;
	case RV_ADDUW: uw = 1; break;
	case RV_SH1ADDUW: n = 1, uw = 1; break;
	case RV_SH2ADDUW: n = 2, uw = 1; break;
	case RV_SH3ADDUW: n = 3, uw = 1; break;
	case RV_SLLIUW: n = (unsigned)in->imm & 63, uw = 1, b = 0; break;
	default: return;
	}
	if (rd == 0)
		return;
	if (a == 0) { /* the shifted part is 0 */
		if (b)
			emit_move(k, R(rd), R(b));
		else
			pe_reg_imm(&k->em, PVM_OPC_load_imm, R(rd), 0);
		return;
	}
	unsigned t = rd, slot_used = 0;
	if (b != 0 && b == rd) { /* rd is still needed as the addend */
		t = borrow(k, (1u << rd) | (1u << a) | (1u << b) | 1u, 0);
		slot_used = 1;
	}
	if (uw)
		emit_zext_shl(k, t, a, n);
	else if (n)
		pe_reg2_imm(&k->em, PVM_OPC_shlo_l_imm_64, R(t), R(a), n);
	else
		emit_move(k, R(t), R(a));
	if (b)
		pe_reg3(&k->em, PVM_OPC_add_64, R(rd), R(t), R(b));
	if (slot_used)
		give_back(k, t, 0);
}

/* Zbs: single-bit set / clear / invert / extract */
static void translate_zbs(lk *k, const rv_insn *in)
{
	unsigned rd = in->rd, a = in->rs1, b = in->rs2;
	int imm_form = in->op == RV_BSETI || in->op == RV_BCLRI || in->op == RV_BINVI || in->op == RV_BEXTI;
	rv_op kind = in->op == RV_BSETI ? RV_BSET : in->op == RV_BCLRI ? RV_BCLR : in->op == RV_BINVI ? RV_BINV
		   : in->op == RV_BEXTI ? RV_BEXT : in->op;
	if (rd == 0)
		return;
	if (kind == RV_BEXT) {
		if (a == 0) {
			pe_reg_imm(&k->em, PVM_OPC_load_imm, R(rd), 0);
		} else if (imm_form || b == 0) {
			pe_reg2_imm(&k->em, PVM_OPC_shlo_r_imm_64, R(rd), R(a), imm_form ? in->imm & 63 : 0);
			pe_reg2_imm(&k->em, PVM_OPC_and_imm, R(rd), R(rd), 1);
		} else {
			pe_reg3(&k->em, PVM_OPC_shlo_r_64, R(rd), R(a), R(b));
			pe_reg2_imm(&k->em, PVM_OPC_and_imm, R(rd), R(rd), 1);
		}
		return;
	}
	uint8_t op_imm = kind == RV_BSET ? PVM_OPC_or_imm : kind == RV_BINV ? PVM_OPC_xor_imm : PVM_OPC_and_imm;
	uint8_t op_reg = kind == RV_BSET ? PVM_OPC_or : kind == RV_BINV ? PVM_OPC_xor : PVM_OPC_and_inv;
	if (imm_form || b == 0) {
		unsigned n = imm_form ? (unsigned)in->imm & 63 : 0;
		if (a == 0) {
			emit_const(k, R(rd), kind == RV_BCLR ? 0 : 1ull << n);
		} else if (n < 31) { /* the mask fits a sign-extended 32-bit immediate */
			int64_t m = kind == RV_BCLR ? ~((int64_t)1 << n) : (int64_t)1 << n;
			pe_reg2_imm(&k->em, op_imm, R(rd), R(a), m);
		} else { /* rotate the bit to position 0 and back */
			pe_reg2_imm(&k->em, PVM_OPC_rot_r_64_imm, R(rd), R(a), n);
			pe_reg2_imm(&k->em, op_imm, R(rd), R(rd), kind == RV_BCLR ? -2 : 1);
			pe_reg2_imm(&k->em, PVM_OPC_rot_r_64_imm, R(rd), R(rd), 64 - n);
		}
		return;
	}
	if (a == 0) {
		if (kind == RV_BCLR)
			pe_reg_imm(&k->em, PVM_OPC_load_imm, R(rd), 0);
		else
			pe_reg2_imm(&k->em, PVM_OPC_shlo_l_imm_alt_64, R(rd), R(b), 1);
		return;
	}
	if (rd != a) { /* rd = 1 << rs2, then rd = rs1 OP rd */
		pe_reg2_imm(&k->em, PVM_OPC_shlo_l_imm_alt_64, R(rd), R(b), 1);
		pe_reg3(&k->em, op_reg, R(rd), R(a), R(rd));
	} else if (rd != b) { /* rotate by rs2, change bit 0, rotate back */
		pe_reg3(&k->em, PVM_OPC_rot_r_64, R(rd), R(rd), R(b));
		pe_reg2_imm(&k->em, op_imm, R(rd), R(rd), kind == RV_BCLR ? -2 : 1);
		pe_reg3(&k->em, PVM_OPC_rot_l_64, R(rd), R(rd), R(b));
	} else { /* rd == rs1 == rs2 */
		unsigned t = borrow(k, (1u << rd) | 1u, 0);
		pe_reg2_imm(&k->em, PVM_OPC_shlo_l_imm_alt_64, R(t), R(b), 1);
		pe_reg3(&k->em, op_reg, R(rd), R(rd), R(t));
		give_back(k, t, 0);
	}
}

/* Zbb orc.b: each byte of rs1 becomes 0xff when non-zero, else 0:
 * t2 = ((rs1 & 0x7f..) + 0x7f..) | rs1 sets each byte's top bit iff the
 * byte is non-zero; keep those bits, move them to bit 0, multiply by 0xff. */
static void translate_orcb(lk *k, const rv_insn *in)
{
	unsigned rd = in->rd, a = in->rs1;
	if (rd == 0)
		return;
	if (a == 0) {
		pe_reg_imm(&k->em, PVM_OPC_load_imm, R(rd), 0);
		return;
	}
	uint32_t avoid = (1u << rd) | (1u << a) | 1u;
	unsigned t1 = borrow(k, avoid, 0);
	unsigned t2 = borrow(k, avoid | (1u << t1), 1);
	pe_reg_imm64(&k->em, R(t1), 0x7f7f7f7f7f7f7f7full);
	pe_reg3(&k->em, PVM_OPC_and, R(t2), R(a), R(t1));
	pe_reg3(&k->em, PVM_OPC_add_64, R(t2), R(t2), R(t1));
	pe_reg3(&k->em, PVM_OPC_or, R(t2), R(t2), R(a));
	pe_reg3(&k->em, PVM_OPC_and_inv, R(t2), R(t2), R(t1));
	pe_reg2_imm(&k->em, PVM_OPC_shlo_r_imm_64, R(t2), R(t2), 7);
	pe_reg2_imm(&k->em, PVM_OPC_mul_imm_64, R(rd), R(t2), 0xff);
	give_back(k, t2, 1);
	give_back(k, t1, 0);
}

/* A on one hart: lr = load, sc = store + success (0), amo = load, op,
 * store, old value to rd, through two borrowed temporaries. */
static void translate_amo(lk *k, const rv_insn *in)
{
	unsigned rd = in->rd, a = in->rs1, b = in->rs2;
	int w = in->op == RV_LRW || in->op == RV_SCW || (in->op >= RV_AMOSWAPW && in->op <= RV_AMOMAXUW);
	uint8_t ld = w ? PVM_OPC_load_ind_i32 : PVM_OPC_load_ind_u64, ld_abs = w ? PVM_OPC_load_i32 : PVM_OPC_load_u64;
	uint8_t st = w ? PVM_OPC_store_ind_u32 : PVM_OPC_store_ind_u64;
	if (in->op == RV_LRW || in->op == RV_LRD) {
		if (rd == 0)
			return;
		if (a)
			pe_reg2_imm(&k->em, ld, R(rd), R(a), 0);
		else
			pe_reg_imm(&k->em, ld_abs, R(rd), 0);
		return;
	}
	if (in->op == RV_SCW || in->op == RV_SCD) {
		uint8_t sz = w ? 2 : 3;
		if (a == 0 && b == 0)
			pe_imm2(&k->em, (uint8_t)(PVM_OPC_store_imm_u8 + sz), 0, 0);
		else if (a == 0)
			pe_reg_imm(&k->em, (uint8_t)(PVM_OPC_store_u8 + sz), R(b), 0);
		else if (b == 0)
			pe_reg_imm2(&k->em, (uint8_t)(PVM_OPC_store_imm_ind_u8 + sz), R(a), 0, 0);
		else
			pe_reg2_imm(&k->em, st, R(b), R(a), 0);
		if (rd)
			pe_reg_imm(&k->em, PVM_OPC_load_imm, R(rd), 0); /* always succeeds */
		return;
	}
	uint32_t avoid = (1u << rd) | (1u << a) | (1u << b) | 1u;
	unsigned t1 = borrow(k, avoid, 0);
	unsigned t2 = borrow(k, avoid | (1u << t1), 1);
	if (a)
		pe_reg2_imm(&k->em, ld, R(t1), R(a), 0);
	else
		pe_reg_imm(&k->em, ld_abs, R(t1), 0);
	if (b == 0)
		pe_reg_imm(&k->em, PVM_OPC_load_imm, R(t2), 0);
	else if (w) /* sign-extend: min/max compare 32-bit values (both orders survive it) */
		pe_reg2_imm(&k->em, PVM_OPC_add_imm_32, R(t2), R(b), 0);
	else
		emit_move(k, R(t2), R(b));
	uint8_t op = 0;
	switch (in->op) {
	case RV_AMOADDW: case RV_AMOADDD: op = PVM_OPC_add_64; break;
	case RV_AMOXORW: case RV_AMOXORD: op = PVM_OPC_xor; break;
	case RV_AMOANDW: case RV_AMOANDD: op = PVM_OPC_and; break;
	case RV_AMOORW: case RV_AMOORD: op = PVM_OPC_or; break;
	case RV_AMOMINW: case RV_AMOMIND: op = PVM_OPC_min; break;
	case RV_AMOMAXW: case RV_AMOMAXD: op = PVM_OPC_max; break;
	case RV_AMOMINUW: case RV_AMOMINUD: op = PVM_OPC_min_u; break;
	case RV_AMOMAXUW: case RV_AMOMAXUD: op = PVM_OPC_max_u; break;
	default: break; /* amoswap: the new value is rs2 itself */
	}
	if (op)
		pe_reg3(&k->em, op, R(t2), R(t1), R(t2));
	if (a)
		pe_reg2_imm(&k->em, st, R(t2), R(a), 0);
	else
		pe_reg_imm(&k->em, (uint8_t)(PVM_OPC_store_u8 + (w ? 2 : 3)), R(t2), 0);
	if (rd)
		emit_move(k, R(rd), R(t1));
	give_back(k, t2, 1);
	give_back(k, t1, 0);
}

static int translate(lk *k, size_t i)
{
	const rv_insn *in = &k->ins[i];
	uint64_t a = k->addr[i], next = a + in->len;
	unsigned rd = in->rd, rs1 = in->rs1, rs2 = in->rs2;
	int64_t imm = in->imm;
	char d[128];
	if (k->flags[i] & F_LO) {
		size_t h = k->lo_of[i];
		if (k->flags[h] & F_GOT) { /* ld rd, lo(rs1) reads the GOT: rs1 holds the address */
			if (rd)
				emit_move(k, R(rd), R(rs1));
			return 0;
		}
		if (lk_in_code(k, k->hi_target[h]))
			imm = 0; /* the auipc produced the jump-table address */
		/* a data address: the auipc produced the RISC-V value (data
		 * addresses are PVM addresses), the user adds its own offset */
	}
	switch (in->op) {
	case RV_LUI:
		if (rd == 0)
			return 0;
		/* lui rd, hi; addi(w) rd, rd, lo -> one load_imm */
		if (i + 1 < k->nins && !(k->flags[i + 1] & (F_TARGET | F_LO)) && k->ins[i + 1].rd == rd &&
		    k->ins[i + 1].rs1 == rd && (k->ins[i + 1].op == RV_ADDI || k->ins[i + 1].op == RV_ADDIW)) {
			int64_t v = imm + k->ins[i + 1].imm;
			if (k->ins[i + 1].op == RV_ADDIW)
				v = (int64_t)(int32_t)(uint32_t)(uint64_t)v;
			k->flags[i + 1] |= F_SKIP;
			emit_const(k, R(rd), (uint64_t)v);
			return 0;
		}
		emit_const(k, R(rd), (uint64_t)imm);
		return 0;
	case RV_AUIPC: {
		if (k->flags[i] & F_CALLPAIR) {
			const rv_insn *j = &k->ins[i + 1];
			k->flags[i + 1] |= F_SKIP;
			uint64_t t = a + (uint64_t)imm + (uint64_t)j->imm;
			return call_to(k, j->rd, t, k->addr[i + 1] + j->len);
		}
		/* The register gets: for a GOT entry, the translated address it
		 * holds (its ld becomes a move); for a code address, the
		 * jump-table address (its addi adds 0); for a data address, the
		 * RISC-V value pc + hi20 itself, since data addresses are PVM
		 * addresses: every user adds its own %pcrel_lo, whichever
		 * register it reads the value from. */
		uint64_t t = k->hi_target[i];
		int code = lk_in_code(k, t), got = (k->flags[i] & F_GOT) != 0;
		uint64_t v = code ? lk_jt_addr(k, lk_find_ins(k, t)) : got ? t : a + (uint64_t)imm;
		if (t > 0xFFFFFFFFull || v > 0xFFFFFFFFull)
			return lk_fail(k, "0x%llx: auipc target 0x%llx (symbol %s) is outside the 32-bit PVM address space",
				    (unsigned long long)a, (unsigned long long)t, k->hi_sym[i]);
		if (rd == 0)
			return 0;
		/* fuse with an adjacent user that overwrites the register */
		if (i + 1 < k->nins && (k->flags[i + 1] & F_LO) && k->lo_of[i + 1] == i &&
		    !(k->flags[i + 1] & F_TARGET) && k->ins[i + 1].rd == rd && k->ins[i + 1].rs1 == rd) {
			const rv_insn *u = &k->ins[i + 1];
			uint64_t ea = code || got ? v : v + (uint64_t)u->imm;
			if (got || u->op == RV_ADDI) {
				k->flags[i + 1] |= F_SKIP;
				emit_const(k, R(rd), ea);
				return 0;
			}
			if (load_op(u->op, 1) && ea <= 0xFFFFFFFFull) {
				k->flags[i + 1] |= F_SKIP;
				pe_reg_imm(&k->em, load_op(u->op, 1), R(rd), (int64_t)ea);
				return 0;
			}
		}
		emit_const(k, R(rd), v);
		return 0;
	}
	case RV_JAL:
		return call_to(k, rd, a + (uint64_t)imm, next);
	case RV_JALR: {
		if (rs1 == 0)
			return lk_fail(k, "0x%llx: jalr to an absolute address (x0 base) is not supported", (unsigned long long)a);
		if (imm != 0)
			return lk_fail(k, "0x%llx: indirect jump with non-zero offset %lld is not supported", (unsigned long long)a,
				    (long long)imm);
		if (rd == 0) {
			pe_reg_imm(&k->em, PVM_OPC_jump_ind, R(rs1), 0);
			return 0;
		}
		pe_reg2_imm2(&k->em, PVM_OPC_load_imm_jump_ind, R(rd), R(rs1), lk_jt_addr(k, lk_find_ins(k, next)), 0);
		return 0;
	}
	case RV_BEQ: case RV_BNE: case RV_BLT: case RV_BGE: case RV_BLTU: case RV_BGEU:
		return branch(k, i, a + (uint64_t)imm);
	case RV_LB: case RV_LH: case RV_LW: case RV_LD: case RV_LBU: case RV_LHU: case RV_LWU:
		if (rd == 0)
			return 0;
		if (rs1 == 0)
			pe_reg_imm(&k->em, load_op(in->op, 1), R(rd), imm);
		else
			pe_reg2_imm(&k->em, load_op(in->op, 0), R(rd), R(rs1), imm);
		return 0;
	case RV_SB: case RV_SH: case RV_SW: case RV_SD: {
		uint8_t sz = (uint8_t)store_size(in->op);
		if (rs1 == 0 && rs2 == 0)
			pe_imm2(&k->em, (uint8_t)(PVM_OPC_store_imm_u8 + sz), imm, 0);
		else if (rs1 == 0)
			pe_reg_imm(&k->em, (uint8_t)(PVM_OPC_store_u8 + sz), R(rs2), imm);
		else if (rs2 == 0)
			pe_reg_imm2(&k->em, (uint8_t)(PVM_OPC_store_imm_ind_u8 + sz), R(rs1), imm, 0);
		else
			pe_reg2_imm(&k->em, (uint8_t)(PVM_OPC_store_ind_u8 + sz), R(rs2), R(rs1), imm);
		return 0;
	}
	case RV_ADDI: case RV_SLTI: case RV_SLTIU: case RV_XORI: case RV_ORI: case RV_ANDI: case RV_SLLI:
	case RV_SRLI: case RV_SRAI: case RV_ADDIW: case RV_SLLIW: case RV_SRLIW: case RV_SRAIW: case RV_RORI:
	case RV_RORIW:
		if (rd == 0)
			return 0;
		if (rs1 == 0) {
			emit_const(k, R(rd), fold_imm(in->op, imm));
			return 0;
		}
		if (in->op == RV_ADDI && imm == 0) {
			emit_move(k, R(rd), R(rs1));
			return 0;
		}
		pe_reg2_imm(&k->em, imm_op(in->op), R(rd), R(rs1), imm);
		return 0;
	case RV_CLZ: case RV_CLZW: case RV_CTZ: case RV_CTZW: case RV_CPOP: case RV_CPOPW: case RV_SEXTB:
	case RV_SEXTH: case RV_ZEXTH: case RV_REV8: {
		static const struct { rv_op op; uint8_t pvm; uint64_t zero; } m[] = {
			{RV_CLZ, PVM_OPC_leading_zero_bits_64, 64}, {RV_CLZW, PVM_OPC_leading_zero_bits_32, 32}, {RV_CTZ, PVM_OPC_trailing_zero_bits_64, 64}, {RV_CTZW, PVM_OPC_trailing_zero_bits_32, 32},
			{RV_CPOP, PVM_OPC_count_set_bits_64, 0}, {RV_CPOPW, PVM_OPC_count_set_bits_32, 0}, {RV_SEXTB, PVM_OPC_sign_extend_8, 0}, {RV_SEXTH, PVM_OPC_sign_extend_16, 0},
			{RV_ZEXTH, PVM_OPC_zero_extend_16, 0}, {RV_REV8, PVM_OPC_reverse_bytes, 0},
		};
		if (rd == 0)
			return 0;
		for (size_t q = 0; q < sizeof m / sizeof m[0]; q++)
			if (m[q].op == in->op) {
				if (rs1 == 0)
					emit_const(k, R(rd), m[q].zero);
				else
					pe_reg2(&k->em, m[q].pvm, R(rd), R(rs1));
			}
		return 0;
	}
	case RV_SH1ADD: case RV_SH2ADD: case RV_SH3ADD: case RV_ADDUW: case RV_SH1ADDUW: case RV_SH2ADDUW:
	case RV_SH3ADDUW: case RV_SLLIUW:
		translate_zba(k, in);
		return 0;
	case RV_BSET: case RV_BCLR: case RV_BINV: case RV_BEXT: case RV_BSETI: case RV_BCLRI: case RV_BINVI:
	case RV_BEXTI:
		translate_zbs(k, in);
		return 0;
	case RV_ORCB:
		translate_orcb(k, in);
		return 0;
	case RV_LRW: case RV_LRD: case RV_SCW: case RV_SCD: case RV_AMOSWAPW: case RV_AMOADDW: case RV_AMOXORW:
	case RV_AMOANDW: case RV_AMOORW: case RV_AMOMINW: case RV_AMOMAXW: case RV_AMOMINUW: case RV_AMOMAXUW:
	case RV_AMOSWAPD: case RV_AMOADDD: case RV_AMOXORD: case RV_AMOANDD: case RV_AMOORD: case RV_AMOMIND:
	case RV_AMOMAXD: case RV_AMOMINUD: case RV_AMOMAXUD:
		translate_amo(k, in);
		return 0;
	case RV_FENCE: case RV_FENCEI:
		return 0;
	case RV_EBREAK: case RV_UNIMP:
		pe_op(&k->em, PVM_OPC_trap);
		return 0;
	case RV_NUB_ECALLI:
		pe_imm(&k->em, PVM_OPC_ecalli, (uint32_t)(in->imm & 0xfff));
		return 0;
	case RV_ECALL:
		return lk_fail(k, "0x%llx: bare ecall is not supported: use NUB_HOSTCALL (sdk/include/nub_guest.h)",
			    (unsigned long long)a);
	default:
		if (reg3_op(in->op)) {
			if (rd == 0)
				return 0;
			return translate_reg3(k, in);
		}
		lk_describe(k, i, d, sizeof d);
		return lk_fail(k, "0x%llx: unsupported instruction: %s", (unsigned long long)a, d);
	}
}

/* Code offset a fixup targets: an instruction (to <= nins: its PVM offset)
 * or, above that, export x's constructor stub (to = nins + 1 + x). */
static size_t fix_target(const lk *k, size_t to)
{
	return to <= k->nins ? k->pvm_off[to] : k->stub_off[to - k->nins - 1];
}

/* Export x's constructor stub: save φ7..φ12 and ra on the stack, call each
 * constructor (returning to a jump-table entry of its own), restore, and
 * jump to the entry. Emitted after the code; exports jump here instead. */
#define CTOR_FRAME 64 /* a0..a5, ra; 16-byte aligned */
static int emit_ctor_stub(lk *k, size_t x)
{
	static const uint8_t saved[] = {10, 11, 12, 13, 14, 15, 1}; /* a0..a5, ra */
	k->stub_off[x] = k->em.len;
	pe_reg2_imm(&k->em, PVM_OPC_add_imm_64, R(2), R(2), -CTOR_FRAME);
	for (size_t r = 0; r < sizeof saved; r++)
		pe_reg2_imm(&k->em, PVM_OPC_store_ind_u64, R(saved[r]), R(2), (int64_t)(8 * r));
	for (size_t c = 0; c < k->nctor; c++) {
		size_t m = x * k->nctor + c;
		size_t at = pe_reg_imm_off(&k->em, PVM_OPC_load_imm_jump, R(1), PVM_JT_ADDR(k->jt_ret_base + m),
					   next_off_len(k));
		if (add_fix(k, at, k->ctor[c]))
			return -1;
		k->ret_off[m] = k->em.len; /* a block start: load_imm_jump ends a block */
	}
	for (size_t r = 0; r < sizeof saved; r++)
		pe_reg2_imm(&k->em, PVM_OPC_load_ind_u64, R(saved[r]), R(2), (int64_t)(8 * r));
	pe_reg2_imm(&k->em, PVM_OPC_add_imm_64, R(2), R(2), CTOR_FRAME);
	return add_fix(k, pe_off(&k->em, PVM_OPC_jump, next_off_len(k)), lk_find_ins(k, k->exp_addr[x]));
}

/* One translation pass with the current offset widths. */
static int emit_pass(lk *k)
{
	pe_free(&k->em);
	k->nfix = 0;
	if (pe_init(&k->em))
		return lk_fail(k, "out of memory");
	/* dispatch prologue: export i at pc 5*i, each a 5-byte jump */
	for (size_t x = 0; x < k->nexp; x++) {
		size_t at = pe_off(&k->em, PVM_OPC_jump, 4);
		if (at != 5 * x)
			return lk_fail(k, "internal: dispatch entry %zu at %zu", x, at);
		if (add_fix(k, at, k->nctor ? k->nins + 1 + x : lk_find_ins(k, k->exp_addr[x])))
			return -1;
	}
	for (size_t i = 0; i < k->nins; i++) {
		if ((k->flags[i] & F_TARGET) && !pe_last_is_term(&k->em))
			pe_op(&k->em, PVM_OPC_fallthrough);
		k->pvm_off[i] = k->em.len;
		if (k->flags[i] & F_SKIP)
			continue;
		if (translate(k, i))
			return -1;
		if (pe_failed(&k->em))
			return lk_fail(k, "out of memory");
	}
	k->pvm_off[k->nins] = k->em.len;
	pe_op(&k->em, PVM_OPC_trap); /* code may run off the end: trap */
	for (size_t x = 0; x < k->nexp && k->nctor; x++)
		if (emit_ctor_stub(k, x))
			return -1;
	if (pe_failed(&k->em))
		return lk_fail(k, "out of memory");
	return 0;
}

/* Emit with the smallest jump/branch offsets: start at 1 byte each, widen
 * those that do not fit and re-emit (widths only grow, so this ends). */
int lk_emit_all(lk *k)
{
	if (k->nctor) {
		k->stub_off = calloc(k->nexp, sizeof *k->stub_off);
		k->ret_off = calloc(k->nexp * k->nctor, sizeof *k->ret_off);
		if (!k->stub_off || !k->ret_off)
			return lk_fail(k, "out of memory");
	}
	for (int round = 0; round < 16; round++) {
		if (emit_pass(k))
			return -1;
		if (round == 0) {
			free(k->fix_len);
			k->fix_len = malloc(k->nfix ? k->nfix : 1);
			if (!k->fix_len)
				return lk_fail(k, "out of memory");
			for (size_t f = 0; f < k->nfix; f++)
				k->fix_len[f] = (uint8_t)(f < k->nexp ? 4 : 1);
			k->nfix_len = k->nfix;
		}
		if (k->nfix != k->nfix_len)
			return lk_fail(k, "internal: fixup count changed between passes");
		int changed = 0;
		for (size_t f = 0; f < k->nfix; f++) {
			int64_t off = (int64_t)fix_target(k, k->fix_to[f]) - (int64_t)k->fix_at[f];
			unsigned need = pe_off_len(off);
			if (need > k->fix_len[f]) {
				k->fix_len[f] = (uint8_t)need;
				changed = 1;
			}
		}
		if (round == 0)
			changed = 1; /* round 0 used width 1 everywhere: re-emit with the table */
		if (changed)
			continue;
		for (size_t f = 0; f < k->nfix; f++)
			if (pe_patch_off(&k->em, k->fix_at[f], fix_target(k, k->fix_to[f]), k->fix_len[f]))
				return lk_fail(k, "internal: jump offset does not fit at %zu", k->fix_at[f]);
		return 0;
	}
	return lk_fail(k, "internal: jump offset widths did not converge");
}

