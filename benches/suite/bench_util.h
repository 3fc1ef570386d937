/* bench_util.h: what lf_bench.c and glib_bench.c share: clocks, medians,
 * command line, and the JSON line every measurement is printed as.
 *
 * One line per measurement, e.g.
 *   {"impl":"libfutures","workload":"B-W1","metric":"tasks_per_s","unit":"tasks/s",
 *    "better":"higher","n":200000,"workers":2,"median":...,"min":...,"max":...,
 *    "runs":[...]}
 * benches/suite/run.py joins the lines of every implementation on
 * (workload, metric, n, workers). `workers` is the pool's worker count for
 * the thread workloads run once per --workers value (B-W1, B-W2, B-W3, B-W5),
 * 4 for B-I1, 0 where no thread pool is measured. Header-only (static functions): each program includes
 * it once. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BU_MAX_RUNS 100
/* Not every program uses every helper. */
#define BU_FN static __attribute__((unused))

static int bu_runs = 5;
static double bu_scale = 1.0;
static const char *bu_impl = "?";
/* Worker count of the thread workload being run (see bu_main). */
static int bu_workers = 2;
#define BU_MAX_WORKER_COUNTS 16

BU_FN double bu_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

BU_FN void bu_sleep_s(double s) {
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* A size scaled by --scale, never below `min`. */
BU_FN size_t bu_scaled(size_t n, size_t min) {
    double v = (double)n * bu_scale;
    return v < (double)min ? min : (size_t)v;
}

BU_FN int bu_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place; the median (mean of the middle two for even n). */
BU_FN double bu_median(double *v, size_t n) {
    qsort(v, n, sizeof *v, bu_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The q-quantile (0..1) of v, nearest rank; sorts v. */
BU_FN double bu_quantile(double *v, size_t n, double q) {
    qsort(v, n, sizeof *v, bu_cmp_double);
    size_t i = (size_t)(q * (double)n);
    return v[i < n ? i : n - 1];
}

BU_FN void bu_num(double x) {
    if (isfinite(x)) printf("%.6g", x);
    else printf("null");
}

/* Prints one measurement: `k` per-run values, their median, min and max. */
BU_FN void bu_emit(const char *workload, const char *metric, const char *unit,
                    const char *better, size_t n, const double *values, int k) {
    double sorted[BU_MAX_RUNS];
    memcpy(sorted, values, (size_t)k * sizeof *values);
    double med = bu_median(sorted, (size_t)k);
    printf("{\"impl\":\"%s\",\"workload\":\"%s\",\"metric\":\"%s\",\"unit\":\"%s\","
           "\"better\":\"%s\",\"n\":%zu,\"workers\":%d,\"median\":",
           bu_impl, workload, metric, unit, better, n, bu_workers);
    bu_num(med);
    printf(",\"min\":");
    bu_num(sorted[0]);
    printf(",\"max\":");
    bu_num(sorted[k - 1]);
    printf(",\"runs\":[");
    for (int i = 0; i < k; i++) {
        if (i) printf(",");
        bu_num(values[i]);
    }
    printf("]}\n");
    fflush(stdout);
}

/* B-W2, the same for every implementation: `once(n, pause_s, &median, &p99)`
 * measures n round trips with a pause of pause_s seconds before each;
 * back to back, then after the pool went idle (5 ms pauses). */
BU_FN void bu_w2(void (*once)(size_t n, double pause_s, double *med, double *p99)) {
    size_t n = bu_scaled(20000, 100), n_idle = bu_scaled(400, 20);
    double med[BU_MAX_RUNS], p99[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) once(n, 0, &med[r], &p99[r]);
    bu_emit("B-W2", "rt_median_us", "us", "lower", n, med, bu_runs);
    bu_emit("B-W2", "rt_p99_us", "us", "lower", n, p99, bu_runs);
    for (int r = 0; r < bu_runs; r++) once(n_idle, 0.005, &med[r], &p99[r]);
    bu_emit("B-W2", "idle_rt_median_us", "us", "lower", n_idle, med, bu_runs);
    bu_emit("B-W2", "idle_rt_p99_us", "us", "lower", n_idle, p99, bu_runs);
}

/* CPU time of the whole process (every thread), seconds, from
 * CLOCK_PROCESS_CPUTIME_ID (the scheduler's own accounting, ns resolution;
 * getrusage's and /proc/self/stat's counters may move in clock ticks);
 * *switches gets the context switches (voluntary + involuntary) so far. */
BU_FN double bu_cpu_s(long *switches) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (switches) *switches = ru.ru_nvcsw + ru.ru_nivcsw;
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size in bytes, from /proc/self/statm. */
BU_FN double bu_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f || fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    if (f) fclose(f);
    return (double)rss * (double)sysconf(_SC_PAGESIZE);
}

struct bu_workload {
    const char *id;
    void (*run)(void);
    /* 1: a thread-pool workload, run once per --workers value (bu_workers). */
    int per_workers;
};

/* Parses "2,8,16" into counts[] (1..1024 each); the number of counts, or 0. */
BU_FN int bu_parse_workers(const char *s, int *counts) {
    int k = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 1024 || k == BU_MAX_WORKER_COUNTS) return 0;
        counts[k++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return 0;
    }
    return k;
}

/* Parses --workload ID[,ID...]|all, --runs N, --scale F, --workers N[,N...]
 * (default 2), --list; runs the chosen workloads in table order, the
 * thread-pool ones once per worker count. Returns the exit status. */
BU_FN int bu_main(int argc, char **argv, const struct bu_workload *w, size_t nw) {
    const char *which = "all";
    int counts[BU_MAX_WORKER_COUNTS] = {2}, ncounts = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--workload") == 0 && i + 1 < argc) which = argv[++i];
        else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
            ncounts = bu_parse_workers(argv[++i], counts);
            if (!ncounts) {
                fprintf(stderr, "--workers takes a comma-separated list of 1..1024\n");
                return 2;
            }
        }
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) bu_runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) bu_scale = atof(argv[++i]);
        else if (strcmp(argv[i], "--list") == 0) {
            for (size_t j = 0; j < nw; j++) printf("%s\n", w[j].id);
            return 0;
        } else {
            fprintf(stderr, "usage: %s [--workload ID[,ID...]|all] [--runs N] [--scale F] "
                            "[--workers N[,N...]] [--list]\n",
                    argv[0]);
            return 2;
        }
    }
    if (bu_runs < 1 || bu_runs > BU_MAX_RUNS || !(bu_scale > 0)) {
        fprintf(stderr, "--runs must be 1..%d and --scale > 0\n", BU_MAX_RUNS);
        return 2;
    }
    int found = 0;
    for (size_t j = 0; j < nw; j++) {
        int chosen = strcmp(which, "all") == 0;
        if (!chosen) {
            /* exact match of one comma-separated item */
            size_t len = strlen(w[j].id);
            for (const char *p = which; *p;) {
                const char *e = strchr(p, ',');
                size_t l = e ? (size_t)(e - p) : strlen(p);
                if (l == len && strncmp(p, w[j].id, len) == 0) chosen = 1;
                p += l + (e ? 1 : 0);
            }
        }
        if (chosen) {
            found++;
            for (int c = 0; c < (w[j].per_workers ? ncounts : 1); c++) {
                bu_workers = w[j].per_workers ? counts[c] : 0;
                w[j].run();
            }
        }
    }
    if (!found) {
        fprintf(stderr, "no workload matches '%s' (--list shows them)\n", which);
        return 2;
    }
    return 0;
}

/* B-I1, the same for every implementation: `start()` makes a pool with all 4
 * workers started and idle, `stop(pool)` frees it; between the two, the
 * process's CPU time and context switches over an idle second are measured. */
BU_FN void bu_i1(void *(*start)(void), void (*stop)(void *pool)) {
    double idle_s = bu_scale < 1 ? 0.1 : 1.0;
    double cpu[BU_MAX_RUNS], sw[BU_MAX_RUNS];
    bu_workers = 4;
    for (int r = 0; r < bu_runs; r++) {
        void *pool = start();
        bu_sleep_s(0.05); /* let the workers go back to waiting */
        long s0, s1;
        double c0 = bu_cpu_s(&s0);
        bu_sleep_s(idle_s);
        double c1 = bu_cpu_s(&s1);
        cpu[r] = (c1 - c0) * 1e3 / idle_s;
        sw[r] = (double)(s1 - s0) / idle_s;
        stop(pool);
    }
    bu_emit("B-I1", "idle_cpu_ms_per_s", "ms CPU/s", "lower", 4, cpu, bu_runs);
    bu_emit("B-I1", "idle_ctx_switches_per_s", "switches/s", "lower", 4, sw, bu_runs);
}

#endif /* BENCH_UTIL_H */
