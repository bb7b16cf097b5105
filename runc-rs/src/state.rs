//! A container's state directory, `<root>/<id>/`: `state.json` (runc-rs's
//! own record) and `exec.fifo` (present while the container is created).
//! The status is derived as runc derives it: stopped when the init is gone,
//! a zombie, or another process with its pid (start time differs); paused
//! when the freezer says so; created while exec.fifo exists; running
//! otherwise.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use oci_spec::runtime::{ContainerState, State};
use serde::{Deserialize, Serialize};

/// runc-rs's record of a container.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Record {
    /// Container id.
    pub id: String,
    /// Host pid of the init (0 before it exists).
    pub pid: i32,
    /// Its start time (/proc/PID/stat field 22), against pid reuse.
    pub start_time: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute root file system path.
    pub rootfs: PathBuf,
    /// RFC 3339 creation time (UTC, nanoseconds).
    pub created: String,
    /// The owner's name ("" for root, as runc).
    pub owner: String,
    /// config.json's annotations.
    pub annotations: HashMap<String, String>,
    /// The config's ociVersion.
    pub oci_version: String,
    /// The cgroup directories of the init, one per hierarchy (absolute, under /sys/fs/cgroup).
    pub cgroup_dirs: Vec<PathBuf>,
    /// The group name given to cgset.
    pub cgroup: String,
}

/// The status runc reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The init is blocked on exec.fifo.
    Created,
    /// The program runs.
    Running,
    /// The freezer holds it.
    Paused,
    /// The init is gone.
    Stopped,
}

impl Status {
    /// runc's word.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Stopped => "stopped",
        }
    }
}

/// A container id runc accepts: letters, digits, `_ + - .`, not `.` or `..`.
///
/// # Errors
/// An empty or bad id.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if !ok {
        bail!("invalid container id format: {id}");
    }
    Ok(())
}

/// The state directory of `id` under `root`.
#[must_use]
pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// Where deleted containers' state directories wait for the next create:
/// `.<root's name>.free/<old id>` beside the root (a directory of its own,
/// so that the root itself holds containers only and is empty when they
/// are gone, as runc's).  This host's /run and /tmp are ext4 mounted with
/// `discard` and no journal: there each rmdir frees the directory's block
/// with a synchronous discard (2-3 ms of a delete), and each new inode
/// (mkdir, the fifo, the state file) scans the group's recently deleted
/// inodes (about 0.3 ms of CPU each in a loop of starts).  A reused
/// directory keeps its two files under parked names (`.exec.fifo`,
/// `.state.json.tmp`): a create and a delete are then renames only.  A root
/// without a parent, or whose parent does not take the pool, makes and
/// removes as before.
fn pool(root: &Path) -> Option<PathBuf> {
    let name = root.file_name()?;
    let mut n = std::ffi::OsString::from(".");
    n.push(name);
    n.push(".free");
    Some(root.parent()?.join(n))
}

/// The parked names of the fifo and the state file in a pooled directory.
const PARKED_FIFO: &str = ".exec.fifo";
const TMP: &str = ".state.json.tmp";

/// rename(2) that refuses to replace `to` (EEXIST).
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let f = std::ffi::CString::new(from.as_os_str().as_bytes())?;
    let t = std::ffi::CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: two NUL-terminated paths that outlive the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Make `<root>/<id>` (refusing an existing one): a directory of the pool
/// (see [`pool`]) renamed to it when there is one, else a new one.
///
/// # Errors
/// An existing container, or the directory cannot be made.
pub fn make_dir(root: &Path, id: &str) -> Result<PathBuf> {
    check_id(id)?;
    let d = dir(root, id);
    let exists = || anyhow!("container with id exists: {id}");
    if let Some(rd) = pool(root).and_then(|p| fs::read_dir(p).ok()) {
        for e in rd.flatten() {
            match rename_noreplace(&e.path(), &d) {
                Ok(()) => return Ok(d),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists()),
                // Taken by another create meanwhile, or the root is gone: on.
                Err(_) => {}
            }
        }
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(root)
        .with_context(|| format!("cannot make the state root {}", root.display()))?;
    match fs::DirBuilder::new().mode(0o711).create(&d) {
        Ok(()) => Ok(d),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
        Err(e) => Err(anyhow!(
            "cannot make {}: {}",
            d.display(),
            ctcore::error_text(&e)
        )),
    }
}

