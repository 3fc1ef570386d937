//! The library's mutex, condition variable and spin lock.
//!
//! The mutex and condition variable sit on the standard library's
//! futex-based primitives (the spin lock on one atomic flag), whose whole
//! state lives inside the object. `parking_lot` keeps a process-wide table of
//! parked threads instead; a host thread that forks while another thread of
//! the parent holds a bucket of that table leaves it locked forever in the
//! child, so a pool created there hung on its first contended lock. With
//! per-object state, a child that creates new pools touches nothing a parent
//! thread may have held.
//!
//! The API is the small part of `parking_lot`'s the library uses: `lock`
//! does not poison (a panic while holding a lock is caught at the FFI
//! boundary and the data stays consistent at every unlock point), and
//! `Condvar::wait` takes the guard by `&mut`.
//!
//! This module is also the one place where a model checker's primitives
//! come in: with the cargo feature `shuttle` (model tests only, see
//! docs/verification.md) the raw mutex and condition variable below, and
//! the `atomic`, `thread` and `thread_local!` that the modelled code imports
//! from here, are shuttle's, so that the checker sees (and interleaves at)
//! every lock, wait, atomic access and spawn of that code. Without it they
//! are std's, as always.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::time::Instant;

#[cfg(feature = "shuttle")]
use shuttle::sync as raw;
#[cfg(not(feature = "shuttle"))]
use std::sync as raw;

/// Atomics of the modelled code (`crate::sync::atomic::AtomicUsize`, ...).
pub(crate) mod atomic {
    #[cfg(not(feature = "shuttle"))]
    pub(crate) use std::sync::atomic::*;

    #[cfg(feature = "shuttle")]
    pub(crate) use shuttle::sync::atomic::*;
}

/// Threads of the modelled code: spawn, park, yield (`crate::sync::thread`).
pub(crate) mod thread {
    #[cfg(not(feature = "shuttle"))]
    pub(crate) use std::thread::*;

    #[cfg(feature = "shuttle")]
    pub(crate) use shuttle::thread::*;
}

#[cfg(not(feature = "shuttle"))]
pub(crate) use std::thread_local;

#[cfg(feature = "shuttle")]
pub(crate) use shuttle::thread_local;

use atomic::{AtomicU32, Ordering};

/// A mutual-exclusion lock over `T` that never poisons.
pub struct Mutex<T: ?Sized> {
    raw: raw::Mutex<()>,
    data: UnsafeCell<T>,
}

// SAFETY: `data` is reached only through a guard, which holds `raw`, so at
// most one thread touches it at a time; `T: Send` lets it move between them.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: owning the mutex owns the `T`, which may move to another thread.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

/// Holds a `Mutex` locked; unlocks when dropped.
pub struct MutexGuard<'a, T: ?Sized> {
    // Always `Some` except inside `Condvar::wait`, which lends it out.
    raw: Option<raw::MutexGuard<'a, ()>>,
    lock: &'a Mutex<T>,
}

impl<T> Mutex<T> {
    pub const fn new(data: T) -> Self {
        Mutex {
            raw: raw::Mutex::new(()),
            data: UnsafeCell::new(data),
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    pub fn lock(&self) -> MutexGuard<'_, T> {
        let raw = self.raw.lock().unwrap_or_else(|e| e.into_inner());
        MutexGuard {
            raw: Some(raw),
            lock: self,
        }
    }

    /// Locks if nobody holds the lock, else answers None at once.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let raw = match self.raw.try_lock() {
            Ok(raw) => raw,
            Err(raw::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(raw::TryLockError::WouldBlock) => return None,
        };
        Some(MutexGuard {
            raw: Some(raw),
            lock: self,
        })
    }

    /// The data, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock, so no one writes `data` now.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the lock, and `&mut self` makes this the
        // only reference made through it.
        unsafe { &mut *self.lock.data.get() }
    }
}

/// The result of a timed wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True when the deadline passed (the lock is held again either way).
    pub fn timed_out(self) -> bool {
        self.0
    }
}

/// A condition variable used with `Mutex`.
///
/// It counts its waiters, so that a notify with nobody waiting costs a read
/// instead of the `futex` system call std's condition variable always makes
/// (a future notifies on every completion, usually with no reader asleep).
/// A waiter counts itself while it holds the lock, before it sleeps, so a
/// notifier that changed the state under the same lock (as every user of a
/// condition variable must) sees it.
#[derive(Default)]
pub struct Condvar {
    raw: raw::Condvar,
    waiters: AtomicU32,
}

/// Uncounts a waiter however its wait ends.
struct Waiting<'a>(&'a AtomicU32);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Condvar {
    pub const fn new() -> Self {
        Condvar {
            raw: raw::Condvar::new(),
            waiters: AtomicU32::new(0),
        }
    }

