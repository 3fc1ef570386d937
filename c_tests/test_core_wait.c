/*
 * test_core_wait.c — fut_wait (W1–W10, W2 Decision, X7; docs/api.md "Waiting").
 */
#include "test_util.h"

static const fut_return_when k_modes[3] = {FUT_FIRST_COMPLETED, FUT_FIRST_EXCEPTION,
                                            FUT_ALL_COMPLETED};

static const char *mode_name(fut_return_when w)
{
    if (w == FUT_FIRST_COMPLETED)
        return "FIRST_COMPLETED";
    if (w == FUT_FIRST_EXCEPTION)
        return "FIRST_EXCEPTION";
    if (w == FUT_ALL_COMPLETED)
        return "ALL_COMPLETED";
    return "?";
}

static bool is_valid_mode(int64_t v)
{
    return v == FUT_FIRST_COMPLETED || v == FUT_FIRST_EXCEPTION || v == FUT_ALL_COMPLETED;
}

/* Collects values that are none of the three return_when constants. */
static size_t bad_modes(fut_return_when *out, size_t max)
{
    const int64_t candidates[] = {-1, 0, 1, 2, 3, 4, 5, 99, 1000, INT32_MAX, INT32_MIN};
    size_t n = 0;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && n < max; i++)
        if (!is_valid_mode(candidates[i]))
            out[n++] = (fut_return_when)candidates[i];
    return n;
}


/* Calls fut_wait and checks FUT_OK, the flags and n_done. */
static void check_wait_at(const char *file, int line, fut_future *const *fs, size_t n,
                          int64_t timeout, fut_return_when when, const uint8_t *want_flags,
                          size_t want_done)
{
    uint8_t flags[64];
    size_t n_done = 9999;
    if (n > sizeof flags)
        tu_fail(file, line, "too many futures for check_wait");
    memset(flags, 0xAA, sizeof flags);
    fut_status s = fut_wait(fs, n, timeout, when, flags, &n_done);
    if (s != FUT_OK)
        tu_fail(file, line, "fut_wait(%s) returned %s", mode_name(when), tu_st(s));
    for (size_t i = 0; i < n; i++)
        if (flags[i] != want_flags[i])
            tu_fail(file, line, "fut_wait(%s): flag[%zu] = %d, expected %d", mode_name(when), i,
                    flags[i], want_flags[i]);
    if (flags[n] != 0xAA)
        tu_fail(file, line, "fut_wait wrote past the n flags");
    if (n_done != want_done)
        tu_fail(file, line, "fut_wait(%s): n_done = %zu, expected %zu", mode_name(when), n_done,
                want_done);
}

#define CHECK_WAIT(fs, n, timeout, when, want_flags, want_done)                                \
    check_wait_at(__FILE__, __LINE__, (fs), (n), (timeout), (when), (want_flags), (want_done))

/* ------------------------------------------------------------------------------------------ */
/* W10: bad return_when first                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* W10 X7: a bad return_when is FUT_ERR_INVALID_ARGUMENT before anything else: with n == 0, a
 * NULL array, all futures done, pending futures (no blocking even with a long timeout), and a
 * NULL element; outputs untouched. */
TEST(W10_bad_return_when_checked_first)
{
    fut_return_when bad[16];
    size_t nbad = bad_modes(bad, 16);
    CHECK(nbad >= 3);
    fut_future *done[2] = {tu_future_in(TU_OK), tu_future_in(TU_CANCELLED)};
    fut_future *pending[2] = {tu_future_in(TU_PENDING), tu_future_in(TU_RUNNING)};
    fut_future *with_null[2] = {done[0], NULL};
    for (size_t i = 0; i < nbad; i++) {
        uint8_t flags[2] = {0xAA, 0xAA};
        size_t n_done = 777;
        CHECK_ST(fut_wait(NULL, 0, 0, bad[i], NULL, NULL), FUT_ERR_INVALID_ARGUMENT);
        CHECK_ST(fut_wait(NULL, 0, 0, bad[i], flags, &n_done), FUT_ERR_INVALID_ARGUMENT);
        CHECK_ST(fut_wait(done, 0, 0, bad[i], flags, &n_done), FUT_ERR_INVALID_ARGUMENT);
        CHECK_ST(fut_wait(done, 2, 0, bad[i], flags, &n_done), FUT_ERR_INVALID_ARGUMENT);
        CHECK_ST(fut_wait(done, 2, FUT_WAIT_FOREVER, bad[i], flags, &n_done),
                 FUT_ERR_INVALID_ARGUMENT);
        int64_t t0 = tu_now_ns();
        CHECK_ST(fut_wait(pending, 2, TU_LONG_TIMEOUT_NS, bad[i], flags, &n_done),
                 FUT_ERR_INVALID_ARGUMENT);
        CHECK_LT(tu_now_ns() - t0, TU_LONG_TIMEOUT_NS);
        CHECK_ST(fut_wait(with_null, 2, 0, bad[i], flags, &n_done), FUT_ERR_INVALID_ARGUMENT);
        CHECK_EQ(flags[0], 0xAA);
        CHECK_EQ(flags[1], 0xAA);
        CHECK_EQ(n_done, 777);
    }
    /* nothing changed */
    CHECK_EQ(fut_future_state(pending[0]), FUT_STATE_PENDING);
    CHECK_EQ(fut_future_state(pending[1]), FUT_STATE_RUNNING);
    tu_release_all(done, 2);
    tu_release_all(pending, 2);
}

