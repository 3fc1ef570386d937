/* Helpers shared by the process-pool tests (C and C++): task functions,
 * pipes the tests control ("gates"), and checks that a test left no child
 * process, zombie, thread or file descriptor behind.
 *
 * Synchronisation is by pipes and futures only; every blocking call has a
 * 30 s bound. The test program makes itself a child subreaper, so orphaned
 * grandchildren (fork-server workers) would show up as its own children. */
#ifndef PROCESS_POOL_COMMON_H
#define PROCESS_POOL_COMMON_H

#include <futures.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Not every program uses every helper. */
#if defined(__GNUC__)
#define PP_MAYBE_UNUSED __attribute__((unused))
#else
#define PP_MAYBE_UNUSED
#endif

#define PP_SEC 1000000000LL
#define PP_WAIT (30 * PP_SEC)
#define PP_WAIT_MS 30000

#define PP_CHECK(cond)                                                              \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                \
        }                                                                           \
    } while (0)

#define PP_CHECK_ST(expr, want)                                                       \
    do {                                                                              \
        fut_status pp_got_ = (expr);                                                  \
        if (pp_got_ != (want)) {                                                      \
            fprintf(stderr, "%s:%d: %s = %s, want %s\n", __FILE__, __LINE__, #expr,  \
                    fut_status_str(pp_got_), fut_status_str(want));                   \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* ---- pipes the tests control (created before any pool: workers inherit) --- */

/* A task blocked on the gate waits for one byte per task. */
static int pp_gate[2] = {-1, -1};
/* Tasks report their pid here (4 bytes each). */
static int pp_report[2] = {-1, -1};

PP_MAYBE_UNUSED static void pp_pipes_init(void) {
    if (pp_gate[0] >= 0) return;
    PP_CHECK(pipe(pp_gate) == 0);
    PP_CHECK(pipe(pp_report) == 0);
}

PP_MAYBE_UNUSED static void pp_gate_open(int n) {
    for (int i = 0; i < n; i++) PP_CHECK(write(pp_gate[1], "g", 1) == 1);
}

/* Drops bytes left in the gate or the report pipe (tasks that never ran). */
PP_MAYBE_UNUSED static void pp_pipes_drain(void) {
    int fds[2] = {pp_gate[0], pp_report[0]};
    for (int i = 0; i < 2; i++) {
        struct pollfd p = {fds[i], POLLIN, 0};
        char buf[256];
        while (poll(&p, 1, 0) == 1 && read(fds[i], buf, sizeof buf) > 0) {
        }
    }
}

/* Reads one reported pid, waiting at most 30 s. */
PP_MAYBE_UNUSED static pid_t pp_read_pid(void) {
    struct pollfd p = {pp_report[0], POLLIN, 0};
    PP_CHECK(poll(&p, 1, PP_WAIT_MS) == 1);
    int32_t pid = 0;
    PP_CHECK(read(pp_report[0], &pid, sizeof pid) == (ssize_t)sizeof pid);
    return (pid_t)pid;
}

PP_MAYBE_UNUSED static void pp_report_self(void) {
    int32_t pid = (int32_t)getpid();
    if (write(pp_report[1], &pid, sizeof pid) != (ssize_t)sizeof pid) _exit(99);
}

PP_MAYBE_UNUSED static void pp_wait_gate(void) {
    char c;
    while (read(pp_gate[0], &c, 1) < 0 && errno == EINTR) {
    }
}

/* ---- task functions -------------------------------------------------------- */

/* Result = the argument's bytes (points into arg: zero-copy echo). */
PP_MAYBE_UNUSED static int32_t pp_echo(fut_task *t, const void *arg, size_t len) {
    fut_task_set_result(t, (void *)arg, len, NULL);
    return 0;
}

/* Result = the worker's pid (int32). */
PP_MAYBE_UNUSED static int32_t pp_getpid(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    int32_t *p = (int32_t *)malloc(sizeof *p);
    *p = (int32_t)getpid();
    fut_task_set_result(t, p, sizeof *p, free);
    return 0;
}

/* Reports its pid, waits on the gate, then echoes. */
PP_MAYBE_UNUSED static int32_t pp_report_block_echo(fut_task *t, const void *arg, size_t len) {
    pp_report_self();
    pp_wait_gate();
    return pp_echo(t, arg, len);
}

/* Waits on the gate without reporting, then echoes. */
PP_MAYBE_UNUSED static int32_t pp_block_echo(fut_task *t, const void *arg, size_t len) {
    pp_wait_gate();
    return pp_echo(t, arg, len);
}

/* Workers restore the default action of crash signals, so this ends the
 * worker with SIGSEGV even where a sanitizer installed a handler. */
PP_MAYBE_UNUSED static int32_t pp_segv(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    raise(SIGSEGV);
    return 0;
}

PP_MAYBE_UNUSED static int32_t pp_sigkill_self(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    raise(SIGKILL);
    return 0;
}

PP_MAYBE_UNUSED static int32_t pp_exit3(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    _exit(3);
}

/* ---- leak checks ------------------------------------------------------------- */

PP_MAYBE_UNUSED static int pp_count_dir(const char *path) {
    DIR *d = opendir(path);
    PP_CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') n++;
    }
    closedir(d);
    return n;
}

PP_MAYBE_UNUSED static int pp_fd_count(void) { return pp_count_dir("/proc/self/fd"); }
PP_MAYBE_UNUSED static int pp_thread_count(void) { return pp_count_dir("/proc/self/task"); }

/* No child (direct or orphaned grandchild: we are a subreaper), no zombie. */
PP_MAYBE_UNUSED static void pp_check_no_children(void) {
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

PP_MAYBE_UNUSED static pp_baseline pp_take_baseline(void) {
    pp_baseline b = {pp_fd_count(), pp_thread_count()};
    return b;
}

PP_MAYBE_UNUSED static void pp_check_clean(pp_baseline b, const char *test) {
    int fds = pp_fd_count(), threads = pp_thread_count();
    if (fds != b.fds || threads != b.threads) {
        fprintf(stderr, "%s: leaked resources: fds %d -> %d, threads %d -> %d\n", test, b.fds,
                fds, b.threads, threads);
        abort();
    }
    pp_check_no_children();
}

PP_MAYBE_UNUSED static void pp_become_subreaper(void) { PP_CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0); }

/* ---- pools --------------------------------------------------------------------- */

PP_MAYBE_UNUSED static fut_executor *pp_pool(size_t workers, fut_start_method method, fut_crash_policy policy) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.max_workers = workers;
    o.start_method = method;
    o.on_worker_crash = policy;
    fut_executor *ex = NULL;
    PP_CHECK_ST(fut_process_pool_new(&o, &ex), FUT_OK);
    return ex;
}

