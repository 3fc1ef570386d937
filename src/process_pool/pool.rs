//! The management thread: starts workers, dispatches calls, collects results,
//! watches every worker, completes futures (with no lock of ours held), and
//! tears the pool down (SEMANTICS P2–P18, B1–B13).
//!
//! Who forks what: the manager thread forks, as its very first act and before
//! the pool has any other thread, the fork server (`FUT_START_FORKSERVER`, or
//! `FUT_START_FORK` when replacements may be needed) and, for
//! `FUT_START_FORK`, every worker. Children set `PR_SET_PDEATHSIG(SIGKILL)`,
//! which fires when the *thread* that forked them exits, so the forking thread
//! must live as long as the pool: the manager thread does, and it is the only
//! thread of ours that ever forks. Later workers come from the fork server.
//!
//! Death detection: a pidfd per direct child (polled; a 50 ms `waitpid`
//! tick where pidfds are unavailable) and, for the fork server's children,
//! its `FS_EXITED` report after it reaped them. Before a death is handled the
//! worker's result ring is drained, so no result it published is lost.
//!
//! Channels per worker: calls go down a pipe; results come back through a
//! shared-memory ring (`ring`), with the result pipe for wake-up tokens and
//! end of file. Results read together are completed in groups, last to
//! first (`complete_all`), so that an in-order reader wakes once per group.

use super::fork_server::{self, ForkServer};
use super::ring::Ring;
use super::sys;
use super::values::ValueBlocks;
use super::wire::{self, Ctl, Seg};
use super::worker::{worker_main, RingSource, WorkerConfig, EXIT_INIT_FAILED};
use super::{CrashPolicy, StartMethod};
use crate::future::{Future, Value};
use crate::status::{ErrorRecord, Status};
use crate::sync::{Condvar, Mutex};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The message of every future failed by a broken pool (B2).
pub(crate) const BROKEN_MESSAGE: &str =
    "A child process terminated abruptly, the process pool is not usable anymore";

/// One submitted item: its task id, future and where its argument lies in
/// its call's frame (kept until the item is done, so that it can be sent
/// again to a replacement).
pub(crate) struct Work {
    pub id: u64,
    pub future: Future,
    pub arg: std::ops::Range<usize>,
}

/// A call as submitted: one item (submit) or a chunk of map items, with its
/// `CALL` frame, built by the submitter (`wire::CallBuilder`).
pub(crate) struct CallReq {
    pub func: usize,
    pub frame: Arc<Vec<u8>>,
    pub items: Vec<Work>,
}

/// What submitters and the manager share, under one short-held lock.
pub(crate) struct State {
    pub incoming: Vec<CallReq>,
    pub shutdown: bool,
    pub cancel_futures: bool,
    pub broken: Option<String>,
}

/// Buffers of finished calls, for later submits to reuse: a map otherwise
/// allocates every chunk's frame and item list afresh, and glibc returns
/// that memory to the kernel in between (page faults on every map).
#[derive(Default)]
pub(crate) struct Spares {
    pub frames: Vec<Vec<u8>>,
    frame_bytes: usize,
    pub works: Vec<Vec<Work>>,
}

/// Frame capacity kept in all, and the largest frame kept.
const SPARE_FRAME_BYTES: usize = 4 << 20;
const SPARE_FRAME_MAX: usize = 256 << 10;
/// Item lists kept, and the largest capacity kept.
const SPARE_WORKS: usize = 1024;
const SPARE_WORKS_MAX: usize = 1024;

impl Spares {
    /// Keeps what fits within the limits; frees the rest.
    pub(crate) fn absorb(&mut self, frames: &mut Vec<Vec<u8>>, works: &mut Vec<Vec<Work>>) {
        for f in frames.drain(..) {
            let cap = f.capacity();
            if cap <= SPARE_FRAME_MAX && self.frame_bytes + cap <= SPARE_FRAME_BYTES {
                self.frame_bytes += cap;
                self.frames.push(f);
            }
        }
        for w in works.drain(..) {
            if w.is_empty() && w.capacity() <= SPARE_WORKS_MAX && self.works.len() < SPARE_WORKS {
                self.works.push(w);
            }
        }
    }

    /// Takes up to `n` frames and `n` item lists.
    pub(crate) fn take(&mut self, n: usize) -> (Vec<Vec<u8>>, Vec<Vec<Work>>) {
        let frames = self.frames.split_off(self.frames.len().saturating_sub(n));
        self.frame_bytes -= frames.iter().map(|f| f.capacity()).sum::<usize>();
        let works = self.works.split_off(self.works.len().saturating_sub(n));
        (frames, works)
    }
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub spares: Mutex<Spares>,
    /// eventfd waking the manager; written without any lock (P17).
    pub wake_fd: RawFd,
    /// Set while a wake-up is pending: coalesces eventfd writes.
    pub wake_flag: AtomicBool,
    pub finished: Mutex<bool>,
    pub finished_cv: Condvar,
    /// The process that created the pool: pools do not survive a fork.
    pub owner_pid: libc::pid_t,
    pub next_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(wake_fd: RawFd) -> Shared {
        Shared {
            state: Mutex::new(State {
                incoming: Vec::new(),
                shutdown: false,
                cancel_futures: false,
                broken: None,
            }),
            spares: Mutex::new(Spares::default()),
            wake_fd,
            wake_flag: AtomicBool::new(false),
            finished: Mutex::new(false),
            finished_cv: Condvar::new(),
            // SAFETY: getpid cannot fail.
            owner_pid: unsafe { libc::getpid() },
            next_id: AtomicU64::new(1),
        }
    }

    /// Wakes the manager; never blocks, coalesces with pending wake-ups.
    pub(crate) fn wake(&self) {
        if !self.wake_flag.swap(true, Ordering::SeqCst) {
            sys::eventfd_signal(self.wake_fd);
        }
    }

