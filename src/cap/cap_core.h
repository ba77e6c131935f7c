/* cap_core.h: the invocation core: PUT_CAP and INVOKE_CACHED end to end.
 *
 * Freestanding; built into libnub (the local backend) and into the guest
 * kernel, so both backends publish and invoke with the same code: decode and
 * hash, reference checks, the decoded-program cache (later the compiled
 * code), the invocation frame with published pages shared copy-on-write,
 * the run, the InvocationResult. A backend is a thin adapter: it supplies a
 * cap_store (its directory, its memory, its lock) and calls
 *
 *   cap_core_put(store, bytes, len, shared, hash)    PUT_CAP
 *   cap_core_invoke(store, packet, result)           INVOKE_CACHED, or its
 *     three steps, for an adapter that runs in slices (a deadline) or
 *     answers host calls between runs:
 *       cap_core_start(store, packet, &inv)          resolve + frame
 *       cap_core_run(&inv) ... (any number of times) the run
 *       cap_core_finish(&inv, exit, err, result)     result + release
 *   cap_core_evict(store)                            EVICT_JIT_ALL
 *   cap_core_entry_free(store, entry)                at teardown
 *
 * Limits. A decoded program is charged to the store (ops->charge) before it
 * is decoded, at its exact size computed from the blob, and released when
 * its last reference goes; a running invocation charges every host page it
 * takes (written pages, page-table leaves) as it takes it, and may map at
 * most store->invocation_pages pages: a frame larger than that fails with
 * NUB_E_INVOKE_MEMORY, sbrk past it returns 0 (an impossible sbrk), a page
 * the budget refuses ends the invocation with NUB_E_SANDBOX_MEMORY.
 *
 * Published caps (cap_entry) are immutable and live until the store is torn
 * down; so are their frames. An invocation holds a reference on the decoded
 * program it runs, so EVICT_JIT_ALL never frees a program in use.
 *
 * Frames. A cap's memory contents (a Data cap's bytes; an spi Image's ro
 * data, then its rw data) are kept in zero-padded, 4 KiB-aligned pages: a
 * Data cap's bytes (a page or more) are stored page-aligned inside its own
 * entry (no second copy), an spi Image's ro/rw data are copied once into
 * frames at PUT_CAP. Data below a page has no frames and is copied in.
 * An invocation maps these pages read-only into its fresh memory
 * (pvm_mem_share) and copies a page only on its first write, so invoking
 * costs no copy of published data and never changes it. Mappings never
 * overlap each other or the spi regions (the cap decoder checks it), and
 * Data never exceeds its mapping (cap_instance_check_refs), so every page
 * that holds published bytes is one frame.
 */
#ifndef NUB_CAP_CORE_H
#define NUB_CAP_CORE_H

#include "cap/cap.h"
#include "pvm/pvm.h"

/* A decoded program, shared by the cache and the invocations running it. */
typedef struct cap_prog {
	pvm_program *program;
	void *code;     /* its compiled code (the store's engine), or NULL */
	size_t charged; /* bytes charged to the store for it */
	uint32_t refs;  /* the cache's + one per running invocation (store lock) */
} cap_prog;

/* One published cap. */
typedef struct cap_entry {
	uint8_t hash[NUB_CAP_HASH_LEN];
	cap_view view;         /* decoded; points into bytes */
	cap_prog *prog;        /* Image: the cached decoded program, or NULL (store lock) */
	const uint8_t *frames; /* published frames, or NULL (see above) */
	uint8_t *frames_alloc; /* frames copied apart (spi Image), or NULL */
	uint32_t frame_pages;  /* pages at frames */
	uint32_t ro_pages;     /* spi Image: frames of ro data, then rw data */
	uint32_t len;          /* of the encoding */
	size_t size;           /* of this entry's allocation */
	uint8_t *bytes;        /* the encoding, inside this entry's allocation */
} cap_entry;

typedef struct cap_store cap_store;

/* A compiling engine (the JIT), given by the backend; a store without one
 * interprets. The code is compiled once per decoded program, right after
 * decoding, cached and dropped with it (EVICT_JIT_ALL), and charged to the
 * store at its size. run has pvm_run's contract (the instance may be
 * resumed on either engine); vm is the per-thread state the backend gives
 * each invocation (cap_invocation.vm). */
