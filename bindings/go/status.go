package futures

/*
#include "futures.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
)

// Status is a libfutures status code (fut_status). Every non-OK status is
// also an error value, so the exported Err* constants work with errors.Is:
//
//	if errors.Is(err, futures.ErrCancelled) { ... }
type Status int32

// The status codes of futures.h; the values are pinned by the C API.
const (
	StatusOK Status = C.FUT_OK
	// StatusEnd ends an iteration; never returned as an error by this package.
	StatusEnd Status = C.FUT_END

	ErrInvalidArgument Status = C.FUT_ERR_INVALID_ARGUMENT
	ErrTimeout         Status = C.FUT_ERR_TIMEOUT
	ErrCancelled       Status = C.FUT_ERR_CANCELLED
	ErrInvalidState    Status = C.FUT_ERR_INVALID_STATE
	ErrTaskFailed      Status = C.FUT_ERR_TASK_FAILED
	ErrBrokenPool      Status = C.FUT_ERR_BROKEN_POOL
	ErrWorkerDied      Status = C.FUT_ERR_WORKER_DIED
	ErrTimeLimit       Status = C.FUT_ERR_TIME_LIMIT
	ErrShutdown        Status = C.FUT_ERR_SHUTDOWN
	ErrWouldDeadlock   Status = C.FUT_ERR_WOULD_DEADLOCK
	ErrNoMemory        Status = C.FUT_ERR_NO_MEMORY
	ErrOS              Status = C.FUT_ERR_OS
	ErrInternal        Status = C.FUT_ERR_INTERNAL
	// ErrNotRegistered: no task has that name (RegisterTask), or a spawn
	// pool was given a C function that was never registered.
	ErrNotRegistered Status = C.FUT_ERR_NOT_REGISTERED
)

// String names the status ("FUT_ERR_TIMEOUT", ...), as fut_status_str does.
func (s Status) String() string {
	return C.GoString(C.fut_status_str(C.fut_status(s)))
}

// Error makes every status usable as an error value.
func (s Status) Error() string {
	return "libfutures: " + s.String()
}

// statusErr turns a C status into nil (FUT_OK) or a Status error.
func statusErr(st C.fut_status) error {
	if st == C.FUT_OK {
		return nil
	}
	return Status(st)
}

// Error is how a future failed or was cancelled: the error record of
// futures.h (fut_error_info), copied into Go memory. errors.Is(err, Kind)
// matches its kind: ErrTaskFailed, ErrBrokenPool, ErrWorkerDied,
// ErrTimeLimit or ErrCancelled.
type Error struct {
	// Kind is the failure's kind (the status fut_future_result answered).
	Kind Status
	// Code is the task's own code (its non-zero return value or the code
	// given to fut_task_set_error); 0 if none, which is still a failure.
	Code int32
	// Message describes the failure (never empty for a failure).
	Message string
	// Detail is remote detail: for a dead worker its pid and signal or exit
	// status, e.g. "worker 4242 killed by signal 11 (SIGSEGV) while running
	// task 17". Empty if none.
	Detail string
}

// Error reads "libfutures: KIND: message (code N) [detail]", the prefix
// once (Kind's own Error would add it again).
func (e *Error) Error() string {
	s := "libfutures: " + e.Kind.String()
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Code != 0 {
		s += fmt.Sprintf(" (code %d)", e.Code)
	}
	if e.Detail != "" {
		s += " [" + e.Detail + "]"
	}
	return s
}

// Unwrap gives the kind, so that errors.Is(err, ErrBrokenPool) and the like
// hold.
func (e *Error) Unwrap() error { return e.Kind }

// TaskError is what a Go task (ThreadPool.SubmitFunc) returns to fail with a
// code of its own; any other error fails the task with code 0 and the
// error's text as message.
type TaskError struct {
	Code    int32
	Message string
}

func (e *TaskError) Error() string {
	return fmt.Sprintf("task failed with code %d: %s", e.Code, e.Message)
}

// waitError is returned when a context ended before the awaited condition
// held: it matches ErrTimeout and the context's own error
// (context.DeadlineExceeded or context.Canceled).
type waitError struct {
	ctxErr error
	what   string
}

func (e *waitError) Error() string {
	// ErrTimeout.String(): with %s, fmt would call Error and prefix twice.
	if e.what != "" {
		return fmt.Sprintf("libfutures: %s: %s: %v", ErrTimeout.String(), e.what, e.ctxErr)
	}
	return fmt.Sprintf("libfutures: %s: %v", ErrTimeout.String(), e.ctxErr)
}

func (e *waitError) Unwrap() []error { return []error{ErrTimeout, e.ctxErr} }

func ctxError(ctx context.Context, what string) error {
	err := ctx.Err()
	if err == nil {
		err = context.DeadlineExceeded
	}
	return &waitError{ctxErr: err, what: what}
}

// IsTimeout reports whether err says that a wait ended before its condition
// held (a context that ended, or FUT_ERR_TIMEOUT from the library).
func IsTimeout(err error) bool { return errors.Is(err, ErrTimeout) }
