//! Where the cgroup hierarchies are, which version each is, and where a
//! GROUP name lands in each of them.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The v1 controllers a group is created in (when mounted); the others
/// (devices, net_cls, named hierarchies...) are left alone.
pub const V1_STANDARD: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "blkio", "pids", "freezer",
];

/// The v2 controllers enabled for a group's ancestors (where available).
pub const V2_STANDARD: &[&str] = &["cpu", "cpuset", "io", "memory", "pids"];

use ctcore::mountinfo::V1_CONTROLLERS as KNOWN;

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only v1 hierarchies.
    Legacy,
    /// v1 hierarchies plus a v2 one.
    Hybrid,
    /// Only the v2 hierarchy.
    Unified,
}

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hier {
    /// Where it is mounted.
    pub mount: PathBuf,
    /// v1: the controllers bound to it; v2: those in the root's cgroup.controllers.
    pub controllers: Vec<String>,
    /// Whether this is the v2 hierarchy.
    pub v2: bool,
    /// The caller's own cgroup in it, relative to the mount ("/" at the top).
    pub own: String,
}

/// All hierarchies.
#[derive(Debug, Clone)]
pub struct Tree {
    pub hiers: Vec<Hier>,
    pub mode: Mode,
    /// This run sets a device policy: the group lives in the devices
    /// hierarchy too (see [`Tree::hiers_of`]).
    pub devices: bool,
}

