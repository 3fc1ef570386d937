/* Helpers shared by the process-pool tests (C and C++): task functions,
 * pipes the tests control ("gates"), and checks that a test left no child
 * process, zombie, thread or file descriptor behind.
 *
 * Synchronisation is by pipes and futures only; every blocking call has a
 * 30 s bound. The test program makes itself a child subreaper, so orphaned
 * grandchildren (fork-server workers) would show up as its own children. */
#ifndef PROCESS_POOL_COMMON_H
#define PROCESS_POOL_COMMON_H

#include "pool_test_util.h"
#include "test_util.h"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

/* ---- pipes the tests control (created before any pool: workers inherit) --- */

/* A task blocked on the gate waits for one byte per task. */
static int pp_gate[2] = {-1, -1};
/* Tasks report their pid here (4 bytes each). */
static int pp_report[2] = {-1, -1};

TU_UNUSED static void pp_pipes_init(void) {
    if (pp_gate[0] >= 0) return;
    CHECK(pipe(pp_gate) == 0);
    CHECK(pipe(pp_report) == 0);
}

TU_UNUSED static void pp_gate_open(int n) {
    for (int i = 0; i < n; i++) CHECK(write(pp_gate[1], "g", 1) == 1);
}

/* Drops bytes left in the gate or the report pipe (tasks that never ran). */
TU_UNUSED static void pp_pipes_drain(void) {
    int fds[2] = {pp_gate[0], pp_report[0]};
    for (int i = 0; i < 2; i++) {
        struct pollfd p = {fds[i], POLLIN, 0};
        char buf[256];
        while (poll(&p, 1, 0) == 1 && read(fds[i], buf, sizeof buf) > 0) {
        }
    }
}

/* Reads one reported pid, waiting at most 30 s. */
TU_UNUSED static pid_t pp_read_pid(void) {
    struct pollfd p = {pp_report[0], POLLIN, 0};
    CHECK(poll(&p, 1, TU_LONG_TIMEOUT_MS) == 1);
    int32_t pid = 0;
    CHECK(read(pp_report[0], &pid, sizeof pid) == (ssize_t)sizeof pid);
    return (pid_t)pid;
}

TU_UNUSED static void pp_report_self(void) {
    int32_t pid = (int32_t)getpid();
    if (write(pp_report[1], &pid, sizeof pid) != (ssize_t)sizeof pid) _exit(99);
}

TU_UNUSED static void pp_wait_gate(void) {
    char c;
    while (read(pp_gate[0], &c, 1) < 0 && errno == EINTR) {
    }
}

/* ---- task functions -------------------------------------------------------- */

/* Result = the argument's bytes (points into arg: zero-copy echo). */
TU_UNUSED static int32_t pp_echo(fut_task *t, const void *arg, size_t len) {
    fut_task_set_result(t, (void *)arg, len, NULL);
    return 0;
}

/* Result = the worker's pid (int32). */
TU_UNUSED static int32_t pp_getpid(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    int32_t *p = (int32_t *)malloc(sizeof *p);
    *p = (int32_t)getpid();
    fut_task_set_result(t, p, sizeof *p, free);
    return 0;
}

/* Reports its pid, waits on the gate, then echoes. */
TU_UNUSED static int32_t pp_report_block_echo(fut_task *t, const void *arg, size_t len) {
    pp_report_self();
    pp_wait_gate();
    return pp_echo(t, arg, len);
}

/* Waits on the gate without reporting, then echoes. */
TU_UNUSED static int32_t pp_block_echo(fut_task *t, const void *arg, size_t len) {
    pp_wait_gate();
    return pp_echo(t, arg, len);
}

/* Workers restore the default action of crash signals, so this ends the
 * worker with SIGSEGV even where a sanitizer installed a handler. */
TU_UNUSED static int32_t pp_segv(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    raise(SIGSEGV);
    return 0;
}

TU_UNUSED static int32_t pp_sigkill_self(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    raise(SIGKILL);
    return 0;
}

TU_UNUSED static int32_t pp_exit3(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    _exit(3);
}

/* ---- leak checks ------------------------------------------------------------- */

TU_UNUSED static int pp_count_dir(const char *path) {
    int n = tu_count_dir(path);
    CHECK(n >= 0);
    return n;
}

TU_UNUSED static int pp_fd_count(void) { return pp_count_dir("/proc/self/fd"); }

