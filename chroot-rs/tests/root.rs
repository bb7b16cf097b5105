//! Real root changes, as root: roots built from host binaries with
//! `cttest::minroot`, mount namespaces from util-linux `unshare --mount
//! --fork` (so these tests depend on no other tool of ours), and checks
//! that nothing is left on the host's mount table afterwards.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use cttest::{minroot, ok, text};

const TOOLS: &[&str] = &["bash", "ls", "cat", "id", "mount", "wc", "head"];

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
        if !std::thread::panicking() {
            assert_no_mounts(self.dir.path());
        }
    }
}

/// A root with bash and a few tools, and the static escape helper.
fn root_with(programs: &[&str]) -> Root {
    let dir = cttest::tempdir().expect("tempdir");
    minroot::build(dir.path(), programs).expect("minroot");
    Root { dir }
}

fn host_mounts_under(p: &Path) -> Vec<String> {
    let p = p.to_string_lossy().into_owned();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&p)))
        .map(str::to_string)
        .collect()
}

fn assert_no_mounts(p: &Path) {
    let left = host_mounts_under(p);
    assert!(left.is_empty(), "mounts leaked onto the host: {left:#?}");
}

fn chroot_rs() -> PathBuf {
    cttest::bin("chroot-rs")
}

fn run(cmd: &mut Command) -> Output {
    cttest::run_with_timeout(cmd, Duration::from_secs(60))
}

/// `unshare --mount --fork -- chroot-rs ARGS...`
fn in_mount_ns(args: &[&str]) -> Output {
    run(Command::new("unshare")
        .args(["--mount", "--fork", "--"])
        .arg(chroot_rs())
        .args(args))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_string).collect()
}

/// Compile the classic chroot escape into the root as /bin/escape: chroot
/// into a subdirectory, walk `..` up, chroot there, and report whether a
/// host-only path is visible.
fn add_escape(root: &Path) {
    let src = root.join("escape.c");
    fs::write(
        &src,
        r#"#include <stdio.h>
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
"#,
    )
    .unwrap();
    let out = run(Command::new("cc")
        .args(["-static", "-O", "-o"])
        .arg(root.join("bin/escape"))
        .arg(&src));
    ok(&out);
    fs::remove_file(src).unwrap();
}

fn gate(name: &str) -> bool {
    cttest::require_root(name)
        && cttest::require(
            name,
            Command::new("unshare").arg("--version").output().is_ok(),
            "needs util-linux unshare",
        )
}

#[test]
fn ls_shows_only_the_new_roots_tree() {
    if !gate("chroot_rs::root::ls_shows_only_the_new_roots_tree") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root_with(&["bash", "ls"]);
    // The document's experiment: chroot DIR /bin/bash, then `ls /`.
    let out = run(Command::new(chroot_rs())
        .arg(r.path())
        .args(["/bin/bash", "-c", "ls /"]));
    assert_eq!(
        lines(&ok(&out)),
        minroot::SKELETON,
        "the document's directory list"
    );
    fs::write(r.path().join("only-here"), "").unwrap();
    for args in [vec![], vec!["--pivot"]] {
        let mut a: Vec<&str> = args.clone();
        a.extend([s(r.path()), "/bin/ls", "-A", "/"]);
        let out = in_mount_ns(&a);
        let got = lines(&ok(&out));
        assert!(got.contains(&"only-here".to_string()), "{args:?}: {got:?}");
        for host_only in ["work", "usr/bin", "boot"] {
            assert!(!got.contains(&host_only.to_string()), "{args:?}: {got:?}");
        }
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    }
}

