/* ext.c: guest program for tests/test_link.c: the Zba, Zbs and A extensions
 * a user may ask clang for (-march=rv64emac_zba_zbb_zbs), and Zbb's orc.b. Compiled C (shift-
 * and-add addressing, single-bit operations, C11 atomics) plus every
 * instruction form in inline assembly, including the register-aliasing
 * corners (rd = rs1, rd = rs2, rd = rs1 = rs2, x0 operands); natively the
 * same semantics in plain C. Results are folded into one hash. */
#include <stdatomic.h>

#include "nub_guest.h"

uint64_t ext_main(void);

static uint64_t h = 1469598103934665603ull;

static void mix(uint64_t v)
{
	h = (h ^ v) * 0x100000001b3ull;
	h ^= h >> 31;
}

#if defined(__riscv) && defined(__riscv_zba) && defined(__riscv_zbs) && defined(__riscv_atomic)
#define R2(insn, a, b)                                                                  \
	({                                                                              \
		uint64_t r_;                                                            \
		__asm__ volatile(insn " %0, %1, %2" : "=r"(r_) : "r"(a), "r"(b)); \
		r_;                                                                     \
	})
#define RI(insn, a, i)                                                                  \
	({                                                                              \
		uint64_t r_;                                                            \
		__asm__ volatile(insn " %0, %1, %2" : "=r"(r_) : "r"(a), "i"(i)); \
		r_;                                                                     \
	})
/* rd = rs1 (in place) and rd = rs1 = rs2 */
#define R2_SAME1(insn, a, b)                                                            \
	({                                                                              \
		uint64_t r_ = (a);                                                      \
		__asm__ volatile(insn " %0, %0, %1" : "+r"(r_) : "r"(b));          \
		r_;                                                                     \
	})
#define R2_SAME2(insn, a, b)                                                            \
	({                                                                              \
		uint64_t r_ = (b);                                                      \
		__asm__ volatile(insn " %0, %1, %0" : "+r"(r_) : "r"(a));          \
		r_;                                                                     \
	})
#define R2_ALL(insn, a)                                                                 \
	({                                                                              \
		uint64_t r_ = (a);                                                      \
		__asm__ volatile(insn " %0, %0, %0" : "+r"(r_));                   \
		r_;                                                                     \
	})
#define R2_X0(insn, a)                                                                  \
	({                                                                              \
		uint64_t r_;                                                            \
		__asm__ volatile(insn " %0, x0, %1" : "=r"(r_) : "r"(a));          \
		r_;                                                                     \
	})
#define R1(insn, a)                                                                     \
	({                                                                              \
		uint64_t r_;                                                            \
		__asm__ volatile(insn " %0, %1" : "=r"(r_) : "r"(a));              \
		r_;                                                                     \
	})
#define R1_SAME(insn, a)                                                                \
	({                                                                              \
		uint64_t r_ = (a);                                                      \
		__asm__ volatile(insn " %0, %0" : "+r"(r_));                       \
		r_;                                                                     \
	})
#define AMO(insn, p, v)                                                                 \
	({                                                                              \
		uint64_t r_;                                                            \
		__asm__ volatile(insn " %0, %2, (%1)" : "=r"(r_) : "r"(p), "r"(v) : "memory"); \
		r_;                                                                     \
	})
#define AMO_SAME(insn, p, v)                                                            \
	({                                                                              \
		uint64_t r_ = (v);                                                      \
		__asm__ volatile(insn " %0, %0, (%1)" : "+r"(r_) : "r"(p) : "memory"); \
		r_;                                                                     \
	})
