//! Wait statuses: the status a child ended with, and ending the same way.

use nix::sys::signal::{SigHandler, SigSet, Signal, signal};
use nix::sys::wait::WaitStatus;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "how", content = "value")]
pub enum Ended {
    /// It called exit with this status.
    Exited(i32),
    /// A signal killed it (core dumped or not).
    Signaled(i32),
}

impl Ended {
    /// From a nix wait status; `None` for stopped/continued states.
    #[must_use]
    pub fn from_wait(status: WaitStatus) -> Option<Self> {
        match status {
            WaitStatus::Exited(_, code) => Some(Self::Exited(code)),
            WaitStatus::Signaled(_, sig, _) => Some(Self::Signaled(sig as i32)),
            _ => None,
        }
    }

    /// From a raw `waitpid` status word.
    #[must_use]
    pub fn from_raw(status: i32) -> Option<Self> {
        if libc::WIFEXITED(status) {
            Some(Self::Exited(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(Self::Signaled(libc::WTERMSIG(status)))
        } else {
            None
        }
    }

    /// From a std exit status.
    #[must_use]
    pub fn from_std(status: std::process::ExitStatus) -> Option<Self> {
        use std::os::unix::process::ExitStatusExt;
        if let Some(code) = status.code() {
            Some(Self::Exited(code))
        } else {
            status.signal().map(Self::Signaled)
        }
    }

    /// The status a shell shows for it: the exit code, or 128 + signal.
    #[must_use]
    pub fn code(self) -> i32 {
        match self {
            Self::Exited(c) => c,
            Self::Signaled(s) => crate::exit::for_signal(s),
        }
    }
}

/// End this process the way the child ended: exit with its status, or die
/// by the same signal (with its default action, no core file), so that the
/// parent of a fork-and-wait tool sees what it would have seen without it.
/// Falls back to exiting 128+N if the signal does not kill.
pub fn exit_like(ended: Ended) -> ! {
    let _ = std::io::Write::flush(&mut std::io::stdout());
    if let Ended::Signaled(sig) = ended
        && let Ok(signal_) = Signal::try_from(sig)
    {
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain syscalls on our own process; we are about to die.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &raw const no_core);
            let _ = signal(signal_, SigHandler::SigDfl);
        }
        let mut set = SigSet::empty();
        set.add(signal_);
        let _ = set.thread_unblock();
        let _ = nix::sys::signal::raise(signal_);
    }
    std::process::exit(ended.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(Ended::Exited(3).code(), 3);
        assert_eq!(Ended::Signaled(9).code(), 137);
        assert_eq!(Ended::from_raw(7 << 8), Some(Ended::Exited(7)));
        assert_eq!(Ended::from_raw(15), Some(Ended::Signaled(15)));
    }

    #[test]
    fn from_std_status() {
        let st = std::process::Command::new("sh")
            .args(["-c", "kill -TERM $$"])
            .status()
            .unwrap();
        assert_eq!(Ended::from_std(st), Some(Ended::Signaled(15)));
        let st = std::process::Command::new("sh")
            .args(["-c", "exit 4"])
            .status()
            .unwrap();
        assert_eq!(Ended::from_std(st), Some(Ended::Exited(4)));
    }

    #[test]
    fn json_shape() {
        let j = serde_json::to_string(&Ended::Signaled(9)).unwrap();
        assert_eq!(j, r#"{"how":"signaled","value":9}"#);
    }
}
