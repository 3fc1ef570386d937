//! Where queued work items wait: one injector for submits from outside the
//! pool and one deque per worker for submits from that worker's own tasks
//! and callbacks, which the other workers steal from (T2, E2).
//!
//! A worker looks at its own deque first, then takes a batch from the
//! injector (oldest first) into its deque, then steals from the others. So
//! a stream of tasks moves no shared cache line per task beyond the
//! injector's head and tail, and a worker blocked in a task cannot strand
//! the items in its deque: any other worker (or the shutdown) can take them.

use super::injector::Injector;
use super::WorkItem;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Mutex;
use crossbeam_deque::{Steal, Stealer, Worker};
use std::sync::OnceLock;

/// How many items a worker moves from the injector into its own deque at a
/// time, besides the one it runs: enough to take the injector's head once
/// per batch, few enough to leave work for the other workers (who steal
/// from the deque what it holds). With more workers than CPUs, a worker
/// finding the head taken yields its CPU, so every take counts: in an
/// interleaved A/B on 2 CPUs, 64 against 16 moved B-W1 at 16 workers from
/// 6.6M to 7.8M tasks/s and B-W5 from 4.8M to 5.3M (B-W3 4.9M to 4.6M, and
/// 2 workers within noise).
const INJECTOR_BATCH: usize = 64;

/// How often a worker tries the injector's head while another worker holds
/// it before it starts yielding between tries.
const INJECTOR_SPINS: usize = 8;

pub(super) struct Queues {
    injector: Injector<WorkItem>,
    /// One per worker index, set before the worker counts as published.
    stealers: Box<[OnceLock<Stealer<WorkItem>>]>,
    /// The deques themselves, from when they are made until their worker
    /// thread takes them (kept here if starting the thread failed).
    unclaimed: Box<[Mutex<Option<Worker<WorkItem>>>]>,
    /// Stealers published so far (only grows).
    published: AtomicUsize,
}

impl Queues {
    pub(super) fn new(max_workers: usize) -> Queues {
        Queues {
            injector: Injector::new(),
            stealers: (0..max_workers).map(|_| OnceLock::new()).collect(),
            unclaimed: (0..max_workers).map(|_| Mutex::new(None)).collect(),
            published: AtomicUsize::new(0),
        }
    }

    /// Makes the deque of worker `index` (the next one: indices are handed
    /// out in order, under the pool's thread lock) and publishes its
    /// stealer, before the thread starts; idempotent.
    pub(super) fn prepare_local(&self, index: usize) {
        self.stealers[index].get_or_init(|| {
            let local = Worker::new_fifo();
            let stealer = local.stealer();
            *self.unclaimed[index].lock() = Some(local);
            stealer
        });
        self.published.fetch_max(index + 1, Ordering::Release);
    }

    /// The deque of worker `index`, for its thread (once).
    pub(super) fn claim_local(&self, index: usize) -> Option<Worker<WorkItem>> {
        self.unclaimed[index].lock().take()
    }

    /// A submit from outside the pool (or to a one-worker pool), stamped by
    /// `admit` as it goes in; refused, with the flags, once `close`d.
    pub(super) fn push_injector(
        &self,
        item: WorkItem,
        admit: impl FnOnce(&mut WorkItem),
    ) -> Result<(), (WorkItem, usize)> {
        self.injector.push(item, admit)
    }

    /// Closes the injector to later submits, with `flag` (see `push_injector`).
    pub(super) fn close_injector(&self, flag: usize) {
        self.injector.close(flag);
    }

    fn stealers(&self) -> impl Iterator<Item = &Stealer<WorkItem>> {
        let n = self.published.load(Ordering::Acquire);
        self.stealers[..n].iter().filter_map(OnceLock::get)
    }

    /// The next item for the worker owning `local` (index `me`): its own
    /// deque, then the injector, then the other workers' deques; and
    /// whether it came from its own deque (whose other items, if any, were
    /// pushed before a wake-up check of this worker's, see `found_work`).
    pub(super) fn find(&self, local: &Worker<WorkItem>, me: usize) -> Option<(WorkItem, bool)> {
        if let Some(item) = local.pop() {
            return Some((item, true));
        }
        if let Some(item) = self.take_from_injector(local) {
            return Some((item, false));
        }
        self.steal_from_others(me).map(|item| (item, false))
    }

    /// The injector's oldest item, and a batch more into `local`. A worker
    /// that finds another one taking from it spins a little, then yields
    /// its CPU until the other is done (with more workers than CPUs, the
    /// other one may be waiting for this CPU).
    fn take_from_injector(&self, local: &Worker<WorkItem>) -> Option<WorkItem> {
        for attempt in 0.. {
            if self.injector.is_empty() {
                return None;
            }
            let mut first = None;
            let took = self.injector.try_take(INJECTOR_BATCH + 1, |item| {
                if first.is_none() {
                    first = Some(item);
                } else {
                    // The submitter wrote each future last: fetch their
                    // lines now rather than stall on each as it starts
                    // (B-W5 at 2 and 16 workers: 6-11 % less CPU per task).
                    item.future.prefetch();
                    local.push(item);
                }
            });
            if took.is_some() {
                return first;
            }
            if attempt < INJECTOR_SPINS {
                std::hint::spin_loop();
            } else {
                crate::sync::thread::yield_now();
            }
        }
        None
    }

    /// One item from another worker's deque, looking at them from `me + 1`
    /// round, so that thieves spread over their victims.
    fn steal_from_others(&self, me: usize) -> Option<WorkItem> {
        let n = self.published.load(Ordering::Acquire);
        loop {
            let mut retry = false;
            for k in 1..n {
                let Some(s) = self.stealers[(me + k) % n].get() else {
                    continue;
                };
                match s.steal() {
                    Steal::Success(item) => return Some(item),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// How many items wait in the injector (a snapshot).
    pub(super) fn injector_len(&self) -> usize {
        self.injector.len()
    }

    /// Whether any queue holds an item (a snapshot: reads, writes nothing).
    pub(super) fn has_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers().any(|s| !s.is_empty())
    }

    /// Whether worker `index`'s deque holds an item (a snapshot).
    pub(super) fn holds(&self, index: usize) -> bool {
        self.stealers[index].get().is_some_and(|s| !s.is_empty())
    }

    /// Whether the injector and `local` are both empty.
    pub(super) fn nothing_for(&self, local: &Worker<WorkItem>) -> bool {
        local.is_empty() && self.injector.is_empty()
    }

    /// Takes every queued item out of every queue, the injector first (E6,
    /// T7). Items a worker takes meanwhile are not included: that worker
    /// runs (or fails) them.
    pub(super) fn drain(&self) -> Vec<WorkItem> {
        let mut items = Vec::new();
        self.injector.take_all(|item| items.push(item));
        for s in self.stealers() {
            loop {
                match s.steal() {
                    Steal::Success(item) => items.push(item),
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            }
        }
        items
    }
}
