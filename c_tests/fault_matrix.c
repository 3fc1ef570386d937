/* The fault matrix (R1-R9, R11, R12, R14): failure stage x failure kind x start
 * method (fork, fork server, spawn) x crash policy, each case on a fresh
 * one-worker process pool. Prints
 * one line per cell (ok, FAIL or skip with the rule that skips it) and a
 * closing "N passed, N failed"; exits non-zero on any failure.
 *
 * Each executed case asserts (R2-R6): every future ends within FM_BOUND; its
 * status and error detail are exactly what docs/behaviours.md says (B4, X12,
 * the wording of the pool: "killed by signal 11 (SIGSEGV)", "exit status 3",
 * "ran past the time limit of 150 ms"); the pool is usable afterwards exactly
 * when the policy says (a probe task runs, or is refused or failed with
 * FUT_ERR_BROKEN_POOL and the logged cause); shutdown(wait) returns within the
 * bound; and afterwards no child process (the test is a child subreaper, so
 * orphans and zombies would be its children), no descriptor and no thread is
 * left over.
 *
 * How each stage is reached (the worker-side code is in fault_inject.h):
 *   initializer   the pool's initializer commits the fault;
 *   argument      the idle worker is stopped, a call with a 2 MiB argument is
 *                 dispatched to it (partly in its pipe), then the fault is
 *                 delivered (SIGUSR1 runs it in the worker) and it continues;
 *   task          the task commits it;
 *   after result  the value's destructor commits it, after the result was sent;
 *   result        the worker faults while copying a 3 MiB value out (its last
 *                 MiB unreadable: a real SIGSEGV, turned into the kind by the
 *                 task's SIGSEGV handler), after publishing the first MiB;
 *   between       the idle worker gets the fault (signal, or SIGUSR1 runs it);
 *   fork server   the test signals the pool's fork server;
 *   manager       FUT_TEST_MANAGER_PANIC=1 makes the pool's manager thread
 *                 panic after its first dispatch (R7);
 *   at shutdown   the idle worker's fault is under way (stopped, or its
 *                 SIGUSR1 handler running) when shutdown(wait) is called:
 *                 it must return, the pool shut down (or broken), R12.
 * SIGKILL and SIGSTOP are sent by the test; the stalls (SIGSTOP, hang) run
 * under a per-task time limit of 150 ms.
 * On spawn the same code runs in the workers: main() registers every task and
 * the initializer by name first (N3, N6), and fi_init's argument carries the
 * kind and the test's pipe numbers, which a spawned worker reopens through
 * /proc/<test>/fd (spawn_common.h): it inherits neither (N10).
 *
 * Skip rule (fm_skip): a cell is skipped when the fault cannot happen there:
 *   - the manager is a thread of the host: a signal or an exit there ends the
 *     host itself (B11); its only fault is an internal error (the "panic"
 *     kind, which exists for it alone);
 *   - no user code runs in the fork server: only signals reach it (a hang
 *     there is SIGSTOP); FUT_START_FORK with FUT_CRASH_BREAK_POOL has none,
 *     nor has FUT_START_SPAWN (N5);
 *   - in the result stage the fault runs in a SIGSEGV handler in the middle
 *     of a copy: a handler cannot go on after closing the fds, and garbage
 *     inside a value in transit is value bytes (no decoder can tell).
 *
 * FUT_FM_ONLY=TEXT runs the cells whose name contains TEXT. */
#define _GNU_SOURCE
#include "fault_inject.h"

#include <dirent.h>

