//! `fut_executor_new_custom`: an executor written outside the library (M1–M3).
//!
//! The library keeps the executor handle, makes the futures and finds each
//! task's registered name; the custom executor (a C vtable) receives the
//! tasks and completes their futures with the promise calls
//! (`fut_future_set_running_or_notify_cancel`, `fut_future_set_result`,
//! `fut_future_set_exception`). Everything built on `fut_executor` (named
//! submit, map, imap, wait, as_completed) then works on it unchanged. An
//! executor in another process or machine (the MPI pool) needs the name,
//! since a function pointer means nothing there.

use super::executor::{executor_to_c, task_fn, TaskFnC};
use super::future::to_c;
use super::types::*;
use super::{guard, non_null};
use crate::executor::{Executor, Item, Refused, Task, TaskFn};
use crate::future::Future;
use crate::status::Status;
use crate::task_registry;
use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

/// One task handed to a custom executor's `submit`.
#[repr(C)]
pub struct fut_custom_task {
    /// The name `func` was registered under (N1), NUL-terminated, valid
    /// during the `submit` call; NULL when `func` is not registered.
    pub name: *const c_char,
    /// The task function (meaningful in this process only).
    pub func: fut_task_fn,
    /// The argument bytes; owned by the executor once `submit` accepted them:
    /// it calls `arg_drop(arg)` once, if non-NULL, when done with them.
    /// Without `arg_drop` they are borrowed until the future is done.
    pub arg: *const c_void,
    pub arg_len: usize,
    pub arg_drop: fut_drop_fn,
    /// A PENDING future (from `fut_future_new`): one reference, the
    /// executor's once `submit` accepted the task; it completes the future
    /// and then releases it.
    pub future: *mut fut_future,
}

/// The functions of a custom executor (`fut_executor_new_custom`).
#[repr(C)]
#[derive(Copy, Clone)]
pub struct fut_custom_executor_vtable {
    /// Takes `n` tasks (1 for a submit; a map's items, which it may group
    /// `chunksize` at a time). `FUT_OK`: it owns every task (see
    /// `fut_custom_task`). Anything else refuses them all; the library
    /// releases the futures and the caller keeps the arguments. Must not
    /// block on running work.
    pub submit: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            tasks: *const fut_custom_task,
            n: usize,
            chunksize: usize,
        ) -> fut_status,
    >,
    /// `fut_executor_shutdown` (required): stop accepting work (then
    /// `submit` answers `FUT_ERR_SHUTDOWN`), cancel queued futures if
    /// `cancel_futures`, and if `wait` return once every accepted task is done.
    pub shutdown: Option<
        unsafe extern "C" fn(user: *mut c_void, wait: bool, cancel_futures: bool) -> fut_status,
    >,
    /// Called once, after the last reference's shutdown, to free `user`
    /// (NULL: nothing to free).
    pub destroy: Option<unsafe extern "C" fn(user: *mut c_void)>,
}

type SubmitFn =
    unsafe extern "C" fn(*mut c_void, *const fut_custom_task, usize, usize) -> fut_status;
type ShutdownFn = unsafe extern "C" fn(*mut c_void, bool, bool) -> fut_status;

struct Custom {
    submit: SubmitFn,
    shutdown: ShutdownFn,
    destroy: Option<unsafe extern "C" fn(*mut c_void)>,
    user: *mut c_void,
}

// SAFETY: `fut_executor_new_custom`'s contract: the vtable may be called
// from any thread with `user`.
unsafe impl Send for Custom {}
// SAFETY: as above; the library adds no state of its own to share.
unsafe impl Sync for Custom {}

impl Drop for Custom {
    fn drop(&mut self) {
        if let Some(d) = self.destroy {
            // SAFETY: the executor's owner gave us `destroy` for `user`, to
            // call once when the executor goes away.
            unsafe { d(self.user) }
        }
    }
}

fn c_status(st: fut_status) -> Status {
    match Status::from_code(st) {
        Some(s) => s,
        None => Status::Internal,
    }
}

/// The registered name of `func`, if any (N1), as a C string.
fn name_of(func: TaskFn) -> Option<CString> {
    let id = task_registry::task_id_of(func)?;
    CString::new(task_registry::name_of(id)?.as_bytes()).ok()
}

/// The tasks of one call (one function) prepared for the vtable; the name
/// lives here for the call.
struct Batch {
    name: Option<CString>,
    tasks: Vec<fut_custom_task>,
    futures: Vec<Future>,
}

impl Batch {
    fn new(func: TaskFn, n: usize) -> Batch {
        Batch {
            name: name_of(func),
            tasks: Vec::with_capacity(n),
            futures: Vec::with_capacity(n),
        }
    }

    /// Adds a task of the batch's function, whose name was looked up once
    /// (a map's items share it).
    fn push(&mut self, func: TaskFn, arg: (*const c_void, usize, fut_drop_fn)) {
        let f = Future::new();
        self.tasks.push(fut_custom_task {
            name: self.name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr()),
            // SAFETY: the same signature, seen from C (opaque task pointer).
            func: Some(unsafe { std::mem::transmute::<TaskFn, TaskFnC>(func) }),
            arg: arg.0,
            arg_len: arg.1,
            arg_drop: arg.2,
            future: to_c(f.clone()),
        });
        self.futures.push(f);
    }

    /// Hands the batch over; on refusal takes back the executor's references.
    fn send(self, c: &Custom, chunksize: usize) -> Result<Vec<Future>, Status> {
        // SAFETY: the vtable's contract; the tasks and names outlive the call.
        let st = unsafe { (c.submit)(c.user, self.tasks.as_ptr(), self.tasks.len(), chunksize) };
        if st == FUT_OK {
            return Ok(self.futures);
        }
        for t in &self.tasks {
            Future::release_raw(t.future as *const c_void);
        }
        Err(c_status(st))
    }
}

