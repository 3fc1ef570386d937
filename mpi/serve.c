/* libfutures_mpi, worker ranks: fut_mpi_serve runs the tasks rank 0's pool
 * sends, by name, on the calling thread (fut_task_run_named, M12), and
 * answers each unit in order (protocol.h). */
#define _GNU_SOURCE
#include "futures_mpi.h"
#include "protocol.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends a result record; the value's bytes only when `val` is given
 * (RESULT_VALUE_FOLLOWS records carry its length alone). */
static void put_result(char **buf, size_t *len, size_t *cap, uint64_t id, int32_t status, int32_t code,
                       const char *msg, const void *val, uint64_t vlen) {
    uint32_t msg_len = msg ? (uint32_t)strlen(msg) : 0;
    size_t need = *len + 28 + msg_len + (val ? vlen : 0);
    if (need > *cap) {
        size_t c = *cap * 2 > need ? *cap * 2 : need;
        char *nb = realloc(*buf, c);
        if (!nb) abort(); /* the host waits for this answer: fail loudly */
        *buf = nb;
        *cap = c;
    }
    char *at = *buf + *len;
    put(&at, &id, 8);
    put(&at, &status, 4);
    put(&at, &code, 4);
    put(&at, &msg_len, 4);
    put(&at, &vlen, 8);
    if (msg_len) put(&at, msg, msg_len);
    if (val && vlen) put(&at, val, vlen);
    *len = need;
}

/* Futures whose values go after the unit's result message (TAG_VALUE). */
struct held {
    fut_future **fs;
    size_t n, cap;
};

/* Runs one task on this thread (fut_task_run_named) and appends its answer. */
static void run_one(char **out, size_t *len, size_t *cap, struct held *held, const char *where, uint64_t id,
                    const char *name, const void *arg, size_t arg_len) {
    char text[FUT_TASK_NAME_MAX + MPI_MAX_PROCESSOR_NAME + 512];
    fut_future *f = NULL;
    if (fut_future_new(&f) != FUT_OK || !fut_future_set_running_or_notify_cancel(f)) abort();
    fut_status st = fut_task_run_named(f, name, arg, arg_len);
    if (st != FUT_OK) {
        snprintf(text, sizeof text, "%s: no task '%s' here (status %d)", where, name, st);
        put_result(out, len, cap, id, FUT_ERR_TASK_FAILED, st, text, NULL, 0);
    } else {
        void *v = NULL;
        size_t vlen = 0;
        st = fut_future_result(f, 0, &v, &vlen);
        if (st == FUT_OK && vlen > INT_MAX) {
            snprintf(text, sizeof text, "%s: a value of %zu bytes is over MPI's 2 GiB message", where, vlen);
            put_result(out, len, cap, id, FUT_ERR_TASK_FAILED, FUT_ERR_INVALID_ARGUMENT, text, NULL, 0);
        } else if (st == FUT_OK && vlen > VALUE_INLINE_MAX) {
            put_result(out, len, cap, id, RESULT_VALUE_FOLLOWS, 0, NULL, NULL, vlen);
            if (held->n == held->cap) {
                held->cap = held->cap ? 2 * held->cap : 8;
                held->fs = realloc(held->fs, held->cap * sizeof *held->fs);
                if (!held->fs) abort();
            }
            held->fs[held->n++] = f; /* keeps the value until it was sent */
            return;
        } else if (st == FUT_OK) {
            put_result(out, len, cap, id, FUT_OK, 0, NULL, v, vlen);
        } else {
            fut_error_info e = {0};
            fut_future_exception(f, 0, &e);
            snprintf(text, sizeof text, "%s: %s", where, e.message ? e.message : "cancelled");
            put_result(out, len, cap, id, st, e.code, text, NULL, 0);
        }
    }
    fut_future_release(f);
}

/* Runs a unit's tasks in order, straight from the message, and answers. */
static void serve_unit(MPI_Comm comm, const char *where, const char *msg) {
    uint32_t n;
    memcpy(&n, msg, 4);
    const char *at = msg + 4;
    size_t len = 4, cap = 4096;
    char *out = malloc(cap);
    if (!out) abort();
    memcpy(out, &n, 4);
    struct held held = {0};
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id, arg_len;
        uint32_t name_len, inl;
        char name[FUT_TASK_NAME_MAX + 1];
        memcpy(&id, at, 8);
        memcpy(&name_len, at + 8, 4);
        memcpy(&inl, at + 12, 4);
        memcpy(&arg_len, at + 16, 8);
        at += 24;
        if (name_len > FUT_TASK_NAME_MAX) abort(); /* not our host */
        memcpy(name, at, name_len);
        name[name_len] = '\0';
        at += name_len;
        if (inl) {
            run_one(&out, &len, &cap, &held, where, id, name, at, arg_len);
            at += arg_len;
        } else {
            void *arg = malloc(arg_len ? arg_len : 1);
            if (!arg) abort();
            MPI_Recv(arg, (int)arg_len, MPI_BYTE, 0, TAG_ARG, comm, MPI_STATUS_IGNORE);
            run_one(&out, &len, &cap, &held, where, id, name, arg, arg_len);
            free(arg);
        }
    }
    if (len > INT_MAX) abort(); /* a chunk's answer over 2 GiB: use a smaller chunksize */
    MPI_Send(out, (int)len, MPI_BYTE, 0, TAG_RESULT, comm);
    free(out);
    for (size_t i = 0; i < held.n; i++) {
        void *v = NULL;
        size_t vlen = 0;
        fut_future_result(held.fs[i], 0, &v, &vlen);
        MPI_Send(v, (int)vlen, MPI_BYTE, 0, TAG_VALUE, comm);
        fut_future_release(held.fs[i]);
    }
    free(held.fs);
}

fut_status fut_mpi_serve(MPI_Comm comm) {
    if (comm == MPI_COMM_NULL) return FUT_ERR_INVALID_ARGUMENT;
    int rank, len;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) return FUT_ERR_INVALID_ARGUMENT;
    MPI_Comm c;
    MPI_Comm_dup(comm, &c);
    char host[MPI_MAX_PROCESSOR_NAME], where[MPI_MAX_PROCESSOR_NAME + 32];
    MPI_Get_processor_name(host, &len);
    snprintf(where, sizeof where, "rank %d on %s", rank, host);
    for (;;) {
        MPI_Status ms;
        MPI_Probe(0, MPI_ANY_TAG, c, &ms);
        int count = 0;
        MPI_Get_count(&ms, MPI_BYTE, &count);
        char *buf = malloc(count > 0 ? (size_t)count : 1);
        if (!buf) abort();
        MPI_Recv(buf, count, MPI_BYTE, 0, ms.MPI_TAG, c, MPI_STATUS_IGNORE);
        if (ms.MPI_TAG == TAG_TASK) serve_unit(c, where, buf);
        free(buf);
        if (ms.MPI_TAG == TAG_STOP) break;
    }
    MPI_Comm_free(&c);
    return FUT_OK;
}
