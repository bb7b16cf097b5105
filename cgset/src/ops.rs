//! Group lifecycle: create (with v1 cpuset set-up and v2 controller
//! enabling), write, attach, delete, freeze.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::limits::{Current, Write, readback_note};
use crate::tree::{Group, Tree, V2_STANDARD, Version, read_words};

/// Reads a group's files, or, where the group does not exist yet, the
/// files of its nearest existing ancestor (what it would inherit).
pub struct GroupFiles<'a> {
    pub tree: &'a Tree,
    pub group: &'a Group,
}

impl GroupFiles<'_> {
    fn dir_of(&self, ctrl: &str) -> Option<PathBuf> {
        let (i, _) = self.tree.hier_for(ctrl)?;
        let chain = self.group.chain(&self.tree.hiers[i]);
        chain.into_iter().rev().find(|d| d.is_dir())
    }
}

impl Current for GroupFiles<'_> {
    fn read(&self, ctrl: &str, file: &str) -> Option<String> {
        fs::read_to_string(self.dir_of(ctrl)?.join(file))
            .ok()
            .map(|s| s.trim().to_string())
    }
    fn has(&self, ctrl: &str, file: &str) -> bool {
        self.dir_of(ctrl).is_some_and(|d| d.join(file).exists())
    }
}

/// What a run did, to undo it on failure.
#[derive(Debug, Default)]
pub struct Created {
    pub dirs: Vec<PathBuf>,
}

