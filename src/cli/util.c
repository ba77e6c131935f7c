/* util.c: shared CLI helpers: errors, files, strict number parsing, the share folder. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

cli_limits_t cli_limits = {CLI_DEFAULT_TIMEOUT_S, CLI_DEFAULT_MAX_MEMORY, 0, 0};

/* Opened without blocking (a FIFO or a device would block open or read
 * forever) and checked to be a regular file before anything is read. */
uint8_t *cli_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		cli_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cli_err("%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size > NUB_MAX_INPUT) {
		cli_err("%s: larger than %u MiB", path, NUB_MAX_INPUT >> 20);
		close(fd);
		return NULL;
	}
	size_t n = (size_t)st.st_size, got = 0;
	uint8_t *buf = malloc(n + 1);
	if (!buf) {
		cli_err("%s: out of memory (%zu bytes)", path, n + 1);
		close(fd);
		return NULL;
	}
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) { /* error, or the file shrank under us */
			cli_err("%s: read error", path);
			free(buf);
			close(fd);
			return NULL;
		}
		got += (size_t)r;
	}
	buf[n] = 0;
	close(fd);
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

int cli_parse_limit(const char *a, const char *val, int *i, const char *cmd)
{
	uint64_t v;
	if (!strcmp(a, "--timeout")) {
		if (!val || !cli_parse_u64(val, &v) || v > 86400 * 7) {
			cli_err("%s: --timeout '%s' is not a number of seconds up to 604800", cmd, val ? val : "");
			return -1;
		}
		cli_limits.timeout_s = (uint32_t)v;
	} else if (!strcmp(a, "--max-memory")) {
		if (!val || !cli_parse_u64(val, &v) || v < (1u << 20)) {
			cli_err("%s: --max-memory '%s' is not a number of bytes >= 1048576", cmd, val ? val : "");
			return -1;
		}
		cli_limits.max_memory = v;
	} else {
		return 0;
	}
	(*i)++;
	return 1;
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

struct nub_sandbox *cli_open_sandbox(const char *backend, int engine, const char *cmd)
{
	nub_options o;
	nub_options_init(&o);
	o.engine = (nub_engine)engine;
	nub_err e = nub_backend_parse(backend, &o.backend);
	if (e) {
		cli_err("%s: unknown backend '%s' (local, kvm, auto)", cmd, backend);
		return NULL;
	}
	o.timeout_ms = cli_limits.timeout_s ? cli_limits.timeout_s * 1000u : NUB_TIMEOUT_NONE;
	o.memory_bytes = cli_limits.max_memory;
	o.invocation_memory_bytes = cli_limits.max_memory < (1ull << 32) ? cli_limits.max_memory : 1ull << 32;
	o.host_calls = (nub_host_calls_mode)cli_limits.host_calls;
	o.vcpus = cli_limits.vcpus;
	nub_sandbox *sb = NULL;
	if ((e = nub_open(&o, &sb)) != NUB_E_OK) {
		cli_err("%s: cannot open a %s sandbox: %s", cmd, backend, nub_strerror(e));
		return NULL;
	}
	return sb;
}

/* Each item of the share folder and where the source tree keeps it; a
 * candidate folder counts when it holds `probe`. */
static const struct {
	const char *item, *src, *probe;
} share_items[] = {
	{"conformance", "tests/conformance", "pvm"},
};

static bool holds(const char *dir, const char *probe)
{
	char p[PATH_MAX];
	struct stat st;
	int n = snprintf(p, sizeof p, "%s/%s", dir, probe);
	return n > 0 && (size_t)n < sizeof p && stat(p, &st) == 0;
}

/* Append s to the string in list[n], truncating quietly. */
static void append(char *list, size_t n, const char *s)
{
	size_t l = strlen(list), m = strlen(s);
	if (m > n - 1 - l)
		m = n - 1 - l;
	memcpy(list + l, s, m);
	list[l + m] = 0;
}

/* Add "dir (kind)" to the list of places looked at. */
static void looked_at(char *list, size_t n, const char *dir, const char *kind)
{
	if (*list)
		append(list, n, ", ");
	append(list, n, dir);
	append(list, n, kind);
}

bool cli_share_dir(const char *item, const char *cmd, char *out, size_t outlen)
{
	size_t k = 0;
	while (k < sizeof share_items / sizeof *share_items && strcmp(share_items[k].item, item))
		k++;
	if (k == sizeof share_items / sizeof *share_items) {
		cli_err("%s: no share item '%s'", cmd, item);
		return false;
	}
	const char *probe = share_items[k].probe;
	char cand[PATH_MAX], looked[2048] = "";
	int n;
	const char *env = getenv(NUB_SHARE_ENV);
	if (env && *env) {
		/* set: the only place looked at, so a wrong value never falls back */
		n = snprintf(cand, sizeof cand, "%s/%s", env, item);
		if (n > 0 && (size_t)n < sizeof cand && holds(cand, probe))
			goto found;
		cli_err("%s: no %s/%s under $" NUB_SHARE_ENV " (%s)", cmd, item, probe, env);
		return false;
	}
	char exe[PATH_MAX];
	ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (el <= 0) {
		looked_at(looked, sizeof looked, "nowhere else", " (/proc/self/exe unreadable)");
	} else {
		exe[el] = 0;
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = 0; /* the folder of the running binary */
		/* installed: <prefix>/bin/nub and <prefix>/share/nub/<item> */
		n = snprintf(cand, sizeof cand, "%s/../share/nub/%s", exe, item);
		if (n > 0 && (size_t)n < sizeof cand) {
			if (holds(cand, probe))
				goto found;
			looked_at(looked, sizeof looked, cand, " (installed)");
		}
		/* run from its build folder: <root>/build/nub or <root>/build/host/nub-static,
		 * where <root> is a source tree (it holds src/cli/cmd.h) */
		static const char *const ups[] = {"..", "../.."};
		for (size_t u = 0; u < sizeof ups / sizeof *ups; u++) {
			char root[PATH_MAX];
			n = snprintf(root, sizeof root, "%s/%s", exe, ups[u]);
			if (n <= 0 || (size_t)n >= sizeof root || !holds(root, "src/cli/cmd.h"))
				continue;
			n = snprintf(cand, sizeof cand, "%s/%s", root, share_items[k].src);
			if (n > 0 && (size_t)n < sizeof cand) {
				if (holds(cand, probe))
					goto found;
				looked_at(looked, sizeof looked, cand, " (source tree)");
			}
		}
	}
	cli_err("%s: cannot find the %s folder (holding %s); looked in: %s; set " NUB_SHARE_ENV
	        " to a folder holding %s/",
	        cmd, item, probe, looked, item);
	return false;
found:;
	char real[PATH_MAX];
	if (!realpath(cand, real)) {
		cli_err("%s: %s: %s", cmd, cand, strerror(errno));
		return false;
	}
	n = snprintf(out, outlen, "%s", real);
	if (n < 0 || (size_t)n >= outlen) {
		cli_err("%s: %s: path too long", cmd, real);
		return false;
	}
	return true;
}
