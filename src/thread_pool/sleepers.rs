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
//!
//! More workers than CPUs (a pool of 16 on 2 CPUs, T12): at most `cap`
//! workers (the usable CPUs) are awake at once while they make progress. A
//! wake-up that would pass the cap is not made, and a worker that runs out
//! of its own items while more than `cap` are awake parks even if work is
//! queued (it stands down). Before, every worker of such a pool stayed
//! awake in a stream of tasks, the CPUs switching among them (28,000-68,000
//! context switches in 20 runs of B-W5 with 16 workers on 2 CPUs, against
//! under 2,000 capped) and each stealing from the others: 15-20 % more CPU
//! per task than 2 workers. Awake workers blocked in their tasks must not
//! strand the queue, so one parked worker is the watchdog whenever the cap
//! held a wake-up back: it sleeps `WATCH_PERIOD` at a time and, when the
//! queued work stalled since its last look (see `Inner::watch`: no item
//! taken, a worker still in the same task, or one holding items that took
//! none), it wakes to work and hands the watch to another parked worker; it
//! stops watching once nothing is queued. So a pool where every awake
//! worker blocks still runs all of its tasks, each worker past the cap a
//! period or two late.

use super::Padded;
use crate::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use crate::sync::thread::Thread;
use crate::sync::Mutex;
use std::sync::OnceLock;
use std::time::Duration;

/// How long the watchdog sleeps between two looks at the queued work.
const WATCH_PERIOD: Duration = Duration::from_millis(1);

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
    /// This parked worker is the watchdog (written under the stack's lock).
    watch: AtomicBool,
}

/// What the watchdog makes of a look at the queues (`Sleepers::park`).
pub(super) enum Watch {
    /// Work is queued and moving: sleep another period.
    Continue,
    /// Nothing is queued: stop watching, sleep until woken.
    Resign,
    /// Queued work made no progress for a period: stop watching, work.
    Work,
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
    /// The most workers awake at once before wake-ups wait for the
    /// watchdog (`usize::MAX`: no cap; see the module comment).
    cap: usize,
    /// Workers registered so far (only grows); read with `cap`.
    workers: AtomicUsize,
    /// The watchdog's index + 1, or 0: written under the stack's lock,
    /// read by wake-ups the cap held back; on a line of its own.
    watcher: Padded<AtomicUsize>,
}

impl Sleepers {
    pub(super) fn new(max_workers: usize) -> Sleepers {
        // One searcher per two CPUs (at least one, at most two): on a small
        // machine a spinning worker takes the CPU the submitter needs.
        let cpus = crate::cpus::usable_cpus();
        let max_searching = (cpus / 2).clamp(1, 2);
        // The model checker does not model time (the watchdog's period).
        let cap = if cfg!(feature = "shuttle") || max_workers <= cpus.max(2) {
            usize::MAX
        } else {
            cpus.max(2)
        };
        Sleepers {
            state: Padded(AtomicUsize::new(0)),
            max_searching,
            stack: Padded(Mutex::new(Vec::new())),
            spots: (0..max_workers).map(|_| Padded(Spot::default())).collect(),
            cap,
            workers: AtomicUsize::new(0),
            watcher: Padded(AtomicUsize::new(0)),
        }
    }

    /// Workers not parked in state `s` (running, searching, being woken).
    fn awake(&self, s: usize) -> usize {
        self.workers
            .load(Ordering::Relaxed)
            .saturating_sub(parked(s))
    }

    /// Whether `cap` or more workers are awake in state `s`.
    fn at_cap(&self, s: usize) -> bool {
        self.cap != usize::MAX && self.awake(s) >= self.cap
    }

    /// For a wake-up the cap held back: makes the longest parked worker
    /// the watchdog, unless there is one (or nobody is parked).
    fn ensure_watchdog(&self) {
        if self.watcher.load(Ordering::Acquire) != 0 {
            return;
        }
        let index = {
            let stack = self.stack.lock();
            if self.watcher.load(Ordering::Relaxed) != 0 {
                return;
            }
            let Some(&index) = stack.first() else { return };
            self.appoint(index);
            index
        };
        self.unpark(index);
    }

    /// Under the stack's lock: `index`, parked, becomes the watchdog.
    fn appoint(&self, index: usize) {
        self.spots[index].watch.store(true, Ordering::Release);
        self.watcher.store(index + 1, Ordering::Release);
    }

    /// Under the stack's lock: `index` stops being the watchdog, if it is.
    fn dismiss(&self, index: usize) {
        if self.spots[index].watch.swap(false, Ordering::AcqRel) {
            self.watcher.store(0, Ordering::Release);
        }
    }