impl Created {
    /// Remove what was created, deepest first.
    pub fn undo(&mut self) {
        for d in self.dirs.drain(..).rev() {
            let _ = fs::remove_dir(&d);
        }
    }
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// Write one value to a cgroup file, as one write(2).
///
/// # Errors
/// The kernel's refusal, naming the file and value.
pub fn write_file(path: &Path, value: &str) -> io::Result<()> {
    use std::io::Write as _;
    // O_TRUNC as a shell's `>` does: cgroupfs ignores it, plain files (fake trees) need it.
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(value.as_bytes())
}

/// The error for a refused write, with a hint where the cause is knowable.
fn write_error(path: &Path, value: &str, e: &io::Error) -> anyhow::Error {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
    let dir = path.parent().unwrap_or(Path::new("/"));
    let rd = |f: &str| {
        fs::read_to_string(dir.join(f))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let hint = match (file, errno(e)) {
        ("memory.limit_in_bytes" | "memory.max", libc::EBUSY) => format!(
            ": unable to set memory limit to {value} (current usage: {}, peak usage: {})",
            rd(if file == "memory.max" {
                "memory.current"
            } else {
                "memory.usage_in_bytes"
            }),
            rd(if file == "memory.max" {
                "memory.peak"
            } else {
                "memory.max_usage_in_bytes"
            }),
        ),
        ("memory.memsw.limit_in_bytes", libc::EINVAL) => {
            format!(
                ": memory+swap limit should be >= memory limit ({})",
                rd("memory.limit_in_bytes")
            )
        }
        ("memory.limit_in_bytes", libc::EINVAL) => format!(
            ": memory limit should be <= memory+swap limit ({}); raise --memory-swap too",
            rd("memory.memsw.limit_in_bytes")
        ),
        ("cpuset.cpus" | "cpuset.mems", libc::EINVAL | libc::ERANGE) => {
            let parent = dir.parent().unwrap_or(dir);
            let avail = fs::read_to_string(parent.join(file))
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            format!(": not available in the parent cgroup ({avail})")
        }
        ("cgroup.subtree_control", libc::EBUSY) => ": the cgroup has processes of its own, and cgroup v2's \
            no-internal-processes rule lets a non-root cgroup either hold processes or pass controllers on to \
            children, not both; move its processes into a leaf cgroup first"
            .into(),
        ("cgroup.procs", libc::EBUSY) => ": the cgroup has controllers enabled for its children, and cgroup v2's \
            no-internal-processes rule keeps processes out of it; use a leaf cgroup"
            .into(),
        ("devices.deny", libc::EINVAL) => ": the cgroup has child cgroups, and cgroup v1 takes 'a' (deny \
            every device) only in a cgroup without children"
            .into(),
        ("devices.allow", libc::EPERM) => ": the parent cgroup does not allow that device (a v1 devices cgroup \
            can only narrow what its parent allows)"
            .into(),
        (_, libc::ENOENT) => {
            ": the kernel has no such file here (wrong name, or controller not enabled)".into()
        }
        (_, libc::EACCES | libc::EPERM) => {
            ": permission denied (run as root, or get the cgroup delegated)".into()
        }
        _ => String::new(),
    };
    anyhow!(
        "cannot write '{value}' to {}: {}{hint}",
        path.display(),
        ctcore::error_text(e)
    )
}

/// Make sure the group exists in every hierarchy it lives in: mkdir from
/// the top down; on v1 give new cpusets their parent's cpus and mems; on
/// v2 enable controllers in every ancestor's cgroup.subtree_control
/// (those in `required` must succeed).
///
/// # Errors
/// When a directory cannot be made or a required controller cannot be
/// enabled; what was created is recorded in `created` for undo.
pub fn ensure(
    tree: &Tree,
    group: &Group,
    required: &[&str],
    dry: bool,
    created: &mut Created,
) -> Result<()> {
    for i in tree.hiers_of(group) {
        let h = &tree.hiers[i];
        let chain = group.chain(h);
        if h.v2 {
            // All ancestors from the mount down, for the controllers to be available.
            let full = full_chain(&h.mount, &chain);
            let req: Vec<&str> = required
                .iter()
                .filter(|c| tree.hier_for(c).is_some_and(|(j, _)| j == i))
                .map(|c| crate::tree::v2_name(c))
                .collect();
            for k in 1..full.len() {
                let parent = &full[k - 1];
                let child = &full[k];
                enable_controllers(parent, &req, dry, child)?;
                mkdir(child, dry, created)?;
            }
        } else {
            let cpuset = h.controllers.iter().any(|c| c == "cpuset");
            // The usual case first, in one call: the group is new and its
            // parent is there (a start under contain's parent group).
            if !dry && chain.len() > 1 {
                let leaf = &chain[chain.len() - 1];
                match fs::create_dir(leaf) {
                    Ok(()) => {
                        created.dirs.push(leaf.clone());
                        // An empty parent cpuset (made by others, as
                        // libcgroup's cgcreate does): every level gets its
                        // parent's cpus and mems, from the top down.
                        if cpuset && !init_cpuset(leaf)? {
                            for d in &chain[1..] {
                                init_cpuset(d)?;
                            }
                        }
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && leaf.is_dir() => {
                        if cpuset {
                            init_cpuset(leaf)?;
                        }
                        continue;
                    }
                    // A missing parent or a refusal: the way below, which
                    // makes the parents and says what failed.
                    Err(_) => {}
                }
            }
            // The group is there already (a join): so are its ancestors.
            let leaf = chain.last().filter(|d| chain.len() > 1 && d.is_dir());
            if let Some(d) = leaf {
                if cpuset && !dry {
                    init_cpuset(d)?;
                }
                continue;
            }
            if !chain[0].is_dir() {
                bail!(
                    "{}: no such cgroup (the base of '{}')",
                    chain[0].display(),
                    group.name
                );
            }
            for d in &chain[1..] {
                mkdir(d, dry, created)?;
                // New cpusets, and empty ones made by others (libcgroup's
                // cgcreate), get their parent's cpus and mems.
                if cpuset && !dry {
                    init_cpuset(d)?;
                }
            }
        }
    }
    Ok(())
}

fn full_chain(mount: &Path, chain: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = vec![mount.to_path_buf()];
    let base = &chain[0];
    if let Ok(rel) = base.strip_prefix(mount) {
        let mut p = mount.to_path_buf();
        for c in rel.components() {
            p.push(c);
            out.push(p.clone());
        }
    }
    out.extend(chain[1..].iter().cloned());
    out
}

fn mkdir(d: &Path, dry: bool, created: &mut Created) -> Result<bool> {
    if d.is_dir() {
        return Ok(false);
    }
    if dry {
        println!("mkdir {}", d.display());
        return Ok(true);
    }
    match fs::create_dir(d) {
        Ok(()) => {
            created.dirs.push(d.to_path_buf());
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(anyhow!(
            "cannot create cgroup {}: {}",
            d.display(),
            ctcore::error_text(&e)
        )),
    }
}

/// A new v1 cpuset is empty; copy the parent's cpus and mems.  False
/// when the parent had none to give (an empty cpuset itself).
fn init_cpuset(d: &Path) -> Result<bool> {
    let parent = d.parent().unwrap_or(d);
    let mut given = true;
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let mine = ctcore::read_text(d.join(f)).unwrap_or_default();
        if mine.trim().is_empty() {
            let v = ctcore::read_text(parent.join(f)).unwrap_or_default();
            let v = v.trim();
            if v.is_empty() {
                given = false;
            } else {
                write_file(&d.join(f), v).map_err(|e| write_error(&d.join(f), v, &e))?;
            }
        }
    }
    Ok(given)
}

/// Enable the standard controllers in `dir`'s subtree_control, for `child`.
fn enable_controllers(dir: &Path, required: &[&str], dry: bool, child: &Path) -> Result<()> {
    let avail = read_words(&dir.join("cgroup.controllers"));
    let on = read_words(&dir.join("cgroup.subtree_control"));
    for r in required {
        if !avail.iter().any(|a| a == r) {
            bail!(
                "controller {r} is not available in {} (not in its cgroup.controllers: enable it in the parent's \
                 cgroup.subtree_control, or get it delegated)",
                dir.display()
            );
        }
    }
    let want: Vec<&str> = V2_STANDARD
        .iter()
        .copied()
        .filter(|c| avail.iter().any(|a| a == c) && !on.iter().any(|o| o == c))
        .collect();
    if want.is_empty() {
        return Ok(());
    }
    let path = dir.join("cgroup.subtree_control");
    if dry {
        println!("write {} {}", path.display(), tokens('+', &want));
        return Ok(());
    }
    let mut files = CgroupFiles { dir };
    enable_in(&mut files, &want, required, &path, child)
}

/// The two files of one v2 cgroup that enabling controllers touches, apart
/// so that the retry and undo logic can be tested on a model of the kernel.
trait SubtreeFiles {
    /// Write to cgroup.subtree_control.
    fn write(&mut self, value: &str) -> io::Result<()>;
    /// cgroup.type (`domain`, `domain threaded`, ...), if there is one.
    fn cgroup_type(&mut self) -> Option<String>;
}

struct CgroupFiles<'a> {
    dir: &'a Path,
}

impl SubtreeFiles for CgroupFiles<'_> {
    fn write(&mut self, value: &str) -> io::Result<()> {
        write_file(&self.dir.join("cgroup.subtree_control"), value)
    }
    fn cgroup_type(&mut self) -> Option<String> {
        fs::read_to_string(self.dir.join("cgroup.type"))
            .ok()
            .map(|s| s.trim().to_string())
    }
}

/// The controllers that cgroup v2 runs in threaded mode: a domain cgroup
/// with processes may enable them, but then becomes a thread root.
const V2_THREADED: &[&str] = &["cpu", "cpuset", "perf_event", "pids"];

/// `+a +b` or `-a -b`.
fn tokens(sign: char, ctrls: &[&str]) -> String {
    ctrls
        .iter()
        .map(|c| format!("{sign}{c}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why controllers could not be enabled.
enum Refused {
    /// The kernel said no.
    Kernel(io::Error),
    /// The kernel took them, but that changed the cgroup's type (a domain
    /// with processes became a thread root); undone.
    TypeChanged,
}

/// Enable `ctrls`; a write that changes the cgroup's type is undone and
/// counts as refused.
fn try_enable(
    files: &mut impl SubtreeFiles,
    ctrls: &[&str],
    before: &Option<String>,
) -> Result<(), Refused> {
    files.write(&tokens('+', ctrls)).map_err(Refused::Kernel)?;
    if files.cgroup_type() == *before {
        return Ok(());
    }
    let _ = files.write(&tokens('-', ctrls));
    Err(Refused::TypeChanged)
}

/// Enable `want` (none of them on yet) in one cgroup; those in `required`
/// must succeed, the others are enabled where the kernel allows.  On
/// failure the cgroup's subtree_control and type are as they were.
fn enable_in(
    files: &mut impl SubtreeFiles,
    want: &[&str],
    required: &[&str],
    path: &Path,
    child: &Path,
) -> Result<()> {
    let before = files.cgroup_type();
    let needed: Vec<&str> = want
        .iter()
        .copied()
        .filter(|c| required.contains(c))
        .collect();
    // The kernel takes a whole write or none of it.
    match try_enable(files, want, &before) {
        Ok(()) => return Ok(()),
        Err(Refused::Kernel(e)) if errno(&e) != libc::EBUSY => {}
        // EBUSY: a domain cgroup with processes of its own.  Enabling even the
        // threaded controllers alone would make it a thread root, its new
        // child a useless "domain invalid" one: enable nothing.
        Err(r) => {
            if needed.is_empty() {
                return Ok(());
            }
            return Err(internal_processes(&needed, path, child, &r));
        }
    }
    // Refused for another reason (a thread subtree takes only the threaded
    // controllers, a controller of its own refusing): one at a time, the
    // domain controllers first, undoing what was done when a required one
    // fails.
    let mut order = want.to_vec();
    order.sort_by_key(|c| V2_THREADED.contains(c));
    let mut done: Vec<&str> = Vec::new();
    for c in order {
        let Err(r) = try_enable(files, &[c], &before) else {
            done.push(c);
            continue;
        };
        if !required.contains(&c) {
            continue;
        }
        if !done.is_empty() {
            let _ = files.write(&tokens('-', &done));
        }
        return Err(match r {
            Refused::Kernel(e) if errno(&e) != libc::EBUSY => {
                write_error(path, &format!("+{c}"), &e)
            }
            r => internal_processes(&[c], path, child, &r),
        });
    }
    Ok(())
}

/// The no-internal-processes rule, explained.
fn internal_processes(ctrls: &[&str], path: &Path, child: &Path, r: &Refused) -> anyhow::Error {
    let what = match ctrls {
        [c] => format!("the {c} controller"),
        _ => format!("the {} controllers", ctrls.join(", ")),
    };
    let why = match r {
        Refused::Kernel(e) => ctcore::error_text(e),
        Refused::TypeChanged => "it would turn the cgroup into a thread root".into(),
    };
    anyhow!(
        "cannot enable {what} in {}: {why}: the cgroup has processes of its own, and cgroup v2's \
         no-internal-processes rule lets a non-root cgroup either hold processes or pass controllers on to \
         children like {}, not both; move its processes into a leaf cgroup first",
        path.display(),
        child.display()
    )
}

/// Do the writes in the group's directories; return notes where the kernel
/// changed a value.
///
/// # Errors
/// At the first write refused.
pub fn apply(tree: &Tree, group: &Group, writes: &[Write], dry: bool) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    let mut devices = DeviceWriter::default();
    for w in writes {
        let dir = if w.ctrl == "cgroup" {
            tree.v2().map(|h| group.dir(h))
        } else {
            tree.hier_for(&w.ctrl)
                .map(|(i, _)| group.dir(&tree.hiers[i]))
        };
        let Some(dir) = dir else {
            bail!("{}: no hierarchy serves the {} controller", w.file, w.ctrl)
        };
        let path = dir.join(&w.file);
        if dry {
            println!("write {} {}", path.display(), w.value);
            continue;
        }
        if w.file == "cgroup.subtree_control" {
            // libcgroup applies each +ctrl/-ctrl token separately.
            for tok in w.value.split_whitespace() {
                write_file(&path, tok).map_err(|e| write_error(&path, tok, &e))?;
            }
            continue;
        }
        if write_only(&w.file) {
            // A v1 device rule per write(2), all on one descriptor; nothing
            // to read back (the kernel refuses reads of these files).
            devices
                .write(&path, &w.value)
                .map_err(|e| write_error(&path, &w.value, &e))?;
            continue;
        }
        write_file(&path, &w.value).map_err(|e| write_error(&path, &w.value, &e))?;
        if let Ok(back) = ctcore::read_text(&path)
            && let Some(n) = readback_note(&w.file, &w.value, &back)
        {
            notes.push(format!("{}: {n}", group.name));
        }
    }
    Ok(notes)
}

/// The v1 files that take writes only: devices.allow and devices.deny.
fn write_only(file: &str) -> bool {
    matches!(file, "devices.allow" | "devices.deny")
}

/// Writes to the v1 devices files: the file of the last write stays open
/// for the next one to the same file when it is a cgroup file (the kernel
/// takes each write(2) as one rule), so a policy of a dozen rules costs
/// one open per file, not one per rule.  A plain file (a fake tree) is
/// opened for each write, truncated as a shell's `>` does.
#[derive(Default)]
struct DeviceWriter {
    open: Option<(PathBuf, fs::File)>,
}

impl DeviceWriter {
    fn write(&mut self, path: &Path, value: &str) -> io::Result<()> {
        use std::io::Write as _;
        if let Some((p, f)) = &mut self.open
            && p == path
        {
            return f.write_all(value.as_bytes());
        }
        self.open = None;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)?;
        f.write_all(value.as_bytes())?;
        if is_cgroupfs(&f) {
            self.open = Some((path.to_path_buf(), f));
        }
        Ok(())
    }
}

/// Whether `f` is a file of a cgroup v1 file system.
fn is_cgroupfs(f: &fs::File) -> bool {
    // CGROUP_SUPER_MAGIC; f_type's C type differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    nix::sys::statfs::fstatfs(f).is_ok_and(|s| s.filesystem_type().0 as i64 == 0x0027_e0eb)
}

/// The procs file of a directory.
fn procs_file(dir: &Path) -> PathBuf {
    dir.join("cgroup.procs")
}

/// Move the calling process, single-threaded, into the group in every
/// hierarchy.
///
/// On v1 this writes `0` (the caller) to `tasks`: the kernel moves one
/// thread without taking the global threadgroup lock for writing, whose
/// first writer after a quiet spell waits a whole RCU grace period (5 to
/// 30 ms here, most of a container start); a whole-process write to
/// cgroup.procs always takes it.  For a single-threaded process the two
/// are the same move, and the children it forks or execs stay there.  v2
/// has no such path for a domain cgroup (cgroup.threads moves stay inside
/// one domain): cgroup.procs as for any process.  Where `tasks` cannot be
/// written (a fake tree), cgroup.procs.
///
/// # Errors
/// When the kernel refuses, with the reason.
pub fn attach_self(tree: &Tree, group: &Group, dry: bool) -> Result<()> {
    for i in tree.hiers_of(group) {
        let h = &tree.hiers[i];
        attach_self_dir(&group.dir(h), h.v2, dry)?;
    }
    Ok(())
}

/// [`attach_self`]'s move in one hierarchy: into the group's directory
/// `dir` there (`v2`: of the v2 hierarchy).  For a process that is given
/// the directories rather than the tree (runc-rs's init, whose group its
/// parent made).
///
/// # Errors
/// When the kernel refuses, with the reason.
pub fn attach_self_dir(dir: &Path, v2: bool, dry: bool) -> Result<()> {
    if !v2 && !dry && write_file(&dir.join("tasks"), "0").is_ok() {
        return Ok(());
    }
    attach_one(dir, v2, nix::unistd::getpid().as_raw(), dry)
}

/// Move a process into the group in every hierarchy.
///
/// # Errors
/// When the kernel refuses, with the reason.
pub fn attach(tree: &Tree, group: &Group, pid: i32, dry: bool) -> Result<()> {
    for i in tree.hiers_of(group) {
        let h = &tree.hiers[i];
        attach_one(&group.dir(h), h.v2, pid, dry)?;
    }
    Ok(())
}

fn attach_one(dir: &Path, v2: bool, pid: i32, dry: bool) -> Result<()> {
    let path = procs_file(dir);
    if dry {
        println!("write {} {pid}", path.display());
        return Ok(());
    }
    {
        let mut tries = 0;
        loop {
            match write_file(&path, &pid.to_string()) {
                Ok(()) => break,
                Err(e) if errno(&e) == libc::EINVAL && tries < 5 => {
                    // A task still being created (TASK_NEW) is refused for a moment.
                    tries += 1;
                    sleep(Duration::from_millis(30));
                }
                Err(e) if errno(&e) == libc::EOPNOTSUPP && v2 => {
                    // A threaded cgroup takes threads, not processes: move
                    // each thread of the process (libcgroup's cgroup.threads).
                    attach_threads(dir, pid)?;
                    break;
                }
                Err(e) => {
                    let hint = match errno(&e) {
                        libc::ESRCH => format!(": no such process {pid}"),
                        libc::ENOSPC => ": the group's cpuset has no cpus or mems".into(),
                        libc::EBUSY if v2 => ": the group has child cgroups with controllers enabled; cgroup v2's \
                                                no-internal-processes rule keeps processes out of it (use a leaf group)"
                            .into(),
                        _ => String::new(),
                    };
                    bail!(
                        "cannot move process {pid} into {}: {}{hint}",
                        path.display(),
                        ctcore::error_text(&e)
                    );
                }
            }
        }
    }
    Ok(())
}

fn attach_threads(dir: &Path, pid: i32) -> Result<()> {
    let path = dir.join("cgroup.threads");
    let tasks =
        fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| anyhow!("/proc/{pid}/task: {e}"))?;
    for t in tasks.filter_map(|e| e.ok()) {
        let tid = t.file_name().to_string_lossy().into_owned();
        if let Err(e) = write_file(&path, &tid)
            && errno(&e) != libc::ESRCH
        {
            bail!(
                "cannot move thread {tid} of {pid} into {}: {}",
                path.display(),
                ctcore::error_text(&e)
            );
        }
    }
    Ok(())
}

/// The pids in a directory and every cgroup below it.
#[must_use]
pub fn procs_recursive(dir: &Path) -> Vec<i32> {
    let mut out = Vec::new();
    for d in subtree(dir) {
        out.extend(read_pids(&d));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The processes in one cgroup: its cgroup.procs, or, where that cannot be
/// read (the kernel refuses it with EOPNOTSUPP in a threaded cgroup), the
/// processes its cgroup.threads names, each thread mapped to its thread
/// group.  Tasks of another pid namespace, which the kernel lists as 0,
/// are left out.
#[must_use]
pub fn read_pids(dir: &Path) -> Vec<i32> {
    match fs::read_to_string(procs_file(dir)) {
        Ok(s) => numbers(&s),
        Err(_) => {
            let Ok(s) = fs::read_to_string(dir.join("cgroup.threads")) else {
                return Vec::new();
            };
            let mut out: Vec<i32> = Vec::new();
            for tid in numbers(&s) {
                let p = tgid(tid).unwrap_or(tid);
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            out
        }
    }
}

/// The positive numbers of a list like cgroup.procs.
fn numbers(s: &str) -> Vec<i32> {
    s.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|&p: &i32| p > 0)
        .collect()
}

/// The process (thread group) a thread belongs to, from /proc/TID/status.
fn tgid(tid: i32) -> Option<i32> {
    fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Whether a v2 cgroup or one below it has tasks, by its cgroup.events;
/// `None` where there is no such file (v1, the v2 root).
fn populated(dir: &Path) -> Option<bool> {
    fs::read_to_string(dir.join("cgroup.events"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("populated "))
        .map(|v| v.trim() == "1")
}

/// The processes of the group's directories (and the cgroups below them),
/// and whether the kernel says any of them has tasks: pids listed, or v2's
/// cgroup.events `populated 1` (tasks of another pid namespace, which
/// cgroup.procs lists as 0, count there too).
fn occupants(dirs: &[PathBuf]) -> (Vec<i32>, bool) {
    let mut pids: Vec<i32> = dirs.iter().flat_map(|d| procs_recursive(d)).collect();
    pids.sort_unstable();
    pids.dedup();
    let busy = !pids.is_empty() || dirs.iter().any(|d| populated(d) == Some(true));
    (pids, busy)
}

/// `dir` and the cgroups below it, parents first.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(rd) = fs::read_dir(&out[i]) {
            let mut kids: Vec<PathBuf> = rd
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect();
            kids.sort();
            out.extend(kids);
        }
        i += 1;
    }
    out
}

/// The cgroups that exist below `group` in any hierarchy it uses, parents
/// first (breadth-first, as [`subtree`] lists them), each once.
#[must_use]
pub fn descendants(tree: &Tree, group: &Group) -> Vec<Group> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for i in tree.group_hiers() {
        let base = group.dir(&tree.hiers[i]);
        for d in subtree(&base).into_iter().skip(1) {
            let Ok(rel) = d.strip_prefix(&base) else {
                continue;
            };
            let comps: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if seen.insert(comps.clone()) {
                out.push(comps);
            }
        }
    }
    // Parents first across hierarchies too: by depth, then by name.
    out.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    out.into_iter()
        .map(|rel| {
            let mut comps = group.comps.clone();
            comps.extend(rel.iter().cloned());
            Group {
                name: format!("{}/{}", group.name.trim_end_matches('/'), rel.join("/")),
                relative: group.relative,
                comps,
            }
        })
        .collect()
}

/// The writes of `writes` that a cgroup below the one they were planned
/// for can take: those whose directory exists (a v1 cgroup need not exist
/// in every hierarchy), and no `cgroup.subtree_control` for a cgroup
/// without children (libcgroup's -R skips leaves there too).
#[must_use]
pub fn for_descendant(tree: &Tree, group: &Group, writes: Vec<Write>) -> Vec<Write> {
    writes
        .into_iter()
        .filter(|w| {
            let dir = if w.ctrl == "cgroup" {
                tree.v2().map(|h| group.dir(h))
            } else {
                tree.hier_for(&w.ctrl)
                    .map(|(i, _)| group.dir(&tree.hiers[i]))
            };
            let Some(dir) = dir.filter(|d| d.is_dir()) else {
                return false;
            };
            w.file != "cgroup.subtree_control" || subtree(&dir).len() > 1
        })
        .collect()
}

/// Remove the group (and the cgroups below it) from every hierarchy.
///
/// # Errors
/// For a populated group without `kill`, or when removal fails.
pub fn delete(tree: &Tree, group: &Group, kill: bool, dry: bool) -> Result<()> {
    if group.is_top() {
        bail!(
            "refusing to delete '{}': it is the top of the hierarchy or the caller's own cgroup",
            group.name
        );
    }
    let dirs: Vec<PathBuf> = tree
        .hiers
        .iter()
        .map(|h| group.dir(h))
        .filter(|d| d.is_dir())
        .collect();
    if dirs.is_empty() {
        bail!(
            "cannot delete '{}': no such cgroup in any hierarchy",
            group.name
        );
    }
    let (mut pids, mut busy) = occupants(&dirs);
    if busy && pids.is_empty() {
        // Populated with nothing listed: tasks that just exited (the flag
        // lags a moment) or of another pid namespace.
        let until = Instant::now() + Duration::from_millis(500);
        while busy && pids.is_empty() && Instant::now() < until {
            sleep(Duration::from_millis(20));
            (pids, busy) = occupants(&dirs);
        }
    }
    let me = nix::unistd::getpid().as_raw();
    if pids.contains(&me) {
        bail!("cannot delete '{}': cgset itself is in it", group.name);
    }
    if busy {
        if !kill {
            let what = if pids.is_empty() {
                "by processes cgset cannot list (of another pid namespace?); cgroup.events says populated 1"
                    .to_string()
            } else {
                let list: Vec<String> = pids.iter().take(10).map(ToString::to_string).collect();
                format!(
                    "pid {}{}",
                    list.join(" "),
                    if pids.len() > 10 { " ..." } else { "" }
                )
            };
            bail!(
                "cannot delete '{}': it is populated ({what}); use --kill to kill its processes",
                group.name,
            );
        }
        if dry {
            println!("kill {pids:?}");
        } else {
            kill_all(tree, group, &dirs)?;
        }
    }
    for d in &dirs {
        let mut all = subtree(d);
        all.reverse();
        for sub in all {
            if dry {
                println!("rmdir {}", sub.display());
                continue;
            }
            rmdir_retry(&sub)?;
        }
    }
    Ok(())
}

fn rmdir_retry(d: &Path) -> Result<()> {
    let start = Instant::now();
    loop {
        match fs::remove_dir(d) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if errno(&e) == libc::EBUSY && start.elapsed() < Duration::from_secs(5) => {
                sleep(Duration::from_millis(20));
            }
            Err(e) => {
                let hint = if errno(&e) == libc::EBUSY {
                    " (processes are still in it)"
                } else {
                    ""
                };
                bail!(
                    "cannot remove {}: {}{hint}",
                    d.display(),
                    ctcore::error_text(&e)
                );
            }
        }
    }
}

