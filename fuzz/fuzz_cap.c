/* fuzz_cap.c: libFuzzer target: cap decoder, hash, canonical re-encoding, and
 * PUT_CAP of the same bytes into a local sandbox (which also runs the engine's
 * blob decoder on Images and the reference checks on Instances).
 * Invariants (abort on violation): whatever decodes re-encodes to the very
 * same bytes; PUT_CAP accepts only what decodes and returns its BLAKE2b-256. */
#include <stdlib.h>
#include <string.h>

#include "cap/cap.h"
#include "nub/nub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reencode_and_compare(const cap_view *v, const uint8_t *data, size_t size)
{
	nub_cap_buf r = {0};
	nub_err e;
	if (v->kind == NUB_CAP_KIND_DATA) {
		e = nub_cap_data(v->u.data.bytes, v->u.data.len, &r);
	} else if (v->kind == NUB_CAP_KIND_IMAGE) {
		static cap_endpoint eps[NUB_CAP_MAX_ENDPOINTS];
		static cap_mapping maps[NUB_CAP_MAX_MAPPINGS];
		cap_image_view w = v->u.image;
		for (uint32_t i = 0; i < w.endpoint_count; i++)
			cap_image_endpoint(&v->u.image, i, &eps[i]);
		for (uint32_t i = 0; i < w.mapping_count; i++)
			cap_image_mapping(&v->u.image, i, &maps[i]);
		w.endpoints = eps;
		w.mappings = maps;
		size_t n = cap_image_encoded_len(&w, &e);
		if (n) {
			r.bytes = malloc(n);
			r.len = n;
			e = cap_image_encode(&w, r.bytes, n);
		}
	} else {
		nub_slot s[NUB_CAP_MAX_SLOTS];
		for (uint32_t i = 0; i < v->u.instance.slot_count; i++) {
			const uint8_t *h;
			cap_instance_slot(&v->u.instance, i, &s[i].index, &h);
			memcpy(s[i].hash, h, NUB_CAP_HASH_LEN);
		}
		e = nub_cap_instance(v->u.instance.image_hash, s, v->u.instance.slot_count, &r);
	}
	if (e != NUB_E_OK || r.len != size || memcmp(r.bytes, data, size) != 0)
		abort(); /* a decodable cap without its one canonical encoding */
	nub_cap_buf_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cap_view v;
	uint8_t h1[NUB_CAP_HASH_LEN], h2[NUB_CAP_HASH_LEN];
	nub_err de = cap_decode(data, size, &v);
	cap_hash(data, size, h1);
	if (de == NUB_E_OK)
		reencode_and_compare(&v, data, size);

	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	o.memory_bytes = 64u << 20;
	nub_sandbox *sb;
	if (nub_open(&o, &sb) != NUB_E_OK)
		abort();
	nub_err pe = nub_put_cap(sb, data, size, h2);
	if (de != NUB_E_OK && pe != de)
		abort(); /* PUT_CAP must refuse with the decoder's named error */
	if (pe == NUB_E_OK && memcmp(h1, h2, sizeof h1) != 0)
		abort();
	if (pe == NUB_E_OK && v.kind == NUB_CAP_KIND_IMAGE) {
		/* An instance with empty Data in every mapped slot, then invoke every
		 * endpoint with a little gas. */
		nub_cap_buf d = {0}, inst = {0};
		uint8_t dh[NUB_CAP_HASH_LEN], ih[NUB_CAP_HASH_LEN];
		nub_slot slots[NUB_CAP_MAX_SLOTS];
		size_t n = 0;
		if (nub_cap_data("", 0, &d) || nub_put_cap(sb, d.bytes, d.len, dh))
			abort();
		for (uint32_t i = 0; i < v.u.image.mapping_count; i++) {
			cap_mapping m;
			cap_image_mapping(&v.u.image, i, &m);
			int seen = 0;
			for (size_t k = 0; k < n; k++)
				seen |= slots[k].index == m.slot;
			if (!seen) {
				slots[n].index = m.slot;
				memcpy(slots[n].hash, dh, NUB_CAP_HASH_LEN);
				n++;
			}
		}
		if (nub_cap_instance(h2, slots, n, &inst) || nub_put_cap(sb, inst.bytes, inst.len, ih))
			abort();
		for (uint32_t ep = 0; ep <= v.u.image.endpoint_count; ep++) {
			InvokePacket p;
			InvocationResult r;
			memset(&p, 0, sizeof p);
			memcpy(p.instance_hash, ih, NUB_CAP_HASH_LEN);
			p.endpoint_idx = ep;
			p.initial_gas = 10000;
			nub_err ie = nub_invoke(sb, &p, &r);
			if ((ep == v.u.image.endpoint_count) != (ie == NUB_E_BAD_ENDPOINT))
				abort();
		}
		nub_cap_buf_free(&d);
		nub_cap_buf_free(&inst);
	}
	nub_close(sb);
	return 0;
}
