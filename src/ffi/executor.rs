//! `fut_executor_*` and `fut_map_*`: the interface shared by every pool.

use super::future::to_c;
use super::types::*;
use super::{guard, input_slice, non_null};
use crate::executor::{Arg, Executor, Item, Map, Refused, Task, TaskFn};
use crate::future::Future;
use crate::handle::{Pool, Shared};
use crate::status::Status;
use crate::sync::Mutex;
use std::ffi::c_void;
use std::sync::Arc;

pub(crate) static EXECUTORS: Pool<Arc<dyn Executor>> = Pool::new(0x4655_5445);
pub(crate) static MAPS: Pool<Mutex<Map>> = Pool::new(0x4655_544d);

/// Registers this module's handle pools with the fork handlers.
pub(crate) fn register_pools_for_fork() {
    EXECUTORS.register_for_fork();
    MAPS.register_for_fork();
}

/// Gives C one reference to a new executor handle.
pub(crate) fn executor_to_c(ex: Arc<dyn Executor>) -> *mut fut_executor {
    EXECUTORS.alloc(ex).into_raw() as *mut fut_executor
}

pub(crate) fn borrow_executor(ex: *const fut_executor) -> Result<Arc<dyn Executor>, Status> {
    EXECUTORS
        .borrow(ex as *const u8)
        .map(|h| Arc::clone(&h))
        .ok_or_else(unknown_executor)
}

/// The refusal of a handle that is not live. In a process-pool worker it
/// may be the handle of the worker's own pool, made after the worker was
/// forked: an inherited pool refuses with `FUT_ERR_SHUTDOWN` (X11).
fn unknown_executor() -> Status {
    if crate::process_pool::in_worker() {
        Status::Shutdown
    } else {
        Status::InvalidArgument
    }
}

/// What the last executor reference does: shut the pool down (wait = true;
/// from one of its own threads without joining itself).
fn shutdown_last(last: &Shared<Arc<dyn Executor>>) {
    let _ = last.shutdown(true, false);
}

/// Schedules `fn(task, arg, arg_len)` on `ex`; `*out` receives the future.
/// `arg_drop(arg)`, if given, runs exactly once: after the task ran, when it
/// was cancelled before running, or (process pool) once the bytes were sent.
/// Without it a thread pool borrows `arg` until the future is done and a
/// process pool copies it now. Refused (`FUT_ERR_SHUTDOWN`,
/// `FUT_ERR_BROKEN_POOL`, ...) without calling `arg_drop`.
#[no_mangle]
pub unsafe extern "C" fn fut_executor_submit(
    ex: *mut fut_executor,
    func: fut_task_fn,
    arg: *const c_void,
    arg_len: usize,
    arg_drop: fut_drop_fn,
    out: *mut *mut fut_future,
) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        let task = c_task(func, arg, arg_len, arg_drop)?;
        // The caller's own reference keeps the executor alive for the call:
        // no reference of ours is taken (two atomic steps fewer per submit).
        let ex = EXECUTORS
            .borrow(ex as *const u8)
            .ok_or_else(unknown_executor)?;
        // SAFETY: `out` is non-NULL and the caller provides room for it.
        unsafe { hand_out(ex.submit(task()), out) }
    })
}

/// A task function as C declares it (`fut_task_fn` without the NULL).
pub(crate) type TaskFnC = unsafe extern "C" fn(*mut fut_task, *const c_void, usize) -> i32;

/// The core's view of a C task function.
pub(crate) fn task_fn(func: TaskFnC) -> TaskFn {
    // SAFETY: fut_task is the C name of the opaque context pointer; both
    // signatures take (pointer, pointer, size) and return i32.
    unsafe { std::mem::transmute::<TaskFnC, TaskFn>(func) }
}

/// Checks the task a C caller submits (`func` is required, and `arg` may be
/// NULL only with `arg_len` 0: `FUT_ERR_INVALID_ARGUMENT`) and answers what
/// makes it. The task owns the argument, and dropping it runs `arg_drop`:
/// make it only once nothing but the submit itself (which disowns the
/// argument when it refuses) can refuse the call.
pub(crate) fn c_task(
    func: fut_task_fn,
    arg: *const c_void,
    arg_len: usize,
    arg_drop: fut_drop_fn,
) -> Result<impl FnOnce() -> Task, Status> {
    let func = func.ok_or(Status::InvalidArgument)?;
    if arg.is_null() && arg_len != 0 {
        return Err(Status::InvalidArgument);
    }
    Ok(move || Task {
        func: task_fn(func),
        arg: Arg::new(arg, arg_len, arg_drop),
    })
}