    pub(crate) fn forked_away(&self) -> bool {
        // SAFETY: getpid cannot fail.
        unsafe { libc::getpid() != self.owner_pid }
    }

    /// E1/P3: queues calls unless the pool is broken or shut down.
    pub(crate) fn push(&self, calls: Vec<CallReq>) -> Result<(), Status> {
        if self.forked_away() {
            return Err(Status::Shutdown);
        }
        {
            let mut st = self.state.lock();
            if st.broken.is_some() {
                return Err(Status::BrokenPool);
            }
            if st.shutdown {
                return Err(Status::Shutdown);
            }
            st.incoming.extend(calls);
        }
        self.wake();
        Ok(())
    }

    fn mark_finished(&self) {
        *self.finished.lock() = true;
        self.finished_cv.notify_all();
    }

    pub(crate) fn wait_finished(&self) {
        let mut f = self.finished.lock();
        while !*f {
            self.finished_cv.wait(&mut f);
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        sys::close(self.wake_fd);
    }
}

/// What the manager needs from the options.
pub(crate) struct ManagerConfig {
    pub max_workers: usize,
    pub start_method: StartMethod,
    pub policy: CrashPolicy,
    pub time_limit: Option<Duration>,
    pub worker: WorkerConfig,
}

/// A call sent to a worker, items not yet answered (front = running).
struct Dispatched {
    func: usize,
    /// The frame as submitted; written as it is while it holds exactly
    /// `items` (nothing cancelled at dispatch, nothing answered yet).
    frame: Arc<Vec<u8>>,
    items: VecDeque<Work>,
}

enum Origin {
    /// Forked by the manager: our child, reaped by us.
    Direct { pidfd: Option<RawFd> },
    /// Forked by the fork server, which reaps it and reports.
    Server,
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Kill {
    None,
    /// Killed by us for running past the time limit.
    TimeLimit {
        task: u64,
    },
    /// Killed by us because the pool is broken.
    Teardown,
}

struct OutMsg {
    segs: Vec<Seg>,
    seg: usize,
    off: usize,
}

struct Slot {
    pid: libc::pid_t,
    origin: Origin,
    call_fd: RawFd,
    /// Wake-up tokens and end of file; the results come through `ring`.
    result_fd: RawFd,
    ring: Ring,
    ready: bool,
    init_failed: Option<i32>,
    out: VecDeque<OutMsg>,
    inbuf: Vec<u8>,
    in_start: usize,
    assigned: VecDeque<Dispatched>,
    /// When the front item started (for the time limit).
    started: Option<Instant>,
    calls_sent: usize,
    got_last: bool,
    stopping: bool,
    kill: Kill,
    /// Set once the process is known dead (reaped): its wait status, None
    /// when unavailable.
    dead: Option<Option<i32>>,
}

impl Slot {
    fn new(pid: libc::pid_t, origin: Origin, call_fd: RawFd, result_fd: RawFd, ring: Ring) -> Slot {
        Slot {
            pid,
            origin,
            call_fd,
            result_fd,
            ring,
            ready: false,
            init_failed: None,
            out: VecDeque::new(),
            inbuf: Vec::new(),
            in_start: 0,
            assigned: VecDeque::new(),
            started: None,
            calls_sent: 0,
            got_last: false,
            stopping: false,
            kill: Kill::None,
            dead: None,
        }
    }

    fn fds(&self) -> Vec<RawFd> {
        let mut v = vec![self.call_fd, self.result_fd];
        if let Origin::Direct { pidfd: Some(p) } = self.origin {
            v.push(p);
        }
        v.retain(|&fd| fd >= 0);
        v
    }

    /// Can take another call.
    fn usable(&self, max_tasks: usize) -> bool {
        self.dead.is_none()
            && self.call_fd >= 0
            && !self.stopping
            && self.kill == Kill::None
            && (max_tasks == 0 || self.calls_sent < max_tasks)
    }

