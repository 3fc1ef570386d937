/*
 * test_core_future.c — the Future on its own (F1–F11, F20, X1, X3, X4, X9).
 *
 * Every test names the behaviour item it checks. Synchronisation uses latches only; sleeps,
 * where present, only make a race likely.
 */
#include "test_util.h"

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */
/* ------------------------------------------------------------------------------------------ */

enum kind { K_PENDING, K_RUNNING, K_CANCELLED, K_CANCELLED_NOTIFIED, K_FINISHED_OK, K_FINISHED_FAILED,
            K_RUNNING_THEN_OK, K_COUNT };

static const char *kind_name(enum kind k)
{
    static const char *names[] = {"pending",          "running",         "cancelled",
                                  "cancelled+notified", "finished-ok",   "finished-failed",
                                  "running->finished-ok"};
    return names[k];
}

static int g_payload = 42;

/* Builds a future in the given situation. The value of a successful future is &g_payload,
 * length sizeof(int), no destructor; a failed one has code 7 and message "boom". */
static fut_future *make_in(enum kind k)
{
    fut_future *f = NEW_FUTURE();
    switch (k) {
    case K_PENDING:
        break;
    case K_RUNNING:
        CHECK(fut_future_set_running_or_notify_cancel(f));
        break;
    case K_CANCELLED:
        CHECK(fut_future_cancel(f));
        break;
    case K_CANCELLED_NOTIFIED:
        CHECK(fut_future_cancel(f));
        CHECK(!fut_future_set_running_or_notify_cancel(f));
        break;
    case K_FINISHED_OK:
        CHECK_ST(fut_future_set_result(f, &g_payload, sizeof g_payload, NULL), FUT_OK);
        break;
    case K_FINISHED_FAILED:
        CHECK_ST(fut_future_set_exception(f, 7, "boom"), FUT_OK);
        break;
    case K_RUNNING_THEN_OK:
        CHECK(fut_future_set_running_or_notify_cancel(f));
        CHECK_ST(fut_future_set_result(f, &g_payload, sizeof g_payload, NULL), FUT_OK);
        break;
    default:
        CHECK(0);
    }
    return f;
}

static bool is_done_kind(enum kind k)
{
    return k != K_PENDING && k != K_RUNNING;
}

static bool is_cancelled_kind(enum kind k)
{
    return k == K_CANCELLED || k == K_CANCELLED_NOTIFIED;
}

static bool is_ok_kind(enum kind k)
{
    return k == K_FINISHED_OK || k == K_RUNNING_THEN_OK;
}

static fut_state expected_state(enum kind k)
{
    switch (k) {
    case K_PENDING:
        return FUT_STATE_PENDING;
    case K_RUNNING:
        return FUT_STATE_RUNNING;
    case K_CANCELLED:
    case K_CANCELLED_NOTIFIED:
        return FUT_STATE_CANCELLED;
    default:
        return FUT_STATE_FINISHED;
    }
}

static void check_queries(fut_future *f, enum kind k)
{
    CHECK_MSG(fut_future_done(f) == is_done_kind(k), "done() wrong for %s", kind_name(k));
    CHECK_MSG(fut_future_cancelled(f) == is_cancelled_kind(k), "cancelled() wrong for %s",
              kind_name(k));
    CHECK_MSG(fut_future_running(f) == (k == K_RUNNING), "running() wrong for %s", kind_name(k));
    CHECK_MSG(fut_future_state(f) == expected_state(k), "state() is %d for %s",
              (int)fut_future_state(f), kind_name(k));
}

/* ------------------------------------------------------------------------------------------ */
/* F1, F3: every state x every query                                                          */
/* ------------------------------------------------------------------------------------------ */

/* F1 F3: done/cancelled/running/state in every state; both cancelled states look alike. */
TEST(F1_F3_queries_in_every_state)
{
    for (int k = 0; k < K_COUNT; k++) {
        fut_future *f = make_in((enum kind)k);
        check_queries(f, (enum kind)k);
        /* queries do not change anything: ask twice */
        check_queries(f, (enum kind)k);
        fut_future_release(f);
    }
}

/* F2: a standalone future starts PENDING. */
TEST(F2_new_future_is_pending)
{
    fut_future *f = NULL;
    CHECK_ST(fut_future_new(&f), FUT_OK);
    CHECK(f != NULL);
    CHECK_EQ(fut_future_state(f), FUT_STATE_PENDING);
    fut_future *g = NULL;
    CHECK_ST(fut_future_new(&g), FUT_OK);
    CHECK(g != NULL && g != f);
    fut_future_release(g);
    fut_future_release(f);
}

/* F1 X6: retain returns the same handle; the future lives until the last release. */
TEST(F1_X6_retain_release)
{
    atomic_int drops = 0;
    fut_future *f = NEW_FUTURE();
    CHECK_PTR_EQ(fut_future_retain(f), f);
    CHECK_PTR_EQ(fut_future_retain(f), f);
    CHECK_ST(fut_future_set_result(f, tu_value_new(&drops, 1), 8, tu_value_drop), FUT_OK);
    fut_future_release(f);
    fut_future_release(f);
    CHECK_EQ(atomic_load(&drops), 0);
    CHECK_EQ(fut_future_state(f), FUT_STATE_FINISHED); /* one reference left */
    fut_future_release(f);
    CHECK_EQ(atomic_load(&drops), 1);
}

