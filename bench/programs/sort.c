/* sort.c: memory-bound: quicksort 1 MiB (131 072 u64 from xorshift64) with
 * recursion and an insertion-sort cutoff; verifies the order and returns a
 * position-weighted checksum (0 if the result is not sorted). */
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

uint64_t bench_sort(void)
{
	uint64_t s = 0x2545f4914f6cdd1dull;
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
NUB_EXPORT(0, bench_sort);
