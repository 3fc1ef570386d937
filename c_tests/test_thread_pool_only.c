/* Thread-pool-only behaviour (T1–T12, B8, B12, X9, X16–X18):
 * names, lazy growth and reuse, options, initializer, self-join, arg_drop
 * by pointer, tasks that submit tasks, cooperative cancel, exit and fork.
 * Tasks here may use pointers: they run in this process. */
#include "pool_test_util.h"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static char *self_exe;
static int32_t init_counts(const void *arg, size_t len);

/* ---- tasks ------------------------------------------------------------------ */

/* Sets the calling thread's name (a malloc'ed string) as the value. */
static int32_t task_thread_name(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    char *name = calloc(1, 32);
    prctl(PR_GET_NAME, name, 0, 0, 0);
    return fut_task_set_result(t, name, strlen(name) + 1, free);
}

/* Counts down `started`, then waits for `go` (30 s at most). */
struct gate {
    tu_latch started;
    tu_latch go;
};
static void gate_init(struct gate *g, long started) {
    tu_latch_init(&g->started, started);
    tu_latch_init(&g->go, 1);
}
static void gate_destroy(struct gate *g) {
    tu_latch_destroy(&g->started);
    tu_latch_destroy(&g->go);
}
static int32_t task_gate(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)len;
    struct gate *g = (struct gate *)arg;
    tu_latch_count_down(&g->started);
    return tu_latch_wait_for(&g->go, TU_SYNC_TIMEOUT_NS) ? 0 : 97;
}

static int32_t task_noop(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    return 0;
}

/* ---- T2, T6, X17: no thread before the first submit; names ---------------------- */

TEST(test_names_and_lazy_start) {
    int base = baseline_threads();
    fut_executor *ex = pool_named(4, "worker");
    CHECK_EQ(count_threads(), base); /* T2: none yet */
    fut_future *f;
    CHECK_OK(fut_executor_submit(ex, task_thread_name, NULL, 0, NULL, &f));
    void *p;
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, &p, NULL));
    CHECK(strcmp((char *)p, "worker_0") == 0); /* T6 */
    fut_future_release(f);
    CHECK_EQ(count_threads(), base + 1);
    fut_executor_release(ex);
    CHECK_EQ(threads_after_join(base), base);

    /* Default prefix: futpool-<k>_<n>. */
    CHECK_OK(fut_thread_pool_new(NULL, &ex));
    CHECK_OK(fut_executor_submit(ex, task_thread_name, NULL, 0, NULL, &f));
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, &p, NULL));
    const char *name = p;
    CHECK(strncmp(name, "futpool-", 8) == 0);
    CHECK(strcmp(name + strlen(name) - 2, "_0") == 0);
    fut_future_release(f);
    fut_executor_release(ex);

    /* X17: a long prefix is cut so that "_<n>" survives in 15 bytes. */
    enum { W = 12 };
    ex = pool_named(W, "averyverylongprefix");
    struct gate g;
    gate_init(&g, W);
    fut_future *fs[W];
    for (int i = 0; i < W; i++)
        CHECK_OK(fut_executor_submit(ex, task_gate, &g, 0, NULL, &fs[i]));
    LATCH_WAIT(&g.started);
    char names[1024];
    /* 15 - strlen("_11") = 12 bytes of prefix for two-digit indexes. */
    CHECK_EQ(threads_named("averyverylo", names, sizeof names), W);
    for (int i = 0; i < W; i++) {
        char want[32];
        snprintf(want, sizeof want, "%.*s_%d ", i < 10 ? 13 : 12, "averyverylongprefix", i);
        CHECK(strlen(want) - 1 <= 15);
        if (!strstr(names, want)) {
            fprintf(stderr, "missing thread name '%s' in '%s'\n", want, names);
            exit(1);
        }
    }
    tu_latch_count_down(&g.go);
    for (int i = 0; i < W; i++) {
        CHECK_OK(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL));
        fut_future_release(fs[i]);
    }
    fut_executor_release(ex);
    gate_destroy(&g);
    CHECK_EQ(threads_after_join(base), base);
}

/* ---- T3: idle accounting ----------------------------------------------------- */

