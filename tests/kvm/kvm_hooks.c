/* kvm_hooks.c: test hooks into the kvm backend (built into the tests only).
 *
 * The kvm tests reach past the public API here: raw RPCs, VM-exit and
 * rebuild counters, the guest's cap directory, a checked poke into guest
 * RAM, and sandboxes booted on the test kernel (the production kernel with
 * the self-test, replay, scenario and fault-probe fn ids 100..106), which
 * this file embeds (NUB_TEST_GUEST_ELF, set by src/host/module.mk).
 */
#include <stdlib.h>
#include <string.h>

#include "kvm/kvm_hooks.h"

#ifndef NUB_TEST_GUEST_ELF
#error "NUB_TEST_GUEST_ELF: the path of the test guest kernel"
#endif
__asm__(".section .rodata.nub_test_guest_elf, \"a\", @progbits\n"
        ".balign 64\n"
        "nub_test_guest_elf_begin:\n"
        ".incbin \"" NUB_TEST_GUEST_ELF "\"\n"
        "nub_test_guest_elf_end:\n"
        ".previous\n");
extern const uint8_t nub_test_guest_elf_begin[], nub_test_guest_elf_end[];

void kvm_test_image(const uint8_t **elf, size_t *len)
{
	*elf = nub_test_guest_elf_begin;
	*len = (size_t)(nub_test_guest_elf_end - nub_test_guest_elf_begin);
}

nub_err kvm_test_open(const nub_options *o, nub_sandbox **out)
{
	nub_resolved_options ro = {
		.vcpus = o->vcpus ? o->vcpus : 4,
		.memory_bytes = o->memory_bytes ? o->memory_bytes : (256ull << 20),
		.timeout_ms = o->timeout_ms,
		.engine = o->engine,
	};
	ro.lanes = o->lanes ? o->lanes : ro.vcpus > 1 ? ro.vcpus - 1 : 1; /* as nub_open resolves it */
	ro.invocation_pages = (uint32_t)((o->invocation_memory_bytes ? o->invocation_memory_bytes
	                                                             : NUB_DEFAULT_INVOCATION_MEMORY) /
	                                 NUB_PAGE_SIZE);
	nub_err e = kvm_backend_probe();
	if (e)
		return e;
	nub_sandbox *sb = calloc(1, sizeof *sb);
	if (!sb)
		return NUB_E_NOMEM;
	const uint8_t *elf;
	size_t len;
	kvm_test_image(&elf, &len);
	e = kvm_backend_open_image(&ro, elf, len, &sb->impl, &sb->ops);
	if (e) {
		free(sb);
		return e;
	}
	sb->backend = NUB_BACKEND_KVM;
	*out = sb;
	return NUB_E_OK;
}

nub_err kvm_sandbox_call(nub_sandbox *sb, uint32_t fn_id, const void *req, uint32_t req_len, void *resp,
                         uint32_t resp_cap, uint32_t *resp_len)
{
	return kvm_backend_call(sb->impl, fn_id, req, req_len, resp, resp_cap, resp_len);
}

uint64_t kvm_sandbox_exits(nub_sandbox *sb)
{
	kvm_backend *kb = sb->impl;
	return kb->vm ? vmm_exit_count(kb->vm) + vmm_lane_exits(kb->vm) : 0;
}

unsigned kvm_sandbox_lane_restarts(nub_sandbox *sb)
{
	kvm_backend *kb = sb->impl;
	return __atomic_load_n(&kb->lane_restarts, __ATOMIC_RELAXED);
}

uint64_t kvm_sandbox_lane_host_jobs(nub_sandbox *sb)
{
	kvm_backend *kb = sb->impl;
	return __atomic_load_n(&kb->lane_host_jobs, __ATOMIC_RELAXED);
}

uint64_t kvm_sandbox_host_calls(nub_sandbox *sb)
{
	kvm_backend *kb = sb->impl;
	return __atomic_load_n(&kb->host_calls, __ATOMIC_RELAXED);
}

