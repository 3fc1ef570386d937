/* Process pool: data path, errors, map, crash isolation under both crash
 * policies and both start methods, initializer, max_tasks_per_child, call-queue
 * bound, time limit, shutdown variants, options. Each test names the
 * behaviour items it checks; after each one no child, zombie, thread or file
 * descriptor may remain. */
#include "process_pool_common.h"

static const fut_start_method METHODS[2] = {FUT_START_FORK, FUT_START_FORKSERVER};
static const char *method_name(fut_start_method m) {
    return m == FUT_START_FORK ? "fork" : "forkserver";
}

/* X3, P6: bytes go to the worker and come back into a buffer owned by the
 * future; an empty argument and an empty result work. */
static void test_round_trip(fut_start_method m) {
    fut_executor *ex = pp_pool(2, m, FUT_CRASH_BREAK_POOL);
    const char msg[] = "hello, worker";
    fut_future *f = pp_submit(ex, pp_echo, msg, sizeof msg);
    fut_future *g = pp_submit(ex, pp_echo, NULL, 0);
    pp_expect_bytes(f, msg, sizeof msg);
    void *v = (void *)1;
    size_t n = 7;
    CHECK_ST(fut_future_result(g, TU_LONG_TIMEOUT_NS, &v, &n), FUT_OK);
    CHECK(v == NULL && n == 0);
    /* The worker ran in another process. */
    fut_future *p = pp_submit(ex, pp_getpid, NULL, 0);
    void *pv;
    CHECK_ST(fut_future_result(p, TU_LONG_TIMEOUT_NS, &pv, NULL), FUT_OK);
    CHECK(*(int32_t *)pv != (int32_t)getpid());
    fut_future_release(f);
    fut_future_release(g);
    fut_future_release(p);
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
    fut_executor_release(ex);
}

/* X3, P6: arg_drop runs once the bytes were copied (before the task ran). */
static int drops;
static void count_drop(void *p) {
    (void)p;
    drops++;
}
static void test_arg_drop(fut_start_method m) {
    fut_executor *ex = pp_pool(1, m, FUT_CRASH_BREAK_POOL);
    drops = 0;
    static char arg[] = "owned";
    fut_future *f;
    CHECK_ST(fut_executor_submit(ex, pp_echo, arg, sizeof arg, count_drop, &f), FUT_OK);
    CHECK(drops == 1);
    pp_expect_bytes(f, "owned", sizeof arg);
    fut_future_release(f);
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
    /* A refused submit never calls arg_drop (docs/api.md). */
    CHECK_ST(fut_executor_submit(ex, pp_echo, arg, sizeof arg, count_drop, &f),
                FUT_ERR_SHUTDOWN);
    CHECK(drops == 1);
    fut_executor_release(ex);
}

/* X3, B6 (no pipe stall): 16 MiB argument and 16 MiB result. */
static void test_large_payload(fut_start_method m) {
    size_t len = 16u << 20;
    unsigned char *big = (unsigned char *)malloc(len);
    for (size_t i = 0; i < len; i++) big[i] = (unsigned char)(i * 131u + (i >> 13));
    fut_executor *ex = pp_pool(2, m, FUT_CRASH_BREAK_POOL);
    fut_future *f = pp_submit(ex, pp_echo, big, len);
    fut_future *g = pp_submit(ex, pp_echo, big, len);
    pp_expect_bytes(f, big, len);
    pp_expect_bytes(g, big, len);
    fut_future_release(f);
    fut_future_release(g);
    fut_executor_release(ex); /* last release = shutdown(wait=true) */
    free(big);
}

