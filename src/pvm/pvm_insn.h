/* pvm_insn.h: the engine's decoded program form (internal to src/pvm and the JIT).
 *
 * A program is decoded once: every instruction start (bitmask bit set) becomes
 * one pvm_insn in code order, followed where needed by a synthetic trap (at
 * the end of the code, and after an instruction whose skip was capped at 24
 * bytes so that the next pc is no instruction start). Operands are resolved:
 * immediates sign-extended, register numbers clamped, static branch targets
 * and jump-table entries turned into instruction indices (PVM_NO_TARGET when
 * the target is not a basic-block start, so taking it panics).
 */
#ifndef NUB_PVM_INSN_H
#define NUB_PVM_INSN_H

#include "pvm.h"

/* Operand layouts (FORMATS.md, "Operand encodings"). */
enum pvm_fmt {
	PVM_FMT_NONE,        /* trap, fallthrough */
	PVM_FMT_IMM,         /* ecalli */
	PVM_FMT_REG_EXTIMM,  /* load_imm_64 */
	PVM_FMT_IMM2,        /* store_imm_* */
	PVM_FMT_OFF,         /* jump */
	PVM_FMT_REG_IMM,     /* jump_ind, load_imm, load_*, store_* */
	PVM_FMT_REG_IMM2,    /* store_imm_ind_* */
	PVM_FMT_REG_IMM_OFF, /* load_imm_jump, branch_*_imm */
	PVM_FMT_REG2,        /* move_reg, sbrk, bit ops, extensions */
	PVM_FMT_REG2_IMM,    /* two registers + immediate */
	PVM_FMT_REG2_OFF,    /* two-register branches */
	PVM_FMT_REG2_IMM2,   /* load_imm_jump_ind */
	PVM_FMT_REG3,        /* three registers */
};

enum { PVM_F_TERM = 1, PVM_F_LOAD = 2, PVM_F_STORE = 4 };

/* Dense instruction index, in table order. */
enum pvm_opi {
#define PVM_OP(name, code, fmt, flags) PVM_I_##name,
#include "pvm_opcodes.h"
#undef PVM_OP
	PVM_I_COUNT
};

/* Opcode numbers, as named constants. */
enum pvm_opcode {
#define PVM_OP(name, code, fmt, flags) PVM_OPC_##name = code,
#include "pvm_opcodes.h"
#undef PVM_OP
};

_Static_assert(PVM_I_COUNT == 139, "GP 0.7.2 defines 139 opcodes");
_Static_assert(PVM_I_trap == 0, "trap must be index 0: invalid opcodes decode to it");
_Static_assert(PVM_OPC_sbrk == 101 && PVM_OPC_load_imm_jump_ind == 180 && PVM_OPC_min_u == 230,
               "GP 0.7.2 numbering (pre-0.8)");
_Static_assert(PVM_OPC_store_imm_u64 - PVM_OPC_store_imm_u8 == 3 && PVM_OPC_load_u64 - PVM_OPC_load_u8 == 6 &&
                   PVM_OPC_store_u64 - PVM_OPC_store_u8 == 3 && PVM_OPC_load_ind_u64 - PVM_OPC_load_ind_u8 == 6,
               "load/store families are contiguous");

struct pvm_op_info {
	const char *name;
	uint8_t code;
	uint8_t fmt;
	uint8_t flags;
};
extern const struct pvm_op_info pvm_op_info[PVM_I_COUNT];
/* opcode byte -> dense index + 1, 0 when the opcode is undefined */
extern const uint8_t pvm_opcode_map[256];

#define PVM_NO_TARGET UINT32_MAX

/* One decoded instruction: 32 bytes (a power of two keeps index <-> pointer
 * conversions to shifts in the interpreter). */
typedef struct pvm_insn {
	uint8_t opi;     /* enum pvm_opi (undefined / unmarked -> trap) */
	uint8_t a, b, d; /* register operands (clamped to 12) */
	uint32_t pc;     /* code offset of the opcode byte */
	uint64_t imm;    /* first immediate (sign-extended), or the 64-bit one */
	uint32_t imm2;   /* second immediate (low 32 bits; sign-extend when used) */
	uint32_t target; /* branch target: insn index, PVM_NO_TARGET if invalid */
	uint32_t seg;    /* instructions from here to the end of the straight-line
	                    run (up to and including the next terminator): the gas
	                    the interpreter charges when it enters here */
	uint32_t reserved;
} pvm_insn;
_Static_assert(sizeof(pvm_insn) == 32, "pvm_insn is 32 bytes");

struct pvm_program {
	uint8_t *code;        /* code_len bytes + PVM_CODE_PAD zero bytes */
	uint8_t *bitmask;     /* ceil(code_len/8) + PVM_CODE_PAD/8 bytes; bits past the code are 1 */
	uint32_t code_len;
	uint32_t jt_len;
	uint32_t *jt_pc;      /* jump table, code offsets */
	uint32_t *jt_idx;     /* jump table, insn index or PVM_NO_TARGET */
	pvm_insn *insns;
	uint32_t n_insns;

	uint8_t *block_start; /* bitmap over code offsets 0..code_len */
	size_t code_alloc, bitmask_alloc, insns_alloc, bs_alloc;
};

#define PVM_CODE_PAD 64u

/* Decode the instruction at pc (any offset, even past the code). Writes the
 * raw operands into *out (target = the target *code offset*) and returns the
 * next pc (pc + 1 + skip(pc)). An unmarked or undefined opcode decodes as
 * trap with no operands. */
uint32_t pvm_decode_one(const pvm_program *p, uint32_t pc, pvm_insn *out);
/* Instruction index of code offset pc, or PVM_NO_TARGET. */
uint32_t pvm_insn_index(const pvm_program *p, uint32_t pc);

static inline bool pvm_bit(const uint8_t *bits, uint32_t i)
{
	return (bits[i >> 3] >> (i & 7)) & 1;
}

#endif
