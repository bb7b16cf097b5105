//! Diagnostics that name the cause of a failure.

use std::path::{Path, PathBuf};

/// Read a sysctl under `proc` (normally `/proc`), trimmed.
fn sysctl(proc: &Path, name: &str) -> Option<String> {
    let rel = name.replace('.', "/");
    std::fs::read_to_string(proc.join("sys").join(rel))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Why unshare(2) failed with `errno` for `flags`, when it can be told.
/// `proc` is the proc mount to read (injected for tests).
#[must_use]
pub fn unshare_hint(
    errno: i32,
    flags: libc::c_int,
    euid: u32,
    threads: usize,
    proc: &Path,
) -> Option<String> {
    let user = flags & libc::CLONE_NEWUSER != 0;
    match errno {
        libc::EPERM | libc::EACCES if user => {
            if sysctl(proc, "kernel.unprivileged_userns_clone").as_deref() == Some("0") && euid != 0 {
                return Some(
                    "unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone = 0)"
                        .into(),
                );
            }
            if sysctl(proc, "kernel.apparmor_restrict_unprivileged_userns").as_deref() == Some("1") && euid != 0 {
                return Some(
                    "AppArmor restricts unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns = 1)"
                        .into(),
                );
            }
            if sysctl(proc, "user.max_user_namespaces").as_deref() == Some("0") {
                return Some("user namespaces are disabled (sysctl user.max_user_namespaces = 0)".into());
            }
            let status = std::fs::read_to_string(proc.join("self/status")).unwrap_or_default();
            if status.lines().any(|l| l.starts_with("Seccomp:") && l.trim_end().ends_with('2')) {
                return Some("a seccomp filter forbids it (are we inside a container?)".into());
            }
            if chrooted(proc) {
                return Some("a chrooted process may not create a user namespace".into());
            }
            None
        }
        libc::EPERM if euid != 0 => Some(
            "creating namespaces needs CAP_SYS_ADMIN: run as root, or add --map-root-user for a user namespace"
                .into(),
        ),
        libc::ENOSPC => {
            let kinds: Vec<&str> = crate::KINDS
                .iter()
                .filter(|k| flags & k.flag != 0)
                .map(|k| if k.name == "mnt" { "mnt" } else { k.name })
                .collect();
            for k in kinds {
                let name = format!("user.max_{k}_namespaces");
                if let Some(v) = sysctl(proc, &name) {
                    if v == "0" {
                        return Some(format!("{k} namespaces are disabled (sysctl {name} = 0)"));
                    }
                    if k == "user" {
                        return Some(format!("the limit of nested or per-user user namespaces is reached (sysctl {name} = {v})"));
                    }
                }
            }
            Some("a namespace limit is reached (see the sysctls user.max_*_namespaces)".into())
        }
        libc::EINVAL => {
            if user && threads > 1 {
                return Some(format!(
                    "the caller is multithreaded ({threads} threads), and a user namespace needs a single-threaded process"
                ));
            }
            crate::KINDS
                .iter()
                .find(|k| flags & k.flag != 0 && !proc.join("self/ns").join(k.name).exists())
                .map(|k| format!("this kernel has no {} namespaces", k.name))
        }
        _ => None,
    }
}

fn chrooted(proc: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata("/"),
        std::fs::metadata(proc.join("1/root/.")),
    ) {
        (Ok(a), Ok(b)) => a.ino() != b.ino() || a.dev() != b.dev(),
        _ => false,
    }
}

/// One mount of mountinfo: its mount point and optional fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountLine {
    pub target: PathBuf,
    pub optional: Vec<String>,
    pub fstype: String,
}

/// Parse mountinfo text.
#[must_use]
pub fn parse_mountinfo(text: &str) -> Vec<MountLine> {
    ctcore::mountinfo::parse(text)
        .into_iter()
        .map(|m| MountLine {
            target: PathBuf::from(m.target),
            optional: m.optional,
            fstype: m.fstype,
        })
        .collect()
}

/// The mount that holds `path` (the last, longest matching mount point).
#[must_use]
pub fn mount_of<'a>(mounts: &'a [MountLine], path: &Path) -> Option<&'a MountLine> {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.target))
        .max_by_key(|m| m.target.as_os_str().len())
}

/// When `file`'s mount has shared propagation, the hint for a failed
/// persistence bind mount.
#[must_use]
pub fn shared_hint(mountinfo: &str, file: &Path) -> Option<String> {
    let mounts = parse_mountinfo(mountinfo);
    let abs = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let m = mount_of(&mounts, &abs)?;
    m.optional
        .iter()
        .any(|o| o.starts_with("shared:"))
        .then(|| {
            let d = m.target.display();
            format!(
                "{} is on the shared mount {d}, and the kernel does not propagate a mount \
                 namespace file to its peers (the new namespace is one until its propagation \
                 changes); use a private mount: mount --bind {d} {d} && mount --make-private {d}",
                file.display()
            )
        })
}

