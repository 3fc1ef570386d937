/* executor_scenarios.h: behaviour every executor shares (behaviours E, X),
 * written once and run on each pool kind.
 *
 * Each scenario takes a factory `fut_executor *make(size_t max_workers)`.
 * Task functions use only their argument bytes, file descriptors named in
 * them and fut_task_set_result with malloc'ed values, so they also work in a
 * forked worker process. Pipes are opened before the pool is made, so that
 * forked workers inherit them. Callbacks and arg_drop run in this process.
 *
 * A pool that moves some queued work to RUNNING before a worker takes it
 * (process pool, P5) defines SCENARIO_PREDISPATCHED(max_workers) before
 * including this header: that many queued items may escape a cancel.
 */
#ifndef EXECUTOR_SCENARIOS_H
#define EXECUTOR_SCENARIOS_H

#include "pool_test_util.h"

#ifndef SCENARIO_PREDISPATCHED
#define SCENARIO_PREDISPATCHED(max_workers) 0
#endif

typedef fut_executor *(*scen_make_fn)(size_t max_workers);

/* ---- the task ---------------------------------------------------------------
 * Writes a token to `started_fd` (if >= 0), waits for a token on `wait_fd`
 * (if >= 0, at most 30 s), then: value < 0 fails with code -value and a
 * message; else the result is a malloc'ed int64 value * value. */
typedef struct {
    int64_t value;
    int32_t wait_fd;
    int32_t started_fd;
} scen_arg;

static int32_t scen_task(fut_task *task, const void *arg, size_t arg_len) {
    if (arg_len != sizeof(scen_arg)) return 99;
    scen_arg a;
    memcpy(&a, arg, sizeof a);
    if (a.started_fd >= 0) {
        char c = 's';
        if (write(a.started_fd, &c, 1) != 1) return 98;
    }
    if (a.wait_fd >= 0 && !fd_take(a.wait_fd, TU_LONG_TIMEOUT_MS)) return 97;
    if (a.value < 0) {
        fut_task_set_error(task, 0, "negative input");
        return (int32_t)-a.value;
    }
    int64_t *out = malloc(sizeof *out);
    if (!out) return 96;
    *out = a.value * a.value;
    return fut_task_set_result(task, out, sizeof *out, free);
}

static scen_arg scen_plain(int64_t value) {
    scen_arg a = {value, -1, -1};
    return a;
}

/* A task that reports on `started` once it runs, then blocks until a token
 * arrives on `gate`. */
static scen_arg scen_gated(int64_t value, test_pipe gate, test_pipe started) {
    scen_arg a = scen_plain(value);
    a.wait_fd = gate.rd;
    a.started_fd = started.wr;
    return a;
}

/* A heap copy of `a`, for submit with scen_arg_drop. */
static atomic_long scen_drops;
static void scen_arg_drop(void *p) {
    atomic_fetch_add(&scen_drops, 1);
    free(p);
}
static scen_arg *scen_heap(scen_arg a) {
    scen_arg *p = malloc(sizeof *p);
    CHECK(p != NULL);
    *p = a;
    return p;
}

/* Submits a heap copy of `a` with scen_arg_drop; returns the status. */
static fut_status scen_submit(fut_executor *ex, scen_arg a, fut_future **out) {
    scen_arg *p = scen_heap(a);
    fut_status st = fut_executor_submit(ex, scen_task, p, sizeof *p, scen_arg_drop, out);
    if (st != FUT_OK) free(p); /* a refusal leaves the argument to us */
    return st;
}

/* ---- scenarios -------------------------------------------------------------- */

/* E1, F8, X3: submit returns a pending future; its result is the task's value. */
static void scen_submit_result(scen_make_fn make) {
    int base = baseline_threads();
    fut_executor *ex = make(2);
    CHECK(ex != NULL);
    atomic_store(&scen_drops, 0);
    enum { N = 16 };
    fut_future *fs[N];
    for (int i = 0; i < N; i++) CHECK_OK(scen_submit(ex, scen_plain(i), &fs[i]));
    for (int i = 0; i < N; i++) {
        CHECK_EQ(result_i64(fs[i]), (int64_t)i * i);
        CHECK(fut_future_done(fs[i]));
        CHECK(!fut_future_cancelled(fs[i]));
        CHECK_EQ(fut_future_state(fs[i]), FUT_STATE_FINISHED);
        fut_error_info e;
        CHECK_OK(fut_future_exception(fs[i], 0, &e));
        CHECK_EQ(e.kind, FUT_OK);
        fut_future_release(fs[i]);
    }
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    CHECK_EQ(atomic_load(&scen_drops), N); /* arg_drop once per task */
    fut_executor_release(ex);
    CHECK_EQ(threads_after_join(base), base); /* E4: no pool thread left */
}