impl Executor for Custom {
    fn submit(&self, task: Task) -> Result<Future, Refused> {
        let (func, arg) = task.into_parts();
        let (ptr, len, drop) = arg.into_raw();
        let mut batch = Batch::new(func, 1);
        batch.push(func, (ptr, len, drop));
        match batch.send(self, 1) {
            Ok(mut fs) => Ok(fs.pop().expect("one future")),
            Err(status) => Err(Refused {
                status,
                // SAFETY: the caller's own task, given back untouched.
                task: unsafe { Task::new(func, crate::executor::Arg::from_raw(ptr, len, drop)) },
            }),
        }
    }

    fn submit_many(
        &self,
        func: TaskFn,
        items: &[Item],
        chunksize: usize,
    ) -> Result<Vec<Future>, Status> {
        let mut batch = Batch::new(func, items.len());
        for i in items {
            batch.push(func, (i.arg, i.arg_len, None));
        }
        batch.send(self, chunksize.max(1))
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<(), Status> {
        // SAFETY: the vtable's contract.
        let st = unsafe { (self.shutdown)(self.user, wait, cancel_futures) };
        if st == FUT_OK {
            Ok(())
        } else {
            Err(c_status(st))
        }
    }
}

/// Makes an executor handle whose work `vtable` does (M1): `submit` and
/// `shutdown` are required, and may be called from any thread with `user`.
/// `*out` receives one reference; every `fut_executor_*` call works on it
/// (stats, describe, the bounded submit and the stopping calls answer
/// `FUT_ERR_INVALID_ARGUMENT`: it has none). The vtable is copied. The last
/// `fut_executor_release` calls `shutdown(user, true, false)`, then
/// `destroy(user)`. Refused (`FUT_ERR_INVALID_ARGUMENT`) without calling
/// `destroy`.
#[no_mangle]
pub unsafe extern "C" fn fut_executor_new_custom(
    vtable: *const fut_custom_executor_vtable,
    user: *mut c_void,
    out: *mut *mut fut_executor,
) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        if vtable.is_null() {
            return Err(Status::InvalidArgument);
        }
        // SAFETY: non-NULL; the caller passes a vtable.
        let vt = unsafe { *vtable };
        let (Some(submit), Some(shutdown)) = (vt.submit, vt.shutdown) else {
            crate::log::log("a custom executor needs submit and shutdown");
            return Err(Status::InvalidArgument);
        };
        let ex: Arc<dyn Executor> = Arc::new(Custom {
            submit,
            shutdown,
            destroy: vt.destroy,
            user,
        });
        // SAFETY: `out` is non-NULL and the caller provides room for it.
        unsafe { *out = executor_to_c(ex) };
        Ok(())
    })
}

/// Runs `fn(task, arg, arg_len)` now, on the calling thread, and completes
/// `f` with what it did, as a pool would (M12): the value, the failure, or
/// cancelled if it honoured `fut_future_cancel`'s request. For custom
/// executors that run tasks in this process: `f` is their promise, made
/// RUNNING by `fut_future_set_running_or_notify_cancel`; any other state, or
/// a pool's future, is `FUT_ERR_INVALID_STATE` and nothing runs. `arg` is
/// borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn fut_task_run(
    f: *mut fut_future,
    func: fut_task_fn,
    arg: *const c_void,
    arg_len: usize,
) -> fut_status {
    guard(|| {
        let func = task_fn(func.ok_or(Status::InvalidArgument)?);
        run_now(f, func, arg, arg_len)
    })
}

/// `fut_task_run` of the task registered as `name` in this process (N1):
/// `FUT_ERR_NOT_REGISTERED` (`f` unchanged, the log hook names it) when there
/// is none. What a worker that receives names (the MPI worker) calls.
#[no_mangle]
pub unsafe extern "C" fn fut_task_run_named(
    f: *mut fut_future,
    name: *const c_char,
    arg: *const c_void,
    arg_len: usize,
) -> fut_status {
    guard(|| {
        if name.is_null() {
            return Err(Status::InvalidArgument);
        }
        // SAFETY: non-NULL and NUL-terminated by contract.
        let bytes = unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes();
        let name = task_registry::check_name(bytes).map_err(|r| {
            crate::log::log(&r.detail);
            r.status
        })?;
        let Some((_, func)) = task_registry::task_by_name(name) else {
            crate::log::log(&format!("no task is registered as '{name}'"));
            return Err(Status::NotRegistered);
        };
        run_now(f, func, arg, arg_len)
    })
}

fn run_now(
    f: *mut fut_future,
    func: TaskFn,
    arg: *const c_void,
    arg_len: usize,
) -> Result<(), Status> {
    if arg.is_null() && arg_len != 0 {
        return Err(Status::InvalidArgument);
    }
    let fut = super::future::borrow(f)?;
    if fut.executor_owned() || fut.state() != crate::future::State::Running {
        crate::log::log(&format!("fut_task_run on {}: not a RUNNING promise", &*fut));
        return Err(Status::InvalidState);
    }
    // SAFETY: the caller passes `arg_len` bytes at `arg`, borrowed for this
    // call, which the task function accepts; no destructor.
    let task = unsafe { Task::new(func, crate::executor::Arg::from_raw(arg, arg_len, None)) };
    let cancel_requested = || fut.cancel_requested();
    let outcome =
        crate::executor::run_task(&task, crate::executor::TaskContext::new(&cancel_requested));
    drop(task);
    // The callbacks run on a reference of the completion's own: the host's
    // may be released by one of them.
    crate::executor::complete(Future::clone(&fut), outcome);
    Ok(())
}
