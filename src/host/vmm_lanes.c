/* vmm_lanes.c: the application processors that serve lanes, one host thread
 * per vCPU in KVM_RUN.
 *
 * vmm_lanes_start(vm, n) starts vCPUs 1..n at the guest's 32-bit entry with
 * EAX = NUB_GUEST_AP_MAGIC, EBX = the vCPU index (include/nub/rpc.h), each on
 * a thread of its own, and waits until every lane's worker turned its slot
 * from STARTING to EMPTY. The slot protocol itself is src/cap/lane_slot.c;
 * this file only runs the vCPUs and wakes the two sides:
 *   - an idle worker executes `hlt`: KVM_EXIT_HLT reaches its thread, which
 *     sleeps until the host posts (vmm_lane_poke) and then re-enters
 *     KVM_RUN: one exit and one host wake-up per idle period, none while
 *     jobs keep coming (the worker spins a while before it halts);
 *   - a host waiting for DONE (or HOST_WAIT: a host call, the answer to a
 *     memory request) polls the slot a while, then sets the slot's
 *     host_sleeps word and sleeps; the worker then rings
 *     NUB_DOORBELL_LANE_DONE, whose exit wakes it (vmm_lane_wait_done);
 *   - a worker waiting for the host (DONE not taken, HOST_WAIT) also halts
 *     after its spin: its thread sleeps until the host's next poke (after
 *     an answer or a memory request), not on every `hlt`.
 * A lane whose worker stops (STOP: NUB_DOORBELL_LANE_STOPPED), faults
 * (NUB_DOORBELL_FAULT) or exits in any other way is not running any more;
 * vmm_lane_restart kicks its thread out of KVM_RUN (VMM_KICK_SIGNAL), resets
 * the vCPU to the AP entry and starts it again. A restarted lane forgets
 * the job it ran: what that job held in guest memory is not given back
 * (docs/guest.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "cap/lane_slot.h"
#include "host/vmm_int.h"

/* polls of the slot before a waiter sleeps (each a pause: ~10-40 us) */
#define LANE_WAIT_SPIN 1024u
/* how long vmm_lanes_start waits for the workers to come up */
#define LANE_START_TIMEOUT_MS 60000u

typedef struct vmm_lane {
	vmm *vm;
	uint32_t lane, vcpu;
	ParallelInvokeSlot *slot;
	uint8_t *buf;        /* its host-call buffer (NUB_GUEST_LANE_BUFS_GPA) */
	pthread_t thread;
	bool thread_up;
	pthread_mutex_t mu;
	pthread_cond_t wake; /* the vCPU thread, halted idle, waits for a post */
	pthread_cond_t done; /* waiters for DONE, a stop or a death */
	bool halted, poked, quit;
	bool ended;          /* the vCPU left its loop: stopped or dead */
	bool stopped;        /* ... because its worker saw STOP */
	uint64_t exits;      /* KVM_RUN returns on this vCPU (atomic) */
} vmm_lane;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One KVM_EXIT_IO of a lane: 1 continue, 0 the lane ended (stopped set or not). */
static int lane_io(vmm_lane *l, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint64_t bytes = (uint64_t)run->io.size * run->io.count;
	if (run->io.data_offset >= l->vm->run_size || bytes > l->vm->run_size - run->io.data_offset || bytes == 0)
		return 0;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	if (run->io.port == NUB_RPC_DOORBELL_PORT && out && run->io.size == 4 && run->io.count == 1) {
		uint32_t v;
		memcpy(&v, data, 4);
		if (v == NUB_DOORBELL_LANE_DONE) {
			pthread_mutex_lock(&l->mu);
			pthread_cond_broadcast(&l->done);
			pthread_mutex_unlock(&l->mu);
			return 1;
		}
		if (v == NUB_DOORBELL_LANE_STOPPED) {
			pthread_mutex_lock(&l->mu);
			l->stopped = true;
			pthread_mutex_unlock(&l->mu);
		} else {
			vmm_debug("lane %u: doorbell %u (fault or protocol)", l->lane, v);
		}
		return 0;
	}
	if (run->io.port >= NUB_GUEST_SERIAL_PORT && run->io.port < NUB_GUEST_SERIAL_PORT + 8) {
		if (!out) /* the line status register: always ready to send */
			memset(data, run->io.port == NUB_GUEST_SERIAL_PORT + 5 ? 0x60 : 0, (size_t)bytes);
		return 1; /* an AP's console output is dropped (the mailbox vCPU's is kept) */
	}
	vmm_debug("lane %u: io port 0x%x", l->lane, run->io.port);
	return 0;
}

/* Nothing for the worker to do until the host writes the slot again. */
static bool lane_idle_status(uint32_t st)
{
	return st == NUB_SLOT_EMPTY || lane_slot_hosts_turn(st);
}

