//! The submit side: what submitters and the manager thread share (the
//! queue of calls not yet handed to a worker and the pool's flags, under one
//! short-held lock), and the spare buffers of finished calls.
//!
//! The queue lives here, not in the manager, so that `shutdown` with
//! `cancel_futures` cancels every queued future itself before it returns
//! (E6, P13), and so that the manager takes only the calls it dispatches
//! (P5): nothing it does per loop depends on the length of the queue.

use super::sys;
use crate::flow::{Bound, Counters, Finish, FlowOptions, Observer};
use crate::future::Future;
use crate::status::Status;
use crate::sync::{Condvar, Mutex};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The message of every future failed by a broken pool (B2).
pub(crate) const BROKEN_MESSAGE: &str =
    "A child process terminated abruptly, the process pool is not usable anymore";

/// One submitted item: its task id, future and where its argument lies in
/// its call's frame (kept until the item is done, so that it can be sent
/// again to a replacement).
pub(crate) struct Work {
    pub id: u64,
    pub future: Future,
    pub arg: std::ops::Range<usize>,
}

/// A call as submitted: one item (submit) or a chunk of map items, with its
/// `CALL` frame, built by the submitter (`wire::CallBuilder`).
pub(crate) struct CallReq {
    pub func: usize,
    pub frame: Arc<Vec<u8>>,
    pub items: Vec<Work>,
    /// When it was submitted (Q5, Q9).
    pub queued_at: Instant,
}

/// What submitters and the manager share, under one short-held lock.
pub(crate) struct State {
    /// Calls submitted and not yet taken by the manager: every future here
    /// is PENDING (or cancelled by its owner).
    pub queue: VecDeque<CallReq>,
    pub shutdown: bool,
    pub broken: Option<String>,
}

/// Buffers of finished calls, for later submits to reuse: a map otherwise
/// allocates every chunk's frame and item list afresh, and glibc returns
/// that memory to the kernel in between (page faults on every map).
#[derive(Default)]
pub(crate) struct Spares {
    pub frames: Vec<Vec<u8>>,
    frame_bytes: usize,
    pub works: Vec<Vec<Work>>,
}

/// Frame capacity kept in all, and the largest frame kept.
const SPARE_FRAME_BYTES: usize = 4 << 20;
const SPARE_FRAME_MAX: usize = 256 << 10;
/// Item lists kept, and the largest capacity kept.
const SPARE_WORKS: usize = 1024;
const SPARE_WORKS_MAX: usize = 1024;

impl Spares {
    /// Keeps what fits within the limits; frees the rest.
    pub(crate) fn absorb(&mut self, frames: &mut Vec<Vec<u8>>, works: &mut Vec<Vec<Work>>) {
        for f in frames.drain(..) {
            let cap = f.capacity();
            if cap <= SPARE_FRAME_MAX && self.frame_bytes + cap <= SPARE_FRAME_BYTES {
                self.frame_bytes += cap;
                self.frames.push(f);
            }
        }
        for w in works.drain(..) {
            if w.is_empty() && w.capacity() <= SPARE_WORKS_MAX && self.works.len() < SPARE_WORKS {
                self.works.push(w);
            }
        }
    }

    /// Takes up to `n` frames and `n` item lists.
    pub(crate) fn take(&mut self, n: usize) -> (Vec<Vec<u8>>, Vec<Vec<Work>>) {
        let frames = self.frames.split_off(self.frames.len().saturating_sub(n));
        self.frame_bytes -= frames.iter().map(|f| f.capacity()).sum::<usize>();
        let works = self.works.split_off(self.works.len().saturating_sub(n));
        (frames, works)
    }
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub spares: Mutex<Spares>,
    /// eventfd waking the manager; written without any lock (P17).
    pub wake_fd: RawFd,
    /// Set while a wake-up is pending: coalesces eventfd writes.
    pub wake_flag: AtomicBool,
    pub finished: Mutex<bool>,
    pub finished_cv: Condvar,
    /// The process that created the pool: pools do not survive a fork.
    /// The fork generation the pool was made in: in another (a child of a
    /// host `fork()`, or one of the pool's own workers) it does not exist.
    pub fork_gen: usize,
    pub next_id: AtomicU64,
    /// Q1–Q12 (`flow.rs`): the bound on queued calls, the observer and the
    /// counters (items submitted under `state`'s lock; the rest written by
    /// the manager thread only, except `drained`).
    pub bound: Bound,
    pub observer: Option<Observer>,
    pub submitted: AtomicU64,
    pub counters: Counters,
    pub drained: AtomicU64,
    pub workers_started: AtomicU64,
    pub workers_alive: AtomicU64,
    /// A signal for every worker (terminate/kill_workers), 0: none.
    pub stop_signal: AtomicI32,
    /// `describe`: asked (a count, under the lock), answered (the count it
    /// answered, and the text), woken through the condition variable.
    pub describe: Mutex<(u64, u64, String)>,
    pub describe_wanted: AtomicBool,
    pub described: Condvar,
    /// Test builds: the manager panics at its next loop (the fault
    /// boundary's test).
    #[cfg(test)]
    pub inject_fault: AtomicBool,
}

