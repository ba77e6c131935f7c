/* abi.h: the nub wire ABI shared by host and guest (DESIGN.md section 2).
 *
 * Self-contained: C11 freestanding headers only (<stdint.h>, <stddef.h>), no
 * libc, no host types. Every size and offset is pinned by a _Static_assert
 * below, so host and guest (and a future Rust side) agree byte for byte.
 * All integers on the wire are little-endian; the structs below are the
 * little-endian repr(C) bytes (x86-64 and aarch64 hosts are little-endian).
 *
 * Addresses that live in the guest are typed nub_gva (an integer), never a
 * pointer: the host must translate and bounds-check them before any access.
 *
 * Contents:
 *   NUB_ABI_VERSION, fn ids (RPC numbers), CapHash, InvokePacket,
 *   InvocationResult, BootInfo, ParallelInvokeSlot + slot statuses, exit
 *   reasons, cap kinds and limits (section 4), and the one error list
 *   NUB_ERRORS whose codes travel in exit_arg when exit_reason is
 *   NUB_EXIT_ERROR (0xFFFFFFFF).
 */
#ifndef NUB_ABI_H
#define NUB_ABI_H

#include <stddef.h>
#include <stdint.h>

/* Bumped on any incompatible change of this file. */
#define NUB_ABI_VERSION 1u

/* A guest virtual address (never dereferenced by the host directly). */
typedef uint64_t nub_gva;

/* ---- RPC numbers ---------------------------------------------------------
 * fn_id band [0, 0x100) belongs to the substrate; test probes may use 100..255.
 * 0 and 1 are reserved (never assigned). */
enum nub_fn_id {
	NUB_FN_ID_HEAP_STATS = 2,     /* IN: empty.  OUT: NubHeapStats (32 B) */
	NUB_FN_ID_INVOKE_CACHED = 3,  /* IN: InvokePacket.  OUT: InvocationResult */
	NUB_FN_ID_PUT_CAP = 4,        /* IN: one encoded cap.  OUT: CapHash (32 B) */
	NUB_FN_ID_GET_BOOT_INFO = 5,  /* IN: empty.  OUT: BootInfo */
	NUB_FN_ID_EVICT_JIT_ALL = 6,  /* IN: empty.  OUT: empty */
	NUB_FN_ID_INVOKE_WORKER = 7,  /* IN: LE u32 lane.  serves ParallelInvokeSlot[lane] */
	NUB_FN_ID_MAX
};
/* nub's extensions (not in the specification; the ids above and
 * NUB_FN_ID_MAX stay the specification's): the engine, and host calls over
 * the mailbox (see "host calls over the mailbox" below). */
enum nub_fn_id_ext {
	NUB_FN_ID_SET_ENGINE = 8,  /* IN: LE u32 NUB_SET_ENGINE_*.  OUT: empty */
	NUB_FN_ID_INVOKE_HOST = 9, /* IN: InvokePacket.  OUT: NubHostStep */
	NUB_FN_ID_HOST_CALL = 10,  /* IN: NubHostOp (+ bytes).  OUT: by op */
	NUB_FN_ID_EXT_END          /* the first id nobody answers */
};
#define NUB_FN_ID_SUBSTRATE_END 0x100u
/* NUB_FN_ID_SET_ENGINE payload: how every later invocation runs. A change
 * evicts every cached program (as EVICT_JIT_ALL). The guest boots with the
 * interpreter; NUB_E_NOT_IMPLEMENTED when its JIT is unavailable, and
 * NUB_E_INVALID_ARG for any other value or length. Send it between
 * invocations, with no lane running. */
#define NUB_SET_ENGINE_INTERP 1u /* = NUB_ENGINE_INTERP of nub.h */
#define NUB_SET_ENGINE_JIT 2u    /* = NUB_ENGINE_JIT */
#define NUB_FN_ID_TEST_PROBE_FIRST 100u
#define NUB_FN_ID_TEST_PROBE_LAST 255u

