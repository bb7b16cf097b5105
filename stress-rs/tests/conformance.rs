//! Conformance with the real stress 1.0.7 (Debian's package `stress`): run
//! both on a matrix of invocations and compare stdout, stderr (pids, line
//! numbers and file names masked) and exit codes.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::*;

/// How to compare one case.
#[derive(Clone, Copy, PartialEq)]
enum Cmp {
    /// Exactly, after masking.
    Exact,
    /// Also masking the seconds of the closing line (timed runs).
    Secs,
    /// Sorted distinct lines, seconds masked (workers print concurrently).
    Distinct,
}

fn compare(label: &str, a: &Output, b: &Output, how: Cmp, diffs: &mut Vec<String>) {
    let norm = |t: &[u8], stream: &str| {
        // The one line our help adds (stress 1.0.7 accepts no --hdd-noclean; we keep
        // stress <= 1.0.2's, which the document lists): the rest must match.
        let m = mask(&text(t), how != Cmp::Exact).replace(
            "     --hdd-noclean  do not unlink files created by hdd workers\n",
            "",
        );
        if how == Cmp::Distinct && stream == "stdout" {
            distinct(&m)
        } else {
            m
        }
    };
    for (stream, x, y) in [
        ("stdout", &a.stdout, &b.stdout),
        ("stderr", &a.stderr, &b.stderr),
    ] {
        let (x, y) = (norm(x, stream), norm(y, stream));
        if x != y {
            diffs.push(format!(
                "{label}: {stream} differs\n--- stress\n{x}\n--- stress-rs\n{y}"
            ));
        }
    }
    if a.status.code() != b.status.code() {
        diffs.push(format!(
            "{label}: exit {:?} (stress) vs {:?} (stress-rs)",
            a.status.code(),
            b.status.code()
        ));
    }
}

fn run_both(
    ours: &Ours,
    cwd: &Path,
    wrap: Option<&str>,
    args: &[&str],
    how: Cmp,
    diffs: &mut Vec<String>,
) -> (Output, Output) {
    let mk = |bin: &Path| -> Command {
        match wrap {
            None => command(bin, args, cwd, true),
            Some(sh) => {
                let mut full = vec!["-c", sh];
                let b = bin.to_str().unwrap();
                full.push(b);
                full.extend_from_slice(args);
                command(Path::new("/bin/sh"), &full, cwd, true)
            }
        }
    };
    // Whole-second clocks (the closing line, "setting timeout to") can
    // differ when a run crosses a second boundary the other did not: a
    // case counts as different only if it differs three times running.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let a = cttest::run_with_timeout(&mut mk(Path::new(STRESS)), Duration::from_secs(60));
        let b = cttest::run_with_timeout(&mut mk(&ours.path), Duration::from_secs(60));
        let mut found = Vec::new();
        compare(&format!("{wrap:?} {args:?}"), &a, &b, how, &mut found);
        if found.is_empty() || attempt == 3 {
            diffs.append(&mut found);
            return (a, b);
        }
    }
}

fn have_stress(test: &str) -> bool {
    cttest::require(
        test,
        Path::new(STRESS).exists(),
        "needs stress (Debian package stress)",
    )
}

fn report(diffs: &[String]) {
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n\n")
    );
}

#[test]
fn parse_errors_help_version_usage_match() {
    if !have_stress("stress-rs::conformance::parse_errors_help_version_usage_match") {
        return;
    }
    let ours = ours();
    let cwd = cttest::tempdir().unwrap();
    let mut diffs = Vec::new();
    let cases: &[&[&str]] = &[
        &[],
        &["--help"],
        &["-?"],
        &["--version"],
        &["--help", "--foo"],
        &["--foo", "--help"],
        &["-t", "5"],
        &["--vm-bytes", "1M"],
        &["-v", "-q", "--vm-keep"],
        &["--foo"],
        &["-vn"],
        &["--cpu=4"],
        &["-c4"],
        &["foo"],
        &["-c"],
        &["-c", "-x"],
        &["-c", "-"],
        &["-c", "-1"],
        &["-c", "0"],
        &["-c", "2x"],
        &["-c", ""],
        &["-c", "k"],
        &["-c", "abc"],
        &["-i", "0"],
        &["-i"],
        &["-m", "0"],
        &["-m"],
        &["-d", "0"],
        &["-d"],
        &["--io", "-3"],
        &["--vm", "-2"],
        &["--hdd", "-2"],
        &["--vm-bytes", "0"],
        &["--vm-bytes", "-1"],
        &["--vm-bytes"],
        &["--vm-bytes", "12q"],
        &["--vm-stride", "0"],
        &["--vm-stride"],
        &["--vm-hang", "-1"],
        &["--vm-hang", "10s"],
        &["--vm-hang"],
        &["--hdd-bytes", "0"],
        &["--hdd-bytes"],
        &["--hdd-bytes", "-9"],
        &["-t", "10q", "-c", "1"],
        &["-t", "0", "-c", "1"],
        &["-c", "1", "-t", "-5"],
        &["-t"],
        &["--timeout", ""],
        &["-t", "m"],
        &["--backoff", "-5", "-c", "1"],
        &["--backoff", "abc", "-c", "1"],
        &["--backoff"],
        &["--backoff", "-x"],
        &["-c", "1", "--bogus", "-c", "0"],
        &["-q", "--foo"],
    ];
    for args in cases {
        run_both(&ours, cwd.path(), None, args, Cmp::Exact, &mut diffs);
    }
    report(&diffs);
}

