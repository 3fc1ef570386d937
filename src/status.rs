//! Status codes and error records shared by the core and the C API.

use std::ffi::CString;
use std::fmt;

/// What a call answered, and what kind of failure a future holds.
///
/// The numeric values are the C ABI's `FUT_*` codes and never change.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    Ok = 0,
    End = 1,
    InvalidArgument = -1,
    Timeout = -2,
    Cancelled = -3,
    InvalidState = -4,
    TaskFailed = -5,
    BrokenPool = -6,
    WorkerDied = -7,
    TimeLimit = -8,
    Shutdown = -9,
    WouldDeadlock = -10,
    NoMemory = -11,
    Os = -12,
    Internal = -13,
}

impl Status {
    pub const ALL: [Status; 15] = [
        Status::Ok,
        Status::End,
        Status::InvalidArgument,
        Status::Timeout,
        Status::Cancelled,
        Status::InvalidState,
        Status::TaskFailed,
        Status::BrokenPool,
        Status::WorkerDied,
        Status::TimeLimit,
        Status::Shutdown,
        Status::WouldDeadlock,
        Status::NoMemory,
        Status::Os,
        Status::Internal,
    ];

    /// The C name of the code, NUL-terminated.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "FUT_OK\0",
            Status::End => "FUT_END\0",
            Status::InvalidArgument => "FUT_ERR_INVALID_ARGUMENT\0",
            Status::Timeout => "FUT_ERR_TIMEOUT\0",
            Status::Cancelled => "FUT_ERR_CANCELLED\0",
            Status::InvalidState => "FUT_ERR_INVALID_STATE\0",
            Status::TaskFailed => "FUT_ERR_TASK_FAILED\0",
            Status::BrokenPool => "FUT_ERR_BROKEN_POOL\0",
            Status::WorkerDied => "FUT_ERR_WORKER_DIED\0",
            Status::TimeLimit => "FUT_ERR_TIME_LIMIT\0",
            Status::Shutdown => "FUT_ERR_SHUTDOWN\0",
            Status::WouldDeadlock => "FUT_ERR_WOULD_DEADLOCK\0",
            Status::NoMemory => "FUT_ERR_NO_MEMORY\0",
            Status::Os => "FUT_ERR_OS\0",
            Status::Internal => "FUT_ERR_INTERNAL\0",
        }
    }

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
