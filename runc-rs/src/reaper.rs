//! `runc-rs -- PROGRAM [ARGS...]`: an init to run as a container's pid 1, as
//! `docker run --init` binds docker-init (tini) into the container and runs
//! `/sbin/docker-init -- PROGRAM`.  It forks PROGRAM, reaps every process
//! that ends in the container, passes TERM, INT, HUP, QUIT, USR1, USR2 and
//! WINCH on to PROGRAM, and ends with PROGRAM's status (128+N for a signal),
//! named `init` (chroot-rs's `--init` reaper, the same code).  contain's
//! `run --init --runtime NAME` binds this binary read-only at `/dev/init`.

use std::ffi::OsString;

/// Run PROGRAM under the reaper; the exit status.
#[must_use]
pub fn run(argv: &[OsString]) -> i32 {
    if argv.is_empty() {
        crate::log::error("--: no program to run (usage: runc-rs -- PROGRAM [ARGS...])");
        return 1;
    }
    match chroot_rs::harden::fork_init(None) {
        Ok(chroot_rs::harden::Forked::Init(code)) => code,
        Ok(chroot_rs::harden::Forked::Child) => {
            let e = ctcore::exec::exec(argv);
            crate::log::error(&format!("{e:#}"));
            ctcore::error::code_of(&e)
        }
        Err(e) => {
            crate::log::error(&format!("cannot fork: {}", e.desc()));
            1
        }
    }
}
