//! `fut_task_*`: what a running task may call on its context.

use super::guard;
use super::types::*;
use crate::executor::{with_current_task, TaskContext};
use crate::future::Value;
use crate::status::Status;
use std::ffi::{c_char, c_void, CStr};

/// Runs `f` on the context of the task `task` names, if that task is running
/// on the calling thread now; `FUT_ERR_INVALID_ARGUMENT` for anything else (a
/// task pointer kept after its task returned, another thread's, garbage),
/// which is never dereferenced.
fn with_task<R>(
    task: *const fut_task,
    f: impl FnOnce(&mut TaskContext<'_>) -> R,
) -> Result<R, Status> {
    with_current_task(task as *const c_void, f).ok_or(Status::InvalidArgument)
}

/// Sets the running task's value (`ptr`, `len`); `drop(ptr)`, if given, runs
/// exactly once: when the future is freed, when a later call replaces the
/// value, or when the task fails. Nothing is copied here. A thread pool keeps
/// `ptr` itself as the future's value (`fut_future_result` gives it back; it
/// must stay valid until `drop`). A process pool copies the `len` bytes at
/// `ptr` back to the caller's process after the task returned (so they must
/// stay valid until then: not the task's stack), then runs `drop` in the
/// worker. Call only from inside the task.
#[no_mangle]
pub unsafe extern "C" fn fut_task_set_result(
    task: *mut fut_task,
    ptr: *mut c_void,
    len: usize,
    drop: fut_drop_fn,
) -> fut_status {
    guard(|| {
        // The value is made only for a valid task: a refused call leaves
        // `ptr` with the caller (`drop` is not run).
        with_task(task, |ctx| ctx.set_result(Value::new(ptr, len, drop)))
    })
}

/// Makes the running task fail with `code` and a copy of `message` (NULL:
/// a default text); a non-zero return value of the task takes precedence as
/// the code. Call only from inside the task.
#[no_mangle]
pub unsafe extern "C" fn fut_task_set_error(
    task: *mut fut_task,
    code: i32,
    message: *const c_char,
) -> fut_status {
    guard(|| {
        let message = if message.is_null() {
            None
        } else {
            // SAFETY: a non-NULL message is NUL-terminated by contract.
            Some(unsafe { CStr::from_ptr(message) })
        };
        with_task(task, |ctx| ctx.set_error(code, message))
    })
}

/// True once `fut_future_cancel` was called on the running task's future. A
/// task may then stop early and return `FUT_ERR_CANCELLED`: its future ends
/// cancelled. Cooperative: nothing interrupts a task.
#[no_mangle]
pub unsafe extern "C" fn fut_task_cancel_requested(task: *const fut_task) -> bool {
    super::guard_value(false, || {
        with_task(task, |ctx| ctx.cancel_requested()).unwrap_or(false)
    })
}
