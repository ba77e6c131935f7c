/* test.h: a tiny unit-test harness.
 *
 *   TEST(name) { ASSERT_EQ(a, b); ... }      define a test
 *   SKIP("why")                              skip the current test, loudly
 *   int main(void) { RUN(name); ...; return test_done(); }
 * Each failing assertion prints the expression, file:line and both values.
 * The last line printed is "RESULT passed=N failed=N skipped=N", which
 * tests/run.sh sums over all test binaries.
 */
#ifndef NUB_TEST_H
#define NUB_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned test_passed, test_failed, test_skipped;
static int test_cur_failed, test_cur_skipped;

#define TEST(name) static void test_##name(void)

#define ASSERT_TRUE(c)                                                                                                 \
	do {                                                                                                           \
		if (!(c)) {                                                                                            \
			printf("    %s:%d: assertion failed: %s\n", __FILE__, __LINE__, #c);                      \
			test_cur_failed = 1;                                                                           \
			return;                                                                                        \
		}                                                                                                      \
	} while (0)

#define ASSERT_EQ(a, b)                                                                                                \
	do {                                                                                                           \
		unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);                         \
		if (a_ != b_) {                                                                                        \
			printf("    %s:%d: %s == %s failed: 0x%llx != 0x%llx (%llu != %llu)\n", __FILE__, __LINE__, #a, \
			       #b, a_, b_, a_, b_);                                                                    \
			test_cur_failed = 1;                                                                           \
			return;                                                                                        \
		}                                                                                                      \
	} while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                                                         \
	do {                                                                                                           \
		if (memcmp((a), (b), (n)) != 0) {                                                                      \
			printf("    %s:%d: memory %s != %s (%zu bytes)\n", __FILE__, __LINE__, #a, #b, (size_t)(n));      \
			test_cur_failed = 1;                                                                           \
			return;                                                                                        \
		}                                                                                                      \
	} while (0)

#define SKIP(why)                                                                                                      \
	do {                                                                                                           \
		printf("    skipped: %s\n", why);                                                                  \
		test_cur_skipped = 1;                                                                                  \
		return;                                                                                                \
	} while (0)

#define RUN(name)                                                                                                      \
	do {                                                                                                           \
		test_cur_failed = test_cur_skipped = 0;                                                                \
		test_##name();                                                                                         \
		if (test_cur_failed) {                                                                                 \
			test_failed++;                                                                                 \
			printf("FAIL %s\n", #name);                                                                    \
		} else if (test_cur_skipped) {                                                                         \
			test_skipped++;                                                                                \
			printf("SKIP %s\n", #name);                                                                    \
		} else {                                                                                               \
			test_passed++;                                                                                 \
			printf("ok   %s\n", #name);                                                                    \
		}                                                                                                      \
	} while (0)

/* A whole file, NUL-terminated, in a malloc'd buffer (NULL when unreadable). */
static inline char *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = NULL;
	long n = -1;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
		b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b) {
		b[n] = 0;
		*len = (size_t)n;
	}
	return b;
}

static inline int test_done(void)
{
	printf("RESULT passed=%u failed=%u skipped=%u\n", test_passed, test_failed, test_skipped);
	return test_failed ? 1 : 0;
}

#endif
