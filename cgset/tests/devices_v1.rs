//! The devices cgroup on this machine's cgroup v1 (devices.deny/allow):
//! docker's default allow list, --device-allow, --device-cgroup-rule, what
//! a process in the group can open and mknod (checked by a small C program,
//! devcheck.c, run through cgset's exec chain), refusals, --show.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// devcheck built for this host (dynamically linked is fine here).
fn devcheck(dir: &Path) -> PathBuf {
    let src = dir.join("devcheck.c");
    std::fs::write(&src, include_str!("devcheck.c")).unwrap();
    let out = dir.join("devcheck");
    let st = Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .expect("cc (build-essential) is needed to build tests/devcheck.c");
    assert!(st.success(), "cc failed on devcheck.c");
    out
}

/// Run devcheck CHECKS in GROUP through the chain, with cgset OPTS first;
/// its answers by check.
fn check_in(opts: &[&str], group: &str, dc: &Path, checks: &[&str]) -> BTreeMap<String, String> {
    let mut a: Vec<&str> = opts.to_vec();
    a.push(group);
    a.push("--");
    let dcs = dc.to_str().unwrap();
    a.push(dcs);
    a.extend_from_slice(checks);
    let o = run(&a);
    assert!(o.status.success(), "cgset {a:?}: {}", stderr(&o));
    assert_eq!(stderr(&o), "", "cgset {a:?}");
    let out = stdout(&o);
    let mut m = BTreeMap::new();
    for l in out.lines() {
        let (k, v) = l.split_once(' ').unwrap();
        m.insert(k.to_string(), v.to_string());
    }
    assert_eq!(m.len(), checks.len(), "{out}");
    m
}

