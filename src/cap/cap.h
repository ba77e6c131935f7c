/* cap.h: canonical encoding, validation and hashing of caps (DESIGN section 4).
 *
 * Freestanding (C11 freestanding headers + nub/abi.h only), compiled for the
 * host (libnub) and for the guest kernel. The byte layout of each kind is in
 * docs/caps.md; equal content gives equal bytes and so an equal CapHash.
 *
 * Decoding (cap_decode) validates every field and returns a named nub_err; a
 * decoded view points into the caller's bytes (zero copy) and stays valid as
 * long as those bytes do. Encoding is two-step: cap_*_encoded_len gives the
 * exact size (0 when the description is invalid), then cap_*_encode writes it
 * into a caller buffer. Encoders validate their input with the same rules as
 * the decoder, so every encoding they emit decodes again.
 *
 * What this layer cannot check (needs the cap directory or the engine):
 * whether referenced hashes are published, whether slot data fits its
 * mapping, whether the code blob decodes. cap_instance_check_refs covers the
 * first two given a lookup callback; the backend runs the engine's decoder.
 */
#ifndef NUB_CAP_H
#define NUB_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nub/abi.h"

#define CAP_HEADER_LEN 2u            /* kind, version */
#define CAP_DATA_FIXED_LEN 6u        /* header + u32 len */
#define CAP_IMAGE_FIXED_LEN 25u      /* header + layout, counts, 5 x u32 */
#define CAP_ENDPOINT_LEN 108u        /* u32 pc + 13 x u64 */
#define CAP_MAPPING_LEN 10u          /* u32 va, u32 pages, u8 slot, u8 flags */
#define CAP_INSTANCE_FIXED_LEN 35u   /* header + hash + u8 slot count */
#define CAP_SLOT_LEN 33u             /* u8 index + hash */

/* SPI constants (GP A.7) used to lay out and check an spi Image. */
#define CAP_SPI_ZONE 0x10000u
#define CAP_SPI_INPUT 0x1000000u
#define CAP_SPI_STACK_TOP 0xFEFE0000u /* 2^32 - 2 Z_Z - Z_I */
#define CAP_SPI_ARGS_VA 0xFEFF0000u   /* 2^32 - Z_Z - Z_I */

typedef struct {
	uint32_t pc;
	uint64_t regs[NUB_NUM_REGS];
} cap_endpoint;

typedef struct {
	uint32_t va;
	uint32_t pages;
	uint8_t slot;
	uint8_t flags; /* NUB_CAP_MAPPING_WRITABLE or 0 */
} cap_mapping;

typedef struct {
	const uint8_t *bytes;
	uint32_t len;
} cap_data_view;

/* An Image, decoded (views into the encoding) or to be encoded (caller data). */
typedef struct {
	uint8_t layout;        /* NUB_CAP_LAYOUT_BARE or _SPI */
	uint32_t ro_len, rw_len, heap_pages, stack_size; /* spi only; 0 for bare */
	const uint8_t *ro, *rw;
	const uint8_t *code;   /* generic program blob (deblob format) */
	uint32_t code_len;
	uint32_t endpoint_count;
	uint32_t mapping_count;
	/* Decoded views: raw records, read with cap_image_endpoint/_mapping.
	 * For encoding: set endpoints/mappings instead (raw_* ignored). */
	const uint8_t *endpoints_raw, *mappings_raw;
	const cap_endpoint *endpoints;
	const cap_mapping *mappings;
} cap_image_view;

typedef struct {
	const uint8_t *image_hash; /* 32 bytes */
	uint32_t slot_count;
	const uint8_t *slots_raw;  /* decoded view: slot_count x 33 bytes */
} cap_instance_view;

typedef struct {
	uint8_t kind; /* NUB_CAP_KIND_* */
	union {
		cap_data_view data;
		cap_image_view image;
		cap_instance_view instance;
	} u;
} cap_view;

/* Validate an encoded cap completely and fill *out. */
nub_err cap_decode(const uint8_t *bytes, size_t len, cap_view *out);

/* Accessors for a decoded view; i must be below the count. */
void cap_image_endpoint(const cap_image_view *v, uint32_t i, cap_endpoint *out);
void cap_image_mapping(const cap_image_view *v, uint32_t i, cap_mapping *out);
void cap_instance_slot(const cap_instance_view *v, uint32_t i, uint8_t *index, const uint8_t **hash);

/* The spi regions [start, end) of an spi image: ro, heap, stack (may be empty). */
typedef struct {
	uint64_t start, end;
} cap_region;
void cap_spi_regions(const cap_image_view *v, cap_region out[3]);

/* ---- encoding -------------------------------------------------------------
 * *_encoded_len returns the exact length, or 0 and *err when invalid.
 * *_encode writes at most cap bytes; returns NUB_E_INVALID_ARG when cap is
 * too small. Mappings must be given sorted by va (the public builder sorts);
 * instance slots sorted by index (idem). */
size_t cap_data_encoded_len(uint32_t len);
nub_err cap_data_encode(const uint8_t *bytes, uint32_t len, uint8_t *out, size_t cap);

size_t cap_image_encoded_len(const cap_image_view *img, nub_err *err);
nub_err cap_image_encode(const cap_image_view *img, uint8_t *out, size_t cap);

typedef struct {
	uint8_t index;
	uint8_t hash[NUB_CAP_HASH_LEN];
} cap_slot;
size_t cap_instance_encoded_len(uint32_t slot_count, const cap_slot *slots, nub_err *err);
nub_err cap_instance_encode(const uint8_t image_hash[NUB_CAP_HASH_LEN], uint32_t slot_count,
                            const cap_slot *slots, uint8_t *out, size_t cap);

/* CapHash = BLAKE2b-256 of the encoding. */
void cap_hash(const uint8_t *bytes, size_t len, uint8_t out[NUB_CAP_HASH_LEN]);

/* ---- cross-cap checks of an Instance ------------------------------------
 * lookup(ctx, hash) returns the decoded view of a published cap, or NULL.
 * Checks: the image hash names a published Image, every slot names a
 * published Data, every mapping's slot is filled, and each slot's data fits
 * every region that maps it. */
typedef const cap_view *(*cap_lookup_fn)(void *ctx, const uint8_t hash[NUB_CAP_HASH_LEN]);
nub_err cap_instance_check_refs(const cap_instance_view *inst, cap_lookup_fn lookup, void *ctx);

#endif
