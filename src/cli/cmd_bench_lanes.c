/* cmd_bench_lanes.c: `nub bench lanes`: execution-lane throughput and
 * trivial-invoke latency (medians of runs, machine and load named). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "api/backend.h" /* api_vm_exits */
#include "cmd.h"
#include "nub/nub.h"

int cmd_bench_lanes(int argc, char **argv);
void cli_print_machine(void);

static const char usage[] =
	"usage: nub bench lanes [--backend B] [--runs N] [--work K] [--json]\n"
	"\n"
	"Execution lanes (nub_options.lanes) on a backend (default local):\n"
	"  throughput of a CPU-bound kernel (a countdown of 2*K+1 instructions per\n"
	"  job, K = --work, default 2500000) in jobs/s through nub_invoke_parallel with 1 and with 2\n"
	"  lanes (a batch of 32 jobs per run; the median of N runs, default 5);\n"
	"  trivial-invoke latency p50/p99 through nub_invoke on a lane, and on\n"
	"  kvm also through the mailbox RPC (a one-vCPU sandbox: no lanes), over\n"
	"  20000 calls after 2000 warm-up calls.\n"
	"exits_per_invoke: VM exits counted by the VMM over the lane latency\n"
	"calls, per call (local has no VM: 0 by construction). The load average\n"
	"is printed with the figures.\n"
	"--json prints one object: throughput_1_lane, throughput_2_lanes (jobs/s),\n"
	"speedup, p50_us, p99_us, exits_per_invoke, p50_mailbox_us and\n"
	"p99_mailbox_us (kvm; null on local), cpus_used_1_lane,\n"
	"cpus_used_2_lanes (CPU seconds per wall second: fewer than the lanes\n"
	"on a busy machine), backend, loadavg.\n";

/* @0 add_imm_64 r7,r7,-1; @3 branch_ne_imm r7,0,@0; @6 jump_ind r0. */
static const uint8_t prog_countdown[] = {0, 0, 8, 149, 0x77, 0xFF, 82, 0x07, 0xFD, 50, 0x00, 0x49};
/* @0 jump_ind r0 */
static const uint8_t prog_halt[] = {0, 0, 2, 50, 0x00, 0x01};

#define KERNEL_K_DEFAULT 2500000u
static uint32_t kernel_k = KERNEL_K_DEFAULT; /* --work */
#define BATCH 32u
#define LAT_CALLS 20000u
#define LAT_WARM 2000u

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* CPU seconds this process used so far (all threads) */
static double cpu_seconds(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec +
	       (double)u.ru_stime.tv_usec * 1e-6;
}

static nub_err put_prog(nub_sandbox *sb, const uint8_t *code, size_t len, uint8_t inst[NUB_CAP_HASH_LEN])
{
	nub_endpoint ep;
	memset(&ep, 0, sizeof ep);
	ep.regs[0] = NUB_HALT_ADDR;
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = code, .code_len = len, .endpoints = &ep,
	                    .endpoint_count = 1};
	uint8_t img[NUB_CAP_HASH_LEN];
	nub_cap_buf b;
	nub_err e = nub_cap_image(&d, &b);
	if (e)
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, img);
	nub_cap_buf_free(&b);
	if (e || (e = nub_cap_instance(img, NULL, 0, &b)))
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, inst);
	nub_cap_buf_free(&b);
	return e;
}

/* lanes 0: one vCPU, no lanes (kvm: every invoke takes the mailbox) */
static nub_err open_lanes(nub_backend be, uint32_t lanes, nub_sandbox **sb)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = be;
	o.vcpus = lanes + 1; /* the VM's vCPU 0 serves the mailbox */
	o.lanes = lanes ? lanes : 1;
	return nub_open(&o, sb);
}

/* jobs/s of the CPU-bound kernel over `lanes` lanes: median of runs; *cpus:
 * CPU seconds used per wall second over all runs (how many cores the lanes
 * actually got: on a busy machine fewer than lanes) */
