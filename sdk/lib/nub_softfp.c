/* nub_softfp.c: IEEE 754 binary32/binary64 soft-float runtime for nub guests
 * (the float and double helpers clang-19 calls for RV64E + M + C + Zbb, which
 * has no F/D), linked by scripts/nub-cc.
 *
 * Names and contracts are those of the compiler runtime ABI shared by libgcc
 * and compiler-rt. Semantics are those of the RISC-V F/D instructions clang
 * would otherwise emit:
 * - every result is correctly rounded to nearest, ties to even; subnormals,
 *   signed zeros and infinities are exact; overflow gives an infinity;
 * - an operation whose result is NaN (NaN operand, inf - inf, 0 * inf,
 *   0 / 0, inf / inf, float <-> double of a NaN) returns the canonical quiet
 *   NaN, 0x7fc00000 / 0x7ff8000000000000, whatever the operands' payloads;
 * - float -> integer truncates toward zero and, where C leaves the result
 *   undefined (out of range, NaN), saturates like fcvt: NaN and too large
 *   give the type's maximum, too small its minimum (0 for unsigned);
 * - comparisons return compiler-rt's values: __eq/__ne/__lt/__le: -1, 0, 1
 *   for less, equal, greater and 1 when unordered; __ge/__gt the same but -1
 *   when unordered; __unord: 1 when either is a NaN. (libgcc promises only
 *   the sign, which these satisfy.)
 * Exception flags are not kept (the target has no fflags to read them).
 *
 * One generic core serves both formats: a value is unpacked to sign,
 * exponent and a significand held in a uint64_t with its leading one at bit
 * 62, computed on exactly with the lost low bits ORed into bit 0 (sticky),
 * and rounded once when packed. The format (mantissa and exponent widths) is
 * a constant argument of always-inline functions, so each helper compiles to
 * straight code for its format. No helper calls another helper through a C
 * float operator; tests/test_link.c (tests/link/softfp.c) checks each one
 * against the host's native SSE results, bit for bit.
 *
 * Complex multiply and divide (__mul/__div sc3/dc3) follow C11 Annex G's
 * examples (see there). long double (IEEE binary128 on RISC-V: __addtf3,
 * ...) and _Float16/__bf16 are not implemented: scripts/nub-cc names the
 * missing helper and the type when a program needs them.
 */
#include <stdint.h>

typedef __int128 ti;
typedef unsigned __int128 uti;

#pragma GCC visibility push(hidden)

/* every helper, declared once (-Wmissing-prototypes) */
#include "nub_softfp.h"
float _Complex __mulsc3(float a, float b, float c, float d);
double _Complex __muldc3(double a, double b, double c, double d);
float _Complex __divsc3(float a, float b, float c, float d);
double _Complex __divdc3(double a, double b, double c, double d);

#define INLINE static inline __attribute__((always_inline))

/* the two formats: mantissa (stored fraction) and exponent widths */
#define F32 23, 8
#define F64 52, 11

/* ---- bits ---------------------------------------------------------------- */

INLINE uint64_t f2u(float f)
{
	union { float f; uint32_t u; } v = {.f = f};
	return v.u;
}

INLINE float u2f(uint64_t u)
{
	union { uint32_t u; float f; } v = {.u = (uint32_t)u};
	return v.f;
}

INLINE uint64_t d2u(double d)
{
	union { double d; uint64_t u; } v = {.d = d};
	return v.u;
}

INLINE double u2d(uint64_t u)
{
	union { uint64_t u; double d; } v = {.u = u};
	return v.d;
}

INLINE uint64_t emax(int eb) /* the all-ones exponent field */
{
	return ((uint64_t)1 << eb) - 1;
}

INLINE int32_t bias(int eb)
{
	return (int32_t)((1u << (eb - 1)) - 1);
}

INLINE uint64_t sign_bit(int mb, int eb)
{
	return (uint64_t)1 << (mb + eb);
}

