//! The bound on queued work (Q1–Q4), shared by both pools.

use super::Padded;
use crate::status::Status;
use crate::sync::{Condvar, Mutex};
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The bound on queued work (Q1–Q4): how many tasks accepted from outside
/// the pool have not left the queue yet, and the submitters waiting for
/// room.
///
/// Two monotonic counts instead of one shared "used" word, so that a task
/// moves no cache line between the submitters and the workers: *admitted*
/// (written by submitters only, one compare-and-swap per task) and *freed*,
/// split in lanes: one per worker (written by that worker alone with a load
/// and a store, `leave_lane`) and one shared lane for the rare frees from
/// other threads (`leave`: a refused submit, a shutdown's cancellations, a
/// process pool's manager). Queued = admitted - freed.
///
/// Exact without reading the lanes on every submit: submitters keep a view
/// of freed (`seen`: a sum of lanes each read at some instant; as every
/// lane only grows, never above the real total from then on, whichever
/// submitter's sum was stored last). A submit admits itself with a
/// compare-and-swap from `a` to `a + 1` only while `a - seen < max`; since
/// queued = `a` - freed <= `a - seen` at that moment, never more than `max`
/// tasks are queued. Only when the view says full does the submitter sum
/// the lanes afresh (a read of each worker's line). A worker's free costs
/// a store on its own line and a fence.
///
/// A full bound makes the submitter count itself as waiting and sleep. No
/// wake-up is lost: the waiter counts itself (under the lock) and fences
/// before it sums the lanes once more; a freer stores its lane and fences
/// before it reads the waiters, and then wakes under the lock.
pub struct Bound {
    max: usize,
    /// Slots ever taken, and the submitters' view of slots ever freed:
    /// written by submitters only.
    admitted: Padded<AtomicUsize>,
    seen: AtomicUsize,
    /// Slots freed by `leave` (any thread).
    freed: Padded<AtomicUsize>,
    /// Slots freed by each worker (`leave_lane`), one line each.
    lanes: Box<[Padded<AtomicUsize>]>,
    waiting: AtomicUsize,
    /// Set once (shutdown, broken): waiters and later submitters get the
    /// pool's own refusal.
    closed: AtomicBool,
    lock: Mutex<()>,
    room: Condvar,
}

/// How long a submitter looks for a free slot before it sleeps: a worker
/// frees one within microseconds when tasks are short.
const BOUND_SPIN: Duration = Duration::from_micros(20);

impl Bound {
    /// `max` 0: unbounded (every call is free). No worker lanes: every
    /// slot is freed with `leave`.
    pub fn new(max: usize) -> Bound {
        Bound::with_lanes(max, 0)
    }

