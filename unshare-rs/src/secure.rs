//! What the last link of a chain does so that nothing of the caller's
//! reaches PROGRAM: its descriptors (`--preserve-fds`), its session keyring
//! (`--new-keyring`), its environment (`--clear-env`, `--whitelist-env`).

use std::ffi::OsString;
use std::io;

use ctcore::failure;

/// `--preserve-fds N`: close every descriptor above `2 + n`, except `keep`
/// (our own `--json-status` descriptor, close-on-exec already).  Done at
/// the start, before any directory is entered: a descriptor of the
/// caller's then cannot be named by `-W /proc/self/fd/N` or reach PROGRAM.
///
/// # Errors
/// When the kernel refuses (close_range is Linux 5.9; older kernels get a
/// walk of /proc/self/fd).
pub fn close_fds(n: u32, keep: Option<i32>) -> anyhow::Result<()> {
    let first = 3u32.saturating_add(n);
    let keep = keep
        .and_then(|k| u32::try_from(k).ok())
        .filter(|&k| k >= first);
    let ranges: Vec<(u32, u32)> = match keep {
        Some(k) if k > first => vec![(first, k - 1), (k.saturating_add(1), u32::MAX)],
        Some(k) => vec![(k.saturating_add(1), u32::MAX)],
        None => vec![(first, u32::MAX)],
    };
    for (lo, hi) in ranges {
        if lo > hi {
            continue;
        }
        // SAFETY: close_range only closes descriptors; nothing in this
        // process holds one above `first` that it still needs (the status
        // descriptor is left out).
        let r = unsafe { libc::syscall(libc::SYS_close_range, lo, hi, 0u32) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOSYS) {
                return Err(failure(
                    125,
                    format!("cannot close descriptors: {}", ctcore::error_text(&e)),
                ));
            }
            close_by_listing(lo, hi)?;
        }
    }
    Ok(())
}

/// The close_range fallback: every open descriptor in `lo..=hi`, from
/// /proc/self/fd.
fn close_by_listing(lo: u32, hi: u32) -> anyhow::Result<()> {
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|e| {
        failure(
            125,
            format!(
                "cannot list /proc/self/fd to close descriptors: {}",
                ctcore::error_text(&e)
            ),
        )
    })?;
    let fds: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| (lo..=hi).contains(fd))
        .collect();
    for fd in fds {
        // SAFETY: closing a listed descriptor (the directory's own is
        // closed already, or EBADF is harmless).
        unsafe { libc::close(i32::try_from(fd).unwrap_or(-1)) };
    }
    Ok(())
}

/// `KEYCTL_JOIN_SESSION_KEYRING`.
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

/// `--new-keyring`: join a new anonymous session keyring (`_ses`), so that
/// PROGRAM neither finds the caller's session keys nor adds to them.  A
/// kernel without keys (ENOSYS) has nothing to share, as runc takes it.
///
/// # Errors
/// When the kernel refuses (a seccomp filter of the caller's, quotas).
pub fn new_session_keyring() -> anyhow::Result<()> {
    // SAFETY: keyctl with a null name makes and joins an anonymous keyring.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(failure(
                125,
                format!(
                    "cannot join a new session keyring: {}",
                    ctcore::error_text(&e)
                ),
            ));
        }
    }
    Ok(())
}

/// `--clear-env` and `--whitelist-env`: the environment PROGRAM gets, or
/// `None` to leave it as it is.  The named variables keep the values they
/// have now (as util-linux reads them while parsing); names not set are
/// left out.
#[must_use]
pub fn kept_environment(clear: bool, whitelist: &[String]) -> Option<Vec<(OsString, OsString)>> {
    if !clear && whitelist.is_empty() {
        return None;
    }
    let mut kept: Vec<(OsString, OsString)> = Vec::new();
    for name in whitelist.iter().flat_map(|l| l.split(',')) {
        if name.is_empty() || kept.iter().any(|(k, _)| k == name) {
            continue;
        }
        if let Some(v) = std::env::var_os(name) {
            kept.push((name.into(), v));
        }
    }
    Some(kept)
}

