/* engine.h: the CLI's engine choice (--engine interp|jit) and one way to run either. */
#ifndef NUB_CLI_ENGINE_H
#define NUB_CLI_ENGINE_H

#include <stdbool.h>

#include "pvm/pvm.h"

typedef enum { CLI_ENGINE_INTERP, CLI_ENGINE_JIT } cli_engine;

/* The default of --engine: the JIT where it is built (x86-64), else the
 * interpreter. */
#ifdef __x86_64__
#define CLI_ENGINE_DEFAULT CLI_ENGINE_JIT
#define CLI_ENGINE_DEFAULT_HELP "jit (default here) or interp"
#else
#define CLI_ENGINE_DEFAULT CLI_ENGINE_INTERP
#define CLI_ENGINE_DEFAULT_HELP "interp (default here; jit: x86-64 only)"
#endif

/* "interp" or "jit"; false (after printing why, prefixed by cmd) otherwise. */
bool cli_parse_engine(const char *s, cli_engine *e, const char *cmd);
const char *cli_engine_name(cli_engine e);
/* The sandbox option for it (nub_options.engine). */
int cli_engine_nub(cli_engine e);

/* A host call answered inside a run (jit_host_fn's contract, src/jit/jit.h):
 * the registers and the gas left, both writable; true resumes after the
 * ecalli, false ends the run there with PVM_EXIT_HOST. */
typedef bool (*cli_host_fn)(void *ctx, uint32_t number, uint64_t regs[PVM_NUM_REGS], uint64_t *gas);

/* A program ready to run on an engine. */
typedef struct {
	cli_engine kind;
	struct jit_code *code; /* jit: compiled once, reused for every run */
	double compile_s;      /* jit: seconds jit_compile took */
	cli_host_fn host;      /* jit: host calls answered inside the run (NULL: each ends it) */
	void *host_ctx;
} cli_exec;

/* Prepare p (jit: compile it). On failure prints a named error (prefixed by
 * cmd) and returns false; x is then empty. */
bool cli_exec_prepare(cli_exec *x, cli_engine kind, const pvm_program *p, const char *cmd);
/* pvm_run on the chosen engine. With x->host set, the JIT answers host
 * calls inside the run (no exit); the interpreter always exits at them. */
pvm_exit cli_exec_run(cli_exec *x, pvm_instance *m);
void cli_exec_release(cli_exec *x);
/* Run m on x's engine to an exit within --max-memory (cli_limits: mapped
 * pages are the engine's page limit, sbrk returns 0 past it; written pages
 * are counted by the page hook) and before deadline (cli_now() seconds, 0 =
 * none; the clock is read between gas slices). NULL when the program
 * reached an exit of its own (*out), else why it was stopped. */
const char *cli_exec_run_limited(cli_exec *x, pvm_instance *m, double deadline, pvm_exit *out);

#endif
