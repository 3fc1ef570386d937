// The C++ wrapper's map (process_pool::map, thread_pool::map, executor::map_c, over
// fut_executor_map) and process_pool::submit with byte-string arguments (GoogleTest):
// E9-E15 (eager, input order, one deadline, errors at their position, chunksize), X1.
// Synchronisation by pipes and latches; every wait is bounded.
#include <futures.hpp>
#include <gtest/gtest.h>

#include "test_latch.hpp"
#include "test_tasks.hpp"

#include <poll.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 30s;  // every blocking call: never reached unless a bug


std::vector<std::int64_t> iota(std::int64_t n) {
    std::vector<std::int64_t> v;
    for (std::int64_t i = 0; i < n; i++) v.push_back(i);
    return v;
}

// A pipe made before the pool, so that its workers inherit it.
struct Gate {
    int fds[2] = {-1, -1};
    Gate() { EXPECT_EQ(pipe(fds), 0); }
    ~Gate() {
        close(fds[0]);
        close(fds[1]);
    }
    void open() { EXPECT_EQ(write(fds[1], "x", 1), 1); }
};

}  // namespace

// E9, E10, E14: results in input order; with chunksize = n every call runs in
// the same worker (one message), with 1 they are spread.
TEST(ProcessPoolMap, InputOrderAndChunksize) {
    fut::process_pool pool(2);
    std::vector<std::int64_t> xs = iota(200);
    fut::map_range<std::int64_t> squares = pool.map([](std::int64_t x) { return x * x; }, xs, 16, kWait);
    EXPECT_EQ(squares.size(), 200u);
    std::int64_t i = 0;
    for (fut::future<std::int64_t> &f : squares) {
        EXPECT_TRUE(f.done());
        EXPECT_EQ(f.get(0s), i * i);
        i++;
    }
    EXPECT_EQ(i, 200);

    std::set<int> pids;
    for (auto &f : pool.map([](std::int64_t) { return static_cast<int>(getpid()); }, xs, xs.size()))
        pids.insert(f.get(kWait));
    EXPECT_EQ(pids.size(), 1u) << "one chunk runs in one worker";
    EXPECT_EQ(pids.count(static_cast<int>(getpid())), 0u);
}

// E12: a failure is reported at its own position and the iteration goes on, also inside a chunk.
TEST(ProcessPoolMap, FailureAtItsPosition) {
    fut::process_pool pool(2);
    auto results = pool.map(
        [](int x) -> int {
            if (x == 5) throw fut::task_failure(7, "five");
            return x + 1;
        },
        std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}, 4);
    int i = 0;
    for (auto &f : results) {
        if (i == 5) {
            try {
                f.get(0s);
                ADD_FAILURE() << "position 5 succeeded";
            } catch (const fut::task_error &e) {
                EXPECT_EQ(e.code(), 7);
            }
        } else {
            EXPECT_EQ(f.get(0s), i + 1);
        }
        i++;
    }
    EXPECT_EQ(i, 8);
}

// E14, X1: chunksize 0 is refused with FUT_ERR_INVALID_ARGUMENT, by both pools.
TEST(Map, ChunksizeZeroIsInvalid) {
    fut::process_pool procs(1);
    fut::thread_pool threads(1);
    std::vector<int> xs{1, 2};
    try {
        procs.map([](int x) { return x; }, xs, 0);
        ADD_FAILURE() << "process pool accepted chunksize 0";
    } catch (const fut::error &e) {
        EXPECT_EQ(e.status(), FUT_ERR_INVALID_ARGUMENT);
    }
    try {
        threads.map([](int x) { return x; }, xs, 0);
        ADD_FAILURE() << "thread pool accepted chunksize 0";
    } catch (const fut::error &e) {
        EXPECT_EQ(e.status(), FUT_ERR_INVALID_ARGUMENT);
    }
}

// E9, E10: byte-string inputs: std::string_view and std::string parameters.
TEST(ProcessPoolMap, StringInputs) {
    fut::process_pool pool(2);
    std::vector<std::string> words{"alpha", "", "gamma", std::string(100000, 'z')};
    std::vector<std::string> got;
    for (auto &f : pool.map([](std::string_view w) { return std::string(w) + "!"; }, words, 2))
        got.push_back(f.get(kWait));
    ASSERT_EQ(got.size(), 4u);
    for (std::size_t i = 0; i < words.size(); i++) EXPECT_EQ(got[i], words[i] + "!");
    std::size_t total = 0;
    for (auto &f : pool.map([](const std::string &w) { return w.size(); }, words, 3)) total += f.get(kWait);
    EXPECT_EQ(total, 5u + 0u + 5u + 100000u);
}

