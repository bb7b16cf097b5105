//! chroot-rs runs on every container start, so it skips the Rust runtime's
//! start-up (the main thread's stack-guard probe reads /proc/self/maps):
//! `main` is the C entry point.  Arguments and environment still come
//! through `std::env`, which glibc targets fill before `main`.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    ctcore::cli::main_raw("chroot-rs", chroot_rs::run_raw)
}
