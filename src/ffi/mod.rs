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
mod custom_executor;
mod executor;
mod flow;
mod future;
mod map;
mod named;
mod process_pool;
mod task;
mod thread_pool;
mod types;
mod wait;

pub use common::*;
pub use completion_queue::*;
pub use custom_executor::*;
pub use executor::*;
pub use flow::*;
pub use future::*;
pub use map::*;
pub use named::*;
pub use process_pool::*;
pub use task::*;
pub use thread_pool::*;
pub use types::*;
pub use wait::*;

use crate::status::Status;

/// Registers the C API's handle pools with the fork handlers when the
/// library is loaded (like `fork.rs`, before any thread of the library
/// exists; the core does not know the skin's pools).
#[used]
#[link_section = ".init_array"]
static ON_LOAD: extern "C" fn() = register_pools_for_fork;

extern "C" fn register_pools_for_fork() {
    wait::register_pools_for_fork();
    completion_queue::register_pools_for_fork();
    executor::register_pools_for_fork();
}
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

/// Writes `defaults` into a caller's options struct of `size` bytes, the
/// `sizeof` of the caller's header (ABI growth, docs/api.md "Options"):
/// the first `min(size, ours)` bytes get the defaults, bytes past ours (a
/// newer header) are zeroed, and `struct_size` is `size`, so that
/// `read_versioned` later reads exactly what the caller has. A size below
/// `v1_size` or a NULL `opts` is `FUT_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts` is NULL or points to at least `size` writable bytes.
pub(crate) unsafe fn init_versioned<T: Copy>(
    opts: *mut T,
    defaults: T,
    size: usize,
    v1_size: usize,
) -> Result<(), Status> {
    let opts = non_null(opts)? as *mut u8;
    if size < v1_size {
        return Err(Status::InvalidArgument);
    }
    let ours = std::mem::size_of::<T>();
    // SAFETY: the caller's struct has `size` writable bytes and `defaults`
    // has `ours`: `min(size, ours)` bytes are in bounds on both sides; the
    // tail past `ours`, if any, is inside the caller's `size`.
    unsafe {
        std::ptr::copy_nonoverlapping(&defaults as *const T as *const u8, opts, size.min(ours));
        if size > ours {
            std::ptr::write_bytes(opts.add(ours), 0, size - ours);
        }
        // `struct_size` is the first field, a usize, in every version.
        std::ptr::write_unaligned(opts as *mut usize, size);
    }
    Ok(())
}

/// Reads a caller's options struct that starts with `size_t struct_size`
/// (ABI growth, docs/api.md "Options"): a struct of at least `v1_size` bytes is
/// accepted, fields past its `struct_size` keep `defaults` (an older
/// header), and bytes past ours must be zero (a newer header asking for
/// something this library does not know). NULL means `defaults`.
///
/// # Safety
/// `opts` is NULL or points to at least `struct_size` readable bytes.
pub(crate) unsafe fn read_versioned<T: Copy>(
    opts: *const T,
    defaults: T,
    v1_size: usize,
) -> Result<T, Status> {
    let ours = std::mem::size_of::<T>();
    let mut out = defaults;
    if opts.is_null() {
        return Ok(out);
    }
    // SAFETY: every version of the struct starts with `size_t struct_size`.
    let size = unsafe { std::ptr::read_unaligned(opts as *const usize) };
    if size < v1_size {
        return Err(Status::InvalidArgument);
    }
    if size > ours {
        // SAFETY: the caller's struct has `size` readable bytes.
        let extra =
            unsafe { std::slice::from_raw_parts((opts as *const u8).add(ours), size - ours) };
        if extra.iter().any(|&b| b != 0) {
            return Err(Status::InvalidArgument);
        }
    }
    // SAFETY: `min(size, ours)` bytes are readable at `opts` and fit in `out`;
    // the options are plain data (integers, pointers, Option<fn>) for which
    // any bit pattern is a valid value; field values are checked by callers.
    unsafe {
        std::ptr::copy_nonoverlapping(
            opts as *const u8,
            &mut out as *mut T as *mut u8,
            size.min(ours),
        )
    };
    // SAFETY: `struct_size` is the first field, a usize, in every version.
    unsafe { std::ptr::write_unaligned(&mut out as *mut T as *mut usize, ours) };
    Ok(out)
}
