//! The command line of unshare-rs.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

/// Create new namespaces (util-linux unshare) or join existing ones
/// (nsenter, with --target), then run PROGRAM.
#[derive(Parser, Debug, Default)]
#[command(
    name = "unshare-rs",
    version,
    about = "Run a program in new namespaces, or in the namespaces of another process",
    long_about = None,
)]
#[allow(clippy::struct_excessive_bools)]
pub struct Cli {
    /// New mount namespace; with =FILE, persist it by a bind mount on FILE
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "", help_heading = "Namespaces")]
    pub mount: Option<OsString>,
    /// New UTS namespace (hostname, domain name); =FILE persists it
    #[arg(short = 'u', long = "uts", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "", help_heading = "Namespaces")]
    pub uts: Option<OsString>,
    /// New IPC namespace (System V IPC, POSIX message queues); =FILE persists it
    #[arg(short = 'i', long = "ipc", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "", help_heading = "Namespaces")]
    pub ipc: Option<OsString>,
    /// New network namespace; =FILE persists it
    #[arg(short = 'n', long = "net", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "", help_heading = "Namespaces")]
    pub net: Option<OsString>,
    /// New PID namespace (implies --fork and runs a minimal init); =FILE persists it
    #[arg(short = 'p', long = "pid", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "", help_heading = "Namespaces")]
    pub pid: Option<OsString>,
    /// New user namespace; =FILE persists it
    #[arg(short = 'U', long = "user", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "", help_heading = "Namespaces")]
    pub user: Option<OsString>,
    /// New cgroup namespace; =FILE persists it
    #[arg(short = 'C', long = "cgroup", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "", help_heading = "Namespaces")]
    pub cgroup: Option<OsString>,
    /// New time namespace; =FILE persists it
    #[arg(short = 'T', long = "time", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "", help_heading = "Namespaces")]
    pub time: Option<OsString>,

    /// Fork and run PROGRAM as a child, waiting for it and exiting with its status
    #[arg(short = 'f', long)]
    pub fork: bool,
    /// Same as --fork (signals are always forwarded to the child)
    #[arg(long)]
    pub forward_signals: bool,
    /// With a new PID namespace, run PROGRAM itself as pid 1, without the built-in init
    #[arg(long)]
    pub no_init: bool,
    /// Mount a new proc file system on DIR (default /proc); implies --mount
    #[arg(long, value_name = "DIR", num_args = 0..=1, require_equals = true,
          default_missing_value = "/proc")]
    pub mount_proc: Option<PathBuf>,
    /// Mount propagation of / in the new mount namespace
    #[arg(long, value_name = "MODE", value_parser = ["private", "shared", "slave", "unchanged"],
          default_value = "private")]
    pub propagation: String,
    /// In the new mount namespace, bind PATH (a file or a directory) on itself read-only,
    /// nosuid and nodev, before PROGRAM runs (repeatable); implies --mount.  A runtime run
    /// from such a PATH cannot be written through its /proc/PID/exe from inside a container
    /// (runc-rs's init then needs no second exec of its own, see runc-rs(8))
    #[arg(long = "ro-bind", value_name = "PATH")]
    pub ro_bind: Vec<PathBuf>,
    /// Map the current user and group to root (0) in a new user namespace; implies --user.
    /// With --target: enter the target's root directory
    #[arg(short = 'r', long = "map-root-user")]
    pub map_root_user: bool,
    /// Map the current user and group to themselves in a new user namespace; implies --user
    #[arg(short = 'c', long = "map-current-user")]
    pub map_current_user: bool,
    /// Map the current effective user to UID (number or name) in the new user namespace
    #[arg(long, value_name = "UID|NAME")]
    pub map_user: Option<String>,
    /// Map the current effective group to GID (number or name); implies --setgroups=deny
    #[arg(long, value_name = "GID|NAME")]
    pub map_group: Option<String>,
    /// Map a range of user IDs: INNER:OUTER:COUNT (or the old OUTER,INNER,COUNT), auto, subids or all
    #[arg(long, value_name = "MAP", action = clap::ArgAction::Append)]
    pub map_users: Vec<String>,
    /// Map a range of group IDs: INNER:OUTER:COUNT (or the old OUTER,INNER,COUNT), auto, subids or all
    #[arg(long, value_name = "MAP", action = clap::ArgAction::Append)]
    pub map_groups: Vec<String>,
    /// Same as --map-users=auto --map-groups=auto (ranges from /etc/subuid and /etc/subgid)
    #[arg(long)]
    pub map_auto: bool,
    /// Same as --map-users=subids --map-groups=subids
    #[arg(long)]
    pub map_subids: bool,
    /// Allow or deny setgroups(2) in the new user namespace
    #[arg(long, value_name = "allow|deny", value_parser = ["allow", "deny"])]
    pub setgroups: Option<String>,
    /// Make the new user namespace for UID:GID (numbers or names): become them before
    /// unsharing, so that they own it (needs root; multi-range maps are still written with
    /// root's privilege), as util-linux unshare --owner
    #[arg(long, value_name = "UID:GID")]
    pub owner: Option<String>,
    /// Kill the child with SIG (default KILL) when unshare-rs dies; implies --fork
    #[arg(long, value_name = "SIG", num_args = 0..=1, require_equals = true,
          default_missing_value = "KILL")]
    pub kill_child: Option<String>,
    /// Change the root directory to DIR (chroot) before running PROGRAM.
    /// With --target: enter DIR, opened before joining
    #[arg(short = 'R', long = "root", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Change the working directory to DIR. With --target and no DIR (-w -- or --wd=): the target's
    #[arg(short = 'w', long = "wd", value_name = "DIR", num_args = 0..=1,
          default_missing_value = "")]
    pub wd: Option<OsString>,
    /// Set the user ID (numeric) of PROGRAM
    #[arg(short = 'S', long = "setuid", value_name = "UID")]
    pub setuid: Option<String>,
    /// Set the group ID (numeric) of PROGRAM, and drop supplementary groups
    #[arg(short = 'G', long = "setgid", value_name = "GID")]
    pub setgid: Option<String>,
    /// Keep the capabilities in a new user namespace across exec (ambient set)
    #[arg(long)]
    pub keep_caps: bool,
    /// With --target: run PROGRAM on a new pseudo-terminal of the joined root (its /dev/ptmx),
    /// relayed to this terminal, as docker exec -t
    #[arg(long)]
    pub tty: bool,
    /// Without --target, with --fork: listen on the unix socket PATH (made before forking, mode
    /// 0600, removed at exit), receive the master of a pseudo-terminal on it (runc's
    /// --console-socket protocol: chroot-rs --console-socket sends it) and relay it to this
    /// terminal, outside the new namespaces, as docker run -t (PROGRAM stays pid 1)
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub console_relay: Option<PathBuf>,
    /// Set no_new_privs: PROGRAM and its children gain no privilege through exec (setuid bits,
    /// file capabilities), as setpriv --no-new-privs
    #[arg(long)]
    pub no_new_privs: bool,
    /// Drop CAP from PROGRAM's bounding set (CAP_X, x or ALL; repeatable; --cap-add applies after)
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Keep CAP in PROGRAM's bounding set after --cap-drop (CAP_X, x or ALL; repeatable)
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Offset of CLOCK_MONOTONIC in the new time namespace, in seconds
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub monotonic: Option<i64>,
    /// Offset of CLOCK_BOOTTIME in the new time namespace, in seconds
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub boottime: Option<i64>,
    /// Set the host name in the new UTS namespace; implies --uts
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Set the NIS domain name in the new UTS namespace; implies --uts
    #[arg(long, value_name = "NAME")]
    pub domainname: Option<String>,
    /// Bring the loopback interface up in the new network namespace; implies --net
    #[arg(long)]
    pub loopback: bool,
    /// Write JSON status lines on descriptor FD: the child pid and namespace inodes, then the exit status
    #[arg(long, value_name = "FD")]
    pub json_status: Option<i32>,
    /// Keep descriptors 3 to 2+N open for PROGRAM and close every other one above 2 at the
    /// start (runc's --preserve-fds; a container runtime gives 0)
    #[arg(long, value_name = "N")]
    pub preserve_fds: Option<u32>,
    /// Join a new anonymous session keyring before running PROGRAM, so that it neither reads
    /// nor adds keys of the caller's session (runc's default)
    #[arg(long)]
    pub new_keyring: bool,
    /// Start PROGRAM with an empty environment
    #[arg(long)]
    pub clear_env: bool,
    /// Start PROGRAM with only the variables NAME,... of this environment (repeatable)
    #[arg(long, value_name = "NAME,...", action = clap::ArgAction::Append)]
    pub whitelist_env: Vec<String>,

    /// Join the namespaces of process PID instead of creating new ones (nsenter)
    #[arg(short = 't', long, value_name = "PID", help_heading = "Join mode")]
    pub target: Option<i32>,
    /// Join mode: every namespace of the target
    #[arg(short = 'a', long, help_heading = "Join mode")]
    pub all: bool,
    /// Join mode without --target: the namespace options name namespace files to enter
    #[arg(long, help_heading = "Join mode")]
    pub join: bool,
    /// Join mode: keep uid, gid and groups when entering a user namespace
    #[arg(long, help_heading = "Join mode")]
    pub preserve_credentials: bool,
    /// Join mode: do not fork when entering a PID namespace
    #[arg(short = 'F', long, help_heading = "Join mode")]
    pub no_fork: bool,
    /// Join mode: run PROGRAM with the target's environment (its /proc/PID/environ, read
    /// before joining) instead of this one
    #[arg(short = 'e', long = "env", help_heading = "Join mode")]
    pub env: bool,
    /// Join mode: move into the target's cgroup first (cgroup v2, as nsenter --join-cgroup)
    #[arg(long, help_heading = "Join mode")]
    pub join_cgroup: bool,
    /// Join mode: enter the network namespace of the socket on descriptor FD of the target
    /// (pidfd_getfd and SIOCGSKNS; needs --target)
    #[arg(short = 'N', long, value_name = "FD", help_heading = "Join mode")]
    pub net_socket: Option<i32>,
    /// Join mode: enter the parent of the user namespace that --user selects (or of the
    /// target's)
    #[arg(long, help_heading = "Join mode")]
    pub user_parent: bool,
    /// Join mode: run PROGRAM as USER and GROUP (names or numbers), looked up in the joined
    /// root's /etc/passwd and /etc/group after entering it, with USER's supplementary groups
    /// and, when the environment has none, its HOME (docker exec -u)
    #[arg(long, value_name = "USER[:GROUP]", help_heading = "Join mode",
          conflicts_with_all = ["setuid", "setgid"])]
    pub userspec: Option<String>,
    /// Join mode: install a seccomp filter as the last step before PROGRAM: `default` (Docker's
    /// default profile), `unconfined` (none), or an OCI/Docker JSON profile FILE
    #[arg(
        long,
        value_name = "default|unconfined|FILE",
        help_heading = "Join mode"
    )]
    pub seccomp: Option<OsString>,
    /// Join mode: change to DIR once inside the joined namespaces and root (a path there;
    /// excludes --wd)
    #[arg(
        short = 'W',
        long = "wdns",
        value_name = "DIR",
        help_heading = "Join mode"
    )]
    pub wdns: Option<PathBuf>,

    /// Program to execute once the job is done, with its arguments (default: $SHELL)
    #[arg(value_name = "PROGRAM", trailing_var_arg = true, value_hint = clap::ValueHint::CommandName)]
    pub program: Vec<OsString>,
}

