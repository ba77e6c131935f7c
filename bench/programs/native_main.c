/* native_main.c: run one benchmark kernel natively (gcc -O2) and print its
 * result: cc -O2 -Isdk/include -DKERNEL_FN=bench_x kernel.c native_main.c */
#include <inttypes.h>
#include <stdio.h>

#include "bench_host.h"
#include "nub_guest.h"

uint64_t KERNEL_FN(void);

uint64_t nub_native_hostcall(uint32_t n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
			     uint64_t a5)
{
	(void)a2, (void)a3, (void)a4, (void)a5;
	return bench_host_fn(n, a0, a1);
}

int main(void)
{
	printf("%" PRIu64 "\n", KERNEL_FN());
	return 0;
}
