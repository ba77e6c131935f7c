/* cmd_run.c: `nub run`: run one program on the engine and print the exit. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program.h"
#include "vector_caps.h"

static const char usage[] =
	"usage: nub run [options] PROGRAM\n"
	"\n"
	"Run PROGRAM on the in-process engine until it halts, panics, runs out of\n"
	"gas, page-faults or makes a host call, and print the exit reason, pc, gas\n"
	"used and left, the 13 registers and the host-call number or fault address.\n"
	"PROGRAM is a generic program blob, a JAM standard program (SPI) or a JSON\n"
	"test vector (its initial state is used). Exit status: 0 when the program\n"
	"ran (whatever its exit), 2 for bad usage or input. Host call 100 (JIP-1\n"
	"debug log, nub_log in the SDK) prints \"nub: log LEVEL target: message\" to\n"
	"stderr, sets r7 = WHAT and resumes.\n"
	"\n"
	"options:\n"
	"  --format F      auto (default), blob, spi, spi-meta (SPI after a metadata\n"
	"                  prefix), json\n"
	"  --pc N          initial pc (default: the vector's, else 0)\n"
	"  --gas N         initial gas, up to 2^63-1 (default: the vector's, else 10^9)\n"
	"  --regs LIST     13 comma-separated initial register values r0..r12\n"
	"  --reg I=V       set register I (0..12) to V; may repeat\n"
	"  --arg HEX       SPI argument bytes (hex); sets r7/r8 per GP A.7\n"
	"  --arg-file F    SPI argument bytes from a file\n"
	"  --json          print the result as one JSON object\n"
	"  --backend B     publish the program as caps into a sandbox (local, kvm,\n"
	"                  auto) and invoke it there; prints the InvocationResult\n"
	"                  (exit, exit_arg, r7, gas, scratchpad head). A vector's\n"
	"                  regions become slots (slot 0 = the first region); SPI\n"
	"                  arguments become a read-only slot at 0xFEFF0000\n"
	"  -h, --help      this text\n"
	"Numbers are decimal or 0x-hex.\n";

static bool parse_regs(const char *s, uint64_t *regs)
{
	char *copy = strdup(s), *save = NULL, *tok;
	unsigned n = 0;
	bool ok = copy != NULL;
	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; ok && tok; tok = strtok_r(NULL, ",", &save)) {
		if (n >= PVM_NUM_REGS || !cli_parse_u64(tok, &regs[n]))
			ok = false;
		n++;
	}
	free(copy);
	return ok && n == PVM_NUM_REGS;
}

/* Publish the loaded program (with the state the options gave) as caps and
 * invoke it. regs/pc/gas are the effective initial state. */
