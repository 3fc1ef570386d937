//! `fut_future_*`: the future, as C sees it.

use super::types::*;
use super::{guard, guard_value, non_null};
use crate::future::{Future, RawCallback, Value};
use crate::status::{ErrorRecord, Status};
use std::ffi::{c_char, c_void, CStr};
use std::mem::ManuallyDrop;

/// Borrows the reference behind a C future handle.
pub(crate) fn borrow(f: *const fut_future) -> Result<ManuallyDrop<Future>, Status> {
    Future::borrow_raw(f as *const c_void).ok_or(Status::InvalidArgument)
}

/// The deadline of a wait on `f`; none needed when `f` is done, which spares
/// reading the clock on that common path.
fn deadline_unless_done(f: &Future, timeout_ns: i64) -> Option<std::time::Instant> {
    if f.done() {
        None
    } else {
        crate::deadline_after_ns(timeout_ns)
    }
}

/// Gives one reference to C.
pub(crate) fn to_c(f: Future) -> *mut fut_future {
    f.into_raw() as *mut fut_future
}

/// A C callback and its user pointer, as a core callback (no allocation).
pub(crate) fn c_callback(
    cb: unsafe extern "C" fn(*mut fut_future, *mut c_void),
    user: *mut c_void,
) -> RawCallback {
    RawCallback {
        // SAFETY: the two function pointer types differ only in the pointee
        // of the first argument (an opaque struct vs void), which the C ABI
        // passes identically; the core calls it with a future handle.
        func: unsafe {
            std::mem::transmute::<
                unsafe extern "C" fn(*mut fut_future, *mut c_void),
                unsafe extern "C" fn(*mut c_void, *mut c_void),
            >(cb)
        },
        user,
    }
}

/// Creates a promise-style future in PENDING, to be completed with
/// `fut_future_set_result` or `fut_future_set_exception` by any thread.
/// `*out` receives one reference.
#[no_mangle]
pub unsafe extern "C" fn fut_future_new(out: *mut *mut fut_future) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        // SAFETY: `out` is non-NULL and the caller provides room for a pointer.
        unsafe { *out = to_c(Future::new()) };
        Ok(())
    })
}

/// Adds a reference to `f` and returns `f`; NULL if `f` is not a live future.
#[no_mangle]
pub extern "C" fn fut_future_retain(f: *mut fut_future) -> *mut fut_future {
    guard_value(std::ptr::null_mut(), || match borrow(f) {
        Ok(fut) => to_c((*fut).clone()),
        Err(_) => std::ptr::null_mut(),
    })
}

/// Gives back one reference. Releasing the last reference to a future that
/// is not done cancels it and runs its callbacks on this thread. NULL or an
/// invalid handle is ignored.
#[no_mangle]
pub extern "C" fn fut_future_release(f: *mut fut_future) {
    guard_value((), || {
        Future::release_raw(f as *const c_void);
    });
}

/// Cancels a PENDING future: waiters wake at once, its callbacks run on this
/// thread, and it answers true (also for an already cancelled future). A
/// RUNNING or FINISHED future is not changed and it answers false; a running
/// task is asked to stop (see `fut_task_cancel_requested`).
#[no_mangle]
pub extern "C" fn fut_future_cancel(f: *mut fut_future) -> bool {
    guard_value(false, || borrow(f).map(|f| f.cancel()).unwrap_or(false))
}

/// True if `f` was cancelled.
#[no_mangle]
pub extern "C" fn fut_future_cancelled(f: *const fut_future) -> bool {
    guard_value(false, || borrow(f).map(|f| f.cancelled()).unwrap_or(false))
}

/// True while `f` is being run (RUNNING).
#[no_mangle]
pub extern "C" fn fut_future_running(f: *const fut_future) -> bool {
    guard_value(false, || borrow(f).map(|f| f.running()).unwrap_or(false))
}

/// True if `f` finished (value or error) or was cancelled.
#[no_mangle]
pub extern "C" fn fut_future_done(f: *const fut_future) -> bool {
    guard_value(false, || borrow(f).map(|f| f.done()).unwrap_or(false))
}

/// The state of `f`, or `FUT_STATE_INVALID` if it is not a live future.
#[no_mangle]
pub extern "C" fn fut_future_state(f: *const fut_future) -> fut_state {
    guard_value(FUT_STATE_INVALID, || match borrow(f) {
        Ok(f) => match f.state() {
            crate::State::Pending => FUT_STATE_PENDING,
            crate::State::Running => FUT_STATE_RUNNING,
            crate::State::Cancelled | crate::State::CancelledAndNotified => FUT_STATE_CANCELLED,
            crate::State::Finished => FUT_STATE_FINISHED,
        },
        Err(_) => FUT_STATE_INVALID,
    })
}

