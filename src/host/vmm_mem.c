/* vmm_mem.c: the one checked gpa -> hva translation (STYLE 3).
 *
 * Everything the host reads or writes in guest RAM goes through
 * vmm_gpa_to_hva_at: [gpa, gpa + size) must lie inside RAM, computed without
 * overflow (size > ram - gpa, never gpa + size > ram). A refused range is
 * reported with the caller's file:line (under NUB_VMM_DEBUG) and yields NULL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "host/vmm_int.h"

void vmm_debug(const char *fmt, ...)
{
	static int on = -1;
	if (on < 0)
		on = getenv("NUB_VMM_DEBUG") != NULL;
	if (!on)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("nub vmm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void *vmm_gpa_to_hva_at(const vmm *vm, nub_gpa gpa, uint64_t size, const char *file, int line)
{
	if (!vm || !vm->ram || size == 0 || gpa >= vm->ram_bytes || size > vm->ram_bytes - gpa) {
		vmm_debug("%s:%d: gpa 0x%llx + 0x%llx outside guest RAM (0x%llx bytes)", file, line,
		          (unsigned long long)gpa, (unsigned long long)size,
		          (unsigned long long)(vm ? vm->ram_bytes : 0));
		return NULL;
	}
	return vm->ram + gpa;
}
