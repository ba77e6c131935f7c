/* kvm_backend.c: the `kvm` backend: the backend ops mapped onto vmm RPCs,
 * with reply checks per fn_id and rebuild-on-failure (kvm_backend.h). */
#include <cpuid.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "cap/cap.h"
#include "cap/lane_slot.h"
#include "host/kvm_backend.h"
#include "host/vmm_int.h" /* vmm_debug */

/* A /dev/kvm without VMX or SVM in CPUID is a paravirtual KVM (kvm-pvm runs
 * guests in ring 3 with shadow paging and needs a PVM-aware guest kernel):
 * our kernel's software interrupts, triple faults and page-table switches
 * do not behave there as on hardware virtualization (measured: `int $0x80`
 * stops the vCPU, invocations run 10^4 times slower and time out). Refuse
 * it by name rather than give results that differ from `local`. */
#define CPUID_1_ECX_VMX (1u << 5)        /* Intel SDM vol. 2A, CPUID leaf 1 */
#define CPUID_80000001_ECX_SVM (1u << 2) /* AMD APM vol. 3, CPUID Fn8000_0001 */
static bool host_has_hw_virt(void)
{
	unsigned a, b, c, d;
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & CPUID_1_ECX_VMX))
		return true;
	return __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & CPUID_80000001_ECX_SVM);
}

nub_err kvm_backend_probe(void)
{
	const uint8_t *elf;
	size_t len;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NUB_E_KVM_UNAVAILABLE;
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (v != 12)
		return NUB_E_KVM_UNAVAILABLE;
	if (!host_has_hw_virt())
		return NUB_E_KVM_NO_HW_VIRT;
	vmm_guest_image(&elf, &len);
	return len ? NUB_E_OK : NUB_E_NOT_IMPLEMENTED;
}

/* ---- the published set: cap_set items own a malloc'd copy of the encoding - */
static void *set_alloc(void *ctx, size_t size, nub_err *err)
{
	(void)ctx;
	void *p = calloc(1, size);
	if (!p)
		*err = NUB_E_NOMEM;
	return p;
}

static void set_free(void *ctx, void *p, size_t size)
{
	(void)ctx;
	(void)size;
	free(p);
}

static nub_err set_add(kvm_backend *kb, const uint8_t h[NUB_CAP_HASH_LEN], const uint8_t *bytes, size_t len)
{
	uint8_t *copy = malloc(len);
	if (!copy)
		return NUB_E_NOMEM;
	memcpy(copy, bytes, len);
	nub_err e = cap_set_add(&kb->published, h, copy, len, NULL, NULL);
	if (e)
		free(copy);
	return e;
}

/* ---- calls with rebuild ----------------------------------------------------- */
/* PUT_CAP of one encoding; the reply must be the hash the host computed. */
static nub_err put_one(vmm *vm, const uint8_t *bytes, size_t len, const uint8_t want[NUB_CAP_HASH_LEN])
{
	uint8_t got[NUB_CAP_HASH_LEN];
	uint32_t n;
	nub_err e = vmm_call(vm, NUB_FN_ID_PUT_CAP, bytes, (uint32_t)len, got, sizeof got, &n);
	if (e == NUB_E_OK && (n != NUB_CAP_HASH_LEN || memcmp(got, want, NUB_CAP_HASH_LEN) != 0))
		return NUB_E_GUEST_PROTOCOL;
	if (e != NUB_E_OK && n != 0)
		return NUB_E_GUEST_PROTOCOL;
	return e;
}

/* SET_ENGINE on a freshly booted VM (before any cap): the guest boots with
 * its interpreter; an empty OK reply is the only good answer. */
static nub_err set_engine(vmm *vm, uint32_t engine)
{
	uint8_t resp[8];
	uint32_t n;
	nub_err e = vmm_call(vm, NUB_FN_ID_SET_ENGINE, &engine, sizeof engine, resp, sizeof resp, &n);
	if (n != 0)
		return NUB_E_GUEST_PROTOCOL;
	return e;
}

/* A published cap that could not be replayed into a rebuilt VM: the host
 * forgets it (a later nub_put_cap of it sends it again) and counts it. */
#define KVM_CAP_LOST ((void *)1)
#define KVM_REBUILD_TRIES 3

/* Start the wanted lanes on a VM that serves (after SET_ENGINE: the engine
 * is chosen while no lane runs); without them invocations take the mailbox. */
static void start_lanes(kvm_backend *kb, vmm *vm)
{
	uint32_t n = kb->lanes < vmm_lanes_ready(vm) ? kb->lanes : vmm_lanes_ready(vm);
	kb->lanes_err = n ? vmm_lanes_start(vm, n) : NUB_E_OK;
	if (kb->lanes_err)
		vmm_debug("lanes did not start (%s): invocations take the mailbox", nub_err_name(kb->lanes_err));
}

static void rebuild_locked(kvm_backend *kb);

/* Close the broken VM, boot a new one, replay the published caps. A cap the
 * new guest refuses (or that breaks it) is marked lost and skipped: the
 * other caps come back (at most KVM_REBUILD_TRIES boots per rebuild; the
 * sandbox is dead only when no VM boots at all). Running lane jobs finish
 * first (vm_rw). */
static void rebuild(kvm_backend *kb)
{
	pthread_rwlock_wrlock(&kb->vm_rw);
	rebuild_locked(kb);
	pthread_rwlock_unlock(&kb->vm_rw);
}

