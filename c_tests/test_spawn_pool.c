/* The spawn start method and named tasks (N1-N10), through the public
 * header. This program is its own worker program: main() registers its
 * tasks, then calls fut_worker_entry, which never returns in a worker. */
#include "spawn_common.h"

#include <sys/stat.h>
#include <sys/syscall.h>

long syscall(long number, ...); /* unistd.h declares it only for _DEFAULT_SOURCE */

/* ---- tasks ------------------------------------------------------------------ */

static int32_t sp_ppid(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    int32_t *p = (int32_t *)malloc(sizeof *p);
    *p = (int32_t)getppid();
    return fut_task_set_result(t, p, sizeof *p, free);
}

/* Result: the descriptors open in the worker (int32 each), but the one
 * that lists them. */
static int32_t sp_fds(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 90;
    int32_t *v = (int32_t *)calloc(256, sizeof *v);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd != dirfd(d)) v[n++] = fd;
    }
    closedir(d);
    return fut_task_set_result(t, v, n * sizeof *v, free);
}

/* Never returns on its own (the time limit kills its worker). */
static int32_t sp_forever(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    for (;;) pause();
    return 0;
}

static int32_t sp_init_value = -1;
static int32_t sp_init(const void *arg, size_t len) {
    if (len != sizeof sp_init_value) return 7;
    memcpy(&sp_init_value, arg, len);
    return 0;
}
static int32_t sp_read_init(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    int32_t *p = (int32_t *)malloc(sizeof *p);
    *p = sp_init_value;
    return fut_task_set_result(t, p, sizeof *p, free);
}

/* Result: the status of creating a spawn pool inside a worker. */
static int32_t sp_nested(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.start_method = FUT_START_SPAWN;
    fut_executor *ex = NULL;
    int32_t *p = (int32_t *)malloc(sizeof *p);
    *p = fut_process_pool_new(&o, &ex);
    if (*p == FUT_OK) fut_executor_release(ex);
    return fut_task_set_result(t, p, sizeof *p, free);
}

static int32_t sp_unregistered(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    return 0;
}
static int32_t sp_unregistered_init(const void *arg, size_t len) {
    (void)arg;
    (void)len;
    return 0;
}

/* ---- helpers -------------------------------------------------------------------- */

static fut_executor *plain_spawn_pool(size_t workers) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.max_workers = workers;
    o.start_method = FUT_START_SPAWN;
    fut_executor *ex = NULL;
    CHECK_OK(fut_process_pool_new(&o, &ex));
    return ex;
}

static int32_t result_i32(fut_future *f) {
    void *v = NULL;
    size_t n = 0;
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, &v, &n));
    CHECK_EQ(n, sizeof(int32_t));
    int32_t x;
    memcpy(&x, v, sizeof x);
    return x;
}

static int32_t named_i32(fut_executor *ex, const char *name) {
    fut_future *f = NULL;
    CHECK_OK(fut_executor_submit_named(ex, name, NULL, 0, NULL, &f));
    int32_t x = result_i32(f);
    fut_future_release(f);
    return x;
}

static void stop(fut_executor *ex) {
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    fut_executor_release(ex);
}

/* ---- tests --------------------------------------------------------------------- */

/* N2, N5: by name and by registered pointer; workers are children of this
 * process (not forks of it: a new image); map with chunks. */
static void test_by_name_and_pointer(void) {
    fut_executor *ex = plain_spawn_pool(2);
    int32_t pid = named_i32(ex, "pp_getpid");
    CHECK(pid != (int32_t)getpid());
    CHECK_EQ(named_i32(ex, "sp_ppid"), (int32_t)getpid());
    CHECK_EQ(named_i32(ex, "sp_nested"), FUT_ERR_INVALID_STATE); /* N9: no nesting */
    fut_future *f = pp_submit(ex, pp_echo, "by pointer", 11);
    pp_expect_bytes(f, "by pointer", 11);
    fut_future_release(f);
    enum { N = 20 };
    fut_item items[N];
    char args[N][4];
    for (int i = 0; i < N; i++) {
        snprintf(args[i], sizeof args[i], "%d", i);
        items[i].arg = args[i];
        items[i].arg_len = strlen(args[i]) + 1;
    }
    fut_map *m = NULL;
    CHECK_OK(fut_executor_map(ex, pp_echo, items, N, TU_LONG_TIMEOUT_NS, 4, &m));
    for (int i = 0; i < N; i++) {
        fut_future *g = NULL;
        CHECK_OK(fut_map_next(m, &g));
        pp_expect_bytes(g, args[i], strlen(args[i]) + 1);
        fut_future_release(g);
    }
    fut_map_release(m);
    stop(ex);
}

