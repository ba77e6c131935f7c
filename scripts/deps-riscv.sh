#!/bin/sh
# deps-riscv.sh: install the RV64E guest toolchain (clang-19, ld.lld-19,
# llvm-19 tools) from Debian when any of it is missing. Idempotent.
set -e
need=0
for t in clang-19 ld.lld-19 llvm-objdump-19; do
	command -v "$t" >/dev/null 2>&1 || need=1
done
[ "$need" = 0 ] && exit 0
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "deps-riscv: installing clang-19 lld-19 llvm-19" >&2
$SUDO apt-get update -qq || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends clang-19 lld-19 llvm-19
