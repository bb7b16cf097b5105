//! Link libgcc's unwinder statically (libgcc_eh.a) instead of loading
//! libgcc_s.so.1 at run time.
//!
//! The build script of every tool package.  Each tool is started once per
//! container (several times per `contain run`), and on virtual machines the
//! dynamic loader's work dominates a short run: libgcc_s.so costs a
//! library load and a constructor that runs CPUID (a VM exit) on every
//! start, about 0.15 ms here.  Rust's std names `-lgcc_s`; a linker script
//! of that name found first on the search path redirects it to the static
//! archive.  Skipped unless the target is *-linux-gnu, the C compiler knows
//! libgcc_eh.a, and std is not linked statically already.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=../build/static-libgcc.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-linux-gnu") {
        return;
    }
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    if features.split(',').any(|f| f == "crt-static") {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let Ok(out) = Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    let archive = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !Path::new(&archive).is_absolute() || !Path::new(&archive).is_file() {
        return;
    }
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        return;
    };
    let dir = PathBuf::from(out_dir).join("static-libgcc");
    if std::fs::create_dir_all(&dir).is_err()
        || std::fs::write(dir.join("libgcc_s.so"), "INPUT ( -lgcc_eh )\n").is_err()
    {
        return;
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
}
