//! `--tty` of chroot-rs and unshare-rs: COMMAND on a pseudo-terminal of its
//! own, from the devpts of the root it runs in (chroot-rs: the instance
//! `--dev` mounts in the new root; unshare-rs: the joined container's),
//! relayed to the tool's standard input and output, as `docker run -t` and
//! `docker exec -t` give a container a terminal.
//!
//! COMMAND is a session leader with the pty as its controlling terminal,
//! so job control, `tty` and terminal sizes work inside; the caller's own
//! terminal (put in raw mode while the relay runs, restored after) never
//! reaches the container.  The tool stays as the relay: it copies bytes
//! both ways, passes window size changes on, forwards SIGTERM, SIGINT,
//! SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to COMMAND, makes itself
//! non-dumpable (so that nothing in the new root can open its descriptors
//! through /proc), and ends as COMMAND ended.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::errno::Errno;

static WINCH: AtomicBool = AtomicBool::new(false);
static PENDING: AtomicI32 = AtomicI32::new(0);

const FORWARDED: [libc::c_int; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGWINCH {
        WINCH.store(true, Ordering::Relaxed);
    } else {
        PENDING.store(sig, Ordering::Relaxed);
    }
}

/// Our terminal: standard input if it is one, else standard output (`-t`
/// without `-i`), else standard error (`-t` whose output a caller copies to a
/// log, as contain's monitor does), else none.
fn our_terminal() -> Option<RawFd> {
    // SAFETY: isatty only inspects the descriptors.
    [libc::STDIN_FILENO, libc::STDOUT_FILENO, libc::STDERR_FILENO]
        .into_iter()
        .find(|&fd| unsafe { libc::isatty(fd) } == 1)
}

fn check(rc: libc::c_int) -> Result<libc::c_int, Errno> {
    if rc < 0 { Err(Errno::last()) } else { Ok(rc) }
}

/// A pseudo-terminal pair: the master, and the path of the slave.
pub struct Pty {
    master: OwnedFd,
    slave: CString,
}

fn copy_size(from: RawFd, to: RawFd) {
    // SAFETY: winsize is plain data; both calls only read or write it.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from, libc::TIOCGWINSZ, &raw mut ws) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &raw const ws);
        }
    }
}

impl Pty {
    /// Open a new pty from the current root's /dev/ptmx (with `--dev`, the
    /// new root's own devpts instance).
    ///
    /// # Errors
    /// The errno of the failing step.
    pub fn open() -> Result<Self, Errno> {
        // SAFETY: a constant path; the result is checked.
        let fd = check(unsafe {
            libc::open(
                c"/dev/ptmx".as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: a descriptor just opened, owned from here.
        let master = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut unlock: libc::c_int = 0;
        let mut n: libc::c_uint = 0;
        // SAFETY: TIOCSPTLCK reads an int, TIOCGPTN writes one.
        unsafe {
            check(libc::ioctl(fd, libc::TIOCSPTLCK, &raw mut unlock))?;
            check(libc::ioctl(fd, libc::TIOCGPTN, &raw mut n))?;
        }
        let slave = CString::new(format!("/dev/pts/{n}")).map_err(|_| Errno::EINVAL)?;
        if let Some(t) = our_terminal() {
            copy_size(t, fd);
        }
        Ok(Self { master, slave })
    }

    /// In the child: a new session whose controlling terminal is the
    /// slave, which becomes standard input, output and error.
    ///
    /// # Errors
    /// The errno of the failing step.
    pub fn attach(&self) -> Result<(), Errno> {
        // SAFETY: plain system calls on descriptors we own; the master is
        // close-on-exec.
        unsafe {
            check(libc::setsid())?;
            let s = check(libc::open(self.slave.as_ptr(), libc::O_RDWR))?;
            check(libc::ioctl(s, libc::TIOCSCTTY, 0))?;
            for to in 0..3 {
                check(libc::dup2(s, to))?;
            }
            if s > 2 {
                libc::close(s);
            }
        }
        Ok(())
    }

    /// In the parent: relay until the terminal closes, then wait for the
    /// child; returns its raw wait status.
    #[must_use]
    pub fn relay(self, child: libc::pid_t) -> libc::c_int {
        let m = self.master.as_raw_fd();
        let term = our_terminal();
        // SAFETY: plain system calls; the handler only stores to atomics.
        unsafe {
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
            for sig in FORWARDED.iter().chain(&[libc::SIGWINCH]) {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                libc::sigemptyset(&raw mut sa.sa_mask);
                // No SA_RESTART: poll returns EINTR and the loop acts.
                libc::sigaction(*sig, &raw const sa, std::ptr::null_mut());
            }
        }
        let saved = raw_mode(term);
        pump(m, term, None, Some(child));
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::waitpid(child, &raw mut status, 0) };
            if r == child || (r < 0 && Errno::last() != Errno::EINTR) {
                break;
            }
            let sig = PENDING.swap(0, Ordering::Relaxed);
            if sig != 0 {
                // SAFETY: as above.
                unsafe { libc::kill(child, sig) };
            }
        }
        restore(saved);
        status
    }
}

fn write_all(fd: RawFd, mut b: &[u8]) -> bool {
    while !b.is_empty() {
        // SAFETY: writing from a live slice.
        let n = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
        if n < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return false;
        }
        b = &b[n.cast_unsigned()..];
    }
    true
}

