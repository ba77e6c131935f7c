/* program.c: program file loading and format detection for the CLI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program.h"

const char *prog_kind_name(prog_kind k)
{
	switch (k) {
	case PROG_BLOB:
		return "generic program blob";
	case PROG_SPI:
		return "standard program (SPI)";
	case PROG_VECTOR:
		return "JSON test vector";
	}
	return "?";
}

static bool looks_json(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t')
			continue;
		return d[i] == '{';
	}
	return false;
}

/* skip a JAM varint length + that many metadata bytes */
static bool skip_meta(const uint8_t *d, size_t n, size_t *off)
{
	if (n == 0)
		return false;
	unsigned l = 0;
	while (l < 8 && (d[0] & (0x80u >> l)))
		l++;
	if (n < 1 + (size_t)l)
		return false;
	uint64_t v = 0;
	for (unsigned i = 0; i < l; i++)
		v |= (uint64_t)d[1 + i] << (8 * i);
	if (l < 8)
		v |= (uint64_t)(d[0] & (0xFFu >> (l + 1))) << (8 * l);
	if (v > n - 1 - l)
		return false;
	*off = 1 + l + (size_t)v;
	return true;
}

bool prog_load_mem(const uint8_t *data, size_t len, const char *what, const char *format, loaded_prog *lp)
{
	char err[256];
	pvm_err e;
	pvm_spi probe;
	/* a standard program may start with '{' (|o| = 0x..7b): JSON only when
	 * the bytes are not an exactly-sized SPI */
	if (!strcmp(format, "json") ||
	    (!strcmp(format, "auto") && looks_json(data, len) && pvm_spi_parse(data, len, &probe) != PVM_E_OK)) {
		lp->kind = PROG_VECTOR;
		if (!vector_parse((const char *)data, len, &lp->vec, err, sizeof err)) {
			cli_err("%s: %s", what, err);
			return false;
		}
		lp->blob = lp->vec.program;
		lp->blob_len = lp->vec.program_len;
	} else if (!strcmp(format, "spi") || !strcmp(format, "spi-meta")) {
		size_t off = 0;
		if (!strcmp(format, "spi-meta") && !skip_meta(data, len, &off)) {
			cli_err("%s: metadata prefix is truncated", what);
			return false;
		}
		if ((e = pvm_spi_parse(data + off, len - off, &lp->spi)) != PVM_E_OK) {
			cli_err("%s: %s", what, pvm_strerror(e));
			return false;
		}
		lp->kind = PROG_SPI;
		lp->spi_bytes = data + off;
		lp->spi_len = len - off;
		lp->blob = lp->spi.blob;
		lp->blob_len = lp->spi.blob_len;
	} else if (!strcmp(format, "blob")) {
		lp->kind = PROG_BLOB;
		lp->blob = data;
		lp->blob_len = len;
	} else if (!strcmp(format, "auto")) {
		/* SPI if its layout and its inner blob both decode; else the same
		 * after a metadata prefix (how service code is stored on chain);
		 * else a blob */
		size_t off = 0;
		for (int meta = 0; meta < 2; meta++) {
			pvm_program *tmp = NULL;
			if ((meta && (!skip_meta(data, len, &off) || off >= len)) ||
			    pvm_spi_parse(data + off, len - off, &lp->spi) != PVM_E_OK ||
			    pvm_program_new(lp->spi.blob, lp->spi.blob_len, &tmp) != PVM_E_OK)
				continue;
			lp->kind = PROG_SPI;
			lp->spi_bytes = data + off;
			lp->spi_len = len - off;
			lp->blob = lp->spi.blob;
			lp->blob_len = lp->spi.blob_len;
			lp->prog = tmp;
			return true;
		}
		lp->kind = PROG_BLOB;
		lp->blob = data;
		lp->blob_len = len;
	} else {
		cli_err("unknown --format '%s' (auto, blob, spi, spi-meta, json)", format);
		return false;
	}
	if ((e = pvm_program_new(lp->blob, lp->blob_len, &lp->prog)) != PVM_E_OK) {
		if (!strcmp(format, "auto") && lp->kind == PROG_BLOB)
			cli_err("%s: neither a standard program (with or without a metadata prefix) nor a program blob (%s)",
			        what, pvm_strerror(e));
		else
			cli_err("%s: %s", what, pvm_strerror(e));
		return false;
	}
	return true;
}

bool prog_load(const char *path, const char *format, loaded_prog *lp)
{
	memset(lp, 0, sizeof *lp);
	lp->file = cli_read_file(path, &lp->file_len);
	if (!lp->file)
		return false;
	if (!prog_load_mem(lp->file, lp->file_len, path, format, lp)) {
		prog_free(lp);
		return false;
	}
	return true;
}

void prog_free(loaded_prog *lp)
{
	pvm_program_free(lp->prog);
	if (lp->kind == PROG_VECTOR)
		vector_free(&lp->vec);
	free(lp->file);
	memset(lp, 0, sizeof *lp);
}

pvm_instance *prog_instance(const loaded_prog *lp, const uint8_t *args, uint32_t args_len)
{
	pvm_instance *m = NULL;
	pvm_err e;
	if (lp->kind == PROG_VECTOR) {
		e = vector_instance(&lp->vec, lp->prog, &m);
	} else {
		e = pvm_instance_new(lp->prog, &m);
		if (!e && lp->kind == PROG_SPI)
			e = pvm_spi_init(m, &lp->spi, args, args_len);
	}
	if (e) {
		pvm_instance_free(m);
		cli_err("cannot build the initial state: %s", pvm_strerror(e));
		return NULL;
	}
	return m;
}
