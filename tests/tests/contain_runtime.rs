//! `contain run --runtime NAME` (issue 20): the container's bundle (config.json written from
//! its settings, the union on its rootfs) run by an OCI runtime, runc-rs or runc, with the
//! same results as contain's own chain: the same process, limits, capabilities, filter,
//! volumes and lifecycle; and nothing left behind.

mod contain_util;

use contain_util::{Env, stderr, stdout};
use std::path::Path;

/// The lines of /proc/self/status that the three must agree on, and what the test reads.
const PROBE: &str = "while read -r k v; do case $k in CapEff:|CapBnd:|Seccomp:|NoNewPrivs:) echo $k $v;; esac; done </proc/self/status; \
    echo pid1=$(cat /proc/1/cmdline); echo host=$(hostname); \
    echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max); \
    echo vol=$(cat /data/v); touch /data/w 2>/dev/null && echo rw || echo ro; \
    touch /rootw 2>/dev/null && echo rootrw || echo rootro";

fn runtimes() -> Vec<&'static str> {
    let mut v = vec!["runc-rs"];
    let installed = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("runc").is_file()))
        || Path::new("/usr/sbin/runc").is_file();
    if installed {
        v.push("runc");
    } else {
        assert!(
            !cttest::strict(),
            "runc is not installed (make deps installs it)"
        );
    }
    v
}

/// The name=systemd and unified hierarchies' parent groups that a runtime makes beside the
/// controllers' (the harness's cleanup knows the controllers' alone).
fn remove_other_parents(parent: &str) {
    for h in ["systemd", "unified"] {
        let d = Path::new("/sys/fs/cgroup").join(h).join(parent);
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                if e.path().is_dir() {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir(&d);
    }
}

/// Every group beneath the test's parent, in every hierarchy.
fn groups_left(parent: &str) -> Vec<String> {
    let mut v = Vec::new();
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let base = h.path();
        let mut stack = vec![base.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if !p.is_dir() {
                    continue;
                }
                let s = p.display().to_string();
                if s.contains(parent) {
                    if p.file_name().is_some_and(|n| n != parent) {
                        v.push(s);
                    }
                } else if p.strip_prefix(&base).map_or(0, |r| r.components().count()) < 3 {
                    stack.push(p);
                }
            }
        }
    }
    v
}

#[test]
fn runtimes_run_the_container_as_contains_own_chain_does() {
    if !cttest::require_root(
        "e2e::contain_runtime::runtimes_run_the_container_as_contains_own_chain_does",
    ) {
        return;
    }
    let env = Env::new("rt");
    env.build_test_image("rt");
    let vol = env.state().join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("v"), "from-the-host\n").unwrap();
    let v = format!("{}:/data:ro", vol.display());
    let common = [
        "--network",
        "none",
        "--hostname",
        "box",
        "-m",
        "64m",
        "-v",
        &v,
        "--read-only",
    ];
    let run = |rt: Option<&str>| {
        let mut a = vec!["run", "--rm"];
        if let Some(rt) = rt {
            a.extend(["--runtime", rt]);
        }
        a.extend(common);
        a.extend(["rt", "/bin/sh", "-c", PROBE]);
        env.ok(&a)
    };
    let own = run(None);
    for want in [
        "CapEff: 00000000a80425fb",
        "Seccomp: 2",
        "NoNewPrivs: 0",
        "pid1=/bin/sh",
        "host=box",
        "mem=67108864",
        "vol=from-the-host",
        "\nro\n",
        "rootro",
    ] {
        assert!(
            own.contains(want),
            "contain's own chain lacks {want:?}:\n{own}"
        );
    }
    for rt in runtimes() {
        let got = run(Some(rt));
        // the same lines but pid 1's command line (the same program, NUL-separated)
        let norm = |s: &str| s.replace(['\0', ' '], "");
        assert_eq!(norm(&got), norm(&own), "--runtime {rt}");
        // the exit status is the program's
        let o = env.run(&[
            "run",
            "--rm",
            "--runtime",
            rt,
            "--network",
            "none",
            "rt",
            "/bin/sh",
            "-c",
            "exit 3",
        ]);
        assert_eq!(o.status.code(), Some(3), "--runtime {rt}: {}", stderr(&o));
        // --cap-drop and --cap-add reach the runtime's process
        let caps = env.ok(&[
            "run",
            "--rm",
            "--runtime",
            rt,
            "--network",
            "none",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "CHOWN",
            "rt",
            "/bin/sh",
            "-c",
            "while read -r k v; do [ $k = CapEff: ] && echo $v; done </proc/self/status; true",
        ]);
        assert_eq!(caps.trim(), "0000000000000001", "--runtime {rt}");
    }
    // --privileged: every capability we have (this host's root may lack some), no filter
    let privileged = |rt: Option<&str>| {
        let mut a = vec!["run", "--rm", "--network", "none", "--privileged"];
        if let Some(rt) = rt {
            a.extend(["--runtime", rt]);
        }
        a.extend([
            "rt",
            "/bin/sh",
            "-c",
            "while read -r k v; do case $k in CapEff:|Seccomp:) echo $k $v;; esac; done </proc/self/status",
        ]);
        env.ok(&a)
    };
    let own = privileged(None);
    assert!(own.contains("Seccomp: 0"), "{own}");
    for rt in runtimes() {
        assert_eq!(privileged(Some(rt)), own, "--runtime {rt} --privileged");
    }
    remove_other_parents(&env.cgparent);
}

