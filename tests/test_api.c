/* test_api.c: the public API on the local backend: open/backends, PUT_CAP
 * checks, invocations of hand-assembled programs, isolation between
 * invocations, stats, eviction, timeouts, threads. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "local/local_backend.h"
#include "nub/nub.h"
#include "pvm/pvm.h"
#include "test.h"

/* Test hook: Images whose decoded program the local sandbox caches. */
static size_t local_cached_programs(nub_sandbox *sb)
{
	local_backend *lb = sb->impl;
	pthread_mutex_lock(&lb->lock);
	size_t n = lb->store.cached_programs;
	pthread_mutex_unlock(&lb->lock);
	return n;
}

/* ---- hand-assembled programs (deblob format, FORMATS.md section 2) -------- */

/* @0 add_64 r7 = r8 + r9 (200, regs 0x98, rD 7); @3 jump_ind r0 + 0 (50). */
static const uint8_t prog_add[] = {0, 0, 5, 200, 0x98, 7, 50, 0x00, 0x09};

/* Counter at 0x20000: @0 load_u64 r7,[0x20000]; @6 add_imm_64 r7,r7,1;
 * @9 store_u64 [0x20000],r7; @15 jump_ind r0. Bitmask bits 0,6,9,15. */
static const uint8_t prog_counter[] = {0, 0, 17, 58, 0x07, 0x00, 0x00, 0x02, 0x00, 149, 0x77, 0x01,
                                       62, 0x07, 0x00, 0x00, 0x02, 0x00, 50, 0x00, 0x41, 0x82, 0x00};

/* @0 store_u64 [0x30000], r7; @6 jump_ind r0. Bits 0,6. */
static const uint8_t prog_store_30000[] = {0, 0, 8, 62, 0x07, 0x00, 0x00, 0x03, 0x00, 50, 0x00, 0x41};

/* @0 ecalli 42; @2 jump_ind r0. Bits 0,2. */
static const uint8_t prog_ecalli[] = {0, 0, 4, 10, 42, 50, 0x00, 0x05};

/* Count r7 down to 0: @0 add_imm_64 r7,r7,-1; @3 branch_ne_imm r7,0,@0;
 * @6 jump_ind r0. Bits 0,3,6. 2 gas per iteration + 1. */
static const uint8_t prog_countdown[] = {0, 0, 8, 149, 0x77, 0xFF, 82, 0x07, 0xFD, 50, 0x00, 0x49};

/* @0 jump @0: loops forever. */
static const uint8_t prog_forever[] = {0, 0, 2, 40, 0x00, 0x01};

/* @0 load_u64 r7,[0x10000]; @6 jump_ind r0. Bits 0,6. */
static const uint8_t prog_load_ro[] = {0, 0, 8, 58, 0x07, 0x00, 0x00, 0x01, 0x00, 50, 0x00, 0x41};

static nub_endpoint halt_endpoint(uint32_t pc)
{
	nub_endpoint e;
	memset(&e, 0, sizeof e);
	e.pc = pc;
	e.regs[0] = NUB_HALT_ADDR;
	return e;
}

static nub_sandbox *open_local(void)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	nub_sandbox *sb = NULL;
	if (nub_open(&o, &sb) != NUB_E_OK)
		return NULL;
	return sb;
}

static nub_err put_buf(nub_sandbox *sb, nub_cap_buf *b, uint8_t hash[32])
{
	nub_err e = nub_put_cap(sb, b->bytes, b->len, hash);
	nub_cap_buf_free(b);
	return e;
}

static nub_err put_data(nub_sandbox *sb, const void *bytes, size_t len, uint8_t hash[32])
{
	nub_cap_buf b;
	nub_err e = nub_cap_data(bytes, len, &b);
	return e ? e : put_buf(sb, &b, hash);
}

static nub_err put_bare_image(nub_sandbox *sb, const uint8_t *code, size_t code_len, const nub_mapping *maps,
                              size_t n_maps, uint8_t hash[32])
{
	nub_endpoint ep = halt_endpoint(0);
	nub_image_desc d = {
		.layout = NUB_LAYOUT_BARE,
		.code = code,
		.code_len = code_len,
		.endpoints = &ep,
		.endpoint_count = 1,
		.mappings = maps,
		.mapping_count = n_maps,
	};
	nub_cap_buf b;
	nub_err e = nub_cap_image(&d, &b);
	return e ? e : put_buf(sb, &b, hash);
}

static nub_err put_instance(nub_sandbox *sb, const uint8_t image[32], const nub_slot *slots, size_t n,
                            uint8_t hash[32])
{
	nub_cap_buf b;
	nub_err e = nub_cap_instance(image, slots, n, &b);
	return e ? e : put_buf(sb, &b, hash);
}

static InvokePacket packet(const uint8_t inst[32], uint64_t gas)
{
	InvokePacket p;
	memset(&p, 0, sizeof p);
	memcpy(p.instance_hash, inst, 32);
	p.initial_gas = gas;
	return p;
}

/* ---- backends ------------------------------------------------------------ */
TEST(kvm_backend_named_error)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_KVM;
	nub_sandbox *sb = (nub_sandbox *)&o; /* must be reset to NULL on failure */
	nub_err e = nub_open(&o, &sb);
	if (access("/dev/kvm", R_OK | W_OK) == 0 && e != NUB_E_KVM_NO_HW_VIRT) {
		/* a real KVM: the sandbox boots (tests/kvm_in_qemu_test.sh covers it) */
		ASSERT_EQ(e, NUB_E_OK);
		ASSERT_EQ(nub_sandbox_backend(sb), NUB_BACKEND_KVM);
		nub_close(sb);
		return;
	}
	ASSERT_TRUE(sb == NULL);
	/* none, or a paravirtual one (kvm-pvm: no VMX/SVM in CPUID) */
	ASSERT_EQ(e, access("/dev/kvm", R_OK | W_OK) == 0 ? NUB_E_KVM_NO_HW_VIRT : NUB_E_KVM_UNAVAILABLE);
	ASSERT_TRUE(strstr(nub_strerror(e), "kvm backend") != NULL);
}

struct notice_log {
	int calls;
	char last[256];
};

static void record_notice(void *ctx, const char *msg)
{
	struct notice_log *l = ctx;
	l->calls++;
	snprintf(l->last, sizeof l->last, "%s", msg);
}

TEST(auto_falls_back_loudly)
{
	struct notice_log log = {0};
	nub_options o;
	nub_options_init(&o);
	o.notice = record_notice;
	o.notice_ctx = &log;
	nub_sandbox *sb;
	/* where /dev/kvm works, auto is kvm and says nothing */
	nub_options k = o;
	k.backend = NUB_BACKEND_KVM;
	bool kvm = nub_open(&k, &sb) == NUB_E_OK;
	if (kvm)
		nub_close(sb);
	ASSERT_EQ(log.calls, 0);
	ASSERT_EQ(nub_open(&o, &sb), NUB_E_OK);
	ASSERT_EQ(nub_sandbox_backend(sb), kvm ? NUB_BACKEND_KVM : NUB_BACKEND_LOCAL);
	ASSERT_EQ(log.calls, kvm ? 0 : 1);
	if (!kvm) {
		ASSERT_TRUE(strstr(log.last, "local") != NULL);
		ASSERT_TRUE(strstr(log.last, "kvm backend") != NULL);
	}
	nub_close(sb);
	/* local explicitly: no notice. */
	o.backend = NUB_BACKEND_LOCAL;
	ASSERT_EQ(nub_open(&o, &sb), NUB_E_OK);
	ASSERT_EQ(log.calls, kvm ? 0 : 1);
	nub_close(sb);
}

