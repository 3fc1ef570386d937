//! `fut_executor_*` flow control and observability (Q1–Q12): bounded
//! submit, stats, task events, describe and the stopping calls.

use super::executor::{c_task, hand_out, EXECUTORS};
use super::types::*;
use super::{guard, non_null};
use crate::executor::Executor;
use crate::flow::{Flow, Observer, Stats, TaskEvent, TaskEventKind};
use crate::status::Status;
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// What a `fut_task_event` reports.
pub type fut_task_event_kind = i32;

/// The task starts: on a thread pool, its worker is about to call it; on a
/// process pool, its call was handed to a worker process.
pub const FUT_TASK_STARTED: fut_task_event_kind = 0;
/// The task ended (or never ran: cancelled while queued, failed by a broken
/// pool); `status` says how.
pub const FUT_TASK_FINISHED: fut_task_event_kind = 1;

/// One task event, passed to `on_task_event` (borrowed for the call).
#[repr(C)]
#[derive(Copy, Clone)]
pub struct fut_task_event {
    /// `sizeof(fut_task_event)` of this library; fields may be added after
    /// the last one.
    pub struct_size: usize,
    /// `FUT_TASK_STARTED` or `FUT_TASK_FINISHED`.
    pub kind: fut_task_event_kind,
    /// Finished: `FUT_OK`, or how it failed (`FUT_ERR_TASK_FAILED`,
    /// `FUT_ERR_CANCELLED`, `FUT_ERR_BROKEN_POOL`, ...). Started: `FUT_OK`.
    pub status: fut_status,
    /// The task's number in its pool, from 1, growing in order of
    /// submission (a process pool numbers map items one by one, and a
    /// refused submit may leave a gap there); `fut_executor_describe`
    /// names tasks by the same number.
    pub task: u64,
    /// Nanoseconds it waited in the queue.
    pub wait_ns: u64,
    /// Nanoseconds it ran (finished only; 0 for started).
    pub run_ns: u64,
}

/// A task observer: `ev` is valid during the call. It must not block for
/// long (it delays the pool's thread that calls it) and may call any
/// function of this library, including submit.
pub type fut_task_event_fn =
    Option<unsafe extern "C" fn(ev: *const fut_task_event, user: *mut c_void)>;

/// Counters of an executor (`fut_executor_stats`). Set `struct_size` to
/// `sizeof(fut_stats)` before the call; the library fills the
/// fields that fit in it.
///
/// At every read, `completed + failed + cancelled + running + queued ==
/// submitted`. `queued`: accepted and not yet started (process pool: still
/// in the pool's queue, not taken by the manager thread); `running`: taken
/// and not finished (process pool: includes the up to `max_workers + 1`
/// calls handed towards the workers). `cancelled` counts a future cancelled
/// while queued once the pool drops it (when a worker reaches it, or at
/// shutdown).
#[repr(C)]
#[derive(Copy, Clone, Default)]
pub struct fut_stats {
    pub struct_size: usize,
    /// Tasks accepted since the pool was created.
    pub submitted: u64,
    pub queued: u64,
    pub running: u64,
    /// Finished with a value.
    pub completed: u64,
    /// Finished with an error (including `FUT_ERR_BROKEN_POOL`,
    /// `FUT_ERR_WORKER_DIED`, `FUT_ERR_TIME_LIMIT`).
    pub failed: u64,
    pub cancelled: u64,
    /// Threads or worker processes alive now.
    pub workers_alive: u64,
    /// Threads or worker processes started since the pool was created.
    pub workers_started: u64,
    /// Process pool: workers started beyond the first `max_workers`
    /// (replacements after a crash, a time limit, `max_tasks_per_child`).
    /// Thread pool: 0.
    pub workers_replaced: u64,
    /// Submitters waiting for room in the bounded queue now.
    pub submitters_waiting: u64,
    /// The `max_queued` option (0: unbounded).
    pub max_queued: u64,
    /// Sum over started tasks of the time they waited in the queue (ns).
    /// A thread pool times its tasks from its first stats or describe call
    /// (from its creation with `on_task_event`): tasks before are not in
    /// the sums.
    pub queue_wait_ns: u64,
    /// Sum over finished tasks of the time they ran (ns; as `queue_wait_ns`).
    pub run_ns: u64,
}

/// The first version's size (LP64), pinned.
const STATS_V1_SIZE: usize = 112;
const _: () = assert!(std::mem::size_of::<fut_stats>() == STATS_V1_SIZE);

