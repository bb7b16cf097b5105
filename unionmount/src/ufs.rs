//! The union in user space (the FUSE backend's file system), with
//! funionfs's semantics: every branch read-write unless marked `=ro`; a
//! write to an existing file goes to the branch that holds it when that
//! branch is writable, else the file is copied up to the nearest writable
//! branch above; new names go to the first writable branch; deleting a name
//! removes it from the writable branches and leaves an overlayfs whiteout
//! (a character device 0/0) where a read-only branch still holds it.
//! Directories merge; an opaque directory (`trusted.overlay.opaque`) hides
//! the branches below it, as in overlayfs, so the layers stay readable by
//! the kernel's overlay.
//!
//! Every branch is reached through a descriptor opened before the mount,
//! so a union mounted over one of its branches still sees the branch.

use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr,
    Request, TimeOrNow, WriteFlags,
};

type R<T> = Result<T, i32>;

/// How long the kernel may cache names and attributes.  Every change goes
/// through the union (a branch changed behind its back gives undefined
/// results, as with overlayfs), and the kernel drops what a change made
/// through it makes stale.
const TTL: Duration = Duration::from_secs(30);

/// The xattr that keeps a copied-up file's inode number: that of its
/// origin in a read-only branch, which the union never changes (an origin
/// in a writable branch may go, and its number be reused).
pub const INO_XATTR: &str = "trusted.unionmount.ino";
const OPAQUE_XATTRS: &[&str] = &["trusted.overlay.opaque", "user.overlay.opaque"];
const HIDDEN_XATTR_PREFIXES: &[&str] =
    &["trusted.overlay.", "user.overlay.", "trusted.unionmount."];
/// unionmount's own xattrs, never copied with an object.
const OWN_XATTR_PREFIX: &[&str] = &["trusted.unionmount."];

/// One branch: its path (for messages) and whether it is writable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Branch {
    /// The directory.
    pub path: PathBuf,
    /// Read-write.
    pub rw: bool,
}

struct OpenBranch {
    fd: OwnedFd,
    rw: bool,
}

#[derive(Clone, Copy)]
struct St(libc::stat);

impl St {
    fn fmt(&self) -> u32 {
        self.0.st_mode & libc::S_IFMT
    }
    fn is_dir(&self) -> bool {
        self.fmt() == libc::S_IFDIR
    }
    fn is_whiteout(&self) -> bool {
        self.fmt() == libc::S_IFCHR && self.0.st_rdev == 0
    }
}

/// A node the kernel knows: its id is the file's inode number (fuser
/// makes them one), and a file with several links has several paths.
struct Node {
    paths: Vec<PathBuf>,
    nlookup: u64,
    generation: u64,
}

/// An open directory: its path, and its listing, made at the first
/// readdir (the kernel may answer from its cache and never ask).
struct DirList {
    path: PathBuf,
    entries: std::sync::OnceLock<Vec<(u64, FileType, OsString)>>,
}

#[derive(Default)]
struct State {
    nodes: HashMap<u64, Node>,
    files: HashMap<u64, Arc<File>>,
    dirs: HashMap<u64, Arc<DirList>>,
    next_fh: u64,
    /// The generation of an inode number whose object went away (the
    /// file system may give the number to a new object).
    gens: HashMap<u64, u64>,
}

/// The union file system.
pub struct UnionFs {
    branches: Vec<OpenBranch>,
    state: Mutex<State>,
}

fn cstr(rel: &Path) -> CString {
    let b = rel.as_os_str().as_bytes();
    let b = if b.is_empty() { b"." as &[u8] } else { b };
    CString::new(b).unwrap_or_else(|_| CString::from(c"."))
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn check(r: libc::c_int) -> R<()> {
    if r < 0 { Err(errno()) } else { Ok(()) }
}

fn io_errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

fn parent_of(rel: &Path) -> PathBuf {
    rel.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn kind(mode: u32) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFSOCK => FileType::Socket,
        _ => FileType::RegularFile,
    }
}

fn time(sec: i64, nsec: i64) -> SystemTime {
    let n = u32::try_from(nsec).unwrap_or(0);
    match u64::try_from(sec) {
        Ok(s) => UNIX_EPOCH + Duration::new(s, n),
        Err(_) => UNIX_EPOCH - Duration::new(sec.unsigned_abs(), 0) + Duration::new(0, n),
    }
}

fn timespec(t: Option<TimeOrNow>) -> libc::timespec {
    match t {
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        Some(TimeOrNow::Now) => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        Some(TimeOrNow::SpecificTime(t)) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => libc::timespec {
                tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(d.subsec_nanos()),
            },
            Err(e) => libc::timespec {
                tv_sec: -i64::try_from(e.duration().as_secs()).unwrap_or(0),
                tv_nsec: 0,
            },
        },
    }
}

/// An inode number for a file of branch `b`: stable across remounts, and
/// unique across branches (the branch in the top bits).
fn compose_ino(b: usize, ino: u64) -> u64 {
    ((b as u64 + 1) << 48) | (ino & 0xffff_ffff_ffff)
}