INLINE uint64_t qnan(int mb, int eb) /* RISC-V's canonical NaN */
{
	return (emax(eb) << mb) | ((uint64_t)1 << (mb - 1));
}

INLINE uint64_t inf(int mb, int eb, uint64_t s)
{
	return (s ? sign_bit(mb, eb) : 0) | (emax(eb) << mb);
}

INLINE int is_nan(uint64_t x, int mb, int eb)
{
	return (x & (sign_bit(mb, eb) - 1)) > (emax(eb) << mb);
}

/* right shift keeping whether any one bit was lost in bit 0 */
INLINE uint64_t shr_jam(uint64_t x, unsigned s)
{
	if (s == 0)
		return x;
	if (s >= 64)
		return x != 0;
	return (x >> s) | ((x << (64 - s)) != 0);
}

/* ---- unpack and pack ----------------------------------------------------- */

enum { C_ZERO, C_FINITE, C_INF, C_NAN };

/* A finite non-zero value is sig * 2^(e - 62), sig in [2^62, 2^63). */
typedef struct {
	uint64_t s;
	int32_t e;
	uint64_t sig;
	int cls;
} unp;

INLINE unp unpack(uint64_t x, int mb, int eb)
{
	unp u;
	uint64_t ef = (x >> mb) & emax(eb), m = x & (((uint64_t)1 << mb) - 1);
	u.s = (x >> (mb + eb)) & 1;
	u.e = 0;
	u.sig = 0;
	if (ef == emax(eb)) {
		u.cls = m ? C_NAN : C_INF;
	} else if (ef == 0 && m == 0) {
		u.cls = C_ZERO;
	} else {
		u.cls = C_FINITE;
		/* m * 2^(1 - bias - mb) when subnormal, else (2^mb + m) * 2^(ef - bias - mb) */
		int32_t e = ef ? (int32_t)ef - bias(eb) : 1 - bias(eb);
		if (ef)
			m |= (uint64_t)1 << mb;
		int lz = __builtin_clzll(m);
		u.sig = m << (lz - 1);
		/* leading one at bit 63 - lz, worth 2^(e - mb + 63 - lz) */
		u.e = e - mb + 63 - lz;
	}
	return u;
}

/* sig * 2^(e - 62), sig in [2^62, 2^63) with sticky low bits, rounded to
 * nearest even and packed with sign s. */
INLINE uint64_t round_pack(uint64_t s, int32_t e, uint64_t sig, int mb, int eb)
{
	const unsigned drop = (unsigned)(62 - mb);
	const uint64_t half = (uint64_t)1 << (drop - 1), mask = ((uint64_t)1 << drop) - 1;
	uint64_t sb = s ? sign_bit(mb, eb) : 0;
	int32_t be = e + bias(eb);
	if (be >= (int32_t)emax(eb))
		return sb | inf(mb, eb, 0);
	if (be <= 0) { /* subnormal (or zero): the exponent field is 0 */
		sig = shr_jam(sig, (unsigned)(1 - be));
		be = 0;
	}
	uint64_t m = sig >> drop, rem = sig & mask;
	if (rem > half || (rem == half && (m & 1)))
		m++;
	if (be == 0) /* a carry to 2^mb makes it the smallest normal */
		return sb | m;
	/* m holds the implicit one (and a rounding carry) and adds to the field */
	uint64_t r = ((uint64_t)(be - 1) << mb) + m;
	if ((r >> mb) >= emax(eb))
		return sb | inf(mb, eb, 0);
	return sb | r;
}

/* sig * 2^e, sig != 0 anywhere in 64 bits (bit 0 may be sticky) */
INLINE uint64_t norm_pack(uint64_t s, int32_t e, uint64_t sig, int mb, int eb)
{
	int lz = __builtin_clzll(sig);
	if (lz == 0)
		return round_pack(s, e + 63, shr_jam(sig, 1), mb, eb);
	return round_pack(s, e + 63 - lz, sig << (lz - 1), mb, eb);
}

/* ---- arithmetic ---------------------------------------------------------- */