/* Messages are cut to their buffers on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define FM_BOUND_NS (20 * TU_SEC)
#define FM_LIMIT_MS 150
#define FM_ARG_BYTES (2u << 20)

typedef enum fm_stage {
    S_INIT,
    S_ARG,
    S_RUN,
    S_AFTER,
    S_XFER,
    S_BETWEEN,
    S_SERVER,
    S_MANAGER,
    S_SHUTDOWN,
    S_NSTAGES
} fm_stage;

static const char *const fm_stage_names[S_NSTAGES] = {
    "initializer", "argument transfer", "task running", "after the result is set",
    "result transfer", "between tasks", "fork server", "pool manager", "at shutdown"};

/* The start methods: one entry each (a new method is one more line). */
typedef struct fm_method {
    fut_start_method method;
    const char *name;
} fm_method;
static const fm_method FM_METHODS[] = {
    {FUT_START_FORK, "fork"},
    {FUT_START_FORKSERVER, "forkserver"},
    {FUT_START_SPAWN, "spawn"},
};
#define FM_NMETHODS (sizeof FM_METHODS / sizeof FM_METHODS[0])

static const fut_crash_policy FM_POLICIES[2] = {FUT_CRASH_BREAK_POOL, FUT_CRASH_FAIL_TASK};
static const char *policy_name(fut_crash_policy p) {
    return p == FUT_CRASH_BREAK_POOL ? "BREAK_POOL" : "FAIL_TASK";
}

static int is_stall(fi_kind k) { return k == FI_SIGSTOP || k == FI_HANG; }
static int is_crash(fi_kind k) {
    return k == FI_SEGV || k == FI_ABORT || k == FI_EXIT3 || k == FI_SIGKILL || k == FI_CLOSEFDS;
}

/* Why the cell is skipped, or NULL (the rule above). */
static const char *fm_skip(fm_stage s, fi_kind k, const fm_method *m, fut_crash_policy p) {
    if ((s == S_MANAGER) != (k == FI_PANIC))
        return s == S_MANAGER ? "the manager is a host thread: its one fault is a panic"
                              : "a panic is the manager's fault only";
    if (s == S_SERVER) {
        if (m->method == FUT_START_FORK && p == FUT_CRASH_BREAK_POOL)
            return "this pool has no fork server";
        if (m->method == FUT_START_SPAWN)
            return "a spawn pool has no fork server (N5)";
        if (k == FI_EXIT3 || k == FI_HANG || k == FI_CLOSEFDS || k == FI_GARBAGE)
            return "no user code runs in the fork server";
    }
    if (s == S_XFER && (k == FI_CLOSEFDS || k == FI_GARBAGE))
        return "a fault inside a copy can neither go on nor be told from value bytes";
    return NULL;
}

/* ---- expectations ---------------------------------------------------------------------------- */

typedef struct fm_expect {
    int has_task;          /* the case's own future T */
    fut_status task;       /* T's status */
    char detail[256];      /* T's detail when it failed, exactly */
    int usable;            /* the probe runs afterwards */
    int shut_down;         /* the probe is refused by a shut-down (or broken) pool */
    char cause[256];       /* else: why the pool broke, exactly */
} fm_expect;

static const char *how(fi_kind k) {
    switch (k) {
    case FI_SEGV: return "killed by signal 11 (SIGSEGV)";
    case FI_ABORT: return "killed by signal 6 (SIGABRT)";
    case FI_EXIT3: return "exit status 3";
    case FI_SIGKILL: return "killed by signal 9 (SIGKILL)";
    case FI_CLOSEFDS: return "exit status 5"; /* the worker's "pipe gone" exit */
    default: return "?";
    }
}

#define GARBAGE_CAUSE "bad message from worker %s: protocol error: frame too large"

/* What the behaviours promise for the cell; `w` is the worker's pid as text,
 * `srv` the fork server's, `task` the id of the case's task. */
