//! A small ELF reader driven by program headers only, as ld.so is.
//!
//! It reads the ELF header, the program headers, PT_INTERP and PT_DYNAMIC,
//! and maps DT_STRTAB through the PT_LOAD segments, so files without
//! section headers work. Both classes and both byte orders are handled.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// ELF type of a shared object or PIE.
pub const ET_DYN: u16 = 3;
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const NT_FDO_DLOPEN_METADATA: u32 = 0x407c_0c0a;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
const DT_FLAGS_1: u64 = 0x6fff_fffb;
const DF_1_NODEFLIB: u64 = 0x800;

/// What the resolver needs from one ELF file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfInfo {
    /// EI_CLASS: 1 = 32-bit, 2 = 64-bit.
    pub class: u8,
    /// EI_DATA: 1 = little, 2 = big endian.
    pub data: u8,
    /// EI_OSABI.
    pub osabi: u8,
    /// e_type.
    pub e_type: u16,
    /// e_machine.
    pub machine: u16,
    /// PT_INTERP, without its NUL.
    pub interp: Option<String>,
    /// Whether a PT_DYNAMIC segment exists.
    pub dynamic: bool,
    /// DT_NEEDED in order.
    pub needed: Vec<String>,
    /// DT_SONAME.
    pub soname: Option<String>,
    /// DT_RPATH.
    pub rpath: Option<String>,
    /// DT_RUNPATH.
    pub runpath: Option<String>,
    /// DF_1_NODEFLIB (`-z nodefaultlib`).
    pub nodeflib: bool,
    /// `.note.dlopen` (ELF_DLOPEN_METADATA, as systemd emits): for each
    /// entry of priority required or recommended, the sonames to try in
    /// order.
    pub dlopen: Vec<Vec<String>>,
}

impl ElfInfo {
    /// Whether `other` could be loaded into a process of this object's kind
    /// (glibc's `open_verify`: class, byte order, machine, OS ABI).
    #[must_use]
    pub fn compatible(&self, other: &ElfInfo) -> bool {
        self.class == other.class
            && self.data == other.data
            && self.machine == other.machine
            && matches!(other.osabi, 0 | 3)
            && other.e_type == ET_DYN
    }
}

struct Reader<'a> {
    file: &'a File,
    big: bool,
    wide: bool,
    len: u64,
}

impl Reader<'_> {
    fn bytes(&self, off: u64, len: usize) -> Option<Vec<u8>> {
        if off.checked_add(len as u64)? > self.len {
            return None;
        }
        let mut buf = vec![0; len];
        self.file.read_exact_at(&mut buf, off).ok()?;
        Some(buf)
    }
    fn u16(&self, b: &[u8], at: usize) -> u16 {
        let v = [b[at], b[at + 1]];
        if self.big {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        }
    }
    fn u32(&self, b: &[u8], at: usize) -> u32 {
        let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    }
    fn u64(&self, b: &[u8], at: usize) -> u64 {
        let mut v = [0; 8];
        v.copy_from_slice(&b[at..at + 8]);
        if self.big {
            u64::from_be_bytes(v)
        } else {
            u64::from_le_bytes(v)
        }
    }
    fn word(&self, b: &[u8], at: usize) -> u64 {
        if self.wide {
            self.u64(b, at)
        } else {
            u64::from(self.u32(b, at))
        }
    }
}

/// Read the FDO dlopen notes of one PT_NOTE segment.
fn dlopen_notes(r: &Reader<'_>, b: &[u8], out: &mut Vec<Vec<String>>) {
    let mut at = 0usize;
    while at + 12 <= b.len() {
        let (namesz, descsz, typ) = (
            r.u32(b, at) as usize,
            r.u32(b, at + 4) as usize,
            r.u32(b, at + 8),
        );
        let name_at = at + 12;
        let desc_at = name_at + namesz.div_ceil(4) * 4;
        let end = desc_at.saturating_add(descsz.div_ceil(4) * 4);
        if desc_at > b.len() || desc_at + descsz > b.len() {
            return;
        }
        if typ == NT_FDO_DLOPEN_METADATA && &b[name_at..name_at + namesz] == b"FDO\0" {
            let d = &b[desc_at..desc_at + descsz];
            let d = &d[..d.iter().position(|&c| c == 0).unwrap_or(d.len())];
            if let Ok(serde_json::Value::Array(items)) = serde_json::from_slice(d) {
                for it in items {
                    let prio = it
                        .get("priority")
                        .and_then(|p| p.as_str())
                        .unwrap_or("recommended");
                    if prio == "suggested" {
                        continue;
                    }
                    let names: Vec<String> = it
                        .get("soname")
                        .and_then(|s| s.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default();
                    if !names.is_empty() {
                        out.push(names);
                    }
                }
            }
        }
        at = end;
    }
}

/// Whether the file starts with the ELF magic.
#[must_use]
pub fn is_elf(path: &Path) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    let mut m = [0u8; 4];
    f.read_exact_at(&mut m, 0).is_ok() && &m == b"\x7fELF"
}

