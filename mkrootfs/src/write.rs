//! Writing a plan: into a directory (incremental), as a tar stream, or as a
//! cpio newc archive (initramfs).

use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};

use crate::plan::{Entry, Kind, Plan};

/// How regular files from the host get into a directory root.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum CopyMode {
    /// A copy with `copy_file_range` (the kernel copies, and may share
    /// extents where the file system can), read and write where it cannot.
    #[default]
    Copy,
    /// A hard link to the host file where both are on one file system and
    /// the file's owner, mode and time are the ones the root wants;
    /// otherwise a copy.
    Link,
    /// A clone (`FICLONE`, shared extents) where the file system can;
    /// otherwise a copy.
    Reflink,
}

/// What a directory write did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Regular files copied or written.
    pub copied: usize,
    /// Regular files hard-linked to their source (`--link`).
    pub linked: usize,
    /// Regular files cloned from their source (`--reflink`).
    pub cloned: usize,
    /// Regular files already up to date.
    pub unchanged: usize,
    /// Other entries created.
    pub made: usize,
}

/// Set a path's access and modification times, not following a link.
///
/// # Errors
/// When the call fails.
pub fn set_times(path: &Path, mtime: (i64, i64)) -> anyhow::Result<()> {
    let ts = nix::sys::time::TimeSpec::new(mtime.0, mtime.1);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &ts,
        &ts,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .with_context(|| format!("{}: cannot set times", path.display()))
}

fn chown(path: &Path, e: &Entry, root: bool) {
    if root {
        let _ = std::os::unix::fs::lchown(path, Some(e.uid), Some(e.gid));
    }
}

/// Write `plan` under `dir` with plain copies; see [`to_dir_with`].
///
/// # Errors
/// As [`to_dir_with`].
pub fn to_dir(plan: &Plan, dir: &Path) -> anyhow::Result<Stats> {
    to_dir_with(plan, dir, CopyMode::Copy)
}

/// Write `plan` under `dir`, host files placed as `how` says. Files whose
/// size and mtime already match are not copied again.
///
/// # Errors
/// I/O errors, or an existing path of another kind in the way.
pub fn to_dir_with(plan: &Plan, dir: &Path, how: CopyMode) -> anyhow::Result<Stats> {
    let root = nix::unistd::geteuid().is_root();
    let mut st = Stats::default();
    fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    for (rel, e) in &plan.entries {
        let dest = dir.join(rel);
        let old = fs::symlink_metadata(&dest).ok();
        let ctx = || format!("{}", dest.display());
        match &e.kind {
            Kind::Dir => {
                match &old {
                    Some(m) if m.is_dir() => {}
                    Some(_) => bail!("{}: exists and is not a directory", dest.display()),
                    None => {
                        fs::create_dir(&dest).with_context(ctx)?;
                        st.made += 1;
                        chown(&dest, e, root);
                    }
                }
                fs::set_permissions(&dest, fs::Permissions::from_mode(e.mode)).with_context(ctx)?;
            }
            Kind::Symlink(t) => {
                if let Some(m) = &old {
                    if m.file_type().is_symlink()
                        && fs::read_link(&dest).ok().as_deref() == Some(t.as_path())
                    {
                        continue;
                    }
                    if m.is_dir() {
                        bail!(
                            "{}: exists and is a directory, not a link to {}",
                            dest.display(),
                            t.display()
                        );
                    }
                    fs::remove_file(&dest).with_context(ctx)?;
                }
                std::os::unix::fs::symlink(t, &dest).with_context(ctx)?;
                chown(&dest, e, root);
                st.made += 1;
            }
            Kind::File(src) => {
                if let Some(m) = &old {
                    if m.is_file() && m.len() == e.size && (m.mtime(), m.mtime_nsec()) == e.mtime {
                        if m.mode() & 0o7777 != e.mode {
                            fs::set_permissions(&dest, fs::Permissions::from_mode(e.mode))
                                .with_context(ctx)?;
                        }
                        st.unchanged += 1;
                        continue;
                    }
                    if m.is_dir() {
                        bail!("{}: exists and is a directory", dest.display());
                    }
                }
                let tmp = tmp_name(&dest);
                let _ = fs::remove_file(&tmp);
                if how == CopyMode::Link && link_same(src, e, &tmp) {
                    fs::rename(&tmp, &dest).with_context(ctx)?;
                    st.linked += 1;
                    continue;
                }
                let cloned = copy_file(src, &tmp, e.size, how == CopyMode::Reflink)
                    .inspect_err(|_| {
                        let _ = fs::remove_file(&tmp);
                    })
                    .with_context(|| {
                        format!("{}: cannot copy to {}", src.display(), dest.display())
                    })?;
                chown(&tmp, e, root);
                fs::set_permissions(&tmp, fs::Permissions::from_mode(e.mode)).with_context(ctx)?;
                set_times(&tmp, e.mtime)?;
                fs::rename(&tmp, &dest).with_context(ctx)?;
                if cloned {
                    st.cloned += 1;
                } else {
                    st.copied += 1;
                }
            }
            Kind::Data(d) => {
                if let Some(m) = &old
                    && m.is_file()
                    && fs::read(&dest).ok().as_deref() == Some(d.as_slice())
                {
                    st.unchanged += 1;
                    continue;
                }
                let tmp = tmp_name(&dest);
                fs::write(&tmp, d).with_context(ctx)?;
                fs::set_permissions(&tmp, fs::Permissions::from_mode(e.mode)).with_context(ctx)?;
                fs::rename(&tmp, &dest).with_context(ctx)?;
                st.copied += 1;
            }
            Kind::Char(ma, mi) | Kind::Block(ma, mi) => {
                let (sflag, want) = if matches!(e.kind, Kind::Char(..)) {
                    (nix::sys::stat::SFlag::S_IFCHR, libc::S_IFCHR)
                } else {
                    (nix::sys::stat::SFlag::S_IFBLK, libc::S_IFBLK)
                };
                let rdev = libc::makedev(*ma, *mi);
                if let Some(m) = &old {
                    if m.mode() & libc::S_IFMT == want && m.rdev() == rdev {
                        continue;
                    }
                    fs::remove_file(&dest).with_context(ctx)?;
                }
                nix::sys::stat::mknod(
                    &dest,
                    sflag,
                    nix::sys::stat::Mode::from_bits_truncate(e.mode),
                    rdev,
                )
                .map_err(|er| {
                    anyhow::anyhow!(
                        "{}: cannot create device node: {}{}",
                        dest.display(),
                        ctcore::errno_text(er),
                        if er == nix::errno::Errno::EPERM {
                            " (needs root or CAP_MKNOD)"
                        } else {
                            ""
                        }
                    )
                })?;
                fs::set_permissions(&dest, fs::Permissions::from_mode(e.mode)).with_context(ctx)?;
                st.made += 1;
            }
            Kind::Fifo => {
                if old.is_none() {
                    nix::unistd::mkfifo(&dest, nix::sys::stat::Mode::from_bits_truncate(e.mode))
                        .with_context(ctx)?;
                    st.made += 1;
                }
            }
        }
    }
    Ok(st)
}

