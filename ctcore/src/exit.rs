//! The exit-status convention shared by every tool.

/// The job was done and no PROGRAM was given.
pub const SUCCESS: i32 = 0;
/// The tool itself failed, usage errors included.
pub const FAILURE: i32 = 125;
/// PROGRAM was found but could not be executed.
pub const CANNOT_EXECUTE: i32 = 126;
/// PROGRAM was not found.
pub const NOT_FOUND: i32 = 127;

/// The status a shell reports for a process killed by `signal`.
#[must_use]
pub fn for_signal(signal: i32) -> i32 {
    128 + signal
}
