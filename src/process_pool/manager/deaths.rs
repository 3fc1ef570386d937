//! Deaths and the crash policy (B1-B13, X12): what a worker's end does to
//! its tasks and to the pool.

use super::*;

impl Manager {
    /// Handles the end of worker `i` (wait status, None if unknown).
    pub(super) fn worker_died(&mut self, i: usize, status: Option<i32>) {
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
        // Only a task the worker had started may be charged with its death
        // (its result, if published, was taken above): calls merely queued
        // to it go back to the queue and run elsewhere.
        let started = w.ring.started();
        let running = w
            .assigned
            .front()
            .and_then(|c| c.items.front())
            .map(|x| x.id)
            .filter(|&id| id == started);
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
                if running.is_some() {
                    self.fail_front(
                        i,
                        Status::WorkerDied,
                        "the worker process running this task died",
                        &detail,
                    );
                }
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
    pub(super) fn requeue_front(&mut self, calls: VecDeque<Dispatched>) {
        for c in calls.into_iter().rev() {
            self.held.push_front(c);
        }
    }

    /// Fails the running item of worker `i`.
    pub(super) fn fail_front(&mut self, i: usize, kind: Status, message: &str, detail: &str) {
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
    pub(super) fn fail_assigned(&mut self, i: usize, kind: Status, message: &str, detail: &str) {
        let calls = std::mem::take(&mut self.workers[i].assigned);
        for c in calls {
            for item in c.items {
                let _ = item
                    .future
                    .set_exception(ErrorRecord::new(kind, 0, message).with_detail(detail));
            }
        }
    }

    /// Fails the queued calls `queued` and the calls held here (B2, B3).
    pub(super) fn fail_pending(&mut self, queued: VecDeque<CallReq>, cause: &str) {
        let held = std::mem::take(&mut self.held);
        let rec = || ErrorRecord::new(Status::BrokenPool, 0, BROKEN_MESSAGE).with_detail(cause);
        for c in queued {
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
    pub(super) fn break_pool(&mut self, cause: String) {
        if self.broken {
            return;
        }
        self.broken = true;
        self.shutdown = true;
        crate::log::log(&format!("process pool broken: {cause}"));
        let queued = self.shared.mark_broken(&cause);
        self.fail_pending(queued, &cause);
        for i in 0..self.workers.len() {
            self.fail_assigned(i, Status::BrokenPool, BROKEN_MESSAGE, &cause);
            if self.workers[i].dead.is_none() {
                self.workers[i].kill = Kill::Teardown;
                self.workers[i].out.clear();
                self.signal_worker(i, libc::SIGKILL);
            }
        }
    }
}
