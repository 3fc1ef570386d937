//! The worker → manager result channel: a byte stream in shared memory.
//!
//! Results used to travel through the result pipe with one `write` per item;
//! on small tasks that system call (and the wake-up of the manager it
//! caused) was most of a worker's time. Now a worker copies its frames into
//! a ring of `RING_BYTES` in a `memfd` mapping shared with the manager and
//! publishes them by advancing `head`. A result is visible to the manager the
//! moment it is published, and stays readable after the worker died (a crash
//! loses nothing it sent, exactly as with the pipe).
//!
//! The result pipe stays: its end of file still tells the manager that the
//! worker is gone, and it carries wake-up tokens. The manager, before it
//! sleeps in `poll`, sets `wake_wanted` and looks at `head` once more; a
//! worker that publishes while `wake_wanted` is set clears it and writes one
//! byte to the pipe. Both sides use sequentially consistent accesses on
//! (`wake_wanted`, `head`), so either the manager sees the new bytes or the
//! worker sees the request (no lost wake-up). A worker that finds the ring
//! full waits on the `writer_waiting` futex in the same way; the manager
//! wakes it after it consumed bytes.

use super::sys;
use std::os::fd::RawFd;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes of result data in flight per worker (the old pipe's buffer size).
pub(crate) const RING_BYTES: usize = 1 << 20;
/// The header page in front of the data.
const HEADER_BYTES: usize = 4096;
const MAP_BYTES: usize = HEADER_BYTES + RING_BYTES;

/// The shared header. `head` and `tail` live on separate cache lines.
#[repr(C)]
struct Header {
    /// Bytes published so far (written by the worker only).
    head: AtomicU64,
    _pad1: [u64; 7],
    /// Bytes consumed so far (written by the manager only).
    tail: AtomicU64,
    _pad2: [u64; 7],
    /// The manager is about to sleep: the next publish sends a token.
    wake_wanted: AtomicU32,
    /// Futex word: the worker waits for room.
    writer_waiting: AtomicU32,
    /// Id of the last task the worker started (0: none yet), written by the
    /// worker just before it calls the task: after a death, the one task
    /// that may be charged with it (tasks only queued to the worker are not).
    started: AtomicU64,
}

/// A shared mapping holding one or more rings; unmapped with the last
/// ring. (Unmapping costs a TLB shootdown on every CPU that runs one of
/// the host's threads, so the workers forked at a pool's start share one.)
pub(crate) struct Mapping {
    base: *mut u8,
    len: usize,
}

impl Mapping {
    /// Marks the mapping `MADV_DONTFORK`: children forked from now on do
    /// not get it.
    pub(crate) fn keep_from_later_forks(&self) {
        sys::dont_fork(self.base, self.len);
    }
}

// SAFETY: the mapping is plain shared memory, owned by this value.
unsafe impl Send for Mapping {}
// SAFETY: as above; `Mapping` itself is never written through.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        sys::unmap(self.base, self.len);
    }
}

/// One ring, in a mapping of the manager or of the worker.
pub(crate) struct Ring {
    base: *mut u8,
    _mapping: Arc<Mapping>,
}

// SAFETY: the mapping stays alive with `_mapping`; the shared header is
// only accessed through atomics, and each side writes only its own part of
// the data area (the worker the free part, the manager nothing).
unsafe impl Send for Ring {}

impl Ring {
    /// `n` rings in one anonymous shared mapping, for workers forked
    /// directly (they inherit it at the same address).
    pub(crate) fn create_inherited(n: usize) -> Result<Vec<Ring>, i32> {
        let len = n * MAP_BYTES;
        let base = sys::map_shared_anonymous(len)?;
        let mapping = Arc::new(Mapping { base, len });
        Ok((0..n)
            .map(|k| Ring {
                // SAFETY: slot k lies inside the mapping of n slots.
                base: unsafe { base.add(k * MAP_BYTES) },
                _mapping: Arc::clone(&mapping),
            })
            .collect())
    }

    /// A new ring: the manager's mapping and the memfd to hand to the worker
    /// (close-on-exec; the caller closes it once the worker has it).
    /// The manager's mapping is not inherited by any later fork (the
    /// worker maps the memfd itself): a worker of another pool, or a child
    /// of the host, must not be able to write into this pool's results.
    pub(crate) fn create() -> Result<(Ring, RawFd), i32> {
        let fd = sys::memfd(c"libfutures-results", MAP_BYTES)?;
        match Ring::map(fd) {
            Ok(r) => {
                r.keep_from_later_forks();
                Ok((r, fd))
            }
            Err(e) => {
                sys::close(fd);
                Err(e)
            }
        }
    }

    /// Maps the ring behind `fd` (the worker's side; the fd may be closed
    /// afterwards).
    pub(crate) fn map(fd: RawFd) -> Result<Ring, i32> {
        let base = sys::map_shared(fd, MAP_BYTES)?;
        Ok(Ring {
            base,
            _mapping: Arc::new(Mapping {
                base,
                len: MAP_BYTES,
            }),
        })
    }

