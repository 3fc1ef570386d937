/* tbb_bench: the benchmark suite's thread workloads (B-W1, B-W2, B-W3, B-W5,
 * B-I1) on oneTBB's task_group, in its own task_arena of --workers threads
 * (the submitting thread is not one of them: it only submits). Same JSON
 * lines as lf_bench (bench_util.h). run.py builds it with the system's C++
 * compiler when oneTBB's headers are installed (Debian: libtbb-dev).
 *
 *   tbb_bench [--workload ID[,ID...]|all] [--runs N] [--scale F] [--workers N[,N...]] [--list]
 *
 * TBB has no futures: "all done" is task_group::wait (B-W1) or a counter
 * whose last bump signals a condition variable (B-W5: the bump stands for the
 * done-callback), a round trip is a condition-variable hand-shake (B-W2),
 * results come back through a concurrent_bounded_queue (B-W3). */
#include "bench_util.h"

#include <oneapi/tbb/concurrent_queue.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <vector>

namespace {

/* An arena of `workers` worker threads, none reserved for the submitter,
 * and a task_group run in it. */
struct Pool {
    tbb::global_control limit;
    tbb::task_arena arena;
    tbb::task_group group;
    explicit Pool(int workers)
        : limit(tbb::global_control::max_allowed_parallelism, (size_t)workers + 1),
          arena(workers, 0) {}
    template <class F> void submit(F &&f) {
        arena.execute([&] { group.run(std::forward<F>(f)); });
    }
    void wait() {
        arena.execute([&] { group.wait(); });
    }
    ~Pool() { wait(); }
};

struct Done {
    std::atomic<size_t> count{0};
    size_t target;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    explicit Done(size_t n) : target(n) {}
    void bump() {
        if (count.fetch_add(1, std::memory_order_relaxed) + 1 == target) {
            std::lock_guard<std::mutex> g(mu);
            done = true;
            cv.notify_one();
        }
    }
    void wait() {
        std::unique_lock<std::mutex> g(mu);
        cv.wait(g, [&] { return done; });
    }
};

void w1() {
    size_t n = bu_scaled(200000, 100);
    double v[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) {
        Pool p(bu_workers);
        double t0 = bu_now_s();
        p.arena.execute([&] {
            for (size_t i = 0; i < n; i++) p.group.run([] {});
        });
        p.wait();
        v[r] = (double)n / (bu_now_s() - t0);
    }
    bu_emit("B-W1", "tasks_per_s", "tasks/s", "higher", n, v, bu_runs);
}

void w5() {
    size_t n = bu_scaled(200000, 100);
    double v[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) {
        Pool p(bu_workers);
        Done d(n);
        double t0 = bu_now_s();
        p.arena.execute([&] {
            for (size_t i = 0; i < n; i++) p.group.run([&d] { d.bump(); });
        });
        d.wait();
        v[r] = (double)n / (bu_now_s() - t0);
    }
    bu_emit("B-W5", "tasks_per_s", "tasks/s", "higher", n, v, bu_runs);
}

void w2_once(size_t n, double pause_s, double *med, double *p99) {
    Pool p(bu_workers);
    std::vector<double> lat(n);
    std::mutex mu;
    std::condition_variable cv;
    for (size_t i = 0; i <= n; i++) {
        if (pause_s > 0) bu_sleep_s(pause_s);
        bool done = false;
        double t0 = bu_now_s();
        p.submit([&] {
            std::lock_guard<std::mutex> g(mu);
            done = true;
            cv.notify_one();
        });
        {
            std::unique_lock<std::mutex> g(mu);
            cv.wait(g, [&] { return done; });
        }
        if (i > 0) lat[i - 1] = (bu_now_s() - t0) * 1e6;
    }
    *p99 = bu_quantile(lat.data(), n, 0.99);
    *med = bu_median(lat.data(), n);
}

void w2() { bu_w2(w2_once); }

void w3() {
    size_t n = bu_scaled(100000, 100);
    double v[BU_MAX_RUNS];
    for (int r = 0; r < bu_runs; r++) {
        Pool p(bu_workers);
        tbb::concurrent_bounded_queue<int64_t> q;
        double t0 = bu_now_s();
        p.arena.execute([&] {
            for (size_t i = 0; i < n; i++) p.group.run([&q, i] { q.push((int64_t)i); });
        });
        int64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t x;
            q.pop(x);
            sum += x;
        }
        double dt = bu_now_s() - t0;
        if (sum != (int64_t)n * ((int64_t)n - 1) / 2) {
            fprintf(stderr, "tbb_bench: B-W3 sum\n");
            exit(1);
        }
        v[r] = (double)n / dt;
    }
    bu_emit("B-W3", "tasks_per_s", "tasks/s", "higher", n, v, bu_runs);
}

pthread_barrier_t i1_barrier;

void *i1_start() {
    Pool *p = new Pool(4);
    pthread_barrier_init(&i1_barrier, NULL, 5);
    for (int i = 0; i < 4; i++) p->submit([] { pthread_barrier_wait(&i1_barrier); });
    pthread_barrier_wait(&i1_barrier);
    p->wait();
    return p;
}

void i1_stop(void *p) {
    delete static_cast<Pool *>(p);
    pthread_barrier_destroy(&i1_barrier);
}

void i1() { bu_i1(i1_start, i1_stop); }

} // namespace

int main(int argc, char **argv) {
    bu_impl = "tbb";
    static const struct bu_workload w[] = {
        {"B-W1", w1, 1}, {"B-W2", w2, 1}, {"B-W3", w3, 1}, {"B-W5", w5, 1}, {"B-I1", i1, 0},
    };
    return bu_main(argc, argv, w, sizeof w / sizeof w[0]);
}
