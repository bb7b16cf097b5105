//! Telling an OOM kill from another SIGKILL: the memory cgroup's OOM-kill
//! counter (v1 `memory.oom_control` `oom_kill`, falling back to
//! `memory.failcnt`; v2 `memory.events` `oom_kill`), read before the
//! workers start and again when one dies by SIGKILL.

use std::path::{Path, PathBuf};

/// Which cgroup hierarchy holds the memory controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// cgroup v1 `memory` hierarchy.
    V1,
    /// cgroup v2 unified hierarchy.
    V2,
}

/// Our memory cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemCg {
    /// v1 or v2.
    pub version: Version,
    /// The cgroup's path as /proc/self/cgroup shows it.
    pub path: String,
    /// The directory of the hierarchy's root mount as we see it.
    pub mount: PathBuf,
    /// The cgroup path of that mount's root (`/` unless in a cgroup ns or
    /// a bind mount).
    pub mount_root: String,
}

/// The memory cgroup of this process from the texts of /proc/self/cgroup
/// and /proc/self/mountinfo (v1 memory when mounted, else v2).
#[must_use]
pub fn find_in(cgroup: &str, mountinfo: &str) -> Option<MemCg> {
    let mut v1 = None;
    let mut v2 = None;
    for line in cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(ctrl), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if ctrl.split(',').any(|c| c == "memory") {
            v1 = Some(path.to_string());
        } else if ctrl.is_empty() {
            v2 = Some(path.to_string());
        }
    }
    let mut m1 = None;
    let mut m2 = None;
    for m in ctcore::mountinfo::parse(mountinfo) {
        let found = Some((m.root, PathBuf::from(m.target)));
        match m.fstype.as_str() {
            "cgroup" if m.super_options.split(',').any(|o| o == "memory") => m1 = found,
            "cgroup2" if m2.is_none() => m2 = found,
            _ => {}
        }
    }
    if let (Some(path), Some((mount_root, mount))) = (v1, m1) {
        return Some(MemCg {
            version: Version::V1,
            path,
            mount,
            mount_root,
        });
    }
    let (path, (mount_root, mount)) = (v2?, m2?);
    let cg = MemCg {
        version: Version::V2,
        path,
        mount,
        mount_root,
    };
    // A v2 mount without the memory controller (a hybrid set-up's
    // "unified" mount) has no memory.events.
    cg.dir().join("memory.events").exists().then_some(cg)
}

/// Our memory cgroup, from /proc.
#[must_use]
pub fn find() -> Option<MemCg> {
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    find_in(&cg, &mi)
}

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

impl MemCg {
    /// The directory of a cgroup path under the mount.
    fn dir_of(&self, path: &str) -> PathBuf {
        let rel = if self.mount_root != "/" && path.starts_with(&self.mount_root) {
            &path[self.mount_root.len()..]
        } else {
            path
        };
        self.mount.join(rel.trim_start_matches('/'))
    }

    /// Our cgroup's directory.
    #[must_use]
    pub fn dir(&self) -> PathBuf {
        self.dir_of(&self.path)
    }

    /// The OOM-kill counter (v1 may lack `oom_kill` before Linux 4.13: then
    /// `memory.failcnt`, the number of times the limit was hit).
    #[must_use]
    pub fn oom_count(&self) -> Option<u64> {
        let d = self.dir();
        match self.version {
            Version::V1 => read(&d.join("memory.oom_control"))
                .and_then(|t| keyed(&t, "oom_kill"))
                .or_else(|| read(&d.join("memory.failcnt"))?.trim().parse().ok()),
            Version::V2 => keyed(&read(&d.join("memory.events"))?, "oom_kill"),
        }
    }

    /// The nearest memory limit, ours or an ancestor's: (cgroup path,
    /// bytes).
    #[must_use]
    pub fn limit(&self) -> Option<(String, u64)> {
        let mut path = self.path.clone();
        loop {
            let d = self.dir_of(&path);
            let file = match self.version {
                Version::V1 => "memory.limit_in_bytes",
                Version::V2 => "memory.max",
            };
            if let Some(v) = read(&d.join(file)).and_then(|t| t.trim().parse::<u64>().ok())
                && v < 1 << 62
            {
                return Some((path, v));
            }
            if path == "/" || path.is_empty() || !d.starts_with(&self.mount) || d == self.mount {
                return None;
            }
            path = match path.rfind('/') {
                Some(0) => "/".to_string(),
                Some(i) => path[..i].to_string(),
                None => return None,
            };
        }
    }
}

/// A byte count as `64M (67108864 bytes)`.
#[must_use]
pub fn human(bytes: u64) -> String {
    for (shift, s) in [(30, "G"), (20, "M"), (10, "K")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{s} ({bytes} bytes)", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

/// The text of the second FAIL line after an OOM kill.
#[must_use]
pub fn message(pid: i32, cg: &MemCg) -> String {
    match cg.limit() {
        Some((path, bytes)) => format!(
            "<-- worker {pid} was killed by the OOM killer: memory cgroup {} is limited to {}{}",
            cg.path,
            human(bytes),
            if path == cg.path {
                String::new()
            } else {
                format!(" by {path}")
            }
        ),
        None => format!(
            "<-- worker {pid} was killed by the OOM killer in memory cgroup {}",
            cg.path
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: &str = "\
24 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
33 24 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
40 33 0:35 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
41 33 0:36 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn v1_from_hybrid() {
        let cg = "12:memory:/process_api/x\n4:cpu,cpuacct:/\n0::/\n";
        let m = find_in(cg, MI).unwrap();
        assert_eq!(m.version, Version::V1);
        assert_eq!(m.dir(), Path::new("/sys/fs/cgroup/memory/process_api/x"));
    }

    #[test]
    fn fake_tree_counts_and_limits() {
        let t = cttest::tempdir().unwrap();
        let leaf = t.path().join("a/b");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(t.path().join("a/memory.limit_in_bytes"), "67108864\n").unwrap();
        std::fs::write(leaf.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        std::fs::write(
            leaf.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        )
        .unwrap();
        let m = MemCg {
            version: Version::V1,
            path: "/a/b".into(),
            mount: t.path().into(),
            mount_root: "/".into(),
        };
        assert_eq!(m.oom_count(), Some(3));
        assert_eq!(m.limit(), Some(("/a".to_string(), 64 << 20)));
        assert!(
            message(7, &m).ends_with("limited to 64M (67108864 bytes) by /a"),
            "{}",
            message(7, &m)
        );
        std::fs::write(
            leaf.join("memory.events"),
            "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
        )
        .unwrap();
        std::fs::write(leaf.join("memory.max"), "max\n").unwrap();
        let v2 = MemCg {
            version: Version::V2,
            ..m
        };
        assert_eq!(v2.oom_count(), Some(1));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(64 << 20), "64M (67108864 bytes)");
        assert_eq!(human(1000), "1000 bytes");
    }
}
