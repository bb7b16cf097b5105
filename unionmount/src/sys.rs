//! The system calls: the new mount API (fsopen, fsconfig, fsmount,
//! move_mount) with the filesystem context's log, mount(2) as the fallback,
//! bind mounts and umount2.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use nix::mount::{MntFlags, MsFlags};
use rustix::fs::{CWD, Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, fsconfig_create, fsconfig_set_fd,
    fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen, move_mount,
};

use crate::plan::{Attrs, escape};

/// The largest value `fsconfig(FSCONFIG_SET_STRING)` takes (the kernel
/// copies at most 256 bytes, NUL included).
pub const FSCONFIG_MAX: usize = 255;

/// The largest option string mount(2) takes: one page, NUL included.
pub const PAGE_MAX: usize = 4095;

/// An overlay to mount, with every path absolute.
#[derive(Debug, Clone)]
pub struct Overlay<'a> {
    /// The mount's source name (shown in /proc/mounts).
    pub source: &'a str,
    /// Lower layers, top first.
    pub lowers: &'a [PathBuf],
    /// Upper layer.
    pub upper: Option<&'a Path>,
    /// Work directory.
    pub work: Option<&'a Path>,
    /// Filesystem options, in order.
    pub options: &'a [(String, Option<String>)],
    /// Read-only superblock and mount.
    pub read_only: bool,
    /// Mount attributes.
    pub attrs: Attrs,
    /// Where.
    pub target: &'a Path,
    /// Print the kernel's warnings.
    pub verbose: bool,
}

/// Why the new mount API could not be used.
pub enum NewApiError {
    /// The kernel lacks it (or a part we need): use mount(2).
    Unsupported(String),
    /// The kernel refused the union.
    Failed(anyhow::Error),
}

fn errno_text(e: Errno) -> String {
    ctcore::error_text(&std::io::Error::from_raw_os_error(e.raw_os_error()))
}

/// Read every message of a filesystem context's log.
fn drain_log(fs: &OwnedFd) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8192];
    while let Ok(n) = rustix::io::read(fs, &mut buf) {
        if n == 0 {
            break;
        }
        out.push(String::from_utf8_lossy(&buf[..n]).trim_end().to_string());
    }
    out
}

/// The error lines of a log (`e overlay: ...` → `overlay: ...`), or all
/// lines when none is an error.
fn log_reason(log: &[String]) -> Option<String> {
    let errors: Vec<&str> = log.iter().filter_map(|l| l.strip_prefix("e ")).collect();
    if !errors.is_empty() {
        return Some(errors.join("; "));
    }
    let all: Vec<&str> = log
        .iter()
        .map(|l| l.get(2..).unwrap_or(l.as_str()))
        .collect();
    (!all.is_empty()).then(|| all.join("; "))
}

fn print_warnings(log: &[String]) {
    for l in log {
        let text = l.get(2..).unwrap_or(l);
        eprintln!("unionmount: kernel: {text}");
    }
}

fn attr_flags(read_only: bool, a: Attrs) -> MountAttrFlags {
    let mut f = MountAttrFlags::empty();
    if read_only {
        f |= MountAttrFlags::MOUNT_ATTR_RDONLY;
    }
    if a.nosuid {
        f |= MountAttrFlags::MOUNT_ATTR_NOSUID;
    }
    if a.nodev {
        f |= MountAttrFlags::MOUNT_ATTR_NODEV;
    }
    if a.noexec {
        f |= MountAttrFlags::MOUNT_ATTR_NOEXEC;
    }
    if a.noatime {
        f |= MountAttrFlags::MOUNT_ATTR_NOATIME;
    } else if a.strictatime {
        f |= MountAttrFlags::MOUNT_ATTR_STRICTATIME;
    }
    if a.nodiratime {
        f |= MountAttrFlags::MOUNT_ATTR_NODIRATIME;
    }
    f
}

fn ms_flags(read_only: bool, a: Attrs) -> MsFlags {
    let mut f = MsFlags::empty();
    if read_only {
        f |= MsFlags::MS_RDONLY;
    }
    if a.nosuid {
        f |= MsFlags::MS_NOSUID;
    }
    if a.nodev {
        f |= MsFlags::MS_NODEV;
    }
    if a.noexec {
        f |= MsFlags::MS_NOEXEC;
    }
    if a.noatime {
        f |= MsFlags::MS_NOATIME;
    } else if a.strictatime {
        f |= MsFlags::MS_STRICTATIME;
    }
    if a.nodiratime {
        f |= MsFlags::MS_NODIRATIME;
    }
    f
}

