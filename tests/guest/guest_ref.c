/* guest_ref.c: the differential reference for tests/guest_test.sh: runs the
 * shared scenario (guest_scenario.c) on libnub's local backend and prints
 * the same "R ..." lines the guest kernel's self test prints over serial. */
#include <stdio.h>

#include "guest_scenario.h"
#include "nub/nub.h"

static nub_err r_put(void *ctx, const uint8_t *b, size_t len, uint8_t hash[NUB_CAP_HASH_LEN])
{
	return nub_put_cap(ctx, b, len, hash);
}
static nub_err r_invoke(void *ctx, const InvokePacket *p, InvocationResult *r)
{
	return nub_invoke(ctx, p, r);
}
static nub_err r_heap(void *ctx, NubHeapStats *out)
{
	return nub_heap_stats(ctx, out);
}
static nub_err r_boot(void *ctx, BootInfo *out)
{
	return nub_boot_info(ctx, out);
}
static nub_err r_evict(void *ctx)
{
	return nub_evict_jit_all(ctx);
}
static void r_line(void *ctx, const char *text)
{
	(void)ctx;
	printf("%s\n", text);
}

int main(void)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	nub_sandbox *sb = NULL;
	nub_err e = nub_open(&o, &sb);
	if (e) {
		fprintf(stderr, "guest_ref: nub_open: %s\n", nub_strerror(e));
		return 1;
	}
	scn_ops ops = {sb, r_put, r_invoke, r_heap, r_boot, r_evict, r_line};
	unsigned n = scn_run(&ops);
	nub_close(sb);
	fprintf(stderr, "guest_ref: %u lines\n", n);
	return 0;
}
