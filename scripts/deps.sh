#!/usr/bin/env bash
# scripts/deps.sh: install what nub's build and tests need, only when missing.
#   scripts/deps.sh            what the build needs (Debian packages; `make demo`)
#   scripts/deps.sh --tests    also what the tests need: QEMU, and busybox-static,
#                              a Debian kernel and cpio for the KVM-in-QEMU test
#   scripts/deps.sh --riscv    also clang-19/lld-19/llvm-19 (nub link, guest SDK) and
#                              csmith + libcsmith-dev (tests/csmith_test.sh)
#   scripts/deps.sh --oracle   also node/npm and the independent PVM interpreter
#                              @fluffylabs/anan-as (npm, pinned in tools/oracle)
#   scripts/deps.sh --all      all of the above (`make check`)
# Everything is installed here, at setup time; builds and tests download nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(make gcc clang pkg-config libjson-c-dev libsodium-dev binutils)
tests=0 riscv=0 oracle=0
for a in "$@"; do
	case "$a" in
	--tests) tests=1 ;;
	--riscv) riscv=1 ;;
	--oracle) oracle=1 ;;
	--all) tests=1 riscv=1 oracle=1 ;;
	*) echo "deps: unknown option '$a' (--tests, --riscv, --oracle, --all)" >&2; exit 2 ;;
	esac
done
# tests: libFuzzer/sanitizer runtimes, python3 (test scripts), QEMU (guest
# kernel), and a Linux with kvm_amd under QEMU TCG (tests/kvm_in_qemu_test.sh)
[ $tests -eq 1 ] && pkgs+=(libclang-rt-14-dev python3 qemu-system-x86 busybox-static linux-image-amd64 cpio)
[ $riscv -eq 1 ] && pkgs+=(clang-19 lld-19 llvm-19 csmith libcsmith-dev)
if [ $oracle -eq 1 ] && ! command -v node >/dev/null 2>&1; then
	pkgs+=(nodejs npm)
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}" >&2
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		{ $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; }
fi
if [ $oracle -eq 1 ] && [ ! -f tools/oracle/node_modules/@fluffylabs/anan-as/dist/bin/index.js ]; then
	echo "deps: installing @fluffylabs/anan-as into tools/oracle" >&2
	npm ci --prefix tools/oracle --no-audit --no-fund --loglevel=error >/dev/null ||
		echo "deps: npm install of @fluffylabs/anan-as failed; the oracle test will skip" >&2
fi
exit 0