/// Make `vars` this process's whole environment, for PROGRAM (and for its
/// lookup in PATH).
pub fn replace_environment(vars: &[(OsString, OsString)]) {
    let old: Vec<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    for k in old {
        // SAFETY: single-threaded here (no thread is started before exec,
        // and the --tty relay starts its threads later).
        unsafe { std::env::remove_var(k) };
    }
    for (k, v) in vars {
        // SAFETY: as above.
        unsafe { std::env::set_var(k, v) };
    }
}

/// `SIOCGSKNS`: the network namespace of a socket.
const SIOCGSKNS: libc::c_ulong = 0x894C;
/// `NS_GET_USERNS`: the owning user namespace of a namespace.
const NS_GET_USERNS: libc::c_ulong = 0xb701;

fn owned(
    fd: libc::c_long,
    what: impl FnOnce(&io::Error) -> String,
) -> anyhow::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(failure(125, what(&e)));
    }
    let fd = i32::try_from(fd).map_err(|_| failure(125, "descriptor out of range"))?;
    // SAFETY: a new descriptor that nothing else owns (close-on-exec: pidfd_open,
    // pidfd_getfd and the namespace ioctls all set it).
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// `--net-socket FD`: the network namespace of the socket on descriptor
/// `fd` of process `pid` (pidfd_getfd, Linux 5.6; then SIOCGSKNS).
///
/// # Errors
/// The target or its descriptor is out of reach, or the descriptor is not
/// a socket.
pub fn socket_netns(pid: i32, fd: i32) -> anyhow::Result<std::os::fd::OwnedFd> {
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_open of a pid, flags 0.
    let pidfd = owned(
        unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) },
        |e| {
            format!(
                "failed to pidfd_open() for {pid}: {}",
                ctcore::error_text(e)
            )
        },
    )?;
    // SAFETY: pidfd_getfd on our pidfd, flags 0.
    let sk = owned(
        unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) },
        |e| {
            let hint = if e.raw_os_error() == Some(libc::EBADF) {
                format!(" (process {pid} has no descriptor {fd})")
            } else {
                String::new()
            };
            format!("pidfd_getfd({pid}, {fd}): {}{hint}", ctcore::error_text(e))
        },
    )?;
    // SAFETY: an ioctl without argument on our descriptor.
    owned(
        libc::c_long::from(unsafe { libc::ioctl(sk.as_raw_fd(), SIOCGSKNS) }),
        |e| {
            let hint = if e.raw_os_error() == Some(libc::ENOTTY) {
                " (not a socket)"
            } else {
                ""
            };
            format!("ioctl({fd}, SIOCGSKNS): {}{hint}", ctcore::error_text(e))
        },
    )
}

/// `--user-parent`: the user namespace that owns the namespace `ns`.
///
/// # Errors
/// The namespace has no parent we may see (the initial one, or above ours).
pub fn parent_userns(ns: &std::os::fd::OwnedFd) -> anyhow::Result<std::os::fd::OwnedFd> {
    use std::os::fd::AsRawFd;
    // SAFETY: an ioctl without argument on a namespace descriptor.
    owned(
        libc::c_long::from(unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_USERNS) }),
        |e| format!("failed to open parent namespace: {}", ctcore::error_text(e)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitelist_keeps_named_set_variables_once() {
        // SAFETY: test-local variables, set before any thread reads them.
        unsafe {
            std::env::set_var("CTOOLS_WL_A", "1");
            std::env::set_var("CTOOLS_WL_B", "2");
        }
        let k = kept_environment(
            false,
            &["CTOOLS_WL_A,CTOOLS_WL_UNSET".into(), "CTOOLS_WL_A".into()],
        )
        .unwrap();
        assert_eq!(k, vec![("CTOOLS_WL_A".into(), "1".into())]);
        assert_eq!(kept_environment(true, &[]), Some(vec![]));
        assert_eq!(kept_environment(false, &[]), None);
    }
}
