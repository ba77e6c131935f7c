/* test_gas_slicing.c: out-of-gas is exact and leaves the state untouched.
 *
 * For every vector of the corpus (vectors/, random/, random-ro-write/): run
 * it whole with gas G (using U); then, for many k < U, run it with gas k,
 * which must stop with OUT_OF_GAS and gas 0, give it G - k more gas and run
 * it on. The final state (status, pc, gas, registers, every mapped byte) must
 * equal the whole run's. This checks the interpreter's per-run gas
 * pre-charging and refunds against the one-gas-per-instruction rule at every
 * cut point, including cuts in the middle of straight-line runs. */
#include <dirent.h>
#include <stdlib.h>

#include "cli/vector.h"
#ifdef __x86_64__
#include "jit/jit.h"
#endif
#include "test.h"

static unsigned cuts_checked;

/* the engine under test: the interpreter, or the JIT with this code */
static int use_jit;
#ifdef __x86_64__
static jit_vm *vm;
static jit_code *code;
#endif

static pvm_exit run(pvm_instance *m, int64_t k)
{
#ifdef __x86_64__
	if (use_jit && k % 2 == 0)
		return jit_run(vm, code, m);
#endif
	(void)k;
	return pvm_run(m);
}

static int same_state(const pvm_instance *a, const pvm_instance *b)
{
	if (pvm_pc(a) != pvm_pc(b) || pvm_gas(a) != pvm_gas(b) || pvm_exit_arg(a) != pvm_exit_arg(b))
		return 0;
	for (unsigned i = 0; i < PVM_NUM_REGS; i++)
		if (pvm_reg(a, i) != pvm_reg(b, i))
			return 0;
	uint32_t pa, pb;
	int aa, ab;
	uint64_t fa = 0, fb = 0;
	static uint8_t ba[4096], bb[4096];
	for (;;) {
		bool ha = pvm_mem_next_page(a, fa, &pa, &aa), hb = pvm_mem_next_page(b, fb, &pb, &ab);
		if (ha != hb)
			return 0;
		if (!ha)
			return 1;
		if (pa != pb || aa != ab)
			return 0;
		pvm_mem_read(a, pa, ba, 4096);
		pvm_mem_read(b, pb, bb, 4096);
		if (memcmp(ba, bb, 4096))
			return 0;
		fa = (uint64_t)pa + 4096;
		fb = (uint64_t)pb + 4096;
	}
}

/* returns 0 on success, else prints and returns 1 */
static int check_vector(const char *path)
{
	size_t len;
	char *txt = test_read_file(path, &len), err[256];
	vector v;
	if (!txt || !vector_parse(txt, len, &v, err, sizeof err)) {
		printf("    %s: cannot load\n", path);
		free(txt);
		return 1;
	}
	free(txt);
	pvm_program *p;
	int bad = 0;
	if (pvm_program_new(v.program, v.program_len, &p) != PVM_E_OK) {
		vector_free(&v);
		return 0; /* undecodable: nothing runs */
	}
	pvm_instance *whole;
	vector_instance(&v, p, &whole);
	pvm_exit ex = pvm_run(whole);
	int64_t used = v.gas - pvm_gas(whole);
#ifdef __x86_64__
	if (use_jit) {
		jit_err je = jit_compile(p, &code);
		if (je) {
			printf("    %s: %s\n", path, jit_strerror(je));
			bad = 1;
		} else {
			pvm_instance *w2;
			vector_instance(&v, p, &w2);
			pvm_exit ex2 = jit_run(vm, code, w2);
			if (ex2 != ex || !same_state(w2, whole)) {
				printf("    %s: jit whole run ends %s pc %u gas %lld, interpreter %s pc %u gas %lld\n", path,
				       pvm_exit_name(ex2), pvm_pc(w2), (long long)pvm_gas(w2), pvm_exit_name(ex), pvm_pc(whole),
				       (long long)pvm_gas(whole));
				bad = 1;
			}
			pvm_instance_free(w2);
		}
	}
#endif
	for (int64_t k = 0; k < used && !bad; k += (use_jit || k < 64 ? 1 : 1 + k / 8)) {
		pvm_instance *m;
		vector_instance(&v, p, &m);
		pvm_set_gas(m, k);
		pvm_exit e1 = run(m, 0);
		if (e1 != PVM_EXIT_OOG || pvm_gas(m) != 0) {
			printf("    %s: gas %lld: exit %s gas %lld, expected out-of-gas with 0\n", path, (long long)k,
			       pvm_exit_name(e1), (long long)pvm_gas(m));
			bad = 1;
		} else {
			pvm_set_gas(m, v.gas - k);
			pvm_exit e2 = run(m, k);
			if (e2 != ex || !same_state(m, whole)) {
				printf("    %s: cut at gas %lld: resumed run ends %s pc %u gas %lld, whole run %s pc %u gas %lld\n",
				       path, (long long)k, pvm_exit_name(e2), pvm_pc(m), (long long)pvm_gas(m),
				       pvm_exit_name(ex), pvm_pc(whole), (long long)pvm_gas(whole));
				bad = 1;
			}
		}
		cuts_checked++;
		pvm_instance_free(m);
	}
	pvm_instance_free(whole);
#ifdef __x86_64__
	jit_code_free(code);
	code = NULL;
#endif
	pvm_program_free(p);
	vector_free(&v);
	return bad;
}

static void check_dir(const char *sub)
{
	char dir[512], path[1024];
	/* run from the source root, as tests/run.sh does */
	snprintf(dir, sizeof dir, "tests/conformance/pvm/%s", sub);
	DIR *d = opendir(dir);
	if (!d) {
		printf("    cannot open %s\n", dir);
		test_cur_failed = 1;
		return;
	}
	struct dirent *de;
	unsigned n = 0, bad = 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".json"))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		bad += (unsigned)check_vector(path);
		n++;
	}
	closedir(d);
	ASSERT_TRUE(n > 0);
	ASSERT_EQ(bad, 0);
}

TEST(vectors)
{
	check_dir("vectors");
}
TEST(random)
{
	check_dir("random");
}
TEST(random_ro_write)
{
	check_dir("random-ro-write");
}

#ifdef __x86_64__
TEST(jit_vectors)
{
	use_jit = 1;
	check_dir("vectors");
	use_jit = 0;
}
TEST(jit_random)
{
	use_jit = 1;
	check_dir("random");
	use_jit = 0;
}
TEST(jit_random_ro_write)
{
	use_jit = 1;
	check_dir("random-ro-write");
	use_jit = 0;
}
#endif

int main(void)
{
	RUN(vectors);
	RUN(random);
	RUN(random_ro_write);
	printf("(%u cut points checked on the interpreter)\n", cuts_checked);
#ifdef __x86_64__
	cuts_checked = 0;
	if (jit_vm_new(&vm) != JIT_E_OK) {
		printf("FAIL jit: cannot make a jit_vm\n");
		return 1;
	}
	RUN(jit_vectors);
	RUN(jit_random);
	RUN(jit_random_ro_write);
	jit_vm_free(vm);
	printf("(%u cut points checked on the jit)\n", cuts_checked);
#endif
	return test_done();
}
