//! `fut_process_pool_*`: the process pool's options and constructor.

use super::executor::executor_to_c;
use super::types::*;
use super::{guard, non_null};
use crate::process_pool::{Config, CrashPolicy, ProcessPool, StartMethod};
use crate::status::Status;
use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

/// How a process pool starts its workers.
pub type fut_start_method = i32;

/// Every worker is forked from the pool's manager thread when the pool is
/// created. Replacements (`FUT_CRASH_FAIL_TASK`, time limit) then come from a
/// fork server started at the same time; `max_tasks_per_child` is refused.
pub const FUT_START_FORK: fut_start_method = 0;
/// A single-threaded fork server, forked when the pool is created, forks
/// workers on demand (also replacements and `max_tasks_per_child`), so that
/// no worker is ever forked from a multithreaded process after creation.
/// The default.
pub const FUT_START_FORKSERVER: fut_start_method = 1;

/// Workers are new processes started by `posix_spawn` of a program (the
/// host's own executable by default, `worker_program` otherwise), never
/// forks of the host: safe in any host, whatever its threads hold (a Go
/// program, a JVM, an embedded interpreter). The program's `main()` must
/// register its tasks and initializer, then call `fut_worker_entry` before
/// anything else. Tasks travel by registered name: a function submitted to
/// a spawn pool must be registered (`fut_register_task`), else
/// `FUT_ERR_NOT_REGISTERED`; so must the initializer
/// (`fut_register_initializer`), checked at creation. Workers start on
/// demand, as with `FUT_START_FORKSERVER`, and every other option works as
/// there.
pub const FUT_START_SPAWN: fut_start_method = 2;

/// What a worker process's death does to the pool.
pub type fut_crash_policy = i32;

/// Python's behaviour (default): the pool breaks; every outstanding future
/// fails with `FUT_ERR_BROKEN_POOL` (`detail` names the worker, its pid and
/// its signal or exit status) and later submits are refused with it.
pub const FUT_CRASH_BREAK_POOL: fut_crash_policy = 0;
/// Only the task the dead worker was running fails, with
/// `FUT_ERR_WORKER_DIED` and the same `detail`; the worker is replaced
/// (after a growing delay when crashes follow each other) and everything
/// else goes on. When 5 workers in a row die holding calls without starting
/// any, the pool breaks instead of replacing them forever.
pub const FUT_CRASH_FAIL_TASK: fut_crash_policy = 1;

/// Options of `fut_process_pool_new`. Fill with
/// `fut_process_pool_options_init`, then change fields.
///
/// Workers are forks of the calling process (with `FUT_START_SPAWN`: new
/// processes of the worker program, which find tasks by registered name):
/// task and initializer functions must be loaded before the pool is
/// created, and `fut_task_cancel_requested` always answers false inside a
/// worker. Workers restore the default action
/// of SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS and SIGTRAP (so a crash
/// ends the worker and is reported with its signal; an initializer may
/// install handlers again) and die with their parent (`PR_SET_PDEATHSIG`).
///
/// The fork server (`FUT_START_FORKSERVER`, and `FUT_START_FORK` with
/// `FUT_CRASH_FAIL_TASK` or a time limit) is part of the pool: if it dies,
/// or does not answer for 3 s (stopped with SIGSTOP, stuck), the pool breaks
/// (`FUT_ERR_BROKEN_POOL`, `detail` says why) and the server is killed;
/// shutdown and release never wait on a stopped server.
#[repr(C)]
#[derive(Copy, Clone)]
pub struct fut_process_pool_options {
    /// `sizeof(fut_process_pool_options)`, set by the init function.
    pub struct_size: usize,
    /// Number of worker processes; 0 = the CPUs this process may use;
    /// above 1024: `FUT_ERR_INVALID_ARGUMENT`.
    pub max_workers: usize,
    /// `FUT_START_FORKSERVER` (default), `FUT_START_FORK` or
    /// `FUT_START_SPAWN`.
    pub start_method: fut_start_method,
    /// Runs once in each worker before its first task; non-zero breaks the
    /// pool (whatever `on_worker_crash` says; the reason goes to the log).
    pub initializer: fut_init_fn,
    /// Bytes passed to the initializer (copied at pool creation).
    pub initializer_arg: *const c_void,
    pub initializer_arg_len: usize,
    /// Calls a worker runs before it is replaced; 0 = unlimited. Needs
    /// `FUT_START_FORKSERVER` or `FUT_START_SPAWN` (with `FUT_START_FORK`:
    /// `FUT_ERR_INVALID_ARGUMENT`). A map chunk is one call.
    pub max_tasks_per_child: usize,
    /// `FUT_CRASH_BREAK_POOL` (default) or `FUT_CRASH_FAIL_TASK`.
    pub on_worker_crash: fut_crash_policy,
    /// Per-task limit in nanoseconds, 0 = none (negative:
    /// `FUT_ERR_INVALID_ARGUMENT`). Past it the worker is killed (SIGKILL),
    /// the task fails with `FUT_ERR_TIME_LIMIT` and the worker is replaced,
    /// under either crash policy. Counted from when the worker can start the
    /// task. An initializer still running at the limit plus 1 s after its
    /// worker started is killed too, and breaks the pool (as a failing
    /// initializer does).
    pub task_time_limit_ns: i64,
    // ---- version 2 (flow control, spawn) ----
    /// Most calls that may wait in the pool's queue, not yet taken by the
    /// manager thread towards a worker (a submit is one call, a map chunk
    /// one call); 0 (default): unbounded. The up to `max_workers + 1` calls
    /// taken are RUNNING (see `fut_executor_shutdown`) and not counted. When
    /// full, `fut_executor_submit` (and `fut_executor_map`, per chunk) waits
    /// for room; `fut_executor_submit_timeout` up to its deadline. A submit
    /// from a done-callback (they run on the manager thread) never waits.
    pub max_queued: usize,
    /// Called when a call of a task is handed to a worker process
    /// ("started") and when its result is read ("finished"; the times are
    /// measured by the manager), on the pool's manager thread, with no pool
    /// lock held, before the future is completed. NULL (default): none.
    pub on_task_event: super::flow::fut_task_event_fn,
    /// Passed to `on_task_event` as `user`.
    pub on_task_event_data: *mut c_void,
    /// `FUT_START_SPAWN` only: the path of the program workers run, whose
    /// `main()` calls `fut_worker_entry`; NULL = this executable
    /// (`/proc/self/exe`). The string is copied at creation; a program that
    /// is missing or not executable fails creation with `FUT_ERR_OS` (the
    /// log hook says why). Ignored by the fork start methods.
    pub worker_program: *const c_char,
}

