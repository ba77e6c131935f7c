/* nub_guest.h: C guest SDK for nub PVM programs (clang-19, RV64E, lp64e).
 *
 * Build a program with scripts/nub-cc (clang-19 + ld.lld-19 + nub link).
 *
 * Entry points:  NUB_EXPORT(index, fn) makes `fn` the entry point at PVM pc
 *   5*index (JAM style: 0 = refine / is-authorized, 5 = accumulate). An entry
 *   is an ordinary C function; it receives the standard-program registers:
 *     uint64_t fn(uint64_t a0, uint64_t a1, ...)   a0 = φ7, a1 = φ8, ...
 *   (after SPI init φ7 = argument pointer 0xFEFF0000, φ8 = argument length).
 *   Its return value lands in φ7 (a0) and returning halts (r0 = 0xFFFF0000).
 * Host calls:    NUB_HOSTCALL(n, a0, a1, a2, a3, a4, a5) puts the arguments in
 *   φ7..φ12, executes PVM `ecalli n` (0 <= n <= 2047) and returns φ7.
 *   Encoding: `.insn i 0x0b, 0, x0, x0, n` (custom-0, funct3 0); nub link
 *   turns exactly this instruction into `ecalli n`.
 * Debug log:     nub_log(level, target, message) is the JIP-1 debug-message
 *   host call (`ecalli 100`: level φ7, target φ8/φ9, message φ10/φ11 as
 *   pointer/length; returns WHAT). `nub run` prints it and resumes. Levels:
 *   NUB_LOG_FATAL (0), _WARN, _INFO, _HELP, _PEDANTIC (4).
 * Stack size:    NUB_STACK_SIZE(bytes) (default 64 KiB).
 * Memory:        memcpy / memset / memmove / memcmp (sdk/lib/nub_libc.c) and a
 *   small allocator nub_malloc / nub_free over a static heap in .bss
 *   (NUB_HEAP_SIZE, default 1 MiB; heap pages are zero-initialised).
 */
#ifndef NUB_GUEST_H
#define NUB_GUEST_H

#include <stddef.h>
#include <stdint.h>

#if defined(__riscv)
/* every symbol is resolved inside the program: no GOT indirection */
#pragma GCC visibility push(hidden)
#endif

#define NUB_STR_(x) #x
#define NUB_STR(x) NUB_STR_(x)

/* Export record (48 bytes, section .nub_exports; read by nub link). */
struct nub_export_rec {
	uint32_t version; /* 1 */
	uint32_t index;   /* entry point at pc 5 * index */
	uint64_t fn;      /* address of the function */
	char name[32];    /* NUL-padded, for tools */
};
_Static_assert(sizeof(struct nub_export_rec) == 48, "export record layout");

#if defined(__riscv)
#define NUB_EXPORT(idx, fn)                                                                      \
	__attribute__((used, section(".nub_exports"), aligned(8))) static const struct nub_export_rec \
		nub_export_rec_##fn = {1, (idx), (uint64_t)(uintptr_t)&fn, #fn}

#define NUB_STACK_SIZE(n)                                                                         \
	__attribute__((used, section(".nub_stack_size"))) static const uint32_t nub_stack_size_rec = (n)

/* ecalli N with arguments in a0..a5 (φ7..φ12); returns a0 (φ7). */
#define NUB_HOSTCALL(n, x0, x1, x2, x3, x4, x5)                                                  \
	({                                                                                        \
		register uint64_t nub_a0_ __asm__("a0") = (uint64_t)(x0);                          \
		register uint64_t nub_a1_ __asm__("a1") = (uint64_t)(x1);                          \
		register uint64_t nub_a2_ __asm__("a2") = (uint64_t)(x2);                          \
		register uint64_t nub_a3_ __asm__("a3") = (uint64_t)(x3);                          \
		register uint64_t nub_a4_ __asm__("a4") = (uint64_t)(x4);                          \
		register uint64_t nub_a5_ __asm__("a5") = (uint64_t)(x5);                          \
		__asm__ volatile(".insn i 0x0b, 0, x0, x0, %6"                                     \
				 : "+r"(nub_a0_), "+r"(nub_a1_)                                    \
				 : "r"(nub_a2_), "r"(nub_a3_), "r"(nub_a4_), "r"(nub_a5_), "i"(n) \
				 : "memory");                                                      \
		nub_a0_;                                                                          \
	})
#define NUB_TRAP() __builtin_trap()
#else
/* Native builds (benchmarks' reference runs): exports are plain functions,
 * host calls go to a function the native harness provides. */
#define NUB_EXPORT(idx, fn) extern int nub_export_unused_##fn
#define NUB_STACK_SIZE(n) extern int nub_stack_size_unused
uint64_t nub_native_hostcall(uint32_t n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
			     uint64_t a4, uint64_t a5);
#define NUB_HOSTCALL(n, x0, x1, x2, x3, x4, x5)                                                  \
	nub_native_hostcall((n), (uint64_t)(x0), (uint64_t)(x1), (uint64_t)(x2), (uint64_t)(x3), \
			    (uint64_t)(x4), (uint64_t)(x5))
#define NUB_TRAP() __builtin_trap()
#endif

/* JIP-1 debug message (host call 100). target may be NULL (no target). */
#define NUB_LOG_HOSTCALL 100
enum { NUB_LOG_FATAL = 0, NUB_LOG_WARN = 1, NUB_LOG_INFO = 2, NUB_LOG_HELP = 3, NUB_LOG_PEDANTIC = 4 };
static inline void nub_log(unsigned level, const char *target, const char *message)
{
	size_t tl = 0, ml = 0;
	while (target && target[tl])
		tl++;
	while (message[ml])
		ml++;
	(void)NUB_HOSTCALL(NUB_LOG_HOSTCALL, level, (uintptr_t)target, tl, (uintptr_t)message, ml, 0);
}

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* Allocator: first-fit free list over a static heap; 16-byte aligned;
 * returns NULL when full. */
void *nub_malloc(size_t n);
void nub_free(void *p);

#if defined(__riscv)
#pragma GCC visibility pop
#endif

#endif
