#!/usr/bin/env bash
# tests/exports_test.sh: the shipped libraries ($B/libnub.a, $B/libnub.so)
# export only the public API (nub_*), both the same set, and an application
# that defines its own blake2b_* (as libb2 does) links and runs with either,
# each side calling its own functions.
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
passed=0 failed=0 skipped=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; shift; [ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/    /'; failed=$((failed + 1)); }
finish() { echo "RESULT passed=$passed failed=$failed skipped=$skipped"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in "$B/libnub.a" "$B/libnub.so" "$B/libnub-internal.a"; do
	[ -f "$f" ] || { bad "built_$(basename "$f")" "missing: run make"; finish; }
done

# Defined global symbols (nm -g --defined-only), names only. In an archive nm
# also prints member headers ("libnub.o:") and blank lines: dropped.
nm -g --defined-only "$B/libnub.a" 2>"$tmp/nm.err" | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/a.syms"
nm -D --defined-only "$B/libnub.so" 2>>"$tmp/nm.err" | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/so.syms"
for lib in a so; do
	grep -v '^nub_' "$tmp/$lib.syms" >"$tmp/$lib.extra"
	if [ -s "$tmp/$lib.extra" ]; then
		bad "libnub_${lib}_exports_only_nub" "$(head -20 "$tmp/$lib.extra")"
	else
		ok "libnub_${lib}_exports_only_nub ($(wc -l <"$tmp/$lib.syms") symbols)"
	fi
done
missing=
for s in nub_open nub_close nub_invoke nub_put_cap nub_strerror nub_cap_image nub_cap_instance nub_cap_hash; do
	grep -qx "$s" "$tmp/a.syms" && grep -qx "$s" "$tmp/so.syms" || missing="$missing $s"
done
[ -z "$missing" ] && ok exports_public_api || bad exports_public_api "missing:$missing" "$(cat "$tmp/nm.err")"
if cmp -s "$tmp/a.syms" "$tmp/so.syms"; then
	ok exports_same_in_a_and_so
else
	bad exports_same_in_a_and_so "$(diff "$tmp/a.syms" "$tmp/so.syms" | head -20)"
fi
# the internals are still inside, made local (not dropped): 't'/'d'/'b'/'r'
if nm "$B/libnub.a" | grep -Eq ' [tT] blake2b_init$' && ! nm -g --defined-only "$B/libnub.a" | grep -q ' blake2b_init$' &&
	nm "$B/libnub.a" | grep -Eq ' t pvm_run$'; then
	ok internals_local_in_libnub_a
else
	bad internals_local_in_libnub_a "$(nm "$B/libnub.a" | grep -E ' (blake2b_init|pvm_run)$')"
fi

# An application with its own blake2b_init/_update/_final (libb2's names)
# and pvm_run. libnub hashes with its own BLAKE2b (nub_cap_hash of "abc"
# must be BLAKE2b-256("abc")); the application's calls reach its own code.
cat >"$tmp/app.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <nub/nub.h>
static int own_calls;
/* same names as libb2's (and libnub's internal) functions */
int blake2b_init(void *state, size_t outlen);
int blake2b_update(void *state, const void *in, size_t inlen);
int blake2b_final(void *state, void *out, size_t outlen);
int pvm_run(void);
int blake2b_init(void *state, size_t outlen) { (void)state; (void)outlen; own_calls++; return -1; }
int blake2b_update(void *state, const void *in, size_t inlen) { (void)state; (void)in; (void)inlen; own_calls++; return -1; }
int blake2b_final(void *state, void *out, size_t outlen) { (void)state; memset(out, 0xee, outlen); own_calls++; return -1; }
int pvm_run(void) { own_calls++; return 7; }
int main(void)
{
	unsigned char h[NUB_CAP_HASH_LEN], mine[8];
	char st[64];
	nub_cap_hash((const unsigned char *)"abc", 3, h);
	for (size_t i = 0; i < sizeof h; i++)
		printf("%02x", h[i]);
	blake2b_init(st, 8);
	blake2b_update(st, "abc", 3);
	blake2b_final(st, mine, sizeof mine);
	int r = pvm_run();
	printf(" own=%d %02x %d\n", own_calls, mine[0], r);
	return 0;
}
C
want="bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319 own=4 ee 7"
SAN=${SANFLAGS:-}
# shellcheck disable=SC2086
if cc -std=c11 -Wall -Werror $SAN -Iinclude -o "$tmp/app_static" "$tmp/app.c" "$B/libnub.a" -lpthread >"$tmp/cc1.log" 2>&1; then
	out=$("$tmp/app_static" 2>&1)
	[ "$out" = "$want" ] && ok own_blake2b_static_links_and_runs || bad own_blake2b_static_links_and_runs "got:  $out" "want: $want"
else
	bad own_blake2b_static_links_and_runs "$(head -20 "$tmp/cc1.log")"
fi
# shellcheck disable=SC2086
if cc -std=c11 -Wall -Werror $SAN -Iinclude -o "$tmp/app_shared" "$tmp/app.c" -L"$B" -lnub -Wl,-rpath,"$PWD/$B" \
	>"$tmp/cc2.log" 2>&1; then
	out=$("$tmp/app_shared" 2>&1)
	[ "$out" = "$want" ] && ok own_blake2b_shared_links_and_runs || bad own_blake2b_shared_links_and_runs "got:  $out" "want: $want"
else
	bad own_blake2b_shared_links_and_runs "$(head -20 "$tmp/cc2.log")"
fi
# The control: the same program against the internal archive (symbols
# global, what libnub.a shipped before) does collide.
# shellcheck disable=SC2086
if cc -std=c11 $SAN -Iinclude -o "$tmp/app_internal" "$tmp/app.c" "$B/libnub-internal.a" -lpthread >"$tmp/cc3.log" 2>&1; then
	bad internal_archive_collides "linked without a multiple-definition error: the test above proves nothing"
elif grep -q 'multiple definition of .blake2b_' "$tmp/cc3.log"; then
	ok internal_archive_collides
else
	bad internal_archive_collides "$(head -5 "$tmp/cc3.log")"
fi
finish
