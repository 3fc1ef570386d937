//! Idle workers: at most a couple search (spin) for work, the others park on
//! a futex until a submit or a searcher that found work wakes one (I1, W2).
//!
//! One word counts the searching and the parked workers. A submit reads it
//! after queueing its item and wakes a parked worker only when nobody
//! searches; the woken worker counts as searching from the moment it is
//! picked, so a burst of submits wakes one worker, not one per item. A
//! searcher that finds work stops searching and, if it was the last one and
//! work is left, wakes the next parked worker (the wake-ups chain while
//! there is work). Parked workers form a stack: the most recently idled,
//! whose caches are warmest, is woken first.
//!
//! No wake-up is lost: a submit queues, then (after a full fence) reads the
//! word; a worker going to park counts itself parked (a sequentially
//! consistent read-modify-write), then looks at every queue once more. Of
//! the two, the later sees the other: either the submit sees the parker (or
//! a searcher, which looks at the queues again before it parks), or the
//! parker sees the item and does not sleep.

use super::Padded;
use crate::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use crate::sync::thread::Thread;
use crate::sync::Mutex;
use std::sync::OnceLock;

/// `State` word: searching workers in the low bits, parked ones above.
const SEARCHING_ONE: usize = 1;
const PARKED_ONE: usize = 1 << 16;
const COUNT_MASK: usize = PARKED_ONE - 1;

/// Queued items per searcher past which the searchers are taken to be
/// stalled (see `notify_one_unless_searched`): several batches' worth.
const STALLED_BACKLOG: usize = 64;

fn searching(state: usize) -> usize {
    state & COUNT_MASK
}

fn parked(state: usize) -> usize {
    (state >> 16) & COUNT_MASK
}

/// A worker's parking spot.
#[derive(Default)]
struct Spot {
    thread: OnceLock<Thread>,
    /// Set (under the stack's lock) by whoever takes the worker off the
    /// stack; the worker sleeps until it is set.
    woken: AtomicBool,
}

pub(super) struct Sleepers {
    state: Padded<AtomicUsize>,
    /// The most workers that search at once.
    max_searching: usize,
    /// Indices of the parked workers, most recently parked last; on a
    /// line of its own: it is written at every park and wake-up, and the
    /// pool's read-mostly fields must not move with it.
    stack: Padded<Mutex<Vec<usize>>>,
    spots: Box<[Padded<Spot>]>,
}

impl Sleepers {
    pub(super) fn new(max_workers: usize) -> Sleepers {
        // One searcher per two CPUs (at least one, at most two): on a small
        // machine a spinning worker takes the CPU the submitter needs.
        let max_searching = (crate::cpus::usable_cpus() / 2).clamp(1, 2);
        Sleepers {
            state: Padded(AtomicUsize::new(0)),
            max_searching,
            stack: Padded(Mutex::new(Vec::new())),
            spots: (0..max_workers).map(|_| Padded(Spot::default())).collect(),
        }
    }

    /// Called by worker `index` on its own thread before it can park.
    pub(super) fn register(&self, index: usize) {
        let _ = self.spots[index].thread.set(crate::sync::thread::current());
    }