/* ---- sizes --------------------------------------------------------------- */
#define NUB_CAP_HASH_LEN 32u
#define SCRATCHPAD_HEAD_LEN 128u
#define MAX_EXECUTION_LANES 64u
#define NUB_INVOKE_ARGS 4u          /* args[] overlay phi7..phi10 */
#define NUB_NUM_REGS 13u            /* phi0..phi12 */
#define NUB_PAGE_SIZE 4096u
#define NUB_MIN_VA 0x10000u         /* accesses below panic */
#define NUB_HALT_ADDR 0xFFFF0000u   /* dynamic jump here halts */

/* ---- exit reasons (InvocationResult.exit_reason) ------------------------- */
#define NUB_EXIT_HALT 0u        /* exit_arg 0 */
#define NUB_EXIT_PANIC 1u       /* exit_arg 0 */
#define NUB_EXIT_OUT_OF_GAS 2u  /* exit_arg 0 */
#define NUB_EXIT_PAGE_FAULT 3u  /* exit_arg = page-aligned fault address */
#define NUB_EXIT_HOST_CALL 4u   /* exit_arg = ecalli immediate */
#define NUB_EXIT_ERROR 0xFFFFFFFFu /* refused/failed; exit_arg = NUB_E_* code */

/* ---- CapHash: BLAKE2b-256 of a cap's canonical encoding ------------------ */
typedef struct nub_cap_hash {
	uint8_t bytes[NUB_CAP_HASH_LEN];
} CapHash;

/* ---- InvokePacket (80 bytes): IN of INVOKE_CACHED and of a lane slot ----- */
typedef struct nub_invoke_packet {
	uint8_t instance_hash[NUB_CAP_HASH_LEN]; /* @0  IN: published Instance cap */
	uint32_t endpoint_idx;                  /* @32 IN: index into the Image's endpoints */
	uint32_t _pad;                          /* @36 must be 0 */
	uint64_t args[NUB_INVOKE_ARGS];         /* @40 IN: overlay phi7..phi10 */
	uint64_t initial_gas;                   /* @72 IN: <= 2^63-1 */
} InvokePacket;

/* ---- InvocationResult (152 bytes): OUT of INVOKE_CACHED ------------------ */
typedef struct nub_invocation_result {
	uint32_t exit_reason;                     /* @0  NUB_EXIT_* */
	uint32_t exit_arg;                        /* @4  see the exit table */
	uint64_t return_value;                    /* @8  phi7 at exit */
	uint64_t gas_remaining;                   /* @16 gas left, >= 0 */
	uint8_t scratchpad_head[SCRATCHPAD_HEAD_LEN]; /* @24 slot-0 head at HALT, else 0 */
} InvocationResult;

/* ---- HEAP_STATS reply (32 bytes = four LE u64) --------------------------- */
typedef struct nub_heap_stats {
	uint64_t allocated_bytes;  /* @0 */
	uint64_t allocation_count; /* @8 */
	uint64_t fragment_count;   /* @16 */
	uint64_t available_bytes;  /* @24 */
} NubHeapStats;

/* ---- BootInfo (128 bytes, guest linker section .boot_info) --------------- */
#define NUB_BOOT_INFO_MAGIC 0x4A41525F424F4F54ull /* "JAR_BOOT" read big-endian */
typedef struct nub_boot_info {
	uint64_t magic;             /* @0  NUB_BOOT_INFO_MAGIC */
	nub_gva directory_va;       /* @8  guest address of the cap directory */
	uint64_t directory_type_id; /* @16 layout id of that directory */
	nub_gva guest_va_base;      /* @24 */
	uint64_t _reserved[12];     /* @32 zero */
} BootInfo;

