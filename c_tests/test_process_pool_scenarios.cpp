// Process pool from C++: the shared executor scenarios (submit/result, map,
// wait/as_completed, callbacks, shutdown, cancel_futures) on both start
// methods, and a host whose threads hold locks and allocate while pools are
// created and workers replaced (X11). Through include/futures.h only.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "process_pool_common.h"

namespace {

class ProcessPool : public ::testing::TestWithParam<fut_start_method> {
  protected:
    void SetUp() override {
        pp_pipes_init();
        base_ = pp_take_baseline();
    }
    void TearDown() override {
        pp_pipes_drain();
        pp_check_clean(base_, ::testing::UnitTest::GetInstance()->current_test_info()->name());
    }
    fut_executor *pool(size_t workers, fut_crash_policy policy = FUT_CRASH_BREAK_POOL) {
        return pp_pool(workers, GetParam(), policy);
    }
    pp_baseline base_{};
};

// E1, E2, X3: many submits, each result at its own future.
TEST_P(ProcessPool, SubmitResult) {
    fut_executor *ex = pool(2);
    std::vector<std::string> args;
    std::vector<fut_future *> fs;
    for (int i = 0; i < 50; i++) args.push_back("arg-" + std::to_string(i));
    for (auto &a : args) fs.push_back(pp_submit(ex, pp_echo, a.c_str(), a.size() + 1));
    for (size_t i = 0; i < fs.size(); i++) {
        pp_expect_bytes(fs[i], args[i].c_str(), args[i].size() + 1);
        fut_future_release(fs[i]);
    }
    EXPECT_EQ(fut_executor_shutdown(ex, true, false), FUT_OK);
    fut_executor_release(ex);
}

// E9, E10, E14: map is eager and yields in input order for several chunksizes.
TEST_P(ProcessPool, MapInOrder) {
    fut_executor *ex = pool(2);
    std::vector<int32_t> in(200);
    std::vector<fut_item> items(in.size());
    for (size_t i = 0; i < in.size(); i++) {
        in[i] = (int32_t)i;
        items[i] = fut_item{&in[i], sizeof in[i]};
    }
    for (size_t chunk : {size_t{1}, size_t{16}, size_t{1000}}) {
        fut_map *it = nullptr;
        ASSERT_EQ(fut_executor_map(ex, pp_echo, items.data(), items.size(), TU_LONG_TIMEOUT_NS, chunk, &it),
                  FUT_OK);
        for (size_t i = 0; i < in.size(); i++) {
            fut_future *f = nullptr;
            ASSERT_EQ(fut_map_next(it, &f), FUT_OK);
            pp_expect_bytes(f, &in[i], sizeof in[i]);
            fut_future_release(f);
        }
        fut_future *f = nullptr;
        EXPECT_EQ(fut_map_next(it, &f), FUT_END);
        fut_map_release(it);
    }
    // E9: no items, nothing yielded.
    fut_map *it = nullptr;
    ASSERT_EQ(fut_executor_map(ex, pp_echo, nullptr, 0, TU_LONG_TIMEOUT_NS, 1, &it), FUT_OK);
    fut_future *f = nullptr;
    EXPECT_EQ(fut_map_next(it, &f), FUT_END);
    fut_map_release(it);
    fut_executor_release(ex);
}

// E11: the map deadline cancels what was not yielded.
TEST_P(ProcessPool, MapTimeout) {
    fut_executor *ex = pool(1);
    fut_item items[3] = {{"a", 2}, {"b", 2}, {"c", 2}};
    fut_map *it = nullptr;
    ASSERT_EQ(fut_executor_map(ex, pp_block_echo, items, 3, 50 * 1000000LL, 1, &it), FUT_OK);
    fut_future *f = nullptr;
    EXPECT_EQ(fut_map_next(it, &f), FUT_ERR_TIMEOUT);
    EXPECT_EQ(fut_map_next(it, &f), FUT_END);
    fut_map_release(it);
    pp_gate_open(2);  // the RUNNING ones (first, and perhaps the queued one) finish
    EXPECT_EQ(fut_executor_shutdown(ex, true, false), FUT_OK);
    fut_executor_release(ex);
}

// W5, W11, F13: wait and as_completed over process futures; callbacks run in
// this process, on the manager thread.
static std::atomic<int> callback_pid{0};
static std::atomic<bool> callback_on_main{true};
static pthread_t main_thread;
static void record_callback(fut_future *, void *) {
    callback_pid = (int)getpid();
    callback_on_main = pthread_equal(pthread_self(), main_thread) != 0;
}

TEST_P(ProcessPool, WaitAsCompletedCallbacks) {
    main_thread = pthread_self();
    fut_executor *ex = pool(2);
    fut_future *fs[2] = {pp_submit(ex, pp_block_echo, "slow", 5), pp_submit(ex, pp_echo, "fast", 5)};
    ASSERT_EQ(fut_future_add_done_callback(fs[1], record_callback, nullptr), FUT_OK);
    uint8_t flags[2] = {9, 9};
    size_t n_done = 0;
    ASSERT_EQ(fut_wait(fs, 2, TU_LONG_TIMEOUT_NS, FUT_FIRST_COMPLETED, flags, &n_done), FUT_OK);
    EXPECT_EQ(n_done, 1u);
    EXPECT_EQ(flags[0], 0);
    EXPECT_EQ(flags[1], 1);
    fut_as_completed *it = nullptr;
    ASSERT_EQ(fut_as_completed_new(fs, 2, TU_LONG_TIMEOUT_NS, &it), FUT_OK);
    size_t idx;
    fut_future *f;
    ASSERT_EQ(fut_as_completed_next(it, &idx, &f), FUT_OK);
    EXPECT_EQ(idx, 1u);  // already done: yielded first
    fut_future_release(f);
    pp_gate_open(1);  // only now can the slow one finish
    ASSERT_EQ(fut_as_completed_next(it, &idx, &f), FUT_OK);
    EXPECT_EQ(idx, 0u);
    fut_future_release(f);
    EXPECT_EQ(fut_as_completed_next(it, &idx, &f), FUT_END);
    fut_as_completed_release(it);
    EXPECT_EQ(callback_pid.load(), (int)getpid());
    EXPECT_FALSE(callback_on_main.load());
    fut_future_release(fs[0]);
    fut_future_release(fs[1]);
    fut_executor_release(ex);
}

// E3, E4, E1: shutdown is idempotent, waits for the work, then refuses.
TEST_P(ProcessPool, Shutdown) {
    fut_executor *ex = pool(2);
    fut_future *f = pp_submit(ex, pp_echo, "x", 2);
    EXPECT_EQ(fut_executor_shutdown(ex, true, false), FUT_OK);
    EXPECT_TRUE(fut_future_done(f));
    EXPECT_EQ(fut_executor_shutdown(ex, true, false), FUT_OK);
    EXPECT_EQ(fut_executor_shutdown(ex, false, true), FUT_OK);
    fut_future *g = nullptr;
    EXPECT_EQ(fut_executor_submit(ex, pp_echo, "y", 2, nullptr, &g), FUT_ERR_SHUTDOWN);
    fut_item item{"z", 2};
    fut_map *it = nullptr;
    EXPECT_EQ(fut_executor_map(ex, pp_echo, &item, 1, TU_LONG_TIMEOUT_NS, 1, &it), FUT_ERR_SHUTDOWN);
    fut_future_release(f);
    fut_executor_release(ex);
}

// E6, P13, P14: shutdown(wait=true, cancel_futures=true) cancels the queue
// and does not wait for the cancelled leftovers.
TEST_P(ProcessPool, ShutdownCancelFutures) {
    fut_executor *ex = pool(1);
    fut_future *first = pp_submit(ex, pp_report_block_echo, "1", 2);
    std::vector<fut_future *> rest;
    for (int i = 0; i < 20; i++) rest.push_back(pp_submit(ex, pp_echo, "r", 2));
    pp_read_pid();
    // P13: applied by the manager; the last one is surely not in the call queue.
    EXPECT_EQ(fut_executor_shutdown(ex, false, true), FUT_OK);
    void *v;
    EXPECT_EQ(fut_future_result(rest.back(), TU_LONG_TIMEOUT_NS, &v, nullptr), FUT_ERR_CANCELLED);
    pp_gate_open(1);
    EXPECT_EQ(fut_executor_shutdown(ex, true, true), FUT_OK);
    pp_expect_bytes(first, "1", 2);
    int cancelled = 0;
    for (auto *f : rest) {
        EXPECT_TRUE(fut_future_done(f));
        cancelled += fut_future_cancelled(f);
        fut_future_release(f);
    }
    EXPECT_GE(cancelled, 19);  // at most the one in the call queue ran
    fut_future_release(first);
    fut_executor_release(ex);
}

// E13: releasing a map iterator early cancels what it has not yielded.
TEST_P(ProcessPool, MapReleaseCancels) {
    fut_executor *ex = pool(1);
    std::vector<fut_item> items(10, fut_item{"m", 2});
    fut_map *it = nullptr;
    ASSERT_EQ(fut_executor_map(ex, pp_report_block_echo, items.data(), items.size(), TU_LONG_TIMEOUT_NS, 1,
                               &it),
              FUT_OK);
    pp_read_pid();
    fut_map_release(it);
    pp_gate_open(2);  // the running one, and the one in the call queue
    EXPECT_EQ(fut_executor_shutdown(ex, true, false), FUT_OK);
    fut_executor_release(ex);
}

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessPool,
                         ::testing::Values(FUT_START_FORK, FUT_START_FORKSERVER),
                         [](const ::testing::TestParamInfo<fut_start_method> &i) {
                             return std::string(i.param == FUT_START_FORK ? "Fork" : "ForkServer");
                         });

