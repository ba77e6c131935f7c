/* test_pvm.c: engine unit tests: blob/SPI validation, memory, gas, host
 * calls, sbrk and interpreter edge cases the vectors do not cover. */
#include <stdlib.h>

#include "pvm/pvm.h"
#include "test.h"

/* ---- a tiny assembler: instructions as byte strings -> generic blob ---- */
typedef struct {
	uint8_t code[256];
	uint8_t starts[256];
	unsigned n;
	uint8_t jt[16];
	unsigned njt;
} asm_t;

static void emit(asm_t *a, const uint8_t *b, unsigned len)
{
	a->starts[a->n] = 1;
	for (unsigned i = 0; i < len; i++)
		a->code[a->n++] = b[i];
}
#define E(a, ...) emit(a, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

static size_t finish(const asm_t *a, uint8_t *out)
{
	size_t o = 0;
	out[o++] = (uint8_t)a->njt;
	out[o++] = a->njt ? 1 : 0;
	out[o++] = (uint8_t)a->n; /* < 128 in these tests */
	for (unsigned i = 0; i < a->njt; i++)
		out[o++] = a->jt[i];
	for (unsigned i = 0; i < a->n; i++)
		out[o++] = a->code[i];
	for (unsigned i = 0; i < (a->n + 7) / 8; i++) {
		uint8_t b = 0;
		for (unsigned k = 0; k < 8 && 8 * i + k < a->n; k++)
			b |= (uint8_t)(a->starts[8 * i + k] << k);
		out[o++] = b;
	}
	return o;
}

static pvm_program *prog;
static pvm_instance *inst;

static int load(const asm_t *a)
{
	uint8_t blob[512];
	size_t n = finish(a, blob);
	pvm_instance_free(inst);
	pvm_program_free(prog);
	inst = NULL;
	prog = NULL;
	if (pvm_program_new(blob, n, &prog) != PVM_E_OK)
		return 0;
	if (pvm_instance_new(prog, &inst) != PVM_E_OK)
		return 0;
	pvm_set_gas(inst, 1000);
	return 1;
}

/* ---- blob validation ---- */

TEST(blob_errors)
{
	pvm_program *p;
	static const uint8_t trunc[] = {0, 0, 3, 0xbe};
	static const uint8_t trailing[] = {0, 0, 1, 0, 1, 9};
	static const uint8_t nonmin[] = {0, 0, 0x80, 0x03, 0, 0, 0, 7};
	static const uint8_t width[] = {1, 5, 1, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t padding[] = {0, 0, 1, 0, 0x03};
	static const uint8_t big[] = {0, 0, 0xe2, 0, 0, 0}; /* 2^25 code bytes */
	ASSERT_EQ(pvm_program_new(trunc, sizeof trunc, &p), PVM_E_BLOB_TRUNCATED);
	ASSERT_EQ(pvm_program_new(trailing, sizeof trailing, &p), PVM_E_BLOB_TRAILING);
	ASSERT_EQ(pvm_program_new(nonmin, sizeof nonmin, &p), PVM_E_BLOB_VARINT);
	ASSERT_EQ(pvm_program_new(width, sizeof width, &p), PVM_E_BLOB_JUMP_WIDTH);
	ASSERT_EQ(pvm_program_new(padding, sizeof padding, &p), PVM_E_BLOB_BITMASK_PADDING);
	ASSERT_EQ(pvm_program_new(big, sizeof big, &p), PVM_E_BLOB_CODE_TOO_LARGE);
	static const uint8_t empty_code[] = {0, 0, 0};
	ASSERT_EQ(pvm_program_new(empty_code, sizeof empty_code, &p), PVM_E_OK);
	pvm_instance *m;
	ASSERT_EQ(pvm_instance_new(p, &m), PVM_E_OK);
	pvm_set_gas(m, 5);
	ASSERT_EQ(pvm_run(m), PVM_EXIT_PANIC); /* implicit trap at 0 */
	ASSERT_EQ(pvm_gas(m), 4);
	pvm_instance_free(m);
	pvm_program_free(p);
}

/* ---- gas ---- */

TEST(out_of_gas_stops_before_instruction)
{
	asm_t a = {0};
	E(&a, 0x95, 0x77, 0x01); /* 0: add_imm_64 r7, r7, 1 */
	E(&a, 0x95, 0x77, 0x01); /* 3 */
	E(&a, 0x95, 0x77, 0x01); /* 6 */
	ASSERT_TRUE(load(&a));
	pvm_set_gas(inst, 2);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_OOG);
	ASSERT_EQ(pvm_pc(inst), 6);
	ASSERT_EQ(pvm_gas(inst), 0);
	ASSERT_EQ(pvm_reg(inst, 7), 2);
	/* zero and negative gas: nothing runs */
	pvm_set_pc(inst, 0);
	pvm_set_gas(inst, -5);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_OOG);
	ASSERT_EQ(pvm_pc(inst), 0);
	ASSERT_EQ(pvm_reg(inst, 7), 2);
	/* refill and continue where it stopped */
	pvm_set_pc(inst, 6);
	pvm_set_gas(inst, 2);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_PANIC); /* runs off the end: trap at 9 */
	ASSERT_EQ(pvm_pc(inst), 9);
	ASSERT_EQ(pvm_gas(inst), 0);
	ASSERT_EQ(pvm_reg(inst, 7), 3);
}

