//! `run` and `exec` in the foreground, as runc: every signal runc-rs gets
//! but SIGCHLD, SIGWINCH (a resize of our terminal) and SIGURG goes to the
//! container's process; with `process.terminal` the pty is relayed to our
//! standard input and output, the first of our stdin, stdout and stderr
//! that is a terminal giving its size to the pty (at the start and on each
//! SIGWINCH) and being in raw mode meanwhile.
//!
//! The handlers are installed before the container is created: a signal
//! that comes before the process is known is kept and sent as soon as it is
//! ([`target`]), as runc buffers them.  Each one is then sent from the
//! handler itself through a pidfd, so nothing is lost between a check and a
//! wait, and nothing reaches a recycled pid once the process is reaped.
//! SIGTTIN and SIGTTOU (the terminal stopping runc-rs itself) and the
//! synchronous faults keep their default action.  A signal ignored when
//! runc-rs started is ignored again in the children ([`child_reset`]), so
//! the container's process gets the dispositions it got before.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

/// The pidfd signals go to (-1 before [`target`]).
static PIDFD: AtomicI32 = AtomicI32::new(-1);
/// The pid signals go to where no pidfd could be opened (0: none yet).
static PID: AtomicI32 = AtomicI32::new(0);
/// Signals caught before the target was known (bit N-1 for signal N).
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Signals that were ignored when runc-rs started.
static IGNORED: AtomicU64 = AtomicU64::new(0);

fn bit(sig: libc::c_int) -> u64 {
    1u64 << (sig - 1)
}

/// The signals forwarded: the standard ones but those the module text
/// names, and the real-time ones the C library leaves to programs.
fn forwarded() -> impl Iterator<Item = libc::c_int> {
    (1..32)
        .filter(|s| {
            !matches!(
                *s,
                libc::SIGKILL
                    | libc::SIGSTOP
                    | libc::SIGCHLD
                    | libc::SIGWINCH
                    | libc::SIGURG
                    | libc::SIGTTIN
                    | libc::SIGTTOU
                    | libc::SIGSEGV
                    | libc::SIGBUS
                    | libc::SIGFPE
                    | libc::SIGILL
                    | libc::SIGTRAP
                    | libc::SIGSYS
            )
        })
        .chain(libc::SIGRTMIN()..=libc::SIGRTMAX().min(64))
}

fn send(sig: libc::c_int) -> bool {
    let fd = PIDFD.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: pidfd_send_signal on our pidfd, no siginfo.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd,
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        return true;
    }
    let pid = PID.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: a signal to the container's process, which we started.
        unsafe { libc::kill(pid, sig) };
        return true;
    }
    false
}

extern "C" fn on_signal(sig: libc::c_int) {
    // SAFETY: errno is thread-local; saved and given back around the call.
    let errno = unsafe { *libc::__errno_location() };
    if !send(sig) {
        PENDING.fetch_or(bit(sig), Ordering::Relaxed);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Catch the forwarded signals (before create: see the module text).
pub fn install() {
    let mut ignored = 0u64;
    for sig in forwarded() {
        // SAFETY: sigaction with structures of ours; the handler only makes
        // async-signal-safe calls and stores to atomics.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigfillset(&raw mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            if libc::sigaction(sig, &raw const sa, &raw mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
            {
                ignored |= bit(sig);
            }
        }
    }
    IGNORED.store(ignored, Ordering::Relaxed);
}

/// In a child before its exec (async-signal-safe): the signals ignored
/// when runc-rs started are ignored again (an exec would reset the others'
/// handlers to the default action).
pub fn child_reset() {
    let ignored = IGNORED.load(Ordering::Relaxed);
    for sig in 1..=64 {
        if ignored & bit(sig) != 0 {
            // SAFETY: signal() is async-signal-safe.
            unsafe { libc::signal(sig, libc::SIG_IGN) };
        }
    }
}

/// From now on the signals go to `pid` (the container's process); those
/// caught meanwhile are sent now, in the order of their numbers.  Returns
/// the pidfd (None where the kernel has none: signals then go by pid).
pub fn target(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open of a pid of ours; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    // The handlers cannot run while the target changes: a signal is then
    // either pending (sent below) or sent by the handler.
    // SAFETY: sigprocmask with sets of ours.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&raw mut all);
        libc::sigprocmask(libc::SIG_BLOCK, &raw const all, &raw mut old);
    }
    if fd >= 0 {
        PIDFD.store(fd, Ordering::Relaxed);
    }
    PID.store(pid, Ordering::Relaxed);
    let pending = PENDING.swap(0, Ordering::Relaxed);
    for sig in 1..=64 {
        if pending & bit(sig) != 0 {
            send(sig);
        }
    }
    // SAFETY: the mask as it was.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &raw const old, std::ptr::null_mut()) };
    // SAFETY: a descriptor just opened, owned from here (kept open while
    // PIDFD names it: the caller holds it until the process is reaped).
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// No target any more (before the pidfd [`target`] returned is closed).
pub fn untarget() {
    PIDFD.store(-1, Ordering::Relaxed);
    PID.store(-1, Ordering::Relaxed);
}

/// The pty master of a foreground container: our terminal's size now,
/// before the process runs (the relay keeps it up to date).
pub fn size_pty(m: &OwnedFd) {
    ctcore::tty::size_from_ours(m.as_raw_fd());
}

/// Relay the pty master `m` to our standard input and output until the
/// process (`pidfd`) has ended or nothing holds the pty's other end.
pub fn relay(m: &OwnedFd, pidfd: Option<&OwnedFd>) {
    ctcore::tty::relay_master(m, pidfd.map(AsRawFd::as_raw_fd));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_signals_are_runcs() {
        let f: Vec<i32> = forwarded().collect();
        for s in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGUSR1,
            libc::SIGQUIT,
        ] {
            assert!(f.contains(&s), "{s}");
        }
        for s in [libc::SIGCHLD, libc::SIGWINCH, libc::SIGURG, libc::SIGKILL] {
            assert!(!f.contains(&s), "{s}");
        }
        assert!(f.contains(&libc::SIGRTMIN()) && f.contains(&libc::SIGRTMAX()));
    }
}
