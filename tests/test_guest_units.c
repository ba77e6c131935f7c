/* test_guest_units.c: the guest kernel's heap, cap directory and RPC
 * dispatch table, compiled for the host and tested directly (the same C
 * files run in the guest; tests/guest_test.sh tests them booted).
 *   heap: alignment, zero fill, no overlap (shadow patterns), stats
 *   invariants (allocated + available == heap; fragments coalesce back to
 *   one), exhaustion, double free caught;
 *   directory: insert/get, colliding first words, full table, host lookup
 *   through the published layout alone;
 *   dispatch: registration refusals, unknown fn ids, oversized requests,
 *   seq echo, raw replies. */
#include <setjmp.h>
#include <stdlib.h>

#include "guest/guest.h"
#include "test.h"

static jmp_buf panic_jmp;
static int panics;
void guest_panic(const char *file, int line, const char *what)
{
	(void)file, (void)line, (void)what;
	panics++;
	longjmp(panic_jmp, 1);
}

#define ARENA (1u << 20)
static uint8_t *arena;

static int heap_consistent(void)
{
	NubHeapStats s;
	guest_heap_stats(&s);
	return s.allocated_bytes + s.available_bytes == ARENA;
}

TEST(heap_align_zero_stats)
{
	guest_heap_init((uintptr_t)arena, ARENA);
	NubHeapStats s0;
	guest_heap_stats(&s0);
	ASSERT_EQ(s0.allocated_bytes, 0);
	ASSERT_EQ(s0.fragment_count, 1);
	ASSERT_EQ(s0.available_bytes, ARENA);
	void *p[64];
	for (unsigned i = 0; i < 64; i++) {
		size_t align = (i % 3 == 0) ? 4096 : 16;
		size_t n = 1 + i * 37;
		p[i] = guest_heap_alloc(n, align);
		ASSERT_TRUE(p[i] != NULL);
		ASSERT_EQ((uintptr_t)p[i] % align, 0);
		for (size_t k = 0; k < n; k++)
			ASSERT_EQ(((uint8_t *)p[i])[k], 0);
		memset(p[i], 0xFF, n); /* dirty it: the next allocation must be zero again */
		ASSERT_TRUE(heap_consistent());
	}
	NubHeapStats s1;
	guest_heap_stats(&s1);
	ASSERT_EQ(s1.allocation_count, 64);
	for (unsigned i = 0; i < 64; i += 2)
		guest_heap_free(p[i]);
	for (unsigned i = 1; i < 64; i += 2)
		guest_heap_free(p[i]);
	guest_heap_stats(&s1);
	ASSERT_EQ(s1.allocation_count, 0);
	ASSERT_EQ(s1.allocated_bytes, 0);
	ASSERT_EQ(s1.fragment_count, 1); /* everything coalesced */
	ASSERT_EQ(s1.available_bytes, ARENA);
	uint8_t *q = guest_heap_alloc(100, 16);
	ASSERT_TRUE(q != NULL);
	for (unsigned k = 0; k < 100; k++)
		ASSERT_EQ(q[k], 0);
	guest_heap_free(q);
}

TEST(heap_exhaustion)
{
	guest_heap_init((uintptr_t)arena, ARENA);
	void *p[300];
	unsigned n = 0;
	while (n < 300 && (p[n] = guest_heap_alloc(4000, 16)))
		n++;
	ASSERT_TRUE(n > 200 && n < 300); /* 1 MiB / 4016 B */
	ASSERT_TRUE(guest_heap_alloc(4000, 16) == NULL);
	ASSERT_TRUE(guest_heap_alloc((size_t)1 << 41, 16) == NULL);
	ASSERT_TRUE(guest_heap_alloc(16, 24) == NULL); /* alignment not a power of two */
	ASSERT_TRUE(heap_consistent());
	while (n)
		guest_heap_free(p[--n]);
	void *all = guest_heap_alloc(ARENA - 16, 16);
	ASSERT_TRUE(all != NULL);
	ASSERT_TRUE(guest_heap_alloc(1, 16) == NULL);
	guest_heap_free(all);
	ASSERT_TRUE(heap_consistent());
}