/* ---- host calls ---- */

TEST(ecalli_stops_and_resumes)
{
	asm_t a = {0};
	E(&a, 0x0a, 0x2a);       /* 0: ecalli 42 */
	E(&a, 0x95, 0x77, 0x05); /* 2: add_imm_64 r7, r7, 5 */
	E(&a, 0x0a, 0xff, 0xff, 0xff, 0xff); /* 5: ecalli 0xffffffff */
	ASSERT_TRUE(load(&a));
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_HOST);
	ASSERT_EQ(pvm_exit_arg(inst), 42);
	ASSERT_EQ(pvm_pc(inst), 0);
	ASSERT_EQ(pvm_gas(inst), 999);
	pvm_set_reg(inst, 7, 100); /* the host changes a register */
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_HOST);
	ASSERT_EQ(pvm_exit_arg(inst), 0xffffffffu);
	ASSERT_EQ(pvm_pc(inst), 5);
	ASSERT_EQ(pvm_reg(inst, 7), 105);
	ASSERT_EQ(pvm_gas(inst), 997);
	/* set_pc cancels the resume point */
	pvm_set_pc(inst, 0);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_HOST);
	ASSERT_EQ(pvm_exit_arg(inst), 42);
}

/* ---- memory ---- */

TEST(page_faults_and_panics)
{
	asm_t a = {0};
	E(&a, 0x82, 0x87, 0x00); /* 0: load_ind_u16 r7, [r8 + 0] (124 = 0x7c) */
	a.code[0] = 0x7e;        /* load_ind_u16 = 126 */
	ASSERT_TRUE(load(&a));
	ASSERT_EQ(pvm_mem_map(inst, 0x20000, 0x1000, PVM_ACCESS_RW), PVM_E_OK);
	uint8_t two[2] = {0x34, 0x12};
	ASSERT_EQ(pvm_mem_write(inst, 0x20ffe, two, 2), PVM_E_OK);
	/* in bounds */
	pvm_set_reg(inst, 8, 0x20ffe);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_PANIC); /* falls off the end after the load */
	ASSERT_EQ(pvm_reg(inst, 7), 0x1234);
	/* crossing into an unmapped page: fault at that page, r7 unchanged, gas charged */
	pvm_set_reg(inst, 7, 77);
	pvm_set_reg(inst, 8, 0x20fff);
	pvm_set_pc(inst, 0);
	pvm_set_gas(inst, 10);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_PAGE_FAULT);
	ASSERT_EQ(pvm_exit_arg(inst), 0x21000);
	ASSERT_EQ(pvm_pc(inst), 0);
	ASSERT_EQ(pvm_gas(inst), 9);
	ASSERT_EQ(pvm_reg(inst, 7), 77);
	/* below 0x10000: panic */
	pvm_set_reg(inst, 8, 0xfffe);
	pvm_set_pc(inst, 0);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_PANIC);
	ASSERT_EQ(pvm_pc(inst), 0);
	/* wrapping past 2^32 reaches address 0: panic */
	pvm_set_reg(inst, 8, 0xffffffff);
	pvm_set_pc(inst, 0);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_PANIC);
	ASSERT_EQ(pvm_pc(inst), 0);
}