    /// A bound whose slots are also freed by `lanes` workers, worker `i`
    /// through `leave_lane(i)` only.
    pub fn with_lanes(max: usize, lanes: usize) -> Bound {
        let lanes = if max == 0 { 0 } else { lanes };
        Bound {
            max,
            admitted: Padded(AtomicUsize::new(0)),
            seen: AtomicUsize::new(0),
            freed: Padded(AtomicUsize::new(0)),
            lanes: (0..lanes).map(|_| Padded(AtomicUsize::new(0))).collect(),
            waiting: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            lock: Mutex::new(()),
            room: Condvar::new(),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn is_bounded(&self) -> bool {
        self.max != 0
    }

    /// Submitters asleep for room.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Slots freed so far, summed now; raises the submitters' view to it.
    fn refresh(&self) -> usize {
        let mut sum = self.freed.load(Ordering::Acquire);
        for l in self.lanes.iter() {
            sum = sum.wrapping_add(l.load(Ordering::Acquire));
        }
        // A plain store: racing submitters may lower the view, which is
        // still a lower bound of the total (it only costs a refresh).
        if sum > self.seen.load(Ordering::Relaxed) {
            self.seen.store(sum, Ordering::Relaxed);
        }
        sum
    }

    /// Whether a slot looks free (for spinning; `try_take` decides).
    fn has_room(&self) -> bool {
        let a = self.admitted.load(Ordering::Relaxed);
        a.saturating_sub(self.refresh()) < self.max
    }

    fn try_take(&self) -> bool {
        let mut a = self.admitted.load(Ordering::Relaxed);
        loop {
            let mut seen = self.seen.load(Ordering::Relaxed);
            if a.saturating_sub(seen) >= self.max {
                seen = self.refresh();
                // A sum above `a` means `a` is stale: the exchange fails.
                if a.saturating_sub(seen) >= self.max {
                    return false;
                }
            }
            match self
                .admitted
                .compare_exchange_weak(a, a + 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => a = now,
            }
        }
    }

    /// Takes a slot, waiting until `deadline` (None: no limit; a past one:
    /// no wait). Err(QueueFull) when it passed, Err(Shutdown) once closed
    /// (the caller answers its own refusal then).
    #[inline]
    pub fn enter(&self, deadline: Option<Instant>) -> Result<(), Status> {
        if self.max == 0 {
            return Ok(());
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(Status::Shutdown);
        }
        if self.try_take() {
            return Ok(());
        }
        self.enter_slow(deadline)
    }

    #[cold]
    fn enter_slow(&self, deadline: Option<Instant>) -> Result<(), Status> {
        let now = Instant::now();
        if deadline.is_some_and(|d| d <= now) {
            return Err(Status::QueueFull);
        }
        let spin_end = deadline.map_or(now + BOUND_SPIN, |d| d.min(now + BOUND_SPIN));
        let ready = || self.has_room() || self.closed.load(Ordering::Relaxed);
        crate::spin_until(BOUND_SPIN, Some(spin_end), ready);
        let mut g = self.lock.lock();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        // Pairs with the freers' fence (see the type's comment).
        fence(Ordering::SeqCst);
        let r = loop {
            if self.closed.load(Ordering::SeqCst) {
                break Err(Status::Shutdown);
            }
            if self.try_take() {
                break Ok(());
            }
            match deadline {
                None => self.room.wait(&mut g),
                Some(d) => {
                    if self.room.wait_until(&mut g, d).timed_out() {
                        // One last look: a slot freed at the deadline.
                        break if self.try_take() {
                            Ok(())
                        } else {
                            Err(Status::QueueFull)
                        };
                    }
                }
            }
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        // A waiter leaving without the slot it was woken for passes the
        // wake-up on.
        if r.is_err() && self.has_room() {
            self.room.notify_one();
        }
        r
    }

    /// Frees `n` slots (their tasks left the queue), from any thread.
    pub fn leave(&self, n: usize) {
        if self.max == 0 || n == 0 {
            return;
        }
        self.freed.fetch_add(n, Ordering::SeqCst);
        self.wake(n);
    }

    /// Frees one slot from worker `lane`; only that worker calls this.
    #[inline]
    pub fn leave_lane(&self, lane: usize) {
        let l = &self.lanes[lane];
        l.store(l.load(Ordering::Relaxed).wrapping_add(1), Ordering::Release);
        self.wake(1);
    }

    #[inline]
    fn wake(&self, n: usize) {
        // Pairs with the waiter's fence (see the type's comment).
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) > 0 {
            self.wake_slow(n);
        }
    }

    #[cold]
    fn wake_slow(&self, n: usize) {
        let _g = self.lock.lock();
        if n == 1 {
            self.room.notify_one();
        } else {
            self.room.notify_all();
        }
    }

    /// Refuses every waiting and later `enter` (shutdown, broken pool).
    pub fn close(&self) {
        if self.max == 0 {
            return;
        }
        let _g = self.lock.lock();
        self.closed.store(true, Ordering::SeqCst);
        self.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn bound_counts_exactly_and_times_out() {
        let b = Bound::new(2);
        assert!(b.enter(None).is_ok());
        assert!(b.enter(Some(Instant::now())).is_ok());
        assert_eq!(b.enter(Some(Instant::now())), Err(Status::QueueFull));
        let t0 = Instant::now();
        let r = b.enter(Some(t0 + Duration::from_millis(30)));
        assert_eq!(r, Err(Status::QueueFull));
        assert!(t0.elapsed() >= Duration::from_millis(30));
        b.leave(1);
        assert!(b.enter(Some(Instant::now())).is_ok());
    }

    /// Q1: racing submitters never see more than `max` admitted and not
    /// freed, with frees through worker lanes and the shared `leave`.
    #[test]
    fn bound_with_lanes_stays_exact() {
        const MAX: usize = 4;
        const PER_SUBMITTER: usize = 5000;
        let b = Arc::new(Bound::with_lanes(MAX, 2));
        let queued = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = crossbeam_channel::unbounded::<()>();
        let freers: Vec<_> = (0..3)
            .map(|lane| {
                let (b, q, rx) = (Arc::clone(&b), Arc::clone(&queued), rx.clone());
                std::thread::spawn(move || {
                    while rx.recv_timeout(Duration::from_secs(30)).is_ok() {
                        q.fetch_sub(1, Ordering::SeqCst);
                        if lane < 2 {
                            b.leave_lane(lane);
                        } else {
                            b.leave(1);
                        }
                    }
                })
            })
            .collect();
        let submitters: Vec<_> = (0..2)
            .map(|_| {
                let (b, q, tx) = (Arc::clone(&b), Arc::clone(&queued), tx.clone());
                std::thread::spawn(move || {
                    for _ in 0..PER_SUBMITTER {
                        let deadline = Instant::now() + Duration::from_secs(30);
                        assert_eq!(b.enter(Some(deadline)), Ok(()));
                        let n = q.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(n <= MAX, "{n} queued over a bound of {MAX}");
                        tx.send(()).unwrap();
                    }
                })
            })
            .collect();
        for t in submitters {
            t.join().unwrap();
        }
        drop(tx);
        for t in freers {
            t.join().unwrap();
        }
        assert_eq!(queued.load(Ordering::SeqCst), 0);
        // Everything freed: a full bound's worth enters at once again.
        for _ in 0..MAX {
            assert_eq!(b.enter(Some(Instant::now())), Ok(()));
        }
        assert_eq!(b.enter(Some(Instant::now())), Err(Status::QueueFull));
    }

    #[test]
    fn bound_close_wakes_waiters() {
        let b = Arc::new(Bound::new(1));
        b.enter(None).unwrap();
        let b2 = Arc::clone(&b);
        let t = std::thread::spawn(move || b2.enter(None));
        while b.waiting() == 0 {
            std::thread::yield_now();
        }
        b.close();
        assert_eq!(t.join().unwrap(), Err(Status::Shutdown));
    }
}
