/*
 * test_core_callbacks.c — done-callbacks (F12–F16, W15, X5, X15 and docs/api.md
 * "Future": exactly once, registration order, completing thread, re-entrancy, last release).
 */
#include "test_util.h"

/* ------------------------------------------------------------------------------------------ */
/* A callback journal                                                                         */
/* ------------------------------------------------------------------------------------------ */

enum { JMAX = 4096 };

typedef struct journal {
    pthread_mutex_t m;
    int n;
    int ids[JMAX];
    pthread_t threads[JMAX];
    fut_future *futures[JMAX];
} journal;

static void journal_init(journal *j)
{
    pthread_mutex_init(&j->m, NULL);
    j->n = 0;
}

static void journal_destroy(journal *j)
{
    pthread_mutex_destroy(&j->m);
}

static int journal_count(journal *j)
{
    pthread_mutex_lock(&j->m);
    int n = j->n;
    pthread_mutex_unlock(&j->m);
    return n;
}

static void journal_add(journal *j, int id, fut_future *f)
{
    pthread_mutex_lock(&j->m);
    if (j->n < JMAX) {
        j->ids[j->n] = id;
        j->threads[j->n] = pthread_self();
        j->futures[j->n] = f;
    }
    j->n++;
    pthread_mutex_unlock(&j->m);
}

typedef struct entry {
    journal *j;
    int id;
} entry;

static void record_cb(fut_future *f, void *user)
{
    entry *e = (entry *)user;
    journal_add(e->j, e->id, f);
}

/* checks that the journal holds exactly ids 0..n-1 in order, for f, on thread t */
static void check_journal(journal *j, int n, fut_future *f, pthread_t t)
{
    CHECK_EQ(journal_count(j), n);
    for (int i = 0; i < n; i++) {
        CHECK_EQ(j->ids[i], i);
        CHECK_PTR_EQ(j->futures[i], f);
        CHECK(pthread_equal(j->threads[i], t));
    }
}

/* ------------------------------------------------------------------------------------------ */
/* F12, F14: before / after completion, order, exactly once                                   */
/* ------------------------------------------------------------------------------------------ */

enum completion { C_RESULT, C_EXCEPTION, C_CANCEL, C_RUNNING_RESULT, C_NOTIFY_CANCEL, C_COUNT };

static void complete(fut_future *f, enum completion how)
{
    switch (how) {
    case C_RESULT:
        CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
        break;
    case C_EXCEPTION:
        CHECK_ST(fut_future_set_exception(f, 3, "cb test"), FUT_OK);
        break;
    case C_CANCEL:
        CHECK(fut_future_cancel(f));
        break;
    case C_RUNNING_RESULT:
        CHECK(fut_future_set_running_or_notify_cancel(f));
        CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
        break;
    case C_NOTIFY_CANCEL:
        CHECK(fut_future_cancel(f));
        CHECK(!fut_future_set_running_or_notify_cancel(f));
        break;
    default:
        CHECK(0);
    }
}

/* F12: callbacks added before completion do not run early, then run exactly once, in
 * registration order, each receiving the future, for every way of completing. */
TEST(F12_callbacks_before_completion_order_and_once)
{
    for (int how = 0; how < C_COUNT; how++) {
        journal j;
        journal_init(&j);
        enum { N = 7 };
        entry es[N];
        fut_future *f = NEW_FUTURE();
        for (int i = 0; i < N; i++) {
            es[i].j = &j;
            es[i].id = i;
            CHECK_ST(fut_future_add_done_callback(f, record_cb, &es[i]), FUT_OK);
        }
        CHECK_EQ(journal_count(&j), 0);
        if (how == C_RUNNING_RESULT) {
            CHECK(fut_future_set_running_or_notify_cancel(f));
            CHECK_EQ(journal_count(&j), 0); /* RUNNING is not done */
            CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
        } else {
            complete(f, (enum completion)how);
        }
        check_journal(&j, N, f, pthread_self());

        /* exactly once: nothing that follows runs them again (the set_running misuse on a
         * finished future is logged: keep it out of the test output) */
        tu_log_capture cap;
        tu_log_capture_init(&cap);
        fut_set_log_hook(tu_log_capture_fn, &cap);
        CHECK(!fut_future_set_running_or_notify_cancel(f));
        fut_set_log_hook(NULL, NULL);
        tu_log_capture_destroy(&cap);
        fut_future_cancel(f);
        fut_future_set_result(f, NULL, 0, NULL);
        fut_future_set_exception(f, 1, "again");
        CHECK_EQ(journal_count(&j), N);
        fut_future_release(f);
        CHECK_EQ(journal_count(&j), N);
        journal_destroy(&j);
    }
}