TEST(test_sequential_rounds_use_one_thread) {
    int base = baseline_threads();
    fut_executor *ex = pool_named(8, "seqpool");
    size_t rounds = tu_scaled(500, 50);
    for (size_t i = 0; i < rounds; i++) {
        fut_future *f;
        CHECK_OK(fut_executor_submit(ex, task_noop, NULL, 0, NULL, &f));
        CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL));
        fut_future_release(f);
    }
    CHECK_EQ(threads_named("seqpool_", NULL, 0), 1);
    CHECK_EQ(count_threads(), base + 1);
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    CHECK_EQ(threads_after_join(base), base);
    fut_executor_release(ex);
}

TEST(test_burst_creates_max_workers) {
    int base = baseline_threads();
    enum { MAXW = 3, N = 10 };
    fut_executor *ex = pool_named(MAXW, "burst");
    struct gate g;
    gate_init(&g, MAXW);
    fut_future *fs[N];
    for (int i = 0; i < N; i++) CHECK_OK(fut_executor_submit(ex, task_gate, &g, 0, NULL, &fs[i]));
    LATCH_WAIT(&g.started);
    CHECK_EQ(count_threads(), base + MAXW);
    CHECK_EQ(threads_named("burst_", NULL, 0), MAXW);
    tu_latch_count_down(&g.go);
    for (int i = 0; i < N; i++) {
        CHECK_OK(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL));
        fut_future_release(fs[i]);
    }
    CHECK_EQ(count_threads(), base + MAXW); /* T2: none retires before shutdown */
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    CHECK_EQ(threads_after_join(base), base);
    fut_executor_release(ex);
    gate_destroy(&g);
}

/* ---- T1, X17: max_workers default and limits; options ABI ---------------------- */

static size_t usable_cpus(void) {
    cpu_set_t set;
    size_t cpus = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = (size_t)CPU_COUNT(&set);
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f) {
        char q[32] = {0};
        unsigned long long period = 100000;
        if (fscanf(f, "%31s %llu", q, &period) >= 1 && strcmp(q, "max") != 0 && period > 0) {
            unsigned long long quota = strtoull(q, NULL, 10);
            size_t lim = (size_t)((quota + period - 1) / period);
            if (lim >= 1 && lim < cpus) cpus = lim;
        }
        fclose(f);
    }
    return cpus < 1 ? 1 : cpus;
}

static size_t expected_default_workers(void) {
    size_t cpus = usable_cpus();
    return cpus + 4 < 32 ? cpus + 4 : 32;
}

/* ---- T12: more workers than CPUs ----------------------------------------------- */

/* T12: a pool of 4x the usable CPUs (8 at least) keeps about as many workers awake as CPUs
 * while work moves, yet tasks that all block still all start: max_workers tasks, each waiting
 * until every one of them has started, run together (each worker past the CPUs woken by the
 * watchdog). Three rounds on the same pool: the watchdog stops watching when the queue empties
 * and is appointed again by the next round. */
TEST(test_blocking_tasks_past_the_cpus_all_start) {
    size_t w = 4 * usable_cpus();
    if (w < 8) w = 8;
    if (w > 64) w = 64;
    int base = baseline_threads();
    fut_executor *ex = pool_named(w, "t12");
    fut_future *fs[64];
    for (int round = 0; round < 3; round++) {
        struct gate g;
        gate_init(&g, (long)w);
        for (size_t i = 0; i < w; i++)
            CHECK_OK(fut_executor_submit(ex, task_gate, &g, 0, NULL, &fs[i]));
        LATCH_WAIT(&g.started); /* every task runs at once */
        CHECK_EQ(count_threads(), base + (int)w);
        tu_latch_count_down(&g.go);
        for (size_t i = 0; i < w; i++) {
            CHECK_OK(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL));
            fut_future_release(fs[i]);
        }
        gate_destroy(&g);
    }
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    CHECK_EQ(threads_after_join(base), base);
    fut_executor_release(ex);
}

