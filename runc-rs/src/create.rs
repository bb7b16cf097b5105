//! create, start and run, and the container's init.
//!
//! create (process A) starts the chain
//! `cgset LIMITS GROUP -- unshare-rs NAMESPACES -- runc-rs init ...` (B).
//! The init joins the namespaces given by path, makes the PID namespace
//! and forks its pid 1 (C), reports C's pid and exits, so that C is
//! orphaned to the caller's subreaper. A runs the prestart and
//! createRuntime hooks when C asks; C sets up the root and the process,
//! sends the pty master when there is a terminal, says "ready" and blocks
//! opening exec.fifo for writing. A writes the state and the pid file and
//! exits. start opens the fifo for reading, which lets C exec the program.

use std::ffi::OsString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use oci_spec::runtime::{ContainerState, Hook, LinuxNamespaceType, Spec};

use crate::cli::CreateOpts;
use crate::state::{self, Record, Status};
use crate::{hooks, plan, process, rootfs, sync};

/// Load and check the bundle's config.json.
///
/// # Errors
/// A missing or bad config.
pub fn load_spec(bundle: &Path) -> Result<Spec> {
    let p = bundle.join("config.json");
    let text = fs::read_to_string(&p).map_err(|e| {
        anyhow!(
            "cannot read the config {}: {}",
            p.display(),
            ctcore::error_text(&e)
        )
    })?;
    serde_json::from_str(&text).map_err(|e| anyhow!("bad config {}: {e}", p.display()))
}

