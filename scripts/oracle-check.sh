#!/usr/bin/env bash
# oracle-check.sh: run every nub-cc program (bench kernels + the link test
# program) on nub's engine AND on an independent PVM interpreter (anan-as,
# npm @fluffylabs/anan-as, installed into tools/oracle/) and compare exit
# status, pc, gas left and all 13 registers — at full gas and with a small
# gas budget (a mid-run out-of-gas snapshot). A linker bug cannot hide
# behind a matching engine bug this way.
#   scripts/oracle-check.sh [--quick]  (B=build by default; --quick: -O2 only,
#                                      full gas only — what tests/ runs)
# Prints one line per comparison and a final "RESULT passed=N failed=N skipped=N".
set -u
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = --quick ] && quick=1
B=${B:-build}
NUB=$B/nub
pass=0 fail=0 skip=0
finish() { echo "RESULT passed=$pass failed=$fail skipped=$skip"; [ "$fail" = 0 ]; exit $?; }
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "SKIP oracle-check: node/npm not installed"; skip=1; finish
fi
if ! command -v clang-19 >/dev/null 2>&1; then
	echo "SKIP oracle-check: clang-19 not installed (scripts/deps.sh --riscv)"; skip=1; finish
fi
[ -x "$NUB" ] || { echo "FAIL oracle-check: $NUB not built"; fail=1; finish; }
ANAN=tools/oracle/node_modules/@fluffylabs/anan-as/dist/bin/index.js
# installed by scripts/deps.sh --oracle (setup time; nothing is downloaded here)
[ -f "$ANAN" ] || { echo "SKIP oracle-check: @fluffylabs/anan-as not installed (scripts/deps.sh --oracle)"; skip=1; finish; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# status names -> anan-as status numbers (0 halt, 1 panic, 2 fault, 3 host, 4 oog)
status_num() {
	case "$1" in halt) echo 0 ;; panic) echo 1 ;; page-fault) echo 2 ;; host-call) echo 3 ;; out-of-gas) echo 4 ;; *) echo "?$1" ;; esac
}

# compare PROGRAM PC GAS LABEL
compare() {
	local prog=$1 pc=$2 gas=$3 label=$4 nj n a
	nj=$("$NUB" run --json --pc "$pc" --gas "$gas" "$prog" 2>&1) || { echo "FAIL $label: nub run failed: $nj"; fail=$((fail + 1)); return; }
	n=$(python3 - "$nj" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
print(j["status"], j["pc"], j["gas-left"], ",".join(str(r) for r in j["regs"]))
PY
)
	local st=${n%% *}; n="$(status_num "$st") ${n#* }"
	a=$(node "$ANAN" run --spi --no-metadata --no-logs --pc "$pc" --gas "$gas" "$prog" 2>&1 | python3 -c '
import re, sys
t = sys.stdin.read()
g = lambda k: re.search(k + r": *(\S.*)", t).group(1).strip()
regs = g("Registers").strip("[]").replace(" ", "")
print(g("Status"), g("Program counter"), g("Gas remaining"), regs)
' 2>&1)
	if [ "$n" = "$a" ]; then
		echo "ok   $label: $st pc=$(cut -d' ' -f2 <<<"$n") gas-left=$(cut -d' ' -f3 <<<"$n") r7=$(cut -d' ' -f4 <<<"$n" | cut -d, -f8)"
		pass=$((pass + 1))
	else
		echo "FAIL $label"
		echo "    nub:     $n"
		echo "    anan-as: $a"
		fail=$((fail + 1))
	fi
}

engine="src/pvm/pvm_decode.c src/pvm/pvm_spi.c src/pvm/pvm_mem.c src/pvm/pvm_interp.c src/pvm/pvm_disasm.c src/pvm/pvm_util.c"
# name|nub-cc inputs
progs="sieve|bench/programs/sieve.c
blake2b|bench/programs/blake2b.c
keccak|bench/programs/keccak.c
goldilocks|bench/programs/goldilocks.c
polyeval|bench/programs/polyeval.c
sort|bench/programs/sort.c
hostcall|bench/programs/hostcall.c
ed25519|bench/programs/ed25519.c
features|tests/link/features.c
engine-in-pvm|-Isrc tests/link/pvm_in_pvm.c $engine"
while IFS='|' read -r name srcs; do
	opts="-O2 -O3"
	[ "$quick" = 1 ] && opts=-O2
	for opt in $opts; do
		out="$tmp/$name$opt.pvm"
		# shellcheck disable=SC2086
		if ! NUB=$NUB scripts/nub-cc $opt $srcs -o "$out" >"$tmp/cc.log" 2>&1; then
			echo "FAIL $name $opt: build: $(head -3 "$tmp/cc.log")"; fail=$((fail + 1)); continue
		fi
		compare "$out" 0 100000000000 "$name $opt"
		[ "$quick" = 1 ] || compare "$out" 0 5000 "$name $opt (gas 5000)"
		[ "$name" = features ] && compare "$out" 5 100000000000 "$name $opt (entry pc 5)"
	done
done <<<"$progs"
finish
