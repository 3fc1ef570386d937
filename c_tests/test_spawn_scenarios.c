/* The shared executor scenarios (executor_scenarios.h: E1-E14, X5-X8) on a
 * spawn pool (N5): workers are new processes running this program, which
 * registers scen_task by name before fut_worker_entry. P5 holds as for the
 * fork pools: up to max_workers + 1 queued items are RUNNING before a
 * worker takes them. The scenarios' pipes reach the workers through the
 * "spawn_adopt_fds" initializer (spawn_common.h). */
#define SCENARIO_PREDISPATCHED(max_workers) ((max_workers) + 1)
#include "executor_scenarios.h"
#include "spawn_common.h"

static fut_executor *make_spawn_pool(size_t max_workers) {
    fut_process_pool_options o = spawn_options(max_workers, FUT_CRASH_BREAK_POOL);
    fut_executor *ex = NULL;
    CHECK(fut_process_pool_new(&o, &ex) == FUT_OK);
    return ex;
}

int main(int argc, char **argv) {
    spawn_register_common();
    CHECK_OK(fut_register_task("scen_task", scen_task));
    CHECK_OK(fut_worker_entry(argc, argv));
    run_executor_scenarios(make_spawn_pool);
    return tu_summary();
}
