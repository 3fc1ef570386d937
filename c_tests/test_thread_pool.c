/* The shared executor scenarios (executor_scenarios.h: E1–E14,
 * T9, W2, X5, X6, X8) run on the thread pool. */
#include "executor_scenarios.h"

static fut_executor *make_thread_pool(size_t max_workers) {
    fut_thread_pool_options o;
    CHECK_OK(fut_thread_pool_options_init(&o));
    o.max_workers = max_workers;
    fut_executor *ex = NULL;
    CHECK_OK(fut_thread_pool_new(&o, &ex));
    return ex;
}

int main(void) {
    run_executor_scenarios(make_thread_pool);
    return tu_summary();
}
