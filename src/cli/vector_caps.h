/* vector_caps.h: express a test vector as caps and invoke it through the
 * public API (any backend). */
#ifndef NUB_CLI_VECTOR_CAPS_H
#define NUB_CLI_VECTOR_CAPS_H

#include "nub/nub.h"
#include "vector.h"

/* Publish the vector's initial state: one Data per page-map region (its
 * initial bytes), a bare Image (the program, one endpoint = pc + 13
 * registers, one mapping per region: slot k = region k, RO or RW) and an
 * Instance filling the slots. Writes the Instance hash. */
nub_err vector_put_caps(nub_sandbox *sb, const vector *v, uint8_t inst_hash[NUB_CAP_HASH_LEN]);

/* The packet that invokes it: args = the vector's r7..r10, its gas. */
void vector_packet(const vector *v, const uint8_t inst_hash[NUB_CAP_HASH_LEN], InvokePacket *p);

/* Compare an InvocationResult with the vector's expectations, as far as the
 * result can tell: status, exit_arg (fault address, host-call number), gas,
 * r7, and the scratchpad head (slot 0 = the first region) at a halt. Appends
 * the differences to diff; returns 0 on a match. */
unsigned vector_compare_result(const vector *v, const InvocationResult *r, char *diff, size_t difflen);

#endif