static void rebuild_locked(kvm_backend *kb)
{
	if (kb->vm) {
		kb->last_stop = vmm_last_stop(kb->vm);
		kb->last_fault = *vmm_fault(kb->vm);
		vmm_close(kb->vm);
		kb->vm = NULL;
	}
	kb->rebuilds++;
	for (unsigned tries = 0; tries < KVM_REBUILD_TRIES; tries++) {
		vmm *vm;
		if (vmm_open(&kb->cfg, &vm) != NUB_E_OK)
			return; /* dead */
		if (set_engine(vm, kb->engine) != NUB_E_OK) {
			vmm_close(vm);
			continue;
		}
		size_t i = 0;
		for (; i < kb->published.count; i++) {
			cap_set_item *c = cap_set_at(&kb->published, i);
			if (c->aux == KVM_CAP_LOST)
				continue;
			if (put_one(vm, c->bytes, c->len, c->hash) != NUB_E_OK) {
				c->aux = KVM_CAP_LOST;
				kb->lost_caps++;
				if (vmm_broken(vm))
					break; /* boot again without it */
			}
		}
		if (i == kb->published.count) {
			start_lanes(kb, vm);
			kb->vm = vm;
			return;
		}
		vmm_close(vm);
	}
}

/* After a call: a broken VM (or a reply that failed a per-fn check,
 * `protocol`) is replaced. Returns the error to report. */
static nub_err after_call(kvm_backend *kb, nub_err e, bool protocol)
{
	if (protocol)
		e = NUB_E_GUEST_PROTOCOL;
	if (kb->vm && (protocol || vmm_broken(kb->vm)))
		rebuild(kb);
	return e;
}

static nub_err call_locked(kvm_backend *kb, uint32_t fn, const void *req, uint32_t len, void *resp, uint32_t cap,
                           uint32_t *n)
{
	*n = 0;
	if (!kb->vm)
		return NUB_E_GUEST_DEAD;
	return vmm_call(kb->vm, fn, req, len, resp, cap, n);
}

/* ---- the sandbox lock ------------------------------------------------------- */
/* The VM has one mailbox, so calls take turns; a call waits for its turn at
 * most its own deadline (the sandbox's timeout, or the guard timeout when
 * there is none) and then fails with NUB_E_TIMEOUT, so one endless call
 * cannot hold every other caller forever. */
static nub_err lock_bounded(kvm_backend *kb)
{
	uint32_t ms = kb->cfg.timeout_ms ? kb->cfg.timeout_ms : VMM_GUARD_TIMEOUT_MS;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000u);
	ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_mutex_timedlock(&kb->lock, &ts) == 0 ? NUB_E_OK : NUB_E_TIMEOUT;
}

/* ---- the ops ------------------------------------------------------------------ */
static nub_err kvm_put_cap(void *impl, const uint8_t *bytes, size_t len, uint8_t hash_out[NUB_CAP_HASH_LEN])
{
	kvm_backend *kb = impl;
	if (len > NUB_RPC_REQ_CAP)
		return NUB_E_RPC_LENGTH;
	uint8_t h[NUB_CAP_HASH_LEN];
	cap_hash(bytes, len, h);
	nub_err e = lock_bounded(kb);
	if (e)
		return e;
	cap_set_item *known = cap_set_find(&kb->published, h);
	if (known && known->aux != KVM_CAP_LOST) {
		e = NUB_E_OK;
	} else if (!kb->vm) {
		e = NUB_E_GUEST_DEAD;
	} else {
		e = put_one(kb->vm, bytes, len, h);
		bool protocol = e == NUB_E_GUEST_PROTOCOL && !vmm_broken(kb->vm);
		e = after_call(kb, e, protocol);
		if (e == NUB_E_OK && known) { /* a lost cap, published again: keep these bytes */
			if (known->len == len)
				memcpy((void *)(uintptr_t)known->bytes, bytes, len);
			known->aux = NULL;
		}
		else if (e == NUB_E_OK)
			e = set_add(kb, h, bytes, len);
	}
	pthread_mutex_unlock(&kb->lock);
	if (e == NUB_E_OK)
		memcpy(hash_out, h, NUB_CAP_HASH_LEN);
	return e;
}

static nub_err fail_result(InvocationResult *r, nub_err e)
{
	memset(r, 0, sizeof *r);
	r->exit_reason = NUB_EXIT_ERROR;
	r->exit_arg = (uint32_t)e;
	return e;
}

bool kvm_result_plausible(const InvokePacket *p, nub_err e, uint32_t n, const InvocationResult *r)
{
	if (n != sizeof *r)
		return false;
	if (e != NUB_E_OK) /* an error result names the error, nothing else */
		return r->exit_reason == NUB_EXIT_ERROR && r->exit_arg == (uint32_t)e && !r->return_value &&
		       !r->gas_remaining;
	if (r->exit_reason > NUB_EXIT_HOST_CALL || r->gas_remaining > p->initial_gas)
		return false;
	if (r->exit_reason == NUB_EXIT_PAGE_FAULT ? (r->exit_arg & (NUB_PAGE_SIZE - 1)) != 0
	                                          : r->exit_reason != NUB_EXIT_HOST_CALL && r->exit_arg != 0)
		return false;
	if (r->exit_reason == NUB_EXIT_OUT_OF_GAS && r->gas_remaining != 0)
		return false;
	if (r->exit_reason != NUB_EXIT_HALT) /* the scratchpad head is only sent at HALT */
		for (unsigned i = 0; i < SCRATCHPAD_HEAD_LEN; i++)
			if (r->scratchpad_head[i])
				return false;
	return true;
}

static nub_err invoke_locked(kvm_backend *kb, const InvokePacket *p, InvocationResult *r)
{
	InvocationResult got;
	uint32_t n;
	nub_err e = call_locked(kb, NUB_FN_ID_INVOKE_CACHED, p, sizeof *p, &got, sizeof got, &n);
	if (!kb->vm || vmm_broken(kb->vm))
		return fail_result(r, after_call(kb, e, false));
	if (!kvm_result_plausible(p, e, n, &got))
		return fail_result(r, after_call(kb, e, true));
	*r = got;
	return e;
}