/* F12: many callbacks keep their registration order. */
TEST(F12_many_callbacks_keep_order)
{
    journal j;
    journal_init(&j);
    enum { N = 1000 };
    entry *es = malloc(sizeof *es * N);
    CHECK(es != NULL);
    fut_future *f = NEW_FUTURE();
    for (int i = 0; i < N; i++) {
        es[i].j = &j;
        es[i].id = i;
        CHECK_ST(fut_future_add_done_callback(f, record_cb, &es[i]), FUT_OK);
    }
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    check_journal(&j, N, f, pthread_self());
    fut_future_release(f);
    free(es);
    journal_destroy(&j);
}

/* F14: on a done future (finished ok, failed, cancelled, cancelled+notified) the callback runs
 * at once, in the caller, before add_done_callback returns; each added one runs once. */
TEST(F14_callback_added_after_completion_runs_at_once)
{
    for (int how = 0; how < C_COUNT; how++) {
        journal j;
        journal_init(&j);
        fut_future *f = NEW_FUTURE();
        complete(f, (enum completion)how);
        entry es[3];
        for (int i = 0; i < 3; i++) {
            es[i].j = &j;
            es[i].id = i;
            CHECK_ST(fut_future_add_done_callback(f, record_cb, &es[i]), FUT_OK);
            CHECK_EQ(journal_count(&j), i + 1);
        }
        check_journal(&j, 3, f, pthread_self());
        fut_future_release(f);
        CHECK_EQ(journal_count(&j), 3);
        journal_destroy(&j);
    }
}

/* F4 F12 X5: a callback registered on a cancelled future runs at once; a second cancel does
 * not run callbacks again. */
TEST(F4_F14_cancelled_future_callback_at_once_and_not_again)
{
    journal j;
    journal_init(&j);
    entry e0 = {&j, 0}, e1 = {&j, 1};
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_add_done_callback(f, record_cb, &e0), FUT_OK);
    CHECK(fut_future_cancel(f));
    CHECK_EQ(journal_count(&j), 1);
    CHECK_ST(fut_future_add_done_callback(f, record_cb, &e1), FUT_OK);
    CHECK_EQ(journal_count(&j), 2);
    CHECK(fut_future_cancel(f));
    CHECK(!fut_future_set_running_or_notify_cancel(f));
    CHECK_EQ(journal_count(&j), 2);
    check_journal(&j, 2, f, pthread_self());
    fut_future_release(f);
    journal_destroy(&j);
}

/* ------------------------------------------------------------------------------------------ */
/* F13: which thread                                                                          */
/* ------------------------------------------------------------------------------------------ */

typedef struct completer {
    fut_future *f;
    enum completion how;
    pthread_t self;
} completer;

static void *completer_main(void *arg)
{
    completer *c = (completer *)arg;
    c->self = pthread_self();
    complete(c->f, c->how);
    return NULL;
}

/* F13: callbacks registered before completion run on the thread that completes the future
 * (set_result, set_exception, cancel, set_running+set_result) — not on the registering one. */
TEST(F13_callbacks_run_on_completing_thread)
{
    for (int how = 0; how < C_COUNT; how++) {
        journal j;
        journal_init(&j);
        entry es[3] = {{&j, 0}, {&j, 1}, {&j, 2}};
        fut_future *f = NEW_FUTURE();
        for (int i = 0; i < 3; i++)
            CHECK_ST(fut_future_add_done_callback(f, record_cb, &es[i]), FUT_OK);
        completer c = {f, (enum completion)how, pthread_self()};
        pthread_t t = SPAWN(completer_main, &c);
        JOIN(t);
        CHECK(!pthread_equal(c.self, pthread_self()));
        check_journal(&j, 3, f, c.self);
        fut_future_release(f);
        journal_destroy(&j);
    }
}

typedef struct late_adder {
    fut_future *f;
    entry *e;
    pthread_t self;
    int count_after_add;
} late_adder;

static void *late_adder_main(void *arg)
{
    late_adder *a = (late_adder *)arg;
    a->self = pthread_self();
    CHECK_ST(fut_future_add_done_callback(a->f, record_cb, a->e), FUT_OK);
    a->count_after_add = journal_count(a->e->j);
    return NULL;
}

