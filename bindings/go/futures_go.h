/* C helpers of the Go binding (futures_go.c). They keep every
 * integer-to-pointer conversion and every malloc/free pairing in C, so the
 * Go code obeys cgo's pointer rules and passes `go vet` as written. */
#ifndef FUTURES_GO_H
#define FUTURES_GO_H

#include <stddef.h>
#include <stdint.h>
#include "futures.h"

/* Submits the Go task behind cgo.Handle `h` (ThreadPool.SubmitFunc). */
fut_status fut_go_submit_handle(fut_executor *ex, uintptr_t h, fut_future **out);

/* Submits `fn` with a malloc'd copy of `n` bytes at `p`, which the library
 * frees once it is done with them; freed here if the submit is refused. */
fut_status fut_go_submit_bytes(fut_executor *ex, fut_task_fn fn, const void *p, size_t n,
                               fut_future **out);

/* fut_executor_map over `n` arguments laid end to end in `buf` (`lens[i]`
 * bytes each). Only for executors that copy the arguments during the call
 * (process pools): `buf` may be Go memory, which C must not keep. */
fut_status fut_go_map_bytes(fut_executor *ex, fut_task_fn fn, const void *buf, const size_t *lens,
                            size_t n, int64_t timeout_ns, size_t chunksize, fut_map **out);

/* fut_executor_imap with the Go source behind cgo.Handle `h` (IMap): each
 * argument comes from futGoProduce as malloc'd bytes, freed by the library;
 * the handle is deleted (futGoProducerDrop) once the library lets it go. */
fut_status fut_go_imap(fut_executor *ex, fut_task_fn fn, uintptr_t h, size_t window, size_t chunksize,
                       uint32_t flags, fut_map **out);

/* Attaches `f` to `q` with an integer tag. */
fut_status fut_go_attach(fut_completion_queue *q, fut_future *f, uintptr_t id);

/* Entry `i` of a drained batch. */
uintptr_t fut_go_entry_id(const fut_completion *c, size_t i);
fut_future *fut_go_entry_future(const fut_completion *c, size_t i);

/* Completes a promise / sets a task's value with a malloc'd copy of the
 * bytes (NULL for none), owned by the future from then on. */
fut_status fut_go_set_result_bytes(fut_future *f, const void *p, size_t n);
fut_status fut_go_task_set_result_bytes(fut_task *t, const void *p, size_t n);

/* The C task behind every named Go task (RegisterTask): its argument is
 * the task's name (one length byte, then the name) and the task's bytes. */
int32_t fut_go_named_trampoline(fut_task *t, const void *arg, size_t len);

/* fut_worker_entry with a copy of Go's os.Args (argc strings at argv). */
fut_status fut_go_worker_entry(int argc, char **argv);

/* A close-on-exec duplicate of `fd`, or -1. */
int fut_go_dup_cloexec(int fd);

#endif
