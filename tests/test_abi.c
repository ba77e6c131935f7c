/* test_abi.c: the wire ABI's byte layout, checked at run time through the
 * bytes (the _Static_asserts in abi.h check it at compile time). */
#include <stddef.h>

#include "nub/abi.h"
#include "nub/nub.h"
#include "test.h"

static uint64_t rd_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

TEST(invoke_packet_bytes)
{
	InvokePacket p;
	memset(&p, 0, sizeof p);
	ASSERT_EQ(sizeof p, 80);
	for (unsigned i = 0; i < 32; i++)
		p.instance_hash[i] = (uint8_t)(0xA0 + i);
	p.endpoint_idx = 0x11223344;
	p.args[0] = 0x0102030405060708ull;
	p.args[3] = 0x1112131415161718ull;
	p.initial_gas = 0x2122232425262728ull;
	const uint8_t *b = (const uint8_t *)&p;
	ASSERT_EQ(b[0], 0xA0);
	ASSERT_EQ(b[31], 0xA0 + 31);
	ASSERT_EQ(rd_le(b + 32, 4), 0x11223344);
	ASSERT_EQ(rd_le(b + 36, 4), 0);
	ASSERT_EQ(rd_le(b + 40, 8), 0x0102030405060708ull);
	ASSERT_EQ(rd_le(b + 64, 8), 0x1112131415161718ull);
	ASSERT_EQ(rd_le(b + 72, 8), 0x2122232425262728ull);
}

TEST(invocation_result_bytes)
{
	InvocationResult r;
	memset(&r, 0, sizeof r);
	ASSERT_EQ(sizeof r, 152);
	ASSERT_EQ(offsetof(InvocationResult, exit_reason), 0);
	ASSERT_EQ(offsetof(InvocationResult, exit_arg), 4);
	ASSERT_EQ(offsetof(InvocationResult, return_value), 8);
	ASSERT_EQ(offsetof(InvocationResult, gas_remaining), 16);
	ASSERT_EQ(offsetof(InvocationResult, scratchpad_head), 24);
	r.exit_reason = NUB_EXIT_ERROR;
	r.exit_arg = 0x0BADF00D;
	r.return_value = 0x8877665544332211ull;
	r.gas_remaining = 0x0123456789ABCDEFull;
	r.scratchpad_head[0] = 0x5A;
	r.scratchpad_head[127] = 0xA5;
	const uint8_t *b = (const uint8_t *)&r;
	ASSERT_EQ(rd_le(b, 4), 0xFFFFFFFFu);
	ASSERT_EQ(rd_le(b + 4, 4), 0x0BADF00D);
	ASSERT_EQ(rd_le(b + 8, 8), 0x8877665544332211ull);
	ASSERT_EQ(rd_le(b + 16, 8), 0x0123456789ABCDEFull);
	ASSERT_EQ(b[24], 0x5A);
	ASSERT_EQ(b[151], 0xA5);
}

TEST(boot_info_and_heap_stats)
{
	BootInfo bi;
	memset(&bi, 0, sizeof bi);
	ASSERT_EQ(sizeof bi, 128);
	bi.magic = NUB_BOOT_INFO_MAGIC;
	bi.directory_va = 0x1111;
	bi.directory_type_id = 0x2222;
	bi.guest_va_base = 0x3333;
	const uint8_t *b = (const uint8_t *)&bi;
	/* "JAR_BOOT" read big-endian = the magic; little-endian bytes reversed. */
	ASSERT_MEM_EQ(b, "TOOB_RAJ", 8);
	ASSERT_EQ(rd_le(b + 8, 8), 0x1111);
	ASSERT_EQ(rd_le(b + 16, 8), 0x2222);
	ASSERT_EQ(rd_le(b + 24, 8), 0x3333);
	NubHeapStats hs = {1, 2, 3, 4};
	const uint8_t *h = (const uint8_t *)&hs;
	ASSERT_EQ(sizeof hs, 32);
	for (unsigned i = 0; i < 4; i++)
		ASSERT_EQ(rd_le(h + 8 * i, 8), i + 1);
}

