/* Custom executors (M1-M3): fut_executor_new_custom hands the tasks to a
 * vtable, by registered name, and every fut_executor call works on the
 * handle. The executor here records what it gets and completes the futures
 * when the test says so, on the test's thread. */
#include "test_util.h"

enum { CAP = 256 };

struct recorder {
    pthread_mutex_t mu;
    fut_custom_task tasks[CAP];
    char names[CAP][FUT_TASK_NAME_MAX + 1];
    size_t n;
    size_t calls, last_n, last_chunksize;
    int refuse;       /* status to answer, 0: accept */
    int shutdowns, last_wait, last_cancel, destroyed;
    int stopped;
};

static fut_status rec_submit(void *user, const fut_custom_task *ts, size_t n, size_t chunksize) {
    struct recorder *r = user;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->last_n = n;
    r->last_chunksize = chunksize;
    fut_status st = r->stopped ? FUT_ERR_SHUTDOWN : r->refuse;
    for (size_t i = 0; st == FUT_OK && i < n; i++) {
        if (!ts[i].name) {
            st = FUT_ERR_NOT_REGISTERED;
            break;
        }
    }
    if (st == FUT_OK && r->n + n > CAP) st = FUT_ERR_QUEUE_FULL;
    if (st == FUT_OK) {
        for (size_t i = 0; i < n; i++) {
            r->tasks[r->n] = ts[i];
            snprintf(r->names[r->n], sizeof r->names[0], "%s", ts[i].name);
            r->tasks[r->n].name = r->names[r->n];
            r->n++;
        }
    } else if (n == 1 && !ts[0].name) {
        /* recorded for the test: an unregistered function comes as NULL */
        snprintf(r->names[CAP - 1], sizeof r->names[0], "(null)");
    }
    pthread_mutex_unlock(&r->mu);
    return st;
}

static fut_status rec_shutdown(void *user, bool wait, bool cancel_futures) {
    struct recorder *r = user;
    pthread_mutex_lock(&r->mu);
    r->shutdowns++;
    r->stopped = 1;
    r->last_wait = wait;
    r->last_cancel = cancel_futures;
    pthread_mutex_unlock(&r->mu);
    return FUT_OK;
}

static void rec_destroy(void *user) {
    ((struct recorder *)user)->destroyed++;
}

static const fut_custom_executor_vtable VT = {rec_submit, rec_shutdown, rec_destroy};

/* Completes task i with a copy of its argument, if it was not cancelled. */
static bool run_one(struct recorder *r, size_t i) {
    fut_custom_task *t = &r->tasks[i];
    bool ran = fut_future_set_running_or_notify_cancel(t->future);
    if (ran) {
        void *v = malloc(t->arg_len ? t->arg_len : 1);
        memcpy(v, t->arg, t->arg_len);
        CHECK_OK(fut_future_set_result(t->future, v, t->arg_len, free));
    }
    if (t->arg_drop) t->arg_drop((void *)t->arg);
    fut_future_release(t->future);
    return ran;
}

static int32_t task_echo(fut_task *t, const void *arg, size_t len) {
    (void)t, (void)arg, (void)len;
    return 0;
}

static int32_t task_unregistered(fut_task *t, const void *arg, size_t len) {
    (void)t, (void)arg, (void)len;
    return 0;
}

static struct recorder *rec_new(fut_executor **ex) {
    struct recorder *r = calloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    CHECK_OK(fut_executor_new_custom(&VT, r, ex));
    return r;
}

