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

// TaskFunc is a C function of type fut_task_fn:
//
//	int32_t task(fut_task *task, const void *arg, size_t arg_len);
//
// Get one from a cgo preamble with futures.TaskFunc(C.my_task). It returns
// 0 for success or a code to fail with, and sets its value with
// fut_task_set_result (a process pool copies the value's bytes back).
type TaskFunc unsafe.Pointer

// InitFunc is a C function of type fut_init_fn, run once per worker:
//
//	int32_t init(const void *arg, size_t arg_len);  // 0 = success
type InitFunc unsafe.Pointer

// Executor is what ThreadPool and ProcessPool have in common.
type Executor interface {
	// Submit schedules fn with a copy of arg and returns its future.
	Submit(fn TaskFunc, arg []byte) (*Future, error)
	// Map submits fn once per argument now and gives the results in input
	// order (see MapResults); Chunksize(n) batches a process pool's sends.
	Map(ctx context.Context, fn TaskFunc, args [][]byte, opts ...MapOption) (*MapResults, error)
	// IMap is Map over a lazy input, with a window (see IMapResults).
	IMap(ctx context.Context, fn TaskFunc, next func() ([]byte, error), opts ...MapOption) (*IMapResults, error)
	// Shutdown stops accepting work (see fut_executor_shutdown).
	Shutdown(wait, cancelFutures bool) error
	// Close shuts down, waiting for accepted work, and releases the pool.
	Close() error
}

// executor holds one reference to a C executor.
type executor struct {
	h        *C.fut_executor
	released atomic.Bool
	// copiesArgs: a process pool copies map arguments during the call, so
	// they may be Go memory (a thread pool would borrow them).
	copiesArgs bool
	// observer: the id of OnTaskEvent (flow_events.go), 0 if none.
	observer uintptr
}

func (e *executor) handle() *C.fut_executor {
	if e == nil || e.released.Load() {
		return nil
	}
	return e.h
}

// Submit schedules fn(task, arg) and returns its future. The argument bytes
// are copied; the copy is freed by the library when the task no longer
// needs it. Refusals: ErrShutdown, ErrBrokenPool, ErrInvalidArgument.
func (e *executor) Submit(fn TaskFunc, arg []byte) (*Future, error) {
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
	st := C.fut_go_submit_bytes(h, C.fut_task_fn(fn), p, C.size_t(len(arg)), &out)
	if err := statusErr(st); err != nil {
		return nil, err
	}
	return newFuture(out)
}

// Shutdown stops the executor accepting work (idempotent, any goroutine).
// cancelFutures cancels work not started yet; wait then waits for running
// work and joins the pool's threads and processes. From inside one of the
// pool's own tasks, wait gives ErrWouldDeadlock (the pool still shuts down).
func (e *executor) Shutdown(wait, cancelFutures bool) error {
	h := e.handle()
	if h == nil {
		return ErrInvalidArgument
	}
	defer runtime.KeepAlive(e)
	return statusErr(C.fut_executor_shutdown(h, C.bool(wait), C.bool(cancelFutures)))
}

// Close is Shutdown(true, false) followed by releasing the pool. Idempotent.
func (e *executor) Close() error {
	if e == nil || e.released.Load() {
		return nil
	}
	err := e.Shutdown(true, false)
	e.release()
	return err
}

func (e *executor) release() {
	if e.released.CompareAndSwap(false, true) {
		C.fut_executor_release(e.h)
		dropObserver(e.observer)
	}
}

// finalizeExecutor releases an executor nobody closed. The last release
// waits for the pool's work, so it runs on a goroutine of its own rather
// than holding up the finalizer goroutine.
func finalizeExecutor(e *executor) {
	go e.release()
}

// ThreadPoolOptions are the options of NewThreadPool; the zero value gives
// every default.
type ThreadPoolOptions struct {
	// MaxWorkers is the most threads the pool starts; 0: min(32, CPUs + 4).
	MaxWorkers int
	// ThreadNamePrefix names the threads <prefix>_<n>; "": futpool-<k>.
	ThreadNamePrefix string
	// Initializer, if not nil, runs once at the start of each worker
	// thread; a non-zero return breaks the pool.
	Initializer InitFunc
	// InitializerArg is copied and passed to Initializer.
	InitializerArg []byte
	// MaxQueued bounds the tasks waiting in the queue (0: unbounded);
	// Submit then waits for room (see SubmitTimeout, flow.go).
	MaxQueued int
	// OnTaskEvent, if not nil, hears every task start and finish, on the
	// worker thread running the task (flow_events.go).
	OnTaskEvent func(TaskEvent)
}

// ThreadPool runs tasks on library threads (Python's ThreadPoolExecutor):
// C functions with Submit and Map, Go functions with SubmitFunc.
type ThreadPool struct {
	executor
}

// NewThreadPool creates a thread pool; opts may be nil.
func NewThreadPool(opts *ThreadPoolOptions) (*ThreadPool, error) {
	var o C.fut_thread_pool_options
	var observer uintptr
	if err := statusErr(C.fut_thread_pool_options_init_sized(&o, C.sizeof_fut_thread_pool_options)); err != nil {
		return nil, err
	}
	if opts != nil {
		if opts.MaxWorkers < 0 || opts.MaxQueued < 0 {
			return nil, ErrInvalidArgument
		}
		o.max_workers = C.size_t(opts.MaxWorkers)
		o.max_queued = C.size_t(opts.MaxQueued)
		o.on_task_event, o.on_task_event_data, observer = addObserver(opts.OnTaskEvent)
		if opts.ThreadNamePrefix != "" {
			o.thread_name_prefix = C.CString(opts.ThreadNamePrefix)
			defer C.free(unsafe.Pointer(o.thread_name_prefix))
		}
		o.initializer = C.fut_init_fn(opts.Initializer)
		if len(opts.InitializerArg) > 0 {
			o.initializer_arg = C.CBytes(opts.InitializerArg)
			o.initializer_arg_len = C.size_t(len(opts.InitializerArg))
			defer C.free(unsafe.Pointer(o.initializer_arg))
		}
	}
	var h *C.fut_executor
	if err := statusErr(C.fut_thread_pool_new(&o, &h)); err != nil {
		dropObserver(observer)
		return nil, err
	}
	p := &ThreadPool{executor{h: h, observer: observer}}
	runtime.SetFinalizer(p, func(p *ThreadPool) { finalizeExecutor(&p.executor) })
	return p, nil
}

// ProcessPool runs C tasks in forked worker processes (Python's
// ProcessPoolExecutor), so that a crash in a task ends a worker, not the Go
// program. See the package documentation for what a process task may do.
type ProcessPool struct {
	executor
}

// timeoutNanos converts a Duration option (0: none).
func timeoutNanos(d time.Duration) C.int64_t { return C.int64_t(d.Nanoseconds()) }
