/* cap_core.c: the invocation core (PUT_CAP, INVOKE_CACHED), freestanding. */
#include "cap/cap_core.h"
#include "pvm/pvm_platform.h"

#define PAGE 4096u

static size_t page_up(size_t n)
{
	return (n + (PAGE - 1)) & ~(size_t)(PAGE - 1);
}

static uint32_t pages_of(uint64_t n)
{
	return (uint32_t)((n + (PAGE - 1)) / PAGE);
}

static void lock(cap_store *s)
{
	if (s->ops->lock)
		s->ops->lock(s);
}

static void unlock(cap_store *s)
{
	if (s->ops->unlock)
		s->ops->unlock(s);
}

nub_err cap_core_fail(InvocationResult *r, nub_err e)
{
	__builtin_memset(r, 0, sizeof *r);
	r->exit_reason = NUB_EXIT_ERROR;
	r->exit_arg = (uint32_t)e;
	return e;
}

/* ---- accounting ------------------------------------------------------------ */
static nub_err charge(cap_store *s, size_t bytes)
{
	return s->ops->charge && bytes ? s->ops->charge(s, bytes) : NUB_E_OK;
}

static void release(cap_store *s, size_t bytes)
{
	if (s->ops->release && bytes)
		s->ops->release(s, bytes);
}

/* An invocation's host pages (pvm_page_hook), charged as they are taken. */
static bool page_hook(void *ctx, int64_t pages)
{
	cap_store *s = ctx;
	lock(s);
	bool ok = true;
	if (pages > 0)
		ok = charge(s, (size_t)pages * PAGE) == NUB_E_OK;
	else
		release(s, (size_t)-pages * PAGE);
	unlock(s);
	return ok;
}

/* ---- decoded programs ------------------------------------------------------ */
/* Decode an Image's code, its exact size charged to the store first, then
 * compile it on the store's engine (its code charged too). */
static bool expired(void *ctx)
{
	cap_store *s = ctx;
	return s->ops->expired && s->ops->expired(s);
}

static nub_err prog_new(cap_store *s, const cap_image_view *img, cap_prog **out)
{
	size_t bytes = sizeof(cap_prog) + pvm_program_bytes_of_blob(img->code, img->code_len);
	lock(s);
	nub_err e = charge(s, bytes);
	unlock(s);
	if (e)
		return e;
	cap_prog *p = pvm_plat_alloc(sizeof *p);
	if (!p) {
		e = NUB_E_NOMEM;
		goto fail;
	}
	pvm_err pe = pvm_program_new_until(img->code, img->code_len, expired, s, &p->program);
	if (pe != PVM_E_OK) {
		pvm_plat_free(p, sizeof *p);
		e = pe == PVM_E_NOMEM ? NUB_E_NOMEM : pe == PVM_E_STOPPED ? NUB_E_TIMEOUT : NUB_E_IMAGE_CODE;
		goto fail;
	}
	if (s->engine) {
		size_t code_bytes = 0;
		if (!(e = s->engine->compile(p->program, &p->code, &code_bytes))) {
			lock(s);
			e = charge(s, code_bytes);
			unlock(s);
			if (!e && expired(s)) { /* compiling is not interrupted: asked after */
				lock(s);
				release(s, code_bytes);
				unlock(s);
				e = NUB_E_TIMEOUT;
			}
			if (e)
				s->engine->free(p->code);
			else
				bytes += code_bytes;
		}
		if (e) {
			pvm_program_free(p->program);
			pvm_plat_free(p, sizeof *p);
			goto fail;
		}
	}
	p->charged = bytes;
	p->refs = 1;
	*out = p;
	return NUB_E_OK;
fail:
	lock(s);
	release(s, bytes);
	unlock(s);
	return e;
}

/* Drop one reference (store lock held). */
static void prog_unref(cap_store *s, cap_prog *p)
{
	if (--p->refs == 0) {
		release(s, p->charged);
		if (p->code)
			s->engine->free(p->code); /* before its program: the code borrows it */
		pvm_program_free(p->program);
		pvm_plat_free(p, sizeof *p);
	}
}

/* ---- PUT_CAP --------------------------------------------------------------- */
/* A new entry holding a copy of the encoding. The bytes of a Data cap of a
 * page or more land on a page boundary with zero padding to the next one:
 * they are its frames. Smaller Data stays compact (no frames): an
 * invocation copies it in, one page at most. */
