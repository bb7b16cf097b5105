//! The calling thread's session keyring, for tests of keyring isolation: a keyring of the
//! test's own joined (what it spawns inherits it), a user key planted in it, looked up and
//! removed, and the keyring emptied at the end.

use std::ffi::CString;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_CLEAR: libc::c_long = 7;
const KEYCTL_UNLINK: libc::c_long = 9;
const KEYCTL_SEARCH: libc::c_long = 10;
const KEYCTL_INVALIDATE: libc::c_long = 21;
const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;

/// This thread joins a new session keyring named `name` (what it spawns inherits it).
pub fn join_session_keyring(name: &str) -> i64 {
    let n = CString::new(name).unwrap();
    // SAFETY: a valid C string.
    let id = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, n.as_ptr()) };
    assert!(
        id > 0,
        "joining a test session keyring: {}",
        std::io::Error::last_os_error()
    );
    id
}

/// A "user" key `desc` holding `data` in this thread's session keyring.
pub fn add_user_key(desc: &str, data: &str) -> i64 {
    let t = CString::new("user").unwrap();
    let d = CString::new(desc).unwrap();
    // SAFETY: valid C strings and buffer.
    let id = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            t.as_ptr(),
            d.as_ptr(),
            data.as_ptr(),
            data.len(),
            KEY_SPEC_SESSION_KEYRING,
        )
    };
    assert!(id > 0, "add_key: {}", std::io::Error::last_os_error());
    id
}

/// The key `desc` in this thread's session keyring, if there is one.
pub fn find_key(desc: &str) -> Option<i64> {
    let t = CString::new("user").unwrap();
    let d = CString::new(desc).unwrap();
    // SAFETY: valid C strings.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_SEARCH,
            KEY_SPEC_SESSION_KEYRING,
            t.as_ptr(),
            d.as_ptr(),
            0,
        )
    };
    (id > 0).then_some(id)
}

/// The key `id` taken out of this thread's session keyring.
pub fn unlink_key(id: i64) {
    // SAFETY: no pointers.
    unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_UNLINK,
            id,
            KEY_SPEC_SESSION_KEYRING,
        )
    };
}

/// This thread's session keyring emptied and invalidated (when nothing else holds it).
pub fn drop_session_keyring() {
    // SAFETY: no pointers.
    unsafe {
        libc::syscall(libc::SYS_keyctl, KEYCTL_CLEAR, KEY_SPEC_SESSION_KEYRING);
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_INVALIDATE,
            KEY_SPEC_SESSION_KEYRING,
        );
    }
}
