//! The Future: a state machine holding one outcome, its waiters and callbacks.
//!
//! Lock order: a future's lock, then a waiter's lock; never the reverse. Waiters
//! are notified under the future's lock, and blocked readers woken as it is
//! released; callbacks run after that, on a reference the completer owns, so
//! that a callback may call anything, including releasing the last reference
//! the host held.
//!
//! The state is one atomic byte, which is also the lock (`state.rs`). Every
//! transition to a done state happens with the lock held, so that the
//! outcome, the listeners and the done state change together for anyone
//! holding the lock, but one: an executor completes a future nobody has
//! heard of (no listener, no blocked reader) without it, and lock takers
//! wait that out. PENDING→RUNNING (and CANCELLED→CANCELLED_AND_NOTIFIED,
//! which touches nothing else) are a bare compare-and-swap, so an executor
//! starting a task takes no lock; they wait for a taken lock to be released,
//! so a holder changes the state by plain stores.
//! A finished future's outcome is stored before the state says FINISHED or
//! FAILED and never written again, so a reader who sees either state reads
//! it without the lock.

mod body;
mod state;
mod value;

pub use value::{DropFn, Value};

use body::{Body, Listener};
use state::*;

use crate::handle::{Pool, Shared, Slot};
use crate::status::{ErrorRecord, Status};
use crate::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use crate::sync::{Condvar, Mutex};
use crate::waiter::Waiter;
use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::fmt;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Instant;

/// The five states of F1.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum State {
    Pending,
    Running,
    Cancelled,
    CancelledAndNotified,
    Finished,
}

impl State {
    pub fn is_done(self) -> bool {
        matches!(
            self,
            State::Finished | State::Cancelled | State::CancelledAndNotified
        )
    }

    pub fn is_cancelled(self) -> bool {
        matches!(self, State::Cancelled | State::CancelledAndNotified)
    }
}

/// A done-callback. It receives the future it was registered on.
pub type Callback = Box<dyn FnOnce(&Future) + Send>;

/// A C done-callback, `void (*)(fut_future *f, void *user)`, kept as two
/// words rather than boxed: registering one allocates nothing. Built only by
/// the C skin, from what the host registered.
#[derive(Clone, Copy)]
pub(crate) struct RawCallback {
    pub(crate) func: unsafe extern "C" fn(future: *mut c_void, user: *mut c_void),
    pub(crate) user: *mut c_void,
}

// SAFETY: the host registers `user` for a callback that runs on whichever
// thread completes the future, as documented.
unsafe impl Send for RawCallback {}

enum Outcome {
    Value(Value),
    Error(Box<ErrorRecord>),
}

pub struct FutureCore {
    /// The listeners, then the outcome: the lock's (the state byte's, see
    /// `state.rs`), and readable without it once the state is FINISHED or
    /// FAILED.
    body: UnsafeCell<Body>,
    /// Where blocked readers sleep: the lock of the condition variable
    /// `readers`, and nothing else (the body is the state byte's).
    sleep: Mutex<()>,
    readers: Condvar,
    /// Set by `cancel()` on a running future: the task may stop early (X9).
    cancel_requested: AtomicBool,
    /// The state (F1), and whether a finished future failed: queries and
    /// scans over many futures (W4) need no lock, each load is one
    /// consistent state (F3).
    state: AtomicU8,
    /// Whether readers spin before parking: set by the executors, whose
    /// RUNNING tasks often complete within microseconds (a thread-pool task;
    /// a process-pool task, RUNNING from dispatch, whose result the manager
    /// thread reads as soon as the worker publishes it). A reader that does
    /// not park also spares the completing thread a kernel wake-up. Not for
    /// promises: nothing says when their producer will complete them.
    spin_on_wait: bool,
    /// Made by an executor, which alone starts it: the C API's
    /// `fut_future_set_running_or_notify_cancel` refuses it (a future moved
    /// to RUNNING behind the executor's back would be skipped by the worker
    /// and stay RUNNING forever).
    executor_owned: bool,
}

