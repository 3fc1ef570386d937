//! Flow control and observability of the thread pool (Q1–Q12): the bound,
//! the per-worker counters behind `stats`, task events, `describe` and the
//! shutdown with a deadline.
//!
//! Each worker writes its own counters and its current task on a cache
//! line of its own (a load and a store each, no locked instruction); the
//! submitters share one counter of submitted tasks (which also numbers
//! them) and a ring of the times the last 1024 were queued, for the age of
//! the oldest queued task. `stats` sums the workers' lines in the order of
//! `crate::flow`'s invariant.
//!
//! Times (Q6) are measured once somebody looks: from the pool's creation
//! when it has an observer, else from the first `stats` or `describe`.
//! Until then a task reads no clock: the three reads per task are a
//! measurable part of a no-op task's cost.

use super::{thread_name, Inner, ThreadPool, WorkItem};
use crate::executor::{Refused, Task};
use crate::flow::{
    function_name, human, now_ticks, settle, sum_counters, ticks_to_duration, Bound, Counters,
    Finish, Flow, FlowOptions, Observer, Padded, Stats, TaskEvent, TaskEventKind, TickRate,
};
use crate::future::Future;
use crate::status::Status;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Queue times kept for `describe` (a power of two).
const STAMPS: usize = 1024;

/// One worker's line: its counters and what it runs now.
#[derive(Default)]
pub(super) struct Slot {
    c: Counters,
    /// The running task's number (0: none), function and start (ticks,
    /// `flow::now_ticks`).
    task: AtomicU64,
    func: AtomicUsize,
    since: AtomicU64,
}

impl Slot {
    /// Items this worker has taken off the queues so far, and the number
    /// of the task it runs now (0: none).
    pub(super) fn progress(&self) -> (u64, u64) {
        (
            self.c.taken.load(Ordering::Acquire),
            self.task.load(Ordering::Acquire),
        )
    }
}

pub(super) struct PoolFlow {
    pub(super) bound: Bound,
    observer: Option<Observer>,
    submitted: Padded<AtomicU64>,
    /// Queue time of task n at `n % STAMPS` (ticks), and n.
    stamps: Box<[(AtomicU64, AtomicU64)]>,
    slots: Box<[Padded<Slot>]>,
    /// Queued tasks cancelled by a shutdown (on the caller's thread).
    drained: AtomicU64,
    exited: AtomicUsize,
    /// Set by a shutdown whose deadline passed: later shutdowns do not join.
    pub(super) abandoned: AtomicBool,
    /// Whether tasks are timed (see the module comment).
    timing: AtomicBool,
}

impl PoolFlow {
    pub(super) fn new(max_workers: usize, o: FlowOptions) -> PoolFlow {
        PoolFlow {
            bound: Bound::with_lanes(o.max_queued, max_workers),
            observer: o.observer.clone(),
            submitted: Padded(AtomicU64::new(0)),
            stamps: (0..STAMPS).map(|_| Default::default()).collect(),
            slots: (0..max_workers).map(|_| Padded(Slot::default())).collect(),
            drained: AtomicU64::new(0),
            exited: AtomicUsize::new(0),
            abandoned: AtomicBool::new(false),
            timing: AtomicBool::new(o.observer.is_some()),
        }
    }

    /// Now in ticks while tasks are timed, else 0 ("not measured").
    fn clock(&self) -> u64 {
        if self.timing.load(Ordering::Relaxed) {
            now_ticks().max(1)
        } else {
            0
        }
    }

    /// From now on, tasks are timed.
    fn start_timing(&self) {
        if !self.timing.load(Ordering::Relaxed) {
            self.timing.store(true, Ordering::Relaxed);
        }
    }

    /// Counts a task accepted: its number and when it was queued (ticks,
    /// 0 when not timed).
    pub(super) fn submitted(&self) -> (u64, u64) {
        let num = self.submitted.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.clock();
        if now != 0 {
            let (at, n) = &self.stamps[num as usize & (STAMPS - 1)];
            at.store(now, Ordering::Relaxed);
            n.store(num, Ordering::Release);
        }
        (num, now)
    }

    pub(super) fn slot(&self, index: usize) -> &Slot {
        &self.slots[index]
    }

