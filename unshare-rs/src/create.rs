//! Create mode: unshare(2) the namespaces, set them up, run PROGRAM.
//!
//! Processes, in order of creation:
//! * the map helper (only for multi-range ID maps), forked before
//!   unshare(2): it stays in the parent user namespace and writes
//!   `/proc/PID/uid_map` (as root) or runs newuidmap/newgidmap;
//! * the bind helper (only with `=FILE`), forked before unshare(2): it stays
//!   in the original mount namespace and bind mounts the namespace files;
//! * with `--fork` (implied by `--pid` and `--kill-child`), the child; in a
//!   new PID namespace it is pid 1 and runs [`init`], which forks PROGRAM.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use ctcore::failure;
use ctcore::wait::Ended;

use crate::cli::Cli;
use crate::idmap::{self, Map, Which};
use crate::{Kind, diag, sys};

/// Everything decided before any system call changes the process.
#[derive(Debug, Default)]
pub struct Plan {
    pub flags: libc::c_int,
    pub persist: Vec<(Kind, PathBuf)>,
    pub uid_map: Option<Map>,
    pub gid_map: Option<Map>,
    pub setgroups: Option<String>,
    pub fork: bool,
    pub init: bool,
    pub kill_child: Option<i32>,
    pub mount_proc: Option<PathBuf>,
    pub propagation: Option<libc::c_ulong>,
    pub private_default: bool,
    /// `--ro-bind`: paths bound on themselves read-only in the new mount namespace.
    pub ro_binds: Vec<PathBuf>,
    pub root: Option<PathBuf>,
    pub wd: Option<PathBuf>,
    pub setuid: Option<u32>,
    pub setgid: Option<u32>,
    pub keep_caps: bool,
    /// `--cap-drop`/`--cap-add`: PROGRAM's bounding set.
    pub caps_keep: Option<u64>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    pub monotonic: Option<i64>,
    pub boottime: Option<i64>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub loopback: bool,
    pub argv: Vec<OsString>,
    pub argv0: Option<OsString>,
    /// `--owner`: the uid and gid to become before unshare.
    pub owner: Option<(u32, u32)>,
    /// `--new-keyring`.
    pub new_keyring: bool,
    /// `--clear-env`.
    pub clear_env: bool,
    /// `--whitelist-env`.
    pub whitelist_env: Vec<String>,
    /// `--console-relay=PATH`.
    pub console_relay: Option<PathBuf>,
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    failure(125, msg)
}

fn parse_id(s: &str, what: &str) -> Result<u32> {
    s.parse::<u32>()
        .map_err(|_| usage(format!("invalid {what} argument: '{s}'")))
}

fn user_id(s: &str) -> Result<u32> {
    if let Ok(n) = s.parse::<u32>() {
        return Ok(n);
    }
    ctcore::passwd::Db::new()
        .user_by_name(s)
        .map(|u| u.uid)
        .ok_or_else(|| usage(format!("unknown user '{s}'")))
}

/// `--owner UID:GID`, each a number or a name; a user name alone means its
/// login group too.
fn parse_owner(s: &str) -> Result<(u32, u32)> {
    match s.split_once(':') {
        Some((u, g)) if !u.is_empty() && !g.is_empty() => Ok((user_id(u)?, group_id(g)?)),
        None if s.parse::<u32>().is_err() && !s.is_empty() => ctcore::passwd::Db::new()
            .user_by_name(s)
            .map(|u| (u.uid, u.gid))
            .ok_or_else(|| usage(format!("unknown user '{s}'"))),
        _ => Err(usage(format!(
            "invalid --owner argument: '{s}' (UID:GID, or a user name)"
        ))),
    }
}

fn group_id(s: &str) -> Result<u32> {
    if let Ok(n) = s.parse::<u32>() {
        return Ok(n);
    }
    ctcore::passwd::Db::new()
        .group_by_name(s)
        .map(|g| g.gid)
        .ok_or_else(|| usage(format!("unknown group '{s}'")))
}

