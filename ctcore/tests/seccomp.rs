//! `ctcore::seccomp` installed for real, in a forked child.

use ctcore::seccomp;

/// Run `f` in a child process; its exit status is the result.
fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only makes system calls and exits.
    match unsafe { libc::fork() } {
        0 => {
            let code = f();
            // SAFETY: leave the child without running the harness's code.
            unsafe { libc::_exit(code) }
        }
        pid => {
            let mut st = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(pid, &raw mut st, 0) };
            if libc::WIFEXITED(st) {
                libc::WEXITSTATUS(st)
            } else {
                200 + libc::WTERMSIG(st)
            }
        }
    }
}

fn errno_of(r: libc::c_long) -> i32 {
    if r < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    }
}

#[test]
fn default_profile_installed_with_no_new_privs() {
    let target = seccomp::Target::native(ctcore::caps::docker_default()).unwrap();
    let filter = seccomp::default_profile().compile(&target).unwrap();
    let code = in_child(|| {
        // SAFETY: prctl and raw system calls with harmless arguments.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return 10;
            }
            if filter.install().is_err() {
                return 11;
            }
            if seccomp::current_mode() != Some(2) {
                return 12;
            }
            // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
            if errno_of(libc::syscall(libc::SYS_keyctl, 0, -3, 0)) != libc::EPERM {
                return 13;
            }
            if errno_of(libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER)) != libc::EPERM {
                return 14;
            }
            if errno_of(libc::syscall(libc::SYS_io_uring_setup, 1, 0)) != libc::EPERM {
                return 15;
            }
            if libc::getpid() <= 0 {
                return 16;
            }
            // A fork (clone without namespace flags) still works.
            match libc::fork() {
                0 => libc::_exit(0),
                -1 => return 17,
                p => {
                    let mut st = 0;
                    libc::waitpid(p, &raw mut st, 0);
                }
            }
        }
        0
    });
    assert_eq!(code, 0);
}

#[test]
fn install_without_no_new_privs_needs_cap_sys_admin() {
    if !cttest::require_root("install_without_no_new_privs_needs_cap_sys_admin") {
        return;
    }
    let target = seccomp::Target::native(ctcore::caps::docker_default()).unwrap();
    let filter = seccomp::default_profile().compile(&target).unwrap();
    let code = in_child(|| {
        if filter.install().is_err() {
            return 20;
        }
        let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if !s
            .lines()
            .any(|l| l.split_whitespace().eq(["NoNewPrivs:", "0"]))
        {
            return 21;
        }
        i32::from(seccomp::current_mode() != Some(2)) * 22
    });
    assert_eq!(code, 0);
}
