//! `--cgroupfs`: a process put in a memory cgroup of the test's own (below
//! the test's cgroup) reads its limit from /sys/fs/cgroup inside the new
//! root, sees none of the host's other cgroups, and cannot write there.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cttest::{minroot, ok};

const TOOLS: &[&str] = &["sh", "cat", "ls", "mkdir", "find", "wc"];

/// The test's own cgroup directory in the hierarchy holding `ctrl` (v1),
/// or in the v2 hierarchy (`ctrl` None), and whether it is v2.
fn own_dir(ctrl: Option<&str>) -> Option<PathBuf> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, c, p) = (f.next()?, f.next()?, f.next()?);
        match ctrl {
            Some(ctrl) => c.split(',').any(|c| c == ctrl).then(|| p.to_string()),
            None => c.is_empty().then(|| p.to_string()),
        }
    })?;
    let base = match ctrl {
        Some(c) => Path::new("/sys/fs/cgroup").join(c),
        None => PathBuf::from("/sys/fs/cgroup"),
    };
    let dir = base.join(path.trim_start_matches('/'));
    dir.join("cgroup.procs").exists().then_some(dir)
}

/// Remove `dir` once the processes in it are gone (ours alone: the chain
/// has exited when this runs; a straggler of the chain is killed).
fn remove_cgroup(dir: &Path) {
    for _ in 0..50 {
        for pid in fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .split_whitespace()
        {
            if let Ok(p) = pid.parse::<i32>() {
                // SAFETY: kill(2) on a pid of the cgroup this test made.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_limit_reads_from_inside_and_nothing_else_shows() {
    const NAME: &str = "chroot_rs::cgroupfs::the_limit_reads_from_inside_and_nothing_else_shows";
    if !cttest::require_root(NAME)
        || !cttest::require(
            NAME,
            Command::new("unshare").arg("--version").output().is_ok(),
            "needs util-linux unshare",
        )
    {
        return;
    }
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let Some(parent) = own_dir(if v2 { None } else { Some("memory") }) else {
        assert!(!cttest::strict(), "no memory cgroup of the test's own");
        return;
    };
    let _l = cttest::serial("cgroup");
    let _m = cttest::serial("mount");
    let cg = parent.join(format!("ctools-test-cgroupfs-{}", std::process::id()));
    fs::create_dir(&cg).unwrap();
    let _undo = cttest::defer({
        let cg = cg.clone();
        move || remove_cgroup(&cg)
    });
    let (file, want) = if v2 {
        // The memory controller must be on for the new group (it is in the
        // root cgroup, as in the VM; elsewhere the test's own cgroup holds
        // processes and cannot give it away).
        let sub = parent.join("cgroup.subtree_control");
        let on = fs::read_to_string(&sub).unwrap_or_default();
        if !on.split_whitespace().any(|c| c == "memory") {
            let _ = fs::write(&sub, "+memory");
        }
        if !cg.join("memory.max").exists() {
            assert!(
                !cttest::strict(),
                "no memory controller for {}",
                cg.display()
            );
            return;
        }
        fs::write(cg.join("memory.max"), "67108864").unwrap();
        ("/sys/fs/cgroup/memory.max", "67108864")
    } else {
        fs::write(cg.join("memory.limit_in_bytes"), "67108864").unwrap();
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "67108864")
    };
    let dir = cttest::tempdir().unwrap();
    minroot::build(dir.path(), TOOLS).unwrap();
    let top = if v2 {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/memory"
    };
    let script = format!(
        r#"
        echo "limit $(cat {file})"
        echo top $(ls /sys/fs/cgroup)
        echo "dirs $(find {top} -mindepth 1 -type d | wc -l)"
        [ -e {top}/release_agent ] && echo release-agent
        [ -e /sys/fs/cgroup/memory/release_agent ] && echo release-agent
        echo 1 > {file} 2>/dev/null && echo wrote-limit
        echo $$ > {top}/cgroup.procs 2>/dev/null && echo wrote-procs
        mkdir {top}/x 2>/dev/null && echo made-cgroup
        mkdir /sys/fs/cgroup/y 2>/dev/null && echo made-top
        cat /proc/self/cgroup
        "#
    );
    let chain = format!(
        "echo 0 > {}/cgroup.procs && exec {} --pivot --proc --cgroupfs {} /bin/sh -c '{}'",
        cg.display(),
        cttest::bin("chroot-rs").display(),
        dir.path().display(),
        script.replace('\'', r"'\''"),
    );
    let out = cttest::run_with_timeout(
        Command::new("unshare").args(["--mount", "--pid", "--fork", "--", "sh", "-c", &chain]),
        Duration::from_secs(60),
    );
    let o = ok(&out);
    assert!(o.lines().any(|l| l == format!("limit {want}")), "{o}");
    for bad in [
        "release-agent",
        "wrote-limit",
        "wrote-procs",
        "made-cgroup",
        "made-top",
    ] {
        assert!(!o.lines().any(|l| l == bad), "{bad}: {o}");
    }
    // Only the group's own directory: no cgroup below it, and none of the
    // host's beside it.
    assert!(o.lines().any(|l| l == "dirs 0"), "{o}");
    if v2 {
        // A cgroup namespace rooted at the group.
        assert!(o.lines().any(|l| l == "0::/"), "{o}");
    } else {
        // Only the hierarchies the process has a cgroup of its own in: here
        // memory alone (the others are the test's, often the root).
        let top_line = o.lines().find(|l| l.starts_with("top ")).unwrap();
        assert!(top_line.split_whitespace().any(|w| w == "memory"), "{o}");
        for w in top_line.split_whitespace().skip(1) {
            let Some(own) = own_dir(Some(w.split(',').next().unwrap())) else {
                continue;
            };
            assert!(
                w == "memory" || own.to_string_lossy() != format!("/sys/fs/cgroup/{w}"),
                "a root cgroup shown: {w}: {o}"
            );
        }
    }
}
