#!/usr/bin/env bash
# tests/abi_freestanding_test.sh: include/nub/abi.h must compile with no libc
# headers at all (-ffreestanding -nostdinc, only the compiler's own
# <stdint.h>/<stddef.h>), as C11 pedantic, under gcc and clang, 64-bit.
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0
src=$(mktemp --suffix=.c)
trap 'rm -f "$src" "$src.o"' EXIT
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
done
echo "RESULT passed=$passed failed=$failed skipped=$skipped"
