/* libfutures_mpi, rank 0: an executor whose tasks run on the other MPI
 * ranks (M1-M11), built on the public C API only: fut_executor_new_custom
 * gives the pool an ordinary fut_executor handle, and the futures are
 * promises completed here by the progress thread, the only thread that calls
 * MPI on this rank (M5). The messages are in protocol.h. */
#define _GNU_SOURCE
#include "futures_mpi.h"
#include "protocol.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct task {
    uint64_t id;
    const char *name; /* the unit's */
    const void *arg;
    size_t arg_len;
    fut_drop_fn arg_drop;
    fut_future *future; /* our reference; NULL once given back */
};

struct unit {
    struct unit *next;
    char *name; /* of every task of the unit: one call, one function */
    size_t n;
    struct task *tasks;
    /* Set when sent: the packed message and the requests of its sends. */
    char *msg;
    MPI_Request *reqs;
    int nreqs;
    int args_dropped;
};

struct rank_state {
    struct unit *head, *tail; /* in flight, oldest first */
    size_t inflight;
};

struct pool {
    MPI_Comm comm;
    int size;
    fut_mpi_pool_options opts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct unit *qhead, *qtail; /* accepted, not yet sent */
    uint64_t next_id;
    int stopping;
    pthread_t thread;
    pthread_mutex_t join_mu;
    int joined;
    int free_on_exit;
    struct rank_state *ranks;
    size_t inflight;
};

/* ---- units ---------------------------------------------------------- */

static void drop_args(struct unit *u) {
    if (u->args_dropped) return;
    u->args_dropped = 1;
    for (size_t i = 0; i < u->n; i++)
        if (u->tasks[i].arg_drop) u->tasks[i].arg_drop((void *)u->tasks[i].arg);
}

static void free_unit(struct unit *u) {
    drop_args(u);
    for (size_t i = 0; i < u->n; i++)
        if (u->tasks[i].future) fut_future_release(u->tasks[i].future);
    free(u->name);
    free(u->tasks);
    free(u->msg);
    free(u->reqs);
    free(u);
}

/* Cancels a unit that was never sent (its futures are still PENDING). */
static void cancel_unit(struct unit *u) {
    for (size_t i = 0; i < u->n; i++) fut_future_cancel(u->tasks[i].future);
    free_unit(u);
}

/* ---- the executor side (any thread) -------------------------------- */

/* Frees units that were never accepted (futures and arguments not ours). */
static void free_unaccepted(struct unit *u) {
    for (struct unit *nx; u; u = nx) {
        nx = u->next;
        free(u->name);
        free(u->tasks);
        free(u);
    }
}

static fut_status pool_submit(void *user, const fut_custom_task *tasks, size_t n, size_t chunksize) {
    struct pool *p = user;
    for (size_t i = 0; i < n; i++) {
        if (!tasks[i].name) return FUT_ERR_NOT_REGISTERED; /* M2 */
        if (tasks[i].arg_len > INT_MAX) return FUT_ERR_INVALID_ARGUMENT;
        if (strcmp(tasks[i].name, tasks[0].name) != 0) chunksize = 1; /* a unit has one name */
    }
    if (chunksize == 0) chunksize = 1;
    struct unit *first = NULL, *last = NULL;
    for (size_t at = 0; at < n; at += chunksize) {
        size_t k = n - at < chunksize ? n - at : chunksize;
        struct unit *u = calloc(1, sizeof *u);
        if (u) {
            u->tasks = calloc(k, sizeof *u->tasks);
            u->name = strdup(tasks[at].name);
        }
        if (!u || !u->tasks || !u->name) {
            free_unaccepted(u);
            free_unaccepted(first);
            return FUT_ERR_NO_MEMORY;
        }
        u->n = k;
        if (last) last->next = u;
        else first = u;
        last = u;
    }
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        free_unaccepted(first);
        return FUT_ERR_SHUTDOWN;
    }
    /* Accepted: from here the futures and arguments are ours. */
    size_t i = 0;
    for (struct unit *u = first; u; u = u->next)
        for (size_t j = 0; j < u->n; j++, i++) {
            struct task *t = &u->tasks[j];
            t->id = p->next_id++;
            t->name = u->name;
            t->arg = tasks[i].arg;
            t->arg_len = tasks[i].arg_len;
            t->arg_drop = tasks[i].arg_drop;
            t->future = tasks[i].future;
        }
    if (p->qtail) p->qtail->next = first;
    else p->qhead = first;
    p->qtail = last;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return FUT_OK;
}

