/* vmm_guest_image.c: the guest kernel ELF, embedded in libnub.
 *
 * src/host/module.mk compiles this file with NUB_GUEST_ELF = the absolute
 * path of $(B)/guest/nub-guest.elf, which `.incbin` copies into .rodata, so
 * nothing needs installing next to the library. A build without it (e.g.
 * the fuzz targets, which compile the library sources directly) embeds
 * nothing and vmm_open says so with NUB_E_NOT_IMPLEMENTED.
 */
#include "host/vmm.h"

#ifdef NUB_GUEST_ELF
__asm__(".section .rodata.nub_guest_elf, \"a\", @progbits\n"
        ".balign 64\n"
        ".hidden nub_guest_elf_begin\n"
        ".hidden nub_guest_elf_end\n"
        "nub_guest_elf_begin:\n"
        ".incbin \"" NUB_GUEST_ELF "\"\n"
        "nub_guest_elf_end:\n"
        ".previous\n");
extern const uint8_t nub_guest_elf_begin[], nub_guest_elf_end[];

void vmm_guest_image(const uint8_t **elf, size_t *len)
{
	*elf = nub_guest_elf_begin;
	*len = (size_t)(nub_guest_elf_end - nub_guest_elf_begin);
}
#else
void vmm_guest_image(const uint8_t **elf, size_t *len)
{
	*elf = NULL;
	*len = 0;
}
#endif