static void *lane_thread(void *arg)
{
	vmm_lane *l = arg;
	vmm *vm = l->vm;
	struct kvm_run *run = vm->run[l->vcpu];
	int fd = vm->vcpu_fd[l->vcpu];
	if (vmm_kick_prepare(run) < 0)
		goto out;
	for (;;) {
		pthread_mutex_lock(&l->mu);
		bool quit = l->quit;
		pthread_mutex_unlock(&l->mu);
		if (quit)
			break;
		if (ioctl(fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				run->immediate_exit = 0;
				continue;
			}
			vmm_debug("lane %u: KVM_RUN: %s", l->lane, strerror(errno));
			break;
		}
		__atomic_add_fetch(&l->exits, 1, __ATOMIC_RELAXED);
		if (run->exit_reason == KVM_EXIT_INTR)
			continue;
		if (run->exit_reason == KVM_EXIT_HLT) {
			/* idle, or waiting for the host (DONE not taken yet, a
			 * host call being answered): sleep until a post, an answer
			 * or a memory request (each pokes), unless one came
			 * meanwhile */
			pthread_mutex_lock(&l->mu);
			l->halted = true;
			while (!l->quit && !l->poked && lane_idle_status(lane_slot_status(l->slot)))
				pthread_cond_wait(&l->wake, &l->mu);
			l->halted = false;
			l->poked = false;
			pthread_mutex_unlock(&l->mu);
			continue;
		}
		if (run->exit_reason == KVM_EXIT_IO && lane_io(l, run))
			continue;
		if (run->exit_reason != KVM_EXIT_IO)
			vmm_debug("lane %u: exit_reason %u", l->lane, run->exit_reason);
		break;
	}
out:
	pthread_mutex_lock(&l->mu);
	l->ended = true;
	pthread_cond_broadcast(&l->done);
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static bool lane_launch(vmm_lane *l)
{
	vmm *vm = l->vm;
	l->quit = l->ended = l->stopped = l->halted = l->poked = false;
	lane_slot_init(l->slot);
	if (vmm_arch_boot_regs(vm, vm->vcpu_fd[l->vcpu], vm->img.entry, NUB_GUEST_AP_MAGIC, l->vcpu) < 0)
		return false;
	l->thread_up = pthread_create(&l->thread, NULL, lane_thread, l) == 0;
	return l->thread_up;
}

/* Make the lane's thread leave KVM_RUN and end; join it. */
static void lane_halt_thread(vmm_lane *l)
{
	if (!l->thread_up)
		return;
	pthread_mutex_lock(&l->mu);
	l->quit = true;
	pthread_cond_broadcast(&l->wake);
	bool ended = l->ended;
	pthread_mutex_unlock(&l->mu);
	struct kvm_run *run = l->vm->run[l->vcpu];
	while (!ended) {
		run->immediate_exit = 1;
		pthread_kill(l->thread, vmm_kick_signal());
		struct timespec ts = {0, 200000};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&l->mu);
		ended = l->ended;
		pthread_mutex_unlock(&l->mu);
	}
	pthread_join(l->thread, NULL);
	run->immediate_exit = 0;
	l->thread_up = false;
}

nub_err vmm_lanes_start(vmm *vm, uint32_t n)
{
	if (vm->lanes || n == 0 || n > vm->lanes_ready)
		return NUB_E_INVALID_ARG;
	vm->lanes = calloc(n, sizeof *vm->lanes);
	if (!vm->lanes)
		return NUB_E_NOMEM;
	nub_err e = NUB_E_OK;
	for (uint32_t i = 0; i < n; i++) {
		vmm_lane *l = &vm->lanes[i];
		l->vm = vm;
		l->lane = i;
		l->vcpu = i + 1;
		l->slot = vmm_gpa_to_hva(vm, NUB_GUEST_SLOTS_GPA + (uint64_t)i * NUB_PARALLEL_SLOT_STRIDE,
		                         NUB_PARALLEL_SLOT_STRIDE);
		l->buf = vmm_gpa_to_hva(vm, NUB_GUEST_LANE_BUFS_GPA + (uint64_t)i * NUB_GUEST_LANE_BUF_SIZE,
		                        NUB_GUEST_LANE_BUF_SIZE);
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_mutex_init(&l->mu, NULL);
		pthread_cond_init(&l->wake, &ca);
		pthread_cond_init(&l->done, &ca);
		pthread_condattr_destroy(&ca);
		vm->nlanes = i + 1;
		if (!l->slot || !l->buf || !lane_launch(l)) {
			e = NUB_E_KVM_UNAVAILABLE;
			break;
		}
	}
	/* every worker turns STARTING into EMPTY when it is up */
	uint64_t deadline = now_ns() + (uint64_t)LANE_START_TIMEOUT_MS * 1000000ull;
	for (uint32_t i = 0; !e && i < n; i++) {
		while (lane_slot_status(vm->lanes[i].slot) == NUB_SLOT_STARTING && !vm->lanes[i].ended &&
		       now_ns() < deadline) {
			struct timespec ts = {0, 100000};
			nanosleep(&ts, NULL);
		}
		if (lane_slot_status(vm->lanes[i].slot) != NUB_SLOT_EMPTY)
			e = vm->lanes[i].ended ? NUB_E_GUEST_FAULT : NUB_E_TIMEOUT;
	}
	if (e)
		vmm_lanes_free(vm);
	return e;
}

