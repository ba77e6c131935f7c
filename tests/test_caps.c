/* test_caps.c: BLAKE2b against RFC 7693 and libsodium; cap codec round trips,
 * canonical form, and every malformed-cap error path. */
#include <sodium.h>
#include <stdlib.h>

#include "cap/blake2b.h"
#include "cap/cap.h"
#include "nub/nub.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------ */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
	/* xorshift64*: deterministic test data. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng();
}

static int hex_to_bytes(const char *hex, uint8_t *out)
{
	int n = 0;
	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;
		if (sscanf(hex, "%2x", &v) != 1)
			return -1;
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A minimal valid code blob: one trap instruction. */
static const uint8_t trap_blob[] = {0x00, 0x00, 0x01, 0x00, 0x01};

static nub_endpoint ep_with_pc(uint32_t pc)
{
	nub_endpoint e;
	memset(&e, 0, sizeof e);
	e.pc = pc;
	for (unsigned r = 0; r < NUB_NUM_REGS; r++)
		e.regs[r] = 0x0101010101010101ull * (r + 1);
	return e;
}

/* Re-encode a decoded Image view (records read through the accessors). */
static nub_err reencode_image(const cap_image_view *v, nub_cap_buf *out)
{
	cap_endpoint eps[NUB_CAP_MAX_ENDPOINTS];
	cap_mapping maps[NUB_CAP_MAX_MAPPINGS];
	cap_image_view w = *v;
	for (uint32_t i = 0; i < v->endpoint_count; i++)
		cap_image_endpoint(v, i, &eps[i]);
	for (uint32_t i = 0; i < v->mapping_count; i++)
		cap_image_mapping(v, i, &maps[i]);
	w.endpoints = eps;
	w.mappings = maps;
	nub_err e;
	size_t n = cap_image_encoded_len(&w, &e);
	if (!n)
		return e;
	out->bytes = malloc(n);
	out->len = n;
	return cap_image_encode(&w, out->bytes, n);
}

/* ---- BLAKE2b ------------------------------------------------------------- */
TEST(blake2b_rfc7693_abc)
{
	/* RFC 7693 Appendix A: BLAKE2b-512("abc"). */
	uint8_t want[64], got[64];
	hex_to_bytes("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
	             "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
	             want);
	blake2b_ctx c;
	ASSERT_EQ(blake2b_init(&c, 64), 0);
	blake2b_update(&c, "abc", 3);
	blake2b_final(&c, got);
	ASSERT_MEM_EQ(got, want, 64);
}

TEST(blake2b_256_empty_known)
{
	/* BLAKE2b-256 of the empty string (widely published value). */
	uint8_t want[32], got[32];
	hex_to_bytes("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8", want);
	blake2b_256("", 0, got);
	ASSERT_MEM_EQ(got, want, 32);
}

TEST(blake2b_rfc7693_selftest)
{
	/* RFC 7693 Appendix E self-test: hash of all keyed/unkeyed digests of
	 * lengths {20,32,48,64} over inputs of lengths {0,3,128,129,255,1024}. */
	static const size_t md_len[4] = {20, 32, 48, 64};
	static const size_t in_len[6] = {0, 3, 128, 129, 255, 1024};
	uint8_t want[32], in[1024], md[64], key[64];
	hex_to_bytes("c23a7800d98123bd10f506c61e29da5603d763b8bbad2e737f5e765a7bccd475", want);
	blake2b_ctx total;
	ASSERT_EQ(blake2b_init(&total, 32), 0);
	for (unsigned i = 0; i < 4; i++) {
		size_t outlen = md_len[i];
		for (unsigned j = 0; j < 6; j++) {
			size_t inlen = in_len[j];
			/* RFC's selftest_seq: a Fibonacci-like generator. */
			uint32_t a = (uint32_t)(0xDEAD4BAD * inlen), b = 1, t;
			for (size_t k = 0; k < inlen; k++) {
				t = a + b;
				a = b;
				b = t;
				in[k] = (uint8_t)(t >> 24);
			}
			blake2b_ctx c;
			ASSERT_EQ(blake2b_init(&c, outlen), 0);
			blake2b_update(&c, in, inlen);
			blake2b_final(&c, md);
			blake2b_update(&total, md, outlen);
			a = (uint32_t)(0xDEAD4BAD * outlen);
			b = 1;
			for (size_t k = 0; k < outlen; k++) {
				t = a + b;
				a = b;
				b = t;
				key[k] = (uint8_t)(t >> 24);
			}
			ASSERT_EQ(blake2b_init_key(&c, outlen, key, outlen), 0);
			blake2b_update(&c, in, inlen);
			blake2b_final(&c, md);
			blake2b_update(&total, md, outlen);
		}
	}
	uint8_t got[32];
	blake2b_final(&total, got);
	ASSERT_MEM_EQ(got, want, 32);
}

TEST(blake2b_vs_libsodium_lengths)
{
	ASSERT_TRUE(sodium_init() >= 0);
	static uint8_t buf[70000];
	fill_random(buf, sizeof buf);
	static const size_t big[] = {1023, 1024, 1025, 4096, 65535, 65536, 65537, 70000};
	for (size_t n = 0; n <= 1100 + 8; n++) {
		size_t len = n <= 1100 ? n : big[n - 1101];
		uint8_t a[32], b[32];
		blake2b_256(buf, len, a);
		ASSERT_EQ(crypto_generichash(b, 32, buf, len, NULL, 0), 0);
		if (memcmp(a, b, 32)) {
			printf("    mismatch at length %zu\n", len);
			ASSERT_TRUE(0);
		}
	}
}

