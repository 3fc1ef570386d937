//! The fork server as the manager sees it: its messages (workers started,
//! workers ended), its end, and its silence. A fork server that is gone,
//! or that does not report a worker's end or answer a spawn request within
//! `SERVER_ANSWER_WITHIN` (stopped, stuck), breaks the pool: the pool
//! cannot replace workers without it (X13).

use super::*;

/// How long the fork server may take to report the end of a worker (seen
/// on the worker's pidfd) or to answer a spawn request.
pub(super) const SERVER_ANSWER_WITHIN: Duration = Duration::from_secs(3);

impl Manager {
    pub(super) fn server_messages(&mut self) {
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

    pub(super) fn server_message(&mut self, msg: Ctl) {
        match msg.op {
            wire::FS_SPAWNED | wire::FS_SPAWN_FAILED => {
                let Some(pos) = self.spawning.iter().position(|s| s.token == msg.token) else {
                    return;
                };
                let Spawning {
                    call_fd,
                    result_fd,
                    ring,
                    ..
                } = self.spawning.swap_remove(pos);
                if msg.op == wire::FS_SPAWN_FAILED {
                    sys::close(call_fd);
                    sys::close(result_fd);
                    self.spawn_failed(msg.a);
                    return;
                }
                // A pidfd of our own for it: its end is seen even when the
                // server does not report it (stopped, gone).
                let pidfd = sys::pidfd_open(msg.a).ok();
                let origin = Origin::Server { pidfd };
                let mut slot = Slot::new(msg.a, origin, call_fd, result_fd, ring);
                self.worker_started();
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
    pub(super) fn server_gone(&mut self, reaped: bool) {
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
        for sp in self.spawning.drain(..) {
            sys::close(sp.call_fd);
            sys::close(sp.result_fd);
        }
        let status = if status.is_none() && !reaped {
            sys::reap_blocking(s.pid)
        } else {
            status
        };
        let cause = format!("fork server {} {}", s.pid, sys::describe_status(status));
        // The pool breaks for the server's end (the cause, B4, R11), before the
        // workers it forked, gone with it, are handled: their deaths would
        // otherwise be logged as the cause.
        if !self.broken {
            self.break_pool(cause);
        }
        for i in 0..self.workers.len() {
            let w = &self.workers[i];
            if matches!(w.origin, Origin::Server { .. }) && w.dead.is_none() {
                self.worker_died(i, Some(libc::SIGKILL));
            }
        }
    }

    /// A fork-server worker's pidfd says it ended. When nothing depends on
    /// how (the pool is broken, or we stopped or killed it for teardown)
    /// its death is handled now; otherwise the server's report, with the
    /// wait status, is awaited for `SERVER_ANSWER_WITHIN`.
    pub(super) fn server_worker_ended(&mut self, i: usize) {
        let w = &mut self.workers[i];
        if w.dead.is_some() || w.ended_at.is_some() {
            return;
        }
        let expected = w.stopping.is_some() || (w.got_last && w.assigned.is_empty());
        if self.broken || w.kill == Kill::Teardown || expected {
            self.worker_died(i, None);
        } else {
            w.ended_at = Some(Instant::now());
        }
    }

    /// The earliest time by which the server owes an answer, if any.
    pub(super) fn server_answer_due(&self) -> Option<Instant> {
        self.server.as_ref()?;
        let ended = self.workers.iter().filter(|w| w.dead.is_none());
        let seen = ended.filter_map(|w| w.ended_at);
        let asked = self.spawning.iter().map(|s| s.asked);
        seen.chain(asked).min().map(|t| t + SERVER_ANSWER_WITHIN)
    }

    /// Breaks the pool if the server owes an answer for too long.
    pub(super) fn check_server_answers(&mut self) {
        let Some(due) = self.server_answer_due() else {
            return;
        };
        if Instant::now() < due {
            return;
        }
        let what = match self
            .workers
            .iter()
            .find(|w| w.dead.is_none() && w.ended_at.is_some())
        {
            Some(w) => format!("the end of worker {} was not reported", w.pid),
            None => "a worker it was asked for was not started".to_string(),
        };
        self.server_unresponsive(&what);
    }

    /// The server does not answer (stopped, stuck): the pool breaks, and
    /// the server is killed (SIGKILL ends a stopped process too) and reaped.
    fn server_unresponsive(&mut self, what: &str) {
        let Some(s) = &self.server else { return };
        let pid = s.pid;
        match s.pidfd {
            Some(p) => {
                let _ = sys::pidfd_send_signal(p, libc::SIGKILL);
            }
            // SAFETY: our own child, not reaped yet: the pid is ours.
            None => unsafe {
                libc::kill(pid, libc::SIGKILL);
            },
        }
        self.break_pool(format!(
            "fork server {pid} does not answer: {what} within {}",
            fmt_duration(SERVER_ANSWER_WITHIN)
        ));
        self.server_gone(false);
    }
}
