/* cmd_info.c: `nub info`: open a sandbox and print its boot info and heap stats. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "nub/nub.h"

static const char info_help[] =
	"usage: nub info [--backend auto|local|kvm]\n"
	"\n"
	"Open a sandbox and print which backend serves it, its BootInfo\n"
	"(GET_BOOT_INFO) and the allocator figures of its cap store (HEAP_STATS).\n"
	"The local backend's BootInfo is synthetic (magic set, no guest directory).\n"
	"  --backend B   auto (default: kvm if usable, else local with a notice),\n"
	"                local (in-process), kvm (micro-VM)\n";

int cmd_info(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(info_help, stdout);
		return 0;
	}
	nub_options o;
	nub_options_init(&o);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--backend")) {
			if (i + 1 >= argc)
				return cli_err("info: --backend needs a value (auto, local, kvm)");
			if (nub_backend_parse(argv[++i], &o.backend))
				return cli_err("info: unknown backend '%s' (auto, local, kvm)", argv[i]);
		} else {
			return cli_err("info: unknown option '%s' (see nub info --help)", argv[i]);
		}
	}
	nub_sandbox *sb;
	nub_err e = nub_open(&o, &sb);
	if (e)
		return cli_err("info: cannot open a sandbox with backend %s: %s (%s)", nub_backend_name(o.backend),
		               nub_strerror(e), nub_err_name(e));
	BootInfo bi;
	NubHeapStats hs;
	if ((e = nub_boot_info(sb, &bi)) || (e = nub_heap_stats(sb, &hs))) {
		nub_close(sb);
		return cli_err("info: %s (%s)", nub_strerror(e), nub_err_name(e));
	}
	printf("backend            %s\n", nub_backend_name(nub_sandbox_backend(sb)));
	printf("abi_version        %u\n", NUB_ABI_VERSION);
	printf("boot_info.magic    0x%016" PRIx64 " (%s)\n", bi.magic,
	       bi.magic == NUB_BOOT_INFO_MAGIC ? "JAR_BOOT, ok" : "BAD");
	printf("boot_info.source   %s\n", nub_sandbox_backend(sb) == NUB_BACKEND_LOCAL
	                                       ? "synthetic (local backend: no guest kernel)"
	                                       : "guest");
	printf("directory_va       0x%016" PRIx64 "\n", bi.directory_va);
	printf("directory_type_id  %" PRIu64 "\n", bi.directory_type_id);
	printf("guest_va_base      0x%016" PRIx64 "\n", bi.guest_va_base);
	printf("heap.allocated     %" PRIu64 " bytes\n", hs.allocated_bytes);
	printf("heap.allocations   %" PRIu64 "\n", hs.allocation_count);
	printf("heap.fragments     %" PRIu64 "\n", hs.fragment_count);
	printf("heap.available     %" PRIu64 " bytes\n", hs.available_bytes);
	nub_close(sb);
	return bi.magic == NUB_BOOT_INFO_MAGIC ? 0 : 1;
}
