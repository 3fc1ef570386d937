//! `fut_wait` and `fut_as_completed_*`.

use super::future::{borrow, to_c};
use super::types::*;
use super::{guard, input_slice, non_null};
use crate::future::Future;
use crate::handle::Pool;
use crate::status::Status;
use crate::sync::Mutex;
use crate::waiter::{wait_in, AsCompleted, AsCompletedEnd, Futures, ReturnWhen};
use std::mem::ManuallyDrop;

static AS_COMPLETED: Pool<Mutex<AsCompleted>> = Pool::new(0x4655_5441);

/// Registers this module's handle pools with the fork handlers.
pub(crate) fn register_pools_for_fork() {
    AS_COMPLETED.register_for_fork();
}

fn return_when(when: fut_return_when) -> Result<ReturnWhen, Status> {
    match when {
        FUT_FIRST_COMPLETED => Ok(ReturnWhen::FirstCompleted),
        FUT_FIRST_EXCEPTION => Ok(ReturnWhen::FirstException),
        FUT_ALL_COMPLETED => Ok(ReturnWhen::AllCompleted),
        _ => Err(Status::InvalidArgument),
    }
}

/// The caller's array of handles, each looked up where it is used: nothing
/// is copied, so a wait over 10^5 futures allocates no memory per future
/// for them (W4).
struct Handles<'a>(&'a [*mut fut_future]);

impl Futures for Handles<'_> {
    type Ref<'b>
        = ManuallyDrop<Future>
    where
        Self: 'b;

    fn count(&self) -> usize {
        self.0.len()
    }

    fn get(&self, i: usize) -> Option<ManuallyDrop<Future>> {
        borrow(self.0[i]).ok()
    }

    fn key(&self, i: usize) -> usize {
        // A live future's handle holds its slot's end offset in the futures'
        // pool in its low 32 bits (see `handle`): one slot per live future,
        // and offsets ascend with addresses. Checked by a test below.
        self.0[i] as usize & 0xffff_ffff
    }
}

/// The caller's array, unchecked.
///
/// # Safety
/// `fs` must point to `n` readable handles (or be NULL with `n == 0`), which
/// stay readable for `'a`.
unsafe fn handles<'a>(fs: *const *mut fut_future, n: usize) -> Result<Handles<'a>, Status> {
    // SAFETY: forwarded from the caller.
    unsafe { input_slice(fs, n) }.map(Handles)
}

/// Waits up to `timeout_ns` (negative: forever, 0: poll) until `when` holds
/// for the `n` futures of `fs`. Answers `FUT_OK` on timeout too: then
/// `done_flags[i]` (n entries, may be NULL) tells which are done (duplicates
/// share their flag), and `*n_done` (may be NULL) counts distinct done
/// futures. `when` is checked first. A future counts as done once its
/// outcome is set, before its done-callbacks ran: as in CPython, `fut_wait`
/// may return while the completing thread still runs the callbacks of the
/// last futures. To use what a callback produces, wait for that (e.g. a
/// future the callback completes), not for the futures.
#[no_mangle]
pub unsafe extern "C" fn fut_wait(
    fs: *const *mut fut_future,
    n: usize,
    timeout_ns: i64,
    when: fut_return_when,
    done_flags: *mut u8,
    n_done: *mut usize,
) -> fut_status {
    guard(|| {
        let when = return_when(when)?;
        // SAFETY: the caller passes `n` handles at `fs`.
        let futures = unsafe { handles(fs, n) }?;
        // The first pass checks every handle before anything is done.
        let outcome = wait_in(&futures, crate::deadline_after_ns(timeout_ns), when)
            .ok_or(Status::InvalidArgument)?;
        if !done_flags.is_null() && n > 0 {
            // SAFETY: the caller provides `n` writable flags at `done_flags`.
            let flags = unsafe { std::slice::from_raw_parts_mut(done_flags, n) };
            for (flag, done) in flags.iter_mut().zip(&outcome.done) {
                *flag = u8::from(*done);
            }
        }
        if !n_done.is_null() {
            // SAFETY: non-NULL output pointer provided by the caller.
            unsafe { *n_done = outcome.n_done };
        }
        Ok(())
    })
}

/// Starts iterating over the `n` futures of `fs` in completion order, those
/// already done first, each distinct future once, under one deadline
/// `timeout_ns` from now (negative: none). The iterator holds its own
/// references; `*out` receives it.
#[no_mangle]
pub unsafe extern "C" fn fut_as_completed_new(
    fs: *const *mut fut_future,
    n: usize,
    timeout_ns: i64,
    out: *mut *mut fut_as_completed,
) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        // SAFETY: the caller passes `n` handles at `fs`.
        let futures = unsafe { handles(fs, n) }?;
        // Every handle is checked before the iterator holds any future.
        let it = AsCompleted::new_in(&futures, crate::deadline_after_ns(timeout_ns))
            .ok_or(Status::InvalidArgument)?;
        let handle = AS_COMPLETED.alloc(Mutex::new(it));
        // SAFETY: `out` is non-NULL and the caller provides room for a pointer.
        unsafe { *out = handle.into_raw() as *mut fut_as_completed };
        Ok(())
    })
}

