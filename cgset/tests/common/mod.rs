//! Helpers shared by cgset's integration tests.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub fn cgset() -> Command {
    let mut c = cttest::cmd("cgset");
    c.env_remove("CGSET_ROOT");
    c
}

pub fn run(args: &[&str]) -> Output {
    cttest::run_with_timeout(cgset().args(args), Duration::from_secs(60))
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Our own cgroup path in the v1 hierarchy of `ctrl`.
pub fn own(ctrl: &str) -> String {
    let pc = fs::read_to_string("/proc/self/cgroup").unwrap();
    for l in pc.lines() {
        let mut it = l.splitn(3, ':');
        let (_, c, p) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or("/"));
        if c.split(',').any(|x| x == ctrl) {
            return p.to_string();
        }
    }
    "/".into()
}

/// The directory of `./rel` in the v1 hierarchy of `ctrl`.
pub fn dir(ctrl: &str, rel: &str) -> PathBuf {
    let mut p = PathBuf::from(format!("/sys/fs/cgroup/{ctrl}"));
    for c in own(ctrl).split('/').filter(|c| !c.is_empty()) {
        p.push(c);
    }
    for c in rel
        .trim_start_matches("./")
        .split('/')
        .filter(|c| !c.is_empty())
    {
        p.push(c);
    }
    p
}

pub fn read(ctrl: &str, rel: &str, file: &str) -> String {
    let p = dir(ctrl, rel).join(file);
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

pub const HIERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "blkio", "pids", "freezer",
];

/// Whether `./rel` exists in any hierarchy.
pub fn exists_anywhere(rel: &str) -> bool {
    HIERS
        .iter()
        .chain(&["devices"])
        .any(|c| dir(c, rel).exists())
}

/// A parent group of ours, removed (with its processes) when dropped.
pub struct Parent {
    pub name: String,
}

impl Parent {
    pub fn new(tag: &str) -> Self {
        let name = format!("./cgset-test-{}-{tag}", std::process::id());
        let p = Self { name };
        p.remove();
        p
    }
    pub fn sub(&self, s: &str) -> String {
        format!("{}/{s}", self.name)
    }
    fn remove(&self) {
        if exists_anywhere(&self.name) {
            let _ = run(&["--delete", "--kill", &self.name]);
        }
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        self.remove();
        assert!(!exists_anywhere(&self.name), "{} left behind", self.name);
    }
}

/// Start a CPU hog inside `group` (through cgset's exec chain).
pub fn hog(group: &str) -> Child {
    cgset()
        .args([group, "--", "sh", "-c", "while :; do :; done"])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn hog")
}

/// Kills children by pid when dropped.
pub struct Kids(pub Vec<Child>);

impl Drop for Kids {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn usage_ns(rel: &str) -> u64 {
    read("cpuacct", rel, "cpuacct.usage").parse().unwrap()
}

/// Wait until `n` processes are in the group's cpu hierarchy.
pub fn wait_procs(rel: &str, n: usize) {
    for _ in 0..500 {
        let s = fs::read_to_string(dir("cpu", rel).join("cgroup.procs")).unwrap_or_default();
        if s.lines().count() >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{rel}: {n} processes never arrived");
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
