/* x0ops.c: guest program for tests/test_link.c: RISC-V instructions with x0
 * operands, which PVM has no register for (the linker rewrites them; some
 * need its spill-slot fallback). Entry i (pc 5*i) computes op_i(a0, a1). */
#include "nub_guest.h"

#define OP1(name, insn)                                                         \
	uint64_t name(uint64_t a, uint64_t b)                                   \
	{                                                                       \
		(void)b;                                                        \
		__asm__ volatile(insn : "+r"(a));                               \
		return a;                                                       \
	}
#define OP2(name, insn)                                                         \
	uint64_t name(uint64_t a, uint64_t b)                                   \
	{                                                                       \
		__asm__ volatile(insn : "+r"(a) : "r"(b));                      \
		return a;                                                       \
	}

OP1(x_max0, "max %0, %0, zero")           /* rd == rs: spill fallback */
OP1(x_min0, "min %0, zero, %0")           /* rd == rs: spill fallback */
OP2(x_maxb, "max %0, %1, zero")           /* rd != rs: zeroed rd */
OP2(x_divzb, "div %0, zero, %1")          /* 0 / b (-1 when b = 0) */
OP1(x_neg, "sub %0, zero, %0")
OP1(x_negw, "subw %0, zero, %0")
OP1(x_snez, "sltu %0, zero, %0")
OP1(x_sgtz, "slt %0, zero, %0")
OP1(x_sltz, "slt %0, %0, zero")
OP1(x_not, "xori %0, %0, -1")
OP1(x_sextw, "addw %0, %0, zero")
OP1(x_orn0, "orn %0, zero, %0")
OP2(x_rem0, "remu %0, %1, zero")          /* b % 0 = b */
OP2(x_div0, "divu %0, %1, zero")          /* b / 0 = all ones */
uint64_t x_brz(uint64_t a, uint64_t b)    /* branches against x0 */
{
	(void)b;
	uint64_t r;
	__asm__ volatile("li %0, 0\n"
			 "blt zero, %1, 1f\n"
			 "ori %0, %0, 1\n"
			 "1: bge zero, %1, 2f\n"
			 "ori %0, %0, 2\n"
			 "2: bltu zero, %1, 3f\n"
			 "ori %0, %0, 4\n"
			 "3: bgeu zero, %1, 4f\n"
			 "ori %0, %0, 8\n"
			 "4:\n"
			 : "=&r"(r)
			 : "r"(a));
	return r;
}

NUB_EXPORT(0, x_max0);
NUB_EXPORT(1, x_min0);
NUB_EXPORT(2, x_maxb);
NUB_EXPORT(3, x_divzb);
NUB_EXPORT(4, x_neg);
NUB_EXPORT(5, x_negw);
NUB_EXPORT(6, x_snez);
NUB_EXPORT(7, x_sgtz);
NUB_EXPORT(8, x_sltz);
NUB_EXPORT(9, x_not);
NUB_EXPORT(10, x_sextw);
NUB_EXPORT(11, x_orn0);
NUB_EXPORT(12, x_rem0);
NUB_EXPORT(13, x_div0);
NUB_EXPORT(14, x_brz);