/* X1, F7, B8: a failing task fails its own future only; the pool goes on. */
static void scen_task_error(scen_make_fn make) {
    fut_executor *ex = make(1);
    fut_future *f, *g;
    CHECK_OK(scen_submit(ex, scen_plain(-7), &f));
    CHECK_ST(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL), FUT_ERR_TASK_FAILED);
    fut_error_info e;
    CHECK_OK(fut_future_exception(f, 0, &e));
    CHECK_EQ(e.kind, FUT_ERR_TASK_FAILED);
    CHECK_EQ(e.code, 7);
    CHECK(e.message && strcmp(e.message, "negative input") == 0);
    CHECK_OK(scen_submit(ex, scen_plain(3), &g)); /* B8: not broken */
    CHECK_EQ(result_i64(g), 9);
    fut_future_release(f);
    fut_future_release(g);
    fut_executor_release(ex);
}

/* E9, E10, E12, X8: map yields in input order; an error stays at its
 * position and iteration goes on; then FUT_END. */
static void scen_map_order_and_errors(scen_make_fn make) {
    fut_executor *ex = make(4);
    enum { N = 40 };
    scen_arg args[N];
    fut_item items[N];
    for (int i = 0; i < N; i++) {
        args[i] = scen_plain(i % 7 == 3 ? -(i + 1) : i);
        items[i].arg = &args[i];
        items[i].arg_len = sizeof args[i];
    }
    fut_map *m;
    CHECK_OK(fut_executor_map(ex, scen_task, items, N, TU_LONG_TIMEOUT_NS, 3, &m));
    for (int i = 0; i < N; i++) {
        fut_future *f;
        CHECK_OK(fut_map_next(m, &f));
        CHECK(fut_future_done(f));
        if (i % 7 == 3) {
            CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_TASK_FAILED);
            fut_error_info e;
            CHECK_OK(fut_future_exception(f, 0, &e));
            CHECK_EQ(e.code, i + 1);
        } else {
            CHECK_EQ(result_i64(f), (int64_t)i * i);
        }
        fut_future_release(f);
    }
    fut_future *f = (fut_future *)0x1;
    CHECK_ST(fut_map_next(m, &f), FUT_END);
    CHECK_ST(fut_map_next(m, &f), FUT_END);
    CHECK(f == (fut_future *)0x1); /* out untouched on FUT_END */
    fut_map_release(m);

    /* No items: nothing to yield (E10). */
    CHECK_OK(fut_executor_map(ex, scen_task, NULL, 0, FUT_WAIT_FOREVER, 1, &m));
    CHECK_ST(fut_map_next(m, &f), FUT_END);
    fut_map_release(m);
    fut_executor_release(ex);
}

/* E11, X8: the map deadline passes while the first call blocks: next()
 * answers FUT_ERR_TIMEOUT, the rest is cancelled and never runs, then FUT_END. */
static void scen_map_deadline(scen_make_fn make) {
    test_pipe gate = pipe_open(), started = pipe_open();
    fut_executor *ex = make(1);
    enum { N = 20 };
    scen_arg args[N];
    fut_item items[N];
    for (int i = 0; i < N; i++) {
        args[i] = scen_plain(i);
        args[i].started_fd = started.wr;
        items[i].arg = &args[i];
        items[i].arg_len = sizeof args[i];
    }
    args[0].wait_fd = gate.rd; /* the first call blocks until released */
    fut_map *m;
    CHECK_OK(fut_executor_map(ex, scen_task, items, N, 100LL * 1000000, 1, &m));
    CHECK(fd_take(started.rd, TU_LONG_TIMEOUT_MS)); /* call 0 runs */
    fut_future *f = NULL;
    CHECK_ST(fut_map_next(m, &f), FUT_ERR_TIMEOUT);
    CHECK_ST(fut_map_next(m, &f), FUT_END);
    CHECK(f == NULL);
    fut_map_release(m);
    fd_put(gate.wr, 1);
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    /* Only call 0 (and what the pool had dispatched already) ever ran. */
    size_t ran = 1 + fd_drain_count(started.rd);
    CHECK(ran <= 1 + (size_t)SCENARIO_PREDISPATCHED(1));
    fut_executor_release(ex);
    pipe_close(&gate);
    pipe_close(&started);
}

