//! Keeps the library's process-wide locks usable in the child of a host
//! `fork()` (SEMANTICS T11, X11).
//!
//! The handle pools' free lists and the log hook are the library's only
//! process-wide locks. A host thread that forks while another thread holds
//! one of them would leave it locked forever in the child. They are
//! `ForkMutex`es: `pthread_atfork` handlers take every one before the fork,
//! release them in the parent and re-initialise them in the (single-threaded)
//! child. Pools (thread and process) themselves do not carry over into a child.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Once;

const MAX_LOCKS: usize = 32;

static LOCKS: [AtomicPtr<libc::pthread_mutex_t>; MAX_LOCKS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_LOCKS];
static N_LOCKS: AtomicUsize = AtomicUsize::new(0);
static INSTALL: Once = Once::new();

/// A mutex for `static` data that survives a host `fork()`.
pub(crate) struct ForkMutex<T> {
    raw: UnsafeCell<libc::pthread_mutex_t>,
    registered: Once,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by the pthread mutex.
unsafe impl<T: Send> Sync for ForkMutex<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for ForkMutex<T> {}

pub(crate) struct ForkMutexGuard<'a, T> {
    lock: &'a ForkMutex<T>,
}

impl<T> ForkMutex<T> {
    pub(crate) const fn new(data: T) -> Self {
        ForkMutex {
            raw: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
            registered: Once::new(),
            data: UnsafeCell::new(data),
        }
    }

    /// Locks; only for locks that live in statics (they are registered with
    /// the fork handlers on first use).
    pub(crate) fn lock(&'static self) -> ForkMutexGuard<'static, T> {
        self.registered.call_once(|| register(self.raw.get()));
        // SAFETY: `raw` is an initialised pthread mutex that lives forever.
        let rc = unsafe { libc::pthread_mutex_lock(self.raw.get()) };
        assert_eq!(rc, 0, "pthread_mutex_lock");
        ForkMutexGuard { lock: self }
    }
}

impl<T> Drop for ForkMutexGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard holds the lock.
        unsafe { libc::pthread_mutex_unlock(self.lock.raw.get()) };
    }
}

impl<T> Deref for ForkMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for ForkMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock exclusively.
        unsafe { &mut *self.lock.data.get() }
    }
}

fn register(m: *mut libc::pthread_mutex_t) {
    INSTALL.call_once(|| {
        // SAFETY: the handlers are plain functions that live for the whole process.
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(release_in_parent), Some(reset_in_child))
        };
    });
    let i = N_LOCKS.fetch_add(1, Ordering::AcqRel);
    assert!(i < MAX_LOCKS, "too many fork-protected locks");
    LOCKS[i].store(m, Ordering::Release);
}

fn registered() -> impl Iterator<Item = *mut libc::pthread_mutex_t> {
    let n = N_LOCKS.load(Ordering::Acquire).min(MAX_LOCKS);
    LOCKS[..n]
        .iter()
        .map(|m| m.load(Ordering::Acquire))
        .filter(|p| !p.is_null())
}

extern "C" fn prepare() {
    for m in registered() {
        // SAFETY: registered locks are static pthread mutexes.
        unsafe { libc::pthread_mutex_lock(m) };
    }
}

extern "C" fn release_in_parent() {
    for m in registered() {
        // SAFETY: `prepare` locked every registered mutex in this thread.
        unsafe { libc::pthread_mutex_unlock(m) };
    }
}

extern "C" fn reset_in_child() {
    for m in registered() {
        // SAFETY: the child has one thread, which holds every registered lock
        // (taken in `prepare`); re-initialising is the documented way to get
        // a usable mutex there. The mutex lives in an UnsafeCell.
        unsafe { ptr::write(m, libc::PTHREAD_MUTEX_INITIALIZER) };
    }
}
