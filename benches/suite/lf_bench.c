/* lf_bench: the benchmark suite's workloads on libfutures, through the public
 * C API only (not a test; benches/suite/run.py runs it beside the CPython and
 * GLib peers).
 *
 *   lf_bench [--workload ID[,ID...]|all] [--runs N] [--scale F] [--workers N[,N...]] [--list]
 *
 * Prints one JSON line per measurement (see bench_util.h). Each workload runs
 * --runs times; sizes are multiplied by --scale (the ctest smoke test uses
 * --scale 0.01 --runs 1). The workloads are described in benches/suite/README.md.
 * Process-pool workloads (B-P1-B-P3) are built only when the header declares
 * the process pool (FUT_START_FORKSERVER). */
#include "bench_util.h"

#include <futures.h>

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/wait.h>

/* Worker processes of the process-pool workloads. */
#define PROC_WORKERS 2
#define TIMEOUT_NS (120LL * 1000000000LL)

static void die(const char *what, fut_status st) {
    fprintf(stderr, "lf_bench: %s: %s\n", what, fut_status_str(st));
    exit(1);
}

static void check(const char *what, fut_status st) {
    if (st != FUT_OK) die(what, st);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "lf_bench: out of memory\n");
        exit(1);
    }
    return p;
}

/* --max-queued N: the thread workloads' pools get this bound (Q1; 0, the
 * default: unbounded). */
static size_t max_queued = 0;

static fut_executor *thread_pool(size_t workers) {
    fut_thread_pool_options o;
    check("fut_thread_pool_options_init", fut_thread_pool_options_init(&o));
    o.max_workers = workers;
    o.max_queued = max_queued;
    fut_executor *ex;
    check("fut_thread_pool_new", fut_thread_pool_new(&o, &ex));
    return ex;
}

static int32_t noop(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    return 0;
}

/* B-W3's task returns its index in a slot of the caller's results array (the
 * future's value points there), as a C caller collecting results would, and
 * as the peers return theirs: through a channel or queue slot, with no
 * allocation per task. (A malloc'd int64 freed by the consumer measured
 * glibc's cross-thread malloc more than the pool: ~20 % of the workers' time
 * on 2 CPUs.) */
static int64_t *w3_results;

static int32_t return_index(fut_task *t, const void *arg, size_t len) {
    (void)len;
    int64_t i = (int64_t)(intptr_t)arg;
    w3_results[i] = i;
    return fut_task_set_result(t, &w3_results[i], sizeof w3_results[i], NULL);
}

static fut_future **new_promises(size_t n) {
    fut_future **fs = xmalloc(n * sizeof *fs);
    for (size_t i = 0; i < n; i++) check("fut_future_new", fut_future_new(&fs[i]));
    return fs;
}

static void release_all(fut_future **fs, size_t n) {
    for (size_t i = 0; i < n; i++) fut_future_release(fs[i]);
    free(fs);
}

/* Sizes of the "cost per future as n grows" curves: 10^3 .. 10^6, scaled. */
static size_t curve_sizes(size_t *out) {
    size_t k = 0, top = bu_scaled(1000000, 1000);
    for (size_t n = 1000; n <= top; n *= 10) out[k++] = n;
    return k;
}

/* ---- B-W1: 200,000 no-op tasks submitted to a 2-worker pool, then all waited */
static void w1(void) {
    size_t n = bu_scaled(200000, 100);
    double v[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) {
        fut_executor *ex = thread_pool((size_t)bu_workers);
        fut_future **fs = xmalloc(n * sizeof *fs);
        double t0 = bu_now_s();
        for (size_t i = 0; i < n; i++) check("submit", fut_executor_submit(ex, noop, NULL, 0, NULL, &fs[i]));
        size_t done = 0;
        check("fut_wait", fut_wait(fs, n, TIMEOUT_NS, FUT_ALL_COMPLETED, NULL, &done));
        double dt = bu_now_s() - t0;
        if (done != n) die("B-W1 wait", FUT_ERR_TIMEOUT);
        release_all(fs, n);
        fut_executor_release(ex);
        v[r] = (double)n / dt;
    }
    bu_emit("B-W1", "tasks_per_s", "tasks/s", "higher", n, v, bu_runs);
}

