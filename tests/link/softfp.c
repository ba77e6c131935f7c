/* softfp.c: guest program for tests/test_link.c: every soft-float helper of
 * sdk/lib/nub_softfp.c, called by name and through C operators, over edge
 * cases (zeros, min/max subnormal, min normal, max finite, infinities, quiet
 * and signalling NaNs with payloads, halfway cases, values next to the
 * integer limits) and 10 000 pseudo-random operand sets (bit-random and
 * value-random), folded into one hash. Built natively too (x86-64 SSE, which
 * is IEEE-exact for every operation here): the hashes must be equal, so every
 * result is checked bit for bit. Natively a NaN result is hashed as RISC-V's
 * canonical quiet NaN (0x7fc00000 / 0x7ff8000000000000: SSE propagates an
 * operand's payload where RISC-V F/D, whose semantics the helpers follow,
 * canonicalises; IEEE 754 leaves the payload open); on PVM the raw bits are
 * hashed, so the helpers must return exactly the canonical NaN. Negation is
 * a sign flip on both. Float -> integer conversions are only made where C
 * defines them (the truncated value fits). Comparison helpers are checked
 * for compiler-rt's exact return values. Natively with -DSFP_HELPERS the
 * helpers are called by name too (link sdk/lib/nub_softfp.c built for the
 * host): a quick way to find a difference outside the PVM, and with
 * -DSFP_ROUNDS=N a longer random run. */
#include "nub_guest.h"

typedef __int128 ti;
typedef unsigned __int128 uti;

uint64_t sfp_main(void);

#if defined(__riscv) || defined(SFP_HELPERS)
/* the helpers, called by name (the operators reach them too) */
#include "../../sdk/lib/nub_softfp.h"
#define H(name, native) name
#else
#define H(name, native) native
#endif

/* natively, the operator each helper stands for */
static float n_addsf(float a, float b) { return a + b; }
static float n_subsf(float a, float b) { return a - b; }
static float n_mulsf(float a, float b) { return a * b; }
static float n_divsf(float a, float b) { return a / b; }
static float n_negsf(float a) { return -a; }
static double n_adddf(double a, double b) { return a + b; }
static double n_subdf(double a, double b) { return a - b; }
static double n_muldf(double a, double b) { return a * b; }
static double n_divdf(double a, double b) { return a / b; }
static double n_negdf(double a) { return -a; }
static double n_ext(float a) { return (double)a; }
static float n_trunc(double a) { return (float)a; }
/* compiler-rt's values: -1, 0, 1; unordered 1 (eq/ne/lt/le) or -1 (ge/gt) */
static int n_cmpsf_le(float a, float b) { return a < b ? -1 : a == b ? 0 : a > b ? 1 : 1; }
static int n_cmpsf_ge(float a, float b) { return a < b ? -1 : a == b ? 0 : a > b ? 1 : -1; }
static int n_unordsf(float a, float b) { return a != a || b != b; }
static int n_cmpdf_le(double a, double b) { return a < b ? -1 : a == b ? 0 : a > b ? 1 : 1; }
static int n_cmpdf_ge(double a, double b) { return a < b ? -1 : a == b ? 0 : a > b ? 1 : -1; }
static int n_unorddf(double a, double b) { return a != a || b != b; }
static float n_powisf(float a, int b) { return __builtin_powif(a, b); }
static double n_powidf(double a, int b) { return __builtin_powi(a, b); }

/* silence "unused" for whichever side does not use them */
static void *const natives[] __attribute__((used)) = {
	(void *)n_addsf, (void *)n_subsf, (void *)n_mulsf, (void *)n_divsf, (void *)n_negsf,
	(void *)n_adddf, (void *)n_subdf, (void *)n_muldf, (void *)n_divdf, (void *)n_negdf,
	(void *)n_ext, (void *)n_trunc, (void *)n_cmpsf_le, (void *)n_cmpsf_ge, (void *)n_unordsf,
	(void *)n_cmpdf_le, (void *)n_cmpdf_ge, (void *)n_unorddf, (void *)n_powisf, (void *)n_powidf,
};

