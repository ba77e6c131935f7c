/* nub.h: the public host API of libnub (run JAM PVM programs in a sandbox).
 *
 * A sandbox holds published, content-addressed caps (DESIGN section 4):
 *   Data     (kind 2)  a byte string;
 *   Image    (kind 1)  a PVM code blob + memory layout + endpoints + mappings;
 *   Instance (kind 0)  an Image hash + slots (slot index -> Data hash).
 * You build cap encodings with the nub_cap_* builders, publish them with
 * nub_put_cap (which returns their CapHash), then run an Instance's endpoint
 * with nub_invoke. Every invocation starts from the published state.
 *
 * Call order:
 *   nub_options_init(&o); (edit o); nub_open(&o, &sb);
 *   nub_put_cap(Data ...)*, nub_put_cap(Image), nub_put_cap(Instance)
 *       -- an Instance only after every cap it names (else NUB_E_CAP_HAS_REF)
 *   nub_invoke / nub_invoke_parallel (any number)  nub_boot_info / nub_heap_stats / nub_evict_jit_all any time
 *   nub_close(sb).
 *
 * Errors: every function that can fail returns nub_err (NUB_E_OK == 0); the
 * list, with stable numeric codes, is NUB_ERRORS in nub/abi.h, and
 * nub_strerror / nub_err_name name them. A failed call changes nothing.
 *
 * Threads: one sandbox may be used from several threads at once (calls are
 * serialised where needed); nub_close must not race with other calls.
 *
 * Backends: "kvm" (the micro-VM: a KVM VM booted by libnub with its embedded
 * guest kernel; nub_open fails with NUB_E_KVM_UNAVAILABLE without a usable
 * /dev/kvm) and "local" (in-process engine, no isolation; the differential
 * reference).
 * "auto" tries kvm and falls back to local, announcing it via the notice
 * callback (stderr when none is set). It never falls back silently.
 */
#ifndef NUB_NUB_H
#define NUB_NUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nub/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NUB_API __attribute__((visibility("default")))
#else
#define NUB_API
#endif

/* ---- errors --------------------------------------------------------------- */

/* Message of an error code ("unknown error" for codes outside the list). */
NUB_API const char *nub_strerror(nub_err e);
/* Its name without the prefix, e.g. "CAP_HAS_REF"; "UNKNOWN" outside the list. */
NUB_API const char *nub_err_name(nub_err e);
/* "halt", "panic", "out-of-gas", "page-fault", "host-call", "error", "unknown". */
NUB_API const char *nub_exit_name(uint32_t exit_reason);

/* ---- sandbox -------------------------------------------------------------- */

typedef struct nub_sandbox nub_sandbox;

typedef enum nub_backend {
	NUB_BACKEND_AUTO = 0,  /* kvm when it works, else local (with a notice) */
	NUB_BACKEND_LOCAL = 1, /* in-process engine */
	NUB_BACKEND_KVM = 2,   /* KVM micro-VM */
} nub_backend;

typedef enum nub_engine {
	NUB_ENGINE_DEFAULT = 0,
	NUB_ENGINE_INTERP = 1, /* the threaded interpreter */
	NUB_ENGINE_JIT = 2,    /* x86-64 code compiled from the PVM program */
} nub_engine;

typedef enum nub_host_calls_mode {
	NUB_HOST_CALLS_INLINE = 0,
	NUB_HOST_CALLS_LANES = 1,
} nub_host_calls_mode;