/* docs/api.md Values and errors, P6: code, message and worker-side detail. */
static int32_t fail_with_message(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    int32_t *junk = (int32_t *)malloc(sizeof *junk);
    fut_task_set_result(t, junk, sizeof *junk, free); /* destroyed: the task fails */
    fut_task_set_error(t, 42, "bad input");
    return 0;
}
static int32_t fail_with_code(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    return 7;
}
static void test_errors(fut_start_method m) {
    fut_executor *ex = pp_pool(2, m, FUT_CRASH_BREAK_POOL);
    fut_future *a = pp_submit(ex, fail_with_message, NULL, 0);
    fut_future *b = pp_submit(ex, fail_with_code, NULL, 0);
    void *v;
    CHECK_ST(fut_future_result(a, TU_LONG_TIMEOUT_NS, &v, NULL), FUT_ERR_TASK_FAILED);
    fut_error_info e;
    CHECK_ST(fut_future_exception(a, 0, &e), FUT_OK);
    CHECK(e.kind == FUT_ERR_TASK_FAILED && e.code == 42);
    CHECK(strcmp(e.message, "bad input") == 0);
    CHECK(e.detail != NULL && strstr(e.detail, "worker") != NULL);
    CHECK_ST(fut_future_result(b, TU_LONG_TIMEOUT_NS, &v, NULL), FUT_ERR_TASK_FAILED);
    CHECK_ST(fut_future_exception(b, 0, &e), FUT_OK);
    CHECK(e.code == 7 && strstr(e.message, "7") != NULL);
    /* B8: a task's error never breaks the pool. */
    fut_future *c = pp_submit(ex, pp_echo, "ok", 3);
    pp_expect_bytes(c, "ok", 3);
    fut_future_release(a);
    fut_future_release(b);
    fut_future_release(c);
    fut_executor_release(ex);
}

/* E10, E12, E14: map with chunksize keeps input order and per-position errors. */
static int32_t double_or_fail(fut_task *t, const void *arg, size_t len) {
    CHECK(len == sizeof(int32_t));
    int32_t x;
    memcpy(&x, arg, sizeof x);
    if (x % 10 == 3) {
        fut_task_set_error(t, x, "multiple of ten plus three");
        return 0;
    }
    int32_t *r = (int32_t *)malloc(sizeof *r);
    *r = 2 * x;
    fut_task_set_result(t, r, sizeof *r, free);
    return 0;
}
static void test_map_chunks(fut_start_method m) {
    enum { N = 100 };
    int32_t in[N];
    fut_item items[N];
    for (int i = 0; i < N; i++) {
        in[i] = i;
        items[i].arg = &in[i];
        items[i].arg_len = sizeof in[i];
    }
    fut_executor *ex = pp_pool(2, m, FUT_CRASH_BREAK_POOL);
    size_t chunks[3] = {1, 7, 64};
    for (int c = 0; c < 3; c++) {
        fut_map *it;
        CHECK_ST(fut_executor_map(ex, double_or_fail, items, N, TU_LONG_TIMEOUT_NS, chunks[c], &it),
                    FUT_OK);
        for (int i = 0; i < N; i++) {
            fut_future *f;
            CHECK_ST(fut_map_next(it, &f), FUT_OK);
            void *v;
            if (i % 10 == 3) {
                CHECK_ST(fut_future_result(f, 0, &v, NULL), FUT_ERR_TASK_FAILED);
                fut_error_info e;
                fut_future_exception(f, 0, &e);
                CHECK(e.code == i);
            } else {
                CHECK_ST(fut_future_result(f, 0, &v, NULL), FUT_OK);
                CHECK(*(int32_t *)v == 2 * i);
            }
            fut_future_release(f);
        }
        fut_future *f;
        CHECK_ST(fut_map_next(it, &f), FUT_END);
        fut_map_release(it);
    }
    fut_map *it;
    CHECK_ST(fut_executor_map(ex, double_or_fail, items, N, TU_LONG_TIMEOUT_NS, 0, &it),
                FUT_ERR_INVALID_ARGUMENT);
    fut_executor_release(ex);
}

/* B1-B4, X12 (FUT_CRASH_BREAK_POOL) and our FUT_CRASH_FAIL_TASK: a worker
 * dies while running a task, with two more queued behind it on a single
 * worker (one already RUNNING in its pipe, one PENDING). */
enum crash_kind { CRASH_SEGV, CRASH_SIGKILL, CRASH_EXIT3, CRASH_EXTERNAL_KILL };
static const char *crash_name[] = {"raise(SIGSEGV)", "raise(SIGKILL)", "_exit(3)", "kill -9"};

/* Reports its pid, waits for the gate, then crashes the way arg[0] says
 * (so that the test has queued the work behind it first). */
