//! The manager's record of one worker process: how it was started, its
//! pipes and ring, the calls sent to it, and how it is being stopped.

use super::Dispatched;
use crate::process_pool::ring::Ring;
use crate::process_pool::sys;
use crate::process_pool::wire::Seg;
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::time::Instant;

pub(super) enum Origin {
    /// Forked by the manager: our child, reaped by us.
    Direct { pidfd: Option<RawFd> },
    /// Forked by the fork server, which reaps it and reports its status.
    /// Its pidfd (not our child, but pidfds watch any process) tells us of
    /// its end even when the server does not.
    Server { pidfd: Option<RawFd> },
}

impl Origin {
    pub(super) fn pidfd(&self) -> Option<RawFd> {
        match *self {
            Origin::Direct { pidfd } | Origin::Server { pidfd } => pidfd,
        }
    }
}

/// A worker the fork server was asked for and has not answered yet.
pub(super) struct Spawning {
    pub(super) token: u64,
    pub(super) call_fd: RawFd,
    pub(super) result_fd: RawFd,
    pub(super) ring: Ring,
    pub(super) asked: Instant,
}

#[derive(Copy, Clone, PartialEq, Eq)]
pub(super) enum Kill {
    None,
    /// Killed by us for running past the time limit.
    TimeLimit {
        task: u64,
    },
    /// Killed by us: the pool is broken, or shutdown cannot wait for it (R12).
    Teardown,
    /// A spawned worker killed by us for not entering the worker loop in
    /// time (N9).
    NotEntered,
    /// Killed by us: its initializer ran past the time limit (R8).
    InitTimeLimit,
}

pub(super) struct OutMsg {
    pub(super) segs: Vec<Seg>,
    pub(super) seg: usize,
    pub(super) off: usize,
}

pub(super) struct Slot {
    pub(super) pid: libc::pid_t,
    pub(super) origin: Origin,
    pub(super) call_fd: RawFd,
    /// Wake-up tokens and end of file; the results come through `ring`.
    pub(super) result_fd: RawFd,
    pub(super) ring: Ring,
    pub(super) ready: bool,
    pub(super) init_failed: Option<i32>,
    pub(super) out: VecDeque<OutMsg>,
    pub(super) inbuf: Vec<u8>,
    pub(super) in_start: usize,
    pub(super) assigned: VecDeque<Dispatched>,
    /// When the front item started (for the time limit).
    pub(super) started: Option<Instant>,
    pub(super) calls_sent: usize,
    pub(super) got_last: bool,
    /// When it was told to stop (P12).
    pub(super) stopping: Option<Instant>,
    pub(super) kill: Kill,
    /// Set once the process is known dead (reaped): its wait status, None
    /// when unavailable.
    pub(super) dead: Option<Option<i32>>,
    /// A fork-server worker seen to end (pidfd) whose status the server
    /// has not reported yet: when it was seen.
    pub(super) ended_at: Option<Instant>,
    /// Spawn pools: the registry ids already named to this worker.
    pub(super) named: std::collections::HashSet<usize>,
    /// A spawned worker not heard from yet: when it must have entered.
    pub(super) entry_due: Option<Instant>,
    /// When the manager learnt of it: its initializer's time limit runs
    /// from here (R8).
    pub(super) born: Instant,
}

impl Slot {
    pub(super) fn new(
        pid: libc::pid_t,
        origin: Origin,
        call_fd: RawFd,
        result_fd: RawFd,
        ring: Ring,
    ) -> Slot {
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
            stopping: None,
            kill: Kill::None,
            dead: None,
            ended_at: None,
            named: std::collections::HashSet::new(),
            entry_due: None,
            born: Instant::now(),
        }
    }

    pub(super) fn fds(&self) -> Vec<RawFd> {
        let mut v = vec![self.call_fd, self.result_fd];
        if let Some(p) = self.origin.pidfd() {
            v.push(p);
        }
        v.retain(|&fd| fd >= 0);
        v
    }

    /// Can take another call.
    pub(super) fn usable(&self, max_tasks: usize) -> bool {
        self.dead.is_none()
            && self.call_fd >= 0
            && self.stopping.is_none()
            && self.kill == Kill::None
            && (max_tasks == 0 || self.calls_sent < max_tasks)
    }

    pub(super) fn close_fds(&mut self) {
        sys::close(self.call_fd);
        sys::close(self.result_fd);
        self.call_fd = -1;
        self.result_fd = -1;
        let (Origin::Direct { pidfd } | Origin::Server { pidfd }) = &mut self.origin;
        if let Some(p) = pidfd.take() {
            sys::close(p);
        }
    }
}
