/* fuzz_host_op.c: libFuzzer target: the HOST_CALL requests of the host-call
 * mailbox protocol (abi.h NubHostOp; cap_core_host_start / _op / _abandon,
 * what the kvm guest runs on requests its host wrote into shared memory),
 * over a small store of its own holding one program: a loop of `ecalli 1`
 * (phi7 rounds) with a 2-page writable and a 1-page read-only mapping.
 * Input: records [kind u8][NubHostOp 128 B][data_len u16 LE][data], kind % 4:
 * 0 HOST_CALL (op, data), 1 INVOKE_HOST again (args[0] = op.len % 64,
 * initial_gas = op.gas), 2 abandon, 3 HOST_CALL with a short resp buffer.
 * Invariants (abort on violation): nothing suspended -> NUB_E_INVALID_ARG and
 * no reply; *resp_len never past the buffer; READ: exactly len bytes when OK,
 * none otherwise; ANSWER: a whole NubHostStep, CALL exactly while an
 * invocation stays suspended, DONE after it ended; WRITE/CHECK/ABORT: no
 * reply; at the end every allocation of the store is given back (no
 * invocation leaks pages or its program reference). */
#include <stdlib.h>
#include <string.h>

#include "cap/cap_core.h"
#include "nub/nub.h"
#include "nub/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- a minimal store: a few entries, malloc, no lock -------------------- */
#define MAX_ENTRIES 8
static cap_entry *entries[MAX_ENTRIES];
static unsigned n_entries;
static long live_allocs;

static cap_entry *st_get(cap_store *s, const uint8_t hash[NUB_CAP_HASH_LEN])
{
	(void)s;
	for (unsigned i = 0; i < n_entries; i++)
		if (!memcmp(entries[i]->hash, hash, NUB_CAP_HASH_LEN))
			return entries[i];
	return NULL;
}

static nub_err st_insert(cap_store *s, cap_entry *e)
{
	(void)s;
	if (n_entries == MAX_ENTRIES)
		return NUB_E_STORE_FULL;
	entries[n_entries++] = e;
	return NUB_E_OK;
}

static void st_foreach(cap_store *s, void (*fn)(cap_entry *e, void *ctx), void *ctx)
{
	(void)s;
	for (unsigned i = 0; i < n_entries; i++)
		fn(entries[i], ctx);
}

static void *st_alloc(cap_store *s, size_t size, size_t align, nub_err *err)
{
	(void)s;
	size_t a = align < sizeof(void *) ? sizeof(void *) : align;
	void *p = aligned_alloc(a, (size + a - 1) & ~(a - 1));
	if (!p) {
		*err = NUB_E_NOMEM;
		return NULL;
	}
	memset(p, 0, size);
	live_allocs++;
	return p;
}

static void st_free(cap_store *s, void *p, size_t size)
{
	(void)s;
	(void)size;
	free(p);
	live_allocs--;
}

static const cap_store_ops ops = {
	.get = st_get, .insert = st_insert, .foreach = st_foreach, .alloc = st_alloc, .free = st_free,
};
static cap_store store = {.ops = &ops, .invocation_pages = 64};
static uint8_t inst[NUB_CAP_HASH_LEN];

/* @0 ecalli 1; @2 add_imm_64 r7,r7,-1; @5 branch_ne_imm r7,0,@0; @8 jump_ind r0 */
static const uint8_t loop_blob[] = {0, 0, 10, 10, 1, 149, 0x77, 0xFF, 82, 0x07, 0xFB, 50, 0x00, 0x25, 0x01};

static nub_err put(const nub_cap_buf *b, uint8_t h[NUB_CAP_HASH_LEN])
{
	return cap_core_put(&store, b->bytes, b->len, false, h);
}

