/* local.h: internals of the local (in-process) backend exposed to tests. */
#ifndef NUB_LOCAL_H
#define NUB_LOCAL_H

#include <stddef.h>

#include "nub/nub.h"

/* Number of Images whose decoded program is currently cached (EVICT_JIT_ALL
 * brings it to 0). sb must be a sandbox on the local backend. */
size_t local_cached_programs(nub_sandbox *sb);

#endif
