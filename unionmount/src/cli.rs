//! The command line of unionmount.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

/// Union-mount directories into one with the kernel's overlayfs or FUSE.
#[derive(Parser, Debug, Default)]
#[command(
    name = "unionmount",
    version,
    about = "Union-mount directories into one, funionfs-style, with the kernel's overlayfs or FUSE",
    after_help = "Examples:\n  unionmount -o dirs=./A:./B none ./C     A over B on C, both writable (FUSE)\n  \
                  unionmount -o dirs=./A:./B=ro none ./C  A (writable) over B (read-only) (overlayfs)\n  \
                  unionmount A:B C                         the same, short form\n  \
                  unionmount --lower L1 --lower L2 --upper U C -- /bin/sh\n  \
                  unionmount -u C"
)]
pub struct Cli {
    /// Mount options, comma-separated, repeatable: dirs=A[=rw|ro]:B[=ro]:...,
    /// lowerdir=L1:L2, lowerdir+=L, upperdir=U, workdir=W, ro, nosuid, nodev,
    /// noexec, noatime, and overlayfs options (redirect_dir=, xino=, metacopy=,
    /// index=, volatile, userxattr...), which are passed to the kernel
    #[arg(short = 'o', long = "options", value_name = "OPTIONS")]
    pub options: Vec<String>,

    /// A read-only layer; repeat it, the top layer first
    #[arg(long = "lower", value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub lower: Vec<PathBuf>,

    /// The writable layer, where every change lands
    #[arg(long = "upper", value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub upper: Option<PathBuf>,

    /// The work directory (same filesystem as the upper layer, outside it);
    /// by default the sibling .NAME.work of the upper layer, created if needed
    #[arg(long = "work", value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub work: Option<PathBuf>,

    /// Mount the union read-only
    #[arg(short = 'r', long = "read-only")]
    pub read_only: bool,

    /// Unmount TARGET instead of mounting (an overlay's default work directory .NAME.work, made
    /// beside the upper layer, is removed with it unless the union keeps an index there)
    #[arg(short = 'u', long = "umount", visible_alias = "unmount")]
    pub umount: bool,

    /// With --umount: detach now, clean up when no longer busy (MNT_DETACH)
    #[arg(short = 'l', long = "lazy")]
    pub lazy: bool,

    /// Serve the union from user space through FUSE, with funionfs's
    /// semantics (also -o fuse)
    #[arg(long = "fuse")]
    pub fuse: bool,

    /// Mount the kernel's overlayfs, never FUSE: the first branch is the
    /// writable upper layer, the others read-only (also -o overlay)
    #[arg(long = "overlay")]
    pub overlay: bool,

    /// Keep the kernel's defaults: add neither redirect_dir=on nor xino
    /// (also -o kernel_defaults)
    #[arg(long = "kernel-defaults")]
    pub kernel_defaults: bool,

    /// Use the old mount(2) call instead of the new mount API
    /// (also when the environment has UNIONMOUNT_FORCE_MOUNT2=1)
    #[arg(long = "mount2")]
    pub mount2: bool,

    /// Print what would be mounted, as JSON, and mount nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Report each step, and the kernel's warnings, on stderr
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// [SOURCE] TARGET: SOURCE is a branch list A[=rw|ro]:B... or a name
    /// such as "none"; TARGET is the mount point
    #[arg(value_name = "SOURCE|TARGET", required = true, num_args = 1..=2,
          value_hint = clap::ValueHint::DirPath)]
    pub operands: Vec<OsString>,

    /// mount(8)'s -f: check everything, mount nothing.
    #[arg(skip)]
    pub fake: bool,

    /// Program to execute once the union is mounted, with its arguments (after --)
    #[arg(value_name = "PROGRAM", last = true, value_hint = clap::ValueHint::CommandName)]
    pub program: Vec<OsString>,
}

/// The clap definition, for man pages and completions.
#[must_use]
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