static nub_err throughput(nub_backend be, uint32_t lanes, unsigned runs, double *out, double *cpus)
{
	nub_sandbox *sb;
	nub_err e = open_lanes(be, lanes, &sb);
	if (e)
		return e;
	uint8_t inst[NUB_CAP_HASH_LEN];
	InvokePacket p[BATCH];
	InvocationResult r[BATCH];
	double *t = calloc(runs, sizeof *t);
	if (!t) {
		nub_close(sb);
		return NUB_E_NOMEM;
	}
	if (!(e = put_prog(sb, prog_countdown, sizeof prog_countdown, inst))) {
		for (unsigned i = 0; i < BATCH; i++) {
			memset(&p[i], 0, sizeof p[i]);
			memcpy(p[i].instance_hash, inst, sizeof inst);
			p[i].args[0] = kernel_k;
			p[i].initial_gas = 4ull * kernel_k;
		}
		e = nub_invoke_parallel(sb, p, r, lanes); /* warm: lanes up, program decoded */
	}
	double c0 = cpu_seconds(), w0 = cli_now();
	for (unsigned k = 0; k < runs && !e; k++) {
		double t0 = cli_now();
		e = nub_invoke_parallel(sb, p, r, BATCH);
		t[k] = cli_now() - t0;
		for (unsigned i = 0; i < BATCH && !e; i++)
			if (r[i].exit_reason != NUB_EXIT_HALT || r[i].gas_remaining != 4ull * kernel_k - (2ull * kernel_k + 1))
				e = NUB_E_ENGINE; /* a wrong answer is no benchmark */
	}
	if (!e) {
		*cpus = (cpu_seconds() - c0) / (cli_now() - w0);
		qsort(t, runs, sizeof *t, cmp_d);
		double med = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
		*out = BATCH / med;
	}
	free(t);
	nub_close(sb);
	return e;
}

/* p50/p99 of a trivial nub_invoke, in microseconds, on `lanes` lanes (0:
 * the mailbox); *exits: VM exits per call (-1: no VM) */
static nub_err latency(nub_backend be, uint32_t lanes, double *p50, double *p99, double *exits)
{
	nub_sandbox *sb;
	nub_err e = open_lanes(be, lanes, &sb);
	if (e)
		return e;
	uint8_t inst[NUB_CAP_HASH_LEN];
	double *t = calloc(LAT_CALLS, sizeof *t);
	if (!t) {
		nub_close(sb);
		return NUB_E_NOMEM;
	}
	InvokePacket p;
	InvocationResult r;
	memset(&p, 0, sizeof p);
	if (!(e = put_prog(sb, prog_halt, sizeof prog_halt, inst))) {
		memcpy(p.instance_hash, inst, sizeof inst);
		p.initial_gas = 100;
		for (unsigned i = 0; i < LAT_WARM && !e; i++)
			e = nub_invoke(sb, &p, &r);
	}
	uint64_t x0 = 0, x1 = 0;
	bool vm = api_vm_exits(sb, &x0);
	for (unsigned i = 0; i < LAT_CALLS && !e; i++) {
		p.args[0] = i;
		double t0 = cli_now();
		e = nub_invoke(sb, &p, &r);
		t[i] = cli_now() - t0;
		if (!e && r.return_value != i)
			e = NUB_E_ENGINE;
	}
	*exits = vm && api_vm_exits(sb, &x1) ? (double)(x1 - x0) / LAT_CALLS : -1;
	if (!e) {
		qsort(t, LAT_CALLS, sizeof *t, cmp_d);
		*p50 = t[LAT_CALLS / 2] * 1e6;
		*p99 = t[LAT_CALLS * 99 / 100] * 1e6;
	}
	free(t);
	nub_close(sb);
	return e;
}

