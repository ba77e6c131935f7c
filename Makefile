# Makefile: builds libnub (static + shared), the nub CLI, tests and fuzzers.
#   make            build everything into $(B)/ (default build/)
#   make demo       install missing packages, build, run the embedded demo
#   make check      install missing packages, build, run the whole test suite
#   make test       build and run the whole test suite (summary: N passed, N failed)
#   make SAN=1 ...  the same with ASan + UBSan (into build-san/)
#   make WERROR=0   do not turn warnings into errors
#   make V=1        show the commands
#   make fuzz       libFuzzer targets (clang) into build-fuzz/
#   make install PREFIX=/usr/local
CC      ?= cc
PREFIX  ?= /usr/local
WERROR  ?= 1
SAN     ?= 0
V       ?= 0

ifeq ($(SAN),1)
B       ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
B       ?= build
SANFLAGS =
endif

WARN    = -Wall -Wextra -Wconversion -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wno-sign-conversion -Wvla -Wformat=2
ifeq ($(WERROR),1)
WARN   += -Werror
endif
OPT     ?= -O2 -g
# no source path reaches a binary: debug info and __FILE__ name files relative
# to the source root (tests/install_test.sh checks the installed files)
PATHMAP = -ffile-prefix-map=$(CURDIR)=.
CFLAGS_ALL = -std=gnu11 $(OPT) $(WARN) $(PATHMAP) -fPIC -fvisibility=hidden -Iinclude -Isrc $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

ifeq ($(V),1)
Q =
else
Q = @
endif

# ---- sources (listed explicitly; each area may add to these in its module.mk)
ENGINE_SRCS = src/pvm/pvm_decode.c src/pvm/pvm_spi.c src/pvm/pvm_mem.c src/pvm/pvm_interp.c \
              src/pvm/pvm_disasm.c src/pvm/pvm_util.c
LIB_SRCS    = $(ENGINE_SRCS) src/local/platform_libc.c
CLI_SRCS    = src/cli/main.c src/cli/util.c src/cli/vector.c src/cli/vector_caps.c src/cli/program.c src/cli/cmd_run.c \
              src/cli/cmd_disasm.c src/cli/cmd_conformance.c src/cli/cmd_bench.c src/cli/cmd_bench_lanes.c src/cli/cmd_demo.c
CLI_LIBS    = -ljson-c
TEST_PROGS  = test_pvm test_gas_slicing
# name of a test binary -> its sources: TEST_SRCS_<name>
TEST_SRCS_test_pvm = tests/test_pvm.c
TEST_SRCS_test_gas_slicing = tests/test_gas_slicing.c src/cli/vector.c
TEST_LIBS   =
FUZZ_TARGETS = fuzz_blob fuzz_spi fuzz_run fuzz_vector
EXTRA_BINS  =

.DEFAULT_GOAL := all
# the CLI and the tests link the engine's internals (pvm_*, cap_*, ...):
# they use this archive; only the localised libnub.a/.so are installed
LIBNUB_INTERNAL = $(B)/libnub-internal.a
MODULES ?= src/jit/module.mk src/cap/module.mk src/local/module.mk src/host/module.mk src/link/module.mk src/guest/module.mk bench/module.mk
-include $(MODULES)

LIB_OBJS = $(LIB_SRCS:%.c=$(B)/obj/%.o)
CLI_OBJS = $(CLI_SRCS:%.c=$(B)/obj/%.o)
GUEST_CFLAGS += $(PATHMAP)
LD      ?= ld
OBJCOPY ?= objcopy

all: $(B)/libnub.a $(B)/libnub.so $(LIBNUB_INTERNAL) $(B)/nub $(EXTRA_BINS) $(TEST_PROGS:%=$(B)/tests/%)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIBNUB_INTERNAL): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# The shipped libraries: all library objects linked into one relocatable
# object in which only the public API (the default-visibility symbols,
# NUB_API) stays global; every internal symbol (blake2b_*, pvm_*, cap_*,
# vmm_*, ...) becomes local, so it cannot clash with an application's own.
# tests/exports_test.sh lists what both libraries export.
$(B)/libnub.o: $(LIB_OBJS)
	@$(if $(Q),echo "  LD -r   $@")
	$(Q)$(LD) -r -o $@.all $^
	$(Q)readelf -sW $@.all | awk '$$5 == "GLOBAL" && $$6 == "DEFAULT" && $$7 != "UND" { print $$8 }' | sort -u >$@.api
	$(Q)test -s $@.api || { echo "$@: no public symbol found" >&2; exit 1; }
	$(Q)$(OBJCOPY) --keep-global-symbols=$@.api $@.all $@

$(B)/libnub.a: $(B)/libnub.o
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/libnub.so: $(B)/libnub.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -o $@ $^ $(LDFLAGS_ALL)

