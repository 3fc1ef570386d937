// Flow control and observability through the C++ wrapper (Q1, Q2, Q5, Q7,
// Q8, Q9, Q11): max_queued, try_submit_c, get_stats, describe,
// terminate/kill_workers and shutdown_for.
#include <futures.hpp>
#include <gtest/gtest.h>

#include "test_latch.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

Latch *g_gate = nullptr;

int32_t blocks(fut_task *, const void *, size_t) {
    return g_gate->wait() ? 0 : 1;
}

int32_t noop(fut_task *, const void *, size_t) { return 0; }

// A process-pool task that sleeps until killed (at most 30 s).
int32_t sleeps(fut_task *, const void *, size_t) {
    std::this_thread::sleep_for(30s);
    return 0;
}

fut::stats wait_stats(fut::executor &ex, bool (*cond)(const fut::stats &)) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
        fut::stats s = fut::get_stats(ex);
        if (cond(s) || std::chrono::steady_clock::now() > deadline) return s;
        std::this_thread::yield();
    }
}

void observe(const fut_task_event *ev, void *user) {
    if (ev->kind == FUT_TASK_FINISHED) static_cast<std::atomic<int> *>(user)->fetch_add(1);
}

}  // namespace

TEST(FlowControlCpp, BoundedThreadPoolTrySubmitStatsDescribe) {
    Latch gate(1);
    g_gate = &gate;
    std::atomic<int> finished{0};
    fut::thread_pool_options o;
    o.max_workers = 1;
    o.max_queued = 1;
    o.thread_name_prefix = "flowcpp";
    o.on_task_event = observe;
    o.on_task_event_data = &finished;
    fut::thread_pool pool(o);
    auto running = pool.submit_c<void>(blocks, nullptr, 0);
    auto queued = fut::try_submit_c<void>(pool, noop, nullptr, 0, 1s);
    ASSERT_TRUE(queued.has_value());
    fut::stats s = wait_stats(pool, [](const fut::stats &x) { return x.running == 1 && x.queued == 1; });
    EXPECT_EQ(s.running, 1u);
    EXPECT_EQ(s.queued, 1u);
    EXPECT_EQ(s.max_queued, 1u);
    // Full: an empty optional after the deadline (Q2).
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(fut::try_submit_c<void>(pool, noop, nullptr, 0, 20ms).has_value());
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    std::string d = fut::describe(pool);
    EXPECT_NE(d.find("flowcpp_0: running task 1"), std::string::npos) << d;
    gate.count_down();
    running.get();
    queued->get();
    s = fut::get_stats(pool);
    EXPECT_EQ(s.completed, 2u);
    EXPECT_EQ(s.completed + s.failed + s.cancelled + s.running + s.queued, s.submitted);
    EXPECT_EQ(finished.load(), 2);
    EXPECT_TRUE(fut::shutdown_for(pool, 30s));
}

TEST(FlowControlCpp, ProcessPoolKillAndShutdownFor) {
    {
        fut::process_pool pool(1);
        auto f = pool.submit_c<void>(sleeps, nullptr, 0);
        wait_stats(pool, [](const fut::stats &x) { return x.running == 1; });
        fut::kill_workers(pool);
        EXPECT_THROW(f.get(30s), fut::broken_pool_error);
        EXPECT_THROW(pool.submit_c<void>(noop, nullptr, 0), fut::shutdown_error);
    }
    {
        fut::process_pool pool(1);
        auto f = pool.submit_c<void>(sleeps, nullptr, 0);
        wait_stats(pool, [](const fut::stats &x) { return x.running == 1; });
        EXPECT_FALSE(fut::shutdown_for(pool, 20ms));  // then terminated
        EXPECT_THROW(f.get(30s), fut::broken_pool_error);
    }
    fut::process_pool pool(1);
    fut::terminate_workers(pool);  // idle workers: nothing fails
    EXPECT_EQ(fut::get_stats(pool).submitted, 0u);
}
