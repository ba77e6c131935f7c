/* cap_invoke.c: frame building and results for INVOKE_CACHED (freestanding). */
#include "cap/cap_invoke.h"

nub_err cap_invoke_check(const InvokePacket *p)
{
	if (p->_pad)
		return NUB_E_BAD_PACKET;
	if (p->initial_gas > (uint64_t)INT64_MAX)
		return NUB_E_BAD_GAS;
	return NUB_E_OK;
}

nub_err cap_invoke_fail(InvocationResult *r, nub_err e)
{
	__builtin_memset(r, 0, sizeof *r);
	r->exit_reason = NUB_EXIT_ERROR;
	r->exit_arg = (uint32_t)e;
	return e;
}

nub_err cap_invoke_frame(pvm_instance *m, const cap_image_view *img, const cap_view *const slot_data[],
                         const cap_endpoint *ep, const InvokePacket *p)
{
	if (img->layout == NUB_CAP_LAYOUT_SPI) {
		pvm_spi spi = {
			.ro_len = img->ro_len,
			.rw_len = img->rw_len,
			.heap_pages = img->heap_pages,
			.stack_size = img->stack_size,
			.ro = img->ro,
			.rw = img->rw,
			.blob = img->code,
			.blob_len = img->code_len,
		};
		if (pvm_spi_init(m, &spi, 0, 0) != PVM_E_OK)
			return NUB_E_ENGINE;
	}
	uint64_t top = 0;
	for (uint32_t i = 0; i < img->mapping_count; i++) {
		cap_mapping mp;
		cap_image_mapping(img, i, &mp);
		uint32_t size = mp.pages * NUB_PAGE_SIZE; /* decoder: va >= 0x10000, end <= 2^32 */
		int access = (mp.flags & NUB_CAP_MAPPING_WRITABLE) ? PVM_ACCESS_RW : PVM_ACCESS_RO;
		if (pvm_mem_map(m, mp.va, size, access) != PVM_E_OK)
			return NUB_E_ENGINE;
		const cap_data_view *d = &slot_data[mp.slot]->u.data;
		if (d->len && pvm_mem_write(m, mp.va, d->bytes, d->len) != PVM_E_OK)
			return NUB_E_ENGINE;
		top = (uint64_t)mp.va + size;
	}
	/* Bare programs: the sbrk heap starts at the end of the highest region
	 * (the convention of the conformance vectors and both oracles). */
	if (img->layout == NUB_CAP_LAYOUT_BARE && top && top < (1ull << 32))
		pvm_set_heap_ptr(m, (uint32_t)top);
	for (unsigned r = 0; r < NUB_NUM_REGS; r++)
		pvm_set_reg(m, r, ep->regs[r]);
	for (unsigned a = 0; a < NUB_INVOKE_ARGS; a++)
		pvm_set_reg(m, 7 + a, p->args[a]);
	pvm_set_pc(m, ep->pc);
	return NUB_E_OK;
}

nub_err cap_invoke_result(const pvm_instance *m, pvm_exit x, const cap_image_view *img, InvocationResult *r)
{
	if ((unsigned)x > PVM_EXIT_HOST) /* PVM_EXIT_ERROR: exit_arg is a pvm_err */
		return cap_invoke_fail(r, pvm_exit_arg(m) == PVM_E_NOMEM ? NUB_E_NOMEM : NUB_E_ENGINE);
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
		/* slot 0 is the scratchpad: the head of its lowest mapped region */
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
