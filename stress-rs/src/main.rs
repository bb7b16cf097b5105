fn main() {
    ctcore::cli::main_raw("stress-rs", stress_rs::run_raw)
}
