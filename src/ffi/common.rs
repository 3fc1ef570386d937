//! Status names, version and the log hook.

use super::types::*;
use crate::status::Status;
use std::ffi::{c_char, c_void};

/// Major version of this header; matches `fut_version()`.
pub const FUT_VERSION_MAJOR: i32 = 0;
/// Minor version of this header.
pub const FUT_VERSION_MINOR: i32 = 2;
/// Patch version of this header.
pub const FUT_VERSION_PATCH: i32 = 0;

/// The name of a status code ("FUT_OK", "FUT_ERR_TIMEOUT", ...), or
/// "unknown status". The string is static.
#[no_mangle]
pub extern "C" fn fut_status_str(status: fut_status) -> *const c_char {
    let name = match Status::from_code(status) {
        Some(s) => s.name(),
        None => "unknown status\0",
    };
    name.as_ptr() as *const c_char
}

/// The library's version, "MAJOR.MINOR.PATCH". The string is static.
#[no_mangle]
pub extern "C" fn fut_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// Sends the library's diagnostics (a panicking callback, an initializer's
/// failure, why a pool broke) to `fn(message, user)`, from any thread; the
/// message is valid during the call. NULL restores the default: stderr.
#[no_mangle]
pub unsafe extern "C" fn fut_set_log_hook(hook: fut_log_fn, user: *mut c_void) {
    // SAFETY: the host installs `hook` for `user` as this function documents:
    // called from any thread with a message valid during the call.
    super::guard_value((), || unsafe { crate::log::set_hook(hook, user) });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_core() {
        let pairs = [
            (FUT_OK, Status::Ok),
            (FUT_END, Status::End),
            (FUT_ERR_INVALID_ARGUMENT, Status::InvalidArgument),
            (FUT_ERR_TIMEOUT, Status::Timeout),
            (FUT_ERR_CANCELLED, Status::Cancelled),
            (FUT_ERR_INVALID_STATE, Status::InvalidState),
            (FUT_ERR_TASK_FAILED, Status::TaskFailed),
            (FUT_ERR_BROKEN_POOL, Status::BrokenPool),
            (FUT_ERR_WORKER_DIED, Status::WorkerDied),
            (FUT_ERR_TIME_LIMIT, Status::TimeLimit),
            (FUT_ERR_SHUTDOWN, Status::Shutdown),
            (FUT_ERR_WOULD_DEADLOCK, Status::WouldDeadlock),
            (FUT_ERR_NO_MEMORY, Status::NoMemory),
            (FUT_ERR_OS, Status::Os),
            (FUT_ERR_INTERNAL, Status::Internal),
            (FUT_ERR_QUEUE_FULL, Status::QueueFull),
            (FUT_ERR_NOT_REGISTERED, Status::NotRegistered),
        ];
        assert_eq!(pairs.len(), Status::ALL.len());
        for (c, s) in pairs {
            assert_eq!(c, s as i32);
        }
    }

    #[test]
    fn version_constants_match_cargo() {
        let v = format!("{FUT_VERSION_MAJOR}.{FUT_VERSION_MINOR}.{FUT_VERSION_PATCH}");
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }
}
