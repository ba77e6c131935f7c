/* cap_codec.c: canonical cap encoding, full validation, hashing (docs/caps.md). */
#include "cap/cap.h"
#include "cap/blake2b.h"

/* ---- little-endian helpers ---------------------------------------------- */
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t *wr8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static uint8_t *wr32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 4;
}

static uint8_t *wr64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static uint8_t *wrbytes(uint8_t *p, const uint8_t *src, size_t n)
{
	if (n)
		__builtin_memcpy(p, src, n);
	return p + n;
}

static uint64_t page_up(uint64_t x)
{
	return (x + NUB_PAGE_SIZE - 1) & ~(uint64_t)(NUB_PAGE_SIZE - 1);
}

static uint64_t zone_up(uint64_t x)
{
	return (x + CAP_SPI_ZONE - 1) & ~(uint64_t)(CAP_SPI_ZONE - 1);
}

/* ---- accessors ----------------------------------------------------------- */
void cap_image_endpoint(const cap_image_view *v, uint32_t i, cap_endpoint *out)
{
	if (v->endpoints) {
		*out = v->endpoints[i];
		return;
	}
	const uint8_t *p = v->endpoints_raw + (size_t)i * CAP_ENDPOINT_LEN;
	out->pc = rd32(p);
	for (unsigned r = 0; r < NUB_NUM_REGS; r++)
		out->regs[r] = rd64(p + 4 + 8 * r);
}

void cap_image_mapping(const cap_image_view *v, uint32_t i, cap_mapping *out)
{
	if (v->mappings) {
		*out = v->mappings[i];
		return;
	}
	const uint8_t *p = v->mappings_raw + (size_t)i * CAP_MAPPING_LEN;
	out->va = rd32(p);
	out->pages = rd32(p + 4);
	out->slot = p[8];
	out->flags = p[9];
}

void cap_instance_slot(const cap_instance_view *v, uint32_t i, uint8_t *index, const uint8_t **hash)
{
	const uint8_t *p = v->slots_raw + (size_t)i * CAP_SLOT_LEN;
	*index = p[0];
	*hash = p + 1;
}

void cap_spi_regions(const cap_image_view *v, cap_region out[3])
{
	uint64_t ro = page_up(v->ro_len);
	uint64_t heap_start = 2u * CAP_SPI_ZONE + zone_up(v->ro_len);
	uint64_t heap = page_up(v->rw_len) + (uint64_t)v->heap_pages * NUB_PAGE_SIZE;
	uint64_t stack = page_up(v->stack_size);
	out[0] = (cap_region){CAP_SPI_ZONE, CAP_SPI_ZONE + ro};
	out[1] = (cap_region){heap_start, heap_start + heap};
	out[2] = (cap_region){CAP_SPI_STACK_TOP - stack, CAP_SPI_STACK_TOP};
}

/* ---- validation shared by the decoder and the encoder -------------------- */

/* Layout fields and counts (everything but the records and the length). */
static nub_err image_check_fields(const cap_image_view *v)
{
	if (v->layout != NUB_CAP_LAYOUT_BARE && v->layout != NUB_CAP_LAYOUT_SPI)
		return NUB_E_IMAGE_LAYOUT;
	if (v->endpoint_count == 0)
		return NUB_E_IMAGE_NO_ENDPOINTS;
	if (v->endpoint_count > NUB_CAP_MAX_ENDPOINTS)
		return NUB_E_IMAGE_TOO_MANY_ENDPOINTS;
	if (v->mapping_count > NUB_CAP_MAX_MAPPINGS)
		return NUB_E_IMAGE_TOO_MANY_MAPPINGS;
	if (v->layout == NUB_CAP_LAYOUT_BARE) {
		if (v->ro_len | v->rw_len | v->heap_pages | v->stack_size)
			return NUB_E_IMAGE_BARE_LAYOUT_FIELDS;
		return NUB_E_OK;
	}
	if (v->ro_len >= (1u << 24) || v->rw_len >= (1u << 24) || v->stack_size >= (1u << 24) ||
	    v->heap_pages >= (1u << 16))
		return NUB_E_IMAGE_SPI_FIELD_RANGE;
	/* GP A.7's fit condition 5 Z_Z + Z(|o|) + Z(|w| + z Z_P) + Z(s) + Z_I <= 2^32
	 * always holds within these widths (the sum stays below 2^29). */
	return NUB_E_OK;
}

