package futures

/*
#include <stdlib.h>
#include "futures_go.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// State is the state of a future (fut_state).
type State int32

// The states of a future.
const (
	StatePending   State = C.FUT_STATE_PENDING
	StateRunning   State = C.FUT_STATE_RUNNING
	StateCancelled State = C.FUT_STATE_CANCELLED
	StateFinished  State = C.FUT_STATE_FINISHED
	// StateInvalid: the future was released.
	StateInvalid State = C.FUT_STATE_INVALID
)

func (s State) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateRunning:
		return "running"
	case StateCancelled:
		return "cancelled"
	case StateFinished:
		return "finished"
	}
	return "invalid"
}

// Future is the outcome of one piece of work (fut_future): pending, then
// running, then finished with a value or an error, or cancelled.
//
// A Future holds one reference to the C future. Release gives it back;
// Release is idempotent, and a finalizer calls it for a Future that became
// unreachable, so forgetting it only delays freeing. After Release every
// method answers ErrInvalidArgument (predicates answer false). Do not call
// Release concurrently with other methods of the same Future. All other
// methods may be called from any goroutine.
type Future struct {
	h        *C.fut_future
	st       *state
	released atomic.Bool
}

// newFuture wraps a reference the caller owns; on error it releases it.
func newFuture(h *C.fut_future) (*Future, error) {
	st := newState()
	if err := attach(h, st); err != nil {
		C.fut_future_release(h)
		return nil, err
	}
	f := &Future{h: h, st: st}
	runtime.SetFinalizer(f, (*Future).Release)
	return f, nil
}

// handle gives the C handle, or nil once released.
func (f *Future) handle() *C.fut_future {
	if f == nil || f.released.Load() {
		return nil
	}
	return f.h
}

// Release gives back this Future's reference to the C future. Releasing the
// last reference to a future nobody completed (a promise) cancels it. The
// work of an executor is not affected: the executor holds its own
// reference until the work is done.
func (f *Future) Release() {
	if f == nil || !f.released.CompareAndSwap(false, true) {
		return
	}
	runtime.SetFinalizer(f, nil)
	C.fut_future_release(f.h)
}

// Done returns a channel that is closed once the future is done (finished
// or cancelled), for use in select. It closes shortly after the C future
// became done: IsDone reports the C state itself.
func (f *Future) Done() <-chan struct{} { return f.st.done }

// IsDone reports whether the future finished or was cancelled (Python's
// done()).
func (f *Future) IsDone() bool {
	h := f.handle()
	r := h != nil && bool(C.fut_future_done(h))
	runtime.KeepAlive(f)
	return r
}

// Running reports whether the future's work is being run.
func (f *Future) Running() bool {
	h := f.handle()
	r := h != nil && bool(C.fut_future_running(h))
	runtime.KeepAlive(f)
	return r
}

// Cancelled reports whether the future was cancelled.
func (f *Future) Cancelled() bool {
	h := f.handle()
	r := h != nil && bool(C.fut_future_cancelled(h))
	runtime.KeepAlive(f)
	return r
}

// State reports the future's state.
func (f *Future) State() State {
	h := f.handle()
	if h == nil {
		return StateInvalid
	}
	s := State(C.fut_future_state(h))
	runtime.KeepAlive(f)
	return s
}

// Cancel cancels a pending future and reports true (also for one already
// cancelled). A running or finished future is not changed and it reports
// false; a running thread-pool task is asked to stop (Task.CancelRequested).
func (f *Future) Cancel() bool {
	h := f.handle()
	r := h != nil && bool(C.fut_future_cancel(h))
	runtime.KeepAlive(f)
	return r
}

// Wait blocks until the future is done or ctx ends (then an error matching
// ErrTimeout and ctx.Err()).
func (f *Future) Wait(ctx context.Context) error {
	h := f.handle()
	if h == nil {
		return ErrInvalidArgument
	}
	defer runtime.KeepAlive(f)
	if bool(C.fut_future_done(h)) {
		return nil
	}
	select {
	case <-f.st.done:
		return nil
	case <-ctx.Done():
		// Completion and the end of ctx may race: done wins.
		if bool(C.fut_future_done(h)) {
			return nil
		}
		return ctxError(ctx, "")
	}
}

// Result waits for the future (see Wait), then gives a copy of its value's
// bytes (nil for an empty value). A failure gives a *Error whose Kind is
// ErrTaskFailed, ErrBrokenPool, ErrWorkerDied, ErrTimeLimit or ErrCancelled.
func (f *Future) Result(ctx context.Context) ([]byte, error) {
	p, n, err := f.ResultPointer(ctx)
	if err != nil || n == 0 {
		return nil, err
	}
	b := make([]byte, n)
	copy(b, unsafe.Slice((*byte)(p), n))
	runtime.KeepAlive(f) // the bytes belong to the future
	return b, nil
}

// ResultTimeout is Result with a timeout: negative waits without limit, 0
// polls.
func (f *Future) ResultTimeout(timeout time.Duration) ([]byte, error) {
	ctx, cancel := timeoutContext(timeout)
	defer cancel()
	return f.Result(ctx)
}

// ResultPointer is Result without the copy: the value's pointer and length
// as the task set them (a thread-pool task may set any pointer, even with
// length 0). The memory belongs to the future: it stays valid until the
// Future is released (keep the Future reachable while using it).
func (f *Future) ResultPointer(ctx context.Context) (unsafe.Pointer, int, error) {
	if err := f.Wait(ctx); err != nil {
		return nil, 0, err
	}
	h := f.handle()
	if h == nil {
		return nil, 0, ErrInvalidArgument
	}
	defer runtime.KeepAlive(f)
	var p unsafe.Pointer
	var n C.size_t
	st := C.fut_future_result(h, 0, &p, &n)
	switch st {
	case C.FUT_OK:
		return p, int(n), nil
	case C.FUT_ERR_CANCELLED:
		return nil, 0, &Error{Kind: ErrCancelled, Message: "the future was cancelled"}
	case C.FUT_ERR_INVALID_ARGUMENT, C.FUT_ERR_TIMEOUT:
		return nil, 0, Status(st)
	}
	e, _ := f.exception(h)
	if e == nil {
		return nil, 0, Status(st)
	}
	return nil, 0, e
}

// Exception waits for the future (see Wait), then gives its failure: nil
// for a success, the failure's record otherwise (Python's exception()). err
// is ErrCancelled (in a *Error) for a cancelled future, or the wait's error.
func (f *Future) Exception(ctx context.Context) (failure *Error, err error) {
	if err := f.Wait(ctx); err != nil {
		return nil, err
	}
	h := f.handle()
	if h == nil {
		return nil, ErrInvalidArgument
	}
	defer runtime.KeepAlive(f)
	return f.exception(h)
}

// ExceptionTimeout is Exception with a timeout: negative waits without
// limit, 0 polls.
func (f *Future) ExceptionTimeout(timeout time.Duration) (*Error, error) {
	ctx, cancel := timeoutContext(timeout)
	defer cancel()
	return f.Exception(ctx)
}

// Err waits for the future (see Wait) and gives its outcome as one error:
// nil for a success, a *Error for a failure or a cancellation, or the
// wait's error.
func (f *Future) Err(ctx context.Context) error {
	failure, err := f.Exception(ctx)
	if err != nil {
		return err
	}
	if failure != nil {
		return failure
	}
	return nil
}

func (f *Future) exception(h *C.fut_future) (*Error, error) {
	var info C.fut_error_info
	st := C.fut_future_exception(h, 0, &info)
	switch st {
	case C.FUT_OK:
	case C.FUT_ERR_CANCELLED:
		return nil, &Error{Kind: ErrCancelled, Message: "the future was cancelled"}
	default:
		return nil, Status(st)
	}
	if info.kind == C.FUT_OK {
		return nil, nil
	}
	e := &Error{Kind: Status(info.kind), Code: int32(info.code)}
	if info.message != nil {
		e.Message = C.GoString(info.message)
	}
	if info.detail != nil {
		e.Detail = C.GoString(info.detail)
	}
	return e, nil
}

// failed reports whether a done future finished with an error (not a
// cancellation).
func (f *Future) failed() bool {
	h := f.handle()
	if h == nil {
		return false
	}
	var info C.fut_error_info
	r := C.fut_future_exception(h, 0, &info) == C.FUT_OK && info.kind != C.FUT_OK
	runtime.KeepAlive(f)
	return r
}

func (f *Future) String() string {
	return "libfutures future (" + f.State().String() + ")"
}

func timeoutContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout < 0 {
		return context.WithCancel(context.Background())
	}
	return context.WithTimeout(context.Background(), timeout)
}

// Promise is a future that Go code completes (fut_future_new): any
// goroutine may call SetResult or SetError once, and everything else works
// as on a Future. Releasing the last reference to an uncompleted promise
// cancels it.
type Promise struct {
	*Future
}

// NewPromise creates a pending promise-style future.
func NewPromise() (*Promise, error) {
	var h *C.fut_future
	if err := statusErr(C.fut_future_new(&h)); err != nil {
		return nil, err
	}
	f, err := newFuture(h)
	if err != nil {
		return nil, err
	}
	return &Promise{f}, nil
}

// SetResult completes the future with a copy of value. ErrInvalidState if
// it is done already (first outcome wins).
func (p *Promise) SetResult(value []byte) error {
	h := p.handle()
	if h == nil {
		return ErrInvalidArgument
	}
	defer runtime.KeepAlive(p.Future)
	var ptr unsafe.Pointer
	if len(value) > 0 {
		ptr = unsafe.Pointer(&value[0])
	}
	return statusErr(C.fut_go_set_result_bytes(h, ptr, C.size_t(len(value))))
}

// SetError completes the future with a failure of kind ErrTaskFailed, code
// and message. ErrInvalidState if it is done already.
func (p *Promise) SetError(code int32, message string) error {
	h := p.handle()
	if h == nil {
		return ErrInvalidArgument
	}
	defer runtime.KeepAlive(p.Future)
	cmsg := C.CString(message)
	defer C.free(unsafe.Pointer(cmsg))
	return statusErr(C.fut_future_set_exception(h, C.int32_t(code), cmsg))
}

// SetRunningOrNotifyCancel is for executors written in Go: it moves a
// pending future to running and reports true (run the work), or reports
// false for a cancelled one (skip it).
func (p *Promise) SetRunningOrNotifyCancel() bool {
	h := p.handle()
	r := h != nil && bool(C.fut_future_set_running_or_notify_cancel(h))
	runtime.KeepAlive(p.Future)
	return r
}
