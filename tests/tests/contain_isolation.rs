//! `contain`'s isolation (issue 18), for real: docker's process model (the program is pid 1,
//! `stop` as docker's), standard streams that are pipes, no caller's descriptor in the
//! container, seccomp, devices, `--chroot` hardened, and lookups inside the container's root.

mod contain_util;

use contain_util::{Env, stderr, stdout};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

/// `contain ARGS` run with our descriptor `fd` open as descriptor `as_fd` (a caller's
/// inherited descriptor, as `7</` in a shell).
fn run_with_fd(env: &Env, fd: i32, as_fd: i32, args: &[&str]) -> std::process::Output {
    let mut c = env.cmd();
    c.args(args);
    // SAFETY: dup2 between two descriptors, in the child before exec (async-signal-safe).
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(fd, as_fd) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cttest::run_with_timeout(&mut c, Duration::from_secs(120))
}

/// The lines of a container's log after it has run `ls -l /proc/self/fd/`: (fd, target).
fn fd_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (left, target) = l.split_once(" -> ")?;
            let fd = left
                .rsplit(' ')
                .next()?
                .trim_start_matches("/proc/self/fd/");
            Some((fd.to_string(), target.to_string()))
        })
        .collect()
}

#[test]
fn the_program_is_pid_1_and_stop_is_dockers() {
    if !cttest::require_root("e2e::contain_isolation::the_program_is_pid_1_and_stop_is_dockers") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("pid1");
    env.build_test_image("img");
    // the program itself is pid 1, as docker runs it (no init in between)
    let out = env.ok(&[
        "run",
        "--rm",
        "img",
        "/bin/sh",
        "-c",
        "echo $$; cat /proc/1/cmdline",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1"), "{out}");
    assert_eq!(
        lines.next(),
        Some("/bin/sh\0-c\0echo $$; cat /proc/1/cmdline\0"),
        "{out:?}"
    );

    // a pid 1 with no handler for TERM ignores it: stop waits -t seconds, then KILL: 137
    env.ok(&["run", "-d", "--name", "deaf", "img", "/bin/sleep", "1000"]);
    let v = env.wait_for("deaf", "running");
    let pid = v["State"]["Pid"].as_i64().unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep", "State.Pid is the program");
    let exec = env.ok(&["exec", "deaf", "/bin/cat", "/proc/1/comm"]);
    assert_eq!(exec.trim(), "sleep", "exec joins the program's namespaces");
    assert_eq!(env.ok(&["stop", "-t", "1", "deaf"]).trim(), "deaf");
    let v = env.inspect("deaf");
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 137);
    assert_eq!(env.ok(&["wait", "deaf"]).trim(), "137");
    assert!(env.ok(&["ps", "-a"]).contains("Exited (137)"));
    assert!(!env.ok(&["ps"]).contains("deaf"));
    assert!(!cttest::sh(&format!("kill -0 {pid}")).status.success());

    // a program that handles TERM ends by it, with its own status
    env.ok(&[
        "run",
        "-d",
        "--name",
        "polite",
        "img",
        "/bin/sh",
        "-c",
        "trap 'exit 3' TERM; while :; do sleep 0.1; done",
    ]);
    env.wait_for("polite", "running");
    env.ok(&["stop", "polite"]);
    assert_eq!(env.inspect("polite")["State"]["ExitCode"], 3);
    assert_eq!(env.ok(&["wait", "polite"]).trim(), "3");

    // --stop-signal: the signal stop sends first (inspect shows it)
    env.ok(&[
        "run",
        "-d",
        "--name",
        "usr1",
        "--stop-signal",
        "SIGUSR1",
        "img",
        "/bin/sh",
        "-c",
        "trap 'exit 4' USR1; while :; do sleep 0.1; done",
    ]);
    let v = env.wait_for("usr1", "running");
    assert_eq!(v["Config"]["StopSignal"], "SIGUSR1");
    assert_eq!(v["HostConfig"]["Init"], false);
    env.ok(&["stop", "usr1"]);
    assert_eq!(env.inspect("usr1")["State"]["ExitCode"], 4);
    let out = env.run(&["run", "--rm", "--stop-signal", "NOPE", "img", "/bin/true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(stderr(&out), "contain: invalid signal: NOPE\n");
}

#[test]
fn init_option_puts_a_reaping_init_before_the_program() {
    if !cttest::require_root(
        "e2e::contain_isolation::init_option_puts_a_reaping_init_before_the_program",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("init");
    env.build_test_image("img");
    let out = env.ok(&[
        "run",
        "--rm",
        "--init",
        "img",
        "/bin/sh",
        "-c",
        "echo $$; cat /proc/1/cmdline; echo; /bin/sleep 0 & wait",
    ]);
    let mut lines = out.lines();
    let me: i32 = lines.next().unwrap().parse().unwrap();
    assert!(me > 1, "the program is not pid 1 under --init: {out}");
    env.ok(&[
        "run",
        "-d",
        "--init",
        "--name",
        "i",
        "img",
        "/bin/sleep",
        "1000",
    ]);
    let v = env.wait_for("i", "running");
    assert_eq!(v["HostConfig"]["Init"], true);
    // TERM ends the program through the init: it forwards it
    env.ok(&["stop", "-t", "30", "i"]);
    let code = env.inspect("i")["State"]["ExitCode"].as_i64().unwrap();
    assert!(code == 143 || code == 0, "{code}");
}

#[test]
fn standard_streams_are_pipes_never_host_files() {
    if !cttest::require_root("e2e::contain_isolation::standard_streams_are_pipes_never_host_files")
    {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("pipes");
    env.build_test_image("img");
    // detached: output and error are a pipe read by contain's monitor, which writes the log
    let id = env
        .ok(&[
            "run",
            "-d",
            "img",
            "/bin/sh",
            "-c",
            "ls -l /proc/self/fd/; echo to-stderr >&2; echo x > /proc/self/fd/1; sleep 1000",
        ])
        .trim()
        .to_string();
    let log = wait_log(&env, &id, "to-stderr");
    let fds = fd_lines(&log);
    for want in ["1", "2"] {
        let t = &fds.iter().find(|(f, _)| f == want).expect("fd listed").1;
        assert!(t.starts_with("pipe:["), "fd {want} is {t}: {log}");
    }
    let logfile = env.inspect(&id)["LogPath"].as_str().unwrap().to_string();
    assert!(
        std::fs::read_to_string(&logfile)
            .unwrap()
            .contains("to-stderr")
    );
    env.ok(&["rm", "-f", &id]);

    // attached (--rm) with a file as our output, a file as input with -i: pipes inside, and
    // the data flows through them
    let dir = cttest::tempdir().unwrap();
    let outf = dir.path().join("out");
    let inf = dir.path().join("in");
    std::fs::write(&inf, "from-a-host-file\n").unwrap();
    let mut c = env.cmd();
    c.args([
        "run",
        "--rm",
        "-i",
        "img",
        "/bin/sh",
        "-c",
        "ls -l /proc/self/fd/; cat",
    ])
    .stdin(Stdio::from(std::fs::File::open(&inf).unwrap()))
    .stdout(Stdio::from(std::fs::File::create(&outf).unwrap()))
    .stderr(Stdio::from(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("err"))
            .unwrap(),
    ));
    assert!(run_own_stdio(&mut c).success());
    let text = std::fs::read_to_string(&outf).unwrap();
    assert!(text.contains("from-a-host-file"), "{text}");
    for (fd, t) in fd_lines(&text)
        .into_iter()
        .filter(|(f, _)| ["0", "1", "2"].contains(&f.as_str()))
    {
        assert!(t.starts_with("pipe:["), "fd {fd} is {t}: {text}");
    }
    // exec, the same
    env.ok(&["run", "-d", "--name", "ex", "img", "/bin/sleep", "1000"]);
    env.wait_for("ex", "running");
    let mut c = env.cmd();
    c.args(["exec", "ex", "/bin/ls", "-l", "/proc/self/fd/"])
        .stdout(Stdio::from(std::fs::File::create(&outf).unwrap()));
    assert!(run_own_stdio(&mut c).success());
    let text = std::fs::read_to_string(&outf).unwrap();
    let t = &fd_lines(&text)
        .into_iter()
        .find(|(f, _)| f == "1")
        .unwrap()
        .1
        .clone();
    assert!(t.starts_with("pipe:["), "exec's fd 1 is {t}");
    // exec -d: its output reaches the log through a pipe too
    env.ok(&[
        "exec",
        "-d",
        "ex",
        "/bin/sh",
        "-c",
        "ls -l /proc/self/fd/; echo exec-d-done",
    ]);
    let log = wait_log(&env, "ex", "exec-d-done");
    let t = &fd_lines(&log)
        .into_iter()
        .find(|(f, _)| f == "1")
        .unwrap()
        .1
        .clone();
    assert!(t.starts_with("pipe:["), "exec -d's fd 1 is {t}");
}

/// Run `c` with the standard streams it was given (two minutes at most).
fn run_own_stdio(c: &mut std::process::Command) -> std::process::ExitStatus {
    let mut child = c.spawn().expect("spawn contain");
    for _ in 0..12000 {
        if let Some(st) = child.try_wait().expect("wait") {
            return st;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{c:?} ran longer than two minutes");
}

/// The container's log, its output's and its error's records (which `logs` writes apart).
fn wait_log(env: &Env, id: &str, needle: &str) -> String {
    let both = || {
        let out = env.run(&["logs", id]);
        assert!(out.status.success(), "logs {id}");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    for _ in 0..600 {
        let log = both();
        if log.contains(needle) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{needle} never in the log of {id}: {}", both());
}

#[test]
fn a_callers_descriptor_never_reaches_the_container() {
    if !cttest::require_root(
        "e2e::contain_isolation::a_callers_descriptor_never_reaches_the_container",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("fds");
    env.build_test_image("img");
    let host_root = std::fs::File::open("/").unwrap();
    let fd = host_root.as_raw_fd();
    // run, attached and detached: fd 7 (the host's /) is not there, nor any fd above 2
    let out = run_with_fd(
        &env,
        fd,
        7,
        &["run", "--rm", "img", "/bin/ls", "-l", "/proc/self/fd/"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let fds = fd_lines(&stdout(&out));
    assert!(!fds.iter().any(|(f, _)| f == "7"), "{fds:?}");
    assert!(
        fds.iter()
            .all(|(f, t)| f.parse::<i32>().unwrap() <= 2 || t.starts_with("/proc/")),
        "only ls's own directory above 2: {fds:?}"
    );
    let out = run_with_fd(
        &env,
        fd,
        7,
        &["run", "--rm", "img", "/bin/ls", "/proc/self/fd/7/"],
    );
    assert!(!out.status.success(), "{}", stdout(&out));
    let out = run_with_fd(
        &env,
        fd,
        7,
        &["run", "-d", "--name", "d", "img", "/bin/sleep", "1000"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v = env.wait_for("d", "running");
    let pid = v["State"]["Pid"].as_i64().unwrap();
    let inside: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut sorted = inside.clone();
    sorted.sort();
    assert_eq!(sorted, ["0", "1", "2"], "pid 1's descriptors");
    // nor does contain's monitor, which outlives the caller's command
    let id = env.inspect("d")["Id"].as_str().unwrap().to_string();
    let run =
        std::fs::read_to_string(env.state().join("containers").join(&id).join("run")).unwrap();
    let mpid = run
        .lines()
        .find_map(|l| l.strip_prefix("mpid "))
        .expect("the monitor's pid");
    let monitor: Vec<String> = std::fs::read_dir(format!("/proc/{mpid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !monitor.contains(&"7".to_string()),
        "the monitor's: {monitor:?}"
    );
    // exec: the same
    let out = run_with_fd(
        &env,
        fd,
        7,
        &["exec", "d", "/bin/ls", "-l", "/proc/self/fd/"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let fds = fd_lines(&stdout(&out));
    assert!(!fds.iter().any(|(f, _)| f == "7"), "exec: {fds:?}");
    // -w /proc/self/fd/7 names nothing of the host's, in run and in exec
    let out = run_with_fd(
        &env,
        fd,
        7,
        &[
            "run",
            "--rm",
            "-w",
            "/proc/self/fd/7",
            "img",
            "/bin/ls",
            "/",
        ],
    );
    assert!(
        !out.status.success() || !stdout(&out).contains("work"),
        "{}",
        stdout(&out)
    );
    let out = run_with_fd(
        &env,
        fd,
        7,
        &["exec", "-w", "/proc/self/fd/7", "d", "/bin/ls", "/"],
    );
    assert!(
        !out.status.success() || !stdout(&out).contains("work"),
        "{}",
        stdout(&out)
    );
    drop(host_root);
}

#[test]
fn security_options_are_checked_and_shown() {
    if !cttest::require_root("e2e::contain_isolation::security_options_are_checked_and_shown") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("secopt");
    env.build_test_image("img");
    for (opt, err) in [
        ("foo", "contain: invalid --security-opt: \"foo\"\n"),
        (
            "seccomp=",
            "contain: invalid --security-opt: \"seccomp=\"\n",
        ),
        (
            "seccomp=/nonexistent.json",
            "contain: opening seccomp profile (/nonexistent.json) failed: open /nonexistent.json: no such file or directory\n",
        ),
    ] {
        let out = env.run(&["run", "--rm", "--security-opt", opt, "img", "/bin/true"]);
        assert_eq!(out.status.code(), Some(125), "{opt}");
        assert_eq!(stderr(&out), err, "{opt}");
    }
    for (rule, ok) in [
        ("c 1:3 rwm", true),
        ("b *:* m", true),
        ("a *:* rwm", true),
        ("x 1:3 r", false),
        ("c 1:3 rwx", false),
        ("c 1 r", false),
    ] {
        let out = env.run(&["create", "--device-cgroup-rule", rule, "img", "/bin/true"]);
        assert_eq!(out.status.success(), ok, "{rule}: {}", stderr(&out));
        if !ok {
            assert_eq!(
                stderr(&out),
                format!("contain: invalid device cgroup format '{rule}'\n")
            );
        }
    }
    assert!(
        env.ok(&["ps", "-aq"]).lines().count() == 3,
        "a refused rule leaves nothing"
    );
    let id = env
        .ok(&[
            "create",
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "no-new-privileges",
            "--device-cgroup-rule",
            "c 1:3 rw",
            "--init",
            "img",
            "/bin/true",
        ])
        .trim()
        .to_string();
    let hc = &env.inspect(&id)["HostConfig"];
    assert_eq!(
        hc["SecurityOpt"],
        serde_json::json!(["seccomp=unconfined", "no-new-privileges"])
    );
    assert_eq!(hc["DeviceCgroupRules"], serde_json::json!(["c 1:3 rw"]));
    assert_eq!(hc["Init"], true);
    let id = env
        .ok(&[
            "create",
            "--security-opt",
            "no-new-privileges=false",
            "img",
            "/bin/true",
        ])
        .trim()
        .to_string();
    assert_eq!(
        env.inspect(&id)["HostConfig"]["SecurityOpt"],
        serde_json::json!([])
    );
}

#[test]
fn devices_are_refused_but_docker_s_list_and_what_is_named() {
    if !cttest::require_root(
        "e2e::contain_isolation::devices_are_refused_but_docker_s_list_and_what_is_named",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("devices");
    env.build_test_image("img");
    let attack = |opts: &[&str], class: &[&str]| -> String {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["img", "/probe", "attack"]);
        args.extend_from_slice(class);
        let out = env.run(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    // a loop device's node: mknod is allowed (docker's list has "b *:* m"), opening it not
    let out = attack(&[], &["mknod", "7:0", "no-token"]);
    assert!(out.starts_with("REFUSED mknod EPERM"), "{out}");
    // the ordinary devices of docker's list work
    let out = env.run(&[
        "run",
        "--rm",
        "img",
        "/bin/sh",
        "-c",
        "echo x > /dev/null && echo ok; echo x > /dev/full",
    ]);
    assert_eq!(stdout(&out), "ok\n");
    // the write fails (ENOSPC), not the open
    assert!(
        !stderr(&out).contains("create"),
        "/dev/full opens: {}",
        stderr(&out)
    );
    if std::path::Path::new("/dev/kvm").exists() {
        let out = attack(&[], &["kvm"]);
        assert!(out.starts_with("REFUSED kvm EPERM"), "{out}");
        // a rule opens exactly what it names
        let out = attack(&["--device-cgroup-rule", "c 10:232 rwm"], &["kvm"]);
        assert!(out.starts_with("ESCAPED kvm"), "{out}");
        let out = attack(
            &["--device-cgroup-rule", "c 10:232 rwm"],
            &["mknod", "7:0", "no-token"],
        );
        assert!(out.starts_with("REFUSED mknod EPERM"), "{out}");
        // --privileged: every device
        let out = attack(&["--privileged"], &["kvm"]);
        assert!(out.starts_with("ESCAPED kvm"), "{out}");
    }
    // exec'd processes are in the same devices group
    env.ok(&["run", "-d", "--name", "d", "img", "/bin/sleep", "1000"]);
    env.wait_for("d", "running");
    let out = env.ok(&["exec", "d", "/probe", "attack", "mknod", "7:0", "no-token"]);
    assert!(out.starts_with("REFUSED mknod EPERM"), "{out}");
}

/// A field of /proc/PID/status as the shell line prints it (`grep FIELD: /proc/1/status`).
fn status_field(text: &str, field: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

#[test]
fn seccomp_by_default_and_security_opt_forms() {
    if !cttest::require_root("e2e::contain_isolation::seccomp_by_default_and_security_opt_forms") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("seccomp");
    env.build_test_image("img");
    let status = |opts: &[&str]| -> String {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["img", "/bin/cat", "/proc/1/status"]);
        env.ok(&args)
    };
    // docker's default profile, without no_new_privs
    let st = status(&[]);
    assert_eq!(status_field(&st, "Seccomp"), "2");
    assert_eq!(status_field(&st, "NoNewPrivs"), "0");
    let st = status(&["--security-opt", "seccomp=unconfined"]);
    assert_eq!(status_field(&st, "Seccomp"), "0");
    let st = status(&["--security-opt", "no-new-privileges:true"]);
    assert_eq!(status_field(&st, "NoNewPrivs"), "1");
    assert_eq!(status_field(&st, "Seccomp"), "2");
    let st = status(&["--privileged"]);
    assert_eq!(status_field(&st, "Seccomp"), "0");
    // what the default profile refuses, and what it lets through
    let out = env.ok(&[
        "run",
        "--rm",
        "img",
        "/probe",
        "attack",
        "userns",
        "+",
        "keyctl",
        "+",
        "userfaultfd",
        "+",
        "perf",
        "+",
        "io_uring",
    ]);
    assert_eq!(out.lines().count(), 5, "{out}");
    assert!(out.lines().all(|l| l.starts_with("REFUSED")), "{out}");
    let out = env.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "img",
        "/probe",
        "attack",
        "keyctl",
    ]);
    assert!(out.starts_with("ESCAPED keyctl"), "unconfined: {out}");
    // a profile file: read when the container is created (removing it later changes nothing)
    let dir = cttest::tempdir().unwrap();
    let prof = dir.path().join("no-mkdir.json");
    std::fs::write(
        &prof,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", prof.display());
    let id = env
        .ok(&[
            "create",
            "--security-opt",
            &opt,
            "img",
            "/bin/mkdir",
            "/made",
        ])
        .trim()
        .to_string();
    std::fs::remove_file(&prof).unwrap();
    let out = env.run(&["start", "-a", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        env.inspect(&id)["HostConfig"]["SecurityOpt"],
        serde_json::json!([opt])
    );
    // exec gets the container's profile and no_new_privs setting
    env.ok(&[
        "run",
        "-d",
        "--name",
        "s",
        "--security-opt",
        "no-new-privileges",
        "img",
        "/bin/sleep",
        "1000",
    ]);
    env.wait_for("s", "running");
    let st = env.ok(&["exec", "s", "/bin/cat", "/proc/self/status"]);
    assert_eq!(status_field(&st, "Seccomp"), "2");
    assert_eq!(status_field(&st, "NoNewPrivs"), "1");
    env.ok(&[
        "run",
        "-d",
        "--name",
        "u",
        "--security-opt",
        "seccomp=unconfined",
        "img",
        "/bin/sleep",
        "1000",
    ]);
    env.wait_for("u", "running");
    let st = env.ok(&["exec", "u", "/bin/cat", "/proc/self/status"]);
    assert_eq!(status_field(&st, "Seccomp"), "0");
    assert_eq!(status_field(&st, "NoNewPrivs"), "0");
}

#[test]
fn chroot_mode_keeps_every_protection() {
    if !cttest::require_root("e2e::contain_isolation::chroot_mode_keeps_every_protection") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("chroot");
    env.build_test_image("img");
    // a file of the host the classic escape would reach
    let dir = cttest::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "host-token\n").unwrap();
    let secret = secret.display().to_string();
    let out = env.ok(&[
        "run",
        "--rm",
        "--chroot",
        "img",
        "/probe",
        "attack",
        "chroot",
        &secret,
        "host-token",
        "+",
        "mknod",
        "7:0",
        "no-token",
        "+",
        "mount",
        "+",
        "sysrq",
    ]);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.lines().all(|l| l.starts_with("REFUSED")), "{out}");
    assert!(!std::path::Path::new(&format!("{secret}.chroot-escaped")).exists());
    let st = env.ok(&[
        "run",
        "--rm",
        "--chroot",
        "img",
        "/bin/cat",
        "/proc/1/status",
    ]);
    assert_eq!(status_field(&st, "CapBnd"), "00000000a80425fb");
    assert_eq!(status_field(&st, "Seccomp"), "2");
    // masked paths, as in pivot_root mode
    let out = env.ok(&[
        "run",
        "--rm",
        "--chroot",
        "img",
        "/bin/cat",
        "/proc/timer_list",
        "/proc/keys",
    ]);
    assert_eq!(out, "");
    // exec joins pid 1's root, not the mount namespace's (the host's, under chroot)
    env.ok(&[
        "run",
        "-d",
        "--chroot",
        "--name",
        "c",
        "img",
        "/bin/sleep",
        "1000",
    ]);
    env.wait_for("c", "running");
    let ls = env.ok(&["exec", "c", "/bin/ls", "/"]);
    assert!(ls.lines().any(|l| l == "probe"), "{ls}");
    assert!(!ls.lines().any(|l| l == "work" || l == "boot"), "{ls}");
    let out = env.ok(&[
        "exec",
        "c",
        "/probe",
        "attack",
        "chroot",
        &secret,
        "host-token",
    ]);
    assert!(out.starts_with("REFUSED"), "{out}");
}

#[test]
fn device_nodes_exist_at_start_inside_the_root() {
    if !cttest::require_root("e2e::contain_isolation::device_nodes_exist_at_start_inside_the_root")
    {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("device");
    env.build_test_image("img");
    let dir = cttest::tempdir().unwrap();
    let plant = dir.path().join("plant");
    std::fs::create_dir(&plant).unwrap();
    // the node is there when the program starts, at a path of its own, and opens (the
    // devices cgroup allows what --device names, and only that)
    let out = env.ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/null:/dev/sub/mynull",
        "img",
        "/bin/sh",
        "-c",
        "ls -l /dev/sub/mynull; echo x > /dev/sub/mynull && echo written",
    ]);
    assert!(out.starts_with("crw"), "{out}");
    assert!(out.contains("written"), "{out}");
    // a detached container: the node is made before its program runs, inside its root;
    // the program then plants a link to a host directory where the node's directory was
    let plant_s = plant.display().to_string();
    let id = env
        .ok(&[
            "run",
            "-d",
            "--device",
            "/dev/null:/dev/sub/n",
            "img",
            "/probe",
            "attack",
            "devplant",
            "/dev/sub/n",
            &plant_s,
        ])
        .trim()
        .to_string();
    let log = wait_log(&env, &id, "devplant");
    assert!(log.contains("present at start"), "{log}");
    assert!(
        std::fs::read_dir(&plant).unwrap().next().is_none(),
        "nothing made on the host"
    );
    let v = env.inspect(&id);
    assert_eq!(
        v["HostConfig"]["Devices"],
        serde_json::json!([{"PathOnHost": "/dev/null", "PathInContainer": "/dev/sub/n", "CgroupPermissions": "rwm"}])
    );
    // the container restarted: the link it left in its layer does not redirect the node
    env.ok(&["start", "-a", &id]);
    assert!(
        std::fs::read_dir(&plant).unwrap().next().is_none(),
        "nothing made on the host"
    );
    // a device outside docker's list given read-only: the cgroup refuses to open it for
    // writing (a loop device: nothing is written to it either way)
    if std::path::Path::new("/dev/loop0").exists() {
        let out = env.run(&[
            "run",
            "--rm",
            "--device",
            "/dev/loop0:/dev/myloop:r",
            "img",
            "/bin/sh",
            "-c",
            "ls -l /dev/myloop; echo x > /dev/myloop",
        ]);
        assert!(stdout(&out).starts_with("brw"), "{}", stdout(&out));
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("Operation not permitted"),
            "{}",
            stderr(&out)
        );
    }
    // --privileged binds the host's /dev: a node elsewhere is not made, and contain says so
    let out = env.run(&[
        "run",
        "--rm",
        "--privileged",
        "--device",
        "/dev/null:/dev/elsewhere",
        "img",
        "/bin/ls",
        "/dev/null",
        "/dev/elsewhere",
    ]);
    assert!(stdout(&out).contains("/dev/null"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("not /dev/elsewhere"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&[
        "run",
        "--rm",
        "--device",
        "/dev/nonexistent-ctools",
        "img",
        "/bin/true",
    ]);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn exec_user_is_resolved_inside_the_container() {
    if !cttest::require_root("e2e::contain_isolation::exec_user_is_resolved_inside_the_container") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("execuser");
    env.build_test_image("img");
    env.ok(&["run", "-d", "--name", "x", "img", "/bin/sleep", "1000"]);
    env.wait_for("x", "running");
    // the container plants /etc/passwd -> the host's /etc/shadow; exec -u root then reads the
    // container's own /etc/shadow (none here), never the host's
    let out = env.ok(&["exec", "x", "/probe", "attack", "passwd", "/etc/shadow"]);
    assert!(out.contains("planted"), "{out}");
    let out = env.run(&["exec", "-u", "root", "x", "/probe", "attack", "whoami"]);
    assert_eq!(out.status.code(), Some(125), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("unable to find user root"),
        "{}",
        stderr(&out)
    );
    // a numeric user needs no lookup; the container's files name the rest
    let out = env.ok(&["exec", "-u", "1234:5", "x", "/probe", "attack", "whoami"]);
    assert!(out.contains("uid=1234 gid=5"), "{out}");
    env.ok(&["run", "-d", "--name", "y", "img", "/bin/sleep", "1000"]);
    env.wait_for("y", "running");
    let out = env.ok(&["exec", "-u", "nobody", "y", "/probe", "attack", "whoami"]);
    assert!(out.contains("uid=65534"), "{out}");
    // exec starts in the container's root, never in the caller's directory
    let mut c = env.cmd();
    c.args(["exec", "y", "/bin/sh", "-c", "pwd; ls .."])
        .current_dir("/proc");
    let out = cttest::run_with_timeout(&mut c, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("/\n"), "{}", stdout(&out));
    assert!(stdout(&out).contains("probe"), "{}", stdout(&out));
}

#[test]
fn keys_and_init_stay_inside() {
    if !cttest::require_root("e2e::contain_isolation::keys_and_init_stay_inside") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("keys");
    env.build_test_image("img");
    // --init: pid 1 is chroot-rs's init, named "init", with the container's protections
    let out = env.ok(&[
        "run",
        "--rm",
        "--init",
        "img",
        "/bin/sh",
        "-c",
        "cat /proc/1/cmdline; echo; cat /proc/1/status",
    ]);
    let cmdline = out.lines().next().unwrap();
    assert!(
        cmdline.trim_end_matches(['\0', ' ']).starts_with("init"),
        "{out:?}"
    );
    assert!(
        !cmdline.contains('/'),
        "no host path in pid 1's command line: {out:?}"
    );
    assert_eq!(status_field(&out, "Seccomp"), "2");
    assert_eq!(status_field(&out, "CapBnd"), "00000000a80425fb");
    // the session keyring is the container's own, in run and exec (keyctl is refused by
    // the seccomp profile anyway: seen here without it): not ours, which contain inherits
    // SAFETY: KEYCTL_GET_KEYRING_ID (0) of KEY_SPEC_SESSION_KEYRING (-3), creating it (1).
    let ours = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 1) };
    assert!(ours > 0, "our session keyring");
    let keyring = |out: &str| -> i64 {
        let n = out
            .split("session keyring ")
            .nth(1)
            .unwrap_or_else(|| panic!("{out}"));
        n.trim().trim_end_matches(')').parse().unwrap()
    };
    let out = env.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "img",
        "/probe",
        "attack",
        "keyctl",
    ]);
    assert_ne!(keyring(&out), ours, "{out}");
    env.ok(&[
        "run",
        "-d",
        "--name",
        "k",
        "--security-opt",
        "seccomp=unconfined",
        "img",
        "/bin/sleep",
        "1000",
    ]);
    env.wait_for("k", "running");
    let out = env.ok(&["exec", "k", "/probe", "attack", "keyctl"]);
    assert_ne!(keyring(&out), ours, "exec: {out}");
    // --privileged lifts the hardening, not the keyring of its own (as runc)
    let out = env.ok(&[
        "run",
        "--rm",
        "--privileged",
        "img",
        "/probe",
        "attack",
        "keyctl",
    ]);
    assert_ne!(keyring(&out), ours, "--privileged: {out}");
    let out = env.ok(&["run", "--rm", "img", "/probe", "attack", "keyctl"]);
    assert!(
        out.starts_with("REFUSED keyctl"),
        "the default profile: {out}"
    );
}

#[test]
fn a_volume_destination_never_follows_a_link_out_of_the_root() {
    if !cttest::require_root(
        "e2e::contain_isolation::a_volume_destination_never_follows_a_link_out_of_the_root",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("voldest");
    env.build_test_image("img");
    let dir = cttest::tempdir().unwrap();
    let src = dir.path().join("src");
    let victim = dir.path().join("victim");
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir(&victim).unwrap();
    let vol = format!("{}:/data/sub", src.display());
    let id = env
        .ok(&["create", "-v", &vol, "img", "/bin/ls", "/data/sub"])
        .trim()
        .to_string();
    // what a container could have left in its layer: /data -> a host directory
    std::os::unix::fs::symlink(
        &victim,
        env.state().join("containers").join(&id).join("upper/data"),
    )
    .unwrap();
    let out = env.run(&["start", "-a", &id]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        std::fs::read_dir(&victim).unwrap().next().is_none(),
        "nothing made on the host"
    );
}

#[test]
fn domainname_is_the_containers_own() {
    if !cttest::require_root("e2e::contain_isolation::domainname_is_the_containers_own") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("domain");
    env.build_test_image("img");
    let host = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--domainname",
        "example.org",
        "img",
        "/bin/cat",
        "/proc/sys/kernel/domainname",
    ]);
    assert_eq!(out, "example.org\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        host,
        "the host's is unchanged"
    );
    let id = env
        .ok(&[
            "create",
            "--network",
            "none",
            "--domainname",
            "ex.org",
            "img",
            "/bin/true",
        ])
        .trim()
        .to_string();
    assert_eq!(env.inspect(&id)["Config"]["Domainname"], "ex.org");
    let out = env.run(&["run", "--rm", "--domainname", "a b", "img", "/bin/true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(stderr(&out), "contain: invalid domain name: \"a b\"\n");
}

#[test]
fn sys_fs_cgroup_shows_the_containers_own_cgroups_read_only() {
    if !cttest::require_root(
        "e2e::contain_isolation::sys_fs_cgroup_shows_the_containers_own_cgroups_read_only",
    ) {
        return;
    }
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        // cgroup v2 alone: vm_contain_v2 checks it there.
        assert!(!cttest::strict(), "a v1 test on a cgroup v2 host");
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("cgview");
    env.build_test_image("img");
    // The document's steps, typed inside: the limit of -m 64m, and what else is there.
    let script = r#"
        echo "limit $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
        echo "top" $(ls /sys/fs/cgroup)
        for d in /sys/fs/cgroup/*/*/; do [ -d "$d" ] && echo "child $d"; done
        for h in /sys/fs/cgroup/*; do [ -e "$h/release_agent" ] && echo "release_agent $h"; done
        echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null && echo wrote-limit
        echo 0 > /sys/fs/cgroup/memory/cgroup.procs 2>/dev/null && echo wrote-procs
        mkdir /sys/fs/cgroup/memory/x 2>/dev/null && echo made-cgroup
        mkdir /sys/fs/cgroup/x 2>/dev/null && echo made-top
        echo end
    "#;
    for privileged in [false, true] {
        let mut args = vec!["run", "--rm", "-m", "64m"];
        if privileged {
            args.push("--privileged");
        }
        args.extend(["img", "/bin/sh", "-c", script]);
        let out = env.ok(&args);
        assert!(out.lines().any(|l| l == "limit 67108864"), "{out}");
        assert!(out.lines().any(|l| l == "end"), "{out}");
        let top: Vec<&str> = out
            .lines()
            .find_map(|l| l.strip_prefix("top "))
            .unwrap()
            .split(' ')
            .collect();
        // cgset's hierarchies, each the container's own group; none of the host's
        // root cgroups (the test's own are the roots of some) and no named one.
        for want in ["memory", "pids", "blkio", "cpuset", "freezer"] {
            assert!(top.contains(&want), "{want} missing: {out}");
        }
        assert!(
            !top.iter().any(|t| t.contains("systemd") || *t == "unified"),
            "{out}"
        );
        for bad in [
            "child ",
            "release_agent ",
            "wrote-limit",
            "wrote-procs",
            "made-cgroup",
            "made-top",
        ] {
            assert!(!out.lines().any(|l| l.starts_with(bad)), "{bad}: {out}");
        }
    }
    // Nothing is left of the container's group.
    for d in env.cgroup_dirs() {
        let left: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .collect();
        assert!(left.is_empty(), "{}: {left:?}", d.display());
    }
}

/// `run -u NAME` looks the user up in the image's own root: a link an image's layer holds on
/// the way to /etc/passwd is resolved inside the image (as the container sees it), never on
/// the host, where /etc/passwd -> /etc/shadow read the host's shadow file (its fields became
/// the uid and HOME).  One layer (looked at directly unless a link is on the way) and an
/// image committed on top of another (the union walk with its whiteouts).
#[test]
fn run_user_is_looked_up_inside_the_image() {
    if !cttest::require_root("e2e::contain_isolation::run_user_is_looked_up_inside_the_image") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("runuser");
    let id = env.build_test_image("img");
    let layers =
        std::fs::read_to_string(env.state().join("images").join(&id).join("layers")).unwrap();
    let fs = env
        .state()
        .join("layers")
        .join(layers.lines().next().unwrap())
        .join("fs");
    let etc = fs.join("etc");
    let plain = std::fs::read_to_string(etc.join("passwd")).unwrap();
    let whoami = |img: &str, user: &str| {
        env.run(&["run", "--rm", "-u", user, img, "/probe", "attack", "whoami"])
    };
    // root looked up in IMG: refused with Docker's message (no host file read)
    let root_unknown = |img: &str| {
        let o = whoami(img, "root");
        assert_eq!(o.status.code(), Some(125), "{}", stdout(&o));
        assert!(
            stderr(&o).contains("unable to find user root"),
            "{}",
            stderr(&o)
        );
    };
    // the image's passwd as it is: nobody is found
    let o = whoami("img", "nobody");
    assert!(stdout(&o).contains("uid=65534"), "{}", stderr(&o));
    // an absolute link inside the image: followed inside it
    std::fs::write(
        etc.join("passwd.real"),
        format!("{plain}app:x:4242:4243::/home/app:/bin/sh\n"),
    )
    .unwrap();
    std::fs::remove_file(etc.join("passwd")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd.real", etc.join("passwd")).unwrap();
    let o = whoami("img", "app");
    assert!(
        stdout(&o).contains("uid=4242 gid=4243 home=/home/app"),
        "{} {}",
        stdout(&o),
        stderr(&o)
    );
    // a name the host has too: the image's entry and groups alone (chroot-rs --run-as), never
    // a mix with the host's (the host's nobody is 65534 in group 65534)
    let others: String = plain
        .lines()
        .filter(|l| !l.starts_with("nobody:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(
        etc.join("passwd.real"),
        format!("{others}nobody:x:4242:4243::/home/nb:/bin/sh\n"),
    )
    .unwrap();
    let group = std::fs::read_to_string(etc.join("group")).unwrap_or_default();
    std::fs::write(
        etc.join("group"),
        format!("{group}ctgrp:x:4243:\nctextra:x:4444:nobody\n"),
    )
    .unwrap();
    let st = env.ok(&[
        "run",
        "--rm",
        "-u",
        "nobody",
        "img",
        "/bin/cat",
        "/proc/self/status",
    ]);
    let field = |k: &str| {
        st.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert_eq!(field("Uid:"), "4242 4242 4242 4242", "{st}");
    assert_eq!(field("Gid:"), "4243 4243 4243 4243", "{st}");
    assert_eq!(field("Groups:"), "4444", "{st}");
    // a link to a file the image lacks: the host's is never read
    std::fs::remove_file(etc.join("passwd")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", etc.join("passwd")).unwrap();
    root_unknown("img");
    // a relative link climbing out of the layer: stops at the image's root
    std::fs::remove_file(etc.join("passwd")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../../../../../etc/shadow",
        etc.join("passwd"),
    )
    .unwrap();
    assert_eq!(whoami("img", "root").status.code(), Some(125));
    // two layers: the passwd back in the lower one, a container's link to the host's shadow
    // committed above it
    std::fs::remove_file(etc.join("passwd")).unwrap();
    std::fs::write(etc.join("passwd"), &plain).unwrap();
    env.ok(&[
        "run",
        "--name",
        "p",
        "img",
        "/probe",
        "attack",
        "passwd",
        "/etc/shadow",
    ]);
    env.ok(&["commit", "p", "img2"]);
    env.ok(&["rm", "p"]);
    root_unknown("img2");
    // and the lower passwd is seen where the upper layer leaves it alone
    let o = whoami("img", "nobody");
    assert!(stdout(&o).contains("uid=65534"), "{}", stderr(&o));
}