impl Plan {
    /// Decide everything from the command line.
    ///
    /// # Errors
    /// Usage errors and unreadable map sources.
    pub fn from_cli(cli: &Cli) -> Result<Self> {
        let mut p = Self::default();
        for (kind, opt) in crate::ns_options(cli) {
            if let Some(file) = opt {
                p.flags |= kind.flag;
                if let Some(f) = file {
                    p.persist.push((kind, f));
                }
            }
        }
        if cli.mount_proc.is_some() || !cli.ro_bind.is_empty() {
            p.flags |= libc::CLONE_NEWNS;
        }
        if cli.hostname.is_some() || cli.domainname.is_some() {
            p.flags |= libc::CLONE_NEWUTS;
        }
        if cli.loopback {
            p.flags |= libc::CLONE_NEWNET;
        }
        if cli.map_auto {
            p.flags |= libc::CLONE_NEWUSER;
        }
        let mut users: Vec<String> = cli.map_users.clone();
        let mut groups: Vec<String> = cli.map_groups.clone();
        if cli.map_auto {
            users.push("auto".into());
            groups.push("auto".into());
        }
        if cli.map_subids {
            users.push("subids".into());
            groups.push("subids".into());
        }
        // --owner: the namespace's owner is who the maps map from.
        p.owner = cli.owner.as_deref().map(parse_owner).transpose()?;
        let (euid, egid) = p.owner.unwrap_or_else(|| {
            (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            )
        });
        let single_uid = match (&cli.map_user, cli.map_root_user, cli.map_current_user) {
            (Some(u), _, _) => Some(user_id(u)?),
            (None, true, _) => Some(0),
            (None, false, true) => Some(euid),
            _ => None,
        };
        let single_gid = match (&cli.map_group, cli.map_root_user, cli.map_current_user) {
            (Some(g), _, _) => Some(group_id(g)?),
            (None, true, _) => Some(0),
            (None, false, true) => Some(egid),
            _ => None,
        };
        if single_uid.is_some() || single_gid.is_some() || !users.is_empty() || !groups.is_empty() {
            p.flags |= libc::CLONE_NEWUSER;
        }
        if !users.is_empty() || !groups.is_empty() {
            let name = ctcore::passwd::Db::new()
                .user_by_uid(euid)
                .map(|u| String::from_utf8_lossy(&u.name).into_owned());
            let mut names: Vec<String> = name.into_iter().collect();
            names.push(euid.to_string());
            let own_uid = idmap::parse_proc_map(
                &std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default(),
            );
            let own_gid = idmap::parse_proc_map(
                &std::fs::read_to_string("/proc/self/gid_map").unwrap_or_default(),
            );
            let mut ur = Vec::new();
            for s in &users {
                ur.extend(
                    idmap::expand(s, Which::Uid, &names, &own_uid)
                        .map_err(|e| usage(format!("{e:#}")))?,
                );
            }
            let mut gr = Vec::new();
            for s in &groups {
                gr.extend(
                    idmap::expand(s, Which::Gid, &names, &own_gid)
                        .map_err(|e| usage(format!("{e:#}")))?,
                );
            }
            p.uid_map = idmap::build(single_uid, euid, ur);
            p.gid_map = idmap::build(single_gid, egid, gr);
        } else {
            p.uid_map = idmap::build(single_uid, euid, vec![]);
            p.gid_map = idmap::build(single_gid, egid, vec![]);
        }
        let single_gid_map = p.gid_map.as_ref().is_some_and(|m| !m.multi);
        match cli.setgroups.as_deref() {
            Some("allow") if single_gid_map => {
                return Err(usage(
                    "options --setgroups=allow and --map-group are mutually exclusive",
                ));
            }
            Some(v) => p.setgroups = Some(v.to_string()),
            None if single_gid_map => p.setgroups = Some("deny".into()),
            None => {}
        }
        if p.owner.is_some() && p.flags & libc::CLONE_NEWUSER == 0 {
            return Err(usage(
                "option --owner needs a new user namespace (--user, or a map option)",
            ));
        }
        if p.setgroups.is_some() && p.flags & libc::CLONE_NEWUSER == 0 {
            return Err(usage(
                "option --setgroups needs a new user namespace (--user)",
            ));
        }
        if (cli.monotonic.is_some() || cli.boottime.is_some()) && p.flags & libc::CLONE_NEWTIME == 0
        {
            return Err(usage(
                "options --monotonic and --boottime require unsharing of a time namespace (-T)",
            ));
        }
        p.monotonic = cli.monotonic;
        p.boottime = cli.boottime;
        p.kill_child = cli
            .kill_child
            .as_deref()
            .map(sys::parse_signal)
            .transpose()
            .map_err(|e| usage(e.to_string()))?;
        p.fork = cli.fork
            || cli.forward_signals
            || p.kill_child.is_some()
            || p.flags & libc::CLONE_NEWPID != 0;
        p.init = p.flags & libc::CLONE_NEWPID != 0 && !cli.no_init;
        p.console_relay.clone_from(&cli.console_relay);
        if p.console_relay.is_some() && !p.fork {
            return Err(usage("option --console-relay needs --fork"));
        }
        if p.flags & libc::CLONE_NEWNS != 0 {
            p.propagation = match cli.propagation.as_str() {
                "private" => Some(libc::MS_REC | libc::MS_PRIVATE),
                "shared" => Some(libc::MS_REC | libc::MS_SHARED),
                "slave" => Some(libc::MS_REC | libc::MS_SLAVE),
                "unchanged" => None,
                other => return Err(usage(format!("unsupported propagation mode: {other}"))),
            };
        }
        p.private_default = cli.propagation == "private";
        p.ro_binds.clone_from(&cli.ro_bind);
        p.mount_proc = cli.mount_proc.clone();
        p.root = cli.root.clone();
        p.wd = match &cli.wd {
            Some(w) if w.is_empty() => {
                return Err(usage("option --wd needs a directory (without --target)"));
            }
            w => w.as_ref().map(PathBuf::from),
        };
        if cli.all
            || cli.preserve_credentials
            || cli.no_fork
            || cli.tty
            || cli.env
            || cli.join_cgroup
        {
            return Err(usage(
                "options --all, --preserve-credentials, --no-fork, --tty, --env and --join-cgroup need --target",
            ));
        }
        if cli.net_socket.is_some()
            || cli.user_parent
            || cli.userspec.is_some()
            || cli.seccomp.is_some()
        {
            return Err(usage(
                "options --net-socket, --user-parent, --userspec and --seccomp need --target or --join",
            ));
        }
        p.new_keyring = cli.new_keyring;
        p.clear_env = cli.clear_env;
        p.whitelist_env.clone_from(&cli.whitelist_env);
        if cli.wdns.is_some() {
            return Err(usage(
                "option --wdns needs --target or --join (without them, -w DIR is inside the new root already)",
            ));
        }
        p.setuid = cli
            .setuid
            .as_deref()
            .map(|s| parse_id(s, "uid"))
            .transpose()?;
        p.setgid = cli
            .setgid
            .as_deref()
            .map(|s| parse_id(s, "gid"))
            .transpose()?;
        p.keep_caps = cli.keep_caps;
        p.caps_keep = crate::wanted_caps(cli)?;
        p.no_new_privs = cli.no_new_privs;
        if let Some(h) = &cli.hostname {
            if h.is_empty() || h.len() > 64 {
                return Err(usage(format!("invalid host name '{h}': 1 to 64 bytes")));
            }
            p.hostname = Some(h.clone());
        }
        if let Some(d) = &cli.domainname {
            if d.is_empty() || d.len() > 64 {
                return Err(usage(format!("invalid domain name '{d}': 1 to 64 bytes")));
            }
            p.domainname = Some(d.clone());
        }
        p.loopback = cli.loopback;
        let (argv, argv0) = crate::program_or_shell(&cli.program);
        p.argv = argv;
        p.argv0 = argv0;
        Ok(p)
    }

