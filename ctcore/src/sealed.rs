//! Running from a protected view of the tool's own binary (runc's fix for
//! CVE-2019-5736).
//!
//! A tool that enters or joins a container's namespaces is visible there as
//! a process, and its `/proc/PID/exe` is a link to the host file it runs
//! from: a process in the container that can open that link for writing
//! (after the tool execs something the container controls, or through a
//! `#!/proc/self/exe` script, which makes the kernel run the tool's binary
//! again inside the container) overwrites the host's binary.
//!
//! [`reexec_protected`] executes the binary again (`execveat(fd, "",
//! AT_EMPTY_PATH)`, same argv and environment) from one of two places where
//! no write can reach the host's file:
//!
//! - a read-only clone of the binary's own mount, detached
//!   (`open_tree(OPEN_TREE_CLONE)` of `/proc/self/exe`, then
//!   `mount_setattr(MOUNT_ATTR_RDONLY)`): the clone belongs to no mount
//!   namespace once the exec has closed its descriptor, so nothing can make
//!   it writable again (remount, `mount_setattr` and `open_tree` of it all
//!   fail with EINVAL, even for the host's root), every open for writing
//!   fails with EROFS, a link of it into another mount with EXDEV, and
//!   `/proc/PID/exe` reads `/`, a name of no host path.  Nothing is copied:
//!   the cost is the second exec (runc 1.2 uses a read-only overlayfs the
//!   same way);
//! - where that is refused (no CAP_SYS_ADMIN over the mount namespace, a
//!   kernel before 5.12), a sealed memfd copy of the binary: the link names
//!   `/memfd:NAME (deleted)`, and the seals (`F_SEAL_WRITE`,
//!   `F_SEAL_SHRINK`, `F_SEAL_GROW`, `F_SEAL_SEAL`) refuse every write to
//!   it, by anyone, for ever ([`reexec_sealed`] alone).
//!
//! The new image calls the function again, finds itself protected, and
//! goes on.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::error::failure;
use crate::exit;

/// The seals a sealed copy carries (runc's set).
pub const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// `MFD_EXEC` (Linux 6.3): asks for an executable memfd where the
/// `vm.memfd_noexec` sysctl would make it non-executable by default.
const MFD_EXEC: libc::c_uint = 0x10;

/// The seals of the open file `fd`: `None` when it is not a file that can
/// carry seals (not a memfd or shmem file).
#[must_use]
pub fn seals_of(fd: &impl AsRawFd) -> Option<libc::c_int> {
    // SAFETY: F_GET_SEALS reads a property of an open descriptor.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    (r >= 0).then_some(r)
}

/// Whether `/proc/self/exe` is a sealed memfd (every seal of [`SEALS`]).
///
/// # Errors
/// When /proc/self/exe cannot be opened (no /proc mounted).
pub fn is_sealed() -> anyhow::Result<bool> {
    let exe = open_self()?;
    Ok(seals_of(&exe).is_some_and(|s| s & SEALS == SEALS))
}

/// Whether the running binary is protected: a sealed memfd (every seal of
/// [`SEALS`]), or the root of a read-only mount of its own that is mounted
/// nowhere (what [`reexec_protected`] makes: `/proc/self/exe` then reads
/// `/`, which no executable file attached below a root can).
///
/// # Errors
/// When /proc/self/exe cannot be opened (no /proc mounted).
pub fn is_protected() -> anyhow::Result<bool> {
    let exe = open_self()?;
    Ok(protection(&exe).is_some())
}

/// How the running binary `exe` (an open `/proc/self/exe`) is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// A sealed memfd copy.
    Sealed,
    /// A detached read-only clone of its mount.
    ReadOnlyClone,
}

fn protection(exe: &File) -> Option<Protection> {
    if seals_of(exe).is_some_and(|s| s & SEALS == SEALS) {
        return Some(Protection::Sealed);
    }
    let root = std::fs::read_link("/proc/self/exe").is_ok_and(|l| l.as_os_str() == "/");
    (root && mount_is_read_only(exe)).then_some(Protection::ReadOnlyClone)
}

/// Whether the mount `f` is on is read-only (the mount's own flag or its
/// file system's).
fn mount_is_read_only(f: &File) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: fstatvfs fills the struct on success.
    let r = unsafe { libc::fstatvfs(f.as_raw_fd(), st.as_mut_ptr()) };
    if r != 0 {
        return false;
    }
    // SAFETY: initialised by the successful call.
    let st = unsafe { st.assume_init() };
    st.f_flag & libc::ST_RDONLY != 0
}

