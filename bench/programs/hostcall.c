/* hostcall.c: host-call heavy: 100 000 `ecalli 1` in a loop, each feeding
 * the previous answer back (model: bench_host.h). Returns the last answer.
 * With size argument n (bench_arg.h): n * 100 000 host calls. */
#include "bench_arg.h"
#include "nub_guest.h"

uint64_t bench_hostcall(uint64_t argp, uint64_t argl)
{
	uint64_t acc = 1, calls = 100000ull * bench_arg_n(argp, argl);
	for (uint64_t i = 0; i < calls; i++)
		acc = NUB_HOSTCALL(1, acc, i, 0, 0, 0, 0);
	return acc;
}
NUB_EXPORT(0, bench_hostcall);