TEST(write_to_read_only_page_faults)
{
	asm_t a = {0};
	E(&a, 0x7b, 0x87, 0x00); /* 0: store_ind_u64 [r8 + 0], r7 (123) */
	ASSERT_TRUE(load(&a));
	ASSERT_EQ(pvm_mem_map(inst, 0x30000, 0x1000, PVM_ACCESS_RW), PVM_E_OK);
	ASSERT_EQ(pvm_mem_map(inst, 0x31000, 0x1000, PVM_ACCESS_RO), PVM_E_OK);
	pvm_set_reg(inst, 7, 0x1122334455667788ull);
	pvm_set_reg(inst, 8, 0x30ffc); /* half in the RW page, half in the RO one */
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_PAGE_FAULT);
	ASSERT_EQ(pvm_exit_arg(inst), 0x31000);
	uint8_t buf[8];
	ASSERT_EQ(pvm_mem_read(inst, 0x30ffc, buf, 8), PVM_E_OK);
	static const uint8_t zero[8];
	ASSERT_MEM_EQ(buf, zero, 8); /* nothing written, not even the RW half */
}

TEST(mem_map_errors)
{
	asm_t a = {0};
	E(&a, 0x00);
	ASSERT_TRUE(load(&a));
	ASSERT_EQ(pvm_mem_map(inst, 0x20001, 0x1000, PVM_ACCESS_RW), PVM_E_MEM_ALIGN);
	ASSERT_EQ(pvm_mem_map(inst, 0x20000, 0x10, PVM_ACCESS_RW), PVM_E_MEM_ALIGN);
	ASSERT_EQ(pvm_mem_map(inst, 0x0, 0x1000, PVM_ACCESS_RW), PVM_E_MEM_RANGE);
	ASSERT_EQ(pvm_mem_map(inst, 0xfffff000u, 0x2000, PVM_ACCESS_RW), PVM_E_MEM_RANGE);
	ASSERT_EQ(pvm_mem_write(inst, 0x20000, "x", 1), PVM_E_MEM_UNMAPPED);
	ASSERT_EQ(pvm_mem_map(inst, 0xfffff000u, 0x1000, PVM_ACCESS_RW), PVM_E_OK);
	ASSERT_EQ(pvm_mem_access(inst, 0xffffffffu), PVM_ACCESS_RW);
	ASSERT_EQ(pvm_mem_map(inst, 0xfffff000u, 0x1000, PVM_ACCESS_NONE), PVM_E_OK);
	ASSERT_EQ(pvm_mem_access(inst, 0xffffffffu), PVM_ACCESS_NONE);
}

TEST(sbrk_grows_heap)
{
	asm_t a = {0};
	E(&a, 0x65, 0x89);       /* 0: sbrk r9, r8 */
	E(&a, 0x65, 0x8a);       /* 2: sbrk r10, r8 */
	E(&a, 0x65, 0x0b);       /* 4: sbrk r11, r0 (r0 = 0: query) */
	E(&a, 0x7b, 0xa7, 0x00); /* 6: store_ind_u64 [r10 + 0], r7 */
	ASSERT_TRUE(load(&a));
	pvm_set_heap_ptr(inst, 0x40000);
	pvm_set_reg(inst, 8, 0x1800);
	pvm_set_reg(inst, 7, 0xabcdef);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_PANIC); /* off the end */
	ASSERT_EQ(pvm_reg(inst, 9), 0x40000);
	ASSERT_EQ(pvm_reg(inst, 10), 0x41800);
	ASSERT_EQ(pvm_reg(inst, 11), 0x43000);
	ASSERT_EQ(pvm_mem_access(inst, 0x42fff), PVM_ACCESS_RW);
	ASSERT_EQ(pvm_mem_access(inst, 0x43000), PVM_ACCESS_NONE);
	uint64_t v = 0;
	ASSERT_EQ(pvm_mem_read(inst, 0x41800, &v, 8), PVM_E_OK);
	ASSERT_EQ(v, 0xabcdef);
}

/* ---- control flow ---- */

