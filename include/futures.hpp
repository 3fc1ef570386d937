/*
 * futures.hpp: C++17 wrapper of futures.h (libfutures), header-only.
 *
 * Hand-written (futures.h is generated); link with -lfutures like a C
 * program. Everything lives in namespace fut.
 *
 *   fut::thread_pool pool(4);
 *   fut::future<int> f = pool.submit([x = 6] { return x * 7; });
 *   int v = f.get(std::chrono::seconds(5));     // 42, or throws fut::error
 *
 * Rules
 * - Handles (future<T>, thread_pool, process_pool, promise<T>) are move-only
 *   RAII owners of one C reference; a moved-from handle is empty, and any
 *   call on it throws fut::error(FUT_ERR_INVALID_ARGUMENT).
 * - Errors are exceptions derived from fut::error (a std::runtime_error)
 *   carrying the status and the failure record: cancelled_error,
 *   timeout_error, broken_pool_error, shutdown_error, task_error,
 *   invalid_state_error.
 * - No exception crosses into the C library: tasks, callbacks and
 *   initializers run through noexcept trampolines. An exception thrown by a
 *   task becomes the task's failure (code and what()); one thrown by a
 *   done-callback is caught and reported through the log hook (fut::log).
 * - Timeouts are std::chrono durations; a zero or negative one polls. The
 *   overloads without a timeout wait without limit.
 * - Values: future<T> holds a T for T = void, a trivially copyable type,
 *   std::string or fut::bytes (std::vector<std::byte>), which a process pool
 *   can carry as bytes, and get() returns a copy. Thread pools and promises
 *   also carry any other movable T, kept in the future: get() then returns
 *   a const T& valid while a handle to the future lives.
 */
#ifndef FUTURES_HPP
#define FUTURES_HPP

#include <futures.h>

