//! Running from a sealed copy of the tool's own binary (runc's fix for
//! CVE-2019-5736).
//!
//! A tool that enters or joins a container's namespaces is visible there as
//! a process, and its `/proc/PID/exe` is a link to the host file it runs
//! from: a process in the container that can open that link for writing
//! (after the tool execs something the container controls, or through a
//! `#!/proc/self/exe` script) overwrites the host's binary.  A tool that runs
//! from an anonymous, sealed memfd copy of itself has nothing of the host's
//! to offer: the link names `/memfd:NAME (deleted)`, and the seals
//! (`F_SEAL_WRITE`, `F_SEAL_SHRINK`, `F_SEAL_GROW`, `F_SEAL_SEAL`) refuse every
//! write to it, by anyone, for ever.
//!
//! [`reexec_sealed`] makes the copy and executes it (`execveat(fd, "",
//! AT_EMPTY_PATH)`, which needs no /proc) with the same argv and environment;
//! the copy calls it again, finds itself sealed, and goes on.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::error::failure;
use crate::exit;

/// The seals a sealed copy carries (runc's set).
pub const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// `MFD_EXEC` (Linux 6.3): asks for an executable memfd where the
/// `vm.memfd_noexec` sysctl would make it non-executable by default.
const MFD_EXEC: libc::c_uint = 0x10;

/// The seals of the open file `fd`: `None` when it is not a file that can
/// carry seals (not a memfd or shmem file).
#[must_use]
pub fn seals_of(fd: &impl AsRawFd) -> Option<libc::c_int> {
    // SAFETY: F_GET_SEALS reads a property of an open descriptor.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    (r >= 0).then_some(r)
}

/// Whether `/proc/self/exe` is a sealed memfd (every seal of [`SEALS`]).
///
/// # Errors
/// When /proc/self/exe cannot be opened (no /proc mounted).
pub fn is_sealed() -> anyhow::Result<bool> {
    let exe = open_self()?;
    Ok(seals_of(&exe).is_some_and(|s| s & SEALS == SEALS))
}

fn open_self() -> anyhow::Result<File> {
    File::open("/proc/self/exe").map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (is /proc mounted?)"
        } else {
            ""
        };
        failure(
            exit::FAILURE,
            format!(
                "cannot open /proc/self/exe to seal the running binary: {}{hint}",
                crate::error_text(&e)
            ),
        )
    })
}

/// Make sure the process runs from a sealed memfd copy of its binary.
///
/// When `/proc/self/exe` already is one, returns `Ok(())` at once.
/// Otherwise copies the binary into a new memfd (`MFD_CLOEXEC |
/// MFD_ALLOW_SEALING`), seals it, and executes it with the same argv and
/// environment: on success this does not return, and the new image calls
/// `reexec_sealed` again, which then returns.  Call it first, before any
/// state worth keeping (descriptors opened without `O_CLOEXEC` survive, the
/// rest of the process does not).
///
/// # Errors
/// One-line errors (exit 125) when /proc is not mounted, when memfd_create
/// or sealing is refused, or when the exec fails; the process is unchanged
/// then and the caller decides whether to go on.
pub fn reexec_sealed() -> anyhow::Result<()> {
    let exe = open_self()?;
    if seals_of(&exe).is_some_and(|s| s & SEALS == SEALS) {
        name_after_memfd();
        return Ok(());
    }
    let name = memfd_name();
    let memfd = memfd_create(&name)?;
    let mut exe = exe;
    copy_all(&mut exe, &memfd).map_err(|e| {
        failure(
            exit::FAILURE,
            format!(
                "cannot copy /proc/self/exe into a memfd: {}",
                crate::error_text(&e)
            ),
        )
    })?;
    drop(exe);
    // SAFETY: F_ADD_SEALS on our own memfd.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        let e = std::io::Error::last_os_error();
        return Err(failure(
            exit::FAILURE,
            format!("cannot seal the memfd copy: {}", crate::error_text(&e)),
        ));
    }
    let e = execveat_self(&memfd);
    Err(failure(
        exit::FAILURE,
        format!(
            "cannot execute the sealed copy of the binary: {}",
            crate::error_text(&e)
        ),
    ))
}

/// After execveat(fd, "") the kernel names the process after the
/// descriptor's number; give it the binary's name back (the memfd's, from
/// `/memfd:NAME (deleted)`).
fn name_after_memfd() {
    let Ok(link) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let l = link.as_os_str().as_bytes();
    let Some(name) = l
        .strip_prefix(b"/memfd:")
        .map(|n| n.strip_suffix(b" (deleted)").unwrap_or(n))
    else {
        return;
    };
    let mut n = name.to_vec();
    n.truncate(15);
    if let Ok(c) = CString::new(n) {
        // SAFETY: PR_SET_NAME copies at most 16 bytes of a C string.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, c.as_ptr());
        }
    }
}

