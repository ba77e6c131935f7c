/* cmd_run.c: `nub run`: run one program on the engine and print the exit. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
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
	"stderr, sets r7 = WHAT and resumes, in-process and in a sandbox (local or\n"
	"kvm alike).\n"
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
	"  --engine E      " CLI_ENGINE_DEFAULT_HELP "; with --backend the sandbox's engine\n"
	"                  (default: the backend's: jit locally and in the kvm guest)\n"
	"  --host-calls M  at any other host call: stop (default: the run ends there,\n"
	"                  status host-call) or ignore (resume with registers and\n"
	"                  memory unchanged, as nub bench does)\n"
	"  --json          print the result as one JSON object\n"
	"  --backend B     publish the program as caps into a sandbox (local, kvm,\n"
	"                  auto) and invoke it there; prints the InvocationResult\n"
	"                  (exit, exit_arg, r7, gas, scratchpad head). A vector's\n"
	"                  regions become slots (slot 0 = the first region); SPI\n"
	"                  arguments become a read-only slot at 0xFEFF0000\n"
	CLI_LIMITS_HELP
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

/* JIP-1 debug message (`ecalli 100`, nub_log in sdk/include/nub_guest.h):
 * level φ7, target φ8/φ9 (none when both are 0), message φ10/φ11. Printed to
 * stderr as "nub: log LEVEL target: message"; then φ7 = WHAT and the run
 * resumes, as JIP-1 asks. Unreadable memory prints nothing. The program's
 * memory is read through rd (the engine in-process, the checked host-call
 * accessor in a sandbox). */
#define JIP1_LOG 100u
#define JIP1_WHAT (UINT64_MAX - 1) /* GP: WHAT = 2^64 - 2 */

typedef bool (*mem_read_fn)(void *ctx, uint32_t addr, void *buf, uint32_t len);

static int jip1_read(mem_read_fn rd, void *ctx, uint64_t addr, uint64_t len, char *buf, size_t cap)
{
	if (len > cap - 1)
		len = cap - 1;
	if (addr > UINT32_MAX || (len && !rd(ctx, (uint32_t)addr, buf, (uint32_t)len)))
		return -1;
	for (uint64_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t')
			buf[i] = '.';
	buf[len] = 0;
	return 0;
}

/* Print the message; regs[7] becomes WHAT. */
static void jip1_log(uint64_t regs[PVM_NUM_REGS], mem_read_fn rd, void *ctx)
{
	static const char *const names[] = {"FATAL", "WARN", "INFO", "HELP", "PEDANTIC"};
	char target[256], msg[4096], lv[32];
	uint64_t level = regs[7], tp = regs[8], tl = regs[9];
	int have_target = tp != 0 || tl != 0;
	if ((!have_target || jip1_read(rd, ctx, tp, tl, target, sizeof target) == 0) &&
	    jip1_read(rd, ctx, regs[10], regs[11], msg, sizeof msg) == 0) {
		if (level < sizeof names / sizeof names[0])
			snprintf(lv, sizeof lv, "%s", names[level]);
		else
			snprintf(lv, sizeof lv, "level-%" PRIu64, level);
		fprintf(stderr, "nub: log %s %s%s%s\n", lv, have_target ? target : "", have_target ? ": " : "", msg);
	}
	regs[7] = JIP1_WHAT;
}

/* --host-calls: what happens at an ecalli other than a JIP-1 log */
enum { HOST_CALLS_STOP, HOST_CALLS_IGNORE };

/* In a sandbox: the handler of nub_invoke_with. */
static bool sb_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
	return nub_host_call_read(ctx, addr, buf, len) == NUB_E_OK;
}

static nub_host_action sb_handler(void *ctx, nub_host_call *c)
{
	if (c->number == JIP1_LOG) {
		jip1_log(c->regs, sb_read, c);
		return NUB_HOST_RESUME;
	}
	return *(int *)ctx == HOST_CALLS_IGNORE ? NUB_HOST_RESUME : NUB_HOST_STOP;
}

/* In-process: answer JIP-1 logs (and, with ignore, every other call) and
 * resume, until another exit. The deadline and the memory bound hold over
 * the whole run. */
