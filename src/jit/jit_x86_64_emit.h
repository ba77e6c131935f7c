/* jit_x86_64_emit.h: the x86-64 encoder: named opcodes, one core emitter.
 *
 * Every byte of compiled code is written by jit_x86_64_emit.c. Opcode
 * constants carry their operand direction in the name: OP_ADD_rm_r is
 * "add r/m, reg" (ModRM.reg is the source), OP_ADD_r_rm is "add reg, r/m".
 * x86_emit() is the one function that lays out prefix / REX / opcode /
 * ModRM / SIB / displacement / immediate; the x86_* helpers on top pick the
 * shortest form of one instruction. Only forms the JIT uses are here.
 *
 * Sticky error: the first failure (buffer growth ran out of memory) is kept
 * in a->error and every later call is a no-op, so the compiler checks once.
 * Freestanding: buffer memory comes from pvm_plat_alloc.
 */
#ifndef NUB_JIT_X86_64_EMIT_H
#define NUB_JIT_X86_64_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Registers in encoding order. */
typedef enum {
	X_RAX, X_RCX, X_RDX, X_RBX, X_RSP, X_RBP, X_RSI, X_RDI,
	X_R8, X_R9, X_R10, X_R11, X_R12, X_R13, X_R14, X_R15,
} x86_reg;
#define X_NOREG 0xFFu

/* Condition codes (the low nibble of Jcc / SETcc / CMOVcc). */
typedef enum {
	X_CC_O = 0, X_CC_NO = 1, X_CC_B = 2, X_CC_AE = 3, X_CC_E = 4, X_CC_NE = 5, X_CC_BE = 6, X_CC_A = 7,
	X_CC_S = 8, X_CC_NS = 9, X_CC_L = 12, X_CC_GE = 13, X_CC_LE = 14, X_CC_G = 15,
} x86_cc;

/* Operand size of one instruction. */
typedef enum { X_W8 = 1, X_W16 = 2, X_W32 = 4, X_W64 = 8 } x86_width;
/* Or-ed into the width given to x86_emit: a register operand is a byte
 * register (spl/bpl/sil/dil need a REX prefix). */
#define X_BYTEREGS 0x100u

/* Opcodes. One or two bytes (0x0F escape in the high byte); a /digit in
 * ModRM.reg is given separately (the X_EXT_* constants). */
enum {
	OP_ADD_rm_r = 0x01, OP_ADD_r_rm = 0x03,
	OP_OR_rm_r = 0x09, OP_OR_r_rm = 0x0B,
	OP_AND_rm_r = 0x21, OP_AND_r_rm = 0x23,
	OP_SBB_r_rm = 0x1B,
	OP_SUB_rm_r = 0x29, OP_SUB_r_rm = 0x2B,
	OP_XOR_rm_r = 0x31, OP_XOR_r_rm = 0x33,
	OP_CMP_rm_r = 0x39, OP_CMP_r_rm = 0x3B,
	OP_MOVSXD_r_rm32 = 0x63,
	OP_IMUL_r_rm_imm32 = 0x69,
	OP_GRP1_rm_imm32 = 0x81, OP_GRP1_rm_imm8 = 0x83, /* /0 add /1 or /2 adc /4 and /5 sub /6 xor /7 cmp */
	OP_TEST_rm_r = 0x85,
	OP_XCHG_rm_r = 0x87,
	OP_MOV8_rm_r = 0x88, OP_MOV_rm_r = 0x89, OP_MOV_r_rm = 0x8B,
	OP_LEA_r_m = 0x8D,
	OP_CQO = 0x99, /* with REX.W; CDQ without */
	OP_MOV_r_imm = 0xB8, /* + register, imm32 (imm64 with REX.W) */
	OP_GRP2_rm_imm8 = 0xC1, OP_GRP2_rm_cl = 0xD3, /* /0 rol /1 ror /4 shl /5 shr /7 sar */
	OP_RET = 0xC3,
	OP_MOV8_rm_imm8 = 0xC6, OP_MOV_rm_imm32 = 0xC7, /* /0 */
	OP_JMP_rel32 = 0xE9,
	OP_GRP3_rm = 0xF7, /* /2 not /3 neg /4 mul /5 imul /6 div /7 idiv */
	OP_GRP5_rm = 0xFF, /* /4 jmp r/m */
	OP_PUSH_r = 0x50, OP_POP_r = 0x58, /* + register */
	OP_UD2 = 0x0F0B,
	OP_CMOVcc_r_rm = 0x0F40, /* + cc */
	OP_Jcc_rel32 = 0x0F80,   /* + cc */
	OP_SETcc_rm8 = 0x0F90,   /* + cc */
	OP_IMUL_r_rm = 0x0FAF,
	OP_MOVZX_r_rm8 = 0x0FB6, OP_MOVZX_r_rm16 = 0x0FB7,
	OP_POPCNT_r_rm = 0xF30FB8, /* F3 (mandatory prefix) 0F B8 */
	OP_BSF_r_rm = 0x0FBC, OP_BSR_r_rm = 0x0FBD,
	OP_MOVSX_r_rm8 = 0x0FBE, OP_MOVSX_r_rm16 = 0x0FBF,
	OP_BSWAP_r = 0x0FC8, /* + register */
};
/* VEX-encoded (BMI2): the opcode byte after the VEX prefix (map 0F38) */
enum { OP_VEX_MULX = 0xF6 /* VEX.LZ.F2.0F38.W1 F6 /r */ };
enum {
	X_EXT_ADD = 0, X_EXT_OR = 1, X_EXT_ADC = 2, X_EXT_AND = 4, X_EXT_SUB = 5, X_EXT_XOR = 6, X_EXT_CMP = 7,
	X_EXT_ROL = 0, X_EXT_ROR = 1, X_EXT_SHL = 4, X_EXT_SHR = 5, X_EXT_SAR = 7,
	X_EXT_NOT = 2, X_EXT_NEG = 3, X_EXT_MUL = 4, X_EXT_IMUL1 = 5, X_EXT_DIV = 6, X_EXT_IDIV = 7,
	X_EXT_JMP = 4,
};

