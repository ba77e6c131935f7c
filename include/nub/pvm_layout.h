/* pvm_layout.h: the Gray Paper's PVM memory-layout constants (GP 0.7.2
 * Appendix A: zone, page and input sizes, the standard-program (SPI) layout
 * of A.7, the halt address and jump-table addressing) — one header for the
 * engine (src/pvm), the linker (src/link), the guest SDK (sdk/) and the SDK's
 * linker script (sdk/nub.ld, run through the C preprocessor by nub-cc).
 *
 * Self-contained and freestanding: macros only, no includes. In C every
 * constant is unsigned (PVM_U); when NUB_LAYOUT_LD is defined (linker
 * scripts) the suffix is dropped.
 */
#ifndef NUB_PVM_LAYOUT_H
#define NUB_PVM_LAYOUT_H

#ifdef NUB_LAYOUT_LD
#define PVM_U(x) x
#else
#define PVM_U(x) x##u
#endif

#define PVM_PAGE_SIZE PVM_U(4096)           /* Z_P */
#define PVM_ZONE_SIZE PVM_U(0x10000)        /* Z_Z */
#define PVM_INPUT_SIZE PVM_U(0x1000000)     /* Z_I: largest argument */
#define PVM_JUMP_ALIGN PVM_U(2)             /* Z_A: dynamic jump alignment */
#define PVM_HALT_ADDR PVM_U(0xFFFF0000)     /* 2^32 - Z_Z: a dynamic jump here halts */

/* Standard program (GP A.7): read-only data at Z_Z, read-write data + heap
 * at 2 Z_Z + zone_up(|o|), the stack ending 2 Z_Z + Z_I below 2^32, the
 * argument area Z_Z + Z_I below 2^32. Each of |o|, |w| and the stack size is
 * a 3-byte field (below 2^24); heap pages a 2-byte field. */
#define PVM_SPI_RO_ADDR PVM_ZONE_SIZE
#define PVM_SPI_STACK_TOP PVM_U(0xFEFE0000) /* 2^32 - 2 Z_Z - Z_I */
#define PVM_SPI_ARG_ADDR PVM_U(0xFEFF0000)  /* 2^32 - Z_Z - Z_I */
#define PVM_SPI_MAX_LEN PVM_U(0x1000000)    /* 2^24: limit of |o|, |w|, stack */
#define PVM_SPI_MAX_HEAP_PAGES PVM_U(0xFFFF)
#define PVM_ZONE_UP(x) (((x) + PVM_ZONE_SIZE - 1) / PVM_ZONE_SIZE * PVM_ZONE_SIZE)
#define PVM_SPI_RW_ADDR(ro_len) (2 * PVM_ZONE_SIZE + PVM_ZONE_UP(ro_len))

/* Jump-table entry i (0-based) is reached by a dynamic jump to (i + 1) Z_A. */
#define PVM_JT_ADDR(i) (((i) + 1) * PVM_JUMP_ALIGN)

#endif
