fn main() {
    ctcore::main(mkrootfs::run)
}
