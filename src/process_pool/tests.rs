//! Process-pool paths that the C tests do not reach on purpose: calls
//! re-encoded from part of their frame (items cancelled before dispatch, a
//! chunk requeued after its worker died), results published before a crash,
//! values of every size class, values larger than the result ring.

use super::*;
use crate::executor::{Item, TaskContext};
use crate::future::Value;
use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Instant;

const LONG: Duration = Duration::from_secs(60);

/// Sets the argument as the result (the pool copies it out).
unsafe extern "C" fn echo(task: *mut c_void, arg: *const c_void, len: usize) -> i32 {
    // `task` is a task token: the context is reached through it, checked.
    let set = crate::executor::with_current_task(task, |ctx: &mut TaskContext<'_>| {
        ctx.set_result(Value::new(arg as *mut c_void, len, None))
    });
    if set.is_some() {
        0
    } else {
        Status::Internal as i32
    }
}

/// Like `echo`, but the worker exits with status 7 on an argument whose
/// first byte is 0xff.
unsafe extern "C" fn echo_or_die(task: *mut c_void, arg: *const c_void, len: usize) -> i32 {
    // SAFETY: `arg` holds `len` bytes.
    if len > 0 && unsafe { *(arg as *const u8) } == 0xff {
        // SAFETY: ends the worker process, as the test wants.
        unsafe { libc::_exit(7) };
    }
    // SAFETY: forwarded.
    unsafe { echo(task, arg, len) }
}

/// The read end of the gate of `gated` (inherited by the workers).
static GATE: AtomicI32 = AtomicI32::new(-1);

/// Waits for one byte on the gate, then succeeds with no value.
unsafe extern "C" fn gated(_task: *mut c_void, _arg: *const c_void, _len: usize) -> i32 {
    let mut b = 0u8;
    // SAFETY: reads one byte into a live buffer.
    let n = unsafe {
        libc::read(
            GATE.load(Ordering::SeqCst),
            &mut b as *mut u8 as *mut c_void,
            1,
        )
    };
    if n == 1 {
        0
    } else {
        1
    }
}

fn pool(method: StartMethod, policy: CrashPolicy) -> ProcessPool {
    ProcessPool::new(Config {
        max_workers: 1,
        start_method: method,
        on_worker_crash: policy,
        ..Config::default()
    })
    .unwrap()
}

fn items(args: &[Vec<u8>]) -> Vec<Item> {
    args.iter()
        .map(|a| Item {
            arg: a.as_ptr() as *const c_void,
            arg_len: a.len(),
        })
        .collect()
}

fn deadline() -> Option<Instant> {
    Some(Instant::now() + LONG)
}

fn value_of(f: &Future) -> Vec<u8> {
    let (p, len) = f.result(deadline()).expect("a value");
    if len == 0 {
        return Vec::new();
    }
    // SAFETY: the future keeps its value alive while we hold it.
    unsafe { std::slice::from_raw_parts(p as *const u8, len) }.to_vec()
}

fn failure_of(f: &Future) -> Status {
    f.exception(deadline())
        .expect("done, not cancelled")
        .expect("a failure")
        .kind
}

#[test]
fn items_cancelled_before_dispatch_leave_a_partial_chunk() {
    let (r, w) = sys::pipe().unwrap();
    GATE.store(r, Ordering::SeqCst);
    let ex = pool(StartMethod::Fork, CrashPolicy::BreakPool);
    let gate = ex
        .submit(Task {
            func: gated,
            arg: crate::executor::Arg::new(std::ptr::null(), 0, None),
        })
        .unwrap_or_else(|_| panic!("submit refused"));
    // The worker is blocked: the first chunk waits RUNNING in the manager,
    // the other four stay PENDING and can be cancelled.
    let args: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 3 + i as usize]).collect();
    let fs = ex.submit_many(echo, &items(&args), 8).unwrap();
    let cancelled = [9usize, 10, 17, 39];
    for &k in &cancelled {
        assert!(fs[k].cancel(), "item {k} was still pending");
    }
    sys::write_all(w, &[1]).unwrap();
    assert!(gate.result(deadline()).is_ok());
    for (k, f) in fs.iter().enumerate() {
        if cancelled.contains(&k) {
            assert!(f.cancelled());
        } else {
            assert_eq!(value_of(f), args[k], "item {k}");
        }
    }
    ex.shutdown(true, false).unwrap();
    sys::close(r);
    sys::close(w);
}

