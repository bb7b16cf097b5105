//! runc-rs: an OCI runtime (runc's command line) made of the ctools: cgset
//! for the cgroup, unshare-rs for the namespaces, and its own init for the
//! root and the process (see `create`).

pub mod cli;
pub mod create;
pub mod exec;
pub mod foreground;
pub mod hooks;
pub mod log;
pub mod ops;
pub mod plan;
pub mod process;
pub mod reaper;
pub mod rootfs;
pub mod state;
pub mod sync;

use anyhow::{Result, bail};
use clap::Parser;

use cli::{Cli, Cmd};

/// Parse the command line, run, and return the exit status: runc's (1 for
/// any error, usage errors included; run's is the container's).
#[must_use]
pub fn main() -> i32 {
    ctcore::cli::restore_sigpipe();
    // The init (the chain's last link) skips clap: one parse fewer per start.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `runc-rs -- PROGRAM`: the container's pid 1 that reaps (docker's --init).
    if args.get(1).is_some_and(|a| a == "--") {
        return reaper::run(&args[2..]);
    }
    if args.get(1).is_some_and(|a| a == "init") {
        return match init_args(&args[2..]) {
            Some(a) => match create::init(&a) {
                Ok(code) => code,
                Err(e) => {
                    log::error(&format!("{e:#}"));
                    1
                }
            },
            None => {
                log::error("init: bad arguments (it is started by create)");
                1
            }
        };
    }
    let cli = match cli::fast_parse(&args).map_or_else(|| Cli::try_parse_from(args), Ok) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    log::setup(cli.log.clone(), cli.log_format, cli.debug);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            log::error(&format!("{e:#}"));
            1
        }
    }
}

/// `init --bundle B --sync FD --fifo F --preserve-fds N [--no-pivot] [--console] [--cgroups]
/// [--seccomp-fd FD]`.
fn init_args(a: &[std::ffi::OsString]) -> Option<create::InitArgs> {
    let (mut bundle, mut sync, mut fifo) = (None, None, None);
    let mut o = create::InitArgs::default();
    let mut it = a.iter();
    while let Some(k) = it.next() {
        match k.to_str()? {
            "--bundle" => bundle = Some(std::path::PathBuf::from(it.next()?)),
            "--sync" => sync = it.next()?.to_str()?.parse().ok(),
            "--fifo" => fifo = Some(std::path::PathBuf::from(it.next()?)),
            "--preserve-fds" => o.preserve_fds = it.next()?.to_str()?.parse().ok()?,
            "--no-pivot" => o.no_pivot = true,
            "--console" => o.console = true,
            "--cgroups" => o.cgroups = true,
            "--seccomp-fd" => o.seccomp_fd = Some(it.next()?.to_str()?.parse().ok()?),
            _ => return None,
        }
    }
    o.bundle = bundle?;
    o.sync = sync?;
    o.fifo = fifo?;
    Some(o)
}

/// Whether runc-rs runs rootless: as a user other than root, or as root of
/// a user namespace other than the host's (where rootless podman runs its
/// runtime), as runc decides for its rootless cgroup manager: no devices
/// cgroup, and a group it cannot make is no error.
#[must_use]
pub fn rootless() -> bool {
    !nix::unistd::geteuid().is_root() || in_user_namespace()
}

/// Whether this process is in a user namespace other than the initial one
/// (its uid_map is not the identity of all ids).
#[must_use]
pub fn in_user_namespace() -> bool {
    ctcore::read_text("/proc/self/uid_map").is_ok_and(|m| {
        let f: Vec<&str> = m.split_whitespace().collect();
        f != ["0", "0", "4294967295"]
    })
}

/// runc's default state directory: /run/runc-rs for root, else (rootless,
/// see [`rootless`]) $XDG_RUNTIME_DIR/runc-rs.
fn default_root() -> std::path::PathBuf {
    if rootless()
        && let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty())
    {
        return std::path::Path::new(&d).join("runc-rs");
    }
    std::path::PathBuf::from("/run/runc-rs")
}

