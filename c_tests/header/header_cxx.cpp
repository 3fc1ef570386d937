// Built (not run) to prove that futures.h compiles as C++ (extern "C") with every warning on.
#include <futures.h>

int fut_header_cxx_probe();
int fut_header_cxx_probe() {
    fut_error_info info{FUT_OK, 0, nullptr, nullptr};
    fut_future *f = nullptr;
    return info.kind + (fut_future_new(&f) == FUT_OK ? 0 : 1);
}