/// The clap definition, for man pages and completions.
#[must_use]
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// The hand-written parts of the man page.
pub const MAN: ctcore::ManExtra = ctcore::ManExtra {
    section: "1",
    description: DESCRIPTION,
    sections: &[
        ("JOIN MODE", JOIN),
        ("INIT", INIT),
        ("JSON STATUS", JSON),
        ("EXIT STATUS", EXIT),
        ("DIAGNOSTICS", DIAG),
        ("EXAMPLES", EXAMPLES),
        ("NOTES", NOTES),
        ("SEE ALSO", SEE_ALSO),
    ],
};

const DESCRIPTION: &str = "\
.B unshare\\-rs
creates the namespaces named by its options with
.BR unshare (2),
sets them up, and runs PROGRAM in them.
It accepts the options of util\\-linux
.BR unshare (1).
Without PROGRAM it runs
.B $SHELL
(else the user's login shell, else
.BR /bin/sh )
as a login shell.
.PP
Each namespace option takes an optional
.BI = FILE
that makes the namespace persistent: its
.I /proc/PID/ns
file is bind mounted on FILE (created when missing), so that it outlives
PROGRAM and can be entered later with
.BR \"unshare\\-rs \\-\\-join \\-\\-net=\" FILE .
.PP
With a new mount namespace the propagation of
.B /
is made private first (see
.BR \\-\\-propagation ),
so mounts made inside never reach the host.
.B \\-\\-mount\\-proc
mounts a proc file system after the root and working directory changes.
.PP
A new PID namespace always forks: the child is pid 1 of the namespace and
runs the built\\-in init (see INIT).
";