#if !defined(__cplusplus) || (__cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L))
#error "futures.hpp needs C++17 (futures.h alone works from C and C++11)"
#endif

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace fut {

/** Bytes: the values and arguments a process pool carries. */
using bytes = std::vector<std::byte>;

/** The library's version, "MAJOR.MINOR.PATCH" (== the FUT_VERSION_* macros). */
inline const char *version() noexcept { return fut_version(); }

/** The name of a status code ("FUT_ERR_TIMEOUT", ...). */
inline const char *status_name(fut_status st) noexcept { return fut_status_str(st); }

// ============================================================================
// Log hook
// ============================================================================

namespace detail {
struct log_hook_state {
    std::mutex mu;
    fut_log_fn fn = nullptr;
    void *user = nullptr;
};
inline log_hook_state &log_hook() noexcept {
    static log_hook_state state;
    return state;
}
}  // namespace detail

/**
 * Installs `fn(message, user)` as the library's log hook (fut_set_log_hook)
 * and as the wrapper's: messages of fut::log (exceptions thrown by
 * done-callbacks or initializers) go to the same place. NULL restores the
 * default, a line on stderr. A hook installed with fut_set_log_hook
 * directly receives the library's messages only.
 */
inline void set_log_hook(fut_log_fn fn, void *user = nullptr) noexcept {
    auto &state = detail::log_hook();
    try {
        std::lock_guard<std::mutex> lock(state.mu);
        fut_set_log_hook(fn, user);
        state.fn = fn;
        state.user = user;
    } catch (...) {  // std::mutex::lock failed: leave everything as it was
    }
}

/** Sends `message` to the hook set with fut::set_log_hook (default: stderr). */
inline void log(const char *message) noexcept {
    fut_log_fn fn = nullptr;
    void *user = nullptr;
    auto &state = detail::log_hook();
    try {
        std::lock_guard<std::mutex> lock(state.mu);
        fn = state.fn;
        user = state.user;
    } catch (...) {
    }
    if (fn != nullptr) {
        try {
            fn(message, user);
        } catch (...) {
        }
    } else {
        std::fprintf(stderr, "libfutures: %s\n", message);
    }
}

// ============================================================================
// Errors
// ============================================================================

/** A failure record (fut_error_info, copied). */
struct error_info {
    /** FUT_OK for a success, else the failure's kind (FUT_ERR_TASK_FAILED, ...). */
    fut_status kind = FUT_OK;
    /** The task's own code (like errno); 0 if none. */
    std::int32_t code = 0;
    /** UTF-8 text; empty if none. */
    std::string message;
    /** Remote detail (signal, exit status, worker-side context); empty if none. */
    std::string detail;
};

/** Base of every exception of the wrapper. */
class error : public std::runtime_error {
public:
    /** A status without a failure record (timeout, cancellation, refusal, ...). */
    explicit error(fut_status status) : error(status, error_info{status, 0, {}, {}}) {}
    error(fut_status status, std::string message)
        : error(status, error_info{status, 0, std::move(message), {}}) {}
    error(fut_status status, error_info info)
        : std::runtime_error(describe(status, info)), status_(status), info_(std::move(info)) {}

    /** The status that was answered: FUT_ERR_TASK_FAILED, FUT_ERR_TIMEOUT, ... */
    fut_status status() const noexcept { return status_; }
    /** The failure record (kind, code, message, detail). */
    const error_info &info() const noexcept { return info_; }
    std::int32_t code() const noexcept { return info_.code; }
    const std::string &message() const noexcept { return info_.message; }
    const std::string &detail() const noexcept { return info_.detail; }

private:
    static std::string describe(fut_status status, const error_info &info) {
        std::string text = info.message.empty() ? std::string(fut_status_str(status)) : info.message;
        if (!info.detail.empty()) text += " (" + info.detail + ")";
        return text;
    }
    fut_status status_;
    error_info info_;
};

/** FUT_ERR_CANCELLED: the future was cancelled. Thrown by a task (see
 *  task_context::throw_if_cancel_requested) it ends the task cancelled. */
class cancelled_error : public error {
public:
    cancelled_error() : error(FUT_ERR_CANCELLED) {}
    using error::error;
};

/** FUT_ERR_TIMEOUT: the caller's deadline passed first; nothing changed. */
class timeout_error : public error {
public:
    timeout_error() : error(FUT_ERR_TIMEOUT) {}
    using error::error;
};

/** FUT_ERR_BROKEN_POOL: the executor can no longer run work. */
class broken_pool_error : public error {
    using error::error;
};

/** FUT_ERR_SHUTDOWN: the executor was shut down and accepts no more work. */
class shutdown_error : public error {
    using error::error;
};

/** FUT_ERR_INVALID_STATE: e.g. a promise completed twice. */
class invalid_state_error : public error {
    using error::error;
};

/** The task itself failed: FUT_ERR_TASK_FAILED (it threw or returned an
 *  error), FUT_ERR_WORKER_DIED (its worker process died, FUT_CRASH_FAIL_TASK)
 *  or FUT_ERR_TIME_LIMIT (it ran past the pool's time limit); status() tells
 *  which, code()/message()/detail() what. */
class task_error : public error {
    using error::error;
};

/**
 * Throw from a task to fail it with your own code (like errno) and message;
 * any other exception fails it too: std::system_error with its code's
 * value, fut::error with its code, anything else with code 0 and what().
 */
class task_failure : public std::runtime_error {
public:
    task_failure(std::int32_t code, const std::string &message)
        : std::runtime_error(message), code_(code) {}
    std::int32_t code() const noexcept { return code_; }

private:
    std::int32_t code_;
};

namespace detail {

[[noreturn]] inline void throw_error(fut_status st, error_info info) {
    switch (st) {
    case FUT_ERR_CANCELLED: throw cancelled_error(st, std::move(info));
    case FUT_ERR_TIMEOUT: throw timeout_error(st, std::move(info));
    case FUT_ERR_BROKEN_POOL: throw broken_pool_error(st, std::move(info));
    case FUT_ERR_SHUTDOWN: throw shutdown_error(st, std::move(info));
    case FUT_ERR_INVALID_STATE: throw invalid_state_error(st, std::move(info));
    case FUT_ERR_TASK_FAILED:
    case FUT_ERR_WORKER_DIED:
    case FUT_ERR_TIME_LIMIT: throw task_error(st, std::move(info));
    case FUT_ERR_NO_MEMORY: throw std::bad_alloc();
    default: throw error(st, std::move(info));
    }
}

[[noreturn]] inline void throw_status(fut_status st) { throw_error(st, error_info{st, 0, {}, {}}); }

/** Throws for an error status (FUT_OK and FUT_END pass). */
inline void check(fut_status st) {
    if (st < 0) throw_status(st);
}

inline bool has_record(fut_status st) noexcept {
    return st == FUT_ERR_TASK_FAILED || st == FUT_ERR_BROKEN_POOL || st == FUT_ERR_WORKER_DIED ||
           st == FUT_ERR_TIME_LIMIT;
}

/** Copies the failure record of a done future (kind FUT_OK for a success). */
inline error_info read_error(fut_future *f) {
    fut_error_info raw{};
    fut_status st = fut_future_exception(f, 0, &raw);
    if (st != FUT_OK) throw_status(st);
    return error_info{raw.kind, raw.code, raw.message ? raw.message : "", raw.detail ? raw.detail : ""};
}

/** Throws what `fut_future_result` answered for `f`, with its record. */
[[noreturn]] inline void throw_result(fut_future *f, fut_status st) {
    if (has_record(st)) {
        error_info info = read_error(f);
        if (info.kind == FUT_OK) info.kind = st;
        throw_error(st, std::move(info));
    }
    throw_status(st);
}

/** nanoseconds for the C API: <= 0 polls (0); beyond ~146 years waits forever. */
template <class Rep, class Period>
std::int64_t to_ns(std::chrono::duration<Rep, Period> d) noexcept {
    using ns_f = std::chrono::duration<long double, std::nano>;
    long double ns = std::chrono::duration_cast<ns_f>(d).count();
    if (!(ns > 0)) return 0;
    if (ns >= static_cast<long double>(std::int64_t{1} << 62)) return FUT_WAIT_FOREVER;
    auto whole = static_cast<std::int64_t>(ns);
    return static_cast<long double>(whole) < ns ? whole + 1 : whole;  // never wake early
}

// ---- values ------------------------------------------------------------------

template <class T>
struct is_byte_string : std::false_type {};
template <>
struct is_byte_string<std::string> : std::true_type {};
template <>
struct is_byte_string<bytes> : std::true_type {};

/** How a T lives in a C future. */
enum class value_kind { none, trivial, byte_string, object };

template <class T>
constexpr value_kind kind_of() {
    if constexpr (std::is_void_v<T>) {
        return value_kind::none;
    } else if constexpr (is_byte_string<T>::value) {
        return value_kind::byte_string;
    } else if constexpr (std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>) {
        return value_kind::trivial;
    } else {
        return value_kind::object;
    }
}

/** What get() returns: a copy of a value that can travel as bytes, else a
 *  reference to the object kept in the future. */
template <class T, bool Object = kind_of<T>() == value_kind::object>
struct get_result {
    using type = T;
};
template <class T>
struct get_result<T, true> {
    using type = const T &;
};
template <class T>
using get_result_t = typename get_result<T>::type;

template <class T>
void delete_object(void *p) noexcept {
    delete static_cast<T *>(p);
}

inline void free_bytes(void *p) noexcept { std::free(p); }

/** An encoded value owned until released to the library. */
struct encoded {
    void *ptr = nullptr;
    std::size_t len = 0;
    fut_drop_fn drop = nullptr;

    encoded() = default;
    encoded(void *p, std::size_t n, fut_drop_fn d) noexcept : ptr(p), len(n), drop(d) {}
    encoded(encoded &&o) noexcept
        : ptr(std::exchange(o.ptr, nullptr)), len(o.len), drop(std::exchange(o.drop, nullptr)) {}
    encoded(const encoded &) = delete;
    encoded &operator=(const encoded &) = delete;
    encoded &operator=(encoded &&) = delete;
    ~encoded() {
        if (drop != nullptr && ptr != nullptr) drop(ptr);
    }
    void release() noexcept {
        ptr = nullptr;
        drop = nullptr;
    }
};

inline encoded copy_bytes(const void *data, std::size_t n) {
    if (n == 0) return encoded{};
    void *buf = std::malloc(n);
    if (buf == nullptr) throw std::bad_alloc();
    std::memcpy(buf, data, n);
    return encoded{buf, n, &free_bytes};
}

/** T as (pointer, length, destructor) for fut_task_set_result / fut_future_set_result. */
template <class T, class U>
encoded encode(U &&value) {
    constexpr value_kind k = kind_of<T>();
    if constexpr (k == value_kind::byte_string) {
        const T &v = value;
        return copy_bytes(v.data(), v.size());
    } else {
        return encoded{new T(std::forward<U>(value)), sizeof(T), &delete_object<T>};
    }
}

[[noreturn]] inline void wrong_size(std::size_t got, std::size_t want) {
    throw error(FUT_ERR_INVALID_ARGUMENT, "future value has " + std::to_string(got) +
                                              " bytes where the requested type has " +
                                              std::to_string(want));
}

/** Reads a T from a finished future's (pointer, length). */
template <class T>
get_result_t<T> decode(const void *ptr, std::size_t len) {
    constexpr value_kind k = kind_of<T>();
    if constexpr (k == value_kind::none) {
        (void)ptr;
        (void)len;
    } else if constexpr (k == value_kind::byte_string) {
        using char_t = typename T::value_type;
        const auto *p = static_cast<const char_t *>(ptr);
        return p == nullptr ? T() : T(p, p + len);
    } else if constexpr (k == value_kind::trivial) {
        if (len != sizeof(T) || ptr == nullptr) wrong_size(len, sizeof(T));
        T v;
        std::memcpy(static_cast<void *>(&v), ptr, sizeof(T));
        return v;
    } else {
        if (len != sizeof(T) || ptr == nullptr) wrong_size(len, sizeof(T));
        return *static_cast<const T *>(ptr);
    }
}

/** Python's exception(): waits up to `ns`, then the failure or nothing. */
inline std::optional<error_info> exception_of(fut_future *f, std::int64_t ns) {
    fut_error_info raw{};
    check(fut_future_exception(f, ns, &raw));
    if (raw.kind == FUT_OK) return std::nullopt;
    return error_info{raw.kind, raw.code, raw.message ? raw.message : "", raw.detail ? raw.detail : ""};
}

/** Waits up to `ns` for `f`, then its value or the exception. */
template <class T>
get_result_t<T> get_value(fut_future *f, std::int64_t ns) {
    void *ptr = nullptr;
    std::size_t len = 0;
    fut_status st = fut_future_result(f, ns, &ptr, &len);
    if (st != FUT_OK) throw_result(f, st);
    return decode<T>(ptr, len);
}

/** True once `f` is done, waiting up to `ns`. */
inline bool wait_done(fut_future *f, std::int64_t ns) {
    fut_future *const fs[1] = {f};
    std::uint8_t flag = 0;
    check(fut_wait(fs, 1, ns, FUT_ALL_COMPLETED, &flag, nullptr));
    return flag != 0;
}

}  // namespace detail

// ============================================================================
// Futures
// ============================================================================

template <class T>
class future;

/**
 * A borrowed, untyped view of a future: what done-callbacks receive, and
 * what wait()/wait_any()/wait_all() take. It holds no reference: it is
 * valid while someone does (in a callback: during the call).
 */
class future_view {
public:
    future_view() noexcept = default;
    /** Views a C handle (not retained). */
    explicit future_view(fut_future *f) noexcept : f_(f) {}

    fut_future *native_handle() const noexcept { return f_; }
    bool done() const noexcept { return fut_future_done(f_); }
    bool running() const noexcept { return fut_future_running(f_); }
    bool cancelled() const noexcept { return fut_future_cancelled(f_); }
    fut_state state() const noexcept { return fut_future_state(f_); }
    /** Cancels a pending future (true also if it was cancelled already). */
    bool cancel() const noexcept { return fut_future_cancel(f_); }

    /** Without waiting: FUT_OK (a value), FUT_ERR_TIMEOUT (not done),
     *  FUT_ERR_CANCELLED, or the failure's kind. */
    fut_status status() const noexcept { return fut_future_result(f_, 0, nullptr, nullptr); }

    /** The value as a T (see future<T>::get); waits without limit. */
    template <class T>
    detail::get_result_t<T> get() const {
        return detail::get_value<T>(f_, FUT_WAIT_FOREVER);
    }
    template <class T, class Rep, class Period>
    detail::get_result_t<T> get(std::chrono::duration<Rep, Period> timeout) const {
        return detail::get_value<T>(f_, detail::to_ns(timeout));
    }

    /** The failure, or nothing for a value (waits without limit; throws
     *  cancelled_error, or timeout_error when not done in time). */
    std::optional<error_info> exception() const { return detail::exception_of(f_, FUT_WAIT_FOREVER); }
    template <class Rep, class Period>
    std::optional<error_info> exception(std::chrono::duration<Rep, Period> timeout) const {
        return detail::exception_of(f_, detail::to_ns(timeout));
    }

    /** A new owning handle to the same future. */
    template <class T>
    future<T> retain() const;

private:
    fut_future *f_ = nullptr;
};

namespace detail {
template <class Fn>
void done_trampoline(fut_future *f, void *user) noexcept {
    std::unique_ptr<Fn> fn(static_cast<Fn *>(user));  // runs exactly once: freed here
    try {
        if constexpr (std::is_invocable_v<Fn &, future_view>) {
            (*fn)(future_view(f));
        } else {
            (void)f;
            (*fn)();
        }
    } catch (const std::exception &e) {
        try {
            log((std::string("exception thrown by a future's done-callback: ") + e.what()).c_str());
        } catch (...) {
            log("exception thrown by a future's done-callback");
        }
    } catch (...) {
        log("unknown exception thrown by a future's done-callback");
    }
}

template <class Fn>
void add_done_callback(fut_future *f, Fn &&fn) {
    using Box = std::decay_t<Fn>;
    static_assert(std::is_invocable_v<Box &, future_view> || std::is_invocable_v<Box &>,
                  "a done-callback takes a fut::future_view (or nothing)");
    auto box = std::make_unique<Box>(std::forward<Fn>(fn));
    // A refused call never calls the callback: the box is still ours.
    check(fut_future_add_done_callback(f, &done_trampoline<Box>, box.get()));
    box.release();  // the trampoline frees it (maybe already did, if f was done)
}
}  // namespace detail

/**
 * An owning, typed handle to a future (one C reference), move-only.
 * T: void, a trivially copyable type, std::string, fut::bytes, or (thread
 * pools and promises only) any movable type, kept in the future.
 */
template <class T>
class future {
public:
    using value_type = T;

    future() noexcept = default;
    /** Adopts one reference to `f` (e.g. from fut_executor_submit). */
    explicit future(fut_future *f) noexcept : f_(f) {}
    future(future &&o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
    future &operator=(future &&o) noexcept {
        if (this != &o) {
            reset();
            f_ = std::exchange(o.f_, nullptr);
        }
        return *this;
    }
    future(const future &) = delete;
    future &operator=(const future &) = delete;
    /** Gives the reference back: the last one to a future nobody completed
     *  cancels it (its callbacks run). */
    ~future() { reset(); }

    bool valid() const noexcept { return f_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }
    fut_future *native_handle() const noexcept { return f_; }
    /** Hands the reference to the caller (fut_future_release it). */
    fut_future *release() noexcept { return std::exchange(f_, nullptr); }
    void reset() noexcept { fut_future_release(std::exchange(f_, nullptr)); }
    /** Another owning handle to the same future. */
    future clone() const {
        fut_future *r = fut_future_retain(f_);
        if (r == nullptr) detail::throw_status(FUT_ERR_INVALID_ARGUMENT);
        return future(r);
    }
    future_view view() const noexcept { return future_view(f_); }
    operator future_view() const noexcept { return view(); }

    bool done() const noexcept { return fut_future_done(f_); }
    bool running() const noexcept { return fut_future_running(f_); }
    bool cancelled() const noexcept { return fut_future_cancelled(f_); }
    fut_state state() const noexcept { return fut_future_state(f_); }
    /** Cancels a pending future: true (also if it was cancelled already);
     *  false for a running or finished one (a running task is asked to stop,
     *  see task_context::cancel_requested). */
    bool cancel() const noexcept { return fut_future_cancel(f_); }

    /** Waits without limit, then the value; throws task_error,
     *  broken_pool_error, cancelled_error, ... */
    detail::get_result_t<T> get() const { return detail::get_value<T>(f_, FUT_WAIT_FOREVER); }
    /** Like get(), waiting at most `timeout` (timeout_error: nothing changed). */
    template <class Rep, class Period>
    detail::get_result_t<T> get(std::chrono::duration<Rep, Period> timeout) const {
        return detail::get_value<T>(f_, detail::to_ns(timeout));
    }

    /** Waits until done (value, error or cancelled); throws nothing for those. */
    void wait() const { detail::wait_done(f_, FUT_WAIT_FOREVER); }
    /** True once done, waiting at most `timeout`. */
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
        return detail::wait_done(f_, detail::to_ns(timeout));
    }

    /** Python's exception(): the failure, or nothing for a value; throws
     *  cancelled_error, and timeout_error when not done in time. */
    std::optional<error_info> exception() const { return detail::exception_of(f_, FUT_WAIT_FOREVER); }
    template <class Rep, class Period>
    std::optional<error_info> exception(std::chrono::duration<Rep, Period> timeout) const {
        return detail::exception_of(f_, detail::to_ns(timeout));
    }

    /**
     * Registers `fn(fut::future_view)` (or `fn()`) to run once when the future
     * is done: on the completing thread, or now on this one if it is done
     * already. `fn` is moved to the heap and freed after its call; an
     * exception it throws is caught and logged (fut::log). Returns *this.
     */
    template <class Fn>
    future &then(Fn &&fn) {
        detail::add_done_callback(f_, std::forward<Fn>(fn));
        return *this;
    }

private:
    fut_future *f_ = nullptr;
};

template <class T>
future<T> future_view::retain() const {
    fut_future *r = fut_future_retain(f_);
    if (r == nullptr) detail::throw_status(FUT_ERR_INVALID_ARGUMENT);
    return future<T>(r);
}

// ============================================================================
// Waiting
// ============================================================================

/** When fut::wait returns. */
enum class return_when : std::int32_t {
    first_completed = FUT_FIRST_COMPLETED,
    first_exception = FUT_FIRST_EXCEPTION,
    all_completed = FUT_ALL_COMPLETED,
};

/** fut::wait's answer: positions in the input, done and not done. */
struct wait_result {
    std::vector<std::size_t> done;
    std::vector<std::size_t> not_done;
};

namespace detail {
template <class F>
fut_future *handle_of(const F &f) noexcept {
    if constexpr (std::is_convertible_v<const F &, fut_future *>) {
        return f;
    } else {
        return f.native_handle();
    }
}

template <class Range>
std::vector<fut_future *> handles(const Range &fs) {
    std::vector<fut_future *> out;
    for (const auto &f : fs) out.push_back(handle_of(f));
    return out;
}

inline wait_result wait_handles(const std::vector<fut_future *> &fs, return_when when, std::int64_t ns) {
    std::vector<std::uint8_t> flags(fs.size());
    check(fut_wait(fs.data(), fs.size(), ns, static_cast<fut_return_when>(when), flags.data(), nullptr));
    wait_result r;
    for (std::size_t i = 0; i < fs.size(); i++) (flags[i] ? r.done : r.not_done).push_back(i);
    return r;
}

inline std::optional<std::size_t> any_done(const std::vector<fut_future *> &fs, std::int64_t ns) {
    wait_result r = wait_handles(fs, return_when::first_completed, ns);
    if (r.done.empty()) return std::nullopt;
    return r.done.front();
}
}  // namespace detail

/**
 * Python's wait(): waits until `when` holds for the futures of `fs` (a range
 * of fut::future<T>, fut::future_view or fut_future*), or until `timeout`
 * passes, which is not an error: the result tells what is done.
 */
template <class Range, class Rep, class Period>
wait_result wait(const Range &fs, return_when when, std::chrono::duration<Rep, Period> timeout) {
    return detail::wait_handles(detail::handles(fs), when, detail::to_ns(timeout));
}
template <class Range>
wait_result wait(const Range &fs, return_when when = return_when::all_completed) {
    return detail::wait_handles(detail::handles(fs), when, FUT_WAIT_FOREVER);
}
template <class Rep, class Period>
wait_result wait(std::initializer_list<future_view> fs, return_when when,
                 std::chrono::duration<Rep, Period> timeout) {
    return detail::wait_handles(detail::handles(fs), when, detail::to_ns(timeout));
}

/** True once every future of `fs` is done, false if `timeout` passed first. */
template <class Range, class Rep, class Period>
bool wait_all(const Range &fs, std::chrono::duration<Rep, Period> timeout) {
    return wait(fs, return_when::all_completed, timeout).not_done.empty();
}
template <class Rep, class Period>
bool wait_all(std::initializer_list<future_view> fs, std::chrono::duration<Rep, Period> timeout) {
    return wait(fs, return_when::all_completed, timeout).not_done.empty();
}
template <class Range>
void wait_all(const Range &fs) {
    wait(fs, return_when::all_completed);
}

/** The position of a done future of `fs` (the first in input order) once
 *  any is done; nothing if `timeout` passed first. */
template <class Range, class Rep, class Period>
std::optional<std::size_t> wait_any(const Range &fs, std::chrono::duration<Rep, Period> timeout) {
    return detail::any_done(detail::handles(fs), detail::to_ns(timeout));
}
template <class Rep, class Period>
std::optional<std::size_t> wait_any(std::initializer_list<future_view> fs,
                                    std::chrono::duration<Rep, Period> timeout) {
    return detail::any_done(detail::handles(fs), detail::to_ns(timeout));
}
template <class Range>
std::size_t wait_any(const Range &fs) {
    return *detail::any_done(detail::handles(fs), FUT_WAIT_FOREVER);
}

/**
 * Python's as_completed() as a range: yields the elements of `fs` (by
 * reference) in completion order, those already done first, each distinct
 * future once. `fs` must outlive the loop and keep its elements in place.
 * When `timeout` (one deadline, from the call) passes, the iteration throws
 * timeout_error. Not copyable; iterate it once.
 *
 *   for (fut::future<int> &f : fut::as_completed(futures, 10s)) use(f.get());
 */
template <class Range>
class as_completed_range {
    using element_ref = decltype(*std::begin(std::declval<Range &>()));
    using element = std::remove_reference_t<element_ref>;

public:
    as_completed_range(Range &fs, std::int64_t ns) {
        std::vector<fut_future *> hs;
        for (auto &f : fs) {
            elements_.push_back(std::addressof(f));
            hs.push_back(detail::handle_of(f));
        }
        detail::check(fut_as_completed_new(hs.data(), hs.size(), ns, &it_));
        total_ = hs.size();
    }
    as_completed_range(as_completed_range &&o) noexcept
        : elements_(std::move(o.elements_)), it_(std::exchange(o.it_, nullptr)), total_(o.total_),
          yielded_(o.yielded_) {}
    as_completed_range(const as_completed_range &) = delete;
    as_completed_range &operator=(const as_completed_range &) = delete;
    as_completed_range &operator=(as_completed_range &&) = delete;
    ~as_completed_range() { fut_as_completed_release(it_); }

    struct sentinel {};

    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = std::remove_cv_t<element>;
        using difference_type = std::ptrdiff_t;
        using pointer = element *;
        using reference = element &;

        reference operator*() const noexcept { return *cur_; }
        pointer operator->() const noexcept { return cur_; }
        iterator &operator++() {
            cur_ = range_->next();
            return *this;
        }
        friend bool operator==(const iterator &it, sentinel) noexcept { return it.cur_ == nullptr; }
        friend bool operator!=(const iterator &it, sentinel s) noexcept { return !(it == s); }
        friend bool operator==(sentinel s, const iterator &it) noexcept { return it == s; }
        friend bool operator!=(sentinel s, const iterator &it) noexcept { return !(it == s); }

    private:
        friend class as_completed_range;
        iterator(as_completed_range *r, element *cur) noexcept : range_(r), cur_(cur) {}
        as_completed_range *range_;
        element *cur_;
    };

    iterator begin() { return iterator(this, next()); }
    sentinel end() const noexcept { return {}; }

private:
    element *next() {
        std::size_t index = 0;
        fut_future *f = nullptr;
        fut_status st = fut_as_completed_next(it_, &index, &f);
        if (st == FUT_END) return nullptr;
        if (st == FUT_ERR_TIMEOUT) {
            throw timeout_error(FUT_ERR_TIMEOUT, std::to_string(total_ - yielded_) + " (of " +
                                                     std::to_string(total_) + ") futures unfinished");
        }
        detail::check(st);
        fut_future_release(f);  // the range's element holds its own reference
        yielded_++;
        return elements_.at(index);
    }

    std::vector<element *> elements_;
    fut_as_completed *it_ = nullptr;
    std::size_t total_ = 0;
    std::size_t yielded_ = 0;
};