static fut_status pool_shutdown(void *user, bool wait, bool cancel_futures) {
    struct pool *p = user;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    struct unit *queued = NULL;
    if (cancel_futures) {
        queued = p->qhead;
        p->qhead = p->qtail = NULL;
    }
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (struct unit *u = queued, *nx; u; u = nx) {
        nx = u->next;
        cancel_unit(u); /* M9: queued work is cancelled, sent work runs */
    }
    if (!wait) return FUT_OK;
    if (pthread_equal(pthread_self(), p->thread)) return FUT_ERR_WOULD_DEADLOCK;
    pthread_mutex_lock(&p->join_mu);
    if (!p->joined) {
        pthread_join(p->thread, NULL);
        p->joined = 1;
    }
    pthread_mutex_unlock(&p->join_mu);
    return FUT_OK;
}

static void pool_free(struct pool *p) {
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->join_mu);
    free(p->ranks);
    free(p);
}

static void pool_destroy(void *user) {
    struct pool *p = user;
    if (pthread_equal(pthread_self(), p->thread)) {
        /* Released from one of its own callbacks: the thread frees it. */
        pthread_detach(p->thread);
        p->free_on_exit = 1;
        return;
    }
    pool_shutdown(p, true, false);
    pool_free(p);
}

/* ---- the progress thread (the only one calling MPI on rank 0) -------- */


/* Marks the unit's futures RUNNING (dropping cancelled ones), packs and
 * sends it to `rank`. Returns 0 if nothing was sent (the caller frees it). */
static int send_unit(struct pool *p, struct unit *u, int rank) {
    size_t keep = 0, bytes = 4;
    for (size_t i = 0; i < u->n; i++) {
        struct task *t = &u->tasks[i];
        if (!fut_future_set_running_or_notify_cancel(t->future)) {
            if (t->arg_drop) t->arg_drop((void *)t->arg);
            fut_future_release(t->future);
            continue;
        }
        u->tasks[keep++] = *t;
    }
    u->n = keep;
    if (keep == 0) return 0;
    int nreqs = 1;
    for (size_t i = 0; i < u->n; i++) {
        struct task *t = &u->tasks[i];
        int inl = t->arg_len <= p->opts.inline_max;
        bytes += 24 + strlen(t->name) + (inl ? t->arg_len : 0);
        nreqs += !inl && t->arg_len > 0;
    }
    u->msg = malloc(bytes);
    u->reqs = malloc(sizeof *u->reqs * (size_t)nreqs);
    if (!u->msg || !u->reqs || bytes > INT_MAX) {
        for (size_t i = 0; i < u->n; i++)
            fut_future_set_exception(u->tasks[i].future, FUT_ERR_NO_MEMORY, "libfutures_mpi: no memory to send the task");
        return 0; /* the caller frees it */
    }
    char *at = u->msg;
    uint32_t n32 = (uint32_t)u->n;
    put(&at, &n32, 4);
    for (size_t i = 0; i < u->n; i++) {
        struct task *t = &u->tasks[i];
        uint32_t name_len = (uint32_t)strlen(t->name), inl = t->arg_len <= p->opts.inline_max;
        uint64_t arg_len = t->arg_len;
        put(&at, &t->id, 8);
        put(&at, &name_len, 4);
        put(&at, &inl, 4);
        put(&at, &arg_len, 8);
        put(&at, t->name, name_len);
        if (inl && t->arg_len) put(&at, t->arg, t->arg_len);
    }
    MPI_Isend(u->msg, (int)bytes, MPI_BYTE, rank, TAG_TASK, p->comm, &u->reqs[0]);
    u->nreqs = 1;
    for (size_t i = 0; i < u->n; i++) {
        struct task *t = &u->tasks[i];
        if (t->arg_len > p->opts.inline_max)
            MPI_Isend(t->arg, (int)t->arg_len, MPI_BYTE, rank, TAG_ARG, p->comm, &u->reqs[u->nreqs++]);
    }
    struct rank_state *r = &p->ranks[rank];
    if (r->tail) r->tail->next = u;
    else r->head = u;
    r->tail = u;
    u->next = NULL;
    r->inflight++;
    p->inflight++;
    return 1;
}

