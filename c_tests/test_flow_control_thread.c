/* Flow control and observability on the thread pool (Q1-Q12): the bound on
 * queued work, submit_timeout, shutdown waking blocked submitters, stats that
 * add up under load, task events, describe, and the stopping calls.
 *
 * Synchronisation by latches and futures; loops that wait for a state poll
 * fut_executor_stats under a 30 s deadline (they fail instead of hanging). */
#define _GNU_SOURCE
#include "test_util.h"
#include "flow_test_util.h"

#include <futures.h>
#include <pthread.h>
#include <stdatomic.h>

static fut_executor *make_pool(size_t workers, size_t max_queued, const char *name) {
    fut_thread_pool_options o;
    CHECK_OK(fut_thread_pool_options_init(&o));
    o.max_workers = workers;
    o.max_queued = max_queued;
    o.thread_name_prefix = name;
    fut_executor *ex = NULL;
    CHECK_OK(fut_thread_pool_new(&o, &ex));
    return ex;
}

/* ---- tasks ----------------------------------------------------------------- */

static tu_latch gate;            /* blocked tasks wait for it */
static atomic_int tasks_started; /* counted by the tasks */

/* Not static: describe names it through dladdr (the program exports its
 * symbols). */
int32_t flow_stuck_task(fut_task *t, const void *arg, size_t len);
int32_t flow_stuck_task(fut_task *t, const void *arg, size_t len) {
    (void)t, (void)arg, (void)len;
    atomic_fetch_add(&tasks_started, 1);
    LATCH_WAIT(&gate);
    return 0;
}

static int32_t noop_task(fut_task *t, const void *arg, size_t len) {
    (void)t, (void)arg, (void)len;
    return 0;
}

/* Fails when its argument's first byte is odd. */
static int32_t maybe_fail_task(fut_task *t, const void *arg, size_t len) {
    (void)t;
    return (len > 0 && (((const unsigned char *)arg)[0] & 1)) ? 7 : 0;
}

static void reset(void) {
    tu_latch_init(&gate, 1);
    atomic_store(&tasks_started, 0);
}

/* ---- Q1/Q2: the bound holds under 8 racing submitters ------------------------ */

enum { RACERS = 8, PER_RACER = 10, BOUND = 4, WORKERS = 2 };

static fut_executor *race_ex;
static atomic_int accepted;
static atomic_int race_done;
static fut_future *race_futures[RACERS][PER_RACER];

static void *racer(void *arg) {
    int me = (int)(intptr_t)arg;
    for (int i = 0; i < PER_RACER; i++) {
        CHECK_OK(fut_executor_submit(race_ex, flow_stuck_task, NULL, 0, NULL, &race_futures[me][i]));
        atomic_fetch_add(&accepted, 1);
    }
    return NULL;
}

static void *stats_reader(void *arg) {
    fut_executor *ex = (fut_executor *)arg;
    while (!atomic_load(&race_done)) {
        fut_stats s = stats_of(ex);
        check_adds_up(&s);
        CHECK(s.queued <= BOUND); /* Q1: never more than max_queued waiting */
        sched_yield();
    }
    return NULL;
}

