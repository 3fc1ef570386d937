//! Waiters, `wait()` and `as_completed()` (W1–W15).
//!
//! A waiter is installed on every future of interest that is not done yet; a
//! future notifies it once, under the future's lock, when it becomes done
//! (finishes or is cancelled: W2 decision). Checking "done?" and installing
//! happen in one step under each future's own lock, so no completion can fall
//! between them (W3), without holding every lock at once.
//!
//! `wait(ALL_COMPLETED)` needs no waiter: it blocks on one future at a time,
//! the last not done (see `block_until_all_done`). Scans over many futures
//! allocate one flag per position and sort nothing unless the input may hold
//! duplicates (see `Runs`).

use crate::future::Future;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{Condvar, Mutex, MutexGuard};
use sets::{first_positions, known_distinct, Runs, TokenSet};
use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

/// When `wait()` returns (W5–W7).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReturnWhen {
    FirstCompleted,
    FirstException,
    AllCompleted,
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Mode {
    Wait(ReturnWhen),
    AsCompleted,
}

struct WaiterState {
    mode: Mode,
    /// Futures still to become done, for ALL_COMPLETED and FIRST_EXCEPTION.
    pending: usize,
    triggered: bool,
    /// Tokens of futures that became done (as_completed only), W14.
    completed: Vec<usize>,
}

pub(crate) struct Waiter {
    state: Mutex<WaiterState>,
    cond: Condvar,
    /// Set when `wait()` returned: the futures still holding this waiter
    /// ignore it and drop it when they complete or get a new listener.
    retired: AtomicBool,
}

impl Waiter {
    fn new(mode: Mode, pending: usize) -> Arc<Waiter> {
        Arc::new(Waiter {
            state: Mutex::new(WaiterState {
                mode,
                pending,
                triggered: pending == 0 && mode != Mode::AsCompleted,
                completed: Vec::new(),
            }),
            cond: Condvar::new(),
            retired: AtomicBool::new(false),
        })
    }

    /// Records that the future behind `token` became done (`failed`: it
    /// finished with an error). Called once per future, by the future or by
    /// the installer that found it done already.
    pub(crate) fn notify(&self, token: usize, failed: bool) {
        if self.is_retired() {
            return;
        }
        let mut s = self.state.lock();
        match s.mode {
            Mode::Wait(ReturnWhen::FirstCompleted) => s.triggered = true,
            Mode::Wait(when) => {
                s.pending -= 1;
                if s.pending == 0 || (failed && when == ReturnWhen::FirstException) {
                    s.triggered = true;
                }
            }
            Mode::AsCompleted => {
                s.completed.push(token);
                s.triggered = true;
            }
        }
        if s.triggered {
            self.cond.notify_one();
        }
    }

    pub(crate) fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Blocks until triggered or `deadline`; true when triggered.
    fn block(&self, deadline: Option<Instant>) -> bool {
        Self::block_locked(&self.cond, &mut self.state.lock(), deadline)
    }

    fn block_locked(
        cond: &Condvar,
        s: &mut MutexGuard<'_, WaiterState>,
        deadline: Option<Instant>,
    ) -> bool {
        while !s.triggered {
            match deadline {
                None => cond.wait(s),
                Some(d) => {
                    if cond.wait_until(s, d).timed_out() {
                        return s.triggered;
                    }
                }
            }
        }
        true
    }

    /// Blocks until triggered or `deadline`, then swaps the buffered
    /// completions with `spare` (empty) and resets the signal, all in one
    /// hold of the lock (W14); true when triggered. Swapping, not copying,
    /// keeps completing threads waiting on the lock for no longer than a
    /// few stores, and the two buffers keep their memory from batch to batch.
    fn block_and_take(&self, deadline: Option<Instant>, spare: &mut Vec<usize>) -> bool {
        let mut s = self.state.lock();
        let triggered = Self::block_locked(&self.cond, &mut s, deadline);
        s.triggered = false;
        std::mem::swap(&mut s.completed, spare);
        triggered
    }
}

