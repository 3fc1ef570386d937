//! libfutures: Python's `concurrent.futures` for C.
//!
//! The Rust core (`future`, `waiter`) is a safe API of its own; `ffi` is the
//! thin C skin over it that cbindgen turns into `include/futures.h`.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod completion_queue;
pub mod cpus;
pub mod executor;
pub mod ffi;
pub mod flow;
mod fork;
pub mod future;
mod handle;
pub mod log;
pub mod map;
pub mod process_pool;
pub mod status;
pub(crate) mod sync;
pub mod task_registry;
pub mod thread_pool;
pub mod waiter;

pub use executor::{
    with_current_task, Arg, Executor, InProcess, Item, Map, MapEnd, Refused, SubmitClosure, Task,
    TaskClosure, TaskContext, TaskFn, TaskOutcome,
};
pub use future::{Callback, DropFn, Future, State, Value};
pub use status::{ErrorRecord, Status};
pub use waiter::{wait, AsCompleted, AsCompletedEnd, ReturnWhen, WaitOutcome};

use std::time::{Duration, Instant};

// SAFETY: a thread pool runs every task on its own threads, in this process,
// through `executor::run_task`, and drops each argument once.
unsafe impl executor::InProcess for thread_pool::ThreadPool {}

/// Spins (without sleeping) until `ready()` or `budget` passes, or the
/// deadline if sooner; true when ready. Threads about to park spin first:
/// a hand-off that completes within a few microseconds then costs no kernel
/// wake-up on either side, and the bound keeps an idle pool at zero CPU.
pub(crate) fn spin_until(
    budget: Duration,
    deadline: Option<Instant>,
    ready: impl FnMut() -> bool,
) -> bool {
    spin_until_polling(budget, deadline, 1, ready)
}

/// `spin_until`, looking at `ready()` only every `pauses` spin-loop hints:
/// a thread polling memory that another thread keeps writing takes that
/// cache line away from the writer at each look, which slows the writer
/// down more than the poller gains.
pub(crate) fn spin_until_polling(
    budget: Duration,
    deadline: Option<Instant>,
    pauses: u32,
    mut ready: impl FnMut() -> bool,
) -> bool {
    if cfg!(feature = "shuttle") {
        // The model checker does not model time: one look, no spin.
        return ready();
    }
    let start = Instant::now();
    let end = match deadline {
        Some(d) => d.min(start + budget),
        None => start + budget,
    };
    // About 64 spin-loop hints between looks at the clock.
    let looks = (64 / pauses.max(1)).max(1);
    loop {
        for _ in 0..looks {
            if ready() {
                return true;
            }
            for _ in 0..pauses {
                std::hint::spin_loop();
            }
        }
        if Instant::now() >= end {
            return ready();
        }
        // Lets a thread woken onto this CPU (often the very one we wait
        // for) run instead of waiting for our spin to end.
        std::thread::yield_now();
    }
}

/// The deadline of a C timeout: negative waits forever (None), 0 polls.
pub fn deadline_after_ns(timeout_ns: i64) -> Option<Instant> {
    if timeout_ns < 0 {
        return None;
    }
    Instant::now().checked_add(Duration::from_nanos(timeout_ns as u64))
}
