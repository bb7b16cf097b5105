//! The container's root, set up in its mount namespace: config.json's
//! mounts in order (with the v1 `cgroup` pseudo-mount and `tmpcopyup`),
//! the default /dev nodes and links, linux.devices, the change of root
//! (pivot_root, or MS_MOVE and chroot), masked and read-only paths,
//! sysctl and a read-only root.
//!
//! chroot-rs has no general mount list, device, mask or sysctl options
//! yet, so these steps run here, in runc-rs's init (see the notes).

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};

fn err(what: String, e: nix::errno::Errno) -> anyhow::Error {
    anyhow!("{what}: {}", ctcore::errno_text(e))
}

/// `path` (absolute in the container) under `root`, following symlinks
/// inside `root` only (a link's target is read as a path of the root).
#[must_use]
pub fn in_root(root: &Path, path: &Path) -> PathBuf {
    let mut out = root.to_path_buf();
    let mut todo: Vec<PathBuf> = path
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(PathBuf::from(n)),
            Component::ParentDir => Some(PathBuf::from("..")),
            _ => None,
        })
        .collect();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        if c.as_os_str() == ".." {
            if out != root {
                out.pop();
            }
            continue;
        }
        let next = out.join(&c);
        match fs::read_link(&next) {
            Ok(target) if links < 40 => {
                links += 1;
                if target.is_absolute() {
                    out = root.to_path_buf();
                }
                for t in target.components().rev() {
                    match t {
                        Component::Normal(n) => todo.push(PathBuf::from(n)),
                        Component::ParentDir => todo.push(PathBuf::from("..")),
                        _ => {}
                    }
                }
            }
            _ => out = next,
        }
    }
    out
}

/// Flags and data of a mount's options.
#[derive(Debug)]
pub struct Opts {
    /// mount(2) flags.
    pub flags: MsFlags,
    /// Flags to clear.
    pub clear: MsFlags,
    /// Propagation calls.
    pub propagation: Vec<MsFlags>,
    /// The file system's data.
    pub data: Vec<String>,
    /// tmpcopyup.
    pub copyup: bool,
}

/// Parse mount options as runc does.
#[must_use]
pub fn parse_opts(opts: &[String]) -> Opts {
    let mut o = Opts {
        flags: MsFlags::empty(),
        clear: MsFlags::empty(),
        propagation: vec![],
        data: vec![],
        copyup: false,
    };
    for s in opts {
        let (set, clear) = match s.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                let mut f = match s.trim_start_matches('r') {
                    "private" => MsFlags::MS_PRIVATE,
                    "shared" => MsFlags::MS_SHARED,
                    "slave" => MsFlags::MS_SLAVE,
                    _ => MsFlags::MS_UNBINDABLE,
                };
                if s.starts_with('r') {
                    f |= MsFlags::MS_REC;
                }
                o.propagation.push(f);
                continue;
            }
            "tmpcopyup" => {
                o.copyup = true;
                continue;
            }
            _ => {
                o.data.push(s.clone());
                continue;
            }
        };
        o.flags |= set;
        o.flags &= !clear;
        o.clear |= clear;
    }
    o
}

fn mkdir_p(p: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(p)
        .map_err(|e| anyhow!("mkdir {}: {}", p.display(), ctcore::error_text(&e)))
}

/// Make the mount point `dest`: a directory, or an empty file when the
/// source is not a directory.
fn make_point(dest: &Path, file: bool) -> Result<()> {
    if dest.exists() {
        return Ok(());
    }
    if file {
        if let Some(p) = dest.parent() {
            mkdir_p(p)?;
        }
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(dest)
            .map_err(|e| anyhow!("cannot make {}: {}", dest.display(), ctcore::error_text(&e)))?;
        Ok(())
    } else {
        mkdir_p(dest)
    }
}

const PRESERVED: [(u64, MsFlags); 6] = [
    (libc::ST_RDONLY, MsFlags::MS_RDONLY),
    (libc::ST_NOSUID, MsFlags::MS_NOSUID),
    (libc::ST_NODEV, MsFlags::MS_NODEV),
    (libc::ST_NOEXEC, MsFlags::MS_NOEXEC),
    (libc::ST_NOATIME, MsFlags::MS_NOATIME),
    (libc::ST_RELATIME, MsFlags::MS_RELATIME),
];