/// The mounts that mask parts of `/proc` (mounted over files or
/// directories inside it), which make the kernel refuse a new proc mount
/// in a user namespace.
#[must_use]
pub fn proc_masks(mountinfo: &str, proc: &Path) -> Vec<PathBuf> {
    parse_mountinfo(mountinfo)
        .into_iter()
        .filter(|m| m.target.starts_with(proc) && m.target != proc)
        .filter(|m| m.fstype != "binfmt_misc" && m.fstype != "autofs")
        .map(|m| m.target)
        .collect()
}

/// Why mounting proc on `dir` failed with `errno`.
#[must_use]
pub fn proc_hint(errno: i32, masks: &[PathBuf], new_user: bool, new_pid: bool) -> Option<String> {
    if errno != libc::EPERM {
        return None;
    }
    if !masks.is_empty() {
        let list: Vec<String> = masks
            .iter()
            .take(3)
            .map(|p| p.display().to_string())
            .collect();
        return Some(format!(
            "/proc is masked here ({}{}), so the kernel refuses a new proc mount (mount too revealing); \
             run outside the container, or unmask /proc",
            list.join(", "),
            if masks.len() > 3 { ", ..." } else { "" }
        ));
    }
    if new_user && !new_pid {
        return Some("the PID namespace belongs to the parent user namespace; add --pid".into());
    }
    None
}

/// The hint for a failed propagation change of /.
#[must_use]
pub fn propagation_hint(errno: i32) -> Option<String> {
    (errno == libc::EINVAL).then(|| {
        "/ is not a mount point (inside a plain chroot?); use --propagation unchanged".to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_proc(entries: &[(&str, &str)]) -> cttest::TempDir {
        let d = cttest::tempdir().unwrap();
        for (p, v) in entries {
            let f = d.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, v).unwrap();
        }
        d
    }

    #[test]
    fn names_the_debian_sysctl() {
        let p = fake_proc(&[("sys/kernel/unprivileged_userns_clone", "0\n")]);
        let h = unshare_hint(libc::EPERM, libc::CLONE_NEWUSER, 1000, 1, p.path()).unwrap();
        assert!(h.contains("kernel.unprivileged_userns_clone"), "{h}");
    }

    #[test]
    fn names_the_apparmor_sysctl() {
        let p = fake_proc(&[("sys/kernel/apparmor_restrict_unprivileged_userns", "1\n")]);
        let h = unshare_hint(libc::EACCES, libc::CLONE_NEWUSER, 1000, 1, p.path()).unwrap();
        assert!(
            h.contains("kernel.apparmor_restrict_unprivileged_userns"),
            "{h}"
        );
    }

    #[test]
    fn names_max_user_namespaces() {
        let p = fake_proc(&[("sys/user/max_user_namespaces", "0\n")]);
        let h = unshare_hint(
            libc::ENOSPC,
            libc::CLONE_NEWUSER | libc::CLONE_NEWNS,
            0,
            1,
            p.path(),
        )
        .unwrap();
        assert!(h.contains("user.max_user_namespaces = 0"), "{h}");
    }

    #[test]
    fn multithreaded_caller() {
        let p = fake_proc(&[]);
        let h = unshare_hint(libc::EINVAL, libc::CLONE_NEWUSER, 0, 3, p.path()).unwrap();
        assert!(h.contains("multithreaded"), "{h}");
    }

    #[test]
    fn unprivileged_without_user() {
        let p = fake_proc(&[]);
        let h = unshare_hint(libc::EPERM, libc::CLONE_NEWNET, 65534, 1, p.path()).unwrap();
        assert!(h.contains("CAP_SYS_ADMIN"), "{h}");
    }

    const MI: &str = "\
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
22 27 0:21 / /proc rw,relatime - proc proc rw
50 22 0:6 /null /proc/kcore rw - devtmpfs devtmpfs rw
51 27 0:40 / /run/my\\040ns rw master:3 - tmpfs tmpfs rw
";

    #[test]
    fn mountinfo_parsing() {
        let m = parse_mountinfo(MI);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].optional, ["shared:1"]);
        assert_eq!(m[3].target, Path::new("/run/my ns"));
        assert_eq!(
            mount_of(&m, Path::new("/run/my ns/x")).unwrap().target,
            Path::new("/run/my ns")
        );
        assert_eq!(
            mount_of(&m, Path::new("/etc/x")).unwrap().target,
            Path::new("/")
        );
    }

    #[test]
    fn shared_mount_hint() {
        let h = shared_hint(MI, Path::new("/nonexistent-dir/f")).unwrap();
        assert!(h.contains("shared mount /"), "{h}");
        assert!(shared_hint(MI, Path::new("/run/my ns/f")).is_none());
    }

    #[test]
    fn masked_proc() {
        let masks = proc_masks(MI, Path::new("/proc"));
        assert_eq!(masks, [PathBuf::from("/proc/kcore")]);
        let h = proc_hint(libc::EPERM, &masks, true, true).unwrap();
        assert!(h.contains("/proc is masked"), "{h}");
        assert!(
            proc_hint(libc::EPERM, &[], true, false)
                .unwrap()
                .contains("--pid")
        );
        assert!(proc_hint(libc::ENOENT, &masks, true, true).is_none());
    }
}
