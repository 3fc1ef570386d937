// The C++ wrapper's imap (fut::imap over fut_executor_imap, fut_map_next_timeout)
// on both pools (GoogleTest): L1-L9 (lazy source on the iterating thread, exact
// window, input or completion order, errors at their input, a deadline per call,
// early release). Synchronisation by latches; every wait is bounded.
#include <futures.hpp>
#include <gtest/gtest.h>

#include "test_latch.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 30s;  // every blocking call: never reached unless a bug

// Counts inputs taken and handed out; each take checks the window (L3).
struct Flow {
    std::atomic<long> produced{0};
    std::atomic<long> consumed{0};
    std::atomic<long> max_in_flight{0};
    long limit;
    explicit Flow(long l) : limit(l) {}
    void take() {
        long now = ++produced - consumed.load();
        EXPECT_LE(now, limit);
        long seen = max_in_flight.load();
        while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
        }
    }
};

// A source of 0..n-1 that counts, run on the iterating thread (L2).
auto counting(Flow &flow, int n, std::thread::id consumer) {
    return [&flow, n, consumer, next = 0]() mutable -> std::optional<int> {
        EXPECT_EQ(std::this_thread::get_id(), consumer);
        if (next == n) return std::nullopt;
        flow.take();
        return next++;
    };
}

// L1/L3/E10: input order, index() names each input, never more than
// window x chunksize inputs in flight, and the window is filled.
TEST(CppImap, ThreadPoolInOrderWithinTheWindow) {
    fut::thread_pool pool(2);
    Flow flow(4 * 8);
    auto r = fut::imap(pool, [](int x) { return std::int64_t{x} * x; }, counting(flow, 1000, std::this_thread::get_id()),
                       {4, 8, false});
    EXPECT_EQ(flow.produced.load(), 0);  // L2: nothing before the iteration
    std::int64_t i = 0;
    for (fut::future<std::int64_t> &f : r) {
        EXPECT_EQ(r.index(), static_cast<std::uint64_t>(i));
        EXPECT_EQ(f.get(), i * i);
        flow.consumed++;
        i++;
    }
    EXPECT_EQ(i, 1000);
    EXPECT_EQ(flow.max_in_flight.load(), 32);
}

// L4: unordered hands out the input whose latch opened, in that order.
TEST(CppImap, UnorderedFollowsCompletion) {
    fut::thread_pool pool(3);
    auto gates = std::make_shared<std::vector<std::unique_ptr<Latch>>>();
    for (int k = 0; k < 3; k++) gates->push_back(std::make_unique<Latch>(1));
    Flow flow(3);
    auto r = fut::imap(
        pool,
        [gates](int x) {
            if (!(*gates)[static_cast<std::size_t>(x)]->wait()) throw std::runtime_error("gate never opened");
            return x;
        },
        counting(flow, 3, std::this_thread::get_id()), {3, 1, true});
    fut::future<int> f;
    std::uint64_t index = 99;
    EXPECT_EQ(r.next_for(f, index, 0ms), fut::next_status::timeout);  // L7: takes the window, cancels nothing
    EXPECT_EQ(flow.produced.load(), 3);
    for (int k : {1, 2, 0}) {
        (*gates)[static_cast<std::size_t>(k)]->count_down();
        ASSERT_EQ(r.next_for(f, index, kWait), fut::next_status::ok);
        EXPECT_EQ(index, static_cast<std::uint64_t>(k));
        EXPECT_EQ(f.get(), k);
    }
    EXPECT_EQ(r.next_for(f, index, kWait), fut::next_status::end);
}

// L5/L6 on a process pool, chunked: a failing input's detail names it; a
// source that throws ends the input at its position.
int fails_on_three(int x) {
    if (x == 3) throw fut::task_failure(7, "three");
    return x + 100;
}

TEST(CppImap, ProcessPoolChunkedErrorsNameTheirInput) {
    fut::process_pool pool(2);
    int next = 0;
    auto source = [&next]() -> std::optional<int> {
        if (next == 6) throw std::runtime_error("source broke");
        return next++;
    };
    auto r = fut::imap(pool, fails_on_three, source, {2, 4, false});
    fut::future<int> f;
    std::uint64_t index = 0;
    for (std::uint64_t i = 0; i < 7; i++) {
        ASSERT_EQ(r.next_for(f, index, kWait), fut::next_status::ok);
        EXPECT_EQ(index, i);
        if (i == 3 || i == 6) {
            try {
                f.get();
                ADD_FAILURE() << "input " << i << " should have failed";
            } catch (const fut::task_error &e) {
                std::string want = "input " + std::to_string(i);
                EXPECT_EQ(e.detail().rfind(want, 0), 0u) << e.detail();
                if (i == 3) {
                    EXPECT_EQ(e.code(), 7);
                }
            }
        } else {
            EXPECT_EQ(f.get(), static_cast<int>(i) + 100);
        }
    }
    EXPECT_EQ(r.next_for(f, index, kWait), fut::next_status::end);
}

// L8: destroying the range early cancels the queued inputs and frees the source.
TEST(CppImap, EarlyDestructionCancelsTheWindow) {
    fut::thread_pool pool(1);
    Latch started(1), release(1);
    std::atomic<int> ran{0};
    auto alive = std::make_shared<int>(0);
    {
        int next = 0;
        auto r = fut::imap(
            pool,
            [&](int x) {
                ran++;
                if (x == 0) {
                    started.count_down();
                    release.wait();
                }
                return x;
            },
            [&next, alive]() -> std::optional<int> { return next++; }, {4, 1, false});
        fut::future<int> f;
        std::uint64_t index = 0;
        EXPECT_EQ(r.next_for(f, index, 0ms), fut::next_status::timeout);
        EXPECT_EQ(next, 4);
        ASSERT_TRUE(started.wait());
    }
    EXPECT_EQ(alive.use_count(), 1);  // the source was destroyed with the range
    release.count_down();
    pool.shutdown(true);
    EXPECT_EQ(ran.load(), 1);  // only input 0 ran
}

TEST(CppImap, ZeroWindowIsRefused) {
    fut::thread_pool pool(1);
    auto source = []() -> std::optional<int> { return std::nullopt; };
    EXPECT_THROW(fut::imap(pool, [](int x) { return x; }, source, {0, 1, false}), fut::error);
}

}  // namespace
