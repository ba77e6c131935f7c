# src/jit/module.mk: the x86-64 JIT (freestanding, src/jit) and its host
# services on Linux (src/platform/platform_jit_posix.c), their tests.
ifeq ($(shell uname -m),x86_64)
LIB_SRCS   += src/jit/jit_x86_64_emit.c src/jit/jit_compile.c src/jit/jit_run.c src/platform/platform_jit_posix.c \
              src/platform/jit_perfmap.c
TEST_PROGS += test_jit_emit
TEST_SRCS_test_jit_emit = tests/test_jit_emit.c
endif
# the CLI's engine switch (the jit side compiles only on x86-64)
CLI_SRCS   += src/cli/engine.c
ifeq ($(shell uname -m),x86_64)
FUZZ_TARGETS += fuzz_jit_cross
endif
# the cross-check's findings (tests/regress/fuzz_jit_cross-*) replayed as tests
ifeq ($(shell uname -m),x86_64)
REPLAY_JIT = fuzz_jit_cross
endif
ifeq ($(shell uname -m),x86_64)
TEST_PROGS += test_jit_diff
TEST_SRCS_test_jit_diff = tests/test_jit_diff.c src/cli/program.c src/cli/vector.c src/cli/util.c
endif
ifeq ($(shell uname -m),x86_64)
TEST_PROGS += test_jit_signals
TEST_SRCS_test_jit_signals = tests/test_jit_signals.c
TEST_LIBS += -lpthread
endif
ifeq ($(shell uname -m),x86_64)
TEST_PROGS += test_jit_fuse
TEST_SRCS_test_jit_fuse = tests/test_jit_fuse.c
endif
ifeq ($(shell uname -m),x86_64)
TEST_PROGS += test_jit_addr
TEST_SRCS_test_jit_addr = tests/test_jit_addr.c
endif
