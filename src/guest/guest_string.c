/* guest_string.c: the guest's memcpy/memmove/memset/memcmp/strlen, and the
 * libgcc bit-count helpers gcc may call (no libc, no libgcc in the guest). */
#include "guest/guest.h"

void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
	uint8_t *dp = d;
	const uint8_t *sp = s;
	__asm__ volatile("rep movsb" : "+D"(dp), "+S"(sp), "+c"(n) : : "memory");
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	uint8_t *dp = d;
	const uint8_t *sp = s;
	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

void *memset(void *d, int c, size_t n)
{
	uint8_t *dp = d;
	__asm__ volatile("rep stosb" : "+D"(dp), "+c"(n) : "a"(c) : "memory");
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* gcc lowers __builtin_popcount* to these without -mpopcnt. */
int __popcountdi2(long long a);
int __popcountsi2(int a);
int __popcountdi2(long long a)
{
	unsigned long long x = (unsigned long long)a;
	int n = 0;
	for (; x; x &= x - 1)
		n++;
	return n;
}
int __popcountsi2(int a)
{
	return __popcountdi2((long long)(unsigned)a);
}
