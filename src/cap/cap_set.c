/* cap_set.c: the host side's set of published caps, in publication order. */
#include <stdbool.h>

#include "cap/cap_set.h"

#define CAP_SET_MIN_CAPACITY 64u

static uint32_t *index_of(const cap_set *s)
{
	return s->block;
}

static cap_set_item *items_of(const cap_set *s, size_t capacity)
{
	return (cap_set_item *)((uint8_t *)s->block + capacity * sizeof(uint32_t));
}

static size_t block_size(size_t capacity)
{
	return capacity * sizeof(uint32_t) + capacity / 2 * sizeof(cap_set_item);
}

/* (no memcmp: the freestanding build references memcpy/memset only) */
static bool hash_eq(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;
	for (unsigned i = 0; i < NUB_CAP_HASH_LEN; i++)
		d |= (uint8_t)(a[i] ^ b[i]);
	return d == 0;
}

static size_t slot_of(const cap_set *s, const uint8_t *hash, size_t capacity)
{
	uint64_t h;
	__builtin_memcpy(&h, hash, sizeof h);
	h = (h ^ s->seed_xor) * s->seed_mul;
	unsigned bits = (unsigned)__builtin_ctzll((unsigned long long)capacity);
	return (size_t)(h >> (64 - bits));
}

nub_err cap_set_init(cap_set *s, const uint64_t seed[2], cap_set_alloc_fn alloc, cap_set_free_fn free_fn, void *ctx)
{
	__builtin_memset(s, 0, sizeof *s);
	s->seed_xor = seed[0];
	s->seed_mul = seed[1] | 1;
	s->alloc = alloc;
	s->free = free_fn;
	s->ctx = ctx;
	nub_err e = NUB_E_NOMEM;
	if (!(s->block = alloc(ctx, block_size(CAP_SET_MIN_CAPACITY), &e)))
		return e;
	s->capacity = CAP_SET_MIN_CAPACITY;
	return NUB_E_OK;
}

void cap_set_free(cap_set *s)
{
	if (s->block)
		s->free(s->ctx, s->block, block_size(s->capacity));
	s->block = 0;
}

cap_set_item *cap_set_find(const cap_set *s, const uint8_t hash[NUB_CAP_HASH_LEN])
{
	const uint32_t *ix = index_of(s);
	cap_set_item *items = items_of(s, s->capacity);
	for (size_t i = slot_of(s, hash, s->capacity);; i = (i + 1) & (s->capacity - 1)) {
		if (!ix[i])
			return 0;
		cap_set_item *it = &items[ix[i] - 1];
		if (hash_eq(it->hash, hash))
			return it;
	}
}

static void index_put(const cap_set *s, uint32_t *ix, size_t capacity, const uint8_t *hash, uint32_t v)
{
	size_t i = slot_of(s, hash, capacity);
	while (ix[i])
		i = (i + 1) & (capacity - 1);
	ix[i] = v;
}

static nub_err grow(cap_set *s)
{
	size_t ncap = s->capacity * 2;
	nub_err e = NUB_E_NOMEM;
	if (ncap > UINT32_MAX)
		return NUB_E_STORE_FULL;
	void *nb = s->alloc(s->ctx, block_size(ncap), &e);
	if (!nb)
		return e;
	cap_set_item *old = items_of(s, s->capacity);
	void *ob = s->block;
	size_t ocap = s->capacity;
	s->block = nb;
	cap_set_item *items = items_of(s, ncap);
	__builtin_memcpy(items, old, s->count * sizeof *items);
	for (size_t j = 0; j < s->count; j++)
		index_put(s, index_of(s), ncap, items[j].hash, (uint32_t)(j + 1));
	s->capacity = ncap;
	s->free(s->ctx, ob, block_size(ocap));
	return NUB_E_OK;
}

nub_err cap_set_add(cap_set *s, const uint8_t hash[NUB_CAP_HASH_LEN], const uint8_t *bytes, size_t len, void *aux,
                    cap_set_item **out)
{
	/* keep the load factor at most 1/2: short probes, and room for items */
	if ((s->count + 1) * 2 > s->capacity) {
		nub_err e = grow(s);
		if (e)
			return e;
	}
	cap_set_item *it = &items_of(s, s->capacity)[s->count];
	__builtin_memcpy(it->hash, hash, NUB_CAP_HASH_LEN);
	it->bytes = bytes;
	it->len = len;
	it->aux = aux;
	index_put(s, index_of(s), s->capacity, hash, (uint32_t)++s->count);
	if (out)
		*out = it;
	return NUB_E_OK;
}

cap_set_item *cap_set_at(const cap_set *s, size_t i)
{
	return &items_of(s, s->capacity)[i];
}
