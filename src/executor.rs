//! The Executor interface shared by every pool, the task calling convention,
//! and `map()` (E1–E16).
//!
//! A task function is not given the address of its context but a *task
//! token*: an identity of this one call, made of the worker thread's number
//! and a count of the calls it made. `run_task` records the token and the
//! context as the thread's current task for the duration of the call, and
//! `with_current_task` hands out the context only for the current token of
//! the calling thread. A token kept after its task returned, one from
//! another thread, or any other pointer is refused without being read: the
//! same check in the thread pool and in a process pool's worker.

use crate::future::{DropFn, Future, Value};
use crate::status::{c_string, ErrorRecord, Status};
use std::cell::Cell;
use std::ffi::{c_void, CStr, CString};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The context of one task call (`fut_task` in C), reached from inside the
/// task through `with_current_task`.
pub struct TaskContext<'a> {
    cancel_requested: &'a (dyn Fn() -> bool + 'a),
    value: Option<Value>,
    error: Option<(i32, CString)>,
}

/// `int32_t (*)(fut_task *task, const void *arg, size_t arg_len)`.
pub type TaskFn =
    unsafe extern "C" fn(task: *mut c_void, arg: *const c_void, arg_len: usize) -> i32;

/// A worker initializer, `int32_t (*)(const void *arg, size_t arg_len)`,
/// run once in every worker (thread or process) before its first task:
/// 0 is success, anything else breaks the pool.
pub type InitFn = unsafe extern "C" fn(arg: *const c_void, arg_len: usize) -> i32;

/// A task's argument: borrowed bytes with an optional destructor that runs
/// exactly once (after the task ran, or when it was cancelled or refused
/// after the executor took ownership).
pub struct Arg {
    ptr: *const c_void,
    len: usize,
    drop: Option<DropFn>,
}

// SAFETY: the host hands the argument to the executor, which passes it to a
// worker thread; the C contract says it must be usable from there.
unsafe impl Send for Arg {}

impl Arg {
    /// The crate's own constructor; its callers uphold `from_raw`'s contract.
    pub(crate) fn new(ptr: *const c_void, len: usize, drop: Option<DropFn>) -> Arg {
        Arg { ptr, len, drop }
    }

    /// An argument of `len` bytes at `ptr`, destroyed with `drop` (if any).
    ///
    /// # Safety
    /// `ptr` is NULL with `len == 0`, or points to `len` bytes readable from
    /// any thread (a process pool copies them) until the argument is dropped;
    /// `drop`, if given, may be called once with `ptr` from any thread; and
    /// the task function this argument is submitted with accepts it.
    pub unsafe fn from_raw(ptr: *const c_void, len: usize, drop: Option<DropFn>) -> Arg {
        Arg { ptr, len, drop }
    }

    /// No argument (NULL, 0).
    pub fn empty() -> Arg {
        Arg::new(std::ptr::null(), 0, None)
    }

    pub fn ptr(&self) -> *const c_void {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The argument's bytes (empty for NULL).
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes, as the C contract requires.
    pub unsafe fn bytes(&self) -> &[u8] {
        if self.ptr.is_null() || self.len == 0 {
            &[]
        } else {
            // SAFETY: forwarded from the caller.
            unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
        }
    }

    /// Gives the argument back to its owner without running the destructor
    /// (a refused submit: the caller keeps ownership).
    pub fn disown(self) {
        std::mem::forget(self);
    }

    /// Hands the pointer, length and destructor to a new owner, which runs
    /// the destructor (if any) once (a custom executor, M1).
    pub fn into_raw(self) -> (*const c_void, usize, Option<DropFn>) {
        let parts = (self.ptr, self.len, self.drop);
        std::mem::forget(self);
        parts
    }
}

impl Drop for Arg {
    fn drop(&mut self) {
        if let Some(d) = self.drop {
            // SAFETY: the host gave us this destructor for this pointer, to run once.
            unsafe { d(self.ptr as *mut c_void) }
        }
    }
}

/// One unit of work: a C function and its argument.
pub struct Task {
    pub(crate) func: TaskFn,
    pub(crate) arg: Arg,
}

impl Task {
    /// A task that calls `func(token, arg.ptr(), arg.len())`.
    ///
    /// # Safety
    /// `func` has the task signature and may be called with `arg` on any
    /// worker (thread, or forked process for a process pool).
    pub unsafe fn new(func: TaskFn, arg: Arg) -> Task {
        Task { func, arg }
    }