template <class Range>
as_completed_range<Range> as_completed(Range &fs) {
    return as_completed_range<Range>(fs, FUT_WAIT_FOREVER);
}
template <class Range, class Rep, class Period>
as_completed_range<Range> as_completed(Range &fs, std::chrono::duration<Rep, Period> timeout) {
    return as_completed_range<Range>(fs, detail::to_ns(timeout));
}

// ============================================================================
// map
// ============================================================================

namespace detail {
/** The end of a map_range or imap_range. */
struct range_sentinel {};

/** The input iterator of map_range and imap_range: each step asks the
 *  range for its next future (`Range::advance`, which may block). */
template <class Range, class T>
class range_iterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = future<T>;
    using difference_type = std::ptrdiff_t;
    using pointer = future<T> *;
    using reference = future<T> &;

    explicit range_iterator(Range *r) noexcept : range_(r) {}
    reference operator*() const noexcept { return range_->current_; }
    pointer operator->() const noexcept { return &range_->current_; }
    range_iterator &operator++() {
        range_->advance();
        return *this;
    }
    friend bool operator==(const range_iterator &it, range_sentinel) noexcept {
        return it.at_end();
    }
    friend bool operator!=(const range_iterator &it, range_sentinel s) noexcept {
        return !(it == s);
    }
    friend bool operator==(range_sentinel s, const range_iterator &it) noexcept { return it == s; }
    friend bool operator!=(range_sentinel s, const range_iterator &it) noexcept {
        return !(it == s);
    }

private:
    bool at_end() const noexcept { return !range_->current_.valid(); }
    Range *range_;
};
}  // namespace detail

