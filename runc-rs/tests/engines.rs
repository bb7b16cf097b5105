//! podman 4.3 drives runc-rs (`--runtime`), with a private CONTAINERS_CONF,
//! --root and --runroot under a temporary directory (vfs storage, no
//! network, cgroupfs), and an image imported from a root made here:
//! run --rm and exit statuses (127 for a missing program), run -d with exec
//! and pause/unpause/kill/stop/rm, -t through the console socket, -m,
//! --cpus and --pids-limit read back from the cgroup files, -v, --read-only,
//! --cap-drop, and podman's default seccomp profile (Seccomp: 2).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

struct Podman {
    tmp: cttest::TempDir,
    conf: PathBuf,
}

impl Podman {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", &self.conf)
            .arg("--root")
            .arg(self.tmp.path().join("root"))
            .arg("--runroot")
            .arg(self.tmp.path().join("runroot"))
            .args(["--storage-driver", "vfs", "--runtime"])
            .arg(cttest::bin("runc-rs"))
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        cttest::run_with_timeout(&mut self.cmd(args), LIMIT)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "podman {args:?}: {:?}\n{}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "-af", "-t", "0"]);
        let _ = cttest::run_with_timeout(
            Command::new("umount")
                .arg("-R")
                .arg(self.tmp.path().join("root"))
                .stderr(Stdio::null()),
            LIMIT,
        );
        // podman's cgroupfs parents, when empty (other users keep theirs).
        for d in fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = d.path().join("libpod_parent");
            let _ = fs::remove_dir(p.join("conmon"));
            let _ = fs::remove_dir(&p);
        }
    }
}