/* ------------------------------------------------------------------------------------------ */
/* F8, F9, F10: result and exception with timeout 0 in every state                            */
/* ------------------------------------------------------------------------------------------ */

/* F8 F9 F10 X1: result(0) / exception(0) in every state; outputs are written only on success. */
TEST(F8_F9_F10_result_and_exception_poll_in_every_state)
{
    for (int ki = 0; ki < K_COUNT; ki++) {
        enum kind k = (enum kind)ki;
        fut_future *f = make_in(k);

        void *ptr = (void *)&ptr; /* sentinels */
        size_t len = 12345;
        fut_status s = fut_future_result(f, 0, &ptr, &len);
        fut_error_info info;
        memset(&info, 0xAB, sizeof info);
        fut_error_info sentinel = info;
        fut_status e = fut_future_exception(f, 0, &info);

        if (!is_done_kind(k)) {
            CHECK_MSG(s == FUT_ERR_TIMEOUT, "%s: result(0) -> %s", kind_name(k), tu_st(s));
            CHECK_MSG(e == FUT_ERR_TIMEOUT, "%s: exception(0) -> %s", kind_name(k), tu_st(e));
            CHECK_PTR_EQ(ptr, &ptr);
            CHECK_EQ(len, 12345);
            CHECK(memcmp(&info, &sentinel, sizeof info) == 0);
        } else if (is_cancelled_kind(k)) {
            CHECK_MSG(s == FUT_ERR_CANCELLED, "%s: result(0) -> %s", kind_name(k), tu_st(s));
            CHECK_MSG(e == FUT_ERR_CANCELLED, "%s: exception(0) -> %s", kind_name(k), tu_st(e));
            CHECK_PTR_EQ(ptr, &ptr);
            CHECK_EQ(len, 12345);
        } else if (is_ok_kind(k)) {
            CHECK_MSG(s == FUT_OK, "%s: result(0) -> %s", kind_name(k), tu_st(s));
            CHECK_PTR_EQ(ptr, &g_payload);
            CHECK_EQ(len, sizeof g_payload);
            CHECK_MSG(e == FUT_OK, "%s: exception(0) -> %s", kind_name(k), tu_st(e));
            CHECK_EQ(info.kind, FUT_OK);
            CHECK_EQ(info.code, 0);
            CHECK_PTR_EQ(info.message, NULL);
            CHECK_PTR_EQ(info.detail, NULL);
        } else {
            CHECK_MSG(s == FUT_ERR_TASK_FAILED, "%s: result(0) -> %s", kind_name(k), tu_st(s));
            CHECK_PTR_EQ(ptr, &ptr);
            CHECK_EQ(len, 12345);
            CHECK_MSG(e == FUT_OK, "%s: exception(0) -> %s", kind_name(k), tu_st(e));
            CHECK_EQ(info.kind, FUT_ERR_TASK_FAILED);
            CHECK_EQ(info.code, 7);
            CHECK_STR_EQ(info.message, "boom");
            CHECK_PTR_EQ(info.detail, NULL);
        }
        /* F8: polling never changes the future */
        check_queries(f, k);
        fut_future_release(f);
    }
}

/* F10 X4: on a done future every timeout (0, 1 ns, long, negative = forever) returns at once. */
TEST(F10_X4_done_future_any_timeout_returns_at_once)
{
    const int64_t timeouts[] = {0, 1, TU_LONG_TIMEOUT_NS, FUT_WAIT_FOREVER, -12345};
    enum kind kinds[] = {K_CANCELLED, K_FINISHED_OK, K_FINISHED_FAILED};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        fut_future *f = make_in(kinds[i]);
        for (size_t t = 0; t < sizeof timeouts / sizeof timeouts[0]; t++) {
            void *p = NULL;
            fut_status s = fut_future_result(f, timeouts[t], &p, NULL);
            fut_status want = kinds[i] == K_CANCELLED       ? FUT_ERR_CANCELLED
                              : kinds[i] == K_FINISHED_OK ? FUT_OK
                                                            : FUT_ERR_TASK_FAILED;
            CHECK_ST(s, want);
            fut_error_info info;
            CHECK_ST(fut_future_exception(f, timeouts[t], &info),
                     kinds[i] == K_CANCELLED ? FUT_ERR_CANCELLED : FUT_OK);
        }
        fut_future_release(f);
    }
}

/* F8 F10 X4: a short timeout on a pending (and on a running) future returns FUT_ERR_TIMEOUT no
 * earlier than the timeout and leaves the future unchanged and still usable. */
