//! Deaths and the crash policy (B1-B13, X12): what a worker's end does to
//! its tasks and to the pool.

use super::*;

/// Consecutive deaths of workers that held calls and started none, after
/// which `FUT_CRASH_FAIL_TASK` stops replacing them and breaks the pool (R9).
const STARVED_MAX: u32 = 5;

/// What a dead worker leaves for the crash policy to judge.
struct Death {
    pid: libc::pid_t,
    kill: Kill,
    /// The task it had started and not answered: the only one that may be
    /// charged with its death.
    running: Option<u64>,
    /// Stopped by us, or left after its last task (max_tasks_per_child).
    expected: bool,
    /// "killed by signal 9 (SIGKILL)", "exit status 3", ...
    how: String,
}

impl Manager {
    /// Handles the end of worker `i` (wait status, None if unknown).
    pub(super) fn worker_died(&mut self, i: usize, status: Option<i32>) {
        // Every result it published is in its ring: take them first.
        self.read_results(i);
        let d = self.bury(i, status);
        if self.broken || d.kill == Kill::Teardown {
            self.fail_assigned(i, Status::BrokenPool, BROKEN_MESSAGE, &self.broken_cause());
            return;
        }
        if d.expected {
            self.requeue_assigned(i);
            return;
        }
        if let Some(cause) = self.initializer_death(i, &d, status) {
            self.break_pool(cause);
            return;
        }
        if let Kill::TimeLimit { task } = d.kill {
            self.time_limit_death(i, &d, task);
            return;
        }
        self.crash(i, &d);
    }

    /// Marks worker `i` dead and closes its channels.
    fn bury(&mut self, i: usize, status: Option<i32>) -> Death {
        let w = &mut self.workers[i];
        w.dead = Some(status);
        w.started = None;
        w.close_fds();
        w.out.clear();
        // Only a task the worker had started may be charged with its death
        // (its result, if published, was taken already): calls merely sent
        // to it go back to the queue and run elsewhere.
        let started = w.ring.started();
        let running = w
            .assigned
            .front()
            .and_then(|c| c.items.front())
            .map(|x| x.id)
            .filter(|&id| id == started);
        Death {
            pid: w.pid,
            kill: w.kill,
            running,
            expected: w.stopping.is_some() || (w.got_last && w.assigned.is_empty()),
            how: sys::describe_status(status),
        }
    }

    /// Puts the calls of dead worker `i` back at the front of the queue.
    fn requeue_assigned(&mut self, i: usize) {
        let rest = std::mem::take(&mut self.workers[i].assigned);
        self.requeue_front(rest);
    }

    /// B7: a worker that died before it was ready, with an initializer,
    /// breaks the pool (whatever the crash policy): the cause, if so.
    fn initializer_death(&self, i: usize, d: &Death, status: Option<i32>) -> Option<String> {
        let w = &self.workers[i];
        let (pid, how) = (d.pid, &d.how);
        if let Some(code) = w.init_failed {
            if let Some(name) = self.unregistered_initializer(code) {
                return Some(format!(
                    "initializer '{name}' is not registered in the worker program \
                     (worker {pid}; fut_register_initializer before fut_worker_entry)"
                ));
            }
            return Some(format!(
                "initializer failed with code {code} in worker {pid} ({how})"
            ));
        }
        // R14: N9's cause is for a program that never entered the worker
        // loop (no first byte); one that entered and then died in its
        // initializer is B7's, in the words a forked worker gets (R3).
        let entered = w.entry_due.is_none() && w.kill != Kill::NotEntered;
        let in_initializer = entered && self.cfg.worker.initializer.is_some();
        if !w.ready && self.cfg.start_method == StartMethod::Spawn && !in_initializer {
            // N9: no replacement would do better (a program that does not
            // enter the worker loop would be started again and again).
            let late = if w.kill == Kill::NotEntered {
                format!(
                    " after not entering for {}",
                    fmt_duration(spawned::ENTRY_WITHIN)
                )
            } else {
                String::new()
            };
            return Some(format!(
                "spawned worker {pid} {how}{late} before it was ready \
                 (its program must call fut_worker_entry first thing in main())"
            ));
        }
        if w.ready || self.cfg.worker.initializer.is_none() {
            return None;
        }
        let init_exit =
            status.is_some_and(|s| libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == EXIT_INIT_FAILED);
        let hint = if d.kill == Kill::InitTimeLimit {
            let limit = self.cfg.time_limit.unwrap_or_default();
            format!(" (past the time limit of {})", fmt_duration(limit))
        } else if init_exit {
            " (initializer failed)".to_string()
        } else {
            String::new()
        };
        Some(format!(
            "worker {pid} {how} while running the initializer{hint}"
        ))
    }

