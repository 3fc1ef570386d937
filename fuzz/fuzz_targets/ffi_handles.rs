//! Arbitrary integers and pointers as handles (future, executor, map,
//! as_completed iterator, completion queue, task token) into the public
//! C functions: each must answer a status (or its documented "no" value),
//! never crash, and never take a reference it was not given
//! (docs/verification.md). The input is a program: each step picks a
//! function and a handle, which is a live one, a released one, one of
//! another type, one of those off by a few bytes, a pointer to ordinary
//! memory, or any 64-bit value.
#![no_main]

use futures::ffi::*;
use futures::Status;
use libfuzzer_sys::fuzz_target;
use std::ffi::c_void;
use std::ptr::null_mut;

unsafe extern "C" fn noop_task(_t: *mut fut_task, _a: *const c_void, _n: usize) -> i32 {
    0
}
unsafe extern "C" fn noop_done(_f: *mut fut_future, _u: *mut c_void) {}
unsafe extern "C" fn quiet(_m: *const std::ffi::c_char, _u: *mut c_void) {}

/// A status the C API defines.
fn status(s: fut_status) -> fut_status {
    assert!(
        s == FUT_OK || Status::from_code(s).is_some(),
        "unknown status {s}"
    );
    s
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn word(&mut self) -> u64 {
        let mut w = [0u8; 8];
        for b in &mut w {
            *b = self.byte().unwrap_or(0);
        }
        u64::from_ne_bytes(w)
    }
}

/// Handles this run owns (with how many references) and ones it let go.
#[derive(Default)]
struct World {
    futures: Vec<usize>,
    iterators: Vec<usize>,
    queues: Vec<usize>,
    maps: Vec<usize>,
    executor: usize,
    stale: Vec<usize>,
    local: u64,
}

impl World {
    fn live(&self) -> Vec<usize> {
        let mut v = self.futures.clone();
        v.extend(&self.iterators);
        v.extend(&self.queues);
        v.extend(&self.maps);
        v.push(self.executor);
        v
    }

    /// A handle to try, of any kind.
    fn pick(&self, input: &mut Bytes) -> usize {
        let how = input.byte().unwrap_or(0);
        let k = input.byte().unwrap_or(0) as usize;
        let live = self.live();
        let any = |v: &[usize]| if v.is_empty() { 0 } else { v[k % v.len()] };
        match how % 8 {
            0 | 1 => any(&live),
            2 => any(&self.stale),
            3 => any(&live).wrapping_add((k % 16).wrapping_sub(8)),
            4 => any(&live) ^ (1 << (k % 64)),
            5 => &self.local as *const u64 as usize,
            6 => [0, 1, 8, usize::MAX, usize::MAX - 7, 1 << 47][k % 6],
            _ => input.word() as usize,
        }
    }

    /// `h` was given back to `list`'s kind: if it was one of ours, one
    /// reference less (a handle of another kind was refused: nothing).
    fn released(list: &mut Vec<usize>, stale: &mut Vec<usize>, h: usize) {
        if let Some(i) = list.iter().position(|&x| x == h) {
            list.swap_remove(i);
            if !list.contains(&h) {
                stale.push(h);
            }
        }
    }
}

