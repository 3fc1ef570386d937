// A count-down latch for the C++ tests: wait() gives up after 30 s and
// answers false, so a bug fails the test instead of hanging it.
#ifndef FUT_TEST_LATCH_HPP
#define FUT_TEST_LATCH_HPP

#include <chrono>
#include <condition_variable>
#include <mutex>

struct Latch {
    std::mutex mu;
    std::condition_variable cv;
    long count;
    explicit Latch(long n) : count(n) {}
    void count_down() {
        std::lock_guard<std::mutex> g(mu);
        if (count > 0 && --count == 0) cv.notify_all();
    }
    bool wait() {
        std::unique_lock<std::mutex> g(mu);
        return cv.wait_for(g, std::chrono::seconds(30), [&] { return count == 0; });
    }
};

#endif
