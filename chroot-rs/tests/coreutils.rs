//! Differential tests: chroot-rs against the real coreutils chroot, on
//! every error case and every --userspec/--groups combination we know,
//! in the C and the C.UTF-8 locale (quotes differ), run as `chroot`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const GNU: &str = "/usr/sbin/chroot";

fn run(bin: &Path, args: &str, lc_all: &str, shell: Option<&str>) -> Output {
    let mut c = Command::new("/bin/bash");
    // The shell splits the case as the tests in the issue write it; exec
    // keeps argv[0] as `chroot` so the program name in messages matches.
    c.arg("-c")
        .arg(format!("exec -a chroot \"$BIN\" {args}"))
        .env("BIN", bin)
        .env("LC_ALL", lc_all)
        // chroot-rs reads /etc/passwd and /etc/group only (it is static, no
        // NSS modules); nss-systemd, where nsswitch.conf lists it, would
        // make up root and nobody for coreutils in a root whose files lack
        // them (as /tmp does in `--userspec=nobody ... /tmp id`).
        .env("SYSTEMD_NSS_BYPASS_SYNTHETIC", "1")
        .current_dir("/tmp");
    match shell {
        Some(s) => {
            c.env("SHELL", s);
        }
        None => {
            c.env_remove("SHELL");
        }
    }
    cttest::run_with_timeout(&mut c, Duration::from_secs(30))
}

const CASES: &[&str] = &[
    "",
    "---",
    "--bogus",
    "--bogus=3",
    "-x / true",
    "-ab",
    "--userspec",
    "--gr",
    "--skip-chdir=1 / true",
    "--help=x",
    "/nonexistent true",
    "/etc/passwd true",
    "- true",
    "/ .",
    "/ /etc",
    "/ no_such",
    "/ ''",
    "/tmp /bin/sh -c 'exit 3'",
    "/ sh -c 'exit 7'",
    "/ sh -c 'kill -TERM $$'",
    "-- / true",
    "/ pwd",
    "/. pwd",
    "/../ pwd",
    "--skip-chdir /tmp true",
    "--skip-chdir / pwd",
    "--skip / pwd",
    "--userspec=nosuchuser / true",
    "--userspec=:nosuchgrp / true",
    "--userspec=nobody:nosuchgrp / true",
    "--userspec=nosuch:root / true",
    "--userspec=+0:nosuch / true",
    "--userspec=+99999 / true",
    "--userspec=99999 / true",
    "--userspec=99999: / true",
    "--userspec=99999:: / true",
    "--userspec=nobody::x / true",
    "--userspec=0:0:0 / id",
    "--userspec=-1 / id",
    "--userspec=nob / id",
    "--userspec=+nobody / id",
    "--userspec= / id",
    "--userspec=nobody. / id",
    "--userspec=root.root / id",
    "--userspec=nobody: / id",
    "--userspec=nobody:: / id",
    "--user=nobody / id",
    "--u=nobody / id",
    "--userspec=+65534:+65534 / id",
    "--userspec=+99999:+99999 / id",
    "--userspec=:+5 / id",
    "--userspec=nobody:root / id",
    "--userspec=:root / id",
    "--groups=nosuchgrp / true",
    "--groups=, / true",
    "--groups=0trail / true",
    "--groups=' ' / id",
    "--groups=-1 / id",
    "--groups=x,y / id",
    "--groups=root,x / id",
    "--groups= / id",
    "--groups=1,,2, / id",
    "--groups=+0 / id",
    "--groups=99999 / id",
    "--g=0,1 / id",
    "--groups=root,daemon --groups=bin / id",
    "--userspec=nobody --groups=daemon / id",
    "--userspec=nobody:nogroup --groups= / id",
    "--userspec=nobody --groups=root,x /tmp id",
    "--userspec=nobody /nonexistent true",
];

