/* fuzz_spi.c: libFuzzer target: standard program (SPI) parser + initialiser,
 * then a short run. The first byte picks the argument length. */
#include <stddef.h>
#include <stdint.h>

#include "pvm/pvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t args_len = data[0];
	data++;
	size--;
	pvm_spi spi;
	if (pvm_spi_parse(data, size, &spi) != PVM_E_OK)
		return 0;
	/* keep the fuzzer's memory bounded: skip layouts of many MiB */
	if ((uint64_t)spi.ro_len + spi.rw_len + (uint64_t)spi.heap_pages * 4096 + spi.stack_size > (64u << 20))
		return 0;
	pvm_program *p;
	if (pvm_program_new(spi.blob, spi.blob_len, &p) != PVM_E_OK)
		return 0;
	pvm_instance *m;
	if (pvm_instance_new(p, &m) == PVM_E_OK) {
		if (pvm_spi_init(m, &spi, data, args_len < size ? args_len : (uint32_t)size) == PVM_E_OK) {
			pvm_set_gas(m, 10000);
			for (int i = 0; i < 4 && pvm_run(m) == PVM_EXIT_HOST; i++)
				;
		}
		pvm_instance_free(m);
	}
	pvm_program_free(p);
	return 0;
}