/// `--link`: hard-link `src` at `tmp` when the host file is still what the
/// plan says (size, time, mode, owner: a link shares them, and nothing may
/// be changed on the host's file). False when it is not, or the link fails
/// (another file system, `fs.protected_hardlinks`, too many links): the
/// caller copies then.
fn link_same(src: &Path, e: &Entry, tmp: &Path) -> bool {
    let Ok(m) = fs::symlink_metadata(src) else {
        return false;
    };
    let root = nix::unistd::geteuid().is_root();
    m.is_file()
        && m.len() == e.size
        && (m.mtime(), m.mtime_nsec()) == e.mtime
        && m.mode() & 0o7777 == e.mode
        && (!root || (m.uid(), m.gid()) == (e.uid, e.gid))
        && fs::hard_link(src, tmp).is_ok()
}

/// Copy `size` bytes of `src` into a new file `tmp`: a clone first when
/// `reflink` (true is returned when it worked), else `copy_file_range`,
/// and read/write where the kernel cannot copy between these files.
fn copy_file(src: &Path, tmp: &Path, size: u64, reflink: bool) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let from = fs::File::open(src)?;
    let to = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(tmp)?;
    if reflink {
        // SAFETY: FICLONE takes the source descriptor as its argument; both
        // descriptors are open for the duration of the call.
        let r = unsafe { libc::ioctl(to.as_raw_fd(), libc::FICLONE, from.as_raw_fd()) };
        if r == 0 {
            if from.metadata()?.len() != size {
                return Err(io::Error::other("file changed size while copying"));
            }
            return Ok(true);
        }
        // EOPNOTSUPP, EXDEV, EINVAL, ENOTTY...: no clone here, copy.
    }
    let mut left = size;
    while left > 0 {
        let chunk = usize::try_from(left.min(1 << 30)).unwrap_or(1 << 30);
        // SAFETY: valid descriptors; null offsets use and advance the files'
        // own positions.
        let n = unsafe {
            libc::copy_file_range(
                from.as_raw_fd(),
                std::ptr::null_mut(),
                to.as_raw_fd(),
                std::ptr::null_mut(),
                chunk,
                0,
            )
        };
        if n < 0 {
            let er = io::Error::last_os_error();
            match er.raw_os_error() {
                Some(
                    libc::EXDEV | libc::EINVAL | libc::EOPNOTSUPP | libc::ENOSYS | libc::EPERM,
                ) => break,
                Some(libc::EINTR) => continue,
                _ => return Err(er),
            }
        }
        if n == 0 {
            return Err(io::Error::other("file changed size while copying"));
        }
        left -= n as u64;
    }
    if left > 0 {
        // The positions are where copy_file_range left them.
        let mut w = io::BufWriter::with_capacity(1 << 16, &to);
        let n = io::copy(&mut (&from).take(left), &mut w)?;
        w.flush()?;
        if n != left {
            return Err(io::Error::other("file changed size while copying"));
        }
    }
    Ok(false)
}

