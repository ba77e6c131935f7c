/* test_lane_slot.c: the ParallelInvokeSlot protocol (src/cap/lane_slot.c)
 * on its own: host-side checks, and a real worker thread with a fake
 * invocation (r.return_value = args[0] * 3 + job's args[1]) serving posts,
 * evictions and STOP. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "cap/lane_slot.h"
#include "test.h"

typedef struct {
	atomic_uint evicts;
	atomic_uint idles;
} fake_lane;

static void fake_invoke(void *ctx, const InvokePacket *p, InvocationResult *r)
{
	(void)ctx;
	r->exit_reason = NUB_EXIT_HALT;
	r->return_value = p->args[0] * 3 + p->args[1];
	r->gas_remaining = p->initial_gas;
}

static void fake_evict(void *ctx)
{
	atomic_fetch_add(&((fake_lane *)ctx)->evicts, 1);
}

static void fake_idle(void *ctx, ParallelInvokeSlot *s, uint32_t seen)
{
	(void)s;
	(void)seen;
	atomic_fetch_add(&((fake_lane *)ctx)->idles, 1);
	sched_yield();
}

static const lane_worker_ops fake_ops = {.invoke = fake_invoke, .evict = fake_evict, .idle = fake_idle};

typedef struct {
	ParallelInvokeSlot *slot;
	fake_lane *lane;
	uint64_t served;
	lane_worker_end end;
} worker_arg;

static void *worker_main(void *p)
{
	worker_arg *w = p;
	w->end = lane_worker_run(w->slot, &fake_ops, w->lane, 64, &w->served);
	return NULL;
}

static ParallelInvokeSlot slot_a, slot_b;

TEST(host_side_checks)
{
	ParallelInvokeSlot *s = &slot_a;
	InvokePacket p = {.initial_gas = 7};
	InvocationResult r;
	lane_slot_init(s);
	ASSERT_EQ(lane_slot_status(s), NUB_SLOT_STARTING);
	ASSERT_TRUE(!lane_slot_post(s, 1, &p));                 /* not EMPTY yet */
	ASSERT_TRUE(!lane_slot_request(s, NUB_SLOT_STOP));
	lane_slot_set(s, NUB_SLOT_EMPTY);
	ASSERT_TRUE(!lane_slot_request(s, NUB_SLOT_READY));     /* not a request */
	ASSERT_EQ(lane_slot_take(s, 1, &r), LANE_TAKE_PROTOCOL); /* nothing posted */
	ASSERT_TRUE(lane_slot_post(s, 42, &p));
	ASSERT_EQ(lane_slot_status(s), NUB_SLOT_READY);
	ASSERT_EQ(s->job_id, 42);
	ASSERT_TRUE(!lane_slot_post(s, 43, &p));                /* busy */
	ASSERT_EQ(lane_slot_take(s, 42, &r), LANE_TAKE_PENDING);
	/* a DONE that echoes another job is refused and left alone */
	s->job_id = 41;
	lane_slot_set(s, NUB_SLOT_DONE);
	ASSERT_EQ(lane_slot_take(s, 42, &r), LANE_TAKE_PROTOCOL);
	ASSERT_EQ(lane_slot_status(s), NUB_SLOT_DONE);
	s->job_id = 42;
	s->result.return_value = 99;
	ASSERT_EQ(lane_slot_take(s, 42, &r), LANE_TAKE_DONE);
	ASSERT_EQ(r.return_value, 99);
	ASSERT_EQ(lane_slot_status(s), NUB_SLOT_EMPTY);
}

/* Start a worker on s; wait until it flipped STARTING to EMPTY. */
static bool start_worker(pthread_t *th, worker_arg *w, ParallelInvokeSlot *s, fake_lane *l)
{
	memset(w, 0, sizeof *w);
	w->slot = s;
	w->lane = l;
	lane_slot_init(s);
	if (pthread_create(th, NULL, worker_main, w))
		return false;
	while (lane_slot_status(s) == NUB_SLOT_STARTING)
		sched_yield();
	return lane_slot_status(s) == NUB_SLOT_EMPTY;
}

static bool stop_worker(pthread_t th, ParallelInvokeSlot *s)
{
	while (!lane_slot_request(s, NUB_SLOT_STOP))
		sched_yield();
	return pthread_join(th, NULL) == 0;
}

