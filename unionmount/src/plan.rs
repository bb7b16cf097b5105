//! From the command line to a plan: which layers, which options.  Pure
//! string work, unit-tested without privilege.

use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::Serialize;

/// A mount attribute (per mount point, not per filesystem).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Attrs {
    /// `nosuid`
    pub nosuid: bool,
    /// `nodev`
    pub nodev: bool,
    /// `noexec`
    pub noexec: bool,
    /// `noatime`
    pub noatime: bool,
    /// `nodiratime`
    pub nodiratime: bool,
    /// `strictatime`
    pub strictatime: bool,
}

/// Where each option of the command line goes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// `dirs=` branches, in order, with their mode (true = writable) when given.
    pub dirs: Option<Vec<(String, Option<bool>)>>,
    /// `lowerdir=` / `lowerdir+=` layers, top first.
    pub lowers: Vec<String>,
    /// `upperdir=`
    pub upper: Option<String>,
    /// `workdir=`
    pub work: Option<String>,
    /// `ro` (Some(true)) or `rw` (Some(false)), the last one wins.
    pub read_only: Option<bool>,
    /// Mount attributes.
    pub attrs: Attrs,
    /// Options for the overlay filesystem, in order: key and optional value.
    pub fs_options: Vec<(String, Option<String>)>,
    /// Whether `userxattr` was among them.
    pub userxattr: bool,
    /// `kernel_defaults`: add no option of ours (redirect_dir, xino).
    pub kernel_defaults: bool,
    /// `fuse` or `overlay`: the backend asked for.
    pub backend: Option<Backend>,
}

/// The backend asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The kernel's overlayfs.
    Overlay,
    /// The union in user space, through FUSE.
    Fuse,
}

/// overlayfs options that the FUSE backend accepts and ignores.
pub const OVERLAY_ONLY: &[&str] = &[
    "redirect_dir",
    "xino",
    "index",
    "metacopy",
    "userxattr",
    "volatile",
    "uuid",
    "nfs_export",
    "default_permissions",
    "verity",
    "override_creds",
];

/// Why the FUSE backend serves a `dirs=` list, if it must: two writable
/// branches, or a writable branch below a read-only one (overlayfs has one
/// writable layer, on top).
#[must_use]
pub fn fuse_needed(dirs: &[(String, Option<bool>)]) -> Option<String> {
    let rw: Vec<usize> = dirs
        .iter()
        .enumerate()
        .filter(|(_, (_, m))| m.unwrap_or(true))
        .map(|(i, _)| i)
        .collect();
    if dirs.len() < 2 {
        return None;
    }
    match rw.as_slice() {
        [] | [0] => None,
        [_] => Some(
            "the writable branch is not the first one, and overlayfs writes only to its top layer"
                .into(),
        ),
        _ => Some(format!(
            "{} branches are writable, and overlayfs has a single writable layer",
            rw.len()
        )),
    }
}

/// funionfs and unionfs-fuse options that mean nothing for overlayfs.
const IGNORED: &[&str] = &[
    "del_string",
    "delete",
    "copyup",
    "copyupuid",
    "copyupgid",
    "copyupmode",
    "funionfs_debug",
    "cow",
    "allow_other",
    "allow_root",
    "use_ino",
    "hide_meta_files",
    "hide_meta_dir",
    "statfs_omit_ro",
    "preserve_branch",
    // userspace mount options that mount(8) or fstab may hand over
    "defaults",
    "auto",
    "noauto",
    "nofail",
    "_netdev",
    "user",
    "nouser",
    "users",
    "owner",
    "group",
    "comment",
    "loud",
    "silent",
    "fsname",
    "subtype",
];

