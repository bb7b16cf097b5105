//! How the tools are linked: statically, so that a tool start does no
//! dynamic loading.
//!
//! The build script of every tool package.  Each tool is started once per
//! container (several times per `contain run`, once per link of an exec
//! chain), and on virtual machines the dynamic loader's work dominates a
//! short run: mapping and relocating libc.so.6 costs about 0.35 ms of a
//! 1.4 ms `unshare-rs true` here, and libgcc_s.so.1 another library load
//! and a constructor that runs CPUID (a VM exit).
//!
//! * Every tool's binaries are linked as static PIEs (`-static-pie`, with
//!   glibc's libc.a), like `-C target-feature=+crt-static` would, but for
//!   the binaries only: that flag cannot be given per package, and given
//!   for the whole build it breaks the proc-macro crates clap needs.
//!   rustc names the C libraries as shared ones (`-lc`, `-lgcc_s`, ...);
//!   linker scripts of those names, in a directory searched before the
//!   system's (and given to the binaries' link only), redirect each to its
//!   static archive.
//! * So no tool calls the C library's NSS (`getpwnam`, `getgrouplist`...):
//!   a static glibc must dlopen every NSS module but `files` (nss-systemd,
//!   LDAP...), which crashes a static process.  chroot-rs resolves its
//!   `--userspec`/`--groups` names and unshare-rs its `--setuid`/`--setgid`
//!   names by reading /etc/passwd and /etc/group themselves.
//! * `DYNAMIC` lists the packages that keep a dynamic libc and link only
//!   libgcc's unwinder statically (`libgcc_s` → `libgcc_eh.a`); none now.
//!
//! `CTOOLS_LINK=dynamic` at build time keeps every tool dynamic.  Skipped
//! (the default link) unless the target is *-linux-gnu, the C compiler
//! knows every archive, and std is not linked statically already.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Packages that keep a dynamic libc (see above).
const DYNAMIC: &[&str] = &[];

/// The C libraries rustc names for std on linux-gnu.
const LIBS: &[&str] = &["c", "m", "dl", "rt", "pthread", "util"];

fn archive(cc: &str, name: &str) -> Option<PathBuf> {
    let out = Command::new(cc)
        .arg(format!("-print-file-name={name}"))
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (p.is_absolute() && p.is_file()).then_some(p)
}

fn script(dir: &Path, lib: &str, inputs: &[PathBuf]) -> bool {
    let list: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    std::fs::write(
        dir.join(format!("lib{lib}.so")),
        format!("INPUT ( {} )\n", list.join(" ")),
    )
    .is_ok()
}

fn main() {
    println!("cargo:rerun-if-changed=../build/link.rs");
    println!("cargo:rerun-if-env-changed=CC");
    println!("cargo:rerun-if-env-changed=CTOOLS_LINK");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-linux-gnu") {
        return;
    }
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    if features.split(',').any(|f| f == "crt-static") {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let Some(gcc_eh) = archive(&cc, "libgcc_eh.a") else {
        return;
    };
    // The unwinder, for every artifact (tests too).
    let shared = out_dir.join("static-libgcc");
    if std::fs::create_dir_all(&shared).is_err()
        || !script(&shared, "gcc_s", std::slice::from_ref(&gcc_eh))
    {
        return;
    }
    println!("cargo:rustc-link-search=native={}", shared.display());

    let pkg = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let dynamic = std::env::var("CTOOLS_LINK").is_ok_and(|v| v == "dynamic");
    if dynamic || DYNAMIC.contains(&pkg.as_str()) {
        return;
    }
    // The static libc, for the binaries only.
    let Some(gcc) = archive(&cc, "libgcc.a") else {
        return;
    };
    let mut archives = Vec::new();
    for lib in LIBS {
        match archive(&cc, &format!("lib{lib}.a")) {
            Some(a) => archives.push((*lib, a)),
            None => return,
        }
    }
    if archive(&cc, "rcrt1.o").is_none() {
        return;
    }
    let dir = out_dir.join("static-libc");
    if std::fs::create_dir_all(&dir).is_err() || !script(&dir, "gcc_s", &[gcc_eh, gcc]) {
        return;
    }
    for (lib, a) in &archives {
        if !script(&dir, lib, std::slice::from_ref(a)) {
            return;
        }
    }
    println!("cargo:rustc-link-arg-bins=-L{}", dir.display());
    println!("cargo:rustc-link-arg-bins=-static-pie");
}
