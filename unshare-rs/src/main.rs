fn main() {
    ctcore::main(unshare_rs::run)
}
