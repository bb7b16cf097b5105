//! End-to-end tests of unshare-rs against the real kernel: the binary is
//! spawned (namespaces are never entered in the test process itself), as
//! root and as the unprivileged user 65534.

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);
const NOBODY: u32 = 65534;

fn bin() -> PathBuf {
    cttest::bin("unshare-rs")
}

fn us(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args);
    c
}

fn run(c: &mut Command) -> Output {
    cttest::run_with_timeout(c, LIMIT)
}

fn as_nobody(c: &mut Command) -> &mut Command {
    c.uid(NOBODY).gid(NOBODY).current_dir("/")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run and require success with an empty stderr.
fn ok(c: &mut Command) -> String {
    let o = run(c);
    assert!(
        o.status.success(),
        "{c:?}: {:?}\nstderr: {}",
        o.status,
        stderr(&o)
    );
    assert_eq!(stderr(&o), "", "stderr must be empty on success: {c:?}");
    stdout(&o)
}

/// Run the probe under unshare-rs with `args` and parse its report.
fn probe(args: &[&str], nobody: bool) -> Value {
    let mut c = us(args);
    c.arg("--").arg(cttest::probe());
    if nobody {
        as_nobody(&mut c);
    }
    let o = run(&mut c);
    assert_eq!(stderr(&o), "", "stderr must be empty: {args:?}");
    cttest::probe_json(&o)
}

fn host_ns(kind: &str) -> u64 {
    cttest::ns_inode(kind).expect("own namespace")
}

fn mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// A scratch directory the unprivileged user may use.
fn open_tempdir() -> cttest::TempDir {
    let d = cttest::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

fn umount(p: &Path) {
    let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
}

/// Spawn with a pipe on descriptor 3 for --json-status; returns the child
/// and the read end.
fn spawn_with_status(c: &mut Command) -> (Child, BufReader<std::fs::File>) {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let raw = w.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; runs between fork and exec.
    unsafe {
        c.pre_exec(move || place_fd(raw, 3));
    }
    let child = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    drop(w);
    (child, BufReader::new(std::fs::File::from(r)))
}

/// Put `raw` on descriptor `target` for exec (between fork and exec).
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

fn read_json_line(r: &mut BufReader<std::fs::File>) -> Value {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("status line {line:?}: {e}"))
}

/// Wait for a spawned child, killing it when it takes too long.
fn wait_child(child: &mut Child) -> std::process::ExitStatus {
    cttest::wait_until(child, Instant::now() + LIMIT).expect("child ran too long")
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: signalling a process this test started, by pid.
    unsafe { libc::kill(pid, sig) };
}

fn wait_gone(pid: i32) {
    let start = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.contains(") Z ") {
            break;
        }
        assert!(start.elapsed() < LIMIT, "process {pid} is still there");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------- the document's experiments

#[test]
fn hostname_changed_inside_is_unchanged_outside() {
    if !cttest::require_root("unshare_rs::hostname_changed_inside_is_unchanged_outside") {
        return;
    }
    let before = hostname();
    let out = ok(&mut us(&[
        "--uts",
        "--",
        "sh",
        "-c",
        "hostname ctools-uts-test && hostname",
    ]));
    assert_eq!(out, "ctools-uts-test\n");
    assert_eq!(hostname(), before);
    let j = probe(&["--hostname", "ctools-box"], false);
    assert_eq!(j["hostname"], "ctools-box");
    assert_ne!(j["ns"]["uts"], host_ns("uts"));
    assert_eq!(j["ns"]["net"], host_ns("net"));
    assert_eq!(hostname(), before);
}

#[test]
fn domainname_set_inside_is_unchanged_outside() {
    if !cttest::require_root("unshare_rs::domainname_set_inside_is_unchanged_outside") {
        return;
    }
    let before = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let out = ok(&mut us(&[
        "--domainname",
        "example.org",
        "--hostname",
        "box",
        "--",
        "cat",
        "/proc/sys/kernel/domainname",
        "/proc/sys/kernel/hostname",
    ]));
    assert_eq!(out, "example.org\nbox\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        before
    );
    let o = run(&mut us(&["--domainname", "", "true"]));
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("invalid domain name"), "{}", stderr(&o));
}

#[test]
fn each_option_makes_its_own_namespace() {
    if !cttest::require_root("unshare_rs::each_option_makes_its_own_namespace") {
        return;
    }
    let kinds = ["mnt", "uts", "ipc", "net", "pid", "user", "cgroup", "time"];
    for (flag, kind) in [
        ("-m", "mnt"),
        ("-u", "uts"),
        ("-i", "ipc"),
        ("-n", "net"),
        ("-p", "pid"),
        ("-U", "user"),
        ("-C", "cgroup"),
        ("-T", "time"),
    ] {
        let j = probe(&[flag], false);
        for k in kinds {
            if k == kind {
                assert_ne!(
                    j["ns"][k],
                    host_ns(k),
                    "{flag} must make a new {k} namespace"
                );
            } else {
                assert_eq!(
                    j["ns"][k],
                    host_ns(k),
                    "{flag} must not touch the {k} namespace"
                );
            }
        }
    }
}

#[test]
fn pid_namespace_sees_only_its_own_processes() {
    if !cttest::require_root("unshare_rs::pid_namespace_sees_only_its_own_processes") {
        return;
    }
    // With the built-in init, the init is pid 1 and the program pid 2.
    let j = probe(&["--pid", "--mount-proc"], false);
    assert_eq!(j["pid"], 2);
    assert_eq!(j["ppid"], 1);
    assert_eq!(j["pids"], serde_json::json!([1, 2]));
    // Without it, the program itself is pid 1, as with util-linux -fp.
    let j = probe(&["--fork", "--pid", "--mount-proc", "--no-init"], false);
    assert_eq!(j["pid"], 1);
    assert_eq!(j["pids"], serde_json::json!([1]));
    let out = ok(&mut us(&[
        "-p",
        "--mount-proc",
        "--no-init",
        "sh",
        "-c",
        "echo $$",
    ]));
    assert_eq!(out, "1\n");
    // The host's proc is untouched.
    assert!(Path::new(&format!("/proc/{}", std::process::id())).exists());
}

#[test]
fn new_net_namespace_has_only_loopback() {
    if !cttest::require_root("unshare_rs::new_net_namespace_has_only_loopback") {
        return;
    }
    let j = probe(&["--net"], false);
    assert_eq!(j["interfaces"], serde_json::json!(["lo"]));
    // lo is down unless --loopback (flags: IFF_UP 0x1 | IFF_LOOPBACK 0x8).
    let script = "mount -t sysfs none /sys && cat /sys/class/net/lo/flags";
    assert_eq!(ok(&mut us(&["-n", "-m", "sh", "-c", script])), "0x8\n");
    assert_eq!(
        ok(&mut us(&["--loopback", "-m", "sh", "-c", script])),
        "0x9\n"
    );
    let ping = ok(&mut us(&[
        "--loopback",
        "sh",
        "-c",
        "cat /proc/net/dev | grep -c :",
    ]));
    assert_eq!(ping, "1\n");
}

#[test]
fn tmpfs_on_tmp_is_empty_inside_and_invisible_outside() {
    if !cttest::require_root("unshare_rs::tmpfs_on_tmp_is_empty_inside_and_invisible_outside") {
        return;
    }
    let marker = format!("ctools-marker-{}", std::process::id());
    let script = format!(
        "mount -t tmpfs ctools-tmp-test /tmp && ls -A /tmp && touch /tmp/{marker} && grep -c ctools-tmp-test /proc/self/mountinfo"
    );
    let out = ok(&mut us(&["--mount", "sh", "-c", &script]));
    assert_eq!(out, "1\n", "the new /tmp must be empty and mounted inside");
    assert!(
        !mountinfo().contains("ctools-tmp-test"),
        "the mount must not reach the host"
    );
    assert!(!Path::new("/tmp").join(&marker).exists());
}

#[test]
fn propagation_modes() {
    if !cttest::require_root("unshare_rs::propagation_modes") {
        return;
    }
    let _lock = cttest::serial("mount");
    let d = cttest::tempdir().unwrap();
    let shared = d.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    let s = shared.to_str().unwrap().to_string();
    let _g = cttest::defer(|| {
        umount(&shared.join("sub"));
        umount(&shared);
    });
    assert!(
        cttest::sh(&format!(
            "mount -t tmpfs ctools-prop-host {s} && mount --make-shared {s} && mkdir {s}/sub"
        ))
        .status
        .success()
    );
    let inside = format!("mount -t tmpfs ctools-prop-inner {s}/sub");
    // Default (private): nothing reaches the host.
    ok(&mut us(&["-m", "sh", "-c", &inside]));
    assert!(!mountinfo().contains("ctools-prop-inner"));
    // -U -r: the mount namespace is less privileged; nothing propagates.
    ok(&mut us(&[
        "-U",
        "-r",
        "-m",
        "--propagation",
        "shared",
        "sh",
        "-c",
        &inside,
    ]));
    assert!(!mountinfo().contains("ctools-prop-inner"));
    // shared: it propagates back to the shared host mount.
    ok(&mut us(&[
        "-m",
        "--propagation",
        "shared",
        "sh",
        "-c",
        &inside,
    ]));
    assert!(mountinfo().contains("ctools-prop-inner"));
    umount(&shared.join("sub"));
    assert!(!mountinfo().contains("ctools-prop-inner"));
    // unchanged: the copy stays a peer of the shared host mount.
    ok(&mut us(&[
        "-m",
        "--propagation",
        "unchanged",
        "sh",
        "-c",
        &inside,
    ]));
    assert!(mountinfo().contains("ctools-prop-inner"));
    umount(&shared.join("sub"));
    // slave: host mounts come in, inner ones do not go out.
    let script = format!(
        "mount -t tmpfs ctools-prop-inner {s}/sub; echo >&3; read x; grep -c ctools-prop-late /proc/self/mountinfo"
    );
    let mut c = us(&["-m", "--propagation", "slave", "sh", "-c", &script]);
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let raw = w.as_raw_fd();
    // SAFETY: dup2 between fork and exec.
    unsafe {
        c.pre_exec(move || place_fd(raw, 3));
    }
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(w);
    let mut line = String::new();
    BufReader::new(std::fs::File::from(r))
        .read_line(&mut line)
        .unwrap();
    assert!(
        !mountinfo().contains("ctools-prop-inner"),
        "slave: nothing goes out"
    );
    let late = shared.join("late");
    std::fs::create_dir(&late).unwrap();
    let _g2 = cttest::defer(|| umount(&late));
    assert!(
        cttest::sh(&format!(
            "mount -t tmpfs ctools-prop-late {}",
            late.display()
        ))
        .status
        .success()
    );
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    }
    let st = wait_child(&mut child);
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(st.success());
    assert_eq!(out, "1\n", "slave: host mounts come in");
}