/**
 * Python's Executor.map() as a range: yields each input's future, done, in
 * input order (get() then returns at once; a failed task throws there and
 * the iteration goes on). One deadline for the whole iteration, from the
 * map call: when it passes, the iteration throws timeout_error and every
 * future not yielded yet is cancelled. Destroying the range cancels the
 * futures it has not yielded (running ones finish and are discarded). Made
 * by process_pool::map, thread_pool::map and executor::map_c; not copyable,
 * iterate it once.
 *
 *   for (fut::future<int> &f : pool.map(square, inputs, 64)) sum += f.get();
 */
template <class T>
class map_range {
public:
    /** Adopts `m` (from fut_executor_map). */
    explicit map_range(fut_map *m, std::size_t n) noexcept : map_(m), total_(n) {}
    /** Futures already submitted, under the deadline `ns` from now (negative: none). */
    map_range(std::vector<future<T>> fs, std::int64_t ns)
        : pending_(std::move(fs)), total_(pending_.size()) {
        if (ns >= 0) deadline_ = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
    }
    map_range(map_range &&o) noexcept
        : map_(std::exchange(o.map_, nullptr)), pending_(std::move(o.pending_)), next_(o.next_),
          deadline_(o.deadline_), total_(o.total_), yielded_(o.yielded_), current_(std::move(o.current_)) {}
    map_range(const map_range &) = delete;
    map_range &operator=(const map_range &) = delete;
    map_range &operator=(map_range &&) = delete;
    ~map_range() {
        fut_map_release(map_);  // cancels what it has not yielded
        cancel_pending();
    }

    /** The number of inputs. */
    std::size_t size() const noexcept { return total_; }

    using sentinel = detail::range_sentinel;
    using iterator = detail::range_iterator<map_range, T>;
    friend iterator;

    iterator begin() {
        advance();
        return iterator(this);
    }
    sentinel end() const noexcept { return {}; }

private:
    [[noreturn]] void timed_out() {
        cancel_pending();
        throw timeout_error(FUT_ERR_TIMEOUT, std::to_string(total_ - yielded_) + " (of " +
                                                 std::to_string(total_) + ") map results unfinished");
    }

    void cancel_pending() noexcept {
        for (; next_ < pending_.size(); next_++) {
            pending_[next_].cancel();
            pending_[next_].reset();
        }
    }

    /** Moves the next done future into current_ (empty at the end). */
    void advance() {
        current_.reset();
        if (map_ != nullptr) {
            fut_future *f = nullptr;
            fut_status st = fut_map_next(map_, &f);
            if (st == FUT_END) return;
            if (st == FUT_ERR_TIMEOUT) timed_out();
            detail::check(st);
            current_ = future<T>(f);
        } else {
            if (next_ >= pending_.size()) return;
            future<T> &f = pending_[next_];
            bool done = deadline_ ? f.wait_for(*deadline_ - std::chrono::steady_clock::now()) : (f.wait(), true);
            if (!done) timed_out();
            current_ = std::move(f);
            next_++;
        }
        yielded_++;
    }

    fut_map *map_ = nullptr;
    std::vector<future<T>> pending_;  // without a C map (thread_pool::map)
    std::size_t next_ = 0;
    std::optional<std::chrono::steady_clock::time_point> deadline_;
    std::size_t total_ = 0;
    std::size_t yielded_ = 0;
    future<T> current_;
};

namespace detail {
/** fut_item views of byte strings (std::string, std::string_view, fut::bytes). */
template <class Range>
std::vector<fut_item> byte_items(const Range &inputs) {
    std::vector<fut_item> items;
    for (const auto &in : inputs) items.push_back(fut_item{in.empty() ? nullptr : in.data(), in.size()});
    return items;
}

inline std::int64_t timeout_arg() noexcept { return FUT_WAIT_FOREVER; }
template <class Rep, class Period>
std::int64_t timeout_arg(std::chrono::duration<Rep, Period> d) noexcept {
    return to_ns(d);
}
}  // namespace detail

// ============================================================================
// Tasks
// ============================================================================

/** The context of a running task, for tasks that take it as first argument. */
class task_context {
public:
    explicit task_context(fut_task *t) noexcept : t_(t) {}
    /** True once cancel() was called on the running task's future. */
    bool cancel_requested() const noexcept { return fut_task_cancel_requested(t_); }
    /** Throws cancelled_error when cancellation was requested: the task then
     *  ends cancelled (cooperative cancellation). */
    void throw_if_cancel_requested() const {
        if (cancel_requested()) throw cancelled_error();
    }
    fut_task *native_handle() const noexcept { return t_; }

private:
    fut_task *t_;
};

namespace detail {

inline std::int32_t fail_task(fut_task *t, std::int32_t code, const char *message) noexcept {
    fut_status st = fut_task_set_error(t, code, message);
    if (code != 0) return code;
    return st == FUT_OK ? 0 : 1;  // set_error alone fails the task with code 0
}

/** Runs `body` for a task: every exception becomes the task's failure. */
template <class Body>
std::int32_t run_task(fut_task *t, Body &&body) noexcept {
    try {
        body();
        return 0;
    } catch (const cancelled_error &e) {
        if (fut_task_cancel_requested(t)) return FUT_ERR_CANCELLED;  // ends cancelled
        return fail_task(t, e.code(), e.what());
    } catch (const error &e) {
        return fail_task(t, e.code(), e.what());
    } catch (const task_failure &e) {
        return fail_task(t, e.code(), e.what());
    } catch (const std::system_error &e) {
        return fail_task(t, e.code().value(), e.what());
    } catch (const std::exception &e) {
        return fail_task(t, 0, e.what());
    } catch (...) {
        return fail_task(t, 0, "unknown C++ exception");
    }
}

/** Sets a task's value; throws if the library refuses it. */
template <class R, class U>
void set_task_result(fut_task *t, U &&value) {
    encoded v = encode<R>(std::forward<U>(value));
    check(fut_task_set_result(t, v.ptr, v.len, v.drop));
    v.release();
}

template <bool Plain, class F, class... Args>
struct call_result {
    using type = std::invoke_result_t<F, Args...>;
};
template <class F, class... Args>
struct call_result<false, F, Args...> {
    using type = std::invoke_result_t<F, task_context &, Args...>;
};

/** A callable and its arguments, boxed for a thread pool. */
template <class F, class... Args>
struct task_box {
    static constexpr bool plain = std::is_invocable_v<F, Args...>;
    static constexpr bool with_context = std::is_invocable_v<F, task_context &, Args...>;
    static_assert(plain || with_context,
                  "a task must be callable with its arguments, or with (fut::task_context&, arguments)");