/* ------------------------------------------------------------------------------------------ */
/* W4: empty input, NULL array                                                                */
/* ------------------------------------------------------------------------------------------ */

/* W4 X7: an empty input returns FUT_OK at once with n_done 0, in every mode, with a NULL or a
 * non-NULL array, NULL or non-NULL outputs, any timeout (even FOREVER: nothing to wait for). */
TEST(W4_empty_input)
{
    fut_future *dummy[1] = {NULL};
    for (int m = 0; m < 3; m++) {
        size_t n_done = 5;
        uint8_t flag = 0xAA;
        CHECK_ST(fut_wait(NULL, 0, 0, k_modes[m], &flag, &n_done), FUT_OK);
        CHECK_EQ(n_done, 0);
        CHECK_EQ(flag, 0xAA);
        n_done = 5;
        CHECK_ST(fut_wait(dummy, 0, FUT_WAIT_FOREVER, k_modes[m], NULL, &n_done), FUT_OK);
        CHECK_EQ(n_done, 0);
        CHECK_ST(fut_wait(NULL, 0, TU_LONG_TIMEOUT_NS, k_modes[m], NULL, NULL), FUT_OK);
    }
}

/* X7: a NULL element or a NULL array with n > 0 is FUT_ERR_INVALID_ARGUMENT, even when other
 * futures are done; outputs untouched. */
TEST(X7_null_element_or_array_is_invalid_argument)
{
    fut_future *ok = tu_future_in(TU_OK);
    fut_future *p = tu_future_in(TU_PENDING);
    fut_future *arrs[3][3] = {{NULL, ok, p}, {ok, NULL, p}, {ok, p, NULL}};
    for (int m = 0; m < 3; m++) {
        for (int a = 0; a < 3; a++) {
            uint8_t flags[3] = {0xAA, 0xAA, 0xAA};
            size_t n_done = 777;
            CHECK_ST(fut_wait(arrs[a], 3, 0, k_modes[m], flags, &n_done),
                     FUT_ERR_INVALID_ARGUMENT);
            CHECK_ST(fut_wait(arrs[a], 3, TU_LONG_TIMEOUT_NS, k_modes[m], flags, &n_done),
                     FUT_ERR_INVALID_ARGUMENT);
            CHECK_EQ(flags[0], 0xAA);
            CHECK_EQ(flags[2], 0xAA);
            CHECK_EQ(n_done, 777);
        }
        CHECK_ST(fut_wait(NULL, 2, 0, k_modes[m], NULL, NULL), FUT_ERR_INVALID_ARGUMENT);
    }
    CHECK_EQ(fut_future_state(p), FUT_STATE_PENDING);
    fut_future_release(ok);
    fut_future_release(p);
}

/* ------------------------------------------------------------------------------------------ */
/* W4, W5, W8: nothing done                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* W8 X7: none done, timeout 0 (poll): FUT_OK, every flag 0, n_done 0, in every mode;
 * RUNNING is not done. */
TEST(W8_none_done_poll)
{
    fut_future *fs[3] = {tu_future_in(TU_PENDING), tu_future_in(TU_RUNNING), tu_future_in(TU_PENDING)};
    const uint8_t zeros[3] = {0, 0, 0};
    for (int m = 0; m < 3; m++)
        CHECK_WAIT(fs, 3, 0, k_modes[m], zeros, 0);
    CHECK_EQ(fut_future_state(fs[0]), FUT_STATE_PENDING);
    CHECK_EQ(fut_future_state(fs[1]), FUT_STATE_RUNNING);
    tu_release_all(fs, 3);
}