typedef struct cap_engine_ops {
	/* NUB_E_OK and *code, *bytes; else a named error (no fallback) */
	nub_err (*compile)(const pvm_program *p, void **code, size_t *bytes);
	void (*free)(void *code);
	pvm_exit (*run)(void *vm, const void *code, pvm_instance *m);
} cap_engine_ops;

/* What a backend gives the core. get/insert/foreach run with the lock held;
 * alloc/free may be called with or without it. lock/unlock may be NULL (a
 * single-threaded backend: the guest kernel today). */
typedef struct cap_store_ops {
	/* the published entry with this hash, or NULL */
	cap_entry *(*get)(cap_store *s, const uint8_t hash[NUB_CAP_HASH_LEN]);
	/* publish e (its hash is absent); may refuse (e.g. NUB_E_STORE_FULL) */
	nub_err (*insert)(cap_store *s, cap_entry *e);
	void (*foreach)(cap_store *s, void (*fn)(cap_entry *e, void *ctx), void *ctx);
	/* zero-filled memory, `align` a power of two up to 4096; NULL with *err
	 * set (NUB_E_NOMEM, NUB_E_STORE_FULL for a budget) when refused */
	void *(*alloc)(cap_store *s, size_t size, size_t align, nub_err *err);
	void (*free)(cap_store *s, void *p, size_t size);
	void (*lock)(cap_store *s);
	void (*unlock)(cap_store *s);
	/* Accounting of memory the core takes outside alloc (decoded programs;
	 * the pages of running invocations), lock held: charge refuses with
	 * NUB_E_SANDBOX_MEMORY when the backend's budget has no room; release
	 * gives bytes back. Both NULL: not counted (the guest: its heap is the
	 * bound). */
	nub_err (*charge)(cap_store *s, size_t bytes);
	void (*release)(cap_store *s, size_t bytes);
	/* The calling thread's call is past its deadline (asked while decoding
	 * or compiling a program, without the lock): the core gives up with
	 * NUB_E_TIMEOUT, nothing kept. NULL: no deadline. */
	bool (*expired)(cap_store *s);
} cap_store_ops;

struct cap_store {
	const cap_store_ops *ops;
	const cap_engine_ops *engine; /* NULL: the interpreter */
	size_t cached_programs; /* Images whose decoded program is cached (lock) */
	/* Most pages an invocation may map (frame and sbrk); 0 = no limit
	 * beyond the 2^20 of the address space. Set before any invocation. */
	uint32_t invocation_pages;
};

/* PUT_CAP: validate, hash, check references, decode an Image's program,
 * build frames, publish. `shared`: src may change while we read it (guest
 * shared memory): it is copied first and only the copy is decoded and
 * hashed. Publishing the same bytes again is OK and costs nothing more. */
nub_err cap_core_put(cap_store *s, const uint8_t *src, size_t len, bool shared, uint8_t hash_out[NUB_CAP_HASH_LEN]);

/* One invocation between cap_core_start and cap_core_finish. */
typedef struct cap_invocation {
	cap_store *store;
	const cap_entry *image;
	cap_prog *prog;
	pvm_instance *m; /* the machine: registers, pc, gas, memory */
	void *vm;        /* the engine's per-thread state (set by the backend before cap_core_run) */
} cap_invocation;

/* Resolve the packet's Instance, Image and slot Data, take the program
 * (decoding it again after an eviction), build the frame: memory, endpoint
 * registers with the packet's args over phi7..phi10, pc, gas = initial_gas.
 * On error nothing is held and r is not touched (the caller passes the
 * error to cap_core_finish or cap_core_fail). */
nub_err cap_core_start(cap_store *s, const InvokePacket *p, cap_invocation *inv);
/* The InvocationResult of a run that ended with x (e == NUB_E_OK), or the
 * error result of e (a failure after start, e.g. a deadline); releases the
 * invocation. Returns the error written into r, or NUB_E_OK. */
nub_err cap_core_finish(cap_invocation *inv, pvm_exit x, nub_err e, InvocationResult *r);
/* Run the invocation to its next exit on the store's engine (pvm_run
 * without one); may be called again after PVM_EXIT_HOST or an out-of-gas
 * slice, like pvm_run. */
