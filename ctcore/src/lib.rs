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

/// The absolute path, without symbolic links, of `path` as the kernel names
/// it once opened (an `O_PATH` descriptor, `O_DIRECTORY` too when `dir`, and
/// its /proc/self/fd link: two calls where `realpath(3)` reads the link of
/// each component in turn).  `None` where it cannot be opened or that name
/// is no plain absolute path (no /proc, outside this root, removed).
#[must_use]
pub fn opened_path(path: &std::path::Path, dir: bool) -> Option<std::path::PathBuf> {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let flags = if dir {
        libc::O_PATH | libc::O_DIRECTORY
    } else {
        libc::O_PATH
    };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .ok()?;
    let c = std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd())).ok()?;
    let b = c.as_os_str().as_encoded_bytes();
    (b.starts_with(b"/") && !b.ends_with(b" (deleted)")).then_some(c)
}

/// `std::fs::canonicalize` in two calls where /proc names the opened path
/// ([`opened_path`]); canonicalize itself otherwise.
///
/// # Errors
/// canonicalize's: a path that does not exist or cannot be reached.
pub fn real_path(path: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    opened_path(path, false).map_or_else(|| std::fs::canonicalize(path), Ok)
}

/// The text of a nix errno, as `strerror` gives it.
#[must_use]
pub fn errno_text(e: nix::errno::Errno) -> String {
    error_text(&std::io::Error::from_raw_os_error(e as i32))
}

#[cfg(test)]
mod tests {
    use std::fs;

    /// real_path resolves links as canonicalize does, and fails as it does.
    #[test]
    fn real_path_is_canonicalize() {
        let t = cttest::tempdir().unwrap();
        let d = t.path().join("a/b");
        fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::symlink("a/b", t.path().join("l")).unwrap();
        std::os::unix::fs::symlink("../../a", d.join("up")).unwrap();
        for p in [
            t.path().join("l"),
            t.path().join("l/up/b/./up"),
            t.path().join("a/../l/"),
        ] {
            assert_eq!(
                super::real_path(&p).unwrap(),
                fs::canonicalize(&p).unwrap(),
                "{p:?}"
            );
        }
        assert!(super::real_path(&t.path().join("missing")).is_err());
        assert!(super::real_path(&t.path().join("l/missing")).is_err());
    }

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