/* The rank with the fewest units in flight, if one has room. */
static int free_rank(struct pool *p) {
    int best = -1;
    for (int r = 1; r < p->size; r++)
        if (p->ranks[r].inflight < p->opts.pipeline && (best < 0 || p->ranks[r].inflight < p->ranks[best].inflight))
            best = r;
    return best;
}

static void complete(struct task *t, const char *at, int32_t status, int32_t code, uint32_t msg_len, uint64_t vlen) {
    if (status == FUT_OK) {
        void *v = NULL;
        if (vlen) {
            v = malloc(vlen);
            if (!v) {
                fut_future_set_exception(t->future, FUT_ERR_NO_MEMORY, "libfutures_mpi: no memory for the value");
                return;
            }
            memcpy(v, at + msg_len, vlen);
        }
        if (fut_future_set_result(t->future, v, vlen, v ? free : NULL) != FUT_OK) free(v);
    } else {
        char *msg = strndup(at, msg_len);
        fut_future_set_exception(t->future, code, msg ? msg : "libfutures_mpi: task failed");
        free(msg);
    }
}

static void take_result(struct pool *p, MPI_Status *st) {
    int count = 0;
    MPI_Get_count(st, MPI_BYTE, &count);
    char *buf = malloc(count > 0 ? (size_t)count : 1);
    if (!buf) abort(); /* cannot leave the message unreceived */
    MPI_Recv(buf, count, MPI_BYTE, st->MPI_SOURCE, TAG_RESULT, p->comm, MPI_STATUS_IGNORE);
    struct rank_state *r = &p->ranks[st->MPI_SOURCE];
    struct unit *u = r->head;
    r->head = u->next;
    if (!r->head) r->tail = NULL;
    r->inflight--;
    p->inflight--;
    /* The worker answered, so it received everything: the sends are done. */
    MPI_Waitall(u->nreqs, u->reqs, MPI_STATUSES_IGNORE);
    drop_args(u);
    const char *at = buf + 4;
    for (size_t i = 0; i < u->n; i++) {
        uint64_t id, vlen;
        int32_t status, code;
        uint32_t msg_len;
        memcpy(&id, at, 8);
        memcpy(&status, at + 8, 4);
        memcpy(&code, at + 12, 4);
        memcpy(&msg_len, at + 16, 4);
        memcpy(&vlen, at + 20, 8);
        at += 28;
        if (status == RESULT_VALUE_FOLLOWS) {
            void *v = malloc(vlen);
            if (!v) abort(); /* cannot leave the message unreceived */
            MPI_Recv(v, (int)vlen, MPI_BYTE, st->MPI_SOURCE, TAG_VALUE, p->comm, MPI_STATUS_IGNORE);
            if (fut_future_set_result(u->tasks[i].future, v, vlen, free) != FUT_OK) free(v);
            at += msg_len;
            continue;
        }
        if (id != u->tasks[i].id)
            fut_future_set_exception(u->tasks[i].future, FUT_ERR_INTERNAL, "libfutures_mpi: result out of order");
        else
            complete(&u->tasks[i], at, status, code, msg_len, vlen);
        at += msg_len + vlen;
    }
    free(buf);
    free_unit(u); /* releases our references (callbacks ran on completion) */
}

