/* guest_platform.c: the engine's platform interface (src/pvm/pvm_platform.h)
 * on the guest heap. */
#include "guest/guest.h"
#include "pvm/pvm_platform.h"

void *pvm_plat_alloc(size_t size)
{
	return guest_heap_alloc(size ? size : 1, 16);
}

void pvm_plat_free(void *p, size_t size)
{
	(void)size;
	guest_heap_free(p);
}

void *pvm_plat_page_alloc(void)
{
	return guest_heap_alloc(4096, 4096);
}

void pvm_plat_page_free(void *page)
{
	guest_heap_free(page);
}