PP_MAYBE_UNUSED static fut_future *pp_submit(fut_executor *ex, fut_task_fn fn, const void *arg, size_t len) {
    fut_future *f = NULL;
    PP_CHECK_ST(fut_executor_submit(ex, fn, arg, len, NULL, &f), FUT_OK);
    return f;
}

/* The result must be the given bytes. */
PP_MAYBE_UNUSED static void pp_expect_bytes(fut_future *f, const void *want, size_t len) {
    void *v = NULL;
    size_t n = 0;
    PP_CHECK_ST(fut_future_result(f, PP_WAIT, &v, &n), FUT_OK);
    PP_CHECK(n == len);
    PP_CHECK(len == 0 || memcmp(v, want, len) == 0);
}

/* The future must fail with `kind`; returns its detail (borrowed). */
PP_MAYBE_UNUSED static const char *pp_expect_failure(fut_future *f, fut_status kind) {
    void *v;
    PP_CHECK_ST(fut_future_result(f, PP_WAIT, &v, NULL), kind);
    fut_error_info e;
    PP_CHECK_ST(fut_future_exception(f, 0, &e), FUT_OK);
    PP_CHECK(e.kind == kind);
    PP_CHECK(e.message != NULL);
    return e.detail;
}

/* Log hook: keeps the last message, quietly (the manager thread calls it). */
static pthread_mutex_t pp_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char pp_log_last[1024];
static int pp_log_count;

PP_MAYBE_UNUSED static void pp_log_hook(const char *msg, void *user) {
    (void)user;
    pthread_mutex_lock(&pp_log_lock);
    snprintf(pp_log_last, sizeof pp_log_last, "%s", msg);
    pp_log_count++;
    pthread_mutex_unlock(&pp_log_lock);
}

PP_MAYBE_UNUSED static int pp_log_contains(const char *needle) {
    pthread_mutex_lock(&pp_log_lock);
    int r = strstr(pp_log_last, needle) != NULL;
    pthread_mutex_unlock(&pp_log_lock);
    return r;
}

PP_MAYBE_UNUSED static int pp_under_valgrind(void) {
    const char *p = getenv("LD_PRELOAD");
    return (p && strstr(p, "valgrind")) || getenv("FUT_UNDER_VALGRIND") != NULL;
}

#endif
