/* flow_control_imap: the lazy, windowed map (fut_executor_imap) and
 * fut_map_next_timeout, through the public header (docs/behaviours.md, L).
 *
 * Synchronisation by latches and futures; every blocking call has a 30 s
 * bound. The memory test runs 10^7 inputs (10^6 under a sanitizer, whose
 * allocator quarantine makes RSS meaningless: the bound is not checked). */
#include "test_util.h"

#include "pool_test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define IMAP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IMAP_SANITIZED 1
#endif
#endif
#ifndef IMAP_SANITIZED
#define IMAP_SANITIZED 0
#endif

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f != NULL);
    long size = 0, resident = 0;
    CHECK(fscanf(f, "%ld %ld", &size, &resident) == 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- a counting producer over n inputs ------------------------------------ */

typedef struct {
    long n;              /* inputs to produce */
    long error_at;       /* -1, or the input whose production fails */
    long window;         /* inputs allowed in flight */
    atomic_long produced;
    atomic_long consumed; /* advanced by the consumer after each next */
    atomic_long max_in_flight;
    atomic_int item_drops;
    atomic_int user_drops;
    atomic_int ran;
    int *inputs;         /* NULL, or n ints handed out by address */
} counter;

static void note_in_flight(counter *c) {
    long now = atomic_load(&c->produced) - atomic_load(&c->consumed);
    CHECK_MSG(now <= c->window, "%ld inputs in flight, window %ld", now, c->window);
    long seen = atomic_load(&c->max_in_flight);
    while (now > seen && !atomic_compare_exchange_weak(&c->max_in_flight, &seen, now)) {
    }
}

static counter *g_counter; /* the counter of the running test (drops find it here) */

static void count_item_drop(void *p) {
    (void)p;
    atomic_fetch_add(&g_counter->item_drops, 1);
}

static void count_user_drop(void *p) { atomic_fetch_add(&((counter *)p)->user_drops, 1); }

static int32_t produce(void *user, fut_item *item, fut_drop_fn *drop) {
    counter *c = user;
    long k = atomic_load(&c->produced);
    if (k == c->error_at) return 99;
    if (k >= c->n) return FUT_END;
    atomic_fetch_add(&c->produced, 1);
    note_in_flight(c); /* L3: checked as each input is taken */
    if (c->inputs) {
        item->arg = &c->inputs[k];
        item->arg_len = sizeof(int);
        *drop = count_item_drop;
    }
    return FUT_OK;
}

static int32_t trivial(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    note_in_flight(g_counter); /* L3: also while tasks run */
    return 0;
}

/* Sets the task's value to its input (an int); input 3 fails with code 7. */
static int32_t echo_or_fail(fut_task *t, const void *arg, size_t len) {
    CHECK_EQ(len, sizeof(int));
    int v;
    memcpy(&v, arg, sizeof v);
    if (v == 3) return 7;
    int *out = malloc(sizeof *out);
    CHECK(out != NULL);
    *out = v * 10;
    return fut_task_set_result(t, out, sizeof *out, free);
}

static int value_of(fut_future *f) {
    void *p = NULL;
    size_t len = 0;
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, &p, &len));
    CHECK_EQ(len, sizeof(int));
    return *(int *)p;
}

static void counter_init(counter *c, long n, long window) {
    memset(c, 0, sizeof *c);
    c->n = n;
    c->error_at = -1;
    c->window = window;
    g_counter = c;
}

/* L1/L3: 10^7 produced inputs in bounded memory, never more than `window` in
 * flight (counted by the producer and by every task), input order kept. */
