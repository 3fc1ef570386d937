package futures_test

// Flow control from Go (Q1, Q2, Q3, Q5, Q7, Q8, Q9, Q11).

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	futures "libfutures/bindings/go"
	tt "libfutures/bindings/go/internal/testtasks"
)

// waitStats polls Stats until cond holds (at most testTimeout).
func waitStats(t *testing.T, e interface {
	Stats() (futures.Stats, error)
}, cond func(futures.Stats) bool) futures.Stats {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		s, err := e.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if s.Completed+s.Failed+s.Cancelled+s.Running+s.Queued != s.Submitted {
			t.Fatalf("stats do not add up: %+v", s)
		}
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out; last stats %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFlowBoundedThreadPool(t *testing.T) {
	ctx := testContext(t)
	g := newGate(t)
	var events sync.Mutex
	var finished []futures.TaskEvent
	observe := func(ev futures.TaskEvent) {
		if ev.Kind == futures.TaskFinished {
			events.Lock()
			finished = append(finished, ev)
			events.Unlock()
		}
	}
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 1, MaxQueued: 1, ThreadNamePrefix: "goflow",
		OnTaskEvent: observe})
	first, err := p.Submit(tt.Gate(), tt.GateArg(g.startedFd(), g.gateFd(), taskTimeout, false))
	if err != nil {
		t.Fatal(err)
	}
	g.waitStarted(t, 1)
	queued, err := p.SubmitTimeout(tt.Square(), tt.Int64(3), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.SubmitTimeout(tt.Square(), tt.Int64(4), 0); !errors.Is(err, futures.ErrQueueFull) {
		t.Fatalf("full queue, no wait: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := p.SubmitContext(short, tt.Square(), tt.Int64(5)); !errors.Is(err, futures.ErrQueueFull) ||
		!errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("full queue, context: %v", err)
	}
	s := waitStats(t, p, func(s futures.Stats) bool { return s.Running == 1 && s.Queued == 1 })
	if s.MaxQueued != 1 {
		t.Fatalf("MaxQueued %d", s.MaxQueued)
	}
	d, err := p.Describe()
	if err != nil || !strings.Contains(d, "goflow_0: running task 1") {
		t.Fatalf("describe: %v\n%s", err, d)
	}
	g.open(t)
	for _, f := range []*futures.Future{first, queued} {
		if _, err := f.Result(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitStats(t, p, func(s futures.Stats) bool { return s.Completed == 2 })
	if err := p.ShutdownTimeout(false, testTimeout); err != nil {
		t.Fatal(err)
	}
	// Q9: each task's "finished" came before its future completed.
	events.Lock()
	defer events.Unlock()
	if len(finished) != 2 || finished[0].Task != 1 || finished[1].Task != 2 ||
		finished[0].Status != futures.StatusOK || finished[0].Run <= 0 {
		t.Fatalf("events: %+v", finished)
	}
}

func TestFlowProcessPoolKillAndShutdownTimeout(t *testing.T) {
	ctx := testContext(t)
	g := newGate(t)
	var broken atomic.Int32
	p := newProcessPool(t, &futures.ProcessPoolOptions{MaxWorkers: 1, OnTaskEvent: func(ev futures.TaskEvent) {
		if ev.Kind == futures.TaskFinished && ev.Status == futures.ErrBrokenPool {
			broken.Add(1)
		}
	}})
	f, err := p.Submit(tt.Gate(), tt.GateArg(g.startedFd(), g.gateFd(), taskTimeout, false))
	if err != nil {
		t.Fatal(err)
	}
	g.waitStarted(t, 1)
	if err := p.KillWorkers(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Result(ctx); !errors.Is(err, futures.ErrBrokenPool) {
		t.Fatalf("killed worker's task: %v", err)
	}
	if broken.Load() != 1 { // told on the manager thread, before the future failed
		t.Fatalf("%d broken-pool events", broken.Load())
	}
	q := newProcessPool(t, &futures.ProcessPoolOptions{MaxWorkers: 1})
	f, err = q.Submit(tt.Gate(), tt.GateArg(g.startedFd(), g.gateFd(), taskTimeout, false))
	if err != nil {
		t.Fatal(err)
	}
	g.waitStarted(t, 1)
	if err := q.ShutdownTimeout(true, 20*time.Millisecond); !errors.Is(err, futures.ErrTimeout) {
		t.Fatalf("shutdown past its deadline: %v", err)
	}
	if _, err := f.Result(ctx); !errors.Is(err, futures.ErrBrokenPool) {
		t.Fatalf("terminated worker's task: %v", err)
	}
	r := newProcessPool(t, &futures.ProcessPoolOptions{MaxWorkers: 1})
	if err := r.TerminateWorkers(); err != nil {
		t.Fatal(err)
	}
}
