/* pool_test_util.h: helpers for the executor tests (header-only), on top of test_util.h
 * (checks, clock, latch, FUT_TEST_SCALE, watchdog and test runner).
 *
 * - Every blocking helper takes a deadline (TU_LONG_TIMEOUT_NS, 30 s): a bug
 *   fails the test instead of hanging it.
 * - Synchronisation is by latches, pipes and futures, never by sleeping.
 * - What this adds: pipes as gates, counting and naming the threads of this
 *   process (/proc/self/task), the int64 result of a future.
 */
#ifndef POOL_TEST_UTIL_H
#define POOL_TEST_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>

/* ---- pipes ---------------------------------------------------------------- */

typedef struct {
    int rd, wr;
} test_pipe;

static inline test_pipe pipe_open(void) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    test_pipe p = {fds[0], fds[1]};
    return p;
}

static inline void pipe_close(test_pipe *p) {
    close(p->rd);
    close(p->wr);
}

/* Writes n bytes (tokens) to fd. */
static inline void fd_put(int fd, size_t n) {
    char buf[256];
    memset(buf, 't', sizeof buf);
    while (n > 0) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        ssize_t w = write(fd, buf, k);
        if (w < 0 && errno == EINTR) continue;
        CHECK(w > 0);
        n -= (size_t)w;
    }
}

/* Reads one byte within timeout_ms; 1 on success, 0 on timeout or EOF. */
static inline int fd_take(int fd, int timeout_ms) {
    int64_t end = tu_now_ns() + (int64_t)timeout_ms * 1000000LL;
    for (;;) {
        int64_t left = (end - tu_now_ns()) / 1000000LL;
        if (left < 0) return 0;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n == 1) return 1;
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        return 0;
    }
}

/* Bytes currently readable without blocking. */
static inline size_t fd_drain_count(int fd) {
    size_t total = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0) return total;
        char buf[256];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return total;
        total += (size_t)n;
    }
}

/* ---- threads of this process ---------------------------------------------- */

static inline int count_threads(void) { return tu_count_dir("/proc/self/task"); }

/* Polls /proc/self/task until at most `n` threads remain (threads that were
 * detached exit on their own time); 1 when reached within the timeout. */
static inline int wait_threads_at_most(int n, int64_t timeout_ns) {
    int64_t end = tu_now_ns() + timeout_ns;
    while (count_threads() > n) {
        if (tu_now_ns() > end) return 0;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 1;
}

/* Thread counts around a join. pthread_join, and so a pool's
 * shutdown(wait=true), returns when the kernel clears the thread's id, a
 * moment before the thread leaves /proc/self/task: a count taken right after
 * a join may still include it. Between tests only the main thread runs, so a
 * test takes its baseline once the count is down to 1 (or, if it never gets
 * there, the count after 5 s), and checks that a shutdown left no thread
 * with threads_after_join(base): the count once it is down to `base`, or
 * after 5 s (a leaked thread never leaves). */
static inline int threads_after_join(int base) {
    wait_threads_at_most(base, 5 * TU_SEC);
    return count_threads();
}

static inline int baseline_threads(void) { return threads_after_join(1); }

/* Counts threads whose name (comm) starts with `prefix`; if `names` is not
 * NULL, appends each full name and a space to it (capacity cap). */
static inline int threads_named(const char *prefix, char *names, size_t cap) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    if (names && cap) names[0] = 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[300], comm[64] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(comm, sizeof comm, f)) {
            comm[strcspn(comm, "\n")] = 0;
            if (strncmp(comm, prefix, strlen(prefix)) == 0) {
                n++;
                if (names && strlen(names) + strlen(comm) + 2 < cap) {
                    strcat(names, comm);
                    strcat(names, " ");
                }
            }
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* ---- futures -------------------------------------------------------------- */

/* The int64 value of a finished future (tasks set malloc'ed int64 values). */
static inline int64_t result_i64(fut_future *f) {
    void *p = NULL;
    size_t len = 0;
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, &p, &len));
    CHECK(p != NULL);
    CHECK_EQ(len, sizeof(int64_t));
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* A thread pool of `max_workers` (0: the default) whose threads are named
 * `prefix`_N (NULL: the default prefix). */
TU_UNUSED static fut_executor *pool_named(size_t max_workers, const char *prefix) {
    fut_thread_pool_options o;
    CHECK_OK(fut_thread_pool_options_init(&o));
    o.max_workers = max_workers;
    o.thread_name_prefix = prefix;
    fut_executor *ex = NULL;
    CHECK_OK(fut_thread_pool_new(&o, &ex));
    return ex;
}

#endif /* POOL_TEST_UTIL_H */
