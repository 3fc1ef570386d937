//! The spawn start method (N5–N10): workers are new processes, started by
//! `posix_spawn` of an executable (the host's own by default), never forks
//! of the host. The worker side is the fork pools' worker loop (`worker`);
//! only how it starts differs.
//!
//! A spawned worker's command line is `PROGRAM --libfutures-spawn-worker
//! PARENT_PID`. It inherits exactly three descriptors at fixed numbers: 3,
//! the call pipe's read end; 4, the result pipe's write end; 5, its result
//! ring's memfd. `posix_spawn` closes every other descriptor from 6 up
//! (`posix_spawn_file_actions_addclosefrom_np`); 0, 1 and 2 are the host's.
//! Its signal mask is empty and every signal has its default action.
//!
//! The worker program's `main()` calls `fut_worker_entry` after it
//! registered its tasks and initializers. In a worker that call never
//! returns: it arms `PR_SET_PDEATHSIG` (which `posix_spawn` cannot) and
//! checks its parent, moves its descriptors out of the low numbers, reads
//! its configuration (`wire::SETUP`) from the call pipe, and runs
//! `worker::worker_main`. A load-time constructor arms the same death
//! signal even before `main()`, so a worker program that never calls
//! `fut_worker_entry` still dies with its parent.

use super::sys;
use super::wire;
use super::worker::{read_frame, worker_main, ByName, RingSource, WorkerConfig};
use std::ffi::{c_char, c_int, CStr, CString};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

/// The command-line flag that makes `fut_worker_entry` a worker.
pub const WORKER_FLAG: &str = "--libfutures-spawn-worker";

/// The default worker program: the host's own executable.
pub(crate) const SELF_EXE: &CStr = c"/proc/self/exe";

/// Where the worker finds its channels when it starts.
const CALL_FD: RawFd = 3;
const RESULT_FD: RawFd = 4;
const RING_FD: RawFd = 5;
/// Where the worker moves them: out of the way of descriptors an
/// initializer may want at low numbers.
const HIGH_FD: RawFd = 64;

/// Checks at pool creation that `program` is an executable regular file
/// (N8); the errno otherwise.
pub(crate) fn check_program(program: &CStr) -> Result<(), i32> {
    // SAFETY: stat writes into a live, zeroed struct; the path is a C string.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::stat(program.as_ptr(), &mut st) } != 0 {
        return Err(sys::errno());
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(libc::EACCES);
    }
    // SAFETY: plain system call on a C string.
    if unsafe { libc::access(program.as_ptr(), libc::X_OK) } != 0 {
        return Err(sys::errno());
    }
    Ok(())
}

/// A descriptor of ours, duplicated at 10 or above (close-on-exec), so that
/// none of the three sources is one of the target numbers 3, 4, 5.
fn dup_high(fd: RawFd) -> Result<RawFd, i32> {
    // SAFETY: fcntl on a descriptor the caller owns.
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if r < 0 {
        Err(sys::errno())
    } else {
        Ok(r)
    }
}

/// Starts a worker running `program` with `call_r`, `res_w` and `ring_fd`
/// at 3, 4 and 5; answers its pid. The caller keeps (and closes) its
/// descriptors. Called on the manager thread, whose life bounds the
/// worker's (`PR_SET_PDEATHSIG` follows the thread that started it).
pub(crate) fn spawn_worker(
    program: &CStr,
    call_r: RawFd,
    res_w: RawFd,
    ring_fd: RawFd,
) -> Result<libc::pid_t, i32> {
    let mut srcs = Vec::with_capacity(3);
    for fd in [call_r, res_w, ring_fd] {
        match dup_high(fd) {
            Ok(d) => srcs.push(d),
            Err(e) => {
                srcs.iter().for_each(|&d| sys::close(d));
                return Err(e);
            }
        }
    }
    let r = spawn_with(program, &srcs);
    srcs.iter().for_each(|&d| sys::close(d));
    r
}

