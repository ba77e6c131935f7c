/* link_emit.c: nub link stage 5: PVM instruction encoder (GP 0.7.2 operand
 * formats, see FORMATS.md), program blob and standard-program (SPI) writer. */
#include "link/link_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pe_init(pvm_emit *e)
{
	memset(e, 0, sizeof *e);
	e->cap = 4096;
	e->code = malloc(e->cap);
	e->starts = calloc(e->cap, 1);
	if (!e->code || !e->starts) {
		pe_free(e);
		return -1;
	}
	return 0;
}

void pe_free(pvm_emit *e)
{
	free(e->code);
	free(e->starts);
	memset(e, 0, sizeof *e);
}

int pe_failed(const pvm_emit *e)
{
	return e->code == NULL;
}

/* GP A.5's terminators, as the instruction table flags them. */
static int is_term(uint8_t op)
{
	uint8_t i = pvm_opcode_map[op];
	return i != 0 && (pvm_op_info[i - 1].flags & PVM_F_TERM) != 0;
}

int pe_last_is_term(const pvm_emit *e)
{
	return e->have_last && is_term(e->last_op);
}

/* Start an instruction of up to `max` bytes. */
static uint8_t *begin(pvm_emit *e, uint8_t op, size_t max)
{
	if (!e->code)
		return NULL;
	if (e->len + max > e->cap) {
		size_t nc = e->cap * 2 + max;
		uint8_t *c = realloc(e->code, nc);
		if (!c) {
			pe_free(e);
			return NULL;
		}
		e->code = c;
		uint8_t *s = realloc(e->starts, nc);
		if (!s) {
			pe_free(e);
			return NULL;
		}
		memset(s + e->cap, 0, nc - e->cap);
		e->starts = s;
		e->cap = nc;
	}
	e->starts[e->len] = 1;
	e->code[e->len] = op;
	e->last_op = op;
	e->have_last = 1;
	e->ninsn++;
	return e->code + e->len + 1;
}

static size_t finish(pvm_emit *e, uint8_t *end)
{
	if (!end)
		return (size_t)-1;
	size_t at = e->len;
	e->len = (size_t)(end - e->code);
	return at;
}

/* Minimal byte length n (0..4) such that sext(n bytes of v) == v. v must
 * fit a sign-extended 32-bit value (callers check). */
static unsigned imm_len(int64_t v)
{
	for (unsigned n = 0; n < 4; n++) {
		if (n == 0) {
			if (v == 0)
				return 0;
			continue;
		}
		int64_t lo = -((int64_t)1 << (8 * n - 1)), hi = ((int64_t)1 << (8 * n - 1)) - 1;
		if (v >= lo && v <= hi)
			return n;
	}
	return 4;
}

static uint8_t *put_imm(uint8_t *p, int64_t v, unsigned n)
{
	uint64_t u = (uint64_t)v;
	for (unsigned i = 0; i < n; i++)
		*p++ = (uint8_t)(u >> (8 * i));
	return p;
}

size_t pe_op(pvm_emit *e, uint8_t op)
{
	uint8_t *p = begin(e, op, 1);
	return finish(e, p);
}

size_t pe_imm(pvm_emit *e, uint8_t op, uint32_t imm)
{
	/* ecalli's immediate is zero-extended? No: sext then mod 2^32; a
	 * length that sign-extends to the same low 32 bits is fine. */
	int64_t v = (int64_t)(int32_t)imm;
	uint8_t *p = begin(e, op, 5);
	if (p)
		p = put_imm(p, v, imm_len(v));
	return finish(e, p);
}

size_t pe_reg_imm64(pvm_emit *e, uint8_t r, uint64_t imm)
{
	uint8_t *p = begin(e, PVM_OPC_load_imm_64, 10);
	if (p) {
		*p++ = r;
		p = put_imm(p, (int64_t)imm, 8);
	}
	return finish(e, p);
}

size_t pe_off(pvm_emit *e, uint8_t op, unsigned n)
{
	uint8_t *p = begin(e, op, 5);
	if (p)
		p = put_imm(p, 0, n);
	return finish(e, p);
}

size_t pe_reg_imm(pvm_emit *e, uint8_t op, uint8_t ra, int64_t imm)
{
	uint8_t *p = begin(e, op, 6);
	if (p) {
		*p++ = ra;
		p = put_imm(p, imm, imm_len(imm));
	}
	return finish(e, p);
}

