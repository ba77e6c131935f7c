/* test_host_vmm.c: host-side unit tests of the VMM that need no /dev/kvm:
 * the checked gpa translation (bounds, overflow), the ELF loader's checks on
 * the embedded guest kernel and on corrupted copies of it, and the cap
 * directory reader on a synthetic directory in fake guest RAM. */
#include <cpuid.h>
#include <elf.h>
#include <stdlib.h>
#include <unistd.h>

#include "host/kvm_backend.h"
#include "host/vmm_int.h"
#include "nub/nub.h"
#include "test.h"

#define FAKE_RAM (64ull << 20)

static vmm *fake_vm(void)
{
	vmm *vm = calloc(1, sizeof *vm);
	vm->ram = calloc(1, FAKE_RAM);
	vm->ram_bytes = FAKE_RAM;
	return vm;
}

static void fake_free(vmm *vm)
{
	free(vm->ram);
	free(vm);
}

TEST(gpa_translation_bounds)
{
	vmm *vm = fake_vm();
	ASSERT_TRUE(vmm_gpa_to_hva(vm, 0, 1) == vm->ram);
	ASSERT_TRUE(vmm_gpa_to_hva(vm, FAKE_RAM - 1, 1) == vm->ram + FAKE_RAM - 1);
	ASSERT_TRUE(vmm_gpa_to_hva(vm, 0, FAKE_RAM) == vm->ram);
	ASSERT_TRUE(vmm_gpa_to_hva(vm, 0, FAKE_RAM + 1) == NULL);
	ASSERT_TRUE(vmm_gpa_to_hva(vm, FAKE_RAM, 1) == NULL);
	ASSERT_TRUE(vmm_gpa_to_hva(vm, FAKE_RAM - 4, 8) == NULL);
	ASSERT_TRUE(vmm_gpa_to_hva(vm, 16, 0) == NULL);
	/* overflow: gpa + size wraps to a small number */
	ASSERT_TRUE(vmm_gpa_to_hva(vm, 0x1000, ~0ull) == NULL);
	ASSERT_TRUE(vmm_gpa_to_hva(vm, ~0ull, 2) == NULL);
	ASSERT_TRUE(vmm_gpa_to_hva(vm, ~0ull - 0xFFF, 0x2000) == NULL);
	fake_free(vm);
}

TEST(elf_embedded_loads)
{
	const uint8_t *elf;
	size_t len;
	vmm_guest_image(&elf, &len);
	if (!len)
		SKIP("libnub built without the embedded guest kernel");
	vmm *vm = fake_vm();
	struct vmm_elf_image img;
	ASSERT_EQ(vmm_elf_load(vm, elf, len, &img), NUB_E_OK);
	ASSERT_EQ(img.boot_info.magic, NUB_BOOT_INFO_MAGIC);
	ASSERT_EQ(img.boot_info.directory_type_id, NUB_CAPDIR_LAYOUT_V1);
	ASSERT_TRUE(img.entry >= NUB_GUEST_KERNEL_GPA && img.entry < img.load_end);
	ASSERT_TRUE(img.load_end <= NUB_GUEST_SLOTS_GPA);
	/* the loaded bytes at the boot_info gpa are the section */
	ASSERT_MEM_EQ(vm->ram + img.boot_info_gpa, &img.boot_info, sizeof(BootInfo));
	/* the 32-bit entry begins with cli; cld (fa fc) */
	ASSERT_EQ(vm->ram[img.entry], 0xFA);
	ASSERT_EQ(vm->ram[img.entry + 1], 0xFC);
	fake_free(vm);
}

/* Corrupt one field of a copy and expect NUB_E_GUEST_BAD_IMAGE. */
static nub_err load_mutated(void (*mut)(uint8_t *elf, size_t len), size_t cut)
{
	const uint8_t *elf;
	size_t len;
	vmm_guest_image(&elf, &len);
	uint8_t *c = malloc(len);
	memcpy(c, elf, len);
	if (mut)
		mut(c, len);
	vmm *vm = fake_vm();
	struct vmm_elf_image img;
	nub_err e = vmm_elf_load(vm, c, cut ? cut : len, &img);
	fake_free(vm);
	free(c);
	return e;
}

