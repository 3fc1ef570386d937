//! What a thread pool is built from: its options, the worker initializer,
//! the default size and the threads' names (T1, T6, T7, X17).

use crate::status::Status;
use std::ffi::c_void;
use std::panic::catch_unwind;

/// The largest `max_workers` a thread pool accepts (X17).
pub const MAX_WORKERS_LIMIT: usize = 1024;

/// Linux keeps 15 bytes of a thread's name (plus the NUL).
const THREAD_NAME_MAX: usize = 15;

pub use crate::executor::InitFn;

/// A worker initializer and its argument.
///
/// The argument bytes are copied into a buffer of the pool's own (aligned
/// like `malloc`); with a length of 0 the pointer itself is passed through
/// unchanged, so that it can carry an opaque context the host keeps alive.
pub struct Initializer {
    func: InitFn,
    ptr: *mut c_void,
    len: usize,
    owned: bool,
}

// SAFETY: the copied buffer is owned and only read; a borrowed pointer (len
// 0) is the host's to make usable from the worker threads, as documented.
unsafe impl Send for Initializer {}
// SAFETY: as above: the initializer only reads the argument.
unsafe impl Sync for Initializer {}

impl Initializer {
    /// Copies `len` bytes at `ptr` (NULL allowed with `len` 0).
    ///
    /// # Safety
    /// When `len > 0`, `ptr` must point to `len` readable bytes.
    pub unsafe fn new(func: InitFn, ptr: *const c_void, len: usize) -> Result<Self, Status> {
        if len == 0 {
            return Ok(Initializer {
                func,
                ptr: ptr as *mut c_void,
                len: 0,
                owned: false,
            });
        }
        if ptr.is_null() {
            return Err(Status::InvalidArgument);
        }
        // SAFETY: malloc with a non-zero size; checked for NULL below.
        let copy = unsafe { libc::malloc(len) };
        if copy.is_null() {
            return Err(Status::NoMemory);
        }
        // SAFETY: the caller promises `len` readable bytes at `ptr`; `copy`
        // is a fresh allocation of `len` bytes.
        unsafe { std::ptr::copy_nonoverlapping(ptr as *const u8, copy as *mut u8, len) };
        Ok(Initializer {
            func,
            ptr: copy,
            len,
            owned: true,
        })
    }

    /// Runs the initializer: Ok(()) or the reason it failed.
    pub(super) fn run(&self) -> Result<(), String> {
        // SAFETY: the host gave us this function for exactly this call; the
        // argument is our copy or the host's pointer, as documented.
        let r = catch_unwind(|| unsafe { (self.func)(self.ptr, self.len) });
        match r {
            Ok(0) => Ok(()),
            Ok(rc) => Err(format!("initializer returned {rc}")),
            Err(_) => Err("initializer panicked".to_string()),
        }
    }
}

impl Drop for Initializer {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: `ptr` came from malloc in `new` and is freed once, here.
            unsafe { libc::free(self.ptr) }
        }
    }
}

/// How to build a thread pool. `Default` gives Python's defaults.
#[derive(Default)]
pub struct ThreadPoolOptions {
    /// 0: `min(32, usable CPUs + 4)` (T1); at most `MAX_WORKERS_LIMIT`.
    pub max_workers: usize,
    /// None or empty: `futpool-<n>`, n counting pools in the process (T6).
    pub thread_name_prefix: Option<String>,
    /// Runs once at the start of every worker; a failure breaks the pool (T7).
    pub initializer: Option<Initializer>,
    /// The bound on queued work and the task observer (Q1, Q9).
    pub flow: crate::flow::FlowOptions,
}

/// Python's ThreadPoolExecutor default: `min(32, usable CPUs + 4)` (T1).
pub fn default_max_workers() -> usize {
    (crate::cpus::usable_cpus() + 4).min(32)
}

/// `<prefix>_<index>`, the prefix cut (at a character boundary) so that the
/// whole fits Linux's 15 bytes and `_<index>` survives (X17).
pub fn thread_name(prefix: &str, index: usize) -> String {
    let suffix = format!("_{index}");
    let room = THREAD_NAME_MAX.saturating_sub(suffix.len());
    let mut cut = prefix.len().min(room);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &prefix[..cut], suffix)
}
