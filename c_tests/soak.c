/* The soak (R10): random SIGKILLs to random workers of a process pool under a
 * load of mixed tasks, for both crash policies and the three start methods
 * (fork, fork server, spawn: soak_task is registered by name, N3), for
 * FUT_SOAK_SECONDS (20 by default) in all. Seeded (FUT_TEST_SEED repeats a
 * run; the seed is printed).
 *
 * Tasks go in batches of 24 submits (echo, a sum, a short sleep, a 64 KiB
 * echo, a failure with code 7; each result starts with the worker's pid),
 * every other batch followed by a map of 8 such items in chunks of 3 (a kill
 * inside a chunk fails at most its running item, E14/R5); while a
 * batch runs, 0 to 2 workers seen in earlier results are killed (only if
 * still a descendant of this process). Every future must end within 30 s
 * (a hang fails) with an outcome its policy allows: its own value or failure,
 * FUT_ERR_WORKER_DIED (FUT_CRASH_FAIL_TASK) or FUT_ERR_BROKEN_POOL
 * (FUT_CRASH_BREAK_POOL; the pool is then replaced by a new one). No future
 * may be lost, and every pool must leave no process, fd or thread behind.
 * Prints the counts. */
#define _GNU_SOURCE
#include "process_pool_common.h"

#define BATCH 24
#define MAP_ITEMS 8
#define MAP_CHUNK 3
#define BIG (64 * 1024)
#define BOUND_NS (30 * TU_SEC)

enum { T_ECHO, T_SUM, T_SLEEP, T_BIG, T_FAIL, T_NKINDS };

typedef struct soak_arg {
    uint32_t kind;
    uint32_t n;
    uint64_t x;
} soak_arg;

/* Result: the worker's pid (int32), then the payload. */
static int32_t soak_task(fut_task *t, const void *arg, size_t len) {
    if (len < sizeof(soak_arg)) return 22;
    soak_arg a;
    memcpy(&a, arg, sizeof a);
    size_t payload = a.kind == T_BIG ? len : sizeof(uint64_t);
    unsigned char *out = (unsigned char *)malloc(4 + payload);
    if (!out) return 12;
    int32_t pid = (int32_t)getpid();
    memcpy(out, &pid, 4);
    uint64_t v = a.x;
    switch (a.kind) {
    case T_SUM:
        for (uint32_t i = 0; i < a.n; i++) v += i;
        break;
    case T_SLEEP: {
        struct timespec ts = {0, (long)a.n * 1000000L};
        nanosleep(&ts, NULL);
        break;
    }
    case T_BIG:
        memcpy(out + 4, arg, len);
        break;
    case T_FAIL:
        free(out);
        return 7;
    default:
        break;
    }
    if (a.kind != T_BIG) memcpy(out + 4, &v, sizeof v);
    return fut_task_set_result(t, out, 4 + payload, free);
}

static uint64_t expected_value(const soak_arg *a) {
    uint64_t v = a->x;
    if (a->kind == T_SUM)
        for (uint32_t i = 0; i < a->n; i++) v += i;
    return v;
}

/* ---- killing workers -------------------------------------------------------------------- */

static pid_t seen[64];
static int nseen;

static void remember(pid_t pid) {
    for (int i = 0; i < nseen; i++)
        if (seen[i] == pid) return;
    if (nseen < 64) seen[nseen++] = pid;
    else seen[pid % 64] = pid;
}

static pid_t parent_of(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int ppid = -1;
    char state;
    if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2 || state == 'Z') return -1;
    return ppid;
}

/* Kills a random worker seen in results, if it is still our descendant
 * (our child, or a child of our child the fork server; spawned workers are
 * our children). */
static int kill_random_worker(tu_rng *rng) {
    if (nseen == 0) return 0;
    pid_t pid = seen[tu_rand_below(rng, (size_t)nseen)];
    pid_t pp = parent_of(pid);
    if (pp <= 0 || (pp != getpid() && parent_of(pp) != getpid())) return 0;
    return kill(pid, SIGKILL) == 0;
}

/* ---- one pool's life -------------------------------------------------------------------------- */

typedef struct counts {
    long tasks, ok, failed, worker_died, broken, kills, pools, lost;
} counts;

static unsigned char big_arg[BIG];

