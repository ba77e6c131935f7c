/* far.c: guest program for tests/test_link.c (issue 9): a read-only datum
 * referenced from code more than 64 KiB into .text. With code at 2 GiB the
 * distance passed auipc's reach and ld.lld failed with "relocation
 * R_RISCV_PCREL_HI20 out of range"; sdk/nub.ld now puts code at 1 GiB. */
#include "nub_guest.h"

const uint64_t far_ro[2] = {0x1234567890abcdefull, 42};
uint64_t far_data(void);
uint64_t far_main(void);

#if defined(__riscv)
__asm__(".section .text.far_data,\"ax\",@progbits\n"
	".globl far_data\n"
	".type far_data,@function\n"
	"far_data:\n"
	".rept 40000\n"
	"	addi x0, x0, 0\n" /* 160 KB of nop: nub link emits nothing for them */
	".endr\n"
	".Lfar_hi:\n"
	"	auipc a0, %pcrel_hi(far_ro)\n"
	"	ld a0, %pcrel_lo(.Lfar_hi)(a0)\n"
	"	ret\n"
	".size far_data, .-far_data\n"
	".text\n");
#else
uint64_t far_data(void)
{
	return far_ro[0];
}
#endif

uint64_t far_main(void)
{
	return far_data() ^ far_ro[1];
}

NUB_EXPORT(0, far_main);
