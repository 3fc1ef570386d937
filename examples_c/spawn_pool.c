/* spawn_pool: a process pool whose workers are new processes, not forks.
 *
 * FUT_START_SPAWN starts each worker with posix_spawn of this very program
 * (/proc/self/exe). So main() registers the tasks by name, then calls
 * fut_worker_entry first thing: in the host it returns at once; in a worker
 * it never returns, and the worker runs tasks by name until the pool lets
 * it go. Safe in a host whose other threads hold locks (here: a thread
 * holding a mutex the whole time the pool runs), where forking would not be.
 */
#include <futures.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Result: the length of the argument's text, and the pid that counted it. */
static int32_t measure(fut_task *task, const void *arg, size_t len) {
    int32_t *out = malloc(2 * sizeof *out);
    if (!out) return 1;
    out[0] = (int32_t)strnlen((const char *)arg, len);
    out[1] = (int32_t)getpid();
    return fut_task_set_result(task, out, 2 * sizeof *out, free);
}

/* A host thread holding a lock while the pool starts its workers. */
static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done;

static void *hold_lock(void *unused) {
    (void)unused;
    pthread_mutex_lock(&busy);
    pthread_mutex_lock(&done_lock);
    while (!done) pthread_cond_wait(&done_cond, &done_lock);
    pthread_mutex_unlock(&done_lock);
    pthread_mutex_unlock(&busy);
    return NULL;
}

int main(int argc, char **argv) {
    /* 1. Register every task, 2. enter: a worker never comes back. */
    if (fut_register_task("measure", measure) != FUT_OK) return 1;
    if (fut_worker_entry(argc, argv) != FUT_OK) return 1;

    pthread_t holder;
    pthread_create(&holder, NULL, hold_lock, NULL);

    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.start_method = FUT_START_SPAWN;
    o.max_workers = 2;
    fut_executor *pool;
    fut_status st = fut_process_pool_new(&o, &pool);
    if (st != FUT_OK) {
        fprintf(stderr, "cannot create the pool: %s\n", fut_status_str(st));
        return 1;
    }
    const char *words[] = {"spawn", "is", "safe", "with", "threads"};
    fut_future *fs[5] = {NULL};
    int ok = 1;
    for (int i = 0; ok && i < 5; i++) { /* by name, or by the registered pointer */
        size_t len = strlen(words[i]) + 1;
        st = i % 2 ? fut_executor_submit(pool, measure, words[i], len, NULL, &fs[i])
                   : fut_executor_submit_named(pool, "measure", words[i], len, NULL, &fs[i]);
        ok = st == FUT_OK;
    }
    for (int i = 0; ok && i < 5; i++) {
        void *v;
        if (fut_future_result(fs[i], 30000000000LL, &v, NULL) != FUT_OK) {
            ok = 0;
            break;
        }
        const int32_t *r = v;
        printf("%-8s %d letters (worker %d, host %d)\n", words[i], r[0], r[1], (int)getpid());
        ok = r[1] != (int32_t)getpid();
    }
    for (int i = 0; i < 5; i++)
        if (fs[i]) fut_future_release(fs[i]);
    fut_executor_release(pool); /* shutdown(wait): workers exit and are reaped */

    pthread_mutex_lock(&done_lock);
    done = 1;
    pthread_cond_signal(&done_cond);
    pthread_mutex_unlock(&done_lock);
    pthread_join(holder, NULL);
    return ok ? 0 : 1;
}
