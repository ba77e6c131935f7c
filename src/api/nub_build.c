/* nub_build.c: the public cap builders (canonical encodings into malloc'd buffers). */
#include <stdlib.h>
#include <string.h>

#include "cap/cap.h"
#include "nub/nub.h"

void nub_cap_buf_free(nub_cap_buf *b)
{
	if (!b)
		return;
	free(b->bytes);
	b->bytes = NULL;
	b->len = 0;
}

void nub_cap_hash(const uint8_t *bytes, size_t len, uint8_t out[NUB_CAP_HASH_LEN])
{
	cap_hash(bytes, len, out);
}

nub_err nub_cap_check(const uint8_t *bytes, size_t len)
{
	cap_view v;
	if (!bytes && len)
		return NUB_E_INVALID_ARG;
	return cap_decode(bytes, len, &v);
}

static nub_err buf_alloc(nub_cap_buf *out, size_t n)
{
	out->bytes = malloc(n ? n : 1);
	if (!out->bytes)
		return NUB_E_NOMEM;
	out->len = n;
	return NUB_E_OK;
}

nub_err nub_cap_data(const void *bytes, size_t len, nub_cap_buf *out)
{
	if (!out)
		return NUB_E_INVALID_ARG;
	*out = (nub_cap_buf){0};
	if ((!bytes && len) || len > UINT32_MAX)
		return NUB_E_INVALID_ARG;
	nub_err e = buf_alloc(out, cap_data_encoded_len((uint32_t)len));
	if (e)
		return e;
	e = cap_data_encode(bytes, (uint32_t)len, out->bytes, out->len);
	if (e)
		nub_cap_buf_free(out);
	return e;
}

nub_err nub_cap_image(const nub_image_desc *d, nub_cap_buf *out)
{
	if (!out)
		return NUB_E_INVALID_ARG;
	*out = (nub_cap_buf){0};
	if (!d || d->code_len > UINT32_MAX)
		return NUB_E_INVALID_ARG;
	if (d->endpoint_count > NUB_CAP_MAX_ENDPOINTS)
		return NUB_E_IMAGE_TOO_MANY_ENDPOINTS;
	if (d->mapping_count > NUB_CAP_MAX_MAPPINGS)
		return NUB_E_IMAGE_TOO_MANY_MAPPINGS;
	if ((d->endpoint_count && !d->endpoints) || (d->mapping_count && !d->mappings))
		return NUB_E_INVALID_ARG;

	cap_endpoint eps[NUB_CAP_MAX_ENDPOINTS];
	cap_mapping maps[NUB_CAP_MAX_MAPPINGS];
	for (size_t i = 0; i < d->endpoint_count; i++) {
		eps[i].pc = d->endpoints[i].pc;
		memcpy(eps[i].regs, d->endpoints[i].regs, sizeof eps[i].regs);
	}
	/* Canonical order: by va (insertion sort; at most 64 entries). */
	for (size_t i = 0; i < d->mapping_count; i++) {
		const nub_mapping *m = &d->mappings[i];
		cap_mapping c = {m->va, m->pages, m->slot, m->writable ? NUB_CAP_MAPPING_WRITABLE : 0};
		size_t j = i;
		while (j > 0 && maps[j - 1].va > c.va) {
			maps[j] = maps[j - 1];
			j--;
		}
		maps[j] = c;
	}
	cap_image_view v = {
		.layout = (uint8_t)d->layout,
		.ro_len = d->ro_len,
		.rw_len = d->rw_len,
		.heap_pages = d->heap_pages,
		.stack_size = d->stack_size,
		.ro = d->ro,
		.rw = d->rw,
		.code = d->code,
		.code_len = (uint32_t)d->code_len,
		.endpoint_count = (uint32_t)d->endpoint_count,
		.mapping_count = (uint32_t)d->mapping_count,
		.endpoints = eps,
		.mappings = maps,
	};
	if ((unsigned)d->layout > 0xFF)
		return NUB_E_IMAGE_LAYOUT;
	nub_err e;
	size_t n = cap_image_encoded_len(&v, &e);
	if (!n)
		return e;
	if ((e = buf_alloc(out, n)))
		return e;
	if ((e = cap_image_encode(&v, out->bytes, out->len)))
		nub_cap_buf_free(out);
	return e;
}