#[test]
fn sysv_ipc_objects_are_separate() {
    if !cttest::require_root("unshare_rs::sysv_ipc_objects_are_separate") {
        return;
    }
    let _lock = cttest::serial("ipc");
    let count = || {
        let o = cttest::sh("ipcs -q | grep -c '^0x' || true");
        stdout(&o).trim().parse::<u32>().unwrap()
    };
    let o = cttest::sh("ipcmk -Q");
    let text = stdout(&o);
    let id = text.trim().rsplit(' ').next().unwrap().to_string();
    let _g = cttest::defer(|| {
        let _ = Command::new("ipcrm").args(["-q", &id]).status();
    });
    let host = count();
    assert!(host >= 1);
    let script = format!(
        "ipcs -q -i {id} 2>&1 | grep -q 'not found' && echo hidden || echo visible; \
         ipcs -q | grep -c '^0x'; ipcmk -Q >/dev/null; ipcs -q | grep -c '^0x'"
    );
    let out = ok(&mut us(&["--ipc", "sh", "-c", &script]));
    assert!(
        !stderr(&cttest::sh(&format!("ipcs -q -i {id}"))).contains("not found"),
        "the host queue is there outside"
    );
    assert_eq!(
        out, "hidden\n0\n1\n",
        "a new IPC namespace starts empty and keeps its own queue"
    );
    assert_eq!(count(), host, "the inner queue must not appear on the host");
}

