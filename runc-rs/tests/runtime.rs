//! runc-rs for real (root): the lifecycle and its states, the pid file,
//! hooks with the state on stdin, kill, delete, exec, the console socket,
//! pause, failures that leave nothing, config fields read back from inside
//! the container (the static probe, and /proc through sh), and runc's
//! bundles both ways (runc spec → runc-rs run, runc-rs spec → runc run).

use std::fs;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(60);

struct Bundle {
    _tmp: cttest::TempDir,
    dir: PathBuf,
    root: PathBuf,
    id: String,
}

impl Bundle {
    fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    fn rc(&self) -> Command {
        let mut c = cttest::cmd("runc-rs");
        c.arg("--root").arg(&self.root);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut c = self.rc();
        c.args(args).stdin(Stdio::null());
        cttest::run_with_timeout(&mut c, LIMIT)
    }

    fn state(&self) -> Value {
        let o = self.run(&["state", &self.id]);
        assert!(
            o.status.success(),
            "state: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).expect("state JSON")
    }

    fn write_config(&self, c: &Value) {
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_string_pretty(c).unwrap(),
        )
        .unwrap();
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = cttest::run_with_timeout(
            cttest::cmd("runc-rs")
                .arg("--root")
                .arg(&self.root)
                .args(["delete", "--force", &self.id]),
            LIMIT,
        );
    }
}

/// A bundle with a minimal root (sh, cat, sleep, echo, id, ls and the probe).
fn bundle(id: &str) -> Bundle {
    let tmp = cttest::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    let rootfs = dir.join("rootfs");
    cttest::minroot::build(
        &rootfs,
        &[
            "sh", "cat", "sleep", "echo", "ls", "id", "tty", "grep", "wc", "hostname",
        ],
    )
    .unwrap();
    fs::copy(cttest::probe(), rootfs.join("probe")).unwrap();
    let b = Bundle {
        root: tmp.path().join("state"),
        dir,
        _tmp: tmp,
        id: format!("{id}-{}", std::process::id()),
    };
    b.write_config(&config(&b.id, &["/probe"]));
    b
}