TEST(open_option_errors)
{
	nub_options o;
	nub_sandbox *sb;
	nub_options_init(&o);
	o.backend = (nub_backend)7;
	ASSERT_EQ(nub_open(&o, &sb), NUB_E_BAD_BACKEND);
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	o.vcpus = MAX_EXECUTION_LANES + 1;
	ASSERT_EQ(nub_open(&o, &sb), NUB_E_INVALID_ARG);
	o.vcpus = MAX_EXECUTION_LANES;
	o.memory_bytes = 1000;
	ASSERT_EQ(nub_open(&o, &sb), NUB_E_INVALID_ARG);
	ASSERT_EQ(nub_open(&o, NULL), NUB_E_INVALID_ARG);
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	o.host_calls = (nub_host_calls_mode)2;
	ASSERT_EQ(nub_open(&o, &sb), NUB_E_INVALID_ARG);
	nub_backend b;
	ASSERT_EQ(nub_backend_parse("kvm", &b), NUB_E_OK);
	ASSERT_EQ(b, NUB_BACKEND_KVM);
	ASSERT_EQ(nub_backend_parse("local", &b), NUB_E_OK);
	ASSERT_EQ(b, NUB_BACKEND_LOCAL);
	ASSERT_EQ(nub_backend_parse("qemu", &b), NUB_E_BAD_BACKEND);
	nub_close(NULL);
}

/* ---- PUT_CAP ------------------------------------------------------------- */
TEST(put_cap_checks)
{
	nub_sandbox *sb = open_local();
	ASSERT_TRUE(sb != NULL);
	uint8_t d1[32], d2[32], img[32], inst[32], h[32];
	nub_mapping maps[2] = {{0x20000, 1, 0, true}, {0x30000, 1, 1, false}};
	ASSERT_EQ(put_bare_image(sb, prog_counter, sizeof prog_counter, maps, 2, img), NUB_E_OK);
	/* The returned hash is BLAKE2b-256 of the encoding. */
	{
		nub_cap_buf b;
		ASSERT_EQ(nub_cap_data("abc", 3, &b), NUB_E_OK);
		uint8_t want[32];
		nub_cap_hash(b.bytes, b.len, want);
		ASSERT_EQ(put_buf(sb, &b, d1), NUB_E_OK);
		ASSERT_MEM_EQ(d1, want, 32);
	}
	nub_slot slots[2] = {{0, {0}}, {1, {0}}};
	memcpy(slots[0].hash, d1, 32);
	/* slot 1's Data not yet published: CapHasRefError. */
	ASSERT_EQ(put_data(sb, "zz", 2, d2), NUB_E_OK);
	uint8_t never[32];
	memset(never, 0x42, 32);
	memcpy(slots[1].hash, never, 32);
	ASSERT_EQ(put_instance(sb, img, slots, 2, inst), NUB_E_CAP_HAS_REF);
	ASSERT_EQ(put_instance(sb, never, slots, 1, inst), NUB_E_CAP_HAS_REF);
	memcpy(slots[1].hash, img, 32);
	ASSERT_EQ(put_instance(sb, img, slots, 2, inst), NUB_E_CAP_REF_KIND);
	ASSERT_EQ(put_instance(sb, d1, slots, 1, inst), NUB_E_CAP_REF_KIND);
	ASSERT_EQ(put_instance(sb, img, slots, 1, inst), NUB_E_INSTANCE_SLOT_MISSING);
	static uint8_t page_plus_one[4097];
	uint8_t big[32];
	ASSERT_EQ(put_data(sb, page_plus_one, sizeof page_plus_one, big), NUB_E_OK);
	memcpy(slots[1].hash, big, 32);
	ASSERT_EQ(put_instance(sb, img, slots, 2, inst), NUB_E_INSTANCE_DATA_TOO_LARGE);
	memcpy(slots[1].hash, d2, 32);
	ASSERT_EQ(put_instance(sb, img, slots, 2, inst), NUB_E_OK);
	/* Republishing is idempotent and stores nothing new. */
	NubHeapStats s1, s2;
	ASSERT_EQ(nub_heap_stats(sb, &s1), NUB_E_OK);
	ASSERT_EQ(put_instance(sb, img, slots, 2, h), NUB_E_OK);
	ASSERT_MEM_EQ(h, inst, 32);
	ASSERT_EQ(nub_heap_stats(sb, &s2), NUB_E_OK);
	ASSERT_MEM_EQ(&s1, &s2, sizeof s1);
	/* Malformed bytes and bad code. */
	static const uint8_t junk[] = {9, 1, 0};
	ASSERT_EQ(nub_put_cap(sb, junk, sizeof junk, h), NUB_E_CAP_KIND);
	ASSERT_EQ(nub_put_cap(sb, junk, 0, h), NUB_E_CAP_TRUNCATED);
	ASSERT_EQ(nub_put_cap(sb, NULL, 3, h), NUB_E_INVALID_ARG);
	static const uint8_t bad_code[] = {0, 0, 5, 1}; /* code length 5, truncated */
	ASSERT_EQ(put_bare_image(sb, bad_code, sizeof bad_code, NULL, 0, h), NUB_E_IMAGE_CODE);
	nub_close(sb);
}

/* ---- INVOKE -------------------------------------------------------------- */
TEST(invoke_add_through_args)
{
	nub_sandbox *sb = open_local();
	uint8_t img[32], inst[32];
	ASSERT_EQ(put_bare_image(sb, prog_add, sizeof prog_add, NULL, 0, img), NUB_E_OK);
	ASSERT_EQ(put_instance(sb, img, NULL, 0, inst), NUB_E_OK);
	for (uint64_t k = 0; k < 50; k++) {
		InvokePacket p = packet(inst, 1000);
		p.args[1] = 0x1000000000ull * k + 7; /* phi8 */
		p.args[2] = 0xFFFFFFFFFFFFFFF0ull + k; /* phi9 */
		InvocationResult r;
		memset(&r, 0xCC, sizeof r);
		ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
		ASSERT_EQ(r.exit_reason, NUB_EXIT_HALT);
		ASSERT_EQ(r.exit_arg, 0);
		ASSERT_EQ(r.return_value, p.args[1] + p.args[2]);
		ASSERT_EQ(r.gas_remaining, 1000 - 2);
		for (unsigned i = 0; i < SCRATCHPAD_HEAD_LEN; i++)
			ASSERT_EQ(r.scratchpad_head[i], 0); /* no slot 0 mapped */
	}
	nub_close(sb);
}

/* Publishes the counter program with slot 0 RW at 0x20000 holding `init`. */
static nub_err counter_instance(nub_sandbox *sb, const uint8_t *init, size_t init_len, uint8_t inst[32])
{
	uint8_t img[32], data[32];
	nub_mapping m = {0x20000, 1, 0, true};
	nub_err e;
	if ((e = put_bare_image(sb, prog_counter, sizeof prog_counter, &m, 1, img)) ||
	    (e = put_data(sb, init, init_len, data)))
		return e;
	nub_slot s = {0, {0}};
	memcpy(s.hash, data, 32);
	return put_instance(sb, img, &s, 1, inst);
}