/// Make the container's exec.fifo (mode 0622, as runc): the parked one of a
/// reused directory, else a new one.
///
/// # Errors
/// mkfifo(2)'s.
pub fn make_fifo(d: &Path) -> Result<PathBuf> {
    let fifo = d.join("exec.fifo");
    if rename_noreplace(&d.join(PARKED_FIFO), &fifo).is_ok() {
        return Ok(fifo);
    }
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| anyhow!("mkfifo {}: {}", fifo.display(), ctcore::errno_text(e)))?;
    // (the umask took bits away)
    let _ = fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622));
    Ok(fifo)
}

/// Take exec.fifo away (the container is no longer created): parked for
/// the directory's next container.
pub fn drop_fifo(d: &Path) {
    let fifo = d.join("exec.fifo");
    if rename_noreplace(&fifo, &d.join(PARKED_FIFO)).is_err() {
        let _ = fs::remove_file(&fifo);
    }
}

/// Remove the state directory of `id`: its files are parked (see
/// [`pool`]) and the directory goes to the pool; one that holds something
/// else, or that the pool does not take, is removed.
pub fn remove_dir(root: &Path, id: &str) {
    let d = dir(root, id);
    drop_fifo(&d);
    if rename_noreplace(&d.join("state.json"), &d.join(TMP)).is_err() {
        let _ = fs::remove_file(d.join("state.json"));
    }
    let only_parked = fs::read_dir(&d).is_ok_and(|rd| {
        rd.flatten()
            .all(|e| e.file_name() == PARKED_FIFO || e.file_name() == TMP)
    });
    let pooled = only_parked
        && pool(root).is_some_and(|p| {
            let to = p.join(id);
            match rename_noreplace(&d, &to) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    fs::DirBuilder::new().mode(0o700).create(&p).is_ok()
                        && rename_noreplace(&d, &to).is_ok()
                }
                Err(_) => false,
            }
        });
    if !pooled {
        let _ = fs::remove_dir_all(&d);
    }
}

/// Load the record of `id`.
///
/// # Errors
/// "container does not exist" when there is none (podman and containerd look for the phrase).
pub fn load(root: &Path, id: &str) -> Result<Record> {
    check_id(id)?;
    let p = dir(root, id).join("state.json");
    let text = match fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("container {id} does not exist")
        }
        Err(e) => bail!("cannot read {}: {}", p.display(), ctcore::error_text(&e)),
    };
    serde_json::from_str(&text).with_context(|| format!("bad state file {}", p.display()))
}

/// Save the record (through a temporary file and a rename).
///
/// # Errors
/// The write.
pub fn save(root: &Path, rec: &Record) -> Result<()> {
    let d = dir(root, &rec.id);
    let tmp = d.join(TMP);
    let text = serde_json::to_string(rec)?;
    // Into the parked file of a reused directory when there is one (no
    // new inode), without O_TRUNC: ext4 allocates a file truncated to zero
    // at its close (auto_da_alloc), and its blocks are discarded when it
    // goes.  The length is set after the write.
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.set_len(text.len() as u64))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(f);
    fs::rename(&tmp, d.join("state.json"))
        .with_context(|| format!("cannot write {}", d.join("state.json").display()))?;
    Ok(())
}

/// Field 22 of /proc/PID/stat, and whether the process is a zombie.
#[must_use]
pub fn stat_of(pid: i32) -> Option<(u64, bool)> {
    let s = ctcore::read_text(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); field 22 is index 19.
    let zombie = f.first().is_some_and(|s| *s == "Z" || *s == "X");
    Some((f.get(19)?.parse().ok()?, zombie))
}

/// Whether the init of `rec` is alive (and the same process).
#[must_use]
pub fn alive(rec: &Record) -> bool {
    rec.pid > 0 && matches!(stat_of(rec.pid), Some((t, false)) if t == rec.start_time)
}

/// The freezer state of the container's cgroup, if it is frozen.
#[must_use]
pub fn frozen(rec: &Record) -> bool {
    for d in &rec.cgroup_dirs {
        if let Ok(s) = ctcore::read_text(d.join("freezer.state")) {
            return s.trim() == "FROZEN";
        }
        if let Ok(s) = ctcore::read_text(d.join("cgroup.freeze")) {
            return s.trim() == "1";
        }
    }
    false
}

/// The status of `rec`.
#[must_use]
pub fn status(root: &Path, rec: &Record) -> Status {
    if !alive(rec) {
        return Status::Stopped;
    }
    if frozen(rec) {
        return Status::Paused;
    }
    if dir(root, &rec.id).join("exec.fifo").exists() {
        Status::Created
    } else {
        Status::Running
    }
}