/// The futures of a wait, by position: a slice of references, or the C
/// caller's array of handles, looked up at each use rather than copied (a
/// copy of 10^5 handles is megabytes of fresh pages on every call).
pub(crate) trait Futures {
    type Ref<'a>: Deref<Target = Future>
    where
        Self: 'a;
    fn count(&self) -> usize;
    /// The future at position `i`; None if there is none (a bad C handle).
    fn get(&self, i: usize) -> Option<Self::Ref<'_>>;
    /// The future at position `i`, which a first pass found there. Only a
    /// C caller releasing a handle while the call runs can make it vanish
    /// after that pass; the paths that can, use `get` and answer None.
    fn at(&self, i: usize) -> Self::Ref<'_> {
        self.get(i)
            .expect("a future handle was released while a call was using it")
    }
    /// Equal for two positions exactly when they hold the same future, and
    /// increasing with the future's place in memory (`Future::addr`); found
    /// without reading the future, so that telling duplicates apart costs
    /// no second pass over the futures' memory.
    fn key(&self, i: usize) -> usize;
}

impl<F: Deref<Target = Future>> Futures for [F] {
    type Ref<'a>
        = &'a Future
    where
        F: 'a;
    fn count(&self) -> usize {
        self.len()
    }
    fn get(&self, i: usize) -> Option<&Future> {
        Some(&self[i])
    }
    fn key(&self, i: usize) -> usize {
        self[i].addr()
    }
}

/// Every future of `fs`, in order (a handle released meanwhile is skipped:
/// the final scan refuses the call).
fn each<L: Futures + ?Sized>(fs: &L) -> impl Iterator<Item = Option<L::Ref<'_>>> {
    (0..fs.count()).map(move |i| fs.get(i))
}

/// What `wait()` found: a flag per input position and the distinct count.
pub struct WaitOutcome {
    pub done: Vec<bool>,
    pub n_done: usize,
    /// Every position is done.
    pub all_done: bool,
}

/// The partition at this moment (W9), in `done`'s memory, and whether the
/// futures are known distinct; None, having done nothing, when a position
/// holds no future. A future is read once per position, and it may complete
/// between two reads of the same future: every position of a future seen
/// done at any of its positions is reported done, so that duplicates share
/// their flag and agree with `n_done` (X7). Without duplicates (the usual
/// case, proved by `Runs` in the same pass) that needs nothing more than the
/// flags.
fn scan<L: Futures + ?Sized>(fs: &L, mut done: Vec<bool>) -> Option<(WaitOutcome, bool)> {
    done.clear();
    done.reserve(fs.count());
    let mut runs = Runs::new();
    let mut distinct = true;
    let mut done_positions = 0;
    for i in 0..fs.count() {
        let d = fs.get(i)?.done();
        done_positions += usize::from(d);
        done.push(d);
        distinct = distinct && runs.push(fs.key(i));
    }
    let distinct = distinct && runs.disjoint();
    let n_done = if distinct {
        done_positions
    } else {
        merge_duplicates(fs, &mut done, done_positions)
    };
    let outcome = WaitOutcome {
        all_done: done_positions == fs.count(),
        n_done,
        done,
    };
    Some((outcome, distinct))
}

/// `scan` again; None if a C caller released a handle meanwhile.
fn partition_into<L: Futures + ?Sized>(fs: &L, done: Vec<bool>) -> Option<WaitOutcome> {
    scan(fs, done).map(|(outcome, _)| outcome)
}

/// The answer once every future is done (W9), found without reading them
/// again: done is final.
fn all_done<L: Futures + ?Sized>(fs: &L, mut done: Vec<bool>, distinct: bool) -> WaitOutcome {
    done.fill(true);
    let n_done = if distinct {
        fs.count()
    } else {
        first_positions(fs, |_| true).len()
    };
    WaitOutcome {
        done,
        n_done,
        all_done: true,
    }
}

/// `partition` where futures may repeat: flags every position of a future
/// seen done anywhere, and answers the distinct done count.
fn merge_duplicates<L: Futures + ?Sized>(
    fs: &L,
    done: &mut [bool],
    done_positions: usize,
) -> usize {
    let mut done_keys: Vec<usize> = (0..fs.count())
        .filter(|&i| done[i])
        .map(|i| fs.key(i))
        .collect();
    done_keys.sort_unstable();
    done_keys.dedup();
    if done_positions < fs.count() && !done_keys.is_empty() {
        for (i, d) in done.iter_mut().enumerate() {
            if !*d && done_keys.binary_search(&fs.key(i)).is_ok() {
                *d = true;
            }
        }
    }
    done_keys.len()
}

fn satisfied<L: Futures + ?Sized>(fs: &L, now: &WaitOutcome, when: ReturnWhen) -> bool {
    match when {
        ReturnWhen::FirstCompleted => fs.count() == 0 || now.n_done > 0,
        ReturnWhen::FirstException => {
            now.all_done
                || each(fs)
                    .zip(&now.done)
                    .any(|(f, d)| *d && f.is_some_and(|f| f.failed()))
        }
        ReturnWhen::AllCompleted => now.all_done,
    }
}

