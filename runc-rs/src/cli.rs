//! The command line of runc-rs: runc's, as podman, containerd and the
//! runtime-tools suite call it (global flags before the command, the
//! command's flags before or after the container id).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const DESCRIPTION: &str = "\
runc-rs runs OCI bundles (a config.json and a root file system) behind
runc's command line, so that podman (\\-\\-runtime) and containerd (ctr run
\\-\\-runc\\-binary) can drive the ctools.
.PP
.B create
runs the steps of the chain
.I cgset LIMITS GROUP \\-\\- unshare\\-rs NAMESPACES \\-\\- runc\\-rs init
through cgset's and unshare\\-rs's library functions: unshare\\-rs's in a fork
of itself, which then execs runc\\-rs init (one exec before the program's; none
where runc\\-rs's binary lies on a read\\-only mount, as
.I unshare\\-rs \\-\\-ro\\-bind
makes it: the init then runs in the fork),
and cgset's in create meanwhile, whose group the init joins before anything else;
or it execs that chain where a new user or time
namespace is asked for or RUNC_RS_EXEC_CHAIN is set:
cgset writes linux.resources (and the device rules: deny\\-all, the
config's rules, then runc's defaults, whatever linux.resources says) into the group named by
cgroupsPath (absolute: from each hierarchy's root; relative: below the
caller's cgroup; none: ./runc\\-rs\\-ID), unshare\\-rs makes the new
namespaces and writes the id maps, and runc\\-rs's init joins the namespaces
given by path, makes the PID namespace and forks its pid 1, which is
orphaned to the caller (engines are subreapers). The init mounts
config.json's mounts in order (bind options and propagation, tmpcopyup, the
v1 cgroup pseudo\\-mount), makes the default /dev nodes and links and
linux.devices, sets the hostname, runs the createContainer hooks, changes
root (pivot_root, or MS_MOVE and chroot with \\-\\-no\\-pivot), writes
linux.sysctl, masks maskedPaths, write\\-protects readonlyPaths and the
root, sends the pty master over \\-\\-console\\-socket, sets oomScoreAdj,
rlimits, user and groups, the five capability sets, no_new_privs and the
seccomp filter, and blocks opening <root>/<id>/exec.fifo for writing.
.B start
opens the fifo, which lets the init exec process.args.
.PP
prestart and createRuntime hooks run in runc\\-rs create, createContainer
and startContainer in the init, poststart in start and poststop in delete,
each with the state JSON on its stdin. State lives under \\-\\-root (default
/run/runc\\-rs; rootless, $XDG_RUNTIME_DIR/runc\\-rs).
.PP
A working directory outside the container's root (a cwd through a leaked
/proc/self/fd/N) is refused. The init makes the mount holding runc\\-rs
read\\-only and noexec in the container's mount namespace before the old root
goes, and exec enters the container from a detached read\\-only clone of
that mount (a sealed memfd copy where refused): a #!/proc/self/exe program
can neither run nor overwrite runc\\-rs (a binary its caller sealed read\\-only
may be run in there, never written). exec joins a session keyring of its own (as
runc's exec), so the caller's keys are out of its reach. Rootless (a user other than root, or
root of a user namespace other than the host's, as under rootless podman):
no devices cgroup, and a group that cannot be made is no error.
.PP
.B runc\\-rs \\-\\- PROGRAM [ARGS...]
is an init for a container's pid 1, as docker's \\-\\-init runs
.I docker\\-init \\-\\- PROGRAM
(tini): it forks PROGRAM, reaps every process that ends, passes TERM, INT, HUP, QUIT,
USR1, USR2 and WINCH on to PROGRAM, names itself init and exits with PROGRAM's status
(128+N for a signal N; 127 or 126 when PROGRAM cannot be run).
.B contain run \\-\\-init \\-\\-runtime
binds a copy of runc\\-rs read\\-only at /dev/init and runs /dev/init \\-\\- PROGRAM.";

const SECTIONS: &[(&str, &str)] = &[
    (
        "EXIT STATUS",
        "\
.TP
.B 0
Success.
.TP
.B 1
Any error, usage errors included, as runc's; the message goes to stderr and to \\-\\-log.
.PP
run (without \\-\\-detach) and exec (without \\-\\-detach) exit with the container
process's status, 128+N for a signal N.",
    ),
    (
        "EXAMPLES",
        "\
.EX
runc\\-rs spec && runc\\-rs run demo
runc\\-rs create \\-\\-bundle B \\-\\-pid\\-file B/pid demo; runc\\-rs start demo
runc\\-rs exec demo ps; runc\\-rs kill demo KILL; runc\\-rs delete demo
podman \\-\\-runtime /usr/sbin/runc\\-rs run \\-\\-rm IMAGE true
.EE",
    ),
    (
        "SEE ALSO",
        "\
.BR runc (8),
.BR cgset (1),
.BR unshare\\-rs (1),
.BR chroot\\-rs (8)",
    ),
];

/// The hand-written parts of the man page.
pub const MAN: ctcore::ManExtra = ctcore::ManExtra {
    section: "8",
    description: DESCRIPTION,
    sections: SECTIONS,
};

/// `--version`: runc's lines (go-runc reads `runc version`, `commit:` and `spec:`).
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nspec: 1.0.2-dev\nchain: cgset unshare-rs runc-rs"
);

/// Run OCI containers (runc's command line) with the ctools.
#[derive(Parser, Debug)]
#[command(
    name = "runc-rs",
    version,
    long_version = LONG_VERSION,
    about = "Run OCI containers with the ctools (runc's command line)"
)]
pub struct Cli {
    /// Directory of the containers' state (default /run/runc-rs; for a user other than root,
    /// $XDG_RUNTIME_DIR/runc-rs)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Append errors (and, with --debug, debug lines) to FILE
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Format of the --log lines
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Use systemd for cgroups (refused: runc-rs drives cgroupfs through cgset)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Log debug lines
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for runc compatibility (true, false or auto); rootless is detected
    #[arg(long, value_name = "BOOL")]
    pub rootless: Option<String>,
    /// Accepted for runc compatibility; checkpoint/restore is not supported
    #[arg(long, global = true, value_name = "PATH", hide = true)]
    pub criu: Option<String>,
    #[command(subcommand)]
    pub command: Cmd,
}

