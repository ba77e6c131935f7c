/* platform_libc.c: the engine's platform interface on the host's libc.
 *
 * PVM pages come from a pool of mmap'd arenas, not from malloc: an arena is
 * ARENA_SIZE bytes aligned to its size, its first page holds its header
 * (the list links and a stack of free page indices), the other pages are
 * handed out one by one. A page therefore costs one page (malloc's
 * posix_memalign(4096, 4096) cost two), and an arena whose pages all came
 * back is unmapped at once, so the memory of an instance goes back to the
 * OS when the instance ends. One spare empty arena is kept to avoid mapping
 * and unmapping on every small invocation.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "cap/cap_set.h"
#include "pvm/pvm_platform.h"

void *pvm_plat_alloc(size_t size)
{
	return calloc(1, size ? size : 1);
}

void pvm_plat_free(void *p, size_t size)
{
	(void)size;
	free(p);
}

#define PAGE 4096u
#define ARENA_SIZE ((size_t)1 << 20)
#define ARENA_PAGES ((uint32_t)(ARENA_SIZE / PAGE)) /* page 0 is the header */

typedef struct arena {
	struct arena *prev, *next; /* in the list of arenas with a free page */
	uint32_t used;             /* pages handed out */
	uint32_t fresh;            /* pages [fresh, ARENA_PAGES) were never handed out (zero) */
	uint32_t n_free;           /* entries of free_idx: pages given back (dirty) */
	uint16_t free_idx[ARENA_PAGES];
} arena;

_Static_assert(sizeof(arena) <= PAGE, "the arena header fits its first page");

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static arena *partial; /* arenas with at least one free page */
static arena *spare;   /* one empty arena kept mapped (not in `partial`) */

static void list_del(arena *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else
		partial = a->next;
	if (a->next)
		a->next->prev = a->prev;
	a->prev = a->next = NULL;
}

static void list_add(arena *a)
{
	a->prev = NULL;
	a->next = partial;
	if (partial)
		partial->prev = a;
	partial = a;
}

/* A fresh arena, aligned to its size (map twice the size, trim). */
static arena *arena_map(void)
{
	uint8_t *p = mmap(NULL, 2 * ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	                  -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uintptr_t base = ((uintptr_t)p + ARENA_SIZE - 1) & ~(uintptr_t)(ARENA_SIZE - 1);
	size_t head = base - (uintptr_t)p, tail = ARENA_SIZE - head;
	if (head)
		munmap(p, head);
	if (tail)
		munmap((uint8_t *)base + ARENA_SIZE, tail);
	arena *a = (arena *)base;
	a->fresh = 1;
	return a;
}

void *pvm_plat_page_alloc(void)
{
	pthread_mutex_lock(&pool_lock);
	arena *a = partial;
	if (!a) {
		if (spare) {
			a = spare;
			spare = NULL;
		} else if (!(a = arena_map())) {
			pthread_mutex_unlock(&pool_lock);
			return NULL;
		}
		list_add(a);
	}
	uint32_t i;
	bool dirty = a->n_free > 0;
	if (dirty)
		i = a->free_idx[--a->n_free];
	else
		i = a->fresh++;
	if (++a->used == ARENA_PAGES - 1)
		list_del(a);
	pthread_mutex_unlock(&pool_lock);
	uint8_t *pg = (uint8_t *)a + (size_t)i * PAGE;
	if (dirty)
		memset(pg, 0, PAGE);
	return pg;
}

void pvm_plat_page_free(void *page)
{
	if (!page)
		return;
	arena *a = (arena *)((uintptr_t)page & ~(uintptr_t)(ARENA_SIZE - 1));
	uint32_t i = (uint32_t)(((uintptr_t)page - (uintptr_t)a) / PAGE);
	arena *unmap = NULL;
	pthread_mutex_lock(&pool_lock);
	if (a->used-- == ARENA_PAGES - 1)
		list_add(a); /* it was full */
	a->free_idx[a->n_free++] = (uint16_t)i;
	if (a->used == 0) {
		list_del(a);
		if (spare) {
			unmap = a;
		} else {
			/* keep it, reset to fresh: its dirty pages go back to the OS */
			madvise((uint8_t *)a + PAGE, ARENA_SIZE - PAGE, MADV_DONTNEED);
			a->n_free = 0;
			a->fresh = 1;
			spare = a;
		}
	}
	pthread_mutex_unlock(&pool_lock);
	if (unmap)
		munmap(unmap, ARENA_SIZE);
}

void cap_set_seed(uint64_t seed[2], const void *salt)
{
	if (getrandom(seed, 2 * sizeof seed[0], GRND_NONBLOCK) != (ssize_t)(2 * sizeof seed[0])) {
		/* no entropy yet: a weaker but still per-set seed */
		seed[0] = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)salt;
		seed[1] = (uint64_t)clock() * 0x9E3779B97F4A7C15ull;
	}
}