static nub_err image_check_mappings(const cap_image_view *v)
{
	cap_region spi[3];
	if (v->layout == NUB_CAP_LAYOUT_SPI)
		cap_spi_regions(v, spi);
	uint64_t prev_end = 0;
	for (uint32_t i = 0; i < v->mapping_count; i++) {
		cap_mapping m;
		cap_image_mapping(v, i, &m);
		if (m.flags & ~NUB_CAP_MAPPING_WRITABLE)
			return NUB_E_MAPPING_FLAGS;
		if (m.slot >= NUB_CAP_MAX_SLOTS)
			return NUB_E_MAPPING_SLOT;
		if (m.va % NUB_PAGE_SIZE)
			return NUB_E_MAPPING_ALIGN;
		if (m.va < NUB_MIN_VA)
			return NUB_E_MAPPING_LOW;
		if (m.pages == 0)
			return NUB_E_MAPPING_EMPTY;
		uint64_t end = (uint64_t)m.va + (uint64_t)m.pages * NUB_PAGE_SIZE;
		if (end > (1ull << 32))
			return NUB_E_MAPPING_RANGE;
		if (m.va < prev_end)
			return NUB_E_MAPPING_ORDER;
		prev_end = end;
		if (v->layout == NUB_CAP_LAYOUT_SPI) {
			for (unsigned r = 0; r < 3; r++)
				if (spi[r].start < spi[r].end && m.va < spi[r].end && spi[r].start < end)
					return NUB_E_MAPPING_SPI_OVERLAP;
		}
	}
	return NUB_E_OK;
}

static uint64_t image_total_len(const cap_image_view *v)
{
	return (uint64_t)CAP_IMAGE_FIXED_LEN + v->ro_len + v->rw_len + v->code_len +
	       (uint64_t)v->endpoint_count * CAP_ENDPOINT_LEN + (uint64_t)v->mapping_count * CAP_MAPPING_LEN;
}

static nub_err length_check(uint64_t want, size_t have)
{
	if (have < want)
		return NUB_E_CAP_TRUNCATED;
	if (have > want)
		return NUB_E_CAP_TRAILING;
	return NUB_E_OK;
}

/* ---- decoding ------------------------------------------------------------ */
static nub_err decode_data(const uint8_t *b, size_t len, cap_data_view *out)
{
	if (len < CAP_DATA_FIXED_LEN)
		return NUB_E_CAP_TRUNCATED;
	uint32_t n = rd32(b + 2);
	nub_err e = length_check((uint64_t)CAP_DATA_FIXED_LEN + n, len);
	if (e)
		return e;
	out->bytes = b + CAP_DATA_FIXED_LEN;
	out->len = n;
	return NUB_E_OK;
}

static nub_err decode_image(const uint8_t *b, size_t len, cap_image_view *v)
{
	if (len < CAP_IMAGE_FIXED_LEN)
		return NUB_E_CAP_TRUNCATED;
	*v = (cap_image_view){0};
	v->layout = b[2];
	v->endpoint_count = b[3];
	v->mapping_count = b[4];
	v->ro_len = rd32(b + 5);
	v->rw_len = rd32(b + 9);
	v->heap_pages = rd32(b + 13);
	v->stack_size = rd32(b + 17);
	v->code_len = rd32(b + 21);
	nub_err e = image_check_fields(v);
	if (e)
		return e;
	e = length_check(image_total_len(v), len);
	if (e)
		return e;
	const uint8_t *p = b + CAP_IMAGE_FIXED_LEN;
	v->ro = p;
	p += v->ro_len;
	v->rw = p;
	p += v->rw_len;
	v->code = p;
	p += v->code_len;
	v->endpoints_raw = p;
	p += (size_t)v->endpoint_count * CAP_ENDPOINT_LEN;
	v->mappings_raw = p;
	return image_check_mappings(v);
}

