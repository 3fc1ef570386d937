//! `fut_thread_pool_*`: creating a thread pool (T1–T12).

use super::executor::executor_to_c;
use super::flow::{fut_task_event_fn, observer_from_c};
use super::types::*;
use super::{guard, non_null};
use crate::status::Status;
use crate::thread_pool::{Initializer, ThreadPool, ThreadPoolOptions};
use std::ffi::{c_char, c_void, CStr};
use std::mem::size_of;
use std::sync::Arc;

/// Options of `fut_thread_pool_new`. Fill with
/// `fut_thread_pool_options_init`, then change fields.
#[repr(C)]
#[derive(Copy, Clone)]
pub struct fut_thread_pool_options {
    /// `sizeof(fut_thread_pool_options)` of the caller's header, set by
    /// `fut_thread_pool_options_init`. Only that many bytes are read; fields
    /// past it take their defaults (ABI growth).
    pub struct_size: usize,
    /// Most threads the pool starts; 0 (default): `min(32, usable CPUs + 4)`,
    /// usable CPUs from the affinity mask and the cgroup CPU quota. Above
    /// `FUT_THREAD_POOL_MAX_WORKERS`: `FUT_ERR_INVALID_ARGUMENT`.
    pub max_workers: usize,
    /// UTF-8 prefix of the threads' names `<prefix>_<n>` (n from 0), copied;
    /// cut so that the name fits 15 bytes keeping `_<n>`. NULL or "":
    /// `futpool-<k>`, k counting pools in the process.
    pub thread_name_prefix: *const c_char,
    /// Runs once at the start of each worker thread, before it takes work; a
    /// non-zero return is logged and breaks the pool: queued and later work
    /// fails with `FUT_ERR_BROKEN_POOL`. NULL: none.
    pub initializer: fut_init_fn,
    /// The initializer's argument: `initializer_arg_len` bytes copied at
    /// `fut_thread_pool_new`; with length 0 the pointer itself is passed
    /// (the caller keeps what it points to alive while the pool runs).
    pub initializer_arg: *const c_void,
    /// Length of `initializer_arg` in bytes.
    pub initializer_arg_len: usize,
    // ---- version 2 (flow control) ----
    /// Most tasks submitted from outside the pool that may wait in its queue
    /// (accepted, not started yet); 0 (default): unbounded. When the queue
    /// is full, `fut_executor_submit` waits for room and
    /// `fut_executor_submit_timeout` waits up to its deadline. A submit from
    /// one of the pool's own threads (a task, a done-callback there) never
    /// waits: it is admitted past the bound and not counted.
    pub max_queued: usize,
    /// Called when a task starts and when it finishes (see
    /// `fut_task_event`), on the worker thread that runs the task, with no
    /// pool lock held; "finished" comes before the future is completed.
    /// NULL (default): none.
    pub on_task_event: fut_task_event_fn,
    /// Passed to `on_task_event` as `user`.
    pub on_task_event_data: *mut c_void,
}

/// The largest `max_workers` a thread pool accepts.
pub const FUT_THREAD_POOL_MAX_WORKERS: usize = 1024;

/// Size of the first version of `fut_thread_pool_options` (LP64), pinned:
/// callers compiled against that header pass it, whatever fields later
/// versions add.
const OPTIONS_V1_SIZE: usize = 48;
// The v1 fields end exactly there (a new field goes after them).
const _: () = assert!(
    std::mem::offset_of!(fut_thread_pool_options, initializer_arg_len) + size_of::<usize>()
        == OPTIONS_V1_SIZE
);
/// Size of the second version (flow control: `max_queued`, `on_task_event`,
/// `on_task_event_data`), pinned the same way.
const OPTIONS_V2_SIZE: usize = 72;
const _: () = assert!(size_of::<fut_thread_pool_options>() == OPTIONS_V2_SIZE);

fn default_options() -> fut_thread_pool_options {
    fut_thread_pool_options {
        struct_size: size_of::<fut_thread_pool_options>(),
        max_workers: 0,
        thread_name_prefix: std::ptr::null(),
        initializer: None,
        initializer_arg: std::ptr::null(),
        initializer_arg_len: 0,
        max_queued: 0,
        on_task_event: None,
        on_task_event_data: std::ptr::null_mut(),
    }
}

/// Sets every field of `*opts` to its default and `opts->struct_size` to
/// `size`, which must be `sizeof(*opts)` of the caller's header: only
/// `size` bytes are written (a struct from an older header is not
/// overrun, one from a newer header gets its unknown fields zeroed).
/// Through this header, `fut_thread_pool_options_init(opts)` is a macro that
/// calls this with `sizeof *(opts)`. NULL `opts`, or a `size` below the
/// first version's (48 bytes), is `FUT_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts` is NULL or points to `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn fut_thread_pool_options_init_sized(
    opts: *mut fut_thread_pool_options,
    size: usize,
) -> fut_status {
    // SAFETY: forwarded from the caller.
    guard(|| unsafe { super::init_versioned(opts, default_options(), size, OPTIONS_V1_SIZE) })
}

/// The first version's initializer, kept for programs built against a
/// header of libfutures 0.1: writes the first 48 bytes (that version's
/// fields) and sets `struct_size` to 48. Programs built with this header
/// reach `fut_thread_pool_options_init_sized` through the macro of the same
/// name instead. NULL is `FUT_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts` is NULL or points to 48 writable bytes.
#[no_mangle]
pub unsafe extern "C" fn fut_thread_pool_options_init(
    opts: *mut fut_thread_pool_options,
) -> fut_status {
    // SAFETY: forwarded from the caller.
    guard(|| unsafe {
        super::init_versioned(opts, default_options(), OPTIONS_V1_SIZE, OPTIONS_V1_SIZE)
    })
}