impl UnionFs {
    /// Open every branch (before the mount hides any of them).
    ///
    /// # Errors
    /// When a branch cannot be opened as a directory.
    pub fn new(branches: &[Branch]) -> std::io::Result<Self> {
        let mut open = Vec::new();
        for b in branches {
            let c = CString::new(b.path.as_os_str().as_bytes())
                .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
            // SAFETY: a valid C string.
            let fd = unsafe {
                libc::open(
                    c.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: a descriptor we just opened and own.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            open.push(OpenBranch { fd, rw: b.rw });
        }
        let mut st = State {
            next_fh: 1,
            ..State::default()
        };
        st.nodes.insert(
            1,
            Node {
                paths: vec![PathBuf::new()],
                nlookup: 1,
                generation: 0,
            },
        );
        Ok(Self {
            branches: open,
            state: Mutex::new(st),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fd(&self, b: usize) -> RawFd {
        self.branches[b].fd.as_raw_fd()
    }

    fn rw(&self, b: usize) -> bool {
        self.branches[b].rw
    }

    /// The path of `rel` in branch `b` through /proc (for xattrs and
    /// directory walks).
    fn proc_path(&self, b: usize, rel: &Path) -> PathBuf {
        let mut p = PathBuf::from(format!("/proc/self/fd/{}", self.fd(b)));
        if !rel.as_os_str().is_empty() {
            p.push(rel);
        }
        p
    }

    fn lstat(&self, b: usize, rel: &Path) -> R<St> {
        let c = cstr(rel);
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: valid fd, C string and buffer.
        let r = unsafe {
            libc::fstatat(
                self.fd(b),
                c.as_ptr(),
                st.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        check(r)?;
        // SAFETY: fstatat filled it.
        Ok(St(unsafe { st.assume_init() }))
    }

    fn getxattr(&self, b: usize, rel: &Path, name: &str) -> Option<Vec<u8>> {
        let p = CString::new(self.proc_path(b, rel).as_os_str().as_bytes()).ok()?;
        let n = CString::new(name).ok()?;
        let mut buf = vec![0u8; 256];
        // SAFETY: valid strings and buffer.
        let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), 256) };
        let r = usize::try_from(r).ok()?;
        buf.truncate(r);
        Some(buf)
    }

    fn setxattr(&self, b: usize, rel: &Path, name: &str, value: &[u8]) -> R<()> {
        let p = CString::new(self.proc_path(b, rel).as_os_str().as_bytes())
            .map_err(|_| libc::EINVAL)?;
        let n = CString::new(name).map_err(|_| libc::EINVAL)?;
        // SAFETY: valid strings and buffer.
        check(unsafe {
            libc::lsetxattr(
                p.as_ptr(),
                n.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        })
    }

    fn is_opaque(&self, b: usize, rel: &Path) -> bool {
        OPAQUE_XATTRS
            .iter()
            .any(|x| self.getxattr(b, rel, x).is_some_and(|v| v == b"y"))
    }

    /// The branches where directory `rel` is visible (merged), top first.
    fn dir_chain(&self, rel: &Path) -> R<Vec<usize>> {
        let mut chain: Vec<usize> = (0..self.branches.len()).collect();
        let mut cur = PathBuf::new();
        for comp in rel.components() {
            cur.push(comp);
            let h = self.scan(&chain, &cur);
            let v = visible(&h);
            if v.is_empty() {
                return Err(libc::ENOENT);
            }
            if !v[0].1.is_dir() {
                return Err(libc::ENOTDIR);
            }
            chain = v.iter().map(|(b, _)| *b).collect();
        }
        Ok(chain)
    }

    /// Every branch of `chain` that holds `rel`, top first, down to a
    /// whiteout or an opaque directory.
    fn scan(&self, chain: &[usize], rel: &Path) -> Vec<(usize, St)> {
        let mut out = Vec::new();
        for &b in chain {
            let Ok(st) = self.lstat(b, rel) else { continue };
            if st.is_whiteout() {
                break;
            }
            out.push((b, st));
            if st.is_dir() && self.is_opaque(b, rel) {
                break;
            }
        }
        out
    }

    /// The whiteout that ends a scan of `rel`, if any: its branch.
    fn whiteout_at(&self, chain: &[usize], rel: &Path) -> Option<usize> {
        for &b in chain {
            let Ok(st) = self.lstat(b, rel) else { continue };
            if st.is_whiteout() {
                return Some(b);
            }
            if !st.is_dir() || self.is_opaque(b, rel) {
                return None;
            }
        }
        None
    }

    fn holders(&self, rel: &Path) -> R<Vec<(usize, St)>> {
        let chain = self.dir_chain(&parent_of(rel))?;
        Ok(self.scan(&chain, rel))
    }

    fn ino_of(&self, b: usize, rel: &Path, st: &St) -> u64 {
        if self.rw(b)
            && let Some(v) = self.getxattr(b, rel, INO_XATTR)
            && let Ok(a) = <[u8; 8]>::try_from(v.as_slice())
        {
            return u64::from_le_bytes(a);
        }
        compose_ino(b, st.0.st_ino)
    }

    fn attr(&self, b: usize, rel: &Path, st: &St) -> FileAttr {
        let s = &st.0;
        FileAttr {
            ino: INodeNo(if rel.as_os_str().is_empty() {
                1
            } else {
                self.ino_of(b, rel, st)
            }),
            size: u64::try_from(s.st_size).unwrap_or(0),
            blocks: u64::try_from(s.st_blocks).unwrap_or(0),
            atime: time(s.st_atime, s.st_atime_nsec),
            mtime: time(s.st_mtime, s.st_mtime_nsec),
            ctime: time(s.st_ctime, s.st_ctime_nsec),
            crtime: UNIX_EPOCH,
            kind: kind(s.st_mode),
            perm: u16::try_from(s.st_mode & 0o7777).unwrap_or(0),
            nlink: u32::try_from(s.st_nlink).unwrap_or(1),
            uid: s.st_uid,
            gid: s.st_gid,
            rdev: u32::try_from(s.st_rdev).unwrap_or(0),
            blksize: u32::try_from(s.st_blksize).unwrap_or(4096),
            flags: 0,
        }
    }

    /// The visible object of `rel`: its branch and stat.
    fn top(&self, rel: &Path) -> R<(usize, St)> {
        self.holders(rel)?.first().copied().ok_or(libc::ENOENT)
    }

    fn first_rw(&self) -> Option<usize> {
        (0..self.branches.len()).find(|&b| self.rw(b))
    }

    /// The nearest writable branch above branch `b`.
    fn rw_above(&self, b: usize) -> Option<usize> {
        (0..b).rev().find(|&i| self.rw(i))
    }

    /// Make directory `rel` and its ancestors exist in branch `b`, copying
    /// each one's metadata from the union.
    fn ensure_dir(&self, b: usize, rel: &Path) -> R<()> {
        let mut cur = PathBuf::new();
        for comp in rel.components() {
            cur.push(comp);
            match self.lstat(b, &cur) {
                Ok(st) if st.is_dir() => continue,
                Ok(_) => return Err(libc::EXDEV),
                Err(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
            let (from, st) = self.top(&cur)?;
            let c = cstr(&cur);
            // SAFETY: valid fd and C string.
            check(unsafe { libc::mkdirat(self.fd(b), c.as_ptr(), 0o700) })?;
            self.copy_meta(b, &cur, &st, from)?;
        }
        Ok(())
    }

    /// Owner, mode, times and xattrs of `rel` in branch `to` from `st`
    /// (the object of branch `from`).
    fn copy_meta(&self, to: usize, rel: &Path, st: &St, from: usize) -> R<()> {
        self.copy_meta_as(from, rel, st, to, rel, OWN_XATTR_PREFIX)
    }

    /// Owner, mode, xattrs (but those under the `skip` prefixes) and times of `dst` in branch
    /// `to` from `st`, the object `src` of branch `from`; a copy of a read-only branch's object
    /// keeps its origin's inode number.  The owner goes first: chown drops file capabilities.
    fn copy_meta_as(
        &self,
        from: usize,
        src: &Path,
        st: &St,
        to: usize,
        dst: &Path,
        skip: &[&str],
    ) -> R<()> {
        let c = cstr(dst);
        let fd = self.fd(to);
        let s = &st.0;
        // SAFETY: valid fd and C strings throughout.
        unsafe {
            check(libc::fchownat(
                fd,
                c.as_ptr(),
                s.st_uid,
                s.st_gid,
                libc::AT_SYMLINK_NOFOLLOW,
            ))?;
            if st.fmt() != libc::S_IFLNK {
                check(libc::fchmodat(fd, c.as_ptr(), s.st_mode & 0o7777, 0))?;
            }
        }
        if from != to || src != dst {
            let list = self.list_xattrs(from, src);
            for name in list.split(|c| *c == 0).filter(|n| !n.is_empty()) {
                let name = String::from_utf8_lossy(name);
                if skip.iter().any(|p| name.starts_with(p)) {
                    continue;
                }
                if let Some(v) = self.getxattr_any(from, src, &name) {
                    let _ = self.setxattr(to, dst, &name, &v);
                }
            }
        }
        if !self.rw(from) {
            let _ = self.setxattr(
                to,
                dst,
                INO_XATTR,
                &self.ino_of(from, src, st).to_le_bytes(),
            );
        }
        let times = [
            libc::timespec {
                tv_sec: s.st_atime,
                tv_nsec: s.st_atime_nsec,
            },
            libc::timespec {
                tv_sec: s.st_mtime,
                tv_nsec: s.st_mtime_nsec,
            },
        ];
        // SAFETY: valid fd, C string and two timespecs.
        check(unsafe { libc::utimensat(fd, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })
    }

    fn list_xattrs(&self, b: usize, rel: &Path) -> Vec<u8> {
        let Ok(p) = CString::new(self.proc_path(b, rel).as_os_str().as_bytes()) else {
            return Vec::new();
        };
        // SAFETY: valid string; a null buffer asks for the size.
        let n = unsafe { libc::llistxattr(p.as_ptr(), std::ptr::null_mut(), 0) };
        let Ok(n) = usize::try_from(n) else {
            return Vec::new();
        };
        let mut buf = vec![0u8; n];
        // SAFETY: valid string and buffer.
        let n = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), n) };
        buf.truncate(usize::try_from(n).unwrap_or(0));
        buf
    }

    fn getxattr_any(&self, b: usize, rel: &Path, name: &str) -> Option<Vec<u8>> {
        let p = CString::new(self.proc_path(b, rel).as_os_str().as_bytes()).ok()?;
        let n = CString::new(name).ok()?;
        // SAFETY: valid strings; null buffer asks for the size.
        let len = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), std::ptr::null_mut(), 0) };
        let len = usize::try_from(len).ok()?;
        let mut buf = vec![0u8; len];
        // SAFETY: valid strings and buffer.
        let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), len) };
        buf.truncate(usize::try_from(r).ok()?);
        Some(buf)
    }

    /// Copy the object `rel` of branch `from` (stat `st`) to branch `to`,
    /// whose parent directory exists.
    fn copy_up(&self, rel: &Path, from: usize, to: usize, st: &St) -> R<()> {
        let c = cstr(rel);
        let tfd = self.fd(to);
        match st.fmt() {
            libc::S_IFREG => {
                let name = rel.file_name().unwrap_or_default();
                let mut tmp_name = OsString::from(".unionmount-copyup.");
                tmp_name.push(name);
                let tmp = parent_of(rel).join(&tmp_name);
                let ct = cstr(&tmp);
                // SAFETY: valid fds and C strings.
                let src = unsafe {
                    libc::openat(self.fd(from), c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC)
                };
                check(src)?;
                // SAFETY: our descriptor.
                let src = unsafe { File::from_raw_fd(src) };
                // SAFETY: as above.
                unsafe { libc::unlinkat(tfd, ct.as_ptr(), 0) };
                // SAFETY: as above.
                let dst = unsafe {
                    libc::openat(
                        tfd,
                        ct.as_ptr(),
                        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                        0o600,
                    )
                };
                check(dst)?;
                // SAFETY: our descriptor.
                let mut dst = unsafe { File::from_raw_fd(dst) };
                let mut src = src;
                let res = std::io::copy(&mut src, &mut dst)
                    .map_err(|e| io_errno(&e))
                    .and_then(|_| self.copy_meta_as(from, rel, st, to, &tmp, OWN_XATTR_PREFIX));
                drop(dst);
                if let Err(e) = res {
                    // SAFETY: as above.
                    unsafe { libc::unlinkat(tfd, ct.as_ptr(), 0) };
                    return Err(e);
                }
                // SAFETY: as above.
                check(unsafe { libc::renameat(tfd, ct.as_ptr(), tfd, c.as_ptr()) })
            }
            libc::S_IFLNK => {
                let target = self.readlink(from, rel)?;
                let t = CString::new(target.as_bytes()).map_err(|_| libc::EINVAL)?;
                // SAFETY: valid fd and strings.
                check(unsafe { libc::symlinkat(t.as_ptr(), tfd, c.as_ptr()) })?;
                self.copy_meta(to, rel, st, from)
            }
            libc::S_IFDIR => {
                // SAFETY: valid fd and string.
                check(unsafe { libc::mkdirat(tfd, c.as_ptr(), 0o700) })?;
                self.copy_meta(to, rel, st, from)
            }
            _ => {
                // SAFETY: valid fd and string.
                check(unsafe { libc::mknodat(tfd, c.as_ptr(), st.0.st_mode, st.0.st_rdev) })?;
                self.copy_meta(to, rel, st, from)
            }
        }
    }

    fn readlink(&self, b: usize, rel: &Path) -> R<OsString> {
        let c = cstr(rel);
        let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
        // SAFETY: valid fd, string, buffer.
        let n =
            unsafe { libc::readlinkat(self.fd(b), c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        let n = usize::try_from(n).map_err(|_| errno())?;
        buf.truncate(n);
        Ok(OsString::from_vec(buf))
    }

    /// The branch where `rel` can be changed: its own when writable, else
    /// a copy in the nearest writable branch above.
    fn writable(&self, rel: &Path) -> R<usize> {
        let (b, st) = self.top(rel)?;
        if self.rw(b) {
            return Ok(b);
        }
        let to = self.rw_above(b).ok_or(libc::EROFS)?;
        self.ensure_dir(to, &parent_of(rel))?;
        self.copy_up(rel, b, to, &st)?;
        Ok(to)
    }

    /// Prepare the creation of the new name `rel` in the first writable
    /// branch; returns the branch and whether a whiteout was replaced.
    fn prepare_new(&self, rel: &Path) -> R<(usize, bool)> {
        let chain = self.dir_chain(&parent_of(rel))?;
        if !self.scan(&chain, rel).is_empty() {
            return Err(libc::EEXIST);
        }
        let b = self.first_rw().ok_or(libc::EROFS)?;
        self.prepare_new_in(b, &chain, rel)
    }

    fn prepare_new_in(&self, b: usize, chain: &[usize], rel: &Path) -> R<(usize, bool)> {
        let mut replaced = false;
        if let Some(w) = self.whiteout_at(chain, rel) {
            if w < b {
                return Err(libc::EROFS);
            }
            if w == b {
                let c = cstr(rel);
                // SAFETY: valid fd and string.
                check(unsafe { libc::unlinkat(self.fd(b), c.as_ptr(), 0) })?;
                replaced = true;
            }
        }
        self.ensure_dir(b, &parent_of(rel))?;
        Ok((b, replaced))
    }

    /// Give a new object the caller's ownership.
    fn own(&self, req: &Request, b: usize, rel: &Path) -> R<()> {
        let mut gid = req.gid();
        if let Ok(pst) = self.lstat(b, &parent_of(rel))
            && pst.0.st_mode & libc::S_ISGID != 0
        {
            gid = pst.0.st_gid;
        }
        let c = cstr(rel);
        // SAFETY: valid fd and string.
        check(unsafe {
            libc::fchownat(
                self.fd(b),
                c.as_ptr(),
                req.uid(),
                gid,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })
    }

    /// The object of `rel` in branch `b` goes: its number, and those of the
    /// nodes below `rel`, get a new generation.
    fn retire(&self, b: usize, rel: &Path, st: &St) {
        let ino = self.ino_of(b, rel, st);
        let mut s = self.lock();
        if st.is_dir() || st.0.st_nlink <= 1 {
            *s.gens.entry(ino).or_insert(0) += 1;
        }
        if st.is_dir() {
            let under: Vec<u64> = s
                .nodes
                .iter()
                .filter(|(_, n)| n.paths.iter().any(|p| p.starts_with(rel) && p != rel))
                .map(|(i, _)| *i)
                .collect();
            for i in under {
                *s.gens.entry(i).or_insert(0) += 1;
            }
        }
    }

    fn remove_tree(&self, b: usize, rel: &Path, st: &St) -> R<()> {
        self.retire(b, rel, st);
        let c = cstr(rel);
        if st.is_dir() {
            std::fs::remove_dir_all(self.proc_path(b, rel)).map_err(|e| io_errno(&e))
        } else {
            // SAFETY: valid fd and string.
            check(unsafe { libc::unlinkat(self.fd(b), c.as_ptr(), 0) })
        }
    }

    fn whiteout(&self, w: usize, rel: &Path) -> R<()> {
        self.ensure_dir(w, &parent_of(rel))?;
        let c = cstr(rel);
        // SAFETY: valid fd and string.
        check(unsafe { libc::mknodat(self.fd(w), c.as_ptr(), libc::S_IFCHR, 0) })
    }

    /// Take `rel` out of the union: removed from writable branches, a
    /// whiteout above any read-only branch that still holds it (also below
    /// an opaque directory, which goes too).
    fn unview(&self, rel: &Path) -> R<()> {
        let chain = self.dir_chain(&parent_of(rel))?;
        let mut holders = Vec::new();
        for &b in &chain {
            let Ok(st) = self.lstat(b, rel) else { continue };
            if st.is_whiteout() {
                break;
            }
            holders.push((b, st));
        }
        let ro_top = holders.iter().find(|(b, _)| !self.rw(*b)).map(|(b, _)| *b);
        let w = match ro_top {
            Some(t) => Some(self.rw_above(t).ok_or(libc::EROFS)?),
            None => None,
        };
        for (b, st) in &holders {
            if self.rw(*b) {
                self.remove_tree(*b, rel, st)?;
            }
        }
        if let Some(w) = w {
            self.whiteout(w, rel)?;
        }
        Ok(())
    }

    /// The merged entries of directory `rel`.
    fn list(&self, rel: &Path) -> R<Vec<(u64, FileType, OsString)>> {
        let h = self.holders(rel)?;
        let v = visible(&h);
        if v.is_empty() {
            return Err(libc::ENOENT);
        }
        if !v[0].1.is_dir() {
            return Err(libc::ENOTDIR);
        }
        let mut seen: HashSet<OsString> = HashSet::new();
        let mut out = Vec::new();
        for (b, _) in v {
            let rd = std::fs::read_dir(self.proc_path(b, rel)).map_err(|e| io_errno(&e))?;
            for e in rd.flatten() {
                let name = e.file_name();
                if seen.contains(&name) {
                    continue;
                }
                seen.insert(name.clone());
                let Ok(ft) = e.file_type() else { continue };
                use std::os::unix::fs::{DirEntryExt, FileTypeExt};
                if ft.is_char_device()
                    && self
                        .lstat(b, &rel.join(&name))
                        .is_ok_and(|s| s.is_whiteout())
                {
                    continue;
                }
                if name.as_bytes().starts_with(b".unionmount-copyup.") {
                    continue;
                }
                let k = if ft.is_dir() {
                    FileType::Directory
                } else if ft.is_symlink() {
                    FileType::Symlink
                } else if ft.is_file() {
                    FileType::RegularFile
                } else if ft.is_fifo() {
                    FileType::NamedPipe
                } else if ft.is_socket() {
                    FileType::Socket
                } else if ft.is_block_device() {
                    FileType::BlockDevice
                } else {
                    FileType::CharDevice
                };
                // The number stat gives: a copy-up's is its origin's.
                let mut ino = compose_ino(b, e.ino());
                if self.rw(b)
                    && let Some(v) = self.getxattr(b, &rel.join(&name), INO_XATTR)
                    && let Ok(a) = <[u8; 8]>::try_from(v.as_slice())
                {
                    ino = u64::from_le_bytes(a);
                }
                out.push((ino, k, name));
            }
        }
        Ok(out)
    }

    fn path_of(&self, ino: INodeNo) -> R<PathBuf> {
        self.lock()
            .nodes
            .get(&ino.0)
            .and_then(|n| n.paths.first().cloned())
            .ok_or(libc::ENOENT)
    }

    fn child(&self, parent: INodeNo, name: &OsStr) -> R<PathBuf> {
        // A name never leaves its directory (nor its branch).
        if name.as_bytes().contains(&b'/') || name == "." || name == ".." || name.is_empty() {
            return Err(libc::EINVAL);
        }
        Ok(self.path_of(parent)?.join(name))
    }

    /// Look `rel` up and count the kernel's reference.
    fn entry(&self, rel: &Path) -> R<(FileAttr, Generation)> {
        let (b, st) = self.top(rel)?;
        let attr = self.attr(b, rel, &st);
        let mut s = self.lock();
        let g = s.gens.get(&attr.ino.0).copied().unwrap_or(0);
        let n = s.nodes.entry(attr.ino.0).or_insert_with(|| Node {
            paths: Vec::new(),
            nlookup: 0,
            generation: g,
        });
        if n.generation != g {
            // The number's earlier object is gone: forget its names.
            n.generation = g;
            n.paths.clear();
        }
        if !n.paths.iter().any(|p| p == rel) {
            n.paths.insert(0, rel.to_path_buf());
        }
        n.nlookup += 1;
        Ok((attr, Generation(g)))
    }

    fn stat_attr(&self, rel: &Path) -> R<FileAttr> {
        let (b, st) = self.top(rel)?;
        Ok(self.attr(b, rel, &st))
    }

    /// Follow a rename in the node table.
    fn moved(&self, from: &Path, to: &Path) {
        let mut s = self.lock();
        for n in s.nodes.values_mut() {
            n.paths.retain(|p| !p.starts_with(to));
            for p in &mut n.paths {
                if let Ok(suffix) = p.strip_prefix(from) {
                    *p = if suffix.as_os_str().is_empty() {
                        to.to_path_buf()
                    } else {
                        to.join(suffix)
                    };
                }
            }
        }
    }

    fn forget_path(&self, rel: &Path) {
        let mut s = self.lock();
        for n in s.nodes.values_mut() {
            n.paths.retain(|p| !p.starts_with(rel));
        }
    }

    fn do_rename(&self, src: &Path, dst: &Path, flags: RenameFlags) -> R<()> {
        if flags.contains(RenameFlags::RENAME_EXCHANGE)
            || flags.contains(RenameFlags::RENAME_WHITEOUT)
        {
            return Err(libc::EINVAL);
        }
        let hs = self.holders(src)?;
        let vs = visible(&hs);
        let Some(&(top, sst)) = vs.first() else {
            return Err(libc::ENOENT);
        };
        if src == dst {
            return Ok(());
        }
        let hd = self.holders(dst)?;
        if let Some(&(_, dst_st)) = visible(&hd).first() {
            if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                return Err(libc::EEXIST);
            }
            if dst_st.is_dir() {
                if !sst.is_dir() {
                    return Err(libc::EISDIR);
                }
                if !self.list(dst)?.is_empty() {
                    return Err(libc::ENOTEMPTY);
                }
            } else if sst.is_dir() {
                return Err(libc::ENOTDIR);
            }
        }
        let dchain = self.dir_chain(&parent_of(dst))?;
        // Read-only branches with anything at dst, hidden or not: the new
        // dst must be above them, or hide them.
        let ro_dst: Vec<usize> = dchain
            .iter()
            .copied()
            .filter(|&b| !self.rw(b) && self.lstat(b, dst).is_ok())
            .collect();
        let ro_src = vs.iter().find(|(b, _)| !self.rw(*b)).map(|(b, _)| *b);
        let clear_dst = || -> R<()> {
            for &b in &dchain {
                if self.rw(b)
                    && let Ok(st) = self.lstat(b, dst)
                {
                    self.remove_tree(b, dst, &st)?;
                }
            }
            Ok(())
        };
        let rename_in = |b: usize| -> R<()> {
            self.ensure_dir(b, &parent_of(dst))?;
            let (cs, cd) = (cstr(src), cstr(dst));
            // SAFETY: valid fds and strings.
            check(unsafe { libc::renameat(self.fd(b), cs.as_ptr(), self.fd(b), cd.as_ptr()) })
        };
        if !sst.is_dir() {
            // A file: moved within its branch, or copied up first.
            let limit = ro_dst.first().copied().map_or(top, |r| r.min(top));
            let t = if self.rw(top) && limit == top {
                top
            } else {
                self.rw_above(limit).ok_or(libc::EROFS)?
            };
            clear_dst()?;
            if t != top {
                self.ensure_dir(t, &parent_of(src))?;
                self.copy_up(src, top, t, &sst)?;
            }
            rename_in(t)?;
        } else {
            let lowest = vs.last().map_or(top, |(b, _)| *b);
            if ro_src.is_none() && ro_dst.iter().all(|&r| r > lowest) {
                // A directory in writable branches only: each branch renames
                // its part, and the union merges them as before.
                clear_dst()?;
                for (b, _) in &vs {
                    rename_in(*b)?;
                }
                if !ro_dst.is_empty() {
                    self.setxattr(lowest, dst, OPAQUE_XATTRS[0], b"y")?;
                }
            } else {
                // A read-only branch holds part of it: the merged tree is
                // copied into a writable branch above, opaque.
                let above = ro_src
                    .into_iter()
                    .chain(ro_dst.iter().copied())
                    .min()
                    .unwrap_or(top);
                let t = self.rw_above(above).ok_or(libc::EXDEV)?;
                clear_dst()?;
                self.ensure_dir(t, &parent_of(dst))?;
                self.copy_tree(src, dst, t)?;
                let _ = self.setxattr(t, dst, OPAQUE_XATTRS[0], b"y");
            }
        }
        // Whatever still shows at the old name goes.
        self.unview(src)?;
        Ok(())
    }

    /// Copy the merged tree at `src` to `dst` in branch `t`.
    fn copy_tree(&self, src: &Path, dst: &Path, t: usize) -> R<()> {
        let (b, st) = self.top(src)?;
        if st.is_dir() {
            let c = cstr(dst);
            // SAFETY: valid fd and string.
            check(unsafe { libc::mkdirat(self.fd(t), c.as_ptr(), 0o700) })?;
            for (_, _, name) in self.list(src)? {
                self.copy_tree(&src.join(&name), &dst.join(&name), t)?;
            }
            self.copy_meta_as(b, src, &st, t, dst, HIDDEN_XATTR_PREFIXES)
        } else if b == t && st.fmt() == libc::S_IFREG {
            let (cs, cd) = (cstr(src), cstr(dst));
            // SAFETY: valid fds and strings: a hard link keeps the inode.
            check(unsafe { libc::linkat(self.fd(t), cs.as_ptr(), self.fd(t), cd.as_ptr(), 0) })
        } else {
            self.copy_obj(src, b, &st, dst, t)
        }
    }

    fn copy_obj(&self, src: &Path, from: usize, st: &St, dst: &Path, to: usize) -> R<()> {
        let cd = cstr(dst);
        let tfd = self.fd(to);
        match st.fmt() {
            libc::S_IFREG => {
                let cs = cstr(src);
                // SAFETY: valid fd and string.
                let s = unsafe {
                    libc::openat(self.fd(from), cs.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC)
                };
                check(s)?;
                // SAFETY: our descriptor.
                let mut s = unsafe { File::from_raw_fd(s) };
                // SAFETY: valid fd and string.
                let d = unsafe {
                    libc::openat(
                        tfd,
                        cd.as_ptr(),
                        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                        0o600,
                    )
                };
                check(d)?;
                // SAFETY: our descriptor.
                let mut d = unsafe { File::from_raw_fd(d) };
                std::io::copy(&mut s, &mut d).map_err(|e| io_errno(&e))?;
            }
            libc::S_IFLNK => {
                let target = self.readlink(from, src)?;
                let t = CString::new(target.as_bytes()).map_err(|_| libc::EINVAL)?;
                // SAFETY: valid fd and strings.
                check(unsafe { libc::symlinkat(t.as_ptr(), tfd, cd.as_ptr()) })?;
            }
            _ => {
                // SAFETY: valid fd and string.
                check(unsafe { libc::mknodat(tfd, cd.as_ptr(), st.0.st_mode, st.0.st_rdev) })?;
            }
        }
        self.copy_meta_as(from, src, st, to, dst, HIDDEN_XATTR_PREFIXES)
    }

    fn open_file(&self, rel: &Path, flags: i32) -> R<File> {
        let write = flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        let b = if write {
            self.writable(rel)?
        } else {
            self.top(rel)?.0
        };
        let keep = flags
            & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_APPEND | libc::O_NOFOLLOW);
        let c = cstr(rel);
        // SAFETY: valid fd and string.
        let fd = unsafe { libc::openat(self.fd(b), c.as_ptr(), keep | libc::O_CLOEXEC) };
        check(fd)?;
        // SAFETY: our descriptor.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    fn add_file(&self, f: File) -> u64 {
        let mut s = self.lock();
        let fh = s.next_fh;
        s.next_fh += 1;
        s.files.insert(fh, Arc::new(f));
        fh
    }

    fn file(&self, fh: FileHandle) -> R<Arc<File>> {
        self.lock().files.get(&fh.0).cloned().ok_or(libc::EBADF)
    }
}

