// The C++ wrapper include/futures.hpp (GoogleTest): typed futures, exceptions, the
// thread pool with capturing lambdas, promises, then-callbacks, wait/as_completed, and
// the process pool with C tasks, captureless lambdas, crashes and both crash policies
// (E1, E3-E6, F4, F7, F8, F12-F15, T7, T9, W4-W8, W11, W12, P13, B1-B3, X1,
// X5, X9, X12). Synchronisation by latches, futures and pipes; every wait is bounded.
#include <futures.hpp>
#include <gtest/gtest.h>

#include "test_latch.hpp"
#include "test_tasks.hpp"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 30s;  // every blocking call: never reached unless a bug


// Collects what reaches the log hook (fut::set_log_hook) during one test.
class LogCapture {
public:
    LogCapture() { fut::set_log_hook(&LogCapture::hook, this); }
    ~LogCapture() { fut::set_log_hook(nullptr); }
    bool contains(const std::string &needle) {
        std::lock_guard<std::mutex> g(mu_);
        for (auto &m : messages_)
            if (m.find(needle) != std::string::npos) return true;
        return false;
    }

private:
    static void hook(const char *message, void *user) {
        auto *self = static_cast<LogCapture *>(user);
        std::lock_guard<std::mutex> g(self->mu_);
        self->messages_.push_back(message);
    }
    std::mutex mu_;
    std::vector<std::string> messages_;
};

static_assert(!std::is_copy_constructible_v<fut::future<int>>);
static_assert(std::is_nothrow_move_constructible_v<fut::future<int>>);
static_assert(!std::is_copy_constructible_v<fut::thread_pool>);
static_assert(std::is_nothrow_move_constructible_v<fut::thread_pool>);
static_assert(!std::is_copy_constructible_v<fut::process_pool>);
static_assert(!std::is_copy_constructible_v<fut::promise<int>>);
static_assert(std::is_base_of_v<std::runtime_error, fut::error>);
static_assert(std::is_same_v<decltype(std::declval<fut::future<int> &>().get()), int>);
static_assert(std::is_same_v<decltype(std::declval<fut::future<std::vector<int>> &>().get()),
                             const std::vector<int> &>);

}  // namespace

// The header's version macros describe the library.
TEST(CppWrapper, VersionMatchesMacros) {
    std::string macros = std::to_string(FUT_VERSION_MAJOR) + "." + std::to_string(FUT_VERSION_MINOR) +
                         "." + std::to_string(FUT_VERSION_PATCH);
    EXPECT_EQ(macros, fut::version());
}

// E1, X3: capturing lambdas, arguments, and every kind of value.
TEST(CppWrapper, ThreadPoolValues) {
    fut::thread_pool pool(2);
    std::string greeting = "hello";
    fut::future<std::string> s = pool.submit([greeting] { return greeting + " world"; });
    fut::future<int> sum = pool.submit([](int a, int b) { return a + b; }, 40, 2);
    fut::future<std::vector<int>> vec = pool.submit([](int n) { return std::vector<int>(n, 7); }, 3);
    auto owned = std::make_unique<int>(5);
    fut::future<int> moved = pool.submit([p = std::move(owned)] { return *p; });  // move-only capture
    std::atomic<bool> ran{false};
    fut::future<void> nothing = pool.submit([&ran] { ran = true; });
    fut::future<fut::bytes> raw = pool.submit([] { return fut::bytes{std::byte{1}, std::byte{2}}; });

    EXPECT_EQ(s.get(kWait), "hello world");
    EXPECT_EQ(sum.get(kWait), 42);
    EXPECT_EQ(vec.get(kWait), std::vector<int>(3, 7));
    EXPECT_EQ(moved.get(kWait), 5);
    nothing.get(kWait);
    EXPECT_TRUE(ran);
    EXPECT_EQ(raw.get(kWait).size(), 2u);
    EXPECT_TRUE(s.done());
    EXPECT_EQ(s.state(), FUT_STATE_FINISHED);
    EXPECT_FALSE(s.exception(kWait).has_value());
    // F11: read again, same value.
    EXPECT_EQ(s.get(kWait), "hello world");
}