TEST(heap_double_free_caught)
{
	guest_heap_init((uintptr_t)arena, ARENA);
	void *p = guest_heap_alloc(64, 16);
	guest_heap_free(p);
	int before = panics;
	if (setjmp(panic_jmp) == 0)
		guest_heap_free(p);
	ASSERT_EQ(panics, before + 1);
}

/* Random alloc/free against shadow patterns: no block overlaps another. */
TEST(heap_random_no_overlap)
{
	guest_heap_init((uintptr_t)arena, ARENA);
	enum { N = 200 };
	uint8_t *p[N] = {0};
	size_t len[N] = {0};
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (unsigned step = 0; step < 20000; step++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned i = (unsigned)(x % N);
		if (p[i]) {
			for (size_t k = 0; k < len[i]; k++)
				ASSERT_EQ(p[i][k], (uint8_t)(i + 1));
			guest_heap_free(p[i]);
			p[i] = NULL;
		} else {
			len[i] = 1 + (size_t)((x >> 20) % 9000);
			size_t align = (x >> 40) & 1 ? 4096 : 16;
			p[i] = guest_heap_alloc(len[i], align);
			if (p[i]) {
				ASSERT_EQ((uintptr_t)p[i] % align, 0);
				memset(p[i], (int)(i + 1), len[i]);
			}
		}
		if (step % 1000 == 0)
			ASSERT_TRUE(heap_consistent());
	}
	for (unsigned i = 0; i < N; i++)
		if (p[i])
			guest_heap_free(p[i]);
	NubHeapStats s;
	guest_heap_stats(&s);
	ASSERT_EQ(s.fragment_count, 1);
	ASSERT_EQ(s.allocation_count, 0);
}

/* ---- directory ---------------------------------------------------------- */
static const NubCapDirEntry *layout_lookup(uint64_t dir_va, const uint8_t *hash)
{
	const NubCapDirHeader *h = (const NubCapDirHeader *)(uintptr_t)dir_va;
	const NubCapDirEntry *e = (const NubCapDirEntry *)(uintptr_t)h->entries;
	uint64_t k;
	memcpy(&k, hash, 8);
	for (uint32_t n = 0, i = (uint32_t)(k & (h->capacity - 1)); n < h->capacity; n++, i = (i + 1) & (h->capacity - 1)) {
		if (e[i].state == NUB_CAPDIR_EMPTY)
			return NULL;
		if (memcmp(e[i].hash, hash, 32) == 0)
			return &e[i];
	}
	return NULL;
}

TEST(capdir_insert_get_full)
{
	guest_capdir_init();
	uint64_t va = guest_capdir_va();
	const NubCapDirHeader *h = (const NubCapDirHeader *)(uintptr_t)va;
	ASSERT_EQ(h->magic, NUB_CAPDIR_MAGIC);
	ASSERT_EQ(h->capacity, NUB_CAPDIR_CAPACITY);
	ASSERT_EQ(h->entries, va + sizeof(NubCapDirHeader));
	static const uint8_t bytes[] = {2, 1, 0, 0, 0, 0};
	uint8_t hash[32];
	NubCapDirEntry *e;
	/* all share the first 8 bytes: one long probe chain */
	for (uint32_t i = 0; i < 100; i++) {
		memset(hash, 0x11, sizeof hash);
		memcpy(hash + 8, &i, 4);
		ASSERT_EQ(guest_capdir_insert(hash, bytes, sizeof bytes, NUB_CAP_KIND_DATA, &e), NUB_E_OK);
		ASSERT_TRUE(guest_capdir_get(hash) == e);
		ASSERT_TRUE(layout_lookup(va, hash) == e);
		ASSERT_EQ(e->len, sizeof bytes);
		ASSERT_EQ(e->bytes_gpa, (uint64_t)(uintptr_t)bytes);
	}
	ASSERT_EQ(h->count, 100);
	memset(hash, 0x11, sizeof hash);
	uint32_t absent = 100;
	memcpy(hash + 8, &absent, 4);
	ASSERT_TRUE(guest_capdir_get(hash) == NULL);
	ASSERT_TRUE(layout_lookup(va, hash) == NULL);
	/* fill up: one slot always stays empty */
	uint32_t n = 100;
	nub_err err = NUB_E_OK;
	for (uint32_t i = 0; i < NUB_CAPDIR_CAPACITY && !err; i++) {
		memset(hash, 0x22, sizeof hash);
		memcpy(hash, &i, 4);
		if (!(err = guest_capdir_insert(hash, bytes, sizeof bytes, NUB_CAP_KIND_DATA, &e)))
			n++;
	}
	ASSERT_EQ(err, NUB_E_STORE_FULL);
	ASSERT_EQ(n, NUB_CAPDIR_CAPACITY - 1);
	ASSERT_EQ(h->count, NUB_CAPDIR_CAPACITY - 1);
	memset(hash, 0x33, sizeof hash);
	ASSERT_TRUE(guest_capdir_get(hash) == NULL); /* terminates on a full table */
}