TEST(no_state_leaks_between_invocations)
{
	nub_sandbox *sb = open_local();
	uint8_t init[16] = {41, 0, 0, 0, 0, 0, 0, 0, 'n', 'u', 'b', '!'}, inst[32];
	ASSERT_EQ(counter_instance(sb, init, sizeof init, inst), NUB_E_OK);
	for (int i = 0; i < 5; i++) {
		InvokePacket p = packet(inst, 100);
		InvocationResult r;
		ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
		ASSERT_EQ(r.exit_reason, NUB_EXIT_HALT);
		ASSERT_EQ(r.return_value, 42); /* 41 + 1 every time: the store did not persist */
		ASSERT_EQ(r.gas_remaining, 96);
		/* scratchpad_head = slot 0's region at HALT: the stored 42, then the
		 * published bytes, then zeros. */
		ASSERT_EQ(r.scratchpad_head[0], 42);
		ASSERT_MEM_EQ(r.scratchpad_head + 8, "nub!", 4);
		for (unsigned k = 16; k < SCRATCHPAD_HEAD_LEN; k++)
			ASSERT_EQ(r.scratchpad_head[k], 0);
	}
	/* Out of gas: no halt, so no scratchpad head. */
	InvokePacket p = packet(inst, 2);
	InvocationResult r;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_OUT_OF_GAS);
	ASSERT_EQ(r.gas_remaining, 0);
	for (unsigned k = 0; k < SCRATCHPAD_HEAD_LEN; k++)
		ASSERT_EQ(r.scratchpad_head[k], 0);
	nub_close(sb);
}

TEST(page_faults_and_readonly)
{
	nub_sandbox *sb = open_local();
	uint8_t img_ro[32], img_none[32], inst[32], data[32];
	/* 0x30000 mapped read-only: the write faults at that page. */
	nub_mapping m = {0x30000, 1, 1, false};
	ASSERT_EQ(put_bare_image(sb, prog_store_30000, sizeof prog_store_30000, &m, 1, img_ro), NUB_E_OK);
	ASSERT_EQ(put_data(sb, "", 0, data), NUB_E_OK);
	nub_slot s = {1, {0}};
	memcpy(s.hash, data, 32);
	ASSERT_EQ(put_instance(sb, img_ro, &s, 1, inst), NUB_E_OK);
	InvokePacket p = packet(inst, 100);
	InvocationResult r;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_PAGE_FAULT);
	ASSERT_EQ(r.exit_arg, 0x30000);
	/* Nothing mapped at all. */
	ASSERT_EQ(put_bare_image(sb, prog_store_30000, sizeof prog_store_30000, NULL, 0, img_none), NUB_E_OK);
	ASSERT_EQ(put_instance(sb, img_none, NULL, 0, inst), NUB_E_OK);
	p = packet(inst, 100);
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_PAGE_FAULT);
	ASSERT_EQ(r.exit_arg, 0x30000);
	nub_close(sb);
}

TEST(host_call_returns)
{
	nub_sandbox *sb = open_local();
	uint8_t img[32], inst[32];
	ASSERT_EQ(put_bare_image(sb, prog_ecalli, sizeof prog_ecalli, NULL, 0, img), NUB_E_OK);
	ASSERT_EQ(put_instance(sb, img, NULL, 0, inst), NUB_E_OK);
	InvokePacket p = packet(inst, 10);
	p.args[0] = 0xABCDEF;
	InvocationResult r;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_HOST_CALL);
	ASSERT_EQ(r.exit_arg, 42);
	ASSERT_EQ(r.return_value, 0xABCDEF);
	ASSERT_EQ(r.gas_remaining, 9);
	nub_close(sb);
}

/* ---- host calls answered and resumed (nub_invoke_with) -------------------- */

/* @0 ecalli 7; @2 load_u64 r7,[0x20000]; @7 jump_ind r0. Bits 0,2,7. */
static const uint8_t prog_ecalli_load[] = {0, 0, 9, 10, 7, 58, 0x07, 0x00, 0x00, 0x02, 50, 0x00, 0x85, 0x00};
/* Loop r7 times: @0 ecalli 1; @2 add_imm_64 r7,r7,-1; @5 branch_ne_imm
 * r7,0,@0; @8 jump_ind r0. Bits 0,2,5,8. 3 gas per iteration + 1. */
static const uint8_t prog_ecalli_loop[] = {0, 0, 10, 10, 1, 149, 0x77, 0xFF, 82, 0x07, 0xFB, 50, 0x00, 0x25, 0x01};

struct hc_log {
	unsigned calls;
	unsigned stop_at;    /* STOP on this call (1-based), 0 = never */
	uint64_t set_gas;    /* when != ~0: the gas the handler leaves */
	nub_err mem[8];      /* results of the memory probes */
	uint8_t ro[4];
};

static nub_host_action hc_memory(void *ctx, nub_host_call *c)
{
	struct hc_log *l = ctx;
	l->calls++;
	uint64_t v = 0x1122334455667788ull;
	uint8_t big[64];
	l->mem[0] = nub_host_call_write(c, 0x20000, &v, sizeof v);     /* writable slot 0 */
	l->mem[1] = nub_host_call_read(c, 0x30000, l->ro, 3);          /* read-only slot 1 */
	l->mem[2] = nub_host_call_write(c, 0x30000, &v, sizeof v);     /* read-only: refused */
	l->mem[3] = nub_host_call_read(c, 0x50000, big, 8);            /* unmapped */
	l->mem[4] = nub_host_call_read(c, 0x20FF8, big, 16);           /* runs into an unmapped page */
	l->mem[5] = nub_host_call_read(c, 0xFFFFFFF8u, big, 16);       /* past 2^32 */
	l->mem[6] = nub_host_call_read(c, 0x8000, big, 8);             /* below 0x10000 */
	l->mem[7] = nub_host_call_read(c, 0x20000, NULL, 0);           /* empty: fine */
	return NUB_HOST_RESUME;
}

static nub_host_action hc_count(void *ctx, nub_host_call *c)
{
	struct hc_log *l = ctx;
	l->calls++;
	if (c->number != 1)
		return NUB_HOST_STOP;
	if (l->set_gas != ~0ull)
		c->gas = l->set_gas;
	if (l->stop_at && l->calls == l->stop_at) {
		c->regs[7] = 777;
		return NUB_HOST_STOP;
	}
	return NUB_HOST_RESUME;
}