/// A tool of the chain: beside runc-rs first, then on PATH.
fn tool(name: &str) -> PathBuf {
    if let Ok(me) = std::env::current_exe()
        && let Some(d) = me.parent()
    {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    ctcore::exec::which(name.as_ref()).unwrap_or_else(|| PathBuf::from(name))
}

fn hook_list(
    spec: &Spec,
    f: impl Fn(&oci_spec::runtime::Hooks) -> &Option<Vec<Hook>>,
) -> Vec<Hook> {
    spec.hooks()
        .as_ref()
        .and_then(|h| f(h).clone())
        .unwrap_or_default()
}

fn state_json(rec: &Record, st: ContainerState, pid: i32) -> String {
    serde_json::to_string(&state::oci_state(rec, st, pid)).unwrap_or_default()
}

/// The absolute cgroup directories of `pid` that are the container's own
/// group (named as `group`'s last component; never a hierarchy's root or a
/// group the container merely shares), one per hierarchy.
#[must_use]
pub fn cgroup_dirs(pid: i32, group: &str) -> Vec<PathBuf> {
    let last = group.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if last.is_empty() || last == "." || last == ".." {
        return vec![];
    }
    let Ok(text) = ctcore::read_text(format!("/proc/{pid}/cgroup")) else {
        return vec![];
    };
    let Ok(mi) = ctcore::read_text("/proc/self/mountinfo") else {
        return vec![];
    };
    let mut out = vec![];
    for l in text.lines() {
        let mut f = l.splitn(3, ':');
        let (_, ctl, path) = match (f.next(), f.next(), f.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        for m in mi.lines() {
            let Some((a, b)) = m.split_once(" - ") else {
                continue;
            };
            let mut bf = b.split_whitespace();
            let fstype = bf.next().unwrap_or("");
            let opts = bf.nth(1).unwrap_or("");
            let point = a.split_whitespace().nth(4).unwrap_or("");
            let ok = if ctl.is_empty() {
                fstype == "cgroup2"
            } else {
                fstype == "cgroup" && ctl.split(',').all(|c| opts.split(',').any(|o| o == c))
            };
            if ok {
                let rel = path.trim_start_matches('/');
                if !rel.is_empty() && rel.rsplit('/').next() == Some(last) {
                    out.push(Path::new(point).join(rel));
                }
                break;
            }
        }
    }
    out
}

/// Kill and forget a half-made container.
fn cleanup(root: &Path, id: &str, pid: i32, group: &str) {
    if pid > 0 {
        // SAFETY: a signal to the init we started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let dirs = if pid > 0 {
        cgroup_dirs(pid, group)
    } else {
        vec![]
    };
    for _ in 0..200 {
        if pid <= 0 || state::stat_of(pid).is_none_or(|(_, z)| z) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    crate::ops::remove_cgroups(&dirs);
    // Only an empty group goes (cgset --delete refuses a populated one): a
    // group that held processes before this container keeps them.
    let _ = Command::new(tool("cgset"))
        .args(["--delete", group])
        .stderr(std::process::Stdio::null())
        .status();
    state::remove_dir(root, id);
}

/// `create`: returns the init's pid.
///
/// # Errors
/// Anything that keeps the container from being created (nothing is left).
pub fn create(root: &Path, id: &str, o: &CreateOpts, for_run: bool) -> Result<i32> {
    create_spec(root, id, o, for_run).map(|(pid, _)| pid)
}

/// `create`, returning the init's pid and the config it read (run uses it
/// again for start and delete instead of reading it twice more).
///
/// # Errors
/// As [`create`].
pub fn create_spec(root: &Path, id: &str, o: &CreateOpts, for_run: bool) -> Result<(i32, Spec)> {
    create_full(root, id, o, for_run, false).map(|c| (c.pid, c.spec))
}

/// A created container, as run holds it.
struct Created {
    pid: i32,
    spec: Spec,
    rec: Record,
    /// run's end of the sync socket: the init waits on it for "start"
    /// instead of on exec.fifo (nobody else can start a container that
    /// run made).
    sync: Option<OwnedFd>,
}

fn create_full(
    root: &Path,
    id: &str,
    o: &CreateOpts,
    for_run: bool,
    start_on_sync: bool,
) -> Result<Created> {
    let bundle = ctcore::real_path(&o.bundle)
        .map_err(|e| anyhow!("bundle {}: {}", o.bundle.display(), ctcore::error_text(&e)))?;
    let spec = load_spec(&bundle)?;
    plan::check(&spec, &bundle)?;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && o.console_socket.is_none() && !for_run {
        bail!("cannot allocate tty if runc will detach without setting console socket");
    }
    if !terminal && o.console_socket.is_some() {
        bail!("cannot use console socket if runc will not detach or allocate tty");
    }
    let sdir = state::make_dir(root, id)?;
    let group = plan::cgroup_name(&spec, id);
    let r = create_in(
        root,
        id,
        o,
        &bundle,
        &spec,
        &sdir,
        &group,
        terminal,
        start_on_sync,
    );
    match r {
        Ok((pid, rec, sync)) => Ok(Created {
            pid,
            spec,
            rec,
            sync,
        }),
        Err((e, pid)) => {
            cleanup(root, id, pid, &group);
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn create_in(
    root: &Path,
    id: &str,
    o: &CreateOpts,
    bundle: &Path,
    spec: &Spec,
    sdir: &Path,
    group: &str,
    terminal: bool,
    start_on_sync: bool,
) -> std::result::Result<(i32, Record, Option<OwnedFd>), (anyhow::Error, i32)> {
    let fail = |e: anyhow::Error| (e, 0);
    let fifo = state::make_fifo(sdir).map_err(fail)?;
    let rootfs = {
        let p = spec
            .root()
            .as_ref()
            .map(|r| r.path().clone())
            .unwrap_or_default();
        let p = if p.is_absolute() { p } else { bundle.join(p) };
        ctcore::real_path(&p).unwrap_or(p)
    };
    let mut rec = Record {
        id: id.to_string(),
        bundle: bundle.to_path_buf(),
        rootfs,
        created: state::now_rfc3339(),
        owner: String::new(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        oci_version: spec.version().clone(),
        cgroup: group.to_string(),
        ..Record::default()
    };
    // state.json is written once, when the init's pid is known (as runc):
    // on ext4 a second write renamed over the first forces the new one's
    // blocks to be allocated (auto_da_alloc), and its delete then waits for
    // a discard on a `discard` mount.

    let (mine, theirs) = sync::pair().map_err(fail)?;
    // The chain: cgset GROUP [LIMITS] -- unshare-rs NS -- runc-rs init.
    // Rootless without resources: no cgroup (a user cannot make one), as runc.
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    let rootless = crate::rootless();
    let mut cg_opts: Vec<String> = vec![];
    if let Some(r) = resources {
        cg_opts.extend(plan::limit_args(r).map_err(fail)?);
    }
    // The devices cgroup as runc: deny-all, the config's rules, runc's
    // defaults, whether or not linux.resources says anything (a user
    // cannot write the devices controller: none when rootless, as runc).
    if !rootless {
        let rules = resources
            .and_then(|r| r.devices().as_deref())
            .unwrap_or(&[]);
        cg_opts.extend(plan::device_args(rules).map_err(fail)?);
    }
    // Rootless, as runc's rootless cgroup manager on v1: no limit (devices
    // rules are not written, see above), no group; limits need a group, and
    // one that cannot be made is an error naming the first limit (runc's
    // "cannot set memory limit: container could not join or create cgroup").
    let use_cgset = !rootless || !cg_opts.is_empty();
    // The chain's last link, runc-rs init, exec'd once the new namespaces
    // exist: its /proc/PID/exe is then a mount of the container's namespace,
    // which the init makes read-only and noexec before the old root goes (a
    // fork of this process would keep the host's mount behind that link).
    let sync_fd: RawFd = 3 + o.preserve_fds as RawFd;
    let me = std::env::current_exe().map_err(|e| {
        fail(anyhow!(
            "cannot find runc-rs itself: {}",
            ctcore::error_text(&e)
        ))
    })?;
    let mut init_args = InitArgs {
        bundle: bundle.to_path_buf(),
        sync: sync_fd,
        fifo: if start_on_sync {
            "-".into()
        } else {
            fifo.clone()
        },
        preserve_fds: o.preserve_fds,
        no_pivot: o.no_pivot,
        console: terminal,
        ..InitArgs::default()
    };
    let theirs_raw = theirs.as_raw_fd();
    let mut made_dirs: Option<Vec<PathBuf>> = None;
    let mut filter_to_send = None;
    let mut kid = if in_process(spec) {
        // cgset's and unshare-rs's steps without their execs: their
        // library functions, unshare-rs's in a fork of runc-rs, which then
        // execs the init, and cgset's here meanwhile: the group is made
        // (limits, device rules) while the fork makes the namespaces and
        // execs, and the init joins it when told, before anything else
        // (pid 1 and any new cgroup namespace come after), as runc's init
        // is moved into the group its parent makes while it starts.
        let cg = use_cgset.then(|| {
            let mut a: Vec<OsString> = vec!["cgset".into()];
            a.extend(cg_opts.iter().map(OsString::from));
            a.push(group.into());
            a
        });
        init_args.cgroups = cg.is_some();
        // The seccomp filter is compiled here too, while the container's
        // pid 1 sets up its root, and handed to it through a pipe (see
        // precompiled_seccomp); without one the init compiles it itself.
        let seccomp_spec = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
        let filter_pipe = seccomp_spec.and_then(|_| filter_pipe());
        let seccomp_fd = sync_fd + 1;
        if filter_pipe.is_some() {
            init_args.seccomp_fd = Some(seccomp_fd);
        }
        let keyring = !o.no_new_keyring;
        let argv: Vec<std::ffi::CString> = init_args
            .argv(&me)
            .iter()
            .map(|a| std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str())))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| fail(anyhow!("a NUL byte in the init's arguments")))?;
        // CVE-2019-5736: the init is exec'd once the new mount namespace
        // exists, so that its /proc/PID/exe is a mount of that namespace,
        // which it seals (see init_with); unless the caller has sealed
        // runc-rs's binary already: a read-only mount (contain binds it so,
        // unshare-rs --ro-bind), which nothing in the container can remount
        // or write through.  Then the init runs here, in the fork, with
        // the config read once.
        let in_place = exe_read_only();
        crate::log::debug(if in_place {
            "init: in runc-rs's fork (its binary is on a read-only mount)"
        } else {
            "init: exec'd in the new mount namespace"
        });
        // SAFETY: runc-rs has no other thread; the child runs the chain's
        // steps and ends in exec or _exit.
        let b = unsafe { libc::fork() };
        if b < 0 {
            let e = std::io::Error::last_os_error();
            return Err(fail(anyhow!("fork: {}", ctcore::error_text(&e))));
        }
        if b == 0 {
            crate::foreground::child_reset();
            drop(mine);
            let filter_read = filter_pipe.map(|(r, w)| {
                drop(w);
                (r, seccomp_fd)
            });
            let r = enter_in_process(spec, keyring, init_args.cgroups).and_then(|()| {
                if !in_place {
                    return exec_init(&argv, theirs_raw, sync_fd, filter_read);
                }
                // (the same arguments, with the descriptors as they are here)
                let a = InitArgs {
                    sync: theirs_raw,
                    seccomp_fd: filter_read.map(|(r, _)| std::os::fd::IntoRawFd::into_raw_fd(r)),
                    in_place: true,
                    ..init_args
                };
                init_from(&a, Some(spec)).map(|_| ())
            });
            if let Err(e) = r {
                let _ = sync::send(theirs_raw, &format!("error {e:#}"), None);
            }
            // SAFETY: leave the forked child at once.
            unsafe { libc::_exit(1) }
        }
        drop(theirs);
        if let Some(argv) = cg {
            // A failure here kills the fork (create's cleanup) and removes
            // what was made of the group.
            let dirs = make_cgroups(spec, &argv, rootless).map_err(|e| (e, b))?;
            // The init joins them; if it is gone already, its error is
            // what the loop below reads.
            let mut msg = String::from("cgroups ");
            for (d, v2) in &dirs {
                // (a path the message cannot carry must not be skipped:
                // the container would escape that hierarchy's limits)
                let d = d.to_str().ok_or_else(|| {
                    (
                        anyhow!(
                            "cgset: a cgroup directory that is not UTF-8: {}",
                            d.display()
                        ),
                        b,
                    )
                })?;
                msg.push(if *v2 { '2' } else { '1' });
                msg.push_str(d);
                msg.push('\0');
            }
            let _ = sync::send(mine.as_raw_fd(), &msg, None);
            made_dirs = Some(dirs.into_iter().map(|(d, _)| d).collect());
        }
        if let (Some((r, w)), Some(s)) = (filter_pipe, seccomp_spec) {
            drop(r);
            filter_to_send = Some((w, s));
        }
        Kid::Forked(b)
    } else {
        let mut argv: Vec<OsString> = vec![];
        if use_cgset {
            argv.push(tool("cgset").into());
            argv.extend(cg_opts.iter().map(OsString::from));
            argv.push(group.into());
            argv.push("--".into());
        }
        let ns = plan::unshare_args(spec, !o.no_new_keyring);
        if !ns.is_empty() {
            argv.push(tool("unshare-rs").into());
            argv.extend(ns);
            argv.push("--".into());
        }
        argv.extend(init_args.argv(&me));
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                crate::foreground::child_reset();
                if libc::dup2(theirs_raw, sync_fd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::fcntl(sync_fd, libc::F_SETFD, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| {
            fail(anyhow!(
                "cannot run {}: {}",
                argv[0].to_string_lossy(),
                ctcore::error_text(&e)
            ))
        })?;
        drop(theirs);
        Kid::Chain(child)
    };
    let chain_pid = kid.pid();
    let mut pid = 0;
    let fd = mine.as_raw_fd();
    let mut master: Option<OwnedFd> = None;
    let mut dirs = made_dirs;
    loop {
        let msg = sync::recv(fd).map_err(|e| (e, pid))?;
        let Some((m, mfd)) = msg else {
            let why = match kid.wait() {
                Some(c) => format!("the chain exited with status {c}"),
                None => "the chain was killed".into(),
            };
            return Err((anyhow!("container init failed: {why}"), pid));
        };
        let (word, rest) = m.split_once(' ').unwrap_or((m.as_str(), ""));
        match word {
            "pid" => {
                pid = rest.parse().unwrap_or(0);
                if pid != chain_pid {
                    let _ = kid.wait();
                }
                rec.pid = pid;
                rec.start_time = state::stat_of(pid).map_or(0, |s| s.0);
                rec.cgroup_dirs = dirs.take().unwrap_or_else(|| cgroup_dirs(pid, group));
                state::save(root, &rec).map_err(|e| (e, pid))?;
                // Now, while the container's pid 1 mounts its root (the
                // init that forked it is gone and leaves a CPU free).
                if let Some((w, s)) = filter_to_send.take() {
                    send_seccomp(spec, s, w);
                }
            }
            "hooks" => {
                let st = state_json(&rec, ContainerState::Created, pid);
                let r = hooks::run("prestart", &hook_list(spec, |h| h.prestart()), &st).and_then(
                    |()| {
                        hooks::run(
                            "createRuntime",
                            &hook_list(spec, |h| h.create_runtime()),
                            &st,
                        )
                    },
                );
                if let Err(e) = r {
                    return Err((e, pid));
                }
                sync::send(fd, &st, None).map_err(|e| (e, pid))?;
            }
            "console" => {
                let Some(m) = mfd else {
                    return Err((anyhow!("the init sent no pty master"), pid));
                };
                if let Some(sock) = &o.console_socket {
                    sync::send_console(sock, &m).map_err(|e| (e, pid))?;
                } else {
                    // run's own relay: our terminal's size before the
                    // program runs.
                    crate::foreground::size_pty(&m);
                    master = Some(m);
                }
            }
            "error" => return Err((anyhow!("{rest}"), pid)),
            "ready" => break,
            other => return Err((anyhow!("unexpected message from the init: {other}"), pid)),
        }
    }
    if let Some(f) = &o.pid_file {
        state::write_pid_file(f, pid).map_err(|e| (e, pid))?;
    }
    if let Some(m) = master {
        // run with a terminal and no console socket: relay it ourselves.
        RELAY.with(|r| *r.borrow_mut() = Some(m));
    }
    Ok((pid, rec, start_on_sync.then_some(mine)))
}

/// The first process of the chain: the exec'd tools, or runc-rs's fork.
enum Kid {
    Chain(std::process::Child),
    Forked(i32),
}

impl Kid {
    fn pid(&self) -> i32 {
        match self {
            Kid::Chain(c) => c.id() as i32,
            Kid::Forked(p) => *p,
        }
    }

    /// Wait for it: its exit status, None when a signal ended it.
    fn wait(&mut self) -> Option<i32> {
        match self {
            Kid::Chain(c) => c.wait().ok().and_then(|s| s.code()),
            Kid::Forked(p) => {
                let mut st = 0;
                // SAFETY: waitpid on our child, writing `st`.
                let r = unsafe { libc::waitpid(*p, &raw mut st, 0) };
                (r == *p && libc::WIFEXITED(st)).then(|| libc::WEXITSTATUS(st))
            }
        }
    }
}

/// Whether create runs the chain's steps in a fork of runc-rs (cgset's and
/// unshare-rs's library functions, no exec before the program's) rather
/// than exec'ing `cgset ... -- unshare-rs ... -- runc-rs init`.  The chain
/// stays for a new user namespace (its id maps take unshare-rs's mapping
/// helpers and a second process), a new time namespace (unshare-rs forks
/// for it), and when RUNC_RS_EXEC_CHAIN is set (non-empty).
#[must_use]
pub fn in_process(spec: &Spec) -> bool {
    let f = plan::unshare_flags(spec);
    f & (libc::CLONE_NEWUSER | libc::CLONE_NEWTIME) == 0
        && std::env::var_os("RUNC_RS_EXEC_CHAIN").is_none_or(|v| v.is_empty())
}

/// Whether runc-rs's own binary, its /proc/self/exe, lies on a read-only
/// mount (a write through that link then fails with EROFS, whatever the
/// file's mode), as `unshare-rs --ro-bind` makes it.
fn exe_read_only() -> bool {
    // SAFETY: statvfs writes the struct it is given.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and our own struct.
    let r = unsafe { libc::statvfs(c"/proc/self/exe".as_ptr(), &raw mut st) };
    r == 0 && st.f_flag & libc::ST_RDONLY != 0
}

/// In the fork: the sync socket to its number in the init's arguments, and
/// exec runc-rs init.
fn exec_init(
    argv: &[std::ffi::CString],
    sock: RawFd,
    sync_fd: RawFd,
    filter: Option<(OwnedFd, RawFd)>,
) -> Result<()> {
    let dup_err = || {
        anyhow!(
            "dup2: {}",
            ctcore::error_text(&std::io::Error::last_os_error())
        )
    };
    // The filter pipe first out of the way of the two numbers (it may hold
    // either), then each descriptor to its number.
    let filter = match filter {
        Some((r, to)) => {
            // SAFETY: a copy of our own descriptor, close-on-exec, above `to`.
            let high = unsafe { libc::fcntl(r.as_raw_fd(), libc::F_DUPFD_CLOEXEC, to + 1) };
            if high < 0 {
                return Err(dup_err());
            }
            Some((high, to))
        }
        None => None,
    };
    // SAFETY: descriptor calls on our own socket and pipe.
    unsafe {
        if sock != sync_fd && libc::dup2(sock, sync_fd) < 0 {
            return Err(dup_err());
        }
        libc::fcntl(sync_fd, libc::F_SETFD, 0);
        if let Some((high, to)) = filter {
            if libc::dup2(high, to) < 0 {
                return Err(dup_err());
            }
            libc::fcntl(to, libc::F_SETFD, 0);
        }
    }
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: a NULL-terminated argv of C strings that outlive the call.
    unsafe { libc::execv(ptrs[0], ptrs.as_ptr()) };
    let e = std::io::Error::last_os_error();
    bail!(
        "cannot run {}: {}",
        argv[0].to_string_lossy(),
        ctcore::error_text(&e)
    )
}

/// The longest message of [`send_seccomp`]: `F`, the length, the filter's
/// flags and 4096 instructions of 8 bytes.
const FILTER_MSG_MAX: usize = 1 + 4 + 4 + 8 * 4096;

/// The pipe that carries the compiled seccomp filter to the init: (read
/// end, write end), both close-on-exec, the write end non-blocking and
/// the pipe large enough for the longest filter (4096 instructions), so
/// that create's write never waits on the init (which may be waiting on
/// create).  None where the pipe cannot be made so: the init compiles.
fn filter_pipe() -> Option<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors, ours from here on.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return None;
    }
    // SAFETY: as above.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let need = FILTER_MSG_MAX as i32;
    // SAFETY: fcntl on our own pipe.
    let size = unsafe {
        let s = libc::fcntl(w.as_raw_fd(), libc::F_GETPIPE_SZ);
        if s >= 0 && s < need {
            libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, need)
        } else {
            s
        }
    };
    // SAFETY: as above.
    let nonblock = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } == 0;
    (size >= need && nonblock).then_some((r, w))
}

/// Compile the filter as the init would (its bounding set's capabilities)
/// and write it to the pipe: `F`, its length, the filter's bytes; or `E`
/// and the error, which the init reports where it would have compiled.
fn send_seccomp(spec: &Spec, s: &oci_spec::runtime::LinuxSeccomp, w: OwnedFd) {
    let msg = match process::compile_seccomp(s, spec.process().as_ref()) {
        Ok(f) => {
            let b = f.to_bytes();
            let mut m = Vec::with_capacity(5 + b.len());
            m.push(b'F');
            m.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
            m.extend_from_slice(&b);
            m
        }
        Err(e) => format!("E{e:#}").into_bytes(),
    };
    // One write into an empty pipe that holds it all (see filter_pipe); a
    // short one is seen by the init, which then compiles itself.
    let _ = nix::unistd::write(&w, &msg);
}

/// In the init: the filter create compiled (see send_seccomp), read once
/// create has written it and closed the pipe.  None when the pipe holds no
/// whole filter (create gone, a short write): the init compiles it then.
///
/// # Errors
/// create's compile error, as the init's own would read.
fn precompiled_seccomp(fd: RawFd) -> Result<Option<ctcore::seccomp::Filter>> {
    // SAFETY: the pipe's read end, ours alone; closed when read.
    let f = unsafe { OwnedFd::from_raw_fd(fd) };
    // (room for the longest filter: one read)
    let mut b = Vec::with_capacity(FILTER_MSG_MAX + 1);
    let mut file = fs::File::from(f);
    if std::io::Read::read_to_end(&mut file, &mut b).is_err() {
        return Ok(None);
    }
    match b.split_first() {
        Some((b'E', e)) => bail!("{}", String::from_utf8_lossy(e)),
        Some((b'F', rest)) => Ok(rest.split_first_chunk::<4>().and_then(|(n, f)| {
            (u32::from_le_bytes(*n) as usize == f.len())
                .then(|| ctcore::seccomp::Filter::from_bytes(f))
                .flatten()
        })),
        _ => Ok(None),
    }
}

/// What `cgset LIMITS GROUP` does before its exec, through its library:
/// the group made and limited (not joined: the init joins it, see
/// [`join_cgroups`]).  Its directories, one per hierarchy, each with
/// whether it is the v2 one.
fn make_cgroups(spec: &Spec, argv: &[OsString], rootless: bool) -> Result<Vec<(PathBuf, bool)>> {
    let group = argv.last().cloned().unwrap_or_default();
    let make = || -> Result<Vec<(PathBuf, bool)>> {
        let cli = match cgset_devices_only(argv) {
            Some(c) => c,
            None => <cgset::cli::Cli as clap::Parser>::try_parse_from(argv)
                .map_err(|e| anyhow!("{}", e.to_string().trim()))?,
        };
        let (_, tree) = cgset::run_tree(cli)?;
        // The group's directories, for the init to join and create's
        // record (delete removes them), named from the tree cgset read, as
        // its PROGRAM form would join them.
        let g = cgset::tree::Group::parse(&group.to_string_lossy())?;
        Ok(tree
            .hiers_of(&g)
            .into_iter()
            .map(|i| (g.dir(&tree.hiers[i]), tree.hiers[i].v2))
            .collect())
    };
    make().map_err(|e| cgroup_error(spec, rootless, &e))
}

/// A failure to make or join the group, as cgset's (rootless: runc's
/// "cannot set LIMIT limit" message).
fn cgroup_error(spec: &Spec, rootless: bool, e: &anyhow::Error) -> anyhow::Error {
    if rootless {
        anyhow!(
            "cannot set {} limit: container could not join or create cgroup ({e:#})",
            plan::first_limit(spec)
        )
    } else {
        anyhow!("cgset: {e:#}")
    }
}

/// In the init (`--cgroups`), first: wait for create's word that the group
/// is made, and move in, as cgset's PROGRAM form moves itself: through v1's
/// `tasks` (one thread), which spares cgroup.procs's wait for the kernel's
/// thread-group lock (an RCU grace period, milliseconds).  Then the new
/// cgroup namespace, if any (the fork left it: its root is the group this
/// process is in when it is made).
fn join_cgroups(spec: &Spec, fd: RawFd) -> Result<()> {
    let msg = match sync::recv(fd)? {
        Some((m, _)) => m,
        None => bail!("runc-rs create went away"),
    };
    let Some(rest) = msg.strip_prefix("cgroups") else {
        bail!("unexpected message from create: {msg}");
    };
    for d in rest
        .trim_start_matches(' ')
        .split('\0')
        .filter(|d| !d.is_empty())
    {
        // '1' v1, '2' v2, then the directory (see create_in)
        let (v2, dir) = d.split_at(1);
        cgset::ops::attach_self_dir(Path::new(dir), v2 == "2", false)
            .map_err(|e| cgroup_error(spec, crate::rootless(), &e))?;
    }
    if plan::unshare_flags(spec) & libc::CLONE_NEWCGROUP != 0 {
        // SAFETY: unshare with a constant flag; one thread.
        if unsafe { libc::unshare(libc::CLONE_NEWCGROUP) } != 0 {
            let e = std::io::Error::last_os_error();
            bail!("unshare: {}", ctcore::error_text(&e));
        }
    }
    Ok(())
}

/// In the fork: what `unshare-rs NAMESPACES --propagation=P --new-keyring
/// --` does before its exec, through its library: the new namespaces (but
/// the cgroup one when `later_cgroupns`: the init makes it once in its
/// group), the root's propagation and a new session keyring.
fn enter_in_process(spec: &Spec, keyring: bool, later_cgroupns: bool) -> Result<()> {
    let all = plan::unshare_flags(spec);
    if all == 0 {
        return Ok(());
    }
    let flags = if later_cgroupns {
        all & !libc::CLONE_NEWCGROUP
    } else {
        all
    };
    // SAFETY: unshare with flags (0 changes nothing); this process has one thread.
    if unsafe { libc::unshare(flags) } != 0 {
        let e = std::io::Error::last_os_error();
        bail!("unshare: {}", ctcore::error_text(&e));
    }
    if flags & libc::CLONE_NEWNS != 0 {
        let p = match plan::propagation(spec) {
            "private" => libc::MS_PRIVATE,
            "shared" => libc::MS_SHARED,
            _ => libc::MS_SLAVE,
        };
        unshare_rs::sys::mount(Some("none"), Path::new("/"), None, libc::MS_REC | p).map_err(
            |e| {
                anyhow!(
                    "cannot change root filesystem propagation: {}",
                    ctcore::error_text(&e)
                )
            },
        )?;
    }
    if keyring {
        unshare_rs::secure::new_session_keyring().map_err(|e| anyhow!("{e:#}"))?;
    }
    Ok(())
}

/// cgset's command line when it holds only `--device-cgroup-rule RULE`
/// pairs and the group (a bundle without limits, the common case): built
/// without clap, whose parse of cgset's many options is a good part of a
/// short start; anything else is `None` and goes through clap.
fn cgset_devices_only(argv: &[OsString]) -> Option<cgset::cli::Cli> {
    let (group, opts) = argv.get(1..)?.split_last()?;
    if opts.len() % 2 != 0 {
        return None;
    }
    let mut rules = Vec::with_capacity(opts.len() / 2);
    for pair in opts.chunks(2) {
        if pair[0] != "--device-cgroup-rule" {
            return None;
        }
        rules.push(pair[1].to_str()?.to_string());
    }
    let group = group.to_str()?;
    if group.starts_with('-') {
        return None;
    }
    Some(cgset::cli::Cli {
        device_cgroup_rule: rules,
        groups: vec![group.to_string()],
        // (clap's default; --watch's alone)
        interval: "1".into(),
        ..Default::default()
    })
}

thread_local! {
    static RELAY: std::cell::RefCell<Option<OwnedFd>> = const { std::cell::RefCell::new(None) };
}

/// The init's command line (`runc-rs init`, hidden; create's exec of it), or
/// what the init runs with in create's fork (`in_place`).
#[derive(Debug, Default, Clone, PartialEq, Eq, clap::Args)]
pub struct InitArgs {
    /// The bundle
    #[arg(long)]
    pub bundle: PathBuf,
    /// The sync socket's descriptor
    #[arg(long)]
    pub sync: RawFd,
    /// The exec.fifo path (`-`: start comes over the sync socket, as run sends it)
    #[arg(long)]
    pub fifo: PathBuf,
    /// preserve-fds of create
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// MS_MOVE + chroot instead of pivot_root
    #[arg(long)]
    pub no_pivot: bool,
    /// Whether a console socket waits for the master
    #[arg(long)]
    pub console: bool,
    /// Join the group create makes, when create says it is made
    #[arg(long)]
    pub cgroups: bool,
    /// The pipe of the seccomp filter create compiled
    #[arg(long)]
    pub seccomp_fd: Option<RawFd>,
    /// The init runs in create's fork, not exec'd: its binary lies on a
    /// read-only mount of the caller's (see [`exe_read_only`]), which it
    /// leaves as it is.
    #[arg(skip)]
    pub in_place: bool,
}

impl InitArgs {
    /// The command line that execs this init: `EXE init --bundle ...`, as
    /// `lib.rs`'s hand parse and clap's read it back.
    #[must_use]
    pub fn argv(&self, exe: &Path) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![
            exe.into(),
            "init".into(),
            "--bundle".into(),
            self.bundle.clone().into(),
            "--sync".into(),
            self.sync.to_string().into(),
            "--fifo".into(),
            self.fifo.clone().into(),
            "--preserve-fds".into(),
            self.preserve_fds.to_string().into(),
        ];
        for (on, flag) in [
            (self.no_pivot, "--no-pivot"),
            (self.console, "--console"),
            (self.cgroups, "--cgroups"),
        ] {
            if on {
                v.push(flag.into());
            }
        }
        if let Some(fd) = self.seccomp_fd {
            v.push("--seccomp-fd".into());
            v.push(fd.to_string().into());
        }
        v
    }
}

