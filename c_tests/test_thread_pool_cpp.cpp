// The thread pool driven from C++ with lambdas through C trampolines
// (E1, E6, E10, E12, F12, F13, T3, T6, T9, W11, X5, X9).
// No C++ exception crosses the C boundary: the trampolines catch them.
#include <futures.h>
#include <gtest/gtest.h>

#include "test_latch.hpp"

#include <sys/prctl.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int64_t kTimeout = 30LL * 1000000000LL;  // every wait: 30 s

using TaskFn = std::function<int32_t(fut_task *)>;
using DoneFn = std::function<void(fut_future *)>;

int32_t task_trampoline(fut_task *t, const void *arg, size_t) noexcept {
    auto *fn = static_cast<const TaskFn *>(arg);
    try {
        return (*fn)(t);
    } catch (const std::exception &e) {
        fut_task_set_error(t, 0, e.what());
        return 1;
    } catch (...) {
        fut_task_set_error(t, 0, "unknown C++ exception");
        return 1;
    }
}

void delete_task(void *p) noexcept { delete static_cast<TaskFn *>(p); }

void done_trampoline(fut_future *f, void *user) noexcept {
    std::unique_ptr<DoneFn> fn(static_cast<DoneFn *>(user));  // runs exactly once
    try {
        (*fn)(f);
    } catch (...) {
    }
}

template <class T>
void delete_value(void *p) noexcept {
    delete static_cast<T *>(p);
}

// Sets a heap copy of `v` as the task's value.
template <class T>
int32_t set_value(fut_task *t, T v) {
    return fut_task_set_result(t, new T(std::move(v)), sizeof(T), delete_value<T>);
}

// Owning handles.
struct Future {
    fut_future *p = nullptr;
    Future() = default;
    explicit Future(fut_future *f) : p(f) {}
    Future(Future &&o) noexcept : p(o.p) { o.p = nullptr; }
    Future &operator=(Future &&o) noexcept {
        std::swap(p, o.p);
        return *this;
    }
    Future(const Future &) = delete;
    ~Future() { fut_future_release(p); }

    template <class T>
    const T &value() const {
        void *v = nullptr;
        fut_status st = fut_future_result(p, kTimeout, &v, nullptr);
        if (st != FUT_OK) throw std::runtime_error(fut_status_str(st));
        return *static_cast<const T *>(v);
    }
    fut_status status() const { return fut_future_result(p, kTimeout, nullptr, nullptr); }
};

struct Pool {
    fut_executor *p = nullptr;
    explicit Pool(size_t max_workers, const char *prefix = nullptr) {
        fut_thread_pool_options o;
        fut_thread_pool_options_init(&o);
        o.max_workers = max_workers;
        o.thread_name_prefix = prefix;
        EXPECT_EQ(fut_thread_pool_new(&o, &p), FUT_OK);
    }
    Pool(const Pool &) = delete;
    ~Pool() { fut_executor_release(p); }  // shutdown(wait=true)

    fut_status submit(TaskFn fn, Future *out) {
        auto *heap = new TaskFn(std::move(fn));
        fut_future *f = nullptr;
        fut_status st = fut_executor_submit(p, task_trampoline, heap, 0, delete_task, &f);
        if (st != FUT_OK) {
            delete heap;  // refused: still ours
            return st;
        }
        *out = Future(f);
        return FUT_OK;
    }
    Future submit(TaskFn fn) {
        Future f;
        EXPECT_EQ(submit(std::move(fn), &f), FUT_OK);
        return f;
    }
};

fut_status on_done(const Future &f, DoneFn fn) {
    auto *heap = new DoneFn(std::move(fn));
    fut_status st = fut_future_add_done_callback(f.p, done_trampoline, heap);
    if (st != FUT_OK) delete heap;
    return st;
}


std::string thread_name() {
    char buf[32] = {0};
    prctl(PR_GET_NAME, buf, 0, 0, 0);
    return buf;
}

}  // namespace

// E1: a lambda's value comes back through the future.
TEST(ThreadPoolCpp, SubmitLambdaReturnsValue) {
    Pool pool(2);
    std::string greeting = "hello";
    Future f = pool.submit([greeting](fut_task *t) { return set_value(t, greeting + " world"); });
    EXPECT_EQ(f.value<std::string>(), "hello world");
    EXPECT_TRUE(fut_future_done(f.p));
}

// X1, X5, B8: a C++ exception becomes the task's failure; the pool goes on.
TEST(ThreadPoolCpp, ExceptionBecomesTaskFailure) {
    Pool pool(1);
    Future f = pool.submit([](fut_task *) -> int32_t { throw std::runtime_error("boom"); });
    EXPECT_EQ(f.status(), FUT_ERR_TASK_FAILED);
    fut_error_info e;
    ASSERT_EQ(fut_future_exception(f.p, 0, &e), FUT_OK);
    EXPECT_STREQ(e.message, "boom");
    EXPECT_EQ(e.code, 1);
    Future g = pool.submit([](fut_task *t) { return set_value(t, 42); });
    EXPECT_EQ(g.value<int>(), 42);
}

