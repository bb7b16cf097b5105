//! Changing root: the mount-namespace check, the set-up mounts inside the
//! new root, runc's masked and read-only paths, and the pivot_root
//! sequence with its switch_root-style fallback.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};

/// A failure of one step: what was being done, and the errno.
#[derive(Debug)]
pub struct StepError {
    /// What failed, for the message.
    pub what: String,
    /// Why.
    pub errno: Errno,
    /// A hint, when the cause is knowable.
    pub hint: Option<String>,
}

impl StepError {
    pub(crate) fn new(what: impl Into<String>, errno: Errno) -> Self {
        Self {
            what: what.into(),
            errno,
            hint: None,
        }
    }

    pub(crate) fn io(what: impl Into<String>, e: &io::Error) -> Self {
        Self::new(what, Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    }

    pub(crate) fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
}

/// Result of a step.
pub type Step<T = ()> = Result<T, StepError>;

/// The inode the kernel gives the initial mount namespace since Linux
/// 6.18 (`0xEFFFFFF8`, below the range of dynamic inode numbers, so no
/// other namespace can have it).
pub const INIT_MNT_NS_INO: u64 = 0xEFFF_FFF8;

/// The fixed inode of the initial pid namespace (`PROC_PID_INIT_INO`).
const INIT_PID_NS_INO: u64 = 0xEFFF_FFFC;

/// Whether this process is in the initial (the host's) mount namespace.
///
/// * Its namespace has the fixed inode of the initial one: yes.
/// * Linux 6.18 and later give the initial namespace that fixed inode, so
///   any other inode means no.
/// * Before that, `/proc/self/ns/mnt` is compared with `/proc/1/ns/mnt`,
///   which tells only when pid 1 is the host's init (this process is in the
///   initial pid namespace); in a new pid namespace an equal answer may just
///   mean that pid 1 is this very process.
///
/// `None` when it cannot be told.
#[must_use]
pub fn in_initial_mount_ns() -> Option<bool> {
    let me = fs::metadata("/proc/self/ns/mnt").ok()?;
    if me.ino() == INIT_MNT_NS_INO {
        return Some(true);
    }
    if kernel_at_least(6, 18) {
        return Some(false);
    }
    let init_pid_ns = fs::metadata("/proc/self/ns/pid").is_ok_and(|m| m.ino() == INIT_PID_NS_INO);
    let init = fs::metadata("/proc/1/ns/mnt").ok()?;
    let same = init.ino() == me.ino() && init.dev() == me.dev();
    match (same, init_pid_ns) {
        (false, _) => Some(false),
        (true, true) => Some(true),
        (true, false) => None,
    }
}

fn kernel_at_least(major: u32, minor: u32) -> bool {
    let Ok(u) = nix::sys::utsname::uname() else {
        return false;
    };
    let rel = u.release().to_string_lossy().into_owned();
    let mut it = rel.split(|c: char| !c.is_ascii_digit());
    let ma: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let mi: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (ma, mi) >= (major, minor)
}

/// The refusal of a symbolic link on the way to a path inside the new root.
fn link_refused(p: &Path) -> StepError {
    StepError::new(format!("refusing to use '{}'", p.display()), Errno::ELOOP)
        .hint("it is a symbolic link inside the new root")
}

/// The path of `rel` (relative, like `dev/pts`) inside `root`, refusing
/// symbolic links on the way (a root could otherwise point `/dev` at a
/// host directory), and creating missing directories with `mode` when
/// `create` is set.
///
/// # Errors
/// A symbolic link on the way, or a failed mkdir.
pub fn in_root(root: &Path, rel: &str, create: Option<u32>) -> Step<PathBuf> {
    let mut p = root.to_path_buf();
    for c in Path::new(rel).components() {
        let Component::Normal(name) = c else {
            continue;
        };
        p.push(name);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => return Err(link_refused(&p)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let Some(mode) = create else {
                    return Err(StepError::io(format!("cannot find '{}'", p.display()), &e));
                };
                fs::create_dir(&p)
                    .map_err(|e| StepError::io(format!("cannot create '{}'", p.display()), &e))?;
                let _ = fs::set_permissions(&p, fs::Permissions::from_mode(mode));
            }
            Err(e) => return Err(StepError::io(format!("cannot stat '{}'", p.display()), &e)),
        }
    }
    Ok(p)
}

