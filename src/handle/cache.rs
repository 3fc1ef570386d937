//! Per-thread caches of free slots (see the module comment of `handle`).

use super::{FreeList, BATCH, MAX_CACHED_POOLS};
use crate::fork::ForkMutex;
use std::cell::RefCell;

/// How many allocations ahead a cache fetches the slot it will hand out.
/// A slot handed out was most likely freed by another thread (a worker
/// that completed a future), so its line sits in another core's cache.
/// Fetching only the next one left most of that miss on the allocation
/// path (70 % of `Pool::alloc_counted`'s samples in B-W5 with 16 workers,
/// 8 % of the whole run's).
const PREFETCH_AHEAD: usize = 4;

/// Up to `BATCH` slot addresses, on the heap: allocated when the thread
/// first uses the pool, so that a thread's share of the library's static
/// TLS stays a few hundred bytes however large `BATCH` is.
pub(super) struct Batch {
    slots: Vec<usize>,
}

impl Batch {
    pub(super) const EMPTY: Batch = Batch { slots: Vec::new() };

    pub(super) fn pop(&mut self) -> Option<usize> {
        let slot = self.slots.pop()?;
        if let Some(ahead) = self.slots.len().checked_sub(PREFETCH_AHEAD) {
            crate::sync::prefetch_for_write(self.slots[ahead]);
        }
        Some(slot)
    }

    /// Starts fetching the slots the next `PREFETCH_AHEAD` pops hand out
    /// (after a refill; from then on each pop fetches the one that many
    /// further on).
    pub(super) fn prefetch_next(&self) {
        for &slot in self.slots.iter().rev().take(PREFETCH_AHEAD) {
            crate::sync::prefetch_for_write(slot);
        }
    }

    /// Adds `slot`; true if the batch is full now.
    pub(super) fn push(&mut self, slot: usize) -> bool {
        if self.slots.capacity() == 0 {
            self.slots.reserve_exact(BATCH);
        }
        self.slots.push(slot);
        self.slots.len() >= BATCH
    }

    /// Empties the batch, yielding what it held, first pushed first (its
    /// buffer is kept).
    pub(super) fn take(&mut self) -> std::vec::Drain<'_, usize> {
        self.slots.drain(..)
    }
}

/// One thread's free slots of one pool, held off the pool's free list.
pub(super) struct Cache {
    /// The pool's free list; `None` until this thread first uses the pool.
    pub(super) list: Option<&'static ForkMutex<FreeList>>,
    /// Slots taken off the head of the list, to allocate from; the next one
    /// (the longest free) is the last.
    pub(super) fresh: Batch,
    /// Slots this thread freed, in order, bound for the tail of the list.
    pub(super) freed: Batch,
}

impl Cache {
    pub(super) const EMPTY: Cache = Cache {
        list: None,
        fresh: Batch::EMPTY,
        freed: Batch::EMPTY,
    };

    /// Appends the freed slots to the tail of the list.
    pub(super) fn flush_freed(&mut self, list: &mut FreeList) {
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
pub(super) struct ThreadCaches(pub(super) [Cache; MAX_CACHED_POOLS]);

impl Drop for ThreadCaches {
    fn drop(&mut self) {
        for cache in &mut self.0 {
            let Some(list) = cache.list else { continue };
            let mut list = list.lock();
            // `fresh` holds the next slot last, so pushing to the front in
            // order restores the order they were taken in.
            for slot in cache.fresh.take() {
                list.slots.push_front(slot);
            }
            cache.flush_freed(&mut list);
        }
    }
}

thread_local! {
    pub(super) static CACHES: RefCell<ThreadCaches> =
        const { RefCell::new(ThreadCaches([Cache::EMPTY; MAX_CACHED_POOLS])) };
}
