//! Errors that carry an exit status.
//!
//! Tools use `anyhow` with `.context(..)`.  An error that should end the tool
//! with a status other than [`crate::exit::FAILURE`] wraps its cause in a
//! [`Failure`]; the entry point walks the chain and picks the first one.

use std::fmt;

/// An error with an exit status.  With `message: None` the tool exits
/// silently (the cause has been reported already, or there is none).
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => f.write_str(m),
            None => write!(f, "exit status {}", self.code),
        }
    }
}

impl std::error::Error for Failure {}

/// An error that ends the tool with `code` after printing `message`.
pub fn failure(code: i32, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        code,
        message: Some(message.into()),
    })
}

/// An error that ends the tool with `code` and prints nothing.
#[must_use]
pub fn silent(code: i32) -> anyhow::Error {
    anyhow::Error::new(Failure {
        code,
        message: None,
    })
}

/// The exit status an error asks for: the first [`Failure`] in its chain,
/// or [`crate::exit::FAILURE`].
#[must_use]
pub fn code_of(err: &anyhow::Error) -> i32 {
    err.chain()
        .find_map(|e| e.downcast_ref::<Failure>())
        .map_or(crate::exit::FAILURE, |f| f.code)
}

/// Whether the error should be reported at all (a silent [`Failure`] is not).
#[must_use]
pub fn is_silent(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<Failure>(),
        Some(Failure { message: None, .. })
    )
}

/// Whether a broken pipe is anywhere in the chain: the reader went away,
/// which is not the tool's failure to report.
#[must_use]
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Render an error as the one line `tool: what failed: why`.
#[must_use]
pub fn one_line(tool: &str, err: &anyhow::Error) -> String {
    let text = format!("{err:#}");
    let flat: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    format!("{tool}: {}", flat.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn default_code_is_125() {
        let e = anyhow::anyhow!("boom");
        assert_eq!(code_of(&e), 125);
    }

    #[test]
    fn code_found_under_context() {
        let e: anyhow::Error = Err::<(), _>(failure(127, "not found"))
            .context("outer")
            .unwrap_err();
        assert_eq!(code_of(&e), 127);
        assert_eq!(one_line("t", &e), "t: outer: not found");
    }

    #[test]
    fn one_line_flattens_newlines() {
        let e = anyhow::anyhow!("first\nsecond\n");
        assert_eq!(one_line("x", &e), "x: first second");
    }

    #[test]
    fn silent_is_silent() {
        let e = silent(3);
        assert!(is_silent(&e));
        assert_eq!(code_of(&e), 3);
    }

    #[test]
    fn broken_pipe_detected() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let e = anyhow::Error::new(io).context("writing");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("x")));
    }
}
