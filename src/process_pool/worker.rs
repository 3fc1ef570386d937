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

/// What every worker of a pool needs; inherited through fork (a spawned
/// worker reads it from its call pipe, `spawn`).
pub(crate) struct WorkerConfig {
    pub initializer: Option<InitFn>,
    pub initializer_arg: Vec<u8>,
    /// Calls a worker runs before it exits (0: unlimited).
    pub max_tasks: usize,
    /// Spawn pools (N5): calls name their task by a registry id defined by
    /// a `NAME` frame; the initializer is known by this name.
    pub by_name: Option<ByName>,
}

/// How a spawn pool's worker finds its functions.
pub(crate) struct ByName {
    /// The initializer's registered name (its function is
    /// `WorkerConfig::initializer` once resolved here).
    pub initializer: Option<std::sync::Arc<str>>,
}

/// A spawned worker's names: host registry id -> (name, the function
/// registered under that name here, if any). Looked up once per `NAME`.
#[derive(Default)]
struct Names(std::collections::HashMap<u64, (String, Option<TaskFn>)>);

impl Names {
    fn define(&mut self, id: u64, name: &[u8]) {
        let name = String::from_utf8_lossy(name).into_owned();
        let func = crate::task_registry::task_by_name(&name).map(|(_, f)| f);
        self.0.insert(id, (name, func));
    }

    /// The function of a call's task word, or why there is none.
    fn resolve(&self, id: u64) -> Result<TaskFn, String> {
        match self.0.get(&id) {
            Some((_, Some(f))) => Ok(*f),
            Some((name, None)) => Err(format!(
                "no task is registered as '{name}' in this worker program \
                 (fut_register_task before fut_worker_entry)"
            )),
            None => Err(format!("task id {id} was never named to this worker")),
        }
    }
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
        if cfg
            .by_name
            .as_ref()
            .is_some_and(|b| b.initializer.is_some())
        {
            // N6: the named initializer is not registered in this program.
            let code = Status::NotRegistered as i32;
            out.send(&[&wire::header(wire::INIT_FAILED, code as u32, 0)]);
            leave(EXIT_INIT_FAILED);
        }
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
    let mut names = Names::default();
    loop {
        let named = cfg.by_name.is_some().then_some(&mut names);
        let (word, items) = read_call(call_fd, &mut payload, named);
        let func = if cfg.by_name.is_some() {
            names.resolve(word as u64)
        } else {
            // SAFETY: the word is the task pointer the parent sent; the
            // worker is a fork of the parent's image, so the address names
            // the same function (X10).
            Ok(unsafe { std::mem::transmute::<usize, TaskFn>(word) })
        };
        calls_done += 1;
        let last_call = cfg.max_tasks != 0 && calls_done >= cfg.max_tasks;
        let n = items.len();
        for (i, (task_id, range)) in items.iter().enumerate() {
            let last = last_call && i + 1 == n;
            let arg = &payload[range.clone()];
            match &func {
                Ok(f) => run_one(*f, *task_id, arg, last, out, me),
                Err(why) => not_registered(*task_id, last, why, out),
            }
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

/// The next call from the pipe (its payload in `payload`): the function (or
/// a spawn pool's task id) and the items' task ids and argument ranges.
/// `NAME` frames before it go into `names` (spawn pools only: a forked
/// worker touches no registry lock). Leaves on `STOP`, end of file or a
/// malformed frame.
fn read_call(
    call_fd: RawFd,
    payload: &mut Vec<u8>,
    mut names: Option<&mut Names>,
) -> (usize, Vec<(u64, Range<usize>)>) {
    loop {
        let (kind, aux) = read_frame(call_fd, payload);
        if let (wire::NAME, Some(names)) = (kind, names.as_deref_mut()) {
            names.define(aux as u64, payload);
            continue;
        }
        if kind != wire::CALL {
            leave(EXIT_PROTOCOL);
        }
        let Ok(call) = wire::decode_call(aux, payload) else {
            leave(EXIT_PROTOCOL)
        };
        return (call.func, call.items);
    }
}

/// Reads one frame into `payload`; answers (kind, aux). Leaves on `STOP`,
/// end of file, an unknown kind or a malformed frame.
pub(crate) fn read_frame(call_fd: RawFd, payload: &mut Vec<u8>) -> (u32, u32) {
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
        wire::CALL | wire::NAME | wire::SETUP => {}
        _ => leave(EXIT_PROTOCOL),
    }
    payload.clear();
    payload.resize(h.len as usize, 0);
    match sys::read_exact(call_fd, payload) {
        Ok(true) => {}
        Ok(false) if payload.is_empty() => {}
        _ => leave(EXIT_PIPE),
    }
    (h.kind, h.aux)
}

/// N3: a call whose task name this worker program does not know fails
/// item by item (`FUT_ERR_NOT_REGISTERED`); the worker goes on.
fn not_registered(task_id: u64, last: bool, why: &str, out: &Out) {
    let kind = Status::NotRegistered as i32;
    let message = b"the task is not registered in the worker program";
    let frame = wire::result_error(task_id, last, kind, 0, message, why.as_bytes());
    out.send(&[&frame]);
}

fn run_one(func: TaskFn, task_id: u64, arg: &[u8], last: bool, out: &Out, me: libc::pid_t) {
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
                None => format!("raised in worker process {me}").into_bytes(),
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
