/* The shared executor scenarios (executor_scenarios.h: E1-E14,
 * X5-X8) on the process pool, with both start methods. P5: up to
 * max_workers + 1 queued items are RUNNING before a worker takes them, so
 * that many may escape a cancel. */
#define SCENARIO_PREDISPATCHED(max_workers) ((max_workers) + 1)
#include "executor_scenarios.h"

static fut_start_method method;

static fut_executor *make_process_pool(size_t max_workers) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.max_workers = max_workers;
    o.start_method = method;
    fut_executor *ex = NULL;
    CHECK(fut_process_pool_new(&o, &ex) == FUT_OK);
    return ex;
}

int main(void) {
    method = FUT_START_FORK;
    run_executor_scenarios(make_process_pool);
    method = FUT_START_FORKSERVER;
    run_executor_scenarios(make_process_pool);
    return tu_summary();
}
