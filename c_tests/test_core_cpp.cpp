// test_core_cpp.cpp — the public header compiled as C++17 and driven from C++ (GoogleTest).
// Main paths of F4, F7, F8, F12–F14, W4–W7, W11–W13, X5, X6 through RAII
// wrappers, std::thread and capturing lambdas.
#include <futures.h>  // extern "C" comes from the header itself

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

constexpr int64_t kLong = int64_t{30} * 1000 * 1000 * 1000;  // 30 s: never reached

struct FutureDeleter {
  void operator()(fut_future *f) const noexcept { fut_future_release(f); }
};
using FuturePtr = std::unique_ptr<fut_future, FutureDeleter>;

struct IterDeleter {
  void operator()(fut_as_completed *it) const noexcept { fut_as_completed_release(it); }
};
using IterPtr = std::unique_ptr<fut_as_completed, IterDeleter>;

FuturePtr MakeFuture() {
  fut_future *f = nullptr;
  EXPECT_EQ(fut_future_new(&f), FUT_OK);
  EXPECT_NE(f, nullptr);
  return FuturePtr(f);
}

// A capturing lambda as a done-callback: heap-allocated std::function, freed by the
// trampoline after its single call (X5: exactly once, so callback data never leaks).
using Callback = std::function<void(fut_future *)>;

void Trampoline(fut_future *f, void *user) noexcept {
  std::unique_ptr<Callback> cb(static_cast<Callback *>(user));
  (*cb)(f);
}

fut_status AddCallback(fut_future *f, Callback cb) {
  auto *heap = new Callback(std::move(cb));
  fut_status s = fut_future_add_done_callback(f, Trampoline, heap);
  if (s != FUT_OK) delete heap;  // a refused call never calls the callback
  return s;
}

// A C++ object as a future's value, destroyed by the library through a C destructor.
struct Payload {
  std::string text;
  std::atomic<int> *destroyed;
  ~Payload() { destroyed->fetch_add(1); }
};

void DropPayload(void *p) { delete static_cast<Payload *>(p); }

std::string StatusName(fut_status s) {
  const char *n = fut_status_str(s);
  return n ? n : "(null)";
}

}  // namespace

// F7 F8 X3: a promise-style future completed from a std::thread; the value is a C++ object
// destroyed exactly once at the last release.
TEST(CoreCpp, F7_F8_PromiseCompletedFromStdThread) {
  std::atomic<int> destroyed{0};
  {
    FuturePtr f = MakeFuture();
    std::thread producer([&] {
      auto *p = new Payload{"hello from a thread", &destroyed};
      EXPECT_EQ(fut_future_set_result(f.get(), p, sizeof *p, DropPayload), FUT_OK);
    });
    void *ptr = nullptr;
    size_t len = 0;
    EXPECT_EQ(fut_future_result(f.get(), kLong, &ptr, &len), FUT_OK);
    producer.join();
    ASSERT_NE(ptr, nullptr);
    EXPECT_EQ(static_cast<Payload *>(ptr)->text, "hello from a thread");
    EXPECT_EQ(len, sizeof(Payload));
    EXPECT_TRUE(fut_future_done(f.get()));
    EXPECT_EQ(fut_future_state(f.get()), FUT_STATE_FINISHED);
    EXPECT_EQ(destroyed.load(), 0);
  }
  EXPECT_EQ(destroyed.load(), 1);
}

// F8 X1: failures and cancellations seen from C++.
TEST(CoreCpp, F8_F9_ExceptionAndCancellation) {
  FuturePtr f = MakeFuture();
  std::thread t([&] { EXPECT_EQ(fut_future_set_exception(f.get(), 17, "c++ failure"), FUT_OK); });
  t.join();
  EXPECT_EQ(fut_future_result(f.get(), 0, nullptr, nullptr), FUT_ERR_TASK_FAILED);
  fut_error_info info{};
  ASSERT_EQ(fut_future_exception(f.get(), 0, &info), FUT_OK);
  EXPECT_EQ(info.kind, FUT_ERR_TASK_FAILED);
  EXPECT_EQ(info.code, 17);
  EXPECT_EQ(std::string(info.message), "c++ failure");

  FuturePtr g = MakeFuture();
  std::thread c([&] { EXPECT_TRUE(fut_future_cancel(g.get())); });
  EXPECT_EQ(fut_future_result(g.get(), kLong, nullptr, nullptr), FUT_ERR_CANCELLED)
      << StatusName(fut_future_result(g.get(), 0, nullptr, nullptr));
  c.join();
  EXPECT_TRUE(fut_future_cancelled(g.get()));
  EXPECT_EQ(fut_future_set_result(g.get(), nullptr, 0, nullptr), FUT_ERR_INVALID_STATE);

  FuturePtr h = MakeFuture();
  EXPECT_EQ(fut_future_result(h.get(), 1000 * 1000, nullptr, nullptr), FUT_ERR_TIMEOUT);
  EXPECT_EQ(fut_future_state(h.get()), FUT_STATE_PENDING);
}