    using raw_result = typename call_result<plain, F, Args...>::type;
    using value_type = std::decay_t<raw_result>;

    template <class G, class... A>
    explicit task_box(G &&g, A &&...a) : fn(std::forward<G>(g)), args(std::forward<A>(a)...) {}

    F fn;
    std::tuple<Args...> args;

    static std::int32_t run(fut_task *t, const void *arg, std::size_t) noexcept {
        auto *self = static_cast<task_box *>(const_cast<void *>(arg));
        return run_task(t, [&] {
            task_context ctx(t);
            auto call = [&]() -> raw_result {
                if constexpr (plain) {
                    return std::apply(std::move(self->fn), std::move(self->args));
                } else {
                    return std::apply(
                        [&](Args &...a) -> raw_result {
                            return std::invoke(std::move(self->fn), ctx, std::move(a)...);
                        },
                        self->args);
                }
            };
            if constexpr (std::is_void_v<value_type>) {
                call();
            } else {
                set_task_result<value_type>(t, call());
            }
        });
    }
    static void drop(void *p) noexcept { delete static_cast<task_box *>(p); }
};

inline std::int32_t run_initializer(const void *arg, std::size_t) noexcept {
    const auto *fn = static_cast<const std::function<void()> *>(arg);
    try {
        (*fn)();
        return 0;
    } catch (const std::exception &e) {
        try {
            log((std::string("pool initializer threw: ") + e.what()).c_str());
        } catch (...) {
            log("pool initializer threw");
        }
    } catch (...) {
        log("pool initializer threw an unknown exception");
    }
    return 1;
}

}  // namespace detail

// ============================================================================
// Executors
// ============================================================================

/**
 * What thread and process pools share: one owning reference to a
 * fut_executor. Not used on its own (the pools are the handles).
 */
class executor {
public:
    executor(const executor &) = delete;
    executor &operator=(const executor &) = delete;

    bool valid() const noexcept { return ex_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }
    fut_executor *native_handle() const noexcept { return ex_; }

    /**
     * Stops accepting work (idempotent); `cancel_futures` cancels what has
     * not started; `wait` waits for running work and joins the workers.
     * From one of the pool's own threads or callbacks, waiting cannot join:
     * the pool still shuts down and this throws fut::error
     * (FUT_ERR_WOULD_DEADLOCK).
     */
    void shutdown(bool wait = true, bool cancel_futures = false) {
        detail::check(fut_executor_shutdown(ex_, wait, cancel_futures));
    }

    /**
     * Submits a C task `fn(task, arg, len)` as fut_executor_submit does (with
     * `arg_drop`, or without: a thread pool borrows `arg` until the future is
     * done, a process pool copies it now). The value is read as a T.
     */
    template <class T = bytes>
    future<T> submit_c(fut_task_fn fn, const void *arg, std::size_t len, fut_drop_fn arg_drop = nullptr) {
        fut_future *out = nullptr;
        detail::check(fut_executor_submit(ex_, fn, arg, len, arg_drop, &out));
        return future<T>(out);
    }

    /**
     * Python's map() over a C task, through fut_executor_map: `fn` runs once
     * per byte string of `inputs` (std::string, std::string_view or
     * fut::bytes elements), `chunksize` inputs per message to a process
     * pool's workers (a thread pool ignores it), under one optional deadline.
     * A process pool copies the inputs now; a thread pool borrows them: they
     * must outlive the futures. Throws shutdown_error, broken_pool_error, or
     * fut::error (FUT_ERR_INVALID_ARGUMENT) for chunksize 0.
     */
    template <class T = bytes, class Range, class... Timeout>
    map_range<T> map_c(fut_task_fn fn, const Range &inputs, std::size_t chunksize, Timeout... timeout) {
        static_assert(sizeof...(Timeout) <= 1, "map_c: at most one timeout");
        std::vector<fut_item> items = detail::byte_items(inputs);
        fut_map *m = nullptr;
        detail::check(fut_executor_map(ex_, fn, items.data(), items.size(), detail::timeout_arg(timeout...),
                                       chunksize, &m));
        return map_range<T>(m, items.size());
    }

protected:
    executor() noexcept = default;
    explicit executor(fut_executor *ex) noexcept : ex_(ex) {}
    executor(executor &&o) noexcept : ex_(std::exchange(o.ex_, nullptr)) {}
    executor &operator=(executor &&o) noexcept {
        if (this != &o) {
            reset();
            ex_ = std::exchange(o.ex_, nullptr);
        }
        return *this;
    }
    ~executor() { reset(); }
    /** The last reference: shutdown(wait=true), then the handle is freed. */
    void reset() noexcept { fut_executor_release(std::exchange(ex_, nullptr)); }

    fut_executor *ex_ = nullptr;
};

/** Options of a thread pool (fut_thread_pool_options). */
struct thread_pool_options {
    /** Most threads; 0: min(32, usable CPUs + 4). */
    std::size_t max_workers = 0;
    /** Threads are named <prefix>_<n>; empty: futpool-<k>. */
    std::string thread_name_prefix;
    /** Runs once at the start of each worker thread; if it throws, the
     *  exception is logged and the pool breaks (broken_pool_error). */
    std::function<void()> initializer;
    /** Flow control (Q1, Q9): most tasks waiting in the queue (0:
     *  unbounded; submit then waits for room), and a task observer called
     *  on the worker thread with `on_task_event_data` (must not throw). */
    std::size_t max_queued = 0;
    fut_task_event_fn on_task_event = nullptr;
    void *on_task_event_data = nullptr;
};

/**
 * Python's ThreadPoolExecutor: threads start on demand up to max_workers.
 * The destructor is shutdown(wait=true): it waits for accepted work.
 */
class thread_pool : public executor {
public:
    /** A pool with the default options. */
    thread_pool() : thread_pool(thread_pool_options{}) {}
    explicit thread_pool(std::size_t max_workers) : thread_pool(make_options(max_workers)) {}
    explicit thread_pool(thread_pool_options options) {
        fut_thread_pool_options o;
        detail::check(fut_thread_pool_options_init(&o));
        o.max_workers = options.max_workers;
        o.thread_name_prefix =
            options.thread_name_prefix.empty() ? nullptr : options.thread_name_prefix.c_str();
        o.max_queued = options.max_queued;
        o.on_task_event = options.on_task_event;
        o.on_task_event_data = options.on_task_event_data;
        if (options.initializer) {
            initializer_ = std::make_unique<std::function<void()>>(std::move(options.initializer));
            o.initializer = &detail::run_initializer;
            o.initializer_arg = initializer_.get();  // length 0: the pointer itself
            o.initializer_arg_len = 0;
        }
        detail::check(fut_thread_pool_new(&o, &ex_));
    }
    thread_pool(thread_pool &&) noexcept = default;
    thread_pool &operator=(thread_pool &&o) noexcept {
        if (this != &o) {
            reset();  // join our threads before our initializer goes
            executor::operator=(std::move(o));
            initializer_ = std::move(o.initializer_);
        }
        return *this;
    }
    ~thread_pool() { reset(); }

    /**
     * Runs `fn(args...)` (or `fn(ctx, args...)` with a fut::task_context&)
     * on the pool; returns its future. `fn` and the arguments are moved to
     * the heap and destroyed once the task ran or was cancelled. Whatever
     * `fn` throws becomes the task's failure. Throws shutdown_error or
     * broken_pool_error when the pool refuses work.
     */
    template <class F, class... Args>
    future<typename detail::task_box<std::decay_t<F>, std::decay_t<Args>...>::value_type> submit(
        F &&fn, Args &&...args) {
        using Box = detail::task_box<std::decay_t<F>, std::decay_t<Args>...>;
        using R = typename Box::value_type;
        auto box = std::make_unique<Box>(std::forward<F>(fn), std::forward<Args>(args)...);
        fut_future *out = nullptr;
        // A refused submit never calls arg_drop: the box is still ours.
        detail::check(fut_executor_submit(ex_, &Box::run, box.get(), 0, &Box::drop, &out));
        box.release();  // arg_drop frees it
        return future<R>(out);
    }

    /**
     * Python's map(): submit(fn, input) for each element of `inputs` now,
     * then a map_range over their futures in input order, under one
     * optional deadline. `chunksize` is accepted for symmetry with
     * process_pool::map and ignored (as the C API does for thread pools);
     * it must be at least 1. A refused submit cancels what was submitted
     * and throws.
     */
    template <class F, class Range, class... Timeout>
    auto map(F &&fn, const Range &inputs, std::size_t chunksize = 1, Timeout... timeout) {
        static_assert(sizeof...(Timeout) <= 1, "map: at most one timeout");
        using R = typename decltype(submit(fn, *std::begin(inputs)))::value_type;
        if (chunksize == 0) detail::throw_status(FUT_ERR_INVALID_ARGUMENT);
        std::vector<future<R>> fs;
        try {
            for (const auto &in : inputs) fs.push_back(submit(fn, in));
        } catch (...) {
            for (auto &f : fs) f.cancel();
            throw;
        }
        return map_range<R>(std::move(fs), detail::timeout_arg(timeout...));
    }

private:
    static thread_pool_options make_options(std::size_t max_workers) {
        thread_pool_options o;
        o.max_workers = max_workers;
        return o;
    }
    std::unique_ptr<std::function<void()>> initializer_;
};

