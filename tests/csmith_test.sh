#!/usr/bin/env bash
# tests/csmith_test.sh: the CI sample of the csmith differential test
# (scripts/csmith-diff.sh): 50 fixed csmith programs (seeds 1-50), each built
# natively with gcc and to PVM with scripts/nub-cc at -O0, -O1, -O2, -O3 and
# -Os; every PVM run must halt with the native checksum in φ7. Each
# (program, level) is one test; programs that do not finish natively within
# 1 s are skipped and counted (5 skips each); a PVM run gets 300 s (the
# sanitizer build is slower). Skips everything, loudly, when
# csmith, libcsmith-dev or clang-19/ld.lld-19 are missing (scripts/deps.sh
# --riscv installs them). CSMITH_SEEDS / CSMITH_JOBS override the sample.
cd "$(dirname "$0")/.."
B=${B:-build}
seeds=${CSMITH_SEEDS:-1-50}
for t in csmith clang-19 ld.lld-19 gcc; do
	if ! command -v $t >/dev/null 2>&1; then
		echo "SKIP csmith differential test: $t not installed (scripts/deps.sh --riscv)"
		echo "RESULT passed=0 failed=0 skipped=250"
		exit 0
	fi
done
if [ ! -f /usr/include/csmith/safe_math.h ]; then
	echo "SKIP csmith differential test: libcsmith-dev not installed (scripts/deps.sh --riscv)"
	echo "RESULT passed=0 failed=0 skipped=250"
	exit 0
fi
out=$(NUB=$B/nub scripts/csmith-diff.sh -j "${CSMITH_JOBS:-2}" --pvm-timeout 300 $seeds 2>&1)
echo "$out" | grep -v '^RESULT' | sed 's/^/    /'
line=$(echo "$out" | grep -E '^RESULT ' | tail -1)
if [ -z "$line" ]; then
	echo "FAIL csmith-diff.sh printed no RESULT"
	echo "RESULT passed=0 failed=1 skipped=0"
	exit 0
fi
sk=$(sed -E 's/.*skipped=([0-9]+).*/\1/' <<<"$line")
[ "$sk" -eq 0 ] || echo "SKIP $((sk / 5)) csmith programs did not finish natively within 1 s ($sk runs skipped)"
echo "$line"