fn podman(test: &str) -> Option<Podman> {
    if !cttest::require_root(test) {
        return None;
    }
    let have = Command::new("podman")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !cttest::require(test, have, "needs podman (apt-get install podman)") {
        return None;
    }
    let tmp = cttest::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    cttest::minroot::build(
        &rootfs,
        &[
            "sh", "cat", "sleep", "echo", "grep", "tty", "touch", "ls", "true",
        ],
    )
    .unwrap();
    let tar = tmp.path().join("rootfs.tar");
    let o = cttest::run_with_timeout(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
        LIMIT,
    );
    assert!(o.status.success());
    let conf = tmp.path().join("containers.conf");
    // This host's root lacks CAP_SYS_RESOURCE: ulimits below the host's.
    fs::write(
        &conf,
        "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\nnetns = \"none\"\n\
         [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
         runtime_supports_json = [\"runc-rs\", \"runc\", \"crun\"]\n",
    )
    .unwrap();
    let p = Podman { tmp, conf };
    p.ok(&["import", tar.to_str().unwrap(), "ctimg"]);
    Some(p)
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().map(str::trim).collect()
}

#[test]
fn podman_runs_on_runc_rs() {
    let Some(p) = podman("podman_runs_on_runc_rs") else {
        return;
    };
    assert_eq!(p.ok(&["run", "--rm", "ctimg", "echo", "hello"]), "hello\n");
    assert_eq!(
        p.run(&["run", "--rm", "ctimg", "sh", "-c", "exit 5"])
            .status
            .code(),
        Some(5)
    );
    let o = p.run(&["run", "--rm", "ctimg", "/nonexistent"]);
    assert_eq!(
        o.status.code(),
        Some(127),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The default: podman's seccomp profile and capabilities.
    let out = p.ok(&[
        "run",
        "--rm",
        "ctimg",
        "grep",
        "-E",
        "^(Seccomp|CapBnd):",
        "/proc/self/status",
    ]);
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(
        out.contains("CapBnd:\t00000000800405fb") || out.contains("CapBnd:\t00000000a80425fb"),
        "{out}"
    );
    // Limits read back inside, from the cgroup files of the cgroup mount.
    let out = p.ok(&[
        "run", "--rm", "-m", "64m", "--cpus", "0.5", "--pids-limit", "100", "ctimg", "sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max",
    ]);
    assert_eq!(lines(&out), ["67108864", "50000", "100"]);
    // -v, --read-only, --cap-drop
    let host = p.tmp.path().join("vol");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("f"), "volume\n").unwrap();
    let vol = format!("{}:/data:ro", host.display());
    let out = p.ok(&[
        "run", "--rm", "--read-only", "--cap-drop", "ALL", "-v", &vol, "ctimg", "sh", "-c",
        "cat /data/f; touch /x 2>/dev/null || echo ro-root; touch /data/y 2>/dev/null || echo ro-vol; grep ^CapEff: /proc/self/status; touch /tmp/t && echo tmp-rw",
    ]);
    assert_eq!(
        lines(&out),
        [
            "volume",
            "ro-root",
            "ro-vol",
            "CapEff:\t0000000000000000",
            "tmp-rw"
        ]
    );
}

#[test]
fn podman_detached_exec_pause_stop_tty() {
    let Some(p) = podman("podman_detached_exec_pause_stop_tty") else {
        return;
    };
    p.ok(&["run", "-d", "--name", "c1", "ctimg", "sleep", "1000"]);
    assert_eq!(p.ok(&["exec", "c1", "sh", "-c", "echo in"]), "in\n");
    assert_eq!(
        p.run(&["exec", "c1", "sh", "-c", "exit 3"]).status.code(),
        Some(3)
    );
    p.ok(&["pause", "c1"]);
    assert_eq!(
        p.ok(&["inspect", "--format", "{{.State.Status}}", "c1"])
            .trim(),
        "paused"
    );
    let id = p.ok(&["inspect", "--format", "{{.Id}}", "c1"]);
    let st = cttest::run_with_timeout(cttest::cmd("runc-rs").args(["state", id.trim()]), LIMIT);
    assert!(String::from_utf8_lossy(&st.stdout).contains("\"paused\""));
    p.ok(&["unpause", "c1"]);
    assert_eq!(
        p.ok(&["inspect", "--format", "{{.State.Status}}", "c1"])
            .trim(),
        "running"
    );
    // exec -t: exec's pty master through the console socket, under script(1).
    if Command::new("script").arg("--version").output().is_ok() {
        let c = p.cmd(&["exec", "-t", "c1", "tty"]);
        let args: Vec<String> = std::iter::once(c.get_program().to_string_lossy().into_owned())
            .chain(c.get_args().map(|a| a.to_string_lossy().into_owned()))
            .collect();
        let o = cttest::run_with_timeout(
            Command::new("script")
                .env("CONTAINERS_CONF", &p.conf)
                .args(["-qec", &args.join(" "), "/dev/null"]),
            LIMIT,
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("/dev/pts/"), "exec -t: {out}");
    }
    p.ok(&["kill", "-s", "USR1", "c1"]);
    // sleep as pid 1 ignores TERM: stop sends KILL after the timeout.
    p.ok(&["stop", "-t", "1", "c1"]);
    assert_eq!(
        p.ok(&["inspect", "--format", "{{.State.ExitCode}}", "c1"])
            .trim(),
        "137"
    );
    p.ok(&["rm", "c1"]);
    assert!(!Path::new("/run/runc-rs").join(id.trim()).exists());
    // -t: the pty master through the console socket, under script(1).
    let have_script = Command::new("script").arg("--version").output().is_ok();
    if have_script {
        let c = p.cmd(&["run", "--rm", "-t", "ctimg", "tty"]);
        let args: Vec<String> = std::iter::once(c.get_program().to_string_lossy().into_owned())
            .chain(c.get_args().map(|a| a.to_string_lossy().into_owned()))
            .collect();
        let o = cttest::run_with_timeout(
            Command::new("script")
                .env("CONTAINERS_CONF", &p.conf)
                .args(["-qec", &args.join(" "), "/dev/null"]),
            LIMIT,
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("/dev/pts/0"), "{out}");
    }
}

/// A private containerd (its own root, state, sockets and config), stopped
/// by pid at the end.
struct Containerd {
    child: std::process::Child,
    dir: PathBuf,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // SAFETY: SIGTERM to the daemon we started, by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        for _ in 0..500 {
            if self.child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = cttest::run_with_timeout(
            Command::new("umount")
                .arg("-R")
                .arg(self.dir.join("root"))
                .stderr(Stdio::null()),
            LIMIT,
        );
        // The shims this daemon started (they outlive it by design): by pid,
        // those whose command line names our socket.
        let sock = self.dir.join("ctd.sock");
        for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            if cmd.starts_with("/usr/bin/containerd-shim")
                && cmd.contains(sock.to_str().unwrap_or("?"))
            {
                // SAFETY: SIGKILL to a shim of our daemon, by pid.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        // The shim's socket and fifo directories, made whatever the state
        // directory, when empty.
        for d in [
            "/run/containerd/s",
            "/run/containerd/fifo",
            "/run/containerd",
        ] {
            let _ = fs::remove_dir(d);
        }
    }
}

#[test]
fn containerd_ctr_runs_on_runc_rs() {
    let test = "containerd_ctr_runs_on_runc_rs";
    let Some(p) = podman(test) else {
        return;
    };
    let have = Command::new("containerd")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !cttest::require(test, have, "needs containerd (apt-get install containerd)") {
        return;
    }
    let dir = p.tmp.path().join("ctd");
    fs::create_dir(&dir).unwrap();
    let sock = dir.join("ctd.sock");
    let conf = dir.join("config.toml");
    fs::write(
        &conf,
        format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{0}/ctd.sock\"\n[ttrpc]\n  address = \"{0}/ttrpc.sock\"\n",
            dir.display()
        ),
    )
    .unwrap();
    let log = fs::File::create(dir.join("log")).unwrap();
    let child = Command::new("containerd")
        .arg("--config")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let _ctd = Containerd {
        child,
        dir: dir.clone(),
    };
    for _ in 0..1000 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let archive = dir.join("img.tar");
    p.ok(&[
        "save",
        "--format",
        "docker-archive",
        "-o",
        archive.to_str().unwrap(),
        "ctimg",
    ]);
    let runc_root = dir.join("runc");
    let ctr = |args: &[&str]| -> Output {
        let mut c = Command::new("ctr");
        c.arg("-a")
            .arg(&sock)
            .args(["-n", "runcrs"])
            .args(args)
            .stdin(Stdio::null());
        cttest::run_with_timeout(&mut c, LIMIT)
    };
    let ok = |args: &[&str]| -> String {
        let o = ctr(args);
        assert!(
            o.status.success(),
            "ctr {args:?}: {:?}\n{}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    ok(&["images", "import", archive.to_str().unwrap()]);
    let image = ok(&["images", "ls", "-q"])
        .lines()
        .next()
        .unwrap()
        .to_string();
    let rb = cttest::bin("runc-rs");
    let rb = rb.to_str().unwrap();
    let rr = runc_root.to_str().unwrap();
    let run = |extra: &[&str], id: &str, cmd: &[&str]| -> Output {
        let mut a = vec![
            "run",
            "--runc-binary",
            rb,
            "--runc-root",
            rr,
            "--cgroup",
            "runc-rs-ctr",
        ];
        a.extend(extra);
        a.push(&image);
        a.push(id);
        a.extend(cmd);
        ctr(&a)
    };
    // a one-shot container: output and status
    let o = run(&["--rm"], "one", &["sh", "-c", "echo hello; exit 7"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\n");
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // a long-running one: exec, ps, pause/resume, kill, delete
    let o = run(&["-d"], "long", &["sleep", "1000"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        ok(&[
            "task",
            "exec",
            "--exec-id",
            "e1",
            "long",
            "sh",
            "-c",
            "echo in"
        ]),
        "in\n"
    );
    assert_eq!(
        ctr(&[
            "task",
            "exec",
            "--exec-id",
            "e2",
            "long",
            "sh",
            "-c",
            "exit 3"
        ])
        .status
        .code(),
        Some(3)
    );
    let ps = ok(&["task", "ps", "long"]);
    assert_eq!(ps.lines().count(), 2, "{ps}");
    ok(&["task", "pause", "long"]);
    assert!(ok(&["task", "ls"]).contains("PAUSED"));
    ok(&["task", "resume", "long"]);
    ok(&["task", "kill", "-s", "SIGKILL", "long"]);
    for _ in 0..500 {
        if ok(&["task", "ls"]).contains("STOPPED") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    ok(&["task", "delete", "long"]);
    ok(&["container", "rm", "long"]);
    let left: Vec<_> = fs::read_dir(runc_root.join("runcrs"))
        .map(|d| d.count())
        .into_iter()
        .collect();
    assert!(
        left.is_empty() || left == [0],
        "runc-rs state left: {left:?}"
    );
}

/// Rootless podman as the host's unprivileged user 65534 (nobody), with
/// subordinate ids that exist only for the test: every podman call runs in
/// a private mount namespace whose /etc is an overlay of the host's with
/// `subuid` and `subgid` granting 200000-265535 to that user (newuidmap and
/// podman read them there; the host's /etc is untouched), and the user's
/// HOME, XDG_RUNTIME_DIR, CONTAINERS_CONF, --root and --runroot under the
/// test's temporary directory.
struct Rootless {
    tmp: cttest::TempDir,
    calls: std::cell::Cell<u32>,
}

impl Rootless {
    fn dir(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        // a fresh overlay upper directory for each call's namespace
        let n = self.calls.get() + 1;
        self.calls.set(n);
        let (upper, work) = (self.dir(&format!("etc{n}")), self.dir(&format!("etcw{n}")));
        fs::create_dir(&upper).unwrap();
        fs::create_dir(&work).unwrap();
        let name = cttest::sh("getent passwd 65534 | cut -d: -f1");
        let name = String::from_utf8_lossy(&name.stdout).trim().to_string();
        for f in ["subuid", "subgid"] {
            fs::write(upper.join(f), format!("{name}:200000:65536\n")).unwrap();
        }
        let t = self.tmp.path().display().to_string();
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(format!(
                "mount -t overlay overlay -o lowerdir=/etc,upperdir={},workdir={} /etc || exit 125; \
                 exec setpriv --reuid=65534 --regid=65534 --clear-groups -- env -i \
                 PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME={t}/home \
                 XDG_RUNTIME_DIR={t}/xdg CONTAINERS_CONF={t}/containers.conf \"$@\"",
                upper.display(),
                work.display()
            ))
            .args(["sh", "podman", "--root"])
            .arg(self.dir("root"))
            .arg("--runroot")
            .arg(self.dir("runroot"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .stdin(Stdio::null());
        cttest::run_with_timeout(&mut c, LIMIT)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "rootless podman {args:?}: {:?}\n{}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "-af", "-t", "0"]);
        // podman's pause process (it holds the user namespace), by its pid file.
        if let Ok(p) = fs::read_to_string(self.dir("xdg/libpod/tmp/pause.pid"))
            && let Ok(pid) = p.trim().parse::<i32>()
            && pid > 1
        {
            // SAFETY: a signal to the pause process this test's podman started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[test]
fn rootless_podman_runs_on_runc_rs() {
    let test = "rootless_podman_runs_on_runc_rs";
    if !cttest::require_root(test) {
        return;
    }
    let have = |c: &str| cttest::sh(&format!("command -v {c}")).status.success();
    let nobody = cttest::sh("getent passwd 65534").status.success();
    if !cttest::require(
        test,
        [
            "podman",
            "newuidmap",
            "newgidmap",
            "setpriv",
            "unshare",
            "runc",
        ]
        .iter()
        .all(|c| have(c))
            && nobody,
        "needs podman, uidmap, util-linux, runc and a user 65534",
    ) {
        return;
    }
    let host_subuid = fs::metadata("/etc/subuid").ok().map(|m| m.len());
    let tmp = cttest::tempdir().unwrap();
    let t = tmp.path();
    fs::set_permissions(t, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for d in ["home", "xdg", "root", "runroot"] {
        fs::create_dir(t.join(d)).unwrap();
        std::os::unix::fs::chown(t.join(d), Some(65534), Some(65534)).unwrap();
    }
    fs::set_permissions(
        t.join("xdg"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    fs::write(
        t.join("containers.conf"),
        "[containers]\nnetns = \"none\"\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
         runtime_supports_json = [\"runc-rs\", \"runc\", \"crun\"]\n",
    )
    .unwrap();
    let rootfs = t.join("rootfs");
    cttest::minroot::build(&rootfs, &["sh", "cat", "echo", "grep", "id", "sleep"]).unwrap();
    let tar = t.join("rootfs.tar");
    let o = cttest::run_with_timeout(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
        LIMIT,
    );
    assert!(o.status.success());
    let p = Rootless {
        tmp,
        calls: std::cell::Cell::new(0),
    };
    p.ok(&["import", tar.to_str().unwrap(), "ctimg"]);
    let rr = cttest::bin("runc-rs");
    let runc = cttest::sh("command -v runc");
    let runc = String::from_utf8_lossy(&runc.stdout).trim().to_string();
    let script =
        "echo hello; id -u; grep -E '^(Seccomp|Uid):' /proc/self/status; cat /proc/self/uid_map";
    let mut seen = vec![];
    for rt in [runc.as_str(), rr.to_str().unwrap()] {
        let out = p.ok(&["run", "--rm", "--runtime", rt, "ctimg", "sh", "-c", script]);
        let l = lines(&out);
        assert_eq!(l[..2], ["hello", "0"], "{rt}: {out}");
        assert!(out.contains("Seccomp:\t2"), "{rt}: {out}");
        // root inside is the user outside; the rest are the test's subordinate ids
        let map: Vec<Vec<&str>> = l[4..]
            .iter()
            .map(|m| m.split_whitespace().collect())
            .collect();
        assert_eq!(
            map,
            [["0", "65534", "1"], ["1", "200000", "65536"]],
            "{rt}: {out}"
        );
        assert_eq!(
            p.run(&[
                "run",
                "--rm",
                "--runtime",
                rt,
                "ctimg",
                "sh",
                "-c",
                "exit 5"
            ])
            .status
            .code(),
            Some(5),
            "{rt}"
        );
        seen.push(out);
    }
    assert_eq!(seen[0], seen[1], "runc and runc-rs give the same container");
    // A detached container, exec'd into (the exec re-executes runc-rs from a
    // read-only clone inside the user namespace), then removed.
    let rr = rr.to_str().unwrap();
    p.ok(&[
        "run",
        "-d",
        "--name",
        "d1",
        "--runtime",
        rr,
        "ctimg",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        lines(&p.ok(&["exec", "d1", "sh", "-c", "echo in; id -u"])),
        ["in", "0"]
    );
    assert_eq!(
        p.run(&["exec", "d1", "sh", "-c", "exit 4"]).status.code(),
        Some(4)
    );
    p.ok(&["rm", "-f", "-t", "0", "d1"]);
    // runc-rs kept its state under the user's XDG_RUNTIME_DIR, and nothing is left there.
    let state = p.dir("xdg/runc-rs");
    assert!(state.is_dir());
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
    drop(p);
    assert_eq!(
        fs::metadata("/etc/subuid").ok().map(|m| m.len()),
        host_subuid,
        "the host's /etc/subuid is untouched"
    );
}
