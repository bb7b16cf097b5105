//! Test harness of the ctools workspace.
//!
//! * [`bin`]: the path of a built tool binary, from any test package;
//! * [`require_root`] / [`require`]: gates for privileged tests that skip
//!   (and say so) when the condition is missing, and **fail** instead when
//!   `CI` or `CTOOLS_TEST_STRICT` is set;
//! * [`serial`]: a lock held across test processes for tests that mount,
//!   unshare or touch cgroups;
//! * [`probe`]: the static `probe` program that prints JSON about where it
//!   runs, for assertions on a container from outside;
//! * [`Defer`]: cleanup that runs when a test fails too;
//! * [`run_with_timeout`]: run a command, killing it if it hangs.
//!
//! Every privileged gate appends a line (`ran NAME` or `skipped NAME: why`)
//! to the file named by `CTOOLS_TEST_LOG`, so the test command can say how
//! many privileged tests ran.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub use tempfile::{TempDir, tempdir};

pub mod keys;
pub mod minroot;
pub mod vm;

/// The directory holding the built binaries: `CTOOLS_BIN_DIR`, or the
/// profile directory of the running test executable
/// (`target/<profile>/deps/test-xxxx` → `target/<profile>`).
#[must_use]
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CTOOLS_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("test exe has a parent").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// The path of the built binary `name` (for example `"unshare-rs"`).
///
/// # Panics
/// When it has not been built: `cargo test --workspace` builds every
/// binary before any test runs.
#[must_use]
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.is_file(),
        "{} is not built (run `cargo build --workspace` or the README's test command)",
        p.display()
    );
    p
}

/// Bytes of a command's output as text (invalid UTF-8 replaced).
#[must_use]
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The standard output of a command that must have succeeded.
///
/// # Panics
/// When it failed, with its status and both streams.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A `Command` for the built binary `name`.
#[must_use]
pub fn cmd(name: &str) -> Command {
    Command::new(bin(name))
}

/// Whether skips must fail: `CI` or `CTOOLS_TEST_STRICT` is set (and not
/// `0`/`false`).
#[must_use]
pub fn strict() -> bool {
    ["CTOOLS_TEST_STRICT", "CI"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0" && s != "false"))
}

fn log(line: &str) {
    if let Some(path) = std::env::var_os("CTOOLS_TEST_LOG")
        && let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Whether the effective user is root.
#[must_use]
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Gate a privileged test: true when it may go on.  Skips (printing why and
/// returning false) when not root, and panics instead of skipping in strict
/// mode.  Use as `if !cttest::require_root("name") { return; }`.
///
/// # Panics
/// In strict mode, when not root.
#[must_use]
pub fn require_root(test: &str) -> bool {
    require(test, is_root(), "needs root")
}

/// Gate a test on any condition, with the same skip/strict rules and log as
/// [`require_root`].
///
/// # Panics
/// In strict mode, when `ok` is false.
#[must_use]
pub fn require(test: &str, ok: bool, why: &str) -> bool {
    if ok {
        log(&format!("ran {test}"));
        return true;
    }
    log(&format!("skipped {test}: {why}"));
    assert!(
        !strict(),
        "{test}: {why}, and skips are failures in strict mode (CI / CTOOLS_TEST_STRICT)"
    );
    eprintln!("SKIP {test}: {why}");
    false
}

/// `if !require_root!() { return; }` with the enclosing function's name.
#[macro_export]
macro_rules! require_root {
    () => {{
        fn f() {}
        let name = ::std::any::type_name_of_val(&f);
        $crate::require_root(name.strip_suffix("::f").unwrap_or(name))
    }};
}

/// A lock shared by every test process on the machine, by name: hold the
/// guard for the duration of a test that must not overlap with others of
/// the same kind (`"mount"`, `"cgroup"`, `"cpu"` for measurements...).
pub struct Serial {
    _file: std::fs::File,
}

/// Take the machine-wide test lock `name`, waiting for it.
///
/// # Panics
/// When the lock file cannot be opened or locked.
#[must_use]
pub fn serial(name: &str) -> Serial {
    let path = std::env::temp_dir().join(format!("ctools-test-{name}.lock"));
    // flock needs only a read-only descriptor: another user's lock file
    // (root's, say) is shared by opening it for reading.
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .or_else(|_| OpenOptions::new().read(true).open(&path))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if is_root() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666));
    }
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock {}", path.display());
    Serial { _file: file }
}

