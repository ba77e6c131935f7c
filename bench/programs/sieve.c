/* sieve.c: count the primes below 100 000 (Eratosthenes) -> 9592. */
#include "nub_guest.h"

#define SIEVE_N 100000u
static uint8_t composite[SIEVE_N];

uint64_t bench_sieve(void)
{
	memset(composite, 0, sizeof composite);
	uint64_t count = 0;
	for (uint32_t i = 2; i < SIEVE_N; i++) {
		if (composite[i])
			continue;
		count++;
		for (uint32_t j = i * 2; j < SIEVE_N; j += i)
			composite[j] = 1;
	}
	return count;
}
NUB_EXPORT(0, bench_sieve);
