//! `--import` of layers as the ecosystem writes them: GNU tar's gnu and pax
//! formats (long names, long link targets, hard links, set-id bits, owners,
//! fifos), gzip (one member or several), zstd (one frame, several, a
//! skippable frame first), umoci's entry named `/`, hard links to an earlier
//! layer, and failures that leave DIR as it was.

mod common;
use common::*;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Entries of a tree with type, mode, owner, size, second of mtime (files)
/// and link target, then the digest of every regular file.
const LISTING: &str = r#"cd "$1" && find . -mindepth 1 ! -type d -printf '%p %y %m %U %G %s %l\n' | sort &&
find . -type f -printf '%p %Ts\n' | sort &&
find . -mindepth 1 -type d -printf '%p %m %U %G\n' | sort &&
find . -type f -print0 | sort -z | xargs -0 -r md5sum"#;

fn listing(dir: &Path) -> String {
    ok(&Command::new("sh")
        .args(["-c", LISTING, "sh"])
        .arg(dir)
        .output()
        .unwrap())
}

fn sh(script: &str, args: &[&Path]) {
    let o = Command::new("sh")
        .args(["-c", script, "sh"])
        .args(args)
        .output()
        .unwrap();
    ok(&o);
}

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A source tree with what layers carry.
fn tree(src: &Path) {
    let long = "d".repeat(90);
    sh(
        &format!(
            r#"set -e
cd "$1"
mkdir -p usr/bin etc home/user {long}/{long}/{long}
printf 'hello\n' > etc/hello
head -c 300000 /usr/bin/ls > usr/bin/big
echo deep > {long}/{long}/{long}/file-with-a-long-name-{long}
ln {long}/{long}/{long}/file-with-a-long-name-{long} hardlink
ln etc/hello etc/hello2
ln -s ../../{long}/{long}/{long}/file-with-a-long-name-{long} usr/bin/longlink
ln -s hello etc/short
printf '#!/bin/sh\n' > usr/bin/suid; chmod 4755 usr/bin/suid
chown 1000:1000 home/user; chmod 700 home/user
printf 'u\n' > home/user/f; chown 1000:1000 home/user/f
mkfifo etc/fifo
chmod 640 etc/hello
touch -d '2001-02-03 04:05:06' etc/hello usr/bin/big
"#
        ),
        &[src],
    );
}

fn import(layer: &Path, dest: &Path) -> std::process::Output {
    mkrootfs(&["--import", layer.to_str().unwrap(), dest.to_str().unwrap()])
}

fn ino(p: &Path) -> u64 {
    std::fs::symlink_metadata(p).unwrap().ino()
}

