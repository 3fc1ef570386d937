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

mod bound;

use crate::executor::{Refused, Task};
use crate::future::Future;
use crate::status::Status;
pub use bound::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
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
        // Untimed tasks (the common case) write one counter, not two.
        if wait != 0 {
            bump(&self.wait_ns, wait);
        }
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
        if run != 0 {
            bump(&self.run_ns, run);
        }
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