/* ---- ParallelInvokeSlot (align 64, stride 512): one per execution lane ----
 * Protocol: host writes job_id + packet, stores READY (release); guest CASes
 * READY->RUNNING, runs, writes result, stores DONE (release); host reads DONE
 * (acquire), copies result, stores EMPTY. STARTING: host mark before the
 * worker is up (guest flips it to EMPTY). STOP: worker returns.
 * EVICT_JIT_READY: worker evicts all compiled code, then answers DONE.
 *
 * nub's extension, host calls on a lane (values 0..6 and the layout up to
 * @248 are the specification's and unchanged; the extension lives in the
 * specification's padding and in status values it does not use, 0x80 up).
 * A job posted with host_flags NUB_SLOT_F_HOST_CALLS (written before READY)
 * is suspended at each ecalli instead of ending there: the worker writes
 * host_call (number, registers, gas), stores HOST_WAIT (release) and waits;
 * the host (acquire) runs its handler, writes host_call's registers, gas and
 * action, stores HOST_ANSWER (release); the worker CASes HOST_ANSWER ->
 * RUNNING (acquire), copies the answer out and goes on (action RESUME) or
 * ends the job as at an ecalli without handler (action STOP; result
 * NUB_EXIT_HOST_CALL). While the status is HOST_WAIT the host owns the slot
 * and the suspended invocation; the worker owns it again from HOST_ANSWER.
 * While it holds HOST_WAIT the host may also ask the worker for the
 * suspended invocation's memory: it writes host_mem {op, addr, len} (for
 * WRITE the bytes into the lane's buffer first: a backend's memory, at
 * least NUB_SLOT_MEM_MAX bytes; kvm: NUB_GUEST_LANE_BUFS_GPA, rpc.h) and
 * stores HOST_MEM (release); the worker copies the request out, performs
 * the access with the program's own rights (READ: the bytes into the
 * buffer; nothing copied and NUB_E_HOST_MEMORY on a page it may not
 * touch), writes host_mem.err and stores HOST_WAIT again (release). So the
 * CPU that runs an invocation is the only one that touches its memory.
 * host_flags 0: the specification's behaviour (an ecalli ends the job). */
enum nub_slot_status {
	NUB_SLOT_EMPTY = 0,
	NUB_SLOT_READY = 1,
	NUB_SLOT_RUNNING = 2,
	NUB_SLOT_DONE = 3,
	NUB_SLOT_STOP = 4,
	NUB_SLOT_STARTING = 5,
	NUB_SLOT_EVICT_JIT_READY = 6,
	/* nub extension (not in the specification) */
	NUB_SLOT_HOST_WAIT = 0x80,   /* worker -> host: a host call waits in host_call */
	NUB_SLOT_HOST_ANSWER = 0x81, /* host -> worker: host_call holds the answer */
	NUB_SLOT_HOST_MEM = 0x82,    /* host -> worker: host_mem holds a memory request */
};
#define NUB_SLOT_F_HOST_CALLS 1u /* host_flags: suspend at each ecalli (HOST_WAIT) */
#define NUB_SLOT_HOST_RESUME 0u  /* host_call.action: go on after the ecalli */
#define NUB_SLOT_HOST_STOP 1u    /* host_call.action: end the job at the ecalli */

/* One host call of a lane job (nub extension, in the slot's padding). */
typedef struct nub_slot_host_call {
	uint32_t number;             /* @0   OUT (worker): the ecalli immediate */
	uint32_t action;             /* @4   IN (host): NUB_SLOT_HOST_RESUME or _STOP */
	uint64_t regs[NUB_NUM_REGS]; /* @8   OUT, then IN: phi0..phi12 */
	uint64_t gas;                /* @112 OUT, then IN: gas left (at most 2^63-1) */
} NubSlotHostCall;

/* One memory request of the host during HOST_WAIT (nub extension, in the
 * slot's padding). */
#define NUB_SLOT_MEM_READ 1u        /* len bytes at addr into the buffer */
#define NUB_SLOT_MEM_WRITE 2u       /* len bytes of the buffer to addr */
#define NUB_SLOT_MEM_CHECK_READ 3u  /* every page of [addr, addr+len) readable? */
#define NUB_SLOT_MEM_CHECK_WRITE 4u /* ... writable? (nothing copied) */
#define NUB_SLOT_MEM_MAX 8192u      /* most bytes one READ or WRITE moves */
typedef struct nub_slot_host_mem {
	uint32_t op;   /* @0  IN (host): NUB_SLOT_MEM_* */
	uint32_t addr; /* @4  IN: PVM address */
	uint32_t len;  /* @8  IN: bytes (READ/WRITE: at most NUB_SLOT_MEM_MAX) */
	uint32_t err;  /* @12 OUT (worker): nub_err (NUB_E_HOST_MEMORY: refused;
	                *     NUB_E_INVALID_ARG: a malformed request) */
} NubSlotHostMem;

