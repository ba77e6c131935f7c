/* guest_scenario.h: one scenario of sandbox calls, run by two drivers.
 *
 * Freestanding (it is compiled into the guest kernel's self test and into
 * the host reference program tests/guest/guest_ref.c, which runs it on
 * libnub's local backend). Every call prints one "R ..." line through
 * ops->line; tests/guest_test.sh diffs the two outputs, so whatever the
 * guest answers is checked against the local backend, not against numbers
 * written down here.
 */
#ifndef NUB_GUEST_SCENARIO_H
#define NUB_GUEST_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "nub/abi.h"

typedef struct scn_ops {
	void *ctx;
	nub_err (*put_cap)(void *ctx, const uint8_t *bytes, size_t len, uint8_t hash[NUB_CAP_HASH_LEN]);
	nub_err (*invoke)(void *ctx, const InvokePacket *p, InvocationResult *r);
	nub_err (*heap_stats)(void *ctx, NubHeapStats *out);
	nub_err (*boot_info)(void *ctx, BootInfo *out);
	nub_err (*evict)(void *ctx);
	void (*line)(void *ctx, const char *text); /* text has no newline */
} scn_ops;

/* Runs every step; returns the number of R lines printed. */
unsigned scn_run(const scn_ops *o);

/* Hashes the scenario published successfully (for the guest's directory
 * check): *n is set to the count. Valid after scn_run. */
const uint8_t (*scn_published(unsigned *n))[NUB_CAP_HASH_LEN];

#endif