    /// The mapping this ring lies in (shared by the rings of workers forked
    /// directly), to keep it from later forks once they are all forked.
    pub(crate) fn share_mapping(&self) -> Arc<Mapping> {
        Arc::clone(&self._mapping)
    }

    /// In a worker forked directly, which inherits its ring together with
    /// every sibling's (one mapping): unmaps the siblings' rings, so that a
    /// stray write of its task cannot corrupt another worker's results and
    /// be blamed on that worker (X14). Never called in the manager.
    pub(crate) fn unmap_siblings(&self) {
        let start = self._mapping.base as usize;
        let end = start + self._mapping.len;
        let own = self.base as usize;
        if own > start {
            sys::unmap(self._mapping.base, own - start);
        }
        let after = own + MAP_BYTES;
        if after < end {
            sys::unmap(after as *mut u8, end - after);
        }
    }

    fn keep_from_later_forks(&self) {
        self._mapping.keep_from_later_forks();
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping starts with a zero-initialised (memfd) header
        // page, which is a valid `Header` (all atomics), and lives as long
        // as `self`.
        unsafe { &*(self.base as *const Header) }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: the data area follows the header page inside the mapping.
        unsafe { self.base.add(HEADER_BYTES) }
    }

    // ---- manager side ----------------------------------------------------

    /// Bytes published and not yet consumed (may be garbage if the worker
    /// scribbled over the header: `read_into` checks).
    pub(crate) fn has_data(&self) -> bool {
        let h = self.header();
        h.head.load(Ordering::Acquire) != h.tail.load(Ordering::Relaxed)
    }

    /// Before sleeping: asks for a token on the next publish. True when
    /// bytes are already waiting (do not sleep then).
    pub(crate) fn arm(&self) -> bool {
        let h = self.header();
        h.wake_wanted.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.has_data()
    }

    /// After sleeping: no token needed while the manager is awake.
    pub(crate) fn disarm(&self) {
        self.header().wake_wanted.store(0, Ordering::Relaxed);
    }