/// The locked flags of the mount at `p` (a remount must keep them).
fn current_flags(p: &Path) -> MsFlags {
    let Ok(st) = nix::sys::statvfs::statvfs(p) else {
        return MsFlags::empty();
    };
    let bits = st.flags().bits();
    PRESERVED
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .fold(MsFlags::empty(), |a, (_, f)| a | *f)
}

/// Remount the bind at `p` with `flags` (keeping its locked flags).
fn remount_bind(p: &Path, flags: MsFlags) -> Result<()> {
    let keep = current_flags(p) & !MsFlags::MS_RDONLY;
    mount::<str, Path, str, str>(
        None,
        p,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | keep | flags,
        None,
    )
    .map_err(|e| err(format!("remount {}", p.display()), e))
}

/// Copy the tree at `from` into `to` (tmpcopyup).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let Ok(rd) = fs::read_dir(from) else {
        return Ok(());
    };
    for e in rd.flatten() {
        let src = e.path();
        let dst = to.join(e.file_name());
        let md = fs::symlink_metadata(&src)?;
        if md.file_type().is_symlink() {
            symlink(fs::read_link(&src)?, &dst)?;
        } else if md.is_dir() {
            fs::create_dir(&dst)?;
            fs::set_permissions(&dst, fs::Permissions::from_mode(md.mode() & 0o7777))?;
            copy_tree(&src, &dst)?;
        } else if md.is_file() {
            fs::copy(&src, &dst)?;
        }
        let c = CString::new(dst.as_os_str().as_bytes())?;
        // SAFETY: lchown on a path we made.
        unsafe { libc::lchown(c.as_ptr(), md.uid(), md.gid()) };
    }
    Ok(())
}

/// The host's cgroup hierarchies: (mount point, file system type).
fn host_cgroups() -> Vec<(PathBuf, String)> {
    let Ok(text) = ctcore::read_text("/proc/self/mountinfo") else {
        return vec![];
    };
    cgroup_points(&text)
}

/// The cgroup mounts of `mountinfo`, one per mount point: a point can be
/// listed twice when a mount over a parent hides the first (scripts/netns-host
/// mounts a fresh sysfs over /sys and binds the hierarchies back on
/// /sys/fs/cgroup), and a path names only the last, visible one (the
/// mountinfo lists a namespace's mounts in the order they were made), so
/// binding each entry would bind the same group twice, one over the other.
fn cgroup_points(mountinfo: &str) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = vec![];
    for l in mountinfo.lines() {
        let Some((a, b)) = l.split_once(" - ") else {
            continue;
        };
        let Some(fstype) = b.split_whitespace().next() else {
            continue;
        };
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let Some(point) = a.split_whitespace().nth(4) else {
            continue;
        };
        let point = PathBuf::from(point);
        match out.iter_mut().find(|(p, _)| *p == point) {
            Some(seen) => seen.1 = fstype.to_string(),
            None => out.push((point, fstype.to_string())),
        }
    }
    out
}

/// This process's cgroup path in the hierarchy mounted with `opts_name`
/// (a v1 controller list such as `cpu,cpuacct`, or "" for v2).
fn own_cgroup(text: &str, controllers: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let _ = f.next()?;
        let c = f.next()?;
        let p = f.next()?;
        (c == controllers).then(|| p.to_string())
    })
}

