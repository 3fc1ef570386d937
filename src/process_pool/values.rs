//! Result values of small size, carved out of shared blocks.
//!
//! Every process-pool result is copied into a buffer that its future owns
//! and frees with the future (`Value`). One `malloc` per result on the
//! manager thread, freed by whichever thread releases the future, was the
//! manager's largest cost on small tasks (a producer/consumer pattern that
//! glibc serves slowly). Small values are therefore bump-allocated from
//! blocks of `BLOCK_BYTES`: each value is preceded by the distance back to
//! its block, whose header counts references; the last release frees the
//! block. While the manager allocates from a block it holds `BIAS`
//! references and counts the values it handed out itself, so that handing
//! out a value costs no atomic operation on the line that releasing
//! threads write; retiring the block gives back `BIAS` minus that count.
//! A value keeps at most its own block alive: `BLOCK_BYTES` is kept small so
//! that holding one result pins little memory.

use crate::future::Value;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Size of a block (header, then values).
const BLOCK_BYTES: usize = 4096;
/// Alignment of every value (what `malloc` guarantees on x86-64 and
/// aarch64 Linux, so a C caller may cast a result as it could before).
const ALIGN: usize = 16;
/// Values above this size get a buffer of their own.
pub(crate) const MAX_SMALL: usize = 512;

/// Block header: the block's references (see the module comment).
#[repr(C)]
struct BlockHeader {
    refs: AtomicUsize,
}

/// The bytes in front of each value: the offset of the value from its
/// block's start (padded to `ALIGN`).
const PREFIX: usize = ALIGN;
const HEADER: usize = ALIGN; // size_of::<BlockHeader>() rounded up to ALIGN

/// The allocator's references to its current block.
const BIAS: usize = 1 << 40;

/// Allocates values; owned by the manager thread.
pub(crate) struct ValueBlocks {
    /// The current block (null when none) and the next free offset in it.
    block: *mut u8,
    used: usize,
    /// Values handed out from the current block.
    given: usize,
}

// SAFETY: the current block is only used by the thread that owns this
// allocator; the block header is atomic for the threads releasing values.
unsafe impl Send for ValueBlocks {}

impl ValueBlocks {
    pub(crate) fn new() -> ValueBlocks {
        ValueBlocks {
            block: std::ptr::null_mut(),
            used: 0,
            given: 0,
        }
    }

    /// A value holding a copy of `bytes` (own buffer when large or empty).
    pub(crate) fn value(&mut self, bytes: &[u8]) -> Value {
        if bytes.is_empty() || bytes.len() > MAX_SMALL {
            return Value::from_bytes(bytes);
        }
        let need = PREFIX + bytes.len().next_multiple_of(ALIGN);
        if (self.block.is_null() || self.used + need > BLOCK_BYTES) && !self.new_block() {
            return Value::from_bytes(bytes);
        }
        let off = self.used + PREFIX;
        self.used += need;
        self.given += 1;
        // SAFETY: [off - PREFIX, off + len) lies inside the block (checked
        // above); the block stays allocated while the allocator holds its
        // `BIAS` references, of which this value now owns one.
        unsafe {
            let p = self.block.add(off);
            (p.sub(PREFIX) as *mut usize).write(off);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            Value::new(p as *mut c_void, bytes.len(), Some(release_value))
        }
    }

    /// Retires the current block and starts a new one; false without memory.
    fn new_block(&mut self) -> bool {
        self.retire();
        let mut p: *mut c_void = std::ptr::null_mut();
        // SAFETY: posix_memalign writes a block of BLOCK_BYTES aligned to
        // ALIGN into `p` on success.
        if unsafe { libc::posix_memalign(&mut p, ALIGN, BLOCK_BYTES) } != 0 || p.is_null() {
            return false;
        }
        let block = p as *mut u8;
        // SAFETY: the block is fresh and large enough for its header.
        unsafe {
            (block as *mut BlockHeader).write(BlockHeader {
                refs: AtomicUsize::new(BIAS),
            })
        };
        self.block = block;
        self.used = HEADER;
        self.given = 0;
        true
    }

    /// Drops the allocator's references to the current block (those it
    /// did not hand out with a value).
    fn retire(&mut self) {
        if !self.block.is_null() {
            // SAFETY: the block is live; we hold `BIAS - given` references.
            unsafe { release_block(self.block, BIAS - self.given) };
            self.block = std::ptr::null_mut();
        }
    }
}

impl Drop for ValueBlocks {
    fn drop(&mut self) {
        self.retire();
    }
}

/// Drops `n` references to `block`, freeing it with the last.
///
/// # Safety
/// `block` is a live block and the caller owns `n` of its references.
unsafe fn release_block(block: *mut u8, n: usize) {
    // SAFETY: forwarded from the caller.
    let h = unsafe { &*(block as *const BlockHeader) };
    if h.refs.fetch_sub(n, Ordering::AcqRel) == n {
        // SAFETY: the last reference: nobody uses the block any more; it
        // came from posix_memalign.
        unsafe { libc::free(block as *mut c_void) };
    }
}

/// The destructor of a small value: releases its block.
unsafe extern "C" fn release_value(p: *mut c_void) {
    let p = p as *mut u8;
    // SAFETY: only installed by `ValueBlocks::value`, which wrote the
    // value's offset from its block in front of it.
    unsafe {
        let off = (p.sub(PREFIX) as *const usize).read();
        release_block(p.sub(off), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(v: &Value) -> &[u8] {
        if v.is_empty() {
            return &[];
        }
        // SAFETY: a value's pointer holds `len` bytes while it lives.
        unsafe { std::slice::from_raw_parts(v.ptr() as *const u8, v.len()) }
    }

    #[test]
    fn values_keep_their_bytes_across_blocks() {
        let mut a = ValueBlocks::new();
        let mut vals = Vec::new();
        for i in 0..2000usize {
            let b: Vec<u8> = (0..(i * 7) % 700).map(|j| (i + j) as u8).collect();
            vals.push((a.value(&b), b));
        }
        for (v, b) in &vals {
            assert_eq!(bytes_of(v), &b[..]);
            assert_eq!(v.ptr() as usize % ALIGN, 0);
        }
        // Free in an interleaved order, with the allocator dropped midway.
        let mut odd = Vec::new();
        for (k, v) in vals.into_iter().enumerate() {
            if k % 2 == 0 {
                drop(v);
            } else {
                odd.push(v);
            }
        }
        drop(a);
        for (v, b) in &odd {
            assert_eq!(bytes_of(v), &b[..]);
        }
    }

    #[test]
    fn values_outlive_their_allocator_and_cross_threads() {
        let mut a = ValueBlocks::new();
        let v: Vec<Value> = (0..300u32).map(|i| a.value(&i.to_ne_bytes())).collect();
        drop(a);
        let t = std::thread::spawn(move || {
            for (i, x) in v.iter().enumerate() {
                assert_eq!(bytes_of(x), &(i as u32).to_ne_bytes());
            }
        });
        t.join().unwrap();
    }
}
