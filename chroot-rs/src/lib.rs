//! chroot-rs (skeleton, to be replaced).

pub mod cli;

/// Run the tool.
///
/// # Errors
/// Always, for now.
pub fn run(cli: cli::Cli) -> anyhow::Result<i32> {
    if cli.program.is_empty() {
        return Ok(0);
    }
    Err(ctcore::exec::exec(&cli.program))
}