static cap_entry *entry_new(cap_store *s, const uint8_t *src, size_t len, uint8_t kind, nub_err *err)
{
	if (len > UINT32_MAX) { /* cap_entry.len and the guest directory are 32-bit */
		*err = NUB_E_STORE_FULL;
		return 0;
	}
	bool in_place = kind == NUB_CAP_KIND_DATA && len >= CAP_DATA_FIXED_LEN + PAGE;
	size_t head = in_place ? page_up(sizeof(cap_entry) + CAP_DATA_FIXED_LEN) : sizeof(cap_entry);
	size_t size = in_place ? head + page_up(len - CAP_DATA_FIXED_LEN) : head + len;
	uint8_t *block = s->ops->alloc(s, size, in_place ? PAGE : 16, err);
	if (!block)
		return 0;
	cap_entry *c = (cap_entry *)(void *)block;
	c->size = size;
	c->len = (uint32_t)len;
	c->bytes = in_place ? block + head - CAP_DATA_FIXED_LEN : block + head;
	__builtin_memcpy(c->bytes, src, len);
	if (in_place) {
		c->frames = block + head;
		c->frame_pages = pages_of(len - CAP_DATA_FIXED_LEN);
	}
	return c;
}

/* An spi Image's ro and rw data, copied once into frames. */
static nub_err image_frames(cap_store *s, cap_entry *c)
{
	const cap_image_view *img = &c->view.u.image;
	if (img->layout != NUB_CAP_LAYOUT_SPI)
		return NUB_E_OK;
	uint32_t ro = pages_of(img->ro_len), rw = pages_of(img->rw_len);
	if (!ro && !rw)
		return NUB_E_OK;
	nub_err e = NUB_E_NOMEM;
	uint8_t *f = s->ops->alloc(s, (size_t)(ro + rw) * PAGE, PAGE, &e);
	if (!f)
		return e;
	__builtin_memcpy(f, img->ro, img->ro_len);
	__builtin_memcpy(f + (size_t)ro * PAGE, img->rw, img->rw_len);
	c->frames = c->frames_alloc = f;
	c->frame_pages = ro + rw;
	c->ro_pages = ro;
	return NUB_E_OK;
}

void cap_core_entry_free(cap_store *s, cap_entry *c)
{
	if (c->prog)
		prog_unref(s, c->prog);
	if (c->frames_alloc)
		s->ops->free(s, c->frames_alloc, (size_t)c->frame_pages * PAGE);
	s->ops->free(s, c, c->size);
}

static const cap_view *lookup_view(void *ctx, const uint8_t hash[NUB_CAP_HASH_LEN])
{
	cap_store *s = ctx;
	cap_entry *c = s->ops->get(s, hash);
	return c ? &c->view : 0;
}

static bool published(cap_store *s, const uint8_t hash[NUB_CAP_HASH_LEN])
{
	lock(s);
	bool found = s->ops->get(s, hash) != 0;
	unlock(s);
	return found;
}

nub_err cap_core_put(cap_store *s, const uint8_t *src, size_t len, bool shared, uint8_t hash_out[NUB_CAP_HASH_LEN])
{
	uint8_t hash[NUB_CAP_HASH_LEN];
	cap_view v;
	nub_err e;
	if (len < CAP_HEADER_LEN)
		return NUB_E_CAP_TRUNCATED;
	uint8_t kind = src[0];
	if (!shared) {
		/* private bytes: validate and hash them before spending memory */
		if ((e = cap_decode(src, len, &v)))
			return e;
		cap_hash(src, len, hash);
		if (published(s, hash))
			goto done;
	}
	cap_entry *c = entry_new(s, src, len, kind, &e);
	if (!c)
		return e;
	if ((e = cap_decode(c->bytes, len, &c->view)))
		goto fail;
	if (c->view.kind != kind) { /* the shared source changed under us */
		e = NUB_E_INVALID_ARG;
		goto fail;
	}
	if (shared) {
		cap_hash(c->bytes, len, hash);
		if (published(s, hash)) {
			cap_core_entry_free(s, c);
			goto done;
		}
	}
	__builtin_memcpy(c->hash, hash, NUB_CAP_HASH_LEN);
	/* the slow parts outside the lock: decode the code, copy the frames */
	if (c->view.kind == NUB_CAP_KIND_IMAGE &&
	    ((e = prog_new(s, &c->view.u.image, &c->prog)) || (e = image_frames(s, c))))
		goto fail;
	lock(s);
	if (s->ops->get(s, hash)) { /* published meanwhile by another thread */
		unlock(s);
		cap_core_entry_free(s, c);
		goto done;
	}
	if (c->view.kind == NUB_CAP_KIND_INSTANCE && (e = cap_instance_check_refs(&c->view.u.instance, lookup_view, s)))
		goto fail_locked;
	if ((e = s->ops->insert(s, c)))
		goto fail_locked;
	if (c->prog)
		s->cached_programs++;
	unlock(s);
done:
	__builtin_memcpy(hash_out, hash, NUB_CAP_HASH_LEN);
	return NUB_E_OK;
fail_locked:
	unlock(s);
fail:
	cap_core_entry_free(s, c);
	return e;
}