/// The memfd's name: the binary's base name (shown as `/memfd:NAME
/// (deleted)` in /proc/PID/exe), never a path.
fn memfd_name() -> CString {
    let base = std::fs::read_link("/proc/self/exe")
        .ok()
        .and_then(|p| p.file_name().map(|n| n.as_bytes().to_vec()))
        .filter(|n| !n.is_empty() && !n.contains(&0))
        .unwrap_or_else(|| b"ctools".to_vec());
    // memfd names are at most 249 bytes.
    let mut base = base;
    base.truncate(200);
    CString::new(base).unwrap_or_else(|_| c"ctools".to_owned())
}

fn memfd_create(name: &CString) -> anyhow::Result<OwnedFd> {
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    for flags in [base | MFD_EXEC, base] {
        // SAFETY: `name` is NUL-terminated; the result is a new descriptor.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: a new descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = std::io::Error::last_os_error();
        // Kernels before 6.3 refuse MFD_EXEC as an unknown flag.
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(failure(
                exit::FAILURE,
                format!("memfd_create: {}", crate::error_text(&e)),
            ));
        }
    }
    Err(failure(
        exit::FAILURE,
        "memfd_create: Invalid argument (the kernel has no memfd sealing?)",
    ))
}

/// Copy the whole of `src` into `dst`: copy_file_range, else sendfile,
/// else read and write.
fn copy_all(src: &mut File, dst: &OwnedFd) -> std::io::Result<()> {
    let len = src.metadata()?.len();
    let mut done: u64 = 0;
    // copy_file_range between a regular file and a memfd works from Linux
    // 5.3 (same-filesystem rule relaxed); sendfile works everywhere else.
    let mut use_cfr = true;
    while done < len {
        let want = usize::try_from(len - done)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        let n = if use_cfr {
            // SAFETY: both descriptors are open; null offsets use and advance
            // the file offsets.
            let n = unsafe {
                libc::copy_file_range(
                    src.as_raw_fd(),
                    std::ptr::null_mut(),
                    dst.as_raw_fd(),
                    std::ptr::null_mut(),
                    want,
                    0,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
                ) {
                    use_cfr = false;
                    continue;
                }
                return Err(e);
            }
            n
        } else {
            // SAFETY: as above; sendfile reads from src's offset.
            let n = unsafe {
                libc::sendfile(dst.as_raw_fd(), src.as_raw_fd(), std::ptr::null_mut(), want)
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
                    return copy_rw(src, dst);
                }
                return Err(e);
            }
            n
        };
        if n == 0 {
            break;
        }
        done += n as u64;
    }
    if done != len {
        return Err(std::io::Error::other("short copy"));
    }
    Ok(())
}

fn copy_rw(src: &mut File, dst: &OwnedFd) -> std::io::Result<()> {
    // The descriptor stays ours: `File` borrows it through ManuallyDrop.
    // SAFETY: dst is open for the duration of the call.
    let mut out = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(dst.as_raw_fd()) });
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n])?;
    }
}

/// execveat(fd, "", argv, environ, AT_EMPTY_PATH): returns only on failure.
fn execveat_self(fd: &OwnedFd) -> std::io::Error {
    let args: Vec<CString> = std::env::args_os()
        .map(|a: OsString| {
            let mut v = a.into_vec();
            v.retain(|&b| b != 0);
            CString::new(v).unwrap_or_default()
        })
        .collect();
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    unsafe extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: argv is a NULL-terminated array of NUL-terminated strings that
    // live across the call; environ is the C library's environment.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            environ,
            libc::AT_EMPTY_PATH,
        );
    }
    std::io::Error::last_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_is_a_base_name() {
        let n = memfd_name();
        assert!(!n.as_bytes().contains(&b'/'));
        assert!(!n.as_bytes().is_empty());
    }

    #[test]
    fn test_binary_is_not_sealed() {
        assert!(!is_sealed().unwrap());
    }

    #[test]
    fn memfd_copy_is_sealed_and_identical() {
        let mut exe = open_self().unwrap();
        let memfd = memfd_create(&memfd_name()).unwrap();
        copy_all(&mut exe, &memfd).unwrap();
        // SAFETY: our own memfd.
        assert_eq!(
            unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) },
            0
        );
        assert_eq!(seals_of(&memfd).unwrap() & SEALS, SEALS);
        let copy = std::fs::read(format!("/proc/self/fd/{}", memfd.as_raw_fd())).unwrap();
        let orig = std::fs::read("/proc/self/exe").unwrap();
        assert_eq!(copy, orig);
        // Every write is refused, even through a new open of the copy.
        let w = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", memfd.as_raw_fd()));
        match w {
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM)),
            Ok(mut f) => assert!(f.write_all(b"x").is_err()),
        }
        let file = File::open("/proc/self/exe").unwrap();
        assert!(seals_of(&file).is_none());
    }
}
