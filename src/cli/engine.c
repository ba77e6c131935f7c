/* engine.c: the CLI's engine choice: the interpreter, or the JIT (x86-64 hosts). */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "nub/nub.h"
#ifdef __x86_64__
#include "jit/jit.h"
#endif

bool cli_parse_engine(const char *s, cli_engine *e, const char *cmd)
{
	if (s && !strcmp(s, "interp")) {
		*e = CLI_ENGINE_INTERP;
		return true;
	}
	if (s && !strcmp(s, "jit")) {
		*e = CLI_ENGINE_JIT;
		return true;
	}
	cli_err("%s: --engine wants 'interp' or 'jit', not '%s'", cmd, s ? s : "");
	return false;
}

const char *cli_engine_name(cli_engine e)
{
	return e == CLI_ENGINE_JIT ? "jit" : "interp";
}

#ifdef __x86_64__
static jit_vm *the_vm; /* the CLI runs one instance at a time */

bool cli_exec_prepare(cli_exec *x, cli_engine kind, const pvm_program *p, const char *cmd)
{
	x->kind = kind;
	x->code = NULL;
	x->compile_s = 0;
	x->host = NULL;
	x->host_ctx = NULL;
	if (kind != CLI_ENGINE_JIT)
		return true;
	jit_err e = JIT_E_OK;
	if (!the_vm)
		e = jit_vm_new(&the_vm);
	if (!e) {
		double t0 = cli_now();
		e = jit_compile(p, &x->code);
		x->compile_s = cli_now() - t0;
		if (!e)
			jit_perfmap_add(x->code);
	}
	if (e) {
		cli_err("%s: %s", cmd, jit_strerror(e));
		return false;
	}
	return true;
}

pvm_exit cli_exec_run(cli_exec *x, pvm_instance *m)
{
	if (x->kind != CLI_ENGINE_JIT)
		return pvm_run(m);
	jit_vm_set_host(the_vm, x->host, x->host_ctx);
	return jit_run(the_vm, x->code, m);
}

void cli_exec_release(cli_exec *x)
{
	jit_code_free(x->code);
	x->code = NULL;
}
#else
bool cli_exec_prepare(cli_exec *x, cli_engine kind, const pvm_program *p, const char *cmd)
{
	(void)p;
	x->kind = kind;
	x->code = NULL;
	x->compile_s = 0;
	x->host = NULL;
	x->host_ctx = NULL;
	if (kind == CLI_ENGINE_JIT) {
		cli_err("%s: jit: not compiled for this host (x86-64 only)", cmd);
		return false;
	}
	return true;
}

pvm_exit cli_exec_run(cli_exec *x, pvm_instance *m)
{
	(void)x;
	return pvm_run(m);
}

void cli_exec_release(cli_exec *x)
{
	x->code = NULL;
}
#endif

int cli_engine_nub(cli_engine e)
{
	return e == CLI_ENGINE_JIT ? NUB_ENGINE_JIT : NUB_ENGINE_INTERP;
}

/* In-process limits: pages written, counted against --max-memory. */
static bool count_pages(void *ctx, int64_t pages)
{
	uint64_t *left = ctx;
	if (pages > 0 && (uint64_t)pages > *left)
		return false;
	*left -= (uint64_t)pages; /* pages < 0 gives back */
	return true;
}

/* Slices between two clock reads: doubled while one takes under 5 ms of
 * run time (a JIT run pays a page write-back at each slice end). */
#define SLICE_FIRST (1ll << 16)
#define SLICE_MAX (1ll << 28)
#define SLICE_S 0.005

const char *cli_exec_run_limited(cli_exec *x, pvm_instance *m, double deadline, pvm_exit *out)
{
	static uint64_t budget; /* one run at a time */
	budget = cli_limits.max_memory / PVM_PAGE_SIZE;
	pvm_set_page_limit(m, (uint32_t)(budget < (1u << 20) ? budget : 1u << 20));
	if (pvm_held_pages(m) > budget)
		return "the initial memory is larger than --max-memory";
	budget -= pvm_held_pages(m);
	pvm_set_page_hook(m, count_pages, &budget);
	int64_t reserve = pvm_gas(m), carry = 0, size = SLICE_FIRST;
	const char *why = NULL;
	for (;;) {
		int64_t slice = reserve < size ? reserve : size;
		reserve -= slice;
		pvm_set_gas(m, carry + slice);
		double t0 = cli_now();
		pvm_exit ex = cli_exec_run(x, m);
		if (ex == PVM_EXIT_ERROR) {
			why = pvm_exit_arg(m) == PVM_E_MEM_BUDGET ? "memory written beyond --max-memory" : "out of host memory";
			break;
		}
		if (ex != PVM_EXIT_OOG || reserve == 0) {
			pvm_set_gas(m, ex == PVM_EXIT_OOG ? 0 : pvm_gas(m) + reserve);
			*out = ex;
			break;
		}
		carry = pvm_gas(m) > 0 ? pvm_gas(m) : 0;
		pvm_set_pc(m, pvm_pc(m));
		double t1 = cli_now();
		if (deadline > 0 && t1 >= deadline) {
			why = "--timeout reached";
			break;
		}
		if (t1 - t0 < SLICE_S && size < SLICE_MAX)
			size *= 2;
	}
	pvm_set_page_hook(m, NULL, NULL);
	return why;
}