#[test]
fn classic_escape_works_after_chroot_but_not_after_pivot() {
    if !gate("chroot_rs::root::classic_escape_works_after_chroot_but_not_after_pivot") {
        return;
    }
    if !cttest::require(
        "chroot_rs::root::escape_cc",
        Command::new("cc").arg("--version").output().is_ok(),
        "needs a C compiler",
    ) {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root_with(&["bash"]);
    add_escape(r.path());
    // A path that exists on the host and not in the root.
    let marker = cttest::tempdir().unwrap();
    let m = marker.path().join("host-only");
    fs::write(&m, "").unwrap();
    // Plain chroot: the escape reaches the host's root.  This is why
    // pivot_root matters.
    let out = run(Command::new(chroot_rs())
        .arg(r.path())
        .args(["/bin/escape", s(&m)]));
    assert_eq!(ok(&out).trim(), "ESCAPED");
    // pivot_root in a mount namespace: the old root is gone.
    let out = in_mount_ns(&["--pivot", s(r.path()), "/bin/escape", s(&m)]);
    assert_eq!(ok(&out).trim(), "CONTAINED");
    // --auto picks pivot_root inside a mount namespace...
    let out = in_mount_ns(&["--auto", "--verbose", s(r.path()), "/bin/escape", s(&m)]);
    assert_eq!(ok(&out).trim(), "CONTAINED");
    assert!(text(&out.stderr).contains("root changed with pivot_root"));
    // ...and chroot in the host's.
    if chroot_rs::root::in_initial_mount_ns() == Some(true) {
        let out = run(Command::new(chroot_rs()).args([
            "--auto",
            "--verbose",
            s(r.path()),
            "/bin/escape",
            s(&m),
        ]));
        assert_eq!(ok(&out).trim(), "ESCAPED");
        assert!(text(&out.stderr).contains("root changed with chroot"));
    }
}

#[test]
fn pivot_and_set_up_refused_in_the_hosts_mount_namespace() {
    if !gate("chroot_rs::root::pivot_and_set_up_refused_in_the_hosts_mount_namespace") {
        return;
    }
    if chroot_rs::root::in_initial_mount_ns() != Some(true) {
        eprintln!("not in the initial mount namespace: nothing to refuse");
        return;
    }
    let r = root_with(&["bash"]);
    for opt in [
        "--pivot",
        "--proc",
        "--dev",
        "--sys",
        "--tmp",
        "--readonly",
        "--harden",
    ] {
        let out =
            run(Command::new(chroot_rs()).args([opt, s(r.path()), "/bin/bash", "-c", "true"]));
        assert_eq!(out.status.code(), Some(125), "{opt}");
        let err = text(&out.stderr);
        assert!(
            err.contains("needs a mount namespace") && err.contains("unshare-rs -m"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn dev_has_exactly_the_listed_nodes_and_they_work() {
    if !gate("chroot_rs::root::dev_has_exactly_the_listed_nodes_and_they_work") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root_with(TOOLS);
    let script = r#"
        echo $(ls -A /dev)
        echo hello > /dev/null && echo null-ok
        [ "$(head -c 4 /dev/zero | wc -c)" = 4 ] && echo zero-ok
        echo x 2>/dev/null > /dev/full || echo full-ok
        [ "$(head -c 16 /dev/urandom | wc -c)" = 16 ] && echo urandom-ok
        [ "$(head -c 16 /dev/random | wc -c)" = 16 ] && echo random-ok
        exec 3<>/dev/ptmx && echo $(ls /dev/pts)
        [ -e /dev/fd/3 ] && echo fd-ok
        echo out > /dev/stdout
        echo shm > /dev/shm/x && cat /dev/shm/x
        cat /proc/self/fdinfo/0
        cat /proc/self/mountinfo
    "#;
    let out = in_mount_ns(&[
        "--pivot",
        "--proc",
        "--dev",
        s(r.path()),
        "/bin/bash",
        "-c",
        script,
    ]);
    let o = ok(&out);
    let mut l = o.lines();
    let listed: Vec<&str> = l.next().unwrap().split_whitespace().collect();
    assert_eq!(listed, chroot_rs::root::dev_entries(), "{o}");
    for want in [
        "null-ok",
        "zero-ok",
        "full-ok",
        "urandom-ok",
        "random-ok",
        "0 ptmx",
        "fd-ok",
        "out",
        "shm",
    ] {
        assert!(o.lines().any(|x| x.trim() == want), "missing {want}: {o}");
    }
    // devpts is a new instance with its own ptmx, and /dev a tmpfs.
    assert!(
        o.contains(" /dev/pts ") && o.contains("ptmxmode=666"),
        "{o}"
    );
    assert!(
        o.lines()
            .any(|x| x.contains(" /dev ") && x.contains(" - tmpfs ")),
        "{o}"
    );
    // stdin, the host's /dev/null, was reopened on the new root's.
    let mnt_id = o
        .lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .map(|v| v.trim().to_string())
        .expect("fdinfo");
    assert!(
        o.lines()
            .any(|l| l.starts_with(&format!("{mnt_id} ")) && l.split(' ').nth(4) == Some("/dev")),
        "stdin is not on the new /dev: {o}"
    );
    // No host mount is visible after the pivot.
    assert!(!o.contains(" /work"), "{o}");
}

#[test]
fn harden_masks_write_protects_and_drops_capabilities() {
    if !gate("chroot_rs::root::harden_masks_write_protects_and_drops_capabilities") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root_with(TOOLS);
    let script = r#"
        echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-writable || echo sys-ro
        for f in /proc/kcore /proc/keys /proc/timer_list; do
          [ -e $f ] && echo "$f $(cat $f | wc -c)"
        done
        mount -t tmpfs none /tmp 2>/dev/null && echo mount-ok || echo mount-refused
        cat /proc/self/status
    "#;
    let out = in_mount_ns(&[
        "--pivot",
        "--proc",
        "--dev",
        "--sys",
        "--harden",
        s(r.path()),
        "/bin/bash",
        "-c",
        script,
    ]);
    let o = ok(&out);
    assert!(o.contains("sys-ro"), "{o}");
    assert!(o.contains("mount-refused"), "{o}");
    for l in o.lines().filter(|l| l.starts_with("/proc/")) {
        assert!(l.ends_with(" 0"), "masked file not empty: {l}");
    }
    assert!(o.contains("/proc/keys 0"), "{o}");
    let field = |name: &str| {
        o.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap_or_else(|| panic!("no {name}: {o}"))
    };
    let docker = chroot_rs::caps::docker_default();
    assert_eq!(field("CapBnd:"), docker);
    assert_eq!(field("CapEff:"), docker);
    assert_eq!(field("CapAmb:"), 0);
    // --harden leaves no_new_privs off, as Docker does (--no-new-privs sets it).
    assert!(
        o.lines()
            .any(|l| l.starts_with("NoNewPrivs:") && l.ends_with('0')),
        "{o}"
    );

    // --cap-drop=ALL --cap-add=KILL leaves just CAP_KILL.
    let out = in_mount_ns(&[
        "--pivot",
        "--proc",
        "--harden",
        "--cap-drop=ALL",
        "--cap-add=CAP_KILL",
        s(r.path()),
        "/bin/cat",
        "/proc/self/status",
    ]);
    let o = ok(&out);
    assert!(o.lines().any(|l| l == "CapBnd:\t0000000000000020"), "{o}");
}

#[test]
fn proc_tmp_sys_and_readonly() {
    if !gate("chroot_rs::root::proc_tmp_sys_and_readonly") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root_with(TOOLS);
    let script = r#"
        echo $$
        echo x > /tmp/f && echo tmp-writable
        echo x > /newfile 2>/dev/null && echo root-writable || echo root-ro
        echo 1 > /sys/kernel/uevent_helper 2>/dev/null && echo sys-writable || echo sys-ro
        [ -d /sys/kernel ] && echo sys-there
    "#;
    let out = run(Command::new("unshare")
        .args(["--mount", "--pid", "--fork", "--"])
        .arg(chroot_rs())
        .args([
            "--pivot",
            "--proc",
            "--sys",
            "--tmp",
            "--readonly",
            s(r.path()),
            "/bin/bash",
            "-c",
            script,
        ]));
    let o = ok(&out);
    let first = o.lines().next().unwrap();
    assert_eq!(first, "1", "a fresh proc in a new pid namespace: {o}");
    for want in ["tmp-writable", "root-ro", "sys-ro", "sys-there"] {
        assert!(o.lines().any(|l| l == want), "missing {want}: {o}");
    }
    assert!(!r.path().join("newfile").exists());
}

#[test]
fn userspec_and_groups_take_effect_inside() {
    if !gate("chroot_rs::root::userspec_and_groups_take_effect_inside") {
        return;
    }
    let r = root_with(&["id"]);
    // A user and a group that exist only inside the new root.
    let passwd = r.path().join("etc/passwd");
    let mut p = fs::read_to_string(&passwd).unwrap();
    p.push_str("ctinside:x:4242:4343::/:/bin/false\n");
    fs::write(&passwd, p).unwrap();
    let group = r.path().join("etc/group");
    let mut g = fs::read_to_string(&group).unwrap();
    g.push_str("ctgroup:x:4343:\nctextra:x:4444:ctinside\n");
    fs::write(&group, g).unwrap();
    let id = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend([s(r.path()), "/bin/id"]);
        ok(&run(Command::new(chroot_rs()).args(&a)))
            .trim()
            .to_string()
    };
    assert_eq!(
        id(&["--userspec=nobody:nogroup", "--groups=0,5"]),
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup),0(root),5"
    );
    // Names resolved inside: the login group and the supplementary groups
    // come from the root's own databases.
    assert_eq!(
        id(&["--userspec=ctinside"]),
        "uid=4242(ctinside) gid=4343(ctgroup) groups=4343(ctgroup),4444(ctextra)"
    );
    assert_eq!(
        id(&["--user=+4242:+4444", "--groups="]),
        "uid=4242(ctinside) gid=4444(ctextra) groups=4444(ctextra)"
    );
    assert_eq!(
        id(&["--groups=ctextra"]),
        "uid=0(root) gid=0(root) groups=0(root),4444(ctextra)"
    );
    // The same inside a pivot.
    let out = in_mount_ns(&[
        "--pivot",
        "--userspec=ctinside:ctextra",
        s(r.path()),
        "/bin/id",
    ]);
    assert_eq!(
        ok(&out).trim(),
        "uid=4242(ctinside) gid=4444(ctextra) groups=4444(ctextra)"
    );
    // Unknown inside: coreutils' message and status.
    let out = run(Command::new(chroot_rs()).args(["--userspec=ctnowhere", s(r.path()), "/bin/id"]));
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).ends_with(": invalid user\n"));
    // A group in neither root's files: coreutils' message and status, not
    // a crash in an NSS module (chroot-rs is static and reads the files).
    for root in ["/", s(r.path())] {
        let out = run(Command::new(chroot_rs()).env("LC_ALL", "C").args([
            "--groups=nogroup-that-does-not-exist-zz",
            root,
            "/bin/id",
        ]));
        assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stderr),
            format!(
                "{}: invalid group 'nogroup-that-does-not-exist-zz'\n",
                chroot_rs().display()
            )
        );
        assert!(out.stdout.is_empty());
    }
}

