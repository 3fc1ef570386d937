/* Options structs grow by versions (T1, X1): a caller compiled against the first
 * header passes its struct_size, which stays accepted whatever later versions add; a
 * larger struct is accepted when the bytes this library does not know are zero; a
 * smaller one is refused. The v1 sizes are pinned here as literals (LP64). */
#include "test_util.h"

#include <stddef.h>
#include <string.h>

#define THREAD_POOL_OPTIONS_V1_SIZE 48
#define PROCESS_POOL_OPTIONS_V1_SIZE 72

_Static_assert(offsetof(fut_thread_pool_options, initializer_arg_len) + sizeof(size_t) ==
                   THREAD_POOL_OPTIONS_V1_SIZE,
               "the v1 fields of fut_thread_pool_options end at 48 bytes");
_Static_assert(offsetof(fut_process_pool_options, task_time_limit_ns) + sizeof(int64_t) ==
                   PROCESS_POOL_OPTIONS_V1_SIZE,
               "the v1 fields of fut_process_pool_options end at 72 bytes");

/* A struct of this header's fields followed by a tail a newer header might add. */
typedef struct {
    fut_thread_pool_options o;
    uint64_t tail[2];
} newer_thread_pool_options;

typedef struct {
    fut_process_pool_options o;
    uint64_t tail[2];
} newer_process_pool_options;

static int32_t noop(fut_task *t, const void *arg, size_t len)
{
    (void)t;
    (void)arg;
    (void)len;
    return 0;
}

static void run_one_task(fut_executor *ex)
{
    fut_future *f = NULL;
    CHECK_OK(fut_executor_submit(ex, noop, NULL, 0, NULL, &f));
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, NULL, NULL));
    fut_future_release(f);
}

static fut_status new_thread_pool(newer_thread_pool_options *n, size_t size)
{
    n->o.struct_size = size;
    fut_executor *ex = NULL;
    fut_status s = fut_thread_pool_new(&n->o, &ex);
    if (s == FUT_OK) {
        run_one_task(ex);
        fut_executor_release(ex);
    }
    return s;
}

/* T1: exactly the v1 size is accepted; a larger struct with a zero tail too, with a
 * non-zero tail refused; anything smaller refused. */
TEST(T1_thread_pool_options_v1_size_is_accepted)
{
    newer_thread_pool_options n;
    memset(&n, 0, sizeof n);
    CHECK_OK(fut_thread_pool_options_init(&n.o));
    CHECK_EQ(n.o.struct_size, sizeof(fut_thread_pool_options));
    n.o.max_workers = 1;
    CHECK_OK(new_thread_pool(&n, THREAD_POOL_OPTIONS_V1_SIZE));
    CHECK_OK(new_thread_pool(&n, sizeof n));
    n.tail[1] = 1;
    CHECK_ST(new_thread_pool(&n, sizeof n), FUT_ERR_INVALID_ARGUMENT);
    n.tail[1] = 0;
    CHECK_ST(new_thread_pool(&n, THREAD_POOL_OPTIONS_V1_SIZE - 8), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(new_thread_pool(&n, 0), FUT_ERR_INVALID_ARGUMENT);
}

static fut_status new_process_pool(newer_process_pool_options *n, size_t size)
{
    n->o.struct_size = size;
    fut_executor *ex = NULL;
    fut_status s = fut_process_pool_new(&n->o, &ex);
    if (s == FUT_OK) {
        run_one_task(ex);
        fut_executor_release(ex);
    }
    return s;
}

/* X1: the same for the process pool's options. */
TEST(X1_process_pool_options_v1_size_is_accepted)
{
    newer_process_pool_options n;
    memset(&n, 0, sizeof n);
    CHECK_OK(fut_process_pool_options_init(&n.o));
    CHECK_EQ(n.o.struct_size, sizeof(fut_process_pool_options));
    n.o.max_workers = 1;
    CHECK_OK(new_process_pool(&n, PROCESS_POOL_OPTIONS_V1_SIZE));
    CHECK_OK(new_process_pool(&n, sizeof n));
    n.tail[0] = 1;
    CHECK_ST(new_process_pool(&n, sizeof n), FUT_ERR_INVALID_ARGUMENT);
    n.tail[0] = 0;
    CHECK_ST(new_process_pool(&n, PROCESS_POOL_OPTIONS_V1_SIZE - 8), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(new_process_pool(&n, 8), FUT_ERR_INVALID_ARGUMENT);
}

/* X19: the first version's initializer (reached by its own name in parentheses, as a
 * program built against libfutures 0.1 calls it) writes only the first version's bytes;
 * the macro of this header initialises the whole struct; the sized initializer writes
 * exactly the size it is given and zeroes a newer header's tail. */
TEST(X19_options_init_writes_only_the_callers_size)
{
    union {
        fut_thread_pool_options o;
        unsigned char bytes[sizeof(fut_thread_pool_options) + 16];
    } t;
    memset(&t, 0xAB, sizeof t);
    CHECK_OK((fut_thread_pool_options_init)(&t.o));
    CHECK(t.o.struct_size == THREAD_POOL_OPTIONS_V1_SIZE);
    for (size_t i = THREAD_POOL_OPTIONS_V1_SIZE; i < sizeof t.bytes; i++)
        CHECK_MSG(t.bytes[i] == 0xAB, "byte %zu past the first version was written", i);
    CHECK_OK(fut_thread_pool_options_init(&t.o));
    CHECK(t.o.struct_size == sizeof(fut_thread_pool_options) && t.o.max_queued == 0);
    for (size_t i = sizeof(fut_thread_pool_options); i < sizeof t.bytes; i++)
        CHECK(t.bytes[i] == 0xAB);

    union {
        fut_process_pool_options o;
        unsigned char bytes[sizeof(fut_process_pool_options) + 16];
    } p;
    memset(&p, 0xAB, sizeof p);
    CHECK_OK((fut_process_pool_options_init)(&p.o));
    CHECK(p.o.struct_size == PROCESS_POOL_OPTIONS_V1_SIZE);
    for (size_t i = PROCESS_POOL_OPTIONS_V1_SIZE; i < sizeof p.bytes; i++)
        CHECK_MSG(p.bytes[i] == 0xAB, "byte %zu past the first version was written", i);
    CHECK_OK(fut_process_pool_options_init_sized(&p.o, sizeof p.bytes));
    CHECK(p.o.struct_size == sizeof p.bytes && p.o.worker_program == NULL);
    for (size_t i = sizeof(fut_process_pool_options); i < sizeof p.bytes; i++)
        CHECK(p.bytes[i] == 0);
    fut_executor *ex = NULL;
    CHECK_OK(fut_process_pool_new(&p.o, &ex)); /* a zero tail is accepted */
    run_one_task(ex);
    fut_executor_release(ex);
    CHECK_ST(fut_process_pool_options_init_sized(&p.o, PROCESS_POOL_OPTIONS_V1_SIZE - 8),
             FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_thread_pool_options_init_sized(NULL, sizeof t.o), FUT_ERR_INVALID_ARGUMENT);
}

int main(int argc, char **argv)
{
    return tu_main(argc, argv);
}
