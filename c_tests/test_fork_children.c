/* T11, X11: a child of a host fork() can create and use new pools, whatever
 * the parent's threads were doing at the moment of the fork.
 *
 * The parent keeps a thread pool and a process pool busy from several threads
 * (submits, results, futures created and released) while its main thread
 * forks children one after the other. Each child creates a new thread pool and
 * a new process pool (start methods alternate), runs a task on each, waits for
 * both with a timeout, releases both pools and _exits with a code saying how
 * far it got. The parent waits for each child with a timeout (a pidfd polled;
 * a child-side alarm as a backstop) and kills one that did not end in time:
 * that is a hang, and the test wants none.
 *
 * A lock held by a parent thread at the fork, if the child's new threads can
 * reach it (parking_lot's process-wide parking table once was one), hangs
 * the child: before the library's locks moved onto std's futex-based
 * primitives, most children here hung.
 *
 * Children: FUT_FORK_STORM (default 200; 1000 for the full proof).
 * Per-child timeout in seconds: FUT_FORK_TIMEOUT_S (default 20).
 * Hangs tolerated before the test stops early: FUT_FORK_MAX_HANGS (default 5). */
#define _GNU_SOURCE /* syscall(), for pidfd_open */
#include "test_util.h"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* What a child's exit status says. */
enum {
    CHILD_OK = 0,
    CHILD_THREAD_POOL_NEW = 10,
    CHILD_PROCESS_POOL_NEW = 11,
    CHILD_SUBMIT = 12,
    CHILD_TP_RESULT = 13,
    CHILD_PP_RESULT = 14,
    CHILD_BAD_VALUE = 15,
};

static int32_t square(fut_task *t, const void *arg, size_t len)
{
    if (len != sizeof(int32_t)) return 1;
    int32_t x;
    memcpy(&x, arg, sizeof x);
    int32_t *out = (int32_t *)malloc(sizeof *out);
    if (!out) return 2;
    *out = x * x;
    return fut_task_set_result(t, out, sizeof *out, free) == FUT_OK ? 0 : 3;
}

static int env_int(const char *name, int fallback)
{
    const char *s = getenv(name);
    if (!s || !*s) return fallback;
    long v = strtol(s, NULL, 10);
    return v > 0 ? (int)v : fallback;
}

/* ---- the parent's busy threads ------------------------------------------------------- */

static atomic_bool stop_busy;
static fut_executor *parent_tp, *parent_pp;

/* Submits to `ex` and reads the result, round after round, until told to stop. */
static void *keep_busy(void *arg)
{
    fut_executor *ex = (fut_executor *)arg;
    int32_t x = 3;
    while (!atomic_load(&stop_busy)) {
        fut_future *f = NULL;
        CHECK_OK(fut_executor_submit(ex, square, &x, sizeof x, NULL, &f));
        void *v = NULL;
        CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, &v, NULL));
        CHECK_EQ(*(int32_t *)v, 9);
        fut_future_release(f);
    }
    return NULL;
}

/* Creates, completes, waits on and releases promise futures (handle pool traffic). */
static void *churn_futures(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_busy)) {
        fut_future *f = NEW_FUTURE();
        fut_future *fs[1] = {f};
        CHECK_OK(fut_future_set_result(f, NULL, 1, NULL));
        CHECK_OK(fut_wait(fs, 1, 0, FUT_ALL_COMPLETED, NULL, NULL));
        fut_future_release(f);
    }
    return NULL;
}

/* Two threads hand a promise back and forth, each blocking in fut_future_result until the
 * other completes it: threads parking and waking all the time, as they do around a pool. */
static fut_future *volatile ping_slot[2];
static pthread_mutex_t ping_lock = PTHREAD_MUTEX_INITIALIZER;

static void *ping_pong(void *arg)
{
    int me = (int)(intptr_t)arg;
    while (!atomic_load(&stop_busy)) {
        fut_future *mine = NEW_FUTURE();
        pthread_mutex_lock(&ping_lock);
        ping_slot[me] = fut_future_retain(mine);
        fut_future *theirs = ping_slot[1 - me];
        ping_slot[1 - me] = NULL;
        pthread_mutex_unlock(&ping_lock);
        if (theirs) {
            fut_future_set_result(theirs, NULL, 0, NULL);
            fut_future_release(theirs);
        }
        /* The other side completes it, or it times out when the other side has stopped. */
        fut_status s = fut_future_result(mine, 100 * TU_MS, NULL, NULL);
        CHECK(s == FUT_OK || s == FUT_ERR_TIMEOUT);
        fut_future_release(mine);
    }
    return NULL;
}

/* ---- the child -------------------------------------------------------------------------- */

static int child_task(fut_executor *ex, int32_t x, int64_t timeout_ns, int fail_code)
{
    fut_future *f = NULL;
    if (fut_executor_submit(ex, square, &x, sizeof x, NULL, &f) != FUT_OK) return CHILD_SUBMIT;
    void *v = NULL;
    size_t n = 0;
    int rc = CHILD_OK;
    if (fut_future_result(f, timeout_ns, &v, &n) != FUT_OK)
        rc = fail_code;
    else if (n != sizeof(int32_t) || *(int32_t *)v != x * x)
        rc = CHILD_BAD_VALUE;
    fut_future_release(f);
    return rc;
}