/// The init: runs in process B (the end of the chain), then C.
///
/// # Errors
/// Reported to create over the sync socket; the process then exits.
pub fn init(a: &InitArgs) -> Result<i32> {
    init_from(a, None)
}

/// The init with its config: read from the bundle (exec'd), or create's
/// own (in create's fork).
fn init_from(a: &InitArgs, spec: Option<&Spec>) -> Result<i32> {
    let sync_fd = a.sync;
    // SAFETY: the descriptor create handed us.
    let sock = unsafe { OwnedFd::from_raw_fd(sync_fd) };
    // SAFETY: as above; it must not reach the program.
    unsafe { libc::fcntl(sync_fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    if let Some(p) = a.seccomp_fd {
        // SAFETY: as above, the filter pipe create handed us.
        unsafe { libc::fcntl(p, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    let fd = sock.as_raw_fd();
    let r = match spec {
        Some(s) => init_with(s, a, fd),
        None => load_spec(&a.bundle).and_then(|s| init_with(&s, a, fd)),
    };
    match r {
        Ok(never) => Ok(never),
        Err(e) => {
            let _ = sync::send(fd, &format!("error {e:#}"), None);
            // SAFETY: leave at once, as a forked child must.
            unsafe { libc::_exit(1) }
        }
    }
}

fn setns_path(path: &Path, t: LinuxNamespaceType) -> Result<()> {
    let f = fs::File::open(path).map_err(|e| {
        anyhow!(
            "open {} namespace {}: {}",
            plan::ns_name(t),
            path.display(),
            ctcore::error_text(&e)
        )
    })?;
    // SAFETY: setns on a descriptor we own.
    if unsafe { libc::setns(f.as_raw_fd(), plan::ns_flag(t)) } != 0 {
        let e = std::io::Error::last_os_error();
        bail!(
            "setns {} {}: {}",
            plan::ns_name(t),
            path.display(),
            ctcore::error_text(&e)
        );
    }
    Ok(())
}

/// The init's steps with the config read.
fn init_with(spec: &Spec, a: &InitArgs, fd: RawFd) -> Result<i32> {
    let (bundle, fifo) = (a.bundle.as_path(), a.fifo.as_path());
    let (preserve, no_pivot, console) = (a.preserve_fds, a.no_pivot, a.console);
    if a.cgroups {
        join_cgroups(spec, fd)?;
    }
    let ns = plan::namespaces(spec);
    // Namespaces given by path: user first, mount last.
    let mut joins: Vec<_> = ns.iter().filter(|(_, p)| p.is_some()).collect();
    joins.sort_by_key(|(t, _)| match t {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 2,
        _ => 1,
    });
    for (t, p) in joins {
        setns_path(p.as_ref().expect("filtered"), *t)?;
    }
    let new_pid = ns
        .iter()
        .any(|(t, p)| *t == LinuxNamespaceType::Pid && p.is_none());
    if new_pid {
        // SAFETY: unshare with a constant flag.
        if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
            let e = std::io::Error::last_os_error();
            bail!("unshare pid namespace: {}", ctcore::error_text(&e));
        }
    }
    let forks = new_pid
        || ns
            .iter()
            .any(|(t, p)| *t == LinuxNamespaceType::Pid && p.is_some());
    if forks {
        sync::fork_reporting(fd)?;
    } else {
        sync::send(fd, &format!("pid {}", std::process::id()), None)?;
    }
    // SAFETY: a new session for the container (runc's init does the same).
    unsafe { libc::setsid() };
    // The prestart and createRuntime hooks run in create, now that the
    // namespaces exist; the state comes back for the container's own hooks.
    // Without hooks, no round trip.
    let any_hooks = spec.hooks().as_ref().is_some_and(|h| {
        [
            h.prestart(),
            h.create_runtime(),
            h.create_container(),
            h.start_container(),
        ]
        .iter()
        .any(|l| l.as_ref().is_some_and(|v| !v.is_empty()))
    });
    let st = if any_hooks {
        sync::send(fd, "hooks", None)?;
        match sync::recv(fd)? {
            Some((s, _)) => s,
            None => bail!("create went away"),
        }
    } else {
        String::new()
    };
    let proc_ = spec.process().clone().unwrap_or_default();
    let rootfs = {
        let p = spec
            .root()
            .as_ref()
            .map(|r| r.path().clone())
            .unwrap_or_default();
        let p = if p.is_absolute() { p } else { bundle.join(p) };
        ctcore::real_path(&p).unwrap_or(p)
    };
    // The root must be a mount point for pivot_root.
    nix::mount::mount(
        Some(&rootfs),
        &rootfs,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| {
        anyhow!(
            "bind the root {}: {}",
            rootfs.display(),
            ctcore::errno_text(e)
        )
    })?;
    // Neither the new root nor the mount that holds it may be shared: the
    // container's mounts would propagate out, and pivot_root refuses it.
    // (A new mount namespace made slave or private has no shared mount: no
    // need to look for one in mountinfo.)
    let own_mntns = ns
        .iter()
        .any(|(t, p)| *t == LinuxNamespaceType::Mount && p.is_none());
    if !(own_mntns && plan::propagation(spec) != "shared")
        && let Some(parent) = rootfs.parent()
    {
        rootfs::parent_mount_private(parent);
    }
    let _ = nix::mount::mount::<Path, Path, str, str>(
        None,
        &rootfs,
        None,
        nix::mount::MsFlags::MS_PRIVATE,
        None,
    );
    let cgroupns = ns.iter().any(|(t, _)| *t == LinuxNamespaceType::Cgroup);
    let mut dev_mounted = false;
    for m in spec.mounts().iter().flatten() {
        rootfs::do_mount(&rootfs, bundle, m, cgroupns)?;
        if m.destination() == Path::new("/dev") {
            dev_mounted = true;
        }
    }
    if dev_mounted {
        rootfs::default_dev(&rootfs)?;
    }
    if let Some(d) = spec.linux().as_ref().and_then(|l| l.devices().clone()) {
        rootfs::devices(&rootfs, &d)?;
    }
    // The working directory, made as root before the root may turn read-only (runc's way).
    let cwd = proc_.cwd();
    if cwd.is_absolute() {
        let _ = fs::create_dir_all(rootfs::in_root(&rootfs, cwd));
    }
    if let Some(h) = spec.hostname().as_ref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h)
            .map_err(|e| anyhow!("sethostname: {}", ctcore::errno_text(e)))?;
    }
    if let Some(d) = spec.domainname().as_ref().filter(|h| !h.is_empty()) {
        let c = std::ffi::CString::new(d.as_str())?;
        // SAFETY: setdomainname reads the string.
        if unsafe { libc::setdomainname(c.as_ptr(), d.len()) } != 0 {
            let e = std::io::Error::last_os_error();
            bail!("setdomainname: {}", ctcore::error_text(&e));
        }
    }
    // The fifo, opened before the old root goes ("-": run's start comes
    // over the sync socket instead).
    let fifo_fd = if fifo == Path::new("-") {
        None
    } else {
        Some(
            fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
                .open(fifo)
                .map_err(|e| anyhow!("open {}: {}", fifo.display(), ctcore::error_text(&e)))?,
        )
    };
    hooks::run(
        "createContainer",
        &hook_list(spec, |h| h.create_container()),
        &st,
    )?;
    // CVE-2019-5736 without an exec of runc-rs: the mount that holds its
    // binary turns read-only and noexec in the container's mount namespace
    // (its own copy: the host's mount is unchanged) before the old root
    // goes, so a `#!/proc/self/exe` program can neither run runc-rs in there
    // (EACCES) nor write to it (EROFS).  The container's own mounts are
    // mounts of their own by now and keep their flags.  Where the kernel
    // cannot tell the mount (before 5.8) nothing is changed.
    // In create's fork (in_place) the binary is the caller's read-only
    // mount already, one of another mount namespace, which stays as it is.
    match ctcore::sealed::ExeMount::find() {
        _ if a.in_place => {}
        Ok(m) => m.seal().map_err(|e| {
            anyhow!(
                "make runc-rs's own mount read-only in the container: {}",
                ctcore::error_text(&e)
            )
        })?,
        Err(e) => crate::log::debug(&format!(
            "runc-rs's mount not found ({}): left as it is",
            ctcore::error_text(&e)
        )),
    }
    rootfs::enter(&rootfs, no_pivot)?;
    if let Some(p) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone())
    {
        rootfs::root_propagation(&p)?;
    }
    rootfs::sysctl(spec)?;
    if let Some(l) = spec.linux() {
        rootfs::mask(l.masked_paths().as_deref().unwrap_or(&[]))?;
        rootfs::readonly(l.readonly_paths().as_deref().unwrap_or(&[]))?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        rootfs::root_readonly()?;
    }
    if console {
        let master = open_pty()?;
        sync::send(fd, "console", Some(master.0.as_raw_fd()))?;
        drop(master.0);
        attach_tty(&master.1)?;
    }
    process::set_oom_score_adj(&proc_)?;
    process::set_rlimits(&proc_)?;
    let env: Vec<String> = proc_.env().clone().unwrap_or_default();
    let nnp = proc_.no_new_privileges() == Some(true);
    let precompiled = match a.seccomp_fd {
        Some(p) => precompiled_seccomp(p)?,
        None => None,
    };
    let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(_) if precompiled.is_some() => precompiled,
        Some(s) => Some(process::compile_seccomp(s, Some(&proc_))?),
        None => None,
    };
    if !nnp && let Some(f) = &seccomp {
        f.install()
            .map_err(|e| anyhow!("seccomp: {}", ctcore::error_text(&e)))?;
    }
    process::set_identity(&proc_)?;
    process::chdir(&proc_)?;
    let args = proc_.args().clone().unwrap_or_default();
    let has_process = spec.process().is_some();
    let path = if has_process {
        process::lookup(&args[0], &env)?
    } else {
        PathBuf::new()
    };
    process::cloexec_from(3 + preserve);
    sync::send(fd, "ready", None)?;
    if let Some(fifo_fd) = fifo_fd {
        // Blocks until start opens the fifo for reading.
        let w = fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", fifo_fd.as_raw_fd()))
            .map_err(|e| anyhow!("open exec fifo: {}", ctcore::error_text(&e)))?;
        nix::unistd::write(&w, &[0u8])
            .map_err(|e| anyhow!("write exec fifo: {}", ctcore::errno_text(e)))?;
    } else {
        // run's "start" (its end of file: run went away, nothing runs).
        match sync::recv(fd)? {
            Some((m, _)) if m == "start" => {}
            _ => bail!("runc-rs run went away before start"),
        }
    }
    hooks::run(
        "startContainer",
        &hook_list(spec, |h| h.start_container()),
        &st,
    )?;
    if nnp && let Some(f) = &seccomp {
        f.install()
            .map_err(|e| anyhow!("seccomp: {}", ctcore::error_text(&e)))?;
    }
    if !has_process {
        // SAFETY: no program to run: the container stops here.
        unsafe { libc::_exit(0) }
    }
    let e = process::exec(&path, &proc_);
    // After start nobody reads the sync socket: say it on stderr.
    eprintln!("runc-rs: {e}");
    // SAFETY: leave at once.
    unsafe { libc::_exit(127) }
}