TEST(blake2b_vs_libsodium_outlen_key_chunks)
{
	ASSERT_TRUE(sodium_init() >= 0);
	uint8_t buf[3000], key[64];
	for (unsigned iter = 0; iter < 2000; iter++) {
		size_t len = (size_t)(rng() % sizeof buf);
		size_t outlen = 16 + (size_t)(rng() % 49); /* libsodium: 16..64 */
		size_t keylen = (iter & 1) ? 16 + (size_t)(rng() % 49) : 0;
		fill_random(buf, len);
		fill_random(key, sizeof key);
		/* Ours, fed in random chunks (exercises the buffer logic). */
		blake2b_ctx c;
		ASSERT_EQ(blake2b_init_key(&c, outlen, key, keylen), 0);
		size_t off = 0;
		while (off < len) {
			size_t chunk = (size_t)(rng() % 300);
			if (chunk > len - off)
				chunk = len - off;
			blake2b_update(&c, buf + off, chunk);
			off += chunk;
		}
		uint8_t a[64], b[64];
		blake2b_final(&c, a);
		ASSERT_EQ(crypto_generichash(b, outlen, buf, len, keylen ? key : NULL, keylen), 0);
		ASSERT_MEM_EQ(a, b, outlen);
	}
}

TEST(blake2b_bad_params)
{
	blake2b_ctx c;
	uint8_t key[65] = {0};
	ASSERT_EQ(blake2b_init(&c, 0), -1);
	ASSERT_EQ(blake2b_init(&c, 65), -1);
	ASSERT_EQ(blake2b_init_key(&c, 32, key, 65), -1);
	ASSERT_EQ(blake2b_init_key(&c, 32, NULL, 3), -1);
}

