/* The MPI executor (M1-M10), run by ctest as
 *   mpirun -n 4 --oversubscribe test_mpi CASE
 * Every rank runs this program: rank 0 is the host and checks, the others
 * serve. Cases: tasks, map, errors, cancel, shutdown, callback, mixed,
 * payload, abort.
 * Tasks that must stay busy wait on a gate file the host creates (a
 * condition, not a duration). */
#include "../test_util.h"

#include <futures_mpi.h>

#define WAIT_NS (60 * TU_SEC)

static int g_rank;

/* ---- tasks (registered on every rank) ----------------------------- */

static int32_t square(fut_task *t, const void *arg, size_t len) {
    int64_t x;
    if (len != sizeof x) return 22;
    memcpy(&x, arg, sizeof x);
    int64_t *v = malloc(sizeof *v);
    if (!v) return 12;
    *v = x * x;
    return fut_task_set_result(t, v, sizeof *v, free) == FUT_OK ? 0 : 5;
}

static int32_t fail(fut_task *t, const void *arg, size_t len) {
    char msg[64];
    snprintf(msg, sizeof msg, "bad input %.*s", (int)len, (const char *)arg);
    fut_task_set_error(t, 42, msg);
    return 42;
}

/* Blocks until the file named by the argument exists (60 s at most). */
static int32_t gate(fut_task *t, const void *arg, size_t len) {
    (void)t;
    char path[256];
    snprintf(path, sizeof path, "%.*s", (int)len, (const char *)arg);
    for (int i = 0; i < 60000; i++) {
        if (access(path, F_OK) == 0) return 0;
        tu_sleep_ms(1);
    }
    return 110;
}

/* Returns a copy of its argument (payloads both ways). */
static int32_t echo(fut_task *t, const void *arg, size_t len) {
    void *v = malloc(len ? len : 1);
    if (!v) return 12;
    memcpy(v, arg, len);
    return fut_task_set_result(t, v, len, free) == FUT_OK ? 0 : 5;
}

static int32_t die(fut_task *t, const void *arg, size_t len) {
    (void)t, (void)arg, (void)len;
    abort();
}

static int32_t host_only(fut_task *t, const void *arg, size_t len) {
    (void)t, (void)arg, (void)len;
    return 0;
}

static int32_t not_registered(fut_task *t, const void *arg, size_t len) {
    (void)t, (void)arg, (void)len;
    return 0;
}

/* ---- helpers ------------------------------------------------------ */

static fut_future *submit(fut_executor *ex, const char *name, const void *arg, size_t len) {
    fut_future *f = NULL;
    CHECK_OK(fut_executor_submit_named(ex, name, arg, len, NULL, &f));
    return f;
}

static int64_t value_i64(fut_future *f) {
    void *p = NULL;
    size_t len = 0;
    CHECK_OK(fut_future_result(f, WAIT_NS, &p, &len));
    CHECK_EQ(len, sizeof(int64_t));
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static char g_gate[128];

static void gate_init(void) {
    snprintf(g_gate, sizeof g_gate, "/tmp/fut_mpi_gate.%d", (int)getpid());
    unlink(g_gate);
}

static void gate_open(void) {
    FILE *f = fopen(g_gate, "w");
    CHECK(f != NULL);
    fclose(f);
}

/* ---- cases (rank 0) ----------------------------------------------- */

/* M2, M6: 10,000 named tasks, every value right. */
static void case_tasks(fut_executor *ex) {
    enum { N = 10000 };
    static fut_future *fs[N];
    static int64_t args[N];
    for (int i = 0; i < N; i++) {
        args[i] = i;
        fs[i] = submit(ex, "square", &args[i], sizeof args[i]);
    }
    size_t n_done = 0;
    CHECK_OK(fut_wait(fs, N, WAIT_NS, FUT_ALL_COMPLETED, NULL, &n_done));
    CHECK_EQ(n_done, (size_t)N);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(value_i64(fs[i]), (int64_t)i * i);
        fut_future_release(fs[i]);
    }
}

struct counter {
    int64_t next, end;
};

/* Hands out next .. end-1 as malloc'ed int64 inputs. */
static fut_status produce(void *user, fut_item *item, fut_drop_fn *item_drop) {
    struct counter *c = user;
    if (c->next == c->end) return FUT_END;
    int64_t *v = malloc(sizeof *v);
    *v = c->next++;
    *item = (fut_item){v, sizeof *v};
    *item_drop = free;
    return FUT_OK;
}

