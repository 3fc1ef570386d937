//! Status codes and error records shared by the core and the C API.

use std::ffi::CString;
use std::fmt;

/// Defines `Status` from one list: each code's variant, its C name and its
/// value, so that the enum, `Status::ALL` and `Status::name` cannot diverge.
macro_rules! statuses {
    ($($(#[$doc:meta])* $variant:ident = $value:literal, $c_name:literal;)*) => {
        /// What a call answered, and what kind of failure a future holds.
        ///
        /// The numeric values are the C ABI's `FUT_*` codes and never change;
        /// the C skin's constants are checked against this list when it is
        /// compiled.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum Status {
            $($(#[$doc])* $variant = $value,)*
        }

        impl Status {
            /// Every code, in the order of the list.
            pub const ALL: &'static [Status] = &[$(Status::$variant,)*];

            /// The C name of the code, NUL-terminated.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Status::$variant => concat!($c_name, "\0"),)*
                }
            }
        }
    };
}

statuses! {
    /// Success.
    Ok = 0, "FUT_OK";
    /// An iterator is exhausted (not an error).
    End = 1, "FUT_END";
    /// A NULL or invalid handle or pointer, a bad enum value or option.
    InvalidArgument = -1, "FUT_ERR_INVALID_ARGUMENT";
    /// The caller's deadline passed first.
    Timeout = -2, "FUT_ERR_TIMEOUT";
    /// The future was cancelled.
    Cancelled = -3, "FUT_ERR_CANCELLED";
    /// The call does not fit the future's state.
    InvalidState = -4, "FUT_ERR_INVALID_STATE";
    /// The task failed.
    TaskFailed = -5, "FUT_ERR_TASK_FAILED";
    /// The executor is broken.
    BrokenPool = -6, "FUT_ERR_BROKEN_POOL";
    /// The worker process running the task died.
    WorkerDied = -7, "FUT_ERR_WORKER_DIED";
    /// The task ran past its time limit.
    TimeLimit = -8, "FUT_ERR_TIME_LIMIT";
    /// The executor was shut down.
    Shutdown = -9, "FUT_ERR_SHUTDOWN";
    /// The call would wait for the calling thread itself.
    WouldDeadlock = -10, "FUT_ERR_WOULD_DEADLOCK";
    /// Out of memory.
    NoMemory = -11, "FUT_ERR_NO_MEMORY";
    /// An operating-system call failed.
    Os = -12, "FUT_ERR_OS";
    /// A bug in the library.
    Internal = -13, "FUT_ERR_INTERNAL";
    // ---- flow control (Q) ----
    /// The executor's bounded queue stayed full until the deadline.
    QueueFull = -14, "FUT_ERR_QUEUE_FULL";
    /// No task or initializer is registered under that name, or the
    /// function was never registered (spawn pools send tasks by name).
    NotRegistered = -15, "FUT_ERR_NOT_REGISTERED";
}

impl Status {
    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| *s as i32 == code)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name().trim_end_matches('\0'))
    }
}

/// Why a future failed: owned by the future, read through borrowed views.
#[derive(Debug)]
pub struct ErrorRecord {
    pub kind: Status,
    pub code: i32,
    pub message: CString,
    pub detail: Option<CString>,
}

/// Builds a C string, dropping interior NULs rather than failing.
pub fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "")).expect("NULs removed")
}

impl ErrorRecord {
    pub fn new(kind: Status, code: i32, message: &str) -> Self {
        ErrorRecord {
            kind,
            code,
            message: c_string(message),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: &str) -> Self {
        self.detail = Some(c_string(detail));
        self
    }
}
