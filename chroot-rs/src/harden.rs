//! The hardening steps of chroot-rs that are not mounts: the caller's
//! descriptors, the session keyring, `--device` nodes made inside the new
//! root without following its symbolic links, and the `--init` reaper.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use nix::errno::Errno;

use crate::root::{Log, Step, StepError};

/// Close every descriptor from `first` up but `keep` (close_range, or one
/// by one on kernels before 5.9).
pub fn close_fds_from(first: u32, keep: Option<RawFd>) {
    let keep = keep
        .and_then(|k| u32::try_from(k).ok())
        .filter(|&k| k >= first);
    let ranges = match keep {
        Some(k) => [(first, k.wrapping_sub(1)), (k.saturating_add(1), u32::MAX)],
        None => [(first, u32::MAX), (1, 0)],
    };
    // SAFETY: closing descriptors this process owns; nothing of ours above
    // `first` is open at this point but `keep`.
    let ok = ranges
        .iter()
        .filter(|(a, b)| a <= b)
        .all(|&(a, b)| unsafe { libc::syscall(libc::SYS_close_range, a, b, 0) == 0 });
    if ok {
        return;
    }
    let fds: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(d) => d
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => {
            let max = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                .map_or(1024, |(soft, _)| soft.min(1 << 20));
            (0..max as RawFd).collect()
        }
    };
    let keep = keep.map(|k| k as RawFd);
    for fd in fds
        .into_iter()
        .filter(|&f| f >= first as RawFd && Some(f) != keep)
    {
        // SAFETY: as above (the read_dir descriptor is closed already).
        unsafe {
            libc::close(fd);
        }
    }
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)`: a new anonymous session
/// keyring, so that the keys of the caller's session are out of reach.
/// A kernel without keyrings (ENOSYS) is not an error.
///
/// # Errors
/// keyctl's errno.
pub fn join_session_keyring() -> Result<(), Errno> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: a NULL name asks for an anonymous keyring.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if r >= 0 {
        return Ok(());
    }
    match Errno::last() {
        Errno::ENOSYS => Ok(()),
        e => Err(e),
    }
}

/// A parsed `--device=HOST[:CTR[:ACC]]` (Docker's grammar: with two parts,
/// the second is ACC when it is made of r, w and m only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// The host's node.
    pub host: String,
    /// Where it goes in the new root.
    pub ctr: String,
    /// The access (for the devices cgroup; not used here).
    pub access: String,
}

fn is_access(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

impl DeviceSpec {
    /// Parse the option's value.
    ///
    /// # Errors
    /// An empty HOST, a relative CTR, a bad ACC, too many parts.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let (host, ctr, access) = match parts.as_slice() {
            [h] => (*h, *h, "rwm"),
            [h, a] if is_access(a) => (*h, *h, *a),
            [h, c] => (*h, *c, "rwm"),
            [h, c, a] => (*h, *c, *a),
            _ => return Err(format!("--device={spec}: too many ':'")),
        };
        if host.is_empty() {
            return Err(format!("--device={spec}: no host device"));
        }
        if !ctr.starts_with('/') {
            return Err(format!(
                "--device={spec}: the container path must be absolute"
            ));
        }
        if !is_access(access) {
            return Err(format!(
                "--device={spec}: bad access '{access}' (any of r, w, m)"
            ));
        }
        Ok(Self {
            host: host.into(),
            ctr: ctr.into(),
            access: access.into(),
        })
    }
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;

/// The kernel's `struct open_how` (openat2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}
const RESOLVE_IN_ROOT: u64 = 0x10;

fn cstr(p: &Path) -> Step<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| StepError::new("a path with a NUL byte", Errno::EINVAL))
}

/// Open the directory `rel` of the tree at `root` as if `root` were `/`
/// (openat2 with RESOLVE_IN_ROOT: `..` and absolute symbolic links stay
/// inside).  Kernels before 5.6 have no openat2: every component is then
/// opened with O_NOFOLLOW, so a symbolic link is refused.
fn open_in_root(root: &OwnedFd, rel: &Path) -> Result<OwnedFd, Errno> {
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let c = CString::new(rel.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: flags as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: a NUL-terminated path and an open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &raw const how,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd >= 0 {
        // SAFETY: a new descriptor.
        return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
    }
    let e = Errno::last();
    if e != Errno::ENOSYS {
        return Err(e);
    }
    let mut cur = nix::unistd::dup(root)?;
    for comp in rel.components() {
        let Component::Normal(name) = comp else {
            continue;
        };
        let n = CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)?;
        // SAFETY: a NUL-terminated name relative to an open directory.
        let fd = unsafe { libc::openat(cur.as_raw_fd(), n.as_ptr(), flags | libc::O_NOFOLLOW) };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: a new descriptor.
        cur = unsafe { OwnedFd::from_raw_fd(fd) };
    }
    Ok(cur)
}

/// The directory `rel` inside `root` (as [`open_in_root`]), made with
/// mode 755 where missing, component by component.
fn mkdir_in_root(root: &OwnedFd, rel: &Path) -> Result<OwnedFd, Errno> {
    let mut sofar = std::path::PathBuf::new();
    let mut dir = open_in_root(root, &sofar)?;
    for comp in rel.components() {
        let Component::Normal(name) = comp else {
            continue;
        };
        sofar.push(name);
        match open_in_root(root, &sofar) {
            Ok(d) => dir = d,
            Err(Errno::ENOENT) => {
                let n = CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)?;
                // SAFETY: mkdirat of one name in an open directory (mkdir
                // never follows a symbolic link in its last component).
                if unsafe { libc::mkdirat(dir.as_raw_fd(), n.as_ptr(), 0o755) } != 0
                    && Errno::last() != Errno::EEXIST
                {
                    return Err(Errno::last());
                }
                dir = open_in_root(root, &sofar)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(dir)
}

/// `--device`: make the node for the host's device `spec.host` at
/// `spec.ctr` inside the new root `root`, with the host node's mode and
/// owner, before anything runs there.  The way to it is resolved inside
/// the root (a symbolic link planted in the image cannot lead out), and
/// missing directories are made.  Where mknod is refused (a user
/// namespace) the host's node is bound on an empty file instead.  With
/// `--host-dev` the root's /dev is the host's: the node must be there
/// already.
///
/// # Errors
/// HOST not a device, or a failed step.
pub fn make_device(root: &Path, spec: &DeviceSpec, host_dev: bool, log: Log) -> Step {
    let meta = std::fs::metadata(&spec.host)
        .map_err(|e| StepError::io(format!("--device: cannot use '{}'", spec.host), &e))?;
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        libc::S_IFCHR
    } else if ft.is_block_device() {
        libc::S_IFBLK
    } else {
        return Err(StepError::new(
            format!("--device: '{}' is not a device node", spec.host),
            Errno::EINVAL,
        ));
    };
    let rel = Path::new(spec.ctr.trim_start_matches('/'));
    let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Err(StepError::new(
            format!("--device: bad container path '{}'", spec.ctr),
            Errno::EINVAL,
        ));
    };
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(StepError::new(
            format!("--device: '{}' must not contain '.' or '..'", spec.ctr),
            Errno::EINVAL,
        ));
    }
    let rootfd = nix::fcntl::open(
        root,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| StepError::new(format!("cannot open '{}'", root.display()), e))?;
    let what = || format!("--device: cannot make '{}' in the new root", spec.ctr);
    let dir = if host_dev && rel.starts_with("dev") {
        open_in_root(&rootfd, parent).map_err(|e| StepError::new(what(), e))?
    } else {
        mkdir_in_root(&rootfd, parent).map_err(|e| StepError::new(what(), e))?
    };
    let n = cstr(Path::new(name))?;
    let existing =
        nix::sys::stat::fstatat(&dir, n.as_c_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW);
    if let Ok(st) = existing {
        if st.st_mode & libc::S_IFMT == kind && st.st_rdev == meta.rdev() {
            log(&format!("--device: '{}' is there already", spec.ctr));
            return Ok(());
        }
        if host_dev && rel.starts_with("dev") {
            return Err(StepError::new(what(), Errno::EEXIST)
                .hint("with --host-dev, /dev is the host's and nothing is made in it"));
        }
        // A file, link or other node of that name (the image's): replaced.
        // SAFETY: unlinkat of one name (a symbolic link itself, never its
        // target).
        if unsafe { libc::unlinkat(dir.as_raw_fd(), n.as_ptr(), 0) } != 0 {
            return Err(StepError::new(what(), Errno::last()));
        }
    } else if host_dev && rel.starts_with("dev") {
        return Err(StepError::new(what(), Errno::ENOENT)
            .hint("with --host-dev, /dev is the host's and nothing is made in it"));
    }
    let mode = meta.mode() & 0o7777;
    // SAFETY: mknodat of one name in an open directory.
    let r = unsafe { libc::mknodat(dir.as_raw_fd(), n.as_ptr(), kind | mode, meta.rdev()) };
    if r == 0 {
        // SAFETY: the node just made (no container process runs yet).
        unsafe {
            libc::fchmodat(dir.as_raw_fd(), n.as_ptr(), mode, 0);
            libc::fchownat(
                dir.as_raw_fd(),
                n.as_ptr(),
                meta.uid(),
                meta.gid(),
                libc::AT_SYMLINK_NOFOLLOW,
            );
        }
        log(&format!("--device: made '{}' ({})", spec.ctr, spec.host));
        return Ok(());
    }
    let e = Errno::last();
    if e != Errno::EPERM {
        return Err(StepError::new(what(), e));
    }
    // mknod refused: bind the host's node on an empty file.
    // SAFETY: create one new file relative to an open directory.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            n.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd < 0 {
        return Err(StepError::new(what(), Errno::last()));
    }
    // SAFETY: a new descriptor.
    let file = unsafe { OwnedFd::from_raw_fd(fd) };
    let target = format!("/proc/self/fd/{}", file.as_raw_fd());
    nix::mount::mount(
        Some(Path::new(&spec.host)),
        Path::new(&target),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| StepError::new(what(), e))?;
    log(&format!(
        "--device: mknod refused, bound '{}' on '{}'",
        spec.host, spec.ctr
    ));
    Ok(())
}

/// The C `main`'s argument strings: the first byte and the length of the
/// area holding them, so that `--init` can write its own command line.
static ARGV_START: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
static ARGV_LEN: AtomicUsize = AtomicUsize::new(0);

/// Remember where the arguments are (called from `main`).
///
/// # Safety
/// `argv` must be the `argc` argument strings the C library passed to
/// `main`.
pub unsafe fn remember_argv(argc: libc::c_int, argv: *const *const libc::c_char) {
    if argc < 1 || argv.is_null() {
        return;
    }
    // SAFETY: the caller's contract: argc valid pointers.
    unsafe {
        let first = *argv;
        let last = *argv.add(argc as usize - 1);
        if first.is_null() || last.is_null() || last < first {
            return;
        }
        let end = last.add(libc::strlen(last) + 1);
        ARGV_START.store(first.cast_mut(), Ordering::Relaxed);
        ARGV_LEN.store(end.offset_from(first) as usize, Ordering::Relaxed);
    }
}

/// Replace the process's command line (what /proc/PID/cmdline shows) by
/// `title`, and its name (comm) too.
pub fn set_title(title: &str) {
    let p = ARGV_START.load(Ordering::Relaxed);
    let len = ARGV_LEN.load(Ordering::Relaxed);
    if !p.is_null() && len > 0 {
        let t = title.as_bytes();
        let n = t.len().min(len - 1);
        // SAFETY: the argument area is the process's own writable memory,
        // `len` bytes from `p`; nothing reads it any more (std copied it).
        unsafe {
            std::ptr::write_bytes(p, 0, len);
            std::ptr::copy_nonoverlapping(t.as_ptr(), p.cast::<u8>(), n);
        }
    }
    if let Ok(c) = CString::new(title) {
        // SAFETY: PR_SET_NAME copies at most 16 bytes of a C string.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, c.as_ptr());
        }
    }
}

/// The signals `--init` passes on to COMMAND (tini's set, and WINCH).
pub const FORWARDED: &[libc::c_int] = &[
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// Keep only `keep` in the permitted, effective and inheritable sets.
fn limit_caps(keep: u64) {
    if let Ok((eff, perm, inh)) = ctcore::caps::get() {
        let _ = ctcore::caps::set(eff & keep, perm & keep, inh & keep);
    }
}

/// What [`fork_init`] returns in each process.
pub enum Forked {
    /// In the child: go on and exec COMMAND.
    Child,
    /// In the init, once COMMAND has ended: the exit status.
    Init(i32),
}

fn sigset(sigs: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise the set.
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut s);
        for &g in sigs {
            libc::sigaddset(&raw mut s, g);
        }
        s
    }
}

/// `--init`: fork.  The child returns [`Forked::Child`] and execs COMMAND;
/// this process stays as a reaping init: it is a child subreaper, names
/// itself `init` (its command line names no host path), passes
/// [`FORWARDED`] signals on to COMMAND, reaps every child that ends, and
/// returns COMMAND's status (128+N when a signal killed it, as tini) once
/// COMMAND has ended.
///
/// With `keep` (the bounding set COMMAND gets), the init also drops every
/// other capability from its permitted and effective sets, so that it has
/// no more than COMMAND (which then may read its /proc entries, as in
/// Docker with `--init`).
///
/// # Errors
/// fork's errno.
pub fn fork_init(keep: Option<u64>) -> Result<Forked, Errno> {
    let mut all = FORWARDED.to_vec();
    all.push(libc::SIGCHLD);
    let set = sigset(&all);
    // SAFETY: sigprocmask on the only thread.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigprocmask(libc::SIG_BLOCK, &raw const set, &raw mut old);
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    // SAFETY: the process has a single thread.
    let child = unsafe { libc::fork() };
    if child < 0 {
        let e = Errno::last();
        // SAFETY: as above.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &raw const old, std::ptr::null_mut()) };
        return Err(e);
    }
    if child == 0 {
        // SAFETY: as above; the child's mask is the caller's again.
        unsafe {
            libc::sigprocmask(libc::SIG_SETMASK, &raw const old, std::ptr::null_mut());
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
        }
        return Ok(Forked::Child);
    }
    set_title("init");
    if let Some(keep) = keep {
        limit_caps(keep);
    }
    let mut status = None;
    while status.is_none() {
        // SAFETY: waiting for a signal of the blocked set.
        let sig = unsafe { libc::sigwaitinfo(&raw const set, std::ptr::null_mut()) };
        if sig < 0 {
            continue;
        }
        if sig != libc::SIGCHLD {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child, sig) };
            continue;
        }
        loop {
            let mut st = 0;
            // SAFETY: reaping any child of ours.
            let pid = unsafe { libc::waitpid(-1, &raw mut st, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == child {
                status = Some(st);
            }
        }
    }
    let st = status.unwrap_or(0);
    Ok(Forked::Init(if libc::WIFSIGNALED(st) {
        128 + libc::WTERMSIG(st)
    } else {
        libc::WEXITSTATUS(st)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs() {
        let d = DeviceSpec::parse("/dev/kvm").unwrap();
        assert_eq!((d.ctr.as_str(), d.access.as_str()), ("/dev/kvm", "rwm"));
        let d = DeviceSpec::parse("/dev/sda:r").unwrap();
        assert_eq!((d.ctr.as_str(), d.access.as_str()), ("/dev/sda", "r"));
        let d = DeviceSpec::parse("/dev/sda:/dev/xvda").unwrap();
        assert_eq!((d.ctr.as_str(), d.access.as_str()), ("/dev/xvda", "rwm"));
        let d = DeviceSpec::parse("/dev/sda:/dev/xvda:rw").unwrap();
        assert_eq!(d.access, "rw");
        assert!(DeviceSpec::parse("/dev/sda:dev/x").is_err());
        assert!(DeviceSpec::parse("/dev/sda:/dev/x:q").is_err());
        assert!(DeviceSpec::parse("/a:/b:r:x").is_err());
        assert!(DeviceSpec::parse(":/b").is_err());
    }

    #[test]
    fn in_root_resolution_stays_inside() {
        let d = cttest::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", d.path().join("link")).unwrap();
        std::os::unix::fs::symlink("../../../..", d.path().join("up")).unwrap();
        let root = nix::fcntl::open(
            d.path(),
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        // /link -> /etc resolves to ROOT/etc; "up" to ROOT itself.
        let dir = mkdir_in_root(&root, Path::new("link/sub")).unwrap();
        drop(dir);
        assert!(d.path().join("etc/sub").is_dir());
        let dir = mkdir_in_root(&root, Path::new("up/made")).unwrap();
        drop(dir);
        assert!(d.path().join("made").is_dir());
    }
}
