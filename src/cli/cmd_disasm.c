/* cmd_disasm.c: `nub disasm`: print a program's instructions. */
#include <stdio.h>
#include <string.h>

#include "program.h"
#ifdef __x86_64__
#include "jit/jit.h"
#endif

static const char usage[] =
	"usage: nub disasm [--format F] [--jit] PROGRAM\n"
	"\n"
	"Disassemble PROGRAM (generic blob, SPI or JSON vector): one line per\n"
	"instruction with its code offset, bytes and operands; '@' marks a\n"
	"basic-block start. --format as for nub run.\n"
	"--jit: also compile it (x86-64) and print each instruction's machine code\n"
	"in hex under it (objdump -D -b binary -m i386:x86-64 reads it).\n";

#ifdef __x86_64__
/* the machine code of the instruction at pc, 16 bytes a line */
static void print_native(const jit_code *jc, uint32_t pc)
{
	size_t len;
	const uint8_t *b = jc ? jit_code_native(jc, pc, &len) : NULL;
	for (size_t i = 0; b && i < len; i++)
		printf("%s%02x%s", i % 16 == 0 ? "          ; x86:" : "", b[i], i % 16 == 15 || i + 1 == len ? "\n" : " ");
}
#endif

int cmd_disasm(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	const char *path = NULL, *format = "auto";
	bool jit = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc)
			format = argv[++i];
		else if (!strcmp(argv[i], "--jit"))
			jit = true;
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
#ifdef __x86_64__
	jit_code *jc = NULL;
	if (jit) {
		jit_err je = jit_compile(p, &jc);
		if (je) {
			prog_free(&lp);
			return cli_err("disasm: %s", jit_strerror(je));
		}
	}
#define NATIVE(at) print_native(jc, (at))
#else
	if (jit) {
		prog_free(&lp);
		return cli_err("disasm: jit: not compiled for this host (x86-64 only)");
	}
#define NATIVE(at) ((void)0)
#endif
	printf("; %s: %u code bytes, %u jump table entries\n", prog_kind_name(lp.kind), n,
	       pvm_program_jump_table_len(p));
	for (uint32_t i = 0; i < pvm_program_jump_table_len(p); i++)
		printf("; jump table [%u] (address %u) -> @%u\n", i, 2 * (i + 1), pvm_program_jump_entry(p, i));
#ifdef __x86_64__
	if (jc)
		printf("; jit: %zu bytes of x86-64 code\n", jit_code_size(jc));
#endif
	char buf[160];
	for (uint32_t pc = 0; pc < n;) {
		if (!pvm_is_insn_start(p, pc)) {
			pc++;
			continue;
		}
		uint32_t next = pvm_disasm(p, pc, buf, sizeof buf);
		printf("%c%7u: %s\n", pvm_is_block_start(p, pc) ? '@' : ' ', pc, buf);
		NATIVE(pc);
		pc = next;
		/* a capped skip lands on a non-start: the engine traps there */
		if (pc < n && !pvm_is_insn_start(p, pc)) {
			printf(" %7u: trap (not an instruction start)\n", pc);
			NATIVE(pc);
			while (pc < n && !pvm_is_insn_start(p, pc))
				pc++;
		}
	}
	printf(" %7u: trap (end of code)\n", n);
	NATIVE(n);
#undef NATIVE
#ifdef __x86_64__
	jit_code_free(jc);
#endif
	prog_free(&lp);
	return 0;
}