const JOIN: &str = "\
With
.BI \\-\\-target \" PID\",
.BR \\-\\-join ,
or when called as
.BR nsenter ,
unshare\\-rs enters existing namespaces instead, as
.BR nsenter (1)
does: the namespace options select the target's namespaces (or, with
.BI = FILE ,
a namespace file), and
.B \\-\\-all
selects every namespace of the target that differs from the caller's.
Namespaces other than the user namespace are entered first with errors
ignored, then the rest, user namespace included, with errors reported; so a
privileged caller enters the user namespace last and an unprivileged one
first.
On entering a user namespace the uid and gid become 0 and supplementary
groups are dropped, unless
.B \\-\\-preserve\\-credentials
is given.
.B \\-r
enters the target's root directory and
.B \\-w
with no DIR its working directory; both are opened before any namespace is
entered.
.BI \\-W \" DIR\"
is a directory as the joined process sees it, entered last, and
.B \\-e
gives PROGRAM the target's environment (read from
.IR /proc/PID/environ )
in place of the caller's; PROGRAM is looked up in that PATH.
Entering a PID namespace forks, unless
.BR \\-\\-no\\-fork .
.BI \\-\\-net\\-socket \" FD\"
enters the network namespace of the socket on descriptor FD of the target
(taken with
.BR pidfd_getfd (2),
then the
.B SIOCGSKNS
ioctl), and
.B \\-\\-user\\-parent
the parent of the user namespace selected.
.PP
Join mode is how a container runtime starts a process in a running
container (\\fBcontain exec\\fR), so it takes these steps, in this order:
.IP 1. 4
Before anything else, unshare\\-rs executes itself again from a detached
read\\-only clone of its binary's mount (open_tree(2), MOUNT_ATTR_RDONLY),
or, where that is refused, from a sealed memfd copy of its binary, as runc
does against CVE\\-2019\\-5736: its
.I /proc/PID/exe
inside the container (and that of anything started through a
.B #!/proc/self/exe
script there) names no host path and refuses every write, and nothing can
make it writable again.
.IP 2. 4
.BI \\-\\-preserve\\-fds \" N\"
closes every descriptor above 2+N (only the
.B \\-\\-json\\-status
descriptor stays, close\\-on\\-exec), before any directory is entered, so
that neither PROGRAM nor
.B \\-W /proc/self/fd/N
reaches a descriptor of the caller's.
Every descriptor unshare\\-rs opens itself is close\\-on\\-exec.
.IP 3. 4
A seccomp profile FILE
.RB ( \\-\\-seccomp )
is read and compiled, on the caller's file system; then the namespaces,
root and working directories are entered as above.
.IP 4. 4
.BI \\-\\-userspec \" USER\"[: GROUP ]
is looked up in
.I /etc/passwd
and
.I /etc/group
of the joined root, opened from inside it, so that a symbolic link the
container planted resolves inside the container.
The rules are runc's (docker exec \\-u): a name or uid, its login group
unless GROUP is given, the groups that list the user as a member when it is
not, an unknown number taken as it is (group 0), and HOME set to the user's
home directory when the environment has none.
An unknown name fails with docker's message
\\fBunable to find user NAME: no matching entries in passwd file\\fR.
.IP 5. 4
.B \\-\\-new\\-keyring
joins a new anonymous session keyring; the bounding set
.RB ( \\-\\-cap\\-drop ,
.BR \\-\\-cap\\-add )
and no_new_privs are set; the credentials change.
.IP 6. 4
The seccomp filter is installed last, right before PROGRAM starts; without
.B \\-\\-no\\-new\\-privs
it must go in while CAP_SYS_ADMIN is still held, so it is installed just
before the credentials change (as runc does), and the profile must allow
setgroups, setgid, setuid and execve.
.PP
A container runtime thus runs
.PP
.EX
unshare\\-rs \\-\\-target PID \\-\\-all \\-\\-preserve\\-fds 0 \\-\\-new\\-keyring \\\\
  \\-\\-userspec app \\-\\-cap\\-drop ALL \\-\\-seccomp default \\-\\- PROGRAM