// X1, X5, B8: what a task throws becomes its failure (code and what()); the pool goes on.
TEST(CppWrapper, ExceptionsBecomeTaskErrors) {
    fut::thread_pool pool(1);
    auto plain = pool.submit([]() -> int { throw std::runtime_error("boom"); });
    auto coded = pool.submit([] { throw fut::task_failure(42, "custom failure"); });
    auto sys = pool.submit([] { throw std::system_error(EACCES, std::generic_category(), "open"); });
    auto other = pool.submit([] { throw 17; });
    try {
        plain.get(kWait);
        FAIL() << "no exception";
    } catch (const fut::task_error &e) {
        EXPECT_EQ(e.status(), FUT_ERR_TASK_FAILED);
        EXPECT_EQ(e.info().kind, FUT_ERR_TASK_FAILED);
        EXPECT_EQ(e.code(), 0);
        EXPECT_EQ(e.message(), "boom");
        EXPECT_STREQ(e.what(), "boom");
    }
    try {
        coded.get(kWait);
        FAIL() << "no exception";
    } catch (const fut::error &e) {
        EXPECT_EQ(e.code(), 42);
        EXPECT_EQ(e.message(), "custom failure");
    }
    try {
        sys.get(kWait);
        FAIL() << "no exception";
    } catch (const fut::task_error &e) {
        EXPECT_EQ(e.code(), EACCES);
    }
    EXPECT_THROW(other.get(kWait), fut::task_error);
    auto record = other.exception(kWait);
    ASSERT_TRUE(record.has_value());
    EXPECT_EQ(record->message, "unknown C++ exception");
    EXPECT_EQ(pool.submit([] { return 1; }).get(kWait), 1);
}

// F8, F10: a get() timeout leaves the future unchanged.
TEST(CppWrapper, GetTimesOutThenSucceeds) {
    fut::thread_pool pool(1);
    Latch go(1);
    auto f = pool.submit([&go] { return go.wait() ? 7 : -1; });
    EXPECT_THROW(f.get(10ms), fut::timeout_error);
    EXPECT_FALSE(f.wait_for(0s));
    EXPECT_FALSE(f.done());
    go.count_down();
    EXPECT_EQ(f.get(kWait), 7);
    EXPECT_TRUE(f.wait_for(0s));
}

// F4, T5: a queued lambda is cancelled; its box (and captures) is destroyed at once.
TEST(CppWrapper, CancelQueuedTask) {
    fut::thread_pool pool(1);
    Latch started(1), go(1);
    auto blocker = pool.submit([&] {
        started.count_down();
        return go.wait();
    });
    ASSERT_TRUE(started.wait());
    auto alive = std::make_shared<int>(0);
    auto queued = pool.submit([alive] { return *alive; });
    EXPECT_EQ(alive.use_count(), 2);
    std::atomic<int> callbacks{0};
    queued.then([&](fut::future_view v) {
        EXPECT_TRUE(v.cancelled());
        callbacks++;
    });
    EXPECT_TRUE(queued.cancel());
    EXPECT_TRUE(queued.cancelled());
    EXPECT_EQ(callbacks.load(), 1);
    EXPECT_THROW(queued.get(kWait), fut::cancelled_error);
    EXPECT_THROW(queued.exception(kWait), fut::cancelled_error);
    go.count_down();
    EXPECT_TRUE(blocker.get(kWait));
    pool.shutdown();  // the worker dropped the cancelled item: the lambda was destroyed once
    EXPECT_EQ(alive.use_count(), 1);
}

// X9: cooperative cancellation of a running task through its task_context.
TEST(CppWrapper, CooperativeCancel) {
    fut::thread_pool pool(1);
    Latch started(1);
    auto f = pool.submit([&started](fut::task_context &ctx) -> int {
        started.count_down();
        auto end = std::chrono::steady_clock::now() + kWait;
        while (std::chrono::steady_clock::now() < end) {
            ctx.throw_if_cancel_requested();
            std::this_thread::yield();
        }
        return -1;
    });
    ASSERT_TRUE(started.wait());
    EXPECT_FALSE(f.cancel());  // running: only asked to stop
    EXPECT_THROW(f.get(kWait), fut::cancelled_error);
    EXPECT_TRUE(f.cancelled());
}