/* M3: map with a chunksize that does not divide n; unordered imap. */
static void case_map(fut_executor *ex) {
    enum { N = 1001 };
    static int64_t args[N];
    static fut_item items[N];
    for (int i = 0; i < N; i++) {
        args[i] = i - 500;
        items[i] = (fut_item){&args[i], sizeof args[i]};
    }
    fut_map *m = NULL;
    CHECK_OK(fut_executor_map(ex, square, items, N, WAIT_NS, 64, &m));
    for (int i = 0; i < N; i++) {
        fut_future *f = NULL;
        CHECK_OK(fut_map_next(m, &f));
        CHECK_EQ(value_i64(f), args[i] * args[i]);
        fut_future_release(f);
    }
    fut_future *end = NULL;
    CHECK_ST(fut_map_next(m, &end), FUT_END);
    fut_map_release(m);
    struct counter c = {0, 500};
    CHECK_OK(fut_executor_imap(ex, square, produce, &c, NULL, 8, 4, FUT_IMAP_UNORDERED, &m));
    int64_t sum = 0;
    for (int i = 0; i < 500; i++) {
        fut_future *f = NULL;
        CHECK_OK(fut_map_next_timeout(m, WAIT_NS, &f, NULL));
        sum += value_i64(f);
        fut_future_release(f);
    }
    CHECK_ST(fut_map_next_timeout(m, WAIT_NS, &end, NULL), FUT_END);
    fut_map_release(m);
    CHECK_EQ(sum, (int64_t)499 * 500 * 999 / 6);
    /* An unregistered function cannot cross ranks (M2). */
    CHECK_ST(fut_executor_map(ex, not_registered, items, N, WAIT_NS, 7, &m), FUT_ERR_NOT_REGISTERED);
}

/* M7: a task's error comes back with its code, its message, rank and host. */
static void case_errors(fut_executor *ex) {
    fut_future *f = submit(ex, "fail", "7", 1);
    CHECK_ST(fut_future_result(f, WAIT_NS, NULL, NULL), FUT_ERR_TASK_FAILED);
    fut_error_info e;
    CHECK_OK(fut_future_exception(f, 0, &e));
    CHECK_EQ(e.kind, FUT_ERR_TASK_FAILED);
    CHECK_EQ(e.code, 42);
    char host[MPI_MAX_PROCESSOR_NAME];
    int hl;
    MPI_Get_processor_name(host, &hl); /* one machine in the test */
    CHECK_MSG(strstr(e.message, "bad input 7") && strstr(e.message, "rank ") && strstr(e.message, host),
              "message: %s", e.message);
    fut_future_release(f);
    /* A name the workers did not register fails there, by name (M2). */
    f = submit(ex, "host_only", NULL, 0);
    CHECK_ST(fut_future_result(f, WAIT_NS, NULL, NULL), FUT_ERR_TASK_FAILED);
    CHECK_OK(fut_future_exception(f, 0, &e));
    CHECK_EQ(e.code, FUT_ERR_NOT_REGISTERED);
    CHECK_MSG(strstr(e.message, "host_only") != NULL, "message: %s", e.message);
    fut_future_release(f);
    /* An unregistered function is refused at submit, arg_drop not run. */
    CHECK_ST(fut_executor_submit(ex, not_registered, NULL, 0, NULL, &f), FUT_ERR_NOT_REGISTERED);
    /* The pool still works after failures. */
    int64_t x = 9;
    f = submit(ex, "square", &x, sizeof x);
    CHECK_EQ(value_i64(f), 81);
    fut_future_release(f);
}

/* Fills every slot (3 ranks x pipeline 2) with gate tasks, and waits
 * until all six were sent (RUNNING): what comes next stays queued. */
static void fill_slots(fut_executor *ex, fut_future **gates) {
    for (int i = 0; i < 6; i++) gates[i] = submit(ex, "gate", g_gate, strlen(g_gate));
    int64_t deadline = tu_now_ns() + WAIT_NS;
    for (int i = 0; i < 6; i++)
        while (fut_future_state(gates[i]) != FUT_STATE_RUNNING) {
            CHECK_MSG(tu_now_ns() < deadline, "gate task %d never sent", i);
            tu_sleep_ms(1);
        }
}

/* M9: queued futures (every slot busy) cancel; the rest still run. */
static void case_cancel(fut_executor *ex) {
    gate_init();
    fut_future *gates[6], *q[100];
    int64_t args[100];
    fill_slots(ex, gates);
    for (int i = 0; i < 100; i++) {
        args[i] = i;
        q[i] = submit(ex, "square", &args[i], sizeof args[i]);
    }
    for (int i = 0; i < 100; i += 2) CHECK(fut_future_cancel(q[i]));
    gate_open();
    for (int i = 0; i < 6; i++) {
        CHECK_OK(fut_future_result(gates[i], WAIT_NS, NULL, NULL));
        fut_future_release(gates[i]);
    }
    for (int i = 0; i < 100; i++) {
        if (i % 2 == 0) CHECK_ST(fut_future_result(q[i], WAIT_NS, NULL, NULL), FUT_ERR_CANCELLED);
        else CHECK_EQ(value_i64(q[i]), (int64_t)i * i);
        fut_future_release(q[i]);
    }
    unlink(g_gate);
}

