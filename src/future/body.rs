//! What a future keeps under its lock: listeners until done, then the outcome.

use super::{Callback, Future, RawCallback, Value};
use crate::status::ErrorRecord;
use crate::waiter::Waiter;
use std::sync::Arc;

pub(crate) enum Listener {
    Callback(Callback),
    Raw(RawCallback),
    Waiter(Arc<Waiter>, usize),
}

/// What a future keeps under its lock: its listeners until it is done, then
/// its outcome. A done future takes no listener, so the two share the same
/// bytes, and a future with its slot header fits one cache line (see
/// `handle::Slot`). Most futures have no listener or one (a waiter or a
/// callback), which is kept inline instead of in a vector.
#[derive(Default)]
pub(super) enum Body {
    #[default]
    NoListener,
    One(Listener),
    Many(Vec<Listener>),
    Value(Value),
    Error(Box<ErrorRecord>),
    /// Cancelled: no outcome.
    Cancelled,
}

impl Body {
    /// Adds a listener to a future that is not done (the caller checked).
    pub(super) fn push(&mut self, l: Listener) {
        // Waiters of waits that returned are dropped here at the latest, so
        // that a future waited on again and again does not collect them.
        self.retain(|l| !matches!(l, Listener::Waiter(w, _) if w.is_retired()));
        *self = match std::mem::take(self) {
            Body::One(first) => Body::Many(vec![first, l]),
            Body::Many(mut v) => {
                v.push(l);
                Body::Many(v)
            }
            _ => Body::One(l),
        };
    }

    pub(super) fn listeners(&self) -> &[Listener] {
        match self {
            Body::One(l) => std::slice::from_ref(l),
            Body::Many(v) => v,
            _ => &[],
        }
    }

    pub(super) fn retain(&mut self, keep: impl Fn(&Listener) -> bool) {
        match self {
            Body::One(l) if !keep(l) => *self = Body::NoListener,
            Body::Many(v) => v.retain(keep),
            _ => {}
        }
    }

    /// Runs every callback, in registration order, dropping the waiters.
    pub(super) fn run_callbacks(self, f: &Future) {
        let run = |l: Listener| match l {
            Listener::Callback(cb) => f.run_callback(cb),
            Listener::Raw(cb) => f.run_raw_callback(cb),
            Listener::Waiter(..) => {}
        };
        match self {
            Body::One(l) => run(l),
            Body::Many(v) => v.into_iter().for_each(run),
            _ => {}
        }
    }

    pub(super) fn has_callbacks(&self) -> bool {
        self.listeners()
            .iter()
            .any(|l| matches!(l, Listener::Callback(_) | Listener::Raw(_)))
    }
}
