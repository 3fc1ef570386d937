//! Named tasks (N1–N4) and the spawn worker's entry point (N9).

use super::executor::{task_fn, TaskFnC};
use super::types::*;
use super::{guard, non_null};
use crate::status::Status;
use crate::task_registry::{self, Refusal};
use std::ffi::{c_char, c_int, c_void, CStr};

/// The longest task or initializer name, in bytes (not counting the NUL).
pub const FUT_TASK_NAME_MAX: usize = 255;
const _: () = assert!(FUT_TASK_NAME_MAX == task_registry::MAX_NAME_LEN);

/// The bytes of a caller's name (NULL: `FUT_ERR_INVALID_ARGUMENT`).
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
unsafe fn name_bytes<'a>(name: *const c_char) -> Result<&'a [u8], Status> {
    if name.is_null() {
        crate::log::log("a task name must not be NULL");
        return Err(Status::InvalidArgument);
    }
    // SAFETY: non-NULL and NUL-terminated by contract.
    Ok(unsafe { CStr::from_ptr(name) }.to_bytes())
}

fn refused(r: Refusal) -> Status {
    crate::log::log(&r.detail);
    r.status
}

/// Registers `fn` as the task `name` in this process (N1): 1 to 255 bytes
/// of UTF-8, NUL-terminated, copied. Any time, from any thread, before or
/// after pools exist. Registering the same name with the same function
/// again is `FUT_OK`; with another function, or a bad name:
/// `FUT_ERR_INVALID_ARGUMENT` (the log hook says why). A spawn pool's
/// worker program must register the same names before `fut_worker_entry`.
#[no_mangle]
pub unsafe extern "C" fn fut_register_task(name: *const c_char, func: fut_task_fn) -> fut_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let name = unsafe { name_bytes(name) }?;
        let func = task_fn(func.ok_or(Status::InvalidArgument)?);
        task_registry::register_task(name, func)
            .map(drop)
            .map_err(refused)
    })
}

/// Registers `fn` as the initializer `name` (N1), with the rules of
/// `fut_register_task`; initializer names are separate from task names. A
/// spawn pool's `initializer` must be registered.
#[no_mangle]
pub unsafe extern "C" fn fut_register_initializer(
    name: *const c_char,
    func: fut_init_fn,
) -> fut_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let name = unsafe { name_bytes(name) }?;
        let func = func.ok_or(Status::InvalidArgument)?;
        task_registry::register_initializer(name, func)
            .map(drop)
            .map_err(refused)
    })
}

/// `fut_executor_submit` of the task registered as `name` (N2), on any
/// executor. `FUT_ERR_NOT_REGISTERED` when no task has that name in this
/// process (the log hook names it); otherwise as `fut_executor_submit`.
#[no_mangle]
pub unsafe extern "C" fn fut_executor_submit_named(
    ex: *mut fut_executor,
    name: *const c_char,
    arg: *const c_void,
    arg_len: usize,
    arg_drop: fut_drop_fn,
    out: *mut *mut fut_future,
) -> fut_status {
    guard(|| {
        non_null(out)?;
        // SAFETY: per this function's contract.
        let bytes = unsafe { name_bytes(name) }?;
        let name = task_registry::check_name(bytes).map_err(refused)?;
        let Some((_, func)) = task_registry::task_by_name(name) else {
            crate::log::log(&format!("no task is registered as '{name}'"));
            return Err(Status::NotRegistered);
        };
        // SAFETY: the registered function has the task signature (it was
        // registered from a `fut_task_fn`); the other arguments are the
        // caller's, under `fut_executor_submit`'s contract.
        let st = unsafe {
            let func = std::mem::transmute::<crate::executor::TaskFn, TaskFnC>(func);
            super::fut_executor_submit(ex, Some(func), arg, arg_len, arg_drop, out)
        };
        match Status::from_code(st) {
            Some(Status::Ok) => Ok(()),
            Some(s) => Err(s),
            None => Err(Status::Internal),
        }
    })
}

/// Call first thing in `main()` of any program that runs spawn-pool workers
/// (the host itself by default), after registering its tasks and
/// initializers and before anything else (N9). In a process that is not a
/// spawned worker it returns `FUT_OK` at once. In a worker (its command line
/// is `PROGRAM --libfutures-spawn-worker PID`) it never returns: the process
/// runs tasks until its pool lets it go, then exits. NULL `argv`: the command
/// line seen when the library was loaded (glibc). A worker that has not
/// called it 10 s after its start is killed and breaks its pool.
#[no_mangle]
pub unsafe extern "C" fn fut_worker_entry(argc: c_int, argv: *const *mut c_char) -> fut_status {
    guard(|| {
        if argv.is_null() {
            crate::process_pool::worker_entry(None);
            return Ok(());
        }
        let n = usize::try_from(argc).map_err(|_| Status::InvalidArgument)?;
        let mut args = Vec::with_capacity(n.min(3));
        for i in 0..n.min(3) {
            // SAFETY: the caller passes `argc` entries in `argv`.
            let a = unsafe { *argv.add(i) };
            if a.is_null() {
                break;
            }
            // SAFETY: each non-NULL entry is a NUL-terminated string.
            args.push(unsafe { CStr::from_ptr(a) });
        }
        crate::process_pool::worker_entry(Some(&args));
        Ok(())
    })
}