/* ---- INVOKE_CACHED --------------------------------------------------------- */
static nub_err engine_err(pvm_err pe)
{
	switch (pe) {
	case PVM_E_OK:
		return NUB_E_OK;
	case PVM_E_NOMEM:
		return NUB_E_NOMEM;
	case PVM_E_MEM_LIMIT:
		return NUB_E_INVOKE_MEMORY;
	case PVM_E_MEM_BUDGET:
		return NUB_E_SANDBOX_MEMORY;
	default:
		return NUB_E_ENGINE;
	}
}

static nub_err share(pvm_instance *m, uint32_t va, const uint8_t *frames, uint32_t pages)
{
	for (uint32_t i = 0; i < pages; i++) {
		pvm_err pe = pvm_mem_share(m, va + i * PAGE, frames + (size_t)i * PAGE);
		if (pe != PVM_E_OK)
			return engine_err(pe);
	}
	return NUB_E_OK;
}

/* The fresh frame: the spi layout (if any) and every mapping, zero, with the
 * published frames shared in; the bare layout's sbrk base (end of the
 * highest mapping); the endpoint's pc and registers, p->args over
 * phi7..phi10; gas. */
static nub_err frame_build(pvm_instance *m, const cap_entry *imc, const cap_entry *const slots[],
                           const InvokePacket *p)
{
	const cap_image_view *img = &imc->view.u.image;
	nub_err e;
	pvm_err pe;
	if (img->layout == NUB_CAP_LAYOUT_SPI) {
		pvm_spi spi = {
			.ro_len = img->ro_len,
			.rw_len = img->rw_len,
			.heap_pages = img->heap_pages,
			.stack_size = img->stack_size,
			.blob = img->code,
			.blob_len = img->code_len,
		};
		if ((pe = pvm_spi_init(m, &spi, 0, 0)) != PVM_E_OK)
			return engine_err(pe);
		if ((e = share(m, pvm_spi_ro_addr(&spi), imc->frames, imc->ro_pages)) ||
		    (e = share(m, pvm_spi_rw_addr(&spi), imc->frames + (size_t)imc->ro_pages * PAGE,
		               imc->frame_pages - imc->ro_pages)))
			return e;
	}
	uint64_t top = 0;
	for (uint32_t i = 0; i < img->mapping_count; i++) {
		cap_mapping mp;
		cap_image_mapping(img, i, &mp);
		uint32_t size = mp.pages * NUB_PAGE_SIZE; /* decoder: va >= 0x10000, end <= 2^32 */
		int access = (mp.flags & NUB_CAP_MAPPING_WRITABLE) ? PVM_ACCESS_RW : PVM_ACCESS_RO;
		if ((pe = pvm_mem_map(m, mp.va, size, access)) != PVM_E_OK)
			return engine_err(pe);
		const cap_entry *d = slots[mp.slot];
		e = NUB_E_OK;
		if (d->frames)
			e = share(m, mp.va, d->frames, d->frame_pages);
		else if (d->view.u.data.len) /* small: copied in */
			e = engine_err(pvm_mem_write(m, mp.va, d->view.u.data.bytes, d->view.u.data.len));
		if (e)
			return e;
		top = (uint64_t)mp.va + size;
	}
	if (img->layout == NUB_CAP_LAYOUT_BARE && top && top < (1ull << 32))
		pvm_set_heap_ptr(m, (uint32_t)top);
	cap_endpoint ep;
	cap_image_endpoint(img, p->endpoint_idx, &ep);
	for (unsigned r = 0; r < NUB_NUM_REGS; r++)
		pvm_set_reg(m, r, ep.regs[r]);
	for (unsigned a = 0; a < NUB_INVOKE_ARGS; a++)
		pvm_set_reg(m, 7 + a, p->args[a]);
	pvm_set_pc(m, ep.pc);
	pvm_set_gas(m, (int64_t)p->initial_gas);
	return NUB_E_OK;
}

