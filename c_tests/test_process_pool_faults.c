/* Process pool under faults found by an adversarial run: a worker that dies
 * between tasks, a stopped fork server, a large queue at shutdown, a pool
 * handle used in a forked process, cancel_futures seen right after the call.
 * Each test names the behaviour it checks. */
#include "spawn_common.h"
#include <fcntl.h>
#include <sys/resource.h>

static const fut_start_method METHODS[3] = {FUT_START_FORK, FUT_START_FORKSERVER,
                                            FUT_START_SPAWN};
static const char *method_name(fut_start_method m) {
    return m == FUT_START_FORK ? "fork" : m == FUT_START_SPAWN ? "spawn" : "forkserver";
}

/* pp_pool, but a spawn pool's workers adopt the test's pipes (N5). */
static fut_executor *pool_of(size_t workers, fut_start_method m, fut_crash_policy policy) {
    return m == FUT_START_SPAWN ? spawn_pool(workers, policy) : pp_pool(workers, m, policy);
}

/* ---- only a started task is charged with its worker's death (B1, X12) ---- */

/* Closes every descriptor of the worker (its pipes too) and succeeds: the
 * worker then ends (exit status 5, its call pipe is gone) before it can
 * start the next task. */
static int32_t close_every_fd(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    struct rlimit rl;
    int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
    for (int fd = 0; fd < max; fd++) close(fd);
    return 0;
}

/* FUT_CRASH_FAIL_TASK: the task sent to a worker that died before starting
 * it is not failed: it runs on the replacement. */
static void test_unstarted_task_runs_elsewhere(fut_start_method m) {
    fut_executor *ex = pool_of(1, m, FUT_CRASH_FAIL_TASK);
    for (int round = 0; round < 5; round++) {
        fut_future *a = pp_submit(ex, close_every_fd, NULL, 0);
        fut_future *b = pp_submit(ex, pp_echo, "next", 5);
        void *v;
        CHECK_ST(fut_future_result(a, TU_LONG_TIMEOUT_NS, &v, NULL), FUT_OK);
        pp_expect_bytes(b, "next", 5);
        fut_future_release(a);
        fut_future_release(b);
    }
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
    fut_executor_release(ex);
}

/* ---- shutdown(wait=true) is linear in queued work (E3, P12) ---------------- */

static int32_t noop(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    return 0;
}

/* N no-op tasks on one worker: draining them through shutdown(wait=true)
 * takes about as long as draining them through fut_wait (it was quadratic:
 * 40k took 3.7 s to 10 s against 0.4 s). */
static void test_shutdown_drain_is_linear(fut_start_method m) {
    size_t n = tu_scaled(60000, 2000);
    fut_future **fs = (fut_future **)malloc(n * sizeof *fs);
    CHECK(fs != NULL);
    fut_executor *ex = pool_of(1, m, FUT_CRASH_BREAK_POOL);
    int64_t t0 = tu_now_ns();
    for (size_t i = 0; i < n; i++) fs[i] = pp_submit(ex, noop, NULL, 0);
    CHECK_ST(fut_wait(fs, n, TU_LONG_TIMEOUT_NS, FUT_ALL_COMPLETED, NULL, NULL), FUT_OK);
    int64_t through_wait = tu_now_ns() - t0;
    for (size_t i = 0; i < n; i++) fut_future_release(fs[i]);
    t0 = tu_now_ns();
    for (size_t i = 0; i < n; i++) fs[i] = pp_submit(ex, noop, NULL, 0);
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
    int64_t through_shutdown = tu_now_ns() - t0;
    for (size_t i = 0; i < n; i++) {
        CHECK(fut_future_state(fs[i]) == FUT_STATE_FINISHED);
        fut_future_release(fs[i]);
    }
    fut_executor_release(ex);
    free(fs);
    printf("# %zu tasks: %.2f s through shutdown, %.2f s through fut_wait\n", n,
           (double)through_shutdown / 1e9, (double)through_wait / 1e9);
    CHECK_MSG(through_shutdown < 3 * through_wait + 2 * TU_SEC,
              "%zu tasks: %.2f s through shutdown, %.2f s through fut_wait", n,
              (double)through_shutdown / 1e9, (double)through_wait / 1e9);
}

/* ---- a stopped fork server stalls neither the pool nor shutdown (X13) ---- */

/* Result = the parent's pid (the fork server, for its workers). */
static int32_t report_parent(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    int32_t *p = (int32_t *)malloc(sizeof *p);
    *p = (int32_t)getppid();
    fut_task_set_result(t, p, sizeof *p, free);
    return 0;
}