/* F13 F14: a callback added to a done future runs on the adding thread. */
TEST(F13_F14_late_callback_runs_on_adding_thread)
{
    journal j;
    journal_init(&j);
    entry e = {&j, 0};
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    late_adder a = {f, &e, pthread_self(), -1};
    pthread_t t = SPAWN(late_adder_main, &a);
    JOIN(t);
    CHECK_EQ(a.count_after_add, 1);
    check_journal(&j, 1, f, a.self);
    fut_future_release(f);
    journal_destroy(&j);
}

/* ------------------------------------------------------------------------------------------ */
/* F16, X5: re-entrancy                                                                       */
/* ------------------------------------------------------------------------------------------ */

typedef struct reentrant_ctx {
    journal *j;
    entry inner;
    int inner_ran_before_add_returned;
    fut_status add_status;
    fut_status result_status;
    void *result_ptr;
    size_t result_len;
    fut_status exc_status;
    fut_error_info exc;
    fut_state state;
    bool done, cancelled, running;
    bool cancel_ret;
    fut_status set_result_status, set_exception_status;
    fut_status wait_status;
    size_t wait_done;
} reentrant_ctx;

static void reentrant_cb(fut_future *f, void *user)
{
    reentrant_ctx *c = (reentrant_ctx *)user;
    journal_add(c->j, 100, f);
    /* F16: add another callback: runs at once */
    int before = journal_count(c->j);
    c->add_status = fut_future_add_done_callback(f, record_cb, &c->inner);
    c->inner_ran_before_add_returned = journal_count(c->j) - before;
    /* F16: read the future: never blocks */
    c->result_status = fut_future_result(f, TU_LONG_TIMEOUT_NS, &c->result_ptr, &c->result_len);
    c->exc_status = fut_future_exception(f, TU_LONG_TIMEOUT_NS, &c->exc);
    c->state = fut_future_state(f);
    c->done = fut_future_done(f);
    c->cancelled = fut_future_cancelled(f);
    c->running = fut_future_running(f);
    /* cancel / set_* on the done future: refused, no deadlock */
    c->cancel_ret = fut_future_cancel(f);
    c->set_result_status = fut_future_set_result(f, NULL, 0, NULL);
    c->set_exception_status = fut_future_set_exception(f, 1, "inside callback");
    /* wait on the same future from inside its callback */
    uint8_t flag = 0;
    c->wait_status = fut_wait(&f, 1, TU_LONG_TIMEOUT_NS, FUT_ALL_COMPLETED, &flag, &c->wait_done);
}

static int g_value = 77;

/* F16 X5: a callback may add a callback (runs at once), read result/exception (never blocks),
 * query, call cancel/set_result/set_exception (refused) and wait on the same future. */
TEST(F16_X5_reentrant_callback_on_same_future)
{
    for (int how = 0; how < 3; how++) {
        journal j;
        journal_init(&j);
        reentrant_ctx c;
        memset(&c, 0, sizeof c);
        c.j = &j;
        c.inner.j = &j;
        c.inner.id = 200;
        entry after = {&j, 300};
        fut_future *f = NEW_FUTURE();
        CHECK_ST(fut_future_add_done_callback(f, reentrant_cb, &c), FUT_OK);
        CHECK_ST(fut_future_add_done_callback(f, record_cb, &after), FUT_OK);
        if (how == 0)
            CHECK_ST(fut_future_set_result(f, &g_value, sizeof g_value, NULL), FUT_OK);
        else if (how == 1)
            CHECK_ST(fut_future_set_exception(f, 8, "eight"), FUT_OK);
        else
            CHECK(fut_future_cancel(f));

        /* order: reentrant (100), its inner callback at once (200), then the next one (300) */
        CHECK_EQ(journal_count(&j), 3);
        CHECK_EQ(j.ids[0], 100);
        CHECK_EQ(j.ids[1], 200);
        CHECK_EQ(j.ids[2], 300);
        CHECK_ST(c.add_status, FUT_OK);
        CHECK_EQ(c.inner_ran_before_add_returned, 1);
        CHECK(c.done);
        CHECK(!c.running);
        CHECK_ST(c.set_result_status, FUT_ERR_INVALID_STATE);
        CHECK_ST(c.set_exception_status, FUT_ERR_INVALID_STATE);
        CHECK_ST(c.wait_status, FUT_OK);
        CHECK_EQ(c.wait_done, 1);
        if (how == 0) {
            CHECK_ST(c.result_status, FUT_OK);
            CHECK_PTR_EQ(c.result_ptr, &g_value);
            CHECK_EQ(c.result_len, sizeof g_value);
            CHECK_ST(c.exc_status, FUT_OK);
            CHECK_EQ(c.exc.kind, FUT_OK);
            CHECK_EQ(c.state, FUT_STATE_FINISHED);
            CHECK(!c.cancelled);
            CHECK(!c.cancel_ret);
        } else if (how == 1) {
            CHECK_ST(c.result_status, FUT_ERR_TASK_FAILED);
            CHECK_ST(c.exc_status, FUT_OK);
            CHECK_EQ(c.exc.kind, FUT_ERR_TASK_FAILED);
            CHECK_EQ(c.exc.code, 8);
            CHECK_STR_EQ(c.exc.message, "eight");
            CHECK_EQ(c.state, FUT_STATE_FINISHED);
            CHECK(!c.cancelled);
            CHECK(!c.cancel_ret);
        } else {
            CHECK_ST(c.result_status, FUT_ERR_CANCELLED);
            CHECK_ST(c.exc_status, FUT_ERR_CANCELLED);
            CHECK_EQ(c.state, FUT_STATE_CANCELLED);
            CHECK(c.cancelled);
            CHECK(c.cancel_ret); /* F4: cancel on a cancelled future returns true */
        }
        /* the outcome survived the refused calls inside the callback */
        if (how == 0)
            CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_OK);
        else if (how == 1)
            CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_TASK_FAILED);
        else
            CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_CANCELLED);
        CHECK_EQ(journal_count(&j), 3);
        fut_future_release(f);
        journal_destroy(&j);
    }
}

