/* pvm_decode.c: program blob (deblob) parsing and one-time decoding. */
#include "pvm_insn.h"
#include "pvm_platform.h"

const struct pvm_op_info pvm_op_info[PVM_I_COUNT] = {
#define PVM_OP(name, code, fmt, flags) {#name, code, PVM_FMT_##fmt, flags},
#include "pvm_opcodes.h"
#undef PVM_OP
};

const uint8_t pvm_opcode_map[256] = {
#define PVM_OP(name, code, fmt, flags) [code] = PVM_I_##name + 1,
#include "pvm_opcodes.h"
#undef PVM_OP
};

/* ---- byte reader ------------------------------------------------------- */

typedef struct {
	const uint8_t *p;
	size_t len, off;
} reader;

static bool rd_u8(reader *r, uint8_t *v)
{
	if (r->off >= r->len)
		return false;
	*v = r->p[r->off++];
	return true;
}

/* JAM varint (FORMATS.md 1.2), strict: non-minimal forms are refused. */
static pvm_err rd_varint(reader *r, uint64_t *out)
{
	uint8_t b;
	if (!rd_u8(r, &b))
		return PVM_E_BLOB_TRUNCATED;
	unsigned l = 0;
	while (l < 8 && (b & (0x80u >> l)))
		l++;
	if (r->len - r->off < l)
		return PVM_E_BLOB_TRUNCATED;
	uint64_t low = 0;
	for (unsigned i = 0; i < l; i++)
		low |= (uint64_t)r->p[r->off + i] << (8 * i);
	r->off += l;
	uint64_t v;
	if (l == 8) {
		v = low;
	} else {
		uint64_t high = b & (0xFFu >> (l + 1));
		v = (high << (8 * l)) | low;
	}
	/* minimal: l must be the smallest length that can hold v */
	unsigned need = 0;
	while (need < 8 && v >= ((uint64_t)1 << (7 * (need + 1))))
		need++;
	if (need != l)
		return PVM_E_BLOB_VARINT;
	*out = v;
	return PVM_E_OK;
}

/* ---- single instruction decoding --------------------------------------- */

static uint64_t read_sext(const uint8_t *b, unsigned n)
{
	if (n == 0)
		return 0;
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	unsigned sh = 64 - 8 * n;
	return (uint64_t)((int64_t)(v << sh) >> sh);
}