/// Runs a closure when dropped, so cleanup happens when a test panics too.
pub struct Defer<F: FnOnce()>(Option<F>);

/// Run `f` when the returned guard goes out of scope.
pub fn defer<F: FnOnce()>(f: F) -> Defer<F> {
    Defer(Some(f))
}

impl<F: FnOnce()> Drop for Defer<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// Run a command with piped output, killing it (SIGKILL, by pid) when it
/// runs longer than `limit`: its status (None when it was killed for
/// that), its standard output and its standard error.
///
/// # Panics
/// When the command cannot be started.
pub fn run_until(cmd: &mut Command, limit: Duration) -> (Option<ExitStatus>, Vec<u8>, Vec<u8>) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let start = Instant::now();
    fn reader<R: std::io::Read + Send + 'static>(p: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut p) = p {
                let _ = p.read_to_end(&mut v);
            }
            v
        })
    }
    let out_t = reader(child.stdout.take());
    let err_t = reader(child.stderr.take());
    let status = wait_until(&mut child, start + limit);
    (
        status,
        out_t.join().unwrap_or_default(),
        err_t.join().unwrap_or_default(),
    )
}

/// Wait for a spawned child until `deadline`, killing it (SIGKILL, by pid)
/// then: its status, None when it was killed for that.
///
/// # Panics
/// When the wait fails.
pub fn wait_until(child: &mut std::process::Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Run a command with piped output, killing it (SIGKILL, by pid) when it
/// runs longer than `limit`.
///
/// # Panics
/// When the command cannot be started or it timed out.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    let (status, stdout, stderr) = run_until(cmd, limit);
    let Some(status) = status else {
        panic!("{cmd:?} ran longer than {limit:?}");
    };
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Run a shell snippet (`sh -c`) and return its output.
///
/// # Panics
/// When sh cannot be started.
#[must_use]
pub fn sh(script: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("sh")
}

/// The workspace's root directory.
#[must_use]
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cttest sits in the workspace")
        .to_path_buf()
}

/// The static `probe` binary: `CTOOLS_PROBE`, or built (brought up to date,
/// once per test process) with `+crt-static` for the host target into this
/// target directory.
///
/// # Panics
/// When the build fails.
#[must_use]
pub fn probe() -> PathBuf {
    if let Some(p) = std::env::var_os("CTOOLS_PROBE") {
        return PathBuf::from(p);
    }
    let profile_dir = bin_dir();
    let profile = profile_dir
        .file_name()
        .and_then(OsStr::to_str)
        .unwrap_or("debug")
        .to_string();
    let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
    let triple = "x86_64-unknown-linux-gnu";
    let path = target_dir.join(triple).join(&profile).join("probe");
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let _lock = serial("probe-build");
    if BUILT.set(()).is_ok() {
        let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        c.current_dir(workspace_root())
            .args([
                "build",
                "--quiet",
                "-p",
                "probe",
                "--target",
                triple,
                "--target-dir",
            ])
            .arg(&target_dir)
            .env("RUSTFLAGS", "-C target-feature=+crt-static");
        if profile == "release" {
            c.arg("--release");
        }
        let st = c.status().expect("cargo build probe");
        assert!(st.success(), "building the static probe failed");
    }
    path
}

/// Run the probe with `runner` in front (for example
/// `["unshare-rs", "-u", "--"]`) and parse its JSON.
///
/// # Panics
/// When the command fails or prints no JSON.
#[must_use]
pub fn probe_json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "probe run failed: {:?}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "probe printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The inode number of this process's namespace of `kind` (`"mnt"`,
/// `"pid"`...), to compare with what the probe saw.
#[must_use]
pub fn ns_inode(kind: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/ns/{kind}"))
        .ok()
        .map(|m| m.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defer_runs_on_drop() {
        let flag = std::cell::Cell::new(false);
        {
            let _g = defer(|| flag.set(true));
        }
        assert!(flag.get());
    }

    #[test]
    fn timeout_returns_output() {
        let out = run_with_timeout(
            Command::new("sh").args(["-c", "echo hi; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        );
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    #[should_panic(expected = "ran longer")]
    fn timeout_kills() {
        let _ = run_with_timeout(Command::new("sleep").arg("10"), Duration::from_millis(200));
    }

    #[test]
    fn serial_is_reentrant_across_guards() {
        let a = serial("selftest");
        drop(a);
        let _b = serial("selftest");
    }

    #[test]
    fn ns_inode_of_self() {
        assert!(ns_inode("mnt").is_some());
    }
}
