#!/usr/bin/env bash
# tests/cli_test.sh: the nub CLI on good and bad input. Bad input of any kind
# must give exit status 2 and one line on stderr starting "nub: ", never a
# crash (signal) or a hang.
set -u
cd "$(dirname "$0")/.."
NUB=${B:-build}/nub
V=tests/conformance/pvm/vectors
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# expect_err NAME ARGS...: exit 2, exactly one stderr line "nub: ..."
expect_err() {
	local name=$1; shift
	timeout 20 "$NUB" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	local lines; lines=$(wc -l <"$tmp/err")
	if [ $rc -ne 2 ]; then bad "$name" "exit $rc, expected 2 ($(head -c 200 "$tmp/err"))"
	elif [ "$lines" -ne 1 ] || ! grep -q '^nub: ' "$tmp/err"; then bad "$name" "stderr: $(head -c 300 "$tmp/err")"
	else ok "$name"; fi
}

# expect_ok NAME PATTERN ARGS...: exit 0 and stdout matches PATTERN
expect_ok() {
	local name=$1 pat=$2; shift 2
	timeout 60 "$NUB" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ $rc -ne 0 ]; then bad "$name" "exit $rc ($(head -c 200 "$tmp/err"))"
	elif ! grep -qE -- "$pat" "$tmp/out"; then bad "$name" "output lacks /$pat/: $(head -c 300 "$tmp/out")"
	else ok "$name"; fi
}

# --- help on every subcommand
for c in run disasm conformance bench demo; do
	expect_ok "help_$c" "usage: nub $c" "$c" --help
done
expect_ok help_top "usage: nub COMMAND" --help

