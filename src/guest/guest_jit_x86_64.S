/* guest_jit_x86_64.S: the ring switch of compiled PVM code: enter ring 3 with SYSRET, come back with SYSCALL.
 *
 * uint32_t guest_jit_enter(const void *entry, uint8_t *base, const void *target, uint64_t user_rsp)
 *   saves the callee-saved registers and rsp in this CPU's guest_cpu
 *   (%gs:GUEST_CPU_KERNEL_RSP), clears every other register, and SYSRETs to
 *   entry(base, target) (the compiled code's System V trampoline) in ring 3
 *   with rsp = user_rsp, RFLAGS = %gs:GUEST_CPU_USER_RFLAGS (2: interrupts
 *   stay off; the test kernel's instruction count adds TF), GS swapped to
 *   the user value. [user_rsp] holds the exit gate's address: the
 *   trampoline's final `ret` lands on the gate, a user page holding
 *   `syscall`, which enters guest_jit_syscall (LSTAR).
 * guest_jit_syscall: swaps GS back, takes the kernel rsp saved at entry,
 *   accepts only a SYSCALL from the gate (rcx = %gs:GUEST_CPU_GATE_RET;
 *   anything else is reported as fatal), and returns eax (the exit reason)
 *   from guest_jit_enter.
 * A fault in ring 3 goes through the IDT as usual (guest_trap_common swaps
 * GS); guest_jit_trap may rewrite rip/rax and iret back to ring 3.
 */
#include "guest/guest_cpu_x86_64.h"

	.text
	.globl guest_jit_enter
	.type guest_jit_enter, @function
guest_jit_enter:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %gs:GUEST_CPU_KERNEL_RSP
	mov %rcx, %r8             /* user rsp */
	mov %rdi, %rcx            /* SYSRET: rip = rcx */
	mov %rsi, %rdi            /* entry(base, */
	mov %rdx, %rsi            /*       target) */
	mov %gs:GUEST_CPU_USER_RFLAGS, %r11 /* SYSRET: rflags = r11 (X86_RFLAGS_FIXED: IF = 0) */
	xor %eax, %eax            /* nothing of the kernel's reaches ring 3 */
	xor %edx, %edx
	xor %ebx, %ebx
	xor %ebp, %ebp
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	mov %r8, %rsp
	xor %r8d, %r8d
	swapgs
	sysretq
	.size guest_jit_enter, . - guest_jit_enter

	.globl guest_jit_syscall
	.type guest_jit_syscall, @function
guest_jit_syscall:
	swapgs
	mov %gs:GUEST_CPU_KERNEL_RSP, %rsp
	cmp %gs:GUEST_CPU_GATE_RET, %rcx
	jne 1f
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
1:	mov %rcx, %rdi
	and $-16, %rsp
	call guest_jit_bad_syscall /* reports, never returns */
	ud2
	.size guest_jit_syscall, . - guest_jit_syscall

/* The exit gate's instructions, copied by guest_jit_init into a page of the
 * code region (user, read+execute): the trampoline's ret lands here. */
	.section .rodata
	.globl guest_jit_gate, guest_jit_gate_ret, guest_jit_gate_end
guest_jit_gate:
	syscall
guest_jit_gate_ret:               /* rcx at SYSCALL: the only one accepted */
	ud2
guest_jit_gate_end:

	.section .note.GNU-stack, "", @progbits
