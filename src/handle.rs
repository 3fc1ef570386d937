//! Type-stable, reference-counted storage for the objects C holds handles to.
//!
//! A C caller may hand back a pointer it has already released, or a handle of
//! another type. To answer `FUT_ERR_INVALID_ARGUMENT` instead of reading freed
//! memory, every handle lives in a slot of a per-type pool whose memory is never
//! returned: a released slot keeps its address, its tag is cleared, and the slot
//! goes to the back of a FIFO free list so that a stale handle stays detectable
//! for as long as possible.
//!
//! Each pool reserves one contiguous range of address space (no memory, just
//! addresses) and commits pages at its end as it grows, so checking a pointer is
//! one range test, one modulo and two loads: a pointer is accepted only if it
//! lies on a slot boundary inside the committed range and that slot is live
//! with the pool's tag. This matters for `fut_wait` over 10^6 handles.
//!
//! The free list is behind one process-wide lock per pool. So that allocating
//! and freeing do not take it every time, each thread keeps a small cache per
//! pool (see `ThreadCaches`): it takes up to `BATCH` slots off the head of the
//! list at once and allocates from them, and it gathers the slots it frees and
//! appends them to the tail of the list `BATCH` at a time. A freed slot thus
//! still waits behind every slot freed before it, and is never handed out
//! again straight away by the thread that freed it.

use crate::fork::ForkMutex;
use std::cell::{RefCell, UnsafeCell};
use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, AtomicUsize, Ordering};

/// Tag of a free slot (and of never-used, zero-filled memory).
const FREE: u32 = 0;
/// Address space reserved per handle type, tried first; halved on failure
/// (e.g. under `ulimit -v`) down to `MIN_RESERVE`.
const RESERVE: usize = 16 << 30;
const MIN_RESERVE: usize = 16 << 20;
/// The first commit; each later one doubles what is committed.
const FIRST_COMMIT: usize = 64 << 10;
/// Slots a thread takes off the free list, or gives back to it, at once.
const BATCH: usize = 32;
/// Pools that get per-thread caches; any further pool always takes the lock.
/// The library has 5 and its unit tests add 3: room to spare, so that a new
/// pool does not silently lose its cache (about 520 bytes per pool per thread).
const MAX_CACHED_POOLS: usize = 16;
/// `Pool::cache` of a pool without per-thread caches.
const UNCACHED: usize = usize::MAX;
/// The next per-thread cache index to hand to a pool.
static NEXT_CACHE: AtomicUsize = AtomicUsize::new(0);

/// Aligned to a cache line: a future with its header fills exactly one (see
/// `future::Body`), and a thread creating the next future never writes to
/// the line of one that another thread is completing (false sharing there
/// cost about a third of the thread pool's throughput).
#[repr(C, align(64))]
pub(crate) struct Slot<T> {
    tag: AtomicU32,
    refs: AtomicU32,
    value: UnsafeCell<MaybeUninit<T>>,
}

struct FreeList {
    /// Addresses of the free slots, the longest free first.
    slots: VecDeque<usize>,
    reserved: usize,
    committed: usize,
}

pub(crate) struct Pool<T> {
    tag: u32,
    free: ForkMutex<FreeList>,
    /// 1 + this pool's index in every thread's `ThreadCaches`, 0 until
    /// assigned, `UNCACHED` if there was none left.
    cache: AtomicUsize,
    /// Start of the reserved range; 0 until the first allocation.
    base: AtomicUsize,
    /// End of the slots handed to the free list so far.
    limit: AtomicUsize,
    _slots: std::marker::PhantomData<T>,
}

// SAFETY: the range is described by atomics; the free list is behind a mutex
// (per-thread caches hold slot addresses only); the values in slots are only
// reached through `Shared<T>`, which requires T: Sync + Send.
unsafe impl<T: Send + Sync> Sync for Pool<T> {}

/// Up to `BATCH` slot addresses.
struct Batch {
    len: usize,
    slots: [usize; BATCH],
}

impl Batch {
    const EMPTY: Batch = Batch {
        len: 0,
        slots: [0; BATCH],
    };

    fn pop(&mut self) -> Option<usize> {
        self.len = self.len.checked_sub(1)?;
        Some(self.slots[self.len])
    }

    /// Adds `slot`; true if the batch is full now.
    fn push(&mut self, slot: usize) -> bool {
        self.slots[self.len] = slot;
        self.len += 1;
        self.len == BATCH
    }

    /// Empties the batch, returning what it held, first pushed first.
    fn take(&mut self) -> &[usize] {
        let n = std::mem::replace(&mut self.len, 0);
        &self.slots[..n]
    }
}

