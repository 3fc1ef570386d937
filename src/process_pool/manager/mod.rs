//! The management thread: starts workers, dispatches calls, collects results,
//! watches every worker, completes futures (with no lock of ours held), and
//! tears the pool down (P2–P18, B1–B13).
//!
//! Who forks what: the manager thread forks, as its very first act and before
//! the pool has any other thread, the fork server (`FUT_START_FORKSERVER`, or
//! `FUT_START_FORK` when replacements may be needed) and, for
//! `FUT_START_FORK`, every worker. Children set `PR_SET_PDEATHSIG(SIGKILL)`,
//! which fires when the *thread* that forked them exits, so the forking thread
//! must live as long as the pool: the manager thread does, and it is the only
//! thread of ours that ever forks. Later workers come from the fork server.
//!
//! Death detection: a pidfd per worker, polled (a 50 ms `waitpid` tick
//! for direct children where pidfds are unavailable). The fork server's
//! children are its to reap: their wait status comes in its `FS_EXITED`
//! report, which the manager awaits for `server::SERVER_ANSWER_WITHIN` after
//! the pidfd said the worker ended. Before a death is handled the worker's
//! result ring is drained, so no result it published is lost; only the task
//! the worker had started (the id it wrote in its ring) is charged with it.
//!
//! The fork server: if it dies, or stops answering (a worker's end not
//! reported, a spawn request not answered within that time: SIGSTOP, a
//! stuck server), the pool breaks (B2): it could not replace workers. A
//! silent server is killed (SIGKILL, which ends a stopped process too) and
//! reaped; shutdown kills a stopped server at once instead of waiting.
//!
//! Channels per worker: calls go down a pipe; results come back through a
//! shared-memory ring (`ring`), with the result pipe for wake-up tokens and
//! end of file. Results read together are completed in groups, last to
//! first (`complete_all`), so that an in-order reader wakes once per group.

mod deaths;
mod dispatch;
mod events;
mod fault;
mod flow;
pub(crate) use fault::manager_panic_requested;
mod results;
mod server;
mod slot;
mod spawned;
use slot::{Kill, Origin, OutMsg, Slot, Spawning};

use super::fork_server::{self, ForkServer};
use super::ring::Ring;
use super::shared::{CallReq, Shared, Work, BROKEN_MESSAGE};
use super::sys;
use super::values::ValueBlocks;
use super::wire::{self, Ctl, Seg};
use super::worker::{worker_main, RingSource, WorkerConfig, EXIT_INIT_FAILED};
use super::{CrashPolicy, StartMethod};
use crate::future::Future;
use crate::status::{ErrorRecord, Status};
use results::Outcome;
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the manager needs from the options.
pub(crate) struct ManagerConfig {
    pub max_workers: usize,
    pub start_method: StartMethod,
    pub policy: CrashPolicy,
    pub time_limit: Option<Duration>,
    pub worker: WorkerConfig,
    /// `StartMethod::Spawn`: the program workers run.
    pub program: std::ffi::CString,
    /// Test-only (R7): panic once after the first dispatch (`fault.rs`).
    pub inject_panic: bool,
}

/// A call sent to a worker, items not yet answered (front = running).
struct Dispatched {
    func: usize,
    /// The frame as submitted; written as it is while it holds exactly
    /// `items` (nothing cancelled at dispatch, nothing answered yet).
    frame: Arc<Vec<u8>>,
    items: VecDeque<Work>,
    /// When it was submitted, and when its front item became the front
    /// (handed to a worker, or the previous item answered): Q5, Q9, Q11.
    queued_at: Instant,
    mark: Instant,
    /// Handed to a worker before (a resend after its worker died is not
    /// a new start).
    sent: bool,
}

struct Manager {
    shared: Arc<Shared>,
    cfg: ManagerConfig,
    server: Option<ForkServer>,
    workers: Vec<Slot>,
    /// Spawn requests sent to the fork server: (token, call fd, result fd,
    /// result ring).
    spawning: Vec<Spawning>,
    next_token: u64,
    /// Calls already RUNNING (F6 done) that no worker holds yet: the call
    /// queue's extra item, or calls whose worker died before running them.
    held: VecDeque<Dispatched>,
    shutdown: bool,
    broken: bool,
    /// Consecutive worker crashes (FUT_CRASH_FAIL_TASK back-off).
    crashes: u32,
    /// Consecutive deaths of workers that held calls and started none (R9).
    starved: u32,
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
        held: VecDeque::new(),
        shutdown: false,
        broken: false,
        crashes: 0,
        starved: 0,
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
    // Shutdown waits for this, also if the thread unwinds past the boundary.
    let _finish = FinishOnDrop(Arc::clone(&m.shared));
    m.run_guarded();
}

