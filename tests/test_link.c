/* test_link.c: nub link tests — encoder/decoder units, every benchmark
 * kernel and the features program on the engine against a native (cc -O2)
 * build, and every linker error path. Tests that need clang-19 skip loudly
 * when it is absent (scripts/deps.sh --riscv installs it). Run from the repo
 * root (tests/run.sh does). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bench/programs/bench_host.h"
#include "link/link.h"
#include "pvm/pvm.h"
#include "pvm/pvm_insn.h"
#include "test.h"

static char tmpdir[64];
static int toolchain = -1;

static int have_toolchain(void)
{
	if (toolchain < 0)
		toolchain = system("command -v clang-19 >/dev/null 2>&1 && command -v ld.lld-19 >/dev/null 2>&1") == 0;
	return toolchain;
}

#define NEED_TOOLCHAIN()                                                                      \
	do {                                                                                  \
		if (!have_toolchain())                                                        \
			SKIP("clang-19/ld.lld-19 not installed (run scripts/deps.sh --riscv)"); \
	} while (0)

/* Run a shell command; its stdout (first line) into out. Returns exit status. */
static int sh(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = 0;
	if (out && cap) {
		n = fread(out, 1, cap - 1, p);
		out[n] = 0;
	} else {
		char buf[256];
		while (fread(buf, 1, sizeof buf, p) > 0) {
		}
	}
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			uint8_t *b = realloc(buf, cap);
			if (!b) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		if (r == 0)
			break;
		n += r;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Compile + link C sources (space separated, with flags) to an ELF. */
static int build_elf(const char *args, const char *elf)
{
	char cmd[1024], out[2048];
	snprintf(cmd, sizeof cmd, "scripts/nub-cc --elf-only %s -o %s 2>&1", args, elf);
	int rc = sh(cmd, out, sizeof out);
	if (rc != 0)
		printf("    build failed: %s\n%s", cmd, out);
	return rc;
}

/* Link an ELF file; returns link_program's result, err filled. */
static int link_path(const char *elf, link_result *res, char *err, size_t cap)
{
	size_t len = 0;
	uint8_t *buf = read_all(elf, &len);
	if (!buf) {
		snprintf(err, cap, "cannot read %s", elf);
		return -2;
	}
	int rc = link_program(buf, len, NULL, res, err, cap);
	free(buf);
	return rc;
}

/* Run a standard program from pc on the engine, answering host calls with
 * bench_host_fn. */
static int run_spi(const uint8_t *spi, size_t len, uint32_t pc, pvm_exit *st, uint64_t *r7, uint64_t *gas_used,
		   uint64_t *hostcalls)
{
	pvm_spi s;
	pvm_program *p = NULL;
	pvm_instance *m = NULL;
	if (pvm_spi_parse(spi, len, &s) != PVM_E_OK || pvm_program_new(s.blob, s.blob_len, &p) != PVM_E_OK)
		return -1;
	if (pvm_instance_new(p, &m) != PVM_E_OK || pvm_spi_init(m, &s, NULL, 0) != PVM_E_OK) {
		if (m)
			pvm_instance_free(m);
		pvm_program_free(p);
		return -1;
	}
	const int64_t gas = 100000000000;
	pvm_set_pc(m, pc);
	pvm_set_gas(m, gas);
	*hostcalls = 0;
	for (;;) {
		*st = pvm_run(m);
		if (*st != PVM_EXIT_HOST)
			break;
		(*hostcalls)++;
		pvm_set_reg(m, 7, bench_host_fn(pvm_exit_arg(m), pvm_reg(m, 7), pvm_reg(m, 8)));
	}
	*r7 = pvm_reg(m, 7);
	*gas_used = (uint64_t)(gas - pvm_gas(m));
	pvm_instance_free(m);
	pvm_program_free(p);
	return 0;
}

/* Build src (C files and flags) natively (cc -O2) calling fn; its printed
 * result into *v. */
static int native(const char *src, const char *fn, uint64_t *v)
{
	char cmd[2048], out[256];
	snprintf(cmd, sizeof cmd,
		 "cc -O2 -Isdk/include -Iinclude -Isrc -Ibench/programs -DKERNEL_FN=%s %s sdk/lib/nub_libc.c bench/programs/native_main.c "
		 "-o %s/native 2>&1 && %s/native",
		 fn, src, tmpdir, tmpdir);
	if (sh(cmd, out, sizeof out) != 0) {
		printf("    native build/run failed: %s\n%s", cmd, out);
		return -1;
	}
	*v = strtoull(out, NULL, 10);
	return 0;
}

/* Build, link, run on the engine, compare with native; returns the value. */
static int check_program(const char *args, const char *src, const char *fn, uint32_t pc, uint64_t *value)
{
	char elf[128];
	snprintf(elf, sizeof elf, "%s/prog.elf", tmpdir);
	if (build_elf(args, elf))
		return -1;
	link_result res;
	char err[LINK_ERR_CAP];
	if (link_path(elf, &res, err, sizeof err)) {
		printf("    link %s: %s\n", args, err);
		return -1;
	}
	pvm_exit st;
	uint64_t r7 = 0, gas = 0, hc = 0, nat = 0;
	int rc = run_spi(res.spi, res.spi_len, pc, &st, &r7, &gas, &hc);
	printf("    %-36s pc %-4u code %6u B, %5u insns (%5u RISC-V), jt %3u, SPI %6zu B; executed %10llu, host calls %llu\n",
	       args, pc, res.code_len, res.insn_count, res.rv_insn_count, res.jump_table_len, res.spi_len,
	       (unsigned long long)gas, (unsigned long long)hc);
	link_result_free(&res);
	if (rc) {
		printf("    %s: engine refused the program\n", args);
		return -1;
	}
	if (st != PVM_EXIT_HALT) {
		printf("    %s: exit %s, not halt\n", args, pvm_exit_name(st));
		return -1;
	}
	if (native(src, fn, &nat))
		return -1;
	if (nat != r7) {
		printf("    %s %s: PVM %llu != native %llu\n", args, fn, (unsigned long long)r7, (unsigned long long)nat);
		return -1;
	}
	*value = r7;
	return 0;
}

/* ---- units --------------------------------------------------------------- */

TEST(varint_encoding)
{
	static const struct { uint64_t v; uint8_t b[9]; size_t n; } cases[] = {
		{0, {0x00}, 1}, {127, {0x7f}, 1}, {128, {0x80, 0x80}, 2}, {200, {0x80, 0xc8}, 2},
		{16383, {0xbf, 0xff}, 2}, {16384, {0xc0, 0x00, 0x40}, 3}, {20297, {0xc0, 0x49, 0x4f}, 3},
		{1ull << 56, {0xff, 0, 0, 0, 0, 0, 0, 0, 1}, 9},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		link_buf b = {0};
		lb_varint(&b, cases[i].v);
		ASSERT_EQ(b.len, cases[i].n);
		ASSERT_MEM_EQ(b.p, cases[i].b, b.len);
		free(b.p);
	}
}

TEST(rvc_decode)
{
	rv_insn in;
	static const uint8_t cli[2] = {0x15, 0x45}, cjr[2] = {0x82, 0x80}, cldsp[2] = {0x22, 0x64};
	ASSERT_EQ(rv_decode(cli, 2, &in), 0); /* c.li a0, 5 */
	ASSERT_EQ(in.op, RV_ADDI);
	ASSERT_EQ(in.rd, 10);
	ASSERT_EQ(in.rs1, 0);
	ASSERT_EQ(in.imm, 5);
	ASSERT_EQ(rv_decode(cjr, 2, &in), 0); /* c.jr ra */
	ASSERT_EQ(in.op, RV_JALR);
	ASSERT_EQ(in.rd, 0);
	ASSERT_EQ(in.rs1, 1);
	ASSERT_EQ(rv_decode(cldsp, 2, &in), 0); /* c.ldsp s0, 8(sp) */
	ASSERT_EQ(in.op, RV_LD);
	ASSERT_EQ(in.rd, 8);
	ASSERT_EQ(in.rs1, 2);
	ASSERT_EQ(in.imm, 8);
	static const uint8_t addi[4] = {0x13, 0x05, 0x85, 0xff}; /* addi a0, a0, -8 */
	ASSERT_EQ(rv_decode(addi, 4, &in), 0);
	ASSERT_EQ(in.op, RV_ADDI);
	ASSERT_EQ(in.imm, -8);
	ASSERT_EQ(rv_decode(addi, 3, &in), -1); /* truncated */
}

TEST(emit_formats)
{
	pvm_emit e;
	ASSERT_EQ(pe_init(&e), 0);
	pe_reg3(&e, PVM_OPC_add_32, 9, 7, 8); /* add_32 r9 = r7 + r8: be 87 09 (FORMATS.md example 1) */
	ASSERT_EQ(e.len, 3);
	ASSERT_EQ(e.code[0], 0xbe);
	ASSERT_EQ(e.code[1], 0x87);
	ASSERT_EQ(e.code[2], 0x09);
	size_t at = pe_reg_imm(&e, PVM_OPC_load_imm, 7, 2); /* load_imm r7, 2: 33 07 02 */
	ASSERT_EQ(at, 3);
	ASSERT_EQ(e.code[4], 0x07);
	ASSERT_EQ(e.code[5], 0x02);
	ASSERT_EQ(e.len, 6);
	pe_reg_imm(&e, PVM_OPC_load_imm, 7, -1); /* one byte ff */
	ASSERT_EQ(e.len, 9);
	size_t j = pe_off(&e, PVM_OPC_jump, 4);
	ASSERT_EQ(pe_patch_off(&e, j, 0, 4), 0);
	ASSERT_EQ(e.code[j + 1], 0xf7); /* -9 */
	ASSERT_EQ(e.code[j + 4], 0xff);
	ASSERT_EQ(pe_off_len(-9), 1);
	ASSERT_EQ(pe_off_len(200), 2);
	ASSERT_EQ(pe_off_len(-40000), 3);
	ASSERT_EQ(pe_off_len(0), 1);
	ASSERT_TRUE(pe_last_is_term(&e));
	link_buf b = {0};
	uint32_t jt[1] = {3};
	ASSERT_EQ(pe_blob(&e, jt, 1, &b), 0);
	pvm_program *p = NULL;
	ASSERT_EQ(pvm_program_new(b.p, b.len, &p), PVM_E_OK);
	ASSERT_EQ(pvm_program_code_len(p), 14);
	ASSERT_EQ(pvm_program_jump_entry(p, 0), 3);
	pvm_program_free(p);
	free(b.p);
	pe_free(&e);
}

/* ---- kernels and features -------------------------------------------------- */

/* Every opcode of the instruction table (a superset of what the linker
 * emits), encoded by link_emit.c's encoder for its table format with edge
 * operands, must decode (pvm_decode_one) to the same opcode, registers,
 * immediates and targets, and to the encoded length. */
typedef struct {
	size_t at;
	uint8_t opi, a, b, d;
	uint64_t imm;
	uint32_t imm2, target;
	int has_target;
} enc_expect;

TEST(encode_decode_every_opcode)
{
	static const int64_t imms[] = {0, 1, -1, 127, -128, 128, -129, 0x7fff, -0x8000, 0x12345, 0x7fffffff, -0x7fffffff - 1};
	const size_t nimm = sizeof imms / sizeof imms[0];
	pvm_emit e;
	ASSERT_EQ(pe_init(&e), 0);
	enc_expect *x = calloc(PVM_I_COUNT * nimm, sizeof *x);
	ASSERT_TRUE(x != NULL);
	size_t n = 0;
	pe_op(&e, PVM_OPC_fallthrough); /* pc 0: the branch target below */
	for (unsigned i = 0; i < PVM_I_COUNT; i++) {
		const struct pvm_op_info *oi = &pvm_op_info[i];
		for (size_t v = 0; v < nimm; v++) {
			enc_expect *w = &x[n++];
			int64_t im = imms[v], im2 = imms[(v + 5) % nimm];
			uint8_t ra = (uint8_t)((i + v) % 13), rb = (uint8_t)((i * 3 + v + 1) % 13), rd = (uint8_t)((i + 7 * v + 2) % 13);
			w->opi = (uint8_t)i;
			switch (oi->fmt) {
			case PVM_FMT_NONE: w->at = pe_op(&e, oi->code); break;
			case PVM_FMT_IMM: w->at = pe_imm(&e, oi->code, (uint32_t)im); w->imm = (uint64_t)(int64_t)(int32_t)im; break;
			case PVM_FMT_REG_EXTIMM:
				w->at = pe_reg_imm64(&e, ra, (uint64_t)im * 0x100000001ull);
				w->a = ra, w->imm = (uint64_t)im * 0x100000001ull;
				break;
			case PVM_FMT_IMM2:
				w->at = pe_imm2(&e, oi->code, im, im2);
				w->imm2 = (uint32_t)im, w->imm = (uint64_t)im2;
				break;
			case PVM_FMT_OFF:
				w->at = pe_off(&e, oi->code, 4);
				ASSERT_EQ(pe_patch_off(&e, w->at, 0, 4), 0);
				w->has_target = 1;
				break;
			case PVM_FMT_REG_IMM: w->at = pe_reg_imm(&e, oi->code, ra, im); w->a = ra, w->imm = (uint64_t)im; break;
			case PVM_FMT_REG_IMM2:
				w->at = pe_reg_imm2(&e, oi->code, ra, im, im2);
				w->a = ra, w->imm2 = (uint32_t)im, w->imm = (uint64_t)im2;
				break;
			case PVM_FMT_REG_IMM_OFF:
				w->at = pe_reg_imm_off(&e, oi->code, ra, im, 4);
				ASSERT_EQ(pe_patch_off(&e, w->at, 0, 4), 0);
				w->a = ra, w->imm = (uint64_t)im, w->has_target = 1;
				break;
			case PVM_FMT_REG2: w->at = pe_reg2(&e, oi->code, rd, ra); w->d = rd, w->a = ra; break;
			case PVM_FMT_REG2_IMM: w->at = pe_reg2_imm(&e, oi->code, ra, rb, im); w->a = ra, w->b = rb, w->imm = (uint64_t)im; break;
			case PVM_FMT_REG2_OFF:
				w->at = pe_reg2_off(&e, oi->code, ra, rb, 4);
				ASSERT_EQ(pe_patch_off(&e, w->at, 0, 4), 0);
				w->a = ra, w->b = rb, w->has_target = 1;
				break;
			case PVM_FMT_REG2_IMM2:
				w->at = pe_reg2_imm2(&e, oi->code, ra, rb, im, im2);
				w->a = ra, w->b = rb, w->imm = (uint64_t)im, w->imm2 = (uint32_t)im2;
				break;
			case PVM_FMT_REG3: w->at = pe_reg3(&e, oi->code, rd, ra, rb); w->d = rd, w->a = ra, w->b = rb; break;
			default: ASSERT_TRUE(0);
			}
			ASSERT_TRUE(w->at != (size_t)-1);
		}
	}
	pe_op(&e, PVM_OPC_trap);
	link_buf bl = {0};
	uint32_t jt[1] = {0};
	ASSERT_EQ(pe_blob(&e, jt, 1, &bl), 0);
	pvm_program *p = NULL;
	ASSERT_EQ(pvm_program_new(bl.p, bl.len, &p), PVM_E_OK);
	size_t bad = 0;
	for (size_t k = 0; k < n; k++) {
		const enc_expect *w = &x[k];
		pvm_insn in;
		uint32_t next = pvm_decode_one(p, (uint32_t)w->at, &in);
		int ok = in.opi == w->opi && next == pe_next(&e, w->at) && in.a == w->a && in.b == w->b && in.d == w->d &&
			 in.imm == w->imm && in.imm2 == w->imm2 && (!w->has_target || in.target == 0);
		if (!ok && bad++ < 5)
			printf("    %s at %zu: decoded opi %u a%u b%u d%u imm 0x%llx imm2 0x%x target %u; expected a%u b%u d%u imm 0x%llx imm2 0x%x\n",
			       pvm_op_info[w->opi].name, w->at, in.opi, in.a, in.b, in.d, (unsigned long long)in.imm, in.imm2,
			       in.target, w->a, w->b, w->d, (unsigned long long)w->imm, w->imm2);
	}
	printf("    %zu encodings of %u opcodes round-tripped\n", n - bad, (unsigned)PVM_I_COUNT);
	ASSERT_EQ(bad, 0);
	pvm_program_free(p);
	free(bl.p);
	free(x);
	pe_free(&e);
}

static const struct {
	const char *name, *fn;
	int has_known;
	uint64_t known; /* independently computed (see bench/programs/README.md) */
} kernels[] = {
	{"sieve", "bench_sieve", 1, 9592},
	{"blake2b", "bench_blake2b", 1, 16629351077541533169ull}, /* python3 hashlib.blake2b(digest_size=32) */
	{"keccak", "bench_keccak", 0, 0},
	{"goldilocks", "bench_goldilocks", 1, 15712680302952204000ull}, /* python3 big integers */
	{"polyeval", "bench_polyeval", 0, 0},
	{"sort", "bench_sort", 0, 0},
	{"hostcall", "bench_hostcall", 0, 0},
	{"ed25519", "bench_ed25519", 1, 7}, /* RFC 8032 test 1 + two rejections */
};

TEST(kernels_match_native)
{
	NEED_TOOLCHAIN();
	for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
		char src[128], args[256];
		snprintf(src, sizeof src, "bench/programs/%s.c", kernels[i].name);
		if (access(src, R_OK) != 0) {
			printf("    missing kernel source %s\n", src);
			ASSERT_TRUE(0);
		}
		snprintf(args, sizeof args, "-O2 %s", src);
		uint64_t v = 0;
		ASSERT_EQ(check_program(args, src, kernels[i].fn, 0, &v), 0);
		if (kernels[i].has_known)
			ASSERT_EQ(v, kernels[i].known);
		ASSERT_TRUE(v != 0);
	}
}