int cmd_bench_lanes(int argc, char **argv)
{
	const char *backend = "local";
	unsigned runs = 5;
	bool json = false;
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		uint32_t r;
		if (!strcmp(argv[i], "--backend") && i + 1 < argc)
			backend = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc && cli_parse_u32(argv[i + 1], &r) && r && r <= 1000) {
			runs = r;
			i++;
		} else if (!strcmp(argv[i], "--work") && i + 1 < argc && cli_parse_u32(argv[i + 1], &r) && r &&
		           r <= 1000000000u) {
			kernel_k = r;
			i++;
		} else
			return cli_err("bench lanes: bad argument '%s' (see nub bench lanes --help)", argv[i]);
	}
	nub_backend be;
	if (nub_backend_parse(backend, &be))
		return cli_err("bench lanes: unknown backend '%s' (local, kvm, auto)", backend);
	double tp1 = 0, tp2 = 0, p50 = 0, p99 = 0, cpus1 = 0, cpus2 = 0, exits = -1, m50 = -1, m99 = -1, mexits;
	nub_err e = throughput(be, 1, runs, &tp1, &cpus1);
	if (!e)
		e = throughput(be, 2, runs, &tp2, &cpus2);
	if (!e)
		e = latency(be, 1, &p50, &p99, &exits);
	if (!e && be != NUB_BACKEND_LOCAL)
		e = latency(be, 0, &m50, &m99, &mexits);
	if (e)
		return cli_err("bench lanes: %s backend: %s", backend, nub_strerror(e));
	double load[3] = {0, 0, 0};
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
			load[0] = load[1] = load[2] = -1;
		fclose(f);
	}
	/* local has no VM: no exits by construction */
	bool local = be == NUB_BACKEND_LOCAL;
	char ex[32], mb50[32], mb99[32];
	snprintf(ex, sizeof ex, exits < 0 ? "0" : "%.3f", exits);
	snprintf(mb50, sizeof mb50, m50 < 0 ? "null" : "%.3f", m50);
	snprintf(mb99, sizeof mb99, m99 < 0 ? "null" : "%.3f", m99);
	if (json) {
		printf("{\"backend\": \"%s\", \"throughput_1_lane\": %.1f, \"throughput_2_lanes\": %.1f, "
		       "\"speedup\": %.3f, \"p50_us\": %.3f, \"p99_us\": %.3f, \"exits_per_invoke\": %s, "
		       "\"p50_mailbox_us\": %s, \"p99_mailbox_us\": %s, "
		       "\"cpus_used_1_lane\": %.2f, \"cpus_used_2_lanes\": %.2f, "
		       "\"kernel_instructions\": %u, \"batch\": %u, \"runs\": %u, \"loadavg\": [%.2f, %.2f, %.2f]}\n",
		       backend, tp1, tp2, tp2 / tp1, p50, p99, ex, mb50, mb99, cpus1, cpus2, 2 * kernel_k + 1, BATCH,
		       runs, load[0], load[1], load[2]);
		return 0;
	}
	cli_print_machine();
	printf("backend: %s; load average %.2f %.2f %.2f\n", backend, load[0], load[1], load[2]);
	printf("CPU-bound kernel (%u instructions/job, batches of %u, median of %u):\n", 2 * kernel_k + 1, BATCH,
	       runs);
	printf("  1 lane   %10.1f jobs/s   (the process got %.2f CPUs)\n", tp1, cpus1);
	printf("  2 lanes  %10.1f jobs/s   (the process got %.2f CPUs)   speedup %.2fx\n", tp2, cpus2, tp2 / tp1);
	if (cpus2 < 1.5)
		printf("  note: 2 lanes got %.2f CPUs: the machine is busy (or schedules by session: autogroup), so\n"
		       "        this speedup measures the CPU share, not the lanes; rerun on an idle machine\n",
		       cpus2);
	printf("trivial nub_invoke through a lane (%u calls): p50 %.3f us, p99 %.3f us\n", LAT_CALLS, p50, p99);
	if (!local)
		printf("trivial nub_invoke through the mailbox (%u calls): p50 %.3f us, p99 %.3f us\n", LAT_CALLS, m50,
		       m99);
	if (local)
		printf("VM exits per invoke: 0 (local: no VM)\n");
	else
		printf("VM exits per invoke through a lane: %s (counted by the VMM)\n", ex);
	return 0;
}