/* ---- host calls over the mailbox (nub extension: fn ids 9 and 10) --------
 * INVOKE_HOST starts an invocation like INVOKE_CACHED, but an ecalli
 * suspends it instead of ending it: the reply (NubHostStep) is either
 * DONE (result = the InvocationResult, status as INVOKE_CACHED's) or CALL
 * (number, registers, gas left after the ecalli; status OK) with the
 * invocation kept suspended in the guest. The host then sends HOST_CALL
 * requests (NubHostOp): READ / WRITE / CHECK the suspended invocation's
 * memory with the program's own rights (cap_core_mem_read/_write:
 * NUB_E_HOST_MEMORY and nothing copied otherwise), and finally ANSWER
 * (registers, gas, action RESUME or STOP), whose reply is the next
 * NubHostStep; or ABORT, which ends it (its memory freed; status OK, empty
 * reply). At most one suspended invocation per mailbox: INVOKE_HOST and any
 * other fn id than HOST_CALL end (free) a suspended one first; HOST_CALL
 * without one answers NUB_E_INVALID_ARG. */
#define NUB_HOST_STEP_DONE 0u
#define NUB_HOST_STEP_CALL 1u
typedef struct nub_host_step {
	uint32_t state;              /* @0   NUB_HOST_STEP_DONE or _CALL */
	uint32_t number;             /* @4   CALL: the ecalli immediate */
	uint64_t regs[NUB_NUM_REGS]; /* @8   CALL: phi0..phi12 */
	uint64_t gas;                /* @112 CALL: gas left after the ecalli */
	InvocationResult result;     /* @120 DONE: the result; CALL: zero */
} NubHostStep;

#define NUB_HOST_OP_ANSWER 0u /* action, regs, gas. OUT: NubHostStep */
#define NUB_HOST_OP_READ 1u   /* addr, len <= NUB_RPC_RESP_CAP. OUT: len bytes */
#define NUB_HOST_OP_WRITE 2u  /* addr, len; len bytes follow the op. OUT: empty */
#define NUB_HOST_OP_CHECK 3u  /* addr, len, action 0 read / 1 write. OUT: empty */
#define NUB_HOST_OP_ABORT 4u  /* OUT: empty */
#define NUB_HOST_ACTION_RESUME 0u
#define NUB_HOST_ACTION_STOP 1u
typedef struct nub_host_op {
	uint32_t op;                 /* @0   NUB_HOST_OP_* */
	uint32_t action;             /* @4   ANSWER: NUB_HOST_ACTION_*; CHECK: 0 read, 1 write */
	uint32_t addr;               /* @8   READ / WRITE / CHECK: PVM address */
	uint32_t len;                /* @12  READ / WRITE / CHECK: bytes */
	uint64_t regs[NUB_NUM_REGS]; /* @16  ANSWER */
	uint64_t gas;                /* @120 ANSWER: at most 2^63-1 (else NUB_E_BAD_GAS, DONE) */
} NubHostOp;

#define NUB_PARALLEL_SLOT_STRIDE 512u
typedef struct nub_parallel_invoke_slot {
	_Alignas(64) uint32_t status; /* @0  enum nub_slot_status (atomic) */
	uint32_t _pad0;               /* @4  */
	uint64_t job_id;              /* @8  IN: host's tag, echoed */
	InvokePacket packet;          /* @16 IN */
	InvocationResult result;      /* @96 OUT */
	/* nub extension, in the specification's padding (zero when unused) */
	uint32_t host_flags;          /* @248 IN: NUB_SLOT_F_* of the posted job */
	uint32_t _pad1;               /* @252 */
	NubSlotHostCall host_call;    /* @256 see above */
	NubSlotHostMem host_mem;      /* @376 see above */
	uint8_t _reserved[NUB_PARALLEL_SLOT_STRIDE - 392]; /* @392 pad to the stride */
} ParallelInvokeSlot;

/* ---- the specification's own spellings ------------------------------------
 * Aliases, so code written against the specification's names compiles
 * unchanged. The NUB_ names above are the ones nub's own code uses. */