TEST(flow_control_imap_bounded_memory) {
    long n = IMAP_SANITIZED ? 1000000 : 10000000;
    const long window = 64, chunksize = 64; /* 4096 inputs in flight at most */
    counter c;
    counter_init(&c, n, window * chunksize);
    fut_executor *ex = pool_named(2, "imap");
    fut_map *m = NULL;
    CHECK_OK(fut_executor_imap(ex, trivial, produce, &c, count_user_drop, (size_t)window, (size_t)chunksize, 0, &m));
    CHECK_EQ(atomic_load(&c.produced), 0); /* L2: nothing before the first next */
    long rss_start = 0;
    int64_t t0 = tu_now_ns();
    for (long i = 0;; i++) {
        fut_future *f = NULL;
        uint64_t index = 0;
        fut_status st = fut_map_next_timeout(m, TU_LONG_TIMEOUT_NS, &f, &index);
        if (st == FUT_END) {
            CHECK_EQ(i, n);
            break;
        }
        CHECK_OK(st);
        CHECK_EQ(index, (uint64_t)i); /* E10: input order */
        CHECK_OK(fut_future_result(f, 0, NULL, NULL));
        fut_future_release(f);
        atomic_fetch_add(&c.consumed, 1);
        if (i == 100000) rss_start = rss_kib();
    }
    int64_t elapsed = tu_now_ns() - t0;
    long rss_end = rss_kib();
    CHECK_EQ(atomic_load(&c.user_drops), 1); /* the producer let go at its end */
    CHECK_EQ(atomic_load(&c.max_in_flight), window * chunksize); /* filled, never over */
    printf("# imap: %ld inputs in %.2f s (%.2f M/s), window %ld x %ld; RSS %ld -> %ld KiB\n", n,
           (double)elapsed / 1e9, (double)n / ((double)elapsed / 1e3), window, chunksize, rss_start, rss_end);
    if (!IMAP_SANITIZED) CHECK_MSG(rss_end - rss_start < 4096, "RSS grew by %ld KiB", rss_end - rss_start);
    fut_map_release(m);
    fut_executor_release(ex);
}

/* ---- gated tasks: input i completes once gate i opens ---------------------- */

static tu_latch g_gate[4];
static int g_inputs[8] = {0, 1, 2, 3, 4, 5, 6, 7};

static int32_t gated(fut_task *t, const void *arg, size_t len) {
    CHECK_EQ(len, sizeof(int));
    int v = *(const int *)arg;
    LATCH_WAIT(&g_gate[v]);
    int *out = malloc(sizeof *out);
    CHECK(out != NULL);
    *out = v * 10;
    return fut_task_set_result(t, out, sizeof *out, free);
}

static void gates_init(void) {
    for (int i = 0; i < 4; i++) tu_latch_init(&g_gate[i], 1);
}

static void gates_destroy(void) {
    for (int i = 0; i < 4; i++) tu_latch_destroy(&g_gate[i]);
}

/* L4: unordered yields in completion order: the gates open 2, 0, 3, 1 and
 * each next hands out exactly the input just released. */
TEST(flow_control_imap_unordered_completion_order) {
    gates_init();
    counter c;
    counter_init(&c, 4, 4);
    c.inputs = g_inputs;
    fut_executor *ex = pool_named(4, "imapu");
    fut_map *m = NULL;
    CHECK_OK(fut_executor_imap(ex, gated, produce, &c, count_user_drop, 4, 1, FUT_IMAP_UNORDERED, &m));
    const int order[4] = {2, 0, 3, 1};
    fut_future *f = NULL;
    uint64_t index = 99;
    /* Nothing is done yet: a poll answers TIMEOUT (L7) after taking the window. */
    CHECK_ST(fut_map_next_timeout(m, 0, &f, &index), FUT_ERR_TIMEOUT);
    CHECK_EQ(atomic_load(&c.produced), 4);
    for (int k = 0; k < 4; k++) {
        tu_latch_count_down(&g_gate[order[k]]);
        CHECK_OK(fut_map_next_timeout(m, TU_LONG_TIMEOUT_NS, &f, &index));
        CHECK_EQ(index, (uint64_t)order[k]);
        CHECK_EQ(value_of(f), order[k] * 10);
        fut_future_release(f);
        atomic_fetch_add(&c.consumed, 1);
    }
    CHECK_ST(fut_map_next_timeout(m, TU_LONG_TIMEOUT_NS, &f, &index), FUT_END);
    fut_map_release(m);
    fut_executor_release(ex);
    CHECK_EQ(atomic_load(&c.item_drops), 4); /* L2: each input's bytes dropped once */
    CHECK_EQ(atomic_load(&c.user_drops), 1);
    gates_destroy();
}

/* L7: a call's deadline is kept and cancels nothing; in order, the next call
 * waits for the same input even when a later one is done. */