TEST(features_all_opt_levels)
{
	NEED_TOOLCHAIN();
	static const char *opts[] = {"-O0", "-O1", "-O2", "-O3", "-Os", "-O2 -g"};
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		char args[256];
		uint64_t v = 0;
		snprintf(args, sizeof args, "%s tests/link/features.c", opts[i]);
		ASSERT_EQ(check_program(args, "tests/link/features.c", "feat_main", 0, &v), 0);
		ASSERT_EQ(check_program(args, "tests/link/features.c", "feat_second", 5, &v), 0);
	}
}

/* issue 9: clang keeps an auipc's value in another register, a stack slot,
 * another block or function; every %pcrel_lo user must still work. */
TEST(pcrel_lo_users_anywhere)
{
	NEED_TOOLCHAIN();
	static const char *opts[] = {"-O0", "-O2"};
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		char args[256];
		uint64_t v = 0;
		snprintf(args, sizeof args, "%s tests/link/pcrel.c", opts[i]);
		ASSERT_EQ(check_program(args, "tests/link/pcrel.c", "pcrel_main", 0, &v), 0);
		ASSERT_EQ(v, 899005); /* (11 + 5 + 33 + 200 + 200) * 2 + 1, then * 1000 + 5 */
	}
}

/* issue 9: every compiler-runtime helper (sdk/lib/nub_rt.c) against libgcc. */
TEST(runtime_helpers_match_native)
{
	NEED_TOOLCHAIN();
	static const char *opts[] = {"-O0", "-O2", "-Os"};
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		char args[256];
		uint64_t v = 0;
		snprintf(args, sizeof args, "%s tests/link/runtime.c", opts[i]);
		ASSERT_EQ(check_program(args, "tests/link/runtime.c", "rt_main", 0, &v), 0);
	}
}

