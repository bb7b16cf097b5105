//! The command line of chroot-rs, as clap sees it: this definition feeds
//! the man page and the shell completions.  The binary itself parses with
//! [`crate::args`], a getopt_long work-alike, so that abbreviations,
//! messages and exit statuses are coreutils chroot's exactly; a unit test
//! keeps the two in step.

use std::ffi::OsString;

use clap::Parser;

/// Run COMMAND with root directory set to NEWROOT (coreutils chroot
/// compatible), by chroot or pivot_root, optionally setting up /proc,
/// /sys, /dev and /tmp in it.
#[derive(Parser, Debug)]
#[command(
    name = "chroot-rs",
    version,
    about = "Run COMMAND with root directory set to NEWROOT, by chroot or pivot_root",
    override_usage = "chroot-rs [OPTION]... NEWROOT [COMMAND [ARG]...]"
)]
pub struct Cli {
    /// Specify supplementary groups as g1,g2,..,gN (names or numbers; +N forces a number)
    #[arg(long, value_name = "G_LIST")]
    pub groups: Option<String>,
    /// Specify user and group (ID or name) to use; +N forces a number; --user is accepted
    #[arg(long, value_name = "USER:GROUP")]
    pub userspec: Option<String>,
    /// Become USER (and GROUP) as Docker's -u does: looked up in the new root's /etc/passwd
    /// and /etc/group alone, after the root change (no file of the host's is read); without
    /// GROUP, the user's login group and every group that lists the user; a number needs no
    /// entry; --groups adds to the groups. An unknown name fails with Docker's message
    #[arg(long, value_name = "USER[:GROUP]", conflicts_with = "userspec")]
    pub run_as: Option<String>,
    /// Do not change working directory to '/' (only when NEWROOT is the current root)
    #[arg(long)]
    pub skip_chdir: bool,
    /// Change the working directory to DIR of the new root (made if missing, as runc makes a
    /// container's cwd), after the user and group are set
    #[arg(long, value_name = "DIR", conflicts_with = "skip_chdir")]
    pub chdir: Option<String>,
    /// pivot_root into NEWROOT and detach the old root (needs a mount namespace: unshare-rs -m)
    #[arg(long, conflicts_with = "auto")]
    pub pivot: bool,
    /// pivot_root when in a mount namespace of its own, chroot otherwise (as Docker does)
    #[arg(long)]
    pub auto: bool,
    /// Mount a fresh proc on NEWROOT/proc
    #[arg(long)]
    pub proc: bool,
    /// Mount a read-only sysfs on NEWROOT/sys (a read-only bind of /sys where sysfs is refused)
    #[arg(long)]
    pub sys: bool,
    /// Mount a read-only /sys/fs/cgroup in NEWROOT (implies --sys) that shows the caller's own
    /// cgroups and nothing else of the host's, as Docker does: v1, a tmpfs with a read-only bind
    /// of the caller's cgroup in each controller hierarchy (cpu,cpuacct with its cpu and cpuacct
    /// links); v2, a new cgroup namespace (made here, after the caller joined its cgroup) and
    /// cgroup2, read-only
    #[arg(long)]
    pub cgroupfs: bool,
    /// Mount a tmpfs on NEWROOT/dev with null, zero, full, random, urandom, tty, devpts, ptmx, shm and the fd links
    #[arg(long)]
    pub dev: bool,
    /// Mount a tmpfs on NEWROOT/tmp
    #[arg(long)]
    pub tmp: bool,
    /// Bind SRC (a host path) on DEST of the new root (default: the same path), recursively;
    /// missing directories and an empty file for a file are made; repeatable
    #[arg(long, value_name = "SRC[:DEST]")]
    pub bind: Vec<String>,
    /// As --bind, read-only (the whole bound tree)
    #[arg(long, value_name = "SRC[:DEST]")]
    pub ro_bind: Vec<String>,
    /// Make the new root read-only once it is set up
    #[arg(long)]
    pub readonly: bool,
    /// Harden as runc does: mask and write-protect runc's /proc and /sys paths (and /sys/dev/block),
    /// keep only docker's default capabilities, mount /dev noexec, join a new session keyring, close
    /// every descriptor above 2 (but --preserve-fds), keep chroot-rs's own binary out of reach
    /// (with --pivot its mount made read-only and noexec in this namespace before the old root
    /// goes; otherwise a re-exec from a read-only clone of it), and in chroot mode move the new
    /// root onto / (switch_root style) so the chroot escape finds no old root; no_new_privs stays
    /// off, as in Docker
    #[arg(long)]
    pub harden: bool,
    /// Set no_new_privs: COMMAND and its children gain no privilege through exec (setuid bits, file capabilities)
    #[arg(long)]
    pub no_new_privs: bool,
    /// Install a seccomp filter as the last step before exec: default (Docker's default policy),
    /// unconfined (none), or FILE (an OCI/Docker JSON profile), compiled for COMMAND's capabilities
    #[arg(long, value_name = "default|unconfined|FILE")]
    pub seccomp: Option<String>,
    /// Make the node of the host's device HOST at CTR (default: the same path) in the new root,
    /// resolved inside it (a symbolic link cannot lead out), before anything runs there; ACC (rwm) is
    /// for the devices cgroup (cgset); repeatable
    #[arg(long, value_name = "HOST[:CTR[:ACC]]")]
    pub device: Vec<String>,
    /// Bind the host's /dev on NEWROOT/dev instead of the --dev tmpfs (docker run --privileged)
    #[arg(long)]
    pub host_dev: bool,
    /// Fork: COMMAND runs in the child, and chroot-rs stays as its init (reaps every process,
    /// passes TERM, INT, HUP, QUIT, USR1, USR2 and WINCH on, exits as COMMAND did, 128+N for a
    /// signal), named "init", from a read-only clone of its binary, with COMMAND's capabilities
    /// (docker run --init)
    #[arg(long)]
    pub init: bool,
    /// Keep the descriptors 3 to 3+N-1 open for COMMAND and close every other one above 2 (runc's
    /// --preserve-fds)
    #[arg(long, value_name = "N")]
    pub preserve_fds: Option<u32>,
    /// Keep the caller's session keyring (--harden otherwise joins a new one)
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Run COMMAND on a new pseudo-terminal of the new root (from the devpts of --dev), relayed to this terminal
    #[arg(long)]
    pub tty: bool,
    /// Open a pseudo-terminal of the new root (from the devpts of --dev), send its master to the
    /// unix socket PATH (runc's --console-socket: one SCM_RIGHTS descriptor) before the change of
    /// root, and run COMMAND on it as a session leader: nothing of chroot-rs stays behind
    #[arg(long, value_name = "PATH", conflicts_with = "tty", value_hint = clap::ValueHint::FilePath)]
    pub console_socket: Option<OsString>,
    /// Keep CAP in the bounding set (CAP_X, x or ALL; repeatable)
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop CAP from the bounding set (CAP_X, x or ALL; repeatable)
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Say on stderr what was mounted and which method changed the root
    #[arg(long)]
    pub verbose: bool,
    /// The new root directory
    #[arg(value_name = "NEWROOT", value_hint = clap::ValueHint::DirPath)]
    pub newroot: OsString,
    /// Command to run in the new root, with its arguments (default: "$SHELL" -i)
    #[arg(value_name = "COMMAND", trailing_var_arg = true, value_hint = clap::ValueHint::CommandName)]
    pub command: Vec<OsString>,
}