    fn new_user(&self) -> bool {
        self.flags & libc::CLONE_NEWUSER != 0
    }

    fn multi_maps(&self) -> bool {
        self.uid_map.as_ref().is_some_and(|m| m.multi)
            || self.gid_map.as_ref().is_some_and(|m| m.multi)
    }
}

/// A forked helper that waits for a pid on a pipe, then does its job.
struct Helper {
    pid: i32,
    go: Option<OwnedFd>,
}

impl Helper {
    fn spawn(job: impl FnOnce(i32) -> Result<()>) -> Result<Self> {
        let (r, w) = sys::pipe()?;
        let pid = sys::fork()?;
        if pid == 0 {
            drop(w);
            let mut b = [0u8; 4];
            if sys::read_fd(&r, &mut b) != 4 {
                // SAFETY: the job was cancelled; leave without the parent's cleanup.
                unsafe { libc::_exit(0) };
            }
            match job(i32::from_ne_bytes(b)) {
                // SAFETY: as above.
                Ok(()) => unsafe { libc::_exit(0) },
                Err(e) => crate::die(&e),
            }
        }
        drop(r);
        Ok(Self { pid, go: Some(w) })
    }

    /// Tell the helper to go for `target` and wait for it.
    fn run(mut self, target: i32) -> Result<()> {
        if let Some(go) = self.go.take() {
            sys::write_fd(&go, &target.to_ne_bytes());
        }
        match sys::wait_ended(self.pid)? {
            Ended::Exited(0) => Ok(()),
            _ => Err(ctcore::silent(125)),
        }
    }

    /// Our end of the pipe, which a forked child must close.
    fn go_fd(&self) -> Option<RawFd> {
        self.go.as_ref().map(AsRawFd::as_raw_fd)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if self.go.take().is_some() {
            let _ = sys::wait(self.pid, 0);
        }
    }
}

/// Files created for persistence, removed again unless disarmed.
struct Created {
    files: Vec<PathBuf>,
}

