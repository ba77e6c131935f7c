#!/usr/bin/env bash
# tests/bench_programs_test.sh: `nub bench programs` in tiny mode (n = 1, one
# run) so it cannot rot: every kernel runs on the interpreter, the JIT (reused
# and cold) and natively, and their results agree with the known ones
# (bench/programs/README.md). Not a timed test: no time is checked. Also: a
# native result that differs is reported (exit 1), a missing native build is
# said loudly, a missing PVM build is an error.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
NUB=$B/nub
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

if ! ls "$B"/bench/*.pvm >/dev/null 2>&1 || [ ! -d "$B/bench/native" ]; then
	echo "SKIP bench_programs: no kernels built in $B/bench (make bench-programs needs clang-19)"
	echo "RESULT passed=0 failed=0 skipped=1"
	exit 0
fi

# the table: one row per kernel, every column filled
if timeout 120 "$NUB" bench programs --tiny >"$tmp/out" 2>"$tmp/err"; then
	missing=
	for k in sieve blake2b keccak goldilocks polyeval sort hostcall ed25519; do
		grep -qE "^$k +1 +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+x +[0-9.]+x +[0-9.]+x$" "$tmp/out" || missing="$missing $k"
	done
	if [ -z "$missing" ] && grep -q '^machine: ' "$tmp/out" && grep -q '^load average: ' "$tmp/out" &&
		grep -qE '^geomean +[0-9.]+x +[0-9.]+x +[0-9.]+x' "$tmp/out"; then
		ok tiny_table
	else
		bad tiny_table "rows missing:$missing; $(cat "$tmp/out" "$tmp/err" | head -c 1500)"
	fi
else
	bad tiny_table "exit $? $(cat "$tmp/out" "$tmp/err" | head -c 1500)"
fi

# --json: the results are the known values (README.md), every figure there
if timeout 120 "$NUB" bench programs --tiny --json --no-interp sieve blake2b goldilocks ed25519 >"$tmp/json" 2>"$tmp/err"; then
	if python3 - "$tmp/json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
known = {"sieve": 9592, "blake2b": 16629351077541533169, "goldilocks": 15712680302952204000, "ed25519": 7}
ks = {k["name"]: k for k in d["kernels"]}
assert set(ks) == set(known), ks.keys()
for n, v in known.items():
    k = ks[n]
    assert k["result"] == v, (n, k["result"])
    assert k["instrs"] > 0 and k["code_bytes"] > 0
    for f in ("native_ms", "jit_ms", "cold_ms", "compile_ms", "compile_mb_s", "jit_x", "cold_x"):
        assert isinstance(k[f], (int, float)) and k[f] > 0, (n, f)
    assert k["interp_ms"] is None
assert d["machine"]["cpus"] >= 1 and len(d["machine"]["loadavg"]) == 3 and d["runs"] == 1 and d["tiny"]
assert d["geomean"]["jit_x"] > 0
PY
	then ok tiny_json_known_results; else bad tiny_json_known_results "$(head -c 1500 "$tmp/json")"; fi
else
	bad tiny_json_known_results "exit $? $(head -c 500 "$tmp/err")"
fi

# a native build that disagrees: WRONG RESULT, exit 1
mkdir -p "$tmp/d/native"
cp "$B/bench/sieve.pvm" "$tmp/d/"
printf '#!/bin/sh\necho 9591\nfor i in $(seq "$2"); do echo 0.001; done\n' >"$tmp/d/native/sieve"
chmod +x "$tmp/d/native/sieve"
timeout 60 "$NUB" bench programs --tiny --dir "$tmp/d" sieve >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q 'sieve: WRONG RESULT' "$tmp/err"; then ok wrong_native_result_detected
else bad wrong_native_result_detected "exit $rc: $(cat "$tmp/err")"; fi

# no native build: the other columns, and it says so loudly
rm "$tmp/d/native/sieve"
timeout 60 "$NUB" bench programs --tiny --dir "$tmp/d" sieve >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -q 'NO NATIVE COLUMN' "$tmp/err" && grep -qE '^sieve +1 +- +[0-9.]+ ' "$tmp/out"; then
	ok no_native_said_loudly
else bad no_native_said_loudly "exit $rc: $(cat "$tmp/out" "$tmp/err")"; fi

# no PVM build: a named error
timeout 20 "$NUB" bench programs --tiny --dir "$tmp/d" ed25519 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q 'ed25519.pvm not built' "$tmp/err"; then ok missing_pvm_error
else bad missing_pvm_error "exit $rc: $(cat "$tmp/err")"; fi
timeout 20 "$NUB" bench programs --tiny nosuchkernel >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "no kernel 'nosuchkernel'" "$tmp/err"; then ok unknown_kernel_error
else bad unknown_kernel_error "exit $rc: $(cat "$tmp/err")"; fi

echo "RESULT passed=$pass failed=$fail skipped=0"
