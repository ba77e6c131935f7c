/* pcrel.c: guest program for tests/test_link.c: every way a %pcrel_lo user
 * can reach its auipc's value, in hand-written RISC-V (clang emits these at
 * -O2/-Os; issue 9): after a move, after a spill and reload, several users of
 * one auipc (ld, sd, lw, addi), a user in another block, a user in another
 * function, and a code address taken through another register. Natively the
 * same computation is plain C; the results must be equal. */
#include "nub_guest.h"

uint64_t pcrel_tbl[4] = {11, 22, 33, 44};
const uint64_t pcrel_ro[3] = {100, 200, 300};
uint64_t pcrel_main(void);
uint64_t pcrel_forms(void);
uint64_t pcrel_twice(uint64_t x);

uint64_t pcrel_twice(uint64_t x)
{
	return 2 * x + 1;
}

#if defined(__riscv)
__asm__(".section .text.pcrel_forms,\"ax\",@progbits\n"
	".globl pcrel_forms\n"
	".type pcrel_forms,@function\n"
	"pcrel_forms:\n"
	"	addi sp, sp, -32\n"
	"	sd ra, 24(sp)\n"
	"	sd s0, 16(sp)\n"
	"	sd s1, 8(sp)\n"
	".Lhi_tbl:\n"
	"	auipc s0, %pcrel_hi(pcrel_tbl)\n" /* kept in a callee-saved register */
	"	mv a1, s0\n"
	"	ld a0, %pcrel_lo(.Lhi_tbl)(a1)\n" /* user after a move: 11 */
	"	sd s0, 0(sp)\n"                   /* spill ... */
	"	li s0, 0\n"
	"	ld a2, 0(sp)\n"                   /* ... and reload elsewhere */
	"	li a3, 5\n"
	"	sd a3, %pcrel_lo(.Lhi_tbl)(a2)\n" /* store user: tbl[0] = 5 */
	"	ld a4, %pcrel_lo(.Lhi_tbl)(a2)\n" /* 5 */
	"	add a0, a0, a4\n"
	"	addi a5, a2, %pcrel_lo(.Lhi_tbl)\n" /* addi user: &tbl */
	"	ld a4, 16(a5)\n"                    /* 33 */
	"	add a0, a0, a4\n"
	".Lhi_ro:\n"
	"	auipc s1, %pcrel_hi(pcrel_ro+8)\n"
	"	beqz a0, 1f\n"
	"	lw a4, %pcrel_lo(.Lhi_ro)(s1)\n" /* user in another block: 200 */
	"	add a0, a0, a4\n"
	"1:\n"
	"	mv s0, a0\n"
	"	mv a0, s1\n"
	"	call pcrel_callee\n" /* user in another function: 200 */
	"	add s0, s0, a0\n"
	".Lhi_fn:\n"
	"	auipc a1, %pcrel_hi(pcrel_twice)\n"
	"	mv t0, a1\n"
	"	addi t1, t0, %pcrel_lo(.Lhi_fn)\n" /* code address via another register */
	"	mv a0, s0\n"
	"	jalr t1\n"
	"	ld ra, 24(sp)\n"
	"	ld s0, 16(sp)\n"
	"	ld s1, 8(sp)\n"
	"	addi sp, sp, 32\n"
	"	ret\n"
	".size pcrel_forms, .-pcrel_forms\n"
	".type pcrel_callee,@function\n"
	"pcrel_callee:\n"
	"	ld a0, %pcrel_lo(.Lhi_ro)(a0)\n"
	"	ret\n"
	".size pcrel_callee, .-pcrel_callee\n"
	".text\n");
#else
uint64_t pcrel_forms(void)
{
	uint64_t a = pcrel_tbl[0];
	pcrel_tbl[0] = 5;
	a += pcrel_tbl[0];
	a += pcrel_tbl[2];
	if (a)
		a += (uint64_t)(int64_t)(int32_t)pcrel_ro[1];
	a += pcrel_ro[1];
	return pcrel_twice(a);
}
#endif

uint64_t pcrel_main(void)
{
	uint64_t r = pcrel_forms();
	return r * 1000 + pcrel_tbl[0];
}

NUB_EXPORT(0, pcrel_main);
