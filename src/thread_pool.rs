//! ThreadPoolExecutor (SEMANTICS T1–T11, E1–E8, B8, B12, X16–X18).
//!
//! Layout: the FIFO of work items (E2) is a lock-free queue, so a submit and
//! a worker taking an item take no lock. One atomic word, the gate, holds
//! the shutdown and broken flags and counts the submits under way: a submit
//! counts itself in before it reads the flags and out after it queued its
//! item, and whoever sets a flag waits for that count to drop to zero. From
//! then on nothing can be queued, and a worker exits only when the pool is
//! shut down and the queue is empty, so accepted work always runs first
//! unless cancelled (T8). Idle workers spin briefly, then sleep on a
//! condition variable; a submit takes its lock only when a worker sleeps.
//!
//! Idle accounting (T2/T3) is an atomic count of credits: a worker adds one when
//! its task function has returned and the queue is empty (before it
//! completes the future, so that a caller woken by that completion and
//! submitting again finds the credit: N sequential submit-then-wait rounds
//! use one thread), or when it finds the queue empty before blocking; a
//! submit that takes a credit starts no thread. So a worker running the
//! done-callbacks of its task counts as idle: work submitted meanwhile waits
//! for those callbacks rather than starting a thread.
//!
//! Fork (T11): a child forked after the pool was made has none of its
//! threads; there the pool refuses work (`Shutdown`) and `shutdown` returns
//! at once, touching no lock that a parent thread may have held at the fork.
//!
//! No callback and no user code ever runs under a pool lock (T9 decision):
//! cancelling queued work and failing it after an initializer failure
//! happen with no lock held.

use crate::executor::{complete, run_task, Executor, Refused, Task, TaskContext};
use crate::future::Future;
use crate::status::{ErrorRecord, Status};
use crate::sync::{Condvar, Mutex};
use crossbeam_channel::{Receiver, Sender};
use std::cell::Cell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The largest `max_workers` a thread pool accepts (X17).
pub const MAX_WORKERS_LIMIT: usize = 1024;

/// How long an idle worker spins for new work before it sleeps.
const SPIN_BEFORE_SLEEP: std::time::Duration = std::time::Duration::from_micros(20);

/// Spin-loop hints between two looks at the queue of an idle worker.
const POLL_PAUSES: u32 = 64;

/// Linux keeps 15 bytes of a thread's name (plus the NUL).
const THREAD_NAME_MAX: usize = 15;

pub use crate::executor::InitFn;

/// A worker initializer and its argument.
///
/// The argument bytes are copied into a buffer of the pool's own (aligned
/// like `malloc`); with a length of 0 the pointer itself is passed through
/// unchanged, so that it can carry an opaque context the host keeps alive.
pub struct Initializer {
    func: InitFn,
    ptr: *mut c_void,
    len: usize,
    owned: bool,
}

// SAFETY: the copied buffer is owned and only read; a borrowed pointer (len
// 0) is the host's to make usable from the worker threads, as documented.
unsafe impl Send for Initializer {}
// SAFETY: as above: the initializer only reads the argument.
unsafe impl Sync for Initializer {}

impl Initializer {
    /// Copies `len` bytes at `ptr` (NULL allowed with `len` 0).
    ///
    /// # Safety
    /// When `len > 0`, `ptr` must point to `len` readable bytes.
    pub unsafe fn new(func: InitFn, ptr: *const c_void, len: usize) -> Result<Self, Status> {
        if len == 0 {
            return Ok(Initializer {
                func,
                ptr: ptr as *mut c_void,
                len: 0,
                owned: false,
            });
        }
        if ptr.is_null() {
            return Err(Status::InvalidArgument);
        }
        // SAFETY: malloc with a non-zero size; checked for NULL below.
        let copy = unsafe { libc::malloc(len) };
        if copy.is_null() {
            return Err(Status::NoMemory);
        }
        // SAFETY: the caller promises `len` readable bytes at `ptr`; `copy`
        // is a fresh allocation of `len` bytes.
        unsafe { std::ptr::copy_nonoverlapping(ptr as *const u8, copy as *mut u8, len) };
        Ok(Initializer {
            func,
            ptr: copy,
            len,
            owned: true,
        })
    }

