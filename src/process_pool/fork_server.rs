//! The fork server: a single-threaded child forked by the manager thread when
//! the pool starts, which forks workers on request later on (replacements,
//! max_tasks_per_child, on-demand start). Forking a single-threaded process
//! is safe whatever the host's other threads were doing (X11).
//!
//! Manager ↔ server: a `SOCK_SEQPACKET` socket pair carrying fixed-size
//! `wire::Ctl` messages. `FS_SPAWN` carries the new worker's two pipe ends
//! and its result ring's memfd (SCM_RIGHTS); the server answers `FS_SPAWNED` (pid) or `FS_SPAWN_FAILED`
//! (errno), reports every child's end with `FS_EXITED` (pid, wait status)
//! after reaping it, and on `FS_KILL` signals a child it has not reaped yet
//! (so a recycled pid is never hit). The server watches its children with a
//! signalfd for SIGCHLD (its own signal state, not the host's). When the
//! manager's end closes, it kills and reaps every child left and exits.

use super::ring::Ring;
use super::sys;
use super::wire::{self, Ctl};
use super::worker::{worker_main, RingSource, WorkerConfig};
use std::os::fd::RawFd;

/// The manager's view of its fork server.
pub(crate) struct ForkServer {
    pub pid: libc::pid_t,
    /// pidfd of the server (None where pidfd_open is unavailable).
    pub pidfd: Option<RawFd>,
    /// The manager's end of the control socket (non-blocking).
    pub sock: RawFd,
}

/// Forks the server from the calling (manager) thread. `close_in_child`:
/// the pool's descriptors the server must not hold.
pub(crate) fn start(cfg: &WorkerConfig, close_in_child: &[RawFd]) -> Result<ForkServer, i32> {
    let mut sv = [0 as libc::c_int; 2];
    // SAFETY: `sv` has room for the two descriptors socketpair writes.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            sv.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(sys::errno());
    }
    let (mgr, srv) = (sv[0], sv[1]);
    // SAFETY: getpid cannot fail.
    let parent = unsafe { libc::getpid() };
    // SAFETY: fork; the child only runs `server_main`, which never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = sys::errno();
        sys::close(mgr);
        sys::close(srv);
        return Err(e);
    }
    if pid == 0 {
        let mut close = close_in_child.to_vec();
        close.push(mgr);
        server_main(cfg, srv, parent, &close);
    }
    sys::close(srv);
    let pidfd = sys::pidfd_open(pid).ok();
    if let Err(e) = sys::set_nonblocking(mgr) {
        // SAFETY: our own child, not reaped yet.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        sys::reap_blocking(pid);
        sys::close(mgr);
        if let Some(fd) = pidfd {
            sys::close(fd);
        }
        return Err(e);
    }
    Ok(ForkServer {
        pid,
        pidfd,
        sock: mgr,
    })
}

impl ForkServer {
    /// Asks for a new worker; returns the manager's ends (call write end,
    /// result read end, both non-blocking, and the result ring). The answer
    /// comes later as `FS_SPAWNED` or `FS_SPAWN_FAILED` with `token`.
    pub(crate) fn spawn(&self, token: u64) -> Result<(RawFd, RawFd, Ring), i32> {
        let (ring, ring_fd) = Ring::create()?;
        let pipes = match sys::WorkerPipes::new() {
            Ok(p) => p,
            Err(e) => {
                sys::close(ring_fd);
                return Err(e);
            }
        };
        let sys::WorkerPipes {
            call_r,
            call_w,
            res_r,
            res_w,
        } = pipes;
        let close_all = |e| {
            pipes.close_all();
            sys::close(ring_fd);
            Err(e)
        };
        if let Err(e) = sys::set_nonblocking(call_w).and(sys::set_nonblocking(res_r)) {
            return close_all(e);
        }
        let msg = Ctl {
            op: wire::FS_SPAWN,
            a: 0,
            token,
            b: 0,
        };
        if let Err(e) = send_ctl(self.sock, &msg, &[call_r, res_w, ring_fd]) {
            return close_all(e);
        }
        sys::close(call_r);
        sys::close(res_w);
        sys::close(ring_fd);
        Ok((call_w, res_r, ring))
    }

    /// Asks the server to send `sig` to its child `pid` (if not reaped yet).
    pub(crate) fn kill(&self, pid: libc::pid_t, sig: i32) -> Result<(), i32> {
        let msg = Ctl {
            op: wire::FS_KILL,
            a: sig,
            token: pid as u64,
            b: 0,
        };
        send_ctl(self.sock, &msg, &[])
    }