static Elf64_Ehdr *eh(uint8_t *e)
{
	return (Elf64_Ehdr *)(void *)e;
}
static Elf64_Phdr *ph0(uint8_t *e)
{
	return (Elf64_Phdr *)(void *)(e + eh(e)->e_phoff);
}
static void m_magic(uint8_t *e, size_t l) { (void)l; e[1] = 'X'; }
static void m_class(uint8_t *e, size_t l) { (void)l; e[EI_CLASS] = ELFCLASS32; }
static void m_machine(uint8_t *e, size_t l) { (void)l; eh(e)->e_machine = EM_AARCH64; }
static void m_phoff(uint8_t *e, size_t l) { eh(e)->e_phoff = l - 8; }
static void m_phoff_wrap(uint8_t *e, size_t l) { (void)l; eh(e)->e_phoff = ~0ull - 16; }
static void m_phnum(uint8_t *e, size_t l) { (void)l; eh(e)->e_phnum = 0xFFFF; }
static void m_entry(uint8_t *e, size_t l) { (void)l; eh(e)->e_entry = 0x10; }
static void m_entry_high(uint8_t *e, size_t l) { (void)l; eh(e)->e_entry = 1ull << 40; }
static void m_filesz(uint8_t *e, size_t l) { (void)l; ph0(e)->p_filesz = ph0(e)->p_memsz + 1; }
static void m_offset(uint8_t *e, size_t l) { ph0(e)->p_offset = l; }
static void m_offset_wrap(uint8_t *e, size_t l) { (void)l; ph0(e)->p_offset = ~0ull - 4; }
static void m_paddr_low(uint8_t *e, size_t l) { (void)l; ph0(e)->p_paddr = 0x1000; }
static void m_paddr_mailbox(uint8_t *e, size_t l) { (void)l; ph0(e)->p_paddr = NUB_GUEST_MAILBOX_GPA; }
static void m_memsz_huge(uint8_t *e, size_t l) { (void)l; ph0(e)->p_memsz = ~0ull - 0x1000; }
static void m_no_shdr(uint8_t *e, size_t l) { (void)l; eh(e)->e_shnum = 0; }
static void m_shstrndx(uint8_t *e, size_t l) { (void)l; eh(e)->e_shstrndx = eh(e)->e_shnum; }
/* rename .boot_info, or break its magic in the file */
static Elf64_Shdr *find_sec(uint8_t *e, const char *name)
{
	Elf64_Shdr *sh = (Elf64_Shdr *)(void *)(e + eh(e)->e_shoff);
	const char *strs = (const char *)e + sh[eh(e)->e_shstrndx].sh_offset;
	for (unsigned i = 0; i < eh(e)->e_shnum; i++)
		if (!strcmp(strs + sh[i].sh_name, name))
			return &sh[i];
	return NULL;
}
static void m_bootinfo_name(uint8_t *e, size_t l)
{
	(void)l;
	Elf64_Shdr *s = find_sec(e, ".boot_info");
	Elf64_Shdr *sh = (Elf64_Shdr *)(void *)(e + eh(e)->e_shoff);
	((char *)e + sh[eh(e)->e_shstrndx].sh_offset)[s->sh_name + 1] = 'X';
}
static void m_bootinfo_magic(uint8_t *e, size_t l)
{
	(void)l;
	e[find_sec(e, ".boot_info")->sh_offset] ^= 1;
}
static void m_bootinfo_size(uint8_t *e, size_t l)
{
	(void)l;
	find_sec(e, ".boot_info")->sh_size = 8;
}

