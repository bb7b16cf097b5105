//! Real kernel behaviour, as root: the document's memory experiment in a
//! 64 MiB v1 memory cgroup (OOM kill reported, 60M survives), and the CPU
//! time two cpu workers use.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Our own v1 memory cgroup directory, from /proc/self/cgroup.
fn own_memory_cgroup() -> Option<PathBuf> {
    own_cgroup("memory").filter(|d| d.join("memory.limit_in_bytes").exists())
}

/// A 64 MiB memory cgroup beneath ours, removed (its processes killed
/// first) when dropped.
struct TestCgroup {
    dir: PathBuf,
}

impl TestCgroup {
    fn new(parent: &Path, tag: &str) -> TestCgroup {
        let dir = parent.join(format!("ctools-test-stress-{}-{tag}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        let cg = TestCgroup { dir };
        std::fs::write(cg.dir.join("memory.limit_in_bytes"), "64M").unwrap();
        let memsw = cg.dir.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            let _ = std::fs::write(memsw, "64M");
        }
        cg
    }

    /// `sh` that joins the cgroup, then execs `bin args`.
    fn command(&self, bin: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("/bin/sh");
        c.arg("-c")
            .arg(r#"echo $$ > "$0/cgroup.procs" && exec "$@""#)
            .arg(&self.dir)
            .arg(bin)
            .args(args)
            .stdin(Stdio::null());
        c
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            for pid in std::fs::read_to_string(self.dir.join("cgroup.procs"))
                .unwrap_or_default()
                .split_whitespace()
            {
                if let Ok(p) = pid.parse::<i32>() {
                    kill(p, libc::SIGKILL);
                }
            }
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("could not remove {}", self.dir.display());
    }
}

#[test]
fn oom_kill_in_64m_memory_cgroup_is_reported() {
    if !cttest::require_root("stress-rs::kernel::oom_kill_in_64m_memory_cgroup_is_reported") {
        return;
    }
    let Some(parent) = own_memory_cgroup() else {
        assert!(!cttest::strict(), "no v1 memory cgroup");
        return;
    };
    let _lock = cttest::serial("cgroup");
    let cg = TestCgroup::new(&parent, "oom");
    let ours = cttest::bin("stress-rs");
    let out = cttest::run_with_timeout(
        &mut cg.command(
            &ours,
            &["--vm", "1", "--vm-bytes", "100M", "--vm-hang", "0"],
        ),
        Duration::from_secs(60),
    );
    let se = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{se}");
    assert_eq!(out.status.code(), Some(1), "{se}");
    assert!(se.contains("got signal 9"), "{se}");
    assert!(
        se.contains("was killed by the OOM killer: memory cgroup /"),
        "{se}"
    );
    assert!(se.contains("is limited to 64M (67108864 bytes)"), "{se}");
    assert!(se.contains("failed run completed in"), "{se}");
    let lines: Vec<&str> = se.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains("got signal 9"))
        .unwrap();
    assert!(lines[i + 1].contains("OOM killer"), "{se}");
    drop(cg);

    // 60M fits: it keeps running until its timeout.
    let cg = TestCgroup::new(&parent, "fit");
    let out = cttest::run_with_timeout(
        &mut cg.command(&ours, &["--vm", "1", "--vm-bytes", "60M", "-t", "3"]),
        Duration::from_secs(60),
    );
    let (so, se) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{se}");
    assert!(so.contains("successful run completed in"), "{so}");
    assert!(!se.contains("OOM"), "{se}");
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// Spawn stress-rs quietly with `args` (reaped by [`wait_cpu`]).
#[allow(clippy::zombie_processes)]
fn spawn_quiet(args: &[&str]) -> i32 {
    let child = Command::new(cttest::bin("stress-rs"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    i32::try_from(child.id()).unwrap()
}

/// wait4 a child: (user, system) seconds of it and the workers it waited
/// for, from the kernel's process accounting.
fn wait_cpu(pid: i32) -> (f64, f64) {
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child.
    let r = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut ru) };
    assert_eq!(r, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status:#x}"
    );
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

#[test]
fn two_cpu_workers_use_about_two_cores() {
    if !cttest::require_root("stress-rs::kernel::two_cpu_workers_use_about_two_cores") {
        return;
    }
    let _lock = cttest::serial("cpu");
    // The machine is shared, so two workers get two cores only when it is
    // idle.  Alongside, a one-worker run is the yardstick: the scheduler
    // gives every busy task the same share, so `--cpu 2` must get about
    // twice the CPU time of `--cpu 1` at any load (on an idle two-core
    // machine: 3 tasks on 2 cores, 4/3 vs 2/3 core).
    let t = Instant::now();
    let two = spawn_quiet(&["-q", "--cpu", "2", "-t", "3"]);
    let one = spawn_quiet(&["-q", "--cpu", "1", "-t", "3"]);
    let (u2, s2) = wait_cpu(two);
    let (u1, s1) = wait_cpu(one);
    let wall = t.elapsed().as_secs_f64();
    let (c2, c1) = (u2 + s2, u1 + s1);
    let ratio = c2 / c1;
    eprintln!(
        "--cpu 2: {c2:.2} CPU-s ({:.2} cores), --cpu 1: {c1:.2} CPU-s, ratio {ratio:.2}, wall {wall:.2}s",
        c2 / wall
    );
    assert!(
        ratio > 1.4 && ratio < 2.8,
        "--cpu 2 used {ratio:.2} times the CPU time of --cpu 1"
    );
    assert!(c2 / wall < 2.2, "more than two cores");
    // User time dominates: the loop makes no system calls.
    assert!(u2 > 5.0 * s2);
}

/// Our own v1 cgroup directory of `ctrl`, from /proc/self/cgroup.
fn own_cgroup(ctrl: &str) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, c, p) = (f.next()?, f.next()?, f.next()?);
        c.split(',').any(|c| c == ctrl).then(|| p.to_string())
    })?;
    let dir = Path::new("/sys/fs/cgroup")
        .join(ctrl)
        .join(path.trim_start_matches('/'));
    dir.join("cgroup.procs").exists().then_some(dir)
}

