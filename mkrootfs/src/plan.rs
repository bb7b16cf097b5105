//! The plan: every path the root will hold, computed before anything is
//! written, so bad input leaves nothing behind and `--dry-run` is exact.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};

/// What one path of the root is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file copied from the host.
    File(PathBuf),
    /// A symbolic link.
    Symlink(PathBuf),
    /// A regular file with generated content.
    Data(Vec<u8>),
    /// A character device (major, minor).
    Char(u32, u32),
    /// A block device (major, minor).
    Block(u32, u32),
    /// A FIFO.
    Fifo,
}

/// One path of the root.
#[derive(Debug, Clone)]
pub struct Entry {
    /// What it is.
    pub kind: Kind,
    /// Permission bits (with setuid, setgid, sticky).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time (seconds, nanoseconds).
    pub mtime: (i64, i64),
    /// Size in bytes of a regular file.
    pub size: u64,
    /// The host path it comes from, if any.
    pub source: Option<PathBuf>,
    /// The chain of inputs and dependencies that brought it in.
    pub chain: Vec<String>,
}

impl Entry {
    /// A generated entry, owned by root, with the fixed time `epoch()`.
    #[must_use]
    pub fn made(kind: Kind, mode: u32, chain: &[String]) -> Entry {
        let size = if let Kind::Data(d) = &kind {
            d.len() as u64
        } else {
            0
        };
        Entry {
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: (epoch(), 0),
            size,
            source: None,
            chain: chain.to_vec(),
        }
    }

    /// The type name used in `--dry-run` listings.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Dir => "dir",
            Kind::File(_) | Kind::Data(_) => "file",
            Kind::Symlink(_) => "symlink",
            Kind::Char(..) => "char",
            Kind::Block(..) => "block",
            Kind::Fifo => "fifo",
        }
    }
}

/// The time stamp of generated entries: `SOURCE_DATE_EPOCH`, else 0, so that
/// two runs give identical archives.
#[must_use]
pub fn epoch() -> i64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Paths relative to the root, in an order where parents come first.
#[derive(Debug, Default)]
pub struct Plan {
    /// The entries, keyed by their path relative to the root.
    pub entries: BTreeMap<PathBuf, Entry>,
    /// Some library is reachable only through ld.so.cache: the root needs
    /// its own (`ldconfig -r`).
    pub ldconfig: bool,
}