/// One fsconfig call; on failure the kernel's reason.
fn config(
    fs: &OwnedFd,
    what: &str,
    call: impl FnOnce() -> rustix::io::Result<()>,
) -> std::result::Result<(), (Errno, String)> {
    call().map_err(|e| {
        let log = drain_log(fs);
        let reason = log_reason(&log).unwrap_or_else(|| format!("{what}: {}", errno_text(e)));
        (e, reason)
    })
}

/// Give one layer: as a string when it fits, else as an open directory.
fn set_layer(fs: &OwnedFd, key: &str, path: &Path) -> std::result::Result<(), NewApiError> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() <= FSCONFIG_MAX {
        return config(fs, &format!("{key}{}", path.display()), || {
            fsconfig_set_string(fs, key, path)
        })
        .map_err(|(e, reason)| {
            if e == Errno::INVAL
                && ((key == "lowerdir+" && reason.contains("Unknown parameter"))
                    || reason.contains("VFS: Legacy"))
            {
                NewApiError::Unsupported(reason)
            } else {
                NewApiError::Failed(anyhow!(reason))
            }
        });
    }
    let dir = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| NewApiError::Failed(anyhow!("{}: {}", path.display(), errno_text(e))))?;
    config(fs, key, || fsconfig_set_fd(fs, key, dir.as_fd())).map_err(|(e, reason)| {
        if e == Errno::INVAL && !reason.starts_with("overlay") {
            // Before 6.13 layers cannot be given as descriptors.
            NewApiError::Unsupported(format!(
                "{key} as a file descriptor (a path of {} bytes): {reason}",
                bytes.len()
            ))
        } else {
            NewApiError::Failed(anyhow!(reason))
        }
    })
}

/// Whether overlayfs still has the legacy filesystem context (kernels before
/// 6.5): it takes any key at fsconfig time, where the new one refuses an
/// unknown key at once.
fn legacy_context() -> bool {
    fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)
        .is_ok_and(|fs| fsconfig_set_flag(&fs, "ctools-no-such-option").is_ok())
}

/// Mount an overlay with the new mount API.
///
/// # Errors
/// [`NewApiError::Unsupported`] when the kernel lacks the API,
/// [`NewApiError::Failed`] with the kernel's reason when it refuses.
pub fn mount_new(o: &Overlay) -> std::result::Result<(), NewApiError> {
    let fs = match fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC) {
        Ok(fd) => fd,
        Err(Errno::NOSYS) => return Err(NewApiError::Unsupported("no fsopen(2)".into())),
        Err(Errno::NODEV) => {
            return Err(NewApiError::Failed(anyhow!(
                "this kernel has no overlay filesystem (try: modprobe overlay)"
            )));
        }
        Err(Errno::PERM) => {
            return Err(NewApiError::Failed(anyhow!(
                "{} (run it as root, or inside a user namespace: unshare -U -r -m)",
                errno_text(Errno::PERM)
            )));
        }
        Err(e) => {
            return Err(NewApiError::Failed(anyhow!(
                "fsopen overlay: {}",
                errno_text(e)
            )));
        }
    };
    let failed = |(_, reason): (Errno, String)| NewApiError::Failed(anyhow!(reason));
    if o.source.len() <= FSCONFIG_MAX {
        config(&fs, "source", || {
            fsconfig_set_string(&fs, "source", o.source)
        })
        .map_err(failed)?;
    }
    for l in o.lowers {
        set_layer(&fs, "lowerdir+", l)?;
    }
    if let Some(u) = o.upper {
        set_layer(&fs, "upperdir", u)?;
    }
    if let Some(w) = o.work {
        set_layer(&fs, "workdir", w)?;
    }
    for (k, v) in o.options {
        match v {
            Some(v) => config(&fs, &format!("{k}={v}"), || fsconfig_set_string(&fs, k, v)),
            None => config(&fs, k, || fsconfig_set_flag(&fs, k)),
        }
        .map_err(failed)?;
    }
    if o.read_only {
        config(&fs, "ro", || fsconfig_set_flag(&fs, "ro")).map_err(failed)?;
    }
    let kmsg = open_kmsg();
    if let Err(e) = fsconfig_create(&fs) {
        if e == Errno::INVAL && legacy_context() {
            // Before 6.5 overlayfs takes its options as one string, which
            // fsconfig only gathers: `lowerdir+` (6.8) is refused here, at
            // creation, in the kernel's log alone.
            return Err(NewApiError::Unsupported(
                "this kernel's overlayfs parses its options as one string (before 6.5)".into(),
            ));
        }
        // Some checks (workdir and upperdir on one mount...) only go to the
        // kernel's log, not to the filesystem context's.
        let log = drain_log(&fs);
        let reason = log_reason(&log)
            .or_else(|| kmsg_reason(kmsg))
            .unwrap_or_else(|| {
                format!(
                    "{} (the kernel's log, dmesg(1), may say why)",
                    errno_text(e)
                )
            });
        return Err(NewApiError::Failed(anyhow!(reason)));
    }
    let log = drain_log(&fs);
    if o.verbose {
        print_warnings(&log);
    }
    let mnt = fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        attr_flags(o.read_only, o.attrs),
    )
    .map_err(|e| NewApiError::Failed(anyhow!("fsmount: {}", errno_text(e))))?;
    move_mount(
        mnt.as_fd(),
        "",
        CWD,
        o.target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| {
        NewApiError::Failed(anyhow!(
            "move_mount to {}: {}",
            o.target.display(),
            errno_text(e)
        ))
    })
}