/* E14, API conventions: invalid map arguments are refused before any work. */
static void scen_map_invalid(scen_make_fn make) {
    fut_executor *ex = make(1);
    scen_arg a = scen_plain(2);
    fut_item item = {&a, sizeof a};
    fut_map *m = (fut_map *)0x1;
    CHECK_ST(fut_executor_map(ex, scen_task, &item, 1, FUT_WAIT_FOREVER, 0, &m),
             FUT_ERR_INVALID_ARGUMENT); /* chunksize 0 */
    CHECK_ST(fut_executor_map(ex, NULL, &item, 1, FUT_WAIT_FOREVER, 1, &m),
             FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_map(ex, scen_task, &item, 1, FUT_WAIT_FOREVER, 1, NULL),
             FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_map(ex, scen_task, NULL, 3, FUT_WAIT_FOREVER, 1, &m),
             FUT_ERR_INVALID_ARGUMENT);
    fut_item bad = {NULL, 4};
    CHECK_ST(fut_executor_map(ex, scen_task, &bad, 1, FUT_WAIT_FOREVER, 1, &m),
             FUT_ERR_INVALID_ARGUMENT);
    CHECK(m == (fut_map *)0x1);
    CHECK_ST(fut_map_next(NULL, NULL), FUT_ERR_INVALID_ARGUMENT);
    fut_map_release(NULL);
    fut_executor_release(ex);
}

/* API conventions, X6: NULL and foreign handles and NULL pointers are
 * refused with FUT_ERR_INVALID_ARGUMENT and change nothing. */
static void scen_invalid_handles(scen_make_fn make) {
    fut_executor *ex = make(1);
    fut_future *f = (fut_future *)0x1;
    scen_arg a = scen_plain(1);
    CHECK_ST(fut_executor_submit(NULL, scen_task, &a, sizeof a, NULL, &f),
             FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_submit(ex, NULL, &a, sizeof a, NULL, &f), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_submit(ex, scen_task, &a, sizeof a, NULL, NULL),
             FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_submit(ex, scen_task, NULL, 8, NULL, &f), FUT_ERR_INVALID_ARGUMENT);
    CHECK(f == (fut_future *)0x1);
    /* A future handle passed as an executor, and an executor as a future. */
    fut_future *promise;
    CHECK_OK(fut_future_new(&promise));
    CHECK_ST(fut_executor_submit((fut_executor *)promise, scen_task, &a, sizeof a, NULL, &f),
             FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_shutdown((fut_executor *)promise, true, false),
             FUT_ERR_INVALID_ARGUMENT);
    CHECK(fut_executor_retain((fut_executor *)promise) == NULL);
    fut_executor_release((fut_executor *)promise); /* ignored */
    CHECK_EQ(fut_future_state(promise), FUT_STATE_PENDING);
    CHECK_EQ(fut_future_state((fut_future *)ex), FUT_STATE_INVALID);
    CHECK_ST(fut_executor_shutdown(NULL, true, false), FUT_ERR_INVALID_ARGUMENT);
    CHECK(fut_executor_retain(NULL) == NULL);
    fut_executor_release(NULL);
    fut_future_release(promise);
    /* The pool still works. */
    fut_future *g;
    CHECK_OK(fut_executor_submit(ex, scen_task, &a, sizeof a, NULL, &g));
    CHECK_EQ(result_i64(g), 1);
    fut_future_release(g);
    /* A released executor handle is refused (where detectable). */
    fut_executor *ex2 = make(1);
    fut_executor_release(ex2);
    CHECK_ST(fut_executor_shutdown(ex2, false, false), FUT_ERR_INVALID_ARGUMENT);
    fut_executor_release(ex);
}

struct scen_release_ctx {
    tu_latch go;
    int fd;
    size_t n;
};
static void *scen_release_later(void *p) {
    struct scen_release_ctx *c = p;
    if (tu_latch_wait_for(&c->go, TU_SYNC_TIMEOUT_NS)) fd_put(c->fd, c->n);
    return NULL;
}

