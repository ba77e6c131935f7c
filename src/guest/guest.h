/* guest.h: the guest kernel's internal interfaces (one prefix: guest_).
 *
 * Boot order (guest_main.c): guest_log_init, guest_cpu_init (GDT, TSS,
 * IDT), guest_paging_init, guest_heap_init, guest_capdir_init, guest_rpc_init (registers the
 * handlers), then either serve the host (kvm), run the self test, or run
 * one probe (QEMU command line). Interrupts off, no preemption. Under the
 * kvm host the application processors serve lanes (guest_smp.c): state every
 * CPU touches (heap, cap store) takes a spinlock; per-CPU state (GDT, TSS,
 * the window, the fault catch) hangs off the GS base (guest_cpu).
 */
#ifndef NUB_GUEST_H
#define NUB_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nub/abi.h"
#include "nub/rpc.h"

/* ---- libc subset (guest_string.c) ---------------------------------------- */
void *memcpy(void *restrict d, const void *restrict s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* ---- console (guest_log.c): COM1, formatted with a tiny printf ------------
 * Formats: %s %c %d %u %x %% with optional 'l'/'ll' and zero-pad width
 * (e.g. %016llx). */
void guest_log_init(void);
/* kvm host: write the UART without polling its status (fewer VM exits). */
void guest_log_set_unpolled(void);
void guest_log_putc(char c);
void guest_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Format into buf (always NUL-terminated); returns the length written. */
size_t guest_snprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Leave QEMU through isa-debug-exit (a kvm host sees a port exit), then halt. */
__attribute__((noreturn)) void guest_exit(uint32_t code);
/* Assertion failure: report like a fault (vector 0xFFFFFFFF) and exit. */
__attribute__((noreturn)) void guest_panic(const char *file, int line, const char *what);
#define GUEST_ASSERT(c) ((c) ? (void)0 : guest_panic(__FILE__, __LINE__, #c))

/* ---- CPU (guest_cpu_x86_64.c) -------------------------------------------- */
void guest_cpu_init(void);

/* ---- paging (guest_paging.c): guard page below the boot stack, NX, and the
 * PVM address spaces behind src/pvm/pvm_platform.h (window at
 * NUB_GUEST_VA_BASE: PVM address a is virtual NUB_GUEST_VA_BASE + a) ------- */
void guest_paging_init(void);
/* An AP's share of guest_paging_init (EFER.NXE as on the BSP). */
void guest_paging_ap_init(void);
/* A PML4 for another CPU: the BSP's entries, no window (NULL: no memory). */
uint64_t *guest_paging_pml4_new(void);
struct guest_trap_frame;
/* From guest_trap: a #PF on a data access in the active window while a
 * pvm_plat_catch is armed. Returns true when handled (copy-on-write fill:
 * retry; otherwise the frame now resumes at the catch point). */
bool guest_paging_window_fault(struct guest_trap_frame *f, uint64_t cr2);
/* The leaf entry of PVM page a in the active address space (0: none). */
uint64_t guest_paging_window_pte(uint32_t a);
/* True when every present entry of the active window is NX and only the
 * 4 GiB window is mapped. */
bool guest_paging_window_all_nx(void);
/* Window faults that ended a run, and copy-on-write fills, since boot. */
void guest_paging_stats(uint64_t *faults_caught, uint64_t *cow_fills);

/* ---- the JIT's platform (guest_jit.c): compiled PVM code in ring 3 ---------
 * guest_jit_init after guest_heap_init: code region, context and stack
 * pages, SYSCALL/SYSRET, CPU 0's jit_vm; the JIT stays unavailable (SET_ENGINE
 * refuses it) when any of it fails. */
void guest_jit_init(void);
bool guest_jit_available(void);
struct guest_cpu;
/* An application processor's JIT state, made by the BSP before the AP
 * starts (c->pml4 set): its own context and ring-3 stack pages below the
 * window (its PML4[0] becomes a PDPT of its own for them), the code region,
 * its jit_vm. False: no memory. Nothing to do without the JIT. */
bool guest_jit_cpu_prepare(struct guest_cpu *c);
/* On the AP itself: SMEP and the SYSCALL/SYSRET MSRs, as on the BSP. */
void guest_jit_cpu_init(void);
struct guest_trap_frame;
/* From guest_trap: a #PF in ring 3 while compiled code runs. True when
 * handled (copy-on-write fill: retry; or the frame now resumes at the
 * compiled code's exit with the run's exit reason). */
bool guest_jit_trap(struct guest_trap_frame *f, uint64_t cr2);
typedef struct guest_jit_stats {
	uint64_t entries;      /* ring-3 entries (pvm_plat_jit_call) */
	uint64_t exits;        /* faults in compiled code that ended its run */
	uint64_t cow_fills;    /* faults in compiled code that copied a shared page */
	uint64_t region_bytes; /* code + read-only data mapped for compiled code */
} guest_jit_stats;
void guest_jit_get_stats(guest_jit_stats *out);
struct cap_engine_ops;
extern const struct cap_engine_ops guest_jit_engine;

/* ---- traps (guest_trap.c) ------------------------------------------------- */
typedef struct guest_trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code, rip, cs, rflags, rsp, ss;
} guest_trap_frame;
/* Handles a PVM window fault and returns (the stub irets), or reports the
 * exception and never returns. */