    /// Takes the task apart (e.g. a refused one: its argument goes back to
    /// its owner with `Arg::disown`).
    pub fn into_parts(self) -> (TaskFn, Arg) {
        (self.func, self.arg)
    }
}

/// A refused submit: why, and the task, so the caller keeps ownership.
pub struct Refused {
    pub status: Status,
    pub task: Task,
}

/// How a task ended, computed by `run_task`.
pub enum TaskOutcome {
    Value(Value),
    Error(ErrorRecord),
    /// The task honoured a cooperative cancel request (returned
    /// `FUT_ERR_CANCELLED` after `fut_task_cancel_requested` said true).
    Cancelled,
}

impl<'a> TaskContext<'a> {
    pub fn new(cancel_requested: &'a (dyn Fn() -> bool + 'a)) -> Self {
        TaskContext {
            cancel_requested,
            value: None,
            error: None,
        }
    }

    /// `fut_task_set_result`: replaces any earlier value (which is dropped).
    pub fn set_result(&mut self, value: Value) {
        self.value = Some(value);
    }

    /// `fut_task_set_error`: the message is copied (NULL: default text).
    pub fn set_error(&mut self, code: i32, message: Option<&CStr>) {
        let message = message.map(CStr::to_owned).unwrap_or_default();
        self.error = Some((code, message));
    }

    pub fn cancel_requested(&self) -> bool {
        (self.cancel_requested)()
    }
}

/// The calling thread's current task: its token and its context.
#[derive(Copy, Clone)]
struct Current {
    token: usize,
    ctx: *mut c_void,
}

