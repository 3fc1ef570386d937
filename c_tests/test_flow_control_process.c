/* Flow control and observability on the process pool (Q1-Q12): the bound on
 * queued calls, shutdown waking blocked submitters, stats under load,
 * describe, task events, and terminate/kill/shutdown_timeout ending with no
 * orphan, no zombie and no leaked descriptor or thread (PP_RUN checks each
 * test). Tasks block on the gate pipe of process_pool_common.h. */
#define _GNU_SOURCE
#include "process_pool_common.h"
#include "flow_test_util.h"

#include <futures.h>
#include <pthread.h>
#include <stdatomic.h>

static fut_executor *make_pool(size_t workers, size_t max_queued, fut_start_method m) {
    fut_process_pool_options o;
    CHECK_OK(fut_process_pool_options_init(&o));
    o.max_workers = workers;
    o.max_queued = max_queued;
    o.start_method = m;
    fut_executor *ex = NULL;
    CHECK_OK(fut_process_pool_new(&o, &ex));
    return ex;
}

/* Not static: describe names it through dladdr (the program exports its
 * symbols). Reports its pid, waits on the gate. */
int32_t flow_stuck_worker_task(fut_task *t, const void *arg, size_t len);
int32_t flow_stuck_worker_task(fut_task *t, const void *arg, size_t len) {
    return pp_report_block_echo(t, arg, len);
}

/* Ignores SIGTERM, reports, blocks: only SIGKILL ends it. */
static int32_t ignores_sigterm(fut_task *t, const void *arg, size_t len) {
    signal(SIGTERM, SIG_IGN);
    return pp_report_block_echo(t, arg, len);
}

static void release_all(fut_future **fs, int n) {
    for (int i = 0; i < n; i++) fut_future_release(fs[i]);
}

/* ---- Q1/Q2/Q3: the bound, submit_timeout, shutdown wakes submitters ---------------- */

static fut_executor *wake_ex;

static void *blocked_submitter(void *arg) {
    int *status = (int *)arg;
    fut_future *f = NULL;
    *status = fut_executor_submit(wake_ex, pp_echo, "x", 1, NULL, &f);
    if (*status == FUT_OK) fut_future_release(f);
    return NULL;
}

static void test_bound(fut_start_method m) {
    enum { BOUND = 2 };
    fut_executor *ex = wake_ex = make_pool(1, BOUND, m);
    /* One call runs, one is held for the next free worker (both RUNNING),
     * BOUND wait in the queue: then the pool is full. */
    fut_future *fs[4];
    for (int i = 0; i < 4; i++)
        CHECK_OK(fut_executor_submit_timeout(ex, pp_block_echo, "b", 1, NULL, TU_LONG_TIMEOUT_NS, &fs[i]));
    fut_stats s;
    WAIT_STATS(ex, s, s.running == 2 && s.queued == BOUND);
    fut_future *f = NULL;
    CHECK_ST(fut_executor_submit_timeout(ex, pp_echo, "x", 1, NULL, 0, &f), FUT_ERR_QUEUE_FULL);
    int64_t t0 = tu_now_ns();
    CHECK_ST(fut_executor_submit_timeout(ex, pp_echo, "x", 1, NULL, 30 * TU_MS, &f), FUT_ERR_QUEUE_FULL);
    CHECK_GE(tu_now_ns() - t0, 30 * TU_MS);
    /* With the queue full, plain submits block; shutdown wakes every
     * blocked submitter with FUT_ERR_SHUTDOWN (Q3). */
    enum { N = 3 };
    int status[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) t[i] = SPAWN(blocked_submitter, &status[i]);
    WAIT_STATS(ex, s, s.submitters_waiting == N);
    check_adds_up(&s);
    CHECK_EQ(s.submitted, 4u);
    CHECK_OK(fut_executor_shutdown(ex, false, true));
    for (int i = 0; i < N; i++) {
        JOIN(t[i]);
        CHECK_EQ(status[i], FUT_ERR_SHUTDOWN);
    }
    /* The queued two were cancelled; the two taken run once the gate opens. */
    CHECK_ST(fut_future_result(fs[2], 0, NULL, NULL), FUT_ERR_CANCELLED);
    CHECK_ST(fut_future_result(fs[3], 0, NULL, NULL), FUT_ERR_CANCELLED);
    pp_gate_open(2);
    CHECK_OK(fut_future_result(fs[0], TU_LONG_TIMEOUT_NS, NULL, NULL));
    CHECK_OK(fut_future_result(fs[1], TU_LONG_TIMEOUT_NS, NULL, NULL));
    s = stats_of(ex);
    check_adds_up(&s);
    CHECK_EQ(s.completed, 2u);
    CHECK_EQ(s.cancelled, 2u);
    release_all(fs, 4);
    fut_executor_release(ex);
}

/* ---- Q5: stats add up under load; Q9: events on the manager thread ------------------ */