TEST(flow_control_bound_holds_under_racing_submitters) {
    reset();
    atomic_store(&accepted, 0);
    atomic_store(&race_done, 0);
    race_ex = make_pool(WORKERS, BOUND, "flowrace");
    pthread_t reader = SPAWN(stats_reader, race_ex);
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++) t[i] = SPAWN(racer, (void *)(intptr_t)i);
    /* Both workers blocked, the queue full, every racer asleep for room. */
    fut_stats s;
    WAIT_STATS(race_ex, s, s.running == WORKERS && s.queued == BOUND && s.submitters_waiting == RACERS);
    /* Exactly running + max_queued were accepted, not one more (Q1). */
    CHECK_EQ(s.submitted, (uint64_t)(WORKERS + BOUND));
    CHECK_EQ(atomic_load(&accepted), WORKERS + BOUND);
    CHECK_EQ(s.max_queued, (uint64_t)BOUND);
    tu_latch_count_down(&gate); /* everything runs to the end */
    for (int i = 0; i < RACERS; i++) JOIN(t[i]);
    for (int i = 0; i < RACERS; i++)
        for (int j = 0; j < PER_RACER; j++) {
            CHECK_OK(fut_future_result(race_futures[i][j], TU_LONG_TIMEOUT_NS, NULL, NULL));
            fut_future_release(race_futures[i][j]);
        }
    atomic_store(&race_done, 1);
    JOIN(reader);
    s = stats_of(race_ex);
    CHECK_EQ(s.completed, (uint64_t)(RACERS * PER_RACER));
    CHECK_EQ(s.submitted, (uint64_t)(RACERS * PER_RACER));
    CHECK_EQ(s.submitters_waiting, 0u);
    fut_executor_release(race_ex);
}

/* ---- Q2/Q4: submit_timeout keeps its deadline; the pool's own threads pass --- */

static fut_executor *own_ex;
static tu_latch own_go;
static atomic_int own_status;

static int32_t submits_from_inside(fut_task *t, const void *arg, size_t len) {
    (void)t, (void)arg, (void)len;
    LATCH_WAIT(&own_go);
    fut_future *f = NULL;
    /* The queue is full, but a task of this pool is never made to wait (Q4). */
    int st = fut_executor_submit_timeout(own_ex, noop_task, NULL, 0, NULL, 0, &f);
    atomic_store(&own_status, st);
    if (st == FUT_OK) fut_future_release(f);
    return 0;
}

TEST(flow_control_submit_timeout_keeps_its_deadline) {
    reset();
    tu_latch_init(&own_go, 1);
    atomic_store(&own_status, 99);
    own_ex = make_pool(1, 1, "flowtime");
    fut_future *running = NULL, *queued = NULL, *f = NULL;
    CHECK_OK(fut_executor_submit(own_ex, submits_from_inside, NULL, 0, NULL, &running));
    CHECK_OK(fut_executor_submit_timeout(own_ex, noop_task, NULL, 0, NULL, TU_LONG_TIMEOUT_NS, &queued));
    fut_stats s;
    WAIT_STATS(own_ex, s, s.running == 1 && s.queued == 1);
    /* 0: no wait at all. */
    CHECK_ST(fut_executor_submit_timeout(own_ex, noop_task, NULL, 0, NULL, 0, &f), FUT_ERR_QUEUE_FULL);
    /* 50 ms: not before the deadline, and not much after it. */
    int64_t t0 = tu_now_ns();
    CHECK_ST(fut_executor_submit_timeout(own_ex, noop_task, NULL, 0, NULL, 50 * TU_MS, &f),
             FUT_ERR_QUEUE_FULL);
    int64_t took = tu_now_ns() - t0;
    CHECK_GE(took, 50 * TU_MS);
    CHECK_LT(took, 50 * TU_MS + 5 * TU_SEC);
    CHECK_EQ(stats_of(own_ex).submitted, 2u); /* refused submits count nothing */
    tu_latch_count_down(&own_go);
    CHECK_OK(fut_future_result(running, TU_LONG_TIMEOUT_NS, NULL, NULL));
    CHECK_EQ(atomic_load(&own_status), FUT_OK);
    CHECK_OK(fut_future_result(queued, TU_LONG_TIMEOUT_NS, NULL, NULL));
    fut_future_release(running);
    fut_future_release(queued);
    fut_executor_release(own_ex);
    tu_latch_destroy(&own_go);
}

/* ---- Q3: shutdown wakes every blocked submitter ----------------------------- */

static fut_executor *wake_ex;

static void *blocked_submitter(void *arg) {
    int *status = (int *)arg;
    fut_future *f = NULL;
    *status = fut_executor_submit(wake_ex, noop_task, NULL, 0, NULL, &f);
    if (*status == FUT_OK) fut_future_release(f);
    return NULL;
}