/// The holders that show: the top one when it is not a directory, else
/// the directories down to the first non-directory.
fn visible(h: &[(usize, St)]) -> Vec<(usize, St)> {
    match h.first() {
        None => Vec::new(),
        Some(first) if !first.1.is_dir() => vec![*first],
        Some(_) => h.iter().take_while(|(_, s)| s.is_dir()).copied().collect(),
    }
}

use std::os::unix::ffi::OsStringExt;

fn reply_err(e: i32) -> Errno {
    Errno::from_i32(e)
}

impl Filesystem for UnionFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let _ = config.set_max_write(1 << 20);
        let _ = config.set_max_readahead(1 << 20);
        // The page cache is kept across opens, and dropped when a file's
        // size or time changes.
        for f in [
            fuser::InitFlags::FUSE_AUTO_INVAL_DATA,
            fuser::InitFlags::FUSE_PARALLEL_DIROPS,
        ] {
            let _ = config.add_capabilities(f);
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.child(parent, name).and_then(|rel| self.entry(&rel)) {
            Ok((a, g)) => reply.entry(&TTL, &a, g),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        if ino.0 == 1 {
            return;
        }
        let mut s = self.lock();
        if let Some(n) = s.nodes.get_mut(&ino.0) {
            n.nlookup = n.nlookup.saturating_sub(nlookup);
            if n.nlookup == 0 {
                s.nodes.remove(&ino.0);
            }
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let by_path = self.path_of(ino).and_then(|rel| self.stat_attr(&rel));
        let r = match (by_path, fh) {
            (Ok(mut a), Some(fh)) => {
                if let Ok(f) = self.file(fh)
                    && let Ok(m) = f.metadata()
                {
                    a.size = std::os::unix::fs::MetadataExt::size(&m);
                }
                Ok(a)
            }
            (Ok(a), None) => Ok(a),
            // An open file whose name is gone.
            (Err(e), Some(fh)) => self.file(fh).and_then(|f| {
                let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
                // SAFETY: valid descriptor and buffer.
                check(unsafe { libc::fstat(f.as_raw_fd(), st.as_mut_ptr()) }).map_err(|_| e)?;
                // SAFETY: filled by fstat.
                let st = St(unsafe { st.assume_init() });
                let mut a = self.attr(0, Path::new("x"), &st);
                a.ino = ino;
                Ok(a)
            }),
            (Err(e), None) => Err(e),
        };
        match r {
            Ok(mut a) => {
                if ino.0 == 1 {
                    a.ino = INodeNo(1);
                }
                reply.attr(&TTL, &a);
            }
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let r = (|| -> R<FileAttr> {
            let rel = self.path_of(ino)?;
            let b = self.writable(&rel)?;
            let c = cstr(&rel);
            let fd = self.fd(b);
            if uid.is_some() || gid.is_some() {
                let u = uid.unwrap_or(u32::MAX);
                let g = gid.unwrap_or(u32::MAX);
                // SAFETY: valid fd and string.
                check(unsafe { libc::fchownat(fd, c.as_ptr(), u, g, libc::AT_SYMLINK_NOFOLLOW) })?;
            }
            if let Some(m) = mode {
                // SAFETY: valid fd and string.
                check(unsafe { libc::fchmodat(fd, c.as_ptr(), m & 0o7777, 0) })?;
            }
            if let Some(sz) = size {
                let len = i64::try_from(sz).map_err(|_| libc::EFBIG)?;
                match fh.and_then(|h| self.file(h).ok()) {
                    Some(f) => f.set_len(sz).map_err(|e| io_errno(&e))?,
                    None => {
                        // SAFETY: valid fd and string.
                        let f = unsafe {
                            libc::openat(fd, c.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC)
                        };
                        check(f)?;
                        // SAFETY: our descriptor.
                        let f = unsafe { File::from_raw_fd(f) };
                        // SAFETY: valid descriptor.
                        check(unsafe { libc::ftruncate(f.as_raw_fd(), len) })?;
                    }
                }
            }
            if atime.is_some() || mtime.is_some() {
                let t = [timespec(atime), timespec(mtime)];
                // SAFETY: valid fd, string and timespecs.
                check(unsafe {
                    libc::utimensat(fd, c.as_ptr(), t.as_ptr(), libc::AT_SYMLINK_NOFOLLOW)
                })?;
            }
            self.stat_attr(&rel)
        })();
        match r {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let r = self.path_of(ino).and_then(|rel| {
            let (b, _) = self.top(&rel)?;
            self.readlink(b, &rel)
        });
        match r {
            Ok(t) => reply.data(t.as_bytes()),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let r = (|| -> R<(FileAttr, Generation)> {
            let rel = self.child(parent, name)?;
            let (b, _) = self.prepare_new(&rel)?;
            let c = cstr(&rel);
            // SAFETY: valid fd and string.
            check(unsafe {
                libc::mknodat(
                    self.fd(b),
                    c.as_ptr(),
                    mode & !umask,
                    libc::dev_t::from(rdev),
                )
            })?;
            self.own(req, b, &rel)?;
            self.entry(&rel)
        })();
        match r {
            Ok((a, g)) => reply.entry(&TTL, &a, g),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let r = (|| -> R<(FileAttr, Generation)> {
            let rel = self.child(parent, name)?;
            let (b, replaced) = self.prepare_new(&rel)?;
            let c = cstr(&rel);
            // SAFETY: valid fd and string.
            check(unsafe { libc::mkdirat(self.fd(b), c.as_ptr(), (mode & !umask) & 0o7777) })?;
            if replaced {
                self.setxattr(b, &rel, OPAQUE_XATTRS[0], b"y")?;
            }
            self.own(req, b, &rel)?;
            self.entry(&rel)
        })();
        match r {
            Ok((a, g)) => reply.entry(&TTL, &a, g),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let r = (|| -> R<()> {
            let rel = self.child(parent, name)?;
            let h = self.holders(&rel)?;
            let v = visible(&h);
            let Some((_, st)) = v.first() else {
                return Err(libc::ENOENT);
            };
            if st.is_dir() {
                return Err(libc::EISDIR);
            }
            self.unview(&rel)?;
            self.forget_path(&rel);
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let r = (|| -> R<()> {
            let rel = self.child(parent, name)?;
            let h = self.holders(&rel)?;
            let v = visible(&h);
            let Some((_, st)) = v.first() else {
                return Err(libc::ENOENT);
            };
            if !st.is_dir() {
                return Err(libc::ENOTDIR);
            }
            if !self.list(&rel)?.is_empty() {
                return Err(libc::ENOTEMPTY);
            }
            self.unview(&rel)?;
            self.forget_path(&rel);
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let r = (|| -> R<(FileAttr, Generation)> {
            let rel = self.child(parent, link_name)?;
            let (b, _) = self.prepare_new(&rel)?;
            let c = cstr(&rel);
            let t = CString::new(target.as_os_str().as_bytes()).map_err(|_| libc::EINVAL)?;
            // SAFETY: valid fd and strings.
            check(unsafe { libc::symlinkat(t.as_ptr(), self.fd(b), c.as_ptr()) })?;
            self.own(req, b, &rel)?;
            self.entry(&rel)
        })();
        match r {
            Ok((a, g)) => reply.entry(&TTL, &a, g),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let r = (|| -> R<()> {
            let src = self.child(parent, name)?;
            let dst = self.child(newparent, newname)?;
            self.do_rename(&src, &dst, flags)?;
            self.moved(&src, &dst);
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let r = (|| -> R<(FileAttr, Generation)> {
            let src = self.path_of(ino)?;
            let dst = self.child(newparent, newname)?;
            let chain = self.dir_chain(&parent_of(&dst))?;
            if !self.scan(&chain, &dst).is_empty() {
                return Err(libc::EEXIST);
            }
            let b = self.writable(&src)?;
            self.prepare_new_in(b, &chain, &dst)?;
            let (cs, cd) = (cstr(&src), cstr(&dst));
            // SAFETY: valid fds and strings.
            check(unsafe { libc::linkat(self.fd(b), cs.as_ptr(), self.fd(b), cd.as_ptr(), 0) })?;
            self.entry(&dst)
        })();
        match r {
            Ok((a, g)) => reply.entry(&TTL, &a, g),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self
            .path_of(ino)
            .and_then(|rel| self.open_file(&rel, flags.0))
        {
            Ok(f) => reply.opened(FileHandle(self.add_file(f)), FopenFlags::FOPEN_KEEP_CACHE),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let r = self.file(fh).and_then(|f| {
            let mut buf = vec![0u8; size as usize];
            let mut got = 0;
            while got < buf.len() {
                match f.read_at(&mut buf[got..], offset + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io_errno(&e)),
                }
            }
            buf.truncate(got);
            Ok(buf)
        });
        match r {
            Ok(b) => reply.data(&b),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let r = self.file(fh).and_then(|f| {
            f.write_all_at(data, offset).map_err(|e| io_errno(&e))?;
            Ok(u32::try_from(data.len()).unwrap_or(u32::MAX))
        });
        match r {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.lock().files.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let r = self.file(fh).and_then(|f| {
            if datasync {
                f.sync_data()
            } else {
                f.sync_all()
            }
            .map_err(|e| io_errno(&e))
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let r = self.path_of(ino).and_then(|rel| {
            let (_, st) = self.top(&rel)?;
            if !st.is_dir() {
                return Err(libc::ENOTDIR);
            }
            let mut s = self.lock();
            let fh = s.next_fh;
            s.next_fh += 1;
            s.dirs.insert(
                fh,
                Arc::new(DirList {
                    path: rel,
                    entries: std::sync::OnceLock::new(),
                }),
            );
            Ok(fh)
        });
        match r {
            // The kernel keeps the listing until the directory changes.
            Ok(fh) => reply.opened(
                FileHandle(fh),
                FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE,
            ),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let Some(d) = self.lock().dirs.get(&fh.0).cloned() else {
            reply.error(Errno::EBADF);
            return;
        };
        if d.entries.get().is_none() {
            let mut entries = vec![
                (1, FileType::Directory, OsString::from(".")),
                (1, FileType::Directory, OsString::from("..")),
            ];
            match self.list(&d.path) {
                Ok(l) => entries.extend(l),
                Err(e) => {
                    reply.error(reply_err(e));
                    return;
                }
            }
            let _ = d.entries.set(entries);
        }
        let entries = d.entries.get().map_or(&[][..], Vec::as_slice);
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, (ino, k, name)) in entries.iter().enumerate().skip(start) {
            if reply.add(INodeNo(*ino), i as u64 + 1, *k, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.lock().dirs.remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let b = self.first_rw().unwrap_or(0);
        let mut s = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: valid fd and buffer.
        if unsafe { libc::fstatvfs(self.fd(b), s.as_mut_ptr()) } < 0 {
            reply.error(reply_err(errno()));
            return;
        }
        // SAFETY: filled by fstatvfs.
        let s = unsafe { s.assume_init() };
        reply.statfs(
            s.f_blocks,
            s.f_bfree,
            s.f_bavail,
            s.f_files,
            s.f_ffree,
            u32::try_from(s.f_bsize).unwrap_or(4096),
            u32::try_from(s.f_namemax).unwrap_or(255),
            u32::try_from(s.f_frsize).unwrap_or(4096),
        );
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let r = (|| -> R<()> {
            let n = name.to_string_lossy();
            if HIDDEN_XATTR_PREFIXES.iter().any(|p| n.starts_with(p)) {
                return Err(libc::EPERM);
            }
            let rel = self.path_of(ino)?;
            let b = self.writable(&rel)?;
            let p = CString::new(self.proc_path(b, &rel).as_os_str().as_bytes())
                .map_err(|_| libc::EINVAL)?;
            let cn = CString::new(name.as_bytes()).map_err(|_| libc::EINVAL)?;
            // SAFETY: valid strings and buffer.
            check(unsafe {
                libc::lsetxattr(
                    p.as_ptr(),
                    cn.as_ptr(),
                    value.as_ptr().cast(),
                    value.len(),
                    flags,
                )
            })
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let r = (|| -> R<Vec<u8>> {
            let n = name.to_string_lossy();
            if HIDDEN_XATTR_PREFIXES.iter().any(|p| n.starts_with(p)) {
                return Err(libc::ENODATA);
            }
            let rel = self.path_of(ino)?;
            let (b, _) = self.top(&rel)?;
            self.getxattr_any(b, &rel, &n).ok_or_else(errno)
        })();
        match r {
            Ok(v) if size == 0 => reply.size(u32::try_from(v.len()).unwrap_or(u32::MAX)),
            Ok(v) if v.len() > size as usize => reply.error(Errno::from_i32(libc::ERANGE)),
            Ok(v) => reply.data(&v),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let r = self.path_of(ino).and_then(|rel| {
            let (b, _) = self.top(&rel)?;
            let mut out = Vec::new();
            for n in self
                .list_xattrs(b, &rel)
                .split(|c| *c == 0)
                .filter(|n| !n.is_empty())
            {
                let s = String::from_utf8_lossy(n);
                if HIDDEN_XATTR_PREFIXES.iter().any(|p| s.starts_with(p)) {
                    continue;
                }
                out.extend_from_slice(n);
                out.push(0);
            }
            Ok(out)
        });
        match r {
            Ok(v) if size == 0 => reply.size(u32::try_from(v.len()).unwrap_or(u32::MAX)),
            Ok(v) if v.len() > size as usize => reply.error(Errno::from_i32(libc::ERANGE)),
            Ok(v) => reply.data(&v),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let r = (|| -> R<()> {
            let n = name.to_string_lossy();
            if HIDDEN_XATTR_PREFIXES.iter().any(|p| n.starts_with(p)) {
                return Err(libc::ENODATA);
            }
            let rel = self.path_of(ino)?;
            let b = self.writable(&rel)?;
            let p = CString::new(self.proc_path(b, &rel).as_os_str().as_bytes())
                .map_err(|_| libc::EINVAL)?;
            let cn = CString::new(name.as_bytes()).map_err(|_| libc::EINVAL)?;
            // SAFETY: valid strings.
            check(unsafe { libc::lremovexattr(p.as_ptr(), cn.as_ptr()) })
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        match self.path_of(ino).and_then(|rel| self.top(&rel)) {
            Ok(_) => reply.ok(),
            Err(e) => reply.error(reply_err(e)),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let r = (|| -> R<((FileAttr, Generation), u64)> {
            let rel = self.child(parent, name)?;
            let (b, _) = self.prepare_new(&rel)?;
            let c = cstr(&rel);
            let keep = flags & !(libc::O_NOCTTY | libc::O_APPEND | libc::O_NOFOLLOW);
            // SAFETY: valid fd and string.
            let fd = unsafe {
                libc::openat(
                    self.fd(b),
                    c.as_ptr(),
                    keep | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                    (mode & !umask) & 0o7777,
                )
            };
            check(fd)?;
            // SAFETY: our descriptor.
            let f = unsafe { File::from_raw_fd(fd) };
            self.own(req, b, &rel)?;
            let a = self.entry(&rel)?;
            Ok((a, self.add_file(f)))
        })();
        match r {
            Ok(((a, g), fh)) => {
                reply.created(&TTL, &a, g, FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE)
            }
            Err(e) => reply.error(reply_err(e)),
        }
    }
}
