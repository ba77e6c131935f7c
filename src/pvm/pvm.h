/* pvm.h: the PVM engine's internal API (GP 0.7.2, 64-bit).
 *
 * Freestanding: this header and everything in src/pvm/ use only C11
 * freestanding headers and the platform interface of pvm_platform.h, so the
 * same code builds for the host (libnub, the nub CLI) and for the guest kernel.
 *
 * Call order:
 *   pvm_program_new(blob)          decode a generic program blob once
 *   pvm_instance_new(program)      fresh machine: no memory, regs 0, pc 0, gas 0
 *   pvm_mem_map / pvm_mem_write    build the memory (or pvm_spi_init for SPI)
 *   pvm_set_reg / _pc / _gas       set the state
 *   pvm_run                        run until an exit
 *   after PVM_EXIT_HOST the caller may change registers and memory, then call
 *   pvm_run again: it resumes at the instruction after the ecalli (unless
 *   pvm_set_pc was called in between).
 * An instance borrows its program: free the instance before the program.
 * Nothing here is thread-safe; distinct instances may run on distinct threads.
 */
#ifndef NUB_PVM_H
#define NUB_PVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nub/pvm_layout.h" /* Z_P, Z_Z, Z_I, the SPI layout, the halt address */

#define PVM_NUM_REGS 13
#define PVM_MAX_CODE_LEN 0x1000000u  /* 16 MiB of code bytes */
#define PVM_MAX_JUMP_TABLE 0x1000000u

/* How a run ends (values equal the wire ABI's exit_reason). */
typedef enum {
	PVM_EXIT_HALT = 0,
	PVM_EXIT_PANIC = 1,
	PVM_EXIT_OOG = 2,
	PVM_EXIT_PAGE_FAULT = 3,
	PVM_EXIT_HOST = 4,
	/* not a PVM outcome: the engine itself failed (host memory exhausted
	 * while copying a page); pvm_exit_arg() is the pvm_err. Backends report
	 * it as the ABI's 0xFFFFFFFF "kernel refused or failed". */
	PVM_EXIT_ERROR = 5,
} pvm_exit;

/* Page access. */
enum { PVM_ACCESS_NONE = 0, PVM_ACCESS_RO = 1, PVM_ACCESS_RW = 3 };

/* Errors of loading and setup, listed once (name, message). */
#define PVM_ERRORS(X)                                                              \
	X(OK, "success")                                                           \
	X(NOMEM, "out of memory")                                                  \
	X(BLOB_TRUNCATED, "program blob: truncated")                               \
	X(BLOB_VARINT, "program blob: malformed or non-minimal varint")            \
	X(BLOB_JUMP_WIDTH, "program blob: jump table entry width above 4")         \
	X(BLOB_JUMP_TABLE_TOO_LARGE, "program blob: jump table too large")         \
	X(BLOB_CODE_TOO_LARGE, "program blob: code longer than 16 MiB")            \
	X(BLOB_TRAILING, "program blob: trailing bytes after the bitmask")         \
	X(BLOB_BITMASK_PADDING, "program blob: non-zero bitmask padding bits")     \
	X(SPI_TRUNCATED, "standard program: truncated")                            \
	X(SPI_TRAILING, "standard program: trailing bytes after the code blob")    \
	X(SPI_TOO_LARGE, "standard program: memory layout exceeds 2^32")           \
	X(SPI_ARGS_TOO_LARGE, "standard program: arguments longer than 2^24")      \
	X(MEM_ALIGN, "memory: region not page-aligned")                            \
	X(MEM_RANGE, "memory: region wraps past 2^32 or lies below 0x10000")      \
	X(MEM_UNMAPPED, "memory: address not mapped")                              \
	X(BAD_REG, "register index out of range")                                 \
	X(MEM_LIMIT, "memory: the instance's page limit is reached")               \
	X(MEM_BUDGET, "memory: the page budget refused a host page")               \
	X(STOPPED, "program blob: decoding stopped by the caller (its deadline)")