/// SIGKILL every process of the group (thawing it first), by v2's
/// cgroup.kill where there is one and by pid, and wait until the cgroups
/// are empty.  A threaded cgroup refuses cgroup.kill (killing is process
/// directed): its processes, each with a thread there, are killed whole.
fn kill_all(tree: &Tree, group: &Group, dirs: &[PathBuf]) -> Result<()> {
    // Frozen tasks die only once thawed.
    if is_frozen(tree, group) {
        let _ = freeze(tree, group, false, Duration::from_secs(5));
    }
    let v2kill = tree
        .v2()
        .map(|h| group.dir(h).join("cgroup.kill"))
        .filter(|p| p.exists());
    let start = Instant::now();
    loop {
        let (pids, busy) = occupants(dirs);
        if !busy {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            if pids.is_empty() {
                bail!(
                    "'{}' is still populated after 10s (cgroup.events), with no process cgset can list",
                    group.name
                );
            }
            bail!(
                "processes {pids:?} of '{}' did not die within 10s",
                group.name
            );
        }
        if let Some(k) = &v2kill {
            let _ = write_file(k, "1");
        }
        for p in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        sleep(Duration::from_millis(20));
    }
}

fn is_frozen(tree: &Tree, group: &Group) -> bool {
    match tree.hier_for("freezer") {
        Some((i, Version::V1)) => {
            fs::read_to_string(group.dir(&tree.hiers[i]).join("freezer.state"))
                .is_ok_and(|s| s.trim() != "THAWED")
        }
        Some((i, Version::V2)) => {
            fs::read_to_string(group.dir(&tree.hiers[i]).join("cgroup.freeze"))
                .is_ok_and(|s| s.trim() == "1")
        }
        None => false,
    }
}

