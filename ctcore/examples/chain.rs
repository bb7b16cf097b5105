//! A minimal exec-chaining tool built on ctcore, used by the conventions
//! tests: `chain [-x] [--fail CODE] [--fork] [--] [PROGRAM [ARGS...]]`.
//!
//! With `--fork` it runs PROGRAM as a child and ends as the child ended
//! (exit status, or the same signal); otherwise it execs PROGRAM.

use std::ffi::OsString;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "chain",
    version,
    about = "Exec-chaining demo of the ctools conventions"
)]
struct Cli {
    /// A flag of the tool itself, to show that options stop at PROGRAM
    #[arg(short = 'x')]
    x: bool,
    /// Fail with this status instead of running PROGRAM
    #[arg(long, value_name = "CODE")]
    fail: Option<i32>,
    /// Fork, wait and pass the child's status through
    #[arg(long)]
    fork: bool,
    /// Program to execute, with its arguments
    #[arg(value_name = "PROGRAM", trailing_var_arg = true, value_hint = clap::ValueHint::CommandName)]
    program: Vec<OsString>,
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    if let Some(code) = cli.fail {
        return Err(ctcore::failure(
            code,
            format!("failing with {code} as asked"),
        ));
    }
    if cli.x {
        println!("x is set");
    }
    if cli.program.is_empty() {
        return Ok(0);
    }
    if cli.fork {
        let status = std::process::Command::new(&cli.program[0])
            .args(&cli.program[1..])
            .status()
            .map_err(|e| ctcore::exec::exec_error(&cli.program[0], &e))?;
        let ended = ctcore::wait::Ended::from_std(status)
            .ok_or_else(|| anyhow::anyhow!("child neither exited nor was killed"))?;
        ctcore::wait::exit_like(ended);
    }
    Err(ctcore::exec::exec(&cli.program))
}

fn main() {
    ctcore::main(run)
}
