//! libfutures: Python's `concurrent.futures` for C.
//!
//! The Rust core (`future`, `waiter`) is a safe API of its own; `ffi` is the
//! thin C skin over it that cbindgen turns into `include/futures.h`.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod completion_queue;
pub mod executor;
pub mod ffi;
mod fork;
pub mod future;
mod handle;
pub mod log;
pub mod process_pool;
pub mod status;
pub mod thread_pool;
pub mod waiter;

pub use executor::{
    Arg, Executor, Item, Map, MapEnd, Refused, Task, TaskContext, TaskFn, TaskOutcome,
};
pub use future::{Callback, DropFn, Future, State, Value};
pub use status::{ErrorRecord, Status};
pub use waiter::{wait, AsCompleted, AsCompletedEnd, ReturnWhen, WaitOutcome};

use std::time::{Duration, Instant};

/// The deadline of a C timeout: negative waits forever (None), 0 polls.
pub fn deadline_after_ns(timeout_ns: i64) -> Option<Instant> {
    if timeout_ns < 0 {
        return None;
    }
    Instant::now().checked_add(Duration::from_nanos(timeout_ns as u64))
}