static void release_prog(cap_store *s, cap_prog *p)
{
	lock(s);
	prog_unref(s, p);
	unlock(s);
}

nub_err cap_core_start(cap_store *s, const InvokePacket *p, cap_invocation *inv)
{
	if (p->_pad)
		return NUB_E_BAD_PACKET;
	if (p->initial_gas > (uint64_t)INT64_MAX)
		return NUB_E_BAD_GAS;
	const cap_entry *slots[NUB_CAP_MAX_SLOTS] = {0};
	lock(s);
	cap_entry *ic = s->ops->get(s, p->instance_hash);
	if (!ic || ic->view.kind != NUB_CAP_KIND_INSTANCE) {
		unlock(s);
		return ic ? NUB_E_NOT_INSTANCE : NUB_E_UNKNOWN_INSTANCE;
	}
	/* an Instance was published only after everything it names */
	const cap_instance_view *inst = &ic->view.u.instance;
	cap_entry *imc = s->ops->get(s, inst->image_hash);
	for (uint32_t i = 0; i < inst->slot_count; i++) {
		uint8_t idx;
		const uint8_t *h;
		cap_instance_slot(inst, i, &idx, &h);
		slots[idx] = s->ops->get(s, h);
	}
	if (p->endpoint_idx >= imc->view.u.image.endpoint_count) {
		unlock(s);
		return NUB_E_BAD_ENDPOINT;
	}
	cap_prog *prog = imc->prog;
	if (prog)
		prog->refs++;
	unlock(s);
	nub_err e;
	if (!prog) { /* evicted: decode again, outside the lock */
		if ((e = prog_new(s, &imc->view.u.image, &prog)))
			return e;
		cap_prog *dup = 0;
		lock(s);
		if (imc->prog) { /* another invocation was faster */
			dup = prog;
			prog = imc->prog;
		} else {
			imc->prog = prog;
			s->cached_programs++;
		}
		prog->refs++;
		if (dup)
			prog_unref(s, dup);
		unlock(s);
	}
	pvm_instance *m;
	if (pvm_instance_new(prog->program, &m) != PVM_E_OK) {
		release_prog(s, prog);
		return NUB_E_NOMEM;
	}
	if (s->invocation_pages)
		pvm_set_page_limit(m, s->invocation_pages);
	if (s->ops->charge)
		pvm_set_page_hook(m, page_hook, s);
	if ((e = frame_build(m, imc, slots, p))) {
		pvm_instance_free(m);
		release_prog(s, prog);
		return e;
	}
	inv->store = s;
	inv->image = imc;
	inv->prog = prog;
	inv->m = m;
	inv->vm = 0;
	return NUB_E_OK;
}

/* exit_reason, exit_arg (page-aligned fault address, host-call number),
 * return_value = phi7, gas_remaining, and at HALT the scratchpad head (the
 * first bytes of slot 0's lowest mapping). PVM_EXIT_ERROR (the engine itself
 * failed) is an error result. */
static nub_err result(const pvm_instance *m, pvm_exit x, const cap_image_view *img, InvocationResult *r)
{
	if ((unsigned)x > PVM_EXIT_HOST) /* PVM_EXIT_ERROR: exit_arg is a pvm_err */
		return cap_core_fail(r, engine_err((pvm_err)pvm_exit_arg(m)));
	__builtin_memset(r, 0, sizeof *r);
	r->exit_reason = (uint32_t)x;
	if (x == PVM_EXIT_PAGE_FAULT)
		r->exit_arg = pvm_exit_arg(m) & ~(NUB_PAGE_SIZE - 1);
	else if (x == PVM_EXIT_HOST)
		r->exit_arg = pvm_exit_arg(m);
	r->return_value = pvm_reg(m, 7);
	int64_t g = pvm_gas(m);
	r->gas_remaining = g > 0 ? (uint64_t)g : 0;
	if (x == PVM_EXIT_HALT) {
		for (uint32_t i = 0; i < img->mapping_count; i++) {
			cap_mapping mp;
			cap_image_mapping(img, i, &mp);
			if (mp.slot == 0) {
				if (pvm_mem_read(m, mp.va, r->scratchpad_head, SCRATCHPAD_HEAD_LEN) != PVM_E_OK)
					__builtin_memset(r->scratchpad_head, 0, SCRATCHPAD_HEAD_LEN);
				break;
			}
		}
	}
	return NUB_E_OK;
}

