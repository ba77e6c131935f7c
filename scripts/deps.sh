#!/usr/bin/env bash
# scripts/deps.sh: install the Debian packages nub needs, only when missing.
#   scripts/deps.sh            build + test dependencies
#   scripts/deps.sh --riscv    also clang-19/lld-19/llvm-19 (nub link, guest SDK)
set -euo pipefail
pkgs=(make gcc clang pkg-config libjson-c-dev libsodium-dev libclang-rt-14-dev python3 qemu-system-x86)
if [ "${1:-}" = "--riscv" ]; then
	pkgs+=(clang-19 lld-19 llvm-19)
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
	{ $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; }
