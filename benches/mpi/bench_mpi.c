/* libfutures_mpi beside mpi4py.futures (benches/mpi/run.sh): the same
 * three workloads as bench_mpi4py.py. Run as
 *   mpirun -n 4 bench_mpi N_SMALL N_CHUNKED N_LARGE [PIPELINE]
 * and prints one line per workload: name, count, seconds, rate. */
#define _POSIX_C_SOURCE 200809L
#include <futures_mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int32_t echo(fut_task *t, const void *arg, size_t len) {
    void *v = malloc(len ? len : 1);
    if (!v) return 12;
    memcpy(v, arg, len);
    return fut_task_set_result(t, v, len, free);
}

static int32_t length(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    size_t *v = malloc(sizeof *v);
    if (!v) return 12;
    *v = len;
    return fut_task_set_result(t, v, sizeof *v, free);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define CHECK(x)                                                        \
    do {                                                                \
        if (!(x)) {                                                     \
            fprintf(stderr, "bench_mpi: %s failed (line %d)\n", #x, __LINE__); \
            exit(1);                                                    \
        }                                                               \
    } while (0)

static void wait_all(fut_future **fs, size_t n) {
    size_t done = 0;
    CHECK(fut_wait(fs, n, 600 * (int64_t)1000000000, FUT_ALL_COMPLETED, NULL, &done) == FUT_OK && done == n);
}

static void run(fut_executor *ex, size_t n_small, size_t n_chunked, size_t n_large) {
    char small[64];
    memset(small, 'x', sizeof small);
    size_t nmax = n_small > n_large ? n_small : n_large;
    fut_future **fs = calloc(nmax > 100 ? nmax : 100, sizeof *fs);
    CHECK(fs);
    for (int i = 0; i < 100; i++) CHECK(fut_executor_submit_named(ex, "echo", small, 64, NULL, &fs[i]) == FUT_OK);
    wait_all(fs, 100);
    for (int i = 0; i < 100; i++) fut_future_release(fs[i]);

    double t = now();
    for (size_t i = 0; i < n_small; i++)
        CHECK(fut_executor_submit_named(ex, "echo", small, 64, NULL, &fs[i]) == FUT_OK);
    wait_all(fs, n_small);
    double dt = now() - t;
    for (size_t i = 0; i < n_small; i++) {
        void *v;
        size_t len;
        CHECK(fut_future_result(fs[i], 0, &v, &len) == FUT_OK && len == 64 && memcmp(v, small, 64) == 0);
        fut_future_release(fs[i]);
    }
    printf("tasks_64B_unbatched %zu %.4f %.0f tasks/s\n", n_small, dt, (double)n_small / dt);

    fut_item *items = calloc(n_chunked, sizeof *items);
    CHECK(items);
    for (size_t i = 0; i < n_chunked; i++) items[i] = (fut_item){small, 64};
    t = now();
    fut_map *m = NULL;
    CHECK(fut_executor_map(ex, echo, items, n_chunked, -1, 256, &m) == FUT_OK);
    for (size_t i = 0; i < n_chunked; i++) {
        fut_future *f;
        CHECK(fut_map_next(m, &f) == FUT_OK);
        CHECK(fut_future_result(f, 0, NULL, NULL) == FUT_OK);
        fut_future_release(f);
    }
    dt = now() - t;
    fut_map_release(m);
    free(items);
    printf("tasks_64B_chunk256 %zu %.4f %.0f tasks/s\n", n_chunked, dt, (double)n_chunked / dt);

    size_t big_len = (size_t)1 << 20;
    char *big = malloc(big_len);
    CHECK(big);
    memset(big, 'y', big_len);
    t = now();
    for (size_t i = 0; i < n_large; i++)
        CHECK(fut_executor_submit_named(ex, "length", big, big_len, NULL, &fs[i]) == FUT_OK);
    wait_all(fs, n_large);
    dt = now() - t;
    for (size_t i = 0; i < n_large; i++) {
        void *v;
        CHECK(fut_future_result(fs[i], 0, &v, NULL) == FUT_OK && *(size_t *)v == big_len);
        fut_future_release(fs[i]);
    }
    printf("payload_1MiB %zu %.4f %.1f MiB/s\n", n_large, dt, (double)n_large / dt);
    free(big);
    free(fs);
}

int main(int argc, char **argv) {
    int provided, rank;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fut_register_task("echo", echo);
    fut_register_task("length", length);
    if (rank == 0) {
        fut_executor *ex = NULL;
        fut_mpi_pool_options o;
        fut_mpi_pool_options_init(&o);
        if (argc > 4) o.pipeline = strtoul(argv[4], NULL, 10); /* messages in flight per rank */
        CHECK(fut_mpi_pool_new(MPI_COMM_WORLD, &o, &ex) == FUT_OK);
        run(ex, argc > 1 ? strtoul(argv[1], NULL, 10) : 20000, argc > 2 ? strtoul(argv[2], NULL, 10) : 100000,
            argc > 3 ? strtoul(argv[3], NULL, 10) : 200);
        fut_executor_release(ex);
    } else {
        CHECK(fut_mpi_serve(MPI_COMM_WORLD) == FUT_OK);
    }
    MPI_Finalize();
    return 0;
}
