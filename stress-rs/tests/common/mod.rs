//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The real stress.
pub const STRESS: &str = "/usr/bin/stress";

/// A directory holding a link named `stress` to our binary, so that both
/// tools print `stress:`.
pub struct Ours {
    pub dir: cttest::TempDir,
    pub path: PathBuf,
}

#[must_use]
pub fn ours() -> Ours {
    let dir = cttest::tempdir().unwrap();
    let path = dir.path().join("stress");
    std::os::unix::fs::symlink(cttest::bin("stress-rs"), &path).unwrap();
    Ours { dir, path }
}

/// Mask what differs between runs: `[pid]`, `(line)`, hdd file names,
/// pointers; with `secs`, the seconds of "completed in Ns".
#[must_use]
pub fn mask(text: &str, secs: bool) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let mut l = mask_brackets(line, '[', ']', "[PID]");
        if l.contains(": WARN: ") || l.contains(": FAIL: ") {
            l = mask_first_paren(&l);
        }
        l = mask_names(&l);
        if let Some(i) = l.find("<-- worker ") {
            let after = &l[i + 11..];
            let n = after.chars().take_while(char::is_ascii_digit).count();
            l = format!("{}<-- worker PID{}", &l[..i], &after[n..]);
        }
        if secs && let Some(i) = l.find("completed in ") {
            let tail = &l[i + "completed in ".len()..];
            let digits = tail.chars().take_while(char::is_ascii_digit).count();
            l = format!("{}completed in Ns{}", &l[..i], &tail[digits + 1..]);
        }
        out.push_str(&l);
    }
    out
}

fn mask_brackets(l: &str, open: char, close: char, with: &str) -> String {
    let mut out = String::new();
    let mut rest = l;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + 1..];
        let n = after.chars().take_while(char::is_ascii_digit).count();
        if n > 0 && after[n..].starts_with(close) {
            out.push_str(&rest[..i]);
            out.push_str(with);
            rest = &after[n + 1..];
        } else {
            out.push_str(&rest[..=i]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn mask_first_paren(l: &str) -> String {
    if let Some(i) = l.find("] (") {
        let after = &l[i + 3..];
        let n = after.chars().take_while(char::is_ascii_digit).count();
        if n > 0 && after[n..].starts_with(')') {
            return format!("{}] (LINE){}", &l[..i], &after[n + 1..]);
        }
    }
    l.to_string()
}

fn mask_names(l: &str) -> String {
    let mut out = String::new();
    let mut rest = l;
    while let Some(i) = rest.find("./stress.") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 9..];
        let n = after
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .count()
            .min(6);
        out.push_str("./stress.XXXXXX");
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

/// Sorted distinct lines (for output whose order or repetition depends on
/// timing).
#[must_use]
pub fn distinct(text: &str) -> String {
    let mut v: Vec<&str> = text.lines().collect();
    v.sort_unstable();
    v.dedup();
    v.join("\n")
}

/// A command with the tool at `bin`, as a process-group leader (as from an
/// interactive shell) unless `leader` is false.
#[must_use]
pub fn command(bin: &Path, args: &[&str], cwd: &Path, leader: bool) -> Command {
    let mut c = Command::new(bin);
    c.args(args).current_dir(cwd).stdin(Stdio::null());
    if leader {
        c.process_group(0);
    }
    c
}

/// The pids of `pid`'s children.
#[must_use]
pub fn children(pid: u32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Wait until `pid` has `n` children (at most 20 s).
///
/// # Panics
/// When it does not.
pub fn wait_children(pid: u32, n: usize) -> Vec<i32> {
    let t = Instant::now();
    loop {
        let c = children(pid);
        if c.len() >= n {
            return c;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{pid} never had {n} children"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait for a spawned child, killing it (by pid) after `limit`.
///
/// # Panics
/// When it had to be killed.
pub fn finish(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: killing the child we spawned (and its group if it leads one).
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
                libc::kill(pid as i32, libc::SIGKILL);
            }
            panic!("{pid} ran past {limit:?}");
        }
    }
}

/// Signal a pid.
pub fn kill(pid: i32, sig: i32) {
    // SAFETY: signalling a process this test started.
    unsafe { libc::kill(pid, sig) };
}

/// Whether `pid` still exists (and is not a zombie).
#[must_use]
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, r)| !r.starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Text of an output.
#[must_use]
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
