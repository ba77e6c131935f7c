/* cmd_conformance.c: `nub conformance`: run JSON test vectors and compare. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "engine.h"
#include "vector.h"
#include "vector_caps.h"

static const char usage[] =
	"usage: nub conformance [options] [PATH...]\n"
	"\n"
	"Run PVM test vectors (JSON files, or folders of them) on the engine and\n"
	"compare status, pc, all 13 registers, gas, the page-fault address and\n"
	"every byte of every mapped page. Prints one line per failing vector, then\n"
	"'N passed, N failed'. Exit status 0 when nothing failed, 1 otherwise.\n"
	"\n"
	"Default PATHs: the corpus in SHARE/conformance/pvm/ (vectors/, random/,\n"
	"random-ro-write/), where SHARE is, in order: $NUB_SHARE_DIR when set;\n"
	"BIN/../share/nub for an installed nub in BIN/ (make install puts the\n"
	"corpus there); the source tree (tests/conformance/) of a nub run from its\n"
	"build folder. Nothing else: without them, name the PATHs.\n"
	"\n"
	"options:\n"
	"  --backend B        run each vector through caps on a sandbox (local, kvm,\n"
	"                     auto) instead of on the engine directly. The result\n"
	"                     then shows status, exit_arg, gas, r7 and the\n"
	"                     scratchpad head (slot 0 = the first region), which\n"
	"                     are compared; pc, other registers and memory are not\n"
	"                     observable through an InvocationResult\n"
	"  --deviations FILE  known-deviations file (default\n"
	"                     SHARE/conformance/known-deviations.txt;\n"
	"                     'none' to allow no deviation)\n"
	"  --engine E         " CLI_ENGINE_DEFAULT_HELP "; with --backend the sandbox's\n"
	"                     engine (default: the backend's)\n"
	"  -v, --verbose      also print passing vectors\n"
	"  --timeout S        per vector, in-process (or the sandbox's deadline)\n"
	"  --max-memory B     per vector: pages mapped and written (default 2^30)\n"
	"  -h, --help         this text\n";

typedef struct {
	char name[128];
	char field[16];
	char reason[256];
	bool used;
} deviation;

typedef struct {
	deviation *d;
	size_t n;
} deviations;

static bool load_deviations(const char *path, deviations *ds)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		cli_err("conformance: cannot open deviations file %s", path);
		return false;
	}
	char line[512];
	unsigned ln = 0;
	while (fgets(line, sizeof line, f)) {
		ln++;
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '#' || *s == '\n' || !*s)
			continue;
		deviation dv = {0};
		int used = 0;
		if (sscanf(s, "%127s %15s %n", dv.name, dv.field, &used) < 2 || strcmp(dv.field, "gas") != 0) {
			cli_err("conformance: %s:%u: expected 'NAME gas REASON'", path, ln);
			fclose(f);
			return false;
		}
		snprintf(dv.reason, sizeof dv.reason, "%s", s + used);
		dv.reason[strcspn(dv.reason, "\n")] = 0;
		deviation *nd = realloc(ds->d, (ds->n + 1) * sizeof *nd);
		if (!nd) {
			fclose(f);
			return false;
		}
		ds->d = nd;
		ds->d[ds->n++] = dv;
	}
	fclose(f);
	return true;
}

static deviation *find_dev(deviations *ds, const char *name)
{
	for (size_t i = 0; i < ds->n; i++)
		if (!strcmp(ds->d[i].name, name))
			return &ds->d[i];
	return NULL;
}

typedef struct {
	unsigned passed, failed, deviated;
	bool verbose;
	deviations devs;
	nub_sandbox *sb; /* --backend: through caps */
	cli_engine engine; /* in-process: --engine */
} tally;

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static void run_one(const char *path, tally *t)
{
	size_t len;
	char err[256], diff[1024];
	uint8_t *txt = cli_read_file(path, &len);
	if (!txt) {
		printf("FAIL %s: unreadable\n", path);
		t->failed++;
		return;
	}
	vector v;
	if (!vector_parse((const char *)txt, len, &v, err, sizeof err)) {
		free(txt);
		printf("FAIL %s: %s\n", path, err);
		t->failed++;
		return;
	}
	free(txt);
	const char *name = v.name ? v.name : base_name(path);
	if (!v.has_expect) {
		printf("FAIL %s: no expected-* fields\n", name);
		t->failed++;
		vector_free(&v);
		return;
	}
	pvm_program *p = NULL;
	pvm_instance *m = NULL;
	pvm_exit ex;
	pvm_err e = PVM_E_OK;
	unsigned d;
	if (t->sb) {
		uint8_t inst[NUB_CAP_HASH_LEN];
		InvokePacket pk;
		InvocationResult r;
		nub_err ne = vector_put_caps(t->sb, &v, inst);
		if (ne == NUB_E_IMAGE_CODE) {
			/* the sandbox refuses an undecodable program: Ψ panics */
			snprintf(diff, sizeof diff, "program does not decode (%s)", nub_strerror(ne));
			d = v.status == PVM_EXIT_PANIC ? 0 : VEC_D_STATUS;
		} else if (ne) {
			snprintf(diff, sizeof diff, "cannot publish as caps: %s", nub_strerror(ne));
			d = VEC_D_STATUS;
		} else {
			vector_packet(&v, inst, &pk);
			ne = nub_invoke(t->sb, &pk, &r);
			d = ne ? VEC_D_STATUS : vector_compare_result(&v, &r, diff, sizeof diff);
			if (ne)
				snprintf(diff, sizeof diff, "invoke failed: %s", nub_strerror(ne));
		}
		goto compared;
	}
	e = pvm_program_new(v.program, v.program_len, &p);
	if (e) {
		/* GP: an undecodable blob makes Ψ panic at once, state unchanged */
		snprintf(diff, sizeof diff, "program does not decode (%s)", pvm_strerror(e));
		d = v.status == PVM_EXIT_PANIC ? 0 : VEC_D_STATUS;
		if (d)
			goto report;
		goto pass;
	}
	if ((e = vector_instance(&v, p, &m)) != PVM_E_OK) {
		snprintf(diff, sizeof diff, "cannot build initial state: %s", pvm_strerror(e));
		d = VEC_D_MEM;
		goto report;
	}
	cli_exec x;
	if (!cli_exec_prepare(&x, t->engine, p, "conformance")) {
		snprintf(diff, sizeof diff, "the %s engine cannot run it", cli_engine_name(t->engine));
		d = VEC_D_STATUS;
		goto report;
	}
	const char *limit = cli_exec_run_limited(&x, m, cli_limits.timeout_s ? cli_now() + cli_limits.timeout_s : 0, &ex);
	cli_exec_release(&x);
	if (limit) {
		snprintf(diff, sizeof diff, "stopped: %s", limit);
		d = VEC_D_STATUS;
		goto report;
	}
	d = vector_compare(&v, m, ex, diff, sizeof diff);
compared:
	if (d == VEC_D_GAS) {
		deviation *dv = find_dev(&t->devs, name);
		if (dv) {
			dv->used = true;
			t->deviated++;
			printf("deviation %s: %s (known: %s)\n", name, diff, dv->reason);
			goto pass;
		}
	}
	if (d) {
	report:
		printf("FAIL %s: %s\n", name, diff);
		t->failed++;
	} else {
	pass:
		if (t->verbose)
			printf("ok   %s\n", name);
		t->passed++;
	}
	pvm_instance_free(m);
	pvm_program_free(p);
	vector_free(&v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool run_path(const char *path, tally *t)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		cli_err("conformance: %s: no such file or folder", path);
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		run_one(path, t);
		return true;
	}
	DIR *dir = opendir(path);
	if (!dir) {
		cli_err("conformance: %s: cannot open folder", path);
		return false;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".json"))
			continue;
		char **nn = realloc(names, (n + 1) * sizeof *nn);
		if (!nn)
			break;
		names = nn;
		size_t pl = strlen(path) + l + 2;
		names[n] = malloc(pl);
		if (!names[n])
			break;
		snprintf(names[n++], pl, "%s/%s", path, de->d_name);
	}
	closedir(dir);
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		run_one(names[i], t);
		free(names[i]);
	}
	free(names);
	return true;
}

