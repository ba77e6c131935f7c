/* guest_main.c: C entry of the guest kernel: bring-up, then the mode loop.
 *
 * Modes (chosen by the boot magic, see guest_boot_x86_64.S):
 *   kvm host (EAX = NUB_GUEST_BOOT_MAGIC): serve RPCs forever over the
 *     mailbox: doorbell READY, then for each request serve + doorbell REPLY.
 *   Multiboot (QEMU -kernel), by command line:
 *     "selftest"  the built-in driver plays the host (guest_selftest.c);
 *     "probe=N"   send one request with fn_id N through the mailbox and
 *                 report the reply (fault probes end in guest_trap);
 *     "replay"    replay the request record given as the first Multiboot
 *                 module (QEMU -initrd; guest_replay.c).
 *   The exit code goes to isa-debug-exit (NUB_GUEST_EXIT_*); after a CPU
 *   exception too, unless the command line says "halt_on_fault" (then the
 *   kernel halts like under a kvm host, and the fault report stays in the
 *   mailbox for whoever reads guest memory).
 */
#include "guest/guest.h"
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

extern char __kernel_end[];
static uint64_t mod_start, mod_end;

/* Highest heap end: the identity map covers 4 GiB; stay below the PCI hole. */
#define GUEST_HEAP_END_MAX 0xC0000000ull

static char cmdline[256];

static bool cmd_has(const char *word, const char **value)
{
	size_t n = strlen(word);
	for (const char *p = cmdline; *p;) {
		while (*p == ' ')
			p++;
		const char *end = p;
		while (*end && *end != ' ')
			end++;
		if ((size_t)(end - p) >= n && memcmp(p, word, n) == 0 &&
		    ((size_t)(end - p) == n || p[n] == '=')) {
			if (value)
				*value = p[n] == '=' ? p + n + 1 : end;
			return true;
		}
		p = end;
	}
	return false;
}

static uint32_t parse_u32(const char *s)
{
	uint32_t v = 0;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint32_t)(*s++ - '0');
	return v;
}

static __attribute__((noreturn)) void serve_forever(NubRpcMailbox *mb)
{
	outl(NUB_RPC_DOORBELL_PORT, NUB_DOORBELL_READY);
	for (;;) {
		guest_rpc_serve_one(mb);
		outl(NUB_RPC_DOORBELL_PORT, NUB_DOORBELL_REPLY);
	}
}

static __attribute__((noreturn)) void run_probe(uint32_t fn_id)
{
	static uint8_t resp[256];
	uint32_t len = 0;
	bool bad = false;
	nub_err st = guest_host_call(fn_id, NULL, 0, resp, sizeof resp, &len, &bad);
	guest_log("PROBE fn=%u returned status=%u len=%u rejected=%u\n", fn_id, (unsigned)st, len, bad ? 1u : 0u);
	/* the kernel must still serve after a rejected reply */
	NubHeapStats hs;
	bad = false;
	st = guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &hs, sizeof hs, &len, &bad);
	guest_log("PROBE after fn=%u heap_stats status=%u len=%u rejected=%u\n", fn_id, (unsigned)st, len,
	          bad ? 1u : 0u);
	guest_exit(st == NUB_E_OK && !bad ? NUB_GUEST_EXIT_OK : NUB_GUEST_EXIT_FAIL);
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

	memset(&mb->h, 0, sizeof mb->h);
	mb->h.abi_version = NUB_ABI_VERSION;
	mb->h.req_cap = NUB_RPC_REQ_CAP;
	mb->h.resp_cap = NUB_RPC_RESP_CAP;
	mb->h.ram_bytes = ram_end;
	mb->h.fault.fn_id = ~0ull;
	__atomic_store_n(&mb->h.magic, NUB_RPC_MAGIC, __ATOMIC_RELEASE);

	guest_handlers_register();
	guest_probes_register();
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
	guest_exit_on_fault = !cmd_has("halt_on_fault", NULL);
	const char *v;
	if (cmd_has("selftest", NULL)) {
		unsigned fails = guest_selftest();
		guest_log("SELFTEST DONE fails=%u\n", fails);
		guest_exit(fails ? NUB_GUEST_EXIT_FAIL : NUB_GUEST_EXIT_OK);
	}
	if (cmd_has("probe", &v))
		run_probe(parse_u32(v));
	if (cmd_has("replay", NULL)) {
		/* the module must lie between the kernel and the lane slots: the
		 * mailbox and the heap above are ours */
		if (!mod_end || mod_start < (uint64_t)(uintptr_t)__kernel_end || mod_end < mod_start ||
		    mod_end > NUB_GUEST_SLOTS_GPA) {
			guest_log("REPLAY error: module [0x%llx, 0x%llx) missing or outside [kernel end 0x%llx, 0x%llx)\n",
			          (unsigned long long)mod_start, (unsigned long long)mod_end,
			          (unsigned long long)(uintptr_t)__kernel_end, (unsigned long long)NUB_GUEST_SLOTS_GPA);
			guest_exit(NUB_GUEST_EXIT_FAIL);
		}
		unsigned fails = guest_replay((const uint8_t *)(uintptr_t)mod_start, (size_t)(mod_end - mod_start));
		guest_exit(fails ? NUB_GUEST_EXIT_FAIL : NUB_GUEST_EXIT_OK);
	}
	guest_log("nub-guest: no mode on the command line (selftest | probe=N | replay)\n");
	guest_exit(NUB_GUEST_EXIT_FAIL);
}
