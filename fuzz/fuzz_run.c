/* fuzz_run.c: libFuzzer target: decode arbitrary bytes as a program blob and
 * run it with bounded gas over a fixed memory layout (RO and RW pages at
 * 0x10000.., registers from the input), resuming after host calls. The first
 * 16 input bytes seed registers, pc and gas; the rest is the blob. */
#include <stddef.h>
#include <stdint.h>

#include "pvm/pvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 16)
		return 0;
	const uint8_t *cfg = data;
	pvm_program *p;
	if (pvm_program_new(data + 16, size - 16, &p) != PVM_E_OK)
		return 0;
	pvm_instance *m;
	if (pvm_instance_new(p, &m) != PVM_E_OK) {
		pvm_program_free(p);
		return 0;
	}
	pvm_mem_map(m, 0x10000, 0x2000, PVM_ACCESS_RO);
	pvm_mem_map(m, 0x20000, 0x3000, PVM_ACCESS_RW);
	pvm_mem_map(m, 0xFEFD0000u, 0x10000, PVM_ACCESS_RW);
	pvm_mem_write(m, 0x10000, data, (uint32_t)(size < 0x2000 ? size : 0x2000));
	pvm_set_heap_ptr(m, 0x23000);
	static const uint64_t seeds[8] = {0, 0x10000, 0x20000, 0xFFFF0000u, 0xFEFE0000u, UINT64_MAX, 0x8000000000000000ull, 1};
	for (unsigned i = 0; i < PVM_NUM_REGS; i++)
		pvm_set_reg(m, i, seeds[cfg[i] & 7] + (cfg[i] >> 3));
	pvm_set_pc(m, cfg[13] < 200 ? 0 : (uint32_t)cfg[14]);
	pvm_set_gas(m, (int64_t)(cfg[15] * 200u));
	for (int i = 0; i < 8 && pvm_run(m) == PVM_EXIT_HOST; i++)
		pvm_set_reg(m, 7, pvm_reg(m, 7) ^ 0x55);
	pvm_instance_free(m);
	pvm_program_free(p);
	return 0;
}