crate::sync::thread_local! {
    static CURRENT: Cell<Current> = const {
        Cell::new(Current { token: 0, ctx: std::ptr::null_mut() })
    };
    /// This thread's number (0 until its first task) and its task count.
    static THREAD_CALLS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Numbers of threads that ran a task, from 1.
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(1);

/// Bits of a token: the thread number above `TOKEN_CALL_BITS`, then the
/// call count, then 3 zero bits (it looks like an aligned pointer). A token
/// repeats only after 2^37 calls of one thread, or between threads 2^24
/// numbers apart.
const TOKEN_CALL_BITS: u32 = 40;
const TOKEN_ALIGN_BITS: u32 = 3;

/// A token for a new task call on this thread; never 0.
fn next_token() -> usize {
    THREAD_CALLS.with(|c| {
        let (mut thread, calls) = c.get();
        if thread == 0 {
            thread = NEXT_THREAD.fetch_add(1, Ordering::Relaxed) & 0xff_ffff;
            thread = thread.max(1);
        }
        let calls = calls.wrapping_add(1) & ((1 << (TOKEN_CALL_BITS - TOKEN_ALIGN_BITS)) - 1);
        c.set((thread, calls));
        (thread << TOKEN_CALL_BITS) | (calls << TOKEN_ALIGN_BITS)
    })
}

/// Runs `f` on the context of the task `token` names, if that task is
/// running on the calling thread now; None (and `token` is never read)
/// otherwise: a token kept after its task returned, another thread's, or
/// any other pointer.
pub fn with_current_task<R>(
    token: *const c_void,
    f: impl FnOnce(&mut TaskContext<'_>) -> R,
) -> Option<R> {
    let cur = CURRENT.try_with(Cell::get).ok()?;
    if cur.token == 0 || cur.token != token as usize {
        return None;
    }
    // While `f` runs the thread has no current task: a task cannot reach
    // its context twice at once (e.g. from a callback `f` triggers).
    CURRENT.with(|c| {
        c.set(Current {
            token: 0,
            ctx: std::ptr::null_mut(),
        })
    });
    // SAFETY: `run_task` recorded `ctx` for this token and this thread and
    // clears it before the context goes away; the context is not otherwise
    // borrowed during the task call, and we took it off CURRENT above.
    let r = f(unsafe { &mut *(cur.ctx as *mut TaskContext<'_>) });
    CURRENT.with(|c| c.set(cur));
    Some(r)
}

/// Makes `token` and `ctx` the thread's current task until dropped; the
/// previous one (if a task ever runs a task inline) comes back then.
struct CurrentGuard(Current);

impl CurrentGuard {
    fn enter(token: usize, ctx: *mut c_void) -> CurrentGuard {
        CurrentGuard(CURRENT.with(|c| c.replace(Current { token, ctx })))
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let prev = self.0;
        CURRENT.with(|c| c.set(prev));
    }
}

/// Calls `task` with a new task token naming `ctx` and turns what it did
/// into an outcome (Values and errors). A Rust panic inside the task fails
/// only this task.
pub fn run_task(task: &Task, mut ctx: TaskContext<'_>) -> TaskOutcome {
    let token = next_token();
    let ret = {
        let _current = CurrentGuard::enter(token, &mut ctx as *mut TaskContext<'_> as *mut c_void);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: `Task::new`'s contract: `func` has the task signature
            // and accepts `arg`; the token is an opaque identity.
            unsafe { (task.func)(token as *mut c_void, task.arg.ptr(), task.arg.len()) }
        }))
    };
    let ret = match ret {
        Ok(r) => r,
        Err(_) => {
            return TaskOutcome::Error(ErrorRecord::new(Status::TaskFailed, 0, "task panicked"))
        }
    };
    if ret == Status::Cancelled as i32 && ctx.cancel_requested() {
        return TaskOutcome::Cancelled;
    }
    if ret == 0 && ctx.error.is_none() {
        return TaskOutcome::Value(ctx.value.take().unwrap_or_else(Value::empty));
    }
    // A value set by a task that then fails is destroyed (drop of ctx).
    let (set_code, message) = ctx.error.take().unwrap_or((0, CString::default()));
    let code = if ret != 0 { ret } else { set_code };
    let message = if message.as_bytes().is_empty() {
        c_string(&format!("task failed with code {code}"))
    } else {
        message
    };
    TaskOutcome::Error(ErrorRecord {
        kind: Status::TaskFailed,
        code,
        message,
        detail: None,
    })
}

/// Completes `future` with `outcome` (the executor side of F7), giving up
/// the executor's reference once the callbacks have run.
pub fn complete(future: Future, outcome: TaskOutcome) {
    match outcome {
        TaskOutcome::Value(v) => future.complete_as_holder(Ok(v)),
        TaskOutcome::Error(e) => future.complete_as_holder(Err(e)),
        TaskOutcome::Cancelled => future.set_cancelled_while_running(),
    };
}

/// An item of `map`: borrowed argument bytes.
#[derive(Copy, Clone)]
pub struct Item {
    pub(crate) arg: *const c_void,
    pub(crate) arg_len: usize,
}

impl Item {
    /// An item of `arg_len` bytes at `arg`.
    ///
    /// # Safety
    /// As `Arg::from_raw` (without a destructor): the bytes stay readable
    /// until the futures of the map are done, and the task function they
    /// are submitted with accepts them.
    pub unsafe fn new(arg: *const c_void, arg_len: usize) -> Item {
        Item { arg, arg_len }
    }
}

// SAFETY: the caller of map promises the bytes stay valid and readable from
// worker threads until the futures are done (docs/api.md, Executors).
unsafe impl Send for Item {}

/// An executor: something that runs tasks and hands out their futures.
pub trait Executor: Send + Sync + 'static {
    /// E1: schedules `task`; never waits for work to run. A refusal gives the
    /// task back untouched (its argument's destructor is not run).
    fn submit(&self, task: Task) -> Result<Future, Refused>;

    /// E9/E14: submits every item (eagerly), `chunksize` >= 1. The default
    /// submits one task per item; a refusal cancels what was submitted.
    fn submit_many(
        &self,
        func: TaskFn,
        items: &[Item],
        chunksize: usize,
    ) -> Result<Vec<Future>, Status> {
        let _ = chunksize;
        let mut futures = Vec::with_capacity(items.len());
        for item in items {
            let task = Task {
                func,
                arg: Arg::new(item.arg, item.arg_len, None),
            };
            match self.submit(task) {
                Ok(f) => futures.push(f),
                Err(refused) => {
                    refused.task.arg.disown();
                    for f in &futures {
                        f.cancel();
                    }
                    return Err(refused.status);
                }
            }
        }
        Ok(futures)
    }

    /// Whether `submit_many` copies the items' bytes before it returns (a
    /// process pool), so that `imap` may drop them then and send a chunk as
    /// one call; otherwise the bytes are borrowed until each task ran.
    fn copies_arguments(&self) -> bool {
        false
    }

    /// E3–E6: stops accepting work; `wait` joins every worker, except from
    /// one of the pool's own threads (`WouldDeadlock`, the pool still shuts
    /// down). Idempotent, from any thread.
    fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<(), Status>;

    /// Q1–Q12: bounded submit, stats, describe and the stopping calls;
    /// None for an executor without them.
    fn flow(&self) -> Option<&dyn crate::flow::Flow> {
        None
    }
}

pub use crate::map::{Map, MapEnd};

/// A task written in Rust: it may set the value or an error through its
/// context, and returns the task's code (0: success).
pub type TaskClosure = Box<dyn FnOnce(&mut TaskContext<'_>) -> i32 + Send>;

/// Executors that run every task inside the calling process (on its
/// threads), so that a task's argument may point into this process's
/// memory; what `SubmitClosure` needs.
///
/// # Safety
/// An implementor runs each submitted task in this process, through
/// `run_task`, and drops its argument exactly once.
pub unsafe trait InProcess: Executor {}

/// Safe submission of Rust closures to an in-process executor.
pub trait SubmitClosure {
    /// Schedules `f` like `Executor::submit`; a refusal drops `f` and
    /// answers why.
    fn submit_fn<F>(&self, f: F) -> Result<Future, Status>
    where
        F: FnOnce(&mut TaskContext<'_>) -> i32 + Send + 'static;
}

/// The argument of a closure task: the closure, taken out when it runs.
type ClosureCell = Cell<Option<TaskClosure>>;

unsafe extern "C" fn run_closure(token: *mut c_void, arg: *const c_void, _len: usize) -> i32 {
    // SAFETY: `arg` is the `ClosureCell` that `submit_fn` boxed; it lives
    // until the argument's destructor runs, after this call; only the
    // worker running the task touches it meanwhile.
    let cell = unsafe { &*(arg as *const ClosureCell) };
    let Some(f) = cell.take() else {
        return Status::Internal as i32;
    };
    with_current_task(token, |ctx| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(ctx)))
            .unwrap_or(Status::TaskFailed as i32)
    })
    .unwrap_or(Status::Internal as i32)
}

unsafe extern "C" fn drop_closure(p: *mut c_void) {
    // SAFETY: `p` came from `Box::into_raw` in `submit_fn`; the argument's
    // destructor runs once.
    drop(unsafe { Box::from_raw(p as *mut ClosureCell) });
}

impl<E: InProcess + ?Sized> SubmitClosure for E {
    fn submit_fn<F>(&self, f: F) -> Result<Future, Status>
    where
        F: FnOnce(&mut TaskContext<'_>) -> i32 + Send + 'static,
    {
        let cell: Box<ClosureCell> = Box::new(Cell::new(Some(Box::new(f))));
        let len = std::mem::size_of::<ClosureCell>();
        let ptr = Box::into_raw(cell) as *const c_void;
        // SAFETY: the argument owns the box (freed once by `drop_closure`);
        // `run_closure` reads it as a `ClosureCell`; `InProcess` runs it in
        // this process, where the box lives.
        let task = unsafe { Task::new(run_closure, Arg::from_raw(ptr, len, Some(drop_closure))) };
        self.submit(task).map_err(|refused| refused.status)
    }
}
