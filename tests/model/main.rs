//! Model checks of the core's concurrency (docs/verification.md), run with
//! `cargo test --release --features shuttle --test model`.
//!
//! With the feature `shuttle`, the library's mutexes, condition variables,
//! atomics, thread spawns, parking and thread-locals (src/sync.rs) are
//! shuttle's: each model below runs many times, each time under another
//! interleaving of those operations chosen by a PCT scheduler (which finds
//! bugs of small depth with a known probability) and a random one. A panic,
//! a failed assertion or a deadlock (every thread blocked: a lost wake-up)
//! in any interleaving fails the test and prints the schedule to replay.
//!
//! `FUT_MODEL_SCALE=N` multiplies the iterations (CI runs 1).
#![cfg(feature = "shuttle")]

mod future;
mod thread_pool;
mod waiter;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Runs `f` under `iterations` PCT schedules (depth 3: bugs needing up to
/// two forced preemptions) and as many random ones, times FUT_MODEL_SCALE.
pub fn check(iterations: usize, f: impl Fn() + Send + Sync + 'static) {
    let scale: usize = std::env::var("FUT_MODEL_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let f = Arc::new(f);
    let g = Arc::clone(&f);
    shuttle::check_pct(move || g(), iterations * scale, 3);
    shuttle::check_random(move || f(), iterations * scale);
}

/// Counts calls, to check that something happens exactly once.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}