/// Copy the size of our terminal (standard input or output), if we have
/// one, to the pty master `m`.
pub fn size_from_ours(m: RawFd) {
    if let Some(t) = our_terminal() {
        copy_size(t, m);
    }
}

/// Open a new pty master from the devpts `ptmx` names (a path outside the
/// new root, before the change of root) and unlock it; also returns the
/// slave, opened through the master (TIOCGPTPEER, as runc opens it), both
/// close-on-exec.
///
/// # Errors
/// The errno of the failing step.
pub fn open_pair(ptmx: &std::path::Path) -> Result<(OwnedFd, OwnedFd), Errno> {
    use std::os::unix::ffi::OsStrExt;
    let p = CString::new(ptmx.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: a valid path; the result is checked.
    let fd =
        check(unsafe { libc::open(p.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) })?;
    // SAFETY: a descriptor just opened, owned from here.
    let master = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int; TIOCGPTPEER returns a descriptor.
    let s = unsafe {
        check(libc::ioctl(fd, libc::TIOCSPTLCK, &raw mut unlock))?;
        check(libc::ioctl(
            fd,
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        ))?
    };
    // SAFETY: as above.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    size_from_ours(fd);
    Ok((master, slave))
}

/// In the process that becomes COMMAND: a new session whose controlling
/// terminal is `slave`, which becomes standard input, output and error.
///
/// # Errors
/// The errno of the failing step.
pub fn attach_slave(slave: OwnedFd) -> Result<(), Errno> {
    let s = slave.as_raw_fd();
    // SAFETY: plain system calls on a descriptor we own.
    unsafe {
        check(libc::setsid())?;
        check(libc::ioctl(s, libc::TIOCSCTTY, 0))?;
        for to in 0..3 {
            if s != to {
                check(libc::dup2(s, to))?;
            }
        }
    }
    if s > 2 {
        drop(slave);
    } else {
        std::mem::forget(slave);
    }
    Ok(())
}

/// runc's console socket protocol: `fd` sent over the connected unix
/// socket `sock` as one SCM_RIGHTS descriptor, with `name` as the data.
///
/// # Errors
/// The errno of sendmsg.
pub fn send_fd(sock: RawFd, fd: RawFd, name: &[u8]) -> Result<(), Errno> {
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    let mut cbuf = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: name.as_ptr().cast_mut().cast(),
        iov_len: name.len(),
    };
    // SAFETY: msghdr points at live buffers; the CMSG macros stay in cbuf.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let c = libc::CMSG_FIRSTHDR(&raw const msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>(), fd);
        loop {
            if libc::sendmsg(sock, &raw const msg, libc::MSG_NOSIGNAL) >= 0 {
                return Ok(());
            }
            if Errno::last() != Errno::EINTR {
                return Err(Errno::last());
            }
        }
    }
}

/// Receive one descriptor sent the way [`send_fd`] sends it (runc's
/// console socket), close-on-exec; also returns the data (the name).
///
/// # Errors
/// The errno of recvmsg; `EBADMSG` when no descriptor came.
pub fn recv_fd(sock: RawFd) -> Result<(OwnedFd, Vec<u8>), Errno> {
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    let mut cbuf = vec![0u8; space];
    let mut data = vec![0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr points at live buffers; the CMSG macros stay in cbuf.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let n = loop {
            let n = libc::recvmsg(sock, &raw mut msg, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 {
                break n;
            }
            if Errno::last() != Errno::EINTR {
                return Err(Errno::last());
            }
        };
        let c = libc::CMSG_FIRSTHDR(&raw const msg);
        if c.is_null() || (*c).cmsg_level != libc::SOL_SOCKET || (*c).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(Errno::EBADMSG);
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
        data.truncate(n.cast_unsigned());
        Ok((OwnedFd::from_raw_fd(fd), data))
    }
}

/// Relay the pty master `m` to our standard input and output (our terminal
/// in raw mode meanwhile, its size passed on at the start and on SIGWINCH)
/// until every holder of the slave has closed it, or `ended` (a pidfd)
/// becomes readable: then what the master still holds is copied, and the
/// relay ends.  Other signals are left to the caller's handlers.
pub fn relay_master(m: &OwnedFd, ended: Option<RawFd>) {
    let m = m.as_raw_fd();
    let term = our_terminal();
    // SAFETY: plain system calls; the handler only stores to an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        libc::sigemptyset(&raw mut sa.sa_mask);
        libc::sigaction(libc::SIGWINCH, &raw const sa, std::ptr::null_mut());
    }
    let saved = raw_mode(term);
    if let Some(t) = term {
        copy_size(t, m);
    }
    pump(m, term, ended, None);
    restore(saved);
}

