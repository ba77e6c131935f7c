/* runtime.c: guest program for tests/test_link.c: every compiler-runtime
 * helper of sdk/lib/nub_rt.c over edge cases (0, 1, -1, the minimum and
 * maximum of each width, 2^64 - 1, 2^64, 2^63) and pseudo-random values,
 * folded into one hash. Built natively too, where the same calls go to
 * libgcc (or, for helpers libgcc lacks, the compiler's own inline code): the
 * hashes must be equal. Division by zero and overflowing *v* operations are
 * left out (undefined / trapping). */
#include "nub_guest.h"
#include "../../sdk/lib/nub_rt.h"

uint64_t rt_main(void);

/* helpers compiler-rt has and libgcc lacks: natively, the builtin */
#if defined(__riscv)
#define MULO64(a, b, o) __mulodi4(a, b, o)
#define MULO32(a, b, o) __mulosi4(a, b, o)
#define MULO128(a, b, o) __muloti4(a, b, o)
#define DIVMOD(a, b, r) __divmodti4(a, b, r)
#else
static int64_t mulo64(int64_t a, int64_t b, int *o)
{
	int64_t r;
	*o = __builtin_mul_overflow(a, b, &r);
	return r;
}
static int32_t mulo32(int32_t a, int32_t b, int *o)
{
	int32_t r;
	*o = __builtin_mul_overflow(a, b, &r);
	return r;
}
static ti mulo128(ti a, ti b, int *o)
{
	ti r;
	*o = __builtin_mul_overflow(a, b, &r);
	return r;
}
static ti divmod(ti a, ti b, ti *r)
{
	*r = a % b;
	return a / b;
}
#define MULO64(a, b, o) mulo64(a, b, o)
#define MULO32(a, b, o) mulo32(a, b, o)
#define MULO128(a, b, o) mulo128(a, b, o)
#define DIVMOD(a, b, r) divmod(a, b, r)
#endif

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

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define N_EDGE 14
static uti edge(int i)
{
	const uti one = 1;
	switch (i) {
	case 0: return 0;
	case 1: return 1;
	case 2: return ~(uti)0;                 /* -1 */
	case 3: return one << 127;              /* INT128_MIN */
	case 4: return (one << 127) - 1;        /* INT128_MAX */
	case 5: return (uint64_t)-1;            /* 2^64 - 1 */
	case 6: return one << 64;
	case 7: return one << 63;
	case 8: return (uti)(ti)INT64_MIN;
	case 9: return 2;
	case 10: return 10;
	case 11: return ((uti)0x123456789abcdefull << 64) | 0xfedcba9876543210ull;
	case 12: return (uti)(ti)-7;
	default: return (one << 100) + 12345;
	}
}

static volatile int shift_sink;

static void pair(uti ua, uti ub)
{
	ti a = (ti)ua, b = (ti)ub;
	const ti tmin = (ti)((uti)1 << 127);
	int o = 0;
	mix128(ua * ub);
	mix128((uti)__multi3(a, b));
	mix((uint64_t)__cmpti2(a, b) | (uint64_t)__ucmpti2(ua, ub) << 8);
	mix128((uti)MULO128(a, b, &o));
	mix((uint64_t)o);
	if (!o)
		mix128((uti)__mulvti3(a, b));
	if (ub != 0) {
		uti r = 0;
		mix128(ua / ub);
		mix128(ua % ub);
		mix128(__udivti3(ua, ub));
		mix128(__umodti3(ua, ub));
		mix128(__udivmodti4(ua, ub, &r));
		mix128(r);
		if (!(a == tmin && b == -1)) {
			ti sr = 0;
			mix128((uti)(a / b));
			mix128((uti)(a % b));
			mix128((uti)__divti3(a, b));
			mix128((uti)__modti3(a, b));
			mix128((uti)DIVMOD(a, b, &sr));
			mix128((uti)sr);
		}
	}
	/* the *v* helpers where they do not overflow */
	if (!((b > 0 && a > (ti)(((uti)1 << 127) - 1) - b) || (b < 0 && a < tmin - b)))
		mix128((uti)__addvti3(a, b));
	if (!((b < 0 && a > (ti)(((uti)1 << 127) - 1) + b) || (b > 0 && a < tmin + b)))
		mix128((uti)__subvti3(a, b));
	int64_t a64 = (int64_t)ua, b64 = (int64_t)ub;
	int32_t a32 = (int32_t)ua, b32 = (int32_t)ub;
	mix((uint64_t)MULO64(a64, b64, &o));
	mix((uint64_t)o);
	if (!o)
		mix((uint64_t)__mulvdi3(a64, b64));
	mix((uint64_t)(uint32_t)MULO32(a32, b32, &o));
	mix((uint64_t)o);
	/* shifts by a count the compiler cannot see */
	int s = (int)(ub & 127);
	shift_sink = s;
	s = shift_sink;
	mix128(ua << s);
	mix128(ua >> s);
	mix128((uti)(a >> s));
	mix128((uti)__ashlti3(a, s));
	mix128((uti)__ashrti3(a, s));
	mix128((uti)__lshrti3(a, s));
}

static void single(uti ua)
{
	ti a = (ti)ua;
	int64_t a64 = (int64_t)ua;
	mix128((uti)__negti2(a));
	mix128((uti)-a);
	if (ua != (uti)1 << 127) {
		mix128((uti)__negvti2(a));
		mix128((uti)__absvti2(a));
	}
	if (ua != 0) {
		mix((uint64_t)__clzti2(a));
		mix((uint64_t)__ctzti2(a));
	}
	mix((uint64_t)__ffsti2(a) | (uint64_t)__popcountti2(a) << 8 | (uint64_t)__parityti2(a) << 16);
	if (a64 != 0) {
		mix((uint64_t)__clzdi2(a64));
		mix((uint64_t)__ctzdi2(a64));
	}
	if (a64 != INT64_MIN)
		mix((uint64_t)__absvdi2(a64));
	mix((uint64_t)__ffsdi2(a64) | (uint64_t)__popcountdi2(a64) << 8 | (uint64_t)__paritydi2(a64) << 16);
	mix((uint64_t)__bswapdi2(a64));
	mix((uint64_t)(uint32_t)__bswapsi2((int32_t)a64));
}

uint64_t rt_main(void)
{
	for (int i = 0; i < N_EDGE; i++) {
		single(edge(i));
		for (int j = 0; j < N_EDGE; j++)
			pair(edge(i), edge(j));
	}
	for (int k = 0; k < 300; k++) {
		uti x = ((uti)next() << 64) | next(), y = ((uti)next() << 64) | next();
		/* vary the magnitudes: the division paths depend on them */
		if (k % 3 == 1)
			y >>= next() % 128;
		if (k % 5 == 2)
			x >>= next() % 128;
		single(x);
		pair(x, y);
		pair(y, x);
	}
	return h;
}

NUB_EXPORT(0, rt_main);
