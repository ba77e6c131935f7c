/* guest_record.h: a recorded stream of RPC requests, replayed by the guest.
 *
 * guest_ref --record-vectors writes every PUT_CAP and INVOKE_CACHED request
 * it makes on the local backend into a file; QEMU hands that file to the
 * guest as a Multiboot module (-initrd) and the kernel's "replay" mode sends
 * each request through its mailbox. Both sides print one line per request:
 *   T <index> fn=<fn_id> status=<nub_err> len=<reply bytes> digest=<16 hex>
 * digest = the first 8 bytes of BLAKE2b-256 of the reply bytes.
 * Layout (LE): u64 GUEST_RECORD_MAGIC, then records
 *   u32 fn_id, u32 len, len payload bytes, zero padding to a multiple of 8.
 */
#ifndef NUB_GUEST_RECORD_H
#define NUB_GUEST_RECORD_H

#define GUEST_RECORD_MAGIC 0x3130434552425547ull /* "GUBREC01" LE */
#define GUEST_RECORD_LINE "T %u fn=%u status=%u len=%u digest=%016llx\n"

#endif
