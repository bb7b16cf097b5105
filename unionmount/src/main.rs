fn main() {
    ctcore::main(unionmount::run)
}