static int32_t crash_after_gate(fut_task *t, const void *arg, size_t len) {
    pp_report_self();
    pp_wait_gate();
    fut_task_fn fns[] = {pp_segv, pp_sigkill_self, pp_exit3};
    int kind = len ? ((const char *)arg)[0] : 0;
    return fns[kind](t, NULL, 0);
}

static void test_crash(fut_start_method m, fut_crash_policy policy, enum crash_kind kind) {
    fut_executor *ex = pp_pool(1, m, policy);
    char k = (char)kind;
    fut_future *a = kind == CRASH_EXTERNAL_KILL ? pp_submit(ex, pp_report_block_echo, NULL, 0)
                                                : pp_submit(ex, crash_after_gate, &k, 1);
    fut_future *b = pp_submit(ex, pp_echo, "b", 2);
    fut_future *c = pp_submit(ex, pp_echo, "c", 2);
    pid_t pid = pp_read_pid();
    if (kind == CRASH_EXTERNAL_KILL)
        CHECK(kill(pid, SIGKILL) == 0);
    else
        pp_gate_open(1);
    const char *want = kind == CRASH_SEGV      ? "killed by signal 11 (SIGSEGV)"
                       : kind == CRASH_EXIT3   ? "exit status 3"
                                               : "killed by signal 9 (SIGKILL)";
    if (policy == FUT_CRASH_BREAK_POOL) {
        const char *da = pp_expect_failure(a, FUT_ERR_BROKEN_POOL);
        CHECK(da != NULL && strstr(da, want) != NULL && strstr(da, "while running task") != NULL);
        /* Everything outstanding fails, each with its own record (X2). */
        const char *db = pp_expect_failure(b, FUT_ERR_BROKEN_POOL);
        const char *dc = pp_expect_failure(c, FUT_ERR_BROKEN_POOL);
        CHECK(db != da && dc != db && strstr(db, want) != NULL);
        fut_future *d;
        CHECK_ST(fut_executor_submit(ex, pp_echo, "d", 2, NULL, &d), FUT_ERR_BROKEN_POOL);
        CHECK(pp_log_contains("broken"));
    } else {
        const char *da = pp_expect_failure(a, FUT_ERR_WORKER_DIED);
        CHECK(da != NULL && strstr(da, want) != NULL && strstr(da, "worker ") != NULL);
        pp_expect_bytes(b, "b", 2);
        pp_expect_bytes(c, "c", 2);
        fut_future *d = pp_submit(ex, pp_echo, "d", 2);
        pp_expect_bytes(d, "d", 2);
        fut_future_release(d);
    }
    fut_future_release(a);
    fut_future_release(b);
    fut_future_release(c);
    /* B9: shutdown still returns. */
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
    fut_executor_release(ex);
    (void)crash_name;
}

/* FUT_CRASH_FAIL_TASK back-off: a run of crashing tasks neither hangs nor
 * storms; the work behind them completes. */
static void test_crash_storm(fut_start_method m) {
    fut_executor *ex = pp_pool(1, m, FUT_CRASH_FAIL_TASK);
    enum { N = 6 };
    fut_future *bad[N];
    for (int i = 0; i < N; i++) bad[i] = pp_submit(ex, pp_segv, NULL, 0);
    fut_future *good = pp_submit(ex, pp_echo, "fine", 5);
    for (int i = 0; i < N; i++) {
        pp_expect_failure(bad[i], FUT_ERR_WORKER_DIED);
        fut_future_release(bad[i]);
    }
    pp_expect_bytes(good, "fine", 5);
    fut_future_release(good);
    fut_executor_release(ex);
}

/* P6, B7: the initializer runs once per worker with its bytes; its failure
 * breaks the pool whatever the crash policy, and is logged. */