impl Drop for Created {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn create_files(persist: &[(Kind, PathBuf)]) -> Result<Created> {
    let mut c = Created { files: Vec::new() };
    for (_, f) in persist {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(f)
        {
            Ok(_) => c.files.push(f.clone()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(failure(
                    125,
                    format!("cannot create {}: {}", f.display(), ctcore::error_text(&e)),
                ));
            }
        }
    }
    Ok(c)
}

/// In the bind helper: bind mount `/proc/PID/ns/X` on each file.
fn bind_all(pid: i32, persist: &[(Kind, PathBuf)], forked: bool) -> Result<()> {
    let mut done: Vec<&Path> = Vec::new();
    for (kind, file) in persist {
        let name = match (kind.name, forked) {
            ("pid", false) => "pid_for_children",
            ("time", false) => "time_for_children",
            (n, _) => n,
        };
        let src = format!("/proc/{pid}/ns/{name}");
        if let Err(e) = sys::mount(Some(&src), file, None, libc::MS_BIND) {
            for d in &done {
                sys::umount_detach(d);
            }
            let mut msg = format!(
                "mount {src} on {} failed: {}",
                file.display(),
                ctcore::error_text(&e)
            );
            if e.raw_os_error() == Some(libc::EINVAL) {
                let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
                if let Some(h) = diag::shared_hint(&mi, file) {
                    msg = format!("{msg}: {h}");
                }
            } else if e.raw_os_error() == Some(libc::EPERM) && !nix::unistd::geteuid().is_root() {
                msg = format!(
                    "{msg}: persisting a namespace needs CAP_SYS_ADMIN in the original namespaces"
                );
            }
            return Err(failure(125, msg));
        }
        done.push(file);
    }
    Ok(())
}

/// In the map helper: write the multi-range maps of process `pid`.
fn write_maps(pid: i32, maps: &[(Which, Map)]) -> Result<()> {
    for (which, map) in maps {
        if nix::unistd::geteuid().is_root() {
            let path = format!("/proc/{pid}/{}", which.map_file());
            sys::write_proc(&path, &map.text())
                .map_err(|e| anyhow!("write failed {path}: {}", ctcore::error_text(&e)))?;
        } else {
            let tool = which.helper();
            let Some(exe) = ctcore::exec::which(tool.as_ref()) else {
                bail!(
                    "{tool} not found: multi-range ID maps need it when not root (install the uidmap package)"
                );
            };
            let st = std::process::Command::new(&exe)
                .arg(pid.to_string())
                .args(map.helper_args())
                .status()
                .with_context(|| format!("cannot execute {tool}"))?;
            if !st.success() {
                bail!(
                    "{tool} failed ({st}); check the ranges in {}",
                    which.sub_file()
                );
            }
        }
    }
    Ok(())
}

fn errno_error(what: &str, e: &io::Error, hint: Option<String>) -> anyhow::Error {
    let base = format!("{what}: {}", ctcore::error_text(e));
    failure(125, hint.map_or(base.clone(), |h| format!("{base}: {h}")))
}

/// After unshare: maps, time offsets, host name, loopback, propagation.
fn setup_namespaces(plan: &Plan, mapper: Option<Helper>) -> Result<()> {
    if let Some(v) = &plan.setgroups {
        sys::write_proc("/proc/self/setgroups", v)
            .map_err(|e| errno_error("write failed /proc/self/setgroups", &e, None))?;
    }
    if let Some(m) = mapper {
        m.run(nix::unistd::getpid().as_raw())?;
    }
    for (which, map) in [(Which::Uid, &plan.uid_map), (Which::Gid, &plan.gid_map)] {
        if let Some(map) = map
            && !map.multi
        {
            let path = format!("/proc/self/{}", which.map_file());
            sys::write_proc(&path, &map.text())
                .map_err(|e| errno_error(&format!("write failed {path}"), &e, None))?;
        }
    }
    if plan.monotonic.is_some() || plan.boottime.is_some() {
        let mut text = String::new();
        if let Some(s) = plan.monotonic {
            text.push_str(&format!("monotonic {s} 0\n"));
        }
        if let Some(s) = plan.boottime {
            text.push_str(&format!("boottime {s} 0\n"));
        }
        sys::write_proc("/proc/self/timens_offsets", &text)
            .map_err(|e| errno_error("failed to write to /proc/self/timens_offsets", &e, None))?;
    }
    if let Some(h) = &plan.hostname {
        nix::unistd::sethostname(h).map_err(|e| {
            errno_error(
                "sethostname failed",
                &io::Error::from_raw_os_error(e as i32),
                None,
            )
        })?;
    }
    if let Some(d) = &plan.domainname {
        // SAFETY: the pointer and length describe `d`'s bytes.
        if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
            return Err(errno_error(
                "setdomainname failed",
                &io::Error::last_os_error(),
                None,
            ));
        }
    }
    if plan.loopback {
        sys::loopback_up()?;
    }
    if let Some(flags) = plan.propagation {
        sys::mount(Some("none"), Path::new("/"), None, flags).map_err(|e| {
            errno_error(
                "cannot change root filesystem propagation",
                &e,
                diag::propagation_hint(e.raw_os_error().unwrap_or(0)),
            )
        })?;
    }
    for p in &plan.ro_binds {
        ro_bind(p)?;
    }
    Ok(())
}

/// `--ro-bind PATH`: PATH bound on itself, then that bind made read-only,
/// nosuid and nodev (the new mount namespace's alone: its propagation was
/// set first; a bind inherits its source mount's flags until remounted).
fn ro_bind(p: &Path) -> Result<()> {
    let fail =
        |what: &str, e: &io::Error| errno_error(&format!("cannot {what} {}", p.display()), e, None);
    let src = p
        .to_str()
        .ok_or_else(|| usage(format!("--ro-bind: not a UTF-8 path: {}", p.display())))?;
    sys::mount(Some(src), p, None, libc::MS_BIND).map_err(|e| fail("bind", &e))?;
    sys::mount(
        None,
        p,
        None,
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
    )
    .map_err(|e| fail("make read-only the bind of", &e))
}

