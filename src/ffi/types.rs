//! Types, codes and constants of the C API.

use crate::status::Status;
use std::ffi::{c_char, c_void};

/// The answer of every fallible call: `FUT_OK` (0), `FUT_END` (1, not an
/// error) or a negative `FUT_ERR_*` code. Values are pinned and only added.
pub type fut_status = i32;

/// Success.
pub const FUT_OK: fut_status = 0;
/// An iterator is exhausted (not an error).
pub const FUT_END: fut_status = 1;
/// A NULL or invalid handle or pointer, a bad enum value or option.
pub const FUT_ERR_INVALID_ARGUMENT: fut_status = -1;
/// The caller's deadline passed first; the future is unchanged.
pub const FUT_ERR_TIMEOUT: fut_status = -2;
/// The future was cancelled.
pub const FUT_ERR_CANCELLED: fut_status = -3;
/// The call does not fit the future's state (e.g. completing it twice).
pub const FUT_ERR_INVALID_STATE: fut_status = -4;
/// The task failed; details through `fut_future_exception`.
pub const FUT_ERR_TASK_FAILED: fut_status = -5;
/// The executor is broken and can no longer run work.
pub const FUT_ERR_BROKEN_POOL: fut_status = -6;
/// The worker process running this task died (`FUT_CRASH_FAIL_TASK`).
pub const FUT_ERR_WORKER_DIED: fut_status = -7;
/// The task ran past the pool's per-task time limit; its worker was killed.
pub const FUT_ERR_TIME_LIMIT: fut_status = -8;
/// The executor was shut down and accepts no more work.
pub const FUT_ERR_SHUTDOWN: fut_status = -9;
/// The call would wait for the calling thread itself.
pub const FUT_ERR_WOULD_DEADLOCK: fut_status = -10;
/// Out of memory.
pub const FUT_ERR_NO_MEMORY: fut_status = -11;
/// An operating-system call failed (errno in the message or log).
pub const FUT_ERR_OS: fut_status = -12;
/// A bug in the library (a caught panic); never expected.
pub const FUT_ERR_INTERNAL: fut_status = -13;
/// The executor's queue (`max_queued`) stayed full until the deadline of
/// `fut_executor_submit_timeout`; nothing was submitted.
pub const FUT_ERR_QUEUE_FULL: fut_status = -14;
/// No task or initializer is registered under that name, or a function
/// given to a spawn pool was never registered (`fut_register_task`).
pub const FUT_ERR_NOT_REGISTERED: fut_status = -15;

// The constants above are the header's copy of `Status` (cbindgen reads
// literals only). This match, exhaustive, gives every variant a constant and
// the assertion below checks them all against the enum when the library is
// compiled: a new code or a changed value cannot slip through.
const fn constant_of(s: Status) -> fut_status {
    match s {
        Status::Ok => FUT_OK,
        Status::End => FUT_END,
        Status::InvalidArgument => FUT_ERR_INVALID_ARGUMENT,
        Status::Timeout => FUT_ERR_TIMEOUT,
        Status::Cancelled => FUT_ERR_CANCELLED,
        Status::InvalidState => FUT_ERR_INVALID_STATE,
        Status::TaskFailed => FUT_ERR_TASK_FAILED,
        Status::BrokenPool => FUT_ERR_BROKEN_POOL,
        Status::WorkerDied => FUT_ERR_WORKER_DIED,
        Status::TimeLimit => FUT_ERR_TIME_LIMIT,
        Status::Shutdown => FUT_ERR_SHUTDOWN,
        Status::WouldDeadlock => FUT_ERR_WOULD_DEADLOCK,
        Status::NoMemory => FUT_ERR_NO_MEMORY,
        Status::Os => FUT_ERR_OS,
        Status::Internal => FUT_ERR_INTERNAL,
        Status::QueueFull => FUT_ERR_QUEUE_FULL,
        Status::NotRegistered => FUT_ERR_NOT_REGISTERED,
    }
}

const _: () = {
    let mut i = 0;
    while i < Status::ALL.len() {
        assert!(constant_of(Status::ALL[i]) == Status::ALL[i] as fut_status);
        i += 1;
    }
};

/// The state of a future, as `fut_future_state` reports it.
pub type fut_state = i32;

