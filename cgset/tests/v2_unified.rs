//! Real cgroup v2 mechanics on this hybrid host's v2 mount
//! (/sys/fs/cgroup/unified, where only hugetlb is bound): attach, freeze
//! and thaw, show, the no-internal-processes rule, kill and delete.  The
//! v2 limits themselves are tested in the VM harness and on fake trees.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Kids, cgset, stderr};

const U: &str = "/sys/fs/cgroup/unified";

fn run(args: &[&str]) -> std::process::Output {
    cttest::run_with_timeout(
        cgset().arg("--root").arg(U).args(args),
        std::time::Duration::from_secs(60),
    )
}

fn get(rel: &str, f: &str) -> String {
    fs::read_to_string(Path::new(U).join(rel.trim_start_matches('/')).join(f)).unwrap_or_default()
}

#[test]
fn v2_attach_freeze_rule_and_delete() {
    if !cttest::require_root("cgset::v2_attach_freeze_rule_and_delete") {
        return;
    }
    let ok = Path::new(U).join("cgroup.controllers").exists()
        && fs::read_to_string("/proc/self/cgroup").is_ok_and(|s| s.contains("0::/\n"));
    if !cttest::require(
        "cgset::v2_attach_freeze_rule_and_delete",
        ok,
        "no cgroup2 mount at /sys/fs/cgroup/unified with us at its top",
    ) {
        return;
    }
    let _l = cttest::serial("cgroup");
    let p = format!("/cgset-test-{}-v2", std::process::id());
    let leaf = format!("{p}/leaf");
    let pdir = Path::new(U).join(p.trim_start_matches('/'));
    let _clean = cttest::defer(|| {
        let _ = cgset()
            .arg("--root")
            .arg(U)
            .args(["--delete", "--kill", &p])
            .output();
        assert!(!pdir.exists(), "{} left behind", pdir.display());
    });
    let mut kids = Kids(vec![Command::new("sleep").arg("60").spawn().unwrap()]);
    let pid = kids.0[0].id().to_string();
    let o = run(&["--pid", &pid, &leaf]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(get(&leaf, "cgroup.procs").lines().any(|l| l == pid));
    // Freeze waits for cgroup.events to say frozen; thaw for the reverse.
    let o = run(&["--freeze", &leaf]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&leaf, "cgroup.freeze").trim(), "1");
    assert!(get(&leaf, "cgroup.events").contains("frozen 1"));
    let o = run(&["--show", "--json", &leaf]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["mode"], "unified");
    assert_eq!(v["usage"]["frozen"], true);
    assert_eq!(v["pids"][0].to_string(), pid);
    let o = run(&["--thaw", &leaf]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(get(&leaf, "cgroup.events").contains("frozen 0"));
    // The no-internal-processes rule, with the one controller v2 has here.
    let root_sc = fs::read_to_string(Path::new(U).join("cgroup.subtree_control")).unwrap();
    let have = fs::read_to_string(Path::new(U).join("cgroup.controllers")).unwrap();
    if have.split_whitespace().any(|c| c == "hugetlb") {
        let we_enabled = !root_sc.split_whitespace().any(|c| c == "hugetlb");
        if we_enabled {
            fs::write(Path::new(U).join("cgroup.subtree_control"), "+hugetlb").unwrap();
        }
        let _restore = cttest::defer(move || {
            if we_enabled {
                let _ = fs::write(Path::new(U).join("cgroup.subtree_control"), "-hugetlb");
            }
        });
        // A process in P: P cannot pass controllers on.
        assert!(run(&["--pid", &pid, &p]).status.success());
        let o = run(&["-r", "cgroup.subtree_control=+hugetlb", &p]);
        assert_eq!(o.status.code(), Some(125));
        let e = stderr(&o);
        assert!(
            e.contains("Device or resource busy") && e.contains("no-internal-processes"),
            "{e}"
        );
        // Back in the leaf, P can; and then P cannot take the process.
        assert!(run(&["--pid", &pid, &leaf]).status.success());
        let o = run(&["-r", "cgroup.subtree_control=+hugetlb", &p]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = run(&["--pid", &pid, &p]);
        assert_eq!(o.status.code(), Some(125));
        assert!(
            stderr(&o).contains("no-internal-processes"),
            "{}",
            stderr(&o)
        );
        assert!(
            run(&["-r", "cgroup.subtree_control=-hugetlb", &p])
                .status
                .success()
        );
    }
    // Delete refuses a populated group; --kill empties (cgroup.kill) and removes it.
    let o = run(&["--delete", &p]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("populated"), "{}", stderr(&o));
    let o = run(&["--delete", "--kill", &p]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!pdir.exists());
    assert!(!kids.0[0].wait().unwrap().success());
}

#[test]
fn v2_threaded_cgroup_takes_threads() {
    if !cttest::require_root("cgset::v2_threaded_cgroup_takes_threads") {
        return;
    }
    let ok = Path::new(U).join("cgroup.controllers").exists()
        && fs::read_to_string("/proc/self/cgroup").is_ok_and(|s| s.contains("0::/\n"));
    if !cttest::require(
        "cgset::v2_threaded_cgroup_takes_threads",
        ok,
        "no cgroup2 mount at /sys/fs/cgroup/unified with us at its top",
    ) {
        return;
    }
    let _l = cttest::serial("cgroup");
    let p = format!("/cgset-test-{}-thr", std::process::id());
    let t = format!("{p}/t");
    let pdir = Path::new(U).join(p.trim_start_matches('/'));
    let _clean = cttest::defer(|| {
        let _ = cgset()
            .arg("--root")
            .arg(U)
            .args(["--delete", "--kill", &p])
            .output();
        assert!(!pdir.exists(), "{} left behind", pdir.display());
    });
    let mut kids = Kids(vec![Command::new("sleep").arg("60").spawn().unwrap()]);
    let pid = kids.0[0].id().to_string();
    // libcgroup's raw form reaches core files too: make t threaded.
    let o = run(&["-r", "cgroup.type=threaded", &t]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&p, "cgroup.type").trim(), "domain threaded");
    assert!(run(&["--pid", &pid, &p]).status.success());
    // cgroup.procs refuses a threaded cgroup; the threads go one by one.
    let o = run(&["--pid", &pid, &t]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(get(&t, "cgroup.threads").lines().any(|l| l == pid));
    let o = run(&["--delete", "--kill", &p]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!kids.0[0].wait().unwrap().success());
}

/// A process of four threads that sleep.
const THREADS_C: &str = r#"
#include <pthread.h>
#include <unistd.h>
static void *idle(void *arg) { (void)arg; for (;;) pause(); return 0; }
int main(void) {
    pthread_t t;
    for (int i = 0; i < 3; i++) pthread_create(&t, 0, idle, 0);
    for (;;) pause();
}
"#;

/// A threaded cgroup's cgroup.procs cannot be read (EOPNOTSUPP), nor its
/// cgroup.kill written: `--show` lists its process from cgroup.threads,
/// `--delete` refuses it populated, `--delete --kill` kills the process by
/// pid and removes it.
#[test]
fn v2_threaded_cgroup_show_and_delete_kill() {
    const NAME: &str = "cgset::v2_threaded_cgroup_show_and_delete_kill";
    if !cttest::require_root(NAME) {
        return;
    }
    let ok = Path::new(U).join("cgroup.controllers").exists()
        && fs::read_to_string("/proc/self/cgroup").is_ok_and(|s| s.contains("0::/\n"));
    if !cttest::require(
        NAME,
        ok,
        "no cgroup2 mount at /sys/fs/cgroup/unified with us at its top",
    ) {
        return;
    }
    let _l = cttest::serial("cgroup");
    let tmp = cttest::tempdir().unwrap();
    // Four threads where a static C compiler is here, else one (sleep).
    let (prog, ntasks) = match cttest::vm::compile_static_c(tmp.path(), "threads", THREADS_C) {
        Some(p) => (p.to_string_lossy().into_owned(), 4),
        None => ("sleep".to_string(), 1),
    };
    let p = format!("/cgset-test-{}-thk", std::process::id());
    let t = format!("{p}/t");
    let pdir = Path::new(U).join(p.trim_start_matches('/'));
    let tdir = pdir.join("t");
    let _clean = cttest::defer(|| {
        let _ = cgset()
            .arg("--root")
            .arg(U)
            .args(["--delete", "--kill", &p])
            .output();
        assert!(!pdir.exists(), "{} left behind", pdir.display());
    });
    let mut cmd = Command::new(&prog);
    if ntasks == 1 {
        cmd.arg("60");
    }
    let mut kids = Kids(vec![cmd.spawn().unwrap()]);
    let pid = kids.0[0].id();
    let task = format!("/proc/{pid}/task");
    for _ in 0..200 {
        if fs::read_dir(&task).map(Iterator::count).unwrap_or(0) >= ntasks {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(fs::read_dir(&task).unwrap().count(), ntasks);
    let o = run(&["-r", "cgroup.type=threaded", &t]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(run(&["--pid", &pid.to_string(), &p]).status.success());
    let o = run(&["--pid", &pid.to_string(), &t]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(get(&t, "cgroup.threads").lines().count(), ntasks);
    // The kernel's refusals this is about.
    let e = fs::read_to_string(tdir.join("cgroup.procs")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP), "{e}");
    let o = run(&["--show", "--json", &t]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["pids"], serde_json::json!([pid]), "{v}");
    let o = run(&["--delete", &t]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("populated (pid {pid}); use --kill")),
        "{}",
        stderr(&o)
    );
    assert!(tdir.is_dir());
    assert!(
        kids.0[0].try_wait().unwrap().is_none(),
        "killed without --kill"
    );
    let o = run(&["--delete", "--kill", &t]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!tdir.exists());
    let st = kids.0[0].wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&st),
        Some(libc::SIGKILL)
    );
    // The thread root, empty now, goes without --kill.
    let o = run(&["--delete", &p]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!pdir.exists());
}