/// Run one command.
///
/// # Errors
/// The command's.
pub fn run(cli: Cli) -> Result<i32> {
    if cli.systemd_cgroup {
        bail!(
            "--systemd-cgroup is not supported: runc-rs manages cgroups with cgset (cgroupfs); leave the engine's cgroup manager on cgroupfs"
        );
    }
    let root_dir = cli.root.clone().unwrap_or_else(default_root);
    let root = root_dir.as_path();
    log::debug(&format!("{:?}", cli.command));
    match cli.command {
        Cmd::Create { opts, id } => create::create(root, &id, &opts, false).map(|_| 0),
        Cmd::Start { id } => create::start(root, &id).map(|()| 0),
        Cmd::Run {
            opts,
            detach,
            keep,
            id,
        } => create::run(root, &id, &opts, detach, keep),
        Cmd::State { id } => ops::show_state(root, &id).map(|()| 0),
        Cmd::Kill { all, id, signal } => ops::kill(root, &id, all, signal.as_deref()).map(|()| 0),
        Cmd::Delete { force, id } => ops::delete(root, &id, force).map(|()| 0),
        Cmd::Exec {
            process,
            detach,
            tty,
            pid_file,
            console_socket,
            preserve_fds,
            cwd,
            env,
            user,
            additional_gids,
            cap,
            no_new_privs,
            id,
            command,
        } => {
            // The process that enters the container runs from a detached
            // read-only clone of runc-rs's mount (else a sealed memfd copy): a
            // `#!/proc/self/exe` program in there finds no host file behind
            // /proc/PID/exe to overwrite (CVE-2019-5736).
            ctcore::sealed::reexec_protected()?;
            exec::exec(
                root,
                &id,
                &exec::ExecOpts {
                    process,
                    detach,
                    tty,
                    pid_file,
                    console_socket,
                    preserve_fds,
                    cwd,
                    env,
                    user,
                    gids: additional_gids,
                    caps: cap,
                    nnp: no_new_privs,
                    command,
                },
            )
        }
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => ops::ps(root, &id, format, &ps_args).map(|()| 0),
        Cmd::List { format, quiet } => ops::list(root, format, quiet).map(|()| 0),
        Cmd::Pause { id } => ops::pause(root, &id, true).map(|()| 0),
        Cmd::Resume { id } => ops::pause(root, &id, false).map(|()| 0),
        Cmd::Update {
            resources,
            memory,
            pids_limit,
            cpu_quota,
            cpu_period,
            cpu_share,
            id,
        } => {
            let mut flags = vec![];
            let mut add = |k: &str, v: Option<String>| {
                if let Some(v) = v {
                    flags.push(k.to_string());
                    flags.push(v);
                }
            };
            add("--memory", memory);
            add("--pids-limit", pids_limit.map(|v| v.to_string()));
            add("--cpu-quota", cpu_quota.map(|v| v.to_string()));
            add("--cpu-period", cpu_period.map(|v| v.to_string()));
            add("--cpu-shares", cpu_share.map(|v| v.to_string()));
            ops::update(root, &id, resources.as_deref(), flags).map(|()| 0)
        }
        Cmd::Features => {
            ops::features();
            Ok(0)
        }
        Cmd::Spec { bundle, rootless } => {
            ops::spec(&bundle, rootless.is_some_and(|v| v != "false")).map(|()| 0)
        }
        Cmd::Init(a) => create::init(&a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// create's exec of the init and the init's two parses (by hand, and
    /// clap's for `runc-rs init` typed at a shell) agree on every field.
    #[test]
    fn init_argv_reads_back_by_both_parses() {
        let all = create::InitArgs {
            bundle: "/b u/n".into(),
            sync: 4,
            fifo: "-".into(),
            preserve_fds: 1,
            no_pivot: true,
            console: true,
            cgroups: true,
            seccomp_fd: Some(5),
            in_place: false,
        };
        let none = create::InitArgs {
            bundle: "/b".into(),
            sync: 3,
            fifo: "/r/exec.fifo".into(),
            ..create::InitArgs::default()
        };
        for a in [all, none] {
            let argv = a.argv(std::path::Path::new("/x/runc-rs"));
            assert_eq!(argv[0], "/x/runc-rs");
            assert_eq!(init_args(&argv[2..]).as_ref(), Some(&a));
            match Cli::try_parse_from(&argv).map(|c| c.command) {
                Ok(Cmd::Init(c)) => assert_eq!(c, a),
                other => panic!("clap read {argv:?} as {other:?}"),
            }
        }
    }
}