void kvm_sandbox_scribble_lane(nub_sandbox *sb, uint32_t lane, uint32_t status)
{
	kvm_backend *kb = sb->impl;
	ParallelInvokeSlot *s = kb->vm ? vmm_lane_slot(kb->vm, lane) : NULL;
	if (s) {
		__atomic_store_n(&s->status, status, __ATOMIC_SEQ_CST);
		vmm_lane_poke(kb->vm, lane);
	}
}

uint32_t kvm_sandbox_lanes_ready(nub_sandbox *sb)
{
	kvm_backend *kb = sb->impl;
	return kb->vm ? vmm_lanes_ready(kb->vm) : 0;
}

nub_err kvm_sandbox_lanes_err(nub_sandbox *sb)
{
	kvm_backend *kb = sb->impl;
	return kb->lanes_err;
}

uint32_t kvm_sandbox_lanes(nub_sandbox *sb)
{
	kvm_backend *kb = sb->impl;
	return kb->vm ? vmm_lane_count(kb->vm) : 0;
}

unsigned kvm_sandbox_rebuilds(nub_sandbox *sb)
{
	kvm_backend *kb = sb->impl;
	return kb->rebuilds;
}

vmm_stop kvm_sandbox_last_stop(nub_sandbox *sb)
{
	kvm_backend *kb = sb->impl;
	return kb->last_stop;
}

NubRpcFault kvm_sandbox_last_fault(nub_sandbox *sb)
{
	kvm_backend *kb = sb->impl;
	return kb->last_fault;
}

nub_err kvm_sandbox_capdir_lookup(nub_sandbox *sb, const uint8_t hash[NUB_CAP_HASH_LEN], NubCapDirEntry *out,
                                  uint8_t *copy, size_t copy_cap)
{
	kvm_backend *kb = sb->impl;
	pthread_mutex_lock(&kb->lock);
	const uint8_t *bytes = NULL;
	nub_err e = kb->vm ? vmm_capdir_lookup(kb->vm, hash, out, &bytes) : NUB_E_GUEST_DEAD;
	if (e == NUB_E_OK && copy)
		memcpy(copy, bytes, out->len < copy_cap ? out->len : copy_cap);
	pthread_mutex_unlock(&kb->lock);
	return e;
}

void kvm_sandbox_set_timeout(nub_sandbox *sb, uint32_t timeout_ms)
{
	kvm_backend *kb = sb->impl;
	pthread_mutex_lock(&kb->lock);
	kb->cfg.timeout_ms = timeout_ms;
	if (kb->vm)
		vmm_set_timeout(kb->vm, timeout_ms);
	pthread_mutex_unlock(&kb->lock);
}

nub_err kvm_sandbox_poke(nub_sandbox *sb, nub_gpa gpa, const void *src, uint64_t len)
{
	kvm_backend *kb = sb->impl;
	pthread_mutex_lock(&kb->lock);
	nub_err e = NUB_E_GUEST_DEAD;
	if (kb->vm) {
		uint8_t *dst = vmm_gpa_to_hva(kb->vm, gpa, len);
		e = dst ? NUB_E_OK : NUB_E_INVALID_ARG;
		if (dst)
			memcpy(dst, src, (size_t)len);
	}
	pthread_mutex_unlock(&kb->lock);
	return e;
}

bool kvm_sandbox_corrupt_published(nub_sandbox *sb, const uint8_t hash[NUB_CAP_HASH_LEN])
{
	kvm_backend *kb = sb->impl;
	pthread_mutex_lock(&kb->lock);
	cap_set_item *it = cap_set_find(&kb->published, hash);
	if (it) /* kind 9: the guest refuses it (CAP_KIND) when it is replayed */
		((uint8_t *)(uintptr_t)it->bytes)[0] = 9;
	pthread_mutex_unlock(&kb->lock);
	return it != NULL;
}

unsigned kvm_sandbox_lost_caps(nub_sandbox *sb)
{
	kvm_backend *kb = sb->impl;
	return kb->lost_caps;
}