static void setup(void)
{
	nub_endpoint ep;
	memset(&ep, 0, sizeof ep);
	ep.regs[0] = NUB_HALT_ADDR;
	nub_mapping m[2] = {{0x20000, 2, 0, true}, {0x30000, 1, 1, false}};
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = loop_blob, .code_len = sizeof loop_blob,
	                    .endpoints = &ep, .endpoint_count = 1, .mappings = m, .mapping_count = 2};
	nub_cap_buf b;
	uint8_t img[NUB_CAP_HASH_LEN], d0[NUB_CAP_HASH_LEN], d1[NUB_CAP_HASH_LEN];
	static uint8_t page[4096];
	memset(page, 0x5A, sizeof page);
	if (nub_cap_image(&d, &b) || put(&b, img))
		abort();
	nub_cap_buf_free(&b);
	if (nub_cap_data("hello", 5, &b) || put(&b, d0))
		abort();
	nub_cap_buf_free(&b);
	if (nub_cap_data(page, sizeof page, &b) || put(&b, d1)) /* a page: shared copy-on-write frames */
		abort();
	nub_cap_buf_free(&b);
	nub_slot s[2];
	memset(s, 0, sizeof s);
	memcpy(s[0].hash, d0, sizeof d0);
	s[1].index = 1;
	memcpy(s[1].hash, d1, sizeof d1);
	if (nub_cap_instance(img, s, 2, &b) || put(&b, inst))
		abort();
	nub_cap_buf_free(&b);
}

static void check_step(const cap_host_susp *h, nub_err e, uint32_t n, const uint8_t *resp)
{
	NubHostStep st;
	if (n != sizeof st)
		abort();
	memcpy(&st, resp, sizeof st);
	if (st.state == NUB_HOST_STEP_CALL) {
		if (!h->active || e != NUB_E_OK || st.number != 1)
			abort();
	} else if (st.state != NUB_HOST_STEP_DONE || h->active) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static long base_allocs;
	static cap_host_susp h;
	if (!ready) {
		setup();
		/* the first invocation decodes and caches the program: counted
		 * in the baseline */
		InvokePacket p0;
		NubHostStep s0;
		memset(&p0, 0, sizeof p0);
		memcpy(p0.instance_hash, inst, sizeof inst);
		p0.initial_gas = 10;
		p0.args[0] = 1;
		if (cap_core_host_start(&store, &h, &p0, &s0) != NUB_E_OK)
			abort();
		cap_core_host_abandon(&h);
		ready = true;
		base_allocs = live_allocs;
	}
	static uint8_t resp[NUB_RPC_RESP_CAP];
	InvokePacket p;
	memset(&p, 0, sizeof p);
	memcpy(p.instance_hash, inst, sizeof inst);
	p.initial_gas = 1000;
	p.args[0] = 5;
	NubHostStep first;
	nub_err e = cap_core_host_start(&store, &h, &p, &first);
	if (e || first.state != NUB_HOST_STEP_CALL || !h.active)
		abort();
	while (size >= 1 + sizeof(NubHostOp) + 2) {
		uint8_t kind = data[0] % 4;
		NubHostOp op;
		memcpy(&op, data + 1, sizeof op);
		uint16_t dl;
		memcpy(&dl, data + 1 + sizeof op, 2);
		data += 1 + sizeof op + 2;
		size -= 1 + sizeof op + 2;
		if (dl > size)
			dl = (uint16_t)size;
		const uint8_t *d = data;
		data += dl;
		size -= dl;
		if (kind == 1) {
			p.args[0] = op.len % 64;
			p.initial_gas = op.gas;
			uint32_t n = sizeof first;
			e = cap_core_host_start(&store, &h, &p, &first);
			check_step(&h, e, n, (const uint8_t *)&first);
			continue;
		}
		if (kind == 2) {
			cap_core_host_abandon(&h);
			if (h.active)
				abort();
			continue;
		}
		bool was = h.active;
		uint32_t cap = kind == 3 ? op.addr % 300 : (uint32_t)sizeof resp, n = 0xDEAD;
		e = cap_core_host_op(&h, &op, d, dl, resp, cap, &n);
		if (n > cap)
			abort();
		if (!was) {
			if (e != NUB_E_INVALID_ARG || n != 0 || h.active)
				abort();
			continue;
		}
		switch (op.op) {
		case NUB_HOST_OP_READ:
			if (e == NUB_E_OK ? n != op.len : n != 0)
				abort();
			break;
		case NUB_HOST_OP_ANSWER:
			if (n == 0) {
				if (e != NUB_E_INVALID_ARG || !h.active)
					abort(); /* refused: nothing changed */
			} else {
				check_step(&h, e, n, resp);
			}
			break;
		default:
			if (n != 0)
				abort();
			if (op.op == NUB_HOST_OP_ABORT && !dl && (e != NUB_E_OK || h.active))
				abort();
			if (op.op > NUB_HOST_OP_ABORT && e != NUB_E_INVALID_ARG)
				abort();
			break;
		}
	}
	cap_core_host_abandon(&h);
	if (live_allocs != base_allocs)
		abort(); /* an invocation kept something */
	return 0;
}