TEST(elf_rejects_corruption)
{
	const uint8_t *elf;
	size_t len;
	vmm_guest_image(&elf, &len);
	if (!len)
		SKIP("libnub built without the embedded guest kernel");
	void (*muts[])(uint8_t *, size_t) = {
		m_magic, m_class, m_machine, m_phoff, m_phoff_wrap, m_phnum, m_entry, m_entry_high, m_filesz,
		m_offset, m_offset_wrap, m_paddr_low, m_paddr_mailbox, m_memsz_huge, m_no_shdr, m_shstrndx,
		m_bootinfo_name, m_bootinfo_magic, m_bootinfo_size,
	};
	for (size_t i = 0; i < sizeof muts / sizeof muts[0]; i++) {
		nub_err e = load_mutated(muts[i], 0);
		if (e != NUB_E_GUEST_BAD_IMAGE)
			printf("    mutation %zu: %s\n", i, nub_err_name(e));
		ASSERT_EQ(e, NUB_E_GUEST_BAD_IMAGE);
	}
	/* truncations */
	static const size_t cuts[] = {1, 63, 64, 200, 4096};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
		ASSERT_EQ(load_mutated(NULL, cuts[i]), NUB_E_GUEST_BAD_IMAGE);
	ASSERT_EQ(load_mutated(NULL, len - 1), NUB_E_GUEST_BAD_IMAGE); /* section headers sit at the end */
}

/* ---- cap directory reader on a synthetic table ------------------------------ */
#define DIR_GPA 0x200000ull

static vmm *dir_vm(uint32_t cap)
{
	vmm *vm = fake_vm();
	vm->img.boot_info.magic = NUB_BOOT_INFO_MAGIC;
	vm->img.boot_info.directory_va = DIR_GPA;
	vm->img.boot_info.directory_type_id = NUB_CAPDIR_LAYOUT_V1;
	NubCapDirHeader *h = (NubCapDirHeader *)(void *)(vm->ram + DIR_GPA);
	h->magic = NUB_CAPDIR_MAGIC;
	h->capacity = cap;
	h->entries = DIR_GPA + sizeof *h;
	return vm;
}

static NubCapDirEntry *dir_ent(vmm *vm, uint32_t i)
{
	return (NubCapDirEntry *)(void *)(vm->ram + DIR_GPA + sizeof(NubCapDirHeader)) + i;
}

