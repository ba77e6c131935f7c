/* guest_trap.c: every exception/interrupt vector ends here.
 *
 * Reports (vector, error code, rip, cr2) on the serial console, in one
 * machine-readable line:
 *   FAULT vector=<dec> error=0x<hex> rip=0x<hex> cr2=0x<hex> fn=<dec|idle>
 * and in the mailbox's fault report, rings the doorbell with
 * NUB_DOORBELL_FAULT, then halts for good (kvm host, or QEMU with
 * "halt_on_fault" so a test can read the report from guest memory), or
 * leaves QEMU through the exit port (guest_exit_on_fault). There is no
 * recovery: a fault in the kernel means the sandbox must be rebuilt. The one
 * exception is a #PF on a data access inside an armed PVM window
 * (guest_paging_window_fault, the interpreter in ring 0) or in compiled
 * code in ring 3 (guest_jit_trap): a copy-on-write fill or the end of that
 * run with PAGE_FAULT, after which guest_trap returns and the stub irets.
 */
#include "guest/guest.h"
#include "guest/guest_cpu_x86_64.h"

static const char *const vec_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "r15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "r22", "r23", "r24", "r25", "r26", "r27", "#HV", "#VC", "#SX", "r31",
};

bool guest_exit_on_fault = true;
bool (*guest_trap_hook)(guest_trap_frame *f);

void guest_trap(guest_trap_frame *f)
{
	if (guest_trap_hook && guest_trap_hook(f))
		return;
	uint64_t cr2 = read_cr2();
	guest_cpu *cpu = guest_cpu_self();
	if (!cpu->trap_depth && (guest_paging_window_fault(f, cr2) || guest_jit_trap(f, cr2)))
		return;
	if (cpu->trap_depth++) { /* a fault while reporting: say so and stop */
		guest_exit(NUB_GUEST_EXIT_FAULT);
	}
	NubRpcMailbox *mb = guest_mailbox();
	mb->h.fault.vector = (uint32_t)f->vector;
	mb->h.fault.error_code = f->error_code;
	mb->h.fault.rip = f->rip;
	mb->h.fault.cr2 = cr2;
	mb->h.fault.rsp = f->rsp;
	mb->h.fault.fn_id = guest_rpc_current_fn;
	mb->h.fault.valid = 1;
	const char *name = f->vector < 32 ? vec_names[f->vector] : "irq";
	if (guest_rpc_current_fn == ~0ull)
		guest_log("FAULT vector=%llu (%s) error=0x%llx rip=0x%llx cr2=0x%llx fn=idle\n",
		          (unsigned long long)f->vector, name, (unsigned long long)f->error_code,
		          (unsigned long long)f->rip, (unsigned long long)cr2);
	else
		guest_log("FAULT vector=%llu (%s) error=0x%llx rip=0x%llx cr2=0x%llx fn=%llu\n",
		          (unsigned long long)f->vector, name, (unsigned long long)f->error_code,
		          (unsigned long long)f->rip, (unsigned long long)cr2,
		          (unsigned long long)guest_rpc_current_fn);
	outl(NUB_RPC_DOORBELL_PORT, NUB_DOORBELL_FAULT);
	if (guest_exit_on_fault)
		guest_exit(NUB_GUEST_EXIT_FAULT);
	halt_forever();
}
