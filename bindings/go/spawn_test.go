package futures_test

import (
	"encoding/binary"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	futures "libfutures/bindings/go"
)

// Go tasks for the spawn tests, registered by name before WorkerEntry: the
// test binary is also the spawned workers' program (N9).
func init() {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(futures.RegisterTask("square", func(_ *futures.Task, arg []byte) ([]byte, error) {
		x := int64(binary.LittleEndian.Uint64(arg))
		return binary.LittleEndian.AppendUint64(nil, uint64(x*x)), nil
	}))
	must(futures.RegisterTask("pid", func(_ *futures.Task, _ []byte) ([]byte, error) {
		return binary.LittleEndian.AppendUint64(nil, uint64(os.Getpid())), nil
	}))
	must(futures.RegisterTask("fail", func(_ *futures.Task, _ []byte) ([]byte, error) {
		return nil, &futures.TaskError{Code: 7, Message: "seven"}
	}))
	must(futures.RegisterTask("die", func(_ *futures.Task, _ []byte) ([]byte, error) {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}))
	must(futures.RegisterTask("sleep", func(_ *futures.Task, arg []byte) ([]byte, error) {
		time.Sleep(time.Duration(binary.LittleEndian.Uint64(arg)))
		return []byte("slept"), nil
	}))
}

func TestMain(m *testing.M) {
	futures.WorkerEntry() // never returns in a spawned worker
	os.Exit(m.Run())
}

func u64(x uint64) []byte { return binary.LittleEndian.AppendUint64(nil, x) }

func spawnPool(t *testing.T, opts futures.ProcessPoolOptions) *futures.ProcessPool {
	t.Helper()
	opts.StartMethod = futures.StartSpawn
	return newProcessPool(t, &opts)
}

// N5: Go tasks run in spawned workers, by name; errors keep their code.
func TestSpawnRunsGoTasks(t *testing.T) {
	ctx := testContext(t)
	p := spawnPool(t, futures.ProcessPoolOptions{MaxWorkers: 2})
	f, err := p.SubmitNamed("square", u64(12))
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.Result(ctx)
	if err != nil || binary.LittleEndian.Uint64(v) != 144 {
		t.Fatalf("square(12): %v, %v", v, err)
	}
	f, _ = p.SubmitNamed("pid", nil)
	v, err = f.Result(ctx)
	if err != nil || int(binary.LittleEndian.Uint64(v)) == os.Getpid() {
		t.Fatalf("the task ran in process %v (we are %d): %v", v, os.Getpid(), err)
	}
	f, _ = p.SubmitNamed("fail", nil)
	var fe *futures.Error
	if _, err := f.Result(ctx); !errors.As(err, &fe) || fe.Kind != futures.ErrTaskFailed || fe.Code != 7 {
		t.Fatalf("a failing Go task: %v", err)
	}
	if _, err := p.SubmitNamed("no such task", nil); !errors.Is(err, futures.ErrNotRegistered) {
		t.Fatalf("an unknown name: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// N5, X12: a Go task that kills its worker fails alone (FAIL_TASK); the
// replacement runs the next one.
func TestSpawnCrashFailsOnlyItsTask(t *testing.T) {
	ctx := testContext(t)
	p := spawnPool(t, futures.ProcessPoolOptions{MaxWorkers: 1, OnWorkerCrash: futures.CrashFailTask})
	f, _ := p.SubmitNamed("die", nil)
	if _, err := f.Result(ctx); !errors.Is(err, futures.ErrWorkerDied) {
		t.Fatalf("the crashed task: %v", err)
	}
	f, _ = p.SubmitNamed("square", u64(3))
	if v, err := f.Result(ctx); err != nil || binary.LittleEndian.Uint64(v) != 9 {
		t.Fatalf("after the crash: %v, %v", v, err)
	}
}

// N5, X12: the time limit kills a Go task that overruns.
func TestSpawnTimeLimit(t *testing.T) {
	ctx := testContext(t)
	p := spawnPool(t, futures.ProcessPoolOptions{MaxWorkers: 1, TaskTimeLimit: 200 * time.Millisecond})
	f, _ := p.SubmitNamed("sleep", u64(uint64(time.Hour)))
	if _, err := f.Result(ctx); !errors.Is(err, futures.ErrTimeLimit) {
		t.Fatalf("the overrunning task: %v", err)
	}
	f, _ = p.SubmitNamed("square", u64(4))
	if v, err := f.Result(ctx); err != nil || binary.LittleEndian.Uint64(v) != 16 {
		t.Fatalf("after the time limit: %v, %v", v, err)
	}
}

// N5, P5: queued Go tasks are cancelled while the only worker is busy; at
// most max_workers + 1 = 2 calls (the busy one included) escape.
func TestSpawnCancel(t *testing.T) {
	ctx := testContext(t)
	p := spawnPool(t, futures.ProcessPoolOptions{MaxWorkers: 1, TaskTimeLimit: time.Second,
		OnWorkerCrash: futures.CrashFailTask})
	busy, _ := p.SubmitNamed("sleep", u64(uint64(time.Hour)))
	var fs []*futures.Future
	for i := 0; i < 10; i++ {
		f, err := p.SubmitNamed("square", u64(uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	cancelled := 0
	for _, f := range fs {
		if f.Cancel() {
			cancelled++
		}
	}
	if cancelled < 9 {
		t.Fatalf("only %d of 10 queued tasks were cancelled", cancelled)
	}
	if _, err := busy.Result(ctx); !errors.Is(err, futures.ErrTimeLimit) {
		t.Fatalf("the busy task: %v", err)
	}
	for i, f := range fs {
		if f.Cancelled() {
			continue
		}
		if v, err := f.Result(ctx); err != nil || binary.LittleEndian.Uint64(v) != uint64(i*i) {
			t.Fatalf("task %d: %v, %v", i, v, err)
		}
	}
}
