#!/usr/bin/env bash
# tests/info_test.sh: `nub info` through the public API: the local backend's
# synthetic BootInfo and store figures, the kvm backend's named error, and
# the auto backend's announced fallback (a notice on stderr, never silent).
set -u
cd "$(dirname "$0")/.."
NUB=${B:-build}/nub
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; echo "    $2"; failed=$((failed + 1)); }

if "$NUB" info --backend local >"$tmp/out" 2>"$tmp/err" && [ ! -s "$tmp/err" ] &&
	grep -qx 'backend            local' "$tmp/out" &&
	grep -q '^boot_info.magic    0x4a41525f424f4f54 (JAR_BOOT, ok)$' "$tmp/out" &&
	grep -q '^boot_info.source   synthetic' "$tmp/out" &&
	grep -qx 'heap.allocations   1' "$tmp/out" &&
	grep -qx 'heap.fragments     0' "$tmp/out"; then
	ok info_local
else
	bad info_local "$(cat "$tmp/out" "$tmp/err" | head -c 400)"
fi
# allocated + available = the default budget of 256 MiB
a=$(awk '/^heap.allocated/ {print $2}' "$tmp/out"); v=$(awk '/^heap.available/ {print $2}' "$tmp/out")
if [ -n "$a" ] && [ -n "$v" ] && [ $((a + v)) -eq $((256 << 20)) ]; then ok info_budget; else bad info_budget "$a + $v"; fi

"$NUB" info --backend kvm >"$tmp/out" 2>"$tmp/err"; rc=$?
# a hardware-assisted /dev/kvm (VMX/SVM) boots; a paravirtual one (kvm-pvm)
# or none at all gets its named error
hw=0
grep -qwE 'vmx|svm' /proc/cpuinfo && hw=1
if [ -e /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ $hw = 1 ]; then
	# a real KVM here: the micro-VM boots and reports its BootInfo
	if [ $rc -eq 0 ] && grep -qx 'backend            kvm' "$tmp/out" && grep -q 'JAR_BOOT, ok' "$tmp/out"; then
		ok info_kvm
	else
		bad info_kvm "rc=$rc $(cat "$tmp/out" "$tmp/err" | head -c 300)"
	fi
	if "$NUB" info >"$tmp/out" 2>"$tmp/err" && grep -qx 'backend            kvm' "$tmp/out" && [ ! -s "$tmp/err" ]; then
		ok info_auto_picks_kvm
	else
		bad info_auto_picks_kvm "$(cat "$tmp/out" "$tmp/err" | head -c 300)"
	fi
else
	want='kvm backend: /dev/kvm not available (KVM_UNAVAILABLE)'
	if [ -e /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		want='(KVM_NO_HW_VIRT)'
	fi
	if [ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qF "$want" "$tmp/err"; then
		ok info_kvm_named_error
	else
		bad info_kvm_named_error "rc=$rc $(head -c 300 "$tmp/err")"
	fi
	if "$NUB" info >"$tmp/out" 2>"$tmp/err" && grep -qx 'backend            local' "$tmp/out" &&
		grep -q '^nub: backend auto: kvm backend: .*using the local backend' "$tmp/err"; then
		ok info_auto_notice
	else
		bad info_auto_notice "$(head -c 300 "$tmp/err")"
	fi
fi

for args in "--backend" "--backend qemu" "--bogus"; do
	# shellcheck disable=SC2086
	"$NUB" info $args >"$tmp/out" 2>"$tmp/err"; rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q '^nub: info: ' "$tmp/err"; then
		ok "info_bad_usage($args)"
	else
		bad "info_bad_usage($args)" "rc=$rc $(head -c 200 "$tmp/err")"
	fi
done
"$NUB" info --help | grep -q '^usage: nub info' && ok info_help || bad info_help "no usage line"
echo "RESULT passed=$passed failed=$failed skipped=0"
