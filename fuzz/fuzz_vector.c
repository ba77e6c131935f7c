/* fuzz_vector.c: libFuzzer target: the JSON test-vector parser; a vector
 * that parses is also run with its gas capped. */
#include <stddef.h>
#include <stdint.h>

#include "cli/vector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vector v;
	char err[256];
	if (!vector_parse((const char *)data, size, &v, err, sizeof err))
		return 0;
	pvm_program *p;
	if (pvm_program_new(v.program, v.program_len, &p) == PVM_E_OK) {
		pvm_instance *m;
		if (v.gas > 100000)
			v.gas = 100000;
		if (vector_instance(&v, p, &m) == PVM_E_OK) {
			pvm_exit ex = pvm_run(m);
			char diff[512];
			if (v.has_expect)
				vector_compare(&v, m, ex, diff, sizeof diff);
			pvm_instance_free(m);
		}
		pvm_program_free(p);
	}
	vector_free(&v);
	return 0;
}
