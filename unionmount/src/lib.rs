//! unionmount: union mounts of directories with the kernel's overlayfs,
//! in funionfs syntax (`-o dirs=A:B none C`), short form (`A:B C`) and
//! overlay syntax (`--lower L --upper U C`), also as a mount(8) helper.

pub mod cli;
pub mod fuse;
pub mod helper;
pub mod plan;
pub mod sys;
pub mod ufs;

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

use plan::{Attrs, Backend, Layout};
use ufs::Branch;

/// The source name when the command line gives none.
pub const DEFAULT_SOURCE: &str = "unionmount";

/// Everything resolved, ready to mount.
#[derive(Debug, Clone, Serialize)]
pub struct Prepared {
    /// The mount's source name.
    pub source: String,
    /// The mount point, absolute.
    pub target: PathBuf,
    /// What to mount, with absolute paths.
    pub layout: Layout,
    /// The work directory used (overlay with an upper layer).
    pub work: Option<PathBuf>,
    /// Whether the work directory does not exist yet and is created.
    pub create_work: bool,
    /// Read-only union.
    pub read_only: bool,
    /// Mount attributes.
    pub attrs: Attrs,
    /// overlayfs options passed to the kernel.
    pub options: Vec<(String, Option<String>)>,
    /// The options among them that unionmount added as defaults users
    /// expect (dropped again when the kernel refuses them).
    pub defaults: Vec<(String, Option<String>)>,
    /// The same union as `mount -t overlay -o ...` options.
    pub mount_options: Option<String>,
    /// Which backend mounts it: overlay, bind or fuse.
    pub backend: &'static str,
    /// Why that backend.
    pub reason: String,
    /// Whether the FUSE backend takes over when the kernel refuses the
    /// overlay's upper layer (not with --overlay).
    pub fuse_fallback: bool,
}

/// Run the tool.
///
/// # Errors
/// When the union cannot be mounted (or unmounted), or PROGRAM cannot be
/// executed.
pub fn run(cli: cli::Cli) -> Result<i32> {
    if cli.lazy && !cli.umount {
        bail!("--lazy goes with --umount");
    }
    if cli.umount {
        if cli.operands.len() != 1 {
            bail!("--umount takes one TARGET");
        }
        let target = Path::new(&cli.operands[0]);
        // The work directory unionmount made beside the upper layer goes with the union (not
        // after a lazy unmount, whose overlay may still use it).
        let made_work = if cli.lazy { None } else { own_work_dir(target) };
        if let Err(e) = sys::umount(target, cli.lazy) {
            // A user's FUSE union: fusermount3 unmounts it.
            // SAFETY: plain getter.
            if unsafe { libc::geteuid() } == 0 || fuse::user_unmount(target, cli.lazy).is_err() {
                return Err(e);
            }
        }
        if let Some(w) = made_work {
            remove_unused_work(&w);
        }
        return chain(&cli.program);
    }
    let prepared = prepare(&cli)?;
    if cli.dry_run {
        ctcore::json::print_pretty(&prepared)?;
        return Ok(0);
    }
    if cli.fake {
        return Ok(0);
    }
    mount(
        &prepared,
        cli.verbose,
        force_mount2(&cli),
        !cli.program.is_empty(),
    )?;
    chain(&cli.program)
}

fn chain(program: &[OsString]) -> Result<i32> {
    if program.is_empty() {
        return Ok(0);
    }
    Err(ctcore::exec::exec(program))
}

fn force_mount2(cli: &cli::Cli) -> bool {
    cli.mount2 || std::env::var_os("UNIONMOUNT_FORCE_MOUNT2").is_some_and(|v| v == "1")
}

/// Whether this process is in a user namespace other than the initial one.
#[must_use]
pub fn in_user_namespace() -> bool {
    ctcore::read_text("/proc/self/uid_map").is_ok_and(|t| !plan::is_identity_map(&t))
}