TEST(F8_F10_short_timeout_leaves_future_unchanged)
{
    enum kind kinds[] = {K_PENDING, K_RUNNING};
    for (size_t i = 0; i < 2; i++) {
        fut_future *f = make_in(kinds[i]);
        const int64_t timeout = 30 * TU_MS;

        int64_t t0 = tu_now_ns();
        void *p = NULL;
        CHECK_ST(fut_future_result(f, timeout, &p, NULL), FUT_ERR_TIMEOUT);
        CHECK_GE(tu_now_ns() - t0, timeout); /* a timeout never fires early */
        check_queries(f, kinds[i]);

        t0 = tu_now_ns();
        fut_error_info info;
        CHECK_ST(fut_future_exception(f, timeout, &info), FUT_ERR_TIMEOUT);
        CHECK_GE(tu_now_ns() - t0, timeout);
        check_queries(f, kinds[i]);

        /* 1 ns also times out */
        CHECK_ST(fut_future_result(f, 1, &p, NULL), FUT_ERR_TIMEOUT);
        check_queries(f, kinds[i]);

        /* still completable */
        CHECK_ST(fut_future_set_result(f, &g_payload, 0, NULL), FUT_OK);
        CHECK_ST(fut_future_result(f, 0, &p, NULL), FUT_OK);
        CHECK_PTR_EQ(p, &g_payload);
        fut_future_release(f);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* F4, F8: blocked readers woken by another thread                                            */
/* ------------------------------------------------------------------------------------------ */

enum reader_kind { R_RESULT, R_EXCEPTION };

typedef struct reader {
    fut_future *f;
    enum reader_kind kind;
    tu_latch *about_to_block;
    fut_status status;
    void *ptr;
    size_t len;
    fut_error_info info;
    char message[64];
} reader;

static void *reader_main(void *arg)
{
    reader *r = (reader *)arg;
    tu_latch_count_down(r->about_to_block);
    if (r->kind == R_RESULT) {
        r->status = fut_future_result(r->f, FUT_WAIT_FOREVER, &r->ptr, &r->len);
    } else {
        r->status = fut_future_exception(r->f, FUT_WAIT_FOREVER, &r->info);
        if (r->status == FUT_OK && r->info.message)
            snprintf(r->message, sizeof r->message, "%s", r->info.message);
    }
    return NULL;
}

enum completion { C_RESULT, C_EXCEPTION, C_CANCEL };

/* Starts nreaders threads blocked FOREVER on f, waits until each said it is about to block,
 * optionally sleeps (to make "really blocked" likely; both orders must pass), completes f the
 * given way and joins them. */
static void run_blocked_readers(enum reader_kind rk, enum completion how, int nreaders,
                                int sleep_ms)
{
    enum { MAXR = 8 };
    CHECK(nreaders <= MAXR);
    fut_future *f = NEW_FUTURE();
    tu_latch ready;
    tu_latch_init(&ready, nreaders);
    reader rs[MAXR];
    pthread_t ts[MAXR];
    for (int i = 0; i < nreaders; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].f = f;
        rs[i].kind = rk;
        rs[i].about_to_block = &ready;
        rs[i].status = -9999;
        ts[i] = SPAWN(reader_main, &rs[i]);
    }
    LATCH_WAIT(&ready);
    if (sleep_ms)
        tu_sleep_ms(sleep_ms);
    switch (how) {
    case C_RESULT:
        CHECK_ST(fut_future_set_result(f, &g_payload, 3, NULL), FUT_OK);
        break;
    case C_EXCEPTION:
        CHECK_ST(fut_future_set_exception(f, -5, "failed in test"), FUT_OK);
        break;
    case C_CANCEL:
        CHECK(fut_future_cancel(f));
        break;
    }
    for (int i = 0; i < nreaders; i++) {
        JOIN(ts[i]);
        reader *r = &rs[i];
        if (how == C_CANCEL) {
            CHECK_ST(r->status, FUT_ERR_CANCELLED);
        } else if (rk == R_RESULT) {
            if (how == C_RESULT) {
                CHECK_ST(r->status, FUT_OK);
                CHECK_PTR_EQ(r->ptr, &g_payload);
                CHECK_EQ(r->len, 3);
            } else {
                CHECK_ST(r->status, FUT_ERR_TASK_FAILED);
            }
        } else {
            CHECK_ST(r->status, FUT_OK);
            if (how == C_RESULT) {
                CHECK_EQ(r->info.kind, FUT_OK);
            } else {
                CHECK_EQ(r->info.kind, FUT_ERR_TASK_FAILED);
                CHECK_EQ(r->info.code, -5);
                CHECK_STR_EQ(r->message, "failed in test");
            }
        }
    }
    tu_latch_destroy(&ready);
    fut_future_release(f);
}

/* F7 F8: result(FOREVER) blocked in another thread is woken by set_result. */
TEST(F8_blocked_result_forever_woken_by_set_result)
{
    run_blocked_readers(R_RESULT, C_RESULT, 1, 0);
    run_blocked_readers(R_RESULT, C_RESULT, 1, 20);
}

/* F4 F8: result(FOREVER) blocked in another thread is woken by cancel -> FUT_ERR_CANCELLED. */
TEST(F4_F8_blocked_result_forever_woken_by_cancel)
{
    run_blocked_readers(R_RESULT, C_CANCEL, 1, 0);
    run_blocked_readers(R_RESULT, C_CANCEL, 1, 20);
}

/* F7 F8: result(FOREVER) woken by set_exception -> FUT_ERR_TASK_FAILED. */
TEST(F8_blocked_result_forever_woken_by_set_exception)
{
    run_blocked_readers(R_RESULT, C_EXCEPTION, 1, 0);
    run_blocked_readers(R_RESULT, C_EXCEPTION, 1, 20);
}

/* F9: exception(FOREVER) woken by set_exception (the record), set_result (no error) and
 * cancel (FUT_ERR_CANCELLED). */
TEST(F9_blocked_exception_forever_woken)
{
    run_blocked_readers(R_EXCEPTION, C_EXCEPTION, 1, 0);
    run_blocked_readers(R_EXCEPTION, C_EXCEPTION, 1, 20);
    run_blocked_readers(R_EXCEPTION, C_RESULT, 1, 0);
    run_blocked_readers(R_EXCEPTION, C_RESULT, 1, 20);
    run_blocked_readers(R_EXCEPTION, C_CANCEL, 1, 0);
    run_blocked_readers(R_EXCEPTION, C_CANCEL, 1, 20);
}

/* F4 F7 F8: several readers blocked on one future are all woken by one completion. */
TEST(F4_F7_F8_many_blocked_readers_all_woken)
{
    run_blocked_readers(R_RESULT, C_RESULT, 6, 10);
    run_blocked_readers(R_RESULT, C_CANCEL, 6, 10);
    run_blocked_readers(R_EXCEPTION, C_EXCEPTION, 6, 10);
    run_blocked_readers(R_EXCEPTION, C_CANCEL, 6, 0);
}

/* F8 F10: a reader with a finite (long) timeout is woken by completion long before it. */
typedef struct timed_reader {
    fut_future *f;
    tu_latch *ready;
    fut_status status;
    int64_t elapsed;
} timed_reader;

static void *timed_reader_main(void *arg)
{
    timed_reader *r = (timed_reader *)arg;
    tu_latch_count_down(r->ready);
    int64_t t0 = tu_now_ns();
    r->status = fut_future_result(r->f, TU_LONG_TIMEOUT_NS, NULL, NULL);
    r->elapsed = tu_now_ns() - t0;
    return NULL;
}

TEST(F8_finite_timeout_reader_woken_before_deadline)
{
    fut_future *f = NEW_FUTURE();
    tu_latch ready;
    tu_latch_init(&ready, 1);
    timed_reader r = {f, &ready, -9999, 0};
    pthread_t t = SPAWN(timed_reader_main, &r);
    LATCH_WAIT(&ready);
    tu_sleep_ms(5);
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    JOIN(t);
    CHECK_ST(r.status, FUT_OK);
    CHECK_LT(r.elapsed, TU_LONG_TIMEOUT_NS);
    tu_latch_destroy(&ready);
    fut_future_release(f);
}

/* X4: extreme finite timeouts (INT64_MAX ns, ~292 years) behave like a very long wait: at once
 * on a done future, woken by completion on a pending one; INT64_MIN is "forever". */
typedef struct huge_reader {
    fut_future *f;
    int64_t timeout;
    tu_latch ready;
    fut_status status;
} huge_reader;

static void *huge_reader_main(void *arg)
{
    huge_reader *r = (huge_reader *)arg;
    tu_latch_count_down(&r->ready);
    r->status = fut_future_result(r->f, r->timeout, NULL, NULL);
    return NULL;
}

TEST(X4_extreme_timeouts)
{
    fut_future *done = make_in(K_FINISHED_OK);
    CHECK_ST(fut_future_result(done, INT64_MAX, NULL, NULL), FUT_OK);
    CHECK_ST(fut_future_result(done, INT64_MIN, NULL, NULL), FUT_OK);
    fut_error_info info;
    CHECK_ST(fut_future_exception(done, INT64_MAX, &info), FUT_OK);
    fut_future_release(done);

    const int64_t timeouts[] = {INT64_MAX, INT64_MIN, INT64_MAX - 1};
    for (size_t i = 0; i < 3; i++) {
        huge_reader r;
        r.f = NEW_FUTURE();
        r.timeout = timeouts[i];
        r.status = -9999;
        tu_latch_init(&r.ready, 1);
        pthread_t t = SPAWN(huge_reader_main, &r);
        LATCH_WAIT(&r.ready);
        tu_sleep_ms(2);
        CHECK_ST(fut_future_set_result(r.f, NULL, 0, NULL), FUT_OK);
        JOIN(t);
        CHECK_ST(r.status, FUT_OK);
        tu_latch_destroy(&r.ready);
        fut_future_release(r.f);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* F4, F7: first outcome wins                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* F7 X1: after set_result, set_result / set_exception are refused with FUT_ERR_INVALID_STATE,
 * the refused value's destructor is not called, cancel returns false, the first value stays. */
TEST(F7_first_outcome_wins_after_set_result)
{
    atomic_int drops = 0, refused_drops = 0;
    fut_future *f = NEW_FUTURE();
    tu_value *v = tu_value_new(&drops, 1);
    tu_value *w = tu_value_new(&refused_drops, 2);
    CHECK_ST(fut_future_set_result(f, v, sizeof *v, tu_value_drop), FUT_OK);
    CHECK_ST(fut_future_set_result(f, w, sizeof *w, tu_value_drop), FUT_ERR_INVALID_STATE);
    CHECK_ST(fut_future_set_exception(f, 3, "late"), FUT_ERR_INVALID_STATE);
    CHECK(!fut_future_cancel(f));
    CHECK(!fut_future_cancelled(f));
    CHECK_EQ(fut_future_state(f), FUT_STATE_FINISHED);
    void *p = NULL;
    size_t len = 0;
    CHECK_ST(fut_future_result(f, 0, &p, &len), FUT_OK);
    CHECK_PTR_EQ(p, v);
    CHECK_EQ(len, sizeof *v);
    fut_error_info info;
    CHECK_ST(fut_future_exception(f, 0, &info), FUT_OK);
    CHECK_EQ(info.kind, FUT_OK);
    CHECK_EQ(atomic_load(&refused_drops), 0);
    CHECK_EQ(atomic_load(&drops), 0);
    fut_future_release(f);
    CHECK_EQ(atomic_load(&drops), 1);
    CHECK_EQ(atomic_load(&refused_drops), 0); /* the caller still owns w */
    tu_value_drop(w);
}

/* F7 X1: after set_exception, the failure stays; later set_result / set_exception refused. */
TEST(F7_first_outcome_wins_after_set_exception)
{
    atomic_int refused_drops = 0;
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_set_exception(f, 11, "first"), FUT_OK);
    tu_value *w = tu_value_new(&refused_drops, 2);
    CHECK_ST(fut_future_set_result(f, w, sizeof *w, tu_value_drop), FUT_ERR_INVALID_STATE);
    CHECK_ST(fut_future_set_exception(f, 12, "second"), FUT_ERR_INVALID_STATE);
    CHECK(!fut_future_cancel(f));
    CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_TASK_FAILED);
    fut_error_info info;
    CHECK_ST(fut_future_exception(f, 0, &info), FUT_OK);
    CHECK_EQ(info.kind, FUT_ERR_TASK_FAILED);
    CHECK_EQ(info.code, 11);
    CHECK_STR_EQ(info.message, "first");
    fut_future_release(f);
    CHECK_EQ(atomic_load(&refused_drops), 0);
    tu_value_drop(w);
}

/* F4 F7: after cancel, set_result / set_exception are refused (destructor not called), cancel
 * again returns true, result reports FUT_ERR_CANCELLED. */
TEST(F4_F7_first_outcome_wins_after_cancel)
{
    atomic_int refused_drops = 0;
    fut_future *f = NEW_FUTURE();
    CHECK(fut_future_cancel(f));
    tu_value *w = tu_value_new(&refused_drops, 2);
    CHECK_ST(fut_future_set_result(f, w, sizeof *w, tu_value_drop), FUT_ERR_INVALID_STATE);
    CHECK_ST(fut_future_set_exception(f, 1, "x"), FUT_ERR_INVALID_STATE);
    CHECK(fut_future_cancel(f)); /* F4: already cancelled -> true */
    CHECK(fut_future_cancelled(f));
    CHECK_EQ(fut_future_state(f), FUT_STATE_CANCELLED);
    CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_CANCELLED);
    /* F6: the executor then sees the cancellation; still cancelled, still refuses values */
    CHECK(!fut_future_set_running_or_notify_cancel(f));
    CHECK(fut_future_cancel(f));
    CHECK_ST(fut_future_set_result(f, w, sizeof *w, tu_value_drop), FUT_ERR_INVALID_STATE);
    CHECK_EQ(fut_future_state(f), FUT_STATE_CANCELLED);
    fut_future_release(f);
    CHECK_EQ(atomic_load(&refused_drops), 0);
    tu_value_drop(w);
}