static bool pvm_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
	return pvm_mem_read(ctx, addr, buf, len) == PVM_E_OK;
}

static const char *run_answering(cli_exec *x, pvm_instance *m, int mode, pvm_exit *ex)
{
	double deadline = cli_limits.timeout_s ? cli_now() + cli_limits.timeout_s : 0;
	for (;;) {
		const char *limit = cli_exec_run_limited(x, m, deadline, ex);
		if (limit || *ex != PVM_EXIT_HOST)
			return limit;
		if (pvm_exit_arg(m) == JIP1_LOG) {
			uint64_t regs[PVM_NUM_REGS];
			for (unsigned i = 0; i < PVM_NUM_REGS; i++)
				regs[i] = pvm_reg(m, i);
			jip1_log(regs, pvm_read, m);
			pvm_set_reg(m, 7, regs[7]);
		} else if (mode != HOST_CALLS_IGNORE) {
			return NULL;
		}
	}
}

/* Publish the loaded program (with the state the options gave) as caps and
 * invoke it. regs/pc/gas are the effective initial state. */
static int run_caps(const char *backend, int engine, int host_calls, loaded_prog *lp, const uint64_t *regs,
                    uint32_t pc, uint64_t gas, const uint8_t *args, size_t args_len, bool json)
{
	nub_sandbox *sb = cli_open_sandbox(backend, engine, "run");
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
	/* host calls answered (JIP-1 logs, --host-calls ignore) on every
	 * backend; one that cannot resume them (NUB_E_NOT_IMPLEMENTED) ends the
	 * run at a host call (stop), and ignore is refused by name */
	e = nub_invoke_with(sb, &pk, sb_handler, &host_calls, &r);
	if (e == NUB_E_NOT_IMPLEMENTED && host_calls == HOST_CALLS_STOP)
		e = nub_invoke(sb, &pk, &r);
	if (e) {
		nub_close(sb);
		return cli_err("run: invoke failed: %s%s", nub_strerror(e),
		               e == NUB_E_NOT_IMPLEMENTED ? " (--host-calls ignore needs host calls that resume)" : "");
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

int cmd_run(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	const char *path = NULL, *format = "auto", *backend = NULL;
	bool json = false, have_pc = false, have_gas = false, have_regs = false;
	cli_engine engine = CLI_ENGINE_DEFAULT;
	bool have_engine = false; /* with --backend: the sandbox's default unless given */
	int host_calls = HOST_CALLS_STOP;
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
		int lim = cli_parse_limit(a, val, &i, "run");
		if (lim < 0)
			goto out;
		if (lim > 0)
			continue;
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
		} else if (!strcmp(a, "--host-calls")) {
			if (!strcmp(val, "stop"))
				host_calls = HOST_CALLS_STOP;
			else if (!strcmp(val, "ignore"))
				host_calls = HOST_CALLS_IGNORE;
			else {
				cli_err("run: --host-calls wants 'stop' or 'ignore', not '%s'", val);
				goto out;
			}
		} else if (!strcmp(a, "--engine")) {
			if (!cli_parse_engine(val, &engine, "run"))
				goto out;
			have_engine = true;
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
		rc = run_caps(backend, have_engine ? cli_engine_nub(engine) : NUB_ENGINE_DEFAULT, host_calls, &lp, r0, pc0,
		              gas0, args, args_len, json);
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
	if (pvm_mapped_pages(m) > cli_limits.max_memory / PVM_PAGE_SIZE) {
		cli_err("run: the initial memory maps %u pages, more than --max-memory %" PRIu64 " bytes allows",
		        pvm_mapped_pages(m), cli_limits.max_memory);
		pvm_instance_free(m);
		prog_free(&lp);
		goto out;
	}
	cli_exec x;
	if (!cli_exec_prepare(&x, engine, lp.prog, "run")) {
		pvm_instance_free(m);
		prog_free(&lp);
		goto out;
	}
	pvm_exit ex;
	const char *limit = run_answering(&x, m, host_calls, &ex);
	cli_exec_release(&x);
	if (limit) {
		cli_err("run: stopped: %s", limit);
		pvm_instance_free(m);
		prog_free(&lp);
		goto out;
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
