//! The future's state machine (F1, F4, F6, F7, F12): completion, cancel and
//! start racing, with callbacks and blocked readers.

use crate::{check, Counter};
use futures::{ErrorRecord, Future, State, Status, Value};
use shuttle::thread;

fn value_of(f: &Future) -> Option<u8> {
    let (p, n) = f.result(None).ok()?;
    assert_eq!(n, 1);
    // SAFETY: a finished future's value stays valid while `f` is held; it
    // is the one byte stored below.
    Some(unsafe { *(p as *const u8) })
}

/// set_result, set_exception and cancel race on a PENDING future while a
/// reader blocks and a callback is added: exactly one of the three wins,
/// the others are refused; each callback runs exactly once, after the
/// future is done; the reader wakes and reads the winner's outcome.
#[test]
fn completion_cancel_race_has_one_winner() {
    check(15000, || {
        let f = Future::new();
        let early = Counter::default();
        let e = early.clone();
        f.add_done_callback(Box::new(move |f: &Future| {
            assert!(f.done());
            e.hit();
        }));
        let (f1, f2, f3, f4) = (f.clone(), f.clone(), f.clone(), f.clone());
        let setter = thread::spawn(move || f1.set_result(Value::from_bytes(&[7])).is_ok());
        let failer = thread::spawn(move || {
            f2.set_exception(ErrorRecord::new(Status::TaskFailed, 5, "x"))
                .is_ok()
        });
        let canceller = thread::spawn(move || f3.cancel());
        let reader = thread::spawn(move || {
            assert!(f4.wait_until(None));
            (f4.state(), value_of(&f4))
        });
        let late = Counter::default();
        let l = late.clone();
        f.add_done_callback(Box::new(move |f: &Future| {
            assert!(f.done());
            l.hit();
        }));
        let set = setter.join().unwrap();
        let failed = failer.join().unwrap();
        let cancelled = canceller.join().unwrap();
        let (seen, value) = reader.join().unwrap();
        assert_eq!(set as u8 + failed as u8 + cancelled as u8, 1, "one winner");
        assert_eq!((early.get(), late.get()), (1, 1), "callbacks once");
        assert_eq!(seen, f.state(), "the reader saw the final state");
        match f.state() {
            State::Finished if set => assert_eq!(value, Some(7)),
            State::Finished => {
                assert!(failed && f.failed());
                assert_eq!(f.result(None).unwrap_err(), Status::TaskFailed);
            }
            s => {
                assert!(cancelled && s == State::Cancelled);
                assert_eq!(f.result(None).unwrap_err(), Status::Cancelled);
            }
        }
    });
}

/// An executor's start (set_running_or_notify_cancel, then the task's
/// outcome) races a cancel: either the task runs and the cancel is refused
/// (recording a cooperative request), or the cancel wins and the start
/// answers "skip" (F6); never both, never neither. Callbacks run once.
#[test]
fn start_and_cancel_race() {
    check(15000, || {
        let f = Future::for_executor();
        let calls = Counter::default();
        let c = calls.clone();
        f.add_done_callback(Box::new(move |_: &Future| c.hit()));
        let (w, k) = (f.clone(), f.clone());
        let worker = thread::spawn(move || match w.set_running_or_notify_cancel() {
            Ok(true) => {
                assert!(w.set_result(Value::from_bytes(&[1])).is_ok());
                true
            }
            Ok(false) => false,
            Err(s) => panic!("start refused: {s:?}"),
        });
        let canceller = thread::spawn(move || (k.cancel(), k.cancel_requested()));
        let reader = f.clone();
        assert!(reader.wait_until(None));
        let ran = worker.join().unwrap();
        let (cancelled, requested) = canceller.join().unwrap();
        assert_ne!(ran, cancelled, "exactly one of run and cancel");
        if ran {
            assert_eq!(f.state(), State::Finished);
            assert_eq!(value_of(&f), Some(1));
        } else {
            assert!(!requested);
            assert_eq!(f.state(), State::CancelledAndNotified);
        }
        assert_eq!(calls.get(), 1, "callback once");
    });
}

/// A running task that honours a cancel request ends CANCELLED, else it
/// finishes; a cancel of a running future is refused (X9). Dropping the
/// last references to a pending future from two threads at once cancels
/// it once, running its callback once.
#[test]
fn abandon_and_cooperative_cancel() {
    check(10000, || {
        let f = Future::for_executor();
        assert_eq!(f.set_running_or_notify_cancel(), Ok(true));
        let k = f.clone();
        let canceller = thread::spawn(move || k.cancel());
        let w = f.clone();
        let worker = thread::spawn(move || {
            if w.cancel_requested() {
                assert!(w.set_cancelled_while_running());
                false
            } else {
                w.set_result(Value::from_bytes(&[2])).is_ok()
            }
        });
        assert!(
            !canceller.join().unwrap(),
            "a running future is not cancelled"
        );
        let set = worker.join().unwrap();
        assert!(f.done());
        assert_eq!(set, f.state() == State::Finished);

        // Two threads drop the last two references to a PENDING future:
        // whichever is last cancels it, and its callback runs once.
        let g = Future::new();
        let calls = Counter::default();
        let c = calls.clone();
        g.add_done_callback(Box::new(move |g: &Future| {
            assert!(g.cancelled());
            c.hit();
        }));
        let h = g.clone();
        let dropper = thread::spawn(move || drop(h));
        drop(g);
        dropper.join().unwrap();
        assert_eq!(calls.get(), 1, "callback once, whoever let go last");
    });
}