/// A runc-like config running `args`, in a cgroup below the test's own.
fn config(id: &str, args: &[&str]) -> Value {
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "runcrs",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "cgroupsPath": format!("runc-rs-test-{id}"),
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

fn alive(pid: i64) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

fn wait_stopped(b: &Bundle) {
    for _ in 0..2000 {
        if b.state()["status"] == "stopped" {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the container did not stop");
}

/// Run a command whose standard output and error are files (what it
/// leaves running, the container, keeps them: pipes would never end).
fn with_files(c: &mut Command, out: &Path) -> Output {
    let err = out.with_extension("err");
    c.stdin(Stdio::null())
        .stdout(fs::File::create(out).unwrap())
        .stderr(fs::File::create(&err).unwrap());
    let mut child = c.spawn().unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("{c:?} ran longer than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: vec![],
        stderr: fs::read(&err).unwrap_or_default(),
    }
}

/// Run create with stdout to a file, so that the container's output can be read.
fn create(b: &Bundle, out: &Path, extra: &[&str]) -> Output {
    let mut c = b.rc();
    c.arg("create")
        .args(extra)
        .arg("--bundle")
        .arg(&b.dir)
        .arg(&b.id);
    with_files(&mut c, out)
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {:?}\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn lifecycle_states_pid_file_kill_delete() {
    if !cttest::require_root("lifecycle_states_pid_file_kill_delete") {
        return;
    }
    let b = bundle("life");
    b.write_config(&config(&b.id, &["sleep", "1000"]));
    let pidfile = b.dir.join("pidfile");
    let out = b.dir.join("out");
    let o = create(&b, &out, &["--pid-file", pidfile.to_str().unwrap()]);
    ok(&o, "create");
    let text = fs::read_to_string(&pidfile).unwrap();
    assert!(
        !text.ends_with('\n'),
        "the pid file has no newline: {text:?}"
    );
    let pid: i64 = text.parse().unwrap();
    let st = b.state();
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["id"], b.id.as_str());
    assert_eq!(st["bundle"], b.dir.to_str().unwrap());
    assert!(st["created"].as_str().unwrap().ends_with('Z'));
    assert!(alive(pid));
    // Not yet the program: the init waits on the fifo.
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        !cmdline.starts_with(b"sleep"),
        "{:?}",
        String::from_utf8_lossy(&cmdline)
    );
    // Orphaned: its parent is not runc-rs (it exited).
    ok(&b.run(&["start", &b.id]), "start");
    assert_eq!(b.state()["status"], "running");
    let o = b.run(&["start", &b.id]);
    assert!(!o.status.success(), "start twice");
    // ps
    let o = b.run(&["ps", "--format", "json", &b.id]);
    ok(&o, "ps");
    let pids: Vec<i64> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(pids, vec![pid]);
    // pause / resume
    ok(&b.run(&["pause", &b.id]), "pause");
    assert_eq!(b.state()["status"], "paused");
    ok(&b.run(&["resume", &b.id]), "resume");
    assert_eq!(b.state()["status"], "running");
    // update --resources: the limits land in the container's own group of
    // each hierarchy (its memory group sits below the test's own here).
    let res = b.dir.join("res.json");
    fs::write(&res, r#"{"pids":{"limit":77},"memory":{"limit":33554432}}"#).unwrap();
    ok(
        &b.run(&["update", "--resources", res.to_str().unwrap(), &b.id]),
        "update",
    );
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let file = |ctl: &str, f: &str| {
        let rel = cg
            .lines()
            .find_map(|l| l.split_once(&format!(":{ctl}:")).map(|x| x.1.to_string()))
            .unwrap();
        fs::read_to_string(
            Path::new("/sys/fs/cgroup")
                .join(ctl)
                .join(rel.trim_start_matches('/'))
                .join(f),
        )
        .unwrap()
    };
    assert_eq!(file("pids", "pids.max").trim(), "77");
    assert_eq!(file("memory", "memory.limit_in_bytes").trim(), "33554432");
    // delete refuses a running container
    let o = b.run(&["delete", &b.id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not stopped"));
    // list
    let o = b.run(&["list", "--format", "json"]);
    ok(&o, "list");
    let l: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(l[0]["id"], b.id.as_str());
    // kill by name, without SIG
    ok(&b.run(&["kill", &b.id, "KILL"]), "kill");
    wait_stopped(&b);
    assert_eq!(b.state()["pid"], 0);
    let o = b.run(&["kill", &b.id, "9"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("container not running"));
    ok(&b.run(&["delete", &b.id]), "delete");
    let o = b.run(&["state", &b.id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
    assert!(!b.run(&["delete", &b.id]).status.success());
    ok(
        &b.run(&["delete", "--force", &b.id]),
        "delete --force of a missing container",
    );
    // the cgroup is gone
    let mine = fs::read_to_string("/proc/self/cgroup").unwrap();
    let pids_path = mine
        .lines()
        .find_map(|l| l.split_once(":pids:").map(|x| x.1.to_string()))
        .unwrap_or_default();
    let dir = Path::new("/sys/fs/cgroup/pids")
        .join(pids_path.trim_start_matches('/'))
        .join(format!("runc-rs-test-{}", b.id));
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn run_passes_the_exit_status_delete_created_no_process() {
    if !cttest::require_root("run_passes_the_exit_status_delete_created_no_process") {
        return;
    }
    let b = bundle("status");
    b.write_config(&config(&b.id, &["sh", "-c", "echo out; exit 7"]));
    let mut c = b.rc();
    c.arg("run").arg("--bundle").arg(&b.dir).arg(&b.id);
    let o = cttest::run_with_timeout(&mut c, LIMIT);
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
    assert!(!b.root.join(&b.id).exists(), "run leaves no state");
    // --no-pivot: MS_MOVE and chroot; the root is still the bundle's.
    b.write_config(&config(&b.id, &["sh", "-c", "ls /probe /bin/sh"]));
    let mut c = b.rc();
    c.args(["run", "--no-pivot", "--bundle"])
        .arg(&b.dir)
        .arg(&b.id);
    let o = cttest::run_with_timeout(&mut c, LIMIT);
    ok(&o, "run --no-pivot");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "/bin/sh\n/probe\n");
    // A created container is not stopped: delete refuses it (the
    // runtime-spec's rule; runc deletes it) and --force kills it.
    let o = create(&b, &b.dir.join("out"), &[]);
    ok(&o, "create");
    let pid = b.state()["pid"].as_i64().unwrap();
    let o = b.run(&["delete", &b.id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not stopped: created"));
    assert!(alive(pid));
    ok(
        &b.run(&["delete", "--force", &b.id]),
        "delete --force created",
    );
    assert!(!alive(pid));
    // Without `process`, create works and start runs nothing: the container stops.
    let mut c = config(&b.id, &["true"]);
    c.as_object_mut().unwrap().remove("process");
    b.write_config(&c);
    ok(
        &create(&b, &b.dir.join("out"), &[]),
        "create without process",
    );
    ok(&b.run(&["start", &b.id]), "start without process");
    wait_stopped(&b);
    ok(&b.run(&["delete", &b.id]), "delete");
}

#[test]
fn failures_leave_nothing() {
    if !cttest::require_root("failures_leave_nothing") {
        return;
    }
    let b = bundle("fail");
    b.write_config(&config(&b.id, &["/nonexistent"]));
    let o = create(&b, &b.dir.join("out"), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no such file or directory"), "{err}");
    assert!(!b.root.join(&b.id).exists());
    b.write_config(&config(&b.id, &["nosuchprogram"]));
    let o = create(&b, &b.dir.join("out"), &[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("executable file not found in $PATH"));
    let o = b.run(&["--systemd-cgroup", "create", &b.id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--systemd-cgroup is not supported"));
    let mut c = config(&b.id, &["sh"]);
    c["linux"]["intelRdt"] = json!({"closID": "x"});
    b.write_config(&c);
    let o = create(&b, &b.dir.join("out"), &[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("linux.intelRdt is not supported"));
    assert!(!b.root.join(&b.id).exists());
    let mut c = config(&b.id, &["sh"]);
    c["linux"]["cgroupsPath"] = json!("/");
    b.write_config(&c);
    let o = create(&b, &b.dir.join("out"), &[]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("must name a group of the container's own")
    );
    let mut c = config(&b.id, &["sh"]);
    c["ociVersion"] = json!("invalid");
    b.write_config(&c);
    let o = create(&b, &b.dir.join("out"), &[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unsupported ociVersion"));
    // --log-format json: one error object.
    let log = b.dir.join("log.json");
    let o = b.run(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(fs::read_to_string(&log).unwrap().trim()).unwrap();
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap().contains("does not exist"));
}

#[test]
fn hooks_get_the_state_on_stdin() {
    if !cttest::require_root("hooks_get_the_state_on_stdin") {
        return;
    }
    let b = bundle("hooks");
    let out = b.dir.join("hooks");
    fs::create_dir(&out).unwrap();
    let host_hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}/{name}", out.display())]});
    let mut c = config(&b.id, &["sh", "-c", "sleep 1000"]);
    c["hooks"] = json!({
        "prestart": [host_hook("prestart")],
        "createRuntime": [host_hook("createRuntime")],
        "createContainer": [host_hook("createContainer")],
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /startContainer"]}],
        "poststart": [host_hook("poststart")],
        "poststop": [host_hook("poststop")]
    });
    b.write_config(&c);
    ok(&create(&b, &b.dir.join("out"), &[]), "create");
    let pid = b.state()["pid"].as_i64().unwrap();
    for h in ["prestart", "createRuntime", "createContainer"] {
        let v: Value = serde_json::from_str(&fs::read_to_string(out.join(h)).unwrap()).unwrap();
        assert_eq!(v["id"], b.id.as_str(), "{h}");
        assert_eq!(v["pid"], pid, "{h}");
        assert_eq!(v["bundle"], b.dir.to_str().unwrap(), "{h}");
        assert_eq!(v["ociVersion"], "1.0.2-dev", "{h}");
    }
    assert!(!out.join("poststart").exists());
    ok(&b.run(&["start", &b.id]), "start");
    let v: Value =
        serde_json::from_str(&fs::read_to_string(out.join("poststart")).unwrap()).unwrap();
    assert_eq!(v["status"], "running");
    let mut text = String::new();
    for _ in 0..1000 {
        text = fs::read_to_string(b.rootfs().join("startContainer")).unwrap_or_default();
        if !text.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["id"], b.id.as_str());
    ok(&b.run(&["delete", "--force", &b.id]), "delete");
    let v: Value =
        serde_json::from_str(&fs::read_to_string(out.join("poststop")).unwrap()).unwrap();
    assert_eq!(v["status"], "stopped");
    // A failing prestart hook fails create and leaves nothing.
    let mut c = config(&b.id, &["sh"]);
    c["hooks"] = json!({"prestart": [{"path": "/bin/false"}]});
    b.write_config(&c);
    let o = create(&b, &b.dir.join("out"), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("prestart hook"));
    assert!(!b.root.join(&b.id).exists());
}

#[test]
fn config_fields_read_back_inside() {
    if !cttest::require_root("config_fields_read_back_inside") {
        return;
    }
    let b = bundle("fields");
    let mut c = config(&b.id, &["/probe"]);
    c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [100, 200]});
    c["process"]["cwd"] = json!("/work/dir");
    c["process"]["env"] = json!(["PATH=/bin", "FOO=bar"]);
    c["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_NET_RAW", "CAP_CHOWN"],
        "effective": ["CAP_KILL"],
        "permitted": ["CAP_KILL", "CAP_NET_RAW"],
        "inheritable": ["CAP_KILL"],
        "ambient": ["CAP_KILL"]
    });
    c["hostname"] = json!("fields-host");
    c["root"]["readonly"] = json!(true);
    c["mounts"].as_array_mut().unwrap().push(json!(
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "nosuid"]}
    ));
    c["mounts"].as_array_mut().unwrap().push(json!(
        {"destination": "/data", "type": "bind", "source": b.dir.join("rootfs/etc").to_str().unwrap(), "options": ["rbind", "ro"]}
    ));
    c["linux"]["resources"]["pids"] = json!({"limit": 42});
    c["linux"]["resources"]["memory"] = json!({"limit": 67_108_864});
    b.write_config(&c);
    // runc-rs's own fork (cgset's and unshare-rs's library calls), then the
    // exec chain `cgset -- unshare-rs -- runc-rs init`, then the fork with
    // runc-rs sealed by its caller (`unshare-rs --ro-bind`, as contain runs
    // it: the init runs in the fork, not exec'd): the same container.
    for chain in ["", "1", "sealed"] {
        fields_read_back(&b, chain);
    }
}

fn fields_read_back(b: &Bundle, chain: &str) {
    let mut cmd = if chain == "sealed" {
        let me = cttest::bin("runc-rs");
        let mut c = cttest::cmd("unshare-rs");
        c.arg("--ro-bind").arg(&me).arg("--").arg(&me);
        c.arg("--root").arg(&b.root);
        c.arg("--debug").arg("--log").arg(b.dir.join("sealed.log"));
        c
    } else {
        let mut c = b.rc();
        c.env("RUNC_RS_EXEC_CHAIN", chain);
        c
    };
    cmd.arg("run").arg("--bundle").arg(&b.dir).arg(&b.id);
    let p = cttest::probe_json(&cttest::run_with_timeout(&mut cmd, LIMIT));
    if chain == "sealed" {
        let log = fs::read_to_string(b.dir.join("sealed.log")).unwrap();
        assert!(
            log.contains("init: in runc-rs's fork"),
            "the sealed binary's init was exec'd: {log}"
        );
    }
    assert_eq!(p["uid"], 1000);
    assert_eq!(p["gid"], 1000);
    assert_eq!(p["groups"], json!([100, 200]));
    assert_eq!(p["cwd"], "/work/dir");
    assert_eq!(p["env"]["FOO"], "bar");
    assert_eq!(p["hostname"], "fields-host");
    assert_eq!(p["pid"], 1);
    let kill = 1u64 << 5;
    let raw = 1u64 << 13;
    let chown = 1u64;
    let hex = |k: &str| u64::from_str_radix(p["status"][k].as_str().unwrap(), 16).unwrap();
    assert_eq!(hex("CapBnd"), kill | raw | chown);
    assert_eq!(hex("CapEff"), kill);
    assert_eq!(hex("CapPrm"), kill);
    assert_eq!(hex("CapInh"), kill);
    assert_eq!(hex("CapAmb"), kill);
    assert_eq!(p["status"]["NoNewPrivs"], "1");
    let mounts = p["mounts"].as_array().unwrap();
    let m = |t: &str| {
        mounts
            .iter()
            .find(|m| m["target"] == t)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert!(m("/").to_string().contains("ro"), "{}", m("/"));
    assert_eq!(m("/scratch")["fstype"], "tmpfs");
    assert!(
        m("/scratch")["super_options"]
            .as_str()
            .unwrap()
            .contains("size=1024k")
    );
    assert!(m("/data")["options"].as_str().unwrap().starts_with("ro"));
    assert!(
        m("/proc/sys")["options"]
            .as_str()
            .unwrap()
            .starts_with("ro")
    );
    assert_eq!(m("/proc/keys")["target"], "/proc/keys", "a masked file");
    assert_eq!(m("/sys/firmware")["fstype"], "tmpfs", "a masked directory");
    assert!(
        m("/sys/firmware")["options"]
            .as_str()
            .unwrap()
            .starts_with("ro")
    );
    let ns_host = cttest::ns_inode("pid").unwrap();
    assert_ne!(p["ns"]["pid"], ns_host);
    let cg = p["cgroup"].to_string();
    assert!(cg.contains("42"), "pids.max read back: {cg}");
    assert!(cg.contains("67108864"), "memory limit read back: {cg}");
}

#[test]
fn rlimits_sysctl_oom_and_seccomp_inside() {
    if !cttest::require_root("rlimits_sysctl_oom_and_seccomp_inside") {
        return;
    }
    let b = bundle("proc");
    let mut c = config(
        &b.id,
        &[
            "sh",
            "-c",
            "grep 'open files' /proc/self/limits; cat /proc/self/oom_score_adj /proc/sys/net/ipv4/ping_group_range; grep Seccomp: /proc/self/status; cat /proc/kcore | wc -c; echo x > /proc/sys/kernel/domainname || echo ro-ok",
        ],
    );
    c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]);
    c["process"]["oomScoreAdj"] = json!(123);
    c["linux"]["sysctl"] = json!({"net.ipv4.ping_group_range": "0 0"});
    c["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    b.write_config(&c);
    let mut cmd = b.rc();
    cmd.arg("run").arg("--bundle").arg(&b.dir).arg(&b.id);
    cmd.stdin(Stdio::null());
    let o = cttest::run_with_timeout(&mut cmd, LIMIT);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("Max open files            256                  512"),
        "{out}"
    );
    assert!(out.contains("\n123\n"), "{out}");
    assert!(out.contains("0\t0") || out.contains("0 0"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains("ro-ok"), "{out}");
}

#[test]
fn exec_detached_and_attached() {
    if !cttest::require_root("exec_detached_and_attached") {
        return;
    }
    let b = bundle("exec");
    b.write_config(&config(&b.id, &["sleep", "1000"]));
    ok(&create(&b, &b.dir.join("out"), &[]), "create");
    ok(&b.run(&["start", &b.id]), "start");
    let init = b.state()["pid"].as_i64().unwrap();
    // args form, waits, passes the status
    let o = b.run(&[
        "exec",
        &b.id,
        "sh",
        "-c",
        "cat /proc/self/status | grep ^NSpid; hostname 2>/dev/null; exit 3",
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    // The container's /proc: the pid seen from its own namespace (init is 1).
    let nspid: i64 = out
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(nspid > 1 && nspid < 100, "in the pid namespace: {out}");
    assert_eq!(
        out.lines().nth(1),
        Some("runcrs"),
        "in the uts namespace: {out}"
    );
    // --process FILE --detach --pid-file
    let proc_file = b.dir.join("process.json");
    fs::write(
        &proc_file,
        json!({"args": ["sleep", "1000"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}}).to_string(),
    )
    .unwrap();
    let pidfile = b.dir.join("exec.pid");
    let mut c = b.rc();
    c.args([
        "exec",
        "--process",
        proc_file.to_str().unwrap(),
        "--detach",
        "--pid-file",
        pidfile.to_str().unwrap(),
        &b.id,
    ]);
    let o = with_files(&mut c, &b.dir.join("exec.out"));
    ok(&o, "exec --detach");
    let pid: i64 = fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    assert!(alive(pid));
    let ns = |p: i64, k: &str| fs::read_link(format!("/proc/{p}/ns/{k}")).unwrap();
    for k in ["pid", "mnt", "net", "uts", "ipc"] {
        assert_eq!(ns(pid, k), ns(init, k), "{k}");
    }
    let o = b.run(&["ps", "--format", "json", &b.id]);
    let pids: Vec<i64> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(pids.contains(&pid) && pids.contains(&init), "{pids:?}");
    ok(&b.run(&["kill", "--all", &b.id, "KILL"]), "kill --all");
    wait_stopped(&b);
    ok(&b.run(&["delete", &b.id]), "delete");
}

#[test]
fn console_socket_gets_the_pty_master() {
    if !cttest::require_root("console_socket_gets_the_pty_master") {
        return;
    }
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, UnixAddr, recvmsg};
    let b = bundle("tty");
    let mut c = config(&b.id, &["sh", "-c", "tty; echo done"]);
    c["process"]["terminal"] = json!(true);
    b.write_config(&c);
    let sock = b.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let o = create(
        &b,
        &b.dir.join("out"),
        &["--console-socket", sock.to_str().unwrap()],
    );
    ok(&o, "create");
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 4096];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<UnixAddr>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    assert!(msg.bytes > 0);
    let mut fds = vec![];
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(v) = c {
            fds.extend(v);
        }
    }
    assert_eq!(fds.len(), 1);
    // SAFETY: the descriptor we were sent.
    let mut master = unsafe { <fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) };
    ok(&b.run(&["start", &b.id]), "start");
    let mut text = String::new();
    let mut chunk = [0u8; 1024];
    while !text.contains("done") {
        match master.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&chunk[..n])),
        }
    }
    assert!(text.contains("/dev/pts/0"), "{text:?}");
}

#[test]
fn runc_spec_runs_on_runc_rs_and_back() {
    if !cttest::require_root("runc_spec_runs_on_runc_rs_and_back") {
        return;
    }
    let runc = Path::new("/usr/sbin/runc");
    if !cttest::require(
        "runc_spec_runs_on_runc_rs_and_back",
        runc.exists(),
        "needs runc",
    ) {
        return;
    }
    let b = bundle("spec");
    fs::remove_file(b.dir.join("config.json")).unwrap();
    let fix = |who: &str| {
        let p = b.dir.join("config.json");
        let mut c: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(["sh", "-c", "echo hello from $0; hostname", who]);
        c["linux"]["cgroupsPath"] = json!(format!("runc-rs-test-{}-{who}", b.id));
        fs::write(&p, c.to_string()).unwrap();
    };
    // runc spec → runc-rs run
    let o = cttest::run_with_timeout(Command::new(runc).arg("spec").current_dir(&b.dir), LIMIT);
    ok(&o, "runc spec");
    fix("runc-rs");
    let mut c = b.rc();
    c.arg("run")
        .arg(&b.id)
        .current_dir(&b.dir)
        .stdin(Stdio::null());
    let o = cttest::run_with_timeout(&mut c, LIMIT);
    ok(&o, "runc-rs run of runc's spec");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "hello from runc-rs\nrunc\n"
    );
    // runc-rs spec → runc run
    fs::remove_file(b.dir.join("config.json")).unwrap();
    ok(
        &b.run(&["spec", "--bundle", b.dir.to_str().unwrap()]),
        "runc-rs spec",
    );
    fix("runc");
    let runc_root = b.dir.join("runc-state");
    let o = cttest::run_with_timeout(
        Command::new(runc)
            .arg("--root")
            .arg(&runc_root)
            .args(["run", &b.id])
            .current_dir(&b.dir)
            .stdin(Stdio::null()),
        LIMIT,
    );
    ok(&o, "runc run of runc-rs's spec");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "hello from runc\nrunc\n"
    );
}

#[test]
fn user_namespace_with_mappings() {
    if !cttest::require_root("user_namespace_with_mappings") {
        return;
    }
    let b = bundle("userns");
    let mut c = config(&b.id, &["/probe"]);
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.write_config(&c);
    let mut cmd = b.rc();
    cmd.arg("run").arg("--bundle").arg(&b.dir).arg(&b.id);
    let p = cttest::probe_json(&cttest::run_with_timeout(&mut cmd, LIMIT));
    assert_eq!(p["uid_map"], json!([[0, 100_000, 65_536]]));
    assert_eq!(p["gid_map"], json!([[0, 100_000, 65_536]]));
    assert_eq!(p["uid"], 0);
    assert_ne!(p["ns"]["user"], cttest::ns_inode("user").unwrap());
    // The capabilities asked for, in the new namespace.
    let eff = u64::from_str_radix(p["status"]["CapEff"].as_str().unwrap(), 16).unwrap();
    assert_eq!(
        eff,
        (1 << 5) | (1 << 10) | (1 << 29),
        "KILL, NET_BIND_SERVICE, AUDIT_WRITE"
    );
    // /dev's nodes are the host's, bound (mknod is refused in a user namespace).
    let dev = p["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["target"] == "/dev/null");
    assert!(dev, "/dev/null bound from the host");
}

#[test]
fn preserve_fds_pass_the_callers_descriptors() {
    if !cttest::require_root("preserve_fds_pass_the_callers_descriptors") {
        return;
    }
    use std::os::unix::process::CommandExt;
    let b = bundle("fds");
    b.write_config(&config(
        &b.id,
        &[
            "sh",
            "-c",
            "echo to-fd3 >&3; (echo x >&4) 2>/dev/null || echo fd4-closed",
        ],
    ));
    let three = fs::File::create(b.dir.join("three")).unwrap();
    let four = fs::File::create(b.dir.join("four")).unwrap();
    let (f3, f4) = (three.as_raw_fd(), four.as_raw_fd());
    let mut c = b.rc();
    c.args(["run", "--preserve-fds", "1", "--bundle"])
        .arg(&b.dir)
        .arg(&b.id);
    // SAFETY: dup2 only, between fork and exec.
    unsafe {
        c.pre_exec(move || {
            // Through free numbers first: dup2 onto the same number keeps close-on-exec.
            let (a, b) = (libc::dup(f3), libc::dup(f4));
            if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(a);
            libc::close(b);
            Ok(())
        });
    }
    let o = with_files(&mut c, &b.dir.join("out"));
    ok(&o, "run --preserve-fds 1");
    let out = fs::read_to_string(b.dir.join("out")).unwrap();
    assert_eq!(
        fs::read_to_string(b.dir.join("three")).unwrap(),
        "to-fd3\n",
        "{f3} {f4} {out}"
    );
    assert_eq!(fs::read_to_string(b.dir.join("four")).unwrap(), "");
    assert_eq!(
        fs::read_to_string(b.dir.join("out")).unwrap(),
        "fd4-closed\n"
    );
}

#[test]
fn rootless_run_as_nobody() {
    if !root_with_util_linux("rootless_run_as_nobody", "setpriv") {
        return;
    }
    let b = bundle("rootless");
    fs::remove_file(b.dir.join("config.json")).unwrap();
    let nobody = |args: &[&str]| -> Output {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "env"])
            .arg(format!("XDG_RUNTIME_DIR={}", b.dir.display()))
            .arg(cttest::bin("runc-rs"))
            .args(args)
            .current_dir(&b.dir)
            .stdin(Stdio::null());
        cttest::run_with_timeout(&mut c, LIMIT)
    };
    let o = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(b.dir.parent().unwrap())
        .status()
        .unwrap();
    assert!(o.success());
    ok(&nobody(&["spec", "--rootless"]), "spec --rootless");
    let p = b.dir.join("config.json");
    let mut c: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(["/probe"]);
    fs::write(&p, c.to_string()).unwrap();
    let o = nobody(&["run", &b.id]);
    let v = cttest::probe_json(&o);
    assert_eq!(v["uid"], 0);
    assert_eq!(v["uid_map"], json!([[0, 65534, 1]]));
    assert_eq!(v["hostname"], "runc");
    assert_eq!(v["pid"], 1);
    // The state went under $XDG_RUNTIME_DIR and is gone after run.
    assert!(b.dir.join("runc-rs").is_dir());
    assert_eq!(fs::read_dir(b.dir.join("runc-rs")).unwrap().count(), 0);
}

/// This process's cgroup directory in the v1 devices hierarchy.
fn own_devices_cgroup() -> Option<PathBuf> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
        ctl.split(',')
            .any(|c| c == "devices")
            .then(|| path.trim_start_matches('/').to_string())
    })?;
    let base = Path::new("/sys/fs/cgroup/devices");
    base.join("devices.list").exists().then(|| base.join(rel))
}