TEST(capdir_reader)
{
	vmm *vm = dir_vm(16);
	uint8_t h1[32], h2[32], miss[32];
	memset(h1, 0, 32);
	memset(h2, 0, 32);
	memset(miss, 0, 32);
	h1[0] = 3, h1[5] = 1; /* slot 3 */
	h2[0] = 3, h2[5] = 2; /* collides: slot 4 */
	miss[0] = 3, miss[5] = 9;
	NubCapDirEntry *e3 = dir_ent(vm, 3), *e4 = dir_ent(vm, 4);
	memcpy(e3->hash, h1, 32);
	e3->state = NUB_CAPDIR_FULL, e3->kind = NUB_CAP_KIND_DATA, e3->bytes_gpa = 0x300000, e3->len = 10;
	memcpy(e4->hash, h2, 32);
	e4->state = NUB_CAPDIR_FULL, e4->kind = NUB_CAP_KIND_IMAGE, e4->bytes_gpa = 0x300100, e4->len = 20;
	memcpy(vm->ram + 0x300100, "imagebytes", 10);
	NubCapDirEntry out;
	const uint8_t *b;
	ASSERT_EQ(vmm_capdir_lookup(vm, h1, &out, &b), NUB_E_OK);
	ASSERT_EQ(out.kind, NUB_CAP_KIND_DATA);
	ASSERT_TRUE(b == vm->ram + 0x300000);
	ASSERT_EQ(vmm_capdir_lookup(vm, h2, &out, &b), NUB_E_OK);
	ASSERT_EQ(out.kind, NUB_CAP_KIND_IMAGE);
	ASSERT_MEM_EQ(b, "imagebytes", 10);
	ASSERT_EQ(vmm_capdir_lookup(vm, miss, &out, &b), NUB_E_UNKNOWN_INSTANCE);
	/* an entry whose bytes lie outside RAM */
	e4->bytes_gpa = FAKE_RAM - 4;
	ASSERT_EQ(vmm_capdir_lookup(vm, h2, &out, &b), NUB_E_GUEST_PROTOCOL);
	e4->bytes_gpa = ~0ull - 2;
	ASSERT_EQ(vmm_capdir_lookup(vm, h2, &out, &b), NUB_E_GUEST_PROTOCOL);
	e4->bytes_gpa = 0x300100;
	/* a bad state byte */
	e3->state = 7;
	ASSERT_EQ(vmm_capdir_lookup(vm, h2, &out, &b), NUB_E_GUEST_PROTOCOL);
	e3->state = NUB_CAPDIR_FULL;
	/* a full table without EMPTY: bounded, reported */
	for (uint32_t i = 0; i < 16; i++)
		if (dir_ent(vm, i)->state != NUB_CAPDIR_FULL) {
			dir_ent(vm, i)->state = NUB_CAPDIR_FULL;
			memset(dir_ent(vm, i)->hash, 0xEE, 32);
			dir_ent(vm, i)->bytes_gpa = 0x300000;
			dir_ent(vm, i)->len = 1;
		}
	ASSERT_EQ(vmm_capdir_lookup(vm, miss, &out, &b), NUB_E_GUEST_PROTOCOL);
	ASSERT_EQ(vmm_capdir_lookup(vm, h1, &out, &b), NUB_E_OK);
	/* broken headers */
	NubCapDirHeader *h = (NubCapDirHeader *)(void *)(vm->ram + DIR_GPA);
	h->capacity = 12; /* not a power of two */
	ASSERT_EQ(vmm_capdir_lookup(vm, h1, &out, &b), NUB_E_GUEST_PROTOCOL);
	h->capacity = 1u << 30; /* too large */
	ASSERT_EQ(vmm_capdir_lookup(vm, h1, &out, &b), NUB_E_GUEST_PROTOCOL);
	h->capacity = 16;
	h->entries = DIR_GPA + 4096;
	ASSERT_EQ(vmm_capdir_lookup(vm, h1, &out, &b), NUB_E_GUEST_PROTOCOL);
	h->entries = DIR_GPA + 64;
	h->magic ^= 1;
	ASSERT_EQ(vmm_capdir_lookup(vm, h1, &out, &b), NUB_E_GUEST_PROTOCOL);
	h->magic ^= 1;
	vm->img.boot_info.directory_type_id = 0;
	ASSERT_EQ(vmm_capdir_lookup(vm, h1, &out, &b), NUB_E_GUEST_PROTOCOL);
	vm->img.boot_info.directory_type_id = NUB_CAPDIR_LAYOUT_V1;
	vm->img.boot_info.directory_va = FAKE_RAM - 32; /* header outside RAM */
	ASSERT_EQ(vmm_capdir_lookup(vm, h1, &out, &b), NUB_E_GUEST_PROTOCOL);
	fake_free(vm);
}

TEST(backend_probe_matches_dev_kvm)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_KVM;
	nub_sandbox *sb = NULL;
	nub_err e = nub_open(&o, &sb);
	unsigned a, b, c, d;
	bool hw = (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 5))) ||      /* VMX */
	          (__get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 2))); /* SVM */
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		ASSERT_EQ(e, NUB_E_KVM_UNAVAILABLE);
		ASSERT_TRUE(sb == NULL);
	} else if (!hw) { /* a paravirtual /dev/kvm (kvm-pvm) is refused by name */
		ASSERT_EQ(e, NUB_E_KVM_NO_HW_VIRT);
		ASSERT_TRUE(sb == NULL);
	} else {
		ASSERT_TRUE(e == NUB_E_OK || e == NUB_E_KVM_UNAVAILABLE);
		nub_close(sb);
	}
	/* kvm with less than the guest's minimum RAM is refused (when kvm works) */
	o.memory_bytes = 1 << 20;
	e = nub_open(&o, &sb);
	ASSERT_TRUE(e == NUB_E_KVM_UNAVAILABLE || e == NUB_E_KVM_NO_HW_VIRT || e == NUB_E_INVALID_ARG);
}

