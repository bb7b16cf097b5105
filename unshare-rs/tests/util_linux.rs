//! util-linux's own tests that use unshare or nsenter (TS_CMD_UNSHARE,
//! TS_CMD_NSENTER), run against unshare-rs by `tests/util-linux-suite.sh`
//! from the Debian source package (or the tree in `CTOOLS_UTIL_LINUX_SRC`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn util_linux_unshare_and_nsenter_tests_pass() {
    if !cttest::require_root!() {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/util-linux-suite.sh");
    let mut c = Command::new(script);
    c.arg(cttest::bin("unshare-rs"));
    if let Some(src) = std::env::var_os("CTOOLS_UTIL_LINUX_SRC") {
        c.arg(src);
    }
    // Fetching and building the helpers takes minutes on a small machine.
    let out = cttest::run_with_timeout(&mut c, Duration::from_secs(1800));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !cttest::require(
        "unshare_rs::util_linux::sources",
        out.status.code() != Some(77),
        "the util-linux sources cannot be fetched with apt-get source",
    ) {
        return;
    }
    assert!(out.status.success(), "{report}");
    let passed = report.lines().filter(|l| l.starts_with("PASS ")).count();
    assert!(passed >= 4, "{report}");
    assert!(!report.lines().any(|l| l.starts_with("FAIL ")), "{report}");
}