TEST(flow_control_imap_next_timeout) {
    gates_init();
    counter c;
    counter_init(&c, 2, 2);
    c.inputs = g_inputs;
    fut_executor *ex = pool_named(2, "imapt");
    fut_map *m = NULL;
    CHECK_OK(fut_executor_imap(ex, gated, produce, &c, count_user_drop, 2, 1, 0, &m));
    tu_latch_count_down(&g_gate[1]); /* input 1 may finish, input 0 may not */
    fut_future *f = NULL;
    uint64_t index = 99;
    int64_t t0 = tu_now_ns();
    CHECK_ST(fut_map_next_timeout(m, 50 * TU_MS, &f, &index), FUT_ERR_TIMEOUT);
    int64_t waited = tu_now_ns() - t0;
    CHECK_MSG(waited >= 50 * TU_MS && waited < 10 * TU_SEC, "waited %lld ns", (long long)waited);
    CHECK_EQ(index, 99); /* untouched on timeout */
    tu_latch_count_down(&g_gate[0]);
    for (uint64_t i = 0; i < 2; i++) {
        CHECK_OK(fut_map_next_timeout(m, TU_LONG_TIMEOUT_NS, &f, &index));
        CHECK_EQ(index, i);
        CHECK_EQ(value_of(f), (int)i * 10); /* not cancelled by the timeout */
        fut_future_release(f);
    }
    CHECK_ST(fut_map_next_timeout(m, 0, &f, &index), FUT_END);
    fut_map_release(m);
    fut_executor_release(ex);
    gates_destroy();
}

static void check_failure(fut_map *m, uint64_t want_index, fut_status kind, int32_t code, const char *detail) {
    fut_future *f = NULL;
    uint64_t index = 99;
    CHECK_OK(fut_map_next_timeout(m, TU_LONG_TIMEOUT_NS, &f, &index));
    CHECK_EQ(index, want_index);
    fut_error_info e;
    CHECK_OK(fut_future_exception(f, TU_LONG_TIMEOUT_NS, &e));
    CHECK_EQ(e.kind, kind);
    CHECK_EQ(e.code, code);
    CHECK_MSG(e.detail != NULL && strncmp(e.detail, detail, strlen(detail)) == 0, "detail %s, want %s...",
              e.detail ? e.detail : "(null)", detail);
    fut_future_release(f);
}

static void check_value(fut_map *m, uint64_t want_index, int want) {
    fut_future *f = NULL;
    uint64_t index = 99;
    CHECK_OK(fut_map_next_timeout(m, TU_LONG_TIMEOUT_NS, &f, &index));
    CHECK_EQ(index, want_index);
    CHECK_EQ(value_of(f), want);
    fut_future_release(f);
}

/* L5/L6: a failed task's detail names its input; the producer's error is
 * handed out at its position, then the iteration ends; both pools, chunked. */
static void errors_on(fut_executor *ex, size_t chunksize) {
    counter c;
    counter_init(&c, 8, 2 * (long)chunksize);
    c.inputs = g_inputs;
    c.error_at = 5;
    fut_map *m = NULL;
    CHECK_OK(fut_executor_imap(ex, echo_or_fail, produce, &c, count_user_drop, 2, chunksize, 0, &m));
    for (int i = 0; i < 5; i++) {
        if (i == 3) check_failure(m, 3, FUT_ERR_TASK_FAILED, 7, "input 3");
        else check_value(m, (uint64_t)i, i * 10);
        atomic_fetch_add(&c.consumed, 1);
    }
    check_failure(m, 5, FUT_ERR_TASK_FAILED, 99, "input 5: reported by the producer");
    fut_future *f = NULL;
    CHECK_ST(fut_map_next_timeout(m, TU_LONG_TIMEOUT_NS, &f, NULL), FUT_END);
    CHECK_EQ(atomic_load(&c.produced), 5); /* not called after its error */
    CHECK_EQ(atomic_load(&c.user_drops), 1);
    fut_map_release(m);
    CHECK_EQ(atomic_load(&c.item_drops), 5);
}

TEST(flow_control_imap_errors_name_input) {
    fut_executor *threads = pool_named(2, "imape");
    errors_on(threads, 1);
    errors_on(threads, 2);
    fut_executor_release(threads);

    fut_process_pool_options o;
    CHECK_OK(fut_process_pool_options_init(&o));
    o.max_workers = 2;
    fut_executor *procs = NULL;
    CHECK_OK(fut_process_pool_new(&o, &procs));
    errors_on(procs, 1);
    errors_on(procs, 4); /* chunks of 4: one call each */
    /* The eager, chunked map names the input too (not the pool's task id). */
    fut_item items[8];
    for (int i = 0; i < 8; i++) items[i] = (fut_item){&g_inputs[i], sizeof(int)};
    fut_map *m = NULL;
    CHECK_OK(fut_executor_map(procs, echo_or_fail, items, 8, TU_LONG_TIMEOUT_NS, 4, &m));
    for (int i = 0; i < 8; i++) {
        if (i == 3) check_failure(m, 3, FUT_ERR_TASK_FAILED, 7, "input 3: raised in worker process ");
        else check_value(m, (uint64_t)i, i * 10);
    }
    fut_map_release(m);
    fut_executor_release(procs);
}