/// Freeze (or thaw) the group and wait until the kernel says it is done.
///
/// # Errors
/// When there is no freezer, the group does not exist, or the state is not
/// reached within `limit`.
pub fn freeze(tree: &Tree, group: &Group, on: bool, limit: Duration) -> Result<()> {
    let Some((i, ver)) = tree.hier_for("freezer") else {
        bail!("no freezer: neither a v1 freezer hierarchy nor cgroup v2 is mounted");
    };
    let dir = group.dir(&tree.hiers[i]);
    if !dir.is_dir() {
        bail!("{}: no such cgroup", dir.display());
    }
    let (file, value, done): (&str, &str, Box<dyn Fn() -> bool>) = match ver {
        Version::V1 => {
            let st = dir.join("freezer.state");
            let want = if on { "FROZEN" } else { "THAWED" };
            (
                "freezer.state",
                want,
                Box::new(move || fs::read_to_string(&st).is_ok_and(|s| s.trim() == want)),
            )
        }
        Version::V2 => {
            let ev = dir.join("cgroup.events");
            let want = if on { "frozen 1" } else { "frozen 0" };
            (
                "cgroup.freeze",
                if on { "1" } else { "0" },
                Box::new(move || {
                    fs::read_to_string(&ev).is_ok_and(|s| s.lines().any(|l| l.trim() == want))
                }),
            )
        }
    };
    let path = dir.join(file);
    let start = Instant::now();
    loop {
        // v1 stays FREEZING while a task resists; writing again retries.
        write_file(&path, value).map_err(|e| write_error(&path, value, &e))?;
        let until = Instant::now() + Duration::from_millis(100);
        while Instant::now() < until {
            if done() {
                return Ok(());
            }
            sleep(Duration::from_millis(5));
        }
        if start.elapsed() > limit {
            let state = fs::read_to_string(&path).unwrap_or_default();
            bail!(
                "{} did not reach {} within {:?} (it reads '{}')",
                dir.display(),
                if on {
                    "the frozen state"
                } else {
                    "the thawed state"
                },
                limit,
                state.trim()
            );
        }
    }
}

