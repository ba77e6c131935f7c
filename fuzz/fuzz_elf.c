/* fuzz_elf.c: libFuzzer target for the nub link ELF reader and the whole
 * linker pipeline: any input must give a clean result or a one-line error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "link/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[LINK_ERR_CAP];
	link_elf e;
	if (link_elf_parse(data, size, &e, err, sizeof err) == 0) {
		for (size_t i = 0; i < e.nsecs; i++) {
			const uint8_t *p = link_elf_section_data(&e, i);
			if (p && e.secs[i].size)
				(void)*(volatile const uint8_t *)(p + e.secs[i].size - 1);
		}
		link_elf_free(&e);
	} else if (!memchr(err, 0, sizeof err) || err[0] == 0) {
		abort(); /* every failure must say why */
	}
	link_result res;
	if (link_program(data, size, NULL, &res, err, sizeof err) == 0) {
		if (res.spi_len < 15)
			abort();
		link_result_free(&res);
	} else if (err[0] == 0) {
		abort();
	}
	return 0;
}
