//! `map` and `imap`: iterators over the futures of many calls of one task
//! function (E9–E15, L1–L9).
//!
//! `map` submits every input at once (E9). `imap` pulls its inputs from a
//! producer, lazily, on the consumer's thread inside `next` (L2), and keeps
//! at most `window` chunks of inputs in flight (L3): a chunk leaves the
//! window when the consumer has taken every future of it, and only the
//! *next* call refills the window, after the consumer took the result. So
//! the window is never exceeded, not even while `next` waits (CPython 3.14
//! submits the next input before it waits, one over its `buffersize`:
//! gh-131466).

use crate::executor::{Arg, Executor, Item, Task, TaskFn};
use crate::future::{DropFn, Future};
use crate::status::{ErrorRecord, Status};
use crate::sync::{Condvar, Mutex};
use std::collections::VecDeque;
use std::ffi::c_void;
use std::sync::Arc;
use std::time::Instant;

/// What a producer hands `imap` for the next input.
pub enum Produced {
    /// An input: `len` bytes at `arg` (NULL with 0 for none), with the
    /// destructor to run once the library no longer needs them.
    Item {
        arg: *const c_void,
        len: usize,
        drop: Option<DropFn>,
    },
    /// No more inputs.
    End,
    /// The producer failed with this code: the iteration ends there (L5).
    Error(i32),
}

/// The source of `imap`'s inputs. Called on the consumer's thread, one call
/// at a time, never again after `End` or `Error`; dropped when the iterator
/// no longer needs it (its end, an error, or the iterator's release).
///
/// # Safety
/// Every `Item` hands its bytes to the iterator under the contract of
/// `Arg::from_raw`, for the task function the iterator was made with.
pub unsafe trait Producer: Send {
    /// The next input.
    fn produce(&mut self) -> Produced;
}

/// Why `Map::next` yields nothing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MapEnd {
    Exhausted,
    /// E11: the map's deadline passed; every future not yet yielded was
    /// cancelled.
    TimedOut,
    /// L7: this call's own deadline passed; the iteration goes on.
    CallTimedOut,
}

/// How `imap` pulls and submits inputs.
pub struct Lazy {
    pub executor: Arc<dyn Executor>,
    pub func: TaskFn,
    pub producer: Box<dyn Producer>,
    /// Chunks in flight at most, >= 1.
    pub window: usize,
    /// Inputs per chunk, >= 1.
    pub chunksize: usize,
    /// Yield in completion order rather than input order (L4).
    pub unordered: bool,
}

/// Input indices of done futures, in the order they completed (imap
/// unordered): pushed by done-callbacks on whichever thread completes.
#[derive(Default)]
struct DoneQueue {
    indices: Mutex<VecDeque<u64>>,
    nonempty: Condvar,
}

impl DoneQueue {
    fn push(&self, index: u64) {
        self.indices.lock().push_back(index);
        self.nonempty.notify_one();
    }

    fn pop_until(&self, deadline: Option<Instant>) -> Option<u64> {
        let mut q = self.indices.lock();
        loop {
            if let Some(i) = q.pop_front() {
                return Some(i);
            }
            match deadline {
                None => self.nonempty.wait(&mut q),
                Some(d) => {
                    if self.nonempty.wait_until(&mut q, d).timed_out() {
                        return q.pop_front();
                    }
                }
            }
        }
    }
}

/// The results of `map` or `imap`.
pub struct Map {
    /// Futures not yet yielded, from input index `base` on (None: yielded
    /// already, out of order).
    entries: VecDeque<Option<Future>>,
    base: u64,
    /// Entries still to yield.
    outstanding: usize,
    /// imap: remaining entries of each chunk in flight, oldest first;
    /// `first` is the input index of the oldest one.
    chunks: VecDeque<usize>,
    first: u64,
    chunksize: u64,
    lazy: Option<Lazy>,
    done: Option<Arc<DoneQueue>>,
    deadline: Option<Instant>,
    finished: bool,
}

impl Map {
    /// E9: submits every item now, to be yielded in input order.
    pub fn new(
        executor: &dyn Executor,
        func: TaskFn,
        items: &[Item],
        deadline: Option<Instant>,
        chunksize: usize,
    ) -> Result<Map, Status> {
        if chunksize == 0 {
            return Err(Status::InvalidArgument);
        }
        let futures = executor.submit_many(func, items, chunksize)?;
        let mut map = Map::empty(deadline);
        map.outstanding = futures.len();
        map.entries = futures.into_iter().map(Some).collect();
        Ok(map)
    }