/// W4–W9: blocks until `when` holds or `deadline` passes (None: no limit),
/// then reports which futures are done. A timeout is not an error (W8).
pub fn wait<F: Deref<Target = Future>>(
    fs: &[F],
    deadline: Option<Instant>,
    when: ReturnWhen,
) -> WaitOutcome {
    wait_in(fs, deadline, when).expect("a slice holds futures")
}

/// `wait` over any `Futures`; None, having done nothing, when a position
/// holds no future (the first pass checks them all).
pub(crate) fn wait_in<L: Futures + ?Sized>(
    fs: &L,
    deadline: Option<Instant>,
    when: ReturnWhen,
) -> Option<WaitOutcome> {
    let (now, distinct) = scan(fs, Vec::new())?;
    if satisfied(fs, &now, when) || deadline.is_some_and(|d| d <= Instant::now()) {
        return Some(now);
    }
    if when == ReturnWhen::AllCompleted {
        if block_until_all_done(fs, &now.done, deadline) {
            return Some(all_done(fs, now.done, distinct));
        }
    } else {
        block_on_waiter(fs, &now.done, deadline, when);
    }
    partition_into(fs, now.done)
}

/// W7: waits on the last future not done, alone, then on the last one still
/// not done before it, and so on, until none is left or `deadline` passes.
/// Futures run roughly in submission order, so when the last is done the
/// others mostly are too: this locks one or two futures, not every one, and
/// allocates nothing. Done is final, so each position is looked at once
/// after the first scan (`done`) and the loop is linear however they
/// complete. Each future's own wait checks and blocks under its lock (W3).
/// True when all are done, false at the deadline.
fn block_until_all_done<L: Futures + ?Sized>(
    fs: &L,
    done: &[bool],
    deadline: Option<Instant>,
) -> bool {
    let mut end = fs.count();
    // A handle released meanwhile (a C caller's bug) is passed over, and
    // false sends the caller to the final scan, which refuses the call.
    let vanished = std::cell::Cell::new(false);
    let pending = |i: usize| {
        !done[i]
            && match fs.get(i) {
                Some(f) => !f.done(),
                None => {
                    vanished.set(true);
                    false
                }
            }
    };
    while let Some(last) = (0..end).rev().find(|&i| pending(i)) {
        if fs.get(last).is_some_and(|f| !f.wait_until(deadline)) {
            return false;
        }
        end = last;
    }
    !vanished.get()
}

/// W5/W6: installs one waiter on each distinct future not done at the first
/// scan (those done then cannot trigger it any more: for FIRST_EXCEPTION
/// none of them failed), blocks, and retires it.
fn block_on_waiter<L: Futures + ?Sized>(
    fs: &L,
    done: &[bool],
    deadline: Option<Instant>,
    when: ReturnWhen,
) {
    let pending = || (0..fs.count()).filter(|&i| !done[i]);
    if known_distinct(pending().map(|i| fs.key(i))) {
        let distinct = pending().map(|i| fs.at(i));
        install_and_block(pending().count(), distinct, deadline, when);
    } else {
        let firsts = first_positions(fs, |i| !done[i]);
        let distinct = firsts.iter().map(|&i| fs.at(i));
        install_and_block(firsts.len(), distinct, deadline, when);
    }
}

/// W3/W7: a waiter counting `count` distinct futures, installed on each of
/// them (each checks "done?" and installs under its own lock).
fn install_and_block<R: Deref<Target = Future>>(
    count: usize,
    distinct: impl Iterator<Item = R>,
    deadline: Option<Instant>,
    when: ReturnWhen,
) {
    let waiter = Waiter::new(Mode::Wait(when), count);
    for f in distinct {
        if let Some(failed) = f.install_waiter(&waiter, 0) {
            waiter.notify(0, failed);
            if when == ReturnWhen::FirstCompleted {
                break;
            }
        }
    }
    waiter.block(deadline);
    // W9: detached from every future at once, without locking each of them
    // again (the cost that dominated a wait over many pending futures).
    waiter.retired.store(true, Ordering::Release);
}