impl Cli {
    /// The equivalent raw command line, program name first.
    #[must_use]
    pub fn to_argv(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec!["chroot-rs".into()];
        if let Some(g) = &self.groups {
            v.push(format!("--groups={g}").into());
        }
        if let Some(u) = &self.userspec {
            v.push(format!("--userspec={u}").into());
        }
        if let Some(u) = &self.run_as {
            v.push(format!("--run-as={u}").into());
        }
        if let Some(d) = &self.chdir {
            v.push(format!("--chdir={d}").into());
        }
        if let Some(p) = &self.console_socket {
            let mut a = OsString::from("--console-socket=");
            a.push(p);
            v.push(a);
        }
        for (on, name) in [
            (self.skip_chdir, "--skip-chdir"),
            (self.pivot, "--pivot"),
            (self.auto, "--auto"),
            (self.proc, "--proc"),
            (self.sys, "--sys"),
            (self.cgroupfs, "--cgroupfs"),
            (self.dev, "--dev"),
            (self.tmp, "--tmp"),
            (self.readonly, "--readonly"),
            (self.harden, "--harden"),
            (self.no_new_privs, "--no-new-privs"),
            (self.tty, "--tty"),
            (self.verbose, "--verbose"),
            (self.host_dev, "--host-dev"),
            (self.init, "--init"),
            (self.no_new_keyring, "--no-new-keyring"),
        ] {
            if on {
                v.push(name.into());
            }
        }
        for b in &self.bind {
            v.push(format!("--bind={b}").into());
        }
        for b in &self.ro_bind {
            v.push(format!("--ro-bind={b}").into());
        }
        for c in &self.cap_add {
            v.push(format!("--cap-add={c}").into());
        }
        for c in &self.cap_drop {
            v.push(format!("--cap-drop={c}").into());
        }
        if let Some(p) = &self.seccomp {
            v.push(format!("--seccomp={p}").into());
        }
        for d in &self.device {
            v.push(format!("--device={d}").into());
        }
        if let Some(n) = self.preserve_fds {
            v.push(format!("--preserve-fds={n}").into());
        }
        v.push("--".into());
        v.push(self.newroot.clone());
        v.extend(self.command.iter().cloned());
        v
    }
}