TEST(parallel_slot_layout)
{
	static ParallelInvokeSlot slots[2];
	ASSERT_EQ(sizeof(ParallelInvokeSlot), 512);
	ASSERT_EQ(_Alignof(ParallelInvokeSlot), 64);
	ASSERT_EQ((uintptr_t)&slots[1] - (uintptr_t)&slots[0], NUB_PARALLEL_SLOT_STRIDE);
	ASSERT_EQ((uintptr_t)&slots[0] % 64, 0);
	ASSERT_EQ(offsetof(ParallelInvokeSlot, job_id), 8);
	ASSERT_EQ(offsetof(ParallelInvokeSlot, packet), 16);
	ASSERT_EQ(offsetof(ParallelInvokeSlot, result), 96);
	ASSERT_EQ(offsetof(ParallelInvokeSlot, packet) + sizeof(InvokePacket), 96);
	ASSERT_EQ(NUB_SLOT_EMPTY, 0);
	ASSERT_EQ(NUB_SLOT_READY, 1);
	ASSERT_EQ(NUB_SLOT_RUNNING, 2);
	ASSERT_EQ(NUB_SLOT_DONE, 3);
	ASSERT_EQ(NUB_SLOT_STOP, 4);
	ASSERT_EQ(NUB_SLOT_STARTING, 5);
	ASSERT_EQ(NUB_SLOT_EVICT_JIT_READY, 6);
	/* nub's extension: in the specification's padding, statuses outside 0..6 */
	ASSERT_EQ(offsetof(ParallelInvokeSlot, host_flags), 248);
	ASSERT_EQ(offsetof(ParallelInvokeSlot, host_call), 256);
	ASSERT_EQ(offsetof(ParallelInvokeSlot, host_call) + sizeof(NubSlotHostCall), 376);
	ASSERT_EQ(NUB_SLOT_HOST_WAIT, 0x80);
	ASSERT_EQ(NUB_SLOT_HOST_ANSWER, 0x81);
	ASSERT_EQ(NUB_SLOT_HOST_MEM, 0x82);
	ASSERT_EQ(offsetof(ParallelInvokeSlot, host_mem), 376);
	ASSERT_EQ(offsetof(ParallelInvokeSlot, host_mem) + sizeof(NubSlotHostMem), 392);
	ASSERT_EQ(offsetof(NubSlotHostMem, err), 12);
	ASSERT_TRUE(NUB_PARALLEL_SLOT_STRIDE - 392 >= 8); /* nub's cancel and host_sleeps words stay in the tail */
}

TEST(constants)
{
	ASSERT_EQ(NUB_FN_ID_HEAP_STATS, 2);
	ASSERT_EQ(NUB_FN_ID_INVOKE_CACHED, 3);
	ASSERT_EQ(NUB_FN_ID_PUT_CAP, 4);
	ASSERT_EQ(NUB_FN_ID_GET_BOOT_INFO, 5);
	ASSERT_EQ(NUB_FN_ID_EVICT_JIT_ALL, 6);
	ASSERT_EQ(NUB_FN_ID_INVOKE_WORKER, 7);
	ASSERT_EQ(NUB_FN_ID_MAX, 8);
	ASSERT_EQ(NUB_FN_ID_SET_ENGINE, 8); /* nub's extensions */
	ASSERT_EQ(NUB_FN_ID_INVOKE_HOST, 9);
	ASSERT_EQ(NUB_FN_ID_HOST_CALL, 10);
	ASSERT_EQ(NUB_FN_ID_EXT_END, 11);
	ASSERT_EQ(sizeof(NubHostStep), 272);
	ASSERT_EQ(sizeof(NubHostOp), 128);
	ASSERT_EQ(MAX_EXECUTION_LANES, 64);
	ASSERT_EQ(SCRATCHPAD_HEAD_LEN, 128);
	ASSERT_EQ(NUB_EXIT_HALT, 0);
	ASSERT_EQ(NUB_EXIT_PANIC, 1);
	ASSERT_EQ(NUB_EXIT_OUT_OF_GAS, 2);
	ASSERT_EQ(NUB_EXIT_PAGE_FAULT, 3);
	ASSERT_EQ(NUB_EXIT_HOST_CALL, 4);
	ASSERT_EQ(NUB_EXIT_ERROR, 0xFFFFFFFFu);
}

TEST(specification_spellings)
{
	/* the specification's names are the same numbers */
	ASSERT_EQ(FN_ID_NUB_HEAP_STATS, 2);
	ASSERT_EQ(FN_ID_NUB_INVOKE_CACHED, 3);
	ASSERT_EQ(FN_ID_NUB_PUT_CAP, 4);
	ASSERT_EQ(FN_ID_NUB_GET_BOOT_INFO, 5);
	ASSERT_EQ(FN_ID_NUB_EVICT_JIT_ALL, 6);
	ASSERT_EQ(FN_ID_NUB_INVOKE_WORKER, 7);
	ASSERT_EQ(PARALLEL_INVOKE_SLOT_BYTES, 512);
	ASSERT_EQ(PARALLEL_INVOKE_STATUS_EMPTY, 0);
	ASSERT_EQ(PARALLEL_INVOKE_STATUS_READY, 1);
	ASSERT_EQ(PARALLEL_INVOKE_STATUS_RUNNING, 2);
	ASSERT_EQ(PARALLEL_INVOKE_STATUS_DONE, 3);
	ASSERT_EQ(PARALLEL_INVOKE_STATUS_STOP, 4);
	ASSERT_EQ(PARALLEL_INVOKE_STATUS_STARTING, 5);
	ASSERT_EQ(PARALLEL_INVOKE_STATUS_EVICT_JIT_READY, 6);
	ASSERT_EQ(BOOT_INFO_MAGIC, 0x4A41525F424F4F54ull);
}

