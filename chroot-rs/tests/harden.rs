//! chroot-rs's hardening for real, as root: seccomp profiles (Docker's
//! default, a custom one, unconfined; with and without no_new_privs), the
//! caller's descriptors, the session keyring, `--device` nodes against
//! planted symbolic links, `--init` as pid 1, the classic chroot escape in
//! chroot mode, and the protection of chroot-rs's own binary (its mount
//! sealed before pivot_root, or the read-only re-exec of --init).

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cttest::{minroot, ok, text};

const TOOLS: &[&str] = &[
    "bash", "ls", "cat", "id", "head", "wc", "sort", "mkdir", "rm", "cp", "date", "sleep", "grep",
    "readlink", "tr",
];

fn chroot_rs() -> PathBuf {
    cttest::bin("chroot-rs")
}

fn run(cmd: &mut Command) -> Output {
    cttest::run_with_timeout(cmd, Duration::from_secs(120))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn gate(name: &str) -> bool {
    cttest::require_root(name)
        && cttest::require(
            name,
            Command::new("unshare").arg("--version").output().is_ok(),
            "needs util-linux unshare",
        )
        && cttest::require(
            name,
            Command::new("cc").arg("--version").output().is_ok(),
            "needs cc for the static test helper",
        )
}

/// `unshare --mount --pid --fork -- chroot-rs ARGS...`
fn in_ns(args: &[&str]) -> Output {
    run(Command::new("unshare")
        .args(["--mount", "--pid", "--fork", "--"])
        .arg(chroot_rs())
        .args(args))
}

/// The static helper: `helper CALL...` makes each system call and prints
/// `CALL ok` or `CALL errno=N`; `helper keyring` prints the session
/// keyring's serial number.
const HELPER_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static long call(const char *n) {
    if (!strcmp(n, "keyctl")) return syscall(SYS_keyctl, 0, -3, 0);
    if (!strcmp(n, "add_key")) return syscall(SYS_add_key, "user", "ctools-test", "x", 1, -3);
    if (!strcmp(n, "unshare_user")) return syscall(SYS_unshare, CLONE_NEWUSER);
    if (!strcmp(n, "open_by_handle_at")) {
        struct { unsigned int bytes; int type; unsigned char h[8]; } fh = { 8, 1, {0} };
        return syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY);
    }
    if (!strcmp(n, "perf_event_open")) {
        struct perf_event_attr a; memset(&a, 0, sizeof a);
        a.type = PERF_TYPE_SOFTWARE; a.size = sizeof a; a.config = PERF_COUNT_SW_CPU_CLOCK;
        a.exclude_kernel = 1;
        return syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
    }
    if (!strcmp(n, "userfaultfd")) return syscall(SYS_userfaultfd, O_CLOEXEC);
    if (!strcmp(n, "io_uring_setup")) {
        unsigned char p[120]; memset(p, 0, sizeof p);
        return syscall(SYS_io_uring_setup, 1, p);
    }
    if (!strcmp(n, "kexec_load")) return syscall(SYS_kexec_load, 0, 0, 0, 0);
    if (!strcmp(n, "getpid")) return syscall(SYS_getpid);
    errno = EINVAL; return -1;
}
int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "keyring")) {
        printf("%ld\n", syscall(SYS_keyctl, 0, -3, 0));
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        long r = call(argv[i]);
        if (r < 0) printf("%s errno=%d\n", argv[i], errno); else printf("%s ok\n", argv[i]);
    }
    return 0;
}
"#;

fn add_helper(root: &Path) {
    let src = root.join("helper.c");
    fs::write(&src, HELPER_C).unwrap();
    let out = run(Command::new("cc")
        .args(["-static", "-O", "-o"])
        .arg(root.join("bin/helper"))
        .arg(&src));
    ok(&out);
    fs::remove_file(src).unwrap();
}

