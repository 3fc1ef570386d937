//! A worker thread: its initializer (T7), its loop (find work, search a
//! little, park) and running or failing one item (T4, X2).

use super::sleepers::Watch;
use super::{Inner, WorkItem, BROKEN, CURRENT_POOL, LOCAL_QUEUE, SHUTDOWN, SUBMITTING};
use crate::executor::{complete, run_task, TaskContext, TaskOutcome};
use crate::flow::Finish;
use crate::status::{ErrorRecord, Status};
use crate::sync::atomic::Ordering;
use crossbeam_deque::Worker;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a searching worker spins for new work before it parks.
const SEARCH_SPIN: Duration = Duration::from_micros(20);

/// After an item found without parking (work comes in a stream), a worker
/// that runs out of work first polls this long without giving the CPU
/// away, before it even counts itself searching: a submitter that waited
/// for the task just done submits again within a microsecond, and yielding
/// at once was measured to make such round trips up to 8x slower (2 against
/// 14 µs, B-W2); and a stream mostly refills within it, so the sleepers'
/// word, which every submit reads, is not written twice for it (B-W5 with
/// 16 workers on 2 CPUs: 258 → 244 ns of CPU per task in a 9-round A/B).
/// It is kept short, since a spinner that keeps its CPU on a small machine
/// takes it from the submitter (a 4 µs window cost B-W5 15-20 % with 2
/// workers on 2 cores). The search that follows yields, for a thread woken
/// onto this CPU (often the one the task's completion woke).
const SEARCH_SPIN_HOT: Duration = Duration::from_micros(1);

/// Spin-loop hints between two looks at the queues of a searching worker.
const POLL_PAUSES: u32 = 64;

/// A worker's own state, on its thread.
struct Me {
    index: usize,
    local: Worker<WorkItem>,
    /// Whether this worker holds an idle credit it has not been woken for.
    credited: bool,
    /// Whether it counts as searching in the sleepers' state word.
    searching: bool,
    /// Whether it found its last item without parking first: work comes in
    /// a stream, and the next item is likely a microsecond or two away.
    streaming: bool,
}

/// Clears the thread-local pointers to the worker's deque, however the
/// worker leaves.
struct ClearLocal;

impl Drop for ClearLocal {
    fn drop(&mut self) {
        LOCAL_QUEUE.with(|l| l.set(std::ptr::null()));
        CURRENT_POOL.with(|c| c.set(0));
    }
}

impl Inner {
    pub(super) fn worker_main(self: Arc<Self>, index: usize) {
        let _exit = CountExit(&self);
        let Some(local) = self.queues.claim_local(index) else {
            crate::log::log("thread pool: internal error: a worker has no queue");
            return;
        };
        self.sleepers.register(index);
        // A new thread starts as if it had an idle credit: the submit that
        // started it is queueing an item for it, so finding no work at first
        // does not make it idle (a stale credit would let a later submit
        // skip starting a thread while every worker is busy).
        let mut me = Me {
            index,
            local,
            credited: true,
            searching: false,
            streaming: false,
        };
        CURRENT_POOL.with(|c| c.set(Arc::as_ptr(&self) as usize));
        LOCAL_QUEUE.with(|l| l.set(&me.local as *const Worker<WorkItem> as *const ()));
        let _clear = ClearLocal;
        if let Some(init) = &self.initializer {
            if let Err(why) = init.run() {
                self.initializer_failed(&why, index);
                return;
            }
        }
        while let Some((item, broken)) = self.next_item(&mut me) {
            let r = catch_unwind(AssertUnwindSafe(|| {
                if broken {
                    self.fail_broken(item, me.index)
                } else {
                    self.run_item(item, &mut me)
                }
            }));
            if r.is_err() {
                crate::log::log("thread pool: internal error (panic) in a worker");
            }
        }
        if me.searching {
            self.sleepers.stop_searching();
        }
    }