/* F16: a callback added from inside a callback of a future that is being completed by
 * add_done_callback itself (already done) also runs at once: nesting depth 3. */
typedef struct nest_ctx {
    journal *j;
    int depth;
} nest_ctx;

static void nesting_cb(fut_future *f, void *user)
{
    nest_ctx *c = (nest_ctx *)user;
    int my = c->depth++;
    journal_add(c->j, my, f);
    if (my < 3)
        CHECK_ST(fut_future_add_done_callback(f, nesting_cb, c), FUT_OK);
}

TEST(F14_F16_nested_immediate_callbacks)
{
    journal j;
    journal_init(&j);
    nest_ctx c = {&j, 0};
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_add_done_callback(f, nesting_cb, &c), FUT_OK);
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    check_journal(&j, 4, f, pthread_self());
    fut_future_release(f);
    journal_destroy(&j);
}

/* X5 (docs/api.md): a callback may release the last reference to the future; later callbacks still
 * run with a valid future; the value's destructor runs exactly once. */
typedef struct release_ctx {
    journal *j;
    atomic_int *drops;
    int releases;
} release_ctx;

static void releasing_cb(fut_future *f, void *user)
{
    release_ctx *c = (release_ctx *)user;
    journal_add(c->j, 0, f);
    c->releases++;
    fut_future_release(f); /* the last reference the test held */
}

static void reading_cb(fut_future *f, void *user)
{
    release_ctx *c = (release_ctx *)user;
    /* the future must still be alive for the rest of its callbacks */
    fut_status s = fut_future_result(f, 0, NULL, NULL);
    journal_add(c->j, s == FUT_OK || s == FUT_ERR_CANCELLED || s == FUT_ERR_TASK_FAILED ? 1 : -1,
                f);
    CHECK(fut_future_done(f));
}

TEST(X5_callback_releases_last_reference)
{
    for (int how = 0; how < 4; how++) {
        journal j;
        journal_init(&j);
        atomic_int drops = 0;
        release_ctx c = {&j, &drops, 0};
        fut_future *f = NEW_FUTURE();
        CHECK_ST(fut_future_add_done_callback(f, releasing_cb, &c), FUT_OK);
        CHECK_ST(fut_future_add_done_callback(f, reading_cb, &c), FUT_OK);
        /* the caller's only reference is handed to the callback: f must not be used after the
         * completing call */
        if (how == 0) {
            CHECK_ST(fut_future_set_result(f, tu_value_new(&drops, 1), 0, tu_value_drop), FUT_OK);
        } else if (how == 1) {
            CHECK_ST(fut_future_set_exception(f, 1, "x"), FUT_OK);
        } else if (how == 2) {
            CHECK(fut_future_cancel(f));
        } else {
            /* completed from another thread */
            completer cc = {f, C_RESULT, pthread_self()};
            pthread_t t = SPAWN(completer_main, &cc);
            JOIN(t);
        }
        CHECK_EQ(c.releases, 1);
        CHECK_EQ(journal_count(&j), 2);
        CHECK_EQ(j.ids[0], 0);
        CHECK_EQ(j.ids[1], 1);
        CHECK_EQ(atomic_load(&drops), how == 0 ? 1 : 0);
        journal_destroy(&j);
    }
}

