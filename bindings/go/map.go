package futures

/*
#include "futures_go.h"
*/
import "C"

import (
	"context"
	"errors"
	"io"
	"iter"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// MapOption configures Map.
type MapOption func(*mapConfig)

type mapConfig struct {
	chunksize int
	window    int
	unordered bool
}

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

// Window bounds IMap: at most n chunks of Chunksize arguments are in flight
// (taken from next but not yet given by IMapResults.Next), never one more
// (L3). The default is 64; n < 1 makes IMap answer ErrInvalidArgument.
// Map ignores it.
func Window(n int) MapOption { return func(c *mapConfig) { c.window = n } }

// Unordered has IMap give the results as they complete rather than in
// input order (L4). Map ignores it.
func Unordered() MapOption { return func(c *mapConfig) { c.unordered = true } }

// IMap is Map over a lazy input (fut_executor_imap, L1): next gives one
// argument per call (io.EOF: no more; any other error ends the input there,
// as a failed result at its position, L5). next runs on the goroutine that
// calls IMapResults.Next, inside it, one call at a time, never after it
// ended (L2); each argument is copied. At most Window(n) × Chunksize(k)
// arguments are in flight; a process pool sends each chunk in one message.
// ctx bounds the whole iteration: once it ends, Next gives an error
// matching ErrTimeout and what is in flight is cancelled.
func (e *executor) IMap(ctx context.Context, fn TaskFunc, next func() ([]byte, error), opts ...MapOption) (*IMapResults, error) {
	cfg := mapConfig{chunksize: 1, window: 64}
	for _, o := range opts {
		o(&cfg)
	}
	h := e.handle()
	if h == nil || fn == nil || next == nil || cfg.chunksize < 1 || cfg.window < 1 {
		return nil, ErrInvalidArgument
	}
	defer runtime.KeepAlive(e)
	flags := C.uint32_t(0)
	if cfg.unordered {
		flags = C.FUT_IMAP_UNORDERED
	}
	handle := cgo.NewHandle(&imapSource{next: next})
	var cm *C.fut_map
	st := C.fut_go_imap(h, C.fut_task_fn(fn), C.uintptr_t(handle), C.size_t(cfg.window), C.size_t(cfg.chunksize), flags, &cm)
	if err := statusErr(st); err != nil {
		handle.Delete() // refused: the library never took it
		return nil, err
	}
	m := &IMapResults{ctx: ctx, cmap: cm}
	runtime.SetFinalizer(m, (*IMapResults).Close)
	return m, nil
}

type imapSource struct {
	next func() ([]byte, error)
}

// futGoProduce runs IMap's next for the library, on the goroutine inside
// IMapResults.Next; it never lets a panic unwind into C.
//
//export futGoProduce
func futGoProduce(h C.uintptr_t, p *unsafe.Pointer, n *C.size_t) (code C.int32_t) {
	defer func() {
		if r := recover(); r != nil {
			code = C.FUT_ERR_TASK_FAILED
		}
	}()
	src := cgo.Handle(h).Value().(*imapSource)
	arg, err := src.next()
	if errors.Is(err, io.EOF) {
		return C.FUT_END
	}
	if err != nil {
		var te *TaskError
		if errors.As(err, &te) && te.Code != C.FUT_OK && te.Code != C.FUT_END {
			return C.int32_t(te.Code)
		}
		return C.FUT_ERR_TASK_FAILED
	}
	if len(arg) > 0 {
		*p = C.CBytes(arg) // freed by the library (fut_go_imap's item_drop)
		*n = C.size_t(len(arg))
	}
	return C.FUT_OK
}

// futGoProducerDrop lets IMap's next go (the library's user_drop).
//
//export futGoProducerDrop
func futGoProducerDrop(h C.uintptr_t) { cgo.Handle(h).Delete() }

// IMapResult is one result of IMap: the input's index (from 0), and its
// value or error. A failed input's *Error has a Detail that starts with
// "input <Index>" (L6).
type IMapResult struct {
	Index int
	Value []byte
	Err   error
}

// IMapResults gives the results of IMap. Use it from one goroutine at a
// time.
type IMapResults struct {
	ctx  context.Context
	cmap *C.fut_map
	done bool
}

// imapSlice is how long one wait in C lasts before Next looks at ctx again.
const imapSlice = 20 * time.Millisecond

// Next waits for the next result (input order, or completion order with
// Unordered); ok is false at the end. If ctx ends first, Next gives a
// result whose Err matches ErrTimeout (Index -1) once, cancels what is in
// flight, and the iteration ends.
func (m *IMapResults) Next() (r IMapResult, ok bool) {
	if m.done {
		return IMapResult{}, false
	}
	for {
		if m.ctx.Err() != nil {
			m.Close()
			return IMapResult{Index: -1, Err: ctxError(m.ctx, "imap")}, true
		}
		wait := imapSlice
		if d, has := m.ctx.Deadline(); has {
			wait = min(wait, max(time.Until(d), 0))
		}
		var out *C.fut_future
		var index C.uint64_t
		st := C.fut_map_next_timeout(m.cmap, C.int64_t(wait.Nanoseconds()), &out, &index)
		switch st {
		case C.FUT_OK:
			v, err := doneOutcome(out)
			C.fut_future_release(out)
			return IMapResult{Index: int(index), Value: v, Err: err}, true
		case C.FUT_ERR_TIMEOUT:
			continue // L7: nothing was cancelled; look at ctx again
		case C.FUT_END:
			m.Close()
			return IMapResult{}, false
		default:
			m.Close()
			return IMapResult{Index: -1, Err: statusErr(st)}, true
		}
	}
}

// All iterates over the remaining results with Next.
func (m *IMapResults) All() iter.Seq[IMapResult] {
	return func(yield func(IMapResult) bool) {
		for {
			r, ok := m.Next()
			if !ok || !yield(r) {
				return
			}
		}
	}
}

// Close cancels what is in flight (running tasks finish, discarded) and
// lets next go (L8). Idempotent.
func (m *IMapResults) Close() {
	m.done = true
	if m.cmap != nil {
		runtime.SetFinalizer(m, nil)
		C.fut_map_release(m.cmap)
		m.cmap = nil
	}
}

// doneOutcome is the value (copied) or the failure of a done future.
func doneOutcome(h *C.fut_future) ([]byte, error) {
	var p unsafe.Pointer
	var n C.size_t
	if C.fut_future_result(h, 0, &p, &n) == C.FUT_OK {
		if n == 0 {
			return nil, nil
		}
		return C.GoBytes(p, C.int(n)), nil
	}
	failure, err := (&Future{}).exception(h)
	if err != nil {
		return nil, err
	}
	return nil, failure
}