fn step(w: &mut World, input: &mut Bytes) -> Option<()> {
    let op = input.byte()?;
    let h = w.pick(input);
    let (f, q) = (h as *mut fut_future, h as *mut fut_completion_queue);
    let mut out_f: *mut fut_future = null_mut();
    // SAFETY (all calls): every pointer argument other than the handle is
    // valid for what the function writes; the handle is what is under test.
    unsafe {
        match op % 24 {
            0 => {
                status(fut_future_new(&mut out_f));
                w.futures.push(out_f as usize);
            }
            1 => {
                // A released handle may still name a live future (a map or
                // an iterator holds it): retaining it then is allowed.
                if !fut_future_retain(f).is_null() {
                    w.futures.push(h);
                }
            }
            2 => {
                // Giving back a reference one does not hold is the caller's
                // bug, which no check can see when someone else (a pool, a
                // map, an iterator) still holds one: the released, forged
                // and bit-flipped handles given here must name no live
                // future unless we own a reference to it.
                if w.futures.contains(&h) || fut_future_retain(f).is_null() {
                    fut_future_release(f);
                    World::released(&mut w.futures, &mut w.stale, h);
                } else {
                    fut_future_release(f); // the reference just taken
                }
            }
            3 => drop(fut_future_cancel(f)),
            4 => {
                let _ = (
                    fut_future_cancelled(f),
                    fut_future_running(f),
                    fut_future_done(f),
                );
                let _ = fut_future_state(f);
            }
            5 => {
                let (mut p, mut n) = (null_mut(), 0usize);
                status(fut_future_result(f, 0, &mut p, &mut n));
            }
            6 => {
                let mut e: fut_error_info = std::mem::zeroed();
                status(fut_future_exception(f, 0, &mut e));
            }
            7 => drop(status(fut_future_add_done_callback(
                f,
                Some(noop_done),
                null_mut(),
            ))),
            8 => drop(fut_future_set_running_or_notify_cancel(f)),
            9 => drop(status(fut_future_set_result(f, null_mut(), 0, None))),
            10 => drop(status(fut_future_set_exception(f, 3, c"fuzz".as_ptr()))),
            11 => {
                let ex = h as *mut fut_executor;
                if status(fut_executor_submit(
                    ex,
                    Some(noop_task),
                    null_mut(),
                    0,
                    None,
                    &mut out_f,
                )) == FUT_OK
                {
                    w.futures.push(out_f as usize);
                }
            }
            12 => {
                let items = [fut_item {
                    arg: null_mut(),
                    arg_len: 0,
                }; 2];
                let mut m: *mut fut_map = null_mut();
                let ex = h as *mut fut_executor;
                if status(fut_executor_map(
                    ex,
                    Some(noop_task),
                    items.as_ptr(),
                    2,
                    0,
                    1,
                    &mut m,
                )) == FUT_OK
                {
                    w.maps.push(m as usize);
                }
            }
            13 => {
                if status(fut_map_next(h as *mut fut_map, &mut out_f)) == FUT_OK {
                    w.futures.push(out_f as usize);
                }
            }
            14 => {
                fut_map_release(h as *mut fut_map);
                World::released(&mut w.maps, &mut w.stale, h);
            }
            15 => {
                let fs = [f, w.pick(input) as *mut fut_future];
                let (mut flags, mut n) = ([0u8; 2], 0usize);
                status(fut_wait(
                    fs.as_ptr(),
                    2,
                    0,
                    input.byte()? as i32 % 4,
                    flags.as_mut_ptr(),
                    &mut n,
                ));
            }
            16 => {
                let fs = [f, w.pick(input) as *mut fut_future];
                let mut it: *mut fut_as_completed = null_mut();
                if status(fut_as_completed_new(fs.as_ptr(), 2, 0, &mut it)) == FUT_OK {
                    w.iterators.push(it as usize);
                }
            }
            17 => {
                let mut index = 0usize;
                let it = h as *mut fut_as_completed;
                if status(fut_as_completed_next(it, &mut index, &mut out_f)) == FUT_OK {
                    w.futures.push(out_f as usize);
                }
            }
            18 => {
                fut_as_completed_release(h as *mut fut_as_completed);
                World::released(&mut w.iterators, &mut w.stale, h);
            }
            19 => {
                let mut nq: *mut fut_completion_queue = null_mut();
                status(fut_completion_queue_new(&mut nq));
                w.queues.push(nq as usize);
                let _ = fut_completion_queue_fd(q);
            }
            20 => {
                let target = w.pick(input) as *mut fut_future;
                status(fut_completion_queue_attach(q, target, null_mut()));
                status(fut_completion_queue_wait(q, 0));
            }
            21 => {
                let mut got: [fut_completion; 4] = std::mem::zeroed();
                let mut n = 0usize;
                if status(fut_completion_queue_drain(q, got.as_mut_ptr(), 4, &mut n)) == FUT_OK {
                    for c in &got[..n] {
                        w.futures.push(c.future as usize);
                    }
                }
            }
            22 => {
                fut_completion_queue_release(q);
                World::released(&mut w.queues, &mut w.stale, h);
            }
            _ => {
                // No task runs on this thread: every token is refused.
                let t = h as *mut fut_task;
                let s = fut_task_set_result(t, null_mut(), 0, None);
                assert_eq!(s, Status::InvalidArgument as fut_status);
                let s = fut_task_set_error(t, 1, null_mut());
                assert_eq!(s, Status::InvalidArgument as fut_status);
                assert!(!fut_task_cancel_requested(t));
            }
        }
    }
    Some(())
}

fuzz_target!(|data: &[u8]| {
    // SAFETY: a function that ignores its arguments; the library's own
    // complaints (expected here) are not worth printing.
    unsafe { fut_set_log_hook(Some(quiet), null_mut()) };
    let mut w = World::default();
    let mut opts: fut_thread_pool_options = unsafe { std::mem::zeroed() };
    let mut ex: *mut fut_executor = null_mut();
    // SAFETY: valid pointers to an options struct and an out handle.
    unsafe {
        status(fut_thread_pool_options_init(&mut opts));
        opts.max_workers = 1;
        assert_eq!(fut_thread_pool_new(&opts, &mut ex), FUT_OK);
    }
    w.executor = ex as usize;
    let mut input = Bytes(data);
    for _ in 0..64 {
        if step(&mut w, &mut input).is_none() {
            break;
        }
    }
    // Give back every reference this run still holds (a leak fails).
    for m in std::mem::take(&mut w.maps) {
        fut_map_release(m as *mut fut_map);
    }
    for it in std::mem::take(&mut w.iterators) {
        fut_as_completed_release(it as *mut fut_as_completed);
    }
    for q in std::mem::take(&mut w.queues) {
        fut_completion_queue_release(q as *mut fut_completion_queue);
    }
    for f in std::mem::take(&mut w.futures) {
        fut_future_release(f as *mut fut_future);
    }
    fut_executor_release(ex);
});