/// --log-format's values.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// `time="..." level=error msg="..."`
    Text,
    /// `{"level":"error","msg":"...","time":"..."}`
    Json,
}

/// --format of ps and list.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// A table (ps: the host's ps for the container's pids)
    Table,
    /// JSON
    Json,
}

/// The create-time options that create and run share.
#[derive(clap::Args, Debug, Clone)]
pub struct CreateOpts {
    /// The bundle directory (config.json and the root file system)
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket to which the pty master is sent (SCM_RIGHTS) when process.terminal is true
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Write the container's pid (bare digits) to FILE
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Move the root with MS_MOVE and chroot instead of pivot_root
    #[arg(long)]
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass descriptors 3 to 3+N-1 to the container
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
}

/// runc's commands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create a container, blocked before its program until start
    Create {
        #[command(flatten)]
        opts: CreateOpts,
        /// Container id
        id: String,
    },
    /// Run the program of a created container
    Start {
        /// Container id
        id: String,
    },
    /// Create and start a container, and wait for it unless detached
    Run {
        #[command(flatten)]
        opts: CreateOpts,
        /// Do not wait: leave the container running
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's state after it ends
        #[arg(long)]
        keep: bool,
        /// Container id
        id: String,
    },
    /// Print the state of a container as JSON
    State {
        /// Container id
        id: String,
    },
    /// Send a signal (default SIGTERM) to the container's init
    Kill {
        /// Signal every process of the container's cgroup
        #[arg(short, long)]
        all: bool,
        /// Container id
        id: String,
        /// Signal: a number, or a name with or without SIG
        signal: Option<String>,
    },
    /// Delete a stopped container (any container when forced)
    Delete {
        /// Kill a running container first; a missing one is no error
        #[arg(short, long)]
        force: bool,
        /// Container id
        id: String,
    },
    /// Run a new process in a running container
    Exec {
        /// A runtime-spec process object (JSON) describing the process
        #[arg(short, long, value_name = "FILE")]
        process: Option<PathBuf>,
        /// Do not wait for the process
        #[arg(short, long)]
        detach: bool,
        /// Allocate a pseudo-terminal
        #[arg(short, long)]
        tty: bool,
        /// Write the process's pid to FILE
        #[arg(long, value_name = "FILE")]
        pid_file: Option<PathBuf>,
        /// Unix socket to which the pty master is sent
        #[arg(long, value_name = "PATH")]
        console_socket: Option<PathBuf>,
        /// Pass descriptors 3 to 3+N-1 to the process
        #[arg(long, value_name = "N", default_value_t = 0)]
        preserve_fds: u32,
        /// Working directory in the container
        #[arg(long, value_name = "DIR")]
        cwd: Option<String>,
        /// Set an environment variable (repeatable)
        #[arg(short, long, value_name = "NAME=VALUE")]
        env: Vec<String>,
        /// UID[:GID] to run as
        #[arg(short, long, value_name = "UID[:GID]")]
        user: Option<String>,
        /// Additional gids (repeatable)
        #[arg(short = 'g', long, value_name = "GID")]
        additional_gids: Vec<u32>,
        /// Add a capability to the process's sets (repeatable)
        #[arg(short, long, value_name = "CAP")]
        cap: Vec<String>,
        /// Set no_new_privs
        #[arg(long)]
        no_new_privs: bool,
        /// Container id
        id: String,
        /// The program and its arguments (without --process)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// List the pids of the container's processes
    Ps {
        /// Output format
        #[arg(short, long, value_enum, default_value = "table")]
        format: Format,
        /// Container id
        id: String,
        /// Options for ps(1) (table format)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// List the containers under --root
    List {
        /// Output format
        #[arg(short, long, value_enum, default_value = "table")]
        format: Format,
        /// Print only the ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Freeze every process of the container
    Pause {
        /// Container id
        id: String,
    },
    /// Thaw a paused container
    Resume {
        /// Container id
        id: String,
    },
    /// Change the resources of a running container
    Update {
        /// A LinuxResources JSON object (FILE, or - for stdin)
        #[arg(short, long, value_name = "FILE")]
        resources: Option<PathBuf>,
        /// Memory limit in bytes
        #[arg(long, value_name = "BYTES")]
        memory: Option<String>,
        /// Pids limit
        #[arg(long, value_name = "N")]
        pids_limit: Option<i64>,
        /// CPU quota in microseconds
        #[arg(long, value_name = "US")]
        cpu_quota: Option<i64>,
        /// CPU period in microseconds
        #[arg(long, value_name = "US")]
        cpu_period: Option<u64>,
        /// CPU shares
        #[arg(long, value_name = "N")]
        cpu_share: Option<u64>,
        /// Container id
        id: String,
    },
    /// Print the features runc-rs supports, as JSON
    Features,
    /// Write a default config.json in the bundle
    Spec {
        /// The bundle directory
        #[arg(short, long, value_name = "DIR", default_value = ".")]
        bundle: PathBuf,
        /// A config for a rootless container (user namespace, mapped to the caller)
        #[arg(long = "rootless", id = "spec_rootless", num_args = 0..=1, default_missing_value = "true")]
        rootless: Option<String>,
    },
    /// Internal: the container's init (started by create through the chain)
    #[command(hide = true)]
    Init(crate::create::InitArgs),
}

/// The clap command, for the man page and completions.
#[must_use]
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// The hot commands' command lines without clap (a start runs runc-rs
/// several times; clap's parse is a good part of a short command's time):
/// `create`, `run`, `start`, `state`, `kill` and `delete` with their options
/// and the global ones, long options with `=VALUE` or a separate value, in
/// any order around the id, as clap takes them.  Anything else (help,
/// grouped short flags, `--`, a value that looks like an option, an unknown
/// or repeated option, a missing or extra operand, another command) is
/// `None`: clap parses it, and says what is wrong.
#[must_use]
pub fn fast_parse(args: &[std::ffi::OsString]) -> Option<Cli> {
    #[derive(Default)]
    struct Seen {
        root: Option<PathBuf>,
        log: Option<PathBuf>,
        log_format: Option<LogFormat>,
        systemd_cgroup: bool,
        debug: bool,
        bundle: Option<PathBuf>,
        console_socket: Option<PathBuf>,
        pid_file: Option<PathBuf>,
        no_pivot: bool,
        no_new_keyring: bool,
        preserve_fds: Option<u32>,
        detach: bool,
        keep: bool,
        force: bool,
        all: bool,
        pos: Vec<String>,
    }
    fn once<T>(slot: &mut Option<T>, v: T) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(v);
        Some(())
    }
    fn flag(b: &mut bool) -> Option<()> {
        if *b {
            return None;
        }
        *b = true;
        Some(())
    }
    let mut s = Seen::default();
    let mut cmd: Option<&str> = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_str()?;
        if !a.starts_with('-') || a == "-" {
            if cmd.is_none() {
                cmd = Some(a);
            } else {
                s.pos.push(a.to_string());
            }
            continue;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (a, None),
        };
        let mut value = || -> Option<String> {
            match inline {
                Some(v) => (!v.is_empty()).then(|| v.to_string()),
                None => {
                    let v = it.next()?.to_str()?;
                    (!v.starts_with('-') && !v.is_empty()).then(|| v.to_string())
                }
            }
        };
        let c = cmd.unwrap_or("");
        let creating = c == "create" || c == "run";
        match name {
            "--root" => once(&mut s.root, PathBuf::from(value()?))?,
            "--log" => once(&mut s.log, PathBuf::from(value()?))?,
            "--log-format" => once(
                &mut s.log_format,
                match value()?.as_str() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return None,
                },
            )?,
            "--systemd-cgroup" if inline.is_none() => flag(&mut s.systemd_cgroup)?,
            "--debug" if inline.is_none() => flag(&mut s.debug)?,
            "-b" | "--bundle" if creating => once(&mut s.bundle, PathBuf::from(value()?))?,
            "--console-socket" if creating => {
                once(&mut s.console_socket, PathBuf::from(value()?))?;
            }
            "--pid-file" if creating => once(&mut s.pid_file, PathBuf::from(value()?))?,
            "--preserve-fds" if creating => once(&mut s.preserve_fds, value()?.parse().ok()?)?,
            "--no-pivot" if creating && inline.is_none() => flag(&mut s.no_pivot)?,
            "--no-new-keyring" if creating && inline.is_none() => flag(&mut s.no_new_keyring)?,
            "-d" | "--detach" if c == "run" && inline.is_none() => flag(&mut s.detach)?,
            "--keep" if c == "run" && inline.is_none() => flag(&mut s.keep)?,
            "-f" | "--force" if c == "delete" && inline.is_none() => flag(&mut s.force)?,
            "-a" | "--all" if c == "kill" && inline.is_none() => flag(&mut s.all)?,
            _ => return None,
        }
    }
    let opts = || CreateOpts {
        bundle: s.bundle.clone().unwrap_or_else(|| PathBuf::from(".")),
        console_socket: s.console_socket.clone(),
        pid_file: s.pid_file.clone(),
        no_pivot: s.no_pivot,
        no_new_keyring: s.no_new_keyring,
        preserve_fds: s.preserve_fds.unwrap_or(0),
    };
    let mut pos = s.pos.clone().into_iter();
    let id = pos.next()?;
    let extra = pos.next();
    let command = match (cmd?, extra) {
        ("create", None) => Cmd::Create { opts: opts(), id },
        ("run", None) => Cmd::Run {
            opts: opts(),
            detach: s.detach,
            keep: s.keep,
            id,
        },
        ("start", None) => Cmd::Start { id },
        ("state", None) => Cmd::State { id },
        ("delete", None) => Cmd::Delete { force: s.force, id },
        ("kill", signal) if pos.next().is_none() => Cmd::Kill {
            all: s.all,
            id,
            signal,
        },
        _ => return None,
    };
    Some(Cli {
        root: s.root,
        log: s.log,
        log_format: s.log_format.unwrap_or(LogFormat::Text),
        systemd_cgroup: s.systemd_cgroup,
        debug: s.debug,
        rootless: None,
        criu: None,
        command,
    })
}

