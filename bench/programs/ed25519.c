/* ed25519.c: Ed25519 signature verification (RFC 8032, cofactorless), written
 * for this project: SHA-512, GF(2^255-19) in radix 2^51, extended twisted
 * Edwards coordinates, a plain double-and-add [s]B - [h]A. Constants d,
 * sqrt(-1) and the base point are derived at run time from their
 * definitions. Returns 1*(RFC 8032 test 1 verifies) + 2*(a forged signature
 * is rejected) + 4*(a changed message is rejected): 7 when all is right. */
#include "bench_arg.h"
#include "nub_guest.h"

/* ---- SHA-512 ----------------------------------------------------------- */

static const uint64_t sha_k[80] = {
	0x428a2f98d728ae22ull, 0x7137449123ef65cdull, 0xb5c0fbcfec4d3b2full, 0xe9b5dba58189dbbcull,
	0x3956c25bf348b538ull, 0x59f111f1b605d019ull, 0x923f82a4af194f9bull, 0xab1c5ed5da6d8118ull,
	0xd807aa98a3030242ull, 0x12835b0145706fbeull, 0x243185be4ee4b28cull, 0x550c7dc3d5ffb4e2ull,
	0x72be5d74f27b896full, 0x80deb1fe3b1696b1ull, 0x9bdc06a725c71235ull, 0xc19bf174cf692694ull,
	0xe49b69c19ef14ad2ull, 0xefbe4786384f25e3ull, 0x0fc19dc68b8cd5b5ull, 0x240ca1cc77ac9c65ull,
	0x2de92c6f592b0275ull, 0x4a7484aa6ea6e483ull, 0x5cb0a9dcbd41fbd4ull, 0x76f988da831153b5ull,
	0x983e5152ee66dfabull, 0xa831c66d2db43210ull, 0xb00327c898fb213full, 0xbf597fc7beef0ee4ull,
	0xc6e00bf33da88fc2ull, 0xd5a79147930aa725ull, 0x06ca6351e003826full, 0x142929670a0e6e70ull,
	0x27b70a8546d22ffcull, 0x2e1b21385c26c926ull, 0x4d2c6dfc5ac42aedull, 0x53380d139d95b3dfull,
	0x650a73548baf63deull, 0x766a0abb3c77b2a8ull, 0x81c2c92e47edaee6ull, 0x92722c851482353bull,
	0xa2bfe8a14cf10364ull, 0xa81a664bbc423001ull, 0xc24b8b70d0f89791ull, 0xc76c51a30654be30ull,
	0xd192e819d6ef5218ull, 0xd69906245565a910ull, 0xf40e35855771202aull, 0x106aa07032bbd1b8ull,
	0x19a4c116b8d2d0c8ull, 0x1e376c085141ab53ull, 0x2748774cdf8eeb99ull, 0x34b0bcb5e19b48a8ull,
	0x391c0cb3c5c95a63ull, 0x4ed8aa4ae3418acbull, 0x5b9cca4f7763e373ull, 0x682e6ff3d6b2b8a3ull,
	0x748f82ee5defb2fcull, 0x78a5636f43172f60ull, 0x84c87814a1f0ab72ull, 0x8cc702081a6439ecull,
	0x90befffa23631e28ull, 0xa4506cebde82bde9ull, 0xbef9a3f7b2c67915ull, 0xc67178f2e372532bull,
	0xca273eceea26619cull, 0xd186b8c721c0c207ull, 0xeada7dd6cde0eb1eull, 0xf57d4f7fee6ed178ull,
	0x06f067aa72176fbaull, 0x0a637dc5a2c898a6ull, 0x113f9804bef90daeull, 0x1b710b35131c471bull,
	0x28db77f523047d84ull, 0x32caab7b40c72493ull, 0x3c9ebe0a15c9bebcull, 0x431d67c49c100d4cull,
	0x4cc5d4becb3e42b6ull, 0x597f299cfc657e2aull, 0x5fcb6fab3ad6faecull, 0x6c44198c4a475817ull,
};

static uint64_t ror64(uint64_t x, unsigned n) { return (x >> n) | (x << (64 - n)); }

