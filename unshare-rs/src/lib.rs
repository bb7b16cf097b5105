//! unshare-rs: create namespaces (util-linux unshare) or join them
//! (nsenter), with an init for new PID namespaces.
//!
//! The process must have no other thread when it calls unshare(2) or
//! setns(2): unshare(CLONE_NEWUSER) fails with EINVAL in a multithreaded
//! process, and setns into a mount namespace too.  Nothing here starts one.

pub mod cli;
pub mod create;
pub mod diag;
pub mod filter;
pub mod idmap;
pub mod join;
pub mod nsenter;
pub mod secure;
pub mod sys;
pub use ctcore::userspec;

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::Result;

/// One kind of namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// The name under /proc/PID/ns.
    pub name: &'static str,
    /// The clone flag.
    pub flag: libc::c_int,
    /// The long option.
    pub option: &'static str,
}

/// Every kind, in the order namespaces are entered (user first).
pub const KINDS: [Kind; 8] = [
    Kind {
        name: "user",
        flag: libc::CLONE_NEWUSER,
        option: "user",
    },
    Kind {
        name: "cgroup",
        flag: libc::CLONE_NEWCGROUP,
        option: "cgroup",
    },
    Kind {
        name: "ipc",
        flag: libc::CLONE_NEWIPC,
        option: "ipc",
    },
    Kind {
        name: "uts",
        flag: libc::CLONE_NEWUTS,
        option: "uts",
    },
    Kind {
        name: "net",
        flag: libc::CLONE_NEWNET,
        option: "net",
    },
    Kind {
        name: "pid",
        flag: libc::CLONE_NEWPID,
        option: "pid",
    },
    Kind {
        name: "mnt",
        flag: libc::CLONE_NEWNS,
        option: "mount",
    },
    Kind {
        name: "time",
        flag: libc::CLONE_NEWTIME,
        option: "time",
    },
];

/// The namespace options of the command line, by kind: `None` not given,
/// `Some(None)` given without FILE, `Some(Some(file))` with one.
#[must_use]
pub fn ns_options(cli: &cli::Cli) -> Vec<(Kind, Option<Option<std::path::PathBuf>>)> {
    let opt = |o: &Option<OsString>| {
        o.as_ref().map(|p| {
            if p.is_empty() {
                None
            } else {
                Some(std::path::PathBuf::from(p))
            }
        })
    };
    let by = |k: &Kind| match k.name {
        "user" => opt(&cli.user),
        "cgroup" => opt(&cli.cgroup),
        "ipc" => opt(&cli.ipc),
        "uts" => opt(&cli.uts),
        "net" => opt(&cli.net),
        "pid" => opt(&cli.pid),
        "mnt" => opt(&cli.mount),
        _ => opt(&cli.time),
    };
    KINDS.iter().map(|k| (*k, by(k))).collect()
}

/// The inode of a namespace file, if it exists.
#[must_use]
pub fn ns_inode(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// The first JSON status line: the child pid and the inode number of each
/// of its namespaces (as bubblewrap's --json-status-fd names them).
#[must_use]
pub fn status_start(pid: i32, inodes: &[(&str, Option<u64>)]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("child-pid".into(), pid.into());
    for (name, ino) in inodes {
        if let Some(i) = ino {
            m.insert(format!("{name}-namespace"), (*i).into());
        }
    }
    serde_json::Value::Object(m)
}

/// The last JSON status line.
#[must_use]
pub fn status_end(ended: ctcore::wait::Ended) -> serde_json::Value {
    match ended {
        ctcore::wait::Ended::Exited(c) => serde_json::json!({ "exit-code": c }),
        ctcore::wait::Ended::Signaled(s) => {
            serde_json::json!({ "exit-code": ended.code(), "signal": s })
        }
    }
}

/// The program to run: PROGRAM, or a login shell (`$SHELL`, the passwd
/// shell, `/bin/sh`) with `-name` as argv[0].
#[must_use]
pub fn program_or_shell(program: &[OsString]) -> (Vec<OsString>, Option<OsString>) {
    if !program.is_empty() {
        return (program.to_vec(), None);
    }
    let shell = std::env::var_os("SHELL")
        .filter(|s| !s.is_empty())
        .or_else(|| {
            ctcore::passwd::Db::new()
                .user_by_uid(nix::unistd::getuid().as_raw())
                .map(|u| std::os::unix::ffi::OsStringExt::from_vec(u.shell.clone()))
                .filter(|s: &OsString| !s.is_empty())
        })
        .unwrap_or_else(|| "/bin/sh".into());
    let base = Path::new(&shell)
        .file_name()
        .map_or_else(|| OsString::from("sh"), std::ffi::OsStr::to_os_string);
    let mut argv0 = OsString::from("-");
    argv0.push(base);
    (vec![shell], Some(argv0))
}

/// Open the `--json-status` descriptor.  Standard input, output and error
/// are duplicated first, so that PROGRAM keeps them.
///
/// # Errors
/// When the descriptor is not open.
pub fn status_fd(fd: Option<i32>) -> Result<Option<ctcore::json::StatusFd>> {
    let Some(fd) = fd else { return Ok(None) };
    // SAFETY: F_GETFD on any integer is harmless (EBADF when not open).
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(ctcore::failure(
            125,
            format!("status descriptor {fd}: Bad file descriptor"),
        ));
    }
    let fd = if fd <= 2 {
        // SAFETY: duplicating an open descriptor.
        unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) }
    } else {
        fd
    };
    Ok(Some(ctcore::json::StatusFd::new(fd)?))
}