/* F4 F7: a RUNNING future cannot be cancelled (false, nothing changes) but can be finished with
 * a value or an error. */
TEST(F4_F7_running_future_not_cancellable_but_completable)
{
    fut_future *f = make_in(K_RUNNING);
    CHECK(!fut_future_cancel(f));
    check_queries(f, K_RUNNING);
    CHECK_ST(fut_future_set_result(f, &g_payload, 1, NULL), FUT_OK);
    check_queries(f, K_FINISHED_OK);
    CHECK(!fut_future_cancel(f));
    fut_future_release(f);

    f = make_in(K_RUNNING);
    CHECK_ST(fut_future_set_exception(f, 9, "x"), FUT_OK);
    check_queries(f, K_FINISHED_FAILED);
    CHECK(!fut_future_cancel(f));
    CHECK_ST(fut_future_set_result(f, &g_payload, 1, NULL), FUT_ERR_INVALID_STATE);
    fut_future_release(f);
}

/* F4: cancel of a pending future returns true and makes it CANCELLED; a second cancel returns
 * true and changes nothing. */
TEST(F4_cancel_pending_twice)
{
    fut_future *f = NEW_FUTURE();
    CHECK(fut_future_cancel(f));
    check_queries(f, K_CANCELLED);
    CHECK(fut_future_cancel(f));
    check_queries(f, K_CANCELLED);
    fut_future_release(f);
}

