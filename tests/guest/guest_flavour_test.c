/* guest_flavour_test.c: the test kernel's flavour: the fault probes
 * (fn ids 100..106) and the QEMU modes, chosen by the Multiboot command line:
 *   "selftest"  the built-in driver plays the host (guest_selftest.c);
 *               with "smp=N" (QEMU -smp N) it starts the N - 1 application
 *               processors and drives their lanes too;
 *   "probe=N"   send one request with fn_id N through the mailbox and
 *               report the reply (fault probes end in guest_trap);
 *   "replay"    replay the request record given as the first Multiboot
 *               module (QEMU -initrd; guest_replay.c);
 *   "ring3=read|write|exec"  a forbidden access from ring 3 (must fault);
 *   "measure"   instruction counts of the ring switch and a host-call
 *               round trip (guest_measure.c);
 *   "engine=interp|jit"  first select the engine through the mailbox
 *               (NUB_FN_ID_SET_ENGINE), for any of the modes above.
 * The exit code goes to isa-debug-exit (NUB_GUEST_EXIT_*); after a CPU
 * exception too, unless the command line says "halt_on_fault" (then the
 * kernel halts like under a kvm host, and the fault report stays in the
 * mailbox for whoever reads guest memory).
 */
#include "guest_test.h"

extern char __kernel_end[];

static bool cmd_has(const char *cmdline, const char *word, const char **value)
{
	size_t n = strlen(word);
	for (const char *p = cmdline; *p;) {
		while (*p == ' ')
			p++;
		const char *end = p;
		while (*end && *end != ' ')
			end++;
		if ((size_t)(end - p) >= n && memcmp(p, word, n) == 0 &&
		    ((size_t)(end - p) == n || p[n] == '=')) {
			if (value)
				*value = p[n] == '=' ? p + n + 1 : end;
			return true;
		}
		p = end;
	}
	return false;
}

static uint32_t parse_u32(const char *s)
{
	uint32_t v = 0;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint32_t)(*s++ - '0');
	return v;
}

static __attribute__((noreturn)) void run_probe(uint32_t fn_id)
{
	static uint8_t resp[256];
	uint32_t len = 0;
	bool bad = false;
	nub_err st = guest_host_call(fn_id, NULL, 0, resp, sizeof resp, &len, &bad);
	guest_log("PROBE fn=%u returned status=%u len=%u rejected=%u\n", fn_id, (unsigned)st, len, bad ? 1u : 0u);
	/* the kernel must still serve after a rejected reply */
	NubHeapStats hs;
	bad = false;
	st = guest_host_call(NUB_FN_ID_HEAP_STATS, NULL, 0, &hs, sizeof hs, &len, &bad);
	guest_log("PROBE after fn=%u heap_stats status=%u len=%u rejected=%u\n", fn_id, (unsigned)st, len,
	          bad ? 1u : 0u);
	guest_exit(st == NUB_E_OK && !bad ? NUB_GUEST_EXIT_OK : NUB_GUEST_EXIT_FAIL);
}

void guest_flavour_register(void)
{
	guest_probes_register();
}

void guest_flavour_multiboot(const char *cmdline, uint64_t mod_start, uint64_t mod_end)
{
	guest_exit_on_fault = !cmd_has(cmdline, "halt_on_fault", NULL);
	const char *v;
	if (cmd_has(cmdline, "engine", &v)) {
		/* through the mailbox, as a host selects it (NUB_FN_ID_SET_ENGINE) */
		uint32_t engine = memcmp(v, "jit", 3) == 0 ? NUB_SET_ENGINE_JIT
		                  : memcmp(v, "interp", 6) == 0 ? NUB_SET_ENGINE_INTERP : 0;
		uint8_t resp[8];
		uint32_t rlen = 0;
		bool bad = false;
		nub_err e = guest_host_call(NUB_FN_ID_SET_ENGINE, &engine, sizeof engine, resp, sizeof resp, &rlen, &bad);
		guest_log("ENGINE %s status=%u\n", engine == NUB_SET_ENGINE_JIT ? "jit" : engine ? "interp" : "?",
		          (unsigned)e);
		if (e || bad || !engine)
			guest_exit(NUB_GUEST_EXIT_FAIL);
	}
	if (cmd_has(cmdline, "selftest", NULL)) {
		uint32_t smp = cmd_has(cmdline, "smp", &v) ? parse_u32(v) : 1;
		unsigned fails = guest_selftest(smp);
		guest_log("SELFTEST DONE fails=%u\n", fails);
		guest_exit(fails ? NUB_GUEST_EXIT_FAIL : NUB_GUEST_EXIT_OK);
	}
	if (cmd_has(cmdline, "measure", NULL)) {
		unsigned fails = guest_measure();
		guest_log("MEASURE DONE fails=%u\n", fails);
		guest_exit(fails ? NUB_GUEST_EXIT_FAIL : NUB_GUEST_EXIT_OK);
	}
	if (cmd_has(cmdline, "ring3", &v)) {
		guest_ring3_probe(v);
		guest_exit(NUB_GUEST_EXIT_FAIL);
	}
	if (cmd_has(cmdline, "probe", &v))
		run_probe(parse_u32(v));
	if (cmd_has(cmdline, "replay", NULL)) {
		/* the module must lie between the kernel and the lane slots: the
		 * mailbox and the heap above are ours */
		if (!mod_end || mod_start < (uint64_t)(uintptr_t)__kernel_end || mod_end < mod_start ||
		    mod_end > NUB_GUEST_SLOTS_GPA) {
			guest_log("REPLAY error: module [0x%llx, 0x%llx) missing or outside [kernel end 0x%llx, 0x%llx)\n",
			          (unsigned long long)mod_start, (unsigned long long)mod_end,
			          (unsigned long long)(uintptr_t)__kernel_end, (unsigned long long)NUB_GUEST_SLOTS_GPA);
			guest_exit(NUB_GUEST_EXIT_FAIL);
		}
		unsigned fails = guest_replay((const uint8_t *)(uintptr_t)mod_start, (size_t)(mod_end - mod_start));
		guest_exit(fails ? NUB_GUEST_EXIT_FAIL : NUB_GUEST_EXIT_OK);
	}
	guest_log("nub-guest: no mode on the command line (selftest | probe=N | replay)\n");
	guest_exit(NUB_GUEST_EXIT_FAIL);
}