fn tmp_name(dest: &Path) -> std::path::PathBuf {
    let mut n = std::ffi::OsString::from(".mkrootfs.");
    n.push(dest.file_name().unwrap_or_default());
    dest.with_file_name(n)
}

/// Archive formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// POSIX tar (ustar, with pax headers for long names).
    Tar,
    /// cpio "newc" (SVR4 without CRC), as the kernel's initramfs reads.
    Cpio,
}

fn type_bits(k: &Kind) -> u32 {
    match k {
        Kind::Dir => libc::S_IFDIR,
        Kind::File(_) | Kind::Data(_) => libc::S_IFREG,
        Kind::Symlink(_) => libc::S_IFLNK,
        Kind::Char(..) => libc::S_IFCHR,
        Kind::Block(..) => libc::S_IFBLK,
        Kind::Fifo => libc::S_IFIFO,
    }
}

fn copy_exact(src: &Path, size: u64, w: &mut dyn Write) -> anyhow::Result<()> {
    let f = fs::File::open(src).with_context(|| format!("{}: cannot open", src.display()))?;
    let n = io::copy(&mut f.take(size), w)?;
    if n != size {
        bail!("{}: file changed size while archiving", src.display());
    }
    Ok(())
}

/// Write `plan` as a cpio newc archive.
///
/// # Errors
/// I/O errors.
pub fn cpio(plan: &Plan, w: &mut dyn Write) -> anyhow::Result<()> {
    let mut ino = 1u32;
    let mut hdr = |w: &mut dyn Write,
                   name: &[u8],
                   mode: u32,
                   e: Option<&Entry>,
                   size: u64,
                   rdev: (u32, u32)| {
        let (uid, gid, mtime) = e.map_or((0, 0, 0), |e| (e.uid, e.gid, e.mtime.0));
        let nlink = if mode & libc::S_IFMT == libc::S_IFDIR {
            2
        } else {
            1
        };
        let h = format!(
            "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
            ino,
            mode,
            uid,
            gid,
            nlink,
            u32::try_from(mtime.max(0)).unwrap_or(u32::MAX),
            u32::try_from(size).unwrap_or(u32::MAX),
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() + 1,
            0
        );
        ino += 1;
        w.write_all(h.as_bytes())?;
        w.write_all(name)?;
        w.write_all(b"\0")?;
        let pad = (4 - (110 + name.len() + 1) % 4) % 4;
        w.write_all(&[0u8; 4][..pad])?;
        anyhow::Ok(())
    };
    for (rel, e) in &plan.entries {
        let name = rel.as_os_str().as_bytes();
        let mode = type_bits(&e.kind) | e.mode;
        let (size, rdev) = match &e.kind {
            Kind::File(_) | Kind::Data(_) => (e.size, (0, 0)),
            Kind::Symlink(t) => (t.as_os_str().len() as u64, (0, 0)),
            Kind::Char(a, b) | Kind::Block(a, b) => (0, (*a, *b)),
            _ => (0, (0, 0)),
        };
        if size > u64::from(u32::MAX) {
            bail!("/{}: too large for cpio newc", rel.display());
        }
        hdr(w, name, mode, Some(e), size, rdev)?;
        match &e.kind {
            Kind::File(src) => copy_exact(src, size, w)?,
            Kind::Data(d) => w.write_all(d)?,
            Kind::Symlink(t) => w.write_all(t.as_os_str().as_bytes())?,
            _ => {}
        }
        let pad = usize::try_from((4 - size % 4) % 4).unwrap_or(0);
        w.write_all(&[0u8; 4][..pad])?;
    }
    hdr(w, b"TRAILER!!!", 0, None, 0, (0, 0))?;
    w.flush()?;
    Ok(())
}

