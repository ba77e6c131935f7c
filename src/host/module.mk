# src/host/module.mk: the KVM VMM and the kvm backend (libnub), with the
# guest kernel ELF embedded (vmm_guest_image.c .incbin's $(B)/guest/nub-guest.elf,
# built by src/guest/module.mk), and the kvm-in-QEMU test program.
HOST_SRCS = src/host/vmm_kvm.c src/host/vmm_kvm_x86_64.c src/host/vmm_lanes.c src/host/vmm_mem.c src/host/vmm_elf.c \
            src/host/vmm_rpc.c src/host/vmm_capdir.c src/host/vmm_guest_image.c src/host/kvm_backend.c
LIB_SRCS += $(HOST_SRCS)
$(B)/obj/src/host/vmm_guest_image.o: CFLAGS += -DNUB_GUEST_ELF='"$(CURDIR)/$(B)/guest/nub-guest.elf"'
$(B)/obj/src/host/vmm_guest_image.o: $(B)/guest/nub-guest.elf

# host-side unit test (ELF checks, gpa translation, capdir parsing; no /dev/kvm)
TEST_PROGS += test_host_vmm
TEST_SRCS_test_host_vmm = tests/test_host_vmm.c

# the static test binary run inside the QEMU Linux by tests/kvm_in_qemu_test.sh
# (in $(B)/host/, not $(B)/tests/: tests/run.sh runs it through that script).
# Static for the initramfs, so not in sanitizer builds.
KVM_TEST_SRCS = tests/kvm/kvm_sandbox_test.c tests/kvm/kvm_hooks.c src/cli/vector.c src/cli/vector_caps.c
$(B)/host/kvm_sandbox_test: $(KVM_TEST_SRCS) $(LIBNUB_INTERNAL) $(B)/guest-test/nub-guest.elf
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_ALL) -Itests -DNUB_TEST_GUEST_ELF='"$(CURDIR)/$(B)/guest-test/nub-guest.elf"' -static -o $@ \
		$(KVM_TEST_SRCS) $(LIBNUB_INTERNAL) $(LDFLAGS_ALL) $(CLI_LIBS) -lpthread
ifeq ($(SAN),0)
EXTRA_BINS += $(B)/host/kvm_sandbox_test
endif

# a static `nub` (no shared libs in the QEMU initramfs): `nub bench sandbox --backend kvm`
# (CLI_OBJS is defined after this file is included: the sources here)
$(B)/host/nub-static: $(CLI_SRCS:%.c=$(B)/obj/%.o) $(LIBNUB_INTERNAL)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -static -o $@ $(CLI_OBJS) $(LIBNUB_INTERNAL) $(LDFLAGS_ALL) $(CLI_LIBS) -lpthread
