#!/usr/bin/env bash
# tests/run.sh: the whole test suite. Runs every test binary in $B/tests,
# every tests/*_test.sh script, and the conformance corpus; sums their
# results and ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
export B
passed=0 failed=0 skipped=0
failed_names=()

tally() { # name, output file
	local line
	line=$(grep -E '^RESULT passed=[0-9]+ failed=[0-9]+ skipped=[0-9]+$' "$2" | tail -1)
	if [ -z "$line" ]; then
		echo "!! $1: no RESULT line (crashed?)"
		failed=$((failed + 1)); failed_names+=("$1")
		return
	fi
	local p f s
	p=$(sed -E 's/.*passed=([0-9]+).*/\1/' <<<"$line")
	f=$(sed -E 's/.*failed=([0-9]+).*/\1/' <<<"$line")
	s=$(sed -E 's/.*skipped=([0-9]+).*/\1/' <<<"$line")
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	[ "$f" -eq 0 ] || failed_names+=("$1")
	printf '%-28s passed=%s failed=%s skipped=%s\n' "$1" "$p" "$f" "$s"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for t in "$B"/tests/*; do
	[ -x "$t" ] && [ -f "$t" ] || continue
	n=$(basename "$t")
	"$t" >"$tmp/$n.out" 2>&1
	grep -E '^(FAIL|SKIP|    )' "$tmp/$n.out" | sed "s/^/  [$n] /"
	tally "$n" "$tmp/$n.out"
done

for s in tests/*_test.sh; do
	[ -f "$s" ] || continue
	n=$(basename "$s" .sh)
	bash "$s" >"$tmp/$n.out" 2>&1
	grep -E '^(FAIL|SKIP|    )' "$tmp/$n.out" | sed "s/^/  [$n] /"
	tally "$n" "$tmp/$n.out"
done

# conformance on the interpreter: every vector is one test (the JIT's run is
# tests/jit_conformance_test.sh)
"$B"/nub conformance --engine interp >"$tmp/conf.out" 2>&1
grep -E '^(FAIL|deviation)' "$tmp/conf.out" | sed 's/^/  [conformance] /'
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/conf.out" | tail -1)
if [ -z "$line" ]; then
	echo "!! conformance: no summary (crashed?)"
	failed=$((failed + 1)); failed_names+=(conformance)
else
	cp=${line%% passed*}; cf=${line#*, }; cf=${cf%% failed}
	passed=$((passed + cp)); failed=$((failed + cf))
	[ "$cf" -eq 0 ] || failed_names+=(conformance)
	printf '%-28s passed=%s failed=%s skipped=0\n' conformance "$cp" "$cf"
fi

echo
[ ${#failed_names[@]} -eq 0 ] || echo "failing: ${failed_names[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