static unsigned min_u(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

static uint8_t reg_of(unsigned nib)
{
	return (uint8_t)(nib > 12 ? 12 : nib);
}

static unsigned skip_of(const pvm_program *p, uint32_t pc)
{
	for (unsigned i = 0; i < 24; i++) {
		uint64_t q = (uint64_t)pc + 1 + i;
		if (q >= p->code_len || pvm_bit(p->bitmask, (uint32_t)q))
			return i;
	}
	return 24;
}

uint32_t pvm_decode_one(const pvm_program *p, uint32_t pc, pvm_insn *o)
{
	o->opi = PVM_I_trap;
	o->a = o->b = o->d = 0;
	o->pc = pc;
	o->imm = 0;
	o->imm2 = 0;
	o->target = PVM_NO_TARGET;
	if (pc >= p->code_len)
		return pc + 1; /* past the code: zeros, i.e. trap */
	unsigned l = skip_of(p, pc);
	uint32_t next = pc + 1 + l;
	if (!pvm_bit(p->bitmask, pc))
		return next;
	uint8_t m = pvm_opcode_map[p->code[pc]];
	if (m == 0)
		return next;
	unsigned opi = m - 1u;
	o->opi = (uint8_t)opi;
	const uint8_t *c = p->code + pc + 1; /* operand bytes; zero padded */
	unsigned lx, ly;
	switch (pvm_op_info[opi].fmt) {
	case PVM_FMT_NONE:
		break;
	case PVM_FMT_IMM:
		o->imm = read_sext(c, min_u(4, l));
		break;
	case PVM_FMT_REG_EXTIMM:
		o->a = reg_of(c[0] & 15u);
		o->imm = 0;
		for (unsigned i = 0; i < 8; i++)
			o->imm |= (uint64_t)c[1 + i] << (8 * i);
		break;
	case PVM_FMT_IMM2:
		lx = min_u(4, c[0] & 7u);
		ly = l > lx + 1 ? min_u(4, l - lx - 1) : 0;
		o->imm2 = (uint32_t)read_sext(c + 1, lx); /* address */
		o->imm = read_sext(c + 1 + lx, ly);       /* value */
		break;
	case PVM_FMT_OFF:
		o->target = pc + (uint32_t)read_sext(c, min_u(4, l));
		break;
	case PVM_FMT_REG_IMM:
		o->a = reg_of(c[0] & 15u);
		o->imm = read_sext(c + 1, l > 0 ? min_u(4, l - 1) : 0);
		break;
	case PVM_FMT_REG_IMM2:
		o->a = reg_of(c[0] & 15u);
		lx = min_u(4, (c[0] >> 4) & 7u);
		ly = l > lx + 1 ? min_u(4, l - lx - 1) : 0;
		o->imm2 = (uint32_t)read_sext(c + 1, lx); /* offset */
		o->imm = read_sext(c + 1 + lx, ly);       /* value */
		break;
	case PVM_FMT_REG_IMM_OFF:
		o->a = reg_of(c[0] & 15u);
		lx = min_u(4, (c[0] >> 4) & 7u);
		ly = l > lx + 1 ? min_u(4, l - lx - 1) : 0;
		o->imm = read_sext(c + 1, lx);
		o->target = pc + (uint32_t)read_sext(c + 1 + lx, ly);
		break;
	case PVM_FMT_REG2:
		o->d = reg_of(c[0] & 15u);
		o->a = reg_of(c[0] >> 4);
		break;
	case PVM_FMT_REG2_IMM:
		o->a = reg_of(c[0] & 15u);
		o->b = reg_of(c[0] >> 4);
		o->imm = read_sext(c + 1, l > 0 ? min_u(4, l - 1) : 0);
		break;
	case PVM_FMT_REG2_OFF:
		o->a = reg_of(c[0] & 15u);
		o->b = reg_of(c[0] >> 4);
		o->target = pc + (uint32_t)read_sext(c + 1, l > 0 ? min_u(4, l - 1) : 0);
		break;
	case PVM_FMT_REG2_IMM2:
		o->a = reg_of(c[0] & 15u);
		o->b = reg_of(c[0] >> 4);
		lx = min_u(4, c[1] & 7u);
		ly = l > lx + 2 ? min_u(4, l - lx - 2) : 0;
		o->imm = read_sext(c + 2, lx);
		o->imm2 = (uint32_t)read_sext(c + 2 + lx, ly);
		break;
	case PVM_FMT_REG3:
		o->a = reg_of(c[0] & 15u);
		o->b = reg_of(c[0] >> 4);
		o->d = reg_of(c[1]);
		break;
	}
	return next;
}

/* ---- whole program ----------------------------------------------------- */

uint32_t pvm_insn_index(const pvm_program *p, uint32_t pc)
{
	uint32_t lo = 0, hi = p->n_insns;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->insns[mid].pc < pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < p->n_insns && p->insns[lo].pc == pc) ? lo : PVM_NO_TARGET;
}

static uint32_t resolve(const pvm_program *p, uint32_t pc)
{
	if (pc >= p->code_len || !pvm_bit(p->block_start, pc))
		return PVM_NO_TARGET;
	return pvm_insn_index(p, pc);
}

void pvm_program_free(pvm_program *p)
{
	if (!p)
		return;
	pvm_plat_free(p->code, p->code_alloc);
	pvm_plat_free(p->bitmask, p->bitmask_alloc);
	pvm_plat_free(p->insns, p->insns_alloc);
	pvm_plat_free(p->block_start, p->bs_alloc);
	pvm_plat_free(p->jt_pc, (size_t)p->jt_len * 4);
	pvm_plat_free(p->jt_idx, (size_t)p->jt_len * 4);
	pvm_plat_free(p, sizeof *p);
}

pvm_err pvm_program_new(const uint8_t *blob, size_t len, pvm_program **out)
{
	return pvm_program_new_until(blob, len, NULL, NULL, out);
}

/* code bytes decoded between two questions to the caller's stop function */
#define STOP_EVERY 0x10000u