// E9, E10, E14: map_c runs a C task over byte strings, on both pools.
TEST(Map, CTaskOverBytes) {
    std::vector<std::string> words{"a", "bc", "def", "ghij", "klmno"};
    fut::process_pool procs(2);
    fut::thread_pool threads(2);
    for (fut::executor *ex : {static_cast<fut::executor *>(&procs), static_cast<fut::executor *>(&threads)}) {
        std::size_t i = 0;
        for (auto &f : ex->map_c<std::string>(upper_task, words, 2, kWait)) {
            std::string want = words[i++];
            for (char &c : want) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            EXPECT_EQ(f.get(0s), want);
        }
        EXPECT_EQ(i, words.size());
    }
}

// E11: one deadline for the whole map: the awaited call blocks past it, the
// iteration throws timeout_error and ends, and what was not yielded is cancelled.
TEST(ProcessPoolMap, DeadlineCancelsTheRest) {
    Gate gate;  // before the pool: the workers inherit it
    fut::process_pool pool(1);
    std::vector<int> fds{gate.fds[0], -1, -1};
    auto results = pool.map(
        [](int fd) {
            if (fd < 0) return 0;
            pollfd p{fd, POLLIN, 0};
            return poll(&p, 1, 30000) == 1 ? 1 : -1;
        },
        fds, 1, 100ms);
    EXPECT_THROW(results.begin(), fut::timeout_error);
    EXPECT_TRUE(results.begin() == results.end()) << "the iteration ends at its deadline";
    gate.open();
    pool.shutdown();
}

// E9-E11, E14: the thread pool's map takes capturing lambdas, ignores the
// chunksize, and has the same deadline.
TEST(ThreadPoolMap, OrderAndDeadline) {
    fut::thread_pool pool(4);
    std::int64_t offset = 1000;
    std::int64_t i = 0;
    for (auto &f : pool.map([offset](std::int64_t x) { return x + offset; }, iota(100), 7)) {
        EXPECT_EQ(f.get(0s), i + offset);
        i++;
    }
    EXPECT_EQ(i, 100);

    Latch release(1);
    Latch started(1);
    std::vector<int> xs{0, 1, 2};
    auto results = pool.map(
        [&](int x) {
            if (x == 0) {
                started.count_down();
                release.wait();
            }
            return x;
        },
        xs, 1, 100ms);
    ASSERT_TRUE(started.wait());
    EXPECT_THROW(results.begin(), fut::timeout_error);
    EXPECT_TRUE(results.begin() == results.end()) << "the iteration ends at its deadline";
    release.count_down();
}

// X1: process_pool::submit copies std::string, std::string_view, string literal and
// fut::bytes arguments as bytes; mixed with plain values; large ones too.
TEST(ProcessPoolSubmit, StringArguments) {
    fut::process_pool pool(2);
    std::string path = "/var/log/syslog";
    auto size = pool.submit([](const std::string &s) { return s.size(); }, path);
    auto view = pool.submit([](std::string_view s, int n) { return std::string(s.substr(0, static_cast<std::size_t>(n))); },
                            "hello world", 5);
    auto owned = pool.submit([](std::string s) { return s + s; }, std::string_view("ab"));
    auto raw = pool.submit([](fut::bytes b, char c) { return b.size() + static_cast<std::size_t>(c); },
                           fut::bytes{std::byte{1}, std::byte{2}}, '\3');
    std::string big(1 << 20, 'q');
    auto large = pool.submit([](const std::string &s) { return s.size() == (1u << 20) && s.back() == 'q'; }, big);
    auto empty = pool.submit([](std::string_view s) { return s.empty(); }, std::string());
    EXPECT_EQ(size.get(kWait), path.size());
    EXPECT_EQ(view.get(kWait), "hello");
    EXPECT_EQ(owned.get(kWait), "abab");
    EXPECT_EQ(raw.get(kWait), 5u);
    EXPECT_TRUE(large.get(kWait));
    EXPECT_TRUE(empty.get(kWait));
}
