//! Keeps the library's process-wide locks usable in the child of a host
//! `fork()` (T11, X11).
//!
//! The handle pools' free lists and the log hook are the library's only
//! process-wide locks. A host thread that forks while another thread holds
//! one of them would leave it locked forever in the child. They are
//! `ForkMutex`es: `pthread_atfork` handlers take every one before the fork,
//! release them in the parent and re-initialise them in the (single-threaded)
//! child. Pools (thread and process) themselves do not carry over into a child.
//!
//! This file is the library's one fork mechanism: handlers installed once,
//! when the library is loaded, and a fork generation bumped by the child
//! handler. Anything made before a fork (a pool, a handle registry) records
//! the generation it was made in and, seeing another, knows it is in a child.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

const MAX_LOCKS: usize = 32;
/// Attempts to take a busy `ForkMutex` before sleeping on it (about 1-2 µs).
const TRY_LOCK_SPINS: u32 = 40;

static LOCKS: [AtomicPtr<libc::pthread_mutex_t>; MAX_LOCKS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_LOCKS];
static N_LOCKS: AtomicUsize = AtomicUsize::new(0);

/// Installs the fork handlers when the library is loaded, before any thread
/// of it exists: installing them lazily (behind a `Once`) could race with a
/// host fork and leave the child waiting on a half-run `Once`.
#[used]
#[link_section = ".init_array"]
static ON_LOAD: extern "C" fn() = on_load;

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// How many forks separate this process from the one that loaded the
/// library (0 in the original process).
static GENERATION: AtomicUsize = AtomicUsize::new(0);

/// The current fork generation: an object that recorded another one was made
/// in an ancestor process and has no threads here.
pub(crate) fn generation() -> usize {
    GENERATION.load(Ordering::Relaxed)
}

extern "C" fn on_load() {
    install();
    crate::future::register_for_fork();
    crate::log::register_for_fork();
}

/// A mutex for `static` data that survives a host `fork()`.
pub(crate) struct ForkMutex<T> {
    raw: UnsafeCell<libc::pthread_mutex_t>,
    registered: AtomicBool,
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
            registered: AtomicBool::new(false),
            data: UnsafeCell::new(data),
        }
    }

    /// Registers this lock with the fork handlers (idempotent). The library's
    /// own locks are registered when it is loaded; others on first use.
    pub(crate) fn register_for_fork(&'static self) {
        if !self.registered.swap(true, Ordering::AcqRel) {
            register(self.raw.get());
        }
    }

    /// Locks; only for locks that live in statics.
    pub(crate) fn lock(&'static self) -> ForkMutexGuard<'static, T> {
        if !self.registered.load(Ordering::Acquire) {
            self.register_for_fork();
        }
        // The critical sections are a few hundred nanoseconds (the handle
        // pools' free lists): a holder running on another CPU lets go
        // sooner than a futex sleep and wake-up would take, and the
        // futex pair was most of the thread pool's system calls (B-W5).
        for _ in 0..TRY_LOCK_SPINS {
            // SAFETY: as below.
            if unsafe { libc::pthread_mutex_trylock(self.raw.get()) } == 0 {
                return ForkMutexGuard { lock: self };
            }
            for _ in 0..16 {
                std::hint::spin_loop();
            }
        }
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

/// Installs the handlers once. Also called on first registration, in case a
/// static link dropped the load-time constructor.
fn install() {
    if !INSTALLED.swap(true, Ordering::AcqRel) {
        // SAFETY: the handlers are plain functions that live for the whole process.
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(release_in_parent), Some(reset_in_child))
        };
    }
}

fn register(m: *mut libc::pthread_mutex_t) {
    install();
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
    GENERATION.fetch_add(1, Ordering::Relaxed);
    for m in registered() {
        // SAFETY: the child has one thread, which holds every registered lock
        // (taken in `prepare`); re-initialising is the documented way to get
        // a usable mutex there. The mutex lives in an UnsafeCell.
        unsafe { ptr::write(m, libc::PTHREAD_MUTEX_INITIALIZER) };
    }
}
