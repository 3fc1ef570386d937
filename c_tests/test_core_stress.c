/*
 * test_core_stress.c — concurrency stress for futures, fut_wait and fut_as_completed
 * (F4, F7, F12, W1, W3, W7, W9, W11, W14, X5, X7, X8).
 *
 * Sizes scale with env FUT_TEST_SCALE (e.g. 0.1 under valgrind).
 */
#include "test_util.h"

#include <sched.h>

/* ------------------------------------------------------------------------------------------ */
/* Part 1: 8 completers, 4 waiters over overlapping slices                                    */
/* ------------------------------------------------------------------------------------------ */

enum { N_COMPLETERS = 8, N_WAITERS = 4 };

typedef struct shared_set {
    size_t n;
    fut_future **fs;
    atomic_int drops;
    tu_barrier start;
} shared_set;

/* the outcome planned for future i */
static int planned(size_t i)
{
    return (int)(i % 4); /* 0 value, 1 failure, 2 cancel, 3 running then value */
}

typedef struct completer {
    shared_set *s;
    size_t id;
    size_t *order;
    size_t n;
} completer;

static void *completer_main(void *arg)
{
    completer *c = (completer *)arg;
    shared_set *s = c->s;
    BARRIER_WAIT(&s->start);
    for (size_t j = 0; j < c->n; j++) {
        size_t i = c->order[j];
        fut_future *f = s->fs[i];
        switch (planned(i)) {
        case 0:
            CHECK_ST(fut_future_set_result(f, tu_value_new(&s->drops, (int)i), sizeof(tu_value),
                                           tu_value_drop),
                     FUT_OK);
            break;
        case 1:
            CHECK_ST(fut_future_set_exception(f, (int32_t)i, "planned failure"), FUT_OK);
            break;
        case 2:
            CHECK(fut_future_cancel(f));
            break;
        default:
            CHECK(fut_future_set_running_or_notify_cancel(f));
            if (j % 7 == 0)
                sched_yield(); /* let waiters see RUNNING futures */
            CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
            break;
        }
        if (j % 64 == 0)
            sched_yield();
        /* spread the completions over at least ~20 ms so that the waiters are really
         * installed and blocked while most futures complete (a sleep only makes that likely;
         * correctness never depends on it) */
        if (c->n >= 20 && j % (c->n / 20) == 0)
            tu_sleep_ms(1);
    }
    return NULL;
}

typedef enum { W_ALL_FOREVER, W_FIRST_LOOP, W_AC_FOREVER, W_AC_FINITE_THEN_POLL } waiter_kind;

typedef struct waiter {
    shared_set *s;
    waiter_kind kind;
    fut_future **arr; /* slice with duplicates */
    size_t *arr_idx;  /* arr[k] == s->fs[arr_idx[k]] */
    size_t n;         /* entries in arr */
    size_t distinct;  /* distinct futures in arr */
    fut_future **arr2; /* W_AC_FINITE_THEN_POLL: the slice for the poll loop */
    size_t n2;
    /* results */
    size_t seen_count;
    size_t seen2_count;
    int errors;
    char error_text[256];
} waiter;

static void waiter_error(waiter *w, const char *fmt, size_t a, size_t b)
{
    if (w->errors++ == 0)
        snprintf(w->error_text, sizeof w->error_text, fmt, a, b);
}

/* every future in arr must be done with its planned outcome */
static void verify_done(waiter *w, fut_future **arr, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!fut_future_done(arr[k]))
            waiter_error(w, "entry %zu not done after the waiter returned (%zu)", k, n);
}