fn defaults() -> fut_process_pool_options {
    fut_process_pool_options {
        struct_size: std::mem::size_of::<fut_process_pool_options>(),
        max_workers: 0,
        start_method: FUT_START_FORKSERVER,
        initializer: None,
        initializer_arg: std::ptr::null(),
        initializer_arg_len: 0,
        max_tasks_per_child: 0,
        on_worker_crash: FUT_CRASH_BREAK_POOL,
        task_time_limit_ns: 0,
        max_queued: 0,
        on_task_event: None,
        on_task_event_data: std::ptr::null_mut(),
        worker_program: std::ptr::null(),
    }
}

/// Sets `opts->struct_size` and every field to its default (NULL is
/// `FUT_ERR_INVALID_ARGUMENT`).
#[no_mangle]
pub unsafe extern "C" fn fut_process_pool_options_init(
    opts: *mut fut_process_pool_options,
) -> fut_status {
    guard(|| {
        let opts = super::non_null(opts)?;
        // SAFETY: non-NULL; the caller passes room for one options struct.
        unsafe { opts.write(defaults()) };
        Ok(())
    })
}

/// Size of the first version of `fut_process_pool_options` (LP64), pinned:
/// callers compiled against that header pass it, whatever fields later
/// versions add.
const OPTIONS_V1_SIZE: usize = 72;
// The v1 fields end exactly there (a new field goes after them).
const _: () = assert!(
    std::mem::offset_of!(fut_process_pool_options, task_time_limit_ns) + std::mem::size_of::<i64>()
        == OPTIONS_V1_SIZE
);
/// Size of the second version (flow control and `worker_program`), pinned
/// the same way.
const OPTIONS_V2_SIZE: usize = 104;
const _: () = assert!(std::mem::size_of::<fut_process_pool_options>() == OPTIONS_V2_SIZE);
const _: () =
    assert!(std::mem::offset_of!(fut_process_pool_options, worker_program) + 8 == OPTIONS_V2_SIZE);

/// Reads and checks the caller's options (see `read_versioned`).
///
/// # Safety
/// `opts` must point to at least `struct_size` readable bytes.
unsafe fn read_options(opts: *const fut_process_pool_options) -> Result<Config, Status> {
    // SAFETY: forwarded from the caller.
    let o = unsafe { super::read_versioned(opts, defaults(), OPTIONS_V1_SIZE) }?;
    let start_method = match o.start_method {
        FUT_START_FORK => StartMethod::Fork,
        FUT_START_FORKSERVER => StartMethod::ForkServer,
        FUT_START_SPAWN => StartMethod::Spawn,
        _ => return Err(Status::InvalidArgument),
    };
    let on_worker_crash = match o.on_worker_crash {
        FUT_CRASH_BREAK_POOL => CrashPolicy::BreakPool,
        FUT_CRASH_FAIL_TASK => CrashPolicy::FailTask,
        _ => return Err(Status::InvalidArgument),
    };
    let task_time_limit = match o.task_time_limit_ns {
        0 => None,
        n if n < 0 => return Err(Status::InvalidArgument),
        n => Some(Duration::from_nanos(n as u64)),
    };
    if o.initializer_arg.is_null() && o.initializer_arg_len != 0 {
        return Err(Status::InvalidArgument);
    }
    let initializer_arg = if o.initializer_arg_len == 0 {
        Vec::new()
    } else {
        // SAFETY: the caller promises `initializer_arg_len` readable bytes.
        unsafe { std::slice::from_raw_parts(o.initializer_arg as *const u8, o.initializer_arg_len) }
            .to_vec()
    };
    let worker_program = if o.worker_program.is_null() {
        None
    } else {
        // SAFETY: a non-NULL `worker_program` is a NUL-terminated string.
        Some(unsafe { std::ffi::CStr::from_ptr(o.worker_program) }.to_owned())
    };
    let mut config = Config {
        worker_program,
        max_workers: o.max_workers,
        start_method,
        max_tasks_per_child: o.max_tasks_per_child,
        on_worker_crash,
        task_time_limit,
        flow: crate::flow::FlowOptions {
            max_queued: o.max_queued,
            // SAFETY: the caller's callback and data, per the field's contract.
            observer: unsafe {
                super::flow::observer_from_c(o.on_task_event, o.on_task_event_data)
            },
        },
        ..Config::default()
    };
    if let Some(func) = o.initializer {
        // SAFETY: the C caller hands us a function of the documented
        // `fut_init_fn` contract, called in workers with the copied bytes.
        unsafe { config.set_initializer(func, initializer_arg) };
    }
    Ok(config)
}

