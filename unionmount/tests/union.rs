//! Real union mounts, as root, each inside a private mount namespace made
//! by util-linux `unshare -m --propagation private`: whatever a test
//! mounts disappears with the namespace, even when the test fails.  The
//! layers stay on disk, so their content is checked from here afterwards.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use cttest::{ok, text};

fn bin() -> PathBuf {
    cttest::bin("unionmount")
}

/// Run a bash script in a private mount namespace, in `dir`, with `$U`
/// the unionmount binary.
fn in_ns(dir: &Path, script: &str) -> Output {
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "bash", "-c", script])
        .current_dir(dir)
        .env("U", bin())
        .env_remove("UNIONMOUNT_FORCE_MOUNT2");
    cttest::run_with_timeout(&mut c, Duration::from_secs(120))
}

fn write(p: &Path, s: &str) {
    if let Some(d) = p.parent() {
        fs::create_dir_all(d).unwrap();
    }
    fs::write(p, s).unwrap();
}

fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let cp = CString::new(p.as_os_str().as_bytes()).unwrap();
    let cn = CString::new(name).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid C strings and a buffer of the given length.
    let n =
        unsafe { libc::lgetxattr(cp.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).ok()?;
    buf.truncate(n);
    Some(buf)
}

fn is_whiteout(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0)
}

/// The document's A and B: A has a and x, B has b and x.
fn document_layers(t: &Path) {
    write(&t.join("A/a"), "a\n");
    write(&t.join("A/x"), "x of A\n");
    write(&t.join("B/b"), "b\n");
    write(&t.join("B/x"), "x of B\n");
    fs::create_dir_all(t.join("C")).unwrap();
}

#[test]
fn document_experiment_overlay_form() {
    if !cttest::require_root("unionmount::document_experiment_overlay_form") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    document_layers(t.path());
    let out = in_ns(
        t.path(),
        r#"set -e
$U -o dirs=./A:./B=ro none ./C
echo "ls: $(ls C | tr '\n' ' ')"
echo "x: $(cat C/x)"
echo hello >> C/a
echo "A/a: $(cat A/a | tr '\n' ' ')"
echo hello1 >> A/a
echo "C/a: $(cat C/a | tr '\n' ' ')"
grep -c ' - overlay ' /proc/self/mountinfo
"#,
    );
    let stdout = ok(&out);
    assert!(out.stderr.is_empty(), "stderr: {}", text(&out.stderr));
    assert!(stdout.contains("ls: a b x \n"), "{stdout}");
    assert!(stdout.contains("x: x of A\n"), "{stdout}");
    assert!(stdout.contains("A/a: a hello \n"), "{stdout}");
    assert!(stdout.contains("C/a: a hello hello1 \n"), "{stdout}");
    // B untouched; the writes landed in A.
    assert_eq!(
        fs::read_to_string(t.path().join("B/x")).unwrap(),
        "x of B\n"
    );
    assert_eq!(
        fs::read_to_string(t.path().join("A/a")).unwrap(),
        "a\nhello\nhello1\n"
    );
    // The work directory is a sibling of A.
    assert!(t.path().join(".A.work").is_dir());
}

