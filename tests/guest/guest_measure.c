/* guest_measure.c: "measure" mode: instructions executed by the ring switch and a host-call round trip, counted by single-stepping.
 *
 * TCG timings say nothing about a real CPU, so this counts instead: with
 * RFLAGS.TF set, every instruction ends in a #DB; guest_trap_hook counts
 * them by the ring they came from (the trap stub itself runs with TF
 * clear). TF is carried into ring 3 through the per-CPU user RFLAGS that
 * SYSRET loads, and kept across SYSCALL by clearing TF from FMASK for the
 * measurement. Each figure has the count of an empty call (the same
 * enable/disable and indirect call) subtracted; a TF transition may move
 * one instruction between neighbours (SDM vol. 3A 17.3.1.4), so figures are
 * +-1. Lines: "MEASURE <name> ring0=<n> ring3=<n> exit=<pvm_exit> pc=<pc>".
 *   ring_switch      pvm_plat_jit_call into a user page holding `ret`: the
 *                    whole enter + exit (SYSRET, the gate's SYSCALL)
 *   jit_host_call    jit_run resuming after `ecalli 1` up to `ecalli 2`:
 *                    what one host call costs the guest's JIT engine
 *                    (context in/out, ring switch, exit bookkeeping)
 *   interp_host_call the same with the interpreter (pvm_run)
 */
#include "guest_test.h"
#include "guest/guest_cpu_x86_64.h"
#include "jit/jit.h"
#include "pvm/pvm.h"
#include "pvm/pvm_platform.h"

#define RFLAGS_TF 0x100u

/* Ring-3 code snippets, assembled here and copied into the code region
 * (nothing writes machine code by hand): snip_X .. snip_X_end. */
__asm__(".section .rodata\n"
        "snip_ret: ret\n"
        "snip_ret_end:\n"
        "snip_read: movq guest_boot_info, %rax\n" /* absolute: a kernel address below 2 GiB */
        "ud2\n"
        "snip_read_end:\n"
        "snip_write: movb $0, 1f(%rip)\n" /* its own code page */
        "1: ud2\n"
        "snip_write_end:\n"
        "snip_exec: movabsq $guest_main, %rax\n"
        "jmp *%rax\n"
        "snip_exec_end:\n"
        ".text\n");
extern const char snip_ret[], snip_ret_end[], snip_read[], snip_read_end[], snip_write[], snip_write_end[],
        snip_exec[], snip_exec_end[];
#define SNIP_LEN(x) ((size_t)(snip_##x##_end - snip_##x))

static volatile bool stepping;
static uint64_t steps[2];

static bool count_hook(guest_trap_frame *f)
{
	if (f->vector != 1 || !stepping)
		return false;
	steps[(f->cs & 3) ? 1 : 0]++;
	return true;
}

typedef struct {
	int what; /* 0: nothing; 1: ring switch; 2: jit_run; 3: pvm_run */
	const void *entry;
	jit_vm *vm;
	const jit_code *code;
	pvm_instance *m;
	pvm_exit x;
} job;

static __attribute__((noinline)) void run_job(job *j)
{
	switch (j->what) {
	case 1:
		j->x = (pvm_exit)pvm_plat_jit_call(j->vm, j->entry, (uint8_t *)(uintptr_t)NUB_GUEST_VA_BASE, NULL);
		break;
	case 2:
		j->x = jit_run(j->vm, j->code, j->m);
		break;
	case 3:
		j->x = pvm_run(j->m);
		break;
	default:
		break;
	}
}

static void count(job *j, uint64_t out[2])
{
	guest_cpu *c = guest_cpu_self();
	steps[0] = steps[1] = 0;
	guest_trap_hook = count_hook;
	c->user_rflags = X86_RFLAGS_FIXED | RFLAGS_TF;
	wrmsr(X86_MSR_FMASK, X86_RFLAGS_SYSCALL_MASK & ~RFLAGS_TF);
	stepping = true;
	__asm__ volatile("pushfq; orq %0, (%%rsp); popfq" : : "i"(RFLAGS_TF) : "memory", "cc");
	run_job(j);
	__asm__ volatile("pushfq; andq %0, (%%rsp); popfq" : : "i"(~(uint64_t)RFLAGS_TF) : "memory", "cc");
	stepping = false;
	wrmsr(X86_MSR_FMASK, X86_RFLAGS_SYSCALL_MASK);
	c->user_rflags = X86_RFLAGS_FIXED;
	guest_trap_hook = NULL;
	out[0] = steps[0];
	out[1] = steps[1];
}