/* Segment override prefixes (the only segments whose base counts in 64-bit
 * mode). */
#define X_SEG_FS 0x64u
#define X_SEG_GS 0x65u

/* An r/m operand: a register, or memory [seg: base + index*scale + disp].
 * No base (X_NOREG, no index): the absolute [disp32] (SIB form). a32: the
 * address-size prefix 0x67, the effective address computed in 32 bits
 * (wrapping mod 2^32, zero-extended) before the segment base is added. */
typedef struct {
	uint8_t is_mem;
	uint8_t reg;   /* register operand, or the base (X_NOREG: none) */
	uint8_t index; /* X_NOREG: none (never X_RSP) */
	uint8_t scale; /* 1, 2, 4, 8 */
	int32_t disp;
	uint8_t seg;   /* 0, X_SEG_FS or X_SEG_GS */
	uint8_t a32;   /* 1: 32-bit address size (0x67) */
} x86_rm;

static inline x86_rm x86_r(x86_reg r)
{
	return (x86_rm){.is_mem = 0, .reg = (uint8_t)r, .index = X_NOREG, .scale = 1, .disp = 0};
}
static inline x86_rm x86_m(x86_reg base, int32_t disp)
{
	return (x86_rm){.is_mem = 1, .reg = (uint8_t)base, .index = X_NOREG, .scale = 1, .disp = disp};
}
/* [seg: e<base> + disp] with 32-bit address size: seg base + ((base + disp) mod 2^32) */
static inline x86_rm x86_seg_m32(unsigned seg, x86_reg base, int32_t disp)
{
	return (x86_rm){.is_mem = 1, .reg = (uint8_t)base, .index = X_NOREG, .scale = 1, .disp = disp,
	                .seg = (uint8_t)seg, .a32 = 1};
}
/* [seg: addr] with 32-bit address size: seg base + addr (zero-extended) */
static inline x86_rm x86_seg_abs32(unsigned seg, uint32_t addr)
{
	return (x86_rm){.is_mem = 1, .reg = X_NOREG, .index = X_NOREG, .scale = 1, .disp = (int32_t)addr,
	                .seg = (uint8_t)seg, .a32 = 1};
}
/* [seg: disp] with 64-bit address size: seg base + disp (sign-extended) */
static inline x86_rm x86_seg_abs(unsigned seg, int32_t disp)
{
	return (x86_rm){.is_mem = 1, .reg = X_NOREG, .index = X_NOREG, .scale = 1, .disp = disp, .seg = (uint8_t)seg};
}
static inline x86_rm x86_mi(x86_reg base, x86_reg index, uint8_t scale, int32_t disp)
{
	return (x86_rm){.is_mem = 1, .reg = (uint8_t)base, .index = (uint8_t)index, .scale = scale, .disp = disp};
}

typedef enum { X_OK = 0, X_E_NOMEM = 1, X_E_RANGE = 2 } x86_err;

/* The code buffer. Zero-initialise, then emit; x86_asm_free releases it. */
typedef struct {
	uint8_t *p;
	size_t len, cap;
	x86_err error;
} x86_asm;

