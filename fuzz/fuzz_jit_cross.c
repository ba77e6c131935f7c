/* fuzz_jit_cross.c: libFuzzer target: the JIT against the interpreter.
 *
 * Arbitrary bytes become a program blob run with bounded gas over a fixed
 * memory layout (RO pages holding the input at 0x10000, RW pages at 0x20000,
 * a RW stack below 0xFEFE0000, heap above 0x23000), registers, pc and gas
 * from the first 16 bytes (as fuzz_run.c). Two twin instances run it, one
 * on each engine; after every exit (and up to 8 host calls, answered by
 * changing r7 and one byte of memory, and by the host changing the layout:
 * one RW page made read-only or writable again, one page mapped or
 * unmapped) the whole state must be identical:
 * status, pc, 13 registers, gas, exit argument, heap pointer, and the access
 * and every byte of every mapped page. A divergence prints both states and
 * aborts. x86-64 hosts only. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit/jit.h"
#include "pvm/pvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void setup(pvm_instance *m, const uint8_t *data, size_t size)
{
	const uint8_t *cfg = data;
	pvm_mem_map(m, 0x10000, 0x2000, PVM_ACCESS_RO);
	pvm_mem_map(m, 0x20000, 0x3000, PVM_ACCESS_RW);
	pvm_mem_map(m, 0xFEFD0000u, 0x10000, PVM_ACCESS_RW);
	pvm_mem_write(m, 0x10000, data, (uint32_t)(size < 0x2000 ? size : 0x2000));
	pvm_mem_write(m, 0x20ff8, data, (uint32_t)(size < 16 ? size : 16));
	pvm_set_heap_ptr(m, 0x23000);
	static const uint64_t seeds[8] = {0, 0x10000, 0x20000, 0xFFFF0000u, 0xFEFE0000u, UINT64_MAX, 0x8000000000000000ull, 0x20ffc};
	for (unsigned i = 0; i < PVM_NUM_REGS; i++)
		pvm_set_reg(m, i, seeds[cfg[i] & 7] + (cfg[i] >> 3));
	pvm_set_pc(m, cfg[13] < 200 ? 0 : (uint32_t)cfg[14]);
	pvm_set_gas(m, (int64_t)(cfg[15] * 400u));
}

static void dump(const char *who, const pvm_instance *m, pvm_exit ex)
{
	fprintf(stderr, "%s: %s pc %u gas %lld arg 0x%x heap 0x%x\n", who, pvm_exit_name(ex), pvm_pc(m),
	        (long long)pvm_gas(m), pvm_exit_arg(m), pvm_heap_ptr(m));
	for (unsigned i = 0; i < PVM_NUM_REGS; i++)
		fprintf(stderr, "  r%u = 0x%llx\n", i, (unsigned long long)pvm_reg(m, i));
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static jit_vm *vm;
	if (size < 16)
		return 0;
	if (!vm && jit_vm_new(&vm) != JIT_E_OK)
		abort();
	pvm_program *p;
	if (pvm_program_new(data + 16, size - 16, &p) != PVM_E_OK)
		return 0;
	jit_code *c;
	/* the low bit of config byte 13 compiles as for a CPU without BMI2 */
	jit_err je = jit_compile_flags(p, data[13] & 1 ? JIT_C_NO_BMI2 : 0, &c);
	if (je) {
		fprintf(stderr, "jit_compile: %s\n", jit_strerror(je));
		abort();
	}
	pvm_instance *mi, *mj;
	if (pvm_instance_new(p, &mi) != PVM_E_OK || pvm_instance_new(p, &mj) != PVM_E_OK)
		abort();
	setup(mi, data, size);
	setup(mj, data, size);
	for (int i = 0; i < 9; i++) {
		pvm_exit ei = pvm_run(mi), ej = jit_run(vm, c, mj);
		const char *d = pvm_state_differ(mi, ei, mj, ej);
		if (d) {
			fprintf(stderr, "JIT DIVERGES (%s) after %d host calls\n", d, i);
			dump("interp", mi, ei);
			dump("jit", mj, ej);
			abort();
		}
		if (ei != PVM_EXIT_HOST)
			break;
		/* the host changes a register and a byte of memory, then resumes */
		uint8_t b = (uint8_t)(0x5A + i);
		pvm_set_reg(mi, 7, pvm_reg(mi, 7) ^ 0x55);
		pvm_set_reg(mj, 7, pvm_reg(mj, 7) ^ 0x55);
		pvm_mem_write(mi, 0x20000 + (uint32_t)i, &b, 1);
		pvm_mem_write(mj, 0x20000 + (uint32_t)i, &b, 1);
		/* layout changes the window must follow */
		uint8_t sel = data[(16 + (unsigned)i) % size];
		uint32_t pg = 0x20000 + 0x1000u * (sel % 3u);
		int acc = (sel & 8) ? PVM_ACCESS_RO : PVM_ACCESS_RW;
		pvm_mem_map(mi, pg, 0x1000, acc);
		pvm_mem_map(mj, pg, 0x1000, acc);
		int acc2 = (sel & 16) ? PVM_ACCESS_NONE : PVM_ACCESS_RW;
		pvm_mem_map(mi, 0x30000, 0x1000, acc2);
		pvm_mem_map(mj, 0x30000, 0x1000, acc2);
	}
	pvm_instance_free(mi);
	pvm_instance_free(mj);
	jit_code_free(c);
	pvm_program_free(p);
	return 0;
}
