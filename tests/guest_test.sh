#!/usr/bin/env bash
# tests/guest_test.sh: the guest kernel booted for real under QEMU (TCG).
#
#   1. selftest: the kernel's built-in driver plays the host over the real
#      mailbox + dispatcher and prints "R ..." lines; the same scenario runs
#      on libnub's local backend ($B/guest/guest_ref) and the two outputs
#      must be identical (a differential check, for the gcc and the clang
#      kernel). "G ..." lines (guest-only protocol checks) must all say ok=1.
#   2. replay: every conformance vector and SDK program as caps (553
#      vectors + build/bench/*.pvm, ~2275 PUT_CAP and INVOKE_CACHED requests)
#      recorded on the local backend by guest_ref --record-vectors, replayed
#      by the kernel from a Multiboot module through its mailbox, once on the
#      interpreter and once on the JIT (compiled code in ring 3, selected with
#      NUB_FN_ID_SET_ENGINE); every reply digest must match.
#      The selftest (1.) runs on both engines too; it includes a lane's
#      host-call jobs (HOST_WAIT, HOST_MEM) against INVOKE_HOST's results.
#   3. fault probes (fn ids 100..106): #PF, #GP, #UD and int $0x80 must be
#      reported with the right vector, error code, cr2 and the rip of the
#      probe's labelled instruction (from the symbol table); a kernel stack
#      overflow must fault in the guard page and be reported from IST1; a garbage reply must be rejected
#      by the host-side checks while the kernel keeps serving; the endless
#      loop must still be looping when the timeout fires.
#   4. the ELF itself: Multiboot header in the first 8 KiB, BootInfo in
#      .boot_info with the magic and the directory address.
#   5. include/nub/rpc.h is self-contained C11 (-pedantic-errors, no libc).
#   6. the selftest again under -smp 2 and -smp 4: the APs come up by
#      INIT/SIPI and serve lanes (every job's result equal to INVOKE_CACHED).
# Skips (skipped=1) only when qemu-system-x86_64 is not installed.
cd "$(dirname "$0")/.."
B=${B:-build}
passed=0 failed=0 skipped=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; shift; for l in "$@"; do echo "    $l"; done; failed=$((failed + 1)); }
finish() { echo "RESULT passed=$passed failed=$failed skipped=$skipped"; exit 0; }

if ! command -v qemu-system-x86_64 >/dev/null; then
	echo "SKIP guest_qemu (qemu-system-x86_64 not installed; scripts/deps.sh installs qemu-system-x86)"
	skipped=1
	finish
fi

kernel=$B/guest-test/nub-guest.elf32
prod=$B/guest/nub-guest.elf
ref=$B/guest/guest_ref
if [ ! -f "$kernel" ] || [ ! -f "$prod" ] || [ ! -x "$ref" ]; then
	if [ "$B" = build ]; then
		make --no-print-directory -s "$kernel" "$prod" "$ref" >/dev/null 2>&1
	fi
fi
if [ ! -f "$kernel" ] || [ ! -f "$prod" ] || [ ! -x "$ref" ]; then
	bad guest_build "missing $kernel, $prod or $ref (run make all)"
	finish
fi

# ---- the production kernel (embedded in libnub) has no test code -------------
test_syms=$(nm "$prod" | awk '$3 ~ /^guest_(selftest|replay|probe|host_call|scenario|flavour_test)|^scenario_|_probe_/ {print $3}')
text_prod=$(size -A "$prod" | awk '$1 == ".text" {print $2}')
text_test=$(size -A "${kernel%32}" | awk '$1 == ".text" {print $2}')
if [ -z "$test_syms" ] && nm "${kernel%32}" | grep -q ' guest_selftest$'; then
	ok "production_kernel_has_no_test_code (.text $text_prod B; test kernel $text_test B)"
else
	bad production_kernel_has_no_test_code "test symbols in $prod:" "$test_syms"
fi
tmpp=$(mktemp)
objcopy -O elf32-i386 "$prod" "$tmpp.elf32"
timeout 20 qemu-system-x86_64 -machine q35 -cpu max -m 256 -nographic -no-reboot -kernel "$tmpp.elf32" \
	-append selftest -device isa-debug-exit,iobase=0xf4,iosize=4 -serial stdio -monitor none </dev/null >"$tmpp" 2>&1