// E10, E12: map yields in input order; a failure stays at its position.
struct MapInput {
    int value;
};
static int32_t square_or_fail(fut_task *t, const void *arg, size_t len) noexcept {
    if (len != sizeof(MapInput)) return 2;
    auto in = *static_cast<const MapInput *>(arg);
    if (in.value == 5) return 55;
    return set_value(t, in.value * in.value);
}
TEST(ThreadPoolCpp, MapInOrderWithErrors) {
    Pool pool(4);
    std::vector<MapInput> inputs(20);
    std::vector<fut_item> items(inputs.size());
    for (size_t i = 0; i < inputs.size(); i++) {
        inputs[i].value = static_cast<int>(i);
        items[i] = fut_item{&inputs[i], sizeof(MapInput)};
    }
    fut_map *m = nullptr;
    ASSERT_EQ(fut_executor_map(pool.p, square_or_fail, items.data(), items.size(), kTimeout, 1, &m),
              FUT_OK);
    for (size_t i = 0; i < inputs.size(); i++) {
        fut_future *raw = nullptr;
        ASSERT_EQ(fut_map_next(m, &raw), FUT_OK);
        Future f(raw);
        if (i == 5) {
            EXPECT_EQ(f.status(), FUT_ERR_TASK_FAILED);
        } else {
            EXPECT_EQ(f.value<int>(), static_cast<int>(i * i));
        }
    }
    fut_future *raw = nullptr;
    EXPECT_EQ(fut_map_next(m, &raw), FUT_END);
    fut_map_release(m);
}

// F12, F13, X5: a lambda callback runs once, on the worker that completed it.
TEST(ThreadPoolCpp, DoneCallbackRunsOnceOnWorker) {
    Pool pool(1, "cppcb");
    Latch started(1), go(1), called(1);
    std::atomic<int> calls{0};
    std::string where;
    Future f = pool.submit([&](fut_task *) {
        started.count_down();
        return go.wait() ? 0 : 97;
    });
    ASSERT_TRUE(started.wait());
    ASSERT_EQ(on_done(f, [&](fut_future *) {
                  calls++;
                  where = thread_name();
                  called.count_down();
              }),
              FUT_OK);
    go.count_down();
    EXPECT_EQ(f.status(), FUT_OK);
    ASSERT_TRUE(called.wait());
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(where, "cppcb_0");
    // F14: after completion it runs at once, here.
    bool here = false;
    ASSERT_EQ(on_done(f, [&](fut_future *) { here = true; }), FUT_OK);
    EXPECT_TRUE(here);
}

// W11: as_completed yields every future once.
TEST(ThreadPoolCpp, AsCompletedYieldsEachOnce) {
    Pool pool(3);
    std::vector<Future> fs;
    for (int i = 0; i < 50; i++) fs.push_back(pool.submit([i](fut_task *t) { return set_value(t, i); }));
    std::vector<fut_future *> raw;
    for (auto &f : fs) raw.push_back(f.p);
    fut_as_completed *it = nullptr;
    ASSERT_EQ(fut_as_completed_new(raw.data(), raw.size(), kTimeout, &it), FUT_OK);
    std::set<size_t> seen;
    long sum = 0;
    size_t index;
    fut_future *f;
    fut_status st;
    while ((st = fut_as_completed_next(it, &index, &f)) == FUT_OK) {
        Future owned(f);
        EXPECT_TRUE(seen.insert(index).second);
        sum += owned.value<int>();
    }
    EXPECT_EQ(st, FUT_END);
    fut_as_completed_release(it);
    EXPECT_EQ(seen.size(), 50u);
    EXPECT_EQ(sum, 49 * 50 / 2);
}

// E6, T9: shutdown(cancel_futures) cancels queued lambdas (each destroyed once)
// and runs their callbacks with no lock held: submitting there is refused.
TEST(ThreadPoolCpp, ShutdownCancelsQueuedLambdas) {
    auto pool = std::make_unique<Pool>(1);
    Latch started(1), go(1);
    Future blocker = pool->submit([&](fut_task *) {
        started.count_down();
        return go.wait() ? 0 : 97;
    });
    ASSERT_TRUE(started.wait());
    auto alive = std::make_shared<int>(0);  // each queued lambda holds a copy
    std::vector<Future> queued;
    std::atomic<int> refused{0};
    for (int i = 0; i < 10; i++) {
        queued.push_back(pool->submit([alive](fut_task *) { return 0; }));
        ASSERT_EQ(on_done(queued.back(),
                          [&](fut_future *) {
                              Future g;
                              if (pool->submit([](fut_task *) { return 0; }, &g) == FUT_ERR_SHUTDOWN)
                                  refused++;
                          }),
                  FUT_OK);
    }
    EXPECT_EQ(alive.use_count(), 11);
    ASSERT_EQ(fut_executor_shutdown(pool->p, false, true), FUT_OK);
    for (auto &f : queued) EXPECT_TRUE(fut_future_cancelled(f.p));
    EXPECT_EQ(refused.load(), 10);
    EXPECT_EQ(alive.use_count(), 1);  // arg_drop ran for every cancelled lambda
    go.count_down();
    EXPECT_EQ(blocker.status(), FUT_OK);
    pool.reset();  // joins
}

// X9: cooperative cancel of a running lambda.
TEST(ThreadPoolCpp, CooperativeCancel) {
    Pool pool(1);
    Latch started(1);
    Future f = pool.submit([&](fut_task *t) -> int32_t {
        started.count_down();
        auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!fut_task_cancel_requested(t)) {
            if (std::chrono::steady_clock::now() > end) return 95;
            std::this_thread::yield();
        }
        return FUT_ERR_CANCELLED;
    });
    ASSERT_TRUE(started.wait());
    EXPECT_FALSE(fut_future_cancel(f.p));
    EXPECT_EQ(f.status(), FUT_ERR_CANCELLED);
    EXPECT_TRUE(fut_future_cancelled(f.p));
}

// T3, T6: sequential rounds reuse one thread named <prefix>_0.
TEST(ThreadPoolCpp, SequentialRoundsReuseOneNamedThread) {
    Pool pool(8, "cppseq");
    std::set<std::string> names;
    for (int i = 0; i < 100; i++) {
        Future f = pool.submit([](fut_task *t) { return set_value(t, thread_name()); });
        names.insert(f.value<std::string>());
    }
    EXPECT_EQ(names, std::set<std::string>{"cppseq_0"});
}