typedef struct nub_options {
	nub_backend backend;
	/* vCPUs of the micro-VM, 1..MAX_EXECUTION_LANES; 0 = default (4).
	 * local: the default lane count derives from it (see lanes). */
	uint32_t vcpus;
	/* Sandbox memory in bytes; 0 = default (NUB_DEFAULT_MEMORY, 256 MiB).
	 * Minimum 1 MiB. kvm: the guest's RAM, which holds everything.
	 * local: one budget for everything the sandbox holds: published caps
	 * (nub_put_cap fails with NUB_E_STORE_FULL beyond it), decoded programs
	 * (charged at their exact size before decoding: NUB_E_SANDBOX_MEMORY
	 * when they do not fit) and the host pages of running invocations
	 * (each page a program writes, charged when first written: a page the
	 * budget cannot pay ends that invocation with NUB_E_SANDBOX_MEMORY).
	 * nub_heap_stats reports against it. */
	uint64_t memory_bytes;
	/* Per-call deadline in milliseconds, measured by the clock from the
	 * start of the call (decode, frame setup, run, host-call handlers and
	 * the result included); 0 = default (NUB_DEFAULT_TIMEOUT_MS, 30 s);
	 * NUB_TIMEOUT_NONE = no deadline. A nub_invoke that runs longer ends
	 * with exit_reason NUB_EXIT_ERROR, exit_arg NUB_E_TIMEOUT; the sandbox
	 * stays usable. local: the clock is read about every millisecond of run
	 * time, and about every 64 KiB of code while an Image is decoded (in
	 * nub_put_cap, which has the same deadline, or in nub_invoke after an
	 * eviction): a decode past it stops with NUB_E_TIMEOUT, nothing kept;
	 * JIT compilation is checked when it ends. kvm backend: invocations install a process-wide handler for
	 * SIGRTMIN+4 (a per-thread timer kicks the vCPU out of KVM_RUN);
	 * applications must leave that signal to libnub. Other calls than
	 * invoke get a 60 s guard with NUB_TIMEOUT_NONE. */
	uint32_t timeout_ms;
	/* Receives human-readable notices (e.g. the auto fallback). NULL: they
	 * are written to stderr as "nub: <msg>\n". */
	void (*notice)(void *ctx, const char *msg);
	void *notice_ctx;
	/* Per-invocation memory in bytes (rounded down to 4 KiB pages): the
	 * most an invocation may map, its frame (Image layout and mappings)
	 * and its sbrk heap together; 0 = default
	 * (NUB_DEFAULT_INVOCATION_MEMORY, 1 GiB); at most 4 GiB. A frame larger
	 * than this fails with NUB_E_INVOKE_MEMORY; sbrk past it returns 0, as
	 * an impossible sbrk does (GP), and the program goes on. Mapped pages
	 * cost host memory only once written (memory_bytes bounds that).
	 * Both backends (kvm: sent to the guest at boot). */
	uint64_t invocation_memory_bytes;
	/* How PVM code runs. NUB_ENGINE_DEFAULT: the JIT where it is built
	 * (x86-64) on the local backend and always in the kvm guest (an x86-64
	 * kernel; compiled code runs there in ring 3), the interpreter
	 * elsewhere. NUB_ENGINE_JIT: compiled once
	 * per Image (cached with it, charged to memory_bytes, dropped by
	 * nub_evict_jit_all); a program that cannot be compiled fails its
	 * invocation with NUB_E_JIT (never a silent fallback); asking for it
	 * where it is not built fails nub_open with NUB_E_NOT_IMPLEMENTED.
	 * NUB_ENGINE_INTERP: the interpreter. Both give identical results. */
	nub_engine engine;
	/* Execution lanes: workers that each serve one ParallelInvokeSlot
	 * (abi.h), 1..vcpus; 0 = default: vcpus - 1, at least 1 (the VM's
	 * vCPU 0 serves the mailbox; locally the calling thread plays that
	 * part). local: persistent threads, started on the first invoke, each
	 * spinning and yielding a while after a job (about 0.2 ms) and then sleeping on
	 * a futex; nub_close stops them. kvm: the VM's vCPUs 1..lanes
	 * (at most vcpus - 1; none with one vCPU), started at nub_open, each
	 * serving its slot; nub_invoke and nub_invoke_with take a free lane
	 * (else the mailbox), nub_invoke_parallel deals its packets over the free lanes; a job past
	 * its deadline is cancelled at its next gas slice (NUB_E_TIMEOUT, the
	 * lane goes on); an idle lane's vCPU halts (docs/guest.md). */
	uint32_t lanes;
	/* Where nub_invoke_with runs an invocation that has a handler (the
	 * handler itself always runs on the calling thread).
	 * NUB_HOST_CALLS_INLINE (0, the default): on the calling thread; a
	 * host call is a function call (local, JIT: tens of ns).
	 * NUB_HOST_CALLS_LANES: on a free execution lane, each host call a
	 * round trip through the lane's slot (status NUB_SLOT_HOST_WAIT,
	 * abi.h); inline when no lane is free. Same results either way. local
	 * only; kvm: ignored (there an invocation with a handler always takes
	 * a free lane, else the mailbox; see nub_invoke_with). */
	nub_host_calls_mode host_calls;
} nub_options;

