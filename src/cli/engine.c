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
	if (kind != CLI_ENGINE_JIT)
		return true;
	jit_err e = JIT_E_OK;
	if (!the_vm)
		e = jit_vm_new(&the_vm);
	if (!e) {
		double t0 = cli_now();
		e = jit_compile(p, &x->code);
		x->compile_s = cli_now() - t0;
	}
	if (e) {
		cli_err("%s: %s", cmd, jit_strerror(e));
		return false;
	}
	return true;
}

pvm_exit cli_exec_run(cli_exec *x, pvm_instance *m)
{
	return x->kind == CLI_ENGINE_JIT ? jit_run(the_vm, x->code, m) : pvm_run(m);
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