    fn close_fds(&mut self) {
        sys::close(self.call_fd);
        sys::close(self.result_fd);
        self.call_fd = -1;
        self.result_fd = -1;
        if let Origin::Direct { pidfd } = &mut self.origin {
            if let Some(p) = pidfd.take() {
                sys::close(p);
            }
        }
    }
}

struct Manager {
    shared: Arc<Shared>,
    cfg: ManagerConfig,
    server: Option<ForkServer>,
    workers: Vec<Slot>,
    /// Spawn requests sent to the fork server: (token, call fd, result fd,
    /// result ring).
    spawning: Vec<(u64, RawFd, RawFd, Ring)>,
    next_token: u64,
    pending: VecDeque<CallReq>,
    /// Calls already RUNNING (F6 done) that no worker holds yet: the call
    /// queue's extra item, or calls whose worker died before running them.
    held: VecDeque<Dispatched>,
    shutdown: bool,
    broken: bool,
    /// Consecutive worker crashes (FUT_CRASH_FAIL_TASK back-off).
    crashes: u32,
    spawn_not_before: Option<Instant>,
    /// Some child has no pidfd: poll with a tick and waitpid.
    need_tick: bool,
    /// Results read but not yet completed (kept to reuse its buffer).
    completions: Vec<(Future, Outcome)>,
    /// Where small result values are copied.
    values: ValueBlocks,
    /// Buffers of calls finished since the last hand-back to `Shared`.
    spare_frames: Vec<Vec<u8>>,
    spare_works: Vec<Vec<Work>>,
}

/// Delay before the replacement after `n` consecutive crashes: none for the
/// first, then 10 ms doubling up to 1 s.
pub(crate) fn backoff(n: u32) -> Duration {
    if n <= 1 {
        Duration::ZERO
    } else {
        let ms = 10u64.saturating_mul(1u64 << (n - 2).min(20));
        Duration::from_millis(ms.min(1000))
    }
}

thread_local! {
    /// On a manager thread: the address of its pool's `Shared`, else 0. A
    /// plain const cell: asking std for the current thread's id would make
    /// it allocate a handle for the host's threads that is never freed.
    pub(crate) static MANAGER_OF: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The manager thread's body. Reports the start (forks) through `started`.
/// How long the manager looks for results before it sleeps, while work is
/// out (see `poll_once`).
const MANAGER_SPIN: std::time::Duration = std::time::Duration::from_micros(30);

pub(crate) fn run(shared: Arc<Shared>, cfg: ManagerConfig, started: super::StartSender) {
    MANAGER_OF.with(|m| m.set(Arc::as_ptr(&shared) as usize));
    let mut m = Manager {
        shared,
        cfg,
        server: None,
        workers: Vec::new(),
        spawning: Vec::new(),
        next_token: 1,
        pending: VecDeque::new(),
        held: VecDeque::new(),
        shutdown: false,
        broken: false,
        crashes: 0,
        spawn_not_before: None,
        need_tick: false,
        completions: Vec::new(),
        values: ValueBlocks::new(),
        spare_frames: Vec::new(),
        spare_works: Vec::new(),
    };
    if let Err(e) = m.start() {
        m.kill_all();
        m.reap_all_blocking();
        m.close_server();
        m.shared.mark_finished();
        started.send(Err(e));
        return;
    }
    started.send(Ok(()));
    block_sigpipe();
    m.main_loop();
    m.shared.mark_finished();
}

/// Writing to a pipe whose reader died must answer EPIPE on this thread
/// instead of raising SIGPIPE in the host.
fn block_sigpipe() {
    // SAFETY: changes only this thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Consumes a SIGPIPE raised on this thread by a failed write.
fn consume_sigpipe() {
    // SAFETY: sigtimedwait with a zero timeout on this thread's blocked set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        libc::sigtimedwait(&set, std::ptr::null_mut(), &ts);
    }
}

impl Manager {
    /// The pool's descriptors: what a new child must close.
    fn pool_fds(&self) -> Vec<RawFd> {
        let mut v = vec![self.shared.wake_fd];
        if let Some(s) = &self.server {
            v.push(s.sock);
            if let Some(p) = s.pidfd {
                v.push(p);
            }
        }
        for w in &self.workers {
            v.extend(w.fds());
        }
        for (_, a, b, _) in &self.spawning {
            v.push(*a);
            v.push(*b);
        }
        v
    }

    fn needs_server(&self) -> bool {
        match self.cfg.start_method {
            StartMethod::ForkServer => true,
            StartMethod::Fork => {
                self.cfg.policy == CrashPolicy::FailTask || self.cfg.time_limit.is_some()
            }
        }
    }

    /// The first act of the manager thread: every fork of the pool's start.
    fn start(&mut self) -> Result<(), i32> {
        if self.needs_server() {
            let fds = self.pool_fds();
            let s = fork_server::start(&self.cfg.worker, &fds)?;
            if s.pidfd.is_none() {
                self.need_tick = true;
            }
            self.server = Some(s);
        }
        if self.cfg.start_method == StartMethod::Fork {
            // One mapping for all their rings: one munmap at the end.
            for ring in Ring::create_inherited(self.cfg.max_workers)? {
                self.fork_direct(ring)?;
            }
        }
        Ok(())
    }

    /// Forks a worker that inherits `ring` (mapped before the fork).
    fn fork_direct(&mut self, ring: Ring) -> Result<(), i32> {
        let pipes = sys::WorkerPipes::new()?;
        let sys::WorkerPipes {
            call_r,
            call_w,
            res_r,
            res_w,
        } = pipes;
        let mut close = self.pool_fds();
        close.push(call_w);
        close.push(res_r);
        // SAFETY: getpid cannot fail.
        let parent = unsafe { libc::getpid() };
        // SAFETY: fork; the child only runs `worker_main`, which never returns.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            let e = sys::errno();
            pipes.close_all();
            return Err(e);
        }
        if pid == 0 {
            let src = RingSource::Inherited(&ring);
            worker_main(&self.cfg.worker, call_r, res_w, src, parent, &close);
        }
        sys::close(call_r);
        sys::close(res_w);
        let pidfd = sys::pidfd_open(pid).ok();
        if pidfd.is_none() {
            self.need_tick = true;
        }
        let nb = sys::set_nonblocking(call_w).and(sys::set_nonblocking(res_r));
        self.workers.push(Slot::new(
            pid,
            Origin::Direct { pidfd },
            call_w,
            res_r,
            ring,
        ));
        nb
    }

    // ---- the loop ----------------------------------------------------------

    fn main_loop(&mut self) {
        loop {
            self.take_incoming();
            if !self.broken {
                self.spawn_as_needed();
                self.dispatch();
            }
            for i in 0..self.workers.len() {
                self.flush(i);
            }
            self.maybe_stop_workers();
            self.remove_dead();
            if self.finished() {
                break;
            }
            self.poll_once();
            self.check_time_limits();
            self.remove_dead();
        }
        self.close_server();
    }

    /// Moves new submissions and flags into the manager (P4, P13).
    fn take_incoming(&mut self) {
        sys::eventfd_drain(self.shared.wake_fd);
        self.shared.wake_flag.store(false, Ordering::SeqCst);
        let (calls, shutdown, cancel) = {
            let mut st = self.shared.state.lock();
            let calls = std::mem::take(&mut st.incoming);
            let cancel = std::mem::take(&mut st.cancel_futures);
            (calls, st.shutdown, cancel)
        };
        self.pending.extend(calls);
        self.shutdown |= shutdown;
        if self.broken {
            // A submit that raced the break: fail it too.
            self.fail_pending(&self.broken_cause());
            return;
        }
        if cancel {
            // E6/P13: everything not yet sent to a worker is cancelled.
            for call in std::mem::take(&mut self.pending) {
                for w in call.items {
                    w.future.cancel();
                }
            }
        }
        if self.shutdown {
            // P14: cancelled leftovers are not outstanding work.
            self.pending
                .retain(|c| c.items.iter().any(|w| !w.future.cancelled()));
        }
    }

    fn broken_cause(&self) -> String {
        self.shared
            .state
            .lock()
            .broken
            .clone()
            .unwrap_or_else(|| "the pool is broken".into())
    }

    fn live_count(&self) -> usize {
        self.workers
            .iter()
            .filter(|w| w.usable(self.cfg.worker.max_tasks))
            .count()
    }

    fn outstanding_calls(&self) -> usize {
        self.held.len() + self.workers.iter().map(|w| w.assigned.len()).sum::<usize>()
    }

    /// P8/P10: asks the fork server for workers while calls wait and fewer
    /// than max_workers live (after the back-off, if crashes happened).
    fn spawn_as_needed(&mut self) {
        let Some(server) = &self.server else { return };
        let waiting = self.pending.len() + self.held.len();
        if waiting == 0 {
            return;
        }
        if let Some(t) = self.spawn_not_before {
            if Instant::now() < t {
                return;
            }
            self.spawn_not_before = None;
        }
        let idle = self
            .workers
            .iter()
            .filter(|w| w.usable(self.cfg.worker.max_tasks) && w.assigned.is_empty())
            .count();
        let have = self.live_count() + self.spawning.len();
        let room = self.cfg.max_workers.saturating_sub(have);
        let want = waiting.saturating_sub(idle + self.spawning.len()).min(room);
        for _ in 0..want {
            let token = self.next_token;
            self.next_token += 1;
            match server.spawn(token) {
                Ok((c, r, ring)) => self.spawning.push((token, c, r, ring)),
                Err(e) => {
                    self.spawn_failed(e);
                    return;
                }
            }
        }
    }

    /// P11: a worker cannot be started; if none is left to run the waiting
    /// calls, the pool breaks instead of hanging.
    fn spawn_failed(&mut self, errno: i32) {
        let err = std::io::Error::from_raw_os_error(errno);
        if self.live_count() == 0 && self.spawning.is_empty() {
            self.break_pool(format!("cannot start a worker process: {err}"));
        } else {
            crate::log::log(&format!(
                "process pool: cannot start a worker process: {err}"
            ));
        }
    }

    /// An idle usable worker (ready ones first), if any.
    fn idle_worker(&self) -> Option<usize> {
        let max_tasks = self.cfg.worker.max_tasks;
        self.workers
            .iter()
            .enumerate()
            .filter(|(_, w)| w.usable(max_tasks) && w.assigned.is_empty())
            .min_by_key(|(_, w)| !w.ready)
            .map(|(i, _)| i)
    }

    /// P4/P5: F6 on pending calls while fewer than max_workers + 1 are
    /// outstanding (cancelled items are dropped); each worker gets one call
    /// at a time, and the extra call waits here, RUNNING, for whichever worker
    /// goes idle first (as Python's shared call queue: no call waits behind a
    /// long task while another worker is idle).
    fn dispatch(&mut self) {
        loop {
            while let Some(i) = self.idle_worker() {
                let Some(call) = self.held.pop_front() else {
                    break;
                };
                self.send_call(i, call);
            }
            if self.outstanding_calls() > self.cfg.max_workers {
                return;
            }
            let Some(req) = self.pending.pop_front() else {
                return;
            };
            let mut items = VecDeque::from(req.items);
            // cancelled: waiters were notified by cancel()
            items.retain(|w| matches!(w.future.set_running_or_notify_cancel(), Ok(true)));
            if !items.is_empty() {
                self.held.push_back(Dispatched {
                    func: req.func,
                    frame: req.frame,
                    items,
                });
            }
        }
    }

    fn send_call(&mut self, i: usize, call: Dispatched) {
        let w = &mut self.workers[i];
        let segs = if call.items.len() == wire::call_items(&call.frame) {
            // The frame as built at submit: written as it is.
            let len = call.frame.len();
            vec![Seg::Slice(Arc::clone(&call.frame), 0..len)]
        } else {
            let items: Vec<(u64, std::ops::Range<usize>)> =
                call.items.iter().map(|x| (x.id, x.arg.clone())).collect();
            wire::encode_call_from(call.func, &call.frame, &items)
        };
        w.out.push_back(OutMsg {
            segs,
            seg: 0,
            off: 0,
        });
        w.calls_sent += 1;
        if w.assigned.is_empty() && w.ready && self.cfg.time_limit.is_some() {
            w.started = Some(Instant::now());
        }
        w.assigned.push_back(call);
    }

    /// Writes what a worker's pipe takes now (never blocks).
    fn flush(&mut self, i: usize) {
        let w = &mut self.workers[i];
        if w.call_fd < 0 {
            w.out.clear();
            return;
        }
        while let Some(msg) = w.out.front_mut() {
            if msg.seg >= msg.segs.len() {
                w.out.pop_front();
                continue;
            }
            let bytes = &msg.segs[msg.seg].as_slice()[msg.off..];
            if bytes.is_empty() {
                msg.seg += 1;
                msg.off = 0;
                continue;
            }
            // SAFETY: writes from a live slice.
            let n = unsafe {
                libc::write(
                    w.call_fd,
                    bytes.as_ptr() as *const libc::c_void,
                    bytes.len(),
                )
            };
            if n < 0 {
                let e = sys::errno();
                if e == libc::EINTR {
                    continue;
                }
                if e == libc::EAGAIN {
                    return;
                }
                // EPIPE: the worker is gone; its death is handled elsewhere.
                consume_sigpipe();
                sys::close(w.call_fd);
                w.call_fd = -1;
                w.out.clear();
                return;
            }
            msg.off += n as usize;
            if msg.off == msg.segs[msg.seg].as_slice().len() {
                msg.seg += 1;
                msg.off = 0;
            }
        }
    }

    /// Takes the worker's wake-up tokens and every byte it published, and
    /// handles the complete frames.
    fn read_results(&mut self, i: usize) {
        let w = &mut self.workers[i];
        drain_tokens(w);
        if w.in_start > 0 && w.in_start * 2 >= w.inbuf.len() {
            w.inbuf.drain(..w.in_start);
            w.in_start = 0;
        }
        if w.ring.read_into(&mut w.inbuf).is_err() {
            let pid = w.pid;
            self.break_pool(format!(
                "bad message from worker {pid}: protocol error: corrupt result ring"
            ));
            return;
        }
        let mut done = std::mem::take(&mut self.completions);
        let r = self.handle_frames(i, &mut done);
        complete_all(&mut done);
        self.completions = done;
        if !self.spare_frames.is_empty() || !self.spare_works.is_empty() {
            self.shared
                .spares
                .lock()
                .absorb(&mut self.spare_frames, &mut self.spare_works);
        }
        if let Err(e) = r {
            self.break_pool(format!(
                "bad message from worker {}: {e}",
                self.workers[i].pid
            ));
        }
    }

    /// Decodes the complete frames of worker `i`; the results go to `done`
    /// (completed by the caller, with no lock of ours held).
    fn handle_frames(
        &mut self,
        i: usize,
        done: &mut Vec<(Future, Outcome)>,
    ) -> Result<(), wire::WireError> {
        let timed = self.cfg.time_limit.is_some();
        loop {
            let w = &mut self.workers[i];
            let Some((h, total)) = wire::complete_frame(&w.inbuf[w.in_start..])? else {
                return Ok(());
            };
            let start = w.in_start + wire::HEADER_LEN;
            let end = w.in_start + total;
            match h.kind {
                wire::READY => {
                    w.ready = true;
                    if timed && !w.assigned.is_empty() && w.started.is_none() {
                        w.started = Some(Instant::now());
                    }
                }
                wire::INIT_FAILED => w.init_failed = Some(h.aux as i32),
                wire::RESULT => {
                    let msg = wire::decode_result(&w.inbuf[start..end])?;
                    let Some(call) = w.assigned.front_mut() else {
                        return Err(wire::WireError("result without a call".into()));
                    };
                    let item = call.items.pop_front().expect("calls are never empty");
                    if item.id != msg.task_id {
                        let running = item.id;
                        // Keep it assigned: the break fails it (B3).
                        call.items.push_front(item);
                        return Err(wire::WireError(format!(
                            "result for task {} while task {running} runs",
                            msg.task_id
                        )));
                    }
                    if call.items.is_empty() {
                        let call = w.assigned.pop_front().expect("front exists");
                        if let Ok(frame) = Arc::try_unwrap(call.frame) {
                            self.spare_frames.push(frame);
                        }
                        self.spare_works.push(Vec::from(call.items));
                    }
                    if timed {
                        w.started = if w.assigned.is_empty() {
                            None
                        } else {
                            Some(Instant::now())
                        };
                    }
                    if msg.last {
                        w.got_last = true;
                    }
                    let outcome = match msg.body {
                        wire::Body::Value(b) => Outcome::Value(self.values.value(b)),
                        wire::Body::Error {
                            kind,
                            code,
                            message,
                            detail,
                        } => {
                            let kind = Status::from_code(kind)
                                .filter(|k| *k as i32 <= -5)
                                .unwrap_or(Status::TaskFailed);
                            let mut rec =
                                ErrorRecord::new(kind, code, &String::from_utf8_lossy(message));
                            if !detail.is_empty() {
                                rec = rec.with_detail(&String::from_utf8_lossy(detail));
                            }
                            Outcome::Error(rec)
                        }
                        wire::Body::Cancelled => Outcome::Cancelled,
                    };
                    self.crashes = 0;
                    done.push((item.future, outcome));
                }
                k => return Err(wire::WireError(format!("unexpected message kind {k}"))),
            }
            self.workers[i].in_start = end;
        }
    }

    // ---- polling -------------------------------------------------------------

    fn poll_once(&mut self) {
        #[derive(Copy, Clone)]
        enum Ev {
            Wake,
            Server,
            ServerPid,
            Result(usize),
            Call(usize),
            Pid(usize),
        }
        let mut fds = Vec::with_capacity(3 + self.workers.len() * 3);
        let mut evs = Vec::with_capacity(fds.capacity());
        let mut add = |fd: RawFd, events: i16, ev: Ev| {
            fds.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            });
            evs.push(ev);
        };
        add(self.shared.wake_fd, libc::POLLIN, Ev::Wake);
        if let Some(s) = &self.server {
            add(s.sock, libc::POLLIN, Ev::Server);
            if let Some(p) = s.pidfd {
                add(p, libc::POLLIN, Ev::ServerPid);
            }
        }
        for (i, w) in self.workers.iter().enumerate() {
            if w.result_fd >= 0 {
                add(w.result_fd, libc::POLLIN, Ev::Result(i));
            }
            if w.call_fd >= 0 && !w.out.is_empty() {
                add(w.call_fd, libc::POLLOUT, Ev::Call(i));
            }
            if let Origin::Direct { pidfd: Some(p) } = w.origin {
                if w.dead.is_none() {
                    add(p, libc::POLLIN, Ev::Pid(i));
                }
            }
        }
        // While a worker has work, results usually follow within
        // microseconds: look at the rings (and for new submissions) for a
        // moment before paying a kernel wake-up per result. An idle pool
        // does not spin (nothing assigned).
        if self
            .workers
            .iter()
            .any(|w| w.dead.is_none() && !w.assigned.is_empty())
        {
            crate::spin_until(MANAGER_SPIN, None, || {
                self.shared.wake_flag.load(Ordering::Relaxed)
                    || self
                        .workers
                        .iter()
                        .any(|w| w.dead.is_none() && w.ring.has_data())
            });
        }
        // Ask every worker for a token before sleeping; do not sleep when
        // one has published results already.
        let mut waiting = false;
        for w in &self.workers {
            if w.dead.is_none() {
                waiting |= w.ring.arm();
            }
        }
        let timeout = if waiting { 0 } else { self.poll_timeout() };
        // SAFETY: polls a live array of pollfd entries.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        for w in &self.workers {
            w.ring.disarm();
        }
        if r < 0 {
            return; // EINTR: go round again
        }
        let mut server_event = false;
        let mut server_died = false;
        for (pfd, ev) in fds.iter().zip(evs.iter()) {
            if pfd.revents == 0 {
                continue;
            }
            match *ev {
                Ev::Wake => {} // take_incoming drains it
                Ev::Server => server_event = true,
                Ev::ServerPid => server_died = true,
                Ev::Result(i) => self.read_results(i),
                Ev::Call(i) => self.flush(i),
                Ev::Pid(i) => self.reap_direct(i),
            }
        }
        for i in 0..self.workers.len() {
            if self.workers[i].dead.is_none() && self.workers[i].ring.has_data() {
                self.read_results(i);
            }
        }
        if server_event {
            self.server_messages();
        }
        if self.need_tick {
            for i in 0..self.workers.len() {
                if matches!(self.workers[i].origin, Origin::Direct { pidfd: None }) {
                    self.reap_direct(i);
                }
            }
            if let Some(s) = &self.server {
                if s.pidfd.is_none() && matches!(sys::try_reap(s.pid), Ok(Some(_)) | Err(_)) {
                    // Reaped here: forget the pid so it is not waited for again.
                    self.server_gone(true);
                }
            }
        }
        if server_died {
            self.server_gone(false);
        }
    }

    fn poll_timeout(&self) -> i32 {
        let now = Instant::now();
        let mut t: Option<Duration> = None;
        let mut consider = |d: Duration| t = Some(t.map_or(d, |x| x.min(d)));
        if let Some(limit) = self.cfg.time_limit {
            for w in &self.workers {
                if let (Some(s), Kill::None) = (w.started, w.kill) {
                    consider((s + limit).saturating_duration_since(now));
                }
            }
        }
        if let Some(at) = self.spawn_not_before {
            if !self.pending.is_empty() || !self.held.is_empty() {
                consider(at.saturating_duration_since(now));
            }
        }
        if self.need_tick {
            consider(Duration::from_millis(50));
        }
        match t {
            None => -1,
            // Round up so that a deadline is never polled for in a busy loop.
            Some(d) => (d.as_micros().div_ceil(1000)).min(i32::MAX as u128) as i32,
        }
    }

    fn check_time_limits(&mut self) {
        let Some(limit) = self.cfg.time_limit else {
            return;
        };
        let now = Instant::now();
        for i in 0..self.workers.len() {
            let w = &self.workers[i];
            let over = matches!((w.started, w.kill), (Some(s), Kill::None) if now >= s + limit);
            if !over || w.dead.is_some() {
                continue;
            }
            let task = w
                .assigned
                .front()
                .and_then(|c| c.items.front())
                .map(|x| x.id);
            if let Some(task) = task {
                self.workers[i].kill = Kill::TimeLimit { task };
                self.signal_worker(i, libc::SIGKILL);
            }
        }
    }

    fn signal_worker(&self, i: usize, sig: i32) {
        let w = &self.workers[i];
        if w.dead.is_some() {
            return;
        }
        match w.origin {
            Origin::Direct { pidfd: Some(p) } => {
                let _ = sys::pidfd_send_signal(p, sig);
            }
            Origin::Direct { pidfd: None } => {
                // SAFETY: our own child, not reaped yet, so the pid is still ours.
                unsafe { libc::kill(w.pid, sig) };
            }
            Origin::Server => {
                if let Some(s) = &self.server {
                    let _ = s.kill(w.pid, sig);
                }
            }
        }
    }

    /// A direct child may have ended: reap it and handle its death.
    fn reap_direct(&mut self, i: usize) {
        let w = &self.workers[i];
        if w.dead.is_some() {
            return;
        }
        let status = match sys::try_reap(w.pid) {
            Ok(None) => return,
            Ok(Some(st)) => Some(st),
            Err(_) => None, // reaped by someone else (a host SIGCHLD handler)
        };
        self.worker_died(i, status);
    }

    fn server_messages(&mut self) {
        loop {
            let Some(server) = &self.server else { return };
            let msg = match server.recv() {
                Ok(Some(m)) => m,
                Ok(None) => return,
                Err(_) => {
                    // EOF: the server is gone; its pidfd or reap tells how.
                    self.server_gone(false);
                    return;
                }
            };
            self.server_message(msg);
        }
    }

    fn server_message(&mut self, msg: Ctl) {
        match msg.op {
            wire::FS_SPAWNED | wire::FS_SPAWN_FAILED => {
                let Some(pos) = self.spawning.iter().position(|s| s.0 == msg.token) else {
                    return;
                };
                let (_, call_fd, result_fd, ring) = self.spawning.swap_remove(pos);
                if msg.op == wire::FS_SPAWN_FAILED {
                    sys::close(call_fd);
                    sys::close(result_fd);
                    self.spawn_failed(msg.a);
                    return;
                }
                let mut slot = Slot::new(msg.a, Origin::Server, call_fd, result_fd, ring);
                if self.broken {
                    slot.kill = Kill::Teardown;
                }
                self.workers.push(slot);
                if self.broken {
                    self.signal_worker(self.workers.len() - 1, libc::SIGKILL);
                }
            }
            wire::FS_EXITED => {
                let pid = msg.a;
                if let Some(i) = self
                    .workers
                    .iter()
                    .position(|w| w.pid == pid && w.dead.is_none())
                {
                    self.worker_died(i, Some(msg.b as i32));
                }
            }
            _ => {}
        }
    }

    /// The fork server ended (EOF on its socket, its pidfd, or reaped).
    fn server_gone(&mut self, reaped: bool) {
        let Some(s) = self.server.take() else { return };
        let status = if reaped {
            None
        } else {
            sys::try_reap(s.pid).ok().flatten()
        };
        // Its children die with it (PDEATHSIG): pick up their reports first.
        sys::close(s.sock);
        if let Some(p) = s.pidfd {
            sys::close(p);
        }
        for (_, a, b, _) in self.spawning.drain(..) {
            sys::close(a);
            sys::close(b);
        }
        let status = if status.is_none() && !reaped {
            sys::reap_blocking(s.pid)
        } else {
            status
        };
        let cause = format!("fork server {} {}", s.pid, sys::describe_status(status));
        // Workers it forked are gone with it; handle them as crashed.
        for i in 0..self.workers.len() {
            if matches!(self.workers[i].origin, Origin::Server) && self.workers[i].dead.is_none() {
                self.worker_died(i, Some(libc::SIGKILL));
            }
        }
        if !self.broken {
            self.break_pool(cause);
        }
    }

    // ---- deaths ----------------------------------------------------------------

    /// Handles the end of worker `i` (wait status, None if unknown).
    fn worker_died(&mut self, i: usize, status: Option<i32>) {
        // Every result it wrote is in its pipe now: take them first.
        self.read_results(i);
        let policy = self.cfg.policy;
        let has_init = self.cfg.worker.initializer.is_some();
        let w = &mut self.workers[i];
        w.dead = Some(status);
        w.started = None;
        w.close_fds();
        w.out.clear();
        let pid = w.pid;
        let kill = w.kill;
        let running = w
            .assigned
            .front()
            .and_then(|c| c.items.front())
            .map(|x| x.id);
        let expected = w.stopping || (w.got_last && w.assigned.is_empty());
        let ready = w.ready;
        let init_failed = w.init_failed;
        let how = sys::describe_status(status);
        if self.broken || kill == Kill::Teardown {
            self.fail_assigned(i, Status::BrokenPool, BROKEN_MESSAGE, &self.broken_cause());
            return;
        }
        if expected {
            // Stopped by us, or left after its last task (max_tasks_per_child).
            if !self.workers[i].assigned.is_empty() {
                let rest = std::mem::take(&mut self.workers[i].assigned);
                self.requeue_front(rest);
            }
            return;
        }
        if let Some(code) = init_failed {
            self.break_pool(format!(
                "initializer failed with code {code} in worker {pid} ({how})"
            ));
            return;
        }
        if !ready && has_init {
            let code_hint = if status
                .is_some_and(|s| libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == EXIT_INIT_FAILED)
            {
                " (initializer failed)"
            } else {
                ""
            };
            self.break_pool(format!(
                "worker {pid} {how} while running the initializer{code_hint}"
            ));
            return;
        }
        if let Kill::TimeLimit { task } = kill {
            let limit = self.cfg.time_limit.unwrap_or_default();
            let detail = format!(
                "worker {pid} {how}: task {task} ran past the time limit of {}",
                fmt_duration(limit)
            );
            // The task may have answered just before the kill landed.
            if running == Some(task) {
                self.fail_front(
                    i,
                    Status::TimeLimit,
                    "the task ran past the pool's time limit; its worker was killed",
                    &detail,
                );
            }
            let rest = std::mem::take(&mut self.workers[i].assigned);
            self.requeue_front(rest);
            return;
        }
        let detail = match running {
            Some(t) => format!("worker {pid} {how} while running task {t}"),
            None => format!("worker {pid} {how} while idle"),
        };
        match policy {
            CrashPolicy::BreakPool => self.break_pool(detail),
            CrashPolicy::FailTask => {
                crate::log::log(&format!("process pool: {detail}; replacing it"));
                self.fail_front(
                    i,
                    Status::WorkerDied,
                    "the worker process running this task died",
                    &detail,
                );
                let rest = std::mem::take(&mut self.workers[i].assigned);
                self.requeue_front(rest);
                self.crashes = self.crashes.saturating_add(1);
                let delay = backoff(self.crashes);
                if !delay.is_zero() {
                    self.spawn_not_before = Some(Instant::now() + delay);
                }
                if self.server.is_none() {
                    self.break_pool(format!("{detail}; no fork server to replace it"));
                }
            }
        }
    }

    /// Puts calls a dead worker never ran back at the front, in order.
    fn requeue_front(&mut self, calls: VecDeque<Dispatched>) {
        for c in calls.into_iter().rev() {
            self.held.push_front(c);
        }
    }

    /// Fails the running item of worker `i`.
    fn fail_front(&mut self, i: usize, kind: Status, message: &str, detail: &str) {
        let w = &mut self.workers[i];
        let Some(call) = w.assigned.front_mut() else {
            return;
        };
        let item = call.items.pop_front().expect("calls are never empty");
        if call.items.is_empty() {
            w.assigned.pop_front();
        }
        let _ = item
            .future
            .set_exception(ErrorRecord::new(kind, 0, message).with_detail(detail));
    }

    /// Fails every item assigned to worker `i`.
    fn fail_assigned(&mut self, i: usize, kind: Status, message: &str, detail: &str) {
        let calls = std::mem::take(&mut self.workers[i].assigned);
        for c in calls {
            for item in c.items {
                let _ = item
                    .future
                    .set_exception(ErrorRecord::new(kind, 0, message).with_detail(detail));
            }
        }
    }

    fn fail_pending(&mut self, cause: &str) {
        let pending = std::mem::take(&mut self.pending);
        let held = std::mem::take(&mut self.held);
        let rec = || ErrorRecord::new(Status::BrokenPool, 0, BROKEN_MESSAGE).with_detail(cause);
        for c in pending {
            for item in c.items {
                // A cancelled future stays cancelled (B3): the refusal is ignored.
                let _ = item.future.set_exception(rec());
            }
        }
        for c in held {
            for item in c.items {
                let _ = item.future.set_exception(rec());
            }
        }
    }

    /// B2–B5: flags the pool broken, fails every outstanding future with its
    /// own record, kills the workers.
    fn break_pool(&mut self, cause: String) {
        if self.broken {
            return;
        }
        self.broken = true;
        self.shutdown = true;
        crate::log::log(&format!("process pool broken: {cause}"));
        let incoming = {
            let mut st = self.shared.state.lock();
            st.broken = Some(cause.clone());
            st.shutdown = true;
            std::mem::take(&mut st.incoming)
        };
        self.pending.extend(incoming);
        self.fail_pending(&cause);
        for i in 0..self.workers.len() {
            self.fail_assigned(i, Status::BrokenPool, BROKEN_MESSAGE, &cause);
            if self.workers[i].dead.is_none() {
                self.workers[i].kill = Kill::Teardown;
                self.workers[i].out.clear();
                self.signal_worker(i, libc::SIGKILL);
            }
        }
    }

    // ---- shutdown ------------------------------------------------------------------

    fn no_work_left(&self) -> bool {
        self.pending.is_empty()
            && self.held.is_empty()
            && self.workers.iter().all(|w| w.assigned.is_empty())
            && self.shared.state.lock().incoming.is_empty()
    }

    /// P12: once shut down and out of work, one stop marker per live worker
    /// (queued, written without blocking).
    fn maybe_stop_workers(&mut self) {
        if !self.shutdown || self.broken || !self.no_work_left() {
            return;
        }
        for i in 0..self.workers.len() {
            let w = &mut self.workers[i];
            if w.dead.is_none() && !w.stopping {
                w.stopping = true;
                w.out.push_back(OutMsg {
                    segs: vec![Seg::Bytes(wire::header(wire::STOP, 0, 0).to_vec())],
                    seg: 0,
                    off: 0,
                });
                self.flush(i);
            }
        }
    }

    fn remove_dead(&mut self) {
        self.workers.retain(|w| w.dead.is_none());
    }

    fn finished(&self) -> bool {
        self.shutdown && self.workers.is_empty() && self.spawning.is_empty() && {
            self.broken || self.no_work_left()
        }
    }

    fn kill_all(&mut self) {
        for i in 0..self.workers.len() {
            self.signal_worker(i, libc::SIGKILL);
        }
    }

    /// Start failed: reap the direct children forked so far.
    fn reap_all_blocking(&mut self) {
        for w in &mut self.workers {
            if matches!(w.origin, Origin::Direct { .. }) {
                sys::reap_blocking(w.pid);
            }
            w.close_fds();
        }
        self.workers.clear();
    }

    /// Closes the server's socket (it kills and reaps what is left, then
    /// exits) and reaps the server.
    fn close_server(&mut self) {
        let Some(s) = self.server.take() else { return };
        for (_, a, b, _) in self.spawning.drain(..) {
            sys::close(a);
            sys::close(b);
        }
        sys::close(s.sock);
        if let Some(p) = s.pidfd {
            // Give it 5 s to leave on its own, then kill it.
            let mut pfd = libc::pollfd {
                fd: p,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: polls one live pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, 5000) };
            if r == 0 {
                let _ = sys::pidfd_send_signal(p, libc::SIGKILL);
            }
            sys::close(p);
        }
        sys::reap_blocking(s.pid);
    }
}

