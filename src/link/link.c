/* link.c: `nub link` driver — layout, block starts, jump table, RISC-V ->
 * PVM translation, data relocations, exports, standard-program output.
 *
 * Input contract (produced by scripts/nub-cc with sdk/nub.ld):
 *   a statically linked RV64E ELF (ET_EXEC, EF_RISCV_RVE) with --emit-relocs;
 *   read-only data at 0x10000, read-write data + bss at 2*0x10000 + Z(|o|)
 *   (so data addresses already equal PVM addresses); code anywhere outside
 *   the data; `.nub_exports` records (sdk/include/nub_guest.h).
 * Code addresses never survive into PVM: each code address that escapes
 * (return addresses, function pointers, jump-table entries, exports) becomes
 * a jump-table entry, whose PVM address is (index + 1) * 2.
 */
#include "link/link.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* R_RISCV_* relocation types used here. */
enum {
	R_NONE = 0, R_32 = 1, R_64 = 2, R_RELATIVE = 3, R_BRANCH = 16, R_JAL = 17, R_CALL = 18,
	R_CALL_PLT = 19, R_GOT_HI20 = 20, R_PCREL_HI20 = 23, R_PCREL_LO12_I = 24,
	R_PCREL_LO12_S = 25, R_HI20 = 26, R_LO12_I = 27, R_LO12_S = 28, R_ADD8 = 33, R_ADD16 = 34,
	R_ADD32 = 35, R_ADD64 = 36, R_SUB8 = 37, R_SUB16 = 38, R_SUB32 = 39, R_SUB64 = 40,
	R_ALIGN = 43, R_RVC_BRANCH = 44, R_RVC_JUMP = 45, R_RELAX = 51, R_SUB6 = 52, R_SET6 = 53,
	R_SET8 = 54, R_SET16 = 55, R_SET32 = 56, R_32_PCREL = 57, R_SET_ULEB128 = 60,
	R_SUB_ULEB128 = 61,
};

enum {
	F_TARGET = 1,   /* must start a PVM basic block */
	F_JT = 2,       /* needs a jump-table entry */
	F_HI = 4,       /* auipc with a PCREL_HI20 / GOT_HI20 relocation */
	F_GOT = 8,      /* ... which is GOT_HI20 */
	F_LO = 16,      /* user of an auipc via PCREL_LO12_I/S */
	F_SKIP = 32,    /* consumed by a fused neighbour */
	F_CALLPAIR = 64 /* auipc of an auipc+jalr pair */
};

#define ZONE 0x10000u
#define RO_BASE 0x10000u
#define STACK_TOP 0xFEFE0000u
#define EXPORT_REC 48u

typedef struct {
	uint64_t lo, hi;
} range;

typedef struct {
	link_elf elf;
	char *err;
	size_t cap;
	/* code */
	rv_insn *ins;
	uint64_t *addr;
	uint8_t *flags;
	uint64_t *hi_target; /* per insn (F_HI) */
	const char **hi_sym; /* per insn (F_HI): the relocation's symbol name */
	size_t *lo_of;       /* per insn (F_LO): index of its auipc */
	size_t *pvm_off;     /* per insn, plus one for the end */
	uint32_t *jt_index;  /* per insn (F_JT) */
	size_t nins;
	range code[16];
	size_t ncode;
	/* jump table (code offsets, filled after emission) */
	size_t *jt_ins;
	size_t njt;
	/* data */
	uint32_t ro_len, rw_len, rw_total, rw_base;
	uint8_t *ro, *rw;
	int need_spill;
	uint32_t spill_addr;
	/* exports */
	uint64_t exp_addr[LINK_MAX_EXPORTS];
	char exp_name[LINK_MAX_EXPORTS][32];
	size_t nexp;
	uint32_t stack_size;
	/* fixups: emitted instruction -> target insn index */
	size_t *fix_at, *fix_to;
	uint8_t *fix_len; /* offset bytes per fixup, grown until every offset fits */
	size_t nfix, capfix, nfix_len;
	pvm_emit em;
} lk;

