//! The harness itself: the static probe reports where it runs.

use std::process::Command;

#[test]
fn probe_reports_host_view() {
    let out = Command::new(cttest::probe()).output().unwrap();
    let j = cttest::probe_json(&out);
    assert!(out_pid(&j) > 1);
    for kind in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
        assert_eq!(j["ns"][kind].as_u64(), cttest::ns_inode(kind), "{kind}");
    }
    assert!(j["root"].as_array().unwrap().iter().any(|n| n == "proc"));
    assert!(!j["mounts"].as_array().unwrap().is_empty());
    assert!(!j["cgroup"].as_array().unwrap().is_empty());
}

fn out_pid(j: &serde_json::Value) -> u32 {
    u32::try_from(j["pid"].as_u64().unwrap()).unwrap()
}

#[test]
fn probe_is_static() {
    // It must run in an empty root: no PT_INTERP, so no loader needed.
    let bytes = std::fs::read(cttest::probe()).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains("/lib64/ld-linux-x86-64.so.2\0"),
        "probe is dynamically linked"
    );
}

#[test]
fn probe_sees_new_namespaces() {
    if !cttest::require_root("e2e::probe::probe_sees_new_namespaces") {
        return;
    }
    let out = Command::new("unshare")
        .args(["--uts", "--net", "--pid", "--fork", "--mount-proc", "--"])
        .arg(cttest::probe())
        .output()
        .unwrap();
    let j = cttest::probe_json(&out);
    assert_eq!(j["pid"], 1);
    assert_eq!(j["pids"], serde_json::json!([1]));
    assert_eq!(j["interfaces"], serde_json::json!(["lo"]));
    assert_ne!(j["ns"]["net"].as_u64(), cttest::ns_inode("net"));
    assert_ne!(j["ns"]["pid"].as_u64(), cttest::ns_inode("pid"));
    assert_eq!(j["ns"]["user"].as_u64(), cttest::ns_inode("user"));
}