/* ---- B-W2: sequential submit -> result round trips ------------------------ */
/* One run: `n` round trips with `pause_s` of sleep before each; writes the
 * median and p99 latency in microseconds. One unmeasured round trip first. */
static void w2_once(size_t n, double pause_s, double *med, double *p99) {
    fut_executor *ex = thread_pool((size_t)bu_workers);
    double *lat = xmalloc(n * sizeof *lat);
    for (size_t i = 0; i <= n; i++) {
        if (pause_s > 0) bu_sleep_s(pause_s);
        double t0 = bu_now_s();
        fut_future *f;
        check("submit", fut_executor_submit(ex, noop, NULL, 0, NULL, &f));
        check("result", fut_future_result(f, TIMEOUT_NS, NULL, NULL));
        fut_future_release(f);
        if (i > 0) lat[i - 1] = (bu_now_s() - t0) * 1e6;
    }
    *p99 = bu_quantile(lat, n, 0.99);
    *med = bu_median(lat, n);
    free(lat);
    fut_executor_release(ex);
}

static void w2(void) { bu_w2(w2_once); }

/* ---- B-W3: 100,000 tasks drained through as_completed, summing results ---- */
static void w3(void) {
    size_t n = bu_scaled(100000, 100);
    double v[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) {
        fut_executor *ex = thread_pool((size_t)bu_workers);
        fut_future **fs = xmalloc(n * sizeof *fs);
        w3_results = xmalloc(n * sizeof *w3_results);
        double t0 = bu_now_s();
        for (size_t i = 0; i < n; i++)
            check("submit", fut_executor_submit(ex, return_index, (void *)(intptr_t)i, 0, NULL, &fs[i]));
        fut_as_completed *it;
        check("fut_as_completed_new", fut_as_completed_new(fs, n, TIMEOUT_NS, &it));
        int64_t sum = 0;
        fut_future *f;
        fut_status st;
        while ((st = fut_as_completed_next(it, NULL, &f)) == FUT_OK) {
            void *val;
            check("result", fut_future_result(f, 0, &val, NULL));
            sum += *(int64_t *)val;
            fut_future_release(f);
        }
        double dt = bu_now_s() - t0;
        if (st != FUT_END) die("fut_as_completed_next", st);
        if (sum != (int64_t)n * ((int64_t)n - 1) / 2) die("B-W3 sum", FUT_ERR_INTERNAL);
        fut_as_completed_release(it);
        release_all(fs, n);
        free(w3_results);
        fut_executor_release(ex);
        v[r] = (double)n / dt;
    }
    bu_emit("B-W3", "tasks_per_s", "tasks/s", "higher", n, v, bu_runs);
}

/* ---- B-W4: fut_wait(FIRST_COMPLETED) -------------------------------------- */
/* Seconds per fut_wait(FIRST_COMPLETED) call over n promises, the last one
 * done (done_flags filled, like CPython's done/not_done sets). */
static double first_one_done_s(size_t n) {
    fut_future **fs = new_promises(n);
    uint8_t *flags = xmalloc(n);
    check("set_result", fut_future_set_result(fs[n - 1], NULL, 0, NULL));
    size_t calls = 2000000 / n;
    if (calls < 3) calls = 3;
    if (calls > 1000) calls = 1000;
    double t0 = bu_now_s();
    for (size_t c = 0; c < calls; c++) {
        size_t nd = 0;
        check("fut_wait", fut_wait(fs, n, TIMEOUT_NS, FUT_FIRST_COMPLETED, flags, &nd));
        if (nd != 1 || !flags[n - 1]) die("B-W4 one done", FUT_ERR_INTERNAL);
    }
    double dt = (bu_now_s() - t0) / (double)calls;
    free(flags);
    release_all(fs, n);
    return dt;
}

struct completer {
    fut_future *f;
    double delay_s, t_complete;
};

static void *complete_later(void *p) {
    struct completer *c = p;
    bu_sleep_s(c->delay_s);
    c->t_complete = bu_now_s();
    check("set_result", fut_future_set_result(c->f, NULL, 0, NULL));
    return NULL;
}

/* Microseconds from set_result (another thread, 2 ms after the wait began)
 * to the return of fut_wait(FIRST_COMPLETED) over n pending promises; median
 * of `k` waits. */