#[test]
fn fail_task_crash_inside_a_chunk_fails_only_that_item() {
    let ex = pool(StartMethod::ForkServer, CrashPolicy::FailTask);
    let mut args: Vec<Vec<u8>> = (0..16u8).map(|i| vec![i; 5]).collect();
    args[3] = vec![0xff];
    let fs = ex.submit_many(echo_or_die, &items(&args), 8).unwrap();
    for (k, f) in fs.iter().enumerate() {
        if k == 3 {
            assert_eq!(failure_of(f), Status::WorkerDied);
        } else {
            // 0-2 were published before the crash; 4-7 went again, as a
            // call re-encoded from part of the chunk, to the replacement.
            assert_eq!(value_of(f), args[k], "item {k}");
        }
    }
    ex.shutdown(true, false).unwrap();
}

#[test]
fn break_pool_crash_inside_a_chunk_keeps_what_was_published() {
    let ex = pool(StartMethod::Fork, CrashPolicy::BreakPool);
    let mut args: Vec<Vec<u8>> = (0..16u8).map(|i| vec![i; 5]).collect();
    args[3] = vec![0xff];
    let fs = ex.submit_many(echo_or_die, &items(&args), 8).unwrap();
    for (k, f) in fs.iter().enumerate() {
        if k < 3 {
            assert_eq!(value_of(f), args[k], "item {k}");
        } else {
            assert_eq!(failure_of(f), Status::BrokenPool, "item {k}");
        }
    }
    ex.shutdown(true, false).unwrap();
}

#[test]
fn values_of_every_size_come_back_whole() {
    let ex = pool(StartMethod::Fork, CrashPolicy::BreakPool);
    let sizes = [
        0usize,
        1,
        15,
        16,
        17,
        values::MAX_SMALL - 1,
        values::MAX_SMALL,
        values::MAX_SMALL + 1,
        4000,
        70_000,
        ring::RING_BYTES - 1,
        3 * ring::RING_BYTES + 5,
    ];
    let args: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(k, &n)| (0..n).map(|j| (j * 31 + k) as u8).collect())
        .collect();
    // Many small ones in one chunk (several value blocks), then each size.
    let small: Vec<Vec<u8>> = (0..3000u32).map(|i| i.to_ne_bytes().to_vec()).collect();
    let fs = ex.submit_many(echo, &items(&small), 500).unwrap();
    let big = ex.submit_many(echo, &items(&args), 3).unwrap();
    for (k, f) in big.iter().enumerate() {
        assert_eq!(value_of(f), args[k], "size {}", sizes[k]);
    }
    for (k, f) in fs.iter().enumerate() {
        assert_eq!(value_of(f), small[k]);
    }
    ex.shutdown(true, false).unwrap();
}

/// Publishes, through this worker's own result ring (found in
/// /proc/self/maps), a value `RESULT` for a task id that is not running,
/// then succeeds: the manager reads a result for the wrong task.
unsafe extern "C" fn forge_result(_task: *mut c_void, _arg: *const c_void, _len: usize) -> i32 {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 1;
    };
    let Some(base) = maps
        .lines()
        .find(|l| l.contains("libfutures-results"))
        .and_then(|l| l.split('-').next())
        .and_then(|a| usize::from_str_radix(a, 16).ok())
    else {
        return 2;
    };
    let frame = wire::result_value_head(u64::MAX, false, 0);
    // SAFETY: `base` is this worker's ring mapping: `head` (a u64) at its
    // start, the data area one page further; only this process writes
    // either, and the frame fits before the end of the data area (the ring
    // has carried a few dozen bytes so far).
    unsafe {
        let head = &*(base as *const std::sync::atomic::AtomicU64);
        let h = head.load(Ordering::Relaxed);
        let at = (h % ring::RING_BYTES as u64) as usize;
        let data = (base + 4096) as *mut u8;
        std::ptr::copy_nonoverlapping(frame.as_ptr(), data.add(at), frame.len());
        head.store(h + frame.len() as u64, Ordering::SeqCst);
    }
    0
}