TEST(test_max_workers_default) {
    int base = baseline_threads();
    size_t want = expected_default_workers();
    fut_executor *ex = pool_named(0, "dflt");
    size_t n = want + 5;
    struct gate g;
    gate_init(&g, (long)want);
    fut_future **fs = calloc(n, sizeof *fs);
    for (size_t i = 0; i < n; i++) CHECK_OK(fut_executor_submit(ex, task_gate, &g, 0, NULL, &fs[i]));
    LATCH_WAIT(&g.started);
    CHECK_EQ(threads_named("dflt_", NULL, 0), (long long)want);
    tu_latch_count_down(&g.go);
    for (size_t i = 0; i < n; i++) {
        CHECK_OK(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL));
        fut_future_release(fs[i]);
    }
    free(fs);
    fut_executor_release(ex);
    gate_destroy(&g);
    CHECK_EQ(threads_after_join(base), base);
}

TEST(test_options_validation) {
    fut_executor *ex = (fut_executor *)0x1;
    fut_thread_pool_options o;
    CHECK_ST(fut_thread_pool_options_init(NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_OK(fut_thread_pool_options_init(&o));
    CHECK_EQ(o.struct_size, sizeof o);
    CHECK_EQ(o.max_workers, 0);
    CHECK(o.thread_name_prefix == NULL && o.initializer == NULL);
    CHECK(o.initializer_arg == NULL && o.initializer_arg_len == 0);

    CHECK_ST(fut_thread_pool_new(&o, NULL), FUT_ERR_INVALID_ARGUMENT);
    o.max_workers = FUT_THREAD_POOL_MAX_WORKERS + 1;
    CHECK_ST(fut_thread_pool_new(&o, &ex), FUT_ERR_INVALID_ARGUMENT);
    CHECK(ex == (fut_executor *)0x1);
    o.max_workers = FUT_THREAD_POOL_MAX_WORKERS; /* allowed; no thread yet */
    CHECK_OK(fut_thread_pool_new(&o, &ex));
    fut_executor_release(ex);

    CHECK_OK(fut_thread_pool_options_init(&o));
    o.struct_size = sizeof(size_t); /* older than the first version */
    CHECK_ST(fut_thread_pool_new(&o, &ex), FUT_ERR_INVALID_ARGUMENT);

    /* A newer caller's larger struct: fine while the unknown tail is zero. */
    struct {
        fut_thread_pool_options base;
        uint64_t future_field;
    } big;
    memset(&big, 0, sizeof big);
    CHECK_OK(fut_thread_pool_options_init(&big.base));
    big.base.struct_size = sizeof big;
    big.base.max_workers = 2;
    CHECK_OK(fut_thread_pool_new(&big.base, &ex));
    fut_executor_release(ex);
    big.future_field = 1;
    CHECK_ST(fut_thread_pool_new(&big.base, &ex), FUT_ERR_INVALID_ARGUMENT);

    CHECK_OK(fut_thread_pool_options_init(&o));
    o.thread_name_prefix = "\xff\xfe"; /* not UTF-8 */
    CHECK_ST(fut_thread_pool_new(&o, &ex), FUT_ERR_INVALID_ARGUMENT);
    CHECK_OK(fut_thread_pool_options_init(&o));
    o.initializer = init_counts;
    o.initializer_arg = NULL;
    o.initializer_arg_len = 4;
    CHECK_ST(fut_thread_pool_new(&o, &ex), FUT_ERR_INVALID_ARGUMENT);

    CHECK_OK(fut_thread_pool_new(NULL, &ex)); /* NULL: every default */
    fut_executor_release(ex);
}

/* ---- T7: initializer --------------------------------------------------------- */

static atomic_int init_calls;
static atomic_int init_seen_value;
static int32_t init_counts(const void *arg, size_t len) {
    atomic_fetch_add(&init_calls, 1);
    if (len == sizeof(int)) {
        int v;
        memcpy(&v, arg, sizeof v);
        atomic_store(&init_seen_value, v);
    }
    return 0;
}

TEST(test_initializer_runs_once_per_thread) {
    int value = 1234;
    fut_thread_pool_options o;
    fut_thread_pool_options_init(&o);
    o.max_workers = 3;
    o.initializer = init_counts;
    o.initializer_arg = &value;
    o.initializer_arg_len = sizeof value;
    atomic_store(&init_calls, 0);
    fut_executor *ex;
    CHECK_OK(fut_thread_pool_new(&o, &ex));
    value = 0; /* the pool copied the bytes */
    struct gate g;
    gate_init(&g, 3);
    fut_future *fs[9];
    for (int i = 0; i < 9; i++) CHECK_OK(fut_executor_submit(ex, task_gate, &g, 0, NULL, &fs[i]));
    LATCH_WAIT(&g.started);
    tu_latch_count_down(&g.go);
    for (int i = 0; i < 9; i++) {
        CHECK_OK(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL));
        fut_future_release(fs[i]);
    }
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    CHECK_EQ(atomic_load(&init_calls), 3);
    CHECK_EQ(atomic_load(&init_seen_value), 1234);
    fut_executor_release(ex);
    gate_destroy(&g);
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[4096];
static void capture_log(const char *message, void *user) {
    (void)user;
    pthread_mutex_lock(&log_mu);
    if (strlen(log_text) + strlen(message) + 2 < sizeof log_text) {
        strcat(log_text, message);
        strcat(log_text, "\n");
    }
    pthread_mutex_unlock(&log_mu);
}

static int32_t init_fails(const void *arg, size_t len) {
    (void)arg;
    (void)len;
    return 5;
}

TEST(test_initializer_failure_breaks_pool) {
    int base = baseline_threads();
    log_text[0] = 0;
    fut_set_log_hook(capture_log, NULL);
    fut_thread_pool_options o;
    fut_thread_pool_options_init(&o);
    o.max_workers = 2;
    o.initializer = init_fails;
    fut_executor *ex;
    CHECK_OK(fut_thread_pool_new(&o, &ex));
    enum { N = 10 };
    fut_future *fs[N];
    int accepted = 0;
    for (int i = 0; i < N; i++) {
        fut_status st = fut_executor_submit(ex, task_noop, NULL, 0, NULL, &fs[accepted]);
        CHECK(st == FUT_OK || st == FUT_ERR_BROKEN_POOL); /* T7: a racing submit */
        if (st == FUT_OK) accepted++;
    }
    CHECK(accepted >= 1); /* the first submit starts the thread that fails */
    const char *first_msg = NULL;
    for (int i = 0; i < accepted; i++) {
        CHECK_ST(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL), FUT_ERR_BROKEN_POOL);
        fut_error_info e;
        CHECK_OK(fut_future_exception(fs[i], 0, &e));
        CHECK_EQ(e.kind, FUT_ERR_BROKEN_POOL);
        CHECK(strstr(e.message, "initializer returned 5") != NULL);
        if (i == 0) first_msg = e.message;
        else CHECK(e.message != first_msg); /* X2: a record per future */
    }
    fut_future *f = (fut_future *)0x1;
    CHECK_ST(fut_executor_submit(ex, task_noop, NULL, 0, NULL, &f), FUT_ERR_BROKEN_POOL);
    CHECK(f == (fut_future *)0x1);
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    /* E1: broken is answered before shut down. */
    CHECK_ST(fut_executor_submit(ex, task_noop, NULL, 0, NULL, &f), FUT_ERR_BROKEN_POOL);
    for (int i = 0; i < accepted; i++) fut_future_release(fs[i]);
    fut_executor_release(ex);
    fut_set_log_hook(NULL, NULL);
    pthread_mutex_lock(&log_mu);
    CHECK(strstr(log_text, "initializer failed (initializer returned 5)") != NULL);
    pthread_mutex_unlock(&log_mu);
    CHECK_EQ(threads_after_join(base), base);
}

/* ---- B12, X18: no self-join -------------------------------------------------- */

struct self_ctx {
    fut_executor *ex;
    struct gate g;
    fut_status st;
    pthread_t thread;
    int ran;
};

static int32_t task_shutdown_self(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)len;
    struct self_ctx *c = (struct self_ctx *)arg;
    c->st = fut_executor_shutdown(c->ex, true, false);
    return 0;
}