#[test]
fn devices_cgroup_denies_by_default() {
    if !cttest::require_root("devices_cgroup_denies_by_default") {
        return;
    }
    let Some(own) = own_devices_cgroup() else {
        // cgroup v2 only: the devices controller is eBPF there (not done).
        return;
    };
    let b = bundle("dev");
    // No linux.resources at all, and CAP_MKNOD: what runc does all the same
    // is a deny-all with its default nodes (mknod of any node allowed,
    // opening one not).
    let mut c = config(&b.id, &["/probe", "attack", "kvm"]);
    c["linux"].as_object_mut().unwrap().remove("resources");
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push("CAP_MKNOD".into());
    }
    b.write_config(&c);
    let out = b.dir.join("out");
    ok(&create(&b, &out, &[]), "create");
    let list = fs::read_to_string(
        own.join(format!("runc-rs-test-{}", b.id))
            .join("devices.list"),
    )
    .unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert!(!lines.contains(&"a *:* rwm"), "{list}");
    for want in ["c 1:3 rwm", "c 136:* rwm", "c *:* m", "b *:* m"] {
        assert!(lines.contains(&want), "{want} in {list}");
    }
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("b ") && l.ends_with('r')),
        "{list}"
    );
    ok(&b.run(&["start", &b.id]), "start");
    wait_stopped(&b);
    let text = fs::read_to_string(&out).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("REFUSED kvm EPERM open")),
        "mknod of /dev/kvm's node is allowed, opening it is not: {text}"
    );
    ok(&b.run(&["delete", &b.id]), "delete");
    // An allow-all (privileged) leaves the group's devices alone.
    let mut c = config(&b.id, &["sh", "-c", "exit 0"]);
    c["linux"]["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
    b.write_config(&c);
    ok(&create(&b, &out, &[]), "create privileged");
    // (the init's devices group: cgset makes none where nothing is set)
    let init = b.state()["pid"].as_i64().unwrap();
    let cg = fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let rel = cg
        .lines()
        .find_map(|l| l.split_once(":devices:").map(|(_, p)| p.to_string()))
        .unwrap();
    let list = fs::read_to_string(
        Path::new("/sys/fs/cgroup/devices")
            .join(rel.trim_start_matches('/'))
            .join("devices.list"),
    )
    .unwrap();
    assert_eq!(list.trim(), "a *:* rwm");
    ok(&b.run(&["delete", "--force", &b.id]), "delete");
}

