/* core_bench: cost per future of fut_wait(ALL_COMPLETED) and fut_as_completed
 * as n grows (10^4, 10^5, 10^6), and the memory of a pending future.
 *
 * For each n and each run: n promise futures are created, a completer thread
 * completes them all (set_result) while the main thread waits / drains; the
 * time from the start of the wait until it returns is divided by n. Medians
 * over RUNS runs. Output: one line per measurement, "name n median_ns_per_future
 * min max", plus "memory bytes_per_pending_future". core_bench.py runs the
 * same workloads on CPython and prints ratios.
 */
#include <futures.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUNS 5

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct completer {
    fut_future **fs;
    size_t n;
};

static void *complete_all(void *p) {
    struct completer *c = p;
    for (size_t i = 0; i < c->n; i++) fut_future_set_result(c->fs[i], NULL, 0, NULL);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static fut_future **make_futures(size_t n) {
    fut_future **fs = malloc(n * sizeof *fs);
    for (size_t i = 0; i < n; i++) fut_future_new(&fs[i]);
    return fs;
}

static void free_futures(fut_future **fs, size_t n) {
    for (size_t i = 0; i < n; i++) fut_future_release(fs[i]);
    free(fs);
}

/* One run: ns per future from the start of the wait to its return. */
static double run_wait(size_t n) {
    fut_future **fs = make_futures(n);
    struct completer c = {fs, n};
    pthread_t t;
    double t0 = now_ns();
    pthread_create(&t, NULL, complete_all, &c);
    size_t n_done = 0;
    fut_wait(fs, n, FUT_WAIT_FOREVER, FUT_ALL_COMPLETED, NULL, &n_done);
    double dt = now_ns() - t0;
    pthread_join(t, NULL);
    if (n_done != n) fprintf(stderr, "wait: %zu of %zu done\n", n_done, n), exit(1);
    free_futures(fs, n);
    return dt / (double)n;
}

static double run_as_completed(size_t n) {
    fut_future **fs = make_futures(n);
    struct completer c = {fs, n};
    pthread_t t;
    double t0 = now_ns();
    fut_as_completed *it;
    fut_as_completed_new(fs, n, FUT_WAIT_FOREVER, &it);
    pthread_create(&t, NULL, complete_all, &c);
    size_t got = 0;
    fut_future *f;
    while (fut_as_completed_next(it, NULL, &f) == FUT_OK) {
        fut_future_release(f);
        got++;
    }
    fut_as_completed_release(it);
    double dt = now_ns() - t0;
    pthread_join(t, NULL);
    if (got != n) fprintf(stderr, "as_completed: %zu of %zu\n", got, n), exit(1);
    free_futures(fs, n);
    return dt / (double)n;
}

static void report(const char *name, size_t n, double (*run)(size_t)) {
    double r[RUNS];
    for (int i = 0; i < RUNS; i++) r[i] = run(n);
    qsort(r, RUNS, sizeof r[0], cmp_double);
    printf("%s %zu %.1f %.1f %.1f\n", name, n, r[RUNS / 2], r[0], r[RUNS - 1]);
    fflush(stdout);
}

static long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f || fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    if (f) fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv) {
    size_t max_n = argc > 1 ? (size_t)atol(argv[1]) : 1000000;
    /* Memory first, before other runs grow the handle pool. */
    size_t m = 1000000;
    long before = rss_bytes();
    fut_future **fs = make_futures(m);
    long after = rss_bytes();
    /* The pointer array itself is 8 bytes per future: not the future's. */
    printf("memory %.1f\n", (double)(after - before) / (double)m - (double)sizeof(void *));
    free_futures(fs, m);

    for (size_t n = 10000; n <= max_n; n *= 10) {
        report("wait_all", n, run_wait);
        report("as_completed", n, run_as_completed);
    }
    return 0;
}
