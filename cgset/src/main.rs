fn main() {
    ctcore::main(cgset::run)
}