#define FN_ID_NUB_HEAP_STATS NUB_FN_ID_HEAP_STATS
#define FN_ID_NUB_INVOKE_CACHED NUB_FN_ID_INVOKE_CACHED
#define FN_ID_NUB_PUT_CAP NUB_FN_ID_PUT_CAP
#define FN_ID_NUB_GET_BOOT_INFO NUB_FN_ID_GET_BOOT_INFO
#define FN_ID_NUB_EVICT_JIT_ALL NUB_FN_ID_EVICT_JIT_ALL
#define FN_ID_NUB_INVOKE_WORKER NUB_FN_ID_INVOKE_WORKER
#define PARALLEL_INVOKE_SLOT_BYTES NUB_PARALLEL_SLOT_STRIDE
#define PARALLEL_INVOKE_STATUS_EMPTY NUB_SLOT_EMPTY
#define PARALLEL_INVOKE_STATUS_READY NUB_SLOT_READY
#define PARALLEL_INVOKE_STATUS_RUNNING NUB_SLOT_RUNNING
#define PARALLEL_INVOKE_STATUS_DONE NUB_SLOT_DONE
#define PARALLEL_INVOKE_STATUS_STOP NUB_SLOT_STOP
#define PARALLEL_INVOKE_STATUS_STARTING NUB_SLOT_STARTING
#define PARALLEL_INVOKE_STATUS_EVICT_JIT_READY NUB_SLOT_EVICT_JIT_READY
#define BOOT_INFO_MAGIC NUB_BOOT_INFO_MAGIC

/* ---- caps (DESIGN section 4; byte layout in docs/caps.md) ---------------- */
#define NUB_CAP_KIND_INSTANCE 0u
#define NUB_CAP_KIND_IMAGE 1u
#define NUB_CAP_KIND_DATA 2u
#define NUB_CAP_VERSION 1u
#define NUB_CAP_MAX_ENDPOINTS 64u
#define NUB_CAP_MAX_MAPPINGS 64u
#define NUB_CAP_MAX_SLOTS 64u          /* slot indices 0..63; slot 0 = scratchpad */
#define NUB_CAP_LAYOUT_BARE 0u         /* nothing mapped but the mappings */
#define NUB_CAP_LAYOUT_SPI 1u          /* JAM standard program layout (GP A.7) */
#define NUB_CAP_MAPPING_WRITABLE 1u    /* mapping flags bit 0 */

/* ---- errors ---------------------------------------------------------------
 * One list: name, stable wire code (travels in exit_arg with NUB_EXIT_ERROR),
 * message. Codes are never reused; append new ones at the end. */
