//! Thin wrappers over the system calls unshare-rs needs, for a process that
//! has no other thread.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{Result, anyhow};

/// The signals the parent and the init forward to the program.
pub const FORWARDED: [libc::c_int; 7] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// Where the signal handler forwards to (0: nowhere yet).
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

/// Where the init's handler forwards to.  The init shares the parent's
/// memory (see [`clone_vm`]), so it has a target and a handler of its own.
static INIT_FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    forward_from(&FORWARD_TO, sig, info);
}

extern "C" fn forward_init(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    forward_from(&INIT_FORWARD_TO, sig, info);
}

fn forward_from(target: &AtomicI32, sig: libc::c_int, info: *mut libc::siginfo_t) {
    // SAFETY: errno is this thread's; saved and restored around kill.
    let errno = unsafe { *libc::__errno_location() };
    let pid = target.load(Ordering::Relaxed);
    // A signal the kernel generated for the whole foreground process group
    // (the terminal's ^C, a window resize) has reached the child already.
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = if info.is_null() {
        0
    } else {
        unsafe { (*info).si_code }
    };
    if pid > 0 && code <= 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut set);
        for &s in signals {
            libc::sigaddset(&raw mut set, s);
        }
        set
    }
}

/// Block (or unblock) the forwarded signals.
pub fn block_forwarded(block: bool) {
    let set = sigset(&FORWARDED);
    let how = if block {
        libc::SIG_BLOCK
    } else {
        libc::SIG_UNBLOCK
    };
    // SAFETY: a valid set; single-threaded.
    unsafe { libc::sigprocmask(how, &raw const set, std::ptr::null_mut()) };
}

/// Install the forwarding handler for every forwarded signal.
pub fn install_forwarding() {
    install(forward);
}

/// Install the init's forwarding handler (to [`init_forward_to`]'s pid).
pub fn install_init_forwarding() {
    install(forward_init);
}

type Handler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

fn install(handler: Handler) {
    for &sig in &FORWARDED {
        // SAFETY: sigaction with a valid handler that only calls kill.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&raw mut sa.sa_mask);
            libc::sigaction(sig, &raw const sa, std::ptr::null_mut());
        }
    }
}

/// Forward signals to `pid` from now on.
pub fn forward_to(pid: i32) {
    FORWARD_TO.store(pid, Ordering::Relaxed);
}

/// The init forwards signals to `pid` from now on.
pub fn init_forward_to(pid: i32) {
    INIT_FORWARD_TO.store(pid, Ordering::Relaxed);
}

/// The stack of a [`clone_vm`] child.
const VM_STACK: usize = 8 << 20;

extern "C" fn vm_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the box clone_vm leaked for this child alone.
    let f = unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() -> i32 + '_>>()) };
    let code = f();
    // SAFETY: the child ends here; nothing of the parent's is unwound.
    unsafe { libc::_exit(code) }
}

/// Start a child process that shares this process's memory
/// (clone(CLONE_VM) without CLONE_VFORK) and runs `f` on a stack of its
/// own, then exits with what `f` returns.
///
/// Used for the init of a new PID namespace, where a fork's copy of the
/// address space (and its tear-down when the init ends) is most of the
/// cost of having an init at all: about 0.3 ms of a 3.5 ms container
/// start here.  The contract that makes sharing safe: while the child
/// runs, the parent only waits for it, reads and writes pipes, and runs
/// the forwarding handler (which touches nothing the child uses); the
/// parent allocates memory only while the child is blocked on a pipe read
/// or gone.  `f` gets its data by value (moved into the box), never
/// through the parent's stack, which goes on changing.  The child uses its
/// own signal handlers ([`install_init_forwarding`]): the dispositions are
/// not shared, the forwarding targets would be.  The stack (8 MiB,
/// reserved lazily) is not returned: this process ends with its child.
///
/// # Errors
/// When mmap or clone fails.
pub fn clone_vm<'a>(f: impl FnOnce() -> i32 + 'a) -> Result<i32> {
    let boxed: Box<Box<dyn FnOnce() -> i32 + 'a>> = Box::new(Box::new(f));
    // SAFETY: an anonymous private mapping; checked below.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            VM_STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(os_error("fork failed"));
    }
    // A guard page at the bottom: an overflow faults instead of writing
    // into whatever lies below.
    // SAFETY: the first page of our own mapping.
    unsafe { libc::mprotect(stack, 4096, libc::PROT_NONE) };
    let arg = Box::into_raw(boxed);
    // SAFETY: the top of the mapping is 16-byte aligned (page aligned);
    // the box is the child's from here on.
    let pid = unsafe {
        libc::clone(
            vm_child,
            stack.cast::<u8>().add(VM_STACK).cast(),
            libc::CLONE_VM | libc::SIGCHLD,
            arg.cast(),
        )
    };
    if pid < 0 {
        let e = os_error("fork failed");
        // SAFETY: no child took the box or the stack.
        unsafe {
            drop(Box::from_raw(arg));
            libc::munmap(stack, VM_STACK);
        }
        return Err(e);
    }
    Ok(pid)
}