/* N2: the thread pool runs named tasks too. */
static void test_thread_pool_by_name(void) {
    fut_executor *ex = NULL;
    CHECK_OK(fut_thread_pool_new(NULL, &ex));
    CHECK_EQ(named_i32(ex, "pp_getpid"), (int32_t)getpid());
    stop(ex);
}

/* N1: names are 1..255 bytes of UTF-8; a name keeps its function. */
static void test_register_rules(void) {
    char long_name[257];
    memset(long_name, 'a', 256);
    long_name[256] = '\0';
    CHECK_ST(fut_register_task(long_name, pp_echo), FUT_ERR_INVALID_ARGUMENT);
    CHECK(pp_log_contains("at most 255 bytes"));
    long_name[255] = '\0';
    CHECK_OK(fut_register_task(long_name, pp_echo));
    CHECK_ST(fut_register_task("", pp_echo), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_register_task(NULL, pp_echo), FUT_ERR_INVALID_ARGUMENT);
    CHECK_ST(fut_register_task("\xff\xfe", pp_echo), FUT_ERR_INVALID_ARGUMENT);
    CHECK(pp_log_contains("UTF-8"));
    CHECK_ST(fut_register_task("no function", NULL), FUT_ERR_INVALID_ARGUMENT);
    CHECK_OK(fut_register_task("pp_echo", pp_echo)); /* the same pair again */
    CHECK_ST(fut_register_task("pp_echo", pp_getpid), FUT_ERR_INVALID_ARGUMENT);
    CHECK(pp_log_contains("'pp_echo' is already registered"));
    CHECK_ST(fut_register_initializer("sp_init", spawn_adopt_fds),
             FUT_ERR_INVALID_ARGUMENT);
    fut_executor *ex = plain_spawn_pool(1);
    fut_future *f = NULL;
    CHECK_ST(fut_executor_submit_named(ex, "no such task", NULL, 0, NULL, &f),
             FUT_ERR_NOT_REGISTERED);
    CHECK(pp_log_contains("'no such task'"));
    CHECK(f == NULL);
    stop(ex);
}

static atomic_int sp_drops;
static void sp_drop(void *p) {
    (void)p;
    atomic_fetch_add(&sp_drops, 1);
}

/* N3: an unregistered function is refused by a spawn pool (submit and map,
 * the argument stays the caller's); so is an unregistered initializer. */
static void test_unregistered_refused(void) {
    fut_executor *ex = plain_spawn_pool(1);
    fut_future *f = NULL;
    atomic_store(&sp_drops, 0);
    CHECK_ST(fut_executor_submit(ex, sp_unregistered, "x", 1, sp_drop, &f), FUT_ERR_NOT_REGISTERED);
    CHECK(pp_log_contains("is not registered"));
    CHECK_EQ(atomic_load(&sp_drops), 0);
    fut_item it = {"x", 1};
    fut_map *m = NULL;
    CHECK_ST(fut_executor_map(ex, sp_unregistered, &it, 1, -1, 1, &m), FUT_ERR_NOT_REGISTERED);
    stop(ex);
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.start_method = FUT_START_SPAWN;
    o.initializer = sp_unregistered_init;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_ERR_NOT_REGISTERED);
    CHECK(pp_log_contains("initializer"));
}

/* Registered by the host only, after fut_worker_entry: unknown in workers. */
static int32_t sp_late(fut_task *t, const void *arg, size_t len) {
    return pp_echo(t, arg, len);
}
static int32_t sp_late_init(const void *arg, size_t len) {
    (void)arg;
    (void)len;
    return 0;
}

