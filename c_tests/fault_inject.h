/* Faults as a worker process commits them, for c_tests/fault_matrix.c.
 *
 * Everything here runs in a worker process of a pool (an initializer, a
 * task, a value's destructor, or a signal handler the initializer
 * installed), so it uses raw system calls only, and async-signal-safe ones
 * where it runs in a handler. The kind to commit travels in the initializer's
 * argument (fi_init_arg): a spawned worker (N10) inherits neither the test's
 * globals nor its pipes, so its initializer also reopens the test's pipes
 * (spawn_common.h) before it arms anything. */
#ifndef FAULT_INJECT_H
#define FAULT_INJECT_H

#include "spawn_common.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* The kinds of fault (the matrix's columns). */
typedef enum fi_kind {
    FI_SEGV,      /* SIGSEGV (a real one where the stage allows, else raise) */
    FI_ABORT,     /* abort() */
    FI_EXIT3,     /* _exit(3) */
    FI_SIGKILL,   /* SIGKILL sent by the test */
    FI_SIGSTOP,   /* SIGSTOP sent by the test (a stall: the time limit ends it) */
    FI_HANG,      /* never returns (the time limit ends it) */
    FI_CLOSEFDS,  /* closes every descriptor of the worker, then goes on */
    FI_GARBAGE,   /* publishes garbage in the worker's result ring, then goes on */
    FI_PANIC,     /* the pool manager's internal error (test-only injection) */
    FI_NKINDS
} fi_kind;

static const char *const fi_kind_names[FI_NKINDS] = {
    "SIGSEGV", "abort()", "_exit(3)", "SIGKILL", "SIGSTOP", "hang", "close fds", "garbage", "panic"};

/* The kind to commit: set by the test before each pool is created, and by
 * fi_init in every worker (from its argument). */
static volatile fi_kind fi_current = FI_SEGV;

/* The initializer's argument (bytes: it crosses to spawned workers too). */
typedef struct fi_init_arg {
    int32_t commit;  /* 1: the initializer stage (it commits the fault itself) */
    int32_t kind;    /* an fi_kind */
    int32_t spawned; /* 1: a spawn pool, whose workers adopt `host`'s pipes */
    spawn_host host;
} fi_init_arg;

/* ---- garbage in the result ring -------------------------------------------------------- */

/* The layout of a result ring (src/process_pool/ring.rs): a 4 KiB header page
 * whose first word is `head` (bytes published), then 1 MiB of data. A worker
 * maps exactly one: the memfd "libfutures-results" (fork-server and spawned
 * workers) or the shared anonymous mapping inherited from the manager
 * (workers forked directly; the matrix uses one worker, so the mapping holds
 * one ring). */
#define FI_RING_HEADER 4096u
#define FI_RING_DATA (1u << 20)

/* Parses one hex number; advances *p. */
static unsigned long fi_hex(const char **p) {
    unsigned long v = 0;
    for (;; (*p)++) {
        char c = **p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return v;
        v = v * 16 + (unsigned long)d;
    }
}

/* The base of this worker's result ring, or NULL. Reads /proc/self/maps with
 * read(2) into a static buffer (async-signal-safe). */
static unsigned char *fi_find_ring(void) {
    static char buf[1 << 16];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
    close(fd);
    buf[n] = '\0';
    for (char *line = buf; *line;) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        const char *p = line;
        unsigned long lo = fi_hex(&p);
        p++;
        unsigned long hi = fi_hex(&p);
        const char *perms = p + 1;
        int shared = perms[3] == 's';
        int memfd = strstr(line, "libfutures-results") != NULL;
        int anon = strstr(line, "/dev/zero") != NULL || strstr(line, "anon_shmem") != NULL;
        if (shared && hi - lo == FI_RING_HEADER + FI_RING_DATA && (memfd || anon))
            return (unsigned char *)lo;
        if (!end) break;
        line = end + 1;
    }
    return NULL;
}

/* A writable pipe of the worker other than the test's own: its result pipe,
 * which carries the manager's wake-up tokens. -1 if none. */
static int fi_find_result_pipe(void) {
    for (int fd = 3; fd < 1024; fd++) {
        if (fd == pp_gate[1] || fd == pp_report[1]) continue;
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) continue;
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && (fl & O_ACCMODE) == O_WRONLY) return fd;
    }
    return -1;
}

/* Publishes 64 bytes of 0xA5 in the ring and wakes the manager: its decoder
 * reads a header whose length is absurd ("frame too large"). */
static void fi_publish_garbage(void) {
    unsigned char *ring = fi_find_ring();
    if (!ring) _exit(97); /* the test would see "exit status 97" */
    uint64_t head = __atomic_load_n((uint64_t *)ring, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; i < 64; i++) ring[FI_RING_HEADER + (head + i) % FI_RING_DATA] = 0xA5;
    __atomic_store_n((uint64_t *)ring, head + 64, __ATOMIC_SEQ_CST);
    int tok = fi_find_result_pipe();
    if (tok >= 0 && write(tok, "g", 1) < 0) {
        /* the manager may be gone already: nothing to wake */
    }
}

