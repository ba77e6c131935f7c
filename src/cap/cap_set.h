/* cap_set.h: the host side's set of published caps (hash -> encoding), in
 * publication order. Freestanding.
 *
 * One set serves both host backends: the local backend keeps its published
 * caps in it (aux = the invocation core's cap_entry), the kvm backend keeps
 * the encodings it sent to the guest (to skip re-sending, and to replay them
 * in order into a rebuilt VM). Entries are never removed.
 *
 * Memory is one block (index + entries) from the caller's allocator, so a
 * budgeted caller counts exactly one allocation for the set; it is replaced
 * by a block twice the size when half full. The hash is BLAKE2b output of
 * outside content: a per-set secret multiply-xor mix (seed) picks the index
 * slot, so nobody can grind caps into one long probe chain.
 * Not thread-safe: callers lock.
 */
#ifndef NUB_CAP_SET_H
#define NUB_CAP_SET_H

#include <stddef.h>
#include <stdint.h>

#include "nub/abi.h"

typedef struct cap_set_item {
	uint8_t hash[NUB_CAP_HASH_LEN];
	const uint8_t *bytes; /* the encoding (owned by the caller) */
	size_t len;
	void *aux;            /* the caller's */
} cap_set_item;

/* Zero-filled memory of `size` bytes, or NULL (the set then reports err). */
typedef void *(*cap_set_alloc_fn)(void *ctx, size_t size, nub_err *err);
typedef void (*cap_set_free_fn)(void *ctx, void *p, size_t size);

typedef struct cap_set {
	void *block;          /* index (capacity x u32: item + 1, 0 = empty), then capacity/2 items */
	size_t capacity;      /* index slots, a power of two */
	size_t count;
	uint64_t seed_xor, seed_mul;
	cap_set_alloc_fn alloc;
	cap_set_free_fn free;
	void *ctx;
} cap_set;

/* Two secret words for a set's seed, from the host's entropy (hosted: in
 * src/local/platform_libc.c; falls back to clock and address bits when the
 * kernel has no entropy yet). */
void cap_set_seed(uint64_t seed[2], const void *salt);
/* Allocates the first block (64 slots). seed: two secret words. */
nub_err cap_set_init(cap_set *s, const uint64_t seed[2], cap_set_alloc_fn alloc, cap_set_free_fn free_fn, void *ctx);
/* Frees the block (not the encodings nor aux). */
void cap_set_free(cap_set *s);
cap_set_item *cap_set_find(const cap_set *s, const uint8_t hash[NUB_CAP_HASH_LEN]);
/* Add (precondition: hash absent). Items may move: *out is valid until the
 * next add. */
nub_err cap_set_add(cap_set *s, const uint8_t hash[NUB_CAP_HASH_LEN], const uint8_t *bytes, size_t len, void *aux,
                    cap_set_item **out);
/* Item i in publication order, i < count (valid until the next add). */
cap_set_item *cap_set_at(const cap_set *s, size_t i);

#endif