TEST(test_shutdown_wait_from_task) {
    int base = baseline_threads();
    struct self_ctx c = {.ex = pool_named(2, "selfsd")};
    fut_future *f, *g;
    struct gate gate;
    gate_init(&gate, 1);
    CHECK_OK(fut_executor_submit(c.ex, task_gate, &gate, 0, NULL, &g));
    LATCH_WAIT(&gate.started);
    CHECK_OK(fut_executor_submit(c.ex, task_shutdown_self, &c, 0, NULL, &f));
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL));
    CHECK_ST(c.st, FUT_ERR_WOULD_DEADLOCK);
    fut_future *h = (fut_future *)0x1;
    CHECK_ST(fut_executor_submit(c.ex, task_noop, NULL, 0, NULL, &h), FUT_ERR_SHUTDOWN);
    tu_latch_count_down(&gate.go); /* the other worker still finishes its task */
    CHECK_OK(fut_future_result(g, TU_LONG_TIMEOUT_NS, NULL, NULL));
    CHECK_OK(fut_executor_shutdown(c.ex, true, false));
    CHECK_EQ(threads_after_join(base), base);
    fut_future_release(f);
    fut_future_release(g);
    fut_executor_release(c.ex);
    gate_destroy(&gate);
}

static void cb_shutdown_self(fut_future *f, void *user) {
    (void)f;
    struct self_ctx *c = user;
    c->thread = pthread_self();
    c->st = fut_executor_shutdown(c->ex, true, false);
    c->ran = 1;
}

