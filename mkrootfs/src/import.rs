//! `--import LAYER`: unpack an image layer (docker export or OCI layer:
//! tar, gzip or zstd) into a directory usable as an overlayfs layer.
//!
//! The archive is read with the `tar` crate (ustar, pax headers, GNU long
//! names, GNU sparse files; pax's sparse format is refused), gzip with
//! `flate2` and zstd with `ruzstd`; what is ours is on top: `.wh.NAME`
//! becomes a whiteout (a 0:0 character device named NAME), `.wh..wh..opq`
//! marks its directory opaque
//! (`trusted.overlay.opaque=y`), and every entry is checked before it is
//! written. A leading `/` is stripped from names, as GNU tar and podman
//! strip it; `..`, writes through a symbolic link, hard links to anything
//! outside the layer (or DIR), relative links climbing out of the root and
//! device nodes without the right to make them are refused.
//!
//! A failure leaves DIR as it was: an empty or missing DIR is unpacked in
//! one pass and emptied (or removed) again on error; into a DIR that has
//! content (a layer applied over another), the whole archive is checked in
//! a first pass and written in a second.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};

/// The compression of a layer, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar archive.
    None,
    /// gzip (RFC 1952), one member or several.
    Gzip,
    /// Zstandard frames (and skippable frames, as zstd:chunked writes).
    Zstd,
}

/// Tell the compression from the magic bytes.
///
/// # Errors
/// Formats that are no layer format (xz, bzip2).
pub fn sniff(head: &[u8]) -> anyhow::Result<Compression> {
    Ok(match head {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        [0x50..=0x5f, 0x2a, 0x4d, 0x18, ..] => Compression::Zstd,
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => {
            bail!("xz-compressed: layers are tar, gzip or zstd (unpack it with xz -d first)")
        }
        [b'B', b'Z', b'h', ..] => {
            bail!("bzip2-compressed: layers are tar, gzip or zstd (unpack it with bzip2 -d first)")
        }
        _ => Compression::None,
    })
}

/// Read every Zstandard frame of a stream, skipping skippable frames, and
/// check each frame's checksum when it has one.
pub struct ZstdReader<R: BufRead> {
    src: R,
    dec: ruzstd::decoding::FrameDecoder,
    in_frame: bool,
}

impl<R: BufRead> ZstdReader<R> {
    /// A reader of the frames in `src`.
    pub fn new(src: R) -> Self {
        ZstdReader {
            src,
            dec: ruzstd::decoding::FrameDecoder::new(),
            in_frame: false,
        }
    }
}

impl<R: BufRead> Read for ZstdReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_frame {
                if self.dec.can_collect() > 0 {
                    return self.dec.read(buf);
                }
                if self.dec.is_finished() {
                    if let (Some(want), Some(got)) = (
                        self.dec.get_checksum_from_data(),
                        self.dec.get_calculated_checksum(),
                    ) && want != got
                    {
                        return Err(io::Error::other("zstd frame checksum mismatch"));
                    }
                    self.in_frame = false;
                    continue;
                }
                self.dec
                    .decode_blocks(
                        &mut self.src,
                        ruzstd::decoding::BlockDecodingStrategy::UptoBlocks(1),
                    )
                    .map_err(|e| io::Error::other(format!("zstd: {e}")))?;
                continue;
            }
            if self.src.fill_buf()?.is_empty() {
                return Ok(0);
            }
            match self.dec.init(&mut self.src) {
                Ok(()) => self.in_frame = true,
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    let n = io::copy(
                        &mut (&mut self.src).take(u64::from(length)),
                        &mut io::sink(),
                    )?;
                    if n != u64::from(length) {
                        return Err(io::Error::other("zstd: truncated skippable frame"));
                    }
                }
                Err(e) => return Err(io::Error::other(format!("zstd: {e}"))),
            }
        }
    }
}

/// A reader whose bytes another thread produces: decompression runs beside
/// the writes, as `tar -z` runs gzip in a process of its own.
struct Pipe {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    at: usize,
}