/// One thread's free slots of one pool, held off the pool's free list.
struct Cache {
    /// The pool's free list; `None` until this thread first uses the pool.
    list: Option<&'static ForkMutex<FreeList>>,
    /// Slots taken off the head of the list, to allocate from; the next one
    /// (the longest free) is the last.
    fresh: Batch,
    /// Slots this thread freed, in order, bound for the tail of the list.
    freed: Batch,
}

impl Cache {
    const EMPTY: Cache = Cache {
        list: None,
        fresh: Batch::EMPTY,
        freed: Batch::EMPTY,
    };

    /// Appends the freed slots to the tail of the list.
    fn flush_freed(&mut self, list: &mut FreeList) {
        list.slots.extend(self.freed.take());
    }
}

/// A thread's caches, indexed by `Pool::cache`. When the thread exits, its
/// slots go back to the free lists: the unused ones to the head, where they
/// came from, the freed ones to the tail. Rust runs this destructor for any
/// thread that used it, including threads created by C code.
///
/// In the child of a `fork()`, the caches of the other threads of the parent
/// are gone, and so are the slots they held: the child never reuses them (at
/// most `2 * BATCH` slots per pool and thread, in address space that is never
/// returned anyway). The forking thread's caches stay valid in the child.
struct ThreadCaches([Cache; MAX_CACHED_POOLS]);

impl Drop for ThreadCaches {
    fn drop(&mut self) {
        for cache in &mut self.0 {
            let Some(list) = cache.list else { continue };
            let mut list = list.lock();
            // `fresh` holds the next slot last, so pushing to the front in
            // order restores the order they were taken in.
            for &slot in cache.fresh.take() {
                list.slots.push_front(slot);
            }
            cache.flush_freed(&mut list);
        }
    }
}

thread_local! {
    static CACHES: RefCell<ThreadCaches> =
        const { RefCell::new(ThreadCaches([Cache::EMPTY; MAX_CACHED_POOLS])) };
}

/// Values reachable only from a live handle's slot are not leaks; tell
/// LeakSanitizer (when the host runs under it) to scan the slots for
/// pointers, as it scans globals. Valgrind scans mappings by itself.
fn register_with_leak_checker(p: *mut libc::c_void, size: usize) {
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the
    // whole process.
    let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__lsan_register_root_region".as_ptr()) };
    if !sym.is_null() {
        // SAFETY: the sanitizer runtime defines it as
        // `void __lsan_register_root_region(const void *p, size_t size)`.
        let register: extern "C" fn(*const libc::c_void, usize) =
            unsafe { std::mem::transmute(sym) };
        register(p, size);
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).unwrap_or(4096).max(4096)
}

impl<T> Pool<T> {
    pub(crate) const fn new(tag: u32) -> Self {
        Pool {
            tag,
            free: ForkMutex::new(FreeList {
                slots: VecDeque::new(),
                reserved: 0,
                committed: 0,
            }),
            cache: AtomicUsize::new(0),
            base: AtomicUsize::new(0),
            limit: AtomicUsize::new(0),
            _slots: std::marker::PhantomData,
        }
    }