/// Restore the default disposition of the forwarded signals and unblock
/// them (in a child about to run the program).
pub fn default_signals() {
    forward_to(0);
    for &sig in &FORWARDED {
        // SAFETY: SIG_DFL is always valid.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    block_forwarded(false);
}

/// Reset SIGCHLD to its default (an inherited SIG_IGN would make waitpid
/// fail).
pub fn default_sigchld() {
    // SAFETY: SIG_DFL is always valid.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
}

/// `what: strerror(errno)` for the last error.
#[must_use]
pub fn os_error(what: &str) -> anyhow::Error {
    let e = io::Error::last_os_error();
    let hint = if what == "fork failed" && e.raw_os_error() == Some(libc::ENOMEM) {
        ": the PID namespace has no init any more (its pid 1 has ended)"
    } else {
        ""
    };
    anyhow!("{what}: {}{hint}", ctcore::error_text(&e))
}

/// fork(2).  Returns 0 in the child.
///
/// # Errors
/// When fork fails.
pub fn fork() -> Result<i32> {
    // SAFETY: the process has a single thread, so the child may do anything.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(os_error("fork failed"));
    }
    Ok(pid)
}

/// What the vfork child of [`spawn`] needs, and where it leaves its errno.
struct SpawnArgs {
    file: *const libc::c_char,
    argv: *const *const libc::c_char,
    errno: i32,
}

/// The vfork child of [`spawn`]: runs on its own stack in the parent's
/// memory (the parent is suspended until it execs or exits), so it only
/// makes system calls.  It has its own copy of the signal dispositions:
/// the forwarded signals get their default back and the mask is emptied,
/// so no handler of the parent can run here.
extern "C" fn spawn_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points at the parent's SpawnArgs, alive while the
    // parent is suspended; only async-signal-safe calls follow.
    unsafe {
        let a = &mut *arg.cast::<SpawnArgs>();
        for &sig in &FORWARDED {
            libc::signal(sig, libc::SIG_DFL);
        }
        let empty = sigset(&[]);
        libc::sigprocmask(libc::SIG_SETMASK, &raw const empty, std::ptr::null_mut());
        libc::execvp(a.file, a.argv);
        a.errno = *libc::__errno_location();
        libc::_exit(127)
    }
}

/// Start `argv` (looked up in PATH) the way posix_spawnp does, with
/// clone(CLONE_VM|CLONE_VFORK), but resetting only the forwarded signals
/// (the only ones with a handler here) instead of all 64: this runs once
/// per container start.  The child's signal mask is empty.  Returns the
/// pid, or the exec error as an exit-status error (127 not found, 126
/// other).
///
/// # Errors
/// When the program cannot be started.
pub fn spawn(argv: &[std::ffi::OsString], argv0: Option<&std::ffi::OsString>) -> Result<i32> {
    let Some(prog) = argv.first() else {
        return Err(ctcore::failure(125, "no program to execute"));
    };
    let cstr = |o: &std::ffi::OsStr| {
        CString::new(o.as_bytes()).map_err(|_| ctcore::failure(125, "argument contains a NUL byte"))
    };
    let file = cstr(prog)?;
    let mut args: Vec<CString> = Vec::with_capacity(argv.len());
    args.push(cstr(argv0.map_or(prog.as_os_str(), |a| a.as_os_str()))?);
    for a in &argv[1..] {
        args.push(cstr(a)?);
    }
    let mut ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let mut spawn_args = SpawnArgs {
        file: file.as_ptr(),
        argv: ptrs.as_ptr(),
        errno: 0,
    };
    // The child's stack: execvp needs little (a path buffer and, for a
    // script, a copy of argv).
    let mut stack = vec![0u8; 64 * 1024 + argv.len() * 16];
    // SAFETY: the stack is ours and outlives the child's use of it (the
    // parent is suspended until the child execs or exits); the stack grows
    // down, so the child gets its 16-byte-aligned top.
    let pid = unsafe {
        let top = stack.as_mut_ptr().add(stack.len());
        let top = top.sub(top as usize % 16);
        libc::clone(
            spawn_child,
            top.cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&raw mut spawn_args).cast(),
        )
    };
    drop(stack);
    if pid < 0 {
        return Err(os_error("fork failed"));
    }
    if spawn_args.errno != 0 {
        let _ = wait(pid, 0);
        return Err(ctcore::exec::exec_error(
            prog,
            &io::Error::from_raw_os_error(spawn_args.errno),
        ));
    }
    Ok(pid)
}