impl Pipe {
    fn new(mut r: Box<dyn Read + Send>) -> Pipe {
        let (tx, rx) = std::sync::mpsc::sync_channel(8);
        std::thread::spawn(move || {
            loop {
                let mut b = vec![0u8; 1 << 18];
                let mut n = 0;
                let res = loop {
                    match r.read(&mut b[n..]) {
                        Ok(0) => break Ok(()),
                        Ok(k) => {
                            n += k;
                            if n == b.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                b.truncate(n);
                let end = n == 0 || res.is_err();
                if n > 0 && tx.send(Ok(b)).is_err() {
                    return;
                }
                if let Err(e) = res {
                    let _ = tx.send(Err(e));
                }
                if end {
                    return;
                }
            }
        });
        Pipe {
            rx,
            buf: Vec::new(),
            at: 0,
        }
    }
}

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.buf.len() {
            match self.rx.recv() {
                Ok(Ok(b)) => {
                    self.buf = b;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0), // the producer is done
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Open a layer as a stream of tar bytes.
///
/// # Errors
/// The file cannot be read, or is of a format no layer has.
pub fn open_layer(layer: &Path) -> anyhow::Result<(Box<dyn Read>, Compression)> {
    let f = fs::File::open(layer).with_context(|| format!("{}: cannot open", layer.display()))?;
    let mut r = BufReader::with_capacity(1 << 17, f);
    let head = r
        .fill_buf()
        .with_context(|| format!("{}: cannot read", layer.display()))?;
    let c = sniff(head).with_context(|| layer.display().to_string())?;
    Ok((
        match c {
            Compression::None => Box::new(r),
            Compression::Gzip => {
                Box::new(Pipe::new(Box::new(flate2::bufread::MultiGzDecoder::new(r))))
            }
            Compression::Zstd => Box::new(Pipe::new(Box::new(ZstdReader::new(r)))),
        },
        c,
    ))
}

/// Check a member path: `..` refused, leading `/` and `.` dropped; returns
/// it normalised and relative (empty for the root itself).
fn clean(p: &Path) -> anyhow::Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => bail!("{}: path with '..' in layer refused", p.display()),
        }
    }
    Ok(out)
}

/// Whether a relative symlink target placed at `at` stays inside the root.
fn link_stays_inside(at: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return true; // resolved against the image's own root when used
    }
    let mut depth = at.components().count().saturating_sub(1) as i64;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// What a name in the layer is, as far as the checks need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Dir,
    File,
    Link,
    Other,
}

/// One pass over a layer: check every entry and, when `write`, make it.
struct Pass<'a> {
    layer: &'a Path,
    dir: &'a Path,
    write: bool,
    root: bool,
    seen: HashMap<PathBuf, Seen>,
    dir_modes: Vec<(PathBuf, u32, (i64, i64))>,
    n: usize,
}

/// `secs[.frac]` of a pax time.
fn pax_time(v: &[u8]) -> Option<(i64, i64)> {
    let s = std::str::from_utf8(v).ok()?;
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let sec: i64 = sec.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let mut nsec: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    for _ in digits.len()..9 {
        nsec *= 10;
    }
    Some((sec, if sec < 0 { -nsec } else { nsec }))
}

