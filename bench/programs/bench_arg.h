/* bench_arg.h: the kernels' size argument: the SPI argument bytes (φ7 =
 * pointer, φ8 = length; natively the harness passes its own buffer) hold one
 * little-endian u32 n >= 1, how many times the kernel does its default
 * work. Fewer than 4 bytes or n = 0: n = 1 (the default, whose results
 * bench/programs/README.md lists). */
#ifndef NUB_BENCH_ARG_H
#define NUB_BENCH_ARG_H
#include <stdint.h>
static inline uint32_t bench_arg_n(uint64_t argp, uint64_t argl)
{
	if (argl < 4)
		return 1;
	const volatile uint8_t *p = (const volatile uint8_t *)(uintptr_t)argp;
	uint32_t n = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return n ? n : 1;
}
#endif