/// The clap definition, for man pages and completions.
#[must_use]
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

const DESCRIPTION: &str = r#".B chroot\-rs
runs
.I COMMAND
with its root directory set to
.IR NEWROOT .
Without options it is a drop\-in for GNU coreutils
.BR chroot (8):
the same grammar (long options only, unique abbreviations such as
.B \-\-user
for
.BR \-\-userspec ,
option parsing stops at
.IR NEWROOT ),
the same user and group semantics (names are looked up before the root
changes and again after it, and the inside answers win; a leading
.B +
forces a number), the same messages and the same exit statuses.
With no
.IR COMMAND ,
it runs
.RB \(dq $SHELL \(dq
.B \-i
(default
.BR "/bin/sh \-i" ).
.PP
A plain
.BR chroot (2)
changes only the path lookups of one process: a root process can walk out
of it (chroot into a subdirectory, then follow
.B ..
above it).
.B \-\-pivot
does what container runtimes do instead: inside a mount namespace of its
own it makes every mount a slave, binds
.I NEWROOT
onto itself, calls
\fBpivot_root(".", ".")\fR
and detaches the old root, so that no path leads back to the host's root.
Where pivot_root is impossible because the current root cannot be pivoted
away from (the initramfs rootfs, or a root that is itself a plain chroot),
it moves the new root onto
.B /
and chroots into it, as
.BR switch_root (8)
does.
.B \-\-auto
uses pivot_root when the process has a mount namespace of its own and
chroot otherwise, as the Docker document describes.
.PP
The set\-up options mount inside
.I NEWROOT
before the root changes, so the mounts come along:
.B \-\-proc
(a fresh proc, meaningful in a new pid namespace),
.B \-\-sys
(a read\-only sysfs, or a read\-only bind of /sys where the kernel refuses
sysfs, as in a user namespace without its own network namespace),
.B \-\-cgroupfs
(implies
.BR \-\-sys ;
a read\-only /sys/fs/cgroup that shows the caller's own cgroups and nothing
else of the host's, as Docker's: with cgroup v1 a read\-only tmpfs holding a
read\-only bind of the caller's cgroup directory in each controller
hierarchy, named as the kernel lists its controllers, with a link per
controller where a hierarchy has several (\fBcpu \-> cpu,cpuacct\fR);
hierarchies where the caller sits in the root cgroup and named ones such as
name=systemd are left out; with cgroup v2 a new cgroup namespace, made here
because the caller must have joined its cgroup first, and a read\-only
cgroup2 whose root is that cgroup; an empty read\-only tmpfs when the caller
has no cgroup of its own),
.B \-\-dev
(a tmpfs with the nodes null, zero, full, random, urandom and tty made by
mknod, or bound from the host where mknod is not allowed, devpts with its
own ptmx, /dev/ptmx, a tmpfs /dev/shm and the fd, stdin, stdout and stderr
links),
.B \-\-tmp
(a tmpfs /tmp),
.B \-\-bind
and
.B \-\-ro\-bind
(host paths bound in, in the order given, as bwrap's options of those names; the way
to DEST is made without following a symbolic link) and
.B \-\-readonly
(the new root remounted read\-only at the end; the binds keep their own mode).
.B \-\-harden
applies runc's default masked paths (/proc/kcore, /proc/keys,
/proc/timer_list, /proc/acpi, /sys/firmware, ... covered by /dev/null or an
empty read\-only tmpfs, and /sys/dev/block) and read\-only paths (/proc/sys,
/proc/sysrq\-trigger, /proc/irq, /proc/bus, /proc/fs), and keeps only docker's
default capabilities in the bounding set (and in the inheritable set;
the ambient set is cleared), so a root COMMAND starts with those alone.
It also mounts the
.B \-\-dev
tmpfs noexec, joins a new anonymous session keyring
(keyctl(KEYCTL_JOIN_SESSION_KEYRING); not with
.BR \-\-no\-new\-keyring ),
closes every descriptor above 2 that the caller left open (but the
.B \-\-preserve\-fds
ones), and keeps chroot\-rs's own binary out of the container's reach
(CVE\-2019\-5736, see PROTECTING THE BINARY).  Without
.B \-\-pivot
(chroot mode), in a mount namespace of its own, it moves the new root onto
.B /
and chroots into it, as switch_root does, so that the classic escape finds
the new root above itself and no old one.  It leaves no_new_privs off, as
Docker does (setuid programs of the image keep working);
.B \-\-no\-new\-privs
sets it, alone or with
.BR \-\-harden .
.PP
.B \-\-seccomp
installs a seccomp filter: \fBdefault\fR is Docker's default policy (an
allow list; everything else fails with EPERM: keyctl, add_key, bpf,
kexec_load, open_by_handle_at, perf_event_open, userfaultfd, io_uring,
mount, unshare and clone with namespace flags, ...; calls gated by a
capability are allowed when COMMAND keeps it), \fBunconfined\fR none, and a
FILE an OCI runtime\-spec or Docker JSON profile (defaultAction, syscalls
with names, action, errnoRet, args and Docker's includes/excludes by
capability, architecture and kernel version).  The profile is compiled for
the capabilities COMMAND will have, for the native architecture (calls
through another ABI, such as i386's on x86_64, kill the process).  Without
no_new_privs the kernel wants CAP_SYS_ADMIN for a filter, so it is installed
while chroot\-rs is still privileged, before the user and groups change
(the profile must allow setgroups, setgid, setuid, chdir and execve, as
Docker's does); with
.B \-\-no\-new\-privs
it is the last step before exec.
.PP
.B \-\-device
makes the node of a host device in the new root before anything runs
there, with the host node's mode and owner: the way to CTR is resolved
inside the new root (openat2 with RESOLVE_IN_ROOT), so a symbolic link
planted in the image cannot lead out of it, and missing directories are
made.
.B \-\-host\-dev
binds the host's /dev instead (docker's
.BR \-\-privileged ).
.B \-\-init
forks once everything else is done: COMMAND runs in the child, and
chroot\-rs stays as its init (pid 1 in a new pid namespace), as docker's
.B \-\-init
adds tini: it reaps every process that ends, passes SIGTERM, SIGINT, SIGHUP,
SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH on to COMMAND, and exits with
COMMAND's status (128+N when signal N killed it).  It runs from a
read\-only clone of its binary, its command line reads \fBinit\fR, and it
keeps only COMMAND's
capabilities, seccomp filter and credentials.
.B \-\-preserve\-fds=N
keeps descriptors 3 to 3+N\-1 and closes every other one above 2, with or
without
.BR \-\-harden .
.B \-\-tty
runs COMMAND as a session leader on a new pseudo\-terminal opened in the
new root (the devpts instance of
.BR \-\-dev ),
as docker's
.B \-t
does: chroot\-rs stays as the relay to its own standard input and output
(raw mode while it runs), passes window size changes and SIGTERM, SIGINT,
SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 on, and exits as COMMAND did.
.B \-\-console\-socket=PATH
gives the terminal away instead, as runc's option of that name does: once
the new root's devpts is mounted, chroot\-rs opens a pseudo\-terminal of
it, connects to the unix socket PATH (a path of the old root), sends the
master there as one SCM_RIGHTS descriptor (with the name /dev/ptmx as the
data) and closes its copy; after the change of root COMMAND becomes a
session leader with the slave (given to the \-\-userspec user) as its
controlling terminal and standard
input, output and error.  No process of chroot\-rs stays: in a new pid
namespace COMMAND is pid 1, and the relay runs outside the container (see
.BR unshare\-rs (1)'s
.BR \-\-console\-relay ).
It cannot be combined with
.BR \-\-tty .
.B \-\-cap\-add
and
.B \-\-cap\-drop
change that set the docker way; without
.B \-\-harden
they start from the current bounding set.
.PP
Set\-up options and
.B \-\-pivot
need a mount namespace of their own: in the host's (compared through
/proc/self/ns/mnt) chroot\-rs refuses, rather than mounting on the host or
pivoting the host's root.  Every mount is made a slave of the namespace it
was copied from first, so nothing propagates back."#;