static int child_main(int round, int timeout_s)
{
    int64_t timeout_ns = (int64_t)timeout_s * TU_SEC;
    fut_thread_pool_options to;
    fut_thread_pool_options_init(&to);
    to.max_workers = 2;
    fut_executor *tp = NULL;
    if (fut_thread_pool_new(&to, &tp) != FUT_OK) return CHILD_THREAD_POOL_NEW;
    fut_process_pool_options po;
    fut_process_pool_options_init(&po);
    po.max_workers = 1;
    po.start_method = round % 2 ? FUT_START_FORK : FUT_START_FORKSERVER;
    fut_executor *pp = NULL;
    if (fut_process_pool_new(&po, &pp) != FUT_OK) return CHILD_PROCESS_POOL_NEW;
    int rc = child_task(tp, round, timeout_ns, CHILD_TP_RESULT);
    if (rc == CHILD_OK) rc = child_task(pp, round + 1, timeout_ns, CHILD_PP_RESULT);
    fut_executor_release(tp);
    fut_executor_release(pp);
    return rc;
}

/* ---- waiting for a child with a timeout ------------------------------------------------ */

/* Waits up to timeout_s for `pid`; true and its status when it ended, false after
 * killing and reaping it. */
static bool wait_child(pid_t pid, int timeout_s, int *status)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    bool ended = true;
    if (pidfd >= 0) {
        struct pollfd p = {pidfd, POLLIN, 0};
        int r;
        while ((r = poll(&p, 1, timeout_s * 1000)) < 0 && errno == EINTR) {
        }
        CHECK(r >= 0);
        ended = r == 1;
        close(pidfd);
    }
    /* Without pidfds (old kernels) the child's own alarm bounds the wait below. */
    if (!ended) kill(pid, SIGKILL);
    pid_t w;
    while ((w = waitpid(pid, status, 0)) < 0 && errno == EINTR) {
    }
    CHECK_EQ(w, pid);
    if (WIFSIGNALED(*status) && WTERMSIG(*status) == SIGALRM) ended = false;
    return ended;
}

/* T11/X11: N children forked while the parent's pools are busy each run a new thread pool
 * and a new process pool; none hangs and every one exits 0. */
TEST(T11_X11_children_forked_under_load_run_new_pools)
{
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer's allocator (GCC 12) takes a lock that a busy thread may hold at
     * the fork and is not reset in the child: the child would hang inside malloc, not in
     * libfutures. glibc's malloc is fork-safe. */
    printf("# skipped under AddressSanitizer: its allocator is not fork-safe\n");
    return;
#endif
    int children = env_int("FUT_FORK_STORM", 200);
    int timeout_s = env_int("FUT_FORK_TIMEOUT_S", 20);
    int max_hangs = env_int("FUT_FORK_MAX_HANGS", 5);
    /* The watchdog bounds the default run; a storm asked for by name may take longer
     * (each child is bounded by its own timeout). */
    if (getenv("FUT_FORK_STORM")) alarm(0);

    fut_thread_pool_options to;
    fut_thread_pool_options_init(&to);
    to.max_workers = 8;
    CHECK_OK(fut_thread_pool_new(&to, &parent_tp));
    fut_process_pool_options po;
    fut_process_pool_options_init(&po);
    po.max_workers = 2;
    CHECK_OK(fut_process_pool_new(&po, &parent_pp));

    atomic_store(&stop_busy, false);
    enum { N_BUSY = 9 };
    pthread_t busy[N_BUSY] = {
        SPAWN(keep_busy, parent_tp),  SPAWN(keep_busy, parent_tp),  SPAWN(keep_busy, parent_tp),
        SPAWN(keep_busy, parent_tp),  SPAWN(keep_busy, parent_pp),  SPAWN(keep_busy, parent_pp),
        SPAWN(churn_futures, NULL),   SPAWN(ping_pong, (void *)0), SPAWN(ping_pong, (void *)1)};

    int hangs = 0, failed = 0, ran = 0, last_bad_status = 0;
    int64_t t0 = tu_now_ns();
    for (int i = 0; i < children && hangs < max_hangs; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            signal(SIGALRM, SIG_DFL);
            alarm((unsigned)timeout_s + 5);
            _exit(child_main(i, timeout_s));
        }
        int status = 0;
        ran++;
        if (!wait_child(pid, timeout_s, &status)) {
            hangs++;
            fprintf(stderr, "# child %d (pid %d) hung: killed after %d s\n", i, (int)pid,
                    timeout_s);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed++;
            last_bad_status = status;
        }
    }
    double secs = (double)(tu_now_ns() - t0) / 1e9;

    atomic_store(&stop_busy, true);
    for (int i = 0; i < N_BUSY; i++) JOIN(busy[i]);
    for (int i = 0; i < 2; i++) {
        if (ping_slot[i]) fut_future_release(ping_slot[i]);
        ping_slot[i] = NULL;
    }
    fut_executor_release(parent_tp);
    fut_executor_release(parent_pp);

    printf("# %d children forked under load in %.1f s: %d hung, %d failed\n", ran, secs, hangs,
           failed);
    CHECK_MSG(hangs == 0, "%d of %d children hung", hangs, ran);
    CHECK_MSG(failed == 0, "%d of %d children failed (last status 0x%x)", failed, ran,
              last_bad_status);
    CHECK_EQ(ran, children);
}

int main(int argc, char **argv)
{
    return tu_main(argc, argv);
}
