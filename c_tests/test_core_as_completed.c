/*
 * test_core_as_completed.c — fut_as_completed (W1, W2, W11–W14, X8; docs/api.md
 * "Waiting").
 */
#include "test_util.h"


static fut_as_completed *new_iter_at(const char *file, int line, fut_future *const *fs, size_t n,
                                     int64_t timeout)
{
    fut_as_completed *it = NULL;
    fut_status s = fut_as_completed_new(fs, n, timeout, &it);
    if (s != FUT_OK || it == NULL)
        tu_fail(file, line, "fut_as_completed_new returned %s", tu_st(s));
    return it;
}

#define NEW_ITER(fs, n, timeout) new_iter_at(__FILE__, __LINE__, (fs), (n), (timeout))

/* next() must return FUT_OK with a new reference to fs[index]; returns index. */
static size_t next_ok_at(const char *file, int line, fut_as_completed *it, fut_future *const *fs)
{
    size_t idx = (size_t)-1;
    fut_future *out = NULL;
    fut_status s = fut_as_completed_next(it, &idx, &out);
    if (s != FUT_OK)
        tu_fail(file, line, "fut_as_completed_next returned %s, expected FUT_OK", tu_st(s));
    if (out == NULL || out != fs[idx])
        tu_fail(file, line, "next gave future %p at index %zu, fs[index] = %p", (void *)out, idx,
                (void *)fs[idx]);
    if (!fut_future_done(out))
        tu_fail(file, line, "next yielded a future that is not done");
    fut_future_release(out);
    return idx;
}

#define NEXT_OK(it, fs) next_ok_at(__FILE__, __LINE__, (it), (fs))

static void next_expect_at(const char *file, int line, fut_as_completed *it, fut_status want)
{
    size_t idx = 4242;
    fut_future *out = (fut_future *)&idx; /* sentinel */
    fut_status s = fut_as_completed_next(it, &idx, &out);
    if (s != want)
        tu_fail(file, line, "fut_as_completed_next returned %s, expected %s", tu_st(s),
                tu_st(want));
    if (out != (fut_future *)&idx || idx != 4242)
        tu_fail(file, line, "next wrote its outputs although it returned %s", tu_st(s));
}

#define NEXT_EXPECT(it, want) next_expect_at(__FILE__, __LINE__, (it), (want))

/* ------------------------------------------------------------------------------------------ */
/* W11: order                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* W11 X8: futures done at the call come first (any order), then the others in the order they
 * complete; each once; then FUT_END, again and again. */
TEST(W11_already_done_first_then_completion_order)
{
    fut_future *fs[6] = {tu_future_in(TU_PENDING), tu_future_in(TU_OK),      tu_future_in(TU_RUNNING),
                         tu_future_in(TU_FAILED),  tu_future_in(TU_PENDING), tu_future_in(TU_CANCELLED)};
    fut_as_completed *it = NEW_ITER(fs, 6, TU_LONG_TIMEOUT_NS);
    bool seen[6] = {false};
    for (int i = 0; i < 3; i++) {
        size_t idx = NEXT_OK(it, fs);
        CHECK(idx == 1 || idx == 3 || idx == 5);
        CHECK(!seen[idx]);
        seen[idx] = true;
    }
    /* complete in the order 4, 0, 2 before asking: they come in that order */
    CHECK_ST(fut_future_set_result(fs[4], NULL, 0, NULL), FUT_OK);
    CHECK(fut_future_cancel(fs[0]));
    CHECK_ST(fut_future_set_exception(fs[2], 5, "late"), FUT_OK);
    CHECK_EQ(NEXT_OK(it, fs), 4);
    CHECK_EQ(NEXT_OK(it, fs), 0);
    CHECK_EQ(NEXT_OK(it, fs), 2);
    NEXT_EXPECT(it, FUT_END);
    NEXT_EXPECT(it, FUT_END);
    fut_as_completed_release(it);
    tu_release_all(fs, 6);
}

