// Built (not run) to prove that futures.hpp compiles as strict C++17 with every warning on,
// and that its templates instantiate for the value kinds it supports.
#include <futures.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace {
struct pair_arg {
    int a;
    double b;
};
int32_t echo(fut_task *, const void *, size_t) noexcept { return 0; }
}  // namespace

int fut_header_hpp_probe();
int fut_header_hpp_probe() {
    fut::process_pool_options po;
    po.max_workers = 1;
    po.on_worker_crash = fut::crash_policy::fail_task;
    fut::process_pool procs(po);
    fut::future<fut::bytes> r = procs.submit(echo, "bytes");
    fut::future<std::string> q = procs.submit<std::string>(echo, fut::bytes{});
    fut::future<double> m = procs.submit([](pair_arg p, long k) { return p.b * static_cast<double>(k); },
                                         pair_arg{1, 2.0}, 3L);
    fut::future<void> z = procs.submit([] {});
    fut::future<std::size_t> sv = procs.submit([](std::string_view s, int k) { return s.size() + static_cast<std::size_t>(k); },
                                               std::string("path"), 1);
    fut::future<std::string> sb = procs.submit([](const std::string &s, fut::bytes b) { return s + std::to_string(b.size()); },
                                               "literal", fut::bytes{});
    std::vector<std::string> words{"a", "b"};
    for (auto &f : procs.map([](std::string_view s) { return s.size(); }, words, 2, std::chrono::seconds(1)))
        (void)f.get();
    for (auto &f : procs.map([](long x) { return x * 2; }, std::vector<long>{1, 2}, 1)) (void)f.get();
    for (auto &f : procs.map_c<std::string>(echo, words, 1)) (void)f.get().size();
    (void)sv.get();
    (void)sb.get();
    (void)r.get().size();
    (void)q.get().size();
    z.get();
    if (m.get() > 0) return 0;
    fut::thread_pool pool(1);
    fut::future<int> a = pool.submit([] { return 1; });
    fut::future<void> b = pool.submit([](fut::task_context &ctx) { ctx.throw_if_cancel_requested(); });
    fut::future<std::string> c = pool.submit([](std::string s) { return s; }, std::string("x"));
    fut::future<std::vector<int>> d = pool.submit([] { return std::vector<int>{1}; });
    int base = 1;
    for (auto &f : pool.map([base](int x) { return x + base; }, std::vector<int>{1, 2}, 1, std::chrono::seconds(1)))
        (void)f.get();
    fut::promise<fut::bytes> p;
    fut::future<fut::bytes> e = p.get_future();
    e.then([](fut::future_view v) { (void)v.status(); });
    std::vector<fut::future<int>> fs;
    fs.push_back(std::move(a));
    int n = 0;
    for (auto &f : fut::as_completed(fs, std::chrono::seconds(1))) n += f.get();
    bool all = fut::wait_all({b, c, d}, std::chrono::milliseconds(10));
    return n + (all ? 1 : 0) + static_cast<int>(d.get().size());
}