#[test]
fn three_syntaxes_same_union_and_work_dir_reused() {
    if !cttest::require_root("unionmount::three_syntaxes_same_union_and_work_dir_reused") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    document_layers(t.path());
    let out = in_ns(
        t.path(),
        r#"set -e
show() { echo "$1: $(ls C | tr '\n' ' ')$(cat C/x)"; $U -u C; }
$U A:B=ro C; show short
$U --lower B --upper A C; show overlay
$U -o lowerdir=B,upperdir=A,workdir=W none C; show options
$U --lower B --upper A --work W C -- true; show exec
$U B=ro:A C; echo "ro-short: $(cat C/x)"; ! touch C/new 2>/dev/null; $U -u C
"#,
    );
    let stdout = ok(&out);
    for name in ["short", "overlay", "options", "exec"] {
        assert!(
            stdout.contains(&format!("{name}: a b x x of A\n")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("ro-short: x of B\n"), "{stdout}");
    // -u removes the work directory unionmount made beside A, and keeps one that was given.
    assert!(!t.path().join(".A.work").exists());
    assert!(t.path().join("W/work").is_dir());
}

#[test]
fn copy_up_whiteout_opaque_and_redirect() {
    if !cttest::require_root("unionmount::copy_up_whiteout_opaque_and_redirect") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    fs::create_dir_all(p.join("A")).unwrap();
    fs::create_dir_all(p.join("C")).unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::create_dir_all(p.join("B/d/sub")).unwrap();
    fs::write(p.join("B/onlyb"), &data).unwrap();
    fs::write(p.join("B/gone"), "gone\n").unwrap();
    write(&p.join("B/d/sub/f"), "f\n");
    write(&p.join("B/mv/inner"), "inner\n");
    let out = in_ns(
        p,
        r#"set -e
$U --kernel-defaults -o dirs=A:B=ro,redirect_dir=off none C
echo more >> C/onlyb
rm C/gone
rm -r C/d
mkdir C/d
echo "d: [$(ls -A C/d)]"
perl -e 'rename("C/mv", "C/mv2") or print "rename: $!\n"'
$U -u C
$U -o dirs=A:B=ro none C
mv -T C/mv C/mv2 && perl -e 'rename("C/mv2", "C/mv3") or print "rename2: $!\n"'
echo "mv3: $(cat C/mv3/inner)"
"#,
    );
    let stdout = ok(&out);
    // Copy-up: A has B's bytes plus the append; B is byte-identical.
    let mut want = data.clone();
    want.extend_from_slice(b"more\n");
    assert_eq!(fs::read(p.join("A/onlyb")).unwrap(), want);
    assert_eq!(fs::read(p.join("B/onlyb")).unwrap(), data);
    // Deletion: a whiteout in A, B intact.
    assert!(is_whiteout(&p.join("A/gone")), "A/gone is no whiteout");
    assert!(p.join("B/gone").exists());
    // A deleted and recreated directory is opaque and empty.
    assert!(stdout.contains("d: []\n"), "{stdout}");
    assert_eq!(
        xattr(&p.join("A/d"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(p.join("B/d/sub/f").exists());
    // Without redirect_dir the kernel refuses to rename a lower directory...
    assert!(
        stdout.contains("rename: Invalid cross-device link"),
        "{stdout}"
    );
    // ...with it, rename(2) works and A records the redirect.
    assert!(!stdout.contains("rename2:"), "{stdout}");
    assert!(stdout.contains("mv3: inner\n"), "{stdout}");
    assert!(xattr(&p.join("A/mv3"), "trusted.overlay.redirect").is_some());
    assert!(p.join("B/mv/inner").exists());
}

#[test]
fn read_only_unions() {
    if !cttest::require_root("unionmount::read_only_unions") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    document_layers(t.path());
    let out = in_ns(
        t.path(),
        r#"
$U -o dirs=A=ro:B=ro none C || exit 9
echo "two: $(ls C | tr '\n' ' ')"; touch C/new 2>&1 | grep -o 'Read-only file system'; $U -u C
$U -o dirs=B=RO none C || exit 9
echo "one: $(ls C | tr '\n' ' ')"; touch C/new 2>&1 | grep -o 'Read-only file system'
grep " $PWD/C " /proc/self/mountinfo | grep -o ' ro,' ; $U -u C
$U --lower A --lower B C || exit 9
echo "lowers: $(cat C/x)"; $U -u C
$U --read-only --lower B --upper A C || exit 9
echo "upper-ro: $(cat C/x)"; touch C/new 2>&1 | grep -o 'Read-only file system'; $U -u C
"#,
    );
    let stdout = ok(&out);
    assert!(stdout.contains("two: a b x \n"), "{stdout}");
    assert!(stdout.contains("one: b x \n"), "{stdout}");
    assert_eq!(
        stdout.matches("Read-only file system").count(),
        3,
        "{stdout}"
    );
    assert!(stdout.contains(" ro,"), "{stdout}");
    assert!(stdout.contains("lowers: x of A\n"), "{stdout}");
    assert!(stdout.contains("upper-ro: x of A\n"), "{stdout}");
    assert!(!t.path().join("A/new").exists());
    // A read-only union needs no work directory.
    assert!(!t.path().join(".B.work").exists());
}

fn many_layers(p: &Path, n: usize) -> String {
    for i in 1..=n {
        fs::create_dir_all(p.join(format!("many/{i}"))).unwrap();
    }
    write(&p.join(format!("many/{n}/bottom")), "bottom\n");
    fs::create_dir_all(p.join("A")).unwrap();
    fs::create_dir_all(p.join("C")).unwrap();
    (1..=n)
        .map(|i| format!("many/{i}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn five_hundred_layers_both_apis() {
    if !cttest::require_root("unionmount::five_hundred_layers_both_apis") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let list = many_layers(t.path(), 500);
    let script = format!(
        r#"set -e
$U --overlay -o dirs=A:{list} none C
echo "new: $(cat C/bottom)"
grep " $PWD/C " /proc/self/mountinfo | grep -o 'lowerdir+=' | wc -l
$U -u C
UNIONMOUNT_FORCE_MOUNT2=1 $U --overlay -o dirs=A:{list} none C
echo "old: $(cat C/bottom)"
$U -u C
"#
    );
    let stdout = ok(&in_ns(t.path(), &script));
    assert!(stdout.contains("new: bottom\n"), "{stdout}");
    assert!(stdout.contains("\n500\n"), "{stdout}");
    assert!(stdout.contains("old: bottom\n"), "{stdout}");
}

#[test]
fn five_hundred_and_one_layers_refused() {
    if !cttest::require_root("unionmount::five_hundred_and_one_layers_refused") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let list = many_layers(t.path(), 501);
    let script = format!(
        r#"$U --overlay -o dirs=A:{list} none C; echo "rc=$?"
grep -c " $PWD/C " /proc/self/mountinfo"#
    );
    let out = in_ns(t.path(), &script);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(stdout.contains("rc=125\n0\n"), "{stdout}");
    assert!(
        stderr.contains("too many lower directories, limit is 500"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!t.path().join(".A.work").exists());
}

#[test]
fn paths_longer_than_256_bytes() {
    if !cttest::require_root("unionmount::paths_longer_than_256_bytes") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let seg = "l".repeat(120);
    let deep = t.path().join(format!("{seg}/{seg}/{seg}"));
    assert!(deep.as_os_str().len() > 256);
    write(&deep.join("low/f"), "deep lower\n");
    fs::create_dir_all(deep.join("up")).unwrap();
    fs::create_dir_all(t.path().join("C")).unwrap();
    let d = deep.display();
    let script = format!(
        r#"set -e
$U --lower {d}/low --upper {d}/up C
echo "new: $(cat C/f)"; echo w > C/w; $U -u C
$U --mount2 --lower {d}/low --upper {d}/up C
echo "old: $(cat C/f)"; $U -u C
"#
    );
    let stdout = ok(&in_ns(t.path(), &script));
    assert!(stdout.contains("new: deep lower\n"), "{stdout}");
    assert!(stdout.contains("old: deep lower\n"), "{stdout}");
    assert_eq!(fs::read_to_string(deep.join("up/w")).unwrap(), "w\n");
    // -u found the long work path in mountinfo and removed it.
    assert!(!deep.join(".up.work").exists());
}

#[test]
fn mount2_fallback_with_long_option_strings() {
    if !cttest::require_root("unionmount::mount2_fallback_with_long_option_strings") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    // 60 layers of 100-byte names in one directory (relative names fit a
    // page), then interleaved with layers elsewhere (they need descriptors).
    let deep = p.join("d".repeat(100));
    let mut same = Vec::new();
    let mut mixed = Vec::new();
    for i in 0..60 {
        let a = deep.join(format!("{i:03}{}", "x".repeat(97)));
        let b = p.join(format!("other/{}/{i}", "o".repeat(100)));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        same.push(format!("--lower {}", a.display()));
        mixed.push(format!("--lower {} --lower {}", a.display(), b.display()));
    }
    write(
        &deep.join(format!("059{}/bottom", "x".repeat(97))),
        "bottom\n",
    );
    fs::create_dir_all(p.join("A")).unwrap();
    fs::create_dir_all(p.join("C")).unwrap();
    let script = format!(
        r#"set -e
$U --mount2 {same} --upper A C
echo "same: $(cat C/bottom)"; $U -u C
$U --mount2 {mixed} --upper A C
echo "mixed: $(cat C/bottom)"; $U -u C
echo "cwd: $PWD"
"#,
        same = same.join(" "),
        mixed = mixed.join(" ")
    );
    let stdout = ok(&in_ns(p, &script));
    assert!(stdout.contains("same: bottom\n"), "{stdout}");
    assert!(stdout.contains("mixed: bottom\n"), "{stdout}");
}

/// Run one refused mount; return its stderr, after checking that it
/// failed with 125, left nothing mounted on C and printed one line.
fn refused(dir: &Path, setup: &str, cmd: &str) -> String {
    let script =
        format!("{setup}\n{cmd}; echo \"rc=$?\"\ngrep -c \" $PWD/C \" /proc/self/mountinfo; true");
    let out = in_ns(dir, &script);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        stdout.ends_with("rc=125\n0\n"),
        "{cmd}: {stdout} / {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{cmd}: {stderr}");
    assert!(stderr.starts_with("unionmount: "), "{stderr}");
    stderr
}

#[test]
fn refusals_are_clear_and_leave_nothing() {
    if !cttest::require_root("unionmount::refusals_are_clear_and_leave_nothing") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    document_layers(p);
    fs::create_dir_all(p.join("T")).unwrap();
    fs::create_dir_all(p.join("O")).unwrap();
    let tmpfs = "mount -t tmpfs umtest T && mkdir T/w";

    let e = refused(p, tmpfs, "$U --lower B --upper A --work T/w C");
    assert!(
        e.contains("workdir and upperdir must reside under the same mount"),
        "{e}"
    );
    let e = refused(
        p,
        tmpfs,
        "$U --lower B --upper A --work T/fresh C; r=$?; [ ! -e T/fresh ] || echo LEFT >&2; (exit $r)",
    );
    assert!(
        e.contains("workdir and upperdir must reside under the same mount"),
        "{e}"
    );

    // Upper layer on an overlay.
    let e = refused(
        p,
        "$U A:B=ro O && mkdir -p O/sub",
        "$U --overlay --lower B --upper O/sub C",
    );
    assert!(e.contains("not supported as upperdir"), "{e}");
    // (O/.sub.work would be A/.sub.work on disk.)
    assert!(!p.join("A/.sub.work").exists());

    // Missing directories: nothing created.
    let e = refused(p, "", "$U -o dirs=A:nope=ro none C");
    assert!(
        e.contains("lower layer nope: No such file or directory"),
        "{e}"
    );
    let e = refused(p, "", "$U --lower B --upper nope C");
    assert!(
        e.contains("upper layer nope: No such file or directory"),
        "{e}"
    );
    assert!(!p.join("nope").exists() && !p.join(".nope.work").exists());
    let e = refused(p, "", "$U A:B nowhere");
    assert!(
        e.contains("mount point nowhere: No such file or directory"),
        "{e}"
    );

    // An upper layer already in use.
    let e = refused(p, "$U A:B=ro O", "$U A:B=ro C");
    assert!(
        e.contains("already the upper layer of the union mounted on"),
        "{e}"
    );

    // The kernel's own reason for an unknown option.
    let e = refused(p, "", "$U -o dirs=A:B=ro,bogus none C");
    assert!(e.contains("Unknown parameter 'bogus'"), "{e}");
    let e = refused(p, "", "$U --overlay -o dirs=A:B=rw none C");
    assert!(e.contains("only the first branch can be writable"), "{e}");
    let e = refused(p, "", "$U --mount2 -o dirs=A:B=ro,bogus none C");
    assert!(e.contains("overlay"), "{e}");
}

#[test]
fn exec_chaining_and_umount() {
    if !cttest::require_root("unionmount::exec_chaining_and_umount") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    document_layers(t.path());
    let out = in_ns(
        t.path(),
        r#"
$U A:B=ro C -- cat C/x
$U -u C
$U A:B=ro C -- sh -c 'exit 7'; echo "rc=$?"
$U -u C
$U A:B=ro C -- /no/such/program; echo "rc=$?"
(cd C && $U -u ../C; echo "busy rc=$?")
(cd C && $U -u --lazy ../C; echo "lazy rc=$?")
$U -u C; echo "rc=$?"
"#,
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(stdout.starts_with("x of A\nrc=7\n"), "{stdout}");
    assert!(stdout.contains("rc=127\n"), "{stdout}");
    assert!(stdout.contains("busy rc=125\n"), "{stdout}");
    assert!(stderr.contains("--lazy"), "{stderr}");
    assert!(stdout.contains("lazy rc=0\n"), "{stdout}");
    assert!(stderr.contains("not a mount point"), "{stderr}");
    // The unions lived as long as the namespace: none is left here.
    let here = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!here.contains(&t.path().display().to_string()), "{here}");
}

/// The binary linked under a helper name in a directory of ours.
fn helper_link(dir: &Path, name: &str) -> PathBuf {
    let l = dir.join(name);
    std::os::unix::fs::symlink(bin(), &l).unwrap();
    l
}

#[test]
fn mount_helper_argv0() {
    if !cttest::require_root("unionmount::mount_helper_argv0") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    document_layers(t.path());
    let h = helper_link(t.path(), "mount.unionmount");
    let f = helper_link(t.path(), "mount.fuse.unionmount");
    let script = format!(
        r#"
{h} none C -o rw,dirs=A:B -n; echo "rc=$?"; echo "helper: $(cat C/x)"; $U -u C
{f} unionmount C -o rw,lowerdir=B,upperdir=A,workdir=W,dev,suid; echo "rc=$?"; echo "fuse: $(cat C/x)"; $U -u C
{h} none C -f -o dirs=A:B; echo "fake rc=$?"; grep -c " $PWD/C " /proc/self/mountinfo
{h} none C -o dirs=A:nope; echo "fail rc=$?"
{h} C; echo "usage rc=$?"
"#,
        h = h.display(),
        f = f.display()
    );
    let out = in_ns(t.path(), &script);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        stdout.contains("rc=0\nhelper: x of A\n"),
        "{stdout} {stderr}"
    );
    assert!(stdout.contains("rc=0\nfuse: x of A\n"), "{stdout} {stderr}");
    assert!(stdout.contains("fake rc=0\n0\n"), "{stdout}");
    assert!(stdout.contains("fail rc=32\n"), "{stdout}");
    assert!(stdout.contains("usage rc=1\n"), "{stdout}");
    assert!(stderr.contains("mount.unionmount: "), "{stderr}");
}

#[test]
fn mount_8_and_fstab() {
    if !cttest::require_root("unionmount::mount_8_and_fstab") {
        return;
    }
    let _g = cttest::serial("mount");
    let sbin = Path::new("/sbin/mount.unionmount");
    if sbin.symlink_metadata().is_ok() {
        // Installed already: use it as it is, leave it alone.
        eprintln!("note: {} exists, testing through it", sbin.display());
    } else {
        std::os::unix::fs::symlink(bin(), sbin).unwrap();
    }
    let _rm = cttest::defer(|| {
        if fs::read_link(sbin).is_ok_and(|l| l == bin()) {
            let _ = fs::remove_file(sbin);
        }
    });
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    document_layers(p);
    let fstab = p.join("fstab");
    fs::write(
        &fstab,
        format!(
            "# test\nnone {0}/C unionmount dirs={0}/A:{0}/B,nosuid 0 0\n",
            p.display()
        ),
    )
    .unwrap();
    let script = format!(
        r#"set -e
mount -t unionmount -o dirs=A:B none C
echo "mount: $(cat C/x)"
umount C
mount -T {fstab} {p}/C
echo "fstab: $(cat C/x)"
grep " {p}/C " /proc/self/mountinfo | grep -o nosuid
"#,
        fstab = fstab.display(),
        p = p.display()
    );
    let stdout = ok(&in_ns(p, &script));
    assert!(stdout.contains("mount: x of A\n"), "{stdout}");
    assert!(stdout.contains("fstab: x of A\nnosuid\n"), "{stdout}");
}

#[test]
fn rootless_union_in_user_namespace() {
    if !cttest::require_root("unionmount::rootless_union_in_user_namespace") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    document_layers(p);
    fs::create_dir_all(p.join("B/dir")).unwrap();
    write(&p.join("B/dir/f"), "f\n");
    for e in ["", "A", "B", "B/dir", "C"] {
        let d = p.join(e);
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
    }
    let mut c = Command::new("unshare");
    std::os::unix::process::CommandExt::uid(&mut c, 65534);
    std::os::unix::process::CommandExt::gid(&mut c, 65534);
    c.args(["-U", "-r", "-m", "--propagation", "private", "bash", "-c"])
        .arg(
            r#"set -e
$U A:B=ro C
echo "x: $(cat C/x)"
echo new > C/new
rm -r C/dir
mkdir C/dir
grep " $PWD/C " /proc/self/mountinfo | grep -o userxattr
$U -u C
$U --mount2 A:B=ro C
echo "mount2: $(cat C/new)"
"#,
        )
        .current_dir(p)
        .env("U", bin());
    let out = cttest::run_with_timeout(&mut c, Duration::from_secs(60));
    let stdout = ok(&out);
    assert!(stdout.contains("x: x of A\n"), "{stdout}");
    assert!(stdout.contains("userxattr"), "{stdout}");
    assert!(stdout.contains("mount2: new\n"), "{stdout}");
    assert_eq!(fs::read_to_string(p.join("A/new")).unwrap(), "new\n");
    assert_eq!(
        xattr(&p.join("A/dir"), "user.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
}

/// Issue 15's defaults, without any option: renames of a lower, an upper
/// and a merged directory work (redirect_dir=on), hard links of a lower
/// file, and a file keeps its device and inode numbers across copy-up and
/// remount while the layers are on two file systems (xino=on).
#[test]
fn defaults_renames_hard_links_and_stable_inodes() {
    if !cttest::require_root("unionmount::defaults_renames_hard_links_and_stable_inodes") {
        return;
    }
    let _g = cttest::serial("mount");
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    for d in ["L", "A/udir", "A/mdir", "C"] {
        fs::create_dir_all(p.join(d)).unwrap();
    }
    write(&p.join("A/udir/u"), "u\n");
    write(&p.join("A/mdir/um"), "um\n");
    let out = in_ns(
        p,
        r#"set -e
mount -t tmpfs lowerfs L
mkdir -p L/ldir/sub L/mdir
echo f > L/ldir/sub/f; echo lf > L/lfile; echo lf2 > L/lfile2; echo m > L/mdir/m
$U --dry-run L:A C | grep mount_options | grep -o 'xino=[a-z]*\|redirect_dir=[a-z]*' | sort | tr '\n' ' '; echo
$U --dry-run --kernel-defaults --lower L --upper A C | grep -c 'redirect_dir\|xino' || true
$U --lower L --upper A C
grep " $PWD/C " /proc/self/mountinfo | grep -o 'redirect_dir=on\|xino=on' | sort | tr '\n' ' '; echo
sd() { stat -c '%d %i' "$1"; }
echo "root-dev $(stat -c %d C) lfile-dev $(stat -c %d C/lfile) udir-dev $(stat -c %d C/udir/u)"
before=$(sd C/lfile)
echo more >> C/lfile
echo "copy-up same: $([ "$before" = "$(sd C/lfile)" ] && echo yes || echo no)"
dbefore=$(sd C/ldir)
perl -e 'rename("C/ldir", "C/ldir2") or die "rename lower: $!\n"'
perl -e 'rename("C/udir", "C/udir2") or die "rename upper: $!\n"'
perl -e 'rename("C/mdir", "C/mdir2") or die "rename merged: $!\n"'
echo "dir same: $([ "$dbefore" = "$(sd C/ldir2)" ] && echo yes || echo no)"
echo "ls: $(ls C | tr '\n' ' ')"
echo "ldir2: $(cat C/ldir2/sub/f) udir2: $(cat C/udir2/u) mdir2: $(ls C/mdir2 | tr '\n' ' ')"
perl -e 'rename("C/ldir2/sub", "C/udir2/sub") or die "rename across: $!\n"'
echo "moved sub: $(cat C/udir2/sub/f)"
ln C/lfile2 C/hl
echo "links: $(stat -c %h C/hl) same: $([ "$(sd C/hl)" = "$(sd C/lfile2)" ] && echo yes || echo no)"
echo through >> C/hl
echo "lfile2: $(cat C/lfile2 | tr '\n' ' ')"
$U -u C
$U --lower L --upper A C
echo "after remount same: $([ "$before" = "$(sd C/lfile)" ] && echo yes || echo no)"
echo "ls2: $(ls C | tr '\n' ' ') $(cat C/udir2/sub/f)"
$U -u C
"#,
    );
    let stdout = ok(&out);
    for want in [
        "redirect_dir=on xino=on \n",
        "\n0\n",
        "copy-up same: yes\n",
        "dir same: yes\n",
        "ls: ldir2 lfile lfile2 mdir2 udir2 \n",
        "ldir2: f udir2: u mdir2: m um \n",
        "moved sub: f\n",
        "links: 2 same: yes\n",
        "lfile2: lf2 through \n",
        "after remount same: yes\n",
        "ls2: hl ldir2 lfile lfile2 mdir2 udir2  f\n",
    ] {
        assert!(stdout.contains(want), "want {want:?} in:\n{stdout}");
    }
    // One device number for the root, a copied-up lower file and an upper
    // file.
    let line = stdout.lines().find(|l| l.starts_with("root-dev")).unwrap();
    let v: Vec<&str> = line.split_whitespace().collect();
    assert!(v[1] == v[3] && v[1] == v[5], "{line}");
    // The lower layer (a tmpfs of the namespace, gone) was never written:
    // the renames are redirects in A.
    assert!(xattr(&p.join("A/ldir2"), "trusted.overlay.redirect").is_some());
    assert!(is_whiteout(&p.join("A/ldir")));
}