    /// The next item (and whether the pool is broken), or None once the
    /// pool is shut down and every queue is empty (T8: queued work runs
    /// first).
    fn next_item(&self, me: &mut Me) -> Option<(WorkItem, bool)> {
        let (mut spun_hot, mut spun, mut parked) = (false, false, false);
        loop {
            // Right after an item only: a worker back from parking was
            // woken (or woke itself, as the watchdog) to work.
            if !parked && !me.searching && me.local.is_empty() && !self.shutting_down() {
                let stood_down =
                    self.sleepers
                        .stand_down(me.index, || self.shutting_down(), || self.watch());
                if let Some(woken) = stood_down {
                    (parked, spun_hot, spun, me.searching) = (true, false, false, woken);
                    continue;
                }
            }
            if let Some((item, own)) = self.queues.find(&me.local, me.index) {
                me.streaming = !parked;
                self.found_work(me, own);
                let broken = self.closed.load(Ordering::Acquire) & BROKEN != 0;
                return Some((item, broken));
            }
            if self.shutting_down() {
                // A submit under way may still queue an item: wait for it.
                let submitting = self.gate.load(Ordering::SeqCst) & SUBMITTING;
                if submitting == 0 && !self.queues.has_work() {
                    return None;
                }
                crate::sync::thread::yield_now();
                continue;
            }
            if !me.credited && !self.all_started() {
                self.idle.fetch_add(1, Ordering::AcqRel);
                me.credited = true;
            }
            let ready =
                || self.queues.has_work() || self.closed.load(Ordering::Relaxed) & SHUTDOWN != 0;
            if me.streaming && !me.searching && !spun_hot {
                spun_hot = true;
                if spin_hot(SEARCH_SPIN_HOT, ready) {
                    continue;
                }
            }
            if !me.searching {
                me.searching = self.sleepers.try_search();
            }
            if me.searching && !spun {
                // Searching: spin a little for the next submit before
                // parking (a submit wakes a parked worker only when nobody
                // searches).
                spun = true;
                let _ = crate::spin_until_polling(SEARCH_SPIN, None, POLL_PAUSES, ready);
                continue;
            }
            if me.searching {
                me.searching = false;
                self.sleepers.stop_searching();
            }
            parked = true;
            me.searching = self.sleepers.park(
                me.index,
                || self.queues.has_work() || self.shutting_down(),
                || self.watch(),
            );
            (spun_hot, spun) = (false, false);
        }
    }

    fn shutting_down(&self) -> bool {
        self.closed.load(Ordering::SeqCst) & SHUTDOWN != 0
    }

    /// The watchdog's look (see `sleepers`): is the queued work stuck?
    /// It is when, since the last look (by this watchdog or the one before),
    /// no worker took an item; or a worker is still in the same task (it
    /// blocks, or runs long: another worker takes its place, as every
    /// worker of the pool would be awake without the cap); or a worker
    /// holding items in its deque took none (blocked, it strands them).
    fn watch(&self) -> Watch {
        if !self.queues.has_work() {
            return Watch::Resign;
        }
        let started = self.started.load(Ordering::Acquire);
        let mut watched = self.watched.lock();
        // A worker first seen now counts as moving.
        watched.resize(started, (u64::MAX, 0));
        let (mut moved, mut stuck) = (false, false);
        for (index, last) in watched.iter_mut().enumerate() {
            let (taken, task) = self.flow.slot(index).progress();
            moved |= taken != last.0;
            stuck |= task != 0 && task == last.1;
            stuck |= taken == last.0 && self.queues.holds(index);
            *last = (taken, task);
        }
        if moved && !stuck {
            Watch::Continue
        } else {
            Watch::Work
        }
    }

    /// Work found: stop searching, and see that the rest of the work is
    /// not left to this worker alone. The last searcher to stop wakes
    /// another worker if work is left; a worker holding a batch in its own
    /// deque does the same (it may block in its task, E6). Both cost a read
    /// of the sleepers' word when a worker searches or none is parked.
    ///
    /// An item from its own deque (`own`) comes from a batch or a submit
    /// of this worker's that a `notify_*` with a fence followed: the items
    /// left there need no new fence (`notify_one_published`), which spares
    /// a locked instruction per item of a batch.
    fn found_work(&self, me: &mut Me, own: bool) {
        me.credited = false;
        let was_last = me.searching && {
            me.searching = false;
            self.sleepers.stop_searching()
        };
        if was_last && self.queues.has_work() {
            self.sleepers.notify_one();
        } else if !me.local.is_empty() {
            if own {
                self.sleepers.notify_one_published();
            } else {
                self.sleepers.notify_one();
            }
        }
    }