TEST(worker_serves_in_order_then_stops)
{
	fake_lane l = {0};
	pthread_t th;
	worker_arg w;
	ASSERT_TRUE(start_worker(&th, &w, &slot_a, &l));
	const uint64_t jobs = 20000;
	for (uint64_t j = 1; j <= jobs; j++) {
		InvokePacket p = {.args = {j, 5}, .initial_gas = j};
		InvocationResult r;
		ASSERT_TRUE(lane_slot_post(&slot_a, j, &p));
		lane_take t;
		while ((t = lane_slot_take(&slot_a, j, &r)) == LANE_TAKE_PENDING)
			lane_cpu_relax();
		ASSERT_EQ(t, LANE_TAKE_DONE);
		ASSERT_EQ(r.return_value, j * 3 + 5);
		ASSERT_EQ(r.gas_remaining, j);
	}
	ASSERT_TRUE(stop_worker(th, &slot_a));
	ASSERT_EQ(w.end, LANE_WORKER_STOPPED);
	ASSERT_EQ(w.served, jobs);
	ASSERT_EQ(lane_slot_status(&slot_a), NUB_SLOT_STOP);
}

TEST(evict_between_jobs_and_restart)
{
	fake_lane l = {0};
	pthread_t th;
	worker_arg w;
	for (int round = 0; round < 3; round++) {
		ASSERT_TRUE(start_worker(&th, &w, &slot_a, &l));
		InvokePacket p = {.args = {1, 1}};
		InvocationResult r;
		ASSERT_TRUE(lane_slot_post(&slot_a, 7, &p));
		/* an eviction cannot be asked of a busy slot */
		ASSERT_TRUE(!lane_slot_request(&slot_a, NUB_SLOT_EVICT_JIT_READY));
		while (lane_slot_take(&slot_a, 7, &r) == LANE_TAKE_PENDING)
			lane_cpu_relax();
		ASSERT_EQ(r.return_value, 4);
		ASSERT_TRUE(lane_slot_request(&slot_a, NUB_SLOT_EVICT_JIT_READY));
		while (!lane_slot_ack(&slot_a))
			lane_cpu_relax();
		ASSERT_EQ(atomic_load(&l.evicts), (unsigned)round + 1);
		ASSERT_EQ(lane_slot_status(&slot_a), NUB_SLOT_EMPTY);
		ASSERT_TRUE(stop_worker(th, &slot_a));
		ASSERT_EQ(w.served, 1);
	}
}

TEST(two_lanes_many_jobs_none_lost)
{
	/* 100 000 jobs over two slots: each result is the one of its job */
	fake_lane l = {0};
	pthread_t th[2];
	worker_arg w[2];
	ParallelInvokeSlot *s[2] = {&slot_a, &slot_b};
	for (int i = 0; i < 2; i++)
		ASSERT_TRUE(start_worker(&th[i], &w[i], s[i], &l));
	const uint64_t jobs = 100000;
	uint64_t next = 1, done = 0, posted[2] = {0, 0}, sum = 0;
	while (done < jobs) {
		for (int i = 0; i < 2; i++) {
			InvocationResult r;
			if (posted[i]) {
				lane_take t = lane_slot_take(s[i], posted[i], &r);
				if (t == LANE_TAKE_PENDING)
					continue;
				ASSERT_EQ(t, LANE_TAKE_DONE);
				ASSERT_EQ(r.return_value, posted[i] * 3 + 1);
				sum += posted[i];
				posted[i] = 0;
				done++;
			}
			if (next <= jobs) {
				InvokePacket p = {.args = {next, 1}};
				ASSERT_TRUE(lane_slot_post(s[i], next, &p));
				posted[i] = next++;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		ASSERT_TRUE(stop_worker(th[i], s[i]));
	ASSERT_EQ(w[0].served + w[1].served, jobs);
	ASSERT_EQ(sum, jobs * (jobs + 1) / 2);
}

TEST(bad_status_ends_the_worker)
{
	fake_lane l = {0};
	pthread_t th;
	worker_arg w;
	ASSERT_TRUE(start_worker(&th, &w, &slot_a, &l));
	lane_slot_set(&slot_a, 77);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	ASSERT_EQ(w.end, LANE_WORKER_BAD_STATUS);
}

int main(void)
{
	RUN(host_side_checks);
	RUN(worker_serves_in_order_then_stops);
	RUN(evict_between_jobs_and_restart);
	RUN(two_lanes_many_jobs_none_lost);
	RUN(bad_status_ends_the_worker);
	return test_done();
}
