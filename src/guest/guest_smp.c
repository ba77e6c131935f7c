/* guest_smp.c: application processors: the per-CPU state the BSP prepares
 * at boot, and an AP's C entry, which serves one lane.
 *
 * Under the kvm host (include/nub/rpc.h, entry contract) the host tells the
 * BSP how many vCPUs it created (mailbox vcpus); the BSP gives every AP i a
 * per-CPU block (guest_cpu: GDT, TSS, IST stack), a PML4 of its own
 * (PML4[0] shared, PML4[1] the window of the invocation it runs) and a
 * stack, publishes them in guest_ap_boot[i] for the 32-bit entry, and says
 * how many it prepared (mailbox lanes_ready) before it rings READY. The host
 * starts AP i with EAX = NUB_GUEST_AP_MAGIC, EBX = i; the AP serves lane
 * i - 1 (guest_lane.c) until the host stores STOP, rings
 * NUB_DOORBELL_LANE_STOPPED and halts; the host may start it again.
 * Under QEMU TCG (Multiboot) APs stay parked: there is no INIT/SIPI
 * trampoline yet.
 */
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
static guest_cpu *ap_cpu[GUEST_MAX_CPUS];

uint32_t guest_smp_prepare(uint32_t vcpus)
{
	if (vcpus > GUEST_MAX_CPUS)
		vcpus = GUEST_MAX_CPUS;
	uint32_t ready = 0;
	for (uint32_t i = 1; i < vcpus; i++) {
		guest_cpu *c = guest_heap_alloc(sizeof *c, 64);
		uint8_t *stack = guest_heap_alloc(AP_STACK_SIZE, 4096);
		uint8_t *ist = guest_heap_alloc(GUEST_TRAP_STACK_SIZE, 4096);
		uint64_t *pml4 = guest_paging_pml4_new();
		if (!c || !stack || !ist || !pml4) {
			guest_heap_free(c);
			guest_heap_free(stack);
			guest_heap_free(ist);
			guest_heap_free(pml4);
			break;
		}
		memset(c, 0, sizeof *c);
		c->index = i;
		c->pml4 = pml4;
		c->ist_top = (uint64_t)(uintptr_t)(ist + GUEST_TRAP_STACK_SIZE);
		ap_cpu[i] = c;
		guest_ap_boot[i].stack_top = (uint64_t)(uintptr_t)(stack + AP_STACK_SIZE);
		guest_ap_boot[i].cr3 = (uint32_t)(uintptr_t)pml4; /* the heap is below 3 GiB */
		ready++;
	}
	return ready;
}

void guest_ap_main(uint32_t index) __attribute__((noreturn));
void guest_ap_main(uint32_t index)
{
	guest_cpu *c = ap_cpu[index];
	guest_cpu_load(c);
	guest_paging_ap_init();
	guest_lane_serve(index - 1, true);
	outl(NUB_RPC_DOORBELL_PORT, NUB_DOORBELL_LANE_STOPPED);
	halt_forever();
}
