fn main() {
    ctcore::main(chroot_rs::run)
}