/// Open a pty in the current root (its /dev/ptmx): (master, slave path).
///
/// # Errors
/// The failing call.
pub fn open_pty() -> Result<(OwnedFd, PathBuf)> {
    let m = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open("/dev/ptmx")
        .map_err(|e| anyhow!("open /dev/ptmx: {}", ctcore::error_text(&e)))?;
    let fd = m.as_raw_fd();
    let mut unlock: libc::c_int = 0;
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCSPTLCK reads an int, TIOCGPTN writes one.
    unsafe {
        if libc::ioctl(fd, libc::TIOCSPTLCK, &raw mut unlock) != 0
            || libc::ioctl(fd, libc::TIOCGPTN, &raw mut n) != 0
        {
            let e = std::io::Error::last_os_error();
            bail!("pty: {}", ctcore::error_text(&e));
        }
    }
    Ok((OwnedFd::from(m), PathBuf::from(format!("/dev/pts/{n}"))))
}

/// Make `slave` the controlling terminal and fds 0-2 (a session leader already).
///
/// # Errors
/// The failing call.
pub fn attach_tty(slave: &Path) -> Result<()> {
    let s = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(slave)
        .map_err(|e| anyhow!("open {}: {}", slave.display(), ctcore::error_text(&e)))?;
    let fd = s.as_raw_fd();
    // SAFETY: plain calls on our descriptor.
    unsafe {
        libc::ioctl(fd, libc::TIOCSCTTY, 0);
        for to in 0..3 {
            libc::dup2(fd, to);
        }
    }
    Ok(())
}

