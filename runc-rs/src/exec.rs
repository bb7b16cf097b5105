//! `exec`: a new process in a running container. runc-rs forks (C1),
//! which joins the container's cgroup and namespaces (user first, mount
//! last), forks into the PID namespace (C2) and exits; C2 enters the
//! container's root, takes the process's terminal, user, capabilities,
//! rlimits, no_new_privs and seccomp, and execs. With --detach runc-rs
//! writes the pid file and exits, leaving C2 to the caller's subreaper;
//! otherwise it waits for C2 as a subreaper and exits with its status.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use oci_spec::runtime::{Capability, Process};

use crate::state::{self, Status};
use crate::{create, process, sync};

/// What `exec` was given.
#[derive(Debug, Default)]
pub struct ExecOpts {
    /// --process FILE.
    pub process: Option<PathBuf>,
    /// --detach.
    pub detach: bool,
    /// --tty.
    pub tty: bool,
    /// --pid-file.
    pub pid_file: Option<PathBuf>,
    /// --console-socket.
    pub console_socket: Option<PathBuf>,
    /// --preserve-fds.
    pub preserve_fds: u32,
    /// --cwd.
    pub cwd: Option<String>,
    /// --env.
    pub env: Vec<String>,
    /// --user UID[:GID].
    pub user: Option<String>,
    /// --additional-gids.
    pub gids: Vec<u32>,
    /// --cap.
    pub caps: Vec<String>,
    /// --no-new-privs.
    pub nnp: bool,
    /// The command.
    pub command: Vec<String>,
}