/// The name of the container's own group: the last component that most of
/// the v1 controller hierarchies' paths of `/proc/self/cgroup` (`text`) end
/// in, roots aside (the group the runtime made and joined; a relative
/// cgroupsPath puts it under the caller's group of each hierarchy, which may
/// differ; a controller it has no rule for, as devices for a privileged
/// container, may be left at the root), as `create::cgroup_dirs` tells the
/// container's own group (a rootless container without limits stays in the
/// caller's groups: the most common of them, the roots hidden).  `None`
/// when the process is in the roots alone, or in a tie: every hierarchy is
/// then shown as the process sees it, as runc shows them.
fn container_group(text: &str) -> Option<&str> {
    let mut seen: Vec<(&str, usize)> = vec![];
    for l in text.lines() {
        let mut f = l.splitn(3, ':');
        let (Some(_), Some(c), Some(p)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let last = last_component(p);
        if c.is_empty() || c.starts_with("name=") || last.is_empty() {
            continue;
        }
        match seen.iter_mut().find(|(n, _)| *n == last) {
            Some((_, k)) => *k += 1,
            None => seen.push((last, 1)),
        }
    }
    let most = seen.iter().map(|(_, k)| *k).max()?;
    let mut top = seen.iter().filter(|(_, k)| *k == most);
    let (name, _) = top.next()?;
    // a tie: no group the container is known to own
    top.next().is_none().then_some(*name)
}

/// A cgroup path's last component ("" for a root).
fn last_component(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// The `cgroup` mount: on v1 a tmpfs with the container's own directory of
/// each hierarchy bound in it (and the host's combined-name links); with
/// a cgroup namespace on v2, cgroup2 itself.
fn mount_cgroup(dest: &Path, o: &Opts, cgroupns: bool) -> Result<()> {
    let flags = o.flags & !MsFlags::MS_RDONLY;
    let hier = host_cgroups();
    let v2_only = hier.iter().all(|(_, t)| t == "cgroup2");
    if v2_only && cgroupns {
        mkdir_p(dest)?;
        return mount(
            Some("cgroup2"),
            dest,
            Some("cgroup2"),
            o.flags,
            None::<&str>,
        )
        .map_err(|e| err(format!("mount cgroup2 on {}", dest.display()), e));
    }
    mkdir_p(dest)?;
    mount(Some("tmpfs"), dest, Some("tmpfs"), flags, Some("mode=755"))
        .map_err(|e| err(format!("mount tmpfs on {}", dest.display()), e))?;
    let base = Path::new("/sys/fs/cgroup");
    let mine = ctcore::read_text("/proc/self/cgroup").unwrap_or_default();
    let own_group = container_group(&mine);
    for (point, fstype) in &hier {
        let Ok(rel) = point.strip_prefix(base) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let name = rel.to_string_lossy().into_owned();
        let key = if fstype == "cgroup2" {
            String::new()
        } else {
            // /proc/self/cgroup names v1 hierarchies by their controllers
            // (or name=systemd); the mount point's name is usually them.
            name.clone()
        };
        let own = own_cgroup(&mine, &key)
            .or_else(|| own_cgroup(&mine, &format!("name={name}")))
            .unwrap_or_else(|| "/".into());
        // Only the container's own group: a hierarchy it has no group of its
        // own in (name=systemd, the unified one of a hybrid host) would show
        // the host's root, or a group the caller shares, with its children.
        if own_group.is_some_and(|g| g != last_component(&own)) {
            continue;
        }
        let src = point.join(own.trim_start_matches('/'));
        let to = dest.join(rel);
        mkdir_p(&to)?;
        if mount(
            Some(&src),
            &to,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .is_ok()
        {
            let _ = remount_bind(
                &to,
                o.flags
                    & (MsFlags::MS_RDONLY
                        | MsFlags::MS_NOSUID
                        | MsFlags::MS_NODEV
                        | MsFlags::MS_NOEXEC),
            );
        }
    }
    // The host's links (cpu -> cpu,cpuacct).
    if let Ok(rd) = fs::read_dir(base) {
        for e in rd.flatten() {
            if let Ok(t) = fs::read_link(e.path()) {
                let _ = symlink(t, dest.join(e.file_name()));
            }
        }
    }
    if o.flags.contains(MsFlags::MS_RDONLY) {
        remount_bind_tmpfs_ro(dest, flags)?;
    }
    Ok(())
}

fn remount_bind_tmpfs_ro(dest: &Path, flags: MsFlags) -> Result<()> {
    mount::<str, Path, str, str>(
        None,
        dest,
        None,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
        None,
    )
    .map_err(|e| err(format!("remount {} read-only", dest.display()), e))
}

/// Do one mount of config.json under `rootfs`.
///
/// # Errors
/// The mount, with its destination.
pub fn do_mount(rootfs: &Path, bundle: &Path, m: &Mount, cgroupns: bool) -> Result<()> {
    let o = parse_opts(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().clone().unwrap_or_default();
    let dest = in_root(rootfs, m.destination());
    if !dest.starts_with(rootfs) {
        bail!(
            "mount destination {} leaves the root",
            m.destination().display()
        );
    }
    let is_bind = typ == "bind" || o.flags.contains(MsFlags::MS_BIND);
    if typ == "cgroup" {
        return mount_cgroup(&dest, &o, cgroupns);
    }
    if is_bind {
        let src = m.source().clone().unwrap_or_default();
        let src = if src.is_absolute() {
            src
        } else {
            bundle.join(src)
        };
        let md = fs::metadata(&src)
            .map_err(|e| anyhow!("bind source {}: {}", src.display(), ctcore::error_text(&e)))?;
        make_point(&dest, !md.is_dir())?;
        let flags = MsFlags::MS_BIND | (o.flags & MsFlags::MS_REC);
        mount(Some(&src), &dest, None::<&str>, flags, None::<&str>).map_err(|e| {
            err(
                format!("mount {} on {}", src.display(), m.destination().display()),
                e,
            )
        })?;
        let extra = o.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            remount_bind(&dest, extra)?;
        }
    } else {
        make_point(&dest, false)?;
        let data = o.data.join(",");
        let src = m
            .source()
            .clone()
            .unwrap_or_else(|| PathBuf::from(typ.clone()));
        let keep = if o.copyup {
            fs::File::open(&dest).ok()
        } else {
            None
        };
        let r = mount(
            Some(&src),
            &dest,
            Some(typ.as_str()),
            o.flags,
            (!data.is_empty()).then_some(data.as_str()),
        );
        match r {
            Ok(()) => {}
            Err(nix::errno::Errno::EPERM | nix::errno::Errno::EACCES) if typ == "sysfs" => {
                // No network namespace of our own, or a user namespace:
                // bind the host's /sys as runc does.
                mount(
                    Some("/sys"),
                    &dest,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(|e| err(format!("mount sysfs on {}", m.destination().display()), e))?;
                remount_bind(&dest, o.flags)?;
            }
            Err(e) => {
                return Err(err(
                    format!("mount {typ} on {}", m.destination().display()),
                    e,
                ));
            }
        }
        if let Some(f) = keep {
            use std::os::fd::AsRawFd;
            let from = PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()));
            copy_tree(&from, &dest)
                .map_err(|e| anyhow!("tmpcopyup {}: {e}", m.destination().display()))?;
        }
    }
    for p in &o.propagation {
        mount::<str, Path, str, str>(None, &dest, None, *p, None)
            .map_err(|e| err(format!("propagation of {}", m.destination().display()), e))?;
    }
    Ok(())
}

/// The default devices of runtime-linux.md.
const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Make a device node at `dest`, or bind the host's `host` where mknod is
/// refused (a user namespace).
fn make_node(
    dest: &Path,
    host: &Path,
    kind: libc::mode_t,
    mode: u32,
    rdev: u64,
    uid: u32,
    gid: u32,
) -> Result<()> {
    if let Some(p) = dest.parent() {
        mkdir_p(p)?;
    }
    let _ = fs::remove_file(dest);
    let c = CString::new(dest.as_os_str().as_bytes())?;
    // SAFETY: mknod on a path we own.
    let r = unsafe { libc::mknod(c.as_ptr(), kind | (mode & 0o7777), rdev) };
    if r == 0 {
        // SAFETY: as above.
        unsafe {
            libc::chown(c.as_ptr(), uid, gid);
            libc::chmod(c.as_ptr(), mode & 0o7777);
        }
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EPERM) && host.exists() {
        make_point(dest, true)?;
        return mount(
            Some(host),
            dest,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| err(format!("bind {}", host.display()), e));
    }
    bail!("mknod {}: {}", dest.display(), ctcore::error_text(&e))
}

/// The default /dev nodes and links, when /dev is a mount of config.json.
///
/// # Errors
/// A node that cannot be made.
pub fn default_dev(rootfs: &Path) -> Result<()> {
    let dev = rootfs.join("dev");
    for (n, maj, min) in DEFAULT_DEVICES {
        make_node(
            &dev.join(n),
            &Path::new("/dev").join(n),
            libc::S_IFCHR,
            0o666,
            libc::makedev(maj as u32, min as u32),
            0,
            0,
        )?;
    }
    for (l, t) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let p = dev.join(l);
        if fs::symlink_metadata(&p).is_err() {
            let _ = symlink(t, &p);
        }
    }
    if dev.join("pts/ptmx").exists() {
        let p = dev.join("ptmx");
        let _ = fs::remove_file(&p);
        let _ = symlink("pts/ptmx", &p);
    }
    if rootfs.join("proc/kcore").exists() && fs::symlink_metadata(dev.join("core")).is_err() {
        let _ = symlink("/proc/kcore", dev.join("core"));
    }
    Ok(())
}

/// linux.devices.
///
/// # Errors
/// A node that cannot be made.
pub fn devices(rootfs: &Path, devs: &[LinuxDevice]) -> Result<()> {
    for d in devs {
        let dest = in_root(rootfs, d.path());
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => bail!("device {}: type a is not a node", d.path().display()),
        };
        let rdev = libc::makedev(d.major() as u32, d.minor() as u32);
        make_node(
            &dest,
            d.path(),
            kind,
            d.file_mode().unwrap_or(0o666),
            rdev,
            d.uid().unwrap_or(0),
            d.gid().unwrap_or(0),
        )?;
    }
    Ok(())
}