static atomic_int g_drops;
static void count_drop(void *p) {
    free(p);
    atomic_fetch_add(&g_drops, 1);
}

/* M4, M9: shutdown(cancel_futures) cancels what is queued at once, refuses
 * new work, lets sent work finish, and shutdown(wait) ends. */
static void case_shutdown(fut_executor *ex) {
    gate_init();
    fut_future *gates[6], *q[20];
    fill_slots(ex, gates);
    for (int i = 0; i < 20; i++) {
        int64_t *a = malloc(sizeof *a);
        *a = i;
        CHECK_OK(fut_executor_submit_named(ex, "square", a, sizeof *a, count_drop, &q[i]));
    }
    CHECK_OK(fut_executor_shutdown(ex, false, true));
    for (int i = 0; i < 20; i++) CHECK_EQ(fut_future_state(q[i]), FUT_STATE_CANCELLED);
    CHECK_EQ(atomic_load(&g_drops), 20); /* cancelled: arguments dropped once */
    fut_future *late = NULL;
    int64_t x = 1;
    CHECK_ST(fut_executor_submit_named(ex, "square", &x, sizeof x, NULL, &late), FUT_ERR_SHUTDOWN);
    gate_open();
    CHECK_OK(fut_executor_shutdown(ex, true, false));
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(fut_future_state(gates[i]), FUT_STATE_FINISHED);
        fut_future_release(gates[i]);
    }
    for (int i = 0; i < 20; i++) fut_future_release(q[i]);
    CHECK_OK(fut_executor_shutdown(ex, true, false)); /* idempotent */
    unlink(g_gate);
}

struct from_callback {
    fut_executor *ex; /* a reference of the callback's own */
    fut_future *done; /* a promise: the status shutdown answered */
};

static void shutdown_from_callback(fut_future *f, void *user) {
    (void)f;
    struct from_callback *c = user;
    fut_status st = fut_executor_shutdown(c->ex, true, false);
    fut_executor_release(c->ex);
    int32_t *v = malloc(sizeof *v);
    *v = st;
    fut_future_set_result(c->done, v, sizeof *v, free);
}

/* M9: shutdown(wait) from a done-callback (the progress thread) cannot
 * join it: FUT_ERR_WOULD_DEADLOCK, and the pool still stops. */
static void case_callback(fut_executor *ex) {
    struct from_callback c = {fut_executor_retain(ex), NULL};
    CHECK(c.ex != NULL);
    CHECK_OK(fut_future_new(&c.done));
    int64_t x = 3;
    fut_future *f = submit(ex, "square", &x, sizeof x);
    CHECK_OK(fut_future_add_done_callback(f, shutdown_from_callback, &c));
    void *v = NULL;
    CHECK_OK(fut_future_result(c.done, WAIT_NS, &v, NULL));
    CHECK_EQ(*(int32_t *)v, FUT_ERR_WOULD_DEADLOCK);
    CHECK_EQ(value_i64(f), 9);
    fut_future *late = NULL;
    CHECK_ST(fut_executor_submit_named(ex, "square", &x, sizeof x, NULL, &late), FUT_ERR_SHUTDOWN);
    CHECK_OK(fut_executor_shutdown(ex, true, false)); /* joins from here */
    fut_future_release(f);
    fut_future_release(c.done);
}

/* M10: wait and as_completed over MPI futures mixed with local ones. */
static void case_mixed(fut_executor *ex) {
    fut_thread_pool_options o;
    fut_thread_pool_options_init(&o);
    o.max_workers = 2;
    fut_executor *local = NULL;
    CHECK_OK(fut_thread_pool_new(&o, &local));
    fut_future *promise = NULL;
    CHECK_OK(fut_future_new(&promise));
    int64_t args[8];
    fut_future *fs[9];
    for (int i = 0; i < 8; i++) {
        args[i] = i + 1;
        fs[i] = submit(i % 2 ? local : ex, "square", &args[i], sizeof args[i]);
    }
    fs[8] = promise; /* never done until we complete it */
    uint8_t flags[9];
    size_t n_done = 0;
    CHECK_OK(fut_wait(fs, 8, WAIT_NS, FUT_ALL_COMPLETED, flags, &n_done));
    CHECK_EQ(n_done, (size_t)8);
    CHECK_OK(fut_wait(fs, 9, 0, FUT_ALL_COMPLETED, flags, &n_done)); /* a poll */
    CHECK_EQ(n_done, (size_t)8);
    CHECK_EQ(flags[8], 0);
    CHECK_OK(fut_future_set_result(promise, NULL, 0, NULL));
    fut_as_completed *it = NULL;
    CHECK_OK(fut_as_completed_new(fs, 9, WAIT_NS, &it));
    int64_t sum = 0;
    for (int i = 0; i < 9; i++) {
        fut_future *f = NULL;
        CHECK_OK(fut_as_completed_next(it, NULL, &f));
        if (f != promise) sum += value_i64(f);
        fut_future_release(f);
    }
    fut_future *end = NULL;
    CHECK_ST(fut_as_completed_next(it, NULL, &end), FUT_END);
    fut_as_completed_release(it);
    CHECK_EQ(sum, (int64_t)(1 + 4 + 9 + 16 + 25 + 36 + 49 + 64));
    for (int i = 0; i < 9; i++) fut_future_release(fs[i]);
    fut_executor_release(local);
}