/// The host's observer and its data, callable from the pool's threads.
struct CObserver {
    f: unsafe extern "C" fn(*const fut_task_event, *mut c_void),
    user: *mut c_void,
}

// SAFETY: the option's contract: the callback may be called with `user`
// from the pool's threads.
unsafe impl Send for CObserver {}
// SAFETY: as above; the pool calls it from one thread at a time or several
// (thread pool), as documented.
unsafe impl Sync for CObserver {}

/// Wraps the C observer of an options struct (None when NULL).
///
/// # Safety
/// `f`, if given, may be called with `user` from the pool's threads while
/// the pool lives.
pub(crate) unsafe fn observer_from_c(f: fut_task_event_fn, user: *mut c_void) -> Option<Observer> {
    let c = CObserver { f: f?, user };
    Some(Arc::new(move |e: &TaskEvent| {
        let ev = fut_task_event {
            struct_size: std::mem::size_of::<fut_task_event>(),
            kind: match e.kind {
                TaskEventKind::Started => FUT_TASK_STARTED,
                TaskEventKind::Finished => FUT_TASK_FINISHED,
            },
            status: e.status as fut_status,
            task: e.task,
            wait_ns: e.wait.as_nanos() as u64,
            run_ns: e.run.as_nanos() as u64,
        };
        c.call(&ev)
    }))
}

impl CObserver {
    fn call(&self, ev: &fut_task_event) {
        // SAFETY: the host's callback with its own data and an event valid
        // during the call (`observer_from_c`'s contract).
        unsafe { (self.f)(ev, self.user) }
    }
}

/// The executor behind a handle (a reference of our own).
fn executor(ex: *const fut_executor) -> Result<Arc<dyn Executor>, Status> {
    EXECUTORS
        .borrow(ex as *const u8)
        .map(|h| Arc::clone(&h))
        .ok_or(if crate::process_pool::in_worker() {
            Status::Shutdown
        } else {
            Status::InvalidArgument
        })
}

fn with_flow<R>(
    ex: *const fut_executor,
    f: impl FnOnce(&dyn Flow) -> Result<R, Status>,
) -> Result<R, Status> {
    let ex = executor(ex)?;
    let flow = ex.flow().ok_or(Status::InvalidArgument)?;
    f(flow)
}

/// `fut_executor_submit` that waits at most `timeout_ns` for room in a
/// bounded queue (`max_queued`): 0 does not wait, negative waits without
/// limit. `FUT_ERR_QUEUE_FULL` when the queue stayed full until then
/// (nothing submitted, `arg_drop` not called); `FUT_ERR_SHUTDOWN` (or
/// `FUT_ERR_BROKEN_POOL`) when the pool is shut down (broken) before room
/// came. An unbounded pool, or a call from one of the pool's own threads,
/// never waits. Otherwise exactly `fut_executor_submit`.
#[no_mangle]
pub unsafe extern "C" fn fut_executor_submit_timeout(
    ex: *mut fut_executor,
    func: fut_task_fn,
    arg: *const c_void,
    arg_len: usize,
    arg_drop: fut_drop_fn,
    timeout_ns: i64,
    out: *mut *mut fut_future,
) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        let task = c_task(func, arg, arg_len, arg_drop)?;
        // A deadline too far to represent waits without limit.
        let deadline = crate::deadline_after_ns(timeout_ns);
        with_flow(ex, |flow| {
            // SAFETY: `out` is non-NULL and the caller provides room for it.
            unsafe { hand_out(flow.submit_until(task(), deadline), out) }
        })
    })
}

/// Fills `*out` (whose `struct_size` the caller set, at least the first
/// version's size) with the executor's counters. Lock-free and cheap (a
/// read of each worker's counters), so it may be called often from any
/// thread; see `fut_stats` for what the numbers mean.
#[no_mangle]
pub unsafe extern "C" fn fut_executor_stats(
    ex: *mut fut_executor,
    out: *mut fut_stats,
) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        // SAFETY: every version of the struct starts with `size_t struct_size`.
        let size = unsafe { std::ptr::read_unaligned(out as *const usize) };
        if size < STATS_V1_SIZE {
            return Err(Status::InvalidArgument);
        }
        let s: Stats = with_flow(ex, |flow| Ok(flow.stats()))?;
        let c = fut_stats {
            struct_size: size,
            submitted: s.submitted,
            queued: s.queued,
            running: s.running,
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            workers_alive: s.workers_alive,
            workers_started: s.workers_started,
            workers_replaced: s.workers_replaced,
            submitters_waiting: s.submitters_waiting,
            max_queued: s.max_queued,
            queue_wait_ns: s.queue_wait_ns,
            run_ns: s.run_ns,
        };
        // SAFETY: the caller's struct has `size` >= STATS_V1_SIZE writable
        // bytes; we write ours (a newer caller's extra fields are left).
        unsafe { std::ptr::write_unaligned(out, c) };
        Ok(())
    })
}

