//! End to end: roots that `chroot` can enter, archives, options.

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Stdio};

fn root_test(name: &str) -> Option<tempfile::TempDir> {
    if !cttest::require_root(name) {
        return None;
    }
    Some(tempfile::tempdir().unwrap())
}

fn txt(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn bash_ls_id_whoami_in_chroot() {
    let Some(t) = root_test("mkrootfs::bash_ls_id_whoami_in_chroot") else {
        return;
    };
    let r = t.path().join("r");
    ok(&mkrootfs(&[
        r.to_str().unwrap(),
        "bash",
        "ls",
        "id",
        "whoami",
        "/bin/sh",
    ]));
    let (out, err) = txt(&chroot(&r, &["/bin/bash", "-c", "ls /; id; whoami"]));
    assert_eq!(err, "");
    let dirs: Vec<&str> = out.lines().take(16).collect();
    assert_eq!(
        dirs,
        [
            "bin", "dev", "etc", "home", "lib", "lib64", "mnt", "opt", "proc", "root", "run",
            "sbin", "sys", "tmp", "usr", "var"
        ]
    );
    assert!(
        out.contains("uid=0(root) gid=0(root) groups=0(root)\nroot\n"),
        "{out}"
    );
    // merged /usr mirrored, no duplicate lib trees; /bin/sh -> dash kept
    if Path::new("/bin").is_symlink() {
        assert_eq!(
            std::fs::read_link(r.join("bin")).unwrap(),
            Path::new("usr/bin")
        );
        assert!(r.join("lib").is_symlink());
    }
    assert_eq!(
        std::fs::read_link(r.join("usr/bin/sh")).unwrap(),
        std::fs::read_link("/usr/bin/sh").unwrap()
    );
    let interp = mkrootfs::elf::parse(Path::new("/usr/bin/bash"))
        .unwrap()
        .unwrap()
        .interp
        .unwrap();
    assert!(
        r.join(interp.trim_start_matches('/')).exists(),
        "loader at its PT_INTERP path"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(r.join("tmp"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o1777
    );
    // Without the /etc defaults, names do not resolve.
    let r2 = t.path().join("r2");
    ok(&mkrootfs(&["--no-etc", r2.to_str().unwrap(), "id"]));
    let (out, _) = txt(&chroot(&r2, &["/usr/bin/id"]));
    assert_eq!(out, "uid=0 gid=0 groups=0\n");
}

#[test]
fn ps_needs_proc() {
    let Some(t) = root_test("mkrootfs::ps_needs_proc") else {
        return;
    };
    if !Path::new("/usr/bin/ps").exists() {
        return;
    }
    let r = t.path().join("r");
    ok(&mkrootfs(&[r.to_str().unwrap(), "ps"]));
    let o = chroot(&r, &["/usr/bin/ps"]);
    assert!(!o.status.success());
    assert!(
        txt(&o).1.contains("mount -t proc proc /proc") || !txt(&o).1.contains("shared libraries"),
        "{o:?}"
    );
    let o = chroot_proc(&r, &["/usr/bin/ps", "-o", "pid,comm"]);
    let (out, err) = txt(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("PID") && out.contains("ps"), "{out}");
}

#[test]
fn python_with_stdlib_and_ssl() {
    let Some(t) = root_test("mkrootfs::python_with_stdlib_and_ssl") else {
        return;
    };
    let py = Path::new("/usr/bin/python3");
    let Ok(real) = std::fs::canonicalize(py) else {
        return;
    };
    let ver = real.file_name().unwrap().to_string_lossy().into_owned(); // python3.11
    let stdlib = format!("/usr/lib/{ver}");
    if !Path::new(&stdlib).is_dir() {
        return;
    }
    let r = t.path().join("r");
    let o = mkrootfs(&["-n", r.to_str().unwrap(), "/usr/bin/python3"]);
    let listing = ok(&o);
    assert!(
        listing.contains("symlink /usr/bin/python3 -> "),
        "symlinked input kept as a link: {listing}"
    );
    ok(&mkrootfs(&[
        "--file",
        &stdlib,
        "--dev",
        r.to_str().unwrap(),
        "/usr/bin/python3",
    ]));
    let (out, err) = txt(&chroot(
        &r,
        &[
            "/usr/bin/python3",
            "-c",
            "import ssl, sys; print(42, ssl.OPENSSL_VERSION.split()[0], sys.prefix)",
        ],
    ));
    assert_eq!(out, "42 OpenSSL /usr\n", "{err}");
}

#[test]
fn inputs_from_stdin_and_incremental_rerun() {
    let Some(t) = root_test("mkrootfs::inputs_from_stdin_and_incremental_rerun") else {
        return;
    };
    let r = t.path().join("r");
    let run = || {
        let mut c = cttest::cmd("mkrootfs")
            .args(["-v", r.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin
            .take()
            .unwrap()
            .write_all(b"/bin/bash\nls\n\n")
            .unwrap();
        c.wait_with_output().unwrap()
    };
    let first = run();
    ok(&first);
    let e1 = txt(&first).1;
    assert!(
        e1.contains("adding /bin/bash") && e1.contains("adding /usr/bin/ls"),
        "{e1}"
    );
    let second = run();
    ok(&second);
    let e2 = txt(&second).1;
    assert!(e2.contains(" 0 files copied"), "{e2}");
    let (out, _) = txt(&chroot(&r, &["/bin/bash", "-c", "ls /usr/bin"]));
    assert_eq!(out, "bash\nls\n");
}

#[test]
fn dev_nodes_locale_terminfo_zoneinfo_gconv() {
    let Some(t) = root_test("mkrootfs::dev_nodes_locale_terminfo_zoneinfo_gconv") else {
        return;
    };
    let r = t.path().join("r");
    let mut args = vec![
        r.to_str().unwrap(),
        "bash",
        "date",
        "iconv",
        "wc",
        "--dev",
        "--gconv",
    ];
    let locale = Path::new("/usr/lib/locale/C.utf8").exists();
    if locale {
        args.push("--locale");
    }
    let tz = Path::new("/usr/share/zoneinfo/Europe/Paris").exists();
    if tz {
        args.push("--zoneinfo");
    }
    ok(&mkrootfs(&args));
    let (out, err) = txt(&chroot(
        &r,
        &[
            "/bin/bash",
            "-c",
            "echo x > /dev/null; test -c /dev/null && echo null-ok; echo hi | iconv -f UTF-8 -t EBCDIC-US | wc -c",
        ],
    ));
    assert_eq!(out, "null-ok\n3\n", "{err}");
    if locale {
        let o = Command::new("/usr/sbin/chroot")
            .arg(&r)
            .args(["/bin/bash", "-c", "true"])
            .env_clear()
            .env("LC_ALL", "C.UTF-8")
            .output()
            .unwrap();
        assert_eq!(txt(&o).1, "");
    }
    if tz {
        let o = Command::new("/usr/sbin/chroot")
            .arg(&r)
            .args(["/usr/bin/date", "+%Z"])
            .env_clear()
            .env("TZ", "Europe/Paris")
            .output()
            .unwrap();
        let z = txt(&o).0;
        assert!(z == "CET\n" || z == "CEST\n", "{z}");
    }
}

#[test]
fn ldd_method_gives_a_working_root() {
    let Some(t) = root_test("mkrootfs::ldd_method_gives_a_working_root") else {
        return;
    };
    let r = t.path().join("r");
    ok(&mkrootfs(&["--ldd", r.to_str().unwrap(), "bash", "ls"]));
    let (out, err) = txt(&chroot(&r, &["/bin/bash", "-c", "ls /usr/bin"]));
    assert_eq!(out, "bash\nls\n", "{err}");
    // same files as the resolver
    let a = ok(&mkrootfs(&["-n", r.to_str().unwrap(), "bash", "ls"]));
    let b = ok(&mkrootfs(&[
        "-n",
        "--ldd",
        r.to_str().unwrap(),
        "bash",
        "ls",
    ]));
    assert_eq!(a, b);
}

#[test]
fn file_with_dest_resolves_elf_inside() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("r");
    let out = ok(&mkrootfs(&[
        "-n",
        "--json",
        r.to_str().unwrap(),
        "--file",
        "/usr/bin/ls:/opt/tools/myls",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let files = v["files"].as_array().unwrap();
    let myls = files
        .iter()
        .find(|f| f["path"] == "/opt/tools/myls")
        .unwrap();
    assert_eq!(myls["source"], "/usr/bin/ls");
    let libc = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("/libc.so.6"))
        .unwrap();
    assert_eq!(libc["chain"][0], "--file /usr/bin/ls:/opt/tools/myls");
    assert!(!r.exists());
}

#[test]
fn archives_tar_and_cpio() {
    let t = tempfile::tempdir().unwrap();
    let tar = t.path().join("root.tar");
    let cpio = t.path().join("root.cpio");
    ok(&mkrootfs(&["-o", tar.to_str().unwrap(), "--dev", "bash"]));
    ok(&mkrootfs(&["-o", cpio.to_str().unwrap(), "--dev", "bash"]));
    // determinism
    let tar2 = t.path().join("root2.tar");
    ok(&mkrootfs(&["-o", tar2.to_str().unwrap(), "--dev", "bash"]));
    assert!(
        std::fs::read(&tar).unwrap() == std::fs::read(&tar2).unwrap(),
        "two runs, same bytes"
    );
    let list = Command::new("tar").arg("-tvf").arg(&tar).output().unwrap();
    let (l, e) = txt(&list);
    assert!(list.status.success(), "{e}");
    assert!(
        l.contains("usr/bin/bash") && l.contains("tmp/") && l.contains("bin -> usr/bin")
            || !Path::new("/bin").is_symlink(),
        "{l}"
    );
    assert!(
        l.lines()
            .any(|x| x.starts_with("crw-rw-rw-") && x.contains("dev/null")),
        "{l}"
    );
    let list = Command::new("cpio")
        .args(["-t", "-v", "-F"])
        .arg(&cpio)
        .output()
        .unwrap();
    let (l, e) = txt(&list);
    assert!(list.status.success(), "{e}");
    assert!(
        l.contains("usr/bin/bash") && l.contains("etc/passwd"),
        "{l}"
    );
    // stdout and the format flag
    let o = cttest::cmd("mkrootfs")
        .args(["-o", "-", "--format", "cpio", "ls"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(o.stdout.starts_with(b"070701"));
    assert!(o.stdout.windows(10).any(|w| w == b"TRAILER!!!"));
    if !cttest::require_root("mkrootfs::archives_tar_and_cpio") {
        return;
    }
    for (arch, how) in [(&tar, "tar -xpf"), (&cpio, "cpio -idm --quiet -F")] {
        let x = t
            .path()
            .join(format!("x-{}", arch.extension().unwrap().to_string_lossy()));
        std::fs::create_dir(&x).unwrap();
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "cd '{}' && {how} '{}'",
                x.display(),
                arch.display()
            ))
            .output()
            .unwrap();
        assert!(o.status.success(), "{how}: {}", txt(&o).1);
        let (out, err) = txt(&chroot(
            &x,
            &["/bin/bash", "-c", "echo ok; test -c /dev/null && echo dev"],
        ));
        assert_eq!(out, "ok\ndev\n", "{how}: {err}");
    }
}

#[test]
fn initramfs_with_busybox_init() {
    let Some(bb) = ctcore::exec::which("busybox".as_ref()) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let init = t.path().join("init");
    std::fs::write(&init, "#!/bin/busybox sh\necho hello from init\n").unwrap();
    let out = t.path().join("initrd.cpio");
    ok(&mkrootfs(&[
        "-o",
        out.to_str().unwrap(),
        "--format",
        "cpio",
        "--file",
        &format!("{}:/init", init.display()),
        bb.to_str().unwrap(),
    ]));
    let l = txt(&Command::new("cpio")
        .args(["-t", "-F"])
        .arg(&out)
        .output()
        .unwrap())
    .0;
    let names: Vec<&str> = l.lines().collect();
    assert!(
        names.contains(&"init") && names.contains(&"usr/bin/busybox"),
        "{names:?}"
    );
}

#[test]
fn bad_usage_is_125() {
    let o = mkrootfs(&[]);
    assert_eq!(o.status.code(), Some(125));
    let o = mkrootfs(&["--format", "tar", "/tmp/x-never"]);
    assert_eq!(o.status.code(), Some(125));
    let o = mkrootfs(&["--json", "/tmp/x"]);
    assert_eq!(o.status.code(), Some(125));
    let o = mkrootfs(&["-n", "/tmp/x-never", "no-such-program-xyz"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        txt(&o).1,
        "mkrootfs: no-such-program-xyz: not found in PATH\n"
    );
}

/// The initramfs boots: a kernel (CTOOLS_VM_KERNEL, or the VM harness's
/// cached one) runs our cpio's /init under qemu (TCG, no KVM needed).
/// Skipped quietly when there is no kernel or qemu on the machine.
#[test]
fn initramfs_boots_under_qemu() {
    let kernel = std::env::var("CTOOLS_VM_KERNEL")
        .unwrap_or_else(|_| "/var/cache/ctools-vm/current/vmlinuz".into());
    let (Some(bb), Some(qemu)) = (
        ctcore::exec::which("busybox".as_ref()),
        ctcore::exec::which("qemu-system-x86_64".as_ref()),
    ) else {
        eprintln!("skipped: needs busybox and qemu-system-x86_64");
        return;
    };
    if !Path::new(&kernel).exists() {
        eprintln!("skipped: no kernel at {kernel}");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let init = t.path().join("init");
    std::fs::write(&init, "#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\necho MKROOTFS-INIT-OK\n/usr/bin/id\n/bin/busybox poweroff -f\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = t.path().join("initrd.cpio");
    ok(&mkrootfs(&[
        "-o",
        out.to_str().unwrap(),
        "--dev",
        "--file",
        &format!("{}:/init", init.display()),
        bb.to_str().unwrap(),
        "/usr/bin/id",
    ]));
    let o = cttest::run_with_timeout(
        Command::new(qemu)
            .args([
                "-m",
                "512",
                "-nographic",
                "-no-reboot",
                "-accel",
                "tcg",
                "-cpu",
                "max",
                "-kernel",
                &kernel,
                "-initrd",
            ])
            .arg(&out)
            .args(["-append", "console=ttyS0 panic=-1 quiet"])
            .stdin(Stdio::null()),
        std::time::Duration::from_secs(180),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("MKROOTFS-INIT-OK") && text.contains("uid=0(root) gid=0(root)"),
        "{text}"
    );
}

#[test]
fn dry_run_json_lists_sources_and_chains() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("r");
    let out = ok(&mkrootfs(&[
        "-n",
        "--json",
        r.to_str().unwrap(),
        "/usr/bin/ls",
    ]));
    assert!(!r.exists());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let files = v["files"].as_array().unwrap();
    assert_eq!(v["count"].as_u64().unwrap() as usize, files.len());
    let ls = mkrootfs::elf::parse(Path::new("/usr/bin/ls"))
        .unwrap()
        .unwrap();
    // every DT_NEEDED of ls is there, with the chain [ls, name]
    for n in &ls.needed {
        let f = files
            .iter()
            .find(|f| {
                f["path"].as_str().unwrap().ends_with(&format!("/{n}"))
                    && f["chain"].as_array().unwrap().len() == 2
            })
            .unwrap_or_else(|| panic!("{n} in {out}"));
        assert_eq!(f["chain"][0], "/usr/bin/ls");
        assert_eq!(f["chain"][1], n.as_str());
        assert!(f["source"].is_string());
    }
    // the loader at its PT_INTERP path (seen through the mirrored /lib64 link)
    let ip = Path::new(ls.interp.as_deref().unwrap());
    let at = std::fs::canonicalize(ip.parent().unwrap())
        .unwrap()
        .join(ip.file_name().unwrap());
    let loader = files
        .iter()
        .find(|f| f["path"] == at.to_str().unwrap())
        .unwrap();
    assert!(loader["type"] == "symlink" || loader["type"] == "file");
    let tmp = files.iter().find(|f| f["path"] == "/tmp").unwrap();
    assert_eq!(tmp["mode"], "1777");
    let passwd = files.iter().find(|f| f["path"] == "/etc/passwd").unwrap();
    assert!(passwd["source"].is_null() && passwd["type"] == "file");
    // deterministic
    assert_eq!(
        out,
        ok(&mkrootfs(&[
            "-n",
            "--json",
            r.to_str().unwrap(),
            "/usr/bin/ls"
        ]))
    );
}
