/* goldilocks.c: 100 000 chained multiplications in the Goldilocks field
 * p = 2^64 - 2^32 + 1: x <- x * c mod p. Returns the final x. With size
 * argument n (bench_arg.h): n * 100 000 multiplications. */
#include "bench_arg.h"
#include "nub_guest.h"

#define GL_P 0xffffffff00000001ull

/* Reduce a 128-bit product hi:lo modulo p, using 2^64 = 2^32 - 1 and
 * 2^96 = -1 (mod p). */
static uint64_t gl_reduce(uint64_t lo, uint64_t hi)
{
	uint64_t hi_hi = hi >> 32, hi_lo = hi & 0xffffffffull;
	uint64_t t = lo - hi_hi;
	if (lo < hi_hi) /* borrow: add p back (t - 2^64 + p = t - (2^32 - 1)) */
		t -= 0xffffffffull;
	uint64_t m = hi_lo * 0xffffffffull; /* hi_lo * (2^32 - 1) < 2^64 */
	uint64_t r = t + m;
	if (r < m) /* carry: 2^64 = 2^32 - 1 */
		r += 0xffffffffull;
	if (r >= GL_P)
		r -= GL_P;
	return r;
}

uint64_t gl_mul(uint64_t a, uint64_t b);
uint64_t gl_mul(uint64_t a, uint64_t b)
{
	unsigned __int128 p = (unsigned __int128)a * b;
	return gl_reduce((uint64_t)p, (uint64_t)(p >> 64));
}

uint64_t bench_goldilocks(uint64_t argp, uint64_t argl)
{
	uint64_t x = 0x123456789abcdefull, c = 0xfedcba9876543210ull % GL_P;
	uint64_t iters = 100000ull * bench_arg_n(argp, argl);
	for (uint64_t i = 0; i < iters; i++)
		x = gl_mul(x, c);
	return x;
}
NUB_EXPORT(0, bench_goldilocks);