/// Tells waiters of `shutdown(wait)` that the manager is done, however it
/// ends.
struct FinishOnDrop(Arc<Shared>);

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        self.0.mark_finished();
    }
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
        for s in &self.spawning {
            v.push(s.call_fd);
            v.push(s.result_fd);
        }
        v
    }

    fn needs_server(&self) -> bool {
        match self.cfg.start_method {
            StartMethod::ForkServer => true,
            StartMethod::Spawn => false,
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
            // One mapping for all their rings: one munmap at the end. Once
            // they are forked, no later fork (another pool's, the host's)
            // inherits it.
            let rings = Ring::create_inherited(self.cfg.max_workers)?;
            let keep = rings.first().map(Ring::share_mapping);
            for ring in rings {
                self.fork_direct(ring)?;
            }
            if let Some(mapping) = keep {
                mapping.keep_from_later_forks();
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
        self.worker_started();
        self.workers.push(Slot::new(
            pid,
            Origin::Direct { pidfd },
            call_w,
            res_r,
            ring,
        ));
        nb
    }

    fn main_loop(&mut self) {
        loop {
            self.take_incoming();
            self.fault_point();
            if !self.broken {
                self.spawn_as_needed();
                self.dispatch();
                self.injected_panic_point();
            }
            for i in 0..self.workers.len() {
                self.flush(i);
            }
            self.maybe_stop_workers();
            self.kill_unstoppable();
            self.remove_dead();
            if self.finished() {
                break;
            }
            self.poll_once();
            self.check_time_limits();
            self.check_entries();
            self.remove_dead();
        }
        self.close_server();
    }

    /// Takes the wake-up and the shutdown flag (P4, P13). Submissions stay
    /// in the shared queue until dispatch takes them; a shutdown with
    /// cancel_futures cancelled them there already.
    fn take_incoming(&mut self) {
        sys::eventfd_drain(self.shared.wake_fd);
        self.shared.wake_flag.store(false, Ordering::SeqCst);
        self.shutdown |= self.shared.state.lock().shutdown;
        self.flow_requests();
    }

    fn broken_cause(&self) -> String {
        self.shared
            .state
            .lock()
            .broken
            .clone()
            .unwrap_or_else(|| "the pool is broken".into())
    }

    // ---- shutdown ------------------------------------------------------------------

    fn no_work_left(&self) -> bool {
        self.held.is_empty()
            && self.workers.iter().all(|w| w.assigned.is_empty())
            && self.shared.queued() == 0
    }

    /// P12: once shut down and out of work, one stop marker per live worker
    /// (queued, written without blocking).
    fn maybe_stop_workers(&mut self) {
        if !self.shutdown || self.broken || !self.no_work_left() {
            return;
        }
        for i in 0..self.workers.len() {
            let w = &mut self.workers[i];
            if w.dead.is_none() && w.stopping.is_none() {
                w.stopping = Some(Instant::now());
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
        self.count_alive();
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
    /// exits) and reaps the server. A server that does not leave within 5 s,
    /// or that is stopped (SIGSTOP), is killed: shutdown never waits on it.
    fn close_server(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        for sp in self.spawning.drain(..) {
            sys::close(sp.call_fd);
            sys::close(sp.result_fd);
        }
        sys::close(server.sock);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if !matches!(sys::try_reap(server.pid), Ok(None)) {
                break; // reaped now (or by someone else)
            }
            if sys::is_stopped(server.pid) || Instant::now() >= deadline {
                // SIGKILL ends a stopped process too. Our child, not reaped.
                match server.pidfd {
                    Some(p) => {
                        let _ = sys::pidfd_send_signal(p, libc::SIGKILL);
                    }
                    // SAFETY: our own child, not reaped yet: the pid is ours.
                    None => unsafe {
                        libc::kill(server.pid, libc::SIGKILL);
                    },
                }
                sys::reap_blocking(server.pid);
                break;
            }
            match server.pidfd {
                Some(p) => sys::wait_readable(p, 20),
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        if let Some(p) = server.pidfd {
            sys::close(p);
        }
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