/// W11–W14: yields each distinct future once, done ones first, then in
/// completion order, under one overall deadline.
pub struct AsCompleted {
    /// Distinct futures not yet yielded, by token.
    futures: Vec<Option<Future>>,
    /// Token → index of the first occurrence in the caller's array; None
    /// when the input had no duplicates (the token is the index).
    first_index: Option<Vec<usize>>,
    /// Tokens of the futures done at the start (W11): a bit each, as
    /// often most of them are.
    done_at_start: TokenSet,
    /// Tokens of the futures that became done since, in that order (W11).
    ready: VecDeque<usize>,
    /// The waiter's last batch of completions, on its way to `ready`.
    batch: Vec<usize>,
    waiter: Arc<Waiter>,
    deadline: Option<Instant>,
    remaining: usize,
    finished: bool,
}

/// What `AsCompleted::next` answers besides a future.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AsCompletedEnd {
    /// Every future was yielded.
    Exhausted,
    /// The deadline passed with `unfinished` of `total` futures not done (W12).
    TimedOut { unfinished: usize, total: usize },
}

impl AsCompleted {
    pub fn new<F: Deref<Target = Future>>(fs: &[F], deadline: Option<Instant>) -> AsCompleted {
        AsCompleted::new_in(fs, deadline).expect("a slice holds futures")
    }

    /// `new` over any `Futures`; None, leaving every future as it was, when
    /// a position holds no future.
    pub(crate) fn new_in<L: Futures + ?Sized>(
        fs: &L,
        deadline: Option<Instant>,
    ) -> Option<AsCompleted> {
        let first_index = if known_distinct((0..fs.count()).map(|i| fs.key(i))) {
            // Every position is adopted below, and checked then.
            None
        } else {
            // Duplicates may hide a bad position: check them all first.
            if (0..fs.count()).any(|i| fs.get(i).is_none()) {
                return None;
            }
            Some(first_positions(fs, |_| true))
        };
        let waiter = Waiter::new(Mode::AsCompleted, 0);
        let distinct = first_index.as_ref().map_or(fs.count(), Vec::len);
        let mut done_at_start = TokenSet::new(distinct);
        // Sized up front: a `collect` through `Option` would grow it by
        // doubling, touching twice the memory.
        let mut futures = Vec::with_capacity(distinct);
        for token in 0..distinct {
            let at = first_index.as_ref().map_or(token, |firsts| firsts[token]);
            let Some(f) = fs.get(at) else {
                // The futures adopted so far drop the waiter when they
                // complete or get another listener, as after a wait (W9).
                waiter.retired.store(true, Ordering::Release);
                return None;
            };
            // W11: a future done already is seen so without its lock
            // (`install_waiter` looks first) and is yielded first.
            if f.install_waiter(&waiter, token).is_some() {
                done_at_start.insert(token);
            }
            futures.push(Some((*f).clone()));
        }
        Some(AsCompleted {
            remaining: futures.len(),
            futures,
            first_index,
            done_at_start,
            ready: VecDeque::new(),
            batch: Vec::new(),
            waiter,
            deadline,
            finished: false,
        })
    }

    /// The next done future with the index of its first occurrence.
    pub fn next_done(&mut self) -> Result<(usize, Future), AsCompletedEnd> {
        if self.finished || self.remaining == 0 {
            self.finish();
            return Err(AsCompletedEnd::Exhausted);
        }
        loop {
            let next = self.done_at_start.pop_first();
            if let Some(token) = next.or_else(|| self.ready.pop_front()) {
                let f = self.futures[token].take().expect("each token once");
                // W13: already detached: a done future drops its waiters.
                self.remaining -= 1;
                let index = self.first_index.as_ref().map_or(token, |fi| fi[token]);
                return Ok((index, f));
            }
            let triggered = self.waiter.block_and_take(self.deadline, &mut self.batch);
            self.ready.extend(self.batch.drain(..));
            if !triggered && self.ready.is_empty() {
                let unfinished = self.remaining;
                let total = self.futures.len();
                self.finish();
                return Err(AsCompletedEnd::TimedOut { unfinished, total });
            }
        }
    }

    /// W13: detaches from every future not yielded and drops them.
    fn finish(&mut self) {
        self.finished = true;
        for f in self.futures.iter_mut().filter_map(Option::take) {
            f.remove_waiter(&self.waiter);
        }
        self.done_at_start.clear();
        self.ready.clear();
        self.remaining = 0;
    }
}

impl Drop for AsCompleted {
    fn drop(&mut self) {
        self.finish();
    }
}

mod sets;
#[cfg(test)]
mod tests;