/* F7 X1 (gh-132063): a failure with code 0 and a NULL message is still a failure; the message
 * reads as "" (never NULL). */
TEST(F7_X1_code_zero_null_message_is_still_failure)
{
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_set_exception(f, 0, NULL), FUT_OK);
    CHECK(fut_future_done(f));
    CHECK(!fut_future_cancelled(f));
    CHECK_EQ(fut_future_state(f), FUT_STATE_FINISHED);
    void *p = (void *)&p;
    CHECK_ST(fut_future_result(f, 0, &p, NULL), FUT_ERR_TASK_FAILED);
    CHECK_PTR_EQ(p, &p);
    fut_error_info info;
    CHECK_ST(fut_future_exception(f, 0, &info), FUT_OK);
    CHECK_EQ(info.kind, FUT_ERR_TASK_FAILED);
    CHECK_EQ(info.code, 0);
    CHECK(info.message != NULL);
    CHECK_STR_EQ(info.message, "");
    CHECK_PTR_EQ(info.detail, NULL);
    fut_future_release(f);

    /* an empty message as well */
    f = NEW_FUTURE();
    CHECK_ST(fut_future_set_exception(f, 0, ""), FUT_OK);
    CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_TASK_FAILED);
    CHECK_ST(fut_future_exception(f, 0, &info), FUT_OK);
    CHECK_EQ(info.kind, FUT_ERR_TASK_FAILED);
    CHECK_STR_EQ(info.message, "");
    fut_future_release(f);
}