#[test]
fn user_namespace_root_inside_unprivileged_outside() {
    if !cttest::require_root("unshare_rs::user_namespace_root_inside_unprivileged_outside") {
        return;
    }
    let j = probe(&["--user", "--map-root-user"], true);
    assert_eq!(j["uid"], 0);
    assert_eq!(j["gid"], 0);
    assert_eq!(j["uid_map"], serde_json::json!([[0, NOBODY, 1]]));
    assert_eq!(j["setgroups"], "deny");
    let d = open_tempdir();
    let f = d.path().join("made-inside");
    let script = format!("id -u; touch {0}; stat -c %u {0}", f.display());
    let mut c = us(&["-r", "sh", "-c", &script]);
    assert_eq!(ok(as_nobody(&mut c)), "0\n0\n");
    assert_eq!(
        std::fs::metadata(&f).unwrap().uid(),
        NOBODY,
        "outside, the file is the user's"
    );
    // Without a map the user is the overflow user.
    let j = probe(&["-U"], false);
    assert_eq!(j["uid"], 65534);
    // -c maps the user to itself.
    let j = probe(&["-c"], true);
    assert_eq!(j["uid"], NOBODY);
    assert_eq!(j["uid_map"], serde_json::json!([[NOBODY, NOBODY, 1]]));
}

#[test]
fn unprivileged_user_gets_all_namespaces_through_a_user_namespace() {
    if !cttest::require_root(
        "unshare_rs::unprivileged_user_gets_all_namespaces_through_a_user_namespace",
    ) {
        return;
    }
    let j = probe(
        &[
            "-r",
            "-p",
            "--mount-proc",
            "-u",
            "-n",
            "-i",
            "-C",
            "--hostname",
            "rootless",
        ],
        true,
    );
    assert_eq!(j["pid"], 2);
    assert_eq!(j["pids"], serde_json::json!([1, 2]));
    assert_eq!(j["hostname"], "rootless");
    assert_eq!(j["interfaces"], serde_json::json!(["lo"]));
    assert_eq!(j["uid"], 0);
}

#[test]
fn map_names_from_etc_files() {
    if !cttest::require_root("unshare_rs::map_names_from_etc_files") {
        return;
    }
    // The caller (root) becomes, inside, the uid and gid that /etc/passwd
    // and /etc/group give these names (glibc's getpwnam agrees for local
    // accounts).
    let uid = nix::unistd::User::from_name("nobody").unwrap().unwrap().uid;
    let gid = nix::unistd::Group::from_name("nogroup")
        .unwrap()
        .unwrap()
        .gid;
    let j = probe(&["--map-user=nobody", "--map-group=nogroup"], false);
    assert_eq!(j["uid_map"], serde_json::json!([[uid.as_raw(), 0, 1]]));
    assert_eq!(j["gid_map"], serde_json::json!([[gid.as_raw(), 0, 1]]));
    assert_eq!(j["uid"], uid.as_raw());
}

#[test]
fn caps_and_no_new_privs_for_the_program() {
    if !cttest::require_root("unshare_rs::caps_and_no_new_privs_for_the_program") {
        return;
    }
    // Creating: --cap-add applies after --cap-drop (chown is bit 0, kill bit 5).
    let j = probe(
        &[
            "-p",
            "--no-new-privs",
            "--cap-drop=ALL",
            "--cap-add=kill",
            "--cap-add=CAP_CHOWN",
        ],
        false,
    );
    assert_eq!(j["status"]["CapBnd"], "0000000000000021", "{j}");
    assert_eq!(j["status"]["CapEff"], "0000000000000021", "{j}");
    assert_eq!(j["status"]["NoNewPrivs"], "1");
    // Joining (as contain exec does): the set is applied after entering.
    let bnd = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    let me = std::process::id().to_string();
    let j = probe(
        &[
            "--target",
            &me,
            "-u",
            "--no-new-privs",
            "--cap-drop=sys_admin",
        ],
        false,
    );
    assert_eq!(
        j["status"]["CapBnd"],
        format!("{:016x}", bnd & !(1 << 21)),
        "{j}"
    );
    assert_eq!(j["status"]["NoNewPrivs"], "1");
    // Without them nothing changes.
    let j = probe(&["-u"], false);
    assert_eq!(j["status"]["CapBnd"], format!("{bnd:016x}"));
    assert_eq!(j["status"]["NoNewPrivs"], "0");
}

#[test]
fn multi_range_maps_as_root() {
    if !cttest::require_root("unshare_rs::multi_range_maps_as_root") {
        return;
    }
    let j = probe(
        &[
            "--map-users=0:100000:65536",
            "--map-groups=100000,0,65536",
            "-S",
            "1000",
            "-G",
            "1000",
        ],
        false,
    );
    assert_eq!(j["uid_map"], serde_json::json!([[0, 100_000, 65536]]));
    assert_eq!(j["gid_map"], serde_json::json!([[0, 100_000, 65536]]));
    assert_eq!(j["setgroups"], "allow");
    assert_eq!(j["uid"], 1000);
    assert_eq!(j["gid"], 1000);
    assert_eq!(j["groups"], serde_json::json!([]));
    // --map-user together with a range punches the single ID out of it.
    let j = probe(&["--map-user=0", "--map-users=0:100000:10"], false);
    assert_eq!(
        j["uid_map"],
        serde_json::json!([[0, 0, 1], [1, 100_001, 9]])
    );
}

#[test]
fn time_namespace_offsets() {
    if !cttest::require_root("unshare_rs::time_namespace_offsets") {
        return;
    }
    let out = ok(&mut us(&[
        "-T",
        "--boottime",
        "1000000",
        "cat",
        "/proc/uptime",
    ]));
    let up: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(up > 1_000_000.0, "uptime {up}");
    let out = ok(&mut us(&[
        "-T",
        "--monotonic=-0",
        "--boottime",
        "5",
        "true",
    ]));
    assert_eq!(out, "");
}

#[test]
fn root_and_working_directory() {
    if !cttest::require_root("unshare_rs::root_and_working_directory") {
        return;
    }
    assert_eq!(ok(&mut us(&["-R", "/", "-w", "/tmp", "pwd"])), "/tmp\n");
    assert_eq!(ok(&mut us(&["-w", "/usr", "pwd"])), "/usr\n");
    assert_eq!(
        ok(&mut us(&["-R", "/usr", "sh", "-c", "test -d /bin && pwd"])),
        "/\n"
    );
}

