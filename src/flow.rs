//! Flow control and observability shared by the pools (Q1–Q12): the bound
//! on queued work, the counters behind `stats`, task events for observers
//! and the `Flow` interface the C skin calls.
//!
//! Counters (Q5): every task passes three stages, each counted once, in
//! this order: *submitted* (accepted by submit), *taken* (off the queue:
//! it starts, or it is dropped because it was cancelled while queued) and
//! *finished* (completed, failed or cancelled). A reader reads the finished
//! counts first, then the taken ones, then the submitted one: a task seen
//! finished was taken before (its taken count is read later), and a task
//! seen taken was submitted before; so `running = taken - finished` and
//! `queued = submitted - taken` are never negative and the five numbers
//! add up to `submitted` at every read, without any lock.

use crate::executor::{Refused, Task};
use crate::future::Future;
use crate::status::Status;
use crate::sync::{Condvar, Mutex};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A snapshot of a pool's counters (`fut_executor_stats`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub submitted: u64,
    pub queued: u64,
    pub running: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub workers_alive: u64,
    pub workers_started: u64,
    pub workers_replaced: u64,
    pub submitters_waiting: u64,
    pub max_queued: u64,
    pub queue_wait_ns: u64,
    pub run_ns: u64,
}

/// Which moment of a task an observer hears about.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TaskEventKind {
    Started,
    Finished,
}

/// One event for `on_task_event` (Q9).
#[derive(Copy, Clone, Debug)]
pub struct TaskEvent {
    pub kind: TaskEventKind,
    /// The task's number in its pool (from 1, in order of submission).
    pub task: u64,
    /// Time spent queued (both events).
    pub wait: Duration,
    /// Time spent running (Finished only, else zero).
    pub run: Duration,
    /// Finished: `Ok`, or the failure kind (`TaskFailed`, `Cancelled`,
    /// `BrokenPool`, ...). Started: `Ok`.
    pub status: Status,
}

/// A task observer, called outside every pool lock.
pub type Observer = Arc<dyn Fn(&TaskEvent) + Send + Sync>;

/// Options shared by both pools.
#[derive(Clone, Default)]
pub struct FlowOptions {
    /// 0: unbounded.
    pub max_queued: usize,
    pub observer: Option<Observer>,
}

/// The flow-control side of an executor (the C skin's `fut_executor_*`
/// functions beyond submit, map and shutdown).
pub trait Flow {
    /// Q1–Q3: submit, waiting for room in a bounded queue until `deadline`
    /// (None: no limit); `QueueFull` once it passed.
    fn submit_until(&self, task: Task, deadline: Option<Instant>) -> Result<Future, Refused>;

    /// Q5: the counters, cheap and lock-free.
    fn stats(&self) -> Stats;

    /// Q11: a human-readable snapshot of the workers and the queue.
    fn describe(&self) -> String;

    /// Q7: stops every worker with `signal` (process pools); a thread pool
    /// refuses.
    fn stop_workers(&self, signal: i32) -> Result<(), Status>;

    /// Q8: shutdown that waits at most until `deadline`.
    fn shutdown_until(&self, cancel_futures: bool, deadline: Option<Instant>)
        -> Result<(), Status>;
}