static char init_seen[32];
static int32_t init_ok(const void *arg, size_t len) {
    if (len >= sizeof init_seen) return 1;
    memcpy(init_seen, arg, len);
    return 0;
}
static int32_t read_init(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    fut_task_set_result(t, init_seen, strlen(init_seen) + 1, NULL);
    return 0;
}
static int32_t init_fails(const void *arg, size_t len) {
    (void)arg;
    (void)len;
    return 5;
}
static void test_initializer(fut_start_method m, fut_crash_policy policy) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.max_workers = 2;
    o.start_method = m;
    o.on_worker_crash = policy;
    o.initializer = init_ok;
    o.initializer_arg = "primed";
    o.initializer_arg_len = 7;
    fut_executor *ex;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_OK);
    fut_future *f = pp_submit(ex, read_init, NULL, 0);
    pp_expect_bytes(f, "primed", 7);
    CHECK(init_seen[0] == 0); /* it ran in the worker, not here */
    fut_future_release(f);
    fut_executor_release(ex);

    o.initializer = init_fails;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_OK);
    fut_status st = fut_executor_submit(ex, pp_echo, "x", 2, NULL, &f);
    if (st == FUT_OK) {
        const char *d = pp_expect_failure(f, FUT_ERR_BROKEN_POOL);
        CHECK(d != NULL && strstr(d, "initializer") != NULL);
        fut_future_release(f);
    } else {
        CHECK(st == FUT_ERR_BROKEN_POOL); /* the break came first */
    }
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
    CHECK_ST(fut_executor_submit(ex, pp_echo, "x", 2, NULL, &f), FUT_ERR_BROKEN_POOL);
    CHECK(pp_log_contains("initializer failed with code 5"));
    fut_executor_release(ex);
}

/* P10, X11: max_tasks_per_child replaces workers through the fork server
 * (pids change, results stay right); refused with FUT_START_FORK. */
static void test_max_tasks_per_child(void) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.max_workers = 1;
    o.start_method = FUT_START_FORKSERVER;
    o.max_tasks_per_child = 2;
    fut_executor *ex;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_OK);
    enum { N = 6 };
    int32_t pids[N];
    for (int i = 0; i < N; i++) {
        fut_future *f = pp_submit(ex, pp_getpid, NULL, 0);
        void *v;
        CHECK_ST(fut_future_result(f, TU_LONG_TIMEOUT_NS, &v, NULL), FUT_OK);
        pids[i] = *(int32_t *)v;
        fut_future_release(f);
    }
    for (int i = 0; i < N; i += 2) {
        CHECK(pids[i] == pids[i + 1]);
        if (i > 0) CHECK(pids[i] != pids[i - 1]);
    }
    /* A burst through map: every result right, across replacements. */
    int32_t in[40];
    fut_item items[40];
    for (int i = 0; i < 40; i++) {
        in[i] = i;
        items[i].arg = &in[i];
        items[i].arg_len = sizeof in[i];
    }
    fut_map *it;
    CHECK_ST(fut_executor_map(ex, double_or_fail, items, 40, TU_LONG_TIMEOUT_NS, 3, &it), FUT_OK);
    for (int i = 0; i < 40; i++) {
        fut_future *f;
        CHECK_ST(fut_map_next(it, &f), FUT_OK);
        void *v;
        fut_status st = fut_future_result(f, 0, &v, NULL);
        CHECK(i % 10 == 3 ? st == FUT_ERR_TASK_FAILED : (st == FUT_OK && *(int32_t *)v == 2 * i));
        fut_future_release(f);
    }
    fut_map_release(it);
    fut_executor_release(ex);

    o.start_method = FUT_START_FORK;
    ex = NULL;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_ERR_INVALID_ARGUMENT);
    CHECK(ex == NULL);
}

/* P4, P5: with one worker blocked, at most max_workers + 1 = 2 futures are
 * RUNNING; the rest stay PENDING and can be cancelled. */