TEST(host_calls_answered_and_resumed)
{
	nub_sandbox *sb = open_local();
	uint8_t img[32], d0[32], d1[32], inst[32];
	nub_mapping maps[2] = {{0x20000, 1, 0, true}, {0x30000, 1, 1, false}};
	ASSERT_EQ(put_bare_image(sb, prog_ecalli_load, sizeof prog_ecalli_load, maps, 2, img), NUB_E_OK);
	ASSERT_EQ(put_data(sb, "", 0, d0), NUB_E_OK);
	ASSERT_EQ(put_data(sb, "abc", 3, d1), NUB_E_OK);
	nub_slot slots[2] = {{0, {0}}, {1, {0}}};
	memcpy(slots[0].hash, d0, 32);
	memcpy(slots[1].hash, d1, 32);
	ASSERT_EQ(put_instance(sb, img, slots, 2, inst), NUB_E_OK);
	InvokePacket p = packet(inst, 100);
	InvocationResult r;
	/* the handler writes memory the program then reads */
	struct hc_log l = {0};
	ASSERT_EQ(nub_invoke_with(sb, &p, hc_memory, &l, &r), NUB_E_OK);
	ASSERT_EQ(l.calls, 1);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_HALT);
	ASSERT_EQ(r.return_value, 0x1122334455667788ull);
	ASSERT_EQ(r.gas_remaining, 97);
	ASSERT_EQ(r.scratchpad_head[0], 0x88); /* slot 0's region at HALT */
	ASSERT_EQ(l.mem[0], NUB_E_OK);
	ASSERT_EQ(l.mem[1], NUB_E_OK);
	ASSERT_MEM_EQ(l.ro, "abc", 3);
	for (int i = 2; i <= 6; i++)
		ASSERT_EQ(l.mem[i], NUB_E_HOST_MEMORY);
	ASSERT_EQ(l.mem[7], NUB_E_OK);
	/* without a handler: as nub_invoke, the call ends the invocation */
	ASSERT_EQ(nub_invoke_with(sb, &p, NULL, NULL, &r), NUB_E_OK);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_HOST_CALL);
	ASSERT_EQ(r.exit_arg, 7);
	/* the published state is untouched: the next call reads zero again */
	memset(&l, 0, sizeof l);
	ASSERT_EQ(nub_invoke_with(sb, &p, hc_count, &l, &r), NUB_E_OK); /* number 7: STOP */
	ASSERT_EQ(r.exit_reason, NUB_EXIT_HOST_CALL);
	ASSERT_EQ(r.gas_remaining, 99);
	nub_close(sb);
}

TEST(host_call_loop_stop_and_gas)
{
	nub_sandbox *sb = open_local();
	uint8_t img[32], inst[32];
	ASSERT_EQ(put_bare_image(sb, prog_ecalli_loop, sizeof prog_ecalli_loop, NULL, 0, img), NUB_E_OK);
	ASSERT_EQ(put_instance(sb, img, NULL, 0, inst), NUB_E_OK);
	InvokePacket p = packet(inst, 1000000);
	p.args[0] = 10000;
	InvocationResult r;
	/* 10 000 calls answered, every gas unit accounted for */
	struct hc_log l = {.set_gas = ~0ull};
	ASSERT_EQ(nub_invoke_with(sb, &p, hc_count, &l, &r), NUB_E_OK);
	ASSERT_EQ(l.calls, 10000);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_HALT);
	ASSERT_EQ(r.return_value, 0);
	ASSERT_EQ(r.gas_remaining, 1000000 - 3 * 10000 - 1);
	/* STOP on the 3rd call: the handler's registers and gas are the result */
	memset(&l, 0, sizeof l);
	l.set_gas = ~0ull;
	l.stop_at = 3;
	ASSERT_EQ(nub_invoke_with(sb, &p, hc_count, &l, &r), NUB_E_OK);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_HOST_CALL);
	ASSERT_EQ(r.exit_arg, 1);
	ASSERT_EQ(r.return_value, 777);
	ASSERT_EQ(r.gas_remaining, 1000000 - 3 * 3 + 2);
	/* the handler sets gas 0: the next instruction is out of gas */
	memset(&l, 0, sizeof l);
	l.set_gas = 0;
	ASSERT_EQ(nub_invoke_with(sb, &p, hc_count, &l, &r), NUB_E_OK);
	ASSERT_EQ(l.calls, 1);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_OUT_OF_GAS);
	ASSERT_EQ(r.return_value, 10000);
	ASSERT_EQ(r.gas_remaining, 0);
	/* the handler sets 2 gas: add and branch run, the next ecalli cannot */
	memset(&l, 0, sizeof l);
	l.set_gas = 2;
	ASSERT_EQ(nub_invoke_with(sb, &p, hc_count, &l, &r), NUB_E_OK);
	ASSERT_EQ(l.calls, 1);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_OUT_OF_GAS);
	ASSERT_EQ(r.return_value, 9999);
	/* gas beyond 2^63-1: a named error */
	memset(&l, 0, sizeof l);
	l.set_gas = 1ull << 63;
	ASSERT_EQ(nub_invoke_with(sb, &p, hc_count, &l, &r), NUB_E_BAD_GAS);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_ERROR);
	ASSERT_EQ(r.exit_arg, NUB_E_BAD_GAS);
	/* bad arguments */
	ASSERT_EQ(nub_invoke_with(NULL, &p, hc_count, &l, &r), NUB_E_INVALID_ARG);
	ASSERT_EQ(r.exit_arg, NUB_E_INVALID_ARG);
	ASSERT_EQ(nub_host_call_read(NULL, 0x20000, &l, 1), NUB_E_INVALID_ARG);
	nub_close(sb);
}

/* ---- engines: the same results on the interpreter and the JIT ------------- */
static nub_sandbox *open_engine(nub_engine en)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	o.engine = en;
	nub_sandbox *sb = NULL;
	return nub_open(&o, &sb) == NUB_E_OK ? sb : NULL;
}

TEST(engines_agree_and_jit_code_is_counted)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	o.engine = (nub_engine)3;
	nub_sandbox *bad;
	ASSERT_EQ(nub_open(&o, &bad), NUB_E_INVALID_ARG);
	nub_sandbox *sb[2] = {open_engine(NUB_ENGINE_INTERP), open_engine(NUB_ENGINE_JIT)};
	ASSERT_TRUE(sb[0] && sb[1]);
	InvocationResult r[2][4];
	NubHeapStats h[2][3];
	for (int k = 0; k < 2; k++) {
		uint8_t img[32], inst[32], img2[32], inst2[32], img3[32], inst3[32];
		ASSERT_EQ(nub_heap_stats(sb[k], &h[k][0]), NUB_E_OK);
		ASSERT_EQ(put_bare_image(sb[k], prog_countdown, sizeof prog_countdown, NULL, 0, img), NUB_E_OK);
		ASSERT_EQ(put_instance(sb[k], img, NULL, 0, inst), NUB_E_OK);
		ASSERT_EQ(nub_heap_stats(sb[k], &h[k][1]), NUB_E_OK);
		InvokePacket p = packet(inst, 1000000);
		p.args[0] = 100000;
		ASSERT_EQ(nub_invoke(sb[k], &p, &r[k][0]), NUB_E_OK);
		p = packet(inst, 5001); /* out of gas in the loop */
		p.args[0] = 100000;
		ASSERT_EQ(nub_invoke(sb[k], &p, &r[k][1]), NUB_E_OK);
		ASSERT_EQ(counter_instance(sb[k], (const uint8_t[8]){41}, 8, inst2), NUB_E_OK);
		p = packet(inst2, 100);
		ASSERT_EQ(nub_invoke(sb[k], &p, &r[k][2]), NUB_E_OK);
		ASSERT_EQ(put_bare_image(sb[k], prog_ecalli_loop, sizeof prog_ecalli_loop, NULL, 0, img3), NUB_E_OK);
		ASSERT_EQ(put_instance(sb[k], img3, NULL, 0, inst3), NUB_E_OK);
		struct hc_log l = {.set_gas = ~0ull, .stop_at = 500};
		p = packet(inst3, 1000000);
		p.args[0] = 1000;
		ASSERT_EQ(nub_invoke_with(sb[k], &p, hc_count, &l, &r[k][3]), NUB_E_OK);
		ASSERT_EQ(nub_evict_jit_all(sb[k]), NUB_E_OK);
		ASSERT_EQ(nub_heap_stats(sb[k], &h[k][2]), NUB_E_OK);
		(void)img2;
	}
	for (int i = 0; i < 4; i++)
		ASSERT_MEM_EQ(&r[0][i], &r[1][i], sizeof r[0][i]);
	ASSERT_EQ(r[0][0].exit_reason, NUB_EXIT_HALT);
	ASSERT_EQ(r[0][1].exit_reason, NUB_EXIT_OUT_OF_GAS);
	ASSERT_EQ(r[0][3].return_value, 777);
	/* a published Image holds its decoded program, and with the JIT its
	 * compiled code too: the JIT sandbox is charged more for it; eviction
	 * gives both back */
	uint64_t cost0 = h[0][1].allocated_bytes - h[0][0].allocated_bytes;
	uint64_t cost1 = h[1][1].allocated_bytes - h[1][0].allocated_bytes;
	ASSERT_TRUE(cost1 > cost0);
	ASSERT_TRUE(h[1][2].allocated_bytes < h[1][1].allocated_bytes + (cost1 - cost0));
	nub_close(sb[0]);
	nub_close(sb[1]);
}