#[test]
fn mount_proc_lands_inside_the_new_root() {
    if !cttest::require_root("unshare_rs::mount_proc_lands_inside_the_new_root") {
        return;
    }
    let Some(busybox) = ctcore::exec::which("busybox".as_ref()) else {
        assert!(
            cttest::require(
                "unshare_rs::mount_proc_lands_inside_the_new_root",
                false,
                "needs busybox (busybox-static)"
            ),
            "unreachable"
        );
        return;
    };
    let d = cttest::tempdir().unwrap();
    let root = d.path();
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("proc")).unwrap();
    std::fs::copy(&busybox, root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    let r = root.to_str().unwrap();
    let out = ok(&mut us(&[
        "-p",
        "-R",
        r,
        "--mount-proc",
        "/bin/sh",
        "-c",
        "echo /proc/[0-9]*; pwd",
    ]));
    assert_eq!(out, "/proc/1 /proc/2\n/\n", "init and sh, in the new root");
    assert!(
        !mountinfo().contains(r),
        "the proc mount stays in the new mount namespace"
    );
}

#[test]
fn ro_bind_seals_a_path_in_the_new_mount_namespace_alone() {
    if !cttest::require_root("unshare_rs::ro_bind_seals_a_path_in_the_new_mount_namespace_alone") {
        return;
    }
    let d = cttest::tempdir().unwrap();
    let f = d.path().join("runtime");
    std::fs::write(&f, "#!/bin/sh\necho sealed\n").unwrap();
    std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let p = f.to_str().unwrap();
    // inside: the bind is read-only, nosuid and nodev, and still runs; a write fails
    let out = ok(&mut us(&[
        "--ro-bind",
        p,
        "sh",
        "-c",
        &format!(
            "grep -F ' {p} ' /proc/self/mountinfo | cut -d' ' -f6; {p}; \
             (echo x >> {p}) 2>/dev/null && echo written || echo refused"
        ),
    ]));
    let lines: Vec<&str> = out.lines().collect();
    let opts: Vec<&str> = lines[0].split(',').collect();
    for o in ["ro", "nosuid", "nodev"] {
        assert!(opts.contains(&o), "the bind's options {opts:?} lack {o}");
    }
    assert_eq!(lines[1..], ["sealed", "refused"]);
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "#!/bin/sh\necho sealed\n"
    );
    // outside: nothing of it, and the file is writable as before
    assert!(
        !mountinfo().contains(p),
        "the bind stays in the new namespace"
    );
    std::fs::write(&f, "ok").unwrap();
    // a missing path: 125, one line
    let o = run(&mut us(&["--ro-bind", &format!("{p}.none"), "true"]));
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn keep_caps_raises_ambient_capabilities() {
    if !cttest::require_root("unshare_rs::keep_caps_raises_ambient_capabilities") {
        return;
    }
    let j = probe(&["-r", "--keep-caps"], true);
    let amb = j["status"]["CapAmb"]
        .as_str()
        .unwrap_or("0")
        .trim()
        .to_string();
    assert_ne!(amb.trim_start_matches('0'), "", "CapAmb {amb}");
    let j = probe(&["-r"], true);
    assert_eq!(
        j["status"]["CapAmb"]
            .as_str()
            .unwrap()
            .trim_start_matches('0'),
        ""
    );
}

// ---------------------------------------------------------------- persistence and join

#[test]
fn persisted_namespaces_are_joined_by_file() {
    if !cttest::require_root("unshare_rs::persisted_namespaces_are_joined_by_file") {
        return;
    }
    let _lock = cttest::serial("mount");
    let d = cttest::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    let names = ["uts", "net", "ipc", "mnt", "cgroup", "time"];
    let _g = cttest::defer(|| {
        for n in names {
            umount(&dir.join(n));
        }
    });
    let file = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let opts: Vec<String> = [
        ("uts", "--uts"),
        ("net", "--net"),
        ("ipc", "--ipc"),
        ("mnt", "--mount"),
        ("cgroup", "--cgroup"),
        ("time", "--time"),
    ]
    .iter()
    .map(|(n, o)| format!("{o}={}", file(n)))
    .collect();
    let mut args: Vec<&str> = opts.iter().map(String::as_str).collect();
    args.extend([
        "--hostname",
        "persisted",
        "--",
        "sh",
        "-c",
        "mount -t tmpfs ctools-persist /mnt",
    ]);
    ok(&mut us(&args));
    let mi = mountinfo();
    for n in names {
        assert!(
            mi.contains(&format!(" {} ", file(n))),
            "{n} is not bind mounted"
        );
    }
    assert_eq!(
        ok(&mut us(&[
            "--join",
            &format!("--uts={}", file("uts")),
            "hostname"
        ])),
        "persisted\n"
    );
    let j = probe(&["--join", &format!("--net={}", file("net"))], false);
    assert_eq!(j["interfaces"], serde_json::json!(["lo"]));
    assert_eq!(
        j["ns"]["net"],
        std::fs::metadata(file("net")).unwrap().ino(),
        "the joined namespace is the persisted one"
    );
    // The mount namespace kept its tmpfs.
    let out = ok(&mut us(&[
        "--join",
        &format!("--mount={}", file("mnt")),
        "grep",
        "-c",
        "ctools-persist",
        "/proc/self/mountinfo",
    ]));
    assert_eq!(out, "1\n");
    assert!(!mi.contains("ctools-persist"));
}

