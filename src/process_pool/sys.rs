//! Thin wrappers over the raw system calls the pool needs.
//!
//! Everything here is usable in a forked child: no allocation except where
//! noted, no lock, no Rust I/O. Errors are plain errno values.

use std::io;
use std::os::fd::RawFd;

/// The errno of the last failed call.
pub(crate) fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// A pipe (read end, write end), both `O_CLOEXEC`.
pub(crate) fn pipe() -> Result<(RawFd, RawFd), i32> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(errno());
    }
    Ok((fds[0], fds[1]))
}

/// The two pipes between the manager and one worker: calls go down `call`
/// (1 MiB buffer); `res` carries only wake-up tokens and the end of file
/// that tells a worker's end (the results travel through its ring).
#[derive(Copy, Clone)]
pub(crate) struct WorkerPipes {
    pub(crate) call_r: RawFd,
    pub(crate) call_w: RawFd,
    pub(crate) res_r: RawFd,
    pub(crate) res_w: RawFd,
}

impl WorkerPipes {
    pub(crate) fn new() -> Result<WorkerPipes, i32> {
        let (call_r, call_w) = pipe()?;
        let (res_r, res_w) = match pipe() {
            Ok(p) => p,
            Err(e) => {
                close(call_r);
                close(call_w);
                return Err(e);
            }
        };
        grow_pipe(call_w, 1 << 20);
        Ok(WorkerPipes {
            call_r,
            call_w,
            res_r,
            res_w,
        })
    }

    pub(crate) fn close_all(&self) {
        for fd in [self.call_r, self.call_w, self.res_r, self.res_w] {
            close(fd);
        }
    }
}

/// Best effort: grows a pipe's buffer (1 MiB speeds up large payloads).
pub(crate) fn grow_pipe(fd: RawFd, size: i32) {
    // SAFETY: fcntl on a descriptor we own; failure is harmless.
    unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, size) };
}

pub(crate) fn set_nonblocking(fd: RawFd) -> Result<(), i32> {
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(errno());
    }
    Ok(())
}

pub(crate) fn close(fd: RawFd) {
    if fd >= 0 {
        // SAFETY: closing a descriptor the caller owns; EINTR still closes it on Linux.
        unsafe { libc::close(fd) };
    }
}

/// A non-blocking, close-on-exec eventfd (counter starts at 0).
pub(crate) fn eventfd() -> Result<RawFd, i32> {
    // SAFETY: plain system call.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        Err(errno())
    } else {
        Ok(fd)
    }
}

/// Adds 1 to an eventfd; never blocks (EAGAIN only when the counter is huge,
/// which still leaves it readable).
pub(crate) fn eventfd_signal(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64.
    unsafe { libc::write(fd, &one as *const u64 as *const libc::c_void, 8) };
}

/// Resets an eventfd's counter.
pub(crate) fn eventfd_drain(fd: RawFd) {
    let mut v: u64 = 0;
    // SAFETY: reads 8 bytes into a live u64.
    unsafe { libc::read(fd, &mut v as *mut u64 as *mut libc::c_void, 8) };
}

/// `pidfd_open(pid)`, close-on-exec by definition. Err(ENOSYS) where the
/// kernel (or valgrind) lacks it.
pub(crate) fn pidfd_open(pid: libc::pid_t) -> Result<RawFd, i32> {
    use std::sync::atomic::{AtomicBool, Ordering};
    // Once ENOSYS, always ENOSYS: do not ask again (valgrind warns each time).
    static MISSING: AtomicBool = AtomicBool::new(false);
    if MISSING.load(Ordering::Relaxed) {
        return Err(libc::ENOSYS);
    }
    // SAFETY: plain system call with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let e = errno();
        if e == libc::ENOSYS {
            MISSING.store(true, Ordering::Relaxed);
        }
        Err(e)
    } else {
        Ok(fd as RawFd)
    }
}

