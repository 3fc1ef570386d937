/*
 * futures_mpi.h: libfutures across machines, on MPI (libfutures_mpi, -lfutures_mpi).
 *
 * The static model of mpi4py.futures: every rank runs the same program,
 * registers the same tasks (fut_register_task), then rank 0 of the
 * communicator calls fut_mpi_pool_new and uses the executor it gets like any
 * other, while every other rank calls fut_mpi_serve, which runs the tasks it
 * is sent and returns when the host shuts the pool down (M4). A task crosses
 * ranks as its registered name and argument bytes, never as a pointer.
 *
 * Threads: on rank 0 one progress thread of the pool makes every MPI call on
 * a duplicate of `comm` (M5), so MPI must have been initialised with at
 * least MPI_THREAD_SERIALIZED there; with MPI_THREAD_SERIALIZED the host
 * makes no MPI call of its own while the pool lives, with
 * MPI_THREAD_MULTIPLE it may. Worker ranks call MPI only from the thread
 * that called fut_mpi_serve (MPI_THREAD_SINGLE is enough there).
 */
#ifndef FUTURES_MPI_H
#define FUTURES_MPI_H

#include <futures.h>
#include <mpi.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options of fut_mpi_pool_new; fill with fut_mpi_pool_options_init. */
typedef struct fut_mpi_pool_options {
    /** sizeof(fut_mpi_pool_options), set by fut_mpi_pool_options_init. */
    size_t struct_size;
    /** Messages (a task, or a chunk of a map) in flight per worker rank at
     *  once: the next is already there when one finishes (M6). Default 2. */
    size_t pipeline;
    /** Arguments up to this many bytes travel inside the task message (one
     *  copy); longer ones are sent straight from the caller's buffer (M8).
     *  Default 16384. */
    size_t inline_max;
} fut_mpi_pool_options;

/** Fills `opts` with the defaults. */
fut_status fut_mpi_pool_options_init(fut_mpi_pool_options *opts);

/**
 * On rank 0 of `comm` (collective with fut_mpi_serve on every other rank):
 * `*out` receives one reference to an executor whose tasks run on the other
 * ranks. Submit registered tasks (fut_executor_submit_named, or
 * fut_executor_submit/map/imap of a registered function); an unregistered
 * function is refused with FUT_ERR_NOT_REGISTERED. A task's error comes back
 * as FUT_ERR_TASK_FAILED with its code and "rank R on HOST: message" (M7).
 * `opts` may be NULL (defaults). Refused with FUT_ERR_INVALID_ARGUMENT when
 * not on rank 0, with fewer than 2 ranks, or below MPI_THREAD_SERIALIZED;
 * then the worker ranks' fut_mpi_serve return too. Shut the executor down
 * with wait (or release it) before MPI_Finalize, from a thread of your own:
 * its progress thread calls MPI until then. From a done-callback of its
 * futures (the progress thread) shutdown cannot wait (FUT_ERR_WOULD_DEADLOCK)
 * and a last release there lets the thread finish on its own (M9).
 */
fut_status fut_mpi_pool_new(MPI_Comm comm, const fut_mpi_pool_options *opts, fut_executor **out);

/**
 * On every rank but 0 of `comm`: runs the tasks rank 0's pool sends, one
 * message at a time in arrival order, and returns FUT_OK once the pool shut
 * down (M4). FUT_ERR_INVALID_ARGUMENT on rank 0.
 */
fut_status fut_mpi_serve(MPI_Comm comm);

#ifdef __cplusplus
}
#endif

#endif /* FUTURES_MPI_H */
