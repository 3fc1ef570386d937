//! The injector: where work submitted from outside the pool waits, first in
//! first out (E2), until a worker takes it into its own deque.
//!
//! A list of blocks of `BLOCK` items with two locks, one per end (the
//! two-lock queue): submitters append at the tail under the tail lock,
//! workers take batches from the head under the head lock, and each end's
//! lock, position and count live on cache lines of their own (the tail's
//! lock is a spin lock, released by a plain store: see `SpinLock`). A block the
//! workers emptied is kept as the next one the submitters fill, so a stream
//! of tasks allocates nothing.
//!
//! It replaced crossbeam's `Injector`, which allocated and zeroed a block
//! for every 63 items and had the workers free it: the submitting thread
//! and the workers then met in the malloc arena's lock (after the handle
//! pools' lock was fixed, most of the futex calls left in B-W5: ~1,700 in
//! 5 runs; now ~360 in all, none of them malloc's), and with more worker
//! threads than CPUs a worker preempted while holding it stalled the
//! others. Here nothing but memory is touched under either lock, and a
//! worker that finds the head lock taken does not sleep on it: it spins a
//! little, then yields its CPU (the holder may be waiting for that CPU)
//! until the head is free or empty.
//!
//! The tail is also where the pool closes to submits from outside: `close`
//! sets a flag under the tail lock, and a push that finds one refuses its
//! item. Every push takes that lock anyway, so a submit needs no counter of
//! its own for a shutdown to wait on: once `close` returns, nothing more
//! comes in through the tail.
//!
//! Hand-off: the submitter writes an item, then publishes it by storing the
//! new `pushed` count (Release); a worker reads `pushed` (Acquire) and takes
//! only items below it. A block's `next` is written before the first item
//! of the next block is published, so a worker that reaches the end of a
//! block always finds it.

use super::Padded;
use crate::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use crate::sync::{Mutex, SpinLock};
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr;

/// Items per block.
const BLOCK: usize = 64;

struct Block<T> {
    items: [UnsafeCell<MaybeUninit<T>>; BLOCK],
    /// The block after this one; set by the tail before any item there is
    /// published.
    next: AtomicPtr<Block<T>>,
}

impl<T> Block<T> {
    fn new() -> *mut Block<T> {
        Box::into_raw(Box::new(Block {
            items: [const { UnsafeCell::new(MaybeUninit::uninit()) }; BLOCK],
            next: AtomicPtr::new(ptr::null_mut()),
        }))
    }
}

/// One end of the queue: the block it is in and its place there.
struct End<T> {
    block: *mut Block<T>,
    index: usize,
    /// Items this end has moved so far (its own copy of its counter).
    count: usize,
    /// The tail's: the flags it was closed with (0: open); see `close`.
    closed: usize,
}

pub(super) struct Injector<T> {
    /// A spin lock: taken once per submit, nearly always by the same thread
    /// (see `crate::sync::SpinLock`).
    tail: Padded<SpinLock<End<T>>>,
    /// Items ever pushed: written by the tail only, under its lock.
    pushed: Padded<AtomicUsize>,
    head: Padded<Mutex<End<T>>>,
    /// Items ever taken: written by the head only, under its lock.
    taken: Padded<AtomicUsize>,
    /// A block the head emptied, for the tail's next one (or null).
    spare: AtomicPtr<Block<T>>,
}

// SAFETY: the blocks' items move between threads (`T: Send`) and are reached
// only under the lock of the end that owns them (see the module comment); the
// raw block pointers are owned by the queue.
unsafe impl<T: Send> Send for Injector<T> {}
// SAFETY: as for Send: every access to an item or a block pointer is under
// one of the two locks or through the atomics.
unsafe impl<T: Send> Sync for Injector<T> {}

