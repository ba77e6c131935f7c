#!/usr/bin/env bash
# tests/kvm_in_qemu_test.sh: the kvm backend on a real KVM.
#
# With a usable /dev/kvm on this machine (hardware-assisted), $B/host/kvm_sandbox_test runs
# here directly. Without one (or with a paravirtual one such as kvm-pvm) (this repository's CI machines are themselves
# VMs without nested virtualisation), it runs inside a Linux guest booted
# under QEMU's software emulation (TCG) whose emulated AMD CPU has SVM: the
# guest loads kvm_amd, so /dev/kvm exists there (nested and emulated: slow,
# but the real KVM API). scripts/kvm-in-qemu/ builds the initramfs
# (busybox-static, the Debian kernel's kvm modules, the static test binary
# and the conformance vectors).
# kvm_sandbox_test (tests/kvm/kvm_sandbox_test.c): boot, every fn_id, the
# host-side cap directory lookup, malformed requests answered while the VM
# keeps serving, the guest fault probes 100..106 repeated (rebuild, no fd or
# RSS growth), several sandboxes, and every conformance vector byte-identical
# on kvm and local. Its RESULT line is added to this script's own checks.
# Skips (skipped=1) only when qemu-system-x86_64, busybox-static, cpio or a
# Linux image with kvm modules is missing (scripts/deps.sh installs them), and in
# sanitizer builds (SAN=1 cannot link the static binary the initramfs needs).
# NUB_KVM_FAULTS (default 105) sets the number of repeated fault probes.
cd "$(dirname "$0")/.."
B=${B:-build}
passed=0 failed=0 skipped=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; shift; for l in "$@"; do echo "    $l"; done; failed=$((failed + 1)); }
finish() { echo "RESULT passed=$passed failed=$failed skipped=$skipped"; exit 0; }
skip() { echo "SKIP kvm_in_qemu ($1)"; skipped=$((skipped + 1)); finish; }

bin=$B/host/kvm_sandbox_test
if [ ! -x "$bin" ] && [ "$B" = build ]; then
	make --no-print-directory -s "$bin" >/dev/null 2>&1
fi
if [ ! -x "$bin" ] && [ -n "${SANFLAGS:-}" ]; then
	skip "sanitizer build: the static test binary for the QEMU initramfs is not built with SAN=1"
fi
[ -x "$bin" ] || { bad kvm_build "missing $bin (run make all)"; finish; }
faults=${NUB_KVM_FAULTS:-105}
vecs=tests/conformance/pvm