TEST(jumps)
{
	asm_t a = {0};
	E(&a, 0x28, 0x03);       /* 0: jump @3 */
	E(&a, 0x33, 0x07, 0x01); /* 2..: (bad target: mid-way) load_imm r7, 1 -- never at 3 */
	ASSERT_TRUE(load(&a));
	/* @3 is an operand byte: not a block start -> panic at the jump */
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_PANIC);
	ASSERT_EQ(pvm_pc(inst), 0);
	ASSERT_EQ(pvm_gas(inst), 999);

	asm_t b = {0};
	b.njt = 1;
	b.jt[0] = 3;
	E(&b, 0x32, 0x08);       /* 0: jump_ind r8 */
	E(&b, 0x00);             /* 2: trap */
	E(&b, 0x33, 0x07, 0x07); /* 3: load_imm r7, 7 */
	E(&b, 0x32, 0x00);       /* 6: jump_ind r0 */
	ASSERT_TRUE(load(&b));
	pvm_set_reg(inst, 8, 2);
	pvm_set_reg(inst, 0, 0xffff0000u);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_HALT);
	ASSERT_EQ(pvm_pc(inst), 6);
	ASSERT_EQ(pvm_reg(inst, 7), 7);
	static const uint64_t bad[] = {0, 1, 3, 4, 0x100000002ull - 0x100000000ull + 2};
	for (unsigned i = 0; i < 5; i++) {
		pvm_set_pc(inst, 0);
		pvm_set_reg(inst, 8, bad[i]);
		ASSERT_EQ(pvm_run(inst), PVM_EXIT_PANIC);
		ASSERT_EQ(pvm_pc(inst), 0);
	}
	/* the address is taken mod 2^32 */
	pvm_set_pc(inst, 0);
	pvm_set_reg(inst, 8, 0x100000002ull);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_HALT);
}

TEST(start_inside_instruction_traps)
{
	asm_t a = {0};
	E(&a, 0x33, 0x07, 0x01); /* 0: load_imm r7, 1 */
	ASSERT_TRUE(load(&a));
	pvm_set_pc(inst, 1);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_PANIC);
	ASSERT_EQ(pvm_pc(inst), 1);
	ASSERT_EQ(pvm_gas(inst), 999);
	pvm_set_pc(inst, 0x7fffffff); /* far past the code */
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_PANIC);
	ASSERT_EQ(pvm_pc(inst), 0x7fffffff);
	pvm_set_pc(inst, 1);
	pvm_set_gas(inst, 0);
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_OOG);
}

TEST(skip_capped_at_24)
{
	/* fallthrough followed by 30 unmarked bytes: the next pc is 0+1+24 = 25,
	 * which is no instruction start, so it traps there */
	asm_t a = {0};
	E(&a, 0x01);
	for (int i = 0; i < 30; i++)
		a.code[a.n++] = 0x01;
	ASSERT_TRUE(load(&a));
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_PANIC);
	ASSERT_EQ(pvm_pc(inst), 25);
	ASSERT_EQ(pvm_gas(inst), 998);
}

TEST(undefined_opcode_traps)
{
	asm_t a = {0};
	E(&a, 0x01);       /* fallthrough */
	E(&a, 0x02, 0x00); /* opcode 2 is undefined in GP 0.7.2 */
	ASSERT_TRUE(load(&a));
	ASSERT_EQ(pvm_run(inst), PVM_EXIT_PANIC);
	ASSERT_EQ(pvm_pc(inst), 1);
	ASSERT_EQ(pvm_gas(inst), 998);
	ASSERT_TRUE(!pvm_is_block_start(prog, 1)); /* invalid opcode: not a start */
}

/* ---- SPI ---- */