static nub_err decode_instance(const uint8_t *b, size_t len, cap_instance_view *v)
{
	if (len < CAP_INSTANCE_FIXED_LEN)
		return NUB_E_CAP_TRUNCATED;
	v->image_hash = b + 2;
	v->slot_count = b[34];
	if (v->slot_count > NUB_CAP_MAX_SLOTS)
		return NUB_E_INSTANCE_TOO_MANY_SLOTS;
	nub_err e = length_check((uint64_t)CAP_INSTANCE_FIXED_LEN + (uint64_t)v->slot_count * CAP_SLOT_LEN, len);
	if (e)
		return e;
	v->slots_raw = b + CAP_INSTANCE_FIXED_LEN;
	int prev = -1;
	for (uint32_t i = 0; i < v->slot_count; i++) {
		uint8_t idx = v->slots_raw[(size_t)i * CAP_SLOT_LEN];
		if (idx >= NUB_CAP_MAX_SLOTS)
			return NUB_E_INSTANCE_SLOT_RANGE;
		if ((int)idx <= prev)
			return NUB_E_INSTANCE_SLOT_ORDER;
		prev = idx;
	}
	return NUB_E_OK;
}

nub_err cap_decode(const uint8_t *bytes, size_t len, cap_view *out)
{
	if (!out || (!bytes && len))
		return NUB_E_INVALID_ARG;
	if (len < CAP_HEADER_LEN)
		return NUB_E_CAP_TRUNCATED;
	if (bytes[0] > NUB_CAP_KIND_DATA)
		return NUB_E_CAP_KIND;
	if (bytes[1] != NUB_CAP_VERSION)
		return NUB_E_CAP_VERSION;
	out->kind = bytes[0];
	switch (bytes[0]) {
	case NUB_CAP_KIND_DATA:
		return decode_data(bytes, len, &out->u.data);
	case NUB_CAP_KIND_IMAGE:
		return decode_image(bytes, len, &out->u.image);
	default:
		return decode_instance(bytes, len, &out->u.instance);
	}
}

/* ---- encoding ------------------------------------------------------------ */
size_t cap_data_encoded_len(uint32_t len)
{
	return (size_t)CAP_DATA_FIXED_LEN + len;
}

nub_err cap_data_encode(const uint8_t *bytes, uint32_t len, uint8_t *out, size_t cap)
{
	if ((!bytes && len) || !out || cap < cap_data_encoded_len(len))
		return NUB_E_INVALID_ARG;
	uint8_t *p = wr8(out, NUB_CAP_KIND_DATA);
	p = wr8(p, NUB_CAP_VERSION);
	p = wr32(p, len);
	wrbytes(p, bytes, len);
	return NUB_E_OK;
}

size_t cap_image_encoded_len(const cap_image_view *img, nub_err *err)
{
	nub_err e = NUB_E_INVALID_ARG;
	if (!img || (img->endpoint_count && !img->endpoints) || (img->mapping_count && !img->mappings) ||
	    (img->ro_len && !img->ro) || (img->rw_len && !img->rw) || (img->code_len && !img->code))
		goto fail;
	if ((e = image_check_fields(img)) || (e = image_check_mappings(img)))
		goto fail;
	uint64_t n = image_total_len(img);
	if (n > SIZE_MAX) {
		e = NUB_E_NOMEM;
		goto fail;
	}
	if (err)
		*err = NUB_E_OK;
	return (size_t)n;
fail:
	if (err)
		*err = e;
	return 0;
}

nub_err cap_image_encode(const cap_image_view *img, uint8_t *out, size_t cap)
{
	nub_err e;
	size_t n = cap_image_encoded_len(img, &e);
	if (!n)
		return e;
	if (!out || cap < n)
		return NUB_E_INVALID_ARG;
	uint8_t *p = wr8(out, NUB_CAP_KIND_IMAGE);
	p = wr8(p, NUB_CAP_VERSION);
	p = wr8(p, img->layout);
	p = wr8(p, (uint8_t)img->endpoint_count);
	p = wr8(p, (uint8_t)img->mapping_count);
	p = wr32(p, img->ro_len);
	p = wr32(p, img->rw_len);
	p = wr32(p, img->heap_pages);
	p = wr32(p, img->stack_size);
	p = wr32(p, img->code_len);
	p = wrbytes(p, img->ro, img->ro_len);
	p = wrbytes(p, img->rw, img->rw_len);
	p = wrbytes(p, img->code, img->code_len);
	for (uint32_t i = 0; i < img->endpoint_count; i++) {
		p = wr32(p, img->endpoints[i].pc);
		for (unsigned r = 0; r < NUB_NUM_REGS; r++)
			p = wr64(p, img->endpoints[i].regs[r]);
	}
	for (uint32_t i = 0; i < img->mapping_count; i++) {
		p = wr32(p, img->mappings[i].va);
		p = wr32(p, img->mappings[i].pages);
		p = wr8(p, img->mappings[i].slot);
		p = wr8(p, img->mappings[i].flags);
	}
	return NUB_E_OK;
}