static void run_as_completed(waiter *w, int64_t timeout)
{
    fut_as_completed *it = NULL;
    fut_status st = fut_as_completed_new(w->arr, w->n, timeout, &it);
    if (st != FUT_OK) {
        waiter_error(w, "as_completed_new failed (%zu %zu)", (size_t)(-st), 0);
        return;
    }
    unsigned char *seen = calloc(w->n, 1);
    CHECK(seen != NULL);
    for (;;) {
        fut_future *out = NULL;
        size_t idx = (size_t)-1;
        st = fut_as_completed_next(it, &idx, &out);
        if (st != FUT_OK)
            break;
        if (idx >= w->n) {
            waiter_error(w, "index %zu out of range %zu", idx, w->n);
        } else {
            if (seen[idx])
                waiter_error(w, "index %zu yielded twice (%zu)", idx, 0);
            seen[idx] = 1;
            if (out != w->arr[idx])
                waiter_error(w, "index %zu: wrong future (%zu)", idx, 0);
            /* index must be the first occurrence */
            for (size_t k = 0; k < idx; k++)
                if (w->arr[k] == out) {
                    waiter_error(w, "index %zu is not the first occurrence (%zu)", idx, k);
                    break;
                }
        }
        if (!fut_future_done(out))
            waiter_error(w, "yielded future %zu not done (%zu)", idx, 0);
        fut_future_release(out);
        w->seen_count++;
    }
    if (st != FUT_END)
        waiter_error(w, "as_completed ended with status %zu after %zu", (size_t)(-st),
                     w->seen_count);
    fut_as_completed_release(it);
    free(seen);
}

static void *waiter_main(void *arg)
{
    waiter *w = (waiter *)arg;
    BARRIER_WAIT(&w->s->start);
    switch (w->kind) {
    case W_ALL_FOREVER: {
        uint8_t *flags = malloc(w->n);
        CHECK(flags != NULL);
        size_t n_done = 0;
        fut_status st =
            fut_wait(w->arr, w->n, FUT_WAIT_FOREVER, FUT_ALL_COMPLETED, flags, &n_done);
        if (st != FUT_OK)
            waiter_error(w, "ALL_COMPLETED failed: %zu %zu", (size_t)(-st), 0);
        if (n_done != w->distinct)
            waiter_error(w, "ALL_COMPLETED n_done %zu, expected %zu", n_done, w->distinct);
        for (size_t k = 0; k < w->n; k++)
            if (flags[k] != 1)
                waiter_error(w, "ALL_COMPLETED flag %zu is %zu", k, flags[k]);
        w->seen_count = n_done;
        verify_done(w, w->arr, w->n);
        free(flags);
        break;
    }
    case W_FIRST_LOOP: {
        /* FIRST_COMPLETED with finite timeouts over the remaining futures until all done */
        fut_future **rem = malloc(sizeof *rem * w->n);
        uint8_t *flags = malloc(w->n);
        CHECK(rem && flags);
        memcpy(rem, w->arr, sizeof *rem * w->n);
        size_t nrem = w->n;
        int64_t deadline = tu_now_ns() + 60 * TU_SEC;
        while (nrem > 0) {
            if (tu_now_ns() > deadline) {
                waiter_error(w, "FIRST_COMPLETED loop: %zu left after 60 s (%zu)", nrem, 0);
                break;
            }
            size_t n_done = 0;
            fut_status st =
                fut_wait(rem, nrem, 50 * TU_MS, FUT_FIRST_COMPLETED, flags, &n_done);
            if (st != FUT_OK) {
                waiter_error(w, "FIRST_COMPLETED failed: %zu %zu", (size_t)(-st), 0);
                break;
            }
            size_t kept = 0, flagged = 0;
            for (size_t k = 0; k < nrem; k++) {
                if (flags[k]) {
                    flagged++;
                    if (!fut_future_done(rem[k]))
                        waiter_error(w, "flag set on a future that is not done (%zu %zu)", k,
                                     0);
                } else {
                    rem[kept++] = rem[k];
                }
            }
            /* n_done counts distinct futures; duplicates may inflate flagged */
            if (n_done > flagged || (flagged > 0 && n_done == 0))
                waiter_error(w, "n_done %zu inconsistent with %zu flags", n_done, flagged);
            w->seen_count += flagged;
            nrem = kept;
        }
        verify_done(w, w->arr, w->n);
        free(rem);
        free(flags);
        break;
    }
    case W_AC_FOREVER:
        run_as_completed(w, FUT_WAIT_FOREVER);
        break;
    case W_AC_FINITE_THEN_POLL: {
        run_as_completed(w, 60 * TU_SEC);
        /* then ALL_COMPLETED with short timeouts until everything is done */
        size_t n_done = 0;
        int64_t deadline = tu_now_ns() + 60 * TU_SEC;
        do {
            fut_status st = fut_wait(w->arr2, w->n2, 5 * TU_MS, FUT_ALL_COMPLETED, NULL, &n_done);
            if (st != FUT_OK) {
                waiter_error(w, "ALL_COMPLETED poll failed: %zu %zu", (size_t)(-st), 0);
                break;
            }
            if (tu_now_ns() > deadline) {
                waiter_error(w, "ALL_COMPLETED poll: %zu of %zu after 60 s", n_done, w->n2);
                break;
            }
        } while (n_done < w->n2);
        w->seen2_count = n_done;
        verify_done(w, w->arr2, w->n2);
        break;
    }
    }
    return NULL;
}

