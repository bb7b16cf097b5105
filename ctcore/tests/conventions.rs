//! The exit-code and exec conventions, checked on a real binary built on
//! ctcore (`examples/chain.rs`).

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Output};

fn chain() -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut dir: PathBuf = exe.parent().unwrap().to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("examples/chain");
    assert!(bin.is_file(), "{} not built", bin.display());
    Command::new(bin)
}

fn run(args: &[&str]) -> Output {
    chain().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn no_program_is_success_and_silent() {
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stderr.is_empty());
}

#[test]
fn help_and_version_exit_zero_on_stdout() {
    for a in ["--help", "--version"] {
        let o = run(&[a]);
        assert_eq!(o.status.code(), Some(0), "{a}");
        assert!(!o.stdout.is_empty(), "{a}");
        assert!(o.stderr.is_empty(), "{a}");
    }
}

#[test]
fn usage_error_is_125_and_one_line() {
    let o = run(&["--bogus"]);
    assert_eq!(o.status.code(), Some(125));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with("chain: unexpected argument '--bogus'"), "{e}");
}

#[test]
fn tool_failure_is_one_line_with_its_code() {
    let o = run(&["--fail", "125"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(stderr(&o), "chain: failing with 125 as asked\n");
}

#[test]
fn not_found_is_127() {
    let o = run(&["--", "/nonexistent/program"]);
    assert_eq!(o.status.code(), Some(127));
    assert_eq!(
        stderr(&o),
        "chain: cannot execute '/nonexistent/program': No such file or directory\n"
    );
    let o = run(&["no-such-program-in-path-ctools"]);
    assert_eq!(o.status.code(), Some(127));
}

#[test]
fn not_executable_is_126() {
    let o = run(&["/etc/passwd"]);
    assert_eq!(o.status.code(), Some(126));
    assert_eq!(
        stderr(&o),
        "chain: cannot execute '/etc/passwd': Permission denied\n"
    );
    let o = run(&["/"]);
    assert_eq!(o.status.code(), Some(126));
}

#[test]
fn options_after_program_are_the_programs() {
    let o = run(&["-x", "echo", "-x", "--fail", "3"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "x is set\n-x --fail 3\n"
    );
}

#[test]
fn exec_passes_status_and_signal_through() {
    let o = run(&["sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    let o = run(&["sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.status.signal(), Some(15));
}

#[test]
fn fork_passes_status_and_reraises_signal() {
    let o = run(&["--fork", "sh", "-c", "exit 9"]);
    assert_eq!(o.status.code(), Some(9));
    let o = run(&["--fork", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(o.status.signal(), Some(9), "{:?}", o.status);
    let o = run(&["--fork", "sh", "-c", "kill -SEGV $$"]);
    assert_eq!(o.status.signal(), Some(11));
    assert!(!o.status.core_dumped());
}

#[test]
fn sigpipe_is_default_in_the_program() {
    // `yes | head -1`: yes must die of SIGPIPE (status 141 in the shell),
    // not print "Broken pipe", which happens when SIGPIPE is ignored.
    let bin = chain().get_program().to_owned();
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' yes | head -n 1 >/dev/null; echo ${{PIPESTATUS[0]}}",
            bin.to_string_lossy()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "141");
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}

#[test]
fn tool_itself_dies_quietly_on_sigpipe() {
    // The tool's own output into a closed pipe ends it by SIGPIPE too.
    let bin = chain().get_program().to_owned();
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' --help | true; echo ${{PIPESTATUS[0]}}",
            bin.to_string_lossy()
        ))
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(code == "0" || code == "141", "{code}");
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}