rc=$?
if grep -q 'this is the production kernel' "$tmpp" && ! grep -q SELFTEST "$tmpp"; then
	ok "production_kernel_refuses_test_modes (qemu status $rc)"
else
	bad production_kernel_refuses_test_modes "qemu status $rc" "$(tail -3 "$tmpp")"
fi
rm -f "$tmpp" "$tmpp.elf32"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# boot <kernel> <cmdline> <seconds> <out>: sets $rc (QEMU: (code << 1) | 1;
# isa-debug-exit codes NUB_GUEST_EXIT_OK 0x10 -> 33, FAULT 0x12 -> 37)
boot() {
	timeout "$3" qemu-system-x86_64 -machine q35 -cpu max -m 256 -smp "${SMP:-1}" -nographic -no-reboot \
		-kernel "$1" -append "$2" -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-serial stdio -monitor none </dev/null 2>&1 | tr -d '\r' >"$4"
	rc=${PIPESTATUS[0]}
}

"$ref" >"$tmp/ref.txt" 2>"$tmp/ref.err"
nref=$(grep -c '^R ' "$tmp/ref.txt")
if [ "$nref" -ge 50 ]; then ok "guest_ref ($nref lines on the local backend)"; else bad guest_ref "only $nref lines" "$(cat "$tmp/ref.err")"; fi

kernels=("$kernel")
[ -f "$B/guest-clang/nub-guest.elf32" ] && kernels+=("$B/guest-clang/nub-guest.elf32")
for k in "${kernels[@]}"; do
for engine in interp jit; do
	# tag: the kernel's build dir; "-jit" when compiled code runs (ring 3)
	tag=$(basename "$(dirname "$k")")$([ "$engine" = jit ] && echo -jit)
	boot "$k" "selftest engine=$engine" 40 "$tmp/$tag.out"
	if [ "$rc" = 33 ] && grep -q '^SELFTEST DONE fails=0$' "$tmp/$tag.out" &&
		grep -q "^ENGINE $engine status=0$" "$tmp/$tag.out"; then
		ok "${tag}_selftest_boot"
	else
		bad "${tag}_selftest_boot" "qemu status $rc (want 33)" "$(tail -5 "$tmp/$tag.out")"
	fi
	grep '^R ' "$tmp/$tag.out" >"$tmp/$tag.R"
	n=$(wc -l <"$tmp/$tag.R")
	if [ "$n" -ge 50 ] && diff -u "$tmp/ref.txt" "$tmp/$tag.R" >"$tmp/$tag.diff"; then
		ok "${tag}_differential ($n result lines identical to the local backend)"
	else
		bad "${tag}_differential" "$n lines; diff (local vs guest):" "$(head -20 "$tmp/$tag.diff")"
	fi
	ng=$(grep -c '^G ' "$tmp/$tag.out")
	nbad=$(grep '^G ' "$tmp/$tag.out" | grep -vc ' ok=1$')
	if [ "$ng" -ge 20 ] && [ "$nbad" = 0 ]; then
		ok "${tag}_guest_checks ($ng checks)"
	else
		bad "${tag}_guest_checks" "$ng checks, $nbad failed" "$(grep '^G ' "$tmp/$tag.out" | grep -v ' ok=1$' | head -5)"
	fi
done
done

# ---- the same selftest with 2 and 4 CPUs: lanes on the application processors -----
# The kernel starts the APs by INIT/SIPI (guest_smp.c) and the selftest
# deals its lane jobs over every AP's lane (results byte for byte the
# INVOKE_CACHED ones, EVICT_JIT_READY on every lane, heap flat, STOP).
for smp in 2 4; do
	for engine in interp jit; do
		out="$tmp/smp$smp-$engine.out"
		SMP=$smp boot "$kernel" "selftest smp=$smp engine=$engine" 60 "$out"
		nbad=$(grep '^G ' "$out" | grep -vc ' ok=1$')
		if [ "$rc" = 33 ] && grep -q '^SELFTEST DONE fails=0$' "$out" && [ "$nbad" = 0 ] &&
			grep -q '^G smp_lanes_batch .* ok=1$' "$out"; then
			ok "selftest_smp${smp}_lanes_$engine ($(sed -n 's/^G smp_lanes_batch \(.*\) ok=1$/\1/p' "$out"), $((smp - 1)) APs)"
		else
			bad "selftest_smp${smp}_lanes_$engine" "qemu status $rc (want 33)" \
				"$(grep -E '^G (smp|invoke_worker)' "$out" | head -8; tail -5 "$out")"
		fi
	done
