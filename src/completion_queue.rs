//! A completion queue: how an event loop (epoll, poll, libuv, Go's netpoller)
//! learns of completed futures without any library thread calling into it.
//!
//! Futures are attached with a user tag; when one becomes done, (future, tag)
//! is queued and an eventfd becomes readable. The loop drains the queue from
//! its own thread. The fd is level-triggered: readable exactly while the
//! queue holds entries. The queue lock is taken by completing threads only
//! to push, never while user code runs.

use crate::future::Future;
use crate::status::Status;
use crate::sync::{Condvar, Mutex};
use std::collections::VecDeque;
use std::ffi::c_void;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Instant;

/// The host's tag for an attached future (a pointer-sized value it chose).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Tag(pub *mut c_void);

// SAFETY: the tag is an opaque value the host gets back on its own thread;
// the library never dereferences it.
unsafe impl Send for Tag {}

struct Shared {
    entries: Mutex<VecDeque<(Future, Tag)>>,
    nonempty: Condvar,
    event: OwnedFd,
}

/// A queue of completed futures signalled through an eventfd.
#[derive(Clone)]
pub struct CompletionQueue {
    shared: Arc<Shared>,
}

impl CompletionQueue {
    pub fn new() -> Result<CompletionQueue, Status> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            crate::log::log(&format!(
                "completion queue: eventfd failed: {}",
                std::io::Error::last_os_error()
            ));
            return Err(Status::Os);
        }
        Ok(CompletionQueue {
            shared: Arc::new(Shared {
                entries: Mutex::new(VecDeque::new()),
                nonempty: Condvar::new(),
                // SAFETY: `fd` is a fresh descriptor that nothing else owns.
                event: unsafe { OwnedFd::from_raw_fd(fd) },
            }),
        })
    }

    /// The descriptor to poll for readability. Owned by the queue: do not
    /// read from it or close it.
    pub fn fd(&self) -> RawFd {
        self.shared.event.as_raw_fd()
    }

    /// Queues (future, tag) once `future` is done (at once if it already
    /// is). The queue keeps a reference to the future until it is drained.
    pub fn attach(&self, future: &Future, tag: Tag) {
        let shared = Arc::clone(&self.shared);
        future.add_done_callback(Box::new(move |f: &Future| shared.push(f.clone(), tag)));
    }

    /// Takes up to `max` completions without blocking, oldest first.
    pub fn drain(&self, max: usize) -> Vec<(Future, Tag)> {
        let mut entries = self.shared.entries.lock();
        let n = max.min(entries.len());
        let taken: Vec<_> = entries.drain(..n).collect();
        if entries.is_empty() && n > 0 {
            self.shared.clear_event();
        }
        taken
    }

    /// Blocks until an entry is queued or `deadline` passes (None: no
    /// limit); true when entries are waiting.
    pub fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut entries = self.shared.entries.lock();
        while entries.is_empty() {
            match deadline {
                None => self.shared.nonempty.wait(&mut entries),
                Some(d) => {
                    if self.shared.nonempty.wait_until(&mut entries, d).timed_out() {
                        return !entries.is_empty();
                    }
                }
            }
        }
        true
    }

    /// Entries waiting to be drained.
    pub fn len(&self) -> usize {
        self.shared.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Shared {
    fn push(&self, future: Future, tag: Tag) {
        let mut entries = self.entries.lock();
        let was_empty = entries.is_empty();
        entries.push_back((future, tag));
        if was_empty {
            // Under the lock, so that a concurrent drain cannot clear the
            // event between the push and this write (no lost wake-up).
            self.signal_event();
            self.nonempty.notify_all();
        }
    }

    fn signal_event(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own eventfd. It can
        // only fail with EAGAIN when the counter is at its maximum, in which
        // case the fd is readable anyway.
        unsafe {
            libc::write(
                self.event.as_raw_fd(),
                &one as *const u64 as *const c_void,
                8,
            )
        };
    }

    fn clear_event(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own non-blocking
        // eventfd; EAGAIN (already clear) is fine.
        unsafe {
            libc::read(
                self.event.as_raw_fd(),
                &mut value as *mut u64 as *mut c_void,
                8,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::future::Value;

    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no timeout.
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }

    #[test]
    fn fd_is_readable_exactly_while_entries_wait() {
        let q = CompletionQueue::new().unwrap();
        let a = Future::new();
        let b = Future::new();
        q.attach(&a, Tag(1 as *mut c_void));
        q.attach(&b, Tag(2 as *mut c_void));
        assert!(!readable(q.fd()));
        a.set_result(Value::empty()).ok();
        assert!(readable(q.fd()));
        b.cancel();
        let got = q.drain(1);
        assert_eq!(got[0].1, Tag(1 as *mut c_void));
        assert!(readable(q.fd()), "one entry left");
        let got = q.drain(8);
        assert_eq!(got.len(), 1);
        assert!(got[0].0.cancelled());
        assert!(!readable(q.fd()));
    }

    #[test]
    fn attaching_a_done_future_queues_it_at_once() {
        let q = CompletionQueue::new().unwrap();
        let a = Future::new();
        a.set_result(Value::empty()).ok();
        q.attach(&a, Tag(std::ptr::null_mut()));
        assert!(q.wait(Some(Instant::now())));
        assert_eq!(q.drain(8).len(), 1);
    }
}
