use super::sets::MAX_RUNS;
use super::*;
use crate::future::Value;
use crate::status::{ErrorRecord, Status};
use std::time::Duration;

fn partition<L: Futures + ?Sized>(fs: &L) -> WaitOutcome {
    partition_into(fs, Vec::new()).expect("test futures are all live")
}

fn soon() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(30))
}

/// W1/X7: duplicates, wherever they sit, map to one distinct future at its
/// first position; the partition agrees with itself.
#[test]
fn duplicates_share_one_entry_in_any_order() {
    let made: Vec<Future> = (0..5).map(|_| Future::new()).collect();
    // Positions: 3 1 3 0 1 4 3 (future 2 unused).
    let order = [3, 1, 3, 0, 1, 4, 3];
    let fs: Vec<&Future> = order.iter().map(|&k| &made[k]).collect();
    assert!(!known_distinct(fs.iter().map(|f| f.addr())));
    assert_eq!(first_positions(&fs[..], |_| true), vec![0, 1, 3, 5]);
    assert_eq!(first_positions(&fs[..], |i| i != 0), vec![1, 2, 3, 5]);

    made[3].set_result(Value::empty()).map_err(|_| ()).unwrap();
    made[4].set_result(Value::empty()).map_err(|_| ()).unwrap();
    let p = partition(&fs[..]);
    assert_eq!(p.done, vec![true, false, true, false, false, true, true]);
    assert_eq!(p.n_done, 2);
    assert!(!p.all_done);
}

/// `n` futures sorted by address, so that tests can order them at will.
fn by_address(n: usize) -> Vec<Future> {
    let mut v: Vec<Future> = (0..n).map(|_| Future::new()).collect();
    v.sort_by_key(|f| f.addr());
    v
}

/// W1: ascending runs with disjoint ranges prove distinctness without a
/// sort; a repeat, overlapping runs or too many runs do not.
#[test]
fn runs_prove_distinct_only_when_they_can() {
    let m = by_address(2 * MAX_RUNS + 2);
    let pick = |ks: &[usize]| ks.iter().map(|&k| m[k].addr()).collect::<Vec<usize>>();
    // Ascending; two runs as slots reused from the free list come (wrapped).
    assert!(known_distinct(pick(&[0, 1, 2, 3]).into_iter()));
    assert!(known_distinct(pick(&[2, 3, 4, 0, 1]).into_iter()));
    assert!(!known_distinct(pick(&[0, 1, 2, 1]).into_iter()), "overlap");
    assert!(!known_distinct(pick(&[0, 2, 1, 3]).into_iter()), "overlap");
    assert!(!known_distinct(pick(&[0, 0]).into_iter()), "repeat");
    let descending: Vec<usize> = (0..m.len()).rev().collect();
    assert!(
        !known_distinct(pick(&descending).into_iter()),
        "too many runs"
    );
    let few: Vec<usize> = (0..MAX_RUNS).rev().collect();
    assert!(known_distinct(pick(&few).into_iter()), "one run each");
}

/// W1/W9/X7: the fallback sort gives the same answer as the fast path, for
/// descending and shuffled addresses, with and without duplicates.
#[test]
fn descending_and_shuffled_addresses_partition_alike() {
    let m = by_address(40);
    for k in (0..40).step_by(3) {
        m[k].set_result(Value::empty()).ok();
    }
    let descending: Vec<usize> = (0..40).rev().collect();
    // A fixed shuffle (7 is prime to 40) with two duplicates appended.
    let mut shuffled: Vec<usize> = (0..40).map(|i| (i * 7) % 40).collect();
    shuffled.extend([3, 4]);
    for order in [descending, shuffled] {
        let fs: Vec<&Future> = order.iter().map(|&k| &m[k]).collect();
        let p = partition(&fs[..]);
        let want: Vec<bool> = order.iter().map(|&k| k % 3 == 0).collect();
        assert_eq!(p.done, want);
        assert_eq!(p.n_done, 14, "distinct done futures: 0, 3, .., 39");
        let r = wait(&fs, Some(Instant::now()), ReturnWhen::FirstCompleted);
        assert_eq!((r.done, r.n_done), (want, 14));
    }
}

