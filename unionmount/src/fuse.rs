//! The FUSE backend's mount and daemon: /dev/fuse and mount(2) as root
//! (no libfuse, no fusermount), the union served by a child process that
//! outlives the exec of PROGRAM and exits when the mount goes away.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Result, anyhow};
use fuser::{Config, Session, SessionACL};

use crate::plan::Attrs;
use crate::ufs::{Branch, UnionFs};

/// The file system type shown in the mount table.
pub const FSTYPE: &str = "fuse.unionmount";

/// The mount(2) data of a FUSE mount served through descriptor `fd`.
#[must_use]
pub fn mount_data(fd: i32, uid: u32, gid: u32) -> String {
    format!("fd={fd},rootmode=40000,user_id={uid},group_id={gid},allow_other,default_permissions")
}

fn ms_flags(read_only: bool, a: Attrs) -> libc::c_ulong {
    let mut f = libc::MS_NOATIME * libc::c_ulong::from(a.noatime);
    if read_only {
        f |= libc::MS_RDONLY;
    }
    if a.nosuid {
        f |= libc::MS_NOSUID;
    }
    if a.nodev {
        f |= libc::MS_NODEV;
    }
    if a.noexec {
        f |= libc::MS_NOEXEC;
    }
    if a.nodiratime {
        f |= libc::MS_NODIRATIME;
    }
    f
}

fn cpath(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| anyhow!("{}: a NUL byte", p.display()))
}

/// The mount namespace of a process, as an inode number.
fn mnt_ns(pid: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
}

/// Mount the union of `branches` on `target` and start its daemon.
/// With `program`, the daemon ends the union when PROGRAM (this process,
/// after its exec) dies.
///
/// # Errors
/// When a branch cannot be opened, /dev/fuse is missing, or the kernel
/// refuses the mount.
pub fn mount(
    source: &str,
    target: &Path,
    branches: &[Branch],
    read_only: bool,
    attrs: Attrs,
    program: bool,
) -> Result<()> {
    let mut branches = branches.to_vec();
    if read_only {
        for b in &mut branches {
            b.rw = false;
        }
    }
    let fs = UnionFs::new(&branches).map_err(|e| anyhow!("opening the branches: {e}"))?;
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map_err(|e| anyhow!("/dev/fuse: {} (modprobe fuse?)", ctcore::error_text(&e)))?;
    let dev: OwnedFd = dev.into();
    // SAFETY: plain getters.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let data = CString::new(mount_data(dev.as_raw_fd(), uid, gid))?;
    let src = CString::new(source)?;
    let fstype = CString::new(FSTYPE)?;
    let tgt = cpath(target)?;
    // SAFETY: valid C strings.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            fstype.as_ptr(),
            ms_flags(read_only, attrs),
            data.as_ptr().cast(),
        )
    };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        return Err(anyhow!("mount(2) of {FSTYPE}: {}", ctcore::error_text(&e)));
    }
    let same_ns_as_init = mnt_ns("self") == mnt_ns("1");
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: this process has a single thread here.
    match unsafe { libc::fork() } {
        -1 => {
            let e = std::io::Error::last_os_error();
            // SAFETY: valid C string.
            unsafe { libc::umount2(tgt.as_ptr(), libc::MNT_DETACH) };
            Err(anyhow!("fork: {}", ctcore::error_text(&e)))
        }
        0 => {
            let code = daemon(fs, dev, &tgt, parent, program, same_ns_as_init);
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        _ => Ok(()),
    }
}

/// The daemon: detached from the caller's terminal and namespace, it serves
/// the union until the kernel ends the connection (unmount), or until
/// PROGRAM dies.
fn daemon(
    fs: UnionFs,
    dev: OwnedFd,
    target: &CString,
    parent: libc::pid_t,
    program: bool,
    same_ns_as_init: bool,
) -> i32 {
    // SAFETY: plain system calls on this single-threaded child.
    unsafe {
        libc::setsid();
        if program {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            if libc::getppid() != parent {
                libc::umount2(target.as_ptr(), libc::MNT_DETACH);
                return 0;
            }
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
        libc::umask(0);
    }
    // Out of a private mount namespace, so that the daemon does not keep
    // it (and so the union) alive once its last other process is gone.
    // (With PROGRAM the daemon lives as long as PROGRAM, and unmounts.)
    let mut detached = false;
    if !program
        && !same_ns_as_init
        && let Ok(f) = std::fs::File::open("/proc/1/ns/mnt")
    {
        // SAFETY: a namespace descriptor; single-threaded.
        detached = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNS) } == 0;
    }
    let _ = std::env::set_current_dir("/");
    // Signals go to one thread, which ends the union.
    // SAFETY: a signal set on the stack, filled before use.
    let set = unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&raw mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&raw mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &raw const set, std::ptr::null_mut());
        set
    };
    let tgt = target.clone();
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut sig = 0;
            // SAFETY: a valid set and output.
            unsafe {
                libc::sigwait(&raw const set, &raw mut sig);
                if !detached {
                    libc::umount2(tgt.as_ptr(), libc::MNT_DETACH);
                }
                libc::_exit(0);
            }
        });
    let mut config = Config::default();
    config.acl = SessionACL::All;
    let session = match Session::from_fd(fs, dev, SessionACL::All, config) {
        Ok(s) => s,
        Err(_) => return 1,
    };
    match session.run() {
        Ok(()) => 0,
        Err(_) => 0,
    }
}
