//! The hand-written parts of a tool's man page.
//!
//! NAME, SYNOPSIS and OPTIONS come from the tool's clap definition (the
//! xtask renders them); each tool crate adds a `pub const MAN: ManExtra`
//! with the prose, in roff.

/// Hand-written man page sections of one tool.
#[derive(Debug, Clone, Copy)]
pub struct ManExtra {
    /// Manual section: "1" or "8".
    pub section: &'static str,
    /// The DESCRIPTION section, roff source.
    pub description: &'static str,
    /// Further sections after OPTIONS, in order: (title, roff source).
    /// EXIT STATUS, EXAMPLES and SEE ALSO are expected in every page.
    pub sections: &'static [(&'static str, &'static str)],
}

/// The EXIT STATUS text shared by the tools that follow the workspace's
/// convention, in roff.
pub const EXIT_STATUS_CHAIN: &str = "\
.TP
.B 0
The job was done and no PROGRAM was given.
.TP
.B 125
The tool itself failed, including usage errors.
.TP
.B 126
PROGRAM was found but could not be executed.
.TP
.B 127
PROGRAM was not found.
.PP
Otherwise, once PROGRAM has been executed, the status is PROGRAM's own: the
tool has been replaced by it.  Where the tool forks and waits instead, it
exits with the child's status, and when the child was killed by a signal it
kills itself with the same signal.
";