/* X5: the same when the callback is added to an already-done future (runs at once inside
 * add_done_callback, which must survive the release of the last reference). */
TEST(X5_immediate_callback_releases_last_reference)
{
    journal j;
    journal_init(&j);
    atomic_int drops = 0;
    release_ctx c = {&j, &drops, 0};
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_set_result(f, tu_value_new(&drops, 1), 0, tu_value_drop), FUT_OK);
    CHECK_ST(fut_future_add_done_callback(f, releasing_cb, &c), FUT_OK);
    CHECK_EQ(c.releases, 1);
    CHECK_EQ(atomic_load(&drops), 1);
    journal_destroy(&j);
}

/* X5 F16: a callback of one future completes, cancels and releases other futures, whose own
 * callbacks then run nested on the same thread. */
typedef struct chain_ctx {
    journal *j;
    fut_future *next; /* completed by this callback, reference released here */
    int id;
} chain_ctx;

static void chain_cb(fut_future *f, void *user)
{
    chain_ctx *c = (chain_ctx *)user;
    journal_add(c->j, c->id, f);
    if (c->next) {
        fut_future *n = c->next;
        c->next = NULL;
        if (c->id % 3 == 0)
            CHECK_ST(fut_future_set_result(n, NULL, 0, NULL), FUT_OK);
        else if (c->id % 3 == 1)
            CHECK(fut_future_cancel(n));
        /* id % 3 == 2: the release alone cancels it (last reference) */
        fut_future_release(n);
    }
}

TEST(F16_X5_callback_chain_completes_other_futures)
{
    enum { N = 50 };
    journal j;
    journal_init(&j);
    fut_future *fs[N];
    chain_ctx cs[N];
    for (int i = 0; i < N; i++)
        fs[i] = NEW_FUTURE();
    for (int i = 0; i < N; i++) {
        cs[i].j = &j;
        cs[i].id = i;
        cs[i].next = i + 1 < N ? fs[i + 1] : NULL;
        CHECK_ST(fut_future_add_done_callback(fs[i], chain_cb, &cs[i]), FUT_OK);
    }
    CHECK_ST(fut_future_set_result(fs[0], NULL, 0, NULL), FUT_OK);
    CHECK_EQ(journal_count(&j), N);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(j.ids[i], i);
        CHECK(pthread_equal(j.threads[i], pthread_self()));
    }
    fut_future_release(fs[0]);
    journal_destroy(&j);
}

/* X5 F16: callbacks run under no library lock: a callback can wait for another thread that
 * uses the same future (and a second future) and that thread makes progress. */
typedef struct helper_ctx {
    fut_future *f;
    fut_future *other;
    tu_latch done;
    fut_status result_status;
    fut_status add_status;
    fut_status wait_status;
    bool state_ok;
    journal *j;
    entry e;
} helper_ctx;

static void *helper_main(void *arg)
{
    helper_ctx *h = (helper_ctx *)arg;
    h->result_status = fut_future_result(h->f, TU_LONG_TIMEOUT_NS, NULL, NULL);
    h->state_ok = fut_future_done(h->f) && fut_future_state(h->f) == FUT_STATE_FINISHED;
    h->add_status = fut_future_add_done_callback(h->f, record_cb, &h->e);
    fut_future *both[2] = {h->f, h->other};
    h->wait_status = fut_wait(both, 2, TU_LONG_TIMEOUT_NS, FUT_ALL_COMPLETED, NULL, NULL);
    tu_latch_count_down(&h->done);
    return NULL;
}

static void waiting_cb(fut_future *f, void *user)
{
    helper_ctx *h = (helper_ctx *)user;
    (void)f;
    /* complete the other future from inside the callback (no lock held) */
    CHECK_ST(fut_future_set_result(h->other, NULL, 0, NULL), FUT_OK);
    pthread_t t = SPAWN(helper_main, h);
    LATCH_WAIT(&h->done); /* would time out if a library lock were held */
    JOIN(t);
}

TEST(X5_F16_callbacks_run_under_no_library_lock)
{
    journal j;
    journal_init(&j);
    helper_ctx h;
    memset(&h, 0, sizeof h);
    h.f = NEW_FUTURE();
    h.other = NEW_FUTURE();
    h.j = &j;
    h.e.j = &j;
    h.e.id = 5;
    tu_latch_init(&h.done, 1);
    CHECK_ST(fut_future_add_done_callback(h.f, waiting_cb, &h), FUT_OK);
    CHECK_ST(fut_future_set_result(h.f, NULL, 0, NULL), FUT_OK);
    CHECK_ST(h.result_status, FUT_OK);
    CHECK(h.state_ok);
    CHECK_ST(h.add_status, FUT_OK);
    CHECK_ST(h.wait_status, FUT_OK);
    CHECK_EQ(journal_count(&j), 1); /* the helper's late callback ran at once, in the helper */
    tu_latch_destroy(&h.done);
    fut_future_release(h.f);
    fut_future_release(h.other);
    journal_destroy(&j);
}