nub_err cap_core_finish(cap_invocation *inv, pvm_exit x, nub_err e, InvocationResult *r)
{
	if (e)
		cap_core_fail(r, e);
	else
		e = result(inv->m, x, &inv->image->view.u.image, r);
	pvm_instance_free(inv->m);
	release_prog(inv->store, inv->prog);
	inv->m = 0;
	inv->prog = 0;
	return e;
}

pvm_exit cap_core_run(cap_invocation *inv)
{
	const cap_engine_ops *en = inv->store->engine;
	if (en && inv->prog->code)
		return en->run(inv->vm, inv->prog->code, inv->m);
	return pvm_run(inv->m);
}

nub_err cap_core_run_sliced(cap_invocation *inv, cap_slicer *sl, pvm_exit *out)
{
	pvm_instance *m = inv->m;
	int64_t carry = 0;
	sl->reserve = pvm_gas(m);
	for (;;) {
		int64_t slice = sl->reserve < sl->size ? sl->reserve : sl->size;
		sl->reserve -= slice;
		pvm_set_gas(m, carry + slice);
		pvm_exit x = cap_core_run(inv);
		if (x != PVM_EXIT_OOG || sl->reserve == 0) {
			pvm_set_gas(m, x == PVM_EXIT_OOG ? 0 : pvm_gas(m) + sl->reserve);
			sl->reserve = 0;
			*out = x;
			return NUB_E_OK;
		}
		/* out of this slice only: the unpaid instruction did not run */
		carry = pvm_gas(m) > 0 ? pvm_gas(m) : 0;
		pvm_set_pc(m, pvm_pc(m));
		if (sl->between && sl->between(sl)) {
			pvm_set_gas(m, carry + sl->reserve);
			sl->reserve = 0;
			return NUB_E_TIMEOUT;
		}
	}
}

nub_err cap_core_invoke(cap_store *s, const InvokePacket *p, InvocationResult *r)
{
	cap_invocation inv;
	nub_err e = cap_core_start(s, p, &inv);
	if (e)
		return cap_core_fail(r, e);
	return cap_core_finish(&inv, cap_core_run(&inv), NUB_E_OK, r);
}

/* ---- host calls: checked memory access ------------------------------------ */
static nub_err mem_check(const pvm_instance *m, uint32_t addr, size_t len, int need)
{
	if (len > (1ull << 32) - addr)
		return NUB_E_HOST_MEMORY;
	for (uint64_t a = addr & ~(uint64_t)(PAGE - 1); a < (uint64_t)addr + len; a += PAGE)
		if ((pvm_mem_access(m, (uint32_t)a) & need) != need)
			return NUB_E_HOST_MEMORY;
	return NUB_E_OK;
}

nub_err cap_core_mem_check(const pvm_instance *m, uint32_t addr, size_t len, bool write)
{
	return mem_check(m, addr, len, write ? PVM_ACCESS_RW : PVM_ACCESS_RO);
}

nub_err cap_core_mem_read(const pvm_instance *m, uint32_t addr, void *dst, size_t len)
{
	nub_err e = mem_check(m, addr, len, PVM_ACCESS_RO);
	if (!e && len)
		e = engine_err(pvm_mem_read(m, addr, dst, (uint32_t)len));
	return e;
}

nub_err cap_core_mem_write(pvm_instance *m, uint32_t addr, const void *src, size_t len)
{
	nub_err e = mem_check(m, addr, len, PVM_ACCESS_RW);
	if (!e && len)
		e = engine_err(pvm_mem_write(m, addr, src, (uint32_t)len));
	return e;
}

/* ---- host calls over a mailbox (INVOKE_HOST / HOST_CALL, abi.h) ----------- */
void cap_core_host_abandon(cap_host_susp *h)
{
	if (!h->active)
		return;
	InvocationResult r;
	h->active = false;
	(void)cap_core_finish(&h->inv, PVM_EXIT_PANIC, NUB_E_TIMEOUT, &r); /* releases it */
}

