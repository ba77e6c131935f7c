# src/cap/module.mk: cap codec + BLAKE2b (freestanding), their tests and fuzzer.
LIB_SRCS   += src/cap/blake2b.c src/cap/cap_codec.c src/cap/cap_set.c src/cap/cap_core.c src/cap/lane_slot.c
TEST_PROGS += test_caps test_abi
TEST_SRCS_test_caps = tests/test_caps.c
TEST_SRCS_test_abi  = tests/test_abi.c
TEST_LIBS  += -lsodium
FUZZ_TARGETS += fuzz_cap
TEST_PROGS += test_lane_slot
TEST_SRCS_test_lane_slot = tests/test_lane_slot.c
FUZZ_TARGETS += fuzz_lane_slot
FUZZ_TARGETS += fuzz_host_op