#[cfg(test)]
mod fast_tests {
    use super::*;

    /// The fast parse is clap's parse wherever it answers, and leaves the
    /// rest to clap.
    #[test]
    fn fast_parse_agrees_with_clap() {
        let agree = [
            "run x",
            "--root /r run --bundle /b x",
            "--root=/r --log /l --log-format json run -b /b -d --keep --pid-file p x",
            "run x --bundle=/b --no-pivot --no-new-keyring --preserve-fds 2 --console-socket s",
            "--root /r create --bundle /b --pid-file /p x",
            "create x --root /r",
            "--systemd-cgroup --debug start x",
            "state x",
            "--root /r delete --force x",
            "delete -f x",
            "kill x",
            "kill x KILL",
            "kill --all x 9",
        ];
        for line in agree {
            let args: Vec<std::ffi::OsString> = std::iter::once("runc-rs")
                .chain(line.split(' '))
                .map(Into::into)
                .collect();
            let clap = Cli::try_parse_from(&args).ok();
            let fast = fast_parse(&args);
            assert!(fast.is_some(), "{line}: the fast parse answers");
            assert_eq!(
                format!("{fast:?}"),
                format!("{clap:?}"),
                "{line}: fast and clap disagree"
            );
        }
        for line in [
            "run",
            "run x y",
            "run -dx x",
            "run --bundle x",
            "run --root /a --root /b x",
            "run --help",
            "--rootless true run x",
            "run --preserve-fds z x",
            "state -f x",
            "kill x 9 extra",
            "exec x ls",
            "list",
            "run --log-format xml x",
            "run --root= x",
        ] {
            let args: Vec<std::ffi::OsString> = std::iter::once("runc-rs")
                .chain(line.split(' '))
                .map(Into::into)
                .collect();
            assert!(fast_parse(&args).is_none(), "{line}: left to clap");
        }
    }
}
