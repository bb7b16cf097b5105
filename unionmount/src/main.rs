//! unionmount's entry point: the C `main`, without the Rust runtime's
//! start-up (see `ctcore::tool_main`).  Called as mount.unionmount or
//! mount.fuse.unionmount it is mount(8)'s helper.
#![cfg_attr(not(test), no_main)]

ctcore::tool_main!({
    let argv0 = std::env::args_os().next().unwrap_or_default();
    if unionmount::helper::is_helper_name(&argv0) {
        let name = std::path::Path::new(&argv0)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        ctcore::cli::main_raw(&name, unionmount::helper::run)
    }
    ctcore::main(unionmount::run)
});