static void test_call_queue_bound(fut_start_method m) {
    fut_executor *ex = pp_pool(1, m, FUT_CRASH_BREAK_POOL);
    enum { N = 6 };
    fut_future *f[N];
    f[0] = pp_submit(ex, pp_report_block_echo, "0", 2);
    for (int i = 1; i < N; i++) f[i] = pp_submit(ex, pp_block_echo, "n", 2);
    pp_read_pid(); /* the first task runs */
    int running = 0;
    for (int i = 0; i < N; i++) running += fut_future_running(f[i]);
    CHECK(running >= 1 && running <= 2);
    CHECK(fut_future_state(f[0]) == FUT_STATE_RUNNING);
    CHECK(!fut_future_cancel(f[0]));
    for (int i = 2; i < N; i++) {
        CHECK(fut_future_state(f[i]) == FUT_STATE_PENDING);
        CHECK(fut_future_cancel(f[i]));
        CHECK(fut_future_cancelled(f[i]));
    }
    pp_gate_open(2);
    pp_expect_bytes(f[0], "0", 2);
    pp_expect_bytes(f[1], "n", 2);
    for (int i = 0; i < N; i++) fut_future_release(f[i]);
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
    fut_executor_release(ex);
}

/* Our time limit: the worker is killed, the task fails FUT_ERR_TIME_LIMIT,
 * the worker is replaced and the pool goes on (under either policy). */
static void test_time_limit(fut_start_method m, fut_crash_policy policy) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.max_workers = 1;
    o.start_method = m;
    o.on_worker_crash = policy;
    o.task_time_limit_ns = (pp_under_valgrind() ? 2000 : 200) * 1000000LL;
    fut_executor *ex;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_OK);
    fut_future *slow = pp_submit(ex, pp_report_block_echo, NULL, 0); /* never let through */
    fut_future *next = pp_submit(ex, pp_echo, "after", 6);
    pid_t pid = pp_read_pid();
    const char *d = pp_expect_failure(slow, FUT_ERR_TIME_LIMIT);
    CHECK(d != NULL && strstr(d, "time limit") != NULL && strstr(d, "SIGKILL") != NULL);
    pp_expect_bytes(next, "after", 6);
    fut_future *p = pp_submit(ex, pp_getpid, NULL, 0);
    void *v;
    CHECK_ST(fut_future_result(p, TU_LONG_TIMEOUT_NS, &v, NULL), FUT_OK);
    CHECK(*(int32_t *)v != (int32_t)pid); /* replaced */
    fut_future_release(slow);
    fut_future_release(next);
    fut_future_release(p);
    fut_executor_release(ex);
}

/* E3-E5, P12: shutdown(wait=true) runs everything first; wait=false returns
 * at once and the work still completes; submit afterwards is refused. */
static void test_shutdown_wait(fut_start_method m, bool wait) {
    fut_executor *ex = pp_pool(2, m, FUT_CRASH_BREAK_POOL);
    enum { N = 10 };
    fut_future *f[N];
    int32_t in[N];
    for (int i = 0; i < N; i++) {
        in[i] = i;
        f[i] = pp_submit(ex, pp_echo, &in[i], sizeof in[i]);
    }
    CHECK_ST(fut_executor_shutdown(ex, wait, false), FUT_OK);
    if (wait) {
        for (int i = 0; i < N; i++) CHECK(fut_future_done(f[i]));
    }
    fut_future *g;
    CHECK_ST(fut_executor_submit(ex, pp_echo, "x", 2, NULL, &g), FUT_ERR_SHUTDOWN);
    for (int i = 0; i < N; i++) {
        pp_expect_bytes(f[i], &in[i], sizeof in[i]);
        fut_future_release(f[i]);
    }
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK); /* idempotent */
    fut_executor_release(ex);
}

/* E6, P13, W2: cancel_futures cancels what was not sent to a worker; what is
 * in the call queue runs. */
static void test_shutdown_cancel_futures(fut_start_method m) {
    fut_executor *ex = pp_pool(1, m, FUT_CRASH_BREAK_POOL);
    enum { N = 6 };
    fut_future *f[N];
    f[0] = pp_submit(ex, pp_report_block_echo, "0", 2);
    for (int i = 1; i < N; i++) f[i] = pp_submit(ex, pp_echo, "n", 2);
    pp_read_pid();
    CHECK_ST(fut_executor_shutdown(ex, false, true), FUT_OK);
    pp_gate_open(1);
    CHECK_ST(fut_executor_shutdown(ex, true, true), FUT_OK);
    pp_expect_bytes(f[0], "0", 2);
    /* f[1] may have reached the call queue before the cancel (racy, E6). */
    CHECK(fut_future_cancelled(f[1]) || fut_future_state(f[1]) == FUT_STATE_FINISHED);
    for (int i = 2; i < N; i++) {
        void *v;
        CHECK_ST(fut_future_result(f[i], 0, &v, NULL), FUT_ERR_CANCELLED);
    }
    /* Every cancelled future is done for waiters (W2 decision). */
    size_t n_done = 0;
    CHECK_ST(fut_wait(f, N, 0, FUT_ALL_COMPLETED, NULL, &n_done), FUT_OK);
    CHECK(n_done == N);
    for (int i = 0; i < N; i++) fut_future_release(f[i]);
    fut_executor_release(ex);
}

