/* A libuv loop learns of completed futures through the completion queue:
 * uv_poll watches the queue's descriptor, and the poll callback drains it on
 * the loop's own thread. No library thread ever calls into the loop.
 *
 * A thread pool runs N tasks; each future is attached with its index as the
 * tag. The program checks that every index arrives exactly once, on the
 * loop's thread, then stops the loop and exits 0. A 30 s uv timer turns a
 * lost completion into a failure instead of a hang.
 */
#include <futures.h>
#include <uv.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N_TASKS 1000

struct app {
    fut_completion_queue *queue;
    uv_poll_t poll;
    uv_timer_t deadline;
    unsigned char seen[N_TASKS];
    size_t received;
    pthread_t loop_thread;
    int failed;
};

static int32_t square(fut_task *task, const void *arg, size_t len) {
    (void)len;
    uintptr_t i = (uintptr_t)arg;
    return fut_task_set_result(task, (void *)(i * i), 0, NULL) == FUT_OK ? 0 : 1;
}

static void stop(struct app *app) {
    uv_poll_stop(&app->poll);
    uv_timer_stop(&app->deadline);
    uv_close((uv_handle_t *)&app->poll, NULL);
    uv_close((uv_handle_t *)&app->deadline, NULL);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
    struct app *app = poll->data;
    (void)events;
    if (status < 0 || !pthread_equal(pthread_self(), app->loop_thread)) {
        app->failed = 1;
        stop(app);
        return;
    }
    fut_completion batch[64];
    size_t n = 0;
    if (fut_completion_queue_drain(app->queue, batch, 64, &n) != FUT_OK) app->failed = 1;
    for (size_t k = 0; k < n; k++) {
        size_t i = (size_t)(uintptr_t)batch[k].user;
        void *value = NULL;
        if (i >= N_TASKS || app->seen[i] ||
            fut_future_result(batch[k].future, 0, &value, NULL) != FUT_OK ||
            (uintptr_t)value != (uintptr_t)i * i)
            app->failed = 1;
        else
            app->seen[i] = 1;
        fut_future_release(batch[k].future);
    }
    app->received += n;
    if (app->received == N_TASKS || app->failed) stop(app);
}

static void on_deadline(uv_timer_t *timer) {
    struct app *app = timer->data;
    fprintf(stderr, "only %zu of %d completions arrived\n", app->received, N_TASKS);
    app->failed = 1;
    stop(app);
}

int main(void) {
    static struct app app;
    uv_loop_t *loop = uv_default_loop();
    app.loop_thread = pthread_self();
    if (fut_completion_queue_new(&app.queue) != FUT_OK) return 1;
    uv_poll_init(loop, &app.poll, fut_completion_queue_fd(app.queue));
    app.poll.data = &app;
    uv_poll_start(&app.poll, UV_READABLE, on_readable);
    uv_timer_init(loop, &app.deadline);
    app.deadline.data = &app;
    uv_timer_start(&app.deadline, on_deadline, 30000, 0);

    fut_executor *pool = NULL;
    if (fut_thread_pool_new(NULL, &pool) != FUT_OK) return 1;
    for (uintptr_t i = 0; i < N_TASKS; i++) {
        fut_future *f = NULL;
        if (fut_executor_submit(pool, square, (void *)i, 0, NULL, &f) != FUT_OK) return 1;
        fut_completion_queue_attach(app.queue, f, (void *)i);
        fut_future_release(f); /* the queue holds its own reference */
    }

    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    fut_executor_release(pool);
    fut_completion_queue_release(app.queue);
    printf("libuv loop received %zu of %d completions%s\n", app.received, N_TASKS,
           app.failed ? " (FAILED)" : "");
    return app.failed || app.received != N_TASKS;
}
