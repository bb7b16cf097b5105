//! stress's four message levels, with its exact line format:
//! `prog: tag: [pid] ` then, for WARN and FAIL, `(line) `, then the text.
//!
//! `info` and `dbug` go to stdout, `WARN` and `FAIL` to stderr; each line is
//! written with one `write(2)` (stress flushes after every message), so
//! lines of concurrent workers never mix.

use std::cell::RefCell;

/// Verbosity: `-q` sets 0 (FAIL only), the default is 2 (info), `-v` 3.
pub const QUIET: i32 = 0;
/// The default level.
pub const NORMAL: i32 = 2;
/// The `-v` level.
pub const VERBOSE: i32 = 3;

/// Lines recorded by a capturing log: (fd, bytes).
type Captured = Vec<(i32, Vec<u8>)>;

/// Where messages go, and which ones.
#[derive(Debug)]
pub struct Log {
    /// `basename(argv[0])`, as bytes.
    pub prog: Vec<u8>,
    /// The current verbosity level.
    pub level: i32,
    /// With `--json`, info and dbug lines go to stderr so that stdout holds
    /// only the JSON document.
    pub info_to_stderr: bool,
    capture: Option<RefCell<Captured>>,
}

/// Write all of `buf` to `fd`, retrying on EINTR; other errors are dropped
/// as stdio would (a closed pipe raises SIGPIPE, whose default is restored).
pub fn write_fd(fd: i32, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: writing from a valid buffer of the given length.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        #[allow(clippy::cast_sign_loss)]
        let n = n as usize;
        buf = &buf[n..];
    }
}

impl Log {
    /// A log writing to the process's stdout and stderr.
    #[must_use]
    pub fn new(prog: &[u8]) -> Self {
        Log {
            prog: prog.to_vec(),
            level: NORMAL,
            info_to_stderr: false,
            capture: None,
        }
    }

    /// A log that records lines (fd, bytes) instead of writing them.
    #[must_use]
    pub fn capturing(prog: &[u8]) -> Self {
        Log {
            capture: Some(RefCell::new(Vec::new())),
            ..Log::new(prog)
        }
    }

    /// The lines recorded by a capturing log, as (fd, text).
    #[must_use]
    pub fn captured(&self) -> Vec<(i32, String)> {
        self.capture.as_ref().map_or_else(Vec::new, |c| {
            c.borrow()
                .iter()
                .map(|(fd, b)| (*fd, String::from_utf8_lossy(b).into_owned()))
                .collect()
        })
    }

    /// Emit raw bytes on a descriptor (usage and version text).
    pub fn raw(&self, fd: i32, bytes: &[u8]) {
        match &self.capture {
            Some(c) => c.borrow_mut().push((fd, bytes.to_vec())),
            None => write_fd(fd, bytes),
        }
    }

    fn line(&self, fd: i32, tag: &str, src_line: Option<u32>, msg: &[u8]) {
        // SAFETY: getpid has no preconditions; workers print their own pid.
        let pid = unsafe { libc::getpid() };
        let mut out = Vec::with_capacity(msg.len() + self.prog.len() + 32);
        out.extend_from_slice(&self.prog);
        out.extend_from_slice(format!(": {tag}: [{pid}] ").as_bytes());
        if let Some(l) = src_line {
            out.extend_from_slice(format!("({l}) ").as_bytes());
        }
        out.extend_from_slice(msg);
        out.push(b'\n');
        self.raw(fd, &out);
    }

    fn info_fd(&self) -> i32 {
        if self.info_to_stderr { 2 } else { 1 }
    }

    /// A `dbug` line (level 3).
    pub fn dbug(&self, msg: &[u8]) {
        if self.level >= VERBOSE {
            self.line(self.info_fd(), "dbug", None, msg);
        }
    }

    /// An `info` line (level 2).
    pub fn info(&self, msg: &[u8]) {
        if self.level >= NORMAL {
            self.line(self.info_fd(), "info", None, msg);
        }
    }

    /// A `WARN` line (level 1).
    pub fn warn(&self, src_line: u32, msg: &[u8]) {
        if self.level >= 1 {
            self.line(2, "WARN", Some(src_line), msg);
        }
    }

    /// A `FAIL` line (always).
    pub fn fail(&self, src_line: u32, msg: &[u8]) {
        if self.level >= QUIET {
            self.line(2, "FAIL", Some(src_line), msg);
        }
    }

    /// A `metrc` line of `--metrics` (printed whatever the level: asked for).
    pub fn metrc(&self, msg: &[u8]) {
        self.line(self.info_fd(), "metrc", None, msg);
    }
}

/// `dbug!(log, "fmt", args...)`
#[macro_export]
macro_rules! dbug {
    ($log:expr, $($a:tt)*) => { if $log.level >= $crate::log::VERBOSE { $log.dbug(format!($($a)*).as_bytes()) } };
}

/// `info!(log, "fmt", args...)`
#[macro_export]
macro_rules! info {
    ($log:expr, $($a:tt)*) => { $log.info(format!($($a)*).as_bytes()) };
}

/// `warn!(log, "fmt", args...)`, with our own source line.
#[macro_export]
macro_rules! warn {
    ($log:expr, $($a:tt)*) => { $log.warn(line!(), format!($($a)*).as_bytes()) };
}

/// `fail!(log, "fmt", args...)`, with our own source line.
#[macro_export]
macro_rules! fail {
    ($log:expr, $($a:tt)*) => { $log.fail(line!(), format!($($a)*).as_bytes()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_streams() {
        let mut log = Log::capturing(b"stress");
        let pid = std::process::id();
        dbug!(log, "hidden");
        info!(log, "dispatching hogs: {} cpu", 1);
        warn!(log, "w");
        log.level = QUIET;
        info!(log, "hidden");
        fail!(log, "f {}", 2);
        log.level = VERBOSE;
        dbug!(log, "d");
        let got = log.captured();
        assert_eq!(got.len(), 4);
        assert_eq!(
            got[0],
            (
                1,
                format!("stress: info: [{pid}] dispatching hogs: 1 cpu\n")
            )
        );
        assert!(got[1].1.starts_with(&format!("stress: WARN: [{pid}] (")));
        assert_eq!(got[1].0, 2);
        assert!(got[2].1.ends_with(") f 2\n"), "{:?}", got[2]);
        assert_eq!(got[3], (1, format!("stress: dbug: [{pid}] d\n")));
    }
}
