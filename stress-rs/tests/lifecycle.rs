//! What stress-rs does better than stress: reaping without leading the
//! process group, stopping on SIGINT/SIGTERM/SIGHUP, obeying SIGTERM as
//! PID 1, --hdd-noclean, --metrics and --json.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn spawn(args: &[&str], cwd: &Path, leader: bool) -> std::process::Child {
    command(&cttest::bin("stress-rs"), args, cwd, leader)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn reaps_without_leading_the_process_group() {
    let cwd = cttest::tempdir().unwrap();
    // Not a group leader: stress would print "kill error: No such process"
    // and run on until the 60 s timeout.
    let child = spawn(&["-c", "2", "-t", "60", "-v"], cwd.path(), false);
    let kids = wait_children(child.id(), 2);
    std::thread::sleep(Duration::from_millis(200));
    kill(kids[0], libc::SIGKILL);
    let out = finish(child, Duration::from_secs(50));
    let (so, se) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{se}");
    assert!(
        se.contains(&format!("<-- worker {} got signal 9", kids[0])),
        "{se}"
    );
    assert!(
        so.contains(&format!("<-- worker {} reaped", kids[1])),
        "{so}"
    );
    assert!(!se.contains("kill error"), "{se}");
    assert!(se.contains("failed run completed in"), "{se}");
}

#[test]
fn stop_signals_end_every_worker() {
    let cwd = cttest::tempdir().unwrap();
    for (sig, code) in [
        (libc::SIGTERM, 143),
        (libc::SIGINT, 130),
        (libc::SIGHUP, 129),
    ] {
        let child = spawn(
            &["-c", "1", "-m", "1", "--vm-bytes", "4M", "-t", "60", "-v"],
            cwd.path(),
            true,
        );
        let pid = child.id();
        let kids = wait_children(pid, 2);
        std::thread::sleep(Duration::from_millis(200));
        kill(i32::try_from(pid).unwrap(), sig);
        let out = finish(child, Duration::from_secs(30));
        let (so, se) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "signal {sig}: {se}");
        assert!(
            se.contains(&format!(
                "caught signal {sig}, now reaping child worker processes"
            )),
            "{se}"
        );
        assert!(se.contains("interrupted run completed in"), "{se}");
        for k in &kids {
            assert!(so.contains(&format!("<-- worker {k} reaped")), "{so}");
            assert!(!alive(*k), "worker {k} still runs");
        }
    }
}

#[test]
fn group_interrupt_is_not_a_failure() {
    // Ctrl-C from a terminal signals the whole process group.
    let cwd = cttest::tempdir().unwrap();
    let child = spawn(&["-c", "2", "-t", "60"], cwd.path(), true);
    let pid = child.id();
    wait_children(pid, 2);
    std::thread::sleep(Duration::from_millis(200));
    kill(-i32::try_from(pid).unwrap(), libc::SIGINT);
    let out = finish(child, Duration::from_secs(30));
    let se = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{se}");
    assert!(!se.contains("got signal"), "{se}");
}