/* X1: the message is copied at set_exception; negative and extreme codes are kept as given. */
TEST(X1_exception_message_copied_and_codes_kept)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%s", "original message");
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_set_exception(f, INT32_MIN, buf), FUT_OK);
    memset(buf, 'X', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    fut_error_info info;
    CHECK_ST(fut_future_exception(f, 0, &info), FUT_OK);
    CHECK_EQ(info.code, INT32_MIN);
    CHECK_STR_EQ(info.message, "original message");
    fut_future_release(f);

    f = NEW_FUTURE();
    CHECK_ST(fut_future_set_exception(f, INT32_MAX, "max"), FUT_OK);
    CHECK_ST(fut_future_exception(f, 0, &info), FUT_OK);
    CHECK_EQ(info.code, INT32_MAX);
    CHECK_STR_EQ(info.message, "max");
    fut_future_release(f);

    /* UTF-8 and a long message survive unchanged */
    size_t n = 10000;
    char *big = malloc(n + 1);
    CHECK(big != NULL);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + (int)(i % 26));
    big[n] = '\0';
    f = NEW_FUTURE();
    CHECK_ST(fut_future_set_exception(f, 1, big), FUT_OK);
    CHECK_ST(fut_future_exception(f, 0, &info), FUT_OK);
    CHECK_STR_EQ(info.message, big);
    fut_future_release(f);
    free(big);

    f = NEW_FUTURE();
    CHECK_ST(fut_future_set_exception(f, 1, "h\xc3\xa9llo \xe2\x82\xac"), FUT_OK);
    CHECK_ST(fut_future_exception(f, 0, &info), FUT_OK);
    CHECK_STR_EQ(info.message, "h\xc3\xa9llo \xe2\x82\xac");
    fut_future_release(f);
}

/* ------------------------------------------------------------------------------------------ */
/* X3, F20: destructors                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* X3 F20: the accepted value's destructor runs exactly once, at the last release, never
 * earlier (reads, retains and extra releases of other references do not run it). */
TEST(X3_F20_destructor_runs_once_at_last_release)
{
    atomic_int drops = 0;
    fut_future *f = NEW_FUTURE();
    tu_value *v = tu_value_new(&drops, 5);
    CHECK_ST(fut_future_set_result(f, v, sizeof *v, tu_value_drop), FUT_OK);
    for (int i = 0; i < 3; i++) {
        void *p = NULL;
        CHECK_ST(fut_future_result(f, 0, &p, NULL), FUT_OK);
        CHECK_EQ(((tu_value *)p)->payload, 5);
    }
    fut_future *g = fut_future_retain(f);
    CHECK_PTR_EQ(g, f);
    fut_future_release(f);
    CHECK_EQ(atomic_load(&drops), 0);
    void *p = NULL;
    CHECK_ST(fut_future_result(g, 0, &p, NULL), FUT_OK);
    CHECK_PTR_EQ(p, v);
    fut_future_release(g);
    CHECK_EQ(atomic_load(&drops), 1);
}

/* X3: the destructor also runs for a value of a future completed from RUNNING, and the last
 * release may come from another thread. */
static void *release_in_thread(void *arg)
{
    fut_future_release((fut_future *)arg);
    return NULL;
}

TEST(X3_destructor_runs_on_last_release_in_other_thread)
{
    atomic_int drops = 0;
    fut_future *f = make_in(K_RUNNING);
    CHECK_ST(fut_future_set_result(f, tu_value_new(&drops, 1), 0, tu_value_drop), FUT_OK);
    pthread_t t = SPAWN(release_in_thread, f);
    JOIN(t);
    CHECK_EQ(atomic_load(&drops), 1);
}

/* X3: refused values are never destroyed by the library, whatever refused them. */
TEST(X3_refused_values_never_destroyed)
{
    atomic_int drops = 0;
    enum kind kinds[] = {K_CANCELLED, K_CANCELLED_NOTIFIED, K_FINISHED_OK, K_FINISHED_FAILED};
    for (size_t i = 0; i < 4; i++) {
        fut_future *f = make_in(kinds[i]);
        tu_value *w = tu_value_new(&drops, 1);
        CHECK_ST(fut_future_set_result(f, w, 1, tu_value_drop), FUT_ERR_INVALID_STATE);
        CHECK_ST(fut_future_set_result(f, w, 1, tu_value_drop), FUT_ERR_INVALID_STATE);
        fut_future_release(f);
        CHECK_EQ(atomic_load(&drops), 0);
        tu_value_drop(w);
        CHECK_EQ(atomic_load(&drops), 1);
        atomic_store(&drops, 0);
    }
}

/* X3: NULL value with length 0 and no destructor; a value without destructor; a destructor
 * with a NULL pointer is still called exactly once (a value is (ptr, len, drop)). */
