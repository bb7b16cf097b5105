//! `ctcore::sealed` for real: the test binary re-executes itself from a
//! sealed memfd (`reexec_sealed`) or from a detached read-only clone of its
//! mount (`reexec_protected`) and reports what it then runs from; in a mount
//! namespace of its own it seals the mount of its binary (`ExeMount`) and
//! reports what is refused there, while the host's view stays as it was.

use std::io::Write;
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
    if mode == "protected" {
        protected_child();
        return;
    }
    if mode == "exemount" {
        exemount_child();
        return;
    }
    if mode == "exemount-in" {
        exemount_in_child();
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

fn errno_of<T>(r: std::io::Result<T>) -> i32 {
    r.err().and_then(|e| e.raw_os_error()).unwrap_or(0)
}

/// mount_setattr(fd, "", AT_EMPTY_PATH) clearing MOUNT_ATTR_RDONLY: the errno.
fn clear_read_only(fd: &impl AsRawFd) -> i32 {
    errno_of(ctcore::sealed::mount_setattr(
        fd.as_raw_fd(),
        c"",
        libc::AT_EMPTY_PATH,
        0,
        ctcore::sealed::MOUNT_ATTR_RDONLY,
    ))
}

fn protected_child() {
    ctcore::sealed::reexec_protected().unwrap();
    let link = std::fs::read_link("/proc/self/exe").unwrap();
    // O_TRUNC asks the mount for write access before anything else: EROFS.
    // (Were it writable, the running binary's ETXTBSY would still refuse.)
    let write = errno_of(
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open("/proc/self/exe"),
    );
    let held = std::fs::File::open("/proc/self/exe").unwrap();
    let clear = clear_read_only(&held);
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    println!(
        "EXE {} PROTECTED {} WRITE {write} CLEAR {clear} COMM {} ARGS {} ENV {}",
        link.display(),
        ctcore::sealed::is_protected().unwrap(),
        comm.trim(),
        std::env::args().count(),
        std::env::var("CTCORE_SEALED_MARK").unwrap_or_default()
    );
}

/// A scratch directory on the mount of the test binary (target/tmp).
fn scratch() -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("exemount-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn exemount_child() {
    use nix::mount::{MsFlags, mount};
    // A mount namespace of our own: the seal changes its copy of the mount.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .unwrap();
    // The binary was executed in the host's namespace: its mount is the
    // host's, which find() refuses (no mount of ours on that path holds it).
    let foreign = ctcore::sealed::ExeMount::find().unwrap_err();
    println!("FOREIGN {}", foreign.raw_os_error().unwrap_or(0));
    let _ = std::io::stdout().flush();
    // Executed again in this namespace (by its path: /proc/self/exe would
    // lead to the host's mount again), as chroot-rs is in a container's.
    let e = std::os::unix::process::CommandExt::exec(
        Command::new(std::env::current_exe().unwrap())
            .args(std::env::args_os().skip(1))
            .env(MODE, "exemount-in"),
    );
    panic!("exec: {e}");
}

fn exemount_in_child() {
    let dir = std::path::PathBuf::from(std::env::var_os("CTCORE_SCRATCH").unwrap());
    let file = dir.join("file");
    let prog = dir.join("true");
    let m = ctcore::sealed::ExeMount::find().unwrap();
    m.seal().unwrap();
    let write = errno_of(std::fs::OpenOptions::new().append(true).open(&file));
    let exec = errno_of(Command::new(&prog).status());
    let held = std::fs::File::open("/proc/self/exe").unwrap();
    let _ = held;
    println!(
        "WRITE {write} EXEC {exec} SELF {}",
        errno_of(
            std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open("/proc/self/exe")
        )
    );
}

#[test]
fn reexec_protected_runs_from_a_detached_read_only_clone() {
    if !cttest::require_root("reexec_protected_runs_from_a_detached_read_only_clone") {
        return;
    }
    let text = child("protected");
    let line = text
        .lines()
        .find_map(|l| l.split_once("EXE ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no report in {text}"));
    // The link names no host path, the clone is read-only for good: no
    // write (EROFS) and no way to make it writable again (EINVAL, even
    // as root).
    assert!(line.starts_with("/ PROTECTED true "), "{line}");
    assert!(line.contains(&format!(" WRITE {} ", libc::EROFS)), "{line}");
    assert!(
        line.contains(&format!(" CLEAR {} ", libc::EINVAL)),
        "{line}"
    );
    // Named after argv[0], with the same argv and environment.
    let name: String = std::env::current_exe()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .take(15)
        .collect();
    assert!(line.contains(&format!(" COMM {name} ")), "{line}");
    assert!(line.contains("ARGS 5 "), "{line}");
    assert!(line.ends_with("ENV kept"), "{line}");
}

#[test]
fn exe_mount_seal_refuses_writes_and_execs_in_its_namespace_only() {
    if !cttest::require_root("exe_mount_seal_refuses_writes_and_execs_in_its_namespace_only") {
        return;
    }
    let dir = scratch();
    let _g = cttest::defer({
        let d = dir.clone();
        move || {
            let _ = std::fs::remove_dir_all(d);
        }
    });
    let file = dir.join("file");
    std::fs::write(&file, "x").unwrap();
    let prog = dir.join("true");
    std::fs::copy("/bin/true", &prog).unwrap();
    let mnt = |p: &std::path::Path| {
        let out = Command::new("stat")
            .args(["-c", "%m"])
            .arg(p)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        mnt(&file),
        mnt(&std::env::current_exe().unwrap()),
        "the scratch directory is not on the test binary's mount"
    );
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sealed_child", "--nocapture", "--test-threads=1"])
        .env(MODE, "exemount")
        .env("CTCORE_SCRATCH", &dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("FOREIGN {}\n", libc::EXDEV)),
        "{text}"
    );
    // Inside: every write EROFS, every exec EACCES (noexec), the binary
    // itself included.
    let line = text
        .lines()
        .find_map(|l| l.split_once("WRITE ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no report in {text}"));
    assert!(
        line.starts_with(&format!("{} EXEC {} ", libc::EROFS, libc::EACCES)),
        "{line}"
    );
    assert!(line.ends_with(&format!(" SELF {}", libc::EROFS)), "{line}");
    // Outside, the host's mount is as it was: writable and executable.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(b"y")
        .unwrap();
    assert!(Command::new(&prog).status().unwrap().success());
}