/* builds arr from the index range [lo, hi) with a duplicate of every dup_every-th entry
 * appended at the end (dup_every 0: none) */
static void build_slice(waiter *w, shared_set *s, size_t lo, size_t hi, size_t dup_every)
{
    size_t base = hi - lo;
    size_t dups = dup_every ? base / dup_every : 0;
    w->arr = malloc(sizeof *w->arr * (base + dups));
    w->arr_idx = malloc(sizeof *w->arr_idx * (base + dups));
    CHECK(w->arr && w->arr_idx);
    size_t k = 0;
    for (size_t i = lo; i < hi; i++, k++) {
        w->arr[k] = s->fs[i];
        w->arr_idx[k] = i;
    }
    for (size_t d = 0; d < dups; d++, k++) {
        size_t i = lo + d * dup_every;
        w->arr[k] = s->fs[i];
        w->arr_idx[k] = i;
    }
    w->n = k;
    w->distinct = base;
}

/* F7 W1 W3 W7 W9 W11 W14 X7 X8: 8 completer threads and 4 waiter threads over overlapping
 * sets of 10,000 futures (ALL_COMPLETED FOREVER, a FIRST_COMPLETED loop with finite timeouts,
 * as_completed FOREVER, as_completed with a finite deadline then an ALL_COMPLETED poll loop;
 * slices contain duplicates): every waiter sees all it should, every future ends with its
 * planned outcome, values are destroyed once. */
TEST(W3_W7_W14_completers_and_waiters_over_overlapping_sets)
{
    shared_set s;
    s.n = tu_scaled(10000, 400);
    s.fs = malloc(sizeof *s.fs * s.n);
    CHECK(s.fs != NULL);
    atomic_init(&s.drops, 0);
    for (size_t i = 0; i < s.n; i++)
        s.fs[i] = NEW_FUTURE();
    tu_barrier_init(&s.start, N_COMPLETERS + N_WAITERS);

    /* completers: future i belongs to completer i % 8, each in its own random order */
    completer cs[N_COMPLETERS];
    pthread_t ct[N_COMPLETERS];
    tu_rng rng;
    tu_rng_init(&rng, 1);
    for (size_t c = 0; c < N_COMPLETERS; c++) {
        cs[c].s = &s;
        cs[c].id = c;
        cs[c].order = malloc(sizeof(size_t) * (s.n / N_COMPLETERS + 1));
        CHECK(cs[c].order != NULL);
        cs[c].n = 0;
        for (size_t i = c; i < s.n; i += N_COMPLETERS)
            cs[c].order[cs[c].n++] = i;
        tu_shuffle(cs[c].order, cs[c].n, &rng);
    }

    size_t n = s.n;
    waiter ws[N_WAITERS];
    memset(ws, 0, sizeof ws);
    for (int k = 0; k < N_WAITERS; k++) {
        ws[k].s = &s;
        ws[k].kind = (waiter_kind)k;
    }
    build_slice(&ws[0], &s, 0, n / 2, 50);
    /* FIRST_COMPLETED loop over every 16th future: keeps the loop O(n^2) small */
    {
        size_t m = 0;
        ws[1].arr = malloc(sizeof *ws[1].arr * (n / 16 + 2));
        ws[1].arr_idx = malloc(sizeof *ws[1].arr_idx * (n / 16 + 2));
        CHECK(ws[1].arr && ws[1].arr_idx);
        for (size_t i = 5; i < n; i += 16, m++) {
            ws[1].arr[m] = s.fs[i];
            ws[1].arr_idx[m] = i;
        }
        ws[1].n = ws[1].distinct = m;
    }
    build_slice(&ws[2], &s, n / 4, 3 * n / 4, 37);
    build_slice(&ws[3], &s, n / 2, n, 0);
    ws[3].arr2 = s.fs + 3 * n / 8;
    ws[3].n2 = 5 * n / 8 - 3 * n / 8;

    pthread_t wt[N_WAITERS];
    for (int k = 0; k < N_WAITERS; k++)
        wt[k] = SPAWN(waiter_main, &ws[k]);
    for (size_t c = 0; c < N_COMPLETERS; c++)
        ct[c] = SPAWN(completer_main, &cs[c]);
    for (size_t c = 0; c < N_COMPLETERS; c++)
        JOIN(ct[c]);
    for (int k = 0; k < N_WAITERS; k++)
        JOIN(wt[k]);

    for (int k = 0; k < N_WAITERS; k++)
        CHECK_MSG(ws[k].errors == 0, "waiter %d: %d errors, first: %s", k, ws[k].errors,
                  ws[k].error_text);
    CHECK_EQ(ws[0].seen_count, ws[0].distinct);
    CHECK_EQ(ws[1].seen_count, ws[1].n);
    CHECK_EQ(ws[2].seen_count, ws[2].distinct);
    CHECK_EQ(ws[3].seen_count, ws[3].distinct);
    CHECK_EQ(ws[3].seen2_count, ws[3].n2);

    /* every future has its planned outcome */
    size_t values = 0;
    for (size_t i = 0; i < n; i++) {
        fut_future *f = s.fs[i];
        void *p = NULL;
        switch (planned(i)) {
        case 0:
            CHECK_ST(fut_future_result(f, 0, &p, NULL), FUT_OK);
            CHECK_EQ(((tu_value *)p)->payload, (int)i);
            values++;
            break;
        case 1: {
            CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_TASK_FAILED);
            fut_error_info info;
            CHECK_ST(fut_future_exception(f, 0, &info), FUT_OK);
            CHECK_EQ(info.code, (int32_t)i);
            break;
        }
        case 2:
            CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_CANCELLED);
            break;
        default:
            CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_OK);
            break;
        }
    }
    CHECK_EQ(atomic_load(&s.drops), 0);
    for (size_t i = 0; i < n; i++)
        fut_future_release(s.fs[i]);
    CHECK_EQ(atomic_load(&s.drops), (int)values);

    for (int k = 0; k < N_WAITERS; k++) {
        free(ws[k].arr);
        free(ws[k].arr_idx);
    }
    for (size_t c = 0; c < N_COMPLETERS; c++)
        free(cs[c].order);
    tu_barrier_destroy(&s.start);
    free(s.fs);
}