static int run_caps(const char *backend, loaded_prog *lp, const uint64_t *regs, uint32_t pc, uint64_t gas,
                    const uint8_t *args, size_t args_len, bool json)
{
	nub_sandbox *sb = cli_open_sandbox(backend, "run");
	if (!sb)
		return 2;
	uint8_t inst[NUB_CAP_HASH_LEN], img[NUB_CAP_HASH_LEN];
	InvokePacket pk;
	InvocationResult r;
	nub_cap_buf b = {0};
	nub_err e;
	memset(&pk, 0, sizeof pk);
	if (lp->kind == PROG_VECTOR) {
		memcpy(lp->vec.regs, regs, sizeof lp->vec.regs);
		lp->vec.pc = pc;
		lp->vec.gas = (int64_t)gas;
		e = vector_put_caps(sb, &lp->vec, inst);
		vector_packet(&lp->vec, inst, &pk);
	} else {
		nub_slot slot = {.index = 0};
		size_t nslots = 0;
		if (lp->kind == PROG_SPI) {
			/* arguments: a read-only slot at the GP A.7 argument address */
			nub_mapping arg_map = {0xFEFF0000u, (uint32_t)((args_len + 4095) / 4096), 0, false};
			e = NUB_E_OK;
			if (args_len) {
				if (!(e = nub_cap_data(args, args_len, &b)))
					e = nub_put_cap(sb, b.bytes, b.len, slot.hash);
				nub_cap_buf_free(&b);
				nslots = 1;
			}
			if (!e && !(e = nub_cap_image_from_spi(lp->spi_bytes, lp->spi_len, &pc, 1, &arg_map, nslots, &b)))
				e = nub_put_cap(sb, b.bytes, b.len, img);
		} else {
			nub_endpoint ep = {.pc = pc};
			memcpy(ep.regs, regs, sizeof ep.regs);
			nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = lp->blob, .code_len = lp->blob_len,
			                    .endpoints = &ep, .endpoint_count = 1};
			if (!(e = nub_cap_image(&d, &b)))
				e = nub_put_cap(sb, b.bytes, b.len, img);
		}
		nub_cap_buf_free(&b);
		if (!e && !(e = nub_cap_instance(img, &slot, nslots, &b)))
			e = nub_put_cap(sb, b.bytes, b.len, inst);
		nub_cap_buf_free(&b);
		memcpy(pk.instance_hash, inst, sizeof inst);
		for (unsigned i = 0; i < NUB_INVOKE_ARGS; i++)
			pk.args[i] = regs[7 + i];
		pk.initial_gas = gas;
	}
	if (e) {
		nub_close(sb);
		return cli_err("run: cannot publish the program: %s", nub_strerror(e));
	}
	e = nub_invoke(sb, &pk, &r);
	if (e) {
		nub_close(sb);
		return cli_err("run: invoke failed: %s", nub_strerror(e));
	}
	const char *bn = nub_backend_name(nub_sandbox_backend(sb));
	uint64_t used = pk.initial_gas - r.gas_remaining;
	if (json) {
		printf("{\"backend\":\"%s\",\"status\":\"%s\",\"exit-arg\":%u,\"return-value\":%" PRIu64
		       ",\"gas-used\":%" PRIu64 ",\"gas-left\":%" PRIu64 ",\"scratchpad-head\":\"",
		       bn, nub_exit_name(r.exit_reason), r.exit_arg, r.return_value, used, r.gas_remaining);
		for (unsigned i = 0; i < SCRATCHPAD_HEAD_LEN; i++)
			printf("%02x", r.scratchpad_head[i]);
		printf("\"}\n");
	} else {
		printf("backend: %s (published as caps, invoked through the API)\n", bn);
		printf("exit:    %s (exit_arg %u)\n", nub_exit_name(r.exit_reason), r.exit_arg);
		printf("r7:      0x%016" PRIx64 " (%" PRIu64 ")\n", r.return_value, r.return_value);
		printf("gas:     used %" PRIu64 ", left %" PRIu64 "\n", used, r.gas_remaining);
		printf("scratchpad head:");
		for (unsigned i = 0; i < SCRATCHPAD_HEAD_LEN; i++)
			printf("%s%02x", i % 32 ? "" : "\n  ", r.scratchpad_head[i]);
		printf("\n");
	}
	nub_close(sb);
	return 0;
}

/* JIP-1 debug message (`ecalli 100`, nub_log in sdk/include/nub_guest.h):
 * level φ7, target φ8/φ9 (none when both are 0), message φ10/φ11. Printed to
 * stderr as "nub: log LEVEL target: message"; then φ7 = WHAT and the run
 * resumes, as JIP-1 asks. Unreadable memory prints nothing. */
#define JIP1_LOG 100u
#define JIP1_WHAT (UINT64_MAX - 1) /* GP: WHAT = 2^64 - 2 */

