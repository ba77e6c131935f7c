/* test_jit_emit.c: the x86-64 encoder against reference encodings (GNU as / objdump). */
#include <stdio.h>
#include <string.h>

#include "jit/jit_x86_64_emit.h"

static unsigned passed, failed;

static void expect(const char *what, x86_asm *a, const char *hex)
{
	char got[128] = "";
	for (size_t i = 0; i < a->len && i < 60; i++)
		snprintf(got + 2 * i, 3, "%02x", a->p[i]);
	if (!a->error && !strcmp(got, hex)) {
		passed++;
	} else {
		printf("FAIL %s: got %s (error %d), want %s\n", what, got, (int)a->error, hex);
		failed++;
	}
	x86_asm_free(a);
	*a = (x86_asm){0};
}

int main(void)
{
	x86_asm a = {0};
	x86_alu_rr(&a, X_W64, X_EXT_ADD, X_RBX, X_RSI);
	expect("add rbx,rsi", &a, "4801f3");
	x86_alu_rr(&a, X_W32, X_EXT_SUB, X_R9, X_R14);
	expect("sub r9d,r14d", &a, "4529f1");
	x86_alu_mi(&a, X_W64, X_EXT_SUB, x86_m(X_R15, -4096 + 104), 7);
	expect("sub qword [r15-3992],7", &a, "4983af68f0ffff07");
	x86_alu_mi(&a, X_W64, X_EXT_AND, x86_r(X_R12), 0x12345);
	expect("and r12,0x12345", &a, "4981e445230100");
	x86_mov_imm(&a, X_RDX, 0xFFFFFFFFFFFFFFFFull);
	expect("mov rdx,-1", &a, "48c7c2ffffffff");
	x86_mov_imm(&a, X_R8, 0x123456789ull);
	expect("movabs r8,0x123456789", &a, "49b88967452301000000");
	x86_mov_imm(&a, X_RAX, 0x80000000u);
	expect("mov eax,0x80000000", &a, "b800000080");
	x86_movzx(&a, X_W8, X_RSI, x86_mi(X_R15, X_RAX, 1, 0));
	expect("movzx esi,byte [r15+rax]", &a, "410fb63407");
	x86_store(&a, X_W8, x86_mi(X_R15, X_RAX, 1, 0), X_RDI);
	expect("mov [r15+rax],dil", &a, "41883c07");
	x86_store(&a, X_W16, x86_mi(X_R15, X_RAX, 1, 0), X_R13);
	expect("mov [r15+rax],r13w", &a, "6645892c07");
	x86_store_imm(&a, X_W64, x86_mi(X_R15, X_RAX, 1, 0), -2);
	expect("mov qword [r15+rax],-2", &a, "49c70407feffffff");
	x86_lea(&a, X_W32, X_RAX, x86_m(X_R13, -8));
	expect("lea eax,[r13-8]", &a, "418d45f8");
	x86_movsx(&a, X_W32, X_RBP, x86_r(X_RBP));
	expect("movsxd rbp,ebp", &a, "4863ed");
	x86_movsx(&a, X_W8, X_RCX, x86_r(X_RSI));
	expect("movsx rcx,sil", &a, "480fbece");
	x86_shift_cl(&a, X_W32, X_EXT_SAR, X_RAX);
	expect("sar eax,cl", &a, "d3f8");
	x86_xchg(&a, X_RCX, X_R10);
	expect("xchg rcx,r10", &a, "4c87d1");
	x86_setcc(&a, X_CC_B, X_RAX);
	expect("setb al", &a, "0f92c0");
	x86_cmovcc(&a, X_W64, X_CC_E, X_R11, x86_r(X_RAX));
	expect("cmove r11,rax", &a, "4c0f44d8");
	x86_op_rr(&a, X_W64, OP_POPCNT_r_rm, X_RBX, X_R9);
	expect("popcnt rbx,r9", &a, "f3490fb8d9");
	x86_alu_mi(&a, X_W64, X_EXT_ADC, x86_r(X_R9), 0);
	expect("adc r9,0", &a, "4983d100");
	x86_mulx(&a, X_RAX, X_RBX, X_RCX);
	expect("mulx rax,rbx,rcx", &a, "c4e2e3f6c1");
	x86_mulx(&a, X_R9, X_RDX, X_R14);
	expect("mulx r9,rdx,r14", &a, "c442ebf6ce");
	x86_mulx(&a, X_RDX, X_R12, X_RSI);
	expect("mulx rdx,r12,rsi", &a, "c4e29bf6d6");
	x86_mulx(&a, X_R13, X_R13, X_R8);
	expect("mulx r13,r13,r8", &a, "c44293f6e8");
	x86_bswap(&a, X_R12);
	expect("bswap r12", &a, "490fcc");
	x86_op_rr(&a, X_W64, OP_SBB_r_rm, X_R11, X_R11);
	expect("sbb r11,r11", &a, "4d1bdb");
	x86_op_rr(&a, X_W64, OP_SBB_r_rm, X_RSI, X_RBP);
	expect("sbb rsi,rbp", &a, "481bf5");
	x86_movzx(&a, X_W8, X_R11, x86_r(X_RAX));
	expect("movzx r11d,al", &a, "440fb6d8");
	x86_movzx(&a, X_W8, X_RCX, x86_r(X_RAX));
	expect("movzx ecx,al", &a, "0fb6c8");
	x86_grp3(&a, X_W64, X_EXT_MUL, x86_r(X_RDX));
	expect("mul rdx", &a, "48f7e2");
	x86_grp3(&a, X_W64, X_EXT_IDIV, x86_m(X_R15, -3960));
	expect("idiv qword [r15-3960]", &a, "49f7bf88f0ffff");
	x86_jmp_r(&a, X_RAX);
	expect("jmp rax", &a, "ffe0");
	/* PVM accesses through the window's segment, 32-bit address size
	 * (GNU as: `mov rdx, qword ptr gs:[edx+0x30]`, `addr32 mov r9, gs:[imm]`) */
	x86_load(&a, X_W64, X_RDX, x86_seg_m32(X_SEG_GS, X_RDX, 0x30));
	expect("mov rdx,gs:[edx+0x30]", &a, "6567488b5230");
	x86_movzx(&a, X_W8, X_R10, x86_seg_m32(X_SEG_FS, X_R9, 0));
	expect("movzx r10d,byte fs:[r9d]", &a, "6467450fb611");
	x86_store_imm(&a, X_W64, x86_seg_m32(X_SEG_GS, X_R13, 0), -2);
	expect("mov qword gs:[r13d+0],-2", &a, "656749c74500feffffff");
	x86_store(&a, X_W16, x86_seg_m32(X_SEG_FS, X_R12, 0x10), X_R13);
	expect("mov fs:[r12d+0x10],r13w", &a, "64676645896c2410");
	x86_store(&a, X_W8, x86_seg_m32(X_SEG_GS, X_RSP, -1), X_RDI);
	expect("mov gs:[esp-1],dil", &a, "656740887c24ff");
	x86_movsx(&a, X_W32, X_RBP, x86_seg_m32(X_SEG_GS, X_RBX, INT32_MIN));
	expect("movsxd rbp,gs:[ebx-0x80000000]", &a, "65674863ab00000080");
	x86_load(&a, X_W64, X_R9, x86_seg_abs32(X_SEG_GS, 0x10020));
	expect("addr32 mov r9,gs:[0x10020]", &a, "65674c8b0c2520000100");
	x86_load(&a, X_W64, X_R9, x86_seg_abs32(X_SEG_GS, 0xFFFFFFF8u));
	expect("addr32 mov r9,gs:[0xfffffff8]", &a, "65674c8b0c25f8ffffff");
	/* the run context: 64-bit address size, sign-extended disp32 */
	x86_load(&a, X_W64, X_R15, x86_seg_abs(X_SEG_GS, -3992));
	expect("mov r15,gs:[-3992]", &a, "654c8b3c2568f0ffff");
	x86_store(&a, X_W64, x86_seg_abs(X_SEG_FS, -3992), X_R15);
	expect("mov fs:[-3992],r15", &a, "644c893c2568f0ffff");
	x86_alu_mi(&a, X_W64, X_EXT_SUB, x86_r(X_R15), 14);
	expect("sub r15,14", &a, "4983ef0e");
	x86_load(&a, X_W64, X_RAX, x86_mi(X_RDX, X_RAX, 8, 0));
	expect("mov rax,[rdx+rax*8]", &a, "488b04c2");
	x86_push(&a, X_R15);
	x86_pop(&a, X_RBX);
	x86_ret(&a);
	expect("push r15; pop rbx; ret", &a, "41575bc3");
	printf("RESULT passed=%u failed=%u skipped=0\n", passed, failed);
	return failed != 0;
}
