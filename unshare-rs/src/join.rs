//! Join mode (nsenter): enter the namespaces of a process or namespace
//! files, then run PROGRAM.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use ctcore::failure;
use ctcore::wait::Ended;

use crate::cli::Cli;
use crate::{Kind, sys};

fn usage(msg: impl Into<String>) -> anyhow::Error {
    failure(125, msg)
}

fn open_dir(p: &Path) -> Result<OwnedFd> {
    std::fs::File::open(p).map(OwnedFd::from).map_err(|e| {
        failure(
            125,
            format!("cannot open {}: {}", p.display(), ctcore::error_text(&e)),
        )
    })
}

/// The cgroup v2 path of a `/proc/PID/cgroup` text (its `0::` line).
fn v2_path(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("0::"))
}

/// `--join-cgroup`: write this process into the target's cgroup v2 group.
///
/// # Errors
/// No cgroup v2 membership or mount, or a refused write.
fn join_cgroup(target: i32) -> Result<()> {
    let text = std::fs::read_to_string(format!("/proc/{target}/cgroup")).map_err(|e| {
        failure(
            125,
            format!(
                "cannot read /proc/{target}/cgroup: {}",
                ctcore::error_text(&e)
            ),
        )
    })?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mount = ctcore::mountinfo::parse(&mounts)
        .into_iter()
        .find(|m| m.fstype == "cgroup2")
        .map(|m| PathBuf::from(m.target));
    let (Some(path), Some(mount)) = (v2_path(&text), mount) else {
        return Err(failure(
            125,
            "--join-cgroup is only supported in cgroup v2 (use cgset GROUP -- unshare-rs ... on v1)",
        ));
    };
    let procs = mount
        .join(path.trim_start_matches('/'))
        .join("cgroup.procs");
    std::fs::write(&procs, "0").map_err(|e| {
        failure(
            125,
            format!(
                "cannot join the cgroup of {target}: {}: {}",
                procs.display(),
                ctcore::error_text(&e)
            ),
        )
    })
}

/// The NUL-separated `NAME=VALUE` entries of `/proc/PID/environ`.
///
/// # Errors
/// The file cannot be read (the process ended, or is not ours to read).
fn read_environ(pid: i32) -> Result<Vec<(OsString, OsString)>> {
    let path = format!("/proc/{pid}/environ");
    let data = std::fs::read(&path).map_err(|e| {
        failure(
            125,
            format!("cannot read {path}: {}", ctcore::error_text(&e)),
        )
    })?;
    Ok(parse_environ(&data))
}

/// `NAME=VALUE\0...` into pairs; an entry without `=` or with an empty
/// name is dropped (exec would pass it on, setenv cannot make it).
fn parse_environ(data: &[u8]) -> Vec<(OsString, OsString)> {
    data.split(|&b| b == 0)
        .filter_map(|e| {
            let eq = e.iter().position(|&b| b == b'=')?;
            (eq > 0).then(|| {
                (
                    OsStr::from_bytes(&e[..eq]).to_owned(),
                    OsStr::from_bytes(&e[eq + 1..]).to_owned(),
                )
            })
        })
        .collect()
}

/// Enter `fd` for the namespace kind `name`, in place of what the options
/// selected for it.
fn replace_entry(entries: &mut Vec<Entry>, name: &str, fd: OwnedFd) {
    let file = std::fs::File::from(fd);
    let inode = file.metadata().map(|m| m.ino()).unwrap_or(0);
    entries.retain(|e| e.kind.name != name);
    if let Some(kind) = crate::KINDS.iter().find(|k| k.name == name) {
        // The table's order (user first) is the order of entering.
        let at = entries
            .iter()
            .position(|e| {
                crate::KINDS.iter().position(|k| k == &e.kind)
                    > crate::KINDS.iter().position(|k| k == kind)
            })
            .unwrap_or(entries.len());
        entries.insert(
            at,
            Entry {
                kind: *kind,
                fd: file.into(),
                inode,
                done: false,
            },
        );
    }
}

/// One namespace to enter.
struct Entry {
    kind: Kind,
    fd: OwnedFd,
    inode: u64,
    done: bool,
}