static int jip1_read(pvm_instance *m, uint64_t addr, uint64_t len, char *buf, size_t cap)
{
	if (len > cap - 1)
		len = cap - 1;
	if (addr > UINT32_MAX || (len && pvm_mem_read(m, (uint32_t)addr, buf, (uint32_t)len) != PVM_E_OK))
		return -1;
	for (uint64_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t')
			buf[i] = '.';
	buf[len] = 0;
	return 0;
}

static void jip1_log(pvm_instance *m)
{
	static const char *const names[] = {"FATAL", "WARN", "INFO", "HELP", "PEDANTIC"};
	char target[256], msg[4096], lv[32];
	uint64_t level = pvm_reg(m, 7), tp = pvm_reg(m, 8), tl = pvm_reg(m, 9);
	int have_target = tp != 0 || tl != 0;
	if ((!have_target || jip1_read(m, tp, tl, target, sizeof target) == 0) &&
	    jip1_read(m, pvm_reg(m, 10), pvm_reg(m, 11), msg, sizeof msg) == 0) {
		if (level < sizeof names / sizeof names[0])
			snprintf(lv, sizeof lv, "%s", names[level]);
		else
			snprintf(lv, sizeof lv, "level-%" PRIu64, level);
		fprintf(stderr, "nub: log %s %s%s%s\n", lv, have_target ? target : "", have_target ? ": " : "", msg);
	}
	pvm_set_reg(m, 7, JIP1_WHAT);
}

int cmd_run(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	const char *path = NULL, *format = "auto", *backend = NULL;
	bool json = false, have_pc = false, have_gas = false, have_regs = false;
	uint32_t pc = 0;
	uint64_t gas = 1000000000, regs[PVM_NUM_REGS] = {0}, v;
	bool set_reg[PVM_NUM_REGS] = {0};
	uint64_t reg_val[PVM_NUM_REGS] = {0};
	uint8_t *args = NULL;
	size_t args_len = 0;
	int rc = 2;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = (i + 1 < argc) ? argv[i + 1] : NULL;
		if (!strcmp(a, "--json")) {
			json = true;
			continue;
		}
		if (a[0] != '-' || !a[1]) {
			if (path) {
				cli_err("run: more than one PROGRAM given ('%s')", a);
				goto out;
			}
			path = a;
			continue;
		}
		if (!val) {
			cli_err("run: option %s needs a value", a);
			goto out;
		}
		i++;
		if (!strcmp(a, "--format")) {
			format = val;
		} else if (!strcmp(a, "--backend")) {
			backend = val;
		} else if (!strcmp(a, "--pc")) {
			if (!cli_parse_u32(val, &pc)) {
				cli_err("run: --pc '%s' is not a number below 2^32", val);
				goto out;
			}
			have_pc = true;
		} else if (!strcmp(a, "--gas")) {
			if (!cli_parse_u64(val, &gas) || gas > INT64_MAX) {
				cli_err("run: --gas '%s' is not a number up to 2^63-1", val);
				goto out;
			}
			have_gas = true;
		} else if (!strcmp(a, "--regs")) {
			if (!parse_regs(val, regs)) {
				cli_err("run: --regs needs exactly 13 comma-separated numbers");
				goto out;
			}
			have_regs = true;
		} else if (!strcmp(a, "--reg")) {
			const char *eq = strchr(val, '=');
			char idx[8];
			uint32_t r;
			if (!eq || (size_t)(eq - val) >= sizeof idx) {
				cli_err("run: --reg needs I=V, got '%s'", val);
				goto out;
			}
			memcpy(idx, val, (size_t)(eq - val));
			idx[eq - val] = 0;
			if (!cli_parse_u32(idx, &r) || r >= PVM_NUM_REGS || !cli_parse_u64(eq + 1, &v)) {
				cli_err("run: --reg '%s': register must be 0..12 and the value a number", val);
				goto out;
			}
			set_reg[r] = true;
			reg_val[r] = v;
		} else if (!strcmp(a, "--arg")) {
			free(args);
			args = cli_parse_hex(val, &args_len);
			if (!args) {
				cli_err("run: --arg '%s' is not an even-length hex string", val);
				goto out;
			}
		} else if (!strcmp(a, "--arg-file")) {
			free(args);
			args = cli_read_file(val, &args_len);
			if (!args)
				goto out;
		} else {
			cli_err("run: unknown option '%s' (see nub run --help)", a);
			goto out;
		}
	}
	if (!path) {
		cli_err("run: no PROGRAM given (see nub run --help)");
		goto out;
	}
	if (args_len > PVM_INPUT_SIZE) {
		cli_err("run: arguments longer than 2^24 bytes");
		goto out;
	}

	loaded_prog lp;
	if (!prog_load(path, format, &lp))
		goto out;
	if (args_len && lp.kind != PROG_SPI) {
		cli_err("run: --arg needs a standard program (SPI); %s is a %s", path, prog_kind_name(lp.kind));
		prog_free(&lp);
		goto out;
	}
	if (backend) {
		uint64_t r0[PVM_NUM_REGS] = {0};
		if (lp.kind == PROG_VECTOR)
			memcpy(r0, lp.vec.regs, sizeof r0);
		if (lp.kind == PROG_SPI) {
			/* GP A.7 registers; the arguments' address and length */
			r0[0] = PVM_HALT_ADDR;
			r0[1] = 0xFEFE0000u;
			r0[7] = 0xFEFF0000u;
			r0[8] = args_len;
		}
		if (have_regs)
			memcpy(r0, regs, sizeof r0);
		for (unsigned i = 0; i < PVM_NUM_REGS; i++)
			if (set_reg[i])
				r0[i] = reg_val[i];
		uint32_t pc0 = have_pc ? pc : lp.kind == PROG_VECTOR ? lp.vec.pc : 0;
		uint64_t gas0 = (have_gas || lp.kind != PROG_VECTOR) ? gas : (uint64_t)lp.vec.gas;
		rc = run_caps(backend, &lp, r0, pc0, gas0, args, args_len, json);
		prog_free(&lp);
		goto out;
	}
	pvm_instance *m = prog_instance(&lp, args, (uint32_t)args_len);
	if (!m) {
		prog_free(&lp);
		goto out;
	}
	if (have_regs)
		for (unsigned i = 0; i < PVM_NUM_REGS; i++)
			pvm_set_reg(m, i, regs[i]);
	for (unsigned i = 0; i < PVM_NUM_REGS; i++)
		if (set_reg[i])
			pvm_set_reg(m, i, reg_val[i]);
	if (have_pc)
		pvm_set_pc(m, pc);
	if (have_gas || lp.kind != PROG_VECTOR)
		pvm_set_gas(m, (int64_t)gas);
	int64_t gas0 = pvm_gas(m);

	pvm_exit ex = pvm_run(m);
	while (ex == PVM_EXIT_HOST && pvm_exit_arg(m) == JIP1_LOG) {
		jip1_log(m);
		ex = pvm_run(m);
	}

	int64_t left = pvm_gas(m);
	if (json) {
		printf("{\"status\":\"%s\",\"pc\":%u,\"gas-used\":%" PRId64 ",\"gas-left\":%" PRId64 ",\"regs\":[",
		       pvm_exit_name(ex), pvm_pc(m), gas0 - left, left);
		for (unsigned i = 0; i < PVM_NUM_REGS; i++)
			printf("%s%" PRIu64, i ? "," : "", pvm_reg(m, i));
		printf("]");
		if (ex == PVM_EXIT_HOST)
			printf(",\"host-call\":%u", pvm_exit_arg(m));
		if (ex == PVM_EXIT_PAGE_FAULT)
			printf(",\"page-fault-address\":%u", pvm_exit_arg(m));
		printf("}\n");
	} else {
		printf("program: %s, %u code bytes\n", prog_kind_name(lp.kind), pvm_program_code_len(lp.prog));
		printf("exit:    %s", pvm_exit_name(ex));
		if (ex == PVM_EXIT_HOST)
			printf(" (host call %u; resume at the next instruction)", pvm_exit_arg(m));
		if (ex == PVM_EXIT_PAGE_FAULT)
			printf(" at 0x%08x", pvm_exit_arg(m));
		printf("\npc:      %u\ngas:     used %" PRId64 ", left %" PRId64 "\n", pvm_pc(m), gas0 - left, left);
		for (unsigned i = 0; i < PVM_NUM_REGS; i++)
			printf("r%-2u = 0x%016" PRIx64 " (%" PRIu64 ")\n", i, pvm_reg(m, i), pvm_reg(m, i));
	}
	pvm_instance_free(m);
	prog_free(&lp);
	rc = 0;
out:
	free(args);
	return rc;
}