/// Not started: may still be cancelled.
pub const FUT_STATE_PENDING: fut_state = 0;
/// Being run by its executor: can no longer be cancelled.
pub const FUT_STATE_RUNNING: fut_state = 1;
/// Cancelled: done, with no outcome.
pub const FUT_STATE_CANCELLED: fut_state = 2;
/// Finished with a value or an error: done.
pub const FUT_STATE_FINISHED: fut_state = 3;
/// Not a live future handle.
pub const FUT_STATE_INVALID: fut_state = -1;

/// When `fut_wait` returns.
pub type fut_return_when = i32;

/// As soon as any future is done (finished or cancelled).
pub const FUT_FIRST_COMPLETED: fut_return_when = 0;
/// As soon as any future finishes with an error, else when all are done.
pub const FUT_FIRST_EXCEPTION: fut_return_when = 1;
/// When every future is done.
pub const FUT_ALL_COMPLETED: fut_return_when = 2;

/// A timeout that never expires (any negative value does the same).
pub const FUT_WAIT_FOREVER: i64 = -1;

/// A future: the outcome of one piece of work. Reference counted and
/// thread-safe; every function taking one accepts it from any thread.
pub struct fut_future {
    _opaque: [u8; 0],
}

/// An iterator over futures in completion order (`fut_as_completed_new`).
pub struct fut_as_completed {
    _opaque: [u8; 0],
}

/// A queue of completed futures for event loops (`fut_completion_queue_new`).
pub struct fut_completion_queue {
    _opaque: [u8; 0],
}

/// One drained completion: the future (a new reference) and the attach tag.
#[repr(C)]
pub struct fut_completion {
    pub future: *mut fut_future,
    pub user: *mut c_void,
}

/// A pool (thread or process) that runs tasks: see `fut_executor_submit`.
pub struct fut_executor {
    _opaque: [u8; 0],
}

/// The context of a running task: valid only on the task's own thread during
/// the task call. Any other `fut_task *` (kept after the task returned,
/// passed to another thread, made up) is refused with
/// `FUT_ERR_INVALID_ARGUMENT` and never dereferenced.
pub struct fut_task {
    _opaque: [u8; 0],
}

/// An iterator over the futures of `fut_executor_map` (input order) or
/// `fut_executor_imap`.
pub struct fut_map {
    _opaque: [u8; 0],
}

/// A task: return 0 for success, any other value to fail with that `code`.
/// `arg`/`arg_len` are what was submitted (a process pool passes a copy).
pub type fut_task_fn =
    Option<unsafe extern "C" fn(task: *mut fut_task, arg: *const c_void, arg_len: usize) -> i32>;

/// A pool initializer: runs once per worker before any task; non-zero fails
/// it and breaks the pool.
pub type fut_init_fn = Option<unsafe extern "C" fn(arg: *const c_void, arg_len: usize) -> i32>;

/// One input of `fut_executor_map`: borrowed argument bytes.
#[repr(C)]
#[derive(Copy, Clone)]
pub struct fut_item {
    pub arg: *const c_void,
    pub arg_len: usize,
}

/// Destructor of a value or argument: called exactly once with its pointer.
pub type fut_drop_fn = Option<unsafe extern "C" fn(ptr: *mut c_void)>;

/// A done-callback: runs once when `f` becomes done. `f` is borrowed for the
/// call (retain it to keep it).
pub type fut_done_fn = Option<unsafe extern "C" fn(f: *mut fut_future, user: *mut c_void)>;

/// Receives what the library cannot return to any caller.
pub type fut_log_fn = Option<unsafe extern "C" fn(message: *const c_char, user: *mut c_void)>;

/// A borrowed view of a failure, valid while the caller holds a reference to
/// the future it came from.
#[repr(C)]
pub struct fut_error_info {
    /// `FUT_OK` for a success, else the failure's kind
    /// (`FUT_ERR_TASK_FAILED`, `FUT_ERR_BROKEN_POOL`, ...).
    pub kind: fut_status,
    /// The task's own code (like errno); 0 if none. 0 is still a failure.
    pub code: i32,
    /// UTF-8 text; never NULL on failure, NULL on success.
    pub message: *const c_char,
    /// Remote detail (signal, exit status, worker-side context), or NULL.
    pub detail: *const c_char,
}
