/* cmd_disasm.c: `nub disasm`: print a program's instructions. */
#include <stdio.h>
#include <string.h>

#include "program.h"

static const char usage[] =
	"usage: nub disasm [--format F] PROGRAM\n"
	"\n"
	"Disassemble PROGRAM (generic blob, SPI or JSON vector): one line per\n"
	"instruction with its code offset, bytes and operands; '@' marks a\n"
	"basic-block start. --format as for nub run.\n";

int cmd_disasm(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	const char *path = NULL, *format = "auto";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc)
			format = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1])
			return cli_err("disasm: unknown option '%s' (see nub disasm --help)", argv[i]);
		else if (path)
			return cli_err("disasm: more than one PROGRAM given ('%s')", argv[i]);
		else
			path = argv[i];
	}
	if (!path)
		return cli_err("disasm: no PROGRAM given (see nub disasm --help)");
	loaded_prog lp;
	if (!prog_load(path, format, &lp))
		return 2;
	const pvm_program *p = lp.prog;
	uint32_t n = pvm_program_code_len(p);
	printf("; %s: %u code bytes, %u jump table entries\n", prog_kind_name(lp.kind), n,
	       pvm_program_jump_table_len(p));
	for (uint32_t i = 0; i < pvm_program_jump_table_len(p); i++)
		printf("; jump table [%u] (address %u) -> @%u\n", i, 2 * (i + 1), pvm_program_jump_entry(p, i));
	char buf[160];
	for (uint32_t pc = 0; pc < n;) {
		if (!pvm_is_insn_start(p, pc)) {
			pc++;
			continue;
		}
		uint32_t next = pvm_disasm(p, pc, buf, sizeof buf);
		printf("%c%7u: %s\n", pvm_is_block_start(p, pc) ? '@' : ' ', pc, buf);
		pc = next;
		/* a capped skip lands on a non-start: the engine traps there */
		if (pc < n && !pvm_is_insn_start(p, pc)) {
			printf(" %7u: trap (not an instruction start)\n", pc);
			while (pc < n && !pvm_is_insn_start(p, pc))
				pc++;
		}
	}
	printf(" %7u: trap (end of code)\n", n);
	prog_free(&lp);
	return 0;
}