// A cancelled_error thrown by a task nobody cancelled is an ordinary failure.
TEST(CppWrapper, CancelledErrorWithoutRequestIsFailure) {
    fut::thread_pool pool(1);
    fut::promise<int> p;
    auto inner = p.get_future();
    inner.cancel();
    auto outer = pool.submit([&inner] { return inner.get(kWait); });
    try {
        outer.get(kWait);
        FAIL() << "no exception";
    } catch (const fut::task_error &e) {
        EXPECT_EQ(e.status(), FUT_ERR_TASK_FAILED);
        EXPECT_EQ(e.message(), "FUT_ERR_CANCELLED");
    }
}

// E6, T9: shutdown(cancel_futures) cancels queued lambdas, destroys each once and runs
// their callbacks with no lock held: a submit from there is refused with shutdown_error.
TEST(CppWrapper, ShutdownCancelsQueued) {
    auto pool = std::make_unique<fut::thread_pool>(1);
    Latch started(1), go(1);
    auto blocker = pool->submit([&] {
        started.count_down();
        return go.wait();
    });
    ASSERT_TRUE(started.wait());
    auto alive = std::make_shared<int>(0);
    std::vector<fut::future<int>> queued;
    std::atomic<int> refused{0};
    for (int i = 0; i < 10; i++) {
        queued.push_back(pool->submit([alive, i] { return i; }));
        queued.back().then([&] {
            try {
                pool->submit([] {});
            } catch (const fut::shutdown_error &) {
                refused++;
            }
        });
    }
    EXPECT_EQ(alive.use_count(), 11);
    pool->shutdown(false, true);
    for (auto &f : queued) {
        EXPECT_TRUE(f.cancelled());
        EXPECT_THROW(f.get(kWait), fut::cancelled_error);
    }
    EXPECT_EQ(refused.load(), 10);
    EXPECT_EQ(alive.use_count(), 1);
    EXPECT_THROW(pool->submit([] {}), fut::shutdown_error);
    go.count_down();
    EXPECT_TRUE(blocker.get(kWait));
    pool.reset();  // joins
}

// E3, E4: shutdown(wait) returns once accepted work is done; shutdown is idempotent.
TEST(CppWrapper, ShutdownWaitsForAcceptedWork) {
    fut::thread_pool pool(2);
    std::vector<fut::future<int>> fs;
    for (int i = 0; i < 50; i++) fs.push_back(pool.submit([i] { return i * i; }));
    pool.shutdown();
    for (auto &f : fs) EXPECT_TRUE(f.done());
    pool.shutdown(true, true);
    EXPECT_EQ(fs[7].get(0s), 49);
}

// T7: an initializer that throws is logged and breaks the pool.
TEST(CppWrapper, ThrowingInitializerBreaksPool) {
    LogCapture log;
    fut::thread_pool_options o;
    o.max_workers = 1;
    o.thread_name_prefix = "cppinit";
    o.initializer = [] { throw std::runtime_error("no database"); };
    fut::thread_pool pool(o);
    try {
        auto f = pool.submit([] { return 1; });
        EXPECT_THROW(f.get(kWait), fut::broken_pool_error);
    } catch (const fut::broken_pool_error &) {  // T7: a submit racing the break may be refused
    }
    EXPECT_THROW(pool.submit([] { return 1; }).get(kWait), fut::broken_pool_error);
    EXPECT_TRUE(log.contains("no database"));
}

// F12-F15, X5: then() runs once, on the completer or at once; an exception in it is
// logged and later callbacks still run.
TEST(CppWrapper, ThenCallbacks) {
    LogCapture log;
    fut::promise<int> p;
    auto f = p.get_future();
    std::atomic<int> seen{0};
    auto owner = std::make_shared<int>(0);
    f.then([&seen, owner](fut::future_view v) { seen += v.get<int>(); })
        .then([](fut::future_view) { throw std::runtime_error("callback failed"); })
        .then([&seen] { seen += 100; });
    EXPECT_EQ(owner.use_count(), 2);
    std::thread producer([&p] { p.set_value(5); });
    producer.join();
    EXPECT_EQ(seen.load(), 105);
    EXPECT_EQ(owner.use_count(), 1);  // the callback was destroyed after its call
    EXPECT_TRUE(log.contains("callback failed"));
    bool here = false;
    f.then([&here](fut::future_view v) { here = v.done(); });  // F14: done, runs now
    EXPECT_TRUE(here);
}

