/* guest_invoke.c: PUT_CAP, INVOKE_CACHED and EVICT_JIT_ALL on the engine.
 *
 * Semantics are those of the local backend (src/local/local_backend.c), the
 * differential reference: same validation order, same errors, same frame
 * (SPI layout, slot mappings, bare sbrk base, endpoint registers with the
 * packet's args over phi7..phi10), same InvocationResult. tests/guest_test.sh
 * checks this line by line. Differences: no per-call timeout (the host
 * enforces it by stopping the vCPU) and no threads (one CPU, no locks).
 *
 * Each directory entry's guest-private `aux` points to a guest_cap: the
 * decoded view of the stored encoding and, for Images, the decoded program
 * (the cache EVICT_JIT_ALL drops; it is rebuilt on the next invocation).
 */
#include "cap/cap.h"
#include "cap/cap_invoke.h"
#include "guest/guest.h"
#include "pvm/pvm.h"

typedef struct guest_cap {
	cap_view view;         /* points into bytes */
	pvm_program *prog;     /* Image only: cached decoded program, or NULL */
	uint8_t bytes[];       /* the encoding */
} guest_cap;

static size_t cached_programs;

static guest_cap *cap_of(const NubCapDirEntry *e)
{
	return e ? (guest_cap *)(uintptr_t)e->aux : NULL;
}

static const cap_view *lookup_cb(void *ctx, const uint8_t hash[NUB_CAP_HASH_LEN])
{
	(void)ctx;
	guest_cap *c = cap_of(guest_capdir_get(hash));
	return c ? &c->view : NULL;
}

static nub_err prog_new(const cap_image_view *img, pvm_program **out)
{
	pvm_err pe = pvm_program_new(img->code, img->code_len, out);
	if (pe != PVM_E_OK)
		return pe == PVM_E_NOMEM ? NUB_E_NOMEM : NUB_E_IMAGE_CODE;
	return NUB_E_OK;
}

/* The request bytes live in shared memory that the host may change at any
 * time: copy them first, then validate, hash and store only the copy. */
nub_err guest_put_cap(const uint8_t *bytes, uint32_t len, uint8_t hash_out[NUB_CAP_HASH_LEN])
{
	if (len < CAP_HEADER_LEN)
		return NUB_E_CAP_TRUNCATED;
	guest_cap *c = guest_heap_alloc(sizeof *c + len, 16);
	if (!c)
		return NUB_E_NOMEM;
	memcpy(c->bytes, bytes, len);
	pvm_program *prog = NULL;
	NubCapDirEntry *de;
	uint8_t hash[NUB_CAP_HASH_LEN];
	nub_err e = cap_decode(c->bytes, len, &c->view);
	if (e)
		goto fail;
	cap_hash(c->bytes, len, hash);
	if (guest_capdir_get(hash)) { /* already published: same bytes */
		guest_heap_free(c);
		memcpy(hash_out, hash, NUB_CAP_HASH_LEN);
		return NUB_E_OK;
	}
	if (c->view.kind == NUB_CAP_KIND_IMAGE && (e = prog_new(&c->view.u.image, &prog)))
		goto fail;
	if (c->view.kind == NUB_CAP_KIND_INSTANCE &&
	    (e = cap_instance_check_refs(&c->view.u.instance, lookup_cb, NULL)))
		goto fail;
	if ((e = guest_capdir_insert(hash, c->bytes, len, c->view.kind, &de)))
		goto fail;
	c->prog = prog;
	if (prog)
		cached_programs++;
	de->aux = (uint64_t)(uintptr_t)c;
	memcpy(hash_out, hash, NUB_CAP_HASH_LEN);
	return NUB_E_OK;
fail:
	if (prog)
		pvm_program_free(prog);
	guest_heap_free(c);
	return e;
}

nub_err guest_invoke(const InvokePacket *p, InvocationResult *r)
{
	nub_err e = cap_invoke_check(p);
	if (e)
		return cap_invoke_fail(r, e);
	guest_cap *ic = cap_of(guest_capdir_get(p->instance_hash));
	if (!ic || ic->view.kind != NUB_CAP_KIND_INSTANCE)
		return cap_invoke_fail(r, ic ? NUB_E_NOT_INSTANCE : NUB_E_UNKNOWN_INSTANCE);
	const cap_instance_view *inst = &ic->view.u.instance;
	/* published Instances passed cap_instance_check_refs: these exist */
	guest_cap *imc = cap_of(guest_capdir_get(inst->image_hash));
	GUEST_ASSERT(imc && imc->view.kind == NUB_CAP_KIND_IMAGE);
	const cap_image_view *img = &imc->view.u.image;
	const cap_view *slot_data[NUB_CAP_MAX_SLOTS] = {0};
	for (uint32_t i = 0; i < inst->slot_count; i++) {
		uint8_t idx;
		const uint8_t *h;
		cap_instance_slot(inst, i, &idx, &h);
		guest_cap *dc = cap_of(guest_capdir_get(h));
		GUEST_ASSERT(dc && dc->view.kind == NUB_CAP_KIND_DATA);
		slot_data[idx] = &dc->view;
	}
	if (p->endpoint_idx >= img->endpoint_count)
		return cap_invoke_fail(r, NUB_E_BAD_ENDPOINT);
	if (!imc->prog) {
		if ((e = prog_new(img, &imc->prog)))
			return cap_invoke_fail(r, e);
		cached_programs++;
	}
	cap_endpoint ep;
	cap_image_endpoint(img, p->endpoint_idx, &ep);
	pvm_instance *m = NULL;
	pvm_exit x = PVM_EXIT_PANIC;
	e = NUB_E_OK;
	if (pvm_instance_new(imc->prog, &m) != PVM_E_OK) {
		e = NUB_E_NOMEM;
	} else if (!(e = cap_invoke_frame(m, img, slot_data, &ep, p))) {
		pvm_set_gas(m, (int64_t)p->initial_gas);
		x = pvm_run(m);
	}
	if (!e)
		e = cap_invoke_result(m, x, img, r);
	else
		cap_invoke_fail(r, e);
	if (m)
		pvm_instance_free(m);
	return e;
}

static void evict_one(NubCapDirEntry *de, void *ctx)
{
	(void)ctx;
	guest_cap *c = cap_of(de);
	if (c && c->prog) {
		pvm_program_free(c->prog);
		c->prog = NULL;
		cached_programs--;
	}
}

void guest_evict_jit_all(void)
{
	guest_capdir_foreach(evict_one, NULL);
}

size_t guest_cached_programs(void)
{
	return cached_programs;
}