size_t pe_imm2(pvm_emit *e, uint8_t op, int64_t x, int64_t y)
{
	unsigned lx = imm_len(x);
	uint8_t *p = begin(e, op, 10);
	if (p) {
		*p++ = (uint8_t)lx;
		p = put_imm(p, x, lx);
		p = put_imm(p, y, imm_len(y));
	}
	return finish(e, p);
}

size_t pe_reg_imm2(pvm_emit *e, uint8_t op, uint8_t ra, int64_t x, int64_t y)
{
	unsigned lx = imm_len(x);
	uint8_t *p = begin(e, op, 10);
	if (p) {
		*p++ = (uint8_t)(ra | (lx << 4));
		p = put_imm(p, x, lx);
		p = put_imm(p, y, imm_len(y));
	}
	return finish(e, p);
}

size_t pe_reg_imm_off(pvm_emit *e, uint8_t op, uint8_t ra, int64_t imm, unsigned n)
{
	unsigned lx = imm_len(imm);
	uint8_t *p = begin(e, op, 10);
	if (p) {
		*p++ = (uint8_t)(ra | (lx << 4));
		p = put_imm(p, imm, lx);
		p = put_imm(p, 0, n);
	}
	return finish(e, p);
}

size_t pe_reg2(pvm_emit *e, uint8_t op, uint8_t rd, uint8_t ra)
{
	uint8_t *p = begin(e, op, 2);
	if (p)
		*p++ = (uint8_t)(rd | (ra << 4));
	return finish(e, p);
}

size_t pe_reg2_imm(pvm_emit *e, uint8_t op, uint8_t ra, uint8_t rb, int64_t imm)
{
	uint8_t *p = begin(e, op, 6);
	if (p) {
		*p++ = (uint8_t)(ra | (rb << 4));
		p = put_imm(p, imm, imm_len(imm));
	}
	return finish(e, p);
}

size_t pe_reg2_off(pvm_emit *e, uint8_t op, uint8_t ra, uint8_t rb, unsigned n)
{
	uint8_t *p = begin(e, op, 6);
	if (p) {
		*p++ = (uint8_t)(ra | (rb << 4));
		p = put_imm(p, 0, n);
	}
	return finish(e, p);
}

size_t pe_reg2_imm2(pvm_emit *e, uint8_t op, uint8_t ra, uint8_t rb, int64_t x, int64_t y)
{
	unsigned lx = imm_len(x);
	uint8_t *p = begin(e, op, 11);
	if (p) {
		*p++ = (uint8_t)(ra | (rb << 4));
		*p++ = (uint8_t)lx;
		p = put_imm(p, x, lx);
		p = put_imm(p, y, imm_len(y));
	}
	return finish(e, p);
}

size_t pe_reg3(pvm_emit *e, uint8_t op, uint8_t rd, uint8_t ra, uint8_t rb)
{
	uint8_t *p = begin(e, op, 3);
	if (p) {
		*p++ = (uint8_t)(ra | (rb << 4));
		*p++ = rd;
	}
	return finish(e, p);
}

size_t pe_next(const pvm_emit *e, size_t at)
{
	size_t i = at + 1;
	while (i < e->len && !e->starts[i])
		i++;
	return i;
}

unsigned pe_off_len(int64_t off)
{
	unsigned n = imm_len(off);
	return n ? n : 1;
}

int pe_patch_off(pvm_emit *e, size_t at, size_t target, unsigned n)
{
	size_t end = pe_next(e, at);
	int64_t off = (int64_t)target - (int64_t)at;
	if (pe_off_len(off) > n || end < at + 1 + n)
		return -1;
	for (unsigned i = 0; i < n; i++)
		e->code[end - n + i] = (uint8_t)((uint64_t)off >> (8 * i));
	return 0;
}

/* ---- byte buffers -------------------------------------------------------- */

void lb_put(link_buf *b, const void *src, size_t n)
{
	if (b->failed)
		return;
	if (n > SIZE_MAX - b->len) {
		b->failed = 1;
		return;
	}
	if (b->len + n > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < b->len + n)
			nc *= 2;
		uint8_t *p = realloc(b->p, nc);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = nc;
	}
	if (n)
		memcpy(b->p + b->len, src, n);
	b->len += n;
}

void lb_u8(link_buf *b, uint8_t v)
{
	lb_put(b, &v, 1);
}