done

# ---- replay of the conformance vectors and SDK programs as caps ----------------
# Recorded on the local backend (its default engine, the JIT), replayed by
# each kernel on the interpreter and on the JIT (compiled code in ring 3):
# every reply (InvocationResult, PUT_CAP hash) must be byte-identical, so
# the guest's two engines agree with each other and with local.
vdirs=(tests/conformance/pvm/vectors tests/conformance/pvm/random tests/conformance/pvm/random-ro-write)
if ls "$B"/bench/*.pvm >/dev/null 2>&1; then
	vdirs+=("$B/bench") # the SDK programs (make check builds them when clang-19 is installed)
else
	echo "note: no SDK programs in $B/bench (make bench-pvms needs clang-19): vectors only"
fi
if "$ref" --record-vectors "$tmp/rec.bin" "${vdirs[@]}" >"$tmp/vref.txt" 2>"$tmp/vref.err"; then
	nrec=$(grep -c '^T ' "$tmp/vref.txt")
	what=$(sed -nE 's/.*: ([0-9]+ vectors, [0-9]+ programs).*/\1/p' "$tmp/vref.err")
	for k in "${kernels[@]}"; do
	for engine in interp jit; do
		tag=$(basename "$(dirname "$k")")-$engine
		timeout 120 qemu-system-x86_64 -machine q35 -cpu max -m 256 -nographic -no-reboot \
			-kernel "$k" -initrd "$tmp/rec.bin" -append "replay engine=$engine" \
			-device isa-debug-exit,iobase=0xf4,iosize=4 \
			-serial stdio -monitor none </dev/null 2>&1 | tr -d '\r' >"$tmp/$tag.replay"
		rc=${PIPESTATUS[0]}
		grep -a '^T ' "$tmp/$tag.replay" >"$tmp/$tag.T"
		# on the JIT, compiled code must really have run in ring 3 and its
		# faults (PAGE_FAULT exits, copy-on-write) gone through guest_jit_trap
		js=$(grep -a '^REPLAY JIT ' "$tmp/$tag.replay")
		entries=$(sed -nE 's/.*ring3_entries=([0-9]+).*/\1/p' <<<"$js")
		fexits=$(sed -nE 's/.*fault_exits=([0-9]+).*/\1/p' <<<"$js")
		fills=$(sed -nE 's/.*cow_fills=([0-9]+).*/\1/p' <<<"$js")
		if [ "$engine" = jit ]; then
			ring3_ok=$([ "${entries:-0}" -ge 500 ] && [ "${fexits:-0}" -ge 50 ] && [ "${fills:-0}" -ge 50 ] && echo 1)
		else
			ring3_ok=$([ "${entries:-1}" = 0 ] && echo 1)
		fi
		if [ "$rc" = 33 ] && [ "$nrec" -ge 2000 ] && [ "$ring3_ok" = 1 ] &&
			grep -aq "^ENGINE $engine status=0$" "$tmp/$tag.replay" &&
			diff -u "$tmp/vref.txt" "$tmp/$tag.T" >"$tmp/$tag.vdiff"; then
			ok "${tag}_replay_vectors ($nrec requests from $what: identical replies; ring 3: $entries entries, $fexits fault exits, $fills copy-on-write fills)"
		else
			bad "${tag}_replay_vectors" "qemu status $rc, $nrec requests" "$(grep -a 'REPLAY\|ENGINE' "$tmp/$tag.replay")" \
				"$(head -12 "$tmp/$tag.vdiff")"
		fi
	done
	done
else
	bad guest_record_vectors "$(cat "$tmp/vref.err")"
fi

