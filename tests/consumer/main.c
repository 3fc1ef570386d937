/* An installed-libfutures consumer in C: a thread pool and a process pool
 * each run one task; the header's version must be the library's. */
#include <futures.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int32_t square(fut_task *task, const void *arg, size_t len) {
    if (len != sizeof(int64_t)) return 22;
    int64_t *out = malloc(sizeof *out);
    if (!out) return 12;
    int64_t v;
    memcpy(&v, arg, sizeof v);
    *out = v * v;
    return fut_task_set_result(task, out, sizeof *out, free) == FUT_OK ? 0 : 1;
}

static int run(fut_executor *ex, const char *what) {
    int64_t n = 12;
    fut_future *f = NULL;
    fut_status st = fut_executor_submit(ex, square, &n, sizeof n, NULL, &f);
    void *value = NULL;
    size_t len = 0;
    if (st == FUT_OK) st = fut_future_result(f, 30000000000LL, &value, &len);
    int ok = st == FUT_OK && len == sizeof(int64_t) && *(int64_t *)value == 144;
    printf("%s: %s\n", what, ok ? "144" : fut_status_str(st));
    fut_future_release(f);
    fut_executor_release(ex);
    return ok;
}

int main(void) {
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", FUT_VERSION_MAJOR, FUT_VERSION_MINOR, FUT_VERSION_PATCH);
    if (strcmp(want, fut_version()) != 0) {
        fprintf(stderr, "header %s, library %s\n", want, fut_version());
        return 1;
    }
    fut_executor *threads = NULL, *procs = NULL;
    if (fut_thread_pool_new(NULL, &threads) != FUT_OK) return 1;
    if (!run(threads, "thread pool")) return 1;
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.max_workers = 1;
    if (fut_process_pool_new(&o, &procs) != FUT_OK) return 1;
    if (!run(procs, "process pool")) return 1;
    printf("libfutures %s from C: ok\n", fut_version());
    return 0;
}
