package futures_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	futures "libfutures/bindings/go"
	tt "libfutures/bindings/go/internal/testtasks"
)

func newThreadPool(t *testing.T, opts *futures.ThreadPoolOptions) *futures.ThreadPool {
	t.Helper()
	p, err := futures.NewThreadPool(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestThreadPoolSubmit(t *testing.T) {
	ctx := testContext(t)
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 4, ThreadNamePrefix: "gotest"})
	var fs []*futures.Future
	for i := int64(0); i < 200; i++ {
		f, err := p.Submit(tt.Square(), tt.Int64(i))
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	for i, f := range fs {
		v, err := f.Result(ctx)
		if err != nil || tt.AsInt64(v) != int64(i*i) {
			t.Fatalf("square(%d) = %v, %v", i, tt.AsInt64(v), err)
		}
		f.Release()
	}
	f, err := p.Submit(tt.Echo(), []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.Result(ctx); err != nil || string(v) != "hello" {
		t.Fatalf("echo = %q, %v", v, err)
	}
	if f, _ := p.Submit(tt.Echo(), nil); f != nil {
		if v, err := f.Result(ctx); err != nil || v != nil {
			t.Fatalf("empty echo = %q, %v", v, err)
		}
	}
	if _, err := p.Submit(nil, nil); !errors.Is(err, futures.ErrInvalidArgument) {
		t.Fatalf("nil task: %v", err)
	}
}

func TestThreadPoolTaskFailure(t *testing.T) {
	ctx := testContext(t)
	p := newThreadPool(t, nil)
	f, err := p.Submit(tt.Fail(), tt.Int32(5))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Result(ctx)
	var fe *futures.Error
	if !errors.As(err, &fe) || !errors.Is(err, futures.ErrTaskFailed) || fe.Code != 5 ||
		!strings.Contains(fe.Message, "asked to fail") {
		t.Fatalf("failure: %v", err)
	}
	// A task's error never breaks the pool.
	g, err := p.Submit(tt.Square(), tt.Int64(3))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := g.Result(ctx); err != nil || tt.AsInt64(v) != 9 {
		t.Fatalf("after a failure: %v, %v", v, err)
	}
}

func TestThreadPoolCancel(t *testing.T) {
	ctx := testContext(t)
	g := newGate(t)
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 1})
	running, err := p.Submit(tt.Gate(), tt.GateArg(g.startedFd(), g.gateFd(), taskTimeout, false))
	if err != nil {
		t.Fatal(err)
	}
	queued, err := p.Submit(tt.Square(), tt.Int64(2))
	if err != nil {
		t.Fatal(err)
	}
	g.waitStarted(t, 1)
	if !running.Running() || running.Cancel() {
		t.Fatal("a running task cannot be cancelled")
	}
	if !queued.Cancel() || !queued.Cancelled() {
		t.Fatal("a queued task must be cancellable")
	}
	if _, err := queued.Result(ctx); !errors.Is(err, futures.ErrCancelled) {
		t.Fatalf("cancelled result: %v", err)
	}
	g.open(t)
	if err := running.Err(ctx); err != nil {
		t.Fatalf("the running task: %v", err)
	}
}

func TestThreadPoolCooperativeCancel(t *testing.T) {
	ctx := testContext(t)
	g := newGate(t)
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 1})
	f, err := p.Submit(tt.Gate(), tt.GateArg(g.startedFd(), g.gateFd(), taskTimeout, true))
	if err != nil {
		t.Fatal(err)
	}
	g.waitStarted(t, 1)
	if f.Cancel() {
		t.Fatal("Cancel of a running task answered true")
	}
	if _, err := f.Result(ctx); !errors.Is(err, futures.ErrCancelled) {
		t.Fatalf("a task that honours the request ends cancelled: %v", err)
	}
}

func TestThreadPoolShutdown(t *testing.T) {
	ctx := testContext(t)
	g := newGate(t)
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 1})
	running, err := p.Submit(tt.Gate(), tt.GateArg(g.startedFd(), g.gateFd(), taskTimeout, false))
	if err != nil {
		t.Fatal(err)
	}
	var queued []*futures.Future
	for i := 0; i < 5; i++ {
		f, err := p.Submit(tt.Square(), tt.Int64(int64(i)))
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, f)
	}
	g.waitStarted(t, 1)
	if err := p.Shutdown(false, true); err != nil {
		t.Fatal(err)
	}
	for _, f := range queued {
		if !f.Cancelled() {
			t.Fatal("shutdown(cancel_futures) left a queued task")
		}
	}
	if _, err := p.Submit(tt.Square(), tt.Int64(1)); !errors.Is(err, futures.ErrShutdown) {
		t.Fatalf("submit after shutdown: %v", err)
	}
	if _, err := p.SubmitFunc(func(*futures.Task) ([]byte, error) { return nil, nil }); !errors.Is(err, futures.ErrShutdown) {
		t.Fatalf("SubmitFunc after shutdown: %v", err)
	}
	g.open(t)
	if err := p.Shutdown(true, false); err != nil {
		t.Fatal(err)
	}
	if !running.IsDone() {
		t.Fatal("shutdown(wait) returned before the running task ended")
	}
	if err := running.Err(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal("Close is idempotent")
	}
	if _, err := p.Submit(tt.Square(), nil); !errors.Is(err, futures.ErrInvalidArgument) {
		t.Fatalf("submit after Close: %v", err)
	}
}

