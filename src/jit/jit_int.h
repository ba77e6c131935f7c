/* jit_int.h: what the compiler and the run loop share (src/jit only). */
#ifndef NUB_JIT_INT_H
#define NUB_JIT_INT_H

#include "jit.h"

/* The run context: one page just below the window base (PVM address 0), so
 * compiled code reaches it at seg:[off - JIT_CTX_SIZE] (the segment's base
 * is the window's, pvm_plat_jit_segment) and PVM code can never address it
 * (PVM addresses are base + 0 .. base + 2^32 + 7). */
#define JIT_CTX_SIZE 4096
#define JIT_GUARD_SIZE 0x10000u /* after 4 GiB: covers the widest access (8 bytes) */
typedef struct jit_ctx {
	uint64_t regs[PVM_NUM_REGS]; /* saved at every exit, loaded at entry */
	uint64_t gas;                /* the gas counter: r15 while compiled code runs, here
	                              * before entry and after every exit */
	uint64_t host_rsp;           /* host stack pointer at entry: exits restore it */
	uint64_t jt;                 /* native address table of the jump table */
	uint32_t exit_idx;           /* instruction the exit happened at */
	uint32_t exit_reason;        /* jit_reason */
	uint64_t exit_arg;           /* page of a page fault */
} jit_ctx;
_Static_assert(sizeof(jit_ctx) <= JIT_CTX_SIZE, "jit_ctx fits its page");

/* Why compiled code returned (the first five are the pvm_exit values). */
enum {
	JIT_R_HALT = PVM_EXIT_HALT,
	JIT_R_PANIC = PVM_EXIT_PANIC,
	JIT_R_PAGE_FAULT = PVM_EXIT_PAGE_FAULT,
	JIT_R_HOST = PVM_EXIT_HOST,
	JIT_R_ERROR = PVM_EXIT_ERROR,
	JIT_R_NEED_GAS = 6, /* a block at exit_idx cannot be paid for: gas not taken */
	JIT_R_SBRK = 7,     /* sbrk at exit_idx: do it, continue at the next insn */
	JIT_R_HOST_RESUME = 8, /* jit_run only: a host call answered in the run, the next block unpaid */
};

/* The x86 register (encoding order: 0 rax .. 15 r15) of each PVM register
 * in compiled code. */
extern const uint8_t jit_regmap[PVM_NUM_REGS];

struct jit_code {
	const pvm_program *prog;
	uint8_t *code;       /* executable (pvm_plat_code_new) */
	size_t code_len;
	uint32_t *start_off; /* per insn: native offset of its entry (gas check at block starts) */
	uint32_t *body_off;  /* per insn: native offset of its body (after the gas check); ascending */
	uint32_t *entry_off; /* per insn: where a run entered there starts: body_off, except for
	                      * the second of a fused pair (a copy of it compiled alone) */
	uint64_t *jt_native; /* per jump-table entry: native address, 0 = panic */
	uint32_t exit_off;   /* the common exit: reason in eax */
	uint32_t stubs_off;  /* the cold exit stubs start here (after every instruction) */
	/* entry trampoline at offset 0: uint32_t (*)(uint8_t *base, const void *target) */
};

#endif