    /// L1: an iterator that pulls inputs from `lazy.producer` only inside
    /// `next` (nothing is produced or submitted before the first call).
    pub fn lazy(lazy: Lazy) -> Result<Map, Status> {
        if lazy.window == 0 || lazy.chunksize == 0 {
            return Err(Status::InvalidArgument);
        }
        let mut map = Map::empty(None);
        map.done = lazy.unordered.then(|| Arc::new(DoneQueue::default()));
        map.chunksize = lazy.chunksize as u64;
        map.lazy = Some(lazy);
        Ok(map)
    }

    fn empty(deadline: Option<Instant>) -> Map {
        Map {
            entries: VecDeque::new(),
            base: 0,
            outstanding: 0,
            chunks: VecDeque::new(),
            first: 0,
            chunksize: 1,
            lazy: None,
            done: None,
            deadline,
            finished: false,
        }
    }

    /// `next` without a deadline of its own (the map's still applies).
    pub fn next_done(&mut self) -> Result<Future, MapEnd> {
        self.next(None).map(|(f, _)| f)
    }

    /// The next done future and its input index: in input order (E10), or
    /// in completion order for an unordered imap (L4). `call_deadline`
    /// bounds this call only (L7). A failed future's detail starts with
    /// `input N` (L6).
    pub fn next(&mut self, call_deadline: Option<Instant>) -> Result<(Future, u64), MapEnd> {
        if self.finished {
            return Err(MapEnd::Exhausted);
        }
        self.refill();
        if self.outstanding == 0 {
            self.finish();
            return Err(MapEnd::Exhausted);
        }
        let deadline = match (self.deadline, call_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let found = match &self.done {
            Some(done) => done.pop_until(deadline),
            None => {
                let front = self.entries.front().and_then(Option::as_ref);
                let front = front.expect("an outstanding future in input order");
                front.wait_until(deadline).then_some(self.base)
            }
        };
        let Some(index) = found else {
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.finish();
                return Err(MapEnd::TimedOut);
            }
            return Err(MapEnd::CallTimedOut);
        };
        let future = self.take(index);
        Ok((labelled(future, index), index))
    }

    /// Takes the entry of input `index` out of the window.
    fn take(&mut self, index: u64) -> Future {
        let slot = &mut self.entries[(index - self.base) as usize];
        let future = slot.take().expect("each input is yielded once");
        self.outstanding -= 1;
        while let Some(None) = self.entries.front() {
            self.entries.pop_front();
            self.base += 1;
        }
        if !self.chunks.is_empty() {
            // Every chunk but the last is full, so the index finds its chunk.
            let chunk = ((index - self.first) / self.chunksize) as usize;
            self.chunks[chunk] -= 1;
            while self.chunks.front() == Some(&0) {
                self.chunks.pop_front();
                self.first += self.chunksize;
            }
        }
        future
    }

    /// L3: submits chunks until `window` are in flight or the producer
    /// ended. Runs at the start of `next`, so the chunk the previous call
    /// emptied is replaced only after its last result was handed out.
    fn refill(&mut self) {
        while let Some(lazy) = &self.lazy {
            if self.chunks.len() >= lazy.window {
                return;
            }
            self.submit_chunk();
        }
    }

