//! runc-rs's entry point: the C `main`, without the Rust runtime's start-up
//! (see `ctcore::tool_main`).
#![cfg_attr(not(test), no_main)]

ctcore::tool_main!(runc_rs::main());
