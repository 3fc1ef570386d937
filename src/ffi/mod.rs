//! The C API. Every `extern "C"` function of the library lives below this
//! module: it checks its pointers, catches panics and maps errors to
//! `fut_status`. cbindgen reads these files to write `include/futures.h`.

#![allow(non_camel_case_types)]
// The contract of every pointer argument is in each function's doc comment,
// which cbindgen copies into the header; a Rust-only "# Safety" section there
// would only repeat it.
#![allow(clippy::missing_safety_doc)]

mod common;
mod completion_queue;
mod executor;
mod future;
mod process_pool;
mod task;
mod thread_pool;
mod types;
mod wait;

pub use common::*;
pub use completion_queue::*;
pub use executor::*;
pub use future::*;
pub use process_pool::*;
pub use task::*;
pub use thread_pool::*;
pub use types::*;
pub use wait::*;

use crate::status::Status;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs the body of a fallible C function: panics become
/// `FUT_ERR_INTERNAL` (logged) instead of unwinding into C.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Status>) -> fut_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => FUT_OK,
        Ok(Err(s)) => s as fut_status,
        Err(panic) => {
            log_panic(&panic);
            FUT_ERR_INTERNAL
        }
    }
}

/// Like `guard` for functions that answer a plain value: a panic answers
/// `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        log_panic(&panic);
        fallback
    })
}

fn log_panic(panic: &Box<dyn std::any::Any + Send>) {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    crate::log::log(&format!("internal error (panic): {what}"));
}

/// Turns a NULL-checked result into the status for a missing pointer.
pub(crate) fn non_null<T>(p: *mut T) -> Result<*mut T, Status> {
    if p.is_null() {
        Err(Status::InvalidArgument)
    } else {
        Ok(p)
    }
}

/// The caller's array as a slice; NULL is allowed only with `n == 0`.
///
/// # Safety
/// When non-NULL, `p` must point to `n` readable elements.
pub(crate) unsafe fn input_slice<'a, T>(p: *const T, n: usize) -> Result<&'a [T], Status> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Status::InvalidArgument);
    }
    // SAFETY: the caller promises `n` readable elements at `p`.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}