pvm_err pvm_program_new_until(const uint8_t *blob, size_t len, pvm_stop_fn stop, void *ctx, pvm_program **out)
{
	*out = NULL;
	reader r = {blob, len, 0};
	uint64_t jt_len, code_len;
	uint8_t z;
	pvm_err e;
	if ((e = rd_varint(&r, &jt_len)) != PVM_E_OK)
		return e;
	if (!rd_u8(&r, &z))
		return PVM_E_BLOB_TRUNCATED;
	if ((e = rd_varint(&r, &code_len)) != PVM_E_OK)
		return e;
	if (z > 4)
		return PVM_E_BLOB_JUMP_WIDTH;
	if (jt_len > PVM_MAX_JUMP_TABLE)
		return PVM_E_BLOB_JUMP_TABLE_TOO_LARGE;
	if (code_len > PVM_MAX_CODE_LEN)
		return PVM_E_BLOB_CODE_TOO_LARGE;
	uint64_t bm_len = (code_len + 7) / 8;
	uint64_t need = jt_len * z + code_len + bm_len; /* < 2^27, no overflow */
	if (len - r.off < need)
		return PVM_E_BLOB_TRUNCATED;
	if (len - r.off > need)
		return PVM_E_BLOB_TRAILING;

	pvm_program *p = pvm_plat_alloc(sizeof *p);
	if (!p)
		return PVM_E_NOMEM;
	p->code_len = (uint32_t)code_len;
	p->jt_len = (uint32_t)jt_len;
	p->code_alloc = code_len + PVM_CODE_PAD;
	p->bitmask_alloc = bm_len + PVM_CODE_PAD / 8;
	p->bs_alloc = (code_len + 1 + 7) / 8;
	p->code = pvm_plat_alloc(p->code_alloc);
	p->bitmask = pvm_plat_alloc(p->bitmask_alloc);
	p->block_start = pvm_plat_alloc(p->bs_alloc);
	if (jt_len) {
		p->jt_pc = pvm_plat_alloc(jt_len * 4);
		p->jt_idx = pvm_plat_alloc(jt_len * 4);
	}
	if (!p->code || !p->bitmask || !p->block_start || (jt_len && (!p->jt_pc || !p->jt_idx))) {
		pvm_program_free(p);
		return PVM_E_NOMEM;
	}
	for (uint32_t i = 0; i < p->jt_len; i++) {
		uint32_t v = 0;
		for (unsigned k = 0; k < z; k++)
			v |= (uint32_t)blob[r.off + k] << (8 * k);
		r.off += z;
		p->jt_pc[i] = v;
	}
	__builtin_memcpy(p->code, blob + r.off, code_len);
	r.off += code_len;
	__builtin_memcpy(p->bitmask, blob + r.off, bm_len);
	if ((code_len & 7) && (p->bitmask[bm_len - 1] >> (code_len & 7))) {
		pvm_program_free(p);
		return PVM_E_BLOB_BITMASK_PADDING;
	}

	/* count instruction starts to size the insn array: each start may be
	 * followed by one synthetic trap, plus the trap at the end */
	uint64_t starts = 0;
	for (uint32_t i = 0; i < p->code_len; i++)
		starts += pvm_bit(p->bitmask, i);
	p->insns_alloc = (size_t)(2 * starts + 2) * sizeof(pvm_insn);
	p->insns = pvm_plat_alloc(p->insns_alloc);
	if (!p->insns) {
		pvm_program_free(p);
		return PVM_E_NOMEM;
	}

	/* decode in code order; mark basic-block starts (GP A.5: offset 0 and
	 * the successor of every terminator, if a valid instruction) */
	uint32_t n = 0;
	bool prev_term = true; /* offset 0 */
	uint32_t expect = 0;   /* pc where a successor starts */
	for (uint32_t pc = 0; pc < p->code_len; pc++) {
		if (stop && (pc & (STOP_EVERY - 1)) == STOP_EVERY - 1 && stop(ctx)) {
			pvm_program_free(p);
			return PVM_E_STOPPED;
		}
		if (!pvm_bit(p->bitmask, pc))
			continue;
		if (pc > expect && n > 0) {
			/* the previous instruction's successor is not an instruction
			 * start: it executes as a trap there */
			pvm_decode_one(p, expect, &p->insns[n++]);
			prev_term = false;
		}
		pvm_insn *in = &p->insns[n++];
		uint32_t next = pvm_decode_one(p, pc, in);
		bool valid = pvm_opcode_map[p->code[pc]] != 0;
		if (valid && (pc == 0 || (prev_term && pc == expect)))
			p->block_start[pc >> 3] |= (uint8_t)(1u << (pc & 7));
		prev_term = valid && (pvm_op_info[in->opi].flags & PVM_F_TERM);
		expect = next;
	}
	if (n == 0 || expect < p->code_len) {
		uint32_t at = n == 0 ? 0 : expect;
		pvm_decode_one(p, at, &p->insns[n++]);
	}
	if (p->insns[n - 1].pc < p->code_len)
		pvm_decode_one(p, p->code_len, &p->insns[n++]);
	p->n_insns = n;

	/* resolve static targets and the jump table */
	for (uint32_t i = 0; i < n; i++) {
		pvm_insn *in = &p->insns[i];
		uint8_t f = pvm_op_info[in->opi].fmt;
		if (f == PVM_FMT_OFF || f == PVM_FMT_REG_IMM_OFF || f == PVM_FMT_REG2_OFF)
			in->target = resolve(p, in->target);
	}
	for (uint32_t i = 0; i < p->jt_len; i++)
		p->jt_idx[i] = resolve(p, p->jt_pc[i]);
	/* straight-line run lengths; the last insn is always a trap */
	for (uint32_t i = n; i-- > 0;) {
		const pvm_insn *in = &p->insns[i];
		bool term = (pvm_op_info[in->opi].flags & PVM_F_TERM) || i + 1 == n;
		p->insns[i].seg = term ? 1 : p->insns[i + 1].seg + 1;
	}
	*out = p;
	return PVM_E_OK;
}