/* The SDK's hostcall kernel (100 000 `ecalli 1`, each answer fed back):
 * answered by the same rule in-process (on the engine) and through the
 * sandbox on both engines, it ends with the same phi7 and gas. */
static uint64_t answer_rule(const uint64_t *regs)
{
	return regs[7] * 3 + regs[8]; /* the program passes acc in phi7, i in phi8 */
}

static nub_host_action hc_rule(void *ctx, nub_host_call *c)
{
	++*(unsigned *)ctx;
	c->regs[7] = answer_rule(c->regs);
	return NUB_HOST_RESUME;
}

TEST(hostcall_kernel_in_process_equals_sandbox)
{
	const char *b = getenv("B");
	char path[512];
	snprintf(path, sizeof path, "%s/bench/hostcall.pvm", b && *b ? b : "build");
	size_t len;
	uint8_t *spi = (uint8_t *)test_read_file(path, &len);
	if (!spi)
		SKIP("no build/bench/hostcall.pvm (make bench-pvms needs clang-19)");
	/* in-process: the interpreter, each host call answered here */
	pvm_spi ps;
	pvm_program *prog;
	pvm_instance *m;
	ASSERT_EQ(pvm_spi_parse(spi, len, &ps), PVM_E_OK);
	ASSERT_EQ(pvm_program_new(ps.blob, ps.blob_len, &prog), PVM_E_OK);
	ASSERT_EQ(pvm_instance_new(prog, &m), PVM_E_OK);
	ASSERT_EQ(pvm_spi_init(m, &ps, NULL, 0), PVM_E_OK);
	pvm_set_gas(m, 1000000000);
	unsigned calls = 0;
	pvm_exit x;
	while ((x = pvm_run(m)) == PVM_EXIT_HOST) {
		uint64_t regs[13];
		for (unsigned i = 0; i < 13; i++)
			regs[i] = pvm_reg(m, i);
		pvm_set_reg(m, 7, answer_rule(regs));
		calls++;
	}
	ASSERT_EQ(x, PVM_EXIT_HALT);
	ASSERT_EQ(calls, 100000);
	uint64_t r7 = pvm_reg(m, 7), gas = (uint64_t)pvm_gas(m);
	pvm_instance_free(m);
	pvm_program_free(prog);
	/* through the sandbox, interpreter and JIT, inline and on a lane */
	for (int k = 0; k < 4; k++) {
		nub_options o;
		nub_options_init(&o);
		o.backend = NUB_BACKEND_LOCAL;
		o.engine = k & 1 ? NUB_ENGINE_JIT : NUB_ENGINE_INTERP;
		o.host_calls = k & 2 ? NUB_HOST_CALLS_LANES : NUB_HOST_CALLS_INLINE;
		nub_sandbox *sb = NULL;
		ASSERT_EQ(nub_open(&o, &sb), NUB_E_OK);
		uint32_t entry = 0;
		uint8_t img[32], inst[32];
		nub_cap_buf cb;
		ASSERT_EQ(nub_cap_image_from_spi(spi, len, &entry, 1, NULL, 0, &cb), NUB_E_OK);
		ASSERT_EQ(put_buf(sb, &cb, img), NUB_E_OK);
		ASSERT_EQ(put_instance(sb, img, NULL, 0, inst), NUB_E_OK);
		InvokePacket p = packet(inst, 1000000000);
		p.args[0] = 0xFEFF0000u; /* GP A.7: phi7 = the argument address */
		InvocationResult r;
		unsigned n = 0;
		ASSERT_EQ(nub_invoke_with(sb, &p, hc_rule, &n, &r), NUB_E_OK);
		ASSERT_EQ(n, 100000);
		ASSERT_EQ(r.exit_reason, NUB_EXIT_HALT);
		ASSERT_EQ(r.return_value, r7);
		ASSERT_EQ(r.gas_remaining, gas);
		nub_close(sb);
	}
	free(spi);
}


/* Memory between compiled code and a handler, inside one run: @0
 * store_u64 [0x20000],r7; @5 ecalli 2; @7 load_u64 r7,[0x20000]; @12
 * ecalli 3; @14 jump_ind r0. The handler of call 2 must see the program's
 * store, the load must see the handler's write, the handler of call 3 sees
 * the program's state again and writes once more: the result's region
 * shows that write. Bits 0,5,7,12,14. */
static const uint8_t prog_mem_ping[] = {0,    0,    16,   62,   0x07, 0x00, 0x00, 0x02, 10,   2,    58,
                                        0x07, 0x00, 0x00, 0x02, 10,   3,    50,   0x00, 0xA1, 0x50};

struct ping_log {
	unsigned calls;
	uint64_t seen[2], regs7[2];
	nub_err e[4];
};

static nub_host_action hc_ping(void *ctx, nub_host_call *c)
{
	struct ping_log *l = ctx;
	unsigned k = c->number == 2 ? 0 : 1;
	l->calls++;
	l->regs7[k] = c->regs[7];
	l->e[2 * k] = nub_host_call_read(c, 0x20000, &l->seen[k], 8);
	uint64_t v = k == 0 ? l->seen[0] * 2 + 1 : l->seen[1] + 5;
	l->e[2 * k + 1] = nub_host_call_write(c, 0x20000, &v, 8);
	return NUB_HOST_RESUME;
}

static nub_sandbox *open_engine_timeout(nub_engine en, uint32_t timeout_ms)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	o.engine = en;
	o.timeout_ms = timeout_ms;
	nub_sandbox *sb = NULL;
	return nub_open(&o, &sb) == NUB_E_OK ? sb : NULL;
}

