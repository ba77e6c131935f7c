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
 * decoded view of the stored encoding, for Images the decoded program (the
 * cache EVICT_JIT_ALL drops; it is rebuilt on the next invocation), and the
 * published frames: the cap's memory contents (a Data cap's bytes; an spi
 * Image's ro data, then its rw data) copied once, at PUT_CAP, into zero-
 * padded 4 KiB pages. An invocation maps these read-only into its address
 * space (pvm_mem_share) and copies a page only on its first write, so an
 * invocation costs no copy of published data and never changes it. The
 * frame is built with the same calls as the local backend's
 * (cap_invoke_frame, on a view without data), then the data pages go in, in
 * the order cap_invoke_frame writes them: a page the data fills, or a still
 * untouched zero page, takes the frame (same bytes); a partly covered page
 * that already holds bytes gets them copied in, so overlaps come out as the
 * local backend's. A Data longer than its mapping takes the copying path
 * (cap_invoke_frame with the data, whose errors then match exactly).
 */
#include "cap/cap.h"
#include "cap/cap_invoke.h"
#include "guest/guest.h"
#include "pvm/pvm.h"

typedef struct guest_cap {
	cap_view view;         /* points into bytes */
	pvm_program *prog;     /* Image only: cached decoded program, or NULL */
	uint8_t *frames;       /* published frames (see above), or NULL */
	uint32_t ro_pages;     /* spi Image: frames of ro data, then rw data */
	uint8_t bytes[];       /* the encoding */
} guest_cap;

static uint32_t pages_of(uint32_t len)
{
	return (uint32_t)(((uint64_t)len + 4095u) / 4096u);
}

/* The published frames of c (nothing to do when it has no memory data). */
static nub_err frames_new(guest_cap *c)
{
	const uint8_t *parts[2] = {NULL, NULL};
	uint32_t lens[2] = {0, 0};
	if (c->view.kind == NUB_CAP_KIND_DATA) {
		parts[0] = c->view.u.data.bytes;
		lens[0] = c->view.u.data.len;
	} else if (c->view.kind == NUB_CAP_KIND_IMAGE && c->view.u.image.layout == NUB_CAP_LAYOUT_SPI) {
		parts[0] = c->view.u.image.ro;
		lens[0] = c->view.u.image.ro_len;
		parts[1] = c->view.u.image.rw;
		lens[1] = c->view.u.image.rw_len;
	}
	size_t pages = (size_t)pages_of(lens[0]) + pages_of(lens[1]);
	if (!pages)
		return NUB_E_OK;
	if (!(c->frames = guest_heap_alloc(pages * 4096u, 4096)))
		return NUB_E_NOMEM;
	memcpy(c->frames, parts[0], lens[0]);
	c->ro_pages = pages_of(lens[0]);
	memcpy(c->frames + (size_t)c->ro_pages * 4096u, parts[1], lens[1]);
	return NUB_E_OK;
}

/* Write len bytes at va (page-aligned, mapped) as cap_invoke_frame's
 * pvm_mem_write would, sharing `frames` (the same bytes, zero-padded) where
 * that gives the same page contents. */
static nub_err share_bytes(pvm_instance *m, uint32_t va, const uint8_t *bytes, uint32_t len, const uint8_t *frames)
{
	for (uint32_t off = 0; off < len; off += 4096u) {
		uint32_t n = len - off < 4096u ? len - off : 4096u;
		pvm_err pe;
		if (n == 4096u || pvm_mem_page_untouched(m, va + off))
			pe = pvm_mem_share(m, va + off, frames + off);
		else
			pe = pvm_mem_write(m, va + off, bytes + off, n);
		if (pe != PVM_E_OK)
			return NUB_E_ENGINE; /* as cap_invoke_frame reports any engine failure */
	}
	return NUB_E_OK;
}

/* The invocation frame with published data shared copy-on-write: the same
 * memory, registers and errors as cap_invoke_frame(m, img, slot_data, ...). */
