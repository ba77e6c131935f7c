/* hostcall.c: host-call heavy: 100 000 `ecalli 1` in a loop, each feeding
 * the previous answer back (model: bench_host.h). Returns the last answer. */
#include "nub_guest.h"

uint64_t bench_hostcall(void)
{
	uint64_t acc = 1;
	for (uint64_t i = 0; i < 100000; i++)
		acc = NUB_HOSTCALL(1, acc, i, 0, 0, 0, 0);
	return acc;
}
NUB_EXPORT(0, bench_hostcall);
