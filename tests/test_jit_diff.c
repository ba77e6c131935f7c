/* test_jit_diff.c: every SDK program on both engines: identical state at every exit.
 *
 * Builds the benchmark kernels (the .c files of bench/programs), the linker's
 * feature programs (tests/link/features.c at -O0 and -O2, x0ops.c) and nub's
 * own engine compiled to PVM (tests/link/pvm_in_pvm.c) with nub-cc, runs
 * each as a standard program from a fresh instance on the interpreter and on
 * the JIT, answering up to 1000 host calls (r7 changed, one byte of the
 * stack written) and resuming, and compares after every exit: status, pc,
 * gas, exit argument, heap pointer, the 13 registers, and the access and
 * bytes of every mapped page. Also runs each with a gas budget that stops it
 * part-way (out-of-gas) and then resumes it on the other engine. Skips
 * without clang-19 / ld.lld-19 (scripts/deps.sh --riscv). */
#include <stdlib.h>
#include <unistd.h>

#include "cli/program.h"
#include "jit/jit.h"
#include "test.h"

static jit_vm *vm;


static int have_toolchain(void)
{
	return system("command -v clang-19 >/dev/null 2>&1 && command -v ld.lld-19 >/dev/null 2>&1") == 0;
}

/* Run one built program both ways; 0 when identical. */
static int diff_program(const char *pvm, const char *what, unsigned flags)
{
	loaded_prog lp;
	if (!prog_load(pvm, "auto", &lp)) {
		printf("    %s: cannot load %s\n", what, pvm);
		return 1;
	}
	jit_code *code;
	jit_err je = jit_compile_flags(lp.prog, flags, &code);
	if (je) {
		printf("    %s: %s\n", what, jit_strerror(je));
		prog_free(&lp);
		return 1;
	}
	int bad = 0;
	/* pass 0: unlimited gas; pass 1: stop part-way, then swap engines */
	for (int pass = 0; pass < 2 && !bad; pass++) {
		pvm_instance *mi = prog_instance(&lp, NULL, 0), *mj = prog_instance(&lp, NULL, 0);
		int64_t g = pass == 0 ? INT64_MAX / 2 : 100003;
		pvm_set_gas(mi, g);
		pvm_set_gas(mj, g);
		bool swapped = false;
		for (int calls = 0; calls <= 1000; calls++) {
			pvm_exit ei = pvm_run(mi);
			pvm_exit ej = swapped ? pvm_run(mj) : jit_run(vm, code, mj);
			const char *d = pvm_state_differ(mi, ei, mj, ej);
			if (d) {
				printf("    %s (pass %d, after %d host calls): %s differs: interp %s pc %u gas %lld, jit %s pc "
				       "%u gas %lld\n",
				       what, pass, calls, d, pvm_exit_name(ei), pvm_pc(mi), (long long)pvm_gas(mi),
				       pvm_exit_name(ej), pvm_pc(mj), (long long)pvm_gas(mj));
				bad = 1;
				break;
			}
			if (ei == PVM_EXIT_OOG && pass == 1 && !swapped) {
				/* resume the JIT's instance on the interpreter and vice versa */
				pvm_instance *t = mi;
				mi = mj;
				mj = t;
				swapped = true;
				pvm_set_gas(mi, INT64_MAX / 2);
				pvm_set_gas(mj, INT64_MAX / 2);
				continue;
			}
			if (ei != PVM_EXIT_HOST)
				break;
			uint8_t b = (uint8_t)calls;
			uint32_t sp = (uint32_t)pvm_reg(mi, 1) - 1;
			pvm_set_reg(mi, 7, pvm_reg(mi, 7) ^ (uint64_t)calls);
			pvm_set_reg(mj, 7, pvm_reg(mj, 7) ^ (uint64_t)calls);
			if (pvm_mem_access(mi, sp) == PVM_ACCESS_RW) {
				pvm_mem_write(mi, sp, &b, 1);
				pvm_mem_write(mj, sp, &b, 1);
			}
		}
		pvm_instance_free(mi);
		pvm_instance_free(mj);
	}
	jit_code_free(code);
	prog_free(&lp);
	return bad;
}

static char tmpdir[] = "/tmp/nub-jit-diff-XXXXXX";

static int build_and_diff(const char *src, const char *opt, const char *name)
{
	char cmd[1024], out[512];
	const char *b = getenv("B");
	snprintf(out, sizeof out, "%s/%s%s.pvm", tmpdir, name, opt);
	snprintf(cmd, sizeof cmd, "NUB=%s/nub scripts/nub-cc %s %s -o %s >/dev/null 2>&1", b ? b : "build", opt, src,
	         out);
	if (system(cmd) != 0) {
		printf("    cannot build %s (%s)\n", src, cmd);
		return 1;
	}
	char what[128];
	snprintf(what, sizeof what, "%s %s", name, opt);
	/* with the CPU's optional features (BMI2's mulx) and without */
	int r = diff_program(out, what, 0);
	snprintf(what, sizeof what, "%s %s (no BMI2)", name, opt);
	r |= diff_program(out, what, JIT_C_NO_BMI2);
	unlink(out);
	return r;
}

TEST(bench_kernels)
{
	if (!have_toolchain())
		SKIP("clang-19/ld.lld-19 not installed (run scripts/deps.sh --riscv)");
	static const char *const k[] = {"sieve", "blake2b", "keccak", "goldilocks", "polyeval", "sort", "hostcall", "ed25519"};
	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
		char src[128];
		snprintf(src, sizeof src, "bench/programs/%s.c", k[i]);
		ASSERT_EQ(build_and_diff(src, "-O2", k[i]), 0);
	}
}

TEST(link_features)
{
	if (!have_toolchain())
		SKIP("clang-19/ld.lld-19 not installed (run scripts/deps.sh --riscv)");
	ASSERT_EQ(build_and_diff("tests/link/features.c", "-O0", "features"), 0);
	ASSERT_EQ(build_and_diff("tests/link/features.c", "-O2", "features"), 0);
	ASSERT_EQ(build_and_diff("tests/link/x0ops.c", "-O2", "x0ops"), 0);
	/* nub's own interpreter compiled to PVM, running a program inside */
	ASSERT_EQ(build_and_diff("-Isrc tests/link/pvm_in_pvm.c src/pvm/pvm_decode.c src/pvm/pvm_spi.c src/pvm/pvm_mem.c "
	                         "src/pvm/pvm_interp.c src/pvm/pvm_disasm.c src/pvm/pvm_util.c",
	                         "-O2", "pvm_in_pvm"),
	          0);
}

int main(void)
{
	/* paths are relative to the source root, where tests/run.sh runs us */
	if (access("src/cli/cmd.h", R_OK) != 0 || !mkdtemp(tmpdir) || jit_vm_new(&vm) != JIT_E_OK) {
		printf("FAIL setup\nRESULT passed=0 failed=1 skipped=0\n");
		return 1;
	}
	RUN(bench_kernels);
	RUN(link_features);
	jit_vm_free(vm);
	rmdir(tmpdir);
	return test_done();
}
