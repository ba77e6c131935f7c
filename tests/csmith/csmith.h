/* csmith.h: nub's runtime header for csmith programs (replaces csmith's own
 * csmith.h, which needs a hosted libc and prints its checksum).
 *
 * The same program file is built natively (gcc) and for PVM (scripts/nub-cc)
 * against this header: csmith's `main` becomes csmith_main, every
 * transparent_crc folds its value into a CRC-32 (the checksum csmith prints),
 * and that checksum is the result: printed by the native `main`, left in φ7
 * by the PVM entry point (export 0). The safe-math helpers come from
 * libcsmith-dev (-I/usr/include/csmith, installed by scripts/deps.sh --riscv).
 */
#ifndef NUB_CSMITH_H
#define NUB_CSMITH_H

#include <float.h>
#include <limits.h>
#include <stdint.h>

/* safe_math.h's float helpers (unused: csmith emits no floating point by
 * default) name fabs/fabsf; no libm here */
#define fabs __builtin_fabs
#define fabsf __builtin_fabsf

#define STATIC static
#define UNDEFINED(v) (v)
#define LOG_INDEX
#define LOG_EXEC
#define FUNC_NAME(x) (safe_##x)
#include "safe_math.h"
#undef FUNC_NAME

/* The program prints only when asked to (argv[1] == "1"); it never is. */
static inline int csmith_printf(const char *fmt, ...)
{
	(void)fmt;
	return 0;
}
#define printf csmith_printf

static inline int csmith_strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}
#define strcmp csmith_strcmp

static uint32_t crc32_tab[256];
static uint32_t crc32_context = 0xFFFFFFFFu;
static uint64_t csmith_checksum;

static void crc32_gentab(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int j = 0; j < 8; j++)
			c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
		crc32_tab[i] = c;
	}
}

static void crc32_byte(uint8_t b)
{
	crc32_context = (crc32_context >> 8) ^ crc32_tab[(crc32_context ^ b) & 0xFF];
}

static void transparent_crc(uint64_t val, const char *vname, int flag)
{
	(void)vname, (void)flag;
	for (int i = 0; i < 8; i++)
		crc32_byte((uint8_t)(val >> (8 * i)));
}

static void transparent_crc_bytes(const void *ptr, int nbytes, const char *vname, int flag)
{
	(void)vname, (void)flag;
	for (int i = 0; i < nbytes; i++)
		crc32_byte(((const uint8_t *)ptr)[i]);
}

static void platform_main_begin(void)
{
}

static void platform_main_end(uint32_t crc, int flag)
{
	(void)flag;
	csmith_checksum = crc;
}

int csmith_main(int argc, char *argv[]);

#if defined(__riscv)
#include "nub_guest.h"
static uint64_t csmith_entry(void)
{
	static char name[] = "csmith";
	char *argv[] = {name, 0};
	csmith_main(1, argv);
	return csmith_checksum;
}
NUB_EXPORT(0, csmith_entry);
NUB_STACK_SIZE(1024 * 1024);
#else
int puts(const char *s);
int main(void)
{
	static char name[] = "csmith";
	char *argv[] = {name, 0};
	char buf[24];
	int n = 0;
	csmith_main(1, argv);
	uint64_t v = csmith_checksum;
	char tmp[24];
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (int i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = 0;
	return puts(buf) < 0;
}
#endif
#define main csmith_main

#endif
