//! The worker process: runs the initializer, then calls until told to stop.
//!
//! This code runs in a forked child. It touches no lock another thread of
//! the parent may have held (no library mutex, no Rust stdout/stderr, no
//! log hook); it reads calls with raw `read` from its call pipe, copies
//! results into its shared result ring (atomics and a futex, no lock; one
//! byte on the result pipe when the manager asked to be woken), may
//! allocate (glibc's malloc is reset at fork), and leaves with `_exit`,
//! never returning into the parent's stack.

use super::ring::Ring;
use super::sys;
use super::wire;
use crate::executor::{run_task, Arg, Task, TaskContext, TaskFn, TaskOutcome};
use crate::status::Status;
use std::ffi::c_void;
use std::ops::Range;
use std::os::fd::RawFd;

pub use crate::executor::InitFn;

/// What every worker of a pool needs; inherited through fork.
pub(crate) struct WorkerConfig {
    pub initializer: Option<InitFn>,
    pub initializer_arg: Vec<u8>,
    /// Calls a worker runs before it exits (0: unlimited).
    pub max_tasks: usize,
}

/// Set in a worker process of a process pool.
static IN_WORKER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True in a worker process of a process pool: a pool handle the host made
/// after the worker's fork is unknown here, and stands for the pool the
/// worker belongs to (X11: an inherited pool refuses with `Shutdown`).
pub fn in_worker() -> bool {
    IN_WORKER.load(std::sync::atomic::Ordering::Relaxed)
}

/// Exit statuses of a worker that leaves on its own.
pub(crate) const EXIT_OK: i32 = 0;
pub(crate) const EXIT_INIT_FAILED: i32 = 3;
pub(crate) const EXIT_PROTOCOL: i32 = 4;
pub(crate) const EXIT_PIPE: i32 = 5;

// Keeps cbindgen from copying these libc declarations into the header.
#[allow(unused_doc_comments)]
/// cbindgen:ignore
extern "C" {
    static mut stdout: *mut libc::FILE;
    fn __fpurge(stream: *mut libc::FILE);
}

fn flush_stdout() {
    // SAFETY: stdio locks were reset by glibc at fork; `stdout` is the C
    // library's own stream.
    unsafe { libc::fflush(stdout) };
}

fn leave(code: i32) -> ! {
    flush_stdout();
    sys::exit_now(code)
}

/// Where a worker finds its result ring.
pub(crate) enum RingSource<'a> {
    /// Mapped by the manager before the fork: inherited at the same address.
    Inherited(&'a Ring),
    /// A memfd to map (workers of the fork server).
    Fd(RawFd),
}

/// Where results go: the shared ring, with the result pipe for wake-ups.
struct Out<'a> {
    ring: &'a Ring,
    token_fd: RawFd,
}

impl Out<'_> {
    /// Sends `parts` as one message (published at once when they fit).
    fn send(&self, parts: &[&[u8]]) {
        if self.ring.write(self.token_fd, parts).is_err() {
            // The parent is gone or closed our pipe: nothing left to do.
            sys::exit_now(EXIT_PIPE);
        }
    }
}

/// The worker's whole life. `ring` is its result ring; `parent` is the pid
/// of the forking process; `close` lists descriptors of the parent that this
/// worker must not hold (other workers' pipes, the pool's own channels).
pub(crate) fn worker_main(
    cfg: &WorkerConfig,
    call_fd: RawFd,
    result_fd: RawFd,
    ring: RingSource<'_>,
    parent: libc::pid_t,
    close: &[RawFd],
) -> ! {
    sys::die_with_parent(parent);
    IN_WORKER.store(true, std::sync::atomic::Ordering::Relaxed);
    let ring_fd = match ring {
        RingSource::Fd(fd) => fd,
        RingSource::Inherited(_) => -1,
    };
    for &fd in close {
        if fd != call_fd && fd != result_fd && fd != ring_fd {
            sys::close(fd);
        }
    }
    let mapped;
    let ring = match ring {
        RingSource::Inherited(r) => {
            r.unmap_siblings();
            r
        }
        RingSource::Fd(fd) => {
            mapped = match Ring::map(fd) {
                Ok(r) => r,
                Err(_) => sys::exit_now(EXIT_PIPE),
            };
            sys::close(fd);
            &mapped
        }
    };
    let out = Out {
        ring,
        token_fd: result_fd,
    };
    sys::default_crash_signals();
    // Drop stdout bytes the host had buffered before the fork: the host
    // prints them itself; the worker flushes only what its tasks print.
    // SAFETY: stdio locks were reset at fork; the stream is the C library's.
    unsafe { __fpurge(stdout) };
    run_initializer(cfg, &out);
    out.send(&[&wire::header(wire::READY, 0, 0)]);
    serve(cfg, call_fd, &out)
}

