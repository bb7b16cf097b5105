//! The command line of mkrootfs.

use std::ffi::OsString;

use clap::Parser;

/// SKELETON: replaced by the tool's real definition.
#[derive(Parser, Debug)]
#[command(name = "mkrootfs", version, about = "SKELETON")]
pub struct Cli {
    /// Program to execute once the job is done, with its arguments
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
    description: "SKELETON",
    sections: &[("EXIT STATUS", ctcore::man::EXIT_STATUS_CHAIN)],
};