fn do_mount(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    what: &str,
) -> Step {
    mount(src, target, fstype, flags, data)
        .map_err(|e| StepError::new(format!("cannot mount {what} on '{}'", target.display()), e))
}

/// `mount --make-rslave /`, so nothing mounted here propagates back to
/// the mount namespace this one was copied from.  When `/` is not a mount
/// point (inside a plain chroot), the mount holding `newroot` is made a
/// slave instead, walking up until a mount point is found, as runc does
/// for the rootfs's parent.
///
/// # Errors
/// When no mount could be changed.
pub fn make_slave(newroot: &Path) -> Step {
    let rec = MsFlags::MS_SLAVE | MsFlags::MS_REC;
    match mount(None::<&str>, "/", None::<&str>, rec, None::<&str>) {
        Ok(()) => return Ok(()),
        Err(Errno::EINVAL) => {}
        Err(e) => return Err(StepError::new("cannot make '/' a slave mount", e)),
    }
    let mut p = newroot.parent();
    while let Some(d) = p {
        match mount(
            None::<&str>,
            d,
            None::<&str>,
            MsFlags::MS_SLAVE,
            None::<&str>,
        ) {
            Ok(()) => return Ok(()),
            Err(Errno::EINVAL) => p = d.parent(),
            Err(e) => {
                return Err(StepError::new(
                    format!("cannot make '{}' a slave mount", d.display()),
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// Bind `root` onto itself (recursively), so that it is a mount point
/// pivot_root accepts and the set-up mounts stay below it.
///
/// # Errors
/// The mount's.
pub fn bind_self(root: &Path) -> Step {
    do_mount(
        Some(root),
        root,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
        "a bind of itself",
    )
}

/// The mount flags a bind remount must keep (a remount that drops a flag
/// locked by a less privileged mount namespace fails with EPERM).
fn kept_flags(p: &Path) -> MsFlags {
    use nix::sys::statvfs::{FsFlags, statvfs};
    let mut f = MsFlags::empty();
    if let Ok(s) = statvfs(p) {
        let fl = s.flags();
        for (a, b) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if fl.contains(a) {
                f |= b;
            }
        }
    }
    f
}

/// Make the mount at `p` read-only, keeping its other flags.
///
/// # Errors
/// The remount's.
pub fn remount_ro(p: &Path, extra: MsFlags) -> Step {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | extra | kept_flags(p);
    do_mount(None, p, None, flags, None, "a read-only remount")
}

/// Make the mount tree at `p` read-only (mount_setattr with AT_RECURSIVE),
/// falling back to a remount of the top mount on kernels before 5.12.
fn tree_ro(p: &Path) -> Step {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
        .map_err(|_| StepError::new("path with a NUL byte", Errno::EINVAL))?;
    let set = ctcore::sealed::MOUNT_ATTR_RDONLY;
    if ctcore::sealed::mount_setattr(libc::AT_FDCWD, &c, libc::AT_RECURSIVE, set, 0).is_ok() {
        return Ok(());
    }
    remount_ro(p, MsFlags::empty())
}

// f_type's C type differs between architectures.
#[allow(clippy::unnecessary_cast)]
fn fs_magic(p: &Path) -> Option<i64> {
    nix::sys::statfs::statfs(p)
        .ok()
        .map(|s| s.filesystem_type().0 as i64)
}

const PROC_MAGIC: i64 = 0x9fa0;
const SYSFS_MAGIC: i64 = 0x6265_6572;

/// A log of what was done, for `--verbose`.
pub type Log<'a> = &'a mut dyn FnMut(&str);

/// `--proc`: a fresh proc on NEWROOT/proc (nosuid, nodev, noexec); where a
/// proc mount is refused (a user namespace over a masked /proc) a
/// recursive bind of the host's /proc instead.
///
/// # Errors
/// The mkdir or mount's.
pub fn setup_proc(root: &Path, log: Log) -> Step {
    let t = in_root(root, "proc", Some(0o555))?;
    let fl = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    match mount(Some("proc"), &t, Some("proc"), fl, None::<&str>) {
        Ok(()) => {
            log(&format!("mounted a fresh proc on '{}'", t.display()));
            Ok(())
        }
        Err(Errno::EPERM) => {
            do_mount(
                Some(Path::new("/proc")),
                &t,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
                "a bind of /proc",
            )?;
            log(&format!("proc refused: bound /proc on '{}'", t.display()));
            Ok(())
        }
        Err(e) => Err(StepError::new(
            format!("cannot mount proc on '{}'", t.display()),
            e,
        )),
    }
}

/// `--sys`: a read-only sysfs on NEWROOT/sys; where sysfs is refused (a
/// user namespace without its own network namespace) a read-only
/// recursive bind of the host's /sys.
///
/// # Errors
/// The mkdir or mount's.
pub fn setup_sys(root: &Path, log: Log) -> Step {
    let t = in_root(root, "sys", Some(0o555))?;
    let fl = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
    match mount(Some("sysfs"), &t, Some("sysfs"), fl, None::<&str>) {
        Ok(()) => {
            log(&format!("mounted a read-only sysfs on '{}'", t.display()));
            Ok(())
        }
        Err(Errno::EPERM) => {
            do_mount(
                Some(Path::new("/sys")),
                &t,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
                "a bind of /sys",
            )?;
            tree_ro(&t)?;
            log(&format!(
                "sysfs refused: bound /sys read-only on '{}'",
                t.display()
            ));
            Ok(())
        }
        Err(e) => Err(StepError::new(
            format!("cannot mount sysfs on '{}'", t.display()),
            e,
        )),
    }
}

/// The device nodes of `--dev`: name, major, minor (runc's defaults).
pub const DEVICES: &[(&str, u32, u32)] = ctcore::dev::NODES;

/// The symbolic links of `--dev`.
pub const DEV_LINKS: &[(&str, &str)] = ctcore::dev::LINKS;

/// Every name `--dev` puts in /dev, sorted.
#[must_use]
pub fn dev_entries() -> Vec<&'static str> {
    let mut v: Vec<&str> = DEVICES.iter().map(|d| d.0).collect();
    v.extend(DEV_LINKS.iter().map(|l| l.0));
    v.extend(["pts", "shm"]);
    v.sort_unstable();
    v
}

/// `--dev`: a tmpfs /dev (mode 755; `noexec` too with `--harden`) with the
/// six nodes (mknod, or binds of the host's nodes where mknod is not
/// allowed), devpts with its own ptmx, a tmpfs shm, and the
/// fd/stdin/stdout/stderr/ptmx links.
///
/// # Errors
/// Any mount, mknod, bind or symlink failure.
pub fn setup_dev(root: &Path, noexec: bool, log: Log) -> Step {
    use nix::sys::stat::{Mode, SFlag, makedev, mknod};
    let dev = in_root(root, "dev", Some(0o755))?;
    let exec = if noexec {
        MsFlags::MS_NOEXEC
    } else {
        MsFlags::empty()
    };
    do_mount(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME | exec,
        Some("mode=755,size=65536k"),
        "a tmpfs",
    )?;
    let mut bound = 0;
    for &(name, ma, mi) in DEVICES {
        let p = dev.join(name);
        match mknod(
            &p,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(u64::from(ma), u64::from(mi)),
        ) {
            Ok(()) => {
                let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o666));
            }
            Err(Errno::EPERM) => {
                fs::File::create(&p)
                    .map_err(|e| StepError::io(format!("cannot create '{}'", p.display()), &e))?;
                let host = Path::new("/dev").join(name);
                do_mount(
                    Some(&host),
                    &p,
                    None,
                    MsFlags::MS_BIND,
                    None,
                    &format!("a bind of {}", host.display()),
                )?;
                bound += 1;
            }
            Err(e) => {
                return Err(StepError::new(
                    format!("cannot create device '{}'", p.display()),
                    e,
                ));
            }
        }
    }
    let pts = in_root(&dev, "pts", Some(0o755))?;
    let fl = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    let opts = "newinstance,ptmxmode=0666,mode=0620";
    if mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        fl,
        Some(&*format!("{opts},gid=5")),
    )
    .is_err()
    {
        do_mount(
            Some(Path::new("devpts")),
            &pts,
            Some("devpts"),
            fl,
            Some(opts),
            "devpts",
        )?;
    }
    let shm = in_root(&dev, "shm", Some(0o1777))?;
    do_mount(
        Some(Path::new("shm")),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
        "a tmpfs",
    )?;
    for &(name, to) in DEV_LINKS {
        let p = dev.join(name);
        std::os::unix::fs::symlink(to, &p)
            .map_err(|e| StepError::io(format!("cannot create the link '{}'", p.display()), &e))?;
    }
    if bound > 0 {
        log(&format!(
            "set up '{}' (mknod refused: {bound} nodes bound from the host)",
            dev.display()
        ));
    } else {
        log(&format!("set up '{}'", dev.display()));
    }
    Ok(())
}

/// `--host-dev`: the host's /dev bound (recursively) on NEWROOT/dev, as
/// `docker run --privileged` gives a container every device.
///
/// # Errors
/// The mkdir or mount's.
pub fn bind_host_dev(root: &Path, log: Log) -> Step {
    let t = in_root(root, "dev", Some(0o755))?;
    do_mount(
        Some(Path::new("/dev")),
        &t,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
        "a bind of the host's /dev",
    )?;
    log(&format!("bound the host's /dev on '{}'", t.display()));
    Ok(())
}

/// `--tmp`: a tmpfs (mode 1777) on NEWROOT/tmp.
///
/// # Errors
/// The mkdir or mount's.
pub fn setup_tmp(root: &Path, log: Log) -> Step {
    let t = in_root(root, "tmp", Some(0o1777))?;
    do_mount(
        Some(Path::new("tmpfs")),
        &t,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777"),
        "a tmpfs",
    )?;
    log(&format!("mounted a tmpfs on '{}'", t.display()));
    Ok(())
}

/// `--bind=SRC[:DEST]` (`ro`: `--ro-bind`): bind the host path SRC,
/// recursively, on DEST inside the new root (SRC's own path when DEST is
/// not given).  The way to DEST is made as [`in_root`] makes it (no
/// symbolic link followed), ending in a directory for a directory and in
/// an empty file for anything else; `ro` makes the whole bound tree
/// read-only.
///
/// # Errors
/// A missing SRC, DEST the root itself or reached through a symbolic
/// link, a failed mkdir, create or mount.
pub fn bind_into(root: &Path, spec: &str, ro: bool, log: Log) -> Step {
    let (src, dest) = match spec.split_once(':') {
        Some((s, d)) => (s, d),
        None => (spec, spec),
    };
    let opt = if ro { "--ro-bind" } else { "--bind" };
    if src.is_empty() {
        return Err(StepError::new(
            format!("{opt}={spec}: no source"),
            Errno::EINVAL,
        ));
    }
    let meta = fs::metadata(src).map_err(|e| StepError::io(format!("cannot bind '{src}'"), &e))?;
    let rel = dest.trim_start_matches('/');
    if Path::new(rel)
        .components()
        .all(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(StepError::new(
            format!("{opt}={spec}: the destination is the new root itself"),
            Errno::EINVAL,
        ));
    }
    let target = if meta.is_dir() {
        in_root(root, rel, Some(0o755))?
    } else {
        let p = Path::new(rel);
        let parent = p.parent().and_then(Path::to_str).unwrap_or("");
        let name = p.file_name().unwrap_or_default();
        let t = in_root(root, parent, Some(0o755))?.join(name);
        match fs::symlink_metadata(&t) {
            Ok(m) if m.file_type().is_symlink() => return Err(link_refused(&t)),
            Ok(_) => {}
            Err(_) => {
                fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .open(&t)
                    .map_err(|e| StepError::io(format!("cannot create '{}'", t.display()), &e))?;
            }
        }
        t
    };
    do_mount(
        Some(Path::new(src)),
        &target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
        "a bind mount",
    )?;
    if ro {
        tree_ro(&target)?;
    }
    log(&format!(
        "bound '{src}' on '{}'{}",
        target.display(),
        if ro { " read-only" } else { "" }
    ));
    Ok(())
}

/// runc's default masked paths.
pub const MASKED: &[&str] = &[
    "proc/acpi",
    "proc/asound",
    "proc/kcore",
    "proc/keys",
    "proc/latency_stats",
    "proc/timer_list",
    "proc/timer_stats",
    "proc/sched_debug",
    "proc/scsi",
    "sys/firmware",
    "sys/devices/virtual/powercap",
    // Not runc's: the host's block devices by number (docker masks it too).
    "sys/dev/block",
];

/// runc's default read-only paths.
pub const READONLY: &[&str] = &[
    "proc/bus",
    "proc/fs",
    "proc/irq",
    "proc/sys",
    "proc/sysrq-trigger",
];

fn host_dev_null() -> Step<PathBuf> {
    let p = PathBuf::from("/dev/null");
    let m = fs::metadata(&p).map_err(|e| StepError::io("cannot stat /dev/null", &e))?;
    if !m.file_type().is_char_device() || m.rdev() != nix::sys::stat::makedev(1, 3) {
        return Err(
            StepError::new("refusing to mask with /dev/null", Errno::EINVAL)
                .hint("it is not the character device 1:3"),
        );
    }
    Ok(p)
}

/// `--harden`'s mounts: runc's masked paths (files covered by /dev/null,
/// directories by an empty read-only tmpfs) and read-only paths, applied
/// to NEWROOT/proc and NEWROOT/sys when those are procfs and sysfs.
///
/// # Errors
/// Any mount failure.
pub fn harden_mounts(root: &Path, log: Log) -> Step {
    // Only a real proc or sysfs in the new root, never one reached through
    // a symbolic link of the root's.
    let is =
        |rel: &str, magic: i64| in_root(root, rel, None).is_ok_and(|p| fs_magic(&p) == Some(magic));
    let proc_ok = is("proc", PROC_MAGIC);
    let sys_ok = is("sys", SYSFS_MAGIC);
    if !proc_ok {
        log("no proc in the new root: its masked and read-only paths are skipped");
    }
    let applies =
        |rel: &str| (rel.starts_with("proc/") && proc_ok) || (rel.starts_with("sys/") && sys_ok);
    let mut masked = 0;
    // The host's /dev/null, checked once for every file masked with it.
    let mut null: Option<PathBuf> = None;
    for rel in MASKED.iter().filter(|r| applies(r)) {
        let p = root.join(rel);
        let Ok(m) = fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            let ro =
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            let ok = [
                "nr_blocks=1,nr_inodes=1",
                "nr_blocks=1,nr_inodes=2",
                "size=0k",
            ]
            .iter()
            .any(|o| mount(Some("tmpfs"), &p, Some("tmpfs"), ro, Some(*o)).is_ok());
            if !ok {
                return Err(StepError::new(
                    format!("cannot mask '{}' with an empty tmpfs", p.display()),
                    Errno::last(),
                ));
            }
        } else {
            if null.is_none() {
                null = Some(host_dev_null()?);
            }
            let null = null.as_deref().unwrap_or(Path::new("/dev/null"));
            do_mount(Some(null), &p, None, MsFlags::MS_BIND, None, "/dev/null")?;
        }
        masked += 1;
    }
    let mut ro = 0;
    for rel in READONLY.iter().filter(|r| applies(r)) {
        let p = root.join(rel);
        if fs::symlink_metadata(&p).is_err() {
            continue;
        }
        do_mount(
            Some(&p),
            &p,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
            "a bind of itself",
        )?;
        remount_ro(
            &p,
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        )?;
        ro += 1;
    }
    log(&format!("masked {masked} paths, made {ro} paths read-only"));
    Ok(())
}