/* W11: completions interleaved with next() calls come in completion order. */
TEST(W11_interleaved_completion_order)
{
    enum { N = 8 };
    fut_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = tu_future_in(TU_PENDING);
    fut_as_completed *it = NEW_ITER(fs, N, TU_LONG_TIMEOUT_NS);
    /* nothing done yet: a short poll-like wait is not possible on the iterator (its deadline
     * is fixed), so complete first, then ask */
    const size_t order[N] = {3, 5, 1, 7, 0, 6, 2, 4};
    size_t k = 0;
    CHECK(fut_future_cancel(fs[order[k]]));
    CHECK_EQ(NEXT_OK(it, fs), order[k]);
    k++;
    while (k < N) {
        /* complete two (or one), then consume them */
        size_t batch = (k % 2) ? 2 : 1;
        if (k + batch > N)
            batch = N - k;
        for (size_t b = 0; b < batch; b++) {
            fut_future *f = fs[order[k + b]];
            if ((k + b) % 3 == 0)
                CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
            else if ((k + b) % 3 == 1)
                CHECK_ST(fut_future_set_exception(f, 1, NULL), FUT_OK);
            else
                CHECK(fut_future_cancel(f));
        }
        for (size_t b = 0; b < batch; b++)
            CHECK_EQ(NEXT_OK(it, fs), order[k + b]);
        k += batch;
    }
    NEXT_EXPECT(it, FUT_END);
    fut_as_completed_release(it);
    tu_release_all(fs, N);
}

/* W1 W11 X8: duplicates are yielded once, with the index of their first occurrence; done and
 * pending duplicates alike. */
TEST(W1_W11_duplicates_yielded_once_with_first_index)
{
    fut_future *a = tu_future_in(TU_OK), *b = tu_future_in(TU_PENDING), *c = tu_future_in(TU_PENDING);
    fut_future *fs[7] = {b, a, c, a, b, c, a};
    fut_as_completed *it = NEW_ITER(fs, 7, TU_LONG_TIMEOUT_NS);
    CHECK_EQ(NEXT_OK(it, fs), 1); /* a, first seen at 1 */
    CHECK(fut_future_cancel(c));
    CHECK_EQ(NEXT_OK(it, fs), 2); /* c, first seen at 2 */
    CHECK_ST(fut_future_set_result(b, NULL, 0, NULL), FUT_OK);
    CHECK_EQ(NEXT_OK(it, fs), 0); /* b, first seen at 0 */
    NEXT_EXPECT(it, FUT_END);
    fut_as_completed_release(it);
    fut_future_release(a);
    fut_future_release(b);
    fut_future_release(c);
}

/* W2 W11: cancelled futures are yielded (cancelled before, cancelled+notified, cancelled
 * during the iteration by cancel alone). */
TEST(W2_W11_cancelled_futures_included)
{
    fut_future *fs[3] = {tu_future_in(TU_CANCELLED), tu_future_in(TU_CANCELLED_NOTIFIED), tu_future_in(TU_PENDING)};
    fut_as_completed *it = NEW_ITER(fs, 3, TU_LONG_TIMEOUT_NS);
    size_t i0 = NEXT_OK(it, fs), i1 = NEXT_OK(it, fs);
    CHECK((i0 == 0 && i1 == 1) || (i0 == 1 && i1 == 0));
    CHECK(fut_future_cancel(fs[2]));
    CHECK_EQ(NEXT_OK(it, fs), 2);
    NEXT_EXPECT(it, FUT_END);
    fut_as_completed_release(it);
    tu_release_all(fs, 3);
}