static atomic_int g_null_drops;
static void count_drop(void *p)
{
    (void)p;
    atomic_fetch_add(&g_null_drops, 1);
}

TEST(X3_null_and_plain_values)
{
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    void *p = (void *)&p;
    size_t len = 99;
    CHECK_ST(fut_future_result(f, 0, &p, &len), FUT_OK);
    CHECK_PTR_EQ(p, NULL);
    CHECK_EQ(len, 0);
    fut_future_release(f);

    static char text[] = "static text";
    f = NEW_FUTURE();
    CHECK_ST(fut_future_set_result(f, text, sizeof text, NULL), FUT_OK);
    CHECK_ST(fut_future_result(f, 0, &p, &len), FUT_OK);
    CHECK_PTR_EQ(p, text);
    CHECK_EQ(len, sizeof text);
    fut_future_release(f);

    atomic_store(&g_null_drops, 0);
    f = NEW_FUTURE();
    CHECK_ST(fut_future_set_result(f, text, 3, count_drop), FUT_OK);
    CHECK_EQ(atomic_load(&g_null_drops), 0);
    fut_future_release(f);
    CHECK_EQ(atomic_load(&g_null_drops), 1);
}

/* X3 F20: a failed, a cancelled and a never-completed future have no value to destroy, and a
 * value refused before is not destroyed at their release. */
TEST(X3_no_destructor_without_value)
{
    atomic_store(&g_null_drops, 0);
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_set_exception(f, 1, "e"), FUT_OK);
    CHECK_ST(fut_future_set_result(f, &g_payload, 1, count_drop), FUT_ERR_INVALID_STATE);
    fut_future_release(f);
    f = NEW_FUTURE();
    CHECK(fut_future_cancel(f));
    CHECK_ST(fut_future_set_result(f, &g_payload, 1, count_drop), FUT_ERR_INVALID_STATE);
    fut_future_release(f);
    f = NEW_FUTURE();
    fut_future_release(f); /* pending at last release: cancelled, nothing to destroy */
    CHECK_EQ(atomic_load(&g_null_drops), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* F11: repeated reads                                                                        */
/* ------------------------------------------------------------------------------------------ */

typedef struct repeat_reader {
    fut_future *f;
    tu_barrier *start;
    void *ptr;
    const char *message;
    int mismatches;
} repeat_reader;

static void *repeat_reader_main(void *arg)
{
    repeat_reader *r = (repeat_reader *)arg;
    BARRIER_WAIT(r->start);
    for (int i = 0; i < 200; i++) {
        void *p = NULL;
        fut_status s = fut_future_result(r->f, TU_LONG_TIMEOUT_NS, &p, NULL);
        if (r->message == NULL) {
            if (s != FUT_OK || p != r->ptr)
                r->mismatches++;
        } else {
            fut_error_info info;
            if (s != FUT_ERR_TASK_FAILED)
                r->mismatches++;
            if (fut_future_exception(r->f, 0, &info) != FUT_OK || info.message != r->message ||
                info.code != 4)
                r->mismatches++;
        }
    }
    return NULL;
}

/* F11 X2: result/exception read many times from many threads give the same pointers. */
TEST(F11_X2_repeated_reads_give_same_pointers)
{
    fut_future *ok = NEW_FUTURE();
    CHECK_ST(fut_future_set_result(ok, &g_payload, 4, NULL), FUT_OK);
    fut_future *bad = NEW_FUTURE();
    CHECK_ST(fut_future_set_exception(bad, 4, "same every time"), FUT_OK);
    fut_error_info first;
    CHECK_ST(fut_future_exception(bad, 0, &first), FUT_OK);
    for (int i = 0; i < 10; i++) {
        fut_error_info again;
        CHECK_ST(fut_future_exception(bad, 0, &again), FUT_OK);
        CHECK_PTR_EQ(again.message, first.message);
        CHECK_EQ(again.code, 4);
        CHECK_EQ(again.kind, FUT_ERR_TASK_FAILED);
        void *p = NULL;
        CHECK_ST(fut_future_result(ok, 0, &p, NULL), FUT_OK);
        CHECK_PTR_EQ(p, &g_payload);
    }

    enum { N = 4 };
    tu_barrier start;
    tu_barrier_init(&start, N);
    repeat_reader rs[N];
    pthread_t ts[N];
    for (int i = 0; i < N; i++) {
        rs[i].f = (i % 2) ? bad : ok;
        rs[i].start = &start;
        rs[i].ptr = &g_payload;
        rs[i].message = (i % 2) ? first.message : NULL;
        rs[i].mismatches = 0;
        ts[i] = SPAWN(repeat_reader_main, &rs[i]);
    }
    for (int i = 0; i < N; i++) {
        JOIN(ts[i]);
        CHECK_EQ(rs[i].mismatches, 0);
    }
    tu_barrier_destroy(&start);
    fut_future_release(ok);
    fut_future_release(bad);
}

/* ------------------------------------------------------------------------------------------ */
/* F6: set_running_or_notify_cancel in every state                                            */
/* ------------------------------------------------------------------------------------------ */

/* F6: PENDING -> RUNNING (true); cancelled -> false (no log); RUNNING, FINISHED and an already
 * notified cancelled future -> false; RUNNING/FINISHED misuse is logged through the log hook;
 * the state never changes except PENDING -> RUNNING. */
TEST(F6_set_running_or_notify_cancel_in_every_state)
{
    tu_log_capture cap;
    tu_log_capture_init(&cap);
    fut_set_log_hook(tu_log_capture_fn, &cap);

    fut_future *f = make_in(K_PENDING);
    CHECK(fut_future_set_running_or_notify_cancel(f));
    check_queries(f, K_RUNNING);
    CHECK_EQ(tu_log_capture_count(&cap), 0);
    fut_future_release(f); /* running at last release: cancelled, see callbacks tests */

    f = make_in(K_CANCELLED);
    CHECK(!fut_future_set_running_or_notify_cancel(f));
    check_queries(f, K_CANCELLED);
    CHECK_EQ(tu_log_capture_count(&cap), 0); /* legitimate executor path, not logged */
    fut_future_release(f);

    f = make_in(K_RUNNING);
    CHECK(!fut_future_set_running_or_notify_cancel(f));
    check_queries(f, K_RUNNING);
    CHECK_EQ(tu_log_capture_count(&cap), 1);
    CHECK(cap.last[0] != '\0');
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    fut_future_release(f);

    enum kind finished[] = {K_FINISHED_OK, K_FINISHED_FAILED};
    for (size_t i = 0; i < 2; i++) {
        int before = tu_log_capture_count(&cap);
        f = make_in(finished[i]);
        CHECK(!fut_future_set_running_or_notify_cancel(f));
        check_queries(f, finished[i]);
        CHECK_EQ(tu_log_capture_count(&cap), before + 1);
        /* the outcome is unchanged */
        CHECK_ST(fut_future_result(f, 0, NULL, NULL),
                 finished[i] == K_FINISHED_OK ? FUT_OK : FUT_ERR_TASK_FAILED);
        fut_future_release(f);
    }

    /* cancelled and already notified: returns false, stays cancelled */
    f = make_in(K_CANCELLED_NOTIFIED);
    CHECK(!fut_future_set_running_or_notify_cancel(f));
    check_queries(f, K_CANCELLED_NOTIFIED);
    fut_future_release(f);

    fut_set_log_hook(NULL, NULL);
    tu_log_capture_destroy(&cap);
}

/* F1 F6: PENDING -> RUNNING -> FINISHED, checked step by step, with an error. */
TEST(F1_F6_F7_executor_path_with_error)
{
    fut_future *f = NEW_FUTURE();
    check_queries(f, K_PENDING);
    CHECK(fut_future_set_running_or_notify_cancel(f));
    check_queries(f, K_RUNNING);
    CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_TIMEOUT);
    CHECK_ST(fut_future_set_exception(f, 2, "task failed"), FUT_OK);
    check_queries(f, K_FINISHED_FAILED);
    fut_future_release(f);
}