/* Defaults and special values of nub_options (see each field). They keep a
 * 24 GiB, 2-core machine safe with several sandboxes open. */
#define NUB_DEFAULT_MEMORY (256ull << 20)
#define NUB_DEFAULT_TIMEOUT_MS 30000u
#define NUB_TIMEOUT_NONE 0xFFFFFFFFu
#define NUB_DEFAULT_INVOCATION_MEMORY (1ull << 30)

/* Fill *o with the defaults (backend auto, everything else 0 = default). */
NUB_API void nub_options_init(nub_options *o);

/* Open a sandbox. o may be NULL (defaults). On success *out is a new sandbox
 * that the caller frees with nub_close. Errors: NUB_E_INVALID_ARG (bad
 * option), NUB_E_BAD_BACKEND, NUB_E_KVM_UNAVAILABLE, NUB_E_GUEST_BAD_IMAGE,
 * NUB_E_GUEST_FAULT / NUB_E_GUEST_PROTOCOL (the micro-VM did not boot),
 * NUB_E_NOMEM. */
NUB_API nub_err nub_open(const nub_options *o, nub_sandbox **out);
/* Free everything the sandbox owns. NULL is ignored. */
NUB_API void nub_close(nub_sandbox *sb);
/* The backend actually in use (never AUTO). */
NUB_API nub_backend nub_sandbox_backend(const nub_sandbox *sb);
/* "auto", "local", "kvm"; NULL for an unknown value. */
NUB_API const char *nub_backend_name(nub_backend b);
/* Parse a backend name ("auto", "local", "kvm"); NUB_E_BAD_BACKEND if unknown. */
NUB_API nub_err nub_backend_parse(const char *name, nub_backend *out);

/* ---- cap builders (no sandbox needed) ------------------------------------
 * Each builder validates its input with the rules of the decoder and writes
 * one canonical encoding into a malloc'd buffer that the caller releases with
 * nub_cap_buf_free. On error the buffer is left {NULL, 0}. */

typedef struct nub_cap_buf {
	uint8_t *bytes;
	size_t len;
} nub_cap_buf;

NUB_API void nub_cap_buf_free(nub_cap_buf *b);

/* Data cap of len bytes (len < 2^32). */
NUB_API nub_err nub_cap_data(const void *bytes, size_t len, nub_cap_buf *out);

/* One entry of an Image's endpoint table: the start pc and all 13 initial
 * registers (the invoke packet's args then overlay phi7..phi10). */
typedef struct nub_endpoint {
	uint32_t pc;
	uint64_t regs[NUB_NUM_REGS];
} nub_endpoint;

/* Map an instance slot's Data at va (page-aligned, >= 0x10000) over `pages`
 * pages, read-only or writable. The Data's bytes are copied to va, the rest
 * of the region is zero; the Data must not be longer than the region (checked
 * when the Instance is published). Regions must not overlap each other (nor
 * the ro/heap/stack regions of an spi image). */
typedef struct nub_mapping {
	uint32_t va;
	uint32_t pages;
	uint8_t slot;   /* 0..63; slot 0 is the scratchpad */
	bool writable;
} nub_mapping;

