/* pvm_disasm.c: disassembler driven by the instruction table (freestanding). */
#include "pvm_insn.h"

typedef struct {
	char *p;
	size_t cap, n;
} sbuf;

static void put_c(sbuf *b, char c)
{
	if (b->n + 1 < b->cap)
		b->p[b->n++] = c;
}

static void put_s(sbuf *b, const char *s)
{
	while (*s)
		put_c(b, *s++);
}

static void put_u(sbuf *b, uint64_t v)
{
	char t[24];
	int n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		put_c(b, t[--n]);
}

static void put_x(sbuf *b, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	char t[16];
	int n = 0;
	put_s(b, "0x");
	do {
		t[n++] = hex[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		put_c(b, t[--n]);
}

/* immediates: small magnitudes in decimal, others in hex */
static void put_imm(sbuf *b, uint64_t v)
{
	if ((int64_t)v < 0 && (int64_t)v > -65536) {
		put_c(b, '-');
		put_u(b, (uint64_t)(-(int64_t)v));
	} else if (v < 65536) {
		put_u(b, v);
	} else {
		put_x(b, v);
	}
}

static void put_r(sbuf *b, unsigned r)
{
	put_c(b, 'r');
	put_u(b, r);
}

static void put_simm32(sbuf *b, uint32_t v)
{
	put_imm(b, (uint64_t)(int64_t)(int32_t)v);
}

/* Operands per format, in print order: a/b/d registers, i imm, s imm2 as a
 * signed value, u imm as u32, t target, X [imm2] address, M [rA + imm2]. */
static const char *const operands[] = {
	[PVM_FMT_NONE] = "",        [PVM_FMT_IMM] = "u",          [PVM_FMT_REG_EXTIMM] = "ai",
	[PVM_FMT_IMM2] = "Xi",      [PVM_FMT_OFF] = "t",          [PVM_FMT_REG_IMM] = "ai",
	[PVM_FMT_REG_IMM2] = "Mi",  [PVM_FMT_REG_IMM_OFF] = "ait", [PVM_FMT_REG2] = "da",
	[PVM_FMT_REG2_IMM] = "abi", [PVM_FMT_REG2_OFF] = "abt",   [PVM_FMT_REG2_IMM2] = "abis",
	[PVM_FMT_REG3] = "dab",
};

static void put_operand(sbuf *b, char k, const pvm_insn *in)
{
	switch (k) {
	case 'a':
		put_r(b, in->a);
		break;
	case 'b':
		put_r(b, in->b);
		break;
	case 'd':
		put_r(b, in->d);
		break;
	case 'i':
		put_imm(b, in->imm);
		break;
	case 's':
		put_simm32(b, in->imm2);
		break;
	case 'u':
		put_u(b, (uint32_t)in->imm);
		break;
	case 't':
		put_c(b, '@');
		put_u(b, in->target);
		break;
	case 'X':
		put_c(b, '[');
		put_x(b, in->imm2);
		put_c(b, ']');
		break;
	case 'M':
		put_c(b, '[');
		put_r(b, in->a);
		put_s(b, " + ");
		put_simm32(b, in->imm2);
		put_c(b, ']');
		break;
	}
}

uint32_t pvm_disasm(const pvm_program *p, uint32_t pc, char *buf, size_t cap)
{
	pvm_insn in;
	sbuf b = {buf, cap, 0};
	uint32_t next = pvm_decode_one(p, pc, &in);
	bool marked = pc < p->code_len && pvm_bit(p->bitmask, pc);
	if (marked && pvm_opcode_map[p->code[pc]] == 0) {
		put_s(&b, "invalid opcode ");
		put_u(&b, p->code[pc]);
		put_s(&b, " (trap)");
	} else if (!marked) {
		put_s(&b, pc >= p->code_len ? "trap (past the code)" : "trap (not an instruction start)");
	} else {
		const struct pvm_op_info *oi = &pvm_op_info[in.opi];
		put_s(&b, oi->name);
		for (const char *k = operands[oi->fmt]; *k; k++) {
			put_s(&b, k == operands[oi->fmt] ? " " : ", ");
			put_operand(&b, *k, &in);
		}
	}
	if (cap)
		buf[b.n] = 0;
	return next;
}
