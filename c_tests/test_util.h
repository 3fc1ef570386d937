/*
 * test_util.h — header-only helpers for the libfutures C test programs.
 *
 * Include this header FIRST in every C test file (before any system header and before
 * <futures.h>): it selects POSIX.1-2008 so that the tests build with a strict -std=c11.
 *
 * What it gives:
 *   - CHECK / CHECK_EQ / CHECK_NE / CHECK_PTR_EQ / CHECK_STR_EQ / CHECK_ST / CHECK_OK: on failure they
 *     print "FAIL <test>: file:line: ..." plus the summary line and end the process with
 *     status 1 (from any thread; the first failure wins).
 *   - tu_now_ns(): monotonic clock in nanoseconds; tu_sleep_ms().
 *   - tu_latch (count-down latch) and tu_barrier (cyclic barrier), both with a timeout
 *     (TU_SYNC_TIMEOUT_NS, 30 s): a wait that times out fails the test instead of hanging.
 *   - SPAWN(fn, arg) / tu_join(t): thread helpers that fail the test on error.
 *   - TEST(name) { ... }: registers a test; tu_main(argc, argv) runs them in source order,
 *     prints "ok <name>" per test and finally "N passed, N failed" alone on a line.
 *     Optional argv[1..]: "WORD" runs only the tests whose name contains one of the words,
 *     "-WORD" skips the tests whose name contains WORD.
 *     Each test runs under a watchdog (SIGALRM, TU_TEST_WATCHDOG_S) that names the test
 *     that hangs. Programs whose tests take arguments use tu_test_begin/tu_test_end around
 *     each call and end with tu_summary().
 *   - tu_scaled(n, min): n times the factor in env FUT_TEST_SCALE (default 1), at least min.
 *   - tu_rng: a small deterministic PRNG; the seed is printed as "# seed: N" and can be
 *     forced with env FUT_TEST_SEED.
 *   - tu_value: a heap value whose destructor (tu_value_drop) counts in an atomic counter.
 *   - tu_log_capture (log hook), tu_count_dir (/proc/self/task, /proc/self/fd).
 * C++ (GoogleTest) programs may include it too: all but TEST/tu_main, which GoogleTest
 * provides.
 */
#ifndef FUT_TEST_UTIL_H
#define FUT_TEST_UTIL_H

#if !defined(_POSIX_C_SOURCE) || (_POSIX_C_SOURCE < 200809L)
#undef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#ifdef __cplusplus
#include <atomic>
using std::atomic_fetch_add;
using std::atomic_int;
#else
#include <stdatomic.h>
#include <stdbool.h>
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <futures.h>

/* ------------------------------------------------------------------------------------------ */
/* Constants                                                                                  */
/* ------------------------------------------------------------------------------------------ */

#define TU_MS ((int64_t)1000000)
#define TU_SEC ((int64_t)1000000000)
/* Finite timeout used for blocking calls that are expected to return long before it. */
#define TU_LONG_TIMEOUT_NS (30 * TU_SEC)
#define TU_LONG_TIMEOUT_MS ((int)(TU_LONG_TIMEOUT_NS / TU_MS))
/* How long a latch/barrier wait may take before the test is declared hung. */
#define TU_SYNC_TIMEOUT_NS (30 * TU_SEC)
/* Per-test watchdog, below CTest's 120 s limit for the whole program. */
#define TU_TEST_WATCHDOG_S 110u

#define TU_UNUSED __attribute__((unused))

/* ------------------------------------------------------------------------------------------ */
/* Failure reporting                                                                          */
/* ------------------------------------------------------------------------------------------ */

static pthread_mutex_t tu_fail_lock TU_UNUSED = PTHREAD_MUTEX_INITIALIZER;
static const char *volatile tu_current_test TU_UNUSED = "(none)";
static volatile int tu_passed_count TU_UNUSED = 0;

static inline void tu_print_failure_summary(void)
{
    printf("%d passed, 1 failed\n", tu_passed_count);
    fflush(stdout);
    fflush(stderr);
}

__attribute__((noreturn, format(printf, 3, 4))) static inline void
tu_fail(const char *file, int line, const char *fmt, ...)
{
    pthread_mutex_lock(&tu_fail_lock); /* never unlocked: the first failure ends the process */
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "FAIL %s: %s:%d: ", tu_current_test, file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    printf("FAIL %s (%s:%d)\n", tu_current_test, file, line);
    tu_print_failure_summary();
    _exit(1);
}

