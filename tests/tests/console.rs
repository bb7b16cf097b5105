//! The terminal of `-t` handed out of the container (runc's --console-socket): chroot-rs
//! --console-socket sends the master of a pty of the new root's devpts to unshare-rs
//! --console-relay, which relays it from outside the container, so that the program itself is
//! pid 1 and keeps the pty on 0, 1 and 2.  Each run is under script(1), the user's terminal.

mod contain_util;

use contain_util::{Env, contain_script, test_path};
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Run the shell line under script(1) with PATH first; its status and output (no `\r`).
fn in_a_terminal(line: &str, path: OsString, env: &[(&str, &Path)]) -> (Option<i32>, String) {
    let mut c = Command::new("script");
    c.args(["-qec", line, "/dev/null"])
        .env("PATH", path)
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let o = cttest::run_with_timeout(&mut c, Duration::from_secs(60));
    (
        o.status.code(),
        // (script's end of input, echoed by its terminal, may come first)
        String::from_utf8_lossy(&o.stdout)
            .replace('\r', "")
            .replace("^@", "")
            .replace("^D", ""),
    )
}

#[test]
fn console_relay_gives_pid_1_a_terminal_of_the_container() {
    if !cttest::require_root("e2e::console::console_relay_gives_pid_1_a_terminal_of_the_container")
    {
        return;
    }
    let root = cttest::tempdir().expect("tempdir");
    cttest::minroot::build(root.path(), &["sh", "tty", "stty"]).expect("minroot");
    let state = cttest::tempdir().expect("tempdir");
    let sock = state.path().join("console.sock");
    let line = format!(
        "stty cols 81 rows 13; unshare-rs --fork --pid --no-init --mount --console-relay {s} -- \
         chroot-rs --pivot --dev --proc --console-socket {s} -- {r} /bin/sh -c \
         'echo $$; tty; stty size; test -t 0 && test -t 2 && echo ttys; exit 6'; \
         echo rc=$?; stty -a | grep -o -- '-*icanon'",
        s = sock.display(),
        r = root.path().display()
    );
    let (code, out) = in_a_terminal(&line, test_path(), &[]);
    assert_eq!(
        out, "1\n/dev/pts/0\n13 81\nttys\nrc=6\nicanon\n",
        "pid 1 on the container's pty, the size passed on, the status back, our terminal restored"
    );
    assert_eq!(code, Some(0));
    assert!(!sock.exists(), "the socket is removed");
    // A program that never connects: the relay ends with it, with its status.
    let (code, out) = in_a_terminal(
        &format!(
            "unshare-rs --fork --console-relay {} -- sh -c 'echo no-tty; exit 3'",
            sock.display()
        ),
        test_path(),
        &[],
    );
    assert_eq!((code, out.as_str()), (Some(3), "no-tty\n"));
    assert!(!sock.exists(), "the socket is removed");
    // A stale socket nobody listens on is replaced; the mode is 0600.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let o = cttest::run_with_timeout(
        Command::new(cttest::bin("unshare-rs"))
            .arg("--fork")
            .arg(format!("--console-relay={}", sock.display()))
            .args(["--", "stat", "-c", "%a %F"])
            .arg(&sock),
        Duration::from_secs(60),
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "600 socket\n");
    assert!(o.status.success());
    assert!(!sock.exists(), "the socket is removed");
}

#[test]
fn contain_run_t_program_is_pid_1() {
    if !cttest::require_root("e2e::console::contain_run_t_program_is_pid_1") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("console");
    env.build_test_image("img");
    let mut path = contain_script()
        .parent()
        .unwrap()
        .to_path_buf()
        .into_os_string();
    path.push(":");
    path.push(test_path());
    let vars = [
        ("CONTAIN_ROOT", env.state()),
        ("CONTAIN_CGROUP_PARENT", Path::new(&env.cgparent)),
    ];
    let (code, out) = in_a_terminal(
        "contain run -t --rm img sh -c 'echo $$; ls -l /proc/self/fd/0; exit 4'",
        path.clone(),
        &vars,
    );
    assert!(out.starts_with("1\n"), "the program is pid 1: {out:?}");
    assert!(out.contains("-> /dev/pts/0\n"), "{out:?}");
    assert_eq!(code, Some(4), "{out:?}");
    // --user: the terminal is the user's (as runc gives it), so /dev/tty opens.
    let (code, out) = in_a_terminal(
        "contain run -it --rm --user 1000 img sh -c 'ls -lnL /proc/self/fd/0; echo hi >/dev/tty'",
        path.clone(),
        &vars,
    );
    assert!(out.contains(" 1000 5 "), "{out:?}");
    assert!(out.ends_with("hi\n"), "{out:?}");
    assert_eq!(code, Some(0), "{out:?}");
    // -it, kept: its socket is gone once it ends.
    let (code, out) = in_a_terminal("contain run -it --name k img sh -c 'echo $$'", path, &vars);
    assert_eq!((code, out.as_str()), (Some(0), "1\n"));
    let left: Vec<_> = std::fs::read_dir(env.state().join("containers"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("console.sock").exists())
        .collect();
    assert!(left.is_empty(), "no socket left: {left:?}");
    env.ok(&["rm", "k"]);
}