#[test]
fn fork_failure_matches_stress() {
    if !cttest::require_root("stress-rs::kernel::fork_failure_matches_stress") {
        return;
    }
    if !cttest::require(
        "stress-rs::kernel::fork_failure_matches_stress",
        Path::new(STRESS).exists(),
        "needs stress",
    ) {
        return;
    }
    let Some(parent) = own_cgroup("pids") else {
        assert!(!cttest::strict(), "no v1 pids cgroup");
        return;
    };
    let _lock = cttest::serial("cgroup");
    let dir = parent.join(format!("ctools-test-stress-{}-fork", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let _cleanup = cttest::defer({
        let dir = dir.clone();
        move || {
            for _ in 0..50 {
                for pid in std::fs::read_to_string(dir.join("cgroup.procs"))
                    .unwrap_or_default()
                    .split_whitespace()
                {
                    if let Ok(p) = pid.parse::<i32>() {
                        kill(p, libc::SIGKILL);
                    }
                }
                if std::fs::remove_dir(&dir).is_ok() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    // The tool and two workers fit; the third and fourth forks fail.
    std::fs::write(dir.join("pids.max"), "3").unwrap();
    let ours = ours();
    let run = |bin: &Path| {
        let mut c = Command::new("/bin/sh");
        c.arg("-c")
            .arg(r#"echo $$ > "$0/cgroup.procs" && exec "$@""#)
            .arg(&dir)
            .arg(bin)
            .args(["-n", "-c", "4", "--backoff", "100000", "-v"])
            .stdin(Stdio::null());
        cttest::run_with_timeout(&mut c, Duration::from_secs(30))
    };
    let a = run(Path::new(STRESS));
    let b = run(&ours.path);
    let se = text(&b.stderr);
    assert!(
        se.contains("fork failed: Resource temporarily unavailable"),
        "{se}"
    );
    assert_eq!(mask(&text(&a.stdout), true), mask(&text(&b.stdout), true));
    assert_eq!(mask(&text(&a.stderr), true), mask(&se, true));
    assert_eq!(a.status.code(), b.status.code());
    assert_eq!(b.status.code(), Some(0));
}
