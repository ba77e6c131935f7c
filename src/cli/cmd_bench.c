/* cmd_bench.c: `nub bench`: time benchmark vectors, print medians in M instr/s. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "program.h"

#ifndef NUB_SOURCE_DIR
#define NUB_SOURCE_DIR "."
#endif

static const char usage[] =
	"usage: nub bench [--runs N] [FILE.json...]\n"
	"\n"
	"Time PVM benchmark vectors on the interpreter: each is decoded once, then\n"
	"run N times (default 5) from a fresh instance; every run's result is\n"
	"checked against the vector's expectations. Prints per file the executed\n"
	"instructions (gas used), the median and best wall time, and the median\n"
	"rate in M instructions/s, with the machine named.\n"
	"Default FILEs: " NUB_SOURCE_DIR "/tests/conformance/pvm/bench/*.json\n";

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

static int bench_file(const char *path, unsigned runs)
{
	loaded_prog lp;
	if (!prog_load(path, "json", &lp))
		return 2;
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
		int64_t g0 = pvm_gas(m);
		double t0 = cli_now();
		pvm_exit ex = pvm_run(m);
		t[i] = cli_now() - t0;
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
		printf("%-28s %12" PRIu64 " instr  median %8.3f s  best %8.3f s  %8.1f M instr/s (median of %u)\n",
		       name ? name + 1 : path, instrs, med, t[0], (double)instrs / med / 1e6, runs);
	}
	free(t);
	prog_free(&lp);
	return rc;
}

int cmd_bench(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	unsigned runs = 5;
	int first = argc, rc = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs")) {
			uint32_t r;
			if (i + 1 >= argc || !cli_parse_u32(argv[i + 1], &r) || r == 0 || r > 1000)
				return cli_err("bench: --runs needs a number 1..1000");
			runs = r;
			i++;
		} else if (argv[i][0] == '-') {
			return cli_err("bench: unknown option '%s' (see nub bench --help)", argv[i]);
		} else {
			first = i;
			break;
		}
	}
	cli_print_machine();
	printf("engine: interpreter; %u runs per file\n", runs);
	if (first < argc) {
		for (int i = first; i < argc; i++) {
			int r = bench_file(argv[i], runs);
			if (r > rc)
				rc = r;
		}
		return rc;
	}
	static const char *const defaults[] = {
		NUB_SOURCE_DIR "/tests/conformance/pvm/bench/loop_100000000.json",
		NUB_SOURCE_DIR "/tests/conformance/pvm/bench/loop_mem_20000000.json",
	};
	for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++) {
		int r = bench_file(defaults[i], runs);
		if (r > rc)
			rc = r;
	}
	return rc;
}