/// Normalise `p` lexically (no `.`, `..` popped) and make it relative.
#[must_use]
pub fn rel(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// The relative path that leads from directory `from` to `to` (both
/// relative to the same root, normalised).
#[must_use]
pub fn relative_link(from: &Path, to: &Path) -> PathBuf {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

impl Plan {
    /// Insert unless the path is taken (the first one wins).
    pub fn insert(&mut self, path: PathBuf, entry: Entry) {
        self.entries.entry(path).or_insert(entry);
    }

    fn host_entry(kind: Kind, md: &std::fs::Metadata, src: &Path, chain: &[String]) -> Entry {
        Entry {
            size: if matches!(kind, Kind::File(_)) {
                md.len()
            } else {
                0
            },
            kind,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            mtime: (md.mtime(), md.mtime_nsec()),
            source: Some(src.to_path_buf()),
            chain: chain.to_vec(),
        }
    }

    /// Mirror host path `host` at the same place in the root: every
    /// symbolic link met on the way (directories and the last component) is
    /// recreated, as a relative link where the host's is absolute, and
    /// followed. Returns the canonical host path it leads to.
    ///
    /// # Errors
    /// A missing path or a symlink loop.
    pub fn add_host(&mut self, host: &Path, chain: &[String]) -> anyhow::Result<PathBuf> {
        let start = if host.is_absolute() {
            host.to_path_buf()
        } else {
            std::env::current_dir()?.join(host)
        };
        let mut cur = PathBuf::from("/");
        let mut hops = 0;
        // Components are kept as owned strings to allow splicing in link targets.
        let mut rest: std::collections::VecDeque<std::ffi::OsString> = start
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                Component::ParentDir => Some("..".into()),
                _ => None,
            })
            .collect();
        while let Some(c) = rest.pop_front() {
            if c == ".." {
                cur.pop();
                continue;
            }
            if c == "." {
                continue;
            }
            let next = cur.join(&c);
            let md = std::fs::symlink_metadata(&next)
                .with_context(|| format!("{}: {}", host.display(), "cannot access"))?;
            let ft = md.file_type();
            if ft.is_symlink() {
                hops += 1;
                if hops > 40 {
                    bail!("{}: too many levels of symbolic links", host.display());
                }
                let target = std::fs::read_link(&next)?;
                let at = rel(&next);
                let link = if target.is_absolute()
                    && !target.components().any(|c| c == Component::ParentDir)
                {
                    relative_link(&rel(&cur), &rel(&target))
                } else {
                    target.clone()
                };
                self.insert(at, Self::host_entry(Kind::Symlink(link), &md, &next, chain));
                let mut spliced: std::collections::VecDeque<std::ffi::OsString> = target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n.to_os_string()),
                        Component::ParentDir => Some("..".into()),
                        _ => None,
                    })
                    .collect();
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                spliced.extend(rest);
                rest = spliced;
            } else if ft.is_dir() {
                self.insert(rel(&next), Self::host_entry(Kind::Dir, &md, &next, chain));
                cur = next;
            } else {
                if !rest.is_empty() {
                    bail!("{}: not a directory: {}", host.display(), next.display());
                }
                let kind = Self::special(&md).unwrap_or_else(|| Kind::File(next.clone()));
                self.insert(rel(&next), Self::host_entry(kind, &md, &next, chain));
                cur = next;
            }
        }
        Ok(cur)
    }

    fn special(md: &std::fs::Metadata) -> Option<Kind> {
        use std::os::unix::fs::FileTypeExt;
        let ft = md.file_type();
        let rdev = md.rdev();
        let (ma, mi) = (libc::major(rdev), libc::minor(rdev));
        if ft.is_char_device() {
            Some(Kind::Char(ma, mi))
        } else if ft.is_block_device() {
            Some(Kind::Block(ma, mi))
        } else if ft.is_fifo() {
            Some(Kind::Fifo)
        } else {
            None
        }
    }

    /// Resolve `path` (relative to the root) through the plan's own
    /// symlinks, creating missing directories (mode 0755). Returns the
    /// canonical path inside the plan.
    ///
    /// # Errors
    /// A path component that is a file, or a link loop.
    pub fn make_dirs(&mut self, path: &Path, chain: &[String]) -> anyhow::Result<PathBuf> {
        let mut cur = PathBuf::new();
        let mut rest: std::collections::VecDeque<std::ffi::OsString> = rel(path)
            .components()
            .map(|c| c.as_os_str().to_os_string())
            .collect();
        let mut hops = 0;
        while let Some(c) = rest.pop_front() {
            if c == ".." {
                cur.pop();
                continue;
            }
            let next = cur.join(&c);
            match self.entries.get(&next).map(|e| e.kind.clone()) {
                None => {
                    self.insert(next.clone(), Entry::made(Kind::Dir, 0o755, chain));
                    cur = next;
                }
                Some(Kind::Dir) => cur = next,
                Some(Kind::Symlink(t)) => {
                    hops += 1;
                    if hops > 40 {
                        bail!("{}: too many levels of symbolic links", path.display());
                    }
                    if t.is_absolute() {
                        cur = PathBuf::new();
                    }
                    let mut spliced: std::collections::VecDeque<std::ffi::OsString> = t
                        .components()
                        .filter_map(|c| match c {
                            Component::Normal(n) => Some(n.to_os_string()),
                            Component::ParentDir => Some("..".into()),
                            _ => None,
                        })
                        .collect();
                    spliced.extend(rest);
                    rest = spliced;
                }
                Some(_) => bail!("/{}: not a directory", next.display()),
            }
        }
        Ok(cur)
    }

    /// Place a host file or directory tree at `dest` (relative to the root).
    /// Symbolic links inside are kept as they are. Returns the host paths of
    /// the regular files placed, for the caller to scan.
    ///
    /// # Errors
    /// Unreadable sources, conflicting paths.
    pub fn add_tree(
        &mut self,
        src: &Path,
        dest: &Path,
        chain: &[String],
    ) -> anyhow::Result<Vec<PathBuf>> {
        let parent = dest.parent().unwrap_or(Path::new(""));
        let name = dest.file_name().map(PathBuf::from).unwrap_or_default();
        let at = self.make_dirs(parent, chain)?.join(name);
        let mut files = Vec::new();
        self.tree_into(src, &at, chain, &mut files)?;
        Ok(files)
    }

    fn tree_into(
        &mut self,
        src: &Path,
        at: &Path,
        chain: &[String],
        files: &mut Vec<PathBuf>,
    ) -> anyhow::Result<()> {
        let md = std::fs::symlink_metadata(src)
            .with_context(|| format!("{}: cannot access", src.display()))?;
        let ft = md.file_type();
        if ft.is_symlink() {
            let t = std::fs::read_link(src)?;
            self.insert(
                at.to_path_buf(),
                Self::host_entry(Kind::Symlink(t), &md, src, chain),
            );
        } else if ft.is_dir() {
            self.insert(
                at.to_path_buf(),
                Self::host_entry(Kind::Dir, &md, src, chain),
            );
            let mut names: Vec<_> = std::fs::read_dir(src)
                .with_context(|| format!("{}: cannot read directory", src.display()))?
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect();
            names.sort();
            for n in names {
                self.tree_into(&src.join(&n), &at.join(&n), chain, files)?;
            }
        } else if let Some(k) = Self::special(&md) {
            self.insert(at.to_path_buf(), Self::host_entry(k, &md, src, chain));
        } else if ft.is_file() {
            self.insert(
                at.to_path_buf(),
                Self::host_entry(Kind::File(src.to_path_buf()), &md, src, chain),
            );
            files.push(src.to_path_buf());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links() {
        assert_eq!(
            relative_link(Path::new("usr/lib64"), Path::new("usr/lib/x/ld.so")),
            Path::new("../lib/x/ld.so")
        );
        assert_eq!(
            relative_link(Path::new(""), Path::new("usr/bin")),
            Path::new("usr/bin")
        );
        assert_eq!(
            relative_link(Path::new("a/b"), Path::new("a/b")),
            Path::new(".")
        );
    }

    #[test]
    fn mirrors_symlink_chain() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir(p.join("real")).unwrap();
        std::fs::write(p.join("real/lib.so.1.2"), "x").unwrap();
        std::os::unix::fs::symlink("lib.so.1.2", p.join("real/lib.so.1")).unwrap();
        std::os::unix::fs::symlink(p.join("real"), p.join("dirlink")).unwrap();
        let mut plan = Plan::default();
        let canon = plan.add_host(&p.join("dirlink/lib.so.1"), &[]).unwrap();
        assert_eq!(
            canon,
            std::fs::canonicalize(p.join("real/lib.so.1.2")).unwrap()
        );
        let link = plan.entries.get(&rel(&p.join("dirlink"))).unwrap();
        assert_eq!(link.kind, Kind::Symlink(PathBuf::from("real")));
        let l2 = plan.entries.get(&rel(&p.join("real/lib.so.1"))).unwrap();
        assert_eq!(l2.kind, Kind::Symlink(PathBuf::from("lib.so.1.2")));
        assert!(matches!(
            plan.entries
                .get(&rel(&p.join("real/lib.so.1.2")))
                .unwrap()
                .kind,
            Kind::File(_)
        ));
    }

    #[test]
    fn make_dirs_follows_plan_links() {
        let mut plan = Plan::default();
        plan.insert("usr".into(), Entry::made(Kind::Dir, 0o755, &[]));
        plan.insert("usr/bin".into(), Entry::made(Kind::Dir, 0o755, &[]));
        plan.insert(
            "bin".into(),
            Entry::made(Kind::Symlink("usr/bin".into()), 0o777, &[]),
        );
        assert_eq!(
            plan.make_dirs(Path::new("/bin/x"), &[]).unwrap(),
            Path::new("usr/bin/x")
        );
        assert!(plan.entries.contains_key(Path::new("usr/bin/x")));
    }
}