// ---- X11: a busy multithreaded host -------------------------------------------

static pthread_mutex_t host_lock = PTHREAD_MUTEX_INITIALIZER;

static int32_t alloc_task(fut_task *t, const void *arg, size_t len) {
    // Allocates in the worker: malloc must be usable after the fork(s).
    std::vector<char> v(4096 + len);
    std::memset(v.data(), 'w', v.size());
    char *r = (char *)malloc(16);
    snprintf(r, 16, "%d", (int)v.size());
    fut_task_set_result(t, r, strlen(r) + 1, free);
    (void)arg;
    return 0;
}

TEST(ProcessPoolBusyHost, ForkServerReplacesWorkersWhileThreadsHoldLocks) {
#if defined(__SANITIZE_ADDRESS__)
    // ASan replaces malloc with an allocator whose locks this runtime does not
    // reset at fork: a child forked while another thread allocates can hang in
    // malloc. glibc's malloc (the normal build) is reset at fork.
    GTEST_SKIP() << "ASan's allocator is not fork-safe while other threads allocate";
#endif
    pp_pipes_init();
    pp_baseline base = pp_take_baseline();
    std::atomic<bool> stop{false};
    std::vector<std::thread> busy;
    for (int i = 0; i < 4; i++) {
        busy.emplace_back([&stop, i] {
            unsigned seed = (unsigned)i;
            while (!stop.load(std::memory_order_relaxed)) {
                pthread_mutex_lock(&host_lock);
                void *p = malloc(16 + (rand_r(&seed) % 65536));
                char buf[64];
                snprintf(buf, sizeof buf, "%p", p);
                free(p);
                pthread_mutex_unlock(&host_lock);
                std::string s(1000 + (rand_r(&seed) % 5000), 'x');  // operator new
            }
        });
    }
    const int rounds = pp_under_valgrind() ? 5 : 50;
    for (int round = 0; round < rounds; round++) {
        fut_process_pool_options o;
        fut_process_pool_options_init(&o);
        o.max_workers = 1;
        o.start_method = FUT_START_FORKSERVER;
        o.on_worker_crash = FUT_CRASH_FAIL_TASK;
        o.max_tasks_per_child = 1;  // every task needs a new worker
        fut_executor *ex = nullptr;
        ASSERT_EQ(fut_process_pool_new(&o, &ex), FUT_OK);
        fut_future *a = pp_submit(ex, alloc_task, "abc", 3);
        fut_future *crash = pp_submit(ex, pp_segv, nullptr, 0);
        fut_future *b = pp_submit(ex, alloc_task, "abcdef", 6);
        pp_expect_bytes(a, "4099", 5);
        pp_expect_failure(crash, FUT_ERR_WORKER_DIED);
        pp_expect_bytes(b, "4102", 5);
        fut_future_release(a);
        fut_future_release(crash);
        fut_future_release(b);
        fut_executor_release(ex);
    }
    // FUT_START_FORK from the same busy host (forks before any pool thread).
    for (int round = 0; round < rounds / 5; round++) {
        fut_executor *ex = pp_pool(2, FUT_START_FORK, FUT_CRASH_BREAK_POOL);
        fut_future *a = pp_submit(ex, alloc_task, "x", 1);
        pp_expect_bytes(a, "4097", 5);
        fut_future_release(a);
        fut_executor_release(ex);
    }
    stop = true;
    for (auto &t : busy) t.join();
    pp_check_clean(base, "busy host");
}

// Before any test: orphans of ours must show up here (leak checks), and the
// pool's log messages stay out of the test output.
struct Setup {
    Setup() {
        pp_become_subreaper();
        fut_set_log_hook(tu_log_capture_fn, &pp_log);
    }
} setup;

}  // namespace

