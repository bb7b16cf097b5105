//! Executing PROGRAM at the end of a chain.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::error::failure;
use crate::exit;

/// Replace the process with `argv[0]` (looked up in PATH when it has no
/// slash).  Returns only on failure, with an error carrying 127 when the
/// program was not found and 126 when it could not be executed.
///
/// Goes through [`CommandExt::exec`], which restores SIGPIPE and the signal
/// mask, so the program starts with the dispositions a shell would give it.
#[must_use]
pub fn exec(argv: &[OsString]) -> anyhow::Error {
    let Some((prog, args)) = argv.split_first() else {
        return failure(exit::FAILURE, "no program to execute");
    };
    let err = Command::new(prog).args(args).exec();
    exec_error(prog, &err)
}

/// Like [`exec`] but with `argv0` as the program's `argv[0]`.
#[must_use]
pub fn exec_as(argv0: &OsStr, argv: &[OsString]) -> anyhow::Error {
    let Some((prog, args)) = argv.split_first() else {
        return failure(exit::FAILURE, "no program to execute");
    };
    let err = Command::new(prog).arg0(argv0).args(args).exec();
    exec_error(prog, &err)
}

/// The error for a failed exec of `prog`: 127 for "not found", else 126.
#[must_use]
pub fn exec_error(prog: &OsStr, err: &std::io::Error) -> anyhow::Error {
    let code = exec_code(err);
    failure(
        code,
        format!(
            "cannot execute '{}': {}",
            prog.to_string_lossy(),
            crate::error_text(err)
        ),
    )
}

/// 127 for an exec error that means "not found", 126 for any other.
#[must_use]
pub fn exec_code(err: &std::io::Error) -> i32 {
    if err.kind() == std::io::ErrorKind::NotFound {
        exit::NOT_FOUND
    } else {
        exit::CANNOT_EXECUTE
    }
}

/// Find `prog` the way exec would: as given when it contains a slash, else
/// the first executable regular file of that name in PATH.
#[must_use]
pub fn which(prog: &OsStr) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    if prog.as_bytes().contains(&b'/') {
        let p = std::path::PathBuf::from(prog);
        return p.exists().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_127() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(exec_code(&e), 127);
        let e = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(exec_code(&e), 126);
    }

    #[test]
    fn message_names_program() {
        let e = std::io::Error::from_raw_os_error(libc::EACCES);
        let err = exec_error(OsStr::new("/etc/passwd"), &e);
        assert_eq!(
            format!("{err:#}"),
            "cannot execute '/etc/passwd': Permission denied"
        );
        assert_eq!(crate::error::code_of(&err), 126);
    }

    #[test]
    fn which_finds_sh() {
        assert!(which(OsStr::new("sh")).is_some());
        assert!(which(OsStr::new("no-such-program-ctools")).is_none());
        assert!(which(OsStr::new("/bin/sh")).is_some());
        assert!(which(OsStr::new("/no/such/prog")).is_none());
    }

    #[test]
    fn empty_argv_is_tool_failure() {
        assert_eq!(crate::error::code_of(&exec(&[])), 125);
    }
}