const DESCRIPTION: &str = r".B unionmount
joins directories (branches) into one view on
.IR TARGET ,
as the document does with
.BR funionfs :
.I TARGET
shows the files of every branch, a name found in several branches appears
once (the topmost branch wins, directories merge).  As with funionfs, every
branch is read-write unless marked
.BR =ro .
.PP
Two backends serve the union.  The kernel's overlayfs, when it can express
the union: one writable branch, on top (its upper layer), the others
read-only (its lower layers, top first); every change lands in the upper
layer, the lower ones are never modified.  Otherwise a union in user space,
through FUSE, with funionfs's semantics:
.IP \(bu 2
a write to an existing file goes to the branch that holds it when that
branch is writable; otherwise the file is copied up to the nearest writable
branch above it;
.IP \(bu 2
a new name goes to the first writable branch;
.IP \(bu 2
deleting a name removes it from every writable branch that holds it, and
leaves a whiteout (a character device 0/0, overlayfs's format) in the
nearest writable branch above a read-only branch that still holds it; a
directory made where a whiteout was is opaque
.RB ( trusted.overlay.opaque ),
so the branches stay readable by the kernel's overlay;
.IP \(bu 2
renaming a file moves it within its branch (after a copy-up when that
branch is read-only); renaming a directory renames it in every writable
branch that holds it, or, when a read-only branch holds part of it, copies
the merged tree into a writable branch above (opaque) and whiteouts the old
name;
.IP \(bu 2
hard links, symbolic links, special files and extended attributes work;
the kernel checks permissions against the files' owners and modes
.RB ( default_permissions ),
and new files belong to their creator;
.IP \(bu 2
a directory lists each name once; every file shows the union's device
number, and an inode number that stays the same across copy-up and
remount (a copied-up file keeps its origin's, in the xattr
.BR trusted.unionmount.ino ).
.PP
.B unionmount
uses FUSE when two or more branches are writable, when the writable branch
is not the first, when the kernel refuses the upper layer (an upper layer
on overlayfs, as inside a container, on FUSE or on NFS), or with
.BR \-\-fuse ;
.B \-\-overlay
always uses the kernel.
.B \-\-dry\-run
prints the backend and why.  The FUSE backend needs no libfuse and no work
directory: as root it opens /dev/fuse and mounts
.B fuse.unionmount
with mount(2); the union is served by a child process (its daemon), which
exits when the union is unmounted.  With PROGRAM, the daemon ends the union
when PROGRAM ends, also when PROGRAM is killed.  Without PROGRAM, in a
private mount namespace, the daemon leaves that namespace, so that the
union goes with it.
.PP
Three ways to name the branches:
.TP
.B unionmount \-o dirs=A[=rw|ro]:B[=ro]:... none C
funionfs syntax.  Every branch is writable unless marked
.BR =ro .
With
.BR \-\-overlay ,
only the first branch is writable, and
.B =rw
on any other is refused.  The marks are case-insensitive.
When SOURCE is not
.B none
but an existing directory, it is the first (writable) branch, above the
branches of
.BR dirs= ,
as funionfs's UPPER_DIR argument; any other SOURCE is the name the mount
table shows.
.TP
.B unionmount A:B C
The short form: the branch list as SOURCE.
.TP
.B unionmount \-\-lower L1 \-\-lower L2 \-\-upper U [\-\-work W] C
overlay syntax, top layer first; also
.BR \-o\ lowerdir=L1:L2,upperdir=U,workdir=W ,
as
.BR mount\ \-t\ overlay
takes it.
.PP
With no writable branch the union is read-only; a single read-only branch
becomes a read-only bind mount, and a single writable branch a plain bind
mount.
.PP
The rest of this section is about the overlayfs backend.  overlayfs needs a work directory on the same mount as the upper layer but
outside it.  Unless one is given,
.B unionmount
uses the sibling
.BI . NAME .work
of the upper layer
.IR NAME ,
creating it when missing and reusing it afterwards.  An upper layer or work
directory that a mounted overlay already uses is refused.  When the mount
fails, a work directory created for it is removed again and nothing stays
mounted.
.PP
The union is mounted with the new mount API (fsopen, fsconfig with one
.B lowerdir+
per layer, fsmount, move_mount): any number of layers up to the kernel's
limit of 500, and paths of any length (a path of 256 bytes or more is given
to the kernel as an open file descriptor).  On kernels without it (before
6.8, or with
.BR \-\-mount2 )
the old mount(2) call is used; when its option string does not fit in a
page,
.B unionmount
changes into the lower layers' common parent directory and names them
relative to it, or, when that is not enough, names every layer by an open
descriptor in /proc/self/fd.  When the kernel refuses the union, its own
reason is printed: from the filesystem context's log, or from the kernel's
log (/dev/kmsg) for the checks that write only there.
.PP
Unless told otherwise,
.B unionmount
adds the options users of a union expect:
.B redirect_dir=on
(so that
.BR rename (2)
of a directory that comes from a lower layer, or merges several, works
instead of failing with EXDEV;
.B redirect_dir=follow
for a read-only union without upper layer) and
.B xino=auto
(one device number and stable, unique inode numbers, also across copy-up),
or
.B xino=on
when the layers are on different file systems.  An option given with
.B \-o
wins;
.B userxattr
rules out
.B redirect_dir=on
(the kernel refuses the pair), so a union in a user namespace keeps
.BR redirect_dir=nofollow .
When the kernel refuses a union with these defaults, it is mounted again
with the kernel's own.
.B \-\-kernel\-defaults
(or
.BR \-o\ kernel_defaults )
adds nothing: the kernel's defaults, from the overlay module's parameters,
apply.
.PP
Options for overlayfs are passed to the kernel as they are:
.BR redirect_dir= ,
.BR xino= ,
.BR metacopy= ,
.BR index= ,
.BR volatile ,
.BR nfs_export= ,
.BR uuid= ,
.BR default_permissions ,
.BR userxattr ,
and any other.  Inside a user namespace (when /proc/self/uid_map is not the
identity map)
.B userxattr
is added, so an unprivileged user can make a union inside
.BR unshare\ \-U\ \-r\ \-m .
.PP
With PROGRAM after
.BR \-\- ,
.B unionmount
mounts the union and then executes PROGRAM: in a fresh mount namespace the
union lives exactly as long as the processes in it.
.PP
Installed as
.B mount.unionmount
(and
.BR mount.fuse.unionmount ),
it is a mount(8) helper: mount(8) runs it as
.B mount.unionmount
.I SOURCE TARGET
.RB [ \-sfnv ]
.RB [ \-o
.IR OPTIONS ],
so
.B mount \-t unionmount \-o dirs=A:B none C
and fstab lines work, for both backends
.RB ( \-o\ fuse
and
.B \-o\ overlay
choose one).";

const NOTES: &str = r"funionfs records a deletion as a file named NAME_DELETED~ in the writable
branch, unionfs-fuse as a file in .unionfs/.  overlayfs, and so
.BR unionmount ,
records it as a character device 0/0 (a whiteout) in the upper layer, and a
directory deleted and made again as an opaque directory (xattr
.BR trusted.overlay.opaque ,
or
.B user.overlay.opaque
with userxattr).  The funionfs options
.BR del_string= ,
.BR delete= ,
.BR copyup= ,
.BR copyupuid= ,
.BR copyupgid= ,
.BR copyupmode= ,
.B funionfs_debug
and the unionfs-fuse options
.BR cow ,
.BR allow_other ,
.BR use_ino ,
.B hide_meta_files
are accepted and ignored; userspace mount options
.RB ( defaults ,
.BR noauto ,
.BR nofail ,
.BR _netdev ,
.BR x\-* ...)
are ignored too.
.PP
With
.B \-\-kernel\-defaults
on a kernel whose overlay defaults to
.BR redirect_dir=off ,
or with
.BR userxattr ,
renaming a directory that comes from a lower layer fails with EXDEV
(mv(1) then copies instead).  Changing a lower layer while the union is
mounted gives undefined results.  A
.B volatile
work directory cannot be used again: remove it.
.PP
unionmount-testsuite can test
.B unionmount
through its FUSE hook: link
.B /sbin/mount.fuse.unionmount
to the binary and run
.BR ./run\ \-\-ov\ \-\-fuse=unionmount ;
with
.B UNIONMOUNT_MNTOPTIONS=fuse
it tests the FUSE backend.
.PP
A user other than root mounts a FUSE union through the setuid
.BR fusermount3 (1)
(or fusermount), as libfuse does, and
.B unionmount \-u
unmounts it with
.BR fusermount3\ \-u .
That needs a /dev/fuse the user may open: where it is root's alone (mode
0600), fusermount3's refusal is printed.";

const ENVIRONMENT: &str = r".TP
.B UNIONMOUNT_FORCE_MOUNT2
When 1, use mount(2) instead of the new mount API, as
.B \-\-mount2
does.";

const EXAMPLES: &str = r"The document's experiment (both branches writable, FUSE):
.PP
.EX
mkdir A B C; echo a > A/a; echo A > A/x; echo b > B/b; echo B > B/x
unionmount \-o dirs=./A:./B none ./C
ls C            # a b x
cat C/x         # A
echo hello >> C/a; cat A/a
echo hello >> C/b; cat B/b
unionmount \-u C
.EE
.PP
The overlay form (B read-only: every change lands in A):
.PP
.EX
unionmount \-o dirs=./A:./B=ro none ./C
.EE
.PP
A container root from image layers, gone when the shell exits:
.PP
.EX
unshare \-m \-\-propagation private \e
  unionmount \-\-lower layer2 \-\-lower layer1 \-\-upper rw root \-\- \e
  chroot\-rs root /bin/sh
.EE
.PP
Rootless:
.PP
.EX
unshare \-U \-r \-m unionmount A:B C \-\- sh
.EE
.PP
An fstab line:
.PP
.EX
none  /srv/c  unionmount  dirs=/srv/a:/srv/b  0 0
.EE";

const EXIT_STATUS: &str = r".TP
.B 0
The union was mounted (or unmounted) and no PROGRAM was given.
.TP
.B 125
unionmount failed: a usage error, a missing directory, or the kernel refused
the union.
.TP
.B 126
PROGRAM was found but could not be executed.
.TP
.B 127
PROGRAM was not found.
.PP
Otherwise the status is PROGRAM's own.  As a mount(8) helper, the failure
status is 32 (mount failure) and a usage error 1.";

const SEE_ALSO: &str = r".BR mount (8),
.BR umount (8),
.BR funionfs (1),
.BR unionfs (8),
.BR fuse\-overlayfs (1),
.BR unshare\-rs (1),
.BR chroot\-rs (8),
and the kernel's Documentation/filesystems/overlayfs.rst.";

/// The hand-written parts of the man page.
pub const MAN: ctcore::ManExtra = ctcore::ManExtra {
    section: "8",
    description: DESCRIPTION,
    sections: &[
        ("EXIT STATUS", EXIT_STATUS),
        ("ENVIRONMENT", ENVIRONMENT),
        ("NOTES", NOTES),
        ("EXAMPLES", EXAMPLES),
        ("SEE ALSO", SEE_ALSO),
    ],
};
