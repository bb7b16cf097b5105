//! `--import LAYER.tar`: whiteouts and opaque directories as overlayfs reads
//! them (checked by mounting), and malicious archives refused.

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

/// Make a tar with Python's tarfile from a small spec: lines of
/// `f NAME CONTENT`, `d NAME`, `l NAME TARGET` (symlink), `h NAME TARGET`.
fn mktar(out: &Path, spec: &str, gz: bool) -> bool {
    let script = r#"
import sys, tarfile, io
out, gz, spec = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
t = tarfile.open(out, "w:gz" if gz else "w", format=tarfile.PAX_FORMAT)
for line in spec.strip().splitlines():
    kind, name, *rest = line.split(" ", 2)
    i = tarfile.TarInfo(name)
    i.mtime = 1700000000
    if kind == "f":
        data = (rest[0] if rest else "").encode()
        i.size = len(data); i.mode = 0o644
        t.addfile(i, io.BytesIO(data))
    elif kind == "d":
        i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
    elif kind == "l":
        i.type = tarfile.SYMTYPE; i.linkname = rest[0]; t.addfile(i)
    elif kind == "h":
        i.type = tarfile.LNKTYPE; i.linkname = rest[0]; t.addfile(i)
t.close()
"#;
    let Ok(o) = Command::new("/usr/bin/python3")
        .args([
            "-c",
            script,
            out.to_str().unwrap(),
            if gz { "1" } else { "0" },
            spec,
        ])
        .output()
    else {
        return false;
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    true
}

#[test]
fn whiteouts_and_opaque_dirs_mount_as_overlay() {
    if !cttest::require_root("mkrootfs::whiteouts_and_opaque_dirs_mount_as_overlay") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    let lower = p.join("lower");
    std::fs::create_dir_all(lower.join("d")).unwrap();
    std::fs::write(lower.join("foo"), "lower").unwrap();
    std::fs::write(lower.join("keep"), "keep").unwrap();
    std::fs::write(lower.join("d/old"), "old").unwrap();
    let spec = "d ./\nf bar bar-data\nf .wh.foo\nd d\nf d/.wh..wh..opq\nf d/new new\nl link bar\nh hl bar\nd deep/a/b/c\nf deep/a/b/c/long-name-that-is-quite-long-to-need-a-pax-header-because-it-exceeds-one-hundred-bytes-xxxxxxxxxxxxxxxxxxx.txt ok\n";
    for gz in [false, true] {
        let tar = p.join(if gz { "layer.tar.gz" } else { "layer.tar" });
        if !mktar(&tar, spec, gz) {
            return;
        }
        let l1 = p.join(if gz { "l1gz" } else { "l1" });
        ok(&mkrootfs(&[
            "--import",
            tar.to_str().unwrap(),
            l1.to_str().unwrap(),
        ]));
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let md = std::fs::symlink_metadata(l1.join("foo")).unwrap();
        assert!(
            md.file_type().is_char_device() && md.rdev() == 0,
            "whiteout is a 0:0 char device"
        );
        assert!(!l1.join(".wh.foo").exists() && !l1.join("d/.wh..wh..opq").exists());
        assert_eq!(
            std::fs::read_link(l1.join("link")).unwrap(),
            Path::new("bar")
        );
        assert_eq!(
            std::fs::metadata(l1.join("hl")).unwrap().ino(),
            std::fs::metadata(l1.join("bar")).unwrap().ino()
        );
        assert_eq!(md.mtime(), 0.max(md.mtime()));
        let merged = p.join(if gz { "mgz" } else { "m" });
        std::fs::create_dir(&merged).unwrap();
        let _g = cttest::serial("mount");
        let o = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg("mount -t overlay overlay -o \"lowerdir=$1:$2\" \"$3\" && cd \"$3\" && ls -A && echo -- && ls -A d && cat bar")
            .arg("sh")
            .arg(&l1)
            .arg(&lower)
            .arg(&merged)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            out, "bar\nd\ndeep\nhl\nkeep\nlink\n--\nnew\nbar-data",
            "foo whited out, d opaque"
        );
    }
}

#[test]
fn malicious_layers_are_refused_and_write_nothing() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    let outside = p.join("outside");
    std::fs::create_dir(&outside).unwrap();
    let cases = [
        ("dotdot", "f ../escaped x\n".to_string(), "'..'"),
        (
            "through-link",
            format!("l esc {}\nf esc/pwned x\n", outside.display()),
            "goes through a link",
        ),
        (
            "rel-link-out",
            "l up ../../..\n".to_string(),
            "leaves the root",
        ),
        (
            "hardlink-out",
            "h hl ../../../etc/passwd\n".to_string(),
            "'..'",
        ),
        // a leading '/' is stripped: /etc/passwd is the layer's, absent
        (
            "hardlink-abs",
            "h hl /etc/passwd\n".to_string(),
            "hard link",
        ),
        (
            "hardlink-via-link",
            format!("l esc {}\nh hl esc/file\n", outside.display()),
            "hard link",
        ),
        ("wh-dotdot", "f d/.wh...\n".to_string(), "whiteout"),
    ];
    std::fs::write(outside.join("file"), "secret").unwrap();
    for (name, spec, why) in cases {
        let tar = p.join(format!("{name}.tar"));
        if !mktar(&tar, &format!("f first x\n{spec}"), false) {
            return;
        }
        let dest = p.join(format!("dest-{name}"));
        let o = mkrootfs(&["--import", tar.to_str().unwrap(), dest.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{name}: {err}");
        assert!(err.contains(why), "{name}: {err}");
        assert!(!dest.exists(), "{name}: nothing written");
        assert!(!p.join("escaped").exists() && !outside.join("pwned").exists());
    }
    // An existing symlink in DIR is not written through either.
    let dest = p.join("pre");
    std::fs::create_dir(&dest).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("esc")).unwrap();
    let tar = p.join("pre.tar");
    mktar(&tar, "f esc/pwned x\n", false);
    let o = mkrootfs(&["--import", tar.to_str().unwrap(), dest.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125));
    assert!(!outside.join("pwned").exists());
    // Garbage is an error too.
    std::fs::write(p.join("junk.tar"), vec![7u8; 2048]).unwrap();
    let o = mkrootfs(&[
        "--import",
        p.join("junk.tar").to_str().unwrap(),
        p.join("dj").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert!(!p.join("dj").exists());
}