fn reject_create_options(cli: &Cli) -> Result<()> {
    let bad = [
        (cli.mount_proc.is_some(), "--mount-proc"),
        (!cli.ro_bind.is_empty(), "--ro-bind"),
        (cli.map_current_user, "--map-current-user"),
        (cli.map_user.is_some(), "--map-user"),
        (cli.map_group.is_some(), "--map-group"),
        (!cli.map_users.is_empty(), "--map-users"),
        (!cli.map_groups.is_empty(), "--map-groups"),
        (cli.map_auto || cli.map_subids, "--map-auto"),
        (cli.setgroups.is_some(), "--setgroups"),
        (cli.kill_child.is_some(), "--kill-child"),
        (
            cli.monotonic.is_some() || cli.boottime.is_some(),
            "--monotonic/--boottime",
        ),
        (cli.hostname.is_some(), "--hostname"),
        (cli.domainname.is_some(), "--domainname"),
        (cli.loopback, "--loopback"),
        (cli.no_init, "--no-init"),
        (cli.console_relay.is_some(), "--console-relay"),
        (cli.propagation != "private", "--propagation"),
    ];
    if let Some((_, name)) = bad.iter().find(|(b, _)| *b) {
        return Err(usage(format!(
            "option {name} creates namespaces; it cannot be used with --target or --join"
        )));
    }
    Ok(())
}