#[test]
fn gnu_tar_formats_gzip_and_zstd_unpack_to_the_same_tree() {
    if !cttest::require_root!()
        || !cttest::require("layers::zstd", have("zstd"), "needs zstd (make deps)")
    {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    let src = p.join("src");
    std::fs::create_dir(&src).unwrap();
    tree(&src);
    let want = listing(&src);
    let mut layers: Vec<PathBuf> = Vec::new();
    for fmt in ["gnu", "pax"] {
        let tar = p.join(format!("{fmt}.tar"));
        sh(
            &format!(r#"tar --format={fmt} --numeric-owner -C "$1" -cf "$2" ."#),
            &[&src, &tar],
        );
        layers.push(tar.clone());
        // gzip, and gzip in two members (pigz and concatenated streams)
        let gz = p.join(format!("{fmt}.tar.gz"));
        sh(r#"gzip -c "$1" > "$2""#, &[&tar, &gz]);
        layers.push(gz);
        let gz2 = p.join(format!("{fmt}.2.tar.gz"));
        sh(
            r#"head -c 100000 "$1" | gzip -c > "$2"; tail -c +100001 "$1" | gzip -c >> "$2""#,
            &[&tar, &gz2],
        );
        layers.push(gz2);
        // zstd: one frame, two frames, a skippable frame first (zstd:chunked)
        let zst = p.join(format!("{fmt}.tar.zst"));
        sh(r#"zstd -q -c "$1" > "$2""#, &[&tar, &zst]);
        layers.push(zst);
        let zst2 = p.join(format!("{fmt}.2.tar.zst"));
        sh(
            r#"printf '\120\052\115\030\004\000\000\000skip' > "$2"
head -c 100000 "$1" | zstd -q -c >> "$2"; tail -c +100001 "$1" | zstd -q -c --no-check >> "$2""#,
            &[&tar, &zst2],
        );
        layers.push(zst2);
    }
    for l in &layers {
        let dest = p.join(format!("out-{}", l.file_name().unwrap().to_string_lossy()));
        ok(&import(l, &dest));
        assert_eq!(listing(&dest), want, "{}", l.display());
        let long = "d".repeat(90);
        assert_eq!(
            ino(&dest.join("hardlink")),
            ino(&dest.join(format!("{long}/{long}/{long}/file-with-a-long-name-{long}"))),
            "{}",
            l.display()
        );
        assert_eq!(ino(&dest.join("etc/hello")), ino(&dest.join("etc/hello2")));
        assert!(
            std::fs::symlink_metadata(dest.join("etc/fifo"))
                .unwrap()
                .file_type()
                .is_fifo()
        );
    }
    // A corrupted checksum is an error, and leaves nothing.
    for (name, at) in [("gnu.tar.gz", 8), ("gnu.tar.zst", 4)] {
        let mut b = std::fs::read(p.join(name)).unwrap();
        let n = b.len();
        b[n - at] ^= 0x55;
        let bad = p.join(format!("bad-{name}"));
        std::fs::write(&bad, b).unwrap();
        let dest = p.join(format!("out-bad-{name}"));
        let o = import(&bad, &dest);
        assert_eq!(o.status.code(), Some(125), "{name}: {o:?}");
        assert!(!dest.exists(), "{name}: nothing left");
    }
}

/// A tar from a spec, with Python's tarfile (names exactly as given).
fn mktar(out: &Path, spec: &str) {
    let script = r#"
import sys, tarfile, io
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
for line in sys.argv[2].strip().splitlines():
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
    elif kind == "c":
        i.type = tarfile.CHRTYPE; i.devmajor, i.devminor = 1, 3; i.mode = 0o666; t.addfile(i)
t.close()
"#;
    let o = Command::new("/usr/bin/python3")
        .args(["-c", script, out.to_str().unwrap(), spec])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn leading_slash_stripped_opaque_dirs_and_links_across_layers() {
    if !cttest::require_root!() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    // umoci insert DIR / writes an entry named "/"; podman and GNU tar strip the '/'
    let l1 = p.join("l1.tar");
    mktar(
        &l1,
        "d /\nd /etc\nf /etc/x one\nf /etc/y y\nd /d\nf /d/old old\nh /etc/hl /etc/x\n",
    );
    let dest = p.join("root");
    ok(&import(&l1, &dest));
    assert_eq!(std::fs::read_to_string(dest.join("etc/x")).unwrap(), "one");
    assert_eq!(ino(&dest.join("etc/hl")), ino(&dest.join("etc/x")));
    // A second layer over the first in the same DIR: whiteout, opaque
    // directory, and a hard link to a file of the first layer.
    let l2 = p.join("l2.tar");
    mktar(
        &l2,
        "f etc/.wh.y\nd d\nf d/.wh..wh..opq\nf d/new new\nh etc/x2 etc/x\n",
    );
    ok(&import(&l2, &dest));
    let y = std::fs::symlink_metadata(dest.join("etc/y")).unwrap();
    assert!(y.file_type().is_char_device() && y.rdev() == 0, "whiteout");
    assert_eq!(ino(&dest.join("etc/x2")), ino(&dest.join("etc/x")));
    let o = Command::new("getfattr")
        .args(["--only-values", "-n", "trusted.overlay.opaque"])
        .arg(dest.join("d"))
        .output();
    if let Ok(o) = o
        && o.status.success()
    {
        assert_eq!(String::from_utf8_lossy(&o.stdout), "y");
    }
    // The same hard link into a layer directory of its own has no target.
    let alone = p.join("alone");
    let o = import(&l2, &alone);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("hard link to etc/x"),
        "{o:?}"
    );
    assert!(!alone.exists());
}

#[test]
fn failures_leave_dir_as_it_was() {
    if !cttest::require_root!() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    // Entries are written before the bad one is met.
    let bad = p.join("bad.tar");
    mktar(
        &bad,
        "d a\nf a/one 1\nf a/two 2\nd b\nf b/three 3\nl b/up ../../..\n",
    );
    // a missing DIR stays missing
    let missing = p.join("missing");
    let o = import(&bad, &missing);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("leaves the root"),
        "{o:?}"
    );
    assert!(!missing.exists());
    // an empty DIR (contain makes it first) stays empty
    let empty = p.join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(import(&bad, &empty).status.code(), Some(125));
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    // a DIR with content keeps it, and gets nothing
    let full = p.join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep"), "k").unwrap();
    assert_eq!(import(&bad, &full).status.code(), Some(125));
    assert_eq!(
        std::fs::read_dir(&full)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<Vec<_>>(),
        ["keep"]
    );
    // a gzip stream cut short after its first files
    sh(
        r#"tar -C /usr/bin -cf - id bash | gzip -c | head -c 300000 > "$1""#,
        &[&p.join("cut.tar.gz")],
    );
    let o = import(&p.join("cut.tar.gz"), &empty);
    assert_eq!(o.status.code(), Some(125), "{o:?}");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    let o = import(&p.join("cut.tar.gz"), &full);
    assert_eq!(o.status.code(), Some(125), "{o:?}");
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);
    // a plain tar cut short (its contents are copied by the kernel, not read)
    sh(
        r#"tar -C /usr/bin -cf - id bash | head -c 600000 > "$1""#,
        &[&p.join("cut.tar")],
    );
    for d in [&empty, &full] {
        let o = import(&p.join("cut.tar"), d);
        assert_eq!(o.status.code(), Some(125), "{o:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("truncated"),
            "{o:?}"
        );
    }
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);
    // xz is no layer format: said so
    std::fs::write(p.join("x.tar.xz"), b"\xfd7zXZ\0rest").unwrap();
    let o = import(&p.join("x.tar.xz"), &p.join("x"));
    assert_eq!(o.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("xz-compressed"),
        "{o:?}"
    );
}

#[test]
fn device_nodes_need_the_right_to_make_them() {
    if !cttest::require_root!() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    let l = p.join("dev.tar");
    mktar(&l, "d dev\nf dev/before x\nc dev/null\n");
    // root: made
    let d = p.join("root");
    ok(&import(&l, &d));
    let md = std::fs::symlink_metadata(d.join("dev/null")).unwrap();
    assert!(md.file_type().is_char_device() && md.rdev() == libc::makedev(1, 3));
    // anyone else: refused before anything is written
    let u = p.join("user");
    std::fs::create_dir(&u).unwrap();
    std::os::unix::fs::chown(&u, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(cttest::bin("mkrootfs"))
        .args(["--import"])
        .arg(&l)
        .arg(&u)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("device node in layer refused"),
        "{o:?}"
    );
    assert_eq!(std::fs::read_dir(&u).unwrap().count(), 0);
}

#[test]
fn gnu_sparse_files_read_pax_sparse_refused() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    let src = p.join("src");
    std::fs::create_dir(&src).unwrap();
    sh(
        r#"truncate -s 10M "$1/sparse" && printf hello | dd of="$1/sparse" bs=1 seek=5000000 conv=notrunc 2>/dev/null
tar --format=gnu -S -C "$1" -cf "$2/gnu.tar" . && tar --format=pax -S -C "$1" -cf "$2/pax.tar" ."#,
        &[&src, p],
    );
    let out = p.join("gnu");
    ok(&import(&p.join("gnu.tar"), &out));
    assert!(
        std::fs::read(out.join("sparse")).unwrap() == std::fs::read(src.join("sparse")).unwrap()
    );
    let out = p.join("pax");
    let o = import(&p.join("pax.tar"), &out);
    assert_eq!(o.status.code(), Some(125), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("sparse file in pax format"),
        "{o:?}"
    );
    assert!(!out.exists());
}

