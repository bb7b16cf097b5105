//! `--import LAYER.tar`: unpack an image layer (docker export or OCI layer,
//! plain or gzip) into a directory usable as an overlayfs layer.
//!
//! `.wh.NAME` becomes a whiteout (a 0:0 character device named NAME),
//! `.wh..wh..opq` marks its directory opaque (`trusted.overlay.opaque=y`).
//! Every entry is checked before anything is written: absolute paths, `..`,
//! writes through a symbolic link, hard links to outside files and relative
//! links climbing out of the root are refused.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};

/// One tar member.
#[derive(Debug, Clone)]
pub struct Member {
    /// Path inside the layer (normalised, relative).
    pub path: PathBuf,
    /// Type flag.
    pub typ: u8,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time.
    pub mtime: i64,
    /// Link target (symlink or hard link).
    pub link: PathBuf,
    /// Device numbers.
    pub dev: (u32, u32),
    /// Offset and length of the content in the archive.
    pub data: (usize, usize),
}

fn num(f: &[u8]) -> u64 {
    if f.first().is_some_and(|&b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(f[0] & 0x7f);
        for &b in &f[1..] {
            v = (v << 8) | u64::from(b);
        }
        return v;
    }
    let s: String = f
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as char)
        .collect();
    u64::from_str_radix(s.trim(), 8).unwrap_or(0)
}

fn cstr(f: &[u8]) -> Vec<u8> {
    f.iter().take_while(|&&c| c != 0).copied().collect()
}

fn os(v: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(v))
}

/// Parse a tar archive (ustar, GNU long names, pax headers).
///
/// # Errors
/// A malformed archive.
pub fn parse_tar(data: &[u8]) -> anyhow::Result<Vec<(Vec<u8>, Member)>> {
    let mut out = Vec::new();
    let mut pos = 0;
    let (mut long_name, mut long_link): (Option<Vec<u8>>, Option<Vec<u8>>) = (None, None);
    let mut pax: HashMap<String, Vec<u8>> = HashMap::new();
    while pos + 512 <= data.len() {
        let h = &data[pos..pos + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(b)
                }
            })
            .sum();
        if sum != num(&h[148..156]) {
            bail!("not a tar archive (bad header checksum at offset {pos})");
        }
        let typ = h[156];
        let mut size = usize::try_from(num(&h[124..136]))?;
        if let Some(s) = pax.get("size") {
            size = String::from_utf8_lossy(s).parse().unwrap_or(size);
        }
        let start = pos + 512;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| anyhow::anyhow!("truncated tar archive"))?;
        let body = &data[start..end];
        pos = start + size.div_ceil(512) * 512;
        match typ {
            b'L' => {
                long_name = Some(cstr(body));
                continue;
            }
            b'K' => {
                long_link = Some(cstr(body));
                continue;
            }
            b'x' => {
                let mut rest = body;
                while let Some(sp) = rest.iter().position(|&c| c == b' ') {
                    let n: usize = String::from_utf8_lossy(&rest[..sp]).parse().unwrap_or(0);
                    if n <= sp + 1 || n > rest.len() {
                        break;
                    }
                    let rec = &rest[sp + 1..n - 1];
                    if let Some(eq) = rec.iter().position(|&c| c == b'=') {
                        pax.insert(
                            String::from_utf8_lossy(&rec[..eq]).into_owned(),
                            rec[eq + 1..].to_vec(),
                        );
                    }
                    rest = &rest[n..];
                }
                continue;
            }
            b'g' => continue,
            _ => {}
        }
        let mut name = cstr(&h[0..100]);
        if &h[257..262] == b"ustar" && h[345] != 0 {
            let mut p = cstr(&h[345..500]);
            p.push(b'/');
            p.extend(name);
            name = p;
        }
        if let Some(n) = long_name.take() {
            name = n;
        }
        if let Some(n) = pax.remove("path") {
            name = n;
        }
        let mut link = cstr(&h[157..257]);
        if let Some(l) = long_link.take() {
            link = l;
        }
        if let Some(l) = pax.remove("linkpath") {
            link = l;
        }
        pax.clear();
        let raw = name.clone();
        let m = Member {
            path: os(name),
            typ,
            mode: u32::try_from(num(&h[100..108]) & 0o7777)?,
            uid: u32::try_from(num(&h[108..116])).unwrap_or(0),
            gid: u32::try_from(num(&h[116..124])).unwrap_or(0),
            mtime: i64::try_from(num(&h[136..148])).unwrap_or(0),
            link: os(link),
            dev: (
                u32::try_from(num(&h[329..337])).unwrap_or(0),
                u32::try_from(num(&h[337..345])).unwrap_or(0),
            ),
            data: (start, size),
        };
        out.push((raw, m));
    }
    Ok(out)
}

