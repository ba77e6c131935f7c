/* cap_invoke.h: what invoking a published Instance means to the engine,
 * shared by every backend (local in-process, guest kernel). Freestanding.
 *
 * Call order for one INVOKE_CACHED:
 *   cap_invoke_check(p)                       packet validation
 *   (backend: resolve instance -> image, slot data, decoded program)
 *   pvm_instance_new + cap_invoke_frame(...)  a fresh frame
 *   pvm_set_gas + pvm_run (backends may slice for a timeout)
 *   cap_invoke_result(...)                    the InvocationResult
 * On any error, cap_invoke_fail(r, e) writes the error result. */
#ifndef NUB_CAP_INVOKE_H
#define NUB_CAP_INVOKE_H

#include "cap/cap.h"
#include "pvm/pvm.h"

/* Padding must be zero and the gas at most 2^63-1. */
nub_err cap_invoke_check(const InvokePacket *p);

/* Build the frame on a fresh instance: the spi layout (if any), then every
 * mapping with its slot's Data (slot_data indexed by slot; every slot the
 * image maps must be filled, which PUT_CAP of the Instance guaranteed), the
 * bare layout's sbrk base (end of the highest mapping), the endpoint's pc and
 * registers, and p->args over phi7..phi10. */
nub_err cap_invoke_frame(pvm_instance *m, const cap_image_view *img, const cap_view *const slot_data[],
                         const cap_endpoint *ep, const InvokePacket *p);

/* The InvocationResult of a finished run that ended with x: exit_reason,
 * exit_arg (page-aligned fault address, host-call number), return_value =
 * phi7, gas_remaining, and at HALT the scratchpad head (the first bytes of
 * slot 0's lowest mapping). PVM_EXIT_ERROR (the engine itself failed) gives
 * NUB_E_NOMEM or NUB_E_ENGINE, written into r as an error result. */
nub_err cap_invoke_result(const pvm_instance *m, pvm_exit x, const cap_image_view *img, InvocationResult *r);

/* Write the error result (exit_reason NUB_EXIT_ERROR, exit_arg e); returns e. */
nub_err cap_invoke_fail(InvocationResult *r, nub_err e);

#endif