    /// The item left the queue on this worker: frees its slot of the bound
    /// and counts it taken; when, and how long it waited (ticks).
    #[inline]
    pub(super) fn take(&self, item: &WorkItem, index: usize) -> (u64, u64) {
        let slot = self.slot(index);
        let now = self.clock();
        let wait = if item.queued_at == 0 {
            0
        } else {
            now.saturating_sub(item.queued_at)
        };
        // Counted taken before the slot is freed: the next submit it lets
        // in must not make `submitted - taken` exceed the bound (Q5).
        slot.c.took_ticks(wait);
        if item.bounded() {
            self.bound.leave_lane(index);
        }
        (now, wait)
    }

    /// The task starts running on this worker.
    pub(super) fn started(&self, slot: &Slot, num: u64, func: usize, wait: u64, at: u64) {
        slot.func.store(func, Ordering::Relaxed);
        slot.since.store(at, Ordering::Relaxed);
        slot.task.store(num, Ordering::Release);
        if self.observer.is_some() {
            self.event(TaskEventKind::Started, num, wait, 0, Status::Ok);
        }
    }

    /// The task ended (`skipped`: it never ran, cancelled or failed while
    /// queued): counts it and tells the observer.
    pub(super) fn finish(
        &self,
        slot: &Slot,
        num: u64,
        wait: u64,
        started: u64,
        how: Finish,
        skipped: bool,
    ) {
        let run = if skipped {
            0
        } else {
            slot.task.store(0, Ordering::Release);
            if started == 0 {
                0
            } else {
                self.clock().saturating_sub(started)
            }
        };
        slot.c.finished_ticks(how, run);
        if self.observer.is_none() {
            return;
        }
        let status = match how {
            Finish::Completed => Status::Ok,
            Finish::Failed if skipped => Status::BrokenPool,
            Finish::Failed => Status::TaskFailed,
            Finish::Cancelled => Status::Cancelled,
        };
        self.event(TaskEventKind::Finished, num, wait, run, status);
    }

    /// Tells the observer, if any (`wait` and `run` in ticks). Out of line:
    /// a pool without an observer pays one test of an `Option` per event.
    #[cold]
    #[inline(never)]
    fn event(&self, kind: TaskEventKind, task: u64, wait: u64, run: u64, status: Status) {
        if let Some(o) = &self.observer {
            let ev = TaskEvent {
                kind,
                task,
                wait: ticks_to_duration(wait),
                run: ticks_to_duration(run),
                status,
            };
            // A panic of the observer must not end the worker.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| o(&ev))).is_err() {
                crate::log::log("thread pool: the task observer panicked");
            }
        }
    }

    /// A queued item cancelled by a shutdown (any thread).
    pub(super) fn drained(&self, item: &WorkItem) {
        self.drained.fetch_add(1, Ordering::AcqRel);
        if item.bounded() {
            self.bound.leave(1);
        }
    }

    pub(super) fn exited(&self) {
        self.exited.fetch_add(1, Ordering::AcqRel);
    }

    /// Q5: read without a lock. A read during which no task was submitted
    /// is a snapshot of the queue (taken is read after submitted stood
    /// still); one more is tried, then a bounded queue's depth is cut to
    /// the bound, which the queue had at some instant of the read.
    fn stats(&self, started_threads: usize) -> Stats {
        self.start_timing();
        const ATTEMPTS: usize = 2;
        let mut s = Stats::default();
        for attempt in 0..ATTEMPTS {
            s = Stats::default();
            let before = self.submitted.load(Ordering::Acquire);
            let drained = self.drained.load(Ordering::Acquire);
            // Every slot, also of threads not started when this began: one
            // starting meanwhile may take tasks before `submitted` is read.
            let slots = self.slots.iter();
            let taken = sum_counters(slots.map(|p| &p.0.c), &mut s) + drained;
            s.cancelled += drained;
            let submitted = self.submitted.load(Ordering::Acquire);
            settle(&mut s, taken, submitted);
            if submitted == before {
                break;
            }
            let max = self.bound.max() as u64;
            if attempt == ATTEMPTS - 1 && max != 0 && s.queued > max {
                s.queued = max;
                s.submitted = taken + max;
            }
        }
        let rate = TickRate::now();
        s.queue_wait_ns = rate.ns(s.queue_wait_ns);
        s.run_ns = rate.ns(s.run_ns);
        let exited = self.exited.load(Ordering::Acquire);
        s.workers_started = started_threads as u64;
        s.workers_alive = started_threads.saturating_sub(exited) as u64;
        s.submitters_waiting = self.bound.waiting() as u64;
        s.max_queued = self.bound.max() as u64;
        s
    }

    /// The oldest queued task, if its queue time is still in the ring:
    /// tasks leave the queue about in submission order, so it is the one
    /// after those taken (an estimate with several submitting threads).
    fn oldest_queued(&self, s: &Stats) -> Option<(u64, Duration)> {
        if s.queued == 0 {
            return None;
        }
        let num = s.submitted - s.queued + 1;
        let (at, n) = &self.stamps[num as usize & (STAMPS - 1)];
        if n.load(Ordering::Acquire) != num {
            return None;
        }
        let at = at.load(Ordering::Relaxed);
        if at == 0 {
            return None;
        }
        Some((num, ticks_to_duration(now_ticks().saturating_sub(at))))
    }
}