    /// The next message from the server: Ok(None) when none is waiting,
    /// Err(0) at end of file (the server is gone).
    pub(crate) fn recv(&self) -> Result<Option<Ctl>, i32> {
        let mut buf = [0u8; wire::CTL_LEN];
        loop {
            // SAFETY: reads into a live buffer of the given size.
            let n = unsafe {
                libc::recv(
                    self.sock,
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let e = sys::errno();
                if e == libc::EINTR {
                    continue;
                }
                if e == libc::EAGAIN || e == libc::EWOULDBLOCK {
                    return Ok(None);
                }
                return Err(e);
            }
            if n == 0 {
                return Err(0);
            }
            return Ctl::decode(&buf[..n as usize])
                .map(Some)
                .map_err(|_| libc::EPROTO);
        }
    }
}

/// Sends one control message, with `fds` attached when not empty.
fn send_ctl(sock: RawFd, msg: &Ctl, fds: &[RawFd]) -> Result<(), i32> {
    let bytes = msg.encode();
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // Room for up to three descriptors, aligned for cmsghdr.
    let mut cbuf = [0u64; 8];
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
    mh.msg_iov = &mut iov;
    mh.msg_iovlen = 1;
    if !fds.is_empty() {
        assert!(fds.len() <= 3);
        let data_len = std::mem::size_of_val(fds) as u32;
        // SAFETY: CMSG_SPACE is pure arithmetic.
        let space = unsafe { libc::CMSG_SPACE(data_len) } as usize;
        mh.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        mh.msg_controllen = space;
        // SAFETY: the control buffer is large enough for one cmsghdr with
        // `fds.len()` descriptors (checked by the assert and the buffer size).
        unsafe {
            let cm = libc::CMSG_FIRSTHDR(&mh);
            (*cm).cmsg_level = libc::SOL_SOCKET;
            (*cm).cmsg_type = libc::SCM_RIGHTS;
            (*cm).cmsg_len = libc::CMSG_LEN(data_len) as usize;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr() as *const u8,
                libc::CMSG_DATA(cm),
                data_len as usize,
            );
        }
    }
    loop {
        // SAFETY: `mh` points to live buffers for the duration of the call.
        let n = unsafe { libc::sendmsg(sock, &mh, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(());
        }
        let e = sys::errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// Receives one control message and up to three descriptors (close-on-exec).
/// Ok(None) at end of file.
fn recv_ctl(sock: RawFd) -> Result<Option<(Ctl, Vec<RawFd>)>, i32> {
    let mut buf = [0u8; wire::CTL_LEN];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    let mut cbuf = [0u64; 8];
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
    mh.msg_iov = &mut iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
    mh.msg_controllen = std::mem::size_of_val(&cbuf);
    let n = loop {
        // SAFETY: `mh` points to live buffers for the duration of the call.
        let n = unsafe { libc::recvmsg(sock, &mut mh, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let e = sys::errno();
        if e != libc::EINTR {
            return Err(e);
        }
    };
    if n == 0 {
        return Ok(None);
    }
    let mut fds = Vec::new();
    // SAFETY: walking the control messages the kernel wrote into `cbuf`.
    unsafe {
        let mut cm = libc::CMSG_FIRSTHDR(&mh);
        while !cm.is_null() {
            if (*cm).cmsg_level == libc::SOL_SOCKET && (*cm).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cm);
                let len = (*cm).cmsg_len - libc::CMSG_LEN(0) as usize;
                let count = len / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    let mut fd: RawFd = -1;
                    std::ptr::copy_nonoverlapping(
                        data.add(i * std::mem::size_of::<RawFd>()),
                        &mut fd as *mut RawFd as *mut u8,
                        std::mem::size_of::<RawFd>(),
                    );
                    fds.push(fd);
                }
            }
            cm = libc::CMSG_NXTHDR(&mh, cm);
        }
    }
    match Ctl::decode(&buf[..n]) {
        Ok(c) => Ok(Some((c, fds))),
        Err(_) => {
            for fd in fds {
                sys::close(fd);
            }
            Err(libc::EPROTO)
        }
    }
}

/// The server's state, in the forked child.
struct Server<'a> {
    cfg: &'a WorkerConfig,
    sock: RawFd,
    /// signalfd for SIGCHLD.
    sfd: RawFd,
    /// The signal mask the host thread had (restored in workers).
    old_mask: libc::sigset_t,
    me: libc::pid_t,
    children: Vec<libc::pid_t>,
}

/// The server's whole life (runs in the forked child; never returns).
fn server_main(cfg: &WorkerConfig, sock: RawFd, parent: libc::pid_t, close: &[RawFd]) -> ! {
    // A crash of the server ends it with its signal, as a worker's does
    // (X12): a handler the host installed (a sanitizer's, a crash reporter)
    // would run the host's code here and exit with a status instead (R11).
    // First thing, to keep the window after the fork short.
    sys::default_crash_signals();
    sys::die_with_parent(parent);
    for &fd in close {
        if fd != sock {
            sys::close(fd);
        }
    }
    // SAFETY: plain data and signal-state calls in a single-threaded process.
    let (old_mask, sfd) = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
        let sfd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        (old, sfd)
    };
    if sfd < 0 {
        sys::exit_now(2);
    }
    let mut server = Server {
        cfg,
        sock,
        sfd,
        old_mask,
        // SAFETY: getpid cannot fail.
        me: unsafe { libc::getpid() },
        children: Vec::new(),
    };
    server.run()
}