static nub_err kvm_invoke_mailbox(kvm_backend *kb, const InvokePacket *p, InvocationResult *r)
{
	nub_err e = lock_bounded(kb);
	if (e)
		return fail_result(r, e);
	e = invoke_locked(kb, p, r);
	pthread_mutex_unlock(&kb->lock);
	return e;
}

/* ---- lanes -------------------------------------------------------------------- */
/* How long a cancelled lane job may take to answer before its lane is
 * restarted (a decode or a compile is not sliced). */
#define KVM_LANE_CANCEL_GRACE_MS 2000u

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A free lane of the current VM, taken (vm_rw read side held), or -1. */
static int claim_lane(kvm_backend *kb)
{
	if (!kb->vm)
		return -1;
	uint32_t n = vmm_lane_count(kb->vm);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t free_ = 0;
		if (__atomic_compare_exchange_n(&kb->lane_busy[i], &free_, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return (int)i;
	}
	return -1;
}

static void release_lane(kvm_backend *kb, int lane)
{
	__atomic_store_n(&kb->lane_busy[lane], 0, __ATOMIC_RELEASE);
}

static void lane_restart(kvm_backend *kb, uint32_t lane)
{
	__atomic_add_fetch(&kb->lane_restarts, 1, __ATOMIC_RELAXED);
	if (vmm_lane_restart(kb->vm, lane) != NUB_E_OK)
		vmm_debug("lane %u did not come back", lane);
}

/* Post p on the taken lane (host: a job whose ecallis the host answers);
 * job id in *job. */
static nub_err lane_post_job(kvm_backend *kb, uint32_t lane, const InvokePacket *p, bool host, uint64_t *job)
{
	*job = __atomic_add_fetch(&kb->job_seq, 1, __ATOMIC_RELAXED);
	ParallelInvokeSlot *s = vmm_lane_slot(kb->vm, lane);
	/* a lane between jobs is EMPTY with its vCPU running: anything else
	 * (its worker ended, the slot was scribbled on) gets a fresh lane */
	if (vmm_lane_ended(kb->vm, lane) || lane_slot_status(s) != NUB_SLOT_EMPTY)
		lane_restart(kb, lane);
	if (!(host ? lane_slot_post_host(s, *job, p) : lane_slot_post(s, *job, p)))
		return NUB_E_GUEST_PROTOCOL;
	vmm_lane_poke(kb->vm, lane);
	return NUB_E_OK;
}

static nub_err lane_post(kvm_backend *kb, uint32_t lane, const InvokePacket *p, uint64_t *job)
{
	return lane_post_job(kb, lane, p, false, job);
}

/* The job's deadline passed (or the lane ended): cancel it and give the
 * worker KVM_LANE_CANCEL_GRACE_MS to end it (its memory freed in the
 * guest). A host call the worker reports meanwhile (or the one the caller
 * has not answered yet) is answered STOP: with the cancel word set the
 * worker ends the job with NUB_E_TIMEOUT instead of going on. A worker that
 * does not end it in time, or a lane that ended, is restarted. */
static nub_err lane_cancel(kvm_backend *kb, uint32_t lane, uint64_t job, InvocationResult *r)
{
	ParallelInvokeSlot *s = vmm_lane_slot(kb->vm, lane);
	InvocationResult got;
	if (vmm_lane_ended(kb->vm, lane)) {
		lane_restart(kb, lane);
		return fail_result(r, NUB_E_GUEST_FAULT);
	}
	__atomic_store_n(&lane_slot_ext_of(s)->cancel, 1, __ATOMIC_SEQ_CST);
	uint64_t grace = now_ns() + KVM_LANE_CANCEL_GRACE_MS * 1000000ull;
	while (now_ns() < grace && vmm_lane_wait_done(kb->vm, lane, grace)) {
		lane_take t = lane_slot_take(s, job, &got);
		if (t == LANE_TAKE_DONE)
			return fail_result(r, NUB_E_TIMEOUT);
		if (t != LANE_TAKE_HOST_CALL || !lane_slot_answer(s, NUB_SLOT_HOST_STOP))
			break;
		vmm_lane_poke(kb->vm, lane);
	}
	lane_restart(kb, lane);
	return fail_result(r, NUB_E_TIMEOUT);
}

static nub_err lane_result(kvm_backend *kb, uint32_t lane, const InvokePacket *p, const InvocationResult *res,
                           InvocationResult *r);

/* Collect the job posted on lane by its deadline (ns, 0 = none). */
static nub_err lane_collect(kvm_backend *kb, uint32_t lane, const InvokePacket *p, uint64_t job, uint64_t deadline,
                            InvocationResult *r)
{
	ParallelInvokeSlot *s = vmm_lane_slot(kb->vm, lane);
	InvocationResult got;
	if (!vmm_lane_wait_done(kb->vm, lane, deadline))
		return lane_cancel(kb, lane, job, r);
	if (lane_slot_take(s, job, &got) != LANE_TAKE_DONE) {
		lane_restart(kb, lane);
		return fail_result(r, NUB_E_GUEST_PROTOCOL);
	}
	return lane_result(kb, lane, p, &got, r);
}

/* Check a lane job's DONE result (restarting the lane when it fails). */
static nub_err lane_result(kvm_backend *kb, uint32_t lane, const InvokePacket *p, const InvocationResult *res,
                           InvocationResult *r)
{
	InvocationResult got = *res;
	nub_err e = got.exit_reason == NUB_EXIT_ERROR ? (nub_err)got.exit_arg : NUB_E_OK;
	if (e != NUB_E_OK && (got.exit_arg >= NUB_E_MAX_ || e == NUB_E_OK))
		e = NUB_E_GUEST_PROTOCOL;
	if (!kvm_result_plausible(p, e, sizeof got, &got)) {
		lane_restart(kb, lane);
		return fail_result(r, NUB_E_GUEST_PROTOCOL);
	}
	*r = got;
	return e;
}

static uint64_t call_deadline(const kvm_backend *kb)
{
	return kb->cfg.timeout_ms ? now_ns() + (uint64_t)kb->cfg.timeout_ms * 1000000ull : 0;
}

static nub_err kvm_invoke(void *impl, const InvokePacket *p, InvocationResult *r)
{
	kvm_backend *kb = impl;
	if (kb->lanes) {
		uint64_t deadline = call_deadline(kb);
		pthread_rwlock_rdlock(&kb->vm_rw);
		int lane = claim_lane(kb);
		if (lane >= 0) {
			uint64_t job;
			nub_err e = lane_post(kb, (uint32_t)lane, p, &job);
			e = e ? fail_result(r, e) : lane_collect(kb, (uint32_t)lane, p, job, deadline, r);
			release_lane(kb, lane);
			pthread_rwlock_unlock(&kb->vm_rw);
			return e;
		}
		pthread_rwlock_unlock(&kb->vm_rw);
	}
	return kvm_invoke_mailbox(kb, p, r);
}

/* Deal the packets over the free lanes (each lane: post, collect, post the
 * next); results in packet order. Without a free lane, one after another on
 * the mailbox. */
static nub_err kvm_invoke_parallel(void *impl, const InvokePacket *p, InvocationResult *r, size_t n)
{
	kvm_backend *kb = impl;
	nub_err first = NUB_E_OK;
	size_t next = 0;
	if (kb->lanes && n) {
		pthread_rwlock_rdlock(&kb->vm_rw);
		int taken[MAX_EXECUTION_LANES];
		size_t job_of[MAX_EXECUTION_LANES];
		uint64_t id[MAX_EXECUTION_LANES], deadline[MAX_EXECUTION_LANES];
		uint32_t nt = 0;
		for (int l; nt < MAX_EXECUTION_LANES && nt < n && (l = claim_lane(kb)) >= 0;)
			taken[nt++] = l;
		uint32_t running = 0;
		bool busy[MAX_EXECUTION_LANES] = {false};
		while (next < n || running) {
			for (uint32_t i = 0; i < nt; i++) { /* fill idle lanes */
				if (busy[i] || next >= n)
					continue;
				deadline[i] = call_deadline(kb);
				job_of[i] = next++;
				nub_err e = lane_post(kb, (uint32_t)taken[i], &p[job_of[i]], &id[i]);
				if (e) {
					fail_result(&r[job_of[i]], e);
					if (!first)
						first = e;
					continue;
				}
				busy[i] = true;
				running++;
			}
			if (!running)
				break;
			/* collect the lane whose job is DONE, else wait on the oldest */
			uint32_t pick = nt;
			for (uint32_t i = 0; i < nt && pick == nt; i++)
				if (busy[i] && lane_slot_status(vmm_lane_slot(kb->vm, (uint32_t)taken[i])) == NUB_SLOT_DONE)
					pick = i;
			for (uint32_t i = 0; i < nt && pick == nt; i++)
				if (busy[i] && (pick == nt || job_of[i] < job_of[pick]))
					pick = i;
			nub_err e = lane_collect(kb, (uint32_t)taken[pick], &p[job_of[pick]], id[pick], deadline[pick],
			                         &r[job_of[pick]]);
			if (e && !first)
				first = e;
			busy[pick] = false;
			running--;
		}
		for (uint32_t i = 0; i < nt; i++)
			release_lane(kb, taken[i]);
		pthread_rwlock_unlock(&kb->vm_rw);
	}
	for (; next < n; next++) {
		nub_err e = kvm_invoke_mailbox(kb, &p[next], &r[next]);
		if (e && !first)
			first = e;
	}
	return first;
}

/* ---- host calls (nub_invoke_with): INVOKE_HOST + HOST_CALL (abi.h) --------
 * The guest suspends the invocation at each ecalli and replies CALL; the
 * handler runs here, on the calling thread, with the sandbox lock held; its
 * memory accesses are HOST_CALL READ / WRITE / CHECK requests (one VM exit
 * each: see docs/guest.md for the choice); its answer goes back as
 * HOST_CALL ANSWER, whose reply is the next step. One deadline (the
 * sandbox's timeout) covers the whole invocation, handlers included: each
 * guest step runs with what is left of it; past it between steps the
 * suspended invocation is aborted (its guest memory freed). */
typedef struct kvm_host_mem {
	nub_host_mem mem; /* first: nub_host_call.internal_ points here */
	kvm_backend *kb;
	bool protocol; /* a reply to a memory request failed its checks */
} kvm_host_mem;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One HOST_CALL request: op, then data_len bytes (lock held). */
static nub_err host_op(kvm_backend *kb, const NubHostOp *op, const void *data, uint32_t data_len, void *resp,
                       uint32_t cap, uint32_t *n)
{
	uint8_t small[sizeof *op + 4096];
	uint32_t len = (uint32_t)sizeof *op + data_len;
	uint8_t *req = len <= sizeof small ? small : malloc(len);
	if (!req)
		return NUB_E_NOMEM;
	memcpy(req, op, sizeof *op);
	if (data_len)
		memcpy(req + sizeof *op, data, data_len);
	nub_err e = call_locked(kb, NUB_FN_ID_HOST_CALL, req, len, resp, cap, n);
	if (req != small)
		free(req);
	if (e != NUB_E_OK && (!kb->vm || vmm_broken(kb->vm)))
		kb->host_fail = e; /* why the VM broke, for the invocation's result */
	return e;
}

/* The whole range first when it takes several requests, so that a refused
 * access copies nothing. */
static nub_err host_check(kvm_host_mem *hm, uint32_t addr, size_t len, bool write)
{
	NubHostOp op = {.op = NUB_HOST_OP_CHECK, .action = write, .addr = addr, .len = (uint32_t)len};
	uint32_t n;
	nub_err e = host_op(hm->kb, &op, NULL, 0, NULL, 0, &n);
	if (e == NUB_E_OK && n != 0)
		hm->protocol = true;
	return e;
}

static nub_err kvm_host_read(const nub_host_mem *h, uint32_t addr, void *dst, size_t len)
{
	kvm_host_mem *hm = (kvm_host_mem *)(uintptr_t)h;
	if (len > (1ull << 32) - addr)
		return NUB_E_HOST_MEMORY;
	if (!len)
		return NUB_E_OK; /* as the local backend: an empty access is fine */
	nub_err e = len > NUB_RPC_RESP_CAP ? host_check(hm, addr, len, false) : NUB_E_OK;
	for (size_t off = 0; !e && off < len;) {
		uint32_t chunk = len - off < NUB_RPC_RESP_CAP ? (uint32_t)(len - off) : NUB_RPC_RESP_CAP, n;
		NubHostOp op = {.op = NUB_HOST_OP_READ, .addr = addr + (uint32_t)off, .len = chunk};
		e = host_op(hm->kb, &op, NULL, 0, (uint8_t *)dst + off, chunk, &n);
		if ((e == NUB_E_OK && n != chunk) || (e != NUB_E_OK && n != 0))
			hm->protocol = true;
		off += chunk;
	}
	return hm->protocol ? NUB_E_GUEST_PROTOCOL : e;
}

static nub_err kvm_host_write(const nub_host_mem *h, uint32_t addr, const void *src, size_t len)
{
	kvm_host_mem *hm = (kvm_host_mem *)(uintptr_t)h;
	const uint32_t max = NUB_RPC_REQ_CAP - (uint32_t)sizeof(NubHostOp);
	if (len > (1ull << 32) - addr)
		return NUB_E_HOST_MEMORY;
	if (!len)
		return NUB_E_OK;
	nub_err e = len > max ? host_check(hm, addr, len, true) : NUB_E_OK;
	for (size_t off = 0; !e && off < len;) {
		uint32_t chunk = len - off < max ? (uint32_t)(len - off) : max, n;
		NubHostOp op = {.op = NUB_HOST_OP_WRITE, .addr = addr + (uint32_t)off, .len = chunk};
		e = host_op(hm->kb, &op, (const uint8_t *)src + off, chunk, NULL, 0, &n);
		if (n != 0)
			hm->protocol = true;
		off += chunk;
	}
	return hm->protocol ? NUB_E_GUEST_PROTOCOL : e;
}

/* The checks a NubHostStep reply must pass. gas_max: the most gas the
 * invocation may hold (its initial gas, or more that a handler gave). */
static bool step_plausible(const InvokePacket *p, nub_err e, uint32_t n, const NubHostStep *st)
{
	if (n != sizeof *st)
		return false;
	if (st->state == NUB_HOST_STEP_CALL) {
		static const InvocationResult zero;
		return e == NUB_E_OK && st->gas <= p->initial_gas && !memcmp(&st->result, &zero, sizeof zero);
	}
	return st->state == NUB_HOST_STEP_DONE && kvm_result_plausible(p, e, sizeof st->result, &st->result);
}

/* Run the next guest step with what is left of the deadline (0: none). */
static void step_timeout(kvm_backend *kb, uint64_t deadline)
{
	if (kb->vm && deadline) {
		uint64_t now = mono_ms();
		vmm_set_timeout(kb->vm, now < deadline ? (uint32_t)(deadline - now) : 1);
	}
}

static nub_err kvm_invoke_with_mailbox(kvm_backend *kb, const InvokePacket *p, nub_host_handler handler, void *ctx,
                                       InvocationResult *r)
{
	uint64_t deadline = kb->cfg.timeout_ms ? mono_ms() + kb->cfg.timeout_ms : 0;
	nub_err e = lock_bounded(kb);
	if (e)
		return fail_result(r, e);
	InvokePacket pk = *p; /* initial_gas: the most the invocation may hold */
	kvm_host_mem hm = {{kvm_host_read, kvm_host_write}, kb, false};
	NubHostStep st;
	uint32_t n;
	step_timeout(kb, deadline);
	e = call_locked(kb, NUB_FN_ID_INVOKE_HOST, p, sizeof *p, &st, sizeof st, &n);
	for (;;) {
		if (!kb->vm || vmm_broken(kb->vm)) {
			e = fail_result(r, after_call(kb, e, false));
			break;
		}
		if (hm.protocol || !step_plausible(&pk, e, n, &st)) {
			e = fail_result(r, after_call(kb, e, true));
			break;
		}
		if (st.state == NUB_HOST_STEP_DONE) {
			*r = st.result;
			__atomic_add_fetch(&kb->host_calls_done, 1, __ATOMIC_RELAXED);
			break;
		}
		nub_host_call c = {.number = st.number, .gas = st.gas, .internal_ = &hm};
		memcpy(c.regs, st.regs, sizeof c.regs);
		kb->host_fail = NUB_E_OK;
		nub_host_action act = handler(ctx, &c);
		__atomic_add_fetch(&kb->host_calls, 1, __ATOMIC_RELAXED);
		if (!kb->vm || vmm_broken(kb->vm) || hm.protocol) {
			/* a memory request broke it: reported above */
			e = kb->host_fail ? kb->host_fail : NUB_E_GUEST_DEAD;
			continue;
		}
		NubHostOp op = {.op = NUB_HOST_OP_ANSWER, .gas = c.gas,
		                .action = act == NUB_HOST_RESUME ? NUB_HOST_ACTION_RESUME : NUB_HOST_ACTION_STOP};
		memcpy(op.regs, c.regs, sizeof op.regs);
		if (c.gas > pk.initial_gas && c.gas <= (uint64_t)INT64_MAX)
			pk.initial_gas = c.gas;
		if (deadline && mono_ms() >= deadline) {
			/* the handlers used the time up: end it in the guest (its
			 * memory freed), under the guard timeout */
			NubHostOp ab = {.op = NUB_HOST_OP_ABORT};
			vmm_set_timeout(kb->vm, VMM_GUARD_TIMEOUT_MS);
			e = host_op(kb, &ab, NULL, 0, NULL, 0, &n);
			(void)after_call(kb, e, e == NUB_E_OK && n != 0);
			e = fail_result(r, NUB_E_TIMEOUT);
			break;
		}
		step_timeout(kb, deadline);
		e = host_op(kb, &op, NULL, 0, &st, sizeof st, &n);
	}
	if (kb->vm)
		vmm_set_timeout(kb->vm, kb->cfg.timeout_ms);
	pthread_mutex_unlock(&kb->lock);
	return e;
}

/* ---- host calls on a lane (nub_invoke_with with a free lane) ---------------
 * The job is posted with lane_slot_post_host; the lane's worker suspends it
 * at each ecalli (HOST_WAIT) and the handler runs here, on the calling
 * thread, without the mailbox lock and without vm_rw: a handler may use the
 * sandbox itself (another lane, or the mailbox), and a rebuild may happen
 * meanwhile (the job then ends with NUB_E_GUEST_FAULT: the VM that ran it
 * is gone, and with it everything the job held). Its memory accesses are
 * HOST_MEM requests that the lane's own vCPU serves (lane_slot.h; no VM
 * exit while that vCPU waits spinning), through the lane's buffer, in
 * chunks of NUB_SLOT_MEM_MAX (the whole range checked first, so a refused
 * access copies nothing). One deadline covers the job, handlers included:
 * past it, the job is cancelled (lane_cancel: the worker frees it; a lane
 * that does not answer within the grace is restarted). */
typedef struct kvm_lane_mem {
	nub_host_mem mem; /* first: nub_host_call.internal_ points here */
	kvm_backend *kb;
	uint32_t lane;
	unsigned gen;   /* kb->rebuilds when the job was posted: its VM */
	nub_err broken; /* a memory request the worker did not answer: why */
} kvm_lane_mem;

/* vm_rw read side, on the job's own VM (else unlocked and an error). */
static nub_err lane_mem_lock(kvm_lane_mem *hm)
{
	kvm_backend *kb = hm->kb;
	pthread_rwlock_rdlock(&kb->vm_rw);
	if (kb->vm && kb->rebuilds == hm->gen && !hm->broken)
		return NUB_E_OK;
	nub_err e = hm->broken ? hm->broken : NUB_E_GUEST_FAULT;
	pthread_rwlock_unlock(&kb->vm_rw);
	return e;
}

/* One HOST_MEM request (vm_rw held): src's len bytes into the buffer
 * first (WRITE), the answer's bytes to dst (READ). */
static nub_err lane_mem_op(kvm_lane_mem *hm, uint32_t op, uint32_t addr, uint32_t len, void *dst, const void *src)
{
	vmm *vm = hm->kb->vm;
	ParallelInvokeSlot *s = vmm_lane_slot(vm, hm->lane);
	uint8_t *buf = vmm_lane_buf(vm, hm->lane);
	nub_err e = NUB_E_GUEST_PROTOCOL;
	if (src)
		memcpy(buf, src, len);
	if (lane_slot_mem_request(s, op, addr, len)) {
		vmm_lane_poke(vm, hm->lane);
		if (!vmm_lane_wait_done(vm, hm->lane, now_ns() + KVM_LANE_CANCEL_GRACE_MS * 1000000ull))
			e = vmm_lane_ended(vm, hm->lane) ? NUB_E_GUEST_FAULT : NUB_E_TIMEOUT;
		else if (lane_slot_mem_result(s, &e) == LANE_MEM_DONE) {
			if (e == NUB_E_OK && dst)
				memcpy(dst, buf, len);
			return e;
		} else {
			e = NUB_E_GUEST_PROTOCOL;
		}
	}
	hm->broken = e;
	return e;
}

static nub_err lane_mem_access(kvm_lane_mem *hm, bool write, uint32_t addr, uint8_t *dst, const uint8_t *src,
                               size_t len)
{
	if (len > (1ull << 32) - addr)
		return NUB_E_HOST_MEMORY;
	if (!len)
		return NUB_E_OK; /* as the local backend: an empty access is fine */
	nub_err e = lane_mem_lock(hm);
	if (e)
		return e;
	if (len > NUB_SLOT_MEM_MAX) /* len < 2^32 here unless addr is 0, which no program maps */
		e = lane_mem_op(hm, write ? NUB_SLOT_MEM_CHECK_WRITE : NUB_SLOT_MEM_CHECK_READ, addr,
		                len > UINT32_MAX ? UINT32_MAX : (uint32_t)len, NULL, NULL);
	for (size_t off = 0; !e && off < len;) {
		uint32_t chunk = len - off < NUB_SLOT_MEM_MAX ? (uint32_t)(len - off) : NUB_SLOT_MEM_MAX;
		e = lane_mem_op(hm, write ? NUB_SLOT_MEM_WRITE : NUB_SLOT_MEM_READ, addr + (uint32_t)off,
		                chunk, write ? NULL : dst + off, write ? src + off : NULL);
		off += chunk;
	}
	pthread_rwlock_unlock(&hm->kb->vm_rw);
	return e;
}

static nub_err kvm_lane_read(const nub_host_mem *h, uint32_t addr, void *dst, size_t len)
{
	return lane_mem_access((kvm_lane_mem *)(uintptr_t)h, false, addr, dst, NULL, len);
}

static nub_err kvm_lane_write(const nub_host_mem *h, uint32_t addr, const void *src, size_t len)
{
	return lane_mem_access((kvm_lane_mem *)(uintptr_t)h, true, addr, NULL, src, len);
}

/* Run p with handler on the taken lane (vm_rw read side held on entry and
 * on return; released while the handler runs). */
static nub_err lane_run_with(kvm_backend *kb, uint32_t lane, const InvokePacket *p, nub_host_handler handler,
                             void *ctx, uint64_t deadline, InvocationResult *r)
{
	uint64_t job;
	nub_err e = lane_post_job(kb, lane, p, true, &job);
	if (e)
		return fail_result(r, e);
	__atomic_add_fetch(&kb->lane_host_jobs, 1, __ATOMIC_RELAXED);
	InvokePacket pk = *p; /* initial_gas: the most the invocation may hold */
	kvm_lane_mem hm = {{kvm_lane_read, kvm_lane_write}, kb, lane, kb->rebuilds, NUB_E_OK};
	for (;;) {
		ParallelInvokeSlot *s = vmm_lane_slot(kb->vm, lane);
		InvocationResult got;
		if (!vmm_lane_wait_done(kb->vm, lane, deadline))
			return lane_cancel(kb, lane, job, r);
		lane_take t = lane_slot_take(s, job, &got);
		if (t == LANE_TAKE_DONE) {
			e = lane_result(kb, lane, &pk, &got, r);
			__atomic_add_fetch(&kb->host_calls_done, 1, __ATOMIC_RELAXED);
			return e;
		}
		NubSlotHostCall hc;
		if (t == LANE_TAKE_HOST_CALL)
			memcpy(&hc, &s->host_call, sizeof hc); /* our copy: what we check is what we use */
		if (t != LANE_TAKE_HOST_CALL || hc.gas > pk.initial_gas) {
			lane_restart(kb, lane);
			return fail_result(r, NUB_E_GUEST_PROTOCOL);
		}
		nub_host_call c = {.number = hc.number, .gas = hc.gas, .internal_ = &hm};
		memcpy(c.regs, hc.regs, sizeof c.regs);
		pthread_rwlock_unlock(&kb->vm_rw);
		nub_host_action act = handler(ctx, &c);
		__atomic_add_fetch(&kb->host_calls, 1, __ATOMIC_RELAXED);
		pthread_rwlock_rdlock(&kb->vm_rw);
		if (!kb->vm || kb->rebuilds != hm.gen) /* the VM it ran on was replaced */
			return fail_result(r, kb->vm ? NUB_E_GUEST_FAULT : NUB_E_GUEST_DEAD);
		if (hm.broken) { /* a memory request was not answered: the worker is lost */
			lane_restart(kb, lane);
			return fail_result(r, hm.broken);
		}
		memcpy(s->host_call.regs, c.regs, sizeof c.regs);
		s->host_call.gas = c.gas;
		if (c.gas > pk.initial_gas && c.gas <= (uint64_t)INT64_MAX)
			pk.initial_gas = c.gas;
		if (deadline && now_ns() >= deadline) /* the handlers used the time up */
			return lane_cancel(kb, lane, job, r);
		if (!lane_slot_answer(s, act == NUB_HOST_RESUME ? NUB_SLOT_HOST_RESUME : NUB_SLOT_HOST_STOP)) {
			lane_restart(kb, lane);
			return fail_result(r, NUB_E_GUEST_PROTOCOL);
		}
		vmm_lane_poke(kb->vm, lane);
	}
}

/* A free lane when there is one (the handler runs on the calling thread,
 * the job on the lane: several at once), else the mailbox (one at a time,
 * the mailbox lock held while the handler runs). */
static nub_err kvm_invoke_with(void *impl, const InvokePacket *p, nub_host_handler handler, void *ctx,
                               InvocationResult *r)
{
	kvm_backend *kb = impl;
	if (!handler)
		return kvm_invoke(impl, p, r);
	if (kb->lanes) {
		uint64_t deadline = call_deadline(kb);
		pthread_rwlock_rdlock(&kb->vm_rw);
		int lane = claim_lane(kb);
		if (lane >= 0) {
			nub_err e = lane_run_with(kb, (uint32_t)lane, p, handler, ctx, deadline, r);
			release_lane(kb, lane);
			pthread_rwlock_unlock(&kb->vm_rw);
			return e;
		}
		pthread_rwlock_unlock(&kb->vm_rw);
	}
	return kvm_invoke_with_mailbox(kb, p, handler, ctx, r);
}

/* A fixed-size reply of `want` bytes (status OK) or an empty one (error),
 * received apart and copied to out only when whole: a short or failed reply
 * leaves the caller's struct untouched. */
static nub_err fixed_call(kvm_backend *kb, uint32_t fn, void *out, uint32_t want)
{
	uint8_t buf[sizeof(BootInfo) > sizeof(NubHeapStats) ? sizeof(BootInfo) : sizeof(NubHeapStats)];
	if (want > sizeof buf)
		return NUB_E_INVALID_ARG;
	nub_err e = lock_bounded(kb);
	if (e)
		return e;
	uint32_t n;
	e = call_locked(kb, fn, NULL, 0, buf, want, &n);
	bool protocol = kb->vm && !vmm_broken(kb->vm) && ((e == NUB_E_OK && n != want) || (e != NUB_E_OK && n != 0));
	if (kb->vm)
		e = after_call(kb, e, protocol);
	pthread_mutex_unlock(&kb->lock);
	if (e == NUB_E_OK && want)
		memcpy(out, buf, want);
	return e;
}

static nub_err kvm_boot_info(void *impl, BootInfo *out)
{
	nub_err e = fixed_call(impl, NUB_FN_ID_GET_BOOT_INFO, out, sizeof *out);
	if (e == NUB_E_OK && out->magic != NUB_BOOT_INFO_MAGIC)
		e = NUB_E_GUEST_PROTOCOL;
	return e;
}

static nub_err kvm_heap_stats(void *impl, NubHeapStats *out)
{
	return fixed_call(impl, NUB_FN_ID_HEAP_STATS, out, sizeof *out);
}

static nub_err kvm_evict_jit_all(void *impl)
{
	return fixed_call(impl, NUB_FN_ID_EVICT_JIT_ALL, NULL, 0);
}

static void kvm_close(void *impl)
{
	kvm_backend *kb = impl;
	vmm_close(kb->vm);
	for (size_t i = 0; i < kb->published.count; i++)
		free((void *)(uintptr_t)cap_set_at(&kb->published, i)->bytes);
	cap_set_free(&kb->published);
	pthread_mutex_destroy(&kb->lock);
	pthread_rwlock_destroy(&kb->vm_rw);
	free(kb);
}

/* vCPU 0's exits are counted under the mailbox lock, the lanes' atomically;
 * the locks in the rebuild's order (mailbox, then vm_rw). */
static uint64_t kvm_vm_exits(void *impl)
{
	kvm_backend *kb = impl;
	pthread_mutex_lock(&kb->lock);
	pthread_rwlock_rdlock(&kb->vm_rw);
	uint64_t n = kb->vm ? vmm_exit_count(kb->vm) + vmm_lane_exits(kb->vm) : 0;
	pthread_rwlock_unlock(&kb->vm_rw);
	pthread_mutex_unlock(&kb->lock);
	return n;
}

static const nub_backend_ops kvm_ops = {
	.put_cap = kvm_put_cap,
	.invoke = kvm_invoke,
	.invoke_with = kvm_invoke_with,
	.invoke_parallel = kvm_invoke_parallel,
	.boot_info = kvm_boot_info,
	.heap_stats = kvm_heap_stats,
	.evict_jit_all = kvm_evict_jit_all,
	.close = kvm_close,
	.vm_exits = kvm_vm_exits,
};

nub_err kvm_backend_open_image(const nub_resolved_options *o, const uint8_t *elf, size_t elf_len, void **impl,
                               const nub_backend_ops **ops)
{
	kvm_backend *kb = calloc(1, sizeof *kb);
	if (!kb)
		return NUB_E_NOMEM;
	/* the guest is x86-64: its JIT is the default, as on the local backend */
	kb->engine = o->engine == NUB_ENGINE_INTERP ? NUB_SET_ENGINE_INTERP : NUB_SET_ENGINE_JIT;
	kb->cfg.ram_bytes = o->memory_bytes;
	kb->cfg.vcpus = o->vcpus;
	kb->cfg.invocation_pages = o->invocation_pages;
	kb->cfg.timeout_ms = o->timeout_ms == NUB_TIMEOUT_NONE ? 0 : o->timeout_ms;
	kb->cfg.elf = elf;
	kb->cfg.elf_len = elf_len;
	uint64_t seed[2];
	cap_set_seed(seed, kb);
	nub_err e = cap_set_init(&kb->published, seed, set_alloc, set_free, NULL);
	if (!e && (e = vmm_open(&kb->cfg, &kb->vm)))
		cap_set_free(&kb->published);
	else if (!e && (e = set_engine(kb->vm, kb->engine))) {
		vmm_close(kb->vm);
		cap_set_free(&kb->published);
	}
	if (e) {
		free(kb);
		return e;
	}
	kb->lanes = o->vcpus > 1 ? (o->lanes < o->vcpus ? o->lanes : o->vcpus - 1) : 0;
	start_lanes(kb, kb->vm);
	pthread_mutex_init(&kb->lock, NULL);
	pthread_rwlock_init(&kb->vm_rw, NULL);
	*impl = kb;
	*ops = &kvm_ops;
	return NUB_E_OK;
}

static nub_err kvm_open(const nub_resolved_options *o, void **impl, const nub_backend_ops **ops)
{
	return kvm_backend_open_image(o, NULL, 0, impl, ops);
}

const nub_backend_def kvm_backend_def = {
	.id = NUB_BACKEND_KVM,
	.probe = kvm_backend_probe,
	.open = kvm_open,
};

nub_err kvm_backend_call(kvm_backend *kb, uint32_t fn_id, const void *req, uint32_t req_len, void *resp,
                         uint32_t resp_cap, uint32_t *resp_len)
{
	*resp_len = 0;
	nub_err e = lock_bounded(kb);
	if (e)
		return e;
	e = call_locked(kb, fn_id, req, req_len, resp, resp_cap, resp_len);
	if (kb->vm)
		e = after_call(kb, e, false);
	pthread_mutex_unlock(&kb->lock);
	return e;
}