/// Our terminal `term` in raw mode: its attributes before, for [`restore`].
fn raw_mode(term: Option<RawFd>) -> Option<(RawFd, libc::termios)> {
    let fd = term?;
    // SAFETY: termios calls on our terminal with structures of ours.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &raw mut t) != 0 {
            return None;
        }
        let mut raw = t;
        libc::cfmakeraw(&raw mut raw);
        libc::tcsetattr(fd, libc::TCSANOW, &raw const raw);
        Some((fd, t))
    }
}

fn restore(saved: Option<(RawFd, libc::termios)>) {
    if let Some((fd, t)) = saved {
        // SAFETY: restoring the attributes read by raw_mode.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw const t) };
    }
}

/// Copy our standard input to the master `m` and the master to our standard output until
/// every holder of the slave has closed it, or `ended` (a pidfd) becomes readable (then what
/// the master still holds is copied first); our terminal's size follows SIGWINCH, and the
/// signals caught meanwhile go to `child`.
fn pump(m: RawFd, term: Option<RawFd>, ended: Option<RawFd>, child: Option<libc::pid_t>) {
    let mut input_open = true;
    let mut buf = [0u8; 16384];
    loop {
        if WINCH.swap(false, Ordering::Relaxed)
            && let Some(t) = term
        {
            copy_size(t, m);
        }
        let sig = PENDING.swap(0, Ordering::Relaxed);
        if sig != 0
            && let Some(c) = child
        {
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(c, sig) };
        }
        let mut fds = [
            libc::pollfd {
                fd: if input_open { libc::STDIN_FILENO } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: m,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: ended.unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: three valid pollfd entries.
        if unsafe { libc::poll(fds.as_mut_ptr(), 3, -1) } < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            break;
        }
        if fds[1].revents != 0 {
            // SAFETY: reading into our buffer.
            let n = unsafe { libc::read(m, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                if n < 0 && Errno::last() == Errno::EINTR {
                    continue;
                }
                break;
            }
            if !write_all(libc::STDOUT_FILENO, &buf[..n.cast_unsigned()]) {
                break;
            }
        } else if fds[2].revents != 0 {
            // The program ended while something else holds the slave: copy
            // what is left and stop.
            loop {
                let mut p = libc::pollfd {
                    fd: m,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd; a read of what poll saw.
                let n = unsafe {
                    if libc::poll(&raw mut p, 1, 0) <= 0 {
                        break;
                    }
                    libc::read(m, buf.as_mut_ptr().cast(), buf.len())
                };
                if n <= 0 || !write_all(libc::STDOUT_FILENO, &buf[..n.cast_unsigned()]) {
                    break;
                }
            }
            break;
        }
        if input_open && fds[0].revents != 0 {
            // SAFETY: as above.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 && Errno::last() == Errno::EINTR {
                continue;
            }
            if n <= 0 {
                input_open = false;
                let _ = write_all(m, b"\x04");
            } else if !write_all(m, &buf[..n.cast_unsigned()]) {
                input_open = false;
            }
        }
    }
}

/// A path for bind or connect of a unix socket at `path`: itself when it
/// fits in sun_path, else `/proc/self/fd/N/NAME` through an `O_PATH`
/// descriptor of its directory (returned, to be kept until the call).
#[must_use]
pub fn socket_path(path: &std::path::Path) -> (Option<OwnedFd>, std::path::PathBuf) {
    use std::os::unix::ffi::OsStrExt;
    if path.as_os_str().as_bytes().len() < 100 {
        return (None, path.to_path_buf());
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return (None, path.to_path_buf());
    };
    let dir = if dir.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        dir
    };
    let Ok(d) = CString::new(dir.as_os_str().as_bytes()) else {
        return (None, path.to_path_buf());
    };
    // SAFETY: a valid path; the result is checked.
    let fd = unsafe {
        libc::open(
            d.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return (None, path.to_path_buf());
    }
    // SAFETY: a descriptor just opened, owned from here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let p = std::path::Path::new(&format!("/proc/self/fd/{}", fd.as_raw_fd())).join(name);
    (Some(fd), p)
}