/// In the process that will run PROGRAM (or be its init): root, working
/// directory, proc, credentials, capabilities.
fn setup_process(plan: &Plan) -> Result<()> {
    if let Some(root) = &plan.root {
        let c = sys::cpath(root)?;
        // SAFETY: a valid C string.
        if unsafe { libc::chroot(c.as_ptr()) } < 0 {
            let e = io::Error::last_os_error();
            return Err(errno_error(
                &format!("cannot change root directory to '{}'", root.display()),
                &e,
                None,
            ));
        }
        let wd = plan.wd.clone().unwrap_or_else(|| "/".into());
        std::env::set_current_dir(&wd).map_err(|e| {
            errno_error(
                &format!("cannot change directory to {}", wd.display()),
                &e,
                None,
            )
        })?;
    } else if let Some(wd) = &plan.wd {
        std::env::set_current_dir(wd).map_err(|e| {
            errno_error(
                &format!("cannot change directory to {}", wd.display()),
                &e,
                None,
            )
        })?;
    }
    if let Some(dir) = &plan.mount_proc {
        if !plan.private_default && plan.root.is_none() {
            match sys::mount(Some("none"), dir, None, libc::MS_REC | libc::MS_PRIVATE) {
                Err(e) if e.raw_os_error() != Some(libc::EINVAL) => {
                    return Err(errno_error(
                        &format!("cannot change {} filesystem propagation", dir.display()),
                        &e,
                        None,
                    ));
                }
                _ => {}
            }
        }
        sys::mount(
            Some("proc"),
            dir,
            Some("proc"),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        )
        .map_err(|e| {
            // Only now, on failure: the mounts over parts of /proc (the new
            // mount namespace has the caller's) explain an EPERM.
            let masks = if e.raw_os_error() == Some(libc::EPERM) {
                let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
                diag::proc_masks(&mi, Path::new("/proc"))
            } else {
                Vec::new()
            };
            errno_error(
                &format!("mount proc on {} failed", dir.display()),
                &e,
                diag::proc_hint(
                    e.raw_os_error().unwrap_or(0),
                    &masks,
                    plan.new_user(),
                    plan.flags & libc::CLONE_NEWPID != 0,
                ),
            )
        })?;
    }
    if plan.new_keyring {
        crate::secure::new_session_keyring()?;
    }
    if let Some(kept) = crate::secure::kept_environment(plan.clear_env, &plan.whitelist_env) {
        crate::secure::replace_environment(&kept);
    }
    crate::harden(plan.caps_keep, plan.no_new_privs)?;
    if let Some(g) = plan.setgid {
        // SAFETY: plain credential syscalls.
        if unsafe { libc::setgroups(0, std::ptr::null()) } < 0 {
            return Err(errno_error(
                "setgroups failed",
                &io::Error::last_os_error(),
                None,
            ));
        }
        // SAFETY: as above.
        if unsafe { libc::setgid(g) } < 0 {
            return Err(errno_error(
                "setgid() failed",
                &io::Error::last_os_error(),
                None,
            ));
        }
    }
    if let Some(u) = plan.setuid {
        // SAFETY: as above.
        if unsafe { libc::setuid(u) } < 0 {
            return Err(errno_error(
                "setuid() failed",
                &io::Error::last_os_error(),
                None,
            ));
        }
    }
    if plan.keep_caps && plan.new_user() {
        sys::keep_caps()?;
    }
    Ok(())
}

/// The namespace inodes of `pid`, through a descriptor of the proc mount
/// of our PID namespace (the child may mount another proc on /proc).
fn inodes(proc: Option<&std::fs::File>, pid: i32) -> Vec<(&'static str, Option<u64>)> {
    crate::KINDS
        .iter()
        .map(|k| {
            let rel = format!("{pid}/ns/{}", k.name);
            let ino = match proc {
                Some(dir) => sys::inode_at(dir, &rel),
                None => crate::ns_inode(&Path::new("/proc").join(&rel)),
            };
            (k.name, ino)
        })
        .collect()
}

/// Run the tool in create mode.
///
/// # Errors
/// Any failure; see the module documentation.
pub fn run(cli: &Cli) -> Result<i32> {
    let plan = Plan::from_cli(cli)?;
    let mut status = crate::status_fd(cli.json_status)?;
    sys::default_sigchld();
    let threads = if plan.new_user() {
        sys::thread_count()
    } else {
        1
    };
    if threads > 1 {
        return Err(failure(
            125,
            format!(
                "unshare failed: the caller is multithreaded ({threads} threads); a user namespace needs a single-threaded process"
            ),
        ));
    }
    // --console-relay: the socket exists before anything is forked.
    let console = plan
        .console_relay
        .as_deref()
        .map(ConsoleSocket::listen)
        .transpose()?;
    let created = create_files(&plan.persist)?;
    let mapper = if plan.multi_maps() {
        let maps: Vec<(Which, Map)> = [(Which::Uid, &plan.uid_map), (Which::Gid, &plan.gid_map)]
            .into_iter()
            .filter_map(|(w, m)| m.as_ref().filter(|m| m.multi).map(|m| (w, m.clone())))
            .collect();
        Some(Helper::spawn(move |pid| write_maps(pid, &maps))?)
    } else {
        None
    };
    let binder = if plan.persist.is_empty() {
        None
    } else {
        let persist = plan.persist.clone();
        let forked = plan.fork;
        Some(Helper::spawn(move |pid| bind_all(pid, &persist, forked))?)
    };
    if let Some((u, g)) = plan.owner {
        become_owner(u, g)?;
    }
    // SAFETY: unshare with flags; no other thread exists.
    if unsafe { libc::unshare(plan.flags) } < 0 {
        let e = io::Error::last_os_error();
        drop(binder);
        drop(mapper);
        let hint = diag::unshare_hint(
            e.raw_os_error().unwrap_or(0),
            plan.flags,
            nix::unistd::geteuid().as_raw(),
            threads,
            Path::new("/proc"),
        );
        drop(created);
        return Err(errno_error("unshare failed", &e, hint));
    }
    setup_namespaces(&plan, mapper)?;
    if !plan.fork {
        // /proc may be out of reach after --root: keep a handle on it.
        let proc_dir = status
            .as_ref()
            .and_then(|_| std::fs::File::open("/proc").ok());
        setup_process(&plan)?;
        let me = nix::unistd::getpid().as_raw();
        if let Some(b) = binder {
            b.run(me)?;
        }
        std::mem::forget(created);
        if let Some(s) = status.as_mut() {
            s.write(&crate::status_start(me, &inodes(proc_dir.as_ref(), me)))?;
        }
        return Err(crate::exec_program(&plan.argv, plan.argv0.as_ref()));
    }
    fork_and_wait(&plan, binder, created, status, console)
}