static pid_t server_of(fut_executor *ex) {
    fut_future *f = pp_submit(ex, report_parent, NULL, 0);
    void *v = NULL;
    size_t n = 0;
    CHECK_ST(fut_future_result(f, TU_LONG_TIMEOUT_NS, &v, &n), FUT_OK);
    CHECK(n == sizeof(int32_t));
    pid_t server = (pid_t) * (int32_t *)v;
    fut_future_release(f);
    CHECK(server != getpid());
    return server;
}

/* Reaps `pid` if it became our child (orphaned when its parent, the fork
 * server, was killed: we are a subreaper); it must be dead already. */
static void reap_orphan(pid_t pid) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    CHECK(r == pid || (r == -1 && errno == ECHILD));
}

/* A worker killed while the fork server is stopped: its task ends (fails)
 * within a bound, and so does the release; the server is gone after it. */
static void test_stopped_server_worker_killed(fut_crash_policy policy) {
    fut_executor *ex = pp_pool(1, FUT_START_FORKSERVER, policy);
    pid_t server = server_of(ex);
    fut_future *a = pp_submit(ex, pp_report_block_echo, "a", 2);
    pid_t worker = pp_read_pid();
    CHECK(kill(server, SIGSTOP) == 0);
    CHECK(kill(worker, SIGKILL) == 0);
    void *v;
    fut_status st = fut_future_result(a, 10 * TU_SEC, &v, NULL);
    CHECK_MSG(st == FUT_ERR_WORKER_DIED || st == FUT_ERR_BROKEN_POOL,
              "the killed worker's task: %s", tu_st(st));
    fut_future_release(a);
    int64_t t0 = tu_now_ns();
    fut_executor_release(ex);
    CHECK_LT(tu_now_ns() - t0, 10 * TU_SEC);
    CHECK(kill(server, 0) == -1 && errno == ESRCH);
    reap_orphan(worker);
}

/* Shutdown with the fork server stopped and the workers idle ends within a
 * bound, the server stopped and reaped. */
static void test_stopped_server_shutdown(void) {
    fut_executor *ex = pp_pool(2, FUT_START_FORKSERVER, FUT_CRASH_BREAK_POOL);
    pid_t server = server_of(ex);
    CHECK(kill(server, SIGSTOP) == 0);
    int64_t t0 = tu_now_ns();
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
    CHECK_LT(tu_now_ns() - t0, 10 * TU_SEC);
    fut_executor_release(ex);
    CHECK(kill(server, 0) == -1 && errno == ESRCH);
    /* Its worker may have been orphaned (we are a subreaper): reap it. */
    int st;
    while (waitpid(-1, &st, WNOHANG) > 0) {
    }
}

/* ---- an inherited pool refuses with FUT_ERR_SHUTDOWN (X11) --------------- */

static fut_executor *inherited_pool;

/* Result = the status of shutdown on the pool the worker belongs to. */
static int32_t shutdown_inherited(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    int32_t *p = (int32_t *)malloc(sizeof *p);
    *p = fut_executor_shutdown(inherited_pool, false, false);
    fut_task_set_result(t, p, sizeof *p, free);
    return 0;
}

static void test_shutdown_in_forked_process(fut_start_method m) {
    fut_executor *ex = pool_of(1, m, FUT_CRASH_BREAK_POOL);
    inherited_pool = ex;
    /* In one of the pool's own workers. */
    fut_future *f = pp_submit(ex, shutdown_inherited, NULL, 0);
    void *v = NULL;
    size_t n = 0;
    CHECK_ST(fut_future_result(f, TU_LONG_TIMEOUT_NS, &v, &n), FUT_OK);
    CHECK(n == sizeof(int32_t));
    CHECK_MSG(*(int32_t *)v == FUT_ERR_SHUTDOWN, "in a worker: %s", tu_st(*(int32_t *)v));
    fut_future_release(f);
    /* In the child of a host fork(). */
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        fut_status s1 = fut_executor_shutdown(ex, false, false);
        fut_status s2 = fut_executor_shutdown(ex, true, true);
        _exit(s1 == FUT_ERR_SHUTDOWN && s2 == FUT_ERR_SHUTDOWN ? 0 : 1);
    }
    int st;
    CHECK(waitpid(child, &st, 0) == child);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The parent's pool goes on. */
    f = pp_submit(ex, pp_echo, "y", 2);
    pp_expect_bytes(f, "y", 2);
    fut_future_release(f);
    fut_executor_release(ex);
}

/* ---- a worker sees only its own result ring (X14, R13) --------------------- */

/* Result = the bytes of result rings (4 KiB header + 1 MiB, shared, an
 * anonymous /dev/zero mapping or the memfd "libfutures-results") mapped in
 * the worker: a stray write of a task must not reach a sibling's ring. */