/// The OCI state object (oci-spec's `State`), for hooks.
#[must_use]
pub fn oci_state(rec: &Record, status: ContainerState, pid: i32) -> State {
    let mut st = State::default();
    st.set_version(rec.oci_version.clone());
    st.set_id(rec.id.clone());
    st.set_status(status);
    st.set_pid((pid > 0).then_some(pid));
    st.set_bundle(rec.bundle.clone());
    st.set_annotations((!rec.annotations.is_empty()).then(|| rec.annotations.clone()));
    st
}

/// runc's `state` JSON: the OCI state plus rootfs, created, owner, and
/// `paused` as a status.
#[must_use]
pub fn runc_state(root: &Path, rec: &Record) -> serde_json::Value {
    let status = status(root, rec);
    let oci = match status {
        Status::Created => ContainerState::Created,
        Status::Running | Status::Paused => ContainerState::Running,
        Status::Stopped => ContainerState::Stopped,
    };
    let pid = if status == Status::Stopped {
        0
    } else {
        rec.pid
    };
    let st = oci_state(rec, oci, pid);
    let mut v = serde_json::to_value(&st).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert("status".into(), status.word().into());
        m.insert("pid".into(), pid.into());
        m.insert("rootfs".into(), rec.rootfs.display().to_string().into());
        m.insert("created".into(), rec.created.clone().into());
        m.insert("owner".into(), rec.owner.clone().into());
    }
    v
}

/// The current time in RFC 3339 with nanoseconds, UTC.
#[must_use]
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Write `pid` to `file` (bare digits, no newline) through a temporary
/// file and a rename, as runc does.
///
/// # Errors
/// The write.
pub fn write_pid_file(file: &Path, pid: i32) -> Result<()> {
    let abs = if file.is_absolute() {
        file.to_path_buf()
    } else {
        std::env::current_dir()?.join(file)
    };
    let dir = abs.parent().unwrap_or(Path::new("/"));
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}"));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o666)
        .open(&tmp)
        .with_context(|| format!("cannot write the pid file {}", tmp.display()))?;
    write!(f, "{pid}")?;
    drop(f);
    fs::rename(&tmp, &abs)
        .with_context(|| format!("cannot write the pid file {}", abs.display()))?;
    Ok(())
}

/// Every container id under `root`.
#[must_use]
pub fn ids(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().join("state.json").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(check_id("abc-1_2.x+y").is_ok());
        assert!(check_id("..").is_err());
        assert!(check_id("a/b").is_err());
        assert!(check_id("").is_err());
    }

    /// A deleted container's directory, fifo and state file come back to
    /// the next create (same inodes), the root is left empty, and an id in
    /// use is refused.
    #[test]
    fn state_directories_are_reused() {
        use std::os::unix::fs::MetadataExt;
        let base = std::env::temp_dir().join(format!("runc-rs-pool-{}", std::process::id()));
        let root = base.join("root");
        let rec = |id: &str| Record {
            id: id.into(),
            pid: 42,
            ..Record::default()
        };
        let d = make_dir(&root, "a").unwrap();
        let fifo = make_fifo(&d).unwrap();
        save(&root, &rec("a")).unwrap();
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        let (di, fi, si) = (ino(&d), ino(&fifo), ino(&d.join("state.json")));
        assert!(make_dir(&root, "a").is_err());
        remove_dir(&root, "a");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
        let d = make_dir(&root, "b").unwrap();
        assert_eq!(ino(&d), di);
        let fifo = make_fifo(&d).unwrap();
        assert_eq!(ino(&fifo), fi);
        let mut long = rec("b");
        long.bundle = "/a/longer/bundle/path".into();
        save(&root, &long).unwrap();
        assert_eq!(ino(&d.join("state.json")), si);
        drop_fifo(&d);
        assert!(!fifo.exists());
        assert_eq!(ids(&root), ["b"]);
        remove_dir(&root, "b");
        let d = make_dir(&root, "c").unwrap();
        assert_eq!(ino(&d), di);
        // A shorter record over the parked longer one is read back whole.
        save(&root, &rec("c")).unwrap();
        assert_eq!(ino(&d.join("state.json")), si);
        let c = load(&root, "c").unwrap();
        assert_eq!((c.id.as_str(), c.bundle), ("c", PathBuf::new()));
        remove_dir(&root, "c");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn time_is_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
