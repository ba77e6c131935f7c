/* test_jit_addr.c: the JIT's memory addressing against the interpreter.
 *
 * Compiled code reaches PVM memory as one seg:[e<b> + imm] (32-bit address
 * size: the address wraps mod 2^32) or seg:[imm32], and the fault handler
 * recomputes the PVM address of a faulting access from the instruction's
 * base register. This runs every load / store opcode (absolute, indirect,
 * immediate-value forms) with every PVM register as the base and as the
 * value, at addresses chosen around the edges: inside mapped pages, across
 * a page boundary into an unmapped or read-only page, across 2^32 (wrapping
 * into the panic zone below 0x10000), just below 0x10000, at and above
 * 0x8000_0000 (an absolute address the CPU must not sign-extend), with
 * garbage in the base register's upper 32 bits and negative immediates.
 * Each program is `add_64` (so the access is not its run's first
 * instruction: the refund on a fault is exercised), the access, `trap`;
 * both engines run it from the same state and the whole state is compared
 * (status, pc, registers, gas, fault address, every mapped byte).
 */
#include "jit/jit.h"
#include "test.h"

static jit_vm *vm;
static unsigned runs;

typedef struct {
	uint8_t code[64];
	uint8_t starts[64];
	unsigned n;
} prog_t;

static void ins(prog_t *p, const uint8_t *b, unsigned len)
{
	p->starts[p->n] = 1;
	for (unsigned i = 0; i < len; i++)
		p->code[p->n++] = b[i];
}

