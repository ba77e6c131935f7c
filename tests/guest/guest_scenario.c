/* guest_scenario.c: the differential scenario (see guest_scenario.h).
 *
 * Programs are hand-assembled generic blobs (deblob format, FORMATS.md
 * section 2); caps are encoded with src/cap's encoders, the same on both
 * sides. Steps: Data/Image/Instance publishing, invocations ending in HALT
 * (with and without a scratchpad), PANIC, OUT_OF_GAS, PAGE_FAULT (unmapped
 * and read-only), HOST_CALL, an spi image, a 3 MiB Data mapped into an
 * image, malformed caps and packets, HEAP_STATS before/after,
 * GET_BOOT_INFO, EVICT_JIT_ALL and re-invocation after it; and the steps
 * that exercise PVM memory under the MMU in the guest (copy-on-write of
 * Image ro/rw and slot data seen fresh by the next invocation, a write to
 * read-only Image data, loads/stores crossing into an unmapped or read-only
 * page, a 64 MiB sbrk with sparse writes).
 */
#include "cap/cap.h"
#include "guest_scenario.h"

/* ---- programs ------------------------------------------------------------ */
/* @0 add_64 r7 = r8 + r9; @3 jump_ind r0 */
static const uint8_t prog_add[] = {0, 0, 5, 200, 0x98, 7, 50, 0x00, 0x09};
/* @0 load_u64 r7,[0x20000]; @6 add_imm_64 r7,r7,1; @9 store_u64 [0x20000],r7; @15 jump_ind r0 */
static const uint8_t prog_counter[] = {0, 0, 17, 58, 0x07, 0x00, 0x00, 0x02, 0x00, 149, 0x77, 0x01,
                                       62, 0x07, 0x00, 0x00, 0x02, 0x00, 50, 0x00, 0x41, 0x82, 0x00};
/* @0 store_u64 [0x30000], r7; @6 jump_ind r0 */
static const uint8_t prog_store_30000[] = {0, 0, 8, 62, 0x07, 0x00, 0x00, 0x03, 0x00, 50, 0x00, 0x41};
/* @0 ecalli 42; @2 jump_ind r0 */
static const uint8_t prog_ecalli[] = {0, 0, 4, 10, 42, 50, 0x00, 0x05};
/* @0 jump @0 */
static const uint8_t prog_forever[] = {0, 0, 2, 40, 0x00, 0x01};
/* @0 load_u64 r7,[0x10000]; @6 jump_ind r0 */
static const uint8_t prog_load_10000[] = {0, 0, 8, 58, 0x07, 0x00, 0x00, 0x01, 0x00, 50, 0x00, 0x41};
/* @0 trap */
static const uint8_t prog_trap[] = {0, 0, 1, 0, 0x01};
/* @0 store_u64 [0x20ffc], r7; @6 load_u64 r7, [0x20ff8]; @12 jump_ind r0 */
static const uint8_t prog_cross[] = {0, 0, 14, 62, 7, 0xFC, 0x0F, 2, 0, 58, 7, 0xF8, 0x0F, 2, 0, 50, 0, 0x41, 0x10};
/* @0 load_u64 r7, [0x20ffc]; @6 jump_ind r0 */
static const uint8_t prog_cross_load[] = {0, 0, 8, 58, 7, 0xFC, 0x0F, 2, 0, 50, 0, 0x41};
/* @0 load_u64 r7, [0x30000]; @6 store_u64 [0x30000], r8; @12 jump_ind r0
 * (0x30000: the rw data of an spi image with at most 64 KiB of ro data) */
static const uint8_t prog_rw_30000[] = {0, 0, 14, 58, 7, 0, 0, 3, 0, 62, 8, 0, 0, 3, 0, 50, 0, 0x41, 0x10};
/* @0 store_u64 [0x10000], r7; @6 jump_ind r0 (spi: ro data) */
static const uint8_t prog_store_10000[] = {0, 0, 8, 62, 0x07, 0x00, 0x00, 0x01, 0x00, 50, 0x00, 0x41};
/* @0 load_imm r9, 0x4000000; @6 sbrk r7, r9; @8 store_ind_u64 [r7], r8;
 * @10 store_ind_u64 [r7 + 0x2000000], r8; @16 store_ind_u64 [r7 + 0x3fffff8], r8;
 * @22 load_ind_u64 r10, [r7 + 0x2000000]; @28 add_64 r7, r7, r10; @31 jump_ind r0 */
