//! The four hogs, doing per iteration the work stress's do, and counting it
//! in a shared counter the parent reads once the worker has ended.
//!
//! Each counter has a single writer, so a relaxed load-free store of a
//! local count is enough (a plain `mov`, no locked instruction).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::log::Log;
use crate::{dbug, fail};

fn errno_text() -> String {
    ctcore::error_text(&std::io::Error::last_os_error())
}

/// `while (1) sqrt(rand());` on glibc's unseeded `rand()`.
pub fn cpu(counter: &AtomicU64) -> i32 {
    let mut n: u64 = 0;
    loop {
        // SAFETY: rand has no preconditions; a worker has one thread.
        let r = unsafe { libc::rand() };
        black_box(f64::from(r).sqrt());
        n = n.wrapping_add(1);
        counter.store(n, Relaxed);
    }
}

/// `while (1) sync();`
pub fn io(counter: &AtomicU64) -> i32 {
    let mut n: u64 = 0;
    loop {
        // SAFETY: sync has no preconditions.
        unsafe { libc::sync() };
        n = n.wrapping_add(1);
        counter.store(n, Relaxed);
    }
}

/// What a vm worker does.
#[derive(Debug, Clone, Copy)]
pub struct Vm {
    /// Bytes to allocate.
    pub bytes: i64,
    /// Touch one byte every `stride`.
    pub stride: i64,
    /// -1 no hang, 0 hang forever, N seconds.
    pub hang: i64,
    /// Keep the allocation between passes.
    pub keep: bool,
}

/// malloc `bytes`, write `'Z'` every `stride` bytes, maybe sleep, read them
/// back, free (unless `keep`); forever.  Counts touched bytes.
pub fn vm(log: &Log, v: Vm, counter: &AtomicU64) -> i32 {
    let mut n: u64 = 0;
    let mut ptr: *mut u8 = std::ptr::null_mut();
    let mut do_malloc = true;
    #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
    let size = v.bytes as usize;
    loop {
        if do_malloc {
            dbug!(log, "allocating {} bytes ...", v.bytes);
            // SAFETY: malloc of a positive size; checked for NULL below.
            ptr = unsafe { libc::malloc(size) }.cast();
            if ptr.is_null() {
                fail!(log, "hogvm malloc failed: {}", errno_text());
                return 1;
            }
            if v.keep {
                do_malloc = false;
            }
        }
        dbug!(log, "touching bytes in strides of {} bytes ...", v.stride);
        let mut i: i64 = 0;
        while i < v.bytes {
            // SAFETY: 0 <= i < bytes, inside the allocation.  Volatile so
            // that the compiler keeps every store, as stress's C does.
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
            unsafe {
                ptr.add(i as usize).write_volatile(b'Z');
            }
            n = n.wrapping_add(1);
            counter.store(n, Relaxed);
            i = i.wrapping_add(v.stride);
        }
        if v.hang == 0 {
            dbug!(log, "sleeping forever with allocated memory");
            loop {
                // SAFETY: sleep has no preconditions.
                unsafe { libc::sleep(1024) };
            }
        } else if v.hang > 0 {
            dbug!(log, "sleeping for {}s with allocated memory", v.hang);
            // SAFETY: as above; C converts the long long to unsigned int.
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
            unsafe {
                libc::sleep(v.hang as u32)
            };
        }
        let mut i: i64 = 0;
        while i < v.bytes {
            // SAFETY: as for the stores.
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
            let p = unsafe { ptr.add(i as usize) };
            // SAFETY: p is inside the allocation.
            if unsafe { p.read_volatile() } != b'Z' {
                fail!(log, "memory corruption at: {p:p}");
                return 1;
            }
            i = i.wrapping_add(v.stride);
        }
        if do_malloc {
            // SAFETY: ptr came from malloc and is freed once.
            unsafe { libc::free(ptr.cast()) };
            dbug!(log, "freed {} bytes", v.bytes);
        }
    }
}

/// The size of the hdd worker's buffer (1 MiB - 1), as stress's.
pub const CHUNK: usize = 1024 * 1024 - 1;