/// `start`.
///
/// # Errors
/// Not created, or the init is dead.
pub fn start(root: &Path, id: &str) -> Result<()> {
    start_with(root, id, None)
}

/// `start` with the config already read (or None: read from the bundle).
///
/// # Errors
/// As [`start`].
pub fn start_with(root: &Path, id: &str, spec: Option<&Spec>) -> Result<()> {
    let rec = state::load(root, id)?;
    match state::status(root, &rec) {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        s => bail!("cannot start an already {} container", s.word()),
    }
    let fifo = state::dir(root, id).join("exec.fifo");
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo)
        .with_context(|| format!("open {}", fifo.display()))?;
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(&f, &mut b) {
            Ok(1) => break,
            Ok(_) | Err(nix::errno::Errno::EAGAIN) => {
                if !state::alive(&rec) {
                    bail!("container process is already dead");
                }
                let pfd = nix::poll::PollFd::new(
                    std::os::fd::AsFd::as_fd(&f),
                    nix::poll::PollFlags::POLLIN,
                );
                let _ = nix::poll::poll(&mut [pfd], nix::poll::PollTimeout::from(10u8));
            }
            Err(e) => bail!("read {}: {}", fifo.display(), ctcore::errno_text(e)),
        }
    }
    drop(f);
    state::drop_fifo(&state::dir(root, id));
    let read;
    let spec = match spec {
        Some(s) => Some(s),
        None => {
            read = load_spec(&rec.bundle).ok();
            read.as_ref()
        }
    };
    if let Some(spec) = spec {
        poststart(&rec, spec);
    }
    Ok(())
}