/* issue 9: every soft-float helper (sdk/lib/nub_softfp.c) against the
 * host's SSE results, bit for bit (tests/link/softfp.c says how NaNs are
 * compared), at every optimisation level. */
TEST(softfp_helpers_match_native)
{
	NEED_TOOLCHAIN();
	static const char *opts[] = {"-O0", "-O1", "-O2", "-O3", "-Os"};
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		char args[256];
		uint64_t v = 0;
		snprintf(args, sizeof args, "%s tests/link/softfp.c", opts[i]);
		ASSERT_EQ(check_program(args, "tests/link/softfp.c", "sfp_main", 0, &v), 0);
	}
}

/* the same helpers compiled for the host over a million random operand sets
 * (the PVM run above has 10 000): the C of sdk/lib/nub_softfp.c against SSE */
TEST(softfp_helpers_native_million)
{
	uint64_t ref = 0, got = 0;
	ASSERT_EQ(native("-DSFP_ROUNDS=1000000 tests/link/softfp.c", "sfp_main", &ref), 0);
	ASSERT_EQ(native("-DSFP_ROUNDS=1000000 -DSFP_HELPERS tests/link/softfp.c sdk/lib/nub_softfp.c", "sfp_main", &got), 0);
	ASSERT_EQ(got, ref);
}

