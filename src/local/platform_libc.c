/* platform_libc.c: the engine's platform interface on the host's libc. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cap/cap_set.h"

#include "pvm/pvm_platform.h"

void *pvm_plat_alloc(size_t size)
{
	return calloc(1, size ? size : 1);
}

void pvm_plat_free(void *p, size_t size)
{
	(void)size;
	free(p);
}

void *pvm_plat_page_alloc(void)
{
	void *p = NULL;
	if (posix_memalign(&p, 4096, 4096) != 0)
		return NULL;
	memset(p, 0, 4096);
	return p;
}

void pvm_plat_page_free(void *page)
{
	free(page);
}

void cap_set_seed(uint64_t seed[2], const void *salt)
{
	if (getrandom(seed, 2 * sizeof seed[0], GRND_NONBLOCK) != (ssize_t)(2 * sizeof seed[0])) {
		/* no entropy yet: a weaker but still per-set seed */
		seed[0] = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)salt;
		seed[1] = (uint64_t)clock() * 0x9E3779B97F4A7C15ull;
	}
}