# --- good runs
expect_ok run_vector '^exit: +panic' run $V/inst_add_32.json
expect_ok run_vector_json '"status":"panic","pc":3,"gas-used":2,"gas-left":9998,"regs":\[0,0,0,0,0,0,0,1,2,3,0,0,0\]' run --json $V/inst_add_32.json
expect_ok run_fault '"page-fault-address":135168' run --json $V/inst_store_indirect_u8_with_offset_nok.json
printf '\x00\x00\x02\x0a\x07\x01' >"$tmp/ecalli.blob"
expect_ok run_host_call '"status":"host-call","pc":0,"gas-used":1,.*"host-call":7' run --json --gas 5 "$tmp/ecalli.blob"
expect_ok run_oog '"status":"out-of-gas","pc":0,"gas-used":0,"gas-left":0' run --json --gas 0 "$tmp/ecalli.blob"
# --host-calls ignore resumes, in-process and in a local sandbox alike; a
# JIP-1 log (ecalli 100) is printed and answered (r7 = WHAT) in either mode
printf '\x00\x00\x04\x0a\x07\x32\x00\x05' >"$tmp/e7.blob"   # ecalli 7; jump_ind r0
printf '\x00\x00\x04\x0a\x64\x32\x00\x05' >"$tmp/log.blob"  # ecalli 100; jump_ind r0
expect_ok run_host_calls_ignore '"status":"halt","pc":2,"gas-used":2' run --json --host-calls ignore --reg 0=0xFFFF0000 "$tmp/e7.blob"
expect_ok run_host_calls_ignore_local '"status":"halt","exit-arg":0,"return-value":0,"gas-used":2' run --json --backend local --host-calls ignore --reg 0=0xFFFF0000 "$tmp/e7.blob"
expect_ok run_host_calls_stop_local '"status":"host-call","exit-arg":7' run --json --backend local --reg 0=0xFFFF0000 "$tmp/e7.blob"
expect_ok run_jip1_log '"status":"halt",.*"regs":\[4294901760,0,0,0,0,0,0,18446744073709551614,' run --json --reg 0=0xFFFF0000 "$tmp/log.blob"
expect_ok run_jip1_log_local '"status":"halt","exit-arg":0,"return-value":18446744073709551614' run --json --backend local --reg 0=0xFFFF0000 "$tmp/log.blob"
grep -q '^nub: log FATAL' "$tmp/err" && ok run_jip1_log_printed || bad run_jip1_log_printed "stderr: $(head -c 200 "$tmp/err")"
expect_err run_host_calls_bad run --host-calls maybe "$tmp/e7.blob"
expect_ok run_regs '"regs":\[1,2,3,4,5,6,7,8,9,10,11,12,13\]' run --json --gas 0 --regs 1,2,3,4,5,6,7,8,9,10,11,12,13 "$tmp/ecalli.blob"
expect_ok run_reg '"regs":\[0,0,0,0,0,0,0,0,0,0,0,0,18446744073709551615\]' run --json --gas 0 --reg 12=0xffffffffffffffff "$tmp/ecalli.blob"
# SPI: ro "AB", rw "C", stack 100, code: ecalli 1; args are readable at r7
printf '\x02\x00\x00\x01\x00\x00\x00\x00\x64\x00\x00ABC\x06\x00\x00\x00\x00\x00\x02\x0a\x01\x01' >"$tmp/prog.spi"
expect_ok run_spi '"status":"host-call",.*"regs":\[4294901760,4278059008,0,0,0,0,0,4278124544,3,0,0,0,0\],"host-call":1' run --json --arg 78797a "$tmp/prog.spi"
expect_ok run_spi_text 'standard program \(SPI\)' run "$tmp/prog.spi"
# the metadata-prefixed form (service code as stored on chain) is recognised without --format
{ printf '\x05nub:x'; cat "$tmp/prog.spi"; } >"$tmp/prog.meta"
expect_ok run_spi_meta_auto '"status":"host-call",.*"host-call":1' run --json --arg 78797a "$tmp/prog.meta"
expect_ok disasm_spi_meta_auto 'ecalli' disasm "$tmp/prog.meta"
expect_ok disasm_vector 'add_32 r9, r7, r8' disasm $V/inst_add_32.json
expect_ok disasm_jt 'jump table \[0\] \(address 2\) -> @6' disasm $V/inst_jump_indirect_without_offset_ok.json
expect_ok conformance_one '^1 passed, 0 failed$' conformance $V/inst_add_32.json
expect_ok bench_spi 'ecalli.blob +2 instr' bench --runs 1 "$tmp/ecalli.blob"
expect_ok bench_sandbox 'INVOKE_CACHED \(trivial program\) +[0-9.]+ us' bench sandbox --backend local --runs 1
expect_ok bench_lanes_json '^\{"backend": "local", "throughput_1_lane": [0-9.]+, "throughput_2_lanes": [0-9.]+, "speedup": [0-9.]+, "p50_us": [0-9.]+, "p99_us": [0-9.]+, "exits_per_invoke": 0, ' bench lanes --json --runs 1
expect_ok demo 'fib\(50\) = 12586269025' demo
expect_ok demo_local 'sandbox: local backend' demo --backend local 20
# through caps on the local backend
expect_ok run_caps_vector 'backend: local' run --backend local $V/inst_add_32.json
expect_ok run_caps_json '"backend":"local","status":"panic","exit-arg":0,"return-value":1,"gas-used":2,"gas-left":9998' run --json --backend local $V/inst_add_32.json
expect_ok run_caps_fault '"status":"page-fault","exit-arg":135168' run --json --backend local $V/inst_store_indirect_u8_with_offset_nok.json
expect_ok run_caps_spi '"status":"host-call","exit-arg":1,"return-value":4278124544' run --json --backend local --arg 78797a "$tmp/prog.spi"
expect_ok run_caps_blob '"status":"host-call","exit-arg":7,"return-value":0,"gas-used":1' run --json --backend local --gas 5 "$tmp/ecalli.blob"
expect_ok conformance_caps '^553 passed, 0 failed$' conformance --backend local
# both in-process engines (jit: x86-64 only)
for e in interp $([ "$(uname -m)" = x86_64 ] && echo jit); do
	expect_ok run_engine_$e '"status":"panic","pc":3,"gas-used":2,"gas-left":9998,"regs":\[0,0,0,0,0,0,0,1,2,3,0,0,0\]' run --engine $e --json $V/inst_add_32.json
	expect_ok run_engine_${e}_fault '"page-fault-address":135168' run --engine $e --json $V/inst_store_indirect_u8_with_offset_nok.json
	expect_ok run_engine_${e}_host '"status":"host-call","pc":0,"gas-used":1,.*"host-call":7' run --engine $e --json --gas 5 "$tmp/ecalli.blob"
	expect_ok run_engine_${e}_oog '"status":"out-of-gas","pc":0,"gas-used":0,"gas-left":0' run --engine $e --json --gas 0 "$tmp/ecalli.blob"
	expect_ok conformance_engine_$e '^1 passed, 0 failed$' conformance --engine $e $V/inst_add_32.json
	expect_ok bench_engine_$e "engine: $([ $e = jit ] && echo jit || echo interpreter);" bench --engine $e --runs 1 "$tmp/ecalli.blob"
