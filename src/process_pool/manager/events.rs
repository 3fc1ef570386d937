//! Waiting for events (poll): submissions, results, call pipes with room,
//! process ends (pidfds), the fork server's messages, time limits.

use super::*;

/// R12: how often shutdown looks for stopped workers while it waits for them.
const STOP_TICK: Duration = Duration::from_millis(20);

/// R8: what an initializer gets beyond the time limit (process start).
const INIT_GRACE: Duration = Duration::from_secs(1);

#[derive(Copy, Clone)]
enum Ev {
    Wake,
    Server,
    ServerPid,
    Result(usize),
    Call(usize),
    Pid(usize),
}

impl Manager {
    /// Sleeps until something happens (or a deadline), then handles it.
    pub(super) fn poll_once(&mut self) {
        let (mut fds, evs) = self.poll_set();
        let waiting = self.spin_then_arm();
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
                Ev::Pid(i) => self.process_ended(i),
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
            self.tick();
        }
        if server_died {
            self.server_gone(false);
        }
        self.check_server_answers();
    }

    /// The descriptors to wait on, and what each one means.
    fn poll_set(&self) -> (Vec<libc::pollfd>, Vec<Ev>) {
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
            if let Some(p) = w.origin.pidfd() {
                if w.dead.is_none() && w.ended_at.is_none() {
                    add(p, libc::POLLIN, Ev::Pid(i));
                }
            }
        }
        (fds, evs)
    }

    /// While a worker has work, results usually follow within
    /// microseconds: looks at the rings (and for new submissions) for a
    /// moment before paying a kernel wake-up per result (an idle pool does
    /// not spin). Then asks every worker for a token before sleeping; true
    /// when one has published results already (do not sleep then).
    fn spin_then_arm(&self) -> bool {
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
        let mut waiting = false;
        for w in &self.workers {
            if w.dead.is_none() {
                waiting |= w.ring.arm();
            }
        }
        waiting
    }

    /// Without pidfds: looks for ended direct children and the server.
    fn tick(&mut self) {
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

    /// Worker `i`'s pidfd says it ended.
    fn process_ended(&mut self, i: usize) {
        match self.workers[i].origin {
            Origin::Direct { .. } => self.reap_direct(i),
            Origin::Server { .. } => self.server_worker_ended(i),
        }
    }

    pub(super) fn poll_timeout(&self) -> i32 {
        let now = Instant::now();
        let mut t: Option<Duration> = None;
        let mut consider = |d: Duration| t = Some(t.map_or(d, |x| x.min(d)));
        if let Some(limit) = self.cfg.time_limit {
            for w in &self.workers {
                if let (Some(s), Kill::None) = (w.started, w.kill) {
                    consider((s + limit).saturating_duration_since(now));
                }
                if self.initializing(w) {
                    consider((w.born + limit + INIT_GRACE).saturating_duration_since(now));
                }
            }
        }
        if let Some(at) = self.spawn_not_before {
            if !self.held.is_empty() || self.shared.queued() > 0 {
                consider(at.saturating_duration_since(now));
            }
        }
        if self.need_tick {
            consider(Duration::from_millis(50));
        }
        for at in self.workers.iter().filter_map(|w| w.entry_due) {
            consider(at.saturating_duration_since(now));
        }
        if self.workers.iter().any(|w| self.stop_pending(w)) {
            consider(STOP_TICK);
        }
        if let Some(at) = self.server_answer_due() {
            consider(at.saturating_duration_since(now));
        }
        match t {
            None => -1,
            // Round up so that a deadline is never polled for in a busy loop.
            Some(d) => (d.as_micros().div_ceil(1000)).min(i32::MAX as u128) as i32,
        }
    }

    /// R8: a worker still in its initializer, not killed yet. The time limit
    /// covers initializers too, counted from when the manager learnt of the
    /// worker plus `INIT_GRACE` for the process to start (a fork on a busy
    /// machine can take longer than a short limit).
    fn initializing(&self, w: &Slot) -> bool {
        self.cfg.worker.initializer.is_some()
            && !w.ready
            && w.dead.is_none()
            && w.init_failed.is_none()
            && w.kill == Kill::None
    }

    pub(super) fn check_time_limits(&mut self) {
        let Some(limit) = self.cfg.time_limit else {
            return;
        };
        let now = Instant::now();
        for i in 0..self.workers.len() {
            let w = &self.workers[i];
            if self.initializing(w) && now >= w.born + limit + INIT_GRACE {
                self.workers[i].kill = Kill::InitTimeLimit;
                self.signal_worker(i, libc::SIGKILL);
                continue;
            }
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

    /// A worker told to stop that has not ended and was not killed.
    fn stop_pending(&self, w: &Slot) -> bool {
        w.stopping.is_some() && w.dead.is_none() && w.kill == Kill::None
    }

    /// R12: shutdown does not wait for a worker that will never read its stop
    /// message: one stopped (SIGSTOP), or, with a time limit, one still
    /// there a time limit after it was told to stop (stuck in user code after
    /// its last result, such as a value's destructor). Both are killed.
    pub(super) fn kill_unstoppable(&mut self) {
        let now = Instant::now();
        for i in 0..self.workers.len() {
            let w = &self.workers[i];
            let Some(since) = w.stopping else { continue };
            if !self.stop_pending(w) {
                continue;
            }
            // A worker leaves within microseconds of its stop message: only
            // one still there a tick later is looked at (`/proc` reads cost,
            // and a large pool ends with many events).
            if now < since + STOP_TICK {
                continue;
            }
            let overdue = self.cfg.time_limit.is_some_and(|l| now >= since + l);
            if overdue || sys::is_stopped(w.pid) {
                self.workers[i].kill = Kill::Teardown;
                self.signal_worker(i, libc::SIGKILL);
            }
        }
    }

    pub(super) fn signal_worker(&self, i: usize, sig: i32) {
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
            // Its pidfd: works while the server is stopped, and never hits
            // a recycled pid.
            Origin::Server { pidfd: Some(p) } => {
                let _ = sys::pidfd_send_signal(p, sig);
            }
            Origin::Server { pidfd: None } => {
                if let Some(s) = &self.server {
                    let _ = s.kill(w.pid, sig);
                }
            }
        }
    }

    /// A direct child may have ended: reap it and handle its death.
    pub(super) fn reap_direct(&mut self, i: usize) {
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
}