static inline const char *tu_st(fut_status s)
{
    const char *n = fut_status_str(s);
    return n ? n : "(null)";
}

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            tu_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                   \
    do {                                                                                       \
        if (!(cond))                                                                           \
            tu_fail(__FILE__, __LINE__, __VA_ARGS__);                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                         \
    do {                                                                                       \
        long long tu_a_ = (long long)(a);                                                      \
        long long tu_b_ = (long long)(b);                                                      \
        if (tu_a_ != tu_b_)                                                                    \
            tu_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s) failed: %lld != %lld", #a, #b,       \
                    tu_a_, tu_b_);                                                             \
    } while (0)

#define CHECK_NE(a, b)                                                                         \
    do {                                                                                       \
        long long tu_a_ = (long long)(a);                                                      \
        long long tu_b_ = (long long)(b);                                                      \
        if (tu_a_ == tu_b_)                                                                    \
            tu_fail(__FILE__, __LINE__, "CHECK_NE(%s, %s) failed: both %lld", #a, #b, tu_a_);  \
    } while (0)

#define CHECK_GE(a, b)                                                                         \
    do {                                                                                       \
        long long tu_a_ = (long long)(a);                                                      \
        long long tu_b_ = (long long)(b);                                                      \
        if (!(tu_a_ >= tu_b_))                                                                 \
            tu_fail(__FILE__, __LINE__, "CHECK_GE(%s, %s) failed: %lld < %lld", #a, #b, tu_a_, \
                    tu_b_);                                                                    \
    } while (0)

#define CHECK_LT(a, b)                                                                         \
    do {                                                                                       \
        long long tu_a_ = (long long)(a);                                                      \
        long long tu_b_ = (long long)(b);                                                      \
        if (!(tu_a_ < tu_b_))                                                                  \
            tu_fail(__FILE__, __LINE__, "CHECK_LT(%s, %s) failed: %lld >= %lld", #a, #b,       \
                    tu_a_, tu_b_);                                                             \
    } while (0)

#define CHECK_PTR_EQ(a, b)                                                                     \
    do {                                                                                       \
        const void *tu_a_ = (const void *)(a);                                                 \
        const void *tu_b_ = (const void *)(b);                                                 \
        if (tu_a_ != tu_b_)                                                                    \
            tu_fail(__FILE__, __LINE__, "CHECK_PTR_EQ(%s, %s) failed: %p != %p", #a, #b,       \
                    tu_a_, tu_b_);                                                             \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                     \
    do {                                                                                       \
        const char *tu_a_ = (a);                                                               \
        const char *tu_b_ = (b);                                                               \
        if (tu_a_ == NULL || tu_b_ == NULL || strcmp(tu_a_, tu_b_) != 0)                       \
            tu_fail(__FILE__, __LINE__, "CHECK_STR_EQ(%s, %s) failed: \"%s\" != \"%s\"", #a,   \
                    #b, tu_a_ ? tu_a_ : "(null)", tu_b_ ? tu_b_ : "(null)");                   \
    } while (0)

/* CHECK_ST(expr, expected): a fut_status, printed by name on mismatch. */
#define CHECK_ST(expr, expected)                                                               \
    do {                                                                                       \
        fut_status tu_got_ = (expr);                                                           \
        fut_status tu_exp_ = (expected);                                                       \
        if (tu_got_ != tu_exp_)                                                                \
            tu_fail(__FILE__, __LINE__, "%s returned %s (%d), expected %s (%d)", #expr,        \
                    tu_st(tu_got_), (int)tu_got_, tu_st(tu_exp_), (int)tu_exp_);               \
    } while (0)

#define CHECK_OK(expr) CHECK_ST(expr, FUT_OK)

/* ------------------------------------------------------------------------------------------ */
/* Time                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static inline int64_t tu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * TU_SEC + (int64_t)ts.tv_nsec;
}

static inline struct timespec tu_abs_deadline(int64_t timeout_ns)
{
    int64_t t = tu_now_ns() + timeout_ns;
    struct timespec ts;
    ts.tv_sec = (time_t)(t / TU_SEC);
    ts.tv_nsec = (long)(t % TU_SEC);
    return ts;
}

/* Sleeps at least ms milliseconds. Only ever used to make a race likely, never for
 * correctness. */
static inline void tu_sleep_ms(int64_t ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms % 1000) * TU_MS);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static inline void tu_cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

/* ------------------------------------------------------------------------------------------ */
/* Latch                                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef struct tu_latch {
    pthread_mutex_t m;
    pthread_cond_t c;
    long count;
} tu_latch;

static inline void tu_latch_init(tu_latch *l, long count)
{
    pthread_mutex_init(&l->m, NULL);
    tu_cond_init_monotonic(&l->c);
    l->count = count;
}

static inline void tu_latch_destroy(tu_latch *l)
{
    pthread_cond_destroy(&l->c);
    pthread_mutex_destroy(&l->m);
}

static inline void tu_latch_count_down(tu_latch *l)
{
    pthread_mutex_lock(&l->m);
    if (l->count > 0 && --l->count == 0)
        pthread_cond_broadcast(&l->c);
    pthread_mutex_unlock(&l->m);
}

/* Non-failing probe: true once the count reached zero. */
static inline bool tu_latch_is_open(tu_latch *l)
{
    pthread_mutex_lock(&l->m);
    bool open = l->count == 0;
    pthread_mutex_unlock(&l->m);
    return open;
}

/* Returns true when the latch opened, false after timeout_ns. */
static inline bool tu_latch_wait_for(tu_latch *l, int64_t timeout_ns)
{
    struct timespec dl = tu_abs_deadline(timeout_ns);
    bool ok = true;
    pthread_mutex_lock(&l->m);
    while (l->count > 0) {
        int rc = pthread_cond_timedwait(&l->c, &l->m, &dl);
        if (rc == ETIMEDOUT && l->count > 0) {
            ok = false;
            break;
        }
    }
    pthread_mutex_unlock(&l->m);
    return ok;
}

static inline void tu_latch_wait_at(tu_latch *l, const char *file, int line)
{
    if (!tu_latch_wait_for(l, TU_SYNC_TIMEOUT_NS))
        tu_fail(file, line, "latch wait timed out after %lld s", (long long)(TU_SYNC_TIMEOUT_NS / TU_SEC));
}

#define LATCH_WAIT(l) tu_latch_wait_at((l), __FILE__, __LINE__)

/* ------------------------------------------------------------------------------------------ */
/* Barrier (cyclic)                                                                           */
/* ------------------------------------------------------------------------------------------ */

typedef struct tu_barrier {
    pthread_mutex_t m;
    pthread_cond_t c;
    unsigned parties;
    unsigned waiting;
    unsigned long generation;
} tu_barrier;

static inline void tu_barrier_init(tu_barrier *b, unsigned parties)
{
    pthread_mutex_init(&b->m, NULL);
    tu_cond_init_monotonic(&b->c);
    b->parties = parties;
    b->waiting = 0;
    b->generation = 0;
}

static inline void tu_barrier_destroy(tu_barrier *b)
{
    pthread_cond_destroy(&b->c);
    pthread_mutex_destroy(&b->m);
}

static inline void tu_barrier_wait_at(tu_barrier *b, const char *file, int line)
{
    struct timespec dl = tu_abs_deadline(TU_SYNC_TIMEOUT_NS);
    pthread_mutex_lock(&b->m);
    unsigned long gen = b->generation;
    if (++b->waiting == b->parties) {
        b->waiting = 0;
        b->generation++;
        pthread_cond_broadcast(&b->c);
        pthread_mutex_unlock(&b->m);
        return;
    }
    while (gen == b->generation) {
        int rc = pthread_cond_timedwait(&b->c, &b->m, &dl);
        if (rc == ETIMEDOUT && gen == b->generation) {
            pthread_mutex_unlock(&b->m);
            tu_fail(file, line, "barrier wait timed out after %lld s",
                    (long long)(TU_SYNC_TIMEOUT_NS / TU_SEC));
        }
    }
    pthread_mutex_unlock(&b->m);
}

#define BARRIER_WAIT(b) tu_barrier_wait_at((b), __FILE__, __LINE__)

/* ------------------------------------------------------------------------------------------ */
/* Threads                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static inline pthread_t tu_spawn_at(void *(*fn)(void *), void *arg, const char *file, int line)
{
    pthread_t t;
    int rc = pthread_create(&t, NULL, fn, arg);
    if (rc != 0)
        tu_fail(file, line, "pthread_create failed: %s", strerror(rc));
    return t;
}

#define SPAWN(fn, arg) tu_spawn_at((fn), (arg), __FILE__, __LINE__)

static inline void tu_join_at(pthread_t t, const char *file, int line)
{
    int rc = pthread_join(t, NULL);
    if (rc != 0)
        tu_fail(file, line, "pthread_join failed: %s", strerror(rc));
}

#define JOIN(t) tu_join_at((t), __FILE__, __LINE__)

/* ------------------------------------------------------------------------------------------ */
/* Scale, random numbers                                                                      */
/* ------------------------------------------------------------------------------------------ */

static inline double tu_scale(void)
{
    const char *s = getenv("FUT_TEST_SCALE");
    if (!s || !*s)
        return 1.0;
    double v = strtod(s, NULL);
    if (!(v > 0.0))
        return 1.0;
    if (v > 100.0)
        v = 100.0;
    return v;
}

static inline size_t tu_scaled(size_t n, size_t min)
{
    double v = (double)n * tu_scale();
    size_t r = (size_t)v;
    return r < min ? min : r;
}

typedef struct tu_rng {
    uint64_t s;
} tu_rng;

static uint64_t tu_seed_value TU_UNUSED = 0;

static inline void tu_rng_init(tu_rng *r, uint64_t salt)
{
    r->s = (tu_seed_value ^ (salt * 0x9E3779B97F4A7C15ull)) | 1u;
}

static inline uint64_t tu_rand(tu_rng *r)
{
    /* xorshift64* */
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline size_t tu_rand_below(tu_rng *r, size_t n)
{
    return n ? (size_t)(tu_rand(r) % n) : 0;
}

static inline void tu_shuffle(size_t *a, size_t n, tu_rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = tu_rand_below(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Counted values                                                                             */
/* ------------------------------------------------------------------------------------------ */

typedef struct tu_value {
    atomic_int *drops; /* incremented by tu_value_drop */
    int payload;
} tu_value;

static inline tu_value *tu_value_new(atomic_int *drops, int payload)
{
    tu_value *v = (tu_value *)malloc(sizeof *v);
    if (!v)
        tu_fail(__FILE__, __LINE__, "out of memory");
    v->drops = drops;
    v->payload = payload;
    return v;
}

static inline void tu_value_drop(void *p)
{
    tu_value *v = (tu_value *)p;
    atomic_fetch_add(v->drops, 1);
    free(v);
}

/* Creates a PENDING future or fails the test. */
static inline fut_future *tu_future_new_at(const char *file, int line)
{
    fut_future *f = NULL;
    fut_status s = fut_future_new(&f);
    if (s != FUT_OK || f == NULL)
        tu_fail(file, line, "fut_future_new returned %s", tu_st(s));
    return f;
}

#define NEW_FUTURE() tu_future_new_at(__FILE__, __LINE__)

/* A promise-style future brought into one situation (F1): a success holds (NULL, 0), a
 * failure code 1 and message "failed". */
enum tu_kind { TU_PENDING, TU_RUNNING, TU_OK, TU_FAILED, TU_CANCELLED, TU_CANCELLED_NOTIFIED };

static inline fut_future *tu_future_in(enum tu_kind k)
{
    fut_future *f = NEW_FUTURE();
    switch (k) {
    case TU_PENDING:
        break;
    case TU_RUNNING:
        CHECK(fut_future_set_running_or_notify_cancel(f));
        break;
    case TU_OK:
        CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
        break;
    case TU_FAILED:
        CHECK_ST(fut_future_set_exception(f, 1, "failed"), FUT_OK);
        break;
    case TU_CANCELLED:
        CHECK(fut_future_cancel(f));
        break;
    case TU_CANCELLED_NOTIFIED:
        CHECK(fut_future_cancel(f));
        CHECK(!fut_future_set_running_or_notify_cancel(f));
        break;
    }
    return f;
}

static inline void tu_release_all(fut_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fut_future_release(fs[i]);
}

/* ------------------------------------------------------------------------------------------ */
/* Log hook capture                                                                           */
/* ------------------------------------------------------------------------------------------ */

typedef struct tu_log_capture {
    pthread_mutex_t m;
    int count;
    char last[1024];
} tu_log_capture;

#define TU_LOG_CAPTURE_INITIALIZER {PTHREAD_MUTEX_INITIALIZER, 0, {0}}

static inline void tu_log_capture_init(tu_log_capture *c)
{
    pthread_mutex_init(&c->m, NULL);
    c->count = 0;
    c->last[0] = '\0';
}

static inline void tu_log_capture_fn(const char *message, void *user)
{
    tu_log_capture *c = (tu_log_capture *)user;
    pthread_mutex_lock(&c->m);
    c->count++;
    snprintf(c->last, sizeof c->last, "%s", message ? message : "(null)");
    pthread_mutex_unlock(&c->m);
}

static inline int tu_log_capture_count(tu_log_capture *c)
{
    pthread_mutex_lock(&c->m);
    int n = c->count;
    pthread_mutex_unlock(&c->m);
    return n;
}

/* True when the last message contains needle. */
static inline bool tu_log_capture_last_contains(tu_log_capture *c, const char *needle)
{
    pthread_mutex_lock(&c->m);
    bool r = strstr(c->last, needle) != NULL;
    pthread_mutex_unlock(&c->m);
    return r;
}

static inline void tu_log_capture_destroy(tu_log_capture *c)
{
    pthread_mutex_destroy(&c->m);
}

/* ------------------------------------------------------------------------------------------ */
/* /proc                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Entries of a directory other than "." and "..", or -1 when it cannot be opened; on
 * /proc/self/task the threads of this process, on /proc/self/fd its file descriptors. */
static inline int tu_count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n;
}

#ifndef __cplusplus /* C++ tests use GoogleTest's TEST and runner */
/* ------------------------------------------------------------------------------------------ */
/* Test registry                                                                              */
/* ------------------------------------------------------------------------------------------ */

typedef struct tu_test {
    const char *name;
    void (*fn)(void);
    int line;
} tu_test;

#define TU_MAX_TESTS 512
static tu_test tu_tests[TU_MAX_TESTS] TU_UNUSED;
static int tu_ntests TU_UNUSED = 0;

static inline void tu_register(const char *name, void (*fn)(void), int line)
{
    if (tu_ntests >= TU_MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        abort();
    }
    tu_tests[tu_ntests].name = name;
    tu_tests[tu_ntests].fn = fn;
    tu_tests[tu_ntests].line = line;
    tu_ntests++;
}

#define TEST(name)                                                                             \
    static void name(void);                                                                    \
    __attribute__((constructor)) static void tu_register_##name(void)                          \
    {                                                                                          \
        tu_register(#name, name, __LINE__);                                                    \
    }                                                                                          \
    static void name(void)

static inline void tu_write_str(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static inline void tu_watchdog_handler(int sig)
{
    (void)sig;
    char num[32];
    int v = tu_passed_count, i = (int)sizeof num - 1;
    num[i] = '\0';
    do {
        num[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && i > 0);
    tu_write_str("\nFAIL ");
    tu_write_str(tu_current_test);
    tu_write_str(": watchdog: the test did not finish in time (hang?)\n");
    tu_write_str(&num[i]);
    tu_write_str(" passed, 1 failed\n");
    _exit(1);
}

/* Starts one test: names it for failure messages and arms the watchdog. Returns the start
 * time for tu_test_end. Programs whose tests take arguments call this pair themselves;
 * tu_main calls it for every TEST. */
static inline int64_t tu_test_begin(const char *name)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tu_watchdog_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    tu_current_test = name;
    alarm(TU_TEST_WATCHDOG_S);
    return tu_now_ns();
}

/* Ends the test tu_test_begin started: disarms the watchdog, counts it, prints "ok NAME". */
static inline void tu_test_end(int64_t t0)
{
    alarm(0);
    tu_passed_count++;
    if (getenv("FUT_TEST_TIMING") != NULL)
        printf("ok %s  # %.1f ms\n", tu_current_test, (double)(tu_now_ns() - t0) / 1e6);
    else
        printf("ok %s\n", tu_current_test);
    fflush(stdout);
}

/* Prints the final "N passed, 0 failed" line (failures never get here); returns 0. */
static inline int tu_summary(void)
{
    tu_current_test = "(after tests)";
    printf("%d passed, 0 failed\n", tu_passed_count);
    fflush(stdout);
    return 0;
}

static inline int tu_cmp_tests(const void *a, const void *b)
{
    const tu_test *x = (const tu_test *)a, *y = (const tu_test *)b;
    return (x->line > y->line) - (x->line < y->line);
}

/* argv: "WORD" selects the tests whose name contains WORD (any of them; all if none given),
 * "-WORD" excludes the tests whose name contains WORD. */
static inline bool tu_selected(const char *name, int argc, char **argv)
{
    bool any_include = false, included = false;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            if (argv[i][1] != '\0' && strstr(name, argv[i] + 1))
                return false;
        } else {
            any_include = true;
            if (strstr(name, argv[i]))
                included = true;
        }
    }
    return !any_include || included;
}

static inline int tu_main(int argc, char **argv)
{
    const char *seed = getenv("FUT_TEST_SEED");
    tu_seed_value = (seed && *seed) ? strtoull(seed, NULL, 0) : (uint64_t)tu_now_ns();
    printf("# seed: %llu (set FUT_TEST_SEED to repeat), scale: %g\n",
           (unsigned long long)tu_seed_value, tu_scale());

    qsort(tu_tests, (size_t)tu_ntests, sizeof tu_tests[0], tu_cmp_tests);
    for (int i = 0; i < tu_ntests; i++) {
        if (!tu_selected(tu_tests[i].name, argc, argv))
            continue;
        int64_t t0 = tu_test_begin(tu_tests[i].name);
        tu_tests[i].fn();
        tu_test_end(t0);
    }
    return tu_summary();
}

#endif /* !__cplusplus */

#endif /* FUT_TEST_UTIL_H */