.EE
";

const INIT: &str = "\
When it forks into a new PID namespace, the child of unshare\\-rs is pid 1
there and stays as a minimal init: it forks PROGRAM, reaps every process
that is reparented to it, and forwards SIGHUP, SIGINT, SIGQUIT, SIGTERM,
SIGUSR1, SIGUSR2 and SIGWINCH sent to it (or to unshare\\-rs outside) to
PROGRAM.
Signals that the terminal sends to the whole foreground process group are
not forwarded a second time.
When PROGRAM ends, init ends with the same status, and the kernel kills the
rest of the namespace.
.B \\-\\-no\\-init
runs PROGRAM itself as pid 1, as util\\-linux does.
";

const JSON: &str = "\
With
.BI \\-\\-json\\-status \" FD\",
one JSON object a line is written on FD: first
.B child\\-pid
and the inode number of each namespace of the child
.RB ( cgroup\\-namespace ,
.BR ipc\\-namespace ,
.BR mnt\\-namespace ,
.BR net\\-namespace ,
.BR pid\\-namespace ,
.BR time\\-namespace ,
.BR user\\-namespace ,
.BR uts\\-namespace ),
before PROGRAM starts; then, when the child has ended,
.B exit\\-code
(and
.B signal
when a signal killed it).
The descriptor is not passed to PROGRAM.
";

