/* vector.h: JAM PVM test vectors (JSON, tests/conformance/pvm/README.md):
 * loading with full u64 precision, running on the engine, comparing. */
#ifndef NUB_CLI_VECTOR_H
#define NUB_CLI_VECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvm/pvm.h"

typedef struct {
	uint32_t addr, len;
	bool writable;
} vec_region;

typedef struct {
	uint32_t addr;
	uint32_t len;
	uint8_t *data;
} vec_chunk;

typedef struct {
	char *name;
	uint64_t regs[PVM_NUM_REGS];
	uint32_t pc;
	int64_t gas;
	vec_region *pages;
	size_t n_pages;
	vec_chunk *mem;
	size_t n_mem;
	uint8_t *program;
	size_t program_len;
	/* expectations (has_expect is false for a vector without them) */
	bool has_expect;
	int status; /* pvm_exit */
	uint64_t eregs[PVM_NUM_REGS];
	uint32_t epc;
	int64_t egas;
	vec_chunk *emem;
	size_t n_emem;
	bool has_fault;
	uint32_t efault;
	bool has_host;
	uint32_t ehost;
} vector;

/* Parse a vector from JSON text. On error writes a message naming the field
 * into err and returns false (v is then freed). */
/* The largest JSON vector accepted (parsing costs about 37x its size). */
#define VECTOR_MAX_JSON (32u << 20)
bool vector_parse(const char *json, size_t len, vector *v, char *err, size_t errlen);
void vector_free(vector *v);

/* Build an instance holding the vector's initial state. */
pvm_err vector_instance(const vector *v, const pvm_program *p, pvm_instance **out);

/* Compare a finished run with the expectations. Appends one description of
 * each difference to diff (";"-separated) and returns the set of differing
 * fields as VEC_D_* bits (0 = match). */
enum { VEC_D_STATUS = 1, VEC_D_PC = 2, VEC_D_GAS = 4, VEC_D_REGS = 8, VEC_D_MEM = 16, VEC_D_FAULT = 32, VEC_D_HOST = 64 };
unsigned vector_compare(const vector *v, const pvm_instance *m, pvm_exit ex, char *diff, size_t difflen);

/* Append "; " (when diff is not empty) and a formatted note to diff. */
void vector_addf(char *diff, size_t difflen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parse a status name ("halt", "panic", "page-fault", "out-of-gas"/"oog",
 * "host"/"ecalli", legacy "trap"); -1 if unknown. */
int vector_status(const char *s);

#endif