static uint64_t h = 0xcbf29ce484222325ull;

static void mix(uint64_t v)
{
	h = (h ^ v) * 0x100000001b3ull;
	h ^= h >> 29;
}

static void mix128(uti v)
{
	mix((uint64_t)v);
	mix((uint64_t)(v >> 64));
}

static uint32_t fbits(float f)
{
	union { float f; uint32_t u; } v = {.f = f};
	return v.u;
}

static uint64_t dbits(double d)
{
	union { double d; uint64_t u; } v = {.d = d};
	return v.u;
}

static float bitsf(uint32_t u)
{
	union { uint32_t u; float f; } v = {.u = u};
	return v.f;
}

static double bitsd(uint64_t u)
{
	union { uint64_t u; double d; } v = {.u = u};
	return v.d;
}

static int isnanf_bits(uint32_t u) { return (u & 0x7fffffffu) > 0x7f800000u; }
static int isnand_bits(uint64_t u) { return (u & 0x7fffffffffffffffull) > 0x7ff0000000000000ull; }

/* a float/double result: raw on PVM, NaN canonicalised natively */
static void mixf(float f)
{
	uint32_t u = fbits(f);
#if !defined(__riscv)
	if (isnanf_bits(u))
		u = 0x7fc00000u;
#endif
	mix(u);
}

static void mixd(double d)
{
	uint64_t u = dbits(d);
#if !defined(__riscv)
	if (isnand_bits(u))
		u = 0x7ff8000000000000ull;
#endif
	mix(u);
}

/* a sign flip keeps the payload on both */
static void mixf_raw(float f) { mix(fbits(f)); }
static void mixd_raw(double d) { mix(dbits(d)); }

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const uint32_t edge_f[] = {
	0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00800000, 0x80800000,
	0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fc12345,
	0xff812345, 0x3f800000, 0xbf800000, 0x3f800001, 0x3f7fffff, 0x3f000000, 0x3fc00000, 0x40200000,
	0x40600000, 0xc0200000, 0x3eaaaaab, 0x4b800000, 0x4b800001, 0x4effffff, 0x4f000000, 0xcf000000,
	0xcf000001, 0x4f800000, 0x5effffff, 0x5f000000, 0xdf000000, 0xdf000001, 0x5f800000, 0x7effffff,
	0x7f000000, 0x33800000, 0x34000000, 0x00400000, 0x00000003, 0x3effffff, 0xbeffffff, 0x0c000000,
};
#define N_EDGE_F (sizeof edge_f / sizeof edge_f[0])

static const uint64_t edge_d[] = {
	0x0000000000000000ull, 0x8000000000000000ull, 0x0000000000000001ull, 0x8000000000000001ull,
	0x000fffffffffffffull, 0x800fffffffffffffull, 0x0010000000000000ull, 0x8010000000000000ull,
	0x7fefffffffffffffull, 0xffefffffffffffffull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
	0x7ff8000000000000ull, 0xfff8000000000000ull, 0x7ff0000000000001ull, 0x7ff8123456789abcull,
	0xfff0123456789abcull, 0x3ff0000000000000ull, 0xbff0000000000000ull, 0x3ff0000000000001ull,
	0x3fefffffffffffffull, 0x3fe0000000000000ull, 0x3ff8000000000000ull, 0x4004000000000000ull,
	0x400c000000000000ull, 0xc004000000000000ull, 0x3fd5555555555555ull, 0x4340000000000000ull,
	0x4340000000000001ull, 0x41dfffffffc00000ull, 0x41dfffffffffffffull, 0x41e0000000000000ull,
	0xc1e0000000000000ull, 0xc1e0000000200000ull, 0xc1e00000001fffffull, 0x41efffffffe00000ull,
	0x41f0000000000000ull, 0x43dfffffffffffffull, 0x43e0000000000000ull, 0xc3e0000000000000ull,
	0xc3e0000000000001ull, 0x43efffffffffffffull, 0x43f0000000000000ull, 0x47dfffffffffffffull,
	0x47e0000000000000ull, 0x47efffffffffffffull, 0x47f0000000000000ull, 0x36a0000000000000ull,
	0x3690000000000000ull, 0x3690000000000001ull, 0x380fffffffffffffull, 0x3810000000000000ull,
	0x47efffffe0000000ull, 0x47efffffefffffffull, 0x47effffff0000000ull, 0x3ca0000000000000ull,
	0x3fdfffffffffffffull, 0x0008000000000000ull, 0x7fe0000000000000ull, 0x0000000000000003ull,
};
#define N_EDGE_D (sizeof edge_d / sizeof edge_d[0])

