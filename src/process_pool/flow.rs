//! Flow control and observability of the process pool (Q1–Q12), the
//! callers' side: stats from the counters in `Shared`, describe and the
//! stopping calls, both carried out by the manager thread
//! (`manager/flow.rs`).

use super::ProcessPool;
use crate::executor::{Refused, Task};
use crate::flow::{settle, sum_counters, Flow, Stats};
use crate::future::Future;
use crate::status::Status;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long `describe` waits for the manager thread's answer.
const DESCRIBE_WAIT: Duration = Duration::from_secs(1);

/// Q8: between SIGTERM and SIGKILL when a shutdown's deadline passed.
const TERMINATE_GRACE: Duration = Duration::from_millis(100);

impl Flow for ProcessPool {
    fn submit_until(&self, task: Task, deadline: Option<Instant>) -> Result<Future, Refused> {
        self.submit_within(task, deadline)
    }

    fn stats(&self) -> Stats {
        let sh = &self.shared;
        let mut s = Stats::default();
        // As the thread pool's: retried once if submits moved the count.
        for _ in 0..2 {
            s = Stats::default();
            let before = sh.submitted.load(Ordering::Acquire);
            let drained = sh.drained.load(Ordering::Acquire);
            let taken = sum_counters(std::iter::once(&sh.counters), &mut s) + drained;
            s.cancelled += drained;
            let submitted = sh.submitted.load(Ordering::Acquire);
            settle(&mut s, taken, submitted);
            if submitted == before {
                break;
            }
        }
        s.workers_started = sh.workers_started.load(Ordering::Relaxed);
        s.workers_alive = sh.workers_alive.load(Ordering::Relaxed);
        s.workers_replaced = s.workers_started.saturating_sub(self.max_workers as u64);
        s.submitters_waiting = sh.bound.waiting() as u64;
        s.max_queued = sh.bound.max() as u64;
        s
    }

    fn describe(&self) -> String {
        let sh = &self.shared;
        let stats = self.stats();
        let finished = *sh.finished.lock();
        // The manager thread (a done-callback) cannot wait for itself.
        let on_manager = self.on_manager_thread();
        let answer = if finished || on_manager || self.shared.forked_away() {
            None
        } else {
            let want = {
                let mut d = sh.describe.lock();
                d.0 += 1;
                d.0
            };
            sh.describe_wanted.store(true, Ordering::SeqCst);
            sh.wake();
            let deadline = Instant::now() + DESCRIBE_WAIT;
            let mut d = sh.describe.lock();
            loop {
                if d.1 >= want {
                    break Some(d.2.clone());
                }
                if sh.described.wait_until(&mut d, deadline).timed_out() && d.1 < want {
                    break None;
                }
            }
        };
        let mut out = match answer {
            Some(text) => text,
            None if finished => "process pool: stopped, no workers\n".to_string(),
            None if on_manager => "process pool: asked from its own manager thread \
                                   (a done-callback): no worker details\n"
                .to_string(),
            None => "process pool: the manager thread did not answer within 1 s \
                     (a done-callback may be blocking it)\n"
                .to_string(),
        };
        out.push_str(&format!(
            "tasks: {} submitted, {} queued, {} running, {} completed, {} failed, \
             {} cancelled; {} submitters waiting\n",
            stats.submitted,
            stats.queued,
            stats.running,
            stats.completed,
            stats.failed,
            stats.cancelled,
            stats.submitters_waiting
        ));
        out
    }

    /// Q7: shut down without waiting, cancel the queue, signal every worker.
    fn stop_workers(&self, signal: i32) -> Result<(), Status> {
        if self.shared.forked_away() {
            return Err(Status::Shutdown);
        }
        self.shared.begin_shutdown(true);
        self.shared.stop_signal.store(signal, Ordering::SeqCst);
        self.shared.wake();
        Ok(())
    }

    /// Q8: shutdown(wait) until `deadline`, then SIGTERM, a grace, SIGKILL;
    /// returns once every process is reaped.
    fn shutdown_until(&self, cancel: bool, deadline: Option<Instant>) -> Result<(), Status> {
        match self.shutdown_impl(false, cancel) {
            Ok(()) => {}
            Err(e) => return Err(e),
        }
        if self.on_manager_thread() {
            return Err(Status::WouldDeadlock);
        }
        let in_time = self.shared.wait_finished_until(deadline);
        if !in_time {
            self.stop_workers(libc::SIGTERM)?;
            let grace = Instant::now() + TERMINATE_GRACE;
            if !self.shared.wait_finished_until(Some(grace)) {
                self.stop_workers(libc::SIGKILL)?;
            }
        }
        self.shutdown_impl(true, cancel)?;
        if in_time {
            Ok(())
        } else {
            Err(Status::Timeout)
        }
    }
}