/// After the root change with `--dev`: point the standard descriptors that
/// still refer to the host's /dev/null at the new root's, as runc does, so
/// nothing in the new root holds a file of the old one open.
pub fn reopen_dev_null() {
    use std::os::fd::AsRawFd;
    let null = nix::sys::stat::makedev(1, 3);
    let Ok(new) = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    else {
        return;
    };
    let Ok(new_st) = nix::sys::stat::fstat(&new) else {
        return;
    };
    for fd in 0..3 {
        // SAFETY: fstat on a descriptor number that may or may not be open.
        let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let Ok(st) = nix::sys::stat::fstat(bfd) else {
            continue;
        };
        let is_char = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
        if is_char && st.st_rdev == null && (st.st_dev, st.st_ino) != (new_st.st_dev, new_st.st_ino)
        {
            // SAFETY: dup2 of a descriptor we own onto a standard one.
            unsafe {
                libc::dup2(new.as_raw_fd(), fd);
            }
        }
    }
}

/// How the root was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// chroot(2) only.
    Chroot,
    /// pivot_root(2) and the old root detached.
    Pivot,
    /// pivot_root was impossible: the new root moved onto `/`, then chroot.
    MoveChroot,
}

impl Method {
    /// The method's name in messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Chroot => "chroot",
            Self::Pivot => "pivot_root",
            Self::MoveChroot => "move+chroot (switch_root style)",
        }
    }
}

