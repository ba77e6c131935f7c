/* guest_capdir.c: the cap directory, a fixed open-addressing table in .bss.
 *
 * Layout and lookup rule: nub/rpc.h ("cap directory"); BootInfo publishes
 * its address (directory_va) and NUB_CAPDIR_LAYOUT_V1 (directory_type_id).
 * The table never moves or grows, so a host may read it between RPCs. An
 * entry is filled completely before its state flips to FULL and count grows.
 */
#include "guest/guest.h"

struct guest_capdir_table {
	NubCapDirHeader h;
	NubCapDirEntry e[NUB_CAPDIR_CAPACITY];
} guest_capdir_table __attribute__((aligned(64)));
#define capdir guest_capdir_table

void guest_capdir_init(void)
{
	memset(&capdir, 0, sizeof capdir);
	capdir.h.magic = NUB_CAPDIR_MAGIC;
	capdir.h.capacity = NUB_CAPDIR_CAPACITY;
	capdir.h.entries = (nub_gpa)(uintptr_t)capdir.e;
}

uint64_t guest_capdir_va(void)
{
	return (uint64_t)(uintptr_t)&capdir;
}

static uint32_t slot_of(const uint8_t *hash)
{
	uint64_t h;
	memcpy(&h, hash, sizeof h);
	return (uint32_t)(h & (NUB_CAPDIR_CAPACITY - 1));
}

NubCapDirEntry *guest_capdir_get(const uint8_t hash[NUB_CAP_HASH_LEN])
{
	uint32_t i = slot_of(hash);
	for (uint32_t n = 0; n < NUB_CAPDIR_CAPACITY; n++, i = (i + 1) & (NUB_CAPDIR_CAPACITY - 1)) {
		NubCapDirEntry *e = &capdir.e[i];
		if (e->state == NUB_CAPDIR_EMPTY)
			return NULL;
		if (memcmp(e->hash, hash, NUB_CAP_HASH_LEN) == 0)
			return e;
	}
	return NULL;
}

nub_err guest_capdir_insert(const uint8_t hash[NUB_CAP_HASH_LEN], const uint8_t *bytes, uint32_t len,
                            uint8_t kind, NubCapDirEntry **out)
{
	/* keep one slot empty so every probe sequence ends */
	if (capdir.h.count + 1 >= NUB_CAPDIR_CAPACITY)
		return NUB_E_STORE_FULL;
	uint32_t i = slot_of(hash);
	while (capdir.e[i].state != NUB_CAPDIR_EMPTY)
		i = (i + 1) & (NUB_CAPDIR_CAPACITY - 1);
	NubCapDirEntry *e = &capdir.e[i];
	memcpy(e->hash, hash, NUB_CAP_HASH_LEN);
	e->bytes_gpa = (nub_gpa)(uintptr_t)bytes;
	e->len = len;
	e->kind = kind;
	e->aux = 0;
	__atomic_store_n(&e->state, (uint8_t)NUB_CAPDIR_FULL, __ATOMIC_RELEASE);
	__atomic_store_n(&capdir.h.count, capdir.h.count + 1, __ATOMIC_RELEASE);
	*out = e;
	return NUB_E_OK;
}

void guest_capdir_foreach(void (*fn)(NubCapDirEntry *e, void *ctx), void *ctx)
{
	for (uint32_t i = 0; i < NUB_CAPDIR_CAPACITY; i++)
		if (capdir.e[i].state == NUB_CAPDIR_FULL)
			fn(&capdir.e[i], ctx);
}
