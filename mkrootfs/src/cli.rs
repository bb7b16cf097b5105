//! The command line of mkrootfs.

use std::path::PathBuf;

use clap::Parser;

pub use crate::write::Format;

/// Build a root filesystem from host programs and every library they load.
#[derive(Parser, Debug)]
#[command(
    name = "mkrootfs",
    version,
    about = "Build a root filesystem from host programs and every library they load"
)]
pub struct Cli {
    /// Write an archive to FILE (`-` for standard output) instead of a directory
    #[arg(short = 'o', long = "output", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub output: Option<PathBuf>,

    /// Archive format for --output (default: from the extension, .cpio and .cpio.* mean cpio, otherwise tar)
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,

    /// Print what would be written, with its source and the dependency chain; write nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// With --dry-run, print the list as JSON
    #[arg(long, requires = "dry_run")]
    pub json: bool,

    /// Hard-link host files into DIR where they share its file system (a copy elsewhere); the root then shares those files with the host
    #[arg(long, conflicts_with_all = ["reflink", "output"])]
    pub link: bool,

    /// Clone host files into DIR (FICLONE: shared extents, copy on write) where the file system can; a copy elsewhere
    #[arg(long, conflicts_with = "output")]
    pub reflink: bool,

    /// Find libraries by running ldd and copying what it lists (the document's method)
    #[arg(long)]
    pub ldd: bool,

    /// Also copy SRC (a file or a directory tree) to DEST, or to the same path; ELF files in it are resolved too
    #[arg(short = 'f', long = "file", value_name = "SRC[:DEST]", value_hint = clap::ValueHint::AnyPath)]
    pub files: Vec<String>,

    /// Unpack an image layer (tar, gzip or zstd) into DIR first, with overlayfs whiteouts (repeatable: each over the last)
    #[arg(long = "import", value_name = "LAYER.tar", value_hint = clap::ValueHint::FilePath)]
    pub import: Vec<PathBuf>,

    /// Search these directories (colon-separated) where the loader searches LD_LIBRARY_PATH
    #[arg(long, value_name = "DIRS")]
    pub library_path: Option<String>,

    /// Do not write the minimal /etc (passwd, group, nsswitch.conf, hosts)
    #[arg(long)]
    pub no_etc: bool,

    /// Create device nodes in /dev: null zero full random urandom tty console (and ptmx, fd links)
    #[arg(long)]
    pub dev: bool,

    /// Add the C.UTF-8 locale (/usr/lib/locale/C.utf8)
    #[arg(long)]
    pub locale: bool,

    /// Add the terminfo database
    #[arg(long)]
    pub terminfo: bool,

    /// Add the time zone database and /etc/localtime
    #[arg(long)]
    pub zoneinfo: bool,

    /// Add the gconv modules that iconv loads
    #[arg(long)]
    pub gconv: bool,

    /// Print each input and the number of files written to standard error
    #[arg(short, long)]
    pub verbose: bool,

    /// The root directory to fill (omit it with --output)
    #[arg(value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: Option<PathBuf>,

    /// Programs to add (names without a slash are looked up in PATH; `-` or none reads them from standard input)
    #[arg(value_name = "PROGRAM", value_hint = clap::ValueHint::CommandName)]
    pub programs: Vec<PathBuf>,
}

