/* nub_rt.c: compiler runtime for nub guests (the helpers clang-19 calls for
 * RV64E + M + C + Zbb: 128-bit arithmetic, overflow-checked multiply, bit
 * counts), linked by scripts/nub-cc.
 *
 * Names and contracts are those of the compiler runtime ABI shared by
 * libgcc and compiler-rt (shift counts are int; __cmp*2 return 0/1/2 for
 * less/equal/greater; __clz/__ctz of 0 are undefined; the *v* helpers trap
 * on overflow). Division by zero gives the RISC-V M results: quotient all
 * ones, remainder the dividend. Everything is written over 64-bit halves so
 * that no helper calls another helper (or itself) through a 128-bit C
 * operator; tests/test_link.c checks each one against the native (libgcc)
 * result over edge cases and random values.
 */
#pragma GCC visibility push(hidden)

/* every helper, declared once (-Wmissing-prototypes) */
#include "nub_rt.h"

#define HI(x) ((uint64_t)((uti)(x) >> 64))
#define LO(x) ((uint64_t)(x))
#define MK(hi, lo) (((uti)(hi) << 64) | (uti)(uint64_t)(lo))

/* high 64 bits of a 64x64 product: mulhu */
static inline uint64_t mulhu(uint64_t a, uint64_t b)
{
	return (uint64_t)(((uti)a * b) >> 64);
}

uti __multi3(uti a, uti b)
{
	uint64_t al = LO(a), bl = LO(b);
	uint64_t hi = mulhu(al, bl) + al * HI(b) + HI(a) * bl;
	return MK(hi, al * bl);
}

static int clz128(uti a) /* a != 0 */
{
	return HI(a) ? __builtin_clzll(HI(a)) : 64 + __builtin_clzll(LO(a));
}

static uti shl(uti a, unsigned s) /* s < 128 */
{
	uint64_t h = HI(a), l = LO(a);
	if (s == 0)
		return a;
	if (s >= 64)
		return MK(l << (s - 64), 0);
	return MK((h << s) | (l >> (64 - s)), l << s);
}

static uti shr(uti a, unsigned s) /* logical, s < 128 */
{
	uint64_t h = HI(a), l = LO(a);
	if (s == 0)
		return a;
	if (s >= 64)
		return MK(0, h >> (s - 64));
	return MK(h >> s, (l >> s) | (h << (64 - s)));
}

static int ult(uti a, uti b)
{
	return HI(a) != HI(b) ? HI(a) < HI(b) : LO(a) < LO(b);
}

static uti sub(uti a, uti b)
{
	uint64_t l = LO(a) - LO(b);
	return MK(HI(a) - HI(b) - (LO(a) < LO(b)), l);
}

uti __udivmodti4(uti a, uti b, uti *rem)
{
	uti q = 0;
	if (b == 0) { /* RISC-V M: quotient all ones, remainder the dividend */
		if (rem)
			*rem = a;
		return ~(uti)0;
	}
	if (HI(a) == 0 && HI(b) == 0) {
		if (rem)
			*rem = LO(a) % LO(b);
		return LO(a) / LO(b);
	}
	if (ult(a, b)) {
		if (rem)
			*rem = a;
		return 0;
	}
	/* restoring division from the highest quotient bit that can be set */
	unsigned s = (unsigned)(clz128(b) - clz128(a));
	b = shl(b, s);
	for (unsigned i = 0; i <= s; i++) {
		q = shl(q, 1);
		if (!ult(a, b)) {
			a = sub(a, b);
			q |= 1;
		}
		b = shr(b, 1);
	}
	if (rem)
		*rem = a;
	return q;
}

static uti uabs(ti a)
{
	return a < 0 ? sub(0, (uti)a) : (uti)a;
}

ti __divmodti4(ti a, ti b, ti *rem)
{
	uti r;
	uti q = __udivmodti4(uabs(a), uabs(b), &r);
	if (b == 0) {
		if (rem)
			*rem = a;
		return -1;
	}
	if ((a < 0) != (b < 0))
		q = sub(0, q);
	if (a < 0)
		r = sub(0, r);
	if (rem)
		*rem = (ti)r;
	return (ti)q;
}

uti __udivti3(uti a, uti b)
{
	return __udivmodti4(a, b, 0);
}

uti __umodti3(uti a, uti b)
{
	uti r;
	__udivmodti4(a, b, &r);
	return r;
}

ti __divti3(ti a, ti b)
{
	return __divmodti4(a, b, 0);
}

ti __modti3(ti a, ti b)
{
	ti r;
	__divmodti4(a, b, &r);
	return r;
}

ti __ashlti3(ti a, int b)
{
	return (ti)shl((uti)a, (unsigned)b & 127);
}

ti __lshrti3(ti a, int b)
{
	return (ti)shr((uti)a, (unsigned)b & 127);
}

ti __ashrti3(ti a, int b)
{
	unsigned s = (unsigned)b & 127;
	uti r = shr((uti)a, s);
	if (a < 0 && s)
		r |= shl(~(uti)0, 128 - s);
	return (ti)r;
}

ti __negti2(ti a)
{
	return (ti)sub(0, (uti)a);
}

int __cmpti2(ti a, ti b)
{
	return a < b ? 0 : a == b ? 1 : 2;
}

int __ucmpti2(uti a, uti b)
{
	return ult(a, b) ? 0 : a == b ? 1 : 2;
}

int __clzti2(ti a)
{
	return clz128((uti)a);
}