static double completion_to_return_us(size_t n, int k) {
    double lat[64];
    for (int i = 0; i < k; i++) {
        fut_future **fs = new_promises(n);
        uint8_t *flags = xmalloc(n);
        struct completer c = {fs[n - 1], 0.002, 0};
        pthread_t t;
        if (pthread_create(&t, NULL, complete_later, &c) != 0) die("pthread_create", FUT_ERR_OS);
        size_t nd = 0;
        check("fut_wait", fut_wait(fs, n, TIMEOUT_NS, FUT_FIRST_COMPLETED, flags, &nd));
        double t_ret = bu_now_s();
        pthread_join(t, NULL);
        if (nd != 1) die("B-W4 completion", FUT_ERR_INTERNAL);
        lat[i] = (t_ret - c.t_complete) * 1e6;
        free(flags);
        release_all(fs, n);
    }
    return bu_median(lat, (size_t)k);
}

struct all_completer {
    fut_future **fs;
    size_t n;
    pthread_barrier_t *go;
};

static void *complete_all(void *p) {
    struct all_completer *c = p;
    pthread_barrier_wait(c->go);
    for (size_t i = 0; i < c->n; i++) check("set_result", fut_future_set_result(c->fs[i], NULL, 0, NULL));
    return NULL;
}

/* ns per future: another thread (started beforehand, released at the start
 * of the clock) completes all n while this one is in fut_wait(ALL_COMPLETED),
 * or (as_completed) creates the iterator and drains it. */
static double wait_all_ns(size_t n, int as_completed) {
    fut_future **fs = new_promises(n);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    struct all_completer c = {fs, n, &go};
    pthread_t t;
    if (pthread_create(&t, NULL, complete_all, &c) != 0) die("pthread_create", FUT_ERR_OS);
    pthread_barrier_wait(&go);
    double t0 = bu_now_s();
    size_t got = 0;
    if (as_completed) {
        fut_as_completed *it;
        check("fut_as_completed_new", fut_as_completed_new(fs, n, TIMEOUT_NS, &it));
        fut_future *f;
        while (fut_as_completed_next(it, NULL, &f) == FUT_OK) {
            fut_future_release(f);
            got++;
        }
        fut_as_completed_release(it);
    } else {
        check("fut_wait", fut_wait(fs, n, TIMEOUT_NS, FUT_ALL_COMPLETED, NULL, &got));
    }
    double dt = bu_now_s() - t0;
    pthread_join(t, NULL);
    pthread_barrier_destroy(&go);
    if (got != n) die("wait all", FUT_ERR_INTERNAL);
    release_all(fs, n);
    return dt * 1e9 / (double)n;
}

static void w4(void) {
    size_t n = 10000;
    double v[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) v[r] = first_one_done_s(n) * 1e6;
    bu_emit("B-W4", "one_done_us", "us/call", "lower", n, v, bu_runs);
    int k = bu_scale < 1 ? 3 : 20;
    for (int r = 0; r < bu_runs; r++) v[r] = completion_to_return_us(n, k);
    bu_emit("B-W4", "completion_to_return_us", "us", "lower", n, v, bu_runs);

    size_t sizes[8], ns = curve_sizes(sizes);
    for (size_t s = 0; s < ns; s++) {
        for (int r = 0; r < bu_runs; r++) v[r] = first_one_done_s(sizes[s]) * 1e9 / (double)sizes[s];
        bu_emit("B-W4", "curve_first_completed_ns_per_future", "ns/future", "lower", sizes[s], v, bu_runs);
    }
    for (size_t s = 0; s < ns; s++) {
        for (int r = 0; r < bu_runs; r++) v[r] = wait_all_ns(sizes[s], 0);
        bu_emit("B-W4", "curve_wait_all_ns_per_future", "ns/future", "lower", sizes[s], v, bu_runs);
    }
    for (size_t s = 0; s < ns; s++) {
        for (int r = 0; r < bu_runs; r++) v[r] = wait_all_ns(sizes[s], 1);
        bu_emit("B-W4", "curve_as_completed_ns_per_future", "ns/future", "lower", sizes[s], v, bu_runs);
    }
}