static void rec_free(struct recorder *r) {
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static atomic_int drops;
static void count_drop(void *p) {
    free(p);
    atomic_fetch_add(&drops, 1);
}

/* M1, M2: a named submit reaches the vtable with the name, the caller's
 * pointer (no copy) and arg_drop; the promise calls complete it. */
TEST(submit_reaches_the_vtable_by_name) {
    CHECK_OK(fut_register_task("custom.echo", task_echo));
    fut_executor *ex = NULL;
    struct recorder *r = rec_new(&ex);
    char *arg = strdup("hello");
    fut_future *f = NULL;
    CHECK_OK(fut_executor_submit_named(ex, "custom.echo", arg, 6, count_drop, &f));
    CHECK_EQ(r->calls, (size_t)1);
    CHECK_EQ(r->last_n, (size_t)1);
    CHECK_EQ(r->last_chunksize, (size_t)1);
    CHECK_STR_EQ(r->names[0], "custom.echo");
    CHECK_PTR_EQ(r->tasks[0].arg, arg);
    CHECK(r->tasks[0].arg_drop == count_drop);
    CHECK(r->tasks[0].func == task_echo);
    CHECK_EQ(fut_future_state(f), FUT_STATE_PENDING);
    CHECK(run_one(r, 0));
    void *v = NULL;
    size_t len = 0;
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, &v, &len));
    CHECK_EQ(len, (size_t)6);
    CHECK_STR_EQ((char *)v, "hello");
    CHECK_EQ(atomic_load(&drops), 1);
    fut_future_release(f);
    fut_executor_release(ex);
    CHECK_EQ(r->destroyed, 1);
    rec_free(r);
}

/* M2: an unregistered function arrives without a name; a refusal is the
 * caller's status, its argument untouched and no future leaked. */
TEST(refusal_keeps_the_argument) {
    fut_executor *ex = NULL;
    struct recorder *r = rec_new(&ex);
    char *arg = strdup("x");
    fut_future *f = NULL;
    CHECK_ST(fut_executor_submit(ex, task_unregistered, arg, 2, count_drop, &f), FUT_ERR_NOT_REGISTERED);
    CHECK_STR_EQ(r->names[CAP - 1], "(null)");
    CHECK_PTR_EQ(f, NULL);
    r->refuse = FUT_ERR_QUEUE_FULL;
    CHECK_ST(fut_executor_submit(ex, task_echo, arg, 2, count_drop, &f), FUT_ERR_QUEUE_FULL);
    CHECK_EQ(atomic_load(&drops), 1); /* only the first test's */
    free(arg);
    fut_stats st;
    CHECK_ST(fut_executor_stats(ex, &st), FUT_ERR_INVALID_ARGUMENT); /* no flow control */
    fut_executor_release(ex);
    rec_free(r);
}

/* M3: a map reaches the vtable as one call with its chunksize; results
 * come back in input order whatever order the executor completes them. */
TEST(map_is_one_call_with_its_chunksize) {
    fut_executor *ex = NULL;
    struct recorder *r = rec_new(&ex);
    int args[10];
    fut_item items[10];
    for (int i = 0; i < 10; i++) {
        args[i] = i;
        items[i] = (fut_item){&args[i], sizeof args[i]};
    }
    fut_map *m = NULL;
    CHECK_OK(fut_executor_map(ex, task_echo, items, 10, TU_LONG_TIMEOUT_NS, 3, &m));
    CHECK_EQ(r->calls, (size_t)1);
    CHECK_EQ(r->last_n, (size_t)10);
    CHECK_EQ(r->last_chunksize, (size_t)3);
    for (int i = 9; i >= 0; i--) CHECK(run_one(r, (size_t)i));
    for (int i = 0; i < 10; i++) {
        fut_future *f = NULL;
        void *v = NULL;
        CHECK_OK(fut_map_next(m, &f));
        CHECK_OK(fut_future_result(f, 0, &v, NULL));
        CHECK_EQ(*(int *)v, i);
        fut_future_release(f);
    }
    fut_map_release(m);
    fut_executor_release(ex);
    rec_free(r);
}

/* M1: a future cancelled while the executor holds it is skipped. */
TEST(cancelled_futures_are_skipped) {
    fut_executor *ex = NULL;
    struct recorder *r = rec_new(&ex);
    fut_future *f = NULL;
    CHECK_OK(fut_executor_submit(ex, task_echo, "a", 1, NULL, &f));
    CHECK(fut_future_cancel(f));
    CHECK(!run_one(r, 0));
    CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_ERR_CANCELLED);
    fut_future_release(f);
    fut_executor_release(ex);
    rec_free(r);
}

/* M1: shutdown is passed through; the last release shuts down with wait
 * and then destroys, once. */
