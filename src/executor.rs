//! The Executor interface shared by every pool, the task calling convention,
//! and `map()` (SEMANTICS E1–E16).

use crate::future::{DropFn, Future, Value};
use crate::status::{c_string, ErrorRecord, Status};
use std::collections::VecDeque;
use std::ffi::{c_void, CStr, CString};
use std::time::Instant;

/// Opaque task context handed to a task function (`fut_task` in C).
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
    pub fn new(ptr: *const c_void, len: usize, drop: Option<DropFn>) -> Arg {
        Arg { ptr, len, drop }
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
    pub func: TaskFn,
    pub arg: Arg,
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

/// Calls `task` with `ctx` and turns what it did into an outcome (API.md,
/// Values and errors). A Rust panic inside the task fails only this task.
pub fn run_task(task: &Task, mut ctx: TaskContext<'_>) -> TaskOutcome {
    let ctx_ptr = &mut ctx as *mut TaskContext<'_> as *mut c_void;
    let ret = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the host promised `func` has the task signature; `ctx_ptr`
        // stays valid for the call; `arg` is valid per the C contract.
        unsafe { (task.func)(ctx_ptr, task.arg.ptr(), task.arg.len()) }
    }));
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

/// Completes `future` with `outcome` (the executor side of F7).
pub fn complete(future: &Future, outcome: TaskOutcome) {
    let _ = match outcome {
        TaskOutcome::Value(v) => future.set_result(v).map_err(|_| ()),
        TaskOutcome::Error(e) => future.set_exception(e).map_err(|_| ()),
        TaskOutcome::Cancelled => {
            future.set_cancelled_while_running();
            Ok(())
        }
    };
}

/// An item of `map`: borrowed argument bytes.
#[derive(Copy, Clone)]
pub struct Item {
    pub arg: *const c_void,
    pub arg_len: usize,
}

// SAFETY: the caller of map promises the bytes stay valid and readable from
// worker threads until the futures are done (API.md, Executors).
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

    /// E3–E6: stops accepting work; `wait` joins every worker, except from
    /// one of the pool's own threads (`WouldDeadlock`, the pool still shuts
    /// down). Idempotent, from any thread.
    fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<(), Status>;
}

/// E9–E15: results of `map` in input order, under one deadline.
pub struct Map {
    futures: VecDeque<Future>,
    deadline: Option<Instant>,
    finished: bool,
}

/// Why `Map::next_done` yields nothing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MapEnd {
    Exhausted,
    /// E11: the deadline passed; every future not yet yielded was cancelled.
    TimedOut,
}

impl Map {
    pub fn new(
        executor: &dyn Executor,
        func: TaskFn,
        items: &[Item],
        deadline: Option<Instant>,
        chunksize: usize,
    ) -> Result<Map, Status> {
        if chunksize == 0 {
            return Err(Status::InvalidArgument);
        }
        let futures = executor.submit_many(func, items, chunksize)?;
        Ok(Map {
            futures: futures.into(),
            deadline,
            finished: false,
        })
    }

    /// The next future in input order, once done (E10, E12: a failed task is
    /// just a failed future at its position).
    pub fn next_done(&mut self) -> Result<Future, MapEnd> {
        if self.finished {
            return Err(MapEnd::Exhausted);
        }
        let Some(front) = self.futures.front() else {
            self.finished = true;
            return Err(MapEnd::Exhausted);
        };
        if front.wait_until(self.deadline) {
            return Ok(self.futures.pop_front().expect("front exists"));
        }
        self.cancel_rest();
        Err(MapEnd::TimedOut)
    }

    /// E11/E13: cancels and drops every future not yet yielded.
    fn cancel_rest(&mut self) {
        self.finished = true;
        for f in self.futures.drain(..) {
            f.cancel();
        }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        self.cancel_rest();
    }
}
