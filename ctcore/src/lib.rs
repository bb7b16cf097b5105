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
pub mod userspec;
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

/// The whole text of a small file (a /proc, /sys or cgroup file): one
/// open and reads of 8 KiB (`std::fs::read_to_string` first asks the size,
/// which such files report as 0, then reads in steps from 32 bytes: ten
/// calls for a mountinfo that takes three here).
///
/// # Errors
/// The open's or a read's; text that is not UTF-8 is `InvalidData`.
pub fn read_text(path: impl AsRef<std::path::Path>) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match f.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    String::from_utf8(out).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
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

    #[test]
    fn read_text_reads_files_of_any_size() {
        let dir = std::env::temp_dir().join(format!("ctcore-read-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for n in [0usize, 1, 8191, 8192, 8193, 40000] {
            let p = dir.join(n.to_string());
            let text: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            std::fs::write(&p, &text).unwrap();
            assert_eq!(super::read_text(&p).unwrap(), text);
        }
        std::fs::write(dir.join("bad"), [0xff, 0xfe]).unwrap();
        let e = super::read_text(dir.join("bad")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(super::read_text(dir.join("none")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            super::read_text("/proc/self/mountinfo").unwrap(),
            std::fs::read_to_string("/proc/self/mountinfo").unwrap()
        );
    }
}