/// The hdd buffer: `rand() % 95 + 32` printable bytes and a final newline.
#[must_use]
pub fn hdd_buffer() -> Vec<u8> {
    let mut buf = vec![0u8; CHUNK];
    for b in buf.iter_mut().take(CHUNK - 1) {
        // SAFETY: rand has no preconditions.
        let j = i64::from(unsafe { libc::rand() }).abs() % 95 + 32;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        {
            *b = j as u8;
        }
    }
    buf[CHUNK - 1] = b'\n';
    buf
}

/// The signals that end a hdd worker: its alarm, reaping, stopping.
fn fatal_signals() -> libc::sigset_t {
    // SAFETY: sigset manipulation on a local.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut set);
        for s in [
            libc::SIGALRM,
            libc::SIGUSR1,
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
        ] {
            libc::sigaddset(&raw mut set, s);
        }
        set
    }
}

fn block(set: &libc::sigset_t, how: i32) {
    // SAFETY: a valid set; a worker has one thread.
    unsafe { libc::sigprocmask(how, set, std::ptr::null_mut()) };
}

fn write_all_once(fd: i32, buf: &[u8]) -> bool {
    // SAFETY: writing from a valid buffer.
    unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) != -1 }
}

/// Write `bytes`-byte files `./stress.XXXXXX` forever: full chunks, then
/// single bytes, then a newline.  The file is unlinked as soon as it is
/// made unless `noclean`.  Counts bytes written.
pub fn hdd(log: &Log, bytes: i64, noclean: bool, counter: &AtomicU64) -> i32 {
    dbug!(log, "seeding {CHUNK} byte buffer with random data");
    let buf = hdd_buffer();
    #[allow(clippy::cast_possible_wrap)]
    let chunk = CHUNK as i64;
    let mut n: u64 = 0;
    let fatal = fatal_signals();
    loop {
        let mut template = *b"./stress.XXXXXX\0";
        // stress leaves a file behind when its alarm (or a reaping signal)
        // lands between mkstemp and unlink; we hold those signals off for
        // that moment.
        if !noclean {
            block(&fatal, libc::SIG_BLOCK);
        }
        // SAFETY: a writable NUL-terminated template.
        let fd = unsafe { libc::mkstemp(template.as_mut_ptr().cast()) };
        if fd == -1 {
            fail!(log, "mkstemp failed: {}", errno_text());
            return 1;
        }
        let name = String::from_utf8_lossy(&template[..template.len() - 1]).into_owned();
        dbug!(log, "opened {name} for writing {bytes} bytes");
        if !noclean {
            dbug!(log, "unlinking {name}");
            // SAFETY: the template is NUL-terminated.
            let rc = unsafe { libc::unlink(template.as_ptr().cast()) };
            let e = errno_text();
            block(&fatal, libc::SIG_UNBLOCK);
            if rc == -1 {
                fail!(log, "unlink of {name} failed: {e}");
                return 1;
            }
        }
        dbug!(log, "fast writing to {name}");
        let mut j: i64 = 0;
        while bytes == 0 || j + chunk < bytes {
            if !write_all_once(fd, &buf) {
                fail!(log, "write failed: {}", errno_text());
                return 1;
            }
            n = n.wrapping_add(CHUNK as u64);
            counter.store(n, Relaxed);
            j += chunk;
        }
        dbug!(log, "slow writing to {name}");
        while bytes == 0 || j < bytes - 1 {
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
            let k = (j % chunk) as usize;
            if !write_all_once(fd, &buf[k..=k]) {
                fail!(log, "write failed: {}", errno_text());
                return 1;
            }
            n = n.wrapping_add(1);
            counter.store(n, Relaxed);
            j += 1;
        }
        if !write_all_once(fd, b"\n") {
            fail!(log, "write failed: {}", errno_text());
            return 1;
        }
        n = n.wrapping_add(1);
        counter.store(n, Relaxed);
        j += 1;
        dbug!(log, "closing {name} after {j} bytes");
        // SAFETY: closing the descriptor we opened.
        unsafe { libc::close(fd) };
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn buffer_is_printable() {
        let b = super::hdd_buffer();
        assert_eq!(b.len(), super::CHUNK);
        assert_eq!(b[super::CHUNK - 1], b'\n');
        assert!(
            b[..super::CHUNK - 1]
                .iter()
                .all(|&c| (32..127).contains(&c))
        );
    }
}
