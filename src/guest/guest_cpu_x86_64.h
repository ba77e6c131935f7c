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

/* EFER MSR (SDM 2.2.1) */
#define X86_MSR_EFER 0xC0000080
#define X86_EFER_LME_BIT 8 /* long mode enable */
#define X86_EFER_LME (1 << X86_EFER_LME_BIT)

/* Page-table entry bits (SDM 4.5, tables 4-15..4-20) */
#define X86_PTE_P_BIT 0
#define X86_PTE_P (1 << X86_PTE_P_BIT)
#define X86_PTE_W_BIT 1
#define X86_PTE_W (1 << X86_PTE_W_BIT)
#define X86_PTE_PS_BIT 7 /* 2 MiB page in a PD entry */
#define X86_PTE_PS (1 << X86_PTE_PS_BIT)

/* Selector layout of the GDT (guest_cpu_x86_64.c builds it; SDM 3.4.5):
 *   index  selector  descriptor
 *   0      0x00      null
 *   1      0x08      kernel code, 64-bit, DPL 0
 *   2      0x10      kernel data, DPL 0
 *   3      0x1B      user data, DPL 3 (ring 3 for compiled code, later)
 *   4      0x23      user code, 64-bit, DPL 3
 *   5-6    0x28      64-bit TSS (16-byte system descriptor, SDM 8.2.3)
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
#define GUEST_TRAP_STACK_SIZE 0x4000

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
#endif

#endif