    /// Called by worker `index` on its own thread before it can park.
    pub(super) fn register(&self, index: usize) {
        let _ = self.spots[index].thread.set(crate::sync::thread::current());
        self.workers.fetch_add(1, Ordering::Relaxed);
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
        let s = self.state.load(Ordering::SeqCst);
        if !Self::wants_wake(s, || 0) {
            return;
        }
        if self.at_cap(s) {
            return self.ensure_watchdog();
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
        let s = self.state.load(Ordering::SeqCst);
        if !idle(s) {
            return;
        }
        if self.at_cap(s) {
            return self.ensure_watchdog();
        }
        let woken = {
            let mut stack = self.stack.lock();
            let s = self.state.load(Ordering::SeqCst);
            if !idle(s) {
                return;
            }
            if self.at_cap(s) {
                None
            } else {
                let Some(index) = stack.pop() else { return };
                self.take_off(index);
                Some(index)
            }
        };
        match woken {
            Some(index) => self.unpark(index),
            None => self.ensure_watchdog(),
        }
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
        self.dismiss(index);
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
    /// true if the worker was woken and so now counts as searching. While
    /// it is the watchdog, `watch()` judges each look (see `Watch`).
    pub(super) fn park(
        &self,
        index: usize,
        look_again: impl FnOnce() -> bool,
        watch: impl FnMut() -> Watch,
    ) -> bool {
        self.push_parked(index, false);
        self.sleep_unless(index, look_again, watch)
    }

    /// Parks worker `index`, whose deque is empty, if more than `cap`
    /// workers are awake, whatever is queued (it stands down; see the
    /// module comment); it becomes the watchdog if there is none.
    /// `shutting_down()` must read the shutdown flag. None if it did not
    /// park; else as `park`.
    pub(super) fn stand_down(
        &self,
        index: usize,
        shutting_down: impl FnOnce() -> bool,
        watch: impl FnMut() -> Watch,
    ) -> Option<bool> {
        if self.cap == usize::MAX {
            return None;
        }
        let s = self.state.load(Ordering::Relaxed);
        if self.awake(s) <= self.cap {
            return None;
        }
        if !self.push_parked(index, true) {
            return None;
        }
        Some(self.sleep_unless(index, shutting_down, watch))
    }

    /// Puts `index` on the stack and counts it parked; `surplus`: only if
    /// more than `cap` workers are awake (false, and nothing done, if not),
    /// and as the watchdog if there is none.
    fn push_parked(&self, index: usize, surplus: bool) -> bool {
        let spot = &self.spots[index];
        let mut stack = self.stack.lock();
        // Under the lock the parked count changes only by us.
        let s = self.state.load(Ordering::SeqCst);
        if surplus && self.awake(s) <= self.cap {
            return false;
        }
        spot.woken.store(false, Ordering::Relaxed);
        stack.push(index);
        self.state.fetch_add(PARKED_ONE, Ordering::SeqCst);
        if surplus && self.watcher.load(Ordering::Relaxed) == 0 {
            self.appoint(index);
        }
        true
    }

    /// After `push_parked`: sleeps unless `look_again()`, watching while
    /// appointed; true if woken (counts as searching).
    fn sleep_unless(
        &self,
        index: usize,
        look_again: impl FnOnce() -> bool,
        mut watch: impl FnMut() -> Watch,
    ) -> bool {
        let spot = &self.spots[index];
        fence(Ordering::SeqCst);
        if look_again() {
            return self.leave_stack(index);
        }
        loop {
            if spot.woken.load(Ordering::Acquire) {
                return true;
            }
            if !spot.watch.load(Ordering::Acquire) {
                crate::sync::thread::park();
                continue;
            }
            crate::sync::thread::park_timeout(WATCH_PERIOD);
            if spot.woken.load(Ordering::Acquire) {
                return true;
            }
            match watch() {
                Watch::Continue => {}
                Watch::Resign => self.resign(index, &mut watch),
                Watch::Work => {
                    // Work left queued behind it needs a watchdog too.
                    let woken = self.leave_stack(index);
                    self.ensure_watchdog();
                    return woken;
                }
            }
        }
    }

    /// The watchdog `index` found nothing queued: it stops watching, unless
    /// work came meanwhile. A wake-up the cap holds back reads `watcher`
    /// after queueing (and a full fence); this looks at the queues after
    /// clearing it (and a full fence): of the two, the later sees the
    /// other, so queued work is never left without a watchdog.
    fn resign(&self, index: usize, watch: &mut impl FnMut() -> Watch) {
        {
            let _stack = self.stack.lock();
            self.dismiss(index);
        }
        fence(Ordering::SeqCst);
        if matches!(watch(), Watch::Resign) {
            return;
        }
        // Still on the stack (not woken meanwhile), and nobody appointed.
        let stack = self.stack.lock();
        if stack.contains(&index) && self.watcher.load(Ordering::Relaxed) == 0 {
            self.appoint(index);
        }
    }

    /// Takes parked worker `index` off the stack by itself, to work: false
    /// (not searching), or true if someone took it off meanwhile and
    /// counted it as searching (its unpark may come later and then only
    /// makes one `park` return early).
    fn leave_stack(&self, index: usize) -> bool {
        let mut stack = self.stack.lock();
        self.dismiss(index);
        if let Some(pos) = stack.iter().rposition(|&i| i == index) {
            stack.remove(pos);
            self.state.fetch_sub(PARKED_ONE, Ordering::SeqCst);
            return false;
        }
        true
    }
}