# ---- instruction counts of the ring switch and a host-call round trip ---------
# (single-stepped in the guest, tests/guest/guest_measure.c; docs/guest.md
# has the figures): the ring switch runs exactly `ret` + `syscall` in ring
# 3; the JIT's host call runs compiled code in ring 3, the interpreter's none.
for k in "${kernels[@]}"; do
	tag=$(basename "$(dirname "$k")")
	boot "$k" measure 30 "$tmp/$tag.measure"
	m() { sed -nE "s/^MEASURE $1 ring0=([0-9]+) ring3=([0-9]+).*/\\$2/p" "$tmp/$tag.measure"; }
	if [ "$rc" = 33 ] && grep -aq '^MEASURE DONE fails=0$' "$tmp/$tag.measure" && [ "$(m ring_switch 2)" = 2 ] &&
		[ "$(m ring_switch 1)" -gt 0 ] && [ "$(m jit_host_call 2)" -gt 0 ] && [ "$(m interp_host_call 2)" = 0 ]; then
		ok "${tag}_measure_ring3 (instructions: ring switch $(m ring_switch 1)+$(m ring_switch 2); host call: jit $(m jit_host_call 1)+$(m jit_host_call 2), interp $(m interp_host_call 1) (ring 0 + ring 3))"
	else
		bad "${tag}_measure_ring3" "qemu status $rc" "$(grep -a MEASURE "$tmp/$tag.measure")"
	fi
done

# ---- fault probes (gcc kernel) ------------------------------------------------
elf64=$B/guest-test/nub-guest.elf
sym() { printf '0x%x' "0x$(nm "$elf64" | awk -v s="$1" '$3 == s {print $1}')"; }

probe_fault() { # name fn vector error cr2(or "any") symbol
	boot "$kernel" "probe=$2" 10 "$tmp/p$2.out"
	local line want_rip
	line=$(grep -a '^FAULT ' "$tmp/p$2.out" | head -1)
	want_rip=$(sym "$6")
	local got_v got_e got_rip got_cr2 got_fn
	got_v=$(sed -nE 's/.*vector=([0-9]+) .*/\1/p' <<<"$line")
	got_e=$(sed -nE 's/.*error=(0x[0-9a-f]+).*/\1/p' <<<"$line")
	got_rip=$(sed -nE 's/.*rip=(0x[0-9a-f]+).*/\1/p' <<<"$line")
	got_cr2=$(sed -nE 's/.*cr2=(0x[0-9a-f]+).*/\1/p' <<<"$line")
	got_fn=$(sed -nE 's/.* fn=([0-9a-z]+)$/\1/p' <<<"$line")
	if [ "$rc" = 37 ] && [ "$got_v" = "$3" ] && [ "$got_e" = "$4" ] && [ "$got_rip" = "$want_rip" ] &&
		{ [ "$5" = any ] || [ "$got_cr2" = "$5" ]; } && [ "$got_fn" = "$2" ]; then
		ok "$1 (vector $got_v error $got_e rip $got_rip = $6 cr2 $got_cr2)"
	else
		bad "$1" "qemu status $rc (want 37)" "got: $line" \
			"want: vector=$3 error=$4 rip=$want_rip ($6) cr2=$5 fn=$2"
	fi
}
probe_fault guest_probe_page_fault 100 14 0x2 0x8012345678 guest_probe_pf_insn
probe_fault guest_probe_general_protection 101 13 0x0 any guest_probe_gp_insn
probe_fault guest_probe_invalid_opcode 104 6 0x0 any guest_probe_ud_insn
probe_fault guest_probe_software_interrupt 105 128 0x0 any guest_probe_int_next