/* Runs batches on one pool until `until` or until it breaks; returns 0 on a
 * violated promise (printed). */
static int one_pool(fut_start_method m, fut_crash_policy p, int64_t until, tu_rng *rng,
                    counts *c) {
    pp_baseline base = pp_take_baseline();
    fut_executor *ex = pp_pool(3, m, p);
    c->pools++;
    nseen = 0;
    int broken = 0, ok = 1;
    while (!broken && tu_now_ns() < until) {
        fut_future *fs[BATCH + MAP_ITEMS];
        soak_arg args[BATCH + MAP_ITEMS];
        int n = 0;
        for (int i = 0; i < BATCH + MAP_ITEMS; i++) {
            soak_arg *a = &args[i];
            a->kind = (uint32_t)tu_rand_below(rng, T_NKINDS);
            if (i >= BATCH && a->kind == T_BIG) a->kind = T_ECHO; /* map items are small */
            a->n = a->kind == T_SLEEP ? (uint32_t)(1 + tu_rand_below(rng, 4))
                                      : (uint32_t)tu_rand_below(rng, 100000);
            a->x = tu_rand(rng);
        }
        for (; n < BATCH; n++) {
            soak_arg *a = &args[n];
            const void *arg = a;
            size_t len = sizeof *a;
            if (a->kind == T_BIG) {
                memcpy(big_arg, a, sizeof *a);
                arg = big_arg;
                len = BIG;
            }
            fut_status st = fut_executor_submit(ex, soak_task, arg, len, NULL, &fs[n]);
            if (st == FUT_ERR_BROKEN_POOL && p == FUT_CRASH_BREAK_POOL) {
                broken = 1;
                break;
            }
            CHECK_ST(st, FUT_OK);
            c->tasks++;
        }
        fut_map *map = NULL;
        if (!broken && tu_rand_below(rng, 2) == 0) {
            fut_item items[MAP_ITEMS];
            for (int i = 0; i < MAP_ITEMS; i++) {
                items[i].arg = &args[BATCH + i];
                items[i].arg_len = sizeof(soak_arg);
            }
            fut_status st =
                fut_executor_map(ex, soak_task, items, MAP_ITEMS, BOUND_NS, MAP_CHUNK, &map);
            if (st == FUT_ERR_BROKEN_POOL && p == FUT_CRASH_BREAK_POOL) broken = 1;
            else CHECK_ST(st, FUT_OK);
        }
        int kills = (int)tu_rand_below(rng, 3);
        for (int k = 0; k < kills; k++) {
            struct timespec ts = {0, (long)tu_rand_below(rng, 3000) * 1000L};
            nanosleep(&ts, NULL); /* pacing the load, not synchronisation */
            c->kills += kill_random_worker(rng);
        }
        if (map) { /* in input order, each once done (E10), within the map's deadline */
            for (int i = 0; i < MAP_ITEMS; i++) {
                fut_status st = fut_map_next(map, &fs[n]);
                if (st != FUT_OK) {
                    printf("FAIL: map item %d: %s (lost)\n", i, tu_st(st));
                    c->lost += MAP_ITEMS - i;
                    ok = 0;
                    break;
                }
                args[n] = args[BATCH + i];
                n++;
                c->tasks++;
            }
            fut_map_release(map);
        }
        size_t done = 0;
        CHECK_ST(fut_wait(fs, (size_t)n, BOUND_NS, FUT_ALL_COMPLETED, NULL, &done), FUT_OK);
        if (done != (size_t)n) {
            printf("FAIL: %d of %d futures still pending after 30 s (hang)\n", n - (int)done, n);
            c->lost += n - (int)done;
            ok = 0;
        }
        for (int i = 0; i < n; i++) {
            void *v = NULL;
            size_t len = 0;
            fut_status st = fut_future_result(fs[i], 0, &v, &len);
            const soak_arg *a = &args[i];
            int good = 0;
            if (st == FUT_OK && len >= 4) {
                int32_t pid;
                memcpy(&pid, v, 4);
                remember((pid_t)pid);
                if (a->kind == T_BIG) {
                    good = len == 4 + BIG && memcmp((char *)v + 4, a, sizeof *a) == 0;
                } else {
                    uint64_t got;
                    memcpy(&got, (char *)v + 4, sizeof got);
                    good = len == 12 && got == expected_value(a) && a->kind != T_FAIL;
                }
                c->ok += good;
            } else if (st == FUT_ERR_TASK_FAILED) {
                fut_error_info e;
                good = fut_future_exception(fs[i], 0, &e) == FUT_OK && e.code == 7 &&
                       a->kind == T_FAIL;
                c->failed += good;
            } else if (st == FUT_ERR_WORKER_DIED) {
                good = p == FUT_CRASH_FAIL_TASK;
                c->worker_died += good;
            } else if (st == FUT_ERR_BROKEN_POOL) {
                good = p == FUT_CRASH_BREAK_POOL;
                c->broken += good;
                broken = 1;
            }
            if (!good && st != FUT_ERR_TIMEOUT) {
                printf("FAIL: task kind %u ended %s\n", a->kind, tu_st(st));
                ok = 0;
            }
            fut_future_release(fs[i]);
        }
        if (!ok) break;
    }
    int64_t t0 = tu_now_ns();
    CHECK_ST(fut_executor_shutdown(ex, true, false), FUT_OK);
    fut_executor_release(ex);
    CHECK_LT(tu_now_ns() - t0, BOUND_NS);
    pp_check_clean(base, "soak pool");
    return ok;
}

