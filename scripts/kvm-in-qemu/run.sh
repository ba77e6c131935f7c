#!/bin/sh
# scripts/kvm-in-qemu/run.sh PAYLOAD_DIR [SECONDS]
# Boots a Linux guest under QEMU's software emulation (TCG, -cpu max: AMD SVM
# with nested paging is emulated) with an initramfs built by mkinitramfs.sh
# from PAYLOAD_DIR; its /init loads kvm + kvm_amd (so /dev/kvm exists inside)
# and runs PAYLOAD_DIR/run.sh. The guest's console goes to stdout.
# Environment: NUB_QEMU_KERNEL (default: the newest /boot/vmlinuz-* whose
# /lib/modules/<version> has kvm-amd), NUB_QEMU_MEM (MiB, default 1024),
# NUB_QEMU_KVM_PARAMS (kvm_amd parameters, comma-separated, e.g. npt=0).
# Exit status: QEMU's (124 when SECONDS, default 900, ran out).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
payload=$1
secs=${2:-900}
kernel=${NUB_QEMU_KERNEL:-}
if [ -z "$kernel" ]; then
	for k in $(ls /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
		v=${k#/boot/vmlinuz-}
		if ls /lib/modules/"$v"/kernel/arch/x86/kvm/kvm-amd.ko* >/dev/null 2>&1; then
			kernel=$k
			break
		fi
	done
fi
[ -n "$kernel" ] && [ -r "$kernel" ] || { echo "run.sh: no readable kernel with kvm-amd modules" >&2; exit 3; }
export NUB_QEMU_KVER=${kernel#/boot/vmlinuz-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/mkinitramfs.sh" "$tmp/initrd.cpio.gz" "$payload"
params=${NUB_QEMU_KVM_PARAMS:-}
timeout "$secs" qemu-system-x86_64 -accel tcg -cpu max -smp "${NUB_QEMU_SMP:-1}" -m "${NUB_QEMU_MEM:-1024}" -nographic \
	-no-reboot -monitor none -kernel "$kernel" -initrd "$tmp/initrd.cpio.gz" \
	-append "console=ttyS0 quiet panic=-1 nubkvm=$params" </dev/null
