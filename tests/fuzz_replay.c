/* fuzz_replay.c: replays committed fuzzer findings (tests/regress/TARGET-*)
 * through a fuzz target without libFuzzer, as a regression test. Built once
 * per target with -DFUZZ_TARGET="name". Each input must return normally,
 * within 10 seconds (libFuzzer's timeout), and the process must stay under
 * 1 GiB of resident memory. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	test_cur_failed = test_cur_skipped = 0;
	if (!f) {
		printf("    cannot open %s\n", path);
		test_failed++;
		return;
	}
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees overreads */
	memcpy(copy, buf, n);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	LLVMFuzzerTestOneInput(copy, n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(copy);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	if (secs > 10) {
		printf("FAIL %s: took %.1f s\n", path, secs);
		test_failed++;
		return;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	if (ru.ru_maxrss > (1L << 20)) { /* KiB */
		printf("FAIL %s: resident memory reached %ld MiB\n", path, ru.ru_maxrss >> 10);
		test_failed++;
	} else {
		printf("ok   %s\n", path);
		test_passed++;
	}
}

int main(void)
{
	const char *dir = "tests/regress"; /* run from the source root, as tests/run.sh does */
	const char *prefix = FUZZ_TARGET "-";
	DIR *d = opendir(dir);
	if (!d) {
		printf("FAIL cannot open %s\n", dir);
		test_failed++;
		return test_done();
	}
	struct dirent *de;
	char path[1024];
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix))) {
			snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
			replay(path);
		}
	closedir(d);
	return test_done();
}