/* X8: n == 0 (NULL or non-NULL array) gives FUT_END at once, whatever the timeout. */
TEST(X8_empty_input_ends_at_once)
{
    const int64_t timeouts[] = {0, 1, TU_LONG_TIMEOUT_NS, FUT_WAIT_FOREVER};
    fut_future *dummy[1] = {NULL};
    for (size_t t = 0; t < 4; t++) {
        fut_as_completed *it = NEW_ITER(NULL, 0, timeouts[t]);
        NEXT_EXPECT(it, FUT_END);
        NEXT_EXPECT(it, FUT_END);
        fut_as_completed_release(it);
        it = NEW_ITER(dummy, 0, timeouts[t]);
        NEXT_EXPECT(it, FUT_END);
        fut_as_completed_release(it);
    }
}

/* X8 (docs/api.md): index may be NULL; out is required (FUT_ERR_INVALID_ARGUMENT without it, and
 * the refused call consumes nothing). */
TEST(X8_index_optional_out_required)
{
    fut_future *fs[2] = {tu_future_in(TU_OK), tu_future_in(TU_FAILED)};
    fut_as_completed *it = NEW_ITER(fs, 2, TU_LONG_TIMEOUT_NS);
    size_t idx = 0;
    CHECK_ST(fut_as_completed_next(it, &idx, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_as_completed_next(it, NULL, NULL), FUT_ERR_INVALID_ARGUMENT);
    fut_future *out = NULL;
    CHECK_ST(fut_as_completed_next(it, NULL, &out), FUT_OK);
    CHECK(out == fs[0] || out == fs[1]);
    fut_future_release(out);
    fut_future *out2 = NULL;
    CHECK_ST(fut_as_completed_next(it, &idx, &out2), FUT_OK);
    CHECK(out2 == fs[0] || out2 == fs[1]);
    CHECK(out2 != out);
    CHECK_PTR_EQ(out2, fs[idx]);
    fut_future_release(out2);
    NEXT_EXPECT(it, FUT_END);
    fut_as_completed_release(it);
    tu_release_all(fs, 2);
}

/* ------------------------------------------------------------------------------------------ */
/* W12: timeout                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* W12 X8: done futures first, then FUT_ERR_TIMEOUT (no earlier than the deadline), then
 * FUT_END for ever; pending futures are untouched by the timeout. */
TEST(W12_timeout_then_end)
{
    fut_future *fs[3] = {tu_future_in(TU_PENDING), tu_future_in(TU_OK), tu_future_in(TU_RUNNING)};
    const int64_t timeout = 50 * TU_MS;
    int64_t t0 = tu_now_ns();
    fut_as_completed *it = NEW_ITER(fs, 3, timeout);
    CHECK_EQ(NEXT_OK(it, fs), 1);
    NEXT_EXPECT(it, FUT_ERR_TIMEOUT);
    CHECK_GE(tu_now_ns() - t0, timeout);
    NEXT_EXPECT(it, FUT_END);
    /* even after the remaining futures complete, the iterator is finished */
    CHECK_ST(fut_future_set_result(fs[0], NULL, 0, NULL), FUT_OK);
    CHECK_ST(fut_future_set_result(fs[2], NULL, 0, NULL), FUT_OK);
    NEXT_EXPECT(it, FUT_END);
    fut_as_completed_release(it);
    tu_release_all(fs, 3);
}

/* W12: timeout 0 yields what is done, then FUT_ERR_TIMEOUT at once. */
TEST(W12_zero_timeout_polls)
{
    fut_future *fs[3] = {tu_future_in(TU_CANCELLED), tu_future_in(TU_PENDING), tu_future_in(TU_FAILED)};
    fut_as_completed *it = NEW_ITER(fs, 3, 0);
    size_t a = NEXT_OK(it, fs), b = NEXT_OK(it, fs);
    CHECK(a != b && a != 1 && b != 1);
    NEXT_EXPECT(it, FUT_ERR_TIMEOUT);
    NEXT_EXPECT(it, FUT_END);
    fut_as_completed_release(it);
    CHECK_EQ(fut_future_state(fs[1]), FUT_STATE_PENDING);
    tu_release_all(fs, 3);

    /* all done with timeout 0: no timeout at all */
    fut_future *gs[2] = {tu_future_in(TU_OK), tu_future_in(TU_OK)};
    it = NEW_ITER(gs, 2, 0);
    NEXT_OK(it, gs);
    NEXT_OK(it, gs);
    NEXT_EXPECT(it, FUT_END);
    fut_as_completed_release(it);
    tu_release_all(gs, 2);
}

typedef struct trickle {
    fut_future **fs;
    size_t n;
    atomic_bool stop;
    int64_t interval_ms;
    tu_latch started;
} trickle;

static void *trickle_main(void *arg)
{
    trickle *t = (trickle *)arg;
    tu_latch_count_down(&t->started);
    for (size_t i = 0; i < t->n; i++) {
        if (!atomic_load(&t->stop))
            tu_sleep_ms(t->interval_ms); /* a lower bound: keeps total time >= n * interval */
        CHECK_ST(fut_future_set_result(t->fs[i], NULL, 0, NULL), FUT_OK);
    }
    return NULL;
}

/* W12 X8: the deadline is overall, fixed at _new, not per next(): futures completing every
 * 20 ms (each next() would be satisfied well within a per-call 100 ms timeout) still end in
 * FUT_ERR_TIMEOUT, because completing all of them takes at least N * 20 ms > 100 ms. */
TEST(W12_deadline_is_overall_not_per_next)
{
    enum { N = 40 };
    fut_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = tu_future_in(TU_PENDING);
    const int64_t deadline = 100 * TU_MS;
    trickle tr;
    tr.fs = fs;
    tr.n = N;
    atomic_init(&tr.stop, false);
    tr.interval_ms = 20;
    tu_latch_init(&tr.started, 1);
    int64_t t0 = tu_now_ns();
    fut_as_completed *it = NEW_ITER(fs, N, deadline);
    pthread_t t = SPAWN(trickle_main, &tr);
    LATCH_WAIT(&tr.started);
    size_t yielded = 0;
    fut_status s;
    for (;;) {
        fut_future *out = NULL;
        size_t idx;
        s = fut_as_completed_next(it, &idx, &out);
        if (s != FUT_OK)
            break;
        CHECK_PTR_EQ(out, fs[idx]);
        CHECK_EQ(idx, yielded); /* completed in index order */
        fut_future_release(out);
        yielded++;
    }
    int64_t elapsed = tu_now_ns() - t0;
    CHECK_ST(s, FUT_ERR_TIMEOUT);
    CHECK(yielded < N);
    CHECK_GE(elapsed, deadline);
    CHECK_LT(elapsed, 20 * TU_SEC); /* bounded: it returned, long before the trickle ends */
    NEXT_EXPECT(it, FUT_END);
    atomic_store(&tr.stop, true);
    JOIN(t);
    NEXT_EXPECT(it, FUT_END);
    fut_as_completed_release(it);
    tu_latch_destroy(&tr.started);
    tu_release_all(fs, N);
}

/* X4 W12: extreme deadlines (INT64_MAX ns, INT64_MIN = none) never time out. */
TEST(X4_as_completed_extreme_timeouts)
{
    const int64_t timeouts[] = {INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < 2; i++) {
        fut_future *fs[2] = {tu_future_in(TU_OK), tu_future_in(TU_PENDING)};
        fut_as_completed *it = NEW_ITER(fs, 2, timeouts[i]);
        CHECK_EQ(NEXT_OK(it, fs), 0);
        CHECK_ST(fut_future_set_result(fs[1], NULL, 0, NULL), FUT_OK);
        CHECK_EQ(NEXT_OK(it, fs), 1);
        NEXT_EXPECT(it, FUT_END);
        fut_as_completed_release(it);
        tu_release_all(fs, 2);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* W13: references and early release                                                          */
/* ------------------------------------------------------------------------------------------ */

/* W13 X6: the iterator keeps the futures alive (it holds references) and drops its reference
 * to each future when it yields it: once we release the yielded reference, the future is freed
 * (its destructor runs) while the iterator still lives. */
TEST(W13_iterator_drops_reference_when_yielding)
{
    atomic_int drops = 0;
    enum { N = 3 };
    fut_future *fs[N];
    for (int i = 0; i < N; i++) {
        fs[i] = NEW_FUTURE();
        CHECK_ST(fut_future_set_result(fs[i], tu_value_new(&drops, i), 0, tu_value_drop), FUT_OK);
    }
    fut_future *copy[N];
    memcpy(copy, fs, sizeof copy);
    fut_as_completed *it = NEW_ITER(copy, N, TU_LONG_TIMEOUT_NS);
    tu_release_all(fs, N); /* the iterator's references keep them alive */
    CHECK_EQ(atomic_load(&drops), 0);
    for (int i = 0; i < N; i++) {
        fut_future *out = NULL;
        size_t idx;
        CHECK_ST(fut_as_completed_next(it, &idx, &out), FUT_OK);
        CHECK_PTR_EQ(out, copy[idx]);
        CHECK(fut_future_done(out));
        CHECK_EQ(atomic_load(&drops), i);
        fut_future_release(out); /* our reference was the last one */
        CHECK_EQ(atomic_load(&drops), i + 1);
    }
    NEXT_EXPECT(it, FUT_END);
    fut_as_completed_release(it);
    CHECK_EQ(atomic_load(&drops), N);
}

/* W13 X8: after FUT_ERR_TIMEOUT the iterator holds no reference to the futures it did not
 * yield: completing and releasing them frees them while the iterator still lives. */
TEST(W13_timeout_drops_remaining_references)
{
    atomic_int drops = 0;
    fut_future *fs[2] = {tu_future_in(TU_PENDING), tu_future_in(TU_PENDING)};
    fut_as_completed *it = NEW_ITER(fs, 2, 1 * TU_MS);
    NEXT_EXPECT(it, FUT_ERR_TIMEOUT);
    for (int i = 0; i < 2; i++)
        CHECK_ST(fut_future_set_result(fs[i], tu_value_new(&drops, i), 0, tu_value_drop), FUT_OK);
    tu_release_all(fs, 2);
    CHECK_EQ(atomic_load(&drops), 2);
    NEXT_EXPECT(it, FUT_END);
    fut_as_completed_release(it);
}

/* W13 X8: releasing the iterator early (right after _new, after some next(), after a
 * completion that was never consumed) detaches it: later completions and releases are clean,
 * callbacks still run once, the futures are not cancelled by the release and are freed at
 * our last release. */
static void count_cb(fut_future *f, void *user)
{
    (void)f;
    atomic_fetch_add((atomic_int *)user, 1);
}

TEST(W13_release_iterator_early)
{
    for (int variant = 0; variant < 4; variant++) {
        atomic_int drops = 0, calls = 0;
        enum { N = 4 };
        fut_future *fs[N] = {tu_future_in(TU_OK), tu_future_in(TU_PENDING), tu_future_in(TU_PENDING),
                             tu_future_in(TU_RUNNING)};
        for (int i = 0; i < N; i++)
            CHECK_ST(fut_future_add_done_callback(fs[i], count_cb, &calls), FUT_OK);
        fut_as_completed *it = NEW_ITER(fs, N, TU_LONG_TIMEOUT_NS);
        if (variant >= 1)
            NEXT_OK(it, fs);
        if (variant >= 2)
            CHECK_ST(fut_future_set_result(fs[1], tu_value_new(&drops, 1), 0, tu_value_drop),
                     FUT_OK); /* buffered in the iterator, never consumed */
        if (variant == 3)
            NEXT_OK(it, fs);
        fut_as_completed_release(it);
        /* X8: releasing an as_completed iterator only detaches it */
        CHECK_EQ(fut_future_state(fs[2]), FUT_STATE_PENDING);
        CHECK_EQ(fut_future_state(fs[3]), FUT_STATE_RUNNING);
        if (variant < 2)
            CHECK_ST(fut_future_set_result(fs[1], tu_value_new(&drops, 1), 0, tu_value_drop),
                     FUT_OK);
        CHECK(fut_future_cancel(fs[2]));
        CHECK_ST(fut_future_set_exception(fs[3], 1, "late"), FUT_OK);
        CHECK_EQ(atomic_load(&calls), N);
        tu_release_all(fs, N);
        CHECK_EQ(atomic_load(&drops), 1);
        CHECK_EQ(atomic_load(&calls), N);
    }
}

/* W13: the iterator may outlive every reference the caller held; releasing it then frees the
 * futures (pending ones are cancelled by that last release: X5). */
TEST(W13_iterator_holds_last_references)
{
    atomic_int drops = 0, calls = 0;
    fut_future *fs[2] = {NEW_FUTURE(), tu_future_in(TU_PENDING)};
    CHECK_ST(fut_future_set_result(fs[0], tu_value_new(&drops, 0), 0, tu_value_drop), FUT_OK);
    CHECK_ST(fut_future_add_done_callback(fs[1], count_cb, &calls), FUT_OK);
    fut_future *copy[2] = {fs[0], fs[1]};
    fut_as_completed *it = NEW_ITER(copy, 2, TU_LONG_TIMEOUT_NS);
    tu_release_all(fs, 2);
    CHECK_EQ(atomic_load(&drops), 0);
    CHECK_EQ(atomic_load(&calls), 0);
    fut_as_completed_release(it);
    CHECK_EQ(atomic_load(&drops), 1);
    CHECK_EQ(atomic_load(&calls), 1); /* the last release cancelled the pending one */
}

/* ------------------------------------------------------------------------------------------ */
/* Blocking next() woken by another thread                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct consumer {
    fut_as_completed *it;
    fut_future **fs;
    size_t n;
    tu_latch about_to_block;
    size_t order[16];
    size_t got;
    fut_status last;
} consumer;

static void *consumer_main(void *arg)
{
    consumer *c = (consumer *)arg;
    tu_latch_count_down(&c->about_to_block);
    for (;;) {
        fut_future *out = NULL;
        size_t idx;
        fut_status s = fut_as_completed_next(c->it, &idx, &out);
        c->last = s;
        if (s != FUT_OK)
            break;
        CHECK_PTR_EQ(out, c->fs[idx]);
        fut_future_release(out);
        if (c->got < 16)
            c->order[c->got] = idx;
        c->got++;
    }
    return NULL;
}

/* W11 W2 X8: a consumer blocked in next() (FOREVER deadline) is woken by another thread's
 * set_result, set_exception and cancel, one after the other, and then sees FUT_END. */
TEST(W11_W2_blocked_next_woken_by_each_completion)
{
    fut_future *fs[3] = {tu_future_in(TU_PENDING), tu_future_in(TU_RUNNING), tu_future_in(TU_PENDING)};
    consumer c;
    memset(&c, 0, sizeof c);
    c.fs = fs;
    c.n = 3;
    c.it = NEW_ITER(fs, 3, FUT_WAIT_FOREVER);
    tu_latch_init(&c.about_to_block, 1);
    pthread_t t = SPAWN(consumer_main, &c);
    LATCH_WAIT(&c.about_to_block);
    tu_sleep_ms(5); /* make "blocked in next" likely; both orders pass */
    CHECK_ST(fut_future_set_exception(fs[1], 3, "x"), FUT_OK);
    tu_sleep_ms(5);
    CHECK(fut_future_cancel(fs[2]));
    tu_sleep_ms(5);
    CHECK_ST(fut_future_set_result(fs[0], NULL, 0, NULL), FUT_OK);
    JOIN(t);
    CHECK_ST(c.last, FUT_END);
    CHECK_EQ(c.got, 3);
    /* completion order */
    CHECK_EQ(c.order[0], 1);
    CHECK_EQ(c.order[1], 2);
    CHECK_EQ(c.order[2], 0);
    tu_latch_destroy(&c.about_to_block);
    fut_as_completed_release(c.it);
    tu_release_all(fs, 3);
}

/* ------------------------------------------------------------------------------------------ */
/* W14: load                                                                                  */
/* ------------------------------------------------------------------------------------------ */

typedef struct load_completer {
    fut_future **fs;
    size_t *order; /* indices to complete, in this order */
    size_t n;
    tu_barrier *start;
} load_completer;

static void *load_completer_main(void *arg)
{
    load_completer *c = (load_completer *)arg;
    BARRIER_WAIT(c->start);
    for (size_t i = 0; i < c->n; i++) {
        size_t k = c->order[i];
        switch (k % 3) {
        case 0:
            CHECK_ST(fut_future_set_result(c->fs[k], &c->fs[k], sizeof(void *), NULL), FUT_OK);
            break;
        case 1:
            CHECK_ST(fut_future_set_exception(c->fs[k], (int32_t)k, NULL), FUT_OK);
            break;
        default:
            CHECK(fut_future_cancel(c->fs[k]));
            break;
        }
    }
    return NULL;
}

/* W14 W11 X8: 100,000 futures (scaled by FUT_TEST_SCALE) completed from 2 threads in random
 * order while as_completed consumes concurrently: every index exactly once, no loss, no
 * duplicate, then FUT_END. About 10% are done before the iterator is created. */
TEST(W14_load_100k_two_completers_concurrent_consumer)
{
    size_t n = tu_scaled(100000, 1000);
    fut_future **fs = malloc(sizeof *fs * n);
    size_t *perm = malloc(sizeof *perm * n);
    unsigned char *seen = calloc(n, 1);
    CHECK(fs && perm && seen);
    for (size_t i = 0; i < n; i++) {
        fs[i] = NEW_FUTURE();
        perm[i] = i;
    }
    tu_rng rng;
    tu_rng_init(&rng, 14);
    tu_shuffle(perm, n, &rng);

    size_t pre = n / 10;
    tu_barrier start;
    tu_barrier_init(&start, 3);
    for (size_t i = 0; i < pre; i++) /* completed before _new */
        CHECK_ST(fut_future_set_result(fs[perm[i]], NULL, 0, NULL), FUT_OK);

    fut_as_completed *it = NEW_ITER(fs, n, 60 * TU_SEC);
    size_t rest = n - pre, half = rest / 2;
    load_completer c1 = {fs, perm + pre, half, &start};
    load_completer c2 = {fs, perm + pre + half, rest - half, &start};
    pthread_t t1 = SPAWN(load_completer_main, &c1);
    pthread_t t2 = SPAWN(load_completer_main, &c2);
    BARRIER_WAIT(&start);

    size_t got = 0;
    fut_status s;
    for (;;) {
        fut_future *out = NULL;
        size_t idx = (size_t)-1;
        s = fut_as_completed_next(it, &idx, &out);
        if (s != FUT_OK)
            break;
        CHECK_MSG(idx < n, "index %zu out of range", idx);
        CHECK_MSG(!seen[idx], "index %zu yielded twice", idx);
        seen[idx] = 1;
        CHECK_PTR_EQ(out, fs[idx]);
        CHECK(fut_future_done(out));
        fut_future_release(out);
        got++;
    }
    CHECK_ST(s, FUT_END);
    CHECK_EQ(got, n);
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(seen[i], "index %zu never yielded", i);
    JOIN(t1);
    JOIN(t2);
    fut_as_completed_release(it);
    tu_release_all(fs, n);
    tu_barrier_destroy(&start);
    free(fs);
    free(perm);
    free(seen);
}

int main(int argc, char **argv)
{
    return tu_main(argc, argv);
}