    /// T4: runs one item unless it was cancelled.
    fn run_item(&self, item: WorkItem, me: &mut Me) {
        let flow = &self.flow;
        let slot = flow.slot(me.index);
        let (started, wait) = flow.take(&item, me.index);
        let num = item.num();
        let WorkItem { task, future, .. } = item;
        match future.set_running_or_notify_cancel() {
            Ok(true) => {}
            // Cancelled while queued: drop the argument, skip the task.
            _ => {
                drop(task);
                return flow.finish(slot, num, wait, started, Finish::Cancelled, true);
            }
        }
        flow.started(slot, num, task.func as usize, wait, started);
        let outcome = {
            let cancel_requested = || future.cancel_requested();
            run_task(&task, TaskContext::new(&cancel_requested))
        };
        let how = match &outcome {
            TaskOutcome::Value(_) => Finish::Completed,
            TaskOutcome::Error(_) => Finish::Failed,
            TaskOutcome::Cancelled => Finish::Cancelled,
        };
        // F20: let go of the argument before the future is done, so that
        // `arg_drop` has run when a reader wakes.
        drop(task);
        // With work waiting, this worker takes the next item anyway (and
        // credits itself in `next_item` if another worker got there first).
        if !self.all_started() && self.queues.nothing_for(&me.local) {
            self.idle.fetch_add(1, Ordering::AcqRel);
            me.credited = true;
        }
        // Q9: the observer hears of the end before the future's waiters do.
        flow.finish(slot, num, wait, started, how, false);
        complete(future, outcome);
    }

    /// Fails a queued item of a broken pool with its own record (X2).
    fn fail_broken(&self, item: WorkItem, index: usize) {
        let slot = self.flow.slot(index);
        let (started, wait) = self.flow.take(&item, index);
        let num = item.num();
        let WorkItem { task, future, .. } = item;
        drop(task);
        self.flow
            .finish(slot, num, wait, started, Finish::Failed, true);
        let why = self.broken_why.lock().clone();
        let record = ErrorRecord::new(
            Status::BrokenPool,
            0,
            &format!("A thread initializer failed, the thread pool is not usable anymore ({why})"),
        );
        let _ = future.set_exception(record);
    }

    /// T7: logs, marks the pool broken (later submits are refused) and fails
    /// every queued item, with no pool lock held.
    fn initializer_failed(&self, why: &str, index: usize) {
        crate::log::log(&format!(
            "thread pool {}: worker initializer failed ({why}); the pool is broken",
            self.prefix
        ));
        {
            let mut first_why = self.broken_why.lock();
            if self.gate.load(Ordering::Acquire) & BROKEN == 0 {
                *first_why = why.to_string();
            }
            self.close(BROKEN);
        }
        self.flow.bound.close();
        self.wait_for_submits();
        for item in self.queues.drain() {
            self.fail_broken(item, index);
        }
    }
}

/// Counts the worker's end (Q8) however its loop ends.
struct CountExit<'a>(&'a Inner);

impl Drop for CountExit<'_> {
    fn drop(&mut self) {
        self.0.flow.exited();
        let mut t = self.0.threads.lock();
        t.exited += 1;
        self.0.joined.notify_all();
    }
}

/// Spins for up to `budget` until `ready()`, without yielding the CPU.
fn spin_hot(budget: Duration, mut ready: impl FnMut() -> bool) -> bool {
    if cfg!(feature = "shuttle") {
        return ready(); // the model checker does not model time
    }
    let end = Instant::now() + budget;
    loop {
        for _ in 0..8 {
            if ready() {
                return true;
            }
            for _ in 0..POLL_PAUSES {
                std::hint::spin_loop();
            }
        }
        if Instant::now() >= end {
            return ready();
        }
    }
}
