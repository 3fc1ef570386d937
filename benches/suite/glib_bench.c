/* glib_bench: the benchmark suite's thread-pool workloads on GLib's
 * GThreadPool, the peer a C programmer would otherwise pick (not a test;
 * benches/suite/run.py runs it beside lf_bench and py_bench.py).
 *
 *   glib_bench [--workload ID[,ID...]|all] [--runs N] [--scale F] [--workers N[,N...]] [--list]
 *
 * GLib has no futures, so completion is tracked the way a GLib program
 * would: waiting for all is a counter + GCond (B-W1, B-W5: the "callback" is an
 * atomic bump inside the task), a round trip is a GCond hand-shake (B-W2),
 * results come back through a GAsyncQueue (B-W3), and B-W4's "wait for the first
 * of 10,000" is a counter checked under a GMutex / waited for on a GCond.
 * Pools are exclusive (their threads start at creation and stay). No process
 * pool and no futures in GLib: B-P1-B-P3 and B-M1 are not measured here. */
#include "bench_util.h"

#include <glib.h>
#include <pthread.h>


static void die(const char *what, GError *err) {
    fprintf(stderr, "glib_bench: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

/* What tasks of one pool share. */
struct ctx {
    GMutex mu;
    GCond cv;
    gint count;        /* tasks finished (atomic) */
    gint target;       /* count at which `done` is set */
    gboolean done;     /* under mu */
    GAsyncQueue *results;
};

static void ctx_init(struct ctx *c, gint target) {
    g_mutex_init(&c->mu);
    g_cond_init(&c->cv);
    c->count = 0;
    c->target = target;
    c->done = FALSE;
    c->results = NULL;
}

static void ctx_clear(struct ctx *c) {
    g_mutex_clear(&c->mu);
    g_cond_clear(&c->cv);
}

static void set_done(struct ctx *c) {
    g_mutex_lock(&c->mu);
    c->done = TRUE;
    g_cond_signal(&c->cv);
    g_mutex_unlock(&c->mu);
}

static void wait_done(struct ctx *c) {
    g_mutex_lock(&c->mu);
    while (!c->done) g_cond_wait(&c->cv, &c->mu);
    g_mutex_unlock(&c->mu);
}

static GThreadPool *pool(GFunc fn, struct ctx *c, int workers) {
    GError *err = NULL;
    GThreadPool *p = g_thread_pool_new(fn, c, workers, TRUE, &err);
    if (!p) die("g_thread_pool_new", err);
    return p;
}

static void push(GThreadPool *p, gpointer data) {
    GError *err = NULL;
    if (!g_thread_pool_push(p, data, &err)) die("g_thread_pool_push", err);
}

/* A no-op task whose completion bumps the counter; the last one signals. */
static void count_task(gpointer data, gpointer user) {
    (void)data;
    struct ctx *c = user;
    if (g_atomic_int_add(&c->count, 1) + 1 == c->target) set_done(c);
}

/* ---- B-W1 (and W5: the same with the bump standing for the done-callback) -- */
static double submit_all_wait(size_t n) {
    struct ctx c;
    ctx_init(&c, (gint)n);
    GThreadPool *p = pool(count_task, &c, bu_workers);
    double t0 = bu_now_s();
    for (size_t i = 0; i < n; i++) push(p, GSIZE_TO_POINTER(i + 1)); /* data must not be NULL */
    wait_done(&c);
    double dt = bu_now_s() - t0;
    g_thread_pool_free(p, FALSE, TRUE);
    ctx_clear(&c);
    return (double)n / dt;
}

static void w1(void) {
    size_t n = bu_scaled(200000, 100);
    double v[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) v[r] = submit_all_wait(n);
    bu_emit("B-W1", "tasks_per_s", "tasks/s", "higher", n, v, bu_runs);
}

static void w5(void) {
    size_t n = bu_scaled(200000, 100);
    double v[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) v[r] = submit_all_wait(n);
    bu_emit("B-W5", "tasks_per_s", "tasks/s", "higher", n, v, bu_runs);
}

/* ---- B-W2: push -> GCond round trips -------------------------------------- */
static void signal_task(gpointer data, gpointer user) {
    (void)data;
    set_done(user);
}

static void w2_once(size_t n, double pause_s, double *med, double *p99) {
    struct ctx c;
    ctx_init(&c, 0);
    GThreadPool *p = pool(signal_task, &c, bu_workers);
    double *lat = malloc(n * sizeof *lat);
    for (size_t i = 0; i <= n; i++) {
        if (pause_s > 0) bu_sleep_s(pause_s);
        double t0 = bu_now_s();
        c.done = FALSE; /* no task is running here */
        push(p, GSIZE_TO_POINTER(1));
        wait_done(&c);
        if (i > 0) lat[i - 1] = (bu_now_s() - t0) * 1e6;
    }
    *p99 = bu_quantile(lat, n, 0.99);
    *med = bu_median(lat, n);
    free(lat);
    g_thread_pool_free(p, FALSE, TRUE);
    ctx_clear(&c);
}

static void w2(void) { bu_w2(w2_once); }

/* ---- B-W3: results through a GAsyncQueue, summed in completion order ------ */
static void result_task(gpointer data, gpointer user) {
    struct ctx *c = user;
    /* the task's "result" is its index (data is index + 1: NULL is refused) */
    g_async_queue_push(c->results, data);
}

static void w3(void) {
    size_t n = bu_scaled(100000, 100);
    double v[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) {
        struct ctx c;
        ctx_init(&c, 0);
        c.results = g_async_queue_new();
        GThreadPool *p = pool(result_task, &c, bu_workers);
        double t0 = bu_now_s();
        for (size_t i = 0; i < n; i++) push(p, GSIZE_TO_POINTER(i + 1));
        int64_t sum = 0;
        for (size_t i = 0; i < n; i++) sum += (int64_t)GPOINTER_TO_SIZE(g_async_queue_pop(c.results)) - 1;
        double dt = bu_now_s() - t0;
        if (sum != (int64_t)n * ((int64_t)n - 1) / 2) die("B-W3 sum", NULL);
        g_thread_pool_free(p, FALSE, TRUE);
        g_async_queue_unref(c.results);
        ctx_clear(&c);
        v[r] = (double)n / dt;
    }
    bu_emit("B-W3", "tasks_per_s", "tasks/s", "higher", n, v, bu_runs);
}

/* ---- B-W4: the counter analog of wait(FIRST_COMPLETED) -------------------- */
struct completer {
    struct ctx *c;
    double t_complete;
};

static gpointer complete_later(gpointer p) {
    struct completer *k = p;
    bu_sleep_s(0.002);
    k->t_complete = bu_now_s();
    g_mutex_lock(&k->c->mu);
    k->c->count++;
    g_cond_signal(&k->c->cv);
    g_mutex_unlock(&k->c->mu);
    return NULL;
}

static void w4(void) {
    double v[BU_MAX_RUNS];
    /* one of 10,000 done: is the counter > 0? (checked under the mutex) */
    for (int r = 0; r < bu_runs; r++) {
        struct ctx c;
        ctx_init(&c, 0);
        c.count = 1;
        size_t calls = 1000000, seen = 0;
        double t0 = bu_now_s();
        for (size_t i = 0; i < calls; i++) {
            g_mutex_lock(&c.mu);
            while (c.count == 0) g_cond_wait(&c.cv, &c.mu);
            seen += (size_t)c.count;
            g_mutex_unlock(&c.mu);
        }
        v[r] = (bu_now_s() - t0) * 1e6 / (double)calls;
        if (seen != calls) die("B-W4 count", NULL);
        ctx_clear(&c);
    }
    bu_emit("B-W4", "one_done_us", "us/call", "lower", 10000, v, bu_runs);

    int k = bu_scale < 1 ? 3 : 20;
    for (int r = 0; r < bu_runs; r++) {
        double lat[64];
        for (int i = 0; i < k; i++) {
            struct ctx c;
            ctx_init(&c, 0);
            struct completer comp = {&c, 0};
            GThread *t = g_thread_new("completer", complete_later, &comp);
            g_mutex_lock(&c.mu);
            while (c.count == 0) g_cond_wait(&c.cv, &c.mu);
            g_mutex_unlock(&c.mu);
            double t_ret = bu_now_s();
            g_thread_join(t);
            lat[i] = (t_ret - comp.t_complete) * 1e6;
            ctx_clear(&c);
        }
        v[r] = bu_median(lat, (size_t)k);
    }
    bu_emit("B-W4", "completion_to_return_us", "us", "lower", 10000, v, bu_runs);
}

/* ---- B-I1: CPU time of an idle 4-thread pool over 1 s --------------------- */
static pthread_barrier_t i1_barrier;

static void meet_task(gpointer data, gpointer user) {
    (void)data;
    pthread_barrier_wait(&i1_barrier);
    count_task(data, user);
}

/* All four workers started (tasks that meet at a barrier), then idle. */
static struct ctx i1_ctx;
static void *i1_start(void) {
    ctx_init(&i1_ctx, 4);
    pthread_barrier_init(&i1_barrier, NULL, 4);
    GThreadPool *p = pool(meet_task, &i1_ctx, 4);
    for (int i = 0; i < 4; i++) push(p, GSIZE_TO_POINTER(1));
    wait_done(&i1_ctx);
    return p;
}

static void i1_stop(void *p) {
    g_thread_pool_free(p, FALSE, TRUE);
    pthread_barrier_destroy(&i1_barrier);
    ctx_clear(&i1_ctx);
}

static void i1(void) { bu_i1(i1_start, i1_stop); }

int main(int argc, char **argv) {
    bu_impl = "glib";
    static const struct bu_workload w[] = {
        {"B-W1", w1, 1}, {"B-W2", w2, 1}, {"B-W3", w3, 1}, {"B-W4", w4, 0}, {"B-W5", w5, 1},
        {"B-I1", i1, 0},
    };
    return bu_main(argc, argv, w, sizeof w / sizeof w[0]);
}
