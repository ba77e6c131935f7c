/* vmm_elf.c: load the guest kernel ELF64 into guest RAM, every field checked.
 *
 * The image is embedded in libnub, but it is still parsed as untrusted
 * input: every offset and size is checked against the blob (overflow-safe:
 * `size > len - off`, never `off + size > len`), and every destination
 * through the checked gpa translation, restricted to the kernel range
 * [NUB_GUEST_KERNEL_GPA, NUB_GUEST_SLOTS_GPA) so a segment cannot land on
 * the lane slots, the mailbox or the heap (rpc.h memory map). .boot_info is
 * located by section name and its magic checked.
 */
#include <elf.h>
#include <string.h>

#include "host/vmm_int.h"

static bool range_in(uint64_t off, uint64_t size, uint64_t len)
{
	return off <= len && size <= len - off;
}

static nub_err bad(const char *why)
{
	vmm_debug("guest ELF rejected: %s", why);
	return NUB_E_GUEST_BAD_IMAGE;
}

static nub_err load_segments(vmm *vm, const uint8_t *elf, size_t len, const Elf64_Ehdr *eh,
                             struct vmm_elf_image *out)
{
	bool entry_ok = false;
	unsigned loads = 0;
	out->load_end = 0;
	for (uint16_t i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, elf + eh->e_phoff + (uint64_t)i * sizeof ph, sizeof ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz)
			return bad("PT_LOAD filesz > memsz");
		if (!range_in(ph.p_offset, ph.p_filesz, len))
			return bad("PT_LOAD file range outside the blob");
		if (ph.p_paddr < NUB_GUEST_KERNEL_GPA || ph.p_paddr >= NUB_GUEST_SLOTS_GPA ||
		    ph.p_memsz > NUB_GUEST_SLOTS_GPA - ph.p_paddr)
			return bad("PT_LOAD outside the kernel range of the memory map");
		uint8_t *dst = vmm_gpa_to_hva(vm, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return bad("PT_LOAD outside guest RAM");
		memcpy(dst, elf + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if ((ph.p_flags & PF_X) && eh->e_entry >= ph.p_paddr && eh->e_entry - ph.p_paddr < ph.p_memsz)
			entry_ok = true;
		if (ph.p_paddr + ph.p_memsz > out->load_end)
			out->load_end = ph.p_paddr + ph.p_memsz;
		loads++;
	}
	if (!loads)
		return bad("no PT_LOAD segment");
	if (!entry_ok)
		return bad("entry outside every executable segment");
	return NUB_E_OK;
}

static nub_err find_boot_info(const uint8_t *elf, size_t len, const Elf64_Ehdr *eh, struct vmm_elf_image *out)
{
	if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shnum == 0 ||
	    !range_in(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), len) || eh->e_shstrndx >= eh->e_shnum)
		return bad("section header table");
	Elf64_Shdr strs;
	memcpy(&strs, elf + eh->e_shoff + (uint64_t)eh->e_shstrndx * sizeof strs, sizeof strs);
	if (strs.sh_type != SHT_STRTAB || !range_in(strs.sh_offset, strs.sh_size, len))
		return bad("section name table");
	static const char want[] = ".boot_info";
	for (uint16_t i = 0; i < eh->e_shnum; i++) {
		Elf64_Shdr sh;
		memcpy(&sh, elf + eh->e_shoff + (uint64_t)i * sizeof sh, sizeof sh);
		if (sh.sh_name >= strs.sh_size || strs.sh_size - sh.sh_name < sizeof want)
			continue;
		if (memcmp(elf + strs.sh_offset + sh.sh_name, want, sizeof want) != 0)
			continue;
		if (sh.sh_type != SHT_PROGBITS || sh.sh_size < sizeof(BootInfo) ||
		    !range_in(sh.sh_offset, sizeof(BootInfo), len))
			return bad(".boot_info section too small or outside the blob");
		if (sh.sh_addr < NUB_GUEST_KERNEL_GPA || sh.sh_addr >= out->load_end ||
		    sizeof(BootInfo) > out->load_end - sh.sh_addr)
			return bad(".boot_info not inside the loaded image");
		memcpy(&out->boot_info, elf + sh.sh_offset, sizeof(BootInfo));
		out->boot_info_gpa = sh.sh_addr;
		if (out->boot_info.magic != NUB_BOOT_INFO_MAGIC)
			return bad(".boot_info magic");
		return NUB_E_OK;
	}
	return bad("no .boot_info section");
}

nub_err vmm_elf_load(vmm *vm, const uint8_t *elf, size_t len, struct vmm_elf_image *out)
{
	Elf64_Ehdr eh;
	memset(out, 0, sizeof *out);
	if (!elf || len < sizeof eh)
		return bad("shorter than an ELF header");
	memcpy(&eh, elf, sizeof eh);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_ident[EI_VERSION] != EV_CURRENT)
		return bad("not a little-endian ELF64");
	if (eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC)
		return bad("not an x86-64 executable");
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    !range_in(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), len))
		return bad("program header table");
	if (eh.e_entry >= (1ull << 32))
		return bad("entry above 4 GiB (the entry is 32-bit code)");
	nub_err e = load_segments(vm, elf, len, &eh, out);
	if (e)
		return e;
	out->entry = eh.e_entry;
	return find_boot_info(elf, len, &eh, out);
}
