package futures

// Flow control and observability (behaviours Q1-Q12 of docs/behaviours.md):
// a bounded queue (MaxQueued in the pools' options), SubmitTimeout and
// SubmitContext, Stats, Describe, and the stopping calls.

/*
#include <stdlib.h>
#include "futures.h"

// A submit_timeout of a copy of n bytes at p (freed by the library).
static fut_status fut_go_submit_bytes_timeout(fut_executor *ex, fut_task_fn fn, const void *p,
                                              size_t n, int64_t timeout_ns, fut_future **out) {
    void *copy = NULL;
    if (n > 0) {
        copy = malloc(n);
        if (copy == NULL) return FUT_ERR_NO_MEMORY;
        for (size_t i = 0; i < n; i++) ((char *)copy)[i] = ((const char *)p)[i];
    }
    fut_status st = fut_executor_submit_timeout(ex, fn, copy, n, copy ? free : NULL, timeout_ns, out);
    if (st != FUT_OK) free(copy);
    return st;
}
*/
import "C"

import (
	"context"
	"runtime"
	"time"
	"unsafe"
)

// ErrQueueFull: the bounded queue (MaxQueued) stayed full until the
// deadline of SubmitTimeout or SubmitContext; nothing was submitted.
const ErrQueueFull Status = C.FUT_ERR_QUEUE_FULL

// Stats are an executor's counters (fut_stats). At every read,
// Completed+Failed+Cancelled+Running+Queued == Submitted.
type Stats struct {
	Submitted, Queued, Running, Completed, Failed, Cancelled uint64
	WorkersAlive, WorkersStarted, WorkersReplaced            uint64
	SubmittersWaiting, MaxQueued                             uint64
	// QueueWait and Run are summed over the tasks that waited and ran.
	QueueWait, Run time.Duration
}

// SubmitTimeout is Submit waiting at most timeout for room in a bounded
// queue (0: no wait; negative: no limit); ErrQueueFull past it.
func (e *executor) SubmitTimeout(fn TaskFunc, arg []byte, timeout time.Duration) (*Future, error) {
	h := e.handle()
	if h == nil || fn == nil {
		return nil, ErrInvalidArgument
	}
	defer runtime.KeepAlive(e)
	var p unsafe.Pointer
	if len(arg) > 0 {
		p = unsafe.Pointer(&arg[0])
	}
	var out *C.fut_future
	st := C.fut_go_submit_bytes_timeout(h, C.fut_task_fn(fn), p, C.size_t(len(arg)),
		C.int64_t(timeout.Nanoseconds()), &out)
	if err := statusErr(st); err != nil {
		return nil, err
	}
	return newFuture(out)
}

// submitSlice is how long SubmitContext waits in C before it looks at ctx.
const submitSlice = 20 * time.Millisecond

// SubmitContext is Submit waiting for room until ctx is done; then it
// returns ErrQueueFull wrapped with ctx's error (errors.Is works for both).
func (e *executor) SubmitContext(ctx context.Context, fn TaskFunc, arg []byte) (*Future, error) {
	for {
		slice := submitSlice
		if d, ok := ctx.Deadline(); ok {
			if left := time.Until(d); left < slice {
				slice = max(left, 0)
			}
		}
		f, err := e.SubmitTimeout(fn, arg, slice)
		if err != ErrQueueFull {
			return f, err
		}
		if ctx.Err() != nil {
			return nil, &queueFullError{ctxErr: ctx.Err()}
		}
	}
}

// queueFullError: SubmitContext's context ended while the queue was full.
type queueFullError struct{ ctxErr error }

func (e *queueFullError) Error() string {
	return "libfutures: " + ErrQueueFull.String() + ": submit: " + e.ctxErr.Error()
}

func (e *queueFullError) Unwrap() []error { return []error{ErrQueueFull, e.ctxErr} }

// Stats reads the executor's counters (lock-free, cheap).
func (e *executor) Stats() (Stats, error) {
	h := e.handle()
	if h == nil {
		return Stats{}, ErrInvalidArgument
	}
	defer runtime.KeepAlive(e)
	var s C.fut_stats
	s.struct_size = C.size_t(unsafe.Sizeof(s))
	if err := statusErr(C.fut_executor_stats(h, &s)); err != nil {
		return Stats{}, err
	}
	return Stats{
		Submitted: uint64(s.submitted), Queued: uint64(s.queued), Running: uint64(s.running),
		Completed: uint64(s.completed), Failed: uint64(s.failed), Cancelled: uint64(s.cancelled),
		WorkersAlive: uint64(s.workers_alive), WorkersStarted: uint64(s.workers_started),
		WorkersReplaced: uint64(s.workers_replaced), SubmittersWaiting: uint64(s.submitters_waiting),
		MaxQueued: uint64(s.max_queued), QueueWait: time.Duration(s.queue_wait_ns),
		Run: time.Duration(s.run_ns),
	}, nil
}

// Describe is a human-readable snapshot: each worker, the task it runs and
// for how long, the queue (fut_executor_describe).
func (e *executor) Describe() (string, error) {
	h := e.handle()
	if h == nil {
		return "", ErrInvalidArgument
	}
	defer runtime.KeepAlive(e)
	var needed C.size_t
	if err := statusErr(C.fut_executor_describe(h, nil, 0, &needed)); err != nil {
		return "", err
	}
	for {
		buf := make([]byte, int(needed)+256)
		var again C.size_t
		st := C.fut_executor_describe(h, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &again)
		if err := statusErr(st); err != nil {
			return "", err
		}
		if int(again) <= len(buf) {
			return string(buf[:again-1]), nil
		}
		needed = again
	}
}

// ShutdownTimeout shuts down waiting at most timeout (negative: no limit);
// ErrTimeout past it (see fut_executor_shutdown_timeout: a process pool's
// workers are then terminated and killed).
func (e *executor) ShutdownTimeout(cancelFutures bool, timeout time.Duration) error {
	h := e.handle()
	if h == nil {
		return ErrInvalidArgument
	}
	defer runtime.KeepAlive(e)
	return statusErr(C.fut_executor_shutdown_timeout(h, C.bool(cancelFutures), C.int64_t(timeout.Nanoseconds())))
}

// TerminateWorkers shuts the pool down without waiting, cancels queued
// work and sends SIGTERM to every worker; running futures fail with
// ErrBrokenPool.
func (p *ProcessPool) TerminateWorkers() error {
	h := p.handle()
	if h == nil {
		return ErrInvalidArgument
	}
	defer runtime.KeepAlive(p)
	return statusErr(C.fut_executor_terminate_workers(h))
}

// KillWorkers is TerminateWorkers with SIGKILL.
func (p *ProcessPool) KillWorkers() error {
	h := p.handle()
	if h == nil {
		return ErrInvalidArgument
	}
	defer runtime.KeepAlive(p)
	return statusErr(C.fut_executor_kill_workers(h))
}
