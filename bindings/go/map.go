package futures

/*
#include "futures_go.h"
*/
import "C"

import (
	"context"
	"iter"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// MapOption configures Map.
type MapOption func(*mapConfig)

type mapConfig struct{ chunksize int }

// Chunksize has a process pool send n arguments per message to a worker
// (fut_executor_map's chunksize: fewer, larger messages for many small
// tasks); a thread pool ignores it. The default is 1; n < 1 makes Map
// answer ErrInvalidArgument.
func Chunksize(n int) MapOption { return func(c *mapConfig) { c.chunksize = n } }

// Map submits fn once per argument before it returns (like Python's map:
// a refusal is returned here, and what was submitted is then cancelled),
// and gives the results in input order. ctx is the deadline of the whole
// iteration (Python's timeout). Each argument is copied.
//
// With Chunksize(n > 1) a process pool submits through fut_executor_map:
// its futures reach the MapResults one by one, in input order, as they
// finish (one goroutine waits for them in C). Ending the iteration early
// (Close, or ctx) then cancels the arguments not yet given once the one
// being waited for finishes, or at ctx's deadline if it has one.
func (e *executor) Map(ctx context.Context, fn TaskFunc, args [][]byte, opts ...MapOption) (*MapResults, error) {
	cfg := mapConfig{chunksize: 1}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.chunksize < 1 {
		return nil, ErrInvalidArgument
	}
	if cfg.chunksize > 1 && e.copiesArgs {
		return e.mapChunked(ctx, fn, args, cfg.chunksize)
	}
	m := &MapResults{ctx: ctx, futures: make([]*Future, 0, len(args))}
	for _, a := range args {
		f, err := e.Submit(fn, a)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.futures = append(m.futures, f)
	}
	return m, nil
}

// mapChunked is Map through fut_executor_map, for an executor that copies
// the arguments during the call (so Go memory may be passed).
func (e *executor) mapChunked(ctx context.Context, fn TaskFunc, args [][]byte, chunksize int) (*MapResults, error) {
	h := e.handle()
	if h == nil || fn == nil {
		return nil, ErrInvalidArgument
	}
	defer runtime.KeepAlive(e)
	var buf []byte
	lens := make([]C.size_t, len(args)+1) // never empty: &lens[0] is valid
	for i, a := range args {
		buf = append(buf, a...)
		lens[i] = C.size_t(len(a))
	}
	var p unsafe.Pointer
	if len(buf) > 0 {
		p = unsafe.Pointer(&buf[0])
	}
	timeout := C.int64_t(-1)
	if d, ok := ctx.Deadline(); ok {
		timeout = C.int64_t(max(time.Until(d), 0).Nanoseconds())
	}
	var cm *C.fut_map
	st := C.fut_go_map_bytes(h, C.fut_task_fn(fn), p, &lens[0], C.size_t(len(args)), timeout,
		C.size_t(chunksize), &cm)
	if err := statusErr(st); err != nil {
		return nil, err
	}
	m := &MapResults{ctx: ctx, n: len(args), arrived: make(chan *Future, len(args)), cmap: cm}
	// A MapResults dropped before its end still gives the C map back (once
	// collect, which holds m, has ended).
	runtime.SetFinalizer(m, (*MapResults).Close)
	go m.collect()
	return m, nil
}

// collect moves the futures of the C map into m.arrived, in input order,
// each once it is done; it ends at the map's end, its deadline, or once
// Close released the map.
func (m *MapResults) collect() {
	defer close(m.arrived)
	for {
		var out *C.fut_future
		if C.fut_map_next(m.cmap, &out) != C.FUT_OK {
			return // FUT_END, FUT_ERR_TIMEOUT, or released by Close
		}
		f, err := newFuture(out)
		if err != nil {
			return
		}
		m.mu.Lock()
		closed := m.closed
		if !closed {
			m.arrived <- f // never blocks: room for every item
		}
		m.mu.Unlock()
		if closed {
			f.Release()
		}
	}
}

// MapResults gives the results of Map in input order. Use it from one
// goroutine at a time.
type MapResults struct {
	ctx     context.Context
	futures []*Future
	next    int
	done    bool

	// Chunked maps (fut_executor_map): futures arrive as they finish.
	n       int
	arrived chan *Future
	cmap    *C.fut_map
	mu      sync.Mutex
	closed  bool
}

// Len is the number of submitted items.
func (m *MapResults) Len() int {
	if m.arrived != nil {
		return m.n
	}
	return len(m.futures)
}

// Next waits for the next result in input order. ok is false once every
// result was given. A failed task gives its *Error at its position and the
// iteration goes on. If the Map's context ends first, Next gives an error
// matching ErrTimeout once, every future not yet given is cancelled, and
// the iteration ends.
func (m *MapResults) Next() (value []byte, err error, ok bool) {
	if m.arrived != nil {
		return m.nextArrived()
	}
	if m.done || m.next >= len(m.futures) {
		m.done = true
		return nil, nil, false
	}
	f := m.futures[m.next]
	if werr := f.Wait(m.ctx); werr != nil {
		m.Close()
		return nil, werr, true
	}
	m.futures[m.next] = nil
	m.next++
	value, err = f.Result(context.Background())
	f.Release() // the iterator keeps nothing it has given (E15)
	return value, err, true
}

func (m *MapResults) nextArrived() (value []byte, err error, ok bool) {
	if m.done || m.next >= m.n {
		m.done = true
		return nil, nil, false
	}
	select {
	case f, open := <-m.arrived:
		if !open { // the C map's deadline (ctx's) passed first
			m.Close()
			return nil, ctxError(m.ctx, "map"), true
		}
		m.next++
		value, err = f.Result(context.Background())
		f.Release()
		if m.next == m.n {
			m.Close() // releases the C map
		}
		return value, err, true
	case <-m.ctx.Done():
		m.Close()
		return nil, ctxError(m.ctx, "map"), true
	}
}

// All iterates over the remaining results with Next.
func (m *MapResults) All() iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		for {
			v, err, ok := m.Next()
			if !ok || !yield(v, err) {
				return
			}
		}
	}
}

// Close cancels and releases every future not yet given (those already
// running finish and are discarded). Idempotent.
func (m *MapResults) Close() {
	m.done = true
	for i, f := range m.futures {
		if f != nil {
			f.Cancel()
			f.Release()
			m.futures[i] = nil
		}
	}
	if m.arrived == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	// Futures collected but not given; later ones collect releases itself.
	for drained := false; !drained; {
		select {
		case f, open := <-m.arrived:
			if !open {
				drained = true
				break
			}
			f.Release()
		default:
			drained = true
		}
	}
	// The C map cancels what it has not yielded once collect's pending
	// fut_map_next returns (it holds a reference of its own).
	C.fut_map_release(m.cmap)
}