TEST(flow_control_shutdown_wakes_blocked_submitters) {
    reset();
    wake_ex = make_pool(1, 1, "flowwake");
    fut_future *running = NULL, *queued = NULL;
    CHECK_OK(fut_executor_submit(wake_ex, flow_stuck_task, NULL, 0, NULL, &running));
    CHECK_OK(fut_executor_submit(wake_ex, noop_task, NULL, 0, NULL, &queued));
    enum { N = 4 };
    int status[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) t[i] = SPAWN(blocked_submitter, &status[i]);
    fut_stats s;
    WAIT_STATS(wake_ex, s, s.submitters_waiting == N);
    CHECK_OK(fut_executor_shutdown(wake_ex, false, true));
    for (int i = 0; i < N; i++) {
        JOIN(t[i]);
        CHECK_EQ(status[i], FUT_ERR_SHUTDOWN);
    }
    CHECK_ST(fut_future_result(queued, 0, NULL, NULL), FUT_ERR_CANCELLED);
    tu_latch_count_down(&gate);
    CHECK_OK(fut_future_result(running, TU_LONG_TIMEOUT_NS, NULL, NULL));
    s = stats_of(wake_ex);
    check_adds_up(&s);
    CHECK_EQ(s.completed, 1u);
    CHECK_EQ(s.cancelled, 1u);
    fut_future_release(running);
    fut_future_release(queued);
    fut_executor_release(wake_ex);
}

/* ---- Q5: stats add up at every read, under load ------------------------------ */

enum { LOADERS = 4, PER_LOADER = 3000 };
static fut_executor *load_ex;
static atomic_int load_done;

static void *loader(void *arg) {
    int me = (int)(intptr_t)arg;
    static const unsigned char bytes[2] = {0, 1};
    for (int i = 0; i < PER_LOADER; i++) {
        fut_future *f = NULL;
        CHECK_OK(fut_executor_submit(load_ex, maybe_fail_task, &bytes[(i + me) & 1], 1, NULL, &f));
        if (i % 7 == 0) fut_future_cancel(f);
        fut_future_release(f);
    }
    return NULL;
}

static void *load_reader(void *arg) {
    (void)arg;
    uint64_t reads = 0;
    while (!atomic_load(&load_done)) {
        fut_stats s = stats_of(load_ex);
        check_adds_up(&s);
        CHECK(s.queued <= 64);
        reads++;
    }
    CHECK(reads > 0);
    return NULL;
}

TEST(flow_control_stats_add_up_under_load) {
    atomic_store(&load_done, 0);
    load_ex = make_pool(4, 64, "flowload");
    pthread_t r = SPAWN(load_reader, NULL);
    pthread_t t[LOADERS];
    for (int i = 0; i < LOADERS; i++) t[i] = SPAWN(loader, (void *)(intptr_t)i);
    for (int i = 0; i < LOADERS; i++) JOIN(t[i]);
    fut_stats s;
    const uint64_t total = (uint64_t)LOADERS * PER_LOADER;
    WAIT_STATS(load_ex, s, s.completed + s.failed + s.cancelled == total);
    atomic_store(&load_done, 1);
    JOIN(r);
    check_adds_up(&s);
    CHECK_EQ(s.submitted, total);
    CHECK_EQ(s.running + s.queued, 0u);
    CHECK(s.failed > 0 && s.completed > 0);
    CHECK(s.workers_alive >= 1 && s.workers_alive == s.workers_started);
    CHECK_EQ(s.workers_replaced, 0u);
    fut_executor_release(load_ex);
}

/* ---- Q9: task events ---------------------------------------------------------- */

typedef struct {
    pthread_mutex_t m;
    int started, finished_ok, finished_failed;
    int on_worker; /* events seen on a thread named flowobs_* */
    uint64_t last_run_ns;
} observed;

