#!/usr/bin/env bash
# tests/link_docs_test.sh: every example program in docs/link.md (a ```c block
# whose first line is "/* example: NAME [(flags F...)] (expect r7 = V) */")
# is built with scripts/nub-cc at -O0, -O1, -O2, -O3 and -Os, run with
# `nub run`, and must halt with r7 = V; an example that calls nub_log must
# print a "nub: log" line. Skips (loudly) without clang-19/ld.lld-19.
cd "$(dirname "$0")/.."
B=${B:-build}
passed=0 failed=0 skipped=0
levels="-O0 -O1 -O2 -O3 -Os"
if ! command -v clang-19 >/dev/null 2>&1 || ! command -v ld.lld-19 >/dev/null 2>&1; then
	echo "SKIP docs/link.md examples: clang-19/ld.lld-19 not installed (scripts/deps.sh --riscv)"
	echo "RESULT passed=0 failed=0 skipped=1"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# split the examples into files: $tmp/N.c, header line kept
awk -v dir="$tmp" '
	/^```c$/ { inblock = 1; n++; file = dir "/" n ".c"; first = 1; next }
	/^```$/ { inblock = 0; next }
	inblock { if (first && $0 !~ /^\/\* example: /) { inblock = 0; next } first = 0; print > file }
' docs/link.md
count=0
for f in "$tmp"/*.c; do
	[ -f "$f" ] || continue
	head=$(head -1 "$f")
	name=$(sed -E 's|^/\* example: ([A-Za-z0-9_-]+).*|\1|' <<<"$head")
	flags=$(sed -nE 's|.*\(flags ([^)]*)\).*|\1|p' <<<"$head")
	want=$(sed -nE 's|.*\(expect r7 = ([0-9]+)\).*|\1|p' <<<"$head")
	count=$((count + 1))
	for lv in $levels; do
		t="$name $lv"
		if ! out=$(NUB=$B/nub scripts/nub-cc $lv $flags "$f" -o "$tmp/$name.pvm" 2>&1); then
			echo "FAIL $t: build"; echo "$out" | sed 's/^/    /'; failed=$((failed + 1)); continue
		fi
		json=$("$B"/nub run --json "$tmp/$name.pvm" 2>"$tmp/err")
		r7=$(sed -nE 's/.*"regs":\[([0-9]+,){7}([0-9]+).*/\2/p' <<<"$json")
		st=$(sed -nE 's/.*"status":"([a-z-]+)".*/\1/p' <<<"$json")
		if [ "$st" != halt ] || [ "$r7" != "$want" ]; then
			echo "FAIL $t: status ${st:-?} r7 ${r7:-?}, expected halt r7 $want"; failed=$((failed + 1)); continue
		fi
		if grep -q nub_log "$f" && ! grep -q '^nub: log ' "$tmp/err"; then
			echo "FAIL $t: nub_log printed nothing"; failed=$((failed + 1)); continue
		fi
		echo "ok   $t"
		passed=$((passed + 1))
	done
done
if [ "$count" -lt 4 ]; then
	echo "FAIL docs/link.md: found $count examples, expected at least 4"
	failed=$((failed + 1))
fi
echo "RESULT passed=$passed failed=$failed skipped=$skipped"