/// Keeps a value on cache lines of its own.
#[repr(align(128))]
#[derive(Default)]
pub struct Padded<T>(pub T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The bound on queued work (Q1–Q4): how many tasks accepted from outside
/// the pool have not left the queue yet, and the submitters waiting for
/// room.
///
/// Two monotonic counts instead of one shared "used" word, so that a task
/// moves no cache line between the submitters and the workers: *admitted*
/// (written by submitters only, one compare-and-swap per task) and *freed*,
/// split in lanes: one per worker (written by that worker alone with a load
/// and a store, `leave_lane`) and one shared lane for the rare frees from
/// other threads (`leave`: a refused submit, a shutdown's cancellations, a
/// process pool's manager). Queued = admitted - freed.
///
/// Exact without reading the lanes on every submit: submitters keep a view
/// of freed (`seen`: a sum of lanes each read at some instant; as every
/// lane only grows, never above the real total from then on). A submit admits itself with a
/// compare-and-swap from `a` to `a + 1` only while `a - seen < max`; since
/// queued = `a` - freed <= `a - seen` at that moment, never more than `max`
/// tasks are queued. Only when the view says full does the submitter sum
/// the lanes afresh (a read of each worker's line). A worker's free costs
/// a store on its own line and a fence.
///
/// A full bound makes the submitter count itself as waiting and sleep. No
/// wake-up is lost: the waiter counts itself (under the lock) and fences
/// before it sums the lanes once more; a freer stores its lane and fences
/// before it reads the waiters, and then wakes under the lock.
pub struct Bound {
    max: usize,
    /// Slots ever taken, and the submitters' view of slots ever freed:
    /// written by submitters only.
    admitted: Padded<AtomicUsize>,
    seen: AtomicUsize,
    /// Slots freed by `leave` (any thread).
    freed: Padded<AtomicUsize>,
    /// Slots freed by each worker (`leave_lane`), one line each.
    lanes: Box<[Padded<AtomicUsize>]>,
    waiting: AtomicUsize,
    /// Set once (shutdown, broken): waiters and later submitters get the
    /// pool's own refusal.
    closed: AtomicBool,
    lock: Mutex<()>,
    room: Condvar,
}

/// How long a submitter looks for a free slot before it sleeps: a worker
/// frees one within microseconds when tasks are short.
const BOUND_SPIN: Duration = Duration::from_micros(20);

impl Bound {
    /// `max` 0: unbounded (every call is free). No worker lanes: every
    /// slot is freed with `leave`.
    pub fn new(max: usize) -> Bound {
        Bound::with_lanes(max, 0)
    }

    /// A bound whose slots are also freed by `lanes` workers, worker `i`
    /// through `leave_lane(i)` only.
    pub fn with_lanes(max: usize, lanes: usize) -> Bound {
        let lanes = if max == 0 { 0 } else { lanes };
        Bound {
            max,
            admitted: Padded(AtomicUsize::new(0)),
            seen: AtomicUsize::new(0),
            freed: Padded(AtomicUsize::new(0)),
            lanes: (0..lanes).map(|_| Padded(AtomicUsize::new(0))).collect(),
            waiting: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            lock: Mutex::new(()),
            room: Condvar::new(),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn is_bounded(&self) -> bool {
        self.max != 0
    }

    /// Submitters asleep for room.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Slots freed so far, summed now; raises the submitters' view to it.
    fn refresh(&self) -> usize {
        let mut sum = self.freed.load(Ordering::Acquire);
        for l in self.lanes.iter() {
            sum = sum.wrapping_add(l.load(Ordering::Acquire));
        }
        self.seen.fetch_max(sum, Ordering::Relaxed);
        sum
    }

    /// Whether a slot looks free (for spinning; `try_take` decides).
    fn has_room(&self) -> bool {
        let a = self.admitted.load(Ordering::Relaxed);
        a.saturating_sub(self.refresh()) < self.max
    }

    fn try_take(&self) -> bool {
        let mut a = self.admitted.load(Ordering::Relaxed);
        loop {
            let mut seen = self.seen.load(Ordering::Relaxed);
            if a.saturating_sub(seen) >= self.max {
                seen = self.refresh();
                // A sum above `a` means `a` is stale: the exchange fails.
                if a.saturating_sub(seen) >= self.max {
                    return false;
                }
            }
            match self
                .admitted
                .compare_exchange_weak(a, a + 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => a = now,
            }
        }
    }

    /// Takes a slot, waiting until `deadline` (None: no limit; a past one:
    /// no wait). Err(QueueFull) when it passed, Err(Shutdown) once closed
    /// (the caller answers its own refusal then).
    #[inline]
    pub fn enter(&self, deadline: Option<Instant>) -> Result<(), Status> {
        if self.max == 0 {
            return Ok(());
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(Status::Shutdown);
        }
        if self.try_take() {
            return Ok(());
        }
        self.enter_slow(deadline)
    }

    #[cold]
    fn enter_slow(&self, deadline: Option<Instant>) -> Result<(), Status> {
        let now = Instant::now();
        if deadline.is_some_and(|d| d <= now) {
            return Err(Status::QueueFull);
        }
        let spin_end = deadline.map_or(now + BOUND_SPIN, |d| d.min(now + BOUND_SPIN));
        let ready = || self.has_room() || self.closed.load(Ordering::Relaxed);
        crate::spin_until(BOUND_SPIN, Some(spin_end), ready);
        let mut g = self.lock.lock();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        // Pairs with the freers' fence (see the type's comment).
        fence(Ordering::SeqCst);
        let r = loop {
            if self.closed.load(Ordering::SeqCst) {
                break Err(Status::Shutdown);
            }
            if self.try_take() {
                break Ok(());
            }
            match deadline {
                None => self.room.wait(&mut g),
                Some(d) => {
                    if self.room.wait_until(&mut g, d).timed_out() {
                        // One last look: a slot freed at the deadline.
                        break if self.try_take() {
                            Ok(())
                        } else {
                            Err(Status::QueueFull)
                        };
                    }
                }
            }
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        // A waiter leaving without the slot it was woken for passes the
        // wake-up on.
        if r.is_err() && self.has_room() {
            self.room.notify_one();
        }
        r
    }

    /// Frees `n` slots (their tasks left the queue), from any thread.
    pub fn leave(&self, n: usize) {
        if self.max == 0 || n == 0 {
            return;
        }
        self.freed.fetch_add(n, Ordering::SeqCst);
        self.wake(n);
    }

    /// Frees one slot from worker `lane`; only that worker calls this.
    #[inline]
    pub fn leave_lane(&self, lane: usize) {
        let l = &self.lanes[lane];
        l.store(l.load(Ordering::Relaxed).wrapping_add(1), Ordering::Release);
        self.wake(1);
    }

    #[inline]
    fn wake(&self, n: usize) {
        // Pairs with the waiter's fence (see the type's comment).
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) > 0 {
            self.wake_slow(n);
        }
    }

    #[cold]
    fn wake_slow(&self, n: usize) {
        let _g = self.lock.lock();
        if n == 1 {
            self.room.notify_one();
        } else {
            self.room.notify_all();
        }
    }

    /// Refuses every waiting and later `enter` (shutdown, broken pool).
    pub fn close(&self) {
        if self.max == 0 {
            return;
        }
        let _g = self.lock.lock();
        self.closed.store(true, Ordering::SeqCst);
        self.room.notify_all();
    }
}

/// Counters of one worker (thread pool) or of the manager thread (process
/// pool): written by that one thread only (a load and a store, no locked
/// instruction), read by `stats`.
#[derive(Default)]
pub struct Counters {
    pub taken: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub cancelled: AtomicU64,
    pub wait_ns: AtomicU64,
    pub run_ns: AtomicU64,
}

/// Adds `n` to a counter only this thread writes.
#[inline]
pub fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Release);
}

/// How a finished task is counted.
#[derive(Copy, Clone, PartialEq, Eq)]
pub enum Finish {
    Completed,
    Failed,
    Cancelled,
}

impl Counters {
    /// A task left the queue after waiting `wait`.
    #[inline]
    pub fn took(&self, wait: Duration) {
        self.took_ticks(wait.as_nanos() as u64);
    }

    /// `took` with a wait in the unit the counters keep (ns, or ticks for
    /// a thread pool's, converted when read).
    #[inline]
    pub fn took_ticks(&self, wait: u64) {
        bump(&self.wait_ns, wait);
        bump(&self.taken, 1);
    }

    /// A task that left the queue finished after running `run`.
    #[inline]
    pub fn finished(&self, how: Finish, run: Duration) {
        self.finished_ticks(how, run.as_nanos() as u64);
    }

    /// `finished` in the counters' unit (see `took_ticks`).
    #[inline]
    pub fn finished_ticks(&self, how: Finish, run: u64) {
        bump(&self.run_ns, run);
        bump(
            match how {
                Finish::Completed => &self.completed,
                Finish::Failed => &self.failed,
                Finish::Cancelled => &self.cancelled,
            },
            1,
        );
    }
}

/// Sums counters in the order that keeps the invariant (module comment):
/// `finished` is read from every set first, `taken` afterwards; the caller
/// reads its submitted count after this returns.
pub fn sum_counters<'a>(sets: impl Iterator<Item = &'a Counters> + Clone, out: &mut Stats) -> u64 {
    for c in sets.clone() {
        out.completed += c.completed.load(Ordering::Acquire);
        out.failed += c.failed.load(Ordering::Acquire);
        out.cancelled += c.cancelled.load(Ordering::Acquire);
        out.run_ns += c.run_ns.load(Ordering::Relaxed);
    }
    let mut taken = 0;
    for c in sets {
        taken += c.taken.load(Ordering::Acquire);
        out.queue_wait_ns += c.wait_ns.load(Ordering::Relaxed);
    }
    taken
}

