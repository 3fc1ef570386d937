//! Waiters, `wait()` and `as_completed()` (W1–W15).
//!
//! A waiter is installed on every future of interest that is not done yet; a
//! future notifies it once, under the future's lock, when it becomes done
//! (finishes or is cancelled: W2 decision). Checking "done?" and installing
//! happen in one step under each future's own lock, so no completion can fall
//! between them (W3), without holding every lock at once.

use crate::future::Future;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{Condvar, Mutex};
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
        let mut s = self.state.lock();
        while !s.triggered {
            match deadline {
                None => self.cond.wait(&mut s),
                Some(d) => {
                    if self.cond.wait_until(&mut s, d).timed_out() {
                        return s.triggered;
                    }
                }
            }
        }
        true
    }

    /// Takes the buffered completions and resets the signal in one step (W14).
    fn take_completed(&self) -> Vec<usize> {
        let mut s = self.state.lock();
        s.triggered = false;
        std::mem::take(&mut s.completed)
    }
}

/// W1: the distinct futures of `fs` (first occurrence order) and, for each
/// position of `fs`, the index of its future among the distinct ones.
fn dedupe<F: Deref<Target = Future>>(fs: &[F]) -> (Vec<&Future>, Vec<usize>) {
    // Positions by address (a stable, run-adaptive sort: see `partition`),
    // so that each future's positions are adjacent, the first one first.
    let mut by_addr: Vec<(usize, usize)> =
        fs.iter().enumerate().map(|(i, f)| (f.addr(), i)).collect();
    by_addr.sort_by_key(|&(addr, _)| addr);
    let mut first_of = vec![0usize; fs.len()];
    let mut group_first = 0;
    for (k, &(addr, i)) in by_addr.iter().enumerate() {
        if k == 0 || by_addr[k - 1].0 != addr {
            group_first = i;
        }
        first_of[i] = group_first;
    }
    let mut distinct = Vec::with_capacity(fs.len());
    let mut slot_of = Vec::with_capacity(fs.len());
    for (i, f) in fs.iter().enumerate() {
        let d = if first_of[i] == i {
            distinct.push(&**f);
            distinct.len() - 1
        } else {
            slot_of[first_of[i]]
        };
        slot_of.push(d);
    }
    (distinct, slot_of)
}

/// What `wait()` found: a flag per input position and the distinct count.
pub struct WaitOutcome {
    pub done: Vec<bool>,
    pub n_done: usize,
    /// Every position is done.
    pub all_done: bool,
}

/// The partition at this moment (W9). A future is read once per position,
/// and it may complete between two reads of the same future: every position
/// of a future seen done at any of its positions is reported done, so that
/// duplicates share their flag and agree with `n_done` (X7).
fn partition<F: Deref<Target = Future>>(fs: &[F]) -> WaitOutcome {
    let mut done: Vec<bool> = fs.iter().map(|f| f.done()).collect();
    let mut done_addrs: Vec<usize> = fs
        .iter()
        .zip(&done)
        .filter(|(_, d)| **d)
        .map(|(f, _)| f.addr())
        .collect();
    let done_positions = done_addrs.len();
    // Distinct addresses by sorting rather than hashing: the stable sort
    // merges the ascending runs it finds, and futures made one after
    // another mostly have ascending addresses, so the usual case is nearly
    // linear and reads memory in order.
    done_addrs.sort();
    done_addrs.dedup();
    if done_positions < fs.len() && !done_addrs.is_empty() {
        for (f, d) in fs.iter().zip(done.iter_mut()) {
            if !*d && done_addrs.binary_search(&f.addr()).is_ok() {
                *d = true;
            }
        }
    }
    WaitOutcome {
        all_done: done_positions == fs.len(),
        n_done: done_addrs.len(),
        done,
    }
}