static int32_t ring_bytes_mapped(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    const unsigned long slot = 4096ul + (1ul << 20);
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 1;
    char line[512];
    int64_t *total = (int64_t *)calloc(1, sizeof *total);
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[3] != 's') continue;
        int ring = strstr(line, "libfutures-results") || strstr(line, "/dev/zero");
        if (ring && (hi - lo) % slot == 0) *total += (int64_t)(hi - lo);
    }
    fclose(f);
    return fut_task_set_result(t, total, sizeof *total, free);
}

/* X14: workers forked directly inherit one mapping holding every ring; each
 * keeps only its own (a task that scribbled over a sibling's ring broke the
 * pool in the sibling's name). */
static void test_worker_maps_only_its_ring(fut_start_method m) {
    enum { W = 3 };
    fut_executor *ex = pp_pool(W, m, FUT_CRASH_BREAK_POOL);
    fut_future *fs[2 * W];
    for (int i = 0; i < 2 * W; i++) fs[i] = pp_submit(ex, ring_bytes_mapped, NULL, 0);
    for (int i = 0; i < 2 * W; i++) {
        void *v = NULL;
        size_t n = 0;
        CHECK_ST(fut_future_result(fs[i], TU_LONG_TIMEOUT_NS, &v, &n), FUT_OK);
        CHECK(n == sizeof(int64_t));
        CHECK_MSG(*(int64_t *)v == 4096 + (1 << 20), "a worker maps %lld bytes of rings",
                  (long long)*(int64_t *)v);
        fut_future_release(fs[i]);
    }
    fut_executor_release(ex);
}

/* ---- cancel_futures cancels during the call (E6, P13) ---------------------- */

/* 2,000 queued behind a blocked worker: right after shutdown(wait=false,
 * cancel_futures=true) returns, every future not handed to the worker is
 * cancelled (at most max_workers + 1 = 2 were, P5). */
static void test_cancel_futures_before_return(fut_start_method m) {
    enum { N = 2000 };
    static fut_future *fs[N];
    fut_executor *ex = pool_of(1, m, FUT_CRASH_BREAK_POOL);
    fut_future *first = pp_submit(ex, pp_report_block_echo, "0", 2);
    pp_read_pid();
    for (int i = 0; i < N; i++) fs[i] = pp_submit(ex, pp_echo, "n", 2);
    CHECK_ST(fut_executor_shutdown(ex, false, true), FUT_OK);
    int pending = 0, cancelled = 0;
    for (int i = 0; i < N; i++) {
        int s = fut_future_state(fs[i]);
        pending += s == FUT_STATE_PENDING;
        cancelled += s == FUT_STATE_CANCELLED;
    }
    CHECK_MSG(pending == 0, "%d of %d still pending after the call", pending, N);
    CHECK_GE(cancelled, N - 2);
    pp_gate_open(1);
    pp_expect_bytes(first, "0", 2);
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
    fut_future_release(first);
    for (int i = 0; i < N; i++) fut_future_release(fs[i]);
    fut_executor_release(ex);
}

int main(int argc, char **argv) {
    spawn_register_common();
    CHECK_OK(fut_register_task("close_every_fd", close_every_fd));
    CHECK_OK(fut_register_task("noop", noop));
    CHECK_OK(fut_register_task("ring_bytes_mapped", ring_bytes_mapped));
    CHECK_OK(fut_register_task("shutdown_inherited", shutdown_inherited));
    CHECK_OK(fut_worker_entry(argc, argv));
    pp_become_subreaper();
    pp_pipes_init();
    fut_set_log_hook(tu_log_capture_fn, &pp_log);
    char name[128];
    for (int i = 0; i < 3; i++) {
        fut_start_method m = METHODS[i];
        const char *mn = method_name(m);
#define RUN_M(call, what) PP_RUN_M(name, call, what, mn)
        RUN_M(test_unstarted_task_runs_elsewhere(m), "unstarted task runs elsewhere");
        RUN_M(test_shutdown_drain_is_linear(m), "shutdown drain is linear");
        RUN_M(test_shutdown_in_forked_process(m), "shutdown in a forked process");
        RUN_M(test_cancel_futures_before_return(m), "cancel_futures before return");
        RUN_M(test_worker_maps_only_its_ring(m), "worker maps only its ring");
    }
    PP_RUN(test_stopped_server_worker_killed(FUT_CRASH_FAIL_TASK), "stopped server, FAIL_TASK");
    PP_RUN(test_stopped_server_worker_killed(FUT_CRASH_BREAK_POOL), "stopped server, BREAK_POOL");
    PP_RUN(test_stopped_server_shutdown(), "stopped server, shutdown");
    fut_set_log_hook(NULL, NULL);
    return tu_summary();
}