/// `open_tree(2)`'s OPEN_TREE_CLONE (a detached copy of the mount).
const OPEN_TREE_CLONE: libc::c_uint = 1;
/// `mount_setattr(2)`'s MOUNT_ATTR_RDONLY.
pub const MOUNT_ATTR_RDONLY: u64 = 1;
/// `mount_setattr(2)`'s MOUNT_ATTR_NOEXEC.
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(2)`: set the attributes `set` and clear the attributes
/// `clear` (`MOUNT_ATTR_*`) on the mount at `path` relative to `dirfd`
/// (`AT_FDCWD`, or a mount's descriptor with an empty path and
/// `AT_EMPTY_PATH`), with `flags` (`AT_RECURSIVE`, ...).
///
/// # Errors
/// The kernel's refusal (`ENOSYS` before Linux 5.12).
pub fn mount_setattr(
    dirfd: libc::c_int,
    path: &std::ffi::CStr,
    flags: libc::c_int,
    set: u64,
    clear: u64,
) -> std::io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: a NUL-terminated path and a mount_attr of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags as libc::c_uint,
            &raw const attr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A detached, read-only clone of the mount of `/proc/self/exe` whose root
/// is the binary itself (an `O_PATH`, close-on-exec descriptor of it).
fn read_only_clone() -> std::io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated path; the result is a new descriptor.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c"/proc/self/exe".as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
    mount_setattr(
        fd.as_raw_fd(),
        c"",
        libc::AT_EMPTY_PATH,
        MOUNT_ATTR_RDONLY,
        0,
    )?;
    Ok(fd)
}

/// Make sure the process runs from a protected view of its binary: a
/// detached read-only clone of its mount, else a sealed memfd copy.
///
/// When `/proc/self/exe` already is one, returns `Ok(())` at once (and
/// names the process after the binary again: an exec through a descriptor
/// names it after the descriptor's number).  Otherwise executes the binary
/// again from the read-only clone with the same argv and environment (on
/// success this does not return, and the new image calls
/// `reexec_protected` again, which then returns); where the clone is
/// refused, falls back to [`reexec_sealed`].  Call it first, before any
/// state worth keeping (descriptors opened without `O_CLOEXEC` survive, the
/// rest of the process does not).
///
/// # Errors
/// As [`reexec_sealed`]'s.
pub fn reexec_protected() -> anyhow::Result<()> {
    let exe = open_self()?;
    match protection(&exe) {
        Some(Protection::Sealed) => {
            name_after_memfd();
            return Ok(());
        }
        Some(Protection::ReadOnlyClone) => {
            name_after_argv0();
            return Ok(());
        }
        None => {}
    }
    if let Ok(clone) = read_only_clone() {
        drop(exe);
        // Returns only when the exec failed: the memfd copy then.
        let _ = execveat_self(&clone);
    }
    reexec_sealed()
}

/// The mount that holds the running binary, found when the tool starts:
/// the way to protect the host's file without executing anything again,
/// for a tool that execs the container's program once its new root is set
/// up and leaves nothing of itself behind (chroot-rs --pivot).
///
/// [`ExeMount::seal`] makes that mount read-only and noexec.  Mount flags
/// belong to one mount of one namespace (they never propagate), so in the
/// container's mount namespace, a copy of the host's, only the container's
/// copy changes; pivot_root then detaches it with the old root, and a
/// mount that is mounted nowhere can never be changed back.  From then on
/// every open of the binary for writing through `/proc/PID/exe` (or a
/// descriptor kept from it) fails with EROFS, and an exec of it (the
/// `#!/proc/self/exe` script, an ELF interpreter `/proc/self/exe`) with
/// EACCES: the kernel refuses to run the tool's file again inside the
/// container at all.
#[derive(Debug)]
pub struct ExeMount {
    /// An `O_PATH` descriptor of the mount's root.
    root: OwnedFd,
}

fn statx_fd(fd: &OwnedFd, mask: libc::c_uint) -> std::io::Result<libc::statx> {
    let mut st = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: an empty path on an open descriptor; statx fills the struct.
    let r = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            mask,
            st.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: filled by the successful call.
    Ok(unsafe { st.assume_init() })
}