    /// Runs the initializer: Ok(()) or the reason it failed.
    fn run(&self) -> Result<(), String> {
        // SAFETY: the host gave us this function for exactly this call; the
        // argument is our copy or the host's pointer, as documented.
        let r = catch_unwind(|| unsafe { (self.func)(self.ptr, self.len) });
        match r {
            Ok(0) => Ok(()),
            Ok(rc) => Err(format!("initializer returned {rc}")),
            Err(_) => Err("initializer panicked".to_string()),
        }
    }
}

impl Drop for Initializer {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: `ptr` came from malloc in `new` and is freed once, here.
            unsafe { libc::free(self.ptr) }
        }
    }
}

/// How to build a thread pool. `Default` gives Python's defaults.
#[derive(Default)]
pub struct ThreadPoolOptions {
    /// 0: `min(32, usable CPUs + 4)` (T1); at most `MAX_WORKERS_LIMIT`.
    pub max_workers: usize,
    /// None or empty: `futpool-<n>`, n counting pools in the process (T6).
    pub thread_name_prefix: Option<String>,
    /// Runs once at the start of every worker; a failure breaks the pool (T7).
    pub initializer: Option<Initializer>,
}

/// Python's ThreadPoolExecutor default: `min(32, usable CPUs + 4)` (T1).
pub fn default_max_workers() -> usize {
    (crate::cpus::usable_cpus() + 4).min(32)
}

/// `<prefix>_<index>`, the prefix cut (at a character boundary) so that the
/// whole fits Linux's 15 bytes and `_<index>` survives (X17).
pub fn thread_name(prefix: &str, index: usize) -> String {
    let suffix = format!("_{index}");
    let room = THREAD_NAME_MAX.saturating_sub(suffix.len());
    let mut cut = prefix.len().min(room);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &prefix[..cut], suffix)
}

/// Counts thread pools in the process, for the default name prefix (T6).
static POOL_COUNTER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The pool whose worker this thread is (its `Inner` address), or 0.
    static CURRENT_POOL: Cell<usize> = const { Cell::new(0) };
}

struct WorkItem {
    task: Task,
    /// The pool's own reference, dropped once the future is done.
    future: Future,
}

/// `Inner::gate`: the pool refuses work once either flag is set (E1); the
/// low bits count the submits under way.
const SHUTDOWN: usize = 1 << (usize::BITS - 1);
const BROKEN: usize = 1 << (usize::BITS - 2);
const SUBMITTING: usize = BROKEN - 1;

/// Keeps a value on cache lines of its own (two, for the adjacent-line
/// prefetcher), so that threads writing one counter do not slow down
/// threads using its neighbours.
#[repr(align(128))]
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
}