/// Execute the program; returns only the error.
#[must_use]
pub fn exec_program(argv: &[OsString], argv0: Option<&OsString>) -> anyhow::Error {
    match argv0 {
        Some(a0) => ctcore::exec::exec_as(a0, argv),
        None => ctcore::exec::exec(argv),
    }
}

/// The bounding set `--cap-drop` and `--cap-add` ask for, from the current
/// one (None: the capabilities stay as they are).
///
/// # Errors
/// An unknown capability name (a usage error, before anything is made).
pub fn wanted_caps(cli: &cli::Cli) -> Result<Option<u64>> {
    if cli.cap_drop.is_empty() && cli.cap_add.is_empty() {
        return Ok(None);
    }
    ctcore::caps::keep_set(
        ctcore::caps::bounding(),
        &cli.cap_add,
        &cli.cap_drop,
        ctcore::caps::all_mask(),
    )
    .map(Some)
    .map_err(|n| ctcore::failure(125, format!("unknown capability '{n}'")))
}

/// Shrink the bounding set (and the inheritable and ambient sets) to
/// `keep`, and set no_new_privs: the last step before PROGRAM's
/// credentials (a smaller bounding set needs CAP_SETPCAP).
///
/// # Errors
/// When the kernel refuses.
pub fn harden(keep: Option<u64>, no_new_privs: bool) -> Result<()> {
    if let Some(k) = keep {
        ctcore::caps::restrict(k).map_err(|(what, e)| {
            ctcore::failure(125, format!("{what}: {}", ctcore::error_text(&e)))
        })?;
    }
    if no_new_privs {
        ctcore::caps::no_new_privs().map_err(|e| {
            ctcore::failure(
                125,
                format!("cannot set no_new_privs: {}", ctcore::error_text(&e)),
            )
        })?;
    }
    Ok(())
}

/// Report an error the way the entry point would, and exit (in a forked
/// child, which must not return into the parent's code).
pub fn die(err: &anyhow::Error) -> ! {
    if !ctcore::error::is_silent(err) {
        eprintln!("{}", ctcore::error::one_line("unshare-rs", err));
    }
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // SAFETY: _exit skips the parent's atexit handlers and buffers.
    unsafe { libc::_exit(ctcore::error::code_of(err)) }
}

/// Whether `argv0` is the name `nsenter`.
fn is_nsenter(argv0: Option<&OsString>) -> bool {
    argv0
        .and_then(|a| Path::new(a).file_name().map(|f| f == "nsenter"))
        .unwrap_or(false)
}

/// Whether we were called under the name `nsenter`.
fn called_as_nsenter() -> bool {
    is_nsenter(std::env::args_os().next().as_ref())
}

/// The entry point: parse the command line (nsenter's grammar when called
/// as `nsenter`, see [`nsenter`]), run, and exit as `ctcore::main` does.
pub fn main() -> ! {
    use clap::FromArgMatches;
    ctcore::cli::restore_sigpipe();
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if is_nsenter(args.first()) {
        match nsenter::translate(&args) {
            Ok(a) => args = a,
            Err(msg) => {
                eprintln!("unshare-rs: {msg} (try 'nsenter --help')");
                std::process::exit(ctcore::exit::FAILURE);
            }
        }
    }
    let mut cmd = cli::command();
    let parsed = cmd
        .try_get_matches_from_mut(args)
        .and_then(|mut m| cli::Cli::from_arg_matches_mut(&mut m).map_err(|e| e.format(&mut cmd)));
    let code = match parsed {
        Ok(c) => ctcore::cli::finish("unshare-rs", run(c)),
        Err(e) => ctcore::cli::clap_error("unshare-rs", &e),
    };
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::process::exit(code)
}

