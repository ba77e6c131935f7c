/* test_jit_fuse.c: the JIT's fused instruction pairs against the interpreter.
 *
 * jit_compile compiles some adjacent pairs and triples as one (mul_64 +
 * mul_upper_u_u in either order, set_lt_u + neg_add_imm_64 0, add_64 + set_lt_u on the
 * sum: the carry, sub_64 + set_lt_u on its operands: the borrow, the last
 * two each with the negation of the flag after them) and enters the later
 * ones of a group through copies compiled alone. Every program runs
 * compiled with and without BMI2 (mulx). This builds
 * straight-line programs of such pairs over many register choices (every
 * role of r5, which lives in rdx, the register `mul` overwrites; operands
 * equal to destinations; near misses that must not fuse), runs them from
 * random registers on both engines and compares the whole state; then cuts
 * each run out of gas at every instruction (the interpreter stops it there)
 * and resumes it on the JIT, which so enters every second instruction.
 * Also: the single instructions whose code depends on how their registers
 * alias (destination equal to an operand or not, r5), in every aliasing. */
#include <stdlib.h>

#include "jit/jit.h"
#include "test.h"

enum { OPC_LOAD_IMM_64 = 20, OPC_ADD_64 = 200, OPC_SUB_64 = 201, OPC_MUL_64 = 202, OPC_MUL_UPPER_U_U = 214, OPC_SET_LT_U = 216, OPC_NEG_ADD_IMM_64 = 154 };

typedef struct {
	uint8_t code[16000];
	uint8_t starts[16000];
	unsigned n;
} prog_t;

static void ins(prog_t *p, const uint8_t *b, unsigned len)
{
	if (p->n + len > sizeof p->code - 1)
		return; /* the caller checks the size */
	p->starts[p->n] = 1;
	for (unsigned i = 0; i < len; i++)
		p->code[p->n++] = b[i];
}

/* d = a op b */
static void reg3(prog_t *p, uint8_t opc, unsigned d, unsigned a, unsigned b)
{
	uint8_t x[3] = {opc, (uint8_t)(a | b << 4), (uint8_t)d};
	ins(p, x, 3);
}

/* a = 0 - b */
static void neg(prog_t *p, unsigned a, unsigned b)
{
	uint8_t x[2] = {OPC_NEG_ADD_IMM_64, (uint8_t)(a | b << 4)};
	ins(p, x, 2);
}

/* a = b op imm (one immediate byte, sign-extended) */
static void reg2imm(prog_t *p, uint8_t opc, unsigned a, unsigned b, uint8_t imm)
{
	uint8_t x[3] = {opc, (uint8_t)(a | b << 4), imm};
	ins(p, x, 3);
}

/* r = a 64-bit value: large, or small, or near 2^64 (carries and borrows
 * both ways) */
static uint64_t next(void);
static void load64(prog_t *p, unsigned r)
{
	uint64_t v = next(), k = next() % 3;
	v = k == 0 ? v : k == 1 ? v % 5 : (uint64_t)0 - v % 5;
	uint8_t x[10] = {OPC_LOAD_IMM_64, (uint8_t)r};
	for (unsigned i = 0; i < 8; i++)
		x[2 + i] = (uint8_t)(v >> (8 * i));
	ins(p, x, 10);
}