/// Run the tool in join mode.
///
/// # Errors
/// Usage errors, unopenable namespaces, a failed setns, a failed exec.
pub fn run(cli: &Cli) -> Result<i32> {
    reject_create_options(cli)?;
    let caps_keep = crate::wanted_caps(cli)?;
    // The profile FILE is a path of the caller's: read before joining.
    let filter = crate::filter::Filter::prepare(cli.seccomp.as_deref(), caps_keep)?;
    let target = cli.target;
    if let Some(t) = target
        && (t <= 0 || !Path::new(&format!("/proc/{t}")).exists())
    {
        return Err(usage(format!("cannot open /proc/{t}: No such process")));
    }
    if cli.wd.is_some() && cli.wdns.is_some() {
        return Err(usage("--wd and --wdns are mutually exclusive"));
    }
    // The target's environment, read before joining (its /proc may not be
    // visible from the joined mount namespace).
    let env = match (cli.env, target) {
        (false, _) => None,
        (true, Some(t)) => Some(read_environ(t)?),
        (true, None) => return Err(usage("option --env needs --target PID")),
    };
    // The cgroup before the namespaces: the joined mount namespace may not show
    // the host's /sys/fs/cgroup.
    if cli.join_cgroup {
        let Some(t) = target else {
            return Err(usage("option --join-cgroup needs --target PID"));
        };
        join_cgroup(t)?;
    }
    let mut status = crate::status_fd(cli.json_status)?;
    let mut entries: Vec<Entry> = Vec::new();
    for (kind, opt) in crate::ns_options(cli) {
        let own = crate::ns_inode(Path::new(&format!("/proc/self/ns/{}", kind.name)));
        let (path, from_all) = match (opt, target) {
            (Some(Some(file)), _) => (file, false),
            (Some(None), Some(t)) => (PathBuf::from(format!("/proc/{t}/ns/{}", kind.name)), false),
            (Some(None), None) => {
                return Err(usage(format!(
                    "neither filename nor target pid supplied for ns/{}",
                    kind.name
                )));
            }
            (None, Some(t)) if cli.all => {
                (PathBuf::from(format!("/proc/{t}/ns/{}", kind.name)), true)
            }
            (None, _) => continue,
        };
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if from_all && e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(usage(format!(
                    "cannot open {}: {}",
                    path.display(),
                    ctcore::error_text(&e)
                )));
            }
        };
        let inode = file.metadata().map(|m| m.ino()).unwrap_or(0);
        // --all skips what we share already: setns into one's own user
        // namespace fails, and the others are no-ops.
        if from_all && Some(inode) == own {
            continue;
        }
        entries.push(Entry {
            kind,
            fd: file.into(),
            inode,
            done: false,
        });
    }
    if let Some(fd) = cli.net_socket {
        let Some(t) = target else {
            return Err(usage("option --net-socket needs --target PID"));
        };
        let ns = crate::secure::socket_netns(t, fd)?;
        replace_entry(&mut entries, "net", ns);
    }
    if cli.user_parent {
        let own;
        let child = match entries.iter().find(|e| e.kind.name == "user") {
            Some(e) => &e.fd,
            None => {
                let Some(t) = target else {
                    return Err(usage(
                        "option --user-parent needs --target PID or --user=FILE",
                    ));
                };
                own = open_dir(Path::new(&format!("/proc/{t}/ns/user")))?;
                &own
            }
        };
        let parent = crate::secure::parent_userns(child)?;
        replace_entry(&mut entries, "user", parent);
    }
    if entries.is_empty()
        && !cli.map_root_user
        && cli.root.is_none()
        && cli.wd.is_none()
        && cli.wdns.is_none()
    {
        if cli.all {
            // Everything is shared already: just run the program.
        } else {
            return Err(usage("no namespace specified"));
        }
    }
    // Root and working directory are opened before any setns: they are
    // tunnels into the target's file system.
    let root_fd = match (&cli.root, cli.map_root_user, target) {
        (Some(dir), _, _) => Some(open_dir(dir)?),
        (None, true, Some(t)) => Some(open_dir(Path::new(&format!("/proc/{t}/root")))?),
        (None, true, None) => {
            return Err(usage("option -r needs --target PID (or give --root DIR)"));
        }
        _ => None,
    };
    let wd_fd = match (&cli.wd, target) {
        (Some(d), _) if !d.is_empty() => Some(open_dir(Path::new(d))?),
        (Some(_), Some(t)) => Some(open_dir(Path::new(&format!("/proc/{t}/cwd")))?),
        (Some(_), None) => return Err(usage("option -w needs --target PID (or give --wd=DIR)")),
        (None, _) if root_fd.is_some() => Some(open_dir(Path::new("."))?),
        _ => None,
    };
    // -S/-G: a number, or `follow` (the owner of the target's /proc/PID).
    let follow = |what: &str| -> Result<std::fs::Metadata> {
        let Some(t) = target else {
            return Err(usage(format!("option --{what} follow needs --target PID")));
        };
        std::fs::metadata(format!("/proc/{t}"))
            .map_err(|e| usage(format!("cannot stat /proc/{t}: {}", ctcore::error_text(&e))))
    };
    let setuid = match cli.setuid.as_deref() {
        None => None,
        Some("follow") => Some(follow("setuid")?.uid()),
        Some(s) => Some(
            s.parse::<u32>()
                .map_err(|_| usage(format!("invalid uid argument: '{s}'")))?,
        ),
    };
    let setgid = match cli.setgid.as_deref() {
        None => None,
        Some("follow") => Some(follow("setgid")?.gid()),
        Some(s) => Some(
            s.parse::<u32>()
                .map_err(|_| usage(format!("invalid gid argument: '{s}'")))?,
        ),
    };
    let (argv, argv0) = crate::program_or_shell(&cli.program);
    let enters_user = entries.iter().any(|e| e.kind.name == "user");
    let enters_pid = entries.iter().any(|e| e.kind.name == "pid");
    let inodes: Vec<(&str, Option<u64>)> = crate::KINDS
        .iter()
        .map(|k| {
            let ino = entries
                .iter()
                .find(|e| e.kind == *k)
                .map(|e| e.inode)
                .or_else(|| crate::ns_inode(Path::new(&format!("/proc/self/ns/{}", k.name))));
            (k.name, ino)
        })
        .collect();
    if enters_user && !cli.preserve_credentials {
        // SAFETY: dropping supplementary groups; failure is retried below.
        unsafe { libc::setgroups(0, std::ptr::null()) };
    }
    // Pass 1: everything but the user namespace, errors ignored (a
    // privileged caller enters the user namespace last).
    for e in entries.iter_mut().filter(|e| e.kind.name != "user") {
        // SAFETY: setns on a namespace descriptor we own; single-threaded.
        e.done = unsafe { libc::setns(e.fd.as_raw_fd(), e.kind.flag) } == 0;
    }
    // Pass 2: the rest, user namespace first, errors reported.
    for e in entries.iter_mut().filter(|e| !e.done) {
        // SAFETY: as above.
        if unsafe { libc::setns(e.fd.as_raw_fd(), e.kind.flag) } < 0 {
            let err = io::Error::last_os_error();
            let mut msg = format!(
                "reassociate to namespace 'ns/{}' failed: {}",
                e.kind.name,
                ctcore::error_text(&err)
            );
            if err.raw_os_error() == Some(libc::EINVAL) && !is_nsfs(&e.fd) {
                msg.push_str(": not a namespace file (a /proc/PID/ns file or a bind mount of one)");
            } else if err.raw_os_error() == Some(libc::EINVAL) {
                msg.push_str(
                    ": the file is a namespace of another type, or joining it is not allowed",
                );
            } else if err.raw_os_error() == Some(libc::EPERM) && !nix::unistd::geteuid().is_root() {
                msg.push_str(
                    ": entering it needs CAP_SYS_ADMIN over it (enter its user namespace too, -U)",
                );
            }
            return Err(failure(125, msg));
        }
        e.done = true;
    }
    if let Some(r) = &root_fd {
        // SAFETY: fchdir and chroot(".") on a directory we hold open.
        let ok = unsafe { libc::fchdir(r.as_raw_fd()) == 0 && libc::chroot(c".".as_ptr()) == 0 };
        if !ok {
            return Err(failure(
                125,
                format!(
                    "chroot failed: {}",
                    ctcore::error_text(&io::Error::last_os_error())
                ),
            ));
        }
    }
    if let Some(w) = &wd_fd {
        // SAFETY: fchdir on a directory we hold open.
        if unsafe { libc::fchdir(w.as_raw_fd()) } < 0 {
            return Err(failure(
                125,
                format!(
                    "cannot change directory: {}",
                    ctcore::error_text(&io::Error::last_os_error())
                ),
            ));
        }
    }
    drop(root_fd);
    drop(wd_fd);
    if let Some(d) = &cli.wdns
        && let Err(e) = std::env::set_current_dir(d)
    {
        return Err(failure(
            125,
            format!(
                "cannot change directory to {}: {}",
                d.display(),
                ctcore::error_text(&e)
            ),
        ));
    }
    if let Some(vars) = env {
        crate::secure::replace_environment(&vars);
    }
    if let Some(kept) = crate::secure::kept_environment(cli.clear_env, &cli.whitelist_env) {
        crate::secure::replace_environment(&kept);
    }
    // --userspec: the joined root's own files, opened from inside it.
    let user = cli
        .userspec
        .as_deref()
        .map(crate::userspec::resolve_here)
        .transpose()?;
    if let Some(u) = &user
        && std::env::var_os("HOME").is_none()
        && !u.home.is_empty()
    {
        // SAFETY: single-threaded (see replace_environment).
        unsafe { std::env::set_var("HOME", OsStr::from_bytes(&u.home)) };
    }
    if cli.new_keyring {
        crate::secure::new_session_keyring()?;
    }
    crate::harden(caps_keep, cli.no_new_privs)?;
    // Without no_new_privs a filter needs CAP_SYS_ADMIN, which a new uid
    // takes away: then it goes in before the credentials (as runc does),
    // else last.
    let mut filter = filter;
    if !cli.no_new_privs
        && let Some(f) = filter.take()
    {
        f.install()?;
    }
    if let Some(u) = &user {
        crate::userspec::become_user(u)?;
    } else {
        set_ids(setuid, setgid, enters_user && !cli.preserve_credentials)?;
    }
    if cli.keep_caps {
        sys::keep_caps()?;
    }
    if cli.tty {
        return on_a_tty(&argv, argv0.as_ref(), status.as_mut(), &inodes, filter);
    }
    let fork = cli.fork || (enters_pid && !cli.no_fork);
    if !fork {
        if let Some(s) = status.as_mut() {
            s.write(&crate::status_start(
                nix::unistd::getpid().as_raw(),
                &inodes,
            ))?;
        }
        if let Some(f) = filter {
            f.install()?;
        }
        return Err(crate::exec_program(&argv, argv0.as_ref()));
    }
    sys::default_sigchld();
    sys::block_forwarded(true);
    sys::install_forwarding();
    let pid = sys::fork()?;
    if pid == 0 {
        sys::default_signals();
        if let Some(f) = filter
            && let Err(e) = f.install()
        {
            crate::die(&e);
        }
        crate::die(&crate::exec_program(&argv, argv0.as_ref()));
    }
    sys::forward_to(pid);
    sys::block_forwarded(false);
    if let Some(s) = status.as_mut() {
        s.write(&crate::status_start(pid, &inodes))?;
    }
    let ended = wait_following_stops(pid)?;
    if let Some(s) = status.as_mut() {
        let _ = s.write(&crate::status_end(ended));
    }
    drop(status);
    match ended {
        Ended::Exited(c) => Ok(c),
        Ended::Signaled(_) => ctcore::wait::exit_like(ended),
    }
}