#[test]
fn workers_die_with_their_parent() {
    let cwd = cttest::tempdir().unwrap();
    let child = spawn(&["-c", "1", "-t", "60"], cwd.path(), true);
    let kids = wait_children(child.id(), 1);
    std::thread::sleep(Duration::from_millis(200));
    kill(i32::try_from(child.id()).unwrap(), libc::SIGKILL);
    let _ = finish(child, Duration::from_secs(10));
    // The parent-death signal (SIGTERM) ends the worker; give it a moment.
    let mut gone = false;
    for _ in 0..100 {
        if !alive(kids[0]) {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if !gone {
        kill(kids[0], libc::SIGKILL);
    }
    assert!(gone, "worker {} outlived its parent", kids[0]);
}

/// The pid of the child of `pid` (unshare's forked child).
fn only_child(pid: u32) -> i32 {
    wait_children(pid, 1)[0]
}

#[test]
fn obeys_sigterm_as_pid_1() {
    if !cttest::require_root("stress-rs::lifecycle::obeys_sigterm_as_pid_1") {
        return;
    }
    if !cttest::require(
        "stress-rs::lifecycle::obeys_sigterm_as_pid_1",
        Path::new("/usr/bin/unshare").exists(),
        "needs util-linux unshare",
    ) {
        return;
    }
    let cwd = cttest::tempdir().unwrap();
    let ours = cttest::bin("stress-rs");
    let mut args = vec![
        "--fork",
        "--pid",
        ours.to_str().unwrap(),
        "-c",
        "1",
        "-t",
        "60",
        "-v",
    ];
    let child = command(Path::new("/usr/bin/unshare"), &args, cwd.path(), true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let init = only_child(child.id());
    let worker = wait_children(u32::try_from(init).unwrap(), 1)[0];
    std::thread::sleep(Duration::from_millis(200));
    kill(init, libc::SIGTERM);
    let out = finish(child, Duration::from_secs(30));
    let (so, se) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(143), "{se}");
    assert!(so.contains("stress-rs: info: [1] dispatching hogs"), "{so}");
    assert!(so.contains("<-- worker 2 reaped"), "{so}");
    assert!(!alive(worker));

    // stress, for contrast, ignores SIGTERM as PID 1.
    if Path::new(STRESS).exists() {
        args[2] = STRESS;
        let child = command(Path::new("/usr/bin/unshare"), &args, cwd.path(), true)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let init = only_child(child.id());
        wait_children(u32::try_from(init).unwrap(), 1);
        kill(init, libc::SIGTERM);
        std::thread::sleep(Duration::from_millis(500));
        let still = alive(init);
        kill(init, libc::SIGKILL);
        let _ = finish(child, Duration::from_secs(30));
        assert!(still, "stress as PID 1 was expected to ignore SIGTERM");
    }
}

#[test]
fn hdd_noclean_keeps_files() {
    let cwd = cttest::tempdir().unwrap();
    let out = cttest::run_with_timeout(
        &mut command(
            &cttest::bin("stress-rs"),
            &["-d", "1", "--hdd-bytes", "1M", "--hdd-noclean", "-t", "1"],
            cwd.path(),
            true,
        ),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let full = std::fs::read_dir(cwd.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("stress."))
        .filter(|e| e.metadata().unwrap().len() == 1 << 20)
        .count();
    assert!(full >= 1, "no complete ./stress.XXXXXX file kept");
    // Without the option nothing stays.
    let cwd2 = cttest::tempdir().unwrap();
    let out = cttest::run_with_timeout(
        &mut command(
            &cttest::bin("stress-rs"),
            &["-d", "1", "--hdd-bytes", "1M", "-t", "1"],
            cwd2.path(),
            true,
        ),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_dir(cwd2.path()).unwrap().count(), 0);
}

#[test]
fn json_reports_work_of_every_hog() {
    let cwd = cttest::tempdir().unwrap();
    let args = [
        "-c",
        "1",
        "-i",
        "1",
        "-m",
        "1",
        "--vm-bytes",
        "8M",
        "-d",
        "1",
        "--hdd-bytes",
        "1M",
        "-t",
        "2",
        "--json",
    ];
    let out = cttest::run_with_timeout(
        &mut command(&cttest::bin("stress-rs"), &args, cwd.path(), true),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    let hogs = v["hogs"].as_array().unwrap();
    let names: Vec<&str> = hogs.iter().map(|h| h["hog"].as_str().unwrap()).collect();
    assert_eq!(names, ["cpu", "io", "vm", "hdd"]);
    for h in hogs {
        // An io hog's sync(2) can block for the whole run while the rest
        // of the machine writes (the full test suite does), and only a
        // finished sync counts; every other hog always gets work done.
        if h["hog"] != "io" {
            assert!(h["work"].as_u64().unwrap() > 0, "{h}");
            assert!(h["per_wall_second"].as_f64().unwrap() > 0.0, "{h}");
        }
        assert!(h["wall_seconds"].as_f64().unwrap() > 0.5, "{h}");
    }
    assert!(hogs[0]["cpu_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(v["exit_status"], 0);
    // The info lines moved to stderr.
    assert!(text(&out.stderr).contains("successful run completed in"));

    let out = cttest::run_with_timeout(
        &mut command(
            &cttest::bin("stress-rs"),
            &["-c", "1", "-t", "1", "--metrics"],
            cwd.path(),
            true,
        ),
        Duration::from_secs(30),
    );
    let so = text(&out.stdout);
    let row = so
        .lines()
        .find(|l| l.contains(": metrc: ") && l.contains(" cpu "))
        .expect(&so);
    assert!(row.contains("iterations"), "{row}");
    assert!(
        so.lines()
            .last()
            .unwrap()
            .contains("successful run completed in"),
        "{so}"
    );
}

#[test]
fn inherited_ignored_signals() {
    let cwd = cttest::tempdir().unwrap();
    let ours = cttest::bin("stress-rs");
    // An ignored SIGALRM (inherited through exec) would keep stress's
    // workers running past -t; ours still end by their alarm.
    let out = cttest::run_with_timeout(
        Command::new("/bin/sh")
            .args(["-c", r#"trap "" ALRM USR1; exec "$0" "$@""#])
            .arg(&ours)
            .args(["-c", "1", "-t", "1", "-v"])
            .current_dir(cwd.path()),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("signalled normally"));
    // nohup: an ignored SIGHUP stays ignored; SIGTERM still stops the run.
    let child = Command::new("/bin/sh")
        .args(["-c", r#"trap "" HUP; exec "$0" "$@""#])
        .arg(&ours)
        .args(["-c", "1", "-t", "60"])
        .current_dir(cwd.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let kids = wait_children(child.id(), 1);
    std::thread::sleep(Duration::from_millis(200));
    kill(pid, libc::SIGHUP);
    kill(kids[0], libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(pid) && alive(kids[0]), "SIGHUP was not ignored");
    kill(pid, libc::SIGTERM);
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
}