/// --run-as: Docker's -u, looked up in the new root's files alone (a user the host names
/// differently gets the root's ids and groups, never a mix; a user only the host has is
/// unknown, with Docker's message).
#[test]
fn run_as_looks_up_the_new_roots_files_alone() {
    if !gate("chroot_rs::root::run_as_looks_up_the_new_roots_files_alone") {
        return;
    }
    let r = root_with(&["id"]);
    let passwd = r.path().join("etc/passwd");
    let inside: String = fs::read_to_string(&passwd)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("nobody:"))
        .map(|l| format!("{l}\n"))
        .collect();
    // nobody as the host does not have it, and a group that lists it
    fs::write(
        &passwd,
        format!("{inside}nobody:x:4242:4243::/:/bin/false\n"),
    )
    .unwrap();
    let group = r.path().join("etc/group");
    let mut g = fs::read_to_string(&group).unwrap();
    g.push_str("ctgrp:x:4243:\nctextra:x:4444:nobody\n");
    fs::write(&group, g).unwrap();
    let id = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend([s(r.path()), "/bin/id"]);
        run(Command::new(chroot_rs()).env("LC_ALL", "C").args(&a))
    };
    assert_eq!(
        ok(&id(&["--run-as=nobody"])).trim(),
        "uid=4242(nobody) gid=4243(ctgrp) groups=4243(ctgrp),4444(ctextra)"
    );
    assert_eq!(
        ok(&id(&["--run-as=nobody:ctextra"])).trim(),
        "uid=4242(nobody) gid=4444(ctextra) groups=4444(ctextra)"
    );
    assert_eq!(
        ok(&id(&["--run-as=4242", "--groups=0"])).trim(),
        "uid=4242(nobody) gid=4243(ctgrp) groups=4243(ctgrp),0(root),4444(ctextra)"
    );
    // a number no entry names: gid 0, as Docker
    assert_eq!(
        ok(&id(&["--run-as=5151"])).trim(),
        "uid=5151 gid=0(root) groups=0(root)"
    );
    // a name only the host's files have
    let host_only = fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(':').next().map(str::to_string))
        .find(|n| !n.is_empty() && !inside.contains(&format!("{n}:")) && n != "nobody")
        .expect("a host user the root lacks");
    let out = id(&[&format!("--run-as={host_only}")]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}: unable to find user {host_only}: no matching entries in passwd file\n",
            chroot_rs().display()
        )
    );
    let out = id(&["--run-as=nobody", "--userspec=nobody"]);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn exit_statuses_inside_the_root() {
    if !gate("chroot_rs::root::exit_statuses_inside_the_root") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root_with(&["bash"]);
    for pivot in [false, true] {
        let pre: Vec<&str> = if pivot { vec!["--pivot"] } else { vec![] };
        let go = |cmd: &[&str]| {
            let mut a = pre.clone();
            a.push(s(r.path()));
            a.extend(cmd);
            if pivot {
                in_mount_ns(&a)
            } else {
                run(Command::new(chroot_rs()).args(&a))
            }
        };
        assert_eq!(go(&["/bin/bash", "-c", "exit 3"]).status.code(), Some(3));
        let out = go(&["/no/such"]);
        assert_eq!(out.status.code(), Some(127));
        assert!(text(&out.stderr).contains("failed to run command"));
        assert_eq!(go(&["/etc"]).status.code(), Some(126));
    }
}

