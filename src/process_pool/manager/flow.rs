//! The manager's side of flow control and observability (Q5–Q11): the
//! counters and task events of the items it dispatches, completes and
//! fails, the stop requests of terminate/kill_workers and the answers to
//! `describe`.
//!
//! Every counter here is written by the manager thread alone; an item is
//! counted taken (in `Shared::take_running`, or here when it is failed
//! straight from the queue) before it is counted finished (Q5).

use super::*;
use crate::flow::{bump, function_name, human, Finish, TaskEvent, TaskEventKind};
use std::fmt::Write;

/// Message of the futures failed by terminate_workers / kill_workers.
const STOPPED_MESSAGE: &str = "the pool's worker processes were stopped";

impl Manager {
    pub(super) fn worker_started(&self) {
        self.shared.workers_started.fetch_add(1, Ordering::Relaxed);
        self.count_alive();
    }

    pub(super) fn count_alive(&self) {
        let alive = self.workers.iter().filter(|w| w.dead.is_none()).count();
        self.shared
            .workers_alive
            .store(alive as u64, Ordering::Relaxed);
    }

    fn event(&self, kind: TaskEventKind, task: u64, wait: Duration, run: Duration, status: Status) {
        if self.shared.observer.is_some() {
            self.shared.event(TaskEvent {
                kind,
                task,
                wait,
                run,
                status,
            });
        }
    }

    /// A call is handed to a worker: its items' queue wait ends (Q5, Q9).
    pub(super) fn call_started(&self, call: &Dispatched) {
        let wait = call.mark.saturating_duration_since(call.queued_at);
        let c = &self.shared.counters;
        bump(&c.wait_ns, wait.as_nanos() as u64 * call.items.len() as u64);
        for item in &call.items {
            self.event(
                TaskEventKind::Started,
                item.id,
                wait,
                Duration::ZERO,
                Status::Ok,
            );
        }
    }

    pub(super) fn item_finished(
        &self,
        id: u64,
        how: Finish,
        status: Status,
        wait: Duration,
        run: Duration,
    ) {
        self.shared.counters.finished(how, run);
        self.event(TaskEventKind::Finished, id, wait, run, status);
    }

    /// An item taken off the queue fails (`mark`: when it started running
    /// on a worker, if it did).
    pub(super) fn item_failed(
        &self,
        id: u64,
        kind: Status,
        queued_at: Instant,
        mark: Option<Instant>,
    ) {
        let run = mark.map_or(Duration::ZERO, |m| m.elapsed());
        let wait = mark
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(queued_at);
        self.item_finished(id, Finish::Failed, kind, wait, run);
    }

    /// Counts an item taken straight from the queue by a failure.
    pub(super) fn item_taken(&self) {
        self.shared.counters.took(Duration::ZERO);
    }

    /// An item failed from the queue (`failed` false: it had been
    /// cancelled by its owner, and stays so).
    pub(super) fn item_dropped(&self, id: u64, failed: bool, queued_at: Instant) {
        let (how, status) = if failed {
            (Finish::Failed, Status::BrokenPool)
        } else {
            (Finish::Cancelled, Status::Cancelled)
        };
        self.item_finished(id, how, status, queued_at.elapsed(), Duration::ZERO);
    }

    /// Requests from other threads: stop every worker, describe the pool.
    pub(super) fn flow_requests(&mut self) {
        let sig = self.shared.stop_signal.swap(0, Ordering::SeqCst);
        if sig != 0 {
            self.stop_all_workers(sig);
        }
        if self.shared.describe_wanted.swap(false, Ordering::SeqCst) {
            let text = self.describe_text();
            let mut d = self.shared.describe.lock();
            d.1 = d.0;
            d.2 = text;
            self.shared.described.notify_all();
        }
    }

    /// Q7: fails every outstanding future with `BrokenPool` (the detail
    /// names the call) and sends `sig` to every worker; nothing more is
    /// dispatched or started, and the manager ends once they are reaped.
    fn stop_all_workers(&mut self, sig: i32) {
        let detail = if sig == libc::SIGKILL {
            "killed by fut_executor_kill_workers"
        } else {
            "terminated by fut_executor_terminate_workers"
        };
        if !self.broken {
            self.broken = true;
            self.shutdown = true;
            let queued = self.shared.take_queue();
            self.fail_pending(queued, detail);
            for i in 0..self.workers.len() {
                self.fail_assigned(i, Status::BrokenPool, STOPPED_MESSAGE, detail);
            }
        }
        for i in 0..self.workers.len() {
            if self.workers[i].dead.is_none() {
                self.workers[i].kill = Kill::Teardown;
                self.workers[i].out.clear();
                self.signal_worker(i, sig);
            }
        }
    }

    /// Q11: each worker, the task it runs and for how long, the queue.
    fn describe_text(&self) -> String {
        let now = Instant::now();
        let mut out = String::new();
        let max_queued = match self.shared.bound.max() {
            0 => "unbounded".to_string(),
            n => n.to_string(),
        };
        let alive = self.workers.iter().filter(|w| w.dead.is_none()).count();
        let _ = writeln!(
            out,
            "process pool: {alive} of {} workers alive ({} starting), max_queued {max_queued}",
            self.cfg.max_workers,
            self.spawning.len()
        );
        for w in self.workers.iter().filter(|w| w.dead.is_none()) {
            let front = w
                .assigned
                .front()
                .and_then(|c| c.items.front().map(|x| (c, x)));
            match front {
                None => {
                    let _ = writeln!(out, "  worker pid {}: idle", w.pid);
                }
                Some((call, item)) => {
                    let state = if w.ring.started() == item.id {
                        "running"
                    } else {
                        "sent"
                    };
                    let _ = writeln!(
                        out,
                        "  worker pid {}: {state} task {} ({}) for {}",
                        w.pid,
                        item.id,
                        function_name(call.func),
                        human(now.saturating_duration_since(call.mark))
                    );
                }
            }
        }
        let held: usize = self.held.iter().map(|c| c.items.len()).sum();
        let (queued, oldest) = {
            let st = self.shared.state.lock();
            let n: usize = st.queue.iter().map(|c| c.items.len()).sum();
            let oldest = st
                .queue
                .front()
                .and_then(|c| c.items.first().map(|x| (x.id, c.queued_at)));
            (n, oldest)
        };
        let _ = write!(
            out,
            "queue: {queued} queued, {held} held for the next free worker"
        );
        match oldest {
            Some((id, at)) => {
                let age = human(now.saturating_duration_since(at));
                let _ = writeln!(out, ", oldest queued for {age} (task {id})");
            }
            None => out.push('\n'),
        }
        out
    }
}
