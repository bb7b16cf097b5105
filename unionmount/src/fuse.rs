//! The FUSE backend's mount and daemon: /dev/fuse and mount(2) as root
//! (no libfuse, no fusermount), the union served by a child process that
//! outlives the exec of PROGRAM and exits when the mount goes away.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Result, anyhow, bail};
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
    let tgt = cpath(target)?;
    // SAFETY: plain getter.
    let root = unsafe { libc::geteuid() } == 0;
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse");
    let session = match dev {
        Ok(dev) if root => {
            let dev: OwnedFd = dev.into();
            mount_sys(source, &tgt, &dev, read_only, attrs)?;
            let mut config = Config::default();
            config.acl = SessionACL::All;
            Session::from_fd(fs, dev, SessionACL::All, config).map_err(|e| {
                // SAFETY: valid C string.
                unsafe { libc::umount2(tgt.as_ptr(), libc::MNT_DETACH) };
                anyhow!("the FUSE handshake: {e}")
            })?
        }
        Err(e) if root && e.kind() != std::io::ErrorKind::PermissionDenied => {
            bail!("/dev/fuse: {} (modprobe fuse?)", ctcore::error_text(&e));
        }
        _ => {
            // Not root: fusermount3 (setuid) mounts, as libfuse does.
            let mut opts = vec![
                format!("fsname={}", source.replace(',', "_")),
                "subtype=unionmount".to_string(),
                "default_permissions".to_string(),
            ];
            for (on, o) in [
                (read_only, "ro"),
                (attrs.nosuid, "nosuid"),
                (attrs.nodev, "nodev"),
                (attrs.noexec, "noexec"),
                (attrs.noatime, "noatime"),
            ] {
                if on {
                    opts.push(o.to_string());
                }
            }
            let dev = fusermount(target, &opts.join(","))?;
            Session::from_fd(fs, dev, SessionACL::Owner, Config::default()).map_err(|e| {
                let _ = user_unmount(target, true);
                anyhow!("the FUSE handshake: {e}")
            })?
        }
    };
    // SAFETY: the session's descriptor; PROGRAM must not inherit it.
    unsafe {
        libc::fcntl(session.as_fd().as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
    }
    let same_ns_as_init = mnt_ns("self") == mnt_ns("1");
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: this process has a single thread here.
    match unsafe { libc::fork() } {
        -1 => {
            let e = std::io::Error::last_os_error();
            unmount(&tgt);
            Err(anyhow!("fork: {}", ctcore::error_text(&e)))
        }
        0 => {
            let code = daemon(session, &tgt, parent, program, same_ns_as_init);
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        _ => {
            // The child serves it; dropping it here would unmount.
            std::mem::forget(session);
            Ok(())
        }
    }
}

fn mount_sys(
    source: &str,
    tgt: &CString,
    dev: &OwnedFd,
    read_only: bool,
    attrs: Attrs,
) -> Result<()> {
    // SAFETY: plain getters.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let data = CString::new(mount_data(dev.as_raw_fd(), uid, gid))?;
    let src = CString::new(source)?;
    let fstype = CString::new(FSTYPE)?;
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
        bail!("mount(2) of {FSTYPE}: {}", ctcore::error_text(&e));
    }
    Ok(())
}

/// Mount through the setuid fusermount3 (or fusermount), as libfuse
/// does: it opens /dev/fuse, mounts, and hands the descriptor back over a
/// socket named by `_FUSE_COMMFD`.
fn fusermount(target: &Path, opts: &str) -> Result<OwnedFd> {
    use nix::sys::socket::{
        AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg, socketpair,
    };
    let (mine, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| anyhow!("socketpair: {}", ctcore::errno_text(e)))?;
    let bin = ["fusermount3", "fusermount"]
        .into_iter()
        .find_map(which)
        .ok_or_else(|| anyhow!("not root, and no fusermount3 to mount FUSE for a user"))?;
    let fd = theirs.as_raw_fd();
    let mut cmd = std::process::Command::new(&bin);
    cmd.arg("-o")
        .arg(opts)
        .arg("--")
        .arg(target)
        .env("_FUSE_COMMFD", fd.to_string())
        .stdin(std::process::Stdio::null());
    // SAFETY: clears close-on-exec of the socket in the child only.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            libc::fcntl(fd, libc::F_SETFD, 0);
            Ok(())
        });
    }
    let out = cmd
        .output()
        .map_err(|e| anyhow!("{}: {}", bin.display(), ctcore::error_text(&e)))?;
    drop(theirs);
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        bail!("{}: {why}", bin.display());
    }
    let mut buf = [0u8; 8];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        mine.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| {
        anyhow!(
            "receiving /dev/fuse from fusermount3: {}",
            ctcore::errno_text(e)
        )
    })?;
    for c in msg.cmsgs().map_err(|e| anyhow!("{e}"))? {
        if let ControlMessageOwned::ScmRights(fds) = c
            && let Some(&fd) = fds.first()
        {
            // SAFETY: a descriptor the kernel just gave this process.
            return Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) });
        }
    }
    bail!("fusermount3 sent no descriptor")
}

/// A program on PATH.
fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Detach the union: umount2, or fusermount3 for a user.
fn unmount(tgt: &CString) {
    // SAFETY: valid C string.
    if unsafe { libc::umount2(tgt.as_ptr(), libc::MNT_DETACH) } == 0 {
        return;
    }
    let t = std::ffi::OsStr::from_bytes(tgt.as_bytes());
    for bin in ["fusermount3", "fusermount"] {
        if let Ok(st) = std::process::Command::new(bin)
            .args([std::ffi::OsStr::new("-u"), std::ffi::OsStr::new("-z"), t])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            && st.success()
        {
            return;
        }
    }
}

/// Unmount a FUSE union as a user: fusermount3 -u [-z].
///
/// # Errors
/// When neither fusermount3 nor fusermount could unmount it.
pub fn user_unmount(target: &Path, lazy: bool) -> Result<()> {
    for bin in ["fusermount3", "fusermount"] {
        let mut c = std::process::Command::new(bin);
        c.arg("-u");
        if lazy {
            c.arg("-z");
        }
        if let Ok(out) = c.arg(target).stdin(std::process::Stdio::null()).output() {
            if out.status.success() {
                return Ok(());
            }
            let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
            bail!("{bin}: {why}");
        }
    }
    bail!("no fusermount3")
}

/// The daemon: detached from the caller's terminal and namespace, it serves
/// the union until the kernel ends the connection (unmount), or until
/// PROGRAM dies.
fn daemon(
    session: Session<UnionFs>,
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
                unmount(target);
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
            unsafe { libc::sigwait(&raw const set, &raw mut sig) };
            if !detached {
                unmount(&tgt);
            }
            // SAFETY: ends the daemon.
            unsafe { libc::_exit(0) }
        });
    match session.run() {
        Ok(()) => 0,
        Err(_) => 0,
    }
}