typedef enum {
#define PVM_ERR_ENUM(name, msg) PVM_E_##name,
	PVM_ERRORS(PVM_ERR_ENUM)
#undef PVM_ERR_ENUM
	PVM_E_MAX_
} pvm_err;

const char *pvm_strerror(pvm_err e);
const char *pvm_exit_name(pvm_exit e); /* "halt", "panic", "out-of-gas", "page-fault", "host-call" */

typedef struct pvm_program pvm_program;
typedef struct pvm_instance pvm_instance;

/* ---- programs ---------------------------------------------------------- */

/* Decode a generic (deblob) program blob. Every length is validated; the blob
 * must be consumed exactly. The blob bytes are copied; the caller may free
 * them afterwards. */
pvm_err pvm_program_new(const uint8_t *blob, size_t len, pvm_program **out);
/* The same, asking stop(ctx) about every 64 KiB of code (a deadline): when
 * it answers true, nothing is kept and the answer is PVM_E_STOPPED. */
typedef bool (*pvm_stop_fn)(void *ctx);
pvm_err pvm_program_new_until(const uint8_t *blob, size_t len, pvm_stop_fn stop, void *ctx, pvm_program **out);
void pvm_program_free(pvm_program *p);
uint32_t pvm_program_code_len(const pvm_program *p);
uint32_t pvm_program_jump_table_len(const pvm_program *p);
uint32_t pvm_program_jump_entry(const pvm_program *p, uint32_t i); /* code offset */
/* Number of decoded instructions (including synthetic traps). */
uint32_t pvm_program_insn_count(const pvm_program *p);
/* Host memory a decoded program holds, in bytes; and what pvm_program_new
 * would allocate for this blob, computed from its header and bitmask
 * without decoding (0 when the blob would be refused anyway), so a caller
 * can charge a budget before decoding. */
size_t pvm_program_bytes(const pvm_program *p);
size_t pvm_program_bytes_of_blob(const uint8_t *blob, size_t len);

/* A parsed JAM standard program (GP A.7). Pointers point into the input. */
typedef struct {
	uint32_t ro_len;      /* |o| */
	uint32_t rw_len;      /* |w| */
	uint32_t heap_pages;  /* z */
	uint32_t stack_size;  /* s */
	const uint8_t *ro;
	const uint8_t *rw;
	const uint8_t *blob;  /* generic program blob c */
	uint32_t blob_len;
} pvm_spi;

/* Parse (and validate the layout of) a standard program. */
pvm_err pvm_spi_parse(const uint8_t *p, size_t len, pvm_spi *out);

/* ---- instances --------------------------------------------------------- */

pvm_err pvm_instance_new(const pvm_program *p, pvm_instance **out);
void pvm_instance_free(pvm_instance *m);

/* Map the standard program's memory and registers (GP A.7 Y(p, a)) into a
 * fresh instance: RO data, heap (= sbrk base), stack, arguments; r0, r1, r7,
 * r8 as the GP says; pc 0. spi->ro / spi->rw NULL: the regions are mapped
 * but left zero (a caller that shares published frames in with
 * pvm_mem_share; their addresses are pvm_spi_ro_addr / pvm_spi_rw_addr). */
pvm_err pvm_spi_init(pvm_instance *m, const pvm_spi *spi, const uint8_t *args, uint32_t args_len);
uint32_t pvm_spi_ro_addr(const pvm_spi *spi);
uint32_t pvm_spi_rw_addr(const pvm_spi *spi);

uint64_t pvm_reg(const pvm_instance *m, unsigned i);
void pvm_set_reg(pvm_instance *m, unsigned i, uint64_t v);
uint32_t pvm_pc(const pvm_instance *m);
void pvm_set_pc(pvm_instance *m, uint32_t pc);
int64_t pvm_gas(const pvm_instance *m);
void pvm_set_gas(pvm_instance *m, int64_t gas);
/* Fault address (PAGE_FAULT) or host call number (HOST) of the last exit. */
uint32_t pvm_exit_arg(const pvm_instance *m);
/* sbrk heap pointer (GP: the current top of the heap). */
uint32_t pvm_heap_ptr(const pvm_instance *m);
void pvm_set_heap_ptr(pvm_instance *m, uint32_t heap);

