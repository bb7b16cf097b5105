//! The tutorial: every experiment of the document, run in order by `tutorial/run-all`, each
//! checking what it observes against what the document shows.

mod contain_util;

use std::time::Duration;

#[test]
fn tutorial_runs_every_experiment_of_the_document() {
    if !cttest::require_root("e2e::tutorial::tutorial_runs_every_experiment_of_the_document") {
        return;
    }
    // It measures CPU shares and quotas and touches cgroups, mounts and loop devices.
    let _c = cttest::serial("cgroup");
    let _m = cttest::serial("cpu");
    let state = cttest::tempdir().unwrap();
    let parent = format!("ctools-test-tutorial-{}", std::process::id());
    let script = cttest::workspace_root().join("tutorial").join("run-all");
    let out = cttest::run_with_timeout(
        std::process::Command::new(script)
            .env("PATH", contain_util::test_path())
            .env("CTOOLS_BIN_DIR", cttest::bin_dir())
            .env("CONTAIN_ROOT", state.path())
            .env("CONTAIN_CGROUP_PARENT", &parent),
        Duration::from_secs(600),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .rev()
        .find(|l| l.starts_with("tutorial:"))
        .unwrap_or("");
    assert!(
        out.status.success(),
        "{summary}\n{text}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(summary.contains(" 0 failed"), "{summary}");
    assert!(
        contain_util::cgroup_parents(&parent).is_empty(),
        "cgroups left behind"
    );
}