#[test]
fn a_detached_runtime_container_execs_stops_and_leaves_nothing() {
    if !cttest::require_root(
        "e2e::contain_runtime::a_detached_runtime_container_execs_stops_and_leaves_nothing",
    ) {
        return;
    }
    let env = Env::new("rtd");
    env.build_test_image("rt");
    for rt in runtimes() {
        let id = env.ok(&[
            "run",
            "-d",
            "--runtime",
            rt,
            "--network",
            "none",
            "-u",
            "1:1",
            "rt",
            "/bin/sh",
            "-c",
            "trap 'exit 7' TERM; while :; do sleep 0.1; done",
        ]);
        let id = id.trim();
        let v = env.inspect(id);
        assert_eq!(v["State"]["Status"], "running", "--runtime {rt}: {v}");
        // the bundle is a valid one: its config.json is the container's
        let cfg: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                env.state()
                    .join("containers")
                    .join(id)
                    .join("bundle/config.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(cfg["process"]["user"]["uid"], 1);
        assert_eq!(cfg["root"]["path"], "rootfs");
        // exec: the runtime's, as the container's user, in its root
        let o = env.ok(&["exec", id, "/bin/sh", "-c", "echo $(cat /proc/self/status | while read -r k v; do [ $k = Uid: ] && echo $v; done); cat /proc/1/cmdline"]);
        assert!(
            o.starts_with("1 1 1 1\n/bin/sh"),
            "--runtime {rt}: exec printed {o:?}"
        );
        // stop: TERM through the runtime, the program's own exit status
        env.ok(&["stop", id]);
        let v = env.inspect(id);
        assert_eq!(v["State"]["ExitCode"], 7, "--runtime {rt}: {v}");
        env.ok(&["rm", id]);
        // the runtime's state, the groups and the mounts are gone
        let rtroot = env.state().join("runtime");
        let left: Vec<_> = std::fs::read_dir(&rtroot)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            // (but the seccomp filters kept per capability set)
            .filter(|p| !p.ends_with("seccomp"))
            .collect();
        assert!(left.is_empty(), "--runtime {rt} left its state: {left:?}");
        assert_eq!(
            groups_left(&env.cgparent),
            Vec::<String>::new(),
            "--runtime {rt}"
        );
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains(&env.state().display().to_string()),
            "--runtime {rt}"
        );
    }
    remove_other_parents(&env.cgparent);
}

#[test]
fn an_unknown_runtime_is_refused_and_leaves_nothing() {
    if !cttest::require_root(
        "e2e::contain_runtime::an_unknown_runtime_is_refused_and_leaves_nothing",
    ) {
        return;
    }
    let env = Env::new("rtbad");
    env.build_test_image("rt");
    let o = env.run(&[
        "run",
        "--rm",
        "--runtime",
        "no-such-runtime",
        "--network",
        "none",
        "rt",
        "/bin/true",
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        stderr(&o),
        "contain: unknown or invalid runtime name: no-such-runtime\n"
    );
    assert_eq!(stdout(&env.run(&["ps", "-aq"])), "");
}
