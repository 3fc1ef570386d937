package futures_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	futures "libfutures/bindings/go"
	tt "libfutures/bindings/go/internal/testtasks"
)

func newProcessPool(t *testing.T, opts *futures.ProcessPoolOptions) *futures.ProcessPool {
	t.Helper()
	p, err := futures.NewProcessPool(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestProcessPoolRunsCTasksInOtherProcesses(t *testing.T) {
	ctx := testContext(t)
	for _, sm := range []futures.StartMethod{futures.StartForkServer, futures.StartFork} {
		p := newProcessPool(t, &futures.ProcessPoolOptions{MaxWorkers: 2, StartMethod: sm})
		f, err := p.Submit(tt.Pid(), nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Result(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if pid := tt.AsInt64(v); pid <= 0 || pid == int64(os.Getpid()) {
			t.Fatalf("the task ran in process %d (we are %d)", pid, os.Getpid())
		}
		var args [][]byte
		for i := int64(0); i < 20; i++ {
			args = append(args, tt.Int64(i))
		}
		m, err := p.Map(ctx, tt.Square(), args)
		if err != nil {
			t.Fatal(err)
		}
		i := int64(0)
		for v, err := range m.All() {
			if err != nil || tt.AsInt64(v) != i*i {
				t.Fatalf("map position %d: %v, %v", i, tt.AsInt64(v), err)
			}
			i++
		}
		failing, _ := p.Submit(tt.Fail(), tt.Int32(9))
		var fe *futures.Error
		if _, err := failing.Result(ctx); !errors.As(err, &fe) || fe.Kind != futures.ErrTaskFailed || fe.Code != 9 {
			t.Fatalf("a failing process task: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestProcessPoolBrokenBySegfault(t *testing.T) {
	ctx := testContext(t)
	g := newGate(t) // before the pool: the workers inherit it
	p := newProcessPool(t, &futures.ProcessPoolOptions{MaxWorkers: 2})
	crash, err := p.Submit(tt.Segv(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Outstanding work that cannot finish on its own before the crash:
	// running on the other worker, queued behind the crash, or not sent yet.
	var outstanding []*futures.Future
	for i := 0; i < 6; i++ {
		f, err := p.Submit(tt.Gate(), tt.GateArg(-1, g.gateFd(), taskTimeout, false))
		if err != nil {
			if errors.Is(err, futures.ErrBrokenPool) {
				break // the crash already broke the pool
			}
			t.Fatal(err)
		}
		outstanding = append(outstanding, f)
	}
	for _, f := range append([]*futures.Future{crash}, outstanding...) {
		_, err := f.Result(ctx)
		var fe *futures.Error
		if !errors.As(err, &fe) || !errors.Is(err, futures.ErrBrokenPool) {
			t.Fatalf("an outstanding future of a broken pool: %v", err)
		}
		if !strings.Contains(fe.Detail, "SIGSEGV") {
			t.Fatalf("the detail does not name the signal: %q", fe.Detail)
		}
	}
	if _, err := p.Submit(tt.Pid(), nil); !errors.Is(err, futures.ErrBrokenPool) {
		t.Fatalf("submit to a broken pool: %v", err)
	}
}

func TestProcessPoolFailTaskIsolatesTheCrash(t *testing.T) {
	ctx := testContext(t)
	p := newProcessPool(t, &futures.ProcessPoolOptions{MaxWorkers: 2, OnWorkerCrash: futures.CrashFailTask})
	var fs []*futures.Future
	for i := int64(0); i < 10; i++ {
		f, err := p.Submit(tt.Square(), tt.Int64(i))
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	crash, err := p.Submit(tt.Segv(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = crash.Result(ctx)
	var fe *futures.Error
	if !errors.As(err, &fe) || !errors.Is(err, futures.ErrWorkerDied) || !strings.Contains(fe.Detail, "SIGSEGV") {
		t.Fatalf("the crashed task: %v", err)
	}
	for i, f := range fs {
		if v, err := f.Result(ctx); err != nil || tt.AsInt64(v) != int64(i*i) {
			t.Fatalf("task %d beside the crash: %v, %v", i, v, err)
		}
	}
	// The pool goes on with a new worker.
	f, err := p.Submit(tt.Square(), tt.Int64(12))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.Result(ctx); err != nil || tt.AsInt64(v) != 144 {
		t.Fatalf("after the crash: %v, %v", v, err)
	}
}

func TestProcessPoolTimeLimit(t *testing.T) {
	ctx := testContext(t)
	g := newGate(t)
	p := newProcessPool(t, &futures.ProcessPoolOptions{MaxWorkers: 1, TaskTimeLimit: 100 * time.Millisecond})
	slow, err := p.Submit(tt.Gate(), tt.GateArg(-1, g.gateFd(), taskTimeout, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := slow.Result(ctx); !errors.Is(err, futures.ErrTimeLimit) {
		t.Fatalf("past the time limit: %v", err)
	}
	f, _ := p.Submit(tt.Echo(), []byte("still here"))
	if v, err := f.Result(ctx); err != nil || string(v) != "still here" {
		t.Fatalf("after the time limit: %q, %v", v, err)
	}
}

func TestProcessPoolShutdownCancelsPending(t *testing.T) {
	ctx := testContext(t)
	g := newGate(t)
	p := newProcessPool(t, &futures.ProcessPoolOptions{MaxWorkers: 1})
	first, err := p.Submit(tt.Gate(), tt.GateArg(g.startedFd(), g.gateFd(), taskTimeout, false))
	if err != nil {
		t.Fatal(err)
	}
	g.waitStarted(t, 1)
	var rest []*futures.Future
	for i := 0; i < 6; i++ {
		f, err := p.Submit(tt.Square(), tt.Int64(int64(i)))
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, f)
	}
	if err := p.Shutdown(false, true); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Submit(tt.Pid(), nil); !errors.Is(err, futures.ErrShutdown) {
		t.Fatalf("submit after shutdown: %v", err)
	}
	g.open(t)
	if err := p.Shutdown(true, false); err != nil {
		t.Fatal(err)
	}
	if err := first.Err(ctx); err != nil {
		t.Fatal(err)
	}
	cancelled := 0
	for _, f := range rest {
		if err := f.Err(ctx); errors.Is(err, futures.ErrCancelled) {
			cancelled++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// Up to max_workers + 1 items were already sent to the worker (P5).
	if cancelled < len(rest)-2 {
		t.Fatalf("only %d of %d pending tasks were cancelled", cancelled, len(rest))
	}
}

// (E14) Map with a chunksize: results in input order, a failure at its own
// position, on a process pool (batched sends) and a thread pool (ignored).
func TestMapChunksize(t *testing.T) {
	ctx := testContext(t)
	var args [][]byte
	for i := int64(0); i < 50; i++ {
		args = append(args, tt.Int64(i))
	}
	args[7] = []byte("bad") // wrong size: this position fails with EINVAL
	pools := []futures.Executor{
		newProcessPool(t, &futures.ProcessPoolOptions{MaxWorkers: 2}),
		newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 2}),
	}
	for _, p := range pools {
		if _, err := p.Map(ctx, tt.Square(), args, futures.Chunksize(0)); !errors.Is(err, futures.ErrInvalidArgument) {
			t.Fatalf("chunksize 0: %v", err)
		}
		m, err := p.Map(ctx, tt.Square(), args, futures.Chunksize(8))
		if err != nil {
			t.Fatal(err)
		}
		if m.Len() != 50 {
			t.Fatalf("Len %d", m.Len())
		}
		i := 0
		for v, err := range m.All() {
			if i == 7 {
				var fe *futures.Error
				if !errors.As(err, &fe) || fe.Kind != futures.ErrTaskFailed || fe.Code != 22 {
					t.Fatalf("position 7: %v", err)
				}
			} else if err != nil || tt.AsInt64(v) != int64(i*i) {
				t.Fatalf("position %d: %v, %v", i, tt.AsInt64(v), err)
			}
			i++
		}
		if i != 50 {
			t.Fatalf("%d results", i)
		}
		m.Close()
	}
}

// (E11) A chunked process-pool map whose context ends: Next says so once,
// the iteration ends, and the pool still shuts down.
func TestMapChunksizeContextEnds(t *testing.T) {
	g := newGate(t) // before the pool: the workers inherit it
	p := newProcessPool(t, &futures.ProcessPoolOptions{MaxWorkers: 1})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	args := [][]byte{tt.GateArg(g.startedFd(), g.gateFd(), taskTimeout, false), tt.Int64(1), tt.Int64(2), tt.Int64(3)}
	m, err := p.Map(ctx, tt.Gate(), args, futures.Chunksize(2))
	if err != nil {
		t.Fatal(err)
	}
	g.waitStarted(t, 1)
	cancel()
	_, err, ok := m.Next()
	if !ok || !errors.Is(err, futures.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after the context ended: %v, %v", err, ok)
	}
	if _, _, ok := m.Next(); ok {
		t.Fatal("the iteration goes on after its context ended")
	}
	g.open(t)
	if err := p.Shutdown(true, false); err != nil {
		t.Fatal(err)
	}
}