static void fm_expected(fm_stage s, fi_kind k, fut_crash_policy p, const char *w, const char *srv,
                        const char *task, fm_expect *e) {
    int fail_task = p == FUT_CRASH_FAIL_TASK;
    memset(e, 0, sizeof *e);
    e->has_task = s != S_BETWEEN && s != S_SERVER && s != S_SHUTDOWN;
    if (s == S_SHUTDOWN) { /* R12: whatever the fault, shutdown returns and leaves nothing */
        e->usable = 0;
        e->shut_down = 1;
        return;
    }
    e->task = FUT_OK;
    e->usable = 1;
    if (k == FI_GARBAGE) { /* B6: a malformed message breaks the pool, either policy */
        snprintf(e->cause, sizeof e->cause, GARBAGE_CAUSE, w);
        e->usable = 0;
        if (s == S_INIT || s == S_ARG || s == S_RUN) {
            e->task = FUT_ERR_BROKEN_POOL;
            snprintf(e->detail, sizeof e->detail, "%s", e->cause);
        }
        return;
    }
    switch (s) {
    case S_INIT: /* B7: the pool breaks whatever the policy; R14 on spawn */
        e->task = FUT_ERR_BROKEN_POOL;
        e->usable = 0;
        if (is_stall(k))
            snprintf(e->cause, sizeof e->cause,
                     "worker %s killed by signal 9 (SIGKILL) while running the initializer "
                     "(past the time limit of %d ms)", w, FM_LIMIT_MS);
        else if (k == FI_CLOSEFDS) /* it got READY out, then could not read a call (R9) */
            snprintf(e->cause, sizeof e->cause, "worker %s %s while idle%s", w, how(k),
                     fail_task ? "; 5 workers in a row died before starting a call" : "");
        else
            snprintf(e->cause, sizeof e->cause, "worker %s %s while running the initializer%s",
                     w, how(k), k == FI_EXIT3 ? " (initializer failed)" : "");
        snprintf(e->detail, sizeof e->detail, "%s", e->cause);
        return;
    case S_ARG:     /* X12: a call not started is never charged */
    case S_BETWEEN:
    case S_AFTER:   /* the result was out before the fault */
        if (is_crash(k) && !fail_task) {
            e->usable = 0;
            snprintf(e->cause, sizeof e->cause, "worker %s %s while idle", w, how(k));
            if (s == S_ARG) {
                e->task = FUT_ERR_BROKEN_POOL;
                snprintf(e->detail, sizeof e->detail, "%s", e->cause);
            }
        }
        return; /* stalls: the time limit kills the worker, the call runs elsewhere */
    case S_RUN:
    case S_XFER:
        if (k == FI_CLOSEFDS) { /* the task returned: its result is out, then the worker ends */
            if (!fail_task) {
                e->usable = 0;
                snprintf(e->cause, sizeof e->cause, "worker %s %s while idle", w, how(k));
            }
        } else if (is_stall(k)) {
            e->task = FUT_ERR_TIME_LIMIT;
            snprintf(e->detail, sizeof e->detail,
                     "worker %s killed by signal 9 (SIGKILL): task %s ran past the time limit of "
                     "%d ms", w, task, FM_LIMIT_MS);
        } else {
            e->task = fail_task ? FUT_ERR_WORKER_DIED : FUT_ERR_BROKEN_POOL;
            snprintf(e->detail, sizeof e->detail, "worker %s %s while running task %s", w, how(k),
                     task);
            if (!fail_task) {
                e->usable = 0;
                snprintf(e->cause, sizeof e->cause, "%s", e->detail);
            }
        }
        return;
    case S_SERVER: /* P11/X13: the pool cannot replace workers without it */
        if (k != FI_SIGSTOP) {
            e->usable = 0;
            snprintf(e->cause, sizeof e->cause, "fork server %s %s", srv, how(k));
        }
        return; /* a stopped server is not needed by a pool with its worker */
    case S_MANAGER: /* B10 */
        e->task = FUT_ERR_BROKEN_POOL;
        e->usable = 0;
        snprintf(e->cause, sizeof e->cause,
                 "internal error in the pool manager: injected fault (FUT_TEST_MANAGER_PANIC)");
        snprintf(e->detail, sizeof e->detail, "%s", e->cause);
        return;
    default:
        return;
    }
}

/* `s` is exactly `want`. */
static int fm_match(const char *want, const char *s) { return s && strcmp(want, s) == 0; }