    /// Our time limit: the task fails (either policy), the rest runs on.
    fn time_limit_death(&mut self, i: usize, d: &Death, task: u64) {
        let limit = self.cfg.time_limit.unwrap_or_default();
        let detail = format!(
            "worker {} {}: task {task} ran past the time limit of {}",
            d.pid,
            d.how,
            fmt_duration(limit)
        );
        // The task may have answered just before the kill landed.
        if d.running == Some(task) {
            self.fail_front(
                i,
                Status::TimeLimit,
                "the task ran past the pool's time limit; its worker was killed",
                &detail,
            );
        }
        self.requeue_assigned(i);
    }

    /// B1/X12: an unexpected death, judged by the crash policy.
    fn crash(&mut self, i: usize, d: &Death) {
        let detail = match d.running {
            Some(t) => format!("worker {} {} while running task {t}", d.pid, d.how),
            None => format!("worker {} {} while idle", d.pid, d.how),
        };
        if self.cfg.policy == CrashPolicy::BreakPool {
            self.break_pool(detail);
            return;
        }
        // R9: workers that keep dying before they start a call they hold
        // (an environment, or an initializer, that kills every worker) would
        // be replaced forever while the calls wait: give up after a few.
        if d.running.is_some() {
            self.starved = 0;
        } else if !self.workers[i].assigned.is_empty() {
            self.starved += 1;
            if self.starved >= STARVED_MAX {
                self.break_pool(format!(
                    "{detail}; {STARVED_MAX} workers in a row died before starting a call"
                ));
                return;
            }
        }
        crate::log::log(&format!("process pool: {detail}; replacing it"));
        if d.running.is_some() {
            self.fail_front(
                i,
                Status::WorkerDied,
                "the worker process running this task died",
                &detail,
            );
        }
        self.requeue_assigned(i);
        self.crashes = self.crashes.saturating_add(1);
        let delay = backoff(self.crashes);
        if !delay.is_zero() {
            self.spawn_not_before = Some(Instant::now() + delay);
        }
        if !self.can_replace() {
            self.break_pool(format!("{detail}; no fork server to replace it"));
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
        let (queued_at, mark) = (call.queued_at, call.mark);
        call.mark = Instant::now();
        if call.items.is_empty() {
            w.assigned.pop_front();
        }
        self.item_failed(item.id, kind, queued_at, Some(mark));
        let _ = item
            .future
            .set_exception(ErrorRecord::new(kind, 0, message).with_detail(detail));
    }

    /// Fails every item assigned to worker `i`.
    pub(super) fn fail_assigned(&mut self, i: usize, kind: Status, message: &str, detail: &str) {
        let calls = std::mem::take(&mut self.workers[i].assigned);
        for c in calls {
            for item in c.items {
                self.item_failed(item.id, kind, c.queued_at, Some(c.mark));
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
                // Never taken off the queue: counted taken now (Q5).
                self.item_taken();
                // A cancelled future stays cancelled (B3): the refusal is ignored.
                let failed = item.future.set_exception(rec()).is_ok();
                self.item_dropped(item.id, failed, c.queued_at);
            }
        }
        for c in held {
            for item in c.items {
                self.item_failed(item.id, Status::BrokenPool, c.queued_at, None);
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