# ring 3 (compiled code's ring): reading kernel memory, writing its own code
# page (W^X) and running kernel code must each be a #PF from ring 3 (error
# code with U) that the kernel reports as fatal
ring3_fault() { # what error cr2 rip ("code": the probe's code page; "code+7")
	boot "$kernel" "ring3=$1" 10 "$tmp/r3$1.out"
	local line code got_e got_rip got_cr2 want_cr2 want_rip
	line=$(grep -a '^FAULT ' "$tmp/r3$1.out" | head -1)
	code=$(sed -nE 's/^RING3 [a-z]+ code=(0x[0-9a-f]+).*/\1/p' "$tmp/r3$1.out")
	got_e=$(sed -nE 's/.*error=(0x[0-9a-f]+).*/\1/p' <<<"$line")
	got_rip=$(sed -nE 's/.*rip=(0x[0-9a-f]+).*/\1/p' <<<"$line")
	got_cr2=$(sed -nE 's/.*cr2=(0x[0-9a-f]+).*/\1/p' <<<"$line")
	case $3 in code) want_cr2=$code ;; code+7) want_cr2=$(printf 0x%x $((code + 7))) ;; *) want_cr2=$(sym "$3") ;; esac
	case $4 in code) want_rip=$code ;; *) want_rip=$(sym "$4") ;; esac
	if [ "$rc" = 37 ] && [ -n "$code" ] && [ $((code)) -ge $((0x10000000000)) ] && grep -q 'vector=14 ' <<<"$line" &&
		[ "$got_e" = "$2" ] && [ "$got_cr2" = "$want_cr2" ] && [ "$got_rip" = "$want_rip" ]; then
		ok "guest_ring3_$1_faults (error $got_e rip $got_rip cr2 $got_cr2)"
	else
		bad "guest_ring3_$1_faults" "qemu status $rc (want 37)" "got: $line" "want: error=$2 rip=$want_rip cr2=$want_cr2"
	fi
}
ring3_fault read 0x5 guest_boot_info code
ring3_fault write 0x7 code+7 code
ring3_fault exec 0x15 guest_main guest_main

