/* link.h: `nub link` — RISC-V RV64E ELF (clang-19, lp64e) -> JAM standard program.
 *
 * Host code (libc). Pipeline, one file per stage (private context and
 * stage interface: link_int.h):
 *   link_elf.c        ELF64 reader: every offset, size and index checked
 *   link_riscv.c      RV64E + M + A + C + Zba + Zbb + Zbs (+ XTheadCondMov)
 *                     decoder
 *   link_layout.c     layout, code decoding, relocations, block starts,
 *                     jump table, exports
 *   link_translate.c  RISC-V -> PVM translation (named opcodes, PVM_OPC_*)
 *   link_emit.c       PVM instruction encoder, program blob + SPI writer
 *   link.c            driver (link_program) and shared helpers
 * Every failure fills a caller buffer with one line naming the problem (and
 * the address and instruction where there is one) and returns -1.
 */
#ifndef NUB_LINK_H
#define NUB_LINK_H

#include <stddef.h>
#include <stdint.h>

#define LINK_ERR_CAP 256

/* ---- ELF reader (link_elf.c) ------------------------------------------- */

typedef struct {
	const char *name;
	uint32_t type;
	uint64_t flags;
	uint64_t addr;
	uint64_t offset;
	uint64_t size;
	uint32_t link;
	uint32_t info;
	uint64_t entsize;
} link_section;

typedef struct {
	const char *name;
	uint64_t value;
	uint64_t size;
	uint8_t info; /* ELF64_ST_TYPE / BIND */
	uint16_t shndx;
} link_symbol;

typedef struct {
	uint64_t offset;  /* r_offset: a virtual address in an executable */
	uint32_t type;    /* R_RISCV_* */
	uint32_t sym;     /* index into syms (checked) */
	int64_t addend;
	uint32_t section; /* index of the section the relocation applies to */
} link_reloc;

typedef struct {
	const uint8_t *buf; /* borrowed: the whole file */
	size_t len;
	uint16_t type;      /* e_type */
	uint16_t machine;
	uint32_t flags;     /* e_flags */
	uint64_t entry;
	link_section *secs;
	size_t nsecs;
	link_symbol *syms;
	size_t nsyms;
	link_reloc *relocs;
	size_t nrelocs;
} link_elf;

#define LINK_EM_RISCV 243
#define LINK_EF_RISCV_RVC 0x1
#define LINK_EF_RISCV_RVE 0x8
#define LINK_SHT_PROGBITS 1
#define LINK_SHT_SYMTAB 2
#define LINK_SHT_STRTAB 3
#define LINK_SHT_RELA 4
#define LINK_SHT_NOBITS 8
#define LINK_SHF_WRITE 0x1
#define LINK_SHF_ALLOC 0x2
#define LINK_SHF_EXECINSTR 0x4

/* Parse an ELF64 little-endian file. Checks class, data, version, header
 * sizes, that every section (except NOBITS), string, symbol and relocation
 * lies inside the buffer and that every index is in range. Machine and flags
 * are NOT checked here (link.c does, with a precise message). The result
 * borrows buf; free with link_elf_free. Returns 0 or -1 with err filled. */
int link_elf_parse(const uint8_t *buf, size_t len, link_elf *out, char *err, size_t cap);
void link_elf_free(link_elf *e);
/* Bytes of section i (NULL for NOBITS / out of range). */
const uint8_t *link_elf_section_data(const link_elf *e, size_t i);

/* ---- RISC-V decoder (link_riscv.c) --------------------------------------- */