/* issue 9: complex float/double multiply and divide (C11 Annex G) against
 * libgcc's multiply and Annex G's division example over the host's libm. */
TEST(softfp_complex_match_native)
{
	NEED_TOOLCHAIN();
	static const char *opts[] = {"-O0", "-O2", "-Os"};
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		char args[256];
		uint64_t v = 0;
		snprintf(args, sizeof args, "%s tests/link/softcx.c", opts[i]);
		ASSERT_EQ(check_program(args, "tests/link/softcx.c -lm", "softcx_main", 0, &v), 0);
	}
}

/* issue 9: ordinary float/double C (dot product, Newton square roots,
 * Mandelbrot, matrix power, polynomial) gives the native result. */
TEST(float_program_matches_native)
{
	NEED_TOOLCHAIN();
	static const char *opts[] = {"-O0", "-O1", "-O2", "-O3", "-Os"};
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		char args[256];
		uint64_t v = 0;
		snprintf(args, sizeof args, "%s tests/link/floatk.c", opts[i]);
		ASSERT_EQ(check_program(args, "tests/link/floatk.c", "floatk_main", 0, &v), 0);
	}
}

/* long double (binary128, also complex) and _Float16 have no helpers in the
 * SDK: nub-cc fails naming the symbol and the unsupported type. */
TEST(unsupported_float_types_refused)
{
	NEED_TOOLCHAIN();
	static const struct { const char *decl, *expr, *msg; } cases[] = {
		{"volatile long double x = 3;", "(uint64_t)(x * x)", "__multf3: long double (IEEE binary128 on RISC-V) is not supported"},
		{"volatile long double x = 3;", "(uint64_t)x", "__fixunstfdi: long double (IEEE binary128 on RISC-V) is not supported"},
		{"volatile double x = 3;", "(uint64_t)((long double)x / 3)", "__divtf3: long double"},
		{"volatile _Float16 x = 3;", "(uint64_t)(x + x)", "__extendhfsf2: _Float16/__bf16 is not supported"},
		{"volatile long double _Complex x = 3;", "(uint64_t)__real__(x / x)", "__divtc3: long double"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char src[128], cmd[1024], out[4096];
		snprintf(src, sizeof src, "%s/ld.c", tmpdir);
		FILE *f = fopen(src, "w");
		ASSERT_TRUE(f != NULL);
		fprintf(f, "#include \"nub_guest.h\"\nuint64_t m(void);\nstatic %s\nuint64_t m(void) { return %s; }\nNUB_EXPORT(0, m);\n",
			cases[i].decl, cases[i].expr);
		fclose(f);
		snprintf(cmd, sizeof cmd, "scripts/nub-cc --elf-only -O2 %s -o %s/ld.elf 2>&1 | grep '^nub-cc: '; exit \"$(scripts/nub-cc --elf-only -O2 %s -o %s/ld.elf >/dev/null 2>&1; echo $?)\"",
			 src, tmpdir, src, tmpdir);
		int rc = sh(cmd, out, sizeof out);
		if (rc == 0 || !strstr(out, cases[i].msg)) {
			printf("    %s -> rc %d, wanted \"%s\" in:\n%s", cases[i].expr, rc, cases[i].msg, out);
			ASSERT_TRUE(0);
		}
	}
}

/* issue 9: Zba, Zbs and A (single hart) on request: every instruction form,
 * aliasing corners, compiled bit operations and C11 atomics. */
TEST(extensions_zba_zbs_a)
{
	NEED_TOOLCHAIN();
	static const char *opts[] = {"-O0", "-O2", "-Os"};
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		char args[256];
		uint64_t v = 0;
		snprintf(args, sizeof args, "%s -march=rv64emac_zba_zbb_zbs tests/link/ext.c", opts[i]);
		ASSERT_EQ(check_program(args, "tests/link/ext.c", "ext_main", 0, &v), 0);
	}
}

/* issue 9: .init_array constructors (with priorities) run before every
 * entry point, which still gets its argument registers. */
TEST(constructors_run_before_entries)
{
	NEED_TOOLCHAIN();
	static const char *opts[] = {"-O0", "-O2", "-Os"};
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		char args[256];
		uint64_t v = 0;
		snprintf(args, sizeof args, "%s tests/link/ctor.c", opts[i]);
		ASSERT_EQ(check_program(args, "tests/link/ctor.c", "ctor_main", 0, &v), 0);
		ASSERT_EQ(v, 7073200); /* a = 7, b = 73, calls = (1 + 1) * 100 */
		char elf[128], err[LINK_ERR_CAP];
		snprintf(elf, sizeof elf, "%s/prog.elf", tmpdir);
		link_result res;
		ASSERT_EQ(link_path(elf, &res, err, sizeof err), 0);
		pvm_exit st;
		uint64_t r7 = 0, gas = 0, hc = 0;
		ASSERT_EQ(run_spi(res.spi, res.spi_len, 5, &st, &r7, &gas, &hc), 0);
		link_result_free(&res);
		ASSERT_EQ(st, PVM_EXIT_HALT);
		ASSERT_EQ(r7, (uint64_t)PVM_SPI_ARG_ADDR + 7073200); /* φ7 = argument pointer, φ8 = 0 */
	}
}

/* issue 9: data referenced from more than 64 KiB into the code: with code
 * at 2 GiB ld.lld failed with "relocation R_RISCV_PCREL_HI20 out of range". */
