/* local_store.h: the local backend's cap directory (hash -> validated cap).
 *
 * An open-addressing hash table keyed by CapHash. Entries are immutable once
 * inserted and live until local_store_free; every allocation is counted
 * against a byte budget (nub_options.memory_bytes), which HEAP_STATS reports.
 * Not thread-safe: the backend serialises calls with its mutex.
 */
#ifndef NUB_LOCAL_STORE_H
#define NUB_LOCAL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "cap/cap.h"

struct local_prog;

typedef struct local_cap {
	uint8_t hash[NUB_CAP_HASH_LEN];
	cap_view view;             /* points into bytes */
	struct local_prog *prog;   /* Image only: cached decoded program, or NULL */
	size_t len;
	uint8_t bytes[];           /* the encoding */
} local_cap;

typedef struct local_store {
	local_cap **table;  /* capacity slots, NULL = empty */
	size_t capacity;    /* power of two */
	size_t count;
	uint64_t seed_xor, seed_mul; /* per-store secret index mixing (odd multiplier) */
	uint64_t budget;
	uint64_t allocated_bytes;
	uint64_t allocation_count;
} local_store;

nub_err local_store_init(local_store *s, uint64_t budget);
void local_store_free(local_store *s);
local_cap *local_store_get(const local_store *s, const uint8_t hash[NUB_CAP_HASH_LEN]);
/* Copy bytes into a new entry (decoded again to point into the copy) and
 * insert it. Precondition: the hash is not present; bytes decode. */
nub_err local_store_put(local_store *s, const uint8_t hash[NUB_CAP_HASH_LEN], const uint8_t *bytes,
                        size_t len, local_cap **out);

#endif
