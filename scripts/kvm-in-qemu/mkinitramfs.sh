#!/bin/sh
# mkinitramfs.sh OUT.cpio.gz PAYLOAD_DIR
# Builds an initramfs for running nub's KVM tests inside a QEMU (TCG) Linux
# guest whose emulated CPU offers AMD SVM: busybox-static, the kvm, kvm_amd
# modules of the installed Debian kernel (with their modules.dep deps,
# decompressed), and PAYLOAD_DIR copied to /payload. /init mounts the basics,
# loads kvm_amd (params from the kernel command line `nubkvm=...`), then runs
# /payload/run.sh and powers off. Output lines from run.sh go to ttyS0.
set -eu
out=$1
payload=$2
kv=${NUB_QEMU_KVER:-$(ls /lib/modules | sort -V | tail -n 1)}
moddir=/lib/modules/$kv
[ -d "$moddir" ] || { echo "mkinitramfs: no $moddir" >&2; exit 1; }
bb=$(command -v busybox || echo /bin/busybox)
# static (no PT_INTERP): the initramfs has no shared libraries
if ! readelf -h "$bb" >/dev/null 2>&1 || readelf -l "$bb" 2>/dev/null | grep -q INTERP; then
	echo "mkinitramfs: $bb is not a static busybox (install busybox-static)" >&2
	exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/mods" "$root/payload"
cp "$bb" "$root/bin/busybox"
for a in sh mount mkdir insmod cat echo poweroff sync dmesg ls grep sleep date uname tail head wc sed mknod; do
	ln -s busybox "$root/bin/$a"
done

# modules in dependency order: deps of kvm_amd first (modules.dep lists them)
want="kernel/arch/x86/kvm/kvm-amd.ko"
dep=$(grep -E "^$want(\\.xz|\\.zst|\\.gz)?:" "$moddir/modules.dep" | cut -d: -f2)
order=""
for m in $dep; do order="$m $order"; done   # modules.dep lists nearest first
order="$order $want"
n=0
for m in $order; do
	src=$(ls "$moddir/$m" "$moddir/$m.xz" "$moddir/$m.zst" "$moddir/$m.gz" 2>/dev/null | head -n 1 || true)
	m=${m%.xz}; m=${m%.zst}; m=${m%.gz}
	[ -n "$src" ] || { echo "mkinitramfs: module $m not found" >&2; exit 1; }
	dst="$root/mods/$(printf %02d $n)-$(basename "$m")"
	case "$src" in
	*.xz) xz -dc "$src" >"$dst" ;;
	*.zst) zstd -dc "$src" >"$dst" ;;
	*.gz) gzip -dc "$src" >"$dst" ;;
	*) cp "$src" "$dst" ;;
	esac
	n=$((n + 1))
done

cp -a "$payload/." "$root/payload/"

cat >"$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
params=$(sed -n 's/.*nubkvm=\([^ ]*\).*/\1/p' /proc/cmdline | sed 's/,/ /g')
for m in /mods/*.ko; do
	case "$m" in
	*kvm-amd.ko) insmod "$m" $params || echo "init: insmod $m failed" ;;
	*) insmod "$m" || echo "init: insmod $m failed" ;;
	esac
done
echo "init: /dev/kvm: $(ls -l /dev/kvm 2>&1)"
cd /payload && sh ./run.sh
echo "init: run.sh rc=$?"
sync
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