INLINE uint64_t f_add(uint64_t a, uint64_t b, int mb, int eb)
{
	unp x = unpack(a, mb, eb), y = unpack(b, mb, eb);
	if (x.cls == C_NAN || y.cls == C_NAN)
		return qnan(mb, eb);
	if (x.cls == C_INF) {
		if (y.cls == C_INF && x.s != y.s)
			return qnan(mb, eb);
		return inf(mb, eb, x.s);
	}
	if (y.cls == C_INF)
		return inf(mb, eb, y.s);
	if (x.cls == C_ZERO && y.cls == C_ZERO) /* -0 only for -0 + -0 */
		return (x.s & y.s) ? sign_bit(mb, eb) : 0;
	if (x.cls == C_ZERO)
		return b;
	if (y.cls == C_ZERO)
		return a;
	if (y.e > x.e || (y.e == x.e && y.sig > x.sig)) {
		unp t = x;
		x = y;
		y = t;
	}
	/* |x| >= |y|; leading ones at bit 61, room for the carry */
	uint64_t xs = x.sig >> 1, ys = shr_jam(y.sig >> 1, (unsigned)(x.e - y.e > 63 ? 63 : x.e - y.e));
	uint64_t r;
	if (x.s == y.s) {
		r = xs + ys;
	} else {
		r = xs - ys;
		if (r == 0) /* x - x is +0 when rounding to nearest */
			return 0;
	}
	return norm_pack(x.s, x.e - 61, r, mb, eb);
}

INLINE uint64_t f_mul(uint64_t a, uint64_t b, int mb, int eb)
{
	unp x = unpack(a, mb, eb), y = unpack(b, mb, eb);
	uint64_t s = x.s ^ y.s;
	if (x.cls == C_NAN || y.cls == C_NAN)
		return qnan(mb, eb);
	if (x.cls == C_INF || y.cls == C_INF) {
		if (x.cls == C_ZERO || y.cls == C_ZERO)
			return qnan(mb, eb);
		return inf(mb, eb, s);
	}
	if (x.cls == C_ZERO || y.cls == C_ZERO)
		return s ? sign_bit(mb, eb) : 0;
	/* x.sig * y.sig in [2^124, 2^126), worth 2^(x.e + y.e - 124) */
	uti p = (uti)x.sig * y.sig;
	uint64_t hi = (uint64_t)(p >> 64), lo = (uint64_t)p;
	return norm_pack(s, x.e + y.e - 60, hi | (lo != 0), mb, eb);
}

INLINE uint64_t f_div(uint64_t a, uint64_t b, int mb, int eb)
{
	unp x = unpack(a, mb, eb), y = unpack(b, mb, eb);
	uint64_t s = x.s ^ y.s;
	if (x.cls == C_NAN || y.cls == C_NAN)
		return qnan(mb, eb);
	if (x.cls == C_INF) {
		if (y.cls == C_INF)
			return qnan(mb, eb);
		return inf(mb, eb, s);
	}
	if (y.cls == C_INF)
		return s ? sign_bit(mb, eb) : 0;
	if (y.cls == C_ZERO) {
		if (x.cls == C_ZERO)
			return qnan(mb, eb);
		return inf(mb, eb, s);
	}
	if (x.cls == C_ZERO)
		return s ? sign_bit(mb, eb) : 0;
	/* long division on the (mb + 1)-bit significands with 64-bit divides,
	 * 61 - mb quotient bits a step (the remainder stays below d, so it can
	 * be shifted that far): q = floor(r * 2^(mb + 2) / d), mb + 3 bits
	 * (one past the guard bit), the final remainder's non-zeroness sticky */
	int32_t e = x.e - y.e;
	uint64_t r = x.sig >> (62 - mb), d = y.sig >> (62 - mb), q = 0;
	if (r < d) {
		r <<= 1;
		e--;
	}
	for (int left = mb + 2; left > 0;) {
		int step = left < 61 - mb ? left : 61 - mb;
		r <<= step;
		q = (q << step) | (r / d);
		r %= d;
		left -= step;
	}
	return norm_pack(s, e - mb - 2, q | (r != 0), mb, eb);
}

