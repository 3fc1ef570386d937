//! The Rust API of the core without `unsafe`: futures (F), wait and
//! as_completed (W), and a thread pool running Rust closures (E, T). If any
//! of this needed an `unsafe` block, this crate would not compile.
#![forbid(unsafe_code)]

use futures::thread_pool::{ThreadPool, ThreadPoolOptions};
use futures::{
    wait, AsCompleted, AsCompletedEnd, ErrorRecord, Executor, Future, ReturnWhen, State, Status,
    SubmitClosure, Value,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(30);

fn soon() -> Option<Instant> {
    Some(Instant::now() + LONG)
}

fn pool(workers: usize) -> ThreadPool {
    ThreadPool::new(ThreadPoolOptions {
        max_workers: workers,
        thread_name_prefix: Some("safe-api".into()),
        initializer: None,
        ..Default::default()
    })
    .expect("a thread pool")
}

/// F1, F7, F8: a promise completed with owned bytes.
#[test]
fn a_promise_holds_its_value() {
    let f = Future::new();
    assert_eq!(f.state(), State::Pending);
    assert!(f.set_result(Value::from_bytes(b"hello")).is_ok());
    assert!(f.done());
    let (_, len) = f.result(None).expect("a value");
    assert_eq!(len, 5);
    assert!(
        f.set_result(Value::empty()).is_err(),
        "F7: the first outcome wins; the refused value comes back"
    );
}

/// F7, F9: a failure carries its kind, code and message.
#[test]
fn a_promise_holds_its_failure() {
    let f = Future::new();
    let e = ErrorRecord::new(Status::TaskFailed, 42, "no luck");
    assert!(f.set_exception(e).is_ok());
    assert!(f.failed());
    assert_eq!(f.result(None), Err(Status::TaskFailed));
    let e = f.exception(None).expect("done").expect("a failure");
    assert_eq!(e.code, 42);
    assert_eq!(e.message.to_str(), Ok("no luck"));
}

/// F4, F12, F14: cancelling runs the callbacks once, in order; a callback
/// added afterwards runs at once.
#[test]
fn cancel_runs_callbacks_in_order() {
    let f = Future::new();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    for i in 0..3 {
        let o = Arc::clone(&order);
        f.add_done_callback(Box::new(move |g| {
            assert!(g.cancelled());
            o.lock().unwrap().push(i);
        }));
    }
    assert!(f.cancel());
    assert!(f.cancel(), "F4: cancelling again answers true");
    let o = Arc::clone(&order);
    f.add_done_callback(Box::new(move |_| o.lock().unwrap().push(3)));
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    assert_eq!(f.result(None), Err(Status::Cancelled));
}

/// W4-W8: wait for the first completed, then for all; a timeout is not an
/// error.
#[test]
fn wait_reports_which_are_done() {
    let fs: Vec<Future> = (0..4).map(|_| Future::new()).collect();
    let refs: Vec<&Future> = fs.iter().collect();
    let out = wait(&refs, Some(Instant::now()), ReturnWhen::FirstCompleted);
    assert_eq!(out.n_done, 0, "W8: timed out, nothing done");
    assert!(fs[2].set_result(Value::empty()).is_ok());
    let out = wait(&refs, soon(), ReturnWhen::FirstCompleted);
    assert_eq!(out.done, vec![false, false, true, false]);
    let producer = {
        let fs: Vec<Future> = fs.to_vec();
        std::thread::spawn(move || {
            for (i, f) in fs.iter().enumerate() {
                if i != 2 {
                    f.set_result(Value::empty()).ok();
                }
            }
        })
    };
    let out = wait(&refs, soon(), ReturnWhen::AllCompleted);
    assert!(out.all_done);
    assert_eq!(out.n_done, 4);
    producer.join().unwrap();
}

/// W11-W14: as_completed yields done futures first, then in completion
/// order, each once.
#[test]
fn as_completed_yields_in_completion_order() {
    let fs: Vec<Future> = (0..3).map(|_| Future::new()).collect();
    fs[1].set_result(Value::empty()).ok();
    let refs: Vec<&Future> = fs.iter().collect();
    let mut it = AsCompleted::new(&refs, soon());
    let (i, _) = it.next_done().expect("the done one");
    assert_eq!(i, 1);
    fs[2].cancel();
    let (i, f) = it.next_done().expect("the cancelled one");
    assert_eq!(i, 2);
    assert!(f.cancelled());
    fs[0]
        .set_exception(ErrorRecord::new(Status::TaskFailed, 1, "x"))
        .ok();
    assert_eq!(it.next_done().map(|(i, _)| i), Ok(0));
    assert_eq!(it.next_done().err(), Some(AsCompletedEnd::Exhausted));
}

/// E1, T2: closures run on the pool's threads; their values and failures
/// come back through their futures.
#[test]
fn a_thread_pool_runs_closures() {
    let p = pool(2);
    let ok = p
        .submit_fn(|ctx| {
            ctx.set_result(Value::from_bytes(b"abc"));
            0
        })
        .expect("accepted");
    let failed = p.submit_fn(|_| 7).expect("accepted");
    let panicked = p
        .submit_fn(|_| panic!("a panicking task (expected by the test)"))
        .expect("accepted");
    assert_eq!(ok.result(soon()).map(|(_, n)| n), Ok(3));
    assert_eq!(failed.result(soon()), Err(Status::TaskFailed));
    assert_eq!(failed.exception(None).unwrap().unwrap().code, 7);
    assert_eq!(panicked.result(soon()), Err(Status::TaskFailed));
    p.shutdown(true, false).expect("shut down");
    assert_eq!(
        p.submit_fn(|_| 0).err(),
        Some(Status::Shutdown),
        "E3: refused after shutdown"
    );
}

/// E4, X9: a queued closure is cancelled and never runs (its closure is
/// dropped); a running one sees the cancel request.
#[test]
fn cancelled_closures_do_not_run() {
    let p = pool(1);
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let running = p
        .submit_fn(move |ctx| {
            started_tx.send(()).unwrap();
            go_rx.recv_timeout(LONG).unwrap();
            if ctx.cancel_requested() {
                Status::Cancelled as i32
            } else {
                0
            }
        })
        .expect("accepted");
    started_rx
        .recv_timeout(LONG)
        .expect("the first task started");
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    let queued = p
        .submit_fn(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            0
        })
        .expect("accepted");
    assert!(queued.cancel(), "E4: a queued task can be cancelled");
    assert!(
        !running.cancel(),
        "a running one cannot, but is asked to stop"
    );
    go_tx.send(()).unwrap();
    assert_eq!(running.result(soon()), Err(Status::Cancelled));
    assert_eq!(queued.result(None), Err(Status::Cancelled));
    p.shutdown(true, false).expect("shut down");
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(
        Arc::strong_count(&ran),
        1,
        "the cancelled closure was dropped"
    );
}
