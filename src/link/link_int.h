/* link_int.h: nub link's private context and stage interface, shared by
 * link.c (driver and helpers), link_layout.c (layout, decoding, relocations,
 * block starts, jump table, exports), link_translate.c (RISC-V -> PVM) and
 * link_emit.c (PVM encoder, program blob, standard program). PVM opcodes
 * come from the one instruction table (src/pvm/pvm_opcodes.h, as
 * PVM_OPC_*), memory-layout constants from include/nub/pvm_layout.h.
 * Every stage records the first failure with lk_fail and returns -1.
 */
#ifndef NUB_LINK_INT_H
#define NUB_LINK_INT_H

#include "link/link.h"
#include "nub/pvm_layout.h"
#include "pvm/pvm_insn.h"

/* R_RISCV_* relocation types used here. */
enum {
	R_NONE = 0, R_32 = 1, R_64 = 2, R_RELATIVE = 3, R_BRANCH = 16, R_JAL = 17, R_CALL = 18,
	R_CALL_PLT = 19, R_GOT_HI20 = 20, R_PCREL_HI20 = 23, R_PCREL_LO12_I = 24,
	R_PCREL_LO12_S = 25, R_HI20 = 26, R_LO12_I = 27, R_LO12_S = 28, R_ADD8 = 33, R_ADD16 = 34,
	R_ADD32 = 35, R_ADD64 = 36, R_SUB8 = 37, R_SUB16 = 38, R_SUB32 = 39, R_SUB64 = 40,
	R_ALIGN = 43, R_RVC_BRANCH = 44, R_RVC_JUMP = 45, R_RELAX = 51, R_SUB6 = 52, R_SET6 = 53,
	R_SET8 = 54, R_SET16 = 55, R_SET32 = 56, R_32_PCREL = 57, R_SET_ULEB128 = 60,
	R_SUB_ULEB128 = 61,
};

enum {
	F_TARGET = 1,   /* must start a PVM basic block */
	F_JT = 2,       /* needs a jump-table entry */
	F_HI = 4,       /* auipc with a PCREL_HI20 / GOT_HI20 relocation */
	F_GOT = 8,      /* ... which is GOT_HI20 */
	F_LO = 16,      /* user of an auipc via PCREL_LO12_I/S */
	F_SKIP = 32,    /* consumed by a fused neighbour */
	F_CALLPAIR = 64 /* auipc of an auipc+jalr pair */
};

#define RO_BASE PVM_SPI_RO_ADDR
/* spill slots after the read-write data: temporaries of x0-operand fallbacks,
 * Zba/Zbs corner cases and AMO sequences */
#define LK_SPILL_BYTES 16u
/* constructors: one return point per (export, constructor) in the jump table */
#define LINK_MAX_CTORS 4096
#define EXPORT_REC 48u /* sizeof(struct nub_export_rec), sdk/include/nub_guest.h */

typedef struct {
	uint64_t lo, hi;
} range;

typedef struct {
	link_elf elf;
	char *err;
	size_t cap;
	/* code */
	rv_insn *ins;
	uint64_t *addr;
	uint8_t *flags;
	uint64_t *hi_target; /* per insn (F_HI) */
	const char **hi_sym; /* per insn (F_HI): the relocation's symbol name */
	size_t *lo_of;       /* per insn (F_LO): index of its auipc */
	size_t *pvm_off;     /* per insn, plus one for the end */
	uint32_t *jt_index;  /* per insn (F_JT) */
	size_t nins;
	range code[16];
	size_t ncode;
	/* jump table (code offsets, filled after emission) */
	size_t *jt_ins;
	size_t njt;
	/* data */
	uint32_t ro_len, rw_len, rw_total, rw_base;
	uint8_t *ro, *rw;
	int need_spill;
	uint32_t spill_addr;
	/* exports */
	uint64_t exp_addr[LINK_MAX_EXPORTS];
	char exp_name[LINK_MAX_EXPORTS][32];
	size_t nexp;
	uint32_t stack_size;
	/* static constructors (.preinit_array, then .init_array): run by a stub
	 * per export before the entry (link_translate.c) */
	size_t *ctor;       /* insn index of each constructor */
	size_t nctor;
	size_t jt_ret_base; /* jump-table index of the first constructor return point */
	size_t *ret_off;    /* per (export, constructor): code offset of the return point */
	size_t *stub_off;   /* per export: code offset of its constructor stub */
	/* fixups: emitted instruction -> target insn index */
	size_t *fix_at, *fix_to;
	uint8_t *fix_len; /* offset bytes per fixup, grown until every offset fits */
	size_t nfix, capfix, nfix_len;
	pvm_emit em;
} lk;

/* ---- shared helpers (link.c) --------------------------------------------- */

/* Fill k->err with one line; returns -1 (callers `return lk_fail(...)`). */
int lk_fail(lk *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t lk_rdle(const uint8_t *p, unsigned n);
void lk_wrle(uint8_t *p, uint64_t v, unsigned n);
/* RISC-V x-register -> PVM register, or -1 when PVM has no such register. */
int lk_map_reg(unsigned x);
static inline uint8_t R(unsigned x)
{
	return (uint8_t)lk_map_reg(x);
}
/* a lies in a code section */
int lk_in_code(const lk *k, uint64_t a);
/* Index of the instruction starting at address a, or (size_t)-1. The end of
 * a code section maps to the next instruction (or nins: the final trap). */
size_t lk_find_ins(const lk *k, uint64_t a);
void lk_describe(const lk *k, size_t i, char *buf, size_t cap);
const link_symbol *lk_sym_of(const lk *k, const link_reloc *r);
const char *lk_sym_name(const lk *k, const link_reloc *r);
uint64_t lk_reloc_target(const lk *k, const link_reloc *r);
/* PVM address of instruction i's jump-table entry (assigned by lk_assign_jt) */
static inline uint32_t lk_jt_addr(const lk *k, size_t i)
{
	return (uint32_t)PVM_JT_ADDR(k->jt_index[i]);
}

/* ---- stages, in call order (link_program) -------------------------------- */

/* link_layout.c: sections -> code ranges, read-only and read-write images */
uint64_t lk_zone_up(uint64_t x);
int lk_is_ignored_alloc(const char *name);
int lk_layout(lk *k);
/* link_layout.c: decode every code section (link_riscv.c's rv_decode) */
int lk_decode(lk *k);
/* link_layout.c: .nub_exports / .nub_stack_size */
int lk_read_exports(lk *k);
/* link_layout.c: .preinit_array / .init_array entries (constructors) */
int lk_read_ctors(lk *k);
/* link_layout.c: relocations in code (auipc pairs), block starts and
 * jump-table marks, relocations in data (pass 0 marks, pass 1 rewrites code
 * addresses into jump-table addresses, after emission) */
int lk_code_relocs(lk *k);
int lk_find_targets(lk *k);
int lk_data_relocs(lk *k, int pass);
void lk_assign_jt(lk *k);
/* link_translate.c: RISC-V -> PVM with the fewest jump-offset bytes */
int lk_emit_all(lk *k);
/* link_emit.c: the standard program (GP A.7) */
int lk_write_spi(lk *k, link_result *out);

#endif