/* E3, E4: shutdown(wait=true) returns once every accepted task finished and
 * every pool thread was joined. */
static void scen_shutdown_wait(scen_make_fn make) {
    int base = baseline_threads();
    test_pipe gate = pipe_open();
    fut_executor *ex = make(2);
    enum { N = 6 };
    fut_future *fs[N];
    for (int i = 0; i < N; i++) {
        scen_arg a = scen_plain(i);
        a.wait_fd = gate.rd;
        CHECK_OK(scen_submit(ex, a, &fs[i]));
    }
    struct scen_release_ctx c;
    tu_latch_init(&c.go, 1);
    c.fd = gate.wr;
    c.n = N;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, scen_release_later, &c) == 0);
    tu_latch_count_down(&c.go); /* tokens flow while shutdown waits */
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    for (int i = 0; i < N; i++) {
        CHECK(fut_future_done(fs[i])); /* without waiting */
        CHECK_EQ(result_i64(fs[i]), (int64_t)i * i);
        fut_future_release(fs[i]);
    }
    pthread_join(t, NULL);
    tu_latch_destroy(&c.go);
    CHECK_EQ(threads_after_join(base), base);
    CHECK_OK(fut_executor_shutdown(ex, true, false)); /* E3: again */
    fut_executor_release(ex);
    pipe_close(&gate);
}

/* E5: shutdown(wait=false) returns at once; accepted work still completes. */
static void scen_shutdown_nowait(scen_make_fn make) {
    test_pipe gate = pipe_open(), started = pipe_open();
    fut_executor *ex = make(1);
    fut_future *f, *g;
    CHECK_OK(scen_submit(ex, scen_gated(5, gate, started), &f));
    CHECK_OK(scen_submit(ex, scen_plain(6), &g)); /* queued behind f */
    CHECK(fd_take(started.rd, TU_LONG_TIMEOUT_MS));
    /* Would hang (watchdog) if it waited: f waits for a token sent below. */
    CHECK_OK(fut_executor_shutdown(ex, false, false));
    CHECK(!fut_future_done(f));
    fut_future *h = (fut_future *)0x1;
    CHECK_ST(scen_submit(ex, scen_plain(1), &h), FUT_ERR_SHUTDOWN);
    CHECK(h == (fut_future *)0x1);
    fd_put(gate.wr, 1);
    CHECK_EQ(result_i64(f), 25);
    CHECK_EQ(result_i64(g), 36);
    fut_future_release(f);
    fut_future_release(g);
    fut_executor_release(ex);
    pipe_close(&gate);
    pipe_close(&started);
}

/* E1, API: submit after shutdown is refused with FUT_ERR_SHUTDOWN and does
 * not call arg_drop (the caller keeps the argument). */
static int scen_refused_drop_calls;
static void scen_refused_drop(void *p) {
    (void)p;
    scen_refused_drop_calls++;
}
static void scen_submit_after_shutdown(scen_make_fn make) {
    fut_executor *ex = make(1);
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    scen_arg a = scen_plain(1);
    fut_future *f = (fut_future *)0x1;
    scen_refused_drop_calls = 0;
    CHECK_ST(fut_executor_submit(ex, scen_task, &a, sizeof a, scen_refused_drop, &f),
             FUT_ERR_SHUTDOWN);
    CHECK(f == (fut_future *)0x1);
    CHECK_EQ(scen_refused_drop_calls, 0);
    fut_item item = {&a, sizeof a};
    fut_map *m = (fut_map *)0x1;
    CHECK_ST(fut_executor_map(ex, scen_task, &item, 1, FUT_WAIT_FOREVER, 1, &m),
             FUT_ERR_SHUTDOWN);
    CHECK(m == (fut_map *)0x1);
    fut_executor_release(ex);
}

static atomic_long scen_callbacks;
static void scen_count_cb(fut_future *f, void *user) {
    (void)f;
    (void)user;
    atomic_fetch_add(&scen_callbacks, 1);
}

struct scen_waiter {
    fut_future *f;
    tu_latch done;
    fut_status st;
    size_t n_done;
};
static void *scen_wait_thread(void *p) {
    struct scen_waiter *w = p;
    w->st = fut_wait(&w->f, 1, TU_LONG_TIMEOUT_NS, FUT_ALL_COMPLETED, NULL, &w->n_done);
    tu_latch_count_down(&w->done);
    return NULL;
}

