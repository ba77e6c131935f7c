/* guest_main.c: C entry of the guest kernel: bring-up, then the mode loop.
 *
 * Modes (chosen by the boot magic, see guest_boot_x86_64.S):
 *   kvm host (EAX = NUB_GUEST_BOOT_MAGIC): serve RPCs forever over the
 *     mailbox: doorbell READY, then for each request serve + doorbell REPLY.
 *   Multiboot (QEMU -kernel): the kernel flavour decides
 *     (guest_flavour_multiboot): the production kernel has no such mode
 *     and says so; the test kernel (tests/guest/guest_flavour_test.c) runs
 *     its self test, probes and replays, chosen by the command line.
 */
#include "guest/guest.h"
#include "cap/cap_core.h"
#include "guest/guest_cpu_x86_64.h"

extern struct guest_capdir_table guest_capdir_table;

BootInfo guest_boot_info __attribute__((section(".boot_info"), used, aligned(64))) = {
	.magic = NUB_BOOT_INFO_MAGIC,
	.directory_va = (nub_gva)(uintptr_t)&guest_capdir_table,
	.directory_type_id = NUB_CAPDIR_LAYOUT_V1,
	.guest_va_base = NUB_GUEST_VA_BASE,
};

/* Multiboot v1 information structure (Multiboot spec 3.3), the part used. */
typedef struct {
	uint32_t flags;
	uint32_t mem_lower, mem_upper; /* KiB; valid with flags bit 0 */
	uint32_t boot_device;
	uint32_t cmdline;              /* gpa of a C string; valid with bit 2 */
	uint32_t mods_count, mods_addr; /* valid with bit 3 */
} multiboot_info;
typedef struct {
	uint32_t start, end; /* gpa range [start, end) */
	uint32_t string, _reserved;
} multiboot_module;
#define MB_INFO_MEM (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS (1u << 3)

static uint64_t mod_start, mod_end;

/* Highest heap end: the identity map covers 4 GiB; stay below the PCI hole. */
#define GUEST_HEAP_END_MAX 0xC0000000ull

static char cmdline[256];

static __attribute__((noreturn)) void serve_forever(NubRpcMailbox *mb)
{
	outl(NUB_RPC_DOORBELL_PORT, NUB_DOORBELL_READY);
	for (;;) {
		guest_rpc_serve_one(mb);
		outl(NUB_RPC_DOORBELL_PORT, NUB_DOORBELL_REPLY);
	}
}

void guest_main(uint32_t magic, uint32_t info_gpa);
void guest_main(uint32_t magic, uint32_t info_gpa)
{
	if (magic == NUB_GUEST_BOOT_MAGIC)
		guest_log_set_unpolled(); /* the VMM's UART needs no setup either */
	else
		guest_log_init();
	guest_cpu_init();
	guest_paging_init();
	NubRpcMailbox *mb = guest_mailbox();
	uint64_t ram_end = 0;
	uint32_t vcpus = 1, lanes = 0;
	bool kvm = false;
	if (magic == NUB_MULTIBOOT_MAGIC) {
		const multiboot_info *mi = (const multiboot_info *)(uintptr_t)info_gpa;
		if (mi->flags & MB_INFO_MEM)
			ram_end = 0x100000ull + (uint64_t)mi->mem_upper * 1024u;
		if (mi->flags & MB_INFO_CMDLINE) {
			const char *c = (const char *)(uintptr_t)mi->cmdline;
			size_t i = 0;
			for (; c[i] && i + 1 < sizeof cmdline; i++)
				cmdline[i] = c[i];
			cmdline[i] = '\0';
		}
		if ((mi->flags & MB_INFO_MODS) && mi->mods_count) {
			const multiboot_module *m = (const multiboot_module *)(uintptr_t)mi->mods_addr;
			mod_start = m->start;
			mod_end = m->end;
		}
	} else if (magic == NUB_GUEST_BOOT_MAGIC) {
		ram_end = mb->h.ram_bytes;
		vcpus = mb->h.vcpus;
		guest_cap_store()->invocation_pages = mb->h.invocation_pages;
		kvm = true;
	} else {
		guest_log("nub-guest: unknown boot magic 0x%x\n", magic);
		guest_exit(NUB_GUEST_EXIT_FAIL);
	}
	if (ram_end > GUEST_HEAP_END_MAX)
		ram_end = GUEST_HEAP_END_MAX;
	if (ram_end < NUB_GUEST_MIN_RAM) {
		guest_log("nub-guest: RAM end 0x%llx below the minimum 0x%llx\n", (unsigned long long)ram_end,
		          (unsigned long long)NUB_GUEST_MIN_RAM);
		guest_exit(NUB_GUEST_EXIT_FAIL);
	}
	guest_heap_init((uintptr_t)NUB_GUEST_HEAP_GPA, (size_t)(ram_end - NUB_GUEST_HEAP_GPA));
	guest_capdir_init();
	guest_jit_init(); /* before the APs: they copy its mappings */
	if (kvm && vcpus > 1)
		lanes = guest_smp_prepare(vcpus);

	memset(&mb->h, 0, sizeof mb->h);
	mb->h.abi_version = NUB_ABI_VERSION;
	mb->h.req_cap = NUB_RPC_REQ_CAP;
	mb->h.resp_cap = NUB_RPC_RESP_CAP;
	mb->h.ram_bytes = ram_end;
	mb->h.fault.fn_id = ~0ull;
	mb->h.vcpus = vcpus;
	mb->h.lanes_ready = lanes;
	mb->h.invocation_pages = guest_cap_store()->invocation_pages;
	__atomic_store_n(&mb->h.magic, NUB_RPC_MAGIC, __ATOMIC_RELEASE);

	guest_handlers_register();
	guest_flavour_register();
	if (kvm) {
		/* quiet boot: the mailbox header tells the host all this, and every
		 * console byte would be a VM exit */
		guest_exit_on_fault = false;
		serve_forever(mb);
	}
	guest_log("nub-guest: up, abi %u, ram 0x%llx, heap 0x%llx.., capdir 0x%llx, mailbox 0x%llx, cmdline \"%s\"\n",
	          NUB_ABI_VERSION, (unsigned long long)ram_end, (unsigned long long)NUB_GUEST_HEAP_GPA,
	          (unsigned long long)guest_boot_info.directory_va, (unsigned long long)NUB_GUEST_MAILBOX_GPA,
	          cmdline);
	guest_flavour_multiboot(cmdline, mod_start, mod_end);
}
