//! unshare-rs's entry point: the C `main`, without the Rust runtime's start-up
//! (see `ctcore::tool_main`); `unshare_rs::main` parses nsenter's grammar
//! when called as `nsenter`.
#![cfg_attr(not(test), no_main)]

ctcore::tool_main!(unshare_rs::main());