// W4 W5 W7 X7: fut_wait over futures completed by std::threads.
TEST(CoreCpp, W5_W7_WaitFromCpp) {
  constexpr size_t kN = 16;
  std::vector<FuturePtr> owned;
  std::vector<fut_future *> raw;
  for (size_t i = 0; i < kN; i++) {
    owned.push_back(MakeFuture());
    raw.push_back(owned.back().get());
  }
  std::vector<uint8_t> flags(kN, 0xAA);
  size_t n_done = 99;
  ASSERT_EQ(fut_wait(raw.data(), raw.size(), 0, FUT_FIRST_COMPLETED, flags.data(), &n_done),
            FUT_OK);
  EXPECT_EQ(n_done, 0u);
  for (uint8_t fl : flags) EXPECT_EQ(fl, 0);

  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; t++) {
    threads.emplace_back([&raw, t] {
      for (size_t i = t; i < kN; i += 4) {
        if (i % 2)
          EXPECT_EQ(fut_future_set_result(raw[i], nullptr, 0, nullptr), FUT_OK);
        else
          EXPECT_TRUE(fut_future_cancel(raw[i]));
      }
    });
  }
  ASSERT_EQ(fut_wait(raw.data(), raw.size(), kLong, FUT_ALL_COMPLETED, flags.data(), &n_done),
            FUT_OK);
  for (auto &t : threads) t.join();
  EXPECT_EQ(n_done, kN);
  for (uint8_t fl : flags) EXPECT_EQ(fl, 1);
}

// W11 W13 X8: as_completed from C++ with a concurrent producer; each future once; FUT_END.
TEST(CoreCpp, W11_AsCompletedFromCpp) {
  constexpr size_t kN = 200;
  std::vector<FuturePtr> owned;
  std::vector<fut_future *> raw;
  for (size_t i = 0; i < kN; i++) {
    owned.push_back(MakeFuture());
    raw.push_back(owned.back().get());
  }
  fut_as_completed *it_raw = nullptr;
  ASSERT_EQ(fut_as_completed_new(raw.data(), raw.size(), kLong, &it_raw), FUT_OK);
  IterPtr it(it_raw);
  std::thread producer([&raw] {
    for (size_t i = kN; i-- > 0;) {
      EXPECT_EQ(fut_future_set_result(raw[i], raw[i], 0, nullptr), FUT_OK);
    }
  });
  std::set<size_t> seen;
  for (;;) {
    size_t idx = 0;
    fut_future *out = nullptr;
    fut_status s = fut_as_completed_next(it.get(), &idx, &out);
    if (s == FUT_END) break;
    ASSERT_EQ(s, FUT_OK) << StatusName(s);
    FuturePtr yielded(out);  // a new reference
    ASSERT_LT(idx, kN);
    EXPECT_EQ(out, raw[idx]);
    EXPECT_TRUE(seen.insert(idx).second) << "index " << idx << " twice";
  }
  producer.join();
  EXPECT_EQ(seen.size(), kN);
  EXPECT_EQ(fut_as_completed_next(it.get(), nullptr, nullptr),
            FUT_ERR_INVALID_ARGUMENT);
}