/// `pidfd_send_signal(pidfd, sig)`.
pub(crate) fn pidfd_send_signal(pidfd: RawFd, sig: i32) -> Result<(), i32> {
    // SAFETY: plain system call; NULL siginfo is allowed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Writes all of `buf` to a blocking descriptor (retries EINTR).
pub(crate) fn write_all(fd: RawFd, mut buf: &[u8]) -> Result<(), i32> {
    while !buf.is_empty() {
        // SAFETY: `buf` is readable for its length.
        let n = unsafe { libc::write(fd, buf.as_ptr() as *const libc::c_void, buf.len()) };
        if n < 0 {
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// Fills `buf` from a blocking descriptor. Ok(false) on end of file before
/// the first byte; end of file in the middle is `EPIPE`.
pub(crate) fn read_exact(fd: RawFd, buf: &mut [u8]) -> Result<bool, i32> {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: the destination is the unfilled tail of `buf`.
        let n = unsafe {
            libc::read(
                fd,
                buf[got..].as_mut_ptr() as *mut libc::c_void,
                buf.len() - got,
            )
        };
        if n < 0 {
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return if got == 0 {
                Ok(false)
            } else {
                Err(libc::EPIPE)
            };
        }
        got += n as usize;
    }
    Ok(true)
}

/// A close-on-exec memfd of `size` zero bytes.
pub(crate) fn memfd(name: &std::ffi::CStr, size: usize) -> Result<RawFd, i32> {
    // SAFETY: `name` is a valid C string; plain system call.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: ftruncate on the descriptor just created.
    if unsafe { libc::ftruncate(fd, size as libc::off_t) } != 0 {
        let e = errno();
        close(fd);
        return Err(e);
    }
    Ok(fd)
}

/// Maps `len` bytes of `fd` shared, readable and writable.
pub(crate) fn map_shared(fd: RawFd, len: usize) -> Result<*mut u8, i32> {
    // SAFETY: a fresh mapping chosen by the kernel; no existing memory is
    // affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok(p as *mut u8)
    }
}

/// Keeps the mapping at `base` (`len` bytes) out of children forked later.
/// Best effort: a kernel that refuses only costs isolation, not function.
pub(crate) fn dont_fork(base: *mut u8, len: usize) {
    // SAFETY: `base`/`len` describe a live mapping of ours; MADV_DONTFORK
    // changes only what a later fork copies, not this process's memory.
    unsafe { libc::madvise(base as *mut libc::c_void, len, libc::MADV_DONTFORK) };
}

/// Maps `len` zero bytes shared with the children forked later.
pub(crate) fn map_shared_anonymous(len: usize) -> Result<*mut u8, i32> {
    // SAFETY: a fresh mapping chosen by the kernel; no existing memory is
    // affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok(p as *mut u8)
    }
}

/// Unmaps what `map_shared` or `map_shared_anonymous` mapped.
pub(crate) fn unmap(p: *mut u8, len: usize) {
    // SAFETY: the caller owns the mapping and no reference into it remains.
    unsafe { libc::munmap(p as *mut libc::c_void, len) };
}

/// Sleeps while `*word == val`, at most `timeout_ms`; false on time-out.
/// Not a private futex: the word may live in memory shared with another
/// process.
pub(crate) fn futex_wait(word: &std::sync::atomic::AtomicU32, val: u32, timeout_ms: u64) -> bool {
    let ts = libc::timespec {
        tv_sec: (timeout_ms / 1000) as libc::time_t,
        tv_nsec: ((timeout_ms % 1000) * 1_000_000) as libc::c_long,
    };
    // SAFETY: futex on a live, aligned u32; the timeout is a live timespec.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            val,
            &ts as *const libc::timespec,
        )
    };
    !(r < 0 && errno() == libc::ETIMEDOUT)
}

/// Wakes one waiter of `futex_wait` on `word`.
pub(crate) fn futex_wake(word: &std::sync::atomic::AtomicU32) {
    // SAFETY: futex on a live, aligned u32.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1) };
}

/// True when the read end of the pipe whose write end is `fd` is closed.
pub(crate) fn pipe_reader_gone(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: polls one live pollfd without blocking.
    let r = unsafe { libc::poll(&mut pfd, 1, 0) };
    r > 0 && pfd.revents & libc::POLLERR != 0
}

