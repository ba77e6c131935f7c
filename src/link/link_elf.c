/* link_elf.c: ELF64 little-endian reader for `nub link`; every offset, size
 * and index is checked against the buffer before use. */
#include "link/link.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	if (!err || !cap)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

static uint64_t rd(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* [off, off+size) inside [0, len) without overflow. */
static int in_range(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

/* NUL-terminated string at strtab offset `off` of section `strsec`. */
static const char *str_at(const link_elf *e, const link_section *strsec, uint64_t off)
{
	if (!strsec || strsec->type != LINK_SHT_STRTAB || off >= strsec->size)
		return NULL;
	const char *base = (const char *)e->buf + strsec->offset;
	if (!memchr(base + off, 0, (size_t)(strsec->size - off)))
		return NULL;
	return base + off;
}

const uint8_t *link_elf_section_data(const link_elf *e, size_t i)
{
	if (i >= e->nsecs || e->secs[i].type == LINK_SHT_NOBITS)
		return NULL;
	return e->buf + e->secs[i].offset;
}

void link_elf_free(link_elf *e)
{
	free(e->secs);
	free(e->syms);
	free(e->relocs);
	memset(e, 0, sizeof *e);
}

#define EHDR_SIZE 64u
#define SHDR_SIZE 64u
#define SYM_SIZE 24u
#define RELA_SIZE 24u
#define MAX_SECTIONS 65280u

int link_elf_parse(const uint8_t *buf, size_t len, link_elf *out, char *err, size_t cap)
{
	memset(out, 0, sizeof *out);
	out->buf = buf;
	out->len = len;
	if (len < 4 || memcmp(buf, "\x7f" "ELF", 4) != 0) {
		fail(err, cap, "not an ELF file (bad magic)");
		return -1;
	}
	if (len < EHDR_SIZE) {
		fail(err, cap, "ELF header truncated (%zu bytes, need 64)", len);
		return -1;
	}
	if (buf[4] != 2) {
		fail(err, cap, "ELF class %u is not ELFCLASS64 (a 64-bit RISC-V object is required)", buf[4]);
		return -1;
	}
	if (buf[5] != 1) {
		fail(err, cap, "ELF data encoding %u is not little-endian", buf[5]);
		return -1;
	}
	if (buf[6] != 1) {
		fail(err, cap, "ELF version %u unsupported", buf[6]);
		return -1;
	}
	out->type = (uint16_t)rd(buf + 16, 2);
	out->machine = (uint16_t)rd(buf + 18, 2);
	out->entry = rd(buf + 24, 8);
	uint64_t shoff = rd(buf + 40, 8);
	out->flags = (uint32_t)rd(buf + 48, 4);
	uint64_t shentsize = rd(buf + 58, 2);
	uint64_t shnum = rd(buf + 60, 2);
	uint64_t shstrndx = rd(buf + 62, 2);
	if (shnum == 0) {
		fail(err, cap, "ELF has no section headers");
		return -1;
	}
	if (shentsize != SHDR_SIZE) {
		fail(err, cap, "ELF section header size %llu is not 64", (unsigned long long)shentsize);
		return -1;
	}
	if (shnum > MAX_SECTIONS || !in_range(shoff, shnum * SHDR_SIZE, len)) {
		fail(err, cap, "ELF section header table (offset 0x%llx, %llu entries) lies outside the file",
		     (unsigned long long)shoff, (unsigned long long)shnum);
		return -1;
	}
	out->secs = calloc((size_t)shnum, sizeof *out->secs);
	if (!out->secs) {
		fail(err, cap, "out of memory");
		return -1;
	}
	out->nsecs = (size_t)shnum;
	for (size_t i = 0; i < out->nsecs; i++) {
		const uint8_t *h = buf + shoff + i * SHDR_SIZE;
		link_section *s = &out->secs[i];
		s->type = (uint32_t)rd(h + 4, 4);
		s->flags = rd(h + 8, 8);
		s->addr = rd(h + 16, 8);
		s->offset = rd(h + 24, 8);
		s->size = rd(h + 32, 8);
		s->link = (uint32_t)rd(h + 40, 4);
		s->info = (uint32_t)rd(h + 44, 4);
		s->entsize = rd(h + 56, 8);
		if (s->type != LINK_SHT_NOBITS && !in_range(s->offset, s->size, len)) {
			fail(err, cap, "ELF section %zu (offset 0x%llx, size 0x%llx) lies outside the file", i,
			     (unsigned long long)s->offset, (unsigned long long)s->size);
			goto bad;
		}
		if (s->addr + s->size < s->addr) {
			fail(err, cap, "ELF section %zu address range wraps", i);
			goto bad;
		}
	}
	if (shstrndx >= shnum || out->secs[shstrndx].type != LINK_SHT_STRTAB) {
		fail(err, cap, "ELF section name table index %llu invalid", (unsigned long long)shstrndx);
		goto bad;
	}
	for (size_t i = 0; i < out->nsecs; i++) {
		uint32_t name_off = (uint32_t)rd(buf + shoff + i * SHDR_SIZE, 4);
		const char *n = str_at(out, &out->secs[shstrndx], name_off);
		if (!n) {
			fail(err, cap, "ELF section %zu has a bad name offset %u", i, name_off);
			goto bad;
		}
		out->secs[i].name = n;
	}
	/* symbol table (at most one SHT_SYMTAB) */
	for (size_t i = 0; i < out->nsecs; i++) {
		const link_section *s = &out->secs[i];
		if (s->type != LINK_SHT_SYMTAB)
			continue;
		if (out->syms) {
			fail(err, cap, "ELF has more than one symbol table");
			goto bad;
		}
		if (s->entsize != SYM_SIZE || s->size % SYM_SIZE) {
			fail(err, cap, "ELF symbol table %s: entry size %llu / size %llu invalid", s->name,
			     (unsigned long long)s->entsize, (unsigned long long)s->size);
			goto bad;
		}
		if (s->link >= out->nsecs || out->secs[s->link].type != LINK_SHT_STRTAB) {
			fail(err, cap, "ELF symbol table %s: string table index %u invalid", s->name, s->link);
			goto bad;
		}
		size_t n = (size_t)(s->size / SYM_SIZE);
		out->syms = calloc(n ? n : 1, sizeof *out->syms);
		if (!out->syms) {
			fail(err, cap, "out of memory");
			goto bad;
		}
		out->nsyms = n;
		for (size_t k = 0; k < n; k++) {
			const uint8_t *p = buf + s->offset + k * SYM_SIZE;
			link_symbol *y = &out->syms[k];
			uint32_t name_off = (uint32_t)rd(p, 4);
			y->name = str_at(out, &out->secs[s->link], name_off);
			if (!y->name) {
				fail(err, cap, "ELF symbol %zu has a bad name offset %u", k, name_off);
				goto bad;
			}
			y->info = p[4];
			y->shndx = (uint16_t)rd(p + 6, 2);
			y->value = rd(p + 8, 8);
			y->size = rd(p + 16, 8);
			if (y->shndx != 0 && y->shndx < 0xff00 && y->shndx >= out->nsecs) {
				fail(err, cap, "ELF symbol %zu (%s) names section %u of %zu", k, y->name, y->shndx,
				     out->nsecs);
				goto bad;
			}
		}
	}
	/* relocations */
	size_t total = 0;
	for (size_t i = 0; i < out->nsecs; i++) {
		const link_section *s = &out->secs[i];
		if (s->type != LINK_SHT_RELA)
			continue;
		if (s->entsize != RELA_SIZE || s->size % RELA_SIZE) {
			fail(err, cap, "ELF relocation section %s: entry size %llu / size %llu invalid", s->name,
			     (unsigned long long)s->entsize, (unsigned long long)s->size);
			goto bad;
		}
		if (s->info >= out->nsecs) {
			fail(err, cap, "ELF relocation section %s applies to section %u of %zu", s->name, s->info,
			     out->nsecs);
			goto bad;
		}
		total += (size_t)(s->size / RELA_SIZE);
	}
	if (total) {
		out->relocs = calloc(total, sizeof *out->relocs);
		if (!out->relocs) {
			fail(err, cap, "out of memory");
			goto bad;
		}
	}
	for (size_t i = 0; i < out->nsecs; i++) {
		const link_section *s = &out->secs[i];
		if (s->type != LINK_SHT_RELA)
			continue;
		size_t n = (size_t)(s->size / RELA_SIZE);
		for (size_t k = 0; k < n; k++) {
			const uint8_t *p = buf + s->offset + k * RELA_SIZE;
			link_reloc *r = &out->relocs[out->nrelocs];
			uint64_t info = rd(p + 8, 8);
			r->offset = rd(p, 8);
			r->type = (uint32_t)(info & 0xffffffffu);
			r->sym = (uint32_t)(info >> 32);
			r->addend = (int64_t)rd(p + 16, 8);
			r->section = s->info;
			if (r->sym >= out->nsyms && !(r->sym == 0)) {
				fail(err, cap, "ELF relocation %zu in %s names symbol %u of %zu", k, s->name, r->sym,
				     out->nsyms);
				goto bad;
			}
			out->nrelocs++;
		}
	}
	return 0;
bad:
	link_elf_free(out);
	return -1;
}
