package futures_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	futures "libfutures/bindings/go"
	tt "libfutures/bindings/go/internal/testtasks"
)

// The error texts carry the "libfutures: " prefix exactly once.
func TestErrorTextHasThePrefixOnce(t *testing.T) {
	ctx := testContext(t)
	if got := futures.ErrCancelled.Error(); got != "libfutures: FUT_ERR_CANCELLED" {
		t.Fatalf("Status.Error: %q", got)
	}

	// (F5) a failed task's record: kind, message, code.
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 1})
	f, err := p.Submit(tt.Fail(), tt.Int32(9))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	_, err = f.Result(ctx)
	var fe *futures.Error
	if !errors.As(err, &fe) || fe.Kind != futures.ErrTaskFailed || fe.Code != 9 {
		t.Fatalf("failing task: %v", err)
	}
	want := "libfutures: FUT_ERR_TASK_FAILED"
	if fe.Message != "" {
		want += ": " + fe.Message
	}
	want += " (code 9)"
	if got := err.Error(); got != want || strings.Count(got, "libfutures:") != 1 {
		t.Fatalf("task failure text %q, want %q", got, want)
	}

	// (F5) a promise failed with a code and message: the exact text.
	pr, err := futures.NewPromise()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Release()
	// (F3) first, a wait that ends with its context: the timeout text.
	expired, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-expired.Done()
	err = pr.Wait(expired)
	if got, want := err.Error(), "libfutures: FUT_ERR_TIMEOUT: context deadline exceeded"; got != want {
		t.Fatalf("timeout text %q, want %q", got, want)
	}
	if err := pr.SetError(7, "no such record"); err != nil {
		t.Fatal(err)
	}
	_, err = pr.Result(ctx)
	if got, want := err.Error(), "libfutures: FUT_ERR_TASK_FAILED: no such record (code 7)"; got != want {
		t.Fatalf("promise failure text %q, want %q", got, want)
	}
}
