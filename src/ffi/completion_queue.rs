//! `fut_completion_queue_*`: completions delivered to an event loop.

use super::future::{borrow, to_c};
use super::types::*;
use super::{guard, guard_value, non_null};
use crate::completion_queue::{CompletionQueue, Tag};
use crate::handle::Pool;
use crate::status::Status;
use std::ffi::c_void;

static QUEUES: Pool<CompletionQueue> = Pool::new(0x4655_5451);

/// Registers this module's handle pools with the fork handlers.
pub(crate) fn register_pools_for_fork() {
    QUEUES.register_for_fork();
}

fn queue(q: *const fut_completion_queue) -> Result<CompletionQueue, Status> {
    QUEUES
        .borrow(q as *const u8)
        .map(|q| (**q).clone())
        .ok_or(Status::InvalidArgument)
}

/// Creates a completion queue; `*out` receives one reference. Futures
/// attached to it are queued when done, and its descriptor
/// (`fut_completion_queue_fd`) is readable while entries wait, so an event
/// loop (epoll, poll, libuv's uv_poll, Go's netpoller) learns of completions
/// on its own thread, with no library thread calling into the host.
#[no_mangle]
pub unsafe extern "C" fn fut_completion_queue_new(
    out: *mut *mut fut_completion_queue,
) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        let q = CompletionQueue::new()?;
        // SAFETY: `out` is non-NULL and the caller provides room for it.
        unsafe { *out = QUEUES.alloc(q).into_raw() as *mut fut_completion_queue };
        Ok(())
    })
}

/// The queue's descriptor: poll it for readability (level-triggered:
/// readable exactly while completions wait). Owned by the queue: never read,
/// write or close it. -1 for an invalid handle.
#[no_mangle]
pub extern "C" fn fut_completion_queue_fd(q: *const fut_completion_queue) -> i32 {
    guard_value(-1, || queue(q).map(|q| q.fd()).unwrap_or(-1))
}

/// Queues (`f`, `user`) once `f` is done (at once if it already is). The
/// queue holds its own reference to `f` until the entry is drained. Several
/// attachments queue several entries. Done through a done-callback that
/// only pushes, on the completing thread.
#[no_mangle]
pub extern "C" fn fut_completion_queue_attach(
    q: *mut fut_completion_queue,
    f: *mut fut_future,
    user: *mut c_void,
) -> fut_status {
    guard(|| {
        let q = queue(q)?;
        let f = borrow(f)?;
        q.attach(&f, Tag(user));
        Ok(())
    })
}

/// Takes up to `cap` completed entries without blocking, oldest first:
/// `out[i].future` is a new reference (release it), `out[i].user` the tag
/// given to attach. `*n` (required) receives the count, 0 when none wait.
#[no_mangle]
pub unsafe extern "C" fn fut_completion_queue_drain(
    q: *mut fut_completion_queue,
    out: *mut fut_completion,
    cap: usize,
    n: *mut usize,
) -> fut_status {
    guard(|| {
        let n = non_null(n)?;
        if out.is_null() && cap > 0 {
            return Err(Status::InvalidArgument);
        }
        let q = queue(q)?;
        let taken = q.drain(cap);
        let count = taken.len();
        for (i, (f, tag)) in taken.into_iter().enumerate() {
            // SAFETY: `i < cap` entries are writable at `out`, per the contract.
            unsafe {
                out.add(i).write(fut_completion {
                    future: to_c(f),
                    user: tag.0,
                })
            };
        }
        // SAFETY: `n` is non-NULL and writable, per the contract.
        unsafe { *n = count };
        Ok(())
    })
}

/// Blocks until the queue holds an entry or `timeout_ns` passes (negative:
/// forever, 0: poll): `FUT_OK` when entries wait, else `FUT_ERR_TIMEOUT`.
/// For hosts without an event loop (e.g. a Go goroutine parked in cgo).
#[no_mangle]
pub extern "C" fn fut_completion_queue_wait(
    q: *mut fut_completion_queue,
    timeout_ns: i64,
) -> fut_status {
    guard(|| {
        let q = queue(q)?;
        if q.wait(crate::deadline_after_ns(timeout_ns)) {
            Ok(())
        } else {
            Err(Status::Timeout)
        }
    })
}

/// Gives back one reference. Entries not drained are released with the
/// queue; futures attached but not done yet keep the queue's internals (and
/// its descriptor) alive until they complete. NULL is ignored.
#[no_mangle]
pub extern "C" fn fut_completion_queue_release(q: *mut fut_completion_queue) {
    guard_value((), || {
        QUEUES.release_raw(q as *const u8, |_| {});
    });
}
