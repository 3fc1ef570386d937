use super::*;
use crate::executor::Arg;
use crate::executor::{Executor, Task};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicI32};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pool(max_workers: usize) -> ThreadPool {
    ThreadPool::new(ThreadPoolOptions {
        max_workers,
        ..Default::default()
    })
    .unwrap()
}

unsafe extern "C" fn noop(_t: *mut c_void, _a: *const c_void, _n: usize) -> i32 {
    0
}

unsafe extern "C" fn fail7(_t: *mut c_void, _a: *const c_void, _n: usize) -> i32 {
    7
}

/// Blocks until the gate behind `arg` (an `AtomicBool`) opens.
unsafe extern "C" fn block_on(_t: *mut c_void, a: *const c_void, _n: usize) -> i32 {
    // SAFETY: the tests pass a pointer to a live AtomicBool.
    let gate = unsafe { &*(a as *const AtomicBool) };
    let end = Instant::now() + Duration::from_secs(30);
    while !gate.load(Ordering::Acquire) && Instant::now() < end {
        std::thread::yield_now();
    }
    0
}

static DROPS: AtomicI32 = AtomicI32::new(0);
unsafe extern "C" fn count_drop(_p: *mut c_void) {
    DROPS.fetch_add(1, Ordering::SeqCst);
}

fn task(f: crate::executor::TaskFn, arg: *const c_void) -> Task {
    Task {
        func: f,
        arg: Arg::new(arg, 0, None),
    }
}

fn deadline() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(30))
}

#[test]
fn names_keep_the_index() {
    assert_eq!(thread_name("futpool-0", 3), "futpool-0_3");
    assert_eq!(thread_name("averyverylongprefix", 12), "averyverylon_12");
    assert_eq!(thread_name("", 0), "_0");
    // "é" is two bytes: never cut inside it.
    assert_eq!(thread_name("abcdefghijklé", 1), "abcdefghijkl_1");
    assert!(thread_name("x", 1023).len() <= 15);
}

#[test]
fn default_size() {
    let d = default_max_workers();
    assert!((5..=32).contains(&d));
}

#[test]
fn max_workers_limits() {
    assert!(ThreadPool::new(ThreadPoolOptions {
        max_workers: MAX_WORKERS_LIMIT + 1,
        ..Default::default()
    })
    .is_err());
    assert_eq!(pool(0).max_workers(), default_max_workers());
    assert_eq!(pool(MAX_WORKERS_LIMIT).max_workers(), MAX_WORKERS_LIMIT);
}

#[test]
fn sequential_rounds_reuse_one_thread() {
    // T3
    let p = pool(4);
    for _ in 0..200 {
        let f = p.submit(task(noop, std::ptr::null())).ok().unwrap();
        assert!(f.result(deadline()).is_ok());
    }
    assert_eq!(p.threads_started(), 1);
    p.shutdown(true, false).unwrap();
}

#[test]
fn burst_starts_max_workers() {
    // T3: a burst of blocking tasks creates exactly max_workers threads.
    let p = pool(3);
    let gate = AtomicBool::new(false);
    let fs: Vec<_> = (0..10)
        .map(|_| {
            p.submit(task(block_on, &gate as *const _ as *const c_void))
                .ok()
                .unwrap()
        })
        .collect();
    assert_eq!(p.threads_started(), 3);
    gate.store(true, Ordering::Release);
    for f in &fs {
        assert!(f.result(deadline()).is_ok());
    }
    p.shutdown(true, false).unwrap();
    assert_eq!(p.threads_started(), 3);
}

#[test]
fn errors_and_refusals() {
    let p = pool(2);
    let f = p.submit(task(fail7, std::ptr::null())).ok().unwrap();
    assert_eq!(f.result(deadline()), Err(Status::TaskFailed));
    // B8: a task error does not break the pool.
    let g = p.submit(task(noop, std::ptr::null())).ok().unwrap();
    assert!(g.result(deadline()).is_ok());
    p.shutdown(true, false).unwrap();
    p.shutdown(true, true).unwrap(); // E3: idempotent
    let before = DROPS.load(Ordering::SeqCst);
    let refused = p
        .submit(Task {
            func: noop,
            arg: Arg::new(std::ptr::null(), 0, Some(count_drop)),
        })
        .err()
        .unwrap();
    assert_eq!(refused.status, Status::Shutdown);
    refused.task.arg.disown();
    assert_eq!(DROPS.load(Ordering::SeqCst), before);
}

