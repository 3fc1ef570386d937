//! The lazy map's bookkeeping (L3 window, L4 order, L5 errors, L6 labels)
//! on a thread pool, with a Rust producer.

use super::*;
use crate::thread_pool::{ThreadPool, ThreadPoolOptions};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

unsafe extern "C" fn noop(_t: *mut c_void, _a: *const c_void, _n: usize) -> i32 {
    0
}

unsafe extern "C" fn fail_on_2(_t: *mut c_void, a: *const c_void, _n: usize) -> i32 {
    // The producer below passes the input's index as the pointer, 0 bytes.
    if a as usize == 2 {
        7
    } else {
        0
    }
}

/// Hands out `n` inputs (the index as a 0-byte pointer), then `end`; checks
/// that no more than `limit` are taken and not yet handed out.
struct Counting {
    n: usize,
    limit: usize,
    /// The producer's error code after the inputs, or None for their end.
    error: Option<i32>,
    produced: Arc<AtomicUsize>,
    consumed: Arc<AtomicUsize>,
}

// SAFETY: every item is 0 bytes, which any task accepts.
unsafe impl Producer for Counting {
    fn produce(&mut self) -> Produced {
        let k = self.produced.load(Ordering::SeqCst);
        if k == self.n {
            return self.error.map_or(Produced::End, Produced::Error);
        }
        self.produced.fetch_add(1, Ordering::SeqCst);
        let in_flight = k + 1 - self.consumed.load(Ordering::SeqCst);
        assert!(
            in_flight <= self.limit,
            "{in_flight} in flight, window {}",
            self.limit
        );
        Produced::Item {
            arg: (k + 1) as *const c_void, // index + 1: never NULL
            len: 0,
            drop: None,
        }
    }
}

fn imap(
    func: TaskFn,
    n: usize,
    window: usize,
    chunksize: usize,
    error: Option<i32>,
) -> (Map, Arc<AtomicUsize>) {
    let pool: Arc<dyn Executor> = Arc::new(
        ThreadPool::new(ThreadPoolOptions {
            max_workers: 2,
            ..Default::default()
        })
        .unwrap(),
    );
    let consumed = Arc::new(AtomicUsize::new(0));
    let producer = Counting {
        n,
        limit: window * chunksize,
        error,
        produced: Arc::new(AtomicUsize::new(0)),
        consumed: Arc::clone(&consumed),
    };
    let lazy = Lazy {
        executor: pool,
        func,
        producer: Box::new(producer),
        window,
        chunksize,
        unordered: false,
    };
    (Map::lazy(lazy).unwrap(), consumed)
}

const LONG: Duration = Duration::from_secs(30);

#[test]
fn the_window_holds_and_the_order_is_kept() {
    let (mut m, consumed) = imap(noop, 1000, 3, 5, None);
    for i in 0..1000u64 {
        let (f, index) = m.next(Some(Instant::now() + LONG)).unwrap();
        assert_eq!(index, i);
        assert!(f.done() && !f.failed());
        consumed.fetch_add(1, Ordering::SeqCst);
    }
    assert_eq!(m.next(None).unwrap_err(), MapEnd::Exhausted);
}

#[test]
fn errors_are_at_their_input_and_name_it() {
    // Inputs are passed as index + 1: the task fails on the one it sees as 2.
    let (mut m, consumed) = imap(fail_on_2, 4, 2, 1, Some(99));
    for i in 0..5u64 {
        let (f, index) = m.next(Some(Instant::now() + LONG)).unwrap();
        assert_eq!(index, i);
        consumed.fetch_add(1, Ordering::SeqCst);
        let e = f.exception(None).unwrap();
        match i {
            1 => {
                let e = e.expect("input 1 failed");
                assert_eq!((e.kind, e.code), (Status::TaskFailed, 7));
                assert_eq!(e.detail.as_deref().unwrap().to_str().unwrap(), "input 1");
            }
            4 => {
                let e = e.expect("the producer's error");
                assert_eq!(e.code, 99);
                let detail = e.detail.as_deref().unwrap().to_str().unwrap();
                assert!(detail.starts_with("input 4:"), "{detail}");
            }
            _ => assert!(e.is_none(), "input {i}"),
        }
    }
    assert_eq!(m.next(None).unwrap_err(), MapEnd::Exhausted);
}

#[test]
fn labels_match_whole_numbers() {
    let f = Future::new();
    let _ =
        f.set_exception(ErrorRecord::new(Status::TaskFailed, 1, "x").with_detail("input 12: y"));
    // Input 1 is not input 12: its label is added in front.
    let g = labelled(f, 1);
    let e = g.exception(None).unwrap().unwrap();
    assert_eq!(
        e.detail.as_deref().unwrap().to_str().unwrap(),
        "input 1: input 12: y"
    );
}
