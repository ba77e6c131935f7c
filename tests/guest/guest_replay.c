/* guest_replay.c: "replay" mode: send a recorded request stream (a
 * Multiboot module, format in tests/guest/guest_record.h) through the
 * mailbox like a host, and print one "T" line per request, the same line
 * guest_ref printed for the local backend. Every record is bounds-checked
 * against the module; a malformed stream stops with an explicit error. */
#include "cap/blake2b.h"
#include "guest_test.h"
#include "guest_record.h"

unsigned guest_replay(const uint8_t *mod, size_t len)
{
	static uint8_t resp[NUB_RPC_RESP_CAP];
	uint64_t magic;
	if (len < 8 || (memcpy(&magic, mod, 8), magic != GUEST_RECORD_MAGIC)) {
		guest_log("REPLAY error: module is no request record (len %zu)\n", len);
		return 1;
	}
	unsigned fails = 0, index = 0;
	for (size_t off = 8; off < len; index++) {
		uint32_t hdr[2];
		if (len - off < sizeof hdr) {
			guest_log("REPLAY error: truncated record header at %zu\n", off);
			return fails + 1;
		}
		memcpy(hdr, mod + off, sizeof hdr);
		off += sizeof hdr;
		size_t padded = ((size_t)hdr[1] + 7u) & ~(size_t)7u;
		if (hdr[1] > NUB_RPC_REQ_CAP || padded > len - off) {
			guest_log("REPLAY error: record %u (%u bytes) overruns the module\n", index, hdr[1]);
			return fails + 1;
		}
		uint32_t rlen = 0;
		bool bad = false;
		nub_err st = guest_host_call(hdr[0], mod + off, hdr[1], resp, sizeof resp, &rlen, &bad);
		if (bad)
			fails++;
		uint8_t d[32];
		blake2b_256(resp, rlen, d);
		unsigned long long d64 = 0;
		for (int i = 0; i < 8; i++)
			d64 = d64 << 8 | d[i];
		guest_log(GUEST_RECORD_LINE, index, hdr[0], (unsigned)st, rlen, d64);
		off += padded;
	}
	NubHeapStats hs;
	guest_heap_stats(&hs);
	guest_log("REPLAY DONE requests=%u fails=%u heap_allocated=%llu allocations=%llu fragments=%llu\n", index,
	          fails, (unsigned long long)hs.allocated_bytes, (unsigned long long)hs.allocation_count,
	          (unsigned long long)hs.fragment_count);
	guest_jit_stats js;
	guest_jit_get_stats(&js);
	guest_log("REPLAY JIT ring3_entries=%llu fault_exits=%llu cow_fills=%llu code_bytes=%llu\n",
	          (unsigned long long)js.entries, (unsigned long long)js.exits, (unsigned long long)js.cow_fills,
	          (unsigned long long)js.region_bytes);
	return fails;
}
