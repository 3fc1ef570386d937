package futures

/*
#include <stdlib.h>
#include "futures_go.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// Task is the context of a running Go task (ThreadPool.SubmitFunc), valid
// only during the call.
type Task struct {
	t *C.fut_task
}

// CancelRequested reports whether Cancel was called on the task's future
// while it runs. A task may then stop early by returning ErrCancelled: its
// future ends cancelled.
func (t *Task) CancelRequested() bool {
	return bool(C.fut_task_cancel_requested(t.t))
}

// GoTask is a task written in Go for a ThreadPool. Its value is copied
// into the future; an error fails it (a *TaskError chooses the code;
// ErrCancelled after CancelRequested cancels it). A panic is recovered and
// fails only this task.
type GoTask func(t *Task) ([]byte, error)

// SubmitFunc schedules fn on one of the pool's threads and returns its
// future.
//
// The call goes through a small C trampoline that calls back into Go (an
// exported cgo function) with a cgo.Handle as its argument, on the library's
// worker thread: the one place where this package lets a library thread
// enter Go. Each call costs a C-to-Go transition (about a microsecond, more
// on a thread's first call); for many small pieces of Go work, goroutines
// are cheaper. Fork pools cannot run Go tasks (their workers are forks in
// which the Go runtime does not run); spawn pools run registered ones
// (RegisterTask, ProcessPool.SubmitNamed).
func (p *ThreadPool) SubmitFunc(fn GoTask) (*Future, error) {
	h := p.handle()
	if h == nil || fn == nil {
		return nil, ErrInvalidArgument
	}
	defer runtime.KeepAlive(p)
	handle := cgo.NewHandle(fn)
	var out *C.fut_future
	if err := statusErr(C.fut_go_submit_handle(h, C.uintptr_t(handle), &out)); err != nil {
		handle.Delete()
		return nil, err
	}
	st := newState()
	// The handle is deleted once the future is done: the pool has called
	// the task (or skipped it, cancelled) before it completes the future.
	st.onDone = handle.Delete
	if err := attach(out, st); err != nil {
		// Not attached: keep the handle (it may still be called) and give
		// up the future.
		C.fut_future_release(out)
		return nil, err
	}
	f := &Future{h: out, st: st}
	runtime.SetFinalizer(f, (*Future).Release)
	return f, nil
}

// futGoTaskCall runs a Go task on a library thread. It never lets a panic
// unwind into C.
//
//export futGoTaskCall
func futGoTaskCall(t *C.fut_task, h C.uintptr_t) (code C.int32_t) {
	task := &Task{t: t}
	defer func() {
		if r := recover(); r != nil {
			setTaskError(t, 0, fmt.Sprintf("Go task panicked: %v", r))
			code = 0
		}
	}()
	fn := cgo.Handle(h).Value().(GoTask)
	value, err := fn(task)
	if errors.Is(err, ErrCancelled) && task.CancelRequested() {
		return C.FUT_ERR_CANCELLED
	}
	return reportGoTask(t, value, err)
}

// reportGoTask hands a Go task's outcome to the library: err (a TaskError
// keeps its code and message) or the value's bytes, copied.
func reportGoTask(t *C.fut_task, value []byte, err error) C.int32_t {
	if err != nil {
		var te *TaskError
		if errors.As(err, &te) {
			setTaskError(t, te.Code, te.Message)
			return C.int32_t(te.Code)
		}
		setTaskError(t, 0, err.Error())
		return 0
	}
	if len(value) > 0 {
		st := C.fut_go_task_set_result_bytes(t, unsafe.Pointer(&value[0]), C.size_t(len(value)))
		if st != C.FUT_OK {
			return C.int32_t(st)
		}
	}
	return 0
}

func setTaskError(t *C.fut_task, code int32, msg string) {
	cmsg := C.CString(msg)
	C.fut_task_set_error(t, C.int32_t(code), cmsg)
	C.free(unsafe.Pointer(cmsg))
}