/* N3: a name the worker program does not know fails that task only, with
 * FUT_ERR_NOT_REGISTERED and the name in the detail; the worker runs on.
 * N6: an initializer it does not know breaks the pool, naming it. */
static void test_names_unknown_to_the_worker(void) {
    CHECK_OK(fut_register_task("sp_late", sp_late));
    CHECK_OK(fut_register_initializer("sp_late_init", sp_late_init));
    fut_executor *ex = plain_spawn_pool(1);
    fut_future *f = NULL;
    CHECK_OK(fut_executor_submit_named(ex, "sp_late", "x", 2, NULL, &f));
    const char *d = pp_expect_failure(f, FUT_ERR_NOT_REGISTERED);
    CHECK(d != NULL && strstr(d, "'sp_late'") != NULL);
    fut_future_release(f);
    f = pp_submit(ex, pp_echo, "on", 3);
    pp_expect_bytes(f, "on", 3);
    fut_future_release(f);
    stop(ex);
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.start_method = FUT_START_SPAWN;
    o.max_workers = 1;
    o.initializer = sp_late_init;
    CHECK_OK(fut_process_pool_new(&o, &ex));
    f = pp_submit(ex, pp_echo, "x", 2);
    d = pp_expect_failure(f, FUT_ERR_BROKEN_POOL);
    CHECK(d != NULL && strstr(d, "initializer 'sp_late_init' is not registered") != NULL);
    fut_future_release(f);
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    fut_executor_release(ex);
}

/* N8: a missing or non-executable program fails creation with FUT_ERR_OS
 * and the errno text in the log; nothing is left behind (PP_RUN). */
static void test_bad_program(void) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.start_method = FUT_START_SPAWN;
    o.worker_program = "/nonexistent/libfutures-worker";
    fut_executor *ex = NULL;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_ERR_OS);
    CHECK(pp_log_contains("/nonexistent/libfutures-worker"));
    CHECK(pp_log_contains("No such file or directory"));
    char path[] = "/tmp/libfutures-spawn-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(chmod(path, 0644) == 0);
    o.worker_program = path;
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_ERR_OS);
    CHECK(pp_log_contains("Permission denied"));
    unlink(path);
    o.worker_program = "/";
    CHECK_ST(fut_process_pool_new(&o, &ex), FUT_ERR_OS);
    CHECK(ex == NULL);
}

/* N8: an explicit worker program (this one, by its path). */
static void test_explicit_program(void) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    self[n] = '\0';
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.start_method = FUT_START_SPAWN;
    o.max_workers = 1;
    o.worker_program = self;
    fut_executor *ex = NULL;
    CHECK_OK(fut_process_pool_new(&o, &ex));
    CHECK_EQ(named_i32(ex, "sp_ppid"), (int32_t)getpid());
    stop(ex);
}

/* N9: a worker program that does not enter the worker loop (here
 * /bin/true) breaks the pool with a cause that says so; no respawn loop. */
static void test_program_without_entry(void) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.start_method = FUT_START_SPAWN;
    o.max_workers = 1;
    o.on_worker_crash = FUT_CRASH_FAIL_TASK;
    o.worker_program = "/bin/true";
    fut_executor *ex = NULL;
    CHECK_OK(fut_process_pool_new(&o, &ex));
    fut_future *f = pp_submit(ex, pp_echo, "x", 2);
    const char *d = pp_expect_failure(f, FUT_ERR_BROKEN_POOL);
    CHECK(d != NULL && strstr(d, "fut_worker_entry") != NULL);
    fut_future_release(f);
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    fut_executor_release(ex);
}

/* N9: a worker program that neither enters nor ends (this program, told
 * by SP_WORKER_HANGS to pause before fut_worker_entry) is killed after
 * 10 s and breaks the pool, with a cause that says so. */