/* E6, T9, W2: shutdown(cancel_futures) cancels queued work: waiters wake,
 * callbacks run (here, on this thread), arg_drop runs exactly once per task;
 * running work finishes. */
static void scen_cancel_futures(scen_make_fn make) {
    test_pipe gate = pipe_open(), started = pipe_open();
    int base = baseline_threads();
    fut_executor *ex = make(1);
    atomic_store(&scen_drops, 0);
    atomic_store(&scen_callbacks, 0);
    fut_future *blocker;
    CHECK_OK(scen_submit(ex, scen_gated(4, gate, started), &blocker));
    CHECK(fd_take(started.rd, TU_LONG_TIMEOUT_MS));
    enum { N = 20 };
    fut_future *fs[N];
    for (int i = 0; i < N; i++) {
        CHECK_OK(scen_submit(ex, scen_plain(i), &fs[i]));
        CHECK_OK(fut_future_add_done_callback(fs[i], scen_count_cb, NULL));
    }
    struct scen_waiter w;
    w.f = fs[N - 1];
    tu_latch_init(&w.done, 1);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, scen_wait_thread, &w) == 0);

    CHECK_OK(fut_executor_shutdown(ex, false, true));
    /* The waiter wakes although the blocker still runs (W2 decision). A
     * process pool may apply the cancellation a little later (P13). */
    LATCH_WAIT(&w.done);
    CHECK_OK(w.st);
    CHECK_EQ(w.n_done, 1);
    CHECK(fut_future_cancelled(fs[N - 1]));
    CHECK(!fut_future_done(blocker));
    size_t escaped = (size_t)SCENARIO_PREDISPATCHED(1);
    size_t cancelled = 0;
    for (int i = 0; i < N; i++) cancelled += fut_future_cancelled(fs[i]);
    CHECK(cancelled + escaped >= N);

    fd_put(gate.wr, 1);
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    CHECK_EQ(result_i64(blocker), 16);
    for (int i = 0; i < N; i++) {
        CHECK(fut_future_done(fs[i]));
        if (!fut_future_cancelled(fs[i])) CHECK_EQ(result_i64(fs[i]), (int64_t)i * i);
        fut_future_release(fs[i]);
    }
    CHECK_EQ(atomic_load(&scen_callbacks), N);
    CHECK_EQ(atomic_load(&scen_drops), N + 1); /* exactly once each */
    pthread_join(t, NULL);
    CHECK_EQ(threads_after_join(base), base);
    tu_latch_destroy(&w.done);
    fut_future_release(blocker);
    fut_executor_release(ex);
    pipe_close(&gate);
    pipe_close(&started);
}

/* T9 decision, X5: callbacks of futures cancelled by shutdown run with no
 * executor lock held: one that calls submit gets FUT_ERR_SHUTDOWN, one that
 * calls shutdown(wait=true) from this thread joins without deadlock. */
struct scen_cb_submit {
    fut_executor *ex;
    int gate_wr;
    atomic_int shutdown_answers;
    atomic_int other_answers;
};
static void scen_cb_submits(fut_future *f, void *user) {
    (void)f;
    struct scen_cb_submit *c = user;
    fut_future *g = NULL;
    fut_status st = scen_submit(c->ex, scen_plain(1), &g);
    if (st == FUT_ERR_SHUTDOWN)
        atomic_fetch_add(&c->shutdown_answers, 1);
    else {
        atomic_fetch_add(&c->other_answers, 1);
        if (st == FUT_OK) fut_future_release(g);
    }
}
static void scen_cb_shuts_down(fut_future *f, void *user) {
    (void)f;
    struct scen_cb_submit *c = user;
    fd_put(c->gate_wr, 1); /* lets the blocker finish, so the join can end */
    /* FUT_ERR_WOULD_DEADLOCK where the pool runs these callbacks on a thread
     * of its own (a process pool's manager); the thread pool runs them on
     * the thread calling shutdown, which joins. */
    fut_status st = fut_executor_shutdown(c->ex, true, false);
    if (st != FUT_OK && st != FUT_ERR_WOULD_DEADLOCK) atomic_fetch_add(&c->other_answers, 1);
}
static void scen_callback_submit_during_shutdown(scen_make_fn make) {
    test_pipe gate = pipe_open(), started = pipe_open();
    fut_executor *ex = make(1);
    struct scen_cb_submit c = {ex, gate.wr, 0, 0};
    fut_future *blocker;
    CHECK_OK(scen_submit(ex, scen_gated(2, gate, started), &blocker));
    CHECK(fd_take(started.rd, TU_LONG_TIMEOUT_MS));
    enum { N = 8 };
    fut_future *fs[N];
    for (int i = 0; i < N; i++) {
        CHECK_OK(scen_submit(ex, scen_plain(i), &fs[i]));
        CHECK_OK(fut_future_add_done_callback(fs[i], scen_cb_submits, &c));
    }
    CHECK_OK(fut_future_add_done_callback(fs[N - 1], scen_cb_shuts_down, &c));
    CHECK_OK(fut_executor_shutdown(ex, false, true));
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    for (int i = 0; i < N; i++) {
        CHECK(fut_future_done(fs[i]));
        fut_future_release(fs[i]);
    }
    CHECK_EQ(atomic_load(&c.other_answers), 0);
    CHECK_EQ(atomic_load(&c.shutdown_answers), N);
    CHECK_EQ(result_i64(blocker), 4);
    fut_future_release(blocker);
    fut_executor_release(ex);
    pipe_close(&gate);
    pipe_close(&started);
}