void guest_trap(guest_trap_frame *f);
/* After the report: leave QEMU (true) or halt for good (false: kvm host). */
extern bool guest_exit_on_fault;
/* Asked first about every trap; true: handled, return to the frame (NULL in
 * the production kernel; the test kernel counts single-step traps with it,
 * tests/guest/guest_measure.c). It must not rely on GS: a #DB can arrive on
 * the first instruction after SYSCALL, before swapgs. */
extern bool (*guest_trap_hook)(struct guest_trap_frame *f);

/* ---- spinlock: for state every vCPU touches (heap, cap store) ---------------
 * Test-and-test-and-set with a pause; never held across a PVM run or a wait. */
typedef struct guest_spinlock {
	uint32_t locked;
} guest_spinlock;

static inline void guest_spin_lock(guest_spinlock *l)
{
	while (__atomic_exchange_n(&l->locked, 1u, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static inline void guest_spin_unlock(guest_spinlock *l)
{
	__atomic_store_n(&l->locked, 0u, __ATOMIC_RELEASE);
}

/* ---- heap (guest_heap.c) ----------------------------------------------------
 * First-fit allocator over [base, base+size) with an address-ordered free
 * list and coalescing. Allocations are zero-filled and `align`-aligned
 * (a power of two, 16..4096). NULL when exhausted. */
void guest_heap_init(uintptr_t base, size_t size);
void *guest_heap_alloc(size_t size, size_t align);
void guest_heap_free(void *p);
void guest_heap_stats(NubHeapStats *out);

/* ---- cap directory (guest_capdir.c): layout in nub/rpc.h ------------------ */
void guest_capdir_init(void);
uint64_t guest_capdir_va(void);
NubCapDirEntry *guest_capdir_get(const uint8_t hash[NUB_CAP_HASH_LEN]);
/* Insert (the hash must be absent). NUB_E_STORE_FULL when the table is. */
nub_err guest_capdir_insert(const uint8_t hash[NUB_CAP_HASH_LEN], const uint8_t *bytes, uint32_t len,
                            uint8_t kind, NubCapDirEntry **out);
/* Visit every FULL entry (for EVICT_JIT_ALL). */
void guest_capdir_foreach(void (*fn)(NubCapDirEntry *e, void *ctx), void *ctx);

/* ---- RPC dispatch (guest_dispatch.c) ----------------------------------------
 * A handler reads req[0..req_len) and writes at most resp_cap bytes to resp,
 * setting *resp_len; it returns the status (nub_err). Registration refuses
 * an fn_id outside [0, NUB_FN_ID_SUBSTRATE_END), ids 0 and 1 (reserved),
 * and duplicates: it returns NUB_E_INVALID_ARG then. */
typedef nub_err (*guest_rpc_fn)(const uint8_t *req, uint32_t req_len, uint8_t *resp, uint32_t resp_cap,
                                uint32_t *resp_len);
/* Returned by a handler that wrote the mailbox header itself (garbage probe). */
#define GUEST_RPC_RAW_REPLY ((nub_err)0x7FFFFFFF)
nub_err guest_rpc_register(uint32_t fn_id, guest_rpc_fn fn);
/* Serve the request now in the mailbox: validate, dispatch, write the reply
 * header. Does not ring the doorbell. */
void guest_rpc_serve_one(NubRpcMailbox *mb);
/* Called with each request's fn_id before it is dispatched (NULL: none;
 * guest_handlers_register sets it: a request other than HOST_CALL ends a
 * suspended host-call invocation). */
extern void (*guest_rpc_on_request)(uint32_t fn_id);
/* The fn_id being served (for fault reports), ~0 when idle. */
extern volatile uint64_t guest_rpc_current_fn;
NubRpcMailbox *guest_mailbox(void);
/* Register every handler of the specification's fn ids (guest_handlers.c). */
void guest_handlers_register(void);

/* ---- kernel flavour: src/guest/guest_flavour_prod.c in the production
 * kernel (embedded in libnub), tests/guest/guest_flavour_test.c in the test
 * kernel. The production kernel serves the specification's fn ids only. */
/* Register the flavour's extra fn ids (the test kernel: probes 100..106). */
void guest_flavour_register(void);
/* Booted by a Multiboot loader (QEMU -kernel): run the mode the command
 * line names; module = the first Multiboot module ([0, 0) when none). */
__attribute__((noreturn)) void guest_flavour_multiboot(const char *cmdline, uint64_t mod_start, uint64_t mod_end);

/* ---- invocation (guest_invoke.c): the invocation core over the directory */
struct cap_store;
nub_err guest_invoke(const InvokePacket *p, InvocationResult *r);
nub_err guest_put_cap(const uint8_t *bytes, uint32_t len, uint8_t hash_out[NUB_CAP_HASH_LEN]);
void guest_evict_jit_all(void);
/* NUB_FN_ID_SET_ENGINE: the engine of every later invocation (NULL: the
 * interpreter); a change evicts every cached program first, so no program
 * keeps code of the other engine. Between invocations only (the mailbox
 * CPU; lanes must be idle). */
void guest_set_engine(const struct cap_engine_ops *engine);
/* Host calls over the mailbox (abi.h, fn ids 9 and 10): INVOKE_HOST starts
 * an invocation and runs it to its first ecalli (CALL: suspended) or its
 * end (DONE); HOST_CALL's op (data: the bytes after the op) reads, writes,
 * checks the suspended invocation's memory, answers (the next step into
 * resp) or aborts it. guest_host_abandon ends a suspended invocation (any
 * request other than HOST_CALL does, guest_dispatch.c). */
nub_err guest_invoke_host(const InvokePacket *p, NubHostStep *out);
nub_err guest_host_op(const NubHostOp *op, const uint8_t *data, uint32_t data_len, uint8_t *resp, uint32_t resp_cap,
                      uint32_t *resp_len);
void guest_host_abandon(void);

/* ---- lanes (guest_lane.c): INVOKE_WORKER ----------------------------------
 * The handler of NUB_FN_ID_INVOKE_WORKER: payload LE u32 lane (<
 * MAX_EXECUTION_LANES, else NUB_E_INVALID_ARG); serves
 * ParallelInvokeSlot[lane] at NUB_GUEST_SLOTS_GPA with the protocol of
 * src/cap/lane_slot.c until the host stores STOP, then replies OK (empty).
 * guest_lane_idle_hook: called by an idle worker after its spin (NULL: keep
 * spinning); the test kernel sets it to play the host on one CPU. */
nub_err guest_invoke_worker(const uint8_t *req, uint32_t len, uint8_t *resp, uint32_t cap, uint32_t *out);
/* Serve lane `lane` until STOP (true) or a status word with no protocol
 * value (false); halt_when_idle: `hlt` after the spin (an AP under kvm). */
bool guest_lane_serve(uint32_t lane, bool halt_when_idle);
/* ---- application processors (guest_smp.c) ----------------------------------
 * Prepare per-CPU state for vCPUs 1..vcpus-1 (before READY); returns how
 * many were prepared (fewer when the heap ran out). */
uint32_t guest_smp_prepare(uint32_t vcpus);
/* QEMU Multiboot: prepare and start APs 1..vcpus-1 by INIT/SIPI, one at a
 * time, each serving lane i - 1 (spinning when idle); returns how many came
 * up (their slots read EMPTY). */
uint32_t guest_smp_start_sipi(uint32_t vcpus);
struct nub_parallel_invoke_slot;
extern void (*guest_lane_idle_hook)(struct nub_parallel_invoke_slot *s, uint32_t seen);
/* The core's store (tests read its counters and entries). */
struct cap_store *guest_cap_store(void);

/* ---- boot info (guest_main.c) ---------------------------------------------- */
extern BootInfo guest_boot_info;

#endif