/* M8: 64 MiB arguments and values cross intact; arg_drop runs once. */
static void case_payload(fut_executor *ex) {
    enum { N = 2 };
    const size_t len = (size_t)64 << 20;
    fut_future *fs[N];
    for (int k = 0; k < N; k++) {
        unsigned char *a = malloc(len);
        CHECK(a != NULL);
        for (size_t i = 0; i < len; i++) a[i] = (unsigned char)(i * 31 + (size_t)k);
        CHECK_OK(fut_executor_submit_named(ex, "echo", a, len, count_drop, &fs[k]));
    }
    for (int k = 0; k < N; k++) {
        void *p = NULL;
        size_t got = 0;
        CHECK_OK(fut_future_result(fs[k], WAIT_NS, &p, &got));
        CHECK_EQ(got, len);
        const unsigned char *v = p;
        for (size_t i = 0; i < len; i += 4093) CHECK_EQ(v[i], (unsigned char)(i * 31 + (size_t)k));
        CHECK_EQ(v[len - 1], (unsigned char)((len - 1) * 31 + (size_t)k));
        fut_future_release(fs[k]);
    }
    CHECK_EQ(atomic_load(&g_drops), N);
    /* A chunk of 3 with 100 KiB arguments and values: each travels as its
     * own message, in order, several in one unit. */
    enum { M = 7, K = 100 << 10 };
    static unsigned char in[M][K];
    fut_item items[M];
    for (int k = 0; k < M; k++) {
        memset(in[k], 'a' + k, K);
        items[k] = (fut_item){in[k], K};
    }
    fut_map *m = NULL;
    CHECK_OK(fut_executor_map(ex, echo, items, M, WAIT_NS, 3, &m));
    for (int k = 0; k < M; k++) {
        fut_future *f = NULL;
        void *p = NULL;
        size_t got = 0;
        CHECK_OK(fut_map_next(m, &f));
        CHECK_OK(fut_future_result(f, 0, &p, &got));
        CHECK_EQ(got, (size_t)K);
        CHECK(memcmp(p, in[k], K) == 0);
        fut_future_release(f);
    }
    fut_map_release(m);
}

/* M11: a rank that dies ends the job; the harness checks mpirun's end. */
static void case_abort(fut_executor *ex) {
    fut_future *f = submit(ex, "die", NULL, 0);
    fut_future_result(f, WAIT_NS, NULL, NULL);
    fprintf(stderr, "the job should have ended when the rank died\n");
    _exit(3);
}

int main(int argc, char **argv) {
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    CHECK_OK(fut_register_task("square", square));
    CHECK_OK(fut_register_task("fail", fail));
    CHECK_OK(fut_register_task("gate", gate));
    CHECK_OK(fut_register_task("echo", echo));
    CHECK_OK(fut_register_task("die", die));
    if (g_rank == 0) CHECK_OK(fut_register_task("host_only", host_only));
    const char *which = argc > 1 ? argv[1] : "tasks";
    if (g_rank != 0) {
        CHECK_OK(fut_mpi_serve(MPI_COMM_WORLD));
        MPI_Finalize();
        return 0;
    }
    static const struct {
        const char *name;
        void (*fn)(fut_executor *);
    } cases[] = {{"tasks", case_tasks},     {"map", case_map},     {"errors", case_errors},
                 {"cancel", case_cancel},   {"shutdown", case_shutdown}, {"mixed", case_mixed},
                 {"payload", case_payload}, {"abort", case_abort}, {"callback", case_callback}};
    fut_executor *ex = NULL;
    CHECK_OK(fut_mpi_pool_new(MPI_COMM_WORLD, NULL, &ex));
    int found = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(cases[i].name, which) != 0) continue;
        found = 1;
        int64_t t0 = tu_test_begin(cases[i].name);
        cases[i].fn(ex);
        tu_test_end(t0);
    }
    CHECK_MSG(found, "no case %s", which);
    fut_executor_release(ex); /* shuts the pool down: the workers return */
    MPI_Finalize();
    return tu_summary();
}
