//! The FUSE backend, for real, as root: funionfs's semantics (every
//! branch writable unless =ro), each script in a private mount namespace
//! (util-linux `unshare -m`); the branches stay on disk and are checked
//! from here afterwards.  An equivalent of unionmount-testsuite's coverage:
//! opens with their flags, truncate, renames of files and directories
//! across branches, hard links, symlinks, whiteouts, readdir after each
//! change, inode and device numbers.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cttest::{ok, text};

fn bin() -> PathBuf {
    cttest::bin("unionmount")
}

fn in_ns(dir: &Path, script: &str) -> Output {
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "bash", "-c", script])
        .current_dir(dir)
        .env("U", bin());
    cttest::run_with_timeout(&mut c, Duration::from_secs(120))
}

fn write(p: &Path, s: &str) {
    if let Some(d) = p.parent() {
        fs::create_dir_all(d).unwrap();
    }
    fs::write(p, s).unwrap();
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| format!("<{e}>"))
}

fn is_whiteout(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0)
}

fn has(stdout: &str, wants: &[&str]) {
    for w in wants {
        assert!(stdout.contains(w), "want {w:?} in:\n{stdout}");
    }
}

/// The daemons of ours that serve a union of branches under `dir`: our
/// binary, holding a descriptor of a directory there.
fn daemons(dir: &Path) -> Vec<u32> {
    let exe = fs::canonicalize(bin()).unwrap();
    let dir = fs::canonicalize(dir).unwrap();
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id()
            || fs::read_link(e.path().join("exe")).ok().as_deref() != Some(exe.as_path())
        {
            continue;
        }
        let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        if stat
            .rsplit_once(") ")
            .is_some_and(|(_, r)| r.starts_with('Z'))
        {
            continue;
        }
        let holds = fs::read_dir(e.path().join("fd")).is_ok_and(|fds| {
            fds.flatten()
                .any(|f| fs::read_link(f.path()).is_ok_and(|l| l.starts_with(&dir)))
        });
        if holds {
            out.push(pid);
        }
    }
    out
}

