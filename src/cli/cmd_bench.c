/* cmd_bench.c: `nub bench`: time benchmark vectors, print medians in M instr/s. */
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "api/backend.h"
#include "nub/nub.h"
#include "engine.h"
#include "program.h"

int cmd_bench_lanes(int argc, char **argv);
int cmd_bench_programs(int argc, char **argv);

static const char usage[] =
	"usage: nub bench [--runs N] [--engine E] [--timeout S] [--max-memory B] [FILE...]\n"
	"       nub bench sandbox [--backend B] [--runs N]\n"
	"       nub bench lanes [--backend B] [--runs N] [--json]   (see nub bench lanes --help)\n"
	"       nub bench programs [--runs N] [--tiny] [--json] [KERNEL...]   (see nub bench programs --help)\n"
	"\n"
	"Time programs on an engine: each is decoded once, then run N times\n"
	"(default 5) from a fresh instance. A JSON vector's result is checked\n"
	"against its expectations; a standard program (SPI, e.g. the kernels of\n"
	"bench/programs built by `make bench-pvms`) or blob runs from pc 0 with\n"
	"unlimited gas, its host calls answered with nothing and resumed. Prints\n"
	"per file the executed instructions (gas used), the median and best wall\n"
	"time, and the median rate in M instructions/s, with the machine named.\n"
	"--engine E: " CLI_ENGINE_DEFAULT_HELP "; jit: the program is compiled once\n"
	"(compile time printed), the runs then reuse the compiled code.\n"
	"Default FILEs: the two loops of SHARE/conformance/pvm/bench/ (SHARE as in\n"
	"'nub conformance --help': $NUB_SHARE_DIR, BIN/../share/nub, the source tree).\n"
	"--timeout S / --max-memory B: per run, as in 'nub run' (default 60 s,\n"
	"2^30 bytes); a run stopped by them is reported and exits 2.\n"
	"\n"
	"'nub bench sandbox' times the sandbox calls on a backend (default auto):\n"
	"open+close (boot), an empty RPC (HEAP_STATS), INVOKE_CACHED of a trivial\n"
	"program, and PUT_CAP throughput (64 KiB Data caps); medians of N (default\n"
	"5) batches.\n";

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void cli_print_machine(void);
void cli_print_machine(void)
{
	char model[256] = "unknown CPU";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "model name", 10)) {
				char *c = strchr(line, ':');
				if (c) {
					snprintf(model, sizeof model, "%s", c + 2);
					model[strcspn(model, "\n")] = 0;
				}
				break;
			}
		fclose(f);
	}
	struct utsname u;
	uname(&u);
	printf("machine: %s, %ld cpus, %s %s\n", model, sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release);
}

/* Run to a final exit; host calls are answered with nothing (registers and
 * memory unchanged) and resumed, at most max_calls times. */
static const char *run_through_host_calls(cli_exec *x, pvm_instance *m, uint64_t max_calls, pvm_exit *ex)
{
	/* within --timeout (one deadline for the whole run) and --max-memory */
	double deadline = cli_limits.timeout_s ? cli_now() + cli_limits.timeout_s : 0;
	const char *limit;
	uint64_t calls = 0;
	while (!(limit = cli_exec_run_limited(x, m, deadline, ex)) && *ex == PVM_EXIT_HOST && calls < max_calls)
		calls++;
	return limit;
}