/// The poststart hooks (a failure only warns, as runc).
fn poststart(rec: &Record, spec: &Spec) {
    let st = state_json(rec, ContainerState::Running, rec.pid);
    if let Err(e) = hooks::run("poststart", &hook_list(spec, |h| h.poststart()), &st) {
        crate::log::warn(&format!("{e:#}"));
    }
}

/// run's start: exec.fifo goes (the status turns running) and the init,
/// waiting on the sync socket, is told to go on.
fn start_run(root: &Path, c: &Created) -> Result<()> {
    state::drop_fifo(&state::dir(root, &c.rec.id));
    let sock = c.sync.as_ref().map_or(-1, AsRawFd::as_raw_fd);
    if sync::send(sock, "start", None).is_err() {
        bail!("container process is already dead");
    }
    poststart(&c.rec, &c.spec);
    Ok(())
}

/// `run`: create, start, wait (as a subreaper), delete; the container's status.
/// In the foreground the signals runc-rs gets go to the container's process
/// and a terminal is relayed (see `foreground`).
///
/// # Errors
/// create's or start's.
pub fn run(root: &Path, id: &str, o: &CreateOpts, detach: bool, keep: bool) -> Result<i32> {
    if !detach {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        crate::foreground::install();
    }
    let c = create_full(root, id, o, !detach, true)?;
    if let Err(e) = start_run(root, &c) {
        let _ = crate::ops::delete_with(root, id, true, Some(&c.spec));
        return Err(e);
    }
    let (pid, spec) = (c.pid, c.spec);
    drop(c.sync);
    if detach {
        return Ok(0);
    }
    let pidfd = crate::foreground::target(pid);
    if let Some(m) = RELAY.with(|r| r.borrow_mut().take()) {
        crate::foreground::relay(&m, pidfd.as_ref());
    }
    let status = wait_for(pid);
    crate::foreground::untarget();
    drop(pidfd);
    if !keep {
        let _ = crate::ops::delete_with(root, id, true, Some(&spec));
    }
    Ok(status)
}

