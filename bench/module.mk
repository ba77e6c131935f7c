# bench/module.mk: native builds of the benchmark kernels for `nub bench programs`
# (the PVM builds are $(BENCH_PVMS), src/link/module.mk). The same C file as the
# PVM, clang-19 -O2 for x86-64, the host libc's memcpy/memset; the harness
# (bench/programs/native_main.c) times calls in-process. Without clang-19 the
# native column is skipped, loudly (here and in `nub bench programs`).
BENCH_NATIVE_CC ?= clang-19
BENCH_NATIVES = $(BENCH_KERNELS:%=$(B)/bench/native/%)
$(B)/bench/native/%: bench/programs/%.c bench/programs/native_main.c bench/programs/bench_arg.h \
		bench/programs/bench_host.h sdk/include/nub_guest.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NATIVE  $@")
	$(Q)$(BENCH_NATIVE_CC) -std=gnu11 -O2 -Isdk/include -Ibench/programs -DKERNEL_FN=bench_$* \
		-o $@ $< bench/programs/native_main.c
bench-natives: $(BENCH_NATIVES)
# both builds, or a loud note when clang-19 is missing (make keeps working)
bench-programs:
	$(Q)if command -v $(BENCH_NATIVE_CC) >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory bench-pvms bench-natives; \
	else \
		echo "*** WARNING: $(BENCH_NATIVE_CC) not found: no benchmark kernels (PVM or native) built;"; \
		echo "*** 'nub bench programs' will have no native column (scripts/deps.sh --riscv installs it)"; \
	fi
.PHONY: bench-natives bench-programs
CLI_SRCS += src/cli/cmd_bench_programs.c
CLI_LIBS += -lm