/// Leaves the process at once: no atexit handler, no Rust destructor.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// Child side of a fork: dies with the forking thread (SIGKILL), and exits
/// at once if the parent is already gone (the race PR_SET_PDEATHSIG leaves).
pub(crate) fn die_with_parent(parent: libc::pid_t) {
    // SAFETY: prctl with integer arguments; getppid cannot fail.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        if libc::getppid() != parent {
            libc::_exit(1);
        }
    }
}

/// Signals whose default action is to end the process with a core: a worker
/// gets their default action back so that a crash is reported with its
/// signal, even when the host (or a sanitizer) installed a handler.
pub(crate) const CRASH_SIGNALS: [i32; 7] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGABRT,
    libc::SIGSYS,
    libc::SIGTRAP,
];

/// Restores the default action of the crash signals and unblocks them.
pub(crate) fn default_crash_signals() {
    // SAFETY: sigset_t is plain data; the calls only read and write it and
    // change this process's signal state (we are single-threaded here).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in CRASH_SIGNALS {
            libc::signal(s, libc::SIG_DFL);
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// The name of a signal, e.g. "SIGSEGV"; "signal" when unknown.
pub(crate) fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSTKFLT => "SIGSTKFLT",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        libc::SIGPWR => "SIGPWR",
        libc::SIGSYS => "SIGSYS",
        _ => "signal",
    }
}

/// How a process ended, from a `waitpid` status: "killed by signal 11
/// (SIGSEGV)" or "exit status 3". None: status unknown (reaped by someone
/// else, or not reported by a silent fork server).
pub(crate) fn describe_status(status: Option<i32>) -> String {
    match status {
        None => "ended (status unavailable)".to_string(),
        Some(st) if libc::WIFSIGNALED(st) => {
            let sig = libc::WTERMSIG(st);
            format!("killed by signal {sig} ({})", signal_name(sig))
        }
        Some(st) if libc::WIFEXITED(st) => {
            format!("exit status {}", libc::WEXITSTATUS(st))
        }
        Some(st) => format!("ended with wait status {st:#x}"),
    }
}

/// Reaps our own child `pid` if it has ended: Ok(Some(status)), Ok(None)
/// while it runs, Err(ECHILD) if someone else reaped it.
pub(crate) fn try_reap(pid: libc::pid_t) -> Result<Option<i32>, i32> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status into a live int.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Ok(Some(status));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// True when process `pid` is stopped (SIGSTOP and the like): state `T`
/// or `t` in `/proc/PID/stat`.
pub(crate) fn is_stopped(pid: libc::pid_t) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which ends with the last ')'.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next());
    matches!(state, Some('T') | Some('t'))
}

/// Waits up to `ms` milliseconds for `fd` to become readable.
pub(crate) fn wait_readable(fd: RawFd, ms: i32) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: polls one live pollfd.
    unsafe { libc::poll(&mut pfd, 1, ms) };
}

/// Reaps our own child `pid`, blocking.
pub(crate) fn reap_blocking(pid: libc::pid_t) -> Option<i32> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status into a live int.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Some(status);
        }
        if errno() != libc::EINTR {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_texts() {
        // A wait status for "killed by SIGSEGV" is the signal number itself.
        assert_eq!(
            describe_status(Some(libc::SIGSEGV)),
            "killed by signal 11 (SIGSEGV)"
        );
        assert_eq!(describe_status(Some(3 << 8)), "exit status 3");
        assert_eq!(signal_name(libc::SIGKILL), "SIGKILL");
    }

    #[test]
    fn pipes_carry_bytes() {
        let (r, w) = pipe().unwrap();
        write_all(w, b"hello").unwrap();
        close(w);
        let mut buf = [0u8; 5];
        assert!(read_exact(r, &mut buf).unwrap());
        assert_eq!(&buf, b"hello");
        assert!(!read_exact(r, &mut buf).unwrap());
        close(r);
    }

    #[test]
    fn eventfd_coalesces() {
        let fd = eventfd().unwrap();
        eventfd_signal(fd);
        eventfd_signal(fd);
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64.
        let n = unsafe { libc::read(fd, &mut v as *mut u64 as *mut libc::c_void, 8) };
        assert_eq!(n, 8);
        assert_eq!(v, 2);
        eventfd_drain(fd); // empty: EAGAIN, never blocks
        close(fd);
    }
}