TEST(handler_memory_seen_by_compiled_code)
{
	/* both engines, with a deadline (sliced runs) and without */
	const uint32_t timeouts[2] = {0, NUB_TIMEOUT_NONE};
	for (nub_engine en = NUB_ENGINE_INTERP; en <= NUB_ENGINE_JIT; en++)
		for (int t = 0; t < 2; t++) {
			nub_sandbox *sb = open_engine_timeout(en, timeouts[t]);
			ASSERT_TRUE(sb != NULL);
			uint8_t img[32], d0[32], inst[32];
			nub_mapping maps[1] = {{0x20000, 1, 0, true}};
			ASSERT_EQ(put_bare_image(sb, prog_mem_ping, sizeof prog_mem_ping, maps, 1, img), NUB_E_OK);
			ASSERT_EQ(put_data(sb, "", 0, d0), NUB_E_OK);
			nub_slot slots[1] = {{0, {0}}};
			memcpy(slots[0].hash, d0, 32);
			ASSERT_EQ(put_instance(sb, img, slots, 1, inst), NUB_E_OK);
			for (uint64_t arg = 1; arg <= 3; arg++) { /* again and again: the window stays filled */
				InvokePacket p = packet(inst, 100);
				p.args[0] = 1000 * arg;
				InvocationResult r;
				struct ping_log l = {0};
				ASSERT_EQ(nub_invoke_with(sb, &p, hc_ping, &l, &r), NUB_E_OK);
				ASSERT_EQ(l.calls, 2);
				for (int i = 0; i < 4; i++)
					ASSERT_EQ(l.e[i], NUB_E_OK);
				ASSERT_EQ(l.seen[0], 1000 * arg);          /* the program's store */
				ASSERT_EQ(l.regs7[1], 2000 * arg + 1);     /* its load of the handler's write */
				ASSERT_EQ(l.seen[1], 2000 * arg + 1);
				ASSERT_EQ(r.exit_reason, NUB_EXIT_HALT);
				ASSERT_EQ(r.return_value, 2000 * arg + 1);
				uint64_t head;
				memcpy(&head, r.scratchpad_head, 8);
				ASSERT_EQ(head, 2000 * arg + 6); /* the last write, at HALT */
				ASSERT_EQ(r.gas_remaining, 95);
			}
			nub_close(sb);
		}
}

/* A handler that invokes again on the same sandbox and thread (a nested
 * invocation: compiled code gets its own window). */
struct nest_ctx {
	nub_sandbox *sb;
	InvokePacket inner;
	unsigned calls;
	nub_err e;
	uint64_t inner_value;
};

static nub_host_action hc_nest(void *ctx, nub_host_call *c)
{
	struct nest_ctx *n = ctx;
	n->calls++;
	InvocationResult r;
	struct ping_log l = {0};
	n->e = nub_invoke_with(n->sb, &n->inner, hc_ping, &l, &r);
	n->inner_value = r.return_value;
	c->regs[7] = r.return_value;
	return NUB_HOST_RESUME;
}

TEST(handler_invokes_again)
{
	for (nub_engine en = NUB_ENGINE_INTERP; en <= NUB_ENGINE_JIT; en++) {
		nub_sandbox *sb = open_engine(en);
		ASSERT_TRUE(sb != NULL);
		uint8_t img[32], d0[32], inst[32];
		nub_mapping maps[1] = {{0x20000, 1, 0, true}};
		ASSERT_EQ(put_bare_image(sb, prog_mem_ping, sizeof prog_mem_ping, maps, 1, img), NUB_E_OK);
		ASSERT_EQ(put_data(sb, "", 0, d0), NUB_E_OK);
		nub_slot slots[1] = {{0, {0}}};
		memcpy(slots[0].hash, d0, 32);
		ASSERT_EQ(put_instance(sb, img, slots, 1, inst), NUB_E_OK);
		/* outer: the ping program, each call answered by an inner ping */
		struct nest_ctx n = {.sb = sb, .inner = packet(inst, 100)};
		n.inner.args[0] = 7;
		InvokePacket p = packet(inst, 100);
		p.args[0] = 1;
		InvocationResult r;
		ASSERT_EQ(nub_invoke_with(sb, &p, hc_nest, &n, &r), NUB_E_OK);
		ASSERT_EQ(n.calls, 2);
		ASSERT_EQ(n.e, NUB_E_OK);
		ASSERT_EQ(n.inner_value, 15);
		/* the outer program's memory was not disturbed by the inner one
		 * (same address, same thread): its load finds its own 1 */
		ASSERT_EQ(r.exit_reason, NUB_EXIT_HALT);
		ASSERT_EQ(r.return_value, 15); /* the second answer */
		uint64_t head;
		memcpy(&head, r.scratchpad_head, 8);
		ASSERT_EQ(head, 1);
		nub_close(sb);
	}
}

/* A deadline holds over handlers: one that sleeps past it ends the
 * invocation with NUB_E_TIMEOUT, on both engines. */
static nub_host_action hc_slow(void *ctx, nub_host_call *c)
{
	(void)c;
	++*(unsigned *)ctx;
	struct timespec ts = {0, 2000000}; /* 2 ms */
	nanosleep(&ts, NULL);
	return NUB_HOST_RESUME;
}

TEST(handler_time_counts_against_the_deadline)
{
	for (nub_engine en = NUB_ENGINE_INTERP; en <= NUB_ENGINE_JIT; en++) {
		nub_sandbox *sb = open_engine_timeout(en, 50);
		ASSERT_TRUE(sb != NULL);
		uint8_t img[32], inst[32];
		ASSERT_EQ(put_bare_image(sb, prog_ecalli_loop, sizeof prog_ecalli_loop, NULL, 0, img), NUB_E_OK);
		ASSERT_EQ(put_instance(sb, img, NULL, 0, inst), NUB_E_OK);
		InvokePacket p = packet(inst, 1000000);
		p.args[0] = 100000; /* 200 s of handlers */
		InvocationResult r;
		unsigned calls = 0;
		ASSERT_EQ(nub_invoke_with(sb, &p, hc_slow, &calls, &r), NUB_E_TIMEOUT);
		ASSERT_EQ(r.exit_reason, NUB_EXIT_ERROR);
		ASSERT_EQ(r.exit_arg, NUB_E_TIMEOUT);
		/* 50 ms of (at least) 2 ms calls: slow calls keep the clock read
		 * after every one, so the deadline is not overshot by more than a
		 * call or two (fewer calls on a loaded machine, never more) */
		ASSERT_TRUE(calls >= 1 && calls <= 27);
		nub_close(sb);
	}
}

TEST(spi_image_invoke)
{
	nub_sandbox *sb = open_local();
	/* ro = 8 bytes 0x1122334455667788 LE; stack 4096; code prog_load_ro. */
	uint8_t spi[11 + 8 + 4 + sizeof prog_load_ro] = {8, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x10, 0x00,
	                                                  0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	                                                  sizeof prog_load_ro, 0, 0, 0};
	memcpy(spi + 23, prog_load_ro, sizeof prog_load_ro);
	uint32_t pc = 0;
	nub_cap_buf b;
	uint8_t img[32], inst[32];
	ASSERT_EQ(nub_cap_image_from_spi(spi, sizeof spi, &pc, 1, NULL, 0, &b), NUB_E_OK);
	ASSERT_EQ(put_buf(sb, &b, img), NUB_E_OK);
	ASSERT_EQ(put_instance(sb, img, NULL, 0, inst), NUB_E_OK);
	InvokePacket p = packet(inst, 10);
	InvocationResult r;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_HALT);
	ASSERT_EQ(r.return_value, 0x1122334455667788ull);
	ASSERT_EQ(r.gas_remaining, 8);
	nub_close(sb);
}

