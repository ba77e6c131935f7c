/* cmd.h: the nub subcommands and the small helpers they share (host code). */
#ifndef NUB_CLI_CMD_H
#define NUB_CLI_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvm/pvm.h"

/* Each subcommand: argv[0] is the subcommand's name. Returns the exit code:
 * 0 success, 1 a check failed (conformance), 2 bad usage or input. */
int cmd_run(int argc, char **argv);
int cmd_disasm(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_link(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* ---- util.c ---- */
#define NUB_MAX_INPUT (256u << 20) /* largest input file we read */

/* Print "nub: <fmt>" and a newline to stderr; returns 2 (usage/input error). */
int cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Limits of what one command may spend (--timeout SECONDS, --max-memory
 * BYTES): cli_open_sandbox passes them as the sandbox's deadline, memory and
 * invocation memory; in-process runs apply them to the engine. */
typedef struct {
	uint32_t timeout_s;  /* 0 = none */
	uint64_t max_memory; /* bytes, >= 1 MiB */
	int host_calls;      /* nub_options.host_calls of the sandboxes opened (0 = inline) */
	uint32_t vcpus;      /* nub_options.vcpus of the sandboxes opened (0 = default) */
} cli_limits_t;
extern cli_limits_t cli_limits;
#define CLI_DEFAULT_TIMEOUT_S 60u
#define CLI_DEFAULT_MAX_MEMORY (1ull << 30)
#define CLI_LIMITS_HELP                                                                      \
	"  --timeout S     wall-clock limit in seconds, 0 = none (default 60)\n"                \
	"  --max-memory B  memory limit in bytes: pages mapped and written (default 2^30)\n"
/* Parse --timeout / --max-memory at argv[*i] (advancing *i); 1 when taken,
 * 0 when a is another option, -1 after an error message. */
int cli_parse_limit(const char *a, const char *val, int *i, const char *cmd);

/* Read a whole file (NUB_MAX_INPUT at most). On failure prints why, returns NULL. */
uint8_t *cli_read_file(const char *path, size_t *len);
/* Strict number parsing: decimal or 0x-hex, whole string, in range. */
bool cli_parse_u64(const char *s, uint64_t *v);
bool cli_parse_u32(const char *s, uint32_t *v);
/* Parse hex bytes ("0a0b..", optional 0x prefix). Returns malloc'd buffer or NULL. */
uint8_t *cli_parse_hex(const char *s, size_t *len);
/* True if argv has -h/--help. */
bool cli_wants_help(int argc, char **argv);
/* Monotonic time in seconds. */
double cli_now(void);

/* Open a sandbox on the named backend ("local", "kvm", "auto") with the
 * engine `engine` (a nub_engine: 0 default, 1 interp, 2 jit); prints one
 * line naming the problem (prefixed by cmd) and returns NULL on failure. */
struct nub_sandbox;
struct nub_sandbox *cli_open_sandbox(const char *backend, int engine, const char *cmd);

/* The share folder: nub's data outside the binary. Finds the folder of
 * `item` ("conformance": pvm/ and known-deviations.txt), in order:
 *   1. $NUB_SHARE_DIR/<item> when NUB_SHARE_DIR is set (nothing else then);
 *   2. <folder of the running binary>/../share/nub/<item> (installed by
 *      `make install`), found through /proc/self/exe;
 *   3. for a binary run from its build folder (<root>/build/nub), the source
 *      tree's copy (<root>/tests/conformance).
 * No path is compiled in. scripts/nub-cc finds the SDK (share/nub/sdk) in
 * the same order. Writes the canonical folder to out and returns true;
 * otherwise prints one error (prefixed by cmd) naming every place it
 * looked and returns false. Options given by the user (paths,
 * --deviations) come before all of this: callers ask only for what was
 * not given. */
#define NUB_SHARE_ENV "NUB_SHARE_DIR"
bool cli_share_dir(const char *item, const char *cmd, char *out, size_t outlen);

/* A loaded program as the CLI sees it. */
typedef enum { PROG_BLOB, PROG_SPI, PROG_VECTOR } prog_kind;

#endif