/* ---- Data ---------------------------------------------------------------- */
TEST(data_roundtrip_and_layout)
{
	nub_cap_buf b;
	ASSERT_EQ(nub_cap_data("hello", 5, &b), NUB_E_OK);
	static const uint8_t want[] = {2, 1, 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
	ASSERT_EQ(b.len, sizeof want);
	ASSERT_MEM_EQ(b.bytes, want, sizeof want);
	cap_view v;
	ASSERT_EQ(cap_decode(b.bytes, b.len, &v), NUB_E_OK);
	ASSERT_EQ(v.kind, NUB_CAP_KIND_DATA);
	ASSERT_EQ(v.u.data.len, 5);
	ASSERT_MEM_EQ(v.u.data.bytes, "hello", 5);
	uint8_t h1[32], h2[32];
	nub_cap_hash(b.bytes, b.len, h1);
	ASSERT_EQ(crypto_generichash(h2, 32, b.bytes, b.len, NULL, 0), 0);
	ASSERT_MEM_EQ(h1, h2, 32);
	nub_cap_buf_free(&b);
	ASSERT_TRUE(b.bytes == NULL && b.len == 0);

	/* Trailing zeros count through the declared size: distinct hashes. */
	nub_cap_buf z0, z1;
	ASSERT_EQ(nub_cap_data("", 0, &z0), NUB_E_OK);
	ASSERT_EQ(nub_cap_data("\0", 1, &z1), NUB_E_OK);
	nub_cap_hash(z0.bytes, z0.len, h1);
	nub_cap_hash(z1.bytes, z1.len, h2);
	ASSERT_TRUE(memcmp(h1, h2, 32) != 0);
	ASSERT_EQ(z0.len, 6);
	nub_cap_buf_free(&z0);
	nub_cap_buf_free(&z1);
}

TEST(data_malformed)
{
	static const uint8_t ok[] = {2, 1, 2, 0, 0, 0, 7, 8};
	cap_view v;
	ASSERT_EQ(cap_decode(ok, sizeof ok, &v), NUB_E_OK);
	for (size_t n = 0; n < sizeof ok; n++)
		ASSERT_EQ(cap_decode(ok, n, &v), NUB_E_CAP_TRUNCATED);
	uint8_t t[sizeof ok + 1];
	memcpy(t, ok, sizeof ok);
	t[sizeof ok] = 0;
	ASSERT_EQ(cap_decode(t, sizeof t, &v), NUB_E_CAP_TRAILING);
	memcpy(t, ok, sizeof ok);
	t[0] = 3;
	ASSERT_EQ(cap_decode(t, sizeof ok, &v), NUB_E_CAP_KIND);
	t[0] = 0xFF;
	ASSERT_EQ(cap_decode(t, sizeof ok, &v), NUB_E_CAP_KIND);
	t[0] = 2;
	t[1] = 0;
	ASSERT_EQ(cap_decode(t, sizeof ok, &v), NUB_E_CAP_VERSION);
	t[1] = 2;
	ASSERT_EQ(cap_decode(t, sizeof ok, &v), NUB_E_CAP_VERSION);
	t[1] = 1;
	t[5] = 0x80; /* huge declared length */
	ASSERT_EQ(cap_decode(t, sizeof ok, &v), NUB_E_CAP_TRUNCATED);
	ASSERT_EQ(cap_decode(NULL, 0, &v), NUB_E_CAP_TRUNCATED);
	ASSERT_EQ(cap_decode(NULL, 5, &v), NUB_E_INVALID_ARG);
	ASSERT_EQ(nub_cap_check(ok, sizeof ok), NUB_E_OK);
}

/* ---- Image --------------------------------------------------------------- */
static nub_image_desc bare_desc(nub_endpoint *eps, size_t n_eps, nub_mapping *maps, size_t n_maps)
{
	nub_image_desc d;
	memset(&d, 0, sizeof d);
	d.layout = NUB_LAYOUT_BARE;
	d.code = trap_blob;
	d.code_len = sizeof trap_blob;
	d.endpoints = eps;
	d.endpoint_count = n_eps;
	d.mappings = maps;
	d.mapping_count = n_maps;
	return d;
}

TEST(image_bare_layout_bytes)
{
	nub_endpoint ep = ep_with_pc(0x11223344);
	nub_mapping m = {.va = 0x20000, .pages = 2, .slot = 3, .writable = true};
	nub_image_desc d = bare_desc(&ep, 1, &m, 1);
	nub_cap_buf b;
	ASSERT_EQ(nub_cap_image(&d, &b), NUB_E_OK);
	ASSERT_EQ(b.len, CAP_IMAGE_FIXED_LEN + sizeof trap_blob + CAP_ENDPOINT_LEN + CAP_MAPPING_LEN);
	/* Fixed part: kind, version, layout, counts, five u32. */
	static const uint8_t head[] = {1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0};
	ASSERT_MEM_EQ(b.bytes, head, sizeof head);
	ASSERT_MEM_EQ(b.bytes + 25, trap_blob, sizeof trap_blob);
	const uint8_t *e = b.bytes + 25 + sizeof trap_blob;
	ASSERT_EQ(e[0], 0x44);
	ASSERT_EQ(e[3], 0x11);
	ASSERT_EQ(e[4], 0x01);  /* regs[0] = 0x0101.. */
	ASSERT_EQ(e[4 + 8 * 12], 13); /* regs[12] = 0x0d0d.. */
	const uint8_t *mp = e + CAP_ENDPOINT_LEN;
	static const uint8_t mwant[] = {0x00, 0x00, 0x02, 0x00, 2, 0, 0, 0, 3, 1};
	ASSERT_MEM_EQ(mp, mwant, sizeof mwant);
	nub_cap_buf_free(&b);
}

TEST(image_roundtrip_random)
{
	for (unsigned iter = 0; iter < 300; iter++) {
		nub_endpoint eps[NUB_CAP_MAX_ENDPOINTS];
		nub_mapping maps[NUB_CAP_MAX_MAPPINGS];
		size_t ne = 1 + (size_t)(rng() % NUB_CAP_MAX_ENDPOINTS);
		size_t nm = (size_t)(rng() % (NUB_CAP_MAX_MAPPINGS + 1));
		for (size_t i = 0; i < ne; i++) {
			eps[i].pc = (uint32_t)rng();
			for (unsigned r = 0; r < NUB_NUM_REGS; r++)
				eps[i].regs[r] = rng();
		}
		/* Disjoint regions, 1..4 pages each, in random order. */
		uint32_t va = 0x10000;
		for (size_t i = 0; i < nm; i++) {
			va += (uint32_t)(rng() % 4) * NUB_PAGE_SIZE;
			maps[i].va = va;
			maps[i].pages = 1 + (uint32_t)(rng() % 4);
			maps[i].slot = (uint8_t)(rng() % NUB_CAP_MAX_SLOTS);
			maps[i].writable = rng() & 1;
			va += maps[i].pages * NUB_PAGE_SIZE;
		}
		for (size_t i = nm; i > 1; i--) {
			size_t j = (size_t)(rng() % i);
			nub_mapping t = maps[i - 1];
			maps[i - 1] = maps[j];
			maps[j] = t;
		}
		uint8_t code[64], ro[40], rw[40];
		fill_random(code, sizeof code);
		fill_random(ro, sizeof ro);
		fill_random(rw, sizeof rw);
		nub_image_desc d = bare_desc(eps, ne, maps, nm);
		d.code = code;
		d.code_len = (size_t)(rng() % sizeof code);
		if (iter & 1) {
			d.layout = NUB_LAYOUT_SPI;
			d.ro = ro;
			d.ro_len = (uint32_t)(rng() % sizeof ro);
			d.rw = rw;
			d.rw_len = (uint32_t)(rng() % sizeof rw);
			d.heap_pages = 1;
			d.stack_size = 4096;
			/* Move mappings above the spi heap (ro zone 0x10000, heap at 0x30000). */
			for (size_t i = 0; i < nm; i++)
				maps[i].va += 0x100000;
		}
		nub_cap_buf b, b2;
		ASSERT_EQ(nub_cap_image(&d, &b), NUB_E_OK);
		cap_view v;
		ASSERT_EQ(cap_decode(b.bytes, b.len, &v), NUB_E_OK);
		ASSERT_EQ(v.kind, NUB_CAP_KIND_IMAGE);
		const cap_image_view *iv = &v.u.image;
		ASSERT_EQ(iv->layout, d.layout);
		ASSERT_EQ(iv->endpoint_count, ne);
		ASSERT_EQ(iv->mapping_count, nm);
		ASSERT_EQ(iv->code_len, d.code_len);
		ASSERT_MEM_EQ(iv->code, code, d.code_len);
		ASSERT_EQ(iv->ro_len, d.ro_len);
		ASSERT_MEM_EQ(iv->ro, ro, d.ro_len);
		ASSERT_EQ(iv->rw_len, d.rw_len);
		for (uint32_t i = 0; i < ne; i++) {
			cap_endpoint e;
			cap_image_endpoint(iv, i, &e);
			ASSERT_EQ(e.pc, eps[i].pc);
			ASSERT_MEM_EQ(e.regs, eps[i].regs, sizeof e.regs);
		}
		/* Mappings come back sorted by va; each one is one of the inputs. */
		for (uint32_t i = 0; i < nm; i++) {
			cap_mapping m;
			cap_image_mapping(iv, i, &m);
			if (i) {
				cap_mapping p;
				cap_image_mapping(iv, i - 1, &p);
				ASSERT_TRUE(p.va < m.va);
			}
			int found = 0;
			for (size_t j = 0; j < nm; j++)
				found |= maps[j].va == m.va && maps[j].pages == m.pages && maps[j].slot == m.slot &&
				         (maps[j].writable ? 1 : 0) == m.flags;
			ASSERT_TRUE(found);
		}
		/* Canonical: the decoded view encodes to the same bytes. */
		ASSERT_EQ(reencode_image(iv, &b2), NUB_E_OK);
		ASSERT_EQ(b2.len, b.len);
		ASSERT_MEM_EQ(b2.bytes, b.bytes, b.len);
		nub_cap_buf_free(&b);
		nub_cap_buf_free(&b2);
	}
}

TEST(image_mapping_order_is_canonical)
{
	nub_endpoint ep = ep_with_pc(0);
	nub_mapping m1[3] = {{0x30000, 1, 1, false}, {0x10000, 2, 0, true}, {0x50000, 1, 2, false}};
	nub_mapping m2[3] = {m1[2], m1[0], m1[1]};
	nub_image_desc d1 = bare_desc(&ep, 1, m1, 3), d2 = bare_desc(&ep, 1, m2, 3);
	nub_cap_buf a, b;
	ASSERT_EQ(nub_cap_image(&d1, &a), NUB_E_OK);
	ASSERT_EQ(nub_cap_image(&d2, &b), NUB_E_OK);
	ASSERT_EQ(a.len, b.len);
	ASSERT_MEM_EQ(a.bytes, b.bytes, a.len);
	nub_cap_buf_free(&a);
	nub_cap_buf_free(&b);
}

/* Build a desc-derived image, expect err from the builder. */
static nub_err build_err(const nub_image_desc *d)
{
	nub_cap_buf b;
	nub_err e = nub_cap_image(d, &b);
	if (!e)
		nub_cap_buf_free(&b);
	else if (b.bytes || b.len)
		return NUB_E_MAX_; /* builder must leave {NULL,0} on error */
	return e;
}

TEST(image_builder_errors)
{
	nub_endpoint eps[NUB_CAP_MAX_ENDPOINTS + 1];
	for (unsigned i = 0; i <= NUB_CAP_MAX_ENDPOINTS; i++)
		eps[i] = ep_with_pc(i);
	nub_mapping maps[NUB_CAP_MAX_MAPPINGS + 1];
	for (unsigned i = 0; i <= NUB_CAP_MAX_MAPPINGS; i++)
		maps[i] = (nub_mapping){0x10000 + i * 0x1000, 1, 0, false};
	nub_image_desc d = bare_desc(eps, 1, NULL, 0);
	ASSERT_EQ(build_err(&d), NUB_E_OK);
	d.endpoint_count = 0;
	ASSERT_EQ(build_err(&d), NUB_E_IMAGE_NO_ENDPOINTS);
	d.endpoint_count = NUB_CAP_MAX_ENDPOINTS;
	ASSERT_EQ(build_err(&d), NUB_E_OK);
	d.endpoint_count = NUB_CAP_MAX_ENDPOINTS + 1;
	ASSERT_EQ(build_err(&d), NUB_E_IMAGE_TOO_MANY_ENDPOINTS);
	d.endpoint_count = 1;
	d.mappings = maps;
	d.mapping_count = NUB_CAP_MAX_MAPPINGS;
	ASSERT_EQ(build_err(&d), NUB_E_OK);
	d.mapping_count = NUB_CAP_MAX_MAPPINGS + 1;
	ASSERT_EQ(build_err(&d), NUB_E_IMAGE_TOO_MANY_MAPPINGS);
	d.mapping_count = 0;
	d.layout = (nub_layout)2;
	ASSERT_EQ(build_err(&d), NUB_E_IMAGE_LAYOUT);
	d.layout = NUB_LAYOUT_BARE;
	d.stack_size = 4096;
	ASSERT_EQ(build_err(&d), NUB_E_IMAGE_BARE_LAYOUT_FIELDS);
	d.stack_size = 0;
	d.heap_pages = 1;
	ASSERT_EQ(build_err(&d), NUB_E_IMAGE_BARE_LAYOUT_FIELDS);
	d.heap_pages = 0;
	d.layout = NUB_LAYOUT_SPI;
	d.stack_size = 1u << 24;
	ASSERT_EQ(build_err(&d), NUB_E_IMAGE_SPI_FIELD_RANGE);
	d.stack_size = (1u << 24) - 1;
	d.heap_pages = 1u << 16;
	ASSERT_EQ(build_err(&d), NUB_E_IMAGE_SPI_FIELD_RANGE);
	d.heap_pages = 0xFFFF;
	ASSERT_EQ(build_err(&d), NUB_E_OK); /* widest spi layout still fits 2^32 */
	d.heap_pages = 0;
	d.stack_size = 0;
	/* Mapping errors, one at a time. */
	nub_mapping m;
	d.layout = NUB_LAYOUT_BARE;
	d.mappings = &m;
	d.mapping_count = 1;
	m = (nub_mapping){0x10800, 1, 0, false};
	ASSERT_EQ(build_err(&d), NUB_E_MAPPING_ALIGN);
	m = (nub_mapping){0xF000, 1, 0, false};
	ASSERT_EQ(build_err(&d), NUB_E_MAPPING_LOW);
	m = (nub_mapping){0x10000, 0, 0, false};
	ASSERT_EQ(build_err(&d), NUB_E_MAPPING_EMPTY);
	m = (nub_mapping){0xFFFFF000, 2, 0, false};
	ASSERT_EQ(build_err(&d), NUB_E_MAPPING_RANGE);
	m = (nub_mapping){0xFFFFF000, 1, 0, false};
	ASSERT_EQ(build_err(&d), NUB_E_OK); /* ends exactly at 2^32 */
	m = (nub_mapping){0x10000, 1, NUB_CAP_MAX_SLOTS, false};
	ASSERT_EQ(build_err(&d), NUB_E_MAPPING_SLOT);
	nub_mapping two[2] = {{0x10000, 2, 0, false}, {0x11000, 1, 1, false}};
	d.mappings = two;
	d.mapping_count = 2;
	ASSERT_EQ(build_err(&d), NUB_E_MAPPING_ORDER); /* overlap */
	two[1].va = 0x12000;
	ASSERT_EQ(build_err(&d), NUB_E_OK); /* adjacent is fine */
	/* spi overlap: ro region [0x10000, 0x11000) with 1 byte of ro. */
	d.layout = NUB_LAYOUT_SPI;
	uint8_t ro = 1;
	d.ro = &ro;
	d.ro_len = 1;
	d.mappings = &m;
	d.mapping_count = 1;
	m = (nub_mapping){0x10000, 1, 0, false};
	ASSERT_EQ(build_err(&d), NUB_E_MAPPING_SPI_OVERLAP);
	m = (nub_mapping){0x11000, 1, 0, false}; /* just past the ro pages */
	ASSERT_EQ(build_err(&d), NUB_E_OK);
	d.stack_size = 0x2000; /* stack [0xFEFDE000, 0xFEFE0000) */
	m = (nub_mapping){0xFEFDF000, 1, 0, false};
	ASSERT_EQ(build_err(&d), NUB_E_MAPPING_SPI_OVERLAP);
	m = (nub_mapping){CAP_SPI_ARGS_VA, 1, 0, false}; /* argument area is free */
	ASSERT_EQ(build_err(&d), NUB_E_OK);
	d.heap_pages = 2; /* heap [0x30000, 0x32000) */
	m = (nub_mapping){0x31000, 4, 0, false};
	ASSERT_EQ(build_err(&d), NUB_E_MAPPING_SPI_OVERLAP);
	ASSERT_EQ(nub_cap_image(NULL, &(nub_cap_buf){0}), NUB_E_INVALID_ARG);
	d.code = NULL;
	ASSERT_EQ(build_err(&d), NUB_E_INVALID_ARG);
}

/* Valid base image bytes (bare, 1 endpoint, 2 mappings) for mutation tests. */
static nub_cap_buf base_image(void)
{
	nub_endpoint ep = ep_with_pc(0);
	nub_mapping maps[2] = {{0x20000, 1, 0, true}, {0x40000, 2, 1, false}};
	nub_image_desc d = bare_desc(&ep, 1, maps, 2);
	nub_cap_buf b = {0};
	if (nub_cap_image(&d, &b))
		abort();
	return b;
}

static nub_err decode_patched(const nub_cap_buf *b, size_t off, uint8_t val)
{
	uint8_t *t = malloc(b->len);
	memcpy(t, b->bytes, b->len);
	t[off] = val;
	cap_view v;
	nub_err e = cap_decode(t, b->len, &v);
	free(t);
	return e;
}

TEST(image_decoder_errors)
{
	nub_cap_buf b = base_image();
	cap_view v;
	size_t maps_off = b.len - 2 * CAP_MAPPING_LEN;
	ASSERT_EQ(cap_decode(b.bytes, b.len, &v), NUB_E_OK);
	for (size_t n = 0; n < b.len; n++)
		ASSERT_EQ(cap_decode(b.bytes, n, &v), NUB_E_CAP_TRUNCATED);
	uint8_t *t = malloc(b.len + 1);
	memcpy(t, b.bytes, b.len);
	t[b.len] = 0;
	ASSERT_EQ(cap_decode(t, b.len + 1, &v), NUB_E_CAP_TRAILING);
	free(t);
	ASSERT_EQ(decode_patched(&b, 1, 9), NUB_E_CAP_VERSION);
	ASSERT_EQ(decode_patched(&b, 2, 2), NUB_E_IMAGE_LAYOUT);
	ASSERT_EQ(decode_patched(&b, 3, 0), NUB_E_IMAGE_NO_ENDPOINTS);
	ASSERT_EQ(decode_patched(&b, 3, 65), NUB_E_IMAGE_TOO_MANY_ENDPOINTS);
	ASSERT_EQ(decode_patched(&b, 3, 2), NUB_E_CAP_TRUNCATED);
	ASSERT_EQ(decode_patched(&b, 4, 65), NUB_E_IMAGE_TOO_MANY_MAPPINGS);
	ASSERT_EQ(decode_patched(&b, 4, 1), NUB_E_CAP_TRAILING);
	ASSERT_EQ(decode_patched(&b, 5, 1), NUB_E_IMAGE_BARE_LAYOUT_FIELDS);  /* ro_len */
	ASSERT_EQ(decode_patched(&b, 13, 1), NUB_E_IMAGE_BARE_LAYOUT_FIELDS); /* heap_pages */
	ASSERT_EQ(decode_patched(&b, 21, 6), NUB_E_CAP_TRUNCATED);            /* code_len + 1 */
	ASSERT_EQ(decode_patched(&b, 24, 0x80), NUB_E_CAP_TRUNCATED);         /* code_len huge */
	/* spi layout with a 2^24 ro length. */
	{
		uint8_t *u = malloc(b.len);
		memcpy(u, b.bytes, b.len);
		u[2] = NUB_CAP_LAYOUT_SPI;
		put32(u + 5, 1u << 24);
		ASSERT_EQ(cap_decode(u, b.len, &v), NUB_E_IMAGE_SPI_FIELD_RANGE);
		put32(u + 5, 0);
		put32(u + 13, 1u << 16);
		ASSERT_EQ(cap_decode(u, b.len, &v), NUB_E_IMAGE_SPI_FIELD_RANGE);
		put32(u + 13, 0);
		put32(u + 17, 0x10000000);
		ASSERT_EQ(cap_decode(u, b.len, &v), NUB_E_IMAGE_SPI_FIELD_RANGE);
		put32(u + 17, 0x40000); /* stack [0xFEFA0000, 0xFEFE0000): no overlap */
		ASSERT_EQ(cap_decode(u, b.len, &v), NUB_E_OK);
		put32(u + 13, 0x10); /* heap [0x20000, 0x30000) overlaps 0x20000 */
		ASSERT_EQ(cap_decode(u, b.len, &v), NUB_E_MAPPING_SPI_OVERLAP);
		free(u);
	}
	/* Mapping record fields: va @0, pages @4, slot @8, flags @9. */
	ASSERT_EQ(decode_patched(&b, maps_off + 9, 2), NUB_E_MAPPING_FLAGS);
	ASSERT_EQ(decode_patched(&b, maps_off + 9, 0x81), NUB_E_MAPPING_FLAGS);
	ASSERT_EQ(decode_patched(&b, maps_off + 8, 64), NUB_E_MAPPING_SLOT);
	ASSERT_EQ(decode_patched(&b, maps_off + 0, 0x10), NUB_E_MAPPING_ALIGN);
	ASSERT_EQ(decode_patched(&b, maps_off + 2, 0x00), NUB_E_MAPPING_LOW);
	ASSERT_EQ(decode_patched(&b, maps_off + 4, 0), NUB_E_MAPPING_EMPTY);
	ASSERT_EQ(decode_patched(&b, maps_off + 7, 0x10), NUB_E_MAPPING_RANGE);
	ASSERT_EQ(decode_patched(&b, maps_off + 4, 0x21), NUB_E_MAPPING_ORDER);   /* overlaps the next */
	ASSERT_EQ(decode_patched(&b, maps_off + 2, 0x05), NUB_E_MAPPING_ORDER);   /* unsorted */
	ASSERT_EQ(decode_patched(&b, maps_off + 10 + 2, 0x02), NUB_E_MAPPING_ORDER); /* equal va */
	nub_cap_buf_free(&b);
}

/* ---- Instance ------------------------------------------------------------ */
TEST(instance_roundtrip_and_canonical)
{
	uint8_t img[32];
	fill_random(img, sizeof img);
	nub_slot s[3];
	for (unsigned i = 0; i < 3; i++) {
		s[i].index = (uint8_t)(40 - 17 * i); /* 40, 23, 6: reverse order */
		fill_random(s[i].hash, 32);
	}
	nub_cap_buf b;
	ASSERT_EQ(nub_cap_instance(img, s, 3, &b), NUB_E_OK);
	ASSERT_EQ(b.len, CAP_INSTANCE_FIXED_LEN + 3 * CAP_SLOT_LEN);
	ASSERT_EQ(b.bytes[0], NUB_CAP_KIND_INSTANCE);
	ASSERT_EQ(b.bytes[1], NUB_CAP_VERSION);
	ASSERT_MEM_EQ(b.bytes + 2, img, 32);
	ASSERT_EQ(b.bytes[34], 3);
	ASSERT_EQ(b.bytes[35], 6);
	ASSERT_MEM_EQ(b.bytes + 36, s[2].hash, 32);
	cap_view v;
	ASSERT_EQ(cap_decode(b.bytes, b.len, &v), NUB_E_OK);
	ASSERT_EQ(v.kind, NUB_CAP_KIND_INSTANCE);
	ASSERT_EQ(v.u.instance.slot_count, 3);
	uint8_t idx;
	const uint8_t *h;
	cap_instance_slot(&v.u.instance, 2, &idx, &h);
	ASSERT_EQ(idx, 40);
	ASSERT_MEM_EQ(h, s[0].hash, 32);
	nub_slot s2[3] = {s[1], s[2], s[0]};
	nub_cap_buf b2;
	ASSERT_EQ(nub_cap_instance(img, s2, 3, &b2), NUB_E_OK);
	ASSERT_MEM_EQ(b2.bytes, b.bytes, b.len);
	nub_cap_buf_free(&b2);

	/* Decoder errors. */
	for (size_t n = 0; n < b.len; n++)
		ASSERT_EQ(cap_decode(b.bytes, n, &v), NUB_E_CAP_TRUNCATED);
	ASSERT_EQ(decode_patched(&b, 34, 65), NUB_E_INSTANCE_TOO_MANY_SLOTS);
	ASSERT_EQ(decode_patched(&b, 34, 2), NUB_E_CAP_TRAILING);
	ASSERT_EQ(decode_patched(&b, 34, 4), NUB_E_CAP_TRUNCATED);
	ASSERT_EQ(decode_patched(&b, 35, 64), NUB_E_INSTANCE_SLOT_RANGE);
	ASSERT_EQ(decode_patched(&b, 35 + 33, 6), NUB_E_INSTANCE_SLOT_ORDER); /* duplicate */
	ASSERT_EQ(decode_patched(&b, 35 + 66, 1), NUB_E_INSTANCE_SLOT_ORDER); /* decreasing */
	nub_cap_buf_free(&b);

	/* Builder errors. */
	s[1].index = 40;
	ASSERT_EQ(nub_cap_instance(img, s, 3, &b), NUB_E_INSTANCE_SLOT_ORDER);
	ASSERT_TRUE(b.bytes == NULL);
	s[1].index = 64;
	ASSERT_EQ(nub_cap_instance(img, s, 3, &b), NUB_E_INSTANCE_SLOT_RANGE);
	nub_slot many[NUB_CAP_MAX_SLOTS + 1];
	memset(many, 0, sizeof many);
	for (unsigned i = 0; i <= NUB_CAP_MAX_SLOTS; i++)
		many[i].index = (uint8_t)i;
	ASSERT_EQ(nub_cap_instance(img, many, NUB_CAP_MAX_SLOTS + 1, &b), NUB_E_INSTANCE_TOO_MANY_SLOTS);
	many[NUB_CAP_MAX_SLOTS - 1].index = NUB_CAP_MAX_SLOTS - 1;
	ASSERT_EQ(nub_cap_instance(img, many, NUB_CAP_MAX_SLOTS, &b), NUB_E_OK);
	nub_cap_buf_free(&b);
	ASSERT_EQ(nub_cap_instance(img, NULL, 0, &b), NUB_E_OK); /* no slots is fine */
	ASSERT_EQ(b.len, CAP_INSTANCE_FIXED_LEN);
	nub_cap_buf_free(&b);
	ASSERT_EQ(nub_cap_instance(NULL, NULL, 0, &b), NUB_E_INVALID_ARG);
}

/* A toy directory for cap_instance_check_refs. */
struct toy_dir {
	size_t n;
	uint8_t hash[8][32];
	cap_view view[8];
	nub_cap_buf buf[8];
};

static void toy_add(struct toy_dir *d, nub_cap_buf b)
{
	d->buf[d->n] = b;
	nub_cap_hash(b.bytes, b.len, d->hash[d->n]);
	if (cap_decode(b.bytes, b.len, &d->view[d->n]))
		abort();
	d->n++;
}

static const cap_view *toy_lookup(void *ctx, const uint8_t hash[32])
{
	struct toy_dir *d = ctx;
	for (size_t i = 0; i < d->n; i++)
		if (!memcmp(d->hash[i], hash, 32))
			return &d->view[i];
	return NULL;
}

static nub_err check_instance(struct toy_dir *d, const uint8_t *img, const nub_slot *s, size_t n)
{
	nub_cap_buf b;
	nub_err e = nub_cap_instance(img, s, n, &b);
	if (e)
		return e;
	cap_view v;
	if ((e = cap_decode(b.bytes, b.len, &v)) == NUB_E_OK)
		e = cap_instance_check_refs(&v.u.instance, toy_lookup, d);
	nub_cap_buf_free(&b);
	return e;
}

TEST(instance_reference_checks)
{
	struct toy_dir d = {0};
	nub_cap_buf b;
	toy_add(&d, base_image()); /* [0] maps slot 0 (1 page) and slot 1 (2 pages) */
	static uint8_t big[3 * 4096 + 1];
	ASSERT_EQ(nub_cap_data("x", 1, &b), NUB_E_OK);
	toy_add(&d, b); /* [1] */
	ASSERT_EQ(nub_cap_data(big, 4096 * 2, &b), NUB_E_OK);
	toy_add(&d, b); /* [2] exactly 2 pages */
	ASSERT_EQ(nub_cap_data(big, 4096 * 2 + 1, &b), NUB_E_OK);
	toy_add(&d, b); /* [3] one byte too many for 2 pages */
	uint8_t unknown[32] = {1, 2, 3};

	nub_slot s[2] = {{0, {0}}, {1, {0}}};
	memcpy(s[0].hash, d.hash[1], 32);
	memcpy(s[1].hash, d.hash[2], 32);
	ASSERT_EQ(check_instance(&d, d.hash[0], s, 2), NUB_E_OK);
	ASSERT_EQ(check_instance(&d, unknown, s, 2), NUB_E_CAP_HAS_REF);
	ASSERT_EQ(check_instance(&d, d.hash[1], s, 2), NUB_E_CAP_REF_KIND); /* Data as image */
	memcpy(s[1].hash, unknown, 32);
	ASSERT_EQ(check_instance(&d, d.hash[0], s, 2), NUB_E_CAP_HAS_REF);
	memcpy(s[1].hash, d.hash[0], 32);
	ASSERT_EQ(check_instance(&d, d.hash[0], s, 2), NUB_E_CAP_REF_KIND); /* Image as data */
	memcpy(s[1].hash, d.hash[3], 32);
	ASSERT_EQ(check_instance(&d, d.hash[0], s, 2), NUB_E_INSTANCE_DATA_TOO_LARGE);
	ASSERT_EQ(check_instance(&d, d.hash[0], s, 1), NUB_E_INSTANCE_SLOT_MISSING);
	for (size_t i = 0; i < d.n; i++)
		nub_cap_buf_free(&d.buf[i]);
}

TEST(spi_builder)
{
	/* E3(|o|)=2 E3(|w|)=1 E2(z)=3 E3(s)=0x2000, o, w, E4(|c|)=5, c. */
	uint8_t spi[] = {2, 0, 0, 1, 0, 0, 3, 0, 0x00, 0x20, 0x00, 0xAA, 0xBB, 0xCC, 5, 0, 0, 0,
	                 0x00, 0x00, 0x01, 0x00, 0x01};
	uint32_t pcs[2] = {0, 5};
	nub_cap_buf b;
	ASSERT_EQ(nub_cap_image_from_spi(spi, sizeof spi, pcs, 2, NULL, 0, &b), NUB_E_OK);
	cap_view v;
	ASSERT_EQ(cap_decode(b.bytes, b.len, &v), NUB_E_OK);
	const cap_image_view *iv = &v.u.image;
	ASSERT_EQ(iv->layout, NUB_CAP_LAYOUT_SPI);
	ASSERT_EQ(iv->ro_len, 2);
	ASSERT_EQ(iv->ro[1], 0xBB);
	ASSERT_EQ(iv->rw_len, 1);
	ASSERT_EQ(iv->rw[0], 0xCC);
	ASSERT_EQ(iv->heap_pages, 3);
	ASSERT_EQ(iv->stack_size, 0x2000);
	ASSERT_EQ(iv->code_len, 5);
	ASSERT_EQ(iv->endpoint_count, 2);
	cap_endpoint e;
	cap_image_endpoint(iv, 1, &e);
	ASSERT_EQ(e.pc, 5);
	ASSERT_EQ(e.regs[0], 0xFFFF0000u);
	ASSERT_EQ(e.regs[1], 0xFEFE0000u);
	ASSERT_EQ(e.regs[7], 0xFEFF0000u);
	ASSERT_EQ(e.regs[8], 0);
	nub_cap_buf_free(&b);
	ASSERT_EQ(nub_cap_image_from_spi(spi, sizeof spi - 1, pcs, 2, NULL, 0, &b), NUB_E_CAP_TRUNCATED);
	ASSERT_EQ(nub_cap_image_from_spi(spi, 10, pcs, 2, NULL, 0, &b), NUB_E_CAP_TRUNCATED);
	uint8_t longer[sizeof spi + 1];
	memcpy(longer, spi, sizeof spi);
	longer[sizeof spi] = 0;
	ASSERT_EQ(nub_cap_image_from_spi(longer, sizeof longer, pcs, 2, NULL, 0, &b), NUB_E_CAP_TRAILING);
	ASSERT_EQ(nub_cap_image_from_spi(spi, sizeof spi, pcs, 0, NULL, 0, &b), NUB_E_IMAGE_NO_ENDPOINTS);
}

/* Random mutations of valid encodings: never crash; whatever decodes also
 * re-encodes to the identical bytes (one encoding per content). */
TEST(mutation_canonical)
{
	nub_cap_buf seeds[3];
	seeds[0] = base_image();
	ASSERT_EQ(nub_cap_data("abcdef", 6, &seeds[1]), NUB_E_OK);
	nub_slot s[2] = {{0, {1}}, {5, {2}}};
	ASSERT_EQ(nub_cap_instance(seeds[0].bytes, s, 2, &seeds[2]), NUB_E_OK);
	unsigned decoded = 0;
	for (unsigned iter = 0; iter < 100000; iter++) {
		const nub_cap_buf *sd = &seeds[iter % 3];
		uint8_t t[400];
		size_t len = sd->len;
		memcpy(t, sd->bytes, len);
		unsigned flips = 1 + (unsigned)(rng() % 3);
		for (unsigned f = 0; f < flips; f++)
			t[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
		if (rng() % 4 == 0)
			len = (size_t)(rng() % (len + 1));
		cap_view v;
		if (cap_decode(t, len, &v) != NUB_E_OK)
			continue;
		decoded++;
		nub_cap_buf r = {0};
		if (v.kind == NUB_CAP_KIND_IMAGE) {
			ASSERT_EQ(reencode_image(&v.u.image, &r), NUB_E_OK);
		} else if (v.kind == NUB_CAP_KIND_DATA) {
			ASSERT_EQ(nub_cap_data(v.u.data.bytes, v.u.data.len, &r), NUB_E_OK);
		} else {
			nub_slot ss[NUB_CAP_MAX_SLOTS];
			for (uint32_t i = 0; i < v.u.instance.slot_count; i++) {
				const uint8_t *h;
				cap_instance_slot(&v.u.instance, i, &ss[i].index, &h);
				memcpy(ss[i].hash, h, 32);
			}
			ASSERT_EQ(nub_cap_instance(v.u.instance.image_hash, ss, v.u.instance.slot_count, &r), NUB_E_OK);
		}
		ASSERT_EQ(r.len, len);
		ASSERT_MEM_EQ(r.bytes, t, len);
		nub_cap_buf_free(&r);
	}
	printf("    %u of 100000 mutants decoded, all canonical\n", decoded);
	ASSERT_TRUE(decoded > 1000);
	for (unsigned i = 0; i < 3; i++)
		nub_cap_buf_free(&seeds[i]);
}

int main(void)
{
	RUN(blake2b_rfc7693_abc);
	RUN(blake2b_256_empty_known);
	RUN(blake2b_rfc7693_selftest);
	RUN(blake2b_vs_libsodium_lengths);
	RUN(blake2b_vs_libsodium_outlen_key_chunks);
	RUN(blake2b_bad_params);
	RUN(data_roundtrip_and_layout);
	RUN(data_malformed);
	RUN(image_bare_layout_bytes);
	RUN(image_roundtrip_random);
	RUN(image_mapping_order_is_canonical);
	RUN(image_builder_errors);
	RUN(image_decoder_errors);
	RUN(instance_roundtrip_and_canonical);
	RUN(instance_reference_checks);
	RUN(spi_builder);
	RUN(mutation_canonical);
	return test_done();
}
