/* bench_host.h: the host-call model shared by the PVM test harness and the
 * native runs: ecalli n with (a0, a1) returns this value in a0. */
#ifndef NUB_BENCH_HOST_H
#define NUB_BENCH_HOST_H
#include <stdint.h>
static inline uint64_t bench_host_fn(uint32_t n, uint64_t a0, uint64_t a1)
{
	return a0 * 31u + a1 + n;
}
#endif