/// Waits up to `timeout_ns` (negative: forever, 0: poll) for `f`, then gives
/// its value: `*ptr` and `*len` (either may be NULL) are borrowed from the
/// future. Answers `FUT_ERR_TIMEOUT` if not done in time, `FUT_ERR_CANCELLED`,
/// or the failure's kind (`FUT_ERR_TASK_FAILED`, ...) if it failed.
/// Alignment: a thread-pool task's or a promise's value is the pointer it was
/// given, aligned as that was; a process-pool value is a copy aligned to 16
/// bytes (like `malloc` on x86-64 and aarch64 Linux), NULL when empty.
#[no_mangle]
pub unsafe extern "C" fn fut_future_result(
    f: *mut fut_future,
    timeout_ns: i64,
    ptr: *mut *mut c_void,
    len: *mut usize,
) -> fut_status {
    guard(|| {
        let f = borrow(f)?;
        let (p, n) = f.result(deadline_unless_done(&f, timeout_ns))?;
        if !ptr.is_null() {
            // SAFETY: non-NULL output pointer provided by the caller.
            unsafe { *ptr = p };
        }
        if !len.is_null() {
            // SAFETY: as above.
            unsafe { *len = n };
        }
        Ok(())
    })
}

/// Waits like `fut_future_result`, then describes the failure in `*out`
/// (may be NULL): `kind == FUT_OK` with NULL strings for a success. Answers
/// `FUT_ERR_TIMEOUT` or `FUT_ERR_CANCELLED` without touching `*out`.
#[no_mangle]
pub unsafe extern "C" fn fut_future_exception(
    f: *mut fut_future,
    timeout_ns: i64,
    out: *mut fut_error_info,
) -> fut_status {
    guard(|| {
        let f = borrow(f)?;
        let info = match f.exception(deadline_unless_done(&f, timeout_ns))? {
            None => fut_error_info {
                kind: FUT_OK,
                code: 0,
                message: std::ptr::null(),
                detail: std::ptr::null(),
            },
            Some(e) => fut_error_info {
                kind: e.kind as fut_status,
                code: e.code,
                message: e.message.as_ptr(),
                detail: e.detail.as_ref().map_or(std::ptr::null(), |d| d.as_ptr()),
            },
        };
        if !out.is_null() {
            // SAFETY: non-NULL output pointer provided by the caller.
            unsafe { out.write(info) };
        }
        Ok(())
    })
}

/// Registers `cb(f, user)` to run once when `f` is done: on the thread that
/// completes it, after waiters were woken, under no library lock, in
/// registration order. If `f` is done already, `cb` runs now on this thread.
#[no_mangle]
pub extern "C" fn fut_future_add_done_callback(
    f: *mut fut_future,
    cb: fut_done_fn,
    user: *mut c_void,
) -> fut_status {
    guard(|| {
        let cb = cb.ok_or(Status::InvalidArgument)?;
        let f = borrow(f)?;
        f.add_raw_done_callback(c_callback(cb, user));
        Ok(())
    })
}

/// For executors written in C, on futures from `fut_future_new`: moves a
/// PENDING future to RUNNING and answers true (run the task), or answers
/// false for a cancelled one (skip it). Any other state is a bug of the
/// executor: it is logged and answered false. A future made by one of the
/// library's pools belongs to its pool: refused (false, logged, unchanged).
#[no_mangle]
pub extern "C" fn fut_future_set_running_or_notify_cancel(f: *mut fut_future) -> bool {
    guard_value(false, || {
        let Ok(f) = borrow(f) else { return false };
        if f.executor_owned() {
            crate::log::log(&format!(
                "set_running_or_notify_cancel refused on {}: it belongs to its executor",
                &*f
            ));
            return false;
        }
        f.set_running_or_notify_cancel().unwrap_or(false)
    })
}

/// Completes `f` with the value (`ptr`, `len`); `drop(ptr)`, if given, runs
/// exactly once when the future is freed. Refused with
/// `FUT_ERR_INVALID_STATE` if `f` is done: the caller then keeps ownership.
#[no_mangle]
pub extern "C" fn fut_future_set_result(
    f: *mut fut_future,
    ptr: *mut c_void,
    len: usize,
    drop: fut_drop_fn,
) -> fut_status {
    guard(|| {
        let f = borrow(f)?;
        f.set_result(Value::new(ptr, len, drop)).map_err(|refused| {
            // The caller keeps ownership of a refused value.
            let _ = refused.into_raw();
            Status::InvalidState
        })
    })
}

/// Completes `f` with a failure of kind `FUT_ERR_TASK_FAILED`, `code` and a
/// copy of `message` (NULL: empty). Refused with `FUT_ERR_INVALID_STATE` if
/// `f` is done.
#[no_mangle]
pub unsafe extern "C" fn fut_future_set_exception(
    f: *mut fut_future,
    code: i32,
    message: *const c_char,
) -> fut_status {
    guard(|| {
        let f = borrow(f)?;
        let message = if message.is_null() {
            Default::default()
        } else {
            // SAFETY: a non-NULL message is a NUL-terminated string by contract.
            unsafe { CStr::from_ptr(message) }.to_owned()
        };
        let record = ErrorRecord {
            kind: Status::TaskFailed,
            code,
            message,
            detail: None,
        };
        f.set_exception(record).map_err(|_| Status::InvalidState)
    })
}