TEST(test_shutdown_wait_from_worker_callback) {
    int base = baseline_threads();
    struct self_ctx c = {.ex = pool_named(1, "cbsd"), .st = -100};
    gate_init(&c.g, 1);
    fut_future *f;
    CHECK_OK(fut_executor_submit(c.ex, task_gate, &c.g, 0, NULL, &f));
    LATCH_WAIT(&c.g.started);
    CHECK_OK(fut_future_add_done_callback(f, cb_shutdown_self, &c)); /* not done yet */
    tu_latch_count_down(&c.g.go);
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL));
    CHECK_OK(fut_executor_shutdown(c.ex, true, false)); /* joins: callback over */
    CHECK(c.ran);
    CHECK(!pthread_equal(c.thread, pthread_self())); /* F13: ran on the worker */
    CHECK_ST(c.st, FUT_ERR_WOULD_DEADLOCK);
    CHECK_EQ(threads_after_join(base), base);
    fut_future_release(f);
    fut_executor_release(c.ex);
    gate_destroy(&c.g);
}

static int32_t task_release_last(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)len;
    struct self_ctx *c = (struct self_ctx *)arg;
    tu_latch_count_down(&c->g.started);
    if (!tu_latch_wait_for(&c->g.go, TU_SYNC_TIMEOUT_NS)) return 97;
    fut_executor_release(c->ex); /* the last reference: no self-join */
    return 0;
}

TEST(test_last_release_from_task) {
    int base = baseline_threads();
    fut_executor *ex = pool_named(1, "lastrel");
    struct self_ctx c = {.ex = fut_executor_retain(ex)};
    gate_init(&c.g, 1);
    fut_future *f, *g;
    CHECK_OK(fut_executor_submit(ex, task_release_last, &c, 0, NULL, &f));
    CHECK_OK(fut_executor_submit(ex, task_noop, NULL, 0, NULL, &g)); /* queued */
    LATCH_WAIT(&c.g.started);
    fut_executor_release(ex); /* the task now holds the only reference */
    tu_latch_count_down(&c.g.go);
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL));
    CHECK_OK(fut_future_result(g, TU_LONG_TIMEOUT_NS, NULL, NULL)); /* still ran */
    /* X18: the pool frees itself once its thread has exited. */
    CHECK(wait_threads_at_most(base, TU_LONG_TIMEOUT_NS));
    fut_future_release(f);
    fut_future_release(g);
    gate_destroy(&c.g);
}

static void cb_release_last(fut_future *f, void *user) {
    (void)f;
    struct self_ctx *c = user;
    c->thread = pthread_self();
    fut_executor_release(c->ex);
    c->ran = 1;
}