/* W5 W8: none done, short timeout: FUT_OK after at least the timeout, flags 0, futures
 * unchanged; the waiter is removed (completing and freeing afterwards is clean, W9). */
TEST(W5_W8_W9_none_done_short_timeout)
{
    atomic_int drops = 0;
    for (int m = 0; m < 3; m++) {
        fut_future *fs[2] = {tu_future_in(TU_PENDING), tu_future_in(TU_PENDING)};
        const uint8_t zeros[2] = {0, 0};
        const int64_t timeout = 20 * TU_MS;
        int64_t t0 = tu_now_ns();
        CHECK_WAIT(fs, 2, timeout, k_modes[m], zeros, 0);
        CHECK_GE(tu_now_ns() - t0, timeout);
        CHECK_EQ(fut_future_state(fs[0]), FUT_STATE_PENDING);
        /* W9: the waiter is gone and holds no reference: the value is destroyed at our
         * release */
        CHECK_ST(fut_future_set_result(fs[0], tu_value_new(&drops, 1), 0, tu_value_drop), FUT_OK);
        CHECK(fut_future_cancel(fs[1]));
        int before = atomic_load(&drops);
        tu_release_all(fs, 2);
        CHECK_EQ(atomic_load(&drops), before + 1);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* W4: some / all done                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* W4 W8 X7: exactly one done (of each done kind), timeout 0: every mode returns the partition
 * (FIRST_COMPLETED because one is done; the others because the timeout passed). */
TEST(W4_W8_one_done_each_kind)
{
    enum tu_kind done_kinds[] = {TU_OK, TU_FAILED, TU_CANCELLED, TU_CANCELLED_NOTIFIED};
    for (size_t d = 0; d < 4; d++) {
        fut_future *fs[3] = {tu_future_in(TU_PENDING), tu_future_in(done_kinds[d]), tu_future_in(TU_RUNNING)};
        const uint8_t want[3] = {0, 1, 0};
        for (int m = 0; m < 3; m++)
            CHECK_WAIT(fs, 3, 0, k_modes[m], want, 1);
        /* FIRST_COMPLETED (and FIRST_EXCEPTION for a failure) return at once even with a long
         * timeout */
        int64_t t0 = tu_now_ns();
        CHECK_WAIT(fs, 3, TU_LONG_TIMEOUT_NS, FUT_FIRST_COMPLETED, want, 1);
        if (done_kinds[d] == TU_FAILED)
            CHECK_WAIT(fs, 3, TU_LONG_TIMEOUT_NS, FUT_FIRST_EXCEPTION, want, 1);
        CHECK_LT(tu_now_ns() - t0, TU_LONG_TIMEOUT_NS);
        tu_release_all(fs, 3);
    }
}

/* W4: all done (mixed kinds): every mode returns at once with every flag 1. */
TEST(W4_all_done_every_mode)
{
    fut_future *fs[4] = {tu_future_in(TU_OK), tu_future_in(TU_FAILED), tu_future_in(TU_CANCELLED),
                         tu_future_in(TU_CANCELLED_NOTIFIED)};
    const uint8_t ones[4] = {1, 1, 1, 1};
    for (int m = 0; m < 3; m++) {
        CHECK_WAIT(fs, 4, 0, k_modes[m], ones, 4);
        int64_t t0 = tu_now_ns();
        CHECK_WAIT(fs, 4, TU_LONG_TIMEOUT_NS, k_modes[m], ones, 4);
        CHECK_LT(tu_now_ns() - t0, TU_LONG_TIMEOUT_NS);
    }
    tu_release_all(fs, 4);
}

/* W4 X4: all done, FOREVER: returns at once (the test is about FOREVER not blocking when
 * nothing needs waiting for). */
TEST(W4_all_done_forever_returns_at_once)
{
    fut_future *fs[2] = {tu_future_in(TU_OK), tu_future_in(TU_CANCELLED)};
    const uint8_t ones[2] = {1, 1};
    for (int m = 0; m < 3; m++)
        CHECK_WAIT(fs, 2, FUT_WAIT_FOREVER, k_modes[m], ones, 2);
    tu_release_all(fs, 2);
}

/* ------------------------------------------------------------------------------------------ */
/* W6: FIRST_EXCEPTION                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* W4 W6: FIRST_EXCEPTION with a failed future returns at once although others are pending. */
TEST(W4_W6_first_exception_with_failure_returns_at_once)
{
    fut_future *fs[4] = {tu_future_in(TU_PENDING), tu_future_in(TU_OK), tu_future_in(TU_FAILED), tu_future_in(TU_PENDING)};
    const uint8_t want[4] = {0, 1, 1, 0};
    int64_t t0 = tu_now_ns();
    CHECK_WAIT(fs, 4, TU_LONG_TIMEOUT_NS, FUT_FIRST_EXCEPTION, want, 2);
    CHECK_LT(tu_now_ns() - t0, TU_LONG_TIMEOUT_NS);
    tu_release_all(fs, 4);

    /* F7 X1: a failure with code 0 and NULL message counts as an exception */
    fut_future *gs[2] = {tu_future_in(TU_PENDING), NEW_FUTURE()};
    CHECK_ST(fut_future_set_exception(gs[1], 0, NULL), FUT_OK);
    const uint8_t want2[2] = {0, 1};
    t0 = tu_now_ns();
    CHECK_WAIT(gs, 2, TU_LONG_TIMEOUT_NS, FUT_FIRST_EXCEPTION, want2, 1);
    CHECK_LT(tu_now_ns() - t0, TU_LONG_TIMEOUT_NS);
    tu_release_all(gs, 2);
}

/* W6: a success does not satisfy FIRST_EXCEPTION: with one success and one pending future it
 * waits for the timeout (no earlier) and returns the partition. */
TEST(W6_first_exception_ignores_success)
{
    fut_future *fs[2] = {tu_future_in(TU_OK), tu_future_in(TU_PENDING)};
    const uint8_t want[2] = {1, 0};
    const int64_t timeout = 30 * TU_MS;
    int64_t t0 = tu_now_ns();
    CHECK_WAIT(fs, 2, timeout, FUT_FIRST_EXCEPTION, want, 1);
    CHECK_GE(tu_now_ns() - t0, timeout);
    tu_release_all(fs, 2);
}

/* W4 W6 X9: a cancellation is not an exception: FIRST_EXCEPTION with only cancellations
 * behaves like ALL_COMPLETED (waits for the pending one; returns at once when all done). */
TEST(W4_W6_first_exception_with_only_cancellations_is_all_completed)
{
    fut_future *fs[3] = {tu_future_in(TU_CANCELLED), tu_future_in(TU_CANCELLED_NOTIFIED), tu_future_in(TU_PENDING)};
    const uint8_t want[3] = {1, 1, 0};
    const int64_t timeout = 30 * TU_MS;
    int64_t t0 = tu_now_ns();
    CHECK_WAIT(fs, 3, timeout, FUT_FIRST_EXCEPTION, want, 2);
    CHECK_GE(tu_now_ns() - t0, timeout);
    CHECK(fut_future_cancel(fs[2]));
    const uint8_t ones[3] = {1, 1, 1};
    t0 = tu_now_ns();
    CHECK_WAIT(fs, 3, TU_LONG_TIMEOUT_NS, FUT_FIRST_EXCEPTION, ones, 3);
    CHECK_LT(tu_now_ns() - t0, TU_LONG_TIMEOUT_NS);
    tu_release_all(fs, 3);
}

/* ------------------------------------------------------------------------------------------ */
/* W1: duplicates                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* W1 X7: duplicates share their flag and are counted once in n_done, in every mode. */
TEST(W1_duplicates_share_flag_and_count_once)
{
    fut_future *a = tu_future_in(TU_OK), *b = tu_future_in(TU_PENDING), *c = tu_future_in(TU_PENDING);
    fut_future *fs[6] = {a, b, a, c, a, b};
    const uint8_t want[6] = {1, 0, 1, 0, 1, 0};
    for (int m = 0; m < 3; m++)
        CHECK_WAIT(fs, 6, 0, k_modes[m], want, 1);
    CHECK_ST(fut_future_set_exception(b, 1, "b"), FUT_OK);
    const uint8_t want2[6] = {1, 1, 1, 0, 1, 1};
    for (int m = 0; m < 3; m++)
        CHECK_WAIT(fs, 6, 0, k_modes[m], want2, 2);
    CHECK(fut_future_cancel(c));
    const uint8_t ones[6] = {1, 1, 1, 1, 1, 1};
    for (int m = 0; m < 3; m++)
        CHECK_WAIT(fs, 6, TU_LONG_TIMEOUT_NS, k_modes[m], ones, 3);
    fut_future_release(a);
    fut_future_release(b);
    fut_future_release(c);
}

/* ------------------------------------------------------------------------------------------ */
/* Blocked waiters woken by other threads                                                     */
/* ------------------------------------------------------------------------------------------ */

typedef struct waiter {
    fut_future **fs;
    size_t n;
    int64_t timeout;
    fut_return_when when;
    tu_latch about_to_block;
    fut_status status;
    uint8_t flags[16];
    size_t n_done;
    int64_t elapsed;
    atomic_bool returned;
} waiter;

static void *waiter_main(void *arg)
{
    waiter *w = (waiter *)arg;
    tu_latch_count_down(&w->about_to_block);
    int64_t t0 = tu_now_ns();
    w->status = fut_wait(w->fs, w->n, w->timeout, w->when, w->flags, &w->n_done);
    w->elapsed = tu_now_ns() - t0;
    atomic_store(&w->returned, true);
    return NULL;
}

/* A waiter whose condition does not hold yet must still be blocked. The short sleep only gives
 * a wrongly woken waiter time to return (making the check likely to catch it); a correct
 * library can never fail this check. */
#define CHECK_STILL_BLOCKED(w)                                                                 \
    do {                                                                                       \
        tu_sleep_ms(20);                                                                       \
        CHECK_MSG(!atomic_load(&(w)->returned), "the waiter returned early (status %s)",       \
                  tu_st((w)->status));                                                         \
    } while (0)

static pthread_t start_waiter(waiter *w, fut_future **fs, size_t n, int64_t timeout,
                              fut_return_when when)
{
    memset(w, 0, sizeof *w);
    w->fs = fs;
    w->n = n;
    w->timeout = timeout;
    w->when = when;
    w->status = -9999;
    w->n_done = 9999;
    atomic_init(&w->returned, false);
    tu_latch_init(&w->about_to_block, 1);
    pthread_t t = SPAWN(waiter_main, w);
    LATCH_WAIT(&w->about_to_block);
    return t;
}

enum completion { C_RESULT, C_EXCEPTION, C_CANCEL };

static void complete(fut_future *f, enum completion how)
{
    if (how == C_RESULT)
        CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    else if (how == C_EXCEPTION)
        CHECK_ST(fut_future_set_exception(f, 2, "x"), FUT_OK);
    else
        CHECK(fut_future_cancel(f));
}

/* W2 W5 X7 X9: a FIRST_COMPLETED waiter blocked FOREVER is woken by another thread's
 * set_result, set_exception or cancel (W2 Decision: cancel notifies waiters itself, no
 * executor involved); flags show exactly the completed one. */
TEST(W2_W5_first_completed_forever_woken_by_each_completion)
{
    for (int how = 0; how < 3; how++) {
        for (int rep = 0; rep < 2; rep++) {
            fut_future *fs[3] = {tu_future_in(TU_PENDING), tu_future_in(TU_RUNNING), tu_future_in(TU_PENDING)};
            waiter w;
            pthread_t t = start_waiter(&w, fs, 3, FUT_WAIT_FOREVER, FUT_FIRST_COMPLETED);
            if (rep)
                tu_sleep_ms(10); /* make "really blocked" likely; both orders must pass */
            complete(fs[2], (enum completion)how);
            JOIN(t);
            CHECK_ST(w.status, FUT_OK);
            CHECK_EQ(w.flags[0], 0);
            CHECK_EQ(w.flags[1], 0);
            CHECK_EQ(w.flags[2], 1);
            CHECK_EQ(w.n_done, 1);
            tu_latch_destroy(&w.about_to_block);
            fut_future_set_result(fs[1], NULL, 0, NULL);
            tu_release_all(fs, 3);
        }
    }
}

/* W6 X7: a FIRST_EXCEPTION waiter blocked FOREVER ignores successes and cancellations and wakes
 * on the first failure: the flags then show everything that completed before. */
TEST(W6_first_exception_forever_woken_by_failure)
{
    fut_future *fs[4] = {tu_future_in(TU_PENDING), tu_future_in(TU_PENDING), tu_future_in(TU_PENDING),
                         tu_future_in(TU_PENDING)};
    waiter w;
    pthread_t t = start_waiter(&w, fs, 4, FUT_WAIT_FOREVER, FUT_FIRST_EXCEPTION);
    complete(fs[0], C_RESULT);
    CHECK_STILL_BLOCKED(&w); /* a success is not an exception */
    complete(fs[1], C_CANCEL);
    CHECK_STILL_BLOCKED(&w); /* nor is a cancellation */
    complete(fs[2], C_EXCEPTION);
    JOIN(t);
    CHECK_ST(w.status, FUT_OK);
    CHECK_EQ(w.flags[0], 1);
    CHECK_EQ(w.flags[1], 1);
    CHECK_EQ(w.flags[2], 1);
    CHECK_EQ(w.flags[3], 0);
    CHECK_EQ(w.n_done, 3);
    tu_latch_destroy(&w.about_to_block);
    tu_release_all(fs, 4);
}

/* W6 W7: a FIRST_EXCEPTION waiter blocked FOREVER over futures that only succeed or are
 * cancelled returns when all are done (ALL_COMPLETED behaviour). */
TEST(W6_W7_first_exception_forever_without_failure_waits_for_all)
{
    fut_future *fs[3] = {tu_future_in(TU_PENDING), tu_future_in(TU_RUNNING), tu_future_in(TU_PENDING)};
    waiter w;
    pthread_t t = start_waiter(&w, fs, 3, FUT_WAIT_FOREVER, FUT_FIRST_EXCEPTION);
    complete(fs[0], C_CANCEL);
    CHECK_STILL_BLOCKED(&w);
    complete(fs[1], C_RESULT);
    CHECK_STILL_BLOCKED(&w);
    complete(fs[2], C_CANCEL);
    JOIN(t);
    CHECK_ST(w.status, FUT_OK);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(w.flags[i], 1);
    CHECK_EQ(w.n_done, 3);
    tu_latch_destroy(&w.about_to_block);
    tu_release_all(fs, 3);
}

typedef struct completer_args {
    fut_future **fs;
    size_t n;
    enum completion how;
} completer_args;

static void *completer_main(void *arg)
{
    completer_args *c = (completer_args *)arg;
    for (size_t i = 0; i < c->n; i++)
        complete(c->fs[i], c->how);
    return NULL;
}

/* W7: an ALL_COMPLETED waiter blocked FOREVER returns once every future is done (and not while
 * one is missing), completed by two other threads and the main one (results, failures and a
 * cancellation). */
TEST(W7_all_completed_forever_woken_when_all_done)
{
    enum { N = 12 };
    fut_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = tu_future_in(i % 3 ? TU_PENDING : TU_RUNNING);
    fut_future *first[N / 2], *second[N / 2];
    for (int i = 0; i < N / 2; i++) {
        first[i] = fs[2 * i];
        second[i] = fs[2 * i + 1];
    }
    waiter w;
    pthread_t t = start_waiter(&w, fs, N, FUT_WAIT_FOREVER, FUT_ALL_COMPLETED);
    /* the last future is kept back: the waiter must still be blocked without it */
    completer_args a = {first, N / 2, C_RESULT}, b = {second, N / 2 - 1, C_EXCEPTION};
    pthread_t ta = SPAWN(completer_main, &a), tb = SPAWN(completer_main, &b);
    JOIN(ta);
    JOIN(tb);
    CHECK_STILL_BLOCKED(&w);
    complete(second[N / 2 - 1], C_CANCEL);
    JOIN(t);
    CHECK_ST(w.status, FUT_OK);
    for (int i = 0; i < N; i++)
        CHECK_EQ(w.flags[i], 1);
    CHECK_EQ(w.n_done, N);
    tu_latch_destroy(&w.about_to_block);
    tu_release_all(fs, N);
}

/* W2 W7 X9: cancel alone (no executor ever calls set_running_or_notify_cancel) wakes an
 * ALL_COMPLETED waiter blocked FOREVER (CPython hangs here: gh-92001). */
TEST(W2_cancel_alone_wakes_all_completed_waiter)
{
    fut_future *fs[2] = {tu_future_in(TU_PENDING), tu_future_in(TU_PENDING)};
    waiter w;
    pthread_t t = start_waiter(&w, fs, 2, FUT_WAIT_FOREVER, FUT_ALL_COMPLETED);
    tu_sleep_ms(5);
    CHECK(fut_future_cancel(fs[0]));
    CHECK_STILL_BLOCKED(&w); /* ALL_COMPLETED: one of two is not enough */
    CHECK(fut_future_cancel(fs[1]));
    JOIN(t);
    CHECK_ST(w.status, FUT_OK);
    CHECK_EQ(w.flags[0], 1);
    CHECK_EQ(w.flags[1], 1);
    CHECK_EQ(w.n_done, 2);
    tu_latch_destroy(&w.about_to_block);
    tu_release_all(fs, 2);
}

/* W1 W7: an ALL_COMPLETED waiter over [a, a, b, a] counts a once: completing a and b wakes it
 * (a double count would leave it blocked until its deadline). */
TEST(W1_W7_duplicates_counted_once_while_blocked)
{
    fut_future *a = tu_future_in(TU_PENDING), *b = tu_future_in(TU_PENDING);
    fut_future *fs[4] = {a, a, b, a};
    waiter w;
    pthread_t t = start_waiter(&w, fs, 4, TU_LONG_TIMEOUT_NS, FUT_ALL_COMPLETED);
    complete(a, C_RESULT);
    CHECK_STILL_BLOCKED(&w); /* a counted once or thrice, b is still pending */
    complete(b, C_CANCEL);
    JOIN(t);
    CHECK_ST(w.status, FUT_OK);
    CHECK_LT(w.elapsed, TU_LONG_TIMEOUT_NS);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(w.flags[i], 1);
    CHECK_EQ(w.n_done, 2);
    tu_latch_destroy(&w.about_to_block);
    fut_future_release(a);
    fut_future_release(b);
}

/* W3 W9: a completion racing the waiter's scan/install is never lost: the future is completed
 * right when the waiter starts, many times; the waiter always wakes long before its deadline. */
TEST(W3_completion_racing_install_is_not_lost)
{
    size_t rounds = tu_scaled(300, 20);
    for (size_t r = 0; r < rounds; r++) {
        fut_future *fs[2] = {tu_future_in(TU_PENDING), tu_future_in(TU_PENDING)};
        waiter w;
        fut_return_when when = k_modes[r % 3];
        pthread_t t = start_waiter(&w, fs, 2, TU_LONG_TIMEOUT_NS, when);
        complete(fs[0], r % 2 ? C_RESULT : C_CANCEL);
        complete(fs[1], C_EXCEPTION);
        JOIN(t);
        CHECK_ST(w.status, FUT_OK);
        CHECK_LT(w.elapsed, TU_LONG_TIMEOUT_NS);
        CHECK(w.n_done >= 1);
        if (when == FUT_ALL_COMPLETED) {
            CHECK_EQ(w.n_done, 2);
            CHECK_EQ(w.flags[0], 1);
            CHECK_EQ(w.flags[1], 1);
        }
        tu_latch_destroy(&w.about_to_block);
        tu_release_all(fs, 2);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Optional outputs                                                                           */
/* ------------------------------------------------------------------------------------------ */

/* X7 (docs/api.md): done_flags and n_done may each be NULL. */
TEST(X7_optional_outputs_may_be_null)
{
    fut_future *fs[3] = {tu_future_in(TU_OK), tu_future_in(TU_PENDING), tu_future_in(TU_FAILED)};
    for (int m = 0; m < 3; m++) {
        uint8_t flags[3] = {0xAA, 0xAA, 0xAA};
        size_t n_done = 0;
        CHECK_ST(fut_wait(fs, 3, 0, k_modes[m], NULL, NULL), FUT_OK);
        CHECK_ST(fut_wait(fs, 3, 0, k_modes[m], NULL, &n_done), FUT_OK);
        CHECK_EQ(n_done, 2);
        CHECK_ST(fut_wait(fs, 3, 0, k_modes[m], flags, NULL), FUT_OK);
        CHECK_EQ(flags[0], 1);
        CHECK_EQ(flags[1], 0);
        CHECK_EQ(flags[2], 1);
    }
    tu_release_all(fs, 3);
}

/* W9: wait holds no reference after returning and leaves no waiter behind: after many waits
 * (timeouts and completions) the futures are freed at our last release (destructor runs). */
TEST(W9_no_waiter_or_reference_left_behind)
{
    atomic_int drops = 0;
    fut_future *f = tu_future_in(TU_PENDING);
    fut_future *g = tu_future_in(TU_PENDING);
    fut_future *fs[2] = {f, g};
    for (int i = 0; i < 200; i++)
        CHECK_ST(fut_wait(fs, 2, i % 2 ? 0 : 1, k_modes[i % 3], NULL, NULL), FUT_OK);
    CHECK_ST(fut_future_set_result(f, tu_value_new(&drops, 1), 0, tu_value_drop), FUT_OK);
    for (int i = 0; i < 200; i++)
        CHECK_ST(fut_wait(fs, 2, 0, k_modes[i % 3], NULL, NULL), FUT_OK);
    CHECK_ST(fut_future_set_result(g, tu_value_new(&drops, 2), 0, tu_value_drop), FUT_OK);
    CHECK_EQ(atomic_load(&drops), 0);
    fut_future_release(f);
    CHECK_EQ(atomic_load(&drops), 1);
    fut_future_release(g);
    CHECK_EQ(atomic_load(&drops), 2);
}

/* X4: extreme timeouts (INT64_MAX ns, INT64_MIN = forever) in fut_wait. */
TEST(X4_wait_extreme_timeouts)
{
    const int64_t timeouts[] = {INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < 2; i++) {
        fut_future *fs[2] = {tu_future_in(TU_OK), tu_future_in(TU_PENDING)};
        const uint8_t want[2] = {1, 0};
        CHECK_WAIT(fs, 2, timeouts[i], FUT_FIRST_COMPLETED, want, 1);
        waiter w;
        pthread_t t = start_waiter(&w, fs, 2, timeouts[i], FUT_ALL_COMPLETED);
        complete(fs[1], C_RESULT);
        JOIN(t);
        CHECK_ST(w.status, FUT_OK);
        CHECK_EQ(w.n_done, 2);
        tu_latch_destroy(&w.about_to_block);
        tu_release_all(fs, 2);
    }
}

/* W1 X7 (docs/api.md: "duplicates share their value"): a future completed by another thread
 * while fut_wait reports must get the same flag at each of its positions, and n_done must
 * agree with the flags. The array puts many filler futures between the two occurrences of
 * the racing future to widen the window; many rounds make the race likely. */
typedef struct dup_race {
    fut_future *a;
    tu_barrier *go;
} dup_race;

static void *dup_race_completer(void *arg)
{
    dup_race *d = (dup_race *)arg;
    BARRIER_WAIT(d->go);
    CHECK_ST(fut_future_set_result(d->a, NULL, 0, NULL), FUT_OK);
    return NULL;
}

TEST(W1_X7_duplicate_flags_agree_under_concurrent_completion)
{
    const size_t fillers = tu_scaled(20000, 2000);
    const size_t n = fillers + 2;
    size_t rounds = tu_scaled(200, 20);
    fut_future **fs = malloc(sizeof *fs * n);
    uint8_t *flags = malloc(n);
    CHECK(fs && flags);
    for (size_t i = 1; i <= fillers; i++)
        fs[i] = tu_future_in(TU_PENDING);
    tu_barrier go;
    tu_barrier_init(&go, 2);
    size_t mismatches = 0, first_mismatch_round = 0;
    int first_flag0 = -1, first_flag_last = -1;
    size_t first_n_done = 0;
    for (size_t r = 0; r < rounds; r++) {
        fut_future *a = tu_future_in(TU_PENDING);
        fs[0] = a;
        fs[n - 1] = a;
        dup_race d = {a, &go};
        pthread_t t = SPAWN(dup_race_completer, &d);
        BARRIER_WAIT(&go);
        size_t n_done = 9999;
        /* timeout 0: report the partition at once, while the completer runs (ALL_COMPLETED
         * gives up on the first pending future, so the report starts at once) */
        CHECK_ST(fut_wait(fs, n, 0, FUT_ALL_COMPLETED, flags, &n_done), FUT_OK);
        JOIN(t);
        for (size_t i = 1; i <= fillers; i++)
            CHECK_EQ(flags[i], 0);
        if (flags[0] != flags[n - 1] || n_done != flags[0]) {
            if (mismatches++ == 0) {
                first_mismatch_round = r;
                first_flag0 = flags[0];
                first_flag_last = flags[n - 1];
                first_n_done = n_done;
            }
        }
        fut_future_release(a);
    }
    CHECK_MSG(mismatches == 0,
              "%zu of %zu rounds: the two positions of one future got different flags or "
              "n_done disagreed with them (first in round %zu: flags[0] = %d, flags[n-1] = %d, "
              "n_done = %zu)",
              mismatches, rounds, first_mismatch_round, first_flag0, first_flag_last, first_n_done);
    for (size_t i = 1; i <= fillers; i++)
        fut_future_release(fs[i]);
    tu_barrier_destroy(&go);
    free(fs);
    free(flags);
}

int main(int argc, char **argv)
{
    return tu_main(argc, argv);
}
