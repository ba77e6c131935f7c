# src/local/module.mk: the public API (src/api) and the local backend.
# (src/local/platform_libc.c is listed by the top Makefile.)
LIB_SRCS   += src/api/nub_api.c src/api/nub_err.c src/api/nub_backends.c src/api/nub_build.c src/local/local_backend.c src/local/local_lanes.c
TEST_PROGS += test_api
TEST_SRCS_test_api = tests/test_api.c
CLI_SRCS   += src/cli/cmd_info.c
TEST_PROGS += test_caps_vectors
TEST_SRCS_test_caps_vectors = tests/test_caps_vectors.c src/cli/vector.c src/cli/vector_caps.c
TEST_PROGS += test_limits
TEST_SRCS_test_limits = tests/test_limits.c
TEST_LIBS  += -lpthread
TEST_PROGS += test_lanes
TEST_SRCS_test_lanes = tests/test_lanes.c src/cli/vector.c src/cli/vector_caps.c
