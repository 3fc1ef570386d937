package futures

/*
#include <stdlib.h>
#include "futures_go.h"
*/
import "C"

import (
	"os"
	"sync"
	"unsafe"
)

// How completions reach Go (see the package documentation): every future
// this package hands out is attached to one process-wide completion queue
// with an integer tag; one goroutine waits until the queue's descriptor is
// readable (through Go's runtime poller, so no OS thread is parked for it),
// drains the entries on its own Go-managed thread, and closes each future's
// done channel. No library thread ever calls into Go.

// state is the Go side of one future: its done channel and who waits on it.
type state struct {
	done chan struct{}

	mu     sync.Mutex
	closed bool
	subs   map[*notifier]int
	onDone func() // runs once on the queue goroutine after done closes
}

// notifier receives, once per subscribed future, the index it was
// subscribed with. Its buffer holds one entry per subscription, so a send
// never blocks.
type notifier struct {
	ch chan int
}

func newNotifier(n int) *notifier { return &notifier{ch: make(chan int, n)} }

func newState() *state {
	return &state{done: make(chan struct{})}
}

// subscribe asks for idx on n once the future is done (at once if it is).
func (s *state) subscribe(n *notifier, idx int) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		n.ch <- idx
		return
	}
	if s.subs == nil {
		s.subs = make(map[*notifier]int)
	}
	s.subs[n] = idx
	s.mu.Unlock()
}

func (s *state) unsubscribe(n *notifier) {
	s.mu.Lock()
	delete(s.subs, n)
	s.mu.Unlock()
}

func (s *state) complete() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	subs := s.subs
	s.subs = nil
	onDone := s.onDone
	s.onDone = nil
	s.mu.Unlock()
	for n, idx := range subs {
		select {
		case n.ch <- idx:
		default: // cannot happen: one slot per subscription
		}
	}
	if onDone != nil {
		onDone()
	}
}

const drainBatch = 64

type completionQueue struct {
	q     *C.fut_completion_queue
	batch *C.fut_completion // drainBatch entries in C memory

	mu     sync.Mutex
	nextID uint64
	states map[uint64]*state
}

var (
	cqOnce sync.Once
	cq     *completionQueue
	cqErr  error
)

func theQueue() (*completionQueue, error) {
	cqOnce.Do(func() {
		var q *C.fut_completion_queue
		if err := statusErr(C.fut_completion_queue_new(&q)); err != nil {
			cqErr = err
			return
		}
		cq = &completionQueue{
			q:      q,
			batch:  (*C.fut_completion)(C.malloc(C.size_t(drainBatch) * C.size_t(unsafe.Sizeof(C.fut_completion{})))),
			states: make(map[uint64]*state),
		}
		go cq.run()
	})
	return cq, cqErr
}

// attach registers st for f: st completes once f is done.
func attach(f *C.fut_future, st *state) error {
	q, err := theQueue()
	if err != nil {
		return err
	}
	q.mu.Lock()
	q.nextID++
	id := q.nextID
	q.states[id] = st
	q.mu.Unlock()
	if err := statusErr(C.fut_go_attach(q.q, f, C.uintptr_t(id))); err != nil {
		q.mu.Lock()
		delete(q.states, id)
		q.mu.Unlock()
		return err
	}
	return nil
}

// run is the queue's goroutine; it never returns.
func (q *completionQueue) run() {
	if os.Getenv("FUTURES_GO_CQ") != "wait" {
		q.runPoller()
	}
	// No usable poller (or forced by FUTURES_GO_CQ=wait, for tests): park
	// this goroutine's thread in the library's blocking wait instead.
	for {
		C.fut_completion_queue_wait(q.q, -1)
		q.drainAll()
	}
}

// runPoller waits for readability with Go's runtime poller. It returns only
// if the descriptor cannot be polled that way.
func (q *completionQueue) runPoller() {
	fd := C.fut_go_dup_cloexec(C.fut_completion_queue_fd(q.q))
	if fd < 0 {
		return
	}
	f := os.NewFile(uintptr(fd), "libfutures-completion-queue")
	if f == nil {
		return
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	// The poller is edge-triggered; the callback runs after the readiness
	// state was reset, so a completion queued after a drain found the queue
	// empty writes the eventfd again and wakes the next wait: nothing is
	// lost. The callback never reports success, so Read loops forever.
	_ = rc.Read(func(uintptr) bool {
		q.drainAll()
		return false
	})
}

// drainAll takes every queued entry, releases the queue's references and
// completes the Go states.
func (q *completionQueue) drainAll() {
	for {
		var n C.size_t
		if C.fut_completion_queue_drain(q.q, q.batch, drainBatch, &n) != C.FUT_OK || n == 0 {
			return
		}
		for i := C.size_t(0); i < n; i++ {
			id := uint64(C.fut_go_entry_id(q.batch, i))
			C.fut_future_release(C.fut_go_entry_future(q.batch, i))
			q.mu.Lock()
			st := q.states[id]
			delete(q.states, id)
			q.mu.Unlock()
			if st != nil {
				st.complete()
			}
		}
		if n < drainBatch {
			return
		}
	}
}