impl<T> Injector<T> {
    pub(super) fn new() -> Injector<T> {
        let first = Block::new();
        let end = || End {
            block: first,
            index: 0,
            count: 0,
            closed: 0,
        };
        Injector {
            tail: Padded(SpinLock::new(end())),
            pushed: Padded(AtomicUsize::new(0)),
            head: Padded(Mutex::new(end())),
            taken: Padded(AtomicUsize::new(0)),
            spare: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Appends `item`, after `admit` has stamped it under the tail lock
    /// (so that it can number items in the order they go in); or, once the
    /// queue is closed, gives it back unstamped with the flags it was
    /// closed with.
    pub(super) fn push(&self, mut item: T, admit: impl FnOnce(&mut T)) -> Result<(), (T, usize)> {
        // Workers read `pushed` as they look for work: its line is most
        // likely shared with them, and storing to it under the lock would
        // wait for it.
        crate::sync::prefetch_for_write(&self.pushed.0 as *const AtomicUsize as usize);
        let mut tail = self.tail.lock();
        if tail.closed != 0 {
            return Err((item, tail.closed));
        }
        admit(&mut item);
        if tail.index == BLOCK {
            let next = match self.spare.swap(ptr::null_mut(), Ordering::Acquire) {
                p if p.is_null() => Block::new(),
                p => {
                    // SAFETY: a spare block is ours alone once swapped out.
                    unsafe { (*p).next.store(ptr::null_mut(), Ordering::Relaxed) };
                    p
                }
            };
            // SAFETY: the tail's block is live (the head frees a block only
            // after moving past it, and it cannot pass the tail).
            unsafe { (*tail.block).next.store(next, Ordering::Release) };
            tail.block = next;
            tail.index = 0;
        }
        // SAFETY: this slot is past `pushed`, so no worker reads it, and the
        // tail lock makes us its only writer.
        unsafe { (*(*tail.block).items[tail.index].get()).write(item) };
        tail.index += 1;
        tail.count += 1;
        self.pushed.store(tail.count, Ordering::Release);
        if tail.index < BLOCK {
            // The next slot was last read by a worker that took its item
            // out (blocks are reused): fetch its lines now, while the caller
            // goes on, rather than on the next push, under the lock.
            // SAFETY: the tail's block is live (see above); only an
            // address is taken.
            let next = unsafe { (*tail.block).items[tail.index].get() } as usize;
            crate::sync::prefetch_for_write(next);
            crate::sync::prefetch_for_write(next + std::mem::size_of::<T>() - 1);
        }
        Ok(())
    }

    /// Refuses every later push, with `flag` among the flags it answers.
    /// A push that got the tail first has published its item when this
    /// returns.
    pub(super) fn close(&self, flag: usize) {
        self.tail.lock().closed |= flag;
    }

    /// How many items it holds (a snapshot).
    pub(super) fn len(&self) -> usize {
        let taken = self.taken.load(Ordering::Acquire);
        self.pushed.load(Ordering::Acquire).saturating_sub(taken)
    }

    /// Whether it holds no item (a snapshot).
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes up to `limit` of the oldest items, oldest first, into `into`.
    /// None when the head is busy with another worker (it does not wait).
    pub(super) fn try_take(&self, limit: usize, into: impl FnMut(T)) -> Option<usize> {
        let head = self.head.try_lock()?;
        Some(self.take_locked(head, limit, into))
    }

    /// `try_take` that waits for the head, and takes everything (E6, T7).
    pub(super) fn take_all(&self, into: impl FnMut(T)) -> usize {
        self.take_locked(self.head.lock(), usize::MAX, into)
    }

    fn take_locked(
        &self,
        mut head: crate::sync::MutexGuard<'_, End<T>>,
        limit: usize,
        mut into: impl FnMut(T),
    ) -> usize {
        let available = self.pushed.load(Ordering::Acquire) - head.count;
        let n = available.min(limit);
        let End { block, index, .. } = &mut *head;
        // SAFETY: the head lock makes us the only reader of the items below
        // `pushed` and past the head, and of the blocks the head moves past.
        unsafe { take_from(block, index, n, |b| self.recycle(b), &mut into) };
        head.count += n;
        self.taken.store(head.count, Ordering::Release);
        n
    }

    /// Keeps an emptied block for the tail, or frees it if one is kept.
    fn recycle(&self, block: *mut Block<T>) {
        let old = self.spare.swap(block, Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: the spare block is no longer reached by either end,
            // and the swap made it ours.
            drop(unsafe { Box::from_raw(old) });
        }
    }
}

impl<T> Drop for Injector<T> {
    /// Drops what is still queued and frees the blocks, taking no lock: a
    /// pool inherited by a forked child may be dropped there, where a lock
    /// held by a parent thread at the fork stays held.
    fn drop(&mut self) {
        let pushed = self.pushed.load(Ordering::Acquire);
        let head = self.head.0.get_mut();
        let (mut block, mut index) = (head.block, head.index);
        let free = |b: *mut Block<T>| {
            // SAFETY: we own every block now, and the walk is past this one.
            drop(unsafe { Box::from_raw(b) })
        };
        // SAFETY: `&mut self`: nothing else reads the queued items.
        unsafe { take_from(&mut block, &mut index, pushed - head.count, free, drop) };
        // The rest, up to the tail's block: no live item in any of them.
        while !block.is_null() {
            // SAFETY: as above.
            let b = unsafe { Box::from_raw(block) };
            block = b.next.load(Ordering::Acquire);
        }
        let spare = self.spare.load(Ordering::Acquire);
        if !spare.is_null() {
            // SAFETY: the spare block is ours alone and holds no item.
            drop(unsafe { Box::from_raw(spare) });
        }
    }
}

/// Moves the `n` items from (`block`, `index`) on into `into`, oldest
/// first, handing each block it moves past to `done` (its items all moved
/// out), and leaves (`block`, `index`) just past them.
///
/// # Safety
/// The `n` items are published (below `pushed`) and not taken, and the
/// caller is their only reader (the head lock, or `&mut` on the queue).
unsafe fn take_from<T>(
    block: &mut *mut Block<T>,
    index: &mut usize,
    n: usize,
    mut done: impl FnMut(*mut Block<T>),
    mut into: impl FnMut(T),
) {
    for _ in 0..n {
        if *index == BLOCK {
            // SAFETY: an item is published past this full block, and the
            // tail links the next block before publishing anything in it.
            let next = unsafe { (**block).next.load(Ordering::Acquire) };
            done(*block);
            *block = next;
            *index = 0;
        }
        // SAFETY: published, written once, not taken (the caller's promise).
        into(unsafe { (*(**block).items[*index].get()).assume_init_read() });
        *index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn take(q: &Injector<usize>, limit: usize) -> Vec<usize> {
        let mut out = Vec::new();
        q.try_take(limit, |x| out.push(x)).expect("head free");
        out
    }

    /// E2: items leave in the order they came, across blocks, in batches.
    #[test]
    fn first_in_first_out_across_blocks() {
        let q = Injector::new();
        assert!(q.is_empty());
        for i in 0..(3 * BLOCK + 5) {
            q.push(i, |_| {}).unwrap();
        }
        assert!(!q.is_empty());
        let mut got = Vec::new();
        while !q.is_empty() {
            got.extend(take(&q, 17));
        }
        assert_eq!(got, (0..(3 * BLOCK + 5)).collect::<Vec<_>>());
        assert!(take(&q, 17).is_empty());
    }

    /// Emptied blocks are reused and everything still queued is dropped
    /// with the queue (no leak: miri and the sanitizers check).
    #[test]
    fn interleaved_and_dropped_with_items_left() {
        let q = Injector::new();
        let mut next = 0;
        let mut expect = 0;
        for round in 0..20 {
            for _ in 0..(BLOCK / 2 + round) {
                q.push(Arc::new(next), |_| {}).unwrap();
                next += 1;
            }
            let mut got = Vec::new();
            q.try_take(BLOCK / 3, |x: Arc<usize>| got.push(*x)).unwrap();
            for x in got {
                assert_eq!(x, expect);
                expect += 1;
            }
        }
        assert!(!q.is_empty());
    }

    /// A closed queue refuses pushes with its flags (accumulated) and gives
    /// the item back unstamped; what it admitted before is still taken.
    #[test]
    fn closed_refuses_and_keeps_what_it_admitted() {
        let q = Injector::new();
        q.push(1, |x| *x += 10).unwrap();
        q.close(0b01);
        assert_eq!(q.push(2, |x| *x += 10), Err((2, 0b01)));
        q.close(0b10);
        assert_eq!(q.push(3, |_| unreachable!()), Err((3, 0b11)));
        assert_eq!(take(&q, 5), vec![11]);
        assert!(q.is_empty());
    }

    /// One pushing and two taking threads: every item taken exactly once,
    /// each taker seeing increasing items.
    #[test]
    fn concurrent_takers_get_each_item_once() {
        let n = if cfg!(miri) { 300 } else { 20_000 };
        let q = Arc::new(Injector::new());
        let takers: Vec<_> = (0..2)
            .map(|_| {
                let q = Arc::clone(&q);
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while q.taken.load(Ordering::Acquire) < n {
                        let _ = q.try_take(7, |x| got.push(x));
                        std::thread::yield_now();
                    }
                    got
                })
            })
            .collect();
        for i in 0..n {
            q.push(i, |_| {}).unwrap();
        }
        let mut all = Vec::new();
        for t in takers {
            let got = t.join().unwrap();
            assert!(got.windows(2).all(|w| w[0] < w[1]), "in order");
            all.extend(got);
        }
        q.take_all(|x| all.push(x));
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }
}