/* ---- processes ---------------------------------------------------------------------------------- */

/* Our child processes (from /proc/self/task/ * /children). */
static int fm_children(pid_t *out, int max) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        int pid;
        while (n < max && fscanf(f, "%d", &pid) == 1) out[n++] = pid;
        fclose(f);
    }
    closedir(d);
    return n;
}

/* State letter of process `pid` ('?' if gone). */
static char fm_state(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

/* Process `pid` has a handler for `sig` (SigCgt in /proc/PID/status). */
static int fm_sig_caught(pid_t pid, int sig) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long long mask = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "SigCgt: %llx", &mask) == 1) break;
    fclose(f);
    return (int)((mask >> (sig - 1)) & 1);
}

/* Polls `cond` every ms until true or the bound passes. */
#define FM_POLL(cond)                                                          \
    ({                                                                         \
        int64_t d_ = tu_now_ns() + FM_BOUND_NS;                                \
        int ok_;                                                               \
        while (!(ok_ = (cond)) && tu_now_ns() < d_) tu_sleep_ms(1);            \
        ok_;                                                                   \
    })

/* After a failed case: kills and reaps every child, so the next case starts clean. */
static void fm_kill_children(void) {
    pid_t kids[64];
    int n = fm_children(kids, 64);
    for (int i = 0; i < n; i++) kill(kids[i], SIGKILL);
    int st;
    for (int i = 0; i < n; i++) waitpid(kids[i], &st, 0);
}

/* ---- one case ------------------------------------------------------------------------------------- */

static char fm_why[512];
#define FM_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            snprintf(fm_why, sizeof fm_why, __VA_ARGS__);                      \
            goto out;                                                          \
        }                                                                      \
    } while (0)

static fut_executor *fm_pool(fm_stage s, fi_kind k, const fm_method *m, fut_crash_policy p) {
    fut_process_pool_options o;
    fut_process_pool_options_init(&o);
    o.max_workers = 1;
    o.start_method = m->method;
    o.on_worker_crash = p;
    static fi_init_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.commit = s == S_INIT;
    arg.kind = (int32_t)k;
    arg.spawned = m->method == FUT_START_SPAWN;
    arg.host.pid = (int32_t)getpid();
    for (int i = 0; i < 2; i++) {
        arg.host.gate[i] = pp_gate[i];
        arg.host.report[i] = pp_report[i];
    }
    o.initializer = fi_init; /* registered by name for spawn (N6) */
    o.initializer_arg = &arg;
    o.initializer_arg_len = sizeof arg;
    /* A stopped worker at shutdown needs no time limit (R12): none is set there. */
    if (is_stall(k) && s != S_SERVER && !(s == S_SHUTDOWN && k == FI_SIGSTOP))
        o.task_time_limit_ns = FM_LIMIT_MS * TU_MS;
    fi_current = k;
    if (s == S_MANAGER) setenv("FUT_TEST_MANAGER_PANIC", "1", 1);
    fut_executor *ex = NULL;
    fut_status st = fut_process_pool_new(&o, &ex);
    unsetenv("FUT_TEST_MANAGER_PANIC");
    return st == FUT_OK ? ex : NULL;
}

/* The worker's pid, from a task it runs. */
static pid_t fm_worker_pid(fut_executor *ex) {
    fut_future *f = NULL;
    if (fut_executor_submit(ex, pp_getpid, NULL, 0, NULL, &f) != FUT_OK) return -1;
    void *v = NULL;
    size_t n = 0;
    pid_t pid = -1;
    if (fut_future_result(f, FM_BOUND_NS, &v, &n) == FUT_OK && n == sizeof(int32_t))
        pid = (pid_t) * (int32_t *)v;
    fut_future_release(f);
    return pid;
}

/* The pool's fork server: our child that is not the worker. */
static pid_t fm_server_pid(pid_t worker) {
    pid_t kids[16];
    int n = fm_children(kids, 16);
    for (int i = 0; i < n; i++)
        if (kids[i] != worker) return kids[i];
    return -1;
}