static void test_program_that_never_enters(void) {
    CHECK(setenv("SP_WORKER_HANGS", "1", 1) == 0);
    fut_executor *ex = plain_spawn_pool(1);
    int64_t t0 = tu_now_ns();
    fut_future *f = pp_submit(ex, pp_echo, "x", 2); /* its worker starts now */
    const char *d = pp_expect_failure(f, FUT_ERR_BROKEN_POOL);
    CHECK(unsetenv("SP_WORKER_HANGS") == 0);
    CHECK(d != NULL && strstr(d, "after not entering for 10000 ms") != NULL);
    CHECK(d != NULL && strstr(d, "fut_worker_entry") != NULL);
    CHECK_GE(tu_now_ns() - t0, 9 * TU_SEC);
    fut_future_release(f);
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    fut_executor_release(ex);
}

/* N7: a worker holds 0, 1, 2 and its two pipes (moved to 64 and above),
 * nothing else: not the test's own pipes, which are not close-on-exec. */
static void test_worker_fds(void) {
    fut_executor *ex = plain_spawn_pool(1);
    fut_future *f = NULL;
    CHECK_OK(fut_executor_submit_named(ex, "sp_fds", NULL, 0, NULL, &f));
    void *v = NULL;
    size_t n = 0;
    CHECK_OK(fut_future_result(f, TU_LONG_TIMEOUT_NS, &v, &n));
    const int32_t *fds = (const int32_t *)v;
    size_t count = n / sizeof(int32_t), high = 0;
    for (size_t i = 0; i < count; i++) {
        if (fds[i] <= 2) continue;
        CHECK_MSG(fds[i] >= 64, "worker holds descriptor %d", (int)fds[i]);
        high++;
    }
    CHECK_EQ(high, (size_t)2);
    fut_future_release(f);
    stop(ex);
}

/* ---- a busy host: 32 threads holding a mutex while the pool spawns ------ */

static pthread_mutex_t sp_busy_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int sp_busy_stop;

static void *sp_busy(void *arg) {
    (void)arg;
    while (!atomic_load(&sp_busy_stop)) {
        pthread_mutex_lock(&sp_busy_lock);
        void *p = malloc(64);
        free(p);
        sched_yield(); /* yield with the lock held */
        pthread_mutex_unlock(&sp_busy_lock);
    }
    return NULL;
}

/* N5: 32 threads hold a mutex (and malloc) in turn while the pool starts
 * workers and runs 10,000 tasks: spawned workers share no lock state. */
static void test_busy_host_10k(void) {
    enum { THREADS = 32 };
    pthread_t th[THREADS];
    atomic_store(&sp_busy_stop, 0);
    for (int i = 0; i < THREADS; i++) th[i] = SPAWN(sp_busy, NULL);
    fut_executor *ex = plain_spawn_pool(2);
    enum { N = 10000 };
    fut_item *items = (fut_item *)calloc(N, sizeof *items);
    int32_t *args = (int32_t *)calloc(N, sizeof *args);
    for (int i = 0; i < N; i++) {
        args[i] = i;
        items[i].arg = &args[i];
        items[i].arg_len = sizeof args[i];
    }
    fut_map *m = NULL;
    CHECK_OK(fut_executor_map(ex, pp_echo, items, N, TU_LONG_TIMEOUT_NS, 1, &m));
    for (int i = 0; i < N; i++) {
        fut_future *g = NULL;
        CHECK_OK(fut_map_next(m, &g));
        CHECK_EQ(result_i32(g), i);
        fut_future_release(g);
    }
    fut_map_release(m);
    stop(ex);
    atomic_store(&sp_busy_stop, 1);
    for (int i = 0; i < THREADS; i++) JOIN(th[i]);
    free(items);
    free(args);
}

/* ---- faults --------------------------------------------------------------------- */

/* N5, B1: a crash breaks the pool (default policy), with the signal. */
static void test_crash_breaks_pool(void) {
    fut_executor *ex = plain_spawn_pool(1);
    fut_future *f = pp_submit(ex, pp_segv, NULL, 0);
    const char *d = pp_expect_failure(f, FUT_ERR_BROKEN_POOL);
    CHECK(d != NULL && strstr(d, "SIGSEGV") != NULL);
    fut_future_release(f);
    CHECK_ST(fut_executor_submit(ex, pp_echo, "x", 1, NULL, &f), FUT_ERR_BROKEN_POOL);
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    fut_executor_release(ex);
}

