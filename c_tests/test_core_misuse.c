/* Misuse that is detectable is refused, not turned into corruption (F2, E1):
 * stale future handles after their slot was reused, two threads releasing the
 * last reference of one future at once, fut_future_set_running_or_notify_cancel
 * on a pool's future, and fut_task pointers that are not the calling task's. */
#include "process_pool_common.h"

/* ---- stale handles -------------------------------------------------------------------- */

/* F2: a released handle stays refused while its slot is reused (a 32-bit generation per
 * slot): 2,100 live futures later, every call through it is refused. */
TEST(F2_a_stale_handle_is_refused_after_its_slot_is_reused)
{
    enum { N = 2100 };
    fut_future *stale = NEW_FUTURE();
    fut_future_release(stale);
    static fut_future *live[N];
    for (int i = 0; i < N; i++) live[i] = NEW_FUTURE();
    for (int i = 0; i < N; i++) CHECK(live[i] != stale);
    CHECK_EQ(fut_future_state(stale), FUT_STATE_INVALID);
    CHECK_ST(fut_future_set_result(stale, NULL, 1, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_future_set_exception(stale, 1, "x"), FUT_ERR_INVALID_ARGUMENT);
    CHECK(fut_future_retain(stale) == NULL);
    CHECK(!fut_future_cancel(stale));
    fut_future_release(stale); /* ignored */
    for (int i = 0; i < N; i++) CHECK_EQ(fut_future_state(live[i]), FUT_STATE_PENDING);
    tu_release_all(live, N);
}

/* ---- racing releases ------------------------------------------------------------------- */

enum { RACE_N = 4000, RACERS = 3 };
static fut_future *race_fs[RACE_N];
static tu_barrier race_start;
static atomic_int race_drops;

static void *race_release_all(void *arg)
{
    (void)arg;
    BARRIER_WAIT(&race_start);
    for (int i = 0; i < RACE_N; i++) {
        fut_future_release(race_fs[i]);
        /* Reuse slots meanwhile: a slot freed twice would be handed out twice. */
        fut_future *g = NEW_FUTURE();
        fut_future_release(g);
    }
    return NULL;
}

/* F2: RACERS threads release the one reference of each of 4,000 futures at once: each
 * value is destroyed exactly once, and later futures get distinct, working handles. */
TEST(F2_racing_releases_of_the_last_reference_destroy_once)
{
    atomic_store(&race_drops, 0);
    for (int i = 0; i < RACE_N; i++) {
        race_fs[i] = NEW_FUTURE();
        CHECK_OK(fut_future_set_result(race_fs[i], tu_value_new(&race_drops, i), 1, tu_value_drop));
    }
    tu_barrier_init(&race_start, RACERS);
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++) t[i] = SPAWN(race_release_all, NULL);
    for (int i = 0; i < RACERS; i++) JOIN(t[i]);
    tu_barrier_destroy(&race_start);
    CHECK_EQ(atomic_load(&race_drops), RACE_N);

    /* Every slot is whole: new futures are distinct and hold what was put in them. */
    static fut_future *fresh[RACE_N];
    for (int i = 0; i < RACE_N; i++) {
        fresh[i] = NEW_FUTURE();
        CHECK_OK(fut_future_set_result(fresh[i], NULL, (size_t)i, NULL));
    }
    for (int i = 0; i < RACE_N; i++) {
        size_t len = 0;
        CHECK_OK(fut_future_result(fresh[i], 0, NULL, &len));
        CHECK_EQ(len, i);
    }
    tu_release_all(fresh, RACE_N);
}

/* ---- executor-owned futures ---------------------------------------------------------- */

static tu_latch started, gate;

static int32_t block_then_succeed(fut_task *t, const void *arg, size_t len)
{
    (void)t;
    (void)arg;
    (void)len;
    tu_latch_count_down(&started);
    LATCH_WAIT(&gate);
    return 0;
}

static int32_t succeed(fut_task *t, const void *arg, size_t len)
{
    (void)t;
    (void)arg;
    (void)len;
    return 0;
}

/* E1: a pool's future cannot be started from outside: the call answers false and leaves
 * the future to its pool, which runs the task as usual. */