static unsigned char fm_big_arg[FM_ARG_BYTES];

/* The future's value is its task's: fi_len's count of the whole 2 MiB
 * argument (`len`), or fi_ok's "ok". */
static int fm_value_is(fut_future *f, int len) {
    void *v = NULL;
    size_t n = 0;
    if (fut_future_result(f, 0, &v, &n) != FUT_OK) return 0;
    if (len) return n == sizeof(uint64_t) && *(uint64_t *)v == FM_ARG_BYTES;
    return n == 3 && memcmp(v, "ok", 3) == 0;
}

/* Runs one cell; 0 when every assertion held, else fm_why says why. */
static int fm_run(fm_stage s, fi_kind k, const fm_method *m, fut_crash_policy p, char *outcome,
                  size_t outcome_len) {
    int ok = 0;
    fut_future *t = NULL, *probe = NULL;
    pid_t w = 0, srv = 0;
    fm_why[0] = '\0';
    outcome[0] = '\0';
    pp_baseline base = pp_take_baseline();
    tu_log_capture_init(&pp_log);
    fut_executor *ex = fm_pool(s, k, m, p);
    FM_CHECK(ex != NULL, "cannot create the pool");
    if (s != S_INIT && s != S_MANAGER) {
        w = fm_worker_pid(ex);
        FM_CHECK(w > 0, "the warm-up task did not run");
    }
    if (s == S_SERVER) {
        srv = fm_server_pid(w);
        FM_CHECK(srv > 0, "no fork server found");
        /* Forked with the host's handlers (a sanitizer's), it restores the
         * default action of crash signals first thing: wait for that. */
        FM_CHECK(FM_POLL(!fm_sig_caught(srv, SIGSEGV) && !fm_sig_caught(srv, SIGABRT)),
                 "the fork server keeps a crash handler");
    }

    /* ---- the fault ---- */
    int reports = (k == FI_SIGKILL || k == FI_SIGSTOP) &&
                  (s == S_INIT || s == S_RUN || s == S_AFTER || s == S_XFER);
    int sig = k == FI_SIGKILL ? SIGKILL : k == FI_SIGSTOP ? SIGSTOP : 0;
    switch (s) {
    case S_INIT: { /* refused if the pool broke already (FUT_START_FORK starts the worker) */
        fut_status st = fut_executor_submit(ex, fi_ok, NULL, 0, NULL, &t);
        FM_CHECK(st == FUT_OK || (st == FUT_ERR_BROKEN_POOL && !reports),
                 "the submit answered %s", tu_st(st));
        break;
    }
    case S_ARG:
        FM_CHECK(kill(w, SIGSTOP) == 0, "cannot stop the worker");
        FM_CHECK(FM_POLL(fm_state(w) == 'T'), "the worker did not stop");
        memset(fm_big_arg, 'a', sizeof fm_big_arg);
        CHECK_ST(fut_executor_submit(ex, fi_len, fm_big_arg, sizeof fm_big_arg, NULL, &t), FUT_OK);
        FM_CHECK(FM_POLL(fut_future_running(t)), "the call was not dispatched");
        if (k == FI_SIGKILL) {
            kill(w, SIGKILL);
        } else if (k != FI_SIGSTOP) {
            kill(w, SIGUSR1); /* pending: runs first when the worker continues */
            kill(w, SIGCONT);
        }
        break;
    case S_RUN:
        CHECK_ST(fut_executor_submit(ex, fi_task_commits, NULL, 0, NULL, &t), FUT_OK);
        break;
    case S_AFTER:
        CHECK_ST(fut_executor_submit(ex, fi_task_bad_dtor, NULL, 0, NULL, &t), FUT_OK);
        break;
    case S_XFER:
        CHECK_ST(fut_executor_submit(ex, fi_task_poisoned_value, NULL, 0, NULL, &t), FUT_OK);
        break;
    case S_BETWEEN:
        kill(w, sig ? sig : SIGUSR1);
        break;
    case S_SHUTDOWN: /* the fault is under way (stopped, or in the handler), then shutdown */
        if (k == FI_SIGSTOP) {
            kill(w, SIGSTOP);
            FM_CHECK(FM_POLL(fm_state(w) == 'T'), "the worker did not stop");
        } else if (k == FI_SIGKILL) {
            kill(w, SIGKILL);
        } else {
            kill(w, SIGUSR1);
            FM_CHECK(pp_read_pid() == w, "the handler ran elsewhere");
        }
        {
            int64_t t0 = tu_now_ns();
            CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
            FM_CHECK(tu_now_ns() - t0 < FM_BOUND_NS, "shutdown took %.1f s",
                     (double)(tu_now_ns() - t0) / 1e9);
        }
        break;
    case S_SERVER:
        kill(srv, k == FI_SEGV ? SIGSEGV : k == FI_ABORT ? SIGABRT : sig);
        break;
    case S_MANAGER:
        CHECK_ST(fut_executor_submit(ex, pp_block_echo, "m", 2, NULL, &t), FUT_OK);
        break;
    default:
        break;
    }
    if (reports || s == S_INIT) { /* every initializer reports its pid (fi_init) */
        pid_t who = pp_read_pid();
        if (w == 0) w = who;
        FM_CHECK(who == w, "the fault ran in %d, not in the worker %d", (int)who, (int)w);
        if (reports) kill(who, sig);
    }

    /* ---- every future ends, with the promised outcome (R2, R3) ---- */
    fut_status st = FUT_OK;
    if (t) {
        void *v = NULL;
        st = fut_future_result(t, FM_BOUND_NS, &v, NULL);
        FM_CHECK(st != FUT_ERR_TIMEOUT, "the future did not end within %lld s",
                 (long long)(FM_BOUND_NS / TU_SEC));
    }
    if (s == S_INIT) {
        /* Replacements reported too (R9): the cause names the last worker. */
        FM_CHECK(FM_POLL(tu_log_capture_last_contains(&pp_log, "process pool broken: ")),
                 "the pool did not break; last log: %s", pp_log.last);
        struct pollfd pf = {pp_report[0], POLLIN, 0};
        while (poll(&pf, 1, 0) == 1) w = pp_read_pid();
    }
    char wtxt[16], stxt[16], ttxt[16];
    snprintf(wtxt, sizeof wtxt, "%d", (int)w);
    snprintf(stxt, sizeof stxt, "%d", (int)srv);
    /* Task ids count from 1 per pool; the warm-up task took the first. */
    snprintf(ttxt, sizeof ttxt, "%d", s == S_INIT || s == S_MANAGER ? 1 : 2);
    fm_expect e;
    fm_expected(s, k, p, wtxt, stxt, ttxt, &e);
    if (e.has_task && t) {
        fut_error_info info;
        CHECK_ST(fut_future_exception(t, 0, &info), FUT_OK);
        FM_CHECK(st == e.task, "the future ended %s (%s), expected %s", tu_st(st),
                 info.detail ? info.detail : "no detail", tu_st(e.task));
        if (st != FUT_OK)
            FM_CHECK(fm_match(e.detail, info.detail), "detail \"%s\", expected \"%s\"",
                     info.detail ? info.detail : "(null)", e.detail);
        else
            FM_CHECK(fm_value_is(t, s == S_ARG), "the value is not the task's own");
        snprintf(outcome, outcome_len, "%s", tu_st(st));
    } else {
        snprintf(outcome, outcome_len, e.has_task ? "refused" : "-");
    }

    /* ---- usable exactly when the policy says (R4) ---- */
    if (e.shut_down) {
        fut_status sub = fut_executor_submit(ex, fi_ok, NULL, 0, NULL, &probe);
        FM_CHECK(sub == FUT_ERR_SHUTDOWN || sub == FUT_ERR_BROKEN_POOL,
                 "a submit after shutdown answered %s", tu_st(sub));
        strncat(outcome, ", shut down", outcome_len - strlen(outcome) - 1);
        goto shutdown;
    }
    if (!e.usable) /* the break is logged before submits are refused (B4) */
        FM_CHECK(FM_POLL(tu_log_capture_last_contains(&pp_log, "process pool broken: ")),
                 "the pool did not break; last log: %s", pp_log.last);
    fut_status sub = fut_executor_submit(ex, fi_ok, NULL, 0, NULL, &probe);
    if (e.usable) {
        FM_CHECK(sub == FUT_OK, "the probe was refused: %s (%s)", tu_st(sub), pp_log.last);
        void *v = NULL;
        fut_status st = fut_future_result(probe, FM_BOUND_NS, &v, NULL);
        FM_CHECK(st == FUT_OK, "the probe ended %s, the pool should be usable (log: %s)",
                 tu_st(st), pp_log.last);
        FM_CHECK(fm_value_is(probe, 0), "the probe's value is wrong");
        strncat(outcome, ", usable", outcome_len - strlen(outcome) - 1);
    } else {
        FM_CHECK(sub == FUT_OK || sub == FUT_ERR_BROKEN_POOL, "the probe was refused with %s",
                 tu_st(sub));
        if (sub == FUT_OK) {
            void *v = NULL;
            fut_status st = fut_future_result(probe, FM_BOUND_NS, &v, NULL);
            FM_CHECK(st == FUT_ERR_BROKEN_POOL, "the probe ended %s, the pool should be broken",
                     tu_st(st));
            fut_error_info info;
            CHECK_ST(fut_future_exception(probe, 0, &info), FUT_OK);
            FM_CHECK(fm_match(e.cause, info.detail), "probe detail \"%s\", expected \"%s\"",
                     info.detail ? info.detail : "(null)", e.cause);
        }
        char logged[300];
        pthread_mutex_lock(&pp_log.m);
        snprintf(logged, sizeof logged, "%s", pp_log.last);
        pthread_mutex_unlock(&pp_log.m);
        const char *prefix = "process pool broken: ";
        FM_CHECK(strncmp(logged, prefix, strlen(prefix)) == 0 &&
                     fm_match(e.cause, logged + strlen(prefix)),
                 "logged \"%s\", expected \"%s%s\"", logged, prefix, e.cause);
        strncat(outcome, ", broken", outcome_len - strlen(outcome) - 1);
    }

    /* ---- shutdown returns; nothing is left behind (R6) ---- */
shutdown:;
    int64_t t0 = tu_now_ns();
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
    FM_CHECK(tu_now_ns() - t0 < FM_BOUND_NS, "shutdown took %.1f s",
             (double)(tu_now_ns() - t0) / 1e9);
    fut_executor_release(ex);
    ex = NULL;
    fut_future_release(t);
    fut_future_release(probe);
    t = probe = NULL;
    if (s == S_SERVER && m->method == FUT_START_FORKSERVER) {
        /* The worker outlived its killed server for a moment: reparented to us
         * (a subreaper); it dies of its parent-death signal or its pipe's end. */
        int st;
        FM_CHECK(FM_POLL(waitpid(w, &st, WNOHANG) != 0), "the orphaned worker %d lives on", (int)w);
    }
    pp_pipes_drain();
    {
        pid_t kids[8];
        int n = fm_children(kids, 8);
        FM_CHECK(n == 0, "%d child process(es) left, first %d (state %c)", n, n ? (int)kids[0] : 0,
                 n ? fm_state(kids[0]) : '-');
        int st;
        errno = 0;
        FM_CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD, "a zombie child is left");
        int fds = pp_fd_count(), threads = threads_after_join(base.threads);
        FM_CHECK(fds == base.fds, "descriptors %d -> %d", base.fds, fds);
        FM_CHECK(threads == base.threads, "threads %d -> %d", base.threads, threads);
    }
    ok = 1;