/// Check a member path: relative, no `..`; returns it normalised.
fn clean(p: &Path) -> anyhow::Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                bail!("{}: absolute path in layer refused", p.display())
            }
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

enum Op {
    Whiteout(PathBuf),
    Opaque(PathBuf),
    Put(PathBuf, Member),
}

/// Unpack `layer` into `dir`.
///
/// # Errors
/// A malformed archive or an entry that would escape `dir`; nothing is
/// written then.
pub fn import(layer: &Path, dir: &Path) -> anyhow::Result<usize> {
    let raw = fs::read(layer).with_context(|| format!("{}: cannot read", layer.display()))?;
    let data = if raw.starts_with(&[0x1f, 0x8b]) {
        crate::inflate::gunzip(&raw)
            .with_context(|| format!("{}: cannot decompress", layer.display()))?
    } else {
        raw
    };
    let members = parse_tar(&data).with_context(|| layer.display().to_string())?;
    // Validate everything first.
    let mut kinds: HashMap<PathBuf, u8> = HashMap::new();
    let mut ops = Vec::new();
    let ctx = |p: &Path| format!("{}: {}", layer.display(), p.display());
    for (_, m) in members {
        let p = clean(&m.path).with_context(|| ctx(&m.path))?;
        if p.as_os_str().is_empty() {
            continue; // "./"
        }
        // every parent must be a real directory (in the layer or on disk)
        let mut anc = PathBuf::new();
        for c in p.parent().unwrap_or(Path::new("")).components() {
            anc.push(c);
            let link = match kinds.get(&anc) {
                Some(t) => *t == b'2' || *t == b'1',
                None => fs::symlink_metadata(dir.join(&anc)).is_ok_and(|md| !md.is_dir()),
            };
            if link {
                bail!(
                    "{}: goes through a link or file at {}: refused",
                    ctx(&p),
                    anc.display()
                );
            }
        }
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = p.parent().unwrap_or(Path::new("")).to_path_buf();
        if name == ".wh..wh..opq" {
            ops.push(Op::Opaque(parent));
            continue;
        }
        if let Some(real) = name.strip_prefix(".wh.") {
            if real.is_empty() || real == "." || real == ".." {
                bail!("{}: bad whiteout name", ctx(&p));
            }
            let t = parent.join(real);
            kinds.insert(t.clone(), b'3');
            ops.push(Op::Whiteout(t));
            continue;
        }
        match m.typ {
            b'2' => {
                if !link_stays_inside(&p, &m.link) {
                    bail!(
                        "{}: symlink to {} leaves the root: refused",
                        ctx(&p),
                        m.link.display()
                    );
                }
            }
            b'1' => {
                let t = clean(&m.link).with_context(|| ctx(&p))?;
                let mut anc = PathBuf::new();
                for c in t.components() {
                    anc.push(c);
                    let bad = match kinds.get(&anc) {
                        Some(k) => *k == b'2' || (anc != t && *k != b'5'),
                        None => fs::symlink_metadata(dir.join(&anc))
                            .map_or(true, |md| md.file_type().is_symlink()),
                    };
                    if bad {
                        bail!(
                            "{}: hard link to {} leaves the root or goes through a link: refused",
                            ctx(&p),
                            m.link.display()
                        );
                    }
                }
            }
            b'0' | 0 | b'7' | b'3' | b'4' | b'5' | b'6' => {}
            t => bail!("{}: unsupported tar member type {:?}", ctx(&p), t as char),
        }
        kinds.insert(p.clone(), m.typ);
        ops.push(Op::Put(p, m));
    }
    fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut n = 0;
    let mut dir_modes = Vec::new();
    for op in ops {
        match op {
            Op::Opaque(d) => {
                let full = dir.join(&d);
                fs::create_dir_all(&full).with_context(|| full.display().to_string())?;
                xattr_set(&full, "trusted.overlay.opaque", b"y")?;
            }
            Op::Whiteout(p) => {
                let full = dir.join(&p);
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
                })?;
            }
            Op::Put(p, m) => {
                let full = dir.join(&p);
                let cx = || full.display().to_string();
                if let Some(par) = full.parent() {
                    fs::create_dir_all(par).with_context(cx)?;
                }
                if m.typ == b'5' {
                    match fs::symlink_metadata(&full) {
                        Ok(md) if md.is_dir() => {}
                        Ok(_) => {
                            remove_any(&full)?;
                            fs::create_dir(&full).with_context(cx)?;
                        }
                        Err(_) => fs::create_dir(&full).with_context(cx)?,
                    }
                    dir_modes.push((full.clone(), m.mode, m.mtime));
                } else {
                    remove_any(&full)?;
                    match m.typ {
                        b'2' => std::os::unix::fs::symlink(&m.link, &full).with_context(cx)?,
                        b'1' => fs::hard_link(dir.join(clean(&m.link)?), &full).with_context(cx)?,
                        b'3' | b'4' | b'6' => {
                            let (k, dev) = match m.typ {
                                b'3' => (
                                    nix::sys::stat::SFlag::S_IFCHR,
                                    libc::makedev(m.dev.0, m.dev.1),
                                ),
                                b'4' => (
                                    nix::sys::stat::SFlag::S_IFBLK,
                                    libc::makedev(m.dev.0, m.dev.1),
                                ),
                                _ => (nix::sys::stat::SFlag::S_IFIFO, 0),
                            };
                            nix::sys::stat::mknod(
                                &full,
                                k,
                                nix::sys::stat::Mode::from_bits_truncate(m.mode),
                                dev,
                            )
                            .map_err(|e| {
                                anyhow::anyhow!("{}: {}", full.display(), ctcore::errno_text(e))
                            })?;
                        }
                        _ => {
                            use std::io::Write;
                            let mut f = fs::OpenOptions::new()
                                .write(true)
                                .create_new(true)
                                .custom_flags_nofollow()
                                .open(&full)
                                .with_context(cx)?;
                            f.write_all(&data[m.data.0..m.data.0 + m.data.1])
                                .with_context(cx)?;
                            fs::set_permissions(&full, fs::Permissions::from_mode(m.mode))
                                .with_context(cx)?;
                        }
                    }
                    if m.typ != b'1' {
                        let _ = std::os::unix::fs::lchown(&full, Some(m.uid), Some(m.gid));
                        if m.typ != b'2' && m.mode & 0o6000 != 0 {
                            fs::set_permissions(&full, fs::Permissions::from_mode(m.mode))
                                .with_context(cx)?;
                        }
                        let _ = crate::write::set_times(&full, (m.mtime, 0));
                    }
                }
                n += 1;
            }
        }
    }
    for (d, mode, mtime) in dir_modes.into_iter().rev() {
        fs::set_permissions(&d, fs::Permissions::from_mode(mode))
            .with_context(|| d.display().to_string())?;
        let _ = crate::write::set_times(&d, (mtime, 0));
    }
    Ok(n)
}

trait NoFollow {
    fn custom_flags_nofollow(&mut self) -> &mut Self;
}

impl NoFollow for fs::OpenOptions {
    fn custom_flags_nofollow(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NOFOLLOW)
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