/* N5, X12: FUT_CRASH_FAIL_TASK fails only the task; a new worker runs on. */
static void test_crash_fail_task(void) {
    fut_executor *ex = spawn_pool(1, FUT_CRASH_FAIL_TASK);
    int32_t before = named_i32(ex, "pp_getpid");
    fut_future *f = pp_submit(ex, pp_sigkill_self, NULL, 0);
    const char *d = pp_expect_failure(f, FUT_ERR_WORKER_DIED);
    CHECK(d != NULL && strstr(d, "SIGKILL") != NULL);
    fut_future_release(f);
    int32_t after = named_i32(ex, "pp_getpid");
    CHECK(after != before);
    stop(ex);
}

/* N5, X12: the time limit kills the worker; the pool goes on. */
static void test_time_limit(void) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.start_method = FUT_START_SPAWN;
    o.max_workers = 1;
    o.task_time_limit_ns = 100 * TU_MS;
    fut_executor *ex = NULL;
    CHECK_OK(fut_process_pool_new(&o, &ex));
    fut_future *f = NULL;
    CHECK_OK(fut_executor_submit_named(ex, "sp_forever", NULL, 0, NULL, &f));
    pp_expect_failure(f, FUT_ERR_TIME_LIMIT);
    fut_future_release(f);
    f = pp_submit(ex, pp_echo, "on", 3);
    pp_expect_bytes(f, "on", 3);
    fut_future_release(f);
    stop(ex);
}

/* N5, P10: max_tasks_per_child replaces workers. */
static void test_max_tasks_per_child(void) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.start_method = FUT_START_SPAWN;
    o.max_workers = 1;
    o.max_tasks_per_child = 1;
    fut_executor *ex = NULL;
    CHECK_OK(fut_process_pool_new(&o, &ex));
    int32_t pids[4];
    for (int i = 0; i < 4; i++) {
        pids[i] = named_i32(ex, "pp_getpid");
        for (int j = 0; j < i; j++) CHECK(pids[i] != pids[j]);
    }
    stop(ex);
}

/* N6: the initializer runs by name, with its argument, in every worker. */
static void test_initializer_by_name(void) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.start_method = FUT_START_SPAWN;
    o.max_workers = 2;
    int32_t value = 4242;
    o.initializer = sp_init;
    o.initializer_arg = &value;
    o.initializer_arg_len = sizeof value;
    fut_executor *ex = NULL;
    CHECK_OK(fut_process_pool_new(&o, &ex));
    CHECK_EQ(named_i32(ex, "sp_read_init"), 4242);
    stop(ex);
    /* A failing initializer breaks the pool (B7). */
    o.initializer_arg_len = 1;
    CHECK_OK(fut_process_pool_new(&o, &ex));
    fut_future *f = NULL;
    CHECK_OK(fut_executor_submit_named(ex, "sp_read_init", NULL, 0, NULL, &f));
    const char *d = pp_expect_failure(f, FUT_ERR_BROKEN_POOL);
    CHECK(d != NULL && strstr(d, "initializer failed with code 7") != NULL);
    fut_future_release(f);
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    fut_executor_release(ex);
}

/* N5, F6, P5: queued calls are cancelled while a worker is busy; at most
 * one (the extra dispatched call) escapes. */
static void test_cancel(void) {
    fut_executor *ex = spawn_pool(1, FUT_CRASH_BREAK_POOL);
    fut_future *blocker = pp_submit(ex, pp_report_block_echo, "b", 2);
    pp_read_pid(); /* it runs */
    enum { N = 10 };
    fut_future *fs[N];
    for (int i = 0; i < N; i++) fs[i] = pp_submit(ex, pp_echo, "q", 2);
    int cancelled = 0;
    for (int i = 0; i < N; i++) cancelled += fut_future_cancel(fs[i]) ? 1 : 0;
    CHECK_GE(cancelled, N - 1);
    pp_gate_open(1);
    pp_expect_bytes(blocker, "b", 2);
    fut_future_release(blocker);
    for (int i = 0; i < N; i++) {
        if (!fut_future_cancelled(fs[i])) pp_expect_bytes(fs[i], "q", 2);
        fut_future_release(fs[i]);
    }
    stop(ex);
}