/* ---- B-W5: 200,000 tasks, each with one done-callback bumping an atomic --- */
static atomic_size_t w5_bumps;
static size_t w5_target;
static pthread_mutex_t w5_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w5_cv = PTHREAD_COND_INITIALIZER;
static int w5_done;

static void w5_bump(fut_future *f, void *user) {
    (void)f;
    (void)user;
    if (atomic_fetch_add_explicit(&w5_bumps, 1, memory_order_relaxed) + 1 == w5_target) {
        pthread_mutex_lock(&w5_mu);
        w5_done = 1;
        pthread_cond_signal(&w5_cv);
        pthread_mutex_unlock(&w5_mu);
    }
}

static void w5(void) {
    size_t n = bu_scaled(200000, 100);
    double v[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) {
        fut_executor *ex = thread_pool((size_t)bu_workers);
        atomic_store(&w5_bumps, 0);
        w5_target = n;
        w5_done = 0;
        double t0 = bu_now_s();
        for (size_t i = 0; i < n; i++) {
            fut_future *f;
            check("submit", fut_executor_submit(ex, noop, NULL, 0, NULL, &f));
            check("add_done_callback", fut_future_add_done_callback(f, w5_bump, NULL));
            fut_future_release(f); /* the pool keeps its own reference */
        }
        pthread_mutex_lock(&w5_mu);
        while (!w5_done) pthread_cond_wait(&w5_cv, &w5_mu);
        pthread_mutex_unlock(&w5_mu);
        double dt = bu_now_s() - t0;
        fut_executor_release(ex);
        v[r] = (double)n / dt;
    }
    bu_emit("B-W5", "tasks_per_s", "tasks/s", "higher", n, v, bu_runs);
}

/* ---- B-P1-B-P3: process pool ------------------------------------------------ */
#ifdef FUT_START_FORKSERVER
static int32_t echo(fut_task *t, const void *arg, size_t len) {
    /* the pool copies the bytes back before it frees arg */
    return fut_task_set_result(t, (void *)arg, len, NULL);
}

static fut_executor *process_pool(fut_start_method m) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.max_workers = PROC_WORKERS;
    o.start_method = m;
    fut_executor *ex;
    check("fut_process_pool_new", fut_process_pool_new(&o, &ex));
    return ex;
}

static unsigned char *patterned(size_t n, size_t len) {
    unsigned char *buf = xmalloc(n * len);
    for (size_t i = 0; i < n; i++) memset(buf + i * len, (int)(i & 0xff), len);
    return buf;
}

static void check_echo(fut_future *f, size_t i, size_t len) {
    void *v;
    size_t got;
    check("result", fut_future_result(f, TIMEOUT_NS, &v, &got));
    if (got != len || ((unsigned char *)v)[0] != (unsigned char)(i & 0xff) ||
        ((unsigned char *)v)[len - 1] != (unsigned char)(i & 0xff)) {
        fprintf(stderr, "lf_bench: wrong result at %zu\n", i);
        exit(1);
    }
}

/* Seconds to submit n tasks of `len` bytes (argument copied by the pool) and
 * read every result in order. `buf` holds n patterned items, or one item
 * reused by all when `one_buf`. */
static double run_submit(fut_executor *ex, const unsigned char *buf, size_t n, size_t len,
                         int one_buf) {
    fut_future **fs = xmalloc(n * sizeof *fs);
    double t0 = bu_now_s();
    for (size_t i = 0; i < n; i++)
        check("submit", fut_executor_submit(ex, echo, buf + (one_buf ? 0 : i * len), len, NULL, &fs[i]));
    for (size_t i = 0; i < n; i++) {
        check_echo(fs[i], one_buf ? 0 : i, len);
        fut_future_release(fs[i]); /* results are freed as they are read */
    }
    double dt = bu_now_s() - t0;
    free(fs);
    return dt;
}

