//! The state byte (F1, F3), which is also the future's lock, and who may
//! change it how.
//!
//! Besides the state, the byte holds three flags:
//! - `LOCKED`: the future's lock. Whoever sets it (one compare-and-swap)
//!   owns the body and is the only thread that changes the byte until it
//!   stores the byte without the flag: a release is a plain store, not a
//!   locked instruction. The lock is held for a few stores at a time (no
//!   user code runs under it), so a thread that finds it taken spins, then
//!   yields; it never sleeps.
//! - `HEARD`: or-ed into a live state by whoever takes the lock while the
//!   future is live (to add a listener, to block as a reader, to cancel,
//!   ...), in the same step. A future without it has no listener and no
//!   blocked reader, so its executor can complete it without the lock by
//!   claiming the body (RUNNING→COMPLETING), storing the outcome and
//!   storing the done state, with nothing to notify. Lock takers wait such
//!   a completion out before they touch the body; lock-free readers read
//!   the body only once the state says done.
//! - `READERS`: a reader is about to block on the future's condition
//!   variable (set under the lock); the unlock that leaves the future done
//!   wakes the blocked readers.
//!
//! Done states carry no flag once unlocked. Without the lock only two
//! moves are made, each by compare-and-swap, and only while the lock is
//! free (a taken lock is waited out, so that the holder's plain stores
//! lose nothing): PENDING→RUNNING and CANCELLED→CANCELLED_NOTIFIED (an
//! executor starting a task), and RUNNING→COMPLETING (`complete_unheard`).
//!
//! The byte replaced a mutex beside it (taken with a compare-and-swap,
//! released with an exchange) plus a compare-and-swap for `HEARD`: adding
//! a done-callback went from three locked instructions to one, and the
//! completion of a future with one from two to one. In an interleaved A/B
//! on 2 CPUs (15 rounds) B-W5 with 2 workers went from 235 to 226 ns of
//! CPU per task; `add_callback_listener` from 7.9 % to 4.6 % of the
//! samples with 16.

use super::{Body, Future, Outcome};
use crate::sync::atomic::Ordering;
use std::ops::{Deref, DerefMut};

pub(super) const SNAP_PENDING: u8 = 0;
pub(super) const SNAP_RUNNING: u8 = 1;
pub(super) const SNAP_CANCELLED: u8 = 2;
pub(super) const SNAP_CANCELLED_NOTIFIED: u8 = 3;
pub(super) const SNAP_FINISHED: u8 = 4;
pub(super) const SNAP_FAILED: u8 = 5;
/// Between RUNNING and FINISHED or FAILED in `complete_unheard`; read as
/// RUNNING.
pub(super) const SNAP_COMPLETING: u8 = 6;
/// The bits of the byte that hold the state.
const STATE: u8 = 0x0f;
/// A reader is about to block or blocks (see the module comment).
const READERS: u8 = 0x20;
/// The future's lock is taken.
const LOCKED: u8 = 0x40;
/// Or-ed into PENDING or RUNNING once the lock was taken while live.
const HEARD: u8 = 0x80;

pub(super) fn is_live(state: u8) -> bool {
    state == SNAP_PENDING || state == SNAP_RUNNING
}

/// Tries of a thread waiting for the lock, or for a lock-free completion
/// (a few stores by a running thread), before it yields.
const SPINS_BEFORE_YIELD: u32 = 64;

/// The future's lock, held: the body, and the state to change by plain
/// stores. Dropping it unlocks, and wakes the blocked readers of a future
/// it leaves done.
pub(super) struct BodyGuard<'a> {
    future: &'a Future,
}