/* ------------------------------------------------------------------------------------------ */
/* Part 2: cancel vs set_result vs set_exception vs set_running on the same futures           */
/* ------------------------------------------------------------------------------------------ */

enum { RACERS = 4, BATCH = 64 };

typedef struct race_state {
    size_t n;
    fut_future **fs;
    atomic_int *cb_first;  /* callback 1 runs */
    atomic_int *cb_second; /* callback 2 runs */
    atomic_int *cb_order_errors;
    unsigned char *won[RACERS]; /* per racer: did its operation win on future i */
    tu_value **values;          /* the value racer 0 offered for future i */
    atomic_int drops;
    tu_barrier batch;
} race_state;

typedef struct cb_arg {
    race_state *r;
    size_t i;
} cb_arg;

static void first_cb(fut_future *f, void *user)
{
    cb_arg *a = (cb_arg *)user;
    (void)f;
    atomic_fetch_add(&a->r->cb_first[a->i], 1);
}

static void second_cb(fut_future *f, void *user)
{
    cb_arg *a = (cb_arg *)user;
    (void)f;
    if (atomic_load(&a->r->cb_first[a->i]) != 1)
        atomic_fetch_add(a->r->cb_order_errors, 1);
    atomic_fetch_add(&a->r->cb_second[a->i], 1);
}

typedef struct racer {
    race_state *r;
    int role;
    tu_rng rng;
} racer;