impl Pass<'_> {
    fn ctx(&self, p: &Path) -> String {
        format!("{}: {}", self.layer.display(), p.display())
    }

    /// What is at `rel` in the layer so far, or on disk in DIR.
    fn kind(&self, rel: &Path) -> Option<Seen> {
        if let Some(k) = self.seen.get(rel) {
            return Some(*k);
        }
        let md = fs::symlink_metadata(self.dir.join(rel)).ok()?;
        Some(if md.is_dir() {
            Seen::Dir
        } else if md.file_type().is_symlink() {
            Seen::Link
        } else if md.is_file() {
            Seen::File
        } else {
            Seen::Other
        })
    }

    /// Every parent of `p` must be a directory (or not exist yet).
    fn check_parents(&self, p: &Path) -> anyhow::Result<()> {
        let mut anc = PathBuf::new();
        for c in p.parent().unwrap_or(Path::new("")).components() {
            anc.push(c);
            match self.kind(&anc) {
                None | Some(Seen::Dir) => {}
                Some(_) => bail!(
                    "{}: goes through a link or file at {}: refused",
                    self.ctx(p),
                    anc.display()
                ),
            }
        }
        Ok(())
    }

    /// Check (and make) one entry. `plain` is the layer itself when it is a
    /// plain tar: a file's bytes are then copied by the kernel from there.
    fn entry<R: Read>(
        &mut self,
        mut e: tar::Entry<'_, R>,
        plain: Option<&fs::File>,
    ) -> anyhow::Result<()> {
        let typ = e.header().entry_type();
        if typ.is_pax_global_extensions() {
            return Ok(());
        }
        let raw = PathBuf::from(std::ffi::OsStr::from_bytes(&e.path_bytes()).to_owned());
        let p = clean(&raw).with_context(|| self.ctx(&raw))?;
        if p.as_os_str().is_empty() {
            return Ok(()); // "./" or "/": DIR itself
        }
        self.check_parents(&p)?;
        let name = p.file_name().map(|n| n.as_bytes()).unwrap_or_default();
        let parent = p.parent().unwrap_or(Path::new("")).to_path_buf();
        if name == b".wh..wh..opq" {
            if self.write {
                let full = self.dir.join(&parent);
                fs::create_dir_all(&full).with_context(|| full.display().to_string())?;
                xattr_set(&full, "trusted.overlay.opaque", b"y")?;
            }
            if !parent.as_os_str().is_empty() {
                self.seen.insert(parent, Seen::Dir);
            }
            return Ok(());
        }
        if let Some(real) = name.strip_prefix(b".wh.") {
            if real.is_empty() || real == b"." || real == b".." {
                bail!("{}: bad whiteout name", self.ctx(&p));
            }
            let t = parent.join(std::ffi::OsStr::from_bytes(real));
            if self.write {
                self.whiteout(&t)?;
            }
            self.seen.insert(t, Seen::Other);
            return Ok(());
        }
        let h = e.header();
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let (uid, gid) = (
            u32::try_from(h.uid().unwrap_or(0)).unwrap_or(0),
            u32::try_from(h.gid().unwrap_or(0)).unwrap_or(0),
        );
        let mut mtime = (i64::try_from(h.mtime().unwrap_or(0)).unwrap_or(0), 0);
        let link = e
            .link_name_bytes()
            .map(|l| PathBuf::from(std::ffi::OsStr::from_bytes(&l).to_owned()));
        if let Ok(Some(exts)) = e.pax_extensions() {
            for x in exts.flatten() {
                match x.key() {
                    Ok("mtime") => {
                        if let Some(t) = pax_time(x.value_bytes()) {
                            mtime = t;
                        }
                    }
                    Ok(k) if k.starts_with("GNU.sparse.") => bail!(
                        "{}: a sparse file in pax format (GNU tar -S --format=pax) is not supported",
                        self.ctx(&p)
                    ),
                    _ => {}
                }
            }
        }
        let seen = match typ {
            tar::EntryType::Directory => Seen::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                Seen::File
            }
            tar::EntryType::Symlink => {
                let t = link.clone().unwrap_or_default();
                if !link_stays_inside(&p, &t) {
                    bail!(
                        "{}: symlink to {} leaves the root: refused",
                        self.ctx(&p),
                        t.display()
                    );
                }
                Seen::Link
            }
            tar::EntryType::Link => {
                let raw_t = link.clone().unwrap_or_default();
                let t = clean(&raw_t).with_context(|| self.ctx(&p))?;
                self.check_parents(&t)
                    .and_then(|()| match self.kind(&t) {
                        Some(Seen::File | Seen::Other) if !t.as_os_str().is_empty() => Ok(()),
                        _ => bail!("not a file in the layer or DIR"),
                    })
                    .with_context(|| {
                        format!(
                            "{}: hard link to {} leaves the root or goes through a link: refused",
                            self.ctx(&p),
                            raw_t.display()
                        )
                    })?;
                Seen::File
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                if !self.root {
                    bail!(
                        "{}: device node in layer refused: making it needs root (CAP_MKNOD)",
                        self.ctx(&p)
                    );
                }
                Seen::Other
            }
            tar::EntryType::Fifo => Seen::Other,
            t => bail!(
                "{}: unsupported tar member type {:?}",
                self.ctx(&p),
                t.as_byte() as char
            ),
        };
        self.seen.insert(p.clone(), seen);
        if let Some(f) = plain
            && matches!(typ, tar::EntryType::Regular | tar::EntryType::Continuous)
            && e.raw_file_position().saturating_add(e.size()) > f.metadata()?.len()
        {
            bail!("{}: truncated tar archive", self.ctx(&p));
        }
        if !self.write {
            return Ok(());
        }
        let full = self.dir.join(&p);
        let cx = || full.display().to_string();
        if let Some(par) = full.parent() {
            fs::create_dir_all(par).with_context(cx)?;
        }
        if typ == tar::EntryType::Directory {
            match fs::symlink_metadata(&full) {
                Ok(md) if md.is_dir() => {}
                Ok(_) => {
                    remove_any(&full)?;
                    fs::create_dir(&full).with_context(cx)?;
                }
                Err(_) => fs::create_dir(&full).with_context(cx)?,
            }
            self.chown(&full, uid, gid);
            self.dir_modes.push((full, mode, mtime));
            self.n += 1;
            return Ok(());
        }
        remove_any(&full)?;
        match typ {
            tar::EntryType::Symlink => {
                std::os::unix::fs::symlink(link.unwrap_or_default(), &full).with_context(cx)?;
            }
            tar::EntryType::Link => {
                let t = clean(&link.unwrap_or_default())?;
                fs::hard_link(self.dir.join(t), &full).with_context(cx)?;
                self.n += 1;
                return Ok(());
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let (k, dev) = match typ {
                    tar::EntryType::Char => (nix::sys::stat::SFlag::S_IFCHR, device(&e)),
                    tar::EntryType::Block => (nix::sys::stat::SFlag::S_IFBLK, device(&e)),
                    _ => (nix::sys::stat::SFlag::S_IFIFO, 0),
                };
                nix::sys::stat::mknod(
                    &full,
                    k,
                    nix::sys::stat::Mode::from_bits_truncate(mode),
                    dev,
                )
                .map_err(|er| anyhow::anyhow!("{}: {}", full.display(), ctcore::errno_text(er)))?;
            }
            _ => {
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&full)
                    .with_context(cx)?;
                match plain {
                    Some(src) if typ != tar::EntryType::GNUSparse => {
                        copy_range(src, e.raw_file_position(), e.size(), &f, &mut e)
                    }
                    _ => copy_body(&mut e, &mut f),
                }
                .with_context(cx)?;
            }
        }
        self.chown(&full, uid, gid);
        if typ != tar::EntryType::Symlink {
            // after chown, which clears set-id bits
            fs::set_permissions(&full, fs::Permissions::from_mode(mode)).with_context(cx)?;
        }
        let _ = crate::write::set_times(&full, mtime);
        self.n += 1;
        Ok(())
    }

    fn chown(&self, p: &Path, uid: u32, gid: u32) {
        if self.root {
            let _ = std::os::unix::fs::lchown(p, Some(uid), Some(gid));
        }
    }

    fn whiteout(&self, t: &Path) -> anyhow::Result<()> {
        let full = self.dir.join(t);
        if let Some(par) = full.parent() {
            fs::create_dir_all(par).with_context(|| par.display().to_string())?;
        }
        remove_any(&full)?;
        nix::sys::stat::mknod(
            &full,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot create whiteout: {}",
                full.display(),
                ctcore::errno_text(e)
            )
        })
    }

    /// Read (and, when writing, unpack) the whole layer.
    fn run(&mut self) -> anyhow::Result<()> {
        let bad = || format!("{}: bad tar archive", self.layer.display());
        let (r, comp) = open_layer(self.layer)?;
        if comp == Compression::None {
            // A plain tar: seek over the contents, which the kernel copies.
            let f = fs::File::open(self.layer)
                .with_context(|| format!("{}: cannot open", self.layer.display()))?;
            let raw = f.try_clone()?;
            let mut ar = tar::Archive::new(BufReader::with_capacity(1 << 16, f));
            for e in ar.entries_with_seek().with_context(bad)? {
                self.entry(e.with_context(bad)?, Some(&raw))?;
            }
        } else {
            let mut ar = tar::Archive::new(r);
            for e in ar.entries().with_context(bad)? {
                self.entry(e.with_context(bad)?, None)?;
            }
            // the rest of the stream: gzip's CRC, zstd's checksums
            io::copy(&mut ar.into_inner(), &mut io::sink())
                .with_context(|| format!("{}: cannot decompress", self.layer.display()))?;
        }
        for (d, mode, mtime) in self.dir_modes.drain(..).rev() {
            fs::set_permissions(&d, fs::Permissions::from_mode(mode))
                .with_context(|| d.display().to_string())?;
            let _ = crate::write::set_times(&d, mtime);
        }
        Ok(())
    }
}

