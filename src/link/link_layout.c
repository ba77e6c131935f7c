/* link_layout.c: nub link stages 1-3: sections and memory layout, decoding
 * of the code, relocations in code and data, block starts, jump table,
 * exports. */
#include "link/link_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- stage 1: sections and layout ---------------------------------------- */

uint64_t lk_zone_up(uint64_t x)
{
	return PVM_ZONE_UP(x);
}

int lk_is_ignored_alloc(const char *n)
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
	       !strncmp(n, ".got", 4) || !strncmp(n, ".data.rel.ro", 12) || !strcmp(n, ".init_array") ||
	       !strcmp(n, ".preinit_array");
}

int lk_layout(lk *k)
{
	const link_elf *e = &k->elf;
	uint64_t ro_end = RO_BASE, rw_init_end = 0, rw_end = 0;
	int have_rw = 0;
	/* pass 1: code and read-only */
	for (size_t i = 0; i < e->nsecs; i++) {
		const link_section *s = &e->secs[i];
		if (!(s->flags & LINK_SHF_ALLOC) || s->size == 0 || lk_is_ignored_alloc(s->name))
			continue;
		if (!strcmp(s->name, ".nub_exports") || !strcmp(s->name, ".nub_stack_size"))
			continue;
		if (!strncmp(s->name, ".fini_array", 11) || !strncmp(s->name, ".dtors", 6))
			return lk_fail(k, "section %s: static destructors never run (a PVM program ends by halting); remove __attribute__((destructor))",
				    s->name);
		if (!strncmp(s->name, ".ctors", 6))
			return lk_fail(k, "section %s: .ctors is not supported (use .init_array: clang's default)", s->name);
		if (s->flags & 0x400) /* SHF_TLS */
			return lk_fail(k, "section %s: thread-local storage is not supported", s->name);
		if (s->flags & LINK_SHF_EXECINSTR) {
			if (s->flags & LINK_SHF_WRITE)
				return lk_fail(k, "section %s is writable and executable", s->name);
			if (s->type == LINK_SHT_NOBITS)
				return lk_fail(k, "section %s: executable NOBITS section", s->name);
			if (k->ncode == sizeof k->code / sizeof k->code[0])
				return lk_fail(k, "too many code sections (max 16; use sdk/nub.ld)");
			k->code[k->ncode].lo = s->addr;
			k->code[k->ncode].hi = s->addr + s->size;
			k->ncode++;
			continue;
		}
		if (is_ro(s)) {
			if (s->type == LINK_SHT_NOBITS)
				return lk_fail(k, "section %s: read-only NOBITS section is not supported", s->name);
			if (s->addr < RO_BASE || s->addr + s->size > RO_BASE + (uint64_t)PVM_SPI_MAX_LEN - 1)
				return lk_fail(k, "read-only section %s at 0x%llx..0x%llx: must lie at 0x10000.. (link with sdk/nub.ld)",
					    s->name, (unsigned long long)s->addr,
					    (unsigned long long)(s->addr + s->size));
			if (s->addr + s->size > ro_end)
				ro_end = s->addr + s->size;
		}
	}
	if (k->ncode == 0) {
		for (size_t i = 0; i < e->nsecs; i++)
			if (!strcmp(e->secs[i].name, ".nub_exports"))
				return lk_fail(k, "no executable section (.text) in the ELF");
		return lk_fail(k, "no exports and no code: the ELF has no .nub_exports section (mark entry points with NUB_EXPORT)");
	}
	k->ro_len = (uint32_t)(ro_end - RO_BASE);
	k->rw_base = (uint32_t)PVM_SPI_RW_ADDR((uint64_t)k->ro_len);
	/* pass 2: read-write */
	for (size_t i = 0; i < e->nsecs; i++) {
		const link_section *s = &e->secs[i];
		if (!(s->flags & LINK_SHF_ALLOC) || s->size == 0 || lk_is_ignored_alloc(s->name))
			continue;
		if (!strcmp(s->name, ".nub_exports") || !strcmp(s->name, ".nub_stack_size"))
			continue;
		if ((s->flags & LINK_SHF_EXECINSTR) || is_ro(s))
			continue;
		if (s->addr < k->rw_base || s->addr + s->size > (uint64_t)k->rw_base + PVM_SPI_MAX_LEN - 1)
			return lk_fail(k, "read-write section %s at 0x%llx: must lie at 0x%x.. (2*0x10000 + Z(|o|); link with sdk/nub.ld)",
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
		if (lo < (uint64_t)k->rw_base + k->rw_total + PVM_ZONE_SIZE && hi > RO_BASE)
			return lk_fail(k, "code at 0x%llx..0x%llx overlaps the data area (link with sdk/nub.ld)",
				    (unsigned long long)lo, (unsigned long long)hi);
	}
	/* spill slot for the rare x0-operand fallback, after everything */
	k->spill_addr = k->rw_base + ((k->rw_total + 7u) & ~7u);
	/* copy data */
	k->ro = calloc(k->ro_len ? k->ro_len : 1, 1);
	k->rw = calloc(k->rw_len ? k->rw_len : 1, 1);
	if (!k->ro || !k->rw)
		return lk_fail(k, "out of memory");
	for (size_t i = 0; i < e->nsecs; i++) {
		const link_section *s = &e->secs[i];
		if (!(s->flags & LINK_SHF_ALLOC) || s->size == 0 || s->type == LINK_SHT_NOBITS ||
		    lk_is_ignored_alloc(s->name) || (s->flags & LINK_SHF_EXECINSTR))
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
		if (r[j] != 0 && lk_map_reg(r[j]) < 0) {
			char d[128];
			lk_describe(k, i, d, sizeof d);
			return lk_fail(k, "0x%llx: forbidden register x%u in %s (PVM maps only ra, sp, t0-t2, s0, s1, a0-a5; compile with -mabi=lp64e)",
				    (unsigned long long)k->addr[i], r[j], d);
		}
	}
	return 0;
}

int lk_decode(lk *k)
{
	qsort(k->code, k->ncode, sizeof k->code[0], cmp_range);
	size_t total = 0;
	for (size_t c = 0; c < k->ncode; c++) {
		if (c && k->code[c].lo < k->code[c - 1].hi)
			return lk_fail(k, "code sections overlap at 0x%llx", (unsigned long long)k->code[c].lo);
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
		return lk_fail(k, "out of memory");
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
			return lk_fail(k, "internal: code section bytes not found");
		uint64_t size = k->code[c].hi - k->code[c].lo;
		for (uint64_t off = 0; off < size;) {
			size_t i = k->nins;
			k->addr[i] = k->code[c].lo + off;
			if (rv_decode(bytes + off, (size_t)(size - off), &k->ins[i]) != 0) {
				char d[128];
				rv_format(&k->ins[i], d, sizeof d);
				if (k->ins[i].len < 2)
					return lk_fail(k, "0x%llx: truncated instruction at the end of the code section",
						    (unsigned long long)k->addr[i]);
				return lk_fail(k, "0x%llx: unsupported instruction: %s", (unsigned long long)k->addr[i], d);
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
	size_t t = lk_find_ins(k, a);
	if (t == (size_t)-1)
		return lk_fail(k, "0x%llx: %s target 0x%llx is not an instruction start", (unsigned long long)from,
			    what, (unsigned long long)a);
	k->flags[t] |= f;
	return 0;
}

int lk_code_relocs(lk *k)
{
	for (size_t j = 0; j < k->elf.nrelocs; j++) {
		const link_reloc *r = &k->elf.relocs[j];
		const link_section *rs = &k->elf.secs[r->section];
		if (!(rs->flags & LINK_SHF_ALLOC) || !(rs->flags & LINK_SHF_EXECINSTR))
			continue; /* data relocations: lk_data_relocs(); debug info: ignored */
		if (!lk_in_code(k, r->offset))
			return lk_fail(k, "relocation at 0x%llx in section %s lies outside the code", (unsigned long long)r->offset,
				    rs->name);
		size_t i = lk_find_ins(k, r->offset);
		switch (r->type) {
		case R_NONE: case R_BRANCH: case R_JAL: case R_CALL: case R_CALL_PLT: case R_RVC_BRANCH:
		case R_RVC_JUMP: case R_RELAX: case R_ALIGN:
			break; /* decoded from the linked instructions */
		case R_PCREL_HI20:
		case R_GOT_HI20:
			if (i == (size_t)-1 || i >= k->nins || k->ins[i].op != RV_AUIPC)
				return lk_fail(k, "0x%llx: %s relocation not on an auipc", (unsigned long long)r->offset,
					    r->type == R_GOT_HI20 ? "GOT_HI20" : "PCREL_HI20");
			k->flags[i] |= F_HI | (r->type == R_GOT_HI20 ? F_GOT : 0);
			k->hi_target[i] = lk_reloc_target(k, r);
			k->hi_sym[i] = lk_sym_name(k, r);
			break;
		case R_PCREL_LO12_I:
		case R_PCREL_LO12_S: {
			uint64_t hi_addr = lk_reloc_target(k, r);
			size_t h = lk_find_ins(k, hi_addr);
			if (i == (size_t)-1 || i >= k->nins || h == (size_t)-1 || h >= k->nins ||
			    k->ins[h].op != RV_AUIPC)
				return lk_fail(k, "0x%llx: PCREL_LO12 relocation does not point at an auipc",
					    (unsigned long long)r->offset);
			k->flags[i] |= F_LO;
			k->lo_of[i] = h;
			break;
		}
		case R_HI20: case R_LO12_I: case R_LO12_S:
			if (lk_in_code(k, lk_reloc_target(k, r)))
				return lk_fail(k, "0x%llx: absolute (HI20/LO12) reference to code address 0x%llx is not supported; compile with -fPIC",
					    (unsigned long long)r->offset, (unsigned long long)lk_reloc_target(k, r));
			break; /* data addresses are final */
		default:
			return lk_fail(k, "0x%llx: unsupported relocation type %u in code", (unsigned long long)r->offset,
				    r->type);
		}
	}
	/* check HI/LO pairs */
	for (size_t i = 0; i < k->nins; i++) {
		if (!(k->flags[i] & F_LO))
			continue;
		size_t h = k->lo_of[i];
		if (!(k->flags[h] & F_HI))
			return lk_fail(k, "0x%llx: PCREL_LO12 refers to an auipc at 0x%llx without PCREL_HI20/GOT_HI20",
				    (unsigned long long)k->addr[i], (unsigned long long)k->addr[h]);
		/* The user may read the auipc's value from any register (after a
		 * move, a spill and reload, in another block or function): the
		 * auipc's PVM value is chosen so that every user computes the
		 * same address as on RISC-V (see translate_auipc). */
		if ((k->flags[h] & F_GOT) && k->ins[i].op != RV_LD)
			return lk_fail(k, "0x%llx: GOT_HI20 (symbol %s) paired with a non-ld instruction",
				    (unsigned long long)k->addr[i], k->hi_sym[h]);
		if ((k->flags[h] & F_GOT) || !lk_in_code(k, k->hi_target[h]))
			continue;
		/* a code address: the auipc loads the jump-table address and the
		 * user adds nothing, so the user must address exactly the target */
		uint64_t ea = k->addr[h] + (uint64_t)k->ins[h].imm + (uint64_t)k->ins[i].imm;
		if (ea != k->hi_target[h] || k->ins[i].op != RV_ADDI)
			return lk_fail(k, "0x%llx: %s of code address 0x%llx (symbol %s) is not supported: only its address (addi) can be taken",
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

int lk_find_targets(lk *k)
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
				if (!lk_in_code(k, t))
					return lk_fail(k, "0x%llx: call target 0x%llx lies outside the code",
						    (unsigned long long)a, (unsigned long long)t);
				if (mark_target(k, t, F_TARGET, a, "call"))
					return -1;
			} else if (!(k->flags[i] & F_HI)) {
				return lk_fail(k, "0x%llx: auipc without a PCREL_HI20/GOT_HI20 relocation and not a call (link with --emit-relocs, no relaxation)",
					    (unsigned long long)a);
			} else if (lk_in_code(k, k->hi_target[i]) &&
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
	return !(s->flags & LINK_SHF_ALLOC) || lk_is_ignored_alloc(s->name) || !strcmp(s->name, ".nub_exports") ||
	       !strcmp(s->name, ".nub_stack_size") || s->type == LINK_SHT_NOBITS;
}

static int code_ref(lk *k, uint64_t t, uint64_t at, int pass, size_t *idx)
{
	size_t i = lk_find_ins(k, t);
	if (i == (size_t)-1 || i >= k->nins)
		return lk_fail(k, "data at 0x%llx refers to code address 0x%llx, which is not an instruction start",
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
	uint64_t t = lk_reloc_target(k, r);
	size_t ci;
	switch (r->type) {
	case R_NONE: case R_RELAX: case R_ALIGN:
		return 0;
	case R_64:
	case R_32: {
		unsigned n = r->type == R_64 ? 8 : 4;
		if (!lk_in_code(k, t))
			return 0; /* data address: already final */
		if (code_ref(k, t, r->offset, pass, &ci))
			return -1;
		if (pass == 1) {
			uint8_t *p = data_ptr(k, r->offset, n);
			if (!p)
				return lk_fail(k, "relocation at 0x%llx lies outside the data", (unsigned long long)r->offset);
			lk_wrle(p, lk_jt_addr(k, ci), n);
		}
		return 0;
	}
	case R_ADD32: case R_ADD64: {
		unsigned n = r->type == R_ADD64 ? 8 : 4;
		if (!lk_in_code(k, t))
			return 0;
		/* the matching SUB at the same offset gives the table base */
		const link_reloc *sub = find_sub(e, subs, nsubs, r, r->type == R_ADD64 ? (uint32_t)R_SUB64 : (uint32_t)R_SUB32);
		if (!sub)
			return lk_fail(k, "0x%llx: ADD%u relocation to code without a matching SUB", (unsigned long long)r->offset,
				    n * 8);
		uint64_t base = lk_reloc_target(k, sub);
		if (lk_in_code(k, base))
			return lk_fail(k, "0x%llx: difference of two code addresses in data is not supported",
				    (unsigned long long)r->offset);
		if (code_ref(k, t, r->offset, pass, &ci))
			return -1;
		if (pass == 1) {
			uint8_t *p = data_ptr(k, r->offset, n);
			if (!p)
				return lk_fail(k, "relocation at 0x%llx lies outside the data", (unsigned long long)r->offset);
			lk_wrle(p, (uint64_t)lk_jt_addr(k, ci) - base, n);
		}
		return 0;
	}
	case R_SUB32: case R_SUB64:
		return 0; /* handled with its ADD */
	case R_ADD8: case R_ADD16: case R_SUB8: case R_SUB16: case R_SUB6: case R_SET6: case R_SET8:
	case R_SET16: case R_SET32: case R_32_PCREL: case R_SET_ULEB128: case R_SUB_ULEB128:
		if (lk_in_code(k, t))
			return lk_fail(k, "0x%llx: relocation type %u to code address 0x%llx in data is not supported",
				    (unsigned long long)r->offset, r->type, (unsigned long long)t);
		return 0;
	default:
		return lk_fail(k, "0x%llx: unsupported relocation type %u in data (section %s)", (unsigned long long)r->offset,
			    r->type, e->secs[r->section].name);
	}
}

int lk_data_relocs(lk *k, int pass)
{
	const link_elf *e = &k->elf;
	size_t nsubs = 0;
	sub_key *subs = malloc((e->nrelocs ? e->nrelocs : 1) * sizeof *subs);
	if (!subs)
		return lk_fail(k, "out of memory");
	for (size_t j = 0; j < e->nrelocs; j++)
		if (e->relocs[j].type == R_SUB32 || e->relocs[j].type == R_SUB64) {
			const link_reloc *r = &e->relocs[j];
			subs[nsubs++] = (sub_key){r->section, r->type, r->offset, j};
		}
	qsort(subs, nsubs, sizeof *subs, cmp_sub);
	int rc = 0;
	for (size_t j = 0; j < e->nrelocs && rc == 0; j++) {
		const link_reloc *r = &e->relocs[j];
		if (lk_in_code(k, r->offset) || section_ignored(k, r->section) ||
		    (e->secs[r->section].flags & LINK_SHF_EXECINSTR))
			continue;
		rc = data_reloc_one(k, r, pass, subs, nsubs);
	}
	free(subs);
	return rc;
}

int lk_read_exports(lk *k)
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
				return lk_fail(k, ".nub_stack_size: size %llu is not a multiple of 4", (unsigned long long)s->size);
			for (uint64_t o = 0; o < s->size; o += 4) {
				uint32_t v = (uint32_t)lk_rdle(p + o, 4);
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
			return lk_fail(k, ".nub_exports: size %llu is not a multiple of %u (records written by NUB_EXPORT)",
				    (unsigned long long)s->size, EXPORT_REC);
		for (uint64_t o = 0; o < s->size; o += EXPORT_REC) {
			const uint8_t *rec = p + o;
			uint32_t ver = (uint32_t)lk_rdle(rec, 4), idx = (uint32_t)lk_rdle(rec + 4, 4);
			uint64_t fn = lk_rdle(rec + 8, 8);
			char name[32];
			memcpy(name, rec + 16, 32);
			name[31] = 0;
			if (ver != 1)
				return lk_fail(k, ".nub_exports: record version %u unsupported (expected 1)", ver);
			if (idx >= LINK_MAX_EXPORTS)
				return lk_fail(k, "export %s: index %u out of range (max %d)", name, idx, LINK_MAX_EXPORTS - 1);
			if (seen[idx])
				return lk_fail(k, "export index %u used twice (%s and %s)", idx, k->exp_name[idx], name);
			size_t t = lk_find_ins(k, fn);
			if (!lk_in_code(k, fn) || t == (size_t)-1 || t >= k->nins)
				return lk_fail(k, "export %s: address 0x%llx is not a function in the code", name,
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
		return lk_fail(k, "no exports: the ELF has no .nub_exports section (mark entry points with NUB_EXPORT)");
	for (size_t i = 0; i < maxidx; i++)
		if (!seen[i])
			return lk_fail(k, "missing export: no entry point with index %zu (indices must be 0..%zu without gaps)", i,
				    maxidx - 1);
	k->nexp = maxidx;
	return 0;
}

int lk_read_ctors(lk *k)
{
	const link_elf *e = &k->elf;
	static const char *const order[] = {".preinit_array", ".init_array"};
	size_t total = 0;
	for (size_t i = 0; i < e->nsecs; i++)
		if (!strcmp(e->secs[i].name, order[0]) || !strcmp(e->secs[i].name, order[1]))
			total += (size_t)(e->secs[i].size / 8);
	if (total > LINK_MAX_CTORS)
		return lk_fail(k, "%zu static constructors: more than %d are not supported", total, LINK_MAX_CTORS);
	k->ctor = calloc(total ? total : 1, sizeof *k->ctor);
	if (!k->ctor)
		return lk_fail(k, "out of memory");
	for (size_t o = 0; o < 2; o++)
		for (size_t i = 0; i < e->nsecs; i++) {
			const link_section *s = &e->secs[i];
			if (strcmp(s->name, order[o]) || s->size == 0)
				continue;
			const uint8_t *p = link_elf_section_data(e, i);
			if (!p || s->size % 8)
				return lk_fail(k, "section %s: size %llu is not a multiple of 8 (function pointers)", s->name,
					    (unsigned long long)s->size);
			for (uint64_t off = 0; off < s->size; off += 8) {
				uint64_t fn = lk_rdle(p + off, 8);
				size_t t = lk_find_ins(k, fn);
				if (!lk_in_code(k, fn) || t == (size_t)-1 || t >= k->nins)
					return lk_fail(k, "section %s: entry %llu (0x%llx) is not a function in the code", s->name,
						    (unsigned long long)(off / 8), (unsigned long long)fn);
				k->flags[t] |= F_TARGET;
				k->ctor[k->nctor++] = t;
			}
		}
	return 0;
}

void lk_assign_jt(lk *k)
{
	k->njt = 0;
	for (size_t i = 0; i <= k->nins; i++)
		if (k->flags[i] & F_JT)
			k->jt_index[i] = (uint32_t)k->njt++;
	/* then one return point per (export, constructor) */
	k->jt_ret_base = k->njt;
	k->njt += k->nexp * k->nctor;
}