size_t cap_instance_encoded_len(uint32_t slot_count, const cap_slot *slots, nub_err *err)
{
	nub_err e = NUB_E_OK;
	if (slot_count && !slots)
		e = NUB_E_INVALID_ARG;
	else if (slot_count > NUB_CAP_MAX_SLOTS)
		e = NUB_E_INSTANCE_TOO_MANY_SLOTS;
	for (uint32_t i = 0; !e && i < slot_count; i++) {
		if (slots[i].index >= NUB_CAP_MAX_SLOTS)
			e = NUB_E_INSTANCE_SLOT_RANGE;
		else if (i && slots[i].index <= slots[i - 1].index)
			e = NUB_E_INSTANCE_SLOT_ORDER;
	}
	if (err)
		*err = e;
	return e ? 0 : (size_t)CAP_INSTANCE_FIXED_LEN + (size_t)slot_count * CAP_SLOT_LEN;
}

nub_err cap_instance_encode(const uint8_t image_hash[NUB_CAP_HASH_LEN], uint32_t slot_count,
                            const cap_slot *slots, uint8_t *out, size_t cap)
{
	nub_err e;
	size_t n = cap_instance_encoded_len(slot_count, slots, &e);
	if (!n)
		return e;
	if (!image_hash || !out || cap < n)
		return NUB_E_INVALID_ARG;
	uint8_t *p = wr8(out, NUB_CAP_KIND_INSTANCE);
	p = wr8(p, NUB_CAP_VERSION);
	p = wrbytes(p, image_hash, NUB_CAP_HASH_LEN);
	p = wr8(p, (uint8_t)slot_count);
	for (uint32_t i = 0; i < slot_count; i++) {
		p = wr8(p, slots[i].index);
		p = wrbytes(p, slots[i].hash, NUB_CAP_HASH_LEN);
	}
	return NUB_E_OK;
}

void cap_hash(const uint8_t *bytes, size_t len, uint8_t out[NUB_CAP_HASH_LEN])
{
	blake2b_256(bytes, len, out);
}

/* ---- cross-cap checks ---------------------------------------------------- */
nub_err cap_instance_check_refs(const cap_instance_view *inst, cap_lookup_fn lookup, void *ctx)
{
	const cap_view *img = lookup(ctx, inst->image_hash);
	if (!img)
		return NUB_E_CAP_HAS_REF;
	if (img->kind != NUB_CAP_KIND_IMAGE)
		return NUB_E_CAP_REF_KIND;
	const cap_view *slot_data[NUB_CAP_MAX_SLOTS] = {0};
	for (uint32_t i = 0; i < inst->slot_count; i++) {
		uint8_t idx;
		const uint8_t *h;
		cap_instance_slot(inst, i, &idx, &h);
		const cap_view *d = lookup(ctx, h);
		if (!d)
			return NUB_E_CAP_HAS_REF;
		if (d->kind != NUB_CAP_KIND_DATA)
			return NUB_E_CAP_REF_KIND;
		slot_data[idx] = d;
	}
	const cap_image_view *iv = &img->u.image;
	for (uint32_t i = 0; i < iv->mapping_count; i++) {
		cap_mapping m;
		cap_image_mapping(iv, i, &m);
		const cap_view *d = slot_data[m.slot];
		if (!d)
			return NUB_E_INSTANCE_SLOT_MISSING;
		if ((uint64_t)d->u.data.len > (uint64_t)m.pages * NUB_PAGE_SIZE)
			return NUB_E_INSTANCE_DATA_TOO_LARGE;
	}
	return NUB_E_OK;
}
