/* thread_pool_bench: throughput and latency of the thread pool (not a test).
 *
 *   thread_pool_bench [--runs N] [--scale F]
 *
 * Each workload runs N times (default 5) on a fresh 2-worker pool; the
 * median is printed as "name value unit", one per line, so that
 * benches/thread_pool_bench.py can compare with CPython's ThreadPoolExecutor:
 *   noop             200,000 no-op tasks submitted, then all waited (tasks/s)
 *   roundtrip        20,000 sequential submit -> result (median and p99, us)
 *   callback         200,000 tasks with one done-callback bumping an atomic
 *   as_completed     100,000 tasks drained through as_completed, summing
 */
#define _POSIX_C_SOURCE 200809L
#include <futures.h>

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORKERS 2
#define TIMEOUT_NS (60LL * 1000000000LL)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, fut_status st) {
    fprintf(stderr, "%s: %s\n", what, fut_status_str(st));
    exit(1);
}

static fut_executor *new_pool(void) {
    fut_thread_pool_options o;
    fut_thread_pool_options_init(&o);
    o.max_workers = WORKERS;
    fut_executor *ex;
    fut_status st = fut_thread_pool_new(&o, &ex);
    if (st != FUT_OK) die("fut_thread_pool_new", st);
    return ex;
}

static int32_t noop(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    return 0;
}

static int32_t return_index(fut_task *t, const void *arg, size_t len) {
    (void)len;
    int64_t *v = malloc(sizeof *v);
    *v = (int64_t)(intptr_t)arg;
    return fut_task_set_result(t, v, sizeof *v, free);
}

/* 1: submit n no-ops, then wait for all of them. */
static double bench_noop(size_t n) {
    fut_executor *ex = new_pool();
    fut_future **fs = malloc(n * sizeof *fs);
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        fut_status st = fut_executor_submit(ex, noop, NULL, 0, NULL, &fs[i]);
        if (st != FUT_OK) die("submit", st);
    }
    size_t done = 0;
    fut_wait(fs, n, TIMEOUT_NS, FUT_ALL_COMPLETED, NULL, &done);
    double dt = now_s() - t0;
    if (done != n) die("wait", FUT_ERR_TIMEOUT);
    for (size_t i = 0; i < n; i++) fut_future_release(fs[i]);
    free(fs);
    fut_executor_release(ex);
    return (double)n / dt;
}

/* 2: n sequential round trips; writes median and p99 in microseconds. */
static void bench_roundtrip(size_t n, double *med_us, double *p99_us) {
    fut_executor *ex = new_pool();
    double *lat = malloc(n * sizeof *lat);
    for (size_t i = 0; i < n; i++) {
        double t0 = now_s();
        fut_future *f;
        fut_status st = fut_executor_submit(ex, noop, NULL, 0, NULL, &f);
        if (st != FUT_OK) die("submit", st);
        st = fut_future_result(f, TIMEOUT_NS, NULL, NULL);
        if (st != FUT_OK) die("result", st);
        fut_future_release(f);
        lat[i] = (now_s() - t0) * 1e6;
    }
    qsort(lat, n, sizeof *lat, cmp_double);
    *med_us = lat[n / 2];
    *p99_us = lat[(size_t)((double)n * 0.99)];
    free(lat);
    fut_executor_release(ex);
}

/* 3: n tasks, each with a done-callback bumping a counter. */
static atomic_size_t bumps;
static void bump(fut_future *f, void *user) {
    (void)f;
    (void)user;
    atomic_fetch_add_explicit(&bumps, 1, memory_order_relaxed);
}

static double bench_callback(size_t n) {
    fut_executor *ex = new_pool();
    atomic_store(&bumps, 0);
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        fut_future *f;
        fut_status st = fut_executor_submit(ex, noop, NULL, 0, NULL, &f);
        if (st != FUT_OK) die("submit", st);
        fut_future_add_done_callback(f, bump, NULL);
        fut_future_release(f); /* the pool keeps its own reference */
    }
    double deadline = t0 + 60;
    while (atomic_load(&bumps) < n) {
        if (now_s() > deadline) die("callbacks", FUT_ERR_TIMEOUT);
        sched_yield();
    }
    double dt = now_s() - t0;
    fut_executor_release(ex);
    return (double)n / dt;
}

/* 4: n tasks returning their index, drained through as_completed. */
static double bench_as_completed(size_t n) {
    fut_executor *ex = new_pool();
    fut_future **fs = malloc(n * sizeof *fs);
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        fut_status st = fut_executor_submit(ex, return_index, (void *)(intptr_t)i, 0, NULL, &fs[i]);
        if (st != FUT_OK) die("submit", st);
    }
    fut_as_completed *it;
    fut_status st = fut_as_completed_new(fs, n, TIMEOUT_NS, &it);
    if (st != FUT_OK) die("as_completed_new", st);
    int64_t sum = 0;
    fut_future *f;
    while ((st = fut_as_completed_next(it, NULL, &f)) == FUT_OK) {
        void *v;
        if (fut_future_result(f, 0, &v, NULL) == FUT_OK) sum += *(int64_t *)v;
        fut_future_release(f);
    }
    double dt = now_s() - t0;
    if (st != FUT_END) die("as_completed_next", st);
    if (sum != (int64_t)n * ((int64_t)n - 1) / 2) die("sum", FUT_ERR_INTERNAL);
    fut_as_completed_release(it);
    for (size_t i = 0; i < n; i++) fut_future_release(fs[i]);
    free(fs);
    fut_executor_release(ex);
    return (double)n / dt;
}

int main(int argc, char **argv) {
    int runs = 5;
    double scale = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) scale = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--runs N] [--scale F]\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > 100 || scale <= 0) return 2;
    size_t n_noop = (size_t)(200000 * scale), n_rt = (size_t)(20000 * scale);
    size_t n_cb = (size_t)(200000 * scale), n_ac = (size_t)(100000 * scale);
    if (n_rt < 100) n_rt = 100;

    double a[100], b[100], c[100];
    printf("# libfutures %s thread pool, %d workers, median of %d runs\n", fut_version(), WORKERS,
           runs);
    for (int r = 0; r < runs; r++) a[r] = bench_noop(n_noop);
    printf("noop_tasks_per_s %.0f\n", median(a, runs));
    for (int r = 0; r < runs; r++) bench_roundtrip(n_rt, &a[r], &b[r]);
    printf("roundtrip_median_us %.2f\n", median(a, runs));
    printf("roundtrip_p99_us %.2f\n", median(b, runs));
    for (int r = 0; r < runs; r++) c[r] = bench_callback(n_cb);
    printf("callback_tasks_per_s %.0f\n", median(c, runs));
    for (int r = 0; r < runs; r++) a[r] = bench_as_completed(n_ac);
    printf("as_completed_tasks_per_s %.0f\n", median(a, runs));
    return 0;
}
