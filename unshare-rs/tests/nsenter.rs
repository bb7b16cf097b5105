//! unshare-rs called as `nsenter`: util-linux nsenter's grammar and its
//! options, against a real target.

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn run(c: &mut Command) -> Output {
    cttest::run_with_timeout(c, LIMIT)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(c: &mut Command) -> String {
    let o = run(c);
    assert!(
        o.status.success(),
        "{c:?}: {:?}\nstderr: {}",
        o.status,
        text(&o.stderr)
    );
    assert_eq!(text(&o.stderr), "", "{c:?}");
    text(&o.stdout)
}

/// A symlink named nsenter to unshare-rs, in a directory that lives as
/// long as the guard.
fn nsenter() -> (cttest::TempDir, PathBuf) {
    let d = cttest::tempdir().unwrap();
    let link = d.path().join("nsenter");
    std::os::unix::fs::symlink(cttest::bin("unshare-rs"), &link).unwrap();
    (d, link)
}

struct Target(Child);

impl Target {
    fn pid(&self) -> String {
        self.0.id().to_string()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // SAFETY: killing the process this test started, by pid.
        unsafe { libc::kill(i32::try_from(self.0.id()).unwrap_or(0), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// `unshare-rs ARGS -- sh -c 'cd /etc; echo ready; exec sleep 1000'`,
/// waited for; `pre` runs between fork and exec.
fn target(
    args: &[&str],
    pre: Option<Box<dyn FnMut() -> std::io::Result<()> + Send + Sync>>,
) -> Target {
    let mut c = Command::new(cttest::bin("unshare-rs"));
    c.args(args)
        .args([
            "--",
            "/bin/sh",
            "-c",
            "cd /etc; echo ready; exec sleep 1000",
        ])
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    if let Some(f) = pre {
        // SAFETY: the closure only moves descriptors (async-signal-safe).
        unsafe { c.pre_exec(f) };
    }
    let mut child = c.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let t = Target(child);
    assert_eq!(line, "ready\n");
    t
}

#[test]
fn nsenter_grammar_attached_arguments_and_w_then_program() {
    if !cttest::require_root!() {
        return;
    }
    let (_d, ns) = nsenter();
    let t = target(&["-u", "-m", "--hostname", "inside"], None);
    let p = t.pid();
    // A file attached to a short option.
    let uts = format!("-u/proc/{p}/ns/uts");
    assert_eq!(ok(Command::new(&ns).args([&uts, "hostname"])), "inside\n");
    assert_eq!(
        ok(Command::new(&ns).args([&format!("--uts=/proc/{p}/ns/uts"), "hostname"])),
        "inside\n"
    );
    // -w without an attached DIR: the target's; `pwd` is the program.
    assert_eq!(
        ok(Command::new(&ns).args(["-t", &p, "-m", "-w", "pwd"])),
        "/etc\n"
    );
    // Attached: -wDIR and --wd=DIR, opened before joining.
    assert_eq!(
        ok(Command::new(&ns)
            .args(["-t", &p, "-m", "-w/usr", "pwd"])
            .current_dir("/")),
        "/usr\n"
    );
    assert_eq!(
        ok(Command::new(&ns).args(["-t", &p, "-m", "--wd=/var", "pwd"])),
        "/var\n"
    );
    // Abbreviated long options and a cluster ending in a required argument.
    assert_eq!(
        ok(Command::new(&ns).args(["--targ", &p, "--ut", "hostname"])),
        "inside\n"
    );
    assert_eq!(
        ok(Command::new(&ns).args([&format!("-Ft{p}"), "-u", "hostname"])),
        "inside\n"
    );
    // getopt's errors, with our exit status.
    for (args, msg) in [
        (&["--bogus"][..], "unrecognized option '--bogus'"),
        (&["-t"][..], "option requires an argument -- 't'"),
        (&["-x"][..], "invalid option -- 'x'"),
    ] {
        let o = run(Command::new(&ns).args(args));
        assert_eq!(o.status.code(), Some(125), "{args:?}");
        assert_eq!(
            text(&o.stderr),
            format!("unshare-rs: {msg} (try 'nsenter --help')\n")
        );
    }
    // Called as unshare-rs, `-w pwd` still reads a DIR (documented).
    let o = run(Command::new(cttest::bin("unshare-rs")).args(["-t", &p, "-m", "-w", "pwd"]));
    assert_eq!(o.status.code(), Some(125));
}

/// `--net-socket FD`: the network namespace of the target's socket, not
/// the target's own.  The target runs in a new network namespace and holds
/// on descriptor 5 a socket made in the host's.
#[test]
fn net_socket_enters_the_namespace_of_the_targets_socket() {
    if !cttest::require_root!() {
        return;
    }
    let (_d, ns) = nsenter();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let raw = sock.as_raw_fd();
    let t = target(
        &["-n"],
        Some(Box::new(move || {
            // SAFETY: dup2 between fork and exec.
            if unsafe { libc::dup2(raw, 5) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })),
    );
    let p = t.pid();
    let host = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
    let theirs = std::fs::metadata(format!("/proc/{p}/ns/net"))
        .unwrap()
        .ino();
    assert_ne!(host, theirs);
    let link = |o: String| o.trim().to_string();
    assert_eq!(
        link(ok(Command::new(&ns).args([
            "-t",
            &p,
            "-n",
            "readlink",
            "/proc/self/ns/net"
        ]))),
        format!("net:[{theirs}]")
    );
    assert_eq!(
        link(ok(Command::new(&ns).args([
            "--target",
            &p,
            "--net-socket",
            "5",
            "readlink",
            "/proc/self/ns/net"
        ]))),
        format!("net:[{host}]")
    );
    assert_eq!(
        link(ok(Command::new(&ns).args([
            "-t",
            &p,
            "-N5",
            "readlink",
            "/proc/self/ns/net"
        ]))),
        format!("net:[{host}]")
    );
    // Not a socket, no such descriptor, no target.
    for (args, want) in [
        (
            &["-t", &p, "-N", "0"][..],
            "unshare-rs: ioctl(0, SIOCGSKNS): ",
        ),
        (&["-t", &p, "-N", "77"][..], "unshare-rs: pidfd_getfd("),
        (
            &["-N", "5"][..],
            "unshare-rs: option --net-socket needs --target PID",
        ),
    ] {
        let o = run(Command::new(&ns).args(args).arg("true"));
        assert_eq!(o.status.code(), Some(125), "{args:?}");
        assert!(
            text(&o.stderr).starts_with(want),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    drop(sock);
}

/// `--user-parent`: the parent of the target's user namespace (a target
/// two user namespaces down: the parent is neither its own nor ours).
#[test]
fn user_parent_enters_the_owning_user_namespace() {
    if !cttest::require_root!() {
        return;
    }
    let (_d, ns) = nsenter();
    let us = cttest::bin("unshare-rs");
    let t = target(&["-U", "-r", "--", us.to_str().unwrap(), "-U", "-r"], None);
    let p = t.pid();
    let host = std::fs::metadata("/proc/self/ns/user").unwrap().ino();
    let theirs = std::fs::metadata(format!("/proc/{p}/ns/user"))
        .unwrap()
        .ino();
    let enter = |extra: &[&str]| {
        let mut c = Command::new(&ns);
        c.args(["-t", &p, "-U", "--preserve-credentials"])
            .args(extra)
            .args(["readlink", "/proc/self/ns/user"]);
        ok(&mut c).trim().to_string()
    };
    assert_eq!(enter(&[]), format!("user:[{theirs}]"));
    let parent = enter(&["--user-parent"]);
    assert_ne!(parent, format!("user:[{theirs}]"));
    assert_ne!(parent, format!("user:[{host}]"));
    assert!(parent.starts_with("user:["), "{parent}");
}