TEST(far_code_in_auipc_reach)
{
	NEED_TOOLCHAIN();
	uint64_t v = 0;
	ASSERT_EQ(check_program("-O2 tests/link/far.c", "tests/link/far.c", "far_main", 0, &v), 0);
	ASSERT_EQ(v, 0x1234567890abcdefull ^ 42);
}

#define ENGINE_SRCS \
	"src/pvm/pvm_decode.c src/pvm/pvm_spi.c src/pvm/pvm_mem.c src/pvm/pvm_interp.c src/pvm/pvm_disasm.c src/pvm/pvm_util.c"

/* nub's own engine (src/pvm) compiled to RV64E runs a PVM program inside
 * PVM: thousands of instructions of real C, same answer as native. */
TEST(engine_in_pvm)
{
	NEED_TOOLCHAIN();
	uint64_t v = 0;
	ASSERT_EQ(check_program("-O2 -Isrc tests/link/pvm_in_pvm.c " ENGINE_SRCS, "tests/link/pvm_in_pvm.c " ENGINE_SRCS,
				"pvm_in_pvm", 0, &v),
		  0);
	ASSERT_TRUE(v > 4); /* 1..4 are the guest's own failure codes */
}

TEST(features_jump_tables_and_code_pointers_present)
{
	NEED_TOOLCHAIN();
	/* the features program must really contain what it claims to test */
	char elf[128], cmd[512], out[256];
	snprintf(elf, sizeof elf, "%s/f.elf", tmpdir);
	ASSERT_EQ(build_elf("-O2 tests/link/features.c", elf), 0);
	snprintf(cmd, sizeof cmd, "llvm-readelf-19 -r %s | grep -c R_RISCV_ADD32", elf);
	ASSERT_EQ(sh(cmd, out, sizeof out), 0);
	ASSERT_TRUE(atoi(out) >= 4);
	snprintf(cmd, sizeof cmd, "llvm-readelf-19 -r %s | grep -c 'R_RISCV_64'", elf);
	ASSERT_EQ(sh(cmd, out, sizeof out), 0);
	ASSERT_TRUE(atoi(out) >= 8); /* ops tables + exports */
	/* NUB_STACK_SIZE reaches the SPI header; --stack overrides it */
	link_result res;
	char err[LINK_ERR_CAP];
	ASSERT_EQ(link_path(elf, &res, err, sizeof err), 0);
	ASSERT_EQ(res.stack_size, 128 * 1024);
	ASSERT_EQ(res.nexports, 2);
	ASSERT_TRUE(strcmp(res.export_names[1], "feat_second") == 0);
	pvm_spi s;
	ASSERT_EQ(pvm_spi_parse(res.spi, res.spi_len, &s), PVM_E_OK);
	ASSERT_EQ(s.stack_size, 128 * 1024);
	link_result_free(&res);
	const char *b = getenv("B");
	snprintf(cmd, sizeof cmd, "%s/nub link %s -o %s/f.pvm --stack 8192 -v", b ? b : "build", elf, tmpdir);
	ASSERT_EQ(sh(cmd, out, sizeof out), 0);
	ASSERT_TRUE(strstr(out, "stack 8192") != NULL);
}

/* Reference semantics for tests/link/x0ops.c entry i on (a, b). */
static uint64_t x0_ref(int i, uint64_t a, uint64_t b)
{
	int64_t sa = (int64_t)a, sb = (int64_t)b;
	switch (i) {
	case 0: return sa > 0 ? a : 0;
	case 1: return sa < 0 ? a : 0;
	case 2: return sb > 0 ? b : 0;
	case 3: return b == 0 ? ~0ull : 0;
	case 4: return 0 - a;
	case 5: return (uint64_t)(int64_t)(int32_t)(0u - (uint32_t)a);
	case 6: return a != 0;
	case 7: return sa > 0;
	case 8: return sa < 0;
	case 9: return ~a;
	case 10: return (uint64_t)(int64_t)(int32_t)(uint32_t)a;
	case 11: return ~a;
	case 12: return b;
	case 13: return ~0ull;
	case 14: return (sa > 0 ? 0 : 1) | (sa > 0 ? 2 : 0) | (a != 0 ? 0 : 4) | (a == 0 ? 0 : 8);
	default: return 0xbad;
	}
}

TEST(x0_operands)
{
	NEED_TOOLCHAIN();
	char elf[128], err[LINK_ERR_CAP];
	snprintf(elf, sizeof elf, "%s/x0.elf", tmpdir);
	ASSERT_EQ(build_elf("-O2 tests/link/x0ops.c", elf), 0);
	link_result res;
	if (link_path(elf, &res, err, sizeof err)) {
		printf("    link: %s\n", err);
		ASSERT_TRUE(0);
	}
	static const uint64_t vals[] = {0, 1, 5, 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, 0xfffffffe80000001ull,
					0x123456789ull};
	pvm_spi s;
	pvm_program *p = NULL;
	ASSERT_EQ(pvm_spi_parse(res.spi, res.spi_len, &s), PVM_E_OK);
	ASSERT_EQ(pvm_program_new(s.blob, s.blob_len, &p), PVM_E_OK);
	unsigned checked = 0;
	for (int i = 0; i < 15; i++)
		for (size_t x = 0; x < sizeof vals / sizeof vals[0]; x++)
			for (size_t y = 0; y < 2; y++) {
				uint64_t a = vals[x], b = y ? vals[(x + 3) % 8] : 0;
				pvm_instance *m = NULL;
				ASSERT_EQ(pvm_instance_new(p, &m), PVM_E_OK);
				ASSERT_EQ(pvm_spi_init(m, &s, NULL, 0), PVM_E_OK);
				pvm_set_pc(m, (uint32_t)(5 * i));
				pvm_set_gas(m, 100000);
				pvm_set_reg(m, 7, a);
				pvm_set_reg(m, 8, b);
				uint64_t saved[13];
				for (unsigned r = 0; r < 13; r++)
					saved[r] = pvm_reg(m, r);
				pvm_exit st = pvm_run(m);
				uint64_t got = pvm_reg(m, 7);
				/* callee-saved registers (sp, s0, s1) survive the spill path */
				uint64_t sp = pvm_reg(m, 1), s0 = pvm_reg(m, 5), s1 = pvm_reg(m, 6);
				pvm_instance_free(m);
				if (st != PVM_EXIT_HALT || got != x0_ref(i, a, b)) {
					printf("    entry %d (a=0x%llx b=0x%llx): %s, got 0x%llx, want 0x%llx\n", i,
					       (unsigned long long)a, (unsigned long long)b, pvm_exit_name(st),
					       (unsigned long long)got, (unsigned long long)x0_ref(i, a, b));
					pvm_program_free(p);
					link_result_free(&res);
					ASSERT_TRUE(0);
				}
				ASSERT_EQ(sp, saved[1]);
				ASSERT_EQ(s0, saved[5]);
				ASSERT_EQ(s1, saved[6]);
				checked++;
			}
	pvm_program_free(p);
	link_result_free(&res);
	ASSERT_EQ(checked, 15 * 8 * 2);
}