/// Run the tool.
///
/// # Errors
/// Any failure, with the exit status in the chain (125 unless exec failed).
pub fn run(cli: cli::Cli) -> Result<i32> {
    let join = cli.target.is_some() || cli.join || called_as_nsenter();
    // A tool that joins a container runs from a sealed copy of itself: its
    // /proc/PID/exe, visible in there, is no host file (CVE-2019-5736).
    if join {
        ctcore::sealed::reexec_protected()?;
    }
    // Before anything is opened: the caller's descriptors (but our status
    // descriptor, close-on-exec already) go now.
    if let Some(n) = cli.preserve_fds {
        secure::close_fds(n, cli.json_status)?;
    }
    if join {
        join::run(&cli)
    } else if cli.all {
        Err(ctcore::failure(125, "option --all needs --target PID"))
    } else {
        create::run(&cli)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> cli::Cli {
        cli::Cli::try_parse_from(std::iter::once("unshare-rs").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn optional_files() {
        let c = parse(&["-m", "--uts=/tmp/u", "-n", "true"]);
        let o = ns_options(&c);
        let get = |n: &str| o.iter().find(|(k, _)| k.name == n).unwrap().1.clone();
        assert_eq!(get("mnt"), Some(None));
        assert_eq!(get("uts"), Some(Some("/tmp/u".into())));
        assert_eq!(get("net"), Some(None));
        assert_eq!(get("pid"), None);
        assert_eq!(c.program, ["true"]);
    }

    #[test]
    fn clustered_short_options() {
        let c = parse(&["-mupf", "sh", "-c", "x"]);
        assert!(c.mount.is_some() && c.uts.is_some() && c.pid.is_some() && c.fork);
        assert_eq!(c.program, ["sh", "-c", "x"]);
        let c = parse(&["-Ur", "id"]);
        assert!(c.user.is_some() && c.map_root_user);
    }

    #[test]
    fn file_needs_equals() {
        let c = parse(&["--net", "ip", "link"]);
        assert_eq!(c.net.as_deref(), Some(std::ffi::OsStr::new("")));
        assert_eq!(c.program, ["ip", "link"]);
    }

    #[test]
    fn program_options_stay_with_program() {
        let c = parse(&["-u", "ls", "-m"]);
        assert!(c.mount.is_none());
        assert_eq!(c.program, ["ls", "-m"]);
    }

    #[test]
    fn wd_with_and_without_dir() {
        let c = parse(&["-w", "/tmp", "pwd"]);
        assert_eq!(c.wd.as_deref(), Some(std::ffi::OsStr::new("/tmp")));
        assert_eq!(c.program, ["pwd"]);
        let c = parse(&["-t", "1", "-a", "-w", "--", "pwd"]);
        assert_eq!(c.wd.as_deref(), Some(std::ffi::OsStr::new("")));
        assert_eq!(c.program, ["pwd"]);
    }

    #[test]
    fn kill_child_default() {
        assert_eq!(
            parse(&["--kill-child", "x"]).kill_child.as_deref(),
            Some("KILL")
        );
        assert_eq!(
            parse(&["--kill-child=TERM", "x"]).kill_child.as_deref(),
            Some("TERM")
        );
    }

    #[test]
    fn status_lines() {
        let v = status_start(42, &[("mnt", Some(7)), ("pid", None)]);
        assert_eq!(v.to_string(), r#"{"child-pid":42,"mnt-namespace":7}"#);
        let v = status_end(ctcore::wait::Ended::Signaled(9));
        assert_eq!(v.to_string(), r#"{"exit-code":137,"signal":9}"#);
    }

    #[test]
    fn default_shell_is_login() {
        let (argv, a0) = program_or_shell(&[]);
        assert_eq!(argv.len(), 1);
        assert!(a0.unwrap().to_string_lossy().starts_with('-'));
    }

    #[test]
    fn man_page_parts() {
        assert!(!MAN_CHECK.is_empty());
    }

    const MAN_CHECK: &str = cli::MAN.description;
}
