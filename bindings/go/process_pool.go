package futures

/*
#include <stdlib.h>
#include "futures_go.h"
*/
import "C"

import (
	"runtime"
	"time"
	"unsafe"
)

// StartMethod is how a process pool starts its workers.
type StartMethod int

const (
	// StartForkServer (the default): a single-threaded fork server, forked
	// when the pool is created, forks the workers on demand.
	StartForkServer StartMethod = iota
	// StartFork: every worker is forked when the pool is created.
	StartFork
	// StartSpawn: workers are new processes running this program, started
	// by posix_spawn (never a fork of the Go runtime); the only method that
	// runs Go tasks (RegisterTask, SubmitNamed). The program's main must
	// call WorkerEntry first thing.
	StartSpawn
)

// CrashPolicy is what the death of a worker process does to the pool.
type CrashPolicy int

const (
	// CrashBreakPool (the default, Python's behaviour): the pool breaks and
	// every outstanding future fails with ErrBrokenPool.
	CrashBreakPool CrashPolicy = iota
	// CrashFailTask: only the task the dead worker ran fails, with
	// ErrWorkerDied; the worker is replaced and the pool goes on.
	CrashFailTask
)

// ProcessPoolOptions are the options of NewProcessPool; the zero value gives
// every default.
type ProcessPoolOptions struct {
	// MaxWorkers is the number of worker processes; 0: the usable CPUs.
	MaxWorkers  int
	StartMethod StartMethod
	// Initializer, if not nil, runs once in each worker before its first
	// task; a non-zero return breaks the pool.
	Initializer InitFunc
	// InitializerArg is copied and passed to Initializer.
	InitializerArg []byte
	// MaxTasksPerChild replaces a worker after that many calls; 0:
	// unlimited. Not with StartFork.
	MaxTasksPerChild int
	OnWorkerCrash    CrashPolicy
	// TaskTimeLimit kills a worker whose task runs longer (the task fails
	// with ErrTimeLimit and the worker is replaced); 0: no limit.
	TaskTimeLimit time.Duration
	// MaxQueued bounds the calls waiting in the queue (0: unbounded);
	// Submit then waits for room (see SubmitTimeout, flow.go).
	MaxQueued int
	// OnTaskEvent, if not nil, hears every task start and finish, on the
	// pool's manager thread (flow_events.go).
	OnTaskEvent func(TaskEvent)
}

// NewProcessPool creates a process pool; opts may be nil. It returns once
// the pool's first processes were forked. Task and initializer functions
// must be C functions linked into the program (see the package
// documentation).
func NewProcessPool(opts *ProcessPoolOptions) (*ProcessPool, error) {
	var o C.fut_process_pool_options
	var observer uintptr
	C.fut_process_pool_options_init_sized(&o, C.sizeof_fut_process_pool_options)
	if opts != nil {
		if opts.MaxWorkers < 0 || opts.MaxTasksPerChild < 0 || opts.TaskTimeLimit < 0 || opts.MaxQueued < 0 {
			return nil, ErrInvalidArgument
		}
		o.max_workers = C.size_t(opts.MaxWorkers)
		switch opts.StartMethod {
		case StartForkServer:
			o.start_method = C.FUT_START_FORKSERVER
		case StartFork:
			o.start_method = C.FUT_START_FORK
		case StartSpawn:
			o.start_method = C.FUT_START_SPAWN
		default:
			return nil, ErrInvalidArgument
		}
		switch opts.OnWorkerCrash {
		case CrashBreakPool:
			o.on_worker_crash = C.FUT_CRASH_BREAK_POOL
		case CrashFailTask:
			o.on_worker_crash = C.FUT_CRASH_FAIL_TASK
		default:
			return nil, ErrInvalidArgument
		}
		o.initializer = C.fut_init_fn(opts.Initializer)
		if len(opts.InitializerArg) > 0 {
			o.initializer_arg = C.CBytes(opts.InitializerArg)
			o.initializer_arg_len = C.size_t(len(opts.InitializerArg))
			defer C.free(unsafe.Pointer(o.initializer_arg))
		}
		o.max_tasks_per_child = C.size_t(opts.MaxTasksPerChild)
		o.task_time_limit_ns = timeoutNanos(opts.TaskTimeLimit)
		o.max_queued = C.size_t(opts.MaxQueued)
		o.on_task_event, o.on_task_event_data, observer = addObserver(opts.OnTaskEvent)
	}
	var h *C.fut_executor
	if err := statusErr(C.fut_process_pool_new(&o, &h)); err != nil {
		dropObserver(observer)
		return nil, err
	}
	p := &ProcessPool{executor{h: h, copiesArgs: true, observer: observer}}
	runtime.SetFinalizer(p, func(p *ProcessPool) { finalizeExecutor(&p.executor) })
	return p, nil
}