/* ---- committing a fault -------------------------------------------------------------------- */

static void fi_close_all_fds(void) {
    struct rlimit rl;
    int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
    for (int fd = 0; fd < max; fd++) close(fd);
}

/* Blocks forever (until the test or the pool kills the process). */
static void fi_block(void) {
    for (;;) pause();
}

/* Commits `k` here; returns only for the kinds that go on (close fds,
 * garbage). SIGKILL and SIGSTOP report the pid and block: the test sends the
 * signal. */
static void fi_commit(fi_kind k) {
    switch (k) {
    case FI_SEGV:
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
        _exit(98);
    case FI_ABORT:
        signal(SIGABRT, SIG_DFL);
        abort();
    case FI_EXIT3:
        _exit(3);
    case FI_SIGKILL:
    case FI_SIGSTOP:
        pp_report_self();
        fi_block();
        break;
    case FI_HANG:
        fi_block();
        break;
    case FI_CLOSEFDS:
        fi_close_all_fds();
        return;
    case FI_GARBAGE:
        fi_publish_garbage();
        return;
    default:
        _exit(96);
    }
}

/* SIGUSR1 (sent by the test) commits the current kind where the worker is:
 * idle between tasks, or stopped in the middle of receiving a call. */
static void fi_on_usr1(int sig) {
    (void)sig;
    pp_report_self(); /* "the fault is under way" (read where the test needs it) */
    fi_commit(fi_current);
}

static void fi_install_usr1(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fi_on_usr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

/* SIGSEGV while the worker copies a result out of a poisoned value: commits
 * the current kind there (for FI_SEGV no handler is installed at all). */
static void fi_on_segv(int sig) {
    (void)sig;
    fi_commit(fi_current);
    _exit(95); /* the kinds that go on are not used in this stage */
}

/* ---- task functions -------------------------------------------------------------------------- */

/* Initializer of every pool of the matrix (arg: an fi_init_arg): takes the
 * kind (and, spawned, the test's pipes), arms SIGUSR1; in the initializer
 * stage reports its pid, then commits the fault itself. */
static int32_t fi_init(const void *arg, size_t len) {
    fi_init_arg a;
    if (len != sizeof a) return 89;
    memcpy(&a, arg, sizeof a);
    fi_current = (fi_kind)a.kind;
    if (a.spawned) {
        int32_t r = spawn_adopt_fds(&a.host, sizeof a.host);
        if (r != 0) return r;
    }
    fi_install_usr1();
    if (a.commit) {
        pp_report_self();
        if (fi_current == FI_SIGKILL || fi_current == FI_SIGSTOP) fi_block();
        fi_commit(fi_current);
    }
    return 0;
}

/* Result = "ok". */
static int32_t fi_ok(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    return fut_task_set_result(t, (void *)"ok", 3, NULL);
}

/* Result = the argument's length (uint64), after reading all of it. */
static int32_t fi_len(fut_task *t, const void *arg, size_t len) {
    uint64_t *v = (uint64_t *)malloc(sizeof *v);
    if (!v) return 12;
    *v = 0;
    for (size_t i = 0; i < len; i++) *v += ((const unsigned char *)arg)[i] != 0;
    return fut_task_set_result(t, v, sizeof *v, free);
}

/* The task commits the fault while running; the kinds that go on return "ok". */
static int32_t fi_task_commits(fut_task *t, const void *arg, size_t len) {
    fi_commit(fi_current);
    return fi_ok(t, arg, len);
}

/* The value's destructor commits the fault: it runs in the worker after the
 * value's bytes were published (the result is set and sent). */
static void fi_dtor_commits(void *p) {
    (void)p;
    fi_commit(fi_current);
}

static int32_t fi_task_bad_dtor(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    static char value[3] = "ok";
    return fut_task_set_result(t, value, 3, fi_dtor_commits);
}

/* A 3 MiB value whose last MiB is unreadable: the worker publishes the first
 * MiB (a ring's worth), then faults while copying (a real SIGSEGV, turned into
 * the current kind by a handler). */
#define FI_XFER_BYTES (3u << 20)
static int32_t fi_task_poisoned_value(fut_task *t, const void *arg, size_t len) {
    (void)arg;
    (void)len;
    unsigned char *p = (unsigned char *)mmap(NULL, FI_XFER_BYTES, PROT_READ | PROT_WRITE,
                                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 12;
    memset(p, 'x', FI_XFER_BYTES - (1u << 20));
    if (mprotect(p + FI_XFER_BYTES - (1u << 20), 1u << 20, PROT_NONE) != 0) return 13;
    if (fi_current != FI_SEGV) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = fi_on_segv;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
    }
    return fut_task_set_result(t, p, FI_XFER_BYTES, NULL);
}

#endif