fn device<R: Read>(e: &tar::Entry<'_, R>) -> libc::dev_t {
    let h = e.header();
    let ma = h.device_major().ok().flatten().unwrap_or(0);
    let mi = h.device_minor().ok().flatten().unwrap_or(0);
    libc::makedev(ma, mi)
}

/// Copy `len` bytes at `off` of the plain tar `src` into `dst` with
/// copy_file_range; through `body` (the entry's reader) where the kernel
/// cannot copy between the two files.
fn copy_range(
    src: &fs::File,
    off: u64,
    len: u64,
    dst: &fs::File,
    body: &mut dyn Read,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut off_in = i64::try_from(off).map_err(io::Error::other)?;
    let mut left = len;
    while left > 0 {
        let chunk = usize::try_from(left.min(1 << 30)).unwrap_or(1 << 30);
        // SAFETY: valid descriptors; the input offset is ours (the shared
        // file position is not used), the output advances its own.
        let n = unsafe {
            libc::copy_file_range(
                src.as_raw_fd(),
                &raw mut off_in,
                dst.as_raw_fd(),
                std::ptr::null_mut(),
                chunk,
                0,
            )
        };
        if n < 0 {
            let er = io::Error::last_os_error();
            match er.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EXDEV | libc::EINVAL | libc::EOPNOTSUPP | libc::ENOSYS)
                    if left == len =>
                {
                    let mut f = dst;
                    return copy_body(body, &mut f);
                }
                _ => return Err(er),
            }
        }
        if n == 0 {
            return Err(io::Error::other("truncated tar archive"));
        }
        left -= n as u64;
    }
    Ok(())
}

