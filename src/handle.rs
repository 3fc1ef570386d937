//! Type-stable, reference-counted slots with checked identities: the memory
//! of futures, and of every object the C skin hands out a handle to.
//!
//! A caller may hand back an identity it has already released, or one of
//! another type. To refuse it instead of reading freed memory, every value
//! lives in a slot of a per-type pool whose memory is never returned, and an
//! identity (`Shared::as_ptr`, the C handle) is not the slot's address but
//! its offset in the pool and its *generation*: a 32-bit count of the slot's
//! reuses, bumped when the slot is freed. A stale identity names an older generation
//! and is refused for the next 2^32 - 1 reuses of its slot; the generation is
//! offset by a per-pool salt, so that another pool's identity does not match
//! either. Freed slots also go to the back of a FIFO free list, so a slot is
//! reused only after every slot freed before it.
//!
//! The generation and the reference count share one 64-bit word, so that
//! releasing through an identity (`Pool::release_raw`) checks that it is
//! current and takes a reference away in one compare-and-swap: of two threads
//! releasing the last reference at once, one wins and the other is refused;
//! a count never goes below zero and a slot is never freed twice.
//!
//! Each pool reserves one contiguous range of address space (no memory, just
//! addresses) and commits pages at its end as it grows, so checking an
//! identity is a few shifts, one range test and one load. This matters for
//! `fut_wait` over 10^6 handles.
//!
//! The free list is behind one process-wide lock per pool. So that allocating
//! and freeing do not take it every time, each thread keeps a small cache per
//! pool (see `ThreadCaches`): it takes up to `BATCH` slots off the head of the
//! list at once and allocates from them, and it gathers the slots it frees and
//! appends them to the tail of the list `BATCH` at a time. A freed slot thus
//! still waits behind every slot freed before it, and is never handed out
//! again straight away by the thread that freed it.

mod cache;

use crate::fork::ForkMutex;
use cache::{Cache, CACHES};
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The slot word: the generation in the high 32 bits; below it, `REVIVING`
/// and the reference count. A free slot has count 0 (and zero-filled memory
/// is a free slot of generation 0).
const COUNT_MASK: u64 = 0x7fff_ffff;
/// Set while the holder of a slot's last reference runs `last` on it (see
/// `Shared::revive_and_finish`): the slot is live, and that last reference
/// is the reviver's, which no release through a handle can take.
const REVIVING: u64 = 0x8000_0000;
const GEN_SHIFT: u32 = 32;
/// Address space reserved per handle type, tried first; halved on failure
/// (e.g. under `ulimit -v`) down to `MIN_RESERVE`. Just under 4 GiB: an
/// identity's low 32 bits hold a slot's end offset (64M futures at most).
const RESERVE: usize = (4 << 30) - (64 << 10);
const MIN_RESERVE: usize = 16 << 20;
/// The first commit; each later one doubles what is committed.
const FIRST_COMMIT: usize = 64 << 10;
/// Slots a thread takes off the free list, or gives back to it, at once.
/// The list's lock is where a thread that only allocates (a submitter) and
/// one that only frees (a worker completing the futures) meet, once per
/// batch each: with 32, that lock's taking and releasing was a fifth of the
/// submitting thread's time in B-W5; 128 made B-W5 8-15 % faster in three
/// interleaved A/Bs on 2 CPUs (B-W1 within noise, B-W3 with 16 workers
/// between 7 % slower and 14 % faster: noise).
const BATCH: usize = 128;
/// Pools that get per-thread caches; any further pool always takes the lock.
/// The library has 5 and its unit tests add 3: room to spare, so that a new
/// pool does not silently lose its cache (56 bytes of TLS per pool per thread,
/// and 2 KiB of heap for each pool the thread uses).
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
    /// Generation and reference count (see `COUNT_MASK`).
    word: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

fn count(word: u64) -> u64 {
    word & COUNT_MASK
}

fn generation(word: u64) -> u32 {
    (word >> GEN_SHIFT) as u32
}

/// The word after one reference (count > 0) is released: the last one
/// (count 1, not reviving) is not dropped but marked `REVIVING`, handed to
/// whoever released it (see `is_last`).
fn release_step(word: u64) -> u64 {
    if count(word) == 1 && word & REVIVING == 0 {
        word | REVIVING
    } else {
        word - 1
    }
}

/// Whether `release_step` on `word` (the word before it) handed over the
/// last reference.
fn is_last(word: u64) -> bool {
    count(word) == 1 && word & REVIVING == 0
}