/* ------------------------------------------------------------------------------------------ */
/* F16, W15: callbacks run after waiters were woken                                           */
/* ------------------------------------------------------------------------------------------ */

enum waiter_kind { WK_RESULT, WK_EXCEPTION, WK_WAIT, WK_AS_COMPLETED, WK_COUNT };

typedef struct woken_ctx {
    fut_future *f;
    enum waiter_kind kind;
    tu_latch about_to_block;
    tu_latch woken;
    fut_status status;
} woken_ctx;

static void *blocked_waiter_main(void *arg)
{
    woken_ctx *w = (woken_ctx *)arg;
    tu_latch_count_down(&w->about_to_block);
    switch (w->kind) {
    case WK_RESULT:
        w->status = fut_future_result(w->f, 2 * TU_LONG_TIMEOUT_NS, NULL, NULL);
        break;
    case WK_EXCEPTION: {
        fut_error_info info;
        w->status = fut_future_exception(w->f, 2 * TU_LONG_TIMEOUT_NS, &info);
        break;
    }
    case WK_WAIT: {
        size_t n_done = 0;
        w->status =
            fut_wait(&w->f, 1, 2 * TU_LONG_TIMEOUT_NS, FUT_FIRST_COMPLETED, NULL, &n_done);
        if (w->status == FUT_OK && n_done != 1)
            w->status = FUT_ERR_INTERNAL;
        break;
    }
    case WK_AS_COMPLETED: {
        fut_as_completed *it = NULL;
        w->status = fut_as_completed_new(&w->f, 1, 2 * TU_LONG_TIMEOUT_NS, &it);
        if (w->status == FUT_OK) {
            fut_future *out = NULL;
            size_t idx = 99;
            w->status = fut_as_completed_next(it, &idx, &out);
            if (w->status == FUT_OK && (out != w->f || idx != 0))
                w->status = FUT_ERR_INTERNAL;
            fut_future_release(out);
            fut_as_completed_release(it);
        }
        break;
    }
    default:
        break;
    }
    tu_latch_count_down(&w->woken);
    return NULL;
}

static void wait_for_waiter_cb(fut_future *f, void *user)
{
    woken_ctx *w = (woken_ctx *)user;
    (void)f;
    /* W15 F16: the waiter must already have been woken: it can finish while this callback is
     * still running. If callbacks ran before the wake-up (or under the future's lock), this
     * latch would time out and the test fails. */
    LATCH_WAIT(&w->woken);
}

/* W15 F16: result/exception/wait/as_completed waiters blocked on a future (60 s timeout, longer
 * than the callback's latch) are woken before its callbacks run, whichever of set_result /
 * set_exception / cancel completes it. */
