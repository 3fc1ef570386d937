//! The thread pool's hand-off (T2, T4, T8, E3-E6): submit, the idle
//! credits, the sleepers' park and wake-up, and shutdown.

use crate::{check, Counter};
use futures::thread_pool::{ThreadPool, ThreadPoolOptions};
use futures::{Executor, Future, State, SubmitClosure};
use shuttle::thread;

fn pool(max_workers: usize) -> ThreadPool {
    ThreadPool::new(ThreadPoolOptions {
        max_workers,
        ..Default::default()
    })
    .unwrap()
}

fn counted(p: &ThreadPool, c: &Counter) -> Future {
    let c = c.clone();
    p.submit_fn(move |_| {
        c.hit();
        0
    })
    .expect("an open pool accepts work")
}

/// After shutdown(wait): each submit was refused and its task never ran,
/// or was accepted and has run exactly once or (with cancel_futures only)
/// was cancelled and never ran (T8, E6).
fn check_outcomes(futures: &[Option<Future>], counts: &[Counter], cancel_futures: bool) {
    for (f, c) in futures.iter().zip(counts) {
        match f {
            None => assert_eq!(c.get(), 0, "a refused task never runs"),
            Some(f) => {
                assert!(f.done(), "shutdown(wait) leaves no accepted item behind");
                let want = if f.cancelled() { 0 } else { 1 };
                assert!(cancel_futures || want == 1);
                assert_eq!(c.get(), want);
            }
        }
    }
}

/// Tasks submitted from two threads to a two-worker pool each run exactly
/// once and their futures finish; the second round finds the workers idle
/// or parked and is run all the same (a parked worker is woken when work is
/// queued: a lost wake-up deadlocks, which fails the check).
#[test]
fn each_task_runs_once_and_parked_workers_wake() {
    check(4000, || {
        let p = std::sync::Arc::new(pool(2));
        let counts: Vec<Counter> = (0..4).map(|_| Counter::default()).collect();
        let (p2, c2) = (p.clone(), counts[3].clone());
        let other = thread::spawn(move || {
            let f = counted(&p2, &c2);
            assert!(f.wait_until(None));
        });
        for c in &counts[..2] {
            let f = counted(&p, c);
            assert!(f.wait_until(None));
            assert_eq!(f.state(), State::Finished);
        }
        let f = counted(&p, &counts[2]);
        other.join().unwrap();
        assert!(f.wait_until(None));
        p.shutdown(true, false).unwrap();
        assert!(counts.iter().all(|c| c.get() == 1), "each task once");
    });
}

/// One worker, tasks submitted one after another, each waited for: the
/// worker parks between them (or is about to) and every submit wakes it.
#[test]
fn single_worker_is_woken_for_each_task() {
    check(6000, || {
        let p = pool(1);
        let c = Counter::default();
        for _ in 0..3 {
            let f = counted(&p, &c);
            assert!(f.wait_until(None));
        }
        p.shutdown(true, false).unwrap();
        assert_eq!(c.get(), 3);
    });
}

/// Submits from one thread race shutdown(wait) from another: every submit
/// is either refused or its task runs exactly once before shutdown returns
/// (T8: accepted work runs first); with cancel_futures, an accepted task
/// either runs once or its future is cancelled and it never runs (E6).
#[test]
fn shutdown_finds_every_queued_item() {
    for cancel_futures in [false, true] {
        check(3000, move || {
            let p = std::sync::Arc::new(pool(2));
            let counts: Vec<Counter> = (0..3).map(|_| Counter::default()).collect();
            let (p2, counts2) = (p.clone(), counts.clone());
            let submitter = thread::spawn(move || {
                counts2
                    .iter()
                    .map(|c| {
                        let c = c.clone();
                        p2.submit_fn(move |_| {
                            c.hit();
                            0
                        })
                        .ok()
                    })
                    .collect::<Vec<_>>()
            });
            p.shutdown(true, cancel_futures).unwrap();
            let futures = submitter.join().unwrap();
            check_outcomes(&futures, &counts, cancel_futures);
        });
    }
}

/// A task submits two more to its own pool (into its worker's deque, the
/// path still counted in the gate) while another thread shuts the pool
/// down: each child is refused and never runs, or is accepted and, by the
/// time shutdown(wait) returns, has run once or (with cancel_futures) was
/// cancelled and never runs (T8, E6).
#[test]
fn worker_submits_race_shutdown() {
    for cancel_futures in [false, true] {
        check(3000, move || {
            let p = std::sync::Arc::new(pool(2));
            let counts: Vec<Counter> = (0..2).map(|_| Counter::default()).collect();
            let children = std::sync::Arc::new(shuttle::sync::Mutex::new(Vec::new()));
            let (p2, counts2, children2) = (p.clone(), counts.clone(), children.clone());
            let parent = p
                .submit_fn(move |_| {
                    for c in &counts2 {
                        let c = c.clone();
                        let f = p2
                            .submit_fn(move |_| {
                                c.hit();
                                0
                            })
                            .ok();
                        children2.lock().unwrap().push(f);
                    }
                    0
                })
                .expect("an open pool accepts work");
            p.shutdown(true, cancel_futures).unwrap();
            assert!(
                parent.done(),
                "accepted work runs before shutdown(wait) returns"
            );
            let children = std::mem::take(&mut *children.lock().unwrap());
            assert!(parent.cancelled() || children.len() == 2);
            check_outcomes(&children, &counts, cancel_futures);
        });
    }
}

/// A worker completes its task's future without the future's lock when
/// nobody has heard of it (no listener, no blocked reader). A callback
/// added and a reader blocking meanwhile are never lost: the callback runs
/// exactly once, on a done future, and the reader wakes (F7, F12, W3).
#[test]
fn unheard_completion_races_listeners() {
    check(5000, || {
        let p = pool(1);
        let f = p.submit_fn(|_| 0).expect("an open pool accepts work");
        let ran = Counter::default();
        let (f2, r) = (f.clone(), ran.clone());
        let adder = thread::spawn(move || {
            f2.add_done_callback(Box::new(move |f: &Future| {
                assert!(f.done());
                r.hit();
            }));
        });
        let f3 = f.clone();
        let reader = thread::spawn(move || assert!(f3.wait_until(None)));
        adder.join().unwrap();
        reader.join().unwrap();
        // A callback registered in time runs on the worker after the
        // readers wake: the join waits for it.
        p.shutdown(true, false).unwrap();
        assert_eq!(f.state(), State::Finished);
        assert_eq!(ran.get(), 1, "the callback runs exactly once");
    });
}