fn pax_record(key: &str, val: &[u8]) -> Vec<u8> {
    let body = 1 + key.len() + 1 + val.len() + 1;
    let mut n = body + 1;
    while n != body + n.to_string().len() {
        n = body + n.to_string().len();
    }
    let mut v = format!("{n} {key}=").into_bytes();
    v.extend_from_slice(val);
    v.push(b'\n');
    v
}

/// Copy at most 100 bytes of `v` into a header field (for names that go in
/// full into a pax record).
fn truncated(field: &mut [u8; 100], v: &[u8]) {
    let n = v.len().min(100);
    field.fill(0);
    field[..n].copy_from_slice(&v[..n]);
}

/// A reader of exactly `left` bytes, an error when the file is shorter.
struct Exact<R: Read> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let max = usize::try_from(self.left.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::other("file changed size while archiving"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Write `plan` as a POSIX tar stream (ustar headers, pax records for
/// names and link targets that do not fit), with the `tar` crate.
///
/// # Errors
/// I/O errors.
pub fn tar(plan: &Plan, w: &mut dyn Write) -> anyhow::Result<()> {
    let mut b = ::tar::Builder::new(w);
    for (rel, e) in &plan.entries {
        let name = rel.as_os_str().as_bytes();
        let (typ, size) = match &e.kind {
            Kind::Dir => (::tar::EntryType::Directory, 0),
            Kind::File(_) | Kind::Data(_) => (::tar::EntryType::Regular, e.size),
            Kind::Symlink(_) => (::tar::EntryType::Symlink, 0),
            Kind::Char(..) => (::tar::EntryType::Char, 0),
            Kind::Block(..) => (::tar::EntryType::Block, 0),
            Kind::Fifo => (::tar::EntryType::Fifo, 0),
        };
        let mut h = ::tar::Header::new_ustar();
        h.set_entry_type(typ);
        h.set_mode(e.mode);
        h.set_uid(u64::from(e.uid));
        h.set_gid(u64::from(e.gid));
        h.set_mtime(u64::try_from(e.mtime.0).unwrap_or(0));
        h.set_size(size);
        if let Kind::Char(ma, mi) | Kind::Block(ma, mi) = &e.kind {
            h.set_device_major(*ma)?;
            h.set_device_minor(*mi)?;
        }
        let mut pax = Vec::new();
        if h.set_path(rel).is_err() {
            let mut full = name.to_vec();
            if matches!(e.kind, Kind::Dir) {
                full.push(b'/');
            }
            pax.extend(pax_record("path", &full));
            truncated(&mut h.as_old_mut().name, &full);
        } else if matches!(e.kind, Kind::Dir) {
            // "dir/", as tar writes directories
            let f = &mut h.as_old_mut().name;
            if let Some(end) = f.iter().position(|&c| c == 0) {
                f[end] = b'/';
            }
        }
        if let Kind::Symlink(t) = &e.kind
            && h.set_link_name(t).is_err()
        {
            let t = t.as_os_str().as_bytes();
            pax.extend(pax_record("linkpath", t));
            truncated(&mut h.as_old_mut().linkname, t);
        }
        if !pax.is_empty() {
            let mut ph = ::tar::Header::new_ustar();
            ph.set_entry_type(::tar::EntryType::XHeader);
            ph.set_mode(0o644);
            ph.set_mtime(u64::try_from(e.mtime.0).unwrap_or(0));
            ph.set_size(pax.len() as u64);
            let mut pn = b"PaxHeaders/".to_vec();
            pn.extend_from_slice(&name[name.len().saturating_sub(80)..]);
            truncated(&mut ph.as_old_mut().name, &pn);
            ph.set_cksum();
            b.append(&ph, pax.as_slice())?;
        }
        h.set_cksum();
        match &e.kind {
            Kind::File(src) => {
                let f = fs::File::open(src)
                    .with_context(|| format!("{}: cannot open", src.display()))?;
                b.append(
                    &h,
                    Exact {
                        inner: f,
                        left: size,
                    },
                )
                .with_context(|| src.display().to_string())?;
            }
            Kind::Data(d) => b.append(&h, d.as_slice())?,
            _ => b.append(&h, io::empty())?,
        }
    }
    b.into_inner()?.flush()?;
    Ok(())
}

/// A C string of a path, for libc calls.
#[must_use]
pub fn cpath(p: &Path) -> Option<CString> {
    CString::new(p.as_os_str().as_bytes()).ok()
}
