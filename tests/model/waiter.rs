//! Waiters: install and remove against completions, and the wake-ups of
//! `wait` and `as_completed` (W2, W3, W5-W7, W11-W14). A lost wake-up
//! shows as a deadlock (every thread blocked), which fails the check.

use crate::{check, Counter};
use futures::{wait, AsCompleted, AsCompletedEnd, ErrorRecord, Future, ReturnWhen, Status, Value};
use shuttle::thread;
use std::time::Instant;

fn finish(f: &Future, how: usize) {
    match how {
        0 => assert!(f.set_result(Value::from_bytes(&[1])).is_ok()),
        1 => assert!(f.cancel()),
        _ => assert!(f
            .set_exception(ErrorRecord::new(Status::TaskFailed, 1, "x"))
            .is_ok()),
    }
}

/// Two futures completed on two threads while the caller waits with no
/// deadline: FIRST_COMPLETED returns with one done or more, FIRST_EXCEPTION
/// returns once the failing one is done, ALL_COMPLETED with both done; the
/// waiter installed on a future that completed meanwhile is never missed.
#[test]
fn wait_wakes_on_every_condition() {
    check(15000, || {
        let (a, b) = (Future::new(), Future::new());
        let (a2, b2) = (a.clone(), b.clone());
        let ta = thread::spawn(move || finish(&a2, 0));
        let tb = thread::spawn(move || finish(&b2, 2));
        let fs = [&a, &b];
        let first = wait(&fs, None, ReturnWhen::FirstCompleted);
        assert!(first.n_done >= 1);
        assert!(first.done.iter().zip(fs).all(|(d, f)| !*d || f.done()));
        let exc = wait(&fs, None, ReturnWhen::FirstException);
        assert!(exc.done[1] && b.failed(), "returns on the failure");
        let all = wait(&fs, None, ReturnWhen::AllCompleted);
        assert!(all.all_done && all.n_done == 2);
        ta.join().unwrap();
        tb.join().unwrap();
    });
}

/// as_completed over [a, b, a, c] while three threads complete a, b, c
/// (result, cancel, failure): yields indices 0, 1 and 3 exactly once each,
/// each future done when yielded, then Exhausted (W11, W13).
#[test]
fn as_completed_yields_each_once() {
    check(15000, || {
        let fs: Vec<Future> = (0..3).map(|_| Future::new()).collect();
        let threads: Vec<_> = fs
            .iter()
            .enumerate()
            .map(|(how, f)| {
                let f = f.clone();
                thread::spawn(move || finish(&f, how))
            })
            .collect();
        let input = [&fs[0], &fs[1], &fs[0], &fs[2]];
        let mut it = AsCompleted::new(&input, None);
        let mut seen = Vec::new();
        loop {
            match it.next_done() {
                Ok((i, f)) => {
                    assert!(f.done() && f.ptr_eq(input[i]));
                    seen.push(i);
                }
                Err(end) => {
                    assert_eq!(end, AsCompletedEnd::Exhausted);
                    break;
                }
            }
        }
        seen.sort();
        assert_eq!(seen, [0, 1, 3]);
        for t in threads {
            t.join().unwrap();
        }
    });
}

/// An as_completed dropped after its first future, while the other is
/// being completed, removes its waiter (or finds the future done) without
/// losing the future's other listeners: a callback and a later wait. A
/// wait whose deadline has passed returns at once with what is done (W8).
#[test]
fn removed_waiter_races_completion() {
    check(15000, || {
        let (a, b) = (Future::new(), Future::new());
        let calls = Counter::default();
        let c = calls.clone();
        b.add_done_callback(Box::new(move |_: &Future| c.hit()));
        let (a2, b2) = (a.clone(), b.clone());
        let t = thread::spawn(move || {
            finish(&a2, 0);
            finish(&b2, 1);
        });
        let polled = wait(&[&b], Some(Instant::now()), ReturnWhen::AllCompleted);
        assert_eq!(polled.all_done, polled.done[0]);
        {
            let mut it = AsCompleted::new(&[&a, &b], None);
            let (_, first) = it.next_done().unwrap();
            assert!(first.done());
        }
        let all = wait(&[&a, &b], None, ReturnWhen::AllCompleted);
        assert!(all.all_done);
        t.join().unwrap();
        assert_eq!(calls.get(), 1);
    });
}
