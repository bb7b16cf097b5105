//! Messages between runc-rs create (or exec) and the container's init, over
//! a SOCK_SEQPACKET socket pair: one datagram per message, a descriptor
//! attached where the message carries one (the pty master).

use std::io::IoSlice;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use anyhow::{Result, anyhow};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr,
    recvmsg, sendmsg, socketpair,
};

/// A socket pair; the first end stays here, the second goes to the child
/// (it is not close-on-exec).
///
/// # Errors
/// socketpair(2)'s.
pub fn pair() -> Result<(OwnedFd, OwnedFd)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| anyhow!("cannot make the sync socket: {}", ctcore::errno_text(e)))?;
    Ok((a, b))
}

/// Send `msg`, with `fd` attached when given.
///
/// # Errors
/// sendmsg(2)'s.
pub fn send(sock: RawFd, msg: &str, fd: Option<RawFd>) -> Result<()> {
    let iov = [IoSlice::new(msg.as_bytes())];
    let fds;
    let cmsg: Vec<ControlMessage> = match fd {
        Some(f) => {
            fds = [f];
            vec![ControlMessage::ScmRights(&fds)]
        }
        None => vec![],
    };
    sendmsg::<UnixAddr>(sock, &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None)
        .map_err(|e| anyhow!("sync: {}", ctcore::errno_text(e)))?;
    Ok(())
}

/// Receive one message (None at end of file), with its descriptor if any.
///
/// # Errors
/// recvmsg(2)'s.
pub fn recv(sock: RawFd) -> Result<Option<(String, Option<OwnedFd>)>> {
    // The message's length first (a peek: on a SOCK_SEQPACKET socket
    // MSG_TRUNC gives it whole), so that the buffer is the message's size
    // rather than a zeroed 64 KiB whose pages are each faulted in.
    let len = loop {
        // SAFETY: recv(2) into no buffer, peeking.
        let r = unsafe {
            libc::recv(
                sock,
                std::ptr::null_mut(),
                0,
                libc::MSG_PEEK | libc::MSG_TRUNC,
            )
        };
        if r >= 0 {
            break r.cast_unsigned();
        }
        let e = nix::errno::Errno::last();
        if e != nix::errno::Errno::EINTR {
            return Err(anyhow!("sync: {}", ctcore::errno_text(e)));
        }
    };
    let mut buf = vec![0u8; len.max(1)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let (n, fd) = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<UnixAddr>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(m) => {
                let mut fd = None;
                for c in m.cmsgs().map_err(|e| anyhow!("sync: {e}"))? {
                    if let ControlMessageOwned::ScmRights(v) = c {
                        for f in v {
                            // SAFETY: a descriptor the kernel just gave us.
                            let o = unsafe { OwnedFd::from_raw_fd(f) };
                            if fd.is_none() {
                                fd = Some(o);
                            }
                        }
                    }
                }
                break (m.bytes, fd);
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(anyhow!("sync: {}", ctcore::errno_text(e))),
        }
    };
    if n == 0 && fd.is_none() {
        return Ok(None);
    }
    Ok(Some((String::from_utf8_lossy(&buf[..n]).into_owned(), fd)))
}

/// Connect to the console socket at `path` and send the pty master on it:
/// one message, its name as payload, one descriptor (runc's protocol).
///
/// # Errors
/// The connection or the send.
pub fn send_console(path: &std::path::Path, master: &OwnedFd) -> Result<()> {
    let s = std::os::unix::net::UnixStream::connect(path).map_err(|e| {
        anyhow!(
            "cannot connect to the console socket {}: {}",
            path.display(),
            ctcore::error_text(&e)
        )
    })?;
    send(s.as_raw_fd(), "/dev/ptmx", Some(master.as_raw_fd()))
        .map_err(|e| anyhow!("console socket {}: {e}", path.display()))
}

/// Fork; the parent reports the child's pid on `sock` (`pid N`) and exits,
/// and the child goes on only once that message is sent (it waits for the
/// end of a pipe the parent holds), so that create and exec always read
/// the pid before anything the child says.
///
/// # Errors
/// fork(2) or pipe(2) failing (in the caller's process).
pub fn fork_reporting(sock: RawFd) -> Result<()> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| anyhow!("pipe: {}", ctcore::errno_text(e)))?;
    // SAFETY: single-threaded; both sides only make system calls.
    match unsafe { libc::fork() } {
        -1 => Err(anyhow!(
            "fork: {}",
            ctcore::error_text(&std::io::Error::last_os_error())
        )),
        0 => {
            drop(w);
            let mut b = [0u8; 1];
            // Returns at the parent's exit (end of file).
            let _ = nix::unistd::read(&r, &mut b);
            drop(r);
            Ok(())
        }
        child => {
            drop(r);
            let _ = send(sock, &format!("pid {child}"), None);
            drop(w);
            // SAFETY: the parent's job is done; the child is orphaned to the
            // caller's subreaper.
            unsafe { libc::_exit(0) }
        }
    }
}