#define RV_OPS(X)                                                                  \
	X(ILLEGAL, "illegal") X(UNIMP, "unimp") X(LUI, "lui") X(AUIPC, "auipc")   \
	X(JAL, "jal") X(JALR, "jalr") X(BEQ, "beq") X(BNE, "bne") X(BLT, "blt")   \
	X(BGE, "bge") X(BLTU, "bltu") X(BGEU, "bgeu") X(LB, "lb") X(LH, "lh")     \
	X(LW, "lw") X(LD, "ld") X(LBU, "lbu") X(LHU, "lhu") X(LWU, "lwu")         \
	X(SB, "sb") X(SH, "sh") X(SW, "sw") X(SD, "sd") X(ADDI, "addi")           \
	X(SLTI, "slti") X(SLTIU, "sltiu") X(XORI, "xori") X(ORI, "ori")           \
	X(ANDI, "andi") X(SLLI, "slli") X(SRLI, "srli") X(SRAI, "srai")           \
	X(ADDIW, "addiw") X(SLLIW, "slliw") X(SRLIW, "srliw") X(SRAIW, "sraiw")   \
	X(ADD, "add") X(SUB, "sub") X(SLL, "sll") X(SLT, "slt") X(SLTU, "sltu")   \
	X(XOR, "xor") X(SRL, "srl") X(SRA, "sra") X(OR, "or") X(AND, "and")       \
	X(ADDW, "addw") X(SUBW, "subw") X(SLLW, "sllw") X(SRLW, "srlw")           \
	X(SRAW, "sraw") X(MUL, "mul") X(MULH, "mulh") X(MULHSU, "mulhsu")         \
	X(MULHU, "mulhu") X(DIV, "div") X(DIVU, "divu") X(REM, "rem")             \
	X(REMU, "remu") X(MULW, "mulw") X(DIVW, "divw") X(DIVUW, "divuw")         \
	X(REMW, "remw") X(REMUW, "remuw") X(ANDN, "andn") X(ORN, "orn")           \
	X(XNOR, "xnor") X(CLZ, "clz") X(CLZW, "clzw") X(CTZ, "ctz")               \
	X(CTZW, "ctzw") X(CPOP, "cpop") X(CPOPW, "cpopw") X(MAX, "max")           \
	X(MAXU, "maxu") X(MIN, "min") X(MINU, "minu") X(SEXTB, "sext.b")          \
	X(SEXTH, "sext.h") X(ZEXTH, "zext.h") X(ROL, "rol") X(ROLW, "rolw")       \
	X(ROR, "ror") X(RORW, "rorw") X(RORI, "rori") X(RORIW, "roriw")           \
	X(ORCB, "orc.b") X(REV8, "rev8") X(FENCE, "fence") X(FENCEI, "fence.i")   \
	X(ECALL, "ecall") X(EBREAK, "ebreak") X(CSR, "csr*")                      \
	X(TH_MVEQZ, "th.mveqz") X(TH_MVNEZ, "th.mvnez") X(NUB_ECALLI, "nub.ecalli")     \
	X(SH1ADD, "sh1add") X(SH2ADD, "sh2add") X(SH3ADD, "sh3add") X(ADDUW, "add.uw") \
	X(SH1ADDUW, "sh1add.uw") X(SH2ADDUW, "sh2add.uw") X(SH3ADDUW, "sh3add.uw")    \
	X(SLLIUW, "slli.uw") X(BSET, "bset") X(BCLR, "bclr") X(BINV, "binv")          \
	X(BEXT, "bext") X(BSETI, "bseti") X(BCLRI, "bclri") X(BINVI, "binvi")         \
	X(BEXTI, "bexti") X(LRW, "lr.w") X(LRD, "lr.d") X(SCW, "sc.w") X(SCD, "sc.d") \
	X(AMOSWAPW, "amoswap.w") X(AMOADDW, "amoadd.w") X(AMOXORW, "amoxor.w")        \
	X(AMOANDW, "amoand.w") X(AMOORW, "amoor.w") X(AMOMINW, "amomin.w")            \
	X(AMOMAXW, "amomax.w") X(AMOMINUW, "amominu.w") X(AMOMAXUW, "amomaxu.w")      \
	X(AMOSWAPD, "amoswap.d") X(AMOADDD, "amoadd.d") X(AMOXORD, "amoxor.d")        \
	X(AMOANDD, "amoand.d") X(AMOORD, "amoor.d") X(AMOMIND, "amomin.d")            \
	X(AMOMAXD, "amomax.d") X(AMOMINUD, "amominu.d") X(AMOMAXUD, "amomaxu.d")

typedef enum {
#define RV_OP_ENUM(n, s) RV_##n,
	RV_OPS(RV_OP_ENUM)
#undef RV_OP_ENUM
	RV_OP_MAX_
} rv_op;

typedef struct {
	rv_op op;
	uint8_t rd, rs1, rs2; /* 0..31 (x-register numbers) */
	uint8_t len;          /* 2 or 4 */
	int64_t imm;          /* sign-extended immediate / offset */
	uint32_t raw;         /* the encoding (16 bits for RVC) */
} rv_insn;

/* Marker for host calls, emitted by NUB_HOSTCALL in sdk/include/nub_guest.h:
 * custom-0 I-type, funct3 0, rd = rs1 = x0, imm12 = host call number
 * (0..2047): `.insn i 0x0b, 0, x0, x0, N`. It becomes PVM `ecalli N`. */
#define RV_NUB_ECALLI_OPCODE 0x0b

/* Decode one instruction at p (avail bytes). Returns 0 with *out filled, or
 * -1 when the bytes are truncated or no known instruction (out->raw and
 * out->len then still describe the bytes, for the error message). */