static void sha512_block(uint64_t h[8], const uint8_t *p)
{
	uint64_t w[80];
	for (int i = 0; i < 16; i++) {
		uint64_t v = 0;
		for (int k = 0; k < 8; k++)
			v = (v << 8) | p[8 * i + k];
		w[i] = v;
	}
	for (int i = 16; i < 80; i++) {
		uint64_t s0 = ror64(w[i - 15], 1) ^ ror64(w[i - 15], 8) ^ (w[i - 15] >> 7);
		uint64_t s1 = ror64(w[i - 2], 19) ^ ror64(w[i - 2], 61) ^ (w[i - 2] >> 6);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint64_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 80; i++) {
		uint64_t t1 = hh + (ror64(e, 14) ^ ror64(e, 18) ^ ror64(e, 41)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
		uint64_t t2 = (ror64(a, 28) ^ ror64(a, 34) ^ ror64(a, 39)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

/* SHA-512 of the concatenation of up to three parts. */
static void sha512_3(const uint8_t *p1, size_t n1, const uint8_t *p2, size_t n2, const uint8_t *p3, size_t n3,
		     uint8_t out[64])
{
	uint64_t h[8] = {0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull, 0xa54ff53a5f1d36f1ull,
			 0x510e527fade682d1ull, 0x9b05688c2b3e6c1full, 0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull};
	uint8_t buf[128];
	size_t fill = 0;
	uint64_t total = (uint64_t)n1 + n2 + n3;
	const uint8_t *parts[3] = {p1, p2, p3};
	size_t lens[3] = {n1, n2, n3};
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < lens[k]; i++) {
			buf[fill++] = parts[k][i];
			if (fill == 128) {
				sha512_block(h, buf);
				fill = 0;
			}
		}
	buf[fill++] = 0x80;
	if (fill > 112) {
		memset(buf + fill, 0, 128 - fill);
		sha512_block(h, buf);
		fill = 0;
	}
	memset(buf + fill, 0, 128 - fill);
	uint64_t bits = total * 8;
	for (int i = 0; i < 8; i++)
		buf[127 - i] = (uint8_t)(bits >> (8 * i));
	sha512_block(h, buf);
	for (int i = 0; i < 64; i++)
		out[i] = (uint8_t)(h[i / 8] >> (56 - 8 * (i % 8)));
}

/* ---- GF(2^255 - 19), five 51-bit limbs ------------------------------------ */

typedef struct {
	uint64_t v[5];
} fe;

#define MASK51 ((1ull << 51) - 1)

static void fe_carry(fe *h)
{
	for (int r = 0; r < 2; r++) {
		uint64_t c;
		for (int i = 0; i < 4; i++) {
			c = h->v[i] >> 51;
			h->v[i] &= MASK51;
			h->v[i + 1] += c;
		}
		c = h->v[4] >> 51;
		h->v[4] &= MASK51;
		h->v[0] += c * 19;
	}
}

static void fe_set(fe *h, uint64_t x)
{
	memset(h, 0, sizeof *h);
	h->v[0] = x;
	fe_carry(h);
}

static void fe_add(fe *h, const fe *f, const fe *g)
{
	for (int i = 0; i < 5; i++)
		h->v[i] = f->v[i] + g->v[i];
	fe_carry(h);
}

/* h = f - g, adding 4p first so limbs stay non-negative */
static void fe_sub(fe *h, const fe *f, const fe *g)
{
	static const uint64_t p4[5] = {0x1fffffffffffb4ull, 0x1ffffffffffffcull, 0x1ffffffffffffcull, 0x1ffffffffffffcull,
				       0x1ffffffffffffcull};
	for (int i = 0; i < 5; i++)
		h->v[i] = f->v[i] + p4[i] - g->v[i];
	fe_carry(h);
}

static void fe_mul(fe *h, const fe *f, const fe *g)
{
	unsigned __int128 t[5] = {0, 0, 0, 0, 0};
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 5; j++) {
			unsigned __int128 p = (unsigned __int128)f->v[i] * g->v[j];
			if (i + j >= 5)
				t[i + j - 5] += p * 19;
			else
				t[i + j] += p;
		}
	uint64_t c = 0;
	for (int i = 0; i < 5; i++) {
		t[i] += c;
		h->v[i] = (uint64_t)t[i] & MASK51;
		c = (uint64_t)(t[i] >> 51);
	}
	h->v[0] += c * 19;
	fe_carry(h);
}

static void fe_sq(fe *h, const fe *f) { fe_mul(h, f, f); }

/* h = f^e, e a 256-bit little-endian exponent */
static void fe_pow(fe *h, const fe *f, const uint8_t e[32])
{
	fe r, b = *f;
	fe_set(&r, 1);
	for (int i = 255; i >= 0; i--) {
		fe_sq(&r, &r);
		if ((e[i / 8] >> (i % 8)) & 1)
			fe_mul(&r, &r, &b);
	}
	*h = r;
}

static void fe_exp_bytes(uint8_t e[32], uint8_t low, uint8_t high)
{
	memset(e, 0xff, 32);
	e[0] = low;
	e[31] = high;
}

static void fe_invert(fe *h, const fe *f)
{
	uint8_t e[32];
	fe_exp_bytes(e, 0xeb, 0x7f); /* p - 2 */
	fe_pow(h, f, e);
}

static void fe_tobytes(uint8_t s[32], const fe *f)
{
	fe t = *f;
	fe_carry(&t);
	/* subtract p if t >= p: compute t + 19 and look at bit 255 */
	uint64_t q = (t.v[0] + 19) >> 51;
	q = (t.v[1] + q) >> 51;
	q = (t.v[2] + q) >> 51;
	q = (t.v[3] + q) >> 51;
	q = (t.v[4] + q) >> 51;
	t.v[0] += 19 * q;
	for (int i = 0; i < 4; i++) {
		t.v[i + 1] += t.v[i] >> 51;
		t.v[i] &= MASK51;
	}
	t.v[4] &= MASK51;
	uint64_t w[4] = {t.v[0] | (t.v[1] << 51), (t.v[1] >> 13) | (t.v[2] << 38), (t.v[2] >> 26) | (t.v[3] << 25),
			 (t.v[3] >> 39) | (t.v[4] << 12)};
	for (int i = 0; i < 32; i++)
		s[i] = (uint8_t)(w[i / 8] >> (8 * (i % 8)));
}

static void fe_frombytes(fe *h, const uint8_t s[32])
{
	uint64_t w[4];
	for (int i = 0; i < 4; i++) {
		uint64_t v = 0;
		for (int k = 7; k >= 0; k--)
			v = (v << 8) | s[8 * i + k];
		w[i] = v;
	}
	h->v[0] = w[0] & MASK51;
	h->v[1] = ((w[0] >> 51) | (w[1] << 13)) & MASK51;
	h->v[2] = ((w[1] >> 38) | (w[2] << 26)) & MASK51;
	h->v[3] = ((w[2] >> 25) | (w[3] << 39)) & MASK51;
	h->v[4] = (w[3] >> 12) & MASK51;
}

static int fe_eq(const fe *a, const fe *b)
{
	uint8_t x[32], y[32];
	fe_tobytes(x, a);
	fe_tobytes(y, b);
	return memcmp(x, y, 32) == 0;
}

static int fe_isodd(const fe *a)
{
	uint8_t x[32];
	fe_tobytes(x, a);
	return x[0] & 1;
}

/* ---- the curve ------------------------------------------------------------ */

typedef struct {
	fe x, y, z, t;
} ge;

static fe ed_d, ed_d2, ed_sqrtm1;

static void ed_init(void)
{
	fe num, den, inv;
	uint8_t e[32];
	fe_set(&num, 121665);
	fe_set(&den, 121666);
	fe_invert(&inv, &den);
	fe_mul(&ed_d, &num, &inv);
	fe zero;
	fe_set(&zero, 0);
	fe_sub(&ed_d, &zero, &ed_d); /* d = -121665/121666 */
	fe_add(&ed_d2, &ed_d, &ed_d);
	fe two;
	fe_set(&two, 2);
	fe_exp_bytes(e, 0xfb, 0x1f); /* (p - 1) / 4 */
	fe_pow(&ed_sqrtm1, &two, e);  /* 2 is a non-square, so this is sqrt(-1) */
}

static void ge_identity(ge *p)
{
	fe_set(&p->x, 0);
	fe_set(&p->y, 1);
	fe_set(&p->z, 1);
	fe_set(&p->t, 0);
}

static void ge_add(ge *r, const ge *p, const ge *q)
{
	fe a, b, c, d, e, f, g, h, t;
	fe_sub(&a, &p->y, &p->x);
	fe_sub(&t, &q->y, &q->x);
	fe_mul(&a, &a, &t);
	fe_add(&b, &p->y, &p->x);
	fe_add(&t, &q->y, &q->x);
	fe_mul(&b, &b, &t);
	fe_mul(&c, &p->t, &q->t);
	fe_mul(&c, &c, &ed_d2);
	fe_mul(&d, &p->z, &q->z);
	fe_add(&d, &d, &d);
	fe_sub(&e, &b, &a);
	fe_sub(&f, &d, &c);
	fe_add(&g, &d, &c);
	fe_add(&h, &b, &a);
	fe_mul(&r->x, &e, &f);
	fe_mul(&r->y, &g, &h);
	fe_mul(&r->t, &e, &h);
	fe_mul(&r->z, &f, &g);
}

static void ge_double(ge *r, const ge *p)
{
	fe a, b, c, e, f, g, h, t;
	fe_sq(&a, &p->x);
	fe_sq(&b, &p->y);
	fe_sq(&c, &p->z);
	fe_add(&c, &c, &c);
	fe_add(&t, &p->x, &p->y);
	fe_sq(&e, &t);
	fe_sub(&e, &e, &a);
	fe_sub(&e, &e, &b); /* E = 2XY */
	fe_sub(&g, &b, &a); /* G = D + B with D = -A */
	fe_sub(&f, &g, &c);
	fe zero;
	fe_set(&zero, 0);
	fe_sub(&h, &zero, &a);
	fe_sub(&h, &h, &b); /* H = D - B */
	fe_mul(&r->x, &e, &f);
	fe_mul(&r->y, &g, &h);
	fe_mul(&r->t, &e, &h);
	fe_mul(&r->z, &f, &g);
}

/* RFC 8032 5.1.3; returns 0 on success */
static int ge_decode(ge *p, const uint8_t s[32])
{
	fe u, v, v3, x, t, one;
	uint8_t e[32];
	fe_frombytes(&p->y, s);
	uint8_t yb[32];
	fe_tobytes(yb, &p->y);
	uint8_t canon[32];
	memcpy(canon, s, 32);
	canon[31] &= 0x7f;
	if (memcmp(yb, canon, 32) != 0)
		return -1; /* y >= p */
	int sign = s[31] >> 7;
	fe_set(&one, 1);
	fe_set(&p->z, 1);
	fe_sq(&u, &p->y);
	fe_mul(&v, &u, &ed_d);
	fe_sub(&u, &u, &one); /* u = y^2 - 1 */
	fe_add(&v, &v, &one); /* v = d y^2 + 1 */
	fe_sq(&v3, &v);
	fe_mul(&v3, &v3, &v);  /* v^3 */
	fe_sq(&x, &v3);
	fe_mul(&x, &x, &v);
	fe_mul(&x, &x, &u);    /* u v^7 */
	fe_exp_bytes(e, 0xfd, 0x0f); /* (p - 5) / 8 */
	fe_pow(&x, &x, e);
	fe_mul(&x, &x, &v3);
	fe_mul(&x, &x, &u);    /* x = u v^3 (u v^7)^((p-5)/8) */
	fe_sq(&t, &x);
	fe_mul(&t, &t, &v);    /* v x^2 */
	if (!fe_eq(&t, &u)) {
		fe zero, nu;
		fe_set(&zero, 0);
		fe_sub(&nu, &zero, &u);
		if (!fe_eq(&t, &nu))
			return -1;
		fe_mul(&x, &x, &ed_sqrtm1);
	}
	fe zero;
	fe_set(&zero, 0);
	if (fe_eq(&x, &zero) && sign)
		return -1;
	if (fe_isodd(&x) != sign)
		fe_sub(&x, &zero, &x);
	p->x = x;
	fe_mul(&p->t, &p->x, &p->y);
	return 0;
}

static void ge_encode(uint8_t s[32], const ge *p)
{
	fe zi, x, y;
	fe_invert(&zi, &p->z);
	fe_mul(&x, &p->x, &zi);
	fe_mul(&y, &p->y, &zi);
	fe_tobytes(s, &y);
	s[31] ^= (uint8_t)(fe_isodd(&x) << 7);
}

/* ---- scalars mod L ------------------------------------------------------- */

static const uint64_t ed_l[5] = {0x5812631a5cf5d3edull, 0x14def9dea2f79cd6ull, 0, 0x1000000000000000ull, 0};

static int sc_geq_l(const uint64_t r[5])
{
	for (int i = 4; i >= 0; i--) {
		if (r[i] != ed_l[i])
			return r[i] > ed_l[i];
	}
	return 1;
}

static void sc_sub_l(uint64_t r[5])
{
	uint64_t borrow = 0;
	for (int i = 0; i < 5; i++) {
		uint64_t t = r[i] - ed_l[i] - borrow;
		borrow = (r[i] < ed_l[i] + borrow) || (ed_l[i] + borrow < borrow);
		r[i] = t;
	}
}

/* out = (little-endian n-byte number) mod L, by binary long division */
static void sc_reduce(uint8_t out[32], const uint8_t *in, int n)
{
	uint64_t r[5] = {0, 0, 0, 0, 0};
	for (int bit = 8 * n - 1; bit >= 0; bit--) {
		for (int i = 4; i > 0; i--)
			r[i] = (r[i] << 1) | (r[i - 1] >> 63);
		r[0] = (r[0] << 1) | ((in[bit / 8] >> (bit % 8)) & 1);
		if (sc_geq_l(r))
			sc_sub_l(r);
	}
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)(r[i / 8] >> (8 * (i % 8)));
}

static int ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t pub[32])
{
	ge a, b, q;
	uint8_t h[64], hr[32], chk[32];
	static const uint8_t base_enc[32] = {0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					     0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					     0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};
	/* s < L */
	uint64_t s[5] = {0, 0, 0, 0, 0};
	for (int i = 0; i < 32; i++)
		s[i / 8] |= (uint64_t)sig[32 + i] << (8 * (i % 8));
	if (sc_geq_l(s))
		return 0;
	if (ge_decode(&a, pub) || ge_decode(&b, base_enc))
		return 0;
	sha512_3(sig, 32, pub, 32, msg, len, h);
	sc_reduce(hr, h, 64);
	/* q = [s]B + [h](-A) */
	fe zero;
	fe_set(&zero, 0);
	fe_sub(&a.x, &zero, &a.x);
	fe_sub(&a.t, &zero, &a.t);
	ge_identity(&q);
	for (int i = 255; i >= 0; i--) {
		ge_double(&q, &q);
		if ((sig[32 + i / 8] >> (i % 8)) & 1)
			ge_add(&q, &q, &b);
		if ((hr[i / 8] >> (i % 8)) & 1)
			ge_add(&q, &q, &a);
	}
	ge_encode(chk, &q);
	return memcmp(chk, sig, 32) == 0;
}

