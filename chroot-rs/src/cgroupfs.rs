//! `--cgroupfs`: a read-only /sys/fs/cgroup in the new root that shows the
//! caller's own cgroups and nothing else of the host's, as runc mounts it
//! for Docker.
//!
//! * cgroup v1 (and hybrid): an empty tmpfs on NEWROOT/sys/fs/cgroup, and
//!   in it, for each mounted controller hierarchy in which the caller has a
//!   cgroup of its own (not the hierarchy's root), a read-only bind of that
//!   cgroup's directory, named as the kernel lists the hierarchy's
//!   controllers (`cpu,cpuacct`), with a symbolic link per controller where
//!   a hierarchy has several (`cpu -> cpu,cpuacct`).  Named hierarchies
//!   (`name=systemd`) and the hybrid's v2 hierarchy are left out: the
//!   caller's cgroup there is shared with the host's other processes.  The
//!   tmpfs is then made read-only too.
//! * cgroup v2: a new cgroup namespace rooted at the caller's cgroup (so it
//!   must come after the caller joined it, which is why it is made here and
//!   not by unshare-rs), and a read-only cgroup2 mounted on
//!   NEWROOT/sys/fs/cgroup, whose root is that cgroup.  Where the kernel
//!   refuses the mount, a read-only bind of the cgroup's directory.
//!
//! A caller in its hierarchies' root cgroups gets an empty read-only tmpfs:
//! the host's tree is never shown.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MsFlags, mount};

use crate::root::{Log, Step, StepError, in_root};

/// One line of /proc/self/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The hierarchy id (0: the v2 hierarchy).
    pub id: u32,
    /// Its controllers, as the kernel lists them (`cpu,cpuacct`; empty for v2).
    pub controllers: String,
    /// The caller's cgroup in it, from the hierarchy's root.
    pub path: String,
}

/// One cgroup or cgroup2 mount of /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgMount {
    /// The directory of the hierarchy this mount shows (`/` for a whole one).
    pub root: String,
    /// Where it is mounted.
    pub point: PathBuf,
    /// Whether it is cgroup2.
    pub v2: bool,
    /// v1: the controllers among its super options, sorted.
    pub controllers: Vec<String>,
}

/// /proc/self/cgroup's lines.
#[must_use]
pub fn parse_cgroup(text: &str) -> Vec<Member> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let id = f.next()?.parse().ok()?;
            let controllers = f.next()?.to_string();
            let path = f.next()?.to_string();
            Some(Member {
                id,
                controllers,
                path,
            })
        })
        .collect()
}

/// The cgroup and cgroup2 mounts of a mountinfo text.
#[must_use]
pub fn parse_mountinfo(text: &str) -> Vec<CgMount> {
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            let fstype = *post.first()?;
            let v2 = match fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            let mut controllers: Vec<String> = if v2 {
                Vec::new()
            } else {
                post.get(2)?
                    .split(',')
                    .filter(|o| {
                        ctcore::mountinfo::V1_CONTROLLERS.contains(o) || o.starts_with("name=")
                    })
                    .map(str::to_string)
                    .collect()
            };
            controllers.sort();
            Some(CgMount {
                root: ctcore::mountinfo::unescape(pre.get(3)?),
                point: PathBuf::from(ctcore::mountinfo::unescape(pre.get(4)?)),
                v2,
                controllers,
            })
        })
        .collect()
}

/// What `--cgroupfs` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// v1: (name in /sys/fs/cgroup, the directory to bind, its controllers).
    V1(Vec<(String, PathBuf, Vec<String>)>),
    /// v2: a cgroup namespace and cgroup2; the caller's directory for the
    /// bind fallback.
    V2(PathBuf),
    /// Nothing of the caller's own: an empty tmpfs.
    Empty,
}

/// The directory of `path` (a cgroup, from its hierarchy's root) under the
/// mount `m`, when the mount shows it.
fn dir_under(m: &CgMount, path: &str) -> Option<PathBuf> {
    let rel = if m.root == "/" {
        path.strip_prefix('/')?
    } else {
        let r = path.strip_prefix(m.root.as_str())?;
        if !r.is_empty() && !r.starts_with('/') {
            return None;
        }
        r.trim_start_matches('/')
    };
    Some(if rel.is_empty() {
        m.point.clone()
    } else {
        m.point.join(rel)
    })
}