typedef enum nub_layout {
	NUB_LAYOUT_BARE = NUB_CAP_LAYOUT_BARE, /* only the mappings are accessible */
	NUB_LAYOUT_SPI = NUB_CAP_LAYOUT_SPI,   /* JAM standard program memory (GP A.7) */
} nub_layout;

/* An Image description. The code is a generic program blob (deblob format,
 * conformance/pvm/FORMATS.md section 2); it is decoded when the Image is
 * published (a bad blob gives NUB_E_IMAGE_CODE then).
 * Layout BARE: ro/rw/heap_pages/stack_size must be 0/NULL; memory is exactly
 * the mappings; the sbrk heap starts at the end of the highest mapping.
 * Layout SPI: ro data at 0x10000 (read-only), rw data + heap_pages at the
 * heap base, stack_size bytes of stack below 0xFEFE0000, as GP A.7 with an
 * empty argument; mappings may be added outside those regions (e.g. slot data
 * at 0xFEFF0000 as the argument area). Mappings may be given in any order
 * (the builder sorts them by va). */
typedef struct nub_image_desc {
	nub_layout layout;
	const uint8_t *code;
	size_t code_len;
	const uint8_t *ro;
	uint32_t ro_len;
	const uint8_t *rw;
	uint32_t rw_len;
	uint32_t heap_pages;
	uint32_t stack_size;
	const nub_endpoint *endpoints; /* 1..64 entries, index = endpoint_idx */
	size_t endpoint_count;
	const nub_mapping *mappings;   /* 0..64 entries */
	size_t mapping_count;
} nub_image_desc;

NUB_API nub_err nub_cap_image(const nub_image_desc *d, nub_cap_buf *out);

/* An spi Image from a JAM standard program (FORMATS.md section 3, without the
 * metadata prefix): one endpoint per entry pc (e.g. 0 refine, 5 accumulate),
 * each with the registers of GP A.7 for an empty argument: phi0 = 0xFFFF0000,
 * phi1 = 0xFEFE0000, phi7 = 0xFEFF0000, others 0. Optional mappings as above.
 * Errors: NUB_E_IMAGE_SPI_* / NUB_E_CAP_TRUNCATED / NUB_E_CAP_TRAILING for a
 * malformed program, plus those of nub_cap_image. */
NUB_API nub_err nub_cap_image_from_spi(const uint8_t *spi, size_t spi_len, const uint32_t *entry_pcs,
                                       size_t entry_count, const nub_mapping *mappings,
                                       size_t mapping_count, nub_cap_buf *out);

typedef struct nub_slot {
	uint8_t index;                 /* 0..63, each at most once */
	uint8_t hash[NUB_CAP_HASH_LEN]; /* a Data cap's hash */
} nub_slot;

/* Instance of the Image image_hash with the given slots (any order; the
 * builder sorts them). The references are checked only at nub_put_cap. */
NUB_API nub_err nub_cap_instance(const uint8_t image_hash[NUB_CAP_HASH_LEN], const nub_slot *slots,
                                 size_t slot_count, nub_cap_buf *out);

/* CapHash of an encoding: BLAKE2b-256 of the bytes (what nub_put_cap returns). */
NUB_API void nub_cap_hash(const uint8_t *bytes, size_t len, uint8_t out[NUB_CAP_HASH_LEN]);
/* Validate an encoding alone (no references, no code decoding). */
NUB_API nub_err nub_cap_check(const uint8_t *bytes, size_t len);

/* ---- sandbox calls --------------------------------------------------------
 * (fn ids of abi.h in brackets) */