int cmd_conformance(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	tally t = {0};
	t.engine = CLI_ENGINE_DEFAULT;
	bool have_engine = false; /* with --backend: the sandbox's default unless given */
	const char *devpath = NULL;
	const char *backend = NULL;
	const char **paths = calloc((size_t)argc, sizeof *paths);
	size_t np = 0;
	if (!paths)
		return cli_err("out of memory");
	for (int i = 1; i < argc; i++) {
		int lim = cli_parse_limit(argv[i], i + 1 < argc ? argv[i + 1] : NULL, &i, "conformance");
		if (lim < 0) {
			free(paths);
			return 2;
		}
		if (lim > 0)
			continue;
		if (!strcmp(argv[i], "--deviations")) {
			if (++i >= argc) {
				free(paths);
				return cli_err("conformance: --deviations needs a FILE");
			}
			devpath = argv[i];
		} else if (!strcmp(argv[i], "--backend")) {
			if (++i >= argc) {
				free(paths);
				return cli_err("conformance: --backend needs local, kvm or auto");
			}
			backend = argv[i];
		} else if (!strcmp(argv[i], "--engine")) {
			if (++i >= argc || !cli_parse_engine(argv[i], &t.engine, "conformance")) {
				free(paths);
				return i >= argc ? cli_err("conformance: --engine needs interp or jit") : 2;
			}
			have_engine = true;
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			t.verbose = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			free(paths);
			return cli_err("conformance: unknown option '%s' (see nub conformance --help)", argv[i]);
		} else {
			paths[np++] = argv[i];
		}
	}
	/* the share folder only for what the options left open */
	char share[PATH_MAX], devdefault[PATH_MAX + 32];
	if ((!devpath || np == 0) && !cli_share_dir("conformance", "conformance", share, sizeof share)) {
		fputs("nub: conformance: or give PATHs and --deviations FILE|none\n", stderr);
		free(paths);
		return 2;
	}
	if (!devpath) {
		snprintf(devdefault, sizeof devdefault, "%s/known-deviations.txt", share);
		devpath = devdefault;
	}
	if (strcmp(devpath, "none") && !load_deviations(devpath, &t.devs)) {
		free(paths);
		return 2;
	}
	if (backend && !(t.sb = cli_open_sandbox(backend, have_engine ? cli_engine_nub(t.engine) : NUB_ENGINE_DEFAULT, "conformance"))) {
		free(paths);
		free(t.devs.d);
		return 2;
	}
	static const char *const defaults[] = {"vectors", "random", "random-ro-write"};
	int rc = 0;
	if (np == 0) {
		for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++) {
			char dir[PATH_MAX + 32];
			snprintf(dir, sizeof dir, "%s/pvm/%s", share, defaults[i]);
			if (!run_path(dir, &t))
				rc = 2;
		}
	} else {
		for (size_t i = 0; i < np; i++)
			if (!run_path(paths[i], &t))
				rc = 2;
	}
	free(paths);
	if (t.sb) {
		printf("through caps on the %s backend: compared status, exit_arg, gas, r7, scratchpad head\n",
		       nub_backend_name(nub_sandbox_backend(t.sb)));
		nub_close(t.sb);
	}
	if (t.deviated)
		printf("%u known deviation(s), gas only, listed in %s\n", t.deviated, devpath);
	printf("%u passed, %u failed\n", t.passed, t.failed);
	free(t.devs.d);
	if (rc)
		return rc;
	return t.failed ? 1 : 0;
}