/* between formats: NaN -> canonical NaN, everything else rounded */
INLINE uint64_t f_convert(uint64_t a, int mb, int eb, int mb2, int eb2)
{
	unp x = unpack(a, mb, eb);
	switch (x.cls) {
	case C_NAN: return qnan(mb2, eb2);
	case C_INF: return inf(mb2, eb2, x.s);
	case C_ZERO: return x.s ? sign_bit(mb2, eb2) : 0;
	default: return round_pack(x.s, x.e, x.sig, mb2, eb2);
	}
}

/* -1, 0, 1 for less, equal, greater; 2 when unordered */
INLINE int f_cmp(uint64_t a, uint64_t b, int mb, int eb)
{
	const uint64_t sb = sign_bit(mb, eb);
	if (is_nan(a, mb, eb) || is_nan(b, mb, eb))
		return 2;
	if (((a | b) & (sb - 1)) == 0) /* +0 == -0 */
		return 0;
	if ((a ^ b) & sb) /* signs differ */
		return (a & sb) ? -1 : 1;
	if (a == b)
		return 0;
	int lt = (a & (sb - 1)) < (b & (sb - 1));
	if (a & sb) /* both negative: the larger magnitude is less */
		lt = !lt;
	return lt ? -1 : 1;
}

/* ---- integers ------------------------------------------------------------ */

/* from the 128-bit magnitude hi:lo with sign s */
INLINE uint64_t f_from_int(uint64_t s, uint64_t hi, uint64_t lo, int mb, int eb)
{
	if (hi == 0 && lo == 0)
		return 0;
	if (hi == 0)
		return norm_pack(s, 0, lo, mb, eb);
	/* keep the top 64 bits, the rest as sticky */
	unsigned lz = (unsigned)__builtin_clzll(hi);
	uint64_t top = lz ? (hi << lz) | (lo >> (64 - lz)) : hi;
	uint64_t rest = lz ? lo << lz : lo;
	return norm_pack(s, 64 - (int32_t)lz, top | (rest != 0), mb, eb);
}

enum { INT_OK, INT_BIG, INT_NAN };

/* truncate toward zero: the magnitude as hi:lo and the sign; INT_BIG when
 * the magnitude is 2^128 or more (or infinite) */
INLINE int f_to_int(uint64_t a, int mb, int eb, uint64_t *s, uint64_t *hi, uint64_t *lo)
{
	unp x = unpack(a, mb, eb);
	*s = x.s;
	*hi = *lo = 0;
	if (x.cls == C_NAN)
		return INT_NAN;
	if (x.cls == C_INF)
		return INT_BIG;
	if (x.cls == C_ZERO || x.e < 0)
		return INT_OK;
	if (x.e >= 128)
		return INT_BIG;
	/* sig * 2^(e - 62) */
	if (x.e <= 62) {
		*lo = x.sig >> (62 - x.e);
	} else {
		unsigned sh = (unsigned)(x.e - 62); /* 1..65 */
		if (sh >= 64) {
			*hi = x.sig << (sh - 64);
		} else {
			*hi = x.sig >> (64 - sh);
			*lo = x.sig << sh;
		}
	}
	return INT_OK;
}

/* signed results of n bits (n <= 64), saturating like fcvt */
INLINE int64_t f_to_sn(uint64_t a, int mb, int eb, unsigned n)
{
	uint64_t s, hi, lo, lim = (uint64_t)1 << (n - 1);
	int st = f_to_int(a, mb, eb, &s, &hi, &lo);
	if (st == INT_NAN)
		return (int64_t)(lim - 1);
	if (st == INT_BIG || hi || lo >= lim + s)
		return s ? (int64_t)(0 - lim) : (int64_t)(lim - 1);
	return s ? (int64_t)(0 - lo) : (int64_t)lo;
}