#[test]
fn persist_on_a_shared_mount_is_diagnosed_and_leaves_nothing() {
    if !cttest::require_root(
        "unshare_rs::persist_on_a_shared_mount_is_diagnosed_and_leaves_nothing",
    ) {
        return;
    }
    let _lock = cttest::serial("mount");
    let d = cttest::tempdir().unwrap();
    let s = d.path().to_str().unwrap().to_string();
    let dir = d.path().to_path_buf();
    let _g = cttest::defer(|| {
        umount(&dir.join("mnt"));
        umount(&dir);
    });
    assert!(
        cttest::sh(&format!(
            "mount -t tmpfs ctools-shared {s} && mount --make-shared {s}"
        ))
        .status
        .success()
    );
    let before = mountinfo().lines().count();
    // The new mount namespace is a peer of the shared mount until its
    // propagation changes, so the mount namespace file would propagate into
    // itself: the kernel refuses (util-linux fails so by default).
    let o = run(&mut us(&[
        &format!("--mount={s}/mnt"),
        "--propagation",
        "unchanged",
        "true",
    ]));
    assert_eq!(o.status.code(), Some(125));
    let e = stderr(&o);
    assert!(e.starts_with("unshare-rs: mount /proc/"), "{e}");
    assert!(
        e.contains("Invalid argument") && e.contains("shared mount"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
    assert!(
        !dir.join("mnt").exists(),
        "the file it created must be removed"
    );
    assert_eq!(
        mountinfo().lines().count(),
        before,
        "no mount may be left behind"
    );
}

#[test]
fn join_a_running_namespace_set_by_pid() {
    if !cttest::require_root("unshare_rs::join_a_running_namespace_set_by_pid") {
        return;
    }
    let mut c = us(&[
        "-p",
        "-m",
        "-u",
        "-i",
        "--mount-proc",
        "--hostname",
        "target",
        "--json-status",
        "3",
        "--",
        "sleep",
        "60",
    ]);
    c.current_dir("/usr")
        .env("CTOOLS_TARGET_ONLY", "from the target");
    let (mut child, mut status) = spawn_with_status(&mut c);
    let ppid = i32::try_from(child.id()).unwrap();
    let _g = cttest::defer(move || kill(ppid, libc::SIGKILL));
    let start = read_json_line(&mut status);
    let pid = start["child-pid"].as_i64().unwrap();
    let p = pid.to_string();
    // Wait until the init has forked sleep.
    let t0 = Instant::now();
    while std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .trim()
        .is_empty()
    {
        assert!(t0.elapsed() < LIMIT);
        std::thread::sleep(Duration::from_millis(20));
    }
    let j = probe(&["--target", &p, "--all"], false);
    assert_eq!(j["hostname"], "target");
    for k in ["mnt", "uts", "ipc", "pid"] {
        assert_eq!(j["ns"][k], start[format!("{k}-namespace")], "{k}");
        assert_ne!(j["ns"][k], host_ns(k));
    }
    assert_eq!(j["ns"]["net"], host_ns("net"));
    // It forked to enter the PID namespace: init, sleep and the probe.
    assert_eq!(j["pids"].as_array().unwrap().len(), 3, "{}", j["pids"]);
    assert_eq!(ok(&mut us(&["-t", &p, "-u", "hostname"])), "target\n");
    assert_eq!(
        ok(&mut us(&["-t", &p, "-m", "-r", "-w", "--", "pwd"])),
        "/usr\n"
    );
    // -W: a directory of the joined root, after joining; -w's exclusion.
    assert_eq!(
        ok(&mut us(&["-t", &p, "-m", "-r", "-W", "/etc", "--", "pwd"])),
        "/etc\n"
    );
    let o = run(&mut us(&[
        "-t", &p, "-m", "-r", "-W", "/no/such", "--", "pwd",
    ]));
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        stderr(&o),
        "unshare-rs: cannot change directory to /no/such: No such file or directory\n"
    );
    let o = run(&mut us(&["-t", &p, "-m", "-w", "-W", "/etc", "--", "pwd"]));
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        stderr(&o),
        "unshare-rs: --wd and --wdns are mutually exclusive\n"
    );
    // -e: the target's environment, not the caller's, also for the PATH lookup.
    let mut c = us(&["-t", &p, "-m", "-r", "-e", "--", "env"]);
    c.env("CTOOLS_CALLER_ONLY", "1");
    let env = ok(&mut c);
    assert!(
        env.lines()
            .any(|l| l == "CTOOLS_TARGET_ONLY=from the target"),
        "{env}"
    );
    assert!(!env.contains("CTOOLS_CALLER_ONLY"), "{env}");
    let mut c = us(&["-t", &p, "-m", "-r", "-e", "--", "env"]);
    c.env("PATH", "/nonexistent");
    assert!(ok(&mut c).contains("CTOOLS_TARGET_ONLY="));
    // The status of the target: SIGTERM to unshare-rs reaches sleep.
    kill(ppid, libc::SIGTERM);
    let st = wait_child(&mut child);
    assert_eq!(st.signal(), Some(libc::SIGTERM));
    let end = read_json_line(&mut status);
    assert_eq!(end, serde_json::json!({"exit-code": 143, "signal": 15}));
}

#[test]
fn unprivileged_join_enters_the_user_namespace_first() {
    if !cttest::require_root("unshare_rs::unprivileged_join_enters_the_user_namespace_first") {
        return;
    }
    let mut c = us(&["-r", "--hostname", "rootless-target", "sleep", "60"]);
    as_nobody(&mut c);
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let _g = cttest::defer(move || kill(pid, libc::SIGKILL));
    // Wait until it has unshared (its uts namespace differs from ours).
    let start = Instant::now();
    while cttest::ns_inode("uts")
        == std::fs::metadata(format!("/proc/{pid}/ns/uts"))
            .ok()
            .map(|m| m.ino())
    {
        assert!(start.elapsed() < LIMIT);
        std::thread::sleep(Duration::from_millis(20));
    }
    while std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        != "sleep"
    {
        assert!(start.elapsed() < LIMIT);
        std::thread::sleep(Duration::from_millis(20));
    }
    let p = pid.to_string();
    let mut c = us(&["-t", &p, "-U", "-u", "sh", "-c", "hostname; id -u"]);
    assert_eq!(ok(as_nobody(&mut c)), "rootless-target\n0\n");
    let mut c = us(&[
        "-t",
        &p,
        "-a",
        "--preserve-credentials",
        "sh",
        "-c",
        "hostname; id -u",
    ]);
    assert_eq!(ok(as_nobody(&mut c)), "rootless-target\n0\n");
    // Without the user namespace, the uts namespace is out of reach.
    let mut c = us(&["-t", &p, "-u", "hostname"]);
    let o = run(as_nobody(&mut c));
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).starts_with(
            "unshare-rs: reassociate to namespace 'ns/uts' failed: Operation not permitted"
        ),
        "{}",
        stderr(&o)
    );
    kill(pid, libc::SIGKILL);
    let _ = wait_child(&mut child);
}

// ---------------------------------------------------------------- init, signals, statuses

#[test]
fn init_reaps_orphans() {
    if !cttest::require_root("unshare_rs::init_reaps_orphans") {
        return;
    }
    // An orphan that exits is reparented to pid 1; if pid 1 did not reap
    // it, it would stay a zombie and the loop would never end.
    let script = "sh -c 'sleep 0.1 & echo $! > /tmp/orphan' ; o=$(cat /tmp/orphan); \
                  while [ -e /proc/$o ] && ! grep -q ') Z ' /proc/$o/stat 2>/dev/null; do sleep 0.05; done; \
                  while [ -e /proc/$o ]; do sleep 0.05; done; echo reaped";
    let out = ok(&mut us(&[
        "-p",
        "--mount-proc",
        "-m",
        "sh",
        "-c",
        &format!("mount -t tmpfs t /tmp; {script}"),
    ]));
    assert_eq!(out, "reaped\n");
}

