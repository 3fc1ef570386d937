//! Dispatch: starting workers on demand, handing calls to idle workers
//! (P4, P5, P8, P10, P11) and writing them down the call pipes.

use super::*;

impl Manager {
    pub(super) fn live_count(&self) -> usize {
        self.workers
            .iter()
            .filter(|w| w.usable(self.cfg.worker.max_tasks))
            .count()
    }

    pub(super) fn outstanding_calls(&self) -> usize {
        self.held.len() + self.workers.iter().map(|w| w.assigned.len()).sum::<usize>()
    }

    /// P8/P10: asks the fork server for workers while calls wait and fewer
    /// than max_workers live (after the back-off, if crashes happened).
    pub(super) fn spawn_as_needed(&mut self) {
        if !self.can_replace() {
            return;
        }
        let waiting = self.shared.queued() + self.held.len();
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
        if self.server.is_none() {
            return self.spawn_direct(want);
        }
        let Some(server) = &self.server else { return };
        for _ in 0..want {
            let token = self.next_token;
            self.next_token += 1;
            match server.spawn(token) {
                Ok((call_fd, result_fd, ring)) => self.spawning.push(Spawning {
                    token,
                    call_fd,
                    result_fd,
                    ring,
                    asked: Instant::now(),
                }),
                Err(e) => {
                    self.spawn_failed(e);
                    return;
                }
            }
        }
    }

    /// P11: a worker cannot be started; if none is left to run the waiting
    /// calls, the pool breaks instead of hanging.
    pub(super) fn spawn_failed(&mut self, errno: i32) {
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
    pub(super) fn idle_worker(&self) -> Option<usize> {
        let max_tasks = self.cfg.worker.max_tasks;
        self.workers
            .iter()
            .enumerate()
            .filter(|(_, w)| w.usable(max_tasks) && w.assigned.is_empty())
            .min_by_key(|(_, w)| !w.ready)
            .map(|(i, _)| i)
    }

    /// P4/P5: F6 on queued calls while fewer than max_workers + 1 are
    /// outstanding (cancelled items are dropped); each worker gets one call
    /// at a time, and the extra call waits here, RUNNING, for whichever worker
    /// goes idle first (as Python's shared call queue: no call waits behind a
    /// long task while another worker is idle).
    pub(super) fn dispatch(&mut self) {
        loop {
            while let Some(i) = self.idle_worker() {
                let Some(call) = self.held.pop_front() else {
                    break;
                };
                self.send_call(i, call);
            }
            let room = (self.cfg.max_workers + 1).saturating_sub(self.outstanding_calls());
            if room == 0 {
                return;
            }
            let mut cancelled = Vec::new();
            let calls = self.shared.take_running(room, &mut cancelled);
            for (id, at) in cancelled {
                self.shared.event_cancelled(id, at);
            }
            if calls.is_empty() {
                return;
            }
            let now = Instant::now();
            for req in calls {
                self.held.push_back(Dispatched {
                    func: req.func,
                    frame: req.frame,
                    items: VecDeque::from(req.items),
                    queued_at: req.queued_at,
                    mark: now,
                    sent: false,
                });
            }
        }
    }

    pub(super) fn send_call(&mut self, i: usize, mut call: Dispatched) {
        self.name_task(i, call.func);
        call.mark = Instant::now();
        if !call.sent {
            call.sent = true;
            self.call_started(&call);
        }
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
    pub(super) fn flush(&mut self, i: usize) {
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
}