// F12 F13 F14 X5: capturing lambdas as callbacks through a trampoline: before completion (run
// on the completing std::thread, in order, once), after completion (at once, in the caller),
// and the last release of a pending future cancels it and runs them (no leak of the lambda).
TEST(CoreCpp, F12_F13_F14_LambdaCallbacks) {
  std::mutex m;
  std::vector<int> order;
  std::thread::id cb_thread;
  FuturePtr f = MakeFuture();
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ(AddCallback(f.get(),
                          [&, i](fut_future *fut) {
                            std::lock_guard<std::mutex> lock(m);
                            order.push_back(i);
                            cb_thread = std::this_thread::get_id();
                            EXPECT_EQ(fut_future_result(fut, 0, nullptr, nullptr), FUT_OK);
                          }),
              FUT_OK);
  }
  std::thread::id completer;
  std::thread t([&] {
    completer = std::this_thread::get_id();
    EXPECT_EQ(fut_future_set_result(f.get(), nullptr, 0, nullptr), FUT_OK);
  });
  t.join();
  {
    std::lock_guard<std::mutex> lock(m);
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
    EXPECT_EQ(cb_thread, completer);
  }

  bool ran_now = false;
  ASSERT_EQ(AddCallback(f.get(), [&](fut_future *) { ran_now = true; }), FUT_OK);
  EXPECT_TRUE(ran_now);

  // last release of a pending future: cancelled, callbacks run (and free their lambdas)
  auto token = std::make_shared<int>(7);
  bool saw_cancelled = false;
  {
    FuturePtr g = MakeFuture();
    ASSERT_EQ(AddCallback(g.get(),
                          [token, &saw_cancelled](fut_future *fut) {
                            saw_cancelled = fut_future_cancelled(fut);
                          }),
              FUT_OK);
    EXPECT_EQ(token.use_count(), 2);
  }
  EXPECT_TRUE(saw_cancelled);
  EXPECT_EQ(token.use_count(), 1);  // the lambda was destroyed after its single call

  // a refused registration never calls (and here frees) the callback
  bool called = false;
  EXPECT_EQ(AddCallback(nullptr, [&](fut_future *) { called = true; }), FUT_ERR_INVALID_ARGUMENT);
  EXPECT_FALSE(called);
}

// X6 docs/api.md Conventions: invalid handles from C++.
TEST(CoreCpp, X6_InvalidHandles) {
  EXPECT_EQ(fut_future_new(nullptr), FUT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fut_future_retain(nullptr), nullptr);
  fut_future_release(nullptr);
  EXPECT_FALSE(fut_future_cancel(nullptr));
  EXPECT_FALSE(fut_future_done(nullptr));
  EXPECT_EQ(fut_future_state(nullptr), FUT_STATE_INVALID);
  EXPECT_EQ(fut_future_result(nullptr, 0, nullptr, nullptr), FUT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fut_as_completed_next(nullptr, nullptr, nullptr), FUT_ERR_INVALID_ARGUMENT);
  fut_as_completed_release(nullptr);

  // released handle (no new future created before the checks)
  fut_future *f = nullptr;
  ASSERT_EQ(fut_future_new(&f), FUT_OK);
  fut_future_release(f);
  EXPECT_EQ(fut_future_state(f), FUT_STATE_INVALID);
  EXPECT_EQ(fut_future_retain(f), nullptr);
  EXPECT_EQ(fut_future_set_result(f, nullptr, 0, nullptr), FUT_ERR_INVALID_ARGUMENT);
  fut_future_release(f);

  // wrong type
  FuturePtr g = MakeFuture();
  fut_as_completed *it = nullptr;
  fut_future *arr[1] = {g.get()};
  ASSERT_EQ(fut_as_completed_new(arr, 1, 0, &it), FUT_OK);
  IterPtr owned(it);
  auto *as_future = reinterpret_cast<fut_future *>(it);
  EXPECT_EQ(fut_future_state(as_future), FUT_STATE_INVALID);
  EXPECT_EQ(fut_future_set_exception(as_future, 1, "x"), FUT_ERR_INVALID_ARGUMENT);
  auto *as_iter = reinterpret_cast<fut_as_completed *>(g.get());
  EXPECT_EQ(fut_as_completed_next(as_iter, nullptr, &f), FUT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fut_future_state(g.get()), FUT_STATE_PENDING);

  EXPECT_EQ(StatusName(FUT_ERR_TIMEOUT).empty(), false);
  EXPECT_EQ(std::string(fut_status_str(987654)), "unknown status");
  ASSERT_NE(fut_version(), nullptr);
  EXPECT_GT(std::strlen(fut_version()), 0u);
}

// X15: the log hook from C++ (a captureless lambda converted to a function pointer).
TEST(CoreCpp, X15_LogHookFromCpp) {
  static std::atomic<int> messages{0};
  messages = 0;
  fut_set_log_hook([](const char *msg, void *user) {
    EXPECT_NE(msg, nullptr);
    EXPECT_EQ(user, &messages);
    messages.fetch_add(1);
  }, &messages);
  FuturePtr f = MakeFuture();
  EXPECT_TRUE(fut_future_set_running_or_notify_cancel(f.get()));
  EXPECT_FALSE(fut_future_set_running_or_notify_cancel(f.get()));
  EXPECT_EQ(messages.load(), 1);
  fut_set_log_hook(nullptr, nullptr);
  EXPECT_EQ(fut_future_set_result(f.get(), nullptr, 0, nullptr), FUT_OK);
}
