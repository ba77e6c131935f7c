/* features.c: guest program for tests/test_link.c. Exercises what the
 * linker must get right: switch jump tables (ADD32/SUB32 pairs), function
 * pointers in data and in registers, recursion, 32-bit ops, division edge
 * cases, Zbb ops, memcpy/memset/allocator, a second entry point (pc 5).
 * Built natively too: every export's value must equal the native one. */
#include "nub_guest.h"

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

volatile uint64_t sink;

/* A switch that cannot become a value lookup table: each case has a side
 * effect, so clang emits a jump table of code addresses. */
__attribute__((noinline)) static uint64_t sw(uint64_t x)
{
	switch (x) {
	case 0: sink = 1; return 11;
	case 1: sink = x; return x * 7 + 3;
	case 2: sink = 5; return sink + 0x1234;
	case 3: sink = x << 3; return x << 40;
	case 4: sink = ~x; return sink;
	case 5: sink = 9; return 99 + sink;
	case 6: sink = x * 3; return x * x * x + sink;
	case 7: sink = 7; return 0xdeadbeefull ^ sink;
	case 8: sink = 2; return (1ull << 63) | sink;
	default: sink = x; return x + 1000;
	}
}

typedef uint64_t (*op_fn)(uint64_t, uint64_t);
__attribute__((noinline)) static uint64_t op_add(uint64_t a, uint64_t b) { return a + b; }
__attribute__((noinline)) static uint64_t op_sub(uint64_t a, uint64_t b) { return a - b; }
__attribute__((noinline)) static uint64_t op_mul(uint64_t a, uint64_t b) { return a * b; }
__attribute__((noinline)) static uint64_t op_div(uint64_t a, uint64_t b) { return b ? a / b : 77; }
op_fn const ops_ro[4] = {op_add, op_sub, op_mul, op_div}; /* code pointers in .rodata */
op_fn ops_rw[4] = {op_div, op_mul, op_sub, op_add};        /* ... and in .data */
volatile int op_index_base;

__attribute__((noinline)) static uint64_t fib(uint64_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

volatile int64_t vol_s[6] = {-7, 3, INT64_MIN, -1, 0, 123456789};
volatile uint64_t vol_u[4] = {0xffffffffffffffffull, 0, 0x80000000ull, 0x00ff00ff00ff00ffull};

static uint64_t arith(void)
{
	uint64_t h = 0;
	for (int i = 0; i < 6; i++)
		for (int j = 0; j < 6; j++) {
			int64_t a = vol_s[i], b = vol_s[j];
			if (b != 0 && !(a == INT64_MIN && b == -1)) {
				h = mix(h, (uint64_t)(a / b));
				h = mix(h, (uint64_t)(a % b));
			}
			int32_t a32 = (int32_t)a, b32 = (int32_t)b;
			if (b32 != 0 && !(a32 == INT32_MIN && b32 == -1))
				h = mix(h, (uint64_t)(int64_t)(a32 / b32));
			h = mix(h, (uint64_t)(a < b) + ((uint64_t)a < (uint64_t)b) * 2);
			h = mix(h, (uint64_t)(a32 * b32));
			h = mix(h, (uint64_t)((__int128)a * b >> 64));
			h = mix(h, (uint64_t)(((unsigned __int128)(uint64_t)a * (uint64_t)b) >> 64));
			h = mix(h, (uint64_t)(a >> (b & 63)) ^ ((uint64_t)a >> (b & 63)) ^ ((uint64_t)a << (b & 63)));
			h = mix(h, (uint64_t)(int64_t)(a32 >> (b & 31)) ^ (uint64_t)((uint32_t)a32 >> (b & 31)));
			h = mix(h, (uint64_t)(a > b ? a : b) ^ (uint64_t)(a < b ? a : b));
		}
	for (int i = 0; i < 4; i++) {
		uint64_t u = vol_u[i];
		h = mix(h, (uint64_t)__builtin_popcountll(u));
		h = mix(h, u ? (uint64_t)__builtin_clzll(u) : 64);
		h = mix(h, u ? (uint64_t)__builtin_ctzll(u) : 64);
		h = mix(h, __builtin_bswap64(u));
		h = mix(h, (u >> 13) | (u << 51));
		h = mix(h, (uint64_t)(int64_t)(int8_t)u ^ (uint64_t)(int64_t)(int16_t)u ^ (uint16_t)u);
		h = mix(h, (uint64_t)(uint32_t)u / 3 + (uint64_t)(int32_t)(uint32_t)u);
		h = mix(h, u == 0 ? 5 : u & ~(u >> 1));
	}
	return h;
}

uint64_t feat_main(void)
{
	uint64_t h = 0;
	for (uint64_t x = (uint64_t)op_index_base; x < 12; x++)
		h = mix(h, sw(x));
	ops_rw[op_index_base + 1] = op_add; /* written at run time */
	for (int i = op_index_base; i < 4; i++) {
		h = mix(h, ops_ro[i](100 + (uint64_t)i, 7));
		h = mix(h, ops_rw[i](1000, 3 + (uint64_t)i));
	}
	op_fn f = (h & 1) ? op_mul : op_add; /* pointer in a register */
	h = mix(h, f(h, 3));
	h = mix(h, fib(15));
	h = mix(h, arith());
	uint8_t *a = nub_malloc(300), *b = nub_malloc(500);
	if (!a || !b)
		return 1;
	memset(a, 0x5a, 300);
	memcpy(b, a, 300);
	memmove(b + 1, b, 200);
	nub_free(a);
	uint8_t *c = nub_malloc(100); /* reuses a's block */
	h = mix(h, (uint64_t)(c == a));
	int cmp = memcmp(a, b, 300); /* only the sign is specified */
	h = mix(h, (uint64_t)((cmp > 0) - (cmp < 0)) + b[0] + b[299]);
	return h;
}
NUB_EXPORT(0, feat_main);

NUB_STACK_SIZE(128 * 1024);

uint64_t feat_second(void)
{
	return fib(20) * 1000 + sw(6);
}
NUB_EXPORT(1, feat_second);