// A callback on a future nobody completes runs when the last reference goes (cancelled).
TEST(CppWrapper, ThenRunsWhenAbandoned) {
    bool cancelled = false;
    {
        fut::future<int> f;
        {
            fut::promise<int> p;
            f = p.get_future();
            f.then([&cancelled](fut::future_view v) { cancelled = v.cancelled(); });
            f.cancel();
        }
    }
    EXPECT_TRUE(cancelled);
}

// W4-W8: wait_any / wait_all / wait with timeouts over typed and mixed futures.
TEST(CppWrapper, WaitAnyAll) {
    fut::promise<int> a;
    fut::promise<std::string> b;
    std::vector<fut::future<int>> ints;
    ints.push_back(a.get_future());
    auto s = b.get_future();
    EXPECT_FALSE(fut::wait_any(ints, 10ms).has_value());
    EXPECT_FALSE(fut::wait_all({ints[0], s}, 10ms));
    auto r = fut::wait({ints[0], s}, fut::return_when::first_completed, 0s);
    EXPECT_TRUE(r.done.empty());
    EXPECT_EQ(r.not_done.size(), 2u);
    b.set_error(3, "bad");
    EXPECT_EQ(fut::wait_any({ints[0], s}, kWait), std::optional<std::size_t>(1));
    r = fut::wait({ints[0], s}, fut::return_when::first_exception, kWait);  // W6
    EXPECT_EQ(r.done, std::vector<std::size_t>{1});
    EXPECT_FALSE(fut::wait_all({ints[0], s}, 0s));
    std::thread t([&a] { a.set_value(1); });
    EXPECT_TRUE(fut::wait_all({ints[0], s}, kWait));
    t.join();
    EXPECT_EQ(fut::wait_any(ints), 0u);
    EXPECT_EQ(ints[0].get(0s), 1);
    try {
        s.get(0s);
        FAIL() << "no exception";
    } catch (const fut::task_error &e) {
        EXPECT_EQ(e.code(), 3);
        EXPECT_EQ(e.message(), "bad");
    }
}

// W11: as_completed as a range yields every distinct future once.
TEST(CppWrapper, AsCompletedRange) {
    fut::thread_pool pool(3);
    std::vector<fut::future<int>> fs;
    for (int i = 0; i < 50; i++) fs.push_back(pool.submit([i] { return i; }));
    std::set<int> seen;
    long sum = 0;
    for (fut::future<int> &f : fut::as_completed(fs, kWait)) {
        EXPECT_TRUE(f.done());
        int v = f.get(0s);
        EXPECT_TRUE(seen.insert(v).second);
        sum += v;
    }
    EXPECT_EQ(seen.size(), 50u);
    EXPECT_EQ(sum, 49 * 50 / 2);
}

// W12: the deadline passes: the loop throws timeout_error after the done ones.
TEST(CppWrapper, AsCompletedTimeout) {
    fut::promise<int> done, never;
    done.set_value(1);
    std::vector<fut::future<int>> fs;
    fs.push_back(never.get_future());
    fs.push_back(done.get_future());
    int yielded = 0;
    try {
        for (auto &f : fut::as_completed(fs, 20ms)) {
            EXPECT_EQ(f.get(0s), 1);
            yielded++;
        }
        FAIL() << "no timeout";
    } catch (const fut::timeout_error &e) {
        EXPECT_EQ(e.status(), FUT_ERR_TIMEOUT);
        EXPECT_EQ(e.message(), "1 (of 2) futures unfinished");
    }
    EXPECT_EQ(yielded, 1);
}

// F7: promises; set twice is invalid_state_error; a destroyed promise breaks its future.
TEST(CppWrapper, Promises) {
    fut::promise<std::string> p;
    auto f = p.get_future();
    auto g = p.get_future();  // two handles to one future
    std::thread t([&p] { p.set_value("from a thread"); });
    EXPECT_EQ(f.get(kWait), "from a thread");
    t.join();
    EXPECT_EQ(g.get(0s), "from a thread");
    EXPECT_THROW(p.set_value("again"), fut::invalid_state_error);
    EXPECT_THROW(p.set_error(1, "late"), fut::invalid_state_error);

    fut::promise<void> v;
    auto vf = v.get_future();
    v.set_value();
    vf.get(0s);

    fut::promise<double> e;
    auto ef = e.get_future();
    e.set_exception(std::make_exception_ptr(fut::task_failure(9, "nine")));
    auto info = ef.exception(0s);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->code, 9);
    EXPECT_EQ(info->message, "nine");

    fut::future<int> orphan;
    {
        fut::promise<int> gone;
        orphan = gone.get_future();
    }
    try {
        orphan.get(kWait);
        FAIL() << "no exception";
    } catch (const fut::task_error &x) {
        EXPECT_EQ(x.message(), "broken promise");
    }
}