/// The option string of mount(2) (and of `mount -t overlay -o`), with the
/// layers named by `name`.
#[must_use]
pub fn option_string(o: &Overlay, name: &dyn Fn(&Path) -> String) -> String {
    let mut parts = Vec::new();
    let lowers: Vec<String> = o.lowers.iter().map(|l| escape(&name(l))).collect();
    parts.push(format!("lowerdir={}", lowers.join(":")));
    if let Some(u) = o.upper {
        parts.push(format!("upperdir={}", escape(&name(u))));
    }
    if let Some(w) = o.work {
        parts.push(format!("workdir={}", escape(&name(w))));
    }
    for (k, v) in o.options {
        match v {
            Some(v) => parts.push(format!("{k}={v}")),
            None => parts.push(k.clone()),
        }
    }
    parts.join(",")
}

/// The deepest directory that contains every path.
#[must_use]
pub fn common_parent(paths: &[&Path]) -> PathBuf {
    let mut common: Option<PathBuf> = None;
    for p in paths {
        let parent = p.parent().unwrap_or(Path::new("/"));
        common = Some(match common {
            None => parent.to_path_buf(),
            Some(c) => {
                let mut out = PathBuf::new();
                for (a, b) in c.components().zip(parent.components()) {
                    if a != b {
                        break;
                    }
                    out.push(a.as_os_str());
                }
                out
            }
        });
    }
    common.unwrap_or_else(|| PathBuf::from("/"))
}

/// Kernel log records about overlayfs written after `start` (a /dev/kmsg
/// descriptor positioned at its end), for mount(2)'s errors.
fn kmsg_reason(kmsg: Option<std::fs::File>) -> Option<String> {
    let mut f = kmsg?;
    let mut found = Vec::new();
    let mut buf = vec![0u8; 8192];
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        let rec = String::from_utf8_lossy(&buf[..n]);
        if let Some((_, msg)) = rec.split_once(';') {
            let msg = msg.lines().next().unwrap_or("").trim();
            if msg.starts_with("overlay") {
                found.push(msg.to_string());
            }
        }
    }
    (!found.is_empty()).then(|| found.join("; "))
}

fn open_kmsg() -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
        .ok()?;
    // SAFETY: lseek on a descriptor we own.
    unsafe {
        libc::lseek(std::os::fd::AsRawFd::as_raw_fd(&f), 0, libc::SEEK_END);
    }
    Some(f)
}

