/* The completion queue (our addition for event loops, API "Event-loop
 * integration"): futures attached to a queue are delivered through a
 * level-triggered descriptor and drained on the loop's own thread. */
#include "test_util.h"

#include <poll.h>
#include <sys/epoll.h>

static bool fd_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static int32_t return_index(fut_task *task, const void *arg, size_t len)
{
    (void)len;
    return fut_task_set_result(task, (void *)arg, 0, NULL) == FUT_OK ? 0 : 1;
}

/* X5/X13-style delivery: every completion of a thread pool reaches an epoll
 * loop exactly once, with its tag, and the fd goes quiet once drained. */
TEST(CQ_epoll_loop_gets_every_completion_once)
{
    size_t n = tu_scaled(2000, 50);
    fut_completion_queue *q = NULL;
    CHECK_ST(fut_completion_queue_new(&q), FUT_OK);
    int fd = fut_completion_queue_fd(q);
    CHECK(fd >= 0);
    CHECK(!fd_readable(fd, 0));

    fut_executor *ex = NULL;
    CHECK_ST(fut_thread_pool_new(NULL, &ex), FUT_OK);
    for (size_t i = 0; i < n; i++) {
        fut_future *f = NULL;
        CHECK_ST(fut_executor_submit(ex, return_index, (void *)(uintptr_t)(i + 1), 0, NULL, &f), FUT_OK);
        CHECK_ST(fut_completion_queue_attach(q, f, (void *)(uintptr_t)i), FUT_OK);
        fut_future_release(f); /* the queue and the pool keep theirs */
    }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);

    unsigned char *seen = calloc(n, 1);
    size_t got = 0;
    int64_t deadline = tu_now_ns() + TU_LONG_TIMEOUT_NS;
    while (got < n) {
        CHECK_MSG(tu_now_ns() < deadline, "only %zu of %zu completions arrived", got, n);
        struct epoll_event out;
        int r = epoll_wait(ep, &out, 1, 1000);
        if (r <= 0) continue;
        fut_completion batch[64];
        size_t k = 0;
        CHECK_ST(fut_completion_queue_drain(q, batch, 64, &k), FUT_OK);
        for (size_t j = 0; j < k; j++) {
            size_t i = (size_t)(uintptr_t)batch[j].user;
            CHECK(i < n);
            CHECK_MSG(!seen[i], "completion %zu delivered twice", i);
            seen[i] = 1;
            void *v = NULL;
            CHECK_ST(fut_future_result(batch[j].future, 0, &v, NULL), FUT_OK);
            CHECK_EQ((uintptr_t)v, (uintptr_t)(i + 1));
            fut_future_release(batch[j].future);
        }
        got += k;
    }
    CHECK(!fd_readable(fd, 0)); /* drained: quiet again */
    size_t k = 99;
    CHECK_ST(fut_completion_queue_drain(q, NULL, 0, &k), FUT_OK);
    CHECK_EQ(k, 0);
    free(seen);
    close(ep);
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
    fut_executor_release(ex);
    fut_completion_queue_release(q);
}

/* A future done before attach is queued at once; cancellation is a completion too. */
TEST(CQ_done_and_cancelled_futures_are_delivered)
{
    fut_completion_queue *q = NULL;
    CHECK_ST(fut_completion_queue_new(&q), FUT_OK);
    fut_future *a = NEW_FUTURE(), *b = NEW_FUTURE();
    CHECK_ST(fut_future_set_result(a, NULL, 3, NULL), FUT_OK);
    CHECK_ST(fut_completion_queue_attach(q, a, (void *)1), FUT_OK);
    CHECK(fd_readable(fut_completion_queue_fd(q), 0));
    CHECK_ST(fut_completion_queue_attach(q, b, (void *)2), FUT_OK);
    CHECK(fut_future_cancel(b));
    CHECK_ST(fut_completion_queue_wait(q, 0), FUT_OK);
    fut_completion out[4];
    size_t k = 0;
    CHECK_ST(fut_completion_queue_drain(q, out, 1, &k), FUT_OK);
    CHECK_EQ(k, 1);
    CHECK_PTR_EQ(out[0].future, a);
    CHECK_PTR_EQ(out[0].user, (void *)1);
    CHECK(fd_readable(fut_completion_queue_fd(q), 0)); /* one left */
    CHECK_ST(fut_completion_queue_drain(q, out, 4, &k), FUT_OK);
    CHECK_EQ(k, 1);
    CHECK(fut_future_cancelled(out[0].future));
    CHECK_ST(fut_completion_queue_wait(q, 0), FUT_ERR_TIMEOUT);
    fut_future_release(out[0].future);
    fut_future_release(a); /* the drained reference to a */
    fut_future_release(a);
    fut_future_release(b);
    fut_completion_queue_release(q);
}