fn copy_body(r: &mut dyn Read, f: &mut dyn Write) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 17];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        f.write_all(&buf[..n])?;
    }
}

/// Unpack `layer` into `dir`; returns the number of entries written.
///
/// # Errors
/// A malformed archive, an entry that would escape `dir`, or an I/O error;
/// `dir` is left as it was then (see the module's notes).
pub fn import(layer: &Path, dir: &Path) -> anyhow::Result<usize> {
    let existed = match fs::symlink_metadata(dir) {
        Ok(md) if md.is_dir() => true,
        Ok(_) => bail!("{}: exists and is not a directory", dir.display()),
        Err(_) => false,
    };
    let empty = !existed
        || fs::read_dir(dir)
            .with_context(|| format!("{}: cannot read", dir.display()))?
            .next()
            .is_none();
    let pass = |write| {
        let mut p = Pass {
            layer,
            dir,
            write,
            root: nix::unistd::geteuid().is_root(),
            seen: HashMap::new(),
            dir_modes: Vec::new(),
            n: 0,
        };
        p.run().map(|()| p.n)
    };
    if !empty {
        pass(false)?;
        return pass(true);
    }
    fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let res = pass(true);
    if res.is_err() {
        if existed {
            empty_dir(dir);
        } else {
            let _ = fs::remove_dir_all(dir);
        }
    }
    res
}

/// Remove what is in `dir`, not `dir` itself.
pub fn empty_dir(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let _ = remove_any(&e.path());
        }
    }
}

fn remove_any(p: &Path) -> anyhow::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(md) if md.is_dir() => fs::remove_dir_all(p).with_context(|| p.display().to_string()),
        Ok(_) => fs::remove_file(p).with_context(|| p.display().to_string()),
        Err(_) => Ok(()),
    }
}

fn xattr_set(p: &Path, name: &str, val: &[u8]) -> anyhow::Result<()> {
    let cp = crate::write::cpath(p).ok_or_else(|| anyhow::anyhow!("bad path"))?;
    let cn = std::ffi::CString::new(name)?;
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let r = unsafe { libc::lsetxattr(cp.as_ptr(), cn.as_ptr(), val.as_ptr().cast(), val.len(), 0) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        bail!(
            "{}: cannot set {name}: {} (trusted.* needs root)",
            p.display(),
            ctcore::error_text(&e)
        );
    }
    Ok(())
}
