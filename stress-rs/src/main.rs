fn main() {
    ctcore::main(stress_rs::run)
}