fn satisfied<F: Deref<Target = Future>>(fs: &[F], now: &WaitOutcome, when: ReturnWhen) -> bool {
    match when {
        ReturnWhen::FirstCompleted => fs.is_empty() || now.n_done > 0,
        ReturnWhen::FirstException => {
            now.all_done || fs.iter().zip(&now.done).any(|(f, d)| *d && f.failed())
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
    let now = partition(fs);
    if satisfied(fs, &now, when) || deadline.is_some_and(|d| d <= Instant::now()) {
        return now;
    }
    let (distinct, _) = dedupe(fs);
    let waiter = Waiter::new(Mode::Wait(when), distinct.len());
    for (token, f) in distinct.iter().enumerate() {
        if let Some(failed) = f.install_waiter(&waiter, token) {
            waiter.notify(token, failed);
            if when == ReturnWhen::FirstCompleted {
                break;
            }
        }
    }
    waiter.block(deadline);
    // W9: detached from every future at once, without locking each of them
    // again (the cost that dominated a wait over many pending futures).
    waiter.retired.store(true, Ordering::Release);
    partition(fs)
}

/// W11–W14: yields each distinct future once, done ones first, then in
/// completion order, under one overall deadline.
pub struct AsCompleted {
    /// Distinct futures not yet yielded, by token.
    futures: Vec<Option<Future>>,
    /// Token → index of the first occurrence in the caller's array.
    first_index: Vec<usize>,
    ready: VecDeque<usize>,
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
        let (distinct, slot_of) = dedupe(fs);
        let mut first_index = vec![usize::MAX; distinct.len()];
        for (i, d) in slot_of.iter().enumerate().rev() {
            first_index[*d] = i;
        }
        let waiter = Waiter::new(Mode::AsCompleted, 0);
        let mut ready = VecDeque::new();
        let futures = distinct
            .iter()
            .enumerate()
            .map(|(token, f)| {
                if f.install_waiter(&waiter, token).is_some() {
                    ready.push_back(token);
                }
                Some((*f).clone())
            })
            .collect::<Vec<_>>();
        AsCompleted {
            remaining: futures.len(),
            futures,
            first_index,
            ready,
            waiter,
            deadline,
            finished: false,
        }
    }

    /// The next done future with the index of its first occurrence.
    pub fn next_done(&mut self) -> Result<(usize, Future), AsCompletedEnd> {
        if self.finished || self.remaining == 0 {
            self.finish();
            return Err(AsCompletedEnd::Exhausted);
        }
        loop {
            if let Some(token) = self.ready.pop_front() {
                let f = self.futures[token].take().expect("each token once");
                // W13: already detached: a done future drops its waiters.
                self.remaining -= 1;
                return Ok((self.first_index[token], f));
            }
            let triggered = self.waiter.block(self.deadline);
            self.ready.extend(self.waiter.take_completed());
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
        self.ready.clear();
        self.remaining = 0;
    }
}

impl Drop for AsCompleted {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::future::Value;
    use crate::status::{ErrorRecord, Status};
    use std::time::Duration;

    fn soon() -> Option<Instant> {
        Some(Instant::now() + Duration::from_secs(30))
    }

    /// W1/X7: duplicates, wherever they sit, map to one distinct future, in
    /// first-occurrence order; the partition agrees with itself.
    #[test]
    fn duplicates_share_one_entry_in_any_order() {
        let made: Vec<Future> = (0..5).map(|_| Future::new()).collect();
        // Positions: 3 1 3 0 1 4 3 (future 2 unused).
        let order = [3, 1, 3, 0, 1, 4, 3];
        let fs: Vec<&Future> = order.iter().map(|&k| &made[k]).collect();
        let (distinct, slot_of) = dedupe(&fs);
        let firsts: Vec<*mut std::ffi::c_void> = distinct.iter().map(|f| f.as_ptr()).collect();
        let want: Vec<*mut std::ffi::c_void> =
            [3, 1, 0, 4].iter().map(|&k| made[k].as_ptr()).collect();
        assert_eq!(firsts, want);
        assert_eq!(slot_of, vec![0, 1, 0, 2, 1, 3, 0]);

        made[3].set_result(Value::empty()).map_err(|_| ()).unwrap();
        made[4].set_result(Value::empty()).map_err(|_| ()).unwrap();
        let p = partition(&fs);
        assert_eq!(p.done, vec![true, false, true, false, false, true, true]);
        assert_eq!(p.n_done, 2);
        assert!(!p.all_done);
    }

    #[test]
    fn repeated_waits_do_not_pile_up_waiters() {
        let a = Future::new();
        let fs = [&a];
        for _ in 0..100 {
            let soon = Instant::now() + Duration::from_micros(20);
            let r = wait(&fs, Some(soon), ReturnWhen::AllCompleted);
            assert_eq!(r.n_done, 0);
        }
        assert!(a.listener_count() <= 1, "retired waiters are dropped");
        a.set_result(Value::empty()).ok();
        assert_eq!(a.listener_count(), 0);
    }

    #[test]
    fn duplicates_count_once() {
        let a = Future::new();
        let b = Future::new();
        a.set_result(Value::empty()).ok();
        let fs = [&a, &b, &a];
        let r = wait(&fs, Some(Instant::now()), ReturnWhen::AllCompleted);
        assert_eq!(r.done, vec![true, false, true]);
        assert_eq!(r.n_done, 1);
    }

    #[test]
    fn first_exception_ignores_cancellations() {
        let a = Future::new();
        let b = Future::new();
        a.cancel();
        let fs = [&a, &b];
        let r = wait(&fs, Some(Instant::now()), ReturnWhen::FirstException);
        assert_eq!(r.n_done, 1, "W6: a cancellation is not an error");
        b.set_exception(ErrorRecord::new(Status::TaskFailed, 1, "x"))
            .ok();
        let r = wait(&fs, soon(), ReturnWhen::FirstException);
        assert_eq!(r.n_done, 2);
    }

    #[test]
    fn all_completed_wakes_when_the_last_completes() {
        let fs: Vec<Future> = (0..64).map(|_| Future::new()).collect();
        let others = fs.clone();
        let t = std::thread::spawn(move || {
            for f in others {
                f.set_result(Value::empty()).ok();
            }
        });
        let refs: Vec<&Future> = fs.iter().collect();
        let r = wait(&refs, soon(), ReturnWhen::AllCompleted);
        t.join().unwrap();
        assert_eq!(r.n_done, 64);
        assert!(r.done.iter().all(|d| *d));
    }

    #[test]
    fn as_completed_yields_done_first_then_in_completion_order() {
        let a = Future::new();
        let b = Future::new();
        let c = Future::new();
        b.set_result(Value::empty()).ok();
        let fs = [&a, &b, &c, &b];
        let mut it = AsCompleted::new(&fs, soon());
        assert_eq!(it.next_done().unwrap().0, 1);
        c.cancel();
        assert_eq!(it.next_done().unwrap().0, 2, "W11: cancelled ones included");
        a.set_result(Value::empty()).ok();
        assert_eq!(it.next_done().unwrap().0, 0);
        assert_eq!(it.next_done().unwrap_err(), AsCompletedEnd::Exhausted);
    }

    #[test]
    fn as_completed_times_out_once_then_ends() {
        let a = Future::new();
        let fs = [&a];
        let mut it = AsCompleted::new(&fs, Some(Instant::now()));
        assert_eq!(
            it.next_done().unwrap_err(),
            AsCompletedEnd::TimedOut {
                unfinished: 1,
                total: 1
            }
        );
        assert_eq!(it.next_done().unwrap_err(), AsCompletedEnd::Exhausted);
        // W13: detached; completing the future later touches no iterator.
        a.set_result(Value::empty()).ok();
    }
}