    fn reserve(&self, free: &mut FreeList) {
        let mut size = RESERVE;
        loop {
            // SAFETY: an anonymous PROT_NONE mapping reserves addresses only.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    size,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                register_with_leak_checker(p, size);
                free.reserved = size;
                self.base.store(p as usize, Ordering::Release);
                self.limit.store(p as usize, Ordering::Release);
                return;
            }
            assert!(
                size > MIN_RESERVE,
                "cannot reserve address space for handles"
            );
            size /= 2;
        }
    }

    /// Commits more of the reserved range and puts its slots on the free list.
    fn grow(&self, free: &mut FreeList) {
        if free.reserved == 0 {
            self.reserve(free);
        }
        let base = self.base.load(Ordering::Relaxed);
        let page = page_size();
        let want = (free.committed * 2).max(FIRST_COMMIT).div_ceil(page) * page;
        let new_committed = want.min(free.reserved);
        assert!(new_committed > free.committed, "handle pool exhausted");
        // SAFETY: the range lies inside our reservation and is page-aligned.
        let rc = unsafe {
            libc::mprotect(
                (base + free.committed) as *mut libc::c_void,
                new_committed - free.committed,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if rc != 0 {
            std::alloc::handle_alloc_error(
                std::alloc::Layout::from_size_align(new_committed - free.committed, page).unwrap(),
            );
        }
        let size = std::mem::size_of::<Slot<T>>();
        let first = free.committed.div_ceil(size);
        let end = new_committed / size;
        free.committed = new_committed;
        // Fresh pages are zero-filled: tag FREE and no references, which is a
        // valid free slot (the value stays uninitialised).
        free.slots.extend((first..end).map(|i| base + i * size));
        self.limit.store(base + end * size, Ordering::Release);
    }

    /// Registers the free-list lock with the fork handlers, and gives the
    /// pool its per-thread cache index (so that the C API's pools, registered
    /// when the library is loaded, are the ones that get one).
    pub(crate) fn register_for_fork(&'static self) {
        self.free.register_for_fork();
        self.cache_index();
    }

    /// This pool's index in `ThreadCaches`, if it has one.
    fn cache_index(&'static self) -> Option<usize> {
        let mut cache = self.cache.load(Ordering::Relaxed);
        if cache == 0 {
            cache = self.assign_cache_index();
        }
        (cache != UNCACHED).then(|| cache - 1)
    }

    #[cold]
    fn assign_cache_index(&'static self) -> usize {
        // Under the lock, so that two threads do not both assign one.
        let _list = self.free.lock();
        let mut cache = self.cache.load(Ordering::Relaxed);
        if cache == 0 {
            let i = NEXT_CACHE.fetch_add(1, Ordering::Relaxed);
            cache = if i < MAX_CACHED_POOLS {
                i + 1
            } else {
                UNCACHED
            };
            self.cache.store(cache, Ordering::Relaxed);
        }
        cache
    }

    /// Runs `f` on this thread's cache of this pool. `None` (without running
    /// `f`) if there is none: the pool has no cache index, the thread is
    /// exiting and its caches are gone (a handle dropped by a later
    /// thread-local destructor), or the caches are already borrowed further
    /// up this thread's stack (only a signal handler could do that). The
    /// caller then uses the free list directly.
    fn with_cache<R>(&'static self, f: impl FnOnce(&mut Cache) -> R) -> Option<R> {
        let i = self.cache_index()?;
        CACHES
            .try_with(|caches| {
                let mut caches = caches.try_borrow_mut().ok()?;
                let cache = &mut caches.0[i];
                let list = *cache.list.get_or_insert(&self.free);
                debug_assert!(std::ptr::eq(list, &self.free), "one index per pool");
                Some(f(cache))
            })
            .ok()
            .flatten()
    }

    /// Takes the address of a free slot, now owned by the caller.
    fn take_slot(&'static self) -> usize {
        let cached = self.with_cache(|cache| {
            if let Some(slot) = cache.fresh.pop() {
                return slot;
            }
            let mut list = self.free.lock();
            if list.slots.is_empty() {
                self.grow(&mut list);
            }
            let n = list.slots.len().min(BATCH);
            for slot in list.slots.drain(..n).rev() {
                cache.fresh.push(slot);
            }
            // Only after taking the batch, so none of them comes straight back.
            cache.flush_freed(&mut list);
            cache.fresh.pop().expect("grown free list")
        });
        cached.unwrap_or_else(|| {
            let mut list = self.free.lock();
            if list.slots.is_empty() {
                self.grow(&mut list);
            }
            list.slots.pop_front().expect("grown free list")
        })
    }

    /// Gives back a slot the caller owns (its tag already FREE).
    fn put_slot(&'static self, slot: usize) {
        let cached = self.with_cache(|cache| {
            if cache.freed.push(slot) {
                cache.flush_freed(&mut self.free.lock());
            }
        });
        if cached.is_none() {
            self.free.lock().slots.push_back(slot);
        }
    }

    /// Moves `value` into a fresh slot with one reference.
    pub(crate) fn alloc(&'static self, value: T) -> Shared<T> {
        let slot = NonNull::new(self.take_slot() as *mut Slot<T>).expect("slots are not null");
        // SAFETY: the slot was free and is now ours, so no one else uses it.
        unsafe {
            let s = slot.as_ref();
            (*s.value.get()).write(value);
            s.refs.store(1, Ordering::Relaxed);
            s.tag.store(self.tag, Ordering::Release);
        }
        Shared { slot, pool: self }
    }

    /// The slot behind `p` if `p` is a live handle of this pool.
    fn live_slot(&self, p: *const u8) -> Option<NonNull<Slot<T>>> {
        let addr = p as usize;
        let base = self.base.load(Ordering::Acquire);
        let limit = self.limit.load(Ordering::Acquire);
        if addr < base || addr >= limit || (addr - base) % std::mem::size_of::<Slot<T>>() != 0 {
            return None;
        }
        let slot = p as *mut Slot<T>;
        // SAFETY: `slot` is a slot boundary inside our committed range, which
        // is never unmapped, so reading its atomics is always defined.
        let s = unsafe { &*slot };
        if s.tag.load(Ordering::Acquire) == self.tag && s.refs.load(Ordering::Acquire) > 0 {
            NonNull::new(slot)
        } else {
            None
        }
    }

    /// Borrows the caller's reference behind a C handle, if it is live.
    ///
    /// The returned value must not be dropped as an owned reference: it stands
    /// for the reference the C caller holds.
    pub(crate) fn borrow(&'static self, p: *const u8) -> Option<std::mem::ManuallyDrop<Shared<T>>> {
        self.live_slot(p)
            .map(|slot| std::mem::ManuallyDrop::new(Shared { slot, pool: self }))
    }

    /// Takes over the reference behind a C handle (for `*_release`).
    pub(crate) fn take(&'static self, p: *const u8) -> Option<Shared<T>> {
        self.live_slot(p).map(|slot| Shared { slot, pool: self })
    }
}

/// Registers the free-list lock of every handle type of the C API with the
/// fork handlers (called when the library is loaded).
pub(crate) fn register_pools_for_fork() {
    crate::future::FUTURES.register_for_fork();
    crate::ffi::register_pools_for_fork();
}

/// One counted reference to a value in a pool slot.
pub(crate) struct Shared<T: 'static> {
    slot: NonNull<Slot<T>>,
    pool: &'static Pool<T>,
}