#[test]
fn signals_are_forwarded_to_the_program() {
    if !cttest::require_root("unshare_rs::signals_are_forwarded_to_the_program") {
        return;
    }
    for (sig, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGINT, "INT"),
        (libc::SIGHUP, "HUP"),
        (libc::SIGQUIT, "QUIT"),
        (libc::SIGUSR1, "USR1"),
        (libc::SIGUSR2, "USR2"),
        (libc::SIGWINCH, "WINCH"),
    ] {
        for to_init in [false, true] {
            let script =
                format!("trap 'exit 42' {name}; echo ready >&3; while :; do sleep 0.05; done");
            let mut c = us(&["-p", "--json-status", "4", "sh", "-c", &script]);
            // The program reports readiness on 3 (a second pipe would do as
            // well; here the status descriptor and 3 are the same pipe).
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
            let raw = w.as_raw_fd();
            // SAFETY: dup2 between fork and exec.
            unsafe {
                c.pre_exec(move || {
                    place_fd(raw, 3)?;
                    place_fd(3, 4)
                });
            }
            let mut child = c
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            drop(w);
            let ppid = i32::try_from(child.id()).unwrap();
            let _g = cttest::defer(move || kill(ppid, libc::SIGKILL));
            let mut reader = BufReader::new(std::fs::File::from(r));
            let start = read_json_line(&mut reader);
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert_eq!(line, "ready\n");
            let target = if to_init {
                i32::try_from(start["child-pid"].as_i64().unwrap()).unwrap()
            } else {
                ppid
            };
            kill(target, sig);
            let st = wait_child(&mut child);
            assert_eq!(
                st.code(),
                Some(42),
                "{name} sent to {}",
                if to_init { "init" } else { "unshare-rs" }
            );
        }
    }
}

#[test]
fn exit_statuses_and_signal_reraise() {
    if !cttest::require_root("unshare_rs::exit_statuses_and_signal_reraise") {
        return;
    }
    let code = |args: &[&str]| run(&mut us(args)).status;
    assert_eq!(code(&["-p", "sh", "-c", "exit 3"]).code(), Some(3));
    assert_eq!(code(&["-f", "-u", "sh", "-c", "exit 4"]).code(), Some(4));
    assert_eq!(code(&["-u", "sh", "-c", "exit 5"]).code(), Some(5));
    assert_eq!(
        code(&["-p", "sh", "-c", "kill -KILL $$"]).signal(),
        Some(libc::SIGKILL)
    );
    assert_eq!(
        code(&["-p", "--no-init", "sh", "-c", "exit 7"]).code(),
        Some(7)
    );
    assert_eq!(
        code(&["-f", "sh", "-c", "kill -TERM $$"]).signal(),
        Some(libc::SIGTERM)
    );
    let o = run(&mut us(&["-u", "no-such-program-ctools"]));
    assert_eq!(o.status.code(), Some(127));
    assert_eq!(
        stderr(&o),
        "unshare-rs: cannot execute 'no-such-program-ctools': No such file or directory\n"
    );
    // The init's spawn reports the exec error the same way.
    let o = run(&mut us(&["-p", "no-such-program-ctools"]));
    assert_eq!(o.status.code(), Some(127));
    assert_eq!(
        stderr(&o),
        "unshare-rs: cannot execute 'no-such-program-ctools': No such file or directory\n"
    );
    assert_eq!(code(&["-p", "/etc/passwd"]).code(), Some(126));
    // The init shares its parent's memory: many starts through the
    // handshake (status descriptor, a /proc mount) end cleanly.
    for i in 0..40 {
        let o = run(&mut us(&[
            "-p",
            "--mount-proc",
            "--json-status",
            "1",
            "sh",
            "-c",
            &format!("exit {}", i % 7),
        ]));
        assert_eq!(o.status.code(), Some(i % 7), "{}", stderr(&o));
        assert_eq!(stderr(&o), "");
        let last = stdout(&o).lines().last().unwrap_or_default().to_string();
        assert_eq!(last, format!("{{\"exit-code\":{}}}", i % 7));
    }
    assert_eq!(code(&["-u", "/etc/passwd"]).code(), Some(126));
    // What a shell sees.
    let o = cttest::sh(&format!(
        "{} -p sh -c 'kill -9 $$'; echo $?",
        bin().display()
    ));
    assert_eq!(stdout(&o), "137\n");
}

#[test]
fn kill_child_when_the_parent_dies() {
    if !cttest::require_root("unshare_rs::kill_child_when_the_parent_dies") {
        return;
    }
    let mut c = us(&["--kill-child", "-u", "--json-status", "3", "sleep", "60"]);
    let (mut child, mut status) = spawn_with_status(&mut c);
    let ppid = i32::try_from(child.id()).unwrap();
    let start = read_json_line(&mut status);
    let pid = i32::try_from(start["child-pid"].as_i64().unwrap()).unwrap();
    let _g = cttest::defer(move || kill(pid, libc::SIGKILL));
    kill(ppid, libc::SIGKILL);
    let _ = wait_child(&mut child);
    wait_gone(pid);
}

#[test]
fn json_status_reports_pid_namespaces_and_exit() {
    if !cttest::require_root("unshare_rs::json_status_reports_pid_namespaces_and_exit") {
        return;
    }
    let mut c = us(&["-p", "-n", "-u", "--json-status", "3", "sh", "-c", "exit 6"]);
    let (mut child, mut status) = spawn_with_status(&mut c);
    let start = read_json_line(&mut status);
    let end = read_json_line(&mut status);
    assert_eq!(wait_child(&mut child).code(), Some(6));
    assert!(start["child-pid"].as_i64().unwrap() > 1);
    for k in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
        let v = &start[format!("{k}-namespace")];
        assert!(v.is_u64(), "{k}: {start}");
        if ["net", "pid", "uts"].contains(&k) {
            assert_ne!(*v, host_ns(k));
        } else {
            assert_eq!(*v, host_ns(k));
        }
    }
    assert_eq!(end, serde_json::json!({"exit-code": 6}));
}

// ---------------------------------------------------------------- errors and diagnostics