/// The classic chroot escape as a static program: chroot into a
/// subdirectory, climb with `..`, chroot there, and say whether a host-only
/// path is visible.
const ESCAPE_C: &str = r#"
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
    mkdir("/.escape", 0700);
    if (chroot("/.escape") != 0) { perror("chroot"); return 2; }
    for (int i = 0; i < 256; i++) if (chdir("..") != 0) break;
    if (chroot(".") != 0) { perror("chroot ."); return 2; }
    struct stat st;
    puts(argc > 1 && stat(argv[1], &st) == 0 ? "ESCAPED" : "CONTAINED");
    return 0;
}
"#;

struct Root {
    dir: cttest::TempDir,
}

impl Root {
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let p = self.dir.path().to_string_lossy().into_owned();
        let left: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&p)))
            .map(str::to_string)
            .collect();
        assert!(left.is_empty(), "mounts leaked onto the host: {left:#?}");
    }
}

fn root() -> Root {
    let dir = cttest::tempdir().unwrap();
    minroot::build(dir.path(), TOOLS).unwrap();
    add_helper(dir.path());
    Root { dir }
}

fn calls(o: &str) -> Vec<(String, String)> {
    o.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

const BLOCKED: &[&str] = &[
    "keyctl",
    "add_key",
    "unshare_user",
    "open_by_handle_at",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "kexec_load",
];

#[test]
fn default_profile_refuses_dockers_list_with_eperm() {
    if !gate("chroot_rs::harden::default_profile_refuses_dockers_list_with_eperm") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root();
    let mut args = vec![
        "--pivot",
        "--proc",
        "--dev",
        "--harden",
        "--seccomp=default",
        s(r.path()),
        "/bin/helper",
    ];
    args.extend(BLOCKED);
    args.push("getpid");
    let o = ok(&in_ns(&args));
    let got = calls(&o);
    assert_eq!(got.len(), BLOCKED.len() + 1, "{o}");
    for (name, res) in &got {
        if name == "getpid" {
            assert_eq!(res, "ok", "{o}");
        } else {
            assert_eq!(res, "errno=1", "{name} not refused with EPERM: {o}");
        }
    }
    // The same calls unconfined: at least keyctl, add_key and io_uring
    // work, so the refusals above are the filter's.
    let mut args = vec![
        "--pivot",
        "--proc",
        "--dev",
        "--harden",
        "--seccomp=unconfined",
        s(r.path()),
        "/bin/helper",
    ];
    args.extend(["keyctl", "add_key"]);
    let o = ok(&in_ns(&args));
    assert!(o.contains("keyctl ok"), "{o}");
    assert!(o.contains("add_key ok"), "{o}");
}

#[test]
fn default_profile_allows_a_busy_program_set() {
    if !gate("chroot_rs::harden::default_profile_allows_a_busy_program_set") {
        return;
    }
    let _l = cttest::serial("mount");
    // The host's /usr, read-only, under a root of links: bash, coreutils,
    // python3 and their libraries as they are.
    let d = cttest::tempdir().unwrap();
    for (l, t) in [
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
    ] {
        std::os::unix::fs::symlink(t, d.path().join(l)).unwrap();
    }
    for dir in ["usr", "etc", "tmp", "proc", "dev", "root", "stress"] {
        fs::create_dir(d.path().join(dir)).unwrap();
    }
    fs::write(
        d.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/bin/false\n",
    )
    .unwrap();
    fs::write(d.path().join("etc/group"), "root:x:0:\n").unwrap();
    fs::copy(cttest::bin("stress-rs"), d.path().join("stress/stress-rs")).unwrap();
    let python = Path::new("/usr/bin/python3").exists();
    let script = format!(
        r#"set -e
        ls -la / /usr/bin >/dev/null
        cat /etc/passwd | sort | head -1 | wc -c >/dev/null
        id; date >/dev/null; sleep 0.1
        mkdir -p /tmp/a/b; cp /etc/passwd /tmp/a/b/; rm -r /tmp/a
        echo x | tr x y | grep -q y
        find /usr/share -maxdepth 1 >/dev/null 2>&1 || true
        ( echo sub ) | cat >/dev/null
        {py}
        /stress/stress-rs -c 1 -t 1
        echo ALL-OK"#,
        py = if python {
            r#"python3 -c 'import os, json, threading, subprocess, socket, tempfile, hashlib
t = threading.Thread(target=lambda: None); t.start(); t.join()
subprocess.run(["true"], check=True)
socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
socket.socketpair()
with tempfile.TemporaryFile() as f: f.write(b"x")
os.listdir("/proc/self/fd"); print(json.dumps(hashlib.sha256(b"x").hexdigest()[:4]))'"#
        } else {
            ""
        },
    );
    let out = in_ns(&[
        "--pivot",
        "--proc",
        "--dev",
        "--tmp",
        "--harden",
        "--seccomp=default",
        "--ro-bind=/usr:/usr",
        s(d.path()),
        "/bin/bash",
        "-c",
        &script,
    ]);
    let o = ok(&out);
    assert!(o.contains("ALL-OK"), "{o}");
    let err = text(&out.stderr);
    assert!(!err.contains("not permitted"), "{err}");
    assert!(o.contains("successful run completed"), "{o}");
}

#[test]
fn custom_profile_with_argument_conditions() {
    if !gate("chroot_rs::harden::custom_profile_with_argument_conditions") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root();
    let dir = cttest::tempdir().unwrap();
    let prof = dir.path().join("profile.json");
    fs::write(
        &prof,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
              {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
              {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
               "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}
            ]}"#,
    )
    .unwrap();
    let script = "mkdir /tmp/nope 2>&1; kill -9 999999 2>&1; kill -15 999999 2>&1; \
                  grep Seccomp: /proc/self/status";
    let o = ok(&in_ns(&[
        "--pivot",
        "--proc",
        &format!("--seccomp={}", s(&prof)),
        s(r.path()),
        "/bin/bash",
        "-c",
        script,
    ]));
    assert!(o.contains("Permission denied"), "{o}");
    let lines: Vec<&str> = o.lines().collect();
    assert!(lines[1].contains("Operation not permitted"), "{o}");
    assert!(lines[2].contains("No such process"), "{o}");
    assert!(o.contains("Seccomp:\t2"), "{o}");
    // A bad profile: refused before anything is made.
    fs::write(&prof, r#"{"defaultAction": "SCMP_ACT_BOGUS"}"#).unwrap();
    let out = in_ns(&[
        "--pivot",
        &format!("--seccomp={}", s(&prof)),
        s(r.path()),
        "/bin/true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("unknown action"),
        "{}",
        text(&out.stderr)
    );
    let out = run(Command::new(chroot_rs()).args(["--seccomp=/no/such", s(r.path()), "/bin/true"]));
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("/no/such"));
}

fn status_field(o: &str, name: &str) -> String {
    o.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {name} in {o}"))
}

#[test]
fn seccomp_with_and_without_no_new_privs() {
    if !gate("chroot_rs::harden::seccomp_with_and_without_no_new_privs") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root();
    let run_status = |extra: &[&str]| {
        let mut args = vec!["--pivot", "--proc", "--harden"];
        args.extend(extra);
        args.extend([s(r.path()), "/bin/cat", "/proc/self/status"]);
        ok(&in_ns(&args))
    };
    // --harden alone: no filter, no no_new_privs (Docker's default).
    let o = run_status(&[]);
    assert_eq!(status_field(&o, "Seccomp:"), "0");
    assert_eq!(status_field(&o, "NoNewPrivs:"), "0");
    let o = run_status(&["--seccomp=unconfined"]);
    assert_eq!(status_field(&o, "Seccomp:"), "0");
    // Without no_new_privs: installed while privileged.
    let o = run_status(&["--seccomp=default"]);
    assert_eq!(status_field(&o, "Seccomp:"), "2");
    assert_eq!(status_field(&o, "NoNewPrivs:"), "0");
    // With it: installed last.
    let o = run_status(&["--seccomp=default", "--no-new-privs"]);
    assert_eq!(status_field(&o, "Seccomp:"), "2");
    assert_eq!(status_field(&o, "NoNewPrivs:"), "1");
    // As another user, both ways (setgroups, setgid, setuid after the
    // filter when no_new_privs is off).
    for extra in [&[][..], &["--no-new-privs"][..]] {
        let mut a = vec!["--seccomp=default", "--userspec=65534:65534"];
        a.extend(extra);
        let o = run_status(&a);
        assert_eq!(status_field(&o, "Seccomp:"), "2");
        assert!(status_field(&o, "Uid:").starts_with("65534"), "{o}");
    }
}

#[test]
fn inherited_descriptors_are_closed_unless_preserved() {
    if !gate("chroot_rs::harden::inherited_descriptors_are_closed_unless_preserved") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root();
    let cr = chroot_rs();
    let script = format!(
        "exec 7</ 3</; unshare --mount --fork -- {} --pivot --proc --harden $EXTRA {} /bin/ls /proc/self/fd",
        s(&cr),
        s(r.path())
    );
    let o = ok(&run(Command::new("bash")
        .args(["-c", &script])
        .env("EXTRA", "")));
    // 0-2 and ls's own directory descriptor (3), nothing of the caller's.
    let fds: Vec<&str> = o.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{o}");
    let o = ok(&run(Command::new("bash")
        .args(["-c", &script])
        .env("EXTRA", "--preserve-fds=1")));
    // fd 3 kept (ls's own is 4 then), 7 closed.
    let fds: Vec<&str> = o.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3", "4"], "{o}");
}

#[test]
fn harden_joins_a_new_session_keyring() {
    if !gate("chroot_rs::harden::harden_joins_a_new_session_keyring") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root();
    let mine = ok(&run(
        Command::new(r.path().join("bin/helper")).arg("keyring")
    ));
    let theirs = ok(&in_ns(&[
        "--pivot",
        "--harden",
        s(r.path()),
        "/bin/helper",
        "keyring",
    ]));
    assert_ne!(mine.trim(), theirs.trim());
    assert!(theirs.trim().parse::<i64>().unwrap() > 0, "{theirs}");
    let same = ok(&in_ns(&[
        "--pivot",
        "--harden",
        "--no-new-keyring",
        s(r.path()),
        "/bin/helper",
        "keyring",
    ]));
    assert_eq!(mine.trim(), same.trim());
}

#[test]
fn device_nodes_are_made_inside_the_root_before_command() {
    if !gate("chroot_rs::harden::device_nodes_are_made_inside_the_root_before_command") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root();
    let host = cttest::tempdir().unwrap();
    // Planted by the image at the destinations' parents: an absolute link
    // to a host directory (which the root has too), and a relative one
    // that climbs out (dangling inside the root).
    let inside = r.path().join(host.path().strip_prefix("/").unwrap());
    fs::create_dir_all(&inside).unwrap();
    std::os::unix::fs::symlink(host.path(), r.path().join("abs")).unwrap();
    std::os::unix::fs::symlink(
        format!("../../../../../../../..{}/deeper", s(host.path())),
        r.path().join("rel"),
    )
    .unwrap();
    let script = "for f in /dev/sub/null2 /abs/zero2; do [ -c $f ] && echo char $f; done";
    let out = in_ns(&[
        "--pivot",
        "--proc",
        "--dev",
        "--harden",
        "--device=/dev/null:/dev/sub/null2",
        "--device=/dev/zero:/abs/zero2:r",
        s(r.path()),
        "/bin/bash",
        "-c",
        script,
    ]);
    let o = ok(&out);
    // Present when COMMAND starts, made inside the root, nothing on the host.
    assert!(o.contains("char /dev/sub/null2"), "{o}");
    assert!(o.contains("char /abs/zero2"), "{o}");
    assert!(
        fs::symlink_metadata(inside.join("zero2")).is_ok_and(|m| m.file_type().is_char_device()),
        "not made inside the root"
    );
    let out = in_ns(&[
        "--pivot",
        "--device=/dev/full:/rel/full2",
        s(r.path()),
        "/bin/true",
    ]);
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    }
    let left: Vec<_> = fs::read_dir(host.path()).unwrap().collect();
    assert!(left.is_empty(), "made on the host: {left:?}");
    // A bad spec and a file that is no device are refused.
    for bad in [
        "--device=/etc/passwd",
        "--device=/dev/null:rel",
        "--device=/dev/null:/x:q",
    ] {
        let out = in_ns(&["--pivot", bad, s(r.path()), "/bin/true"]);
        assert_eq!(out.status.code(), Some(125), "{bad}");
    }
}

#[test]
fn init_is_pid_1_reaps_forwards_and_exits_like_command() {
    if !gate("chroot_rs::harden::init_is_pid_1_reaps_forwards_and_exits_like_command") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root();
    // pid 1 is the init, named "init", running from a read-only clone of
    // its binary's mount (the link names no host path) or a sealed copy.
    let script = r#"tr '\0' ' ' </proc/1/cmdline; echo; readlink /proc/1/exe; echo $$
        ( sleep 0.2 & ); ( true & ); sleep 1
        for f in /proc/[0-9]*/stat; do read -r l <$f 2>/dev/null && case "$l" in *") Z "*) echo ZOMBIE $l;; esac; done
        (echo x >>/proc/1/exe) 2>/dev/null && echo INIT-WRITABLE
        (echo x >/proc/1/exe) 2>/dev/null && echo INIT-WRITABLE
        exit 3"#;
    let out = in_ns(&[
        "--pivot",
        "--proc",
        "--dev",
        "--harden",
        "--seccomp=default",
        "--init",
        s(r.path()),
        "/bin/bash",
        "-c",
        script,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    let mut l = o.lines();
    assert_eq!(l.next().unwrap().trim(), "init", "{o}");
    let exe = l.next().unwrap();
    assert!(exe == "/" || exe.starts_with("/memfd:"), "{o}");
    assert_eq!(l.next().unwrap(), "2", "COMMAND is pid 2: {o}");
    assert!(!o.contains("ZOMBIE"), "{o}");
    // The init's binary refuses every write.
    assert!(!o.contains("INIT-WRITABLE"), "{o}");

    // Signals reach COMMAND through the init; a signal death is 128+N.
    let mut child = Command::new(chroot_rs())
        .args([
            "--init",
            s(r.path()),
            "/bin/bash",
            "-c",
            "trap 'echo got-TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done",
        ])
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let _kill = cttest::defer(move || unsafe {
        libc::kill(pid, libc::SIGKILL);
    });
    let mut rd = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    rd.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut rd, &mut rest).unwrap();
    let st = child.wait().unwrap();
    assert!(rest.contains("got-TERM"), "{rest}");
    assert_eq!(st.code(), Some(7));
    let out = run(Command::new(chroot_rs()).args([
        "--init",
        s(r.path()),
        "/bin/bash",
        "-c",
        "kill -KILL $$",
    ]));
    assert_eq!(out.status.code(), Some(137));
}

/// CVE-2019-5736 against the plain --harden --pivot start (no re-exec):
/// COMMAND is a `#!/proc/self/exe` script, which would make the kernel run
/// chroot-rs's binary again inside the new root; the binary's mount is
/// read-only and noexec there, so the exec is refused, and only there: the
/// host's copy of that mount is as it was.
#[test]
fn harden_pivot_seals_its_binary_s_mount_in_the_container_only() {
    if !gate("chroot_rs::harden::harden_pivot_seals_its_binary_s_mount_in_the_container_only") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root();
    fs::write(r.path().join("attack"), "#!/proc/self/exe\n").unwrap();
    fs::set_permissions(
        r.path().join("attack"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // A private copy of the tool (never the build's), beside a file of the
    // same mount.
    let bin = cttest::tempdir().unwrap();
    let tool = bin.path().join("chroot-rs");
    fs::copy(chroot_rs(), &tool).unwrap();
    let before = fs::read(&tool).unwrap();
    let out = run(Command::new("unshare")
        .args(["--mount", "--pid", "--fork", "--"])
        .arg(&tool)
        .args([
            "--verbose",
            "--pivot",
            "--proc",
            "--dev",
            "--harden",
            "--seccomp=default",
        ])
        .arg(r.path())
        .arg("/attack"));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(126), "{err}");
    assert!(
        err.contains("made the mount of chroot-rs's own binary read-only and noexec"),
        "{err}"
    );
    assert!(err.contains("Permission denied"), "{err}");
    // Nothing ran it again, and nothing of chroot-rs stayed.
    assert!(!err.contains("Usage"), "{err}");
    // The host's view: the copy is intact, runs, and its directory takes
    // a new file.
    assert_eq!(fs::read(&tool).unwrap(), before);
    ok(&run(Command::new(&tool).arg("--version")));
    fs::write(bin.path().join("still-writable"), "x").unwrap();
    // The program runs as ever.
    let o = ok(&run(Command::new("unshare")
        .args(["--mount", "--pid", "--fork", "--"])
        .arg(&tool)
        .args(["--pivot", "--proc", "--dev", "--harden"])
        .arg(r.path())
        .args(["/bin/bash", "-c", "echo ran; readlink /proc/1/exe; true"])));
    assert_eq!(o, "ran\n/bin/bash\n");
}

#[test]
fn chroot_mode_with_harden_defeats_the_classic_escape() {
    if !gate("chroot_rs::harden::chroot_mode_with_harden_defeats_the_classic_escape") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root();
    let src = r.path().join("escape.c");
    fs::write(&src, ESCAPE_C).unwrap();
    ok(&run(Command::new("cc")
        .args(["-static", "-O", "-o"])
        .arg(r.path().join("bin/escape"))
        .arg(&src)));
    fs::remove_file(src).unwrap();
    let marker = cttest::tempdir().unwrap();
    let m = marker.path().join("host-only");
    fs::write(&m, "").unwrap();
    // Plain chroot-rs stays a plain chroot (the tutorial's demonstration).
    let out = run(Command::new(chroot_rs())
        .arg(r.path())
        .args(["/bin/escape", s(&m)]));
    assert_eq!(ok(&out).trim(), "ESCAPED");
    // --harden in chroot mode, with CAP_SYS_CHROOT kept: contained.
    let out = in_ns(&["--harden", "--verbose", s(r.path()), "/bin/escape", s(&m)]);
    assert_eq!(ok(&out).trim(), "CONTAINED");
    assert!(
        text(&out.stderr).contains("root changed with move+chroot"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn harden_dev_is_noexec_and_sys_dev_block_masked() {
    if !gate("chroot_rs::harden::harden_dev_is_noexec_and_sys_dev_block_masked") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root();
    let o = ok(&in_ns(&[
        "--pivot",
        "--proc",
        "--dev",
        "--sys",
        "--harden",
        s(r.path()),
        "/bin/bash",
        "-c",
        "grep ' /dev ' /proc/self/mountinfo; ls /sys/dev/block | wc -l; readlink /proc/self/exe",
    ]));
    let dev = o.lines().next().unwrap();
    assert!(dev.contains("noexec") && dev.contains("nosuid"), "{o}");
    assert_eq!(o.lines().nth(1).unwrap().trim(), "0", "{o}");
    // Without --harden, /dev stays exec (runc's default).
    let o = ok(&in_ns(&[
        "--pivot",
        "--proc",
        "--dev",
        s(r.path()),
        "/bin/bash",
        "-c",
        "grep ' /dev ' /proc/self/mountinfo",
    ]));
    assert!(!o.contains("noexec"), "{o}");
    // --host-dev: the host's /dev, with its devices.
    let o = ok(&in_ns(&[
        "--pivot",
        "--proc",
        "--host-dev",
        s(r.path()),
        "/bin/bash",
        "-c",
        "[ -e /dev/loop-control ] || [ -e /dev/vda ] || ls /dev | wc -l",
    ]));
    let _ = o;
}