/// Which version serves a logical controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl Tree {
    /// The host's hierarchies, or the tree under `root`.
    ///
    /// # Errors
    /// When nothing cgroup-like is found.
    pub fn detect(root: Option<&Path>) -> Result<Self> {
        if let Some(root) = root {
            return Self::from_root(root);
        }
        let mi = ctcore::read_text("/proc/self/mountinfo").context("/proc/self/mountinfo")?;
        let pc = ctcore::read_text("/proc/self/cgroup").unwrap_or_default();
        let mut tree = Self::from_mountinfo(&mi, &pc);
        for h in &mut tree.hiers {
            if h.v2 {
                h.controllers = read_words(&h.mount.join("cgroup.controllers"));
            }
        }
        if tree.hiers.is_empty() {
            bail!("no cgroup hierarchy is mounted (see /proc/self/mountinfo)");
        }
        Ok(tree)
    }

    /// Parse mountinfo and /proc/self/cgroup (v2 controllers left empty).
    #[must_use]
    pub fn from_mountinfo(mountinfo: &str, proc_cgroup: &str) -> Self {
        let mut hiers: Vec<Hier> = Vec::new();
        for m in ctcore::mountinfo::parse(mountinfo) {
            let v2 = match m.fstype.as_str() {
                "cgroup2" => true,
                "cgroup" => false,
                _ => continue,
            };
            let controllers: Vec<String> = if v2 {
                Vec::new()
            } else {
                m.super_options
                    .split(',')
                    .filter(|o| KNOWN.contains(o))
                    .map(String::from)
                    .collect()
            };
            if !v2 && controllers.is_empty() {
                continue; // named hierarchy (name=systemd)
            }
            if hiers
                .iter()
                .any(|h| h.v2 == v2 && h.controllers == controllers)
            {
                continue; // the same hierarchy mounted twice
            }
            let own = own_cgroup(proc_cgroup, v2, &controllers, &m.root);
            hiers.push(Hier {
                mount: PathBuf::from(m.target),
                controllers,
                v2,
                own,
            });
        }
        let mode = mode_of(&hiers);
        Self {
            hiers,
            mode,
            devices: false,
        }
    }

    /// A tree laid out like /sys/fs/cgroup under `root`: v2 when
    /// root/cgroup.controllers exists; else v1 directories named after their
    /// controllers (comma-joined when co-mounted) and, for hybrid, a v2 tree
    /// in root/unified.  The caller's own cgroup is the top of each.
    ///
    /// # Errors
    /// When `root` holds no hierarchy.
    pub fn from_root(root: &Path) -> Result<Self> {
        let mut hiers = Vec::new();
        if root.join("cgroup.controllers").is_file() {
            hiers.push(Hier {
                mount: root.to_path_buf(),
                controllers: read_words(&root.join("cgroup.controllers")),
                v2: true,
                own: "/".into(),
            });
        } else {
            let rd = fs::read_dir(root).with_context(|| format!("--root {}", root.display()))?;
            let mut names: Vec<String> = rd
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            names.sort();
            for name in names {
                let dir = root.join(&name);
                if !dir.is_dir() || dir.is_symlink() {
                    continue;
                }
                if name == "unified" && dir.join("cgroup.controllers").is_file() {
                    hiers.push(Hier {
                        controllers: read_words(&dir.join("cgroup.controllers")),
                        mount: dir,
                        v2: true,
                        own: "/".into(),
                    });
                    continue;
                }
                let controllers: Vec<String> = name.split(',').map(String::from).collect();
                if controllers.iter().all(|c| KNOWN.contains(&c.as_str())) {
                    hiers.push(Hier {
                        mount: dir,
                        controllers,
                        v2: false,
                        own: "/".into(),
                    });
                }
            }
        }
        if hiers.is_empty() {
            bail!(
                "--root {}: no cgroup tree there (neither cgroup.controllers nor controller directories)",
                root.display()
            );
        }
        let mode = mode_of(&hiers);
        Ok(Self {
            hiers,
            mode,
            devices: false,
        })
    }

    /// The v2 hierarchy, if any.
    #[must_use]
    pub fn v2(&self) -> Option<&Hier> {
        self.hiers.iter().find(|h| h.v2)
    }

    /// The hierarchy that serves a logical controller (`cpu`, `cpuacct`,
    /// `cpuset`, `memory`, `blkio`, `pids`, `freezer`): v1 first, then v2
    /// where it is available (blkio is `io` there, cpuacct is `cpu`, and the
    /// freezer is part of every v2 cgroup).
    #[must_use]
    pub fn hier_for(&self, ctrl: &str) -> Option<(usize, Version)> {
        if let Some(i) = self
            .hiers
            .iter()
            .position(|h| !h.v2 && h.controllers.iter().any(|c| c == ctrl))
        {
            return Some((i, Version::V1));
        }
        let i = self.hiers.iter().position(|h| h.v2)?;
        let h = &self.hiers[i];
        let name = v2_name(ctrl);
        if ctrl == "freezer" && self.mode == Mode::Unified
            || h.controllers.iter().any(|c| c == name)
        {
            return Some((i, Version::V2));
        }
        None
    }

    /// The version serving `ctrl`, if any.
    #[must_use]
    pub fn version_of(&self, ctrl: &str) -> Option<Version> {
        self.hier_for(ctrl).map(|(_, v)| v)
    }

    /// The hierarchies a group lives in: every v1 one with a standard
    /// controller, and the v2 one when it is the only one or serves a
    /// standard controller.
    #[must_use]
    pub fn group_hiers(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, h) in self.hiers.iter().enumerate() {
            let used = if h.v2 {
                self.mode == Mode::Unified
                    || V1_STANDARD
                        .iter()
                        .any(|c| self.hier_for(c).is_some_and(|(j, _)| j == i))
            } else {
                h.controllers
                    .iter()
                    .any(|c| V1_STANDARD.contains(&c.as_str()))
            };
            if used {
                out.push(i);
            }
        }
        out
    }
}

impl Tree {
    /// Where the device policy lives: the v1 devices hierarchy, else the
    /// v2 one (a BPF program).
    #[must_use]
    pub fn devices_hier(&self) -> Option<usize> {
        self.hiers
            .iter()
            .position(|h| !h.v2 && h.controllers.iter().any(|c| c == "devices"))
            .or_else(|| self.hiers.iter().position(|h| h.v2))
    }

