/* vector_caps.c: test vectors as Data + Image + Instance caps. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vector_caps.h"

static nub_err put(nub_sandbox *sb, nub_err built, nub_cap_buf *b, uint8_t hash[NUB_CAP_HASH_LEN])
{
	if (built)
		return built;
	nub_err e = nub_put_cap(sb, b->bytes, b->len, hash);
	nub_cap_buf_free(b);
	return e;
}

nub_err vector_put_caps(nub_sandbox *sb, const vector *v, uint8_t inst_hash[NUB_CAP_HASH_LEN])
{
	nub_mapping maps[NUB_CAP_MAX_MAPPINGS];
	nub_slot slots[NUB_CAP_MAX_SLOTS];
	nub_cap_buf b;
	nub_err e = NUB_E_OK;
	if (v->n_pages > NUB_CAP_MAX_MAPPINGS)
		return NUB_E_IMAGE_TOO_MANY_MAPPINGS;
	for (size_t k = 0; k < v->n_pages && !e; k++) {
		const vec_region *r = &v->pages[k];
		uint8_t *img = calloc(1, r->len ? r->len : 1);
		uint32_t used = 0;
		if (!img)
			return NUB_E_NOMEM;
		for (size_t c = 0; c < v->n_mem; c++) {
			const vec_chunk *ch = &v->mem[c];
			if (ch->addr < r->addr || ch->addr - r->addr >= r->len)
				continue;
			uint32_t off = ch->addr - r->addr;
			uint32_t n = ch->len < r->len - off ? ch->len : r->len - off;
			memcpy(img + off, ch->data, n);
			if (off + n > used)
				used = off + n;
		}
		maps[k] = (nub_mapping){r->addr, r->len / NUB_PAGE_SIZE, (uint8_t)k, r->writable};
		slots[k].index = (uint8_t)k;
		e = put(sb, nub_cap_data(img, used, &b), &b, slots[k].hash);
		free(img);
	}
	if (e)
		return e;
	nub_endpoint ep = {.pc = v->pc};
	memcpy(ep.regs, v->regs, sizeof ep.regs);
	nub_image_desc d = {
		.layout = NUB_LAYOUT_BARE,
		.code = v->program,
		.code_len = v->program_len,
		.endpoints = &ep,
		.endpoint_count = 1,
		.mappings = maps,
		.mapping_count = v->n_pages,
	};
	uint8_t img_hash[NUB_CAP_HASH_LEN];
	if ((e = put(sb, nub_cap_image(&d, &b), &b, img_hash)) != NUB_E_OK)
		return e;
	return put(sb, nub_cap_instance(img_hash, slots, v->n_pages, &b), &b, inst_hash);
}

void vector_packet(const vector *v, const uint8_t inst_hash[NUB_CAP_HASH_LEN], InvokePacket *p)
{
	memset(p, 0, sizeof *p);
	memcpy(p->instance_hash, inst_hash, NUB_CAP_HASH_LEN);
	for (unsigned a = 0; a < NUB_INVOKE_ARGS; a++)
		p->args[a] = v->regs[7 + a];
	p->initial_gas = (uint64_t)v->gas;
}

unsigned vector_compare_result(const vector *v, const InvocationResult *r, char *diff, size_t difflen)
{
	unsigned d = 0;
	diff[0] = 0;
	if ((int64_t)r->exit_reason != v->status) {
		d |= VEC_D_STATUS;
		vector_addf(diff, difflen, "status %s, expected %s", nub_exit_name(r->exit_reason),
		     pvm_exit_name((pvm_exit)v->status));
	}
	uint32_t want_arg = v->status == PVM_EXIT_PAGE_FAULT ? (v->has_fault ? v->efault : r->exit_arg)
	                    : v->status == PVM_EXIT_HOST     ? (v->has_host ? v->ehost : r->exit_arg)
	                                                     : 0;
	if (r->exit_arg != want_arg) {
		d |= VEC_D_FAULT;
		vector_addf(diff, difflen, "exit_arg %u, expected %u", r->exit_arg, want_arg);
	}
	if (r->gas_remaining != (uint64_t)v->egas) {
		d |= VEC_D_GAS;
		vector_addf(diff, difflen, "gas %" PRIu64 ", expected %" PRId64, r->gas_remaining, v->egas);
	}
	if (r->return_value != v->eregs[7]) {
		d |= VEC_D_REGS;
		vector_addf(diff, difflen, "r7 0x%" PRIx64 ", expected 0x%" PRIx64, r->return_value, v->eregs[7]);
	}
	uint8_t head[SCRATCHPAD_HEAD_LEN] = {0};
	if (v->status == PVM_EXIT_HALT && v->n_pages) {
		uint32_t base = v->pages[0].addr;
		for (size_t c = 0; c < v->n_emem; c++)
			for (uint32_t k = 0; k < v->emem[c].len; k++) {
				uint64_t a = (uint64_t)v->emem[c].addr + k;
				if (a >= base && a - base < SCRATCHPAD_HEAD_LEN)
					head[a - base] = v->emem[c].data[k];
			}
	}
	if (memcmp(head, r->scratchpad_head, sizeof head)) {
		d |= VEC_D_MEM;
		vector_addf(diff, difflen, "scratchpad head differs");
	}
	return d;
}
