/* guest_probe.c: fault probes in the test band (fn ids 100..255).
 *
 *   100  write to an unmapped address (NUB_GUEST_VA_BASE + 0x12345678): #PF
 *   101  load from a non-canonical address: #GP(0)
 *   102  loop forever (the host's call timeout must fire)
 *   103  write a garbage reply header (the host's checks must reject it)
 *   104  ud2: #UD, a vector without an error code (the stub's dummy push)
 *   105  int $0x80: a software interrupt through the IDT (vector >= 128,
 *        the stub's wide push); rip is the instruction after it
 *   106  unbounded recursion: the boot stack runs into its guard page; the
 *        #PF is delivered on the IST1 stack (cr2 inside the guard page)
 * The faulting instructions carry global labels (guest_probe_pf_insn,
 * guest_probe_gp_insn) so a test can compare the reported rip with the
 * symbol table. They are always registered: a broken guest is what the
 * host must survive, and these let its tests produce one on demand.
 */
#include "guest_test.h"

#define GUEST_PROBE_PF_ADDR (NUB_GUEST_VA_BASE + 0x12345678ull)
#define GUEST_PROBE_GP_ADDR 0x8000000000000000ull

__attribute__((noinline)) static nub_err p_page_fault(const uint8_t *req, uint32_t len, uint8_t *resp,
                                                      uint32_t cap, uint32_t *out)
{
	(void)req, (void)len, (void)resp, (void)cap, (void)out;
	guest_log("probe 100: write to 0x%llx\n", (unsigned long long)GUEST_PROBE_PF_ADDR);
	__asm__ volatile(".globl guest_probe_pf_insn\nguest_probe_pf_insn: movq $0x5a, (%0)"
	                 :
	                 : "r"(GUEST_PROBE_PF_ADDR)
	                 : "memory");
	return NUB_E_ENGINE; /* not reached */
}

__attribute__((noinline)) static nub_err p_gp(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap,
                                              uint32_t *out)
{
	(void)req, (void)len, (void)resp, (void)cap, (void)out;
	uint64_t v;
	guest_log("probe 101: load from 0x%llx\n", (unsigned long long)GUEST_PROBE_GP_ADDR);
	__asm__ volatile(".globl guest_probe_gp_insn\nguest_probe_gp_insn: movq (%1), %0"
	                 : "=r"(v)
	                 : "r"(GUEST_PROBE_GP_ADDR)
	                 : "memory");
	return v ? NUB_E_ENGINE : NUB_E_ENGINE; /* not reached */
}

static nub_err p_loop(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	(void)req, (void)len, (void)resp, (void)cap, (void)out;
	guest_log("probe 102: looping forever\n");
	static volatile int forever = 1;
	while (forever)
		__asm__ volatile("pause" ::: "memory");
	return NUB_E_TIMEOUT; /* not reached */
}

static nub_err p_garbage(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	(void)req, (void)len, (void)cap, (void)out;
	NubRpcMailbox *mb = guest_mailbox();
	guest_log("probe 103: writing a garbage reply\n");
	memset(resp, 0xA5, 256);
	mb->h.status = 0xDEADBEEFu;
	mb->h.resp_len = 0xFFFFFFF0u;
	mb->h.resp_seq = mb->h.seq ^ 0x5A5A5A5Au;
	return GUEST_RPC_RAW_REPLY;
}

__attribute__((noinline)) static nub_err p_ud(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap,
                                              uint32_t *out)
{
	(void)req, (void)len, (void)resp, (void)cap, (void)out;
	guest_log("probe 104: ud2\n");
	__asm__ volatile(".globl guest_probe_ud_insn\nguest_probe_ud_insn: ud2" ::: "memory");
	return NUB_E_ENGINE; /* not reached */
}

__attribute__((noinline)) static nub_err p_int(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap,
                                               uint32_t *out)
{
	(void)req, (void)len, (void)resp, (void)cap, (void)out;
	guest_log("probe 105: int $0x80\n");
	__asm__ volatile("int $0x80\n.globl guest_probe_int_next\nguest_probe_int_next:" ::: "memory");
	return NUB_E_ENGINE; /* not reached: the handler never returns */
}

static volatile int recursion_stop;

__attribute__((noinline)) static uint64_t recurse(uint64_t n)
{
	volatile uint64_t frame[64];
	frame[n & 63] = n;
	if (recursion_stop)
		return 0;
	return recurse(n + 1) + frame[(n + 1) & 63];
}

static nub_err p_stack_overflow(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out)
{
	(void)req, (void)len, (void)resp, (void)cap, (void)out;
	guest_log("probe 106: recursing into the stack guard page\n");
	return recurse(0) ? NUB_E_ENGINE : NUB_E_ENGINE; /* not reached */
}

void guest_probes_register(void)
{
	if (guest_rpc_register(100, p_page_fault) || guest_rpc_register(101, p_gp) ||
	    guest_rpc_register(102, p_loop) || guest_rpc_register(103, p_garbage) ||
	    guest_rpc_register(104, p_ud) || guest_rpc_register(105, p_int) ||
	    guest_rpc_register(106, p_stack_overflow))
		guest_panic(__FILE__, __LINE__, "probe registration refused");
}
