//! The entry point every tool's `main.rs` calls, and the clap set-up for
//! exec-chaining.
//!
//! A tool that runs PROGRAM after its job declares, as its last field,
//!
//! ```ignore
//! /// Program to execute once the job is done, with its arguments
//! #[arg(value_name = "PROGRAM", trailing_var_arg = true,
//!       value_hint = clap::ValueHint::CommandName)]
//! program: Vec<std::ffi::OsString>,
//! ```
//!
//! which makes option parsing stop at the first operand, as getopt's `+`
//! mode does: in `tool -x ls -la` the `-la` belongs to `ls`.  A `--` before
//! PROGRAM is accepted and dropped.  Do not add `allow_hyphen_values`: with
//! it an unknown option (`tool --bogus`) would be taken for PROGRAM instead
//! of being a usage error.

use std::ffi::OsString;
use std::io::Write;

use crate::error;
use crate::exit;

/// The C `main` of a tool, whose `main.rs` is
///
/// ```ignore
/// #![cfg_attr(not(test), no_main)]
/// ctcore::tool_main!(ctcore::main(tool::run));
/// ```
///
/// No Rust runtime start-up: a tool in an exec chain starts on every
/// container run, and std's start-up (the main thread's stack-guard probe
/// reads /proc/self/maps, a signal stack, a poll of fds 0-2, SIGPIPE
/// ignored) costs about 0.1 ms of it.  std works without it: glibc hands
/// argv and the environment to std's own initialiser.  Under `cfg(test)`
/// the test harness provides `main`.
#[macro_export]
macro_rules! tool_main {
    ($body:expr) => {
        #[cfg(not(test))]
        #[unsafe(no_mangle)]
        extern "C" fn main(
            _argc: ::std::ffi::c_int,
            _argv: *const *const ::std::ffi::c_char,
        ) -> ::std::ffi::c_int {
            $body
        }
    };
}

/// Restore the default disposition of SIGPIPE, which the Rust runtime sets
/// to "ignore" before `main`: a tool writing into a closed pipe then ends the
/// Unix way, and nothing it starts inherits an ignored SIGPIPE.
pub fn restore_sigpipe() {
    // SAFETY: installing SIG_DFL for SIGPIPE has no preconditions, and no
    // other thread exists yet at start-up.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Parse the command line with `C`, run the tool, and exit with the status
/// it returns, following the workspace's conventions:
///
/// * `--help` and `--version` print to stdout and exit 0;
/// * a usage error prints one line and exits 125;
/// * an error from `run` prints `tool: message` on one line and exits with
///   its [`error::code_of`] status (125 unless the error says otherwise).
pub fn main<C: clap::Parser>(run: impl FnOnce(C) -> anyhow::Result<i32>) -> ! {
    restore_sigpipe();
    // One Command, built once: building clap's Command is most of the
    // parse's cost, and a tool in an exec chain starts on every run.
    let mut cmd = C::command();
    let name = cmd.get_name().to_string();
    let parsed = cmd
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|mut m| C::from_arg_matches_mut(&mut m).map_err(|e| e.format(&mut cmd)));
    let code = match parsed {
        Ok(cli) => finish(&name, run(cli)),
        Err(e) => clap_error(&name, &e),
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

/// The entry point for a tool with a parser of its own (stress-rs keeps
/// stress's hand-written grammar): `run` receives the raw arguments,
/// program name first.
pub fn main_raw(name: &str, run: impl FnOnce(Vec<OsString>) -> anyhow::Result<i32>) -> ! {
    restore_sigpipe();
    let code = finish(name, run(std::env::args_os().collect()));
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

/// Turn the result of a tool's run into its exit status, reporting an error
/// on stderr.
pub fn finish(name: &str, result: anyhow::Result<i32>) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) if error::is_broken_pipe(&e) => exit::for_signal(libc::SIGPIPE),
        Err(e) => {
            if !error::is_silent(&e) {
                eprintln!("{}", error::one_line(name, &e));
            }
            error::code_of(&e)
        }
    }
}

/// Report a clap error in the workspace's style and return the exit status.
pub fn clap_error(name: &str, e: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            exit::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", e.render());
            exit::FAILURE
        }
        _ => {
            eprintln!("{}", usage_line(name, e));
            exit::FAILURE
        }
    }
}

/// The one-line form of a clap usage error:
/// `tool: unexpected argument '--x' found (try 'tool --help')`.
#[must_use]
pub fn usage_line(name: &str, e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    // The first paragraph: "error: ..." and its indented continuation lines
    // (clap lists missing arguments on lines of their own).
    let para: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let text = para.join(" ");
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let text = if text.is_empty() {
        "invalid usage"
    } else {
        text
    };
    format!("{name}: {text} (try '{name} --help')")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    #[command(name = "demo")]
    struct Demo {
        #[arg(short = 'x')]
        x: bool,
        #[arg(short = 'n', long)]
        name: Option<String>,
        #[arg(value_name = "PROGRAM", trailing_var_arg = true)]
        program: Vec<OsString>,
    }

    fn parse(args: &[&str]) -> Demo {
        Demo::try_parse_from(std::iter::once("demo").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn options_after_program_belong_to_it() {
        let d = parse(&["-x", "ls", "-la", "--color"]);
        assert!(d.x);
        assert_eq!(d.program, ["ls", "-la", "--color"]);
    }

    #[test]
    fn tool_flag_after_program_is_the_programs() {
        let d = parse(&["ls", "-x"]);
        assert!(!d.x);
        assert_eq!(d.program, ["ls", "-x"]);
    }

    #[test]
    fn double_dash_is_dropped() {
        let d = parse(&["-n", "a", "--", "sh", "-c", "exit 3"]);
        assert_eq!(d.name.as_deref(), Some("a"));
        assert_eq!(d.program, ["sh", "-c", "exit 3"]);
    }

    #[test]
    fn program_starting_with_dash_after_double_dash() {
        let d = parse(&["--", "-weird"]);
        assert_eq!(d.program, ["-weird"]);
    }

    #[test]
    fn usage_error_is_one_line() {
        let e = Demo::try_parse_from(["demo", "--bogus"]).unwrap_err();
        let line = usage_line("demo", &e);
        assert!(!line.contains('\n'));
        assert!(
            line.starts_with("demo: unexpected argument '--bogus'"),
            "{line}"
        );
        assert!(line.ends_with("(try 'demo --help')"));
    }

    #[derive(Parser, Debug)]
    #[command(name = "need")]
    struct Need {
        group: String,
    }

    #[test]
    fn missing_argument_is_named() {
        let e = Need::try_parse_from(["need"]).unwrap_err();
        let line = usage_line("need", &e);
        assert_eq!(
            line,
            "need: the following required arguments were not provided: <GROUP> (try 'need --help')"
        );
    }

    #[test]
    fn finish_maps_errors() {
        assert_eq!(finish("t", Ok(7)), 7);
        assert_eq!(finish("t", Err(anyhow::anyhow!("x"))), 125);
        assert_eq!(finish("t", Err(crate::failure(126, "y"))), 126);
    }
}