/// `--console-relay`: the listening socket, its path removed when dropped.
struct ConsoleSocket {
    path: PathBuf,
    listener: Option<std::os::unix::net::UnixListener>,
    /// The socket's directory and name, to unlink it there: the process may
    /// have a new root by then (a pivot_root in its mount namespace moves it).
    dir: Option<(OwnedFd, std::ffi::CString)>,
}

impl ConsoleSocket {
    fn listen(path: &Path) -> Result<Self> {
        // Mode 0600: only root (our user) may hand us a terminal.
        // SAFETY: umask only changes this process's mask, restored below.
        let (_dir, short) = ctcore::tty::socket_path(path);
        // A socket left by a relay that died, which nobody listens on, is
        // replaced.
        if std::fs::symlink_metadata(path)
            .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
            && std::os::unix::net::UnixStream::connect(&short)
                .is_err_and(|e| e.raw_os_error() == Some(libc::ECONNREFUSED))
        {
            let _ = std::fs::remove_file(path);
        }
        let old = unsafe { libc::umask(0o177) };
        let r = std::os::unix::net::UnixListener::bind(&short);
        // SAFETY: as above.
        unsafe { libc::umask(old) };
        let listener = r.map_err(|e| {
            failure(
                125,
                format!(
                    "cannot listen on the console socket {}: {}",
                    path.display(),
                    ctcore::error_text(&e)
                ),
            )
        })?;
        let dir = match (path.parent(), path.file_name()) {
            (Some(d), Some(n)) => {
                let d = if d.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    d
                };
                std::fs::File::open(d)
                    .ok()
                    .zip(std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(n)).ok())
            }
            _ => None,
        }
        .map(|(f, n)| (OwnedFd::from(f), n));
        Ok(Self {
            path: path.to_path_buf(),
            listener: Some(listener),
            dir,
        })
    }

    /// Wait for the master of a pty on the socket (or for `pid` to end
    /// without sending one), then relay it until the terminal closes or
    /// `pid` ends.  The socket's path is removed as soon as it is done with.
    fn relay(&mut self, pid: i32) {
        let Some(l) = self.listener.take() else {
            return;
        };
        let ended = sys::pidfd_open(pid);
        let conn = loop {
            let mut fds = [
                libc::pollfd {
                    fd: l.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: ended.as_ref().map_or(-1, AsRawFd::as_raw_fd),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: two valid pollfd entries.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
                if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                break None;
            }
            if fds[0].revents != 0 {
                match l.accept() {
                    Ok((c, _)) => break Some(c),
                    Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                    Err(_) => break None,
                }
            } else if fds[1].revents != 0 {
                // PROGRAM ended without a terminal to hand over.
                break None;
            }
        };
        drop(l);
        self.remove();
        let Some(conn) = conn else {
            return;
        };
        match ctcore::tty::recv_fd(conn.as_raw_fd()) {
            Ok((master, _name)) => {
                drop(conn);
                ctcore::tty::relay_master(&master, ended.as_ref().map(AsRawFd::as_raw_fd));
            }
            Err(e) => eprintln!(
                "unshare-rs: no terminal received on the console socket {}: {}",
                self.path.display(),
                ctcore::errno_text(e)
            ),
        }
    }

    fn remove(&mut self) {
        if let Some((dir, name)) = self.dir.take() {
            // SAFETY: a directory descriptor of ours and a C string.
            unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) };
        }
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        self.remove();
    }
}

/// `--owner`: drop the supplementary groups, then become GID and UID, so
/// that the user namespace made next is theirs.
fn become_owner(uid: u32, gid: u32) -> Result<()> {
    let hint = || {
        (!nix::unistd::geteuid().is_root())
            .then(|| "--owner needs root (CAP_SETUID and CAP_SETGID)".to_string())
    };
    let fail = |what: &str| errno_error(what, &io::Error::last_os_error(), hint());
    // SAFETY: plain credential system calls; no other thread exists.
    if unsafe { libc::setgroups(0, std::ptr::null()) } < 0 {
        return Err(fail("setgroups failed"));
    }
    // SAFETY: as above.
    if unsafe { libc::setgid(gid) } < 0 {
        return Err(fail("setgid() failed"));
    }
    // SAFETY: as above.
    if unsafe { libc::setuid(uid) } < 0 {
        return Err(fail("setuid() failed"));
    }
    // Changing the uid made the process undumpable, which gives its /proc/self
    // files to root: the owner could not write its own maps and setgroups.
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) } < 0 {
        return Err(fail("prctl(PR_SET_DUMPABLE) failed"));
    }
    Ok(())
}