uint32_t vmm_lanes_ready(const vmm *vm)
{
	return vm->lanes_ready;
}

uint32_t vmm_lane_count(const vmm *vm)
{
	return vm->nlanes;
}

ParallelInvokeSlot *vmm_lane_slot(vmm *vm, uint32_t lane)
{
	return lane < vm->nlanes ? vm->lanes[lane].slot : NULL;
}

uint8_t *vmm_lane_buf(vmm *vm, uint32_t lane)
{
	return lane < vm->nlanes ? vm->lanes[lane].buf : NULL;
}

void vmm_lane_poke(vmm *vm, uint32_t lane)
{
	vmm_lane *l = &vm->lanes[lane];
	pthread_mutex_lock(&l->mu);
	l->poked = true;
	if (l->halted)
		pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->mu);
}

bool vmm_lane_wait_done(vmm *vm, uint32_t lane, uint64_t deadline_ns)
{
	vmm_lane *l = &vm->lanes[lane];
	for (uint32_t i = 0; i < LANE_WAIT_SPIN; i++) {
		if (lane_slot_hosts_turn(lane_slot_status(l->slot)))
			return true;
		lane_cpu_relax();
	}
	lane_slot_ext *x = lane_slot_ext_of(l->slot);
	__atomic_store_n(&x->host_sleeps, 1, __ATOMIC_SEQ_CST);
	struct timespec ts = {(time_t)(deadline_ns / 1000000000ull), (long)(deadline_ns % 1000000000ull)};
	pthread_mutex_lock(&l->mu);
	while (!lane_slot_hosts_turn(lane_slot_status(l->slot)) && !l->ended &&
	       (!deadline_ns || now_ns() < deadline_ns)) {
		if (deadline_ns)
			pthread_cond_timedwait(&l->done, &l->mu, &ts);
		else
			pthread_cond_wait(&l->done, &l->mu);
	}
	bool done = lane_slot_hosts_turn(lane_slot_status(l->slot));
	pthread_mutex_unlock(&l->mu);
	__atomic_store_n(&x->host_sleeps, 0, __ATOMIC_SEQ_CST);
	return done;
}

bool vmm_lane_ended(vmm *vm, uint32_t lane)
{
	vmm_lane *l = &vm->lanes[lane];
	pthread_mutex_lock(&l->mu);
	bool ended = l->ended;
	pthread_mutex_unlock(&l->mu);
	return ended;
}

nub_err vmm_lane_restart(vmm *vm, uint32_t lane)
{
	if (lane >= vm->nlanes)
		return NUB_E_INVALID_ARG;
	vmm_lane *l = &vm->lanes[lane];
	lane_halt_thread(l);
	if (!lane_launch(l))
		return NUB_E_KVM_UNAVAILABLE;
	uint64_t deadline = now_ns() + (uint64_t)LANE_START_TIMEOUT_MS * 1000000ull;
	while (lane_slot_status(l->slot) == NUB_SLOT_STARTING && !vmm_lane_ended(vm, lane) && now_ns() < deadline) {
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	return lane_slot_status(l->slot) == NUB_SLOT_EMPTY ? NUB_E_OK : NUB_E_TIMEOUT;
}

uint64_t vmm_lane_exits(const vmm *vm)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < vm->nlanes; i++)
		n += __atomic_load_n(&vm->lanes[i].exits, __ATOMIC_RELAXED);
	return n;
}

/* STOP every idle lane (a worker then rings LANE_STOPPED and halts), wait a
 * little for them, then end every thread, stopped or not. */
void vmm_lanes_free(vmm *vm)
{
	if (!vm->lanes)
		return;
	for (uint32_t i = 0; i < vm->nlanes; i++) {
		vmm_lane *l = &vm->lanes[i];
		if (l->thread_up && l->slot && lane_slot_request(l->slot, NUB_SLOT_STOP))
			vmm_lane_poke(vm, i);
	}
	uint64_t deadline = now_ns() + 100000000ull; /* 100 ms */
	for (uint32_t i = 0; i < vm->nlanes; i++) {
		vmm_lane *l = &vm->lanes[i];
		while (l->thread_up && !vmm_lane_ended(vm, i) && now_ns() < deadline) {
			struct timespec ts = {0, 100000};
			nanosleep(&ts, NULL);
		}
		lane_halt_thread(l);
		pthread_cond_destroy(&l->wake);
		pthread_cond_destroy(&l->done);
		pthread_mutex_destroy(&l->mu);
	}
	free(vm->lanes);
	vm->lanes = NULL;
	vm->nlanes = 0;
}
