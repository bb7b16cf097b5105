//! `ctcore::sealed::reexec_sealed` for real: the test binary re-executes
//! itself from a sealed memfd and reports what it then runs from.

use std::os::fd::AsRawFd;
use std::process::Command;

const MODE: &str = "CTCORE_SEALED_CHILD";

/// The child's side: run only when the parent test starts this binary with
/// `MODE` set.
#[test]
fn sealed_child() {
    let Ok(mode) = std::env::var(MODE) else {
        return;
    };
    if mode == "noproc" {
        // A mount namespace of our own without /proc.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .unwrap();
        nix::mount::umount2("/proc", nix::mount::MntFlags::MNT_DETACH).unwrap();
        let e = ctcore::sealed::reexec_sealed().unwrap_err();
        println!("ERR {e:#}");
        return;
    }
    ctcore::sealed::reexec_sealed().unwrap();
    // Running from the copy now (the first call does not return).
    let link = std::fs::read_link("/proc/self/exe").unwrap();
    let exe = std::fs::File::open("/proc/self/exe").unwrap();
    let seals = ctcore::sealed::seals_of(&exe).unwrap_or(-1);
    let _ = exe.as_raw_fd();
    println!(
        "EXE {} SEALS {seals} ARGS {} ENV {}",
        link.display(),
        std::env::args().count(),
        std::env::var("CTCORE_SEALED_MARK").unwrap_or_default()
    );
}

fn child(mode: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sealed_child", "--nocapture", "--test-threads=1"])
        .env(MODE, mode)
        .env("CTCORE_SEALED_MARK", "kept")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn reexec_runs_from_a_sealed_memfd_with_same_argv_and_env() {
    let text = child("exec");
    let line = text
        .lines()
        .find_map(|l| l.split_once("EXE ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no report in {text}"));
    assert!(line.starts_with("/memfd:"), "{line}");
    assert!(!line.contains(&*std::env::current_exe().unwrap().to_string_lossy()));
    let seals = ctcore::sealed::SEALS;
    assert!(line.contains(&format!("SEALS {seals} ")), "{line}");
    // argv: the program and the four arguments.
    assert!(line.contains("ARGS 5 "), "{line}");
    assert!(line.ends_with("ENV kept"), "{line}");
}

#[test]
fn without_proc_it_fails_with_a_hint() {
    if !cttest::require_root("without_proc_it_fails_with_a_hint") {
        return;
    }
    let text = child("noproc");
    assert!(text.contains("ERR cannot open /proc/self/exe"), "{text}");
    assert!(text.contains("is /proc mounted?"), "{text}");
}
