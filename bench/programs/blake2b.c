/* blake2b.c: BLAKE2b-256 of 1 KiB (byte i = i & 0xff); returns the first 8
 * digest bytes as a little-endian u64. Written from RFC 7693. */
#include "bench_arg.h"
#include "nub_guest.h"

static const uint64_t b2_iv[8] = {
	0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull, 0xa54ff53a5f1d36f1ull,
	0x510e527fade682d1ull, 0x9b05688c2b3e6c1full, 0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull,
};
static const uint8_t b2_sigma[12][16] = {
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
	{11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
	{9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
	{12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
	{6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static uint64_t rotr64(uint64_t x, unsigned n) { return (x >> n) | (x << (64 - n)); }

static uint64_t load64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define B2G(a, b, c, d, x, y)                                                                       \
	do {                                                                                        \
		v[a] = v[a] + v[b] + (x);                                                            \
		v[d] = rotr64(v[d] ^ v[a], 32);                                                      \
		v[c] = v[c] + v[d];                                                                  \
		v[b] = rotr64(v[b] ^ v[c], 24);                                                      \
		v[a] = v[a] + v[b] + (y);                                                            \
		v[d] = rotr64(v[d] ^ v[a], 16);                                                      \
		v[c] = v[c] + v[d];                                                                  \
		v[b] = rotr64(v[b] ^ v[c], 63);                                                      \
	} while (0)

static void b2_compress(uint64_t h[8], const uint8_t block[128], uint64_t t, int last)
{
	uint64_t v[16], m[16];
	for (int i = 0; i < 16; i++)
		m[i] = load64(block + 8 * i);
	for (int i = 0; i < 8; i++) {
		v[i] = h[i];
		v[i + 8] = b2_iv[i];
	}
	v[12] ^= t;
	if (last)
		v[14] = ~v[14];
	for (int r = 0; r < 12; r++) {
		const uint8_t *s = b2_sigma[r];
		B2G(0, 4, 8, 12, m[s[0]], m[s[1]]);
		B2G(1, 5, 9, 13, m[s[2]], m[s[3]]);
		B2G(2, 6, 10, 14, m[s[4]], m[s[5]]);
		B2G(3, 7, 11, 15, m[s[6]], m[s[7]]);
		B2G(0, 5, 10, 15, m[s[8]], m[s[9]]);
		B2G(1, 6, 11, 12, m[s[10]], m[s[11]]);
		B2G(2, 7, 8, 13, m[s[12]], m[s[13]]);
		B2G(3, 4, 9, 14, m[s[14]], m[s[15]]);
	}
	for (int i = 0; i < 8; i++)
		h[i] ^= v[i] ^ v[i + 8];
}

/* BLAKE2b with a 32-byte digest, no key. */
static void blake2b_256(const uint8_t *in, size_t len, uint8_t out[32])
{
	uint64_t h[8];
	uint8_t block[128];
	for (int i = 0; i < 8; i++)
		h[i] = b2_iv[i];
	h[0] ^= 0x01010000ull ^ 32u;
	size_t off = 0;
	while (len - off > 128) {
		b2_compress(h, in + off, off + 128, 0);
		off += 128;
	}
	memset(block, 0, sizeof block);
	memcpy(block, in + off, len - off);
	b2_compress(h, block, len, 1);
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)(h[i / 8] >> (8 * (i % 8)));
}

static uint8_t b2_input[1024];

/* With size argument n (bench_arg.h): n hashes, each after the first of the
 * input with its first 32 bytes xored with the previous digest. */
uint64_t bench_blake2b(uint64_t argp, uint64_t argl)
{
	uint8_t d[32];
	uint32_t n = bench_arg_n(argp, argl);
	for (size_t i = 0; i < sizeof b2_input; i++)
		b2_input[i] = (uint8_t)(i & 0xff);
	for (uint32_t r = 0; r < n; r++) {
		if (r)
			for (int i = 0; i < 32; i++)
				b2_input[i] ^= d[i];
		blake2b_256(b2_input, sizeof b2_input, d);
	}
	return load64(d);
}
NUB_EXPORT(0, bench_blake2b);