/// W1/W7: a future repeated among the pending ones gets one waiter, so its
/// completion lowers the count once; FIRST_EXCEPTION still waits for `b`.
#[test]
fn duplicates_among_pending_futures_get_one_waiter() {
    let a = Future::new();
    let b = Future::new();
    let fs = [&a, &b, &a];
    for when in [ReturnWhen::FirstException, ReturnWhen::FirstCompleted] {
        // A deadline that passes before the scan ends installs nothing: try
        // longer ones until the waiter went in (a busy machine, miri).
        let mut wait_for = Duration::from_millis(5);
        while a.listener_count() == 0 && wait_for < Duration::from_secs(10) {
            let r = wait(&fs, Some(Instant::now() + wait_for), when);
            assert_eq!(r.n_done, 0);
            wait_for *= 4;
        }
        assert_eq!(a.listener_count(), 1, "one waiter on `a` ({when:?})");
        assert_eq!(b.listener_count(), 1);
    }
    // `a` done, most likely while installed: counted once, so `b` keeps the
    // wait going until the deadline.
    let c = a.clone();
    let t = std::thread::spawn(move || c.set_result(Value::empty()).ok());
    let deadline = Instant::now() + Duration::from_millis(100);
    let r = wait(&fs, Some(deadline), ReturnWhen::FirstException);
    assert!(Instant::now() >= deadline, "returned before the deadline");
    t.join().unwrap();
    assert!(!r.done[1] && r.done[0] == r.done[2]);
    assert_eq!(r.n_done, usize::from(r.done[0]));
}

/// W7/W8: ALL_COMPLETED blocks on the last pending future, installs no
/// waiter, and returns at the deadline with the flags as they are.
#[test]
fn all_completed_times_out_while_blocked_on_the_last() {
    let (a, b, c) = (Future::new(), Future::new(), Future::new());
    b.set_result(Value::empty()).ok();
    let fs = [&a, &b, &c];
    let deadline = Instant::now() + Duration::from_millis(20);
    let r = wait(&fs, Some(deadline), ReturnWhen::AllCompleted);
    assert!(Instant::now() >= deadline);
    assert_eq!(
        (r.done, r.n_done, r.all_done),
        (vec![false, true, false], 1, false)
    );
    assert_eq!(a.listener_count() + c.listener_count(), 0);
}

/// W7: once the last future is done, the wait goes on for the earlier ones
/// still pending: it returns at the deadline, not when the last completes.
#[test]
fn all_completed_rescans_after_the_last_completes() {
    let (a, b, c) = (Future::new(), Future::new(), Future::new());
    let c2 = c.clone();
    let t = std::thread::spawn(move || c2.set_result(Value::empty()).ok());
    let fs = [&a, &b, &c];
    let deadline = Instant::now() + Duration::from_millis(100);
    let r = wait(&fs, Some(deadline), ReturnWhen::AllCompleted);
    assert!(
        Instant::now() >= deadline,
        "returned when the last completed"
    );
    t.join().unwrap();
    // `c` is done unless the deadline passed before its thread ran.
    assert!(!r.done[0] && !r.done[1] && !r.all_done);
    assert_eq!(r.n_done, usize::from(r.done[2]));
}

/// W1/W7/W9: ALL_COMPLETED over duplicates answers without reading the
/// futures again: every flag set, each distinct future counted once.
#[test]
fn all_completed_counts_duplicates_once() {
    let (a, b) = (Future::new(), Future::new());
    let (a2, b2) = (a.clone(), b.clone());
    let t = std::thread::spawn(move || {
        b2.set_result(Value::empty()).ok();
        a2.set_result(Value::empty()).ok();
    });
    let fs = [&a, &b, &a, &b, &b];
    let r = wait(&fs, soon(), ReturnWhen::AllCompleted);
    t.join().unwrap();
    assert_eq!((r.done, r.n_done, r.all_done), (vec![true; 5], 2, true));
}

/// W7: futures completing in order (the wait wakes when the last one
/// completes), in reverse and shuffled, while the wait moves from one
/// pending future to the next, are all seen done.
#[test]
fn all_completed_follows_completions_in_any_order() {
    for stride in [1usize, 63, 5] {
        let fs: Vec<Future> = (0..64).map(|_| Future::new()).collect();
        // stride 1 is submission order, 63 is -1 mod 64 (reverse order),
        // 5 shuffles.
        let order: Vec<Future> = (0..64).map(|i| fs[(i * stride) % 64].clone()).collect();
        let t = std::thread::spawn(move || {
            for f in order {
                f.set_result(Value::empty()).ok();
            }
        });
        let refs: Vec<&Future> = fs.iter().collect();
        let r = wait(&refs, soon(), ReturnWhen::AllCompleted);
        t.join().unwrap();
        assert!(r.all_done && r.done.iter().all(|d| *d));
        assert_eq!(r.n_done, 64);
    }
}