/// `-S`/`-G` (and uid and gid 0 on entering a user namespace, unless
/// --preserve-credentials).
fn set_ids(setuid: Option<u32>, setgid: Option<u32>, entering_user: bool) -> Result<()> {
    let (uid, gid) = if entering_user {
        (Some(setuid.unwrap_or(0)), Some(setgid.unwrap_or(0)))
    } else {
        (setuid, setgid)
    };
    if let Some(g) = gid {
        // SAFETY: credential syscalls.
        let groups_failed = unsafe { libc::setgroups(0, std::ptr::null()) } < 0;
        if groups_failed && setgid.is_some() && !entering_user {
            return Err(failure(125, "setgroups failed"));
        }
        // SAFETY: as above.
        if unsafe { libc::setgid(g) } < 0 {
            return Err(failure(
                125,
                format!(
                    "setgid() failed: {}",
                    ctcore::error_text(&io::Error::last_os_error())
                ),
            ));
        }
    }
    if let Some(u) = uid {
        // SAFETY: as above.
        if unsafe { libc::setuid(u) } < 0 {
            return Err(failure(
                125,
                format!(
                    "setuid() failed: {}",
                    ctcore::error_text(&io::Error::last_os_error())
                ),
            ));
        }
    }
    Ok(())
}

/// `--tty`: PROGRAM in a child on a new pty of the joined root, this
/// process its relay (ctcore::tty).
fn on_a_tty(
    argv: &[std::ffi::OsString],
    argv0: Option<&std::ffi::OsString>,
    mut status: Option<&mut ctcore::json::StatusFd>,
    inodes: &[(&'static str, Option<u64>)],
    filter: Option<crate::filter::Filter>,
) -> Result<i32> {
    let pty = ctcore::tty::Pty::open().map_err(|e| {
        failure(
            125,
            format!("cannot open a pseudo-terminal: {}", ctcore::errno_text(e)),
        )
    })?;
    sys::default_sigchld();
    let pid = sys::fork()?;
    if pid == 0 {
        if let Err(e) = pty.attach() {
            crate::die(&failure(
                125,
                format!(
                    "cannot attach the pseudo-terminal: {}",
                    ctcore::errno_text(e)
                ),
            ));
        }
        if let Some(f) = filter
            && let Err(e) = f.install()
        {
            crate::die(&e);
        }
        crate::die(&crate::exec_program(argv, argv0));
    }
    if let Some(s) = status.as_mut() {
        s.write(&crate::status_start(pid, inodes))?;
    }
    let ended = Ended::from_raw(pty.relay(pid)).unwrap_or(Ended::Exited(125));
    if let Some(s) = status.as_mut() {
        let _ = s.write(&crate::status_end(ended));
    }
    match ended {
        Ended::Exited(c) => Ok(c),
        Ended::Signaled(_) => ctcore::wait::exit_like(ended),
    }
}

/// Whether `fd` is on nsfs.
fn is_nsfs(fd: &OwnedFd) -> bool {
    // SAFETY: statfs is plain data filled by fstatfs.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and buffer.
    let r = unsafe { libc::fstatfs(fd.as_raw_fd(), &raw mut st) };
    r == 0 && st.f_type == 0x6e73_6673
}

/// Wait for the child; when it stops, stop too, and continue it when we
/// are continued (as nsenter does).
fn wait_following_stops(pid: i32) -> Result<Ended> {
    loop {
        let (_, st) = sys::wait(pid, libc::WUNTRACED)
            .map_err(|e| failure(125, format!("waitpid failed: {}", ctcore::error_text(&e))))?;
        if libc::WIFSTOPPED(st) {
            // SAFETY: signalling ourselves and our child.
            unsafe {
                libc::raise(libc::SIGSTOP);
                libc::kill(pid, libc::SIGCONT);
            }
            continue;
        }
        if let Some(e) = Ended::from_raw(st) {
            return Ok(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_v2_path_is_the_0_line() {
        assert_eq!(
            v2_path("12:memory:/a\n0::/contain/abc\n"),
            Some("/contain/abc")
        );
        assert_eq!(v2_path("0::/\n"), Some("/"));
        assert_eq!(v2_path("4:cpu,cpuacct:/x\n"), None);
    }

    #[test]
    fn environ_parses_and_drops_what_setenv_cannot_make() {
        let v = parse_environ(b"A=1\0PATH=/bin:/usr/bin\0EMPTY=\0NOEQ\0=x\0B=c=d\0");
        let v: Vec<(String, String)> = v
            .into_iter()
            .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
            .collect();
        let want = [
            ("A", "1"),
            ("PATH", "/bin:/usr/bin"),
            ("EMPTY", ""),
            ("B", "c=d"),
        ];
        assert_eq!(
            v,
            want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
        );
        assert!(parse_environ(b"").is_empty());
    }
}
