//! `--seccomp`: the filter PROGRAM starts under, read and compiled before
//! joining (a profile FILE is a path of the caller's, never one of the
//! container's) and installed at the end (see `ctcore::seccomp`).

use std::ffi::OsStr;

use ctcore::failure;
use ctcore::seccomp::{Choice, Target};

/// A seccomp filter ready to install.
pub struct Filter(ctcore::seccomp::Filter);

impl Filter {
    /// `default`, `unconfined` (no filter) or a profile FILE, compiled for
    /// the bounding set `caps` PROGRAM will run with (None: the current one).
    ///
    /// # Errors
    /// An unreadable or invalid profile, an architecture without a table.
    pub fn prepare(spec: Option<&OsStr>, caps: Option<u64>) -> anyhow::Result<Option<Self>> {
        let Some(spec) = spec else { return Ok(None) };
        let bad = |m: String| failure(125, format!("--seccomp: {m}"));
        let Some(profile) = Choice::parse(&spec.to_string_lossy()).load().map_err(bad)? else {
            return Ok(None);
        };
        let target = Target::native(caps.unwrap_or_else(ctcore::caps::bounding)).map_err(bad)?;
        let filter = profile.compile(&target).map_err(bad)?;
        Ok(Some(Self(filter)))
    }

    /// Install the filter (no_new_privs set, or CAP_SYS_ADMIN held).
    ///
    /// # Errors
    /// When the kernel refuses.
    pub fn install(self) -> anyhow::Result<()> {
        self.0.install().map_err(|e| {
            let hint = if e.raw_os_error() == Some(libc::EACCES) {
                " (without --no-new-privs the filter needs CAP_SYS_ADMIN)"
            } else {
                ""
            };
            failure(
                125,
                format!(
                    "cannot install the seccomp filter: {}{hint}",
                    ctcore::error_text(&e)
                ),
            )
        })
    }
}
