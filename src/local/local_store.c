/* local_store.c: the local cap directory, with counted allocations. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "local/local_store.h"

#define LOCAL_STORE_MIN_CAPACITY 64u

static void *store_alloc(local_store *s, size_t n)
{
	if (n > s->budget - s->allocated_bytes)
		return NULL;
	void *p = calloc(1, n);
	if (p) {
		s->allocated_bytes += n;
		s->allocation_count++;
	}
	return p;
}

static void store_release(local_store *s, void *p, size_t n)
{
	free(p);
	s->allocated_bytes -= n;
	s->allocation_count--;
}

nub_err local_store_init(local_store *s, uint64_t budget)
{
	memset(s, 0, sizeof *s);
	s->budget = budget;
	uint64_t seed[2];
	if (getrandom(seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
		/* No entropy yet: a weaker but still per-store seed. */
		seed[0] = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)s;
		seed[1] = (uint64_t)clock() * 0x9E3779B97F4A7C15ull;
	}
	s->seed_xor = seed[0];
	s->seed_mul = seed[1] | 1;
	s->capacity = LOCAL_STORE_MIN_CAPACITY;
	s->table = store_alloc(s, s->capacity * sizeof *s->table);
	return s->table ? NUB_E_OK : NUB_E_NOMEM;
}

void local_store_free(local_store *s)
{
	if (!s->table)
		return;
	for (size_t i = 0; i < s->capacity; i++)
		if (s->table[i])
			store_release(s, s->table[i], sizeof(local_cap) + s->table[i]->len);
	store_release(s, s->table, s->capacity * sizeof *s->table);
	s->table = NULL;
}

/* The hash is BLAKE2b output, but its content comes from outside (service
 * code): someone could grind caps whose hashes share low bits to lengthen
 * probe chains. A secret per-store multiply-xor mix, taking the top bits,
 * makes such collisions unpredictable. */
static size_t slot_of(const local_store *s, const uint8_t *hash, size_t capacity)
{
	uint64_t h;
	memcpy(&h, hash, sizeof h);
	h = (h ^ s->seed_xor) * s->seed_mul;
	unsigned bits = (unsigned)__builtin_ctzll((unsigned long long)capacity);
	return (size_t)(h >> (64 - bits));
}

local_cap *local_store_get(const local_store *s, const uint8_t hash[NUB_CAP_HASH_LEN])
{
	for (size_t i = slot_of(s, hash, s->capacity);; i = (i + 1) & (s->capacity - 1)) {
		local_cap *c = s->table[i];
		if (!c)
			return NULL;
		if (memcmp(c->hash, hash, NUB_CAP_HASH_LEN) == 0)
			return c;
	}
}

static void insert_slot(const local_store *s, local_cap **table, size_t capacity, local_cap *c)
{
	size_t i = slot_of(s, c->hash, capacity);
	while (table[i])
		i = (i + 1) & (capacity - 1);
	table[i] = c;
}

static nub_err grow(local_store *s)
{
	size_t ncap = s->capacity * 2;
	local_cap **nt = store_alloc(s, ncap * sizeof *nt);
	if (!nt)
		return s->allocated_bytes + ncap * sizeof *nt > s->budget ? NUB_E_STORE_FULL : NUB_E_NOMEM;
	for (size_t i = 0; i < s->capacity; i++)
		if (s->table[i])
			insert_slot(s, nt, ncap, s->table[i]);
	store_release(s, s->table, s->capacity * sizeof *s->table);
	s->table = nt;
	s->capacity = ncap;
	return NUB_E_OK;
}

nub_err local_store_put(local_store *s, const uint8_t hash[NUB_CAP_HASH_LEN], const uint8_t *bytes,
                        size_t len, local_cap **out)
{
	/* Keep the load factor at most 1/2 so probes stay short. */
	if ((s->count + 1) * 2 > s->capacity) {
		nub_err e = grow(s);
		if (e)
			return e;
	}
	if (len > SIZE_MAX - sizeof(local_cap))
		return NUB_E_STORE_FULL;
	size_t n = sizeof(local_cap) + len;
	local_cap *c = store_alloc(s, n);
	if (!c)
		return n > s->budget - s->allocated_bytes ? NUB_E_STORE_FULL : NUB_E_NOMEM;
	memcpy(c->hash, hash, NUB_CAP_HASH_LEN);
	memcpy(c->bytes, bytes, len);
	c->len = len;
	nub_err e = cap_decode(c->bytes, len, &c->view);
	if (e) { /* precondition broken: never store what does not decode */
		store_release(s, c, n);
		return e;
	}
	insert_slot(s, s->table, s->capacity, c);
	s->count++;
	*out = c;
	return NUB_E_OK;
}
