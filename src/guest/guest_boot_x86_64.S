/* guest_boot_x86_64.S: Multiboot v1 header, 32-bit entry, switch to long
 * mode, and the 256 exception/interrupt stubs.
 *
 * ---- entry contract (the full memory map and RPC protocol: include/nub/rpc.h)
 * The ELF entry nub_guest_entry32 (gpa in the kernel image at 0x100000) is
 * entered in 32-bit protected mode exactly as Multiboot v1 leaves the CPU
 * (Multiboot spec 3.2), so QEMU -kernel and a KVM host use the same path:
 *   CS   flat 4 GiB 32-bit code, DS/ES/SS flat 4 GiB data, any selectors
 *   CR0  PE=1, PG=0; interrupts disabled; EFLAGS.VM=0; no stack required
 *   EAX  0x2BADB002 (Multiboot; EBX = gpa of the Multiboot info struct)
 *        or NUB_GUEST_BOOT_MAGIC 0x4E554247 (kvm host; EBX ignored, the
 *        host has written mailbox.ram_bytes at NUB_GUEST_MAILBOX_GPA)
 * A KVM host sets this state with KVM_SET_SREGS (CR0 = PE, segments flat
 * with db=1, g=1) and KVM_SET_REGS (rip = e_entry, rax, rbx, rflags = 2).
 * It loads the PT_LOAD segments at p_paddr (the kernel zeroes its own .bss
 * again, so a loader that skips the zero tail is harmless).
 *
 * What the entry does (SDM vol. 3A 9.8.5 "Initializing IA-32e mode"):
 *   1. zero .bss; build identity page tables for 0..4 GiB (2 MiB pages, the
 *      first 2 MiB in 4 KiB pages with page 0 not present);
 *   2. CR4.PAE, CR3, EFER.LME, CR0.PG|WP; lgdt (guest_cpu_x86_64.c);
 *   3. far jump to 64-bit code, load data segments and the boot stack;
 *   4. guest_main(boot_magic, multiboot_info_gpa) in C, which never returns.
 * Trap stubs: 16 bytes each, pushing a dummy error code where the CPU
 * pushes none, then the vector; guest_trap_common saves the GPRs and calls
 * guest_trap(frame) (guest_trap.c); when that returns (a handled fault in a
 * PVM window), it restores the possibly rewritten frame and irets.
 */
#include "guest/guest_cpu_x86_64.h"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* bit 0: align modules; bit 1: memory info */

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

/* From 32-bit protected mode, paging off, to 64-bit code at `target`:
 * CR4.PAE, CR3 = cr3 (a register other than ecx; eax, ecx and edx are
 * clobbered), EFER.LME, CR0.PG (with WP), the boot GDT, a far jump to the
 * kernel code selector. */
	.macro ENTER_LONG_MODE cr3, target
	mov %cr4, %ecx
	or $X86_CR4_PAE, %ecx
	mov %ecx, %cr4
	mov \cr3, %cr3
	mov $X86_MSR_EFER, %ecx
	rdmsr
	or $X86_EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(X86_CR0_PG | X86_CR0_WP | X86_CR0_PE), %eax
	mov %eax, %cr0
	lgdt guest_gdt_ptr
	ljmp $GUEST_SEL_KCODE, $\target
	.endm

/* In 64-bit code: the kernel data selector in DS/ES/SS, null in FS/GS
 * (their bases come from MSRs); clobbers eax. */
	.macro KERNEL_DATA_SEGMENTS
	mov $GUEST_SEL_KDATA, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %eax, %eax
	mov %ax, %fs
	mov %ax, %gs
	.endm

	.section .boot32, "ax"
	.code32
	.globl nub_guest_entry32
	.type nub_guest_entry32, @function
nub_guest_entry32:
	cli
	cld
	cmp $GUEST_AP_MAGIC, %eax
	je ap_entry32
	mov %eax, %esi            /* boot magic (kept in esi/edi throughout) */
	mov %ebx, %edi            /* multiboot info gpa */

	/* 1a. zero .bss (page tables, stacks, directory) */
	mov $__bss_start, %edx
1:	cmp $__bss_end, %edx
	jae 2f
	movl $0, (%edx)
	add $4, %edx
	jmp 1b
