package futures

/*
#include <stdlib.h>
#include "futures_go.h"
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// NamedTask is a task written in Go that a spawn pool runs in its worker
// processes: it gets the argument's bytes and returns the value's bytes
// (copied back), or an error (a *TaskError chooses the code). A panic is
// recovered and fails only this task.
type NamedTask func(t *Task, arg []byte) ([]byte, error)

// goTaskName is the one C task name behind every Go task; the Go task's own
// name travels at the start of the argument bytes.
const goTaskName = "libfutures/go"

var (
	namedMu    sync.RWMutex
	namedTasks = map[string]NamedTask{}
)

// RegisterTask registers fn under name (1 to 255 bytes) for process pools
// started with StartSpawn. Register every task before WorkerEntry, in
// every program that runs as a worker (by default the host itself), so that
// a worker finds the same names. The same name twice is an error
// (ErrInvalidArgument).
func RegisterTask(name string, fn NamedTask) error {
	if fn == nil || len(name) == 0 || len(name) > 255 {
		return ErrInvalidArgument
	}
	cname := C.CString(goTaskName)
	defer C.free(unsafe.Pointer(cname))
	if err := statusErr(C.fut_register_task(cname, C.fut_task_fn(C.fut_go_named_trampoline))); err != nil {
		return err
	}
	namedMu.Lock()
	defer namedMu.Unlock()
	if _, dup := namedTasks[name]; dup {
		return ErrInvalidArgument
	}
	namedTasks[name] = fn
	return nil
}

// WorkerEntry must be the first statement of main (and of TestMain in
// tests), after the RegisterTask calls: in the program's own process it
// returns at once; in a spawn pool's worker (the same program, started with
// a worker flag) it never returns: the process runs tasks until its pool
// lets it go, then exits.
func WorkerEntry() {
	argv := make([]*C.char, len(os.Args)+1)
	for i, a := range os.Args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, a := range argv[:len(os.Args)] {
			C.free(unsafe.Pointer(a))
		}
	}()
	// argv is Go memory holding C pointers only, read during the call.
	C.fut_go_worker_entry(C.int(len(os.Args)), (**C.char)(unsafe.Pointer(&argv[0])))
}

// SubmitNamed schedules the Go task registered as name with a copy of arg
// and returns its future. ErrNotRegistered when no task has that name here.
func (p *ProcessPool) SubmitNamed(name string, arg []byte) (*Future, error) {
	namedMu.RLock()
	_, ok := namedTasks[name]
	namedMu.RUnlock()
	if !ok {
		return nil, ErrNotRegistered
	}
	buf := make([]byte, 0, 1+len(name)+len(arg))
	buf = append(buf, byte(len(name)))
	buf = append(buf, name...)
	buf = append(buf, arg...)
	return p.Submit(TaskFunc(C.fut_go_named_trampoline), buf)
}

// futGoNamedCall runs a named Go task in a spawned worker (or wherever the
// trampoline was submitted). It never lets a panic unwind into C.
//
//export futGoNamedCall
func futGoNamedCall(t *C.fut_task, arg unsafe.Pointer, n C.size_t) (code C.int32_t) {
	var b []byte
	if n > 0 {
		b = C.GoBytes(arg, C.int(n))
	}
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		setTaskError(t, 0, "malformed named Go task argument")
		return C.FUT_ERR_INVALID_ARGUMENT
	}
	name := string(b[1 : 1+int(b[0])])
	namedMu.RLock()
	fn := namedTasks[name]
	namedMu.RUnlock()
	if fn == nil {
		setTaskError(t, 0, fmt.Sprintf("no Go task is registered as %q in this program", name))
		return C.FUT_ERR_NOT_REGISTERED
	}
	task := &Task{t: t}
	defer func() {
		if r := recover(); r != nil {
			setTaskError(t, 0, fmt.Sprintf("Go task %q panicked: %v", name, r))
			code = 0
		}
	}()
	value, err := fn(task, b[1+int(b[0]):])
	return reportGoTask(t, value, err)
}