done
[ "$(uname -m)" = x86_64 ] && expect_ok disasm_jit '; x86:' disasm --jit $V/inst_add_32.json
# NUB_JIT_PERFMAP=1: /tmp/perf-PID.map names one range per straight-line
# run, at the pcs `nub disasm` marks as block starts (docs/jit.md)
if [ "$(uname -m)" = x86_64 ]; then
	pm=$V/riscv_rv64ua_amoadd_d.json
	NUB_JIT_PERFMAP=1 "$NUB" run --engine jit "$pm" >/dev/null 2>&1 &
	pid=$!; wait $pid; map=/tmp/perf-$pid.map
	# block starts, and the implicit trap past the code (a run of its own
	# after the last terminator, not marked by disasm)
	want=$( { "$NUB" disasm "$pm" | sed -n 's/^@ *\([0-9]*\):.*/\1/p'
		"$NUB" disasm "$pm" | sed -n 's/^ *\([0-9]*\): trap (end of code)$/\1/p'; } | sort -n | tr '\n' ' ')
	got=$(sed -n 's/^[0-9a-f]* [0-9a-f]* pvm:[0-9]*@\([0-9]*\)$/\1/p' "$map" 2>/dev/null | sort -n | tr '\n' ' ')
	if [ ! -s "$map" ]; then bad jit_perfmap "no $map"
	elif grep -vqE '^[0-9a-f]+ [0-9a-f]+ pvm:[0-9]+(@[0-9]+|:exits)$' "$map"; then bad jit_perfmap "bad line: $(grep -vE '^[0-9a-f]+ [0-9a-f]+ pvm:' "$map" | head -1)"
	elif [ "$got" != "$want" ]; then bad jit_perfmap "runs at [$got], disasm blocks at [$want]"
	else ok jit_perfmap; fi
	rm -f "$map"
	NUB_JIT_PERFMAP=0 "$NUB" run --engine jit "$pm" >/dev/null 2>&1 &
	pid=$!; wait $pid
	if [ -e /tmp/perf-$pid.map ]; then bad jit_perfmap_off "map written without NUB_JIT_PERFMAP=1"; rm -f /tmp/perf-$pid.map; else ok jit_perfmap_off; fi
fi

