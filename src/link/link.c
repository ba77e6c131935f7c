/* link.c: `nub link` driver (link_program) and the helpers its stages share.
 * The stages live in link_layout.c, link_translate.c and link_emit.c (see
 * link_int.h).
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
#include "link/link_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lk_fail(lk *k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(k->err, k->cap, fmt, ap);
	va_end(ap);
	return -1;
}

uint64_t lk_rdle(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void lk_wrle(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* RISC-V x-register -> PVM register, or -1 when PVM has no such register. */
int lk_map_reg(unsigned x)
{
	static const int8_t m[16] = {-1, 0, 1, -1, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	return x < 16 ? m[x] : -1;
}
int lk_in_code(const lk *k, uint64_t a)
{
	for (size_t i = 0; i < k->ncode; i++)
		if (a >= k->code[i].lo && a < k->code[i].hi)
			return 1;
	return 0;
}

/* Index of the instruction starting at address a, or (size_t)-1. The end of
 * a code section maps to the next instruction (or nins: the final trap). */
size_t lk_find_ins(const lk *k, uint64_t a)
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

void lk_describe(const lk *k, size_t i, char *buf, size_t cap)
{
	rv_format(&k->ins[i], buf, cap);
}

const link_symbol *lk_sym_of(const lk *k, const link_reloc *r)
{
	return r->sym < k->elf.nsyms ? &k->elf.syms[r->sym] : NULL;
}

const char *lk_sym_name(const lk *k, const link_reloc *r)
{
	const link_symbol *s = lk_sym_of(k, r);
	return s && s->name && s->name[0] ? s->name : "(unnamed)";
}

uint64_t lk_reloc_target(const lk *k, const link_reloc *r)
{
	const link_symbol *s = lk_sym_of(k, r);
	return (s ? s->value : 0) + (uint64_t)r->addend;
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
	free(k->ctor);
	free(k->ret_off);
	free(k->stub_off);
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
		lk_fail(k, "ELF machine %u is not RISC-V (243)", k->elf.machine);
		goto done;
	}
	if (!(k->elf.flags & LINK_EF_RISCV_RVE)) {
		lk_fail(k, "ELF flags 0x%x lack EF_RISCV_RVE: compile for RV64E (-march=rv64emc_zbb -mabi=lp64e)", k->elf.flags);
		goto done;
	}
	if (k->elf.type != 2) {
		lk_fail(k, "ELF type %u is not an executable: link first (ld.lld-19 -T sdk/nub.ld --emit-relocs; see scripts/nub-cc)",
		     k->elf.type);
		goto done;
	}
	if (lk_layout(k) || lk_decode(k) || lk_read_exports(k) || lk_read_ctors(k))
		goto done;
	if (k->elf.nrelocs == 0) {
		lk_fail(k, "ELF has no relocations: link with --emit-relocs");
		goto done;
	}
	if (lk_code_relocs(k) || lk_find_targets(k) || lk_data_relocs(k, 0))
		goto done;
	if (opt && opt->stack_size)
		k->stack_size = opt->stack_size;
	if (!k->stack_size)
		k->stack_size = LINK_DEFAULT_STACK;
	lk_assign_jt(k);
	if (lk_emit_all(k) || lk_data_relocs(k, 1) || lk_write_spi(k, out))
		goto done;
	rc = 0;
done:
	lk_free(k);
	free(k);
	return rc;
}