/* B12, X18: shutdown(wait=true) from a callback on the manager thread does
 * not join itself; the pool still shuts down. */
static fut_status from_callback = FUT_OK;
static fut_executor *callback_pool;
static void shutdown_in_callback(fut_future *f, void *user) {
    (void)f;
    (void)user;
    from_callback = fut_executor_shutdown(callback_pool, true, false);
}
static void test_shutdown_from_callback(fut_start_method m) {
    callback_pool = pp_pool(1, m, FUT_CRASH_BREAK_POOL);
    fut_future *f = pp_submit(callback_pool, pp_block_echo, "x", 2);
    CHECK_ST(fut_future_add_done_callback(f, shutdown_in_callback, NULL), FUT_OK);
    pp_gate_open(1);
    pp_expect_bytes(f, "x", 2);
    fut_executor_release(callback_pool); /* joins the manager: the callback is over */
    CHECK(from_callback == FUT_ERR_WOULD_DEADLOCK);
    fut_future_release(f);
}

/* X6, E8: releasing the last reference without shutdown waits for the work. */
static void test_release_without_shutdown(fut_start_method m) {
    fut_executor *ex = pp_pool(2, m, FUT_CRASH_BREAK_POOL);
    fut_future *f = pp_submit(ex, pp_block_echo, "late", 5);
    pp_gate_open(1);
    fut_executor_release(ex);
    CHECK(fut_future_done(f));
    pp_expect_bytes(f, "late", 5);
    fut_future_release(f);
}

/* X17, docs/api.md options: bad options are refused without side effects. */
static void test_options(void) {
    fut_process_pool_options o;
    fut_executor *ex = NULL;
    fut_process_pool_options_init(&o);
    CHECK(o.struct_size == sizeof o && o.max_workers == 0 &&
             o.start_method == FUT_START_FORKSERVER && o.on_worker_crash == FUT_CRASH_BREAK_POOL);
    o.max_workers = 100000;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_ERR_INVALID_ARGUMENT);
    fut_process_pool_options_init(&o);
    o.start_method = 9;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_ERR_INVALID_ARGUMENT);
    fut_process_pool_options_init(&o);
    o.on_worker_crash = 9;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_ERR_INVALID_ARGUMENT);
    fut_process_pool_options_init(&o);
    o.task_time_limit_ns = -1;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_process_pool_new(NULL, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK(ex == NULL);
    /* NULL options: defaults (max_workers = usable CPUs). */
    CHECK_ST(fut_process_pool_new(NULL, &ex), FUT_OK);
    fut_future *f = pp_submit(ex, pp_echo, "d", 2);
    pp_expect_bytes(f, "d", 2);
    fut_future_release(f);
    CHECK_ST(fut_executor_submit(ex, NULL, NULL, 0, NULL, &f), FUT_ERR_INVALID_ARGUMENT);
    fut_executor_release(ex);
}

/* P18, X13: workers (and the fork server) die with their parent. A child
 * process creates a pool, reports its workers' pids and is SIGKILLed; the
 * workers, orphaned to us (subreaper), must end by themselves. */