/* ---- page limits --------------------------------------------------------
 * An instance counts the pages it has mapped (pvm_mem_map, pvm_spi_init,
 * sbrk) against its page limit (default: all 2^20 pages). Mapping past the
 * limit fails with PVM_E_MEM_LIMIT and changes nothing; sbrk past it returns
 * 0 exactly as an impossible sbrk does (GP), and the heap stays where it was.
 *
 * Host memory the instance takes for itself (a page it writes, copied from
 * the zero page or a shared frame; a leaf of its page table, 2 pages) is
 * offered to an optional budget hook first: hook(ctx, n) with n > 0 before
 * taking n pages (false: refused; the access ends the run with
 * PVM_EXIT_ERROR, exit arg PVM_E_MEM_BUDGET, or the call fails with that
 * error), and hook(ctx, -n) after giving n back (at pvm_instance_free, all
 * at once). Set both before building the memory. */
typedef bool (*pvm_page_hook)(void *ctx, int64_t pages);
void pvm_set_page_limit(pvm_instance *m, uint32_t max_pages);
void pvm_set_page_hook(pvm_instance *m, pvm_page_hook hook, void *ctx);
/* Pages mapped now; host pages held now (own pages + 2 per leaf). */
uint32_t pvm_mapped_pages(const pvm_instance *m);
uint64_t pvm_held_pages(const pvm_instance *m);

/* Map [addr, addr+len) (page-aligned, len a multiple of 4096, may be 0) with
 * `access`; fresh pages are zero, pages already mapped keep their bytes and
 * take the new access. PVM_ACCESS_NONE unmaps. Pages below 0x10000 refused. */
pvm_err pvm_mem_map(pvm_instance *m, uint32_t addr, uint32_t len, int access);
/* Map the published page `frame` (4096-aligned, never written by anyone,
 * alive as long as the instance) at addr, a page already mapped: it keeps its
 * access, reads see the frame, the first write gives the instance its own
 * copy (copy-on-write), so the frame itself never changes. */
pvm_err pvm_mem_share(pvm_instance *m, uint32_t addr, const void *frame);
/* Host-side copy in / out, ignoring access rights (pages must be mapped). */
pvm_err pvm_mem_write(pvm_instance *m, uint32_t addr, const void *src, uint32_t len);
pvm_err pvm_mem_read(const pvm_instance *m, uint32_t addr, void *dst, uint32_t len);
/* Access of the page containing addr. */
int pvm_mem_access(const pvm_instance *m, uint32_t addr);
/* True when the page containing addr is mapped and still the shared zero
 * page (never written): its bytes are all zero. */
bool pvm_mem_page_untouched(const pvm_instance *m, uint32_t addr);
/* Iterate mapped pages in address order: finds the first mapped page whose
 * address is >= from; false when none. */
bool pvm_mem_next_page(const pvm_instance *m, uint64_t from, uint32_t *page, int *access);

/* The first observable difference between two machines that stopped with
 * ea and eb (status, pc, gas, exit arg, heap pointer, registers, the set of
 * mapped pages with their access, every byte), named; NULL when equal. For
 * cross-checking engines (tests, fuzzers). */
const char *pvm_state_differ(const pvm_instance *a, pvm_exit ea, const pvm_instance *b, pvm_exit eb);

/* Run until halt, panic, out of gas, page fault or host call. pvm_pc() then
 * names the stopping instruction (the vectors' convention). */
pvm_exit pvm_run(pvm_instance *m);

/* ---- disassembly (engine-side formatter, freestanding) ----------------- */

/* Format the instruction starting at code offset pc into buf (NUL-terminated,
 * truncated to cap). Returns the offset of the next instruction. */
uint32_t pvm_disasm(const pvm_program *p, uint32_t pc, char *buf, size_t cap);
/* True when code offset pc starts an instruction (bitmask bit set). */
bool pvm_is_insn_start(const pvm_program *p, uint32_t pc);
/* True when pc is a basic-block start. */
bool pvm_is_block_start(const pvm_program *p, uint32_t pc);

#endif
