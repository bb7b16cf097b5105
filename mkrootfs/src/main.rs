// No Rust runtime start-up (`no_main`): a tool in an exec chain starts on
// every container run, and std's start-up (the stack-guard probe reads
// /proc/self/maps, a signal stack, a poll of fds 0-2, SIGPIPE ignored)
// costs about 0.1 ms of it.  std works without it: glibc hands argv and the
// environment to std's own initialiser.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    ctcore::main(mkrootfs::run)
}