/// A submit's answer to C: the future into `*out`, or the refusal's status,
/// with the argument left to the caller (`arg_drop` not called).
///
/// # Safety
/// `out` is non-NULL and has room for a pointer.
pub(crate) unsafe fn hand_out(
    submitted: Result<Future, Refused>,
    out: *mut *mut fut_future,
) -> Result<(), Status> {
    match submitted {
        Ok(f) => {
            // SAFETY: per this function's contract.
            unsafe { *out = to_c(f) };
            Ok(())
        }
        Err(refused) => {
            refused.task.arg.disown();
            Err(refused.status)
        }
    }
}

/// Submits `fn` once per item of `items` (the array is copied; each item
/// like a submit without `arg_drop`) and returns an iterator over their
/// futures in input order, under one deadline `timeout_ns` from now
/// (negative: none). `chunksize` >= 1: a process pool sends that many items
/// per message; a thread pool ignores it. A refusal cancels what was
/// submitted and is returned.
#[no_mangle]
pub unsafe extern "C" fn fut_executor_map(
    ex: *mut fut_executor,
    func: fut_task_fn,
    items: *const fut_item,
    n: usize,
    timeout_ns: i64,
    chunksize: usize,
    out: *mut *mut fut_map,
) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        let func = func.ok_or(Status::InvalidArgument)?;
        let ex = borrow_executor(ex)?;
        if chunksize == 0 {
            return Err(Status::InvalidArgument);
        }
        // SAFETY: the caller passes `n` items at `items`.
        let items = unsafe { input_slice(items, n) }?;
        let items: Vec<Item> = items
            .iter()
            .map(|i| Item {
                arg: i.arg,
                arg_len: i.arg_len,
            })
            .collect();
        if items.iter().any(|i| i.arg.is_null() && i.arg_len != 0) {
            return Err(Status::InvalidArgument);
        }
        let func = task_fn(func);
        let map = Map::new(
            &*ex,
            func,
            &items,
            crate::deadline_after_ns(timeout_ns),
            chunksize,
        )?;
        // SAFETY: `out` is non-NULL and the caller provides room for it.
        unsafe { *out = MAPS.alloc(Mutex::new(map)).into_raw() as *mut fut_map };
        Ok(())
    })
}

/// Blocks for the next future in input order (completion order for an
/// unordered `fut_executor_imap`), once it is done: `*out`
/// receives a new reference (a failed task is a failed future here; the
/// iteration goes on). `FUT_END` when exhausted; `FUT_ERR_TIMEOUT` when the
/// deadline passed, which cancels every future not yet yielded (then
/// `FUT_END`).
#[no_mangle]
pub unsafe extern "C" fn fut_map_next(m: *mut fut_map, out: *mut *mut fut_future) -> fut_status {
    // SAFETY: the same contract, with no per-call deadline and no index.
    unsafe { super::map::fut_map_next_timeout(m, FUT_WAIT_FOREVER, out, std::ptr::null_mut()) }
}

/// Releases the iterator; futures it has not yielded are cancelled (those
/// already running finish and are discarded). NULL is ignored.
#[no_mangle]
pub extern "C" fn fut_map_release(m: *mut fut_map) {
    super::guard_value((), || {
        MAPS.release_raw(m as *const u8, |_| {});
    });
}

/// Stops `ex` accepting work (idempotent, any thread). `cancel_futures`
/// cancels every queued future before this returns (waiters are woken and
/// done-callbacks run on the calling thread), also with `wait` false; what
/// it leaves is running work and, in a process pool, the up to
/// `max_workers + 1` calls already handed towards the workers (RUNNING).
/// `wait` then waits for running work and joins the pool's threads and
/// processes. A process pool inherited through `fork()` refuses with
/// `FUT_ERR_SHUTDOWN`. From one of the pool's own
/// threads or callbacks, `wait` cannot join: the pool still shuts down and
/// the call answers `FUT_ERR_WOULD_DEADLOCK`.
#[no_mangle]
pub extern "C" fn fut_executor_shutdown(
    ex: *mut fut_executor,
    wait: bool,
    cancel_futures: bool,
) -> fut_status {
    guard(|| borrow_executor(ex)?.shutdown(wait, cancel_futures))
}

/// Adds a reference to `ex` and returns it; NULL if `ex` is not live.
#[no_mangle]
pub extern "C" fn fut_executor_retain(ex: *mut fut_executor) -> *mut fut_executor {
    super::guard_value(std::ptr::null_mut(), || {
        match EXECUTORS.borrow(ex as *const u8) {
            Some(h) => (*h).clone().into_raw() as *mut fut_executor,
            None => std::ptr::null_mut(),
        }
    })
}

/// Gives back one reference; the last one is `fut_executor_shutdown(ex,
/// true, false)` (without self-join from the pool's own threads), then frees
/// the handle. NULL is ignored.
#[no_mangle]
pub extern "C" fn fut_executor_release(ex: *mut fut_executor) {
    super::guard_value((), || {
        EXECUTORS.release_raw(ex as *const u8, shutdown_last);
    });
}