impl Shared {
    pub(crate) fn new(wake_fd: RawFd, flow: FlowOptions) -> Shared {
        Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                shutdown: false,
                broken: None,
            }),
            spares: Mutex::new(Spares::default()),
            wake_fd,
            wake_flag: AtomicBool::new(false),
            finished: Mutex::new(false),
            finished_cv: Condvar::new(),
            fork_gen: crate::fork::generation(),
            next_id: AtomicU64::new(1),
            bound: Bound::new(flow.max_queued),
            observer: flow.observer,
            submitted: AtomicU64::new(0),
            counters: Counters::default(),
            drained: AtomicU64::new(0),
            workers_started: AtomicU64::new(0),
            workers_alive: AtomicU64::new(0),
            stop_signal: AtomicI32::new(0),
            describe: Mutex::new((0, 0, String::new())),
            describe_wanted: AtomicBool::new(false),
            described: Condvar::new(),
            #[cfg(test)]
            inject_fault: AtomicBool::new(false),
        }
    }

    /// Wakes the manager; never blocks, coalesces with pending wake-ups.
    pub(crate) fn wake(&self) {
        if !self.wake_flag.swap(true, Ordering::SeqCst) {
            sys::eventfd_signal(self.wake_fd);
        }
    }

    /// In a process forked from the pool's (X11): the pool is not here.
    pub(crate) fn forked_away(&self) -> bool {
        crate::fork::generation() != self.fork_gen
    }

    /// E1/P3: queues calls unless the pool is broken or shut down.
    pub(crate) fn push(&self, calls: Vec<CallReq>) -> Result<(), Status> {
        if self.forked_away() {
            return Err(Status::Shutdown);
        }
        {
            let mut st = self.state.lock();
            if st.broken.is_some() {
                return Err(Status::BrokenPool);
            }
            if st.shutdown {
                return Err(Status::Shutdown);
            }
            let items: usize = calls.iter().map(|c| c.items.len()).sum();
            self.submitted.fetch_add(items as u64, Ordering::Relaxed);
            st.queue.extend(calls);
        }
        self.wake();
        Ok(())
    }

    /// Q1–Q4: queues one call once the bound has room for it, waiting
    /// until `deadline` (`bounded` false: the manager thread, never waits).
    /// A refusal hands the call back.
    pub(crate) fn push_bounded(
        &self,
        call: CallReq,
        deadline: Option<Instant>,
        bounded: bool,
    ) -> Result<(), (Status, CallReq)> {
        if self.forked_away() {
            // Before the bound's lock, which a parent thread may have held.
            return Err((Status::Shutdown, call));
        }
        let bounded = bounded && self.bound.is_bounded();
        if bounded {
            match self.bound.enter(deadline) {
                Ok(()) => {}
                Err(Status::QueueFull) => return Err((Status::QueueFull, call)),
                // Closed: `push` answers the pool's own refusal.
                Err(_) => return self.push_unbounded(call),
            }
        }
        let r = self.push_unbounded(call);
        if r.is_err() && bounded {
            self.bound.leave(1);
        }
        r
    }

    fn push_unbounded(&self, call: CallReq) -> Result<(), (Status, CallReq)> {
        if self.forked_away() {
            return Err((Status::Shutdown, call));
        }
        {
            let mut st = self.state.lock();
            if st.broken.is_some() {
                return Err((Status::BrokenPool, call));
            }
            if st.shutdown {
                return Err((Status::Shutdown, call));
            }
            self.submitted
                .fetch_add(call.items.len() as u64, Ordering::Relaxed);
            st.queue.push_back(call);
        }
        self.wake();
        Ok(())
    }

    /// E3/E6: stops accepting work; with `cancel`, cancels every queued
    /// future before returning (its waiters are notified and its callbacks
    /// run on the calling thread, with no lock of ours held).
    pub(crate) fn begin_shutdown(&self, cancel: bool) {
        let cancelled = {
            let mut st = self.state.lock();
            st.shutdown = true;
            if cancel {
                let q = std::mem::take(&mut st.queue);
                let items: usize = q.iter().map(|c| c.items.len()).sum();
                self.drained.fetch_add(items as u64, Ordering::AcqRel);
                q
            } else {
                VecDeque::new()
            }
        };
        self.bound.close(); // Q3: waiting submitters are refused
        self.bound.leave(cancelled.len());
        self.wake();
        for call in cancelled {
            for w in call.items {
                w.future.cancel();
                self.event_cancelled(w.id, call.queued_at);
            }
        }
    }

    /// P5: takes up to `n` calls off the queue for dispatch, their futures
    /// set RUNNING (F6) while still under the lock, so that a concurrent
    /// `cancel_futures` finds every future either queued or running. Items
    /// cancelled before are dropped (their waiters were notified then) and
    /// their ids and queue times left in `cancelled`. Manager thread only.
    pub(crate) fn take_running(
        &self,
        n: usize,
        cancelled: &mut Vec<(u64, Instant)>,
    ) -> Vec<CallReq> {
        let mut out = Vec::new();
        let mut taken = 0;
        {
            let mut st = self.state.lock();
            while out.len() < n {
                let Some(mut call) = st.queue.pop_front() else {
                    break;
                };
                taken += 1;
                let at = call.queued_at;
                let counters = &self.counters;
                call.items.retain(|w| {
                    let run = matches!(w.future.set_running_or_notify_cancel(), Ok(true));
                    counters.took(Duration::ZERO);
                    if !run {
                        counters.finished(Finish::Cancelled, Duration::ZERO);
                        cancelled.push((w.id, at));
                    }
                    run
                });
                if !call.items.is_empty() {
                    out.push(call);
                }
            }
        }
        self.bound.leave(taken);
        out
    }

    /// Q9: tells the observer of a task cancelled while queued.
    pub(crate) fn event_cancelled(&self, id: u64, queued_at: Instant) {
        self.event(crate::flow::TaskEvent {
            kind: crate::flow::TaskEventKind::Finished,
            task: id,
            wait: queued_at.elapsed(),
            run: Duration::ZERO,
            status: Status::Cancelled,
        });
    }

    /// Q9: calls the observer (never under a lock of ours).
    pub(crate) fn event(&self, ev: crate::flow::TaskEvent) {
        if let Some(o) = &self.observer {
            let call = std::panic::AssertUnwindSafe(|| o(&ev));
            if std::panic::catch_unwind(call).is_err() {
                crate::log::log("process pool: the task observer panicked");
            }
        }
    }

    /// Calls still queued.
    pub(crate) fn queued(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// B2: marks the pool broken (later submits are refused) and hands back
    /// every queued call, to be failed by the caller.
    pub(crate) fn mark_broken(&self, cause: &str) -> VecDeque<CallReq> {
        let q = {
            let mut st = self.state.lock();
            st.broken.get_or_insert_with(|| cause.to_string());
            st.shutdown = true;
            std::mem::take(&mut st.queue)
        };
        self.bound.close();
        self.bound.leave(q.len());
        q
    }

    /// Q7: shut down, hands back the queued calls (as `mark_broken` does,
    /// without breaking the pool: later submits answer `Shutdown`).
    pub(crate) fn take_queue(&self) -> VecDeque<CallReq> {
        let q = {
            let mut st = self.state.lock();
            st.shutdown = true;
            std::mem::take(&mut st.queue)
        };
        self.bound.close();
        self.bound.leave(q.len());
        q
    }

    /// Q8: `wait_finished` until `deadline`; false if it passed first.
    pub(crate) fn wait_finished_until(&self, deadline: Option<Instant>) -> bool {
        let mut f = self.finished.lock();
        while !*f {
            match deadline {
                None => self.finished_cv.wait(&mut f),
                Some(d) => {
                    if self.finished_cv.wait_until(&mut f, d).timed_out() {
                        return *f;
                    }
                }
            }
        }
        true
    }

    pub(crate) fn mark_finished(&self) {
        *self.finished.lock() = true;
        self.finished_cv.notify_all();
    }

    pub(crate) fn wait_finished(&self) {
        let mut f = self.finished.lock();
        while !*f {
            self.finished_cv.wait(&mut f);
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        sys::close(self.wake_fd);
    }
}
