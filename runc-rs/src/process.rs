//! The last steps of a container process, shared by create's init and
//! exec: rlimits, oom_score_adj, user and groups, the five capability
//! sets, no_new_privs, seccomp, the working directory, the program's
//! lookup and its exec.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use oci_spec::runtime::{Capability, LinuxSeccomp, Process};

/// A capability set as a bit mask (unknown names are skipped, as runc
/// warns and goes on).
fn mask<'a>(caps: impl IntoIterator<Item = &'a Capability>) -> u64 {
    let mut m = 0u64;
    let last = ctcore::caps::last_cap();
    for c in caps {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        if let Some(ctcore::caps::Cap::One(n)) = ctcore::caps::parse(&name)
            && n <= last
        {
            m |= 1 << n;
        }
    }
    m
}

/// The five sets of `p`: bounding, effective, permitted, inheritable, ambient.
#[must_use]
pub fn cap_sets(p: &Process) -> Option<[u64; 5]> {
    let c = p.capabilities().as_ref()?;
    let f = |s: &Option<std::collections::HashSet<Capability>>| s.as_ref().map_or(0, mask);
    Some([
        f(c.bounding()),
        f(c.effective()),
        f(c.permitted()),
        f(c.inheritable()),
        f(c.ambient()),
    ])
}

fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

/// Set the rlimits of `p`.
///
/// # Errors
/// An unknown type, or setrlimit(2) failing (raising a hard limit without
/// CAP_SYS_RESOURCE).
pub fn set_rlimits(p: &Process) -> Result<()> {
    for r in p.rlimits().iter().flatten() {
        let name = serde_json::to_value(r.typ())
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let res = rlimit_resource(&name).ok_or_else(|| anyhow!("unknown rlimit type {name}"))?;
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: setrlimit reads the struct.
        if unsafe { libc::setrlimit(res, &raw const lim) } != 0 {
            let e = std::io::Error::last_os_error();
            bail!(
                "error setting rlimit type {}: {}",
                name.trim_start_matches("RLIMIT_"),
                ctcore::error_text(&e)
            );
        }
    }
    Ok(())
}

/// Write oom_score_adj.
///
/// # Errors
/// The write.
pub fn set_oom_score_adj(p: &Process) -> Result<()> {
    if let Some(v) = p.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", v.to_string())
            .map_err(|e| anyhow!("cannot set oom_score_adj: {}", ctcore::error_text(&e)))?;
    }
    Ok(())
}

fn errno(what: &str) -> anyhow::Error {
    let e = std::io::Error::last_os_error();
    anyhow!("{what}: {}", ctcore::error_text(&e))
}

fn capset(eff: u64, perm: u64, inh: u64) -> Result<()> {
    ctcore::caps::set(eff, perm, inh)
        .map_err(|e| anyhow!("unable to apply caps: {}", ctcore::error_text(&e)))
}

/// Compile the config's seccomp profile for the process `p`, whose bounding
/// set's capabilities decide the profile's capability conditions (every
/// capability without a process or a bounding set), through
/// ctcore::seccomp, which reads the OCI JSON.
///
/// # Errors
/// A profile ctcore refuses (an unknown action, SCMP_ACT_NOTIFY...).
pub fn compile_seccomp(s: &LinuxSeccomp, p: Option<&Process>) -> Result<ctcore::seccomp::Filter> {
    let caps = p.and_then(cap_sets).map_or(u64::MAX, |c| c[0]);
    let text = serde_json::to_string(s)?;
    let profile = ctcore::seccomp::parse(&text).map_err(|e| anyhow!("seccomp: {e}"))?;
    let target = ctcore::seccomp::Target::native(caps).map_err(|e| anyhow!("seccomp: {e}"))?;
    profile
        .compile(&target)
        .map_err(|e| anyhow!("seccomp: {e}"))
}

/// Become the process's user with its capabilities, as runc's
/// finalizeNamespace: bounding set, keep caps, groups, gid, uid, then
/// effective/permitted/inheritable and the ambient set; then no_new_privs
/// and the umask.
///
/// # Errors
/// The failing step.
pub fn set_identity(p: &Process) -> Result<()> {
    fix_stdio_permissions(p.user().uid())?;
    let sets = cap_sets(p);
    if let Some([bnd, ..]) = sets {
        ctcore::caps::restrict(bnd).map_err(|(what, e)| {
            anyhow!("unable to apply caps: {what}: {}", ctcore::error_text(&e))
        })?;
    }
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    let u = p.user();
    let gids: Vec<libc::gid_t> = u.additional_gids().clone().unwrap_or_default();
    // setgroups is refused in a user namespace whose setgroups is deny;
    // with no additional groups that is no error.
    // SAFETY: setgroups reads `gids`.
    if unsafe { libc::setgroups(gids.len(), gids.as_ptr()) } != 0 && !gids.is_empty() {
        return Err(errno("setgroups"));
    }
    // SAFETY: plain system calls.
    if unsafe { libc::setresgid(u.gid(), u.gid(), u.gid()) } != 0 {
        return Err(errno(&format!("setgid {}", u.gid())));
    }
    // SAFETY: as above.
    if unsafe { libc::setresuid(u.uid(), u.uid(), u.uid()) } != 0 {
        return Err(errno(&format!("setuid {}", u.uid())));
    }
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    if let Some([_, eff, perm, inh, amb]) = sets {
        capset(eff, perm, inh)?;
        // SAFETY: prctl with integer arguments.
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        };
        for n in 0..64u32 {
            if amb & (1 << n) != 0 {
                // SAFETY: as above; a failure (a cap not permitted) is skipped as runc's warning.
                unsafe {
                    libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE,
                        libc::c_ulong::from(n),
                        0,
                        0,
                    )
                };
            }
        }
    }
    if p.no_new_privileges() == Some(true) {
        ctcore::caps::no_new_privs()
            .map_err(|e| anyhow!("no_new_privs: {}", ctcore::error_text(&e)))?;
    }
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(u.umask().unwrap_or(0o022)) };
    Ok(())
}

