/* fuzz_blob.c: libFuzzer target: program blob decoder + disassembler, and
 * the size a blob's decoded program is charged at before decoding
 * (pvm_program_bytes_of_blob) against what decoding really took. */
#include <stddef.h>
#include <stdint.h>

#include "pvm/pvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pvm_program *p;
	size_t charged = pvm_program_bytes_of_blob(data, size);
	if (pvm_program_new(data, size, &p) != PVM_E_OK)
		return 0;
	if (charged != pvm_program_bytes(p))
		__builtin_trap(); /* a program would be charged less than it holds */
	char buf[160];
	uint32_t n = pvm_program_code_len(p);
	for (uint32_t pc = 0; pc <= n && pc < 4096;)
		{
		uint32_t nx = pvm_disasm(p, pc, buf, sizeof buf);
		pc = nx > pc ? nx : pc + 1;
	}
	for (uint32_t i = 0; i < pvm_program_jump_table_len(p) && i < 64; i++)
		(void)pvm_is_block_start(p, pvm_program_jump_entry(p, i));
	pvm_program_free(p);
	return 0;
}