#[test]
fn switch_root_fallback_when_the_root_cannot_be_pivoted() {
    if !gate("chroot_rs::root::switch_root_fallback_when_the_root_cannot_be_pivoted") {
        return;
    }
    let _l = cttest::serial("mount");
    // An outer root holding chroot-rs and an inner root; coreutils chroot
    // into the outer one (no mount point, so pivot_root says EINVAL, as it
    // does on an initramfs rootfs), then chroot-rs --pivot the inner one.
    let outer = root_with(&[chroot_rs().to_str().unwrap(), "bash"]);
    fs::rename(
        outer.path().join(chroot_rs().strip_prefix("/").unwrap()),
        outer.path().join("bin/chroot-rs"),
    )
    .unwrap();
    let inner = outer.path().join("inner");
    minroot::build(&inner, &["bash", "ls"]).unwrap();
    let script = format!(
        "mount -t proc proc {o}/proc && exec chroot {o} /bin/chroot-rs --pivot --verbose /inner /bin/ls /",
        o = s(outer.path())
    );
    let out = run(Command::new("unshare").args(["--mount", "--fork", "sh", "-c", &script]));
    assert_eq!(lines(&ok(&out)), minroot::SKELETON);
    let err = text(&out.stderr);
    assert!(err.contains("move+chroot"), "{err}");
    assert!(err.contains("not a mount point"), "{err}");
}