static const uti one = 1;

#ifndef SFP_ROUNDS
#define SFP_ROUNDS 10000 /* random operand sets */
#endif

static uti edge_int(unsigned i)
{
	switch (i) {
	case 0: return 0;
	case 1: return 1;
	case 2: return ~(uti)0;
	case 3: return (uti)(ti)INT32_MIN;
	case 4: return INT32_MAX;
	case 5: return UINT32_MAX;
	case 6: return (uti)(ti)INT64_MIN;
	case 7: return INT64_MAX;
	case 8: return UINT64_MAX;
	case 9: return one << 127;
	case 10: return (one << 127) - 1;
	case 11: return (1u << 24) + 1;         /* float halfway, to even */
	case 12: return (1u << 24) + 3;         /* float halfway, up */
	case 13: return (1ull << 53) + 1;       /* double halfway */
	case 14: return (1ull << 53) + 3;
	case 15: return ((1ull << 53) + 1) << 10 | 1; /* just past halfway */
	case 16: return ((uti)((1ull << 53) + 1) << 70);
	case 17: return ((uti)((1ull << 53) + 1) << 70) | 1;
	case 18: return ((uti)((1ull << 24) + 1) << 100);
	case 19: return (one << 64) + 1;
	case 20: return (uti)(ti)-((1 << 24) + 1);
	case 21: return (uti)(ti)-(((ti)1 << 53) + 1);
	case 22: return 0xffffff80u;            /* rounds to 2^32 as float */
	case 23: return 0xfffffffffffffc00ull;  /* rounds to 2^64 as double */
	case 24: return ~(uti)0 << 103;         /* -2^103 */
	default: return (uti)(ti)-3;
	}
}
#define N_EDGE_INT 26

/* float -> every integer type, where the truncated value fits */
static void to_ints_f(float a)
{
	if (a != a)
		return;
	if (a > -2147483649.0f && a < 2147483648.0f) {
		mix((uint64_t)(uint32_t)H(__fixsfsi, (int32_t))(a));
		mix((uint64_t)(uint32_t)(int32_t)a);
		mix((uint64_t)(a > -32769.0f && a < 32768.0f ? (int16_t)a : 7));
	}
	if (a > -1.0f && a < 4294967296.0f) {
		mix(H(__fixunssfsi, (uint32_t))(a));
		mix((uint32_t)a);
	}
	if (a >= -9223372036854775808.0f && a < 9223372036854775808.0f) {
		mix((uint64_t)H(__fixsfdi, (int64_t))(a));
		mix((uint64_t)(int64_t)a);
	}
	if (a > -1.0f && a < 18446744073709551616.0f) {
		mix(H(__fixunssfdi, (uint64_t))(a));
		mix((uint64_t)a);
	}
	if (a >= -1.7014118346046923e38f && a < 1.7014118346046923e38f) { /* +-2^127 */
		mix128((uti)H(__fixsfti, (ti))(a));
		mix128((uti)(ti)a);
	}
	if (a > -1.0f && a <= 3.4028234663852886e38f) { /* all finite floats fit */
		mix128(H(__fixunssfti, (uti))(a));
		mix128((uti)a);
	}
}