/// Wait for `pid` (reaping any other orphan meanwhile); its status as a shell's.
fn wait_for(pid: i32) -> i32 {
    loop {
        let mut st = 0;
        // SAFETY: waitpid writes `st`.
        let r = unsafe { libc::waitpid(-1, &raw mut st, 0) };
        if r == pid {
            return ctcore::wait::Ended::from_raw(st).map_or(255, |e| e.code());
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 255;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The device-rules-only command line built without clap is clap's.
    #[test]
    fn cgset_devices_only_is_claps_parse() {
        let argv: Vec<OsString> = [
            "cgset",
            "--device-cgroup-rule",
            "c *:* m",
            "--device-cgroup-rule",
            "c 1:3 rwm",
            "runc-rs-x",
        ]
        .iter()
        .map(Into::into)
        .collect();
        let fast = cgset_devices_only(&argv).expect("device rules only");
        let clap = <cgset::cli::Cli as clap::Parser>::try_parse_from(&argv).unwrap();
        assert_eq!(format!("{fast:?}"), format!("{clap:?}"));
        let group_only: Vec<OsString> = ["cgset", "/abs/g"].iter().map(Into::into).collect();
        let clap = <cgset::cli::Cli as clap::Parser>::try_parse_from(&group_only).unwrap();
        assert_eq!(
            format!("{:?}", cgset_devices_only(&group_only).unwrap()),
            format!("{clap:?}")
        );
        for other in [
            &["cgset", "--memory", "1m", "g"][..],
            &["cgset", "--device-cgroup-rule", "c 1:3 rwm"][..],
            &["cgset", "--device-cgroup-rule=c 1:3 rwm", "g"][..],
        ] {
            let a: Vec<OsString> = other.iter().map(Into::into).collect();
            assert!(cgset_devices_only(&a).is_none(), "{other:?}");
        }
    }
}