fn compare(lc_all: &str) {
    let ours = cttest::bin("chroot-rs");
    let mut bad = Vec::new();
    for case in CASES {
        let a = run(Path::new(GNU), case, lc_all, Some("/bin/no-such-shell"));
        let b = run(&ours, case, lc_all, Some("/bin/no-such-shell"));
        if (a.status.code(), &a.stdout, &a.stderr) != (b.status.code(), &b.stdout, &b.stderr) {
            bad.push(format!(
                "case `{case}` ({lc_all}):\n  gnu:  {:?} {:?} {:?}\n  ours: {:?} {:?} {:?}",
                a.status.code(),
                String::from_utf8_lossy(&a.stdout),
                String::from_utf8_lossy(&a.stderr),
                b.status.code(),
                String::from_utf8_lossy(&b.stdout),
                String::from_utf8_lossy(&b.stderr)
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} differences:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

fn have_gnu() -> bool {
    Path::new(GNU).is_file()
}

#[test]
fn same_as_coreutils_in_c_locale() {
    if !cttest::require_root("chroot_rs::coreutils::same_as_coreutils_in_c_locale") {
        return;
    }
    if !cttest::require(
        "chroot_rs::coreutils::c",
        have_gnu(),
        "needs coreutils chroot",
    ) {
        return;
    }
    compare("C");
}

#[test]
fn same_as_coreutils_in_utf8_locale() {
    if !cttest::require_root("chroot_rs::coreutils::same_as_coreutils_in_utf8_locale") {
        return;
    }
    if !cttest::require(
        "chroot_rs::coreutils::utf8",
        have_gnu(),
        "needs coreutils chroot",
    ) {
        return;
    }
    compare("C.UTF-8");
}

#[test]
fn default_command_is_shell_dash_i() {
    if !cttest::require_root("chroot_rs::coreutils::default_command_is_shell_dash_i") {
        return;
    }
    let ours = cttest::bin("chroot-rs");
    for shell in [Some(""), Some("/bin/no-such-shell"), Some("/bin/true")] {
        let a = run(Path::new(GNU), "/", "C", shell);
        let b = run(&ours, "/", "C", shell);
        assert_eq!(a.status.code(), b.status.code(), "SHELL={shell:?}");
        assert_eq!(a.stderr, b.stderr, "SHELL={shell:?}");
    }
    // No SHELL at all: /bin/sh -i, which reads stdin (empty) and exits 0.
    let b = run(&ours, "/", "C", None);
    assert_eq!(b.status.code(), Some(0));
}

#[test]
fn program_name_comes_from_argv0() {
    let out = Command::new(cttest::bin("chroot-rs"))
        .arg("/nonexistent")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&*cttest::bin("chroot-rs").to_string_lossy()),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn help_and_version_exit_zero() {
    let out = Command::new(cttest::bin("chroot-rs"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("NEWROOT [COMMAND [ARG]...]"));
    assert!(out.stderr.is_empty());
    let out = Command::new(cttest::bin("chroot-rs"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// GNU coreutils' own chroot tests (tests/misc/chroot-fail.sh and
/// chroot-credentials.sh of the Debian source package, or of the tree in
/// `CTOOLS_COREUTILS_SRC`), run against chroot-rs by our glue script.
#[test]
fn gnu_coreutils_chroot_suite_passes() {
    if !cttest::require_root("chroot_rs::coreutils::gnu_coreutils_chroot_suite_passes") {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/coreutils-suite.sh");
    let mut c = Command::new(script);
    c.arg(cttest::bin("chroot-rs"));
    if let Some(src) = std::env::var_os("CTOOLS_COREUTILS_SRC") {
        c.arg(src);
    }
    let out = cttest::run_with_timeout(&mut c, Duration::from_secs(600));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !cttest::require(
        "chroot_rs::coreutils::gnu_suite_sources",
        out.status.code() != Some(77),
        "the coreutils sources cannot be fetched with apt-get source",
    ) {
        return;
    }
    assert!(out.status.success(), "{report}");
    assert_eq!(report.matches("PASS ").count(), 2, "{report}");
}