/* RFC 8032 section 7.1, TEST 1 (empty message) */
static const uint8_t t1_pub[32] = {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
				   0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
				   0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
static const uint8_t t1_sig[64] = {
	0xe5, 0x56, 0x43, 0x00, 0xc3, 0x60, 0xac, 0x72, 0x90, 0x86, 0xe2, 0xcc, 0x80, 0x6e, 0x82, 0x8a,
	0x84, 0x87, 0x7f, 0x1e, 0xb8, 0xe5, 0xd9, 0x74, 0xd8, 0x73, 0xe0, 0x65, 0x22, 0x49, 0x01, 0x55,
	0x5f, 0xb8, 0x82, 0x15, 0x90, 0xa3, 0x3b, 0xac, 0xc6, 0x1e, 0x39, 0x70, 0x1c, 0xf9, 0xb4, 0x6b,
	0xd2, 0x5b, 0xf5, 0xf0, 0x59, 0x5b, 0xbe, 0x24, 0x65, 0x51, 0x41, 0x43, 0x8e, 0x7a, 0x10, 0x0b,
};

/* 7 when all three checks hold. With size argument n (bench_arg.h): the
 * three checks n times (the forged byte of run k is sig[5] ^ (0x10 + k % 200)),
 * returning the sum of the n results (7 * n when all hold). */
uint64_t bench_ed25519(uint64_t argp, uint64_t argl)
{
	uint8_t sig[64];
	static const uint8_t msg1[1] = {0x72};
	uint32_t n = bench_arg_n(argp, argl);
	ed_init();
	uint64_t sum = 0;
	for (uint32_t k = 0; k < n; k++) {
		uint64_t r = 0;
		r |= (uint64_t)ed25519_verify(t1_sig, msg1, 0, t1_pub);
		memcpy(sig, t1_sig, 64);
		sig[5] ^= (uint8_t)(0x10 + k % 200); /* forged R */
		r |= (uint64_t)(!ed25519_verify(sig, msg1, 0, t1_pub)) << 1;
		r |= (uint64_t)(!ed25519_verify(t1_sig, msg1, 1, t1_pub)) << 2; /* different message */
		sum += r;
	}
	return sum;
}
NUB_EXPORT(0, bench_ed25519);