// SAFETY: like Arc<T>: shared access across threads needs T: Send + Sync.
unsafe impl<T: Send + Sync> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn slot(&self) -> &Slot<T> {
        // SAFETY: a Shared holds a reference, so the slot is live.
        unsafe { self.slot.as_ref() }
    }

    /// The address handed to C.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.slot.as_ptr() as *mut u8
    }

    /// Gives this reference to C; get it back with `Pool::take`.
    pub(crate) fn into_raw(self) -> *mut u8 {
        let p = self.as_ptr();
        std::mem::forget(self);
        p
    }

    pub(crate) fn ptr_eq(&self, other: &Self) -> bool {
        self.slot == other.slot
    }

    /// Drops one reference without freeing; true if it was the last one.
    ///
    /// The caller of a `true` answer owns the slot: it must either call
    /// `revive` or `free`.
    fn release_ref(&self) -> bool {
        if self.slot().refs.fetch_sub(1, Ordering::Release) == 1 {
            fence(Ordering::Acquire);
            true
        } else {
            false
        }
    }

    /// Drops this reference. If it was the last one, `last` first runs with the
    /// reference revived, so that it can still hand the value to callbacks
    /// (which may retain it anew); the value is freed once nobody did.
    /// `last` must leave the value so that running it again is a no-op.
    pub(crate) fn release_with(self, last: impl FnOnce(&Shared<T>)) {
        let this = std::mem::ManuallyDrop::new(self);
        if !this.release_ref() {
            return;
        }
        this.slot().refs.store(1, Ordering::Relaxed);
        last(&this);
        if this.release_ref() {
            // SAFETY: the count reached zero again and nobody else holds a reference.
            unsafe { this.free() };
        }
    }

    /// Drops the value and returns the slot to the pool.
    ///
    /// # Safety
    /// The reference count must have reached zero through the caller.
    unsafe fn free(&self) {
        let s = self.slot();
        s.tag.store(FREE, Ordering::Release);
        s.refs.store(0, Ordering::Release);
        // SAFETY: the caller owns the slot; the value was initialised by alloc.
        unsafe { (*s.value.get()).assume_init_drop() };
        self.pool.put_slot(self.slot.as_ptr() as usize);
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        self.slot().refs.fetch_add(1, Ordering::Relaxed);
        Shared {
            slot: self.slot,
            pool: self.pool,
        }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        if self.release_ref() {
            // SAFETY: we held the last reference.
            unsafe { self.free() };
        }
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a live slot holds an initialised value.
        unsafe { (*self.slot().value.get()).assume_init_ref() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize};

    struct Counted(&'static AtomicUsize);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    static POOL: Pool<Counted> = Pool::new(0x7465_7374);
    static OTHER: Pool<u64> = Pool::new(0x6f74_6872);

    #[test]
    fn live_handles_are_found_and_released_ones_are_not() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let a = POOL.alloc(Counted(&DROPS));
        let p = a.clone().into_raw();
        assert!(POOL.borrow(p).is_some());
        drop(a);
        assert!(POOL.borrow(p).is_some(), "C still holds one reference");
        drop(POOL.take(p));
        assert_eq!(
            DROPS.load(Ordering::SeqCst),
            1,
            "value dropped exactly once"
        );
        assert!(POOL.borrow(p).is_none(), "released handle is refused");
        assert!(POOL.take(p).is_none());
    }

    #[test]
    fn foreign_and_misaligned_pointers_are_refused() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let a = POOL.alloc(Counted(&DROPS));
        let p = a.as_ptr();
        // SAFETY: only the address is computed, never dereferenced.
        assert!(POOL.borrow(unsafe { p.add(1) }).is_none());
        let local = 5u64;
        assert!(POOL.borrow(&local as *const u64 as *const u8).is_none());
        assert!(POOL.borrow(std::ptr::null()).is_none());
        let o = OTHER.alloc(7);
        assert!(POOL.borrow(o.as_ptr()).is_none(), "another type's handle");
        assert!(OTHER.borrow(p).is_none());
    }

    #[test]
    fn released_slots_are_reused_last() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let a = POOL.alloc(Counted(&DROPS));
        let p = a.as_ptr();
        drop(a);
        let b = POOL.alloc(Counted(&DROPS));
        assert_ne!(b.as_ptr(), p, "FIFO reuse keeps stale handles detectable");
    }

    #[test]
    fn freed_slots_wait_their_turn_and_exiting_threads_return_theirs() {
        static EXITS: Pool<u64> = Pool::new(0x6578_6974);
        static LATE_RAN_WITHOUT_CACHES: AtomicBool = AtomicBool::new(false);
        /// Its destructor runs after the thread's caches are gone.
        struct Late(Vec<Shared<u64>>);
        impl Drop for Late {
            fn drop(&mut self) {
                LATE_RAN_WITHOUT_CACHES.store(CACHES.try_with(|_| ()).is_err(), Ordering::SeqCst);
                self.0.clear();
                drop(EXITS.alloc(7));
            }
        }
        thread_local! {
            static LATE: RefCell<Late> = const { RefCell::new(Late(Vec::new())) };
        }
        std::thread::spawn(|| {
            // Thread-local destructors run in reverse order of first use.
            LATE.with(|_| ());
            let first: Vec<_> = (0..2 * BATCH as u64 + 5).map(|i| EXITS.alloc(i)).collect();
            let freed: Vec<_> = first.iter().map(|h| h.as_ptr()).collect();
            drop(first);
            let mut second: Vec<_> = (0..2 * BATCH as u64 + 5).map(|i| EXITS.alloc(i)).collect();
            assert!(
                second.iter().all(|h| !freed.contains(&h.as_ptr())),
                "freed slots go behind the older free ones"
            );
            // Leaves slots in both batches of this thread's cache.
            second.truncate(BATCH);
            LATE.with(|late| late.borrow_mut().0.extend(second));
        })
        .join()
        .unwrap();
        assert!(
            EXITS.cache_index().is_some(),
            "EXITS got no per-thread cache: more pools than MAX_CACHED_POOLS"
        );
        assert!(
            LATE_RAN_WITHOUT_CACHES.load(Ordering::SeqCst),
            "the fallback to the free list was exercised"
        );
        let committed = EXITS.limit.load(Ordering::Acquire) - EXITS.base.load(Ordering::Acquire);
        assert_eq!(
            EXITS.free.lock().slots.len(),
            committed / std::mem::size_of::<Slot<u64>>(),
            "every slot is back on the free list"
        );
    }

    #[test]
    fn release_with_runs_last_once_and_allows_revival() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let a = POOL.alloc(Counted(&DROPS));
        let b = a.clone();
        let calls = AtomicUsize::new(0);
        a.release_with(|_| {
            calls.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(calls.load(Ordering::SeqCst), 0, "not the last reference");
        let kept = std::cell::RefCell::new(None);
        b.release_with(|last| {
            calls.fetch_add(1, Ordering::SeqCst);
            *kept.borrow_mut() = Some(last.clone());
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let before = DROPS.load(Ordering::SeqCst);
        drop(kept.into_inner());
        assert_eq!(
            DROPS.load(Ordering::SeqCst),
            before + 1,
            "freed by the reviver"
        );
    }

    #[test]
    fn many_threads_alloc_and_free() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let before = DROPS.load(Ordering::SeqCst);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        let h = POOL.alloc(Counted(&DROPS));
                        let c = h.clone();
                        drop(h);
                        drop(c);
                    }
                });
            }
        });
        assert!(DROPS.load(Ordering::SeqCst) >= before + 40_000);
    }
}