#[test]
fn set_up_failure_leaves_nothing_behind() {
    if !gate("chroot_rs::root::set_up_failure_leaves_nothing_behind") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root_with(&["bash"]);
    // /dev in the root is a symbolic link to a host directory: refused.
    fs::remove_dir(r.path().join("dev")).unwrap();
    std::os::unix::fs::symlink("/etc", r.path().join("dev")).unwrap();
    let out = in_mount_ns(&["--pivot", "--dev", s(r.path()), "/bin/bash", "-c", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = text(&out.stderr);
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // --skip-chdir with another root: coreutils' refusal.
    let out = run(Command::new(chroot_rs()).args(["--skip-chdir", s(r.path()), "/bin/bash"]));
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("option --skip-chdir only permitted if NEWROOT is old '/'"));
}

#[test]
fn user_namespace_binds_device_nodes_and_sys() {
    if !gate("chroot_rs::root::user_namespace_binds_device_nodes_and_sys") {
        return;
    }
    let _l = cttest::serial("mount");
    let r = root_with(TOOLS);
    let script = r#"
        echo $(ls -A /dev)
        echo x > /dev/null && echo null-ok
        [ "$(head -c 4 /dev/zero | wc -c)" = 4 ] && echo zero-ok
        [ -d /sys/kernel ] && echo sys-there
        cat /proc/self/mountinfo
    "#;
    let out = run(Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "--pid",
            "--fork",
            "--",
        ])
        .arg(chroot_rs())
        .args([
            "--pivot",
            "--verbose",
            "--proc",
            "--dev",
            "--sys",
            s(r.path()),
            "/bin/bash",
            "-c",
            script,
        ]));
    let o = ok(&out);
    let listed: Vec<&str> = o.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(listed, chroot_rs::root::dev_entries(), "{o}");
    for want in ["null-ok", "zero-ok", "sys-there"] {
        assert!(o.lines().any(|l| l == want), "missing {want}: {o}");
    }
    // mknod is not allowed in a user namespace: the host's nodes are bound.
    assert!(
        o.lines()
            .any(|l| l.contains(" /dev/null ") && l.contains("/null /dev/null")),
        "{o}"
    );
    let sys = o
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/sys"))
        .expect("a /sys mount");
    assert!(sys.split(' ').nth(5).unwrap().starts_with("ro"), "{sys}");
    let err = text(&out.stderr);
    assert!(
        err.contains("mknod refused") && err.contains("sysfs refused"),
        "{err}"
    );
}

