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
    /// Mask and write-protect runc's /proc and /sys paths, set no_new_privs, keep only docker's default capabilities
    #[arg(long)]
    pub harden: bool,
    /// Set no_new_privs (implied by --harden): COMMAND and its children gain no privilege through exec (setuid bits, file capabilities)
    #[arg(long)]
    pub no_new_privs: bool,
    /// Run COMMAND on a new pseudo-terminal of the new root (from the devpts of --dev), relayed to this terminal
    #[arg(long)]
    pub tty: bool,
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
        if let Some(d) = &self.chdir {
            v.push(format!("--chdir={d}").into());
        }
        for (on, name) in [
            (self.skip_chdir, "--skip-chdir"),
            (self.pivot, "--pivot"),
            (self.auto, "--auto"),
            (self.proc, "--proc"),
            (self.sys, "--sys"),
            (self.dev, "--dev"),
            (self.tmp, "--tmp"),
            (self.readonly, "--readonly"),
            (self.harden, "--harden"),
            (self.no_new_privs, "--no-new-privs"),
            (self.tty, "--tty"),
            (self.verbose, "--verbose"),
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
empty read\-only tmpfs) and read\-only paths (/proc/sys, /proc/sysrq\-trigger,
/proc/irq, /proc/bus, /proc/fs), sets no_new_privs, and keeps only docker's
default capabilities in the bounding set (and in the inheritable set;
the ambient set is cleared), so a root COMMAND starts with those alone.
.B \-\-no\-new\-privs
sets no_new_privs alone, without a mount.
.B \-\-tty
runs COMMAND as a session leader on a new pseudo\-terminal opened in the
new root (the devpts instance of
.BR \-\-dev ),
as docker's
.B \-t
does: chroot\-rs stays as the relay to its own standard input and output
(raw mode while it runs), passes window size changes and SIGTERM, SIGINT,
SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 on, and exits as COMMAND did.
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
\fB\-\-skip\-chdir\fR or \fB\-\-sys\fR); messages are not translated;
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
