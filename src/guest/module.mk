# src/guest/module.mk: the guest kernel (freestanding x86-64, booted by a
# Multiboot loader or the kvm host), its ELF32 copy for QEMU -kernel, the
# same kernel built with clang when clang is installed, and the host
# reference program of tests/guest_test.sh.
GUEST_SRCS = src/guest/guest_main.c src/guest/guest_cpu_x86_64.c src/guest/guest_paging.c src/guest/guest_trap.c \
             src/guest/guest_log.c src/guest/guest_string.c src/guest/guest_heap.c \
             src/guest/guest_platform.c src/guest/guest_capdir.c src/guest/guest_dispatch.c \
             src/guest/guest_handlers.c src/guest/guest_invoke.c src/guest/guest_lane.c src/guest/guest_smp.c \
             src/guest/guest_jit.c $(ENGINE_SRCS) src/jit/jit_x86_64_emit.c src/jit/jit_compile.c src/jit/jit_run.c \
             src/cap/blake2b.c src/cap/cap_codec.c src/cap/cap_core.c src/cap/lane_slot.c
# Two images. The production kernel (embedded in libnub): the
# specification's fn ids only. The test kernel (tests, QEMU modes, fault
# probes 100..106): the same sources plus tests/guest/.
GUEST_PROD_SRCS = $(GUEST_SRCS) src/guest/guest_flavour_prod.c
GUEST_TEST_SRCS = $(GUEST_SRCS) tests/guest/guest_flavour_test.c tests/guest/guest_probe.c \
                  tests/guest/guest_selftest.c tests/guest/guest_replay.c tests/guest/guest_scenario.c \
                  tests/guest/guest_measure.c
GUEST_ASMS = src/guest/guest_boot_x86_64.S src/guest/guest_jit_x86_64.S
GUEST_LDS  = src/guest/guest.ld
# Freestanding, no red zone (traps share the stack), no SSE/MMX state, no
# PIC: linked at 1 MiB and identity mapped (so -mcmodel=small, not kernel).
# PVM_MEM_MMU: the engine's memory backend for the guest (PVM memory under
# the MMU, src/pvm/pvm_mem.h); the host build keeps the software table only.
GUEST_CFLAGS = -std=gnu11 -O2 -g $(WARN) -DPVM_MEM_MMU -ffreestanding -nostdinc -mno-red-zone -mno-sse -mno-sse2 \
               -mno-mmx -mno-avx -fno-stack-protector -fno-pic -fno-pie -mcmodel=small \
               -fno-asynchronous-unwind-tables -fno-omit-frame-pointer -Iinclude -Isrc
GUEST_LDFLAGS = -nostdlib -static -Wl,-T,$(GUEST_LDS) -Wl,-z,max-page-size=0x1000 \
                -Wl,--build-id=none -Wl,-z,noexecstack

# $(1) = build dir under $(B), $(2) = compiler, $(3) = sources
define GUEST_KERNEL
$(B)/$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  CC      $$@")
	$$(Q)$(2) $$(GUEST_CFLAGS) -isystem $$(shell $(2) -print-file-name=include) -MMD -MP -c $$< -o $$@
$(B)/$(1)/obj/%.o: %.S
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  AS      $$@")
	$$(Q)$(2) $$(GUEST_CFLAGS) -isystem $$(shell $(2) -print-file-name=include) -MMD -MP -c $$< -o $$@
$(B)/$(1)/nub-guest.elf: $$(GUEST_ASMS:%.S=$(B)/$(1)/obj/%.o) $$($(3):%.c=$(B)/$(1)/obj/%.o) $$(GUEST_LDS)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$(2) $$(GUEST_LDFLAGS) -o $$@ $$(GUEST_ASMS:%.S=$(B)/$(1)/obj/%.o) $$($(3):%.c=$(B)/$(1)/obj/%.o)
$(B)/$(1)/nub-guest.elf32: $(B)/$(1)/nub-guest.elf
	@$$(if $$(Q),echo "  OBJCOPY $$@")
	$$(Q)objcopy -O elf32-i386 $$< $$@
endef

$(eval $(call GUEST_KERNEL,guest,gcc,GUEST_PROD_SRCS))
$(eval $(call GUEST_KERNEL,guest-test,gcc,GUEST_TEST_SRCS))
EXTRA_BINS += $(B)/guest/nub-guest.elf $(B)/guest-test/nub-guest.elf $(B)/guest-test/nub-guest.elf32 $(B)/guest/guest_ref
ifneq ($(shell command -v clang 2>/dev/null),)
$(eval $(call GUEST_KERNEL,guest-clang,clang,GUEST_TEST_SRCS))
EXTRA_BINS += $(B)/guest-clang/nub-guest.elf $(B)/guest-clang/nub-guest.elf32
endif

GUEST_REF_SRCS = tests/guest/guest_ref.c tests/guest/guest_scenario.c src/cli/vector.c src/cli/vector_caps.c
$(B)/guest/guest_ref: $(GUEST_REF_SRCS) $(LIBNUB_INTERNAL)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_ALL) -Itests/guest -o $@ $(GUEST_REF_SRCS) $(LIBNUB_INTERNAL) $(LDFLAGS_ALL) \
		-Wl,--wrap=nub_put_cap $(CLI_LIBS)
-include $(shell find $(B)/guest/obj $(B)/guest-test/obj $(B)/guest-clang/obj -name '*.d' 2>/dev/null)

# host-side unit test of the guest's heap, directory and dispatch table
TEST_PROGS += test_guest_units
TEST_SRCS_test_guest_units = tests/test_guest_units.c src/guest/guest_heap.c src/guest/guest_capdir.c \
                             src/guest/guest_dispatch.c