fn open_path(
    dir: Option<&OwnedFd>,
    path: &std::ffi::CStr,
    flags: libc::c_int,
) -> std::io::Result<OwnedFd> {
    let at = dir.map_or(libc::AT_FDCWD, AsRawFd::as_raw_fd);
    // SAFETY: a NUL-terminated path; the result is a new descriptor.
    let fd = unsafe { libc::openat(at, path.as_ptr(), flags | libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The mount id of `fd` and whether it is the root of its mount; `None`
/// when the kernel tells neither (before 5.8).
fn mount_of(fd: &OwnedFd) -> std::io::Result<Option<(u64, bool)>> {
    let st = statx_fd(fd, libc::STATX_MNT_ID)?;
    let root_known = st.stx_attributes_mask & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0;
    if st.stx_mask & libc::STATX_MNT_ID == 0 || !root_known {
        return Ok(None);
    }
    let is_root = st.stx_attributes & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0;
    Ok(Some((st.stx_mnt_id, is_root)))
}

impl AsRawFd for ExeMount {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.root.as_raw_fd()
    }
}

impl ExeMount {
    /// Find the root of the mount that holds `/proc/self/exe`: the binary
    /// itself when it is a mount of its own, else the directories above it
    /// (from the link's path), each on that same mount, up to the mount's
    /// root.
    ///
    /// # Errors
    /// When /proc is missing, the kernel cannot tell mounts apart (before
    /// 5.8), or the path the link names no longer leads to the binary's
    /// mount (replaced, mounted over, outside this root): the caller then
    /// protects itself otherwise ([`reexec_protected`]).
    pub fn find() -> std::io::Result<Self> {
        let exe = open_path(None, c"/proc/self/exe", 0)?;
        let unknown = || std::io::Error::from_raw_os_error(libc::ENOSYS);
        let (id, is_root) = mount_of(&exe)?.ok_or_else(unknown)?;
        if is_root {
            return Ok(Self { root: exe });
        }
        let link = std::fs::read_link("/proc/self/exe")?;
        let link = link.as_os_str().as_bytes();
        let link = link.strip_suffix(b" (deleted)").unwrap_or(link);
        let dir = match link.iter().rposition(|&b| b == b'/') {
            Some(0) => b"/".as_slice(),
            Some(i) => &link[..i],
            None => return Err(std::io::Error::from_raw_os_error(libc::ENOENT)),
        };
        let dir = CString::new(dir).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut d = open_path(None, &dir, libc::O_DIRECTORY)?;
        // A path is at most a few thousand components deep; a root that is
        // no mount point (a chroot) would otherwise keep us at its top.
        for _ in 0..4096 {
            let (did, droot) = mount_of(&d)?.ok_or_else(unknown)?;
            if did != id {
                return Err(std::io::Error::from_raw_os_error(libc::EXDEV));
            }
            if droot {
                return Ok(Self { root: d });
            }
            d = open_path(Some(&d), c"..", libc::O_DIRECTORY)?;
        }
        Err(std::io::Error::from_raw_os_error(libc::ELOOP))
    }

    /// Make the binary's mount read-only and noexec, in this mount
    /// namespace only (`mount_setattr`, or a bind remount that keeps the
    /// mount's other flags on kernels before 5.12).  Call it once the new
    /// root needs nothing more of the old one, right before the old root
    /// is detached.
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn seal(&self) -> std::io::Result<()> {
        match mount_setattr(
            self.root.as_raw_fd(),
            c"",
            libc::AT_EMPTY_PATH,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC,
            0,
        ) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => self.remount(),
            r => r,
        }
    }

    /// Before 5.12: MS_REMOUNT | MS_BIND through the descriptor's
    /// /proc/self/fd link, with the flags a remount must keep.
    fn remount(&self) -> std::io::Result<()> {
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
        // SAFETY: fstatvfs fills the struct on success.
        if unsafe { libc::fstatvfs(self.root.as_raw_fd(), st.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: filled by the successful call.
        let st = unsafe { st.assume_init() };
        let mut flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOEXEC;
        for (st_flag, ms) in [
            (libc::ST_NOSUID, libc::MS_NOSUID),
            (libc::ST_NODEV, libc::MS_NODEV),
            (libc::ST_NOATIME, libc::MS_NOATIME),
            (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
            (libc::ST_RELATIME, libc::MS_RELATIME),
        ] {
            if st.f_flag & st_flag != 0 {
                flags |= ms;
            }
        }
        let p = CString::new(format!("/proc/self/fd/{}", self.root.as_raw_fd()))
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: NUL-terminated strings; a remount reads no data.
        let r = unsafe {
            libc::mount(
                std::ptr::null(),
                p.as_ptr(),
                std::ptr::null(),
                flags,
                std::ptr::null(),
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The process's name after an exec through a descriptor: the base name of
/// argv[0], as an exec of that path would have named it.
fn name_after_argv0() {
    let Some(a0) = std::env::args_os().next() else {
        return;
    };
    let a0 = a0.as_bytes();
    let base = a0.rsplit(|&b| b == b'/').next().unwrap_or(a0);
    set_name(base);
}

fn set_name(name: &[u8]) {
    let mut n = name.to_vec();
    n.retain(|&b| b != 0);
    n.truncate(15);
    if n.is_empty() {
        return;
    }
    if let Ok(c) = CString::new(n) {
        // SAFETY: PR_SET_NAME copies at most 16 bytes of a C string.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, c.as_ptr());
        }
    }
}

fn open_self() -> anyhow::Result<File> {
    File::open("/proc/self/exe").map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (is /proc mounted?)"
        } else {
            ""
        };
        failure(
            exit::FAILURE,
            format!(
                "cannot open /proc/self/exe to seal the running binary: {}{hint}",
                crate::error_text(&e)
            ),
        )
    })
}

/// Make sure the process runs from a sealed memfd copy of its binary.
///
/// When `/proc/self/exe` already is one, returns `Ok(())` at once.
/// Otherwise copies the binary into a new memfd (`MFD_CLOEXEC |
/// MFD_ALLOW_SEALING`), seals it, and executes it with the same argv and
/// environment: on success this does not return, and the new image calls
/// `reexec_sealed` again, which then returns.  Call it first, before any
/// state worth keeping (descriptors opened without `O_CLOEXEC` survive, the
/// rest of the process does not).
///
/// # Errors
/// One-line errors (exit 125) when /proc is not mounted, when memfd_create
/// or sealing is refused, or when the exec fails; the process is unchanged
/// then and the caller decides whether to go on.
pub fn reexec_sealed() -> anyhow::Result<()> {
    let exe = open_self()?;
    if seals_of(&exe).is_some_and(|s| s & SEALS == SEALS) {
        name_after_memfd();
        return Ok(());
    }
    let name = memfd_name();
    let memfd = memfd_create(&name)?;
    let mut exe = exe;
    copy_all(&mut exe, &memfd).map_err(|e| {
        failure(
            exit::FAILURE,
            format!(
                "cannot copy /proc/self/exe into a memfd: {}",
                crate::error_text(&e)
            ),
        )
    })?;
    drop(exe);
    // SAFETY: F_ADD_SEALS on our own memfd.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        let e = std::io::Error::last_os_error();
        return Err(failure(
            exit::FAILURE,
            format!("cannot seal the memfd copy: {}", crate::error_text(&e)),
        ));
    }
    let e = execveat_self(&memfd);
    Err(failure(
        exit::FAILURE,
        format!(
            "cannot execute the sealed copy of the binary: {}",
            crate::error_text(&e)
        ),
    ))
}

/// After execveat(fd, "") the kernel names the process after the
/// descriptor's number; give it the binary's name back (the memfd's, from
/// `/memfd:NAME (deleted)`).
fn name_after_memfd() {
    let Ok(link) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let l = link.as_os_str().as_bytes();
    let Some(name) = l
        .strip_prefix(b"/memfd:")
        .map(|n| n.strip_suffix(b" (deleted)").unwrap_or(n))
    else {
        return;
    };
    set_name(name);
}

/// The memfd's name: the binary's base name (shown as `/memfd:NAME
/// (deleted)` in /proc/PID/exe), never a path.
fn memfd_name() -> CString {
    let base = std::fs::read_link("/proc/self/exe")
        .ok()
        .and_then(|p| p.file_name().map(|n| n.as_bytes().to_vec()))
        .filter(|n| !n.is_empty() && !n.contains(&0))
        .unwrap_or_else(|| b"ctools".to_vec());
    // memfd names are at most 249 bytes.
    let mut base = base;
    base.truncate(200);
    CString::new(base).unwrap_or_else(|_| c"ctools".to_owned())
}

fn memfd_create(name: &CString) -> anyhow::Result<OwnedFd> {
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    for flags in [base | MFD_EXEC, base] {
        // SAFETY: `name` is NUL-terminated; the result is a new descriptor.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: a new descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = std::io::Error::last_os_error();
        // Kernels before 6.3 refuse MFD_EXEC as an unknown flag.
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(failure(
                exit::FAILURE,
                format!("memfd_create: {}", crate::error_text(&e)),
            ));
        }
    }
    Err(failure(
        exit::FAILURE,
        "memfd_create: Invalid argument (the kernel has no memfd sealing?)",
    ))
}

/// Copy the whole of `src` into `dst`: copy_file_range, else sendfile,
/// else read and write.
fn copy_all(src: &mut File, dst: &OwnedFd) -> std::io::Result<()> {
    let len = src.metadata()?.len();
    let mut done: u64 = 0;
    // copy_file_range between a regular file and a memfd works from Linux
    // 5.3 (same-filesystem rule relaxed); sendfile works everywhere else.
    let mut use_cfr = true;
    while done < len {
        let want = usize::try_from(len - done)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        let n = if use_cfr {
            // SAFETY: both descriptors are open; null offsets use and advance
            // the file offsets.
            let n = unsafe {
                libc::copy_file_range(
                    src.as_raw_fd(),
                    std::ptr::null_mut(),
                    dst.as_raw_fd(),
                    std::ptr::null_mut(),
                    want,
                    0,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
                ) {
                    use_cfr = false;
                    continue;
                }
                return Err(e);
            }
            n
        } else {
            // SAFETY: as above; sendfile reads from src's offset.
            let n = unsafe {
                libc::sendfile(dst.as_raw_fd(), src.as_raw_fd(), std::ptr::null_mut(), want)
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
                    return copy_rw(src, dst);
                }
                return Err(e);
            }
            n
        };
        if n == 0 {
            break;
        }
        done += n as u64;
    }
    if done != len {
        return Err(std::io::Error::other("short copy"));
    }
    Ok(())
}

fn copy_rw(src: &mut File, dst: &OwnedFd) -> std::io::Result<()> {
    // The descriptor stays ours: `File` borrows it through ManuallyDrop.
    // SAFETY: dst is open for the duration of the call.
    let mut out = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(dst.as_raw_fd()) });
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n])?;
    }
}