/* A blocked wait is woken by a completion on another thread. */
static void *complete_later(void *f)
{
    fut_future_set_result(f, NULL, 0, NULL);
    return NULL;
}

TEST(CQ_wait_is_woken_by_another_thread)
{
    fut_completion_queue *q = NULL;
    CHECK_ST(fut_completion_queue_new(&q), FUT_OK);
    fut_future *f = NEW_FUTURE();
    CHECK_ST(fut_completion_queue_attach(q, f, NULL), FUT_OK);
    pthread_t t = SPAWN(complete_later, f);
    CHECK_ST(fut_completion_queue_wait(q, TU_LONG_TIMEOUT_NS), FUT_OK);
    JOIN(t);
    fut_completion c;
    size_t k = 0;
    CHECK_ST(fut_completion_queue_drain(q, &c, 1, &k), FUT_OK);
    CHECK_EQ(k, 1);
    fut_future_release(c.future);
    fut_future_release(f);
    fut_completion_queue_release(q);
}

/* Releasing the queue with futures still pending is safe: their later
 * completion releases everything (checked for leaks under ASan/valgrind). */
TEST(CQ_release_with_pending_attachments)
{
    fut_completion_queue *q = NULL;
    CHECK_ST(fut_completion_queue_new(&q), FUT_OK);
    fut_future *f = NEW_FUTURE(), *g = NEW_FUTURE();
    CHECK_ST(fut_completion_queue_attach(q, f, NULL), FUT_OK);
    CHECK_ST(fut_completion_queue_attach(q, g, NULL), FUT_OK);
    CHECK_ST(fut_future_set_result(g, NULL, 0, NULL), FUT_OK); /* queued, never drained */
    fut_completion_queue_release(q);
    CHECK_ST(fut_future_set_result(f, NULL, 0, NULL), FUT_OK);
    fut_future_release(f);
    fut_future_release(g);
}

/* Bad input gets a clear status. */
TEST(CQ_invalid_arguments)
{
    fut_completion_queue *q = NULL;
    CHECK_ST(fut_completion_queue_new(NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_completion_queue_new(&q), FUT_OK);
    fut_future *f = NEW_FUTURE();
    size_t k;
    fut_completion c;
    CHECK_EQ(fut_completion_queue_fd(NULL), -1);
    CHECK_EQ(fut_completion_queue_fd((fut_completion_queue *)f), -1);
    CHECK_ST(fut_completion_queue_attach(NULL, f, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_completion_queue_attach(q, NULL, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_completion_queue_attach((fut_completion_queue *)f, f, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_completion_queue_drain(q, &c, 1, NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_completion_queue_drain(q, NULL, 1, &k), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_completion_queue_wait(NULL, 0), FUT_ERR_INVALID_ARGUMENT);
    fut_completion_queue_release(q);
    CHECK_ST(fut_completion_queue_wait(q, 0), FUT_ERR_INVALID_ARGUMENT); /* released */
    fut_completion_queue_release(NULL);
    fut_future_release(f);
}

int main(int argc, char **argv)
{
    return tu_main(argc, argv);
}