static nub_err frame_shared(pvm_instance *m, const guest_cap *imc, guest_cap *const slot_caps[],
                            const cap_view *const slot_data[], const cap_endpoint *ep, const InvokePacket *p)
{
	const cap_image_view *img = &imc->view.u.image;
	for (uint32_t i = 0; i < img->mapping_count; i++) {
		cap_mapping mp;
		cap_image_mapping(img, i, &mp);
		if (slot_data[mp.slot]->u.data.len > (uint64_t)mp.pages * NUB_PAGE_SIZE)
			return cap_invoke_frame(m, img, slot_data, ep, p);
	}
	cap_image_view bare = *img;
	bare.ro = bare.rw = NULL; /* pvm_spi_init maps these regions zero */
	cap_view empty;
	memset(&empty, 0, sizeof empty);
	empty.kind = NUB_CAP_KIND_DATA;
	const cap_view *no_data[NUB_CAP_MAX_SLOTS];
	for (unsigned i = 0; i < NUB_CAP_MAX_SLOTS; i++)
		no_data[i] = slot_data[i] ? &empty : NULL;
	nub_err e = cap_invoke_frame(m, &bare, no_data, ep, p);
	if (e)
		return e;
	if (img->layout == NUB_CAP_LAYOUT_SPI) {
		pvm_spi spi = {.ro_len = img->ro_len, .rw_len = img->rw_len};
		if ((e = share_bytes(m, pvm_spi_ro_addr(&spi), img->ro, img->ro_len, imc->frames)) ||
		    (e = share_bytes(m, pvm_spi_rw_addr(&spi), img->rw, img->rw_len,
		                     imc->frames + (size_t)imc->ro_pages * 4096u)))
			return e;
	}
	for (uint32_t i = 0; i < img->mapping_count; i++) {
		cap_mapping mp;
		cap_image_mapping(img, i, &mp);
		const guest_cap *dc = slot_caps[mp.slot];
		if ((e = share_bytes(m, mp.va, dc->view.u.data.bytes, dc->view.u.data.len, dc->frames)))
			return e;
	}
	return NUB_E_OK;
}

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
	if ((e = frames_new(c)))
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
	guest_heap_free(c->frames);
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
	guest_cap *slot_caps[NUB_CAP_MAX_SLOTS] = {0};
	for (uint32_t i = 0; i < inst->slot_count; i++) {
		uint8_t idx;
		const uint8_t *h;
		cap_instance_slot(inst, i, &idx, &h);
		guest_cap *dc = cap_of(guest_capdir_get(h));
		GUEST_ASSERT(dc && dc->view.kind == NUB_CAP_KIND_DATA);
		slot_data[idx] = &dc->view;
		slot_caps[idx] = dc;
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
	} else if (!(e = frame_shared(m, imc, slot_caps, slot_data, &ep, p))) {
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

static void frames_count(NubCapDirEntry *de, void *ctx)
{
	const guest_cap *c = cap_of(de);
	if (c && c->frames)
		++*(size_t *)ctx;
}

static void frames_check(NubCapDirEntry *de, void *ctx)
{
	bool *ok = ctx;
	const guest_cap *c = cap_of(de);
	if (!c || !c->frames)
		return;
	const uint8_t *parts[2] = {NULL, NULL};
	uint32_t lens[2] = {0, 0};
	if (c->view.kind == NUB_CAP_KIND_DATA) {
		parts[0] = c->view.u.data.bytes;
		lens[0] = c->view.u.data.len;
	} else {
		parts[0] = c->view.u.image.ro;
		lens[0] = c->view.u.image.ro_len;
		parts[1] = c->view.u.image.rw;
		lens[1] = c->view.u.image.rw_len;
	}
	const uint8_t *f = c->frames;
	for (unsigned k = 0; k < 2; k++) {
		size_t n = (size_t)pages_of(lens[k]) * 4096u;
		if (memcmp(f, parts[k], lens[k]) != 0)
			*ok = false;
		for (size_t i = lens[k]; i < n; i++)
			if (f[i])
				*ok = false;
		f += n;
	}
}

bool guest_frames_intact(size_t *n_caps)
{
	bool ok = true;
	guest_capdir_foreach(frames_check, &ok);
	*n_caps = 0;
	guest_capdir_foreach(frames_count, n_caps);
	return ok;
}