TEST(W15_F16_callbacks_run_after_waiters_woken)
{
    for (int kind = 0; kind < WK_COUNT; kind++) {
        for (int how = 0; how < 3; how++) {
            woken_ctx w;
            memset(&w, 0, sizeof w);
            w.f = NEW_FUTURE();
            w.kind = (enum waiter_kind)kind;
            tu_latch_init(&w.about_to_block, 1);
            tu_latch_init(&w.woken, 1);
            CHECK_ST(fut_future_add_done_callback(w.f, wait_for_waiter_cb, &w), FUT_OK);
            pthread_t t = SPAWN(blocked_waiter_main, &w);
            LATCH_WAIT(&w.about_to_block);
            tu_sleep_ms(2); /* make "really blocked" likely; both orders must pass */
            if (how == 0)
                CHECK_ST(fut_future_set_result(w.f, NULL, 0, NULL), FUT_OK);
            else if (how == 1)
                CHECK_ST(fut_future_set_exception(w.f, 1, "x"), FUT_OK);
            else
                CHECK(fut_future_cancel(w.f));
            JOIN(t);
            fut_status want = FUT_OK;
            if (kind == WK_RESULT)
                want = how == 0 ? FUT_OK : how == 1 ? FUT_ERR_TASK_FAILED : FUT_ERR_CANCELLED;
            if (kind == WK_EXCEPTION)
                want = how == 2 ? FUT_ERR_CANCELLED : FUT_OK;
            CHECK_ST(w.status, want);
            tu_latch_destroy(&w.about_to_block);
            tu_latch_destroy(&w.woken);
            fut_future_release(w.f);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* X5 (docs/api.md): last release of a future that is not done                               */
/* ------------------------------------------------------------------------------------------ */

typedef struct last_release_ctx {
    int calls;
    pthread_t thread;
    bool done, cancelled, running;
    fut_state state;
    fut_status result_status;
} last_release_ctx;

static void last_release_cb(fut_future *f, void *user)
{
    last_release_ctx *c = (last_release_ctx *)user;
    c->calls++;
    c->thread = pthread_self();
    c->done = fut_future_done(f);
    c->cancelled = fut_future_cancelled(f);
    c->running = fut_future_running(f);
    c->state = fut_future_state(f);
    c->result_status = fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL);
}

static void check_last_release_ctx(const last_release_ctx *c, pthread_t expected_thread)
{
    CHECK_EQ(c->calls, 1);
    CHECK(pthread_equal(c->thread, expected_thread));
    CHECK(c->done);
    CHECK(c->cancelled);
    CHECK(!c->running);
    CHECK_EQ(c->state, FUT_STATE_CANCELLED);
    CHECK_ST(c->result_status, FUT_ERR_CANCELLED);
}

/* X5: releasing the last reference to a PENDING future cancels it and runs its callbacks in
 * the releasing thread, exactly once. */
TEST(X5_last_release_of_pending_future_cancels_and_runs_callbacks)
{
    last_release_ctx c1, c2;
    memset(&c1, 0, sizeof c1);
    memset(&c2, 0, sizeof c2);
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_add_done_callback(f, last_release_cb, &c1), FUT_OK);
    CHECK_ST(fut_future_add_done_callback(f, last_release_cb, &c2), FUT_OK);
    fut_future *extra = fut_future_retain(f);
    fut_future_release(extra); /* not the last one: nothing happens */
    CHECK_EQ(c1.calls, 0);
    CHECK_EQ(fut_future_state(f), FUT_STATE_PENDING);
    fut_future_release(f);
    check_last_release_ctx(&c1, pthread_self());
    check_last_release_ctx(&c2, pthread_self());
}

/* X5: the same for a RUNNING future nobody is left to complete. */
TEST(X5_last_release_of_running_future_cancels_and_runs_callbacks)
{
    last_release_ctx c;
    memset(&c, 0, sizeof c);
    fut_future *f = NEW_FUTURE();
    CHECK(fut_future_set_running_or_notify_cancel(f));
    CHECK_ST(fut_future_add_done_callback(f, last_release_cb, &c), FUT_OK);
    fut_future_release(f);
    check_last_release_ctx(&c, pthread_self());
}

/* X5: the last release from another thread runs the callbacks there. */
static void *release_main(void *arg)
{
    fut_future_release((fut_future *)arg);
    return NULL;
}

TEST(X5_last_release_in_other_thread_runs_callbacks_there)
{
    last_release_ctx c;
    memset(&c, 0, sizeof c);
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_add_done_callback(f, last_release_cb, &c), FUT_OK);
    pthread_t t = SPAWN(release_main, f);
    JOIN(t);
    CHECK_EQ(c.calls, 1);
    CHECK(!pthread_equal(c.thread, pthread_self()));
    CHECK(pthread_equal(c.thread, t));
    CHECK(c.cancelled);
}

/* X5: the last release of a DONE future runs no callback again. */
TEST(X5_last_release_of_done_future_runs_nothing_again)
{
    last_release_ctx c;
    memset(&c, 0, sizeof c);
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_add_done_callback(f, last_release_cb, &c), FUT_OK);
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    CHECK_EQ(c.calls, 1);
    fut_future_release(f);
    CHECK_EQ(c.calls, 1);
}

/* X5: a callback run by the last release may register another callback on the dying future
 * (it runs at once) and read it; nothing leaks or crashes. */
static void add_more_cb(fut_future *f, void *user)
{
    journal *j = (journal *)user;
    static entry inner; /* only used from this single-threaded test */
    inner.j = j;
    inner.id = 1;
    journal_add(j, 0, f);
    CHECK_ST(fut_future_add_done_callback(f, record_cb, &inner), FUT_OK);
}

TEST(X5_last_release_callback_adds_callback)
{
    journal j;
    journal_init(&j);
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_add_done_callback(f, add_more_cb, &j), FUT_OK);
    fut_future_release(f);
    CHECK_EQ(journal_count(&j), 2);
    CHECK_EQ(j.ids[0], 0);
    CHECK_EQ(j.ids[1], 1);
    journal_destroy(&j);
}