2:
	/* 1b. PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3 */
	mov $guest_boot_pdpt, %eax
	or $(X86_PTE_P | X86_PTE_W), %eax
	mov %eax, guest_boot_pml4
	xor %ecx, %ecx
3:	mov %ecx, %eax
	shl $12, %eax
	add $guest_boot_pd, %eax
	or $(X86_PTE_P | X86_PTE_W), %eax
	mov %eax, guest_boot_pdpt(, %ecx, 8)
	inc %ecx
	cmp $4, %ecx
	jb 3b
	/* 1c. PD entries 1..2047: 2 MiB pages, identity */
	mov $1, %ecx
4:	mov %ecx, %eax
	shl $21, %eax
	or $(X86_PTE_P | X86_PTE_W | X86_PTE_PS), %eax
	mov %eax, guest_boot_pd(, %ecx, 8)
	inc %ecx
	cmp $2048, %ecx
	jb 4b
	/* 1d. PD[0] -> PT0: 4 KiB pages 1..511, page 0 left not present */
	mov $guest_boot_pt0, %eax
	or $(X86_PTE_P | X86_PTE_W), %eax
	mov %eax, guest_boot_pd
	mov $1, %ecx
5:	mov %ecx, %eax
	shl $12, %eax
	or $(X86_PTE_P | X86_PTE_W), %eax
	mov %eax, guest_boot_pt0(, %ecx, 8)
	inc %ecx
	cmp $512, %ecx
	jb 5b

	/* 2. PAE, CR3, EFER.LME, paging */
	mov $guest_boot_pml4, %eax
	ENTER_LONG_MODE %eax, entry64

	.code64
entry64:
	KERNEL_DATA_SEGMENTS
	mov $(guest_boot_stack + GUEST_BOOT_STACK_SIZE), %rsp
	xor %ebp, %ebp
	mov %esi, %eax            /* 32-bit moves zero the upper halves */
	mov %edi, %esi            /* arg 2: multiboot info gpa */
	mov %eax, %edi            /* arg 1: boot magic */
	call guest_main
6:	cli
	hlt
	jmp 6b
	.size nub_guest_entry32, . - nub_guest_entry32

/* ---- application processors (kvm host: EAX = NUB_GUEST_AP_MAGIC, EBX = i) ----
 * The BSP prepared guest_ap_boot[i] (this CPU's PML4 and stack, guest_smp.c)
 * before it rang READY; the same mode switch as above with that PML4, then
 * guest_ap_main(i) on that stack. An index without prepared state halts. */
	.code32
ap_entry32:
	cmp $GUEST_MAX_CPUS, %ebx
	jae ap_dead
	mov %ebx, %esi            /* the vCPU index, kept in esi */
	shl $4, %ebx              /* 16-byte guest_ap_start entries */
	mov guest_ap_boot(%ebx), %edi /* cr3 */
	test %edi, %edi
	jz ap_dead
	ENTER_LONG_MODE %edi, ap_entry64
ap_dead:
	cli
	hlt
	jmp ap_dead

	.code64
ap_entry64:
	KERNEL_DATA_SEGMENTS
	mov %esi, %edi            /* arg 1: the vCPU index */
	mov %esi, %eax
	shl $4, %eax
	mov guest_ap_boot+8(%rax), %rsp
	xor %ebp, %ebp
	call guest_ap_main
7:	cli
	hlt
	jmp 7b

/* ---- the INIT/SIPI trampoline (QEMU Multiboot: the APs start in real mode) ----
 * Copied by the BSP to GUEST_AP_TRAMPOLINE_GPA (guest_smp.c); a SIPI with
 * vector GUEST_AP_TRAMPOLINE_GPA >> 12 starts an AP there at CS:IP =
 * 0x0800:0000. It loads a flat 32-bit GDT, enters protected mode and jumps
 * to nub_guest_entry32 with EAX = GUEST_AP_MAGIC, EBX = the index the BSP
 * wrote at tramp_index (one AP is started at a time). Position-dependent:
 * every absolute address is GUEST_AP_TRAMPOLINE_GPA + (label - start). */
#define TRAMP(label) (GUEST_AP_TRAMPOLINE_GPA + (label - guest_ap_tramp_start))
	.section .rodata.ap_tramp, "a"
	.align 16
	.globl guest_ap_tramp_start, guest_ap_tramp_end, guest_ap_tramp_index
	.code16