fn spawn_with(program: &CStr, srcs: &[RawFd]) -> Result<libc::pid_t, i32> {
    // SAFETY: getpid cannot fail.
    let parent = CString::new(unsafe { libc::getpid() }.to_string()).expect("digits");
    let flag = CString::new(WORKER_FLAG).expect("no NUL");
    let argv: [*mut c_char; 4] = [
        program.as_ptr() as *mut c_char,
        flag.as_ptr() as *mut c_char,
        parent.as_ptr() as *mut c_char,
        std::ptr::null_mut(),
    ];
    extern "C" {
        static environ: *const *mut c_char;
    }
    // SAFETY: the file actions and attributes are initialised before use and
    // destroyed after; argv points to C strings that outlive the call;
    // `environ` is the C library's current environment.
    unsafe {
        let mut fa: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut at: libc::posix_spawnattr_t = std::mem::zeroed();
        if libc::posix_spawn_file_actions_init(&mut fa) != 0 {
            return Err(libc::ENOMEM);
        }
        if libc::posix_spawnattr_init(&mut at) != 0 {
            libc::posix_spawn_file_actions_destroy(&mut fa);
            return Err(libc::ENOMEM);
        }
        let mut rc = 0;
        for (i, &src) in srcs.iter().enumerate() {
            if rc == 0 {
                rc = libc::posix_spawn_file_actions_adddup2(&mut fa, src, CALL_FD + i as c_int);
            }
        }
        if rc == 0 {
            rc = libc::posix_spawn_file_actions_addclosefrom_np(&mut fa, RING_FD + 1);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigfillset(&mut all);
        if rc == 0 {
            let flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
            rc = libc::posix_spawnattr_setflags(&mut at, flags as libc::c_short);
        }
        if rc == 0 {
            rc = libc::posix_spawnattr_setsigmask(&mut at, &none);
        }
        if rc == 0 {
            rc = libc::posix_spawnattr_setsigdefault(&mut at, &all);
        }
        let mut pid: libc::pid_t = 0;
        if rc == 0 {
            rc = libc::posix_spawn(&mut pid, program.as_ptr(), &fa, &at, argv.as_ptr(), environ);
        }
        libc::posix_spawnattr_destroy(&mut at);
        libc::posix_spawn_file_actions_destroy(&mut fa);
        if rc != 0 {
            return Err(rc);
        }
        Ok(pid)
    }
}

/// The parent pid read from the command line by the load-time constructor
/// when this process was started as a spawned worker; 0 otherwise.
static STARTED_AS_WORKER: AtomicI32 = AtomicI32::new(0);

/// True when this process was started as a spawn pool's worker (its
/// command line says so), whether or not it entered the worker loop.
pub(crate) fn started_as_worker() -> bool {
    STARTED_AS_WORKER.load(Ordering::Relaxed) != 0
}

/// The parent pid when `args` (a command line) is a spawned worker's.
fn worker_parent(args: &[&CStr]) -> Option<libc::pid_t> {
    if args.len() < 3 || args[1].to_bytes() != WORKER_FLAG.as_bytes() {
        return None;
    }
    let pid: libc::pid_t = args[2].to_str().ok()?.parse().ok()?;
    (pid > 0).then_some(pid)
}

// Not under miri, which calls constructors without glibc's three arguments.
#[cfg(not(miri))]
#[used]
#[link_section = ".init_array"]
static ON_LOAD: unsafe extern "C" fn(c_int, *const *const c_char, *const *const c_char) = on_load;

/// At load time (glibc passes the command line to constructors): a process
/// started as a worker dies with its parent from now on, even if its
/// `main()` never calls `fut_worker_entry` (N9).
#[cfg_attr(miri, allow(dead_code))]
unsafe extern "C" fn on_load(argc: c_int, argv: *const *const c_char, _env: *const *const c_char) {
    if argc < 3 || argv.is_null() {
        return;
    }
    // SAFETY: the C runtime passes `argc` NUL-terminated strings in `argv`.
    let args: Vec<&CStr> = (0..3)
        .map(|i| unsafe { CStr::from_ptr(*argv.add(i)) })
        .collect();
    if let Some(parent) = worker_parent(&args) {
        STARTED_AS_WORKER.store(parent, Ordering::Relaxed);
        sys::die_with_parent(parent);
    }
}

/// `fut_worker_entry`: returns at once unless `args` (the command line;
/// None: the one seen at load time) is a spawned worker's, in which case
/// this process becomes the worker and never returns.
pub fn worker_entry(args: Option<&[&CStr]>) {
    let parent = match args {
        Some(a) => worker_parent(a),
        None => Some(STARTED_AS_WORKER.load(Ordering::Relaxed)).filter(|&p| p != 0),
    };
    if let Some(parent) = parent {
        run_worker(parent)
    }
}

/// Moves an inherited descriptor to `HIGH_FD` or above (close-on-exec: a
/// task's own child processes do not get it).
fn move_high(fd: RawFd) -> RawFd {
    // SAFETY: fcntl and close on the descriptor this process inherited.
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, HIGH_FD) };
    if r < 0 {
        let msg = b"libfutures: a spawned worker was started without its pipes\n";
        // SAFETY: writes a static message to stderr.
        unsafe { libc::write(2, msg.as_ptr() as *const libc::c_void, msg.len()) };
        sys::exit_now(super::worker::EXIT_PIPE);
    }
    sys::close(fd);
    r
}