/// Make the mount that holds `dir` private unless it is already (pivot_root
/// refuses a new root whose parent mount is shared, as with
/// rootfsPropagation `shared`), as runc does.
pub fn parent_mount_private(dir: &Path) {
    let Ok(text) = ctcore::read_text("/proc/self/mountinfo") else {
        return;
    };
    let mut best: Option<(&str, bool)> = None;
    for l in text.lines() {
        let Some((a, _)) = l.split_once(" - ") else {
            continue;
        };
        let f: Vec<&str> = a.split_whitespace().collect();
        let Some(point) = f.get(4) else { continue };
        if dir.starts_with(point) && best.is_none_or(|(b, _)| point.len() >= b.len()) {
            let shared = f.iter().skip(6).any(|o| o.starts_with("shared:"));
            best = Some((point, shared));
        }
    }
    if let Some((point, true)) = best {
        let _ = mount::<str, str, str, str>(None, point, None, MsFlags::MS_PRIVATE, None);
    }
}

/// Change the root to `rootfs`: pivot_root(".", ".") and a lazy unmount
/// of the old root (runc's way), or MS_MOVE and chroot.
///
/// # Errors
/// The failing call.
pub fn enter(rootfs: &Path, no_pivot: bool) -> Result<()> {
    std::env::set_current_dir(rootfs)
        .map_err(|e| anyhow!("chdir {}: {}", rootfs.display(), ctcore::error_text(&e)))?;
    if no_pivot {
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .map_err(|e| err("move the root onto /".into(), e))?;
        nix::unistd::chroot(".").map_err(|e| err("chroot".into(), e))?;
    } else {
        nix::unistd::pivot_root(".", ".").map_err(|e| err("pivot_root".into(), e))?;
        mount::<str, str, str, str>(None, ".", None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)
            .map_err(|e| err("make the old root a slave".into(), e))?;
        umount2(".", MntFlags::MNT_DETACH).map_err(|e| err("detach the old root".into(), e))?;
    }
    std::env::set_current_dir("/").map_err(|e| anyhow!("chdir /: {}", ctcore::error_text(&e)))?;
    Ok(())
}