impl Server<'_> {
    fn run(&mut self) -> ! {
        loop {
            let mut pfd = [
                libc::pollfd {
                    fd: self.sock,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.sfd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: polls two live pollfd entries.
            let r = unsafe { libc::poll(pfd.as_mut_ptr(), 2, -1) };
            if r < 0 {
                if sys::errno() == libc::EINTR {
                    continue;
                }
                sys::exit_now(2);
            }
            if pfd[1].revents != 0 {
                self.reap_children();
            }
            if pfd[0].revents == 0 {
                continue;
            }
            match recv_ctl(self.sock) {
                Ok(Some((ctl, fds))) => self.request(ctl, fds),
                // The manager closed its end (shutdown) or failed.
                Ok(None) | Err(_) => self.stop_all(),
            }
        }
    }

    /// Sends `c` to the manager; if it closed its end (shutdown), stops
    /// and reaps every child left and leaves: a child that ended
    /// unreported must not outlive us as a zombie for our parent's reaper.
    fn reply(&self, c: Ctl) {
        if send_ctl(self.sock, &c, &[]).is_err() {
            self.stop_all();
        }
    }

    /// Drains the signalfd, then reaps and reports every child that ended.
    fn reap_children(&mut self) {
        let mut info = [0u8; 128];
        // SAFETY: reads into a live buffer of the size of signalfd_siginfo.
        while unsafe { libc::read(self.sfd, info.as_mut_ptr() as *mut libc::c_void, 128) } > 0 {}
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes into a live int.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            self.children.retain(|&c| c != pid);
            self.reply(Ctl {
                op: wire::FS_EXITED,
                a: pid,
                token: 0,
                b: status as i64,
            });
        }
    }

    /// Kills and reaps every child left, and leaves.
    fn stop_all(&self) -> ! {
        for &c in &self.children {
            // SAFETY: our own children, not reaped yet.
            unsafe { libc::kill(c, libc::SIGKILL) };
        }
        for &c in &self.children {
            sys::reap_blocking(c);
        }
        sys::exit_now(0)
    }

    /// Handles one request of the manager (with the descriptors it carried).
    fn request(&mut self, ctl: Ctl, fds: Vec<RawFd>) {
        match ctl.op {
            wire::FS_SPAWN if fds.len() == 3 => self.spawn(ctl.token, &fds),
            wire::FS_KILL => {
                let pid = ctl.token as libc::pid_t;
                if self.children.contains(&pid) {
                    // SAFETY: a child of ours that we have not reaped.
                    unsafe { libc::kill(pid, ctl.a) };
                }
            }
            _ => self.reply(Ctl {
                op: wire::FS_SPAWN_FAILED,
                a: libc::EPROTO,
                token: ctl.token,
                b: 0,
            }),
        }
        for fd in fds {
            sys::close(fd);
        }
    }

    /// Forks a worker on the call pipe, result pipe and ring memfd `fds`
    /// (closed here by the caller afterwards) and reports its pid.
    fn spawn(&mut self, token: u64, fds: &[RawFd]) {
        // SAFETY: fork from the server's only thread.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: restores the signal mask the host thread had.
            unsafe { libc::sigprocmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
            let ring = RingSource::Fd(fds[2]);
            let own = [self.sock, self.sfd];
            worker_main(self.cfg, fds[0], fds[1], ring, self.me, &own);
        }
        let e = sys::errno();
        if pid < 0 {
            self.reply(Ctl {
                op: wire::FS_SPAWN_FAILED,
                a: e,
                token,
                b: 0,
            });
        } else {
            self.children.push(pid);
            self.reply(Ctl {
                op: wire::FS_SPAWNED,
                a: pid,
                token,
                b: 0,
            });
        }
    }
}
