/* guest_flavour_prod.c: the production kernel's flavour: the
 * specification's fn ids and nothing else (no test band, no QEMU modes).
 * The test kernel links tests/guest/guest_flavour_test.c instead. */
#include "guest/guest.h"

void guest_flavour_register(void)
{
}

void guest_flavour_multiboot(const char *cmdline, uint64_t mod_start, uint64_t mod_end)
{
	(void)cmdline;
	(void)mod_start;
	(void)mod_end;
	guest_log("nub-guest: this is the production kernel: it serves a kvm host only "
	          "(selftest, probe=N and replay are in the test kernel)\n");
	guest_exit(NUB_GUEST_EXIT_FAIL);
}