INLINE uint64_t f_to_un(uint64_t a, int mb, int eb, unsigned n)
{
	uint64_t s, hi, lo, max = n == 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
	int st = f_to_int(a, mb, eb, &s, &hi, &lo);
	if (st == INT_NAN)
		return max;
	if (s) /* negative: 0 (truncated -0.x is the only defined case) */
		return 0;
	if (st == INT_BIG || hi || lo > max)
		return max;
	return lo;
}

INLINE ti f_to_ti(uint64_t a, int mb, int eb)
{
	uint64_t s, hi, lo;
	const uti min = (uti)1 << 127;
	int st = f_to_int(a, mb, eb, &s, &hi, &lo);
	if (st == INT_NAN)
		return (ti)(min - 1);
	uti m = ((uti)hi << 64) | lo;
	if (st == INT_BIG || m > min - 1 + s)
		return s ? (ti)min : (ti)(min - 1);
	return s ? (ti)(0 - m) : (ti)m;
}

INLINE uti f_to_uti(uint64_t a, int mb, int eb)
{
	uint64_t s, hi, lo;
	int st = f_to_int(a, mb, eb, &s, &hi, &lo);
	if (st == INT_NAN)
		return ~(uti)0;
	if (s)
		return 0;
	if (st == INT_BIG)
		return ~(uti)0;
	return ((uti)hi << 64) | lo;
}

INLINE uint64_t f_from_ti(ti a, int mb, int eb)
{
	uti m = a < 0 ? 0 - (uti)a : (uti)a;
	return f_from_int(a < 0, (uint64_t)(m >> 64), (uint64_t)m, mb, eb);
}

/* ---- the helpers --------------------------------------------------------- */

float __addsf3(float a, float b) { return u2f(f_add(f2u(a), f2u(b), F32)); }
float __subsf3(float a, float b) { return u2f(f_add(f2u(a), f2u(b) ^ sign_bit(F32), F32)); }
float __mulsf3(float a, float b) { return u2f(f_mul(f2u(a), f2u(b), F32)); }
float __divsf3(float a, float b) { return u2f(f_div(f2u(a), f2u(b), F32)); }
float __negsf2(float a) { return u2f(f2u(a) ^ sign_bit(F32)); }
double __adddf3(double a, double b) { return u2d(f_add(d2u(a), d2u(b), F64)); }
double __subdf3(double a, double b) { return u2d(f_add(d2u(a), d2u(b) ^ sign_bit(F64), F64)); }
double __muldf3(double a, double b) { return u2d(f_mul(d2u(a), d2u(b), F64)); }
double __divdf3(double a, double b) { return u2d(f_div(d2u(a), d2u(b), F64)); }
double __negdf2(double a) { return u2d(d2u(a) ^ sign_bit(F64)); }

double __extendsfdf2(float a) { return u2d(f_convert(f2u(a), F32, F64)); }
float __truncdfsf2(double a) { return u2f(f_convert(d2u(a), F64, F32)); }

/* __eq, __ne, __lt, __le: unordered is 1; __ge, __gt: unordered is -1 */
INLINE int cmp_le(int c) { return c == 2 ? 1 : c; }
INLINE int cmp_ge(int c) { return c == 2 ? -1 : c; }