/// Decide what to show from /proc/self/cgroup and /proc/self/mountinfo.
#[must_use]
pub fn plan(members: &[Member], mounts: &[CgMount]) -> Plan {
    let v1: Vec<&Member> = members
        .iter()
        .filter(|m| m.id != 0 && !m.controllers.is_empty())
        .collect();
    if !v1.is_empty() {
        let mut out = Vec::new();
        for m in v1 {
            let mut ctrls: Vec<String> = m.controllers.split(',').map(str::to_string).collect();
            // Named hierarchies (name=systemd) hold the caller's session, not a
            // cgroup of its own; a root cgroup is the host's whole tree.
            if ctrls.iter().any(|c| c.starts_with("name=")) || m.path == "/" {
                continue;
            }
            ctrls.sort();
            let Some(dir) = mounts
                .iter()
                .filter(|c| !c.v2 && c.controllers == ctrls)
                .find_map(|c| dir_under(c, &m.path))
            else {
                continue;
            };
            if out
                .iter()
                .any(|(n, _, _): &(String, _, _)| *n == m.controllers)
            {
                continue;
            }
            out.push((m.controllers.clone(), dir, ctrls));
        }
        return if out.is_empty() {
            Plan::Empty
        } else {
            Plan::V1(out)
        };
    }
    let Some(own) = members
        .iter()
        .find(|m| m.id == 0 && m.controllers.is_empty())
    else {
        return Plan::Empty;
    };
    if own.path == "/" {
        return Plan::Empty;
    }
    mounts
        .iter()
        .filter(|c| c.v2)
        .find_map(|c| dir_under(c, &own.path))
        .map_or(Plan::Empty, Plan::V2)
}

const FLAGS: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

fn mnt(src: Option<&Path>, t: &Path, fstype: Option<&str>, fl: MsFlags, what: &str) -> Step {
    mount(src, t, fstype, fl, None::<&str>)
        .map_err(|e| StepError::new(format!("cannot mount {what} on '{}'", t.display()), e))
}

/// A read-only bind of `src` on `t` (nosuid, nodev, noexec).
fn bind_ro(src: &Path, t: &Path) -> Step {
    mnt(Some(src), t, None, MsFlags::MS_BIND, "a bind of a cgroup")?;
    remount_ro(t)
}

/// The bind at `t` read-only (nosuid, nodev, noexec).
fn remount_ro(t: &Path) -> Step {
    let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | FLAGS;
    mnt(None, t, None, ro, "a read-only remount")
}

/// `mount_setattr(2)`'s MOUNT_ATTR_NOSUID and MOUNT_ATTR_NODEV.
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