/// `c` with `dir` as its descriptor 7 (a leaked directory of the host).
fn with_fd7(c: &mut Command, dir: &fs::File) {
    use std::os::unix::process::CommandExt;
    let raw = dir.as_raw_fd();
    // SAFETY: dup2 between fork and exec (clears close-on-exec on 7).
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn cwd_through_a_leaked_descriptor_is_refused() {
    if !cttest::require_root("cwd_through_a_leaked_descriptor_is_refused") {
        return;
    }
    let b = bundle("cwdfd");
    let host = b.dir.join("hostdir");
    fs::create_dir(&host).unwrap();
    let dir = fs::File::open(&host).unwrap();
    // create: the init's cwd through the caller's fd 7 (CVE-2024-21626)
    let mut c = config(&b.id, &["cat", "marker"]);
    c["process"]["cwd"] = "/proc/self/fd/7".into();
    b.write_config(&c);
    let mut cmd = b.rc();
    cmd.args(["run", "--bundle"]).arg(&b.dir).arg(&b.id);
    with_fd7(&mut cmd, &dir);
    let o = cttest::run_with_timeout(cmd.stdin(Stdio::null()), LIMIT);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "run: {err}");
    assert!(
        err.contains("working directory /proc/self/fd/7 is outside the container's root"),
        "{err}"
    );
    assert!(
        b.run(&["state", &b.id]).status.code() != Some(0),
        "no state left"
    );
    // exec --cwd through the same descriptor
    b.write_config(&config(&b.id, &["sleep", "1000"]));
    ok(&create(&b, &b.dir.join("out"), &[]), "create");
    ok(&b.run(&["start", &b.id]), "start");
    let mut cmd = b.rc();
    cmd.args(["exec", "--cwd", "/proc/self/fd/7", &b.id, "ls"]);
    with_fd7(&mut cmd, &dir);
    let o = cttest::run_with_timeout(cmd.stdin(Stdio::null()), LIMIT);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "exec: {err}");
    assert!(err.contains("is outside the container's root"), "{err}");
    // A cwd inside the root still works.
    let o = b.run(&["exec", "--cwd", "/proc", &b.id, "sh", "-c", "pwd"]);
    ok(&o, "exec --cwd /proc");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "/proc");
    ok(&b.run(&["delete", "--force", &b.id]), "delete");
}