    /// The hierarchies `group` is made in and joined in: those of
    /// [`Tree::group_hiers`], and the devices hierarchy when this run sets a
    /// device policy or the group is there already (a process joining a
    /// group with device rules must not escape them).
    #[must_use]
    pub fn hiers_of(&self, group: &Group) -> Vec<usize> {
        let mut out = self.group_hiers();
        if let Some(d) = self.devices_hier()
            && !out.contains(&d)
            && (self.devices || (!self.hiers[d].v2 && group.dir(&self.hiers[d]).is_dir()))
        {
            out.push(d);
        }
        out
    }
}

/// The v2 name of a logical controller.
#[must_use]
pub fn v2_name(ctrl: &str) -> &str {
    match ctrl {
        "blkio" => "io",
        "cpuacct" => "cpu",
        c => c,
    }
}

fn mode_of(hiers: &[Hier]) -> Mode {
    match (hiers.iter().any(|h| !h.v2), hiers.iter().any(|h| h.v2)) {
        (true, true) => Mode::Hybrid,
        (false, true) => Mode::Unified,
        _ => Mode::Legacy,
    }
}

fn own_cgroup(proc_cgroup: &str, v2: bool, controllers: &[String], mroot: &str) -> String {
    let mut path = None;
    for line in proc_cgroup.lines() {
        let mut it = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(p)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let matches = if v2 {
            ctrls.is_empty()
        } else {
            let mut a: Vec<&str> = ctrls.split(',').filter(|c| KNOWN.contains(c)).collect();
            let mut b: Vec<&str> = controllers.iter().map(String::as_str).collect();
            a.sort_unstable();
            b.sort_unstable();
            !a.is_empty() && a == b
        };
        if matches {
            path = Some(p.to_string());
            break;
        }
    }
    let p = path.unwrap_or_else(|| "/".into());
    // A mount of a subtree: the path is relative to the mount's root.
    if mroot != "/"
        && let Some(rest) = p.strip_prefix(mroot)
    {
        if rest.is_empty() {
            return "/".into();
        }
        if rest.starts_with('/') {
            return rest.to_string();
        }
    }
    p
}

/// The words of a file (cgroup.controllers, cgroup.subtree_control).
#[must_use]
pub fn read_words(p: &Path) -> Vec<String> {
    ctcore::read_text(p)
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// A validated GROUP name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// As given.
    pub name: String,
    /// Below the caller's own cgroup (`./a/b`) rather than the root.
    pub relative: bool,
    /// The path components.
    pub comps: Vec<String>,
}

