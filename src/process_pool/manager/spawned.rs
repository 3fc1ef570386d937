//! The spawn start method as the manager sees it (N5–N8): workers started
//! by `posix_spawn` on this thread, on demand, as the fork server would
//! fork them; their configuration and task names go down the call pipe.

use super::*;
use crate::process_pool::spawn;

/// How long a spawned worker may take to enter the worker loop (its first
/// byte on the result pipe) before it is killed and the pool breaks (N9).
pub(super) const ENTRY_WITHIN: Duration = Duration::from_secs(10);

impl Manager {
    /// True when a dead worker can be replaced: a fork server, or spawn.
    pub(super) fn can_replace(&self) -> bool {
        self.server.is_some() || self.cfg.start_method == StartMethod::Spawn
    }

    /// Starts `n` workers now (P8, P11 when none can be started).
    pub(super) fn spawn_direct(&mut self, n: usize) {
        for _ in 0..n {
            if let Err(e) = self.spawn_one() {
                self.spawn_failed(e);
                return;
            }
        }
    }

    fn spawn_one(&mut self) -> Result<(), i32> {
        let (ring, ring_fd) = Ring::create()?;
        let pipes = match sys::WorkerPipes::new() {
            Ok(p) => p,
            Err(e) => {
                sys::close(ring_fd);
                return Err(e);
            }
        };
        let spawned = spawn::spawn_worker(&self.cfg.program, pipes.call_r, pipes.res_w, ring_fd);
        sys::close(ring_fd);
        sys::close(pipes.call_r);
        sys::close(pipes.res_w);
        let pid = match spawned {
            Ok(pid) => pid,
            Err(e) => {
                sys::close(pipes.call_w);
                sys::close(pipes.res_r);
                return Err(e);
            }
        };
        let pidfd = sys::pidfd_open(pid).ok();
        if pidfd.is_none() {
            self.need_tick = true;
        }
        let origin = Origin::Direct { pidfd };
        let mut slot = Slot::new(pid, origin, pipes.call_w, pipes.res_r, ring);
        slot.entry_due = Some(Instant::now() + ENTRY_WITHIN);
        slot.out.push_back(OutMsg {
            segs: vec![Seg::Bytes(self.setup_frame())],
            seg: 0,
            off: 0,
        });
        self.workers.push(slot);
        // A descriptor that cannot be made non-blocking leaves the worker
        // to be stopped like any other; the pool goes on.
        sys::set_nonblocking(pipes.call_w).and(sys::set_nonblocking(pipes.res_r))
    }

    /// N9: kills a spawned worker that did not enter the worker loop in
    /// time (a program without `fut_worker_entry` that does not exit).
    pub(super) fn check_entries(&mut self) {
        let now = Instant::now();
        for i in 0..self.workers.len() {
            let w = &self.workers[i];
            let late = w.entry_due.is_some_and(|t| now >= t);
            if late && w.dead.is_none() && w.kill == Kill::None {
                self.workers[i].kill = Kill::NotEntered;
                self.workers[i].entry_due = None;
                self.signal_worker(i, libc::SIGKILL);
            }
        }
    }

    /// The first frame a spawned worker reads: what a fork would inherit.
    fn setup_frame(&self) -> Vec<u8> {
        let w = &self.cfg.worker;
        let init = w.by_name.as_ref().and_then(|b| b.initializer.as_deref());
        wire::setup_frame(&wire::Setup {
            max_tasks: w.max_tasks as u64,
            initializer: init.unwrap_or("").as_bytes(),
            initializer_arg: &w.initializer_arg,
        })
    }

    /// N5: before worker `i`'s first call of task `word` (its registry id
    /// + 1), the task's name.
    pub(super) fn name_task(&mut self, i: usize, word: usize) {
        if self.cfg.worker.by_name.is_none() {
            return;
        }
        let w = &mut self.workers[i];
        if !w.named.insert(word) {
            return;
        }
        let id = word.checked_sub(1).and_then(|id| u32::try_from(id).ok());
        let name = id
            .and_then(crate::task_registry::name_of)
            .unwrap_or_default();
        w.out.push_back(OutMsg {
            segs: vec![Seg::Bytes(wire::name_frame(word as u32, &name))],
            seg: 0,
            off: 0,
        });
    }

    /// The initializer's name when `code` says a spawned worker does not
    /// know it (N6).
    pub(super) fn unregistered_initializer(&self, code: i32) -> Option<String> {
        if code != Status::NotRegistered as i32 {
            return None;
        }
        let b = self.cfg.worker.by_name.as_ref()?;
        b.initializer.as_deref().map(str::to_string)
    }
}