/// The spawned worker's life: its configuration, then the shared loop.
fn run_worker(parent: libc::pid_t) -> ! {
    sys::die_with_parent(parent);
    let call_fd = move_high(CALL_FD);
    let result_fd = move_high(RESULT_FD);
    let ring_fd = move_high(RING_FD);
    // N9: tells the manager this program entered (a byte on the result
    // pipe, which carries wake-up tokens anyway).
    if sys::write_all(result_fd, b"e").is_err() {
        sys::exit_now(super::worker::EXIT_PIPE);
    }
    let mut payload = Vec::new();
    let (kind, _) = read_frame(call_fd, &mut payload);
    if kind != wire::SETUP {
        sys::exit_now(super::worker::EXIT_PROTOCOL);
    }
    let Ok(setup) = wire::decode_setup(&payload) else {
        sys::exit_now(super::worker::EXIT_PROTOCOL)
    };
    let init_name = (!setup.initializer.is_empty())
        .then(|| Arc::<str>::from(String::from_utf8_lossy(setup.initializer).as_ref()));
    let initializer = init_name
        .as_deref()
        .and_then(crate::task_registry::initializer_by_name);
    let cfg = WorkerConfig {
        initializer,
        initializer_arg: setup.initializer_arg.to_vec(),
        max_tasks: setup.max_tasks as usize,
        by_name: Some(ByName {
            initializer: init_name,
        }),
    };
    worker_main(
        &cfg,
        call_fd,
        result_fd,
        RingSource::Fd(ring_fd),
        parent,
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_command_lines() {
        let ok = [c"prog", c"--libfutures-spawn-worker", c"42"];
        assert_eq!(worker_parent(&ok), Some(42));
        let other = [c"prog", c"--verbose", c"42"];
        assert_eq!(worker_parent(&other), None);
        let bad = [c"prog", c"--libfutures-spawn-worker", c"x"];
        assert_eq!(worker_parent(&bad), None);
        assert_eq!(worker_parent(&[c"prog"]), None);
    }

    #[test]
    fn programs_are_checked() {
        assert_eq!(check_program(c"/nonexistent/x"), Err(libc::ENOENT));
        assert_eq!(check_program(c"/"), Err(libc::EACCES));
        assert!(check_program(SELF_EXE).is_ok());
    }
}