/// Wait (up to a minute: cleanup, not a timing) until no daemon of ours
/// serves a union under `dir`; returns those left.
fn daemons_gone(dir: &Path) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let d = daemons(dir);
        if d.is_empty() || start.elapsed() > Duration::from_secs(60) {
            return d;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kill what a failed test left.
fn reap(dir: &Path) {
    for pid in daemons(dir) {
        // SAFETY: a signal to a process of ours.
        unsafe { libc::kill(pid.cast_signed(), libc::SIGKILL) };
    }
}

fn document_layers(t: &Path) {
    write(&t.join("A/a"), "a\n");
    write(&t.join("A/x"), "x of A\n");
    write(&t.join("B/b"), "b\n");
    write(&t.join("B/x"), "x of B\n");
    fs::create_dir_all(t.join("C")).unwrap();
}

/// The document's experiment with funionfs's meaning: both branches are
/// writable, so each edit lands in the branch that holds the file.
#[test]
fn document_experiment_both_branches_writable() {
    if !cttest::require_root("unionmount::fuse::document_experiment_both_branches_writable") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    let _reap = cttest::defer(|| reap(p));
    document_layers(p);
    let out = in_ns(
        p,
        r#"set -e
$U -o dirs=./A:./B none ./C
grep " $PWD/C " /proc/self/mountinfo | grep -o ' - fuse.unionmount none '
echo "ls: $(ls C | tr '\n' ' ')"
echo "x: $(cat C/x)"
echo hello >> C/a
echo hello >> C/b
echo hello >> C/x
echo new > C/new
echo "A: $(cd A && ls | tr '\n' ' ') B: $(cd B && ls | tr '\n' ' ')"
echo "A/a: $(cat A/a | tr '\n' ' ') B/b: $(cat B/b | tr '\n' ' ') A/x: $(cat A/x | tr '\n' ' ')"
echo hello1 >> A/a
echo "C/a: $(cat C/a | tr '\n' ' ')"
rm C/x
echo "after rm x: $(ls C | tr '\n' ' ')"
$U -u C
"#,
    );
    let stdout = ok(&out);
    has(
        &stdout,
        &[
            " - fuse.unionmount none \n",
            "ls: a b x \n",
            "x: x of A\n",
            "A: a new x  B: b x \n",
            "A/a: a hello  B/b: b hello  A/x: x of A hello \n",
            "C/a: a hello hello1 \n",
            "after rm x: a b new \n",
        ],
    );
    // B's x was deleted too (B is writable), so nothing is left to hide.
    assert!(!p.join("A/x").exists() && !p.join("B/x").exists());
    assert_eq!(read(&p.join("B/b")), "b\nhello\n");
    // No work directory, no daemon left.
    assert!(!p.join(".A.work").exists());
    assert_eq!(daemons_gone(p), Vec::<u32>::new());
}

/// The overlay form beside it (B read-only): copy-up into A, whiteouts in
/// A that the kernel's overlay reads back the same.
#[test]
fn read_only_branch_copy_up_and_whiteouts() {
    if !cttest::require_root("unionmount::fuse::read_only_branch_copy_up_and_whiteouts") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    let _reap = cttest::defer(|| reap(p));
    document_layers(p);
    write(&p.join("B/d/f"), "f\n");
    let out = in_ns(
        p,
        r#"set -e
$U --fuse -o dirs=./A:./B=ro none ./C
echo hello >> C/b
rm C/x
rm -r C/d
mkdir C/d
echo "ls: $(ls C | tr '\n' ' ') d: [$(ls C/d)]"
touch C/d/g
$U -u C
$U --overlay A:B C
echo "overlay: $(ls C | tr '\n' ' ') d: [$(ls C/d | tr '\n' ' ')]"
$U -u C
"#,
    );
    let stdout = ok(&out);
    has(
        &stdout,
        &["ls: a b d  d: []\n", "overlay: a b d  d: [g ]\n"],
    );
    assert_eq!(read(&p.join("A/b")), "b\nhello\n");
    assert_eq!(read(&p.join("B/b")), "b\n");
    assert!(is_whiteout(&p.join("A/x")), "A/x is no whiteout");
    assert_eq!(read(&p.join("B/x")), "x of B\n");
    assert!(p.join("B/d/f").exists());
    assert_eq!(daemons_gone(p), Vec::<u32>::new());
}

/// Opens, truncate, renames, links, symlinks, whiteouts, readdir and inode
/// numbers over three branches: A and B writable, R read-only.  (A new
/// mount gets a new device number: across remounts the inode is compared.)
#[test]
fn operations_across_branches() {
    if !cttest::require_root("unionmount::fuse::operations_across_branches") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    let _reap = cttest::defer(|| reap(p));
    for (f, s) in [
        ("R/r_file", "r\n"),
        ("R/r_big", "0123456789\n"),
        ("R/r_only", "ro\n"),
        ("R/r_dir/f", "f\n"),
        ("R/r_stable", "s\n"),
        ("R/r_link", "l\n"),
        ("R/m/r", "r\n"),
        ("B/m/b", "b\n"),
        ("A/m/a", "a\n"),
        ("A/ad/a", "a\n"),
        ("B/ad/b", "b\n"),
        ("B/b_file", "b\n"),
    ] {
        write(&p.join(f), s);
    }
    fs::create_dir_all(p.join("C")).unwrap();
    let out = in_ns(
        p,
        r#"
ls_() { echo "$1: $(ls -A C | tr '\n' ' ')"; }
sd() { stat -c '%d %i' "$1"; }
$U -o dirs=A:B:R=ro none C || exit 9
ls_ start
before=$(sd C/r_stable)
echo "dev: $(stat -c %d C) $(stat -c %d C/r_file) $(stat -c %d C/m/a) $(stat -c %d C/b_file)"
: > C/r_file; ls_ trunc
echo "r_file: [$(cat C/r_file)]"
truncate -s 3 C/r_big; echo "r_big: $(cat C/r_big)"
echo more >> C/b_file
perl -MFcntl -e 'sysopen(F, "C/b_file", O_WRONLY|O_CREAT|O_EXCL) or print "excl: $!\n"'
perl -MFcntl -e 'sysopen(F, "C/nofile", O_RDONLY) or print "noent: $!\n"'
perl -MFcntl -e 'sysopen(F, "C/fresh", O_RDWR|O_CREAT|O_EXCL, 0640) or die; print F "fresh\n"'
echo x >> C/r_stable; echo "stable: $([ "$before" = "$(sd C/r_stable)" ] && echo yes || echo no)"
echo "d_ino: $([ "$(ls -i C | awk '$2 == "r_stable" {print $1}')" = "$(stat -c %i C/r_stable)" ] && echo yes || echo no)"
mv C/b_file C/b_file2; ls_ mv-in-branch
perl -e 'rename("C/r_file", "C/moved") or print "rename: $!\n"'; ls_ mv-from-ro
perl -e 'rename("C/ad", "C/ad2") or print "rename ad: $!\n"'; ls_ mv-dir-rw
echo "ad2: $(ls C/ad2 | tr '\n' ' ')"
perl -e 'rename("C/m", "C/m2") or print "rename m: $!\n"'; ls_ mv-dir-ro
echo "m2: $(ls C/m2 | tr '\n' ' ')"
mkdir C/sub; perl -e 'rename("C/m2/a", "C/sub/a") or print "rename a: $!\n"'
echo "sub: $(ls C/sub) m2: $(ls C/m2 | tr '\n' ' ')"
rmdir C/m2 2>&1 | grep -o 'Directory not empty'
ln C/r_link C/hl; echo "links: $(stat -c %h C/hl) same: $([ "$(sd C/hl)" = "$(sd C/r_link)" ] && echo yes || echo no)"
echo through >> C/hl; echo "r_link: $(cat C/r_link | tr '\n' ' ')"
ln -s r_only C/sl; echo "sl: $(readlink C/sl) $(cat C/sl)"
rm C/r_only; ls_ rm-ro
cat C/sl 2>&1 | grep -o 'No such file or directory'
echo again > C/r_only; echo "r_only: $(cat C/r_only)"; ls_ recreate
rm -r C/r_dir; mkdir C/r_dir; echo "r_dir: [$(ls -A C/r_dir)]"
chmod 600 C/r_big; echo "mode: $(stat -c %a C/r_big)"
python3 -c 'import os; os.setxattr("C/fresh", "user.k", b"v"); print("xattr:", os.getxattr("C/fresh", "user.k").decode(), [n for n in os.listxattr("C/r_big") if "overlay" in n or "unionmount" in n])'
$U -u C
$U -o dirs=A:B:R=ro none C || exit 9
echo "remount stable: $([ "${before#* }" = "$(stat -c %i C/r_stable)" ] && echo yes || echo no)"
ls_ remount
$U -u C
"#,
    );
    let stdout = ok(&out);
    has(
        &stdout,
        &[
            "start: ad b_file m r_big r_dir r_file r_link r_only r_stable \n",
            "trunc: ad b_file m r_big r_dir r_file r_link r_only r_stable \n",
            "r_file: []\n",
            "r_big: 012\n",
            "excl: File exists\n",
            "noent: No such file or directory\n",
            "stable: yes\n",
            "d_ino: yes\n",
            "mv-in-branch: ad b_file2 fresh m r_big r_dir r_file r_link r_only r_stable \n",
            "mv-from-ro: ad b_file2 fresh m moved r_big r_dir r_link r_only r_stable \n",
            "mv-dir-rw: ad2 b_file2 fresh m moved r_big r_dir r_link r_only r_stable \n",
            "ad2: a b \n",
            "mv-dir-ro: ad2 b_file2 fresh m2 moved r_big r_dir r_link r_only r_stable \n",
            "m2: a b r \n",
            "sub: a m2: b r \n",
            "Directory not empty\n",
            "links: 2 same: yes\n",
            "r_link: l through \n",
            "sl: r_only ro\n",
            "rm-ro: ad2 b_file2 fresh hl m2 moved r_big r_dir r_link r_stable sl sub \n",
            "No such file or directory\n",
            "r_only: again\n",
            "r_dir: []\n",
            "mode: 600\n",
            "xattr: v []\n",
            "remount stable: yes\n",
            "remount: ad2 b_file2 fresh hl m2 moved r_big r_dir r_link r_only r_stable sl sub \n",
        ],
    );
    assert!(!stdout.contains("rename"), "{stdout}");
    // One device number for the whole union.
    let dev = stdout.lines().find(|l| l.starts_with("dev: ")).unwrap();
    let v: Vec<&str> = dev.split_whitespace().skip(1).collect();
    assert!(v.iter().all(|d| *d == v[0]), "{dev}");
    // The read-only branch is untouched.
    for (f, s) in [
        ("R/r_file", "r\n"),
        ("R/r_big", "0123456789\n"),
        ("R/r_only", "ro\n"),
        ("R/r_dir/f", "f\n"),
        ("R/r_stable", "s\n"),
        ("R/r_link", "l\n"),
        ("R/m/r", "r\n"),
    ] {
        assert_eq!(read(&p.join(f)), s, "{f}");
    }
    // Copy-ups went to B, the nearest writable branch above R; new names
    // to A, the first writable branch; whiteouts where R holds a name.
    assert_eq!(read(&p.join("B/r_big")), "012");
    assert_eq!(read(&p.join("B/moved")), "");
    assert!(is_whiteout(&p.join("B/r_file")));
    assert!(is_whiteout(&p.join("B/m")));
    assert_eq!(read(&p.join("B/b_file2")), "b\nmore\n");
    assert_eq!(read(&p.join("A/fresh")), "fresh\n");
    assert_eq!(read(&p.join("A/r_only")), "again\n");
    assert!(is_whiteout(&p.join("B/r_only")));
    assert!(p.join("A/ad2/a").exists() && p.join("B/ad2/b").exists());
    assert!(!p.join("A/ad").exists() && !p.join("B/ad").exists());
    assert_eq!(
        fs::metadata(p.join("B/hl")).unwrap().ino(),
        fs::metadata(p.join("B/r_link")).unwrap().ino()
    );
    assert!(
        fs::symlink_metadata(p.join("A/sl"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(daemons_gone(p), Vec::<u32>::new());
}

/// Where the kernel refuses (an upper layer on an overlay, as inside a
/// container whose root is one), FUSE takes over by itself; --overlay
/// keeps the refusal.
#[test]
fn upper_on_overlay_inside_a_container_like_namespace() {
    if !cttest::require_root("unionmount::fuse::upper_on_overlay_inside_a_container_like_namespace")
    {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    let _reap = cttest::defer(|| reap(p));
    write(&p.join("img/etc/os"), "image\n");
    write(&p.join("L/l"), "lower\n");
    fs::create_dir_all(p.join("ctr/up")).unwrap();
    fs::create_dir_all(p.join("ctr/work")).unwrap();
    fs::create_dir_all(p.join("root")).unwrap();
    let out = in_ns(
        p,
        r#"set -e
# the container's root: an overlay, as contain makes it
mount -t overlay ctr -o lowerdir=img,upperdir=ctr/up,workdir=ctr/work root
mkdir -p root/u root/c
$U --dry-run --lower L --upper root/u root/c | grep -o '"backend": "fuse"'
$U --overlay --lower L --upper root/u root/c 2>&1 | grep -o 'not supported as upperdir' || true
$U --lower L --upper root/u root/c
grep " $PWD/root/c " /proc/self/mountinfo | grep -o ' - fuse.unionmount '
echo w > root/c/new; echo more >> root/c/l
echo "c: $(ls root/c | tr '\n' ' ') $(cat root/c/l | tr '\n' ' ')"
$U -u root/c
echo "up: $(ls root/u | tr '\n' ' ')"
"#,
    );
    let stdout = ok(&out);
    has(
        &stdout,
        &[
            "\"backend\": \"fuse\"",
            "not supported as upperdir",
            " - fuse.unionmount \n",
            "c: l new  lower more \n",
            "up: l new \n",
        ],
    );
    // The writes went through the container's overlay into its upper layer.
    assert_eq!(read(&p.join("ctr/up/u/new")), "w\n");
    assert_eq!(read(&p.join("L/l")), "lower\n");
    assert_eq!(daemons_gone(p), Vec::<u32>::new());
}

/// Exec-chaining: the daemon outlives the exec of PROGRAM, and the union
/// ends with PROGRAM, also when PROGRAM is killed; -u ends the daemon;
/// the mount helper mounts FUSE unions.
#[test]
fn exec_chaining_unmount_and_helper_leave_nothing() {
    if !cttest::require_root("unionmount::fuse::exec_chaining_unmount_and_helper_leave_nothing") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    let _reap = cttest::defer(|| reap(p));
    document_layers(p);
    let helper = p.join("mount.fuse.unionmount");
    std::os::unix::fs::symlink(bin(), &helper).unwrap();
    let out = in_ns(
        p,
        r#"
$U A:B C -- sh -c 'cat C/x; echo hi > C/chained; exit 7'; echo "rc=$?"
while grep -q " $PWD/C " /proc/self/mountinfo; do sleep 0.05; done
echo "exited: gone"
$U A:B C -- sleep 1000 &
while ! grep -q " $PWD/C " /proc/self/mountinfo; do sleep 0.05; done
ls C >/dev/null
kill -9 $!; wait $! 2>/dev/null
while grep -q " $PWD/C " /proc/self/mountinfo; do sleep 0.05; done
echo "killed: gone"
$U A:B C; echo "plain rc=$?"
cat C/x
$U -u C; echo "umount rc=$?"
./mount.fuse.unionmount none C -o rw,dirs=A:B; echo "helper rc=$?"
grep " $PWD/C " /proc/self/mountinfo | grep -o ' - fuse.unionmount none '
echo hb >> C/b
$U -u C
./mount.fuse.unionmount none C -o rw,fuse,lowerdir=B,upperdir=A,workdir=W; echo "helper2 rc=$?"
echo lo >> C/b
grep " $PWD/C " /proc/self/mountinfo | grep -o ' - fuse.unionmount none '
$U -u C
"#,
    );
    let stdout = ok(&out);
    has(
        &stdout,
        &[
            "x of A\nrc=7\nexited: gone\n",
            "killed: gone\n",
            "plain rc=0\nx of A\numount rc=0\n",
            "helper rc=0\n - fuse.unionmount none \n",
            "helper2 rc=0\n - fuse.unionmount none \n",
        ],
    );
    assert_eq!(read(&p.join("A/chained")), "hi\n");
    assert_eq!(read(&p.join("B/b")), "b\nhb\n");
    // With the overlay syntax B is read-only: the append copied b up.
    assert_eq!(read(&p.join("A/b")), "b\nhb\nlo\n");
    assert!(!p.join("W").exists());
    assert_eq!(daemons_gone(p), Vec::<u32>::new());
    let here = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!here.contains(&*p.to_string_lossy()), "{here}");
}

/// unionmount-testsuite's hard cases: a directory made where a whiteout
/// was is opaque, and stays so through rmdir and rename; a directory
/// renamed over a read-only one is a copy, and the numbers the file system
/// gives again to new objects are new inodes for the kernel.
#[test]
fn opaque_directories_and_reused_inode_numbers() {
    if !cttest::require_root("unionmount::fuse::opaque_directories_and_reused_inode_numbers") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    let _reap = cttest::defer(|| reap(p));
    write(&p.join("R/d/a"), "a\n");
    write(&p.join("R/p/a"), "a\n");
    fs::create_dir_all(p.join("R/e")).unwrap();
    fs::create_dir_all(p.join("A")).unwrap();
    fs::create_dir_all(p.join("C")).unwrap();
    let out = in_ns(
        p,
        r#"set -e
$U --fuse -o dirs=A:R=ro none C
rm C/d/a; mkdir C/d/a; rmdir C/d/a; echo "d: [$(ls -A C/d)]"
rm -r C/p; mkdir C/pn; perl -e 'rename("C/pn", "C/p") or die "$!"'; echo "p: [$(ls -A C/p)]"
rmdir C/p; echo "p gone: $(ls C | tr '\n' ' ')"
for i in 1 2 3 4 5; do
  mkdir C/n$i; echo x$i > C/n$i/f
  perl -e "rename('C/n$i', 'C/e') or die \"\$!\""
  mkdir C/m$i; echo "m$i: [$(ls -A C/m$i)] e: $(cat C/e/f)"
  rm -r C/e; mkdir C/e
done
$U -u C
"#,
    );
    let stdout = ok(&out);
    has(&stdout, &["d: []\n", "p: []\n", "p gone: d e \n"]);
    for i in 1..=5 {
        has(&stdout, &[&format!("m{i}: [] e: x{i}\n")]);
    }
    assert!(is_whiteout(&p.join("A/p")));
    assert_eq!(read(&p.join("R/d/a")), "a\n");
    assert_eq!(daemons_gone(p), Vec::<u32>::new());
}

/// A user (nobody) mounts through the setuid fusermount3, when there is
/// one; where /dev/fuse is root's alone (as on this project's machines)
/// fusermount3's own reason comes back on one line, and nothing is left.
#[test]
fn user_mounts_through_fusermount3() {
    if !cttest::require_root("unionmount::fuse::user_mounts_through_fusermount3") {
        return;
    }
    let has_fusermount = ["/usr/bin/fusermount3", "/bin/fusermount3"]
        .iter()
        .any(|p| Path::new(p).exists());
    if !cttest::require(
        "unionmount::fuse::user_mounts_through_fusermount3",
        has_fusermount,
        "no fusermount3 (Debian: fuse3)",
    ) {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    let _reap = cttest::defer(|| reap(p));
    document_layers(p);
    // nobody must reach the binary and the branches.
    let um = p.join("um");
    fs::copy(bin(), &um).unwrap();
    let out = cttest::sh(&format!(
        "chmod 755 {d} && chown -R nobody {d}/A {d}/B {d}/C && cd {d} && \
         su nobody -s /bin/sh -c './um A:B C; echo \"rc=$?\"; \
           if grep -q \" {d}/C \" /proc/self/mountinfo; then echo b >> C/b; ./um -u C; echo \"urc=$?\"; fi'",
        d = p.display()
    ));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    if stdout.contains("rc=0\n") {
        assert!(stdout.contains("urc=0\n"), "{stdout}{stderr}");
        assert_eq!(read(&p.join("B/b")), "b\nb\n");
    } else {
        assert!(stdout.contains("rc=125\n"), "{stdout}{stderr}");
        assert!(stderr.contains("fusermount"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    assert_eq!(daemons_gone(p), Vec::<u32>::new());
    let here = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!here.contains(&*p.to_string_lossy()), "{here}");
}
