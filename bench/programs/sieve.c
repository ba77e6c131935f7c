/* sieve.c: count the primes below 100 000 (Eratosthenes) -> 9592. With size
 * argument n (bench_arg.h): sieve n times, run r below 100 000 - r, and
 * return the sum of the counts. */
#include "bench_arg.h"
#include "nub_guest.h"

#define SIEVE_N 100000u
static uint8_t composite[SIEVE_N];

static uint64_t sieve_count(uint32_t lim)
{
	memset(composite, 0, sizeof composite);
	uint64_t count = 0;
	for (uint32_t i = 2; i < lim; i++) {
		if (composite[i])
			continue;
		count++;
		for (uint32_t j = i * 2; j < lim; j += i)
			composite[j] = 1;
	}
	return count;
}

uint64_t bench_sieve(uint64_t argp, uint64_t argl)
{
	uint32_t n = bench_arg_n(argp, argl);
	uint64_t sum = 0;
	for (uint32_t r = 0; r < n; r++)
		sum += sieve_count(SIEVE_N - r % (SIEVE_N / 2));
	return sum;
}
NUB_EXPORT(0, bench_sieve);