void x86_asm_free(x86_asm *a);
/* Make room for n more bytes at once (no growth while they are emitted);
 * false (and the sticky error) when out of memory. */
bool x86_asm_reserve(x86_asm *a, size_t n);

/* The core emitter: [seg] [67] [66] [F3] [REX] opcode ModRM [SIB] [disp] [imm].
 * reg: ModRM.reg (a register or an X_EXT_* digit); imm_size 0, 1, 2, 4 or 8. */
void x86_emit(x86_asm *a, unsigned w, unsigned opcode, unsigned reg, x86_rm rm, uint64_t imm, unsigned imm_size);
/* Raw little-endian value at a byte position already emitted (patching). */
void x86_patch32(x86_asm *a, size_t at, uint32_t v);

/* ---- helpers (shortest form) ---------------------------------------- */
/* op is one of the X_EXT_ ALU digits: d = d op s */
void x86_alu_rr(x86_asm *a, x86_width w, unsigned ext, x86_reg d, x86_reg s);
void x86_alu_rm(x86_asm *a, x86_width w, unsigned ext, x86_reg d, x86_rm s);     /* d op= r/m */
void x86_alu_mi(x86_asm *a, x86_width w, unsigned ext, x86_rm d, int32_t imm);   /* r/m op= imm */
void x86_mov_rr(x86_asm *a, x86_width w, x86_reg d, x86_reg s);
void x86_mov_imm(x86_asm *a, x86_reg d, uint64_t imm);                           /* 64-bit value */
void x86_load(x86_asm *a, x86_width w, x86_reg d, x86_rm m);                     /* d = [m] (w 32/64) */
void x86_store(x86_asm *a, x86_width w, x86_rm m, x86_reg s);                    /* [m] = s, any width */
void x86_store_imm(x86_asm *a, x86_width w, x86_rm m, int32_t imm);              /* [m] = imm, any width */
void x86_lea(x86_asm *a, x86_width w, x86_reg d, x86_rm m);
void x86_movzx(x86_asm *a, x86_width from, x86_reg d, x86_rm s);                 /* from 8/16 */
void x86_movsx(x86_asm *a, x86_width from, x86_reg d, x86_rm s);                 /* from 8/16/32 to 64 */
void x86_test_rr(x86_asm *a, x86_width w, x86_reg x, x86_reg y);
void x86_shift_imm(x86_asm *a, x86_width w, unsigned ext, x86_reg d, uint8_t n);
void x86_shift_cl(x86_asm *a, x86_width w, unsigned ext, x86_reg d);
void x86_grp3(x86_asm *a, x86_width w, unsigned ext, x86_rm s);                  /* not/neg/mul/imul/div/idiv */
void x86_imul_rr(x86_asm *a, x86_width w, x86_reg d, x86_reg s);
void x86_imul_rri(x86_asm *a, x86_width w, x86_reg d, x86_reg s, int32_t imm);
void x86_op_rr(x86_asm *a, x86_width w, unsigned opcode, x86_reg d, x86_reg s);  /* d = op(d, s): 0F xx r, r/m */
void x86_xchg(x86_asm *a, x86_reg x, x86_reg y);
void x86_setcc(x86_asm *a, x86_cc cc, x86_reg d);                                /* d8 = cc */
void x86_cmovcc(x86_asm *a, x86_width w, x86_cc cc, x86_reg d, x86_rm s);
void x86_bswap(x86_asm *a, x86_reg d);
/* mulx hi, lo, s (BMI2): hi:lo = rdx * s, unsigned, flags untouched; reads
 * rdx and s before writing; hi == lo gets the high half */
void x86_mulx(x86_asm *a, x86_reg hi, x86_reg lo, x86_reg s);
void x86_cqo(x86_asm *a, x86_width w);                                           /* cqo / cdq */
void x86_push(x86_asm *a, x86_reg r);
void x86_pop(x86_asm *a, x86_reg r);
void x86_ret(x86_asm *a);
void x86_ud2(x86_asm *a);
void x86_jmp_r(x86_asm *a, x86_reg r);
/* Branches with a rel32 to fill in later: return the position of the rel32
 * (patch with x86_patch_rel32); target < len known: pass it directly. */
size_t x86_jmp32(x86_asm *a);
size_t x86_jcc32(x86_asm *a, x86_cc cc);
void x86_patch_rel32(x86_asm *a, size_t at, size_t target);
/* Short forward branch: returns the position of the rel8 (x86_patch_rel8
 * at the target: fails with X_E_RANGE when the target is too far). */
size_t x86_jcc8(x86_asm *a, x86_cc cc);
size_t x86_jmp8(x86_asm *a);
void x86_patch_rel8(x86_asm *a, size_t at);

#endif