/* ---- error paths ----------------------------------------------------------- */

static int link_bytes_err(const uint8_t *b, size_t n, char *err, size_t cap)
{
	link_result res;
	int rc = link_program(b, n, NULL, &res, err, cap);
	if (rc == 0)
		link_result_free(&res);
	return rc;
}

#define ASSERT_LINK_FAILS_WITH(rc, err, what)                                                    \
	do {                                                                                     \
		ASSERT_EQ(rc, -1);                                                               \
		if (!strstr(err, what)) {                                                        \
			printf("    error \"%s\" does not mention \"%s\"\n", err, what);          \
			ASSERT_TRUE(0);                                                          \
		}                                                                                \
	} while (0)

TEST(err_not_elf)
{
	char err[LINK_ERR_CAP];
	static const uint8_t junk[] = "hello, this is not an ELF file at all......................................";
	ASSERT_LINK_FAILS_WITH(link_bytes_err(junk, sizeof junk, err, sizeof err), err, "not an ELF");
	ASSERT_LINK_FAILS_WITH(link_bytes_err(junk, 0, err, sizeof err), err, "not an ELF");
	static const uint8_t shorthdr[8] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
	ASSERT_LINK_FAILS_WITH(link_bytes_err(shorthdr, sizeof shorthdr, err, sizeof err), err, "truncated");
}

TEST(err_wrong_class)
{
	char err[LINK_ERR_CAP];
	uint8_t h[64] = {0x7f, 'E', 'L', 'F', 1, 1, 1, 0};
	ASSERT_LINK_FAILS_WITH(link_bytes_err(h, sizeof h, err, sizeof err), err, "ELFCLASS64");
	h[4] = 2;
	h[5] = 2; /* big-endian */
	ASSERT_LINK_FAILS_WITH(link_bytes_err(h, sizeof h, err, sizeof err), err, "little-endian");
}

TEST(err_wrong_machine)
{
	char src[128], obj[128], cmd[512], err[LINK_ERR_CAP];
	snprintf(src, sizeof src, "%s/host.c", tmpdir);
	snprintf(obj, sizeof obj, "%s/host.o", tmpdir);
	FILE *f = fopen(src, "w");
	ASSERT_TRUE(f != NULL);
	fputs("int host_fn(int x) { return x + 1; }\n", f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "cc -c %s -o %s", src, obj);
	ASSERT_EQ(sh(cmd, NULL, 0), 0);
	link_result res;
	ASSERT_LINK_FAILS_WITH(link_path(obj, &res, err, sizeof err), err, "not RISC-V");
}

