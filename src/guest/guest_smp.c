/* guest_smp.c: application processors: the per-CPU state the BSP prepares
 * at boot, and an AP's C entry, which serves one lane.
 *
 * Under the kvm host (include/nub/rpc.h, entry contract) the host tells the
 * BSP how many vCPUs it created (mailbox vcpus); the BSP fills every AP i's
 * entry of guest_cpus[] (its IST stack; the AP loads its GDT and TSS),
 * gives it a PML4 of its own (the kernel's identity map and the JIT's code
 * region shared, PML4[1] the window of the invocation it runs, its own JIT
 * context and ring-3 stack pages: guest_jit_cpu_prepare) and a stack,
 * publishes them in guest_ap_boot[i] for the 32-bit entry, and says
 * how many it prepared (mailbox lanes_ready) before it rings READY. The host
 * starts AP i with EAX = NUB_GUEST_AP_MAGIC, EBX = i; the AP serves lane
 * i - 1 (guest_lane.c) until the host stores STOP, rings
 * NUB_DOORBELL_LANE_STOPPED and halts; the host may start it again.
 * Under QEMU (Multiboot) the APs wait for INIT/SIPI: guest_smp_start_sipi
 * copies the real-mode trampoline (guest_boot_x86_64.S) below 1 MiB and
 * starts them one at a time through the local APIC; they reach the same
 * 32-bit entry and serve their lanes without halting when idle (a CPU
 * halted with interrupts off stays halted under QEMU), so the BSP can play
 * the host (tests/guest).
 */
#include "cap/lane_slot.h"
#include "guest/guest.h"
#include "guest/guest_cpu_x86_64.h"

_Static_assert(GUEST_AP_MAGIC == NUB_GUEST_AP_MAGIC, "the boot assembly's AP magic");
_Static_assert(GUEST_MAX_CPUS == MAX_EXECUTION_LANES, "vCPUs the vmm may create");

#define AP_STACK_SIZE 0x10000u

/* Read by the AP entry (guest_boot_x86_64.S, 32-bit code: 16-byte entries,
 * cr3 at +0, the stack top at +8). cr3 0: not prepared. */
typedef struct {
	uint32_t cr3;
	uint32_t _pad;
	uint64_t stack_top;
} guest_ap_start;
_Static_assert(sizeof(guest_ap_start) == 16, "the AP entry indexes by 16");

guest_ap_start guest_ap_boot[GUEST_MAX_CPUS];

uint32_t guest_smp_prepare(uint32_t vcpus)
{
	if (vcpus > GUEST_MAX_CPUS)
		vcpus = GUEST_MAX_CPUS;
	uint32_t ready = 0;
	for (uint32_t i = 1; i < vcpus; i++) {
		guest_cpu *c = &guest_cpus[i];
		uint8_t *stack = guest_heap_alloc(AP_STACK_SIZE, 4096);
		uint8_t *ist = guest_heap_alloc(GUEST_TRAP_STACK_SIZE, 4096);
		uint64_t *pml4 = guest_paging_pml4_new();
		c->index = i;
		c->pml4 = pml4;
		if (!stack || !ist || !pml4 || !guest_jit_cpu_prepare(c)) {
			guest_heap_free(stack);
			guest_heap_free(ist);
			guest_heap_free(pml4);
			c->pml4 = NULL;
			break;
		}
		c->ist_top = (uint64_t)(uintptr_t)(ist + GUEST_TRAP_STACK_SIZE);
		guest_ap_boot[i].stack_top = (uint64_t)(uintptr_t)(stack + AP_STACK_SIZE);
		guest_ap_boot[i].cr3 = (uint32_t)(uintptr_t)pml4; /* the heap is below 3 GiB */
		ready++;
	}
	return ready;
}

/* ---- INIT/SIPI (SDM vol. 3A 10.6.1 ICR, 8.4.4.1 the MP initialization
 * sequence); QEMU's APIC IDs are the CPU indices ------------------------------ */
#define LAPIC_BASE 0xFEE00000u
#define LAPIC_SVR 0xF0u
#define LAPIC_ICR_LO 0x300u
#define LAPIC_ICR_HI 0x310u
#define LAPIC_SVR_ENABLE 0x100u
#define LAPIC_ICR_PENDING (1u << 12)
#define LAPIC_ICR_INIT 0x00004500u /* delivery INIT, level assert */
#define LAPIC_ICR_SIPI 0x00004600u /* delivery start-up; | vector */
#define AP_START_SPINS 200000000u

extern const uint8_t guest_ap_tramp_start[], guest_ap_tramp_end[];
extern uint32_t guest_ap_tramp_index;

static bool halt_when_idle = true;

static void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg) = v;
}

static uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg);
}

static void lapic_ipi(uint32_t apic_id, uint32_t lo)
{
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, lo);
	for (uint32_t i = 0; i < 1000000u && (lapic_read(LAPIC_ICR_LO) & LAPIC_ICR_PENDING); i++)
		__builtin_ia32_pause();
}

static ParallelInvokeSlot *slot_of(uint32_t lane)
{
	return (ParallelInvokeSlot *)(uintptr_t)(NUB_GUEST_SLOTS_GPA + (uint64_t)lane * NUB_PARALLEL_SLOT_STRIDE);
}

uint32_t guest_smp_start_sipi(uint32_t vcpus)
{
	uint32_t ready = guest_smp_prepare(vcpus);
	halt_when_idle = false;
	size_t len = (size_t)(guest_ap_tramp_end - guest_ap_tramp_start);
	uint8_t *tramp = (uint8_t *)(uintptr_t)GUEST_AP_TRAMPOLINE_GPA;
	memcpy(tramp, guest_ap_tramp_start, len);
	uint32_t *index = (uint32_t *)(void *)(tramp + ((const uint8_t *)&guest_ap_tramp_index - guest_ap_tramp_start));
	lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | LAPIC_SVR_ENABLE | 0xFFu);
	uint32_t up = 0;
	for (uint32_t i = 1; i <= ready; i++) {
		ParallelInvokeSlot *s = slot_of(i - 1);
		lane_slot_init(s);
		__atomic_store_n(index, i, __ATOMIC_SEQ_CST);
		lapic_ipi(i, LAPIC_ICR_INIT);
		lapic_ipi(i, LAPIC_ICR_SIPI | (GUEST_AP_TRAMPOLINE_GPA >> 12));
		uint32_t n = 0;
		while (lane_slot_status(s) == NUB_SLOT_STARTING && n++ < AP_START_SPINS)
			__builtin_ia32_pause();
		if (lane_slot_status(s) != NUB_SLOT_EMPTY)
			break;
		up++;
	}
	return up;
}

void guest_ap_main(uint32_t index) __attribute__((noreturn));
void guest_ap_main(uint32_t index)
{
	guest_cpu_ap_load(&guest_cpus[index]);
	guest_paging_ap_init();
	guest_jit_cpu_init();
	guest_lane_serve(index - 1, halt_when_idle);
	outl(NUB_RPC_DOORBELL_PORT, NUB_DOORBELL_LANE_STOPPED);
	halt_forever();
}