impl BodyGuard<'_> {
    fn byte(&self) -> u8 {
        // Only the holder writes the byte now: its own last store.
        self.future.core().state.load(Ordering::Relaxed)
    }

    /// The state (without the flags).
    pub(super) fn state(&self) -> u8 {
        self.byte() & STATE
    }

    /// Moves to `to`: a live state keeps `HEARD` and `READERS`, and so
    /// does a done one until the unlock (which wakes the readers then).
    /// Readers without the lock see the new state at once.
    pub(super) fn set_state(&mut self, to: u8) {
        let flags = self.byte() & !STATE;
        self.future
            .core()
            .state
            .store(to | flags, Ordering::Release);
    }

    /// Marks a reader about to block (see `READERS`).
    pub(super) fn add_reader(&mut self) {
        let byte = self.byte();
        self.future
            .core()
            .state
            .store(byte | READERS, Ordering::Relaxed);
    }
}

impl Deref for BodyGuard<'_> {
    type Target = Body;
    fn deref(&self) -> &Body {
        // SAFETY: the guard holds the lock: no other thread reaches the
        // body (lock-free readers read it only in a done state, whose body
        // is never written again).
        unsafe { &*self.future.core().body.get() }
    }
}

impl DerefMut for BodyGuard<'_> {
    fn deref_mut(&mut self) -> &mut Body {
        // SAFETY: the lock, as for `deref`, and `&mut self` makes this the
        // only reference made through the guard. A done body is not
        // written (the callers move to done only after replacing it).
        unsafe { &mut *self.future.core().body.get() }
    }
}

impl Drop for BodyGuard<'_> {
    fn drop(&mut self) {
        let byte = self.byte();
        let state = byte & STATE;
        let unlocked = if is_live(state) {
            byte & !LOCKED
        } else {
            state
        };
        self.future.core().state.store(unlocked, Ordering::Release);
        if !is_live(state) && byte & READERS != 0 {
            self.future.wake_readers();
        }
    }
}

impl Future {
    /// The state (without the flags).
    pub(super) fn snapshot(&self) -> u8 {
        self.core().state.load(Ordering::Acquire) & STATE
    }

    /// Moves the state from `from` to `to` without the lock, keeping
    /// `HEARD` when `to` is live; Err(the state) when it is not `from`. A
    /// taken lock is waited out (its holder's stores must not be lost).
    pub(super) fn swap_state(&self, from: u8, to: u8) -> Result<(), u8> {
        let state = &self.core().state;
        let mut now = state.load(Ordering::Acquire);
        let mut spins = 0;
        loop {
            if now & LOCKED != 0 {
                crate::sync::spin_then_yield(&mut spins, SPINS_BEFORE_YIELD);
                now = state.load(Ordering::Acquire);
                continue;
            }
            if now & STATE != from {
                return Err(now & STATE);
            }
            let new = if is_live(to) {
                to | (now & (HEARD | READERS))
            } else {
                to
            };
            match state.compare_exchange_weak(now, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(found) => now = found,
            }
        }
    }

    /// Takes the future's lock, setting `HEARD` if the future is live; it
    /// waits out a lock-free completion under way: from then on the body
    /// is the lock's.
    pub(super) fn lock_body(&self) -> BodyGuard<'_> {
        let state = &self.core().state;
        let mut now = state.load(Ordering::Relaxed);
        let mut spins = 0;
        loop {
            if now & LOCKED != 0 || now == SNAP_COMPLETING {
                crate::sync::spin_then_yield(&mut spins, SPINS_BEFORE_YIELD);
                now = state.load(Ordering::Relaxed);
                continue;
            }
            let heard = if is_live(now & STATE) { HEARD } else { 0 };
            match state.compare_exchange_weak(
                now,
                now | LOCKED | heard,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return BodyGuard { future: self },
                Err(found) => now = found,
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
        // taker waits until the state is done before touching it
        // (`lock_body`), and lock-free readers read it only once done.
        let unheard = unsafe { std::mem::replace(&mut *self.core().body.get(), body) };
        state.store(to, Ordering::Release);
        // No listener (it would have set HEARD): nothing to run or notify.
        debug_assert!(unheard.listeners().is_empty());
        Ok(())
    }
}