static void to_ints_d(double a)
{
	if (a != a)
		return;
	if (a > -2147483649.0 && a < 2147483648.0) {
		mix((uint64_t)(uint32_t)H(__fixdfsi, (int32_t))(a));
		mix((uint64_t)(uint32_t)(int32_t)a);
		mix((uint64_t)(uint8_t)(a > -1.0 && a < 256.0 ? (uint8_t)a : 7));
	}
	if (a > -1.0 && a < 4294967296.0) {
		mix(H(__fixunsdfsi, (uint32_t))(a));
		mix((uint32_t)a);
	}
	if (a >= -9223372036854775808.0 && a < 9223372036854775808.0) {
		mix((uint64_t)H(__fixdfdi, (int64_t))(a));
		mix((uint64_t)(int64_t)a);
	}
	if (a > -1.0 && a < 18446744073709551616.0) {
		mix(H(__fixunsdfdi, (uint64_t))(a));
		mix((uint64_t)a);
	}
	if (a >= -1.7014118346046923e38 && a < 1.7014118346046923e38) {
		mix128((uti)H(__fixdfti, (ti))(a));
		mix128((uti)(ti)a);
	}
	if (a > -1.0 && a < 3.4028236692093846e38) { /* 2^128 */
		mix128(H(__fixunsdfti, (uti))(a));
		mix128((uti)a);
	}
}

/* every integer type -> float and double */
static void from_int(uti u)
{
	ti s = (ti)u;
	int32_t s32 = (int32_t)u;
	int64_t s64 = (int64_t)u;
	uint32_t u32 = (uint32_t)u;
	uint64_t u64 = (uint64_t)u;
	mixf(H(__floatsisf, (float))(s32));
	mixf(H(__floatdisf, (float))(s64));
	mixf(H(__floattisf, (float))(s));
	mixf(H(__floatunsisf, (float))(u32));
	mixf(H(__floatundisf, (float))(u64));
	mixf(H(__floatuntisf, (float))(u));
	mixd(H(__floatsidf, (double))(s32));
	mixd(H(__floatdidf, (double))(s64));
	mixd(H(__floattidf, (double))(s));
	mixd(H(__floatunsidf, (double))(u32));
	mixd(H(__floatundidf, (double))(u64));
	mixd(H(__floatuntidf, (double))(u));
	/* the operators, and the narrow types */
	mixf((float)s32);
	mixf((float)s);
	mixf((float)u64);
	mixd((double)s64);
	mixd((double)u);
	mixd((double)(int16_t)u);
	mixf((float)(uint8_t)u);
}

static volatile int sink;

static void pair_f(float a, float b)
{
	mixf(H(__addsf3, n_addsf)(a, b));
	mixf(H(__subsf3, n_subsf)(a, b));
	mixf(H(__mulsf3, n_mulsf)(a, b));
	mixf(H(__divsf3, n_divsf)(a, b));
	mixf(a + b);
	mixf(a - b);
	mixf(a * b);
	mixf(a / b);
	mix((uint64_t)(H(__eqsf2, n_cmpsf_le)(a, b) + 8) | (uint64_t)(H(__nesf2, n_cmpsf_le)(a, b) + 8) << 8 |
	    (uint64_t)(H(__ltsf2, n_cmpsf_le)(a, b) + 8) << 16 | (uint64_t)(H(__lesf2, n_cmpsf_le)(a, b) + 8) << 24 |
	    (uint64_t)(H(__gtsf2, n_cmpsf_ge)(a, b) + 8) << 32 | (uint64_t)(H(__gesf2, n_cmpsf_ge)(a, b) + 8) << 40 |
	    (uint64_t)(H(__unordsf2, n_unordsf)(a, b) + 8) << 48);
	mix((uint64_t)(a < b) | (uint64_t)(a <= b) << 1 | (uint64_t)(a > b) << 2 | (uint64_t)(a >= b) << 3 |
	    (uint64_t)(a == b) << 4 | (uint64_t)(a != b) << 5 | (uint64_t)__builtin_isunordered(a, b) << 6 |
	    (uint64_t)__builtin_isless(a, b) << 7 | (uint64_t)__builtin_islessequal(a, b) << 8 |
	    (uint64_t)__builtin_isgreater(a, b) << 9 | (uint64_t)__builtin_isgreaterequal(a, b) << 10 |
	    (uint64_t)__builtin_islessgreater(a, b) << 11 | (uint64_t)!a << 12 | (uint64_t)(_Bool)b << 13);
	/* the power from b's bits (a NaN's payload may differ: canonical) */
	int n = (int)((isnanf_bits(fbits(b)) ? 0x7fc00000u : fbits(b)) % 41) - 20;
	sink = n;
	n = sink;
	mixf(H(__powisf2, n_powisf)(a, n));
	mixf(__builtin_powif(a, n));
}

