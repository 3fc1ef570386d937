/* The wire protocol of libfutures_mpi, shared by the host (pool.c) and the
 * worker ranks (serve.c).
 *
 * Messages (on a duplicate of the user's communicator; rank 0 is the host):
 *   TAG_TASK   host -> worker: a "unit" (one task, or one chunk of a map):
 *              u32 n, then n times {u64 id, u32 name_len, u32 inline,
 *              u64 arg_len, name, inline ? arg : nothing}
 *   TAG_ARG    host -> worker: the bytes of each non-inline argument of the
 *              unit, in order, sent from the caller's buffer (no copy)
 *   TAG_RESULT worker -> host: u32 n, then n times {u64 id, i32 status,
 *              i32 code, u32 msg_len, u64 value_len, msg, value}
 *              (status RESULT_VALUE_FOLLOWS: the value, over VALUE_INLINE_MAX
 *              bytes, is not in the message but follows as its own TAG_VALUE
 *              message, sent from the task's value and received into the
 *              buffer the future keeps: no copy on either side)
 *   TAG_VALUE  worker -> host: such a value, in record order
 *   TAG_STOP   host -> worker: serve returns.
 * A worker handles its units in arrival order and answers each in order, so
 * the host matches a result with the oldest unit in flight on that rank. */
#ifndef FUTURES_MPI_PROTOCOL_H
#define FUTURES_MPI_PROTOCOL_H

#include <stddef.h>
#include <string.h>

enum { TAG_TASK = 0x4d01, TAG_ARG, TAG_RESULT, TAG_STOP, TAG_VALUE };
enum { RESULT_VALUE_FOLLOWS = 1, VALUE_INLINE_MAX = 65536 };

/* Appends n bytes at *at and advances it. */
static inline void put(char **at, const void *src, size_t n) {
    memcpy(*at, src, n);
    *at += n;
}

#endif