/// The clap definition, for man pages and completions.
#[must_use]
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// The hand-written parts of the man page.
pub const MAN: ctcore::ManExtra = ctcore::ManExtra {
    section: "1",
    description: "\
.B mkrootfs
builds a root filesystem that
.BR chroot (8)
or a container runtime can enter: the document's skeleton (bin, dev, etc, home, lib, lib64,
mnt, opt, proc, root, run, sbin, sys, tmp, usr, var; tmp with mode 1777), the host's merged\\-/usr links
.RB ( bin\\ \\->\\ usr/bin ,
\\&...), each PROGRAM and every shared library the dynamic loader would map for it.
.PP
Libraries are found by reading the ELF files the way glibc's
.BR ld.so (8)
does, without running anything: PT_INTERP and PT_DYNAMIC (no section headers needed), DT_NEEDED in
breadth\\-first order with reuse of an already loaded soname, DT_RPATH inherited along the chain of
loaders unless the loader has DT_RUNPATH, DT_RUNPATH for direct dependencies only, the
.BR $ORIGIN ,
.B $LIB
and
.B $PLATFORM
tokens,
.I /etc/ld.so.cache
(or ld.so.conf with its includes when there is no cache), the built\\-in system directories and
.BR \\-z\\ nodefaultlib .
A candidate of another ELF class or machine is skipped.
Static and static\\-pie programs are copied as they are.
.PP
The loader lands at exactly its PT_INTERP path, libraries at the path where they were found, and
every symbolic link met on the way (a symlinked program, a library's version chain) is kept as a
relative link next to its target.
Scripts bring in their
.B #!
interpreter (and for
.BR env ,
the program it runs).
Files no ELF scan finds are added too:
.I libgcc_s.so.1
with libc (pthread_cancel needs it), the NSS modules that
.I nsswitch.conf
names, the libraries a
.B .note.dlopen
(the dlopen metadata systemd emits) lists as required or recommended, and a minimal
.IR /etc .
.PP
Files are copied with
.BR copy_file_range (2),
which lets the kernel copy (and share extents on file systems that can).
.B \\-\\-reflink
clones each file with the
.B FICLONE
ioctl (btrfs, XFS with reflink, bcachefs): the root then takes no space until a file is changed,
and a change stays in the root.
.B \\-\\-link
makes each file a hard link to the host's file where both are on one file system and the host
file's owner, mode and time are the ones the root would get: nothing is copied, but the root and
the host share those files, so a write through the root changes the host's program.
Use it for roots that are mounted read\\-only or used as a lower layer of an overlay (whose
copy\\-up protects the host), or on scratch copies.
Both fall back to a copy, file by file, where they cannot be used (another file system, no
reflink support,
.BR fs.protected_hardlinks ),
and both keep the incremental rule: a file whose size and time already match is left alone.
.PP
Inputs are PROGRAM arguments, or one a line on standard input when none is given
.RB ( which\\ bash\\ ls\\ |\\ mkrootfs\\ DIR ).
A directory is updated in place: files whose size and time match are not copied again.
With
.B \\-o
the root is written as a tar stream or a cpio newc archive (for an initramfs) instead, by
.B mkrootfs
itself.
Nothing is written when an input or a library is missing.
",
    sections: &[
        (
            "EXIT STATUS",
            ".TP
.B 0
The root (or the listing) was written.
.TP
.B 125
An input or a library could not be found (the message names the chain of dependencies
that needs it and the directories searched), a usage error, or an I/O error.
",
        ),
        (
            "NOTES",
            "Why not ldd:
.B \\-\\-ldd
keeps the document's method for comparison.
.BR ldd (1)
asks the system loader to load the program, so it cannot look into another architecture,
its man page warns against running it on untrusted files, and a library that is
.B not found
is easy to miss in its output.
The resolver reads the files instead and fails on any missing library.
When a library is reachable only through
.I /etc/ld.so.cache
(a directory of ld.so.conf that is not built into the loader), the root gets
.I /etc/ld.so.conf
and its own cache from
.BR ldconfig\\ \\-r ,
because the loader never reads ld.so.conf itself.
.PP
Differences from
.BR lddtree (1)
.RB ( \\-\\-copy\\-to\\-tree ):
symbolic links are kept instead of being copied as files, the merged\\-/usr layout of the host is
mirrored, DT_RPATH is inherited along the chain and DT_RUNPATH is not (lddtree applies the
program's RUNPATH to every library), a library's
.B $ORIGIN
is the directory where it was found and not its realpath,
.B $LIB
and
.B $PLATFORM
are expanded, ld.so.cache and the loader's built\\-in directories are used, a missing library is an
error, and the skeleton, /etc, libgcc_s and NSS modules are added.
Extended attributes (file capabilities) are not copied.
.PP
What the root does not contain: libraries a program opens with
.BR dlopen (3)
by a name of its own (plugins), and data such as the Python standard library; add them with
.BR \\-\\-file .
.I /proc
and
.I /sys
are mount points: the runtime mounts them
.RB ( ps
needs
.IR /proc ).
A program whose own RPATH or RUNPATH uses
.B $ORIGIN
needs
.I /proc
mounted in the root: the loader reads
.I /proc/self/exe
to expand it.
Without
.BR \\-\\-dev ,
.I /dev
is empty and
.B echo x > /dev/null
creates a regular file.
Without
.BR \\-\\-locale ,
run programs with
.B env \\-i
(or unset LANG and LC_ALL) to avoid setlocale warnings.
.PP
.B \\-\\-import
writes whiteouts as 0:0 character devices and opaque directories with the
.B trusted.overlay.opaque
attribute, the form overlayfs reads from a lower or upper directory; that needs root.
The archive may be plain, gzip (one member or several) or zstd (several frames, skippable
frames): ustar, pax and GNU tar, with long names and link targets, hard links and GNU tar's
sparse files (not those of its pax format, which are refused): the layers that umoci writes
and skopeo, podman and buildah (containers/image) compress.
A leading
.B /
is stripped from names, as GNU tar and podman strip it (umoci writes the layer's root as
.BR / ).
Names with
.BR .. ,
writes through a symbolic link, symbolic links whose relative target climbs out of the root,
hard links to anything that is neither in the layer nor already in DIR (an earlier
.B \\-\\-import
into the same DIR counts), and device nodes when the caller cannot make them (not root) are refused.
A failure leaves DIR as it was: an empty or missing DIR is unpacked in one pass and emptied or
removed again; into a DIR that has content, the whole layer is checked before anything is written
(and read twice).
Decompression runs in a thread beside the writes, and a plain tar's files are copied by the
kernel
.RB ( copy_file_range (2))
from the archive.
",
        ),
        (
            "EXAMPLES",
            ".EX
mkrootfs /tmp/root bash ls id ps
chroot /tmp/root /bin/bash \\-c 'ls /; id'
which bash ls | mkrootfs /tmp/root
mkrootfs \\-\\-file /usr/lib/python3.11 /tmp/py python3
mkrootfs \\-n \\-\\-json /tmp/root /usr/bin/ssh
mkrootfs \\-o initrd.cpio \\-\\-dev \\-\\-file init:/init busybox
mkrootfs \\-o \\- bash | tar \\-t
mkrootfs \\-\\-import layer.tar.gz /tmp/layer
.EE
",
        ),
        (
            "SEE ALSO",
            ".BR chroot\\-rs (8),
.BR unionmount (8),
.BR ld.so (8),
.BR ldd (1),
.BR ldconfig (8),
.BR lddtree (1)
",
        ),
    ],
};