// SAFETY: the body is reached under the future's lock (the state byte, taken
// with Acquire and released with Release), by the one thread that claimed a
// lock-free completion, or read (never written) once the state says done,
// which was stored with Release after the body; its contents are Send. The
// other fields are atomics and thread-safe primitives.
unsafe impl Sync for FutureCore {}
// SAFETY: owning a FutureCore owns its body, whose contents are Send.
unsafe impl Send for FutureCore {}

/// How long a reader spins on a running future before it parks, and how long
/// it first waits for a pending one to start running (see `spin_until`).
const SPIN_BEFORE_PARK: std::time::Duration = std::time::Duration::from_micros(10);
const SPIN_FOR_START: std::time::Duration = std::time::Duration::from_micros(1);

static FUTURES: Pool<FutureCore> = Pool::new(0x4655_5446);

/// Registers the futures' slot pool with the fork handlers (when the
/// library is loaded).
pub(crate) fn register_for_fork() {
    FUTURES.register_for_fork();
}

/// A counted reference to a future. Cloning adds a reference; dropping the
/// last reference to a future that is not done cancels it first (its
/// callbacks run then), so callback data is never leaked.
///
/// One word: the slot of its reference in `FUTURES`, the pool of every
/// future (a `Shared` also names its pool).
pub struct Future {
    slot: NonNull<Slot<FutureCore>>,
}

// SAFETY: a `Future` is a `Shared<FutureCore>` without the pool pointer, and
// `Shared<T>` is Send and Sync for a `T` that is (FutureCore's state is
// behind atomics and its lock).
unsafe impl Send for Future {}
// SAFETY: as for Send.
unsafe impl Sync for Future {}

impl Future {
    /// Keeps `shared`'s reference, one of `FUTURES`.
    fn from_shared(shared: Shared<FutureCore>) -> Future {
        Future {
            slot: shared.into_slot(),
        }
    }

    /// This future's reference as a `Shared`, which must not be dropped
    /// unless this `Future` is forgotten in its place.
    fn shared(&self) -> ManuallyDrop<Shared<FutureCore>> {
        // SAFETY: every `Future` holds a reference on its slot of FUTURES
        // (made by `from_shared`, or a view that the caller keeps alive).
        ManuallyDrop::new(unsafe { Shared::from_slot(self.slot, &FUTURES) })
    }
}

impl Clone for Future {
    fn clone(&self) -> Self {
        Future::from_shared((*self.shared()).clone())
    }
}

impl Drop for Future {
    fn drop(&mut self) {
        // The reference this `Future` held, released exactly once, here.
        let shared = ManuallyDrop::into_inner(self.shared());
        if self.done() {
            // Done is final: the last reference has nothing to cancel and no
            // callback to run, so it goes without reviving (one atomic
            // step fewer for the worker dropping a completed task's).
            drop(shared);
        } else {
            shared.release_with(abandon_last);
        }
    }
}

/// What the last reference to a future does on its way out: cancel it if
/// it is not done (running its callbacks), on a reference of its own.
///
/// It works on a view of the reviver's reference rather than a new one, and
/// so do the callbacks it runs (`wake_and_call`): meanwhile the reviver's is
/// the only counted reference, unless a callback retains the future, and a
/// racing double release through the handle finds no reference to take.
fn abandon_last(s: &Shared<FutureCore>) {
    let view = ManuallyDrop::new(Future { slot: s.slot_ptr() });
    // Done is final: most futures are done by their last release, which
    // then takes no lock.
    if !view.done() {
        view.abandon();
    }
}

impl Default for Future {
    fn default() -> Self {
        Future::new()
    }
}

impl Future {
    /// A new future in PENDING, for an executor or a promise-style producer.
    pub fn new() -> Future {
        Future::with_spin_on_wait(false)
    }

    /// A new PENDING future for an executor's task: executor-owned (only
    /// the executor starts it), and its readers spin briefly before parking
    /// while it runs (see `FutureCore::spin_on_wait`).
    pub fn for_executor() -> Future {
        Future::with_flags(true, true)
    }

    /// `with_spin_on_wait(true)` is `for_executor()` (the pools' name for
    /// it); `false` is `new()`.
    pub fn with_spin_on_wait(spin_on_wait: bool) -> Future {
        Future::with_flags(spin_on_wait, spin_on_wait)
    }