static void *racer_main(void *arg)
{
    racer *me = (racer *)arg;
    race_state *r = me->r;
    size_t order[BATCH];
    for (size_t b0 = 0; b0 < r->n; b0 += BATCH) {
        size_t bn = r->n - b0 < BATCH ? r->n - b0 : BATCH;
        for (size_t k = 0; k < bn; k++)
            order[k] = b0 + k;
        if ((b0 / BATCH) % 2) /* odd batches: every racer in its own random order */
            tu_shuffle(order, bn, &me->rng);
        BARRIER_WAIT(&r->batch);
        for (size_t k = 0; k < bn; k++) {
            size_t i = order[k];
            fut_future *f = r->fs[i];
            switch (me->role) {
            case 0: {
                tu_value *v = tu_value_new(&r->drops, (int)i);
                r->values[i] = v;
                fut_status s = fut_future_set_result(f, v, sizeof *v, tu_value_drop);
                CHECK(s == FUT_OK || s == FUT_ERR_INVALID_STATE);
                r->won[0][i] = s == FUT_OK;
                if (s != FUT_OK) {
                    r->values[i] = NULL;
                    /* refused: the destructor was not called, we still own v */
                    CHECK_EQ(v->payload, (int)i);
                    free(v);
                }
                break;
            }
            case 1: {
                fut_status s = fut_future_set_exception(f, (int32_t)i, "racer");
                CHECK(s == FUT_OK || s == FUT_ERR_INVALID_STATE);
                r->won[1][i] = s == FUT_OK;
                break;
            }
            case 2:
                r->won[2][i] = fut_future_cancel(f);
                break;
            default:
                r->won[3][i] = fut_future_set_running_or_notify_cancel(f);
                break;
            }
        }
    }
    return NULL;
}

/* F4 F6 F7 F12: cancel, set_result, set_exception and set_running_or_notify_cancel race on the
 * same futures from 4 threads: exactly one outcome wins per future and the state agrees with
 * it, a cancel never wins after set_running won, each callback runs exactly once and in order,
 * refused values are never destroyed by the library, accepted ones exactly once. */
TEST(F4_F7_F12_cancel_vs_set_result_vs_set_exception_race)
{
    tu_log_capture cap; /* set_running on finished futures is logged: keep it quiet */
    tu_log_capture_init(&cap);
    fut_set_log_hook(tu_log_capture_fn, &cap);

    race_state r;
    memset(&r, 0, sizeof r);
    r.n = tu_scaled(20000, 500);
    r.fs = malloc(sizeof *r.fs * r.n);
    r.cb_first = malloc(sizeof *r.cb_first * r.n);
    r.cb_second = malloc(sizeof *r.cb_second * r.n);
    r.values = calloc(r.n, sizeof *r.values);
    cb_arg *args = malloc(sizeof *args * r.n);
    atomic_int order_errors = 0;
    r.cb_order_errors = &order_errors;
    CHECK(r.fs && r.cb_first && r.cb_second && r.values && args);
    for (int k = 0; k < RACERS; k++) {
        r.won[k] = calloc(r.n, 1);
        CHECK(r.won[k] != NULL);
    }
    atomic_init(&r.drops, 0);
    for (size_t i = 0; i < r.n; i++) {
        r.fs[i] = NEW_FUTURE();
        atomic_init(&r.cb_first[i], 0);
        atomic_init(&r.cb_second[i], 0);
        args[i].r = &r;
        args[i].i = i;
        CHECK_ST(fut_future_add_done_callback(r.fs[i], first_cb, &args[i]), FUT_OK);
        CHECK_ST(fut_future_add_done_callback(r.fs[i], second_cb, &args[i]), FUT_OK);
    }
    tu_barrier_init(&r.batch, RACERS);
    racer rs[RACERS];
    pthread_t ts[RACERS];
    for (int k = 0; k < RACERS; k++) {
        rs[k].r = &r;
        rs[k].role = k;
        tu_rng_init(&rs[k].rng, 100 + (uint64_t)k);
        ts[k] = SPAWN(racer_main, &rs[k]);
    }
    for (int k = 0; k < RACERS; k++)
        JOIN(ts[k]);

    size_t wins[3] = {0, 0, 0};
    for (size_t i = 0; i < r.n; i++) {
        fut_future *f = r.fs[i];
        int winners = r.won[0][i] + r.won[1][i] + r.won[2][i];
        CHECK_MSG(winners == 1, "future %zu: %d outcomes won (result %d, exception %d, cancel %d)",
                  i, winners, r.won[0][i], r.won[1][i], r.won[2][i]);
        CHECK_MSG(!(r.won[2][i] && r.won[3][i]), "future %zu: cancel won after set_running", i);
        CHECK_EQ(atomic_load(&r.cb_first[i]), 1);
        CHECK_EQ(atomic_load(&r.cb_second[i]), 1);
        CHECK(fut_future_done(f));
        if (r.won[0][i]) {
            wins[0]++;
            CHECK_EQ(fut_future_state(f), FUT_STATE_FINISHED);
            void *p = NULL;
            CHECK_ST(fut_future_result(f, 0, &p, NULL), FUT_OK);
            CHECK_PTR_EQ(p, r.values[i]);
        } else if (r.won[1][i]) {
            wins[1]++;
            CHECK_EQ(fut_future_state(f), FUT_STATE_FINISHED);
            fut_error_info info;
            CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_TASK_FAILED);
            CHECK_ST(fut_future_exception(f, 0, &info), FUT_OK);
            CHECK_EQ(info.code, (int32_t)i);
        } else {
            wins[2]++;
            CHECK_EQ(fut_future_state(f), FUT_STATE_CANCELLED);
            CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_CANCELLED);
        }
    }
    CHECK_EQ(atomic_load(&order_errors), 0);
    CHECK_EQ(atomic_load(&r.drops), 0);
    for (size_t i = 0; i < r.n; i++)
        fut_future_release(r.fs[i]);
    CHECK_EQ(atomic_load(&r.drops), (int)wins[0]);
    for (size_t i = 0; i < r.n; i++) {
        CHECK_EQ(atomic_load(&r.cb_first[i]), 1);
        CHECK_EQ(atomic_load(&r.cb_second[i]), 1);
    }
    printf("# race outcomes: %zu results, %zu exceptions, %zu cancels\n", wins[0], wins[1],
           wins[2]);

    fut_set_log_hook(NULL, NULL);
    tu_log_capture_destroy(&cap);
    tu_barrier_destroy(&r.batch);
    for (int k = 0; k < RACERS; k++)
        free(r.won[k]);
    free(args);
    free(r.values);
    free(r.cb_first);
    free(r.cb_second);
    free(r.fs);
}