TEST(invoke_errors)
{
	nub_sandbox *sb = open_local();
	uint8_t img[32], inst[32], nothing[32] = {7};
	ASSERT_EQ(put_bare_image(sb, prog_add, sizeof prog_add, NULL, 0, img), NUB_E_OK);
	ASSERT_EQ(put_instance(sb, img, NULL, 0, inst), NUB_E_OK);
	InvocationResult r;
	InvokePacket p = packet(nothing, 10);
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_UNKNOWN_INSTANCE);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_ERROR);
	ASSERT_EQ(r.exit_arg, NUB_E_UNKNOWN_INSTANCE);
	p = packet(img, 10);
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_NOT_INSTANCE);
	ASSERT_EQ(r.exit_arg, NUB_E_NOT_INSTANCE);
	p = packet(inst, 10);
	p.endpoint_idx = 1;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_BAD_ENDPOINT);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_ERROR);
	p.endpoint_idx = 0;
	p._pad = 1;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_BAD_PACKET);
	p._pad = 0;
	p.initial_gas = 1ull << 63;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_BAD_GAS);
	p.initial_gas = (1ull << 63) - 1;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
	ASSERT_EQ(r.gas_remaining, (1ull << 63) - 3);
	ASSERT_EQ(nub_invoke(sb, NULL, &r), NUB_E_INVALID_ARG);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_ERROR);
	nub_close(sb);
}

TEST(multiple_endpoints)
{
	nub_sandbox *sb = open_local();
	/* Endpoint 0 starts at the add, endpoint 1 at the jump_ind (pc 3),
	 * with its own registers: phi7 = 99 stays. */
	nub_endpoint eps[2] = {halt_endpoint(0), halt_endpoint(3)};
	eps[1].regs[12] = 5;
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = prog_add, .code_len = sizeof prog_add,
	                    .endpoints = eps, .endpoint_count = 2};
	nub_cap_buf b;
	uint8_t img[32], inst[32];
	ASSERT_EQ(nub_cap_image(&d, &b), NUB_E_OK);
	ASSERT_EQ(put_buf(sb, &b, img), NUB_E_OK);
	ASSERT_EQ(put_instance(sb, img, NULL, 0, inst), NUB_E_OK);
	InvokePacket p = packet(inst, 10);
	p.endpoint_idx = 1;
	p.args[0] = 99;
	p.args[1] = 1;
	InvocationResult r;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_HALT);
	ASSERT_EQ(r.return_value, 99);
	ASSERT_EQ(r.gas_remaining, 9);
	nub_close(sb);
}

TEST(timeout_and_sliced_runs_agree)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	o.timeout_ms = 200;
	nub_sandbox *sb, *plain = open_local();
	ASSERT_EQ(nub_open(&o, &sb), NUB_E_OK);
	uint8_t img[32], inst[32];
	/* An endless loop ends with TIMEOUT, not after 2^62 instructions. */
	ASSERT_EQ(put_bare_image(sb, prog_forever, sizeof prog_forever, NULL, 0, img), NUB_E_OK);
	ASSERT_EQ(put_instance(sb, img, NULL, 0, inst), NUB_E_OK);
	InvokePacket p = packet(inst, 1ull << 62);
	InvocationResult r;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_TIMEOUT);
	ASSERT_EQ(r.exit_reason, NUB_EXIT_ERROR);
	ASSERT_EQ(r.exit_arg, NUB_E_TIMEOUT);
	/* A long finite run, sliced for the timeout checks, ends exactly like an
	 * unsliced run: same exit, same gas, same result, also out of gas. (A
	 * generous timeout, so that slow sanitizer builds finish in time.) */
	nub_close(sb);
	o.timeout_ms = 120000;
	ASSERT_EQ(nub_open(&o, &sb), NUB_E_OK);
	uint8_t img2[32], inst2[32], h[32];
	ASSERT_EQ(put_bare_image(sb, prog_countdown, sizeof prog_countdown, NULL, 0, img2), NUB_E_OK);
	ASSERT_EQ(put_instance(sb, img2, NULL, 0, inst2), NUB_E_OK);
	ASSERT_EQ(put_bare_image(plain, prog_countdown, sizeof prog_countdown, NULL, 0, h), NUB_E_OK);
	ASSERT_EQ(put_instance(plain, img2, NULL, 0, h), NUB_E_OK);
	static const uint64_t gas[] = {20000000, 2 * 3000000 + 1, 2 * 3000000, 4194303, 4194304, 4194305};
	for (size_t i = 0; i < sizeof gas / sizeof gas[0]; i++) {
		InvokePacket q = packet(inst2, gas[i]);
		q.args[0] = 3000000; /* 6000001 instructions */
		InvocationResult a, b;
		ASSERT_EQ(nub_invoke(sb, &q, &a), NUB_E_OK);
		ASSERT_EQ(nub_invoke(plain, &q, &b), NUB_E_OK);
		ASSERT_MEM_EQ(&a, &b, sizeof a);
		ASSERT_EQ(a.exit_reason, gas[i] >= 6000001 ? NUB_EXIT_HALT : NUB_EXIT_OUT_OF_GAS);
		if (gas[i] >= 6000001)
			ASSERT_EQ(a.gas_remaining, gas[i] - 6000001);
	}
	nub_close(sb);
	nub_close(plain);
}

TEST(boot_info_and_heap_stats)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	o.memory_bytes = 1u << 20;
	nub_sandbox *sb;
	ASSERT_EQ(nub_open(&o, &sb), NUB_E_OK);
	BootInfo bi;
	memset(&bi, 0xFF, sizeof bi);
	ASSERT_EQ(nub_boot_info(sb, &bi), NUB_E_OK);
	ASSERT_EQ(bi.magic, NUB_BOOT_INFO_MAGIC);
	ASSERT_EQ(bi.directory_va, 0);
	for (unsigned i = 0; i < 12; i++)
		ASSERT_EQ(bi._reserved[i], 0);
	NubHeapStats a, b;
	ASSERT_EQ(nub_heap_stats(sb, &a), NUB_E_OK);
	ASSERT_TRUE(a.allocated_bytes > 0);          /* the directory table */
	ASSERT_EQ(a.allocation_count, 1);
	ASSERT_EQ(a.allocated_bytes + a.available_bytes, 1u << 20);
	static uint8_t blob[100000];
	uint8_t h[32];
	ASSERT_EQ(put_data(sb, blob, sizeof blob, h), NUB_E_OK);
	ASSERT_EQ(nub_heap_stats(sb, &b), NUB_E_OK);
	ASSERT_EQ(b.allocation_count, 2);
	/* the bytes are stored page-aligned (they are the frames invocations
	 * share), so the entry costs the data rounded up to pages + one page */
	ASSERT_TRUE(b.allocated_bytes >= a.allocated_bytes + sizeof blob + 6);
	ASSERT_TRUE(b.allocated_bytes <= a.allocated_bytes + (sizeof blob + 4095) / 4096 * 4096 + 4096);
	ASSERT_EQ(b.allocated_bytes + b.available_bytes, 1u << 20);
	ASSERT_EQ(b.fragment_count, 0);
	/* Beyond the budget: STORE_FULL, and nothing changes. */
	static uint8_t huge[1u << 20];
	ASSERT_EQ(put_data(sb, huge, sizeof huge, h), NUB_E_STORE_FULL);
	ASSERT_EQ(nub_heap_stats(sb, &a), NUB_E_OK);
	ASSERT_MEM_EQ(&a, &b, sizeof a);
	/* Many small caps: the directory grows, every cap is still found. */
	uint8_t hashes[300][32];
	for (uint32_t i = 0; i < 300; i++)
		ASSERT_EQ(put_data(sb, &i, sizeof i, hashes[i]), NUB_E_OK);
	for (uint32_t i = 0; i < 300; i++) {
		uint8_t again[32];
		ASSERT_EQ(put_data(sb, &i, sizeof i, again), NUB_E_OK);
		ASSERT_MEM_EQ(again, hashes[i], 32);
	}
	ASSERT_EQ(nub_heap_stats(sb, &b), NUB_E_OK);
	ASSERT_EQ(b.allocation_count, 2 + 300);
	nub_close(sb);
}

