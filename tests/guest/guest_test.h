/* guest_test.h: the test kernel's parts (tests/guest/): the self test, the
 * request replay, the fault probes, and the in-guest "host" that drives them. */
#ifndef NUB_TESTS_GUEST_TEST_H
#define NUB_TESTS_GUEST_TEST_H

#include "guest/guest.h"

/* Returns the number of failed guest-only checks. With smp > 1 (QEMU
 * -smp, command line "smp=N") the application processors are started and
 * serve lanes too. */
unsigned guest_selftest(uint32_t smp);
/* Replay a recorded request stream (guest_replay.c); returns failures. */
unsigned guest_replay(const uint8_t *mod, size_t len);
/* "measure" mode (guest_measure.c): instruction counts of the ring switch
 * and of a host-call round trip; returns failures. */
unsigned guest_measure(void);
/* "ring3=read|write|exec" (guest_measure.c): a forbidden access from ring
 * 3, which must fault fatally; returns only when it did not. */
void guest_ring3_probe(const char *what);
/* Register the fault probes 100..106 (guest_probe.c). */
void guest_probes_register(void);
/* Send one request through the mailbox like a host, check the reply like a
 * host would. Returns the status, or NUB_E_INVALID_ARG with *bad set when
 * the reply is malformed. */
nub_err guest_host_call(uint32_t fn_id, const void *req, uint32_t req_len, void *resp, uint32_t resp_cap,
                        uint32_t *resp_len, bool *bad);

#endif
