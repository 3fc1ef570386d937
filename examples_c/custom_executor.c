/* custom_executor: writing your own executor on promise-style futures.
 *
 * A "serial executor" runs jobs one at a time, in order, on a thread of its
 * own. It follows the executor side of the future contract:
 *   - submit creates a PENDING future (fut_future_new), keeps a reference of
 *     its own and hands one to the caller;
 *   - before running a job it calls fut_future_set_running_or_notify_cancel:
 *     false means the caller cancelled it while queued, so it is skipped;
 *   - it completes the future with fut_future_set_result (the future frees
 *     the value) or fut_future_set_exception, then drops its reference.
 * Everything else (waiting, callbacks, fut_wait, fut_as_completed) works on
 * these futures exactly as on a pool's.
 */
#include <futures.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*job_fn)(int64_t input, int64_t *output);

struct job {
    job_fn fn;
    int64_t input;
    fut_future *future; /* the executor's own reference */
    struct job *next;
};

struct serial_executor {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    bool shutdown;
    pthread_t thread;
};

static void *serial_worker(void *p) {
    struct serial_executor *ex = p;
    for (;;) {
        pthread_mutex_lock(&ex->mu);
        while (!ex->head && !ex->shutdown) pthread_cond_wait(&ex->cv, &ex->mu);
        struct job *job = ex->head;
        if (job) {
            ex->head = job->next;
            if (!ex->head) ex->tail = NULL;
        }
        pthread_mutex_unlock(&ex->mu);
        if (!job) return NULL; /* shut down and drained */

        /* No lock held from here on: callbacks run in the calls below. */
        if (fut_future_set_running_or_notify_cancel(job->future)) {
            int64_t out;
            int err = job->fn(job->input, &out);
            if (err == 0) {
                int64_t *value = malloc(sizeof *value);
                *value = out;
                if (fut_future_set_result(job->future, value, sizeof *value, free) != FUT_OK)
                    free(value); /* refused: still ours */
            } else {
                fut_future_set_exception(job->future, err, "job failed");
            }
        } /* else: cancelled while queued, skip it */
        fut_future_release(job->future);
        free(job);
    }
}

static int serial_start(struct serial_executor *ex) {
    pthread_mutex_init(&ex->mu, NULL);
    pthread_cond_init(&ex->cv, NULL);
    ex->head = ex->tail = NULL;
    ex->shutdown = false;
    return pthread_create(&ex->thread, NULL, serial_worker, ex);
}

static fut_status serial_submit(struct serial_executor *ex, job_fn fn, int64_t input,
                                fut_future **out) {
    struct job *job = malloc(sizeof *job);
    if (!job) return FUT_ERR_NO_MEMORY;
    fut_status st = fut_future_new(&job->future);
    if (st != FUT_OK) {
        free(job);
        return st;
    }
    job->fn = fn;
    job->input = input;
    job->next = NULL;
    pthread_mutex_lock(&ex->mu);
    if (ex->shutdown) {
        pthread_mutex_unlock(&ex->mu);
        fut_future_release(job->future);
        free(job);
        return FUT_ERR_SHUTDOWN;
    }
    *out = fut_future_retain(job->future); /* the caller's reference */
    if (ex->tail) ex->tail->next = job;
    else ex->head = job;
    ex->tail = job;
    pthread_cond_signal(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    return FUT_OK;
}

/* Finishes the queued jobs, then joins the thread. */
static void serial_shutdown(struct serial_executor *ex) {
    pthread_mutex_lock(&ex->mu);
    ex->shutdown = true;
    pthread_cond_signal(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    pthread_join(ex->thread, NULL);
    pthread_mutex_destroy(&ex->mu);
    pthread_cond_destroy(&ex->cv);
}

/* ---- using it ---------------------------------------------------------------- */

static int collatz_steps(int64_t n, int64_t *steps) {
    if (n < 1) return 22; /* EINVAL */
    int64_t s = 0;
    while (n != 1) {
        n = (n % 2) ? 3 * n + 1 : n / 2;
        s++;
    }
    *steps = s;
    return 0;
}

static void announce(fut_future *f, void *user) {
    const char *what = fut_future_cancelled(f) ? "cancelled" : "done";
    printf("  callback: job %d %s\n", (int)(intptr_t)user, what);
}

int main(void) {
    struct serial_executor ex;
    if (serial_start(&ex) != 0) return 1;

    enum { N = 6 };
    const int64_t inputs[N] = {27, 97, -5, 871, 6171, 77031};
    fut_future *fs[N];
    for (int i = 0; i < N; i++) {
        if (serial_submit(&ex, collatz_steps, inputs[i], &fs[i]) != FUT_OK) return 1;
        fut_future_add_done_callback(fs[i], announce, (void *)(intptr_t)i);
    }
    /* The last job may still be queued: cancelling it makes the executor
     * skip it (set_running_or_notify_cancel answers false). */
    bool cancelled = fut_future_cancel(fs[N - 1]);

    size_t n_done = 0;
    fut_wait(fs, N, 10LL * 1000000000, FUT_ALL_COMPLETED, NULL, &n_done);
    printf("fut_wait: %zu of %d done\n", n_done, N);

    int rc = n_done == N ? 0 : 1;
    for (int i = 0; i < N; i++) {
        void *value;
        fut_status st = fut_future_result(fs[i], 0, &value, NULL);
        if (st == FUT_OK) {
            printf("collatz(%" PRId64 ") takes %" PRId64 " steps\n", inputs[i], *(int64_t *)value);
        } else if (st == FUT_ERR_TASK_FAILED) {
            fut_error_info e;
            fut_future_exception(fs[i], 0, &e);
            printf("collatz(%" PRId64 ") failed: %s (code %d)\n", inputs[i], e.message, e.code);
        } else {
            printf("collatz(%" PRId64 "): %s\n", inputs[i], fut_status_str(st));
            if (!(st == FUT_ERR_CANCELLED && i == N - 1 && cancelled)) rc = 1;
        }
        fut_future_release(fs[i]);
    }
    serial_shutdown(&ex);
    return rc;
}