#[test]
fn pivot_into_the_current_root_sets_up_inside_the_bind() {
    if !gate("chroot_rs::root::pivot_into_the_current_root_sets_up_inside_the_bind") {
        return;
    }
    let _l = cttest::serial("mount");
    let tmp_mounts = || {
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.split(' ').nth(4) == Some("/tmp"))
            .count()
    };
    let before = tmp_mounts();
    for mode in ["--pivot", "--auto"] {
        let out = in_mount_ns(&[mode, "--tmp", "/", "/bin/sh", "-c", "ls -A /tmp | wc -l"]);
        assert_eq!(ok(&out).trim(), "0", "{mode}: a fresh, empty /tmp");
    }
    assert_eq!(tmp_mounts(), before, "a /tmp mount leaked onto the host");
}

#[test]
fn nothing_propagates_back_even_from_a_shared_mount() {
    if !gate("chroot_rs::root::nothing_propagates_back_even_from_a_shared_mount") {
        return;
    }
    let _l = cttest::serial("mount");
    // The root lies on a shared mount of the host's, and the namespace
    // keeps propagation unchanged: without chroot-rs making its mounts
    // slaves first, --tmp and --dev would appear on the host.
    let r = root_with(&["bash", "ls"]);
    let p = s(r.path()).to_string();
    let out = cttest::sh(&format!("mount --bind {p} {p} && mount --make-shared {p}"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let _undo = cttest::defer(|| {
        let _ = Command::new("umount").args(["-l", &p]).status();
    });
    let out = run(Command::new("unshare")
        .args(["--mount", "--propagation", "unchanged", "--fork", "--"])
        .arg(chroot_rs())
        .args(["--tmp", "--dev", "--proc", s(r.path()), "/bin/ls", "/tmp"]));
    ok(&out);
    let under: Vec<String> = host_mounts_under(r.path())
        .into_iter()
        .filter(|l| l.split(' ').nth(4) != Some(p.as_str()))
        .collect();
    assert!(under.is_empty(), "propagated to the host: {under:#?}");
}

#[test]
fn no_new_privs_alone_mounts_nothing_and_keeps_capabilities() {
    if !gate("chroot_rs::root::no_new_privs_alone_mounts_nothing_and_keeps_capabilities") {
        return;
    }
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let o = run(Command::new(chroot_rs())
        .args(["--no-new-privs", "/"])
        .arg(cttest::probe()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j = cttest::probe_json(&o);
    assert_eq!(j["status"]["NoNewPrivs"], "1");
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = own
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(j["status"]["CapBnd"], bnd.as_str());
    assert_eq!(
        j["mounts"].as_array().unwrap().len(),
        before.lines().count(),
        "no mount was added"
    );
}

#[test]
fn tty_gives_command_a_terminal_of_the_new_root() {
    if !gate("chroot_rs::root::tty_gives_command_a_terminal_of_the_new_root") {
        return;
    }
    let root = root_with(&["sh", "tty", "stty"]);
    // script(1) gives the test a terminal; chroot-rs gives COMMAND another
    // one, from the devpts that --dev mounts in the new root.
    let inner = format!(
        "stty cols 91 rows 17; unshare --mount --fork -- {} --pivot --proc --dev --tty {} \
         /bin/sh -c 'tty; stty size; test -t 0 && echo stdin-is-a-tty; exit 7'",
        chroot_rs().display(),
        root.dir.path().display()
    );
    let o = run(Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .stdin(std::process::Stdio::null()));
    let out = String::from_utf8_lossy(&o.stdout).replace('\r', "");
    assert!(out.contains("/dev/pts/0\n"), "{out:?}");
    assert!(out.contains("17 91\n"), "the size passes on: {out:?}");
    assert!(out.contains("stdin-is-a-tty\n"), "{out:?}");
    assert_eq!(o.status.code(), Some(7), "{out:?}");
    // Without a terminal of ours, COMMAND still gets one; our input's end
    // reaches it as end-of-file.
    let o = run(Command::new("unshare")
        .args(["--mount", "--fork", "--"])
        .arg(chroot_rs())
        .args(["--pivot", "--proc", "--dev", "--tty"])
        .arg(root.dir.path())
        .args(["/bin/sh", "-c", "read x; tty"])
        .stdin(std::process::Stdio::null()));
    let out = String::from_utf8_lossy(&o.stdout).replace('\r', "");
    assert_eq!(out, "/dev/pts/0\n");
    assert!(o.status.success());
}

#[test]
fn chdir_enters_a_directory_of_the_new_root_making_it_if_missing() {
    if !gate("chroot_rs::root::chdir_enters_a_directory_of_the_new_root_making_it_if_missing") {
        return;
    }
    let r = root_with(&["bash", "stat"]);
    let pwd = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend([s(r.path()), "/bin/bash", "-c", "pwd; stat -c '%a %u' ."]);
        run(Command::new(chroot_rs()).env("LC_ALL", "C").args(&a))
    };
    // An existing directory of the new root (not the host's /etc).
    fs::create_dir_all(r.path().join("srv/app")).unwrap();
    assert_eq!(ok(&pwd(&["--chdir=/srv/app"])), "/srv/app\n755 0\n");
    // A missing one is made inside the root (0755, root's), as runc makes a cwd.
    assert_eq!(ok(&pwd(&["--chdir", "/work/a/b"])), "/work/a/b\n755 0\n");
    assert!(r.path().join("work/a/b").is_dir());
    // Entered after the credentials: nobody may not enter a 0700 directory.
    fs::create_dir(r.path().join("private")).unwrap();
    fs::set_permissions(
        r.path().join("private"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let out = pwd(&["--userspec=nobody:nogroup", "--chdir=/private"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).ends_with(": cannot change directory to '/private': Permission denied\n"),
        "{}",
        text(&out.stderr)
    );
    // With pivot_root too.
    let out = in_mount_ns(&[
        "--pivot",
        "--chdir=/srv",
        s(r.path()),
        "/bin/bash",
        "-c",
        "pwd",
    ]);
    assert_eq!(ok(&out), "/srv\n");
    // A file in the way, and --skip-chdir: one line, 125.
    fs::write(r.path().join("file"), "x").unwrap();
    let out = pwd(&["--chdir=/file/sub"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains(": cannot create directory '/file/sub': Not a directory"),
        "{}",
        text(&out.stderr)
    );
    let out = run(Command::new(chroot_rs()).args(["--chdir=/", "--skip-chdir", "/", "/bin/true"]));
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("--chdir and --skip-chdir are mutually exclusive"));
}

#[test]
fn bind_and_ro_bind_put_host_paths_in_the_new_root() {
    if !gate("chroot_rs::root::bind_and_ro_bind_put_host_paths_in_the_new_root") {
        return;
    }
    let r = root_with(&["bash", "cat", "ls"]);
    let host = cttest::tempdir().unwrap();
    let data = host.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("in"), "host file\n").unwrap();
    let conf = host.path().join("app.conf");
    fs::write(&conf, "setting=1\n").unwrap();
    let sh = |args: &[&str], script: &str| {
        let mut a = args.to_vec();
        a.extend([s(r.path()), "/bin/bash", "-c", script]);
        let mut c = Command::new("unshare");
        c.args(["--mount", "--fork", "--"])
            .arg(chroot_rs())
            .env("LC_ALL", "C")
            .args(&a);
        run(&mut c)
    };
    let rw = format!("{}:/mnt/data", s(&data));
    let ro = format!("{}:/etc/app.conf", s(&conf));
    // A read-write directory (made in the root), a read-only file (an empty file made
    // for it), on a read-only root.
    let out = sh(
        &[
            "--readonly",
            &format!("--bind={rw}"),
            &format!("--ro-bind={ro}"),
        ],
        "cat /mnt/data/in /etc/app.conf; echo new > /mnt/data/out; \
         echo x 2>/dev/null > /etc/app.conf || echo conf-ro; \
         touch /elsewhere 2>/dev/null || echo root-ro",
    );
    assert_eq!(ok(&out), "host file\nsetting=1\nconf-ro\nroot-ro\n");
    assert_eq!(fs::read_to_string(data.join("out")).unwrap(), "new\n");
    assert_eq!(fs::read_to_string(&conf).unwrap(), "setting=1\n");
    assert!(r.path().join("mnt/data").is_dir());
    assert_eq!(
        fs::metadata(r.path().join("etc/app.conf")).unwrap().len(),
        0
    );
    // --ro-bind covers the mounts under SRC too; no DEST: the same path; with --pivot.
    let sub = data.join("sub");
    fs::create_dir(&sub).unwrap();
    let out = run(Command::new("unshare").args(["--mount", "--fork", "--"]).args([
        "sh",
        "-c",
        &format!(
            "mount --make-rprivate / && mount -t tmpfs t {sub} && exec {cr} --pivot --ro-bind={d} {root} /bin/bash -c 'touch {sub}/x 2>/dev/null || echo sub-ro; ls {d}'",
            sub = s(&sub),
            cr = chroot_rs().display(),
            d = s(&data),
            root = s(r.path()),
        ),
    ]));
    assert_eq!(ok(&out), "sub-ro\nin\nout\nsub\n");
    assert!(!sub.join("x").exists());
    // Refusals: one line, 125, nothing left mounted.
    fs::create_dir_all(r.path().join("real")).unwrap();
    std::os::unix::fs::symlink("/real", r.path().join("link")).unwrap();
    for (args, want) in [
        (
            vec!["--bind=/nonexistent-ctools:/x".to_string()],
            "cannot bind '/nonexistent-ctools': No such file or directory",
        ),
        (
            vec![format!("--bind={}:/link/d", s(&data))],
            "refusing to use",
        ),
        (
            vec![format!("--bind={}:/", s(&data))],
            "the destination is the new root itself",
        ),
        (vec!["--bind=:/x".to_string()], "no source"),
    ] {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = sh(&a, "true");
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        let e = text(&out.stderr);
        assert!(e.contains(want), "{args:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    assert!(!r.path().join("real/d").exists());
    // In the host's mount namespace: refused with the hint.
    let out =
        run(Command::new(chroot_rs()).args([&format!("--bind={rw}"), s(r.path()), "/bin/true"]));
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("mount namespace of its own"));
}

#[test]
fn console_socket_hands_the_terminal_out_and_command_is_pid_1() {
    if !gate("chroot_rs::root::console_socket_hands_the_terminal_out_and_command_is_pid_1") {
        return;
    }
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let root = root_with(&["sh", "tty"]);
    let dir = cttest::tempdir().expect("tempdir");
    let sock = dir.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    // The receiver: runc's protocol, one SCM_RIGHTS descriptor; then the
    // master read until every holder of the slave has closed it.
    let receiver = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let (master, name) = chroot_rs::tty::recv_fd(conn.as_raw_fd()).unwrap();
        let mut f = fs::File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        (String::from_utf8_lossy(&out).replace('\r', ""), name)
    });
    let o = run(Command::new("unshare")
        .args(["--mount", "--pid", "--fork", "--"])
        .arg(chroot_rs())
        .args(["--pivot", "--proc", "--dev", "--console-socket"])
        .arg(&sock)
        .arg(root.path())
        .args([
            "/bin/sh",
            "-c",
            "tty; read p rest </proc/self/stat; echo pid=$p; test -t 0 && test -t 1 && test -t 2 && echo std-are-ttys; exit 7",
        ])
        .stdin(std::process::Stdio::null()));
    let (out, name) = receiver.join().unwrap();
    assert_eq!(name, b"/dev/ptmx");
    assert_eq!(
        out,
        "/dev/pts/0\npid=1\nstd-are-ttys\n",
        "{}",
        text(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
    assert!(
        o.stdout.is_empty(),
        "nothing on the caller's streams: {o:?}"
    );
    // With --tty: a usage error; a socket nobody listens on: one line, 125.
    let o = run(Command::new("unshare")
        .args(["--mount", "--fork", "--"])
        .arg(chroot_rs())
        .args(["--pivot", "--dev", "--tty", "--console-socket"])
        .arg(&sock)
        .arg(root.path())
        .arg("/bin/sh"));
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("--tty and --console-socket are mutually exclusive"));
    let o = run(Command::new("unshare")
        .args(["--mount", "--fork", "--"])
        .arg(chroot_rs())
        .args(["--pivot", "--dev", "--console-socket"])
        .arg(dir.path().join("none"))
        .arg(root.path())
        .arg("/bin/sh"));
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(text(&o.stderr).lines().count(), 1, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("cannot connect to the console socket"));
}