/// Check cpuset lists against what the nearest existing ancestor offers
/// (docker's "Requested CPUs are not available").
///
/// # Errors
/// docker's messages.
pub fn check_cpuset(
    tree: &Tree,
    group: &Group,
    cpus: Option<&str>,
    mems: Option<&str>,
) -> Result<()> {
    let Some((i, ver)) = tree.hier_for("cpuset") else {
        return Ok(());
    };
    let chain = group.chain(&tree.hiers[i]);
    // The group's parent: what the group may use.
    let parent = chain
        .iter()
        .rev()
        .skip(1)
        .find(|d| d.is_dir())
        .or_else(|| chain.first());
    let Some(parent) = parent else { return Ok(()) };
    let read = |v1: &str, v2: &str| {
        let f = if ver == Version::V1 { v1 } else { v2 };
        fs::read_to_string(parent.join(f))
            .ok()
            .map(|s| s.trim().to_string())
    };
    for (req, v1, v2, what) in [
        (
            cpus,
            "cpuset.effective_cpus",
            "cpuset.cpus.effective",
            "CPUs",
        ),
        (
            mems,
            "cpuset.effective_mems",
            "cpuset.mems.effective",
            "memory nodes",
        ),
    ] {
        let Some(req) = req else { continue };
        let Some(avail) = read(v1, v2) else { continue };
        let want = crate::limits::parse_list(req)?;
        let have = crate::limits::parse_list(&avail).unwrap_or_default();
        if want.iter().any(|c| !have.contains(c)) {
            bail!("Requested {what} are not available - requested {req}, available: {avail}");
        }
    }
    Ok(())
}