/// The tmpfs at `t` and every bind in it read-only, nosuid, nodev and
/// noexec, in one call.
fn set_tree_ro(t: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(t.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let set = ctcore::sealed::MOUNT_ATTR_RDONLY
        | MOUNT_ATTR_NOSUID
        | MOUNT_ATTR_NODEV
        | ctcore::sealed::MOUNT_ATTR_NOEXEC;
    ctcore::sealed::mount_setattr(libc::AT_FDCWD, &c, libc::AT_RECURSIVE, set, 0).is_ok()
}

/// `--cgroupfs`, after `--sys` mounted NEWROOT/sys.
///
/// # Errors
/// A failed mount, mkdir, symlink or unshare.
pub fn setup(root: &Path, log: Log) -> Step {
    let read =
        |p: &str| ctcore::read_text(p).map_err(|e| StepError::io(format!("cannot read {p}"), &e));
    let members = parse_cgroup(&read("/proc/self/cgroup")?);
    let mounts = parse_mountinfo(&read("/proc/self/mountinfo")?);
    let t = in_root(root, "sys/fs/cgroup", None)?;
    match plan(&members, &mounts) {
        Plan::V2(dir) => {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
                .map_err(|e| StepError::new("cannot make a cgroup namespace", e))?;
            let fl = FLAGS | MsFlags::MS_RDONLY;
            match mount(Some("cgroup2"), &t, Some("cgroup2"), fl, None::<&str>) {
                Ok(()) => log(&format!(
                    "mounted a read-only cgroup2 on '{}' in a new cgroup namespace (the host's {})",
                    t.display(),
                    dir.display()
                )),
                Err(Errno::EPERM) => {
                    bind_ro(&dir, &t)?;
                    log(&format!(
                        "cgroup2 refused: bound {} read-only on '{}'",
                        dir.display(),
                        t.display()
                    ));
                }
                Err(e) => {
                    return Err(StepError::new(
                        format!("cannot mount cgroup2 on '{}'", t.display()),
                        e,
                    ));
                }
            }
        }
        Plan::V1(hiers) => {
            mnt(
                Some(Path::new("tmpfs")),
                &t,
                Some("tmpfs"),
                FLAGS,
                "a tmpfs",
            )?;
            // mode=755 as Docker's (a tmpfs starts 1777).
            let _ = fs::set_permissions(&t, std::os::unix::fs::PermissionsExt::from_mode(0o755));
            let mkdir = |p: &Path| {
                fs::create_dir(p)
                    .map_err(|e| StepError::io(format!("cannot create '{}'", p.display()), &e))
            };
            // The binds first, then the whole tree read-only at once
            // (mount_setattr, Linux 5.12); on older kernels each bind and
            // the tmpfs remounted read-only one by one.  Nothing runs in
            // the new root before this is done.
            for (name, dir, ctrls) in &hiers {
                let d = t.join(name);
                mkdir(&d)?;
                mnt(Some(dir), &d, None, MsFlags::MS_BIND, "a bind of a cgroup")?;
                if ctrls.len() > 1 {
                    for c in ctrls {
                        let l = t.join(c);
                        symlink(name, &l).map_err(|e| {
                            StepError::io(format!("cannot create '{}'", l.display()), &e)
                        })?;
                    }
                }
                log(&format!(
                    "bound {} read-only on '{}'",
                    dir.display(),
                    d.display()
                ));
            }
            if !set_tree_ro(&t) {
                for (name, _, _) in &hiers {
                    remount_ro(&t.join(name))?;
                }
                let ro = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | FLAGS;
                mnt(None, &t, None, ro, "a read-only remount")?;
            }
        }
        Plan::Empty => {
            mnt(
                Some(Path::new("tmpfs")),
                &t,
                Some("tmpfs"),
                FLAGS | MsFlags::MS_RDONLY,
                "a tmpfs",
            )?;
            log(&format!(
                "no cgroup of the caller's own: an empty read-only tmpfs on '{}'",
                t.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str =
        "9:name=systemd:/\n8:pids:/c/x\n4:memory:/c/x\n2:cpu,cpuacct:/c/x\n1:devices:/\n0::/\n";
    const MI: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/pids rw shared:12 - cgroup cgroup rw,pids
34 30 0:30 / /sys/fs/cgroup/memory rw shared:13 - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw shared:14 - cgroup cgroup rw,cpu,cpuacct
36 30 0:32 / /sys/fs/cgroup/devices rw shared:15 - cgroup cgroup rw,devices
";

    #[test]
    fn v1_binds_own_cgroups_only() {
        let p = plan(&parse_cgroup(HYBRID), &parse_mountinfo(MI));
        let Plan::V1(h) = p else { panic!("{p:?}") };
        let names: Vec<&str> = h.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(names, ["pids", "memory", "cpu,cpuacct"]);
        assert_eq!(h[1].1, Path::new("/sys/fs/cgroup/memory/c/x"));
        assert_eq!(h[2].2, ["cpu", "cpuacct"]);
    }

    #[test]
    fn v2_and_root_cases() {
        let mi = "31 25 0:27 / /sys/fs/cgroup rw shared:10 - cgroup2 cgroup2 rw,nsdelegate\n";
        let m = parse_mountinfo(mi);
        assert_eq!(
            plan(&parse_cgroup("0::/a/b\n"), &m),
            Plan::V2(PathBuf::from("/sys/fs/cgroup/a/b"))
        );
        assert_eq!(plan(&parse_cgroup("0::/\n"), &m), Plan::Empty);
        assert_eq!(
            plan(&parse_cgroup("9:name=systemd:/u\n4:memory:/\n0::/\n"), &[]),
            Plan::Empty
        );
    }

    #[test]
    fn mount_roots_and_escapes() {
        let mi = "34 30 0:30 /c /mnt/my\\040mem rw - cgroup cgroup rw,memory\n";
        let m = parse_mountinfo(mi);
        assert_eq!(m[0].point, Path::new("/mnt/my mem"));
        assert_eq!(
            dir_under(&m[0], "/c/x"),
            Some(PathBuf::from("/mnt/my mem/x"))
        );
        assert_eq!(dir_under(&m[0], "/cx"), None);
        assert_eq!(dir_under(&m[0], "/d"), None);
    }
}
