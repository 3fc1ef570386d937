package futures_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	futures "libfutures/bindings/go"
)

func TestPromiseResultFromAnotherGoroutine(t *testing.T) {
	ctx := testContext(t)
	p, err := futures.NewPromise()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	if p.IsDone() || p.Running() || p.Cancelled() || p.State() != futures.StatePending {
		t.Fatalf("new promise: state %v", p.State())
	}
	go func() {
		if err := p.SetResult([]byte("forty-two")); err != nil {
			t.Error(err)
		}
	}()
	v, err := p.Result(ctx)
	if err != nil || string(v) != "forty-two" {
		t.Fatalf("Result = %q, %v", v, err)
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		t.Fatal("Done channel never closed")
	}
	if !p.IsDone() || p.State() != futures.StateFinished {
		t.Fatalf("state %v", p.State())
	}
	if err := p.SetResult(nil); !errors.Is(err, futures.ErrInvalidState) {
		t.Fatalf("second SetResult: %v", err)
	}
	failure, err := p.Exception(ctx)
	if failure != nil || err != nil {
		t.Fatalf("Exception of a success: %v, %v", failure, err)
	}
	if err := p.Err(ctx); err != nil {
		t.Fatalf("Err of a success: %v", err)
	}
}

func TestPromiseError(t *testing.T) {
	ctx := testContext(t)
	p, err := futures.NewPromise()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	if err := p.SetError(7, "boom"); err != nil {
		t.Fatal(err)
	}
	_, err = p.Result(ctx)
	var fe *futures.Error
	if !errors.As(err, &fe) || !errors.Is(err, futures.ErrTaskFailed) {
		t.Fatalf("Result error %v is not a task failure", err)
	}
	if fe.Code != 7 || fe.Message != "boom" || fe.Kind != futures.ErrTaskFailed {
		t.Fatalf("error record %+v", fe)
	}
	failure, err := p.Exception(ctx)
	if err != nil || failure == nil || failure.Code != 7 {
		t.Fatalf("Exception = %v, %v", failure, err)
	}
	if err := p.Err(ctx); !errors.Is(err, futures.ErrTaskFailed) {
		t.Fatalf("Err = %v", err)
	}
	// A failure with code 0 and an empty message is still a failure.
	q, _ := futures.NewPromise()
	defer q.Release()
	q.SetError(0, "")
	if err := q.Err(ctx); !errors.Is(err, futures.ErrTaskFailed) {
		t.Fatalf("code 0: %v", err)
	}
}

func TestResultHonoursContextAndTimeout(t *testing.T) {
	p, err := futures.NewPromise()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = p.Result(ctx)
	if !errors.Is(err, futures.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !futures.IsTimeout(err) {
		t.Fatalf("Result past the deadline: %v", err)
	}
	if _, err := p.ResultTimeout(0); !errors.Is(err, futures.ErrTimeout) {
		t.Fatalf("poll: %v", err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if err := p.Wait(cctx); !errors.Is(err, context.Canceled) || !errors.Is(err, futures.ErrTimeout) {
		t.Fatalf("cancelled context: %v", err)
	}
	if p.State() != futures.StatePending {
		t.Fatal("a timeout changed the future")
	}
	// Done first, then polled: no timeout even with an expired context.
	p.SetResult([]byte{1})
	if v, err := p.Result(ctx); err != nil || len(v) != 1 {
		t.Fatalf("done future with an expired context: %v, %v", v, err)
	}
}

func TestCancelPromise(t *testing.T) {
	ctx := testContext(t)
	p, _ := futures.NewPromise()
	defer p.Release()
	if !p.Cancel() || !p.Cancel() {
		t.Fatal("Cancel of a pending future must answer true (twice)")
	}
	if !p.Cancelled() || !p.IsDone() {
		t.Fatal("not cancelled")
	}
	<-p.Done()
	_, err := p.Result(ctx)
	if !errors.Is(err, futures.ErrCancelled) {
		t.Fatalf("Result of a cancelled future: %v", err)
	}
	if _, err := p.Exception(ctx); !errors.Is(err, futures.ErrCancelled) {
		t.Fatalf("Exception of a cancelled future: %v", err)
	}
	if err := p.SetResult(nil); !errors.Is(err, futures.ErrInvalidState) {
		t.Fatalf("SetResult after cancel: %v", err)
	}
}

func TestReleaseIsIdempotentAndFinalizerSafe(t *testing.T) {
	p, _ := futures.NewPromise()
	p.Release()
	p.Release()
	if p.IsDone() || p.State() != futures.StateInvalid {
		t.Fatal("a released future answers like a live one")
	}
	if _, err := p.ResultTimeout(0); !errors.Is(err, futures.ErrInvalidArgument) {
		t.Fatalf("Result after Release: %v", err)
	}
	if err := p.SetResult(nil); !errors.Is(err, futures.ErrInvalidArgument) {
		t.Fatalf("SetResult after Release: %v", err)
	}
	// Forgotten futures, done or not, are released by finalizers (a
	// pending one is cancelled then, which reaches the completion queue).
	for i := 0; i < 1000; i++ {
		q, err := futures.NewPromise()
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			q.SetResult([]byte("x"))
		}
	}
	runtime.GC()
	runtime.GC()
	// The queue goroutine still works afterwards.
	r, _ := futures.NewPromise()
	defer r.Release()
	r.SetResult(nil)
	if err := r.Wait(testContext(t)); err != nil {
		t.Fatal(err)
	}
}