int __ctzti2(ti a)
{
	return LO(a) ? __builtin_ctzll(LO(a)) : 64 + __builtin_ctzll(HI(a));
}

int __ffsti2(ti a)
{
	return a == 0 ? 0 : __ctzti2(a) + 1;
}

int __popcountti2(ti a)
{
	return __builtin_popcountll(LO(a)) + __builtin_popcountll(HI(a));
}

int __parityti2(ti a)
{
	return __builtin_parityll(LO(a) ^ HI(a));
}

int __clzdi2(int64_t a)
{
	return __builtin_clzll((uint64_t)a);
}

int __ctzdi2(int64_t a)
{
	return __builtin_ctzll((uint64_t)a);
}

int __ffsdi2(int64_t a)
{
	return a == 0 ? 0 : __builtin_ctzll((uint64_t)a) + 1;
}

int __popcountdi2(int64_t a)
{
	return __builtin_popcountll((uint64_t)a);
}

int __paritydi2(int64_t a)
{
	return __builtin_parityll((uint64_t)a);
}

int __clzsi2(int32_t a)
{
	return __builtin_clz((uint32_t)a);
}

int __ctzsi2(int32_t a)
{
	return __builtin_ctz((uint32_t)a);
}

int __popcountsi2(int32_t a)
{
	return __builtin_popcount((uint32_t)a);
}

int __paritysi2(int32_t a)
{
	return __builtin_parity((uint32_t)a);
}

int64_t __bswapdi2(int64_t a)
{
	return (int64_t)__builtin_bswap64((uint64_t)a);
}

int32_t __bswapsi2(int32_t a)
{
	return (int32_t)__builtin_bswap32((uint32_t)a);
}

/* |a| * |b| as 128 bits; *ovf = 1 when it needs more. */
static uti umul_ovf(uti a, uti b, int *ovf)
{
	uint64_t ah = HI(a), al = LO(a), bh = HI(b), bl = LO(b);
	*ovf = 0;
	if (ah && bh) {
		*ovf = 1;
		return __multi3(a, b);
	}
	uint64_t cross_hi, cross = 0;
	if (ah) {
		cross = ah * bl;
		cross_hi = mulhu(ah, bl);
	} else {
		cross = al * bh;
		cross_hi = mulhu(al, bh);
	}
	uint64_t hi = mulhu(al, bl), lo = al * bl;
	uint64_t h2 = hi + cross;
	if (cross_hi || h2 < hi)
		*ovf = 1;
	return MK(h2, lo);
}

ti __muloti4(ti a, ti b, int *overflow)
{
	int o;
	uti m = umul_ovf(uabs(a), uabs(b), &o);
	int neg = (a < 0) != (b < 0) && a != 0 && b != 0;
	uti limit = neg ? (uti)1 << 127 : ((uti)1 << 127) - 1;
	*overflow = o || ult(limit, m);
	return (ti)__multi3((uti)a, (uti)b);
}

int64_t __mulodi4(int64_t a, int64_t b, int *overflow)
{
	int64_t r;
	*overflow = __builtin_mul_overflow(a, b, &r);
	return r;
}

int32_t __mulosi4(int32_t a, int32_t b, int *overflow)
{
	int32_t r;
	*overflow = __builtin_mul_overflow(a, b, &r);
	return r;
}

ti __mulvti3(ti a, ti b)
{
	int o;
	ti r = __muloti4(a, b, &o);
	if (o)
		__builtin_trap();
	return r;
}

ti __addvti3(ti a, ti b)
{
	ti r = (ti)((uti)a + (uti)b);
	if ((b >= 0) != (r >= a))
		__builtin_trap();
	return r;
}

ti __subvti3(ti a, ti b)
{
	ti r = (ti)((uti)a - (uti)b);
	if ((b >= 0) != (r <= a))
		__builtin_trap();
	return r;
}

ti __negvti2(ti a)
{
	if ((uti)a == (uti)1 << 127)
		__builtin_trap();
	return -a;
}

ti __absvti2(ti a)
{
	if ((uti)a == (uti)1 << 127)
		__builtin_trap();
	return a < 0 ? -a : a;
}

int64_t __mulvdi3(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		__builtin_trap();
	return r;
}

int64_t __addvdi3(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		__builtin_trap();
	return r;
}

int64_t __subvdi3(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		__builtin_trap();
	return r;
}

int64_t __negvdi2(int64_t a)
{
	if (a == INT64_MIN)
		__builtin_trap();
	return -a;
}

int64_t __absvdi2(int64_t a)
{
	if (a == INT64_MIN)
		__builtin_trap();
	return a < 0 ? -a : a;
}

int32_t __mulvsi3(int32_t a, int32_t b)
{
	int32_t r;
	if (__builtin_mul_overflow(a, b, &r))
		__builtin_trap();
	return r;
}

int32_t __addvsi3(int32_t a, int32_t b)
{
	int32_t r;
	if (__builtin_add_overflow(a, b, &r))
		__builtin_trap();
	return r;
}

int32_t __subvsi3(int32_t a, int32_t b)
{
	int32_t r;
	if (__builtin_sub_overflow(a, b, &r))
		__builtin_trap();
	return r;
}

int32_t __negvsi2(int32_t a)
{
	if (a == INT32_MIN)
		__builtin_trap();
	return -a;
}

int32_t __absvsi2(int32_t a)
{
	if (a == INT32_MIN)
		__builtin_trap();
	return a < 0 ? -a : a;
}

#pragma GCC visibility pop
