//! The command line without privilege: the plan (--dry-run) and usage
//! errors.

use std::fs;

fn run(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    cttest::cmd("unionmount")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn dry_run_plans() {
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    for d in ["A", "B", "C"] {
        fs::create_dir(p.join(d)).unwrap();
    }
    let out = run(
        &[
            "--dry-run",
            "-o",
            "dirs=./A:./B=ro,xino=auto",
            "none",
            "./C",
        ],
        p,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let base = fs::canonicalize(p).unwrap();
    let b = |s: &str| base.join(s).display().to_string();
    assert_eq!(v["source"], "none");
    assert_eq!(v["target"], b("C"));
    assert_eq!(v["layout"]["kind"], "overlay");
    assert_eq!(v["layout"]["upper"], b("A"));
    assert_eq!(v["layout"]["lowers"][0], b("B"));
    assert_eq!(v["work"], b(".A.work"));
    assert_eq!(v["create_work"], true);
    assert_eq!(v["read_only"], false);
    assert_eq!(
        v["mount_options"],
        format!(
            "lowerdir={},upperdir={},workdir={},xino=auto,redirect_dir=on",
            b("B"),
            b("A"),
            b(".A.work")
        )
    );
    // Nothing was created.
    assert!(!p.join(".A.work").exists());

    let out = run(&["--dry-run", "A=ro:B=ro", "C"], p);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["read_only"], true);
    assert_eq!(v["layout"]["lowers"][1], b("B"));
    assert!(v["work"].is_null());

    // funionfs's UPPER_DIR before -o dirs=.
    let out = run(&["--dry-run", "A", "C", "-o", "dirs=B=ro"], p);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["layout"]["upper"], b("A"));
    assert_eq!(v["layout"]["lowers"][0], b("B"));
    assert_eq!(v["source"], "unionmount");
    let out = run(&["--dry-run", "myname", "C", "-o", "dirs=A:B=ro"], p);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["source"], "myname");
    assert_eq!(v["layout"]["upper"], b("A"));

    let out = run(&["--dry-run", "--lower", "B", "C"], p);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["layout"]["kind"], "bind");
    assert_eq!(v["backend"], "bind");
    assert_eq!(v["read_only"], true);
}

/// Which backend, and why: FUSE for funionfs's meaning (every branch
/// writable unless =ro), overlayfs when it can express the union.
#[test]
fn dry_run_backends() {
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    for d in ["A", "B", "C"] {
        fs::create_dir(p.join(d)).unwrap();
    }
    let base = fs::canonicalize(p).unwrap();
    let plan = |args: &[&str]| -> serde_json::Value {
        let out = run(args, p);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = plan(&["--dry-run", "-o", "dirs=./A:./B", "none", "./C"]);
    assert_eq!(v["backend"], "fuse");
    assert_eq!(v["layout"]["kind"], "fuse");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("2 branches are writable"),
        "{v}"
    );
    assert_eq!(
        v["layout"]["branches"][0]["path"],
        base.join("A").display().to_string()
    );
    assert_eq!(v["layout"]["branches"][1]["rw"], true);
    assert!(v["work"].is_null());
    let v = plan(&["--dry-run", "A=ro:B", "C"]);
    assert_eq!(v["backend"], "fuse");
    assert!(
        v["reason"].as_str().unwrap().contains("not the first"),
        "{v}"
    );
    let v = plan(&["--dry-run", "A:B=ro", "C"]);
    assert_eq!(v["backend"], "overlay");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("one writable branch"),
        "{v}"
    );
    let v = plan(&["--dry-run", "--overlay", "A:B", "C"]);
    assert_eq!(v["backend"], "overlay");
    assert_eq!(v["layout"]["upper"], base.join("A").display().to_string());
    assert!(v["reason"].as_str().unwrap().contains("--overlay"), "{v}");
    let v = plan(&["--dry-run", "--fuse", "A:B=ro", "C"]);
    assert_eq!(v["backend"], "fuse");
    assert_eq!(v["layout"]["branches"][1]["rw"], false);
    let v = plan(&[
        "--dry-run",
        "-o",
        "fuse,lowerdir=B,upperdir=A,workdir=W",
        "none",
        "C",
    ]);
    assert_eq!(v["backend"], "fuse");
    assert_eq!(v["layout"]["branches"][0]["rw"], true);
    assert_eq!(v["layout"]["branches"][1]["rw"], false);
    let v = plan(&["--dry-run", "-r", "A:B", "C"]);
    assert_eq!(v["read_only"], true);
    let out = run(&["--dry-run", "-o", "dirs=A:B,bogus", "none", "C"], p);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'bogus' is unknown"));
    let out = run(&["--dry-run", "--fuse", "--overlay", "A:B", "C"], p);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn usage_errors() {
    let t = cttest::tempdir().unwrap();
    let p = t.path();
    fs::create_dir(p.join("C")).unwrap();
    for (args, want) in [
        (&["C"][..], "no branch given"),
        (&["none", "C"][..], "no branch given"),
        (&["-u", "a", "b"][..], "--umount takes one TARGET"),
        (&["--lazy", "C"][..], "--umount"),
        (&["--upper", "C", "C"][..], "no lower layer"),
        (
            &["-o", "dirs=A:B", "--lower", "B", "none", "C"][..],
            "not both",
        ),
        (&["-o", "lowerdir=a::b", "none", "C"][..], "data-only"),
        (&["-o", "dirs=C,xino=on", "none", "C"][..], "bind mount"),
    ] {
        let out = run(args, p);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}
