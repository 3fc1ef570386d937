//! Unit tests of the future's state machine (F1-F19).

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

fn failure() -> ErrorRecord {
    ErrorRecord::new(Status::TaskFailed, 0, "")
}

#[test]
fn transitions_follow_f1() {
    let f = Future::new();
    assert_eq!(f.state(), State::Pending);
    assert_eq!(f.set_running_or_notify_cancel(), Ok(true));
    assert!(f.running());
    assert!(!f.cancel(), "F4: running cannot be cancelled");
    assert!(f.cancel_requested(), "X9: but the task is asked to stop");
    assert!(f.set_result(Value::empty()).is_ok());
    assert_eq!(f.state(), State::Finished);
    assert!(
        f.set_exception(failure()).is_err(),
        "F7: first outcome wins"
    );
    assert_eq!(
        f.result(Some(Instant::now())),
        Ok((std::ptr::null_mut(), 0))
    );
}

#[test]
fn cancelled_then_notified_looks_cancelled() {
    let f = Future::new();
    assert!(f.cancel());
    assert!(f.cancel(), "F4: cancelling again answers true");
    assert_eq!(f.set_running_or_notify_cancel(), Ok(false));
    assert_eq!(f.state(), State::CancelledAndNotified);
    assert!(f.cancelled() && f.done());
    assert_eq!(
        f.set_running_or_notify_cancel(),
        Err(Status::InvalidState),
        "F6: any other state is an executor bug"
    );
    assert_eq!(f.result(None), Err(Status::Cancelled));
}

#[test]
fn failure_with_code_zero_and_empty_message_is_a_failure() {
    let f = Future::new();
    assert!(f.set_exception(failure()).is_ok());
    assert!(f.failed());
    assert_eq!(f.result(None), Err(Status::TaskFailed));
    let e = f.exception(None).unwrap().expect("a record");
    assert_eq!(e.code, 0);
}

#[test]
fn refused_value_is_given_back_not_dropped() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    unsafe extern "C" fn count(_: *mut c_void) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
    let f = Future::new();
    assert!(f
        .set_result(Value::new(std::ptr::null_mut(), 1, Some(count)))
        .is_ok());
    let refused = f
        .set_result(Value::new(std::ptr::null_mut(), 2, Some(count)))
        .expect_err("done");
    let _ = refused.into_raw();
    assert_eq!(DROPS.load(Ordering::SeqCst), 0);
    drop(f);
    assert_eq!(
        DROPS.load(Ordering::SeqCst),
        1,
        "accepted value dropped once"
    );
}

#[test]
fn timeout_leaves_the_future_pending() {
    let f = Future::new();
    assert_eq!(f.result(Some(Instant::now())), Err(Status::Timeout));
    assert_eq!(f.state(), State::Pending);
}

#[test]
fn callbacks_run_once_in_order_and_at_once_when_done() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let f = Future::new();
    for i in 0..3 {
        let o = Arc::clone(&order);
        f.add_done_callback(Box::new(move |_| o.lock().push(i)));
    }
    assert!(order.lock().is_empty());
    f.set_result(Value::empty()).ok();
    assert_eq!(*order.lock(), vec![0, 1, 2]);
    let o = Arc::clone(&order);
    f.add_done_callback(Box::new(move |_| o.lock().push(3)));
    assert_eq!(*order.lock(), vec![0, 1, 2, 3], "F14: runs at once");
    f.cancel();
    assert_eq!(order.lock().len(), 4, "never again");
}

#[test]
fn a_panicking_callback_does_not_stop_the_others() {
    let ran = Arc::new(AtomicUsize::new(0));
    let f = Future::new();
    f.add_done_callback(Box::new(|_| panic!("callback failure (expected by test)")));
    let r = Arc::clone(&ran);
    f.add_done_callback(Box::new(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    }));
    f.set_result(Value::empty()).ok();
    assert_eq!(ran.load(Ordering::SeqCst), 1, "F15");
}

#[test]
fn last_release_of_a_pending_future_cancels_it() {
    let seen = Arc::new(Mutex::new(None));
    let f = Future::new();
    let s = Arc::clone(&seen);
    f.add_done_callback(Box::new(move |f| *s.lock() = Some(f.cancelled())));
    drop(f);
    assert_eq!(*seen.lock(), Some(true));
}

#[test]
fn a_callback_may_keep_the_future_it_was_released_with() {
    let kept = Arc::new(Mutex::new(None));
    let f = Future::new();
    let k = Arc::clone(&kept);
    f.add_done_callback(Box::new(move |f| *k.lock() = Some(f.clone())));
    drop(f);
    let f = kept.lock().take().expect("retained by the callback");
    assert!(f.cancelled());
}

#[test]
fn a_blocked_reader_is_woken_by_another_thread() {
    let f = Future::new();
    let g = f.clone();
    let t = std::thread::spawn(move || g.result(None).map(|(_, n)| n));
    f.set_result(Value::new(std::ptr::null_mut(), 42, None))
        .ok();
    assert_eq!(t.join().unwrap(), Ok(42));
}

#[test]
fn display_names_the_state() {
    let f = Future::new();
    assert!(f.to_string().contains("state=pending"));
    f.set_exception(failure()).ok();
    assert!(f
        .to_string()
        .contains("finished raised FUT_ERR_TASK_FAILED"));
}

#[test]
fn racing_releases_of_the_last_handle_cancel_once_and_refuse_the_rest() {
    static CALLBACKS: AtomicUsize = AtomicUsize::new(0);
    // Fewer under miri, which interprets every step (the race is the same).
    const N: usize = if cfg!(miri) { 50 } else { 2_000 };
    let handles: Vec<usize> = (0..N)
        .map(|_| {
            let f = Future::new();
            f.add_done_callback(Box::new(|f| {
                assert!(f.cancelled());
                CALLBACKS.fetch_add(1, Ordering::SeqCst);
            }));
            f.into_raw() as usize
        })
        .collect();
    let accepted = AtomicUsize::new(0);
    let barrier = std::sync::Barrier::new(3);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                barrier.wait();
                for &h in &handles {
                    if Future::release_raw(h as *const c_void) {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    assert_eq!(accepted.load(Ordering::SeqCst), N, "one release per handle");
    assert_eq!(CALLBACKS.load(Ordering::SeqCst), N, "each cancelled once");
    for &h in &handles {
        assert!(Future::borrow_raw(h as *const c_void).is_none(), "freed");
    }
}

mod layout {
    #[test]
    fn executor_futures_are_marked() {
        assert!(super::Future::for_executor().executor_owned());
        assert!(super::Future::with_spin_on_wait(true).executor_owned());
        assert!(!super::Future::new().executor_owned());
    }

    /// B-M1 and the thread pool's throughput both depend on a future and its
    /// slot header filling exactly one cache line.
    #[test]
    fn a_future_fills_one_cache_line() {
        assert_eq!(
            std::mem::size_of::<crate::handle::Slot<super::FutureCore>>(),
            64
        );
    }
}