out:
    if (!ok) {
        fm_kill_children();
        if (ex) fut_executor_release(ex);
        fut_future_release(t);
        fut_future_release(probe);
        fm_kill_children();
        pp_pipes_drain();
    }
    return ok;
}

/* ---- the matrix ------------------------------------------------------------------------------------ */

static const char *fm_current_case = "";
static void fm_watchdog(int sig) {
    (void)sig;
    tu_write_str("\nFAIL ");
    tu_write_str(fm_current_case);
    tu_write_str(": watchdog: the case did not finish in 60 s (hang)\n");
    _exit(1);
}

int main(int argc, char **argv) {
    /* A spawned worker is this program (N9): everything the matrix runs in a
     * worker is registered first, then a worker never returns from here. */
    CHECK_OK(fut_register_initializer("fi_init", fi_init));
    CHECK_OK(fut_register_task("fi_ok", fi_ok));
    CHECK_OK(fut_register_task("fi_len", fi_len));
    CHECK_OK(fut_register_task("fi_task_commits", fi_task_commits));
    CHECK_OK(fut_register_task("fi_task_bad_dtor", fi_task_bad_dtor));
    CHECK_OK(fut_register_task("fi_task_poisoned_value", fi_task_poisoned_value));
    CHECK_OK(fut_register_task("pp_getpid", pp_getpid));
    CHECK_OK(fut_register_task("pp_block_echo", pp_block_echo));
    CHECK_OK(fut_worker_entry(argc, argv));
    setenv("RUST_BACKTRACE", "0", 1); /* the injected panic prints one line */
    /* A process group of our own, led by us: while we live it is not orphaned,
     * so the kernel never sends SIGHUP and SIGCONT to the workers the matrix
     * stops (it does when an exit orphans a group with stopped members, which
     * happened when run from a shell without job control). */
    if (setpgid(0, 0) != 0) perror("setpgid");
    pp_become_subreaper();
    pp_pipes_init();
    fut_set_log_hook(tu_log_capture_fn, &pp_log);
    signal(SIGALRM, fm_watchdog);
    const char *only = getenv("FUT_FM_ONLY");
    int passed = 0, failed = 0, skipped = 0;
    int64_t start = tu_now_ns();
    for (size_t mi = 0; mi < FM_NMETHODS; mi++) {
        const fm_method *m = &FM_METHODS[mi];
        for (int pi = 0; pi < 2; pi++) {
            fut_crash_policy p = FM_POLICIES[pi];
            for (int s = 0; s < S_NSTAGES; s++) {
                for (int k = 0; k < FI_NKINDS; k++) {
                    static char name[200];
                    snprintf(name, sizeof name, "%s x %s [%s, %s]", fm_stage_names[s],
                             fi_kind_names[k], m->name, policy_name(p));
                    if (only && !strstr(name, only)) continue;
                    const char *skip = fm_skip((fm_stage)s, (fi_kind)k, m, p);
                    if (skip) {
                        if (k != FI_PANIC && s != S_MANAGER) printf("skip %s: %s\n", name, skip);
                        skipped++;
                        continue;
                    }
                    fm_current_case = name;
                    alarm(60);
                    char outcome[128];
                    int64_t t0 = tu_now_ns();
                    int ok = fm_run((fm_stage)s, (fi_kind)k, m, p, outcome, sizeof outcome);
                    alarm(0);
                    double ms = (double)(tu_now_ns() - t0) / 1e6;
                    if (ok) {
                        passed++;
                        printf("ok   %s: %s (%.0f ms)\n", name, outcome, ms);
                    } else {
                        failed++;
                        printf("FAIL %s: %s\n", name, fm_why);
                    }
                    fflush(stdout);
                }
            }
        }
    }
    fut_set_log_hook(NULL, NULL);
    printf("# %d cells skipped by the rule; %.1f s\n", skipped, (double)(tu_now_ns() - start) / 1e9);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
