#!/usr/bin/env bash
# tests/install_test.sh: `make install PREFIX=<tmp>` then build a tiny client
# against the installed headers and library through pkg-config (shared and
# static), run it, and check that libnub.so exports only the nub_* API.
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
for f in bin/nub lib/libnub.a lib/libnub.so include/nub/nub.h include/nub/abi.h lib/pkgconfig/nub.pc; do
	[ -e "$prefix/$f" ] || { bad "installed_$f"; finish; }
done
ok installed_files

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
# Only the public API leaves the shared library.
nm -D --defined-only "$prefix/lib/libnub.so" | awk '{print $3}' | grep -v '^nub_' | grep -v '^_' >"$tmp/extra" || true
if [ -s "$tmp/extra" ]; then
	bad exports_only_nub_api "$tmp/extra"
else
	ok exports_only_nub_api
fi
"$prefix/bin/nub" info --backend local >"$tmp/info.log" 2>&1 && grep -q 'JAR_BOOT, ok' "$tmp/info.log" &&
	ok installed_nub_info || bad installed_nub_info "$tmp/info.log"
finish