TEST(E1_set_running_refuses_a_thread_pool_future)
{
    tu_latch_init(&started, 1);
    tu_latch_init(&gate, 1);
    fut_thread_pool_options o;
    fut_thread_pool_options_init(&o);
    o.max_workers = 1;
    fut_executor *ex = NULL;
    CHECK_OK(fut_thread_pool_new(&o, &ex));
    fut_future *running = NULL, *queued = NULL;
    CHECK_OK(fut_executor_submit(ex, block_then_succeed, NULL, 0, NULL, &running));
    LATCH_WAIT(&started);
    CHECK_OK(fut_executor_submit(ex, succeed, NULL, 0, NULL, &queued));
    tu_log_capture cap;
    tu_log_capture_init(&cap);
    fut_set_log_hook(tu_log_capture_fn, &cap);
    CHECK(!fut_future_set_running_or_notify_cancel(queued));
    CHECK_EQ(fut_future_state(queued), FUT_STATE_PENDING);
    CHECK(!fut_future_set_running_or_notify_cancel(running));
    CHECK_EQ(fut_future_state(running), FUT_STATE_RUNNING);
    fut_set_log_hook(NULL, NULL);
    CHECK_EQ(tu_log_capture_count(&cap), 2);
    CHECK(tu_log_capture_last_contains(&cap, "belongs to its executor"));
    tu_log_capture_destroy(&cap);
    tu_latch_count_down(&gate);
    CHECK_OK(fut_future_result(running, TU_LONG_TIMEOUT_NS, NULL, NULL));
    CHECK_OK(fut_future_result(queued, TU_LONG_TIMEOUT_NS, NULL, NULL));
    fut_future_release(running);
    fut_future_release(queued);
    fut_executor_release(ex);
    tu_latch_destroy(&started);
    tu_latch_destroy(&gate);
}

/* E1, X-pools alike: a process pool's future is refused too and still completes. */
TEST(E1_set_running_refuses_a_process_pool_future)
{
    fut_executor *ex = pp_pool(1, FUT_START_FORKSERVER, FUT_CRASH_BREAK_POOL);
    fut_future *f = pp_submit(ex, pp_echo, "ab", 2);
    tu_log_capture cap;
    tu_log_capture_init(&cap);
    fut_set_log_hook(tu_log_capture_fn, &cap);
    CHECK(!fut_future_set_running_or_notify_cancel(f));
    fut_set_log_hook(NULL, NULL);
    CHECK_EQ(tu_log_capture_count(&cap), 1);
    tu_log_capture_destroy(&cap);
    pp_expect_bytes(f, "ab", 2);
    fut_future_release(f);
    fut_executor_release(ex);
}

/* ---- fut_task pointers --------------------------------------------------------------- */

static fut_task *volatile saved_task;
static atomic_int task_drops;
/* Values set by the tasks (a process pool copies their bytes). */
static char five[5] = "five", seven[7] = "seven!";

static int32_t save_task_and_wait(fut_task *t, const void *arg, size_t len)
{
    (void)arg;
    (void)len;
    saved_task = t;
    tu_latch_count_down(&started);
    LATCH_WAIT(&gate);
    return fut_task_set_result(t, five, sizeof five, NULL) == FUT_OK ? 0 : 1;
}

/* Uses the previous task's pointer on the same worker thread: it must be refused. */
static int32_t use_saved_task(fut_task *t, const void *arg, size_t len)
{
    (void)arg;
    (void)len;
    int bad = 0;
    if (fut_task_set_result(saved_task, five, 2, NULL) != FUT_ERR_INVALID_ARGUMENT) bad |= 1;
    if (fut_task_set_error(saved_task, 3, "stale") != FUT_ERR_INVALID_ARGUMENT) bad |= 2;
    char garbage[64];
    memset(garbage, 0xab, sizeof garbage);
    if (fut_task_set_result((fut_task *)garbage, five, 1, NULL) != FUT_ERR_INVALID_ARGUMENT)
        bad |= 4;
    if (fut_task_set_result(t, seven, sizeof seven, NULL) != FUT_OK) bad |= 8;
    return bad;
}

static size_t result_len(fut_future *f)
{
    size_t len = 0;
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, &len));
    return len;
}