static int bench_file(const char *path, unsigned runs, cli_engine engine)
{
	loaded_prog lp;
	if (!prog_load(path, "auto", &lp))
		return 2;
	cli_exec x;
	if (!cli_exec_prepare(&x, engine, lp.prog, "bench")) {
		prog_free(&lp);
		return 2;
	}
	double compile_s = x.compile_s;
	double *t = calloc(runs, sizeof *t);
	uint64_t instrs = 0;
	int rc = 0;
	char diff[512];
	for (unsigned i = 0; i < runs && t; i++) {
		pvm_instance *m = prog_instance(&lp, NULL, 0);
		if (!m) {
			rc = 2;
			break;
		}
		if (lp.kind != PROG_VECTOR)
			pvm_set_gas(m, INT64_MAX);
		int64_t g0 = pvm_gas(m);
		double t0 = cli_now();
		pvm_exit ex;
		/* a vector stops at its first host call, as its expectations say */
		const char *limit = run_through_host_calls(&x, m, lp.kind == PROG_VECTOR ? 0 : 10000000, &ex);
		t[i] = cli_now() - t0;
		if (limit) {
			printf("%s: stopped: %s\n", path, limit);
			pvm_instance_free(m);
			rc = 2;
			break;
		}
		instrs = (uint64_t)(g0 - pvm_gas(m));
		if (lp.vec.has_expect && vector_compare(&lp.vec, m, ex, diff, sizeof diff)) {
			printf("%s: WRONG RESULT: %s\n", path, diff);
			rc = 1;
		}
		pvm_instance_free(m);
	}
	if (t && rc == 0) {
		qsort(t, runs, sizeof *t, cmp_d);
		double med = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
		const char *name = strrchr(path, '/');
		printf("%-28s %12" PRIu64 " instr  median %10.3f ms  best %10.3f ms  %8.1f M instr/s (median of %u)\n",
		       name ? name + 1 : path, instrs, med * 1e3, t[0] * 1e3, (double)instrs / med / 1e6, runs);
		if (engine == CLI_ENGINE_JIT)
			printf("%-28s compile %.3f ms (%u PVM code bytes, %.1f MB/s)\n", "", compile_s * 1e3,
			       pvm_program_code_len(lp.prog), pvm_program_code_len(lp.prog) / compile_s / 1e6);
	}
	cli_exec_release(&x);
	free(t);
	prog_free(&lp);
	return rc;
}