/// Runs the pool's initializer, if any; leaves (`EXIT_INIT_FAILED`, after
/// telling the manager its code) when it fails.
fn run_initializer(cfg: &WorkerConfig, out: &Out) {
    let Some(init) = cfg.initializer else {
        return;
    };
    let arg = &cfg.initializer_arg;
    let ptr = if arg.is_empty() {
        std::ptr::null()
    } else {
        arg.as_ptr() as *const c_void
    };
    let r = std::panic::catch_unwind(|| {
        // SAFETY: the host gave this initializer and promised it is
        // callable with its argument bytes.
        unsafe { init(ptr, arg.len()) }
    })
    .unwrap_or(Status::Internal as i32);
    if r != 0 {
        out.send(&[&wire::header(wire::INIT_FAILED, r as u32, 0)]);
        leave(EXIT_INIT_FAILED);
    }
}

/// Reads calls and runs their items until told to stop (or the pipe ends,
/// or `max_tasks` calls were run).
fn serve(cfg: &WorkerConfig, call_fd: RawFd, out: &Out) -> ! {
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    let mut calls_done = 0usize;
    let mut payload: Vec<u8> = Vec::new();
    loop {
        let (func, items) = read_call(call_fd, &mut payload);
        calls_done += 1;
        let last_call = cfg.max_tasks != 0 && calls_done >= cfg.max_tasks;
        let n = items.len();
        for (i, (task_id, range)) in items.iter().enumerate() {
            let last = last_call && i + 1 == n;
            let arg = &payload[range.clone()];
            run_one(func, *task_id, arg, last, out, me);
        }
        if last_call {
            leave(EXIT_OK);
        }
        // Do not keep a huge argument buffer around between calls.
        if payload.capacity() > (4 << 20) {
            payload = Vec::new();
        }
    }
}

/// The next call from the pipe (its payload in `payload`): the function and
/// the items' task ids and argument ranges. Leaves on `STOP`, end of file
/// or a malformed frame.
fn read_call(call_fd: RawFd, payload: &mut Vec<u8>) -> (usize, Vec<(u64, Range<usize>)>) {
    let mut h = [0u8; wire::HEADER_LEN];
    match sys::read_exact(call_fd, &mut h) {
        Ok(true) => {}
        Ok(false) => leave(EXIT_OK), // the pool closed our pipe
        Err(_) => leave(EXIT_PIPE),
    }
    let Ok(h) = wire::parse_header(&h) else {
        leave(EXIT_PROTOCOL)
    };
    match h.kind {
        wire::STOP => leave(EXIT_OK),
        wire::CALL => {}
        _ => leave(EXIT_PROTOCOL),
    }
    payload.clear();
    payload.resize(h.len as usize, 0);
    match sys::read_exact(call_fd, payload) {
        Ok(true) => {}
        Ok(false) if payload.is_empty() => {}
        _ => leave(EXIT_PIPE),
    }
    let Ok(call) = wire::decode_call(h.aux, payload) else {
        leave(EXIT_PROTOCOL)
    };
    (call.func, call.items)
}

fn run_one(func: usize, task_id: u64, arg: &[u8], last: bool, out: &Out, me: libc::pid_t) {
    // SAFETY: `func` is the task pointer the parent sent; the worker is a fork
    // of the parent's image, so the address names the same function (X10).
    let func: TaskFn = unsafe { std::mem::transmute::<usize, TaskFn>(func) };
    let ptr = if arg.is_empty() {
        std::ptr::null()
    } else {
        arg.as_ptr() as *const c_void
    };
    let task = Task {
        func,
        arg: Arg::new(ptr, arg.len(), None),
    };
    out.ring.mark_started(task_id);
    let never = || false;
    let outcome = run_task(&task, TaskContext::new(&never));
    match outcome {
        TaskOutcome::Value(v) => {
            let len = v.len();
            let bytes: &[u8] = if v.ptr().is_null() || len == 0 {
                &[]
            } else {
                // SAFETY: the task promised `len` readable bytes at its value's
                // pointer; the value (and `arg`, which it may point into) live
                // until after the bytes were written.
                unsafe { std::slice::from_raw_parts(v.ptr() as *const u8, len) }
            };
            let head = wire::result_value_head(task_id, last, bytes.len());
            out.send(&[&head, bytes]);
            drop(v); // the task's destructor runs here, after the copy
        }
        TaskOutcome::Error(e) => {
            let detail = match &e.detail {
                Some(d) => d.to_bytes().to_vec(),
                None => format!("raised in worker process {me} by task {task_id}").into_bytes(),
            };
            let frame = wire::result_error(
                task_id,
                last,
                e.kind as i32,
                e.code,
                e.message.to_bytes(),
                &detail,
            );
            out.send(&[&frame]);
        }
        TaskOutcome::Cancelled => out.send(&[&wire::result_cancelled(task_id, last)]),
    }
    drop(task);
}
