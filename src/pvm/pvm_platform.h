/* pvm_platform.h: the only outside services the freestanding engine uses.
 *
 * One implementation for the host (src/local/platform_libc.c, on libc) and
 * one for the guest kernel. Nothing else in src/pvm, src/cap or src/jit may
 * reach outside. memcpy/memset/memcmp may be emitted by the compiler; each
 * side provides them (libc on the host, the guest's own on the guest).
 */
#ifndef NUB_PVM_PLATFORM_H
#define NUB_PVM_PLATFORM_H

#include <stddef.h>

/* Zero-filled, 16-byte aligned memory; NULL when exhausted. */
void *pvm_plat_alloc(size_t size);
void pvm_plat_free(void *p, size_t size);
/* One zero-filled page of 4096 bytes, 4096-aligned; NULL when exhausted. */
void *pvm_plat_page_alloc(void);
void pvm_plat_page_free(void *page);

#endif