#[test]
fn dry_runs_match() {
    if !have_stress("stress-rs::conformance::dry_runs_match") {
        return;
    }
    let ours = ours();
    let cwd = cttest::tempdir().unwrap();
    let mut diffs = Vec::new();
    let cases: &[&[&str]] = &[
        &["-n", "-c", "2", "-v", "-t", "2"],
        &["-n", "-c", "3", "-i", "2", "-m", "1", "-d", "1", "-v"],
        &[
            "-n",
            "--cpu",
            "1",
            "--io",
            "1",
            "--vm",
            "1",
            "--hdd",
            "1",
            "--timeout",
            "5s",
            "--verbose",
        ],
        &["-n", "-c", "2", "-q"],
        &["-n", "-c", "2"],
        &["-n", "-c", "010", "-v"],
        &["-n", "-c", "0x3", "-t", "1m", "-v"],
        &["-n", "-c", "1", "-t", "1h", "-v", "--backoff", "10"],
        &["-v", "--backoff", "10k", "-n", "-c", "1"],
        &["--backoff", "10", "-v", "-n", "-c", "1"],
        &[
            "-n",
            "-m",
            "2",
            "--vm-bytes",
            "1G",
            "--vm-stride",
            "1k",
            "--vm-hang",
            "1m",
            "--vm-keep",
            "-v",
        ],
        &["-n", "-d", "1", "--hdd-bytes", "1.5G", "-v", "-q"],
        &["-n", "-c", "1k", "--backoff", "0"],
    ];
    for args in cases {
        run_both(&ours, cwd.path(), None, args, Cmp::Exact, &mut diffs);
    }
    report(&diffs);
}

#[test]
fn timed_runs_match() {
    if !have_stress("stress-rs::conformance::timed_runs_match") {
        return;
    }
    let ours = ours();
    let cwd = cttest::tempdir().unwrap();
    let mut diffs = Vec::new();
    let cases: &[(&[&str], Cmp)] = &[
        (&["-c", "1", "-t", "1"], Cmp::Secs),
        (&["-c", "1", "-t", "1", "-v"], Cmp::Secs),
        (&["-c", "1", "-t", "1", "-q"], Cmp::Secs),
        (&["-i", "1", "-t", "1"], Cmp::Secs),
        (&["-m", "1", "--vm-bytes", "16M", "-t", "1"], Cmp::Secs),
        (
            &["-m", "1", "--vm-bytes", "8M", "--vm-keep", "-t", "1", "-v"],
            Cmp::Distinct,
        ),
        (
            &[
                "-m",
                "1",
                "--vm-bytes",
                "8M",
                "--vm-hang",
                "1",
                "-t",
                "1",
                "-v",
            ],
            Cmp::Distinct,
        ),
        (
            &[
                "-m",
                "1",
                "--vm-bytes",
                "8M",
                "--vm-hang",
                "0",
                "-t",
                "1",
                "-v",
            ],
            Cmp::Distinct,
        ),
        (&["-d", "1", "--hdd-bytes", "1M", "-t", "1"], Cmp::Secs),
        (
            &["-d", "1", "--hdd-bytes", "3M", "-t", "1", "-v"],
            Cmp::Distinct,
        ),
        (
            &[
                "-c",
                "1",
                "-i",
                "1",
                "-m",
                "1",
                "--vm-bytes",
                "4M",
                "-d",
                "1",
                "--hdd-bytes",
                "1M",
                "-t",
                "1",
            ],
            Cmp::Secs,
        ),
    ];
    for (args, how) in cases {
        let (_, b) = run_both(&ours, cwd.path(), None, args, *how, &mut diffs);
        let out = text(&b.stdout) + &text(&b.stderr);
        assert!(
            args.contains(&"-q")
                || out.contains("completed in 1s")
                || out.contains("completed in 0s")
                || out.contains("completed in 2s"),
            "{args:?}: {out}"
        );
    }
    report(&diffs);
}