// ============================================================================
// Process pools
// ============================================================================

/** How a process pool starts its workers (fut_start_method). */
enum class start_method : fut_start_method {
    /** Every worker forked when the pool is created. */
    fork = FUT_START_FORK,
    /** A fork server, forked at creation, forks workers on demand (default). */
    forkserver = FUT_START_FORKSERVER,
    /** New processes started by posix_spawn; tasks by registered name
     *  (fut_register_task; main() calls fut_worker_entry first). */
    spawn = FUT_START_SPAWN,
};

/** What a worker process's death does to the pool (fut_crash_policy). */
enum class crash_policy : fut_crash_policy {
    /** Python's behaviour (default): the pool breaks (broken_pool_error). */
    break_pool = FUT_CRASH_BREAK_POOL,
    /** Only the dead worker's task fails (task_error, FUT_ERR_WORKER_DIED). */
    fail_task = FUT_CRASH_FAIL_TASK,
};

/** Options of a process pool (fut_process_pool_options). */
struct process_pool_options {
    /** Worker processes; 0: the CPUs this process may use. */
    std::size_t max_workers = 0;
    ::fut::start_method start_method = ::fut::start_method::forkserver;
    /** Runs once in each worker before its first task; non-zero breaks the
     *  pool. A plain function: it runs in the forked worker. */
    fut_init_fn initializer = nullptr;
    /** The initializer's argument bytes (copied at creation). */
    bytes initializer_arg;
    /** Calls a worker runs before it is replaced; 0: unlimited (forkserver only). */
    std::size_t max_tasks_per_child = 0;
    crash_policy on_worker_crash = crash_policy::break_pool;
    /** Per-task limit (the worker is killed, task_error FUT_ERR_TIME_LIMIT); 0: none. */
    std::chrono::nanoseconds task_time_limit{0};
    /** Flow control (Q1, Q9): most calls waiting in the queue (0:
     *  unbounded), and a task observer called on the manager thread. */
    std::size_t max_queued = 0;
    fut_task_event_fn on_task_event = nullptr;
    void *on_task_event_data = nullptr;
    /** start_method::spawn: the workers' program; nullptr: this executable. */
    const char *worker_program = nullptr;
};

namespace detail {

template <class F, class = void>
struct function_pointer_of {
    using type = void;
};
// `+f` turns a captureless, non-generic lambda into a plain function pointer.
template <class F>
struct function_pointer_of<F, std::void_t<decltype(+std::declval<F &>())>> {
    using type = decltype(+std::declval<F &>());
};

template <class Fp>
struct function_traits {
    static constexpr bool is_function = false;
};
template <class R, class... P>
struct function_traits<R (*)(P...)> {
    static constexpr bool is_function = true;
    using result = R;
    using params = std::tuple<P...>;
};
template <class R, class... P>
struct function_traits<R (*)(P...) noexcept> : function_traits<R (*)(P...)> {};

/** Whether a T can cross into a worker process as its bytes. */
template <class T>
constexpr bool is_plain_data() {
    return !std::is_pointer_v<T> && !std::is_member_pointer_v<T> && std::is_trivially_copyable_v<T> &&
           std::is_default_constructible_v<T> && !std::is_same_v<T, std::string_view>;
}

/** Parameters that receive a copy of a byte string: std::string, fut::bytes,
 *  and std::string_view (viewing the worker's copy during the call). */
template <class T>
struct is_byte_param : is_byte_string<T> {};
template <>
struct is_byte_param<std::string_view> : std::true_type {};

template <class T>
constexpr bool can_send_to_worker() {
    return is_byte_param<T>::value || is_plain_data<T>();
}

template <class R>
constexpr bool can_return_from_worker() {
    return std::is_void_v<R> || is_byte_string<R>::value || is_plain_data<R>();
}

/** A plain function and its arguments, sent as bytes: [function pointer],
 *  then each argument: a plain one as its bytes, a byte string as its
 *  length (std::uint64_t) and its bytes. The pointer is valid in the worker
 *  because the worker is a fork of this process image. */
template <class Fp, class R, class... P>
struct fork_call {
    static void put(std::vector<unsigned char> &buf, const void *p, std::size_t n) {
        const auto *b = static_cast<const unsigned char *>(p);
        buf.insert(buf.end(), b, b + n);
    }

    template <class T>
    static void put_arg(std::vector<unsigned char> &buf, const T &v) {
        if constexpr (is_byte_param<T>::value) {
            const std::uint64_t n = v.size();
            put(buf, &n, sizeof n);
            if (n != 0) put(buf, v.data(), v.size());
        } else {
            put(buf, &v, sizeof v);
        }
    }

    static std::vector<unsigned char> encode(Fp fn, const std::tuple<P...> &args) {
        std::vector<unsigned char> buf;
        put(buf, &fn, sizeof fn);
        std::apply([&buf](const P &...a) { (put_arg(buf, a), ...); }, args);
        return buf;
    }

    /** Reads the arguments back in the worker, checking every length. */
    struct reader {
        const unsigned char *at;
        const unsigned char *end;

        static void short_input() {
            throw error(FUT_ERR_INVALID_ARGUMENT, "process pool call: argument bytes of the wrong size");
        }
        const unsigned char *take(std::size_t n) {
            if (static_cast<std::size_t>(end - at) < n) short_input();
            const unsigned char *p = at;
            at += n;
            return p;
        }
        template <class T>
        T get() {
            if constexpr (is_byte_param<T>::value) {
                std::uint64_t n = 0;
                std::memcpy(&n, take(sizeof n), sizeof n);
                if (n > static_cast<std::uint64_t>(end - at)) short_input();
                using char_t = typename T::value_type;
                const auto *p = reinterpret_cast<const char_t *>(take(static_cast<std::size_t>(n)));
                if constexpr (std::is_same_v<T, std::string_view>) {
                    return T(p, static_cast<std::size_t>(n));
                } else {
                    return T(p, p + n);
                }
            } else {
                T v;
                std::memcpy(static_cast<void *>(&v), take(sizeof(T)), sizeof(T));
                return v;
            }
        }
    };

    static std::int32_t run(fut_task *t, const void *arg, std::size_t len) noexcept {
        return run_task(t, [&] {
            if (arg == nullptr) reader::short_input();
            const auto *buf = static_cast<const unsigned char *>(arg);
            reader r{buf, buf + len};
            Fp fn = r.template get<Fp>();
            std::tuple<P...> args{r.template get<P>()...};  // braces: read in order
            if (r.at != r.end) reader::short_input();
            if constexpr (std::is_void_v<R>) {
                std::apply(fn, args);
            } else {
                set_task_result<R>(t, std::apply(fn, args));
            }
        });
    }
};

template <class Tuple>
struct decay_tuple;
template <class... P>
struct decay_tuple<std::tuple<P...>> {
    using type = std::tuple<std::decay_t<P>...>;
};

}  // namespace detail

/**
 * Python's ProcessPoolExecutor: tasks run in worker processes forked from
 * this one. What crosses into a worker is code that was in the process
 * image when the pool was created, and bytes: no captured state, no
 * pointers. The destructor is shutdown(wait=true).
 */
class process_pool : public executor {
public:
    /** A pool with the default options. */
    process_pool() : process_pool(process_pool_options{}) {}
    explicit process_pool(std::size_t max_workers) : process_pool(make_options(max_workers)) {}
    explicit process_pool(const process_pool_options &options) {
        fut_process_pool_options o;
        fut_process_pool_options_init(&o);
        o.max_workers = options.max_workers;
        o.start_method = static_cast<fut_start_method>(options.start_method);
        o.initializer = options.initializer;
        o.initializer_arg = options.initializer_arg.empty() ? nullptr : options.initializer_arg.data();
        o.initializer_arg_len = options.initializer_arg.size();
        o.max_tasks_per_child = options.max_tasks_per_child;
        o.on_worker_crash = static_cast<fut_crash_policy>(options.on_worker_crash);
        o.task_time_limit_ns = static_cast<std::int64_t>(options.task_time_limit.count());
        o.worker_program = options.worker_program;
        o.max_queued = options.max_queued;
        o.on_task_event = options.on_task_event;
        o.on_task_event_data = options.on_task_event_data;
        detail::check(fut_process_pool_new(&o, &ex_));
    }
    process_pool(process_pool &&) noexcept = default;
    process_pool &operator=(process_pool &&) noexcept = default;
    ~process_pool() = default;

    /** Runs the C task `fn` in a worker on a copy of `len` bytes at `data`
     *  (copied now); its value comes back as bytes, read as a T. */
    template <class T = bytes>
    future<T> submit(fut_task_fn fn, const void *data, std::size_t len) {
        return submit_c<T>(fn, data, len);
    }
    template <class T = bytes>
    future<T> submit(fut_task_fn fn, std::string_view data) {
        return submit_c<T>(fn, data.data(), data.size());
    }
    template <class T = bytes>
    future<T> submit(fut_task_fn fn, const bytes &data) {
        return submit_c<T>(fn, data.data(), data.size());
    }