    /// Appends every published byte to `out` and frees its room (waking a
    /// worker that waits for it). Err when the header is corrupt.
    pub(crate) fn read_into(&self, out: &mut Vec<u8>) -> Result<usize, ()> {
        let h = self.header();
        let tail = h.tail.load(Ordering::Relaxed);
        let head = h.head.load(Ordering::Acquire);
        let n = head.wrapping_sub(tail);
        if n == 0 {
            return Ok(0);
        }
        if n > RING_BYTES as u64 {
            // Not what a worker writes: drop it (the pool breaks).
            h.tail.store(head, Ordering::SeqCst);
            return Err(());
        }
        let n = n as usize;
        let at = (tail % RING_BYTES as u64) as usize;
        let first = n.min(RING_BYTES - at);
        out.reserve(n);
        // SAFETY: [at, at + first) and [0, n - first) lie inside the data
        // area; the worker published these bytes (Acquire on `head`) and does
        // not touch them until `tail` moves past them.
        unsafe {
            let src = std::slice::from_raw_parts(self.data().add(at), first);
            out.extend_from_slice(src);
            let src = std::slice::from_raw_parts(self.data(), n - first);
            out.extend_from_slice(src);
        }
        h.tail.store(head, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if h.writer_waiting.load(Ordering::SeqCst) != 0 {
            h.writer_waiting.store(0, Ordering::SeqCst);
            sys::futex_wake(&h.writer_waiting);
        }
        Ok(n)
    }

    /// The id of the last task the worker started (0: none). Read after
    /// the worker died and its results were drained: if that task's result
    /// was not among them, the worker died running it.
    pub(crate) fn started(&self) -> u64 {
        self.header().started.load(Ordering::SeqCst)
    }

    // ---- worker side -------------------------------------------------------

    /// Records that the task `id` starts now (before it is called).
    pub(crate) fn mark_started(&self, id: u64) {
        self.header().started.store(id, Ordering::SeqCst);
    }

    /// Writes `parts` as one contiguous stream and publishes them (in
    /// pieces only when they do not fit the ring). `token_fd` is the result
    /// pipe. Err: the manager is gone.
    pub(crate) fn write(&self, token_fd: RawFd, parts: &[&[u8]]) -> Result<(), i32> {
        let h = self.header();
        let mut head = h.head.load(Ordering::Relaxed);
        for part in parts {
            let mut rem: &[u8] = part;
            while !rem.is_empty() {
                let tail = h.tail.load(Ordering::Acquire);
                let used = head.wrapping_sub(tail);
                let free = (RING_BYTES as u64).saturating_sub(used) as usize;
                if free == 0 {
                    self.publish(token_fd, head)?;
                    self.wait_for_room(token_fd, head)?;
                    continue;
                }
                let n = free.min(rem.len());
                let at = (head % RING_BYTES as u64) as usize;
                let first = n.min(RING_BYTES - at);
                // SAFETY: the destination ranges lie inside the data area and
                // are free (the manager consumed them: Acquire on `tail`).
                unsafe {
                    std::ptr::copy_nonoverlapping(rem.as_ptr(), self.data().add(at), first);
                    std::ptr::copy_nonoverlapping(rem.as_ptr().add(first), self.data(), n - first);
                }
                head = head.wrapping_add(n as u64);
                rem = &rem[n..];
            }
        }
        self.publish(token_fd, head)
    }

    fn publish(&self, token_fd: RawFd, head: u64) -> Result<(), i32> {
        let h = self.header();
        h.head.store(head, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if h.wake_wanted.load(Ordering::SeqCst) != 0 && h.wake_wanted.swap(0, Ordering::SeqCst) != 0
        {
            sys::write_all(token_fd, &[1])?;
        }
        Ok(())
    }

    /// The ring is full: sleeps until the manager consumed some of it.
    fn wait_for_room(&self, token_fd: RawFd, head: u64) -> Result<(), i32> {
        let h = self.header();
        loop {
            h.writer_waiting.store(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if head.wrapping_sub(h.tail.load(Ordering::SeqCst)) < RING_BYTES as u64 {
                h.writer_waiting.store(0, Ordering::Relaxed);
                return Ok(());
            }
            if !sys::futex_wait(&h.writer_waiting, 1, 100) && sys::pipe_reader_gone(token_fd) {
                // Timed out and nobody reads our results any more.
                return Err(libc::EPIPE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_cross_in_order_and_wrap() {
        let (ring, fd) = Ring::create().unwrap();
        let (r, w) = sys::pipe().unwrap();
        let writer = Ring::map(fd).unwrap();
        // Pools made by tests running beside this one fork: their
        // workers must not inherit this writer (see `forge_result`).
        writer.keep_from_later_forks();
        sys::close(fd);
        let mut out = Vec::new();
        let mut expect = Vec::new();
        // Enough rounds of odd sizes to wrap the ring several times.
        for i in 0..3000u32 {
            let a = vec![(i & 0xff) as u8; (i as usize * 37) % 2000];
            let b = i.to_ne_bytes();
            writer.write(w, &[&a, &b]).unwrap();
            expect.extend_from_slice(&a);
            expect.extend_from_slice(&b);
            if i % 7 == 0 {
                ring.read_into(&mut out).unwrap();
            }
        }
        ring.read_into(&mut out).unwrap();
        assert!(!ring.has_data());
        assert_eq!(out, expect);
        sys::close(r);
        sys::close(w);
    }

    #[test]
    fn rings_of_one_mapping_are_apart() {
        let rings = Ring::create_inherited(3).unwrap();
        let (r, w) = sys::pipe().unwrap();
        for (k, ring) in rings.iter().enumerate() {
            ring.write(w, &[&[k as u8; 100]]).unwrap();
        }
        for (k, ring) in rings.iter().enumerate() {
            let mut out = Vec::new();
            assert_eq!(ring.read_into(&mut out), Ok(100));
            assert_eq!(out, vec![k as u8; 100]);
        }
        sys::close(r);
        sys::close(w);
    }

    #[test]
    fn arming_asks_for_one_token() {
        let (ring, fd) = Ring::create().unwrap();
        let (r, w) = sys::pipe().unwrap();
        let writer = Ring::map(fd).unwrap();
        // Pools made by tests running beside this one fork: their
        // workers must not inherit this writer (see `forge_result`).
        writer.keep_from_later_forks();
        sys::close(fd);
        assert!(!ring.arm());
        writer.write(w, &[b"ab"]).unwrap();
        writer.write(w, &[b"cd"]).unwrap();
        let mut tok = [0u8; 8];
        // SAFETY: reads into a live buffer.
        let n = unsafe { libc::read(r, tok.as_mut_ptr() as *mut libc::c_void, 8) };
        assert_eq!(n, 1, "one token for one arm");
        assert!(ring.arm(), "bytes are waiting");
        ring.disarm();
        let mut out = Vec::new();
        assert_eq!(ring.read_into(&mut out), Ok(4));
        assert_eq!(out, b"abcd");
        sys::close(r);
        sys::close(w);
    }

    #[test]
    fn a_full_ring_blocks_the_writer_until_read() {
        let (ring, fd) = Ring::create().unwrap();
        let (r, w) = sys::pipe().unwrap();
        let writer = Ring::map(fd).unwrap();
        // Pools made by tests running beside this one fork: their
        // workers must not inherit this writer (see `forge_result`).
        writer.keep_from_later_forks();
        sys::close(fd);
        let big: Vec<u8> = (0..(3 * RING_BYTES + 11))
            .map(|i| (i % 251) as u8)
            .collect();
        let expect = big.clone();
        let t = std::thread::spawn(move || writer.write(w, &[&big]).map(|_| w));
        let mut out = Vec::new();
        while out.len() < expect.len() {
            ring.read_into(&mut out).unwrap();
            std::thread::yield_now();
        }
        let w = t.join().unwrap().unwrap();
        assert_eq!(out, expect);
        sys::close(r);
        sys::close(w);
    }
}
