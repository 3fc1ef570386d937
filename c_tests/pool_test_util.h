/* pool_test_util.h: small helpers for the executor tests (header-only).
 *
 * - CHECK* macros print the failing expression and exit(1).
 * - Every blocking helper takes a deadline (TEST_TIMEOUT_NS, 30 s): a bug
 *   fails the test instead of hanging it.
 * - Synchronisation is by latches, pipes and futures, never by sleeping.
 * - FUT_TEST_SCALE (e.g. 0.1) scales loop sizes down for valgrind.
 * - RUN(test) runs one test under a SIGALRM watchdog that names it.
 */
#ifndef POOL_TEST_UTIL_H
#define POOL_TEST_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <futures.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TEST_TIMEOUT_NS (30LL * 1000000000LL)
#define TEST_TIMEOUT_MS 30000

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define CHECK_EQ(a, b)                                                                  \
    do {                                                                                \
        long long a_ = (long long)(a), b_ = (long long)(b);                             \
        if (a_ != b_) {                                                                 \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", __FILE__, \
                    __LINE__, #a, #b, a_, b_);                                          \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

/* Status comparison that prints the names. */
#define CHECK_ST(expr, want)                                                             \
    do {                                                                                 \
        fut_status got_ = (expr), want_ = (want);                                        \
        if (got_ != want_) {                                                             \
            fprintf(stderr, "%s:%d: %s answered %s, expected %s\n", __FILE__, __LINE__, \
                    #expr, fut_status_str(got_), fut_status_str(want_));                 \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

#define CHECK_OK(expr) CHECK_ST(expr, FUT_OK)

/* ---- scale ---------------------------------------------------------------- */

static inline double test_scale(void) {
    const char *s = getenv("FUT_TEST_SCALE");
    if (!s || !*s) return 1.0;
    double v = atof(s);
    return v > 0 ? v : 1.0;
}

/* n scaled by FUT_TEST_SCALE, at least `floor`. */
static inline size_t scaled(size_t n, size_t floor) {
    size_t v = (size_t)((double)n * test_scale());
    return v < floor ? floor : v;
}

/* ---- time ----------------------------------------------------------------- */

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void abs_deadline(struct timespec *ts, int64_t timeout_ns) {
    int64_t t = now_ns() + timeout_ns;
    ts->tv_sec = (time_t)(t / 1000000000LL);
    ts->tv_nsec = (long)(t % 1000000000LL);
}

/* ---- latch: count down to zero, wait with a deadline ------------------------ */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long count;
} latch_t;

static inline void latch_init(latch_t *l, long count) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, &a);
    pthread_condattr_destroy(&a);
    l->count = count;
}

static inline void latch_destroy(latch_t *l) {
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
}

static inline void latch_count_down(latch_t *l) {
    pthread_mutex_lock(&l->mu);
    if (l->count > 0 && --l->count == 0) pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* 1 when the count reached zero, 0 on timeout. */
static inline int latch_wait_ns(latch_t *l, int64_t timeout_ns) {
    struct timespec ts;
    abs_deadline(&ts, timeout_ns);
    pthread_mutex_lock(&l->mu);
    int rc = 0;
    while (l->count > 0 && rc == 0) rc = pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    int ok = l->count == 0;
    pthread_mutex_unlock(&l->mu);
    return ok;
}

static inline int latch_wait(latch_t *l) { return latch_wait_ns(l, TEST_TIMEOUT_NS); }

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
    int64_t end = now_ns() + (int64_t)timeout_ms * 1000000LL;
    for (;;) {
        int64_t left = (end - now_ns()) / 1000000LL;
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

static inline int count_threads(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Polls /proc/self/task until at most `n` threads remain (threads that were
 * detached exit on their own time); 1 when reached within the timeout. */
static inline int wait_threads_at_most(int n, int64_t timeout_ns) {
    int64_t end = now_ns() + timeout_ns;
    while (count_threads() > n) {
        if (now_ns() > end) return 0;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 1;
}

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
    CHECK_OK(fut_future_result(f, TEST_TIMEOUT_NS, &p, &len));
    CHECK(p != NULL);
    CHECK_EQ(len, sizeof(int64_t));
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* ---- running tests under a watchdog --------------------------------------- */

static const char *volatile test_current_name = "?";

static void test_alarm(int sig) {
    (void)sig;
    const char *msg = "watchdog: test hung: ";
    ssize_t r = write(2, msg, strlen(msg));
    r = write(2, test_current_name, strlen(test_current_name));
    r = write(2, "\n", 1);
    (void)r;
    _exit(2);
}

static inline void test_watchdog(unsigned seconds) {
    signal(SIGALRM, test_alarm);
    alarm(seconds);
}

/* Each test gets 100 s before the watchdog kills the program (CTest's own
 * limit is 120 s per program). */
#define RUN(fn)                                   \
    do {                                          \
        test_current_name = #fn;                  \
        test_watchdog(100);                       \
        int64_t t0_ = now_ns();                   \
        fn();                                     \
        alarm(0);                                 \
        printf("ok   %-52s %7.1f ms\n", #fn,      \
               (double)(now_ns() - t0_) / 1e6);   \
        fflush(stdout);                           \
    } while (0)

#endif /* POOL_TEST_UTIL_H */