/* No child (direct or orphaned grandchild: we are a subreaper), no zombie. */
TU_UNUSED static void pp_check_no_children(void) {
    int st;
    errno = 0;
    pid_t r = waitpid(-1, &st, WNOHANG);
    if (r != -1 || errno != ECHILD) {
        fprintf(stderr, "leftover child process (waitpid = %d, errno %d)\n", (int)r, errno);
        abort();
    }
}

typedef struct pp_baseline {
    int fds;
    int threads;
} pp_baseline;

/* Thread counts wait for joined threads to leave /proc/self/task (a join
 * returns a moment before: pool_test_util.h, threads_after_join); a leaked
 * thread never leaves, so the check still fails on one after 5 s. */
TU_UNUSED static pp_baseline pp_take_baseline(void) {
    pp_baseline b = {pp_fd_count(), baseline_threads()};
    return b;
}

TU_UNUSED static void pp_check_clean(pp_baseline b, const char *test) {
    int fds = pp_fd_count(), threads = threads_after_join(b.threads);
    if (fds != b.fds || threads != b.threads) {
        fprintf(stderr, "%s: leaked resources: fds %d -> %d, threads %d -> %d\n", test, b.fds,
                fds, b.threads, threads);
        abort();
    }
    pp_check_no_children();
}

/* Runs one test under the test_util.h watchdog; it must leave no fd, thread
 * or child behind. FUT_TEST_ONLY=TEXT runs only the tests whose name
 * contains TEXT. */
#define PP_RUN(call, name)                               \
    do {                                                 \
        const char *only_ = getenv("FUT_TEST_ONLY");     \
        if (only_ && !strstr(name, only_)) break;        \
        int64_t t0_ = tu_test_begin(name);               \
        pp_baseline b_ = pp_take_baseline();             \
        call;                                            \
        pp_pipes_drain();                                \
        pp_check_clean(b_, name);                        \
        tu_test_end(t0_);                                \
    } while (0)

/* PP_RUN for a test run once per start method: names it "WHAT [METHOD]"
 * in `buf` (a char array). */
#define PP_RUN_M(buf, call, what, method)                       \
    do {                                                        \
        snprintf(buf, sizeof buf, "%s [%s]", what, method);     \
        PP_RUN(call, buf);                                      \
    } while (0)

TU_UNUSED static void pp_become_subreaper(void) { CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0); }

/* ---- pools --------------------------------------------------------------------- */

TU_UNUSED static fut_executor *pp_pool(size_t workers, fut_start_method method, fut_crash_policy policy) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.max_workers = workers;
    o.start_method = method;
    o.on_worker_crash = policy;
    fut_executor *ex = NULL;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_OK);
    return ex;
}

TU_UNUSED static fut_future *pp_submit(fut_executor *ex, fut_task_fn fn, const void *arg, size_t len) {
    fut_future *f = NULL;
    CHECK_ST(fut_executor_submit(ex, fn, arg, len, NULL, &f), FUT_OK);
    return f;
}

/* The result must be the given bytes. */
TU_UNUSED static void pp_expect_bytes(fut_future *f, const void *want, size_t len) {
    void *v = NULL;
    size_t n = 0;
    CHECK_ST(fut_future_result(f, TU_LONG_TIMEOUT_NS, &v, &n), FUT_OK);
    CHECK(n == len);
    CHECK(len == 0 || memcmp(v, want, len) == 0);
}

/* The future must fail with `kind`; returns its detail (borrowed). */
TU_UNUSED static const char *pp_expect_failure(fut_future *f, fut_status kind) {
    void *v;
    CHECK_ST(fut_future_result(f, TU_LONG_TIMEOUT_NS, &v, NULL), kind);
    fut_error_info e;
    CHECK_ST(fut_future_exception(f, 0, &e), FUT_OK);
    CHECK(e.kind == kind);
    CHECK(e.message != NULL);
    return e.detail;
}

/* Log hook capture (fut_set_log_hook(tu_log_capture_fn, &pp_log)): the
 * manager thread calls it; it keeps the last message, quietly. */
TU_UNUSED static tu_log_capture pp_log = TU_LOG_CAPTURE_INITIALIZER;

TU_UNUSED static int pp_log_contains(const char *needle) {
    return tu_log_capture_last_contains(&pp_log, needle);
}

TU_UNUSED static int pp_under_valgrind(void) {
    const char *p = getenv("LD_PRELOAD");
    return (p && strstr(p, "valgrind")) || getenv("FUT_UNDER_VALGRIND") != NULL;
}

#endif