/// A close-on-exec pipe: (read end, write end).
///
/// # Errors
/// When pipe2 fails.
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(os_error("pipe failed"));
    }
    // SAFETY: pipe2 returned two new descriptors that we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Read up to `buf.len()` bytes, retrying on EINTR; 0 at end of file.
pub fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reading into the unfilled part of buf.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf[got..].as_mut_ptr().cast(),
                buf.len() - got,
            )
        };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if n == 0 {
            break;
        }
        got += usize::try_from(n).unwrap_or(0);
    }
    got
}

/// Write all of `buf`, ignoring errors (the reader may be gone).
pub fn write_fd(fd: &OwnedFd, buf: &[u8]) {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writing from buf.
        let n = unsafe {
            libc::write(
                fd.as_raw_fd(),
                buf[done..].as_ptr().cast(),
                buf.len() - done,
            )
        };
        if n <= 0 {
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        done += usize::try_from(n).unwrap_or(0);
    }
}

/// waitpid for `pid` (or -1), retrying on EINTR.  Returns (pid, raw status).
///
/// # Errors
/// ECHILD and the like.
pub fn wait(pid: i32, flags: libc::c_int) -> io::Result<(i32, i32)> {
    loop {
        let mut status = 0;
        // SAFETY: status is writable.
        let r = unsafe { libc::waitpid(pid, &raw mut status, flags) };
        if r >= 0 {
            return Ok((r, status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Wait for `pid` to end and say how it ended.
///
/// # Errors
/// When waitpid fails.
pub fn wait_ended(pid: i32) -> Result<ctcore::wait::Ended> {
    loop {
        let (_, st) =
            wait(pid, 0).map_err(|e| anyhow!("waitpid failed: {}", ctcore::error_text(&e)))?;
        if let Some(e) = ctcore::wait::Ended::from_raw(st) {
            return Ok(e);
        }
    }
}

/// A C string from a path.
///
/// # Errors
/// When the path has a NUL byte.
pub fn cpath(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| anyhow!("{}: path contains a NUL byte", p.display()))
}

/// mount(2) with optional source, fstype and data.
///
/// # Errors
/// The errno of mount.
pub fn mount(
    src: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
) -> io::Result<()> {
    let src = src.map(|s| CString::new(s).unwrap_or_default());
    let fstype = fstype.map(|s| CString::new(s).unwrap_or_default());
    let target = CString::new(target.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: valid C strings or null pointers.
    let r = unsafe {
        libc::mount(
            src.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            target.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            std::ptr::null(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// umount2(target, MNT_DETACH), ignoring errors.
pub fn umount_detach(target: &Path) {
    if let Ok(c) = CString::new(target.as_os_str().as_bytes()) {
        // SAFETY: a valid C string.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Write `text` to a /proc file in one write(2), as the kernel wants for
/// uid_map and friends.
///
/// # Errors
/// When open or write fails.
pub fn write_proc(path: &str, text: &str) -> io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(text.as_bytes())
}

/// The inode of `rel` under the directory `dir`.
#[must_use]
pub fn inode_at(dir: &std::fs::File, rel: &str) -> Option<u64> {
    let c = CString::new(rel).ok()?;
    // SAFETY: stat is plain data, filled by fstatat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor, C string and buffer.
    let r = unsafe { libc::fstatat(dir.as_raw_fd(), c.as_ptr(), &raw mut st, 0) };
    (r == 0).then_some(st.st_ino)
}

/// How many threads this process has (from /proc/self/status).
#[must_use]
pub fn thread_count() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Threads:")
                    .and_then(|v| v.trim().parse().ok())
            })
        })
        .unwrap_or(1)
}

/// Bring the loopback interface up with SIOCGIFFLAGS/SIOCSIFFLAGS.
///
/// # Errors
/// When the socket or an ioctl fails.
pub fn loopback_up() -> Result<()> {
    #[repr(C)]
    struct IfReq {
        name: [u8; libc::IFNAMSIZ],
        flags: libc::c_short,
        pad: [u8; 22],
    }
    // SAFETY: a plain socket call.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(os_error("cannot bring up the loopback interface: socket"));
    }
    // SAFETY: we own the new descriptor.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: 0,
        pad: [0; 22],
    };
    req.name[..2].copy_from_slice(b"lo");
    // SAFETY: req is a valid ifreq-sized buffer.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &raw mut req) } < 0 {
        return Err(os_error(
            "cannot bring up the loopback interface: SIOCGIFFLAGS",
        ));
    }
    #[allow(clippy::cast_possible_truncation)]
    {
        req.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: as above.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &raw const req) } < 0 {
        return Err(os_error(
            "cannot bring up the loopback interface: SIOCSIFFLAGS",
        ));
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Copy the permitted set into the inheritable one and raise every
/// effective capability into the ambient set, so they survive exec.
///
/// # Errors
/// When capget, capset or the ambient raise fails.
pub fn keep_caps() -> Result<()> {
    let mut hdr = CapHeader {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and two data structs, as version 3 wants.
    if unsafe { libc::syscall(libc::SYS_capget, &raw mut hdr, data.as_mut_ptr()) } < 0 {
        return Err(os_error("capget failed"));
    }
    for d in &mut data {
        d.inheritable = d.permitted;
    }
    // SAFETY: as above.
    if unsafe { libc::syscall(libc::SYS_capset, &raw mut hdr, data.as_ptr()) } < 0 {
        return Err(os_error("capset failed"));
    }
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    for cap in 0..=last.min(63) {
        let word = &data[(cap / 32) as usize];
        if word.effective & (1 << (cap % 32)) == 0 {
            continue;
        }
        // SAFETY: prctl with integer arguments.
        let r = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE,
                libc::c_ulong::from(cap),
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if r < 0 {
            return Err(os_error(&format!(
                "cap_ambient_raise failed for capability {cap}"
            )));
        }
    }
    Ok(())
}

/// pidfd_open(2) of `pid`.
#[must_use]
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: a plain syscall.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a new descriptor we own.
    Some(unsafe { OwnedFd::from_raw_fd(i32::try_from(fd).ok()?) })
}

/// Whether the process behind a pidfd has ended (the pidfd is readable).
#[must_use]
pub fn pidfd_ended(fd: &OwnedFd) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&raw mut p, 1, 0) };
    r > 0 && p.revents & libc::POLLIN != 0
}

/// Parse a signal: a number, or a name with or without `SIG`.
///
/// # Errors
/// `unknown signal: X`.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if nix::sys::signal::Signal::try_from(n).is_ok() {
            return Ok(n);
        }
    } else {
        let up = s.to_ascii_uppercase();
        let name = if up.starts_with("SIG") {
            up
        } else {
            format!("SIG{up}")
        };
        if let Ok(sig) = name.parse::<nix::sys::signal::Signal>() {
            return Ok(sig as i32);
        }
    }
    Err(anyhow!("unknown signal: {s}"))
}

/// An errno as its strerror text.
#[must_use]
pub fn errno_text(e: &io::Error) -> String {
    ctcore::error_text(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), 10);
        assert_eq!(parse_signal("2").unwrap(), 2);
        assert_eq!(
            parse_signal("BOGUS").unwrap_err().to_string(),
            "unknown signal: BOGUS"
        );
        assert!(parse_signal("999").is_err());
    }

    #[test]
    fn pipe_roundtrip() {
        let (r, w) = pipe().unwrap();
        write_fd(&w, b"R");
        drop(w);
        let mut b = [0u8; 2];
        assert_eq!(read_fd(&r, &mut b), 1);
        assert_eq!(b[0], b'R');
    }
}
