/* log.c: guest program for tests/test_link.c: nub_log (JIP-1 debug message,
 * ecalli 100) with and without a target, and the WHAT it returns; `nub run`
 * prints the messages and resumes. */
#include "nub_guest.h"

uint64_t log_main(void);

uint64_t log_main(void)
{
	static char msg[] = "step 0 done";
	uint64_t what = NUB_HOSTCALL(NUB_LOG_HOSTCALL, NUB_LOG_INFO, 0, 0, (uintptr_t)msg, 11, 0);
	nub_log(NUB_LOG_INFO, "log-test", "hello from PVM");
	msg[5] = '1';
	nub_log(NUB_LOG_WARN, 0, msg);
	nub_log(9, "t", "odd level");
	return what == (uint64_t)-2 ? 42 : 1; /* WHAT = 2^64 - 2 */
}

NUB_EXPORT(0, log_main);