/// The mount points of proc and sysfs mounts outside `root`, deepest
/// first, from this process's mountinfo.
#[must_use]
pub fn outside_proc_sys(mountinfo: &str, root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ctcore::mountinfo::parse(mountinfo)
        .into_iter()
        .filter(|m| m.fstype == "proc" || m.fstype == "sysfs")
        .map(|m| PathBuf::from(m.target))
        .filter(|mp| !mp.starts_with(root))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

/// What runc's msMoveRoot does before moving a root onto `/`: every full
/// proc or sysfs mount outside the new root is made a slave and detached,
/// or covered with an empty read-only tmpfs where it cannot be detached,
/// so that they do not stay reachable (nor make a later proc mount in a
/// user namespace pass the kernel's "mount too revealing" check).  Returns
/// how many were handled.
fn hide_outside_proc_sys(root: &Path) -> usize {
    if same_dir(root, Path::new("/")) {
        return 0;
    }
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut n = 0;
    for mp in outside_proc_sys(&mi, root) {
        let rec = MsFlags::MS_SLAVE | MsFlags::MS_REC;
        let _ = mount(None::<&str>, &mp, None::<&str>, rec, None::<&str>);
        if umount2(&mp, MntFlags::MNT_DETACH).is_ok() {
            n += 1;
            continue;
        }
        let ro = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        if mount(Some("tmpfs"), &mp, Some("tmpfs"), ro, Some("size=0k")).is_ok() {
            n += 1;
        }
    }
    n
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// Why pivot_root cannot leave the current root, from mountinfo: the root
/// is the initial rootfs, or it is no mount point at all (a plain chroot).
#[must_use]
pub fn unpivotable_reason() -> &'static str {
    match ctcore::mountinfo::current()
        .iter()
        .find(|m| m.target == "/")
    {
        Some(m) if m.fstype == "rootfs" => "the root is the initramfs rootfs",
        Some(_) => "the root cannot be pivoted away from",
        None => "the root is not a mount point (inside a chroot)",
    }
}

/// The switch_root-style change of root: the new root (a mount point, and
/// the working directory: entered here unless `why` says that pivot_root
/// entered it already) is moved onto `/` and chrooted into, after the
/// proc and sysfs mounts outside it are detached or covered.  The old root
/// is then under the new one: no `..` leads to it, so a process that
/// chroots into a subdirectory and climbs out finds only the new root.
/// `why` is pivot_root's refusal, when this is the fallback.
///
/// # Errors
/// The step that failed.
pub fn move_root(root: &Path, why: Option<&str>, log: Log) -> Step<Method> {
    if why.is_none() {
        nix::unistd::chdir(root).map_err(|e| {
            StepError::new(
                format!("cannot change directory to '{}'", root.display()),
                e,
            )
        })?;
    }
    let hidden = hide_outside_proc_sys(root);
    if hidden > 0 {
        log(&format!(
            "detached or covered {hidden} proc/sysfs mounts outside the new root"
        ));
    }
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>).map_err(|e| {
        let err = StepError::new(format!("cannot move '{}' onto '/'", root.display()), e);
        match why {
            Some(w) => err.hint(format!("pivot_root failed with EINVAL: {w}")),
            None => err,
        }
    })?;
    nix::unistd::chroot(".").map_err(|e| {
        StepError::new(
            format!("cannot change root directory to '{}'", root.display()),
            e,
        )
    })?;
    nix::unistd::chdir("/").map_err(|e| StepError::new("cannot change directory to '/'", e))?;
    match why {
        Some(w) => log(&format!(
            "pivot_root refused ({w}): moved '{}' onto '/' and chrooted",
            root.display()
        )),
        None => log(&format!("moved '{}' onto '/' and chrooted", root.display())),
    }
    Ok(Method::MoveChroot)
}