/// W9: a retired waiter is dropped when its future gets another listener
/// or completes, so repeated timed-out waits do not pile them up.
#[test]
fn repeated_waits_do_not_pile_up_waiters() {
    let a = Future::new();
    let fs = [&a];
    for when in [ReturnWhen::FirstCompleted, ReturnWhen::FirstException] {
        for _ in 0..100 {
            let soon = Instant::now() + Duration::from_micros(20);
            let r = wait(&fs, Some(soon), when);
            assert_eq!(r.n_done, 0);
        }
        assert!(a.listener_count() <= 1, "retired waiters are dropped");
    }
    a.set_result(Value::empty()).ok();
    assert_eq!(a.listener_count(), 0);
}

#[test]
fn duplicates_count_once() {
    let a = Future::new();
    let b = Future::new();
    a.set_result(Value::empty()).ok();
    let fs = [&a, &b, &a];
    let r = wait(&fs, Some(Instant::now()), ReturnWhen::AllCompleted);
    assert_eq!(r.done, vec![true, false, true]);
    assert_eq!(r.n_done, 1);
}

#[test]
fn first_exception_ignores_cancellations() {
    let a = Future::new();
    let b = Future::new();
    a.cancel();
    let fs = [&a, &b];
    let r = wait(&fs, Some(Instant::now()), ReturnWhen::FirstException);
    assert_eq!(r.n_done, 1, "W6: a cancellation is not an error");
    b.set_exception(ErrorRecord::new(Status::TaskFailed, 1, "x"))
        .ok();
    let r = wait(&fs, soon(), ReturnWhen::FirstException);
    assert_eq!(r.n_done, 2);
}

#[test]
fn as_completed_yields_done_first_then_in_completion_order() {
    let a = Future::new();
    let b = Future::new();
    let c = Future::new();
    b.set_result(Value::empty()).ok();
    let fs = [&a, &b, &c, &b];
    let mut it = AsCompleted::new(&fs, soon());
    assert_eq!(it.next_done().unwrap().0, 1);
    c.cancel();
    assert_eq!(it.next_done().unwrap().0, 2, "W11: cancelled ones included");
    a.set_result(Value::empty()).ok();
    assert_eq!(it.next_done().unwrap().0, 0);
    assert_eq!(it.next_done().unwrap_err(), AsCompletedEnd::Exhausted);
}

#[test]
fn as_completed_times_out_once_then_ends() {
    let a = Future::new();
    let fs = [&a];
    let mut it = AsCompleted::new(&fs, Some(Instant::now()));
    assert_eq!(
        it.next_done().unwrap_err(),
        AsCompletedEnd::TimedOut {
            unfinished: 1,
            total: 1
        }
    );
    assert_eq!(it.next_done().unwrap_err(), AsCompletedEnd::Exhausted);
    // W13: detached; completing the future later touches no iterator.
    a.set_result(Value::empty()).ok();
}

/// W1/W11: with addresses descending (the fallback sort) and duplicates,
/// each distinct future is yielded once with its first index, done ones
/// first.
#[test]
fn as_completed_dedupes_descending_addresses() {
    let m = by_address(20);
    let order: Vec<usize> = (0..20).rev().chain([19, 0, 7]).collect();
    let fs: Vec<&Future> = order.iter().map(|&k| &m[k]).collect();
    m[7].set_result(Value::empty()).ok();
    let mut it = AsCompleted::new(&fs, soon());
    assert_eq!(it.next_done().unwrap().0, 12, "first index of m[7]");
    let mut seen = vec![12];
    for k in (0..20).filter(|&k| k != 7) {
        m[k].cancel();
        let (i, f) = it.next_done().unwrap();
        assert!(f.ptr_eq(&m[k]) && i == 19 - k, "W11: completion order");
        seen.push(i);
    }
    assert_eq!(it.next_done().unwrap_err(), AsCompletedEnd::Exhausted);
    seen.sort();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
}

