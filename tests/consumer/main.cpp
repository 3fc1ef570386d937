// An installed-libfutures consumer in C++17 through futures.hpp.
#include <futures.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

int main() {
    using namespace std::chrono_literals;
    fut::thread_pool threads(2);
    std::string prefix = "square: ";
    std::vector<fut::future<std::string>> fs;
    for (int i = 1; i <= 4; i++) fs.push_back(threads.submit([&prefix, i] { return prefix + std::to_string(i * i); }));
    for (auto &f : fut::as_completed(fs, 30s)) std::printf("%s\n", f.get().c_str());

    fut::process_pool procs(1);
    int product = procs.submit([](int a, int b) { return a * b; }, 6, 7).get(30s);

    fut::promise<int> p;
    fut::future<int> answer = p.get_future();
    p.set_value(product);
    try {
        threads.submit([]() -> int { throw std::runtime_error("expected"); }).get(30s);
        return 1;
    } catch (const fut::task_error &e) {
        std::printf("task_error: %s\n", e.what());
    }
    std::printf("libfutures %s from C++: %d\n", fut::version(), answer.get(30s));
    return answer.get(0s) == 42 ? 0 : 1;
}