guest_ap_tramp_start:
	cli
	cld
	xor %ax, %ax
	mov %ax, %ds
	lgdtl TRAMP(tramp_gdtr)
	mov %cr0, %eax
	or $X86_CR0_PE, %eax
	mov %eax, %cr0
	ljmpl $0x08, $TRAMP(tramp32)
	.code32
tramp32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov TRAMP(guest_ap_tramp_index), %ebx
	mov $GUEST_AP_MAGIC, %eax
	mov $nub_guest_entry32, %ecx
	jmp *%ecx
	.align 8
tramp_gdt:
	.quad 0
	.quad 0x00CF9A000000FFFF /* 32-bit code, flat */
	.quad 0x00CF92000000FFFF /* data, flat */
tramp_gdtr:
	.word 23
	.long TRAMP(tramp_gdt)
	.align 4
guest_ap_tramp_index:
	.long 0
guest_ap_tramp_end:
	.code64

/* ---- trap stubs ------------------------------------------------------------ */
	.text
	.align GUEST_TRAP_STUB_SIZE
	.globl guest_trap_stubs
guest_trap_stubs:
	.set vec, 0
	.rept GUEST_IDT_VECTORS
	.align GUEST_TRAP_STUB_SIZE
	.if !X86_VEC_HAS_ERR(vec)
	pushq $0
	.endif
	pushq $vec
	jmp guest_trap_common
	.set vec, vec + 1
	.endr

/* Frame on entry: vector, error, rip, cs, rflags, rsp, ss (CPU-aligned to 16;
 * 7 x 8 + 15 GPRs x 8 = 176 bytes, so rsp is 16-aligned at the call).
 * A trap from ring 3 swaps GS in and out (GS_BASE = this CPU's guest_cpu
 * in ring 0, see guest_jit_x86_64.S). */
guest_trap_common:
	testb $3, 24(%rsp)        /* from ring 3 (compiled PVM code): kernel GS */
	jz 1f
	swapgs
1:	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	cld
	call guest_trap
	/* guest_trap returned: the fault was handled (a PVM window fault:
	 * retry, or resume at the catch point it wrote into the frame) */
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp             /* vector, error code */
	testb $3, 8(%rsp)         /* back to ring 3: its GS */
	jz 2f
	swapgs
2:	iretq

/* int pvm_plat_catch_arm(pvm_plat_catch *c) (src/pvm/pvm_platform.h):
 * record the return address, the caller's rsp after return and the
 * callee-saved registers (System V), arm c (guest_catch_armed), return 0.
 * guest_paging_window_fault resumes here by writing these into a trap
 * frame with rax = 1, so the arm point returns a second time with 1. */
	.globl pvm_plat_catch_arm
	.type pvm_plat_catch_arm, @function
pvm_plat_catch_arm:
	mov (%rsp), %rax
	mov %rax, 0(%rdi)
	lea 8(%rsp), %rax
	mov %rax, 8(%rdi)
	mov %rbx, 16(%rdi)
	mov %rbp, 24(%rdi)
	mov %r12, 32(%rdi)
	mov %r13, 40(%rdi)
	mov %r14, 48(%rdi)
	mov %r15, 56(%rdi)
	sub $8, %rsp              /* 16-byte alignment at the call */
	call guest_catch_armed
	add $8, %rsp
	xor %eax, %eax
	ret
	.size pvm_plat_catch_arm, . - pvm_plat_catch_arm

/* ---- boot-time memory (.bss; zeroed by the entry) ---------------------------- */
	.section .bss.pagetables, "aw", @nobits
	.align 4096
	.globl guest_boot_pml4, guest_boot_pdpt, guest_boot_pd, guest_boot_pt0
guest_boot_pml4: .skip 4096
guest_boot_pdpt: .skip 4096
guest_boot_pd:   .skip 4 * 4096
guest_boot_pt0:  .skip 4096

	.section .bss.stacks, "aw", @nobits
	.align 4096
	.globl guest_boot_stack_guard, guest_boot_stack, guest_trap_stack
guest_boot_stack_guard: .skip 4096 /* unmapped by guest_paging_init */
guest_boot_stack: .skip GUEST_BOOT_STACK_SIZE
guest_trap_stack: .skip GUEST_TRAP_STACK_SIZE

	.section .note.GNU-stack, "", @progbits
