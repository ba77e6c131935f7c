/* blake2b.h: BLAKE2b (RFC 7693), freestanding, unkeyed and keyed.
 *
 * Used for CapHash = BLAKE2b-256(encoding). No libc: only <stdint.h> and
 * <stddef.h>. Call order: blake2b_init (or _init_key), any number of
 * blake2b_update, one blake2b_final. A context is plain data (copyable).
 */
#ifndef NUB_CAP_BLAKE2B_H
#define NUB_CAP_BLAKE2B_H

#include <stddef.h>
#include <stdint.h>

#define BLAKE2B_BLOCK 128u
#define BLAKE2B_MAX_OUT 64u
#define BLAKE2B_MAX_KEY 64u

typedef struct {
	uint64_t h[8];
	uint64_t t[2];               /* 128-bit byte counter, low word first */
	uint8_t buf[BLAKE2B_BLOCK];  /* pending input, not yet compressed */
	size_t buf_len;
	size_t out_len;
} blake2b_ctx;

/* out_len in 1..64. Returns 0, or -1 on a bad length (ctx left unusable). */
int blake2b_init(blake2b_ctx *c, size_t out_len);
/* key_len in 0..64 (0 = unkeyed). */
int blake2b_init_key(blake2b_ctx *c, size_t out_len, const void *key, size_t key_len);
void blake2b_update(blake2b_ctx *c, const void *data, size_t len);
/* Writes out_len bytes. */
void blake2b_final(blake2b_ctx *c, uint8_t *out);

/* One-shot BLAKE2b-256 (the JAM hash). */
void blake2b_256(const void *data, size_t len, uint8_t out[32]);

#endif