typedef struct {
    atomic_int started, finished, on_manager;
} counted;

static void count_event(const fut_task_event *ev, void *user) {
    counted *c = (counted *)user;
    char name[16] = "";
    pthread_getname_np(pthread_self(), name, sizeof name);
    if (strcmp(name, "fut-procpool") == 0) atomic_fetch_add(&c->on_manager, 1);
    atomic_fetch_add(ev->kind == FUT_TASK_STARTED ? &c->started : &c->finished, 1);
}

static fut_executor *load_ex;
static atomic_int load_done;
enum { LOADERS = 2, PER_LOADER = 400 };

static void *loader(void *arg) {
    (void)arg;
    for (int i = 0; i < PER_LOADER; i++) {
        fut_future *f = NULL;
        CHECK_OK(fut_executor_submit(load_ex, pp_echo, "ab", 2, NULL, &f));
        if (i % 5 == 0) fut_future_cancel(f);
        fut_future_release(f);
    }
    return NULL;
}

static void *load_reader(void *arg) {
    (void)arg;
    while (!atomic_load(&load_done)) {
        fut_stats s = stats_of(load_ex);
        check_adds_up(&s);
        CHECK(s.queued <= 16);
    }
    return NULL;
}

static void test_stats_under_load(void) {
    counted c;
    memset(&c, 0, sizeof c);
    fut_process_pool_options o;
    CHECK_OK(fut_process_pool_options_init(&o));
    o.max_workers = 2;
    o.max_queued = 16;
    o.on_task_event = count_event;
    o.on_task_event_data = &c;
    CHECK_OK(fut_process_pool_new(&o, &load_ex));
    atomic_store(&load_done, 0);
    pthread_t r = SPAWN(load_reader, NULL);
    pthread_t t[LOADERS];
    for (int i = 0; i < LOADERS; i++) t[i] = SPAWN(loader, NULL);
    for (int i = 0; i < LOADERS; i++) JOIN(t[i]);
    const uint64_t total = (uint64_t)LOADERS * PER_LOADER;
    fut_stats s;
    WAIT_STATS(load_ex, s, s.completed + s.failed + s.cancelled == total);
    atomic_store(&load_done, 1);
    JOIN(r);
    CHECK_EQ(s.submitted, total);
    CHECK_EQ(s.failed, 0u);
    CHECK(s.completed > 0);
    CHECK_EQ(s.workers_alive, 2u);
    fut_executor_release(load_ex);
    /* Every task ended with one "finished" event, all on the manager thread;
     * "started" only for those handed to a worker (Q9). */
    CHECK_EQ((uint64_t)atomic_load(&c.finished), total);
    CHECK_EQ((uint64_t)atomic_load(&c.started), s.completed);
    CHECK_EQ(atomic_load(&c.on_manager), atomic_load(&c.started) + atomic_load(&c.finished));
}

/* ---- Q11: describe names the stuck task and its worker -------------------------------- */

static void test_describe(fut_start_method m) {
    fut_executor *ex = make_pool(1, 0, m);
    fut_future *fs[2];
    CHECK_OK(fut_executor_submit(ex, flow_stuck_worker_task, "s", 1, NULL, &fs[0]));
    pid_t pid = pp_read_pid();
    CHECK_OK(fut_executor_submit(ex, pp_echo, "q", 1, NULL, &fs[1]));
    char buf[2048], want[128];
    CHECK_OK(fut_executor_describe(ex, buf, sizeof buf, NULL));
    snprintf(want, sizeof want, "worker pid %d: running task 1 (flow_stuck_worker_task", (int)pid);
    CHECK_MSG(strstr(buf, want), "describe does not say \"%s\":\n%s", want, buf);
    CHECK_MSG(strstr(buf, "held for the next free worker"), "no queue line:\n%s", buf);
    pp_gate_open(1);
    for (int i = 0; i < 2; i++) CHECK_OK(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL));
    release_all(fs, 2);
    fut_executor_release(ex);
}

/* ---- Q7: terminate / kill ------------------------------------------------------------------ */