static double run_map(fut_executor *ex, const unsigned char *buf, size_t n, size_t len, size_t chunk) {
    fut_item *items = xmalloc(n * sizeof *items);
    for (size_t i = 0; i < n; i++) {
        items[i].arg = buf + i * len;
        items[i].arg_len = len;
    }
    double t0 = bu_now_s();
    fut_map *it;
    check("fut_executor_map", fut_executor_map(ex, echo, items, n, TIMEOUT_NS, chunk, &it));
    for (size_t i = 0; i < n; i++) {
        fut_future *f;
        check("fut_map_next", fut_map_next(it, &f));
        check_echo(f, i, len);
        fut_future_release(f);
    }
    double dt = bu_now_s() - t0;
    fut_map_release(it);
    free(items);
    return dt;
}

/* B-P1 on start method `m`; metric names start with `prefix` ("" or
 * "spawn_"). */
static void p1_on(fut_start_method m, const char *prefix) {
    size_t n = bu_scaled(20000, 200), len = 64;
    unsigned char *buf = patterned(n, len);
    fut_executor *ex = process_pool(m);
    run_submit(ex, buf, n / 10, len, 0); /* warm up: workers started and faulted in */
    double v[BU_MAX_RUNS];
    char name[64];
    for (int r = 0; r < bu_runs; r++) v[r] = (double)n / run_submit(ex, buf, n, len, 0);
    snprintf(name, sizeof name, "%stasks_per_s", prefix);
    bu_emit("B-P1", name, "tasks/s", "higher", n, v, bu_runs);
    for (int r = 0; r < bu_runs; r++) v[r] = (double)n / run_map(ex, buf, n, len, 64);
    snprintf(name, sizeof name, "%smap_chunk64_tasks_per_s", prefix);
    bu_emit("B-P1", name, "tasks/s", "higher", n, v, bu_runs);
    check("shutdown", fut_executor_shutdown(ex, true, false));
    fut_executor_release(ex);
    free(buf);
}

static void p2_on(fut_start_method m, const char *prefix) {
    size_t n = bu_scaled(200, 4), len = 1 << 20;
    unsigned char *buf = patterned(1, len);
    fut_executor *ex = process_pool(m);
    run_submit(ex, buf, 4, len, 1);
    double v[BU_MAX_RUNS];
    char name[64];
    /* MiB moved both ways (argument there, result back) per second */
    for (int r = 0; r < bu_runs; r++) v[r] = 2.0 * (double)n / run_submit(ex, buf, n, len, 1);
    snprintf(name, sizeof name, "%smib_per_s", prefix);
    bu_emit("B-P2", name, "MiB/s", "higher", n, v, bu_runs);
    check("shutdown", fut_executor_shutdown(ex, true, false));
    fut_executor_release(ex);
    free(buf);
}

static void p1(void) {
    p1_on(FUT_START_FORK, "");
#ifdef FUT_START_SPAWN
    p1_on(FUT_START_SPAWN, "spawn_");
#endif
}

static void p2(void) {
    p2_on(FUT_START_FORK, "");
#ifdef FUT_START_SPAWN
    p2_on(FUT_START_SPAWN, "spawn_");
#endif
}

static double startup_ms(fut_start_method m) {
    double t0 = bu_now_s();
    fut_executor *ex = process_pool(m);
    fut_future *f;
    check("submit", fut_executor_submit(ex, echo, "x", 2, NULL, &f));
    check("result", fut_future_result(f, TIMEOUT_NS, NULL, NULL));
    fut_future_release(f);
    check("shutdown", fut_executor_shutdown(ex, true, false));
    fut_executor_release(ex);
    return (bu_now_s() - t0) * 1e3;
}

static void p3(void) {
    double v[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) v[r] = startup_ms(FUT_START_FORK);
    bu_emit("B-P3", "fork_ms", "ms", "lower", 1, v, bu_runs);
    for (int r = 0; r < bu_runs; r++) v[r] = startup_ms(FUT_START_FORKSERVER);
    bu_emit("B-P3", "forkserver_ms", "ms", "lower", 1, v, bu_runs);
#ifdef FUT_START_SPAWN
    for (int r = 0; r < bu_runs; r++) v[r] = startup_ms(FUT_START_SPAWN);
    bu_emit("B-P3", "spawn_ms", "ms", "lower", 1, v, bu_runs);
#endif
}
#endif

/* ---- B-M1: memory of pending futures --------------------------------------
 * Handles live in pools that never give memory back, so each run is measured
 * in a forked child that has created no future yet; the child reports its
 * numbers through a pipe. */
