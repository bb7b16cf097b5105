//! cgset against fake cgroup trees (`--root`): the v2 and hybrid
//! translations, end to end through the binary.  No privilege needed.

mod common;

use std::fs;
use std::path::Path;

use common::{cgset, stderr, stdout};

fn put(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (f, v) in files {
        fs::write(dir.join(f), v).unwrap();
    }
}

fn get(p: &Path) -> String {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

/// A v2 root and one group, with the files a kernel would show.
fn v2_tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    put(
        r,
        &[
            ("cgroup.controllers", "cpuset cpu io memory hugetlb pids\n"),
            ("cgroup.subtree_control", ""),
            ("cgroup.procs", "1\n"),
            ("cpuset.cpus.effective", "0-1\n"),
            ("cpuset.mems.effective", "0\n"),
        ],
    );
    put(
        &r.join("box"),
        &[
            ("cgroup.controllers", "cpuset cpu io memory pids\n"),
            ("cgroup.subtree_control", ""),
            ("cgroup.procs", ""),
            ("cgroup.events", "populated 0\nfrozen 0\n"),
            ("cgroup.freeze", "0\n"),
            ("cpu.weight", "100\n"),
            ("cpu.max", "max 100000\n"),
            ("cpuset.cpus", "\n"),
            ("cpuset.mems", "\n"),
            ("memory.max", "max\n"),
            ("memory.swap.max", "max\n"),
            ("memory.low", "0\n"),
            ("io.weight", "default 100\n"),
            ("io.max", ""),
            ("pids.max", "max\n"),
        ],
    );
    d
}

fn run_in(root: &Path, args: &[&str]) -> std::process::Output {
    cgset().arg("--root").arg(root).args(args).output().unwrap()
}