/// Mount an overlay with mount(2), naming the layers relative to their
/// common parent when the option string does not fit in a page.
///
/// # Errors
/// When the kernel refuses, with its reason from /dev/kmsg when readable.
pub fn mount_legacy(o: &Overlay) -> Result<()> {
    let absolute = option_string(o, &|p: &Path| p.to_string_lossy().into_owned());
    let flags = ms_flags(o.read_only, o.attrs);
    let mut all: Vec<&Path> = o.lowers.iter().map(PathBuf::as_path).collect();
    all.extend(o.upper);
    all.extend(o.work);
    let mut restore = None;
    let mut _held = Vec::new();
    let data = if absolute.len() <= PAGE_MAX {
        absolute
    } else {
        // Name the layers relative to the lower layers' common parent...
        let lower_refs: Vec<&Path> = o.lowers.iter().map(PathBuf::as_path).collect();
        let mut base = common_parent(&lower_refs);
        let mut relative = option_string(o, &|p: &Path| {
            p.strip_prefix(&base)
                .ok()
                .filter(|r| !r.as_os_str().is_empty())
                .map_or_else(
                    || p.to_string_lossy().into_owned(),
                    |r| r.to_string_lossy().into_owned(),
                )
        });
        if relative.len() > PAGE_MAX {
            // ...or, still too long, by descriptor numbers in /proc/self/fd.
            let mut fds = std::collections::HashMap::new();
            for p in &all {
                let f = rustix::fs::open(*p, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
                    .map_err(|e| anyhow!("{}: {}", p.display(), errno_text(e)))?;
                fds.insert(p.to_path_buf(), std::os::fd::AsRawFd::as_raw_fd(&f));
                _held.push(f);
            }
            base = PathBuf::from("/proc/self/fd");
            relative = option_string(o, &|p: &Path| {
                fds.get(p)
                    .map_or_else(|| p.to_string_lossy().into_owned(), i32::to_string)
            });
        }
        if relative.len() > PAGE_MAX {
            bail!(
                "the mount options are {} bytes, even with short names, and mount(2) takes at \
                 most {PAGE_MAX}: this kernel needs the new mount API (6.8 or later) for this union",
                relative.len()
            );
        }
        let here = std::fs::File::open(".").context("opening the current directory")?;
        std::env::set_current_dir(&base)
            .with_context(|| format!("changing into {}", base.display()))?;
        restore = Some(here);
        relative
    };
    let kmsg = open_kmsg();
    let res = nix::mount::mount(
        Some(OsStr::new(o.source)),
        o.target,
        Some("overlay"),
        flags,
        Some(data.as_str()),
    );
    if let Some(here) = restore {
        // SAFETY: fchdir on a descriptor we own.
        unsafe {
            libc::fchdir(std::os::fd::AsRawFd::as_raw_fd(&here));
        }
    }
    res.map_err(|e| {
        let why = kmsg_reason(kmsg).unwrap_or_else(|| {
            format!(
                "{} (the kernel's log, dmesg(1), may say why)",
                ctcore::errno_text(e)
            )
        });
        anyhow!(why)
    })
}

/// Bind-mount `dir` on `target`, read-only when asked.
///
/// # Errors
/// When the kernel refuses.
pub fn bind(dir: &Path, target: &Path, read_only: bool, attrs: Attrs) -> Result<()> {
    nix::mount::mount(
        Some(dir),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| anyhow!("bind mount: {}", ctcore::errno_text(e)))?;
    let flags = ms_flags(read_only, attrs);
    if !flags.is_empty()
        && let Err(e) = nix::mount::mount(
            None::<&str>,
            target,
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags,
            None::<&str>,
        )
    {
        let _ = nix::mount::umount2(target, MntFlags::MNT_DETACH);
        bail!("making the bind mount read-only: {}", ctcore::errno_text(e));
    }
    Ok(())
}

/// Unmount `target`.
///
/// # Errors
/// When it is not a mount point or is busy, with a hint.
pub fn umount(target: &Path, lazy: bool) -> Result<()> {
    let flags = if lazy {
        MntFlags::MNT_DETACH
    } else {
        MntFlags::empty()
    };
    nix::mount::umount2(target, flags).map_err(|e| {
        let hint = match e {
            nix::errno::Errno::EINVAL => " (not a mount point)",
            nix::errno::Errno::EBUSY => " (a process uses it; --lazy detaches it now)",
            nix::errno::Errno::EPERM => {
                " (run it as root, or in the user namespace that mounted it)"
            }
            _ => "",
        };
        anyhow!(
            "cannot unmount {}: {}{hint}",
            target.display(),
            ctcore::errno_text(e)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_parent_of_layers() {
        let a = PathBuf::from("/t/many/1");
        let b = PathBuf::from("/t/many/22");
        let c = PathBuf::from("/t/up");
        assert_eq!(common_parent(&[&a, &b]), PathBuf::from("/t/many"));
        assert_eq!(common_parent(&[&a, &b, &c]), PathBuf::from("/t"));
        assert_eq!(common_parent(&[&a, Path::new("/x")]), PathBuf::from("/"));
    }

    #[test]
    fn legacy_string() {
        let lowers = vec![PathBuf::from("/b"), PathBuf::from("/c:d")];
        let opts = vec![
            ("redirect_dir".to_string(), Some("on".to_string())),
            ("volatile".to_string(), None),
        ];
        let o = Overlay {
            source: "none",
            lowers: &lowers,
            upper: Some(Path::new("/a")),
            work: Some(Path::new("/.a.work")),
            options: &opts,
            read_only: false,
            attrs: Attrs::default(),
            target: Path::new("/m"),
            verbose: false,
        };
        assert_eq!(
            option_string(&o, &|p: &Path| p.to_string_lossy().into_owned()),
            "lowerdir=/b:/c\\:d,upperdir=/a,workdir=/.a.work,redirect_dir=on,volatile"
        );
    }

    #[test]
    fn log_lines() {
        let log = vec![
            "w overlay: something".to_string(),
            "e overlay: too many lower directories, limit is 500".to_string(),
        ];
        assert_eq!(
            log_reason(&log).unwrap(),
            "overlay: too many lower directories, limit is 500"
        );
        assert_eq!(log_reason(&log[..1]).unwrap(), "overlay: something");
        assert_eq!(log_reason(&[]), None);
    }
}