/* Run the suspended invocation to its next exit: CALL (still suspended) or
 * DONE (finished and released). */
static nub_err host_step(cap_host_susp *h, NubHostStep *out)
{
	pvm_instance *m = h->inv.m;
	pvm_exit x = cap_core_run(&h->inv);
	__builtin_memset(out, 0, sizeof *out);
	if (x == PVM_EXIT_HOST) {
		out->state = NUB_HOST_STEP_CALL;
		out->number = pvm_exit_arg(m);
		for (unsigned i = 0; i < NUB_NUM_REGS; i++)
			out->regs[i] = pvm_reg(m, i);
		out->gas = (uint64_t)pvm_gas(m);
		return NUB_E_OK;
	}
	h->active = false;
	out->state = NUB_HOST_STEP_DONE;
	return cap_core_finish(&h->inv, x, NUB_E_OK, &out->result);
}

nub_err cap_core_host_start(cap_store *s, cap_host_susp *h, const InvokePacket *p, NubHostStep *out)
{
	cap_core_host_abandon(h);
	nub_err e = cap_core_start(s, p, &h->inv);
	if (e) {
		__builtin_memset(out, 0, sizeof *out);
		out->state = NUB_HOST_STEP_DONE;
		return cap_core_fail(&out->result, e);
	}
	h->active = true;
	return host_step(h, out);
}

nub_err cap_core_host_op(cap_host_susp *h, const NubHostOp *op, const uint8_t *data, uint32_t data_len, uint8_t *resp,
                         uint32_t resp_cap, uint32_t *resp_len)
{
	*resp_len = 0;
	if (!h->active)
		return NUB_E_INVALID_ARG;
	pvm_instance *m = h->inv.m;
	switch (op->op) {
	case NUB_HOST_OP_ANSWER: {
		NubHostStep st;
		if (data_len || op->action > NUB_HOST_ACTION_STOP || resp_cap < sizeof st)
			return NUB_E_INVALID_ARG;
		for (unsigned i = 0; i < NUB_NUM_REGS; i++)
			pvm_set_reg(m, i, op->regs[i]);
		nub_err e = NUB_E_OK;
		if (op->gas > (uint64_t)INT64_MAX)
			e = NUB_E_BAD_GAS;
		else
			pvm_set_gas(m, (int64_t)op->gas);
		if (e || op->action == NUB_HOST_ACTION_STOP) {
			/* ends here: at the ecalli (HOST_CALL), or with the error */
			__builtin_memset(&st, 0, sizeof st);
			st.state = NUB_HOST_STEP_DONE;
			h->active = false;
			e = cap_core_finish(&h->inv, PVM_EXIT_HOST, e, &st.result);
		} else {
			e = host_step(h, &st);
		}
		__builtin_memcpy(resp, &st, sizeof st); /* built apart: resp may be shared memory */
		*resp_len = sizeof st;
		return e;
	}
	case NUB_HOST_OP_READ: {
		if (data_len || op->len > resp_cap)
			return NUB_E_INVALID_ARG;
		nub_err e = cap_core_mem_read(m, op->addr, resp, op->len);
		if (!e)
			*resp_len = op->len;
		return e;
	}
	case NUB_HOST_OP_WRITE:
		if (data_len != op->len)
			return NUB_E_INVALID_ARG;
		return cap_core_mem_write(m, op->addr, data, op->len);
	case NUB_HOST_OP_CHECK:
		if (data_len || op->action > 1)
			return NUB_E_INVALID_ARG;
		return cap_core_mem_check(m, op->addr, op->len, op->action == 1);
	case NUB_HOST_OP_ABORT:
		if (data_len)
			return NUB_E_INVALID_ARG;
		cap_core_host_abandon(h);
		return NUB_E_OK;
	default:
		return NUB_E_INVALID_ARG;
	}
}

/* ---- EVICT_JIT_ALL --------------------------------------------------------- */
static void evict_one(cap_entry *c, void *ctx)
{
	cap_store *s = ctx;
	if (c->prog) {
		prog_unref(s, c->prog); /* running invocations keep their reference */
		c->prog = 0;
		s->cached_programs--;
	}
}

void cap_core_evict(cap_store *s)
{
	lock(s);
	s->ops->foreach(s, evict_one, s);
	unlock(s);
}