TEST(test_last_release_from_worker_callback) {
    int base = baseline_threads();
    fut_executor *ex = pool_named(1, "cbrel");
    struct self_ctx c = {.ex = ex};
    gate_init(&c.g, 1);
    fut_future *f;
    CHECK_OK(fut_executor_submit(ex, task_gate, &c.g, 0, NULL, &f));
    LATCH_WAIT(&c.g.started);
    CHECK_OK(fut_future_add_done_callback(f, cb_release_last, &c));
    /* The callback holds the only reference from here on. */
    tu_latch_count_down(&c.g.go);
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL));
    CHECK(wait_threads_at_most(base, TU_LONG_TIMEOUT_NS));
    CHECK(c.ran);
    CHECK(!pthread_equal(c.thread, pthread_self()));
    fut_future_release(f);
    gate_destroy(&c.g);
}

/* ---- API arg_drop contract, by pointer -------------------------------------- */

struct tracked {
    atomic_int drops;
    atomic_int runs;
    const void *seen_arg;
    size_t seen_len;
};

static void tracked_drop(void *p) { atomic_fetch_add(&((struct tracked *)p)->drops, 1); }

static int32_t task_tracked(fut_task *t, const void *arg, size_t len) {
    (void)t;
    struct tracked *k = (struct tracked *)arg;
    k->seen_arg = arg;
    k->seen_len = len;
    atomic_fetch_add(&k->runs, 1);
    return 0;
}

TEST(test_arg_drop_by_pointer) {
    enum { N = 30 };
    struct tracked *k = calloc(N, sizeof *k);
    fut_executor *ex = pool_named(1, "argdrop");
    struct gate g;
    gate_init(&g, 1);
    fut_future *blocker, *fs[N];
    CHECK_OK(fut_executor_submit(ex, task_gate, &g, 0, NULL, &blocker));
    LATCH_WAIT(&g.started);
    for (int i = 0; i < N; i++)
        CHECK_OK(fut_executor_submit(ex, task_tracked, &k[i], 7 + (size_t)i, tracked_drop, &fs[i]));
    /* Cancel a third of them while queued (T5: cancellable until taken). */
    for (int i = 0; i < N; i += 3) CHECK(fut_future_cancel(fs[i]));
    tu_latch_count_down(&g.go);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) {
            CHECK_ST(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL), FUT_ERR_CANCELLED);
        } else {
            CHECK_OK(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL));
            /* The argument is let go of before the future is done. */
            CHECK_EQ(atomic_load(&k[i].drops), 1);
            CHECK(k[i].seen_arg == &k[i]); /* passed through untouched */
            CHECK_EQ(k[i].seen_len, 7 + (size_t)i);
        }
    }
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    for (int i = 0; i < N; i++) {
        CHECK_EQ(atomic_load(&k[i].drops), 1); /* exactly once, cancelled too */
        CHECK_EQ(atomic_load(&k[i].runs), i % 3 == 0 ? 0 : 1);
        fut_future_release(fs[i]);
    }
    /* Refused: arg_drop is not called. */
    struct tracked r = {0};
    fut_future *f;
    CHECK_ST(fut_executor_submit(ex, task_tracked, &r, 0, tracked_drop, &f), FUT_ERR_SHUTDOWN);
    CHECK_EQ(atomic_load(&r.drops), 0);
    fut_future_release(blocker);
    fut_executor_release(ex);
    gate_destroy(&g);
    free(k);
}

/* ---- tasks that submit tasks (E16: fine while a worker is free) ---------------- */

struct nest {
    fut_executor *ex;
    int depth;
};

static int32_t task_nested(fut_task *t, const void *arg, size_t len) {
    (void)len;
    const struct nest *n = arg;
    int64_t *v = malloc(sizeof *v);
    if (n->depth == 0) {
        *v = 1;
        return fut_task_set_result(t, v, sizeof *v, free);
    }
    struct nest child = {n->ex, n->depth - 1};
    fut_future *f;
    fut_status st = fut_executor_submit(n->ex, task_nested, &child, sizeof child, NULL, &f);
    if (st != FUT_OK) {
        free(v);
        return 50;
    }
    void *p;
    st = fut_future_result(f, TU_LONG_TIMEOUT_NS, &p, NULL);
    if (st == FUT_OK) *v = *(int64_t *)p + 1;
    fut_future_release(f);
    if (st != FUT_OK) {
        free(v);
        return 51;
    }
    return fut_task_set_result(t, v, sizeof *v, free);
}

static void release_future(void *p) { fut_future_release(p); }