    /// `for_executor()` and a clone of it, made with one store instead of
    /// an atomic step: the executor's reference and the caller's.
    pub(crate) fn for_executor_pair() -> (Future, Future) {
        let (a, b) = FUTURES.alloc_pair(Future::core_with_flags(true, true));
        (Future::from_shared(a), Future::from_shared(b))
    }

    fn with_flags(spin_on_wait: bool, executor_owned: bool) -> Future {
        Future::from_shared(FUTURES.alloc(Future::core_with_flags(spin_on_wait, executor_owned)))
    }

    fn core_with_flags(spin_on_wait: bool, executor_owned: bool) -> FutureCore {
        FutureCore {
            body: UnsafeCell::new(Body::NoListener),
            sleep: Mutex::new(()),
            cancel_requested: AtomicBool::new(false),
            readers: Condvar::new(),
            state: AtomicU8::new(SNAP_PENDING),
            spin_on_wait,
            executor_owned,
        }
    }

    /// The identity of this future: its C handle (a slot offset and generation,
    /// not an address; see `handle`).
    pub fn as_ptr(&self) -> *mut c_void {
        self.shared().as_ptr() as *mut c_void
    }

    /// Hands this reference to C.
    pub(crate) fn into_raw(self) -> *mut c_void {
        let me = ManuallyDrop::new(self);
        // `me`'s reference moves to C: it is never dropped here.
        ManuallyDrop::into_inner(me.shared()).into_raw() as *mut c_void
    }

    /// Borrows the reference a C caller holds, if `p` is a live future handle.
    pub(crate) fn borrow_raw(p: *const c_void) -> Option<ManuallyDrop<Future>> {
        FUTURES
            .borrow(p as *const u8)
            .map(|s| ManuallyDrop::new(Future { slot: s.slot_ptr() }))
    }

    /// Gives back a reference given to C (`into_raw`): false, and nothing
    /// changes, if `p` is not a live future handle or holds no reference
    /// any more (a double release). The last reference cancels a future
    /// that is not done, as dropping it does.
    pub(crate) fn release_raw(p: *const c_void) -> bool {
        FUTURES.release_raw(p as *const u8, abandon_last)
    }

    /// Where this future lives: distinct for distinct live futures, and
    /// ascending for futures made one after another (`wait` sorts by it).
    pub(crate) fn addr(&self) -> usize {
        self.slot.as_ptr() as usize
    }