/* n little-endian bytes of v */
static void le(uint8_t *out, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

static size_t blob(const prog_t *p, uint8_t *out)
{
	size_t o = 0;
	out[o++] = 0;
	out[o++] = 0;
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

/* The same memory in both instances: RW and RO pages around the edges,
 * filled with a pattern. */
static const struct {
	uint32_t addr, len;
	int access;
} layout[] = {
	{0x10000, 0x2000, PVM_ACCESS_RW},     {0x12000, 0x1000, PVM_ACCESS_RO},
	{0x7FFFF000, 0x1000, PVM_ACCESS_RW},  {0x80000000, 0x1000, PVM_ACCESS_RO},
	{0xFFFFD000, 0x2000, PVM_ACCESS_RW},  {0xFFFFF000, 0x1000, PVM_ACCESS_RO},
};

static pvm_instance *fresh(pvm_program *prog, const uint64_t regs[13])
{
	pvm_instance *m = NULL;
	if (pvm_instance_new(prog, &m) != PVM_E_OK)
		return NULL;
	static uint8_t page[0x2000];
	for (unsigned i = 0; i < sizeof page; i++)
		page[i] = (uint8_t)(i * 7 + 1);
	for (unsigned k = 0; k < sizeof layout / sizeof layout[0]; k++)
		if (pvm_mem_map(m, layout[k].addr, layout[k].len, PVM_ACCESS_RW) != PVM_E_OK ||
		    pvm_mem_write(m, layout[k].addr, page, layout[k].len) != PVM_E_OK ||
		    pvm_mem_map(m, layout[k].addr, layout[k].len, layout[k].access) != PVM_E_OK) {
			pvm_instance_free(m);
			return NULL;
		}
	for (unsigned r = 0; r < 13; r++)
		pvm_set_reg(m, r, regs[r]);
	pvm_set_gas(m, 1000);
	return m;
}

/* one access program from registers regs: both engines, whole state */
static int check(const prog_t *p, const uint64_t regs[13], const char *what)
{
	uint8_t b[128];
	size_t len = blob(p, b);
	pvm_program *prog = NULL;
	jit_code *code = NULL;
	if (pvm_program_new(b, len, &prog) != PVM_E_OK || jit_compile(prog, &code) != JIT_E_OK) {
		printf("    %s: does not decode or compile\n", what);
		pvm_program_free(prog);
		return 1;
	}
	pvm_instance *mi = fresh(prog, regs), *mj = fresh(prog, regs);
	int bad = !mi || !mj;
	if (!bad) {
		pvm_exit ei = pvm_run(mi), ej = jit_run(vm, code, mj);
		const char *d = pvm_state_differ(mi, ei, mj, ej);
		if (d) {
			printf("    %s: %s (interpreter %s at pc %u arg 0x%x, jit %s at pc %u arg 0x%x)\n", what, d,
			       pvm_exit_name(ei), pvm_pc(mi), pvm_exit_arg(mi), pvm_exit_name(ej), pvm_pc(mj),
			       pvm_exit_arg(mj));
			bad = 1;
		}
		runs++;
	}
	pvm_instance_free(mi);
	pvm_instance_free(mj);
	jit_code_free(code);
	pvm_program_free(prog);
	return bad;
}

/* addresses at the edges (mod 2^32), for accesses of up to 8 bytes */
static const uint32_t edges[] = {
	0x10000,    0x10FFC,    0x11FF9,    0x12FFD,    0x13000 - 8, 0x13000 - 3, 0xFFF8,     0xFFFF,
	0x7FFFF000, 0x7FFFFFF9, 0x7FFFFFFC, 0x80000000, 0x80000FFC, 0xFFFFD000, 0xFFFFEFFE, 0xFFFFF000,
	0xFFFFFFF8, 0xFFFFFFFC, 0xFFFFFFFF, 0x0,        0x40000000, 0xC0000000,
};
#define N_EDGES (sizeof edges / sizeof edges[0])

static const uint8_t load_abs[] = {52, 53, 54, 55, 56, 57, 58}, store_abs[] = {59, 60, 61, 62};
static const uint8_t store_imm[] = {30, 31, 32, 33}, store_imm_ind[] = {70, 71, 72, 73};
static const uint8_t store_ind[] = {120, 121, 122, 123}, load_ind[] = {124, 125, 126, 127, 128, 129, 130};

/* add_64 t, t, t: one instruction before the access in its run */
static void prologue(prog_t *p, unsigned t)
{
	ins(p, (const uint8_t[]){200, (uint8_t)(t | t << 4), (uint8_t)t}, 3);
}

static void epilogue(prog_t *p)
{
	ins(p, (const uint8_t[]){0}, 1); /* trap */
}

static void base_regs(uint64_t regs[13], unsigned salt)
{
	for (unsigned r = 0; r < 13; r++)
		regs[r] = 0x0123456789ABCDEFull * (r + 1 + salt);
}

TEST(absolute)
{
	int bad = 0;
	for (unsigned e = 0; e < N_EDGES; e++) {
		uint64_t regs[13];
		base_regs(regs, e);
		for (unsigned r = 0; r < 13; r++) {
			for (unsigned o = 0; o < sizeof load_abs + sizeof store_abs; o++) {
				uint8_t opc = o < sizeof load_abs ? load_abs[o] : store_abs[o - sizeof load_abs];
				prog_t p = {.n = 0};
				uint8_t x[6] = {opc, (uint8_t)r};
				le(x + 2, edges[e], 4); /* 4 bytes: sign-extended, the address is its low 32 bits */
				prologue(&p, (r + 1) % 13);
				ins(&p, x, 6);
				epilogue(&p);
				bad |= check(&p, regs, "load/store abs");
			}
		}
		for (unsigned o = 0; o < sizeof store_imm; o++) {
			prog_t p = {.n = 0};
			uint8_t x[10] = {store_imm[o], 4};
			le(x + 2, edges[e], 4);
			le(x + 6, 0xA5C3E1F7u, 4);
			prologue(&p, 3);
			ins(&p, x, 10);
			epilogue(&p);
			bad |= check(&p, regs, "store_imm");
		}
	}
	ASSERT_EQ(bad, 0);
}

/* base register b holds `base` (upper 32 bits garbage or a negative
 * 64-bit value), immediate imm: (base + imm) mod 2^32 is the edge */
TEST(indirect)
{
	static const uint32_t imms[] = {0, 8, 0x7FFFFFF0, 0xFFFFFFF0, 0x80000000, 0x10};
	static const uint64_t highs[] = {0, 0xFFFFFFFF00000000ull, 0x5A5A5A5A00000000ull};
	int bad = 0;
	for (unsigned e = 0; e < N_EDGES; e++)
		for (unsigned k = 0; k < sizeof imms / sizeof imms[0]; k++)
			for (unsigned b = 0; b < 13; b++) {
				uint32_t imm = imms[k];
				uint64_t regs[13];
				base_regs(regs, e + k);
				regs[b] = highs[(e + k + b) % 3] | (uint32_t)(edges[e] - imm);
				unsigned a = (b + 1 + e) % 13; /* the value register */
				if ((e + k) % 4 == 0)
					a = b; /* the value is the base (a load overwrites it) */
				for (unsigned o = 0; o < sizeof load_ind + sizeof store_ind; o++) {
					uint8_t opc = o < sizeof load_ind ? load_ind[o] : store_ind[o - sizeof load_ind];
					prog_t p = {.n = 0};
					uint8_t x[6] = {opc, (uint8_t)(a | b << 4)};
					le(x + 2, imm, 4);
					prologue(&p, (b + 2) % 13 == a ? (b + 3) % 13 : (b + 2) % 13);
					ins(&p, x, 6);
					epilogue(&p);
					bad |= check(&p, regs, "load/store ind");
				}
				for (unsigned o = 0; o < sizeof store_imm_ind; o++) {
					prog_t p = {.n = 0};
					uint8_t x[10] = {store_imm_ind[o], (uint8_t)(b | 4 << 4)};
					le(x + 2, imm, 4);
					le(x + 6, 0x96877869u, 4);
					prologue(&p, (b + 2) % 13);
					ins(&p, x, 10);
					epilogue(&p);
					bad |= check(&p, regs, "store_imm_ind");
				}
			}
	ASSERT_EQ(bad, 0);
}

int main(void)
{
	if (jit_vm_new(&vm) != JIT_E_OK) {
		printf("FAIL jit: cannot make a jit_vm\n");
		return 1;
	}
	RUN(absolute);
	RUN(indirect);
	printf("(%u programs on both engines)\n", runs);
	jit_vm_free(vm);
	return test_done();
}