# --- bad input: files
expect_err missing_file run /nonexistent/file.pvm
expect_err folder_as_program run tests
: >"$tmp/empty"
expect_err empty_file run "$tmp/empty"
printf '\xff\xff\xff\xff\xff' >"$tmp/garbage"
expect_err garbage run "$tmp/garbage"
printf '\x00\x00\x05\x01' >"$tmp/trunc"
expect_err truncated_blob run "$tmp/trunc"
expect_err truncated_blob_disasm disasm "$tmp/trunc"
expect_err blob_as_spi run --format spi "$tmp/ecalli.blob"
expect_err spi_meta_trunc run --format spi-meta "$tmp/empty"
head -c 20 "$tmp/prog.spi" >"$tmp/trunc.spi"
expect_err truncated_spi run --format spi "$tmp/trunc.spi"
# --- bad input: JSON
echo '{"name": "x",' >"$tmp/bad.json"
expect_err json_syntax run "$tmp/bad.json"
echo '[1,2,3]' >"$tmp/arr.json"
expect_err json_not_object run --format json "$tmp/arr.json"
sed 's/"initial-pc": 0/"initial-pc": -1/' $V/inst_add_32.json >"$tmp/neg.json"
expect_err json_negative run "$tmp/neg.json"
sed 's/"initial-pc": 0/"initial-pc": 4294967296/' $V/inst_add_32.json >"$tmp/big.json"
expect_err json_pc_range run "$tmp/big.json"
python3 -c "import json,sys; v=json.load(open('$V/inst_add_32.json')); v['initial-regs']=v['initial-regs'][:12]; json.dump(v,open('$tmp/regs.json','w'))"
expect_err json_12_regs run "$tmp/regs.json"
python3 -c "import json,sys; v=json.load(open('$V/inst_add_32.json')); v['program'][0]=256; json.dump(v,open('$tmp/byte.json','w'))"
expect_err json_byte_range run "$tmp/byte.json"
python3 -c "import json,sys; v=json.load(open('$V/inst_add_32.json')); v['initial-gas']=1.5; json.dump(v,open('$tmp/float.json','w'))"
expect_err json_float run "$tmp/float.json"
python3 -c "import json,sys; v=json.load(open('$V/inst_add_32.json')); v['initial-page-map']=[{'address':4097,'length':4096,'is-writable':True}]; json.dump(v,open('$tmp/align.json','w'))"
expect_err json_unaligned_page run "$tmp/align.json"
python3 -c "import json,sys; v=json.load(open('$V/inst_add_32.json')); v['expected-status']='exploded'; json.dump(v,open('$tmp/status.json','w'))"
expect_err json_bad_status run "$tmp/status.json"
echo '{"a":1} x' >"$tmp/trail.json"
expect_err json_trailing run "$tmp/trail.json"
# --- bad input: arguments
expect_err run_bad_engine run --engine fast $V/inst_add_32.json
expect_err conformance_bad_engine conformance --engine fast
expect_err conformance_no_engine conformance --engine
expect_err bench_bad_engine bench --engine fast "$tmp/ecalli.blob"
expect_err no_command
expect_err unknown_command frobnicate
expect_err run_no_program run
expect_err run_two_programs run "$tmp/ecalli.blob" "$tmp/ecalli.blob"
expect_err run_bad_option run --frob "$tmp/ecalli.blob"
expect_err run_missing_value run "$tmp/ecalli.blob" --gas
expect_err run_bad_gas run --gas 12abc "$tmp/ecalli.blob"
expect_err run_gas_too_big run --gas 9223372036854775808 "$tmp/ecalli.blob"
expect_err run_negative_pc run --pc -1 "$tmp/ecalli.blob"
expect_err run_pc_too_big run --pc 4294967296 "$tmp/ecalli.blob"
expect_err run_bad_regs run --regs 1,2,3 "$tmp/ecalli.blob"
expect_err run_bad_reg_index run --reg 13=1 "$tmp/ecalli.blob"
expect_err run_bad_reg_syntax run --reg 5 "$tmp/ecalli.blob"
expect_err run_bad_hex run --arg 0g "$tmp/prog.spi"
expect_err run_odd_hex run --arg 123 "$tmp/prog.spi"
expect_err run_arg_on_blob run --arg 00 "$tmp/ecalli.blob"
expect_err run_bad_format run --format elf "$tmp/ecalli.blob"
expect_err disasm_no_program disasm
expect_err conformance_missing conformance /nonexistent
expect_err conformance_bad_option conformance --frob
expect_err conformance_bad_devfile conformance --deviations /nonexistent $V/inst_add_32.json
expect_err bench_bad_runs bench --runs 0
expect_err bench_sandbox_bad bench sandbox --frob
expect_err bench_lanes_bad bench lanes --frob
expect_err bench_lanes_bad_backend bench lanes --backend nope
expect_err demo_bad_n demo x
expect_err demo_bad_backend demo --backend vmware
expect_err run_bad_backend run --backend vmware "$tmp/ecalli.blob"
expect_err conformance_bad_backend conformance --backend vmware $V/inst_add_32.json
if [ ! -e /dev/kvm ] || ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
	# no silent fallback: asking for kvm where it is missing (or only
	# paravirtual, KVM_NO_HW_VIRT) is an error
	expect_err run_kvm_missing run --backend kvm "$tmp/ecalli.blob"
	expect_err demo_kvm_missing demo --backend kvm
fi
# a conformance failure is reported, with what differs, and exit 1
sed 's/"expected-gas": 9998/"expected-gas": 9997/' $V/inst_add_32.json >"$tmp/wrong.json"
timeout 20 "$NUB" conformance "$tmp/wrong.json" >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q 'FAIL inst_add_32: gas 9998, expected 9997' "$tmp/out" && grep -q '^0 passed, 1 failed$' "$tmp/out"; then
	ok conformance_reports_failure
else
	bad conformance_reports_failure "rc $rc: $(cat "$tmp/out")"
fi

# memory the program never wrote is still compared (untouched zero pages)
python3 -c "import json; v=json.load(open('$V/inst_add_32.json')); v['initial-page-map']=[{'address':131072,'length':8192,'is-writable':True}]; v['expected-memory']=[{'address':135184,'contents':[5]}]; json.dump(v,open('$tmp/mem.json','w'))"
timeout 20 "$NUB" conformance "$tmp/mem.json" >"$tmp/out" 2>&1
if [ $? -eq 1 ] && grep -q 'memory 0x21010 = 0x00, expected 0x05' "$tmp/out"; then
	ok conformance_untouched_page_compared
else
	bad conformance_untouched_page_compared "$(cat "$tmp/out")"
fi

echo "RESULT passed=$pass failed=$fail skipped=0"