/// The pivot_root sequence of runc and crun: pivot_root(".", "."), then
/// detach the old root stacked on `/`, so no path leads back to it.  When
/// pivot_root says EINVAL because the current root cannot be pivoted away
/// from (the initramfs rootfs, or a root that is no mount point), the new
/// root is moved onto `/` and chrooted into, as switch_root does.
///
/// # Errors
/// The step that failed.
pub fn pivot(root: &Path, log: Log) -> Step<Method> {
    use std::os::fd::AsFd;
    let old = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| StepError::new("cannot open '/'", e))?;
    // A lookup of "/" stops at the process's root without crossing the
    // bind just stacked on it; "/.." crosses it.
    let into = if same_dir(root, Path::new("/")) {
        Path::new("/..")
    } else {
        root
    };
    nix::unistd::chdir(into).map_err(|e| {
        StepError::new(
            format!("cannot change directory to '{}'", root.display()),
            e,
        )
    })?;
    match nix::unistd::pivot_root(".", ".") {
        Ok(()) => {
            nix::unistd::fchdir(old.as_fd())
                .map_err(|e| StepError::new("cannot change directory to the old root", e))?;
            let rec = MsFlags::MS_SLAVE | MsFlags::MS_REC;
            mount(None::<&str>, ".", None::<&str>, rec, None::<&str>)
                .map_err(|e| StepError::new("cannot make the old root a slave mount", e))?;
            umount2(".", MntFlags::MNT_DETACH)
                .map_err(|e| StepError::new("cannot detach the old root", e))?;
            // Mounts stacked on the old root come off too, as in crun.
            for _ in 0..64 {
                if umount2(".", MntFlags::MNT_DETACH).is_err() {
                    break;
                }
            }
            nix::unistd::chdir("/")
                .map_err(|e| StepError::new("cannot change directory to '/'", e))?;
            log(&format!(
                "pivot_root into '{}', old root detached",
                root.display()
            ));
            Ok(Method::Pivot)
        }
        Err(Errno::EINVAL) => {
            let why = unpivotable_reason();
            move_root(root, Some(why), log)
        }
        Err(e) => Err(
            StepError::new(format!("pivot_root into '{}' failed", root.display()), e).hint(
                match e {
                    Errno::EBUSY => "the new root is on the same mount as '/'".to_string(),
                    Errno::EPERM => {
                        "it needs CAP_SYS_ADMIN in the mount namespace's user namespace".to_string()
                    }
                    _ => String::new(),
                },
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_root_refuses_symlinks_and_creates() {
        let d = cttest::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", d.path().join("dev")).unwrap();
        let e = in_root(d.path(), "dev/pts", Some(0o755)).unwrap_err();
        assert_eq!(e.errno, Errno::ELOOP);
        let p = in_root(d.path(), "a/b", Some(0o700)).unwrap();
        assert!(p.is_dir());
        assert!(in_root(d.path(), "missing", None).is_err());
    }

    #[test]
    fn proc_and_sys_outside_the_root() {
        let mi = "22 1 0:21 / /proc rw - proc proc rw\n\
                  23 1 0:22 / /sys rw - sysfs sysfs rw\n\
                  24 23 0:23 / /sys/kernel/x rw - sysfs sysfs rw\n\
                  25 1 0:24 / /new\\040root/proc rw - proc proc rw\n\
                  26 1 0:25 / /tmp rw - tmpfs tmpfs rw\n";
        assert_eq!(
            outside_proc_sys(mi, Path::new("/new root")),
            [
                PathBuf::from("/sys/kernel/x"),
                PathBuf::from("/proc"),
                PathBuf::from("/sys")
            ]
        );
        assert_eq!(ctcore::mountinfo::unescape("a\\040b"), "a b");
    }

    #[test]
    fn dev_list() {
        assert_eq!(
            dev_entries(),
            [
                "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout",
                "tty", "urandom", "zero"
            ]
        );
    }

    #[test]
    fn namespace_check_answers_here() {
        // Whatever the answer, it must not panic, and on 6.18+ it is known.
        let a = in_initial_mount_ns();
        if kernel_at_least(6, 18) {
            assert!(a.is_some());
        }
    }
}
