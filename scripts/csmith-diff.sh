#!/usr/bin/env bash
# scripts/csmith-diff.sh: differential test of the C toolchain with csmith.
#   scripts/csmith-diff.sh [options] SEED|FIRST-LAST...
# For each seed: csmith generates a program; gcc builds it natively (the
# reference) and scripts/nub-cc builds it to PVM at every level; nub runs each
# PVM build and its result (φ7) must equal the native checksum. Both builds use
# tests/csmith/csmith.h (csmith's main renamed, its checksum as the result).
# Programs that do not finish natively within --native-timeout are skipped
# and counted. Options:
#   -j N                parallel jobs (default 1)
#   --levels "L..."     optimisation levels (default "-O0 -O1 -O2 -O3 -Os")
#   --native-timeout S  native time bound in seconds (default 1)
#   --pvm-timeout S     PVM run bound in seconds (default 120); a PVM run
#                       that does not halt in time is a failure (timeout)
#   --keep DIR          keep sources, builds and logs of failing programs here
#   --csmith-args "..." extra csmith options
#   --log FILE          also keep the per-run lines (OK/SKIP/LINK/MISMATCH/
#                       TIMEOUT seed level ...) in FILE, written as runs end
# Output: one line per failing (seed, level), then
#   csmith: programs=P native_skipped=S runs=R ok=K link_failures=L mismatches=M pvm_timeouts=T
#   RESULT passed=K failed=L+M+T skipped=S*levels
# Exit status 0 when nothing failed. Needs csmith, libcsmith-dev, clang-19,
# ld.lld-19 (scripts/deps.sh --riscv) and a built nub (NUB, default build/nub).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
export NUB=${NUB:-$here/build/nub}
jobs=1 levels="-O0 -O1 -O2 -O3 -Os" ntime=1 ptime=120 keep= cargs= logf=
seeds=()
while [ $# -gt 0 ]; do
	case "$1" in
	-j) jobs=$2; shift 2 ;;
	--levels) levels=$2; shift 2 ;;
	--native-timeout) ntime=$2; shift 2 ;;
	--pvm-timeout) ptime=$2; shift 2 ;;
	--keep) keep=$2; shift 2 ;;
	--csmith-args) cargs=$2; shift 2 ;;
	--log) logf=$2; shift 2 ;;
	-h|--help) sed -n '2,23p' "$0"; exit 0 ;;
	[0-9]*-[0-9]*) for ((s = ${1%-*}; s <= ${1#*-}; s++)); do seeds+=("$s"); done; shift ;;
	[0-9]*) seeds+=("$1"); shift ;;
	*) echo "csmith-diff: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ ${#seeds[@]} -gt 0 ] || { echo "csmith-diff: no seeds" >&2; exit 2; }
for t in csmith gcc clang-19 ld.lld-19; do
	command -v $t >/dev/null 2>&1 || { echo "csmith-diff: $t not found (scripts/deps.sh --riscv)" >&2; exit 2; }
done
[ -f /usr/include/csmith/safe_math.h ] || { echo "csmith-diff: libcsmith-dev not installed (scripts/deps.sh --riscv)" >&2; exit 2; }
[ -x "$NUB" ] || { echo "csmith-diff: $NUB not built (run make)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export here levels ntime ptime keep cargs work
export NUB_CC_CACHE=$work/sdk-cache

# one seed: prints "SKIP seed" or one "OK|LINK|MISMATCH|TIMEOUT seed level detail" per level
one() {
	local s=$1 d=$work/$1 inc="-I$here/tests/csmith -I/usr/include/csmith" lv nat out r7 st fail=0
	mkdir -p "$d"
	if ! (cd "$d" && csmith --seed "$s" $cargs >p.c 2>csmith.err); then
		echo "LINK $s csmith csmith failed: $(head -c 200 "$d/csmith.err")"
		return
	fi
	if ! gcc -O1 -funsigned-char -w $inc "$d/p.c" -o "$d/native" 2>"$d/native.err"; then
		echo "LINK $s native gcc failed: $(head -c 300 "$d/native.err" | tr '\n' ' ')"
		return
	fi
	nat=$(timeout "$ntime" "$d/native") || { echo "SKIP $s"; rm -rf "$d"; return; }
	for lv in $levels; do
		if ! "$here/scripts/nub-cc" "$lv" -w $inc "$d/p.c" -o "$d/p$lv.pvm" >"$d/cc$lv.err" 2>&1; then
			echo "LINK $s $lv $(grep -m1 -E 'error|nub:' "$d/cc$lv.err" | head -c 300)"
			fail=1
			continue
		fi
		out=$(timeout "$ptime" "$NUB" run --json --gas 9000000000000000000 "$d/p$lv.pvm" 2>&1)
		if [ $? -eq 124 ]; then
			echo "TIMEOUT $s $lv pvm run exceeded ${ptime}s"
			fail=1
			continue
		fi
		st=$(sed -n 's/.*"status":"\([a-z-]*\)".*/\1/p' <<<"$out")
		r7=$(sed -n 's/.*"regs":\[\([0-9]*,\)\{7\}\([0-9]*\).*/\2/p' <<<"$out")
		if [ "$st" = halt ] && [ "$r7" = "$nat" ]; then
			echo "OK $s $lv"
		else
			echo "MISMATCH $s $lv native $nat pvm status ${st:-?} r7 ${r7:-?}${st:+}$([ -n "$st" ] || echo " ($(head -1 <<<"$out" | head -c 200))")"
			fail=1
		fi
	done
	if [ $fail = 1 ] && [ -n "$keep" ]; then
		mkdir -p "$keep/$s" && cp -r "$d"/. "$keep/$s/"
	fi
	rm -rf "$d"
}
export -f one
[ -n "$logf" ] || logf=$work/log
: >"$logf"
printf '%s\n' "${seeds[@]}" | xargs -P "$jobs" -I{} bash -c 'one {}' >>"$logf"
cp "$logf" "$work/log" 2>/dev/null
grep -vE '^(OK|SKIP) ' "$work/log"
nl=$(wc -w <<<"$levels")
progs=${#seeds[@]}
skip=$(grep -c '^SKIP ' "$work/log")
ok=$(grep -c '^OK ' "$work/log")
link=$(grep -c '^LINK ' "$work/log")
mis=$(grep -c '^MISMATCH ' "$work/log")
tmo=$(grep -c '^TIMEOUT ' "$work/log")
echo "csmith: programs=$progs native_skipped=$skip runs=$(((progs - skip) * nl)) ok=$ok link_failures=$link mismatches=$mis pvm_timeouts=$tmo"
echo "RESULT passed=$ok failed=$((link + mis + tmo)) skipped=$((skip * nl))"
[ $((link + mis + tmo)) -eq 0 ]
