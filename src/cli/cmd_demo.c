/* cmd_demo.c: `nub demo`: run the embedded demo program (iterative Fibonacci). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "nub/nub.h"

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
	"usage: nub demo [--backend B] [N]\n"
	"\n"
	"The main job in miniature: publish the embedded demo program (an iterative\n"
	"Fibonacci in PVM code) as an Image + Instance cap into a sandbox, invoke it\n"
	"with r7 = N (default 50) and print the InvocationResult. The backend is\n"
	"auto by default: the KVM micro-VM where it works, else the in-process\n"
	"local backend, with a notice saying so.\n";

int cmd_demo(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	uint64_t n = 50;
	const char *backend = "auto", *num = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--backend") && i + 1 < argc)
			backend = argv[++i];
		else if (argv[i][0] == '-' || num)
			return cli_err("demo: unexpected argument '%s' (see nub demo --help)", argv[i]);
		else
			num = argv[i];
	}
	if (num && !cli_parse_u64(num, &n))
		return cli_err("demo: N '%s' is not a number", num);
	nub_sandbox *sb = cli_open_sandbox(backend, NUB_ENGINE_DEFAULT, "demo");
	if (!sb)
		return 2;
	nub_endpoint ep = {.pc = 0, .regs = {[0] = NUB_HALT_ADDR}};
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = demo_blob, .code_len = sizeof demo_blob,
	                    .endpoints = &ep, .endpoint_count = 1};
	uint8_t img[NUB_CAP_HASH_LEN], inst[NUB_CAP_HASH_LEN];
	nub_cap_buf b;
	nub_err e = nub_cap_image(&d, &b);
	if (!e) {
		e = nub_put_cap(sb, b.bytes, b.len, img);
		nub_cap_buf_free(&b);
	}
	if (!e && !(e = nub_cap_instance(img, NULL, 0, &b))) {
		e = nub_put_cap(sb, b.bytes, b.len, inst);
		nub_cap_buf_free(&b);
	}
	if (e) {
		nub_close(sb);
		return cli_err("demo: publishing the embedded program: %s", nub_strerror(e));
	}
	InvokePacket pk = {.endpoint_idx = 0, .args = {n}, .initial_gas = 1000000000};
	memcpy(pk.instance_hash, inst, sizeof inst);
	InvocationResult r;
	e = nub_invoke(sb, &pk, &r);
	printf("sandbox: %s backend; instance ", nub_backend_name(nub_sandbox_backend(sb)));
	for (unsigned i = 0; i < 8; i++)
		printf("%02x", inst[i]);
	printf("...\n");
	nub_close(sb);
	if (e)
		return cli_err("demo: invoke failed: %s", nub_strerror(e));
	printf("fib(%" PRIu64 ") = %" PRIu64 " (mod 2^64)\n", n, r.return_value);
	printf("exit %s, gas used %" PRIu64 "\n", nub_exit_name(r.exit_reason), pk.initial_gas - r.gas_remaining);
	return r.exit_reason == NUB_EXIT_HALT ? 0 : 1;
}