#[test]
fn bad_options_give_their_message_and_leave_no_mount() {
    if !cttest::require_root("unshare_rs::bad_options_give_their_message_and_leave_no_mount") {
        return;
    }
    let _lock = cttest::serial("mount");
    let before = mountinfo().lines().count();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--monotonic", "5", "true"],
            "options --monotonic and --boottime require unsharing of a time namespace (-T)",
        ),
        (
            &["--propagation", "bogus", "-m", "true"],
            "invalid value 'bogus'",
        ),
        (
            &["--setgroups", "maybe", "-U", "true"],
            "invalid value 'maybe'",
        ),
        (
            &["-r", "--setgroups", "allow", "true"],
            "options --setgroups=allow and --map-group are mutually exclusive",
        ),
        (&["--kill-child=FOO", "true"], "unknown signal: FOO"),
        (&["--map-users", "1:2", "true"], "invalid mapping '1:2'"),
        (&["--map-users=auto", "true"], "no line matching user"),
        (
            &["-R", "/nonexistent-ctools", "true"],
            "cannot change root directory to '/nonexistent-ctools': No such file or directory",
        ),
        (
            &["-w", "/nonexistent-ctools", "true"],
            "cannot change directory to /nonexistent-ctools: No such file or directory",
        ),
        (
            &["-p", "-w", "/nonexistent-ctools", "true"],
            "cannot change directory to /nonexistent-ctools",
        ),
        (&["--bogus"], "unexpected argument '--bogus'"),
        (
            &["--mount-proc=/nonexistent-ctools", "true"],
            "mount proc on /nonexistent-ctools failed: No such file or directory",
        ),
        (
            &["--net=/nonexistent-ctools/x", "true"],
            "cannot create /nonexistent-ctools/x: No such file or directory",
        ),
        (
            &["-t", "999999999", "-a", "true"],
            "cannot open /proc/999999999: No such process",
        ),
        (&["--all", "true"], "option --all needs --target PID"),
        (&["--join", "true"], "no namespace specified"),
        (
            &["--join", "-n", "true"],
            "neither filename nor target pid supplied for ns/net",
        ),
        (
            &["-t", "1", "--hostname", "x", "true"],
            "cannot be used with --target",
        ),
        (
            &["--json-status", "987", "true"],
            "status descriptor 987: Bad file descriptor",
        ),
        (&["-S", "nobody", "true"], "invalid uid argument: 'nobody'"),
        // Names come from /etc/passwd and /etc/group (a static binary must
        // not reach NSS modules): one that is not there is an error.
        (
            &["--map-group", "no-such-group-zz", "true"],
            "unknown group 'no-such-group-zz'",
        ),
        (
            &["--map-user", "no-such-user-zz", "true"],
            "unknown user 'no-such-user-zz'",
        ),
        (
            &["-u", "--cap-drop=bogus", "true"],
            "unknown capability 'bogus'",
        ),
        (
            &["-t", "1", "-u", "--cap-add=nope", "true"],
            "unknown capability 'nope'",
        ),
        (
            &["-u", "--tty", "true"],
            "--no-fork, --tty, --env and --join-cgroup need --target",
        ),
        (
            &["-u", "-e", "true"],
            "--env and --join-cgroup need --target",
        ),
        (
            &["-u", "-W", "/", "true"],
            "option --wdns needs --target or --join",
        ),
        (&["--join", "-e", "true"], "option --env needs --target PID"),
        (
            &["--join", "--join-cgroup", "-n=/proc/1/ns/net", "true"],
            "option --join-cgroup needs --target PID",
        ),
        (
            &["-u", "--join-cgroup", "true"],
            "--env and --join-cgroup need --target",
        ),
        (&["--hostname", "", "true"], "invalid host name"),
        (
            &["--join", "--net=/etc/passwd", "true"],
            "reassociate to namespace 'ns/net' failed: Invalid argument: not a namespace file",
        ),
    ];
    for (args, want) in cases {
        let o = run(&mut us(args));
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {e}");
        assert!(e.starts_with("unshare-rs: "), "{args:?}: {e}");
        assert!(e.contains(want), "{args:?}: {e:?} lacks {want:?}");
        assert_eq!(e.lines().count(), 1, "{args:?}: one line: {e}");
        assert_eq!(stdout(&o), "");
    }
    assert_eq!(
        mountinfo().lines().count(),
        before,
        "no mount may be left behind"
    );
}

#[test]
fn missing_privilege_is_diagnosed() {
    if !cttest::require_root("unshare_rs::missing_privilege_is_diagnosed") {
        return;
    }
    for args in [&["-n", "true"][..], &["-m", "true"], &["-p", "true"]] {
        let mut c = us(args);
        let o = run(as_nobody(&mut c));
        assert_eq!(o.status.code(), Some(125));
        assert_eq!(
            stderr(&o),
            "unshare-rs: unshare failed: Operation not permitted: creating namespaces needs CAP_SYS_ADMIN: \
             run as root, or add --map-root-user for a user namespace\n"
        );
    }
    // Persisting needs privilege in the original namespaces.
    let d = open_tempdir();
    let f = d.path().join("uts");
    let mut c = us(&["-r", &format!("--uts={}", f.display()), "true"]);
    let o = run(as_nobody(&mut c));
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("Operation not permitted"),
        "{}",
        stderr(&o)
    );
    assert!(!f.exists());
    // Joining a namespace without privilege over it.
    let mut c = us(&["-t", "1", "-n", "true"]);
    let o = run(as_nobody(&mut c));
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        stderr(&o),
        "unshare-rs: cannot open /proc/1/ns/net: Permission denied\n"
    );
}

#[test]
fn disabled_user_namespaces_name_the_sysctl() {
    if !cttest::require_root("unshare_rs::disabled_user_namespaces_name_the_sysctl") {
        return;
    }
    // user.max_user_namespaces is per user namespace: set it to 0 inside
    // one (the host's stays as it is), then try to nest another.
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces && exec {} -U true",
        bin().display()
    );
    let o = run(&mut us(&["-U", "-r", "sh", "-c", &script]));
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "unshare-rs: unshare failed: No space left on device: user namespaces are disabled (sysctl user.max_user_namespaces = 0)\n"
    );
}

#[test]
fn masked_proc_refuses_mount_proc() {
    if !cttest::require_root("unshare_rs::masked_proc_refuses_mount_proc") {
        return;
    }
    // Mask a file of /proc in a private mount namespace (as container
    // runtimes do), then ask for a new proc from a user namespace.
    let script = format!(
        "mount --bind /dev/null /proc/meminfo && exec {} -U -r -p --mount-proc true",
        bin().display()
    );
    let o = run(&mut us(&["-m", "sh", "-c", &script]));
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.starts_with("unshare-rs: mount proc on /proc failed: Operation not permitted: /proc is masked here (/proc/meminfo)"), "{e}");
    // A user namespace that does not own the PID namespace.
    let mut c = us(&["-r", "--mount-proc", "true"]);
    let o = run(as_nobody(&mut c));
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("add --pid"), "{}", stderr(&o));
}