static void test_parent_death(fut_start_method m) {
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        fut_executor *ex = pp_pool(2, m, FUT_CRASH_BREAK_POOL);
        fut_future *a = pp_submit(ex, pp_report_block_echo, NULL, 0);
        fut_future *b = pp_submit(ex, pp_report_block_echo, NULL, 0);
        (void)a;
        (void)b;
        pause(); /* until killed */
        _exit(1);
    }
    pid_t w1 = pp_read_pid(), w2 = pp_read_pid();
    CHECK(w1 != w2 && w1 != child && w2 != child);
    CHECK(kill(child, SIGKILL) == 0);
    int st;
    CHECK(waitpid(child, &st, 0) == child);
    /* Bounded wait for the orphans: each is reaped here when it dies. */
    int gone = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t r = waitpid(-1, &st, WNOHANG);
        if (r > 0) {
            if (r == w1 || r == w2) gone++;
            continue;
        }
        if (r < 0 && errno == ECHILD) break; /* nothing left at all */
        clock_gettime(CLOCK_MONOTONIC, &now);
        CHECK(now.tv_sec - t0.tv_sec < 30);
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
    }
    /* ECHILD as a subreaper: no descendant is left. The workers were reaped
     * here, or by the fork server itself if it saw its socket close before
     * its own parent-death signal landed. */
    CHECK(gone <= 2);
    CHECK(kill(w1, 0) == -1 && errno == ESRCH);
    CHECK(kill(w2, 0) == -1 && errno == ESRCH);
}

/* X11: a pool does not survive fork(): in a child it refuses work. */
static void test_pool_in_forked_child(void) {
    fut_executor *ex = pp_pool(1, FUT_START_FORKSERVER, FUT_CRASH_BREAK_POOL);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        fut_future *f;
        int ok = fut_executor_submit(ex, pp_echo, "x", 2, NULL, &f) == FUT_ERR_SHUTDOWN;
        _exit(ok ? 0 : 1);
    }
    int st;
    CHECK(waitpid(child, &st, 0) == child);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fut_future *f = pp_submit(ex, pp_echo, "y", 2);
    pp_expect_bytes(f, "y", 2);
    fut_future_release(f);
    fut_executor_release(ex);
}

int main(void) {
    pp_become_subreaper();
    pp_pipes_init();
    fut_set_log_hook(tu_log_capture_fn, &pp_log);
    char name[128];
    PP_RUN(test_options(), "options");
    for (int i = 0; i < 2; i++) {
        fut_start_method m = METHODS[i];
        const char *mn = method_name(m);
#define RUN_M(call, what) PP_RUN_M(name, call, what, mn)
        RUN_M(test_round_trip(m), "round trip");
        RUN_M(test_arg_drop(m), "arg_drop");
        RUN_M(test_large_payload(m), "16 MiB argument and result");
        RUN_M(test_errors(m), "error propagation");
        RUN_M(test_map_chunks(m), "map with chunksize");
        for (int p = 0; p < 2; p++) {
            fut_crash_policy pol = p ? FUT_CRASH_FAIL_TASK : FUT_CRASH_BREAK_POOL;
            for (int k = 0; k < 4; k++) {
                char what[96];
                snprintf(what, sizeof what, "crash %s, %s", crash_name[k],
                         p ? "FAIL_TASK" : "BREAK_POOL");
                RUN_M(test_crash(m, pol, (enum crash_kind)k), what);
            }
            RUN_M(test_initializer(m, pol), p ? "initializer, FAIL_TASK" : "initializer, BREAK_POOL");
            RUN_M(test_time_limit(m, pol), p ? "time limit, FAIL_TASK" : "time limit, BREAK_POOL");
        }
        RUN_M(test_crash_storm(m), "crash storm back-off");
        RUN_M(test_call_queue_bound(m), "call-queue bound");
        RUN_M(test_shutdown_wait(m, true), "shutdown(wait=true)");
        RUN_M(test_shutdown_wait(m, false), "shutdown(wait=false)");
        RUN_M(test_shutdown_cancel_futures(m), "shutdown(cancel_futures)");
        RUN_M(test_shutdown_from_callback(m), "shutdown from a callback");
        RUN_M(test_release_without_shutdown(m), "release without shutdown");
        RUN_M(test_parent_death(m), "workers die with their parent");
    }
    PP_RUN(test_max_tasks_per_child(), "max_tasks_per_child");
    PP_RUN(test_pool_in_forked_child(), "pool in a forked child");
    fut_set_log_hook(NULL, NULL);
    return tu_summary();
}