#else
#define ZX(a) ((uint64_t)(uint32_t)(a))
#define SX(a) ((uint64_t)(int64_t)(int32_t)(a))
static uint64_t op2(const char *n, uint64_t a, uint64_t b)
{
	unsigned s = (unsigned)(b & 63);
	if (!__builtin_strcmp(n, "sh1add")) return (a << 1) + b;
	if (!__builtin_strcmp(n, "sh2add")) return (a << 2) + b;
	if (!__builtin_strcmp(n, "sh3add")) return (a << 3) + b;
	if (!__builtin_strcmp(n, "add.uw")) return ZX(a) + b;
	if (!__builtin_strcmp(n, "sh1add.uw")) return (ZX(a) << 1) + b;
	if (!__builtin_strcmp(n, "sh2add.uw")) return (ZX(a) << 2) + b;
	if (!__builtin_strcmp(n, "sh3add.uw")) return (ZX(a) << 3) + b;
	if (!__builtin_strcmp(n, "slli.uw")) return ZX(a) << s;
	if (!__builtin_strcmp(n, "bset") || !__builtin_strcmp(n, "bseti")) return a | (1ull << s);
	if (!__builtin_strcmp(n, "bclr") || !__builtin_strcmp(n, "bclri")) return a & ~(1ull << s);
	if (!__builtin_strcmp(n, "binv") || !__builtin_strcmp(n, "binvi")) return a ^ (1ull << s);
	if (!__builtin_strcmp(n, "bext") || !__builtin_strcmp(n, "bexti")) return (a >> s) & 1;
	__builtin_trap();
}
#define R2(insn, a, b) op2(insn, a, b)
#define RI(insn, a, i) op2(insn, a, i)
#define R2_SAME1(insn, a, b) op2(insn, a, b)
#define R2_SAME2(insn, a, b) op2(insn, a, b)
#define R2_ALL(insn, a) op2(insn, a, a)
#define R2_X0(insn, a) op2(insn, 0, a)
static uint64_t amo(const char *n, void *p, uint64_t v)
{
	int w = n[__builtin_strlen(n) - 1] == 'w';
	uint64_t old = w ? SX(*(uint32_t *)p) : *(uint64_t *)p, nv = v;
	uint64_t a = w ? SX(old) : old, b = w ? SX(v) : v;
	if (!__builtin_strncmp(n, "amoadd", 6)) nv = old + v;
	else if (!__builtin_strncmp(n, "amoxor", 6)) nv = old ^ v;
	else if (!__builtin_strncmp(n, "amoand", 6)) nv = old & v;
	else if (!__builtin_strncmp(n, "amoor", 5)) nv = old | v;
	else if (!__builtin_strncmp(n, "amominu", 7)) nv = a < b ? a : b;
	else if (!__builtin_strncmp(n, "amomaxu", 7)) nv = a > b ? a : b;
	else if (!__builtin_strncmp(n, "amomin", 6)) nv = (int64_t)a < (int64_t)b ? a : b;
	else if (!__builtin_strncmp(n, "amomax", 6)) nv = (int64_t)a > (int64_t)b ? a : b;
	if (w)
		*(uint32_t *)p = (uint32_t)nv;
	else
		*(uint64_t *)p = nv;
	return old;
}
static uint64_t orcb(uint64_t a)
{
	uint64_t r = 0;
	for (int i = 0; i < 64; i += 8)
		if ((a >> i) & 0xff)
			r |= 0xffull << i;
	return r;
}
#define R1(insn, a) orcb(a)
#define R1_SAME(insn, a) orcb(a)
#define AMO(insn, p, v) amo(insn, p, v)
#define AMO_SAME(insn, p, v) amo(insn, p, v)
#endif

static const uint64_t vals[] = {0, 1, 0xffffffffffffffffull, 0x8000000000000000ull, 0x7fffffff, 0x80000000,
				0xfffffffe, 0x123456789abcdef0ull, 63, 64, 31, 32, 33};
#define NV (sizeof vals / sizeof vals[0])

static uint64_t words[4];
static _Atomic uint64_t counter;
static _Atomic uint32_t counter32;

#define ALL2(insn)                                                                 \
	for (size_t i = 0; i < NV; i++)                                            \
		for (size_t j = 0; j < NV; j++) {                                  \
			mix(R2(insn, vals[i], vals[j]));                           \
			mix(R2_SAME1(insn, vals[i], vals[j]));                     \
			mix(R2_SAME2(insn, vals[i], vals[j]));                     \
		}                                                                  \
	for (size_t i = 0; i < NV; i++) {                                          \
		mix(R2_ALL(insn, vals[i]));                                        \
		mix(R2_X0(insn, vals[i]));                                         \
	}
