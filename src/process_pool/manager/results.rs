//! Results: reading the frames a worker published in its result ring and
//! completing their futures (P6, E2).

use super::*;
use crate::flow::Finish;
use crate::future::Value;

impl Manager {
    /// Takes the worker's wake-up tokens and every byte it published, and
    /// handles the complete frames.
    pub(super) fn read_results(&mut self, i: usize) {
        let w = &mut self.workers[i];
        drain_tokens(w);
        if w.in_start > 0 && w.in_start * 2 >= w.inbuf.len() {
            w.inbuf.drain(..w.in_start);
            w.in_start = 0;
        }
        if w.ring.read_into(&mut w.inbuf).is_err() {
            let pid = w.pid;
            self.break_pool(format!(
                "bad message from worker {pid}: protocol error: corrupt result ring"
            ));
            return;
        }
        // Completions wait in `self.completions` (not in a local), so that
        // the fault boundary finds them if something panics on the way.
        let r = self.handle_frames(i);
        complete_all(&mut self.completions);
        if !self.spare_frames.is_empty() || !self.spare_works.is_empty() {
            self.shared
                .spares
                .lock()
                .absorb(&mut self.spare_frames, &mut self.spare_works);
        }
        if let Err(e) = r {
            self.break_pool(format!(
                "bad message from worker {}: {e}",
                self.workers[i].pid
            ));
        }
    }

    /// Decodes the complete frames of worker `i`; the results go to
    /// `self.completions` (completed by the caller, with no lock of ours
    /// held).
    pub(super) fn handle_frames(&mut self, i: usize) -> Result<(), wire::WireError> {
        let timed = self.cfg.time_limit.is_some();
        loop {
            let w = &mut self.workers[i];
            let Some((h, total)) = wire::complete_frame(&w.inbuf[w.in_start..])? else {
                return Ok(());
            };
            let start = w.in_start + wire::HEADER_LEN;
            let end = w.in_start + total;
            match h.kind {
                wire::READY => {
                    w.ready = true;
                    if timed && !w.assigned.is_empty() && w.started.is_none() {
                        w.started = Some(Instant::now());
                    }
                }
                wire::INIT_FAILED => w.init_failed = Some(h.aux as i32),
                wire::RESULT => self.take_result(i, start..end)?,
                k => return Err(wire::WireError(format!("unexpected message kind {k}"))),
            }
            self.workers[i].in_start = end;
        }
    }

    /// The `RESULT` frame at `frame` of worker `i`'s input: answers the
    /// item it ran (the front one), or is a protocol error.
    fn take_result(
        &mut self,
        i: usize,
        frame: std::ops::Range<usize>,
    ) -> Result<(), wire::WireError> {
        let timed = self.cfg.time_limit.is_some();
        let w = &mut self.workers[i];
        let msg = wire::decode_result(&w.inbuf[frame])?;
        let Some(call) = w.assigned.front_mut() else {
            return Err(wire::WireError("result without a call".into()));
        };
        let item = call.items.pop_front().expect("calls are never empty");
        let (queued_at, mark) = (call.queued_at, call.mark);
        call.mark = Instant::now();
        if item.id != msg.task_id {
            let running = item.id;
            // Keep it assigned: the break fails it (B3).
            call.items.push_front(item);
            return Err(wire::WireError(format!(
                "result for task {} while task {running} runs",
                msg.task_id
            )));
        }
        if call.items.is_empty() {
            let call = w.assigned.pop_front().expect("front exists");
            if let Ok(frame) = Arc::try_unwrap(call.frame) {
                self.spare_frames.push(frame);
            }
            self.spare_works.push(Vec::from(call.items));
        }
        if timed {
            w.started = if w.assigned.is_empty() {
                None
            } else {
                Some(Instant::now())
            };
        }
        if msg.last {
            w.got_last = true;
        }
        let outcome = match msg.body {
            wire::Body::Value(b) => Outcome::Value(self.values.value(b)),
            wire::Body::Error {
                kind,
                code,
                message,
                detail,
            } => Outcome::Error(error_record(kind, code, message, detail)),
            wire::Body::Cancelled => Outcome::Cancelled,
        };
        self.crashes = 0;
        let (how, status) = match &outcome {
            Outcome::Value(_) => (Finish::Completed, Status::Ok),
            Outcome::Error(e) => (Finish::Failed, e.kind),
            Outcome::Cancelled => (Finish::Cancelled, Status::Cancelled),
        };
        let wait = mark.saturating_duration_since(queued_at);
        self.item_finished(item.id, how, status, wait, mark.elapsed());
        self.starved = 0;
        self.completions.push((item.future, outcome));
        Ok(())
    }
}

/// The record of a task's failure as its worker sent it. Only failure kinds
/// a task may report pass through; others read as `TaskFailed`.
fn error_record(kind: i32, code: i32, message: &[u8], detail: &[u8]) -> ErrorRecord {
    let kind = Status::from_code(kind)
        .filter(|k| *k as i32 <= -5)
        .unwrap_or(Status::TaskFailed);
    let mut rec = ErrorRecord::new(kind, code, &String::from_utf8_lossy(message));
    if !detail.is_empty() {
        rec = rec.with_detail(&String::from_utf8_lossy(detail));
    }
    rec
}

/// A result read from a worker, not yet given to its future.
pub(super) enum Outcome {
    Value(Value),
    Error(ErrorRecord),
    Cancelled,
}

/// Completes the futures of results read together. Each group of up to
/// `COMPLETE_GROUP` is completed last to first: a reader waiting for the
/// first of them (a map consumer in input order) is woken once, by the
/// last completion of the group, and then finds the rest done instead of
/// sleeping and being woken again for each. Completion order across
/// futures is not specified (E2); callbacks run here, on the manager thread.
pub(super) fn complete_all(done: &mut Vec<(Future, Outcome)>) {
    const COMPLETE_GROUP: usize = 64;
    for group in done.chunks_mut(COMPLETE_GROUP) {
        group.reverse();
    }
    for (future, outcome) in done.drain(..) {
        match outcome {
            Outcome::Value(v) => {
                let _ = future.set_result(v);
            }
            Outcome::Error(rec) => {
                let _ = future.set_exception(rec);
            }
            Outcome::Cancelled => {
                future.set_cancelled_while_running();
            }
        }
    }
}

/// Reads the wake-up tokens of a worker's result pipe; closes it at end of
/// file (the worker is gone or going: its death is handled next).
pub(super) fn drain_tokens(w: &mut Slot) {
    let mut buf = [0u8; 64];
    while w.result_fd >= 0 {
        // SAFETY: reads into a live buffer of the given size.
        let n = unsafe { libc::read(w.result_fd, buf.as_mut_ptr() as *mut libc::c_void, 64) };
        if n > 0 {
            w.entry_due = None; // a spawned worker's first byte: it entered
            if (n as usize) < buf.len() {
                return; // read them all (more make the pipe readable again)
            }
            continue;
        }
        if n < 0 {
            let e = sys::errno();
            if e == libc::EINTR {
                continue;
            }
            if e == libc::EAGAIN {
                return;
            }
        }
        sys::close(w.result_fd);
        w.result_fd = -1;
    }
}