/// Split `s` at unescaped occurrences of `sep` (a backslash escapes the
/// next character), keeping the escapes in the pieces.
#[must_use]
pub fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            cur.push(c);
            if let Some(n) = chars.next() {
                cur.push(n);
            }
        } else if c == sep {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// Remove backslash escapes.
#[must_use]
pub fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Escape a path for an overlay option string: `\`, `:` and `,`.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ':' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Parse a branch list `A[=rw|ro]:B[=ro]:...`.
///
/// # Errors
/// On an empty branch.
pub fn parse_branches(list: &str) -> Result<Vec<(String, Option<bool>)>> {
    let mut out = Vec::new();
    for raw in split_unescaped(list, ':') {
        let mut path = raw.as_str();
        let mut mode = None;
        if let Some((p, m)) = raw.rsplit_once('=') {
            match m.to_ascii_lowercase().as_str() {
                "rw" => {
                    path = p;
                    mode = Some(true);
                }
                "ro" => {
                    path = p;
                    mode = Some(false);
                }
                _ => {}
            }
        }
        if path.is_empty() {
            bail!("empty branch in '{list}'");
        }
        out.push((unescape(path), mode));
    }
    Ok(out)
}

/// Parse every `-o` argument, in order.
///
/// # Errors
/// On a malformed option.
pub fn parse_options<S: AsRef<str>>(args: &[S]) -> Result<Parsed> {
    let mut p = Parsed::default();
    for arg in args {
        for opt in split_unescaped(arg.as_ref(), ',') {
            if opt.is_empty() {
                continue;
            }
            let (key, value) = match opt.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (opt.clone(), None),
            };
            let need = |v: &Option<String>| -> Result<String> {
                match v {
                    Some(v) if !v.is_empty() => Ok(v.clone()),
                    _ => bail!("option '{key}' needs a value"),
                }
            };
            match key.as_str() {
                "dirs" => p.dirs = Some(parse_branches(&need(&value)?)?),
                "lowerdir" => {
                    let v = need(&value)?;
                    if v.contains("::") {
                        bail!(
                            "data-only lower layers ('::' in lowerdir) are not supported here: \
                             give them as datadir+=DIR"
                        );
                    }
                    for l in split_unescaped(&v, ':') {
                        if l.is_empty() {
                            bail!("empty layer in lowerdir={v}");
                        }
                        p.lowers.push(unescape(&l));
                    }
                }
                "lowerdir+" => p.lowers.push(need(&value)?),
                "upperdir" => p.upper = Some(unescape(&need(&value)?)),
                "workdir" => p.work = Some(unescape(&need(&value)?)),
                "ro" if value.is_none() => p.read_only = Some(true),
                "rw" if value.is_none() => p.read_only = Some(false),
                "nosuid" => p.attrs.nosuid = true,
                "suid" => p.attrs.nosuid = false,
                "nodev" => p.attrs.nodev = true,
                "dev" => p.attrs.nodev = false,
                "noexec" => p.attrs.noexec = true,
                "exec" => p.attrs.noexec = false,
                "noatime" => p.attrs.noatime = true,
                "atime" | "relatime" => {
                    p.attrs.noatime = false;
                    p.attrs.strictatime = false;
                }
                "strictatime" => p.attrs.strictatime = true,
                "nodiratime" => p.attrs.nodiratime = true,
                "diratime" => p.attrs.nodiratime = false,
                "kernel_defaults" if value.is_none() => p.kernel_defaults = true,
                "fuse" if value.is_none() => p.backend = Some(Backend::Fuse),
                "overlay" if value.is_none() => p.backend = Some(Backend::Overlay),
                k if IGNORED.contains(&k) || k.starts_with("x-") => {}
                _ => {
                    if key == "userxattr" {
                        p.userxattr = true;
                    }
                    p.fs_options.push((key, value));
                }
            }
        }
    }
    Ok(p)
}

/// The overlayfs options that users expect and the kernel may not default
/// to: `redirect_dir=on` (renaming a lower or merged directory works
/// instead of failing with EXDEV; `follow` for a union without upper layer,
/// which renames nothing) and `xino` (stable, unique inode numbers and one
/// device number: `on` when the layers span file systems, else `auto`).
/// An option the user gave wins, and `userxattr` rules out `redirect_dir`
/// (the kernel refuses the pair).
#[must_use]
pub fn default_options(
    given: &[(String, Option<String>)],
    userxattr: bool,
    has_upper: bool,
    spans_filesystems: bool,
) -> Vec<(String, Option<String>)> {
    let has = |k: &str| given.iter().any(|(g, _)| g == k);
    let mut out = Vec::new();
    if !has("redirect_dir") && !userxattr {
        let v = if has_upper { "on" } else { "follow" };
        out.push(("redirect_dir".to_string(), Some(v.to_string())));
    }
    if !has("xino") {
        let v = if spans_filesystems { "on" } else { "auto" };
        out.push(("xino".to_string(), Some(v.to_string())));
    }
    out
}

/// What to mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Layout {
    /// An overlay: lower layers top first, optional upper and work dirs.
    Overlay {
        /// Read-only layers, top first.
        lowers: Vec<PathBuf>,
        /// The writable layer.
        upper: Option<PathBuf>,
        /// The work directory given by the user.
        #[serde(skip_serializing_if = "Option::is_none")]
        work: Option<PathBuf>,
    },
    /// A bind mount of one directory.
    Bind {
        /// The directory.
        dir: PathBuf,
    },
    /// The union in user space: every branch, top first, with its mode.
    Fuse {
        /// The branches.
        branches: Vec<crate::ufs::Branch>,
    },
}

/// Turn the branches into a layout.
///
/// `dirs` is the funionfs/short-form branch list; `lowers`/`upper`/`work`
/// the overlay syntax.  Returns the layout and whether the union is
/// read-only because nothing is writable.
///
/// # Errors
/// When the two syntaxes are mixed, a non-first branch is marked rw, or
/// there is nothing to mount.
pub fn layout(
    dirs: Option<Vec<(String, Option<bool>)>>,
    lowers: Vec<PathBuf>,
    upper: Option<PathBuf>,
    work: Option<PathBuf>,
) -> Result<(Layout, bool)> {
    if let Some(dirs) = dirs {
        if !lowers.is_empty() || upper.is_some() {
            bail!(
                "give the branches either as dirs=/A:B, or as --lower/--upper (lowerdir=/upperdir=), not both"
            );
        }
        if dirs.is_empty() {
            bail!("no branch given");
        }
        for (i, (path, mode)) in dirs.iter().enumerate() {
            if i > 0 && *mode == Some(true) {
                bail!(
                    "branch {path}: only the first branch can be writable (overlayfs has one upper layer)"
                );
            }
        }
        let mut it = dirs.into_iter();
        let (first, mode) = it.next().expect("non-empty");
        let rest: Vec<PathBuf> = it.map(|(p, _)| PathBuf::from(p)).collect();
        let writable = mode.unwrap_or(true);
        return Ok(match (writable, rest.is_empty()) {
            (true, true) => (
                Layout::Bind {
                    dir: PathBuf::from(first),
                },
                false,
            ),
            (true, false) => (
                Layout::Overlay {
                    lowers: rest,
                    upper: Some(PathBuf::from(first)),
                    work,
                },
                false,
            ),
            (false, true) => (
                Layout::Bind {
                    dir: PathBuf::from(first),
                },
                true,
            ),
            (false, false) => {
                let mut all = vec![PathBuf::from(first)];
                all.extend(rest);
                (
                    Layout::Overlay {
                        lowers: all,
                        upper: None,
                        work: None,
                    },
                    true,
                )
            }
        });
    }
    if lowers.is_empty() {
        if upper.is_some() {
            bail!("no lower layer given (--lower DIR or lowerdir=DIR)");
        }
        bail!("no branch given: use -o dirs=A:B, A:B as SOURCE, or --lower/--upper");
    }
    if upper.is_none() {
        if work.is_some() {
            bail!("a work directory needs an upper layer (--upper DIR)");
        }
        if lowers.len() == 1 {
            let dir = lowers.into_iter().next().expect("one");
            return Ok((Layout::Bind { dir }, true));
        }
        return Ok((
            Layout::Overlay {
                lowers,
                upper: None,
                work: None,
            },
            true,
        ));
    }
    Ok((
        Layout::Overlay {
            lowers,
            upper,
            work,
        },
        false,
    ))
}

/// Whether a `uid_map` text is the initial namespace's identity map.
#[must_use]
pub fn is_identity_map(text: &str) -> bool {
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|v: &Vec<&str>| !v.is_empty())
        .collect();
    lines.len() == 1 && lines[0] == ["0", "0", "4294967295"]
}

/// One overlay mount of /proc/self/mountinfo: mount point and the paths
/// its options name as upper and work directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayMount {
    /// Where it is mounted.
    pub mount_point: String,
    /// `upperdir=`
    pub upper: Option<String>,
    /// `workdir=`
    pub work: Option<String>,
}

/// The overlay mounts of a mountinfo text.
#[must_use]
pub fn overlay_mounts(mountinfo: &str) -> Vec<OverlayMount> {
    use ctcore::mountinfo::unescape;
    let mut out = Vec::new();
    for mi in ctcore::mountinfo::parse(mountinfo) {
        if mi.fstype != "overlay" {
            continue;
        }
        let mut m = OverlayMount {
            mount_point: mi.target,
            upper: None,
            work: None,
        };
        for o in mi.super_options.split(',') {
            if let Some(v) = o.strip_prefix("upperdir=") {
                m.upper = Some(unescape(v));
            } else if let Some(v) = o.strip_prefix("workdir=") {
                m.work = Some(unescape(v));
            }
        }
        out.push(m);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pb(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn branches_default_and_marks() {
        let b = parse_branches("./A:./B=RO:C=rw").unwrap();
        assert_eq!(
            b,
            vec![
                ("./A".into(), None),
                ("./B".into(), Some(false)),
                ("C".into(), Some(true))
            ]
        );
        assert_eq!(
            parse_branches("a\\:b:c").unwrap(),
            vec![("a:b".into(), None), ("c".into(), None)]
        );
        assert_eq!(parse_branches("x=y").unwrap(), vec![("x=y".into(), None)]);
        assert!(parse_branches("a::b").is_err());
    }

    #[test]
    fn funionfs_layouts() {
        let d = parse_branches("A:B:C").unwrap();
        let (l, ro) = layout(Some(d), vec![], None, None).unwrap();
        assert!(!ro);
        assert_eq!(
            l,
            Layout::Overlay {
                lowers: vec![pb("B"), pb("C")],
                upper: Some(pb("A")),
                work: None
            }
        );
        let (l, ro) = layout(Some(parse_branches("A=ro:B").unwrap()), vec![], None, None).unwrap();
        assert!(ro);
        assert_eq!(
            l,
            Layout::Overlay {
                lowers: vec![pb("A"), pb("B")],
                upper: None,
                work: None
            }
        );
        let (l, ro) = layout(Some(parse_branches("A=ro").unwrap()), vec![], None, None).unwrap();
        assert!(ro);
        assert_eq!(l, Layout::Bind { dir: pb("A") });
        let (l, ro) = layout(Some(parse_branches("A").unwrap()), vec![], None, None).unwrap();
        assert!(!ro);
        assert_eq!(l, Layout::Bind { dir: pb("A") });
        let e = layout(Some(parse_branches("A:B=rw").unwrap()), vec![], None, None).unwrap_err();
        assert!(e.to_string().contains("only the first branch"), "{e}");
        assert!(
            layout(
                Some(parse_branches("A:B").unwrap()),
                vec![pb("L")],
                None,
                None
            )
            .is_err()
        );
    }

    #[test]
    fn overlay_layouts() {
        let (l, ro) = layout(None, vec![pb("L1"), pb("L2")], Some(pb("U")), Some(pb("W"))).unwrap();
        assert!(!ro);
        assert_eq!(
            l,
            Layout::Overlay {
                lowers: vec![pb("L1"), pb("L2")],
                upper: Some(pb("U")),
                work: Some(pb("W"))
            }
        );
        let (l, ro) = layout(None, vec![pb("L1")], None, None).unwrap();
        assert!(ro);
        assert_eq!(l, Layout::Bind { dir: pb("L1") });
        assert!(layout(None, vec![], Some(pb("U")), None).is_err());
        assert!(layout(None, vec![], None, None).is_err());
        assert!(layout(None, vec![pb("L")], None, Some(pb("W"))).is_err());
    }

    #[test]
    fn options_sorted() {
        let p = parse_options(&[
            "rw,lowerdir=/l1:/l\\:2,upperdir=/u,workdir=/w,dev,suid",
            "redirect_dir=on,xino=auto,userxattr,nosuid,ro,noauto,x-systemd.foo,cow,volatile",
        ])
        .unwrap();
        assert_eq!(p.lowers, vec!["/l1".to_string(), "/l:2".to_string()]);
        assert_eq!(p.upper.as_deref(), Some("/u"));
        assert_eq!(p.work.as_deref(), Some("/w"));
        assert_eq!(p.read_only, Some(true));
        assert!(p.attrs.nosuid);
        assert!(p.userxattr);
        assert_eq!(
            p.fs_options,
            vec![
                ("redirect_dir".into(), Some("on".into())),
                ("xino".into(), Some("auto".into())),
                ("userxattr".into(), None),
                ("volatile".into(), None)
            ]
        );
        let p = parse_options(&["dirs=./A:./B,lowerdir+=/x,lowerdir+=/y"]).unwrap();
        assert_eq!(p.dirs.unwrap().len(), 2);
        assert_eq!(p.lowers, vec!["/x".to_string(), "/y".to_string()]);
        assert!(parse_options(&["dirs="]).is_err());
        assert!(parse_options(&["lowerdir=/a::/b"]).is_err());
    }

    #[test]
    fn when_fuse() {
        let d = |s: &str| parse_branches(s).unwrap();
        assert_eq!(fuse_needed(&d("A")), None);
        assert_eq!(fuse_needed(&d("A:B=ro:C=RO")), None);
        assert_eq!(fuse_needed(&d("A=ro:B=ro")), None);
        assert!(fuse_needed(&d("A:B")).unwrap().contains("2 branches"));
        assert!(fuse_needed(&d("A=ro:B")).unwrap().contains("not the first"));
        let p = parse_options(&["fuse,dirs=A:B"]).unwrap();
        assert_eq!(p.backend, Some(Backend::Fuse));
        assert_eq!(
            parse_options(&["overlay"]).unwrap().backend,
            Some(Backend::Overlay)
        );
    }

    #[test]
    fn defaults_users_expect() {
        let o = |k: &str, v: &str| (k.to_string(), Some(v.to_string()));
        assert_eq!(
            default_options(&[], false, true, false),
            vec![o("redirect_dir", "on"), o("xino", "auto")]
        );
        assert_eq!(
            default_options(&[], false, false, true),
            vec![o("redirect_dir", "follow"), o("xino", "on")]
        );
        assert_eq!(
            default_options(&[], true, true, true),
            vec![o("xino", "on")]
        );
        assert_eq!(
            default_options(
                &[o("redirect_dir", "off"), o("xino", "off")],
                false,
                true,
                true
            ),
            vec![]
        );
        let p = parse_options(&["kernel_defaults,xino=off"]).unwrap();
        assert!(p.kernel_defaults);
        assert_eq!(p.fs_options, vec![o("xino", "off")]);
    }

    #[test]
    fn escaping_round_trip() {
        let s = "/a:b,c\\d";
        assert_eq!(escape(s), "/a\\:b\\,c\\\\d");
        assert_eq!(unescape(&escape(s)), s);
        assert_eq!(split_unescaped(&escape(s), ':'), vec![escape(s)]);
    }

    #[test]
    fn identity_map() {
        assert!(is_identity_map("         0          0 4294967295\n"));
        assert!(!is_identity_map("         0       1000          1\n"));
        assert!(!is_identity_map(""));
    }

    #[test]
    fn mountinfo_overlays() {
        let text = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
300 22 0:55 / /tmp/my\\040c rw,relatime - overlay none rw,lowerdir=/b,upperdir=/tmp/a\\054x,workdir=/tmp/.a.work,uuid=on
301 22 0:56 / /x rw - overlay overlay ro,lowerdir+=/l1,lowerdir+=/l2
";
        let m = overlay_mounts(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, "/tmp/my c");
        assert_eq!(m[0].upper.as_deref(), Some("/tmp/a,x"));
        assert_eq!(m[0].work.as_deref(), Some("/tmp/.a.work"));
        assert_eq!(m[1].upper, None);
        assert_eq!(ctcore::mountinfo::unescape("a\\134b\\040"), "a\\b ");
    }
}
