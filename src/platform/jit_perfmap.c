/* jit_perfmap.c: compiled PVM code named for `perf` (host only).
 *
 * With NUB_JIT_PERFMAP=1 in the environment, every program compiled in
 * this process (jit_perfmap_add, called by the local backend and the CLI
 * after jit_compile) appends one line per straight-line run of its code to
 * /tmp/perf-PID.map, the file perf reads for code it cannot see in an ELF
 * (the "perf map" convention of JITs): `START SIZE pvm:CODE_LEN@PC`, so
 * `perf record` + `perf report` show which PVM instructions the time goes
 * to (PC = the run's first instruction, CODE_LEN = the program's code
 * bytes, to tell programs apart), and `pvm:CODE_LEN:exits` for the cold
 * exit stubs. Freed code is not removed from the file (the format has no
 * way to say so): a later program compiled at the same address shadows it.
 * Off (the default): one getenv, nothing written.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jit/jit.h"
#include "jit/jit_int.h"
#include "pvm/pvm_insn.h"

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static int map_state; /* 0 = not asked yet, 1 = on, -1 = off */
static FILE *map_file;

static bool map_open(void)
{
	if (!map_state) {
		const char *v = getenv("NUB_JIT_PERFMAP");
		map_state = v && strcmp(v, "1") == 0 ? 1 : -1;
		if (map_state > 0) {
			char path[64];
			snprintf(path, sizeof path, "/tmp/perf-%ld.map", (long)getpid());
			map_file = fopen(path, "a");
			if (!map_file) {
				fprintf(stderr, "nub: NUB_JIT_PERFMAP: cannot open %s\n", path);
				map_state = -1;
			}
		}
	}
	return map_state > 0;
}

void jit_perfmap_add(const jit_code *c)
{
	pthread_mutex_lock(&map_lock);
	if (c && map_open()) {
		const pvm_program *p = c->prog;
		uint32_t n = p->n_insns, start = 0, pc = 0;
		bool open = false;
		for (uint32_t i = 0; i < n; i++) {
			/* a run starts at instruction 0 and after every terminator */
			if (i != 0 && !(pvm_op_info[p->insns[i - 1].opi].flags & PVM_F_TERM))
				continue;
			if (open && c->start_off[i] > start)
				fprintf(map_file, "%lx %x pvm:%u@%u\n", (unsigned long)(uintptr_t)(c->code + start),
					c->start_off[i] - start, p->code_len, pc);
			start = c->start_off[i];
			pc = p->insns[i].pc;
			open = true;
		}
		if (open && c->stubs_off > start)
			fprintf(map_file, "%lx %x pvm:%u@%u\n", (unsigned long)(uintptr_t)(c->code + start),
				c->stubs_off - start, p->code_len, pc);
		if (c->code_len > c->stubs_off)
			fprintf(map_file, "%lx %lx pvm:%u:exits\n", (unsigned long)(uintptr_t)(c->code + c->stubs_off),
				(unsigned long)(c->code_len - c->stubs_off), p->code_len);
		fflush(map_file);
	}
	pthread_mutex_unlock(&map_lock);
}
