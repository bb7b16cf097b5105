//! Join mode against a container-like target (issue 18): a process in new
//! mount, UTS, IPC (and PID) namespaces whose root is a minimal root made
//! with `pivot_root`, as `contain` makes them.  Each test joins it the way
//! `contain exec` does (`unshare-rs --target PID --all ... -- PROGRAM`) and
//! checks what the container could see or reach.

use std::ffi::CString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

fn bin() -> PathBuf {
    cttest::bin("unshare-rs")
}

fn run(c: &mut Command) -> Output {
    cttest::run_with_timeout(c, LIMIT)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Run and require success with an empty stderr; stdout.
fn ok(c: &mut Command) -> String {
    let o = run(c);
    assert!(
        o.status.success(),
        "{c:?}: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
    assert_eq!(text(&o.stderr), "", "stderr must be empty: {c:?}");
    text(&o.stdout)
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: signalling a process this test started, by pid.
    unsafe { libc::kill(pid, sig) };
}

/// The programs of the container's root (host binaries and their
/// libraries).
const PROGRAMS: &[&str] = &[
    "sh", "sleep", "cat", "id", "ls", "readlink", "env", "unshare", "mkdir", "umount", "grep",
    "sort", "tr", "true",
];

/// A running container: its root, the host pid of its process (`sleep`),
/// and the unshare-rs that made it.
struct Ctr {
    pid: i32,
    maker: Child,
    root: cttest::TempDir,
}

impl Ctr {
    fn p(&self) -> String {
        self.pid.to_string()
    }

    /// `unshare-rs --target PID --all ARGS -- PROGRAM...` with `tool`.
    fn join_with(&self, tool: &Path, args: &[&str], program: &[&str]) -> Command {
        let mut c = Command::new(tool);
        c.args(["--target", &self.p(), "--all"])
            .args(args)
            .arg("--")
            .args(program)
            .current_dir("/")
            .stdin(Stdio::null());
        c
    }

    fn join(&self, args: &[&str], program: &[&str]) -> Command {
        self.join_with(&bin(), args, program)
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        kill(self.pid, libc::SIGKILL);
        kill(i32::try_from(self.maker.id()).unwrap_or(0), libc::SIGKILL);
        let _ = self.maker.wait();
    }
}

/// Make a container: a minimal root (with `setup` adding to it), entered
/// with pivot_root in new mount, UTS and IPC namespaces (and a PID
/// namespace when `pidns`), its own /proc, and `sleep` running in /etc.
fn container(pidns: bool, setup: impl FnOnce(&Path)) -> Ctr {
    let root = cttest::tempdir().unwrap();
    let r = root.path();
    cttest::minroot::build(r, PROGRAMS).unwrap();
    setup(r);
    let rs = r.display();
    let script = format!(
        "set -e; mount --bind {rs} {rs}; mount -t proc proc {rs}/proc; \
         touch {rs}/dev/null; mount --bind /dev/null {rs}/dev/null; \
         hostname ctr; cd {rs}; mkdir -p .old; pivot_root . .old; cd /; umount -l /.old; \
         cd /etc; echo ready; exec sleep 1000"
    );
    let mut c = Command::new(bin());
    c.args(["-m", "-u", "-i"]);
    if pidns {
        c.args(["-p", "--no-init"]);
    }
    c.args(["--", "/bin/sh", "-c", &script])
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut maker = c.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(maker.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.trim() != "ready" {
        let _ = maker.kill();
        let mut err = String::new();
        let _ = maker.stderr.take().unwrap().read_to_string(&mut err);
        let _ = maker.wait();
        panic!("the container did not start: {line:?} {err}");
    }
    let mpid = i32::try_from(maker.id()).unwrap();
    let pid = if pidns {
        // unshare-rs forked: its child is the container's pid 1.
        let t0 = Instant::now();
        loop {
            let kids = std::fs::read_to_string(format!("/proc/{mpid}/task/{mpid}/children"))
                .unwrap_or_default();
            if let Some(k) = kids.split_whitespace().next() {
                break k.parse().unwrap();
            }
            assert!(t0.elapsed() < LIMIT, "no child of {mpid}");
            std::thread::sleep(Duration::from_millis(10));
        }
    } else {
        mpid
    };
    // Until sleep runs (the script's exec).
    let t0 = Instant::now();
    while std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        != "sleep"
    {
        assert!(t0.elapsed() < LIMIT, "the container's sleep did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    Ctr { pid, maker, root }
}

fn write_file(p: &Path, content: &str, mode: u32) {
    std::fs::write(p, content).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Put `raw` on descriptor `target` between fork and exec (not close-on-exec).
fn place_fd(raw: i32, target: i32) -> std::io::Result<()> {
    // SAFETY: dup2/fcntl are async-signal-safe.
    let r = unsafe {
        if raw == target {
            libc::fcntl(raw, libc::F_SETFD, 0)
        } else {
            libc::dup2(raw, target)
        }
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The descriptor numbers `ls /proc/PID/fd` printed, in order.
fn fds(ls: &str) -> Vec<i32> {
    let mut v: Vec<i32> = ls.split_whitespace().map(|w| w.parse().unwrap()).collect();
    v.sort_unstable();
    v
}

fn seals_of(f: &std::fs::File) -> i32 {
    // SAFETY: F_GET_SEALS on an open descriptor.
    unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) }
}

const SEALS: i32 = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

fn read_only_mount(f: &std::fs::File) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: fstatvfs fills the struct on success.
    let r = unsafe { libc::fstatvfs(f.as_raw_fd(), st.as_mut_ptr()) };
    // SAFETY: filled by the successful call.
    r == 0 && unsafe { st.assume_init() }.f_flag & libc::ST_RDONLY != 0
}

// ---------------------------------------------------------------- CVE-2019-5736

/// The container replaces a program with a script whose interpreter is
/// `#!/proc/self/exe`: when the joining tool execs it, the kernel runs the
/// tool's own binary again, inside the container, and the container may
/// then open `/proc/PID/exe` for writing.  A tool running from a detached
/// read-only clone of its mount (or a sealed memfd) names no host path
/// there and refuses every write, also after the tool has gone.
#[test]
fn proc_self_exe_script_meets_a_protected_binary() {
    if !cttest::require_root!() {
        return;
    }
    let ctr = container(true, |r| {
        write_file(&r.join("bin/attack"), "#!/proc/self/exe\n", 0o755);
    });
    // The host's tool: a copy, so that a failure of this test cannot
    // damage the build.
    let dir = cttest::tempdir().unwrap();
    let tool = dir.path().join("unshare-rs");
    std::fs::copy(bin(), &tool).unwrap();
    let before = std::fs::read(&tool).unwrap();
    let host_ino = std::fs::metadata(&tool).unwrap().ino();
    let mut joiner = ctr
        .join_with(&tool, &[], &["/bin/attack"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let jpid = i32::try_from(joiner.id()).unwrap();
    let _g = cttest::defer(move || kill(jpid, libc::SIGKILL));
    // Entering the PID namespace forked: the child exec'd /bin/attack, which
    // runs the tool's binary again (and again: it execs /bin/attack).
    let t0 = Instant::now();
    let cpid: i32 = loop {
        let kids = std::fs::read_to_string(format!("/proc/{jpid}/task/{jpid}/children"))
            .unwrap_or_default();
        if let Some(k) = kids.split_whitespace().next() {
            let k: i32 = k.parse().unwrap();
            let cmd = std::fs::read(format!("/proc/{k}/cmdline")).unwrap_or_default();
            if cmd.starts_with(b"/proc/self/exe\0") {
                break k;
            }
        }
        assert!(t0.elapsed() < LIMIT, "the script never ran");
        std::thread::sleep(Duration::from_millis(5));
    };
    let _g2 = cttest::defer(move || kill(cpid, libc::SIGKILL));
    // Visible in the container's PID namespace.
    let ns = |p: i32| {
        std::fs::metadata(format!("/proc/{p}/ns/pid"))
            .unwrap()
            .ino()
    };
    assert_eq!(ns(cpid), ns(ctr.pid));
    for p in [cpid, jpid] {
        let link = std::fs::read_link(format!("/proc/{p}/exe")).unwrap();
        let link = link.to_string_lossy();
        assert!(
            link == "/" || link.starts_with("/memfd:"),
            "/proc/{p}/exe -> {link}"
        );
        assert!(!link.contains(&*dir.path().to_string_lossy()), "{link}");
        let exe = std::fs::File::open(format!("/proc/{p}/exe")).unwrap();
        if link == "/" {
            // The host's file, on a read-only mount of its own.
            assert_eq!(exe.metadata().unwrap().ino(), host_ino);
            assert!(
                read_only_mount(&exe),
                "/proc/{p}/exe is on a writable mount"
            );
        } else {
            assert_ne!(exe.metadata().unwrap().ino(), host_ino);
            assert_eq!(seals_of(&exe) & SEALS, SEALS, "/proc/{p}/exe is not sealed");
        }
        // Opening it for writing is refused while it runs.
        assert!(
            std::fs::OpenOptions::new()
                .write(true)
                .open(format!("/proc/{p}/exe"))
                .is_err()
        );
    }
    // The attacker keeps a handle on the link, and writes once nothing
    // runs the file any more (after a reinstall of the tools, in the issue).
    let path = CString::new(format!("/proc/{cpid}/exe")).unwrap();
    // SAFETY: open with O_PATH; the descriptor is wrapped at once.
    let held = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    assert!(held >= 0);
    // SAFETY: a descriptor we just opened.
    let held = unsafe { OwnedFd::from_raw_fd(held) };
    kill(cpid, libc::SIGKILL);
    kill(jpid, libc::SIGKILL);
    let _ = joiner.wait();
    match std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{}", held.as_raw_fd()))
    {
        Ok(mut f) => assert!(f.write_all(b"\x7fELF-overwritten").is_err()),
        Err(e) => assert!(
            matches!(
                e.raw_os_error(),
                Some(libc::EPERM | libc::ETXTBSY | libc::EACCES | libc::EROFS)
            ),
            "{e}"
        ),
    }
    assert_eq!(
        std::fs::read(&tool).unwrap(),
        before,
        "the host binary changed"
    );
}

// ---------------------------------------------------------------- descriptors

/// `--preserve-fds 0` closes the caller's descriptors before anything else:
/// a descriptor of the host's root cannot reach PROGRAM, nor be named by
/// `-W /proc/self/fd/N` (the class of CVE-2024-21626).  The container here
/// shares the host's PID namespace, so that its /proc/self is the joining
/// process itself.
#[test]
fn preserve_fds_closes_the_callers_descriptors_first() {
    if !cttest::require_root!() {
        return;
    }
    let ctr = container(false, |_| {});
    let host_root = std::fs::File::open("/").unwrap();
    let log = std::fs::File::open("/etc/hostname").unwrap();
    let with_fds = |c: &mut Command| {
        let (a, b) = (host_root.as_raw_fd(), log.as_raw_fd());
        // SAFETY: fcntl and dup2 between fork and exec.
        unsafe {
            c.pre_exec(move || {
                // Out of the way first: either may sit on 3 or 7.
                let (a, b) = (
                    libc::fcntl(a, libc::F_DUPFD, 100),
                    libc::fcntl(b, libc::F_DUPFD, 100),
                );
                place_fd(b, 3)?;
                place_fd(a, 7)?;
                libc::close(a);
                libc::close(b);
                Ok(())
            });
        }
    };
    let list = ["/bin/sh", "-c", "ls /proc/$$/fd"];
    // The leak, without the option: fd 7 is the host's root, where the
    // container's own root directory is to be seen.
    let marker = format!(
        "test -d ./{} && echo host || echo container",
        ctr.root
            .path()
            .display()
            .to_string()
            .trim_start_matches('/')
    );
    let mut c = ctr.join(&["-W", "/proc/self/fd/7"], &["/bin/sh", "-c", &marker]);
    with_fds(&mut c);
    // (sh warns that its working directory is out of its root.)
    let o = run(&mut c);
    assert_eq!(
        text(&o.stdout),
        "host\n",
        "no leak to show without the option"
    );
    let mut c = ctr.join(&[], &list);
    with_fds(&mut c);
    assert!(
        fds(&ok(&mut c)).contains(&7),
        "fd 7 should leak without --preserve-fds"
    );
    // With it: -W cannot name the descriptor, and PROGRAM gets 0 1 2 only.
    let mut c = ctr.join(&["--preserve-fds", "0", "-W", "/proc/self/fd/7"], &["pwd"]);
    with_fds(&mut c);
    let o = run(&mut c);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stdout));
    assert!(
        text(&o.stderr).starts_with("unshare-rs: cannot change directory to /proc/self/fd/7: "),
        "{}",
        text(&o.stderr)
    );
    let mut c = ctr.join(&["--preserve-fds", "0"], &list);
    with_fds(&mut c);
    assert_eq!(fds(&ok(&mut c)), [0, 1, 2]);
    // --preserve-fds 1 keeps 3 and closes 7.
    let mut c = ctr.join(&["--preserve-fds", "1"], &list);
    with_fds(&mut c);
    assert_eq!(fds(&ok(&mut c)), [0, 1, 2, 3]);
}

/// Every descriptor unshare-rs opens (namespaces, root and working
/// directories, the status descriptor, the sealed copy) is close-on-exec:
/// PROGRAM starts with the caller's descriptors only.
#[test]
fn nothing_unshare_rs_opens_reaches_the_program() {
    if !cttest::require_root!() {
        return;
    }
    let ctr = container(true, |_| {});
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let raw = w.as_raw_fd();
    // --preserve-fds 0 first drops what the test harness leaves open; what
    // unshare-rs opens after that must not reach PROGRAM either.
    let mut c = ctr.join(
        &[
            "--preserve-fds",
            "0",
            "-r",
            "-w",
            "--json-status",
            "5",
            "--new-keyring",
            "--seccomp=default",
        ],
        &["/bin/sh", "-c", "pwd; ls /proc/$$/fd"],
    );
    // SAFETY: dup2 between fork and exec.
    unsafe { c.pre_exec(move || place_fd(raw, 5)) };
    let out = ok(&mut c);
    drop(w);
    let mut status = String::new();
    std::fs::File::from(r).read_to_string(&mut status).unwrap();
    assert!(status.contains("child-pid"), "{status}");
    assert!(out.starts_with("/etc\n"), "{out}");
    assert_eq!(
        fds(&out[5..]),
        [0, 1, 2],
        "only the standard streams reach PROGRAM"
    );
}

// ---------------------------------------------------------------- keyrings

fn keyctl(op: libc::c_long, a: libc::c_long, b: libc::c_long) -> libc::c_long {
    // SAFETY: keyctl with integer arguments.
    unsafe { libc::syscall(libc::SYS_keyctl, op, a, b) }
}

/// The caller's session keyring holds a key only its possessors may see;
/// the container sees it without --new-keyring and not with it (in join
/// and in create mode).
#[test]
fn new_keyring_hides_the_callers_session_keys() {
    if !cttest::require_root!() {
        return;
    }
    let ctr = container(true, |_| {});
    let with_key = |c: &mut Command| {
        // SAFETY: keyctl and add_key between fork and exec.
        unsafe {
            c.pre_exec(|| {
                let name = c"ctools-test-session";
                if keyctl(1, name.as_ptr() as libc::c_long, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let id = libc::syscall(
                    libc::SYS_add_key,
                    c"user".as_ptr(),
                    c"ctools-test-key".as_ptr(),
                    c"secret".as_ptr(),
                    6usize,
                    -3 as libc::c_long,
                );
                if id < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // KEYCTL_SETPERM: the possessor's only, key and keyring.
                keyctl(5, id, 0x3f00_0000);
                keyctl(5, -3, 0x3f00_0000);
                Ok(())
            });
        }
    };
    let mut c = ctr.join(&[], &["cat", "/proc/keys"]);
    with_key(&mut c);
    let keys = ok(&mut c);
    assert!(keys.contains("ctools-test-key"), "{keys}");
    let mut c = ctr.join(&["--new-keyring"], &["cat", "/proc/keys"]);
    with_key(&mut c);
    let keys = ok(&mut c);
    assert!(!keys.contains("ctools-test-key"), "{keys}");
    assert!(!keys.contains("ctools-test-session"), "{keys}");
    assert!(keys.contains("_ses"), "{keys}");
    // Create mode too.
    let mut c = Command::new(bin());
    c.args(["-u", "--new-keyring", "cat", "/proc/keys"]);
    with_key(&mut c);
    let keys = ok(&mut c);
    assert!(!keys.contains("ctools-test-key"), "{keys}");
}

// ---------------------------------------------------------------- users

/// `--userspec` reads the container's files from inside its root: a
/// planted `/etc/passwd -> /etc/shadow` reads the container's shadow, never
/// the host's (whose first line is root's).
#[test]
fn userspec_resolves_inside_the_joined_root() {
    if !cttest::require_root!() {
        return;
    }
    let ctr = container(true, |r| {
        let _ = std::fs::remove_file(r.join("etc/passwd"));
        std::os::unix::fs::symlink("/etc/shadow", r.join("etc/passwd")).unwrap();
        write_file(
            &r.join("etc/shadow"),
            "app:x:4242:4343:App:/home/inside:/bin/sh\n",
            0o600,
        );
        write_file(
            &r.join("etc/group"),
            "root:x:0:\napp:x:4343:\nextra:x:5000:other,app\n",
            0o644,
        );
    });
    let show = ["/bin/sh", "-c", "id -u; id -g; id -G; echo $HOME"];
    let mut c = ctr.join(&["--userspec", "app"], &show);
    c.env_remove("HOME");
    assert_eq!(ok(&mut c), "4242\n4343\n4343 5000\n/home/inside\n");
    // By uid, with a group: the group replaces the supplementary ones.
    let mut c = ctr.join(&["--userspec", "4242:extra"], &show);
    c.env_remove("HOME");
    assert_eq!(ok(&mut c), "4242\n5000\n5000\n/home/inside\n");
    // HOME from the environment stays (runc's rule).
    let mut c = ctr.join(&["--userspec", "app"], &["/bin/sh", "-c", "echo $HOME"]);
    c.env("HOME", "/given");
    assert_eq!(ok(&mut c), "/given\n");
    // The host's shadow has root; the container's has not.
    for (spec, msg) in [
        (
            "root",
            "unshare-rs: unable to find user root: no matching entries in passwd file\n",
        ),
        (
            "app:wheel",
            "unshare-rs: unable to find group wheel: no matching entries in group file\n",
        ),
    ] {
        let o = run(&mut ctr.join(&["--userspec", spec], &["id"]));
        assert_eq!(o.status.code(), Some(125));
        assert_eq!(text(&o.stderr), msg);
        assert_eq!(text(&o.stdout), "");
    }
    // An unknown number is taken as it is, with group 0.
    let mut c = ctr.join(&["--userspec", "777"], &show);
    c.env_remove("HOME");
    assert_eq!(ok(&mut c), "777\n0\n0\n/\n");
    let o = run(&mut ctr.join(&["--userspec", "app", "-S", "1"], &["id"]));
    assert_eq!(o.status.code(), Some(125));
    // The container's root could read its own file: the host's stays unread.
    assert!(ctr.root.path().join("etc/shadow").exists());
}

// ---------------------------------------------------------------- seccomp

/// `--seccomp=default` is installed before PROGRAM with and without
/// no_new_privs (and with a new uid, where it must go in while still
/// privileged): without CAP_SYS_ADMIN, `unshare -U` is refused, as in
/// Docker.  `unconfined` installs nothing; a FILE is read from the
/// caller's file system, not the container's.
#[test]
fn seccomp_with_and_without_no_new_privs() {
    if !cttest::require_root!() {
        return;
    }
    let ctr = container(true, |_| {});
    let check = [
        "/bin/sh",
        "-c",
        "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | tr -s '\\t\\n' '  '; \
         unshare -U true 2>/dev/null && echo unshared || echo refused",
    ];
    // Without the filter, unshare -U works even without CAP_SYS_ADMIN.
    assert_eq!(
        ok(&mut ctr.join(&["--cap-drop=sys_admin"], &check)),
        "NoNewPrivs: 0 Seccomp: 0 unshared\n"
    );
    for (args, want) in [
        (
            &["--seccomp=default", "--cap-drop=sys_admin"][..],
            "NoNewPrivs: 0 Seccomp: 2 refused\n",
        ),
        (
            &[
                "--seccomp=default",
                "--cap-drop=sys_admin",
                "--no-new-privs",
            ][..],
            "NoNewPrivs: 1 Seccomp: 2 refused\n",
        ),
        (
            &[
                "--seccomp=default",
                "--cap-drop=sys_admin",
                "--userspec=65534",
            ][..],
            "NoNewPrivs: 0 Seccomp: 2 refused\n",
        ),
        (
            &[
                "--seccomp=default",
                "--cap-drop=sys_admin",
                "--userspec=65534",
                "--no-new-privs",
            ][..],
            "NoNewPrivs: 1 Seccomp: 2 refused\n",
        ),
        (
            &["--seccomp=unconfined", "--cap-drop=sys_admin"][..],
            "NoNewPrivs: 0 Seccomp: 0 unshared\n",
        ),
    ] {
        assert_eq!(ok(&mut ctr.join(args, &check)), want, "{args:?}");
    }
    // A profile of the caller's: mkdir refused with EPERM, all else allowed.
    let dir = cttest::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let arg = format!("--seccomp={}", profile.display());
    let o = run(&mut ctr.join(&[&arg], &["mkdir", "/tmp/denied"]));
    assert_ne!(o.status.code(), Some(0));
    assert!(
        text(&o.stderr).contains("Operation not permitted"),
        "{}",
        text(&o.stderr)
    );
    assert!(!ctr.root.path().join("tmp/denied").exists());
    // A bad profile is refused before anything is joined.
    std::fs::write(&profile, "{").unwrap();
    let o = run(&mut ctr.join(&[&arg], &["true"]));
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o.stderr).starts_with(&format!("unshare-rs: --seccomp: {}", profile.display())),
        "{}",
        text(&o.stderr)
    );
}

// ---------------------------------------------------------------- environment

/// util-linux's --clear-env and --whitelist-env, in create and join mode.
#[test]
fn clear_and_whitelisted_environment() {
    if !cttest::require_root!() {
        return;
    }
    let show = [
        "/bin/sh",
        "-c",
        "env | grep -v '^PWD=' | sort | tr '\\n' ' '",
    ];
    let mut c = Command::new(bin());
    c.args(["-u", "--clear-env", "--"]).args(show).env("A", "1");
    assert_eq!(ok(&mut c), "");
    let mut c = Command::new(bin());
    c.args(["-u", "--whitelist-env", "A,C", "--whitelist-env=B", "--"])
        .args(show)
        .env("A", "1")
        .env("B", "2");
    assert_eq!(ok(&mut c), "A=1 B=2 ");
    let ctr = container(true, |_| {});
    let mut c = ctr.join(&["--whitelist-env", "A"], &show);
    c.env("A", "1").env("B", "2");
    assert_eq!(ok(&mut c), "A=1 ");
}