#[test]
fn docker_flags_become_v2_files() {
    let d = v2_tree();
    let r = d.path();
    let o = run_in(
        r,
        &[
            "-c",
            "512",
            "--cpus",
            "0.5",
            "-m",
            "64m",
            "--memory-reservation",
            "32m",
            "--pids-limit",
            "0",
            "--blkio-weight",
            "500",
            "--cpuset-cpus",
            "1",
            "/box",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let b = r.join("box");
    assert_eq!(get(&b.join("cpu.weight")), "50");
    assert_eq!(get(&b.join("cpu.max")), "50000 100000");
    assert_eq!(get(&b.join("memory.max")), "67108864");
    assert_eq!(get(&b.join("memory.swap.max")), "67108864");
    assert_eq!(get(&b.join("memory.low")), "33554432");
    assert_eq!(get(&b.join("pids.max")), "max");
    assert_eq!(get(&b.join("io.weight")), "4950");
    assert_eq!(get(&b.join("cpuset.cpus")), "1");
    // Controllers enabled in the ancestor (the root), not in the leaf.
    let sc = get(&r.join("cgroup.subtree_control"));
    for c in ["+cpu", "+cpuset", "+io", "+memory", "+pids"] {
        assert!(sc.split_whitespace().any(|x| x == c), "{sc}");
    }
    assert_eq!(get(&b.join("cgroup.subtree_control")), "");
    // --memory-swap: swap.max is memory+swap minus memory; equal means none.
    let o = run_in(r, &["-m", "64m", "--memory-swap", "64m", "/box"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&b.join("memory.swap.max")), "0");
    let o = run_in(r, &["-m", "64m", "--memory-swap", "-1", "/box"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&b.join("memory.swap.max")), "max");
    // Quota only keeps the period; -1 is max.
    let o = run_in(r, &["--cpu-quota", "-1", "--cpu-period", "50000", "/box"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&b.join("cpu.max")), "max 50000");
    // Device throttles go to io.max with v2 keys.
    if Path::new("/dev/loop0").exists() {
        let o = run_in(r, &["--device-write-iops", "/dev/loop0:100", "/box"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            get(&b.join("io.max")).ends_with(" wiops=100"),
            "{}",
            get(&b.join("io.max"))
        );
    }
    // The environment variable works as --root does.
    let o = cgset()
        .env("CGSET_ROOT", r)
        .args(["-c", "2048", "/box"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&b.join("cpu.weight")), "200");
}

#[test]
fn v2_inexpressible_warns_or_fails_with_strict() {
    let d = v2_tree();
    let r = d.path();
    let b = r.join("box");
    let o = run_in(
        r,
        &[
            "-m",
            "64m",
            "--memory-swappiness",
            "10",
            "--oom-kill-disable",
            "--kernel-memory",
            "64m",
            "/box",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 3, "{e}");
    assert!(
        e.contains("cgset: warning: Your kernel does not support memory swappiness capabilities"),
        "{e}"
    );
    assert!(e.contains("OomKillDisable discarded"), "{e}");
    assert!(e.contains("Kernel memory limit"), "{e}");
    assert_eq!(get(&b.join("memory.max")), "67108864");
    let o = run_in(
        r,
        &[
            "--strict",
            "-m",
            "128m",
            "--memory-swappiness",
            "10",
            "/box",
        ],
    );
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        stderr(&o),
        "cgset: cannot set memory swappiness with cgroup v2 (--strict)\n"
    );
    assert_eq!(
        get(&b.join("memory.max")),
        "67108864",
        "nothing written under --strict"
    );
    let o = run_in(r, &["--strict", "-r", "memory.swappiness=10", "/box"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("memory.swappiness has no cgroup v2 equivalent"));
}

#[test]
fn v1_rules_translated_on_v2() {
    let d = v2_tree();
    let r = d.path();
    let b = r.join("box");
    let o = run_in(
        r,
        &[
            "-r",
            "cpu.shares=1024",
            "-r",
            "memory.limit_in_bytes=128M",
            "-r",
            "memory.soft_limit_in_bytes=-1",
            "-r",
            "blkio.throttle.read_bps_device=8:0 1048576",
            "-r",
            "cpu.cfs_quota_us=25000",
            "-r",
            "pids.max=9",
            "/box",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&b.join("cpu.weight")), "100");
    assert_eq!(get(&b.join("memory.max")), "128M");
    assert_eq!(get(&b.join("memory.low")), "max");
    assert_eq!(get(&b.join("io.max")), "8:0 rbps=1048576");
    assert_eq!(get(&b.join("cpu.max")), "25000 100000");
    assert_eq!(get(&b.join("pids.max")), "9");
    // --copy-from between two v2 groups.
    put(
        &r.join("dst"),
        &[
            ("cpu.weight", "100"),
            ("memory.max", "max"),
            ("pids.max", "max"),
            ("cgroup.procs", ""),
        ],
    );
    let o = run_in(r, &["--copy-from", "/box", "/dst"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&r.join("dst/memory.max")), "128M");
    assert_eq!(get(&r.join("dst/pids.max")), "9");
}

#[test]
fn v2_show_freeze_and_dry_run() {
    let d = v2_tree();
    let r = d.path();
    let b = r.join("box");
    put(
        &b,
        &[
            (
                "cpu.stat",
                "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 7\nnr_throttled 3\nthrottled_usec 900\n",
            ),
            ("memory.current", "1048576\n"),
            ("memory.peak", "2097152\n"),
            ("memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n"),
            (
                "io.stat",
                "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
            ),
            ("pids.current", "1\n"),
            ("cgroup.procs", "4242\n"),
        ],
    );
    let o = run_in(r, &["--show", "--json", "/box"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["mode"], "unified");
    assert_eq!(v["usage"]["cpu_ns"], 1_500_000_000u64);
    assert_eq!(v["usage"]["nr_throttled"], 3);
    assert_eq!(v["usage"]["oom_kills"], 1);
    assert_eq!(v["usage"]["io_write_bytes"], 8192);
    assert_eq!(v["pids"][0], 4242);
    let o = run_in(r, &["--show", "/box"]);
    assert!(
        stdout(&o).contains("oom kills           1"),
        "{}",
        stdout(&o)
    );
    // Freeze writes cgroup.freeze and waits for cgroup.events to say frozen.
    put(&b, &[("cgroup.events", "populated 1\nfrozen 1\n")]);
    let o = run_in(r, &["--freeze", "/box"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&b.join("cgroup.freeze")), "1");
    put(&b, &[("cgroup.events", "populated 1\nfrozen 0\n")]);
    let o = run_in(r, &["--thaw", "/box"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&b.join("cgroup.freeze")), "0");
    // Dry run prints the writes and changes nothing.
    let o = run_in(r, &["--dry-run", "-m", "32m", "/box/new"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("mkdir {}", b.join("new").display())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "write {} 33554432",
            b.join("new/memory.max").display()
        )),
        "{out}"
    );
    assert!(!b.join("new").exists());
}

#[test]
fn failed_write_removes_the_new_group() {
    let d = v2_tree();
    let r = d.path();
    // A fake tree's new directory has no files: the write fails and the
    // directory made for it goes away again.
    let o = run_in(r, &["-m", "64m", "/fresh"]);
    assert_eq!(o.status.code(), Some(125));
    let e = stderr(&o);
    assert!(
        e.contains("memory.max") && e.contains("No such file or directory"),
        "{e}"
    );
    assert!(!r.join("fresh").exists(), "left behind");
    let o = run_in(r, &["-m", "64m", "/fresh/leaf"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(!r.join("fresh").exists(), "left behind");
    // Without limits the group is just created.
    let o = run_in(r, &["/fresh"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(r.join("fresh").is_dir());
    // A controller the parent does not offer is explained.
    put(
        &r.join("fresh"),
        &[
            ("cgroup.controllers", "pids\n"),
            ("cgroup.subtree_control", ""),
        ],
    );
    let o = run_in(r, &["-m", "64m", "/fresh/leaf"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("controller memory is not available in"),
        "{}",
        stderr(&o)
    );
    assert!(!r.join("fresh/leaf").exists());
}

#[test]
fn hybrid_tree_uses_v1_first_then_v2() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    put(
        &r.join("cpu/box"),
        &[("cpu.shares", "1024"), ("cgroup.procs", "")],
    );
    put(
        &r.join("memory/box"),
        &[
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("cgroup.procs", ""),
        ],
    );
    put(
        &r.join("unified"),
        &[
            ("cgroup.controllers", "pids\n"),
            ("cgroup.subtree_control", ""),
        ],
    );
    put(
        &r.join("unified/box"),
        &[("pids.max", "max"), ("cgroup.procs", "")],
    );
    let o = run_in(r, &["-c", "512", "-m", "64m", "--pids-limit", "5", "/box"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&r.join("cpu/box/cpu.shares")), "512");
    assert_eq!(get(&r.join("memory/box/memory.limit_in_bytes")), "67108864");
    assert_eq!(get(&r.join("unified/box/pids.max")), "5");
    // blkio is nowhere: a clear error, nothing made.
    let o = run_in(r, &["--blkio-weight", "100", "/other"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("the blkio controller is neither mounted"),
        "{}",
        stderr(&o)
    );
    assert!(!r.join("cpu/other").exists());
}

/// A threaded v2 cgroup, whose cgroup.procs the kernel refuses to read: its
/// processes come from cgroup.threads (a thread of this test process here),
/// for `--show` and for `--delete`, which refuses it populated.  A group
/// that cgroup.events says is populated counts as such even when no pid can
/// be listed (tasks of another pid namespace read as 0).
#[test]
fn v2_threaded_and_unlisted_tasks_count_as_populated() {
    let d = v2_tree();
    let r = d.path();
    let b = r.join("box");
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop, wait) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        tx.send(nix::unistd::gettid().as_raw()).unwrap();
        let _ = wait.recv();
    });
    let tid = rx.recv().unwrap();
    let me = std::process::id();
    fs::remove_file(b.join("cgroup.procs")).unwrap();
    put(
        &b,
        &[
            ("cgroup.type", "threaded\n"),
            ("cgroup.threads", &format!("{tid}\n")),
            ("cgroup.events", "populated 1\nfrozen 0\n"),
        ],
    );
    let o = run_in(r, &["--show", "--json", "/box"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["pids"], serde_json::json!([me]), "{v}");
    let o = run_in(r, &["--delete", "/box"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("populated (pid {me}); use --kill")),
        "{}",
        stderr(&o)
    );
    assert!(b.is_dir());
    stop.send(()).unwrap();
    t.join().unwrap();
    // Populated, nothing listed.
    put(&b, &[("cgroup.threads", "0\n")]);
    let o = run_in(r, &["--delete", "/box"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cgroup.events says populated 1"),
        "{}",
        stderr(&o)
    );
    assert!(b.is_dir());
}

#[test]
fn recursive_enables_top_down_and_disables_bottom_up() {
    let d = v2_tree();
    let r = d.path();
    for sub in ["box/a", "box/a/b"] {
        put(
            &r.join(sub),
            &[
                ("cgroup.controllers", "cpu memory pids\n"),
                ("cgroup.subtree_control", ""),
                ("cgroup.procs", ""),
                ("pids.max", "max\n"),
            ],
        );
    }
    let writes = |args: &[&str]| -> Vec<String> {
        let o = run_in(r, args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
            .lines()
            .map(|l| {
                l.trim_start_matches("write ")
                    .replace(&r.display().to_string(), "")
            })
            // (what the group's ensure enables in the root's subtree_control aside)
            .filter(|l| l.starts_with("/box"))
            .collect()
    };
    // The leaf box/a/b takes no subtree_control write; parents come first.
    assert_eq!(
        writes(&[
            "--dry-run",
            "-R",
            "-r",
            "cgroup.subtree_control=+pids",
            "/box"
        ]),
        [
            "/box/cgroup.subtree_control +pids",
            "/box/a/cgroup.subtree_control +pids"
        ]
    );
    // Disabling: children first.
    assert_eq!(
        writes(&[
            "--dry-run",
            "-R",
            "-r",
            "cgroup.subtree_control=-pids",
            "/box"
        ]),
        [
            "/box/a/cgroup.subtree_control -pids",
            "/box/cgroup.subtree_control -pids"
        ]
    );
    let o = run_in(r, &["-R", "--pids-limit", "9", "/box"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for sub in ["box", "box/a", "box/a/b"] {
        assert_eq!(get(&r.join(sub).join("pids.max")), "9", "{sub}");
    }
}