# 106: stack overflow into the guard page, reported from the IST1 stack
boot "$kernel" "probe=106" 10 "$tmp/p106.out"
line=$(grep -a '^FAULT ' "$tmp/p106.out" | head -1)
guard=$((16#$(nm "$elf64" | awk '$3 == "guest_boot_stack_guard" {print $1}')))
read -r rstart rsize < <(nm -S "$elf64" | awk '$4 ~ /^recurse(\.|$)/ {print $1, $2; exit}')
cr2=$(($(sed -nE 's/.*cr2=(0x[0-9a-f]+).*/\1/p' <<<"$line")))
rip=$(($(sed -nE 's/.*rip=(0x[0-9a-f]+).*/\1/p' <<<"$line")))
if [ "$rc" = 37 ] && grep -q 'vector=14 (#PF) error=0x2 ' <<<"$line" && grep -q ' fn=106$' <<<"$line" &&
	[ "$cr2" -ge "$guard" ] && [ "$cr2" -lt $((guard + 4096)) ] &&
	[ -n "$rstart" ] && [ "$rip" -ge $((16#$rstart)) ] && [ "$rip" -lt $((16#$rstart + 16#$rsize)) ]; then
	ok "guest_probe_stack_overflow (#PF in the guard page $(printf 0x%x "$guard"), rip inside recurse)"
else
	bad guest_probe_stack_overflow "qemu status $rc (want 37)" "got: $line" \
		"want: vector=14 error=0x2 cr2 in guard page $(printf 0x%x "$guard") rip in recurse (0x$rstart +0x$rsize)"
fi

# The fault report as a host sees it: the kernel halts ("halt_on_fault", as
# under kvm) and QEMU's monitor reads the mailbox from outside the guest.
mkfifo "$tmp/mon"
timeout 20 qemu-system-x86_64 -machine q35 -cpu max -m 256 -display none -no-reboot -kernel "$kernel" \
	-append "probe=100 halt_on_fault" -device isa-debug-exit,iobase=0xf4,iosize=4 \
	-serial "file:$tmp/mser.txt" -monitor stdio <"$tmp/mon" >"$tmp/mon.out" 2>&1 &
qpid=$!
exec 3>"$tmp/mon"
for _ in $(seq 150); do grep -aq '^FAULT' "$tmp/mser.txt" 2>/dev/null && break; sleep 0.1; done
sleep 0.2 # the report is written before the FAULT line; the halt follows it
echo "xp /1gx 0x1000000" >&3 # mailbox magic (NUB_GUEST_MAILBOX_GPA)
echo "xp /6gx 0x1000038" >&3 # NubRpcFault at header offset 56
echo quit >&3
exec 3>&-
wait "$qpid"
mem=$(tr -d '\r' <"$tmp/mon.out" | grep -a '^00000000010000' | sed -E 's/^[0-9a-f]+: //' | tr '\n' ' ' | tr -s ' ')
want="0x313043505242554e 0x000000010000000e 0x0000000000000002 $(printf '0x%016x' "$(sym guest_probe_pf_insn)") 0x0000008012345678"
if [ "${mem:0:${#want}}" = "$want" ] && grep -q '0x0000000000000064 $' <<<"$mem" && ! grep -aq 'probe 100.*PROBE' "$tmp/mser.txt"; then
	ok "guest_fault_report_in_mailbox (read by the QEMU monitor: magic, vector 14, error 2, rip, cr2, fn 100)"
else
	bad guest_fault_report_in_mailbox "read: $mem" "want: $want ... fn 0x64"
fi

boot "$kernel" "probe=103" 10 "$tmp/p103.out"
if [ "$rc" = 33 ] && grep -aq '^HOSTCHECK reply rejected: ' "$tmp/p103.out" &&
	grep -aq '^PROBE fn=103 returned status=1 len=0 rejected=1$' "$tmp/p103.out" &&
	grep -aq '^PROBE after fn=103 heap_stats status=0 len=32 rejected=0$' "$tmp/p103.out"; then
	ok "guest_probe_garbage_reply (rejected, kernel keeps serving)"
else
	bad guest_probe_garbage_reply "qemu status $rc (want 33)" "$(grep -aE 'HOSTCHECK|PROBE' "$tmp/p103.out")"
fi

boot "$kernel" "probe=102" 3 "$tmp/p102.out"
if [ "$rc" = 124 ] && grep -aq '^probe 102: looping forever$' "$tmp/p102.out" && ! grep -aq '^FAULT' "$tmp/p102.out"; then
	ok "guest_probe_endless_loop (still looping at the 3 s timeout)"
else
	bad guest_probe_endless_loop "status $rc (want 124 = killed by timeout)" "$(tail -3 "$tmp/p102.out")"
fi

# ---- the ELF as a loader sees it ---------------------------------------------
off=$(LC_ALL=C grep -obUaP '\x02\xb0\xad\x1b' "$kernel" | head -1 | cut -d: -f1)
if [ -n "$off" ] && [ "$off" -lt 8192 ] && [ $((off % 4)) = 0 ]; then
	ok "guest_multiboot_header (file offset $off)"
else
	bad guest_multiboot_header "Multiboot magic at offset '${off}' (want < 8192, 4-aligned)"
fi
objcopy -O binary --only-section=.boot_info "$elf64" "$tmp/bi.bin"
magic=$(od -An -tx8 -N8 "$tmp/bi.bin" | tr -d ' ')
dir=$(od -An -tx8 -j8 -N8 "$tmp/bi.bin" | tr -d ' ')
want_dir=$(nm "$elf64" | awk '$3 == "guest_capdir_table" {print $1}')
if [ "$magic" = 4a41525f424f4f54 ] && [ -n "$want_dir" ] && [ "$((16#$dir))" = "$((16#$want_dir))" ]; then
	ok "guest_boot_info_section (magic $magic, directory_va 0x$dir)"
else
	bad guest_boot_info_section "magic '$magic' directory_va '$dir' (want guest_capdir_table $want_dir)"
fi
# ---- the contract header stands alone --------------------------------------------
printf '#include "nub/rpc.h"\nint nub_rpc_probe(void);\nint nub_rpc_probe(void) { return (int)sizeof(NubRpcMailbox); }\n' >"$tmp/rpc.c"
for cc in gcc clang; do
	command -v "$cc" >/dev/null || continue
	if "$cc" -std=c11 -pedantic-errors -Wall -Wextra -Werror -ffreestanding -nostdinc \
		-isystem "$("$cc" -print-file-name=include)" -Iinclude -c "$tmp/rpc.c" -o "$tmp/rpc.o" 2>"$tmp/rpc.err"; then
		ok "rpc_header_freestanding_$cc"
	else
		bad "rpc_header_freestanding_$cc" "$(head -5 "$tmp/rpc.err")"
	fi
done
finish