#[test]
fn default_shell_when_no_program() {
    if !cttest::require_root("unshare_rs::default_shell_when_no_program") {
        return;
    }
    let mut c = us(&["-u"]);
    c.env("SHELL", "/bin/sh");
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        i.write_all(b"echo \"$0\"; exit 9\n").unwrap();
    }
    let st = wait_child(&mut child);
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(out, "-sh\n");
    assert_eq!(st.code(), Some(9));
}

#[test]
fn subordinate_ranges_through_newuidmap() {
    if !cttest::require_root("unshare_rs::subordinate_ranges_through_newuidmap") {
        return;
    }
    if !cttest::require(
        "unshare_rs::subordinate_ranges_through_newuidmap",
        Path::new("/usr/bin/newuidmap").exists(),
        "needs newuidmap/newgidmap (the uidmap package)",
    ) {
        return;
    }
    let _lock = cttest::serial("users");
    let name = format!("ctus{}", std::process::id() % 100_000);
    let st = Command::new("useradd")
        .args([
            "-M",
            "-s",
            "/bin/sh",
            "-K",
            "SUB_UID_COUNT=65536",
            "-K",
            "SUB_GID_COUNT=65536",
            &name,
        ])
        .status()
        .unwrap();
    assert!(st.success(), "useradd {name}");
    let n = name.clone();
    let _g = cttest::defer(move || {
        let _ = Command::new("userdel").arg(&n).status();
    });
    let user = nix::unistd::User::from_name(&name).unwrap().unwrap();
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap();
    let line = subuid
        .lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .expect("useradd gave the user a subordinate range");
    let start: u64 = line.split(':').nth(1).unwrap().parse().unwrap();
    let mut c = us(&["--map-auto", "--map-root-user", "--"]);
    c.arg(cttest::probe())
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .current_dir("/");
    let o = run(&mut c);
    assert_eq!(stderr(&o), "");
    let j = cttest::probe_json(&o);
    let uid = u64::from(user.uid.as_raw());
    assert_eq!(
        j["uid_map"],
        serde_json::json!([[0, uid, 1], [1, start + 1, 65535]]),
        "the user is root inside and the subordinate range maps the rest"
    );
    assert_eq!(j["uid"], 0);
    // Without --map-root-user, the range maps to 0.
    let mut c = us(&["--map-users=auto", "--map-groups=auto", "--"]);
    c.arg(cttest::probe())
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .current_dir("/");
    let j = cttest::probe_json(&run(&mut c));
    assert_eq!(j["uid_map"], serde_json::json!([[0, start, 65536]]));
    assert_eq!(j["setgroups"], "allow");
}

#[test]
fn called_as_nsenter() {
    if !cttest::require_root("unshare_rs::called_as_nsenter") {
        return;
    }
    let d = cttest::tempdir().unwrap();
    let link = d.path().join("nsenter");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    let mut child = us(&["--hostname", "entered", "sleep", "60"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let _g = cttest::defer(move || kill(pid, libc::SIGKILL));
    let t0 = Instant::now();
    while std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        != "sleep"
    {
        assert!(t0.elapsed() < LIMIT);
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = ok(Command::new(&link).args(["-t", &pid.to_string(), "-u", "hostname"]));
    assert_eq!(out, "entered\n");
    kill(pid, libc::SIGKILL);
    let _ = wait_child(&mut child);
}

#[test]
fn owner_makes_the_user_namespace_theirs() {
    if !cttest::require_root("unshare_rs::owner_makes_the_user_namespace_theirs") {
        return;
    }
    // Root makes a user namespace on behalf of nobody: nobody owns it, root inside maps
    // to nobody outside.
    let mut c = us(&["--owner", "65534:65534", "-U", "-r", "--", "sleep", "60"]);
    let mut child = c.stdout(Stdio::null()).spawn().unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let _g = cttest::defer(move || kill(pid, libc::SIGKILL));
    let own = std::fs::metadata("/proc/self/ns/user").unwrap().ino();
    let ns = format!("/proc/{pid}/ns/user");
    let t0 = Instant::now();
    while std::fs::metadata(&ns).map(|m| m.ino()).ok() == Some(own)
        || std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default() != "sleep\n"
    {
        assert!(t0.elapsed() < LIMIT, "no new user namespace");
        std::thread::sleep(Duration::from_millis(10));
    }
    let f = std::fs::File::open(&ns).unwrap();
    let mut owner: libc::uid_t = u32::MAX;
    // NS_GET_OWNER_UID = _IO(0xb7, 0x4)
    // SAFETY: the ioctl writes one uid_t to the pointer.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), 0xb704, &mut owner) };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    assert_eq!(owner, 65534, "the namespace's owner");
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(
        map.split_whitespace().collect::<Vec<_>>(),
        ["0", "65534", "1"]
    );
    kill(pid, libc::SIGKILL);
    assert_eq!(wait_child(&mut child).signal(), Some(libc::SIGKILL));
    // A name gives its login group; multi-range maps still come from root's helper.
    assert_eq!(
        ok(&mut us(&[
            "--owner",
            "nobody",
            "-U",
            "--map-current-user",
            "--",
            "id",
            "-u"
        ])),
        "65534\n"
    );
    let out = ok(&mut us(&[
        "--owner",
        "65534:65534",
        "-U",
        "--map-users",
        "0:100000:65536",
        "--map-groups",
        "0:100000:65536",
        "--",
        "cat",
        "/proc/self/uid_map",
    ]));
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    // The refusals: one line, 125.
    let cases: [(&[&str], bool, &str); 3] = [
        (
            &["--owner", "65534:65534", "-u", "true"],
            false,
            "option --owner needs a new user namespace",
        ),
        (
            &["--owner", "65534", "-U", "true"],
            false,
            "invalid --owner argument: '65534'",
        ),
        (
            &["--owner", "0:0", "-U", "-r", "true"],
            true,
            "setgroups failed: Operation not permitted: --owner needs root",
        ),
    ];
    for (args, nobody, want) in cases {
        let mut c = us(args);
        if nobody {
            as_nobody(&mut c);
        }
        let o = run(&mut c);
        assert_eq!(o.status.code(), Some(125), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains(want), "{args:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}