/// Finishes `out` from the stage totals (module comment).
pub fn settle(out: &mut Stats, taken: u64, submitted: u64) {
    let finished = out.completed + out.failed + out.cancelled;
    out.submitted = submitted;
    out.running = taken.saturating_sub(finished);
    out.queued = submitted.saturating_sub(taken);
}

/// The clock of the hot paths (a thread pool's submit and each task): the
/// time-stamp counter where the kernel keeps time with it (x86-64,
/// clocksource "tsc": synchronized and constant-rate), read in a few
/// nanoseconds where `clock_gettime` takes 20 to 70 (three reads per task
/// were a measurable part of a no-op task); elsewhere nanoseconds from
/// `Instant`. Ticks become nanoseconds through the ratio of both clocks
/// since the first use in the process, which grows more exact as the
/// process lives (the error is the skew of two reads over that span).
struct Epoch {
    tsc: u64,
    at: Instant,
    use_tsc: bool,
}

static EPOCH: std::sync::OnceLock<Epoch> = std::sync::OnceLock::new();

fn epoch() -> &'static Epoch {
    EPOCH.get_or_init(|| {
        let use_tsc = cfg!(target_arch = "x86_64")
            && std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            )
            .is_ok_and(|s| s.trim() == "tsc");
        Epoch {
            tsc: rdtsc(),
            at: Instant::now(),
            use_tsc,
        }
    })
}

