/* cmd_link.c: `nub link IN.elf -o OUT.pvm` — RISC-V RV64E ELF -> JAM
 * standard program (see src/link/link.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "link/link.h"

static void link_usage(FILE *f)
{
	fputs("usage: nub link IN.elf -o OUT.pvm [--stack BYTES] [-v]\n"
	      "\n"
	      "Translate a statically linked RISC-V RV64E ELF (clang-19 -mabi=lp64e, linked with\n"
	      "ld.lld-19 --emit-relocs -T sdk/nub.ld; scripts/nub-cc does all of it) into a JAM\n"
	      "standard program. Entry points come from NUB_EXPORT records: export i is at pc 5*i.\n"
	      "\n"
	      "  -o FILE        output standard program (required)\n"
	      "  --stack BYTES  stack size (default: NUB_STACK_SIZE or 64 KiB)\n"
	      "  -v             print sizes and exports\n",
	      f);
}

int cmd_link(int argc, char **argv)
{
	const char *in = NULL, *out = NULL;
	link_options opt = {0};
	if (cli_wants_help(argc, argv)) {
		link_usage(stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--stack") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], &opt.stack_size) || opt.stack_size >= (1u << 24))
				return cli_err("link: --stack wants a number below 16 MiB, not '%s'", argv[i]);
		} else if (!strcmp(argv[i], "-v")) {
			opt.verbose = 1;
		} else if (argv[i][0] == '-') {
			return cli_err("link: unknown or incomplete option '%s' (see nub link --help)", argv[i]);
		} else if (!in) {
			in = argv[i];
		} else {
			return cli_err("link: more than one input file ('%s' and '%s')", in, argv[i]);
		}
	}
	if (!in || !out)
		return cli_err("link: usage: nub link IN.elf -o OUT.pvm (see --help)");
	size_t len = 0;
	uint8_t *elf = cli_read_file(in, &len);
	if (!elf)
		return 2;
	char err[LINK_ERR_CAP];
	link_result res;
	int rc = link_program(elf, len, &opt, &res, err, sizeof err);
	free(elf);
	if (rc)
		return cli_err("link: %s: %s", in, err);
	FILE *f = fopen(out, "wb");
	if (!f) {
		link_result_free(&res);
		return cli_err("link: cannot create %s: %s", out, strerror(errno));
	}
	size_t w = fwrite(res.spi, 1, res.spi_len, f);
	int cl = fclose(f);
	if (w != res.spi_len || cl != 0) {
		link_result_free(&res);
		remove(out);
		return cli_err("link: writing %s failed", out);
	}
	if (opt.verbose) {
		printf("%s: %zu bytes: code %u bytes, %u PVM instructions (from %u RISC-V), jump table %u, "
		       "ro %u, rw %u, heap pages %u, stack %u\n",
		       out, res.spi_len, res.code_len, res.insn_count, res.rv_insn_count, res.jump_table_len,
		       res.ro_len, res.rw_len, res.heap_pages, res.stack_size);
		for (uint32_t x = 0; x < res.nexports; x++)
			printf("  export %u at pc %u: %s\n", x, 5 * x, res.export_names[x]);
	}
	link_result_free(&res);
	return 0;
}
