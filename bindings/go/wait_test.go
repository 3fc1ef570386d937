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

func promises(t *testing.T, n int) ([]*futures.Promise, []*futures.Future) {
	t.Helper()
	ps := make([]*futures.Promise, n)
	fs := make([]*futures.Future, n)
	for i := range ps {
		p, err := futures.NewPromise()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Release)
		ps[i], fs[i] = p, p.Future
	}
	return ps, fs
}

func TestWaitFirstCompleted(t *testing.T) {
	ctx := testContext(t)
	ps, fs := promises(t, 3)
	go ps[1].SetResult([]byte("b"))
	done, notDone, err := futures.Wait(ctx, append(fs, fs[1]), futures.FirstCompleted)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) < 1 || done[0] != fs[1] || len(done)+len(notDone) != 3 {
		t.Fatalf("done %v, not done %v (duplicates count once)", done, notDone)
	}
}

func TestWaitFirstException(t *testing.T) {
	ctx := testContext(t)
	ps, fs := promises(t, 3)
	ps[0].SetResult(nil)
	ps[1].Cancel() // a cancellation is not an exception
	go ps[2].SetError(1, "x")
	done, notDone, err := futures.Wait(ctx, fs, futures.FirstException)
	if err != nil || len(done) != 3 || len(notDone) != 0 {
		t.Fatalf("done %d, not done %d, %v", len(done), len(notDone), err)
	}
	// Without a failure it waits for all.
	qs, gs := promises(t, 2)
	qs[0].SetResult(nil)
	go qs[1].SetResult(nil)
	if done, _, err := futures.Wait(ctx, gs, futures.FirstException); err != nil || len(done) != 2 {
		t.Fatalf("FIRST_EXCEPTION without a failure: %d done, %v", len(done), err)
	}
}

func TestWaitAllCompletedWithDeadline(t *testing.T) {
	ps, fs := promises(t, 4)
	ps[0].SetResult(nil)
	ps[2].SetError(3, "failed")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done, notDone, err := futures.Wait(ctx, fs, futures.AllCompleted)
	if !errors.Is(err, futures.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past the deadline: %v", err)
	}
	if len(done) != 2 || done[0] != fs[0] || done[1] != fs[2] || len(notDone) != 2 {
		t.Fatalf("partition at the deadline: done %v, not done %v", done, notDone)
	}
	// Completed by a thread pool: all done.
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 2})
	var work []*futures.Future
	for i := 0; i < 100; i++ {
		f, err := p.Submit(tt.Square(), tt.Int64(int64(i)))
		if err != nil {
			t.Fatal(err)
		}
		work = append(work, f)
	}
	done, notDone, err = futures.Wait(testContext(t), work, futures.AllCompleted)
	if err != nil || len(done) != 100 || len(notDone) != 0 {
		t.Fatalf("ALL_COMPLETED: %d done, %v", len(done), err)
	}
}

func TestWaitBadInput(t *testing.T) {
	ctx := testContext(t)
	_, fs := promises(t, 1)
	if _, _, err := futures.Wait(ctx, fs, futures.ReturnWhen(9)); !errors.Is(err, futures.ErrInvalidArgument) {
		t.Fatalf("bad return_when: %v", err)
	}
	r, _ := futures.NewPromise()
	r.Release()
	if _, _, err := futures.Wait(ctx, []*futures.Future{r.Future}, futures.AllCompleted); !errors.Is(err, futures.ErrInvalidArgument) {
		t.Fatalf("released future: %v", err)
	}
	if done, notDone, err := futures.Wait(ctx, nil, futures.AllCompleted); err != nil || len(done)+len(notDone) != 0 {
		t.Fatal("empty input")
	}
}

func TestAsCompletedOrderAndDeadline(t *testing.T) {
	ps, fs := promises(t, 5)
	ps[3].SetResult([]byte("already"))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// Completed one by one in the order 3 (before), 0, 4; 1 and 2 never.
	order := []int{0, 4}
	var got []*futures.Future
	var last error
	for f, err := range futures.AsCompleted(ctx, append(fs, fs[0])) {
		if err != nil {
			last = err
			continue
		}
		got = append(got, f)
		if len(order) > 0 {
			ps[order[0]].SetResult(nil)
			order = order[1:]
		} else {
			// The rest never completes: end the iteration by deadline.
			cancel()
		}
	}
	if len(got) != 3 || got[0] != fs[3] || got[1] != fs[0] || got[2] != fs[4] {
		t.Fatalf("yielded %v", got)
	}
	if !errors.Is(last, futures.ErrTimeout) || !strings.Contains(last.Error(), "2 (of 5) futures unfinished") {
		t.Fatalf("end by deadline: %v", last)
	}
}

func TestAsCompletedContextDeadline(t *testing.T) {
	ps, fs := promises(t, 3)
	ps[1].SetResult(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	n, timeouts := 0, 0
	for f, err := range futures.AsCompleted(ctx, fs) {
		switch {
		case err != nil:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("unexpected error %v", err)
			}
			timeouts++
		case f != fs[1]:
			t.Fatal("yielded a future that is not done")
		default:
			n++
		}
	}
	if n != 1 || timeouts != 1 {
		t.Fatalf("%d yielded, %d timeouts", n, timeouts)
	}
}

func TestAsCompletedManyFromAThreadPool(t *testing.T) {
	ctx := testContext(t)
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 4})
	const n = 2000
	fs := make([]*futures.Future, n)
	for i := range fs {
		f, err := p.Submit(tt.Square(), tt.Int64(int64(i)))
		if err != nil {
			t.Fatal(err)
		}
		fs[i] = f
	}
	seen := make(map[*futures.Future]bool, n)
	for f, err := range futures.AsCompleted(ctx, fs) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[f] || !f.IsDone() {
			t.Fatal("duplicate or not done")
		}
		seen[f] = true
	}
	if len(seen) != n {
		t.Fatalf("%d of %d", len(seen), n)
	}
	// Stopping early is fine.
	for range futures.AsCompleted(ctx, fs) {
		break
	}
}
