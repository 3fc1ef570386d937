//! The manager's panic boundary. A panic in the manager thread (a bug of
//! ours) must not leave `shutdown` and every pending future waiting
//! forever: the pool breaks with "internal error in the pool manager: …",
//! every outstanding future fails with `BrokenPool`, every process of the
//! pool is killed and reaped, and the thread ends, which lets shutdown
//! return (B2).

use super::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

impl Manager {
    /// Runs the loop under the panic boundary.
    pub(super) fn run_guarded(&mut self) {
        let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.main_loop())) else {
            return;
        };
        let cause = format!(
            "internal error in the pool manager: {}",
            panic_message(&*panic)
        );
        if catch_unwind(AssertUnwindSafe(|| self.teardown_after_fault(&cause))).is_err() {
            self.last_resort(&cause);
        }
    }

    /// Test builds: panics once when a test asked for it (see
    /// `Shared::inject_fault`). Release builds have no such point.
    #[cfg(test)]
    pub(super) fn fault_point(&self) {
        if self.shared.inject_fault.swap(false, Ordering::SeqCst) {
            panic!("injected fault");
        }
    }

    #[cfg(not(test))]
    pub(super) fn fault_point(&self) {}

    /// The test-only hook of R7: a pool created while
    /// `FUT_TEST_MANAGER_PANIC=1` is set panics here once, right after its
    /// first dispatch, so that a C test sees B10 with a call out. Honoured in
    /// every build (the fault matrix runs against the library CI ships);
    /// harmless: it can only break the pool created under it.
    pub(super) fn injected_panic_point(&mut self) {
        if self.cfg.inject_panic && self.outstanding_calls() > 0 {
            self.cfg.inject_panic = false;
            panic!("injected fault (FUT_TEST_MANAGER_PANIC)");
        }
    }

    /// Breaks the pool and takes every process down.
    fn teardown_after_fault(&mut self, cause: &str) {
        // Results read but not completed when the panic struck.
        let rec = || ErrorRecord::new(Status::BrokenPool, 0, BROKEN_MESSAGE).with_detail(cause);
        for (future, _) in self.completions.drain(..) {
            let _ = future.set_exception(rec());
        }
        self.break_pool(cause.to_string());
        // If the pool was broken before the fault, break_pool did nothing:
        // fail what may have been left anyway (done futures refuse).
        let queued = self.shared.mark_broken(cause);
        self.fail_pending(queued, cause);
        for i in 0..self.workers.len() {
            self.fail_assigned(i, Status::BrokenPool, BROKEN_MESSAGE, cause);
        }
        self.kill_all();
        self.reap_all_blocking();
        self.close_server();
    }

    /// The teardown panicked too: refuse new work, fail the queue, and kill
    /// and reap the processes we know by pid.
    fn last_resort(&mut self, cause: &str) {
        for call in self.shared.mark_broken(cause) {
            for w in call.items {
                self.item_taken();
                self.item_dropped(w.id, true, call.queued_at);
                let rec = ErrorRecord::new(Status::BrokenPool, 0, BROKEN_MESSAGE);
                let _ = w.future.set_exception(rec.with_detail(cause));
            }
        }
        for w in &self.workers {
            if w.dead.is_none() && matches!(w.origin, Origin::Direct { .. }) {
                // SAFETY: our own child, not reaped yet: the pid is ours.
                unsafe { libc::kill(w.pid, libc::SIGKILL) };
                sys::reap_blocking(w.pid);
            }
        }
        if let Some(s) = self.server.take() {
            // SAFETY: our own child, not reaped yet: the pid is ours.
            unsafe { libc::kill(s.pid, libc::SIGKILL) };
            sys::reap_blocking(s.pid);
        }
    }
}

/// R7: whether the pool being created gets the injected panic (read once
/// per pool, on the creating thread).
pub(crate) fn manager_panic_requested() -> bool {
    std::env::var_os("FUT_TEST_MANAGER_PANIC").is_some_and(|v| v == "1")
}

/// The text of a panic's payload.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}
