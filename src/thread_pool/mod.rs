//! ThreadPoolExecutor (T1–T12, E1–E8, B8, B12, X16–X18).
//!
//! Layout:
//! - `queues`: where work waits. A submit from outside the pool goes to one
//!   injector (`injector`: a two-lock queue of reused blocks); a submit
//!   from one of the pool's own threads (a task or a done-callback running
//!   there) goes to that worker's own deque.
//!   Workers take from their deque, then a batch from the injector, then
//!   steal from each other, so a blocked worker strands nothing.
//! - `sleepers`: idle workers. At most one or two search (spin) for work;
//!   the others park on a futex. A submit wakes the most recently parked
//!   worker, directly, only when nobody searches (or the searchers let a
//!   backlog build up: they are not running).
//! - `worker`: a worker thread's loop, running items, failing them when the
//!   pool broke (T7).
//! - here: the pool, submit, thread start (T2/T3) and shutdown (E3–E8).
//!
//! Order (E2): with one worker, tasks start in submission order (every
//! submit goes to the injector, a FIFO). With several, items submitted by
//! one thread from outside the pool leave the injector in submission order,
//! but may start in another: a worker takes a few items at a time into its
//! deque, other workers may steal from there, and a thread may be
//! descheduled between taking an item and starting it. Items submitted from
//! inside a worker go to that worker's deque, run before the injector's
//! items on that worker, and are first in, first out among themselves. No
//! order is promised between different submitting threads, nor for finishing.
//!
//! Closing (E1, T8): a submit from outside the pool reads the flags once
//! (a closed pool refuses at once), and the injector decides for one that
//! races the close: every such submit takes the injector's tail lock
//! anyway, and the close sets the flags there too, so it needs no counter
//! of its own. A submit from one of the pool's workers, into that worker's
//! deque, is counted in the gate instead: one atomic word holding the
//! shutdown and broken flags and the worker submits under way, each
//! counted in before it reads the flags and out after it queued its item;
//! whoever closes waits for that count to drop to zero. From then on
//! nothing can be queued, and a worker exits only when the pool is shut
//! down and every queue is empty, so accepted work always runs first
//! unless cancelled (T8). Workers read the flags from a copy.
//!
//! Idle accounting (T2/T3) is an atomic count of credits: a worker adds one when
//! its task function has returned and its queues are empty (before it
//! completes the future, so that a caller woken by that completion and
//! submitting again finds the credit: N sequential submit-then-wait rounds
//! use one thread), or when it finds no work before parking; a submit that
//! takes a credit starts no thread. So a worker running the done-callbacks
//! of its task counts as idle: work submitted meanwhile waits for those
//! callbacks rather than starting a thread. Once every thread has started,
//! credits are no longer kept.
//!
//! Fork (T11): a child forked after the pool was made has none of its
//! threads; there the pool refuses work (`Shutdown`) and `shutdown` returns
//! at once, touching no lock that a parent thread may have held at the fork.
//!
//! No callback and no user code ever runs under a pool lock (T9 decision):
//! cancelling queued work and failing it after an initializer failure
//! happen with no lock held.

mod flow;
mod injector;
mod options;
mod queues;
mod sleepers;
mod worker;

pub use options::*;

use crate::executor::{Executor, Refused, Task};
use crate::future::Future;
use crate::status::Status;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::thread::JoinHandle;
use crate::sync::{Condvar, Mutex};
use queues::Queues;
use sleepers::Sleepers;
use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

/// Counts thread pools in the process, for the default name prefix (T6).
/// std's even under the model checker: shared by the test threads that
/// each run a model, which a shuttle atomic must not be.
static POOL_COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

crate::sync::thread_local! {
    /// The pool whose worker this thread is (its `Inner` address), or 0.
    static CURRENT_POOL: Cell<usize> = const { Cell::new(0) };
    /// That worker's own deque (a `crossbeam_deque::Worker<WorkItem>` on
    /// the worker's stack), or null.
    static LOCAL_QUEUE: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}

