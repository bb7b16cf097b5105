//! How host files get into a root: copy (copy_file_range), --link (hard
//! links on one file system, a copy across), --reflink (FICLONE, a copy
//! where the file system cannot clone). Every mode must give the same tree.

mod common;
use common::*;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// A listing of a tree that two roots made the same way share exactly: for
/// each entry its type, mode, owner, size and link target, the time of every
/// file copied from the host (directories, links and the generated /etc are
/// made now), then every regular file's digest.
const LISTING: &str = r#"cd "$1" && find . ! -type d -printf '%p %y %m %U %G %s %l\n' | sort &&
find . -type f ! -path './etc/*' -printf '%p %T@\n' | sort &&
find . -type d -printf '%p %m %U %G\n' | sort &&
find . -type f -print0 | sort -z | xargs -0 -r md5sum"#;

fn listing(dir: &Path) -> String {
    let o = Command::new("sh")
        .args(["-c", LISTING, "sh"])
        .arg(dir)
        .output()
        .unwrap();
    ok(&o)
}

/// Fixture files in `src`: modes, owners, a setuid file, an empty one, one
/// big enough to take several copy_file_range rounds, and a link.
fn fixtures(src: &Path) {
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let big: Vec<u8> = (0..5_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(src.join("big.bin"), &big).unwrap();
    std::fs::write(src.join("empty"), b"").unwrap();
    std::fs::write(src.join("sub/secret"), b"secret\n").unwrap();
    std::fs::write(src.join("sub/suid"), b"#!/bin/sh\n").unwrap();
    std::fs::write(src.join("sub/owned"), b"owned\n").unwrap();
    std::os::unix::fs::symlink("sub/secret", src.join("link")).unwrap();
    let mode = |p: &str, m: u32| {
        std::fs::set_permissions(src.join(p), std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode("sub/secret", 0o640);
    mode("sub/suid", 0o4755);
    mode("big.bin", 0o600);
    std::os::unix::fs::chown(src.join("sub/owned"), Some(1234), Some(5678)).unwrap();
}

fn ino(p: &Path) -> (u64, u64) {
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.dev(), m.ino())
}

fn build(root: &Path, src: &Path, mode: Option<&str>) -> String {
    let srcarg = format!("{}:/data", src.display());
    let mut args = vec!["-v", "--file", &srcarg];
    if let Some(m) = mode {
        args.push(m);
    }
    let r = root.to_str().unwrap();
    args.extend([r, "bash", "ls", "id"]);
    let o = mkrootfs(&args);
    ok(&o);
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// "mkrootfs: N files copied, N linked, N cloned, ..." -> (copied, linked, cloned)
fn counts(verbose: &str) -> (usize, usize, usize) {
    let line = verbose
        .lines()
        .find(|l| l.contains(" files copied,"))
        .unwrap_or_else(|| panic!("no summary in {verbose}"));
    let nums: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (nums[0], nums[1], nums[2])
}

#[test]
fn copy_link_and_reflink_make_the_same_tree() {
    if !cttest::require_root!() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fixtures(&src);
    let (copy, link, refl) = (
        t.path().join("copy"),
        t.path().join("link"),
        t.path().join("reflink"),
    );
    let vc = build(&copy, &src, None);
    let vl = build(&link, &src, Some("--link"));
    let vr = build(&refl, &src, Some("--reflink"));
    let want = listing(&copy);
    assert!(want.contains("./data/sub/suid f 4755 0 0 10 \n"), "{want}");
    assert!(
        want.contains("./data/sub/owned f 644 1234 5678 6 \n"),
        "{want}"
    );
    assert!(
        want.contains("./data/big.bin f 600 0 0 5000000 \n"),
        "{want}"
    );
    assert_eq!(listing(&link), want, "--link gives the copy's tree");
    assert_eq!(listing(&refl), want, "--reflink gives the copy's tree");

    // copy: new inodes, everything counted as copied
    let (c, l, k) = counts(&vc);
    assert!(c > 5 && l == 0 && k == 0, "{vc}");
    for f in ["big.bin", "empty", "sub/secret", "sub/suid", "sub/owned"] {
        assert_ne!(ino(&copy.join("data").join(f)), ino(&src.join(f)), "{f}");
        // --link: the same file as the source (same file system: both in t)
        assert_eq!(ino(&link.join("data").join(f)), ino(&src.join(f)), "{f}");
    }
    let (c, l, k) = counts(&vl);
    assert!(l >= 5 && k == 0, "{vl}");
    // the generated /etc files are written, not linked
    assert!(c >= 1, "{vl}");
    assert!(
        std::fs::symlink_metadata(link.join("data/link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // host programs are linked too when /usr shares the test's file system
    let bash = Path::new("/usr/bin/bash");
    if ino(bash).0 == ino(t.path()).0 {
        assert_eq!(ino(&link.join("usr/bin/bash")), ino(bash));
    }
    // --reflink: every file is either cloned or (no reflink here) copied
    let (c, l, k) = counts(&vr);
    assert_eq!(l, 0, "{vr}");
    assert_eq!(c + k, counts(&vc).0, "{vr}");

    // Re-running on an up-to-date tree changes nothing.
    let again = build(&link, &src, Some("--link"));
    assert_eq!(counts(&again), (0, 0, 0), "{again}");
    assert_eq!(listing(&link), want);
}

#[test]
fn link_across_file_systems_and_reflink_without_support_copy() {
    if !cttest::require_root!() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fixtures(&src);
    let copy = t.path().join("copy");
    build(&copy, &src, None);
    let want = listing(&copy);
    // The other file system, a tmpfs, lives in a mount namespace of its own.
    let fs = t.path().join("tmpfs");
    std::fs::create_dir(&fs).unwrap();
    let script = format!(
        r#"set -e
mount -t tmpfs -o size=512m tmpfs "$1"
"$2" -v --link --file "$3:/data" "$1/link" bash ls id 2>"$1/link.err"
"$2" -v --reflink --file "$3:/data" "$1/reflink" bash ls id 2>"$1/reflink.err"
echo "== link"; cat "$1/link.err"
echo "== reflink"; cat "$1/reflink.err"
echo "== ino"; stat -c '%d:%i' "$1/link/data/big.bin" "$3/big.bin"
echo "== list link"; sh -c '{LISTING}' sh "$1/link"
echo "== list reflink"; sh -c '{LISTING}' sh "$1/reflink"
echo "== end"
"#,
        LISTING = LISTING.replace('\'', r"'\''")
    );
    let _g = cttest::serial("mount");
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(&fs)
        .arg(cttest::bin("mkrootfs"))
        .arg(&src)
        .output()
        .unwrap();
    let out = ok(&o);
    let part = |name: &str| {
        let start = out.find(&format!("== {name}\n")).unwrap() + name.len() + 4;
        let end = start + out[start..].find("\n== ").unwrap() + 1;
        out[start..end].to_string()
    };
    let (c, l, _) = counts(&part("link"));
    assert!(l == 0 && c > 5, "--link across file systems copies: {out}");
    let (c, l, k) = counts(&part("reflink"));
    assert!(k == 0 && l == 0 && c > 5, "tmpfs cannot clone: {out}");
    let ino_part = part("ino");
    let inos: Vec<&str> = ino_part.lines().collect();
    assert_ne!(inos[0], inos[1], "{out}");
    assert_eq!(part("list link"), want);
    assert_eq!(part("list reflink"), want);
}

#[test]
fn link_and_reflink_are_for_directories() {
    for m in ["--link", "--reflink"] {
        let o = mkrootfs(&[m, "-o", "/dev/null", "bash"]);
        assert_eq!(o.status.code(), Some(125), "{o:?}");
    }
    let o = mkrootfs(&["--link", "--reflink", "/nonexistent/r", "bash"]);
    assert_eq!(o.status.code(), Some(125), "{o:?}");
}