/// A result read from a worker, not yet given to its future.
enum Outcome {
    Value(Value),
    Error(ErrorRecord),
    Cancelled,
}

/// Completes the futures of results read together. Each group of up to
/// `COMPLETE_GROUP` is completed last to first: a reader waiting for the
/// first of them (a map consumer in input order) is woken once, by the
/// last completion of the group, and then finds the rest done instead of
/// sleeping and being woken again for each. Completion order across
/// futures is not specified (E2); callbacks run here, on the manager thread.
fn complete_all(done: &mut Vec<(Future, Outcome)>) {
    const COMPLETE_GROUP: usize = 64;
    for group in done.chunks_mut(COMPLETE_GROUP) {
        group.reverse();
    }
    for (future, outcome) in done.drain(..) {
        match outcome {
            Outcome::Value(v) => {
                let _ = future.set_result(v);
            }
            Outcome::Error(rec) => {
                let _ = future.set_exception(rec);
            }
            Outcome::Cancelled => {
                future.set_cancelled_while_running();
            }
        }
    }
}

/// Reads the wake-up tokens of a worker's result pipe; closes it at end of
/// file (the worker is gone or going: its death is handled next).
fn drain_tokens(w: &mut Slot) {
    let mut buf = [0u8; 64];
    while w.result_fd >= 0 {
        // SAFETY: reads into a live buffer of the given size.
        let n = unsafe { libc::read(w.result_fd, buf.as_mut_ptr() as *mut libc::c_void, 64) };
        if n > 0 {
            if (n as usize) < buf.len() {
                return; // read them all (more make the pipe readable again)
            }
            continue;
        }
        if n < 0 {
            let e = sys::errno();
            if e == libc::EINTR {
                continue;
            }
            if e == libc::EAGAIN {
                return;
            }
        }
        sys::close(w.result_fd);
        w.result_fd = -1;
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.as_nanos() % 1_000_000 == 0 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} ns", d.as_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::ZERO);
        assert_eq!(backoff(2), Duration::from_millis(10));
        assert_eq!(backoff(3), Duration::from_millis(20));
        assert_eq!(backoff(4), Duration::from_millis(40));
        assert_eq!(backoff(9), Duration::from_millis(1000));
        assert_eq!(backoff(1000), Duration::from_millis(1000));
    }

    #[test]
    fn durations_print_in_ms_when_round() {
        assert_eq!(fmt_duration(Duration::from_millis(50)), "50 ms");
        assert_eq!(fmt_duration(Duration::from_nanos(1500)), "1500 ns");
    }
}