    /// Becomes a searcher unless enough workers search already.
    pub(super) fn try_search(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if searching(s) >= self.max_searching {
                return false;
            }
            match self.state.compare_exchange_weak(
                s,
                s + SEARCHING_ONE,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// Stops searching; true if this was the last searcher.
    pub(super) fn stop_searching(&self) -> bool {
        searching(self.state.fetch_sub(SEARCHING_ONE, Ordering::SeqCst)) == 1
    }

    /// For work just queued: wakes the most recently parked worker, as a
    /// searcher, unless a worker searches already or none is parked. A
    /// read of the state word when nothing is to be done.
    pub(super) fn notify_one(&self) {
        self.notify_one_unless_searched(|| 0)
    }

    /// `notify_one` for work this thread published before a sequentially
    /// consistent fence it has made since (a `notify_*` call after the
    /// push): that fence already orders the items before this read of the
    /// state word, so a parker either sees them or is seen (the Dekker
    /// argument of the module comment needs a fence between the two, not
    /// right before the read), and no other is made.
    pub(super) fn notify_one_published(&self) {
        if !Self::wants_wake(self.state.load(Ordering::SeqCst), || 0) {
            return;
        }
        self.notify_one_unless_searched(|| 0)
    }

    /// Whether a parked worker is to be woken in state `s`: one is parked,
    /// and nobody searches or the searchers let `backlog()` pile up.
    fn wants_wake(s: usize, backlog: impl Fn() -> usize) -> bool {
        parked(s) > 0 && (searching(s) == 0 || backlog() >= STALLED_BACKLOG * searching(s))
    }

    /// `notify_one`, except that searchers who let `backlog()` (the items
    /// waiting in the injector) reach `STALLED_BACKLOG` each do not count.
    /// A searcher that runs takes a batch as soon as items come, so such a
    /// backlog means it is not running: it was woken onto a CPU that is
    /// busy (with more threads than CPUs, often the submitter's own), or
    /// preempted on its way to waking a worker. Waiting for it left a CPU
    /// idle for a whole scheduler tick (4 ms) while the submitter queued
    /// thousands of items.
    pub(super) fn notify_one_unless_searched(&self, backlog: impl Fn() -> usize) {
        let idle = |s: usize| Self::wants_wake(s, &backlog);
        fence(Ordering::SeqCst);
        if !idle(self.state.load(Ordering::SeqCst)) {
            return;
        }
        let index = {
            let mut stack = self.stack.lock();
            if !idle(self.state.load(Ordering::SeqCst)) {
                return;
            }
            let Some(index) = stack.pop() else { return };
            self.take_off(index);
            index
        };
        self.unpark(index);
    }

    /// Wakes every parked worker (shutdown). With the pool closed first,
    /// a worker about to park sees the flag in its last look.
    pub(super) fn notify_all(&self) {
        let woken: Vec<usize> = {
            let mut stack = self.stack.lock();
            let woken: Vec<usize> = stack.drain(..).collect();
            for &index in &woken {
                self.take_off(index);
            }
            woken
        };
        for index in woken {
            self.unpark(index);
        }
    }

    /// Under the stack's lock: `index` was taken off the stack; it counts
    /// as searching from now on.
    fn take_off(&self, index: usize) {
        self.spots[index].woken.store(true, Ordering::Release);
        self.state
            .fetch_sub(PARKED_ONE - SEARCHING_ONE, Ordering::SeqCst);
    }

    fn unpark(&self, index: usize) {
        if let Some(t) = self.spots[index].thread.get() {
            t.unpark();
        }
    }

    /// Parks worker `index` unless `look_again()` (which must look at every
    /// queue and the shutdown flag) says there is a reason not to. Returns
    /// true if the worker was woken and so now counts as searching.
    pub(super) fn park(&self, index: usize, look_again: impl FnOnce() -> bool) -> bool {
        let spot = &self.spots[index];
        {
            let mut stack = self.stack.lock();
            spot.woken.store(false, Ordering::Relaxed);
            stack.push(index);
            self.state.fetch_add(PARKED_ONE, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        if look_again() {
            let mut stack = self.stack.lock();
            if let Some(pos) = stack.iter().rposition(|&i| i == index) {
                stack.remove(pos);
                self.state.fetch_sub(PARKED_ONE, Ordering::SeqCst);
                return false;
            }
            // Someone took this worker off the stack meanwhile and counted
            // it as searching: it is woken (its unpark may come later and
            // then only makes one `park` below return early).
            return true;
        }
        while !spot.woken.load(Ordering::Acquire) {
            crate::sync::thread::park();
        }
        true
    }
}
