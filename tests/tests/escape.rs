//! The escape suite (issue 18): each attack an attacker inside a container would try, run by
//! the static probe (`probe attack CLASS ...`) against `contain` in every mode where it applies
//! (`run`, `--chroot`, `--init`, `exec` into a default and a `--chroot` container, and
//! `--privileged` only for the classes that Docker's `--privileged` also refuses), and, as the
//! yardstick, against runc where it is installed (a bundle from `runc spec` with what `docker
//! run` adds: Docker's capabilities and default seccomp profile; on a copy of the same image,
//! state under the test's temporary directory), and the same against the workspace's runc-rs
//! where it is built.  The runtimes other than contain are reported, not asserted.
//!
//! A class is ESCAPED when the probe says so or when its effect shows on the host: a file
//! written next to a marker (every marker lives in the test's temporary directory), a key
//! added to the session keyring the test made for itself, the private copy of the tools
//! overwritten, bytes written to the loop device holding the secret.  The whole matrix runs
//! once (the first test that needs it); each test then asserts one class: refused in every
//! mode.  `escape_score_table` prints the table and the scores.

mod contain_util;

use contain_util::{Env, test_path};
use cttest::keys;
use std::collections::BTreeMap;
use std::ffi::{CString, OsString};
use std::fmt::Write as _;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Docker's default capabilities (runc's bundle gets them, as `docker run` gives them).
const DOCKER_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// What an attack came to in one mode.
#[derive(Clone, Debug, PartialEq)]
enum Verdict {
    Refused(String),
    Escaped(String),
    /// The probe printed nothing for the class (the mode failed to start, say).
    NoResult(String),
}

impl Verdict {
    fn cell(&self) -> &'static str {
        match self {
            Verdict::Refused(_) => "refused",
            Verdict::Escaped(_) => "ESCAPED",
            Verdict::NoResult(_) => "no result",
        }
    }
}

/// Every class of the suite, in the table's order: (name, what it tries).
const CLASSES: [(&str, &str); 26] = [
    ("mknod", "mknod + read/write a host block device"),
    ("kvm", "mknod + open /dev/kvm"),
    ("fds", "inherited descriptor (7<dir)"),
    ("cwd", "-w /proc/self/fd/7"),
    ("chroot", "classic chroot escape"),
    ("selfexe", "#!/proc/self/exe overwrite (exec)"),
    ("keyread", "read a host key"),
    ("keyadd", "add a key the host sees"),
    ("passwd", "exec -u via planted /etc/passwd"),
    ("shocker", "open_by_handle_at"),
    ("io_uring", "io_uring_setup"),
    ("perf", "perf_event_open"),
    ("userfaultfd", "userfaultfd"),
    ("devplant", "symlink under a --device path"),
    ("userns", "unshare(CLONE_NEWUSER)"),
    ("mount", "mount"),
    ("keyctl", "keyctl"),
    ("ptrace", "ptrace a host process"),
    ("sysrq", "open /proc/sysrq-trigger for writing"),
    ("sysfs", "open /sys files for writing"),
    ("procsys", "open /proc/sys files for writing"),
    ("module", "init_module/finit_module"),
    ("logfd", "reopen a detached container's stdout"),
    ("masked", "read Docker's masked paths"),
    ("pid1", "a stronger or host-named process inside"),
    ("all", "every class"),
];

/// Classes run in one probe invocation, in a mode without --privileged.
const BULK: [&str; 20] = [
    "mknod",
    "kvm",
    "fds",
    "chroot",
    "keyread",
    "keyadd",
    "shocker",
    "io_uring",
    "perf",
    "userfaultfd",
    "userns",
    "mount",
    "keyctl",
    "ptrace",
    "sysrq",
    "sysfs",
    "procsys",
    "module",
    "masked",
    "pid1",
];

/// Classes whose effect only the host can judge (a key the container adds to its own
/// keyring is harmless).
const HOST_JUDGED: [&str; 1] = ["keyadd"];

/// The subset Docker's --privileged also refuses.
const BULK_PRIVILEGED: [&str; 6] = ["fds", "chroot", "keyread", "keyadd", "ptrace", "pid1"];

/// The results in the table's order: ((runtime, mode), class -> verdict).
type Results = Vec<((String, String), BTreeMap<String, Verdict>)>;

struct Suite {
    results: Results,
    table: String,
}

impl Suite {
    fn verdicts(&self, runtime: &str, class: &str) -> Vec<(String, Verdict)> {
        self.results
            .iter()
            .filter(|((r, _), _)| r == runtime)
            .filter_map(|((_, m), v)| v.get(class).map(|v| (m.clone(), v.clone())))
            .collect()
    }

    /// Assert `class` refused in every contain mode it ran in (and that it ran somewhere).
    fn assert_refused(&self, class: &str) {
        let v = self.verdicts("contain", class);
        assert!(!v.is_empty(), "{class}: ran in no mode\n{}", self.table);
        let bad: Vec<String> = v
            .iter()
            .filter(|(_, v)| !matches!(v, Verdict::Refused(_)))
            .map(|(m, v)| format!("{m}: {v:?}"))
            .collect();
        assert!(
            bad.is_empty(),
            "{class} not refused by contain:\n  {}\n{}",
            bad.join("\n  "),
            self.table
        );
    }
}

