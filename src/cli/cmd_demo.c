/* cmd_demo.c: `nub demo`: run the embedded demo program (iterative Fibonacci). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

/* fib(r7) -> r7, then halt through r0 = 0xFFFF0000. Hand-assembled:
 *    0: load_imm r8, 0            5: branch_eq_imm r7, 0, @21
 *    2: load_imm r9, 1            8: add_64 r10, r8, r9      (loop)
 *   11: move_reg r8, r9          13: move_reg r9, r10
 *   15: add_imm_64 r7, r7, -1    18: branch_ne_imm r7, 0, @8
 *   21: move_reg r7, r8          23: jump_ind r0, 0          (halt) */
static const uint8_t demo_blob[] = {
	0x00, 0x00, 0x19,                               /* |j| = 0, z = 0, |c| = 25 */
	0x33, 0x08, 0x33, 0x09, 0x01, 0x51, 0x07, 0x10, /* code */
	0xc8, 0x98, 0x0a, 0x64, 0x98, 0x64, 0xa9, 0x95,
	0x77, 0xff, 0x52, 0x07, 0xf6, 0x64, 0x87, 0x32,
	0x00,
	0x25, 0xa9, 0xa4, 0x00, /* bitmask */
};

static const char usage[] =
	"usage: nub demo [N]\n"
	"\n"
	"Run the embedded demo program, an iterative Fibonacci in PVM code, with\n"
	"r7 = N (default 50), and print fib(N), the exit and the gas used.\n";

int cmd_demo(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	uint64_t n = 50;
	if (argc > 2)
		return cli_err("demo: too many arguments (see nub demo --help)");
	if (argc == 2 && !cli_parse_u64(argv[1], &n))
		return cli_err("demo: N '%s' is not a number", argv[1]);
	pvm_program *p;
	pvm_instance *m;
	pvm_err e = pvm_program_new(demo_blob, sizeof demo_blob, &p);
	if (e)
		return cli_err("demo: embedded program: %s", pvm_strerror(e));
	if ((e = pvm_instance_new(p, &m)) != PVM_E_OK) {
		pvm_program_free(p);
		return cli_err("demo: %s", pvm_strerror(e));
	}
	fprintf(stderr, "nub: notice: the KVM sandbox is not built yet; running on the in-process engine\n");
	pvm_set_reg(m, 0, PVM_HALT_ADDR);
	pvm_set_reg(m, 7, n);
	const int64_t gas = 1000000000;
	pvm_set_gas(m, gas);
	pvm_exit ex = pvm_run(m);
	printf("fib(%" PRIu64 ") = %" PRIu64 " (mod 2^64)\n", n, pvm_reg(m, 7));
	printf("exit %s at pc %u, gas used %" PRId64 "\n", pvm_exit_name(ex), pvm_pc(m), gas - pvm_gas(m));
	pvm_instance_free(m);
	pvm_program_free(p);
	return ex == PVM_EXIT_HALT ? 0 : 1;
}