uint32_t pvm_program_code_len(const pvm_program *p)
{
	return p->code_len;
}

uint32_t pvm_program_jump_table_len(const pvm_program *p)
{
	return p->jt_len;
}

uint32_t pvm_program_jump_entry(const pvm_program *p, uint32_t i)
{
	return i < p->jt_len ? p->jt_pc[i] : 0;
}

uint32_t pvm_program_insn_count(const pvm_program *p)
{
	return p->n_insns;
}

/* What pvm_program_new allocates for this many code bytes, jump-table
 * entries and instruction starts. */
static size_t footprint(uint64_t code_len, uint64_t jt_len, uint64_t starts)
{
	return sizeof(pvm_program) + (size_t)(code_len + PVM_CODE_PAD) + (size_t)((code_len + 7) / 8 + PVM_CODE_PAD / 8) +
	       (size_t)((code_len + 1 + 7) / 8) + (size_t)jt_len * 8 + (size_t)(2 * starts + 2) * sizeof(pvm_insn);
}

size_t pvm_program_bytes(const pvm_program *p)
{
	return footprint(p->code_len, p->jt_len, (p->insns_alloc / sizeof(pvm_insn) - 2) / 2);
}

size_t pvm_program_bytes_of_blob(const uint8_t *blob, size_t len)
{
	reader r = {blob, len, 0};
	uint64_t jt_len, code_len;
	uint8_t z;
	if (rd_varint(&r, &jt_len) != PVM_E_OK || !rd_u8(&r, &z) || rd_varint(&r, &code_len) != PVM_E_OK ||
	    z > 4 || jt_len > PVM_MAX_JUMP_TABLE || code_len > PVM_MAX_CODE_LEN)
		return 0;
	uint64_t bm_len = (code_len + 7) / 8;
	if (len - r.off != jt_len * z + code_len + bm_len)
		return 0;
	const uint8_t *bm = blob + r.off + jt_len * z + code_len;
	uint64_t starts = 0;
	for (uint64_t i = 0; i < code_len; i++)
		starts += (bm[i >> 3] >> (i & 7)) & 1;
	return footprint(code_len, jt_len, starts);
}

bool pvm_is_insn_start(const pvm_program *p, uint32_t pc)
{
	return pc < p->code_len && pvm_bit(p->bitmask, pc);
}

bool pvm_is_block_start(const pvm_program *p, uint32_t pc)
{
	return pc < p->code_len && pvm_bit(p->block_start, pc);
}
