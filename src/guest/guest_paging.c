/* guest_paging.c: changes to the boot page tables after entry.
 *
 * The entry (guest_boot_x86_64.S) identity-maps 0..4 GiB: PML4[0] -> PDPT
 * -> 4 PDs of 2 MiB pages, except the first 2 MiB, which PT0 maps in 4 KiB
 * pages with page 0 absent. Here: the page below the boot stack becomes a
 * guard (not present), so a kernel stack overflow is a #PF delivered on
 * the IST1 trap stack and reported, not a silent corruption of .bss.
 * (SDM vol. 3A 4.5 "4-level paging"; 4.10.4.1 INVLPG.)
 */
#include "guest/guest.h"
#include "guest/guest_cpu_x86_64.h"

extern uint64_t guest_boot_pt0[512];
extern char guest_boot_stack_guard[];

static void unmap_low_4k(uintptr_t gpa)
{
	GUEST_ASSERT(gpa < 0x200000 && (gpa & 4095) == 0);
	guest_boot_pt0[gpa >> 12] = 0;
	__asm__ volatile("invlpg (%0)" : : "r"(gpa) : "memory");
}

void guest_paging_init(void)
{
	unmap_low_4k((uintptr_t)guest_boot_stack_guard);
}