# add_result FILE: fold the test binary's RESULT line into ours
add_result() {
	local line
	line=$(grep -a '^RESULT passed=' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		bad kvm_sandbox_test "no RESULT line; last output:" "$(tail -n 20 "$1")"
		return
	fi
	local p f s
	p=$(echo "$line" | sed 's/.*passed=\([0-9]*\).*/\1/')
	f=$(echo "$line" | sed 's/.*failed=\([0-9]*\).*/\1/')
	s=$(echo "$line" | sed 's/.*skipped=\([0-9]*\).*/\1/')
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	[ "$f" = 0 ] || grep -a -B3 '^FAIL' "$1" | sed 's/^/    /'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the SDK's programs (bench kernels as SPI), when clang-19 can build them
progs=
if command -v clang-19 >/dev/null 2>&1 && command -v ld.lld-19 >/dev/null 2>&1; then
	if make --no-print-directory -s B="$B" bench-pvms >"$tmp/pvms.log" 2>&1 && ls "$B"/bench/*.pvm >/dev/null 2>&1; then
		mkdir -p "$tmp/pvm"
		cp "$B"/bench/*.pvm "$tmp/pvm/"
		progs="$tmp/pvm"
	else
		bad bench_programs_build "$(tail -n 5 "$tmp/pvms.log" 2>/dev/null)"
	fi
fi

# A /dev/kvm that nub's probe accepts (hardware-assisted: VMX/SVM; a
# paravirtual one such as kvm-pvm is refused with KVM_NO_HW_VIRT) runs the
# test directly; anything else runs it inside QEMU.
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && "$B/nub" info --backend kvm >/dev/null 2>&1; then
	echo "kvm_in_qemu: /dev/kvm on this machine: running directly"
	start=$(date +%s)
	"$bin" --faults "$faults" --vectors $vecs/vectors --vectors $vecs/random --vectors $vecs/random-ro-write \
		${progs:+--programs "$progs"} >"$tmp/out.txt" 2>&1
	grep -a -E '^(ok|FAIL|    )' "$tmp/out.txt"
	add_result "$tmp/out.txt"
	echo "kvm_in_qemu: $(($(date +%s) - start)) s"
	finish
fi

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed; scripts/deps.sh installs qemu-system-x86"
command -v busybox >/dev/null || [ -x /bin/busybox ] || skip "busybox-static not installed"
command -v cpio >/dev/null || skip "cpio not installed (the initramfs is a cpio archive)"
kernel=
for k in $(ls /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
	v=${k#/boot/vmlinuz-}
	if [ -r "$k" ] && ls /lib/modules/"$v"/kernel/arch/x86/kvm/kvm-amd.ko* >/dev/null 2>&1; then
		kernel=$k
		break
	fi
done
[ -n "$kernel" ] || skip "no readable /boot/vmlinuz-* with kvm-amd modules; scripts/deps.sh installs linux-image-amd64"
bb=$(command -v busybox || echo /bin/busybox)
readelf -h "$bb" >/dev/null 2>&1 && ! readelf -l "$bb" 2>/dev/null | grep -q INTERP ||
	skip "$bb is not a static executable (install busybox-static)"

# the payload: the static test binary, the vectors, the script /init runs
mkdir -p "$tmp/p/vec"
cp "$bin" "$tmp/p/"
for d in vectors random random-ro-write; do
	mkdir -p "$tmp/p/vec/$d"
	cp $vecs/$d/*.json "$tmp/p/vec/$d/"
done
if [ -n "$progs" ]; then
	cp -r "$progs" "$tmp/p/pvm"
fi
# the CLI on kvm: `nub run --backend kvm --host-calls ignore|stop` must print
# what --backend local prints (a loop of 50 `ecalli 1`, then trap)
if [ ! -x "$B/host/nub-static" ] && [ "$B" = build ]; then
	make --no-print-directory -s "$B/host/nub-static" >/dev/null 2>&1
fi
cli=
if [ -x "$B/host/nub-static" ]; then
	cp "$B/host/nub-static" "$tmp/p/nub"
	printf '\000\000\015\120\027\062\004\012\001\225\167\377\122\007\373\000\121\022' >"$tmp/p/loop.blob"
	cli='for m in ignore stop; do for b in kvm local; do echo "CLI $m $b $(./nub run --backend $b --engine interp --host-calls $m --json loop.blob 2>&1 | sed "s/\"backend\":\"[a-z]*\",//")"; done; done'
fi
bench=
if [ -n "${NUB_KVM_BENCH:-}" ] && [ -x "$B/host/nub-static" ]; then
	bench='echo "BENCH nested-emulated KVM (TCG), not representative:"; ./nub bench sandbox --backend kvm --runs 1 2>&1 | sed "s/^/BENCH /"; ./nub bench lanes --backend kvm --runs 3 --work 20000 2>&1 | sed "s/^/BENCH /"'
fi
cat >"$tmp/p/run.sh" <<RUN
echo "KVMDEV \$(ls /dev/kvm 2>&1)"
dmesg | grep -E 'SVM|kvm' | sed 's/^/DMESG /'
t0=\$(date +%s)
${NUB_KVM_DEBUG:+NUB_VMM_DEBUG=1} ./kvm_sandbox_test ${NUB_KVM_ONLY:+--only $NUB_KVM_ONLY} --faults $faults --vectors vec/vectors --vectors vec/random --vectors vec/random-ro-write ${progs:+--programs pvm} 2>&1
echo "TESTSECS \$((\$(date +%s) - t0))"
$cli
$bench
RUN

start=$(date +%s)
scripts/kvm-in-qemu/run.sh "$tmp/p" "${NUB_KVM_QEMU_SECS:-1200}" 2>&1 | tr -d '\r' >"$tmp/out.txt"
rc=${PIPESTATUS[0]}
secs=$(($(date +%s) - start))
grep -a -E '^(ok|FAIL|    |BENCH|DMESG)' "$tmp/out.txt"
if grep -a -q '^KVMDEV /dev/kvm' "$tmp/out.txt"; then
	ok "qemu_guest_has_dev_kvm"
else
	bad qemu_guest_has_dev_kvm "QEMU rc=$rc; /dev/kvm did not appear inside the QEMU guest:" \
		"$(grep -a -E 'KVMDEV|DMESG|init:' "$tmp/out.txt" | head -n 20)"
	finish
fi
add_result "$tmp/out.txt"
if [ -n "$cli" ]; then
	for m in ignore stop; do
		k=$(sed -n "s/^CLI $m kvm //p" "$tmp/out.txt")
		l=$(sed -n "s/^CLI $m local //p" "$tmp/out.txt")
		if [ -n "$k" ] && [ "$k" = "$l" ] && echo "$k" | grep -q '"status"'; then
			ok "cli_run_kvm_host_calls_$m"
		else
			bad "cli_run_kvm_host_calls_$m" "kvm:   $k" "local: $l"
		fi
	done
fi
echo "kvm_in_qemu: QEMU boot + tests ${secs} s wall (tests alone: $(sed -n 's/^TESTSECS //p' "$tmp/out.txt") s, nested-emulated)"
finish
