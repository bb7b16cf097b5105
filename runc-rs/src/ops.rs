//! state, kill, delete, ps, list, pause, resume, update, features, spec.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, anyhow, bail};
use oci_spec::runtime::{ContainerState, LinuxResources, Spec};

use crate::cli::Format;
use crate::state::{self, Record, Status};

/// `state`.
///
/// # Errors
/// A missing container.
pub fn show_state(root: &Path, id: &str) -> Result<()> {
    let rec = state::load(root, id)?;
    let v = state::runc_state(root, &rec);
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// Parse a signal: a number, or a name with or without SIG, any case.
///
/// # Errors
/// An unknown name.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        bail!("invalid signal: {s}");
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| anyhow!("unknown signal \"{s}\""))
}

/// The pids of the container's cgroup (never 1 or runc-rs itself).
#[must_use]
pub fn pids(rec: &Record) -> Vec<i32> {
    let me = std::process::id() as i32;
    for d in &rec.cgroup_dirs {
        if d.parent().is_none_or(|p| p == Path::new("/sys/fs/cgroup")) {
            continue;
        }
        if let Ok(t) = ctcore::read_text(d.join("cgroup.procs")) {
            let v: Vec<i32> = t
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .filter(|p| *p > 1 && *p != me)
                .collect();
            if !v.is_empty() {
                return v;
            }
        }
    }
    if state::alive(rec) {
        vec![rec.pid]
    } else {
        vec![]
    }
}

/// `kill`.
///
/// # Errors
/// A stopped container ("container not running"), a bad signal.
pub fn kill(root: &Path, id: &str, all: bool, sig: Option<&str>) -> Result<()> {
    let rec = state::load(root, id)?;
    let sig = parse_signal(sig.unwrap_or("SIGTERM"))?;
    let st = state::status(root, &rec);
    if st == Status::Stopped && !all {
        bail!("container not running");
    }
    if all {
        let frozen = freeze(&rec, true).is_ok();
        for p in pids(&rec) {
            // SAFETY: a signal to a process of the container.
            unsafe { libc::kill(p, sig) };
        }
        if frozen {
            let _ = freeze(&rec, false);
        }
        return Ok(());
    }
    // SAFETY: a signal to the container's init.
    if unsafe { libc::kill(rec.pid, sig) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            bail!("container not running");
        }
        bail!("kill: {}", ctcore::error_text(&e));
    }
    Ok(())
}

/// Remove the cgroup directories (deepest first; the kernel refuses a
/// populated one).
pub fn remove_cgroups(dirs: &[PathBuf]) {
    for d in dirs {
        if fs::remove_dir(d).is_err() {
            // Children left by the container (nested groups).
            let mut stack = vec![d.clone()];
            let mut all = vec![];
            while let Some(x) = stack.pop() {
                if let Ok(rd) = fs::read_dir(&x) {
                    for e in rd.flatten() {
                        if e.file_type().is_ok_and(|t| t.is_dir()) {
                            stack.push(e.path());
                        }
                    }
                }
                all.push(x);
            }
            for x in all.iter().rev() {
                let _ = fs::remove_dir(x);
            }
        }
    }
}

