/* native_main.c: run one benchmark kernel natively and print its result:
 *   cc -O2 -Isdk/include -DKERNEL_FN=bench_x kernel.c native_main.c
 *   ./a.out [N [RUNS]]
 * N: the kernel's size argument (bench_arg.h; default: none, n = 1). With
 * RUNS: the kernel is called RUNS times in this process; prints the result,
 * then one line per call with its wall time in seconds (CLOCK_MONOTONIC).
 * Exit 1 when two calls disagree. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_host.h"
#include "nub_guest.h"

uint64_t KERNEL_FN(uint64_t argp, uint64_t argl);

uint64_t nub_native_hostcall(uint32_t n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
			     uint64_t a5)
{
	(void)a2, (void)a3, (void)a4, (void)a5;
	return bench_host_fn(n, a0, a1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	uint8_t arg[4];
	uint64_t argl = 0;
	if (argc > 1) {
		unsigned long n = strtoul(argv[1], NULL, 10);
		for (int i = 0; i < 4; i++)
			arg[i] = (uint8_t)(n >> (8 * i));
		argl = sizeof arg;
	}
	int runs = argc > 2 ? atoi(argv[2]) : 0;
	if (runs <= 0) {
		printf("%" PRIu64 "\n", KERNEL_FN((uint64_t)(uintptr_t)arg, argl));
		return 0;
	}
	double *t = calloc((size_t)runs, sizeof *t);
	uint64_t first = 0;
	if (!t)
		return 2;
	for (int r = 0; r < runs; r++) {
		double t0 = now();
		uint64_t v = KERNEL_FN((uint64_t)(uintptr_t)arg, argl);
		t[r] = now() - t0;
		if (r == 0)
			first = v;
		else if (v != first) {
			fprintf(stderr, "run %d: %" PRIu64 " != %" PRIu64 "\n", r, v, first);
			return 1;
		}
	}
	printf("%" PRIu64 "\n", first);
	for (int r = 0; r < runs; r++)
		printf("%.9f\n", t[r]);
	free(t);
	return 0;
}
