package futures

// Task events (Q9): OnTaskEvent in the pools' options.

/*
#include <stdint.h>
#include "futures.h"
fut_task_event_fn fut_go_task_event_fn(void);
void *fut_go_observer_ptr(uintptr_t id);
*/
import "C"

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// TaskEventKind says which moment of a task a TaskEvent reports.
type TaskEventKind int

const (
	// TaskStarted: a thread pool's worker starts the task; a process pool
	// handed its call to a worker process.
	TaskStarted TaskEventKind = C.FUT_TASK_STARTED
	// TaskFinished: the task ended (or never ran: cancelled while queued,
	// failed by a broken or stopped pool); Status says how.
	TaskFinished TaskEventKind = C.FUT_TASK_FINISHED
)

// TaskEvent is what OnTaskEvent receives.
type TaskEvent struct {
	Kind TaskEventKind
	// Task is the task's number in its pool: 1, 2, ... in submission order.
	Task uint64
	// Wait is the time the task waited in the queue; Run the time it ran
	// (TaskFinished only).
	Wait, Run time.Duration
	// Status is StatusOK or how the task failed (ErrTaskFailed, ...).
	Status Status
}

// The observers of live pools, by id: C holds the id, never a Go pointer,
// and an event arriving after the pool was released finds nothing.
var (
	observers      sync.Map // uintptr -> func(TaskEvent)
	nextObserverID atomic.Uintptr
)

// addObserver registers fn; the C callback and data for the options, and
// the id to drop when the pool is released (0: none).
func addObserver(fn func(TaskEvent)) (C.fut_task_event_fn, unsafe.Pointer, uintptr) {
	if fn == nil {
		return nil, nil, 0
	}
	id := nextObserverID.Add(1)
	observers.Store(id, fn)
	return C.fut_go_task_event_fn(), C.fut_go_observer_ptr(C.uintptr_t(id)), id
}

func dropObserver(id uintptr) {
	if id != 0 {
		observers.Delete(id)
	}
}

//export futGoTaskEvent
func futGoTaskEvent(ev *C.fut_task_event, id C.uintptr_t) {
	fn, ok := observers.Load(uintptr(id))
	if !ok {
		return
	}
	fn.(func(TaskEvent))(TaskEvent{
		Kind:   TaskEventKind(ev.kind),
		Task:   uint64(ev.task),
		Wait:   time.Duration(ev.wait_ns),
		Run:    time.Duration(ev.run_ns),
		Status: Status(ev.status),
	})
}