/// Writes a human-readable snapshot of the executor into `buf` (`len`
/// bytes, always NUL-terminated when `len` > 0, cut if too small): each
/// worker (thread name or process id), the task it runs (number and
/// function) and for how long, the queue depth and how long the oldest
/// queued task has waited, and the counters. `*needed` (if not NULL)
/// receives the full length plus the NUL. `buf` may be NULL with `len` 0
/// to ask for the size. The format is for people and may change.
/// A process pool asks its manager thread; if it does not answer within
/// 1 s (stuck in a done-callback) the snapshot says so and has no workers.
#[no_mangle]
pub unsafe extern "C" fn fut_executor_describe(
    ex: *mut fut_executor,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> fut_status {
    guard(|| {
        if buf.is_null() && len != 0 {
            return Err(Status::InvalidArgument);
        }
        let text = with_flow(ex, |flow| Ok(flow.describe()))?;
        let bytes = text.as_bytes();
        if !needed.is_null() {
            // SAFETY: non-NULL; the caller provides room for a size_t.
            unsafe { *needed = bytes.len() + 1 };
        }
        if len > 0 {
            let n = bytes.len().min(len - 1);
            // SAFETY: `buf` has `len` writable bytes (n + 1 <= len).
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf as *mut u8, n);
                *buf.add(n) = 0;
            }
        }
        Ok(())
    })
}

/// Process pool: shuts the pool down without waiting, cancels every queued
/// future, and sends SIGTERM to every worker process. Futures of calls
/// already handed towards the workers fail with `FUT_ERR_BROKEN_POOL`
/// (detail: "terminated by fut_executor_terminate_workers"); later submits
/// answer `FUT_ERR_SHUTDOWN`. Returns at once; the last release still reaps
/// every process (a worker that ignores SIGTERM makes it wait: use
/// `fut_executor_kill_workers` or `fut_executor_shutdown_timeout`). A
/// thread pool refuses with `FUT_ERR_INVALID_ARGUMENT` (threads cannot be
/// stopped from outside) and is left as it was.
#[no_mangle]
pub extern "C" fn fut_executor_terminate_workers(ex: *mut fut_executor) -> fut_status {
    guard(|| with_flow(ex, |flow| flow.stop_workers(libc::SIGTERM)))
}

/// `fut_executor_terminate_workers` with SIGKILL (the detail says
/// "killed by fut_executor_kill_workers").
#[no_mangle]
pub extern "C" fn fut_executor_kill_workers(ex: *mut fut_executor) -> fut_status {
    guard(|| with_flow(ex, |flow| flow.stop_workers(libc::SIGKILL)))
}

/// Shutdown with a deadline: like `fut_executor_shutdown(ex, true,
/// cancel_futures)`, waiting at most `timeout_ns` (negative: no limit) for
/// the running work. Past it:
/// - process pool: every worker gets SIGTERM, then SIGKILL after a grace of
///   100 ms; their futures fail with `FUT_ERR_BROKEN_POOL`; every process is
///   reaped before the call returns `FUT_ERR_TIMEOUT`.
/// - thread pool: answers `FUT_ERR_TIMEOUT` while threads still run tasks;
///   those tasks finish later and complete their futures, the threads then
///   exit and free the pool. Later shutdowns and the last release do not
///   wait for them.
///
/// `FUT_OK` when everything ended in time. From one of the pool's own
/// threads: shut down, no wait, `FUT_ERR_WOULD_DEADLOCK`.
#[no_mangle]
pub extern "C" fn fut_executor_shutdown_timeout(
    ex: *mut fut_executor,
    cancel_futures: bool,
    timeout_ns: i64,
) -> fut_status {
    guard(|| {
        let deadline = crate::deadline_after_ns(timeout_ns);
        with_flow(ex, |flow| flow.shutdown_until(cancel_futures, deadline))
    })
}