/* Submits a child and hands its future out as the value (no waiting). */
static int32_t task_spawns_child(fut_task *t, const void *arg, size_t len) {
    (void)len;
    fut_executor *ex = (fut_executor *)arg;
    fut_future *child;
    fut_status st = fut_executor_submit(ex, task_thread_name, NULL, 0, NULL, &child);
    if (st != FUT_OK) return 60;
    return fut_task_set_result(t, child, 0, release_future);
}

TEST(test_tasks_submit_tasks) {
    enum { DEPTH = 4 };
    fut_executor *ex = pool_named(DEPTH + 1, "nest");
    struct nest n = {ex, DEPTH};
    fut_future *f;
    CHECK_OK(fut_executor_submit(ex, task_nested, &n, sizeof n, NULL, &f));
    CHECK_EQ(result_i64(f), DEPTH + 1);
    fut_future_release(f);

    CHECK_OK(fut_executor_submit(ex, task_spawns_child, ex, 0, NULL, &f));
    void *p;
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, &p, NULL));
    fut_future *child = p;
    CHECK_OK(fut_future_result(child, TU_LONG_TIMEOUT_NS, &p, NULL));
    CHECK(strncmp((char *)p, "nest_", 5) == 0);
    fut_future_release(f); /* releases the child through the value's drop */
    fut_executor_release(ex);
}

/* ---- T2, T3: a task waiting on a child it queued in its own worker's deque ---------
 * With every thread started and idle (parked), the child goes to the
 * submitting worker's own queue; that worker blocks in the parent, so an
 * idle worker must be woken to take the child, and no thread is started. */
TEST(test_waiting_parent_child_runs_on_idle_worker) {
    static const size_t sizes[] = {2, 8};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t maxw = sizes[k];
        fut_executor *ex = pool_named(maxw, "steal");
        struct gate g;
        gate_init(&g, (long)maxw);
        fut_future *fs[8];
        for (size_t i = 0; i < maxw; i++)
            CHECK_OK(fut_executor_submit(ex, task_gate, &g, 0, NULL, &fs[i]));
        LATCH_WAIT(&g.started); /* every thread started */
        tu_latch_count_down(&g.go);
        for (size_t i = 0; i < maxw; i++) {
            CHECK_OK(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, NULL, NULL));
            fut_future_release(fs[i]);
        }
        for (int round = 0; round < 200; round++) {
            struct nest n = {ex, 1};
            fut_future *f;
            CHECK_OK(fut_executor_submit(ex, task_nested, &n, sizeof n, NULL, &f));
            CHECK_EQ(result_i64(f), 2);
            fut_future_release(f);
        }
        CHECK_EQ(threads_named("steal_", NULL, 0), (int)maxw);
        fut_executor_release(ex);
        gate_destroy(&g);
    }
}

/* ---- X9: cooperative cancel ---------------------------------------------------- */

static int32_t task_until_cancelled(fut_task *t, const void *arg, size_t len) {
    (void)len;
    tu_latch *started = (tu_latch *)arg;
    tu_latch_count_down(started);
    int64_t end = tu_now_ns() + TU_LONG_TIMEOUT_NS;
    while (!fut_task_cancel_requested(t)) {
        if (tu_now_ns() > end) return 95;
        sched_yield();
    }
    return FUT_ERR_CANCELLED;
}

static int32_t task_returns_cancelled(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    return FUT_ERR_CANCELLED; /* without a request: an ordinary failure */
}

TEST(test_cooperative_cancel) {
    fut_executor *ex = pool_named(1, "coop");
    tu_latch started;
    tu_latch_init(&started, 1);
    fut_future *f;
    CHECK_OK(fut_executor_submit(ex, task_until_cancelled, &started, 0, NULL, &f));
    LATCH_WAIT(&started);
    CHECK(fut_future_running(f)); /* T5 */
    CHECK(!fut_future_cancel(f)); /* F4: running: false */
    CHECK_ST(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL), FUT_ERR_CANCELLED);
    CHECK(fut_future_cancelled(f));
    CHECK_EQ(fut_future_state(f), FUT_STATE_CANCELLED);
    fut_future_release(f);

    CHECK(!fut_task_cancel_requested(NULL));
    CHECK_OK(fut_executor_submit(ex, task_returns_cancelled, NULL, 0, NULL, &f));
    CHECK_ST(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL), FUT_ERR_TASK_FAILED);
    fut_error_info e;
    CHECK_OK(fut_future_exception(f, 0, &e));
    CHECK_EQ(e.code, FUT_ERR_CANCELLED);
    fut_future_release(f);
    fut_executor_release(ex);
    tu_latch_destroy(&started);
}