/* ------------------------------------------------------------------------------------------ */
/* Part 3: overlapping waits in opposite orders (W3 lock order)                               */
/* ------------------------------------------------------------------------------------------ */

enum { LO_FUTS = 64, LO_THREADS = 4 };

typedef struct lock_order {
    fut_future *fs[LO_FUTS];
    atomic_bool all_done;
    tu_barrier start;
} lock_order;

typedef struct lo_thread {
    lock_order *lo;
    fut_future *arr[LO_FUTS];
    int id;
    long rounds;
} lo_thread;

static void *lo_waiter_main(void *arg)
{
    lo_thread *t = (lo_thread *)arg;
    BARRIER_WAIT(&t->lo->start);
    while (!atomic_load(&t->lo->all_done)) {
        fut_return_when w = t->id % 2 ? FUT_FIRST_COMPLETED : FUT_ALL_COMPLETED;
        CHECK_ST(fut_wait(t->arr, LO_FUTS, (t->rounds % 3) == 0 ? 0 : TU_MS, w, NULL, NULL),
                 FUT_OK);
        fut_as_completed *it = NULL;
        CHECK_ST(fut_as_completed_new(t->arr, LO_FUTS, 0, &it), FUT_OK);
        fut_future *out = NULL;
        size_t idx;
        if (fut_as_completed_next(it, &idx, &out) == FUT_OK)
            fut_future_release(out);
        fut_as_completed_release(it);
        t->rounds++;
    }
    /* a final ALL_COMPLETED must see everything done */
    size_t n_done = 0;
    CHECK_ST(fut_wait(t->arr, LO_FUTS, TU_LONG_TIMEOUT_NS, FUT_ALL_COMPLETED, NULL, &n_done),
             FUT_OK);
    CHECK_EQ(n_done, LO_FUTS);
    return NULL;
}

/* W3: concurrent waits and as_completed over the same futures given in different orders
 * (reversed, shuffled) never deadlock while another thread completes them. */