static double heap_bytes(void) {
    struct mallinfo2 mi = mallinfo2();
    return (double)mi.uordblks + (double)mi.hblkhd;
}

/* In the child: out[1..k] = RSS delta per future after sizes[0..k-1] pending
 * futures (created in one pass; the pointer array touched beforehand), then
 * out[0] = bytes of one pending future: malloc'd bytes per future over 1,000
 * more + the spacing of consecutive handles (the handle slot, which lives in
 * mmap'd pool pages that malloc does not see). */
static void m1_child(const size_t *sizes, size_t k, double *out) {
    size_t top = sizes[k - 1];
    fut_future **fs = xmalloc(top * sizeof *fs);
    memset(fs, 0, top * sizeof *fs);
    double r0 = bu_rss_bytes();
    size_t s = 0;
    for (size_t i = 0; i < top && s < k; i++) {
        check("fut_future_new", fut_future_new(&fs[i]));
        if (i + 1 == sizes[s]) {
            out[1 + s] = (bu_rss_bytes() - r0) / (double)sizes[s];
            s++;
        }
    }

    size_t small = 1000;
    fut_future **more = xmalloc(small * sizeof *more);
    memset(more, 0, small * sizeof *more);
    double h0 = heap_bytes();
    for (size_t i = 0; i < small; i++) check("fut_future_new", fut_future_new(&more[i]));
    double heap = (heap_bytes() - h0) / (double)small;
    uintptr_t stride = UINTPTR_MAX;
    for (size_t i = 1; i < small; i++) {
        uintptr_t a = (uintptr_t)more[i - 1], b = (uintptr_t)more[i];
        uintptr_t d = a < b ? b - a : a - b;
        if (d && d < stride) stride = d;
    }
    /* a handle that is not a slot address would give nonsense: then heap only */
    out[0] = heap + (stride <= 4096 ? (double)stride : 0);
}