/// Reads the caller's struct (see `read_versioned`).
///
/// # Safety
/// `opts` is NULL or points to at least `struct_size` readable bytes.
unsafe fn read_options(
    opts: *const fut_thread_pool_options,
) -> Result<fut_thread_pool_options, Status> {
    // SAFETY: forwarded from the caller.
    unsafe { super::read_versioned(opts, default_options(), OPTIONS_V1_SIZE) }
}

/// Creates a thread pool (Python's ThreadPoolExecutor) with no thread yet:
/// threads start on demand at submit, reusing idle ones, up to
/// `max_workers`. `opts` may be NULL (all defaults); its `struct_size` must be
/// at least the first version's size, and may be larger only if the bytes
/// this library does not know are zero, else `FUT_ERR_INVALID_ARGUMENT`.
/// `*out` receives one reference; the last `fut_executor_release` shuts the
/// pool down and joins its threads. In a child process forked after this
/// call the pool has no threads: submit answers `FUT_ERR_SHUTDOWN`.
///
/// Order: with `max_workers` 1, tasks start in submission order. With more,
/// tasks submitted from outside the pool leave its queue in submission order
/// (per submitting thread), but may start in another: a worker takes a few
/// at a time and idle workers take from each other. A task submitted from
/// one of the pool's own threads (a task or a done-callback running there)
/// is queued on that thread, runs before outside work there, and may be
/// taken by an idle worker. No order is promised between submitting threads,
/// nor for completion.
#[no_mangle]
pub unsafe extern "C" fn fut_thread_pool_new(
    opts: *const fut_thread_pool_options,
    out: *mut *mut fut_executor,
) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        // SAFETY: per this function's contract.
        let o = unsafe { read_options(opts) }?;
        let thread_name_prefix = if o.thread_name_prefix.is_null() {
            None
        } else {
            // SAFETY: a non-NULL prefix is a NUL-terminated string by contract.
            let s = unsafe { CStr::from_ptr(o.thread_name_prefix) };
            Some(s.to_str().map_err(|_| Status::InvalidArgument)?.to_string())
        };
        let initializer = match o.initializer {
            None => None,
            Some(f) => {
                if o.initializer_arg.is_null() && o.initializer_arg_len != 0 {
                    return Err(Status::InvalidArgument);
                }
                // SAFETY: the caller passes `initializer_arg_len` readable bytes.
                Some(unsafe { Initializer::new(f, o.initializer_arg, o.initializer_arg_len) }?)
            }
        };
        let pool = ThreadPool::new(ThreadPoolOptions {
            max_workers: o.max_workers,
            thread_name_prefix,
            initializer,
            flow: crate::flow::FlowOptions {
                max_queued: o.max_queued,
                // SAFETY: the caller's callback and data, per the field's contract.
                observer: unsafe { observer_from_c(o.on_task_event, o.on_task_event_data) },
            },
        })?;
        // SAFETY: `out` is non-NULL and the caller provides room for it.
        unsafe { *out = executor_to_c(Arc::new(pool)) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_abi() {
        let mut o = default_options();
        o.max_workers = 7;
        // SAFETY: a valid struct of that size.
        let st = unsafe { fut_thread_pool_options_init_sized(&mut o, size_of_val(&o)) };
        assert_eq!(st, FUT_OK);
        assert_eq!(o.struct_size, size_of::<fut_thread_pool_options>());
        assert_eq!(o.max_workers, 0);
        assert_eq!(size_of::<fut_thread_pool_options>(), 9 * size_of::<usize>());
        // The unsized (first-version) init writes the first version only.
        o.max_queued = 5;
        // SAFETY: a valid struct, larger than the first version.
        assert_eq!(unsafe { fut_thread_pool_options_init(&mut o) }, FUT_OK);
        assert_eq!((o.struct_size, o.max_queued), (OPTIONS_V1_SIZE, 5));
        // SAFETY: as above; a size below the first version is refused.
        let st = unsafe { fut_thread_pool_options_init_sized(&mut o, OPTIONS_V1_SIZE - 8) };
        assert_eq!(st, FUT_ERR_INVALID_ARGUMENT);
        o.struct_size = 8;
        // SAFETY: a valid struct.
        assert!(unsafe { read_options(&o) }.is_err());
        // A larger struct with zero tail is accepted, non-zero tail refused.
        #[repr(C)]
        struct Bigger {
            base: fut_thread_pool_options,
            extra: usize,
        }
        let mut b = Bigger {
            base: default_options(),
            extra: 0,
        };
        b.base.struct_size = size_of::<Bigger>();
        b.base.max_workers = 3;
        let p = &b as *const Bigger as *const fut_thread_pool_options;
        // SAFETY: `p` has struct_size readable bytes.
        let r = unsafe { read_options(p) }.ok().unwrap();
        assert_eq!(r.max_workers, 3);
        b.extra = 1;
        let p = &b as *const Bigger as *const fut_thread_pool_options;
        // SAFETY: as above.
        assert!(unsafe { read_options(p) }.is_err());
        assert_eq!(
            FUT_THREAD_POOL_MAX_WORKERS,
            crate::thread_pool::MAX_WORKERS_LIMIT
        );
    }
}
