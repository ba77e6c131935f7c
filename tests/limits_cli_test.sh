#!/usr/bin/env bash
# tests/limits_cli_test.sh: the CLI's side of the resource limits (issue 10):
# a FIFO (or anything not a regular file) is refused before it is read,
# never waited on; `run --timeout` stops an endless program by the clock;
# the limit options reject values out of range by name. Every case is
# bounded (timeout 10 s); a hang is a failure, not a stuck CI.
set -u
cd "$(dirname "$0")/.."
NUB=${B:-build}/nub
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# expect_err NAME PATTERN ARGS...: exit 2 within 10 s, stderr matches PATTERN
expect_err() {
	local name=$1 pat=$2; shift 2
	timeout 10 "$NUB" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ $rc -eq 124 ]; then bad "$name" "hung (killed after 10 s)"
	elif [ $rc -ne 2 ]; then bad "$name" "exit $rc, expected 2 ($(head -c 200 "$tmp/err"))"
	elif ! grep -qE -- "$pat" "$tmp/err"; then bad "$name" "stderr lacks /$pat/: $(head -c 300 "$tmp/err")"
	else ok "$name"; fi
}

mkfifo "$tmp/fifo"
printf '\x00\x00\x02\x28\x00\x01' >"$tmp/forever.bin" # @0 jump @0
mkdir "$tmp/dir" && mkfifo "$tmp/dir/a.json"

expect_err fifo_run 'not a regular file' run "$tmp/fifo"
expect_err fifo_disasm 'not a regular file' disasm "$tmp/fifo"
expect_err fifo_link 'not a regular file' link "$tmp/fifo" -o "$tmp/out.pvm"
expect_err fifo_bench 'not a regular file' bench "$tmp/fifo"
expect_err fifo_arg_file 'not a regular file' run --arg-file "$tmp/fifo" "$tmp/forever.bin"
# conformance reports the bad entry as a failed vector (exit 1) and goes on
timeout 10 "$NUB" conformance "$tmp/dir" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q 'not a regular file' "$tmp/err"; then ok fifo_conformance_dir
else bad fifo_conformance_dir "exit $rc: $(head -c 200 "$tmp/err")"; fi

# an endless program stops at --timeout, in-process and in a sandbox
t0=$(date +%s%N)
expect_err timeout_in_process 'timeout reached' run --timeout 1 --gas 0x7fffffffffffffff "$tmp/forever.bin"
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -lt 3000 ] && ok timeout_in_process_wall || bad timeout_in_process_wall "$(((t1 - t0) / 1000000)) ms"
timeout 10 "$NUB" run --backend local --timeout 1 --gas 0x7fffffffffffffff "$tmp/forever.bin" >"$tmp/out" 2>&1
if grep -q TIMEOUT "$tmp/out" || grep -qi 'timeout\|deadline' "$tmp/out"; then ok timeout_backend_local
else bad timeout_backend_local "$(head -c 300 "$tmp/out")"; fi

# conformance: an endless vector fails at --timeout, the run goes on
printf '{"name":"forever","initial-regs":[0,0,0,0,0,0,0,0,0,0,0,0,0],"initial-pc":0,"initial-page-map":[],"initial-memory":[],"initial-gas":9223372036854775807,"program":[0,0,2,40,0,1],"expected-status":"halt","expected-regs":[0,0,0,0,0,0,0,0,0,0,0,0,0],"expected-pc":0,"expected-memory":[],"expected-gas":0}' >"$tmp/forever.json"
timeout 10 "$NUB" conformance --timeout 1 "$tmp/forever.json" tests/conformance/pvm/vectors/inst_add_32.json >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q 'FAIL forever: stopped: --timeout reached' "$tmp/out" && grep -q '^1 passed, 1 failed$' "$tmp/out"; then
	ok timeout_conformance
else bad timeout_conformance "exit $rc: $(head -c 300 "$tmp/out")"; fi
expect_err conformance_bad_timeout '--timeout' conformance --timeout -1 "$tmp/forever.json"

# bench: the same limits per run
timeout 10 "$NUB" bench --runs 1 --timeout 1 "$tmp/forever.bin" >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q 'stopped: --timeout reached' "$tmp/out"; then ok timeout_bench
else bad timeout_bench "exit $rc: $(head -c 300 "$tmp/out")"; fi
expect_err bench_bad_max_memory '--max-memory' bench --max-memory 12 "$tmp/forever.bin"

# limit values out of range, by name
expect_err timeout_not_number '--timeout' run --timeout x "$tmp/forever.bin"
expect_err timeout_too_large '--timeout' run --timeout 99999999999 "$tmp/forever.bin"
expect_err max_memory_small '--max-memory' run --max-memory 4096 "$tmp/forever.bin"
expect_err max_memory_huge '--max-memory' run --max-memory 18446744073709551616 "$tmp/forever.bin"

# JSON vectors: integers beyond 2^64-1 are refused by field (json-c would
# clamp them), a vector past the size bound is refused before parsing, and
# a JSON null is no vector
V=tests/conformance/pvm/vectors/inst_add_32.json
sed 's/"initial-gas": [0-9]*/"initial-gas": 18446744073709551616/' $V >"$tmp/big_gas.json"
expect_err json_u64_overflow 'field "initial-gas": 18446744073709551616 is beyond 2\^64-1' run "$tmp/big_gas.json"
perl -0pe 's/("initial-regs": \[\s*)0/${1}99999999999999999999999/' $V >"$tmp/big_reg.json"
expect_err json_u64_overflow_reg 'field "initial-regs": 99999999999999999999999 is beyond' run "$tmp/big_reg.json"
{ printf '{"name": "x", "pad": "'; head -c $((33 << 20)) /dev/zero | tr '\0' a; printf '"}'; } >"$tmp/huge.json"
expect_err json_too_large 'larger than the 32 MiB a vector may have' run "$tmp/huge.json"
echo null >"$tmp/null.json"
timeout 10 "$NUB" conformance "$tmp/null.json" >"$tmp/out" 2>&1
if grep -q 'must be a JSON object' "$tmp/out"; then ok json_null; else bad json_null "$(head -c 200 "$tmp/out")"; fi

echo "RESULT passed=$pass failed=$fail skipped=0"
