//! Shared conventions of the ctools workspace.
//!
//! Every tool binary is a thin `main.rs` that calls [`main`] with its clap
//! definition and a `run` function from its library.  This crate implements
//! the conventions of the workspace once:
//!
//! * exit statuses ([`exit`]): 125 the tool failed (usage errors too), 126
//!   PROGRAM found but not executable, 127 PROGRAM not found, otherwise the
//!   status of the program (a signal death is re-raised, see [`wait`]);
//! * errors are one line on stderr, `tool: what failed: why`;
//! * SIGPIPE is restored to its default disposition at start-up, and PROGRAM
//!   is executed through [`std::os::unix::process::CommandExt::exec`]
//!   ([`exec`]);
//! * option parsing stops at PROGRAM ([`cli`]);
//! * size and duration parsers with docker/go-units and stress semantics
//!   ([`units`]);
//! * machine-readable status as JSON ([`json`]);
//! * the hand-written parts of each man page ([`man`]).

pub mod caps;
pub mod cli;
pub mod dev;
pub mod error;
pub mod exec;
pub mod exit;
pub mod json;
pub mod man;
pub mod mountinfo;
pub mod passwd;
pub mod sealed;
pub mod seccomp;
pub mod tty;
pub mod units;
pub mod wait;

pub use cli::main;
pub use error::{Failure, failure, silent};
pub use man::ManExtra;

/// The text of an I/O error without Rust's ` (os error N)` suffix, as C
/// tools print `strerror`.
#[must_use]
pub fn error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// The text of a nix errno, as `strerror` gives it.
#[must_use]
pub fn errno_text(e: nix::errno::Errno) -> String {
    error_text(&std::io::Error::from_raw_os_error(e as i32))
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_text_strips_suffix() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(super::error_text(&e), "No such file or directory");
        assert_eq!(
            super::errno_text(nix::errno::Errno::EPERM),
            "Operation not permitted"
        );
    }
}