int __eqsf2(float a, float b) { return cmp_le(f_cmp(f2u(a), f2u(b), F32)); }
int __nesf2(float a, float b) { return cmp_le(f_cmp(f2u(a), f2u(b), F32)); }
int __ltsf2(float a, float b) { return cmp_le(f_cmp(f2u(a), f2u(b), F32)); }
int __lesf2(float a, float b) { return cmp_le(f_cmp(f2u(a), f2u(b), F32)); }
int __gtsf2(float a, float b) { return cmp_ge(f_cmp(f2u(a), f2u(b), F32)); }
int __gesf2(float a, float b) { return cmp_ge(f_cmp(f2u(a), f2u(b), F32)); }
int __unordsf2(float a, float b) { return is_nan(f2u(a), F32) || is_nan(f2u(b), F32); }
int __eqdf2(double a, double b) { return cmp_le(f_cmp(d2u(a), d2u(b), F64)); }
int __nedf2(double a, double b) { return cmp_le(f_cmp(d2u(a), d2u(b), F64)); }
int __ltdf2(double a, double b) { return cmp_le(f_cmp(d2u(a), d2u(b), F64)); }
int __ledf2(double a, double b) { return cmp_le(f_cmp(d2u(a), d2u(b), F64)); }
int __gtdf2(double a, double b) { return cmp_ge(f_cmp(d2u(a), d2u(b), F64)); }
int __gedf2(double a, double b) { return cmp_ge(f_cmp(d2u(a), d2u(b), F64)); }
int __unorddf2(double a, double b) { return is_nan(d2u(a), F64) || is_nan(d2u(b), F64); }

int32_t __fixsfsi(float a) { return (int32_t)f_to_sn(f2u(a), F32, 32); }
int64_t __fixsfdi(float a) { return f_to_sn(f2u(a), F32, 64); }
ti __fixsfti(float a) { return f_to_ti(f2u(a), F32); }
uint32_t __fixunssfsi(float a) { return (uint32_t)f_to_un(f2u(a), F32, 32); }
uint64_t __fixunssfdi(float a) { return f_to_un(f2u(a), F32, 64); }
uti __fixunssfti(float a) { return f_to_uti(f2u(a), F32); }
int32_t __fixdfsi(double a) { return (int32_t)f_to_sn(d2u(a), F64, 32); }
int64_t __fixdfdi(double a) { return f_to_sn(d2u(a), F64, 64); }
ti __fixdfti(double a) { return f_to_ti(d2u(a), F64); }
uint32_t __fixunsdfsi(double a) { return (uint32_t)f_to_un(d2u(a), F64, 32); }
uint64_t __fixunsdfdi(double a) { return f_to_un(d2u(a), F64, 64); }
uti __fixunsdfti(double a) { return f_to_uti(d2u(a), F64); }

INLINE uint64_t mag64(int64_t a) { return a < 0 ? 0 - (uint64_t)a : (uint64_t)a; }

float __floatsisf(int32_t a) { return u2f(f_from_int(a < 0, 0, mag64(a), F32)); }
float __floatdisf(int64_t a) { return u2f(f_from_int(a < 0, 0, mag64(a), F32)); }
float __floattisf(ti a) { return u2f(f_from_ti(a, F32)); }
float __floatunsisf(uint32_t a) { return u2f(f_from_int(0, 0, a, F32)); }
float __floatundisf(uint64_t a) { return u2f(f_from_int(0, 0, a, F32)); }
float __floatuntisf(uti a) { return u2f(f_from_int(0, (uint64_t)(a >> 64), (uint64_t)a, F32)); }
double __floatsidf(int32_t a) { return u2d(f_from_int(a < 0, 0, mag64(a), F64)); }
double __floatdidf(int64_t a) { return u2d(f_from_int(a < 0, 0, mag64(a), F64)); }
double __floattidf(ti a) { return u2d(f_from_ti(a, F64)); }
double __floatunsidf(uint32_t a) { return u2d(f_from_int(0, 0, a, F64)); }
double __floatundidf(uint64_t a) { return u2d(f_from_int(0, 0, a, F64)); }
double __floatuntidf(uti a) { return u2d(f_from_int(0, (uint64_t)(a >> 64), (uint64_t)a, F64)); }

/* a^b by squaring: the products of libgcc's and compiler-rt's __powi*
 * (multiplication commutes, so the order of their operands does not
 * matter), then 1 / r for b < 0 */
float __powisf2(float a, int b)
{
	uint64_t one = f2u(1.0f), x = f2u(a), r = one;
	unsigned n = b < 0 ? 0u - (unsigned)b : (unsigned)b;
	if (n & 1) /* 1 * a: a, or the canonical NaN */
		r = f_mul(one, x, F32);
	while (n >>= 1) {
		x = f_mul(x, x, F32);
		if (n & 1)
			r = f_mul(r, x, F32);
	}
	return u2f(b < 0 ? f_div(one, r, F32) : r);
}

