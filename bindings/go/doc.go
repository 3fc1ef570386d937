// Package futures is the Go binding of libfutures, Python's
// concurrent.futures rebuilt in Rust behind a C API (futures.h): futures,
// promises, Wait, AsCompleted, Map, a thread pool and a process pool.
//
// # Building
//
// The package is cgo. It finds futures.h in the repository's include/
// directory by itself; tell the linker where libfutures.so is:
//
//	export CGO_LDFLAGS="-L$BUILD/cargo/release -Wl,-rpath,$BUILD/cargo/release"
//	go test ./...
//
// ($BUILD is the CMake build directory; with an installed library, -L and
// the rpath point to its directory, and CGO_CFLAGS="-I<dir of futures.h>"
// may point to an installed header.)
//
// # How completions reach Go
//
// There are no callbacks into Go. Every future this package hands out is
// attached to one process-wide completion queue (fut_completion_queue),
// and one goroutine waits on the queue's descriptor through Go's runtime
// poller, drains the completed entries and closes each future's Done
// channel. Result, Wait, AsCompleted and Map are selects on those channels,
// so every wait honours a context.Context and no OS thread is parked in C
// for it. (If the descriptor cannot be polled, the goroutine blocks in
// fut_completion_queue_wait inside cgo instead: one parked thread for the
// whole process. FUTURES_GO_CQ=wait forces that mode, for tests.)
//
// Why not fut_future_add_done_callback with an exported Go function? The
// callback would run on whatever thread completes the future: a pool
// worker, the process pool's manager thread, the thread that cancels. Each
// such call into Go from a thread the Go runtime did not create costs a
// C-to-Go transition and binds an extra M to that thread, runs Go code
// while the library is mid-completion (a blocking or panicking callback
// stalls a pool worker or the manager, and a panic crossing C aborts the
// process), and makes the Go side reentrant with the library. The queue
// keeps all Go code on Go's own threads; library threads only push an
// entry.
//
// # Tasks
//
// Submit and Map take a C function (TaskFunc, of type fut_task_fn) and
// argument bytes, which are copied; results come back as []byte (Result)
// or, for a thread-pool task that sets a raw pointer, as a pointer
// (ResultPointer). Get a TaskFunc from a cgo preamble:
//
//	// #include "futures.h"
//	// int32_t square(fut_task *t, const void *arg, size_t n) { ... }
//	import "C"
//	f, err := pool.Submit(futures.TaskFunc(C.square), arg)
//
// The function must not be static: Go takes its address, which needs a
// symbol the linker can see.
//
// A ThreadPool also runs Go functions (SubmitFunc): a C trampoline calls
// an exported Go function with a cgo.Handle on the library's worker thread,
// the one place where library threads enter Go, because the task is the
// work itself.
//
// Go tasks run in process pools started with StartSpawn: their workers are
// new processes running this program (posix_spawn, never a fork of the Go
// runtime), which finds the task by name. Register every Go task with
// RegisterTask, then call WorkerEntry as the first statement of main (and
// of TestMain): it returns at once in the program itself and never returns
// in a worker. SubmitNamed submits a registered Go task with argument
// bytes; its value's bytes come back. Crashes, time limits and cancel work
// as for C tasks.
//
// With StartForkServer and StartFork, process tasks are C functions only:
// the workers are forks of the Go program made by a library thread; the Go
// runtime does not run in them (only the forking thread survives a fork).
// A process task there therefore
// must be C code linked into the program before the pool is created (a cgo
// preamble or a C library), must not call into Go, and gets copies of its
// argument bytes; the bytes of its value are copied back. A crash (e.g.
// SIGSEGV) ends only its worker: with CrashBreakPool (the default) every
// outstanding future then fails with ErrBrokenPool, with CrashFailTask only
// that task fails, with ErrWorkerDied, and the worker is replaced. The
// error's Detail names the worker and its signal.
//
// # Errors
//
// Every failure matches one of the Err* status constants with errors.Is:
// ErrCancelled, ErrTaskFailed, ErrBrokenPool, ErrWorkerDied, ErrTimeLimit
// (a future's outcome, in a *Error carrying code, message and detail),
// ErrShutdown and ErrBrokenPool (refused submits), ErrTimeout (a context
// that ended, together with ctx.Err()), ErrInvalidArgument.
//
// # Lifetimes
//
// Futures and pools hold references to C objects. Future.Release and
// Close give them back; finalizers do it for forgotten ones. Releasing a
// future never affects its work; releasing the last reference to an
// uncompleted promise cancels it. Close on a pool waits for its work.
package futures