static double median(double *t, unsigned n)
{
	qsort(t, n, sizeof *t, cmp_d);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* `nub bench sandbox`: per-call costs of the sandbox API. */
static nub_host_action count_call(void *ctx, nub_host_call *c)
{
	(void)c;
	++*(unsigned long *)ctx;
	return NUB_HOST_RESUME;
}

static int bench_sandbox(int argc, char **argv)
{
	const char *backend = "auto";
	unsigned runs = 5;
	for (int i = 1; i < argc; i++) {
		uint32_t r;
		if (!strcmp(argv[i], "--backend") && i + 1 < argc)
			backend = argv[++i];
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc && cli_parse_u32(argv[i + 1], &r) && r && r <= 1000) {
			runs = r;
			i++;
		} else
			return cli_err("bench sandbox: bad argument '%s' (see nub bench --help)", argv[i]);
	}
	double *t = calloc(runs, sizeof *t);
	if (!t)
		return cli_err("out of memory");
	cli_print_machine();
	/* boot: open + close */
	const unsigned boots = 20;
	nub_sandbox *sb;
	for (unsigned r = 0; r < runs; r++) {
		double t0 = cli_now();
		for (unsigned i = 0; i < boots; i++) {
			if (!(sb = cli_open_sandbox(backend, NUB_ENGINE_DEFAULT, "bench sandbox"))) {
				free(t);
				return 2;
			}
			nub_close(sb);
		}
		t[r] = (cli_now() - t0) / boots;
	}
	if (!(sb = cli_open_sandbox(backend, NUB_ENGINE_DEFAULT, "bench sandbox"))) {
		free(t);
		return 2;
	}
	printf("backend: %s; medians of %u batches\n", nub_backend_name(nub_sandbox_backend(sb)), runs);
	printf("%-34s %10.2f us\n", "boot (open + close)", median(t, runs) * 1e6);

	const unsigned calls = 20000;
	NubHeapStats hs;
	for (unsigned r = 0; r < runs; r++) {
		double t0 = cli_now();
		for (unsigned i = 0; i < calls; i++)
			nub_heap_stats(sb, &hs);
		t[r] = (cli_now() - t0) / calls;
	}
	printf("%-34s %10.3f us\n", "empty RPC (HEAP_STATS)", median(t, runs) * 1e6);

	/* trivial program: jump_ind r0 (r0 = the halt address) */
	static const uint8_t halt_blob[] = {0, 0, 2, 0x32, 0x00, 0x01};
	nub_endpoint ep = {.pc = 0, .regs = {[0] = NUB_HALT_ADDR}};
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = halt_blob, .code_len = sizeof halt_blob,
	                    .endpoints = &ep, .endpoint_count = 1};
	uint8_t img[NUB_CAP_HASH_LEN];
	InvokePacket pk = {.initial_gas = 1000};
	nub_cap_buf b;
	nub_err e = nub_cap_image(&d, &b);
	if (!e) {
		e = nub_put_cap(sb, b.bytes, b.len, img);
		nub_cap_buf_free(&b);
	}
	if (!e && !(e = nub_cap_instance(img, NULL, 0, &b))) {
		e = nub_put_cap(sb, b.bytes, b.len, pk.instance_hash);
		nub_cap_buf_free(&b);
	}
	InvocationResult res;
	for (unsigned r = 0; r < runs && !e; r++) {
		double t0 = cli_now();
		for (unsigned i = 0; i < calls && !e; i++)
			e = nub_invoke(sb, &pk, &res);
		t[r] = (cli_now() - t0) / calls;
	}
	if (e) {
		nub_close(sb);
		free(t);
		return cli_err("bench sandbox: %s", nub_strerror(e));
	}
	printf("%-34s %10.3f us\n", "INVOKE_CACHED (trivial program)", median(t, runs) * 1e6);

	/* host-call round trip: a loop of `ecalli 1` answered by a trivial
	 * handler (nub_invoke_with); per call, the loop's 3 instructions
	 * included */
	static const uint8_t loop_blob[] = {0, 0, 10, 10, 1, 149, 0x77, 0xFF, 82, 0x07, 0xFB, 50, 0x00, 0x25, 0x01};
	d.code = loop_blob;
	d.code_len = sizeof loop_blob;
	InvokePacket hp = {.initial_gas = 1ull << 40, .args = {1000000}};
	e = nub_cap_image(&d, &b);
	if (!e) {
		e = nub_put_cap(sb, b.bytes, b.len, img);
		nub_cap_buf_free(&b);
	}
	if (!e && !(e = nub_cap_instance(img, NULL, 0, &b))) {
		e = nub_put_cap(sb, b.bytes, b.len, hp.instance_hash);
		nub_cap_buf_free(&b);
	}
	unsigned long handled = 0;
	/* kvm: VM exits per host call too (the VM's exit counter, every
	 * vCPU); the default sandbox runs the job on a lane (its vCPUs 1..),
	 * then a one-vCPU sandbox on the mailbox */
	uint64_t (*exits)(void *) = sb->ops->vm_exits;
	bool kvm = exits != NULL;
	if (kvm)
		hp.args[0] = 10000; /* fewer calls: each may be a VM exit */
	for (int path = 0; path < (kvm ? 2 : 1) && !e; path++) {
		nub_sandbox *hs_sb = sb;
		const char *what = !kvm ? "" : path == 0 ? ", lane" : ", mailbox";
		if (path == 1) { /* one vCPU: no lane, the mailbox */
			cli_limits.vcpus = 1;
			hs_sb = cli_open_sandbox(backend, NUB_ENGINE_DEFAULT, "bench sandbox");
			cli_limits.vcpus = 0;
			e = hs_sb ? nub_cap_image(&d, &b) : NUB_E_NOMEM;
			if (!e) {
				e = nub_put_cap(hs_sb, b.bytes, b.len, img);
				nub_cap_buf_free(&b);
			}
			if (!e && !(e = nub_cap_instance(img, NULL, 0, &b))) {
				e = nub_put_cap(hs_sb, b.bytes, b.len, hp.instance_hash);
				nub_cap_buf_free(&b);
			}
		}
		handled = 0;
		uint64_t x0 = kvm && hs_sb ? exits(hs_sb->impl) : 0;
		for (unsigned r = 0; r < runs && !e; r++) {
			double t0 = cli_now();
			e = nub_invoke_with(hs_sb, &hp, count_call, &handled, &res);
			t[r] = (cli_now() - t0) / (double)hp.args[0];
		}
		char label[64];
		snprintf(label, sizeof label, kvm ? "host call%s (trivial)" : "host call%s (trivial handler)", what);
		if (!e)
			printf("%-34s %10.3f ns (%lu calls answered)\n", label, median(t, runs) * 1e9, handled);
		if (!e && kvm && handled) {
			snprintf(label, sizeof label, "VM exits per host call%s", what);
			printf("%-34s %10.2f\n", label, (double)(exits(hs_sb->impl) - x0) / (double)handled);
		}
		if (hs_sb && hs_sb != sb)
			nub_close(hs_sb);
	}
	/* local: the same through a lane's slot (host_calls = LANES): the
	 * invocation on a lane thread, each call a round trip to this one */
	if (!e && nub_sandbox_backend(sb) == NUB_BACKEND_LOCAL) {
		cli_limits.host_calls = NUB_HOST_CALLS_LANES;
		nub_sandbox *ls = cli_open_sandbox(backend, NUB_ENGINE_DEFAULT, "bench sandbox");
		cli_limits.host_calls = NUB_HOST_CALLS_INLINE;
		InvokePacket lp = {.initial_gas = 1ull << 40, .args = {100000}};
		e = ls ? nub_cap_image(&d, &b) : NUB_E_NOMEM;
		if (!e) {
			e = nub_put_cap(ls, b.bytes, b.len, img);
			nub_cap_buf_free(&b);
		}
		if (!e && !(e = nub_cap_instance(img, NULL, 0, &b))) {
			e = nub_put_cap(ls, b.bytes, b.len, lp.instance_hash);
			nub_cap_buf_free(&b);
		}
		handled = 0;
		for (unsigned r = 0; r < runs && !e; r++) {
			double t0 = cli_now();
			e = nub_invoke_with(ls, &lp, count_call, &handled, &res);
			t[r] = (cli_now() - t0) / (double)lp.args[0];
		}
		if (!e)
			printf("%-34s %10.3f ns (%lu calls answered)\n", "host call via a lane (slot)",
			       median(t, runs) * 1e9, handled);
		nub_close(ls);
	}

	/* PUT_CAP: distinct 64 KiB Data caps */
	const size_t sz = 64 * 1024;
	const unsigned caps = 64;
	uint8_t *buf = calloc(1, sz), h[NUB_CAP_HASH_LEN];
	uint32_t seq = 0;
	for (unsigned r = 0; r < runs && buf && !e; r++) {
		double t0 = cli_now();
		for (unsigned i = 0; i < caps && !e; i++) {
			seq++;
			memcpy(buf, &seq, sizeof seq); /* distinct content, distinct hash */
			if (!(e = nub_cap_data(buf, sz, &b))) {
				e = nub_put_cap(sb, b.bytes, b.len, h);
				nub_cap_buf_free(&b);
			}
		}
		t[r] = (cli_now() - t0) / caps;
	}
	free(buf);
	nub_close(sb);
	if (e) {
		free(t);
		return cli_err("bench sandbox: PUT_CAP: %s", nub_strerror(e));
	}
	double m = median(t, runs);
	printf("%-34s %10.2f us  (%.0f MB/s)\n", "PUT_CAP (64 KiB Data, build+put)", m * 1e6, (double)sz / m / 1e6);
	free(t);
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	unsigned runs = 5;
	cli_engine engine = CLI_ENGINE_DEFAULT;
	int first = argc, rc = 0;
	if (argc > 1 && !strcmp(argv[1], "sandbox"))
		return bench_sandbox(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "lanes"))
		return cmd_bench_lanes(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "programs"))
		return cmd_bench_programs(argc - 1, argv + 1);
	for (int i = 1; i < argc; i++) {
		int lim = cli_parse_limit(argv[i], i + 1 < argc ? argv[i + 1] : NULL, &i, "bench");
		if (lim < 0)
			return 2;
		if (lim > 0)
			continue;
		if (!strcmp(argv[i], "--runs")) {
			uint32_t r;
			if (i + 1 >= argc || !cli_parse_u32(argv[i + 1], &r) || r == 0 || r > 1000)
				return cli_err("bench: --runs needs a number 1..1000");
			runs = r;
			i++;
		} else if (!strcmp(argv[i], "--engine")) {
			if (i + 1 >= argc)
				return cli_err("bench: --engine needs interp or jit");
			if (!cli_parse_engine(argv[++i], &engine, "bench"))
				return 2;
		} else if (argv[i][0] == '-') {
			return cli_err("bench: unknown option '%s' (see nub bench --help)", argv[i]);
		} else {
			first = i;
			break;
		}
	}
	char share[PATH_MAX];
	if (first == argc && !cli_share_dir("conformance", "bench", share, sizeof share))
		return 2;
	cli_print_machine();
	printf("engine: %s; %u runs per file\n", engine == CLI_ENGINE_JIT ? "jit" : "interpreter", runs);
	if (first < argc) {
		for (int i = first; i < argc; i++) {
			int r = bench_file(argv[i], runs, engine);
			if (r > rc)
				rc = r;
		}
		return rc;
	}
	static const char *const defaults[] = {"loop_100000000.json", "loop_mem_20000000.json"};
	for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++) {
		char file[PATH_MAX + 64];
		snprintf(file, sizeof file, "%s/pvm/bench/%s", share, defaults[i]);
		int r = bench_file(file, runs, engine);
		if (r > rc)
			rc = r;
	}
	return rc;
}