double __powidf2(double a, int b)
{
	uint64_t one = d2u(1.0), x = d2u(a), r = one;
	unsigned n = b < 0 ? 0u - (unsigned)b : (unsigned)b;
	if (n & 1) /* 1 * a: a, or the canonical NaN */
		r = f_mul(one, x, F64);
	while (n >>= 1) {
		x = f_mul(x, x, F64);
		if (n & 1)
			r = f_mul(r, x, F64);
	}
	return u2d(b < 0 ? f_div(one, r, F64) : r);
}

/* ---- complex multiply and divide (C11 Annex G) --------------------------- */

/* The algorithms of C11 G.5.1's examples, written with C operators on the
 * real type (so they call the helpers above): the plain formulas, then, when
 * both parts come out NaN, the recovery that makes an infinite operand give
 * an infinite result (and a finite one divided by an infinite one zero).
 * Division scales the divisor by a power of two first (logb/scalbn, exact),
 * as the example does; it is not correctly rounded (no complex division
 * is), so its result may differ from another runtime's in the last bits. */

INLINE int32_t f_ilogb(uint64_t x, int mb, int eb) /* x finite, non-zero */
{
	return unpack(x, mb, eb).e;
}

/* x * 2^n, rounded; NaN, infinities and zeros unchanged */
INLINE uint64_t f_scalbn(uint64_t x, int32_t n, int mb, int eb)
{
	unp u = unpack(x, mb, eb);
	if (u.cls != C_FINITE)
		return x;
	if (n > 4096)
		n = 4096;
	if (n < -4096)
		n = -4096;
	return round_pack(u.s, u.e + n, u.sig, mb, eb);
}

#define CX_FNS(T, B, U, FMT)                                                                       \
	INLINE int cx_isnan_##T(T v) { return is_nan(B(v), FMT); }                                         \
	INLINE int cx_isinf_##T(T v) { return (B(v) & (sign_bit(FMT) - 1)) == inf(FMT, 0); }              \
	INLINE int cx_isfinite_##T(T v) { return (B(v) & (sign_bit(FMT) - 1)) < inf(FMT, 0); }             \
	INLINE T cx_copysign_##T(T m, T s) { return U((B(m) & (sign_bit(FMT) - 1)) | (B(s) & sign_bit(FMT))); } \
	INLINE T cx_box_##T(T v) /* +-1 for an infinity, else +-0 */                                    \
	{                                                                                                  \
		return cx_copysign_##T(cx_isinf_##T(v) ? (T)1 : (T)0, v);                                   \
	}                                                                                                  \
	INLINE T cx_unnan_##T(T v) /* a NaN becomes +-0 */                                              \
	{                                                                                                  \
		return cx_isnan_##T(v) ? cx_copysign_##T((T)0, v) : v;                                      \
	}

#define F32_BITS(v) f2u(v)
#define F64_BITS(v) d2u(v)
CX_FNS(float, F32_BITS, u2f, F32)
CX_FNS(double, F64_BITS, u2d, F64)