struct FreeList {
    /// Addresses of the free slots, the longest free first.
    slots: VecDeque<usize>,
    reserved: usize,
    committed: usize,
}

pub(crate) struct Pool<T> {
    /// Added to the generation in an identity: a pool's identities do not
    /// match another pool's slots.
    salt: u32,
    free: ForkMutex<FreeList>,
    /// 1 + this pool's index in every thread's `ThreadCaches`, 0 until
    /// assigned, `UNCACHED` if there was none left.
    cache: AtomicUsize,
    /// Start of the reserved range; 0 until the first allocation.
    base: AtomicUsize,
    /// End of the slots handed to the free list so far.
    limit: AtomicUsize,
    /// The range as a pointer under miri: memory a static reaches is not
    /// a leak to it.
    #[cfg(miri)]
    miri_root: std::sync::atomic::AtomicPtr<u8>,
    _slots: std::marker::PhantomData<T>,
}

// SAFETY: the range is described by atomics; the free list is behind a mutex
// (per-thread caches hold slot addresses only); the values in slots are only
// reached through `Shared<T>`, which requires T: Sync + Send.
unsafe impl<T: Send + Sync> Sync for Pool<T> {}

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
    /// A pool; `tag` (distinct per pool) chooses the salt of its identities.
    pub(crate) const fn new(tag: u32) -> Self {
        Pool {
            // Spread the bits: tags differing in one bit give salts far apart.
            salt: tag.wrapping_mul(0x9e37_79b9) ^ (tag >> 16),
            free: ForkMutex::new(FreeList {
                slots: VecDeque::new(),
                reserved: 0,
                committed: 0,
            }),
            cache: AtomicUsize::new(0),
            base: AtomicUsize::new(0),
            limit: AtomicUsize::new(0),
            #[cfg(miri)]
            miri_root: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
            _slots: std::marker::PhantomData,
        }
    }

    /// Under miri, which maps no PROT_NONE memory: a small range, readable
    /// and zeroed from the start (`grow` then has nothing to commit).
    #[cfg(miri)]
    fn reserve(&self, free: &mut FreeList) {
        let size = 1 << 20;
        let layout = std::alloc::Layout::from_size_align(size, page_size()).unwrap();
        // SAFETY: a non-zero size; never freed, like the mapping it stands for.
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!p.is_null(), "cannot reserve memory for handles");
        self.miri_root.store(p, Ordering::Release);
        free.reserved = size;
        self.base.store(p as usize, Ordering::Release);
        self.limit.store(p as usize, Ordering::Release);
    }

    #[cfg(not(miri))]
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
        #[cfg(not(miri))]
        let rc = unsafe {
            libc::mprotect(
                (base + free.committed) as *mut libc::c_void,
                new_committed - free.committed,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        #[cfg(miri)]
        let rc = 0; // `reserve` made it all readable and writable
        if rc != 0 {
            std::alloc::handle_alloc_error(
                std::alloc::Layout::from_size_align(new_committed - free.committed, page).unwrap(),
            );
        }
        let size = std::mem::size_of::<Slot<T>>();
        let first = free.committed.div_ceil(size);
        let end = new_committed / size;
        free.committed = new_committed;
        // Fresh pages are zero-filled: generation 0 and no references, which
        // is a valid free slot (the value stays uninitialised).
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
            drop(list);
            let slot = cache.fresh.pop().expect("grown free list");
            cache.fresh.prefetch_next();
            slot
        });
        cached.unwrap_or_else(|| {
            let mut list = self.free.lock();
            if list.slots.is_empty() {
                self.grow(&mut list);
            }
            list.slots.pop_front().expect("grown free list")
        })
    }

    /// Gives back a slot the caller owns (already freed: count 0, new generation).
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
        self.alloc_counted(value, 1)
    }

    /// Moves `value` into a fresh slot with two references, both returned:
    /// a `clone` without its atomic step, for a maker that keeps one.
    pub(crate) fn alloc_pair(&'static self, value: T) -> (Shared<T>, Shared<T>) {
        let first = self.alloc_counted(value, 2);
        let second = Shared {
            slot: first.slot,
            pool: self,
        };
        (first, second)
    }

    fn alloc_counted(&'static self, value: T, refs: u64) -> Shared<T> {
        let slot = NonNull::new(self.take_slot() as *mut Slot<T>).expect("slots are not null");
        // SAFETY: the slot was free and is now ours, so no one else uses it.
        unsafe {
            let s = slot.as_ref();
            (*s.value.get()).write(value);
            let gen = s.word.load(Ordering::Relaxed) & !COUNT_MASK & !REVIVING;
            s.word.store(gen | refs, Ordering::Release);
        }
        Shared { slot, pool: self }
    }

    /// The identity of the slot at `slot` in generation `gen`: the salted
    /// generation in the high 32 bits, the offset of the slot's end from the
    /// pool's base in the low 32 (never 0; consecutive slots' identities
    /// are one slot apart, aligned like the slots).
    fn identity(&self, slot: usize, gen: u32) -> usize {
        let base = self.base.load(Ordering::Relaxed);
        let end = slot - base + std::mem::size_of::<Slot<T>>();
        let hi = gen.wrapping_add(self.salt) as usize;
        (hi << GEN_SHIFT) | end
    }

    /// The slot an identity names and the generation it expects, if the
    /// slot lies in the committed range. Reads no memory but the pool's.
    fn decode(&self, p: *const u8) -> Option<(&Slot<T>, u32)> {
        let id = p as usize;
        let size = std::mem::size_of::<Slot<T>>();
        let end = id & 0xffff_ffff;
        if end == 0 || end % size != 0 {
            return None;
        }
        let base = self.base.load(Ordering::Acquire);
        let limit = self.limit.load(Ordering::Acquire);
        let addr = base.checked_add(end - size)?;
        if base == 0 || addr >= limit {
            return None;
        }
        let gen = ((id >> GEN_SHIFT) as u32).wrapping_sub(self.salt);
        // SAFETY: `addr` is a slot boundary inside our committed range, which
        // is never unmapped, so reading its atomic word is always defined.
        Some((unsafe { &*(addr as *const Slot<T>) }, gen))
    }

    /// The slot behind `p` if `p` is the identity of a live slot.
    fn live_slot(&self, p: *const u8) -> Option<NonNull<Slot<T>>> {
        let (s, gen) = self.decode(p)?;
        let word = s.word.load(Ordering::Acquire);
        if generation(word) == gen && count(word) > 0 {
            Some(NonNull::from(s))
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

    /// Gives back the reference a C caller holds behind `p` (`*_release`):
    /// false, and nothing changes, if `p` is not a live identity or holds no
    /// reference a caller could give back (a double release). The
    /// generation check and the release are one compare-and-swap, so a
    /// racing release, or a free and reuse of the slot, cannot slip in
    /// between. The last reference goes as in `Shared::release_with`.
    pub(crate) fn release_raw(&'static self, p: *const u8, last: impl FnOnce(&Shared<T>)) -> bool {
        let Some((s, gen)) = self.decode(p) else {
            return false;
        };
        let step = s
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                // While `last` runs, a count of 1 is the reviver's own: no caller
                // holds one to give back.
                if generation(w) != gen || count(w) == 0 || (count(w) == 1 && w & REVIVING != 0) {
                    None
                } else {
                    Some(release_step(w))
                }
            });
        let Ok(word) = step else {
            return false;
        };
        if is_last(word) {
            let this = std::mem::ManuallyDrop::new(Shared {
                slot: NonNull::from(s),
                pool: self,
            });
            this.revive_and_finish(last);
        }
        true
    }

    /// Test hook: sets the generation of the next slot this thread will
    /// allocate (for the wrap-around test), returning its address.
    #[cfg(test)]
    fn set_next_generation(&'static self, gen: u32) -> usize {
        let probe = self.alloc_probe();
        // SAFETY: a committed slot; it is free and owned by this thread's cache.
        let s = unsafe { &*(probe as *const Slot<T>) };
        s.word.store((gen as u64) << GEN_SHIFT, Ordering::Relaxed);
        probe
    }

    #[cfg(test)]
    fn alloc_probe(&'static self) -> usize {
        let slot = self.take_slot();
        // Put it back at the front of this thread's cache: the next alloc gets it.
        let cached = self.with_cache(|cache| {
            cache.fresh.push(slot);
        });
        assert!(cached.is_some(), "test pools have caches");
        slot
    }
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

    /// The identity handed to C: the slot's index and generation (see the
    /// module comment), not an address; `Pool::borrow` and
    /// `Pool::release_raw` take it back.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        let gen = generation(self.slot().word.load(Ordering::Relaxed));
        self.pool.identity(self.slot.as_ptr() as usize, gen) as *mut u8
    }

    /// Another `Shared` for this reference, counting nothing: it must never
    /// be dropped (hence `ManuallyDrop`) nor outlive `self`.
    #[cfg(test)]
    pub(crate) fn alias(&self) -> std::mem::ManuallyDrop<Shared<T>> {
        std::mem::ManuallyDrop::new(Shared {
            slot: self.slot,
            pool: self.pool,
        })
    }

    /// Whether the holder of the last reference is running its `last` on
    /// this slot (`revive_and_finish`).
    pub(crate) fn reviving(&self) -> bool {
        self.slot().word.load(Ordering::Acquire) & REVIVING != 0
    }

    /// The slot this reference names. With `from_slot`, a holder whose
    /// pool is known from its type keeps one word instead of two (`Future`:
    /// arrays of futures, work items and the borrowed handles of `fut_wait`
    /// are half the size).
    pub(crate) fn slot_ptr(&self) -> NonNull<Slot<T>> {
        self.slot
    }

    /// This reference as its slot alone, counted still (see `slot_ptr`).
    pub(crate) fn into_slot(self) -> NonNull<Slot<T>> {
        let slot = self.slot;
        std::mem::forget(self);
        slot
    }

    /// The reference that `into_slot` (or a borrowed `slot_ptr`) left.
    ///
    /// # Safety
    /// `slot` is a slot of `pool` on which the caller holds a reference (or,
    /// for a view that must never be dropped, one that outlives the view).
    pub(crate) unsafe fn from_slot(slot: NonNull<Slot<T>>, pool: &'static Pool<T>) -> Shared<T> {
        Shared { slot, pool }
    }

    /// The value in a slot named by a reference the caller holds.
    ///
    /// # Safety
    /// The caller holds a reference on `slot` for at least `'a`.
    pub(crate) unsafe fn value_of<'a>(slot: NonNull<Slot<T>>) -> &'a T {
        // SAFETY: a slot with a reference is live and holds an initialised
        // value, which stays while the caller's reference does.
        unsafe { (*slot.as_ref().value.get()).assume_init_ref() }
    }

    /// Gives this reference to C; get it back with `Pool::release_raw`.
    pub(crate) fn into_raw(self) -> *mut u8 {
        let p = self.as_ptr();
        std::mem::forget(self);
        p
    }

    /// Drops one reference, or, for the last one (`is_last`), hands it to
    /// the caller, who must then `revive_and_finish`. The count never goes
    /// below zero: a count stolen by a caller's double release makes a later
    /// release here a no-op (at worst a leak), never an underflow.
    fn release_ref(&self) -> bool {
        let step = self
            .slot()
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                (count(w) > 0).then(|| release_step(w))
            });
        matches!(step, Ok(w) if is_last(w))
    }

    /// Drops this reference. If it was the last one, `last` first runs with the
    /// value still live, so that it can still hand the value to callbacks
    /// (which may retain it anew); the value is freed once nobody did.
    /// `last` must leave the value so that running it again is a no-op.
    pub(crate) fn release_with(self, last: impl FnOnce(&Shared<T>)) {
        let this = std::mem::ManuallyDrop::new(self);
        if this.release_ref() {
            this.revive_and_finish(last);
        }
    }

    /// Runs `last` on a slot whose last reference the caller holds, marked
    /// `REVIVING` (see `release_step`), then drops that reference: the slot
    /// is freed unless `last` gave out new references that are still held.
    /// While `last` runs, handles to the slot are live for `Pool::borrow`
    /// (callbacks get the handle), but `Pool::release_raw` finds no
    /// reference of a caller's to give back unless a callback retained one.
    fn revive_and_finish(&self, last: impl FnOnce(&Shared<T>)) {
        last(self);
        let word = &self.slot().word;
        let before = word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                Some((w - count(w).min(1)) & !REVIVING)
            })
            .expect("always updates");
        if count(before) <= 1 {
            // SAFETY: our reference was the only one left (or was taken by
            // a caller's double release): nobody holds a reference, and
            // with REVIVING gone none can be given back or taken any more.
            unsafe { self.free() };
        }
    }

    /// Drops the value and returns the slot to the pool.
    ///
    /// # Safety
    /// The reference count must have reached zero through the caller.
    unsafe fn free(&self) {
        let s = self.slot();
        // A new generation first: from now on this slot's old identities
        // are refused.
        let gen = generation(s.word.load(Ordering::Relaxed)).wrapping_add(1);
        s.word.store((gen as u64) << GEN_SHIFT, Ordering::Release);
        // SAFETY: the caller owns the slot; the value was initialised by alloc.
        unsafe { (*s.value.get()).assume_init_drop() };
        self.pool.put_slot(self.slot.as_ptr() as usize);
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        self.slot().word.fetch_add(1, Ordering::Relaxed);
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
mod tests;
