/* pvm_util.c: error strings, exit names and instance accessors. */
#include "pvm_mem.h"

static const char *const err_msgs[PVM_E_MAX_] = {
#define PVM_ERR_MSG(name, msg) msg,
	PVM_ERRORS(PVM_ERR_MSG)
#undef PVM_ERR_MSG
};

const char *pvm_strerror(pvm_err e)
{
	return (unsigned)e < PVM_E_MAX_ ? err_msgs[e] : "unknown engine error";
}

const char *pvm_exit_name(pvm_exit e)
{
	switch (e) {
	case PVM_EXIT_HALT:
		return "halt";
	case PVM_EXIT_PANIC:
		return "panic";
	case PVM_EXIT_OOG:
		return "out-of-gas";
	case PVM_EXIT_PAGE_FAULT:
		return "page-fault";
	case PVM_EXIT_HOST:
		return "host-call"; /* the one spelling, as nub_exit_name */
	case PVM_EXIT_ERROR:
		return "engine-error";
	}
	return "unknown";
}

uint64_t pvm_reg(const pvm_instance *m, unsigned i)
{
	return i < PVM_NUM_REGS ? m->regs[i] : 0;
}

void pvm_set_reg(pvm_instance *m, unsigned i, uint64_t v)
{
	if (i < PVM_NUM_REGS)
		m->regs[i] = v;
}

uint32_t pvm_pc(const pvm_instance *m)
{
	return m->pc;
}

void pvm_set_pc(pvm_instance *m, uint32_t pc)
{
	m->pc = pc;
	m->resume_idx = PVM_NO_TARGET;
}

int64_t pvm_gas(const pvm_instance *m)
{
	return m->gas;
}

void pvm_set_gas(pvm_instance *m, int64_t gas)
{
	m->gas = gas;
}

uint32_t pvm_exit_arg(const pvm_instance *m)
{
	return m->exit_arg;
}

uint32_t pvm_heap_ptr(const pvm_instance *m)
{
	return (uint32_t)m->heap;
}

void pvm_set_heap_ptr(pvm_instance *m, uint32_t heap)
{
	m->heap = heap;
}

const char *pvm_state_differ(const pvm_instance *a, pvm_exit ea, const pvm_instance *b, pvm_exit eb)
{
	if (ea != eb)
		return "status";
	if (pvm_pc(a) != pvm_pc(b))
		return "pc";
	if (pvm_gas(a) != pvm_gas(b))
		return "gas";
	if (pvm_exit_arg(a) != pvm_exit_arg(b))
		return "exit arg";
	if (pvm_heap_ptr(a) != pvm_heap_ptr(b))
		return "heap pointer";
	for (unsigned i = 0; i < PVM_NUM_REGS; i++)
		if (pvm_reg(a, i) != pvm_reg(b, i))
			return "registers";
	uint64_t fa = 0, fb = 0;
	uint8_t ba[4096], bb[4096];
	for (;;) {
		uint32_t pa, pb;
		int aa, ab;
		bool ha = pvm_mem_next_page(a, fa, &pa, &aa), hb = pvm_mem_next_page(b, fb, &pb, &ab);
		if (ha != hb || (ha && (pa != pb || aa != ab)))
			return "mapped pages";
		if (!ha)
			return 0;
		pvm_mem_read(a, pa, ba, 4096);
		pvm_mem_read(b, pb, bb, 4096);
		/* 8 bytes at a time, one test per page: a page-heavy state (sbrk
		 * maps many) compares fast, even under the fuzzers' comparison
		 * tracing */
		uint64_t diff = 0;
		for (unsigned i = 0; i < 4096; i += 8) {
			uint64_t x, y;
			__builtin_memcpy(&x, ba + i, 8);
			__builtin_memcpy(&y, bb + i, 8);
			diff |= x ^ y;
		}
		if (diff)
			return "memory bytes";
		fa = (uint64_t)pa + 4096;
		fb = (uint64_t)pb + 4096;
	}
}