#define CX_MUL(T, INFV)                                                                                \
	{                                                                                                  \
		T ac = a * c, bd = b * d, ad = a * d, bc = b * c;                                          \
		T x = ac - bd, y = ad + bc;                                                                \
		if (cx_isnan_##T(x) && cx_isnan_##T(y)) {                                                  \
			int again = 0;                                                                     \
			if (cx_isinf_##T(a) || cx_isinf_##T(b)) {                                          \
				a = cx_box_##T(a);                                                         \
				b = cx_box_##T(b);                                                         \
				c = cx_unnan_##T(c);                                                       \
				d = cx_unnan_##T(d);                                                       \
				again = 1;                                                                 \
			}                                                                                  \
			if (cx_isinf_##T(c) || cx_isinf_##T(d)) {                                          \
				c = cx_box_##T(c);                                                         \
				d = cx_box_##T(d);                                                         \
				a = cx_unnan_##T(a);                                                       \
				b = cx_unnan_##T(b);                                                       \
				again = 1;                                                                 \
			}                                                                                  \
			if (!again && (cx_isinf_##T(ac) || cx_isinf_##T(bd) || cx_isinf_##T(ad) ||         \
				       cx_isinf_##T(bc))) {                                                \
				a = cx_unnan_##T(a);                                                       \
				b = cx_unnan_##T(b);                                                       \
				c = cx_unnan_##T(c);                                                       \
				d = cx_unnan_##T(d);                                                       \
				again = 1;                                                                 \
			}                                                                                  \
			if (again) {                                                                       \
				x = INFV * (a * c - b * d);                                                \
				y = INFV * (a * d + b * c);                                                \
			}                                                                                  \
		}                                                                                          \
		return __builtin_complex(x, y);                                                            \
	}

#define CX_DIV(T, B, U, FMT, INFV)                                                                         \
	{                                                                                                  \
		/* logb(fmax(|c|, |d|)): the larger exponent of the two */                                 \
		uint64_t mc = B(c) & (sign_bit(FMT) - 1), md = B(d) & (sign_bit(FMT) - 1), mx;            \
		mx = is_nan(mc, FMT) ? md : is_nan(md, FMT) ? mc : mc > md ? mc : md;                     \
		int logb_posinf = 0;                                                                       \
		int32_t ilogbw = 0;                                                                        \
		if (mx < inf(FMT, 0) && mx != 0) { /* finite, non-zero */                                 \
			ilogbw = f_ilogb(mx, FMT);                                                         \
			c = U(f_scalbn(B(c), -ilogbw, FMT));                                               \
			d = U(f_scalbn(B(d), -ilogbw, FMT));                                               \
		} else if (mx == inf(FMT, 0)) {                                                            \
			logb_posinf = 1;                                                                   \
		}                                                                                          \
		T denom = c * c + d * d;                                                                   \
		T x = U(f_scalbn(B((a * c + b * d) / denom), -ilogbw, FMT));                               \
		T y = U(f_scalbn(B((b * c - a * d) / denom), -ilogbw, FMT));                               \
		if (cx_isnan_##T(x) && cx_isnan_##T(y)) {                                                  \
			if (denom == (T)0 && (!cx_isnan_##T(a) || !cx_isnan_##T(b))) {                    \
				x = cx_copysign_##T(INFV, c) * a;                                          \
				y = cx_copysign_##T(INFV, c) * b;                                          \
			} else if ((cx_isinf_##T(a) || cx_isinf_##T(b)) && cx_isfinite_##T(c) &&            \
				   cx_isfinite_##T(d)) {                                                   \
				a = cx_box_##T(a);                                                         \
				b = cx_box_##T(b);                                                         \
				x = INFV * (a * c + b * d);                                                \
				y = INFV * (b * c - a * d);                                                \
			} else if (logb_posinf && cx_isfinite_##T(a) && cx_isfinite_##T(b)) {             \
				c = cx_box_##T(c);                                                         \
				d = cx_box_##T(d);                                                         \
				x = (T)0 * (a * c + b * d);                                                \
				y = (T)0 * (b * c - a * d);                                                \
			}                                                                                  \
		}                                                                                          \
		return __builtin_complex(x, y);                                                            \
	}

float _Complex __mulsc3(float a, float b, float c, float d) CX_MUL(float, __builtin_inff())
double _Complex __muldc3(double a, double b, double c, double d) CX_MUL(double, __builtin_inf())
float _Complex __divsc3(float a, float b, float c, float d) CX_DIV(float, F32_BITS, u2f, F32, __builtin_inff())
double _Complex __divdc3(double a, double b, double c, double d) CX_DIV(double, F64_BITS, u2d, F64, __builtin_inf())

#pragma GCC visibility pop