/// Creates a process pool (NULL `opts`: every default) and returns once its
/// first processes were forked (a spawn pool starts none before work comes);
/// `*out` receives one reference. Forking and spawning happen on the pool's
/// manager thread, which lives as long as the pool.
/// `FUT_ERR_INVALID_ARGUMENT` for a bad option, `FUT_ERR_OS` if a process
/// could not be started (or, spawn, the worker program cannot be run),
/// `FUT_ERR_NOT_REGISTERED` for a spawn pool's unregistered initializer. Pools do not survive `fork()`: in a child process
/// they refuse work with `FUT_ERR_SHUTDOWN`.
#[no_mangle]
pub unsafe extern "C" fn fut_process_pool_new(
    opts: *const fut_process_pool_options,
    out: *mut *mut fut_executor,
) -> fut_status {
    guard(|| {
        let out = non_null(out)?;
        // SAFETY: per this function's contract.
        let config = unsafe { read_options(opts) }?;
        let pool = ProcessPool::new(config)?;
        // SAFETY: `out` is non-NULL and the caller provides room for it.
        unsafe { *out = executor_to_c(Arc::new(pool)) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_validated() {
        let mut o = defaults();
        o.start_method = 7;
        // SAFETY: a live options struct.
        assert!(matches!(
            unsafe { read_options(&o) },
            Err(Status::InvalidArgument)
        ));
        let mut o = defaults();
        o.on_worker_crash = -1;
        // SAFETY: as above.
        assert!(unsafe { read_options(&o) }.is_err());
        let mut o = defaults();
        o.task_time_limit_ns = -5;
        // SAFETY: as above.
        assert!(unsafe { read_options(&o) }.is_err());
        let mut o = defaults();
        o.struct_size = 0;
        // SAFETY: as above.
        assert!(unsafe { read_options(&o) }.is_err());
        // SAFETY: NULL means defaults.
        let c = unsafe { read_options(std::ptr::null()) }.unwrap();
        assert_eq!(c.start_method, StartMethod::ForkServer);
        assert_eq!(c.on_worker_crash, CrashPolicy::BreakPool);
    }

    #[test]
    fn spawn_options_and_a_v1_sized_struct() {
        let mut o = defaults();
        o.start_method = FUT_START_SPAWN;
        o.worker_program = c"/bin/prog".as_ptr();
        // SAFETY: a live options struct.
        let c = unsafe { read_options(&o) }.unwrap();
        assert_eq!(c.start_method, StartMethod::Spawn);
        assert_eq!(c.worker_program.as_deref(), Some(c"/bin/prog"));
        // A caller built against the first header passes 72 bytes: the
        // program is the default (this executable).
        o.struct_size = OPTIONS_V1_SIZE;
        // SAFETY: `o` has more than struct_size readable bytes.
        let c = unsafe { read_options(&o) }.unwrap();
        assert_eq!(c.worker_program, None);
    }

    #[test]
    fn short_structs_are_refused_and_newer_ones_need_zero_tails() {
        let mut o = defaults();
        o.struct_size = std::mem::offset_of!(fut_process_pool_options, start_method);
        // SAFETY: a live options struct, larger than the size it claims.
        assert!(unsafe { read_options(&o) }.is_err());
        #[repr(C)]
        #[derive(Copy, Clone)]
        struct Newer {
            v1: fut_process_pool_options,
            extra: u64,
        }
        let mut n = Newer {
            v1: defaults(),
            extra: 0,
        };
        n.v1.struct_size = std::mem::size_of::<Newer>();
        n.v1.max_workers = 3;
        // SAFETY: `n` has struct_size readable bytes.
        let c = unsafe { read_options(&n.v1) }.unwrap();
        assert_eq!(c.max_workers, 3);
        n.extra = 1;
        // SAFETY: as above.
        assert!(unsafe { read_options(&n.v1) }.is_err());
    }
}