struct WorkItem {
    task: Task,
    /// The pool's own reference, dropped once the future is done.
    future: Future,
    /// The task's number (Q11), with `BOUNDED` set when it holds a slot of
    /// the bound (submitted from outside the pool, Q4): one word, so that
    /// an item stays small to copy.
    tag: u64,
    /// When it was queued (`flow::now_ticks`, 0: not timed; Q5, Q6).
    queued_at: u64,
}

/// `WorkItem::tag`: the item holds a slot of the bound.
const BOUNDED: u64 = 1 << 63;

impl WorkItem {
    fn num(&self) -> u64 {
        self.tag & !BOUNDED
    }

    fn bounded(&self) -> bool {
        self.tag & BOUNDED != 0
    }
}

/// `Inner::gate`: the pool refuses work once either flag is set (E1); the
/// low bits count the submits under way.
const SHUTDOWN: usize = 1 << (usize::BITS - 1);
const BROKEN: usize = 1 << (usize::BITS - 2);
const SUBMITTING: usize = BROKEN - 1;

/// E1: the refusal the flags in `word` call for, broken before shut down.
fn refusal(word: usize) -> Option<Status> {
    if word & BROKEN != 0 {
        Some(Status::BrokenPool)
    } else if word & SHUTDOWN != 0 {
        Some(Status::Shutdown)
    } else {
        None
    }
}

/// The refusal of an item the closed injector gave back with its flags;
/// the item's reference to its future goes with it.
fn refused_by_injector(item: WorkItem, flags: usize) -> Refused {
    Refused {
        status: refusal(flags).unwrap_or(Status::Shutdown),
        task: item.task,
    }
}

/// Keeps a value on cache lines of its own (two, for the adjacent-line
/// prefetcher), so that threads writing one counter do not slow down
/// threads using its neighbours.
#[repr(align(128))]
#[derive(Default)]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

#[derive(Default)]
struct Threads {
    handles: Vec<JoinHandle<()>>,
    /// Threads started and not joined yet (some may be being joined).
    unjoined: usize,
    /// Threads whose loop has ended (Q8: `shutdown_until` waits for them).
    exited: usize,
}

struct Inner {
    max_workers: usize,
    prefix: String,
    initializer: Option<Initializer>,
    queues: Queues,
    sleepers: Sleepers,
    /// `SHUTDOWN` and `BROKEN`, and how many submits from the pool's own
    /// workers are under way (see the module comment): read by every
    /// submit, written by those and by `close`.
    gate: Padded<AtomicUsize>,
    /// The flags of `gate`, copied there after they are set there, for the
    /// workers: they look at them often and must not steal the submitters'
    /// cache line to do so.
    closed: Padded<AtomicUsize>,
    /// Why the pool broke (T7); written before `BROKEN` is set.
    broken_why: Mutex<String>,
    /// Idle credits (T3), kept only while threads may still be started.
    idle: Padded<AtomicUsize>,
    /// Threads started so far; only grows, never past `max_workers`.
    /// Written under `threads`' lock.
    started: AtomicUsize,
    threads: Mutex<Threads>,
    joined: Condvar,
    fork_generation: usize,
    /// Q1–Q12: the bound, the observer and the counters (`flow.rs`).
    flow: flow::PoolFlow,
    /// Each worker's (items taken, task running) at the watchdog's last
    /// look (`worker.rs`, `watch`); one watchdog at a time uses it.
    watched: Mutex<Vec<(u64, u64)>>,
}

/// Python's ThreadPoolExecutor over C tasks.
pub struct ThreadPool {
    inner: Arc<Inner>,
}