/* E3: shutdown is safe from several threads at once; each waiting caller
 * returns after the work is done. */
struct scen_sd {
    fut_executor *ex;
    tu_latch go;
    fut_status st;
};
static void *scen_sd_thread(void *p) {
    struct scen_sd *s = p;
    tu_latch_wait_for(&s->go, TU_SYNC_TIMEOUT_NS);
    s->st = fut_executor_shutdown(s->ex, true, false);
    return NULL;
}
static void scen_shutdown_from_many_threads(scen_make_fn make) {
    int base = baseline_threads();
    fut_executor *ex = make(3);
    enum { N = 30, T = 4 };
    fut_future *fs[N];
    for (int i = 0; i < N; i++) CHECK_OK(scen_submit(ex, scen_plain(i), &fs[i]));
    struct scen_sd s[T];
    pthread_t t[T];
    for (int i = 0; i < T; i++) {
        s[i].ex = ex;
        s[i].st = -100;
        tu_latch_init(&s[i].go, 1);
        CHECK(pthread_create(&t[i], NULL, scen_sd_thread, &s[i]) == 0);
    }
    for (int i = 0; i < T; i++) tu_latch_count_down(&s[i].go);
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        CHECK_OK(s[i].st);
        tu_latch_destroy(&s[i].go);
    }
    for (int i = 0; i < N; i++) {
        CHECK(fut_future_done(fs[i]));
        CHECK_EQ(result_i64(fs[i]), (int64_t)i * i);
        fut_future_release(fs[i]);
    }
    CHECK_EQ(threads_after_join(base), base);
    fut_executor_release(ex);
}

/* X6, API: the executor holds its own reference to every future it has not
 * completed: releasing ours right after submit is fine and callbacks still
 * run; the last executor release is shutdown(wait=true). */
static void scen_release_early(scen_make_fn make) {
    int base = baseline_threads();
    fut_executor *ex = make(2);
    atomic_store(&scen_callbacks, 0);
    atomic_store(&scen_drops, 0);
    size_t n = tu_scaled(200, 20);
    for (size_t i = 0; i < n; i++) {
        fut_future *f;
        CHECK_OK(scen_submit(ex, scen_plain((int64_t)i), &f));
        CHECK_OK(fut_future_add_done_callback(f, scen_count_cb, NULL));
        fut_future_release(f);
    }
    fut_executor_release(ex); /* joins: every task ran */
    CHECK_EQ(atomic_load(&scen_callbacks), (long)n);
    CHECK_EQ(atomic_load(&scen_drops), (long)n);
    CHECK_EQ(threads_after_join(base), base);
}

/* E1, E3, E4, X6: 8 threads submit 10,000 tasks each while a shutdown races
 * with the end of it: every accepted future ends done, refusals are
 * FUT_ERR_SHUTDOWN, nothing hangs, no pool thread is left. */