/// Blocks for the next done future: `*out` (required) gets a new reference
/// and `*index` (may be NULL) the index of its first occurrence in `fs`.
/// Answers `FUT_END` when all were yielded, or `FUT_ERR_TIMEOUT` once when
/// the deadline passed (then `FUT_END`).
#[no_mangle]
pub unsafe extern "C" fn fut_as_completed_next(
    it: *mut fut_as_completed,
    index: *mut usize,
    out: *mut *mut fut_future,
) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        // A reference of our own: another thread may release the caller's
        // while this call blocks.
        let it = AS_COMPLETED
            .borrow(it as *const u8)
            .map(|h| (*h).clone())
            .ok_or(Status::InvalidArgument)?;
        let next = it.lock().next_done();
        match next {
            Ok((i, f)) => {
                if !index.is_null() {
                    // SAFETY: non-NULL output pointer provided by the caller.
                    unsafe { *index = i };
                }
                // SAFETY: `out` is non-NULL and the caller provides room for it.
                unsafe { *out = to_c(f) };
                Ok(())
            }
            Err(AsCompletedEnd::Exhausted) => Err(Status::End),
            Err(AsCompletedEnd::TimedOut { .. }) => Err(Status::Timeout),
        }
    })
}

/// Releases the iterator: it detaches from and releases every future it has
/// not yielded. NULL or an invalid handle is ignored.
#[no_mangle]
pub extern "C" fn fut_as_completed_release(it: *mut fut_as_completed) {
    super::guard_value((), || {
        AS_COMPLETED.release_raw(it as *const u8, |_| {});
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// W1: a handle's key names its future and follows its address, as
    /// `Futures::key` promises (duplicates are told apart by it).
    #[test]
    fn handle_keys_follow_addresses() {
        // Every other one freed, then more made: slots from anywhere in
        // the pool, reused ones included if the free list hands them out.
        let fs: Vec<Future> = (0..300).map(|_| Future::new()).step_by(2).collect();
        let fs: Vec<Future> = fs
            .into_iter()
            .chain((0..200).map(|_| Future::new()))
            .collect();
        let raw: Vec<*mut fut_future> = fs.iter().map(|f| f.as_ptr() as *mut fut_future).collect();
        let h = Handles(&raw);
        for i in 0..fs.len() {
            for j in 0..fs.len() {
                assert_eq!(h.key(i) == h.key(j), i == j);
                assert_eq!(h.key(i) < h.key(j), fs[i].addr() < fs[j].addr());
            }
        }
    }

    /// X7/W1/W13: a bad handle anywhere in the array, after distinct
    /// futures or among duplicates, refuses the whole call; the futures
    /// before it keep no iterator alive and a later call over them works.
    #[test]
    fn as_completed_refuses_a_bad_handle_anywhere() {
        let fs: Vec<Future> = (0..3).map(|_| Future::new()).collect();
        let stale = Future::new();
        let stale_handle = stale.as_ptr() as *mut fut_future;
        drop(stale);
        let h: Vec<*mut fut_future> = fs.iter().map(|f| f.as_ptr() as *mut fut_future).collect();
        let layouts = [
            vec![h[0], h[1], h[2], std::ptr::null_mut()],
            vec![h[0], h[1], stale_handle, h[2]],
            vec![h[2], h[0], h[2], h[1], std::ptr::null_mut()],
        ];
        for raw in &layouts {
            let mut it: *mut fut_as_completed = std::ptr::null_mut();
            // SAFETY: `raw` holds `raw.len()` handles; `it` is writable.
            let st = unsafe { fut_as_completed_new(raw.as_ptr(), raw.len(), -1, &mut it) };
            assert_eq!(st, FUT_ERR_INVALID_ARGUMENT);
            assert!(it.is_null(), "nothing handed out");
        }
        let mut it: *mut fut_as_completed = std::ptr::null_mut();
        // SAFETY: as above, three live handles.
        let st = unsafe { fut_as_completed_new(h.as_ptr(), h.len(), -1, &mut it) };
        assert_eq!(st, FUT_OK);
        for f in fs.iter().rev() {
            f.set_result(crate::future::Value::empty()).ok();
        }
        let mut seen = Vec::new();
        let (mut index, mut out) = (0usize, std::ptr::null_mut());
        // SAFETY: `it` is a live iterator; the outputs are writable.
        while unsafe { fut_as_completed_next(it, &mut index, &mut out) } == FUT_OK {
            seen.push(index);
            super::super::future::fut_future_release(out);
        }
        fut_as_completed_release(it);
        assert_eq!(seen, vec![2, 1, 0]);
        assert!(fs.iter().all(|f| f.listener_count() == 0));
    }
}
