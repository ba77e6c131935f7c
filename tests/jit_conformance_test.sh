#!/usr/bin/env bash
# tests/jit_conformance_test.sh: the whole conformance corpus on the JIT
# (`nub conformance --engine jit`): every vector is one test, as for the
# interpreter in tests/run.sh. Skipped where the JIT is not built (non-x86-64).
cd "$(dirname "$0")/.."
B=${B:-build}
if [ "$(uname -m)" != x86_64 ]; then
	echo "SKIP jit_conformance (the JIT is x86-64 only)"
	echo "RESULT passed=0 failed=0 skipped=1"
	exit 0
fi
out=$("$B"/nub conformance --engine jit 2>&1)
echo "$out" | grep -E '^(FAIL|deviation)' | sed 's/^FAIL/FAIL jit:/'
line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
if [ -z "$line" ]; then
	echo "FAIL jit_conformance: no summary (crashed?)"
	echo "RESULT passed=0 failed=1 skipped=0"
	exit 1
fi
p=${line%% passed*}; f=${line#*, }; f=${f%% failed}
echo "RESULT passed=$p failed=$f skipped=0"