/* ---- X16, B11: a process that exits with a live pool exits ---------------------- */

static int child_exit_with_live_pool(void) {
    fut_executor *ex = pool_named(2, "exiting");
    fut_future *f;
    /* The task waits for a latch nobody opens (at most 30 s). */
    static struct gate g;
    gate_init(&g, 1);
    if (fut_executor_submit(ex, task_gate, &g, 0, NULL, &f) != FUT_OK) return 4;
    tu_latch_wait_for(&g.started, TU_SYNC_TIMEOUT_NS);
    exit(0); /* with a running task and a live pool: must not hang */
}

static int wait_child(pid_t pid, int64_t timeout_ns) {
    int64_t end = tu_now_ns() + timeout_ns;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (tu_now_ns() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1; /* hung */
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

TEST(test_exit_with_live_pool) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char *argv[] = {self_exe, "--child-exit-with-live-pool", NULL};
        execv(self_exe, argv); /* argv[0]: /proc/self/exe is valgrind under valgrind */
        _exit(5);
    }
    CHECK_EQ(wait_child(pid, TU_LONG_TIMEOUT_NS), 0);
}

/* ---- T11: a pool does not carry over into a forked child ------------------------ */

TEST(test_fork_child_refuses) {
    fut_executor *ex = pool_named(2, "forked");
    /* At the fork the pool's thread waits inside a task, so it holds no
     * library lock that the child could inherit locked. */
    struct gate g;
    gate_init(&g, 1);
    fut_future *f;
    CHECK_OK(fut_executor_submit(ex, task_gate, &g, 0, NULL, &f));
    LATCH_WAIT(&g.started);
    test_pipe report = pipe_open();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char code = 0;
        fut_future *h = (fut_future *)0x1;
        if (fut_executor_submit(ex, task_noop, NULL, 0, NULL, &h) != FUT_ERR_SHUTDOWN) code = 10;
        if (h != (fut_future *)0x1) code = 11;
        if (fut_executor_shutdown(ex, true, true) != FUT_OK) code = 12;
        fut_executor_release(ex); /* must not try to join the parent's threads */
        /* A new pool works in the child. */
        fut_executor *ex2 = pool_named(1, "child");
        if (fut_executor_submit(ex2, task_noop, NULL, 0, NULL, &h) != FUT_OK) code = 13;
        else if (fut_future_result(h, TU_LONG_TIMEOUT_NS, NULL, NULL) != FUT_OK) code = 14;
        if (write(report.wr, &code, 1) != 1) code = 15;
        /* The parent's threads are gone here: end without exit-time leak
         * checks (valgrind, LSan), which would count their memory. */
        execl("/bin/true", "true", (char *)NULL);
        kill(getpid(), SIGKILL);
        _exit(code);
    }
    struct pollfd pfd = {report.rd, POLLIN, 0};
    CHECK(poll(&pfd, 1, TU_LONG_TIMEOUT_MS) == 1);
    char code = 99;
    CHECK(read(report.rd, &code, 1) == 1);
    CHECK_EQ(code, 0);
    int end = wait_child(pid, TU_LONG_TIMEOUT_NS);
    CHECK(end == 0 || end == 128 + SIGKILL);
    pipe_close(&report);
    /* The parent's pool is unaffected. */
    tu_latch_count_down(&g.go);
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL));
    fut_future_release(f);
    CHECK_OK(fut_executor_submit(ex, task_noop, NULL, 0, NULL, &f));
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL));
    fut_future_release(f);
    fut_executor_release(ex);
    gate_destroy(&g);
}

int main(int argc, char **argv) {
    self_exe = argv[0];
    if (argc > 1 && strcmp(argv[1], "--child-exit-with-live-pool") == 0)
        return child_exit_with_live_pool();
    return tu_main(argc, argv);
}
