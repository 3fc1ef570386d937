//! Unit tests of the slot pools: identities, generations, racing releases.

use super::*;
use std::cell::RefCell;
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
    assert!(POOL.release_raw(p, |_| {}));
    assert_eq!(
        DROPS.load(Ordering::SeqCst),
        1,
        "value dropped exactly once"
    );
    assert!(POOL.borrow(p).is_none(), "released handle is refused");
    assert!(!POOL.release_raw(p, |_| {}), "a double release is refused");
    assert_eq!(DROPS.load(Ordering::SeqCst), 1, "and drops nothing");
}

#[test]
fn a_stale_handle_stays_refused_while_its_slot_is_reused() {
    static STALE: Pool<u64> = Pool::new(0x7374_616c);
    let p = STALE.alloc(1).into_raw();
    assert!(STALE.release_raw(p, |_| {}));
    let mut seen_again = 0;
    for round in 0..3 {
        let live: Vec<_> = (0..2_100).map(|i| STALE.alloc(i)).collect();
        for h in &live {
            if h.as_ptr() as usize & 0xffff_ffff == p as usize & 0xffff_ffff {
                seen_again += 1;
                assert_ne!(h.as_ptr(), p, "a reused slot has a new identity");
            }
        }
        assert!(STALE.borrow(p).is_none(), "round {round}");
        assert!(!STALE.release_raw(p, |_| {}), "round {round}");
    }
    assert!(seen_again > 0, "the stale handle's slot was reused");
}

#[test]
fn generations_wrap_around() {
    static WRAP: Pool<u64> = Pool::new(0x7772_6170);
    let slot = WRAP.set_next_generation(u32::MAX);
    let a = WRAP.alloc(1);
    assert_eq!(a.slot.as_ptr() as usize, slot, "the prepared slot");
    let old = a.as_ptr();
    assert!(WRAP.borrow(old).is_some());
    drop(a);
    assert!(WRAP.borrow(old).is_none(), "generation MAX, released");
    // SAFETY: a committed slot of this pool (free now).
    let word = unsafe { &(*(slot as *const Slot<u64>)).word };
    assert_eq!(
        word.load(Ordering::SeqCst),
        0,
        "wrapped to generation 0, count 0"
    );
    // Allocate from that very slot again: move it from this thread's
    // freed batch to the front of its fresh one.
    let moved = WRAP.with_cache(|c| {
        let last_freed = c.freed.pop();
        c.fresh.push(last_freed.expect("just freed"));
        last_freed
    });
    assert_eq!(moved.flatten(), Some(slot));
    let b = WRAP.alloc(2);
    assert_eq!(b.slot.as_ptr() as usize, slot);
    assert_ne!(b.as_ptr(), old);
    assert!(WRAP.borrow(b.as_ptr()).is_some(), "generation 0 is live");
    assert!(WRAP.borrow(old).is_none(), "the old identity still refused");
}

#[test]
fn racing_releases_of_the_last_reference_free_once() {
    static RACE: Pool<Counted> = Pool::new(0x7261_6365);
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    static LASTS: AtomicUsize = AtomicUsize::new(0);
    // Fewer under miri, which interprets every step (the race is the same).
    const N: usize = if cfg!(miri) { 50 } else { 4_000 };
    let handles: Vec<usize> = (0..N)
        .map(|_| RACE.alloc(Counted(&DROPS)).into_raw() as usize)
        .collect();
    let accepted = AtomicUsize::new(0);
    let barrier = std::sync::Barrier::new(3);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                barrier.wait();
                for &h in &handles {
                    // Like a future's `last`, this one takes no counted
                    // reference (`Shared::alias`).
                    let ok = RACE.release_raw(h as *const u8, |last| {
                        let view = last.alias();
                        assert!(view.reviving());
                        LASTS.fetch_add(1, Ordering::SeqCst);
                    });
                    if ok {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    // Reuse slots meanwhile: a slot handed out twice would
                    // show as two live values in one slot.
                    drop(RACE.alloc(Counted(&DROPS)));
                }
            });
        }
    });
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        N,
        "one release per handle wins"
    );
    assert_eq!(LASTS.load(Ordering::SeqCst), N, "`last` ran once per value");
    assert_eq!(
        DROPS.load(Ordering::SeqCst),
        N + 3 * N,
        "each value dropped once"
    );
}

#[test]
fn foreign_and_misaligned_pointers_are_refused() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    let a = POOL.alloc(Counted(&DROPS));
    let p = a.as_ptr();
    // A handle is an identity, not a pointer into an allocation: `add`
    // on it was undefined behaviour (miri); only the address is wanted.
    assert!(POOL.borrow(p.wrapping_add(1)).is_none());
    let local = 5u64;
    assert!(POOL.borrow(&local as *const u64 as *const u8).is_none());
    assert!(POOL.borrow(std::ptr::null()).is_none());
    assert!(POOL.borrow(usize::MAX as *const u8).is_none());
    let o = OTHER.alloc(7);
    assert!(POOL.borrow(o.as_ptr()).is_none(), "another type's handle");
    assert!(OTHER.borrow(p).is_none());
}

#[test]
fn released_slots_are_reused_last() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    let a = POOL.alloc(Counted(&DROPS));
    let p = a.slot;
    drop(a);
    let b = POOL.alloc(Counted(&DROPS));
    assert_ne!(b.slot, p, "FIFO reuse: a freed slot waits its turn");
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