/* L8: releasing the iterator early cancels the window's queued inputs; the
 * running one finishes; every input's bytes and the producer are dropped. */
static tu_latch g_started;

static int32_t first_blocks(fut_task *t, const void *arg, size_t len) {
    (void)t;
    CHECK_EQ(len, sizeof(int));
    atomic_fetch_add(&g_counter->ran, 1);
    if (*(const int *)arg == 0) {
        tu_latch_count_down(&g_started);
        LATCH_WAIT(&g_gate[0]);
    }
    return 0;
}

TEST(flow_control_imap_early_release) {
    gates_init();
    tu_latch_init(&g_started, 1);
    counter c;
    counter_init(&c, 8, 6);
    c.inputs = g_inputs;
    fut_executor *ex = pool_named(1, "imapr");
    fut_map *m = NULL;
    CHECK_OK(fut_executor_imap(ex, first_blocks, produce, &c, count_user_drop, 3, 2, 0, &m));
    fut_future *f = NULL;
    CHECK_ST(fut_map_next_timeout(m, 0, &f, NULL), FUT_ERR_TIMEOUT);
    CHECK_EQ(atomic_load(&c.produced), 6); /* 3 chunks of 2 */
    LATCH_WAIT(&g_started);
    fut_map_release(m);
    CHECK_EQ(atomic_load(&c.user_drops), 1);
    tu_latch_count_down(&g_gate[0]);
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    CHECK_EQ(atomic_load(&c.ran), 1); /* only input 0 ran */
    CHECK_EQ(atomic_load(&c.item_drops), 6);
    fut_executor_release(ex);
    tu_latch_destroy(&g_started);
    gates_destroy();
}

/* L5: a pool shut down mid-iteration still hands out what is in flight, then
 * fails the first input it refuses (its status, its index) and ends. */
TEST(flow_control_imap_refused_after_shutdown) {
    counter c;
    counter_init(&c, 8, 2);
    c.inputs = g_inputs;
    fut_executor *ex = pool_named(1, "imaps");
    fut_map *m = NULL;
    CHECK_OK(fut_executor_imap(ex, echo_or_fail, produce, &c, count_user_drop, 2, 1, 0, &m));
    check_value(m, 0, 0);
    atomic_fetch_add(&c.consumed, 1);
    CHECK_OK(fut_executor_shutdown(ex, true, false)); /* input 1 was submitted: it runs */
    check_value(m, 1, 10);
    CHECK_EQ(atomic_load(&c.user_drops), 1); /* let go at the refusal */
    check_failure(m, 2, FUT_ERR_SHUTDOWN, 0, "input 2: not submitted");
    fut_future *f = NULL;
    CHECK_ST(fut_map_next_timeout(m, TU_LONG_TIMEOUT_NS, &f, NULL), FUT_END);
    CHECK_EQ(atomic_load(&c.produced), 3);
    CHECK_EQ(atomic_load(&c.item_drops), 3); /* the refused input's bytes too */
    fut_map_release(m);
    fut_executor_release(ex);
}

/* L1/E14: bad arguments are refused and the producer is never called. */
TEST(flow_control_imap_invalid_arguments) {
    counter c;
    counter_init(&c, 1, 1);
    fut_executor *ex = pool_named(1, "imapi");
    fut_map *m = NULL;
    CHECK_ST(fut_executor_imap(ex, trivial, produce, &c, count_user_drop, 0, 1, 0, &m), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_imap(ex, trivial, produce, &c, count_user_drop, 1, 0, 0, &m), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_imap(ex, trivial, produce, &c, count_user_drop, 1, 1, 2, &m), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_imap(ex, trivial, NULL, &c, count_user_drop, 1, 1, 0, &m), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_imap(NULL, trivial, produce, &c, count_user_drop, 1, 1, 0, &m), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_map_next_timeout(NULL, 0, &(fut_future *){NULL}, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_EQ(atomic_load(&c.produced), 0);
    CHECK_EQ(atomic_load(&c.user_drops), 0); /* the caller keeps `user` */
    fut_executor_release(ex);
}

int main(int argc, char **argv) { return tu_main(argc, argv); }
