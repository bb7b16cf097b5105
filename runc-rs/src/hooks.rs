//! OCI hooks: each runs with the container's state (JSON) on its stdin,
//! `path` as the program, `args` as its whole argv (args[0] included),
//! `env` as its whole environment, killed after `timeout` seconds.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use oci_spec::runtime::Hook;

/// Run `hooks` in order with `state` on stdin; the first failure is the
/// error (`kind` names the hook point in it).
///
/// # Errors
/// A hook that cannot start, fails, or times out.
pub fn run(kind: &str, hooks: &[Hook], state: &str) -> Result<()> {
    for h in hooks {
        run_one(kind, h, state)?;
    }
    Ok(())
}

fn run_one(kind: &str, h: &Hook, state: &str) -> Result<()> {
    let path = h.path();
    let mut c = Command::new(path);
    let args = h.args().clone().unwrap_or_default();
    if let Some(a0) = args.first() {
        c.arg0(a0);
    }
    c.args(args.iter().skip(1));
    c.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            c.env(k, v);
        }
    }
    c.stdin(Stdio::piped());
    let mut child = c
        .spawn()
        .map_err(|e| anyhow!("{kind} hook {}: {}", path.display(), ctcore::error_text(&e)))?;
    if let Some(mut i) = child.stdin.take() {
        // A hook that does not read its stdin is no error: no SIGPIPE.
        // SAFETY: single-threaded; the disposition is restored below.
        let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let _ = i.write_all(state.as_bytes());
        drop(i);
        // SAFETY: as above.
        unsafe { libc::signal(libc::SIGPIPE, old) };
    }
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{kind} hook {}: timeout", path.display());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if !status.success() {
        bail!(
            "{kind} hook {} failed: {}",
            path.display(),
            match status.code() {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".into(),
            }
        );
    }
    Ok(())
}