fn fork_and_wait(
    plan: &Plan,
    binder: Option<Helper>,
    created: Created,
    mut status: Option<ctcore::json::StatusFd>,
    mut console: Option<ConsoleSocket>,
) -> Result<i32> {
    let parent_fd = plan
        .kill_child
        .and_then(|_| sys::pidfd_open(nix::unistd::getpid().as_raw()));
    // The child waits for a go only when something must happen between its
    // set-up and PROGRAM: persistence bind mounts, the status line.
    let handshake = binder.is_some() || status.is_some();
    let proc_dir = status
        .as_ref()
        .and_then(|_| std::fs::File::open("/proc").ok());
    sys::block_forwarded(true);
    sys::install_forwarding();
    // ready: the child's "set up" byte, and the init's report of a signal
    // death; go: the parent's go-ahead.
    let ready = if handshake || plan.init {
        Some(sys::pipe()?)
    } else {
        None
    };
    let go = if handshake { Some(sys::pipe()?) } else { None };
    // What the child runs gets everything by value: an init shares this
    // process's memory (sys::clone_vm), and our locals go on changing.
    let pair =
        |p: &Option<(OwnedFd, OwnedFd)>| p.as_ref().map(|(r, w)| (r.as_raw_fd(), w.as_raw_fd()));
    let (ready_raw, go_raw) = (pair(&ready), pair(&go));
    let binder_go = binder.as_ref().and_then(Helper::go_fd);
    let parent_raw = parent_fd.as_ref().map(AsRawFd::as_raw_fd);
    let child_main = move || -> i32 {
        // SAFETY: the child closes its copies of the parent's pipe ends and
        // owns the other ends from here; the parent's pidfd stays open.
        let (ready_w, go_r, parent) = unsafe {
            if let Some((r, _)) = ready_raw {
                libc::close(r);
            }
            if let Some((_, w)) = go_raw {
                libc::close(w);
            }
            if let Some(g) = binder_go {
                libc::close(g);
            }
            (
                ready_raw.map(|(_, w)| OwnedFd::from_raw_fd(w)),
                go_raw.map(|(r, _)| OwnedFd::from_raw_fd(r)),
                parent_raw.map(|p| std::mem::ManuallyDrop::new(OwnedFd::from_raw_fd(p))),
            )
        };
        // An init installs its own handlers; PROGRAM run directly gets the
        // default dispositions.
        if !plan.init {
            sys::default_signals();
        }
        let e = child(plan, parent.as_deref(), ready_w, go_r, handshake);
        crate::die(&e)
    };
    let pid = if plan.init {
        sys::clone_vm(child_main)?
    } else {
        let pid = sys::fork()?;
        if pid == 0 {
            child_main();
        }
        pid
    };
    sys::forward_to(pid);
    sys::block_forwarded(false);
    let ready_r = ready.map(|(r, w)| {
        drop(w);
        r
    });
    let go_w = go.map(|(r, w)| {
        drop(r);
        w
    });
    if let (Some(ready_r), Some(go_w)) = (&ready_r, go_w) {
        let mut b = [0u8; 1];
        if sys::read_fd(ready_r, &mut b) != 1 {
            // The child failed before PROGRAM and said why.
            drop(go_w);
            let ended = sys::wait_ended(pid)?;
            drop(binder);
            drop(created);
            return match ended {
                Ended::Signaled(_) => ctcore::wait::exit_like(ended),
                Ended::Exited(0) => Err(ctcore::silent(125)),
                Ended::Exited(c) => Err(ctcore::silent(c)),
            };
        }
        if let Some(h) = binder
            && let Err(e) = h.run(pid)
        {
            // SAFETY: killing our own child by pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = sys::wait_ended(pid);
            drop(created);
            return Err(e);
        }
        std::mem::forget(created);
        if let Some(s) = status.as_mut() {
            s.write(&crate::status_start(pid, &inodes(proc_dir.as_ref(), pid)))?;
        }
        sys::write_fd(&go_w, b"G");
    }
    if let Some(c) = console.as_mut() {
        c.relay(pid);
    }
    drop(console);
    let mut ended = sys::wait_ended(pid)?;
    let mut rep = [0u8; 2];
    if let Some(r) = &ready_r
        && sys::read_fd(r, &mut rep) == 2
        && rep[0] == b'S'
    {
        ended = Ended::Signaled(i32::from(rep[1]));
    }
    if let Some(s) = status.as_mut() {
        let _ = s.write(&crate::status_end(ended));
    }
    drop(status);
    match ended {
        Ended::Exited(c) => Ok(c),
        Ended::Signaled(_) => ctcore::wait::exit_like(ended),
    }
}