    /**
     * Runs `fn(args...)` in a worker, where `fn` is a plain function or a
     * captureless, non-generic lambda. A parameter is std::string,
     * std::string_view or fut::bytes (the argument's bytes are copied: a
     * std::string, a string literal, ...) or a trivially copyable non-pointer
     * value; the result is one of those (not std::string_view) or void. The
     * function pointer and the arguments' bytes are sent; whatever `fn`
     * throws in the worker becomes the task's failure.
     *
     *   pool.submit([](int a, int b) { return a * b; }, 6, 7)   // future<int>
     *   pool.submit([](const std::string &path) { return count_lines(path); }, path)
     */
    template <class F, class... Args, std::enable_if_t<!std::is_convertible_v<F, fut_task_fn>, int> = 0>
    auto submit(F fn, Args &&...args) {
        using Fp = typename detail::function_pointer_of<F>::type;
        using traits = detail::function_traits<Fp>;
        if constexpr (!traits::is_function) {
            static_assert(traits::is_function,
                          "process_pool::submit: pass a plain function or a captureless, non-generic "
                          "lambda: captured state cannot cross into a worker process");
            return future<void>();
        } else {
            using R = std::decay_t<typename traits::result>;
            using Params = typename detail::decay_tuple<typename traits::params>::type;
            return submit_fork<Fp, R>(static_cast<Fp>(+fn), static_cast<Params *>(nullptr),
                                      std::forward<Args>(args)...);
        }
    }

    /**
     * Python's map(): `fn(input)` for each element of `inputs`, in workers,
     * through fut_executor_map: `chunksize` inputs go to a worker in one
     * message (fewer round trips for many small tasks), under one optional
     * deadline; see map_range. `fn` and the input type follow submit's
     * rules (one parameter). The inputs are encoded and copied now. Throws
     * shutdown_error, broken_pool_error, or fut::error
     * (FUT_ERR_INVALID_ARGUMENT) for chunksize 0.
     *
     *   for (auto &f : pool.map([](int x) { return x * x; }, xs, 64)) sum += f.get();
     */
    template <class F, class Range, class... Timeout,
              std::enable_if_t<!std::is_convertible_v<F, fut_task_fn>, int> = 0>
    auto map(F fn, const Range &inputs, std::size_t chunksize = 1, Timeout... timeout) {
        static_assert(sizeof...(Timeout) <= 1, "map: at most one timeout");
        using Fp = typename detail::function_pointer_of<F>::type;
        using traits = detail::function_traits<Fp>;
        static_assert(traits::is_function,
                      "process_pool::map: pass a plain function or a captureless, non-generic "
                      "lambda: captured state cannot cross into a worker process");
        using R = std::decay_t<typename traits::result>;
        using Params = typename detail::decay_tuple<typename traits::params>::type;
        static_assert(std::tuple_size_v<Params> == 1, "process_pool::map: the function takes one argument");
        using P = std::tuple_element_t<0, Params>;
        check_types<R, P>();
        using Call = detail::fork_call<Fp, R, P>;
        std::vector<std::vector<unsigned char>> encoded;
        for (const auto &in : inputs) encoded.push_back(Call::encode(static_cast<Fp>(+fn), std::tuple<P>(in)));
        std::vector<fut_item> items;
        items.reserve(encoded.size());
        for (const auto &e : encoded) items.push_back(fut_item{e.data(), e.size()});
        fut_map *m = nullptr;
        detail::check(fut_executor_map(ex_, &Call::run, items.data(), items.size(), detail::timeout_arg(timeout...),
                                       chunksize, &m));
        return map_range<R>(m, items.size());  // the pool copied the bytes
    }

private:
    template <class R, class... P>
    static constexpr void check_types() {
        static_assert((detail::can_send_to_worker<P>() && ...),
                      "process_pool: every parameter must be std::string, std::string_view, fut::bytes "
                      "or a trivially copyable, default constructible non-pointer type (its bytes are "
                      "sent to the worker)");
        static_assert(detail::can_return_from_worker<R>(),
                      "process_pool: the result must be void, std::string, fut::bytes or a "
                      "trivially copyable, default constructible non-pointer type");
    }

    template <class Fp, class R, class... P, class... Args>
    future<R> submit_fork(Fp fn, std::tuple<P...> *, Args &&...args) {
        static_assert(sizeof...(P) == sizeof...(Args), "process_pool::submit: wrong number of arguments");
        check_types<R, P...>();
        using Call = detail::fork_call<Fp, R, P...>;
        std::tuple<P...> values(std::forward<Args>(args)...);
        std::vector<unsigned char> buf = Call::encode(fn, values);
        return submit_c<R>(&Call::run, buf.data(), buf.size());  // the pool copies the bytes now
    }

    static process_pool_options make_options(std::size_t max_workers) {
        process_pool_options o;
        o.max_workers = max_workers;
        return o;
    }
};

// ============================================================================
// imap: map over a lazy input, with a window (fut_executor_imap)
// ============================================================================

/**
 * How imap runs (L3, L4): at most `window` chunks of `chunksize` inputs in
 * flight (taken from the source, not yet handed out), never one more; a
 * process pool sends each chunk as one message, a thread pool runs each
 * input as its own task. `unordered` hands the futures out as they
 * complete rather than in input order.
 */
struct imap_options {
    std::size_t window = 64;
    std::size_t chunksize = 1;
    bool unordered = false;
};

/** What imap_range::next_for answers. */
enum class next_status { ok, end, timeout };

/**
 * The futures of fut::imap, each once done, with its input's index. The
 * source is called on the iterating thread, inside begin(), operator++ and
 * next_for (L2). A failed input throws at its future's get(), and the
 * iteration goes on; a failure's detail starts with "input N" (L6). A source
 * that throws ends the input there: that position's future fails with
 * FUT_ERR_TASK_FAILED (L5). Destroying the range cancels what is in flight
 * (L8). Not copyable; iterate it once.
 *
 *   auto r = fut::imap(pool, [](int x) { return x * x; }, numbers_from(stdin), {256});
 *   for (fut::future<int> &f : r) std::cout << r.index() << ": " << f.get() << "\n";
 */
template <class T>
class imap_range {
public:
    /** Adopts `m` (from fut_executor_imap). */
    explicit imap_range(fut_map *m) noexcept : map_(m) {}
    imap_range(imap_range &&o) noexcept
        : map_(std::exchange(o.map_, nullptr)), index_(o.index_), current_(std::move(o.current_)) {}
    imap_range(const imap_range &) = delete;
    imap_range &operator=(const imap_range &) = delete;
    imap_range &operator=(imap_range &&) = delete;
    ~imap_range() { fut_map_release(map_); }

    /**
     * Waits at most `timeout` for the next done future (L7): ok (the future
     * in `out`, its input's index in `index`), end, or timeout, which
     * cancels nothing: call again.
     */
    template <class Rep, class Period>
    next_status next_for(future<T> &out, std::uint64_t &index, std::chrono::duration<Rep, Period> timeout) {
        fut_future *f = nullptr;
        std::uint64_t i = 0;
        fut_status st = fut_map_next_timeout(map_, detail::to_ns(timeout), &f, &i);
        if (st == FUT_END) return next_status::end;
        if (st == FUT_ERR_TIMEOUT) return next_status::timeout;
        detail::check(st);
        out = future<T>(f);
        index = i;
        return next_status::ok;
    }

    /** The input index of the future the iteration is at. */
    std::uint64_t index() const noexcept { return index_; }

    using sentinel = detail::range_sentinel;
    using iterator = detail::range_iterator<imap_range, T>;
    friend iterator;

    iterator begin() {
        advance();
        return iterator(this);
    }
    sentinel end() const noexcept { return {}; }

private:
    void advance() {
        current_.reset();
        fut_future *f = nullptr;
        fut_status st = fut_map_next_timeout(map_, FUT_WAIT_FOREVER, &f, &index_);
        if (st == FUT_END) return;
        detail::check(st);
        current_ = future<T>(f);
    }

    fut_map *map_ = nullptr;
    std::uint64_t index_ = 0;
    future<T> current_;
};

namespace detail {
/** An exception from a source becomes the producer's error code (L5). */
template <class Body>
std::int32_t produce_guarded(Body &&body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return FUT_ERR_NO_MEMORY;
    } catch (...) {
        return FUT_ERR_TASK_FAILED;
    }
}

/** A thread pool's imap producer: each input boxed with a copy of `fn`. */
template <class F, class Source>
struct imap_boxes {
    using input = std::decay_t<decltype(*std::declval<Source &>()())>;
    using Box = task_box<F, input>;
    F fn;
    Source source;

    static std::int32_t produce(void *user, fut_item *item, fut_drop_fn *item_drop) noexcept {
        auto *self = static_cast<imap_boxes *>(user);
        return produce_guarded([&]() -> std::int32_t {
            auto in = self->source();
            if (!in) return FUT_END;
            auto box = std::make_unique<Box>(self->fn, std::move(*in));
            item->arg = box.release();  // item_drop frees it
            item->arg_len = 0;
            *item_drop = &Box::drop;
            return FUT_OK;
        });
    }
    static void drop(void *p) noexcept { delete static_cast<imap_boxes *>(p); }
};

/** A process pool's imap producer: each input encoded into malloc'd bytes. */
template <class Fp, class R, class P, class Source>
struct imap_encoded {
    Fp fn;
    Source source;