impl Flow for ThreadPool {
    fn submit_until(&self, task: Task, deadline: Option<Instant>) -> Result<Future, Refused> {
        self.inner.submit(task, deadline)
    }

    fn stats(&self) -> Stats {
        self.inner.flow.stats(self.threads_started())
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    /// Q7: threads cannot be stopped from outside.
    fn stop_workers(&self, _signal: i32) -> Result<(), Status> {
        Err(Status::InvalidArgument)
    }

    fn shutdown_until(&self, cancel: bool, deadline: Option<Instant>) -> Result<(), Status> {
        self.inner.shutdown_until(cancel, deadline)
    }
}

impl Inner {
    /// Q8: shutdown, then waits until `deadline` for every thread to end;
    /// past it the pool is abandoned to its threads (they finish their
    /// tasks, then exit and free it) and no later shutdown joins.
    fn shutdown_until(&self, cancel: bool, deadline: Option<Instant>) -> Result<(), Status> {
        if self.forked() {
            return Ok(());
        }
        self.shutdown(false, cancel)?;
        if self.on_own_thread() {
            return Err(Status::WouldDeadlock);
        }
        {
            let mut t = self.threads.lock();
            while t.exited < self.started.load(Ordering::Acquire) {
                let Some(d) = deadline else {
                    self.joined.wait(&mut t);
                    continue;
                };
                if self.joined.wait_until(&mut t, d).timed_out()
                    && t.exited < self.started.load(Ordering::Acquire)
                {
                    self.flow.abandoned.store(true, Ordering::Release);
                    return Err(Status::Timeout);
                }
            }
        }
        self.join_all();
        Ok(())
    }

    fn describe(&self) -> String {
        let started = self.started.load(Ordering::Acquire);
        let s = self.flow.stats(started);
        let now = now_ticks();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "thread pool {}: {} of {} workers alive, max_queued {}",
            self.prefix,
            s.workers_alive,
            self.max_workers,
            if s.max_queued == 0 {
                "unbounded".to_string()
            } else {
                s.max_queued.to_string()
            }
        );
        for (i, slot) in self.flow.slots[..started.min(self.max_workers)]
            .iter()
            .enumerate()
        {
            let name = thread_name(&self.prefix, i);
            let task = slot.task.load(Ordering::Acquire);
            if task == 0 {
                let _ = writeln!(out, "  worker {name}: idle");
                continue;
            }
            let func = slot.func.load(Ordering::Relaxed);
            let since = slot.since.load(Ordering::Relaxed);
            let how_long = if since == 0 {
                "since before the pool was first observed".to_string()
            } else {
                format!(
                    "for {}",
                    human(ticks_to_duration(now.saturating_sub(since)))
                )
            };
            let _ = writeln!(
                out,
                "  worker {name}: running task {task} ({}) {how_long}",
                function_name(func),
            );
        }
        let _ = write!(out, "queue: {} queued", s.queued);
        match self.flow.oldest_queued(&s) {
            Some((num, age)) => {
                let _ = writeln!(out, ", oldest queued for {} (task {num})", human(age));
            }
            None => out.push('\n'),
        }
        let _ = writeln!(
            out,
            "tasks: {} submitted, {} running, {} completed, {} failed, {} cancelled; \
             {} submitters waiting",
            s.submitted, s.running, s.completed, s.failed, s.cancelled, s.submitters_waiting
        );
        out
    }
}