const SECTIONS: &[(&str, &str)] = &[
    (
        "EXIT STATUS",
        r".TP
.B 125
chroot\-rs itself failed: a usage error, the root could not be changed or
set up, a bad user or group, or setting credentials failed.
.TP
.B 126
.I COMMAND
was found but could not be run.
.TP
.B 127
.I COMMAND
was not found.
.PP
Otherwise the exit status of
.IR COMMAND .",
    ),
    (
        "PROTECTING THE BINARY",
        r"A process in a container can overwrite the host's chroot\-rs only
through a process of that binary it can see, by opening its /proc/PID/exe
for writing, at once or later through a descriptor kept from it
(CVE\-2019\-5736).  In a plain
.B \-\-harden \-\-pivot
start nothing of the container runs until chroot\-rs executes COMMAND, and
nothing of chroot\-rs is left after: the one way back to its file is that
exec itself, when COMMAND is a
.B #!/proc/self/exe
script (or an ELF program whose interpreter is /proc/self/exe), which makes
the kernel run chroot\-rs's binary again as the container's process.  So
chroot\-rs copies nothing and runs nothing again there: it finds the mount
that holds its binary when it starts, and just before pivot_root detaches
the old root it makes that mount read\-only and noexec
(mount_setattr(2)).  Mount flags belong to one mount of one namespace and
never propagate: the host's mount is untouched, and the container's copy,
detached with the old root, is mounted nowhere and can never be changed
back.  The script's exec then fails with EACCES, and a write through any
link or descriptor with EROFS.  The processes that stay inside
.RB ( \-\-init ,
the
.B \-\-tty
relay), chroot mode (whose old root stays mounted beneath the new one) and
a binary whose mount cannot be found execute themselves again first, from
a detached read\-only clone of the binary's mount
(open_tree(2) with OPEN_TREE_CLONE, then MOUNT_ATTR_RDONLY: /proc/PID/exe
reads
.BR / ,
and nothing can make it writable again), or, where that is refused (no
CAP_SYS_ADMIN, a kernel before 5.12), from a sealed memfd copy, as
.BR unshare\-rs (1)
does in join mode.",
    ),
    (
        "EXAMPLES",
        r"The document's experiment, with a root built from host binaries:
.PP
.EX
mkrootfs \-\-ldd /srv/test bash ls
chroot\-rs /srv/test /bin/bash \-c 'ls /'
.EE
.PP
A container\-like root in new namespaces:
.PP
.EX
unshare\-rs \-m \-p \-f \-\- chroot\-rs \-\-pivot \-\-proc \-\-dev \-\-tmp \e
    \-\-harden /srv/test /bin/bash
.EE
.PP
As another user, with extra groups:
.PP
.EX
chroot\-rs \-\-userspec=nobody:nogroup \-\-groups=users /srv/test id
.EE",
    ),
    (
        "NOTES",
        r"Differences from coreutils chroot: the extra long options make some
abbreviations ambiguous that are not in coreutils (\fB\-\-s\fR is
\fB\-\-skip\-chdir\fR, \fB\-\-sys\fR or \fB\-\-seccomp\fR); messages are not translated;
\fB\-\-skip\-chdir\fR cannot be combined with \fB\-\-pivot\fR.
Paths inside \fINEWROOT\fR are checked for symbolic links before anything
is mounted on them, but not through openat2, so a root changed concurrently
by someone else could race the checks.
After the switch_root\-style fallback the old root is covered, not
detached, exactly as after switch_root; full proc and sysfs mounts outside
the new root are detached (or covered) first, as runc does.  On an initramfs
the cover is complete (\fB..\fR from the top and setns(2) both land on the
new root), but where the old root was itself a plain chroot the tree around
it stays reachable with the classic escape.",
    ),
    (
        "SEE ALSO",
        r".BR chroot (8),
.BR pivot_root (2),
.BR switch_root (8),
.BR unshare\-rs (1),
.BR mkrootfs (1),
.BR runc (8)",
    ),
];

/// The hand-written parts of the man page.
pub const MAN: ctcore::ManExtra = ctcore::ManExtra {
    section: "8",
    description: DESCRIPTION,
    sections: SECTIONS,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_and_getopt_know_the_same_options() {
        let mut clap_names: Vec<String> = command()
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .collect();
        clap_names.extend(["help".to_string(), "version".to_string()]);
        clap_names.sort();
        let mut ours: Vec<String> = crate::args::long_names()
            .into_iter()
            .map(str::to_string)
            .collect();
        ours.sort();
        assert_eq!(clap_names, ours);
    }

    #[test]
    fn to_argv_round_trips() {
        let cli = Cli::try_parse_from(["chroot-rs", "--pivot", "--cap-add=kill", "/r", "ls", "-l"])
            .unwrap();
        let argv = cli.to_argv();
        match crate::args::parse(&argv[1..]) {
            crate::args::Parsed::Run(o) => {
                assert!(o.pivot);
                assert_eq!(o.cap_add, ["kill"]);
                assert_eq!(o.newroot, "/r");
                assert_eq!(o.command, ["ls", "-l"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