static int write_src(const char *name, const char *text, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Build `text` with nub-cc and link it; expects a link failure naming what. */
static int expect_link_error(const char *text, const char *what)
{
	char src[128], elf[128], args[256], err[LINK_ERR_CAP];
	if (write_src("bad.c", text, src, sizeof src))
		return -1;
	snprintf(elf, sizeof elf, "%s/bad.elf", tmpdir);
	snprintf(args, sizeof args, "-O2 %s", src);
	if (build_elf(args, elf))
		return -1;
	link_result res;
	int rc = link_path(elf, &res, err, sizeof err);
	if (rc == 0) {
		link_result_free(&res);
		printf("    linking succeeded; expected an error naming \"%s\"\n", what);
		return -1;
	}
	if (!strstr(err, what)) {
		printf("    error \"%s\" does not mention \"%s\"\n", err, what);
		return -1;
	}
	return 0;
}

TEST(err_no_rve_flag)
{
	NEED_TOOLCHAIN();
	char src[128], cmd[1024], elf[128], err[LINK_ERR_CAP];
	ASSERT_EQ(write_src("lp64.c", "long f(long x) { return x * 3; }\n", src, sizeof src), 0);
	snprintf(elf, sizeof elf, "%s/lp64.elf", tmpdir);
	snprintf(cmd, sizeof cmd,
		 "clang-19 --target=riscv64-unknown-none-elf -march=rv64imc -mabi=lp64 -O2 -fPIC -c %s -o %s/lp64.o && "
		 "clang-19 -E -P -x c -DNUB_LAYOUT_LD -Iinclude sdk/nub.ld -o %s/nub.ld && "
		 "ld.lld-19 -static --emit-relocs -T %s/nub.ld %s/lp64.o -o %s",
		 src, tmpdir, tmpdir, tmpdir, tmpdir, elf);
	ASSERT_EQ(sh(cmd, NULL, 0), 0);
	link_result res;
	ASSERT_LINK_FAILS_WITH(link_path(elf, &res, err, sizeof err), err, "EF_RISCV_RVE");
}

TEST(err_not_linked_and_no_relocs)
{
	NEED_TOOLCHAIN();
	char src[128], cmd[1024], obj[128], elf[128], err[LINK_ERR_CAP];
	ASSERT_EQ(write_src("ok.c", "#include \"nub_guest.h\"\nuint64_t f(void) { return 3; }\nNUB_EXPORT(0, f);\n", src,
			    sizeof src),
		  0);
	snprintf(obj, sizeof obj, "%s/ok.o", tmpdir);
	snprintf(elf, sizeof elf, "%s/ok-norel.elf", tmpdir);
	snprintf(cmd, sizeof cmd,
		 "clang-19 --target=riscv64-unknown-none-elf -march=rv64emc_zbb -mabi=lp64e -O2 -fPIC -Isdk/include -Iinclude -c %s -o %s && "
		 "clang-19 -E -P -x c -DNUB_LAYOUT_LD -Iinclude sdk/nub.ld -o %s/nub.ld && "
		 "ld.lld-19 -static -T %s/nub.ld %s -o %s",
		 src, obj, tmpdir, tmpdir, obj, elf);
	ASSERT_EQ(sh(cmd, NULL, 0), 0);
	link_result res;
	ASSERT_LINK_FAILS_WITH(link_path(obj, &res, err, sizeof err), err, "not an executable");
	ASSERT_LINK_FAILS_WITH(link_path(elf, &res, err, sizeof err), err, "--emit-relocs");
}

TEST(err_forbidden_register)
{
	NEED_TOOLCHAIN();
	ASSERT_EQ(expect_link_error("#include \"nub_guest.h\"\n"
				    "uint64_t f(void) { __asm__ volatile(\"addi gp, gp, 1\"); return 1; }\n"
				    "NUB_EXPORT(0, f);\n",
				    "forbidden register x3"),
		  0);
	ASSERT_EQ(expect_link_error("#include \"nub_guest.h\"\n"
				    "uint64_t f(void) { __asm__ volatile(\"mv tp, a0\"); return 1; }\n"
				    "NUB_EXPORT(0, f);\n",
				    "forbidden register x4"),
		  0);
	/* add x16, x16, x16 as a raw word (the RVE assembler refuses the name) */
	ASSERT_EQ(expect_link_error("#include \"nub_guest.h\"\n"
				    "uint64_t f(void) { __asm__ volatile(\".word 0x01080833\"); return 1; }\n"
				    "NUB_EXPORT(0, f);\n",
				    "forbidden register x16"),
		  0);
}

TEST(err_unsupported_instruction)
{
	NEED_TOOLCHAIN();
	/* fadd.s fa0, fa0, fa1 */
	ASSERT_EQ(expect_link_error("#include \"nub_guest.h\"\n"
				    "uint64_t f(void) { __asm__ volatile(\".word 0x00b57553\"); return 1; }\n"
				    "NUB_EXPORT(0, f);\n",
				    "unsupported instruction"),
		  0);
	ASSERT_EQ(expect_link_error("#include \"nub_guest.h\"\n"
				    "uint64_t f(void) { __asm__ volatile(\".word 0x00000073\"); return 1; }\n"
				    "NUB_EXPORT(0, f);\n",
				    "bare ecall"),
		  0);
	/* CSRs (rdcycle) have no PVM counterpart */
	ASSERT_EQ(expect_link_error("#include \"nub_guest.h\"\n"
				    "uint64_t f(void) { uint64_t x; __asm__ volatile(\"csrr %0, cycle\" : \"=r\"(x)); return x; }\n"
				    "NUB_EXPORT(0, f);\n",
				    "unsupported instruction: csr"),
		  0);
}

/* Reading code as data has no PVM meaning: the error names the symbol. */
TEST(err_load_from_code_address)
{
	NEED_TOOLCHAIN();
	ASSERT_EQ(expect_link_error("#include \"nub_guest.h\"\n"
				    "uint64_t f(void);\nuint64_t g(void);\n"
				    "__asm__(\".section .text.g,\\\"ax\\\",@progbits\\n.globl g\\ng:\\n"
				    ".Lg: auipc a0, %pcrel_hi(f)\\nld a0, %pcrel_lo(.Lg)(a0)\\nret\\n.text\\n\");\n"
				    "uint64_t f(void) { return g(); }\nNUB_EXPORT(0, f);\n",
				    "ld of code address"),
		  0);
	ASSERT_EQ(expect_link_error("#include \"nub_guest.h\"\n"
				    "uint64_t f(void);\nuint64_t g(void);\n"
				    "__asm__(\".section .text.g,\\\"ax\\\",@progbits\\n.globl g\\ng:\\n"
				    ".Lg: auipc a0, %pcrel_hi(f)\\nld a0, %pcrel_lo(.Lg)(a0)\\nret\\n.text\\n\");\n"
				    "uint64_t f(void) { return g(); }\nNUB_EXPORT(0, f);\n",
				    "(symbol f)"),
		  0);
}

/* Destructors would never run (programs end by halting): a named error,
 * not a silent drop. */
TEST(err_destructors_rejected)
{
	NEED_TOOLCHAIN();
	ASSERT_EQ(expect_link_error("#include \"nub_guest.h\"\n"
				    "volatile uint64_t seed = 3;\nstatic uint64_t v;\n"
				    "__attribute__((destructor)) static void fini(void) { seed = v * 5; }\n"
				    "static uint64_t f(void) { return v; }\nNUB_EXPORT(0, f);\n",
				    ".fini_array: static destructors never run"),
		  0);
}

TEST(err_missing_export)
{
	NEED_TOOLCHAIN();
	ASSERT_EQ(expect_link_error("#include \"nub_guest.h\"\nuint64_t f(void) { return 1; }\n", "no exports"), 0);
	ASSERT_EQ(expect_link_error("#include \"nub_guest.h\"\nuint64_t f(void) { return 1; }\nNUB_EXPORT(1, f);\n",
				    "missing export: no entry point with index 0"),
		  0);
	ASSERT_EQ(expect_link_error("#include \"nub_guest.h\"\nuint64_t f(void) { return 1; }\n"
				    "uint64_t g(void) { return 2; }\nNUB_EXPORT(0, f);\nNUB_EXPORT(0, g);\n",
				    "used twice"),
		  0);
}

/* Every truncation and many byte corruptions of a real ELF must give a
 * clean result (success or an error), never a crash (ASan in make SAN=1). */
TEST(corrupted_elf_never_crashes)
{
	NEED_TOOLCHAIN();
	char elf[128], err[LINK_ERR_CAP];
	snprintf(elf, sizeof elf, "%s/c.elf", tmpdir);
	ASSERT_EQ(build_elf("-O2 bench/programs/sieve.c", elf), 0);
	size_t len = 0;
	uint8_t *orig = read_all(elf, &len);
	ASSERT_TRUE(orig != NULL);
	uint8_t *buf = malloc(len);
	ASSERT_TRUE(buf != NULL);
	unsigned errors = 0, oks = 0;
	for (size_t cut = 0; cut < len; cut += 37) {
		memcpy(buf, orig, cut);
		link_result res;
		if (link_program(buf, cut, NULL, &res, err, sizeof err) == 0) {
			oks++;
			link_result_free(&res);
		} else {
			errors++;
		}
	}
	uint64_t s = 88172645463325252ull;
	for (int round = 0; round < 3000; round++) {
		memcpy(buf, orig, len);
		for (int k = 0; k < 4; k++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			buf[s % len] = (uint8_t)(s >> 32);
		}
		link_result res;
		if (link_program(buf, len, NULL, &res, err, sizeof err) == 0) {
			oks++;
			link_result_free(&res);
		} else {
			errors++;
		}
	}
	printf("    %u rejected, %u accepted\n", errors, oks);
	ASSERT_TRUE(errors > 0);
	free(buf);
	free(orig);
}

/* Fuzzer findings (fuzz/fuzz_elf.c), one file per bug: each must be
 * rejected with a message, and reading its sections must stay in bounds. */
TEST(regressions)
{
	FILE *p = popen("ls tests/regress/link-*.elf 2>/dev/null", "r");
	ASSERT_TRUE(p != NULL);
	char path[512];
	unsigned n = 0;
	while (fgets(path, sizeof path, p)) {
		path[strcspn(path, "\n")] = 0;
		size_t len = 0;
		uint8_t *buf = read_all(path, &len);
		if (!buf)
			continue;
		char err[LINK_ERR_CAP] = "";
		link_elf e;
		if (link_elf_parse(buf, len, &e, err, sizeof err) == 0) {
			for (size_t i = 0; i < e.nsecs; i++) {
				const uint8_t *d = link_elf_section_data(&e, i);
				if (d && e.secs[i].size)
					ASSERT_TRUE(d + e.secs[i].size <= buf + len);
			}
			link_elf_free(&e);
		}
		link_result res;
		int rc = link_program(buf, len, NULL, &res, err, sizeof err);
		if (rc == 0)
			link_result_free(&res);
		free(buf);
		if (rc != 0 && err[0] == 0) {
			printf("    %s: rejected without a message\n", path);
			pclose(p);
			ASSERT_TRUE(0);
		}
		n++;
	}
	pclose(p);
	ASSERT_TRUE(n >= 1);
}

/* nub_log (JIP-1, ecalli 100): `nub run` prints each message with its level
 * on stderr, returns WHAT in φ7 and resumes. */
TEST(cli_run_prints_nub_log)
{
	NEED_TOOLCHAIN();
	const char *b = getenv("B");
	char cmd[1024], out[2048];
	snprintf(cmd, sizeof cmd, "NUB=%s/nub scripts/nub-cc -O2 tests/link/log.c -o %s/log.pvm 2>&1", b ? b : "build",
		 tmpdir);
	ASSERT_EQ(sh(cmd, out, sizeof out), 0);
	snprintf(cmd, sizeof cmd, "%s/nub run %s/log.pvm 2>&1 >/dev/null", b ? b : "build", tmpdir);
	ASSERT_EQ(sh(cmd, out, sizeof out), 0);
	printf("%s", out);
	ASSERT_TRUE(strstr(out, "nub: log INFO step 0 done\n") != NULL);
	ASSERT_TRUE(strstr(out, "nub: log INFO log-test: hello from PVM\n") != NULL);
	ASSERT_TRUE(strstr(out, "nub: log WARN step 1 done\n") != NULL);
	ASSERT_TRUE(strstr(out, "nub: log level-9 t: odd level\n") != NULL);
	snprintf(cmd, sizeof cmd, "%s/nub run --json %s/log.pvm 2>/dev/null", b ? b : "build", tmpdir);
	ASSERT_EQ(sh(cmd, out, sizeof out), 0);
	ASSERT_TRUE(strstr(out, "\"status\":\"halt\"") != NULL);
	ASSERT_TRUE(strstr(out, ",42,") != NULL); /* r7: the guest saw WHAT */
}

/* A linked program whose first byte is '{' (|o| = 0x7b: csmith seed 3168)
 * is a standard program for `nub run`, not JSON. */
TEST(cli_run_spi_starting_with_brace)
{
	const char *b = getenv("B");
	pvm_emit e;
	ASSERT_EQ(pe_init(&e), 0);
	pe_reg_imm(&e, PVM_OPC_load_imm, 7, 77);
	pe_op(&e, PVM_OPC_trap);
	link_buf blob = {0}, spi = {0};
	ASSERT_EQ(pe_blob(&e, NULL, 0, &blob), 0);
	lb_le(&spi, 0x7b, 3); /* |o| */
	lb_le(&spi, 0, 3);
	lb_le(&spi, 0, 2);
	lb_le(&spi, 4096, 3);
	for (int i = 0; i < 0x7b; i++)
		lb_u8(&spi, (uint8_t)i);
	lb_le(&spi, blob.len, 4);
	lb_put(&spi, blob.p, blob.len);
	ASSERT_EQ(spi.failed, 0);
	ASSERT_EQ(spi.p[0], '{');
	char path[128], cmd[512], out[2048];
	snprintf(path, sizeof path, "%s/brace.pvm", tmpdir);
	FILE *f = fopen(path, "wb");
	ASSERT_TRUE(f != NULL);
	ASSERT_EQ(fwrite(spi.p, 1, spi.len, f), spi.len);
	ASSERT_EQ(fclose(f), 0);
	free(blob.p);
	free(spi.p);
	pe_free(&e);
	snprintf(cmd, sizeof cmd, "%s/nub run %s 2>&1", b ? b : "build", path);
	ASSERT_EQ(sh(cmd, out, sizeof out), 0);
	ASSERT_TRUE(strstr(out, "standard program") != NULL);
	ASSERT_TRUE(strstr(out, "r7  = 0x000000000000004d") != NULL);
}

TEST(cli_link_errors)
{
	const char *b = getenv("B");
	char cmd[512], out[512];
	snprintf(cmd, sizeof cmd, "%s/nub link /nonexistent.elf -o %s/x.pvm 2>&1", b ? b : "build", tmpdir);
	int rc = sh(cmd, out, sizeof out);
	ASSERT_EQ(rc, 2);
	ASSERT_TRUE(strstr(out, "nonexistent") != NULL);
	snprintf(cmd, sizeof cmd, "%s/nub link 2>&1", b ? b : "build");
	ASSERT_EQ(sh(cmd, out, sizeof out), 2);
	snprintf(cmd, sizeof cmd, "%s/nub link --help", b ? b : "build");
	ASSERT_EQ(sh(cmd, out, sizeof out), 0);
	ASSERT_TRUE(strstr(out, "usage: nub link") != NULL);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/nub-link-test-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(varint_encoding);
	RUN(rvc_decode);
	RUN(emit_formats);
	RUN(encode_decode_every_opcode);
	RUN(kernels_match_native);
	RUN(features_all_opt_levels);
	RUN(features_jump_tables_and_code_pointers_present);
	RUN(pcrel_lo_users_anywhere);
	RUN(runtime_helpers_match_native);
	RUN(softfp_helpers_match_native);
	RUN(softfp_helpers_native_million);
	RUN(softfp_complex_match_native);
	RUN(float_program_matches_native);
	RUN(unsupported_float_types_refused);
	RUN(far_code_in_auipc_reach);
	RUN(extensions_zba_zbs_a);
	RUN(constructors_run_before_entries);
	RUN(x0_operands);
	RUN(engine_in_pvm);
	RUN(err_not_elf);
	RUN(err_wrong_class);
	RUN(err_wrong_machine);
	RUN(err_no_rve_flag);
	RUN(err_not_linked_and_no_relocs);
	RUN(err_forbidden_register);
	RUN(err_unsupported_instruction);
	RUN(err_missing_export);
	RUN(err_destructors_rejected);
	RUN(err_load_from_code_address);
	RUN(corrupted_elf_never_crashes);
	RUN(regressions);
	RUN(cli_link_errors);
	RUN(cli_run_spi_starting_with_brace);
	RUN(cli_run_prints_nub_log);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		printf("could not remove %s\n", tmpdir);
	return test_done();
}