#[inline]
fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no preconditions on x86-64.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// Now, in ticks (see `Epoch`).
#[inline]
pub fn now_ticks() -> u64 {
    let e = epoch();
    if e.use_tsc {
        rdtsc()
    } else {
        e.at.elapsed().as_nanos() as u64
    }
}

/// A span of `ticks` as a duration.
pub fn ticks_to_duration(ticks: u64) -> Duration {
    Duration::from_nanos(TickRate::now().ns(ticks))
}

/// A span of `ticks` in nanoseconds.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    TickRate::now().ns(ticks)
}

/// The ratio of nanoseconds to ticks, measured once for several
/// conversions (two clock reads).
#[derive(Copy, Clone)]
pub struct TickRate {
    ns: u128,
    ticks: u128,
}

impl TickRate {
    pub fn now() -> TickRate {
        let e = epoch();
        if !e.use_tsc {
            return TickRate { ns: 1, ticks: 1 };
        }
        let ticks = rdtsc().saturating_sub(e.tsc) as u128;
        let ns = e.at.elapsed().as_nanos();
        TickRate { ns, ticks }
    }

    pub fn ns(self, ticks: u64) -> u64 {
        if self.ticks == 0 {
            return 0;
        }
        (ticks as u128 * self.ns / self.ticks) as u64
    }
}

/// `dladdr`'s name for a task function, or its address.
pub fn function_name(func: usize) -> String {
    // SAFETY: dladdr only reads the loader's tables; `info` is written by it.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: as above; any address is accepted.
    let found = unsafe { libc::dladdr(func as *const libc::c_void, &mut info) } != 0;
    if found && !info.dli_sname.is_null() {
        // SAFETY: dladdr gives a NUL-terminated symbol name.
        let name = unsafe { std::ffi::CStr::from_ptr(info.dli_sname) };
        return format!("{} ({func:#x})", name.to_string_lossy());
    }
    format!("{func:#x}")
}