impl ThreadPool {
    /// A pool with no thread yet (T2).
    pub fn new(options: ThreadPoolOptions) -> Result<ThreadPool, Status> {
        let max_workers = match options.max_workers {
            0 => default_max_workers(),
            n if n > MAX_WORKERS_LIMIT => return Err(Status::InvalidArgument),
            n => n,
        };
        let number = POOL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let prefix = match options.thread_name_prefix {
            Some(p) if !p.is_empty() => p.replace('\0', ""),
            _ => format!("futpool-{number}"),
        };
        Ok(ThreadPool {
            inner: Arc::new(Inner {
                max_workers,
                prefix,
                initializer: options.initializer,
                queues: Queues::new(max_workers),
                sleepers: Sleepers::new(max_workers),
                gate: Padded(AtomicUsize::new(0)),
                closed: Padded(AtomicUsize::new(0)),
                broken_why: Mutex::new(String::new()),
                idle: Padded(AtomicUsize::new(0)),
                started: AtomicUsize::new(0),
                threads: Mutex::new(Threads::default()),
                joined: Condvar::new(),
                fork_generation: crate::fork::generation(),
                flow: flow::PoolFlow::new(max_workers, options.flow),
                watched: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The effective `max_workers`.
    pub fn max_workers(&self) -> usize {
        self.inner.max_workers
    }

    /// The thread name prefix in use.
    pub fn thread_name_prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// How many worker threads were started so far.
    pub fn threads_started(&self) -> usize {
        self.inner.started.load(Ordering::Acquire)
    }
}

impl Executor for ThreadPool {
    fn submit(&self, task: Task) -> Result<crate::Future, Refused> {
        self.inner.submit(task, None)
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<(), Status> {
        self.inner.shutdown(wait, cancel_futures)
    }

    fn flow(&self) -> Option<&dyn crate::flow::Flow> {
        Some(self)
    }
}

impl Drop for ThreadPool {
    /// E8: an abandoned pool behaves like `shutdown(wait=false)`; its threads
    /// finish the queued work, exit, and free the pool's state. (The C
    /// handle's last release has called `shutdown(wait=true)` before.)
    fn drop(&mut self) {
        let _ = self.inner.shutdown(false, false);
    }
}

/// Counts one submit under way in `Inner::gate` for as long as it lives.
struct Submitting<'a>(&'a AtomicUsize);

impl Drop for Submitting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Inner {
    fn forked(&self) -> bool {
        // A pool from before a fork has no threads in the child (T11): it
        // refuses work instead of hanging.
        crate::fork::generation() != self.fork_generation
    }

    fn on_own_thread(&self) -> bool {
        CURRENT_POOL.with(|c| c.get()) == self as *const Inner as usize
    }

    /// E1, Q1–Q4: waits for room in a bounded queue until `deadline`
    /// (never from one of the pool's own threads), then queues the task.
    #[inline]
    fn submit(self: &Arc<Self>, task: Task, deadline: Option<Instant>) -> Result<Future, Refused> {
        if self.forked() {
            // T11: this pool's threads live in the parent process only.
            return Err(Refused {
                status: Status::Shutdown,
                task,
            });
        }
        if !self.flow.bound.is_bounded() {
            return self.queue_task(task, false);
        }
        self.submit_bounded(task, deadline)
    }

    #[inline(never)]
    fn submit_bounded(
        self: &Arc<Self>,
        task: Task,
        deadline: Option<Instant>,
    ) -> Result<Future, Refused> {
        // Q4: a task or callback of this pool never waits for room (the
        // room it waits for may be its own to free).
        let mut bounded = !self.on_own_thread();
        if bounded {
            match self.flow.bound.enter(deadline) {
                Ok(()) => {}
                Err(Status::QueueFull) => {
                    return Err(Refused {
                        status: Status::QueueFull,
                        task,
                    })
                }
                // Closed (shut down or broken): no slot taken; the gate
                // below gives the pool's own refusal.
                Err(_) => bounded = false,
            }
        }
        let r = self.queue_task(task, bounded);
        if r.is_err() && bounded {
            self.flow.bound.leave(1);
        }
        r
    }

    /// Queues `task` on the injector, or on this thread's own deque when it
    /// is one of this pool's workers and the pool has several (with one
    /// worker, order follows submission); then wakes a parked worker if
    /// nobody searches (a worker blocked in the task submitting here must
    /// not keep the item to itself, E6).
    #[inline(always)]
    fn queue_task(self: &Arc<Self>, task: Task, bounded: bool) -> Result<Future, Refused> {
        if self.max_workers > 1 && self.on_own_thread() {
            return self.submit_from_worker(task, bounded);
        }
        // E1: a closed pool refuses here; a submit racing the close is
        // decided by the injector, under its tail lock.
        if let Some(status) = refusal(self.gate.load(Ordering::Relaxed)) {
            return Err(Refused { status, task });
        }
        if let Err(status) = self.adjust_thread_count() {
            return Err(Refused { status, task });
        }
        let (future, pool_ref) = Future::for_executor_pair();
        let item = WorkItem {
            task,
            future: pool_ref,
            tag: if bounded { BOUNDED } else { 0 },
            queued_at: 0,
        };
        // Numbered as it goes in, so that numbers grow in queue order and
        // a refused item counts nowhere.
        let admitted = self.queues.push_injector(item, |item| {
            let (num, queued_at) = self.flow.submitted();
            item.tag |= num;
            item.queued_at = queued_at;
        });
        match admitted {
            Ok(()) => {
                self.wake_for_new_work();
                Ok(future)
            }
            Err((item, flags)) => {
                // Never seen by anyone: dropping both references cancels
                // the future, which has no listener.
                drop(future);
                Err(refused_by_injector(item, flags))
            }
        }
    }

    /// `queue_task` from one of this pool's workers (its task or a
    /// done-callback there), into its own deque. Counted in the gate from
    /// before the flags are read until the item is queued: whoever closes
    /// the pool waits for that count to drop to zero (`wait_for_submits`).
    #[inline(never)]
    fn submit_from_worker(self: &Arc<Self>, task: Task, bounded: bool) -> Result<Future, Refused> {
        let gate = self.gate.fetch_add(1, Ordering::SeqCst);
        let _counted = Submitting(&self.gate.0);
        if let Some(status) = refusal(gate) {
            return Err(Refused { status, task });
        }
        if let Err(status) = self.adjust_thread_count() {
            return Err(Refused { status, task });
        }
        let (future, pool_ref) = Future::for_executor_pair();
        let (num, queued_at) = self.flow.submitted();
        let item = WorkItem {
            task,
            future: pool_ref,
            tag: if bounded { num | BOUNDED } else { num },
            queued_at,
        };
        let local = LOCAL_QUEUE.with(|l| l.get()) as *const crossbeam_deque::Worker<WorkItem>;
        // SAFETY: LOCAL_QUEUE is set by `worker_main` of the pool named in
        // CURRENT_POOL (this one, `on_own_thread`) to its deque, which lives
        // on that worker's stack until it clears both on the way out; we
        // are on that thread, so the deque is alive and its owner is us.
        match unsafe { local.as_ref() } {
            Some(local) => local.push(item),
            None => {
                // Not reached: both are set before any task runs. Queued
                // where any worker finds it rather than lost.
                crate::log::log("thread pool: internal error: a worker has no deque");
                if let Err((item, flags)) = self.queues.push_injector(item, |_| {}) {
                    return Err(refused_by_injector(item, flags));
                }
            }
        }
        self.wake_for_new_work();
        Ok(future)
    }

    /// For an item just queued: wakes a parked worker unless one searches
    /// (or the searchers let a backlog build up, see `sleepers`).
    fn wake_for_new_work(&self) {
        self.sleepers
            .notify_one_unless_searched(|| self.queues.injector_len());
    }

    /// T2: takes an idle credit, or starts a thread if fewer than
    /// `max_workers` exist (rare: at most `max_workers` times). Fails only
    /// when no thread exists and none can be started.
    #[inline(always)]
    fn adjust_thread_count(self: &Arc<Self>) -> Result<(), Status> {
        if self.all_started() {
            return Ok(());
        }
        self.take_credit_or_start()
    }

    /// `adjust_thread_count` while threads may still be started.
    #[cold]
    #[inline(never)]
    fn take_credit_or_start(self: &Arc<Self>) -> Result<(), Status> {
        let took_credit = self
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if took_credit {
            return Ok(());
        }
        let mut t = self.threads.lock();
        // A submit from outside the pool is not counted in the gate: one
        // that a close overtook must not start a thread that the shutdown,
        // having taken the handles to join, would never join (the close
        // sets the flag before the shutdown takes this lock).
        if let Some(status) = refusal(self.gate.load(Ordering::SeqCst)) {
            return Err(status);
        }
        let index = self.started.load(Ordering::Acquire);
        if index >= self.max_workers {
            return Ok(());
        }
        let me = Arc::clone(self);
        self.queues.prepare_local(index);
        let spawned = crate::sync::thread::Builder::new()
            .name(thread_name(&self.prefix, index))
            .spawn(move || me.worker_main(index));
        match spawned {
            Ok(h) => {
                self.started.store(index + 1, Ordering::Release);
                t.handles.push(h);
                t.unjoined += 1;
                Ok(())
            }
            Err(e) => {
                crate::log::log(&format!("thread pool: cannot start a worker thread: {e}"));
                if index == 0 {
                    Err(Status::Os)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Once every thread was started, idle credits matter no more: the
    /// workers stop counting them, and a stream of tasks moves no counter
    /// between the submitting thread and the workers.
    fn all_started(&self) -> bool {
        self.started.load(Ordering::Acquire) >= self.max_workers
    }

    /// Sets `flag` (SHUTDOWN or BROKEN) for submitters (the gate, read by
    /// the workers' own submits, and the injector's tail, which decides
    /// for submits from outside), then for workers. A worker that sees the
    /// flag in `closed` thus sees every item the injector admitted.
    fn close(&self, flag: usize) {
        self.gate.fetch_or(flag, Ordering::SeqCst);
        self.queues.close_injector(flag);
        self.closed.fetch_or(flag, Ordering::SeqCst);
    }

    /// Waits until no submit from a worker is under way; once a flag is set
    /// in `gate`, no new one starts, and once `close` returned the injector
    /// admits nothing, so after this nothing more is queued.
    fn wait_for_submits(&self) {
        while self.gate.load(Ordering::SeqCst) & SUBMITTING != 0 {
            crate::sync::thread::yield_now();
        }
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<(), Status> {
        if self.forked() {
            // T11: the pool has no thread in this process; nothing to stop.
            return Ok(());
        }
        self.close(SHUTDOWN);
        self.flow.bound.close(); // Q3: waiting submitters are refused
        self.wait_for_submits();
        self.sleepers.notify_all();
        if cancel_futures {
            // E6/T9: cancel what is still queued (a worker may take an item
            // meanwhile; that one runs), outside every pool lock, so that
            // callbacks may submit (refused) or even shutdown(wait). The
            // argument goes first, so it is dropped when waiters wake.
            let cancelled = self.queues.drain();
            for item in cancelled {
                self.flow.drained(&item);
                let WorkItem { task, future, .. } = item;
                drop(task);
                future.cancel();
            }
        }
        if !wait {
            return Ok(());
        }
        if self.on_own_thread() {
            // B12/X18: the pool is shut down, but a thread cannot join itself.
            return Err(Status::WouldDeadlock);
        }
        if self.flow.abandoned.load(Ordering::Acquire) {
            // Q8: a shutdown's deadline passed; the threads end by themselves.
            return Ok(());
        }
        self.join_all();
        Ok(())
    }

    /// E4: joins every worker; a concurrent caller waits for the joins the
    /// other one is doing.
    fn join_all(&self) {
        let handles = std::mem::take(&mut self.threads.lock().handles);
        for h in handles {
            let _ = h.join();
            let mut t = self.threads.lock();
            t.unjoined -= 1;
            self.joined.notify_all();
        }
        let mut t = self.threads.lock();
        while t.unjoined > 0 {
            self.joined.wait(&mut t);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.forked() {
            // The handles name threads of the parent process: leave them be.
            std::mem::forget(std::mem::take(&mut self.threads.get_mut().handles));
        }
        // Otherwise dropping a handle detaches a thread that has exited or
        // is exiting (the last one to let go of the pool may be a worker).
    }
}

#[cfg(test)]
mod tests;
