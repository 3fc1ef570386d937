/* Helpers for the spawn-pool tests (N1-N10).
 *
 * A spawned worker is a new process: it inherits no descriptor of the test
 * but its own channels. The tests that hand tasks pipe numbers (the shared
 * scenarios, gates) make their pools with the initializer registered as
 * "spawn_adopt_fds": each worker opens, through /proc/<host pid>/fd/N, every
 * pipe the host holds at 3..63 without close-on-exec, at the same number N,
 * as a forked worker would have inherited it, and takes the host's
 * pp_gate and pp_report numbers (a new process has its own globals).
 *
 * Every program that includes this calls spawn_test_main_entry(argc, argv)
 * first thing in main(): it registers the tasks and the initializer, then
 * calls fut_worker_entry (which never returns in a worker). */
#ifndef SPAWN_COMMON_H
#define SPAWN_COMMON_H

#include "process_pool_common.h"

#include <fcntl.h>

typedef struct spawn_host {
    int32_t pid;
    int32_t gate[2];
    int32_t report[2];
} spawn_host;

/* The initializer "spawn_adopt_fds"; arg: a spawn_host. */
TU_UNUSED static int32_t spawn_adopt_fds(const void *arg, size_t len) {
    if (len != sizeof(spawn_host)) return 90;
    spawn_host h;
    memcpy(&h, arg, sizeof h);
    int32_t host = h.pid;
    for (int i = 0; i < 2; i++) {
        pp_gate[i] = h.gate[i];
        pp_report[i] = h.report[i];
    }
    int want[64];
    int n = 0;
    char path[96];
    for (int fd = 3; fd < 64; fd++) {
        snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)host, fd);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        char line[128];
        unsigned long flags = 0;
        int have = 0;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "flags: %lo", &flags) == 1) have = 1;
        fclose(f);
        if (!have || (flags & O_CLOEXEC)) continue;
        char target[64] = {0};
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)host, fd);
        if (readlink(path, target, sizeof target - 1) <= 0) continue;
        if (strncmp(target, "pipe:", 5) == 0) want[n++] = fd;
    }
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)host, want[i]);
        int fd = open(path, O_RDWR);
        if (fd < 0) return 91;
        if (fd != want[i]) {
            if (dup2(fd, want[i]) < 0) return 92;
            close(fd);
        }
    }
    return 0;
}

/* Options of a spawn pool whose workers adopt the host's pipes. */
static spawn_host spawn_host_info;

TU_UNUSED static fut_process_pool_options spawn_options(size_t workers, fut_crash_policy policy) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.max_workers = workers;
    o.start_method = FUT_START_SPAWN;
    o.on_worker_crash = policy;
    spawn_host_info.pid = (int32_t)getpid();
    for (int i = 0; i < 2; i++) {
        spawn_host_info.gate[i] = pp_gate[i];
        spawn_host_info.report[i] = pp_report[i];
    }
    o.initializer = spawn_adopt_fds;
    o.initializer_arg = &spawn_host_info;
    o.initializer_arg_len = sizeof spawn_host_info;
    return o;
}

TU_UNUSED static fut_executor *spawn_pool(size_t workers, fut_crash_policy policy) {
    fut_process_pool_options o = spawn_options(workers, policy);
    fut_executor *ex = NULL;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_OK);
    return ex;
}

/* Registers the process_pool_common.h tasks and the initializer under
 * their C names. */
TU_UNUSED static void spawn_register_common(void) {
    CHECK_OK(fut_register_initializer("spawn_adopt_fds", spawn_adopt_fds));
    CHECK_OK(fut_register_task("pp_echo", pp_echo));
    CHECK_OK(fut_register_task("pp_getpid", pp_getpid));
    CHECK_OK(fut_register_task("pp_report_block_echo", pp_report_block_echo));
    CHECK_OK(fut_register_task("pp_block_echo", pp_block_echo));
    CHECK_OK(fut_register_task("pp_segv", pp_segv));
    CHECK_OK(fut_register_task("pp_sigkill_self", pp_sigkill_self));
    CHECK_OK(fut_register_task("pp_exit3", pp_exit3));
}

#endif