#[test]
fn cancel_futures_cancels_the_queue() {
    // E6/T9
    let p = pool(1);
    let gate = AtomicBool::new(false);
    let first = p
        .submit(task(block_on, &gate as *const _ as *const c_void))
        .ok()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while !first.running() && Instant::now() < end {
        std::thread::yield_now();
    }
    assert!(first.running());
    let queued: Vec<_> = (0..5)
        .map(|_| p.submit(task(noop, std::ptr::null())).ok().unwrap())
        .collect();
    p.shutdown(false, true).unwrap();
    for f in &queued {
        assert!(f.cancelled());
    }
    gate.store(true, Ordering::Release);
    p.shutdown(true, false).unwrap();
    assert!(first.result(deadline()).is_ok());
}

unsafe extern "C" fn init_fails(_a: *const c_void, _n: usize) -> i32 {
    3
}

#[test]
fn initializer_failure_breaks_the_pool() {
    // T7
    let p = ThreadPool::new(ThreadPoolOptions {
        max_workers: 1,
        // SAFETY: length 0: the (NULL) pointer is passed through, never read.
        initializer: Some(unsafe { Initializer::new(init_fails, std::ptr::null(), 0) }.unwrap()),
        ..Default::default()
    })
    .unwrap();
    let mut fs = Vec::new();
    let mut refused = 0;
    for _ in 0..5 {
        match p.submit(task(noop, std::ptr::null())) {
            Ok(f) => fs.push(f),
            Err(r) => {
                assert_eq!(r.status, Status::BrokenPool);
                refused += 1;
            }
        }
    }
    assert!(!fs.is_empty() || refused == 5);
    for f in &fs {
        assert_eq!(f.result(deadline()), Err(Status::BrokenPool));
        let rec = f.exception(deadline()).unwrap().unwrap();
        assert!(rec
            .message
            .to_str()
            .unwrap()
            .contains("initializer returned 3"));
    }
    let r = p.submit(task(noop, std::ptr::null())).err().unwrap();
    assert_eq!(r.status, Status::BrokenPool);
    p.shutdown(true, false).unwrap();
}

/// Submits a child (depth - 1) to the pool in `arg` and waits for it.
unsafe extern "C" fn nested(_t: *mut c_void, a: *const c_void, n: usize) -> i32 {
    if n == 0 {
        return 0;
    }
    // SAFETY: the test passes a pointer to a live ThreadPool.
    let p = unsafe { &*(a as *const ThreadPool) };
    let child = Task {
        func: nested,
        arg: Arg::new(a, n - 1, None),
    };
    match p.submit(child) {
        Ok(f) => match f.result(deadline()) {
            Ok(_) => 0,
            Err(_) => 2,
        },
        Err(r) => {
            r.task.arg.disown();
            1
        }
    }
}

#[test]
fn tasks_waiting_on_children_grow_the_pool() {
    // T2: while every worker waits, a submit starts a thread; a thread
    // that found the queue empty before its first item is not idle.
    for _ in 0..50 {
        let p = pool(5);
        let f = p
            .submit(Task {
                func: nested,
                arg: Arg::new(&p as *const ThreadPool as *const c_void, 4, None),
            })
            .ok()
            .unwrap();
        assert!(f.result(deadline()).is_ok());
        assert_eq!(p.threads_started(), 5);
        p.shutdown(true, false).unwrap();
    }
}

#[test]
fn concurrent_shutdowns_all_wait() {
    let p = Arc::new(pool(4));
    let gate = AtomicBool::new(false);
    for _ in 0..4 {
        let _ = p.submit(task(block_on, &gate as *const _ as *const c_void));
    }
    let done = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let p = Arc::clone(&p);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                p.shutdown(true, false).unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    gate.store(true, Ordering::Release);
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 3);
    assert_eq!(p.inner.threads.lock().unjoined, 0);
    assert!(p.inner.threads.lock().handles.is_empty());
}
