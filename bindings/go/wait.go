package futures

/*
#include "futures_go.h"
*/
import "C"

import (
	"context"
	"fmt"
	"iter"
)

// ReturnWhen says when Wait returns.
type ReturnWhen int

// The conditions of Wait (fut_return_when).
const (
	// FirstCompleted: as soon as any future is done (finished or cancelled).
	FirstCompleted ReturnWhen = C.FUT_FIRST_COMPLETED
	// FirstException: as soon as any future finishes with an error (a
	// cancellation is not one), else when all are done.
	FirstException ReturnWhen = C.FUT_FIRST_EXCEPTION
	// AllCompleted: when every future is done.
	AllCompleted ReturnWhen = C.FUT_ALL_COMPLETED
)

// distinct drops duplicates (by identity), keeping the first occurrence.
func distinct(fs []*Future) ([]*Future, error) {
	seen := make(map[*Future]bool, len(fs))
	out := make([]*Future, 0, len(fs))
	for _, f := range fs {
		if f.handle() == nil {
			return nil, ErrInvalidArgument
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out, nil
}

// Wait blocks until when holds for fs (Python's wait) or ctx ends, and
// returns the partition of the distinct futures of fs into done and not
// done, each in input order. err is nil when the condition held; when ctx
// ended first, the partition is the one at that moment and err matches
// ErrTimeout and ctx.Err(). Bad input: ErrInvalidArgument.
//
// No thread is blocked: the wait is a select on the futures' completions.
func Wait(ctx context.Context, fs []*Future, when ReturnWhen) (done, notDone []*Future, err error) {
	if when != FirstCompleted && when != FirstException && when != AllCompleted {
		return nil, nil, ErrInvalidArgument
	}
	ds, err := distinct(fs)
	if err != nil {
		return nil, nil, err
	}
	n := newNotifier(len(ds))
	for i, f := range ds {
		f.st.subscribe(n, i)
	}
	defer func() {
		for _, f := range ds {
			f.st.unsubscribe(n)
		}
	}()
	for {
		// The C state decides; the notifications only say when to look again.
		done, notDone = done[:0], notDone[:0]
		anyFailed := false
		for _, f := range ds {
			if f.IsDone() {
				done = append(done, f)
				anyFailed = anyFailed || f.failed()
			} else {
				notDone = append(notDone, f)
			}
		}
		if len(notDone) == 0 ||
			(when == FirstCompleted && len(done) > 0) ||
			(when == FirstException && anyFailed) {
			return done, notDone, nil
		}
		select {
		case <-n.ch:
		case <-ctx.Done():
			return done, notDone, ctxError(ctx, fmt.Sprintf("%d (of %d) futures unfinished", len(notDone), len(ds)))
		}
	}
}

// AsCompleted iterates over the distinct futures of fs as they complete
// (Python's as_completed): those already done first, then in completion
// order, each once, cancelled ones included. ctx is the deadline of the
// whole iteration: when it ends before every future was given, the
// iteration yields (nil, err) once, err matching ErrTimeout and ctx.Err()
// and naming how many futures are unfinished, and stops. Bad input yields
// (nil, ErrInvalidArgument).
//
//	for f, err := range futures.AsCompleted(ctx, fs) {
//		if err != nil { ... }   // deadline
//		v, err := f.Result(ctx) // done: never blocks
//	}
func AsCompleted(ctx context.Context, fs []*Future) iter.Seq2[*Future, error] {
	return func(yield func(*Future, error) bool) {
		ds, err := distinct(fs)
		if err != nil {
			yield(nil, err)
			return
		}
		n := newNotifier(len(ds))
		for i, f := range ds {
			f.st.subscribe(n, i)
		}
		defer func() {
			for _, f := range ds {
				f.st.unsubscribe(n)
			}
		}()
		given := make([]bool, len(ds))
		left := len(ds)
		give := func(i int) bool {
			given[i] = true
			left--
			return yield(ds[i], nil)
		}
		for i, f := range ds {
			if f.IsDone() && !give(i) {
				return
			}
		}
		for left > 0 {
			select {
			case i := <-n.ch:
				if !given[i] && !give(i) {
					return
				}
			case <-ctx.Done():
				yield(nil, ctxError(ctx, fmt.Sprintf("%d (of %d) futures unfinished", left, len(ds))))
				return
			}
		}
	}
}