    /// Produces up to `chunksize` inputs and submits them as one chunk. An
    /// end, a producer error or a refusal ends the source (L5).
    fn submit_chunk(&mut self) {
        let lazy = self.lazy.as_mut().expect("called with a source");
        let start = self.base + self.entries.len() as u64;
        let mut args: Vec<Arg> = Vec::with_capacity(lazy.chunksize.min(1024));
        let mut failure: Option<ErrorRecord> = None;
        while args.len() < lazy.chunksize && failure.is_none() {
            let input = || format!("input {}", start + args.len() as u64);
            match lazy.producer.produce() {
                Produced::Item { arg, len, drop: d } if arg.is_null() && len != 0 => {
                    drop(Arg::new(arg, 0, d)); // never submitted: ours to drop
                    failure = Some(
                        ErrorRecord::new(
                            Status::InvalidArgument,
                            0,
                            "the producer gave NULL bytes with a non-zero length",
                        )
                        .with_detail(&format!("{}: refused", input())),
                    );
                }
                // `Producer`'s contract: these bytes suit this task function.
                Produced::Item { arg, len, drop: d } => args.push(Arg::new(arg, len, d)),
                Produced::End => break,
                Produced::Error(code) => {
                    let message = format!("the producer failed with code {code}");
                    failure = Some(
                        ErrorRecord::new(Status::TaskFailed, code, &message)
                            .with_detail(&format!("{}: reported by the producer", input())),
                    );
                }
            }
        }
        let ended = args.len() < lazy.chunksize;
        let mut futures = Vec::with_capacity(args.len() + 1);
        if let Err(refused) = submit_args(lazy, args, &mut futures) {
            let input = start + futures.len() as u64;
            failure = Some(refused.with_detail(&format!("input {input}: not submitted")));
        }
        if let Some(record) = failure {
            let f = Future::new();
            let _ = f.set_exception(record);
            futures.push(f);
            self.lazy = None;
        } else if ended {
            self.lazy = None; // the producer's end: let it go now
        }
        if futures.is_empty() {
            return;
        }
        if let Some(done) = &self.done {
            for (k, f) in futures.iter().enumerate() {
                let done = Arc::clone(done);
                let index = start + k as u64;
                f.add_done_callback(Box::new(move |_| done.push(index)));
            }
        }
        self.outstanding += futures.len();
        self.chunks.push_back(futures.len());
        self.entries.extend(futures.into_iter().map(Some));
    }

    /// E11/E13/L8: cancels every future not yet yielded and lets the
    /// producer go.
    fn finish(&mut self) {
        self.finished = true;
        self.lazy = None;
        for f in self.entries.drain(..).flatten() {
            f.cancel();
        }
        self.outstanding = 0;
        self.chunks.clear();
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Submits one chunk's inputs, pushing a future per accepted input. A pool
/// that copies arguments at submit (a process pool) gets the chunk as one
/// call; any other gets one task per input, which owns its argument (its
/// destructor runs after the task, L2). A refusal is returned as the
/// failure of the first input not submitted; later inputs are dropped.
fn submit_args(lazy: &Lazy, args: Vec<Arg>, futures: &mut Vec<Future>) -> Result<(), ErrorRecord> {
    let refusal = |status: Status| {
        ErrorRecord::new(
            status,
            0,
            &format!("the executor refused the input: {status}"),
        )
    };
    if args.is_empty() {
        return Ok(());
    }
    if args.len() > 1 && lazy.executor.copies_arguments() {
        let items: Vec<Item> = args
            .iter()
            .map(|a| Item {
                arg: a.ptr(),
                arg_len: a.len(),
            })
            .collect();
        let result = lazy.executor.submit_many(lazy.func, &items, lazy.chunksize);
        drop(args); // copied (or refused): the destructors run now
        futures.extend(result.map_err(refusal)?);
        return Ok(());
    }
    for arg in args {
        // The producer's contract (`Produced::Item`) covers `func`.
        let task = Task {
            func: lazy.func,
            arg,
        };
        match lazy.executor.submit(task) {
            Ok(f) => futures.push(f),
            // The refused task (and every later argument) is dropped here:
            // it never ran, so its destructor may run.
            Err(refused) => return Err(refusal(refused.status)),
        }
    }
    Ok(())
}

/// L6: a failed future whose record does not name its input yet is handed
/// out as a copy whose detail starts with `input N` (the task's own detail,
/// e.g. which worker raised it, follows). Successes go out unchanged.
fn labelled(future: Future, index: u64) -> Future {
    if !future.failed() {
        return future;
    }
    let Ok(Some(e)) = future.exception(None) else {
        return future;
    };
    let prefix = format!("input {index}");
    let detail = match &e.detail {
        Some(d) if d.to_bytes().starts_with(format!("{prefix}:").as_bytes()) => return future,
        Some(d) => format!("{prefix}: {}", d.to_string_lossy()),
        None => prefix,
    };
    let record = ErrorRecord {
        kind: e.kind,
        code: e.code,
        message: e.message.clone(),
        detail: None,
    }
    .with_detail(&detail);
    let copy = Future::new();
    let _ = copy.set_exception(record);
    copy
}

#[cfg(test)]
mod tests;