/// A block device of this machine: a loop device's numbers when the loop
/// driver is there, else the first block device of /sys/dev/block.
fn block_dev() -> (u32, u32) {
    if Path::new("/sys/dev/block/7:0").exists() {
        return (7, 0);
    }
    let mut v: Vec<String> = std::fs::read_dir("/sys/dev/block")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    v.sort();
    let first = v.first().expect("no block device at all");
    let (a, b) = first.split_once(':').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// A node for (major, minor) made by the test (outside the group).
fn node(dir: &Path, name: &str, block: bool, (ma, mi): (u32, u32)) -> String {
    let p = dir.join(name);
    let kind = if block {
        nix::sys::stat::SFlag::S_IFBLK
    } else {
        nix::sys::stat::SFlag::S_IFCHR
    };
    nix::sys::stat::mknod(
        &p,
        kind,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
        nix::sys::stat::makedev(ma.into(), mi.into()),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn device_default_allows_dockers_list_and_refuses_the_rest() {
    if !cttest::require_root("cgset::device_default_allows_dockers_list_and_refuses_the_rest") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let tmp = cttest::tempdir().unwrap();
    let dc = devcheck(tmp.path());
    let p = Parent::new("devdef");
    let g = p.sub("box");
    let (ma, mi) = block_dev();
    let blk = node(tmp.path(), "blk", true, (ma, mi));
    let mk = format!("mknod={},b,{ma},{mi}", tmp.path().join("mk").display());
    let open_blk = format!("open={blk}");
    let mut checks = vec![
        "open=/dev/null",
        "openrw=/dev/null",
        "openrw=/dev/zero",
        "openrw=/dev/full",
        "open=/dev/urandom",
        "pty",
        &mk,
        &open_blk,
    ];
    let kvm = Path::new("/dev/kvm").exists();
    if kvm {
        checks.push("openrw=/dev/kvm");
    }
    let m = check_in(&["--device-default"], &g, &dc, &checks);
    for ok in [
        "open=/dev/null",
        "openrw=/dev/null",
        "openrw=/dev/zero",
        "openrw=/dev/full",
        "open=/dev/urandom",
        "pty",
    ] {
        assert_eq!(m[ok], "ok", "{ok}: {m:?}");
    }
    // mknod of any node is allowed (docker's `b *:* m`), opening it is not.
    assert_eq!(m[mk.as_str()], "mknod ok open EPERM", "{m:?}");
    assert_eq!(m[open_blk.as_str()], "EPERM", "{m:?}");
    if kvm {
        assert_eq!(m["openrw=/dev/kvm"], "EPERM", "{m:?}");
    }
    // The list the kernel keeps is docker's, in its order.
    let list = read("devices", &g, "devices.list");
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        [
            "c *:* m",
            "b *:* m",
            "c 1:3 rwm",
            "c 1:5 rwm",
            "c 1:7 rwm",
            "c 1:8 rwm",
            "c 1:9 rwm",
            "c 5:0 rwm",
            "c 5:1 rwm",
            "c 5:2 rwm",
            "c 136:* rwm",
            "c 10:200 rwm"
        ]
    );
    // The program ran in the group's devices cgroup.
    let o = run(&[&g, "--", "cat", "/proc/self/cgroup"]);
    let want = format!(
        "{}/{}",
        own("devices").trim_end_matches('/'),
        g.trim_start_matches("./")
    );
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.contains(":devices:") && l.ends_with(&want)),
        "{}",
        stdout(&o)
    );
    // --show reports the policy, as text and as JSON.
    let o = run(&["--show", "--json", &g]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["devices"]["version"], "v1");
    assert_eq!(v["devices"]["list"][2], "c 1:3 rwm");
    assert_eq!(
        v["paths"]["devices"],
        dir("devices", &g).display().to_string()
    );
    let o = run(&["--show", &g]);
    assert!(
        stdout(&o).contains("denied but c *:* m, b *:* m, c 1:3 rwm"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn device_allow_and_rules_open_exactly_what_they_name() {
    if !cttest::require_root("cgset::device_allow_and_rules_open_exactly_what_they_name") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let tmp = cttest::tempdir().unwrap();
    let dc = devcheck(tmp.path());
    let p = Parent::new("devallow");
    let (ma, mi) = block_dev();
    let blk = node(tmp.path(), "blk", true, (ma, mi));
    // The same numbers as a character device, and a neighbour minor.
    let chr = node(tmp.path(), "chr", false, (ma, mi));
    let next = node(tmp.path(), "next", true, (ma, mi + 1));
    let open = |p: &str| format!("open={p}");
    let openrw = |p: &str| format!("openrw={p}");
    let mk = format!("mknod={},b,{ma},{mi}", tmp.path().join("mk").display());

    // --device-allow PATH: that device, rwm; nothing else (not even /dev/null).
    let g = p.sub("allow");
    let checks = [
        open(&blk),
        openrw(&blk),
        open(&chr),
        open(&next),
        "open=/dev/null".to_string(),
        mk.clone(),
    ];
    let c: Vec<&str> = checks.iter().map(String::as_str).collect();
    let m = check_in(&["--device-allow", &blk], &g, &dc, &c);
    assert_eq!(m[&open(&blk)], "ok", "{m:?}");
    assert_eq!(m[&openrw(&blk)], "ok", "{m:?}");
    assert_eq!(m[&open(&chr)], "EPERM", "{m:?}");
    assert_eq!(m[&open(&next)], "EPERM", "{m:?}");
    assert_eq!(m["open=/dev/null"], "EPERM", "{m:?}");
    assert_eq!(m[&mk], "mknod ok open ok", "{m:?}");
    assert_eq!(
        read("devices", &g, "devices.list"),
        format!("b {ma}:{mi} rwm")
    );
    // PATH:r: read only, and no mknod; applied again to the same group,
    // it replaces the earlier policy.
    let m = check_in(&["--device-allow", &format!("{blk}:r")], &g, &dc, &c);
    assert_eq!(m[&open(&blk)], "ok", "{m:?}");
    assert_eq!(m[&openrw(&blk)], "EPERM", "{m:?}");
    assert_eq!(m[&mk], "mknod EPERM open -", "{m:?}");
    assert_eq!(
        read("devices", &g, "devices.list"),
        format!("b {ma}:{mi} r")
    );

    // Applied to a group that has a policy, only the difference is written
    // (no deny-all moment for its running processes), nothing when equal.
    let dry = |spec: &str| {
        let o = run(&["--dry-run", "--device-allow", spec, &g]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
            .lines()
            .filter(|l| l.contains("/devices."))
            .map(|l| l.rsplit_once("/devices.").unwrap().1.to_string())
            .collect::<Vec<_>>()
    };
    assert!(dry(&format!("{blk}:r")).is_empty());
    assert_eq!(
        dry(&blk),
        [
            format!("deny b {ma}:{mi} r"),
            format!("allow b {ma}:{mi} rwm")
        ]
    );

    // A directory: every device node below it (docker's --device /dev/snd).
    let nodes = tmp.path().join("nodes");
    std::fs::create_dir(&nodes).unwrap();
    node(&nodes, "a", true, (ma, mi));
    std::fs::create_dir(nodes.join("sub")).unwrap();
    node(&nodes.join("sub"), "b", false, (1, 3));
    let o = run(&["--device-allow", nodes.to_str().unwrap(), &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        read("devices", &g, "devices.list"),
        format!("b {ma}:{mi} rwm\nc 1:3 rwm")
    );

    // --device-cgroup-rule 'b MAJ:* rw': every minor of the major, no mknod,
    // no character device; with --device-default the defaults as well.
    let g = p.sub("rule");
    let rule = format!("b {ma}:* rw");
    let m = check_in(&["--device-cgroup-rule", &rule], &g, &dc, &c);
    assert_eq!(m[&openrw(&blk)], "ok", "{m:?}");
    assert_ne!(m[&open(&next)], "EPERM", "{m:?}");
    assert_eq!(m[&open(&chr)], "EPERM", "{m:?}");
    assert_eq!(m["open=/dev/null"], "EPERM", "{m:?}");
    assert_eq!(m[&mk], "mknod EPERM open -", "{m:?}");
    let m = check_in(
        &["--device-default", "--device-cgroup-rule", &rule],
        &g,
        &dc,
        &c,
    );
    assert_eq!(m[&openrw(&blk)], "ok", "{m:?}");
    assert_eq!(m["open=/dev/null"], "ok", "{m:?}");
    assert_eq!(m[&mk], "mknod ok open ok", "{m:?}");
    assert_eq!(m[&open(&chr)], "EPERM", "{m:?}");
    // Type a: block and character devices of that major.
    let rule = format!("a {ma}:{mi} r");
    let m = check_in(&["--device-cgroup-rule", &rule], &g, &dc, &c);
    assert_eq!(m[&open(&blk)], "ok", "{m:?}");
    assert_ne!(m[&open(&chr)], "EPERM", "{m:?}");
    assert_eq!(m[&openrw(&blk)], "EPERM", "{m:?}");
    assert_eq!(m[&open(&next)], "EPERM", "{m:?}");
}

#[test]
fn a_group_with_rules_is_joined_in_the_devices_hierarchy() {
    if !cttest::require_root("cgset::a_group_with_rules_is_joined_in_the_devices_hierarchy") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let tmp = cttest::tempdir().unwrap();
    let dc = devcheck(tmp.path());
    let p = Parent::new("devjoin");
    let g = p.sub("box");
    let blk = node(tmp.path(), "blk", true, block_dev());
    // Set form first, then the chain and --pid without device options: the
    // processes land in the devices cgroup too and stay under its rules.
    let o = run(&["--device-default", "-m", "64m", &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let checks = ["open=/dev/null".to_string(), format!("open={blk}")];
    let c: Vec<&str> = checks.iter().map(String::as_str).collect();
    let m = check_in(&[], &g, &dc, &c);
    assert_eq!(m["open=/dev/null"], "ok", "{m:?}");
    assert_eq!(m[checks[1].as_str()], "EPERM", "{m:?}");
    let mut kids = Kids(vec![Command::new("sleep").arg("60").spawn().unwrap()]);
    let pid = kids.0[0].id().to_string();
    let o = run(&["--pid", &pid, &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        read("devices", &g, "cgroup.procs")
            .lines()
            .any(|l| l == pid),
        "{pid} not in the devices cgroup"
    );
    let o = run(&["--delete", "--kill", &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    let _ = kids.0[0].wait();
    kids.0.clear();
    assert!(!dir("devices", &g).exists());
    // A group made without device options is not made in the devices
    // hierarchy (it keeps its parent's access).
    let o = run(&["-m", "64m", &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!dir("devices", &g).exists());
}

#[test]
fn bad_device_options_are_refused_and_leave_nothing() {
    if !cttest::require_root("cgset::bad_device_options_are_refused_and_leave_nothing") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let p = Parent::new("devbad");
    let g = p.sub("x");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--device-cgroup-rule", "x 1:3 r"],
            "invalid argument \"x 1:3 r\" for \"--device-cgroup-rule\" flag: invalid device cgroup format 'x 1:3 r'",
        ),
        (
            vec!["--device-cgroup-rule", "c 1:3"],
            "invalid device cgroup format 'c 1:3'",
        ),
        (
            vec!["--device-cgroup-rule", "c 1:3 rwx"],
            "invalid device cgroup format 'c 1:3 rwx'",
        ),
        (
            vec!["--device-cgroup-rule", "c 1-3 r"],
            "invalid device cgroup format 'c 1-3 r'",
        ),
        (
            vec!["--device-allow", "/dev/nonexistent-dev"],
            "error gathering device information while adding custom device \"/dev/nonexistent-dev\": no such file or directory",
        ),
        (
            vec!["--device-allow", "/etc/hostname"],
            "error gathering device information while adding custom device \"/etc/hostname\": not a device node",
        ),
        (vec!["--device-allow", "/dev/null:rwq"], "invalid mode: rwq"),
        (
            vec!["--device-default", "-R"],
            "they do not combine with -R",
        ),
        (
            vec!["--device-default", "-m", "1m"],
            "Minimum memory limit allowed is 6MB",
        ),
    ];
    for (args, want) in &cases {
        let mut a = args.clone();
        a.push(&g);
        let o = run(&a);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.starts_with("cgset: ") && e.contains(want),
            "{args:?}: got {e:?}, want {want:?}"
        );
        assert_eq!(e.lines().count(), 1, "{args:?}: one line: {e:?}");
        assert!(!exists_anywhere(&p.name), "{args:?} left {} behind", p.name);
    }
    // A missing PROGRAM: 127, nothing left.
    let o = run(&["--device-default", &g, "--", "/nonexistent/program"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(!exists_anywhere(&p.name));
    // v1 takes "deny all" only in a cgroup without children: explained,
    // and the children made by this run are removed again.
    let o = run(&["-m", "64m", &p.sub("x/child")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "--device-cgroup-rule",
        "c 1:3 rwm",
        &p.sub("x/child/grandchild"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["--device-default", &g]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("devices.deny") && stderr(&o).contains("without children"),
        "{}",
        stderr(&o)
    );
    // The refused run made nothing, so it removed nothing.
    assert!(dir("devices", &p.sub("x/child/grandchild")).exists());
    // --dry-run prints the writes and makes nothing.
    let d = p.sub("dry");
    let o = run(&["--dry-run", "--device-cgroup-rule", "b 7:* rw", &d]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let dd = dir("devices", &d);
    assert!(
        out.contains(&format!("mkdir {}\n", dd.display()))
            && out.contains(&format!("write {} a\n", dd.join("devices.deny").display()))
            && out.contains(&format!(
                "write {} b 7:* rw\n",
                dd.join("devices.allow").display()
            )),
        "{out}"
    );
    assert!(!dd.exists());
}
