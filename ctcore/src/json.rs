//! Machine-readable status as JSON, one object a line.
//!
//! Tools that report state (`--json`, `--json-status FD`) write one JSON
//! object per line with serde_json, so a script can read them with `jq` or
//! a line loop.

use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, RawFd};

use anyhow::Context;

/// A writer for JSON status lines on a file descriptor given on the command
/// line (`--json-status 3`).  The descriptor is marked close-on-exec so that
/// PROGRAM does not inherit it.
pub struct StatusFd {
    file: File,
}

impl StatusFd {
    /// Take ownership of `fd`.
    ///
    /// # Errors
    /// When `fd` is not an open descriptor.
    pub fn new(fd: RawFd) -> anyhow::Result<Self> {
        // SAFETY: fcntl on an arbitrary integer is harmless; it fails with
        // EBADF when the descriptor is not open.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            let e = std::io::Error::last_os_error();
            anyhow::bail!("status descriptor {fd}: {}", crate::error_text(&e));
        }
        let fd = if fd <= 2 {
            // Standard streams stay PROGRAM's: write status to a duplicate
            // (close-on-exec), leaving the stream itself as it is.
            // SAFETY: duplicating an open descriptor.
            let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
            if dup < 0 {
                let e = std::io::Error::last_os_error();
                anyhow::bail!("status descriptor {fd}: {}", crate::error_text(&e));
            }
            dup
        } else {
            // SAFETY: as above; setting FD_CLOEXEC on an open descriptor.
            unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
            fd
        };
        // SAFETY: the caller hands this descriptor to us (or it is our own
        // duplicate); it is open.
        let file = unsafe { File::from_raw_fd(fd) };
        Ok(Self { file })
    }

    /// Write one object as a line.
    ///
    /// # Errors
    /// When the write fails.
    pub fn write(&mut self, value: &serde_json::Value) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(value)?;
        line.push(b'\n');
        self.file.write_all(&line).context("writing status")?;
        Ok(())
    }
}

/// Print `value` on stdout as pretty JSON followed by a newline.
///
/// # Errors
/// When stdout cannot be written.
pub fn print_pretty(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::IntoRawFd;

    #[test]
    fn writes_lines_to_fd() {
        let (mut r, w) = std::io::pipe().unwrap();
        let mut s = StatusFd::new(w.into_raw_fd()).unwrap();
        s.write(&serde_json::json!({"child-pid": 42})).unwrap();
        s.write(&serde_json::json!({"exit-code": 0})).unwrap();
        drop(s);
        let mut text = String::new();
        r.read_to_string(&mut text).unwrap();
        assert_eq!(text, "{\"child-pid\":42}\n{\"exit-code\":0}\n");
    }

    #[test]
    fn bad_fd_is_an_error() {
        let e = StatusFd::new(987_654).err().unwrap();
        assert_eq!(
            e.to_string(),
            "status descriptor 987654: Bad file descriptor"
        );
    }
}
