/* cmd_bench_programs.c: `nub bench programs`: the bench kernels native vs interpreter vs JIT. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bench/programs/bench_host.h"
#include "cmd.h"
#include "engine.h"
#include "program.h"

int cmd_bench_programs(int argc, char **argv);
void cli_print_machine(void);

static const char usage[] =
	"usage: nub bench programs [--runs N] [--tiny] [--no-interp] [--json] [--dir D] [KERNEL...]\n"
	"\n"
	"Times the benchmark kernels of bench/programs (built by `make bench-programs`,\n"
	"needs clang-19): each kernel's PVM build (D/KERNEL.pvm) with its size\n"
	"argument (one LE u32 n, bench/programs/bench_arg.h; chosen so each runs\n"
	">= 20 ms natively) and, when built, the same C file compiled natively\n"
	"(clang-19 -O2 x86-64, D/native/KERNEL, timed in its own process). Per\n"
	"kernel, medians of N runs (default 5):\n"
	"  native     the native call\n"
	"  interp     the interpreter's run (instance built outside the timing)\n"
	"  jit        the JIT's run, compiled code reused\n"
	"  cold       from the SPI bytes in memory: decode + compile + instance + run\n"
	"  compile    jit_compile alone, and its throughput in MB of PVM code/s\n"
	"and ratios to native, with the geometric means. Host calls are answered\n"
	"with bench_host.h's model. Every engine's result (φ7) must equal the\n"
	"native one (else WRONG RESULT, exit 1). D defaults to the folder of this\n"
	"binary + /bench. --tiny: n = 1 and one run (a smoke test, not a benchmark).\n"
	"--no-interp: skip the interpreter column. --json: one JSON object.\n";

static const struct {
	const char *name;
	uint32_t n; /* size argument: native >= 20 ms on the machine of bench/README.md */
} kernels[] = {
	{"sieve", 150}, {"blake2b", 20000}, {"keccak", 8000},   {"goldilocks", 70},
	{"polyeval", 20}, {"sort", 4},      {"hostcall", 150}, {"ed25519", 40},
};
#define NKERNELS (sizeof kernels / sizeof kernels[0])

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *t, unsigned n)
{
	qsort(t, n, sizeof *t, cmp_d);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

typedef struct {
	const char *name;
	uint32_t n, code_len;
	uint64_t instrs, result;
	int have_native;
	double native, interp, jit, cold, compile; /* medians, seconds; < 0: not measured */
} row;

/* bench_host_fn as an in-run host function: on the JIT a host call is
 * answered without leaving compiled code, as the sandbox's nub_invoke_with
 * does (src/local); the interpreter exits and resumes. */
static bool host_in_run(void *ctx, uint32_t number, uint64_t regs[PVM_NUM_REGS], uint64_t *gas)
{
	(void)ctx;
	(void)gas;
	regs[7] = bench_host_fn(number, regs[7], regs[8]);
	return true;
}

/* Run m to its final exit on x, answering host calls with bench_host_fn. */
static pvm_exit run_answering(cli_exec *x, pvm_instance *m)
{
	pvm_exit ex;
	x->host = host_in_run;
	while ((ex = cli_exec_run(x, m)) == PVM_EXIT_HOST)
		pvm_set_reg(m, 7, bench_host_fn((uint32_t)pvm_exit_arg(m), pvm_reg(m, 7), pvm_reg(m, 8)));
	return ex;
}

/* One timed run of lp on x: the run only (instance built before). */
static int time_run(const char *name, cli_exec *x, const loaded_prog *lp, const uint8_t arg[4], double *t,
		    uint64_t *result, uint64_t *instrs)
{
	pvm_instance *m = prog_instance(lp, arg, 4);
	if (!m)
		return 2;
	pvm_set_gas(m, INT64_MAX);
	double t0 = cli_now();
	pvm_exit ex = run_answering(x, m);
	*t = cli_now() - t0;
	*result = pvm_reg(m, 7);
	*instrs = (uint64_t)(INT64_MAX - pvm_gas(m));
	pvm_instance_free(m);
	if (ex != PVM_EXIT_HALT) {
		fprintf(stderr, "nub: bench programs: %s on the %s: %s, not halt\n", name, cli_engine_name(x->kind),
			pvm_exit_name(ex));
		return 1;
	}
	return 0;
}

/* JIT cold: from the SPI bytes to the result. */
static int time_cold(const char *name, const uint8_t *spi, size_t len, const uint8_t arg[4], double *t,
		     double *compile, uint64_t *result)
{
	double t0 = cli_now();
	loaded_prog lp;
	memset(&lp, 0, sizeof lp);
	if (!prog_load_mem(spi, len, name, "spi", &lp))
		return 2;
	cli_exec x;
	if (!cli_exec_prepare(&x, CLI_ENGINE_JIT, lp.prog, "bench programs")) {
		prog_free(&lp);
		return 2;
	}
	pvm_instance *m = prog_instance(&lp, arg, 4);
	int rc = 2;
	if (m) {
		pvm_set_gas(m, INT64_MAX);
		pvm_exit ex = run_answering(&x, m);
		*result = pvm_reg(m, 7);
		pvm_instance_free(m);
		rc = ex == PVM_EXIT_HALT ? 0 : 1;
	}
	cli_exec_release(&x);
	prog_free(&lp);
	*t = cli_now() - t0;
	*compile = x.compile_s;
	return rc;
}

/* The native harness: `D/native/K n runs` prints the result and one time
 * per line. 0 when measured, -1 when not built, 1 when it failed. */
static int run_native(const char *dir, const char *name, uint32_t n, unsigned runs, double *med, uint64_t *result)
{
	char path[PATH_MAX], cmd[PATH_MAX + 64], line[128];
	snprintf(path, sizeof path, "%s/native/%s", dir, name);
	if (access(path, X_OK) != 0)
		return -1;
	snprintf(cmd, sizeof cmd, "'%s' %" PRIu32 " %u", path, n, runs);
	FILE *p = popen(cmd, "r");
	if (!p)
		return 1;
	double *t = calloc(runs, sizeof *t);
	unsigned got = 0;
	int ok = t && fgets(line, sizeof line, p) && cli_parse_u64(strtok(line, "\n"), result);
	while (ok && got < runs && fgets(line, sizeof line, p))
		t[got++] = strtod(line, NULL);
	int st = pclose(p);
	if (!ok || got != runs || st != 0) {
		fprintf(stderr, "nub: bench programs: %s failed (exit status %d)\n", path, st);
		free(t);
		return 1;
	}
	*med = median(t, runs);
	free(t);
	return 0;
}

static int bench_kernel(const char *dir, const char *name, uint32_t n, unsigned runs, int interp, row *r)
{
	char path[PATH_MAX];
	uint8_t arg[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
	memset(r, 0, sizeof *r);
	r->name = name;
	r->n = n;
	r->native = r->interp = -1;
	snprintf(path, sizeof path, "%s/%s.pvm", dir, name);
	size_t len;
	uint8_t *spi = cli_read_file(path, &len);
	if (!spi)
		return cli_err("bench programs: %s not built (make bench-programs; needs clang-19)", path);
	double *t = calloc(runs, sizeof *t), *c = calloc(runs, sizeof *c);
	loaded_prog lp;
	memset(&lp, 0, sizeof lp);
	int rc = !t || !c || !prog_load_mem(spi, len, path, "spi", &lp) ? 2 : 0;
	uint64_t res = 0, instrs = 0;
	int nat = rc ? 1 : run_native(dir, name, n, runs, &r->native, &r->result);
	if (nat > 0)
		rc = 1;
	r->have_native = nat == 0;
	if (!rc)
		r->code_len = pvm_program_code_len(lp.prog);
	/* engine results must agree with native (or, without it, each other) */
#define CHECK(what)                                                                                        \
	do {                                                                                               \
		if (!r->have_native && !r->instrs)                                                             \
			r->result = res;                                                                       \
		if (res != r->result) {                                                                        \
			fprintf(stderr, "nub: bench programs: %s: WRONG RESULT on the %s: %" PRIu64 ", expected %" PRIu64 "\n", \
				name, what, res, r->result);                                                   \
			rc = 1;                                                                                \
		}                                                                                              \
		r->instrs = instrs;                                                                            \
	} while (0)
	cli_exec x;
	for (int e = interp ? 0 : 1; e < 2 && !rc; e++) {
		cli_engine kind = e ? CLI_ENGINE_JIT : CLI_ENGINE_INTERP;
		if (!cli_exec_prepare(&x, kind, lp.prog, "bench programs")) {
			rc = 2;
			break;
		}
		for (unsigned i = 0; i < runs && !rc; i++) {
			rc = time_run(name, &x, &lp, arg, &t[i], &res, &instrs);
			if (!rc)
				CHECK(cli_engine_name(kind));
		}
		cli_exec_release(&x);
		if (!rc)
			*(e ? &r->jit : &r->interp) = median(t, runs);
	}
	for (unsigned i = 0; i < runs && !rc; i++) {
		rc = time_cold(path, spi, len, arg, &t[i], &c[i], &res);
		if (!rc)
			CHECK("jit (cold)");
	}
#undef CHECK
	if (!rc) {
		r->cold = median(t, runs);
		r->compile = median(c, runs);
	}
	prog_free(&lp);
	free(spi);
	free(t);
	free(c);
	return rc;
}

static void print_load(FILE *f, int json)
{
	double l[3] = {-1, -1, -1};
	FILE *p = fopen("/proc/loadavg", "r");
	if (p) {
		if (fscanf(p, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3)
			l[0] = l[1] = l[2] = -1;
		fclose(p);
	}
	if (json)
		fprintf(f, "[%.2f, %.2f, %.2f]", l[0], l[1], l[2]);
	else
		fprintf(f, "load average: %.2f %.2f %.2f\n", l[0], l[1], l[2]);
}

static void cpu_model(char *out, size_t cap)
{
	snprintf(out, cap, "unknown CPU");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "model name", 10)) {
			char *c = strchr(line, ':');
			if (c) {
				snprintf(out, cap, "%s", c + 2);
				out[strcspn(out, "\n")] = 0;
			}
			break;
		}
	fclose(f);
}

static double ratio(double a, double b)
{
	return a > 0 && b > 0 ? a / b : -1;
}

/* geometric mean of a[k] / native over the kernels with both (hostcall
 * included iff with_host); -1 when none */
static double geomean(const row *r, size_t n, size_t off, int with_host)
{
	double s = 0;
	unsigned k = 0;
	for (size_t i = 0; i < n; i++) {
		double v = *(const double *)((const char *)&r[i] + off);
		if (!r[i].have_native || v <= 0 || (!with_host && !strcmp(r[i].name, "hostcall")))
			continue;
		s += log(v / r[i].native);
		k++;
	}
	return k ? exp(s / k) : -1;
}

static void jnum(const char *key, double v, double scale, const char *sep)
{
	if (v < 0)
		printf("\"%s\": null%s", key, sep);
	else
		printf("\"%s\": %.6g%s", key, v * scale, sep);
}

static void cell_ms(double v)
{
	if (v < 0)
		printf(" %10s", "-");
	else
		printf(" %10.3f", v * 1e3);
}

static void cell_x(double v)
{
	if (v < 0)
		printf(" %7s", "-");
	else
		printf(" %6.2fx", v);
}

int cmd_bench_programs(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	unsigned runs = 5;
	int tiny = 0, json = 0, interp = 1, runs_given = 0;
	char dir[PATH_MAX] = "";
	const char *only[NKERNELS];
	size_t nonly = 0;
	for (int i = 1; i < argc; i++) {
		uint32_t v;
		if (!strcmp(argv[i], "--runs") && i + 1 < argc && cli_parse_u32(argv[i + 1], &v) && v && v <= 1000) {
			runs = v;
			runs_given = 1;
			i++;
		} else if (!strcmp(argv[i], "--runs")) {
			return cli_err("bench programs: --runs needs a number 1..1000");
		} else if (!strcmp(argv[i], "--tiny")) {
			tiny = 1;
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--no-interp")) {
			interp = 0;
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			snprintf(dir, sizeof dir, "%s", argv[++i]);
		} else if (argv[i][0] == '-') {
			return cli_err("bench programs: unknown option '%s' (see nub bench programs --help)", argv[i]);
		} else {
			size_t k;
			for (k = 0; k < NKERNELS && strcmp(kernels[k].name, argv[i]); k++)
				;
			if (k == NKERNELS)
				return cli_err("bench programs: no kernel '%s' (see nub bench programs --help)", argv[i]);
			if (nonly == NKERNELS)
				return cli_err("bench programs: too many kernels named");
			only[nonly++] = kernels[k].name;
		}
	}
	if (tiny && !runs_given)
		runs = 1;
	if (!dir[0]) {
		char exe[PATH_MAX - 16];
		ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (l <= 0)
			return cli_err("bench programs: cannot find this binary's folder (%s); give --dir", strerror(errno));
		exe[l] = 0;
		char *s = strrchr(exe, '/');
		if (s)
			*s = 0;
		snprintf(dir, sizeof dir, "%s/bench", exe);
	}
	char model[256];
	cpu_model(model, sizeof model);
	if (!json) {
		cli_print_machine();
		print_load(stdout, 0);
		printf("kernels: %s; %u run%s each (medians)%s\n", dir, runs, runs == 1 ? "" : "s",
		       tiny ? "; TINY mode (n = 1): a smoke test, not a benchmark" : "");
	}
	row rows[NKERNELS];
	size_t nr = 0;
	int rc = 0, missing_native = 0;
	for (size_t k = 0; k < NKERNELS; k++) {
		int want = !nonly;
		for (size_t j = 0; j < nonly; j++)
			want |= only[j] == kernels[k].name;
		if (!want)
			continue;
		int r = bench_kernel(dir, kernels[k].name, tiny ? 1 : kernels[k].n, runs, interp, &rows[nr]);
		if (r > rc)
			rc = r;
		if (r)
			continue;
		missing_native |= !rows[nr].have_native;
		nr++;
	}
	if (missing_native)
		fprintf(stderr,
			"nub: bench programs: *** NO NATIVE COLUMN for some kernels: %s/native/ not built "
			"(make bench-programs needs clang-19: scripts/deps.sh --riscv) ***\n",
			dir);
	size_t o_i = offsetof(row, interp), o_j = offsetof(row, jit), o_c = offsetof(row, cold);
	if (json) {
		printf("{\"machine\": {\"cpu\": \"");
		for (const char *m = model; *m; m++) /* a JSON string: escape what needs it */
			if (*m == '"' || *m == '\\')
				printf("\\%c", *m);
			else if ((unsigned char)*m >= 0x20)
				putchar(*m);
		printf("\", \"cpus\": %ld, \"loadavg\": ", sysconf(_SC_NPROCESSORS_ONLN));
		print_load(stdout, 1);
		printf("}, \"runs\": %u, \"tiny\": %s, \"kernels\": [", runs, tiny ? "true" : "false");
		for (size_t i = 0; i < nr; i++) {
			const row *r = &rows[i];
			printf("%s{\"name\": \"%s\", \"n\": %" PRIu32 ", \"code_bytes\": %" PRIu32
			       ", \"instrs\": %" PRIu64 ", \"result\": %" PRIu64 ", ",
			       i ? ", " : "", r->name, r->n, r->code_len, r->instrs, r->result);
			jnum("native_ms", r->native, 1e3, ", ");
			jnum("interp_ms", r->interp, 1e3, ", ");
			jnum("jit_ms", r->jit, 1e3, ", ");
			jnum("cold_ms", r->cold, 1e3, ", ");
			jnum("compile_ms", r->compile, 1e3, ", ");
			jnum("compile_mb_s", ratio(r->code_len, r->compile), 1e-6, ", ");
			jnum("interp_x", r->have_native ? ratio(r->interp, r->native) : -1, 1, ", ");
			jnum("jit_x", r->have_native ? ratio(r->jit, r->native) : -1, 1, ", ");
			jnum("cold_x", r->have_native ? ratio(r->cold, r->native) : -1, 1, "}");
		}
		printf("], \"geomean\": {");
		jnum("interp_x", geomean(rows, nr, o_i, 0), 1, ", ");
		jnum("jit_x", geomean(rows, nr, o_j, 0), 1, ", ");
		jnum("cold_x", geomean(rows, nr, o_c, 0), 1, ", ");
		jnum("jit_x_with_hostcall", geomean(rows, nr, o_j, 1), 1, "}}\n");
		return rc;
	}
	printf("%-10s %6s %10s %10s %10s %10s %10s %9s %8s %8s %8s\n", "kernel", "n", "native ms", "interp ms",
	       "jit ms", "cold ms", "compile ms", "MB/s", "interp/n", "jit/n", "cold/n");
	for (size_t i = 0; i < nr; i++) {
		const row *r = &rows[i];
		printf("%-10s %6" PRIu32, r->name, r->n);
		cell_ms(r->native);
		cell_ms(r->interp);
		cell_ms(r->jit);
		cell_ms(r->cold);
		cell_ms(r->compile);
		printf(" %9.1f", ratio(r->code_len, r->compile) * 1e-6);
		cell_x(r->have_native ? ratio(r->interp, r->native) : -1);
		cell_x(r->have_native ? ratio(r->jit, r->native) : -1);
		cell_x(r->have_native ? ratio(r->cold, r->native) : -1);
		printf("\n");
	}
	printf("%-10s %6s %10s %10s %10s %10s %10s %9s", "geomean", "", "", "", "", "", "", "");
	cell_x(geomean(rows, nr, o_i, 0));
	cell_x(geomean(rows, nr, o_j, 0));
	cell_x(geomean(rows, nr, o_c, 0));
	printf("   (without hostcall; with it: jit %.2fx)\n", geomean(rows, nr, o_j, 1));
	return rc;
}