/* The host's checks of an INVOKE_CACHED reply before the caller sees it. */
TEST(invoke_reply_checks)
{
	InvokePacket p;
	memset(&p, 0, sizeof p);
	p.initial_gas = 1000;
	InvocationResult r;
	memset(&r, 0, sizeof r);
	r.exit_reason = NUB_EXIT_HALT;
	r.gas_remaining = 1000;
	r.scratchpad_head[0] = 7;
	ASSERT_TRUE(kvm_result_plausible(&p, NUB_E_OK, sizeof r, &r));
	ASSERT_TRUE(!kvm_result_plausible(&p, NUB_E_OK, sizeof r - 1, &r)); /* short */
	r.gas_remaining = 1001; /* more gas than given */
	ASSERT_TRUE(!kvm_result_plausible(&p, NUB_E_OK, sizeof r, &r));
	r.gas_remaining = 10;
	r.exit_reason = NUB_EXIT_PANIC; /* scratchpad only at HALT */
	ASSERT_TRUE(!kvm_result_plausible(&p, NUB_E_OK, sizeof r, &r));
	r.scratchpad_head[0] = 0;
	ASSERT_TRUE(kvm_result_plausible(&p, NUB_E_OK, sizeof r, &r));
	r.exit_arg = 5; /* panic has no argument */
	ASSERT_TRUE(!kvm_result_plausible(&p, NUB_E_OK, sizeof r, &r));
	r.exit_reason = NUB_EXIT_HOST_CALL; /* a host call has one */
	ASSERT_TRUE(kvm_result_plausible(&p, NUB_E_OK, sizeof r, &r));
	r.exit_reason = NUB_EXIT_PAGE_FAULT; /* page-aligned */
	ASSERT_TRUE(!kvm_result_plausible(&p, NUB_E_OK, sizeof r, &r));
	r.exit_arg = 0x20000;
	ASSERT_TRUE(kvm_result_plausible(&p, NUB_E_OK, sizeof r, &r));
	r.exit_reason = NUB_EXIT_OUT_OF_GAS; /* with gas left */
	r.exit_arg = 0;
	ASSERT_TRUE(!kvm_result_plausible(&p, NUB_E_OK, sizeof r, &r));
	r.gas_remaining = 0;
	ASSERT_TRUE(kvm_result_plausible(&p, NUB_E_OK, sizeof r, &r));
	r.exit_reason = 5; /* no such exit */
	ASSERT_TRUE(!kvm_result_plausible(&p, NUB_E_OK, sizeof r, &r));
	memset(&r, 0, sizeof r); /* an error result names the error */
	r.exit_reason = NUB_EXIT_ERROR;
	r.exit_arg = NUB_E_BAD_ENDPOINT;
	ASSERT_TRUE(kvm_result_plausible(&p, NUB_E_BAD_ENDPOINT, sizeof r, &r));
	ASSERT_TRUE(!kvm_result_plausible(&p, NUB_E_UNKNOWN_INSTANCE, sizeof r, &r));
	r.gas_remaining = 1;
	ASSERT_TRUE(!kvm_result_plausible(&p, NUB_E_BAD_ENDPOINT, sizeof r, &r));
}

int main(void)
{
	RUN(gpa_translation_bounds);
	RUN(elf_embedded_loads);
	RUN(elf_rejects_corruption);
	RUN(capdir_reader);
	RUN(backend_probe_matches_dev_kvm);
	RUN(invoke_reply_checks);
	return test_done();
}
