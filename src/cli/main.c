/* main.c: the nub command: dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct subcommand commands[] = {
	{"demo", cmd_demo, "run the embedded demo program"},
	{"run", cmd_run, "run a program (blob, SPI or JSON vector)"},
	{"disasm", cmd_disasm, "disassemble a program"},
	{"conformance", cmd_conformance, "run the PVM test vectors and compare"},
	{"bench", cmd_bench, "time the benchmark programs"},
	{"link", cmd_link, "translate a RISC-V RV64E ELF into a PVM program"},
	{"info", cmd_info, "print the sandbox boot info and heap stats"},
};

static void usage(FILE *f)
{
	fputs("usage: nub COMMAND [options] [args]\n\ncommands:\n", f);
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fputs("\n'nub COMMAND --help' describes each command.\n", f);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return cli_err("no command given (see nub --help)");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	cli_err("unknown command '%s' (see nub --help)", argv[1]);
	return 2;
}
