/* guest_cpu_x86_64.c: GDT (with a 64-bit TSS) and IDT of the guest kernel.
 *
 * The selector layout is the table in guest_cpu_x86_64.h. The boot entry
 * loads guest_gdt_ptr (the template) in 32-bit mode (only the low 4 bytes
 * of the base are read there; the kernel lives below 4 GiB). guest_cpu_init
 * then gives CPU 0 its own entry of guest_cpus[] (GDT copy with its TSS
 * descriptor, TSS, GS_BASE), loads TR and the IDT (shared by every CPU):
 * every vector goes through IST1, a dedicated stack per CPU, so a kernel
 * stack overflow still reports cleanly (and a trap from ring 3 lands on the
 * same stack). guest_cpu_ap_load does the same on an application
 * processor for its own entry (guest_smp.c prepared it).
 */
#include "guest/guest.h"
#include "guest/guest_cpu_x86_64.h"

/* Segment descriptors (SDM 3.4.5): base 0, limit 4 GiB (ignored in 64-bit
 * mode for code), G=1; code: L=1 (64-bit), type 0xA (execute/read);
 * data: type 0x2 (read/write). */
#define DESC_KCODE64 0x00AF9A000000FFFFull
#define DESC_KDATA 0x00CF92000000FFFFull
#define DESC_UDATA 0x00CFF2000000FFFFull
#define DESC_UCODE64 0x00AFFA000000FFFFull

uint64_t guest_gdt[GUEST_GDT_ENTRIES] __attribute__((aligned(16))) = {
	0, DESC_KCODE64, DESC_KDATA, DESC_UDATA, DESC_UCODE64, 0 /* TSS lo */, 0 /* TSS hi */,
};
x86_dtr guest_gdt_ptr = {sizeof guest_gdt - 1, (uint64_t)(uintptr_t)guest_gdt};

static x86_gate64 guest_idt[GUEST_IDT_VECTORS] __attribute__((aligned(16)));

guest_cpu guest_cpus[GUEST_MAX_CPUS];

extern char guest_trap_stubs[];
extern char guest_trap_stack[];
extern uint64_t guest_boot_pml4[512];

/* 64-bit available-TSS system descriptor (SDM 8.2.3, type 0x9). */
static void set_tss_desc(uint64_t *gdt, uint64_t base, uint32_t limit)
{
	uint64_t lo = (limit & 0xFFFFull) | ((base & 0xFFFFFFull) << 16) | (0x89ull << 40) |
	              ((uint64_t)((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFFull) << 56);
	gdt[GUEST_SEL_TSS / 8] = lo;
	gdt[GUEST_SEL_TSS / 8 + 1] = base >> 32;
}

/* CPU `index`'s own GDT (a copy of the boot GDT plus its TSS), TSS (IST1 and
 * rsp0 = trap_stack_top: every trap, from ring 0 or 3, lands there) and
 * GS_BASE; loaded on the calling CPU. */
static void cpu_tables_load(unsigned index, uint64_t trap_stack_top)
{
	guest_cpu *c = &guest_cpus[index];
	c->self = c;
	c->index = index;
	c->user_rflags = X86_RFLAGS_FIXED;
	for (unsigned i = 0; i < GUEST_GDT_ENTRIES; i++)
		c->gdt[i] = guest_gdt[i];
	c->tss.ist[0] = trap_stack_top;
	c->tss.rsp[0] = trap_stack_top;
	c->tss.iomap_base = sizeof c->tss; /* no I/O bitmap */
	set_tss_desc(c->gdt, (uint64_t)(uintptr_t)&c->tss, sizeof c->tss - 1);
	x86_dtr gdtr = {sizeof c->gdt - 1, (uint64_t)(uintptr_t)c->gdt};
	__asm__ volatile("lgdt %0" : : "m"(gdtr) : "memory");
	__asm__ volatile("ltr %w0" : : "r"((uint16_t)GUEST_SEL_TSS));
	wrmsr(X86_MSR_GS_BASE, (uint64_t)(uintptr_t)c);
	wrmsr(X86_MSR_KERNEL_GS_BASE, 0);
}

static void idt_load(void)
{
	x86_dtr idtr = {sizeof guest_idt - 1, (uint64_t)(uintptr_t)guest_idt};
	__asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

void guest_cpu_ap_load(guest_cpu *c)
{
	cpu_tables_load(c->index, c->ist_top);
	idt_load();
}

void guest_cpu_init(void)
{
	guest_cpus[0].pml4 = guest_boot_pml4;
	guest_cpus[0].ist_top = (uint64_t)(uintptr_t)(guest_trap_stack + GUEST_TRAP_STACK_SIZE);
	cpu_tables_load(0, guest_cpus[0].ist_top);

	for (unsigned v = 0; v < GUEST_IDT_VECTORS; v++) {
		uint64_t a = (uint64_t)(uintptr_t)(guest_trap_stubs + v * GUEST_TRAP_STUB_SIZE);
		guest_idt[v] = (x86_gate64){
			.off_lo = (uint16_t)a,
			.sel = GUEST_SEL_KCODE,
			.ist = 1,
			.type_attr = 0x8E,
			.off_mid = (uint16_t)(a >> 16),
			.off_hi = (uint32_t)(a >> 32),
		};
	}
	idt_load();
}
