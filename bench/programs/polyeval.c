/* polyeval.c: evaluate a degree-4095 polynomial (pseudo-random coefficients
 * in the Goldilocks field) at 64 points with Horner's rule; returns the sum
 * of the 64 values mod p. With size argument n (bench_arg.h): at 64 * n
 * points. */
#include "bench_arg.h"
#include "nub_guest.h"

#define PE_P 0xffffffff00000001ull
#define PE_DEG 4095

static uint64_t pe_reduce(uint64_t lo, uint64_t hi)
{
	uint64_t hi_hi = hi >> 32, hi_lo = hi & 0xffffffffull;
	uint64_t t = lo - hi_hi;
	if (lo < hi_hi)
		t -= 0xffffffffull;
	uint64_t m = hi_lo * 0xffffffffull;
	uint64_t r = t + m;
	if (r < m)
		r += 0xffffffffull;
	if (r >= PE_P)
		r -= PE_P;
	return r;
}

static uint64_t pe_add(uint64_t a, uint64_t b)
{
	uint64_t r = a + b;
	if (r < a)
		r += 0xffffffffull;
	if (r >= PE_P)
		r -= PE_P;
	return r;
}

static uint64_t pe_coef[PE_DEG + 1];

uint64_t bench_polyeval(uint64_t argp, uint64_t argl)
{
	uint64_t s = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i <= PE_DEG; i++) { /* xorshift64 */
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		pe_coef[i] = s % PE_P;
	}
	uint64_t sum = 0;
	uint64_t pts = 64ull * bench_arg_n(argp, argl);
	for (uint64_t pt = 1; pt <= pts; pt++) {
		uint64_t x = pt * 0x1000193ull + 7, acc = 0;
		for (int i = PE_DEG; i >= 0; i--) {
			unsigned __int128 p = (unsigned __int128)acc * x;
			acc = pe_add(pe_reduce((uint64_t)p, (uint64_t)(p >> 64)), pe_coef[i]);
		}
		sum = pe_add(sum, acc);
	}
	return sum;
}
NUB_EXPORT(0, bench_polyeval);