#[test]
fn exec_enters_from_a_protected_binary() {
    if !cttest::require_root("exec_enters_from_a_protected_binary") {
        return;
    }
    let b = bundle("sealed");
    b.write_config(&config(&b.id, &["sleep", "1000"]));
    ok(&create(&b, &b.dir.join("out"), &[]), "create");
    ok(&b.run(&["start", &b.id]), "start");
    // An attached exec: runc-rs waits for the program, run again from a
    // detached read-only clone of its mount (/proc/PID/exe reads "/"), else
    // a sealed memfd copy: what a `#!/proc/self/exe` program in the container
    // would reach is no writable host file (CVE-2019-5736).
    let mut c = b.rc();
    c.args(["exec", &b.id, "sleep", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let pid = child.id();
    let start = std::time::Instant::now();
    let link = loop {
        let l = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        if l.as_os_str() == "/" || l.to_string_lossy().starts_with("/memfd:") {
            break l;
        }
        assert!(
            child.try_wait().unwrap().is_none() && start.elapsed() < LIMIT,
            "runc-rs exec never ran from a protected binary: {}",
            l.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let exe = fs::File::open(format!("/proc/{pid}/exe")).unwrap();
    if link.as_os_str() == "/" {
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
        // SAFETY: fstatvfs fills the struct on success.
        assert_eq!(
            unsafe { libc::fstatvfs(exe.as_raw_fd(), st.as_mut_ptr()) },
            0
        );
        // SAFETY: filled by the successful call.
        let st = unsafe { st.assume_init() };
        assert_ne!(st.f_flag & libc::ST_RDONLY, 0, "a read-only clone");
    } else {
        assert!(link.to_string_lossy().contains("runc-rs"), "{link:?}");
        let seals = ctcore::sealed::seals_of(&exe).unwrap_or(0);
        assert_eq!(seals & ctcore::sealed::SEALS, ctcore::sealed::SEALS);
    }
    // ... until the program runs in there (two processes, both sleep).
    loop {
        let o = b.run(&["ps", "--format", "json", &b.id]);
        let pids: Vec<i64> = serde_json::from_slice(&o.stdout).unwrap_or_default();
        let comm = |p: &i64| fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        if pids.len() == 2 && pids.iter().all(|p| comm(p).trim() == "sleep") {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none() && start.elapsed() < LIMIT,
            "the exec'd program never ran: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    ok(&b.run(&["kill", "--all", &b.id, "KILL"]), "kill --all");
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(137), "{st:?}");
    wait_stopped(&b);
    ok(&b.run(&["delete", &b.id]), "delete");
}

#[test]
fn proc_self_exe_program_cannot_run_runc_rs_inside() {
    if !cttest::require_root("proc_self_exe_program_cannot_run_runc_rs_inside") {
        return;
    }
    // A program that is a `#!/proc/self/exe` script: the kernel would run
    // the init's own binary again inside the container, whence a process
    // in there could write to it (CVE-2019-5736).  The mount holding
    // runc-rs is read-only and noexec in the container's namespace: the
    // exec is refused, in the fork and in the exec chain alike.
    let b = bundle("selfexe");
    fs::write(b.rootfs().join("evil"), "#!/proc/self/exe\n").unwrap();
    fs::set_permissions(
        b.rootfs().join("evil"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    b.write_config(&config(&b.id, &["/evil"]));
    for chain in ["", "1"] {
        let mut cmd = b.rc();
        cmd.args(["run", "--bundle"]).arg(&b.dir).arg(&b.id);
        cmd.env("RUNC_RS_EXEC_CHAIN", chain).stdin(Stdio::null());
        let o = cttest::run_with_timeout(&mut cmd, LIMIT);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "chain={chain}: {err}");
        assert!(
            err.contains("exec /evil: permission denied"),
            "chain={chain}: runc-rs ran inside: {err}"
        );
    }
    // The host's mount of runc-rs is unchanged (read-write, exec).
    let o = cttest::run_with_timeout(cttest::cmd("runc-rs").arg("--version"), LIMIT);
    assert!(o.status.success());
}

/// CVE-2019-5736 with the init in runc-rs's fork (its binary sealed read-only by the caller,
/// `unshare-rs --ro-bind`, as contain's chain does): a handle on the created container's
/// `/proc/PID/exe` (runc-rs's binary, while the init waits for start), reopened for writing
/// once nothing runs that binary any more, is refused with EROFS, and the binary is intact.
/// (A private copy of runc-rs: a write that got through would not touch the build.)
#[test]
fn sealed_binary_of_an_in_place_init_cannot_be_written_through_proc_exe() {
    if !cttest::require_root("sealed_binary_of_an_in_place_init_cannot_be_written_through_proc_exe")
    {
        return;
    }
    use std::os::unix::fs::OpenOptionsExt;
    let b = bundle("sealedexe");
    b.write_config(&config(&b.id, &["echo", "started"]));
    let copy = b.dir.join("runc-rs-copy");
    fs::copy(cttest::bin("runc-rs"), &copy).unwrap();
    let before = fs::read(&copy).unwrap();
    let mut c = cttest::cmd("unshare-rs");
    c.arg("--ro-bind").arg(&copy).arg("--").arg(&copy);
    c.arg("--root")
        .arg(&b.root)
        .arg("--debug")
        .arg("--log")
        .arg(b.dir.join("sealed.log"));
    c.arg("create").arg("--bundle").arg(&b.dir).arg(&b.id);
    ok(&with_files(&mut c, &b.dir.join("out")), "create");
    let log = fs::read_to_string(b.dir.join("sealed.log")).unwrap();
    assert!(log.contains("init: in runc-rs's fork"), "{log}");
    let pid = b.state()["pid"].as_i64().unwrap();
    // the init is runc-rs still (it waits for start): its exe is the sealed copy
    let exe = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(format!("/proc/{pid}/exe"))
        .unwrap();
    // (its link reads "/": the root of a bind of another mount namespace)
    let ino = |m: fs::Metadata| std::os::unix::fs::MetadataExt::ino(&m);
    assert_eq!(
        ino(fs::metadata(format!("/proc/self/fd/{}", exe.as_raw_fd())).unwrap()),
        ino(fs::metadata(&copy).unwrap()),
        "the init runs the sealed copy"
    );
    ok(&b.run(&["start", &b.id]), "start");
    wait_stopped(&b);
    let reopened = fs::OpenOptions::new()
        .append(true)
        .open(format!("/proc/self/fd/{}", exe.as_raw_fd()));
    assert_eq!(
        reopened.map(|_| ()).map_err(|e| e.raw_os_error()),
        Err(Some(libc::EROFS)),
        "runc-rs's binary reopened for writing through the init's exe"
    );
    assert!(fs::read(&copy).unwrap() == before, "the binary changed");
    ok(&b.run(&["delete", &b.id]), "delete");
}

/// `runc-rs -- PROGRAM`: the reaper for --init (no privilege needed): it names itself init,
/// runs PROGRAM as its child, reaps an orphan PROGRAM leaves and ends with PROGRAM's status;
/// a program that cannot be run is 127, a missing one an error and status 1.
#[test]
fn reaper_runs_the_program_reaps_and_passes_its_status() {
    let mut c = cttest::cmd("runc-rs");
    c.args([
        "--",
        "/bin/sh",
        "-c",
        "/bin/sh -c 'sleep 0 & exit 0'; sleep 0.3; \
         z=0; for s in /proc/[0-9]*/stat; do read -r p c st pp r <$s 2>/dev/null; \
         [ \"$st $pp\" = \"Z $PPID\" ] && z=$((z+1)); done; \
         echo parent=$(tr -d '\\0' </proc/$PPID/cmdline) zombies=$z; exit 4",
    ])
    .stdin(Stdio::null());
    let o = cttest::run_with_timeout(&mut c, LIMIT);
    assert_eq!(o.status.code(), Some(4), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "parent=init zombies=0\n"
    );
    let mut c = cttest::cmd("runc-rs");
    c.args(["--", "/no/such/program"]).stdin(Stdio::null());
    let o = cttest::run_with_timeout(&mut c, LIMIT);
    assert_eq!(o.status.code(), Some(127), "{o:?}");
    let mut c = cttest::cmd("runc-rs");
    c.arg("--").stdin(Stdio::null());
    let o = cttest::run_with_timeout(&mut c, LIMIT);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "runc-rs: --: no program to run (usage: runc-rs -- PROGRAM [ARGS...])\n"
    );
}

/// Rootless on cgroup v1, runc's rootless cgroup manager as the yardstick: a user cannot make
/// groups, so a config with limits is refused (status 1, nothing left) and one whose only
/// resources are device rules runs in the caller's groups, without a group of its own; runc
/// 1.1.5 does the same with both (run side by side where it is installed).
#[test]
fn rootless_limits_on_cgroup_v1_as_runc() {
    if !root_with_util_linux("rootless_limits_on_cgroup_v1_as_runc", "setpriv") {
        return;
    }
    if !Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
        // cgroup v2: rootless limits go through a delegated group (not this test's host)
        return;
    }
    let b = bundle("rlimits");
    let o = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(b.dir.parent().unwrap())
        .status()
        .unwrap();
    assert!(o.success());
    let as_nobody = |rt: &Path, spec: &Value| -> Output {
        fs::write(b.dir.join("config.json"), spec.to_string()).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "env"])
            .arg(format!("XDG_RUNTIME_DIR={}", b.dir.display()))
            .arg(rt)
            .arg("--root")
            .arg(b.dir.join("state"))
            .args(["run", &b.id])
            .current_dir(&b.dir)
            .stdin(Stdio::null());
        cttest::run_with_timeout(&mut c, LIMIT)
    };
    // `runc spec --rootless`'s shape: a user namespace mapping root to the caller
    let mut base = config(&b.id, &["/bin/sh", "-c", "cat /proc/self/cgroup"]);
    base["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    base["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 65534, "size": 1}]);
    base["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 65534, "size": 1}]);
    base["linux"].as_object_mut().unwrap().remove("cgroupsPath");
    base["mounts"] = json!(
        base["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["type"] != "cgroup" && m["destination"] != "/dev/pts")
            .cloned()
            .collect::<Vec<_>>()
    );
    let mut limits = base.clone();
    limits["linux"]["resources"] = json!({"memory": {"limit": 67_108_864}, "pids": {"limit": 50}});
    let mut devices = base.clone();
    devices["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    let mut rts = vec![cttest::bin("runc-rs")];
    if let Some(r) = ["/usr/sbin/runc", "/usr/bin/runc"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
    {
        rts.push(r);
    }
    for rt in &rts {
        let o = as_nobody(rt, &limits);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{} with limits: {o:?}",
            rt.display()
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("Permission denied") || err.contains("could not join or create cgroup"),
            "{}: {err}",
            rt.display()
        );
        let o = as_nobody(rt, &devices);
        ok(&o, &format!("{} with device rules only", rt.display()));
        let own = fs::read_to_string("/proc/self/cgroup").unwrap();
        let inside = String::from_utf8_lossy(&o.stdout);
        assert!(!inside.contains(&b.id), "{}: {inside}", rt.display());
        // the caller's memory group (nobody's, which is ours: setpriv does not move it)
        let mem = |t: &str| {
            t.lines()
                .find(|l| l.contains(":memory:"))
                .map(str::to_string)
        };
        assert_eq!(mem(&inside), mem(&own), "{}", rt.display());
        // nothing of either run is left in the state directory
        let left = fs::read_dir(b.dir.join("state")).map_or(0, |d| d.count());
        assert_eq!(left, 0, "{}", rt.display());
    }
}

/// exec joins a session keyring of its own (runc's exec does): a key in the caller's session
/// keyring is out of reach of the exec'd process, also without a seccomp filter.  runc 1.1.5 is
/// run the same way where it is installed.
#[test]
fn exec_does_not_share_the_callers_keyring() {
    if !cttest::require_root("exec_does_not_share_the_callers_keyring") {
        return;
    }
    // This thread's session keyring (children inherit it), with a secret in it.
    cttest::keys::join_session_keyring(&format!("runc-rs-test-{}", std::process::id()));
    let desc = format!("runc-rs-secret-{}", std::process::id());
    let data = "token-xyz";
    cttest::keys::add_user_key(&desc, data);
    let mut rts = vec![cttest::bin("runc-rs")];
    if let Some(r) = ["/usr/sbin/runc", "/usr/bin/runc"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
    {
        rts.push(r);
    }
    for rt in rts {
        let b = bundle("keys");
        b.write_config(&config(&b.id, &["sleep", "1000"]));
        let st = |args: &[&str]| {
            let mut c = Command::new(&rt);
            c.arg("--root").arg(&b.root).args(args).stdin(Stdio::null());
            cttest::run_with_timeout(&mut c, LIMIT)
        };
        let mut c = Command::new(&rt);
        c.arg("--root")
            .arg(&b.root)
            .args(["create", "--bundle"])
            .arg(&b.dir)
            .arg(&b.id);
        // (the init keeps create's stdout and stderr: files, not pipes to wait on)
        ok(&with_files(&mut c, &b.dir.join("out")), "create");
        ok(&st(&["start", &b.id]), "start");
        let o = st(&["exec", &b.id, "/probe", "attack", "keyread", &desc, data]);
        let out = String::from_utf8_lossy(&o.stdout);
        let _ = st(&["delete", "--force", &b.id]);
        assert!(out.starts_with("REFUSED"), "{}: {out}{:?}", rt.display(), o);
    }
}

/// runc-rs, and runc 1.1.5 where it is installed.
fn runtimes() -> Vec<PathBuf> {
    let mut rts = vec![cttest::bin("runc-rs")];
    if let Some(r) = ["/usr/sbin/runc", "/usr/bin/runc"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
    {
        rts.push(r);
    }
    rts
}

/// As root, with util-linux's PROGRAM installed (else the test is skipped, a failure in CI).
fn root_with_util_linux(test: &str, program: &str) -> bool {
    cttest::require_root(test)
        && cttest::require(
            test,
            Command::new(program).arg("--version").output().is_ok(),
            &format!("needs {program} (util-linux)"),
        )
}

/// Wait for `child` at most LIMIT (killed past it).
fn wait_bounded(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    cttest::wait_until(child, std::time::Instant::now() + LIMIT)
        .unwrap_or_else(|| panic!("{what} ran longer than {LIMIT:?}"))
}

/// `run` in the foreground passes the signals it gets to the container's process, as runc
/// does: the container's traps run, run exits with the container's status and leaves no
/// process and no state.  runc 1.1.5 is run the same way where it is installed.
#[test]
fn run_forwards_signals_to_the_container() {
    if !cttest::require_root("run_forwards_signals_to_the_container") {
        return;
    }
    use nix::sys::signal::Signal;
    let b = bundle("sigfwd");
    let script = "trap 'exit 7' TERM; trap 'exit 8' INT; trap 'exit 9' USR1; trap 'exit 10' HUP; \
                  echo > /ready; while :; do sleep 0.1; done";
    b.write_config(&config(&b.id, &["sh", "-c", script]));
    let ready = b.rootfs().join("ready");
    for rt in runtimes() {
        for (sig, code) in [
            (Signal::SIGTERM, 7),
            (Signal::SIGINT, 8),
            (Signal::SIGUSR1, 9),
            (Signal::SIGHUP, 10),
        ] {
            let what = format!("{} run, {sig}", rt.display());
            let _ = fs::remove_file(&ready);
            let err = b.dir.join("err");
            let mut child = Command::new(&rt)
                .arg("--root")
                .arg(&b.root)
                .args(["run", "--bundle"])
                .arg(&b.dir)
                .arg(&b.id)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&err).unwrap())
                .spawn()
                .unwrap();
            let start = std::time::Instant::now();
            while !ready.exists() {
                if let Some(st) = child.try_wait().unwrap() {
                    panic!(
                        "{what}: ended {st:?}: {}",
                        fs::read_to_string(&err).unwrap()
                    );
                }
                assert!(start.elapsed() < LIMIT, "{what}: never ready");
                std::thread::sleep(Duration::from_millis(5));
            }
            let o = cttest::run_with_timeout(
                Command::new(&rt)
                    .arg("--root")
                    .arg(&b.root)
                    .args(["state", &b.id]),
                LIMIT,
            );
            ok(&o, &format!("{what}: state"));
            let st: Value = serde_json::from_slice(&o.stdout).unwrap();
            let pid = st["pid"].as_i64().unwrap();
            assert!(alive(pid), "{what}");
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
            let status = wait_bounded(&mut child, &what);
            assert_eq!(
                status.code(),
                Some(code),
                "{what}: {}",
                fs::read_to_string(&err).unwrap()
            );
            assert!(!alive(pid), "{what}: the container's process is left");
            let o = cttest::run_with_timeout(
                Command::new(&rt)
                    .arg("--root")
                    .arg(&b.root)
                    .args(["state", &b.id]),
                LIMIT,
            );
            assert!(!o.status.success(), "{what}: the container is left");
        }
    }
}

/// `run` with process.terminal relays the pty and gives it the size of the first of its
/// stdin, stdout and stderr that is a terminal, at the start and on each SIGWINCH; the
/// terminal is given back as it was.  Run under script(1); runc 1.1.5 the same way (it sets the
/// size only once the program runs, so its first reading may be 0 0: not held against it).
#[test]
fn run_gives_the_pty_the_size_of_our_terminal() {
    if !root_with_util_linux("run_gives_the_pty_the_size_of_our_terminal", "script") {
        return;
    }
    let b = bundle("ttysize");
    cttest::minroot::build(&b.rootfs(), &["stty"]).unwrap();
    let script = "stty size; echo > /ready; \
                  until [ \"$(stty size)\" = '40 120' ]; do sleep 0.05; done; echo resized; exit 4";
    let mut c = config(&b.id, &["sh", "-c", script]);
    c["process"]["terminal"] = json!(true);
    b.write_config(&c);
    let out = b.dir.join("out");
    let mut got = vec![];
    for rt in runtimes() {
        let run = format!(
            "{} --root {} run --bundle {} {}",
            rt.display(),
            b.root.display(),
            b.dir.display(),
            b.id
        );
        let resize = format!(
            "until [ -e {} ]; do sleep 0.05; done; stty rows 40 cols 120 </dev/tty",
            b.rootfs().join("ready").display()
        );
        // all three streams on the terminal; stdout alone (a background job's stdin is
        // /dev/null); stderr alone (contain's -t: stdin /dev/null, stdout to its log)
        for (redir, in_file) in [("", false), ("&", false), ("</dev/null >OUT", true)] {
            let what = format!("{} {redir:?}", rt.display());
            let _ = fs::remove_file(b.rootfs().join("ready"));
            let _ = fs::remove_file(&out);
            let redir = redir.replace("OUT", out.to_str().unwrap());
            let line = if redir == "&" {
                format!(
                    "stty rows 33 cols 101; {run} & {resize}; wait $!; echo rc=$?; stty -a | grep -o -- '-*icanon'"
                )
            } else {
                format!(
                    "stty rows 33 cols 101; ({resize}) & {run} {redir}; echo rc=$?; stty -a | grep -o -- '-*icanon'"
                )
            };
            let mut c = Command::new("script");
            c.args(["-qec", &line, "/dev/null"]).stdin(Stdio::null());
            let o = cttest::run_with_timeout(&mut c, LIMIT);
            // (script(1) passes a NUL on when its own input ends: the pty echoes "^@")
            let text = String::from_utf8_lossy(&o.stdout)
                .replace('\r', "")
                .replace("^@", "");
            let inside = if in_file {
                fs::read_to_string(&out)
                    .unwrap_or_default()
                    .replace('\r', "")
                    + &text
            } else {
                text
            };
            // (runc copies the size only after the program has started: its first `stty size`
            // may see 0 0; runc-rs sets it before)
            let inside = if rt.ends_with("runc") {
                inside.replacen("0 0\n", "33 101\n", 1)
            } else {
                inside
            };
            got.push(format!("{what}: {inside:?}"));
        }
    }
    let want: Vec<String> = got
        .iter()
        .map(|g| {
            format!(
                "{}: {:?}",
                g.split(": ").next().unwrap(),
                "33 101\nresized\nrc=4\nicanon\n"
            )
        })
        .collect();
    assert_eq!(got, want);
}

/// The cgroup directories create records for delete are the container's own groups, one per
/// hierarchy it joined, whether the chain runs in runc-rs's fork (which names them from the
/// tree it made them in) or is exec'd (create then reads them from the init's
/// /proc/PID/cgroup and mountinfo); delete removes them all.
#[test]
fn the_recorded_cgroup_dirs_are_the_containers_groups() {
    if !cttest::require_root("the_recorded_cgroup_dirs_are_the_containers_groups") {
        return;
    }
    let b = bundle("cgdirs");
    let mut c = config(&b.id, &["sleep", "100"]);
    c["linux"]["resources"]["pids"] = json!({"limit": 42});
    b.write_config(&c);
    let mut seen = vec![];
    for chain in ["", "1"] {
        let mut cmd = b.rc();
        cmd.arg("create")
            .arg("--bundle")
            .arg(&b.dir)
            .arg(&b.id)
            .env("RUNC_RS_EXEC_CHAIN", chain);
        ok(&with_files(&mut cmd, &b.dir.join("out")), "create");
        let rec: Value = serde_json::from_str(
            &fs::read_to_string(b.root.join(&b.id).join("state.json")).unwrap(),
        )
        .unwrap();
        let pid = rec["pid"].as_i64().unwrap();
        let mut dirs: Vec<String> = rec["cgroup_dirs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect();
        dirs.sort();
        // what the init's /proc/PID/cgroup says, each hierarchy's group that ends in the
        // container's group name, found under /sys/fs/cgroup
        let name = format!("runc-rs-test-{}", b.id);
        let procs =
            |d: &str| fs::read_to_string(Path::new(d).join("cgroup.procs")).unwrap_or_default();
        assert!(!dirs.is_empty(), "{chain:?}");
        for d in &dirs {
            assert!(d.ends_with(&format!("/{name}")), "{chain:?}: {d}");
            assert!(
                procs(d).lines().any(|l| l == pid.to_string()),
                "{chain:?}: {d} does not hold the init {pid}"
            );
        }
        let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let joined = own
            .lines()
            .filter(|l| l.ends_with(&format!("/{name}")))
            .count();
        assert_eq!(dirs.len(), joined, "{chain:?}: {dirs:?}\n{own}");
        ok(&b.run(&["delete", "--force", &b.id]), "delete");
        for d in &dirs {
            assert!(!Path::new(d).exists(), "{chain:?}: {d} left");
        }
        seen.push(dirs);
    }
    assert_eq!(seen[0], seen[1], "the fork's and the exec chain's records");
}
