/* sort.c: memory-bound: quicksort 1 MiB (131 072 u64 from xorshift64) with
 * recursion and an insertion-sort cutoff; verifies the order and returns a
 * position-weighted checksum (0 if the result is not sorted). With size
 * argument n (bench_arg.h): n sorts, run r from the seed + r * 0x9e3779b97f4a7c15;
 * the sum of the checksums (0 if any result is not sorted). */
#include "bench_arg.h"
#include "nub_guest.h"

#define SORT_N (1u << 17)
static uint64_t sort_a[SORT_N];

static void sort_insertion(uint64_t *a, long n)
{
	for (long i = 1; i < n; i++) {
		uint64_t v = a[i];
		long j = i - 1;
		while (j >= 0 && a[j] > v) {
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = v;
	}
}

static void sort_quick(uint64_t *a, long n)
{
	while (n > 16) {
		uint64_t x = a[0], y = a[n / 2], z = a[n - 1];
		uint64_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
		long i = 0, j = n - 1;
		for (;;) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i >= j)
				break;
			uint64_t t = a[i];
			a[i] = a[j];
			a[j] = t;
			i++;
			j--;
		}
		/* recurse into the smaller half, loop on the larger */
		if (j + 1 < n - j - 1) {
			sort_quick(a, j + 1);
			a += j + 1;
			n -= j + 1;
		} else {
			sort_quick(a + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	sort_insertion(a, n);
}

static uint64_t sort_once(uint64_t s)
{
	for (uint32_t i = 0; i < SORT_N; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		sort_a[i] = s;
	}
	sort_quick(sort_a, SORT_N);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < SORT_N; i++) {
		if (i && sort_a[i - 1] > sort_a[i])
			return 0;
		sum += sort_a[i] * (i + 1);
	}
	return sum;
}

uint64_t bench_sort(uint64_t argp, uint64_t argl)
{
	uint32_t n = bench_arg_n(argp, argl);
	uint64_t total = 0;
	for (uint32_t r = 0; r < n; r++) {
		uint64_t c = sort_once(0x2545f4914f6cdd1dull + r * 0x9e3779b97f4a7c15ull);
		if (c == 0)
			return 0;
		total += c;
	}
	return total;
}
NUB_EXPORT(0, bench_sort);