/// execveat(fd, "", argv, environ, AT_EMPTY_PATH): returns only on failure.
fn execveat_self(fd: &OwnedFd) -> std::io::Error {
    let args: Vec<CString> = std::env::args_os()
        .map(|a: OsString| {
            let mut v = a.into_vec();
            v.retain(|&b| b != 0);
            CString::new(v).unwrap_or_default()
        })
        .collect();
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    unsafe extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: argv is a NULL-terminated array of NUL-terminated strings that
    // live across the call; environ is the C library's environment.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            environ,
            libc::AT_EMPTY_PATH,
        );
    }
    std::io::Error::last_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_is_a_base_name() {
        let n = memfd_name();
        assert!(!n.as_bytes().contains(&b'/'));
        assert!(!n.as_bytes().is_empty());
    }

    #[test]
    fn test_binary_is_not_sealed() {
        assert!(!is_sealed().unwrap());
    }

    #[test]
    fn memfd_copy_is_sealed_and_identical() {
        let mut exe = open_self().unwrap();
        let memfd = memfd_create(&memfd_name()).unwrap();
        copy_all(&mut exe, &memfd).unwrap();
        // SAFETY: our own memfd.
        assert_eq!(
            unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) },
            0
        );
        assert_eq!(seals_of(&memfd).unwrap() & SEALS, SEALS);
        let copy = std::fs::read(format!("/proc/self/fd/{}", memfd.as_raw_fd())).unwrap();
        let orig = std::fs::read("/proc/self/exe").unwrap();
        assert_eq!(copy, orig);
        // Every write is refused, even through a new open of the copy.
        let w = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", memfd.as_raw_fd()));
        match w {
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM)),
            Ok(mut f) => assert!(f.write_all(b"x").is_err()),
        }
        let file = File::open("/proc/self/exe").unwrap();
        assert!(seals_of(&file).is_none());
    }
}