/// Freeze (or thaw) the container's cgroup and wait until it is done.
///
/// # Errors
/// No freezer.
pub fn freeze(rec: &Record, on: bool) -> Result<()> {
    for d in &rec.cgroup_dirs {
        let v1 = d.join("freezer.state");
        if v1.exists() {
            let want = if on { "FROZEN" } else { "THAWED" };
            for _ in 0..1000 {
                fs::write(&v1, want)
                    .map_err(|e| anyhow!("{}: {}", v1.display(), ctcore::error_text(&e)))?;
                if ctcore::read_text(&v1).is_ok_and(|s| s.trim() == want) {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            bail!("the cgroup did not reach {want}");
        }
        let v2 = d.join("cgroup.freeze");
        if v2.exists() {
            fs::write(&v2, if on { "1" } else { "0" })
                .map_err(|e| anyhow!("{}: {}", v2.display(), ctcore::error_text(&e)))?;
            return Ok(());
        }
    }
    bail!("the container has no freezer cgroup")
}

/// `pause` / `resume`.
///
/// # Errors
/// Not running (or not paused).
pub fn pause(root: &Path, id: &str, on: bool) -> Result<()> {
    let rec = state::load(root, id)?;
    let st = state::status(root, &rec);
    match (on, st) {
        (true, Status::Running | Status::Created) | (false, Status::Paused) => freeze(&rec, on),
        (true, _) => bail!("container not running"),
        (false, _) => bail!("container not paused"),
    }
}

/// `delete`.
///
/// # Errors
/// A running container without --force; a missing one without --force.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    delete_with(root, id, force, None)
}

/// `delete` with the config already read (or None: read from the bundle
/// for its poststop hooks).
///
/// # Errors
/// As [`delete`].
pub fn delete_with(
    root: &Path,
    id: &str,
    force: bool,
    spec: Option<&oci_spec::runtime::Spec>,
) -> Result<()> {
    let rec = match state::load(root, id) {
        Ok(r) => r,
        Err(e) if force && format!("{e}").contains("does not exist") => return Ok(()),
        Err(e) => return Err(e),
    };
    let st = state::status(root, &rec);
    match st {
        Status::Stopped => {}
        _ if force => {}
        s => bail!(
            "cannot delete container {id} that is not stopped: {}",
            s.word()
        ),
    }
    // A stopped container's groups are empty most often: they go at once,
    // without reading every hierarchy's process list twice first.
    let removed = st == Status::Stopped
        && rec
            .cgroup_dirs
            .iter()
            .all(|d| fs::remove_dir(d).is_ok() || !d.exists());
    if removed {
        state::remove_dir(root, id);
    } else {
        kill_and_remove(root, id, &rec, st);
    }
    poststop(&rec, spec);
    Ok(())
}

/// Kill what is left of a container (all of it unless stopped), wait for
/// its groups to empty, and remove them and the state.
fn kill_and_remove(root: &Path, id: &str, rec: &Record, st: Status) {
    if st != Status::Stopped {
        if st == Status::Paused {
            let _ = freeze(rec, false);
        }
        for p in pids(rec) {
            // SAFETY: SIGKILL to the container's processes.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        // SAFETY: as above.
        unsafe { libc::kill(rec.pid, libc::SIGKILL) };
        for _ in 0..2000 {
            if !state::alive(rec) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    // Other processes of the cgroup (exec'd ones without a pid namespace).
    for p in pids(rec) {
        // SAFETY: as above.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    for _ in 0..1000 {
        if pids(rec).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    remove_cgroups(&rec.cgroup_dirs);
    state::remove_dir(root, id);
}

/// The poststop hooks (a failure only warns).
fn poststop(rec: &Record, spec: Option<&oci_spec::runtime::Spec>) {
    let read;
    let spec = match spec {
        Some(s) => Some(s),
        None => {
            read = crate::create::load_spec(&rec.bundle).ok();
            read.as_ref()
        }
    };
    if let Some(spec) = spec
        && let Some(h) = spec.hooks().as_ref().and_then(|h| h.poststop().clone())
    {
        let s = crate::state::oci_state(rec, ContainerState::Stopped, 0);
        let text = serde_json::to_string(&s).unwrap_or_default();
        if let Err(e) = crate::hooks::run("poststop", &h, &text) {
            crate::log::warn(&format!("{e:#}"));
        }
    }
}

/// `ps`.
///
/// # Errors
/// A missing container, ps failing.
pub fn ps(root: &Path, id: &str, format: Format, args: &[String]) -> Result<()> {
    let rec = state::load(root, id)?;
    let pids = pids(&rec);
    if format == Format::Json {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(());
    }
    let a: Vec<String> = if args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.to_vec()
    };
    let out = Command::new("ps")
        .args(&a)
        .output()
        .map_err(|e| anyhow!("ps: {}", ctcore::error_text(&e)))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let Some(head) = lines.next() else {
        return Ok(());
    };
    let col = head
        .split_whitespace()
        .position(|c| c == "PID")
        .ok_or_else(|| anyhow!("couldn't find PID field in ps output"))?;
    println!("{head}");
    for l in lines {
        let p: Option<i32> = l.split_whitespace().nth(col).and_then(|s| s.parse().ok());
        if p.is_some_and(|p| pids.contains(&p)) {
            println!("{l}");
        }
    }
    Ok(())
}

/// `list`.
///
/// # Errors
/// Output errors.
pub fn list(root: &Path, format: Format, quiet: bool) -> Result<()> {
    let recs: Vec<Record> = state::ids(root)
        .iter()
        .filter_map(|id| state::load(root, id).ok())
        .collect();
    if quiet {
        for r in &recs {
            println!("{}", r.id);
        }
        return Ok(());
    }
    if format == Format::Json {
        let v: Vec<serde_json::Value> = recs.iter().map(|r| state::runc_state(root, r)).collect();
        println!("{}", serde_json::to_string(&v)?);
        return Ok(());
    }
    println!(
        "{:<12} {:<10} {:<10} {:<40} {:<30} OWNER",
        "ID", "PID", "STATUS", "BUNDLE", "CREATED"
    );
    for r in &recs {
        let st = state::status(root, r);
        let pid = if st == Status::Stopped { 0 } else { r.pid };
        println!(
            "{:<12} {:<10} {:<10} {:<40} {:<30} {}",
            r.id,
            pid,
            st.word(),
            r.bundle.display(),
            r.created,
            if r.owner.is_empty() { "root" } else { &r.owner }
        );
    }
    Ok(())
}

/// The cgset group for later commands. An absolute cgroupsPath names the
/// same group in every hierarchy. A relative one was resolved below the
/// creator's cgroup, which may differ per hierarchy (and from the caller's
/// now): cgset then runs from the group's parent in every hierarchy (it
/// moves itself there first, writing 0 to each parent's cgroup.procs) and
/// is given `./LEAF`.
fn group_of(rec: &Record) -> (String, Vec<std::ffi::CString>) {
    if rec.cgroup.starts_with('/') {
        return (rec.cgroup.clone(), vec![]);
    }
    let leaf = rec
        .cgroup
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
    let parents = rec
        .cgroup_dirs
        .iter()
        .filter_map(|d| d.parent())
        .filter_map(|p| {
            std::ffi::CString::new(p.join("cgroup.procs").as_os_str().as_encoded_bytes()).ok()
        })
        .collect();
    (format!("./{leaf}"), parents)
}

/// The cgset binary beside runc-rs or on PATH.
fn cgset() -> PathBuf {
    if let Ok(me) = std::env::current_exe()
        && let Some(d) = me.parent()
        && d.join("cgset").is_file()
    {
        return d.join("cgset");
    }
    PathBuf::from("cgset")
}

/// `update`: the resources through cgset's set form.
///
/// # Errors
/// A stopped container, bad JSON, cgset failing.
pub fn update(root: &Path, id: &str, res: Option<&Path>, flags: Vec<String>) -> Result<()> {
    let rec = state::load(root, id)?;
    if state::status(root, &rec) == Status::Stopped {
        bail!("container not running");
    }
    let mut args: Vec<String> = vec![];
    if let Some(f) = res {
        let text = if f == Path::new("-") {
            std::io::read_to_string(std::io::stdin())?
        } else {
            fs::read_to_string(f)
                .map_err(|e| anyhow!("{}: {}", f.display(), ctcore::error_text(&e)))?
        };
        let r: LinuxResources =
            serde_json::from_str(&text).map_err(|e| anyhow!("bad resources: {e}"))?;
        args.extend(crate::plan::limit_args(&r)?);
    }
    args.extend(flags);
    if args.is_empty() {
        return Ok(());
    }
    let (group, parents) = group_of(&rec);
    let mut cmd = Command::new(cgset());
    cmd.args(&args).arg(group);
    // SAFETY: only open/write/close between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            for p in &parents {
                let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let r = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                if r < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let st = cmd
        .status()
        .map_err(|e| anyhow!("cgset: {}", ctcore::error_text(&e)))?;
    if !st.success() {
        bail!("cgset failed");
    }
    Ok(())
}

/// `features`.
pub fn features() {
    let caps: Vec<String> = (0..=ctcore::caps::last_cap())
        .filter_map(|n| {
            ctcore::caps::NAMES
                .get(n as usize)
                .map(|s| format!("CAP_{}", s.to_ascii_uppercase()))
        })
        .collect();
    let v = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.0.2-dev",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
            "mand", "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime",
            "nostrictatime", "nosuid", "private", "rbind", "relatime", "remount", "ro",
            "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave",
            "strictatime", "suid", "sync", "tmpcopyup", "unbindable"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                    "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {"org.opencontainers.runc-rs.chain": "cgset unshare-rs runc-rs-init"}
    });
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

/// `spec`: runc's default config (terminal, `sh`, a read-only root in
/// `rootfs`, the usual mounts, masked and read-only paths), or a rootless one.
///
/// # Errors
/// An existing config.json, or the write.
pub fn spec(bundle: &Path, rootless: bool) -> Result<()> {
    let p = bundle.join("config.json");
    if p.exists() {
        bail!("File {} exists. Remove it first", p.display());
    }
    let mut v = serde_json::to_value(Spec::default())?;
    v["hostname"] = "runc".into();
    v["process"]["args"] = serde_json::json!(["sh"]);
    v["process"]["terminal"] = true.into();
    v["process"]["env"] = serde_json::json!([
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM=xterm"
    ]);
    if rootless {
        // runc's rootless changes: no gid= for devpts (gid 5 is not mapped),
        // the host's /sys bound instead of a sysfs (no network namespace of
        // its own), no cgroup mount, no resources.
        if let Some(ms) = v["mounts"].as_array_mut() {
            ms.retain(|m| m["type"] != "cgroup");
            for m in ms.iter_mut() {
                if m["type"] == "sysfs" {
                    *m = serde_json::json!({"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
                } else if let Some(o) = m["options"].as_array_mut() {
                    o.retain(|x| !x.as_str().is_some_and(|x| x.starts_with("gid=")));
                }
            }
        }
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        let ns = v["linux"]["namespaces"].as_array_mut();
        if let Some(ns) = ns {
            ns.retain(|n| n["type"] != "network");
            ns.push(serde_json::json!({"type": "user"}));
        }
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        v["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        if let Some(l) = v["linux"].as_object_mut() {
            l.remove("resources");
        }
    }
    // Validate through oci-spec before writing.
    let s: Spec = serde_json::from_value(v)?;
    fs::write(&p, serde_json::to_string_pretty(&s)?)
        .map_err(|e| anyhow!("{}: {}", p.display(), ctcore::error_text(&e)))?;
    Ok(())
}