/* N9, P18: workers die with the process that started them, even when it
 * is killed while they run a task (this process is a subreaper: they would
 * show up here). The worker is blocked in its task, not reading its call
 * pipe: only its death signal can end it. */
static void test_workers_die_with_parent(void) {
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        fut_executor *ex = spawn_pool(1, FUT_CRASH_BREAK_POOL);
        fut_future *f = NULL;
        if (fut_executor_submit(ex, pp_report_block_echo, "x", 2, NULL, &f) != FUT_OK) _exit(2);
        for (;;) pause();
    }
    pid_t worker = pp_read_pid(); /* it runs the task, blocked on the gate */
    int pidfd = (int)syscall(SYS_pidfd_open, worker, 0);
    CHECK(pidfd >= 0);
    CHECK(kill(child, SIGKILL) == 0);
    int st;
    CHECK(waitpid(child, &st, 0) == child);
    struct pollfd q = {pidfd, POLLIN, 0};
    CHECK(poll(&q, 1, TU_LONG_TIMEOUT_MS) == 1); /* the worker ended */
    close(pidfd);
    /* Reparented to us (subreaper): reap it. */
    CHECK(waitpid(worker, &st, 0) == worker);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

int main(int argc, char **argv) {
    if (getenv("SP_WORKER_HANGS") && argc > 1 && strcmp(argv[1], "--libfutures-spawn-worker") == 0)
        for (;;) pause(); /* test_program_that_never_enters: a worker that never enters */
    spawn_register_common();
    CHECK_OK(fut_register_task("sp_ppid", sp_ppid));
    CHECK_OK(fut_register_task("sp_fds", sp_fds));
    CHECK_OK(fut_register_task("sp_nested", sp_nested));
    CHECK_OK(fut_register_task("sp_forever", sp_forever));
    CHECK_OK(fut_register_task("sp_read_init", sp_read_init));
    CHECK_OK(fut_register_initializer("sp_init", sp_init));
    CHECK_OK(fut_worker_entry(argc, argv));

    pp_become_subreaper();
    pp_pipes_init();
    fut_set_log_hook(tu_log_capture_fn, &pp_log);
    PP_RUN(test_by_name_and_pointer(), "spawn: by name and by pointer");
    PP_RUN(test_thread_pool_by_name(), "named tasks on a thread pool");
    PP_RUN(test_register_rules(), "register rules");
    PP_RUN(test_unregistered_refused(), "spawn: unregistered pointer refused");
    PP_RUN(test_names_unknown_to_the_worker(), "spawn: names unknown to the worker");
    PP_RUN(test_bad_program(), "spawn: missing or not executable program");
    PP_RUN(test_explicit_program(), "spawn: explicit worker program");
    PP_RUN(test_program_without_entry(), "spawn: program without fut_worker_entry");
    PP_RUN(test_program_that_never_enters(), "spawn: program that never enters");
    PP_RUN(test_worker_fds(), "spawn: worker descriptors");
    PP_RUN(test_busy_host_10k(), "spawn: 32 busy threads, 10000 tasks");
    PP_RUN(test_crash_breaks_pool(), "spawn: crash breaks the pool");
    PP_RUN(test_crash_fail_task(), "spawn: crash fails the task");
    PP_RUN(test_time_limit(), "spawn: time limit");
    PP_RUN(test_max_tasks_per_child(), "spawn: max_tasks_per_child");
    PP_RUN(test_initializer_by_name(), "spawn: initializer by name");
    PP_RUN(test_cancel(), "spawn: cancel");
    PP_RUN(test_workers_die_with_parent(), "spawn: workers die with their parent");
    fut_set_log_hook(NULL, NULL);
    return tu_summary();
}