static int fail(lk *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(lk *k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(k->err, k->cap, fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t rdle(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void wrle(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* RISC-V x-register -> PVM register, or -1 when PVM has no such register. */
static int map_reg(unsigned x)
{
	static const int8_t m[16] = {-1, 0, 1, -1, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	return x < 16 ? m[x] : -1;
}
static uint8_t R(unsigned x)
{
	return (uint8_t)map_reg(x);
}

static int in_code(const lk *k, uint64_t a)
{
	for (size_t i = 0; i < k->ncode; i++)
		if (a >= k->code[i].lo && a < k->code[i].hi)
			return 1;
	return 0;
}

/* Index of the instruction starting at address a, or (size_t)-1. The end of
 * a code section maps to the next instruction (or nins: the final trap). */
static size_t find_ins(const lk *k, uint64_t a)
{
	size_t lo = 0, hi = k->nins;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (k->addr[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < k->nins && k->addr[lo] == a)
		return lo;
	for (size_t i = 0; i < k->ncode; i++)
		if (a == k->code[i].hi)
			return lo; /* next instruction, or the end */
	return (size_t)-1;
}

static void describe(const lk *k, size_t i, char *buf, size_t cap)
{
	rv_format(&k->ins[i], buf, cap);
}

static const link_symbol *sym_of(const lk *k, const link_reloc *r)
{
	return r->sym < k->elf.nsyms ? &k->elf.syms[r->sym] : NULL;
}

static const char *sym_name(const lk *k, const link_reloc *r)
{
	const link_symbol *s = sym_of(k, r);
	return s && s->name && s->name[0] ? s->name : "(unnamed)";
}

static uint64_t reloc_target(const lk *k, const link_reloc *r)
{
	const link_symbol *s = sym_of(k, r);
	return (s ? s->value : 0) + (uint64_t)r->addend;
}

/* ---- stage 1: sections and layout ---------------------------------------- */

static uint64_t zone_up(uint64_t x)
{
	return (x + ZONE - 1) & ~(uint64_t)(ZONE - 1);
}

static int is_ignored_alloc(const char *n)
{
	return !strncmp(n, ".eh_frame", 9) || !strcmp(n, ".riscv.attributes") ||
	       !strcmp(n, ".comment") || !strncmp(n, ".note", 5);
}

/* Read-only in PVM: not writable, or one of the sections that are only
 * written by the (static) linker: lld marks an output .rodata that holds
 * .got / .data.rel.ro writable. */
static int is_ro(const link_section *s)
{
	const char *n = s->name;
	return !(s->flags & LINK_SHF_WRITE) || !strncmp(n, ".rodata", 7) || !strncmp(n, ".srodata", 8) ||
	       !strncmp(n, ".got", 4) || !strncmp(n, ".data.rel.ro", 12);
}

static int layout(lk *k)
{
	const link_elf *e = &k->elf;
	uint64_t ro_end = RO_BASE, rw_init_end = 0, rw_end = 0;
	int have_rw = 0;
	/* pass 1: code and read-only */
	for (size_t i = 0; i < e->nsecs; i++) {
		const link_section *s = &e->secs[i];
		if (!(s->flags & LINK_SHF_ALLOC) || s->size == 0 || is_ignored_alloc(s->name))
			continue;
		if (!strcmp(s->name, ".nub_exports") || !strcmp(s->name, ".nub_stack_size"))
			continue;
		if (!strcmp(s->name, ".init_array") || !strcmp(s->name, ".preinit_array") ||
		    !strcmp(s->name, ".fini_array"))
			return fail(k, "section %s: static constructors/destructors are not supported yet (nothing would run them)",
				    s->name);
		if (s->flags & 0x400) /* SHF_TLS */
			return fail(k, "section %s: thread-local storage is not supported", s->name);
		if (s->flags & LINK_SHF_EXECINSTR) {
			if (s->flags & LINK_SHF_WRITE)
				return fail(k, "section %s is writable and executable", s->name);
			if (s->type == LINK_SHT_NOBITS)
				return fail(k, "section %s: executable NOBITS section", s->name);
			if (k->ncode == sizeof k->code / sizeof k->code[0])
				return fail(k, "too many code sections (max 16; use sdk/nub.ld)");
			k->code[k->ncode].lo = s->addr;
			k->code[k->ncode].hi = s->addr + s->size;
			k->ncode++;
			continue;
		}
		if (is_ro(s)) {
			if (s->type == LINK_SHT_NOBITS)
				return fail(k, "section %s: read-only NOBITS section is not supported", s->name);
			if (s->addr < RO_BASE || s->addr + s->size > RO_BASE + 0xFFFFFFull)
				return fail(k, "read-only section %s at 0x%llx..0x%llx: must lie at 0x10000.. (link with sdk/nub.ld)",
					    s->name, (unsigned long long)s->addr,
					    (unsigned long long)(s->addr + s->size));
			if (s->addr + s->size > ro_end)
				ro_end = s->addr + s->size;
		}
	}
	if (k->ncode == 0) {
		for (size_t i = 0; i < e->nsecs; i++)
			if (!strcmp(e->secs[i].name, ".nub_exports"))
				return fail(k, "no executable section (.text) in the ELF");
		return fail(k, "no exports and no code: the ELF has no .nub_exports section (mark entry points with NUB_EXPORT)");
	}
	k->ro_len = (uint32_t)(ro_end - RO_BASE);
	k->rw_base = (uint32_t)(2 * ZONE + zone_up(k->ro_len));
	/* pass 2: read-write */
	for (size_t i = 0; i < e->nsecs; i++) {
		const link_section *s = &e->secs[i];
		if (!(s->flags & LINK_SHF_ALLOC) || s->size == 0 || is_ignored_alloc(s->name))
			continue;
		if (!strcmp(s->name, ".nub_exports") || !strcmp(s->name, ".nub_stack_size"))
			continue;
		if ((s->flags & LINK_SHF_EXECINSTR) || is_ro(s))
			continue;
		if (s->addr < k->rw_base || s->addr + s->size > (uint64_t)k->rw_base + 0xFFFFFFull)
			return fail(k, "read-write section %s at 0x%llx: must lie at 0x%x.. (2*0x10000 + Z(|o|); link with sdk/nub.ld)",
				    s->name, (unsigned long long)s->addr, k->rw_base);
		have_rw = 1;
		if (s->addr + s->size > rw_end)
			rw_end = s->addr + s->size;
		if (s->type != LINK_SHT_NOBITS && s->addr + s->size > rw_init_end)
			rw_init_end = s->addr + s->size;
	}
	k->rw_len = rw_init_end ? (uint32_t)(rw_init_end - k->rw_base) : 0;
	k->rw_total = have_rw ? (uint32_t)(rw_end - k->rw_base) : 0;
	/* code must not overlap data (address classification must be exact) */
	for (size_t c = 0; c < k->ncode; c++) {
		uint64_t lo = k->code[c].lo, hi = k->code[c].hi;
		if (lo < (uint64_t)k->rw_base + k->rw_total + ZONE && hi > RO_BASE)
			return fail(k, "code at 0x%llx..0x%llx overlaps the data area (link with sdk/nub.ld)",
				    (unsigned long long)lo, (unsigned long long)hi);
	}
	/* spill slot for the rare x0-operand fallback, after everything */
	k->spill_addr = k->rw_base + ((k->rw_total + 7u) & ~7u);
	/* copy data */
	k->ro = calloc(k->ro_len ? k->ro_len : 1, 1);
	k->rw = calloc(k->rw_len ? k->rw_len : 1, 1);
	if (!k->ro || !k->rw)
		return fail(k, "out of memory");
	for (size_t i = 0; i < e->nsecs; i++) {
		const link_section *s = &e->secs[i];
		if (!(s->flags & LINK_SHF_ALLOC) || s->size == 0 || s->type == LINK_SHT_NOBITS ||
		    is_ignored_alloc(s->name) || (s->flags & LINK_SHF_EXECINSTR))
			continue;
		if (!strcmp(s->name, ".nub_exports") || !strcmp(s->name, ".nub_stack_size"))
			continue;
		const uint8_t *src = link_elf_section_data(e, i);
		if (is_ro(s))
			memcpy(k->ro + (s->addr - RO_BASE), src, (size_t)s->size);
		else
			memcpy(k->rw + (s->addr - k->rw_base), src, (size_t)s->size);
	}
	return 0;
}

/* ---- stage 2: decode ------------------------------------------------------ */

static int cmp_range(const void *a, const void *b)
{
	const range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int check_regs(lk *k, size_t i)
{
	const rv_insn *in = &k->ins[i];
	unsigned r[3] = {in->rd, in->rs1, in->rs2};
	for (unsigned j = 0; j < 3; j++) {
		if (r[j] != 0 && map_reg(r[j]) < 0) {
			char d[128];
			describe(k, i, d, sizeof d);
			return fail(k, "0x%llx: forbidden register x%u in %s (PVM maps only ra, sp, t0-t2, s0, s1, a0-a5; compile with -mabi=lp64e)",
				    (unsigned long long)k->addr[i], r[j], d);
		}
	}
	return 0;
}

static int decode_all(lk *k)
{
	qsort(k->code, k->ncode, sizeof k->code[0], cmp_range);
	size_t total = 0;
	for (size_t c = 0; c < k->ncode; c++) {
		if (c && k->code[c].lo < k->code[c - 1].hi)
			return fail(k, "code sections overlap at 0x%llx", (unsigned long long)k->code[c].lo);
		total += (size_t)((k->code[c].hi - k->code[c].lo) / 2);
	}
	k->ins = calloc(total + 1, sizeof *k->ins);
	k->addr = calloc(total + 1, sizeof *k->addr);
	k->flags = calloc(total + 1, 1);
	k->hi_target = calloc(total + 1, sizeof *k->hi_target);
	k->hi_sym = calloc(total + 1, sizeof *k->hi_sym);
	k->lo_of = calloc(total + 1, sizeof *k->lo_of);
	k->pvm_off = calloc(total + 1, sizeof *k->pvm_off);
	k->jt_index = calloc(total + 1, sizeof *k->jt_index);
	if (!k->ins || !k->addr || !k->flags || !k->hi_target || !k->hi_sym || !k->lo_of || !k->pvm_off || !k->jt_index)
		return fail(k, "out of memory");
	for (size_t c = 0; c < k->ncode; c++) {
		/* find the section bytes */
		const uint8_t *bytes = NULL;
		for (size_t s = 0; s < k->elf.nsecs; s++) {
			const link_section *sec = &k->elf.secs[s];
			if ((sec->flags & LINK_SHF_ALLOC) && (sec->flags & LINK_SHF_EXECINSTR) &&
			    sec->addr == k->code[c].lo && sec->size == k->code[c].hi - k->code[c].lo)
				bytes = link_elf_section_data(&k->elf, s);
		}
		if (!bytes)
			return fail(k, "internal: code section bytes not found");
		uint64_t size = k->code[c].hi - k->code[c].lo;
		for (uint64_t off = 0; off < size;) {
			size_t i = k->nins;
			k->addr[i] = k->code[c].lo + off;
			if (rv_decode(bytes + off, (size_t)(size - off), &k->ins[i]) != 0) {
				char d[128];
				rv_format(&k->ins[i], d, sizeof d);
				if (k->ins[i].len < 2)
					return fail(k, "0x%llx: truncated instruction at the end of the code section",
						    (unsigned long long)k->addr[i]);
				return fail(k, "0x%llx: unsupported instruction: %s", (unsigned long long)k->addr[i], d);
			}
			k->nins++;
			if (check_regs(k, i))
				return -1;
			off += k->ins[i].len;
		}
	}
	return 0;
}

/* ---- stage 3: relocations in code, block starts, jump table -------------- */

static int mark_target(lk *k, uint64_t a, uint8_t f, uint64_t from, const char *what)
{
	size_t t = find_ins(k, a);
	if (t == (size_t)-1)
		return fail(k, "0x%llx: %s target 0x%llx is not an instruction start", (unsigned long long)from,
			    what, (unsigned long long)a);
	k->flags[t] |= f;
	return 0;
}

static int code_relocs(lk *k)
{
	for (size_t j = 0; j < k->elf.nrelocs; j++) {
		const link_reloc *r = &k->elf.relocs[j];
		const link_section *rs = &k->elf.secs[r->section];
		if (!(rs->flags & LINK_SHF_ALLOC) || !(rs->flags & LINK_SHF_EXECINSTR))
			continue; /* data relocations: data_relocs(); debug info: ignored */
		if (!in_code(k, r->offset))
			return fail(k, "relocation at 0x%llx in section %s lies outside the code", (unsigned long long)r->offset,
				    rs->name);
		size_t i = find_ins(k, r->offset);
		switch (r->type) {
		case R_NONE: case R_BRANCH: case R_JAL: case R_CALL: case R_CALL_PLT: case R_RVC_BRANCH:
		case R_RVC_JUMP: case R_RELAX: case R_ALIGN:
			break; /* decoded from the linked instructions */
		case R_PCREL_HI20:
		case R_GOT_HI20:
			if (i == (size_t)-1 || i >= k->nins || k->ins[i].op != RV_AUIPC)
				return fail(k, "0x%llx: %s relocation not on an auipc", (unsigned long long)r->offset,
					    r->type == R_GOT_HI20 ? "GOT_HI20" : "PCREL_HI20");
			k->flags[i] |= F_HI | (r->type == R_GOT_HI20 ? F_GOT : 0);
			k->hi_target[i] = reloc_target(k, r);
			k->hi_sym[i] = sym_name(k, r);
			break;
		case R_PCREL_LO12_I:
		case R_PCREL_LO12_S: {
			uint64_t hi_addr = reloc_target(k, r);
			size_t h = find_ins(k, hi_addr);
			if (i == (size_t)-1 || i >= k->nins || h == (size_t)-1 || h >= k->nins ||
			    k->ins[h].op != RV_AUIPC)
				return fail(k, "0x%llx: PCREL_LO12 relocation does not point at an auipc",
					    (unsigned long long)r->offset);
			k->flags[i] |= F_LO;
			k->lo_of[i] = h;
			break;
		}
		case R_HI20: case R_LO12_I: case R_LO12_S:
			if (in_code(k, reloc_target(k, r)))
				return fail(k, "0x%llx: absolute (HI20/LO12) reference to code address 0x%llx is not supported; compile with -fPIC",
					    (unsigned long long)r->offset, (unsigned long long)reloc_target(k, r));
			break; /* data addresses are final */
		default:
			return fail(k, "0x%llx: unsupported relocation type %u in code", (unsigned long long)r->offset,
				    r->type);
		}
	}
	/* check HI/LO pairs */
	for (size_t i = 0; i < k->nins; i++) {
		if (!(k->flags[i] & F_LO))
			continue;
		size_t h = k->lo_of[i];
		if (!(k->flags[h] & F_HI))
			return fail(k, "0x%llx: PCREL_LO12 refers to an auipc at 0x%llx without PCREL_HI20/GOT_HI20",
				    (unsigned long long)k->addr[i], (unsigned long long)k->addr[h]);
		/* The user may read the auipc's value from any register (after a
		 * move, a spill and reload, in another block or function): the
		 * auipc's PVM value is chosen so that every user computes the
		 * same address as on RISC-V (see translate_auipc). */
		if ((k->flags[h] & F_GOT) && k->ins[i].op != RV_LD)
			return fail(k, "0x%llx: GOT_HI20 (symbol %s) paired with a non-ld instruction",
				    (unsigned long long)k->addr[i], k->hi_sym[h]);
		if ((k->flags[h] & F_GOT) || !in_code(k, k->hi_target[h]))
			continue;
		/* a code address: the auipc loads the jump-table address and the
		 * user adds nothing, so the user must address exactly the target */
		uint64_t ea = k->addr[h] + (uint64_t)k->ins[h].imm + (uint64_t)k->ins[i].imm;
		if (ea != k->hi_target[h] || k->ins[i].op != RV_ADDI)
			return fail(k, "0x%llx: %s of code address 0x%llx (symbol %s) is not supported: only its address (addi) can be taken",
				    (unsigned long long)k->addr[i], rv_op_name(k->ins[i].op),
				    (unsigned long long)ea, k->hi_sym[h]);
	}
	return 0;
}

static int is_call_pair(const lk *k, size_t i)
{
	return k->ins[i].op == RV_AUIPC && !(k->flags[i] & F_HI) && i + 1 < k->nins &&
	       k->ins[i + 1].op == RV_JALR && k->ins[i].rd != 0 && k->ins[i + 1].rs1 == k->ins[i].rd &&
	       k->addr[i + 1] == k->addr[i] + k->ins[i].len;
}

static int find_targets(lk *k)
{
	for (size_t i = 0; i < k->nins; i++) {
		const rv_insn *in = &k->ins[i];
		uint64_t a = k->addr[i], next = a + in->len;
		switch (in->op) {
		case RV_JAL:
			if (mark_target(k, a + (uint64_t)in->imm, F_TARGET, a, "jump"))
				return -1;
			if (in->rd != 0 && mark_target(k, next, F_TARGET | F_JT, a, "return"))
				return -1;
			break;
		case RV_BEQ: case RV_BNE: case RV_BLT: case RV_BGE: case RV_BLTU: case RV_BGEU:
			if (mark_target(k, a + (uint64_t)in->imm, F_TARGET, a, "branch"))
				return -1;
			break;
		case RV_JALR:
			if (in->rd != 0 && mark_target(k, next, F_TARGET | F_JT, a, "return"))
				return -1;
			break;
		case RV_AUIPC:
			if (is_call_pair(k, i)) {
				const rv_insn *j = &k->ins[i + 1];
				uint64_t t = a + (uint64_t)in->imm + (uint64_t)j->imm;
				k->flags[i] |= F_CALLPAIR;
				if (!in_code(k, t))
					return fail(k, "0x%llx: call target 0x%llx lies outside the code",
						    (unsigned long long)a, (unsigned long long)t);
				if (mark_target(k, t, F_TARGET, a, "call"))
					return -1;
			} else if (!(k->flags[i] & F_HI)) {
				return fail(k, "0x%llx: auipc without a PCREL_HI20/GOT_HI20 relocation and not a call (link with --emit-relocs, no relaxation)",
					    (unsigned long long)a);
			} else if (in_code(k, k->hi_target[i]) &&
				   mark_target(k, k->hi_target[i], F_TARGET | F_JT, a, "code address")) {
				return -1;
			}
			break;
		default:
			break;
		}
	}
	return 0;
}

/* Data relocations: mark code targets (pass 0) or rewrite them (pass 1). */
static uint32_t jt_addr(const lk *k, size_t i)
{
	return (k->jt_index[i] + 1u) * 2u;
}

static uint8_t *data_ptr(lk *k, uint64_t a, unsigned n)
{
	if (a >= RO_BASE && a + n <= (uint64_t)RO_BASE + k->ro_len)
		return k->ro + (a - RO_BASE);
	if (a >= k->rw_base && a + n <= (uint64_t)k->rw_base + k->rw_len)
		return k->rw + (a - k->rw_base);
	return NULL;
}

static int section_ignored(const lk *k, uint32_t sec)
{
	const link_section *s = &k->elf.secs[sec];
	return !(s->flags & LINK_SHF_ALLOC) || is_ignored_alloc(s->name) || !strcmp(s->name, ".nub_exports") ||
	       !strcmp(s->name, ".nub_stack_size") || s->type == LINK_SHT_NOBITS;
}

static int code_ref(lk *k, uint64_t t, uint64_t at, int pass, size_t *idx)
{
	size_t i = find_ins(k, t);
	if (i == (size_t)-1 || i >= k->nins)
		return fail(k, "data at 0x%llx refers to code address 0x%llx, which is not an instruction start",
			    (unsigned long long)at, (unsigned long long)t);
	if (pass == 0)
		k->flags[i] |= F_TARGET | F_JT;
	*idx = i;
	return 0;
}

/* SUB32/SUB64 relocations sorted by (section, offset, type): the partner of
 * an ADD is found by binary search, not a quadratic scan. */
typedef struct {
	uint32_t section, type;
	uint64_t offset;
	size_t idx;
} sub_key;

static int cmp_key(const sub_key *x, uint32_t section, uint64_t offset, uint32_t type)
{
	if (x->section != section)
		return x->section < section ? -1 : 1;
	if (x->offset != offset)
		return x->offset < offset ? -1 : 1;
	return x->type < type ? -1 : x->type > type;
}

static int cmp_sub(const void *a, const void *b)
{
	const sub_key *y = b;
	return cmp_key(a, y->section, y->offset, y->type);
}

static const link_reloc *find_sub(const link_elf *e, const sub_key *subs, size_t nsubs, const link_reloc *add,
				  uint32_t type)
{
	size_t lo = 0, hi = nsubs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_key(&subs[mid], add->section, add->offset, type);
		if (c == 0)
			return &e->relocs[subs[mid].idx];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int data_reloc_one(lk *k, const link_reloc *r, int pass, const sub_key *subs, size_t nsubs)
{
	const link_elf *e = &k->elf;
	uint64_t t = reloc_target(k, r);
	size_t ci;
	switch (r->type) {
	case R_NONE: case R_RELAX: case R_ALIGN:
		return 0;
	case R_64:
	case R_32: {
		unsigned n = r->type == R_64 ? 8 : 4;
		if (!in_code(k, t))
			return 0; /* data address: already final */
		if (code_ref(k, t, r->offset, pass, &ci))
			return -1;
		if (pass == 1) {
			uint8_t *p = data_ptr(k, r->offset, n);
			if (!p)
				return fail(k, "relocation at 0x%llx lies outside the data", (unsigned long long)r->offset);
			wrle(p, jt_addr(k, ci), n);
		}
		return 0;
	}
	case R_ADD32: case R_ADD64: {
		unsigned n = r->type == R_ADD64 ? 8 : 4;
		if (!in_code(k, t))
			return 0;
		/* the matching SUB at the same offset gives the table base */
		const link_reloc *sub = find_sub(e, subs, nsubs, r, r->type == R_ADD64 ? (uint32_t)R_SUB64 : (uint32_t)R_SUB32);
		if (!sub)
			return fail(k, "0x%llx: ADD%u relocation to code without a matching SUB", (unsigned long long)r->offset,
				    n * 8);
		uint64_t base = reloc_target(k, sub);
		if (in_code(k, base))
			return fail(k, "0x%llx: difference of two code addresses in data is not supported",
				    (unsigned long long)r->offset);
		if (code_ref(k, t, r->offset, pass, &ci))
			return -1;
		if (pass == 1) {
			uint8_t *p = data_ptr(k, r->offset, n);
			if (!p)
				return fail(k, "relocation at 0x%llx lies outside the data", (unsigned long long)r->offset);
			wrle(p, (uint64_t)jt_addr(k, ci) - base, n);
		}
		return 0;
	}
	case R_SUB32: case R_SUB64:
		return 0; /* handled with its ADD */
	case R_ADD8: case R_ADD16: case R_SUB8: case R_SUB16: case R_SUB6: case R_SET6: case R_SET8:
	case R_SET16: case R_SET32: case R_32_PCREL: case R_SET_ULEB128: case R_SUB_ULEB128:
		if (in_code(k, t))
			return fail(k, "0x%llx: relocation type %u to code address 0x%llx in data is not supported",
				    (unsigned long long)r->offset, r->type, (unsigned long long)t);
		return 0;
	default:
		return fail(k, "0x%llx: unsupported relocation type %u in data (section %s)", (unsigned long long)r->offset,
			    r->type, e->secs[r->section].name);
	}
}

static int data_relocs(lk *k, int pass)
{
	const link_elf *e = &k->elf;
	size_t nsubs = 0;
	sub_key *subs = malloc((e->nrelocs ? e->nrelocs : 1) * sizeof *subs);
	if (!subs)
		return fail(k, "out of memory");
	for (size_t j = 0; j < e->nrelocs; j++)
		if (e->relocs[j].type == R_SUB32 || e->relocs[j].type == R_SUB64) {
			const link_reloc *r = &e->relocs[j];
			subs[nsubs++] = (sub_key){r->section, r->type, r->offset, j};
		}
	qsort(subs, nsubs, sizeof *subs, cmp_sub);
	int rc = 0;
	for (size_t j = 0; j < e->nrelocs && rc == 0; j++) {
		const link_reloc *r = &e->relocs[j];
		if (in_code(k, r->offset) || section_ignored(k, r->section) ||
		    (e->secs[r->section].flags & LINK_SHF_EXECINSTR))
			continue;
		rc = data_reloc_one(k, r, pass, subs, nsubs);
	}
	free(subs);
	return rc;
}

static int read_exports(lk *k)
{
	const link_elf *e = &k->elf;
	int found = 0;
	uint8_t seen[LINK_MAX_EXPORTS] = {0};
	size_t maxidx = 0;
	k->stack_size = 0;
	for (size_t i = 0; i < e->nsecs; i++) {
		const link_section *s = &e->secs[i];
		if (!strcmp(s->name, ".nub_stack_size")) {
			const uint8_t *p = link_elf_section_data(e, i);
			if (!p || s->size % 4)
				return fail(k, ".nub_stack_size: size %llu is not a multiple of 4", (unsigned long long)s->size);
			for (uint64_t o = 0; o < s->size; o += 4) {
				uint32_t v = (uint32_t)rdle(p + o, 4);
				if (v > k->stack_size)
					k->stack_size = v;
			}
			continue;
		}
		if (strcmp(s->name, ".nub_exports"))
			continue;
		found = 1;
		const uint8_t *p = link_elf_section_data(e, i);
		if (!p || s->size % EXPORT_REC)
			return fail(k, ".nub_exports: size %llu is not a multiple of %u (records written by NUB_EXPORT)",
				    (unsigned long long)s->size, EXPORT_REC);
		for (uint64_t o = 0; o < s->size; o += EXPORT_REC) {
			const uint8_t *rec = p + o;
			uint32_t ver = (uint32_t)rdle(rec, 4), idx = (uint32_t)rdle(rec + 4, 4);
			uint64_t fn = rdle(rec + 8, 8);
			char name[32];
			memcpy(name, rec + 16, 32);
			name[31] = 0;
			if (ver != 1)
				return fail(k, ".nub_exports: record version %u unsupported (expected 1)", ver);
			if (idx >= LINK_MAX_EXPORTS)
				return fail(k, "export %s: index %u out of range (max %d)", name, idx, LINK_MAX_EXPORTS - 1);
			if (seen[idx])
				return fail(k, "export index %u used twice (%s and %s)", idx, k->exp_name[idx], name);
			size_t t = find_ins(k, fn);
			if (!in_code(k, fn) || t == (size_t)-1 || t >= k->nins)
				return fail(k, "export %s: address 0x%llx is not a function in the code", name,
					    (unsigned long long)fn);
			seen[idx] = 1;
			k->exp_addr[idx] = fn;
			memcpy(k->exp_name[idx], name, 32);
			k->flags[t] |= F_TARGET;
			if (idx + 1 > maxidx)
				maxidx = idx + 1;
		}
	}
	if (!found || maxidx == 0)
		return fail(k, "no exports: the ELF has no .nub_exports section (mark entry points with NUB_EXPORT)");
	for (size_t i = 0; i < maxidx; i++)
		if (!seen[i])
			return fail(k, "missing export: no entry point with index %zu (indices must be 0..%zu without gaps)", i,
				    maxidx - 1);
	k->nexp = maxidx;
	return 0;
}

static void assign_jt(lk *k)
{
	k->njt = 0;
	for (size_t i = 0; i <= k->nins; i++)
		if (k->flags[i] & F_JT)
			k->jt_index[i] = (uint32_t)k->njt++;
}

/* ---- stage 4: translation -------------------------------------------------- */

/* Offset width for the next fixup (same emission order in every pass). */
static unsigned next_off_len(const lk *k)
{
	return k->nfix < k->nfix_len ? k->fix_len[k->nfix] : 1;
}

static int add_fix(lk *k, size_t at, size_t to)
{
	if (at == (size_t)-1)
		return fail(k, "out of memory");
	if (k->nfix == k->capfix) {
		size_t nc = k->capfix ? k->capfix * 2 : 256;
		size_t *a = realloc(k->fix_at, nc * sizeof *a);
		if (!a)
			return fail(k, "out of memory");
		k->fix_at = a;
		size_t *b = realloc(k->fix_to, nc * sizeof *b);
		if (!b)
			return fail(k, "out of memory");
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
		pe_reg_imm(&k->em, 51, r, (int64_t)v);
	else
		pe_reg_imm64(&k->em, r, v);
}

static void emit_move(lk *k, uint8_t d, uint8_t s)
{
	if (d != s)
		pe_reg2(&k->em, 100, d, s);
}

/* PVM three-register opcode for a RISC-V R-type op (0: none). */
static uint8_t reg3_op(rv_op op)
{
	switch (op) {
	case RV_ADD: return 200; case RV_SUB: return 201; case RV_SLL: return 207; case RV_SLT: return 217;
	case RV_SLTU: return 216; case RV_XOR: return 211; case RV_SRL: return 208; case RV_SRA: return 209;
	case RV_OR: return 212; case RV_AND: return 210; case RV_ADDW: return 190; case RV_SUBW: return 191;
	case RV_SLLW: return 197; case RV_SRLW: return 198; case RV_SRAW: return 199; case RV_MUL: return 202;
	case RV_MULH: return 213; case RV_MULHSU: return 215; case RV_MULHU: return 214; case RV_DIV: return 204;
	case RV_DIVU: return 203; case RV_REM: return 206; case RV_REMU: return 205; case RV_MULW: return 192;
	case RV_DIVW: return 194; case RV_DIVUW: return 193; case RV_REMW: return 196; case RV_REMUW: return 195;
	case RV_ANDN: return 224; case RV_ORN: return 225; case RV_XNOR: return 226; case RV_MAX: return 227;
	case RV_MAXU: return 228; case RV_MIN: return 229; case RV_MINU: return 230; case RV_ROL: return 220;
	case RV_ROLW: return 221; case RV_ROR: return 222; case RV_RORW: return 223;
	case RV_TH_MVEQZ: return 218; case RV_TH_MVNEZ: return 219;
	default: return 0;
	}
}

/* rd = rs1 OP rs2 where at least one source is x0 and no shortcut applies:
 * give x0 a real register holding 0. */
static void emit_reg3_zero(lk *k, uint8_t op, unsigned rd, unsigned rs1, unsigned rs2)
{
	unsigned other = rs1 ? rs1 : rs2;
	if (other == 0 || rd != other) {
		pe_reg_imm(&k->em, 51, R(rd), 0);
		pe_reg3(&k->em, op, R(rd), rs1 ? R(rs1) : R(rd), rs2 ? R(rs2) : R(rd));
		return;
	}
	/* rd == the non-zero source: borrow a temporary, saved in the spill slot */
	unsigned tmp = 5; /* t0 */
	while (tmp == rd)
		tmp++;
	k->need_spill = 1;
	pe_reg_imm(&k->em, 62, R(tmp), k->spill_addr);           /* store_u64 */
	pe_reg_imm(&k->em, 51, R(tmp), 0);
	pe_reg3(&k->em, op, R(rd), rs1 ? R(rs1) : R(tmp), rs2 ? R(rs2) : R(tmp));
	pe_reg_imm(&k->em, 58, R(tmp), k->spill_addr);           /* load_u64 */
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
				else pe_reg_imm(&k->em, 51, R(rd), 0);
			}
			return 0;
		}
		if (a == 0) {
			pe_reg2_imm(&k->em, eqz ? 147 : 148, R(rd), R(b), 0);
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
			pe_reg2_imm(&k->em, 131, R(rd), R(a), 0);
			return 0;
		case RV_AND: case RV_MUL: case RV_MULH: case RV_MULHSU: case RV_MULHU: case RV_MULW: case RV_SLTU:
		case RV_MINU:
			pe_reg_imm(&k->em, 51, R(rd), 0);
			return 0;
		case RV_SLT:
			pe_reg2_imm(&k->em, 137, R(rd), R(a), 0);
			return 0;
		case RV_DIV: case RV_DIVU: case RV_DIVW: case RV_DIVUW: case RV_ORN:
			emit_const(k, R(rd), ~0ull);
			return 0;
		case RV_XNOR:
			pe_reg2_imm(&k->em, 133, R(rd), R(a), -1);
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
		pe_reg2_imm(&k->em, 131, R(rd), R(b), 0);
		return 0;
	case RV_SUB:
		pe_reg2_imm(&k->em, 154, R(rd), R(b), 0);
		return 0;
	case RV_SUBW:
		pe_reg2_imm(&k->em, 141, R(rd), R(b), 0);
		return 0;
	case RV_AND: case RV_SLL: case RV_SRL: case RV_SRA: case RV_SLLW: case RV_SRLW: case RV_SRAW:
	case RV_MUL: case RV_MULH: case RV_MULHSU: case RV_MULHU: case RV_MULW: case RV_REM: case RV_REMU:
	case RV_REMW: case RV_REMUW: case RV_ROL: case RV_ROR: case RV_ROLW: case RV_RORW: case RV_ANDN:
	case RV_MINU:
		pe_reg_imm(&k->em, 51, R(rd), 0);
		return 0;
	case RV_SLTU:
		pe_reg2_imm(&k->em, 142, R(rd), R(b), 0);
		return 0;
	case RV_SLT:
		pe_reg2_imm(&k->em, 143, R(rd), R(b), 0);
		return 0;
	case RV_ORN: case RV_XNOR:
		pe_reg2_imm(&k->em, 133, R(rd), R(b), -1);
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
	case RV_ADDI: return 149; case RV_SLTI: return 137; case RV_SLTIU: return 136; case RV_XORI: return 133;
	case RV_ORI: return 134; case RV_ANDI: return 132; case RV_SLLI: return 151; case RV_SRLI: return 152;
	case RV_SRAI: return 153; case RV_ADDIW: return 131; case RV_SLLIW: return 138; case RV_SRLIW: return 139;
	case RV_SRAIW: return 140; case RV_RORI: return 158; case RV_RORIW: return 160;
	default: return 0;
	}
}

static uint8_t load_op(rv_op op, int absolute)
{
	switch (op) {
	case RV_LBU: return absolute ? 52 : 124; case RV_LB: return absolute ? 53 : 125;
	case RV_LHU: return absolute ? 54 : 126; case RV_LH: return absolute ? 55 : 127;
	case RV_LWU: return absolute ? 56 : 128; case RV_LW: return absolute ? 57 : 129;
	case RV_LD: return absolute ? 58 : 130;
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
	size_t t = find_ins(k, target);
	size_t at;
	if (a == 0 && b == 0) {
		int taken = in->op == RV_BEQ || in->op == RV_BGE || in->op == RV_BGEU;
		if (!taken)
			return 0;
		return add_fix(k, pe_off(&k->em, 40, next_off_len(k)), t);
	}
	if (b == 0 || a == 0) {
		static const struct { rv_op op; uint8_t rhs0, lhs0; } m[] = {
			{RV_BEQ, 81, 81}, {RV_BNE, 82, 82}, {RV_BLT, 87, 90}, {RV_BGE, 89, 88},
			{RV_BLTU, 83, 86}, {RV_BGEU, 85, 84},
		};
		for (size_t q = 0; q < sizeof m / sizeof m[0]; q++)
			if (m[q].op == in->op) {
				uint8_t op = b == 0 ? m[q].rhs0 : m[q].lhs0;
				at = pe_reg_imm_off(&k->em, op, R(b == 0 ? a : b), 0, next_off_len(k));
				return add_fix(k, at, t);
			}
		return fail(k, "internal: branch op");
	}
	uint8_t op = 0;
	switch (in->op) {
	case RV_BEQ: op = 170; break; case RV_BNE: op = 171; break; case RV_BLTU: op = 172; break;
	case RV_BLT: op = 173; break; case RV_BGEU: op = 174; break; case RV_BGE: op = 175; break;
	default: return fail(k, "internal: branch op");
	}
	return add_fix(k, pe_reg2_off(&k->em, op, R(a), R(b), next_off_len(k)), t);
}

static int call_to(lk *k, unsigned rd, uint64_t target, uint64_t ret)
{
	size_t t = find_ins(k, target);
	if (rd == 0)
		return add_fix(k, pe_off(&k->em, 40, next_off_len(k)), t);
	size_t r = find_ins(k, ret);
	return add_fix(k, pe_reg_imm_off(&k->em, 80, R(rd), jt_addr(k, r), next_off_len(k)), t);
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
		if (in_code(k, k->hi_target[h]))
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
		int code = in_code(k, t), got = (k->flags[i] & F_GOT) != 0;
		uint64_t v = code ? jt_addr(k, find_ins(k, t)) : got ? t : a + (uint64_t)imm;
		if (t > 0xFFFFFFFFull || v > 0xFFFFFFFFull)
			return fail(k, "0x%llx: auipc target 0x%llx (symbol %s) is outside the 32-bit PVM address space",
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
			return fail(k, "0x%llx: jalr to an absolute address (x0 base) is not supported", (unsigned long long)a);
		if (imm != 0)
			return fail(k, "0x%llx: indirect jump with non-zero offset %lld is not supported", (unsigned long long)a,
				    (long long)imm);
		if (rd == 0) {
			pe_reg_imm(&k->em, 50, R(rs1), 0);
			return 0;
		}
		pe_reg2_imm2(&k->em, 180, R(rd), R(rs1), jt_addr(k, find_ins(k, next)), 0);
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
			pe_imm2(&k->em, (uint8_t)(30 + sz), imm, 0);
		else if (rs1 == 0)
			pe_reg_imm(&k->em, (uint8_t)(59 + sz), R(rs2), imm);
		else if (rs2 == 0)
			pe_reg_imm2(&k->em, (uint8_t)(70 + sz), R(rs1), imm, 0);
		else
			pe_reg2_imm(&k->em, (uint8_t)(120 + sz), R(rs2), R(rs1), imm);
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
			{RV_CLZ, 104, 64}, {RV_CLZW, 105, 32}, {RV_CTZ, 106, 64}, {RV_CTZW, 107, 32},
			{RV_CPOP, 102, 0}, {RV_CPOPW, 103, 0}, {RV_SEXTB, 108, 0}, {RV_SEXTH, 109, 0},
			{RV_ZEXTH, 110, 0}, {RV_REV8, 111, 0},
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
	case RV_FENCE: case RV_FENCEI:
		return 0;
	case RV_EBREAK: case RV_UNIMP:
		pe_op(&k->em, 0);
		return 0;
	case RV_NUB_ECALLI:
		pe_imm(&k->em, 10, (uint32_t)(in->imm & 0xfff));
		return 0;
	case RV_ECALL:
		return fail(k, "0x%llx: bare ecall is not supported: use NUB_HOSTCALL (sdk/include/nub_guest.h)",
			    (unsigned long long)a);
	default:
		if (reg3_op(in->op)) {
			if (rd == 0)
				return 0;
			return translate_reg3(k, in);
		}
		describe(k, i, d, sizeof d);
		return fail(k, "0x%llx: unsupported instruction: %s", (unsigned long long)a, d);
	}
}

/* One translation pass with the current offset widths. */
static int emit_pass(lk *k)
{
	pe_free(&k->em);
	k->nfix = 0;
	if (pe_init(&k->em))
		return fail(k, "out of memory");
	/* dispatch prologue: export i at pc 5*i, each a 5-byte jump */
	for (size_t x = 0; x < k->nexp; x++) {
		size_t at = pe_off(&k->em, 40, 4);
		if (at != 5 * x)
			return fail(k, "internal: dispatch entry %zu at %zu", x, at);
		if (add_fix(k, at, find_ins(k, k->exp_addr[x])))
			return -1;
	}
	for (size_t i = 0; i < k->nins; i++) {
		if ((k->flags[i] & F_TARGET) && !pe_last_is_term(&k->em))
			pe_op(&k->em, 1);
		k->pvm_off[i] = k->em.len;
		if (k->flags[i] & F_SKIP)
			continue;
		if (translate(k, i))
			return -1;
		if (pe_failed(&k->em))
			return fail(k, "out of memory");
	}
	k->pvm_off[k->nins] = k->em.len;
	pe_op(&k->em, 0); /* code may run off the end: trap */
	if (pe_failed(&k->em))
		return fail(k, "out of memory");
	return 0;
}

/* Emit with the smallest jump/branch offsets: start at 1 byte each, widen
 * those that do not fit and re-emit (widths only grow, so this ends). */
static int emit_all(lk *k)
{
	for (int round = 0; round < 16; round++) {
		if (emit_pass(k))
			return -1;
		if (round == 0) {
			free(k->fix_len);
			k->fix_len = malloc(k->nfix ? k->nfix : 1);
			if (!k->fix_len)
				return fail(k, "out of memory");
			for (size_t f = 0; f < k->nfix; f++)
				k->fix_len[f] = (uint8_t)(f < k->nexp ? 4 : 1);
			k->nfix_len = k->nfix;
		}
		if (k->nfix != k->nfix_len)
			return fail(k, "internal: fixup count changed between passes");
		int changed = 0;
		for (size_t f = 0; f < k->nfix; f++) {
			int64_t off = (int64_t)k->pvm_off[k->fix_to[f]] - (int64_t)k->fix_at[f];
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
			if (pe_patch_off(&k->em, k->fix_at[f], k->pvm_off[k->fix_to[f]], k->fix_len[f]))
				return fail(k, "internal: jump offset does not fit at %zu", k->fix_at[f]);
		return 0;
	}
	return fail(k, "internal: jump offset widths did not converge");
}

/* ---- stage 5: output ---------------------------------------------------- */

static int write_spi(lk *k, link_result *out)
{
	if (k->em.len > 0x1000000u)
		return fail(k, "PVM code is %zu bytes, above the 16 MiB limit", k->em.len);
	uint32_t *jt = calloc(k->njt ? k->njt : 1, sizeof *jt);
	if (!jt)
		return fail(k, "out of memory");
	for (size_t i = 0; i <= k->nins; i++)
		if (k->flags[i] & F_JT)
			jt[k->jt_index[i]] = (uint32_t)k->pvm_off[i];
	link_buf blob = {0}, spi = {0};
	int rc = pe_blob(&k->em, jt, k->njt, &blob);
	free(jt);
	if (rc || blob.failed) {
		free(blob.p);
		return fail(k, "out of memory");
	}
	uint32_t rw_total = k->rw_total + (k->need_spill ? (uint32_t)((k->spill_addr - k->rw_base) + 8 - k->rw_total) : 0);
	uint32_t rw_pages = (k->rw_len + 4095u) / 4096u * 4096u;
	uint32_t heap_pages = rw_total > rw_pages ? (rw_total - rw_pages + 4095u) / 4096u : 0;
	uint32_t stack = k->stack_size;
	if (k->ro_len >= (1u << 24) || k->rw_len >= (1u << 24) || heap_pages > 0xffff || stack >= (1u << 24)) {
		free(blob.p);
		return fail(k, "program too large for a standard program (ro %u, rw %u, heap pages %u, stack %u)", k->ro_len,
			    k->rw_len, heap_pages, stack);
	}
	uint64_t need = 5ull * ZONE + zone_up(k->ro_len) + zone_up((uint64_t)k->rw_len + heap_pages * 4096ull) +
			zone_up(stack) + (1ull << 24);
	if (need > (1ull << 32)) {
		free(blob.p);
		return fail(k, "memory layout exceeds 2^32 bytes");
	}
	lb_le(&spi, k->ro_len, 3);
	lb_le(&spi, k->rw_len, 3);
	lb_le(&spi, heap_pages, 2);
	lb_le(&spi, stack, 3);
	lb_put(&spi, k->ro, k->ro_len);
	lb_put(&spi, k->rw, k->rw_len);
	lb_le(&spi, blob.len, 4);
	lb_put(&spi, blob.p, blob.len);
	free(blob.p);
	if (spi.failed) {
		free(spi.p);
		return fail(k, "out of memory");
	}
	out->spi = spi.p;
	out->spi_len = spi.len;
	out->code_len = (uint32_t)k->em.len;
	out->insn_count = (uint32_t)k->em.ninsn;
	out->jump_table_len = (uint32_t)k->njt;
	out->rv_insn_count = (uint32_t)k->nins;
	out->ro_len = k->ro_len;
	out->rw_len = k->rw_len;
	out->heap_pages = heap_pages;
	out->stack_size = stack;
	out->nexports = (uint32_t)k->nexp;
	for (size_t x = 0; x < k->nexp; x++)
		memcpy(out->export_names[x], k->exp_name[x], 32);
	return 0;
}

static void lk_free(lk *k)
{
	link_elf_free(&k->elf);
	free(k->ins);
	free(k->addr);
	free(k->flags);
	free(k->hi_target);
	free(k->hi_sym);
	free(k->lo_of);
	free(k->pvm_off);
	free(k->jt_index);
	free(k->jt_ins);
	free(k->ro);
	free(k->rw);
	free(k->fix_at);
	free(k->fix_to);
	free(k->fix_len);
	pe_free(&k->em);
}

void link_result_free(link_result *r)
{
	free(r->spi);
	memset(r, 0, sizeof *r);
}

int link_program(const uint8_t *elf, size_t len, const link_options *opt, link_result *out, char *err, size_t cap)
{
	lk *k = calloc(1, sizeof *k);
	memset(out, 0, sizeof *out);
	if (!k) {
		snprintf(err, cap, "out of memory");
		return -1;
	}
	k->err = err;
	k->cap = cap;
	int rc = -1;
	if (link_elf_parse(elf, len, &k->elf, err, cap))
		goto done;
	if (k->elf.machine != LINK_EM_RISCV) {
		fail(k, "ELF machine %u is not RISC-V (243)", k->elf.machine);
		goto done;
	}
	if (!(k->elf.flags & LINK_EF_RISCV_RVE)) {
		fail(k, "ELF flags 0x%x lack EF_RISCV_RVE: compile for RV64E (-march=rv64emc_zbb -mabi=lp64e)", k->elf.flags);
		goto done;
	}
	if (k->elf.type != 2) {
		fail(k, "ELF type %u is not an executable: link first (ld.lld-19 -T sdk/nub.ld --emit-relocs; see scripts/nub-cc)",
		     k->elf.type);
		goto done;
	}
	if (layout(k) || decode_all(k) || read_exports(k))
		goto done;
	if (k->elf.nrelocs == 0) {
		fail(k, "ELF has no relocations: link with --emit-relocs");
		goto done;
	}
	if (code_relocs(k) || find_targets(k) || data_relocs(k, 0))
		goto done;
	if (opt && opt->stack_size)
		k->stack_size = opt->stack_size;
	if (!k->stack_size)
		k->stack_size = LINK_DEFAULT_STACK;
	assign_jt(k);
	if (emit_all(k) || data_relocs(k, 1) || write_spi(k, out))
		goto done;
	rc = 0;
done:
	lk_free(k);
	free(k);
	return rc;
}
