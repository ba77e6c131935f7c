/* program.h: load a program file for the CLI: generic blob, SPI or JSON vector. */
#ifndef NUB_CLI_PROGRAM_H
#define NUB_CLI_PROGRAM_H

#include "cmd.h"
#include "vector.h"

typedef struct {
	prog_kind kind;
	uint8_t *file;
	size_t file_len;
	vector vec;         /* PROG_VECTOR */
	pvm_spi spi;        /* PROG_SPI */
	const uint8_t *spi_bytes; /* PROG_SPI: the standard program (after any metadata) */
	size_t spi_len;
	const uint8_t *blob;
	size_t blob_len;
	pvm_program *prog;
} loaded_prog;

/* format: "auto", "blob", "spi", "spi-meta" (SPI behind a ↕metadata prefix),
 * "json". Prints one line naming the problem and returns false on failure. */
bool prog_load(const char *path, const char *format, loaded_prog *lp);
bool prog_load_mem(const uint8_t *data, size_t len, const char *what, const char *format, loaded_prog *lp);
void prog_free(loaded_prog *lp);
const char *prog_kind_name(prog_kind k);
/* A fresh instance in the program's initial state: the vector's state, the
 * SPI layout (with args), or for a blob no memory and all registers 0. */
pvm_instance *prog_instance(const loaded_prog *lp, const uint8_t *args, uint32_t args_len);

#endif