    /// Asks the CPU to start fetching the future's cache line (a hint: it
    /// reads nothing a program can see). A worker taking a batch of queued
    /// items calls it for each: the submitter wrote those lines last, and
    /// starting the task would otherwise stall on each in turn. A fetch
    /// for reading, not `sync::prefetch_for_write`'s `prefetchw`: as good
    /// here, and in every x86-64. (Moved into `sync` beside that helper,
    /// with `asm!` or with this intrinsic, it stopped the compiler from
    /// inlining the batch loop's closure, and the gain was gone.)
    pub(crate) fn prefetch(&self) {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        // SAFETY: `prefetcht0` (SSE, in every x86-64) is a hint: it never
        // faults and writes nothing, whatever the address; this one is a
        // live slot's anyway.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(self.slot.as_ptr() as *const i8);
        }
    }

    pub fn ptr_eq(&self, other: &Future) -> bool {
        self.slot == other.slot
    }

    fn core(&self) -> &FutureCore {
        // SAFETY: `self` holds a reference on its slot for as long as the
        // returned borrow of `self` lasts.
        unsafe { Shared::value_of(self.slot) }
    }

    pub fn state(&self) -> State {
        match self.snapshot() {
            SNAP_PENDING => State::Pending,
            SNAP_RUNNING | SNAP_COMPLETING => State::Running,
            SNAP_CANCELLED => State::Cancelled,
            SNAP_CANCELLED_NOTIFIED => State::CancelledAndNotified,
            _ => State::Finished,
        }
    }

    pub fn done(&self) -> bool {
        self.state().is_done()
    }

    pub fn cancelled(&self) -> bool {
        self.state().is_cancelled()
    }

    pub fn running(&self) -> bool {
        self.state() == State::Running
    }

    /// True when the future finished with an error (not a cancellation).
    pub fn failed(&self) -> bool {
        self.snapshot() == SNAP_FAILED
    }

    /// True for a future made by an executor (`for_executor`).
    pub fn executor_owned(&self) -> bool {
        self.core().executor_owned
    }

    /// Whether `cancel()` was asked of this future while it was running.
    pub fn cancel_requested(&self) -> bool {
        self.core().cancel_requested.load(Ordering::Acquire)
    }

    /// F4/W2: cancels a PENDING future (waiters are notified at once, callbacks
    /// run on this thread) and returns true; true on an already cancelled one;
    /// false on RUNNING (which records a cooperative request, X9) or FINISHED.
    pub fn cancel(&self) -> bool {
        let mut inner = self.lock_body();
        match self.state() {
            State::Running => {
                self.core().cancel_requested.store(true, Ordering::Release);
                false
            }
            State::Finished => false,
            State::Cancelled | State::CancelledAndNotified => true,
            State::Pending => {
                inner.set_state(SNAP_CANCELLED);
                self.finish_locked(inner, Body::Cancelled);
                true
            }
        }
    }

    /// Cancels a future nobody can complete any more (its last reference is
    /// going away), whether PENDING or RUNNING.
    fn abandon(&self) {
        let mut inner = self.lock_body();
        if is_live(inner.state()) {
            inner.set_state(SNAP_CANCELLED);
            self.finish_locked(inner, Body::Cancelled);
        }
    }

    /// Ends a RUNNING task that honoured a cooperative cancel request: the
    /// future becomes cancelled. False if it was not running.
    pub fn set_cancelled_while_running(&self) -> bool {
        let mut inner = self.lock_body();
        // Only RUNNING may end this way.
        if inner.state() != SNAP_RUNNING {
            return false;
        }
        inner.set_state(SNAP_CANCELLED_NOTIFIED);
        self.finish_locked(inner, Body::Cancelled);
        true
    }

    /// F6: PENDING→RUNNING answers Ok(true) (run the task); a cancelled future
    /// answers Ok(false) (skip it). Any other state is an executor bug: it is
    /// logged and answered with `InvalidState`.
    pub fn set_running_or_notify_cancel(&self) -> Result<bool, Status> {
        let found = match self.swap_state(SNAP_PENDING, SNAP_RUNNING) {
            Ok(()) => return Ok(true),
            Err(found) => found,
        };
        // Waiters were notified by cancel() already (W2 decision), so this
        // step changes nothing but the state: no lock.
        if found == SNAP_CANCELLED
            && self
                .swap_state(SNAP_CANCELLED, SNAP_CANCELLED_NOTIFIED)
                .is_ok()
        {
            return Ok(false);
        }
        crate::log::log(&format!(
            "set_running_or_notify_cancel on {} in unexpected state {:?}",
            self,
            self.state()
        ));
        Err(Status::InvalidState)
    }

    /// F7: stores `value` and completes the future. A done future refuses it
    /// and gives it back, so the caller keeps ownership.
    pub fn set_result(&self, value: Value) -> Result<(), Value> {
        match self.complete(Outcome::Value(value)) {
            Ok(()) => Ok(()),
            Err(Outcome::Value(v)) => Err(v),
            Err(Outcome::Error(_)) => unreachable!("got back what was given"),
        }
    }

    /// F7: stores a failure and completes the future; refused once done.
    pub fn set_exception(&self, error: ErrorRecord) -> Result<(), ErrorRecord> {
        match self.complete(Outcome::Error(Box::new(error))) {
            Ok(()) => Ok(()),
            Err(Outcome::Error(e)) => Err(*e),
            Err(Outcome::Value(_)) => unreachable!("got back what was given"),
        }
    }

    /// F7 for the executor running this future's task, on the reference
    /// it holds to the end: the callbacks run on that reference, which
    /// keeps the future alive through them, instead of on one taken for
    /// them (two atomic steps fewer per task). False if the future was done.
    pub(crate) fn complete_as_holder(self, outcome: Result<Value, ErrorRecord>) -> bool {
        let outcome = match outcome {
            Ok(v) => Outcome::Value(v),
            Err(e) => Outcome::Error(Box::new(e)),
        };
        match self.complete_unheard(outcome) {
            Ok(()) => true,
            Err(outcome) => self.complete_with(outcome, true).is_ok(),
        }
    }

    fn complete(&self, outcome: Outcome) -> Result<(), Outcome> {
        self.complete_with(outcome, false)
    }

    /// `complete`; `held`: the caller's reference outlives the callbacks.
    fn complete_with(&self, outcome: Outcome, held: bool) -> Result<(), Outcome> {
        let mut inner = self.lock_body();
        if !is_live(inner.state()) {
            return Err(outcome);
        }
        let (to, body) = match outcome {
            Outcome::Value(v) => (SNAP_FINISHED, Body::Value(v)),
            Outcome::Error(e) => (SNAP_FAILED, Body::Error(e)),
        };
        // The outcome goes in before the state says FINISHED or FAILED, so
        // that readers who see either read it without the lock
        // (`finished_body`).
        let listeners = std::mem::replace(&mut *inner, body);
        inner.set_state(to);
        self.wake_and_call(inner, listeners, held);
        Ok(())
    }

    /// The body of a FINISHED or FAILED future, read without the lock: its
    /// outcome was stored before that state (`complete`), and a done
    /// future's body is never written again until the future is freed.
    fn finished_body(&self) -> Option<&Body> {
        match self.snapshot() {
            // SAFETY: see above: nothing writes the body any more, and
            // `self` keeps the future alive while the reference is used.
            SNAP_FINISHED | SNAP_FAILED => Some(unsafe { &*self.core().body.get() }),
            _ => None,
        }
    }

    /// Completes a move to a cancelled state, made under `inner`'s lock:
    /// stores the outcome, then `wake_and_call`.
    fn finish_locked(&self, mut inner: BodyGuard<'_>, outcome: Body) {
        let listeners = std::mem::replace(&mut *inner, outcome);
        self.wake_and_call(inner, listeners, false);
    }

    /// Notifies the waiters among `listeners` under the lock, releases it
    /// (which wakes the blocked readers), then runs the callbacks on a
    /// reference of our own, unless the caller's is `held` through them.
    fn wake_and_call(&self, inner: BodyGuard<'_>, listeners: Body, held: bool) {
        let failed = matches!(*inner, Body::Error(_));
        for l in listeners.listeners() {
            if let Listener::Waiter(w, token) = l {
                w.notify(*token, failed);
            }
        }
        drop(inner);
        if listeners.has_callbacks() {
            if held || self.shared().reviving() {
                // The holder, or the reviver, keeps the future alive (see
                // `abandon_last`).
                listeners.run_callbacks(self);
            } else {
                // A callback may release the last reference the host held.
                listeners.run_callbacks(&self.clone());
            }
        }
    }

    /// Wakes the readers blocked in `wait_until`: for the unlock that left
    /// the future done, after a reader marked itself (`add_reader`). Taking
    /// `sleep` orders this after a reader's look at the state and before
    /// its sleep, or after both.
    fn wake_readers(&self) {
        let _sleep = self.core().sleep.lock();
        self.core().readers.notify_all();
    }

    fn run_callback(&self, cb: Callback) {
        if catch_unwind(AssertUnwindSafe(|| cb(self))).is_err() {
            crate::log::log(&format!("exception calling callback for {self}"));
        }
    }

    fn run_raw_callback(&self, cb: RawCallback) {
        // SAFETY: the host gave us this function for exactly this call, with
        // this user pointer; `self` keeps the future alive during the call.
        unsafe { (cb.func)(self.as_ptr(), cb.user) }
    }

    /// F12/F14: registers `cb`, or runs it at once on this thread if done.
    pub fn add_done_callback(&self, cb: Callback) {
        self.add_callback_listener(Listener::Callback(cb));
    }

    /// `add_done_callback` for a C function and its user pointer.
    pub(crate) fn add_raw_done_callback(&self, cb: RawCallback) {
        self.add_callback_listener(Listener::Raw(cb));
    }

    fn add_callback_listener(&self, l: Listener) {
        let mut inner = self.lock_body();
        if !self.done() {
            return inner.push(l);
        }
        drop(inner);
        let keep = self.clone();
        match l {
            Listener::Callback(cb) => keep.run_callback(cb),
            Listener::Raw(cb) => keep.run_raw_callback(cb),
            Listener::Waiter(..) => {}
        }
    }

    /// Installs `waiter` unless the future is done already; then answers
    /// Some(failed) and installs nothing (W3, per future).
    pub(crate) fn install_waiter(&self, waiter: &Arc<Waiter>, token: usize) -> Option<bool> {
        // Done is final: no lock needed to see it (waits over many done
        // futures, W4).
        if self.done() {
            return Some(self.failed());
        }
        let mut inner = self.lock_body();
        if self.done() {
            return Some(self.failed());
        }
        inner.push(Listener::Waiter(Arc::clone(waiter), token));
        None
    }

    pub(crate) fn remove_waiter(&self, waiter: &Arc<Waiter>) {
        let mut inner = self.lock_body();
        if self.done() {
            // Its waiters went when it became done; and readers may be
            // reading a finished body without the lock (`finished_body`).
            return;
        }
        inner.retain(|l| !matches!(l, Listener::Waiter(w, _) if Arc::ptr_eq(w, waiter)));
    }

    #[cfg(test)]
    pub(crate) fn listener_count(&self) -> usize {
        self.lock_body().listeners().len()
    }

    /// Blocks until done or `deadline` (None: no limit); true when done.
    pub fn wait_until(&self, deadline: Option<Instant>) -> bool {
        if self.done() {
            return true;
        }
        // Spin only while a worker runs the task: a future still PENDING
        // after a moment has no one about to complete it (its worker may be
        // asleep, and spinning could hold the CPU that worker is woken on).
        if self.core().spin_on_wait
            && deadline.map_or(true, |d| d > Instant::now())
            && crate::spin_until(SPIN_FOR_START, deadline, || self.state() != State::Pending)
            && self.state() == State::Running
            && crate::spin_until(SPIN_BEFORE_PARK, deadline, || self.done())
        {
            return true;
        }
        {
            let mut inner = self.lock_body();
            if self.done() {
                return true;
            }
            inner.add_reader();
        }
        let mut sleep = self.core().sleep.lock();
        while !self.done() {
            match deadline {
                None => self.core().readers.wait(&mut sleep),
                Some(d) => {
                    if self.core().readers.wait_until(&mut sleep, d).timed_out() {
                        return self.done();
                    }
                }
            }
        }
        true
    }

    /// F8: the value's pointer and length, or why there is none.
    pub fn result(&self, deadline: Option<Instant>) -> Result<(*mut c_void, usize), Status> {
        if !self.wait_until(deadline) {
            return Err(Status::Timeout);
        }
        match self.finished_body() {
            Some(Body::Value(v)) => Ok((v.ptr(), v.len())),
            Some(Body::Error(e)) => Err(e.kind),
            _ if self.cancelled() => Err(Status::Cancelled),
            _ => Err(Status::Internal),
        }
    }

    /// F9: the failure, None for a success, or why there is no outcome.
    /// The record stays valid as long as this reference is held.
    pub fn exception(&self, deadline: Option<Instant>) -> Result<Option<&ErrorRecord>, Status> {
        if !self.wait_until(deadline) {
            return Err(Status::Timeout);
        }
        match self.finished_body() {
            Some(Body::Value(_)) => Ok(None),
            Some(Body::Error(e)) => Ok(Some(&**e)),
            _ if self.cancelled() => Err(Status::Cancelled),
            _ => Err(Status::Internal),
        }
    }
}

impl fmt::Display for Future {
    /// F19: `<Future at 0x... state=finished returned value>` and the like.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock_body();
        let what = match (self.state(), &*inner) {
            (State::Pending, _) => "pending".to_string(),
            (State::Running, _) => "running".to_string(),
            (State::Cancelled | State::CancelledAndNotified, _) => "cancelled".to_string(),
            (State::Finished, Body::Error(e)) => format!("finished raised {}", e.kind),
            (State::Finished, _) => "finished returned value".to_string(),
        };
        // The formatter's sink may do anything: not under the lock.
        drop(inner);
        write!(f, "<Future at {:p} state={}>", self.as_ptr(), what)
    }
}

impl fmt::Debug for Future {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests;