struct Inner {
    max_workers: usize,
    prefix: String,
    initializer: Option<Initializer>,
    /// The FIFO of work items (E2), lock-free: a submit and a worker's pop
    /// take no lock.
    items_in: Sender<WorkItem>,
    items_out: Receiver<WorkItem>,
    /// `SHUTDOWN` and `BROKEN`, and how many submits are under way:
    /// written by every submit.
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
    /// Workers announced to sleep on `work`; they sleep under `sleep`.
    sleepers: Padded<AtomicUsize>,
    sleep: Mutex<()>,
    /// Signalled when work arrives for a sleeper, and at shutdown.
    work: Condvar,
    threads: Mutex<Threads>,
    joined: Condvar,
    fork_generation: usize,
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
        let (items_in, items_out) = crossbeam_channel::unbounded();
        Ok(ThreadPool {
            inner: Arc::new(Inner {
                max_workers,
                prefix,
                initializer: options.initializer,
                items_in,
                items_out,
                gate: Padded(AtomicUsize::new(0)),
                closed: Padded(AtomicUsize::new(0)),
                broken_why: Mutex::new(String::new()),
                idle: Padded(AtomicUsize::new(0)),
                started: AtomicUsize::new(0),
                sleepers: Padded(AtomicUsize::new(0)),
                sleep: Mutex::new(()),
                work: Condvar::new(),
                threads: Mutex::new(Threads::default()),
                joined: Condvar::new(),
                fork_generation: crate::fork::generation(),
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
        self.inner.submit(task)
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<(), Status> {
        self.inner.shutdown(wait, cancel_futures)
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

    fn submit(self: &Arc<Self>, task: Task) -> Result<Future, Refused> {
        if self.forked() {
            // T11: this pool's threads live in the parent process only.
            return Err(Refused {
                status: Status::Shutdown,
                task,
            });
        }
        // Counted from before the flags are read until the item is queued:
        // whoever sets a flag waits for the count to drop to zero
        // (`wait_for_submits`), after which nothing can be queued any more.
        let gate = self.gate.fetch_add(1, Ordering::SeqCst);
        let _counted = Submitting(&self.gate.0);
        // E1: broken before shut down.
        let refusal = if gate & BROKEN != 0 {
            Some(Status::BrokenPool)
        } else if gate & SHUTDOWN != 0 {
            Some(Status::Shutdown)
        } else {
            None
        };
        if let Some(status) = refusal {
            return Err(Refused { status, task });
        }
        if let Err(status) = self.adjust_thread_count() {
            return Err(Refused { status, task });
        }
        let future = Future::with_spin_on_wait(true);
        let item = WorkItem {
            task,
            future: future.clone(),
        };
        if let Err(e) = self.items_in.send(item) {
            // Cannot happen: `items_out` lives as long as `items_in`.
            return Err(Refused {
                status: Status::Internal,
                task: e.into_inner().task,
            });
        }
        self.wake_one();
        Ok(future)
    }

    /// Wakes a sleeping worker, if any, for the item just queued. The
    /// queue-then-look here and the announce-then-look in `sleep_once`,
    /// each with a full fence in between, make sure one side sees the
    /// other: either this sees the sleeper, or the sleeper sees the item.
    fn wake_one(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            // Under `sleep`, so that a worker between announcing itself and
            // waiting is waiting by the time we notify.
            let _sleep = self.sleep.lock();
            self.work.notify_one();
        }
    }

    /// T2: takes an idle credit, or starts a thread if fewer than
    /// `max_workers` exist (rare: at most `max_workers` times). Fails only
    /// when no thread exists and none can be started.
    fn adjust_thread_count(self: &Arc<Self>) -> Result<(), Status> {
        if self.all_started() {
            return Ok(());
        }
        let took_credit = self
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if took_credit {
            return Ok(());
        }
        let mut t = self.threads.lock();
        let index = self.started.load(Ordering::Acquire);
        if index >= self.max_workers {
            return Ok(());
        }
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(thread_name(&self.prefix, index))
            .spawn(move || me.worker_main());
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

    /// Sets `flag` (SHUTDOWN or BROKEN) for submitters, then for workers.
    fn close(&self, flag: usize) {
        self.gate.fetch_or(flag, Ordering::SeqCst);
        self.closed.fetch_or(flag, Ordering::SeqCst);
    }

    /// Waits until no submit is under way; once a flag is set in `gate`,
    /// no new one starts, so after this nothing more is queued.
    fn wait_for_submits(&self) {
        while self.gate.load(Ordering::SeqCst) & SUBMITTING != 0 {
            std::thread::yield_now();
        }
    }

    fn worker_main(self: Arc<Self>) {
        CURRENT_POOL.with(|c| c.set(Arc::as_ptr(&self) as usize));
        if let Some(init) = &self.initializer {
            if let Err(why) = init.run() {
                self.initializer_failed(&why);
                return;
            }
        }
        // Whether this worker holds an idle credit it has not been woken for.
        // A new thread starts as if it had one: the submit that started it
        // is queueing an item for it, so finding the queue empty at first
        // does not make it idle (a stale credit would let a later submit
        // skip starting a thread while every worker is busy).
        let mut credited = true;
        while let Some((item, broken)) = self.next_item(&mut credited) {
            let r = catch_unwind(AssertUnwindSafe(|| {
                if broken {
                    self.fail_broken(item)
                } else {
                    self.run_item(item, &mut credited)
                }
            }));
            if r.is_err() {
                crate::log::log("thread pool: internal error (panic) in a worker");
            }
        }
    }

    /// The next item (and whether the pool is broken), or None once the
    /// pool is shut down and the queue is empty (T8: queued work runs first).
    fn next_item(&self, credited: &mut bool) -> Option<(WorkItem, bool)> {
        let mut spun = false;
        loop {
            if let Ok(item) = self.items_out.try_recv() {
                *credited = false;
                let broken = self.closed.load(Ordering::Acquire) & BROKEN != 0;
                return Some((item, broken));
            }
            if self.closed.load(Ordering::SeqCst) & SHUTDOWN != 0 {
                // A submit under way may still queue an item: wait for it.
                let submitting = self.gate.load(Ordering::SeqCst) & SUBMITTING;
                if submitting == 0 && self.items_out.is_empty() {
                    return None;
                }
                std::thread::yield_now();
                continue;
            }
            if !*credited && !self.all_started() {
                self.idle.fetch_add(1, Ordering::AcqRel);
                *credited = true;
            }
            if !spun {
                // Idle and credited: spin a little for the next submit
                // before sleeping (a submit wakes only sleepers).
                spun = true;
                crate::spin_until_polling(SPIN_BEFORE_SLEEP, None, POLL_PAUSES, || {
                    !self.items_out.is_empty()
                        || self.closed.load(Ordering::Relaxed) & SHUTDOWN != 0
                });
                continue;
            }
            self.sleep_once();
        }
    }

    /// Sleeps until a submit or the shutdown wakes this worker (or for no
    /// reason: the caller looks again either way). See `wake_one`.
    fn sleep_once(&self) {
        let mut sleep = self.sleep.lock();
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.items_out.is_empty() && self.closed.load(Ordering::SeqCst) & SHUTDOWN == 0 {
            self.work.wait(&mut sleep);
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }

    /// T4: runs one item unless it was cancelled.
    fn run_item(&self, item: WorkItem, credited: &mut bool) {
        let WorkItem { task, future } = item;
        match future.set_running_or_notify_cancel() {
            Ok(true) => {}
            // Cancelled while queued: drop the argument, skip the task.
            _ => return drop(task),
        }
        let outcome = {
            let cancel_requested = || future.cancel_requested();
            run_task(&task, TaskContext::new(&cancel_requested))
        };
        // F20: let go of the argument before the future is done, so that
        // `arg_drop` has run when a reader wakes.
        drop(task);
        // With work waiting, this worker takes the next item anyway (and
        // credits itself in `next_item` if another worker got there first).
        if !self.all_started() && self.items_out.is_empty() {
            self.idle.fetch_add(1, Ordering::AcqRel);
            *credited = true;
        }
        complete(&future, outcome);
    }

    /// Fails a queued item of a broken pool with its own record (X2).
    fn fail_broken(&self, item: WorkItem) {
        let WorkItem { task, future } = item;
        drop(task);
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
    fn initializer_failed(&self, why: &str) {
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
        self.wait_for_submits();
        let items: Vec<WorkItem> = self.items_out.try_iter().collect();
        for item in items {
            self.fail_broken(item);
        }
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<(), Status> {
        if self.forked() {
            // T11: the pool has no thread in this process; nothing to stop.
            return Ok(());
        }
        self.close(SHUTDOWN);
        self.wait_for_submits();
        {
            let _sleep = self.sleep.lock();
            self.work.notify_all();
        }
        if cancel_futures {
            // E6/T9: cancel what is still queued (a worker may take an item
            // meanwhile; that one runs), outside every pool lock, so that
            // callbacks may submit (refused) or even shutdown(wait). The
            // argument goes first, so it is dropped when waiters wake.
            let cancelled: Vec<WorkItem> = self.items_out.try_iter().collect();
            for WorkItem { task, future } in cancelled {
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
mod tests {
    use super::*;
    use crate::executor::Arg;
    use std::sync::atomic::{AtomicBool, AtomicI32};
    use std::time::{Duration, Instant};

    fn pool(max_workers: usize) -> ThreadPool {
        ThreadPool::new(ThreadPoolOptions {
            max_workers,
            ..Default::default()
        })
        .unwrap()
    }

    unsafe extern "C" fn noop(_t: *mut c_void, _a: *const c_void, _n: usize) -> i32 {
        0
    }

    unsafe extern "C" fn fail7(_t: *mut c_void, _a: *const c_void, _n: usize) -> i32 {
        7
    }

    /// Blocks until the gate behind `arg` (an `AtomicBool`) opens.
    unsafe extern "C" fn block_on(_t: *mut c_void, a: *const c_void, _n: usize) -> i32 {
        // SAFETY: the tests pass a pointer to a live AtomicBool.
        let gate = unsafe { &*(a as *const AtomicBool) };
        let end = Instant::now() + Duration::from_secs(30);
        while !gate.load(Ordering::Acquire) && Instant::now() < end {
            std::thread::yield_now();
        }
        0
    }

    static DROPS: AtomicI32 = AtomicI32::new(0);
    unsafe extern "C" fn count_drop(_p: *mut c_void) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }

    fn task(f: crate::executor::TaskFn, arg: *const c_void) -> Task {
        Task {
            func: f,
            arg: Arg::new(arg, 0, None),
        }
    }

    fn deadline() -> Option<Instant> {
        Some(Instant::now() + Duration::from_secs(30))
    }

    #[test]
    fn names_keep_the_index() {
        assert_eq!(thread_name("futpool-0", 3), "futpool-0_3");
        assert_eq!(thread_name("averyverylongprefix", 12), "averyverylon_12");
        assert_eq!(thread_name("", 0), "_0");
        // "é" is two bytes: never cut inside it.
        assert_eq!(thread_name("abcdefghijklé", 1), "abcdefghijkl_1");
        assert!(thread_name("x", 1023).len() <= 15);
    }

    #[test]
    fn default_size() {
        let d = default_max_workers();
        assert!((5..=32).contains(&d));
    }

    #[test]
    fn max_workers_limits() {
        assert!(ThreadPool::new(ThreadPoolOptions {
            max_workers: MAX_WORKERS_LIMIT + 1,
            ..Default::default()
        })
        .is_err());
        assert_eq!(pool(0).max_workers(), default_max_workers());
        assert_eq!(pool(MAX_WORKERS_LIMIT).max_workers(), MAX_WORKERS_LIMIT);
    }

    #[test]
    fn sequential_rounds_reuse_one_thread() {
        // T3
        let p = pool(4);
        for _ in 0..200 {
            let f = p.submit(task(noop, std::ptr::null())).ok().unwrap();
            assert!(f.result(deadline()).is_ok());
        }
        assert_eq!(p.threads_started(), 1);
        p.shutdown(true, false).unwrap();
    }

    #[test]
    fn burst_starts_max_workers() {
        // T3: a burst of blocking tasks creates exactly max_workers threads.
        let p = pool(3);
        let gate = AtomicBool::new(false);
        let fs: Vec<_> = (0..10)
            .map(|_| {
                p.submit(task(block_on, &gate as *const _ as *const c_void))
                    .ok()
                    .unwrap()
            })
            .collect();
        assert_eq!(p.threads_started(), 3);
        gate.store(true, Ordering::Release);
        for f in &fs {
            assert!(f.result(deadline()).is_ok());
        }
        p.shutdown(true, false).unwrap();
        assert_eq!(p.threads_started(), 3);
    }

    #[test]
    fn errors_and_refusals() {
        let p = pool(2);
        let f = p.submit(task(fail7, std::ptr::null())).ok().unwrap();
        assert_eq!(f.result(deadline()), Err(Status::TaskFailed));
        // B8: a task error does not break the pool.
        let g = p.submit(task(noop, std::ptr::null())).ok().unwrap();
        assert!(g.result(deadline()).is_ok());
        p.shutdown(true, false).unwrap();
        p.shutdown(true, true).unwrap(); // E3: idempotent
        let before = DROPS.load(Ordering::SeqCst);
        let refused = p
            .submit(Task {
                func: noop,
                arg: Arg::new(std::ptr::null(), 0, Some(count_drop)),
            })
            .err()
            .unwrap();
        assert_eq!(refused.status, Status::Shutdown);
        refused.task.arg.disown();
        assert_eq!(DROPS.load(Ordering::SeqCst), before);
    }

    #[test]
    fn cancel_futures_cancels_the_queue() {
        // E6/T9
        let p = pool(1);
        let gate = AtomicBool::new(false);
        let first = p
            .submit(task(block_on, &gate as *const _ as *const c_void))
            .ok()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        while !first.running() && Instant::now() < end {
            std::thread::yield_now();
        }
        assert!(first.running());
        let queued: Vec<_> = (0..5)
            .map(|_| p.submit(task(noop, std::ptr::null())).ok().unwrap())
            .collect();
        p.shutdown(false, true).unwrap();
        for f in &queued {
            assert!(f.cancelled());
        }
        gate.store(true, Ordering::Release);
        p.shutdown(true, false).unwrap();
        assert!(first.result(deadline()).is_ok());
    }

    unsafe extern "C" fn init_fails(_a: *const c_void, _n: usize) -> i32 {
        3
    }

    #[test]
    fn initializer_failure_breaks_the_pool() {
        // T7
        let p = ThreadPool::new(ThreadPoolOptions {
            max_workers: 1,
            // SAFETY: length 0: the (NULL) pointer is passed through, never read.
            initializer: Some(
                unsafe { Initializer::new(init_fails, std::ptr::null(), 0) }.unwrap(),
            ),
            ..Default::default()
        })
        .unwrap();
        let mut fs = Vec::new();
        let mut refused = 0;
        for _ in 0..5 {
            match p.submit(task(noop, std::ptr::null())) {
                Ok(f) => fs.push(f),
                Err(r) => {
                    assert_eq!(r.status, Status::BrokenPool);
                    refused += 1;
                }
            }
        }
        assert!(!fs.is_empty() || refused == 5);
        for f in &fs {
            assert_eq!(f.result(deadline()), Err(Status::BrokenPool));
            let rec = f.exception(deadline()).unwrap().unwrap();
            assert!(rec
                .message
                .to_str()
                .unwrap()
                .contains("initializer returned 3"));
        }
        let r = p.submit(task(noop, std::ptr::null())).err().unwrap();
        assert_eq!(r.status, Status::BrokenPool);
        p.shutdown(true, false).unwrap();
    }

    /// Submits a child (depth - 1) to the pool in `arg` and waits for it.
    unsafe extern "C" fn nested(_t: *mut c_void, a: *const c_void, n: usize) -> i32 {
        if n == 0 {
            return 0;
        }
        // SAFETY: the test passes a pointer to a live ThreadPool.
        let p = unsafe { &*(a as *const ThreadPool) };
        let child = Task {
            func: nested,
            arg: Arg::new(a, n - 1, None),
        };
        match p.submit(child) {
            Ok(f) => match f.result(deadline()) {
                Ok(_) => 0,
                Err(_) => 2,
            },
            Err(r) => {
                r.task.arg.disown();
                1
            }
        }
    }

    #[test]
    fn tasks_waiting_on_children_grow_the_pool() {
        // T2: while every worker waits, a submit starts a thread; a thread
        // that found the queue empty before its first item is not idle.
        for _ in 0..50 {
            let p = pool(5);
            let f = p
                .submit(Task {
                    func: nested,
                    arg: Arg::new(&p as *const ThreadPool as *const c_void, 4, None),
                })
                .ok()
                .unwrap();
            assert!(f.result(deadline()).is_ok());
            assert_eq!(p.threads_started(), 5);
            p.shutdown(true, false).unwrap();
        }
    }

    #[test]
    fn concurrent_shutdowns_all_wait() {
        let p = Arc::new(pool(4));
        let gate = AtomicBool::new(false);
        for _ in 0..4 {
            let _ = p.submit(task(block_on, &gate as *const _ as *const c_void));
        }
        let done = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let p = Arc::clone(&p);
                let done = Arc::clone(&done);
                std::thread::spawn(move || {
                    p.shutdown(true, false).unwrap();
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        gate.store(true, Ordering::Release);
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), 3);
        assert_eq!(p.inner.threads.lock().unjoined, 0);
        assert!(p.inner.threads.lock().handles.is_empty());
    }
}