#define NUB_ERRORS(X)                                                                      \
	X(OK, 0, "success")                                                                \
	X(INVALID_ARG, 1, "invalid argument (NULL pointer or value out of range)")        \
	X(NOMEM, 2, "out of memory")                                                       \
	X(KVM_UNAVAILABLE, 3, "kvm backend: /dev/kvm not available")                      \
	X(NOT_IMPLEMENTED, 4, "kvm backend: not built yet")                               \
	X(BAD_BACKEND, 5, "unknown backend")                                               \
	X(STORE_FULL, 6, "cap store: memory budget exhausted")                            \
	X(CAP_TRUNCATED, 7, "cap: truncated encoding")                                     \
	X(CAP_TRAILING, 8, "cap: trailing bytes after the encoding")                      \
	X(CAP_KIND, 9, "cap: unknown kind")                                                \
	X(CAP_VERSION, 10, "cap: unsupported version")                                     \
	X(IMAGE_LAYOUT, 11, "image: unknown layout")                                       \
	X(IMAGE_NO_ENDPOINTS, 12, "image: no endpoints")                                   \
	X(IMAGE_TOO_MANY_ENDPOINTS, 13, "image: more than 64 endpoints")                   \
	X(IMAGE_TOO_MANY_MAPPINGS, 14, "image: more than 64 mappings")                     \
	X(IMAGE_BARE_LAYOUT_FIELDS, 15, "image: bare layout with non-zero ro/rw/heap/stack") \
	X(IMAGE_SPI_FIELD_RANGE, 16, "image: spi field exceeds its width (ro, rw, stack < 2^24; heap pages < 2^16)") \
	X(IMAGE_CODE, 17, "image: code blob rejected by the PVM decoder")                 \
	X(MAPPING_ALIGN, 18, "image mapping: va not page-aligned")                         \
	X(MAPPING_LOW, 19, "image mapping: va below 0x10000")                              \
	X(MAPPING_EMPTY, 20, "image mapping: zero pages")                                  \
	X(MAPPING_RANGE, 21, "image mapping: region wraps past 2^32")                      \
	X(MAPPING_ORDER, 22, "image mapping: not sorted by va or overlapping")             \
	X(MAPPING_FLAGS, 23, "image mapping: unknown flag bits")                           \
	X(MAPPING_SLOT, 24, "image mapping: slot index >= 64")                             \
	X(MAPPING_SPI_OVERLAP, 25, "image mapping: overlaps the spi ro/heap/stack regions") \
	X(INSTANCE_TOO_MANY_SLOTS, 26, "instance: more than 64 slots")                    \
	X(INSTANCE_SLOT_RANGE, 27, "instance: slot index >= 64")                           \
	X(INSTANCE_SLOT_ORDER, 28, "instance: slot indices not strictly increasing")      \
	X(CAP_HAS_REF, 29, "instance: names a cap that was never published (CapHasRefError)") \
	X(CAP_REF_KIND, 30, "instance: image hash names no Image, or a slot names no Data") \
	X(INSTANCE_SLOT_MISSING, 31, "instance: the image maps a slot the instance does not fill") \
	X(INSTANCE_DATA_TOO_LARGE, 32, "instance: slot data longer than the region mapping it") \
	X(UNKNOWN_INSTANCE, 33, "invoke: instance hash not published")                     \
	X(BAD_ENDPOINT, 34, "invoke: endpoint index out of range")                         \
	X(BAD_PACKET, 35, "invoke: packet padding not zero")                               \
	X(BAD_GAS, 36, "invoke: initial_gas above 2^63-1")                                 \
	X(ENGINE, 37, "invoke: the PVM engine refused to build the frame")                \
	X(TIMEOUT, 38, "invoke: per-call timeout expired")                                 \
	X(NOT_INSTANCE, 39, "invoke: hash names a cap that is not an Instance")                \
	X(UNKNOWN_FN, 40, "rpc: unknown fn_id")                                              \
	X(RPC_LENGTH, 41, "rpc: request longer than the mailbox")                         \
	X(GUEST_FAULT, 42, "kvm backend: the guest kernel took a CPU exception (sandbox rebuilt)") \
	X(GUEST_PROTOCOL, 43, "kvm backend: malformed reply from the guest (sandbox rebuilt)") \
	X(GUEST_DEAD, 44, "kvm backend: the guest stopped and could not be rebuilt")       \
	X(GUEST_BAD_IMAGE, 45, "kvm backend: the embedded guest kernel ELF failed a check")   \
	X(KVM_NO_HW_VIRT, 46,                                                                 \
	  "kvm backend: /dev/kvm is not hardware-assisted (no VMX/SVM, e.g. kvm-pvm): not supported") \
	X(HOST_MEMORY, 47, "host call: memory access outside the program's readable/writable pages") \
	/* resource limits (issue 10) */                                                   \
	X(INVOKE_MEMORY, 48, "invoke: the frame needs more pages than the invocation memory limit") \
	X(SANDBOX_MEMORY, 49, "sandbox: memory budget exhausted (caps, decoded programs, running invocations)") \
	X(JIT, 50, "jit: the program could not be compiled (out of memory, CPU or platform; see nub run --engine jit)")

typedef enum nub_err {
#define NUB_ERR_ENUM_(name, code, msg) NUB_E_##name = code,
	NUB_ERRORS(NUB_ERR_ENUM_)
#undef NUB_ERR_ENUM_
	NUB_E_MAX_
} nub_err;

/* ---- layout pins ---------------------------------------------------------- */
_Static_assert(NUB_FN_ID_MAX == 8, "the specification's fn ids 2..7");
_Static_assert(NUB_FN_ID_EXT_END == 11, "nub's extensions 8..10");
_Static_assert(NUB_FN_ID_MAX <= NUB_FN_ID_SUBSTRATE_END, "substrate band");
_Static_assert(sizeof(CapHash) == 32, "CapHash 32 B");

_Static_assert(sizeof(InvokePacket) == 80, "InvokePacket 80 B");
_Static_assert(offsetof(InvokePacket, instance_hash) == 0, "");
_Static_assert(offsetof(InvokePacket, endpoint_idx) == 32, "");
_Static_assert(offsetof(InvokePacket, _pad) == 36, "");
_Static_assert(offsetof(InvokePacket, args) == 40, "");
_Static_assert(offsetof(InvokePacket, initial_gas) == 72, "");

