/* vmm_capdir.c: host-side lookup in the guest's cap directory.
 *
 * Reads the table the guest publishes at BootInfo.directory_va (layout
 * NUB_CAPDIR_LAYOUT_V1, rpc.h) between RPCs, through the checked gpa
 * translation only. Every field is re-validated: the layout id and magic,
 * a power-of-two capacity no larger than NUB_CAPDIR_CAPACITY, the entry
 * array right after the header and inside RAM, each probed entry's state,
 * and a FULL entry's bytes range. The probe is bounded by the capacity, so a
 * table without an EMPTY slot cannot loop the host.
 */
#include <string.h>

#include "host/vmm_int.h"

nub_err vmm_capdir_lookup(const vmm *vm, const uint8_t hash[NUB_CAP_HASH_LEN], NubCapDirEntry *out,
                          const uint8_t **bytes)
{
	const BootInfo *bi = &vm->img.boot_info;
	if (bytes)
		*bytes = NULL;
	if (bi->directory_type_id != NUB_CAPDIR_LAYOUT_V1)
		return NUB_E_GUEST_PROTOCOL;
	const NubCapDirHeader *hp = vmm_gpa_to_hva(vm, bi->directory_va, sizeof(NubCapDirHeader));
	if (!hp)
		return NUB_E_GUEST_PROTOCOL;
	NubCapDirHeader hd;
	memcpy(&hd, hp, sizeof hd);
	if (hd.magic != NUB_CAPDIR_MAGIC || hd.capacity == 0 || (hd.capacity & (hd.capacity - 1)) ||
	    hd.capacity > NUB_CAPDIR_CAPACITY || hd.entries != bi->directory_va + sizeof(NubCapDirHeader))
		return NUB_E_GUEST_PROTOCOL;
	const NubCapDirEntry *ents =
		vmm_gpa_to_hva(vm, hd.entries, (uint64_t)hd.capacity * sizeof(NubCapDirEntry));
	if (!ents)
		return NUB_E_GUEST_PROTOCOL;
	uint64_t h0;
	memcpy(&h0, hash, sizeof h0); /* LE host */
	uint32_t mask = hd.capacity - 1;
	for (uint32_t n = 0, i = (uint32_t)(h0 & mask); n < hd.capacity; n++, i = (i + 1) & mask) {
		NubCapDirEntry e;
		memcpy(&e, &ents[i], sizeof e); /* one snapshot: the guest may write the shared copy */
		if (e.state == NUB_CAPDIR_EMPTY)
			return NUB_E_UNKNOWN_INSTANCE;
		if (e.state != NUB_CAPDIR_FULL)
			return NUB_E_GUEST_PROTOCOL;
		if (memcmp(e.hash, hash, NUB_CAP_HASH_LEN) != 0)
			continue;
		const uint8_t *b = vmm_gpa_to_hva(vm, e.bytes_gpa, e.len);
		if (!b)
			return NUB_E_GUEST_PROTOCOL;
		*out = e;
		if (bytes)
			*bytes = b;
		return NUB_E_OK;
	}
	return NUB_E_GUEST_PROTOCOL; /* full table without EMPTY: the guest never builds one */
}
