fn main() {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    if unionmount::helper::is_helper_name(&argv0) {
        let name = std::path::Path::new(&argv0)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        ctcore::cli::main_raw(&name, unionmount::helper::run)
    }
    ctcore::main(unionmount::run)
}
