/* jit.h: the x86-64 JIT's API (engine-internal; freestanding like src/pvm).
 *
 * Call order:
 *   jit_compile(program, &code)     once per decoded program (single pass,
 *                                   linear in code size); the code borrows
 *                                   the program: free it first
 *   jit_vm_new(&vm)                 once per thread or per instance (a 4 GiB
 *                                   + guard reservation, reusable for any
 *                                   number of instances, one run at a time)
 *   jit_run(vm, code, instance)     exactly pvm_run's contract: runs until
 *                                   an exit; after PVM_EXIT_HOST the caller
 *                                   may change registers and memory and call
 *                                   it again (or pvm_run: both engines share
 *                                   the instance state, resume point included)
 *   jit_vm_free / jit_code_free
 *
 * Memory during a run: the instance's software page table stays the record
 * of truth. The vm's window (PVM address a at window + a, PROT_NONE at
 * first) is filled on demand: a fault in compiled code on a page the table
 * allows is filled from the table (read-only first, writable on the first
 * write) and retried; a fault the table does not allow ends the run with
 * the interpreter's exact exit. At the end of each jit_run written pages are
 * copied back into the table and the window is emptied again.
 * A block the remaining gas cannot pay for runs in the interpreter (pvm_run,
 * checked mode), which stops out-of-gas exactly where the interpreter does.
 */
#ifndef NUB_JIT_H
#define NUB_JIT_H

#include "pvm/pvm_insn.h"

#define JIT_ERRORS(X)                                                                 \
	X(OK, "success")                                                              \
	X(NOMEM, "jit: out of memory")                                                \
	X(ENCODE, "jit: an instruction has no encoding (internal error)")             \
	X(CODE_TOO_LARGE, "jit: compiled code would exceed 2 GiB")                    \
	X(CPU, "jit: the host CPU lacks POPCNT")                                      \
	X(PLATFORM, "jit: the platform cannot map executable code or the window")

typedef enum {
#define JIT_ERR_ENUM(name, msg) JIT_E_##name,
	JIT_ERRORS(JIT_ERR_ENUM)
#undef JIT_ERR_ENUM
	JIT_E_MAX_
} jit_err;

const char *jit_strerror(jit_err e);

typedef struct jit_code jit_code;
typedef struct jit_vm jit_vm;

/* Compile a decoded program. Every one of the 139 opcodes is compiled.
 * Optional CPU features (BMI2's mulx) are used when the CPU has them. */
jit_err jit_compile(const pvm_program *p, jit_code **out);
/* The same with flags: JIT_C_NO_BMI2 compiles as for a CPU without BMI2
 * (so tests run both code paths on any machine). */
enum { JIT_C_NO_BMI2 = 1u };
jit_err jit_compile_flags(const pvm_program *p, unsigned flags, jit_code **out);
void jit_code_free(jit_code *c);
/* Bytes of machine code (for statistics). */
size_t jit_code_size(const jit_code *c);
/* The machine code of the instruction at code offset pc (its gas check
 * included, the exit stubs it jumps to not), for reading the output (nub
 * disasm --jit); NULL when pc starts no decoded instruction. */
const uint8_t *jit_code_native(const jit_code *c, uint32_t pc, size_t *len);

jit_err jit_vm_new(jit_vm **out);
void jit_vm_free(jit_vm *vm);

/* Run m (whose program is the one c was compiled from) like pvm_run. */
pvm_exit jit_run(jit_vm *vm, const jit_code *c, pvm_instance *m);

/* Host calls answered inside the run. With a host function set, an ecalli
 * in compiled code does not end jit_run: fn(ctx, number, regs, &gas) is
 * called right there, with the 13 registers (read and write) and the gas
 * left after the ecalli (read and write; at most 2^63-1). It returns true
 * to resume after the ecalli with those registers and gas, false to end the
 * run at the ecalli (PVM_EXIT_HOST, exit_arg = number, exactly as without a
 * host function, registers and gas as fn left them). The window stays
 * filled across the call, so the instance's page table is NOT up to date
 * while fn runs: before reading or writing the instance's memory fn calls
 * jit_host_sync (which copies back what compiled code wrote; once per call
 * is enough), and after writing it calls jit_host_wrote (the window is made
 * to agree with the table before the run goes on). An ecalli the
 * interpreter runs (a block the gas cannot pay for) still ends jit_run with
 * PVM_EXIT_HOST. fn must not run compiled code on this vm (a nested
 * invocation needs another vm). fn NULL: every ecalli ends the run. */
typedef bool (*jit_host_fn)(void *ctx, uint32_t number, uint64_t regs[PVM_NUM_REGS], uint64_t *gas);
void jit_vm_set_host(jit_vm *vm, jit_host_fn fn, void *ctx);
/* Host only (src/platform/jit_perfmap.c): with NUB_JIT_PERFMAP=1, name c's
 * straight-line runs in /tmp/perf-PID.map for perf (docs/jit.md). */
void jit_perfmap_add(const jit_code *c);
/* Inside fn only (else PVM_E_OK and nothing done): the table holds every
 * byte compiled code wrote. A failure (PVM_E_NOMEM, PVM_E_MEM_BUDGET) is
 * returned and also ends the run with PVM_EXIT_ERROR after fn returns. */
pvm_err jit_host_sync(jit_vm *vm);
/* Inside fn only: the table was written; the window follows before the
 * run goes on. */
void jit_host_wrote(jit_vm *vm);

#endif