TEST(shutdown_and_release) {
    fut_executor *ex = NULL;
    struct recorder *r = rec_new(&ex);
    CHECK_OK(fut_executor_shutdown(ex, false, true));
    CHECK_EQ(r->shutdowns, 1);
    CHECK_EQ(r->last_wait, 0);
    CHECK_EQ(r->last_cancel, 1);
    fut_future *f = NULL;
    CHECK_ST(fut_executor_submit(ex, task_echo, NULL, 0, NULL, &f), FUT_ERR_SHUTDOWN);
    fut_executor *again = fut_executor_retain(ex);
    fut_executor_release(ex);
    CHECK_EQ(r->destroyed, 0);
    fut_executor_release(again);
    CHECK_EQ(r->shutdowns, 2);
    CHECK_EQ(r->last_wait, 1);
    CHECK_EQ(r->last_cancel, 0);
    CHECK_EQ(r->destroyed, 1);
    rec_free(r);
}

/* M1: a vtable without submit or shutdown is refused, destroy not called. */
TEST(incomplete_vtable_is_refused) {
    struct recorder r = {0};
    fut_executor *ex = NULL;
    fut_custom_executor_vtable vt = {NULL, rec_shutdown, rec_destroy};
    CHECK_ST(fut_executor_new_custom(&vt, &r, &ex), FUT_ERR_INVALID_ARGUMENT);
    vt = (fut_custom_executor_vtable){rec_submit, NULL, rec_destroy};
    CHECK_ST(fut_executor_new_custom(&vt, &r, &ex), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_new_custom(NULL, &r, &ex), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_executor_new_custom(&VT, &r, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_EQ(r.destroyed, 0);
    CHECK_PTR_EQ(ex, NULL);
}

static int32_t task_twice(fut_task *t, const void *arg, size_t len) {
    if (len != sizeof(int)) {
        fut_task_set_error(t, 22, "wants an int");
        return 22;
    }
    int *v = malloc(sizeof *v);
    *v = 2 * *(const int *)arg;
    return fut_task_set_result(t, v, sizeof *v, free);
}

/* M12: a task runs inline on a RUNNING promise, with a real task context. */
TEST(task_runs_inline_on_a_running_promise) {
    CHECK_OK(fut_register_task("custom.twice", task_twice));
    fut_future *f = NULL;
    int x = 21;
    CHECK_OK(fut_future_new(&f));
    CHECK_ST(fut_task_run(f, task_twice, &x, sizeof x), FUT_ERR_INVALID_STATE); /* PENDING */
    CHECK_EQ(fut_future_state(f), FUT_STATE_PENDING);
    CHECK(fut_future_set_running_or_notify_cancel(f));
    CHECK_OK(fut_task_run(f, task_twice, &x, sizeof x));
    void *v = NULL;
    CHECK_OK(fut_future_result(f, 0, &v, NULL));
    CHECK_EQ(*(int *)v, 42);
    CHECK_ST(fut_task_run(f, task_twice, &x, sizeof x), FUT_ERR_INVALID_STATE); /* done */
    fut_future_release(f);

    CHECK_OK(fut_future_new(&f));
    CHECK(fut_future_set_running_or_notify_cancel(f));
    CHECK_ST(fut_task_run_named(f, "custom.nobody", &x, sizeof x), FUT_ERR_NOT_REGISTERED);
    CHECK_EQ(fut_future_state(f), FUT_STATE_RUNNING);
    CHECK_OK(fut_task_run_named(f, "custom.twice", "abc", 3));
    fut_error_info e;
    CHECK_OK(fut_future_exception(f, 0, &e));
    CHECK_EQ(e.kind, FUT_ERR_TASK_FAILED);
    CHECK_EQ(e.code, 22);
    CHECK_STR_EQ(e.message, "wants an int");
    fut_future_release(f);

    /* A pool's future belongs to its pool. */
    fut_executor *pool = NULL;
    CHECK_OK(fut_thread_pool_new(NULL, &pool));
    CHECK_OK(fut_executor_submit(pool, task_twice, &x, sizeof x, NULL, &f));
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL));
    CHECK_ST(fut_task_run(f, task_twice, &x, sizeof x), FUT_ERR_INVALID_STATE);
    fut_future_release(f);
    fut_executor_release(pool);
}

int main(int argc, char **argv) {
    return tu_main(argc, argv);
}