TEST(evict_drops_decoded_programs)
{
	nub_sandbox *sb = open_local();
	uint8_t img[32], img2[32], inst[32];
	ASSERT_EQ(local_cached_programs(sb), 0);
	ASSERT_EQ(put_bare_image(sb, prog_add, sizeof prog_add, NULL, 0, img), NUB_E_OK);
	ASSERT_EQ(put_bare_image(sb, prog_ecalli, sizeof prog_ecalli, NULL, 0, img2), NUB_E_OK);
	ASSERT_EQ(local_cached_programs(sb), 2);
	ASSERT_EQ(put_instance(sb, img, NULL, 0, inst), NUB_E_OK);
	ASSERT_EQ(nub_evict_jit_all(sb), NUB_E_OK);
	ASSERT_EQ(local_cached_programs(sb), 0);
	InvokePacket p = packet(inst, 10);
	p.args[1] = 2;
	p.args[2] = 3;
	InvocationResult r;
	ASSERT_EQ(nub_invoke(sb, &p, &r), NUB_E_OK); /* decodes again */
	ASSERT_EQ(r.return_value, 5);
	ASSERT_EQ(local_cached_programs(sb), 1);
	ASSERT_EQ(nub_evict_jit_all(sb), NUB_E_OK);
	ASSERT_EQ(local_cached_programs(sb), 0);
	nub_close(sb);
}

/* Threads invoke while another thread evicts: results stay exact. */
struct thread_arg {
	nub_sandbox *sb;
	const uint8_t *inst;
	int bad;
};

static void *invoke_thread(void *arg)
{
	struct thread_arg *a = arg;
	for (int i = 0; i < 300; i++) {
		InvokePacket p = packet(a->inst, 1000);
		InvocationResult r;
		if (nub_invoke(a->sb, &p, &r) != NUB_E_OK || r.return_value != 42 || r.scratchpad_head[0] != 42)
			a->bad++;
		if (i % 50 == 0)
			nub_evict_jit_all(a->sb);
	}
	return NULL;
}

TEST(concurrent_invokes_and_evictions)
{
	nub_sandbox *sb = open_local();
	uint8_t init[8] = {41}, inst[32];
	ASSERT_EQ(counter_instance(sb, init, sizeof init, inst), NUB_E_OK);
	pthread_t t[4];
	struct thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){sb, inst, 0};
		ASSERT_EQ(pthread_create(&t[i], NULL, invoke_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(args[i].bad, 0);
	nub_close(sb);
}

TEST(parallel_matches_sequential)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	o.vcpus = 8;
	nub_sandbox *sb;
	ASSERT_EQ(nub_open(&o, &sb), NUB_E_OK);
	uint8_t img[32], inst_add[32], inst_cd[32], inst_ctr[32], init[8] = {9};
	ASSERT_EQ(put_bare_image(sb, prog_add, sizeof prog_add, NULL, 0, img), NUB_E_OK);
	ASSERT_EQ(put_instance(sb, img, NULL, 0, inst_add), NUB_E_OK);
	ASSERT_EQ(put_bare_image(sb, prog_countdown, sizeof prog_countdown, NULL, 0, img), NUB_E_OK);
	ASSERT_EQ(put_instance(sb, img, NULL, 0, inst_cd), NUB_E_OK);
	ASSERT_EQ(counter_instance(sb, init, sizeof init, inst_ctr), NUB_E_OK);
	enum { N = 200 };
	static InvokePacket ps[N];
	static InvocationResult par[N], seq[N];
	for (unsigned i = 0; i < N; i++) {
		const uint8_t *which = i % 3 == 0 ? inst_add : i % 3 == 1 ? inst_cd : inst_ctr;
		ps[i] = packet(which, 100000 + i);
		ps[i].args[0] = 1000 * i; /* countdown length */
		ps[i].args[1] = i;
		ps[i].args[2] = 7;
	}
	ps[N - 1].endpoint_idx = 3; /* one bad packet: its own error, reported */
	memset(par, 0xEE, sizeof par);
	ASSERT_EQ(nub_invoke_parallel(sb, ps, par, N), NUB_E_BAD_ENDPOINT);
	for (unsigned i = 0; i < N; i++)
		(void)nub_invoke(sb, &ps[i], &seq[i]);
	ASSERT_MEM_EQ(par, seq, sizeof par);
	ASSERT_EQ(par[0].return_value, 7);
	ASSERT_EQ(par[2].return_value, 10);
	ASSERT_EQ(par[N - 1].exit_arg, NUB_E_BAD_ENDPOINT);
	unsigned oog = 0;
	for (unsigned i = 1; i < N; i += 3)
		oog += par[i].exit_reason == NUB_EXIT_OUT_OF_GAS;
	ASSERT_TRUE(oog > 0 && oog < N / 3); /* long countdowns run out of gas */
	ASSERT_EQ(nub_invoke_parallel(sb, ps, par, 0), NUB_E_OK);
	ASSERT_EQ(nub_invoke_parallel(sb, NULL, par, 1), NUB_E_INVALID_ARG);
	ASSERT_EQ(par[0].exit_reason, NUB_EXIT_ERROR);
	nub_close(sb);
}

int main(void)
{
	RUN(kvm_backend_named_error);
	RUN(auto_falls_back_loudly);
	RUN(host_calls_answered_and_resumed);
	RUN(host_call_loop_stop_and_gas);
	RUN(engines_agree_and_jit_code_is_counted);
	RUN(hostcall_kernel_in_process_equals_sandbox);
	RUN(handler_memory_seen_by_compiled_code);
	RUN(handler_invokes_again);
	RUN(handler_time_counts_against_the_deadline);
	RUN(open_option_errors);
	RUN(put_cap_checks);
	RUN(invoke_add_through_args);
	RUN(no_state_leaks_between_invocations);
	RUN(page_faults_and_readonly);
	RUN(host_call_returns);
	RUN(spi_image_invoke);
	RUN(invoke_errors);
	RUN(multiple_endpoints);
	RUN(timeout_and_sliced_runs_agree);
	RUN(boot_info_and_heap_stats);
	RUN(evict_drops_decoded_programs);
	RUN(concurrent_invokes_and_evictions);
	RUN(parallel_matches_sequential);
	return test_done();
}