static uint32_t rd_le(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

nub_err nub_cap_image_from_spi(const uint8_t *spi, size_t spi_len, const uint32_t *entry_pcs,
                               size_t entry_count, const nub_mapping *mappings, size_t mapping_count,
                               nub_cap_buf *out)
{
	if (!out)
		return NUB_E_INVALID_ARG;
	*out = (nub_cap_buf){0};
	if ((!spi && spi_len) || (!entry_pcs && entry_count))
		return NUB_E_INVALID_ARG;
	if (entry_count > NUB_CAP_MAX_ENDPOINTS)
		return NUB_E_IMAGE_TOO_MANY_ENDPOINTS;
	/* FORMATS.md section 3: E3(|o|) E3(|w|) E2(z) E3(s) o w E4(|c|) c. */
	if (spi_len < 11)
		return NUB_E_CAP_TRUNCATED;
	uint32_t ro_len = rd_le(spi, 3), rw_len = rd_le(spi + 3, 3);
	uint32_t heap_pages = rd_le(spi + 6, 2), stack = rd_le(spi + 8, 3);
	uint64_t off = 11ull + ro_len + rw_len;
	if (spi_len < off + 4)
		return NUB_E_CAP_TRUNCATED;
	uint32_t code_len = rd_le(spi + off, 4);
	if (spi_len - (off + 4) < code_len)
		return NUB_E_CAP_TRUNCATED;
	if (spi_len - (off + 4) > code_len)
		return NUB_E_CAP_TRAILING;

	nub_endpoint eps[NUB_CAP_MAX_ENDPOINTS];
	for (size_t i = 0; i < entry_count; i++) {
		memset(&eps[i], 0, sizeof eps[i]);
		eps[i].pc = entry_pcs[i];
		eps[i].regs[0] = NUB_HALT_ADDR;
		eps[i].regs[1] = CAP_SPI_STACK_TOP;
		eps[i].regs[7] = CAP_SPI_ARGS_VA;
	}
	nub_image_desc d = {
		.layout = NUB_LAYOUT_SPI,
		.code = spi + off + 4,
		.code_len = code_len,
		.ro = spi + 11,
		.ro_len = ro_len,
		.rw = spi + 11 + ro_len,
		.rw_len = rw_len,
		.heap_pages = heap_pages,
		.stack_size = stack,
		.endpoints = eps,
		.endpoint_count = entry_count,
		.mappings = mappings,
		.mapping_count = mapping_count,
	};
	return nub_cap_image(&d, out);
}

nub_err nub_cap_instance(const uint8_t image_hash[NUB_CAP_HASH_LEN], const nub_slot *slots, size_t slot_count,
                         nub_cap_buf *out)
{
	if (!out)
		return NUB_E_INVALID_ARG;
	*out = (nub_cap_buf){0};
	if (!image_hash || (slot_count && !slots))
		return NUB_E_INVALID_ARG;
	if (slot_count > NUB_CAP_MAX_SLOTS)
		return NUB_E_INSTANCE_TOO_MANY_SLOTS;
	cap_slot s[NUB_CAP_MAX_SLOTS];
	for (size_t i = 0; i < slot_count; i++) {
		cap_slot c;
		c.index = slots[i].index;
		memcpy(c.hash, slots[i].hash, NUB_CAP_HASH_LEN);
		size_t j = i;
		while (j > 0 && s[j - 1].index > c.index) {
			s[j] = s[j - 1];
			j--;
		}
		s[j] = c;
	}
	nub_err e;
	size_t n = cap_instance_encoded_len((uint32_t)slot_count, s, &e);
	if (!n)
		return e;
	if ((e = buf_alloc(out, n)))
		return e;
	if ((e = cap_instance_encode(image_hash, (uint32_t)slot_count, s, out->bytes, out->len)))
		nub_cap_buf_free(out);
	return e;
}