int main(int argc, char **argv) {
    /* A spawned worker is this program (N9): it registers, then never returns. */
    CHECK_OK(fut_register_task("soak_task", soak_task));
    CHECK_OK(fut_worker_entry(argc, argv));
    pp_become_subreaper();
    pp_pipes_init();
    fut_set_log_hook(tu_log_capture_fn, &pp_log);
    const char *secs_env = getenv("FUT_SOAK_SECONDS");
    double secs = secs_env && *secs_env ? atof(secs_env) : 20.0;
    const char *seed_env = getenv("FUT_TEST_SEED");
    tu_seed_value = seed_env && *seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)tu_now_ns();
    printf("# soak: %.0f s, seed %llu (FUT_TEST_SEED repeats it, FUT_SOAK_SECONDS sets the time)\n",
           secs, (unsigned long long)tu_seed_value);
    const fut_start_method methods[] = {FUT_START_FORK, FUT_START_FORKSERVER, FUT_START_SPAWN};
    const char *mnames[] = {"fork", "forkserver", "spawn"};
    const int nmethods = (int)(sizeof methods / sizeof methods[0]);
    const fut_crash_policy policies[] = {FUT_CRASH_BREAK_POOL, FUT_CRASH_FAIL_TASK};
    const char *pnames[] = {"BREAK_POOL", "FAIL_TASK"};
    int ok = 1;
    counts total;
    memset(&total, 0, sizeof total);
    int64_t slice = (int64_t)(secs * 1e9 / (nmethods * 2));
    for (int mi = 0; mi < nmethods; mi++) {
        for (int pi = 0; pi < 2; pi++) {
            tu_rng rng;
            tu_rng_init(&rng, (uint64_t)(mi * 2 + pi));
            counts c;
            memset(&c, 0, sizeof c);
            int64_t until = tu_now_ns() + slice;
            alarm((unsigned)(secs / (nmethods * 2)) + 120); /* watchdog: a hang fails the run */
            while (ok && tu_now_ns() < until) ok = one_pool(methods[mi], policies[pi], until, &rng, &c);
            alarm(0);
            printf("%s %-10s %-10s: %ld tasks, %ld ok, %ld failed as asked, %ld worker died, "
                   "%ld broken pool, %ld kills, %ld pools, %ld lost\n",
                   ok ? "ok  " : "FAIL", mnames[mi], pnames[pi], c.tasks, c.ok, c.failed,
                   c.worker_died, c.broken, c.kills, c.pools, c.lost);
            fflush(stdout);
            total.tasks += c.tasks;
            total.kills += c.kills;
            total.pools += c.pools;
            total.lost += c.lost;
            total.ok += c.ok;
        }
    }
    fut_set_log_hook(NULL, NULL);
    printf("# total: %.0f s, %ld tasks (%ld with their own value), %ld kills, %ld pools, %ld lost, "
           "%d hangs\n", secs, total.tasks, total.ok, total.kills, total.pools, total.lost,
           total.lost ? 1 : 0);
    printf("%d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
    return ok ? 0 : 1;
}
