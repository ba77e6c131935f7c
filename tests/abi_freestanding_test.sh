#!/usr/bin/env bash
# tests/abi_freestanding_test.sh: include/nub/abi.h and the cap codec
# (src/cap/*.c) must compile with no libc headers at all (-ffreestanding
# -nostdinc, only the compiler's own <stdint.h>/<stddef.h>/<stdbool.h>), under
# gcc and clang; the cap and engine objects (src/cap, src/pvm) may reference
# no outside symbol but the memcpy/memset that each side provides and the
# engine's platform interface (pvm_plat_*, src/pvm/pvm_platform.h); the same
# holds for the JIT (src/jit, x86-64 hosts), whose fault entry pvm_jit_fault
# is part of that interface. (_GLOBAL_OFFSET_TABLE_ is defined by every
# linker: gcc's default PIE mode names it in objects that take addresses.)
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0
src=$(mktemp --suffix=.c)
objdir=$(mktemp -d)
trap 'rm -rf "$src" "$src.o" "$objdir"' EXIT
cat >"$src" <<'C'
#include "nub/abi.h"
_Static_assert(sizeof(InvocationResult) == 152, "");
int nub_abi_probe(void);
int nub_abi_probe(void) { return (int)sizeof(ParallelInvokeSlot); }
C
for cc in gcc clang; do
	if ! command -v "$cc" >/dev/null; then
		echo "SKIP abi_freestanding_$cc (no $cc)"; skipped=$((skipped + 1)); continue
	fi
	inc=$("$cc" -print-file-name=include)
	if "$cc" -std=c11 -pedantic-errors -Wall -Wextra -Werror -ffreestanding -nostdinc \
		-isystem "$inc" -Iinclude -c "$src" -o "$src.o"; then
		echo "ok   abi_freestanding_$cc"; passed=$((passed + 1))
	else
		echo "FAIL abi_freestanding_$cc"; failed=$((failed + 1))
	fi
	ok=1
	jit=
	[ "$(uname -m)" = x86_64 ] && jit=$(ls src/jit/*.c)
	for c in src/cap/*.c src/pvm/*.c $jit; do
		"$cc" -std=c11 -O2 -Wall -Wextra -Werror -ffreestanding -nostdinc -isystem "$inc" -Iinclude -Isrc \
			-c "$c" -o "$objdir/$(basename "$c").o" || ok=0
	done
	nm --defined-only "$objdir"/*.o | awk 'NF == 3 {print $3}' | sort -u >"$objdir/defined"
	undef=$(nm -u "$objdir"/*.o | awk 'NF == 2 {print $2}' | sort -u | grep -vxF -f "$objdir/defined" |
		grep -vx -e memcpy -e memset -e 'pvm_plat_[a-z_]*' -e pvm_jit_fault -e _GLOBAL_OFFSET_TABLE_)
	if [ "$ok" = 1 ] && [ -z "$undef" ]; then
		echo "ok   cap_freestanding_$cc"; passed=$((passed + 1))
	else
		echo "FAIL cap_freestanding_$cc"; echo "    outside symbols: $undef"; failed=$((failed + 1))
	fi
	rm -f "$objdir"/*.o "$objdir/defined"
done
echo "RESULT passed=$passed failed=$failed skipped=$skipped"