/// The forked child: set up, tell the parent and wait for its go (with a
/// handshake), then run PROGRAM or be its init.  Returns only an error.
fn child(
    plan: &Plan,
    parent_fd: Option<&OwnedFd>,
    ready: Option<OwnedFd>,
    go: Option<OwnedFd>,
    handshake: bool,
) -> anyhow::Error {
    if let Some(sig) = plan.kill_child {
        // SAFETY: prctl with integer arguments.
        unsafe {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::c_ulong::try_from(sig).unwrap_or(9),
            )
        };
        if parent_fd.is_some_and(sys::pidfd_ended) {
            return ctcore::silent(1);
        }
    }
    if let Err(e) = setup_process(plan) {
        return e;
    }
    if handshake && let (Some(ready), Some(go)) = (&ready, &go) {
        sys::write_fd(ready, b"R");
        let mut b = [0u8; 1];
        if sys::read_fd(go, &mut b) != 1 {
            return ctcore::silent(125);
        }
    }
    drop(go);
    match (plan.init, ready) {
        (true, Some(report)) => init(plan, &report),
        _ => crate::exec_program(&plan.argv, plan.argv0.as_ref()),
    }
}

/// pid 1 of the new PID namespace: fork PROGRAM, forward signals to it,
/// reap everything, and end as PROGRAM ended.  A signal death is reported
/// to the parent on `report` (pid 1 cannot kill itself with a signal).
fn init(plan: &Plan, report: &OwnedFd) -> ! {
    // The forwarded signals are blocked since before the clone (a signal
    // held now reaches PROGRAM); the handlers are the init's own.
    sys::install_init_forwarding();
    let g = match sys::spawn(&plan.argv, plan.argv0.as_ref()) {
        Ok(g) => g,
        Err(e) => crate::die(&e),
    };
    sys::init_forward_to(g);
    sys::block_forwarded(false);
    loop {
        match sys::wait(-1, 0) {
            Ok((p, st)) if p == g => {
                let Some(ended) = Ended::from_raw(st) else {
                    continue;
                };
                if let Ended::Signaled(s) = ended {
                    sys::write_fd(report, &[b'S', u8::try_from(s).unwrap_or(0)]);
                }
                // SAFETY: the end of init; the kernel kills the rest.
                unsafe { libc::_exit(ended.code()) };
            }
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
                // SAFETY: nothing left to wait for.
                unsafe { libc::_exit(125) };
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan(args: &[&str]) -> Result<Plan> {
        let cli =
            Cli::try_parse_from(std::iter::once("unshare-rs").chain(args.iter().copied())).unwrap();
        Plan::from_cli(&cli)
    }

    fn msg(args: &[&str]) -> String {
        format!("{:#}", plan(args).unwrap_err())
    }

    #[test]
    fn implied_namespaces() {
        let p = plan(&["--mount-proc", "--hostname", "h", "--loopback", "true"]).unwrap();
        assert_eq!(
            p.flags,
            libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWNET
        );
        assert!(!p.fork);
        let p = plan(&["-r", "true"]).unwrap();
        assert_eq!(p.flags, libc::CLONE_NEWUSER);
        assert_eq!(p.setgroups.as_deref(), Some("deny"));
        assert_eq!(p.uid_map.unwrap().ranges[0].inner, 0);
    }

    #[test]
    fn pid_forks_and_inits() {
        let p = plan(&["-p", "true"]).unwrap();
        assert!(p.fork && p.init);
        let p = plan(&["-p", "--no-init", "true"]).unwrap();
        assert!(p.fork && !p.init);
        let p = plan(&["--kill-child", "true"]).unwrap();
        assert!(p.fork && !p.init);
        assert_eq!(p.kill_child, Some(9));
    }

    #[test]
    fn propagation_only_with_mount() {
        assert_eq!(plan(&["-u", "true"]).unwrap().propagation, None);
        assert_eq!(
            plan(&["-m", "true"]).unwrap().propagation,
            Some(libc::MS_REC | libc::MS_PRIVATE)
        );
        assert_eq!(
            plan(&["-m", "--propagation", "unchanged", "true"])
                .unwrap()
                .propagation,
            None
        );
    }

    #[test]
    fn persistence_files() {
        let p = plan(&["--net=/run/n", "--uts", "true"]).unwrap();
        assert_eq!(p.persist.len(), 1);
        assert_eq!(p.persist[0].0.name, "net");
    }

    #[test]
    fn usage_errors() {
        assert_eq!(
            msg(&["--monotonic", "5", "true"]),
            "options --monotonic and --boottime require unsharing of a time namespace (-T)"
        );
        assert_eq!(
            msg(&["-r", "--setgroups", "allow", "true"]),
            "options --setgroups=allow and --map-group are mutually exclusive"
        );
        assert_eq!(msg(&["--kill-child=NOPE", "true"]), "unknown signal: NOPE");
        assert_eq!(msg(&["-S", "x", "true"]), "invalid uid argument: 'x'");
        assert!(msg(&["--map-users", "1:2", "true"]).starts_with("invalid mapping '1:2'"));
        assert!(msg(&["--all", "true"]).contains("need --target"));
        assert!(msg(&["--setgroups", "deny", "true"]).contains("needs a new user namespace"));
    }

    #[test]
    fn multi_range_maps() {
        let p = plan(&[
            "--map-users",
            "0:100000:1000",
            "--map-groups=100000,0,1000",
            "true",
        ])
        .unwrap();
        assert!(p.flags & libc::CLONE_NEWUSER != 0);
        assert!(p.uid_map.as_ref().unwrap().multi);
        assert_eq!(p.gid_map.as_ref().unwrap().text(), "0 100000 1000\n");
        assert!(p.multi_maps());
        assert_eq!(p.setgroups, None);
    }
}
