/* guest_cpu_x86_64.h: x86-64 hardware constants and tiny CPU helpers.
 *
 * Included by C and by the boot assembly (the C part is hidden from the
 * assembler). Control-register bits come as _BIT + mask pairs; section
 * numbers refer to the Intel SDM, volume 3A.
 */
#ifndef NUB_GUEST_CPU_X86_64_H
#define NUB_GUEST_CPU_X86_64_H

/* CR0 (SDM 2.5) */
#define X86_CR0_PE_BIT 0 /* protection enable */
#define X86_CR0_PE (1 << X86_CR0_PE_BIT)
#define X86_CR0_WP_BIT 16 /* ring 0 honours read-only pages */
#define X86_CR0_WP (1 << X86_CR0_WP_BIT)
#define X86_CR0_PG_BIT 31 /* paging */
#define X86_CR0_PG (1 << X86_CR0_PG_BIT)

/* CR4 (SDM 2.5) */
#define X86_CR4_PAE_BIT 5
#define X86_CR4_PAE (1 << X86_CR4_PAE_BIT)
#define X86_CR4_SMEP_BIT 20 /* ring 0 never executes user pages */
#define X86_CR4_SMEP (1 << X86_CR4_SMEP_BIT)

/* EFER MSR (SDM 2.2.1) */
#define X86_MSR_EFER 0xC0000080
#define X86_EFER_LME_BIT 8 /* long mode enable */
#define X86_EFER_LME (1 << X86_EFER_LME_BIT)
#define X86_EFER_NXE_BIT 11 /* execute-disable bit (PTE bit 63) honoured */
#define X86_EFER_NXE (1 << X86_EFER_NXE_BIT)
#define X86_EFER_SCE_BIT 0 /* SYSCALL/SYSRET enable */
#define X86_EFER_SCE (1 << X86_EFER_SCE_BIT)

/* SYSCALL/SYSRET and segment-base MSRs (SDM 5.8.8, 2.2.1) */
#define X86_MSR_STAR 0xC0000081   /* [47:32] kernel CS (SS = +8); [63:48] sysret base: SS = +8, CS = +16 */
#define X86_MSR_LSTAR 0xC0000082  /* 64-bit SYSCALL entry */
#define X86_MSR_FMASK 0xC0000084  /* RFLAGS bits SYSCALL clears */
#define X86_MSR_FS_BASE 0xC0000100
#define X86_MSR_GS_BASE 0xC0000101
#define X86_MSR_KERNEL_GS_BASE 0xC0000102 /* swapped with GS_BASE by swapgs */
/* RFLAGS (SDM 2.3) */
#define X86_RFLAGS_FIXED 0x2 /* bit 1 always set; IF = 0 */
#define X86_RFLAGS_SYSCALL_MASK 0x47700 /* TF, IF, DF, IOPL, NT, AC cleared on SYSCALL */

/* Page-table entry bits (SDM 4.5, tables 4-15..4-20) */
#define X86_PTE_P_BIT 0
#define X86_PTE_P (1 << X86_PTE_P_BIT)
#define X86_PTE_W_BIT 1
#define X86_PTE_W (1 << X86_PTE_W_BIT)
#define X86_PTE_U_BIT 2 /* user (ring 3) access, when set at every level */
#define X86_PTE_U (1 << X86_PTE_U_BIT)
#define X86_PTE_PS_BIT 7 /* 2 MiB page in a PD entry */
#define X86_PTE_PS (1 << X86_PTE_PS_BIT)
#define X86_PTE_NX_BIT 63 /* execute-disable (with EFER.NXE) */
#define X86_PTE_ADDR_MASK 0x000FFFFFFFFFF000ull

/* #PF error code (SDM 4.7, figure 4-12) */
#define X86_PF_P (1u << 0)     /* protection violation (else not present) */
#define X86_PF_W (1u << 1)     /* write access */
#define X86_PF_U (1u << 2)     /* user mode */
#define X86_PF_RSVD (1u << 3)  /* reserved bit set */
#define X86_PF_I (1u << 4)     /* instruction fetch */
#define X86_VEC_PF 14

/* Selector layout of the GDT (guest_cpu_x86_64.c builds it; SDM 3.4.5):
 *   index  selector  descriptor
 *   0      0x00      null
 *   1      0x08      kernel code, 64-bit, DPL 0
 *   2      0x10      kernel data, DPL 0
 *   3      0x1B      user data, DPL 3 (ring 3: compiled PVM code)
 *   4      0x23      user code, 64-bit, DPL 3
 *   5-6    0x28      64-bit TSS (16-byte system descriptor, SDM 8.2.3)
 * The order is the one SYSRET needs: STAR[63:48] = 0x10 gives SS = 0x18|3
 * and CS = 0x20|3; SYSCALL loads CS = STAR[47:32] = 0x08, SS = 0x10.
 */
#define GUEST_SEL_KCODE 0x08
#define GUEST_SEL_KDATA 0x10
#define GUEST_SEL_UDATA 0x1B
#define GUEST_SEL_UCODE 0x23
#define GUEST_SEL_TSS 0x28
#define GUEST_GDT_ENTRIES 7

/* Trap stubs: one 16-byte stub per vector, stub(v) = guest_trap_stubs + 16 v */
#define GUEST_TRAP_STUB_SIZE 16
#define GUEST_IDT_VECTORS 256
/* Vectors whose exceptions push an error code (SDM 6.15, table 6-1). */
#define X86_VEC_HAS_ERR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