/* [PUT_CAP] Validate, hash and store one cap encoding; writes its CapHash to
 * hash_out. Publishing the same bytes again succeeds and stores nothing new.
 * An Instance is refused with NUB_E_CAP_HAS_REF when its Image or a slot's
 * Data was never published, NUB_E_CAP_REF_KIND when a hash names the wrong
 * kind, NUB_E_INSTANCE_SLOT_MISSING / NUB_E_INSTANCE_DATA_TOO_LARGE when the
 * slots do not fit the Image's mappings. An Image whose code blob does not
 * decode is refused with NUB_E_IMAGE_CODE. */
NUB_API nub_err nub_put_cap(nub_sandbox *sb, const uint8_t *bytes, size_t len,
                            uint8_t hash_out[NUB_CAP_HASH_LEN]);

/* [INVOKE_CACHED] Run endpoint p->endpoint_idx of Instance p->instance_hash
 * from its published state: a fresh memory per the Image (layout, then each
 * mapping with its slot's Data), the endpoint's pc and registers, p->args over
 * phi7..phi10, gas p->initial_gas. Runs until halt, panic, out of gas, page
 * fault or host call (a host call ends the invocation: the result says
 * NUB_EXIT_HOST_CALL with the ecalli immediate in exit_arg).
 * *r is always written. Returns NUB_E_OK when the program ran (r->exit_reason
 * 0..4), else the error, which is also in r (exit_reason NUB_EXIT_ERROR,
 * exit_arg = the code): NUB_E_UNKNOWN_INSTANCE, NUB_E_NOT_INSTANCE,
 * NUB_E_BAD_ENDPOINT, NUB_E_BAD_PACKET, NUB_E_BAD_GAS, NUB_E_TIMEOUT, ...
 * local backend: runs on a free lane (nub_options.lanes) through its slot,
 * or on the calling thread when every lane is taken; same result. */
NUB_API nub_err nub_invoke(nub_sandbox *sb, const InvokePacket *p, InvocationResult *r);

/* ---- host calls ------------------------------------------------------------
 * A program asks its environment for something with `ecalli N`. nub_invoke
 * ends the invocation there (NUB_EXIT_HOST_CALL). nub_invoke_with instead
 * calls a handler, which answers and lets the program go on.
 *
 * Order and gas: the ecalli instruction is charged (1 gas) before the
 * handler runs; call->gas is what is left. The handler may change any
 * register and the gas (setting gas, e.g. to charge for the call, is the
 * handler's business; a value above 2^63-1 ends the invocation with
 * NUB_E_BAD_GAS). On RESUME the program continues at the instruction after
 * the ecalli with the handler's registers, gas and memory writes; if the gas
 * cannot pay for that instruction the invocation ends out of gas there,
 * exactly as if the program had run out by itself. On STOP the invocation
 * ends as nub_invoke would have ended it at this ecalli (NUB_EXIT_HOST_CALL,
 * exit_arg = the call number), with the handler's registers and gas. */

typedef struct nub_host_call {
	uint32_t number;             /* the ecalli immediate */
	uint32_t _pad;
	uint64_t regs[NUB_NUM_REGS]; /* the program's registers: read and write */
	uint64_t gas;                /* gas left after the ecalli: read and write */
	void *internal_;             /* the backend's: reach memory with the accessors below */
} nub_host_call;

typedef enum nub_host_action {
	NUB_HOST_RESUME = 0, /* go on after the ecalli */
	NUB_HOST_STOP = 1,   /* end the invocation here (NUB_EXIT_HOST_CALL) */
} nub_host_action;

typedef nub_host_action (*nub_host_handler)(void *ctx, nub_host_call *call);

/* Copy len bytes from/to the invocation's memory at PVM address addr, with
 * the program's own rights: reading needs every byte's page readable,
 * writing needs it writable (a read-only page refuses), and no byte may lie
 * past 2^32. Otherwise NUB_E_HOST_MEMORY and nothing is copied. Valid only
 * inside the handler, on the call it was given. */
NUB_API nub_err nub_host_call_read(const nub_host_call *c, uint32_t addr, void *dst, size_t len);
NUB_API nub_err nub_host_call_write(nub_host_call *c, uint32_t addr, const void *src, size_t len);