void lb_le(link_buf *b, uint64_t v, unsigned n)
{
	uint8_t t[8];
	for (unsigned i = 0; i < n && i < 8; i++)
		t[i] = (uint8_t)(v >> (8 * i));
	lb_put(b, t, n);
}

void lb_varint(link_buf *b, uint64_t x)
{
	if (x >= (1ull << 56)) {
		lb_u8(b, 0xff);
		lb_le(b, x, 8);
		return;
	}
	unsigned l = 0;
	while (l < 7 && x >= (1ull << (7 * (l + 1))))
		l++;
	uint8_t first = (uint8_t)(256 - (1u << (8 - l)) + (unsigned)(x >> (8 * l)));
	lb_u8(b, first);
	lb_le(b, x, l);
}

int pe_blob(const pvm_emit *e, const uint32_t *jt, size_t njt, link_buf *out)
{
	uint32_t maxv = 0;
	for (size_t i = 0; i < njt; i++)
		if (jt[i] > maxv)
			maxv = jt[i];
	unsigned z = 0;
	if (njt) {
		z = 1;
		while (z < 4 && (maxv >> (8 * z)) != 0)
			z++;
	}
	lb_varint(out, njt);
	lb_u8(out, (uint8_t)z);
	lb_varint(out, e->len);
	for (size_t i = 0; i < njt; i++)
		lb_le(out, jt[i], z);
	lb_put(out, e->code, e->len);
	size_t nb = (e->len + 7) / 8;
	for (size_t i = 0; i < nb; i++) {
		uint8_t v = 0;
		for (unsigned k = 0; k < 8; k++) {
			size_t idx = i * 8 + k;
			if (idx < e->len && e->starts[idx])
				v |= (uint8_t)(1u << k);
		}
		lb_u8(out, v);
	}
	return out->failed ? -1 : 0;
}

/* ---- stage 5: output ---------------------------------------------------- */

int lk_write_spi(lk *k, link_result *out)
{
	if (k->em.len > PVM_MAX_CODE_LEN)
		return lk_fail(k, "PVM code is %zu bytes, above the 16 MiB limit", k->em.len);
	uint32_t *jt = calloc(k->njt ? k->njt : 1, sizeof *jt);
	if (!jt)
		return lk_fail(k, "out of memory");
	for (size_t i = 0; i <= k->nins; i++)
		if (k->flags[i] & F_JT)
			jt[k->jt_index[i]] = (uint32_t)k->pvm_off[i];
	for (size_t m = 0; m < k->nexp * k->nctor; m++)
		jt[k->jt_ret_base + m] = (uint32_t)k->ret_off[m];
	link_buf blob = {0}, spi = {0};
	int rc = pe_blob(&k->em, jt, k->njt, &blob);
	free(jt);
	if (rc || blob.failed) {
		free(blob.p);
		return lk_fail(k, "out of memory");
	}
	uint32_t rw_total = k->rw_total + (k->need_spill ? (uint32_t)((k->spill_addr - k->rw_base) + LK_SPILL_BYTES - k->rw_total) : 0);
	uint32_t rw_pages = (k->rw_len + PVM_PAGE_SIZE - 1) / PVM_PAGE_SIZE * PVM_PAGE_SIZE;
	uint32_t heap_pages = rw_total > rw_pages ? (rw_total - rw_pages + PVM_PAGE_SIZE - 1) / PVM_PAGE_SIZE : 0;
	uint32_t stack = k->stack_size;
	if (k->ro_len >= PVM_SPI_MAX_LEN || k->rw_len >= PVM_SPI_MAX_LEN || heap_pages > PVM_SPI_MAX_HEAP_PAGES ||
	    stack >= PVM_SPI_MAX_LEN) {
		free(blob.p);
		return lk_fail(k, "program too large for a standard program (ro %u, rw %u, heap pages %u, stack %u)", k->ro_len,
			    k->rw_len, heap_pages, stack);
	}
	uint64_t need = 5ull * PVM_ZONE_SIZE + lk_zone_up(k->ro_len) +
			lk_zone_up((uint64_t)k->rw_len + (uint64_t)heap_pages * PVM_PAGE_SIZE) +
			lk_zone_up(stack) + (1ull << 24);
	if (need > (1ull << 32)) {
		free(blob.p);
		return lk_fail(k, "memory layout exceeds 2^32 bytes");
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
		return lk_fail(k, "out of memory");
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