fn build_process(rec: &state::Record, o: &ExecOpts) -> Result<Process> {
    if let Some(f) = &o.process {
        let text = fs::read_to_string(f)
            .map_err(|e| anyhow!("{}: {}", f.display(), ctcore::error_text(&e)))?;
        let mut p: Process =
            serde_json::from_str(&text).map_err(|e| anyhow!("bad process {}: {e}", f.display()))?;
        if o.tty {
            p.set_terminal(Some(true));
        }
        return Ok(p);
    }
    if o.command.is_empty() {
        bail!("exec: a process file or a command is required");
    }
    let spec = create::load_spec(&rec.bundle)?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(o.command.clone()));
    p.set_terminal(Some(o.tty));
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(o.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(c) = &o.cwd {
        p.set_cwd(PathBuf::from(c));
    }
    if let Some(u) = &o.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u.as_str(), "0"));
        let mut user = p.user().clone();
        user.set_uid(uid.parse().map_err(|_| anyhow!("bad user {u}"))?);
        user.set_gid(gid.parse().map_err(|_| anyhow!("bad user {u}"))?);
        p.set_user(user);
    }
    if !o.gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(o.gids.clone()));
        p.set_user(user);
    }
    if !o.caps.is_empty() {
        let mut c = p.capabilities().clone().unwrap_or_default();
        for name in &o.caps {
            let cap: Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|_| anyhow!("unknown capability {name}"))?;
            for set in [
                c.bounding().clone(),
                c.effective().clone(),
                c.permitted().clone(),
                c.ambient().clone(),
            ]
            .iter()
            .enumerate()
            {
                let mut s = set.1.clone().unwrap_or_default();
                s.insert(cap);
                match set.0 {
                    0 => c.set_bounding(Some(s)),
                    1 => c.set_effective(Some(s)),
                    2 => c.set_permitted(Some(s)),
                    _ => c.set_ambient(Some(s)),
                };
            }
        }
        p.set_capabilities(Some(c));
    }
    if o.nnp {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

/// The namespaces of `pid` that differ from ours, in join order.
fn ns_files(pid: i32) -> Vec<(fs::File, libc::c_int)> {
    let order = [
        ("user", libc::CLONE_NEWUSER),
        ("ipc", libc::CLONE_NEWIPC),
        ("uts", libc::CLONE_NEWUTS),
        ("net", libc::CLONE_NEWNET),
        ("pid", libc::CLONE_NEWPID),
        ("cgroup", libc::CLONE_NEWCGROUP),
        ("time", libc::CLONE_NEWTIME),
        ("mnt", libc::CLONE_NEWNS),
    ];
    let mut out = vec![];
    for (n, f) in order {
        use std::os::unix::fs::MetadataExt;
        let theirs = fs::metadata(format!("/proc/{pid}/ns/{n}"))
            .map(|m| m.ino())
            .ok();
        let ours = fs::metadata(format!("/proc/self/ns/{n}"))
            .map(|m| m.ino())
            .ok();
        if theirs.is_some()
            && theirs != ours
            && let Ok(file) = fs::File::open(format!("/proc/{pid}/ns/{n}"))
        {
            out.push((file, f));
        }
    }
    out
}

/// `exec`; returns the exit status to use.
///
/// # Errors
/// A container that is not running, a bad process, a failing set-up.
pub fn exec(root: &Path, id: &str, o: &ExecOpts) -> Result<i32> {
    let rec = state::load(root, id)?;
    match state::status(root, &rec) {
        Status::Running | Status::Created => {}
        Status::Paused => bail!("cannot exec in a paused container"),
        Status::Stopped => bail!("cannot exec in a stopped container"),
    }
    let p = build_process(&rec, o)?;
    let terminal = p.terminal() == Some(true);
    if terminal && o.console_socket.is_none() && o.detach {
        bail!("cannot allocate tty if runc will detach without setting console socket");
    }
    let spec = create::load_spec(&rec.bundle).ok();
    let seccomp = match spec
        .as_ref()
        .and_then(|s| s.linux().as_ref())
        .and_then(|l| l.seccomp().as_ref())
    {
        Some(s) => Some(process::compile_seccomp(s, Some(&p))?),
        None => None,
    };
    let nss = ns_files(rec.pid);
    let rootdir = fs::File::open(format!("/proc/{}/root", rec.pid))
        .map_err(|e| anyhow!("open the container's root: {}", ctcore::error_text(&e)))?;
    let (mine, theirs) = sync::pair()?;
    if !o.detach {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        crate::foreground::install();
    }
    // SAFETY: single-threaded; the child only makes system calls and exits.
    let c1 = unsafe { libc::fork() };
    if c1 < 0 {
        bail!(
            "fork: {}",
            ctcore::error_text(&std::io::Error::last_os_error())
        );
    }
    if c1 == 0 {
        crate::foreground::child_reset();
        drop(mine);
        let fd = theirs.as_raw_fd();
        if let Err(e) = child(
            &rec,
            &p,
            &nss,
            &rootdir,
            fd,
            seccomp.as_ref(),
            o.preserve_fds,
        ) {
            let _ = sync::send(fd, &format!("error {e:#}"), None);
        }
        // SAFETY: leave the forked child.
        unsafe { libc::_exit(127) };
    }
    drop(theirs);
    let fd = mine.as_raw_fd();
    let mut pid = 0;
    let mut master: Option<OwnedFd> = None;
    loop {
        let Some((m, mfd)) = sync::recv(fd)? else {
            bail!("exec failed: the process ended before it was set up");
        };
        let (w, rest) = m.split_once(' ').unwrap_or((m.as_str(), ""));
        match w {
            "pid" => {
                pid = rest.parse().unwrap_or(0);
                let mut st = 0;
                // SAFETY: reap C1.
                unsafe { libc::waitpid(c1, &raw mut st, 0) };
            }
            "console" => {
                let Some(m) = mfd else { bail!("no pty master") };
                if let Some(s) = &o.console_socket {
                    sync::send_console(s, &m)?;
                } else {
                    crate::foreground::size_pty(&m);
                    master = Some(m);
                }
            }
            "ready" => break,
            "error" => {
                let mut st = 0;
                // SAFETY: reap C1 (or nothing).
                unsafe { libc::waitpid(c1, &raw mut st, libc::WNOHANG) };
                bail!("{rest}");
            }
            _ => bail!("unexpected message {m}"),
        }
    }
    if let Some(f) = &o.pid_file {
        state::write_pid_file(f, pid)?;
    }
    if o.detach {
        return Ok(0);
    }
    let pidfd = crate::foreground::target(pid);
    if let Some(m) = master {
        crate::foreground::relay(&m, pidfd.as_ref());
    }
    let status = wait(pid);
    crate::foreground::untarget();
    Ok(status)
}

fn wait(pid: i32) -> i32 {
    loop {
        let mut st = 0;
        // SAFETY: waitpid writes `st`.
        let r = unsafe { libc::waitpid(pid, &raw mut st, 0) };
        if r == pid {
            return ctcore::wait::Ended::from_raw(st).map_or(255, |e| e.code());
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 255;
        }
    }
}

fn child(
    rec: &state::Record,
    p: &Process,
    nss: &[(fs::File, libc::c_int)],
    rootdir: &fs::File,
    fd: RawFd,
    seccomp: Option<&ctcore::seccomp::Filter>,
    preserve: u32,
) -> Result<()> {
    // The container's cgroup, in every hierarchy.
    let me = std::process::id().to_string();
    for d in &rec.cgroup_dirs {
        let _ = fs::write(d.join("cgroup.procs"), &me);
    }
    for (f, flag) in nss {
        // SAFETY: setns on a descriptor we own.
        if unsafe { libc::setns(f.as_raw_fd(), *flag) } != 0 {
            let e = std::io::Error::last_os_error();
            bail!("setns: {}", ctcore::error_text(&e));
        }
    }
    sync::fork_reporting(fd)?;
    // SAFETY: fchdir on our descriptor.
    if unsafe { libc::fchdir(rootdir.as_raw_fd()) } != 0 {
        bail!(
            "enter the container's root: {}",
            ctcore::error_text(&std::io::Error::last_os_error())
        );
    }
    nix::unistd::chroot(".").map_err(|e| anyhow!("chroot: {}", ctcore::errno_text(e)))?;
    if p.terminal() == Some(true) {
        // SAFETY: a new session for the terminal.
        unsafe { libc::setsid() };
        let (m, slave) = create::open_pty()?;
        sync::send(fd, "console", Some(m.as_raw_fd()))?;
        drop(m);
        create::attach_tty(&slave)?;
    }
    process::set_oom_score_adj(p).ok();
    process::set_rlimits(p)?;
    // A session keyring of its own, as runc's exec joins one: the caller's
    // (the host's) keys stay out of reach, also without a seccomp filter
    // (a --privileged container's exec).
    unshare_rs::secure::new_session_keyring().map_err(|e| anyhow!("{e:#}"))?;
    let nnp = p.no_new_privileges() == Some(true);
    if !nnp && let Some(f) = seccomp {
        f.install()
            .map_err(|e| anyhow!("seccomp: {}", ctcore::error_text(&e)))?;
    }
    process::set_identity(p)?;
    process::chdir(p)?;
    let env: Vec<String> = p.env().clone().unwrap_or_default();
    let args = p.args().clone().unwrap_or_default();
    let path = process::lookup(args.first().map_or("", String::as_str), &env)?;
    if nnp && let Some(f) = seccomp {
        f.install()
            .map_err(|e| anyhow!("seccomp: {}", ctcore::error_text(&e)))?;
    }
    process::cloexec_from(3 + preserve);
    sync::send(fd, "ready", None)?;
    Err(process::exec(&path, p))
}
