fn main() {
    ctcore::cli::main_raw("chroot-rs", chroot_rs::run_raw)
}
