/* process_pool_bench: libfutures' process pool on the workloads that
 * benches/process_pool_bench.py also runs with CPython's ProcessPoolExecutor.
 *
 *   small_chunk1   20,000 tasks, 64-byte argument and result, 2 workers (tasks/s)
 *   small_chunk64  the same through map with chunksize 64 (tasks/s)
 *   large_1mib     200 tasks moving 1 MiB each way, 2 workers (MB/s, both ways)
 *   startup_fork   create a 2-worker pool, run one task, shut down (ms)
 *   startup_forkserver
 *
 * Prints one line per workload: "name median unit" over RUNS runs (default 5,
 * or argv[1]). Workloads use FUT_START_FORK except the startup ones. */
#include <futures.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int32_t echo(fut_task *t, const void *arg, size_t len) {
    fut_task_set_result(t, (void *)arg, len, NULL); /* copied back before arg is freed */
    return 0;
}

static void die(const char *what, fut_status st) {
    fprintf(stderr, "%s: %s\n", what, fut_status_str(st));
    exit(1);
}

static fut_executor *pool(fut_start_method m) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.max_workers = 2;
    o.start_method = m;
    fut_executor *ex;
    fut_status st = fut_process_pool_new(&o, &ex);
    if (st != FUT_OK) die("fut_process_pool_new", st);
    return ex;
}

/* Seconds to map `n` items of `len` bytes through `ex` and read every result. */
static double run_map(fut_executor *ex, size_t n, size_t len, size_t chunksize) {
    unsigned char *buf = malloc(n * len);
    fut_item *items = malloc(n * sizeof *items);
    for (size_t i = 0; i < n; i++) {
        memset(buf + i * len, (int)(i & 0xff), len);
        items[i].arg = buf + i * len;
        items[i].arg_len = len;
    }
    double t0 = now_s();
    fut_map *it;
    fut_status st = fut_executor_map(ex, echo, items, n, -1, chunksize, &it);
    if (st != FUT_OK) die("fut_executor_map", st);
    for (size_t i = 0; i < n; i++) {
        fut_future *f;
        if ((st = fut_map_next(it, &f)) != FUT_OK) die("fut_map_next", st);
        void *v;
        size_t got;
        if ((st = fut_future_result(f, -1, &v, &got)) != FUT_OK) die("result", st);
        if (got != len || ((unsigned char *)v)[len - 1] != (unsigned char)(i & 0xff)) {
            fprintf(stderr, "wrong result at %zu\n", i);
            exit(1);
        }
        fut_future_release(f);
    }
    double dt = now_s() - t0;
    fut_map_release(it);
    free(items);
    free(buf);
    return dt;
}

static double startup(fut_start_method m) {
    double t0 = now_s();
    fut_executor *ex = pool(m);
    fut_future *f;
    fut_status st = fut_executor_submit(ex, echo, "x", 2, NULL, &f);
    if (st != FUT_OK) die("submit", st);
    if ((st = fut_future_result(f, -1, NULL, NULL)) != FUT_OK) die("result", st);
    fut_future_release(f);
    if ((st = fut_executor_shutdown(ex, true, false)) != FUT_OK) die("shutdown", st);
    fut_executor_release(ex);
    return now_s() - t0;
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (runs < 1 || runs > 100) runs = 5;
    double v[100];

    fut_executor *ex = pool(FUT_START_FORK);
    run_map(ex, 2000, 64, 1); /* warm up */
    for (int r = 0; r < runs; r++) v[r] = 20000 / run_map(ex, 20000, 64, 1);
    printf("small_chunk1 %.0f tasks/s\n", median(v, runs));
    for (int r = 0; r < runs; r++) v[r] = 20000 / run_map(ex, 20000, 64, 64);
    printf("small_chunk64 %.0f tasks/s\n", median(v, runs));
    for (int r = 0; r < runs; r++) v[r] = 200 * 2.0 * 1.048576 / run_map(ex, 200, 1 << 20, 1);
    printf("large_1mib %.1f MB/s\n", median(v, runs));
    fut_executor_release(ex);

    for (int r = 0; r < runs; r++) v[r] = 1000 * startup(FUT_START_FORK);
    printf("startup_fork %.2f ms\n", median(v, runs));
    for (int r = 0; r < runs; r++) v[r] = 1000 * startup(FUT_START_FORKSERVER);
    printf("startup_forkserver %.2f ms\n", median(v, runs));
    return 0;
}