/// W14: completions buffered before a call are all yielded, in completion
/// order, each once, from one take of the buffer.
#[test]
fn as_completed_yields_a_buffered_batch_in_order() {
    let fs: Vec<Future> = (0..5).map(|_| Future::new()).collect();
    let refs: Vec<&Future> = fs.iter().collect();
    let mut it = AsCompleted::new(&refs, soon());
    for k in [3, 0, 4, 1, 2] {
        fs[k].set_result(Value::empty()).ok();
    }
    let got: Vec<usize> = (0..5).map(|_| it.next_done().unwrap().0).collect();
    assert_eq!(got, vec![3, 0, 4, 1, 2]);
    assert_eq!(it.next_done().unwrap_err(), AsCompletedEnd::Exhausted);
}

/// W11: with many futures done at the start (over several words of the
/// set that records them), those come first, each once, then the others
/// in completion order.
#[test]
fn as_completed_yields_every_future_done_at_start_first() {
    let fs: Vec<Future> = (0..200).map(|_| Future::new()).collect();
    let at_start = |k: usize| k % 3 != 1 || k == 199;
    for (k, f) in fs.iter().enumerate() {
        if at_start(k) {
            f.set_result(Value::empty()).ok();
        }
    }
    let refs: Vec<&Future> = fs.iter().collect();
    let mut it = AsCompleted::new(&refs, soon());
    let n_start = (0..200).filter(|&k| at_start(k)).count();
    let mut first: Vec<usize> = (0..n_start).map(|_| it.next_done().unwrap().0).collect();
    first.sort();
    assert_eq!(first, (0..200).filter(|&k| at_start(k)).collect::<Vec<_>>());
    let later: Vec<usize> = (0..200).filter(|&k| !at_start(k)).rev().collect();
    for &k in &later {
        fs[k].cancel();
    }
    let got: Vec<usize> = later.iter().map(|_| it.next_done().unwrap().0).collect();
    assert_eq!(got, later, "completion order");
    assert_eq!(it.next_done().unwrap_err(), AsCompletedEnd::Exhausted);
}

/// W11/W13: the record of futures done at the start gives each token once,
/// smallest first, and nothing after `clear` (the iterator's end).
#[test]
fn token_set_pops_smallest_first_across_words() {
    let mut s = TokenSet::new(130);
    for t in [129, 0, 64, 63, 65] {
        s.insert(t);
    }
    let got: Vec<usize> = std::iter::from_fn(|| s.pop_first()).collect();
    assert_eq!(got, vec![0, 63, 64, 65, 129]);
    let mut s = TokenSet::new(100);
    s.insert(5);
    s.insert(70);
    s.clear();
    assert_eq!(s.pop_first(), None);
    assert_eq!(TokenSet::new(0).pop_first(), None);
}

/// Futures whose first position stops answering after `live_lookups`
/// lookups: a C caller releasing a handle while `fut_wait` runs.
struct Vanishing {
    fs: Vec<Future>,
    lookups: std::cell::Cell<usize>,
    live_lookups: usize,
}

impl Futures for Vanishing {
    type Ref<'a> = &'a Future;
    fn count(&self) -> usize {
        self.fs.len()
    }
    fn get(&self, i: usize) -> Option<&Future> {
        self.lookups.set(self.lookups.get() + 1);
        (i != 0 || self.lookups.get() <= self.live_lookups).then(|| &self.fs[i])
    }
    fn key(&self, i: usize) -> usize {
        self.fs[i].addr()
    }
}

/// W7/W9: a handle released while ALL_COMPLETED waits on it refuses the
/// call (the C API answers FUT_ERR_INVALID_ARGUMENT) instead of blocking
/// on it or panicking; the other futures are left as they were.
#[test]
fn all_completed_refuses_a_future_that_vanished_during_the_wait() {
    let fs = Vanishing {
        fs: by_address(3),
        lookups: std::cell::Cell::new(0),
        live_lookups: 3, // the first scan sees all three
    };
    fs.fs[1].set_result(Value::empty()).ok();
    fs.fs[2].set_result(Value::empty()).ok();
    let started = Instant::now();
    let r = wait_in(&fs, soon(), ReturnWhen::AllCompleted);
    assert!(r.is_none(), "refused");
    assert!(started.elapsed() < Duration::from_secs(10), "did not block");
    assert!(!fs.fs[0].done());
}