/* E1: a fut_task pointer works only on its task's thread during the task: from another
 * thread, after the task returned, in the next task of the same worker, or made up, it is
 * refused (never dereferenced) and its value's destructor is not run. */
TEST(E1_foreign_stale_and_garbage_task_pointers_are_refused_in_a_thread_pool)
{
    tu_latch_init(&started, 1);
    tu_latch_init(&gate, 1);
    atomic_store(&task_drops, 0);
    fut_thread_pool_options o;
    fut_thread_pool_options_init(&o);
    o.max_workers = 1;
    fut_executor *ex = NULL;
    CHECK_OK(fut_thread_pool_new(&o, &ex));
    fut_future *f = NULL;
    CHECK_OK(fut_executor_submit(ex, save_task_and_wait, NULL, 0, NULL, &f));
    LATCH_WAIT(&started);
    /* Another thread, while the task runs. */
    tu_value *v = tu_value_new(&task_drops, 1);
    CHECK_ST(fut_task_set_result(saved_task, v, 1, tu_value_drop), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_task_set_error(saved_task, 1, "x"), FUT_ERR_INVALID_ARGUMENT);
    CHECK(!fut_task_cancel_requested(saved_task));
    tu_latch_count_down(&gate);
    CHECK_EQ(result_len(f), 5);
    fut_future_release(f);
    /* After the task returned. */
    CHECK_ST(fut_task_set_result(saved_task, v, 1, tu_value_drop), FUT_ERR_INVALID_ARGUMENT);
    /* Made up: a buffer, NULL, a small integer. */
    char *buf = (char *)malloc(256);
    CHECK(buf != NULL);
    memset(buf, 0, 256);
    CHECK_ST(fut_task_set_result((fut_task *)buf, v, 1, tu_value_drop), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_task_set_error((fut_task *)buf, 1, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK(!fut_task_cancel_requested((fut_task *)buf));
    CHECK_ST(fut_task_set_result(NULL, v, 1, tu_value_drop), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_task_set_result((fut_task *)(uintptr_t)8, v, 1, tu_value_drop),
             FUT_ERR_INVALID_ARGUMENT);
    free(buf);
    CHECK_EQ(atomic_load(&task_drops), 0);
    tu_value_drop(v);
    /* The next task on the same worker thread, with the previous task's pointer. */
    CHECK_OK(fut_executor_submit(ex, use_saved_task, NULL, 0, NULL, &f));
    CHECK_EQ(result_len(f), 7);
    fut_future_release(f);
    fut_executor_release(ex);
    tu_latch_destroy(&started);
    tu_latch_destroy(&gate);
}

static int32_t save_task(fut_task *t, const void *arg, size_t len)
{
    (void)arg;
    (void)len;
    saved_task = t;
    return fut_task_set_result(t, five, sizeof five, NULL) == FUT_OK ? 0 : 1;
}

/* X-pools: the same check in a process pool's worker: the worker's previous task pointer
 * and a made-up one are refused there. */
TEST(E1_stale_and_garbage_task_pointers_are_refused_in_a_process_pool)
{
    fut_start_method methods[2] = {FUT_START_FORK, FUT_START_FORKSERVER};
    for (int m = 0; m < 2; m++) {
        fut_executor *ex = pp_pool(1, methods[m], FUT_CRASH_BREAK_POOL);
        fut_future *f = pp_submit(ex, save_task, NULL, 0);
        CHECK_EQ(result_len(f), 5);
        fut_future_release(f);
        f = pp_submit(ex, use_saved_task, NULL, 0);
        void *v = NULL;
        size_t len = 0;
        fut_status s = fut_future_result(f, TU_LONG_TIMEOUT_NS, &v, &len);
        if (s != FUT_OK) {
            fut_error_info e;
            CHECK_OK(fut_future_exception(f, 0, &e));
            CHECK_MSG(false, "task failed with code %d (bits: 1 stale result, 2 stale error, "
                             "4 garbage, 8 own)", e.code);
        }
        CHECK_EQ(len, 7);
        fut_future_release(f);
        fut_executor_release(ex);
    }
}

int main(int argc, char **argv)
{
    return tu_main(argc, argv);
}
