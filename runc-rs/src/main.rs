//! runc-rs's entry point: the C `main`, without the Rust runtime's start-up
//! (see `ctcore::tool_main`).  It notes where the argument strings are, so
//! that `runc-rs -- PROGRAM` (an init) can replace its command line with
//! `init`.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    // SAFETY: the C library's argc and argv.
    unsafe { chroot_rs::harden::remember_argv(argc, argv) };
    runc_rs::main()
}
