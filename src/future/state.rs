//! The state byte (F1, F3) and who may change it how.
//!
//! Done states are written under the future's lock, with two exceptions
//! that need none: PENDING→RUNNING and CANCELLED→CANCELLED_NOTIFIED (an
//! executor starting a task), and the completion of a future nobody has
//! heard of (`complete_unheard`). "Heard of" is `HEARD`, or-ed into a live
//! state by whoever takes the lock while the future is live (to add a
//! listener, to block as a reader, to cancel, ...): a future without it
//! has no listener and no blocked reader, so its executor can complete it
//! by claiming the body (RUNNING→COMPLETING), storing the outcome and
//! storing the done state: one locked instruction instead of three, and
//! nothing to notify. Lock holders wait such a completion out before they
//! touch the body (`lock_body`); lock-free readers read the body only once
//! the state says done.

use super::{Body, Future, Outcome};
use crate::sync::atomic::Ordering;
use crate::sync::MutexGuard;

pub(super) const SNAP_PENDING: u8 = 0;
pub(super) const SNAP_RUNNING: u8 = 1;
pub(super) const SNAP_CANCELLED: u8 = 2;
pub(super) const SNAP_CANCELLED_NOTIFIED: u8 = 3;
pub(super) const SNAP_FINISHED: u8 = 4;
pub(super) const SNAP_FAILED: u8 = 5;
/// Between RUNNING and FINISHED or FAILED in `complete_unheard`; read as
/// RUNNING.
pub(super) const SNAP_COMPLETING: u8 = 6;
/// Or-ed into PENDING or RUNNING once the lock was taken while live; done
/// states never carry it.
const HEARD: u8 = 0x80;

fn is_live(state: u8) -> bool {
    state == SNAP_PENDING || state == SNAP_RUNNING
}

/// Tries of a lock holder waiting out a lock-free completion (a few stores
/// by a running thread) before it yields.
const SPINS_BEFORE_YIELD: u32 = 64;

impl Future {
    /// The state (without `HEARD`).
    pub(super) fn snapshot(&self) -> u8 {
        self.core().state.load(Ordering::Acquire) & !HEARD
    }

    /// Moves the state from `from` to `to`, keeping `HEARD` when `to` is
    /// live; Err(the state) when it is not `from`.
    pub(super) fn swap_state(&self, from: u8, to: u8) -> Result<(), u8> {
        let state = &self.core().state;
        let mut now = state.load(Ordering::Acquire);
        loop {
            if now & !HEARD != from {
                return Err(now & !HEARD);
            }
            let new = if is_live(to) { to | (now & HEARD) } else { to };
            match state.compare_exchange_weak(now, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(found) => now = found,
            }
        }
    }

    /// Moves a future that is PENDING or RUNNING to `to` and answers true;
    /// false when it was done already. The caller holds the future's lock
    /// (`lock_body`), so only a concurrent PENDING→RUNNING can interfere:
    /// it is retried.
    pub(super) fn leave_live_state_locked(&self, _locked: &Body, to: u8) -> bool {
        loop {
            let from = self.snapshot();
            if !is_live(from) {
                return false;
            }
            if self.swap_state(from, to).is_ok() {
                return true;
            }
        }
    }

    /// The future's lock, with `HEARD` set if the future is live and any
    /// lock-free completion finished: from then on the body is the lock's.
    pub(super) fn lock_body(&self) -> MutexGuard<'_, Body> {
        let inner = self.core().body.lock();
        let state = &self.core().state;
        let mut now = state.load(Ordering::Acquire);
        let mut spins = 0;
        loop {
            match now {
                SNAP_PENDING | SNAP_RUNNING => {
                    match state.compare_exchange_weak(
                        now,
                        now | HEARD,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return inner,
                        Err(found) => now = found,
                    }
                }
                SNAP_COMPLETING => {
                    crate::sync::spin_then_yield(&mut spins, SPINS_BEFORE_YIELD);
                    now = state.load(Ordering::Acquire);
                }
                _ => return inner,
            }
        }
    }

    /// Completes a RUNNING future that nobody has heard of, without its
    /// lock (see the module comment); gives the outcome back otherwise.
    pub(super) fn complete_unheard(&self, outcome: Outcome) -> Result<(), Outcome> {
        let state = &self.core().state;
        // A future someone heard of (a callback, as_completed) would fail
        // the claim: a load spares that failed compare-and-swap, a locked
        // instruction all the same.
        if state.load(Ordering::Relaxed) != SNAP_RUNNING {
            return Err(outcome);
        }
        let claimed = state.compare_exchange(
            SNAP_RUNNING,
            SNAP_COMPLETING,
            Ordering::Acquire,
            Ordering::Relaxed,
        );
        if claimed.is_err() {
            return Err(outcome);
        }
        let (to, body) = match outcome {
            Outcome::Value(v) => (SNAP_FINISHED, Body::Value(v)),
            Outcome::Error(e) => (SNAP_FAILED, Body::Error(e)),
        };
        // SAFETY: COMPLETING makes this thread the body's only user: a lock
        // holder waits until the state is done before touching it
        // (`lock_body`), and lock-free readers read it only once done.
        let unheard = unsafe { std::mem::replace(&mut *self.core().body.data_ptr(), body) };
        state.store(to, Ordering::Release);
        // No listener (it would have set HEARD): nothing to run or notify.
        debug_assert!(unheard.listeners().is_empty());
        Ok(())
    }
}
