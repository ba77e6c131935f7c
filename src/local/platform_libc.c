/* platform_libc.c: the engine's platform interface on the host's libc. */
#include <stdlib.h>
#include <string.h>

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