/// The host side of the suite: markers, the loop device, the key, the ptrace target.
struct Host {
    tmp: PathBuf,
    token: String,
    marker: PathBuf,
    hostdir: PathBuf,
    vol: PathBuf,
    plant: PathBuf,
    passwd: PathBuf,
    loopdev: Option<(String, u32, u32, PathBuf)>,
    key_desc: String,
    planted_desc: String,
    handle: Option<(i32, String)>,
    target: Option<Child>,
    target_token: String,
    /// Host paths no process in a container may name (tools, state, the test's files).
    paths: Vec<String>,
}

fn sh_ok(script: &str) -> String {
    let o = cttest::sh(script);
    assert!(
        o.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// name_to_handle_at of `path`: (handle type, handle bytes as hex).
fn file_handle(path: &Path) -> Option<(i32, String)> {
    let p = CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    let mut buf = [0u8; 8 + 128];
    buf[0..4].copy_from_slice(&128u32.to_ne_bytes());
    let mut mount_id: libc::c_int = 0;
    // SAFETY: buf is a file_handle with room for 128 bytes.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            p.as_ptr(),
            buf.as_mut_ptr(),
            &raw mut mount_id,
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    let len = usize::try_from(u32::from_ne_bytes(buf[0..4].try_into().ok()?)).ok()?;
    let ty = i32::from_ne_bytes(buf[4..8].try_into().ok()?);
    let hex: String = buf[8..8 + len].iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    Some((ty, hex))
}

impl Host {
    fn new(tmp: &Path) -> Host {
        let pid = std::process::id();
        let token = format!("CTOOLS-ESCAPE-SECRET-{pid}");
        let hostdir = tmp.join("host");
        let vol = tmp.join("vol");
        let plant = tmp.join("plant");
        for d in [&hostdir, &vol, &plant] {
            fs::create_dir_all(d).unwrap();
        }
        let marker = hostdir.join("marker");
        fs::write(&marker, format!("{token}\n")).unwrap();
        let passwd = hostdir.join("passwd");
        fs::write(
            &passwd,
            format!("escapee:x:4242:4242:{token}:/{token}:/bin/sh\n"),
        )
        .unwrap();
        // A loop device holding the secret at its start.
        let img = tmp.join("blk.img");
        let mut data = format!("{token}\n").into_bytes();
        data.resize(1 << 20, 0);
        fs::write(&img, &data).unwrap();
        let dev = sh_ok(&format!("losetup -f --show {}", img.display()));
        let mm = sh_ok(&format!("stat -c '%t %T' {dev}"));
        let (ma, mi) = mm.split_once(' ').unwrap();
        let loopdev = Some((
            dev,
            u32::from_str_radix(ma, 16).unwrap(),
            u32::from_str_radix(mi, 16).unwrap(),
            img,
        ));
        let key_desc = format!("ctools-escape-secret-{pid}");
        let planted_desc = format!("ctools-escape-planted-{pid}");
        keys::join_session_keyring(&format!("ctools-escape-{pid}"));
        keys::add_user_key(&key_desc, &token);
        let target_token = format!("3600.{}", pid % 100_000);
        let target = Command::new("sleep")
            .arg(&target_token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        Host {
            tmp: tmp.to_path_buf(),
            handle: file_handle(&marker),
            token,
            marker,
            hostdir,
            vol,
            plant,
            passwd,
            loopdev,
            key_desc,
            planted_desc,
            target,
            target_token,
            paths: vec![
                tmp.display().to_string(),
                cttest::bin_dir().display().to_string(),
                cttest::workspace_root().display().to_string(),
            ],
        }
    }

    /// The probe's arguments for the bulk `classes`: `CLASS ARGS + CLASS ARGS...`.
    fn bulk_args(&self, classes: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = vec!["/probe".into(), "attack".into()];
        let m = self.marker.display().to_string();
        for c in classes {
            let args: Vec<String> = match *c {
                "mknod" => {
                    let Some((_, ma, mi, _)) = &self.loopdev else {
                        continue;
                    };
                    vec![format!("{ma}:{mi}"), self.token.clone()]
                }
                "fds" | "cwd" | "chroot" => vec![m.clone(), self.token.clone()],
                "keyread" => vec![self.key_desc.clone(), self.token.clone()],
                "keyadd" => vec![self.planted_desc.clone()],
                "shocker" => {
                    let Some((ty, hex)) = &self.handle else {
                        continue;
                    };
                    vec![
                        "/vol".into(),
                        ty.to_string(),
                        hex.clone(),
                        self.token.clone(),
                    ]
                }
                "ptrace" => {
                    let Some(t) = &self.target else { continue };
                    vec![t.id().to_string(), self.target_token.clone()]
                }
                "pid1" => self
                    .paths
                    .iter()
                    .map(|p| {
                        p.bytes().fold(String::new(), |mut h, b| {
                            let _ = write!(h, "{b:02x}");
                            h
                        })
                    })
                    .collect(),
                _ => Vec::new(),
            };
            if v.len() > 2 {
                v.push("+".into());
            }
            v.push((*c).to_string());
            v.extend(args);
        }
        v
    }

    /// The host-side evidence of `class` after a run (and its removal for the next run).
    fn evidence(&self, class: &str) -> Option<String> {
        match class {
            "mknod" => {
                let (_, _, _, img) = self.loopdev.as_ref()?;
                let data = fs::read(img).ok()?;
                let hit = data.get(8192..8208) == Some(b"ESCAPED-BY-MKNOD".as_slice());
                if hit {
                    let mut d = data;
                    d[8192..8208].fill(0);
                    let _ = fs::write(img, d);
                    return Some("the loop device's backing file was written".into());
                }
                None
            }
            "fds" => take(&self.hostdir.join("escaped-fd")),
            "chroot" => take(&PathBuf::from(format!(
                "{}.chroot-escaped",
                self.marker.display()
            ))),
            "keyadd" => {
                let id = keys::find_key(&self.planted_desc)?;
                keys::unlink_key(id);
                Some("the host sees the key the container added".into())
            }
            "devplant" => take(&self.plant.join("node")),
            _ => None,
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut t) = self.target.take() {
            let _ = t.kill();
            let _ = t.wait();
        }
        if let Some((dev, ..)) = &self.loopdev {
            let _ = Command::new("losetup").arg("-d").arg(dev).status();
        }
        // Our session keyring: emptied and invalidated (nothing else holds it).
        keys::drop_session_keyring();
    }
}

/// Remove `p` if it exists: Some(why) when it did.
fn take(p: &Path) -> Option<String> {
    if fs::symlink_metadata(p).is_ok() {
        let _ = fs::remove_file(p);
        return Some(format!("{} appeared on the host", p.display()));
    }
    None
}

/// The probe's verdicts in `out`: class -> verdict.
fn parse(out: &str) -> BTreeMap<String, Verdict> {
    let mut m = BTreeMap::new();
    for l in out.lines() {
        let mut it = l.splitn(3, ' ');
        let (Some(word), Some(class)) = (it.next(), it.next()) else {
            continue;
        };
        let rest = it.next().unwrap_or("").to_string();
        match word {
            "ESCAPED" => m.insert(class.to_string(), Verdict::Escaped(rest)),
            "REFUSED" => m.insert(class.to_string(), Verdict::Refused(rest)),
            _ => None,
        };
    }
    m
}

/// Dup `dir` (opened here) to descriptor 7 of the command, as `7<dir` would.
fn with_fd7(c: &mut Command, dir: &fs::File) {
    let raw = dir.as_raw_fd();
    // SAFETY: dup2/fcntl between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if raw == 7 {
                libc::fcntl(7, libc::F_SETFD, 0);
            } else if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

struct Ran {
    ok: bool,
    out: String,
    err: String,
}

fn run(c: &mut Command, limit: Duration) -> Ran {
    let (st, out, err) = cttest::run_until(c, limit);
    Ran {
        ok: st.is_some_and(|s| s.success()),
        out: String::from_utf8_lossy(&out).into_owned(),
        err: String::from_utf8_lossy(&err).into_owned()
            + if st.is_none() { " (timed out)" } else { "" },
    }
}

/// Record the verdicts of `classes` from a run's output and the host's evidence.
fn record(
    host: &Host,
    into: &mut BTreeMap<String, Verdict>,
    classes: &[&str],
    ran: &Ran,
    contain_refusal_counts: bool,
) {
    let got = parse(&ran.out);
    for c in classes {
        let mut v = got.get(*c).cloned().unwrap_or_else(|| {
            if contain_refusal_counts
                && !ran.ok
                && (ran.err.contains("/proc/self/fd/7") || ran.err.contains("working directory"))
            {
                Verdict::Refused(format!("the runtime refused: {}", ran.err.trim()))
            } else {
                Verdict::NoResult(format!("{}{}", ran.err.trim(), ran.out.trim()))
            }
        });
        if let Some(e) = host.evidence(c) {
            v = Verdict::Escaped(e);
        } else if let (Verdict::Escaped(what), true) = (&v, HOST_JUDGED.contains(c)) {
            // the probe did it in its own world; the host did not see it
            v = Verdict::Refused(format!("{what}, unseen by the host"));
        }
        into.insert((*c).to_string(), v);
    }
}

fn applicable(host: &Host, classes: &[&'static str]) -> Vec<&'static str> {
    classes
        .iter()
        .copied()
        .filter(|c| match *c {
            "mknod" => host.loopdev.is_some(),
            "shocker" => host.handle.is_some(),
            "ptrace" => host.target.is_some(),
            _ => true,
        })
        .collect()
}

/// Copy `names` from `from` into `to` (a private installation of the tools).
fn install(from: &Path, to: &Path, names: &[&str]) {
    fs::create_dir_all(to).unwrap();
    for n in names {
        let tmp = to.join(format!(".{n}.new"));
        fs::copy(from.join(n), &tmp).unwrap();
        // A new inode at the same path, as `install` or a package upgrade makes it.
        fs::rename(&tmp, to.join(n)).unwrap();
    }
}

/// Whether every file of `names` in `to` still has `from`'s content.
fn intact(from: &Path, to: &Path, names: &[&str]) -> Option<String> {
    for n in names {
        if fs::read(from.join(n)).ok() != fs::read(to.join(n)).ok() {
            return Some(format!("{} was overwritten", to.join(n).display()));
        }
    }
    None
}

/// Whether the attacker's verdict is in `log`.
fn done(log: &str) -> bool {
    log.contains("ESCAPED selfexe") || log.contains("REFUSED selfexe")
}

fn poll<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

const TOOLS: [&str; 4] = ["unshare-rs", "cgset", "unionmount", "chroot-rs"];

/// A contain mode: its name, its run flags, whether processes enter by exec.
struct Mode {
    name: &'static str,
    flags: &'static [&'static str],
    exec: bool,
    privileged: bool,
}

const MODES: [Mode; 7] = [
    Mode {
        name: "run",
        flags: &[],
        exec: false,
        privileged: false,
    },
    Mode {
        name: "--chroot",
        flags: &["--chroot"],
        exec: false,
        privileged: false,
    },
    Mode {
        name: "--init",
        flags: &["--init"],
        exec: false,
        privileged: false,
    },
    Mode {
        name: "--privileged",
        flags: &["--privileged"],
        exec: false,
        privileged: true,
    },
    Mode {
        name: "exec",
        flags: &[],
        exec: true,
        privileged: false,
    },
    Mode {
        name: "exec --chroot",
        flags: &["--chroot"],
        exec: true,
        privileged: false,
    },
    Mode {
        name: "exec --privileged",
        flags: &["--privileged"],
        exec: true,
        privileged: true,
    },
];

const LIMIT: Duration = Duration::from_secs(120);

fn contain_mode(env: &Env, host: &Host, img: &str, mode: &Mode) -> BTreeMap<String, Verdict> {
    let mut res = BTreeMap::new();
    let bulk = applicable(
        host,
        if mode.privileged {
            &BULK_PRIVILEGED
        } else {
            &BULK
        },
    );
    let dir = fs::File::open(&host.hostdir).unwrap();
    let vol = format!("{}:/vol", host.vol.display());
    let m = host.marker.display().to_string();
    let tag = mode.name.replace([' ', '-'], "");
    let flags: Vec<&str> = mode.flags.to_vec();
    // the container exec enters, and a command line's start: `run --rm FLAGS` or `exec`
    let ctr = format!("ex{tag}");
    if mode.exec {
        let mut a = vec!["run", "-d", "--name", &ctr, "-v", &vol];
        a.extend(&flags);
        a.extend([img, "/bin/sleep", "1000"]);
        let r = run(env.cmd().args(&a), LIMIT);
        if !r.ok {
            for c in bulk.iter().chain(&["cwd", "passwd", "logfd", "selfexe"]) {
                res.insert(
                    (*c).to_string(),
                    Verdict::NoResult(format!("starting the container: {}", r.err)),
                );
            }
            return res;
        }
    }
    let start = |extra: &[&str]| -> Command {
        let mut c = env.cmd();
        if mode.exec {
            c.arg("exec").args(extra).arg(&ctr);
        } else {
            c.args(["run", "--rm", "-v", &vol])
                .args(&flags)
                .args(extra)
                .arg(img);
        }
        c
    };
    // the bulk classes, with 7<hostdir
    let mut c = start(&[]);
    with_fd7(&mut c, &dir);
    c.args(host.bulk_args(&bulk));
    let r = run(&mut c, LIMIT);
    record(host, &mut res, &bulk, &r, false);
    // -w /proc/self/fd/7 (CVE-2024-21626): contain may refuse the directory itself
    let mut c = start(&["-w", "/proc/self/fd/7"]);
    with_fd7(&mut c, &dir);
    c.args(["/probe", "attack", "cwd", &m, &host.token]);
    let r = run(&mut c, LIMIT);
    record(host, &mut res, &["cwd"], &r, true);
    // a detached container's (or exec -d's) standard output
    if mode.exec {
        let r = run(
            env.cmd()
                .args(["exec", "-d", &ctr, "/probe", "attack", "logfd"]),
            LIMIT,
        );
        let log = poll(Duration::from_secs(20), || {
            let l = env.run(&["logs", &ctr]);
            let s = String::from_utf8_lossy(&l.stdout).into_owned();
            s.contains(" logfd ").then_some(s)
        })
        .unwrap_or_default();
        record(
            host,
            &mut res,
            &["logfd"],
            &Ran {
                ok: r.ok,
                out: log,
                err: r.err,
            },
            false,
        );
    } else {
        let name = format!("log{tag}");
        let mut a = vec!["run", "-d", "--name", &name];
        a.extend(&flags);
        a.extend([img, "/probe", "attack", "logfd"]);
        let r = run(env.cmd().args(&a), LIMIT);
        let _ = run(env.cmd().args(["wait", &name]), LIMIT);
        let log = env.run(&["logs", &name]);
        record(
            host,
            &mut res,
            &["logfd"],
            &Ran {
                ok: r.ok,
                out: String::from_utf8_lossy(&log.stdout).into_owned(),
                err: r.err,
            },
            false,
        );
        let _ = env.run(&["rm", "-f", &name]);
    }
    if !mode.exec && !mode.privileged {
        // a symbolic link planted under a --device destination
        let node = "/dev/escape-sub/node";
        let mut c = start(&["--device", "/dev/null:/dev/escape-sub/node"]);
        c.args(["/probe", "attack", "devplant", node])
            .arg(&host.plant);
        let r = run(&mut c, LIMIT);
        record(host, &mut res, &["devplant"], &r, false);
    }
    if mode.exec {
        // exec -u NAME with /etc/passwd planted as a link to a host file
        let r = run(
            env.cmd()
                .args(["exec", &ctr, "/probe", "attack", "passwd"])
                .arg(&host.passwd),
            LIMIT,
        );
        let planted = parse(&r.out);
        let who = run(
            env.cmd()
                .args(["exec", "-u", "escapee", &ctr, "/probe", "attack", "whoami"]),
            LIMIT,
        );
        let v = match parse(&who.out).get("whoami") {
            _ if !matches!(planted.get("passwd"), Some(Verdict::Escaped(_))) => {
                Verdict::NoResult(format!("planting failed: {}{}", r.out, r.err))
            }
            Some(Verdict::Escaped(w)) if w.contains("uid=4242") || w.contains(&host.token) => {
                Verdict::Escaped(format!("the host file's fields: {w}"))
            }
            Some(Verdict::Escaped(w)) => Verdict::Refused(w.clone()),
            _ if !who.ok => Verdict::Refused(format!("contain refused: {}", who.err.trim())),
            _ => Verdict::NoResult(who.out.clone()),
        };
        res.insert("passwd".into(), v);
        let _ = env.run(&["rm", "-f", &ctr]);
        res.insert("selfexe".into(), selfexe(env, host, img, mode));
    }
    res
}

/// CVE-2019-5736 through `contain exec`, with a private copy of the tools reinstalled (new
/// inodes) while the container runs.
fn selfexe(env: &Env, host: &Host, img: &str, mode: &Mode) -> Verdict {
    let orig = cttest::bin_dir();
    let priv_bin = host.tmp.join("bin");
    install(&orig, &priv_bin, &TOOLS);
    let mut path = OsString::from(&priv_bin);
    path.push(":");
    path.push(test_path());
    let name = format!("se{}", mode.name.replace([' ', '-'], ""));
    let mut a = vec!["run", "-d", "--name", &name];
    a.extend(mode.flags);
    a.extend([img, "/probe", "attack", "selfexe", "/bin/true", "40"]);
    a.extend(TOOLS);
    let r = run(env.cmd().env("PATH", &path).args(&a), LIMIT);
    if !r.ok {
        return Verdict::NoResult(format!("starting the container: {}", r.err));
    }
    let logs = || String::from_utf8_lossy(&env.run(&["logs", &name]).stdout).into_owned();
    if poll(Duration::from_secs(30), || {
        logs().contains("READY").then_some(())
    })
    .is_none()
    {
        let _ = env.run(&["rm", "-f", &name]);
        return Verdict::NoResult(format!("the attacker never got ready: {}", logs()));
    }
    install(&orig, &priv_bin, &TOOLS);
    for _ in 0..10 {
        let _ = run(
            env.cmd()
                .env("PATH", &path)
                .args(["exec", &name, "/bin/true"]),
            Duration::from_secs(60),
        );
        if done(&logs()) {
            break;
        }
    }
    let out = poll(Duration::from_secs(60), || {
        let l = logs();
        done(&l).then_some(l)
    })
    .unwrap_or_else(logs);
    let _ = env.run(&["rm", "-f", &name]);
    let mut v = parse(&out)
        .remove("selfexe")
        .unwrap_or_else(|| Verdict::NoResult(out.clone()));
    if let Some(e) = intact(&orig, &priv_bin, &TOOLS) {
        v = Verdict::Escaped(e);
    }
    v
}

// ------------------------------------------------------------------ runc

/// A runc bundle on a copy of the image's files with what `docker run` adds to `runc spec`:
/// Docker's capabilities, no no_new_privs, Docker's default seccomp profile (where the
/// workspace has it); cgroups beneath ours.
fn runc_bundle(
    host: &Host,
    (tag, rt): (&str, &Path),
    layer: &Path,
    name: &str,
    args: &[String],
    cwd: &str,
) -> PathBuf {
    let b = host.tmp.join(tag).join(name);
    fs::create_dir_all(&b).unwrap();
    sh_ok(&format!(
        "cp -a {}/. {}/rootfs/ 2>/dev/null || (mkdir -p {}/rootfs && cp -a {}/. {}/rootfs/)",
        layer.display(),
        b.display(),
        b.display(),
        layer.display(),
        b.display()
    ));
    let st = Command::new(rt)
        .arg("spec")
        .current_dir(&b)
        .status()
        .unwrap();
    assert!(st.success(), "runc spec");
    let text = fs::read_to_string(b.join("config.json")).unwrap();
    let mut j: serde_json::Value = serde_json::from_str(&text).unwrap();
    j["process"]["terminal"] = false.into();
    j["process"]["args"] = serde_json::json!(args);
    j["process"]["cwd"] = cwd.into();
    j["process"]["noNewPrivileges"] = false.into();
    for set in ["bounding", "effective", "permitted"] {
        j["process"]["capabilities"][set] = serde_json::json!(DOCKER_CAPS);
    }
    j["root"]["readonly"] = false.into();
    j["hostname"] = "escape".into();
    j["linux"]["cgroupsPath"] =
        format!("ctools-test-escape-runc-{}/{name}", std::process::id()).into();
    j["mounts"].as_array_mut().unwrap().push(serde_json::json!({
        "destination": "/vol", "type": "bind", "source": host.vol, "options": ["rbind", "rw"]
    }));
    j["linux"]["devices"] = serde_json::json!([{
        "path": "/dev/escape-sub/node", "type": "c", "major": 1, "minor": 3,
        "fileMode": 0o666, "uid": 0, "gid": 0
    }]);
    if let Some(sc) = docker_seccomp_oci() {
        j["linux"]["seccomp"] = sc;
    }
    fs::write(b.join("config.json"), j.to_string()).unwrap();
    b
}

/// Docker's default seccomp profile (the workspace's data file, Docker's JSON format) as an
/// OCI `linux.seccomp` for x86_64 and Docker's default capabilities, as dockerd hands it to
/// runc: entries kept by their includes/excludes, the rest as they are.
fn docker_seccomp_oci() -> Option<serde_json::Value> {
    let path = cttest::workspace_root().join("ctcore/data/seccomp-default.json");
    let j: serde_json::Value = serde_json::from_str(&fs::read_to_string(path).ok()?).ok()?;
    let arches = ["amd64", "x86", "x32"];
    let strs = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for e in j["syscalls"].as_array()? {
        let inc_caps = strs(&e["includes"]["caps"]);
        let inc_arch = strs(&e["includes"]["arches"]);
        let exc_caps = strs(&e["excludes"]["caps"]);
        let exc_arch = strs(&e["excludes"]["arches"]);
        let keep = inc_caps.iter().all(|c| DOCKER_CAPS.contains(&c.as_str()))
            && (inc_arch.is_empty() || inc_arch.iter().any(|a| arches.contains(&a.as_str())))
            && !exc_caps.iter().any(|c| DOCKER_CAPS.contains(&c.as_str()))
            && !exc_arch.iter().any(|a| a == "amd64");
        if !keep {
            continue;
        }
        let mut o = serde_json::json!({"names": e["names"], "action": e["action"]});
        if !e["errnoRet"].is_null() {
            o["errnoRet"] = e["errnoRet"].clone();
        }
        if !e["args"].is_null() {
            o["args"] = e["args"].clone();
        }
        out.push(o);
    }
    let mut sc = serde_json::json!({
        "defaultAction": j["defaultAction"],
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": out,
    });
    if !j["defaultErrnoRet"].is_null() {
        sc["defaultErrnoRet"] = j["defaultErrnoRet"].clone();
    }
    Some(sc)
}

fn runc_cmd(runc: &Path, state: &Path) -> Command {
    let mut c = Command::new(runc);
    c.arg("--root").arg(state);
    c
}

/// Start a detached runc container (stdio to `log`), by `runc run -d`.
fn runc_detached(runc: &Path, state: &Path, bundle: &Path, id: &str, log: &Path) -> bool {
    let f = fs::File::create(log).unwrap();
    let mut c = runc_cmd(runc, state);
    c.args(["run", "-d", "--bundle"])
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f);
    let Ok(mut ch) = c.spawn() else { return false };
    poll(LIMIT, || ch.try_wait().ok().flatten()).is_some_and(|s| s.success())
}

fn runc_delete(runc: &Path, state: &Path, id: &str) {
    let _ = run(runc_cmd(runc, state).args(["delete", "-f", id]), LIMIT);
}

/// The attacks against the runtime `runc` (runc itself, or a runtime with its command line),
/// its state and private copy named after `tag`.
fn runc_modes(
    host: &Host,
    layer: &Path,
    runc: &Path,
    tag: &str,
) -> Vec<(String, BTreeMap<String, Verdict>)> {
    let mut all = Vec::new();
    let runc = runc.to_path_buf();
    let name = runc.file_name().unwrap().to_string_lossy().into_owned();
    let state = host.tmp.join(format!("{tag}-state"));
    let bulk = applicable(host, &BULK);
    let dir = fs::File::open(&host.hostdir).unwrap();
    let m = host.marker.display().to_string();
    // run: the bulk classes with 7<hostdir, then a cwd of /proc/self/fd/7, the device path
    let mut res = BTreeMap::new();
    let b = runc_bundle(
        host,
        (tag, &runc),
        layer,
        "bulk",
        &host.bulk_args(&bulk),
        "/",
    );
    let mut c = runc_cmd(&runc, &state);
    c.args(["run", "--bundle"]).arg(&b).arg("bulk");
    with_fd7(&mut c, &dir);
    let r = run(&mut c, LIMIT);
    runc_delete(&runc, &state, "bulk");
    record(host, &mut res, &bulk, &r, false);
    let args: Vec<String> = ["/probe", "attack", "cwd", &m, &host.token]
        .iter()
        .map(ToString::to_string)
        .collect();
    let b = runc_bundle(host, (tag, &runc), layer, "cwd", &args, "/proc/self/fd/7");
    let mut c = runc_cmd(&runc, &state);
    c.args(["run", "--bundle"]).arg(&b).arg("cwd");
    with_fd7(&mut c, &dir);
    let r = run(&mut c, LIMIT);
    runc_delete(&runc, &state, "cwd");
    record(host, &mut res, &["cwd"], &r, true);
    let args: Vec<String> = ["/probe", "attack", "devplant", "/dev/escape-sub/node"]
        .iter()
        .map(ToString::to_string)
        .chain([host.plant.display().to_string()])
        .collect();
    let b = runc_bundle(host, (tag, &runc), layer, "dev", &args, "/");
    let r = run(
        runc_cmd(&runc, &state)
            .args(["run", "--bundle"])
            .arg(&b)
            .arg("dev"),
        LIMIT,
    );
    runc_delete(&runc, &state, "dev");
    record(host, &mut res, &["devplant"], &r, false);
    all.push(("run".to_string(), res));
    // exec into a running container
    let mut res = BTreeMap::new();
    let sleeper: Vec<String> = vec!["/bin/sleep".into(), "1000".into()];
    let b = runc_bundle(host, (tag, &runc), layer, "ex", &sleeper, "/");
    if runc_detached(
        &runc,
        &state,
        &b,
        "ex",
        &host.tmp.join(format!("{tag}-ex.log")),
    ) {
        let mut c = runc_cmd(&runc, &state);
        c.args(["exec", "ex"]).args(host.bulk_args(&bulk));
        with_fd7(&mut c, &dir);
        let r = run(&mut c, LIMIT);
        record(host, &mut res, &bulk, &r, false);
        let mut c = runc_cmd(&runc, &state);
        c.args([
            "exec",
            "--cwd",
            "/proc/self/fd/7",
            "ex",
            "/probe",
            "attack",
            "cwd",
            &m,
            &host.token,
        ]);
        with_fd7(&mut c, &dir);
        let r = run(&mut c, LIMIT);
        record(host, &mut res, &["cwd"], &r, true);
    }
    runc_delete(&runc, &state, "ex");
    // #!/proc/self/exe through runc exec, with a private runc reinstalled meanwhile
    let priv_bin = host.tmp.join(format!("{tag}-bin"));
    let rdir = runc.parent().unwrap();
    // the runtime, and the workspace's tools beside runc-rs (its chain runs them from there)
    let mut names = vec![name.as_str()];
    if rdir.join("unshare-rs").is_file() {
        names.extend(TOOLS.iter().filter(|t| rdir.join(t).is_file()));
    }
    install(rdir, &priv_bin, &names);
    let prunc = priv_bin.join(&name);
    let args: Vec<String> = ["/probe", "attack", "selfexe", "/bin/true", "40"]
        .iter()
        .chain(names.iter())
        .map(ToString::to_string)
        .collect();
    let b = runc_bundle(host, (tag, &runc), layer, "se", &args, "/");
    let log = host.tmp.join(format!("{tag}-se.log"));
    let v = if runc_detached(&prunc, &state, &b, "se", &log) {
        let logs = || fs::read_to_string(&log).unwrap_or_default();
        let _ = poll(Duration::from_secs(30), || {
            logs().contains("READY").then_some(())
        });
        install(rdir, &priv_bin, &names);
        for _ in 0..10 {
            let _ = run(
                runc_cmd(&prunc, &state).args(["exec", "se", "/bin/true"]),
                Duration::from_secs(60),
            );
            if done(&logs()) {
                break;
            }
        }
        let out = poll(Duration::from_secs(60), || {
            let l = logs();
            done(&l).then_some(l)
        })
        .unwrap_or_else(logs);
        let mut v = parse(&out)
            .remove("selfexe")
            .unwrap_or_else(|| Verdict::NoResult(out.clone()));
        if let Some(e) = intact(rdir, &priv_bin, &names) {
            v = Verdict::Escaped(e);
        }
        v
    } else {
        Verdict::NoResult(fs::read_to_string(&log).unwrap_or_default())
    };
    runc_delete(&runc, &state, "se");
    res.insert("selfexe".into(), v);
    all.push(("exec".to_string(), res));
    // the parent of runc's cgroups, beneath ours, in every hierarchy (named and v2 too)
    remove_cgroups(&format!("ctools-test-escape-runc-{}", std::process::id()));
    all
}

/// Remove the cgroup `parent` beneath this process's cgroup in every hierarchy, children first.
fn remove_cgroups(parent: &str) {
    let text = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (_, ctrls, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or(""));
        let mounts: Vec<String> = if ctrls.is_empty() {
            vec!["unified".into(), String::new()]
        } else {
            ctrls
                .split(',')
                .map(|c| c.trim_start_matches("name=").to_string())
                .collect()
        };
        for m in mounts {
            let d = Path::new("/sys/fs/cgroup")
                .join(m)
                .join(path.trim_start_matches('/'))
                .join(parent);
            if d.is_dir() {
                let _ = Command::new("find")
                    .arg(&d)
                    .args(["-depth", "-type", "d", "-exec", "rmdir", "{}", ";"])
                    .status();
            }
        }
    }
}

fn render(results: &Results) -> String {
    let cols: Vec<&(String, String)> = results.iter().map(|(k, _)| k).collect();
    let mut t = String::new();
    let _ = write!(t, "{:<44}", "class");
    for (r, m) in &cols {
        let _ = write!(t, " | {:<18}", format!("{r} {m}"));
    }
    t.push('\n');
    let mut score: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (class, what) in CLASSES.iter().filter(|(c, _)| *c != "all") {
        if !results.iter().any(|(_, v)| v.contains_key(*class)) {
            continue;
        }
        let _ = write!(t, "{:<44}", format!("{class}: {what}"));
        for (_, v) in results {
            let cell = v.get(*class).map_or("-", Verdict::cell);
            let _ = write!(t, " | {cell:<18}");
        }
        t.push('\n');
        for ((r, _), v) in results {
            if let Some(v) = v.get(*class) {
                let s = score.entry(r.as_str()).or_default();
                s.1 += 1;
                if matches!(v, Verdict::Refused(_)) {
                    s.0 += 1;
                }
            }
        }
    }
    for (r, (ok, n)) in score {
        let _ = writeln!(t, "{r}: {ok}/{n} attacks refused");
    }
    // what each attack met: the escapes first, then the refusals' errors
    for refused in [false, true] {
        for ((r, m), v) in results {
            for (c, v) in v {
                if matches!(v, Verdict::Refused(_)) == refused {
                    let _ = writeln!(t, "  {r} {m} {c}: {v:?}");
                }
            }
        }
    }
    t
}

fn run_suite() -> Suite {
    let _g = cttest::serial("cgroup");
    let tmp = cttest::tempdir().unwrap();
    let mut host = Host::new(tmp.path());
    let env = Env::new("escape");
    host.paths.push(env.state().display().to_string());
    let image = env.build_test_image("escape");
    let mut results = Vec::new();
    for mode in &MODES {
        let r = contain_mode(&env, &host, "escape", mode);
        results.push((("contain".to_string(), mode.name.to_string()), r));
    }
    let layer = fs::read_to_string(env.state().join("images").join(&image).join("layers")).unwrap();
    let fsdir = env.state().join("layers").join(layer.trim()).join("fs");
    // runc (the yardstick) where installed, and the workspace's runc-rs where built
    let runc = cttest::sh("command -v runc");
    let runc = PathBuf::from(String::from_utf8_lossy(&runc.stdout).trim());
    let runc_ok = runc.is_absolute()
        && Command::new(&runc)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    let runc_rs = cttest::bin_dir().join("runc-rs");
    for (ok, path, tag) in [
        (runc_ok, runc, "runc"),
        (runc_rs.is_file(), runc_rs, "runc-rs"),
    ] {
        if ok {
            for (m, r) in runc_modes(&host, &fsdir, &path, tag) {
                results.push(((tag.to_string(), m), r));
            }
        }
    }
    drop(env);
    drop(host);
    let table = render(&results);
    eprintln!("{table}");
    Suite { results, table }
}

/// The matrix, run once per test process in a thread of its own (it joins a session keyring
/// of its own, which the containers would reach if they shared it).
fn suite() -> &'static Suite {
    static S: OnceLock<Suite> = OnceLock::new();
    S.get_or_init(|| {
        std::thread::spawn(run_suite)
            .join()
            .unwrap_or_else(|_| Suite {
                results: Vec::new(),
                table: "the escape suite itself failed (see its panic above)".into(),
            })
    })
}

macro_rules! class_test {
    ($name:ident, $class:literal $(, $why:literal)?) => {
        #[test]
        $(#[ignore = $why])?
        fn $name() {
            if !cttest::require_root(concat!("e2e::escape::", stringify!($name))) {
                return;
            }
            suite().assert_refused($class);
        }
    };
}

// A class still open in some mode would carry #[ignore] with what is missing.
class_test!(mknod_host_block_device, "mknod");
class_test!(mknod_kvm, "kvm");
class_test!(inherited_descriptors, "fds");
class_test!(workdir_through_a_leaked_descriptor, "cwd");
class_test!(classic_chroot_escape, "chroot");
class_test!(proc_self_exe_overwrite_through_exec, "selfexe");
class_test!(host_key_read, "keyread");
class_test!(key_added_for_the_host, "keyadd");
class_test!(exec_user_through_planted_passwd, "passwd");
class_test!(shocker_open_by_handle_at, "shocker");
class_test!(io_uring_setup, "io_uring");
class_test!(perf_event_open, "perf");
class_test!(userfaultfd, "userfaultfd");
class_test!(symlink_under_device_destination, "devplant");
class_test!(unshare_user_namespace, "userns");
class_test!(mount, "mount");
class_test!(keyctl, "keyctl");
class_test!(ptrace_host_process, "ptrace");
class_test!(sysrq_trigger, "sysrq");
class_test!(sys_writes, "sysfs");
class_test!(proc_sys_writes, "procsys");
class_test!(kernel_modules, "module");
class_test!(detached_log_descriptor, "logfd");
class_test!(masked_paths, "masked");
class_test!(pid1_no_stronger_nor_host_named, "pid1");

#[test]
fn escape_score_table() {
    if !cttest::require_root("e2e::escape::escape_score_table") {
        return;
    }
    let s = suite();
    println!("{}", s.table);
    assert!(!s.results.is_empty(), "{}", s.table);
}

#[test]
fn probe_lines_parse() {
    let m = parse(
        "READY selfexe /bin/true\nESCAPED mount mounted a tmpfs\nREFUSED keyctl EPERM keyctl\n",
    );
    assert_eq!(m.len(), 2);
    assert_eq!(m["mount"], Verdict::Escaped("mounted a tmpfs".into()));
    assert_eq!(m["keyctl"], Verdict::Refused("EPERM keyctl".into()));
    assert!(!done("READY selfexe /bin/true\n"));
    assert!(done(
        "READY selfexe /bin/true\nREFUSED selfexe ESRCH none\n"
    ));
}

#[test]
fn docker_profile_for_runc_follows_docker_capabilities() {
    let Some(sc) = docker_seccomp_oci() else {
        return;
    };
    let rules = sc["syscalls"].as_array().unwrap();
    let allowed = |name: &str| {
        rules.iter().any(|r| {
            r["action"] == "SCMP_ACT_ALLOW"
                && r["args"].is_null()
                && r["names"].as_array().unwrap().iter().any(|n| n == name)
        })
    };
    // CAP_SYS_CHROOT is Docker's: chroot stays; CAP_SYS_ADMIN's and CAP_SYS_MODULE's go
    assert!(allowed("chroot") && allowed("read"));
    for name in [
        "mount",
        "init_module",
        "open_by_handle_at",
        "keyctl",
        "io_uring_setup",
    ] {
        assert!(!allowed(name), "{name}");
    }
    assert_eq!(sc["defaultAction"], "SCMP_ACT_ERRNO");
}