func TestThreadPoolInitializerFailureBreaksIt(t *testing.T) {
	ctx := testContext(t)
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 1, Initializer: tt.InitFail()})
	f, err := p.Submit(tt.Square(), tt.Int64(2))
	if err != nil {
		if !errors.Is(err, futures.ErrBrokenPool) {
			t.Fatal(err)
		}
		return
	}
	if _, err := f.Result(ctx); !errors.Is(err, futures.ErrBrokenPool) {
		t.Fatalf("queued work of a broken pool: %v", err)
	}
}

func TestSubmitFunc(t *testing.T) {
	ctx := testContext(t)
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 2})
	var calls atomic.Int32
	f, err := p.SubmitFunc(func(*futures.Task) ([]byte, error) {
		calls.Add(1)
		return []byte("from Go"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.Result(ctx); err != nil || string(v) != "from Go" {
		t.Fatalf("Go task: %q, %v", v, err)
	}
	failing, _ := p.SubmitFunc(func(*futures.Task) ([]byte, error) {
		return nil, &futures.TaskError{Code: 42, Message: "no"}
	})
	var fe *futures.Error
	if _, err := failing.Result(ctx); !errors.As(err, &fe) || fe.Code != 42 || fe.Message != "no" {
		t.Fatalf("TaskError: %v", err)
	}
	plain, _ := p.SubmitFunc(func(*futures.Task) ([]byte, error) { return nil, fmt.Errorf("plain") })
	if _, err := plain.Result(ctx); !errors.As(err, &fe) || fe.Code != 0 || fe.Message != "plain" {
		t.Fatalf("plain error: %v", err)
	}
	panicking, _ := p.SubmitFunc(func(*futures.Task) ([]byte, error) { panic("oops") })
	if _, err := panicking.Result(ctx); !errors.As(err, &fe) || !strings.Contains(fe.Message, "oops") {
		t.Fatalf("panic: %v", err)
	}
	// Cooperative cancellation of a running Go task.
	started := make(chan struct{})
	coop, _ := p.SubmitFunc(func(task *futures.Task) ([]byte, error) {
		close(started)
		deadline := time.Now().Add(taskTimeout)
		for !task.CancelRequested() {
			if time.Now().After(deadline) {
				return nil, errors.New("never asked to stop")
			}
			time.Sleep(time.Millisecond) // inside the task: polls the request
		}
		return nil, futures.ErrCancelled
	})
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the Go task never started")
	}
	coop.Cancel()
	if _, err := coop.Result(ctx); !errors.Is(err, futures.ErrCancelled) {
		t.Fatalf("cooperative cancel: %v", err)
	}
	if calls.Load() != 1 {
		t.Fatal("the task ran more than once")
	}
	// Many Go tasks in flight, released early: their handles are freed
	// once they complete.
	var fs []*futures.Future
	for i := 0; i < 500; i++ {
		i := i
		f, err := p.SubmitFunc(func(*futures.Task) ([]byte, error) { return []byte{byte(i)}, nil })
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	for i, f := range fs {
		if v, err := f.Result(ctx); err != nil || v[0] != byte(i) {
			t.Fatalf("task %d: %v, %v", i, v, err)
		}
		f.Release()
	}
}

func TestMapInOrderWithFailures(t *testing.T) {
	ctx := testContext(t)
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 4})
	var args [][]byte
	for i := int64(0); i < 50; i++ {
		args = append(args, tt.Int64(i))
	}
	args[7] = []byte("bad") // wrong size: this position fails with EINVAL
	m, err := p.Map(ctx, tt.Square(), args)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	i := 0
	for v, err := range m.All() {
		if i == 7 {
			if !errors.Is(err, futures.ErrTaskFailed) {
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
}

func TestMapDeadlineCancelsTheRest(t *testing.T) {
	g := newGate(t)
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 1})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	args := [][]byte{tt.GateArg(g.startedFd(), g.gateFd(), taskTimeout, false), tt.Int64(1), tt.Int64(2)}
	// Position 0 blocks until the gate opens: cancelling the map's context
	// ends the iteration and cancels what did not start.
	m, err := p.Map(ctx, tt.Gate(), args)
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
		t.Fatal("the iteration goes on after its deadline")
	}
	g.open(t)
	if err := p.Shutdown(true, false); err != nil {
		t.Fatal(err)
	}
}