// X6: moved-from and empty handles answer with exceptions, never crash.
TEST(CppWrapper, EmptyHandles) {
    fut::promise<int> p;
    p.set_value(3);
    auto f = p.get_future();
    fut::future<int> g = std::move(f);
    EXPECT_FALSE(f.valid());
    EXPECT_TRUE(g.valid());
    EXPECT_EQ(g.get(0s), 3);
    try {
        f.get(0s);
        FAIL() << "no exception";
    } catch (const fut::error &e) {
        EXPECT_EQ(e.status(), FUT_ERR_INVALID_ARGUMENT);
    }
    EXPECT_FALSE(f.done());
    fut::future<int> c = g.clone();
    EXPECT_EQ(c.get(0s), 3);
    // A value read as the wrong type is refused.
    try {
        g.view().get<double>(0s);
        FAIL() << "no exception";
    } catch (const fut::error &e) {
        EXPECT_EQ(e.status(), FUT_ERR_INVALID_ARGUMENT);
    }
    fut::thread_pool pool(1);
    fut::thread_pool other = std::move(pool);
    EXPECT_FALSE(pool.valid());
    EXPECT_THROW(pool.submit([] {}), fut::error);
    EXPECT_EQ(other.submit([] { return 2; }).get(kWait), 2);
}

// ---- process pool ---------------------------------------------------------------

namespace {

struct Point {
    double x;
    double y;
};

// Reads one byte from fd within 30 s: 1, or -1 on timeout or error.
int take_token(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 30000) != 1) return -1;
    char c;
    return read(fd, &c, 1) == 1 ? 1 : -1;
}

// In a worker: says "started" on one pipe, then blocks until a token arrives on another.
int started_then_wait(int started_fd, int token_fd) {
    if (write(started_fd, "s", 1) != 1) return -1;
    return take_token(token_fd);
}

struct Pipes {
    int started[2];
    int token[2];
    Pipes() {
        EXPECT_EQ(pipe(started), 0);
        EXPECT_EQ(pipe(token), 0);
    }
    ~Pipes() {
        for (int fd : {started[0], started[1], token[0], token[1]}) close(fd);
    }
};

class ProcessPool : public ::testing::TestWithParam<fut::start_method> {
protected:
    fut::process_pool make(std::size_t workers, fut::crash_policy policy = fut::crash_policy::break_pool) {
        fut::process_pool_options o;
        o.max_workers = workers;
        o.start_method = GetParam();
        o.on_worker_crash = policy;
        return fut::process_pool(o);
    }
};

}  // namespace

// X3, X10: a C task with bytes, and captureless lambdas with trivially copyable arguments.
TEST_P(ProcessPool, CTaskAndLambdas) {
    fut::process_pool pool = make(2);
    auto text = pool.submit<std::string>(upper_task, "hello");
    auto raw = pool.submit(upper_task, fut::bytes{std::byte{'a'}, std::byte{'b'}});
    auto product = pool.submit([](int a, int b) { return a * b; }, 6, 7);
    auto described = pool.submit([](Point p) { return std::to_string(static_cast<int>(p.x + p.y)); },
                                 Point{1.5, 2.5});
    auto pid = pool.submit([] { return static_cast<int>(getpid()); });
    auto nothing = pool.submit([] {});
    EXPECT_EQ(text.get(kWait), "HELLO");
    EXPECT_EQ(raw.get(kWait), (fut::bytes{std::byte{'A'}, std::byte{'B'}}));
    EXPECT_EQ(product.get(kWait), 42);
    EXPECT_EQ(described.get(kWait), "4");
    EXPECT_NE(pid.get(kWait), static_cast<int>(getpid()));  // ran in a worker
    nothing.get(kWait);
    pool.shutdown();
}

