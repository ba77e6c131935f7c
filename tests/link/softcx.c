/* softcx.c: guest program for tests/test_link.c: the complex multiply and
 * divide helpers of sdk/lib/nub_softfp.c (__mulsc3, __muldc3, __divsc3,
 * __divdc3), by name and through C operators, over special values (zeros,
 * infinities, NaNs: C11 Annex G's recovery cases) and random operands,
 * folded into one hash. Natively the reference for multiplication is the C
 * operator (libgcc's helpers, the same Annex G algorithm, so bit for bit
 * equal); for division, which is not correctly rounded and whose algorithm
 * differs between runtimes, it is C11 G.5.1's example written out here over
 * the host's libm (logb, fmax, scalbn). NaN results count as one NaN. */
#include "nub_guest.h"

uint64_t softcx_main(void);

typedef float _Complex cf;
typedef double _Complex cd;

#if defined(__riscv)
cf __mulsc3(float a, float b, float c, float d);
cd __muldc3(double a, double b, double c, double d);
cf __divsc3(float a, float b, float c, float d);
cd __divdc3(double a, double b, double c, double d);
#define MULSC3 __mulsc3
#define MULDC3 __muldc3
#define DIVSC3 __divsc3
#define DIVDC3 __divdc3
#else
double logb(double);
float logbf(float);
double scalbn(double, int);
float scalbnf(float, int);
double fmax(double, double);
float fmaxf(float, float);
static cf MULSC3(float a, float b, float c, float d) { return __builtin_complex(a, b) * __builtin_complex(c, d); }
static cd MULDC3(double a, double b, double c, double d) { return __builtin_complex(a, b) * __builtin_complex(c, d); }
#define G52(T, LOGB, FMAX, SCALBN, ABS, INF)                                                         \
	{                                                                                            \
		int ilogbw = 0;                                                                      \
		T logbw = LOGB(FMAX(ABS(c), ABS(d)));                                                \
		if (__builtin_isfinite(logbw)) {                                                     \
			ilogbw = (int)logbw;                                                         \
			c = SCALBN(c, -ilogbw);                                                      \
			d = SCALBN(d, -ilogbw);                                                      \
		}                                                                                    \
		T denom = c * c + d * d;                                                             \
		T x = SCALBN((a * c + b * d) / denom, -ilogbw);                                      \
		T y = SCALBN((b * c - a * d) / denom, -ilogbw);                                      \
		if (x != x && y != y) {                                                              \
			if (denom == 0 && (a == a || b == b)) {                                      \
				x = __builtin_copysign(INF, c) * a;                                  \
				y = __builtin_copysign(INF, c) * b;                                  \
			} else if ((__builtin_isinf(a) || __builtin_isinf(b)) && __builtin_isfinite(c) && \
				   __builtin_isfinite(d)) {                                          \
				a = __builtin_copysign(__builtin_isinf(a) ? 1 : 0, a);               \
				b = __builtin_copysign(__builtin_isinf(b) ? 1 : 0, b);               \
				x = INF * (a * c + b * d);                                           \
				y = INF * (b * c - a * d);                                           \
			} else if (__builtin_isinf(logbw) && logbw > 0 && __builtin_isfinite(a) &&    \
				   __builtin_isfinite(b)) {                                          \
				c = __builtin_copysign(__builtin_isinf(c) ? 1 : 0, c);               \
				d = __builtin_copysign(__builtin_isinf(d) ? 1 : 0, d);               \
				x = 0 * (a * c + b * d);                                             \
				y = 0 * (b * c - a * d);                                             \
			}                                                                            \
		}                                                                                    \
		return __builtin_complex(x, y);                                                      \
	}
static cf DIVSC3(float a, float b, float c, float d) G52(float, logbf, fmaxf, scalbnf, __builtin_fabsf, __builtin_inff())
static cd DIVDC3(double a, double b, double c, double d) G52(double, logb, fmax, scalbn, __builtin_fabs, __builtin_inf())
#endif

static uint64_t h = 0x6c62272e07bb0142ull;

static void mix(uint64_t v)
{
	h = (h ^ v) * 0x100000001b3ull;
	h ^= h >> 29;
}

static void mixf(float f)
{
	union { float f; uint32_t u; } v = {.f = f};
	mix(f != f ? 0x7fc00000u : v.u);
}

static void mixd(double d)
{
	union { double d; uint64_t u; } v = {.d = d};
	mix(d != d ? 0x7ff8000000000000ull : v.u);
}

static uint64_t rng = 0x853c49e6748fea9bull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const double special[] = {0.0, -0.0, 1.0, -1.5, 3.0, 1e-310, -1e300, 1e300, __builtin_inf(), -__builtin_inf(),
				 __builtin_nan(""), 2.5e-320, 0x1p-1074, 0x1.fffffffffffffp+1023};
#define N_SPECIAL (sizeof special / sizeof special[0])

static double rand_d(void)
{
	uint64_t r = next(), x = next(), y = next();
	if (r % 4 == 0)
		return special[x % N_SPECIAL];
	double m = (double)(int64_t)(x >> 11) / (double)(1ull << 52);
	int e = (int)(y % 64) - 32;
	if (r % 4 == 1)
		e = (int)(y % 2000) - 1000;
	double p = 1.0;
	for (int i = 0; i < (e < 0 ? -e : e); i++)
		p *= 2.0;
	return e < 0 ? m / p : m * p;
}

static void quad(double a, double b, double c, double d)
{
	cd z = __builtin_complex(a, b), w = __builtin_complex(c, d), r;
	r = MULDC3(a, b, c, d);
	mixd(__real__ r), mixd(__imag__ r);
	r = z * w;
	mixd(__real__ r), mixd(__imag__ r);
	r = DIVDC3(a, b, c, d);
	mixd(__real__ r), mixd(__imag__ r);
#if defined(__riscv)
	r = z / w; /* natively: libgcc's algorithm, not the reference */
#else
	r = DIVDC3(a, b, c, d);
#endif
	mixd(__real__ r), mixd(__imag__ r);
	float fa = (float)a, fb = (float)b, fc = (float)c, fd = (float)d;
	cf zf = __builtin_complex(fa, fb), wf = __builtin_complex(fc, fd), rf;
	rf = MULSC3(fa, fb, fc, fd);
	mixf(__real__ rf), mixf(__imag__ rf);
	rf = zf * wf;
	mixf(__real__ rf), mixf(__imag__ rf);
	rf = DIVSC3(fa, fb, fc, fd);
	mixf(__real__ rf), mixf(__imag__ rf);
}

uint64_t softcx_main(void)
{
	for (unsigned i = 0; i < N_SPECIAL; i++)
		for (unsigned j = 0; j < N_SPECIAL; j++) {
			quad(special[i], special[j], special[(i + 3) % N_SPECIAL], special[(j + 5) % N_SPECIAL]);
			quad(special[i], 1.0, special[j], -2.0);
			quad(0.5, special[i], -3.0, special[j]);
		}
	for (int k = 0; k < 3000; k++) {
		double a = rand_d();
		double b = rand_d();
		double c = rand_d();
		double d = rand_d();
		quad(a, b, c, d);
	}
	return h;
}

NUB_EXPORT(0, softcx_main);
