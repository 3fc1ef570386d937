//! The process-wide log hook: where messages go that no caller can receive
//! (a callback that panicked, an initializer's failure, why a pool broke).

use crate::fork::ForkMutex;
use std::ffi::{c_char, c_void};
use std::io::Write;

/// C signature of a log hook.
pub type LogFn = unsafe extern "C" fn(message: *const c_char, user: *mut c_void);

#[derive(Copy, Clone)]
struct Hook {
    f: LogFn,
    user: *mut c_void,
}
// SAFETY: the user pointer is the host's to make thread-safe; the hook is
// documented to be called from any thread of the library.
unsafe impl Send for Hook {}
// SAFETY: as above.
unsafe impl Sync for Hook {}

static HOOK: ForkMutex<Option<Hook>> = ForkMutex::new(None);

pub(crate) fn register_for_fork() {
    HOOK.register_for_fork();
}

/// Installs `f` (None restores the default: a line on stderr).
///
/// # Safety
/// `f` may be called with a NUL-terminated message and `user`, from any
/// thread, at any time until another hook replaces it.
pub unsafe fn set_hook(f: Option<LogFn>, user: *mut c_void) {
    *HOOK.lock() = f.map(|f| Hook { f, user });
}

/// Sends one message to the hook.
pub fn log(message: &str) {
    let hook = *HOOK.lock();
    match hook {
        Some(h) => {
            let text = crate::status::c_string(message);
            // SAFETY: the host installed `f` for exactly this call shape; the
            // string lives until the call returns.
            let r = std::panic::catch_unwind(|| unsafe { (h.f)(text.as_ptr(), h.user) });
            if r.is_err() {
                let _ = writeln!(std::io::stderr(), "libfutures: log hook panicked");
            }
        }
        None => {
            let _ = writeln!(std::io::stderr(), "libfutures: {message}");
        }
    }
}
