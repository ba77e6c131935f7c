/* ctor.c: guest program for tests/test_link.c: static constructors
 * (.init_array, with priorities) run once, in order, before every entry
 * point, which still receives its argument registers. Natively the C
 * runtime runs them before main: the results must be equal. */
#include "nub_guest.h"

uint64_t ctor_main(void);
uint64_t ctor_args(uint64_t ptr, uint64_t len, uint64_t x);

volatile uint64_t ctor_seed = 3;
static uint64_t a, b, calls;

__attribute__((constructor(200))) static void second(void)
{
	b = a * 10 + ctor_seed;
	calls++;
}

__attribute__((constructor(101))) static void first(void)
{
	a = ctor_seed + 4;
	calls++;
}

__attribute__((constructor)) static void third(void)
{
	calls *= 100;
}

uint64_t ctor_main(void)
{
	return a * 1000000 + b * 1000 + calls;
}

/* pc 5: the constructors must not disturb φ7.. (the SPI argument pointer) */
uint64_t ctor_args(uint64_t ptr, uint64_t len, uint64_t x)
{
	(void)x;
	return (ptr ^ len) + ctor_main();
}

NUB_EXPORT(0, ctor_main);
NUB_EXPORT(1, ctor_args);
