//! `fut_executor_imap` and `fut_map_next_timeout`: the lazy, windowed map
//! (L1–L9). The eager `fut_executor_map` and `fut_map_next`/`_release` live
//! with the executor calls; both kinds of iterator are one handle type.

use super::executor::{borrow_executor, MAPS};
use super::future::to_c;
use super::types::*;
use super::{guard, non_null};
use crate::map::{Lazy, Map, MapEnd, Produced, Producer};
use crate::status::Status;
use crate::sync::Mutex;
use std::ffi::c_void;

/// The producer of `fut_executor_imap`: called as `producer(user, &item,
/// &item_drop)` with `item` zeroed and `item_drop` NULL. Return `FUT_OK`
/// with `item` filled (the bytes, NULL with 0 for none) and optionally
/// `item_drop`, run once when the library no longer needs the bytes;
/// `FUT_END` when there are no more inputs; any other value is an error
/// with that code (the iteration ends there).
pub type fut_producer_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        item: *mut fut_item,
        item_drop: *mut fut_drop_fn,
    ) -> i32,
>;

/// `fut_executor_imap` flag: hand out futures in completion order rather
/// than input order.
pub const FUT_IMAP_UNORDERED: u32 = 1;

/// A C producer and its user pointer; `user_drop(user)` runs when dropped.
struct CProducer {
    func: unsafe extern "C" fn(*mut c_void, *mut fut_item, *mut fut_drop_fn) -> i32,
    user: *mut c_void,
    user_drop: fut_drop_fn,
}

// SAFETY: `fut_executor_imap`'s contract: the producer is called from the
// threads that call `fut_map_next*`, and `user_drop` from the one that
// frees the iterator.
unsafe impl Send for CProducer {}

// SAFETY: `fut_executor_imap`'s contract makes each item's bytes suit the
// task function, readable from the pool's workers until `item_drop` runs.
unsafe impl Producer for CProducer {
    fn produce(&mut self) -> Produced {
        let mut item = fut_item {
            arg: std::ptr::null(),
            arg_len: 0,
        };
        let mut drop: fut_drop_fn = None;
        // SAFETY: the host's producer, called with its user pointer and two
        // writable outputs, as documented.
        let ret = unsafe { (self.func)(self.user, &mut item, &mut drop) };
        match ret {
            FUT_OK => Produced::Item {
                arg: item.arg,
                len: item.arg_len,
                drop,
            },
            FUT_END => Produced::End,
            code => Produced::Error(code),
        }
    }
}

impl Drop for CProducer {
    fn drop(&mut self) {
        if let Some(d) = self.user_drop {
            // SAFETY: the host gave us this destructor for `user`, to run once.
            unsafe { d(self.user) }
        }
    }
}

/// Python's `map` over a lazy input (L1): `fn` runs once per input that
/// `producer` hands out, with at most `window` chunks of `chunksize` inputs
/// in flight, exactly (L3): taken from the producer but not yet handed out
/// by `fut_map_next*`. The producer is called only inside `fut_map_next*`,
/// on the calling thread, one call at a time (L2): at most `window` times
/// `chunksize` inputs per call, none after `FUT_END` or an error, and it
/// must not use this iterator. Results come in input order, or in
/// completion order with `FUT_IMAP_UNORDERED` in `flags` (L4). A process
/// pool sends each chunk as one call and drops its items' bytes once
/// copied; a thread pool runs each input as its own task and drops its
/// bytes after it ran (L2). `user_drop(user)`, if given, runs once when the
/// iterator no longer needs the producer: after its end or error, or at the
/// iterator's release (any thread). `window` and `chunksize` >= 1, `flags`
/// known, else `FUT_ERR_INVALID_ARGUMENT` (nothing called, the caller keeps
/// `user`). Release with `fut_map_release` (L8).
#[no_mangle]
pub unsafe extern "C" fn fut_executor_imap(
    ex: *mut fut_executor,
    func: fut_task_fn,
    producer: fut_producer_fn,
    user: *mut c_void,
    user_drop: fut_drop_fn,
    window: usize,
    chunksize: usize,
    flags: u32,
    out: *mut *mut fut_map,
) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        let func = func.ok_or(Status::InvalidArgument)?;
        let producer = producer.ok_or(Status::InvalidArgument)?;
        if window == 0 || chunksize == 0 || flags & !FUT_IMAP_UNORDERED != 0 {
            return Err(Status::InvalidArgument);
        }
        let executor = borrow_executor(ex)?;
        let lazy = Lazy {
            executor,
            // SAFETY: fut_task is the C name of the opaque context pointer;
            // both signatures take (pointer, pointer, size) and return i32.
            func: unsafe {
                std::mem::transmute::<
                    unsafe extern "C" fn(*mut fut_task, *const c_void, usize) -> i32,
                    crate::executor::TaskFn,
                >(func)
            },
            producer: Box::new(CProducer {
                func: producer,
                user,
                user_drop,
            }),
            window,
            chunksize,
            unordered: flags & FUT_IMAP_UNORDERED != 0,
        };
        let map = Map::lazy(lazy)?;
        // SAFETY: `out` is non-NULL and the caller provides room for it.
        unsafe { *out = MAPS.alloc(Mutex::new(map)).into_raw() as *mut fut_map };
        Ok(())
    })
}

/// `fut_map_next` with a deadline for this call only, `timeout_ns` from now
/// (negative: none; 0 polls), for iterators of `fut_executor_map` and
/// `fut_executor_imap` (L7). `*out` receives a new reference to the next
/// done future and `*index` (may be NULL) its input's index, from 0. A
/// failed future's `detail` starts with `input <index>` (L6).
/// `FUT_ERR_TIMEOUT` when this deadline passes first: nothing is cancelled
/// and the next call waits for the same input (in order) or any (unordered);
/// but if the map's own deadline passed (`fut_executor_map`, E11), the rest
/// is cancelled and later calls answer `FUT_END`. `FUT_END` when exhausted.
/// The deadline covers waiting for results, not a producer call in progress
/// nor another thread's call on the same iterator, which this one waits for.
#[no_mangle]
pub unsafe extern "C" fn fut_map_next_timeout(
    m: *mut fut_map,
    timeout_ns: i64,
    out: *mut *mut fut_future,
    index: *mut u64,
) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        // A reference of our own: another thread may release the caller's
        // while this call blocks.
        let m = MAPS
            .borrow(m as *const u8)
            .map(|h| (*h).clone())
            .ok_or(Status::InvalidArgument)?;
        let next = m.lock().next(crate::deadline_after_ns(timeout_ns));
        match next {
            Ok((f, i)) => {
                // SAFETY: `out` is non-NULL and the caller provides room;
                // `index`, if non-NULL, too.
                unsafe {
                    *out = to_c(f);
                    if !index.is_null() {
                        *index = i;
                    }
                }
                Ok(())
            }
            Err(MapEnd::Exhausted) => Err(Status::End),
            Err(MapEnd::TimedOut | MapEnd::CallTimedOut) => Err(Status::Timeout),
        }
    })
}