    fn count_in(&self) -> Waiting<'_> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        Waiting(&self.waiters)
    }

    /// Unlocks, sleeps until notified (or spuriously), locks again.
    pub fn wait<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>) {
        let raw = guard.raw.take().expect("guard holds the lock");
        let _counted = self.count_in();
        let raw = self.raw.wait(raw).unwrap_or_else(|e| e.into_inner());
        guard.raw = Some(raw);
    }

    /// `wait`, giving up at `deadline`.
    pub fn wait_until<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        let timeout = deadline.saturating_duration_since(Instant::now());
        if cfg!(feature = "shuttle") && timeout.is_zero() {
            // The model checker never times a wait out: one that is due
            // already answers at once.
            return WaitTimeoutResult(true);
        }
        let raw = guard.raw.take().expect("guard holds the lock");
        let _counted = self.count_in();
        let (raw, result) = self
            .raw
            .wait_timeout(raw, timeout)
            .unwrap_or_else(|e| e.into_inner());
        guard.raw = Some(raw);
        WaitTimeoutResult(result.timed_out() && Instant::now() >= deadline)
    }

    pub fn notify_one(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.raw.notify_one();
        }
    }

    pub fn notify_all(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.raw.notify_all();
        }
    }
}

/// A lock for a very short critical section that one thread takes far more
/// often than any other (the injector's tail: the submitting thread, once
/// per submit). Its release is a plain store where a mutex's is a locked
/// instruction, which waits for every earlier store of the holder to drain:
/// in an interleaved A/B on 2 CPUs the injector's tail under it made B-W1
/// with 16 workers 16–28 % faster. A waiter spins briefly, then yields its
/// CPU (the holder may be waiting for it); it never sleeps, so it is not for
/// sections that block, and a panic under it releases it.
pub(crate) struct SpinLock<T> {
    locked: atomic::AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, and one guard at most
// exists at a time (the `locked` flag, taken with Acquire and released with
// Release, orders each holder's accesses after the previous holder's).
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: the lock owns its value; sending it sends the value.
unsafe impl<T: Send> Send for SpinLock<T> {}

pub(crate) struct SpinGuard<'a, T>(&'a SpinLock<T>);

/// Failed tries of a `SpinLock` before its waiter starts yielding.
const SPINS_BEFORE_YIELD: u32 = 32;

/// One wait of a thread looking again and again for something another
/// running thread is about to do: after `*tries` (counted here) passes
/// `spins`, it yields its CPU, which that thread may be waiting for. The
/// model checker needs a yield at once.
pub(crate) fn spin_then_yield(tries: &mut u32, spins: u32) {
    *tries += 1;
    if cfg!(feature = "shuttle") || *tries > spins {
        thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

impl<T> SpinLock<T> {
    pub(crate) fn new(value: T) -> SpinLock<T> {
        SpinLock {
            locked: atomic::AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        let mut tries = 0;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spin_then_yield(&mut tries, SPINS_BEFORE_YIELD);
        }
        SpinGuard(self)
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock, so nothing else reaches the value.
        unsafe { &*self.0.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the lock, so nothing else reaches the value.
        unsafe { &mut *self.0.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.0.locked.store(false, Ordering::Release);
    }
}

/// Asks the CPU to bring the line at `addr` into this core's cache, ready
/// to be written: for a line most likely last written or read by another
/// core, which the caller will write soon but not at once, so that the
/// miss overlaps the work in between. A hint only: it reads nothing.
#[inline(always)]
pub(crate) fn prefetch_for_write(addr: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: a prefetch has no architectural effect and never faults, even
    // on an unmapped address; `prefetchw` exists on every x86-64 CPU that
    // AMD made and on Intel's since Broadwell, and decodes as a no-op on
    // older ones.
    unsafe {
        std::arch::asm!("prefetchw [{}]", in(reg) addr, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = addr;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn wait_until_times_out_and_relocks() {
        let m = Mutex::new(1);
        let cv = Condvar::new();
        let mut g = m.lock();
        let r = cv.wait_until(&mut g, Instant::now() + Duration::from_millis(1));
        assert!(r.timed_out());
        *g += 1;
        drop(g);
        assert_eq!(*m.lock(), 2);
    }

    #[test]
    fn notify_wakes_a_waiter() {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = pair.clone();
        let t = std::thread::spawn(move || {
            *p.0.lock() = true;
            p.1.notify_all();
        });
        let mut g = pair.0.lock();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !*g {
            assert!(!pair.1.wait_until(&mut g, deadline).timed_out());
        }
        drop(g);
        t.join().unwrap();
    }

    /// Two threads adding under a `SpinLock` lose no update (miri checks
    /// the ordering of the accesses).
    #[test]
    fn spin_lock_excludes() {
        let n = if cfg!(miri) { 50 } else { 10_000 };
        let lock = Arc::new(SpinLock::new(0usize));
        let l2 = lock.clone();
        let t = std::thread::spawn(move || {
            for _ in 0..n {
                *l2.lock() += 1;
            }
        });
        for _ in 0..n {
            *lock.lock() += 1;
        }
        t.join().unwrap();
        assert_eq!(*lock.lock(), 2 * n);
    }

    #[test]
    fn a_panic_under_the_lock_does_not_poison() {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = m2.lock();
            panic!("holding the lock");
        })
        .join();
        *m.lock() += 1;
        assert_eq!(*m.lock(), 1);
    }
}
