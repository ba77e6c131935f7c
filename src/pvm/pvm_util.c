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