/// Read a pid list: numbers separated by commas or white space.
///
/// # Errors
/// For anything that is not a positive number.
pub fn parse_pids(s: &str) -> Result<Vec<i32>> {
    let mut out = Vec::new();
    for t in s
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
    {
        let p: i32 = t.parse().map_err(|_| anyhow!("invalid pid '{t}'"))?;
        if p <= 0 {
            bail!("invalid pid '{t}'");
        }
        out.push(p);
    }
    Ok(out)
}

/// Whether the process exists.
#[must_use]
pub fn pid_exists(p: i32) -> bool {
    Path::new(&format!("/proc/{p}")).exists()
}

/// The context for an error about a group.
pub trait GroupContext<T> {
    /// Prefix with the group's name.
    ///
    /// # Errors
    /// The original error, with context.
    fn group(self, g: &Group) -> Result<T>;
}

impl<T> GroupContext<T> for Result<T> {
    fn group(self, g: &Group) -> Result<T> {
        self.with_context(|| g.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One v2 cgroup, by the kernel's rules for cgroup.subtree_control
    /// (kernel/cgroup/cgroup.c: cgroup_vet_subtree_control_enable,
    /// cgroup_is_thread_root): a write is taken whole or not at all.
    #[derive(Default)]
    struct Model {
        tasks: bool,
        threaded_children: bool,
        /// A controller that refuses to be enabled, with EINVAL.
        broken: Option<&'static str>,
        on: Vec<String>,
        writes: Vec<String>,
    }

    fn threaded(c: &str) -> bool {
        V2_THREADED.contains(&c)
    }

    impl Model {
        fn thread_root(&self) -> bool {
            self.threaded_children || (self.tasks && self.on.iter().any(|c| threaded(c)))
        }
    }

    impl SubtreeFiles for Model {
        fn write(&mut self, value: &str) -> io::Result<()> {
            self.writes.push(value.to_string());
            let err = |n| Err(io::Error::from_raw_os_error(n));
            let mut on = self.on.clone();
            let mut enable = Vec::new();
            for t in value.split_whitespace() {
                let c = t[1..].to_string();
                if t.starts_with('+') {
                    if !on.contains(&c) {
                        enable.push(c.clone());
                        on.push(c);
                    }
                } else {
                    on.retain(|o| *o != c);
                }
            }
            if !enable.is_empty() {
                let domain = enable.iter().any(|c| !threaded(c));
                let can_be_thread_root = !self.on.iter().any(|c| !threaded(c));
                if domain && self.thread_root() {
                    return err(libc::EOPNOTSUPP);
                }
                if (domain || !can_be_thread_root) && self.tasks {
                    return err(libc::EBUSY);
                }
                if enable.iter().any(|c| Some(c.as_str()) == self.broken) {
                    return err(libc::EINVAL);
                }
            }
            self.on = on;
            Ok(())
        }
        fn cgroup_type(&mut self) -> Option<String> {
            Some(
                if self.thread_root() {
                    "domain threaded"
                } else {
                    "domain"
                }
                .into(),
            )
        }
    }

    /// A second thread of this process, alive until the sender is dropped.
    fn second_thread() -> (i32, std::sync::mpsc::Sender<()>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, wait) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            tx.send(nix::unistd::gettid().as_raw()).unwrap();
            let _ = wait.recv();
        });
        (rx.recv().unwrap(), stop)
    }

    #[test]
    fn threads_stand_for_processes_where_procs_cannot_be_read() {
        let d = tempfile::tempdir().unwrap();
        let me = nix::unistd::getpid().as_raw();
        let (tid, _stop) = second_thread();
        assert_ne!(tid, me);
        // A threaded cgroup: no readable cgroup.procs; its threads, mapped to
        // their process, once each; 0 (another pid namespace) left out.
        fs::write(d.path().join("cgroup.threads"), format!("{tid}\n0\n{me}\n")).unwrap();
        assert_eq!(read_pids(d.path()), [me]);
        // Where cgroup.procs reads, it is what counts.
        fs::write(d.path().join("cgroup.procs"), "0\n7\n9\n").unwrap();
        assert_eq!(read_pids(d.path()), [7, 9]);
        fs::remove_file(d.path().join("cgroup.procs")).unwrap();
        fs::remove_file(d.path().join("cgroup.threads")).unwrap();
        assert!(read_pids(d.path()).is_empty());
    }

    #[test]
    fn populated_counts_without_a_listed_pid() {
        let d = tempfile::tempdir().unwrap();
        let g = d.path().join("g");
        fs::create_dir_all(g.join("sub")).unwrap();
        let dirs = [g.clone()];
        // v1: no cgroup.events, the pids alone.
        assert_eq!(occupants(&dirs), (vec![], false));
        fs::write(g.join("sub/cgroup.procs"), "42\n").unwrap();
        assert_eq!(occupants(&dirs), (vec![42], true));
        fs::write(g.join("sub/cgroup.procs"), "0\n").unwrap();
        fs::write(g.join("cgroup.events"), "populated 0\nfrozen 0\n").unwrap();
        assert_eq!(occupants(&dirs), (vec![], false));
        fs::write(g.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        assert_eq!(occupants(&dirs), (vec![], true));
    }

    const ALL: &[&str] = &["cpu", "cpuset", "io", "memory", "pids"];

    fn enable(m: &mut Model, want: &[&str], required: &[&str]) -> Result<()> {
        enable_in(
            m,
            want,
            required,
            Path::new("/cg/outer/cgroup.subtree_control"),
            Path::new("/cg/outer/inner"),
        )
    }

    #[test]
    fn without_processes_one_write_enables_all() {
        let mut m = Model::default();
        enable(&mut m, ALL, &["memory"]).unwrap();
        assert_eq!(m.on, ALL);
        assert_eq!(m.writes, ["+cpu +cpuset +io +memory +pids"]);
    }

    #[test]
    fn processes_in_the_parent_refuse_with_the_rule_and_change_nothing() {
        for required in [&["memory"][..], &["cpu"], &["pids", "io"]] {
            let mut m = Model {
                tasks: true,
                ..Model::default()
            };
            let e = format!("{:#}", enable(&mut m, ALL, required).unwrap_err());
            assert!(e.contains("no-internal-processes"), "{e}");
            assert!(e.contains("/cg/outer/inner"), "{e}");
            for r in required {
                assert!(e.contains(r), "{e}");
            }
            assert!(m.on.is_empty(), "{:?}", m.on);
            assert_eq!(m.cgroup_type().unwrap(), "domain");
        }
    }

    #[test]
    fn processes_in_the_parent_and_nothing_required_enable_nothing() {
        let mut m = Model {
            tasks: true,
            ..Model::default()
        };
        enable(&mut m, ALL, &[]).unwrap();
        assert!(m.on.is_empty(), "{:?}", m.on);
        assert_eq!(m.cgroup_type().unwrap(), "domain");
    }

    #[test]
    fn threaded_controllers_alone_would_make_a_thread_root_undone() {
        // Only threaded controllers available: the kernel takes them, and the
        // parent, which has processes, becomes a thread root; undo that.
        let mut m = Model {
            tasks: true,
            ..Model::default()
        };
        let e = format!(
            "{:#}",
            enable(&mut m, &["cpu", "pids"], &["pids"]).unwrap_err()
        );
        assert!(e.contains("no-internal-processes"), "{e}");
        assert!(e.contains("thread root"), "{e}");
        assert!(m.on.is_empty(), "{:?}", m.on);
        assert_eq!(m.cgroup_type().unwrap(), "domain");
        enable(&mut m, &["cpu", "pids"], &[]).unwrap();
        assert!(m.on.is_empty(), "{:?}", m.on);
    }

    #[test]
    fn a_thread_root_takes_the_threaded_controllers_only() {
        let mut m = Model {
            tasks: true,
            threaded_children: true,
            ..Model::default()
        };
        enable(&mut m, ALL, &["cpu"]).unwrap();
        assert_eq!(m.on, ["cpu", "cpuset", "pids"]);
        let mut m = Model {
            threaded_children: true,
            ..Model::default()
        };
        let e = format!("{:#}", enable(&mut m, ALL, &["cpu", "memory"]).unwrap_err());
        assert!(e.contains("Operation not supported"), "{e}");
        assert!(m.on.is_empty(), "{:?}", m.on);
    }

    #[test]
    fn a_required_controller_refused_undoes_the_others() {
        let mut m = Model {
            broken: Some("pids"),
            ..Model::default()
        };
        let e = format!("{:#}", enable(&mut m, ALL, &["pids"]).unwrap_err());
        assert!(e.contains("'+pids'"), "{e}");
        assert!(m.on.is_empty(), "{:?}", m.on);
        // Not required: the others stay enabled.
        enable(&mut m, ALL, &["memory"]).unwrap();
        assert_eq!(m.on, ["io", "memory", "cpu", "cpuset"]);
    }
}