/// Parse `path`. `Ok(None)` when it is not an ELF file; an error when it is
/// one but is truncated or malformed.
///
/// # Errors
/// I/O errors and malformed ELF files.
pub fn parse(path: &Path) -> anyhow::Result<Option<ElfInfo>> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut ident = [0u8; 16];
    if len < 16 || file.read_exact_at(&mut ident, 0).is_err() || &ident[..4] != b"\x7fELF" {
        return Ok(None);
    }
    let bad = || anyhow::anyhow!("{}: malformed ELF file", path.display());
    if !matches!(ident[4], 1 | 2) || !matches!(ident[5], 1 | 2) {
        return Err(bad());
    }
    let r = Reader {
        file: &file,
        big: ident[5] == 2,
        wide: ident[4] == 2,
        len,
    };
    let eh = r.bytes(0, if r.wide { 64 } else { 52 }).ok_or_else(bad)?;
    let mut info = ElfInfo {
        class: ident[4],
        data: ident[5],
        osabi: ident[7],
        e_type: r.u16(&eh, 16),
        machine: r.u16(&eh, 18),
        ..ElfInfo::default()
    };
    let (phoff, phentsize, phnum) = if r.wide {
        (r.u64(&eh, 32), r.u16(&eh, 54), r.u16(&eh, 56))
    } else {
        (u64::from(r.u32(&eh, 28)), r.u16(&eh, 42), r.u16(&eh, 44))
    };
    let min = if r.wide { 56 } else { 32 };
    if phnum == 0 {
        return Ok(Some(info));
    }
    if usize::from(phentsize) < min {
        return Err(bad());
    }
    let ph = r
        .bytes(phoff, usize::from(phentsize) * usize::from(phnum))
        .ok_or_else(bad)?;
    // (type, offset, vaddr, filesz)
    let mut segs = Vec::with_capacity(usize::from(phnum));
    for i in 0..usize::from(phnum) {
        let b = &ph[i * usize::from(phentsize)..];
        let s = if r.wide {
            (r.u32(b, 0), r.u64(b, 8), r.u64(b, 16), r.u64(b, 32))
        } else {
            (
                r.u32(b, 0),
                u64::from(r.u32(b, 4)),
                u64::from(r.u32(b, 8)),
                u64::from(r.u32(b, 16)),
            )
        };
        segs.push(s);
    }
    let mut dynseg = None;
    for &(t, off, _, sz) in &segs {
        match t {
            PT_INTERP => {
                let n = usize::try_from(sz.min(4096)).map_err(|_| bad())?;
                let b = r.bytes(off, n).ok_or_else(bad)?;
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                info.interp = Some(String::from_utf8_lossy(&b[..end]).into_owned());
            }
            PT_DYNAMIC => dynseg = Some((off, sz)),
            PT_NOTE if sz <= 1 << 20 => {
                if let Some(b) = r.bytes(off, usize::try_from(sz).map_err(|_| bad())?) {
                    dlopen_notes(&r, &b, &mut info.dlopen);
                }
            }
            _ => {}
        }
    }
    let Some((doff, dsz)) = dynseg else {
        return Ok(Some(info));
    };
    info.dynamic = true;
    let ent = if r.wide { 16 } else { 8 };
    let dsz = usize::try_from(dsz.min(1 << 20)).map_err(|_| bad())?;
    let dy = r.bytes(doff, dsz - dsz % ent).ok_or_else(bad)?;
    let (mut strtab, mut strsz) = (None, 0u64);
    let mut tags = Vec::new();
    for c in dy.chunks_exact(ent) {
        let (tag, val) = (r.word(c, 0), r.word(c, ent / 2));
        match tag {
            DT_NULL => break,
            DT_STRTAB => strtab = Some(val),
            DT_STRSZ => strsz = val,
            DT_FLAGS_1 => info.nodeflib = val & DF_1_NODEFLIB != 0,
            DT_NEEDED | DT_SONAME | DT_RPATH | DT_RUNPATH => tags.push((tag, val)),
            _ => {}
        }
    }
    if tags.is_empty() {
        return Ok(Some(info));
    }
    let strtab = strtab.ok_or_else(bad)?;
    // Map the string table's address to a file offset through PT_LOAD.
    let stroff = segs
        .iter()
        .find(|&&(t, _, va, sz)| t == PT_LOAD && strtab >= va && strtab < va + sz)
        .map(|&(_, off, va, _)| strtab - va + off)
        .ok_or_else(bad)?;
    let strsz = if strsz == 0 {
        len.saturating_sub(stroff)
    } else {
        strsz.min(len.saturating_sub(stroff))
    };
    let strs = r
        .bytes(stroff, usize::try_from(strsz).map_err(|_| bad())?)
        .ok_or_else(bad)?;
    let get = |v: u64| -> anyhow::Result<String> {
        let at = usize::try_from(v).map_err(|_| bad())?;
        let s = strs.get(at..).ok_or_else(bad)?;
        let end = s.iter().position(|&c| c == 0).ok_or_else(bad)?;
        Ok(String::from_utf8_lossy(&s[..end]).into_owned())
    };
    for (tag, val) in tags {
        let s = get(val)?;
        match tag {
            DT_NEEDED => info.needed.push(s),
            DT_SONAME => info.soname = Some(s),
            DT_RPATH => info.rpath = Some(s),
            _ => info.runpath = Some(s),
        }
    }
    Ok(Some(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_ld_so() {
        let p = Path::new("/proc/self/exe");
        let i = parse(p).unwrap().unwrap();
        assert!(i.interp.is_some() || i.e_type == ET_DYN || i.e_type == 2);
    }

    #[test]
    fn not_elf() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        assert_eq!(parse(&f).unwrap(), None);
        std::fs::write(&f, b"\x7fELF").unwrap();
        assert_eq!(parse(&f).unwrap(), None, "too short to be ELF");
        let mut trunc = b"\x7fELF\x02\x01\x01".to_vec();
        trunc.resize(20, 0);
        std::fs::write(&f, trunc).unwrap();
        assert!(parse(&f).is_err(), "truncated ELF is an error");
    }
}