static void pair_d(double a, double b)
{
	mixd(H(__adddf3, n_adddf)(a, b));
	mixd(H(__subdf3, n_subdf)(a, b));
	mixd(H(__muldf3, n_muldf)(a, b));
	mixd(H(__divdf3, n_divdf)(a, b));
	mixd(a + b);
	mixd(a - b);
	mixd(a * b);
	mixd(a / b);
	mix((uint64_t)(H(__eqdf2, n_cmpdf_le)(a, b) + 8) | (uint64_t)(H(__nedf2, n_cmpdf_le)(a, b) + 8) << 8 |
	    (uint64_t)(H(__ltdf2, n_cmpdf_le)(a, b) + 8) << 16 | (uint64_t)(H(__ledf2, n_cmpdf_le)(a, b) + 8) << 24 |
	    (uint64_t)(H(__gtdf2, n_cmpdf_ge)(a, b) + 8) << 32 | (uint64_t)(H(__gedf2, n_cmpdf_ge)(a, b) + 8) << 40 |
	    (uint64_t)(H(__unorddf2, n_unorddf)(a, b) + 8) << 48);
	mix((uint64_t)(a < b) | (uint64_t)(a <= b) << 1 | (uint64_t)(a > b) << 2 | (uint64_t)(a >= b) << 3 |
	    (uint64_t)(a == b) << 4 | (uint64_t)(a != b) << 5 | (uint64_t)__builtin_isunordered(a, b) << 6 |
	    (uint64_t)__builtin_isless(a, b) << 7 | (uint64_t)__builtin_islessequal(a, b) << 8 |
	    (uint64_t)__builtin_isgreater(a, b) << 9 | (uint64_t)__builtin_isgreaterequal(a, b) << 10 |
	    (uint64_t)__builtin_islessgreater(a, b) << 11 | (uint64_t)!a << 12 | (uint64_t)(_Bool)b << 13);
	int n = (int)((isnand_bits(dbits(b)) ? 0x7ff8000000000000ull : dbits(b)) % 41) - 20;
	sink = n;
	n = sink;
	mixd(H(__powidf2, n_powidf)(a, n));
	mixd(__builtin_powi(a, n));
}

static void single_f(float a)
{
	mixf_raw(H(__negsf2, n_negsf)(a));
	mixf_raw(-a);
	mixf_raw(__builtin_fabsf(a));
	mixf_raw(__builtin_copysignf(1.5f, a));
	mixd(H(__extendsfdf2, n_ext)(a));
	mixd((double)a);
	to_ints_f(a);
	mix((uint64_t)__builtin_isnan(a) | (uint64_t)__builtin_isinf(a) << 1 | (uint64_t)__builtin_isfinite(a) << 2 |
	    (uint64_t)__builtin_isnormal(a) << 3 | (uint64_t)__builtin_fpclassify(0, 1, 2, 3, 4, a) << 4 |
	    (uint64_t)(__builtin_signbit(a) != 0) << 8);
}