pvm_exit cap_core_run(cap_invocation *inv);
/* Gas slices: while a sliced run goes on, the instance holds one slice of
 * the invocation's gas and `reserve` the rest. Embed it in the caller's
 * context (the callback gets it back). */
typedef struct cap_slicer {
	int64_t size;    /* the largest slice; between() may change it */
	int64_t reserve; /* the gas not in the instance: read and set by a host
	                    call answered inside the run (the whole gas is
	                    instance + reserve) */
	/* After a slice ran out (before the next): true stops the run with
	 * NUB_E_TIMEOUT. NULL: never stops. */
	bool (*between)(struct cap_slicer *sl);
} cap_slicer;
/* cap_core_run in gas slices of at most sl->size, asking sl->between after
 * each one that ran out: the same exit, pc, registers and gas as one
 * cap_core_run (a slice that runs out stops before the unpaid instruction,
 * which the next slice runs), or NUB_E_TIMEOUT when between answered true
 * (the instance keeps the gas it has left). sl->reserve is 0 afterwards. */
nub_err cap_core_run_sliced(cap_invocation *inv, cap_slicer *sl, pvm_exit *out);
/* Start, run to the first exit, finish. */
nub_err cap_core_invoke(cap_store *s, const InvokePacket *p, InvocationResult *r);
/* Write the error result (exit_reason NUB_EXIT_ERROR, exit_arg e); returns e. */
nub_err cap_core_fail(InvocationResult *r, nub_err e);

/* A host call's checked access to the invocation's memory, with the
 * program's own rights: reading needs every page of [addr, addr+len)
 * readable, writing needs them writable, nothing past 2^32; otherwise
 * NUB_E_HOST_MEMORY and nothing is copied. A write copies shared pages
 * first (published frames stay unchanged). */
nub_err cap_core_mem_read(const pvm_instance *m, uint32_t addr, void *dst, size_t len);
nub_err cap_core_mem_write(pvm_instance *m, uint32_t addr, const void *src, size_t len);
/* Their check alone, nothing copied: NUB_E_OK when every page of
 * [addr, addr+len) is readable (write: writable), else NUB_E_HOST_MEMORY. */
nub_err cap_core_mem_check(const pvm_instance *m, uint32_t addr, size_t len, bool write);

/* Host calls over a mailbox (abi.h: INVOKE_HOST, HOST_CALL; the kvm
 * guest's adapter): an invocation suspended at an ecalli between requests.
 * One cap_host_susp holds at most one (zero-initialised: none).
 *   cap_core_host_start   INVOKE_HOST: end a suspended one (freed), start
 *                         p, run to its first exit: CALL (suspended) or
 *                         DONE (finished; *out holds the result; the
 *                         return value is INVOKE_CACHED's)
 *   cap_core_host_op      HOST_CALL: op with data_len bytes after it; READ
 *                         writes op->len bytes to resp, ANSWER a
 *                         NubHostStep (the next step), WRITE / CHECK /
 *                         ABORT nothing; *resp_len set. NUB_E_INVALID_ARG
 *                         (nothing done) with nothing suspended, an unknown
 *                         op, a length that does not fit; the accessors'
 *                         NUB_E_HOST_MEMORY; else as the step.
 *   cap_core_host_abandon end a suspended one (its memory released).
 * Not locked: the adapter serialises its requests. */
typedef struct cap_host_susp {
	bool active;
	cap_invocation inv;
} cap_host_susp;
nub_err cap_core_host_start(cap_store *s, cap_host_susp *h, const InvokePacket *p, NubHostStep *out);
nub_err cap_core_host_op(cap_host_susp *h, const NubHostOp *op, const uint8_t *data, uint32_t data_len, uint8_t *resp,
                         uint32_t resp_cap, uint32_t *resp_len);
void cap_core_host_abandon(cap_host_susp *h);

/* EVICT_JIT_ALL: drop every cached program (running invocations keep theirs
 * until they finish). */
void cap_core_evict(cap_store *s);
/* Free a published entry and what it owns (store teardown: nothing runs). */
void cap_core_entry_free(cap_store *s, cap_entry *e);

#endif