static const uint8_t prog_sbrk_sparse[] = {0,   0,    33, 51,  9,   0, 0,   0,    4,    101,  0x97, 123, 0x78, 123,
                                           0x78, 0,   0,  0,   2,   123, 0x78, 0xF8, 0xFF, 0xFF, 3,    130, 0x7A, 0,
                                           0,    0,   2,  200, 0xA7, 7,  50,   0,    0x41, 0x05, 0x41, 0x90, 0};
/* code length 5, truncated */
static const uint8_t prog_bad[] = {0, 0, 5, 1};

/* ---- buffers ---------------------------------------------------------------- */
#define BIG_LEN (3u << 20)
static uint8_t big_raw[BIG_LEN];
static uint8_t enc[BIG_LEN + 64];
static uint8_t published[64][NUB_CAP_HASH_LEN];
static unsigned n_published;

typedef struct {
	const scn_ops *o;
	unsigned lines;
	char buf[512];
	size_t len;
} out;

/* ---- line building (no libc) ---------------------------------------------- */
static void s_(out *w, const char *s)
{
	while (*s && w->len + 1 < sizeof w->buf)
		w->buf[w->len++] = *s++;
}
static void hex_(out *w, const uint8_t *b, size_t n)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n && w->len + 3 < sizeof w->buf; i++) {
		w->buf[w->len++] = d[b[i] >> 4];
		w->buf[w->len++] = d[b[i] & 15];
	}
}
static void u64_(out *w, uint64_t v, unsigned base)
{
	char t[24];
	unsigned n = 0;
	do {
		t[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n && w->len + 1 < sizeof w->buf)
		w->buf[w->len++] = t[--n];
}
static void end_(out *w)
{
	w->buf[w->len] = '\0';
	w->o->line(w->o->ctx, w->buf);
	w->len = 0;
	w->lines++;
}

static const char *err_name(nub_err e)
{
	switch (e) {
#define SCN_ERR_CASE_(name, code, msg) \
	case NUB_E_##name:             \
		return #name;
		NUB_ERRORS(SCN_ERR_CASE_)
#undef SCN_ERR_CASE_
	default:
		return "UNKNOWN";
	}
}

/* ---- steps ------------------------------------------------------------------ */
static void put(out *w, const char *name, const uint8_t *bytes, size_t len, uint8_t hash[NUB_CAP_HASH_LEN])
{
	uint8_t h[NUB_CAP_HASH_LEN] = {0};
	nub_err e = w->o->put_cap(w->o->ctx, bytes, len, h);
	s_(w, "R put ");
	s_(w, name);
	s_(w, " status=");
	s_(w, err_name(e));
	s_(w, " hash=");
	if (e == NUB_E_OK) {
		hex_(w, h, sizeof h);
		if (n_published < 64) {
			for (unsigned i = 0; i < NUB_CAP_HASH_LEN; i++)
				published[n_published][i] = h[i];
			n_published++;
		}
	} else {
		s_(w, "-");
	}
	end_(w);
	if (hash)
		for (unsigned i = 0; i < NUB_CAP_HASH_LEN; i++)
			hash[i] = h[i];
}

static void put_data(out *w, const char *name, const uint8_t *bytes, uint32_t len, uint8_t hash[32])
{
	nub_err e = cap_data_encode(bytes, len, enc, sizeof enc);
	if (e) { /* the encoder itself refused: a scenario bug, say so */
		s_(w, "R encode ");
		s_(w, name);
		s_(w, " failed");
		end_(w);
		return;
	}
	put(w, name, enc, cap_data_encoded_len(len), hash);
}

static void put_image_rw(out *w, const char *name, uint8_t layout, const uint8_t *code, uint32_t code_len,
                         const cap_mapping *maps, uint32_t n_maps, const uint8_t *ro, uint32_t ro_len,
                         const uint8_t *rw, uint32_t rw_len, uint32_t heap_pages, uint32_t stack, uint8_t hash[32])
{
	cap_endpoint ep[2] = {{0, {0}}, {0, {0}}};
	ep[0].regs[0] = NUB_HALT_ADDR;
	ep[1].regs[0] = NUB_HALT_ADDR;
	ep[1].regs[7] = 5; /* endpoint 1 differs only in its registers */
	ep[1].regs[12] = 0x1234;
	cap_image_view v = {0};
	v.layout = layout;
	v.code = code;
	v.code_len = code_len;
	v.endpoint_count = 2;
	v.endpoints = ep;
	v.mapping_count = n_maps;
	v.mappings = maps;
	v.ro = ro;
	v.ro_len = ro_len;
	v.rw = rw;
	v.rw_len = rw_len;
	v.heap_pages = heap_pages;
	v.stack_size = stack;
	nub_err e;
	size_t n = cap_image_encoded_len(&v, &e);
	if (!n || cap_image_encode(&v, enc, sizeof enc) != NUB_E_OK) {
		s_(w, "R encode ");
		s_(w, name);
		s_(w, " failed");
		end_(w);
		return;
	}
	put(w, name, enc, n, hash);
}

static void put_image(out *w, const char *name, uint8_t layout, const uint8_t *code, uint32_t code_len,
                      const cap_mapping *maps, uint32_t n_maps, const uint8_t *ro, uint32_t ro_len,
                      uint32_t stack, uint8_t hash[32])
{
	put_image_rw(w, name, layout, code, code_len, maps, n_maps, ro, ro_len, 0, 0, 0, stack, hash);
}

static void put_instance(out *w, const char *name, const uint8_t image[32], const cap_slot *slots, uint32_t n,
                         uint8_t hash[32])
{
	nub_err e;
	size_t len = cap_instance_encoded_len(n, slots, &e);
	if (!len || cap_instance_encode(image, n, slots, enc, sizeof enc) != NUB_E_OK) {
		s_(w, "R encode ");
		s_(w, name);
		s_(w, " failed");
		end_(w);
		return;
	}
	put(w, name, enc, len, hash);
}

static void invoke(out *w, const char *name, const uint8_t inst[32], uint32_t ep, uint64_t a0, uint64_t a1,
                   uint64_t a2, uint64_t gas, uint32_t pad)
{
	InvokePacket p = {{0}, 0, 0, {0}, 0};
	for (unsigned i = 0; i < 32; i++)
		p.instance_hash[i] = inst[i];
	p.endpoint_idx = ep;
	p._pad = pad;
	p.args[0] = a0;
	p.args[1] = a1;
	p.args[2] = a2;
	p.args[3] = 0;
	p.initial_gas = gas;
	InvocationResult r;
	for (unsigned i = 0; i < sizeof r; i++)
		((uint8_t *)&r)[i] = 0xCC;
	nub_err e = w->o->invoke(w->o->ctx, &p, &r);
	s_(w, "R inv ");
	s_(w, name);
	s_(w, " status=");
	s_(w, err_name(e));
	s_(w, " exit=");
	u64_(w, r.exit_reason, 10);
	s_(w, " arg=0x");
	u64_(w, r.exit_arg, 16);
	s_(w, " ret=0x");
	u64_(w, r.return_value, 16);
	s_(w, " gas=");
	u64_(w, r.gas_remaining, 10);
	s_(w, " head=");
	hex_(w, r.scratchpad_head, SCRATCHPAD_HEAD_LEN);
	end_(w);
}

static void slot1(cap_slot *s, uint8_t idx, const uint8_t h[32])
{
	s->index = idx;
	for (unsigned i = 0; i < 32; i++)
		s->hash[i] = h[i];
}

/* PVM memory under the MMU (guest): copy-on-write, faults, big sbrk. */
static void mmu_steps(out *w, const uint8_t h_cnt_data[32], const uint8_t h_hello[32])
{
	uint8_t h_img[32], h_inst[32];
	cap_slot sl[2];

	/* spi image with ro data and 5000 bytes of rw data (two frames, the
	 * second partly filled): the first invocation reads the published rw
	 * value and overwrites it, the second must read the published value */
	static uint8_t rw[5000];
	for (unsigned i = 0; i < sizeof rw; i++)
		rw[i] = (uint8_t)(i * 7u + 3u);
	static const uint8_t ro[12] = {0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 1, 2, 3, 4};
	put_image_rw(w, "img_spi_rw", NUB_CAP_LAYOUT_SPI, prog_rw_30000, sizeof prog_rw_30000, 0, 0, ro, sizeof ro, rw,
	             sizeof rw, 3, 4096, h_img);
	put_instance(w, "inst_spi_rw", h_img, 0, 0, h_inst);
	invoke(w, "cow_spi_rw_first", h_inst, 0, 0, 0xAAAABBBBCCCCDDDDull, 0, 100, 0);
	invoke(w, "cow_spi_rw_second", h_inst, 0, 0, 0x1111, 0, 100, 0);
	/* a write to the image's read-only data: PAGE_FAULT at 0x10000 */
	put_image_rw(w, "img_spi_ro_write", NUB_CAP_LAYOUT_SPI, prog_store_10000, sizeof prog_store_10000, 0, 0, ro,
	             sizeof ro, rw, sizeof rw, 0, 4096, h_img);
	put_instance(w, "inst_spi_ro_write", h_img, 0, 0, h_inst);
	invoke(w, "spi_ro_write_fault", h_inst, 0, 0x5555, 0, 0, 100, 0);
	invoke(w, "spi_ro_write_fault_again", h_inst, 0, 0x5555, 0, 0, 100, 0);
	/* the same fault in a run that cannot be pre-charged (checked mode),
	 * pre-charged exactly, and with no gas at all */
	invoke(w, "spi_ro_write_fault_gas1", h_inst, 0, 0x5555, 0, 0, 1, 0);
	invoke(w, "spi_ro_write_fault_gas2", h_inst, 0, 0x5555, 0, 0, 2, 0);
	invoke(w, "spi_ro_write_fault_gas0", h_inst, 0, 0x5555, 0, 0, 0, 0);

	/* slot data, written through a writable mapping, twice: both runs see
	 * the published "hello" (a partly filled frame) */
	cap_mapping m_w = {0x20000, 1, 0, NUB_CAP_MAPPING_WRITABLE};
	put_image(w, "img_counter_hello", NUB_CAP_LAYOUT_BARE, prog_counter, sizeof prog_counter, &m_w, 1, 0, 0, 0,
	          h_img);
	slot1(&sl[0], 0, h_hello);
	put_instance(w, "inst_counter_hello", h_img, sl, 1, h_inst);
	invoke(w, "cow_slot_first", h_inst, 0, 0, 0, 0, 100, 0);
	invoke(w, "cow_slot_second", h_inst, 0, 0, 0, 0, 100, 0);

	/* crossing a page boundary at 0x21000 */
	put_image(w, "img_cross_1page", NUB_CAP_LAYOUT_BARE, prog_cross, sizeof prog_cross, &m_w, 1, 0, 0, 0, h_img);
	slot1(&sl[0], 0, h_cnt_data);
	put_instance(w, "inst_cross_1page", h_img, sl, 1, h_inst);
	invoke(w, "cross_store_into_unmapped", h_inst, 0, 0xDEADBEEFCAFEF00Dull, 0, 0, 100, 0);
	invoke(w, "cross_store_into_unmapped_gas1", h_inst, 0, 0xDEADBEEFCAFEF00Dull, 0, 0, 1, 0);
	put_image(w, "img_cross_load", NUB_CAP_LAYOUT_BARE, prog_cross_load, sizeof prog_cross_load, &m_w, 1, 0, 0, 0,
	          h_img);
	put_instance(w, "inst_cross_load", h_img, sl, 1, h_inst);
	invoke(w, "cross_load_into_unmapped", h_inst, 0, 0, 0, 0, 100, 0);
	cap_mapping m_w2 = {0x20000, 2, 0, NUB_CAP_MAPPING_WRITABLE};
	put_image(w, "img_cross_2pages", NUB_CAP_LAYOUT_BARE, prog_cross, sizeof prog_cross, &m_w2, 1, 0, 0, 0, h_img);
	put_instance(w, "inst_cross_2pages", h_img, sl, 1, h_inst);
	invoke(w, "cross_store_ok", h_inst, 0, 0xDEADBEEFCAFEF00Dull, 0, 0, 100, 0);
	cap_mapping m_rorw[2] = {{0x20000, 1, 0, 0}, {0x21000, 1, 1, NUB_CAP_MAPPING_WRITABLE}};
	put_image(w, "img_cross_ro_rw", NUB_CAP_LAYOUT_BARE, prog_cross, sizeof prog_cross, m_rorw, 2, 0, 0, 0, h_img);
	slot1(&sl[1], 1, h_hello);
	put_instance(w, "inst_cross_ro_rw", h_img, sl, 2, h_inst);
	invoke(w, "cross_store_from_readonly", h_inst, 0, 0xDEADBEEFCAFEF00Dull, 0, 0, 100, 0);

	/* 64 MiB of sbrk (bare: the heap starts at 0x21000), three sparse
	 * writes, one read back; then the same run out of gas, and halted */
	put_image(w, "img_sbrk_sparse", NUB_CAP_LAYOUT_BARE, prog_sbrk_sparse, sizeof prog_sbrk_sparse, &m_w, 1, 0, 0, 0,
	          h_img);
	put_instance(w, "inst_sbrk_sparse", h_img, sl, 1, h_inst);
	invoke(w, "sbrk_sparse", h_inst, 0, 0, 0x0102030405060708ull, 0, 100, 0);
	invoke(w, "sbrk_sparse_gas4", h_inst, 0, 0, 0x0102030405060708ull, 0, 4, 0);
}

unsigned scn_run(const scn_ops *o)
{
	out w0 = {o, 0, {0}, 0}, *w = &w0;
	n_published = 0;
	uint8_t h_cnt_data[32], h_hello[32], h_img_cnt[32], h_inst_cnt[32], h_img_add[32], h_inst_add[32];
	uint8_t h_img[32], h_inst[32], h_big[32], h_unpub[32], h_tmp[32];
	cap_slot sl[2];

	NubHeapStats before, after;
	nub_err hs0 = o->heap_stats(o->ctx, &before);
	s_(w, "R heap_before status=");
	s_(w, err_name(hs0));
	end_(w);

	/* Data, Image, Instance, then invocations of the counter (scratchpad) */
	uint8_t c41[8] = {41, 0, 0, 0, 0, 0, 0, 0};
	put_data(w, "data_counter", c41, 8, h_cnt_data);
	put_data(w, "data_hello", (const uint8_t *)"hello", 5, h_hello);
	put_data(w, "data_empty", (const uint8_t *)"", 0, h_tmp);
	cap_mapping m_cnt = {0x20000, 1, 0, NUB_CAP_MAPPING_WRITABLE};
	put_image(w, "img_counter", NUB_CAP_LAYOUT_BARE, prog_counter, sizeof prog_counter, &m_cnt, 1, 0, 0, 0,
	          h_img_cnt);
	slot1(&sl[0], 0, h_cnt_data);
	put_instance(w, "inst_counter", h_img_cnt, sl, 1, h_inst_cnt);
	invoke(w, "counter", h_inst_cnt, 0, 0, 0, 0, 1000, 0);
	invoke(w, "counter_fresh_frame", h_inst_cnt, 0, 0, 0, 0, 1000, 0);
	invoke(w, "counter_ep1", h_inst_cnt, 1, 0, 0, 0, 3, 0);
	invoke(w, "counter_gas2", h_inst_cnt, 0, 0, 0, 0, 2, 0);
	put(w, "inst_counter_again", enc, 0, 0); /* empty payload */

	/* add: args overlay phi7..phi9 */
	put_image(w, "img_add", NUB_CAP_LAYOUT_BARE, prog_add, sizeof prog_add, 0, 0, 0, 0, 0, h_img_add);
	put_instance(w, "inst_add", h_img_add, 0, 0, h_inst_add);
	invoke(w, "add", h_inst_add, 0, 1, 0x1000000007ull, 0xFFFFFFFFFFFFFFF0ull, 100, 0);
	invoke(w, "add_ep1", h_inst_add, 1, 1, 2, 3, 100, 0);

	put_image(w, "img_trap", NUB_CAP_LAYOUT_BARE, prog_trap, sizeof prog_trap, 0, 0, 0, 0, 0, h_img);
	put_instance(w, "inst_trap", h_img, 0, 0, h_inst);
	invoke(w, "panic", h_inst, 0, 0, 0, 0, 100, 0);

	put_image(w, "img_forever", NUB_CAP_LAYOUT_BARE, prog_forever, sizeof prog_forever, 0, 0, 0, 0, 0, h_img);
	put_instance(w, "inst_forever", h_img, 0, 0, h_inst);
	invoke(w, "out_of_gas", h_inst, 0, 0, 0, 0, 1000, 0);

	put_image(w, "img_store", NUB_CAP_LAYOUT_BARE, prog_store_30000, sizeof prog_store_30000, 0, 0, 0, 0, 0,
	          h_img);
	put_instance(w, "inst_store", h_img, 0, 0, h_inst);
	invoke(w, "page_fault_unmapped", h_inst, 0, 77, 0, 0, 100, 0);

	cap_mapping m_ro = {0x30000, 1, 1, 0};
	put_image(w, "img_store_ro", NUB_CAP_LAYOUT_BARE, prog_store_30000, sizeof prog_store_30000, &m_ro, 1, 0, 0,
	          0, h_img);
	slot1(&sl[0], 1, h_hello);
	put_instance(w, "inst_store_ro", h_img, sl, 1, h_inst);
	invoke(w, "page_fault_readonly", h_inst, 0, 77, 0, 0, 100, 0);

	put_image(w, "img_ecalli", NUB_CAP_LAYOUT_BARE, prog_ecalli, sizeof prog_ecalli, 0, 0, 0, 0, 0, h_img);
	put_instance(w, "inst_ecalli", h_img, 0, 0, h_inst);
	invoke(w, "host_call", h_inst, 0, 9, 0, 0, 100, 0);

	/* spi: ro data at 0x10000 */
	uint8_t ro[8] = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
	put_image(w, "img_spi", NUB_CAP_LAYOUT_SPI, prog_load_10000, sizeof prog_load_10000, 0, 0, ro, 8, 4096,
	          h_img);
	put_instance(w, "inst_spi", h_img, 0, 0, h_inst);
	invoke(w, "spi_halt", h_inst, 0, 0, 0, 0, 100, 0);

	/* a 3 MiB Data (one PUT_CAP of a few MiB) mapped read-only at 0x10000
	 * as slot 0, so the scratchpad head shows its first bytes */
	for (uint32_t i = 0; i < BIG_LEN; i++)
		big_raw[i] = (uint8_t)(i * 131u + (i >> 9));
	put_data(w, "data_big", big_raw, BIG_LEN, h_big);
	cap_mapping m_big = {0x10000, BIG_LEN / 4096, 0, 0};
	put_image(w, "img_big", NUB_CAP_LAYOUT_BARE, prog_load_10000, sizeof prog_load_10000, &m_big, 1, 0, 0, 0,
	          h_img);
	slot1(&sl[0], 0, h_big);
	put_instance(w, "inst_big", h_img, sl, 1, h_inst);
	invoke(w, "big_halt", h_inst, 0, 0, 0, 0, 100, 0);

	/* malformed caps: each is refused, and the next call still works */
	static const uint8_t junk[] = {9, 1, 0};
	put(w, "bad_kind", junk, sizeof junk, 0);
	static const uint8_t trunc[] = {2, 1, 5, 0, 0, 0, 'h'};
	put(w, "bad_truncated", trunc, sizeof trunc, 0);
	static const uint8_t trailing[] = {2, 1, 1, 0, 0, 0, 'h', 'i'};
	put(w, "bad_trailing", trailing, sizeof trailing, 0);
	static const uint8_t version[] = {2, 7, 0, 0, 0, 0};
	put(w, "bad_version", version, sizeof version, 0);
	put(w, "bad_one_byte", junk, 1, 0);
	put_image(w, "bad_code", NUB_CAP_LAYOUT_BARE, prog_bad, sizeof prog_bad, 0, 0, 0, 0, 0, 0);
	for (unsigned i = 0; i < 32; i++)
		h_unpub[i] = (uint8_t)(0x42 + i);
	slot1(&sl[0], 0, h_unpub);
	put_instance(w, "bad_dangling_slot", h_img_cnt, sl, 1, 0);
	put_instance(w, "bad_dangling_image", h_unpub, 0, 0, 0);
	put_instance(w, "bad_image_is_data", h_hello, 0, 0, 0);
	put_instance(w, "bad_slot_missing", h_img_cnt, 0, 0, 0);
	slot1(&sl[0], 0, h_big);
	put_instance(w, "bad_data_too_large", h_img_cnt, sl, 1, 0);
	slot1(&sl[0], 0, h_cnt_data);
	put_instance(w, "inst_counter_republished", h_img_cnt, sl, 1, 0);

	/* malformed invocations */
	invoke(w, "unknown_instance", h_unpub, 0, 0, 0, 0, 100, 0);
	invoke(w, "not_instance", h_hello, 0, 0, 0, 0, 100, 0);
	invoke(w, "bad_endpoint", h_inst_cnt, 2, 0, 0, 0, 100, 0);
	invoke(w, "bad_pad", h_inst_cnt, 0, 0, 0, 0, 100, 1);
	invoke(w, "bad_gas", h_inst_cnt, 0, 0, 0, 0, 0x8000000000000000ull, 0);
	invoke(w, "max_gas", h_inst_add, 0, 0, 1, 2, 0x7FFFFFFFFFFFFFFFull, 0);

	mmu_steps(w, h_cnt_data, h_hello);

	nub_err hs1 = o->heap_stats(o->ctx, &after);
	s_(w, "R heap_after status=");
	s_(w, err_name(hs1));
	s_(w, " allocated_grew=");
	u64_(w, after.allocated_bytes > before.allocated_bytes, 10);
	s_(w, " count_grew=");
	u64_(w, after.allocation_count > before.allocation_count, 10);
	s_(w, " available_shrank=");
	u64_(w, after.available_bytes < before.available_bytes, 10);
	s_(w, " grew_by_big_data=");
	u64_(w, after.allocated_bytes - before.allocated_bytes >= BIG_LEN, 10);
	end_(w);

	BootInfo bi;
	for (unsigned i = 0; i < sizeof bi; i++)
		((uint8_t *)&bi)[i] = 0xEE;
	nub_err be = o->boot_info(o->ctx, &bi);
	s_(w, "R boot_info status=");
	s_(w, err_name(be));
	s_(w, " magic=0x");
	u64_(w, bi.magic, 16);
	end_(w);

	nub_err ee = o->evict(o->ctx);
	s_(w, "R evict status=");
	s_(w, err_name(ee));
	end_(w);
	invoke(w, "counter_after_evict", h_inst_cnt, 0, 0, 0, 0, 1000, 0);
	invoke(w, "add_after_evict", h_inst_add, 0, 1, 2, 3, 100, 0);
	ee = o->evict(o->ctx);
	s_(w, "R evict_again status=");
	s_(w, err_name(ee));
	end_(w);
	return w->lines;
}

const uint8_t (*scn_published(unsigned *n))[NUB_CAP_HASH_LEN]
{
	*n = n_published;
	return (const uint8_t(*)[NUB_CAP_HASH_LEN])published;
}