static void stop_workers(MPI_Comm comm, int size) {
    for (int r = 1; r < size; r++) MPI_Send(NULL, 0, MPI_BYTE, r, TAG_STOP, comm);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits a little before the next probe: yields for the first 1 ms after the
 * last message (short tasks: no sleep between results), then sleeps 50 us,
 * backing off to 1 ms (long tasks: the host spins no core the workers need). */
static void idle_wait(int64_t since_ns) {
    int64_t idle = now_ns() - since_ns;
    if (idle < 1000000) {
        sched_yield();
        return;
    }
    int64_t ns = idle / 20;
    if (ns < 50000) ns = 50000;
    if (ns > 1000000) ns = 1000000;
    struct timespec ts = {0, (long)ns};
    nanosleep(&ts, NULL);
}

static void *progress(void *arg) {
    struct pool *p = arg;
    int64_t last = now_ns();
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int rank;
        while (p->qhead && (rank = free_rank(p)) >= 0) {
            struct unit *u = p->qhead;
            p->qhead = u->next;
            if (!p->qhead) p->qtail = NULL;
            pthread_mutex_unlock(&p->mu);
            if (!send_unit(p, u, rank)) free_unit(u);
            pthread_mutex_lock(&p->mu);
        }
        if (p->inflight == 0) {
            if (p->stopping && !p->qhead) break;
            if (!p->qhead) {
                pthread_cond_wait(&p->cv, &p->mu);
                last = now_ns();
                continue;
            }
        }
        pthread_mutex_unlock(&p->mu);
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, p->comm, &flag, &st);
        if (flag) {
            take_result(p, &st);
            last = now_ns();
        } else {
            idle_wait(last);
        }
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    stop_workers(p->comm, p->size);
    MPI_Comm_free(&p->comm);
    if (p->free_on_exit) pool_free(p);
    return NULL;
}

/* ---- public entry points ------------------------------------------- */

fut_status fut_mpi_pool_options_init(fut_mpi_pool_options *opts) {
    if (!opts) return FUT_ERR_INVALID_ARGUMENT;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->pipeline = 2;
    opts->inline_max = 16384;
    return FUT_OK;
}

static const fut_custom_executor_vtable VTABLE = {pool_submit, pool_shutdown, pool_destroy};

fut_status fut_mpi_pool_new(MPI_Comm comm, const fut_mpi_pool_options *opts, fut_executor **out) {
    if (!out || comm == MPI_COMM_NULL) return FUT_ERR_INVALID_ARGUMENT;
    fut_mpi_pool_options o;
    fut_mpi_pool_options_init(&o);
    if (opts) {
        if (opts->struct_size != sizeof *opts || opts->pipeline == 0) return FUT_ERR_INVALID_ARGUMENT;
        o = *opts;
    }
    int rank, size, level;
    MPI_Comm_rank(comm, &rank);
    if (rank != 0) return FUT_ERR_INVALID_ARGUMENT;
    MPI_Comm dup;
    MPI_Comm_dup(comm, &dup); /* collective with fut_mpi_serve */
    MPI_Comm_size(dup, &size);
    MPI_Query_thread(&level);
    struct pool *p = size >= 2 && level >= MPI_THREAD_SERIALIZED ? calloc(1, sizeof *p) : NULL;
    if (p) p->ranks = calloc((size_t)size, sizeof *p->ranks);
    if (!p || !p->ranks) {
        fut_status st = p ? FUT_ERR_NO_MEMORY : size < 2 || level < MPI_THREAD_SERIALIZED ? FUT_ERR_INVALID_ARGUMENT : FUT_ERR_NO_MEMORY;
        free(p);
        stop_workers(dup, size); /* the workers' serve returns */
        MPI_Comm_free(&dup);
        return st;
    }
    p->comm = dup;
    p->size = size;
    p->opts = o;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_mutex_init(&p->join_mu, NULL);
    if (pthread_create(&p->thread, NULL, progress, p) != 0) {
        stop_workers(dup, size);
        MPI_Comm_free(&p->comm);
        pool_free(p);
        return FUT_ERR_NO_MEMORY;
    }
    fut_status st = fut_executor_new_custom(&VTABLE, p, out);
    if (st != FUT_OK) {
        pool_shutdown(p, true, true);
        pool_free(p);
    }
    return st;
}