_Static_assert(sizeof(InvocationResult) == 152, "InvocationResult 152 B");
_Static_assert(offsetof(InvocationResult, exit_reason) == 0, "");
_Static_assert(offsetof(InvocationResult, exit_arg) == 4, "");
_Static_assert(offsetof(InvocationResult, return_value) == 8, "");
_Static_assert(offsetof(InvocationResult, gas_remaining) == 16, "");
_Static_assert(offsetof(InvocationResult, scratchpad_head) == 24, "");

_Static_assert(sizeof(NubHeapStats) == 32, "heap stats 32 B");
_Static_assert(offsetof(NubHeapStats, allocated_bytes) == 0, "");
_Static_assert(offsetof(NubHeapStats, allocation_count) == 8, "");
_Static_assert(offsetof(NubHeapStats, fragment_count) == 16, "");
_Static_assert(offsetof(NubHeapStats, available_bytes) == 24, "");

_Static_assert(sizeof(BootInfo) == 128, "BootInfo 128 B");
_Static_assert(offsetof(BootInfo, magic) == 0, "");
_Static_assert(offsetof(BootInfo, directory_va) == 8, "");
_Static_assert(offsetof(BootInfo, directory_type_id) == 16, "");
_Static_assert(offsetof(BootInfo, guest_va_base) == 24, "");
_Static_assert(offsetof(BootInfo, _reserved) == 32, "");

_Static_assert(_Alignof(ParallelInvokeSlot) == 64, "slot align 64");
_Static_assert(sizeof(ParallelInvokeSlot) == NUB_PARALLEL_SLOT_STRIDE, "slot stride 512");
_Static_assert(offsetof(ParallelInvokeSlot, status) == 0, "");
_Static_assert(offsetof(ParallelInvokeSlot, _pad0) == 4, "");
_Static_assert(offsetof(ParallelInvokeSlot, job_id) == 8, "");
_Static_assert(offsetof(ParallelInvokeSlot, packet) == 16, "");
_Static_assert(offsetof(ParallelInvokeSlot, result) == 96, "");
_Static_assert(offsetof(ParallelInvokeSlot, host_flags) == 248, "");
_Static_assert(offsetof(ParallelInvokeSlot, host_call) == 256, "");
_Static_assert(offsetof(ParallelInvokeSlot, host_mem) == 376, "");
_Static_assert(offsetof(ParallelInvokeSlot, _reserved) == 392, "");
_Static_assert(sizeof(NubSlotHostMem) == 16, "slot host memory request 16 B");
_Static_assert(sizeof(NubSlotHostCall) == 120, "slot host call 120 B");
_Static_assert(offsetof(NubSlotHostCall, regs) == 8, "");
_Static_assert(offsetof(NubSlotHostCall, gas) == 112, "");
_Static_assert(NUB_SLOT_EVICT_JIT_READY == 6, "slot statuses 0..6");
_Static_assert(NUB_SLOT_HOST_WAIT > NUB_SLOT_EVICT_JIT_READY, "extension statuses outside the specification's");

_Static_assert(sizeof(NubHostStep) == 272, "host step 272 B");
_Static_assert(offsetof(NubHostStep, regs) == 8, "");
_Static_assert(offsetof(NubHostStep, gas) == 112, "");
_Static_assert(offsetof(NubHostStep, result) == 120, "");
_Static_assert(sizeof(NubHostOp) == 128, "host op 128 B");
_Static_assert(offsetof(NubHostOp, regs) == 16, "");
_Static_assert(offsetof(NubHostOp, gas) == 120, "");
_Static_assert(NUB_FN_ID_INVOKE_WORKER == 7 && NUB_FN_ID_INVOKE_HOST == 9 && NUB_FN_ID_HOST_CALL == 10,
               "the specification's fn ids unchanged; 8 is left for another extension");

_Static_assert(NUB_E_OK == 0, "OK is zero");
_Static_assert(NUB_E_MAX_ == 51, "error codes are dense; update when appending");

#endif /* NUB_ABI_H */