static void observe(const fut_task_event *ev, void *user) {
    observed *o = (observed *)user;
    char name[16] = "";
    pthread_getname_np(pthread_self(), name, sizeof name);
    pthread_mutex_lock(&o->m);
    if (strncmp(name, "flowobs_", 8) == 0) o->on_worker++;
    if (ev->kind == FUT_TASK_STARTED) o->started++;
    if (ev->kind == FUT_TASK_FINISHED && ev->status == FUT_OK) o->finished_ok++;
    if (ev->kind == FUT_TASK_FINISHED && ev->status == FUT_ERR_TASK_FAILED) o->finished_failed++;
    if (ev->kind == FUT_TASK_FINISHED) o->last_run_ns = ev->run_ns;
    pthread_mutex_unlock(&o->m);
}

TEST(flow_control_observer_sees_start_and_finish) {
    observed o;
    memset(&o, 0, sizeof o);
    pthread_mutex_init(&o.m, NULL);
    fut_thread_pool_options opt;
    CHECK_OK(fut_thread_pool_options_init(&opt));
    opt.max_workers = 1;
    opt.thread_name_prefix = "flowobs";
    opt.on_task_event = observe;
    opt.on_task_event_data = &o;
    fut_executor *ex = NULL;
    CHECK_OK(fut_thread_pool_new(&opt, &ex));
    static const unsigned char even = 2, odd = 3;
    fut_future *a = NULL, *b = NULL;
    CHECK_OK(fut_executor_submit(ex, maybe_fail_task, &even, 1, NULL, &a));
    CHECK_OK(fut_future_result(a, TU_LONG_TIMEOUT_NS, NULL, NULL));
    /* "finished" is delivered before the future completes (Q9). */
    pthread_mutex_lock(&o.m);
    CHECK_EQ(o.started, 1);
    CHECK_EQ(o.finished_ok, 1);
    pthread_mutex_unlock(&o.m);
    CHECK_OK(fut_executor_submit(ex, maybe_fail_task, &odd, 1, NULL, &b));
    CHECK_ST(fut_future_result(b, TU_LONG_TIMEOUT_NS, NULL, NULL), FUT_ERR_TASK_FAILED);
    pthread_mutex_lock(&o.m);
    CHECK_EQ(o.started, 2);
    CHECK_EQ(o.finished_failed, 1);
    CHECK_EQ(o.on_worker, 4); /* every event on the pool's worker thread */
    pthread_mutex_unlock(&o.m);
    fut_future_release(a);
    fut_future_release(b);
    fut_executor_release(ex);
    pthread_mutex_destroy(&o.m);
}

/* ---- Q11: describe names a stuck task ------------------------------------------- */

TEST(flow_control_describe_names_a_stuck_task) {
    reset();
    fut_executor *ex = make_pool(2, 0, "flowdesc");
    fut_future *stuck = NULL, *next = NULL, *queued = NULL;
    CHECK_OK(fut_executor_submit(ex, flow_stuck_task, NULL, 0, NULL, &stuck));
    CHECK_OK(fut_executor_submit(ex, flow_stuck_task, NULL, 0, NULL, &next));
    fut_stats s;
    WAIT_STATS(ex, s, s.running == 2);
    /* Both workers are stuck: this one waits in the queue. */
    CHECK_OK(fut_executor_submit(ex, noop_task, NULL, 0, NULL, &queued));
    s = stats_of(ex);
    CHECK_EQ(s.queued, 1u);
    size_t needed = 0;
    CHECK_OK(fut_executor_describe(ex, NULL, 0, &needed));
    CHECK(needed > 1);
    char *buf = malloc(needed);
    size_t again = 0;
    CHECK_OK(fut_executor_describe(ex, buf, needed, &again));
    CHECK(again >= needed - 64); /* the durations may have grown a digit */
    CHECK_MSG(strstr(buf, "flowdesc_0") && strstr(buf, "flowdesc_1"), "workers not named:\n%s", buf);
    CHECK_MSG(strstr(buf, "running task 1 (flow_stuck_task"), "stuck task not named:\n%s", buf);
    CHECK_MSG(strstr(buf, "queue: 1 queued, oldest queued for"), "queue not described:\n%s", buf);
    /* A buffer too small is cut and NUL-terminated. */
    char small[8];
    CHECK_OK(fut_executor_describe(ex, small, sizeof small, NULL));
    CHECK_EQ(strlen(small), sizeof small - 1);
    free(buf);
    tu_latch_count_down(&gate);
    fut_future *fs[3] = {stuck, next, queued};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL));
        fut_future_release(fs[i]);
    }
    fut_executor_release(ex);
}