# nub runs the engine directly (nub run, conformance, bench), so it links the
# internal archive, not the shipped library
$(B)/nub: $(CLI_OBJS) $(LIBNUB_INTERNAL)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $(CLI_OBJS) $(LIBNUB_INTERNAL) $(LDFLAGS_ALL) $(CLI_LIBS)

define TEST_RULE
$(B)/tests/$(1): $$(TEST_SRCS_$(1):%.c=$(B)/obj/%.o) $(LIBNUB_INTERNAL)
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CC) -o $$@ $$(TEST_SRCS_$(1):%.c=$(B)/obj/%.o) $(LIBNUB_INTERNAL) $$(LDFLAGS_ALL) $$(TEST_LIBS) $(CLI_LIBS)
endef
$(foreach t,$(TEST_PROGS),$(eval $(call TEST_RULE,$(t))))

# fuzz targets replayed over tests/regress/ as ordinary tests
REPLAY = fuzz_blob fuzz_spi fuzz_run fuzz_vector fuzz_cap fuzz_lane_slot fuzz_host_op $(REPLAY_JIT)
$(B)/tests/replay_%: fuzz/%.c tests/fuzz_replay.c $(LIBNUB_INTERNAL) $(B)/obj/src/cli/vector.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -DFUZZ_TARGET='"$*"' -o $@ $< tests/fuzz_replay.c \
		$(B)/obj/src/cli/vector.o $(LIBNUB_INTERNAL) $(LDFLAGS_ALL) $(CLI_LIBS)
all: $(REPLAY:%=$(B)/tests/replay_%)

test: all
	$(Q)B=$(B) SANFLAGS="$(SANFLAGS)" tests/run.sh

# the README's two commands: install what is missing, build, then run
deps:
	$(Q)scripts/deps.sh --all
demo:
	$(Q)scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(B)/nub demo
check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory bench-programs
	$(Q)$(MAKE) --no-print-directory test

# ---- fuzzing (clang + libFuzzer)
FUZZ_CC ?= clang
FUZZ_FLAGS = -std=gnu11 -g -O1 -Iinclude -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz: $(FUZZ_TARGETS:%=build-fuzz/%)
build-fuzz/%: fuzz/%.c $(LIB_SRCS)
	@mkdir -p build-fuzz
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRCS)
build-fuzz/fuzz_vector: fuzz/fuzz_vector.c src/cli/vector.c $(LIB_SRCS)
	@mkdir -p build-fuzz
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< src/cli/vector.c $(LIB_SRCS) -ljson-c

# ---- install
# bin/: nub, nub-cc; lib/: the localised libnub.a/.so, nub.pc; include/nub/:
# the public headers only; share/nub/: the conformance corpus (with its
# licences) and the C guest SDK, found at run time relative to the binaries
# (BIN/../share/nub), never by a compiled-in path.
SHARE_DIR = $(DESTDIR)$(PREFIX)/share/nub
CORPUS_DIRS = vectors random random-ro-write bench
install: $(B)/libnub.a $(B)/libnub.so $(B)/nub
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/nub $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(B)/nub $(DESTDIR)$(PREFIX)/bin/nub
	install -m 755 scripts/nub-cc $(DESTDIR)$(PREFIX)/bin/nub-cc
	install -m 644 $(B)/libnub.a $(DESTDIR)$(PREFIX)/lib/libnub.a
	install -m 755 $(B)/libnub.so $(DESTDIR)$(PREFIX)/lib/libnub.so
	install -m 644 include/nub/nub.h include/nub/abi.h $(DESTDIR)$(PREFIX)/include/nub/
	install -m 644 nub.pc.in $(DESTDIR)$(PREFIX)/lib/pkgconfig/nub.pc
	install -d $(CORPUS_DIRS:%=$(SHARE_DIR)/conformance/pvm/%) $(SHARE_DIR)/sdk/include/nub $(SHARE_DIR)/sdk/lib
	install -m 644 tests/conformance/known-deviations.txt $(SHARE_DIR)/conformance/
	install -m 644 tests/conformance/pvm/README.md tests/conformance/pvm/LICENSE* $(SHARE_DIR)/conformance/pvm/
	$(foreach d,$(CORPUS_DIRS),install -m 644 tests/conformance/pvm/$(d)/*.json $(SHARE_DIR)/conformance/pvm/$(d)/ &&) true
	install -m 644 sdk/nub.ld $(SHARE_DIR)/sdk/
	install -m 644 sdk/include/*.h $(SHARE_DIR)/sdk/include/
	install -m 644 include/nub/pvm_layout.h $(SHARE_DIR)/sdk/include/nub/
	install -m 644 sdk/lib/*.c sdk/lib/*.h $(SHARE_DIR)/sdk/lib/

clean:
	rm -rf build build-san build-fuzz

.PHONY: all test fuzz install clean deps demo check
-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