impl Group {
    /// Check a GROUP name: `/a/b`, `a/b` or `./a/b`; no `..`, no empty
    /// components, no control characters.
    ///
    /// # Errors
    /// Describing what is wrong with the name.
    pub fn parse(name: &str) -> Result<Self> {
        if name.is_empty() {
            bail!("empty cgroup name");
        }
        let (relative, rest) = if let Some(r) = name.strip_prefix("./") {
            (true, r)
        } else if name == "." {
            (true, "")
        } else {
            (false, name.strip_prefix('/').unwrap_or(name))
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut comps = Vec::new();
        if !rest.is_empty() {
            for c in rest.split('/') {
                if c.is_empty() {
                    bail!("cgroup name '{name}': empty component");
                }
                if c == ".." || c == "." {
                    bail!("cgroup name '{name}': '{c}' components are not allowed");
                }
                if c.chars().any(char::is_control) {
                    bail!("cgroup name '{name}': control characters are not allowed");
                }
                if c.len() > 255 {
                    bail!("cgroup name '{name}': component longer than 255 bytes");
                }
                comps.push(c.to_string());
            }
        }
        Ok(Self {
            name: name.to_string(),
            relative,
            comps,
        })
    }

    /// Whether this names the top of the hierarchy (or the caller's own cgroup).
    #[must_use]
    pub fn is_top(&self) -> bool {
        self.comps.is_empty()
    }

    /// The directories from the base (the mount or the caller's own cgroup)
    /// down to the group, base first.
    #[must_use]
    pub fn chain(&self, h: &Hier) -> Vec<PathBuf> {
        let mut base = h.mount.clone();
        if self.relative {
            for c in h.own.split('/').filter(|c| !c.is_empty()) {
                base.push(c);
            }
        }
        let mut out = vec![base.clone()];
        for c in &self.comps {
            base.push(c);
            out.push(base.clone());
        }
        out
    }

    /// The group's directory in `h`.
    #[must_use]
    pub fn dir(&self, h: &Hier) -> PathBuf {
        self.chain(h).pop().unwrap_or_else(|| h.mount.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const PC: &str =
        "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/user.slice\n";

    #[test]
    fn mountinfo_hybrid() {
        let t = Tree::from_mountinfo(MI, PC);
        assert_eq!(t.mode, Mode::Hybrid);
        assert_eq!(t.hiers.len(), 4);
        let mem = &t.hiers[2];
        assert_eq!(mem.controllers, vec!["memory"]);
        assert_eq!(mem.own, "/process_api/abc");
        assert_eq!(t.hiers[3].own, "/user.slice");
        assert_eq!(t.hier_for("memory"), Some((2, Version::V1)));
        assert_eq!(t.hier_for("pids"), None);
        let g = Group::parse("./x/y").unwrap();
        assert_eq!(
            g.dir(mem),
            PathBuf::from("/sys/fs/cgroup/memory/process_api/abc/x/y")
        );
        let g = Group::parse("/x").unwrap();
        assert_eq!(g.dir(mem), PathBuf::from("/sys/fs/cgroup/memory/x"));
        assert_eq!(t.group_hiers(), vec![0, 1, 2]);
    }

    #[test]
    fn mountinfo_unified_and_comounted() {
        let t = Tree::from_mountinfo(
            "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
            "0::/init.scope\n",
        );
        assert_eq!(t.mode, Mode::Unified);
        assert_eq!(t.hiers[0].own, "/init.scope");
        assert_eq!(t.hier_for("freezer"), Some((0, Version::V2)));
        let t = Tree::from_mountinfo(
            "32 31 0:29 /sub /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
            "1:cpuacct,cpu:/sub/me\n",
        );
        assert_eq!(t.mode, Mode::Legacy);
        assert_eq!(t.hiers[0].own, "/me");
        assert_eq!(t.hier_for("cpuacct"), Some((0, Version::V1)));
    }

    #[test]
    fn mount_point_escapes() {
        assert_eq!(ctcore::mountinfo::unescape("/a\\040b"), "/a b");
    }

    #[test]
    fn group_names() {
        assert!(Group::parse("").is_err());
        assert!(Group::parse("/a/../b").is_err());
        assert!(Group::parse("./..").is_err());
        assert!(Group::parse("a//b").is_err());
        assert!(Group::parse("a/./b").is_err());
        let g = Group::parse("a/b/").unwrap();
        assert_eq!(g.comps, vec!["a", "b"]);
        assert!(!g.relative);
        assert!(Group::parse("/").unwrap().is_top());
        assert!(Group::parse("./").unwrap().relative);
    }

    #[test]
    fn fake_roots() {
        let d = tempfile::tempdir().unwrap();
        fs::write(
            d.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let t = Tree::from_root(d.path()).unwrap();
        assert_eq!(t.mode, Mode::Unified);
        assert_eq!(t.hier_for("blkio"), Some((0, Version::V2)));
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("cpu,cpuacct")).unwrap();
        fs::create_dir(d.path().join("memory")).unwrap();
        fs::create_dir(d.path().join("unified")).unwrap();
        fs::write(d.path().join("unified/cgroup.controllers"), "pids\n").unwrap();
        let t = Tree::from_root(d.path()).unwrap();
        assert_eq!(t.mode, Mode::Hybrid);
        assert_eq!(t.version_of("pids"), Some(Version::V2));
        assert_eq!(t.version_of("cpuacct"), Some(Version::V1));
        assert_eq!(t.version_of("blkio"), None);
        assert_eq!(t.group_hiers().len(), 3);
        assert!(Tree::from_root(&d.path().join("memory")).is_err());
    }
}