/// The layers of the image `tag` of an OCI layout, bottom first.
fn layout_layers(layout: &Path, tag: &str) -> Vec<PathBuf> {
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let ix: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let m = ix["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap();
    let man: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(m["digest"].as_str().unwrap())).unwrap())
            .unwrap();
    man["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| blob(l["digest"].as_str().unwrap()))
        .collect()
}

#[test]
fn umoci_insert_and_repack_layers_and_skopeo_zstd() {
    if !cttest::require_root!()
        || !cttest::require("layers::umoci", have("umoci"), "needs umoci (make deps)")
    {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    // insert SRC / writes the entry "/"; repack after changes writes whiteouts
    sh(
        r#"set -e
cd "$1"
mkdir -p src/etc src/d src/home/u
echo a > src/etc/a; echo b > src/d/b; echo keep > src/etc/keep
chown 1000:1000 src/home/u; ln -s ../etc/keep src/d/link
find src -exec touch -h -d @1700000000 {} +   # umoci rounds times to the second
umoci init --layout L >/dev/null
umoci new --image L:t >/dev/null
umoci insert --image L:t src / >/dev/null
umoci unpack --image L:t bundle >/dev/null
rm bundle/rootfs/etc/a
rm -rf bundle/rootfs/d; mkdir bundle/rootfs/d; echo n > bundle/rootfs/d/new
umoci repack --image L:t2 bundle >/dev/null
"#,
        &[p],
    );
    let l1 = layout_layers(&p.join("L"), "t");
    assert_eq!(l1.len(), 1);
    let dest = p.join("one");
    ok(&import(&l1[0], &dest));
    assert_eq!(listing(&dest), listing(&p.join("src")));
    let layers = layout_layers(&p.join("L"), "t2");
    assert_eq!(layers.len(), 2);
    let root = p.join("root");
    for l in &layers {
        ok(&import(l, &root));
    }
    let wh = |rel: &str| {
        let m = std::fs::symlink_metadata(root.join(rel)).unwrap();
        m.file_type().is_char_device() && m.rdev() == 0
    };
    assert!(wh("etc/a") && wh("d/b") && wh("d/link"), "whiteouts");
    assert_eq!(std::fs::read_to_string(root.join("d/new")).unwrap(), "n\n");
    assert_eq!(
        std::fs::read_to_string(root.join("etc/keep")).unwrap(),
        "keep\n"
    );
    assert_eq!(std::fs::metadata(root.join("home/u")).unwrap().uid(), 1000);
    // The same image recompressed by skopeo (containers/image) as zstd.
    if !cttest::require("layers::skopeo", have("skopeo"), "needs skopeo (make deps)") {
        return;
    }
    sh(
        r#"cd "$1" && skopeo --insecure-policy copy -q --dest-compress-format zstd oci:L:t2 oci:Z:t2"#,
        &[p],
    );
    let zst = layout_layers(&p.join("Z"), "t2");
    let zroot = p.join("zroot");
    for l in &zst {
        assert_eq!(&std::fs::read(l).unwrap()[..4], b"\x28\xb5\x2f\xfd", "zstd");
        ok(&import(l, &zroot));
    }
    assert_eq!(listing(&zroot), listing(&root));
}
