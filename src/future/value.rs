//! `Value`: a task's or a promise's result, owned by its future.

use std::ffi::c_void;
use std::mem::ManuallyDrop;

/// A C destructor for a value: `void (*)(void *ptr)`.
pub type DropFn = unsafe extern "C" fn(ptr: *mut c_void);

/// An owned result: a pointer, a length and an optional destructor that runs
/// exactly once, when the value is dropped.
pub struct Value {
    ptr: *mut c_void,
    len: usize,
    drop: Option<DropFn>,
}

// SAFETY: a value is handed from the completing thread to readers; the host
// promises that its pointer may be used and destroyed from any thread.
unsafe impl Send for Value {}
// SAFETY: readers only get the pointer and length; nothing is mutated.
unsafe impl Sync for Value {}

impl Value {
    /// The crate's own constructor; its callers uphold `from_raw`'s contract.
    pub(crate) fn new(ptr: *mut c_void, len: usize, drop: Option<DropFn>) -> Value {
        Value { ptr, len, drop }
    }

    /// Takes ownership of `ptr` (destroyed with `drop`, if any).
    ///
    /// # Safety
    /// `drop`, if given, may be called once with `ptr`, from any thread,
    /// whenever the value is dropped; readers of the value (and a process
    /// pool, which copies `len` bytes from `ptr`) may rely on `ptr` pointing
    /// to `len` readable bytes until then.
    pub unsafe fn from_raw(ptr: *mut c_void, len: usize, drop: Option<DropFn>) -> Value {
        Value { ptr, len, drop }
    }

    /// The empty value (NULL, 0) of a task that set none.
    pub fn empty() -> Value {
        Value::new(std::ptr::null_mut(), 0, None)
    }

    /// A byte buffer owned by the value, freed with `libc::free`.
    pub fn from_bytes(bytes: &[u8]) -> Value {
        if bytes.is_empty() {
            return Value::empty();
        }
        // SAFETY: malloc with a non-zero size; checked for NULL below.
        let p = unsafe { libc::malloc(bytes.len()) };
        if p.is_null() {
            std::alloc::handle_alloc_error(std::alloc::Layout::array::<u8>(bytes.len()).unwrap());
        }
        // SAFETY: `p` has room for `bytes.len()` bytes and does not overlap `bytes`.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p as *mut u8, bytes.len()) };
        Value::new(p, bytes.len(), Some(free_bytes))
    }

    pub fn ptr(&self) -> *mut c_void {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Gives the parts back without running the destructor.
    pub fn into_raw(self) -> (*mut c_void, usize, Option<DropFn>) {
        let me = ManuallyDrop::new(self);
        (me.ptr, me.len, me.drop)
    }
}

unsafe extern "C" fn free_bytes(p: *mut c_void) {
    // SAFETY: only installed by `Value::from_bytes`, whose pointer came from malloc.
    unsafe { libc::free(p) }
}

impl Drop for Value {
    fn drop(&mut self) {
        if let Some(d) = self.drop {
            // SAFETY: the owner gave us this destructor for this pointer; we call
            // it exactly once because drop runs once.
            unsafe { d(self.ptr) }
        }
    }
}