TEST(W3_overlapping_waits_in_opposite_orders_do_not_deadlock)
{
    size_t rounds = tu_scaled(10, 2);
    for (size_t round = 0; round < rounds; round++) {
        lock_order lo;
        for (int i = 0; i < LO_FUTS; i++)
            lo.fs[i] = NEW_FUTURE();
        atomic_init(&lo.all_done, false);
        tu_barrier_init(&lo.start, LO_THREADS + 1);
        lo_thread ts[LO_THREADS];
        pthread_t th[LO_THREADS];
        tu_rng rng;
        tu_rng_init(&rng, 300 + round);
        for (int k = 0; k < LO_THREADS; k++) {
            ts[k].lo = &lo;
            ts[k].id = k;
            ts[k].rounds = 0;
            size_t perm[LO_FUTS];
            for (size_t i = 0; i < LO_FUTS; i++)
                perm[i] = k == 0 ? i : k == 1 ? LO_FUTS - 1 - i : i;
            if (k >= 2)
                tu_shuffle(perm, LO_FUTS, &rng);
            for (size_t i = 0; i < LO_FUTS; i++)
                ts[k].arr[i] = lo.fs[perm[i]];
            th[k] = SPAWN(lo_waiter_main, &ts[k]);
        }
        BARRIER_WAIT(&lo.start);
        size_t perm[LO_FUTS];
        for (size_t i = 0; i < LO_FUTS; i++)
            perm[i] = i;
        tu_shuffle(perm, LO_FUTS, &rng);
        for (size_t i = 0; i < LO_FUTS; i++) {
            fut_future *f = lo.fs[perm[i]];
            if (i % 3 == 0)
                CHECK(fut_future_cancel(f));
            else
                CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
            if (i % 4 == 3)
                sched_yield(); /* let the waiters interleave with the completions */
        }
        atomic_store(&lo.all_done, true);
        for (int k = 0; k < LO_THREADS; k++)
            JOIN(th[k]);
        for (int i = 0; i < LO_FUTS; i++)
            fut_future_release(lo.fs[i]);
        tu_barrier_destroy(&lo.start);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Part 4: retain/release from many threads while completing                                  */
/* ------------------------------------------------------------------------------------------ */

typedef struct refs_ctx {
    fut_future **fs;
    size_t n;
    tu_barrier *start;
    int role;
} refs_ctx;

static void *refs_main(void *arg)
{
    refs_ctx *c = (refs_ctx *)arg;
    BARRIER_WAIT(c->start);
    for (size_t i = 0; i < c->n; i++) {
        if (c->role == 0) {
            CHECK_ST(fut_future_set_result(c->fs[i], NULL, 0, NULL), FUT_OK);
            fut_future_release(c->fs[i]); /* the reference handed to this thread */
        } else {
            fut_future *g = fut_future_retain(c->fs[i]);
            /* this thread held a reference of its own, so g is valid */
            CHECK_PTR_EQ(g, c->fs[i]);
            fut_future_release(g);
            fut_future_release(c->fs[i]); /* the reference handed to this thread */
        }
    }
    return NULL;
}

/* X6 X5 F20: references handed to several threads and released concurrently with completion
 * and with retain/release: every value destroyed exactly once, every callback once. */
static void counting_cb(fut_future *f, void *user)
{
    (void)f;
    atomic_fetch_add((atomic_int *)user, 1);
}

TEST(X6_F20_concurrent_retain_release_and_completion)
{
    size_t n = tu_scaled(20000, 500);
    fut_future **fs = malloc(sizeof *fs * n);
    CHECK(fs != NULL);
    atomic_int calls = 0;
    for (size_t i = 0; i < n; i++) {
        fs[i] = NEW_FUTURE();
        CHECK_ST(fut_future_add_done_callback(fs[i], counting_cb, &calls), FUT_OK);
        for (int k = 0; k < 2; k++) /* one reference for each of the 3 threads */
            CHECK_PTR_EQ(fut_future_retain(fs[i]), fs[i]);
    }
    tu_barrier start;
    tu_barrier_init(&start, 3);
    refs_ctx cs[3] = {{fs, n, &start, 0}, {fs, n, &start, 1}, {fs, n, &start, 1}};
    pthread_t t[3];
    for (int k = 0; k < 3; k++)
        t[k] = SPAWN(refs_main, &cs[k]);
    for (int k = 0; k < 3; k++)
        JOIN(t[k]);
    /* every future is done (completer ran set_result first, or the last release cancelled it)
     * and every callback ran exactly once */
    CHECK_EQ(atomic_load(&calls), (int)n);
    tu_barrier_destroy(&start);
    free(fs);
}

int main(int argc, char **argv)
{
    return tu_main(argc, argv);
}