#[test]
fn a_result_for_the_wrong_task_fails_the_running_one() {
    // B3/B6: a result the manager cannot match breaks the pool, and the
    // item that was running fails with it instead of being dropped while
    // still RUNNING (its reader would wait forever).
    let ex = pool(StartMethod::ForkServer, CrashPolicy::BreakPool);
    let f = ex
        .submit(Task {
            func: forge_result,
            arg: crate::executor::Arg::new(std::ptr::null(), 0, None),
        })
        .unwrap_or_else(|_| panic!("submit refused"));
    let soon = Some(Instant::now() + Duration::from_secs(20));
    assert!(f.wait_until(soon), "the running item was never completed");
    assert_eq!(failure_of(&f), Status::BrokenPool);
    ex.shutdown(true, false).unwrap();
}

/// The read end of `report_then_wait`'s gate and the write end of its
/// report pipe (inherited by the workers); apart from `GATE`, which other
/// tests running at the same time use.
static FAULT_GATE: AtomicI32 = AtomicI32::new(-1);
static FAULT_REPORT: AtomicI32 = AtomicI32::new(-1);

/// Writes its worker's pid to the report pipe, then waits for one byte on
/// the gate.
unsafe extern "C" fn report_then_wait(_task: *mut c_void, _arg: *const c_void, _len: usize) -> i32 {
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() }.to_ne_bytes();
    if sys::write_all(FAULT_REPORT.load(Ordering::SeqCst), &pid).is_err() {
        return 1;
    }
    let mut b = [0u8; 1];
    match sys::read_exact(FAULT_GATE.load(Ordering::SeqCst), &mut b) {
        Ok(true) => 0,
        _ => 1,
    }
}

/// Reads a pid from `fd`, waiting at most `LONG`.
fn read_pid(fd: i32) -> libc::pid_t {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: polls one live pollfd.
    let r = unsafe { libc::poll(&mut pfd, 1, LONG.as_millis() as i32) };
    assert_eq!(r, 1, "the task never reported");
    let mut b = [0u8; 4];
    assert!(sys::read_exact(fd, &mut b).unwrap());
    libc::pid_t::from_ne_bytes(b)
}

#[test]
fn manager_fault_breaks_the_pool_and_lets_shutdown_return() {
    // A panic in the manager thread (injected: test builds only) breaks
    // the pool with its message, fails every outstanding future (the
    // running one, the ones waiting in the queue), kills and reaps the
    // workers and the fork server, and shutdown returns (B2).
    let (gate_r, gate_w) = sys::pipe().unwrap();
    let (rep_r, rep_w) = sys::pipe().unwrap();
    FAULT_GATE.store(gate_r, Ordering::SeqCst);
    FAULT_REPORT.store(rep_w, Ordering::SeqCst);
    for method in [StartMethod::Fork, StartMethod::ForkServer] {
        let ex = ProcessPool::new(Config {
            max_workers: 1,
            start_method: method,
            on_worker_crash: CrashPolicy::FailTask,
            ..Config::default()
        })
        .unwrap();
        let running = ex
            .submit(Task {
                func: report_then_wait,
                arg: crate::executor::Arg::new(std::ptr::null(), 0, None),
            })
            .unwrap_or_else(|_| panic!("submit refused"));
        let args: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i]).collect();
        let queued = ex.submit_many(echo, &items(&args), 1).unwrap();
        let worker = read_pid(rep_r);
        ex.shared.inject_fault.store(true, Ordering::SeqCst);
        ex.shared.wake();
        for f in std::iter::once(&running).chain(queued.iter()) {
            let e = f.exception(deadline()).expect("done").expect("failed");
            assert_eq!(e.kind, Status::BrokenPool);
            let detail = e.detail.clone().expect("a detail").into_string().unwrap();
            assert_eq!(detail, "internal error in the pool manager: injected fault");
        }
        let refused = ex.submit(Task {
            func: echo,
            arg: crate::executor::Arg::new(std::ptr::null(), 0, None),
        });
        assert!(matches!(refused, Err(r) if r.status == Status::BrokenPool));
        ex.shutdown(true, false).unwrap();
        // The worker was killed and reaped (by us, or by the fork server,
        // which was reaped by us).
        // SAFETY: signal 0 only checks that the pid exists.
        let alive = unsafe { libc::kill(worker, 0) } == 0;
        assert!(!alive, "worker {worker} is still there ({method:?})");
    }
    for fd in [gate_r, gate_w, rep_r, rep_w] {
        sys::close(fd);
    }
}