fn canonical_dir(what: &str, p: &Path) -> Result<PathBuf> {
    if let Some(c) = ctcore::opened_path(p, true) {
        return Ok(c);
    }
    let c = std::fs::canonicalize(p)
        .map_err(|e| anyhow!("{what} {}: {}", p.display(), ctcore::error_text(&e)))?;
    if !c.is_dir() {
        bail!("{what} {}: Not a directory", p.display());
    }
    Ok(c)
}

fn dev_ino(p: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// The mount id of a path (statx), or its st_dev where statx has none.
fn mount_id(p: &Path) -> Option<u64> {
    use rustix::fs::{AtFlags, CWD, StatxFlags, statx};
    match statx(CWD, p, AtFlags::empty(), StatxFlags::MNT_ID) {
        Ok(s) if s.stx_mask & StatxFlags::MNT_ID.bits() != 0 => Some(s.stx_mnt_id),
        _ => std::fs::metadata(p).ok().map(|m| m.dev()),
    }
}

/// Resolve the command line into a [`Prepared`] union; creates nothing.
///
/// # Errors
/// On a usage error, a missing directory, an upper layer whose default work
/// directory cannot be on its mount, or an upper/work directory in use.
pub fn prepare(cli: &cli::Cli) -> Result<Prepared> {
    let mut parsed = plan::parse_options(&cli.options)?;
    let (source, target) = match cli.operands.as_slice() {
        [t] => (None, t.clone()),
        [s, t] => (Some(s.to_string_lossy().into_owned()), t.clone()),
        _ => bail!("give [SOURCE] TARGET"),
    };
    let mut lowers: Vec<PathBuf> = cli.lower.clone();
    lowers.extend(parsed.lowers.drain(..).map(PathBuf::from));
    let upper = cli.upper.clone().or(parsed.upper.take().map(PathBuf::from));
    let work = cli.work.clone().or(parsed.work.take().map(PathBuf::from));
    let mut dirs = parsed.dirs.take();
    let mut fsname = source.clone();
    if dirs.is_none() && lowers.is_empty() && upper.is_none() {
        match &source {
            Some(s) if s != "none" => {
                dirs = Some(plan::parse_branches(s)?);
                fsname = None;
            }
            _ => bail!("no branch given: use -o dirs=A:B, A:B as SOURCE, or --lower/--upper"),
        }
    } else if let (Some(list), Some(s)) = (&mut dirs, &source) {
        // funionfs: `funionfs UPPER_DIR MOUNTPOINT -o dirs=...` puts
        // UPPER_DIR on top; "none" (or a name that is no directory) doesn't.
        if s != "none" && Path::new(s).is_dir() {
            list.insert(0, (s.clone(), None));
            fsname = None;
        }
    }
    if cli.fuse && cli.overlay {
        bail!("--fuse and --overlay exclude each other");
    }
    if dirs.is_some() && (!lowers.is_empty() || upper.is_some()) {
        bail!(
            "give the branches either as dirs=/A:B, or as --lower/--upper (lowerdir=/upperdir=), not both"
        );
    }
    let forced = if cli.fuse {
        Some(Backend::Fuse)
    } else if cli.overlay {
        Some(Backend::Overlay)
    } else {
        parsed.backend
    };
    let asked = "asked for (--fuse or -o fuse)".to_string();
    let fuse = match (&dirs, forced) {
        (_, Some(Backend::Overlay)) => None,
        (Some(list), f) => f
            .map(|_| asked.clone())
            .or_else(|| plan::fuse_needed(list))
            .map(|why| {
                let b = list
                    .iter()
                    .map(|(p, m)| Branch {
                        path: PathBuf::from(p),
                        rw: m.unwrap_or(true),
                    })
                    .collect();
                (b, why)
            }),
        (None, Some(Backend::Fuse)) => {
            if lowers.is_empty() {
                bail!("no lower layer given (--lower DIR or lowerdir=DIR)");
            }
            let mut b: Vec<Branch> = upper
                .iter()
                .map(|u| Branch {
                    path: u.clone(),
                    rw: true,
                })
                .collect();
            b.extend(lowers.iter().map(|l| Branch {
                path: l.clone(),
                rw: false,
            }));
            Some((b, asked))
        }
        (None, None) => None,
    };
    let source_name = || fsname.clone().unwrap_or_else(|| DEFAULT_SOURCE.to_string());
    if let Some((branches, why)) = fuse {
        return prepare_fuse(cli, &parsed, source_name(), &target, branches, why);
    }
    if forced.is_none()
        && let Some(u) = &upper
        && let Some(fs) = refused_upper_fs(u)
    {
        let mut b = vec![Branch {
            path: u.clone(),
            rw: true,
        }];
        b.extend(lowers.iter().map(|l| Branch {
            path: l.clone(),
            rw: false,
        }));
        let why = format!(
            "the upper layer {} is on {fs}, which overlayfs refuses as an upper layer",
            u.display()
        );
        return prepare_fuse(cli, &parsed, source_name(), &target, b, why);
    }
    let (layout, nothing_writable) = plan::layout(dirs, lowers, upper, work)?;
    let read_only = cli.read_only || parsed.read_only == Some(true) || nothing_writable;
    let target = canonical_dir("mount point", Path::new(&target))?;
    let source = fsname.unwrap_or_else(|| DEFAULT_SOURCE.to_string());
    let mut options = parsed.fs_options.clone();
    let mut defaults = Vec::new();
    let (layout, work, create_work) = match layout {
        Layout::Fuse { .. } => bail!("a FUSE union needs no overlay plan"),
        Layout::Bind { .. } if !parsed.fs_options.is_empty() => bail!(
            "a single branch is a bind mount, and overlayfs options ({}) do not apply to it",
            parsed
                .fs_options
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
        Layout::Bind { dir } => (
            Layout::Bind {
                dir: canonical_dir("branch", &dir)?,
            },
            None,
            false,
        ),
        Layout::Overlay {
            lowers,
            upper,
            work,
        } => {
            let lowers = lowers
                .iter()
                .map(|l| canonical_dir("lower layer", l))
                .collect::<Result<Vec<_>>>()?;
            let upper = upper
                .map(|u| canonical_dir("upper layer", &u))
                .transpose()?;
            let (work, create) = match (&upper, work) {
                (None, _) => (None, false),
                (Some(_), Some(w)) => resolve_work(&w).map(|(w, c)| (Some(w), c))?,
                (Some(u), None) => {
                    let w = default_work(u)?;
                    let create = !w.exists();
                    (Some(w), create)
                }
            };
            if in_user_namespace() && !parsed.userxattr {
                options.insert(0, ("userxattr".to_string(), None));
            }
            if let Some(u) = &upper {
                check_in_use(u, work.as_deref())?;
            }
            if !(cli.kernel_defaults || parsed.kernel_defaults) {
                let userxattr = options.iter().any(|(k, _)| k == "userxattr");
                let mut devs: Vec<u64> = lowers
                    .iter()
                    .chain(upper.iter())
                    .filter_map(|p| dev_ino(p).map(|(d, _)| d))
                    .collect();
                devs.sort_unstable();
                devs.dedup();
                defaults =
                    plan::default_options(&options, userxattr, upper.is_some(), devs.len() > 1);
                options.extend(defaults.iter().cloned());
            }
            (
                Layout::Overlay {
                    lowers,
                    upper,
                    work: None,
                },
                work,
                create,
            )
        }
    };
    let mut p = Prepared {
        source,
        target,
        layout,
        work,
        create_work,
        read_only,
        attrs: parsed.attrs,
        options,
        defaults,
        mount_options: None,
        backend: "overlay",
        reason: String::new(),
        fuse_fallback: forced.is_none(),
    };
    if let Layout::Bind { .. } = &p.layout {
        p.backend = "bind";
        p.reason = "a single branch".into();
        p.fuse_fallback = false;
    } else {
        p.reason = if forced == Some(Backend::Overlay) {
            "asked for (--overlay or -o overlay)".into()
        } else if p.read_only {
            "overlayfs can express it: no branch is writable".into()
        } else {
            "overlayfs can express it: one writable branch, on top".into()
        };
    }
    if let Layout::Overlay { lowers, upper, .. } = &p.layout {
        let o = overlay_of(&p, lowers, upper.as_deref(), false);
        let mut s = sys::option_string(&o, &|x: &Path| x.to_string_lossy().into_owned());
        if p.read_only && upper.is_some() {
            s.push_str(",ro");
        }
        p.mount_options = Some(s);
    }
    Ok(p)
}

/// The name of the file system under `p` when overlayfs refuses it as an
/// upper layer (overlayfs, FUSE, NFS).
fn refused_upper_fs(p: &Path) -> Option<&'static str> {
    let s = rustix::fs::statfs(p).ok()?;
    #[allow(clippy::unnecessary_cast)]
    match s.f_type as i64 {
        0x794c_7630 => Some("overlayfs"),
        0x6573_5546 => Some("FUSE"),
        0x6969 => Some("NFS"),
        _ => None,
    }
}

/// The FUSE backend's plan.
fn prepare_fuse(
    cli: &cli::Cli,
    parsed: &plan::Parsed,
    source: String,
    target: &OsString,
    branches: Vec<Branch>,
    reason: String,
) -> Result<Prepared> {
    for (k, _) in &parsed.fs_options {
        if !plan::OVERLAY_ONLY.contains(&k.as_str()) {
            bail!("option '{k}' is unknown");
        }
    }
    let target = canonical_dir("mount point", Path::new(target))?;
    let branches = branches
        .into_iter()
        .map(|b| {
            Ok(Branch {
                path: canonical_dir("branch", &b.path)?,
                rw: b.rw,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let read_only =
        cli.read_only || parsed.read_only == Some(true) || !branches.iter().any(|b| b.rw);
    Ok(Prepared {
        source,
        target,
        layout: Layout::Fuse { branches },
        work: None,
        create_work: false,
        read_only,
        attrs: parsed.attrs,
        options: Vec::new(),
        defaults: Vec::new(),
        mount_options: None,
        backend: "fuse",
        reason,
        fuse_fallback: false,
    })
}

/// An explicit work directory: absolute, and whether it must be created.
fn resolve_work(w: &Path) -> Result<(PathBuf, bool)> {
    if w.exists() {
        return Ok((canonical_dir("work directory", w)?, false));
    }
    let name = w
        .file_name()
        .ok_or_else(|| anyhow!("work directory {}: no name", w.display()))?;
    let parent = match w.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let parent = canonical_dir("parent of the work directory", parent)?;
    Ok((parent.join(name), true))
}

/// The work directory of the overlay mounted on `target` when it is the default one
/// (`.NAME.work` beside the upper layer, which unionmount makes) and the union keeps no index
/// in it (`index=on` needs it from one mount to the next).
fn own_work_dir(target: &Path) -> Option<PathBuf> {
    let target = std::fs::canonicalize(target).ok()?;
    let text = ctcore::read_text("/proc/self/mountinfo").ok()?;
    let m = ctcore::mountinfo::parse(&text)
        .into_iter()
        .rev()
        .find(|m| Path::new(&m.target) == target)?;
    if m.fstype != "overlay" || m.super_options.split(',').any(|o| o == "index=on") {
        return None;
    }
    let om = plan::overlay_mounts(&text)
        .into_iter()
        .rev()
        .find(|o| Path::new(&o.mount_point) == target)?;
    let work = PathBuf::from(om.work?);
    (Some(&work) == sibling_work(Path::new(&om.upper?)).as_ref()).then_some(work)
}

/// `.NAME.work` beside the upper layer NAME.
fn sibling_work(upper: &Path) -> Option<PathBuf> {
    let mut n = OsString::from(".");
    n.push(upper.file_name()?);
    n.push(".work");
    Some(upper.parent()?.join(n))
}

/// Remove a work directory once no mounted overlay names it any more.
fn remove_unused_work(work: &Path) {
    let Ok(text) = ctcore::read_text("/proc/self/mountinfo") else {
        return;
    };
    if plan::overlay_mounts(&text)
        .iter()
        .any(|m| m.work.as_deref().map(Path::new) == Some(work))
    {
        return;
    }
    let _ = std::fs::remove_dir_all(work);
}

/// The default work directory of an upper layer: its sibling `.NAME.work`,
/// which must be on the same mount.
fn default_work(upper: &Path) -> Result<PathBuf> {
    let (Some(parent), Some(work)) = (upper.parent(), sibling_work(upper)) else {
        bail!(
            "upper layer {}: no place for a work directory beside it; give one with --work DIR",
            upper.display()
        );
    };
    if mount_id(parent) != mount_id(upper) {
        bail!(
            "upper layer {} is the root of a mount, so its work directory cannot be beside it on \
             the same mount: use a subdirectory of that mount as the upper layer, or give --work DIR",
            upper.display()
        );
    }
    Ok(work)
}

/// Refuse an upper layer (or work directory) that a mounted overlay uses.
fn check_in_use(upper: &Path, work: Option<&Path>) -> Result<()> {
    let Ok(text) = ctcore::read_text("/proc/self/mountinfo") else {
        return Ok(());
    };
    let mine_upper = dev_ino(upper);
    let mine_work = work.and_then(dev_ino);
    for m in plan::overlay_mounts(&text) {
        for (theirs, role) in [(&m.upper, "upper layer"), (&m.work, "work directory")] {
            let Some(theirs) = theirs else { continue };
            let id = dev_ino(Path::new(theirs));
            let same = |mine: Option<(u64, u64)>, path: &Path| {
                (mine.is_some() && id == mine) || Path::new(theirs) == path
            };
            if same(mine_upper, upper) {
                bail!(
                    "upper layer {} is already the {role} of the union mounted on {}: unmount it \
                     first (unionmount -u {})",
                    upper.display(),
                    m.mount_point,
                    m.mount_point
                );
            }
            if let Some(w) = work
                && same(mine_work, w)
            {
                bail!(
                    "work directory {} is already the {role} of the union mounted on {}: \
                         unmount it first, or give another --work",
                    w.display(),
                    m.mount_point
                );
            }
        }
    }
    Ok(())
}

fn overlay_of<'a>(
    p: &'a Prepared,
    lowers: &'a [PathBuf],
    upper: Option<&'a Path>,
    verbose: bool,
) -> sys::Overlay<'a> {
    overlay_with(p, lowers, upper, verbose, &p.options)
}

fn overlay_with<'a>(
    p: &'a Prepared,
    lowers: &'a [PathBuf],
    upper: Option<&'a Path>,
    verbose: bool,
    options: &'a [(String, Option<String>)],
) -> sys::Overlay<'a> {
    sys::Overlay {
        source: &p.source,
        lowers,
        upper,
        work: p.work.as_deref(),
        options,
        read_only: p.read_only,
        attrs: p.attrs,
        target: &p.target,
        verbose,
    }
}

/// Whether the kernel refused the upper layer's file system.
fn upper_refused(reason: &str) -> bool {
    reason.contains("not supported as upperdir")
        || reason.contains("upper fs does not support")
        || reason.contains("upper fs missing required features")
}

/// A hint for a kernel refusal whose cure is knowable.
fn hint(reason: &str, p: &Prepared) -> Option<String> {
    let work = p
        .work
        .as_deref()
        .map_or_else(|| "the work directory".into(), |w| w.display().to_string());
    if reason.contains("incompat feature 'volatile'") {
        return Some(format!(
            "a volatile union used {work} before; remove {work}/work to use it again"
        ));
    }
    if upper_refused(reason) {
        return Some(
            "the upper layer must be on a local filesystem such as ext4, xfs, btrfs or tmpfs, \
             not on an overlay, FUSE or NFS"
                .into(),
        );
    }
    if reason.contains("must reside under the same mount") {
        return Some(format!("{work} must be on the upper layer's mount"));
    }
    None
}

fn mount_overlay(o: &sys::Overlay, verbose: bool, force_mount2: bool) -> Result<()> {
    if force_mount2 {
        return sys::mount_legacy(o);
    }
    match sys::mount_new(o) {
        Ok(()) => Ok(()),
        Err(sys::NewApiError::Failed(e)) => Err(e),
        Err(sys::NewApiError::Unsupported(why)) => {
            if verbose {
                eprintln!("unionmount: new mount API unusable ({why}); using mount(2)");
            }
            sys::mount_legacy(o)
        }
    }
}

/// Mount a prepared union: create the work directory when needed, mount,
/// and remove what was created when the mount fails.
///
/// # Errors
/// With the kernel's reason when it refuses.
pub fn mount(p: &Prepared, verbose: bool, force_mount2: bool, program: bool) -> Result<()> {
    let what = || format!("cannot mount the union on {}", p.target.display());
    let fuse = |branches: &[Branch]| {
        fuse::mount(
            &p.source,
            &p.target,
            branches,
            p.read_only,
            p.attrs,
            program,
        )
    };
    match &p.layout {
        Layout::Fuse { branches } => fuse(branches).map_err(|e| anyhow!("{}: {e:#}", what())),
        Layout::Bind { dir } => sys::bind(dir, &p.target, p.read_only, p.attrs).with_context(what),
        Layout::Overlay { lowers, upper, .. } => {
            let created = match (&p.work, p.create_work) {
                (Some(w), true) => {
                    std::fs::create_dir(w).map_err(|e| {
                        anyhow!(
                            "creating the work directory {}: {}",
                            w.display(),
                            ctcore::error_text(&e)
                        )
                    })?;
                    Some(w.clone())
                }
                _ => None,
            };
            let o = overlay_of(p, lowers, upper.as_deref(), verbose);
            let mut res = mount_overlay(&o, verbose, force_mount2);
            if let Err(e) = &res
                && !p.defaults.is_empty()
            {
                // The kernel refused a default of ours (an old kernel, a
                // combination with the user's options): its own defaults.
                let kernel: Vec<_> = p
                    .options
                    .iter()
                    .filter(|o| !p.defaults.contains(o))
                    .cloned()
                    .collect();
                if verbose {
                    eprintln!("unionmount: {e:#}; again with the kernel's defaults");
                }
                let o = overlay_with(p, lowers, upper.as_deref(), verbose, &kernel);
                if mount_overlay(&o, verbose, force_mount2).is_ok() {
                    res = Ok(());
                }
            }
            if res.is_err() {
                if let Some(w) = created {
                    let _ = std::fs::remove_dir_all(&w);
                }
            } else if verbose {
                eprintln!(
                    "unionmount: mounted {} on {}",
                    p.mount_options.as_deref().unwrap_or(""),
                    p.target.display()
                );
            }
            if let Err(e) = &res
                && p.fuse_fallback
                && upper_refused(&format!("{e:#}"))
            {
                let mut b: Vec<Branch> = upper
                    .iter()
                    .map(|u| Branch {
                        path: u.clone(),
                        rw: true,
                    })
                    .collect();
                b.extend(lowers.iter().map(|l| Branch {
                    path: l.clone(),
                    rw: false,
                }));
                if verbose {
                    eprintln!("unionmount: overlayfs refused the union ({e:#}): FUSE takes over");
                }
                return fuse(&b).map_err(|e| anyhow!("{}: {e:#}", what()));
            }
            res.map_err(|e| {
                let reason = format!("{e:#}");
                match hint(&reason, p) {
                    Some(h) => anyhow!("{}: {reason} ({h})", what()),
                    None => anyhow!("{}: {reason}", what()),
                }
            })
        }
    }
}
