/* nub_backends.c: the backend registry: the one place that names them. */
#include "api/backend.h"
#include "host/kvm_backend.h"
#include "local/local_backend.h"

/* `auto` takes the first that probes OK: the micro-VM, else in-process. */
const nub_backend_def *const nub_backends[] = {&kvm_backend_def, &local_backend_def, NULL};