int rv_decode(const uint8_t *p, size_t avail, rv_insn *out);
const char *rv_op_name(rv_op op);
/* "add x10, x11, x12"-style text for error messages. */
void rv_format(const rv_insn *in, char *buf, size_t cap);

/* ---- PVM encoder (link_emit.c) ------------------------------------------ */

typedef struct {
	uint8_t *code;
	uint8_t *starts; /* 1 byte per code byte: 1 = instruction start */
	size_t len, cap;
	uint8_t last_op; /* opcode of the last instruction (terminator check) */
	int have_last;
	size_t ninsn;
} pvm_emit;

int pe_init(pvm_emit *e);
void pe_free(pvm_emit *e);
/* Opcode of the last emitted instruction ends a basic block. */
int pe_last_is_term(const pvm_emit *e);
/* Each returns the code offset of the emitted instruction, or (size_t)-1 on
 * allocation failure (sticky: pe_failed()). */
int pe_failed(const pvm_emit *e);
size_t pe_op(pvm_emit *e, uint8_t op);                         /* no operands */
size_t pe_imm(pvm_emit *e, uint8_t op, uint32_t imm);           /* ecalli */
size_t pe_reg_imm64(pvm_emit *e, uint8_t r, uint64_t imm);      /* load_imm_64 */
size_t pe_off(pvm_emit *e, uint8_t op, unsigned n);             /* jump, n-byte offset */
size_t pe_reg_imm(pvm_emit *e, uint8_t op, uint8_t ra, int64_t imm);
size_t pe_imm2(pvm_emit *e, uint8_t op, int64_t x, int64_t y);
size_t pe_reg_imm2(pvm_emit *e, uint8_t op, uint8_t ra, int64_t x, int64_t y);
size_t pe_reg_imm_off(pvm_emit *e, uint8_t op, uint8_t ra, int64_t imm, unsigned n); /* + n-byte offset */
size_t pe_reg2(pvm_emit *e, uint8_t op, uint8_t rd, uint8_t ra);
size_t pe_reg2_imm(pvm_emit *e, uint8_t op, uint8_t ra, uint8_t rb, int64_t imm);
size_t pe_reg2_off(pvm_emit *e, uint8_t op, uint8_t ra, uint8_t rb, unsigned n); /* + n-byte offset */
size_t pe_reg2_imm2(pvm_emit *e, uint8_t op, uint8_t ra, uint8_t rb, int64_t x, int64_t y);
size_t pe_reg3(pvm_emit *e, uint8_t op, uint8_t rd, uint8_t ra, uint8_t rb);
/* Bytes (1..4) a signed jump offset needs. */
unsigned pe_off_len(int64_t off);
/* Patch the n-byte offset field ending instruction `at` (jump / branch) so it
 * targets code offset `target`. -1 when the offset does not fit n bytes. */
int pe_patch_off(pvm_emit *e, size_t at, size_t target, unsigned n);
/* Offset of the instruction after the one starting at `at`. */
size_t pe_next(const pvm_emit *e, size_t at);

/* Byte buffer for blob / SPI writing. */
typedef struct {
	uint8_t *p;
	size_t len, cap;
	int failed;
} link_buf;
void lb_put(link_buf *b, const void *src, size_t n);
void lb_u8(link_buf *b, uint8_t v);
void lb_le(link_buf *b, uint64_t v, unsigned n);
void lb_varint(link_buf *b, uint64_t v);

/* Program blob (FORMATS.md section 2) from the emitted code + jump table. */
int pe_blob(const pvm_emit *e, const uint32_t *jt, size_t njt, link_buf *out);

/* ---- driver (link.c) ----------------------------------------------------- */

typedef struct {
	uint32_t stack_size; /* 0: take .nub_stack_size or the default */
	int verbose;
} link_options;

typedef struct {
	uint8_t *spi; /* malloc'd standard program */
	size_t spi_len;
	uint32_t code_len;  /* PVM code bytes */
	uint32_t insn_count;
	uint32_t jump_table_len;
	uint32_t rv_insn_count;
	uint32_t ro_len, rw_len, heap_pages, stack_size;
	uint32_t nexports;
	char export_names[64][32];
} link_result;

#define LINK_MAX_EXPORTS 64
#define LINK_DEFAULT_STACK (64u * 1024u)

/* Translate a linked ELF (see sdk/nub.ld) into a JAM standard program.
 * Returns 0, or -1 with a one-line message in err. */
int link_program(const uint8_t *elf, size_t len, const link_options *opt, link_result *out,
		 char *err, size_t cap);
void link_result_free(link_result *r);

#endif