/* the generic blob: no jump table, code, bitmask (code length < 2^14) */
static size_t blob(const prog_t *p, uint8_t *out)
{
	size_t o = 0;
	out[o++] = 0;
	out[o++] = 0;
	if (p->n >= 128) /* the two-byte form only where the one-byte one cannot do */
		out[o++] = (uint8_t)(0x80 | (p->n >> 8));
	out[o++] = (uint8_t)p->n;
	for (unsigned i = 0; i < p->n; i++)
		out[o++] = p->code[i];
	for (unsigned i = 0; i < (p->n + 7) / 8; i++) {
		uint8_t b = 0;
		for (unsigned k = 0; k < 8 && 8 * i + k < p->n; k++)
			b |= (uint8_t)(p->starts[8 * i + k] << k);
		out[o++] = b;
	}
	return o;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static jit_vm *vm;
static unsigned cuts;

static pvm_instance *fresh(pvm_program *prog, const uint64_t regs[13], int64_t gas)
{
	pvm_instance *m = NULL;
	if (pvm_instance_new(prog, &m) != PVM_E_OK)
		return NULL;
	for (unsigned r = 0; r < 13; r++)
		pvm_set_reg(m, r, regs[r]);
	pvm_set_gas(m, gas);
	return m;
}

/* one program: whole run on both engines, then every cut resumed on the
 * JIT; compiled with the given jit_compile_flags */
static int check_flags(const prog_t *p, const char *what, unsigned flags)
{
	static uint8_t b[20000];
	size_t len = blob(p, b);
	pvm_program *prog = NULL;
	jit_code *code = NULL;
	if (pvm_program_new(b, len, &prog) != PVM_E_OK) {
		printf("    %s: the blob does not decode\n", what);
		return 1;
	}
	if (jit_compile_flags(prog, flags, &code) != JIT_E_OK) {
		printf("    %s: jit_compile failed\n", what);
		pvm_program_free(prog);
		return 1;
	}
	int bad = 0;
	for (int round = 0; round < 4 && !bad; round++) {
		uint64_t regs[13];
		for (unsigned r = 0; r < 13; r++) /* large and small values, equal ones */
			regs[r] = round == 1 ? next() >> (next() % 64) : round == 2 ? next() % 3 : next();
		if (round == 3)
			regs[5] = regs[7] = regs[8];
		const int64_t gas = 100000;
		pvm_instance *mi = fresh(prog, regs, gas), *mj = fresh(prog, regs, gas);
		if (!mi || !mj) {
			pvm_instance_free(mi);
			pvm_instance_free(mj);
			bad = 1;
			break;
		}
		pvm_exit ei = pvm_run(mi), ej = jit_run(vm, code, mj);
		const char *d = pvm_state_differ(mi, ei, mj, ej);
		if (d) {
			printf("    %s round %d: whole run: %s\n", what, round, d);
			bad = 1;
		}
		int64_t used = gas - pvm_gas(mi);
		for (int64_t k = 1; k < used && !bad; k++) {
			pvm_instance *mc = fresh(prog, regs, k);
			pvm_exit e1 = mc ? jit_run(vm, code, mc) : PVM_EXIT_ERROR;
			if (e1 != PVM_EXIT_OOG) {
				printf("    %s round %d: gas %lld: %s, expected out-of-gas\n", what, round, (long long)k,
				       pvm_exit_name(e1));
				bad = 1;
			} else {
				pvm_set_gas(mc, gas - k);
				pvm_exit e2 = jit_run(vm, code, mc);
				if ((d = pvm_state_differ(mi, ei, mc, e2))) {
					printf("    %s round %d: cut at gas %lld (pc %u), resumed on the jit: %s\n", what, round,
					       (long long)k, pvm_pc(mc), d);
					bad = 1;
				}
			}
			cuts++;
			pvm_instance_free(mc);
		}
		pvm_instance_free(mi);
		pvm_instance_free(mj);
	}
	jit_code_free(code);
	pvm_program_free(prog);
	return bad;
}

/* both code paths: with the CPU's optional features (BMI2 here) and without */
static int check(const prog_t *p, const char *what)
{
	return check_flags(p, what, 0) | check_flags(p, what, JIT_C_NO_BMI2);
}

static const unsigned special[] = {5, 7, 8, 0, 11};

/* a register (not r12): often r5 or one of a few, so that operands coincide */
static unsigned pick(void)
{
	return next() % 2 ? special[next() % 5] : (unsigned)(next() % 12);
}

/* r12 = r12 + r: every pair's results reach the final state (r12 is never
 * a pair's register) */
static void fold(prog_t *p, unsigned r)
{
	reg3(p, OPC_ADD_64, 12, 12, r);
}

TEST(mul_mulhu)
{
	prog_t p = {.n = 0};
	/* every assignment of r5 (rdx) to the roles, operands in both orders */
	for (unsigned role = 0; role < 5; role++)
		for (unsigned sw = 0; sw < 2; sw++) {
			unsigned d1 = 1, d2 = 2, a = 3, b = 4;
			if (role == 1)
				d1 = 5;
			if (role == 2)
				d2 = 5;
			if (role == 3)
				a = 5;
			if (role == 4)
				b = 5;
			reg3(&p, OPC_MUL_64, d1, a, b);
			reg3(&p, OPC_MUL_UPPER_U_U, d2, sw ? b : a, sw ? a : b);
			fold(&p, d1);
			fold(&p, d2);
			fold(&p, 5);
		}
	/* the same register for both operands (a square), near misses */
	reg3(&p, OPC_MUL_64, 9, 6, 6);
	reg3(&p, OPC_MUL_UPPER_U_U, 10, 6, 6);
	reg3(&p, OPC_MUL_64, 6, 6, 7); /* d1 is an operand: not fused */
	reg3(&p, OPC_MUL_UPPER_U_U, 8, 6, 7);
	reg3(&p, OPC_MUL_64, 9, 3, 4); /* d1 == d2: not fused */
	reg3(&p, OPC_MUL_UPPER_U_U, 9, 3, 4);
	reg3(&p, OPC_MUL_64, 9, 3, 4); /* other operands: not fused */
	reg3(&p, OPC_MUL_UPPER_U_U, 10, 3, 5);
	for (int i = 0; i < 60; i++) {
		unsigned a = pick(), b = pick(), d1 = pick(), d2 = pick();
		reg3(&p, OPC_MUL_64, d1, a, b);
		reg3(&p, OPC_MUL_UPPER_U_U, d2, next() % 2 ? a : b, next() % 2 ? b : a);
		fold(&p, d1);
		fold(&p, d2);
		fold(&p, 5);
		reg3(&p, OPC_ADD_64, pick(), pick(), pick()); /* keeps values moving */
	}
	ins(&p, (const uint8_t[]){0}, 1); /* trap */
	ASSERT_TRUE(p.n < sizeof p.code - 16);
	ASSERT_EQ(check(&p, "mul_64 + mul_upper_u_u"), 0);
}

TEST(mulhu_mul)
{
	prog_t p = {.n = 0};
	/* the high half first: every assignment of r5 to the roles */
	for (unsigned role = 0; role < 5; role++)
		for (unsigned sw = 0; sw < 2; sw++) {
			unsigned d1 = 1, d2 = 2, a = 3, b = 4;
			if (role == 1)
				d1 = 5;
			if (role == 2)
				d2 = 5;
			if (role == 3)
				a = 5;
			if (role == 4)
				b = 5;
			load64(&p, a);
			load64(&p, b);
			reg3(&p, OPC_MUL_UPPER_U_U, d2, a, b);
			reg3(&p, OPC_MUL_64, d1, sw ? b : a, sw ? a : b);
			fold(&p, d1);
			fold(&p, d2);
			fold(&p, 5);
		}
	reg3(&p, OPC_MUL_UPPER_U_U, 9, 6, 7); /* the low half into an operand: fused */
	reg3(&p, OPC_MUL_64, 6, 6, 7);
	fold(&p, 6);
	fold(&p, 9);
	reg3(&p, OPC_MUL_UPPER_U_U, 6, 6, 7); /* the high half into an operand: not fused */
	reg3(&p, OPC_MUL_64, 8, 6, 7);
	fold(&p, 6);
	fold(&p, 8);
	reg3(&p, OPC_MUL_UPPER_U_U, 9, 3, 4); /* d1 == d2: not fused */
	reg3(&p, OPC_MUL_64, 9, 3, 4);
	fold(&p, 9);
	for (int i = 0; i < 80; i++) {
		unsigned a = pick(), b = pick(), d1 = pick(), d2 = pick();
		load64(&p, a);
		load64(&p, b);
		reg3(&p, OPC_MUL_UPPER_U_U, d2, a, b);
		reg3(&p, OPC_MUL_64, d1, next() % 2 ? a : b, next() % 2 ? b : a);
		fold(&p, d1);
		fold(&p, d2);
		fold(&p, 5);
	}
	ins(&p, (const uint8_t[]){0}, 1);
	ASSERT_TRUE(p.n < sizeof p.code - 16);
	ASSERT_EQ(check(&p, "mul_upper_u_u + mul_64"), 0);
}

TEST(sltu_neg)
{
	prog_t p = {.n = 0};
	for (int i = 0; i < 80; i++) {
		unsigned t = pick(), x = pick(), y = pick();
		if (i % 4 == 0)
			x = t;
		if (i % 4 == 1)
			y = t;
		reg3(&p, OPC_SET_LT_U, t, x, y);
		if (i % 7 == 6)
			neg(&p, pick(), t); /* another destination: not fused */
		else
			neg(&p, t, t);
		fold(&p, t);
		reg3(&p, OPC_ADD_64, pick(), pick(), pick());
	}
	ins(&p, (const uint8_t[]){0}, 1);
	ASSERT_TRUE(p.n < sizeof p.code - 16);
	ASSERT_EQ(check(&p, "set_lt_u + neg_add_imm_64"), 0);
}

/* after set_lt_u k: nothing, its negation (fused as a third), an add of
 * it to another register (fused after add_64: the carry into the next
 * limb), or a near miss (another destination, another source, a non-zero
 * immediate, k + k) */
static void maybe_neg(prog_t *p, unsigned k, int i)
{
	unsigned z = pick();
	switch (i % 10) {
	case 0: break;
	case 1: reg3(p, OPC_ADD_64, k, k, z); break;
	case 2: reg2imm(p, OPC_NEG_ADD_IMM_64, k, k, 1); break;
	case 3: neg(p, k == 5 ? 7 : 5, k); break;
	case 4: reg3(p, OPC_ADD_64, k, z, k); break;
	case 5: reg3(p, OPC_ADD_64, k, k, k); break;
	case 6: reg3(p, OPC_ADD_64, k == 5 ? 7 : 5, k, z); break;
	case 7: reg3(p, OPC_ADD_64, k, k, k == 5 ? 7 : 5); break;
	default: neg(p, k, k); break;
	}
}

TEST(add_carry)
{
	prog_t p = {.n = 0};
	for (int i = 0; i < 160; i++) {
		unsigned s = pick(), x = pick(), y = pick(), k = pick();
		if (i % 3 == 0)
			s = x;
		if (i % 3 == 1)
			s = y;
		if (i % 11 == 3)
			k = s;
		load64(&p, x);
		load64(&p, y);
		reg3(&p, OPC_ADD_64, s, x, y);
		/* compare the sum with either operand (fused unless it is the sum's
		 * register), sometimes with something else (not fused) */
		unsigned with = i % 5 == 4 ? pick() : next() % 2 ? x : y;
		reg3(&p, OPC_SET_LT_U, k, s, with);
		maybe_neg(&p, k, i);
		fold(&p, s);
		fold(&p, k);
		fold(&p, 5);
		reg3(&p, OPC_MUL_64, pick(), pick(), pick());
	}
	ins(&p, (const uint8_t[]){0}, 1);
	ASSERT_TRUE(p.n < sizeof p.code - 16);
	ASSERT_EQ(check(&p, "add_64 + set_lt_u [+ neg_add_imm_64]"), 0);
}

TEST(sub_borrow)
{
	prog_t p = {.n = 0};
	for (int i = 0; i < 140; i++) {
		unsigned d = pick(), x = pick(), y = pick(), k = pick();
		switch (i % 7) {
		case 0: d = x; break; /* not fused: set_lt_u reads the difference */
		case 1: d = y; break; /* not fused */
		case 2: k = d; break;
		case 3: k = x; break;
		case 4: k = y; break;
		case 5: y = x; break;
		default: break;
		}
		load64(&p, x);
		load64(&p, y);
		reg3(&p, OPC_SUB_64, d, x, y);
		if (i % 13 == 12)
			reg3(&p, OPC_SET_LT_U, k, y, x); /* operands swapped: not fused */
		else
			reg3(&p, OPC_SET_LT_U, k, x, y);
		maybe_neg(&p, k, i / 7);
		fold(&p, d);
		fold(&p, k);
		fold(&p, 5);
		reg3(&p, OPC_MUL_64, pick(), pick(), pick());
	}
	ins(&p, (const uint8_t[]){0}, 1);
	ASSERT_TRUE(p.n < sizeof p.code - 16);
	ASSERT_EQ(check(&p, "sub_64 + set_lt_u [+ neg_add_imm_64]"), 0);
}

/* new values in r1, r5, r7 (set_lt leaves 0 or 1 there): add r9, r10, r11,
 * which nothing else writes */
static void stir(prog_t *p)
{
	reg3(p, OPC_ADD_64, 1, 1, 9);
	reg3(p, OPC_ADD_64, 5, 5, 10);
	reg3(p, OPC_ADD_64, 7, 7, 11);
}

TEST(aliasing)
{
	/* add_64, set_lt_u, set_lt_s, and_inv, or_inv, xnor, max, max_u, min, min_u,
	 * mul_upper_s_s, mul_upper_u_u, mul_upper_s_u */
	static const uint8_t rrr[] = {200, 216, 217, 224, 225, 226, 227, 228, 229, 230, 213, 214, 215};
	/* set_lt_u_imm, set_lt_s_imm, shlo_r_imm_32, set_gt_u_imm, set_gt_s_imm */
	static const uint8_t rri[] = {136, 137, 139, 142, 143};
	static const unsigned regs[] = {1, 5, 7};
	static const uint8_t imms[] = {0, 1, 31, 0x80};
	prog_t p = {.n = 0};
	for (unsigned o = 0; o < sizeof rrr; o++)
		for (unsigned k = 0; k < 27; k++) {
			unsigned d = regs[k % 3], a = regs[k / 3 % 3], b = regs[k / 9];
			stir(&p);
			reg3(&p, rrr[o], d, a, b);
			fold(&p, d);
		}
	for (unsigned o = 0; o < sizeof rri; o++)
		for (unsigned k = 0; k < 9 * 4; k++) {
			unsigned a = regs[k % 3], b = regs[k / 3 % 3];
			stir(&p);
			reg2imm(&p, rri[o], a, b, imms[k / 9]);
			fold(&p, a);
		}
	ins(&p, (const uint8_t[]){0}, 1);
	ASSERT_TRUE(p.n < sizeof p.code - 16);
	ASSERT_EQ(check(&p, "aliasing"), 0);
}

/* traps: alone in their run (compiled to 10 bytes, their gas check in
 * shared code, entered through a shared stub), after other instructions
 * of their run, at index 0; every cut point, so entries at each trap and
 * out-of-gas at each trap's own run */
TEST(traps)
{
	static const uint8_t trap[1] = {0}, fallthrough[1] = {1};
	for (unsigned shape = 0; shape < 4; shape++) {
		prog_t p = {.n = 0};
		if (shape == 3) {
			ins(&p, trap, 1); /* at index 0 */
		} else {
			reg3(&p, OPC_ADD_64, 12, 12, 5);
			if (shape != 1)
				ins(&p, fallthrough, 1); /* the trap starts a run */
			if (shape == 2) {
				ins(&p, fallthrough, 1);
				ins(&p, fallthrough, 1);
			}
			ins(&p, trap, 1);
		}
		ins(&p, trap, 1);
		ASSERT_EQ(check(&p, "traps"), 0);
	}
}

int main(void)
{
	if (jit_vm_new(&vm) != JIT_E_OK) {
		printf("FAIL jit: cannot make a jit_vm\n");
		return 1;
	}
	RUN(mul_mulhu);
	RUN(mulhu_mul);
	RUN(sltu_neg);
	RUN(add_carry);
	RUN(sub_borrow);
	RUN(aliasing);
	RUN(traps);
	printf("(%u cut points resumed on the jit)\n", cuts);
	jit_vm_free(vm);
	return test_done();
}