#define ALLI(insn)                                                                  \
	for (size_t i = 0; i < NV; i++) {                                          \
		mix(RI(insn, vals[i], 0));                                         \
		mix(RI(insn, vals[i], 5));                                         \
		mix(RI(insn, vals[i], 30));                                        \
		mix(RI(insn, vals[i], 31));                                        \
		mix(RI(insn, vals[i], 32));                                        \
		mix(RI(insn, vals[i], 47));                                        \
		mix(RI(insn, vals[i], 63));                                        \
	}
#define ALLAMO(insn)                                                                \
	for (size_t i = 0; i < NV; i++)                                            \
		for (size_t j = 0; j < 3; j++) {                                   \
			words[0] = vals[i];                                        \
			words[1] = vals[(i + 5) % NV];                             \
			mix(AMO(insn, &words[j & 1], vals[(i * 7 + j) % NV]));     \
			mix(AMO_SAME(insn, &words[1], vals[(i + j) % NV]));        \
			mix(words[0]);                                             \
			mix(words[1]);                                             \
		}

__attribute__((noinline)) static uint64_t bits_c(uint64_t x, unsigned n)
{
	/* what clang turns into bset/bclr/binv/bext and sh*add with Zba/Zbs */
	uint64_t r = x | (1ull << (n & 63));
	r ^= 1ull << ((n + 7) & 63);
	r &= ~(1ull << ((n * 3) & 63));
	r += (r >> (n & 63)) & 1;
	r += (uint64_t)(uint32_t)x << 3;
	return r;
}

uint64_t ext_main(void)
{
	ALL2("sh1add") ALL2("sh2add") ALL2("sh3add") ALL2("add.uw") ALL2("sh1add.uw") ALL2("sh2add.uw")
	ALL2("sh3add.uw") ALL2("bset") ALL2("bclr") ALL2("binv") ALL2("bext")
	ALLI("slli.uw") ALLI("bseti") ALLI("bclri") ALLI("binvi") ALLI("bexti")
	ALLAMO("amoswap.d") ALLAMO("amoadd.d") ALLAMO("amoxor.d") ALLAMO("amoand.d") ALLAMO("amoor.d")
	ALLAMO("amomin.d") ALLAMO("amomax.d") ALLAMO("amominu.d") ALLAMO("amomaxu.d")
	ALLAMO("amoswap.w") ALLAMO("amoadd.w") ALLAMO("amoxor.w") ALLAMO("amoand.w") ALLAMO("amoor.w")
	ALLAMO("amomin.w") ALLAMO("amomax.w") ALLAMO("amominu.w") ALLAMO("amomaxu.w")
	for (size_t i = 0; i < NV; i++) {
		mix(R1("orc.b", vals[i]));
		mix(R1_SAME("orc.b", vals[i] >> 12));
		mix(R1("orc.b", vals[i] * 0x0100010000010001ull));
	}
	for (unsigned n = 0; n < 70; n++)
		mix(bits_c(vals[n % NV] * 0x9e3779b97f4a7c15ull, n));
	/* C11 atomics: AMOs and LR/SC loops (compare-exchange) */
	for (unsigned n = 0; n < 50; n++) {
		mix(atomic_fetch_add(&counter, n * 3));
		mix(atomic_fetch_or(&counter32, 1u << (n % 32)));
		uint64_t exp = atomic_load(&counter);
		mix(atomic_compare_exchange_strong(&counter, &exp, exp * 5 + 1));
		uint64_t wrong = exp + 1;
		mix(atomic_compare_exchange_strong(&counter, &wrong, 7));
		mix(wrong);
		uint32_t e32 = atomic_load(&counter32);
		mix(atomic_compare_exchange_weak(&counter32, &e32, e32 + 9));
		mix(atomic_exchange(&counter, n));
	}
	return h;
}

NUB_EXPORT(0, ext_main);
