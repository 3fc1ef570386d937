/*
 * test_core_invalid.c — invalid handles and arguments (docs/api.md Conventions, Status codes;
 * X1, X6, X7, X8, W10).
 *
 * Invalid handles: NULL, a handle whose last reference was released (detectable because the
 * library uses type-stable memory, as long as no new handle of that type was created between
 * the release and the check), and a handle of another type (an fut_as_completed* cast to
 * fut_future* and the reverse). No arbitrary garbage pointers.
 */
#include "test_util.h"

static atomic_int g_drops;
static atomic_int g_callback_calls;

static void counting_drop(void *p)
{
    (void)p;
    atomic_fetch_add(&g_drops, 1);
}

static void counting_cb(fut_future *f, void *user)
{
    (void)f;
    (void)user;
    atomic_fetch_add(&g_callback_calls, 1);
}

static int g_payload = 1;

/* Calls every future function on an invalid handle and checks the clear refusal, no
 * callback call, no destructor call, outputs untouched. */
static void check_invalid_future_at(const char *file, int line, fut_future *bad)
{
#define EXPECT(cond)                                                                           \
    do {                                                                                       \
        if (!(cond))                                                                           \
            tu_fail(file, line, "invalid future %p: CHECK(%s) failed", (void *)bad, #cond);    \
    } while (0)
#define EXPECT_ST(expr, want)                                                                  \
    do {                                                                                       \
        fut_status got_ = (expr);                                                              \
        if (got_ != (want))                                                                    \
            tu_fail(file, line, "invalid future %p: %s returned %s, expected %s",            \
                    (void *)bad, #expr, tu_st(got_), tu_st(want));                             \
    } while (0)

    int drops0 = atomic_load(&g_drops), calls0 = atomic_load(&g_callback_calls);
    EXPECT(fut_future_retain(bad) == NULL);
    EXPECT(!fut_future_cancel(bad));
    EXPECT(!fut_future_cancelled(bad));
    EXPECT(!fut_future_running(bad));
    EXPECT(!fut_future_done(bad));
    EXPECT(fut_future_state(bad) == FUT_STATE_INVALID);

    void *ptr = (void *)&ptr;
    size_t len = 4242;
    EXPECT_ST(fut_future_result(bad, 0, &ptr, &len), FUT_ERR_INVALID_ARGUMENT);
    EXPECT_ST(fut_future_result(bad, TU_LONG_TIMEOUT_NS, &ptr, &len), FUT_ERR_INVALID_ARGUMENT);
    EXPECT_ST(fut_future_result(bad, 0, NULL, NULL), FUT_ERR_INVALID_ARGUMENT);
    EXPECT(ptr == (void *)&ptr && len == 4242);

    fut_error_info info, sentinel;
    memset(&info, 0x5A, sizeof info);
    sentinel = info;
    EXPECT_ST(fut_future_exception(bad, 0, &info), FUT_ERR_INVALID_ARGUMENT);
    EXPECT_ST(fut_future_exception(bad, TU_LONG_TIMEOUT_NS, &info), FUT_ERR_INVALID_ARGUMENT);
    EXPECT(memcmp(&info, &sentinel, sizeof info) == 0);

    EXPECT_ST(fut_future_add_done_callback(bad, counting_cb, NULL), FUT_ERR_INVALID_ARGUMENT);
    EXPECT(!fut_future_set_running_or_notify_cancel(bad));
    EXPECT_ST(fut_future_set_result(bad, &g_payload, sizeof g_payload, counting_drop),
              FUT_ERR_INVALID_ARGUMENT);
    EXPECT_ST(fut_future_set_exception(bad, 1, "x"), FUT_ERR_INVALID_ARGUMENT);
    EXPECT_ST(fut_future_set_exception(bad, 0, NULL), FUT_ERR_INVALID_ARGUMENT);
    fut_future_release(bad); /* no-op */
    fut_future_release(bad);

    /* in arrays */
    fut_future *arr[1] = {bad};
    uint8_t flag = 0xAA;
    size_t n_done = 777;
    EXPECT_ST(fut_wait(arr, 1, 0, FUT_ALL_COMPLETED, &flag, &n_done), FUT_ERR_INVALID_ARGUMENT);
    EXPECT_ST(fut_wait(arr, 1, TU_LONG_TIMEOUT_NS, FUT_FIRST_COMPLETED, &flag, &n_done),
              FUT_ERR_INVALID_ARGUMENT);
    EXPECT(flag == 0xAA && n_done == 777);
    fut_as_completed *it = (fut_as_completed *)&flag; /* sentinel */
    EXPECT_ST(fut_as_completed_new(arr, 1, 0, &it), FUT_ERR_INVALID_ARGUMENT);
    EXPECT(it == (fut_as_completed *)&flag);

    EXPECT(atomic_load(&g_drops) == drops0);
    EXPECT(atomic_load(&g_callback_calls) == calls0);
#undef EXPECT
#undef EXPECT_ST
}

#define CHECK_INVALID_FUTURE(bad) check_invalid_future_at(__FILE__, __LINE__, (bad))

static void check_invalid_iterator_at(const char *file, int line, fut_as_completed *bad)
{
    size_t idx = 4242;
    fut_future *out = (fut_future *)&idx;
    fut_status s = fut_as_completed_next(bad, &idx, &out);
    if (s != FUT_ERR_INVALID_ARGUMENT)
        tu_fail(file, line, "fut_as_completed_next(invalid %p) returned %s", (void *)bad,
                tu_st(s));
    if (idx != 4242 || out != (fut_future *)&idx)
        tu_fail(file, line, "fut_as_completed_next(invalid) wrote its outputs");
    s = fut_as_completed_next(bad, NULL, &out);
    if (s != FUT_ERR_INVALID_ARGUMENT)
        tu_fail(file, line, "fut_as_completed_next(invalid %p, NULL, &out) returned %s",
                (void *)bad, tu_st(s));
    fut_as_completed_release(bad); /* no-op */
    fut_as_completed_release(bad);
}

#define CHECK_INVALID_ITERATOR(bad) check_invalid_iterator_at(__FILE__, __LINE__, (bad))

/* ------------------------------------------------------------------------------------------ */
/* Invalid future handles                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* X6 (docs/api.md Conventions): NULL future handle: every function refuses clearly. */
TEST(X6_null_future_handle)
{
    CHECK_INVALID_FUTURE(NULL);
}

/* X6: a future whose last reference was released (pending, finished with a value, failed,
 * cancelled) is refused by every function, without running callbacks or destructors again. */
TEST(X6_released_future_handle)
{
    for (int k = 0; k < 4; k++) {
        fut_future *f = NEW_FUTURE();
        CHECK_ST(fut_future_add_done_callback(f, counting_cb, NULL), FUT_OK);
        if (k == 1)
            CHECK_ST(fut_future_set_result(f, &g_payload, 1, counting_drop), FUT_OK);
        else if (k == 2)
            CHECK_ST(fut_future_set_exception(f, 1, "x"), FUT_OK);
        else if (k == 3)
            CHECK(fut_future_cancel(f));
        int calls = atomic_load(&g_callback_calls), drops = atomic_load(&g_drops);
        fut_future_release(f);
        /* the pending one was cancelled by its last release (X5) */
        CHECK_EQ(atomic_load(&g_callback_calls), calls + (k == 0 ? 1 : 0));
        CHECK_EQ(atomic_load(&g_drops), drops + (k == 1 ? 1 : 0));
        /* no new future is created before the checks */
        CHECK_INVALID_FUTURE(f);
    }
}

/* X6: a future released by another thread is invalid here too. */
static void *release_main(void *arg)
{
    fut_future_release((fut_future *)arg);
    return NULL;
}

TEST(X6_future_released_in_other_thread)
{
    fut_future *f = NEW_FUTURE();
    pthread_t t = SPAWN(release_main, f);
    JOIN(t);
    CHECK_INVALID_FUTURE(f);
}

/* X6 (docs/api.md: tags are per type): an fut_as_completed* passed as a future is refused, and the
 * iterator is unharmed afterwards. */
TEST(X6_iterator_passed_as_future_is_refused)
{
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    fut_as_completed *it = NULL;
    CHECK_ST(fut_as_completed_new(&f, 1, TU_LONG_TIMEOUT_NS, &it), FUT_OK);
    CHECK_INVALID_FUTURE((fut_future *)it);
    /* still a working iterator */
    size_t idx = 9;
    fut_future *out = NULL;
    CHECK_ST(fut_as_completed_next(it, &idx, &out), FUT_OK);
    CHECK_EQ(idx, 0);
    CHECK_PTR_EQ(out, f);
    fut_future_release(out);
    CHECK_ST(fut_as_completed_next(it, &idx, &out), FUT_END);
    fut_as_completed_release(it);
    fut_future_release(f);
}

/* ------------------------------------------------------------------------------------------ */
/* Invalid iterator handles                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* X8 X6: NULL iterator. */
TEST(X8_null_iterator_handle)
{
    CHECK_INVALID_ITERATOR(NULL);
}

/* X8 X6: a released iterator (at once, after some next(), after FUT_END, after a timeout) is
 * refused. */
TEST(X8_released_iterator_handle)
{
    for (int variant = 0; variant < 4; variant++) {
        fut_future *fs[2] = {NEW_FUTURE(), NEW_FUTURE()};
        CHECK_ST(fut_future_set_result(fs[0], NULL, 0, NULL), FUT_OK);
        fut_as_completed *it = NULL;
        CHECK_ST(fut_as_completed_new(fs, 2, variant == 3 ? 0 : TU_LONG_TIMEOUT_NS, &it),
                 FUT_OK);
        fut_future *out = NULL;
        if (variant >= 1) {
            CHECK_ST(fut_as_completed_next(it, NULL, &out), FUT_OK);
            fut_future_release(out);
        }
        if (variant == 2) {
            CHECK_ST(fut_future_set_result(fs[1], NULL, 0, NULL), FUT_OK);
            CHECK_ST(fut_as_completed_next(it, NULL, &out), FUT_OK);
            fut_future_release(out);
            CHECK_ST(fut_as_completed_next(it, NULL, &out), FUT_END);
        }
        if (variant == 3)
            CHECK_ST(fut_as_completed_next(it, NULL, &out), FUT_ERR_TIMEOUT);
        fut_as_completed_release(it);
        CHECK_INVALID_ITERATOR(it);
        /* the futures are intact */
        CHECK(fut_future_done(fs[0]));
        fut_future_release(fs[0]);
        fut_future_release(fs[1]);
    }
}

/* X6: a future passed as an iterator is refused, and the future is unharmed (a refused
 * release must not drop its reference). */
TEST(X6_future_passed_as_iterator_is_refused)
{
    fut_future *f = NEW_FUTURE();
    CHECK_INVALID_ITERATOR((fut_as_completed *)f);
    CHECK_EQ(fut_future_state(f), FUT_STATE_PENDING);
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_OK);
    fut_future_release(f);
}

/* ------------------------------------------------------------------------------------------ */
/* NULL pointers and optional outputs                                                         */
/* ------------------------------------------------------------------------------------------ */

/* docs/api.md Conventions: required out pointers are checked. */
TEST(X1_required_out_pointers)
{
    CHECK_ST(fut_future_new(NULL), FUT_ERR_INVALID_ARGUMENT);

    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    CHECK_ST(fut_as_completed_new(&f, 1, 0, NULL), FUT_ERR_INVALID_ARGUMENT);
    fut_as_completed *it = (fut_as_completed *)&f;
    CHECK_ST(fut_as_completed_new(NULL, 1, 0, &it), FUT_ERR_INVALID_ARGUMENT);
    CHECK_PTR_EQ(it, &f);
    fut_future *with_null[2] = {f, NULL};
    CHECK_ST(fut_as_completed_new(with_null, 2, 0, &it), FUT_ERR_INVALID_ARGUMENT);
    CHECK_PTR_EQ(it, &f);

    it = NULL;
    CHECK_ST(fut_as_completed_new(&f, 1, 0, &it), FUT_OK);
    size_t idx = 5;
    CHECK_ST(fut_as_completed_next(it, NULL, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_as_completed_next(it, &idx, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_EQ(idx, 5);
    /* the refused calls consumed nothing */
    fut_future *out = NULL;
    CHECK_ST(fut_as_completed_next(it, &idx, &out), FUT_OK);
    CHECK_EQ(idx, 0);
    CHECK_PTR_EQ(out, f);
    fut_future_release(out);
    fut_as_completed_release(it);

    /* a NULL callback is refused */
    CHECK_ST(fut_future_add_done_callback(f, NULL, NULL), FUT_ERR_INVALID_ARGUMENT);
    fut_future *g = NEW_FUTURE();
    CHECK_ST(fut_future_add_done_callback(g, NULL, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_EQ(fut_future_state(g), FUT_STATE_PENDING);
    fut_future_release(g);
    fut_future_release(f);
}

/* docs/api.md Conventions: optional outputs (result pointer, len, index, done_flags, n_done) may be
 * NULL. */
TEST(X1_optional_outputs_may_be_null)
{
    static char text[] = "abc";
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_set_result(f, text, 3, NULL), FUT_OK);
    CHECK_ST(fut_future_result(f, 0, NULL, NULL), FUT_OK);
    size_t len = 0;
    CHECK_ST(fut_future_result(f, 0, NULL, &len), FUT_OK);
    CHECK_EQ(len, 3);
    void *p = NULL;
    CHECK_ST(fut_future_result(f, 0, &p, NULL), FUT_OK);
    CHECK_PTR_EQ(p, text);
    CHECK_ST(fut_wait(&f, 1, 0, FUT_ALL_COMPLETED, NULL, NULL), FUT_OK);
    fut_as_completed *it = NULL;
    CHECK_ST(fut_as_completed_new(&f, 1, 0, &it), FUT_OK);
    fut_future *out = NULL;
    CHECK_ST(fut_as_completed_next(it, NULL, &out), FUT_OK);
    fut_future_release(out);
    fut_as_completed_release(it);
    fut_future_release(f);

    /* the same on pending / failed futures: refusals still clear, nothing written */
    fut_future *g = NEW_FUTURE();
    CHECK_ST(fut_future_result(g, 0, NULL, NULL), FUT_ERR_TIMEOUT);
    CHECK_ST(fut_future_set_exception(g, 1, NULL), FUT_OK);
    CHECK_ST(fut_future_result(g, 0, NULL, NULL), FUT_ERR_TASK_FAILED);
    fut_future_release(g);
}

/* fut_future_exception with a NULL info: whichever answer the library gives (it is not
 * promised), it must not crash and must not change the future. */
TEST(X1_exception_with_null_info_does_not_crash)
{
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_future_set_exception(f, 3, "x"), FUT_OK);
    fut_status s = fut_future_exception(f, 0, NULL);
    CHECK(s == FUT_OK || s == FUT_ERR_INVALID_ARGUMENT);
    fut_error_info info;
    CHECK_ST(fut_future_exception(f, 0, &info), FUT_OK);
    CHECK_EQ(info.code, 3);
    fut_future_release(f);
}

/* ------------------------------------------------------------------------------------------ */
/* Status codes, version, log hook                                                            */
/* ------------------------------------------------------------------------------------------ */

/* docs/api.md Status codes: FUT_OK == 0, FUT_END > 0, errors < 0, all distinct; fut_status_str
 * names every code (distinct non-empty names, never "unknown status") and says "unknown
 * status" for anything else. */
TEST(X1_status_codes_and_names)
{
    const fut_status codes[] = {
        FUT_OK,
        FUT_END,
        FUT_ERR_INVALID_ARGUMENT,
        FUT_ERR_TIMEOUT,
        FUT_ERR_CANCELLED,
        FUT_ERR_INVALID_STATE,
        FUT_ERR_TASK_FAILED,
        FUT_ERR_BROKEN_POOL,
        FUT_ERR_WORKER_DIED,
        FUT_ERR_TIME_LIMIT,
        FUT_ERR_SHUTDOWN,
        FUT_ERR_WOULD_DEADLOCK,
        FUT_ERR_NO_MEMORY,
        FUT_ERR_OS,
        FUT_ERR_INTERNAL,
        FUT_ERR_QUEUE_FULL, /* Q2 */
    };
    const size_t n = sizeof codes / sizeof codes[0];
    CHECK_EQ(FUT_OK, 0);
    CHECK(FUT_END > 0);
    for (size_t i = 2; i < n; i++)
        CHECK_MSG(codes[i] < 0, "error code #%zu is %d, not negative", i, (int)codes[i]);
    for (size_t i = 0; i < n; i++) {
        const char *name = fut_status_str(codes[i]);
        CHECK_MSG(name != NULL && name[0] != '\0', "no name for code %d", (int)codes[i]);
        CHECK_MSG(strcmp(name, "unknown status") != 0, "code %d named \"unknown status\"",
                  (int)codes[i]);
        CHECK_PTR_EQ(fut_status_str(codes[i]), name); /* static string */
        for (size_t j = 0; j < i; j++) {
            CHECK_MSG(codes[i] != codes[j], "codes #%zu and #%zu are both %d", i, j,
                      (int)codes[i]);
            CHECK_MSG(strcmp(name, fut_status_str(codes[j])) != 0, "codes %d and %d share \"%s\"",
                      (int)codes[i], (int)codes[j], name);
        }
    }
    const int64_t unknown[] = {INT32_MIN, INT32_MAX, -100000, 100000, 12345, -12345,
                               (int64_t)FUT_END + 1, (int64_t)FUT_ERR_INTERNAL - 1};
    for (size_t u = 0; u < sizeof unknown / sizeof unknown[0]; u++) {
        bool is_code = false;
        for (size_t i = 0; i < n; i++)
            is_code = is_code || codes[i] == unknown[u];
        if (is_code)
            continue;
        const char *name = fut_status_str((fut_status)unknown[u]);
        CHECK(name != NULL);
        CHECK_STR_EQ(name, "unknown status");
    }
}

/* docs/api.md Conventions: fut_version is a non-empty string (matching FUT_VERSION_* when the
 * header defines them as macros). */
TEST(X1_version_non_empty)
{
    const char *v = fut_version();
    CHECK(v != NULL);
    CHECK(strlen(v) > 0);
    CHECK_PTR_EQ(fut_version(), v);
#if defined(FUT_VERSION_MAJOR) && defined(FUT_VERSION_MINOR) && defined(FUT_VERSION_PATCH)
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", (int)FUT_VERSION_MAJOR, (int)FUT_VERSION_MINOR,
             (int)FUT_VERSION_PATCH);
    CHECK_MSG(strncmp(v, want, strlen(want)) == 0, "fut_version() \"%s\" vs macros \"%s\"", v,
              want);
#endif
}

/* X15: setting and resetting the log hook (NULL restores the default) never fails, also
 * from several threads at once. */
static void *hook_flipper(void *arg)
{
    tu_log_capture *cap = (tu_log_capture *)arg;
    for (int i = 0; i < 1000; i++) {
        fut_set_log_hook(tu_log_capture_fn, cap);
        fut_set_log_hook(NULL, NULL);
    }
    return NULL;
}

TEST(X15_log_hook_set_and_reset)
{
    tu_log_capture cap;
    tu_log_capture_init(&cap);
    fut_set_log_hook(NULL, NULL);
    fut_set_log_hook(NULL, &cap);
    pthread_t a = SPAWN(hook_flipper, &cap), b = SPAWN(hook_flipper, &cap);
    JOIN(a);
    JOIN(b);
    fut_set_log_hook(tu_log_capture_fn, &cap);
    fut_future *f = NEW_FUTURE();
    CHECK(fut_future_set_running_or_notify_cancel(f));
    CHECK(!fut_future_set_running_or_notify_cancel(f)); /* misuse: logged */
    CHECK_EQ(tu_log_capture_count(&cap), 1);
    fut_set_log_hook(NULL, NULL);
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    fut_future_release(f);
    tu_log_capture_destroy(&cap);
}

int main(int argc, char **argv)
{
    return tu_main(argc, argv);
}
