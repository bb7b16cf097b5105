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

/// Make `<root>/<id>` (refusing an existing one).
///
/// # Errors
/// An existing container, or the directory cannot be made.
pub fn make_dir(root: &Path, id: &str) -> Result<PathBuf> {
    check_id(id)?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(root)
        .with_context(|| format!("cannot make the state root {}", root.display()))?;
    let d = dir(root, id);
    match fs::DirBuilder::new().mode(0o711).create(&d) {
        Ok(()) => Ok(d),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("container with id exists: {id}")
        }
        Err(e) => Err(anyhow!(
            "cannot make {}: {}",
            d.display(),
            ctcore::error_text(&e)
        )),
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
    let tmp = d.join(".state.json.tmp");
    let text = serde_json::to_string(rec)?;
    fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, d.join("state.json"))
        .with_context(|| format!("cannot write {}", d.join("state.json").display()))?;
    Ok(())
}

/// Field 22 of /proc/PID/stat, and whether the process is a zombie.
#[must_use]
pub fn stat_of(pid: i32) -> Option<(u64, bool)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
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
        if let Ok(s) = fs::read_to_string(d.join("freezer.state")) {
            return s.trim() == "FROZEN";
        }
        if let Ok(s) = fs::read_to_string(d.join("cgroup.freeze")) {
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

    #[test]
    fn time_is_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