/* ------------------------------------------------------------------------------------------ */
/* F12 F14: add_done_callback racing completion                                               */
/* ------------------------------------------------------------------------------------------ */

typedef struct race_ctx {
    fut_future **fs;
    atomic_int *counts;
    size_t n;
    tu_barrier *start;
    int role; /* 0: adds callbacks, 1: completes */
} race_ctx;

static void count_cb(fut_future *f, void *user)
{
    (void)f;
    atomic_fetch_add((atomic_int *)user, 1);
}

static void *race_main(void *arg)
{
    race_ctx *r = (race_ctx *)arg;
    BARRIER_WAIT(r->start);
    for (size_t i = 0; i < r->n; i++) {
        if (r->role == 0) {
            CHECK_ST(fut_future_add_done_callback(r->fs[i], count_cb, &r->counts[i]), FUT_OK);
        } else {
            if (i % 2)
                CHECK_ST(fut_future_set_result(r->fs[i], NULL, 0, NULL), FUT_OK);
            else
                CHECK(fut_future_cancel(r->fs[i]));
        }
    }
    return NULL;
}

/* F12 F14: a callback added while another thread completes the future runs exactly once,
 * either deferred or at once — never lost, never twice. */
TEST(F12_F14_add_callback_racing_completion_runs_exactly_once)
{
    size_t n = tu_scaled(20000, 200);
    fut_future **fs = malloc(sizeof *fs * n);
    atomic_int *counts = malloc(sizeof *counts * n);
    CHECK(fs && counts);
    for (size_t i = 0; i < n; i++) {
        fs[i] = NEW_FUTURE();
        atomic_init(&counts[i], 0);
    }
    tu_barrier start;
    tu_barrier_init(&start, 2);
    race_ctx a = {fs, counts, n, &start, 0}, b = {fs, counts, n, &start, 1};
    pthread_t ta = SPAWN(race_main, &a), tb = SPAWN(race_main, &b);
    JOIN(ta);
    JOIN(tb);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(atomic_load(&counts[i]), 1);
        fut_future_release(fs[i]);
        CHECK_EQ(atomic_load(&counts[i]), 1);
    }
    tu_barrier_destroy(&start);
    free(fs);
    free(counts);
}

/* ------------------------------------------------------------------------------------------ */
/* X15: log hook                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* F6 X15: misuse of set_running_or_notify_cancel (RUNNING or FINISHED) is reported through the
 * log hook with its user pointer; NULL restores the default; the callbacks are not run again. */
TEST(F6_X15_log_hook_receives_set_running_misuse)
{
    tu_log_capture cap;
    tu_log_capture_init(&cap);
    fut_set_log_hook(tu_log_capture_fn, &cap);

    journal j;
    journal_init(&j);
    entry e = {&j, 0};
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_add_done_callback(f, record_cb, &e), FUT_OK);
    CHECK(fut_future_set_running_or_notify_cancel(f));
    CHECK_EQ(tu_log_capture_count(&cap), 0);
    CHECK(!fut_future_set_running_or_notify_cancel(f)); /* RUNNING: executor bug */
    CHECK_EQ(tu_log_capture_count(&cap), 1);
    CHECK(strlen(cap.last) > 0);
    CHECK_EQ(fut_future_state(f), FUT_STATE_RUNNING);
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    CHECK_EQ(journal_count(&j), 1);
    CHECK(!fut_future_set_running_or_notify_cancel(f)); /* FINISHED: executor bug */
    CHECK_EQ(tu_log_capture_count(&cap), 2);
    CHECK_EQ(journal_count(&j), 1);

    /* a second hook replaces the first */
    tu_log_capture cap2;
    tu_log_capture_init(&cap2);
    fut_set_log_hook(tu_log_capture_fn, &cap2);
    CHECK(!fut_future_set_running_or_notify_cancel(f));
    CHECK_EQ(tu_log_capture_count(&cap), 2);
    CHECK_EQ(tu_log_capture_count(&cap2), 1);

    fut_set_log_hook(NULL, NULL); /* default again (stderr); must not call our hook */
    CHECK(!fut_future_set_running_or_notify_cancel(f));
    CHECK_EQ(tu_log_capture_count(&cap), 2);
    CHECK_EQ(tu_log_capture_count(&cap2), 1);

    fut_future_release(f);
    journal_destroy(&j);
    tu_log_capture_destroy(&cap);
    tu_log_capture_destroy(&cap2);
}

int main(int argc, char **argv)
{
    return tu_main(argc, argv);
}