/* [INVOKE_CACHED, with host calls answered] As nub_invoke, but each ecalli
 * calls handler(ctx, call) on the calling thread (rules above). handler NULL:
 * exactly nub_invoke. The per-call timeout covers the handlers' time too
 * (local: the clock is read after every host call at first, then every N
 * calls, N doubling up to 256 while calls are quick, halving when they are
 * slow). local: the handler may invoke again (any sandbox); with the JIT a
 * host call is a function call inside the run. kvm: the invocation runs on
 * a free lane (a vCPU of its own, as nub_invoke), which suspends it at each
 * ecalli and hands the call to the host through the lane's slot (no VM
 * exit while both sides are busy; one doorbell when the caller slept); the
 * memory accessors are requests the lane's own vCPU serves (8 KiB each).
 * No lock is held while the handler runs: handlers on several lanes run at
 * once, and a handler may call its own kvm sandbox (another free lane, else
 * the mailbox). With every lane taken (or a one-vCPU sandbox) the
 * invocation takes the mailbox instead: one VM exit per host call and per
 * memory request, the mailbox held until it ends — a handler there that
 * calls its own kvm sandbox and finds no free lane waits for the mailbox
 * until its timeout (NUB_E_TIMEOUT). If the VM is rebuilt while a lane's
 * handler runs (another call broke it), the invocation ends with
 * NUB_E_GUEST_FAULT and its accessors answer that too. */
NUB_API nub_err nub_invoke_with(nub_sandbox *sb, const InvokePacket *p, nub_host_handler handler, void *ctx,
                                InvocationResult *r);

/* [INVOKE_WORKER lanes] Run n independent invocations spread over the
 * sandbox's execution lanes (nub_options.vcpus); results[i] is the result of
 * packets[i], exactly as nub_invoke would give it, whatever the interleaving.
 * Returns NUB_E_OK when every invocation ran, else the error of the lowest
 * failing index (each result carries its own). local backend: the batch is
 * dealt over the sandbox's free lanes (nub_options.lanes) through their
 * slots, one job per lane at a time, and the calling thread waits (spins,
 * then sleeps); when every lane is taken by other threads, the calling
 * thread runs the batch itself. kvm backend: dealt over the free lanes
 * (the VM's vCPUs 1..lanes) the same way; with none free, the packets take
 * their turns on the mailbox, one after another. */
NUB_API nub_err nub_invoke_parallel(nub_sandbox *sb, const InvokePacket *packets, InvocationResult *results,
                                    size_t n);

/* [GET_BOOT_INFO] The guest's BootInfo. local backend: a synthetic BootInfo,
 * magic = NUB_BOOT_INFO_MAGIC, directory_va = 0 (the local cap directory is a
 * host hash table, not guest memory), directory_type_id = 0,
 * guest_va_base = 0, reserved zero. */
NUB_API nub_err nub_boot_info(nub_sandbox *sb, BootInfo *out);

/* [HEAP_STATS] Allocator figures of the sandbox's memory. local backend:
 * allocated_bytes = everything charged to memory_bytes: the cap store
 * (published caps with their page-aligned frames, and the directory), the
 * decoded programs and their compiled code, and the pages running
 * invocations hold; allocation_count = the store's live allocations;
 * fragment_count 0 (caps are never freed, so the store has no free
 * fragments); available_bytes = memory_bytes - allocated_bytes. */
NUB_API nub_err nub_heap_stats(nub_sandbox *sb, NubHeapStats *out);

/* [EVICT_JIT_ALL] Drop all compiled/decoded code (local: the decoded program
 * and its compiled code cached per Image; invocations running keep theirs
 * until they end). Published caps are kept; the next invoke decodes (and
 * compiles) again. */
NUB_API nub_err nub_evict_jit_all(nub_sandbox *sb);

#ifdef __cplusplus
}
#endif

#endif /* NUB_NUB_H */