const EXIT: &str = "\
.TP
.B 125
unshare\\-rs itself failed, including usage errors.
.TP
.B 126
PROGRAM was found but could not be executed.
.TP
.B 127
PROGRAM was not found.
.PP
Otherwise the status of PROGRAM.
When unshare\\-rs forked and PROGRAM was killed by a signal, unshare\\-rs kills
itself with the same signal, so a shell sees 128+N (137 for SIGKILL).
";

const DIAG: &str = "\
Errors are one line naming what failed and, when it is knowable, why: the
sysctl that disables unprivileged user namespaces
.RB ( kernel.unprivileged_userns_clone ,
.BR user.max_user_namespaces ,
.BR kernel.apparmor_restrict_unprivileged_userns ),
a masked
.I /proc
that makes the kernel refuse a new proc mount, a persistence FILE on a
shared mount, a multithreaded caller, or a missing privilege.
Nothing is printed on success.
";

const EXAMPLES: &str = "\
Change the host name in a new UTS namespace only:
.PP
.EX
unshare\\-rs \\-\\-uts sh \\-c 'hostname inside; hostname'
.EE
.PP
A shell that is pid 1 of its own PID namespace and sees only its processes:
.PP
.EX
unshare\\-rs \\-\\-pid \\-\\-mount\\-proc ps ax
.EE
.PP
As an unprivileged user, be root in a new user namespace:
.PP
.EX
unshare\\-rs \\-r id
.EE
.PP
Persist a network namespace, then enter it:
.PP
.EX
touch /run/netns/demo
unshare\\-rs \\-\\-net=/run/netns/demo \\-\\-loopback true
unshare\\-rs \\-\\-join \\-\\-net=/run/netns/demo ip addr
.EE
.PP
Enter every namespace of a container's process, with its root:
.PP
.EX
unshare\\-rs \\-\\-target 4242 \\-\\-all \\-r sh
.EE
";

const NOTES: &str = "\
Differences from util\\-linux: a new PID namespace forks without
.BR \\-\\-fork ;
the forked child forwards signals and, in a PID namespace, is an init;
a FILE that does not exist is created;
.BR \\-\\-hostname ,
.B \\-\\-domainname
and
.B \\-\\-loopback
exist; failures exit 125 rather than 1.
In join mode,
.B \\-r
and
.B \\-w
take the target's root and working directory as nsenter's do, but
.B \\-w
takes a following word as its DIR: write
.B \\-w \\-\\-
before PROGRAM.
Called as
.BR nsenter ,
unshare\\-rs parses its command line exactly as util\\-linux nsenter does
(getopt_long): an optional argument only when attached
.RB ( \\-u/proc/1/ns/uts ,
.BR \\-wDIR ,
.BR \\-\\-wd=DIR ;
in
.B nsenter \\-t 1 \\-w pwd
the word
.B pwd
is PROGRAM), long options abbreviated to any unique prefix, only
nsenter's options, and
.B \\-S follow
and
.B \\-G follow
for the owner of
.IR /proc/PID .
.B \\-\\-clear\\-env
and
.B \\-\\-whitelist\\-env
are util\\-linux's (its development tree): PROGRAM gets an empty
environment, or only the named variables (comma\\-separated, repeatable);
PROGRAM is then looked up in the default PATH.
";

const SEE_ALSO: &str = "\
.BR unshare (1),
.BR nsenter (1),
.BR unshare (2),
.BR setns (2),
.BR namespaces (7),
.BR user_namespaces (7),
.BR pid_namespaces (7),
.BR chroot\\-rs (1),
.BR cgset (1)
";
