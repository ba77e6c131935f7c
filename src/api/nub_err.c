/* nub_err.c: names and messages of the errors and exit reasons (nub.h).
 *
 * A leaf: it depends on include/nub/nub.h only, so every layer (the API, the
 * backends, the VMM, the CLI) may use it without reaching into another. */
#include "nub/nub.h"

static const struct {
	const char *name, *msg;
} nub_err_table[] = {
#define NUB_ERR_ROW_(name, code, msg) [code] = {#name, msg},
	NUB_ERRORS(NUB_ERR_ROW_)
#undef NUB_ERR_ROW_
};

const char *nub_strerror(nub_err e)
{
	if ((unsigned)e >= sizeof nub_err_table / sizeof nub_err_table[0] || !nub_err_table[e].msg)
		return "unknown error";
	return nub_err_table[e].msg;
}

const char *nub_err_name(nub_err e)
{
	if ((unsigned)e >= sizeof nub_err_table / sizeof nub_err_table[0] || !nub_err_table[e].name)
		return "UNKNOWN";
	return nub_err_table[e].name;
}

const char *nub_exit_name(uint32_t exit_reason)
{
	switch (exit_reason) {
	case NUB_EXIT_HALT: return "halt";
	case NUB_EXIT_PANIC: return "panic";
	case NUB_EXIT_OUT_OF_GAS: return "out-of-gas";
	case NUB_EXIT_PAGE_FAULT: return "page-fault";
	case NUB_EXIT_HOST_CALL: return "host-call";
	case NUB_EXIT_ERROR: return "error";
	default: return "unknown";
	}
}

