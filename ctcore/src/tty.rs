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
/// without `-i`), else none.
fn our_terminal() -> Option<RawFd> {
    // SAFETY: isatty only inspects the descriptors.
    [libc::STDIN_FILENO, libc::STDOUT_FILENO]
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
        let saved = unsafe {
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
            for sig in FORWARDED.iter().chain(&[libc::SIGWINCH]) {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                libc::sigemptyset(&raw mut sa.sa_mask);
                // No SA_RESTART: poll returns EINTR and the loop acts.
                libc::sigaction(*sig, &raw const sa, std::ptr::null_mut());
            }
            let mut t: libc::termios = std::mem::zeroed();
            match term {
                Some(fd) if libc::tcgetattr(fd, &raw mut t) == 0 => {
                    let mut raw = t;
                    libc::cfmakeraw(&raw mut raw);
                    libc::tcsetattr(fd, libc::TCSANOW, &raw const raw);
                    Some((fd, t))
                }
                _ => None,
            }
        };
        let mut input_open = true;
        let mut buf = [0u8; 16384];
        loop {
            if WINCH.swap(false, Ordering::Relaxed)
                && let Some(t) = term
            {
                copy_size(t, m);
            }
            let sig = PENDING.swap(0, Ordering::Relaxed);
            if sig != 0 {
                // SAFETY: signalling our own child by pid.
                unsafe { libc::kill(child, sig) };
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
            ];
            // SAFETY: two valid pollfd entries.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
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
                    // EIO: every holder of the slave has closed it.
                    break;
                }
                if !write_all(libc::STDOUT_FILENO, &buf[..n.cast_unsigned()]) {
                    break;
                }
            }
            if input_open && fds[0].revents != 0 {
                // SAFETY: as above.
                let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 && Errno::last() == Errno::EINTR {
                    continue;
                }
                if n <= 0 {
                    // End of our input: the terminal's end-of-file character.
                    input_open = false;
                    let _ = write_all(m, b"\x04");
                } else if !write_all(m, &buf[..n.cast_unsigned()]) {
                    input_open = false;
                }
            }
        }
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
        if let Some((fd, t)) = saved {
            // SAFETY: restoring the attributes read above.
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw const t) };
        }
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