TEST(spi_parse_and_init)
{
	/* ro = "AB", rw = "C", 1 heap page, stack 100 bytes, code: ecalli 1 */
	static const uint8_t spi[] = {2, 0, 0, 1, 0, 0, 1, 0, 100, 0, 0, 'A', 'B', 'C', 6, 0, 0, 0,
				      0, 0, 2, 0x0a, 0x01, 0x01};
	pvm_spi s;
	ASSERT_EQ(pvm_spi_parse(spi, sizeof spi, &s), PVM_E_OK);
	ASSERT_EQ(s.ro_len, 2);
	ASSERT_EQ(s.rw_len, 1);
	ASSERT_EQ(s.heap_pages, 1);
	ASSERT_EQ(s.stack_size, 100);
	pvm_program *p;
	ASSERT_EQ(pvm_program_new(s.blob, s.blob_len, &p), PVM_E_OK);
	pvm_instance *m;
	ASSERT_EQ(pvm_instance_new(p, &m), PVM_E_OK);
	ASSERT_EQ(pvm_spi_init(m, &s, (const uint8_t *)"xyz", 3), PVM_E_OK);
	ASSERT_EQ(pvm_reg(m, 0), 0xffff0000u);
	ASSERT_EQ(pvm_reg(m, 1), 0xfefe0000u);
	ASSERT_EQ(pvm_reg(m, 7), 0xfeff0000u);
	ASSERT_EQ(pvm_reg(m, 8), 3);
	ASSERT_EQ(pvm_mem_access(m, 0x10000), PVM_ACCESS_RO);
	ASSERT_EQ(pvm_mem_access(m, 0x11000), PVM_ACCESS_NONE);
	/* heap at 2*Z_Z + Z(|o|) = 0x30000 */
	ASSERT_EQ(pvm_mem_access(m, 0x20000), PVM_ACCESS_NONE);
	ASSERT_EQ(pvm_mem_access(m, 0x30000), PVM_ACCESS_RW);
	ASSERT_EQ(pvm_mem_access(m, 0x31000), PVM_ACCESS_RW); /* the extra heap page */
	ASSERT_EQ(pvm_mem_access(m, 0x32000), PVM_ACCESS_NONE);
	ASSERT_EQ(pvm_mem_access(m, 0xfefdf000u), PVM_ACCESS_RW);
	ASSERT_EQ(pvm_mem_access(m, 0xfefde000u), PVM_ACCESS_NONE);
	ASSERT_EQ(pvm_mem_access(m, 0xfeff0000u), PVM_ACCESS_RO);
	ASSERT_EQ(pvm_heap_ptr(m), 0x32000);
	char buf[3];
	ASSERT_EQ(pvm_mem_read(m, 0xfeff0000u, buf, 3), PVM_E_OK);
	ASSERT_MEM_EQ(buf, "xyz", 3);
	ASSERT_EQ(pvm_mem_read(m, 0x30000, buf, 1), PVM_E_OK);
	ASSERT_EQ(buf[0], 'C');
	pvm_set_gas(m, 10);
	ASSERT_EQ(pvm_run(m), PVM_EXIT_HOST);
	ASSERT_EQ(pvm_exit_arg(m), 1);
	pvm_instance_free(m);
	pvm_program_free(p);

	/* errors */
	ASSERT_EQ(pvm_spi_parse(spi, 10, &s), PVM_E_SPI_TRUNCATED);
	ASSERT_EQ(pvm_spi_parse(spi, sizeof spi - 1, &s), PVM_E_SPI_TRUNCATED);
	uint8_t longer[sizeof spi + 1];
	memcpy(longer, spi, sizeof spi);
	longer[sizeof spi] = 0;
	ASSERT_EQ(pvm_spi_parse(longer, sizeof longer, &s), PVM_E_SPI_TRAILING);
	/* the largest layout the field widths allow (0xffff heap pages, 16 MiB
	 * stack) still fits in 2^32, so SPI_TOO_LARGE is a defensive check only */
	static const uint8_t huge[] = {0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0, 0, 0, 0};
	ASSERT_EQ(pvm_spi_parse(huge, sizeof huge, &s), PVM_E_OK);
}

TEST(disasm_names)
{
	asm_t a = {0};
	E(&a, 0xc8, 0x98, 0x0a); /* add_64 r10, r8, r9 */
	ASSERT_TRUE(load(&a));
	char buf[64];
	ASSERT_EQ(pvm_disasm(prog, 0, buf, sizeof buf), 3);
	ASSERT_TRUE(strcmp(buf, "add_64 r10, r8, r9") == 0);
	ASSERT_TRUE(strcmp(pvm_strerror(PVM_E_BLOB_VARINT), "program blob: malformed or non-minimal varint") == 0);
}

int main(void)
{
	RUN(blob_errors);
	RUN(out_of_gas_stops_before_instruction);
	RUN(ecalli_stops_and_resumes);
	RUN(page_faults_and_panics);
	RUN(write_to_read_only_page_faults);
	RUN(mem_map_errors);
	RUN(sbrk_grows_heap);
	RUN(jumps);
	RUN(start_inside_instruction_traps);
	RUN(skip_capped_at_24);
	RUN(undefined_opcode_traps);
	RUN(spi_parse_and_init);
	RUN(disasm_names);
	pvm_instance_free(inst);
	pvm_program_free(prog);
	return test_done();
}