// X1, X12: an exception thrown in the worker fails only that task, with its message.
TEST_P(ProcessPool, WorkerExceptionIsTaskError) {
    fut::process_pool pool = make(1);
    auto f = pool.submit(
        [](int code) -> int { throw fut::task_failure(code, "worker says no"); }, 12);
    try {
        f.get(kWait);
        FAIL() << "no exception";
    } catch (const fut::task_error &e) {
        EXPECT_EQ(e.status(), FUT_ERR_TASK_FAILED);
        EXPECT_EQ(e.code(), 12);
        EXPECT_NE(e.message().find("worker says no"), std::string::npos);
    }
    EXPECT_EQ(pool.submit([](int x) { return x + 1; }, 1).get(kWait), 2);  // B8: not broken
}

// B1-B3, X12: a task that raises SIGSEGV under the default policy breaks the pool:
// every outstanding future fails with broken_pool_error naming the signal, later
// submits are refused with it.
TEST_P(ProcessPool, SegfaultBreaksPool) {
    LogCapture log;
    Pipes pipes;  // before the pool: its workers inherit them
    {
        fut::process_pool pool = make(2);
        auto blocked = pool.submit(started_then_wait, pipes.started[1], pipes.token[0]);
        ASSERT_EQ(take_token(pipes.started[0]), 1);  // running in a worker when the pool breaks
        auto crash = pool.submit([] { std::raise(SIGSEGV); });
        try {
            crash.get(kWait);
            FAIL() << "no exception";
        } catch (const fut::broken_pool_error &e) {
            EXPECT_EQ(e.status(), FUT_ERR_BROKEN_POOL);
            EXPECT_NE(e.detail().find("SIGSEGV"), std::string::npos) << e.detail();
        }
        EXPECT_THROW(blocked.get(kWait), fut::broken_pool_error);
        EXPECT_THROW(pool.submit([] {}), fut::broken_pool_error);
        EXPECT_THROW(pool.submit(upper_task, "x"), fut::broken_pool_error);
    }
    EXPECT_TRUE(log.contains("broken"));
}

// X12: with crash_policy::fail_task only the crashed task fails; the pool goes on.
TEST_P(ProcessPool, FailTaskPolicy) {
    LogCapture log;
    fut::process_pool pool = make(1, fut::crash_policy::fail_task);
    auto crash = pool.submit([] { std::raise(SIGSEGV); });
    try {
        crash.get(kWait);
        FAIL() << "no exception";
    } catch (const fut::task_error &e) {
        EXPECT_EQ(e.status(), FUT_ERR_WORKER_DIED);
        EXPECT_NE(e.detail().find("SIGSEGV"), std::string::npos) << e.detail();
    }
    EXPECT_EQ(pool.submit([](int x) { return x * 2; }, 21).get(kWait), 42);
}

// E6, P5, P13: shutdown(cancel_futures) cancels what is not yet in a worker's hands
// (applied by the manager, so waited for); cancelled futures throw cancelled_error.
TEST_P(ProcessPool, ShutdownCancelsQueued) {
    Pipes pipes;
    fut::process_pool pool = make(1);
    auto blocked = pool.submit(started_then_wait, pipes.started[1], pipes.token[0]);
    ASSERT_EQ(take_token(pipes.started[0]), 1);
    std::vector<fut::future<int>> queued;
    for (int i = 0; i < 8; i++) queued.push_back(pool.submit([](int x) { return x; }, i));
    pool.shutdown(false, true);
    EXPECT_THROW(pool.submit([] {}), fut::shutdown_error);
    ASSERT_EQ(write(pipes.token[1], "t", 1), 1);
    EXPECT_EQ(blocked.get(kWait), 1);
    ASSERT_TRUE(fut::wait_all(queued, kWait));
    int cancelled = 0;
    for (auto &f : queued) {
        if (f.cancelled()) {
            cancelled++;
            EXPECT_THROW(f.get(0s), fut::cancelled_error);
        }
    }
    // P5: at most max_workers + 1 calls are beyond cancelling.
    EXPECT_GE(cancelled, 8 - 1);
    pool.shutdown();
}

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessPool,
                         ::testing::Values(fut::start_method::forkserver, fut::start_method::fork),
                         [](const ::testing::TestParamInfo<fut::start_method> &info) {
                             return info.param == fut::start_method::fork ? std::string("fork")
                                                                          : std::string("forkserver");
                         });