    static std::int32_t produce(void *user, fut_item *item, fut_drop_fn *item_drop) noexcept {
        auto *self = static_cast<imap_encoded *>(user);
        return produce_guarded([&]() -> std::int32_t {
            auto in = self->source();
            if (!in) return FUT_END;
            std::vector<unsigned char> buf = fork_call<Fp, R, P>::encode(self->fn, std::tuple<P>(std::move(*in)));
            void *bytes = std::malloc(buf.size());
            if (bytes == nullptr) return FUT_ERR_NO_MEMORY;
            std::memcpy(bytes, buf.data(), buf.size());
            item->arg = bytes;  // copied by the pool at submit, then freed
            item->arg_len = buf.size();
            *item_drop = &std::free;
            return FUT_OK;
        });
    }
    static void drop(void *p) noexcept { delete static_cast<imap_encoded *>(p); }
};

template <class Producer>
fut_map *start_imap(fut_executor *ex, fut_task_fn fn, std::unique_ptr<Producer> p, const imap_options &o) {
    fut_map *m = nullptr;
    detail::check(fut_executor_imap(ex, fn, &Producer::produce, p.get(), &Producer::drop, o.window, o.chunksize,
                                    o.unordered ? FUT_IMAP_UNORDERED : 0u, &m));
    p.release();  // user_drop frees it
    return m;
}
}  // namespace detail

/**
 * Python's map() over a lazy input, on a thread pool (L1): `source()`
 * returns std::optional of the input (std::nullopt: no more) and is called
 * on the iterating thread, at most window × chunksize inputs ahead of the
 * consumer; `fn(input)` (or `fn(task_context&, input)`) runs on the pool as
 * submit would run it. Throws fut::error (FUT_ERR_INVALID_ARGUMENT) for a
 * window or chunksize of 0.
 */
template <class F, class Source>
auto imap(thread_pool &pool, F fn, Source source, imap_options o = {}) {
    using P = detail::imap_boxes<std::decay_t<F>, Source>;
    using R = typename P::Box::value_type;
    auto p = std::make_unique<P>(P{std::move(fn), std::move(source)});
    return imap_range<R>(detail::start_imap(pool.native_handle(), &P::Box::run, std::move(p), o));
}

/**
 * imap on a process pool: `fn` is a plain function or a captureless lambda
 * of one parameter, as for process_pool::map; each input is encoded on the
 * iterating thread and copied by the pool, `chunksize` inputs per message.
 */
template <class F, class Source, std::enable_if_t<!std::is_convertible_v<F, fut_task_fn>, int> = 0>
auto imap(process_pool &pool, F fn, Source source, imap_options o = {}) {
    using Fp = typename detail::function_pointer_of<F>::type;
    using traits = detail::function_traits<Fp>;
    static_assert(traits::is_function,
                  "imap(process_pool&): pass a plain function or a captureless, non-generic lambda");
    using R = std::decay_t<typename traits::result>;
    using Params = typename detail::decay_tuple<typename traits::params>::type;
    static_assert(std::tuple_size_v<Params> == 1, "imap(process_pool&): the function takes one argument");
    using In = std::tuple_element_t<0, Params>;
    static_assert(detail::can_send_to_worker<In>() && detail::can_return_from_worker<R>(),
                  "imap(process_pool&): parameter and result follow process_pool::submit's rules");
    using P = detail::imap_encoded<Fp, R, In, Source>;
    auto p = std::make_unique<P>(P{static_cast<Fp>(+fn), std::move(source)});
    return imap_range<R>(
        detail::start_imap(pool.native_handle(), &detail::fork_call<Fp, R, In>::run, std::move(p), o));
}

// ============================================================================
// Promises
// ============================================================================

/**
 * A promise-style future (fut_future_new) that this side completes, from
 * any thread; get_future() hands out owning handles to it. Destroyed
 * without a value, it fails the future ("broken promise", FUT_ERR_TASK_FAILED)
 * so that nobody waits forever.
 */
template <class T>
class promise {
public:
    promise() { detail::check(fut_future_new(&f_)); }
    promise(promise &&o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
    promise &operator=(promise &&o) noexcept {
        if (this != &o) {
            abandon();
            f_ = std::exchange(o.f_, nullptr);
        }
        return *this;
    }
    promise(const promise &) = delete;
    promise &operator=(const promise &) = delete;
    ~promise() { abandon(); }

    fut_future *native_handle() const noexcept { return f_; }

    /** A new owning handle to the future (as many as wanted). */
    future<T> get_future() const { return future_view(f_).retain<T>(); }

    /** Completes the future with `value`; invalid_state_error if it is done. */
    template <class U = T, std::enable_if_t<!std::is_void_v<U>, int> = 0>
    void set_value(U value) {
        detail::encoded v = detail::encode<T>(std::move(value));
        detail::check(fut_future_set_result(f_, v.ptr, v.len, v.drop));
        v.release();
    }
    /** Completes a future<void>. */
    template <class U = T, std::enable_if_t<std::is_void_v<U>, int> = 0>
    void set_value() {
        detail::check(fut_future_set_result(f_, nullptr, 0, nullptr));
    }

    /** Fails the future (FUT_ERR_TASK_FAILED) with `code` and `message`. */
    void set_error(std::int32_t code, const std::string &message) {
        detail::check(fut_future_set_exception(f_, code, message.c_str()));
    }

    /** Fails the future with what `e` holds (code and what(), as for tasks). */
    void set_exception(std::exception_ptr e) {
        std::int32_t code = 0;
        std::string message = "unknown C++ exception";
        try {
            std::rethrow_exception(e);
        } catch (const error &x) {
            code = x.code();
            message = x.what();
        } catch (const task_failure &x) {
            code = x.code();
            message = x.what();
        } catch (const std::system_error &x) {
            code = x.code().value();
            message = x.what();
        } catch (const std::exception &x) {
            message = x.what();
        } catch (...) {
        }
        set_error(code, message);
    }

    /** For executors: PENDING -> RUNNING (true: run the work) or false if
     *  the future was cancelled (skip it). */
    bool set_running_or_notify_cancel() noexcept { return fut_future_set_running_or_notify_cancel(f_); }

private:
    void abandon() noexcept {
        if (f_ == nullptr) return;
        if (!fut_future_done(f_)) fut_future_set_exception(f_, 0, "broken promise");  // refused if done
        fut_future_release(std::exchange(f_, nullptr));
    }
    fut_future *f_ = nullptr;
};

}  // namespace fut

// ---- Flow control and observability (Q1-Q12) --------------------------------

namespace fut {

/** The counters of fut_executor_stats (see fut_stats). */
using stats = fut_stats;

/** The pool's counters; lock-free, cheap enough to read every millisecond. */
inline stats get_stats(const executor &ex) {
    stats s{};
    s.struct_size = sizeof s;
    detail::check(fut_executor_stats(ex.native_handle(), &s));
    return s;
}

/** fut_executor_describe: what each worker runs and for how long, the queue. */
inline std::string describe(const executor &ex) {
    std::size_t needed = 0;
    detail::check(fut_executor_describe(ex.native_handle(), nullptr, 0, &needed));
    for (;;) {
        std::string text(needed, '\0');
        std::size_t again = 0;
        detail::check(fut_executor_describe(ex.native_handle(), text.data(), text.size(), &again));
        if (again <= text.size()) {
            text.resize(again - 1);
            return text;
        }
        needed = again + 256;  // it grew meanwhile
    }
}

/**
 * fut_executor_submit_timeout for a C task: waits at most `timeout` for room
 * in a bounded queue; an empty optional when it stayed full. Throws
 * shutdown_error or broken_pool_error as submit does.
 */
template <class T = bytes, class Rep, class Period>
std::optional<future<T>> try_submit_c(executor &ex, fut_task_fn fn, const void *arg, std::size_t len,
                                      std::chrono::duration<Rep, Period> timeout,
                                      fut_drop_fn arg_drop = nullptr) {
    fut_future *out = nullptr;
    fut_status st = fut_executor_submit_timeout(ex.native_handle(), fn, arg, len, arg_drop,
                                                detail::to_ns(timeout), &out);
    if (st == FUT_ERR_QUEUE_FULL) return std::nullopt;
    detail::check(st);
    return future<T>(out);
}

/** SIGTERM to every worker process, without waiting; queued work is
 *  cancelled, running work fails with broken_pool_error (Q7). */
inline void terminate_workers(process_pool &p) {
    detail::check(fut_executor_terminate_workers(p.native_handle()));
}

/** As terminate_workers, with SIGKILL. */
inline void kill_workers(process_pool &p) { detail::check(fut_executor_kill_workers(p.native_handle())); }

/**
 * Shutdown waiting at most `timeout` (Q8): true when everything ended in
 * time; false past it (a process pool's workers were then terminated and
 * killed, a thread pool's busy threads finish later on their own).
 */
template <class Rep, class Period>
bool shutdown_for(executor &ex, std::chrono::duration<Rep, Period> timeout, bool cancel_futures = false) {
    fut_status st = fut_executor_shutdown_timeout(ex.native_handle(), cancel_futures, detail::to_ns(timeout));
    if (st == FUT_ERR_TIMEOUT) return false;
    detail::check(st);
    return true;
}

}  // namespace fut

#endif /* FUTURES_HPP */