#define GUEST_BOOT_STACK_SIZE 0x10000
/* Application processors (guest_smp.c; = NUB_GUEST_AP_MAGIC and
 * MAX_EXECUTION_LANES, checked there): the boot assembly needs them bare. */
#define GUEST_AP_MAGIC 0x4E554241
/* Where the BSP copies the INIT/SIPI trampoline (below 1 MiB, page aligned,
 * nothing of ours there; QEMU Multiboot only). */
#define GUEST_AP_TRAMPOLINE_GPA 0x8000
#define GUEST_TRAP_STACK_SIZE 0x4000

/* Per-CPU state (guest_cpu below): the offsets the assembly uses through
 * %gs (GS_BASE = &guest_cpus[cpu] while in ring 0; swapgs around ring 3). */
#define GUEST_MAX_CPUS 64 /* MAX_EXECUTION_LANES */
#define GUEST_CPU_KERNEL_RSP 0 /* kernel rsp saved by guest_jit_enter */
#define GUEST_CPU_GATE_RET 8   /* the only SYSCALL return address accepted */
#define GUEST_CPU_SELF 16      /* this struct's own address */
#define GUEST_CPU_USER_RFLAGS 24 /* RFLAGS compiled code starts with (SYSRET's r11) */

#ifndef __ASSEMBLER__
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}
static inline uint64_t read_cr3(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}
static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}
static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}
static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* 64-bit TSS (SDM 8.7, figure 8-11). */
typedef struct __attribute__((packed)) {
	uint32_t _res0;
	uint64_t rsp[3];
	uint64_t _res1;
	uint64_t ist[7];
	uint64_t _res2;
	uint16_t _res3;
	uint16_t iomap_base;
} x86_tss64;
_Static_assert(sizeof(x86_tss64) == 104, "TSS 104 B");

/* 64-bit interrupt gate (SDM 6.14.1, figure 6-8). */
typedef struct {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type_attr; /* 0x8E: present, DPL 0, 64-bit interrupt gate */
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t _res;
} x86_gate64;
_Static_assert(sizeof(x86_gate64) == 16, "gate 16 B");

typedef struct __attribute__((packed)) {
	uint16_t limit;
	uint64_t base;
} x86_dtr;

/* One per vCPU, an array indexed by CPU (guest_cpu_x86_64.c fills CPU 0,
 * guest_smp.c the application processors), reached through the GS base.
 * Everything a CPU must not share lives here: its GDT (its own TSS
 * descriptor, which ltr marks busy), TSS and IST stack, the ring-switch
 * state, its jit_vm and run-context pages, the window its PML4 maps, the
 * armed fault catch, the trap nesting. */
typedef struct guest_cpu {
	uint64_t kernel_rsp;      /* GUEST_CPU_KERNEL_RSP */
	uint64_t gate_ret;        /* GUEST_CPU_GATE_RET */
	struct guest_cpu *self;   /* GUEST_CPU_SELF */
	uint64_t user_rflags;     /* GUEST_CPU_USER_RFLAGS: X86_RFLAGS_FIXED (a measurement adds TF) */
	uint32_t index;
	uint32_t _pad;
	void *jit_run;            /* the jit_vm running compiled code on this CPU, or NULL */
	void *jit_vm;             /* this CPU's jit_vm (guest_jit.c), or NULL */
	uint8_t *jit_ctx_page;    /* its run context page (kernel address) */
	uint8_t *jit_stack_page;  /* its ring-3 stack page (kernel address) */
	uint32_t trap_depth;          /* nesting of guest_trap on this CPU */
	uint32_t _pad2;
	uint64_t *pml4;               /* this CPU's PML4 (PML4[0]'s identity map and PML4[2] shared) */
	struct pvm_plat_as *active;   /* the window PML4[1] maps */
	struct pvm_plat_catch *armed; /* the armed catch, or NULL */
	uint64_t ist_top;             /* top of its IST1 trap stack (also rsp0) */
	uint64_t code_gen;            /* guest_jit.c's region generation this CPU flushed for */
	uint64_t gdt[GUEST_GDT_ENTRIES] __attribute__((aligned(16)));
	x86_tss64 tss __attribute__((aligned(16)));
} guest_cpu;
_Static_assert(__builtin_offsetof(guest_cpu, kernel_rsp) == GUEST_CPU_KERNEL_RSP &&
                   __builtin_offsetof(guest_cpu, gate_ret) == GUEST_CPU_GATE_RET &&
                   __builtin_offsetof(guest_cpu, self) == GUEST_CPU_SELF &&
                   __builtin_offsetof(guest_cpu, user_rflags) == GUEST_CPU_USER_RFLAGS,
               "guest_jit_x86_64.S reads these offsets");
extern guest_cpu guest_cpus[GUEST_MAX_CPUS];

/* This CPU's state (ring 0 only: GS_BASE points at it). */
static inline guest_cpu *guest_cpu_self(void)
{
	guest_cpu *c;
	__asm__ volatile("mov %%gs:%c1, %0" : "=r"(c) : "i"(GUEST_CPU_SELF));
	return c;
}

/* An application processor: load c's GDT, TSS, GS base and the shared IDT
 * on the calling CPU (c->index, c->ist_top set; guest_cpu_x86_64.c). */
void guest_cpu_ap_load(guest_cpu *c);
#endif

#endif
