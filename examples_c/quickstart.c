/* quickstart: promise-style futures completed by a few pthreads, gathered with
 * fut_as_completed (in completion order) and fut_wait (all at once).
 *
 * Each worker thread "computes" the sum 1..n for its input and completes its
 * future with a heap-allocated result (freed by the future) or, for a bad
 * input, with an error.
 */
#include <futures.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define N_JOBS 4

struct job {
    fut_future *future; /* the worker's own reference */
    int64_t n;
};

static void *worker(void *p) {
    struct job *job = p;
    if (job->n < 0) {
        fut_future_set_exception(job->future, 22, "negative input");
    } else {
        int64_t *sum = malloc(sizeof *sum);
        *sum = job->n * (job->n + 1) / 2;
        fut_future_set_result(job->future, sum, sizeof *sum, free);
    }
    fut_future_release(job->future);
    return NULL;
}

static void on_done(fut_future *f, void *user) {
    (void)f;
    printf("  callback: job %d is done\n", (int)(intptr_t)user);
}

int main(void) {
    printf("libfutures %s quickstart\n", fut_version());
    const int64_t inputs[N_JOBS] = {10, 1000, -1, 100000};
    fut_future *futures[N_JOBS];
    struct job jobs[N_JOBS];
    pthread_t threads[N_JOBS];

    for (int i = 0; i < N_JOBS; i++) {
        if (fut_future_new(&futures[i]) != FUT_OK) return 1;
        fut_future_add_done_callback(futures[i], on_done, (void *)(intptr_t)i);
        jobs[i].future = fut_future_retain(futures[i]);
        jobs[i].n = inputs[i];
        pthread_create(&threads[i], NULL, worker, &jobs[i]);
    }

    /* Results in the order they complete, with one 10 s deadline for all. */
    fut_as_completed *it;
    if (fut_as_completed_new(futures, N_JOBS, 10LL * 1000000000, &it) != FUT_OK) return 1;
    size_t index;
    fut_future *f;
    fut_status st;
    while ((st = fut_as_completed_next(it, &index, &f)) == FUT_OK) {
        void *value;
        fut_status r = fut_future_result(f, 0, &value, NULL);
        if (r == FUT_OK) {
            printf("job %zu: sum(1..%" PRId64 ") = %" PRId64 "\n", index, inputs[index],
                   *(int64_t *)value);
        } else {
            fut_error_info err;
            fut_future_exception(f, 0, &err);
            printf("job %zu failed: %s (code %d, %s)\n", index, err.message, err.code,
                   fut_status_str(r));
        }
        fut_future_release(f);
    }
    fut_as_completed_release(it);
    if (st != FUT_END) {
        printf("as_completed stopped early: %s\n", fut_status_str(st));
        return 1;
    }

    /* Everything is done now: fut_wait returns at once. */
    uint8_t done[N_JOBS];
    size_t n_done;
    fut_wait(futures, N_JOBS, 0, FUT_ALL_COMPLETED, done, &n_done);
    printf("fut_wait: %zu of %d futures done\n", n_done, N_JOBS);

    for (int i = 0; i < N_JOBS; i++) {
        pthread_join(threads[i], NULL);
        fut_future_release(futures[i]);
    }
    return n_done == N_JOBS ? 0 : 1;
}
