package futures_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	futures "libfutures/bindings/go"
	tt "libfutures/bindings/go/internal/testtasks"
)

// counting gives the int64 arguments 0..n-1 and checks, at each one it
// gives, that at most limit are in flight (taken, not yet consumed: L3).
type counting struct {
	t                  *testing.T
	n, limit           int
	produced, consumed int
	maxInFlight        int
}

func (c *counting) next() ([]byte, error) {
	if c.produced == c.n {
		return nil, io.EOF
	}
	c.produced++
	inFlight := c.produced - c.consumed
	if inFlight > c.limit {
		c.t.Errorf("%d arguments in flight, window %d", inFlight, c.limit)
	}
	c.maxInFlight = max(c.maxInFlight, inFlight)
	return tt.Int64(int64(c.produced - 1)), nil
}

// L1/L2/L3: results in input order with their index; next runs only inside
// Next (no goroutine of its own: the counters need no lock); the window of
// 4 chunks of 8 is filled and never exceeded.
func TestIMapThreadPoolInOrderWithinTheWindow(t *testing.T) {
	ctx := testContext(t)
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 2})
	c := &counting{t: t, n: 500, limit: 32}
	m, err := p.IMap(ctx, tt.Square(), c.next, futures.Window(4), futures.Chunksize(8))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if c.produced != 0 {
		t.Fatalf("next ran %d times before the iteration", c.produced)
	}
	i := 0
	for r := range m.All() {
		if r.Err != nil || r.Index != i || tt.AsInt64(r.Value) != int64(i*i) {
			t.Fatalf("result %d: %+v", i, r)
		}
		c.consumed++
		i++
	}
	if i != 500 || c.maxInFlight != 32 {
		t.Fatalf("%d results, at most %d in flight", i, c.maxInFlight)
	}
}

// L5/L6/L9: on a process pool in chunks, a failed input's Detail names it;
// an error from next ends the input at its position.
func TestIMapProcessPoolChunkedErrorsNameTheirInput(t *testing.T) {
	ctx := testContext(t)
	p := newProcessPool(t, &futures.ProcessPoolOptions{MaxWorkers: 2})
	k := 0
	next := func() ([]byte, error) {
		defer func() { k++ }()
		switch k {
		case 3:
			return []byte("bad"), nil // wrong size: the task fails with EINVAL
		case 6:
			return nil, &futures.TaskError{Code: 42, Message: "source broke"}
		}
		return tt.Int64(int64(k)), nil
	}
	m, err := p.IMap(ctx, tt.Square(), next, futures.Window(2), futures.Chunksize(4))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var got []futures.IMapResult
	for r := range m.All() {
		got = append(got, r)
	}
	if len(got) != 7 {
		t.Fatalf("%d results: %+v", len(got), got)
	}
	for i, r := range got {
		var fe *futures.Error
		switch {
		case r.Index != i:
			t.Fatalf("result %d has index %d", i, r.Index)
		case i == 3 || i == 6:
			if !errors.As(r.Err, &fe) || !strings.HasPrefix(fe.Detail, fmt.Sprintf("input %d", i)) {
				t.Fatalf("input %d: %v", i, r.Err)
			}
			if i == 6 && fe.Code != 42 {
				t.Fatalf("input 6: code %d", fe.Code)
			}
		case r.Err != nil || tt.AsInt64(r.Value) != int64(i*i):
			t.Fatalf("input %d: %+v", i, r)
		}
	}
	if k != 7 {
		t.Fatalf("next called %d times, want 7 (never after its error)", k)
	}
}

// L4: unordered gives the quick inputs before the one blocked on the gate.
func TestIMapUnorderedFollowsCompletion(t *testing.T) {
	ctx := testContext(t)
	g, open := newGate(t), newGate(t)
	open.open(t)
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 3})
	args := [][]byte{
		tt.GateArg(-1, g.gateFd(), taskTimeout, false),    // waits for g
		tt.GateArg(-1, open.gateFd(), taskTimeout, false), // passes at once
		tt.GateArg(-1, open.gateFd(), taskTimeout, false),
	}
	k := 0
	next := func() ([]byte, error) {
		if k == len(args) {
			return nil, io.EOF
		}
		k++
		return args[k-1], nil
	}
	m, err := p.IMap(ctx, tt.Gate(), next, futures.Window(3), futures.Unordered())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var order []int
	for r := range m.All() {
		if r.Err != nil {
			t.Fatalf("input %d: %v", r.Index, r.Err)
		}
		order = append(order, r.Index)
		if len(order) == 2 {
			g.open(t) // only now may input 0 finish
		}
	}
	if len(order) != 3 || order[2] != 0 {
		t.Fatalf("completion order %v, want input 0 last", order)
	}
}

// The context bounds the iteration: once it ends, Next gives an error
// matching ErrTimeout, what is in flight is cancelled (L8), and it ends.
func TestIMapContextEndsTheIteration(t *testing.T) {
	g := newGate(t)
	p := newThreadPool(t, &futures.ThreadPoolOptions{MaxWorkers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	next := func() ([]byte, error) {
		calls++
		return tt.GateArg(g.startedFd(), g.gateFd(), taskTimeout, false), nil
	}
	m, err := p.IMap(ctx, tt.Gate(), next, futures.Window(3))
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		r  futures.IMapResult
		ok bool
	}
	got := make(chan answer, 1)
	go func() {
		r, ok := m.Next() // blocks: input 0 waits for the gate
		got <- answer{r, ok}
	}()
	g.waitStarted(t, 1)
	cancel()
	res := <-got
	r, ok := res.r, res.ok
	if !ok || !errors.Is(r.Err, futures.ErrTimeout) || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("Next after the context ended: %+v, %v", r, ok)
	}
	if _, ok := m.Next(); ok {
		t.Fatal("the iteration goes on after its context ended")
	}
	if calls != 3 {
		t.Fatalf("next called %d times, window 3", calls)
	}
	g.open(t)
	if err := p.Shutdown(true, false); err != nil {
		t.Fatal(err)
	}
}

func TestIMapRefusesBadOptions(t *testing.T) {
	ctx := testContext(t)
	p := newThreadPool(t, nil)
	next := func() ([]byte, error) { return nil, io.EOF }
	for _, o := range []futures.MapOption{futures.Window(0), futures.Chunksize(0)} {
		if _, err := p.IMap(ctx, tt.Square(), next, o); !errors.Is(err, futures.ErrInvalidArgument) {
			t.Fatalf("IMap: %v", err)
		}
	}
}