static void report(const char *name, job *j, const uint64_t base[2])
{
	uint64_t n[2];
	count(j, n);
	guest_log("MEASURE %s ring0=%llu ring3=%llu exit=%u pc=%u\n", name, (unsigned long long)(n[0] - base[0]),
	          (unsigned long long)(n[1] - base[1]), (unsigned)j->x, j->m ? pvm_pc(j->m) : 0);
}

/* @0 ecalli 1; @2 ecalli 2; @4 trap */
static const uint8_t t_two_ecalli[] = {0, 0, 5, 10, 1, 10, 2, 0, 0x15};

unsigned guest_measure(void)
{
	unsigned fails = 0;
	job j = {0};
	uint64_t base[2];
	count(&j, base); /* the empty call: subtracted from every figure */
	guest_log("MEASURE baseline ring0=%llu ring3=%llu\n", (unsigned long long)base[0],
	          (unsigned long long)base[1]);

	j.vm = guest_cpu_self()->jit_vm;
	void *ret_page = pvm_plat_code_new(snip_ret, SNIP_LEN(ret));
	if (!j.vm || !ret_page) {
		guest_log("MEASURE error: no JIT (vm 0x%llx, code page 0x%llx)\n", (unsigned long long)(uintptr_t)j.vm,
		          (unsigned long long)(uintptr_t)ret_page);
		return 1;
	}
	j.what = 1;
	j.entry = ret_page;
	report("ring_switch", &j, base);
	pvm_plat_code_free(ret_page, SNIP_LEN(ret));

	pvm_program *p = NULL;
	jit_code *code = NULL;
	if (pvm_program_new(t_two_ecalli, sizeof t_two_ecalli, &p) != PVM_E_OK || jit_compile(p, &code) != JIT_E_OK) {
		guest_log("MEASURE error: program\n");
		return 1;
	}
	for (int engine = 2; engine <= 3; engine++) {
		pvm_instance *m = NULL;
		if (pvm_instance_new(p, &m) != PVM_E_OK) {
			fails++;
			continue;
		}
		pvm_set_gas(m, 100);
		j.what = engine;
		j.code = code;
		j.m = m;
		run_job(&j); /* to `ecalli 1` */
		bool first = j.x == PVM_EXIT_HOST && pvm_pc(m) == 0 && pvm_exit_arg(m) == 1;
		report(engine == 2 ? "jit_host_call" : "interp_host_call", &j, base);
		if (!first || j.x != PVM_EXIT_HOST || pvm_pc(m) != 2 || pvm_exit_arg(m) != 2 || pvm_gas(m) != 98) {
			guest_log("MEASURE error: engine %d stopped at pc %u exit %u arg %u gas %lld\n", engine, pvm_pc(m),
			          (unsigned)j.x, pvm_exit_arg(m), (long long)pvm_gas(m));
			fails++;
		}
		pvm_instance_free(m);
	}
	jit_code_free(code);
	pvm_program_free(p);
	return fails;
}

/* "ring3=read|write|exec": what compiled code could do if the JIT emitted
 * something wrong: enter ring 3 (the JIT's own ring switch, no JIT run
 * active) at a code page that reads kernel memory (guest_boot_info), writes
 * its own code page, or jumps into kernel code (guest_main). Each must end
 * in a #PF from ring 3 that the kernel reports as fatal: read 0x5 (P|U),
 * write 0x7 (P|W|U), fetch 0x15 (P|U|I). Returns only when nothing faulted. */
void guest_ring3_probe(const char *what)
{
	const char *code;
	size_t n;
	if (memcmp(what, "read", 4) == 0) {
		code = snip_read;
		n = SNIP_LEN(read);
	} else if (memcmp(what, "write", 5) == 0) {
		code = snip_write;
		n = SNIP_LEN(write);
	} else if (memcmp(what, "exec", 4) == 0) {
		code = snip_exec;
		n = SNIP_LEN(exec);
	} else {
		guest_log("RING3 error: unknown probe\n");
		return;
	}
	void *page = pvm_plat_code_new(code, n);
	guest_log("RING3 %s code=0x%llx\n", what, (unsigned long long)(uintptr_t)page);
	if (page)
		(void)pvm_plat_jit_call(guest_cpu_self()->jit_vm, page, (uint8_t *)(uintptr_t)NUB_GUEST_VA_BASE, NULL);
	guest_log("RING3 error: no fault\n");
}