static void test_stop(fut_start_method m, bool kill) {
    fut_executor *ex = make_pool(2, 0, m);
    fut_future *fs[5];
    for (int i = 0; i < 2; i++) CHECK_OK(fut_executor_submit(ex, pp_report_block_echo, "r", 1, NULL, &fs[i]));
    pp_read_pid();
    pp_read_pid();
    for (int i = 2; i < 5; i++) CHECK_OK(fut_executor_submit(ex, pp_echo, "q", 1, NULL, &fs[i]));
    CHECK_OK(kill ? fut_executor_kill_workers(ex) : fut_executor_terminate_workers(ex));
    const char *want = kill ? "killed by fut_executor_kill_workers"
                            : "terminated by fut_executor_terminate_workers";
    int failed = 0, cancelled = 0;
    for (int i = 0; i < 5; i++) {
        fut_status st = fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL);
        if (st == FUT_ERR_BROKEN_POOL) {
            fut_error_info e;
            CHECK_ST(fut_future_exception(fs[i], 0, &e), FUT_OK);
            CHECK_MSG(e.detail && strstr(e.detail, want), "detail: %s", e.detail ? e.detail : "(null)");
            failed++;
        } else {
            CHECK_EQ(st, FUT_ERR_CANCELLED);
            cancelled++;
        }
    }
    /* The two running ones (and the call held for the next free worker, if
     * any) fail; what was still queued is cancelled. */
    CHECK_GE(failed, 2);
    CHECK_EQ(failed + cancelled, 5);
    fut_future *f = NULL;
    CHECK_ST(fut_executor_submit(ex, pp_echo, "x", 1, NULL, &f), FUT_ERR_SHUTDOWN);
    release_all(fs, 5);
    fut_executor_release(ex); /* reaps everything: PP_RUN checks */
}

/* ---- Q8: shutdown_timeout ------------------------------------------------------------------- */

static void test_shutdown_timeout(fut_start_method m) {
    /* In time. */
    fut_executor *ex = make_pool(1, 0, m);
    fut_future *f = NULL;
    CHECK_OK(fut_executor_submit(ex, pp_echo, "a", 1, NULL, &f));
    CHECK_OK(fut_executor_shutdown_timeout(ex, false, TU_LONG_TIMEOUT_NS));
    CHECK_OK(fut_future_result(f, 0, NULL, NULL));
    fut_future_release(f);
    fut_executor_release(ex);
    /* Past the deadline, with a worker that ignores SIGTERM: killed. */
    ex = make_pool(1, 0, m);
    CHECK_OK(fut_executor_submit(ex, ignores_sigterm, "t", 1, NULL, &f));
    pp_read_pid();
    int64_t t0 = tu_now_ns();
    CHECK_ST(fut_executor_shutdown_timeout(ex, true, 50 * TU_MS), FUT_ERR_TIMEOUT);
    int64_t took = tu_now_ns() - t0;
    CHECK_GE(took, 50 * TU_MS);
    CHECK_LT(took, 10 * TU_SEC);
    CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_BROKEN_POOL);
    fut_future_release(f);
    fut_executor_release(ex);
}

/* ---- Q12: a caller of the first options struct gets the defaults ------------------- */

static void test_v1_options(void) {
    fut_process_pool_options o;
    CHECK_OK(fut_process_pool_options_init(&o));
    CHECK_EQ(o.struct_size, sizeof o);
    o.max_workers = 1;
    o.struct_size = 72; /* the V1 size */
    o.max_queued = 3;   /* past it: not read */
    fut_executor *ex = NULL;
    CHECK_OK(fut_process_pool_new(&o, &ex));
    CHECK_EQ(stats_of(ex).max_queued, 0u);
    fut_executor_release(ex);
    /* A full bound, in a fork()ed child's copy of the pool, never blocks:
     * refused at once. */
    fut_executor *b = make_pool(1, 1, FUT_START_FORKSERVER);
    fut_future *fs[3];
    for (int i = 0; i < 3; i++) CHECK_OK(fut_executor_submit(b, pp_block_echo, "b", 1, NULL, &fs[i]));
    fut_stats s;
    WAIT_STATS(b, s, s.queued == 1 && s.running == 2);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        fut_future *f = NULL;
        _exit(fut_executor_submit(b, pp_echo, "x", 1, NULL, &f) == FUT_ERR_SHUTDOWN ? 0 : 1);
    }
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    pp_gate_open(3);
    for (int i = 0; i < 3; i++) CHECK_OK(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL));
    release_all(fs, 3);
    fut_executor_release(b);
}

static const char *method_name(fut_start_method m) {
    return m == FUT_START_FORK ? "fork" : "forkserver";
}

int main(void) {
    pp_become_subreaper();
    pp_pipes_init();
    static const fut_start_method METHODS[2] = {FUT_START_FORKSERVER, FUT_START_FORK};
    char name[128];
    for (int i = 0; i < 2; i++) {
        fut_start_method m = METHODS[i];
        const char *mn = method_name(m);
#define RUN_M(call, what) PP_RUN_M(name, call, what, mn)
        RUN_M(test_bound(m), "flow_control bound, submit_timeout, shutdown wakes submitters");
        RUN_M(test_describe(m), "flow_control describe names a stuck task");
        RUN_M(test_stop(m, false), "flow_control terminate_workers");
        RUN_M(test_stop(m, true), "flow_control kill_workers");
        RUN_M(test_shutdown_timeout(m), "flow_control shutdown_timeout");
    }
    PP_RUN(test_stats_under_load(), "flow_control stats add up under load, events");
    PP_RUN(test_v1_options(), "flow_control V1 options, forked child");
    return tu_summary();
}