struct scen_stress {
    fut_executor *ex;
    size_t n;
    fut_future **fs;
    size_t accepted;
    size_t refused;
    size_t other;
    tu_latch *near_end;
};
static void *scen_stress_thread(void *p) {
    struct scen_stress *s = p;
    for (size_t i = 0; i < s->n; i++) {
        if (i == s->n - s->n / 10) tu_latch_count_down(s->near_end);
        fut_future *f;
        fut_status st = scen_submit(s->ex, scen_plain((int64_t)(i % 1000)), &f);
        if (st == FUT_OK)
            s->fs[s->accepted++] = f;
        else if (st == FUT_ERR_SHUTDOWN)
            s->refused++;
        else
            s->other++;
    }
    return NULL;
}
/* `T` threads submit `per` tasks each to a pool of `workers`; when every
 * thread is 90% through, shutdown(wait=true, cancel_futures) races with the
 * rest. */
enum { SCEN_STRESS_MAX_THREADS = 8 };
static void scen_stress_race(scen_make_fn make, size_t workers, int T, size_t per,
                             bool cancel_futures) {
    int base = baseline_threads();
    fut_executor *ex = make(workers);
    struct scen_stress s[SCEN_STRESS_MAX_THREADS];
    pthread_t t[SCEN_STRESS_MAX_THREADS];
    CHECK(T <= SCEN_STRESS_MAX_THREADS);
    tu_latch near_end;
    tu_latch_init(&near_end, (long)T);
    for (int i = 0; i < T; i++) {
        s[i] = (struct scen_stress){ex, per, malloc(per * sizeof(fut_future *)), 0, 0, 0, &near_end};
        CHECK(s[i].fs != NULL);
        CHECK(pthread_create(&t[i], NULL, scen_stress_thread, &s[i]) == 0);
    }
    LATCH_WAIT(&near_end);
    CHECK_OK(fut_executor_shutdown(ex, true, cancel_futures));
    for (int i = 0; i < T; i++) pthread_join(t[i], NULL);
    size_t accepted = 0;
    for (int i = 0; i < T; i++) {
        CHECK_EQ(s[i].other, 0);
        CHECK_EQ(s[i].accepted + s[i].refused, per);
        accepted += s[i].accepted;
        for (size_t k = 0; k < s[i].accepted; k++) {
            /* Done already: shutdown(wait) ran (or cancelled) them all. */
            CHECK(fut_future_done(s[i].fs[k]));
            fut_status st = fut_future_result(s[i].fs[k], 0, NULL, NULL);
            if (cancel_futures)
                CHECK(st == FUT_OK || st == FUT_ERR_CANCELLED);
            else
                CHECK_ST(st, FUT_OK);
            fut_future_release(s[i].fs[k]);
        }
        free(s[i].fs);
    }
    CHECK(accepted >= (size_t)T * (per - per / 10));
    CHECK_EQ(threads_after_join(base), base);
    tu_latch_destroy(&near_end);
    fut_executor_release(ex);
}

static void scen_stress_submit_shutdown_race(scen_make_fn make) {
    scen_stress_race(make, 4, 8, tu_scaled(10000, 200), false);
}

/* Same race, but with cancel_futures: every accepted future is done, either
 * finished or cancelled. */
static void scen_stress_cancel_race(scen_make_fn make) {
    scen_stress_race(make, 2, 4, tu_scaled(5000, 100), true);
}

/* Runs every shared scenario on the executors `make` builds, each under the
 * test_util.h watchdog; the program ends with tu_summary(). */
static void run_executor_scenarios(scen_make_fn make) {
#define SCEN_RUN(fn)                          \
    do {                                      \
        int64_t t0_ = tu_test_begin(#fn);     \
        fn(make);                             \
        tu_test_end(t0_);                     \
    } while (0)
    SCEN_RUN(scen_submit_result);
    SCEN_RUN(scen_task_error);
    SCEN_RUN(scen_map_order_and_errors);
    SCEN_RUN(scen_map_deadline);
    SCEN_RUN(scen_map_invalid);
    SCEN_RUN(scen_invalid_handles);
    SCEN_RUN(scen_shutdown_wait);
    SCEN_RUN(scen_shutdown_nowait);
    SCEN_RUN(scen_submit_after_shutdown);
    SCEN_RUN(scen_cancel_futures);
    SCEN_RUN(scen_callback_submit_during_shutdown);
    SCEN_RUN(scen_shutdown_from_many_threads);
    SCEN_RUN(scen_release_early);
    SCEN_RUN(scen_stress_submit_shutdown_race);
    SCEN_RUN(scen_stress_cancel_race);
#undef SCEN_RUN
}

#endif /* EXECUTOR_SCENARIOS_H */