TEST(error_names_complete)
{
	/* Every code below NUB_E_MAX_ has a distinct name and message. */
	for (int e = 0; e < NUB_E_MAX_; e++) {
		ASSERT_TRUE(strcmp(nub_err_name((nub_err)e), "UNKNOWN") != 0);
		ASSERT_TRUE(strcmp(nub_strerror((nub_err)e), "unknown error") != 0);
		for (int f = 0; f < e; f++)
			ASSERT_TRUE(strcmp(nub_err_name((nub_err)e), nub_err_name((nub_err)f)) != 0);
	}
	ASSERT_TRUE(strcmp(nub_err_name(NUB_E_MAX_), "UNKNOWN") == 0);
	ASSERT_TRUE(strcmp(nub_err_name(NUB_E_CAP_HAS_REF), "CAP_HAS_REF") == 0);
	ASSERT_TRUE(strstr(nub_strerror(NUB_E_CAP_HAS_REF), "CapHasRefError") != NULL);
	ASSERT_TRUE(strcmp(nub_strerror(NUB_E_KVM_UNAVAILABLE), "kvm backend: /dev/kvm not available") == 0);
	ASSERT_TRUE(strcmp(nub_exit_name(NUB_EXIT_PAGE_FAULT), "page-fault") == 0);
	ASSERT_TRUE(strcmp(nub_exit_name(77), "unknown") == 0);
}

TEST(error_codes_are_stable)
{
	/* Wire codes travel in exit_arg: they never move. Append only. */
	static const char *const names[] = {
		"OK", "INVALID_ARG", "NOMEM", "KVM_UNAVAILABLE", "NOT_IMPLEMENTED", "BAD_BACKEND", "STORE_FULL",
		"CAP_TRUNCATED", "CAP_TRAILING", "CAP_KIND", "CAP_VERSION", "IMAGE_LAYOUT", "IMAGE_NO_ENDPOINTS",
		"IMAGE_TOO_MANY_ENDPOINTS", "IMAGE_TOO_MANY_MAPPINGS", "IMAGE_BARE_LAYOUT_FIELDS",
		"IMAGE_SPI_FIELD_RANGE", "IMAGE_CODE", "MAPPING_ALIGN", "MAPPING_LOW", "MAPPING_EMPTY",
		"MAPPING_RANGE", "MAPPING_ORDER", "MAPPING_FLAGS", "MAPPING_SLOT", "MAPPING_SPI_OVERLAP",
		"INSTANCE_TOO_MANY_SLOTS", "INSTANCE_SLOT_RANGE", "INSTANCE_SLOT_ORDER", "CAP_HAS_REF",
		"CAP_REF_KIND", "INSTANCE_SLOT_MISSING", "INSTANCE_DATA_TOO_LARGE", "UNKNOWN_INSTANCE",
		"BAD_ENDPOINT", "BAD_PACKET", "BAD_GAS", "ENGINE", "TIMEOUT", "NOT_INSTANCE", "UNKNOWN_FN",
		"RPC_LENGTH", "GUEST_FAULT", "GUEST_PROTOCOL", "GUEST_DEAD", "GUEST_BAD_IMAGE",
		"KVM_NO_HW_VIRT", "HOST_MEMORY",
		"INVOKE_MEMORY", "SANDBOX_MEMORY", /* resource limits */
		"JIT",
	};
	ASSERT_EQ(sizeof names / sizeof names[0], NUB_E_MAX_);
	for (int e = 0; e < NUB_E_MAX_; e++)
		if (strcmp(nub_err_name((nub_err)e), names[e]) != 0) {
			printf("    code %d is %s, was %s\n", e, nub_err_name((nub_err)e), names[e]);
			ASSERT_TRUE(0);
		}
}

int main(void)
{
	RUN(invoke_packet_bytes);
	RUN(invocation_result_bytes);
	RUN(boot_info_and_heap_stats);
	RUN(parallel_slot_layout);
	RUN(constants);
	RUN(specification_spellings);
	RUN(error_names_complete);
	RUN(error_codes_are_stable);
	return test_done();
}
