/* util.c: shared CLI helpers: errors, files, strict number parsing. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd.h"
#include "nub/nub.h"

int cli_err(const char *fmt, ...)
{
	va_list ap;
	fputs("nub: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

uint8_t *cli_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cli_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		cli_err("%s: not a regular file", path);
		fclose(f);
		return NULL;
	}
	if ((uint64_t)st.st_size > NUB_MAX_INPUT) {
		cli_err("%s: larger than %u MiB", path, NUB_MAX_INPUT >> 20);
		fclose(f);
		return NULL;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n + 1);
	if (!buf) {
		cli_err("%s: out of memory", path);
		fclose(f);
		return NULL;
	}
	if (fread(buf, 1, n, f) != n) {
		cli_err("%s: read error", path);
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = 0;
	fclose(f);
	*len = n;
	return buf;
}

bool cli_parse_u64(const char *s, uint64_t *v)
{
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	int base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!*s)
			return false;
	}
	errno = 0;
	char *end;
	unsigned long long x = strtoull(s, &end, base);
	if (errno || *end || end == s)
		return false;
	*v = x;
	return true;
}

bool cli_parse_u32(const char *s, uint32_t *v)
{
	uint64_t x;
	if (!cli_parse_u64(s, &x) || x > UINT32_MAX)
		return false;
	*v = (uint32_t)x;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint8_t *cli_parse_hex(const char *s, size_t *len)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	size_t n = strlen(s);
	if (n % 2)
		return NULL;
	uint8_t *b = malloc(n / 2 + 1);
	if (!b)
		return NULL;
	for (size_t i = 0; i < n / 2; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
		if (h < 0 || l < 0) {
			free(b);
			return NULL;
		}
		b[i] = (uint8_t)(h << 4 | l);
	}
	*len = n / 2;
	return b;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct nub_sandbox *cli_open_sandbox(const char *backend, const char *cmd)
{
	nub_options o;
	nub_options_init(&o);
	nub_err e = nub_backend_parse(backend, &o.backend);
	if (e) {
		cli_err("%s: unknown backend '%s' (local, kvm, auto)", cmd, backend);
		return NULL;
	}
	nub_sandbox *sb = NULL;
	if ((e = nub_open(&o, &sb)) != NUB_E_OK) {
		cli_err("%s: cannot open a %s sandbox: %s", cmd, backend, nub_strerror(e));
		return NULL;
	}
	return sb;
}