/// The value of NAME in `env`.
fn getenv<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter()
        .filter_map(|e| e.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Find `prog` as execve would on the container's PATH, with runc's
/// messages (which podman maps to 127).
///
/// # Errors
/// Not found.
pub fn lookup(prog: &str, env: &[String]) -> Result<PathBuf> {
    if prog.is_empty() {
        bail!("args must not be empty");
    }
    if prog.contains('/') {
        return match std::fs::metadata(prog) {
            Ok(_) => Ok(PathBuf::from(prog)),
            Err(e) => bail!(
                "exec: \"{prog}\": stat {prog}: {}",
                ctcore::error_text(&e).to_lowercase()
            ),
        };
    }
    let path = getenv(env, "PATH")
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for d in path.split(':') {
        let d = if d.is_empty() { "." } else { d };
        let c = Path::new(d).join(prog);
        if let Ok(md) = std::fs::metadata(&c)
            && md.is_file()
        {
            return Ok(c);
        }
    }
    bail!("exec: \"{prog}\": executable file not found in $PATH")
}

/// Change to the process's cwd (made if missing, as runc does).
///
/// # Errors
/// The directory cannot be made or entered.
pub fn chdir(p: &Process) -> Result<()> {
    let cwd = p.cwd();
    let cwd = if cwd.as_os_str().is_empty() {
        Path::new("/")
    } else {
        cwd.as_path()
    };
    if std::env::set_current_dir(cwd).is_err() {
        let _ = std::fs::create_dir_all(cwd);
        std::env::set_current_dir(cwd).map_err(|e| {
            anyhow!(
                "chdir to cwd (\"{}\") set in config.json failed: {}",
                cwd.display(),
                ctcore::error_text(&e).to_lowercase()
            )
        })?;
    }
    cwd_inside_root(cwd)
}

/// Refuse a working directory outside the process's root (CVE-2024-21626):
/// a `cwd` through a leaked descriptor (`/proc/self/fd/N` of a directory of
/// the host) is entered by chdir, and the kernel's getcwd then names it
/// `(unreachable)...` instead of a path from `/`.
///
/// # Errors
/// The directory is not below the root, or getcwd fails.
pub fn cwd_inside_root(cwd: &Path) -> Result<()> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: the raw getcwd system call (not libc's, which hides the
    // "(unreachable)" prefix behind ENOENT) writes at most buf.len() bytes.
    let n = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        // A directory too deep to name is still below the root.
        if e.raw_os_error() == Some(libc::ENAMETOOLONG) {
            return Ok(());
        }
        bail!(
            "working directory {}: getcwd: {}",
            cwd.display(),
            ctcore::error_text(&e)
        );
    }
    if buf.first() != Some(&b'/') {
        bail!(
            "working directory {} is outside the container's root (a leaked descriptor?): refused",
            cwd.display()
        );
    }
    Ok(())
}

/// Mark every descriptor above `keep_upto` close-on-exec.
pub fn cloexec_from(first: u32) {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r != 0 {
        for fd in first..1024 {
            // SAFETY: fcntl on any number is harmless.
            unsafe { libc::fcntl(fd as i32, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// The standard streams given to the process's user, as runc's
/// fixStdioPermissions: each of 0, 1 and 2 that is neither /dev/null nor the
/// user's already is chowned to the user (its group kept: a terminal stays
/// the tty group's), so that the user can reopen its own terminal (/dev/tty)
/// as under runc; an owner or group the user namespace does not map (EINVAL,
/// EPERM) leaves it as it is, as runc leaves it.
fn fix_stdio_permissions(uid: libc::uid_t) -> Result<()> {
    for fd in 0..3 {
        // SAFETY: fstat writes the struct it is given.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat on a descriptor number; a closed one fails.
        if unsafe { libc::fstat(fd, &raw mut st) } != 0 {
            continue;
        }
        let null = st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3);
        if st.st_uid == uid || null {
            continue;
        }
        // SAFETY: fchown on a descriptor of ours; -1 keeps the group.
        if unsafe { libc::fchown(fd, uid, libc::gid_t::MAX) } != 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINVAL | libc::EPERM) => {}
                _ => bail!("fix stdio permissions: {}", ctcore::error_text(&e)),
            }
        }
    }
    Ok(())
}

/// execve `path` with the process's args and env.
///
/// # Errors
/// execve's (the caller exits).
pub fn exec(path: &Path, p: &Process) -> anyhow::Error {
    let to_c = |s: &str| CString::new(s.as_bytes()).unwrap_or_default();
    let args: Vec<CString> = p.args().iter().flatten().map(|a| to_c(a)).collect();
    let env: Vec<CString> = p.env().iter().flatten().map(|a| to_c(a)).collect();
    let cpath = CString::new(path.as_os_str().as_bytes()).unwrap_or_default();
    let e = nix::unistd::execve(&cpath, &args, &env).unwrap_err();
    anyhow!(
        "exec {}: {}",
        path.display(),
        ctcore::errno_text(e).to_lowercase()
    )
}