/// maskedPaths: /dev/null over a file, an empty read-only tmpfs over a
/// directory; missing paths skipped.
///
/// # Errors
/// A mount that fails.
pub fn mask(paths: &[String]) -> Result<()> {
    for p in paths {
        let Ok(md) = fs::metadata(p) else { continue };
        let r = if md.is_dir() {
            mount(
                Some("tmpfs"),
                p.as_str(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            )
        } else {
            mount(
                Some("/dev/null"),
                p.as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        r.map_err(|e| err(format!("mask {p}"), e))?;
    }
    Ok(())
}

/// readonlyPaths: a bind onto itself, remounted read-only.
///
/// # Errors
/// A mount that fails.
pub fn readonly(paths: &[String]) -> Result<()> {
    for p in paths {
        if fs::symlink_metadata(p).is_err() {
            continue;
        }
        mount(
            Some(p.as_str()),
            p.as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| err(format!("bind {p}"), e))?;
        remount_bind(Path::new(p), MsFlags::MS_RDONLY)?;
    }
    Ok(())
}

/// linux.sysctl, written in /proc/sys of the container.
///
/// # Errors
/// A key that cannot be written.
pub fn sysctl(spec: &Spec) -> Result<()> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for (k, v) in map {
        let p = Path::new("/proc/sys").join(k.replace('.', "/"));
        fs::write(&p, v).map_err(|e| anyhow!("sysctl {k}={v}: {}", ctcore::error_text(&e)))?;
    }
    Ok(())
}

/// linux.rootfsPropagation on the new root, once it is /.
///
/// # Errors
/// An unknown value, or the mount call.
pub fn root_propagation(value: &str) -> Result<()> {
    let f = match value {
        "" => return Ok(()),
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        other => bail!("rootfsPropagation: unknown value {other}"),
    };
    mount::<str, str, str, str>(None, "/", None, f, None)
        .map_err(|e| err(format!("rootfsPropagation {value}"), e))
}

/// Make the root read-only.
///
/// # Errors
/// The remount.
pub fn root_readonly() -> Result<()> {
    remount_bind(Path::new("/"), MsFlags::MS_RDONLY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o = parse_opts(&[
            "nosuid".into(),
            "ro".into(),
            "rbind".into(),
            "rprivate".into(),
            "mode=755".into(),
            "tmpcopyup".into(),
        ]);
        assert!(o.flags.contains(
            MsFlags::MS_NOSUID | MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REC
        ));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.data, vec!["mode=755".to_string()]);
        assert!(o.copyup);
    }

    #[test]
    fn the_cgroup_mount_shows_the_containers_own_group_alone() {
        // a hybrid host: the container's group in each controller hierarchy, the caller's
        // (here the root) in name=systemd and the unified one
        let made = "9:name=systemd:/\n8:pids:/p/c1\n4:memory:/p/c1\n1:cpu,cpuacct:/p/c1\n0::/\n";
        assert_eq!(container_group(made), Some("c1"));
        // a relative cgroupsPath: under the caller's group, which differs by hierarchy
        let rel = "9:name=systemd:/s\n8:pids:/t/c1\n4:memory:/m/t/c1\n0::/s\n";
        assert_eq!(container_group(rel), Some("c1"));
        assert_eq!(last_component("/s"), "s");
        assert_eq!(last_component("/"), "");
        // devices left at the root (a privileged container): the others tell the group
        let priv_ = "9:name=systemd:/\n8:pids:/t/c1\n5:devices:/\n4:memory:/m/t/c1\n0::/\n";
        assert_eq!(container_group(priv_), Some("c1"));
        // no group of its own (a rootless container without limits): the caller's
        assert_eq!(
            container_group("8:pids:/\n4:memory:/u/s\n0::/u/s\n"),
            Some("s")
        );
        assert_eq!(container_group("8:pids:/a\n4:memory:/u/s\n0::/u/s\n"), None);
        assert_eq!(container_group("8:pids:/\n4:memory:/\n0::/\n"), None);
        // cgroup v2 alone: no v1 controller
        assert_eq!(container_group("0::/p/c1\n"), None);
    }

    #[test]
    fn a_hidden_cgroup_mount_is_bound_once() {
        // scripts/netns-host: the host's hierarchies under the old /sys, hidden by
        // a new sysfs, then bound back on /sys/fs/cgroup
        let mi = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
40 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
90 89 0:50 / /sys rw,relatime - sysfs sysfs rw
91 90 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
92 91 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
93 91 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        assert_eq!(
            cgroup_points(mi),
            vec![
                (PathBuf::from("/sys/fs/cgroup/cpu"), "cgroup".to_string()),
                (
                    PathBuf::from("/sys/fs/cgroup/unified"),
                    "cgroup2".to_string()
                ),
            ]
        );
    }

    #[test]
    fn paths_stay_in_root() {
        let d = std::env::temp_dir().join(format!("runc-rs-inroot-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("a")).unwrap();
        symlink("/etc", d.join("a/l")).unwrap();
        symlink("../../../..", d.join("up")).unwrap();
        assert_eq!(in_root(&d, Path::new("/a/l/x")), d.join("etc/x"));
        assert_eq!(in_root(&d, Path::new("/up/x")), d.join("x"));
        assert_eq!(in_root(&d, Path::new("/../../x")), d.join("x"));
        fs::remove_dir_all(&d).unwrap();
    }
}
