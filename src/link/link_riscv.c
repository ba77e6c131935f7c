/* link_riscv.c: RV64E/I + M + A + C + Zba + Zbb + Zbs + XTheadCondMov decoder
 * for `nub link`.
 * Compressed instructions are expanded to their 32-bit equivalents. */
#include "link/link.h"

#include <stdio.h>
#include <string.h>

static const char *const rv_names[] = {
#define RV_OP_NAME(n, s) s,
	RV_OPS(RV_OP_NAME)
#undef RV_OP_NAME
};
_Static_assert(sizeof rv_names / sizeof rv_names[0] == RV_OP_MAX_, "rv name table");

const char *rv_op_name(rv_op op)
{
	return (unsigned)op < RV_OP_MAX_ ? rv_names[op] : "?";
}

static int64_t sext(uint64_t v, unsigned bits)
{
	uint64_t m = 1ull << (bits - 1);
	v &= (bits == 64) ? ~0ull : ((1ull << bits) - 1);
	return (int64_t)((v ^ m) - m);
}

static uint32_t bits(uint32_t v, unsigned hi, unsigned lo)
{
	return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static void set(rv_insn *o, rv_op op, unsigned rd, unsigned rs1, unsigned rs2, int64_t imm)
{
	o->op = op;
	o->rd = (uint8_t)rd;
	o->rs1 = (uint8_t)rs1;
	o->rs2 = (uint8_t)rs2;
	o->imm = imm;
}

static int decode32(uint32_t w, rv_insn *o)
{
	unsigned opc = w & 0x7f, rd = bits(w, 11, 7), f3 = bits(w, 14, 12), rs1 = bits(w, 19, 15),
		 rs2 = bits(w, 24, 20), f7 = bits(w, 31, 25);
	int64_t immi = sext(w >> 20, 12);
	int64_t imms = sext((bits(w, 31, 25) << 5) | bits(w, 11, 7), 12);
	int64_t immb = sext((bits(w, 31, 31) << 12) | (bits(w, 7, 7) << 11) | (bits(w, 30, 25) << 5) |
				    (bits(w, 11, 8) << 1),
			    13);
	int64_t immu = sext(w & 0xfffff000u, 32);
	int64_t immj = sext((bits(w, 31, 31) << 20) | (bits(w, 19, 12) << 12) | (bits(w, 20, 20) << 11) |
				    (bits(w, 30, 21) << 1),
			    21);
	switch (opc) {
	case 0x37: set(o, RV_LUI, rd, 0, 0, immu); return 0;
	case 0x17: set(o, RV_AUIPC, rd, 0, 0, immu); return 0;
	case 0x6f: set(o, RV_JAL, rd, 0, 0, immj); return 0;
	case 0x67:
		if (f3 != 0)
			return -1;
		set(o, RV_JALR, rd, rs1, 0, immi);
		return 0;
	case 0x63: {
		static const rv_op br[8] = {RV_BEQ, RV_BNE, RV_ILLEGAL, RV_ILLEGAL, RV_BLT, RV_BGE, RV_BLTU, RV_BGEU};
		if (br[f3] == RV_ILLEGAL)
			return -1;
		set(o, br[f3], 0, rs1, rs2, immb);
		return 0;
	}
	case 0x03: {
		static const rv_op ld[8] = {RV_LB, RV_LH, RV_LW, RV_LD, RV_LBU, RV_LHU, RV_LWU, RV_ILLEGAL};
		if (ld[f3] == RV_ILLEGAL)
			return -1;
		set(o, ld[f3], rd, rs1, 0, immi);
		return 0;
	}
	case 0x23: {
		static const rv_op st[8] = {RV_SB, RV_SH, RV_SW, RV_SD, RV_ILLEGAL, RV_ILLEGAL, RV_ILLEGAL, RV_ILLEGAL};
		if (st[f3] == RV_ILLEGAL)
			return -1;
		set(o, st[f3], 0, rs1, rs2, imms);
		return 0;
	}
	case 0x13: {
		unsigned sh = bits(w, 25, 20), f6 = bits(w, 31, 26);
		switch (f3) {
		case 0: set(o, RV_ADDI, rd, rs1, 0, immi); return 0;
		case 2: set(o, RV_SLTI, rd, rs1, 0, immi); return 0;
		case 3: set(o, RV_SLTIU, rd, rs1, 0, immi); return 0;
		case 4: set(o, RV_XORI, rd, rs1, 0, immi); return 0;
		case 6: set(o, RV_ORI, rd, rs1, 0, immi); return 0;
		case 7: set(o, RV_ANDI, rd, rs1, 0, immi); return 0;
		case 1:
			if (f6 == 0) { set(o, RV_SLLI, rd, rs1, 0, sh); return 0; }
			if (f6 == 0x0a) { set(o, RV_BSETI, rd, rs1, 0, sh); return 0; }
			if (f6 == 0x12) { set(o, RV_BCLRI, rd, rs1, 0, sh); return 0; }
			if (f6 == 0x1a) { set(o, RV_BINVI, rd, rs1, 0, sh); return 0; }
			if (f7 == 0x30) {
				switch (rs2) {
				case 0: set(o, RV_CLZ, rd, rs1, 0, 0); return 0;
				case 1: set(o, RV_CTZ, rd, rs1, 0, 0); return 0;
				case 2: set(o, RV_CPOP, rd, rs1, 0, 0); return 0;
				case 4: set(o, RV_SEXTB, rd, rs1, 0, 0); return 0;
				case 5: set(o, RV_SEXTH, rd, rs1, 0, 0); return 0;
				default: return -1;
				}
			}
			return -1;
		case 5:
			if (f6 == 0) { set(o, RV_SRLI, rd, rs1, 0, sh); return 0; }
			if (f6 == 0x10) { set(o, RV_SRAI, rd, rs1, 0, sh); return 0; }
			if (f6 == 0x18) { set(o, RV_RORI, rd, rs1, 0, sh); return 0; }
			if (f6 == 0x12) { set(o, RV_BEXTI, rd, rs1, 0, sh); return 0; }
			if ((w >> 20) == 0x287) { set(o, RV_ORCB, rd, rs1, 0, 0); return 0; }
			if ((w >> 20) == 0x6b8) { set(o, RV_REV8, rd, rs1, 0, 0); return 0; }
			return -1;
		}
		return -1;
	}
	case 0x1b:
		switch (f3) {
		case 0: set(o, RV_ADDIW, rd, rs1, 0, immi); return 0;
		case 1:
			if (f7 == 0) { set(o, RV_SLLIW, rd, rs1, 0, rs2); return 0; }
			if (bits(w, 31, 26) == 0x02) { set(o, RV_SLLIUW, rd, rs1, 0, bits(w, 25, 20)); return 0; }
			if (f7 == 0x30) {
				switch (rs2) {
				case 0: set(o, RV_CLZW, rd, rs1, 0, 0); return 0;
				case 1: set(o, RV_CTZW, rd, rs1, 0, 0); return 0;
				case 2: set(o, RV_CPOPW, rd, rs1, 0, 0); return 0;
				default: return -1;
				}
			}
			return -1;
		case 5:
			if (f7 == 0) { set(o, RV_SRLIW, rd, rs1, 0, rs2); return 0; }
			if (f7 == 0x20) { set(o, RV_SRAIW, rd, rs1, 0, rs2); return 0; }
			if (f7 == 0x30) { set(o, RV_RORIW, rd, rs1, 0, rs2); return 0; }
			return -1;
		}
		return -1;
	case 0x33: {
		rv_op op = RV_ILLEGAL;
		if (f7 == 0x00) {
			static const rv_op t[8] = {RV_ADD, RV_SLL, RV_SLT, RV_SLTU, RV_XOR, RV_SRL, RV_OR, RV_AND};
			op = t[f3];
		} else if (f7 == 0x20) {
			static const rv_op t[8] = {RV_SUB, RV_ILLEGAL, RV_ILLEGAL, RV_ILLEGAL, RV_XNOR, RV_SRA, RV_ORN, RV_ANDN};
			op = t[f3];
		} else if (f7 == 0x01) {
			static const rv_op t[8] = {RV_MUL, RV_MULH, RV_MULHSU, RV_MULHU, RV_DIV, RV_DIVU, RV_REM, RV_REMU};
			op = t[f3];
		} else if (f7 == 0x05) {
			static const rv_op t[8] = {RV_ILLEGAL, RV_ILLEGAL, RV_ILLEGAL, RV_ILLEGAL, RV_MIN, RV_MINU, RV_MAX, RV_MAXU};
			op = t[f3];
		} else if (f7 == 0x30) {
			if (f3 == 1) op = RV_ROL;
			else if (f3 == 5) op = RV_ROR;
		} else if (f7 == 0x10) { /* Zba */
			if (f3 == 2) op = RV_SH1ADD;
			else if (f3 == 4) op = RV_SH2ADD;
			else if (f3 == 6) op = RV_SH3ADD;
		} else if (f7 == 0x14 && f3 == 1) { /* Zbs */
			op = RV_BSET;
		} else if (f7 == 0x24) {
			if (f3 == 1) op = RV_BCLR;
			else if (f3 == 5) op = RV_BEXT;
		} else if (f7 == 0x34 && f3 == 1) {
			op = RV_BINV;
		}
		if (op == RV_ILLEGAL)
			return -1;
		set(o, op, rd, rs1, rs2, 0);
		return 0;
	}
	case 0x3b: {
		rv_op op = RV_ILLEGAL;
		if (f7 == 0x00) {
			if (f3 == 0) op = RV_ADDW;
			else if (f3 == 1) op = RV_SLLW;
			else if (f3 == 5) op = RV_SRLW;
		} else if (f7 == 0x20) {
			if (f3 == 0) op = RV_SUBW;
			else if (f3 == 5) op = RV_SRAW;
		} else if (f7 == 0x01) {
			static const rv_op t[8] = {RV_MULW, RV_ILLEGAL, RV_ILLEGAL, RV_ILLEGAL, RV_DIVW, RV_DIVUW, RV_REMW, RV_REMUW};
			op = t[f3];
		} else if (f7 == 0x04 && f3 == 4 && rs2 == 0) {
			op = RV_ZEXTH;
		} else if (f7 == 0x30) {
			if (f3 == 1) op = RV_ROLW;
			else if (f3 == 5) op = RV_RORW;
		} else if (f7 == 0x04 && f3 == 0) { /* Zba */
			op = RV_ADDUW;
		} else if (f7 == 0x10) {
			if (f3 == 2) op = RV_SH1ADDUW;
			else if (f3 == 4) op = RV_SH2ADDUW;
			else if (f3 == 6) op = RV_SH3ADDUW;
		}
		if (op == RV_ILLEGAL)
			return -1;
		set(o, op, rd, rs1, op == RV_ZEXTH ? 0 : rs2, 0);
		return 0;
	}
	case 0x2f: { /* A: aq/rl (bits 26:25) do not matter on one hart */
		static const struct { uint8_t f5; rv_op w, d; } amo[] = {
			{0x02, RV_LRW, RV_LRD},         {0x03, RV_SCW, RV_SCD},         {0x01, RV_AMOSWAPW, RV_AMOSWAPD},
			{0x00, RV_AMOADDW, RV_AMOADDD}, {0x04, RV_AMOXORW, RV_AMOXORD}, {0x0c, RV_AMOANDW, RV_AMOANDD},
			{0x08, RV_AMOORW, RV_AMOORD},   {0x10, RV_AMOMINW, RV_AMOMIND}, {0x14, RV_AMOMAXW, RV_AMOMAXD},
			{0x18, RV_AMOMINUW, RV_AMOMINUD}, {0x1c, RV_AMOMAXUW, RV_AMOMAXUD},
		};
		unsigned f5 = bits(w, 31, 27);
		if (f3 != 2 && f3 != 3)
			return -1;
		for (size_t i = 0; i < sizeof amo / sizeof amo[0]; i++)
			if (amo[i].f5 == f5) {
				if (f5 == 0x02 && rs2 != 0)
					return -1;
				set(o, f3 == 2 ? amo[i].w : amo[i].d, rd, rs1, rs2, 0);
				return 0;
			}
		return -1;
	}
	case 0x0f:
		if (f3 == 0) { set(o, RV_FENCE, 0, 0, 0, 0); return 0; }
		if (f3 == 1) { set(o, RV_FENCEI, 0, 0, 0, 0); return 0; }
		return -1;
	case 0x73:
		if (w == 0x00000073) { set(o, RV_ECALL, 0, 0, 0, 0); return 0; }
		if (w == 0x00100073) { set(o, RV_EBREAK, 0, 0, 0, 0); return 0; }
		if (w == 0xc0001073) { set(o, RV_UNIMP, 0, 0, 0, 0); return 0; }
		if (f3 != 0 && f3 != 4) { set(o, RV_CSR, rd, rs1, 0, (int64_t)(w >> 20)); return 0; }
		return -1;
	case RV_NUB_ECALLI_OPCODE:
		if (f3 == 0 && rd == 0 && rs1 == 0) {
			set(o, RV_NUB_ECALLI, 0, 0, 0, (int64_t)(w >> 20));
			return 0;
		}
		if (f3 == 1 && f7 == 0x20) { set(o, RV_TH_MVEQZ, rd, rs1, rs2, 0); return 0; }
		if (f3 == 1 && f7 == 0x21) { set(o, RV_TH_MVNEZ, rd, rs1, rs2, 0); return 0; }
		return -1;
	default:
		return -1;
	}
}

/* RVC register field (3 bits) -> x8..x15 */
static unsigned cr(unsigned v) { return 8 + v; }

static int decode16(uint32_t h, rv_insn *o)
{
	unsigned q = h & 3, f3 = bits(h, 15, 13);
	unsigned rd = bits(h, 11, 7), rs2 = bits(h, 6, 2);
	unsigned rdp = cr(bits(h, 4, 2)), rs1p = cr(bits(h, 9, 7));
	if (h == 0) {
		set(o, RV_UNIMP, 0, 0, 0, 0);
		return 0;
	}
	if (q == 0) {
		uint32_t uimm_w = (bits(h, 12, 10) << 3) | (bits(h, 6, 6) << 2) | (bits(h, 5, 5) << 6);
		uint32_t uimm_d = (bits(h, 12, 10) << 3) | (bits(h, 6, 5) << 6);
		switch (f3) {
		case 0: {
			uint32_t nz = (bits(h, 12, 11) << 4) | (bits(h, 10, 7) << 6) | (bits(h, 6, 6) << 2) |
				      (bits(h, 5, 5) << 3);
			if (nz == 0)
				return -1;
			set(o, RV_ADDI, rdp, 2, 0, nz); /* c.addi4spn */
			return 0;
		}
		case 2: set(o, RV_LW, rdp, rs1p, 0, uimm_w); return 0;
		case 3: set(o, RV_LD, rdp, rs1p, 0, uimm_d); return 0;
		case 6: set(o, RV_SW, 0, rs1p, rdp, uimm_w); return 0;
		case 7: set(o, RV_SD, 0, rs1p, rdp, uimm_d); return 0;
		default: return -1; /* c.fld, c.fsd, reserved */
		}
	}
	if (q == 1) {
		int64_t imm6 = sext((bits(h, 12, 12) << 5) | bits(h, 6, 2), 6);
		int64_t jimm = sext((bits(h, 12, 12) << 11) | (bits(h, 11, 11) << 4) | (bits(h, 10, 9) << 8) |
					    (bits(h, 8, 8) << 10) | (bits(h, 7, 7) << 6) | (bits(h, 6, 6) << 7) |
					    (bits(h, 5, 3) << 1) | (bits(h, 2, 2) << 5),
				    12);
		int64_t bimm = sext((bits(h, 12, 12) << 8) | (bits(h, 11, 10) << 3) | (bits(h, 6, 5) << 6) |
					    (bits(h, 4, 3) << 1) | (bits(h, 2, 2) << 5),
				    9);
		switch (f3) {
		case 0: set(o, RV_ADDI, rd, rd, 0, imm6); return 0; /* c.nop / c.addi */
		case 1:
			if (rd == 0)
				return -1;
			set(o, RV_ADDIW, rd, rd, 0, imm6);
			return 0;
		case 2: set(o, RV_ADDI, rd, 0, 0, imm6); return 0; /* c.li */
		case 3:
			if (rd == 2) {
				int64_t nz = sext((bits(h, 12, 12) << 9) | (bits(h, 6, 6) << 4) | (bits(h, 5, 5) << 6) |
							  (bits(h, 4, 3) << 7) | (bits(h, 2, 2) << 5),
						  10);
				if (nz == 0)
					return -1;
				set(o, RV_ADDI, 2, 2, 0, nz); /* c.addi16sp */
				return 0;
			}
			if (imm6 == 0)
				return -1;
			set(o, RV_LUI, rd, 0, 0, imm6 * 4096); /* c.lui */
			return 0;
		case 4: {
			unsigned f2 = bits(h, 11, 10);
			unsigned sh = (bits(h, 12, 12) << 5) | bits(h, 6, 2);
			if (f2 == 0) { set(o, RV_SRLI, rs1p, rs1p, 0, sh); return 0; }
			if (f2 == 1) { set(o, RV_SRAI, rs1p, rs1p, 0, sh); return 0; }
			if (f2 == 2) { set(o, RV_ANDI, rs1p, rs1p, 0, imm6); return 0; }
			unsigned f = (bits(h, 12, 12) << 2) | bits(h, 6, 5);
			static const rv_op t[8] = {RV_SUB, RV_XOR, RV_OR, RV_AND, RV_SUBW, RV_ADDW, RV_ILLEGAL, RV_ILLEGAL};
			if (t[f] == RV_ILLEGAL)
				return -1; /* Zcb forms not enabled */
			set(o, t[f], rs1p, rs1p, rdp, 0);
			return 0;
		}
		case 5: set(o, RV_JAL, 0, 0, 0, jimm); return 0; /* c.j */
		case 6: set(o, RV_BEQ, 0, rs1p, 0, bimm); return 0;
		case 7: set(o, RV_BNE, 0, rs1p, 0, bimm); return 0;
		}
		return -1;
	}
	if (q == 2) {
		unsigned sh = (bits(h, 12, 12) << 5) | bits(h, 6, 2);
		switch (f3) {
		case 0: set(o, RV_SLLI, rd, rd, 0, sh); return 0;
		case 2: {
			uint32_t off = (bits(h, 12, 12) << 5) | (bits(h, 6, 4) << 2) | (bits(h, 3, 2) << 6);
			if (rd == 0)
				return -1;
			set(o, RV_LW, rd, 2, 0, off);
			return 0;
		}
		case 3: {
			uint32_t off = (bits(h, 12, 12) << 5) | (bits(h, 6, 5) << 3) | (bits(h, 4, 2) << 6);
			if (rd == 0)
				return -1;
			set(o, RV_LD, rd, 2, 0, off);
			return 0;
		}
		case 4:
			if (bits(h, 12, 12) == 0) {
				if (rs2 == 0) {
					if (rd == 0)
						return -1;
					set(o, RV_JALR, 0, rd, 0, 0); /* c.jr */
				} else {
					set(o, RV_ADD, rd, 0, rs2, 0); /* c.mv */
				}
				return 0;
			}
			if (rd == 0 && rs2 == 0) { set(o, RV_EBREAK, 0, 0, 0, 0); return 0; }
			if (rs2 == 0) { set(o, RV_JALR, 1, rd, 0, 0); return 0; } /* c.jalr */
			set(o, RV_ADD, rd, rd, rs2, 0);
			return 0;
		case 6: {
			uint32_t off = (bits(h, 12, 9) << 2) | (bits(h, 8, 7) << 6);
			set(o, RV_SW, 0, 2, rs2, off);
			return 0;
		}
		case 7: {
			uint32_t off = (bits(h, 12, 10) << 3) | (bits(h, 9, 7) << 6);
			set(o, RV_SD, 0, 2, rs2, off);
			return 0;
		}
		default: return -1; /* c.fldsp, c.fsdsp */
		}
	}
	return -1;
}

int rv_decode(const uint8_t *p, size_t avail, rv_insn *out)
{
	memset(out, 0, sizeof *out);
	out->op = RV_ILLEGAL;
	if (avail < 2) {
		out->len = (uint8_t)avail;
		return -1;
	}
	uint32_t lo = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
	if ((lo & 3) != 3) {
		out->len = 2;
		out->raw = lo;
		if (decode16(lo, out) != 0) {
			out->op = RV_ILLEGAL;
			return -1;
		}
		return 0;
	}
	if ((lo & 0x1f) == 0x1f || avail < 4) { /* 48-bit+ encodings or truncated */
		out->len = (uint8_t)(avail < 4 ? avail : 2);
		out->raw = lo;
		return -1;
	}
	uint32_t w = lo | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
	out->len = 4;
	out->raw = w;
	if (decode32(w, out) != 0) {
		out->op = RV_ILLEGAL;
		return -1;
	}
	return 0;
}

void rv_format(const rv_insn *in, char *buf, size_t cap)
{
	char raw[16];
	if (in->len == 2)
		snprintf(raw, sizeof raw, "%04x", in->raw & 0xffff);
	else
		snprintf(raw, sizeof raw, "%08x", in->raw);
	if (in->op == RV_ILLEGAL) {
		snprintf(buf, cap, "unknown instruction (encoding 0x%s)", raw);
		return;
	}
	snprintf(buf, cap, "%s rd=x%u rs1=x%u rs2=x%u imm=%lld (encoding 0x%s)", rv_op_name(in->op), in->rd,
		 in->rs1, in->rs2, (long long)in->imm, raw);
}
