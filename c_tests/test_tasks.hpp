// C tasks shared by the C++ wrapper tests.
#pragma once

#include <futures.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

// The argument's bytes, upper-cased, as the result (freed with std::free).
inline int32_t upper_task(fut_task *t, const void *arg, size_t len) noexcept {
    char *out = static_cast<char *>(std::malloc(len ? len : 1));
    if (out == nullptr) return ENOMEM;
    for (size_t i = 0; i < len; i++)
        out[i] = static_cast<char>(std::toupper(static_cast<const unsigned char *>(arg)[i]));
    if (fut_task_set_result(t, out, len, std::free) != FUT_OK) {
        std::free(out);
        return 1;
    }
    return 0;
}