/// A duration for people: "12 ms", "3.2 s".
pub fn human(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_counts_exactly_and_times_out() {
        let b = Bound::new(2);
        assert!(b.enter(None).is_ok());
        assert!(b.enter(Some(Instant::now())).is_ok());
        assert_eq!(b.enter(Some(Instant::now())), Err(Status::QueueFull));
        let t0 = Instant::now();
        let r = b.enter(Some(t0 + Duration::from_millis(30)));
        assert_eq!(r, Err(Status::QueueFull));
        assert!(t0.elapsed() >= Duration::from_millis(30));
        b.leave(1);
        assert!(b.enter(Some(Instant::now())).is_ok());
    }

    /// Q1: racing submitters never see more than `max` admitted and not
    /// freed, with frees through worker lanes and the shared `leave`.
    #[test]
    fn bound_with_lanes_stays_exact() {
        const MAX: usize = 4;
        const PER_SUBMITTER: usize = 5000;
        let b = Arc::new(Bound::with_lanes(MAX, 2));
        let queued = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = crossbeam_channel::unbounded::<()>();
        let freers: Vec<_> = (0..3)
            .map(|lane| {
                let (b, q, rx) = (Arc::clone(&b), Arc::clone(&queued), rx.clone());
                std::thread::spawn(move || {
                    while rx.recv_timeout(Duration::from_secs(30)).is_ok() {
                        q.fetch_sub(1, Ordering::SeqCst);
                        if lane < 2 {
                            b.leave_lane(lane);
                        } else {
                            b.leave(1);
                        }
                    }
                })
            })
            .collect();
        let submitters: Vec<_> = (0..2)
            .map(|_| {
                let (b, q, tx) = (Arc::clone(&b), Arc::clone(&queued), tx.clone());
                std::thread::spawn(move || {
                    for _ in 0..PER_SUBMITTER {
                        let deadline = Instant::now() + Duration::from_secs(30);
                        assert_eq!(b.enter(Some(deadline)), Ok(()));
                        let n = q.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(n <= MAX, "{n} queued over a bound of {MAX}");
                        tx.send(()).unwrap();
                    }
                })
            })
            .collect();
        for t in submitters {
            t.join().unwrap();
        }
        drop(tx);
        for t in freers {
            t.join().unwrap();
        }
        assert_eq!(queued.load(Ordering::SeqCst), 0);
        // Everything freed: a full bound's worth enters at once again.
        for _ in 0..MAX {
            assert_eq!(b.enter(Some(Instant::now())), Ok(()));
        }
        assert_eq!(b.enter(Some(Instant::now())), Err(Status::QueueFull));
    }

    #[test]
    fn bound_close_wakes_waiters() {
        let b = Arc::new(Bound::new(1));
        b.enter(None).unwrap();
        let b2 = Arc::clone(&b);
        let t = std::thread::spawn(move || b2.enter(None));
        while b.waiting() == 0 {
            std::thread::yield_now();
        }
        b.close();
        assert_eq!(t.join().unwrap(), Err(Status::Shutdown));
    }

    #[test]
    fn ticks_measure_time() {
        let t0 = now_ticks();
        let i0 = Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let ns = ticks_to_ns(now_ticks() - t0);
        let real = i0.elapsed().as_nanos() as u64;
        assert!(ns >= 19_000_000, "{ns} ns for a 20 ms sleep");
        assert!(ns <= real + real / 10 + 1_000_000, "{ns} ns for {real} ns");
    }

    #[test]
    fn settle_adds_up() {
        let mut s = Stats {
            completed: 3,
            failed: 1,
            cancelled: 1,
            ..Stats::default()
        };
        settle(&mut s, 7, 10);
        assert_eq!(s.running, 2);
        assert_eq!(s.queued, 3);
    }
}