/* F3: queries from other threads see one consistent state while another thread drives the
 * future through PENDING -> RUNNING -> FINISHED (never e.g. done && running). */
typedef struct query_hammer {
    fut_future *f;
    tu_latch *started;
    atomic_bool *stop;
    int inconsistencies;
    long iterations;
} query_hammer;

static void *query_hammer_main(void *arg)
{
    query_hammer *q = (query_hammer *)arg;
    tu_latch_count_down(q->started);
    while (!atomic_load(q->stop)) {
        fut_state st = fut_future_state(q->f);
        if (st != FUT_STATE_PENDING && st != FUT_STATE_RUNNING && st != FUT_STATE_FINISHED &&
            st != FUT_STATE_CANCELLED)
            q->inconsistencies++;
        /* The queries are separate calls, so they are read in an order in which a
         * transition between two reads cannot fake an inconsistency: done and cancelled only
         * ever turn true, and a RUNNING future never becomes cancelled. */
        bool running = fut_future_running(q->f);
        bool cancelled = fut_future_cancelled(q->f);
        bool done = fut_future_done(q->f);
        if (cancelled && !done) /* cancelled implies done */
            q->inconsistencies++;
        if (running && cancelled) /* a running future is never cancelled */
            q->inconsistencies++;
        if ((st == FUT_STATE_FINISHED || st == FUT_STATE_CANCELLED) && !done)
            q->inconsistencies++;
        if (st == FUT_STATE_RUNNING && cancelled)
            q->inconsistencies++;
        q->iterations++;
    }
    return NULL;
}

TEST(F3_queries_consistent_under_concurrent_transitions)
{
    enum { ROUNDS = 300 };
    for (int round = 0; round < ROUNDS; round++) {
        fut_future *f = NEW_FUTURE();
        atomic_bool stop = false;
        tu_latch started;
        tu_latch_init(&started, 1);
        query_hammer q = {f, &started, &stop, 0, 0};
        pthread_t t = SPAWN(query_hammer_main, &q);
        LATCH_WAIT(&started);
        if (round % 3 == 0) {
            CHECK(fut_future_cancel(f));
        } else {
            CHECK(fut_future_set_running_or_notify_cancel(f));
            if (round % 3 == 1)
                CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
            else
                CHECK_ST(fut_future_set_exception(f, 1, "x"), FUT_OK);
        }
        atomic_store(&stop, true);
        JOIN(t);
        CHECK_EQ(q.inconsistencies, 0);
        tu_latch_destroy(&started);
        fut_future_release(f);
    }
}

int main(int argc, char **argv)
{
    return tu_main(argc, argv);
}