fn kill_one_worker(bin: &Path, args: &[&str], cwd: &Path) -> Output {
    let child = command(bin, args, cwd, true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let kids = wait_children(pid, 2);
    std::thread::sleep(Duration::from_millis(300));
    kill(kids[0], libc::SIGKILL);
    finish(child, Duration::from_secs(60))
}

#[test]
fn worker_killed_by_signal_matches() {
    if !have_stress("stress-rs::conformance::worker_killed_by_signal_matches") {
        return;
    }
    let ours = ours();
    let cwd = cttest::tempdir().unwrap();
    let mut diffs = Vec::new();
    for args in [
        &["-c", "2", "-t", "20"][..],
        &["-c", "2", "-t", "20", "-v"],
        &["-c", "2", "-t", "20", "-q"],
    ] {
        // Retried as run_both does, for second boundaries.
        let mut attempt = 0;
        let b = loop {
            attempt += 1;
            let a = kill_one_worker(Path::new(STRESS), args, cwd.path());
            let b = kill_one_worker(&ours.path, args, cwd.path());
            let mut found = Vec::new();
            compare(&format!("kill {args:?}"), &a, &b, Cmp::Secs, &mut found);
            if found.is_empty() || attempt == 3 {
                diffs.append(&mut found);
                break b;
            }
        };
        assert!(
            text(&b.stderr).contains("got signal 9"),
            "{}",
            text(&b.stderr)
        );
        assert_eq!(b.status.code(), Some(1));
    }
    report(&diffs);
}

#[test]
fn resource_failures_match() {
    if !have_stress("stress-rs::conformance::resource_failures_match") {
        return;
    }
    let ours = ours();
    let cwd = cttest::tempdir().unwrap();
    let mut diffs = Vec::new();
    let ulimit_v = r#"ulimit -v 200000; exec "$0" "$@""#;
    run_both(
        &ours,
        cwd.path(),
        Some(ulimit_v),
        &["-m", "1", "--vm-bytes", "1G", "-t", "3"],
        Cmp::Secs,
        &mut diffs,
    );
    run_both(
        &ours,
        cwd.path(),
        Some(ulimit_v),
        &["-m", "1", "--vm-bytes", "1G", "-v"],
        Cmp::Secs,
        &mut diffs,
    );
    run_both(
        &ours,
        cwd.path(),
        Some(ulimit_v),
        &["-q", "-m", "1", "--vm-bytes", "1G"],
        Cmp::Secs,
        &mut diffs,
    );
    // SIGXFSZ: a file size limit below --hdd-bytes.
    let ulimit_f = r#"ulimit -f 100; exec "$0" "$@""#;
    run_both(
        &ours,
        cwd.path(),
        Some(ulimit_f),
        &["-d", "1", "--hdd-bytes", "1M", "-t", "5"],
        Cmp::Secs,
        &mut diffs,
    );
    // mkstemp in a directory where files cannot be made.
    run_both(
        &ours,
        Path::new("/proc"),
        None,
        &["-d", "1", "-t", "2"],
        Cmp::Secs,
        &mut diffs,
    );
    report(&diffs);
}

#[test]
fn hdd_noclean_is_ours_only() {
    if !have_stress("stress-rs::conformance::hdd_noclean_is_ours_only") {
        return;
    }
    let cwd = cttest::tempdir().unwrap();
    let a = cttest::run_with_timeout(
        &mut command(
            Path::new(STRESS),
            &["--hdd-noclean", "-d", "1"],
            cwd.path(),
            true,
        ),
        Duration::from_secs(10),
    );
    assert_eq!(a.status.code(), Some(1));
    assert!(text(&a.stderr).contains("unrecognized option: --hdd-noclean"));
}
