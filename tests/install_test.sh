#!/usr/bin/env bash
# tests/install_test.sh: `make install PREFIX=<tmp>`, check what is installed
# (public headers only, the localised libraries, the corpus and the SDK in
# share/nub, no file naming the source tree), then MOVE the installed tree
# and, from another folder, build a tiny client through pkg-config (shared
# and static) and run it, run `nub conformance` on the installed corpus, and
# compile a C program with the installed nub-cc (skipped loudly without
# clang-19/ld.lld-19).
cd "$(dirname "$0")/.."
B=${B:-build}
passed=0 failed=0 skipped=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; shift; [ $# -gt 0 ] && sed 's/^/    /' "$@"; failed=$((failed + 1)); }
finish() { echo "RESULT passed=$passed failed=$failed skipped=$skipped"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

if ! command -v pkg-config >/dev/null; then
	echo "SKIP install (no pkg-config)"; skipped=1; finish
fi
if make -s B="$B" install PREFIX="$prefix" >"$tmp/install.log" 2>&1; then
	ok make_install
else
	bad make_install "$tmp/install.log"; finish
fi
for f in bin/nub bin/nub-cc lib/libnub.a lib/libnub.so include/nub/nub.h include/nub/abi.h lib/pkgconfig/nub.pc \
	share/nub/conformance/known-deviations.txt share/nub/conformance/pvm/LICENSE share/nub/sdk/nub.ld \
	share/nub/sdk/include/nub_guest.h share/nub/sdk/include/math.h share/nub/sdk/lib/nub_libc.c \
	share/nub/sdk/lib/nub_rt.c share/nub/sdk/lib/nub_softfp.c; do
	[ -e "$prefix/$f" ] || { bad "installed_$f"; finish; }
done
ok installed_files
# internal headers (rpc.h, src/) stay in the source tree
hdrs=$(cd "$prefix/include" && find . -type f | sort | tr '\n' ' ')
[ "$hdrs" = "./nub/abi.h ./nub/nub.h " ] && ok installed_public_headers_only || bad installed_public_headers_only <(echo "$hdrs")
# the whole corpus: every vector of the source tree, byte for byte
if diff -r tests/conformance/pvm/vectors "$prefix/share/nub/conformance/pvm/vectors" >"$tmp/diff" &&
	diff -r -x README.md tests/conformance/pvm/random "$prefix/share/nub/conformance/pvm/random" >>"$tmp/diff" &&
	diff -r tests/conformance/pvm/random-ro-write "$prefix/share/nub/conformance/pvm/random-ro-write" >>"$tmp/diff"; then
	ok installed_corpus
else
	bad installed_corpus "$tmp/diff"
fi
# the shipped libraries are the localised ones (tests/exports_test.sh lists their symbols)
cmp -s "$B/libnub.a" "$prefix/lib/libnub.a" && cmp -s "$B/libnub.so" "$prefix/lib/libnub.so" &&
	! nm -g --defined-only "$prefix/lib/libnub.a" | awk 'NF == 3 { print $3 }' | grep -qv '^nub_' &&
	ok installed_libs_export_only_nub || bad installed_libs_export_only_nub
# nothing installed names the source tree (debug info, __FILE__, a baked default path)
src=$(pwd -P)
grep -rlF -- "$src" "$prefix" >"$tmp/srcpath" 2>&1
if [ -s "$tmp/srcpath" ]; then
	bad no_source_path_in_installed_files "$tmp/srcpath"
else
	ok no_source_path_in_installed_files
fi

# Move the installed tree; from now on run from another folder, with no
# NUB_SHARE_DIR, so only paths relative to the moved binaries can work.
mkdir -p "$tmp/elsewhere"
mv "$prefix" "$tmp/elsewhere/moved"
prefix=$tmp/elsewhere/moved
unset NUB_SHARE_DIR
cd "$tmp/elsewhere" || { bad cd_elsewhere; finish; }

cat >"$tmp/client.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <nub/nub.h>
/* add_64 r7 = r8 + r9; jump_ind r0 (halt). */
static const unsigned char code[] = {0, 0, 5, 200, 0x98, 7, 50, 0x00, 0x09};
int main(void)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	nub_sandbox *sb;
	nub_err e = nub_open(&o, &sb);
	if (e) { printf("open: %s\n", nub_strerror(e)); return 1; }
	nub_endpoint ep = {0};
	ep.regs[0] = NUB_HALT_ADDR;
	nub_image_desc d = {.layout = NUB_LAYOUT_BARE, .code = code, .code_len = sizeof code,
	                    .endpoints = &ep, .endpoint_count = 1};
	nub_cap_buf img, inst;
	unsigned char ih[32], nh[32];
	if (nub_cap_image(&d, &img) || nub_put_cap(sb, img.bytes, img.len, ih)) return 2;
	if (nub_cap_instance(ih, NULL, 0, &inst) || nub_put_cap(sb, inst.bytes, inst.len, nh)) return 3;
	InvokePacket p;
	memset(&p, 0, sizeof p);
	memcpy(p.instance_hash, nh, 32);
	p.args[1] = 40;
	p.args[2] = 2;
	p.initial_gas = 100;
	InvocationResult r;
	if (nub_invoke(sb, &p, &r)) return 4;
	printf("%s %llu %llu\n", nub_exit_name(r.exit_reason), (unsigned long long)r.return_value,
	       (unsigned long long)r.gas_remaining);
	nub_cap_buf_free(&img);
	nub_cap_buf_free(&inst);
	nub_close(sb);
	return 0;
}
C
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# a sanitized build (make SAN=1 test) installs a sanitized library: the
# client needs the same runtime
SAN=${SANFLAGS:-}
# Word splitting of the pkg-config output is intended.
# shellcheck disable=SC2046
if cc -std=c11 -Wall -Werror $SAN -o "$tmp/client" "$tmp/client.c" $(pkg-config --cflags --libs nub) >"$tmp/cc.log" 2>&1 &&
	LD_LIBRARY_PATH=$prefix/lib "$tmp/client" >"$tmp/run.log" 2>&1 && [ "$(cat "$tmp/run.log")" = "halt 42 98" ]; then
	ok client_shared
else
	cat "$tmp/run.log" >>"$tmp/cc.log" 2>/dev/null; bad client_shared "$tmp/cc.log"
fi
# shellcheck disable=SC2046
if cc -std=c11 -Wall -Werror $SAN -o "$tmp/client_static" "$tmp/client.c" $(pkg-config --cflags nub) \
	"$prefix/lib/libnub.a" -lpthread >"$tmp/cc2.log" 2>&1 &&
	"$tmp/client_static" >"$tmp/run2.log" 2>&1 && [ "$(cat "$tmp/run2.log")" = "halt 42 98" ]; then
	ok client_static
else
	cat "$tmp/run2.log" >>"$tmp/cc2.log" 2>/dev/null; bad client_static "$tmp/cc2.log"
fi
"$prefix/bin/nub" info --backend local >"$tmp/info.log" 2>&1 && grep -q 'JAR_BOOT, ok' "$tmp/info.log" &&
	ok installed_nub_info || bad installed_nub_info "$tmp/info.log"

# the installed corpus, found through the moved binary (BIN/../share/nub)
nvec=$(find "$src"/tests/conformance/pvm/{vectors,random,random-ro-write} -name '*.json' | wc -l)
"$prefix/bin/nub" conformance >"$tmp/conf.log" 2>&1
if grep -qx "$nvec passed, 0 failed" "$tmp/conf.log" && grep -q 'known deviation(s), gas only, listed in '"$prefix"'/share/nub/conformance/known-deviations.txt' "$tmp/conf.log"; then
	ok moved_nub_conformance
else
	tail -n 5 "$tmp/conf.log" >"$tmp/conf.tail"; echo "want: $nvec passed, 0 failed" >>"$tmp/conf.tail"
	bad moved_nub_conformance "$tmp/conf.tail"
fi
# NUB_SHARE_DIR wins, and a wrong one is an error naming it
NUB_SHARE_DIR=$tmp/nowhere "$prefix/bin/nub" conformance >"$tmp/env.log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "NUB_SHARE_DIR ($tmp/nowhere)" "$tmp/env.log" && ok share_env_wrong_is_error ||
	bad share_env_wrong_is_error "$tmp/env.log"
NUB_SHARE_DIR=$prefix/share/nub "$prefix/bin/nub" conformance "$prefix/share/nub/conformance/pvm/random-ro-write" \
	>"$tmp/env2.log" 2>&1 && grep -q '^7 passed, 0 failed$' "$tmp/env2.log" && ok share_env ||
	bad share_env "$tmp/env2.log"
# without the share folder: a clear error naming where it looked
mv "$prefix/share" "$prefix/share.hidden"
"$prefix/bin/nub" conformance >"$tmp/noshare.log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "looked in: $prefix/bin/../share/nub/conformance (installed)" "$tmp/noshare.log" &&
	ok missing_corpus_names_where_it_looked || bad missing_corpus_names_where_it_looked "$tmp/noshare.log"
mv "$prefix/share.hidden" "$prefix/share"

# the installed nub-cc: its SDK and nub beside it, in the moved tree
if command -v "${CLANG:-clang-19}" >/dev/null && command -v "${LLD:-ld.lld-19}" >/dev/null; then
	cat >"$tmp/prog.c" <<'C'
#include "nub_guest.h"
static uint8_t buf[16];
uint64_t sum(void)
{
	memset(buf, 7, sizeof buf); /* from the SDK's nub_libc.c */
	uint64_t s = 30;
	for (unsigned i = 0; i < sizeof buf; i++)
		s += buf[i];
	return s; /* 142 */
}
NUB_EXPORT(0, sum);
C
	if "$prefix/bin/nub-cc" -O2 "$tmp/prog.c" -o "$tmp/prog.pvm" >"$tmp/nubcc.log" 2>&1 &&
		"$prefix/bin/nub" run --json "$tmp/prog.pvm" >"$tmp/prog.out" 2>&1 &&
		grep -Eq '"status":"halt".*"regs":\[([0-9]+,){7}142,' "$tmp/prog.out"; then
		ok moved_nub_cc
	else
		cat "$tmp/prog.out" >>"$tmp/nubcc.log" 2>/dev/null; bad moved_nub_cc "$tmp/nubcc.log"
	fi
else
	echo "SKIP moved_nub_cc (no ${CLANG:-clang-19} / ${LLD:-ld.lld-19}: scripts/deps.sh --riscv)"
	skipped=$((skipped + 1))
fi
finish