/* ---- dispatch ------------------------------------------------------------ */
static nub_err echo_handler(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	if (len > cap)
		return NUB_E_INVALID_ARG;
	memcpy(resp, req, len);
	*out = len;
	return NUB_E_OK;
}
static nub_err raw_handler(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	(void)req, (void)len, (void)resp, (void)cap, (void)out;
	return GUEST_RPC_RAW_REPLY;
}

TEST(dispatch_table)
{
	ASSERT_EQ(guest_rpc_register(0, echo_handler), NUB_E_INVALID_ARG);
	ASSERT_EQ(guest_rpc_register(1, echo_handler), NUB_E_INVALID_ARG);
	ASSERT_EQ(guest_rpc_register(NUB_FN_ID_SUBSTRATE_END, echo_handler), NUB_E_INVALID_ARG);
	ASSERT_EQ(guest_rpc_register(0xFFFFFFFFu, echo_handler), NUB_E_INVALID_ARG);
	ASSERT_EQ(guest_rpc_register(150, NULL), NUB_E_INVALID_ARG);
	ASSERT_EQ(guest_rpc_register(150, echo_handler), NUB_E_OK);
	ASSERT_EQ(guest_rpc_register(150, echo_handler), NUB_E_INVALID_ARG); /* duplicate */
	ASSERT_EQ(guest_rpc_register(151, raw_handler), NUB_E_OK);

	NubRpcMailbox *mb = calloc(1, sizeof *mb);
	ASSERT_TRUE(mb != NULL);
	mb->h.seq = 7;
	mb->h.fn_id = 150;
	mb->h.req_len = 5;
	memcpy(mb->req, "hello", 5);
	guest_rpc_serve_one(mb);
	ASSERT_EQ(mb->h.status, NUB_E_OK);
	ASSERT_EQ(mb->h.resp_len, 5);
	ASSERT_EQ(mb->h.resp_seq, 7);
	ASSERT_MEM_EQ(mb->resp, "hello", 5);
	ASSERT_EQ(guest_rpc_current_fn, ~0ull);

	mb->h.seq = 8;
	mb->h.fn_id = 152; /* never registered */
	guest_rpc_serve_one(mb);
	ASSERT_EQ(mb->h.status, NUB_E_UNKNOWN_FN);
	ASSERT_EQ(mb->h.resp_len, 0);
	ASSERT_EQ(mb->h.resp_seq, 8);

	mb->h.seq = 9;
	mb->h.fn_id = 150;
	mb->h.req_len = NUB_RPC_REQ_CAP + 1;
	guest_rpc_serve_one(mb);
	ASSERT_EQ(mb->h.status, NUB_E_RPC_LENGTH);
	ASSERT_EQ(mb->h.resp_seq, 9);

	mb->h.seq = 10;
	mb->h.fn_id = 151;
	mb->h.req_len = 0;
	mb->h.status = 0xABCD;
	guest_rpc_serve_one(mb);
	ASSERT_EQ(mb->h.status, 0xABCD); /* raw reply: header left to the handler */
	ASSERT_EQ(mb->h.resp_seq, 9);
	free(mb);
}

int main(void)
{
	arena = aligned_alloc(4096, ARENA);
	if (!arena)
		return 1;
	RUN(heap_align_zero_stats);
	RUN(heap_exhaustion);
	RUN(heap_double_free_caught);
	RUN(heap_random_no_overlap);
	RUN(capdir_insert_get_full);
	RUN(dispatch_table);
	free(arena);
	return test_done();
}