static void single_d(double a)
{
	mixd_raw(H(__negdf2, n_negdf)(a));
	mixd_raw(-a);
	mixd_raw(__builtin_fabs(a));
	mixd_raw(__builtin_copysign(1.5, a));
	mixf(H(__truncdfsf2, n_trunc)(a));
	mixf((float)a);
	to_ints_d(a);
	mix((uint64_t)__builtin_isnan(a) | (uint64_t)__builtin_isinf(a) << 1 | (uint64_t)__builtin_isfinite(a) << 2 |
	    (uint64_t)__builtin_isnormal(a) << 3 | (uint64_t)__builtin_fpclassify(0, 1, 2, 3, 4, a) << 4 |
	    (uint64_t)(__builtin_signbit(a) != 0) << 8);
}

/* bit-random, value-random (ratios of integers), near the subnormal range,
 * an edge value, or an edge value one ulp off */
static float rand_f(void)
{
	/* every next() in its own statement: operand order is unspecified */
	uint64_t r = next(), x = next(), y = next(), z = next();
	switch (r % 5) {
	case 0: return bitsf((uint32_t)x);
	case 1: return (float)((int64_t)x >> (y % 64)) / (float)(1 + z % 1000);
	case 2: return bitsf((uint32_t)(x & 0x807fffffu) | (uint32_t)(y % 3) << 23);
	case 3: return bitsf(edge_f[x % N_EDGE_F]);
	default: return bitsf(edge_f[x % N_EDGE_F] + (uint32_t)(y % 3) - 1);
	}
}

static double rand_d(void)
{
	uint64_t r = next(), x = next(), y = next(), z = next();
	switch (r % 5) {
	case 0: return bitsd(x);
	case 1: return (double)((int64_t)x >> (y % 64)) / (double)(1 + z % 1000);
	case 2: return bitsd((x & 0x800fffffffffffffull) | (y % 3) << 52);
	case 3: return bitsd(edge_d[x % N_EDGE_D]);
	default: return bitsd(edge_d[x % N_EDGE_D] + y % 3 - 1);
	}
}

uint64_t sfp_main(void)
{
	for (unsigned i = 0; i < N_EDGE_F; i++) {
		single_f(bitsf(edge_f[i]));
		for (unsigned j = 0; j < N_EDGE_F; j++)
			pair_f(bitsf(edge_f[i]), bitsf(edge_f[j]));
	}
	for (unsigned i = 0; i < N_EDGE_D; i++) {
		single_d(bitsd(edge_d[i]));
		for (unsigned j = 0; j < N_EDGE_D; j++)
			pair_d(bitsd(edge_d[i]), bitsd(edge_d[j]));
	}
	for (unsigned i = 0; i < N_EDGE_INT; i++)
		from_int(edge_int(i));
	for (int k = 0; k < SFP_ROUNDS; k++) {
		float a = rand_f();
		float b = rand_f();
		double c = rand_d();
		double d = rand_d();
		uint64_t x = next(), y = next(), z = next();
		/* operands close together: cancellation, ties, equality */
		if (k % 7 == 3)
			b = bitsf(fbits(a) + (uint32_t)(x % 5) - 2);
		if (k % 7 == 4)
			d = bitsd(dbits(c) + x % 5 - 2);
		if (k % 11 == 5)
			d = (double)a;
		single_f(a);
		single_d(c);
		pair_f(a, b);
		pair_d(c, d);
		uti u = ((uti)x << 64 | y) >> (z % 128);
		if (k % 3 == 0) /* the top bits set, or a few bits past a rounding point */
			u = ~u;
		if (k % 5 == 1)
			u = (uti)(x | 1) << (y % 64);
		from_int(u);
	}
	return h;
}

NUB_EXPORT(0, sfp_main);