static void m1(void) {
    size_t sizes[8], k = curve_sizes(sizes);
    double one[BU_MAX_RUNS] = {0}, curve[8][BU_MAX_RUNS] = {{0}};
    for (int r = 0; r < bu_runs; r++) {
        int p[2];
        if (pipe(p) != 0) die("pipe", FUT_ERR_OS);
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) die("fork", FUT_ERR_OS);
        double out[9] = {0};
        if (pid == 0) {
            close(p[0]);
            m1_child(sizes, k, out);
            ssize_t w = write(p[1], out, sizeof out);
            _exit(w == (ssize_t)sizeof out ? 0 : 1);
        }
        close(p[1]);
        size_t got = 0;
        while (got < sizeof out) {
            ssize_t rd = read(p[0], (char *)out + got, sizeof out - got);
            if (rd <= 0) break;
            got += (size_t)rd;
        }
        close(p[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (got != sizeof out || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            die("B-M1 child", FUT_ERR_INTERNAL);
        one[r] = out[0];
        for (size_t s = 0; s < k; s++) curve[s][r] = out[1 + s];
    }
    bu_emit("B-M1", "one_future_bytes", "bytes", "lower", 1, one, bu_runs);
    bu_emit("B-M1", "rss_bytes_per_future", "bytes", "lower", sizes[k - 1], curve[k - 1], bu_runs);
    for (size_t s = 0; s < k; s++)
        bu_emit("B-M1", "curve_rss_bytes_per_future", "bytes/future", "lower", sizes[s], curve[s], bu_runs);
}

/* ---- B-I1: CPU time of an idle 4-worker thread pool over 1 s ---------------- */
static pthread_barrier_t i1_barrier;

static int32_t meet(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    pthread_barrier_wait(&i1_barrier);
    return 0;
}

/* Four tasks that meet at a barrier: all four workers are started, then idle. */
static void *i1_start(void) {
    fut_executor *ex = thread_pool(4);
    pthread_barrier_init(&i1_barrier, NULL, 4);
    fut_future *fs[4];
    for (int i = 0; i < 4; i++) check("submit", fut_executor_submit(ex, meet, NULL, 0, NULL, &fs[i]));
    for (int i = 0; i < 4; i++) {
        check("result", fut_future_result(fs[i], TIMEOUT_NS, NULL, NULL));
        fut_future_release(fs[i]);
    }
    return ex;
}

static void i1_stop(void *ex) {
    fut_executor_release(ex);
    pthread_barrier_destroy(&i1_barrier);
}

static void i1(void) { bu_i1(i1_start, i1_stop); }

/* ---- B-Q1: cost of fut_executor_stats with 16 workers busy (Q6) ---------- */
static atomic_int q1_stop;

static int32_t q1_spin(fut_task *t, const void *arg, size_t len) {
    (void)t, (void)arg, (void)len;
    while (!atomic_load_explicit(&q1_stop, memory_order_relaxed)) {
    }
    return 0;
}

/* Busy workers that finish tasks all the time: each task spins a little. */
static int32_t q1_short(fut_task *t, const void *arg, size_t len) {
    (void)t, (void)arg, (void)len;
    for (volatile int i = 0; i < 200; i++) {
    }
    return 0;
}

static void *q1_feeder(void *ex) {
    while (!atomic_load(&q1_stop)) {
        fut_future *f;
        if (fut_executor_submit(ex, q1_short, NULL, 0, NULL, &f) == FUT_OK) fut_future_release(f);
    }
    return NULL;
}

static void q1(void) {
    enum { WORKERS = 16 };
    size_t n = bu_scaled(1000000, 1000);
    double v[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) {
        fut_thread_pool_options o;
        check("fut_thread_pool_options_init", fut_thread_pool_options_init(&o));
        o.max_workers = WORKERS;
        o.max_queued = 256;
        fut_executor *ex;
        check("fut_thread_pool_new", fut_thread_pool_new(&o, &ex));
        atomic_store(&q1_stop, 0);
        /* Half the workers spin in one long task, the rest run a stream of
         * short ones fed by another thread: every counter line is being
         * written while the stats are read. */
        fut_future *spinners[WORKERS / 2];
        for (int i = 0; i < WORKERS / 2; i++)
            check("submit", fut_executor_submit(ex, q1_spin, NULL, 0, NULL, &spinners[i]));
        pthread_t feeder;
        pthread_create(&feeder, NULL, q1_feeder, ex);
        fut_stats s = {.struct_size = sizeof s};
        uint64_t sink = 0;
        /* CPU time of this thread: with 18 busy threads on a small machine,
         * wall time would mostly count the time the reader waits for a CPU. */
        struct timespec c0, c1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        for (size_t i = 0; i < n; i++) {
            check("fut_executor_stats", fut_executor_stats(ex, &s));
            sink += s.completed;
        }
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        double dt = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
        atomic_store(&q1_stop, 1);
        pthread_join(feeder, NULL);
        for (int i = 0; i < WORKERS / 2; i++) fut_future_release(spinners[i]);
        fut_executor_release(ex);
        if (sink == 0 && n > 1000000000) die("B-Q1", FUT_ERR_INTERNAL); /* keeps `sink` used */
        v[r] = dt / (double)n * 1e9;
    }
    bu_emit("B-Q1", "stats_read_ns", "ns", "lower", n, v, bu_runs);
}

int main(int argc, char **argv) {
#ifdef FUT_START_SPAWN
    /* Spawn pools run this program as their workers (N9). */
    check("fut_register_task", fut_register_task("echo", echo));
    check("fut_worker_entry", fut_worker_entry(argc, argv));
#endif
    bu_impl = "libfutures";
    /* Our own option, taken out before bu_main sees the rest. */
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max-queued") == 0 && i + 1 < argc) {
            max_queued = (size_t)strtoull(argv[++i], NULL, 10);
            continue;
        }
        argv[kept++] = argv[i];
    }
    argc = kept;
    static const struct bu_workload w[] = {
        {"B-W1", w1, 1}, {"B-W2", w2, 1}, {"B-W3", w3, 1}, {"B-W4", w4, 0}, {"B-W5", w5, 1},
#ifdef FUT_START_FORKSERVER
        {"B-P1", p1, 0}, {"B-P2", p2, 0}, {"B-P3", p3, 0},
#endif
        {"B-M1", m1, 0}, {"B-I1", i1, 0}, {"B-Q1", q1, 0},
    };
    return bu_main(argc, argv, w, sizeof w / sizeof w[0]);
}
