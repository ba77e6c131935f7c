# src/link/module.mk: nub link (RISC-V RV64E ELF -> PVM), its tests and fuzzer.
LINK_SRCS = src/link/link.c src/link/link_elf.c src/link/link_riscv.c src/link/link_layout.c \
	src/link/link_translate.c src/link/link_emit.c
CLI_SRCS += src/cli/cmd_link.c $(LINK_SRCS)
TEST_PROGS += test_link
TEST_SRCS_test_link = tests/test_link.c $(LINK_SRCS)
FUZZ_TARGETS += fuzz_elf
FUZZ_SRCS_fuzz_elf = $(LINK_SRCS)
# the generic fuzz rule builds only $(LIB_SRCS); this more specific pattern
# (a pattern so it never becomes the default goal) adds the linker sources
build-fuzz/fuzz_el%: fuzz/fuzz_el%.c $(LINK_SRCS) $(LIB_SRCS)
	@mkdir -p build-fuzz
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(LINK_SRCS) $(LIB_SRCS)

# PVM builds of the benchmark kernels (bench/programs/*.c) for `nub bench`:
#   make $(BENCH_PVMS)   (needs clang-19: scripts/deps.sh --riscv)
BENCH_KERNELS = sieve blake2b keccak goldilocks polyeval sort hostcall ed25519
BENCH_PVMS = $(BENCH_KERNELS:%=$(B)/bench/%.pvm)
$(B)/bench/%.pvm: bench/programs/%.c sdk/include/nub_guest.h sdk/lib/nub_libc.c sdk/lib/nub_rt.c sdk/nub.ld $(B)/nub
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NUB-CC  $@")
	$(Q)NUB=$(B)/nub scripts/nub-cc -O2 $< -o $@
bench-pvms: $(BENCH_PVMS)
.PHONY: bench-pvms