/* ---- Q7/Q8: stopping a thread pool ------------------------------------------------- */

TEST(flow_control_thread_pool_shutdown_timeout) {
    reset();
    fut_executor *ex = make_pool(1, 0, "flowstop");
    /* Threads cannot be killed: refused, and the pool goes on. */
    CHECK_ST(fut_executor_terminate_workers(ex), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_kill_workers(ex), FUT_ERR_INVALID_ARGUMENT);
    fut_future *stuck = NULL, *queued = NULL;
    CHECK_OK(fut_executor_submit(ex, flow_stuck_task, NULL, 0, NULL, &stuck));
    CHECK_OK(fut_executor_submit(ex, noop_task, NULL, 0, NULL, &queued));
    fut_stats s;
    WAIT_STATS(ex, s, s.running == 1);
    int64_t t0 = tu_now_ns();
    CHECK_ST(fut_executor_shutdown_timeout(ex, true, 50 * TU_MS), FUT_ERR_TIMEOUT);
    CHECK_GE(tu_now_ns() - t0, 50 * TU_MS);
    CHECK_ST(fut_future_result(queued, 0, NULL, NULL), FUT_ERR_CANCELLED);
    /* The running task keeps its future and finishes later (Q8). */
    CHECK_ST(fut_future_result(stuck, 0, NULL, NULL), FUT_ERR_TIMEOUT);
    tu_latch_count_down(&gate);
    CHECK_OK(fut_future_result(stuck, TU_LONG_TIMEOUT_NS, NULL, NULL));
    fut_future_release(stuck);
    fut_future_release(queued);
    fut_executor_release(ex); /* does not join: the thread ends by itself */

    /* In time: FUT_OK, every thread joined. */
    fut_executor *ex2 = make_pool(2, 0, "flowstop2");
    fut_future *f = NULL;
    CHECK_OK(fut_executor_submit(ex2, noop_task, NULL, 0, NULL, &f));
    CHECK_OK(fut_executor_shutdown_timeout(ex2, false, TU_LONG_TIMEOUT_NS));
    CHECK_OK(fut_future_result(f, 0, NULL, NULL));
    CHECK_EQ(stats_of(ex2).workers_alive, 0u);
    fut_future_release(f);
    fut_executor_release(ex2);
}

/* ---- ABI: a caller built against the first options struct -------------------------- */

TEST(flow_control_v1_options_are_accepted) {
    fut_thread_pool_options o;
    CHECK_OK(fut_thread_pool_options_init(&o));
    CHECK_EQ(o.struct_size, sizeof o);
    CHECK_EQ(o.max_queued, 0u);
    o.struct_size = 48; /* the V1 size: fields past it take their defaults */
    o.max_queued = 5;   /* not read */
    fut_executor *ex = NULL;
    CHECK_OK(fut_thread_pool_new(&o, &ex));
    CHECK_EQ(stats_of(ex).max_queued, 0u);
    fut_stats small;
    small.struct_size = 8;
    CHECK_ST(fut_executor_stats(ex, &small), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_stats(NULL, &small), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_describe(ex, NULL, 5, NULL), FUT_ERR_INVALID_ARGUMENT);
    fut_executor_release(ex);
}

int main(int argc, char **argv) { return tu_main(argc, argv); }
