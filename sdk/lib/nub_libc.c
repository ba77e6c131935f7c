/* nub_libc.c: freestanding memcpy/memmove/memset/memcmp and a small
 * allocator for nub guest programs. Compiled with -fno-builtin so the
 * compiler does not turn these loops into calls to themselves. */
#include "nub_guest.h"

#if defined(__riscv) /* native builds use the host libc's */
void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if ((((uintptr_t)d | (uintptr_t)s) & 7) == 0) {
		for (; n >= 8; n -= 8, d += 8, s += 8)
			*(uint64_t *)(void *)d = *(const uint64_t *)(const void *)s;
	}
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d == s || n == 0)
		return dst;
	if (d < s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	uint64_t v = (unsigned char)c;
	v |= v << 8;
	v |= v << 16;
	v |= v << 32;
	while (n && ((uintptr_t)d & 7)) {
		*d++ = (unsigned char)c;
		n--;
	}
	for (; n >= 8; n -= 8, d += 8)
		*(uint64_t *)(void *)d = v;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

#endif

#ifndef NUB_HEAP_SIZE
#define NUB_HEAP_SIZE (1u << 20)
#endif

/* Block header: size of the block including the header; free flag. */
typedef struct blk {
	size_t size;
	size_t free;
} blk;

static _Alignas(16) unsigned char nub_heap[NUB_HEAP_SIZE];
static size_t nub_heap_used;

void *nub_malloc(size_t n)
{
	if (n == 0 || n > NUB_HEAP_SIZE)
		return NULL;
	size_t need = ((n + 15) & ~(size_t)15) + sizeof(blk);
	need = (need + 15) & ~(size_t)15;
	/* first fit over the blocks carved so far */
	for (size_t off = 0; off < nub_heap_used;) {
		blk *b = (blk *)(void *)(nub_heap + off);
		if (b->free && b->size >= need) {
			if (b->size - need >= 64) { /* split */
				blk *rest = (blk *)(void *)(nub_heap + off + need);
				rest->size = b->size - need;
				rest->free = 1;
				b->size = need;
			}
			b->free = 0;
			return b + 1;
		}
		off += b->size;
	}
	if (need > NUB_HEAP_SIZE - nub_heap_used)
		return NULL;
	blk *b = (blk *)(void *)(nub_heap + nub_heap_used);
	b->size = need;
	b->free = 0;
	nub_heap_used += need;
	return b + 1;
}

void nub_free(void *p)
{
	if (!p)
		return;
	blk *b = (blk *)p - 1;
	b->free = 1;
	/* coalesce with following free blocks */
	unsigned char *end = nub_heap + nub_heap_used;
	blk *n = (blk *)(void *)((unsigned char *)b + b->size);
	while ((unsigned char *)n < end && n->free) {
		b->size += n->size;
		n = (blk *)(void *)((unsigned char *)b + b->size);
	}
}
